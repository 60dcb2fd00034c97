"""Trial designs of the synthetic releases: which image each trial shows, and when.

NSD-like: every image of a subject ``repeats`` times, in one seeded order shared by all subjects
(NSD's ``masterordering``), cut into equal sessions. BOLD5000-like: test images several times,
the others once, in a per-subject order cut into sessions of a given length (the last may be
shorter, as in BOLD5000).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Bold5000Design",
    "NsdDesign",
    "bold5000_design",
    "default_trials_per_session",
    "nsd_design",
]

_NSD_ORDER, _BOLD5000_ORDER = 41, 42
#: The real releases' session lengths: defaults that the synthetic designs approach.
NSD_TRIALS_PER_SESSION = 750
BOLD5000_TRIALS_PER_SESSION = 370


def default_trials_per_session(n_trials: int, longest: int = NSD_TRIALS_PER_SESSION) -> int:
    """Largest divisor of ``n_trials`` up to ``longest`` that still gives >= 3 sessions.

    NSD session files all hold the same number of trials, so the synthetic session length must
    divide the trial count. Falls back to fewer sessions only when no such divisor exists.
    """
    for min_sessions in (3, 1):
        cap = min(longest, n_trials // min_sessions)
        for d in range(cap, 0, -1):
            if n_trials % d == 0:
                return d
    return n_trials


@dataclass(frozen=True)
class NsdDesign:
    """One NSD-like design.

    Attributes
    ----------
    masterordering : ndarray of int64, shape (n_trials,)
        0-based index into a subject's image list (``subjectim`` row) for every global trial.
    trials_per_session : int
        Length of every session; ``session = trial // trials_per_session`` (0-based).
    """

    masterordering: np.ndarray
    trials_per_session: int

    @property
    def n_trials(self) -> int:
        return int(self.masterordering.size)

    @property
    def n_sessions(self) -> int:
        return self.n_trials // self.trials_per_session

    @property
    def sessions(self) -> np.ndarray:
        """0-based session of every trial."""
        return np.arange(self.n_trials) // self.trials_per_session

    def presentation_trials(self, repeats: int) -> np.ndarray:
        """``(n_images, repeats)`` 0-based global trial of each image's 1st, 2nd... showing."""
        order = np.argsort(self.masterordering, kind="stable")
        return order.reshape(-1, repeats)


def nsd_design(
    n_images: int, repeats: int, seed: int, trials_per_session: int | None = None
) -> NsdDesign:
    """Each of ``n_images`` shown ``repeats`` times in a seeded random order.

    Parameters
    ----------
    n_images, repeats : int
        Images per subject and showings per image.
    seed : int
        The world's seed.
    trials_per_session : int, optional
        Must divide ``n_images * repeats``; default :func:`default_trials_per_session`.
    """
    n_trials = n_images * repeats
    per = trials_per_session or default_trials_per_session(n_trials)
    if per < 1 or n_trials % per:
        raise ValueError(
            f"trials_per_session={per} does not divide the {n_trials} trials "
            f"({n_images} images x {repeats} repeats): NSD sessions all have one length"
        )
    rng = np.random.default_rng([seed, _NSD_ORDER])
    order = rng.permutation(np.repeat(np.arange(n_images, dtype=np.int64), repeats))
    return NsdDesign(masterordering=order, trials_per_session=per)


@dataclass(frozen=True)
class Bold5000Design:
    """One subject's BOLD5000-like design.

    Attributes
    ----------
    stim_ids : ndarray of int64, shape (n_trials,)
        World stimulus id shown on each trial, in acquisition order.
    session_lengths : tuple of int
        Trials of sessions 1, 2, ...
    """

    stim_ids: np.ndarray
    session_lengths: tuple[int, ...]

    @property
    def sessions(self) -> np.ndarray:
        """0-based session of every trial."""
        return np.repeat(np.arange(len(self.session_lengths)), self.session_lengths)

    def is_repeat(self) -> np.ndarray:
        """True on every showing of an image after its first."""
        seen: set[int] = set()
        out = np.zeros(self.stim_ids.size, dtype=bool)
        for t, s in enumerate(self.stim_ids.tolist()):
            out[t] = s in seen
            seen.add(s)
        return out


def bold5000_design(
    repeated_ids: np.ndarray,
    single_ids: np.ndarray,
    repeats: int,
    seed: int,
    label_key: int,
    trials_per_session: int = BOLD5000_TRIALS_PER_SESSION,
) -> Bold5000Design:
    """Test images ``repeats`` times and the others once, in a per-subject random order."""
    if trials_per_session < 1:
        raise ValueError(f"trials_per_session must be >= 1, got {trials_per_session}")
    shown = np.concatenate(
        [np.repeat(np.asarray(repeated_ids, dtype=np.int64), repeats), np.asarray(single_ids)]
    ).astype(np.int64)
    rng = np.random.default_rng([seed, _BOLD5000_ORDER, label_key])
    shown = rng.permutation(shown)
    full, rest = divmod(shown.size, trials_per_session)
    lengths = (trials_per_session,) * full + ((rest,) if rest else ())
    return Bold5000Design(stim_ids=shown, session_lengths=lengths)
