"""The prepared per-subject cache: its file layout and :class:`PreparedSubject`, its reader.

``out_dir/sub-<subject>/`` holds, with ``P = sub-<subject>_space-<space>_desc-prepared``:

``P_bold.npy``
    float32 ``(n_trials, n_voxels)``: betas masked, scaled to PSC and z-scored per voxel within
    each session with statistics from that session's *training* trials; memory-mappable.
``P_trials.tsv``
    one row per beta row: ``trial`` (0-based global trial), ``session`` (1-based),
    ``trial_in_session`` (0-based index into the session file), ``stim_id``,
    ``repeat`` (0-based), ``split``.
``P_bold.h5``
    voxel metadata: ``ijk`` (n_voxels, 3), ``affine``, ``shape``; ``rois/<atlas>`` int labels per
    column (0 = unlabelled) with a ``names`` attribute (JSON list, label k = names[k-1]);
    ``ncsnr`` per column when the release has it; ``zscore/mean`` and ``zscore/std``
    (n_sessions, n_voxels) in PSC; ``constant`` per session and column.
``P_bold.json``
    the run sidecar (package version, config, inputs, split hash, wall time, peak memory,
    ``outputs`` with byte sizes). It is written last: a cache is complete only when it exists
    and every output it lists has its recorded size.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode._io import read_json
from neurodecode.data._errors import ReleaseError

__all__ = ["CachePaths", "PreparedSubject", "cache_is_complete", "load_prepared"]


@dataclass(frozen=True)
class CachePaths:
    """File names of one subject's prepared cache."""

    folder: Path
    subject: str
    space: str

    @classmethod
    def of(cls, out_dir: str | os.PathLike[str], subject: str, space: str) -> CachePaths:
        return cls(Path(out_dir) / f"sub-{subject}", subject, space)

    @property
    def prefix(self) -> str:
        return f"sub-{self.subject}_space-{self.space}_desc-prepared"

    @property
    def betas(self) -> Path:
        return self.folder / f"{self.prefix}_bold.npy"

    @property
    def trials(self) -> Path:
        return self.folder / f"{self.prefix}_trials.tsv"

    @property
    def meta(self) -> Path:
        return self.folder / f"{self.prefix}_bold.h5"

    @property
    def sidecar(self) -> Path:
        return self.folder / f"{self.prefix}_bold.json"

    @property
    def outputs(self) -> tuple[Path, Path, Path]:
        return (self.betas, self.trials, self.meta)


def cache_is_complete(paths: CachePaths, config: dict[str, Any] | None = None) -> bool:
    """True when the sidecar exists, lists every output at its size, and (if given) ``config``."""
    if not paths.sidecar.is_file():
        return False
    try:
        record = read_json(paths.sidecar)
    except (ValueError, OSError):
        return False
    sizes = record.get("outputs", {})
    for out in paths.outputs:
        if not out.is_file() or sizes.get(out.name) != out.stat().st_size:
            return False
    return config is None or record.get("config") == json.loads(json.dumps(config))


def _names(attr: Any) -> list[str]:
    return list(json.loads(attr if isinstance(attr, str) else attr.decode()))


class PreparedSubject:
    """One subject's prepared cache, with the parts of the Subject API downstream stages use.

    Betas are a read-only memory map; nothing else large is loaded.

    Parameters
    ----------
    paths : CachePaths
        Where the cache lies (see :func:`load_prepared`).
    """

    def __init__(self, paths: CachePaths) -> None:
        import h5py
        import pandas as pd

        if not cache_is_complete(paths):
            raise ReleaseError(paths.sidecar, "prepared cache is missing or incomplete",
                               "a cache written by `neurodecode prepare`")  # fmt: skip
        self.paths = paths
        self.record: dict[str, Any] = read_json(paths.sidecar)
        self.label = paths.subject
        self.space = paths.space
        self.trials = pd.read_csv(paths.trials, sep="\t", keep_default_na=False)
        with h5py.File(paths.meta, "r") as fh:
            self.ijk = fh["ijk"][()]
            self.affine = fh["affine"][()]
            self.shape = tuple(int(v) for v in fh["shape"][()])
            self._labels = {a: g[()] for a, g in fh["rois"].items()}
            self._label_names = {a: _names(g.attrs["names"]) for a, g in fh["rois"].items()}
            self.ncsnr = fh["ncsnr"][()] if "ncsnr" in fh else None
            self.zscore_mean = fh["zscore/mean"][()]
            self.zscore_std = fh["zscore/std"][()]

    @property
    def config(self) -> dict[str, Any]:
        """The resolved prepare configuration recorded in the sidecar."""
        return dict(self.record["config"])

    @cached_property
    def betas(self) -> np.ndarray:
        """float32 ``(n_trials, n_voxels)`` read-only memory map."""
        return np.load(self.paths.betas, mmap_mode="r")

    @property
    def n_voxels(self) -> int:
        return len(self.ijk)

    @property
    def split_hash(self) -> str:
        return str(self.record["split_hash"])

    @cached_property
    def rois(self) -> dict[str, np.ndarray]:
        """ROI name -> boolean mask over voxel columns (atlas names and their label names)."""
        out: dict[str, np.ndarray] = {}
        for atlas, labels in self._labels.items():
            out[atlas] = labels > 0
            for k, name in enumerate(self._label_names[atlas], start=1):
                if name != atlas:
                    out[name] = labels == k
        return out

    def split(self, name: str) -> np.ndarray:
        """Row indices (into :attr:`betas`) of the trials in split ``name`` (``train``/``test``)."""
        rows = np.flatnonzero(self.trials["split"].to_numpy() == name)
        if rows.size == 0 and name not in set(self.trials["split"]):
            raise KeyError(f"no split {name!r}; splits: {sorted(set(self.trials['split']))}")
        return rows

    def noise_ceiling(self, n: int | None = None) -> np.ndarray:
        """Noise ceiling in % variance per column, NC = 100 ncsnr^2 / (ncsnr^2 + 1/n).

        ``n=None`` uses the test split's repeat structure: 1/n is replaced by
        (A/3 + B/2 + C/1) / (A + B + C) over images with 3, 2, 1 repeats (DATA_FORMATS A9).
        """
        if self.ncsnr is None:
            raise ValueError(f"{self.label}: the release has no ncsnr for this cache")
        if n is None:
            test = self.trials[self.trials["split"] == "test"]
            counts = test.groupby("stim_id").size().to_numpy()
            inv_n = float(np.mean(1.0 / counts)) if counts.size else 1.0
        else:
            inv_n = 1.0 / n
        s2 = self.ncsnr.astype(np.float64) ** 2
        return (100.0 * s2 / (s2 + inv_n)).astype(np.float32)

    def select(
        self, roi: str | None = None, split: str | None = None, average_repeats: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Responses ``(n_samples, n_voxels_in_roi)`` float32 and their stimulus ids.

        With ``average_repeats`` the trials of each stimulus are averaged (rows sorted by id).
        """
        rows = np.arange(len(self.trials)) if split is None else self.split(split)
        cols = slice(None) if roi is None else np.flatnonzero(self.rois[roi])
        stim = self.trials["stim_id"].to_numpy()[rows]
        data = np.asarray(self.betas[rows][:, cols], dtype=np.float32)
        if not average_repeats:
            return data, stim
        ids, inverse = np.unique(stim, return_inverse=True)
        sums = np.zeros((ids.size, data.shape[1]), dtype=np.float64)
        np.add.at(sums, inverse, data)
        counts = np.bincount(inverse, minlength=ids.size)[:, None]
        return (sums / counts).astype(np.float32), ids

    def unmask(self, values: np.ndarray, fill: float = 0.0):
        """Put per-column values (``(n_voxels,)`` or ``(n_voxels, k)``) back on the volume grid."""
        import nibabel as nib

        values = np.asarray(values)
        if values.shape[0] != self.n_voxels:
            raise ValueError(f"expected {self.n_voxels} values per map, got {values.shape[0]}")
        vol = np.full(self.shape + values.shape[1:], fill, dtype=np.float32)
        vol[self.ijk[:, 0], self.ijk[:, 1], self.ijk[:, 2]] = values
        return nib.Nifti1Image(vol, self.affine)

    def __repr__(self) -> str:
        return (
            f"PreparedSubject({self.label!r}, space={self.space!r}, trials={len(self.trials)}, "
            f"voxels={self.n_voxels})"
        )


def load_prepared(
    cache_dir: str | os.PathLike[str], subject: str, space: str = "func1pt8mm"
) -> PreparedSubject:
    """Open the prepared cache of ``subject`` under ``cache_dir`` (the ``--out`` of prepare)."""
    return PreparedSubject(CachePaths.of(cache_dir, subject, space))
