"""The natural-image bank of the decoders' prior: images a subject never saw, in chunks.

The bank is the release's images that the subject was never shown, then, on a synthetic
release, images its generator makes beyond the pool (:meth:`GroundTruth.novel_images`). The
chunks are loaded lazily, so a stage computes each chunk's features and lets it go.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["BANK_MAX", "BANK_PER_STIMULUS", "bank_image_chunks", "default_bank_size"]

#: The prior's default bank: this many images per training stimulus, at most BANK_MAX.
BANK_PER_STIMULUS, BANK_MAX = 10, 20_000


def default_bank_size(train_ids: np.ndarray) -> int:
    """The default bank size for these training stimulus ids (repeats counted once)."""
    return min(BANK_PER_STIMULUS * len(np.unique(train_ids)), BANK_MAX)


def bank_image_chunks(
    prep: Any, truth: Any, size: int, subject: str, chunk: int = 2048
) -> tuple[list[Callable[[], np.ndarray]], dict[str, int]]:
    """Loaders of the bank's uint8 image chunks, and how many images come from each source.

    Parameters
    ----------
    prep : PreparedSubject
        Its trials say which stimuli the subject saw; its stimuli give the release's images.
    truth : GroundTruth or None
        The synthetic world's oracle (generates more images), or None on a real release.
    size : int
        Images wanted (fewer on a real release with fewer unseen images).
    """
    seen = np.unique(prep.trials["stim_id"].to_numpy())
    unseen = np.setdiff1d(np.arange(len(prep.stimuli)), seen)[:size]
    loaders: list[Callable[[], np.ndarray]] = [
        functools.partial(prep.stimuli.images, unseen[k : k + chunk])
        for k in range(0, len(unseen), chunk)
    ]
    n_generated = max(size - len(unseen), 0) if truth is not None else 0
    loaders += [
        functools.partial(truth.novel_images, a, min(a + chunk, n_generated))
        for a in range(0, n_generated, chunk)
    ]
    if not loaders:
        raise ValueError(
            f"the prior's bank is empty: every image of {prep.release_root} was shown to "
            f"{subject}; pass --bank-size 0 to decode without the prior"
        )
    return loaders, {"release_unseen": len(unseen), "generated": n_generated}
