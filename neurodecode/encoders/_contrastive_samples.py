"""What one training sample of the contrastive encoders is: a trial, or a stimulus.

With ``stimulus_samples`` a sample is one training *stimulus*, and its voxels are the mean of a
random non-empty subset of that stimulus's repeats (subset size drawn uniformly from 1 to the
number of repeats, then the repeats drawn without replacement). The network then sees inputs at
every noise level from a single trial to the full repeat average, which is what the test set
holds (NSD tests on repeat averages), and the 2^r - 1 subsets of a stimulus's r repeats act as
data augmentation. Without it a sample is one trial (MindEye), and the test inputs are less
noisy than anything seen in training.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["TrainingSamples"]


def _index_stream(n: int, rng: np.random.Generator) -> Iterator[int]:
    while True:
        yield from rng.permutation(n)


class TrainingSamples:
    """Draws batches of one subject's training samples (trials, or stimuli from their repeats).

    Parameters
    ----------
    voxels : array-like of shape (n_trials, n_voxels)
        Any row-indexable array (memmap, h5py dataset, row view); rows are read sorted.
    groups : ndarray of shape (n_trials,) or None
        Stimulus of each trial. None, or ``by_stimulus=False``: every trial is a sample.
    by_stimulus : bool
        Samples are stimuli whose voxels average a random subset of their trials.
    rng : numpy.random.Generator
        Source of the sample order and of the subsets.
    """

    def __init__(
        self, voxels: Any, groups: np.ndarray | None, by_stimulus: bool, rng: np.random.Generator
    ) -> None:
        self.voxels = voxels
        self.rng = rng
        n = len(voxels)
        if by_stimulus and groups is not None:
            groups = np.asarray(groups)
            if groups.shape != (n,):
                raise ValueError(f"groups has shape {groups.shape}; expected ({n},)")
            _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
            order = np.argsort(inverse, kind="stable")
            starts = np.r_[0, np.cumsum(counts)[:-1]]
            slot = np.arange(n) - np.repeat(starts, counts)
            members = np.full((len(counts), int(counts.max())), -1, dtype=np.int64)
            members[inverse[order], slot] = order
            self.members, self.counts = members, counts
        else:
            self.members = np.arange(n, dtype=np.int64)[:, None]
            self.counts = np.ones(n, dtype=np.int64)
        self._stream = _index_stream(len(self.members), rng)

    @property
    def n_samples(self) -> int:
        """Samples in one epoch (trials, or stimuli)."""
        return len(self.members)

    @property
    def averages(self) -> bool:
        """Whether samples average several trials."""
        return self.members.shape[1] > 1

    def target_rows(self, units: np.ndarray) -> np.ndarray:
        """A trial of each sample, whose targets (its stimulus's embeddings) the sample takes."""
        return self.members[units, 0]

    def check_targets(self, targets: np.ndarray, what: str) -> None:
        """Raise when trials of one stimulus have different targets."""
        if not self.averages:
            return
        rows = np.where(self.members >= 0, self.members, self.members[:, :1])
        if not np.allclose(targets[rows], targets[rows[:, :1]]):
            raise ValueError(f"{what} differ between trials of one stimulus (groups)")

    def draw(self, b: int, device: torch.device) -> tuple[torch.Tensor, np.ndarray]:
        """The voxels ``(b, n_voxels)`` of the next ``b`` samples and their target rows."""
        import torch

        units = np.fromiter((next(self._stream) for _ in range(b)), np.int64, b)
        if not self.averages:
            # Sorted indices: required by h5py datasets, harmless for in-memory arrays.
            idx = np.sort(units)
            block = np.asarray(self.voxels[idx], dtype=np.float32)
            return torch.as_tensor(block, device=device), idx
        members, counts = self.members[units], self.counts[units]
        size = self.rng.integers(1, counts + 1)
        keys = self.rng.random(members.shape)
        keys[members < 0] = np.inf
        chosen = np.argsort(np.argsort(keys, axis=1), axis=1) < size[:, None]
        rows = np.unique(members[chosen])
        block = torch.as_tensor(np.asarray(self.voxels[rows], dtype=np.float32), device=device)
        where = np.searchsorted(rows, np.where(chosen, members, rows[0]))
        where_t = torch.as_tensor(where, device=device)
        weight = torch.as_tensor(chosen / size[:, None], dtype=torch.float32, device=device)
        x = weight[:, 0, None] * block[where_t[:, 0]]
        for r in range(1, members.shape[1]):
            x = x + weight[:, r, None] * block[where_t[:, r]]
        return x, self.target_rows(units)
