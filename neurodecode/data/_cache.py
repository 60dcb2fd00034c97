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
    ``outputs`` with byte sizes). A cache is complete only when it exists and every output it
    lists has its recorded size.

:class:`PreparedSubject` *is* a :class:`~neurodecode.data.Subject`: splits, selection, repeat
averaging, the noise ceiling and unmasking are the Subject API's own, read from the cache.
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
from neurodecode.data._splits import make_split
from neurodecode.data._subject import Subject, VolumeGeometry

__all__ = ["CachePaths", "PreparedSubject", "RowView", "cache_is_complete", "load_prepared"]

#: Columns of the cache's trial table, in this order.
CACHE_TRIAL_COLUMNS = ("trial", "session", "trial_in_session", "stim_id", "repeat", "split")


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
    sizes = record.get("outputs_bytes", {})
    for out in paths.outputs:
        if not out.is_file() or sizes.get(out.name) != out.stat().st_size:
            return False
    return config is None or record.get("config") == json.loads(json.dumps(config))


def _names(attr: Any) -> list[str]:
    return list(json.loads(attr if isinstance(attr, str) else attr.decode()))


class RowView:
    """Rows of a memory-mapped matrix at some columns, read on demand (never all at once).

    ``view[idx]`` reads the rows ``idx`` (a slice or integer array, any order) at every column
    of the view; ``view[:, cols]`` reads every row at columns ``cols`` (what the ridge encoder
    streams). Reads go to the memory map in ascending row order.

    Parameters
    ----------
    matrix : ndarray
        ``(n_rows, n_columns)``, typically a read-only memory map.
    rows : ndarray of int
        Rows of ``matrix`` in the view, in view order.
    columns : ndarray of int, optional
        Columns in the view (default: all).
    """

    def __init__(self, matrix: np.ndarray, rows: np.ndarray, columns: np.ndarray | None = None):
        self.matrix = matrix
        self.rows = np.asarray(rows, dtype=np.int64)
        self.columns = None if columns is None else np.asarray(columns, dtype=np.int64)
        n_cols = matrix.shape[1] if self.columns is None else self.columns.size
        self.shape = (self.rows.size, n_cols)

    def __len__(self) -> int:
        return self.shape[0]

    def _take(self, rows: np.ndarray, cols: Any) -> np.ndarray:
        order = np.argsort(rows, kind="stable")
        block = np.empty((rows.size, self.shape[1] if cols is None else len(cols)), np.float32)
        data = np.asarray(self.matrix[rows[order]], dtype=np.float32)
        block[order] = data if cols is None else data[:, cols]
        return block

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, tuple):
            rows_key, cols = key
            if rows_key != slice(None):
                raise IndexError("a row view is read as view[rows] or view[:, columns]")
            cols = np.arange(self.shape[1])[cols]
            base = cols if self.columns is None else self.columns[cols]
            if self.rows.size == self.matrix.shape[0] and np.all(
                self.rows == np.arange(self.rows.size)
            ):
                return np.asarray(self.matrix[:, base], dtype=np.float32)
            return self._take(self.rows, base)
        rows = self.rows[key]
        return self._take(np.atleast_1d(rows), self.columns)


class PreparedSubject(Subject):
    """One subject's prepared cache, read through the Subject API.

    Betas are a read-only memory map (:attr:`betas`); nothing else large is loaded. The
    release's stimuli are opened on first use from the release root the cache records.

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
        self.space = paths.space
        self.dataset = str(self.record.get("config", {}).get("dataset", ""))
        trials = pd.read_csv(paths.trials, sep="\t", keep_default_na=False)
        missing = [c for c in CACHE_TRIAL_COLUMNS if c not in trials.columns]
        if missing:
            raise ReleaseError(paths.trials, f"missing column(s) {missing}", "a prepared cache")
        try:
            with h5py.File(paths.meta, "r") as fh:
                ijk = fh["ijk"][()]
                affine = fh["affine"][()]
                shape = tuple(int(v) for v in fh["shape"][()])
                self._labels = {a: g[()] for a, g in fh["rois"].items()} if "rois" in fh else {}
                self._label_names = {
                    a: _names(g.attrs["names"]) for a, g in fh["rois"].items()
                } if "rois" in fh else {}  # fmt: skip
                self._stored_ncsnr = fh["ncsnr"][()] if "ncsnr" in fh else None
                self.zscore_mean = fh["zscore/mean"][()]
                self.zscore_std = fh["zscore/std"][()]
        except (OSError, KeyError) as exc:
            raise ReleaseError(paths.meta, f"unreadable cache metadata ({exc})") from exc
        rules = self.record.get("split_rules", {})
        split = trials["split"].to_numpy()
        splits = {
            name: make_split(name, rules.get(name, "as prepared"), trials["trial"][split == name])
            for name in sorted(set(split.tolist()))
        }
        super().__init__(
            label=paths.subject,
            root=paths.folder,
            trials=trials,
            splits=splits,
            geometry=VolumeGeometry(affine=affine, shape=shape, ijk=ijk),  # type: ignore[arg-type]
            n_voxels=len(ijk),
            stimuli=None,
            blocks=np.zeros(len(trials), dtype=np.int64),
            block_index=np.arange(len(trials)),
        )

    # ------------------------------------------------------------------ cache facts
    @property
    def config(self) -> dict[str, Any]:
        """The resolved prepare configuration recorded in the sidecar."""
        return dict(self.record["config"])

    @property
    def release_root(self) -> Path:
        """The release the cache was prepared from."""
        return Path(self.config["root"])

    @cached_property
    def betas(self) -> np.ndarray:
        """float32 ``(n_trials, n_voxels)`` read-only memory map."""
        return np.load(self.paths.betas, mmap_mode="r")

    @property
    def split_hash(self) -> str:
        return str(self.record["split_hash"])

    def rows(self, rows: np.ndarray, columns: np.ndarray | str | None = None) -> RowView:
        """A lazy view of betas ``rows`` at ``columns`` (indices or an ROI name; default all)."""
        cols = self.columns(columns) if isinstance(columns, str) else columns
        return RowView(self.betas, rows, cols)

    # ------------------------------------------------------------------ Subject hooks
    def _read_block(self, block: int, columns: np.ndarray) -> np.ndarray:
        return np.asarray(self.betas[:, columns], dtype=np.float32)

    def _read_rows(self, block: int, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        return RowView(self.betas, rows, columns)[np.arange(len(rows))]

    def _load_ncsnr(self) -> np.ndarray | None:
        return self._stored_ncsnr

    def _load_rois(self) -> tuple[dict[str, np.ndarray], dict[str, dict[int, str]]]:
        rois: dict[str, np.ndarray] = {}
        tables: dict[str, dict[int, str]] = {}
        for atlas, labels in self._labels.items():
            rois[atlas] = labels > 0
            names = self._label_names[atlas]
            tables[atlas] = {k: name for k, name in enumerate(names, start=1)}
            for k, name in enumerate(names, start=1):
                if name != atlas:
                    rois.setdefault(name, labels == k)
        return rois, tables

    def label_atlases(self) -> dict[str, tuple[np.ndarray, list[str]]]:
        return {
            a: (v.astype(np.int16), list(self._label_names[a])) for a, v in self._labels.items()
        }

    def source_files(self) -> list[Path]:
        return list(self.paths.outputs)

    def _open_stimuli(self) -> Any:
        from neurodecode.data._datasets import get_dataset

        return get_dataset(self.dataset).load_stimuli(self.release_root, self.label)

    def __repr__(self) -> str:
        return (
            f"PreparedSubject({self.label!r}, space={self.space!r}, trials={self.n_trials}, "
            f"voxels={self.n_voxels})"
        )


def find_spaces(cache_dir: str | os.PathLike[str], subject: str) -> list[str]:
    """Grid labels of the subject's prepared caches under ``cache_dir``."""
    folder = CachePaths.of(cache_dir, subject, "*").folder
    prefix, suffix = f"sub-{subject}_space-", "_desc-prepared_bold.json"
    return sorted(p.name[len(prefix) : -len(suffix)] for p in folder.glob(prefix + "*" + suffix))


def load_prepared(
    cache_dir: str | os.PathLike[str], subject: str, space: str | None = None
) -> PreparedSubject:
    """Open the prepared cache of ``subject`` under ``cache_dir`` (the ``--out`` of prepare).

    ``space`` None takes the subject's only cache; with several grids prepared it must be given.
    """
    if space is None:
        spaces = find_spaces(cache_dir, subject)
        if len(spaces) > 1:
            raise ValueError(
                f"{CachePaths.of(cache_dir, subject, '*').folder}: prepared caches of grids "
                f"{spaces}; pass --space"
            )
        if not spaces:
            raise ReleaseError(
                CachePaths.of(cache_dir, subject, "*").folder,
                f"no prepared cache of subject {subject}",
                "the --out folder of `neurodecode prepare`",
            )
        space = spaces[0]
    return PreparedSubject(CachePaths.of(cache_dir, subject, space))
