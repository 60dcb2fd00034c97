"""The Natural Scenes Dataset reader (volume betas in ``func1pt8mm``/``func1mm``).

Everything is taken from the files: the sessions are those whose beta files exist (partial
downloads are normal), trials per session from the files' trial axis, the grid and affine
from ``brainmask.nii.gz``, atlases from the ``roi`` folder and their names from the ctab files.
1-based MATLAB indices of ``nsd_expdesign.mat`` and ``responses.tsv`` are converted here, once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np

from neurodecode.data import _nsd_layout as nsd
from neurodecode.data._errors import ReleaseError
from neurodecode.data._fastio import mask_to_ijk, read_masked_betas
from neurodecode.data._splits import make_split
from neurodecode.data._stimuli import NSDStimuli
from neurodecode.data._subject import Subject, VolumeGeometry
from neurodecode.data._volumes import (
    check_grid,
    load_mat,
    nifti_affine,
    nifti_shape,
    open_hdf5,
    read_ctab,
    read_table,
    read_volume,
)

__all__ = ["NSDSubject", "load_nsd_subject"]

BetaChoice = Literal["auto", "hdf5", "nii.gz"]
_HEMIS = ("lh", "rh")


def _session_files(
    root: Path,
    subject: str,
    space: str,
    version: str,
    fmt: BetaChoice,
    n_design_trials: int,
    sessions: tuple[int, ...] | None,
) -> dict[int, Path]:
    """Session number -> beta file; ``auto`` takes HDF5 where present, else NIfTI, per session."""
    folder = root / nsd.betas_dir(subject, space, version)
    if not folder.is_dir():
        raise ReleaseError(folder, "beta folder is missing", f"{version} betas of {subject}")
    present = set(os.listdir(folder))
    formats: tuple[nsd.BetaFormat, ...] = ("hdf5", "nii.gz") if fmt == "auto" else (fmt,)
    wanted = sessions if sessions is not None else range(1, n_design_trials + 1)
    files: dict[int, Path] = {}
    for s in wanted:
        for f in formats:
            rel = nsd.session_betas_path(subject, s, f, space, version)
            if rel.name in present:
                files[s] = root / rel
                break
        else:
            if sessions is not None:  # asked for explicitly: its absence is an error
                raise ReleaseError(
                    root / nsd.session_betas_path(subject, s, formats[0], space, version),
                    "session file is missing",
                )
    if not files:
        raise ReleaseError(folder, "no session beta files", f"betas_sessionNN.{'/'.join(formats)}")
    return files


def _session_shape(path: Path) -> tuple[int, tuple[int, int, int]]:
    """(trials, (X, Y, Z)) of a session file from its header (HDF5 axes are reversed)."""
    if path.name.endswith(".hdf5"):
        with open_hdf5(path) as fh:
            dset = fh.get(nsd.HDF5_BETAS_DATASET)
            if dset is None or dset.ndim != 4:
                got = "absent" if dset is None else f"of shape {dset.shape}"
                raise ReleaseError(path, f"/{nsd.HDF5_BETAS_DATASET} is {got}", "(T, Z, Y, X)")
            t, z, y, x = (int(v) for v in dset.shape)
            return t, (x, y, z)
    shape = nifti_shape(path)
    if len(shape) != 4:
        raise ReleaseError(path, f"image has shape {shape}", "(X, Y, Z, T)")
    return shape[3], shape[:3]


def _repeat_index(k10: np.ndarray) -> np.ndarray:
    """Number of earlier trials showing the same image, for every trial of the design."""
    order = np.argsort(k10, kind="stable")
    sorted_k = k10[order]
    starts = np.flatnonzero(np.r_[True, sorted_k[1:] != sorted_k[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, sorted_k.size]))
    repeat = np.empty_like(k10)
    repeat[order] = np.arange(k10.size) - run_start
    return repeat


def design_trials(
    master: np.ndarray, subjectim: np.ndarray, n_shared: int, number: int, trial: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The one place NSD's 1-based design becomes 0-based trial facts.

    For 0-based global trials ``trial``: the 1-based 10k index ``k10 = masterordering[trial]``,
    the 0-based ``nsdId = subjectim[subject - 1, k10 - 1] - 1``, the repeat index (earlier
    trials showing the same image) and whether the trial is a shared (test) image
    (``k10 <= len(sharedix)``: the shared images are the first columns of ``subjectim``).
    """
    k10 = master[trial]
    stim_id = subjectim[number - 1, k10 - 1] - 1
    repeat = _repeat_index(master)[trial]
    return k10, stim_id, repeat, k10 <= n_shared


def read_design(root: Path, number: int | None = None) -> tuple[np.ndarray, ...]:
    """``(masterordering, subjectim, sharedix)`` of ``nsd_expdesign.mat``, checked.

    All three stay 1-based as in the file (MATLAB); readers convert them once. ``number``
    (1-based subject) also checks that subject's row. Raises :class:`ReleaseError` naming the
    file for anything a reader would trip on later.
    """
    path = Path(root) / nsd.expdesign_path()
    design = load_mat(path, nsd.EXPDESIGN_REQUIRED_KEYS)
    try:
        master = design["masterordering"].ravel().astype(np.int64)  # 1-based 10k per trial
        subjectim = design["subjectim"].astype(np.int64)  # 1-based 73k id per (subject, 10k)
        sharedix = design["sharedix"].ravel().astype(np.int64)  # 1-based 73k ids, shared1000
    except (TypeError, ValueError) as exc:
        raise ReleaseError(path, f"non-numeric design fields ({exc})") from exc
    rows = number if number is not None else 1
    if subjectim.ndim != 2 or subjectim.shape[0] < rows or master.size == 0:
        raise ReleaseError(
            path,
            f"subjectim has shape {subjectim.shape} and masterordering {master.size} trials",
            f"a row for subject {rows} and a non-empty masterordering",
        )
    if master.min() < 1 or master.max() > subjectim.shape[1]:
        raise ReleaseError(
            path, "masterordering holds indices outside subjectim", f"1..{subjectim.shape[1]}"
        )
    if sharedix.size == 0 or sharedix.size > subjectim.shape[1]:
        raise ReleaseError(path, f"sharedix holds {sharedix.size} ids", "1..subjectim columns")
    # The shared images occupy the first len(sharedix) columns of subjectim (A4).
    for row in [number - 1] if number is not None else range(subjectim.shape[0]):
        if set(subjectim[row, : sharedix.size].tolist()) != set(sharedix.tolist()):
            raise ReleaseError(
                path,
                f"the first columns of subjectim row {row + 1} are not sharedix",
                "the shared images first in every subject's row",
            )
    return master, subjectim, sharedix


class NSDSubject(Subject):
    """An NSD subject read from a release root; see :func:`load_nsd_subject`."""

    dataset = "nsd"

    def __init__(
        self,
        root: str | os.PathLike[str],
        subject: str,
        *,
        space: str = nsd.DEFAULT_SPACE,
        version: str = nsd.DEFAULT_BETA_VERSION,
        fmt: BetaChoice = "auto",
        sessions: tuple[int, ...] | None = None,
        voxels: str | None = None,
        atlases: tuple[str, ...] | None = None,
    ) -> None:
        import pandas as pd

        root = Path(root)
        number = nsd.subject_number(subject)
        self.space, self.version, self._atlases = space, version, atlases
        design_path = root / nsd.expdesign_path()
        master, subjectim, sharedix = read_design(root, number)
        n_shared = sharedix.size  # N_SHARED (1000) in the real release; the file decides

        files = _session_files(root, subject, space, version, fmt, master.size, sessions)
        mask_path = root / nsd.brainmask_path(subject, space)
        brain, affine = read_volume(mask_path)
        self._mask_affine, self._mask_name = affine, mask_path.name
        grid = tuple(int(v) for v in brain.shape)
        per_session = None
        for path in files.values():
            n, shape = _session_shape(path)
            if path.name.endswith(".nii.gz"):  # HDF5 betas carry no affine
                check_grid(path, shape, nifti_affine(path), grid, affine, mask_path.name)
            elif shape != grid:
                raise ReleaseError(path, f"volume grid {shape}", f"{mask_path.name}'s grid {grid}")
            if per_session is not None and n != per_session:
                raise ReleaseError(
                    path, f"holds {n} trials", f"{per_session} like the other sessions"
                )
            per_session = n
        assert per_session is not None
        session = np.repeat(np.array(sorted(files), dtype=np.int64), per_session)
        in_session = np.tile(np.arange(per_session, dtype=np.int64), len(files))
        trial = (session - 1) * per_session + in_session  # 0-based global trial
        if trial.max() >= master.size:
            raise ReleaseError(
                design_path,
                f"masterordering has {master.size} trials",
                f"at least {trial.max() + 1} for sessions {sorted(files)}",
            )
        k10, stim_id, repeat, is_test = design_trials(master, subjectim, n_shared, number, trial)
        run = self._check_responses(root, subject, number, session, in_session, stim_id, k10)
        trials = pd.DataFrame(
            {
                "trial": trial,
                "session": pd.array(session, dtype="Int64"),
                "run": run,
                "trial_in_session": pd.array(in_session, dtype="Int64"),
                "stim_id": stim_id,
                "repeat": repeat,
                "split": np.where(is_test, "test", "train"),
            }
        )
        rule = f"nsd-shared1000: masterordering <= len(sharedix) = {n_shared}"
        splits = {
            "train": make_split("train", f"not {rule}", trial[~is_test]),
            "test": make_split("test", rule, trial[is_test]),
        }
        if voxels is None:
            column_mask = brain > 0
        else:
            # an atlas's voxels outside the brain mask have no betas: never columns
            column_mask = (self._atlas_volume(root, subject, voxels, grid) > 0) & (brain > 0)
        ijk = mask_to_ijk(column_mask)
        ijk.setflags(write=False)
        self._files, self._per_session = files, per_session
        super().__init__(
            label=subject,
            root=root,
            trials=trials,
            splits=splits,
            geometry=VolumeGeometry(affine=affine, shape=grid, ijk=ijk),  # type: ignore[arg-type]
            n_voxels=len(ijk),
            stimuli=NSDStimuli(root),
            blocks=session,
            block_index=in_session,
        )

    # ------------------------------------------------------------------ trials
    @staticmethod
    def _check_responses(root, subject, number, session, in_session, stim_id, k10):
        """Cross-check with ``responses.tsv`` when present; return the run column (NA without)."""
        import pandas as pd

        path = root / nsd.responses_path(subject)
        if not path.is_file():
            return pd.array(np.full(session.size, pd.NA), dtype="Int64")
        table = read_table(path, nsd.RESPONSES_REQUIRED_COLUMNS, sep="\t")
        run = np.empty(session.size, dtype=np.int64)
        by_session = dict(iter(table.groupby("SESSION", sort=False)))
        for s in np.unique(session).tolist():
            rows = np.flatnonzero(session == s)
            got = by_session.get(s)
            if got is None or len(got) != rows.size:
                raise ReleaseError(
                    path,
                    f"session {s} has {0 if got is None else len(got)} rows",
                    f"{rows.size}, one per trial of its beta file",
                )
            # 73KID and 10KID are 1-based; row order within a session is the trial axis.
            bad = (
                (got["73KID"].to_numpy() - 1 != stim_id[rows])
                | (got["10KID"].to_numpy() != k10[rows])
                | (got["SUBJECT"].to_numpy() != number)
            )
            if bad.any():
                first = int(in_session[rows][np.argmax(bad)])
                raise ReleaseError(
                    path,
                    f"session {s} trial {first} disagrees with the design",
                    "73KID/10KID as in nsd_expdesign.mat",
                )
            run[rows] = got["RUN"].to_numpy()
        return pd.array(run, dtype="Int64")

    # ------------------------------------------------------------------ volumes
    def _atlas_volume(self, root: Path, subject: str, atlas: str, grid, hemi=None) -> np.ndarray:
        path = root / nsd.roi_path(subject, atlas, self.space, hemi)
        vol, affine = read_volume(path)
        check_grid(path, vol.shape, affine, grid, self._mask_affine, self._mask_name)
        # -1 = outside the brain, 0 = unlabelled, 1..K = labels (stored as floats).
        return np.rint(vol).astype(np.int32)

    def _read_block(self, block: int, columns: np.ndarray) -> np.ndarray:
        path = self._files[block]
        raw = read_masked_betas(path, self.ijk[columns], n_trials=self._per_session)
        out = raw.astype(np.float32)  # int16 -> float32 first: int16 / 300 would be float64
        out /= np.float32(nsd.BETA_SCALE)
        return out

    def _load_ncsnr(self) -> np.ndarray | None:
        path = self.root / nsd.ncsnr_path(self.label, self.space, self.version)
        if not path.is_file():
            return None
        vol, affine = read_volume(path)
        check_grid(path, vol.shape, affine, self.shape, self.affine, self._mask_name)
        i, j, k = self.ijk.T
        return vol[i, j, k]  # NaN outside the brain stays NaN

    def _load_rois(self) -> tuple[dict[str, np.ndarray], dict[str, dict[int, str]]]:
        roi_dir = self.root / nsd.roi_path(self.label, "x", self.space).parent
        found = sorted(
            p.name[: -len(".nii.gz")]
            for p in (roi_dir.iterdir() if roi_dir.is_dir() else ())
            if p.name.endswith(".nii.gz") and not p.name.startswith(tuple(f"{h}." for h in _HEMIS))
        )
        atlases = list(self._atlases) if self._atlases is not None else found
        # Bare label names (``V1v``) go to the first atlas defining them: the standard atlases in
        # their canonical order (V1-hV4 from prf-visualrois, not Kastner2015), then the rest.
        atlases.sort(
            key=lambda a: (
                list(nsd.ROI_ATLASES).index(a) if a in nsd.ROI_ATLASES else len(nsd.ROI_ATLASES),
                a,
            )
        )
        i, j, k = self.ijk.T
        rois: dict[str, np.ndarray] = {}
        labels: dict[str, dict[int, str]] = {}
        self._atlas_columns: dict[str, np.ndarray] = {}
        for atlas in atlases:
            ctab_file = self.root / nsd.ctab_path(self.label, atlas)
            table = read_ctab(ctab_file)
            for hemi in (None, *_HEMIS):
                if (
                    hemi
                    and not (
                        self.root / nsd.roi_path(self.label, atlas, self.space, hemi)
                    ).is_file()
                ):
                    continue
                values = self._atlas_volume(self.root, self.label, atlas, self.shape, hemi)
                unnamed = sorted(set(np.unique(values[values > 0]).tolist()) - set(table))
                if unnamed:
                    raise ReleaseError(ctab_file, f"labels {unnamed} of {atlas} have no name")
                col = values[i, j, k]
                if hemi is None:
                    self._atlas_columns[atlas] = np.maximum(col, 0)
                prefix = f"{hemi}." if hemi else ""
                rois[f"{prefix}{atlas}"] = col > 0
                for value, name in table.items():
                    member = col == value
                    rois[f"{prefix}{atlas}/{name}"] = member
                    rois.setdefault(f"{prefix}{name}", member)
            labels[atlas] = table
        return rois, labels

    def label_atlases(self) -> dict[str, tuple[np.ndarray, list[str]]]:
        """Each bilateral atlas of the ``roi`` folder: its label per column and label names."""
        _ = self.rois  # reads the atlases
        out = {}
        for atlas, col in self._atlas_columns.items():
            table = self.roi_labels[atlas]
            k_max = int(max(col.max(initial=0), max(table, default=0)))
            names = [table.get(v, f"{atlas}-{v}") for v in range(1, k_max + 1)]
            out[atlas] = (col.astype(np.int16), names)
        return out

    def source_files(self) -> list[Path]:
        """Session files, the design, the brain mask and the ncsnr map this subject reads."""
        files = [*self._files.values(), self.root / nsd.expdesign_path()]
        files.append(self.root / nsd.brainmask_path(self.label, self.space))
        ncsnr = self.root / nsd.ncsnr_path(self.label, self.space, self.version)
        return files + ([ncsnr] if ncsnr.is_file() else [])


def load_nsd_subject(
    root: str | os.PathLike[str],
    subject: str,
    *,
    space: str = nsd.DEFAULT_SPACE,
    version: str = nsd.DEFAULT_BETA_VERSION,
    fmt: BetaChoice = "auto",
    sessions: tuple[int, ...] | None = None,
    voxels: str | None = None,
    atlases: tuple[str, ...] | None = None,
) -> NSDSubject:
    """Open an NSD subject of a release root.

    Parameters
    ----------
    root : path-like
        Release root (holding ``nsddata``, ``nsddata_betas``, ``nsddata_stimuli``).
    subject : str
        ``"subj01"`` .. ``"subj08"``.
    space : str
        ``"func1pt8mm"`` (default) or ``"func1mm"``.
    version : str
        Beta version folder (default ``betas_fithrf_GLMdenoise_RR``).
    fmt : {"auto", "hdf5", "nii.gz"}
        Session file format; ``auto`` takes HDF5 where present, else NIfTI, per session.
    sessions : tuple of int, optional
        1-based sessions to use; a missing one raises :class:`ReleaseError`. Default: every
        session whose beta file exists.
    voxels : str, optional
        Atlas whose ``> 0`` voxels are the columns (e.g. ``"nsdgeneral"``); default every
        brain-mask voxel.
    atlases : tuple of str, optional
        Atlases to expose as ROIs; default every ``<atlas>.nii.gz`` in the ``roi`` folder.

    Returns
    -------
    NSDSubject
        ROI keys: ``"<atlas>"`` (``> 0``), ``"<atlas>/<label>"`` (``== k``), the bare
        ``"<label>"``, and ``"lh."``/``"rh."``-prefixed versions where hemisphere files exist.
    """
    return NSDSubject(
        root,
        subject,
        space=space,
        version=version,
        fmt=fmt,
        sessions=sessions,
        voxels=voxels,
        atlases=atlases,
    )


#: Atlases the workflow summarises when a config names none.
DEFAULT_EVALUATE_ATLASES = ("prf-visualrois", "floc-faces", "floc-places")


def evaluate_roi_files(
    root: Path, subject: str, space: str, chosen: tuple[str, ...] | None = None
) -> dict:
    """ROI files of ``neurodecode evaluate``: label volumes and their ctab files.

    Returns ``{"atlases": [paths], "labels": [paths], "masks": {}}`` for the atlases in
    ``chosen`` (default :data:`DEFAULT_EVALUATE_ATLASES`).
    """
    atlases = list(chosen or DEFAULT_EVALUATE_ATLASES)
    return {
        "atlases": [Path(root) / nsd.roi_path(subject, a, space) for a in atlases],
        "labels": [Path(root) / nsd.ctab_path(subject, a) for a in atlases],
        "masks": {},
    }


def background_image(root: Path, subject: str, space: str) -> Path:
    """The anatomical underlay of the report on the functional grid (the brain mask)."""
    return Path(root) / nsd.brainmask_path(subject, space)
