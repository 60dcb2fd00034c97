"""Atomic, concurrency-safe file output shared by every stage.

Every output is first written under a unique temporary name in its destination folder and
renamed into place only once complete, so an interrupted run never leaves a half-written file
that looks finished, and a re-run can trust any file that exists. Temporary names start with a
dot and hold ``.tmp``; a run that was killed leaves them behind, and the next run over the same
outputs removes them (:func:`remove_stale_temps`) while it holds the outputs' lock
(:func:`output_lock`). Finished files get the permissions the user's umask gives (``mkstemp``
creates them ``0600``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "OutputTransaction",
    "atomic_output_dir",
    "atomic_output_path",
    "atomic_write",
    "output_lock",
    "read_json",
    "remove_stale_temps",
    "write_json_atomic",
]

_UMASK_LOCK = threading.Lock()
#: Suffixes kept on temporary names so that libraries choosing a format by extension still work.
_MULTI_SUFFIXES = (".nii.gz", ".tar.gz")


def _umask() -> int:
    with _UMASK_LOCK:
        mask = os.umask(0)
        os.umask(mask)
    return mask


def apply_umask(path: str | os.PathLike[str]) -> None:
    """Give ``path`` the mode a plain ``open``/``mkdir`` would have (0666/0777 minus umask)."""
    p = Path(path)
    mode = (0o777 if p.is_dir() else 0o666) & ~_umask()
    with contextlib.suppress(OSError):
        os.chmod(p, mode)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _split_suffix(name: str) -> tuple[str, str]:
    for suffix in _MULTI_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)], suffix
    stem, dot, ext = name.rpartition(".")
    return (stem, f".{ext}") if dot and stem else (name, "")


def temp_path_for(final: str | os.PathLike[str], directory: bool = False) -> Path:
    """A new, unique temporary path beside ``final`` (created empty: a file or a folder)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    stem, suffix = _split_suffix(final.name)
    if directory:
        return Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    fd, name = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".tmp{suffix}", dir=final.parent)
    os.close(fd)
    return Path(name)


def _discard(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _finish_file(tmp: Path) -> None:
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    apply_umask(tmp)


def _place(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` onto ``final``; a folder replaces an existing folder in two renames."""
    if tmp.is_dir():
        for sub in tmp.rglob("*"):
            apply_umask(sub)
        apply_umask(tmp)
        if final.exists():
            trash = temp_path_for(final, directory=True)
            trash.rmdir()
            os.replace(final, trash)
            os.replace(tmp, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, final)
    else:
        _finish_file(tmp)
        os.replace(tmp, final)
    _fsync_dir(final.parent)


@contextlib.contextmanager
def atomic_output_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a unique temporary path beside ``path``; move it onto ``path`` on success.

    Use this with libraries that write by file name (h5py, nibabel). The temporary name keeps
    the final suffixes, so format detection by extension still works. On any exception the
    temporary file is removed and ``path`` is left untouched.
    """
    final = Path(path)
    tmp = temp_path_for(final)
    try:
        yield tmp
        _place(tmp, final)
    except BaseException:
        _discard(tmp)
        raise


@contextlib.contextmanager
def atomic_output_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``path``; it replaces ``path`` on success."""
    final = Path(path)
    tmp = temp_path_for(final, directory=True)
    try:
        yield tmp
        _place(tmp, final)
    except BaseException:
        _discard(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[Any]:
    """Open a temporary file for writing and rename it onto ``path`` when the block ends."""
    if "w" not in mode:
        raise ValueError(f"atomic_write needs a write mode, got {mode!r}")
    with atomic_output_path(path) as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically and return the path."""
    with atomic_write(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True, default=_json_default)
        fh.write("\n")
    return Path(path)


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file, naming the file in the error when it is not valid JSON."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 text file ({exc})") from exc


def remove_stale_temps(finals: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Delete temporary files and folders that killed runs left beside ``finals``.

    Only call this while holding the outputs' :func:`output_lock`: a temporary file of a run
    that is still going would otherwise be taken away from it.
    """
    removed = []
    for final in map(Path, finals):
        if not final.parent.is_dir():
            continue
        stem, _ = _split_suffix(final.name)
        for prefix in {f".{stem}.", f".{final.name}."}:
            for hit in final.parent.glob(f"{glob_escape(prefix)}*.tmp*"):
                _discard(hit)
                removed.append(hit)
    return removed


def glob_escape(text: str) -> str:
    """Escape glob metacharacters of a literal file-name part."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


@contextlib.contextmanager
def output_lock(path: str | os.PathLike[str], *, blocking: bool = True) -> Iterator[Path]:
    """Hold an exclusive lock for the outputs named after ``path`` (a file beside it).

    The lock is an OS lock (``flock``) on ``.<name>.lock`` in ``path``'s folder: it is released
    when the process ends, however it ends, so it never goes stale. A second run over the same
    outputs waits for the first (``blocking``) or raises ``BlockingIOError``.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    lock = final.parent / f".{final.name}.lock"
    with open(lock, "a") as fh:
        flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
        fcntl.flock(fh, flags)
        try:
            yield lock
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class OutputTransaction:
    """Several outputs written under temporary names and put in place together.

    ``path(final)`` hands out a temporary file path (``directory=True``: a folder) for each
    final output; :meth:`commit` renames them all, in the order they were asked for. Until then
    no final name changes, and :meth:`abort` (or leaving a ``with`` block by an exception)
    removes every temporary. Use it as a context manager: a clean exit commits.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []

    def path(self, final: str | os.PathLike[str], *, directory: bool = False) -> Path:
        """The temporary path standing for ``final`` until the commit."""
        final = Path(final)
        for tmp, known in self._pending:
            if known == final:
                return tmp
        tmp = temp_path_for(final, directory=directory)
        self._pending.append((tmp, final))
        return tmp

    @property
    def finals(self) -> list[Path]:
        return [final for _, final in self._pending]

    def commit(self) -> list[Path]:
        done = []
        try:
            for tmp, final in self._pending:
                _place(tmp, final)
                done.append(final)
        except BaseException:
            self.abort()
            raise
        self._pending = []
        return done

    def abort(self) -> None:
        for tmp, _ in self._pending:
            _discard(tmp)
        self._pending = []

    def __enter__(self) -> OutputTransaction:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")
