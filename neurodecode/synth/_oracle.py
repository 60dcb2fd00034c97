"""The ground-truth oracle: the synthetic world rebuilt from a release it wrote.

``neurodecode synth`` records the world's configuration in ``<root>/synth_world.json``; the
world is a pure function of it, so :func:`load_world` rebuilds it exactly. :class:`GroundTruth`
puts one subject's truth on the voxel columns a stage works with (the prepared cache's), matched
by voxel position: the true (noise-free) response to *any* image, each voxel's population,
preferred category or colour, ROI and ncsnr, and every stimulus's symbolic attributes. A
decoding stage scores its outputs against this truth. ``neurodecode.data`` never imports this
module; stages and decoders call it with the cache's voxel indices.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode.synth._config import WorldConfig
from neurodecode.synth._world import make_world

__all__ = ["MARKER", "GroundTruth", "ground_truth", "is_synthetic_release", "load_world"]

#: The file ``neurodecode synth`` writes last at the release root.
MARKER = "synth_world.json"


def is_synthetic_release(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` was written by ``neurodecode synth`` (it holds the world record)."""
    return (Path(root) / MARKER).is_file()


def world_config_from_record(record: dict[str, Any]) -> Any:
    """The world configuration stored in a ``synth_world.json`` record.

    The image world's :class:`WorldConfig` when every stored setting is one of its fields, else
    the video world's :class:`~neurodecode.synth.VideoWorldConfig` when they are its fields.
    """
    from neurodecode.synth._video_world import VideoWorldConfig

    stored = dict(record["world"])
    for key, value in stored.items():
        if isinstance(value, list):
            stored[key] = tuple(value)
    for cls in (WorldConfig, VideoWorldConfig):
        if set(stored) <= {f.name for f in dataclasses.fields(cls)}:
            return cls(**stored)
    unknown = set(stored) - {f.name for f in dataclasses.fields(WorldConfig)}
    raise ValueError(f"synth_world.json: unknown world settings {sorted(unknown)}")


def load_world(root: str | os.PathLike[str]) -> Any:
    """Rebuild the world a synthetic release was written from.

    Raises
    ------
    FileNotFoundError
        ``root`` is not a synthetic release (no ``synth_world.json``): a real release has no
        ground truth.
    """
    from neurodecode._io import read_json

    path = Path(root) / MARKER
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: not a synthetic release (no {MARKER}); the ground truth exists only for "
            "worlds written by `neurodecode synth`"
        )
    return make_world(world_config_from_record(read_json(path)))


def generated_stimuli(world: Any, n: int) -> Any:
    """The world's pool extended by ``n`` images that its generator makes and no subject sees.

    Returns a :class:`~neurodecode.synth.StimulusSet` whose ids ``world.stimuli.n`` onwards
    are the new images (drawn like the pool's, with their attributes and captions).
    """
    from neurodecode.synth._stimuli import StimulusSet

    if n < 0:
        raise ValueError(f"n must be >= 0; got {n}")
    pool = world.stimuli
    return StimulusSet(pool.n + int(n), pool.seed, pool.image_size)


class GroundTruth:
    """One subject's truth on given voxel columns.

    Parameters
    ----------
    world : World or VideoWorld
        The world (see :func:`load_world`).
    subject : str
        Subject label.
    ijk : ndarray of int, shape (n_columns, 3)
        Voxel indices of the columns (e.g. ``PreparedSubject.ijk``).
    shape : tuple of int, optional
        Grid of ``ijk``; checked against the simulated brain's grid when given.

    Raises
    ------
    ValueError
        A column lies outside the simulated brain, or the grids differ.
    """

    def __init__(
        self,
        world: Any,
        subject: str,
        ijk: np.ndarray,
        shape: Sequence[int] | None = None,
    ) -> None:
        self.world = world
        self.subject = subject
        self.brain = world.brain(subject)
        grid = tuple(self.brain.grid_shape)
        if shape is not None and tuple(int(s) for s in shape) != grid:
            raise ValueError(f"voxel grid {tuple(shape)} is not the simulated brain's {grid}")
        ijk = np.asarray(ijk, dtype=np.int64)
        brain_flat = np.ravel_multi_index(tuple(self.brain.voxel_ijk.T), grid)
        flat = np.ravel_multi_index(tuple(ijk.T), grid)
        pos = np.searchsorted(brain_flat, flat)
        pos = np.clip(pos, 0, brain_flat.size - 1)
        outside = brain_flat[pos] != flat
        if outside.any():
            raise ValueError(
                f"{int(outside.sum())} voxel column(s) lie outside the simulated brain of "
                f"{subject} (e.g. ijk {ijk[np.argmax(outside)].tolist()})"
            )
        #: Brain column of each given column.
        self.columns = pos

    # ------------------------------------------------------------------ voxels
    def _per_column(self, name: str) -> np.ndarray:
        return np.asarray(getattr(self.brain, name))[self.columns]

    @property
    def population(self) -> np.ndarray:
        """Population family of each column (``prf``, ``colour``, ``face``..., ``noise``)."""
        return self._per_column("population")

    @property
    def preference(self) -> np.ndarray:
        """Preferred category (face, place, body, word) or colour of each column; '' if none."""
        return self._per_column("preference")

    @property
    def roi(self) -> np.ndarray:
        """Simulated ROI label of each column ('' outside the labelled ROIs)."""
        return self._per_column("roi")

    @property
    def true_space(self) -> np.ndarray:
        """Ground-truth feature space driving each column ('' for untuned columns)."""
        return self._per_column("true_space")

    @property
    def ncsnr(self) -> np.ndarray:
        return self._per_column("ncsnr")

    @property
    def prf_centre(self) -> np.ndarray:
        return self._per_column("prf_centre")

    def tuned(self, population: str) -> np.ndarray:
        """Boolean mask of the columns of a tuned population that a truth space drives."""
        return (self.population == population) & (self.true_space != "")

    def noise_ceiling(self, n_repeats: float = 1) -> np.ndarray:
        """True noise ceiling (% variance) of each column for averages of ``n_repeats``."""
        return self.brain.noise_ceiling(n_repeats)[self.columns]

    def true_response(self, images: np.ndarray, chunk: int = 256) -> np.ndarray:
        """Noise-free response (PSC) of each column to any uint8 images ``(n, H, W, 3)``."""
        images = np.asarray(images)
        parts = [
            self.brain.true_response(images[s : s + chunk])[:, self.columns]
            for s in range(0, len(images), chunk)
        ]
        if not parts:
            return np.empty((0, self.columns.size), np.float32)
        return np.concatenate(parts)

    # ------------------------------------------------------------------ stimuli
    @property
    def stimuli(self) -> Any:
        return self.world.stimuli

    def attributes(self, stim_ids: Sequence[int] | np.ndarray) -> list[dict[str, Any]]:
        """Symbolic description of each stimulus (category, main colour, objects...)."""
        return [self.world.stimuli.attributes(int(i)) for i in np.asarray(stim_ids).ravel()]

    def images(self, stim_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        return self.world.stimuli.images(np.asarray(stim_ids))

    def novel_images(self, start: int, stop: int) -> np.ndarray:
        """Images the world's generator makes beyond its pool, which no subject ever sees.

        Rows ``start..stop-1`` of that endless sequence (ids ``n_stimuli + start`` onwards,
        drawn like the pool's), e.g. as a bank of natural images for a decoder's prior.
        """
        if not 0 <= start <= stop:
            raise ValueError(f"need 0 <= start <= stop; got {start}, {stop}")
        beyond = generated_stimuli(self.world, stop)
        return beyond.images(np.arange(self.world.stimuli.n + start, beyond.n))

    @cached_property
    def held_out_ids(self) -> np.ndarray:
        """Stimulus ids of the pool that no configured subject saw."""
        seen = np.concatenate([self.world.subject_ids(s) for s in self.world.subjects])
        return np.setdiff1d(np.arange(self.world.n_stimuli), seen)


def prepared_truth(prep: Any, subject: str) -> GroundTruth | None:
    """The truth of a prepared subject's columns, or None when its release is not synthetic.

    ``prep`` is a :class:`~neurodecode.data.PreparedSubject` (its ``release_root``, ``ijk``
    and ``shape`` are read).
    """
    if not is_synthetic_release(prep.release_root):
        return None
    return ground_truth(prep.release_root, subject, prep.ijk, prep.shape)


def ground_truth(
    root: str | os.PathLike[str],
    subject: str,
    ijk: np.ndarray,
    shape: Sequence[int] | None = None,
) -> GroundTruth:
    """The truth of ``subject`` on the columns ``ijk``, from the synthetic release at ``root``."""
    return GroundTruth(load_world(root), subject, ijk, shape)
