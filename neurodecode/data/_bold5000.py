"""The BOLD5000 reader: release 2.0 GLMsingle betas (volumes) or release 1.0 ROI data.

Stimulus ids index the subject's sorted unique image-name table (``subject.stimuli.names``),
built from the whole trial list (``imgnames.txt`` or the stimulus list), so ids do not change
when more sessions are downloaded. The test split is every trial of an image shown more than
once (112 images x 4 and 1 x 3 in the full release).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np

from neurodecode.data import _bold5000_layout as b5k
from neurodecode.data._errors import ReleaseError
from neurodecode.data._fastio import mask_to_ijk, read_masked_betas
from neurodecode.data._splits import make_split
from neurodecode.data._stimuli import BOLD5000Stimuli
from neurodecode.data._subject import Subject, VolumeGeometry
from neurodecode.data._volumes import (
    check_grid,
    find_file,
    load_mat,
    nifti_shape,
    open_hdf5,
    read_lines,
    read_volume,
)

__all__ = ["BOLD5000Subject", "load_bold5000_subject"]

Release = Literal["glmsingle", "roi"]
_ROI_KEYS = tuple(f"{h}{r}" for h in b5k.HEMISPHERES for r in b5k.ROI_NAMES)


def _strip_repeat(name: str) -> str:
    # Repeated presentations may carry a ``rep_`` prefix in the lists (unverified): strip it.
    return name[len(b5k.REPEAT_PREFIX) :] if name.startswith(b5k.REPEAT_PREFIX) else name


def _normalise_roi(stem: str, path: Path) -> str:
    """``LHLO`` -> ``LHLOC``, ``RHRRSC`` -> ``RHRSC`` (CSI2/CSI3 spellings)."""
    hemi, roi = stem[:2], stem[2:]
    roi = b5k.ROI_NAME_ALIASES.get(roi, roi)
    if hemi not in b5k.HEMISPHERES or roi not in b5k.ROI_NAMES:
        raise ReleaseError(
            path, f"unknown ROI mask name {stem!r}", f"<LH|RH><{'|'.join(b5k.ROI_NAMES)}>"
        )
    return hemi + roi


def _combine_hemispheres(rois: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Add ``"PPA"`` (both hemispheres) beside ``"LHPPA"``/``"RHPPA"``.

    Only where both hemispheres' masks exist: a bilateral ROI is never built from one side.
    """
    out = dict(rois)
    for roi in b5k.ROI_NAMES:
        parts = [rois[h + roi] for h in b5k.HEMISPHERES if h + roi in rois]
        if len(parts) == len(b5k.HEMISPHERES):
            out[roi] = np.logical_or.reduce(parts)
    return out


def check_image_names(path: Path, lines: list[str]) -> list[str]:
    """The image names of a list (``rep_`` prefixes stripped), refusing what is not a plain
    file name: release-provided names become paths under the root and must not leave it."""
    names = [_strip_repeat(n) for n in lines]
    if not names:
        raise ReleaseError(path, "holds no image names", "one name per trial")
    for number, name in enumerate(names, start=1):
        if "/" in name or "\\" in name or name in (".", ".."):
            raise ReleaseError(
                path, f"line {number} is {name!r}, not a file name",
                "image file names (no folders, no '..')",
            )  # fmt: skip
    return names


class BOLD5000Subject(Subject):
    """A BOLD5000 subject; see :func:`load_bold5000_subject`."""

    dataset = "bold5000"

    def __init__(
        self,
        root: str | os.PathLike[str],
        subject: str,
        *,
        release: Release = "glmsingle",
        beta_type: str = b5k.DEFAULT_BETA_TYPE,
        tr: str = b5k.DEFAULT_TR,
        fmt: Literal["auto", "mat", "h5"] = "auto",
        sessions: tuple[int, ...] | None = None,
        voxels: str | None = None,
    ) -> None:
        import pandas as pd

        root = Path(root)
        b5k.subject_number(subject)
        self.release = release
        if release == "glmsingle":
            names_path = find_file(root, b5k.imgnames_path(subject))
        elif release == "roi":
            names_path = root / b5k.stim_list_path(subject)
        else:
            raise ValueError(f"release must be 'glmsingle' or 'roi', got {release!r}")
        all_names = check_image_names(names_path, read_lines(names_path))
        table, stim_all = np.unique(np.array(all_names, dtype=object), return_inverse=True)
        counts_all = np.bincount(stim_all)
        order = np.argsort(stim_all, kind="stable")
        repeat_all = np.empty(stim_all.size, dtype=np.int64)
        starts = np.r_[0, np.cumsum(counts_all)[:-1]]
        repeat_all[order] = np.arange(stim_all.size) - np.repeat(starts, counts_all)

        if release == "glmsingle":
            trial, session, in_session, geometry = self._glmsingle(
                root, subject, beta_type, sessions, len(all_names), names_path, voxels
            )
        else:
            trial, geometry = self._roi_release(root, subject, tr, fmt, len(all_names))
            session = in_session = None
        is_test = counts_all[stim_all[trial]] > 1
        trials = pd.DataFrame(
            {
                "trial": trial,
                "session": pd.array(
                    session if session is not None else [pd.NA] * trial.size, dtype="Int64"
                ),
                "run": pd.array([pd.NA] * trial.size, dtype="Int64"),  # not in imgnames / lists
                "trial_in_session": pd.array(
                    in_session if in_session is not None else [pd.NA] * trial.size, dtype="Int64"
                ),
                "stim_id": stim_all[trial].astype(np.int64),
                "repeat": repeat_all[trial],
                "split": np.where(is_test, "test", "train"),
            }
        )
        rule = "bold5000-repeated: images shown more than once"
        splits = {
            "train": make_split("train", f"not {rule}", trial[~is_test]),
            "test": make_split("test", rule, trial[is_test]),
        }
        super().__init__(
            label=subject,
            root=root,
            trials=trials,
            splits=splits,
            geometry=geometry,
            n_voxels=self._n_columns if geometry is None else len(geometry.ijk),
            stimuli=BOLD5000Stimuli(root, [str(n) for n in table]),
            blocks=session if session is not None else np.zeros(trial.size, dtype=np.int64),
            block_index=in_session if in_session is not None else trial,
        )

    # ------------------------------------------------------------------ release 2.0
    def _glmsingle(self, root, subject, beta_type, sessions, n_names, names_path, voxels):
        first = find_file(root, b5k.beta_session_path(subject, 1, beta_type))
        # The release's folder names are unverified: session files are looked for beside
        # session 1 (found anywhere under the root by name), the mask and ROI masks likewise.
        folder = first.parent
        mask_path = find_file(root, b5k.brainmask_path(subject))
        brain, affine = read_volume(mask_path)
        self._mask_affine, self._mask_name = affine, mask_path.name
        grid = tuple(int(v) for v in brain.shape)
        files: dict[int, Path] = {}
        lengths: list[int] = []
        for s in range(1, n_names + 1):
            path = folder / b5k.beta_session_path(subject, s, beta_type).name
            if not path.is_file():
                break
            shape = nifti_shape(path)
            if len(shape) != 4 or shape[:3] != grid:
                raise ReleaseError(
                    path, f"image has shape {shape}", f"(*{grid}, trials), {mask_path.name}'s grid"
                )
            # (the beta files' own affine is reportedly wrong, DATA_FORMATS B: the brain
            # mask's is the geometry; masks and ROIs are compared with it)
            files[s] = path
            lengths.append(shape[3])
        if not files:
            raise ReleaseError(first, "session file is missing")
        after = [
            s
            for s in range(len(files) + 2, n_names + 1)
            if (folder / b5k.beta_session_path(subject, s, beta_type).name).is_file()
        ]
        if after:
            gap = folder / b5k.beta_session_path(subject, len(files) + 1, beta_type).name
            raise ReleaseError(
                gap, f"session file is missing (session {after[0]} is there)",
                "consecutive sessions: the image list is split by session lengths",
            )  # fmt: skip
        wanted = sorted(files) if sessions is None else sorted(sessions)
        for s in wanted:
            if s not in files:
                # imgnames.txt is split by the lengths of all earlier sessions: a gap stops it.
                gap = len(files) + 1
                raise ReleaseError(
                    folder / b5k.beta_session_path(subject, gap, beta_type).name,
                    "session file is missing",
                    f"sessions 1..{s} to place the trials of session {s}",
                )
        offsets = np.r_[0, np.cumsum(lengths)]
        if offsets[-1] > n_names:
            raise ReleaseError(
                names_path,
                f"has {n_names} image names",
                f"at least {offsets[-1]}, the trials of sessions 1..{len(files)}",
            )
        session = np.concatenate([np.full(lengths[s - 1], s) for s in wanted]).astype(np.int64)
        in_session = np.concatenate([np.arange(lengths[s - 1]) for s in wanted]).astype(np.int64)
        trial = offsets[session - 1] + in_session
        self._files, self._lengths, self._brain_grid = files, lengths, grid
        self._mask_paths = self._find_roi_masks(root, subject)
        column_mask = brain > 0
        if voxels is not None:
            volumes = self._roi_volumes(grid)
            if voxels not in volumes:
                sides = [h for h in b5k.HEMISPHERES if h + voxels in self._mask_paths]
                lacking = [h for h in b5k.HEMISPHERES if h not in sides]
                where = (
                    self._mask_paths[sides[0] + voxels].with_name(
                        f"sub-{subject}_mask-{lacking[0]}{voxels}.nii.gz"
                    )
                    if len(sides) == 1
                    else root / b5k.roi_mask_path(subject, "LH", voxels).parent
                )
                raise ReleaseError(
                    where,
                    f"no ROI mask {voxels!r} for {subject} (masks found: {sorted(volumes)})",
                    f"sub-{subject}_mask-<LH|RH>{voxels}.nii.gz, both hemispheres",
                )
            column_mask = volumes[voxels] & (brain > 0)
        ijk = mask_to_ijk(column_mask)
        ijk.setflags(write=False)
        return trial, session, in_session, VolumeGeometry(affine=affine, shape=grid, ijk=ijk)

    @staticmethod
    def _find_roi_masks(root: Path, subject: str) -> dict[str, Path]:
        default = root / b5k.roi_mask_path(subject, "LH", "PPA")
        folder = default.parent
        pattern = f"sub-{subject}_mask-*.nii.gz"
        # ds001499's derivative folder is unverified: fall back to the file names under root.
        hits = sorted(folder.glob(pattern)) if folder.is_dir() else sorted(root.rglob(pattern))
        found: dict[str, Path] = {}
        for path in hits:
            stem = path.name[len(f"sub-{subject}_mask-") : -len(".nii.gz")]
            found[_normalise_roi(stem, path)] = path
        return found

    def _roi_volumes(self, grid) -> dict[str, np.ndarray]:
        out = {}
        for name, path in self._mask_paths.items():
            vol, affine = read_volume(path)
            check_grid(path, vol.shape, affine, grid, self._mask_affine, self._mask_name)
            out[name] = vol > 0
        return _combine_hemispheres(out)

    # ------------------------------------------------------------------ release 1.0
    def _roi_release(self, root, subject, tr, fmt, n_names):
        if fmt == "auto":
            mat = root / b5k.roi_mat_path(subject, tr, "mat")
            fmt = "mat" if mat.is_file() else "h5"
        path = root / b5k.roi_mat_path(subject, tr, fmt)
        if fmt == "mat":
            arrays = load_mat(path, _ROI_KEYS)
        else:
            with open_hdf5(path) as fh:
                missing = [k for k in _ROI_KEYS if k not in fh]
                if missing:
                    raise ReleaseError(path, f"no key(s) {missing}", f"keys {list(_ROI_KEYS)}")
                arrays = {k: np.asarray(fh[k][()]) for k in _ROI_KEYS}
        blocks, masks, start = [], {}, 0
        for key in _ROI_KEYS:
            arr = arrays[key]
            if arr.ndim == 2 and arr.shape[0] != n_names and arr.shape[1] == n_names:
                arr = arr.T  # an axis-reversed (MATLAB v7.3-style) HDF5 copy (unverified)
            if arr.ndim != 2 or arr.shape[0] != n_names:
                raise ReleaseError(
                    path,
                    f"{key} has shape {arr.shape}",
                    f"({n_names} trials of the stimulus list, voxels)",
                )
            blocks.append(arr.astype(np.float32))
            masks[key] = (start, start + arr.shape[1])
            start += arr.shape[1]
        # ROI-level data are small (5254 x ~3000): held in memory as one float32 matrix.
        self._roi_data = np.concatenate(blocks, axis=1)
        self._n_columns = start
        cols = np.arange(start)
        self._roi_masks = _combine_hemispheres(
            {k: (cols >= a) & (cols < b) for k, (a, b) in masks.items()}
        )
        return np.arange(n_names, dtype=np.int64), None

    # ------------------------------------------------------------------ hooks
    def _read_block(self, block: int, columns: np.ndarray) -> np.ndarray:
        if self.geometry is None:
            return self._roi_data[:, columns]
        path = self._files[block]
        data = read_masked_betas(path, self.ijk[columns], n_trials=self._lengths[block - 1])
        return data.astype(np.float32, copy=False)  # GLMsingle betas are PSC already

    def source_files(self) -> list[Path]:
        """Session files (release 2.0) or the ROI file (release 1.0) this subject reads."""
        return list(getattr(self, "_files", {}).values())

    def _load_rois(self) -> tuple[dict[str, np.ndarray], dict[str, dict[int, str]]]:
        if self.geometry is None:
            return dict(self._roi_masks), {}
        i, j, k = self.ijk.T
        return {n: m[i, j, k] for n, m in self._roi_volumes(self.shape).items()}, {}


def load_bold5000_subject(
    root: str | os.PathLike[str],
    subject: str,
    *,
    release: Release = "glmsingle",
    beta_type: str = b5k.DEFAULT_BETA_TYPE,
    tr: str = b5k.DEFAULT_TR,
    fmt: Literal["auto", "mat", "h5"] = "auto",
    sessions: tuple[int, ...] | None = None,
    voxels: str | None = None,
) -> BOLD5000Subject:
    """Open a BOLD5000 subject.

    Parameters
    ----------
    root : path-like
        Root holding the release files (and ``BOLD5000_Stimuli``).
    subject : str
        ``"CSI1"`` .. ``"CSI4"``.
    release : {"glmsingle", "roi"}
        ``glmsingle``: release 2.0 session betas (volumes; columns = brain-mask voxels).
        ``roi``: release 1.0 ROI responses (columns = the ten ROIs' voxels, LH then RH; no
        volume, so ``geometry`` is None and ``unmask`` raises).
    beta_type : str
        GLMsingle beta version (default ``TYPED-FITHRF-GLMDENOISE-RR``).
    tr : str
        Release 1.0 TR window (default ``"34"``, the 4-8 s window).
    fmt : {"auto", "mat", "h5"}
        Release 1.0 file type; ``auto`` takes .mat where present.
    sessions : tuple of int, optional
        Release 2.0 sessions to use (1-based); default all present from session 1 on.
    voxels : str, optional
        Release 2.0: an ROI (``"PPA"``, ``"LHPPA"``...) whose voxels are the columns.

    Returns
    -------
    BOLD5000Subject
        ROI keys ``"LHPPA"``, ``"RHPPA"`` and ``"PPA"`` (both), for EarlyVis, LOC, OPA, PPA, RSC.
    """
    return BOLD5000Subject(
        root,
        subject,
        release=release,
        beta_type=beta_type,
        tr=tr,
        fmt=fmt,
        sessions=sessions,
        voxels=voxels,
    )


def evaluate_roi_files(
    root: Path, subject: str, space: str, chosen: tuple[str, ...] | None = None
) -> dict:
    """ROI masks of ``neurodecode evaluate``: one mask per hemisphere and ROI, and both.

    Masks are found under the root as the reader finds them (CSI2/CSI3 spell some names
    differently); before the release exists (a dry run, a world still to synthesise) the
    layout's default paths stand in. Returns ``{"atlases": [], "labels": [], "masks": {name:
    [paths]}}`` for the ROI names in ``chosen`` (default all of ``ROI_NAMES``).
    """
    unknown = sorted(set(chosen or ()) - set(b5k.ROI_NAMES))
    if unknown:
        raise ValueError(f"{unknown} are not BOLD5000 ROIs {b5k.ROI_NAMES}")
    root = Path(root)
    found = BOLD5000Subject._find_roi_masks(root, subject) if root.is_dir() else {}
    masks: dict[str, list[Path]] = {}
    for roi in chosen or b5k.ROI_NAMES:
        sides = []
        for hemi in b5k.HEMISPHERES:
            path = found.get(hemi + roi)
            if path is None and not found:
                path = root / b5k.roi_mask_path(subject, hemi, roi)
            if path is not None:
                masks[hemi + roi] = [path]
                sides.append(path)
        if len(sides) > 1:
            masks[roi] = sides
    return {"atlases": [], "labels": [], "masks": masks}


def background_image(root: Path, subject: str, space: str) -> Path:
    """The anatomical underlay of the report (the brain mask, found as the reader finds it)."""
    root = Path(root)
    if not root.is_dir():
        return root / b5k.brainmask_path(subject)
    return find_file(root, b5k.brainmask_path(subject))
