"""``prepare``: read a subject's session betas once, through the Subject API, into the cache.

The release is opened with its registered reader (:mod:`neurodecode.data._datasets`), so the
cache holds exactly what the Subject API reads: the same trials, splits, voxel columns, ROIs
(label names from the release) and ncsnr. Per session file the betas (PSC) are z-scored per
voxel with the mean and standard deviation (ddof=0) of that session's **training** trials only,
so no statistic of a test trial leaks into the training data. A voxel that is constant over a
session's training trials (e.g. zero outside the brain mask) is set to 0 in that session and
flagged in ``constant``; a session without training trials uses all its trials' statistics and
says so in the sidecar. See :mod:`._cache` for the files written.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode.data._cache import CACHE_TRIAL_COLUMNS, CachePaths, cache_is_complete
from neurodecode.data._datasets import get_dataset
from neurodecode.data._errors import ReleaseError

__all__ = [
    "PrepareConfig",
    "cache_is_complete",
    "open_release_subject",
    "prepare_betas",
    "prepare_subject",
    "split_hash",
]

ZSCORE_CHOICE = "per-session, per-voxel; mean and std (ddof=0) of the session's training trials"


@dataclasses.dataclass(frozen=True)
class PrepareConfig:
    """What ``prepare`` reads and where it writes.

    Parameters
    ----------
    dataset : str
        Registered dataset name (``"nsd"``, ``"bold5000"``).
    root : Path
        Release root.
    subject : str
        Subject label (``subj01``).
    out : Path
        Cache root; the subject's files go to ``out/sub-<subject>/``.
    roi : str or None
        ROI whose voxels are the columns; ``None``: every brain-mask voxel; ``"default"``: the
        dataset's default (``nsdgeneral`` for NSD, every brain voxel for BOLD5000).
    fmt : str
        Session-file format (``"auto"``: what the reader prefers where several exist).
    space : str or None
        Grid label (default: the dataset's).
    sessions : tuple of int, optional
        1-based sessions; default: every session file present.
    atlases : tuple of str, optional
        Atlases kept as ROIs; default every atlas of the release.
    nonfinite : {"mask", "refuse"}
        What a NaN or infinite beta does: ``"mask"`` drops that value from its session's
        z-scoring statistics and stores it as 0 (the voxel's training mean) in that trial only,
        counting every masked value in the sidecar; ``"refuse"`` stops with an error naming the
        session file, the trial and the voxel.
    """

    dataset: str
    root: Path
    subject: str
    out: Path
    roi: str | None = "default"
    fmt: str = "auto"
    space: str | None = None
    sessions: tuple[int, ...] | None = None
    atlases: tuple[str, ...] | None = None
    nonfinite: str = "mask"

    def resolved(self) -> PrepareConfig:
        """The config with the dataset's defaults filled in."""
        spec = get_dataset(self.dataset)
        roi = spec.default_roi if self.roi == "default" else self.roi
        return dataclasses.replace(self, space=self.space or spec.default_space, roi=roi)


def split_hash(trials: Any) -> str:
    """sha256 of the (trial, split) pairs: recorded in every output that depends on a split."""
    from neurodecode.data._splits import assignment_hash

    return assignment_hash(trials["trial"], trials["split"])


def open_release_subject(config: PrepareConfig) -> Any:
    """The release subject ``prepare`` reads, opened by the dataset's registered reader."""
    spec = get_dataset(config.dataset)
    config = config.resolved()
    return spec.load_subject(config.root, config.subject, **spec.prepare_options(config))


def _zscore_session(x: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, ...]:
    """z-score columns of ``x`` (float32, in place) with the rows ``train``'s statistics.

    Non-finite values are left out of the statistics and become 0 (the training mean); a
    column with fewer than two finite training values counts as constant (all 0).
    """
    bad = ~np.isfinite(x)
    ref = x[train] if train.any() else x
    if bad.any():
        ref = np.where(np.isfinite(ref), ref, np.nan)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: handled below
            mean = np.asarray(np.nanmean(ref, axis=0, dtype=np.float64))
            std = np.asarray(np.nanstd(ref, axis=0, dtype=np.float64))
        few = np.isfinite(ref).sum(axis=0) < 2
        mean[few], std[few] = 0.0, 0.0
        x[bad] = 0.0
    else:
        mean = np.asarray(ref.mean(axis=0, dtype=np.float64))
        std = np.asarray(ref.std(axis=0, dtype=np.float64))
    constant = ~(std > 0)
    x -= mean.astype(np.float32)
    x /= np.where(constant, 1.0, std).astype(np.float32)
    x[:, constant] = 0.0
    x[bad] = 0.0
    return mean, std, constant


def cache_trials(subject: Any) -> Any:
    """The subject's trial table as the cache stores it (integer session columns)."""
    trials = subject.trials[list(CACHE_TRIAL_COLUMNS)].reset_index(drop=True)
    return trials.astype({"session": np.int64, "trial_in_session": np.int64})


def _nonfinite_report(
    subject: Any, session: int, rows: np.ndarray, x: np.ndarray, policy: str
) -> dict[str, int]:
    """Count the non-finite betas of a session; refuse them when the policy says so."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return {}
    t, v = np.argwhere(bad)[0]
    if policy == "refuse":
        files = {f.name: f for f in subject.source_files()}
        where = next((f for n, f in files.items() if f"session{session:02d}" in n
                      or f"ses-{session:02d}" in n), subject.root)  # fmt: skip
        ijk = subject.ijk[v].tolist() if subject.geometry is not None else int(v)
        raise ReleaseError(
            where,
            f"{int(bad.sum())} non-finite betas in session {session} (first: trial "
            f"{int(subject.trials['trial'].iloc[rows[t]])}, voxel {ijk}: {x[t, v]})",
            "finite betas (or prepare --nonfinite mask)",
        )
    return {"values": int(bad.sum()), "trials": int(bad.any(axis=1).sum()),
            "voxels": int(bad.any(axis=0).sum())}  # fmt: skip


def prepare_betas(
    subject: Any,
    write: Callable[[Path], Path],
    paths: CachePaths,
    *,
    progress: Callable | None = None,
    nonfinite: str = "mask",
) -> dict[str, Any]:
    """Write the cache of ``subject`` (a Subject of the release) to the temporary paths ``write``
    hands out for each of ``paths.outputs``; return what the sidecar records about it.

    The betas are written with ordinary writes, session by session, into a file sized up
    front (no memory map: a full disk raises ``OSError`` naming the file instead of killing the
    process with SIGBUS).
    """
    import h5py

    trials = cache_trials(subject)
    sessions = trials["session"].to_numpy()
    session_ids = sorted(set(sessions.tolist()))
    n_rows, n_vox = len(trials), subject.n_voxels
    mean = np.zeros((len(session_ids), n_vox))
    std = np.zeros_like(mean)
    constant = np.zeros(mean.shape, dtype=bool)
    no_train: list[int] = []
    split = trials["split"].to_numpy()
    betas_tmp = write(paths.betas)
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
              "fortran_order": False, "shape": (n_rows, n_vox)}  # fmt: skip
    row_bytes = n_vox * 4
    masked: dict[str, dict[str, int]] = {}
    iterator = progress(session_ids) if progress else session_ids
    try:
        with open(betas_tmp, "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, header)
            start = fh.tell()
            for n, session in enumerate(iterator):
                rows = np.flatnonzero(sessions == session)
                x = np.ascontiguousarray(subject.read_betas(rows), dtype=np.float32)
                counts = _nonfinite_report(subject, int(session), rows, x, nonfinite)
                if counts:
                    masked[str(session)] = counts
                train = split[rows] == "train"
                if not train.any():
                    no_train.append(int(session))
                mean[n], std[n], constant[n] = _zscore_session(x, train)
                runs = np.split(np.arange(rows.size), np.flatnonzero(np.diff(rows) != 1) + 1)
                for run in runs:
                    fh.seek(start + int(rows[run[0]]) * row_bytes)
                    fh.write(x[run].tobytes())
            fh.truncate(start + n_rows * row_bytes)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise OSError(
            exc.errno, f"{paths.betas}: could not write the prepared betas ({exc.strerror or exc})"
        ) from exc
    with open(write(paths.trials), "w", encoding="utf-8", newline="") as fh:
        trials.to_csv(fh, sep="\t", index=False)
    with h5py.File(write(paths.meta), "w") as fh:
        _write_meta(fh, subject, mean, std, constant)
    return {
        "zscore": ZSCORE_CHOICE,
        "sessions_without_training_trials": no_train,
        "constant_voxel_sessions": int(constant.sum()),
        "shape": [n_rows, n_vox],
        "split_rules": {name: s.rule for name, s in subject.splits.items()},
        "nonfinite": {
            "policy": nonfinite,
            "masked_values": sum(c["values"] for c in masked.values()),
            "per_session": masked,
        },
        "input_bytes": int(sum(p.stat().st_size for p in subject.source_files() if p.is_file())),
    }


def _write_meta(fh: Any, subject: Any, mean: np.ndarray, std: np.ndarray, constant) -> None:
    import json

    fh["ijk"] = np.asarray(subject.ijk, dtype=np.int32)
    fh["affine"] = np.asarray(subject.affine, dtype=np.float64)
    fh["shape"] = np.asarray(subject.shape, dtype=np.int64)
    fh.create_group("rois")
    for atlas, (labels, names) in subject.label_atlases().items():
        if not np.any(labels > 0):
            continue  # an atlas with no voxel among the columns
        ds = fh.create_dataset(f"rois/{atlas}", data=np.maximum(labels, 0).astype(np.int16))
        ds.attrs["names"] = json.dumps(names)
    ncsnr = subject.ncsnr
    if ncsnr is not None:
        fh["ncsnr"] = np.asarray(ncsnr, dtype=np.float32)
    fh["zscore/mean"] = mean.astype(np.float32)
    fh["zscore/std"] = std.astype(np.float32)
    fh["zscore"].attrs["method"] = ZSCORE_CHOICE
    fh["constant"] = constant


def recorded_config(config: PrepareConfig) -> dict[str, Any]:
    """The config as the cache's sidecar records it (root resolved, defaults filled in)."""
    cfg = config.resolved()
    out = dataclasses.asdict(cfg)
    out["root"] = str(Path(cfg.root).resolve())
    out["out"] = str(cfg.out)
    for key in ("sessions", "atlases"):
        out[key] = list(out[key]) if out[key] is not None else None
    return out


def prepare_subject(config: PrepareConfig, *, progress: Callable | None = None) -> CachePaths:
    """Prepare one subject's cache as ``config`` says; a current cache is left untouched.

    "Current" means the cache's sidecar records this resolved config and the release files
    as they are now (sizes and modification times); anything else is prepared again. The
    three cache files are written under temporary names and renamed together, holding a lock
    on the cache, so concurrent runs give one valid cache.

    Returns
    -------
    CachePaths
        The cache files (open them with :func:`neurodecode.data.load_prepared`).
    """
    from neurodecode._outputs import StageRun

    cfg = config.resolved()
    paths = CachePaths.of(cfg.out, cfg.subject, cfg.space or "")
    recorded = recorded_config(cfg)
    subject = open_release_subject(cfg)
    with StageRun("prepare", recorded, list(paths.outputs), subject.source_files()) as job:
        if job.up_to_date and cache_is_complete(paths):
            return paths
        job.up_to_date = False
        extra = prepare_betas(subject, job.path, paths, progress=progress, nonfinite=cfg.nonfinite)
        job.record.split_hash = split_hash(cache_trials(subject))
        job.record.extra.update(extra)
        job.record.extra["outputs_bytes"] = {
            p.name: job.path(p).stat().st_size for p in paths.outputs
        }
    return paths
