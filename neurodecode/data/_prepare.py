"""``prepare``: read a subject's native session betas once and write the prepared cache.

Per session: masked read (:mod:`neurodecode.data._fastio`), int16 -> float32 -> / BETA_SCALE
(PSC), then each voxel is z-scored with the mean and standard deviation (ddof=0) of that
session's **training** trials only, so no statistic of a test trial leaks into the training
data. A voxel that is constant over a session's training trials (e.g. zero outside the brain
mask) is set to 0 in that session and flagged in ``constant``; a session without training
trials uses all its trials' statistics and says so in the sidecar. See :mod:`._cache` for the
files written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from neurodecode._io import atomic_output_path, atomic_write
from neurodecode._provenance import RunRecord
from neurodecode.data import _nsd_layout as nsd
from neurodecode.data._cache import CachePaths, cache_is_complete
from neurodecode.data._errors import ReleaseError
from neurodecode.data._fastio import mask_to_ijk, read_masked_betas

__all__ = [
    "PrepareConfig",
    "PrepareInputs",
    "nsd_prepare_inputs",
    "prepare_betas",
    "prepare_subject",
    "split_hash",
]

ZSCORE_CHOICE = "per-session, per-voxel; mean and std (ddof=0) of the session's training trials"


@dataclasses.dataclass(frozen=True)
class PrepareConfig:
    """Settings of ``neurodecode prepare``.

    Parameters
    ----------
    dataset : {"nsd"}
        Release kind.
    root : Path
        Release root.
    subject : str
        Subject label (``subj01``).
    out : Path
        Cache root; the subject's files go to ``out/sub-<subject>/``.
    roi : str or None
        Atlas whose ``> 0`` voxels are the columns; ``None``: every brain-mask voxel.
    fmt : {"hdf5", "nii.gz"}
        Which session files to read.
    space, version : str
        Grid and beta version folder.
    sessions : tuple of int, optional
        1-based sessions; default: every session file present.
    """

    dataset: str
    root: Path
    subject: str
    out: Path
    roi: str | None = "nsdgeneral"
    fmt: str = "hdf5"
    space: str = nsd.DEFAULT_SPACE
    version: str = nsd.DEFAULT_BETA_VERSION
    sessions: tuple[int, ...] | None = None


@dataclasses.dataclass(frozen=True)
class PrepareInputs:
    """Everything prepare needs, gathered from a release (or a Subject) beforehand."""

    session_paths: tuple[Path, ...]
    #: Per beta row: trial, session, trial_in_session, stim_id, repeat, split.
    trials: object  # pandas.DataFrame (kept untyped so importing this module stays cheap)
    ijk: np.ndarray
    affine: np.ndarray
    shape: tuple[int, int, int]
    rois: dict[str, tuple[np.ndarray, list[str]]]
    ncsnr: np.ndarray | None
    beta_scale: float
    aux_paths: tuple[Path, ...] = ()
    #: Optional reader ``(session, rows) -> float32 PSC (len(rows), n_voxels)`` for releases
    #: read through a Subject (BOLD5000); by default session files are read and scaled here.
    read_session: Callable[[int, np.ndarray], np.ndarray] | None = None


def split_hash(trials) -> str:
    """sha256 of the (trial, split) pairs: recorded in every output that depends on a split."""
    text = "\n".join(f"{t}\t{s}" for t, s in zip(trials["trial"], trials["split"], strict=True))
    return hashlib.sha256(text.encode()).hexdigest()


def _load_volume(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import nibabel as nib

    if not path.is_file():
        raise ReleaseError(path, "file is missing")
    try:
        img = nib.load(path)
        return np.asarray(img.dataobj), img.affine
    except Exception as exc:
        raise ReleaseError(path, f"unreadable volume ({exc})") from exc


def _read_ctab(path: Path) -> dict[int, str]:
    names: dict[int, str] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].isdigit() and int(parts[0]) > 0:
            names[int(parts[0])] = parts[1]
    return names


def _nsd_trials(root: Path, subject: str, sessions: Sequence[int], per_session: int):
    """Trial table of the given sessions from ``nsd_expdesign.mat`` (1-based fields converted)."""
    import pandas as pd
    import scipy.io

    path = root / nsd.expdesign_path()
    try:
        design = scipy.io.loadmat(path)
        master = np.asarray(design["masterordering"]).ravel().astype(np.int64)  # 1-based k10
        subjectim = np.asarray(design["subjectim"]).astype(np.int64)  # 1-based 73k ids
        n_shared = int(np.asarray(design["sharedix"]).size)  # 1000 in the real release
    except (OSError, KeyError, ValueError) as exc:
        raise ReleaseError(path, f"unreadable experimental design ({exc})") from exc
    row = subjectim[nsd.subject_number(subject) - 1]
    seen: dict[int, int] = {}
    repeat = np.empty(master.size, dtype=np.int64)
    for t, k in enumerate(master.tolist()):
        repeat[t] = seen.get(k, 0)
        seen[k] = repeat[t] + 1
    trial = np.concatenate([(s - 1) * per_session + np.arange(per_session) for s in sessions])
    if trial.size and trial.max() >= master.size:
        raise ReleaseError(path, f"masterordering has {master.size} trials",
                           f"at least {trial.max() + 1} for sessions {list(sessions)}")  # fmt: skip
    k10 = master[trial]
    return pd.DataFrame({
        "trial": trial,
        "session": trial // per_session + 1,
        "trial_in_session": trial % per_session,
        "stim_id": row[k10 - 1] - 1,  # 0-based nsdId
        "repeat": repeat[trial],
        # The shared images occupy the first len(sharedix) columns of subjectim (A4).
        "split": np.where(k10 <= n_shared, "test", "train"),
    })  # fmt: skip


def nsd_prepare_inputs(config: PrepareConfig) -> PrepareInputs:
    """Gather the NSD files of ``config.subject`` (geometry from the brain mask, not constants)."""
    root, subj, space = Path(config.root), config.subject, config.space
    fmt = config.fmt
    if config.sessions is not None:
        sessions = sorted(config.sessions)
    else:
        folder = root / nsd.betas_dir(subj, space, config.version)
        sessions = [
            s
            for s in range(1, 100)
            if (root / nsd.session_betas_path(subj, s, fmt, space, config.version)).is_file()
        ]  # type: ignore[arg-type]
        if not sessions:
            raise ReleaseError(folder, f"no betas_session*.{fmt} files")
    paths = tuple(root / nsd.session_betas_path(subj, s, fmt, space, config.version)  # type: ignore[arg-type]
                  for s in sessions)  # fmt: skip
    mask_path = root / nsd.brainmask_path(subj, space)
    brain, affine = _load_volume(mask_path)
    rois: dict[str, tuple[np.ndarray, list[str]]] = {}
    for atlas in nsd.ROI_ATLASES:
        vol_path = root / nsd.roi_path(subj, atlas, space)
        if vol_path.is_file():
            vol = np.rint(_load_volume(vol_path)[0]).astype(np.int32)
            ctab = root / nsd.ctab_path(subj, atlas)
            table = _read_ctab(ctab) if ctab.is_file() else {}
            k_max = int(vol.max(initial=0))
            rois[atlas] = (vol, [table.get(k, f"{atlas}-{k}") for k in range(1, k_max + 1)])
    if config.roi is None:
        column_mask = brain > 0
    elif config.roi in rois:
        column_mask = rois[config.roi][0] > 0
    else:
        raise ReleaseError(root / nsd.roi_path(subj, config.roi, space), "ROI volume is missing")
    ijk = mask_to_ijk(column_mask)
    i, j, k = ijk.T
    ncsnr_file = root / nsd.ncsnr_path(subj, space, config.version)
    ncsnr = None
    if ncsnr_file.is_file():
        ncsnr = _load_volume(ncsnr_file)[0][i, j, k].astype(np.float32)
    per_session = _n_trials(paths[0])
    trials = _nsd_trials(root, subj, sessions, per_session)
    return PrepareInputs(
        session_paths=paths, trials=trials, ijk=ijk, affine=affine,
        shape=tuple(int(v) for v in brain.shape[:3]),  # type: ignore[arg-type]
        rois={a: (v[i, j, k], names) for a, (v, names) in rois.items()},
        ncsnr=ncsnr, beta_scale=nsd.BETA_SCALE,
        aux_paths=(mask_path, root / nsd.expdesign_path()),
    )  # fmt: skip


def _n_trials(path: Path) -> int:
    if str(path).endswith((".hdf5", ".h5")):
        import h5py

        try:
            with h5py.File(path, "r") as fh:
                return int(fh[nsd.HDF5_BETAS_DATASET].shape[0])
        except (OSError, KeyError) as exc:
            raise ReleaseError(path, f"unreadable HDF5 betas ({exc})") from exc
    import nibabel as nib

    try:
        return int(nib.load(path).shape[3])
    except Exception as exc:
        raise ReleaseError(path, f"unreadable NIfTI header ({exc})") from exc


def _zscore_session(x: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, ...]:
    """z-score columns of ``x`` (float32, in place) with the rows ``train``'s statistics."""
    ref = x[train] if train.any() else x
    mean = ref.mean(axis=0, dtype=np.float64)
    std = ref.std(axis=0, dtype=np.float64)
    constant = ~(std > 0)
    x -= mean.astype(np.float32)
    x /= np.where(constant, 1.0, std).astype(np.float32)
    x[:, constant] = 0.0
    return mean, std, constant


def prepare_betas(
    inputs: PrepareInputs,
    paths: CachePaths,
    config: dict,
    *,
    progress: Callable | None = None,
) -> CachePaths:
    """Write the cache of ``inputs`` to ``paths`` unless a complete one for ``config`` exists."""
    import h5py

    if cache_is_complete(paths, config):
        return paths
    paths.folder.mkdir(parents=True, exist_ok=True)
    # A cache being replaced must stop looking complete before any output changes.
    with contextlib.suppress(FileNotFoundError):
        paths.sidecar.unlink()
    record = RunRecord(stage="prepare", config=config)
    trials = inputs.trials
    sessions = trials["session"].to_numpy()
    n_rows, n_vox = len(trials), len(inputs.ijk)
    mean = np.zeros((len(inputs.session_paths), n_vox))
    std = np.zeros_like(mean)
    constant = np.zeros(mean.shape, dtype=bool)
    no_train: list[int] = []
    session_ids = sorted(set(sessions.tolist()))
    if len(session_ids) != len(inputs.session_paths):
        raise ValueError("trials and session files disagree on the number of sessions")
    tmp = paths.betas.with_name(f".{paths.betas.name}.partial")
    iterator = list(zip(session_ids, inputs.session_paths, strict=True))
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n_rows, n_vox))
        for n, (session, path) in enumerate(progress(iterator) if progress else iterator):
            rows = np.flatnonzero(sessions == session)
            if inputs.read_session is not None:
                x = np.asarray(inputs.read_session(int(session), rows), dtype=np.float32)
            else:
                raw = read_masked_betas(path, inputs.ijk)
                within = trials["trial_in_session"].to_numpy()[rows]
                if within.max(initial=-1) >= raw.shape[0]:
                    raise ReleaseError(path, f"holds {raw.shape[0]} trials", f"> {within.max()}")
                x = raw[within].astype(np.float32)
                x /= np.float32(inputs.beta_scale)
            train = trials["split"].to_numpy()[rows] == "train"
            if not train.any():
                no_train.append(int(session))
            mean[n], std[n], constant[n] = _zscore_session(x, train)
            out[rows] = x
        out.flush()
        del out
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        with atomic_write(paths.trials, "w", encoding="utf-8", newline="") as fh:
            trials.to_csv(fh, sep="\t", index=False)
        with atomic_output_path(paths.meta) as meta, h5py.File(meta, "w") as fh:
            _write_meta(fh, inputs, mean, std, constant)
        os.replace(tmp, paths.betas)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    record.split_hash = split_hash(trials)
    record.extra.update(
        zscore=ZSCORE_CHOICE,
        sessions_without_training_trials=no_train,
        constant_voxel_sessions=int(constant.sum()),
        shape=[n_rows, n_vox],
        outputs={p.name: p.stat().st_size for p in paths.outputs},
        input_bytes=int(sum(p.stat().st_size for p in inputs.session_paths)),
    )
    record.write(paths.meta, inputs=[*inputs.session_paths, *inputs.aux_paths])
    return paths


def _write_meta(fh, inputs: PrepareInputs, mean, std, constant) -> None:
    import json

    fh["ijk"] = inputs.ijk.astype(np.int32)
    fh["affine"] = np.asarray(inputs.affine, dtype=np.float64)
    fh["shape"] = np.asarray(inputs.shape, dtype=np.int64)
    for atlas, (labels, names) in inputs.rois.items():
        ds = fh.create_dataset(f"rois/{atlas}", data=np.maximum(labels, 0).astype(np.int16))
        ds.attrs["names"] = json.dumps(names)
    if inputs.ncsnr is not None:
        fh["ncsnr"] = inputs.ncsnr
    fh["zscore/mean"] = mean.astype(np.float32)
    fh["zscore/std"] = std.astype(np.float32)
    fh["zscore"].attrs["method"] = ZSCORE_CHOICE
    fh["constant"] = constant


def prepare_subject(config: PrepareConfig, *, progress: Callable | None = None) -> CachePaths:
    """Prepare one subject's cache as ``config`` says; a complete cache is left untouched.

    Returns
    -------
    CachePaths
        The cache files (open them with :func:`neurodecode.data.load_prepared`).
    """
    if config.dataset not in ("nsd", "bold5000"):
        raise ValueError(f"dataset must be 'nsd' or 'bold5000', got {config.dataset!r}")
    if config.fmt not in ("hdf5", "nii.gz"):
        raise ValueError(f"fmt must be 'hdf5' or 'nii.gz', got {config.fmt!r}")
    paths = CachePaths.of(config.out, config.subject, config.space)
    resolved = dataclasses.asdict(config)
    resolved["root"] = str(Path(config.root).resolve())
    resolved["out"] = str(config.out)
    resolved["sessions"] = list(config.sessions) if config.sessions is not None else None
    if cache_is_complete(paths, resolved):
        return paths
    if config.dataset == "bold5000":
        from neurodecode.data._prepare_bold5000 import bold5000_prepare_inputs

        inputs = bold5000_prepare_inputs(config)
    else:
        inputs = nsd_prepare_inputs(config)
    return prepare_betas(inputs, paths, resolved, progress=progress)
