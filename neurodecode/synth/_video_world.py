"""The video world: motion clips and the brains that watch them (BOLD Moments' design).

Every subject sees the same clips, as in the BOLD Moments Dataset: ``n_train`` training clips
``train_repeats`` times and ``n_test`` test clips ``test_repeats`` times. Clip ids are the
release's video numbers minus one: training clips ``0..n_train-1`` (videos 0001...), test clips
from ``1000`` on (videos 1001...), so the release's own rule (test videos are numbered above
1000) holds; the clips in between exist and no subject sees them (held-out clips).

The brains are :class:`VideoBrain`: the image world's populations (driven by the clips' frames,
averaged over the clip) plus MT (driven by the clip's exact motion), on one template grid
shared by every subject (the release's data are in MNI space). The image world
(:class:`~neurodecode.synth.WorldConfig`) is not touched by any of this.
"""

from __future__ import annotations

import dataclasses
from functools import cached_property
from typing import Any

import numpy as np

from neurodecode.data import _bold_moments_layout as bmd
from neurodecode.synth._brain import SimulatedBrain
from neurodecode.synth._clips import ClipBatch, ClipSet
from neurodecode.synth._motion_truth import VIDEO_TRUTH_SPACES, video_truth_features
from neurodecode.synth._video_populations import VIDEO_FAMILIES

__all__ = ["VideoBrain", "VideoWorld", "VideoWorldConfig"]

_CALIBRATION = 33
_N_CALIBRATION = 256


@dataclasses.dataclass(frozen=True)
class VideoWorldConfig:
    """Everything that determines a video world; equal configs give identical worlds.

    Parameters
    ----------
    seed : int
        Master seed.
    n_train, n_test : int
        Training and test clips (every subject sees all of them).
    train_repeats, test_repeats : int
        Showings of each training and test clip per subject (BOLD Moments: 3 and 10).
    n_sessions : int
        Sessions the showings are spread over (BOLD Moments: 4 main-experiment sessions).
    n_frames : int
        Frames per clip.
    image_size : int
        Side of the frames in pixels.
    pan_fraction : float
        Share of the clips over a checker or noise texture with camera motion.
    grid_shape : tuple of int
        Template grid ``(X, Y, Z)`` of every subject's brain.
    subjects : tuple of str
        Subject labels (BIDS labels: ``"01"`` is ``sub-01``).
    ncsnr_median, ncsnr_sigma, signal_sd_range, noise_sd_range, drift_sd, baseline_mean,
    baseline_sd, visual_fraction
        As in :class:`~neurodecode.synth.WorldConfig`.
    """

    seed: int = 0
    n_train: int = 120
    n_test: int = 20
    train_repeats: int = 3
    test_repeats: int = 10
    n_sessions: int = 4
    n_frames: int = 8
    image_size: int = 64
    pan_fraction: float = 0.5
    grid_shape: tuple[int, int, int] = (20, 24, 20)
    subjects: tuple[str, ...] = ("01",)
    ncsnr_median: float = 0.6
    ncsnr_sigma: float = 0.5
    signal_sd_range: tuple[float, float] = (0.5, 3.0)
    noise_sd_range: tuple[float, float] = (0.5, 8.0)
    drift_sd: float = 0.5
    baseline_mean: float = 1.0
    baseline_sd: float = 0.5
    visual_fraction: float = 0.4

    def __post_init__(self) -> None:
        if self.n_train < 1 or self.n_test < 1:
            raise ValueError("a video world needs training and test clips")
        if self.n_train > bmd.N_TRAIN_VIDEOS:
            raise ValueError(
                f"n_train={self.n_train}: the release numbers its test videos from "
                f"{bmd.N_TRAIN_VIDEOS + 1}, so at most {bmd.N_TRAIN_VIDEOS} training clips"
            )
        if min(self.train_repeats, self.test_repeats, self.n_sessions) < 1:
            raise ValueError("repeats and sessions must be >= 1")
        if self.n_frames < 2 or self.image_size < 16:
            raise ValueError("clips need >= 2 frames of >= 16 pixels")
        if not 0.0 <= self.pan_fraction <= 1.0:
            raise ValueError(f"pan_fraction must lie in [0, 1], got {self.pan_fraction}")
        if len(self.grid_shape) != 3 or min(self.grid_shape) < 8:
            raise ValueError(f"grid_shape must be 3 sizes >= 8, got {self.grid_shape}")
        if not self.subjects or len(set(self.subjects)) != len(self.subjects):
            raise ValueError(f"subjects must be unique and non-empty, got {self.subjects}")

    @property
    def n_stimuli(self) -> int:
        """Size of the clip pool: ids ``0..n_stimuli-1`` (the test clips are the last)."""
        return bmd.N_TRAIN_VIDEOS + self.n_test

    @classmethod
    def tiny(cls, seed: int = 0) -> VideoWorldConfig:
        """Unit-test world: 120 training clips x 3 and 20 test clips x 10 (560 trials)."""
        return cls(seed=seed)

    @classmethod
    def demo(cls, seed: int = 0) -> VideoWorldConfig:
        """Demo world: 600 training clips x 3 and 50 test clips x 10 (2300 trials)."""
        return cls(seed=seed, n_train=600, n_test=50, grid_shape=(28, 32, 28))


class VideoBrain(SimulatedBrain):
    """A brain of the video world: :class:`SimulatedBrain` over clips.

    Its responses are linear in :data:`VIDEO_TRUTH_SPACES` of a clip (the image spaces of its
    frames, averaged, and its motion energy); :meth:`true_response` takes a
    :class:`~neurodecode.synth._clips.ClipBatch` (frames and exact flow).
    """

    families = VIDEO_FAMILIES
    spaces = VIDEO_TRUTH_SPACES

    def _geometry_key(self) -> int:
        # one template volume for every subject: the release's betas are in MNI space
        return 0

    def stimulus_features(self, batch: Any) -> dict[str, np.ndarray]:
        if not isinstance(batch, ClipBatch):
            raise TypeError(f"a video brain responds to a ClipBatch, got {type(batch).__name__}")
        return video_truth_features(batch.frames, batch.flow)

    def true_response_ids(self, stim_ids: np.ndarray) -> np.ndarray:
        clips: Any = self.stimuli  # a ClipSet
        return self.response_to_features(clips.truth_features(np.asarray(stim_ids)))


class VideoWorld:
    """A deterministic video world; build it with :func:`neurodecode.synth.make_world`.

    Parameters
    ----------
    config : VideoWorldConfig
    """

    def __init__(self, config: VideoWorldConfig) -> None:
        self.config = config
        self.stimuli = ClipSet(
            config.n_stimuli, config.seed, config.image_size, config.n_frames,
            config.pan_fraction,
        )  # fmt: skip
        self.train_ids: np.ndarray = np.arange(config.n_train, dtype=np.int64)
        first = bmd.N_TRAIN_VIDEOS
        self.test_ids: np.ndarray = np.arange(first, first + config.n_test, dtype=np.int64)
        #: The clips every subject sees in the test split.
        self.shared_ids = self.test_ids
        self._brains: dict[str, VideoBrain] = {}

    @property
    def n_stimuli(self) -> int:
        return self.config.n_stimuli

    @property
    def subjects(self) -> tuple[str, ...]:
        return self.config.subjects

    def subject_ids(self, label: str) -> np.ndarray:
        """The clips every subject sees: training clips, then test clips."""
        return np.concatenate([self.train_ids, self.test_ids])

    @cached_property
    def calibration_ids(self) -> np.ndarray:
        """Clips over which voxels' signal sd (hence ncsnr) is defined."""
        rng = np.random.default_rng([self.config.seed, _CALIBRATION])
        shown = self.subject_ids("")
        n = min(shown.size, _N_CALIBRATION)
        return np.sort(rng.choice(shown, size=n, replace=False))

    @cached_property
    def _calibration(self) -> dict[str, np.ndarray]:
        return self.stimuli.truth_features(self.calibration_ids)

    def brain(self, label: str) -> VideoBrain:
        """The brain of any subject label (built once, then cached)."""
        if label not in self._brains:
            self._brains[label] = VideoBrain(self.config, label, self.stimuli, self._calibration)  # type: ignore[arg-type]
        return self._brains[label]
