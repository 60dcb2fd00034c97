"""Configuration of the synthetic world: one frozen dataclass, with presets."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["WorldConfig"]


@dataclass(frozen=True)
class WorldConfig:
    """Everything that determines a synthetic world; equal configs give identical worlds.

    Parameters
    ----------
    seed : int
        Master seed. Stimuli, subject image sets and brains are derived from it (and from the
        stimulus id or subject label), never from global random state.
    n_stimuli : int
        Size of the stimulus pool (NSD's 73k analogue); stimulus ids are ``0..n_stimuli-1``.
    n_shared : int
        Images seen by every subject (NSD's shared1000 analogue).
    n_per_subject : int
        Images per subject, shared ones included.
    repeats : int
        Presentations of each image per subject.
    image_size : int
        Side of the square RGB stimuli in pixels.
    grid_shape : tuple of int
        Volume grid ``(X, Y, Z)`` of the simulated brain (1.8 mm voxels).
    subjects : tuple of str
        Subject labels whose image sets are drawn disjointly (beyond the shared images).
    ncsnr_median, ncsnr_sigma : float
        Tuned voxels' ncsnr is log-normal with this median and log-sd (clipped to
        ``[0.05, 3]``; noise voxels have ncsnr 0).
    signal_sd_range : tuple of float
        Range of the tuned voxels' signal sd (PSC over images), drawn log-uniformly.
    noise_sd_range : tuple of float
        Clip range of the per-voxel noise sd (PSC); keeps betas well inside int16/300.
    drift_sd : float
        Sd of the per-session, per-voxel additive drift (PSC).
    baseline_mean, baseline_sd : float
        Per-voxel constant response (PSC) that every image evokes.
    visual_fraction : float
        Posterior fraction of the brain's extent (along Y) that holds nsdgeneral.
    """

    seed: int = 0
    n_stimuli: int = 600
    n_shared: int = 60
    n_per_subject: int = 300
    repeats: int = 3
    image_size: int = 64
    grid_shape: tuple[int, int, int] = (20, 24, 20)
    subjects: tuple[str, ...] = ("subj01", "subj02")
    ncsnr_median: float = 0.6
    ncsnr_sigma: float = 0.5
    signal_sd_range: tuple[float, float] = (0.5, 3.0)
    noise_sd_range: tuple[float, float] = (0.5, 8.0)
    drift_sd: float = 0.5
    baseline_mean: float = 1.0
    baseline_sd: float = 0.5
    visual_fraction: float = 0.3

    def __post_init__(self) -> None:
        if self.n_shared > self.n_per_subject:
            raise ValueError(
                f"n_shared ({self.n_shared}) exceeds n_per_subject ({self.n_per_subject})"
            )
        needed = self.n_shared + len(self.subjects) * (self.n_per_subject - self.n_shared)
        if needed > self.n_stimuli:
            raise ValueError(
                f"n_stimuli={self.n_stimuli} is too small for {len(self.subjects)} subjects with "
                f"{self.n_per_subject} images each ({self.n_shared} shared): need {needed}"
            )
        if self.repeats < 1 or self.image_size < 16:
            raise ValueError("repeats must be >= 1 and image_size >= 16")
        if len(self.grid_shape) != 3 or min(self.grid_shape) < 8:
            raise ValueError(f"grid_shape must be 3 sizes >= 8, got {self.grid_shape}")
        if not self.subjects or len(set(self.subjects)) != len(self.subjects):
            raise ValueError(f"subjects must be unique and non-empty, got {self.subjects}")

    @classmethod
    def tiny(cls, seed: int = 0) -> WorldConfig:
        """Unit-test world: 600 images, 300 per subject (60 shared), 900 trials, 20x24x20 grid."""
        return cls(seed=seed)

    @classmethod
    def demo(cls, seed: int = 0) -> WorldConfig:
        """Demo world: 4800 images, 2300 per subject (300 shared), 6900 trials, 36x44x36 grid.

        300 shared (test) images make NSD's 300-way retrieval protocol defined on it; 2000
        training images per subject (6000 trials) are what the contrastive encoder needs to
        pass 50% top-1 there (its learning curve on this world: 30% with 500, 43% with 1000).
        """
        return cls(
            seed=seed,
            n_stimuli=4800,
            n_shared=300,
            n_per_subject=2300,
            grid_shape=(36, 44, 36),
        )
