"""Named train/test splits as data: a name, the rule that made it, its trials and their hash.

Three incompatible NSD test sets circulate (982, 1000 and 515 images); a split here is the
exact list of global trial indices it holds, with a sha256 of that list, so every output can
record which one it used and two outputs can be compared by hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable

import numpy as np

__all__ = ["Split", "assignment_hash", "make_split", "trials_hash"]


def trials_hash(trials: Iterable[int]) -> str:
    """sha256 of a trial list (one decimal index per line, in the given order)."""
    text = "\n".join(str(int(t)) for t in trials)
    return hashlib.sha256(text.encode()).hexdigest()


def assignment_hash(trials: Iterable[int], splits: Iterable[str]) -> str:
    """sha256 of the ``trial<TAB>split`` lines of a whole trial table.

    This is the hash the prepared cache records (``split_hash``): it changes when any trial
    moves between splits or when the set of trials changes (e.g. more sessions downloaded).
    """
    text = "\n".join(f"{int(t)}\t{s}" for t, s in zip(trials, splits, strict=True))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclasses.dataclass(frozen=True, eq=False)
class Split:
    """One named split of a subject's trials.

    Parameters
    ----------
    name : str
        ``"train"`` or ``"test"`` (what :meth:`Subject.select` takes).
    rule : str
        The definition in words, e.g. ``"nsd-shared1000: masterordering <= 1000"``.
    trials : ndarray of int
        Sorted global trial indices (the ``trial`` column of the trial table).
    sha256 : str
        :func:`trials_hash` of ``trials``.
    """

    name: str
    rule: str
    trials: np.ndarray
    sha256: str

    def __len__(self) -> int:
        return int(self.trials.size)

    def __repr__(self) -> str:
        return f"Split({self.name!r}, {self.rule!r}, n={len(self)}, sha256={self.sha256[:12]}...)"


def make_split(name: str, rule: str, trials: Iterable[int]) -> Split:
    """Build a :class:`Split` from its trials (sorted, hashed, read-only)."""
    arr = np.sort(
        np.asarray(list(trials) if not isinstance(trials, np.ndarray) else trials, dtype=np.int64)
    )
    arr.setflags(write=False)
    return Split(name=name, rule=rule, trials=arr, sha256=trials_hash(arr.tolist()))
