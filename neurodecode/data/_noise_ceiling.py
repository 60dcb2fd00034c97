"""Noise ceilings: from a release's ncsnr map, or estimated from repeated presentations.

NSD (DATA_FORMATS A9): NC = 100 * ncsnr^2 / (ncsnr^2 + 1/n) in % variance explainable for
responses averaged over n trials. When images have unequal repeat counts, 1/n becomes
(A/3 + B/2 + C/1) / (A + B + C) with A, B, C the numbers of images shown 3, 2, 1 times; that is
the mean of 1/count over images, which is what :func:`inverse_repeats` computes for any counts
(BOLD5000's test images have 4 and 3).
"""

from __future__ import annotations

import numpy as np

__all__ = ["inverse_repeats", "ncsnr_from_repeats", "noise_ceiling_from_ncsnr"]


def inverse_repeats(counts: np.ndarray) -> float:
    """Mean of 1/count over images: (A/3 + B/2 + C/1) / (A + B + C) for counts in {1, 2, 3}."""
    counts = np.asarray(counts)
    if counts.size == 0 or np.any(counts < 1):
        raise ValueError(f"repeat counts must be >= 1 and non-empty, got {counts!r}")
    return float(np.mean(1.0 / counts))


def noise_ceiling_from_ncsnr(ncsnr: np.ndarray, inv_n: float) -> np.ndarray:
    """NC = 100 * ncsnr^2 / (ncsnr^2 + inv_n), float32; NaN ncsnr stays NaN.

    Parameters
    ----------
    ncsnr : ndarray
        Noise-ceiling SNR per voxel.
    inv_n : float
        ``1/n`` for averages of ``n`` trials, or :func:`inverse_repeats` of the counts.
    """
    s2 = np.asarray(ncsnr, dtype=np.float64) ** 2
    return (100.0 * s2 / (s2 + inv_n)).astype(np.float32)


def ncsnr_from_repeats(responses: np.ndarray, stim_ids: np.ndarray) -> np.ndarray:
    """Estimate ncsnr per column from repeated trials of responses z-scored per session.

    The NSD definition: the noise variance is the mean over images of the across-repeat
    variance (ddof=1); the signal variance is ``max(0, 1 - noise variance)`` (unit total
    variance after z-scoring); ncsnr = signal sd / noise sd. Only images with >= 2 trials
    count. A column whose noise variance is 0 gets NaN.

    Parameters
    ----------
    responses : ndarray, shape (n_trials, n_voxels)
        Z-scored single-trial responses (any float dtype).
    stim_ids : ndarray of int, shape (n_trials,)
        Stimulus of each row.
    """
    stim_ids = np.asarray(stim_ids)
    _, inverse, counts = np.unique(stim_ids, return_inverse=True, return_counts=True)
    keep = counts[inverse] >= 2
    if not keep.any():
        raise ValueError("no stimulus has two or more trials: ncsnr cannot be estimated")
    x = np.asarray(responses[keep], dtype=np.float64)
    inv = np.unique(inverse[keep], return_inverse=True)[1]
    n_img = int(inv.max()) + 1
    cnt = np.bincount(inv, minlength=n_img).astype(np.float64)[:, None]
    sums = np.zeros((n_img, x.shape[1]))
    np.add.at(sums, inv, x)
    means = sums / cnt
    sq = np.zeros_like(sums)
    np.add.at(sq, inv, (x - means[inv]) ** 2)
    noise_var = np.mean(sq / (cnt - 1.0), axis=0)
    signal_var = np.maximum(0.0, 1.0 - noise_var)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.sqrt(signal_var) / np.sqrt(noise_var)
    out[~(noise_var > 0)] = np.nan
    return out.astype(np.float32)
