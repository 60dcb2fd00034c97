"""Fast masked reads of one session's single-trial betas.

Two readers, one result: a ``(n_trials, n_voxels)`` array holding the betas of the voxels listed
in ``ijk`` (NIfTI voxel indices, one row per voxel column), in the file's stored dtype.

HDF5 (NSD ``betas_sessionNN.hdf5``)
    ``/betas`` is int16 ``(T, Z, Y, X)``, uncompressed, chunked ``(T, 1, 1, 1)``: one chunk per
    voxel. h5py's own masked read walks the chunk index for every chunk it touches. Here the
    chunk index is walked once (``DatasetID.chunk_iter``; ``get_chunk_info_by_coord`` costs a
    full index search per call, ~30 ms each on a full-size session, so it is not used), the
    masked voxels' chunks are sorted by file offset, adjacent chunks are merged into runs, and
    each run is read straight into the output buffer with one system call. Layouts other than
    uncompressed ``(t, 1, 1, 1)`` chunks fall back to a memory map (contiguous layout) or to
    h5py slab reads over blocks of trials (anything else: compressed, other chunk shapes).
NIfTI (``.nii.gz``, ``(X, Y, Z, T)``)
    The header is parsed by nibabel; the data are inflated by ``isal`` one trial volume at a
    time (each is contiguous in Fortran order) and masked at once, so the whole session is never
    held in memory. ``scl_slope``/``scl_inter`` are honoured when set (NSD does not set them).
    Uncompressed ``.nii`` files are memory-mapped.

Any file that is missing, truncated or of the wrong form raises :class:`ReleaseError` naming it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from neurodecode.data._errors import ReleaseError

__all__ = ["mask_to_ijk", "read_masked_betas", "read_masked_hdf5", "read_masked_nifti"]

#: Largest block of whole trial volumes the h5py fallback reads at once.
_SLAB_BYTES = 128 * 1024**2
#: Bytes inflated per read call when skipping the NIfTI header.
_SKIP_BYTES = 1 << 20
#: Above this many index-walk chunks per looked-up chunk, walk the whole index instead.
_LOOKUP_COST = 12


def mask_to_ijk(mask: np.ndarray) -> np.ndarray:
    """Voxel indices ``(n_voxels, 3)`` of a 3-D boolean mask, in C order over ``(X, Y, Z)``.

    This is the voxel-column order used throughout (``volume[mask]`` gives the same order).
    """
    mask = np.asarray(mask)
    if mask.ndim != 3:
        raise ValueError(f"mask must be 3-D, got shape {mask.shape}")
    return np.argwhere(mask.astype(bool, copy=False)).astype(np.intp)


def _check_ijk(path: Path, ijk: np.ndarray, grid: tuple[int, ...]) -> np.ndarray:
    ijk = np.asarray(ijk, dtype=np.intp)
    if ijk.ndim != 2 or ijk.shape[1] != 3:
        raise ValueError(f"ijk must have shape (n_voxels, 3), got {ijk.shape}")
    if ijk.size and (ijk.min() < 0 or np.any(ijk.max(axis=0) >= np.asarray(grid))):
        raise ReleaseError(
            path, f"volume grid {grid} is smaller than the voxel indices asked for",
            f"a grid of at least {tuple(int(v) + 1 for v in ijk.max(axis=0))}",
        )  # fmt: skip
    return ijk


def read_masked_betas(
    path: str | os.PathLike[str], ijk: np.ndarray, *, n_trials: int | None = None
) -> np.ndarray:
    """Read one session file's betas at the voxels ``ijk``; dispatch on the file suffix.

    Parameters
    ----------
    path : path-like
        ``.hdf5``/``.h5`` (NSD HDF5 betas, ``/betas``), ``.nii.gz`` or ``.nii``.
    ijk : ndarray of int, shape (n_voxels, 3)
        NIfTI voxel indices (see :func:`mask_to_ijk`).
    n_trials : int, optional
        Expected number of trials; a file with another count raises :class:`ReleaseError`.

    Returns
    -------
    ndarray, shape (n_trials, n_voxels)
        Stored values (int16 for NSD); float32 when a NIfTI header sets a scaling.
    """
    name = os.fspath(path)
    if name.endswith((".hdf5", ".h5")):
        return read_masked_hdf5(path, ijk, n_trials=n_trials)
    if name.endswith((".nii.gz", ".nii")):
        return read_masked_nifti(path, ijk, n_trials=n_trials)
    raise ValueError(f"{name}: unknown beta file type (expected .hdf5, .h5, .nii.gz or .nii)")


# --------------------------------------------------------------------------------------- HDF5
def read_masked_hdf5(
    path: str | os.PathLike[str],
    ijk: np.ndarray,
    *,
    dataset: str = "betas",
    n_trials: int | None = None,
) -> np.ndarray:
    """Masked read of an HDF5 ``(T, Z, Y, X)`` dataset; see the module notes for the method."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise ReleaseError(path, "file is missing")
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise ReleaseError(path, f"not a readable HDF5 file ({exc})") from exc
    with fh:
        if dataset not in fh or not isinstance(fh[dataset], h5py.Dataset):
            raise ReleaseError(path, f"no dataset /{dataset}", f"/{dataset} of shape (T, Z, Y, X)")
        dset = fh[dataset]
        if dset.ndim != 4 or dset.dtype.kind not in "iuf":
            raise ReleaseError(
                path, f"/{dataset} has shape {dset.shape} and dtype {dset.dtype}",
                "a 4-D numeric array (T, Z, Y, X)",
            )  # fmt: skip
        if n_trials is not None and dset.shape[0] != n_trials:
            raise ReleaseError(path, f"/{dataset} holds {dset.shape[0]} trials", f"{n_trials}")
        grid = tuple(int(v) for v in dset.shape[:0:-1])  # (X, Y, Z)
        ijk = _check_ijk(path, ijk, grid)
        dcpl = dset.id.get_create_plist()
        layout = dcpl.get_layout()
        chunks = dset.chunks
        try:
            if layout == h5py.h5d.CONTIGUOUS and dcpl.get_external_count() == 0:
                return _read_contiguous(path, dset, ijk)
            if (
                layout == h5py.h5d.CHUNKED
                and dcpl.get_nfilters() == 0
                and chunks is not None
                and tuple(chunks[1:]) == (1, 1, 1)
            ):
                return _read_voxel_chunks(path, dset, ijk)
            return _read_slabs(dset, ijk)
        except OSError as exc:
            raise ReleaseError(path, f"read failed, file truncated or corrupt ({exc})") from exc


def _read_contiguous(path: Path, dset, ijk: np.ndarray) -> np.ndarray:
    offset = dset.id.get_offset()
    if offset is None:  # never written: every value is the fill value
        return np.full((dset.shape[0], len(ijk)), dset.fillvalue, dtype=dset.dtype)
    nbytes = math.prod(dset.shape) * dset.dtype.itemsize
    if os.path.getsize(path) < offset + nbytes:
        raise ReleaseError(path, "file is truncated", f"at least {offset + nbytes} bytes")
    mm = np.memmap(path, dtype=dset.dtype, mode="r", offset=offset, shape=dset.shape)
    out = np.empty((dset.shape[0], len(ijk)), dtype=dset.dtype)
    for t in range(dset.shape[0]):
        out[t] = mm[t][ijk[:, 2], ijk[:, 1], ijk[:, 0]]
    del mm
    return out


def _read_slabs(dset, ijk: np.ndarray) -> np.ndarray:
    n_t = dset.shape[0]
    per_trial = math.prod(dset.shape[1:]) * dset.dtype.itemsize
    block = max(1, _SLAB_BYTES // per_trial)
    out = np.empty((n_t, len(ijk)), dtype=dset.dtype)
    for t0 in range(0, n_t, block):
        slab = dset[t0 : t0 + block]
        out[t0 : t0 + block] = slab[:, ijk[:, 2], ijk[:, 1], ijk[:, 0]]
    return out


def _chunk_table(path: Path, dset) -> np.ndarray:
    """File offset of every allocated chunk, indexed ``[t_chunk, z, y, x]`` (-1: unallocated)."""
    ct = dset.chunks[0]
    n_t, nz, ny, nx = dset.shape
    chunk_bytes = ct * dset.dtype.itemsize
    coords: list[tuple[int, ...]] = []
    offsets: list[int] = []
    sizes: list[int] = []

    def visit(info, add_c=coords.append, add_o=offsets.append, add_s=sizes.append) -> None:
        add_c(info.chunk_offset)
        add_o(info.byte_offset)
        add_s(info.size)

    dset.id.chunk_iter(visit)
    table = np.full((-(-n_t // ct), nz, ny, nx), -1, dtype=np.int64)
    if offsets:
        c = np.asarray(coords, dtype=np.intp)
        if np.any(np.asarray(sizes) != chunk_bytes):
            raise ReleaseError(path, "chunks of unexpected stored size", f"{chunk_bytes} bytes")
        table[c[:, 0] // ct, c[:, 1], c[:, 2], c[:, 3]] = offsets
    return table


def _read_voxel_chunks(path: Path, dset, ijk: np.ndarray) -> np.ndarray:
    ct = dset.chunks[0]
    n_t = dset.shape[0]
    n_tc = -(-n_t // ct)
    n_entries = len(ijk) * n_tc
    # An index walk costs ~1 us per chunk of the file; a B-tree lookup ~15 us per chunk read.
    if n_entries * _LOOKUP_COST > dset.id.get_num_chunks():
        data = _gather_by_table(path, dset, ijk)
    else:
        data = _gather_by_lookup(dset, ijk)
    per_voxel = data.reshape(len(ijk), n_tc * ct)[:, :n_t]
    return np.ascontiguousarray(per_voxel.T)


def _gather_by_lookup(dset, ijk: np.ndarray) -> np.ndarray:
    """Few chunks: one B-tree lookup + direct read per chunk, in chunk-coordinate order."""
    ct = dset.chunks[0]
    n_tc = -(-dset.shape[0] // ct)
    data = np.empty((len(ijk), n_tc, ct), dtype=dset.dtype)
    raw = data.view(np.uint8)  # read_direct_chunk fills byte buffers
    # Chunk-coordinate order is the index's key order and, for files written in one pass,
    # the order of the chunks in the file.
    order = np.lexsort((ijk[:, 0], ijk[:, 1], ijk[:, 2]))
    read = dset.id.read_direct_chunk
    fill = dset.fillvalue
    for v in order.tolist():
        i, j, k = ijk[v].tolist()
        for c in range(n_tc):
            try:
                read((c * ct, k, j, i), out=raw[v, c])
            except RuntimeError as exc:  # h5py's error for an unallocated chunk
                if "not allocated" not in str(exc):
                    raise OSError(str(exc)) from exc
                data[v, c] = fill
    return data.reshape(len(ijk) * n_tc, ct)


def _gather_by_table(path: Path, dset, ijk: np.ndarray) -> np.ndarray:
    """Many chunks: walk the index once, then read runs of adjacent chunks by file offset."""
    ct = dset.chunks[0]
    chunk_bytes = ct * dset.dtype.itemsize
    table = _chunk_table(path, dset)
    # entry e = voxel * n_tc + t_chunk; each entry is one chunk of ct values of one voxel.
    entry_offsets = table[:, ijk[:, 2], ijk[:, 1], ijk[:, 0]].T.ravel()
    data = np.full((entry_offsets.size, ct), dset.fillvalue, dtype=dset.dtype)
    present = np.flatnonzero(entry_offsets >= 0)
    order = present[np.argsort(entry_offsets[present], kind="stable")]
    sorted_offsets = entry_offsets[order]
    if sorted_offsets.size and sorted_offsets[-1] + chunk_bytes > os.path.getsize(path):
        raise ReleaseError(
            path, "file is truncated: chunks lie past its end",
            f"at least {int(sorted_offsets[-1]) + chunk_bytes} bytes",
        )  # fmt: skip
    buf = np.empty((sorted_offsets.size, ct), dtype=dset.dtype)
    raw = buf.reshape(-1).view(np.uint8).data
    breaks = np.flatnonzero(np.diff(sorted_offsets) != chunk_bytes) + 1
    starts = np.concatenate(([0], breaks)).astype(np.int64)
    ends = np.concatenate((breaks, [sorted_offsets.size])).astype(np.int64)
    fd = os.open(path, os.O_RDONLY)
    try:
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            want = (e - s) * chunk_bytes
            got = os.preadv(fd, [raw[s * chunk_bytes : e * chunk_bytes]], int(sorted_offsets[s]))
            if got != want:
                raise ReleaseError(path, f"short read at byte {int(sorted_offsets[s])}")
    finally:
        os.close(fd)
    data[order] = buf
    return data


# -------------------------------------------------------------------------------------- NIfTI
def _nifti_header(path: Path):
    import nibabel as nib

    try:
        proxy = nib.load(path).dataobj  # an ArrayProxy: offset and scaling as nibabel reads them
        shape = tuple(int(v) for v in proxy.shape)
        dtype = np.dtype(proxy.dtype)
        offset = int(proxy.offset)
        slope, inter = float(proxy.slope), float(proxy.inter)
    except Exception as exc:  # nibabel raises many kinds for a damaged header
        raise ReleaseError(path, f"unreadable NIfTI header ({exc})") from exc
    if len(shape) != 4:
        raise ReleaseError(path, f"image has shape {shape}", "a 4-D (X, Y, Z, T) image")
    return shape, dtype, offset, slope, inter


def read_masked_nifti(
    path: str | os.PathLike[str], ijk: np.ndarray, *, n_trials: int | None = None
) -> np.ndarray:
    """Masked read of a 4-D NIfTI ``(X, Y, Z, T)``, streaming one trial volume at a time."""
    path = Path(path)
    if not path.is_file():
        raise ReleaseError(path, "file is missing")
    shape, dtype, offset, slope, inter = _nifti_header(path)
    if n_trials is not None and shape[3] != n_trials:
        raise ReleaseError(path, f"image holds {shape[3]} trials", f"{n_trials}")
    ijk = _check_ijk(path, ijk, shape[:3])
    nx, ny, _ = shape[:3]
    flat = ijk[:, 0] + nx * (ijk[:, 1] + ny * ijk[:, 2])  # Fortran order within a volume
    n_t = shape[3]
    vol_items = math.prod(shape[:3])
    out = np.empty((n_t, len(ijk)), dtype=dtype)
    if str(path).endswith(".gz"):
        _stream_gz(path, offset, dtype, vol_items, flat, out)
    else:
        need = offset + vol_items * n_t * dtype.itemsize
        if os.path.getsize(path) < need:
            raise ReleaseError(path, "file is truncated", f"at least {need} bytes")
        mm = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(n_t, vol_items))
        for t in range(n_t):
            out[t] = mm[t, flat]
        del mm
    scaled = not (slope == 1.0 and inter == 0.0)
    if scaled:
        res = out.astype(np.float32)
        res *= np.float32(slope)
        if inter:
            res += np.float32(inter)
        return res
    return out


def _stream_gz(
    path: Path, offset: int, dtype: np.dtype, vol_items: int, flat: np.ndarray, out: np.ndarray
) -> None:
    import gzip
    import zlib

    from isal import igzip

    vol = np.empty(vol_items, dtype=dtype)
    raw = vol.view(np.uint8).data
    n_t = out.shape[0]
    errors = (OSError, EOFError, ValueError, zlib.error, gzip.BadGzipFile)
    try:
        with igzip.open(path, "rb") as gz:
            remaining = offset
            while remaining:
                skipped = len(gz.read(min(remaining, _SKIP_BYTES)))
                if not skipped:
                    raise ReleaseError(path, "file ends inside the NIfTI header")
                remaining -= skipped
            for t in range(n_t):
                got = 0
                while got < len(raw):
                    n = gz.readinto(raw[got:])
                    if not n:
                        raise ReleaseError(
                            path, f"truncated: data end in trial volume {t} of {n_t}",
                            f"{n_t} volumes of {vol_items} values",
                        )  # fmt: skip
                    got += n
                out[t] = vol[flat]
            # Reading to the end makes the gzip reader check the stream's CRC and length.
            gz.read(_SKIP_BYTES)
    except ReleaseError:
        raise
    except errors as exc:
        raise ReleaseError(path, f"corrupt or truncated gzip stream ({exc})") from exc
