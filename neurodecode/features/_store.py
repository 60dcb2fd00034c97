"""Feature files: one feature space per HDF5 file, rows keyed by stimulus id.

Layout (fixed by the project contract): ``/stim_ids`` int64 ``(n,)``, ``/features`` float32
``(n, p)``; file attributes ``name``, ``model``, ``weights_sha256`` and ``config`` (JSON).
Complete files are only ever created by an atomic rename, so a file that exists is whole.
Extraction writes through :class:`ResumableFeatureWriter`: a ``*.partial.h5`` file holding a
``done`` mask, flushed after every batch and renamed onto the final path once every row is done.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode._io import atomic_output_path

__all__ = [
    "ResumableFeatureWriter",
    "feature_file_info",
    "iter_feature_blocks",
    "read_features",
    "write_features",
]

_ATTRS = ("name", "model", "weights_sha256")


def _ids_array(stim_ids: Sequence[int] | np.ndarray) -> np.ndarray:
    ids = np.asarray(stim_ids)
    if ids.ndim != 1:
        raise ValueError(f"stim_ids must be one-dimensional, got shape {ids.shape}")
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"stim_ids must be integers, got dtype {ids.dtype}")
    ids = ids.astype(np.int64)
    if np.unique(ids).size != ids.size:
        raise ValueError("stim_ids contain duplicates")
    return ids


def _set_attrs(
    fh: Any, name: str, model: str, weights_sha256: str, config: Mapping[str, Any] | None
) -> None:
    fh.attrs["name"] = name
    fh.attrs["model"] = model
    fh.attrs["weights_sha256"] = weights_sha256
    fh.attrs["config"] = json.dumps(dict(config or {}), sort_keys=True, default=str)


def write_features(
    path: str | os.PathLike[str],
    stim_ids: Sequence[int] | np.ndarray,
    X: np.ndarray,
    *,
    name: str,
    model: str,
    weights_sha256: str = "",
    config: Mapping[str, Any] | None = None,
) -> Path:
    """Write a feature matrix keyed by stimulus id, atomically.

    Parameters
    ----------
    path : path-like
        Destination ``.h5`` file; replaced only once the new file is complete.
    stim_ids : array-like of int, shape (n,)
        Unique stimulus ids, one per row of ``X``.
    X : ndarray, shape (n, p)
        Features; stored as float32.
    name : str
        Feature-space name (e.g. ``"clip-image"``).
    model : str
        Registry name of the model that produced the features.
    weights_sha256 : str, default ""
        Checksum of the weights file ("" for weight-free extractors).
    config : mapping, optional
        Extraction settings, stored as JSON in the ``config`` attribute.

    Returns
    -------
    Path
        ``path``.
    """
    import h5py

    ids = _ids_array(stim_ids)
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] != ids.size:
        raise ValueError(f"X must have shape (n_stimuli={ids.size}, p), got {X.shape}")
    with atomic_output_path(path) as tmp, h5py.File(tmp, "w") as fh:
        fh.create_dataset("stim_ids", data=ids)
        fh.create_dataset("features", data=X.astype(np.float32, copy=False))
        _set_attrs(fh, name, model, weights_sha256, config)
    return Path(path)


def feature_file_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Attributes of a feature file: name, model, weights_sha256, config (dict), n, dim, and
    its ``stim_ids``."""
    import h5py

    with h5py.File(path, "r") as fh:
        info: dict[str, Any] = {k: str(fh.attrs.get(k, "")) for k in _ATTRS}
        info["config"] = json.loads(str(fh.attrs.get("config", "{}")) or "{}")
        info["n"], info["dim"] = (int(s) for s in fh["features"].shape)
        info["stim_ids"] = np.asarray(fh["stim_ids"], dtype=np.int64)
    return info


def read_features(
    path: str | os.PathLike[str], stim_ids: Sequence[int] | np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read a feature file, optionally aligned to requested stimulus ids.

    Parameters
    ----------
    path : path-like
        A file written by :func:`write_features` (or a completed extraction).
    stim_ids : array-like of int, optional
        Ids whose rows to return, in this order (repeats allowed). ``None`` returns every row.

    Returns
    -------
    stim_ids : ndarray of int64, shape (n,)
    X : ndarray of float32, shape (n, p)

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the file lacks the layout, or some requested ids have no row (the message names
        the file and the first missing ids).
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"feature file {path} does not exist")
    with h5py.File(path, "r") as fh:
        for key in ("stim_ids", "features"):
            if key not in fh:
                raise ValueError(f"{path}: not a feature file (no /{key} dataset)")
        keys = np.asarray(fh["stim_ids"]).astype(np.int64)
        dset = fh["features"]
        if stim_ids is None:
            return keys, np.asarray(dset, dtype=np.float32)
        want = np.asarray(stim_ids).astype(np.int64).ravel()
        order = np.argsort(keys, kind="stable")
        if keys.size:
            pos = np.clip(np.searchsorted(keys[order], want), 0, keys.size - 1)
            found = keys[order][pos] == want
        else:
            pos, found = np.zeros(want.size, np.int64), np.zeros(want.size, bool)
        if not found.all():
            missing = np.unique(want[~found])
            shown = ", ".join(str(int(i)) for i in missing[:5])
            raise ValueError(
                f"{path}: no features for {missing.size} requested stimulus id(s), e.g. {shown}"
            )
        rows = order[pos]
        # h5py fancy indexing needs increasing unique indices: read those, then reorder.
        uniq, inverse = np.unique(rows, return_inverse=True)
        block = (
            np.asarray(dset[uniq], dtype=np.float32)
            if uniq.size
            else np.empty((0, dset.shape[1]), np.float32)
        )
        return want, block[inverse]


class ResumableFeatureWriter:
    """Fill a feature file batch by batch, surviving interruption.

    Rows live in ``<path stem>.partial.h5`` beside ``path`` together with a boolean ``done``
    mask; each :meth:`write` flushes to disk. Re-opening with the same ids and dimension
    resumes (:attr:`todo` lists the ids still missing); a partial file made for other ids, a
    different dimension or a different model is discarded. :meth:`finalize` renames the
    partial file onto ``path`` once every row is done.

    Parameters
    ----------
    path : path-like
        Final ``.h5`` path.
    stim_ids : array-like of int, shape (n,)
        Every id the file will hold, in row order.
    dim : int
        Feature dimension.
    name, model, weights_sha256, config
        As in :func:`write_features`.
    partial : path-like, optional
        Where the rows live until :meth:`finalize` (default ``<path stem>.partial.h5``); a
        stage writing ``path`` under a temporary name passes a stable name here, so that an
        interrupted run resumes.
    chunk_rows : int, optional
        Store ``/features`` in HDF5 chunks of this many rows (default: contiguous), so that a
        file far larger than memory is read block by block (:func:`iter_feature_blocks`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        stim_ids: Sequence[int] | np.ndarray,
        dim: int,
        *,
        name: str,
        model: str,
        weights_sha256: str = "",
        config: Mapping[str, Any] | None = None,
        partial: str | os.PathLike[str] | None = None,
        chunk_rows: int | None = None,
    ) -> None:
        import h5py

        self.path = Path(path)
        self.partial_path = (
            Path(partial)
            if partial is not None
            else self.path.with_name(self.path.name.removesuffix(".h5") + ".partial.h5")
        )
        self.stim_ids = _ids_array(stim_ids)
        self.dim = int(dim)
        self._row = {int(k): i for i, k in enumerate(self.stim_ids)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: Any = None
        if self.partial_path.exists() and not self._compatible(model, weights_sha256):
            self.partial_path.unlink()
        if not self.partial_path.exists():
            with atomic_output_path(self.partial_path) as tmp, h5py.File(tmp, "w") as fh:
                fh.create_dataset("stim_ids", data=self.stim_ids)
                chunks = None
                if chunk_rows is not None and self.stim_ids.size and self.dim:
                    chunks = (min(int(chunk_rows), self.stim_ids.size), self.dim)
                fh.create_dataset(
                    "features", shape=(self.stim_ids.size, self.dim), dtype="f4", chunks=chunks
                )
                fh.create_dataset("done", data=np.zeros(self.stim_ids.size, bool))
                _set_attrs(fh, name, model, weights_sha256, config)
        self._fh = h5py.File(self.partial_path, "r+")

    def _compatible(self, model: str, weights_sha256: str) -> bool:
        import h5py

        try:
            with h5py.File(self.partial_path, "r") as fh:
                return (
                    np.array_equal(np.asarray(fh["stim_ids"]), self.stim_ids)
                    and fh["features"].shape == (self.stim_ids.size, self.dim)
                    and "done" in fh
                    and str(fh.attrs.get("model")) == model
                    and str(fh.attrs.get("weights_sha256")) == weights_sha256
                )
        except (OSError, KeyError):  # a partial file damaged by the interruption itself
            return False

    @property
    def done(self) -> np.ndarray:
        """Boolean mask over :attr:`stim_ids` of rows already written."""
        return np.asarray(self._fh["done"], dtype=bool)

    @property
    def todo(self) -> np.ndarray:
        """Ids whose rows are still missing, in row order."""
        return self.stim_ids[~self.done]

    def write(self, stim_ids: Sequence[int] | np.ndarray, X: np.ndarray) -> None:
        """Store rows for ``stim_ids`` and flush them (with the ``done`` mask) to disk."""
        rows = np.array([self._row[int(i)] for i in np.asarray(stim_ids).ravel()], dtype=np.int64)
        X = np.asarray(X, dtype=np.float32)
        if X.shape != (rows.size, self.dim):
            raise ValueError(f"expected a ({rows.size}, {self.dim}) block, got {X.shape}")
        order = np.argsort(rows)
        self._fh["features"][rows[order]] = X[order]
        done = self._fh["done"]
        done[rows[order]] = True
        self._fh.flush()

    def finalize(self) -> Path:
        """Rename the partial file onto the final path; every row must be done."""
        n_left = int((~self.done).sum())
        if n_left:
            raise RuntimeError(f"{self.partial_path}: {n_left} rows not yet written")
        del self._fh["done"]
        self._fh.close()
        self._fh = None
        from neurodecode._io import apply_umask

        apply_umask(self.partial_path)
        os.replace(self.partial_path, self.path)
        return self.path

    def close(self) -> None:
        """Close the partial file without finalising (a later writer resumes it)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> ResumableFeatureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_feature_blocks(
    path: str | os.PathLike[str], block_rows: int | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Read a feature file block by block: ``(stim_ids, features)`` of at most ``block_rows``.

    The default block is the file's HDF5 chunk (the whole file if it is contiguous), so only
    one block is in memory at a time. A file that is not a feature file raises ``ValueError``
    naming it.
    """
    import h5py

    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path}: not a readable HDF5 feature file ({exc})") from exc
    with fh:
        if "features" not in fh or "stim_ids" not in fh:
            raise ValueError(f"{path}: not a feature file (needs /stim_ids and /features)")
        X, ids = fh["features"], fh["stim_ids"]
        if X.ndim != 2 or ids.shape != (X.shape[0],):
            raise ValueError(f"{path}: /features {X.shape} does not match /stim_ids {ids.shape}")
        step = int(block_rows or (X.chunks[0] if X.chunks else max(X.shape[0], 1)))
        if step < 1:
            raise ValueError(f"block_rows must be >= 1; got {block_rows}")
        for a in range(0, X.shape[0], step):
            yield np.asarray(ids[a : a + step]), np.asarray(X[a : a + step], dtype=np.float32)
