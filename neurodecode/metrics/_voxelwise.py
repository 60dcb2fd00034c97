"""Voxelwise encoding scores with one fixed definition each.

All functions take ``(n_samples, n_voxels)`` arrays of measured and predicted responses and
return one value per voxel. Voxels with zero variance score NaN rather than an arbitrary
number, so they can be counted and excluded explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from neurodecode.metrics._stats import Estimate, bootstrap_mean

__all__ = [
    "noise_normalized_score",
    "pearson_r_voxels",
    "r2_score_voxels",
    "roi_summary",
    "two_vs_two",
    "two_vs_two_accuracy",
    "two_vs_two_matrix",
]


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.ndim == 1:
        y_true, y_pred = y_true[:, None], y_pred.reshape(-1, 1)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"measured {y_true.shape} and predicted {y_pred.shape} differ in shape")
    return y_true, y_pred


def pearson_r_voxels(y_true, y_pred) -> np.ndarray:
    """Pearson correlation over samples, per voxel; NaN where either side is constant."""
    y_true, y_pred = _pair(y_true, y_pred)
    a = y_true - y_true.mean(axis=0)
    b = y_pred - y_pred.mean(axis=0)
    denom = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * b).sum(axis=0) / denom
    r[denom == 0] = np.nan
    return r


def r2_score_voxels(y_true, y_pred) -> np.ndarray:
    """Coefficient of determination ``1 - SSE / SST`` per voxel (can be negative)."""
    y_true, y_pred = _pair(y_true, y_pred)
    sse = ((y_true - y_pred) ** 2).sum(axis=0)
    sst = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1.0 - sse / sst
    r2[sst == 0] = np.nan
    return r2


def noise_normalized_score(r: np.ndarray, noise_ceiling: np.ndarray) -> np.ndarray:
    """The Algonauts 2023 noise-normalised score per voxel, in percent of the ceiling.

    ``100 * max(r, 0)^2 / (NC / 100)``, capped at 100, where ``NC`` is the noise ceiling in
    percent of explainable variance (e.g. ``100 ncsnr^2 / (ncsnr^2 + 1/n)`` for NSD). Voxels
    with a ceiling of zero or NaN score NaN.
    """
    r = np.asarray(r, dtype=np.float64)
    nc = np.asarray(noise_ceiling, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        # 1e4 r^2 / NC: the same as 100 r^2 / (NC / 100) without NC / 100 underflowing
        score = np.where(r > 0, 1e4 * np.clip(r, 0.0, None) ** 2 / nc, 0.0)
    score = np.minimum(score, 100.0)
    score[~(nc > 0) | np.isnan(r)] = np.nan
    return score


def two_vs_two_matrix(y_true, y_pred) -> np.ndarray:
    """Outcome of every 2 vs 2 test: ``(n, n)`` with 1 (correct), 0.5 (tie) or 0 (wrong).

    For samples i and j the prediction is correct when matching each predicted pattern to its
    own measured pattern gives a higher summed Pearson correlation (over voxels) than the
    swapped assignment: ``r(p_i, y_i) + r(p_j, y_j) > r(p_i, y_j) + r(p_j, y_i)``. The matrix
    is symmetric; its diagonal is 0.5.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    if y_true.shape[0] < 2:
        raise ValueError("2 vs 2 accuracy needs at least two samples")
    corr = _zscore_rows(y_pred) @ _zscore_rows(y_true).T / y_true.shape[1]  # r(pred_i, true_j)
    d = np.diag(corr)
    matched = d[:, None] + d[None, :]
    swapped = corr + corr.T
    return (matched > swapped) + 0.5 * (matched == swapped)


def two_vs_two_accuracy(y_true, y_pred, *, max_pairs: int | None = None, seed: int = 0) -> float:
    """2 vs 2 accuracy of predicted response patterns (over voxels), in [0, 1].

    The mean of :func:`two_vs_two_matrix` over all pairs i < j (ties count one half), or over a
    seeded random subset of ``max_pairs`` pairs. Chance is 0.5.
    """
    outcome = two_vs_two_matrix(y_true, y_pred)
    i, j = np.triu_indices(outcome.shape[0], k=1)
    if max_pairs is not None and i.size > max_pairs:
        keep = np.random.default_rng(seed).choice(i.size, size=max_pairs, replace=False)
        i, j = i[keep], j[keep]
    return float(np.mean(outcome[i, j]))


def two_vs_two(
    y_true, y_pred, *, n_bootstrap: int = 1000, level: float = 0.95, seed: int = 0
) -> Estimate:
    """2 vs 2 accuracy with ``n`` (test samples) and a bootstrap CI over samples.

    Each resample draws the samples with replacement and averages the outcomes of its pairs of
    distinct samples; the interval is the percentile interval of those means.
    """
    outcome = two_vs_two_matrix(y_true, y_pred)
    n = outcome.shape[0]
    i, j = np.triu_indices(n, k=1)
    value = float(np.mean(outcome[i, j]))
    # A resample with multiplicities c averages O over its pairs of distinct samples:
    # (c'Oc - sum_k c_k^2 O_kk) / (n^2 - sum_k c_k^2), for every resample at once.
    rng = np.random.default_rng(seed)
    counts = np.zeros((n_bootstrap, n))
    draws = rng.integers(0, n, size=(n_bootstrap, n))
    np.add.at(counts, (np.arange(n_bootstrap)[:, None], draws), 1.0)
    sq = (counts**2).sum(axis=1)
    pairs = ((counts @ outcome) * counts).sum(axis=1) - sq * 0.5
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = pairs / (n * n - sq)
    boot = boot[np.isfinite(boot)]
    tail = (1.0 - level) / 2.0
    return Estimate(
        value, float(np.quantile(boot, tail)), float(np.quantile(boot, 1 - tail)), n, level
    )


def _zscore_rows(a: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=1, keepdims=True)
    sd = a.std(axis=1, keepdims=True)
    sd[sd == 0] = 1.0
    return a / sd


def roi_summary(
    scores: np.ndarray,
    rois: Mapping[str, np.ndarray],
    *,
    n_bootstrap: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Estimate]:
    """Mean score per ROI with ``n`` (voxels scored) and a voxel-bootstrap CI.

    ``rois`` maps a name to a boolean mask over the voxel axis of ``scores``; NaN scores are
    left out and not counted.
    """
    scores = np.asarray(scores, dtype=np.float64)
    out: dict[str, Estimate] = {}
    for name, mask in rois.items():
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != scores.shape:
            raise ValueError(f"ROI {name!r} mask has shape {mask.shape}, scores {scores.shape}")
        out[name] = bootstrap_mean(scores[mask], n_bootstrap=n_bootstrap, level=level, seed=seed)
    return out
