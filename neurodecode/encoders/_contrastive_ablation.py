"""ROI ablation of a contrastive encoder: retrieval with each ROI's voxels removed.

Two readings of "removed" are offered, because they answer different questions:

* **lesion** (default): the fitted model is kept and the ROI's voxels are replaced by their
  training mean (zero after the model's own standardisation). The drop measures how much this
  model *relies* on the ROI.
* **retrain** (when training data are given): a clone of the encoder is trained without the
  ROI's voxels. The drop measures the information *only* that ROI carries; redundant ROIs show
  little drop even when the lesioned model depended on them.

Every variant is evaluated on the same random candidate draws (same ``seed``), so the drops are
paired comparisons.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import sklearn.base

from neurodecode.encoders._contrastive import ContrastiveEncoder

__all__ = ["roi_ablation"]


def roi_ablation(
    encoder: ContrastiveEncoder,
    X: Any,
    y: Any,
    rois: Mapping[str, Any],
    *,
    X_train: Any | None = None,
    y_train: Any | None = None,
    n_way: int = 300,
    n_draws: int = 30,
    seed: int | None = 0,
) -> list[dict[str, Any]]:
    """Top-1 retrieval with each ROI's voxels removed, per ROI.

    Parameters
    ----------
    encoder : ContrastiveEncoder
        A fitted encoder.
    X : ndarray of shape (n_samples, n_voxels)
        Test voxels.
    y : ndarray of shape (n_samples, clip_dim)
        Test CLIP image embeddings.
    rois : mapping of str to ndarray of bool of shape (n_voxels,)
        ROI name -> voxel mask over the columns of ``X``.
    X_train, y_train : ndarray, optional
        If given, each ROI is removed by retraining a clone of ``encoder`` on the other voxels;
        otherwise the ROI is lesioned in the fitted model.
    n_way, n_draws, seed
        Retrieval protocol (see :func:`neurodecode.metrics.retrieval_accuracy`).

    Returns
    -------
    list of dict
        First the intact model (``roi="none"``), then one row per ROI: ``roi``, ``n_voxels``,
        ``mode``, ``image_given_brain``, ``brain_given_image`` (top-1 fractions) and their
        drops relative to the intact model (positive = worse without the ROI).
    """
    encoder._check_fitted()
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    if (X_train is None) != (y_train is None):
        raise ValueError("give both X_train and y_train, or neither")
    mode = "lesion" if X_train is None else "retrain"
    masks = {}
    for name, mask in rois.items():
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (X.shape[1],):
            raise ValueError(f"ROI {name!r}: mask shape {mask.shape} != ({X.shape[1]},)")
        if not mask.any():
            raise ValueError(f"ROI {name!r} has no voxels")
        masks[name] = mask

    def evaluate(model: ContrastiveEncoder, X_eval: np.ndarray) -> tuple[float, float]:
        res = model.retrieval(X_eval, y, n_way=n_way, n_draws=n_draws, seed=seed)
        return res.image_given_brain, res.brain_given_image

    base_ib, base_bi = evaluate(encoder, X)
    rows = [_row("none", 0, mode, base_ib, base_bi, base_ib, base_bi)]
    train_mean = encoder.network_.adapters["subject"][0].mean.detach().cpu().numpy()
    for name, mask in masks.items():
        if mode == "lesion":
            X_abl = X.copy()
            X_abl[:, mask] = train_mean[mask]
            ib, bi = evaluate(encoder, X_abl)
        else:
            keep = ~mask
            clone = sklearn.base.clone(encoder)
            clone.fit(np.asarray(X_train)[:, keep], y_train)
            ib, bi = evaluate(clone, X[:, keep])
        rows.append(_row(name, int(mask.sum()), mode, ib, bi, base_ib, base_bi))
    return rows


def _row(
    roi: str, n: int, mode: str, ib: float, bi: float, base_ib: float, base_bi: float
) -> dict[str, Any]:
    return {
        "roi": roi,
        "n_voxels": n,
        "mode": mode,
        "image_given_brain": ib,
        "brain_given_image": bi,
        "drop_image_given_brain": base_ib - ib,
        "drop_brain_given_image": base_bi - bi,
    }
