"""Reading a release's pickles (``.pkl``, and ``.npy`` files that hold a dict) without running
anything they name.

The BOLD Moments Dataset ships its derivatives as Python pickles. ``pickle.load`` imports and
calls whatever a file names, so it is never used here. :func:`load_pickle` unpickles through a
:class:`pickle.Unpickler` whose ``find_class`` admits only what the release's data are made of:
numpy arrays, dtypes and scalars (the functions numpy's own pickles name to rebuild them, and
``_codecs.encode``, which protocol 2 uses for their bytes); dicts, lists, tuples, strings and
numbers come from pickle opcodes and need no class. Any other global (``os.system``,
``builtins.eval``, a class of some library...) raises :class:`ReleaseError` naming the file and
the refused global, before anything is called.

One exception, because the release needs it: its prepared betas and ROI files carry the group
mask as a nibabel ``Nifti1Image`` next to the arrays. For exactly the nibabel classes such an
image is pickled with, the unpickler builds an inert :class:`OpaqueObject` (the class's name and
the state the pickle gave it) instead of the class: no nibabel code runs, nothing is imported,
and readers never use these objects (they take the mask from the release's NIfTI file).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode.data._errors import ReleaseError

__all__ = ["ALLOWED_GLOBALS", "OpaqueObject", "load_npy", "load_pickle"]

#: (module, name) pairs the unpickler resolves: numpy's reconstruction of its own objects.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),
        ("collections", "OrderedDict"),
    }
)
#: nibabel classes of a pickled NIfTI image, rebuilt as inert :class:`OpaqueObject` records.
OPAQUE_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("nibabel.nifti1", "Nifti1Image"),
        ("nibabel.nifti1", "Nifti1Header"),
        ("nibabel.nifti1", "Nifti1Extensions"),
        ("nibabel.fileholders", "FileHolder"),
        ("nibabel.arrayproxy", "ArrayProxy"),
    }
)


class OpaqueObject:
    """An object of a class the unpickler does not build: its name and pickled state only.

    Attributes
    ----------
    qualname : str
        ``module.name`` of the class the pickle named.
    args : tuple
        Arguments the pickle passed to the class.
    state : object
        The state the pickle set (usually a dict), unprocessed.
    """

    qualname = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"OpaqueObject({self.qualname})"


def _opaque_class(module: str, name: str) -> type:
    return type(name, (OpaqueObject,), {"qualname": f"{module}.{name}"})


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, fh: Any, path: Path) -> None:
        super().__init__(fh)
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        if (module, name) in OPAQUE_GLOBALS:
            return _opaque_class(module, name)
        raise ReleaseError(
            self._path,
            f"the pickle names {module}.{name}, which is not release data; refused (nothing "
            "was run)",
            "numpy arrays, dicts, lists and scalars only",
        )

    def persistent_load(self, pid: Any) -> Any:
        raise ReleaseError(self._path, "the pickle uses persistent ids; refused", "plain data")


def _unpickle(fh: Any, path: Path) -> Any:
    try:
        return _RestrictedUnpickler(fh, path).load()
    except ReleaseError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, MemoryError) as exc:  # fmt: skip
        raise ReleaseError(path, f"not a readable pickle ({type(exc).__name__}: {exc})") from exc


def load_pickle(path: str | os.PathLike[str]) -> Any:
    """Unpickle a release file, admitting numpy arrays, dicts, lists and scalars only.

    Raises
    ------
    ReleaseError
        The file is missing or truncated, or it names anything else (see the module notes).
    """
    path = Path(path)
    if not path.is_file():
        raise ReleaseError(path, "file is missing")
    try:
        with open(path, "rb") as fh:
            return _unpickle(fh, path)
    except OSError as exc:
        raise ReleaseError(path, f"unreadable ({exc.strerror or exc})") from exc


def load_npy(path: str | os.PathLike[str]) -> Any:
    """A ``.npy`` file: its array, or (object arrays) what its pickle holds, restricted.

    ``numpy.save`` of a dict writes a 0-d object array whose data are a pickle; that pickle is
    read as :func:`load_pickle` reads one, and the dict itself is returned (what
    ``np.load(..., allow_pickle=True).item()`` gives, without running anything).
    """
    path = Path(path)
    if not path.is_file():
        raise ReleaseError(path, "file is missing")
    try:
        with open(path, "rb") as fh:
            try:
                version = np.lib.format.read_magic(fh)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read_header(fh)
            except ValueError as exc:
                raise ReleaseError(path, f"not a .npy file ({exc})") from exc
            if not dtype.hasobject:
                count = int(np.prod(shape))
                data = np.fromfile(fh, dtype=dtype, count=count)
                if data.size != count:
                    raise ReleaseError(path, f"truncated: {data.size} of {count} values")
                return data.reshape(shape, order="F" if fortran else "C")
            value = _unpickle(fh, path)
    except OSError as exc:
        raise ReleaseError(path, f"unreadable ({exc.strerror or exc})") from exc
    if isinstance(value, np.ndarray) and value.dtype.hasobject and value.shape == ():
        return value.item()  # numpy pickles the object array itself
    return value
