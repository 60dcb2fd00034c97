"""Errors raised when a release on disk is not what the reader expects."""

from __future__ import annotations

import os

__all__ = ["ReleaseError"]


class ReleaseError(Exception):
    """A file of a dataset release is missing, truncated, unreadable or of the wrong form.

    The message always names the file and what was wrong with it, so a user can fix the
    download without reading a traceback from inside h5py, nibabel or scipy.

    Parameters
    ----------
    path : path-like
        The offending file (or folder).
    problem : str
        What is wrong, in plain words.
    expected : str, optional
        What the reader expected instead (shape, field, column...).
    """

    def __init__(
        self, path: str | os.PathLike[str], problem: str, expected: str | None = None
    ) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        self.expected = expected
        message = f"{self.path}: {problem}"
        if expected:
            message += f" (expected {expected})"
        super().__init__(message)
