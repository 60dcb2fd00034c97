"""Safe opening of release files: every library failure becomes a :class:`ReleaseError`.

nibabel, h5py, scipy and pandas each raise their own exception types (and sometimes bare
``EOFError`` or ``zlib.error``) for a missing, truncated or malformed file. The readers call
these helpers instead, so a user always sees which file is wrong and what was expected.
Only small files are read whole here (3-D volumes, tables, design files); session betas go
through :mod:`neurodecode.data._fastio`.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode.data._errors import ReleaseError

__all__ = [
    "check_grid",
    "find_file",
    "load_mat",
    "nifti_affine",
    "nifti_shape",
    "open_hdf5",
    "read_ctab",
    "read_json",
    "read_lines",
    "read_table",
    "read_volume",
    "require_file",
]

#: What nibabel/gzip/zlib/h5py raise for damaged files (nibabel has no common base class; h5py
#: raises RuntimeError for a damaged chunk index).
_READ_ERRORS = (OSError, EOFError, ValueError, zlib.error, gzip.BadGzipFile, KeyError, RuntimeError)
#: Largest difference (mm) between two affines that still counts as the same grid position.
AFFINE_TOLERANCE_MM = 1e-3


def require_file(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a :class:`Path`; raise :class:`ReleaseError` if it is not a file."""
    path = Path(path)
    if not path.is_file():
        raise ReleaseError(path, "file is missing")
    return path


def find_file(root: Path, relative: Path) -> Path:
    """``root / relative`` if it exists, else the first file of that exact name under ``root``.

    Used only where DATA_FORMATS marks the folder as unverified (BOLD5000 release 2.0 and the
    OpenNeuro masks): the file name is known, the folder it was unpacked into is not. When
    nothing is found the default path is returned, so the error names where we looked first.
    """
    default = root / relative
    if default.exists():
        return default
    for hit in sorted(root.rglob(relative.name)):
        if hit.is_file():
            return hit
    return default


def _load_nifti(path: Path):
    import nibabel as nib

    require_file(path)
    try:
        return nib.load(path)
    except Exception as exc:  # nibabel raises ImageFileError, ValueError, OSError...
        raise ReleaseError(path, f"unreadable NIfTI header ({exc})") from exc


def nifti_shape(path: str | os.PathLike[str]) -> tuple[int, ...]:
    """Shape from the header only (a session's trial count without inflating it)."""
    return tuple(int(v) for v in _load_nifti(Path(path)).shape)


def read_volume(
    path: str | os.PathLike[str], dtype: np.dtype | type = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """Read a small 3-D volume (mask, ROI, ncsnr) and its affine.

    The data go through the image's array proxy and are cast to ``dtype`` (float32 by
    default), never through ``get_fdata`` (float64). A trailing axis of length 1 is dropped.
    """
    path = Path(path)
    img = _load_nifti(path)
    try:
        data = np.asarray(img.dataobj)
    except _READ_ERRORS as exc:
        raise ReleaseError(path, f"truncated or corrupt image data ({exc})") from exc
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise ReleaseError(path, f"image has shape {data.shape}", "a 3-D volume")
    return data.astype(dtype, copy=False), np.asarray(img.affine, dtype=np.float64)


def check_grid(
    path: str | os.PathLike[str],
    shape: Sequence[int],
    affine: np.ndarray,
    ref_shape: Sequence[int],
    ref_affine: np.ndarray,
    ref_name: str = "the brain mask",
) -> None:
    """Refuse a volume whose grid (shape) or position in space (affine) is not the reference's.

    ``ref_name`` names the reference in the message (pass its file name, so that both files
    are named: either may be the damaged one).
    """
    _check_grid(path, shape, affine, ref_shape, ref_affine, ref_name)


def _check_grid(path, shape, affine, ref_shape, ref_affine, ref_name) -> None:
    # A volume with the right shape but another affine (shifted, flipped, resampled) would put
    # its voxels on the wrong columns: an error, never silently cropped or re-aligned.
    shape, ref_shape = tuple(int(s) for s in shape[:3]), tuple(int(s) for s in ref_shape[:3])
    if shape != ref_shape:
        raise ReleaseError(path, f"volume grid {shape}", f"{ref_name}'s grid {ref_shape}")
    diff = np.abs(np.asarray(affine, float) - np.asarray(ref_affine, float)).max()
    if not diff <= AFFINE_TOLERANCE_MM:
        raise ReleaseError(
            path,
            f"affine differs from {ref_name}'s by up to {diff:.4g} mm (another position in space)",
            f"{ref_name}'s affine",
        )


def nifti_affine(path: str | os.PathLike[str]) -> np.ndarray:
    """The affine of a NIfTI file from its header only."""
    return np.asarray(_load_nifti(Path(path)).affine, dtype=np.float64)


def load_mat(path: str | os.PathLike[str], keys: Sequence[str]) -> dict[str, np.ndarray]:
    """Read the variables ``keys`` of a MATLAB file; a missing key raises :class:`ReleaseError`.

    MATLAB v5 files go through ``scipy.io.loadmat``. v7.3 files are HDF5 (scipy refuses them);
    they are read with h5py and transposed back, because MATLAB writes them axis-reversed.
    """
    import scipy.io
    from scipy.io.matlab import MatReadError

    path = require_file(path)
    if path.stat().st_size == 0:
        raise ReleaseError(path, "file is empty", "a MATLAB file")
    try:
        data = scipy.io.loadmat(path, variable_names=list(keys))
    except NotImplementedError:  # a v7.3 (HDF5) MAT file
        with open_hdf5(path) as fh:
            missing = [k for k in keys if k not in fh]
            if missing:
                raise ReleaseError(
                    path, f"no variable(s) {missing}", f"keys {list(keys)}"
                ) from None
            return {k: np.asarray(fh[k][()]).T for k in keys}
    except (*_READ_ERRORS, TypeError, MatReadError, AssertionError) as exc:
        raise ReleaseError(path, f"unreadable MATLAB file ({exc or type(exc).__name__})") from exc
    missing = [k for k in keys if k not in data]
    if missing:
        raise ReleaseError(path, f"no variable(s) {missing}", f"keys {list(keys)}")
    return {k: np.asarray(data[k]) for k in keys}


@contextlib.contextmanager
def open_hdf5(path: str | os.PathLike[str]) -> Iterator[Any]:
    """Open an HDF5 file read-only; errors while opening *or reading* name the file."""
    import h5py

    path = require_file(path)
    try:
        fh = h5py.File(path, "r")
    except (OSError, RuntimeError) as exc:
        raise ReleaseError(path, f"not a readable HDF5 file ({exc})") from exc
    try:
        with fh:
            yield fh
    except (OSError, RuntimeError, KeyError) as exc:  # truncated data, a damaged chunk index
        raise ReleaseError(path, f"read failed, file truncated or corrupt ({exc})") from exc


def read_table(
    path: str | os.PathLike[str], required: Sequence[str], *, sep: str = ",", **kwargs: Any
):
    """Read a CSV/TSV with pandas; a missing required column raises :class:`ReleaseError`.

    ``kwargs`` go to :func:`pandas.read_csv`; ``usecols`` is set to ``required`` unless given,
    so only the needed columns are parsed.
    """
    import pandas as pd

    path = require_file(path)
    try:
        header = pd.read_csv(path, sep=sep, nrows=0, index_col=kwargs.get("index_col"))
    except (*_READ_ERRORS, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ReleaseError(path, f"unreadable table ({exc})") from exc
    missing = [c for c in required if c not in header.columns]
    if missing:
        raise ReleaseError(path, f"missing column(s) {missing}", f"columns {list(required)}")
    if "usecols" not in kwargs and kwargs.get("index_col") is None:
        kwargs["usecols"] = list(required)
    try:
        return pd.read_csv(path, sep=sep, **kwargs)
    except (*_READ_ERRORS, pd.errors.ParserError) as exc:
        raise ReleaseError(path, f"unreadable table ({exc})") from exc


def read_json(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file (COCO caption annotations)."""
    path = require_file(path)
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as exc:
        raise ReleaseError(path, f"unreadable JSON ({exc})") from exc


def read_lines(path: str | os.PathLike[str]) -> list[str]:
    """Non-empty, stripped lines of a text file (stimulus lists, image-name tables)."""
    path = require_file(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReleaseError(path, f"unreadable text file ({exc})") from exc
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_ctab(path: str | os.PathLike[str]) -> dict[int, str]:
    """Label id -> name from a FreeSurfer-style ``<atlas>.mgz.ctab`` (``ID name [R G B A]``).

    The one ctab reader of the package, and a strict one: every non-comment line must be an
    integer id and a name (optionally four integer colour components); ids must be unique and
    non-negative; an empty table is an error. Label 0 (``Unknown``) is not a region and is
    left out.
    """
    path = Path(path)
    names: dict[int, str] = {}
    seen: set[int] = set()
    raw = path.read_bytes() if path.is_file() else b""
    if raw and not raw.endswith(b"\n"):  # a cut last line could be a cut name
        raise ReleaseError(path, "does not end with a newline (truncated?)", "whole lines")
    for number, line in enumerate(read_lines(path), start=1):
        if line.startswith("#"):
            continue
        parts = line.split()
        ok = (
            len(parts) in (2, 6)
            and parts[0].isdigit()
            and all(p.lstrip("-").isdigit() for p in parts[2:])
        )
        if not ok:
            raise ReleaseError(
                path, f"line {number} is not 'ID name [R G B A]': {line!r}", "FreeSurfer ctab lines"
            )
        value = int(parts[0])
        if value in seen:
            raise ReleaseError(path, f"line {number}: label {value} defined twice")
        seen.add(value)
        if value > 0:
            names[value] = parts[1]
    if not names:
        raise ReleaseError(path, "defines no label", "lines 'ID name' with ID >= 1")
    return names
