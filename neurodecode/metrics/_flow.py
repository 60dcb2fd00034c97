"""Optical-flow metrics: end-point error, angular error and direction accuracy, per clip.

Flows are arrays ``(n, ..., 2)`` (a clip's frames and grid in the middle axes; vectors
``(dx, dy)``). Every metric is first computed per clip (mean over its pixels, or over the pixels
of an optional boolean ``mask`` of shape ``(n, ...)``), then summarised over clips by
:func:`flow_metrics` with n and a bootstrap confidence interval over clips.

* **End-point error** (EPE): the Euclidean distance between the predicted and true vectors.
* **Angular error** (Barron et al. 1994): the angle between the space-time vectors
  ``(dx, dy, 1)``, in degrees; defined everywhere, including at rest.
* **Direction accuracy**: the share of pixels moving at least ``min_speed`` (true flow) whose
  predicted direction falls in the same of ``n_bins`` equal sectors (8 by default: chance 1/8).
"""

from __future__ import annotations

import numpy as np

from neurodecode.metrics._stats import Estimate, bootstrap_mean

__all__ = [
    "angular_error",
    "direction_accuracy",
    "direction_bins",
    "end_point_error",
    "flow_metrics",
]


def _pair(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    if pred.shape != true.shape or pred.ndim < 2 or pred.shape[-1] != 2:
        raise ValueError(f"flows must share a shape (n, ..., 2): {pred.shape} vs {true.shape}")
    return pred, true


def _per_clip(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Mean of ``values`` (n, ...) over each clip's (masked) pixels; NaN where none."""
    n = values.shape[0]
    flat = values.reshape(n, -1)
    if mask is None:
        return flat.mean(axis=1)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != values.shape:
        raise ValueError(f"mask shape {mask.shape} does not match the flows' {values.shape}")
    m = mask.reshape(n, -1)
    counts = m.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, (flat * m).sum(axis=1) / counts, np.nan)


def end_point_error(
    pred: np.ndarray, true: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """Mean end-point error of each clip ``(n,)`` (units of the flows)."""
    pred, true = _pair(pred, true)
    return _per_clip(np.linalg.norm(pred - true, axis=-1), mask)


def angular_error(pred: np.ndarray, true: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Mean angular error of each clip ``(n,)``, degrees, between ``(dx, dy, 1)`` vectors."""
    pred, true = _pair(pred, true)
    dot = 1.0 + (pred * true).sum(axis=-1)
    norms = np.sqrt(1.0 + (pred**2).sum(axis=-1)) * np.sqrt(1.0 + (true**2).sum(axis=-1))
    return _per_clip(np.degrees(np.arccos(np.clip(dot / norms, -1.0, 1.0))), mask)


def direction_bins(flow: np.ndarray, n_bins: int = 8) -> np.ndarray:
    """Sector ``0..n_bins-1`` of each vector's direction; sector 0 is centred on +x."""
    flow = np.asarray(flow, dtype=np.float64)
    angle = np.mod(np.arctan2(flow[..., 1], flow[..., 0]) + np.pi / n_bins, 2 * np.pi)
    return np.minimum((angle / (2 * np.pi / n_bins)).astype(np.int64), n_bins - 1)


def direction_accuracy(
    pred: np.ndarray,
    true: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    n_bins: int = 8,
    min_speed: float = 0.5,
) -> np.ndarray:
    """Per clip ``(n,)``: share of pixels with true speed >= ``min_speed`` (and in ``mask``)
    whose predicted direction sector is the true one; NaN for a clip without such pixels."""
    pred, true = _pair(pred, true)
    moving = np.linalg.norm(true, axis=-1) >= min_speed
    if mask is not None:
        moving &= np.asarray(mask, dtype=bool)
    hit = (direction_bins(pred, n_bins) == direction_bins(true, n_bins)).astype(np.float64)
    return _per_clip(hit, moving)


def flow_metrics(
    pred: np.ndarray,
    true: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    n_bins: int = 8,
    min_speed: float = 0.5,
    n_bootstrap: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Estimate]:
    """Every flow metric, each the mean over clips with its bootstrap CI over clips.

    Returns
    -------
    dict of str to Estimate
        ``epe`` (whole frame), ``angular_error``, ``direction_accuracy`` (chance
        ``1 / n_bins``), and with ``mask``: ``epe_masked`` and ``direction_accuracy_masked``
        (the pixels of ``mask``, e.g. the moving object's).
    """
    per_clip = {
        "epe": end_point_error(pred, true),
        "angular_error": angular_error(pred, true),
        "direction_accuracy": direction_accuracy(pred, true, n_bins=n_bins, min_speed=min_speed),
    }
    if mask is not None:
        per_clip["epe_masked"] = end_point_error(pred, true, mask)
        per_clip["direction_accuracy_masked"] = direction_accuracy(
            pred, true, mask, n_bins=n_bins, min_speed=min_speed
        )
    return {
        name: bootstrap_mean(values, n_bootstrap=n_bootstrap, level=level, seed=seed)
        for name, values in per_clip.items()
    }
