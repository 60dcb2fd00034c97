"""The image-reconstruction metric suite: one fixed definition each, per image, then n and a CI.

Every function takes reconstructions and their ground truths in the same order (row ``i`` of
one is the reconstruction of row ``i`` of the other) and returns one value per image;
:func:`summarise` turns those into an :class:`~neurodecode.metrics.Estimate` (mean with a
percentile-bootstrap CI over images). Feature-space metrics take feature matrices: the networks
that embed images (AlexNet, Inception, CLIP, EfficientNet, SwAV, the toy CLIP) run a layer up,
in :mod:`neurodecode.decoders`, and a metric card records which layer of which weights.

Definitions
-----------
PixCorr
    Pearson r between the flattened RGB pixels (float, 0..1) of a reconstruction and its
    ground truth, both resized to ``size x size`` first (anti-aliased bilinear,
    :func:`skimage.transform.resize`) when they differ from it.
SSIM
    :func:`skimage.metrics.structural_similarity` on the grayscale images
    (:func:`skimage.color.rgb2gray`, ITU-R 601 luma, range 0..1) at ``size x size``: Gaussian
    weights with sigma 1.5, population covariances, ``data_range=1``.
2-way identification
    For image ``i``, the share of the other images ``j`` for which the reconstruction's
    feature correlation (Pearson) with its own ground truth beats its correlation with
    ``j``'s ground truth; chance is 0.5. Averaged over images it is the mean over all ordered
    pairs.
Correlation distance
    ``1 - r`` between a reconstruction's features and its ground truth's (0 is identical).
"""

from __future__ import annotations

import numpy as np

from neurodecode.metrics._stats import Estimate, bootstrap_mean

__all__ = [
    "correlation_distance",
    "pixcorr",
    "ssim",
    "summarise",
    "two_way_identification",
]


def _check_pair(recon: np.ndarray, truth: np.ndarray, what: str) -> None:
    if recon.shape[0] != truth.shape[0]:
        raise ValueError(
            f"{what}: {recon.shape[0]} reconstructions but {truth.shape[0]} ground truths"
        )
    if recon.shape[0] == 0:
        raise ValueError(f"{what}: no images")


def _unit_images(images: np.ndarray, size: int | None) -> np.ndarray:
    """uint8 or float images ``(n, H, W, 3)`` -> float64 in [0, 1] at ``size x size``."""
    x = np.asarray(images)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"images must be (n, H, W, 3), got shape {x.shape}")
    x = x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)
    if size is not None and x.shape[1:3] != (size, size):
        from skimage.transform import resize

        x = np.stack([resize(im, (size, size), order=1, anti_aliasing=True) for im in x])
    return x


def pixcorr(recon: np.ndarray, truth: np.ndarray, size: int | None = None) -> np.ndarray:
    """Per-image Pearson r of the flattened pixels (see the module docstring).

    Parameters
    ----------
    recon, truth : array ``(n, H, W, 3)``
        uint8 (0..255) or float (0..1) images.
    size : int, optional
        Common side both are resized to (``None``: keep; the shapes must then agree).

    Returns
    -------
    ndarray ``(n,)``
        NaN where an image is constant.
    """
    _check_pair(recon, truth, "pixcorr")
    a = _unit_images(recon, size).reshape(len(recon), -1)
    b = _unit_images(truth, size).reshape(len(truth), -1)
    if a.shape != b.shape:
        raise ValueError(f"pixcorr: image shapes differ ({a.shape} vs {b.shape}); give size=")
    return _row_corr(a, b)


def ssim(recon: np.ndarray, truth: np.ndarray, size: int | None = None) -> np.ndarray:
    """Per-image grayscale SSIM (scikit-image, Gaussian sigma 1.5; see the module docstring)."""
    from skimage.color import rgb2gray
    from skimage.metrics import structural_similarity

    _check_pair(recon, truth, "ssim")
    a = rgb2gray(_unit_images(recon, size))
    b = rgb2gray(_unit_images(truth, size))
    if a.shape != b.shape:
        raise ValueError(f"ssim: image shapes differ ({a.shape} vs {b.shape}); give size=")
    return np.array(
        [
            structural_similarity(
                x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0
            )
            for x, y in zip(a, b, strict=True)
        ]
    )


def _standardise_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    x = x - x.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return x / norm


def _row_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(_standardise_rows(a) * _standardise_rows(b), axis=1)


def two_way_identification(recon_features: np.ndarray, truth_features: np.ndarray) -> np.ndarray:
    """Per-image 2-way identification accuracy in a feature space (see the module docstring).

    Parameters
    ----------
    recon_features, truth_features : array ``(n, d)``
        Features of the reconstructions and of their ground truths (any trailing shape is
        flattened), ``n >= 2``.

    Returns
    -------
    ndarray ``(n,)``
        For each reconstruction, the share of the ``n - 1`` other ground truths it correlates
        with less than with its own (ties count half).
    """
    _check_pair(recon_features, truth_features, "two_way_identification")
    n = len(recon_features)
    if n < 2:
        raise ValueError("two_way_identification: needs at least 2 images")
    corr = _standardise_rows(recon_features) @ _standardise_rows(truth_features).T
    own = np.diag(corr)[:, None]
    wins = (corr < own).astype(np.float64) + 0.5 * (corr == own)
    np.fill_diagonal(wins, 0.0)
    return wins.sum(axis=1) / (n - 1)


def correlation_distance(recon_features: np.ndarray, truth_features: np.ndarray) -> np.ndarray:
    """Per-image ``1 - r`` between reconstruction and ground-truth features."""
    _check_pair(recon_features, truth_features, "correlation_distance")
    return 1.0 - _row_corr(recon_features, truth_features)


def summarise(
    values: np.ndarray, *, n_bootstrap: int = 1000, level: float = 0.95, seed: int = 0
) -> Estimate:
    """Mean of per-image values with n and a percentile-bootstrap CI over images."""
    return bootstrap_mean(values, n_bootstrap=n_bootstrap, level=level, seed=seed)
