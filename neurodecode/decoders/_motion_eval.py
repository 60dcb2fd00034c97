"""Scoring decoded flow: the decoders against the no-brain baselines, with n and CIs.

Baselines (Yeung et al.'s comparison): the **mean training flow** (the same field for every
test clip: what a decoder that ignores the brain at best predicts in squared error) and
**other clips' flow** (each test clip given the true flow of another test clip, averaged over
``n_draws`` random derangements: a decoder whose output is a real flow, but not this clip's).
The **codebook limit** rebuilds each patch from its nearest codebook centre (oracle labels): it
bounds what a classifier over that codebook can reach.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["derangements", "other_clip_metrics", "score_flows"]


def derangements(n: int, n_draws: int, seed: int) -> np.ndarray:
    """``(n_draws, n)`` random permutations of ``0..n-1`` without fixed points (n >= 2)."""
    if n < 2:
        raise ValueError("the other-clips baseline needs at least two test clips")
    rng = np.random.default_rng(seed)
    out = np.empty((n_draws, n), dtype=np.int64)
    for d in range(n_draws):
        while True:
            p = rng.permutation(n)
            if not np.any(p == np.arange(n)):
                out[d] = p
                break
    return out


def _estimates(values: dict[str, np.ndarray], n_bootstrap: int, seed: int) -> dict[str, Any]:
    from neurodecode.metrics import bootstrap_mean

    return {k: bootstrap_mean(v, n_bootstrap=n_bootstrap, seed=seed).as_dict()
            for k, v in values.items()}  # fmt: skip


def _per_clip(pred: np.ndarray, true: np.ndarray, mask: np.ndarray | None) -> dict[str, np.ndarray]:
    from neurodecode.metrics import angular_error, direction_accuracy, end_point_error

    out = {
        "epe": end_point_error(pred, true),
        "angular_error": angular_error(pred, true),
        "direction_accuracy": direction_accuracy(pred, true),
    }
    if mask is not None:
        out["epe_object"] = end_point_error(pred, true, mask)
        out["direction_accuracy_object"] = direction_accuracy(pred, true, mask)
    return out


def other_clip_metrics(true: np.ndarray, mask: np.ndarray | None, n_draws: int,
                       seed: int) -> dict[str, np.ndarray]:  # fmt: skip
    """Per-clip metrics of the other-clips baseline, each averaged over the draws."""
    import warnings

    draws = [_per_clip(true[p], true, mask) for p in derangements(len(true), n_draws, seed)]
    with warnings.catch_warnings():  # a clip without moving object pixels stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return {k: np.nanmean(np.stack([d[k] for d in draws]), axis=0) for k in draws[0]}


def score_flows(
    decoded: dict[str, np.ndarray],
    true: np.ndarray,
    *,
    train_mean: np.ndarray,
    mask: np.ndarray | None = None,
    codebook: Any = None,
    n_draws: int = 20,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Metrics of every decoder and baseline against ``true`` flows ``(n, F, G, G, 2)``.

    Parameters
    ----------
    decoded : dict of str to ndarray
        Decoder name -> its decoded flows, rows as ``true``.
    train_mean : ndarray, shape (F, G, G, 2)
        The mean training flow (the no-brain baseline).
    mask : ndarray of bool, shape (n, F, G, G), optional
        The moving object's patches: adds ``epe_object`` and ``direction_accuracy_object``.
    codebook : FlowCodebook, optional
        Adds the codebook limit (oracle labels of ``true``).

    Returns
    -------
    dict
        ``models``: name -> metric -> estimate (``value``, ``ci_low``, ``ci_high``, ``n``,
        ``level``); ``epe_ratio``: decoder -> its EPE over the mean-flow baseline's;
        ``per_clip_epe``: name -> per-clip EPE list (the report's and notebook's raw data).
    """
    per_clip = {name: _per_clip(pred, true, mask) for name, pred in decoded.items()}
    per_clip["mean_flow"] = _per_clip(np.broadcast_to(train_mean, true.shape), true, mask)
    if len(true) >= 2:
        per_clip["other_clips"] = other_clip_metrics(true, mask, n_draws, seed)
    if codebook is not None:
        per_clip["codebook_limit"] = _per_clip(codebook.reconstruct(codebook.predict(true)),
                                               true, mask)  # fmt: skip
    models = {name: _estimates(v, n_bootstrap, seed) for name, v in per_clip.items()}
    base = models["mean_flow"]["epe"]["value"]
    return {
        "models": models,
        "epe_ratio": {name: models[name]["epe"]["value"] / base for name in decoded},
        "per_clip_epe": {name: v["epe"].tolist() for name, v in per_clip.items()},
    }
