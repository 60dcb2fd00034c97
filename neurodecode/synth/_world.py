"""The world: a stimulus pool, subject image sets and simulated brains from one seed."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from neurodecode.synth._brain import SimulatedBrain, label_key
from neurodecode.synth._config import WorldConfig
from neurodecode.synth._stimuli import StimulusSet
from neurodecode.synth._truth import truth_features

__all__ = ["World", "make_world"]

_SPLIT, _CALIBRATION = 31, 32
_N_CALIBRATION = 512


class World:
    """A deterministic synthetic world; build it with :func:`make_world`.

    Parameters
    ----------
    config : WorldConfig
        Sizes and seed.
    """

    def __init__(self, config: WorldConfig) -> None:
        self.config = config
        self.stimuli = StimulusSet(config.n_stimuli, config.seed, config.image_size)
        self._brains: dict[str, SimulatedBrain] = {}
        rng = np.random.default_rng([config.seed, _SPLIT])
        order = rng.permutation(config.n_stimuli)
        self.shared_ids: np.ndarray = np.sort(order[: config.n_shared])
        self._unique_pool = order[config.n_shared :]

    @property
    def n_stimuli(self) -> int:
        """Size of the stimulus pool; ids are ``0..n_stimuli-1``."""
        return self.config.n_stimuli

    @property
    def subjects(self) -> tuple[str, ...]:
        """The configured subject labels."""
        return self.config.subjects

    def subject_ids(self, label: str) -> np.ndarray:
        """A subject's ``n_per_subject`` images: the shared ids (sorted) first, then its own.

        Configured subjects get disjoint unique images (consecutive blocks of a seeded
        permutation of the non-shared pool); any other label draws its unique images from the
        whole non-shared pool, seeded by the label.
        """
        cfg = self.config
        n_unique = cfg.n_per_subject - cfg.n_shared
        if label in cfg.subjects:
            k = cfg.subjects.index(label)
            own = self._unique_pool[k * n_unique : (k + 1) * n_unique]
        else:
            rng = np.random.default_rng([cfg.seed, _SPLIT, label_key(label)])
            own = rng.choice(self._unique_pool, size=n_unique, replace=False)
        return np.concatenate([self.shared_ids, np.sort(own)]).astype(np.int64)

    @cached_property
    def calibration_ids(self) -> np.ndarray:
        """Pool sample over which voxels' signal sd (hence ncsnr) is defined."""
        rng = np.random.default_rng([self.config.seed, _CALIBRATION])
        n = min(self.n_stimuli, _N_CALIBRATION)
        return np.sort(rng.choice(self.n_stimuli, size=n, replace=False))

    @cached_property
    def _calibration(self) -> dict[str, np.ndarray]:
        return truth_features(self.stimuli.images(self.calibration_ids))

    def brain(self, label: str) -> SimulatedBrain:
        """The simulated brain of any subject label (built once, then cached)."""
        if label not in self._brains:
            self._brains[label] = SimulatedBrain(
                self.config, label, self.stimuli, self._calibration
            )
        return self._brains[label]


def make_world(config: Any = None) -> Any:
    """Build the synthetic world of ``config`` (default :meth:`WorldConfig.tiny`).

    Parameters
    ----------
    config : WorldConfig or VideoWorldConfig, optional
        Sizes and seed; equal configs give identical worlds. A
        :class:`~neurodecode.synth.VideoWorldConfig` gives the video world
        (:class:`~neurodecode.synth.VideoWorld`).
    """
    from neurodecode.synth._video_world import VideoWorld, VideoWorldConfig

    if isinstance(config, VideoWorldConfig):
        return VideoWorld(config)
    return World(config if config is not None else WorldConfig.tiny())
