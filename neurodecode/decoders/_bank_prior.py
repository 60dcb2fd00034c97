"""Decoding with a prior of natural images: the posterior mean over an image bank.

A ridge decoder's prediction of a stimulus's features is shrunk and noisy: in most output
directions the brain says little, and a generator fed such a prediction (GIT's text decoder,
a diffusion model) reads a blend of classes that no image has. Bayesian decoding with a
natural-image prior (Naselaris et al., 2009) replaces the prediction by the posterior mean of
the features over a bank of images that the subject never saw:

    p(i | pred) ∝ exp(log p(pred | features_i) / temperature),
    posterior mean = Σ_i p(i | pred) features_i.

The likelihood is the decoder's own noise model, measured out of fold on the training data
(:func:`fit_noise_model`): in each output direction ``k`` of the ridge (its component scores,
:meth:`RidgeDecoder.predict_scores`), ``pred_k = a_k + b_k s_k + e_k`` with Gaussian
``e_k ~ N(0, σ_k²)``. Directions the brain does not predict have ``b_k ≈ 0`` and drop out of
the likelihood on their own, so no direction is hand-picked; ``temperature=1`` is the
posterior itself (larger flattens it towards the bank mean). The bank is read in chunks with
an online log-sum-exp (:class:`OnlineSoftmaxMean`), so its size costs time, not memory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

__all__ = [
    "BankPosterior",
    "DecoderNoiseModel",
    "OnlineSoftmaxMean",
    "fit_noise_model",
    "out_of_fold_scores",
]


class OnlineSoftmaxMean:
    """``Σ_i softmax(logits)_i values_i`` per row, accumulated over chunks of ``i``.

    Keeps a running maximum, normaliser and weighted sum per row (an online log-sum-exp), so
    the result over any number of chunks equals the softmax-weighted mean over their union,
    in the memory of one chunk.

    Parameters
    ----------
    n_rows : int
        Rows (queries) the weights are computed for.
    n_values : int
        Width of the values averaged.
    """

    def __init__(self, n_rows: int, n_values: int) -> None:
        self._max = np.full(n_rows, -np.inf)
        self._norm = np.zeros(n_rows)
        self._norm2 = np.zeros(n_rows)
        self._sum = np.zeros((n_rows, n_values))
        self.n_seen = 0

    def update(self, logits: np.ndarray, values: np.ndarray) -> None:
        """Add a chunk: ``logits`` ``(n_rows, m)`` of ``m`` items, ``values`` ``(m, n_values)``."""
        logits = np.asarray(logits, dtype=np.float64)
        if logits.ndim != 2 or logits.shape[0] != len(self._max):
            raise ValueError(f"logits must be ({len(self._max)}, m); got {logits.shape}")
        if len(values) != logits.shape[1] or values.shape[1:] != self._sum.shape[1:]:
            raise ValueError(f"values must be ({logits.shape[1]}, {self._sum.shape[1]})")
        if not np.all(np.isfinite(logits)):
            raise ValueError("logits must be finite")
        new_max = np.maximum(self._max, logits.max(axis=1))
        old = np.exp(self._max - new_max)
        w = np.exp(logits - new_max[:, None])
        self._norm = self._norm * old + w.sum(axis=1)
        self._norm2 = self._norm2 * old**2 + (w**2).sum(axis=1)
        self._sum = self._sum * old[:, None] + w @ np.asarray(values, dtype=np.float64)
        self._max = new_max
        self.n_seen += logits.shape[1]

    def mean(self) -> np.ndarray:
        """The softmax-weighted mean of the values, ``(n_rows, n_values)``."""
        if self.n_seen == 0:
            raise ValueError("no chunk was added")
        return self._sum / self._norm[:, None]

    def effective_size(self) -> np.ndarray:
        """Effective number of items behind each row's mean, ``1 / Σ_i w_i²``."""
        if self.n_seen == 0:
            raise ValueError("no chunk was added")
        return self._norm**2 / self._norm2


@dataclasses.dataclass(frozen=True)
class DecoderNoiseModel:
    """Per-direction calibration of a decoder: ``pred_k = intercept_k + slope_k s_k + e_k``.

    Attributes
    ----------
    intercept, slope, variance : ndarray of shape (n_directions,)
        The linear relation of out-of-fold predictions to the true scores, and the variance
        of its residual ``e_k``.
    score_variance : ndarray of shape (n_directions,)
        Variance of the true scores it was measured on.
    n : int
        Training samples it was measured on.
    """

    intercept: np.ndarray
    slope: np.ndarray
    variance: np.ndarray
    score_variance: np.ndarray
    n: int

    def log_likelihood(self, pred: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """``log p(pred_r | scores_i)`` up to a constant, ``(n_pred, n_items)``."""
        pred = np.asarray(pred, dtype=np.float64)
        expected = self.intercept + self.slope * np.asarray(scores, dtype=np.float64)
        inv = 1.0 / self.variance
        cross = (pred * inv) @ expected.T
        return cross - 0.5 * ((pred**2 * inv).sum(axis=1)[:, None]
                              + (expected**2 * inv).sum(axis=1)[None, :])  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        """Summary for a results file (the medians and the number of informative directions)."""
        r = self.slope * np.sqrt(self.score_variance / (self.slope**2 * self.score_variance
                                                        + self.variance))  # fmt: skip
        return {"n": self.n, "n_directions": int(self.slope.size),
                "median_slope": float(np.median(self.slope)),
                "median_out_of_fold_r": float(np.median(r)),
                "directions_with_r_above_0.3": int(np.sum(r > 0.3))}  # fmt: skip


def fit_noise_model(
    pred: np.ndarray, scores: np.ndarray, floor: float = 1e-6, nonnegative: bool = True
) -> DecoderNoiseModel:
    """Least-squares calibration of out-of-fold predictions ``pred`` to true ``scores``.

    Both are ``(n, n_directions)``; ``floor`` (relative to each direction's prediction
    variance) keeps a perfectly predicted direction from having zero noise. With
    ``nonnegative``, a negative slope is set to 0 (the direction then carries nothing): a
    ridge does not predict against its targets, and out-of-fold predictions of an
    unpredictable direction anti-correlate with it through the held-out fold's mean alone.
    """
    pred = np.asarray(pred, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if pred.shape != scores.shape or pred.ndim != 2 or len(pred) < 3:
        raise ValueError(f"pred and scores must be the same (n >= 3, k) shape; got "
                         f"{pred.shape} and {scores.shape}")  # fmt: skip
    s_c = scores - scores.mean(axis=0)
    p_c = pred - pred.mean(axis=0)
    s_var = (s_c**2).mean(axis=0)
    slope = np.where(s_var > 0, (p_c * s_c).mean(axis=0) / np.where(s_var > 0, s_var, 1), 0.0)
    if nonnegative:
        slope = np.maximum(slope, 0.0)
    intercept = pred.mean(axis=0) - slope * scores.mean(axis=0)
    resid = ((p_c - slope * s_c) ** 2).mean(axis=0)
    resid = np.maximum(resid, floor * np.maximum((p_c**2).mean(axis=0), 1e-12))
    return DecoderNoiseModel(intercept=intercept, slope=slope, variance=resid,
                             score_variance=s_var, n=len(pred))  # fmt: skip


def out_of_fold_scores(
    decoder: Any, X: np.ndarray, y: Any, groups: Any = None, n_splits: int = 5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold predictions of a fitted ``RidgeDecoder`` in its own score space.

    A clone of ``decoder`` is refitted on each training fold (folds grouped by ``groups``;
    its components capped at the fold's size), and its held-out predictions are mapped to the
    fitted decoder's directions (through the outputs, so folds whose components differ are
    comparable).

    Returns
    -------
    pred, true : ndarray of shape (n, n_directions)
        Held-out predictions and the true targets, both in ``decoder``'s score space.
    """
    from sklearn.base import clone
    from sklearn.model_selection import GroupKFold, KFold

    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    if groups is None:
        splits = KFold(n_splits, shuffle=True, random_state=seed).split(X)
    else:
        splits = GroupKFold(n_splits).split(X, groups=groups)
    true = decoder.transform_targets(y)
    pred = np.empty_like(true)
    for train, test in splits:
        fold = clone(decoder)
        if fold.n_components is not None:  # a fold has fewer samples than the whole
            fold.set_params(n_components=min(fold.n_components, len(train), y.shape[1]))
        fold.fit(X[train], y[train], groups=None if groups is None else np.asarray(groups)[train])
        pred[test] = decoder.transform_targets(fold.predict_raw(X[test]))
    return pred, true


class BankPosterior:
    """Posterior mean of decoded features over a bank of natural images' features.

    Parameters
    ----------
    decoder : RidgeDecoder
        Fitted; its score space carries the likelihood.
    noise : DecoderNoiseModel
        The decoder's out-of-fold calibration (:func:`fit_noise_model`).
    bank : callable
        Returns a fresh iterable of feature chunks ``(m, n_outputs)`` (the bank is re-read
        each call, never held whole).
    temperature : float
        Divides the log-likelihood (1: the posterior; larger: flatter).
    """

    def __init__(
        self,
        decoder: Any,
        noise: DecoderNoiseModel,
        bank: Callable[[], Iterable[np.ndarray]],
        temperature: float = 1.0,
    ) -> None:
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.decoder = decoder
        self.noise = noise
        self.bank = bank
        self.temperature = temperature

    def __call__(self, scores: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """Posterior-mean features ``(n, n_outputs)`` for decoder scores ``(n, n_directions)``,
        and a summary (bank size, effective number of bank items per prediction)."""
        scores = np.asarray(scores, dtype=np.float64)
        acc: OnlineSoftmaxMean | None = None
        for chunk in self.bank():
            chunk = np.asarray(chunk, dtype=np.float32)
            if acc is None:
                acc = OnlineSoftmaxMean(len(scores), chunk.shape[1])
            logits = self.noise.log_likelihood(scores, self.decoder.transform_targets(chunk))
            acc.update(logits / self.temperature, chunk)
        if acc is None:
            raise ValueError("the image bank is empty")
        ess = acc.effective_size()
        summary = {"bank_size": acc.n_seen, "temperature": self.temperature,
                   "effective_size_median": float(np.median(ess)),
                   "effective_size_min": float(ess.min())}  # fmt: skip
        return acc.mean().astype(np.float32), summary
