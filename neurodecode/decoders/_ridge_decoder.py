"""Voxels -> stimulus features: the one linear decoder of the package (Takagi & Nishimoto,
Brain-Diffuser, Brain Captioning).

:class:`RidgeDecoder` is :class:`neurodecode.encoders.RidgeEncoder` run the other way round
(``X`` = voxels, ``Y`` = features): one decomposition of the voxel matrix per fold, shared by
every output, primal or dual form by shape, one alpha per output by cross-validation over
folds grouped by stimulus (single training trials; repeats of an image never split), outputs
processed in column chunks. Brain captioning's published code fits one ridge per vision token
instead (197 fits, each repeating the same decomposition). The columns it reads are a
parameter (``voxels``: early visual voxels for a VAE latent, nsdgeneral for an embedding;
:func:`reliable_voxels` picks the most reliable ones from training repeats).

Memory. The exact solve (``n_components=None``) keeps ``coef_`` of shape
``(n_voxels, n_outputs)``: at GIT-base size (15,724 voxels x 197 x 768 = 151,296 outputs) that
is 9.5 GB in float32, and cross-validating 151k outputs costs hours on a CPU. With
``n_components=k`` the targets are first reduced to their ``k`` leading principal components
(exact PCA through the ``n_samples x n_samples`` Gram matrix of the centred targets,
accumulated over column chunks, so the target matrix is read twice in chunks and never held
whole); the ridge predicts the ``k`` component scores and predictions are mapped back through
the components. Memory is then ``n_samples^2`` (the Gram matrices) + ``k x n_outputs`` (the
components) + ``n_voxels x k`` (the coefficients), and the accuracy cost is exactly the
target variance outside the ``k`` components (``explained_variance_ratio_`` records what is
kept; the caption benchmark measures what it costs in captions).

Predictions of a ridge are shrunk towards the mean; with ``restandardize="batch"`` (the
default) :meth:`RidgeDecoder.predict` rescales a batch of predictions to the training targets'
per-output mean and standard deviation, as Brain-Diffuser and Brain Captioning do before
generating from them (:meth:`RidgeDecoder.predict_raw` gives the ridge's own predictions).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from neurodecode.encoders._ridge import RidgeEncoder, iter_column_chunks

__all__ = ["RidgeDecoder", "RowIndexedTargets", "reliable_voxels"]

_RESTANDARDIZE = ("batch", "none")


class RowIndexedTargets:
    """A lazy ``(len(index), n_outputs)`` view ``features[index]`` (e.g. one row per trial).

    Training trials repeat stimuli; this view lets a decoder read trial rows of per-stimulus
    features in column chunks (``view[:, cols]``) without materialising the repeated matrix.
    """

    def __init__(self, features: Any, index: Sequence[int] | np.ndarray) -> None:
        self.features = features
        self.index = np.asarray(index, dtype=np.int64)
        self.shape = (int(self.index.size), int(features.shape[1]))
        self.dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        block = np.asarray(self.features[:, cols], dtype=np.float32)
        return block[self.index[rows]]


class RidgeDecoder(RegressorMixin, BaseEstimator):
    """One multi-output ridge from voxels to stimulus features, optionally PCA-reduced targets.

    Parameters
    ----------
    voxels : sequence of int, optional
        Input columns the decoder reads (indices into the columns of ``X``); all when None.
    alphas : array-like, optional
        Candidate regularisation strengths (default: ``RidgeEncoder``'s log grid).
    n_splits : int
        Cross-validation folds (grouped by ``groups`` when :meth:`fit` gets them).
    fit_intercept : bool
        Centre voxels and targets on the training data.
    chunk_size : int
        Outputs per chunk (bounds the working memory of the solve and of the PCA passes).
    n_components : int or None
        Reduce the targets to this many principal components first (see the module
        docstring); ``None`` solves for every output exactly.
    restandardize : {"batch", "none"}
        ``"batch"``: :meth:`predict` z-scores each output over the rows of the call (at least
        2) and gives it the training targets' mean and sd; ``"none"``: raw ridge predictions.
    backend : {"numpy", "torch"}
        Library of the cross-validation products (torch runs on ``device``).
    device : str
        Torch device of the torch backend.

    Attributes
    ----------
    ridge_ : RidgeEncoder
        The fitted ridge (to the targets, or to their component scores).
    components_ : ndarray of shape (n_components, n_outputs) or None
    target_mean_, target_std_ : ndarray of shape (n_outputs,)
        Per-output mean and standard deviation of the training targets.
    explained_variance_ratio_ : float
        Share of the training targets' variance the components keep (1.0 when exact).
    n_outputs_ : int
    voxels_ : ndarray of int
        Columns read.
    n_features_in_ : int
        Columns of ``X`` (all of them, before ``voxels`` selects some).
    """

    def __init__(
        self,
        voxels: Sequence[int] | np.ndarray | None = None,
        alphas: Sequence[float] | np.ndarray | None = None,
        n_splits: int = 5,
        fit_intercept: bool = True,
        chunk_size: int = 8192,
        n_components: int | None = None,
        restandardize: str = "batch",
        backend: str = "numpy",
        device: str = "cpu",
    ) -> None:
        self.voxels = voxels
        self.alphas = alphas
        self.n_splits = n_splits
        self.fit_intercept = fit_intercept
        self.chunk_size = chunk_size
        self.n_components = n_components
        self.restandardize = restandardize
        self.backend = backend
        self.device = device

    def _ridge(self) -> RidgeEncoder:
        return RidgeEncoder(
            alphas=self.alphas,
            n_splits=self.n_splits,
            fit_intercept=self.fit_intercept,
            chunk_size=self.chunk_size,
            backend=self.backend,
            device=self.device,
        )

    def fit(self, X: Any, y: Any, groups: Any = None) -> RidgeDecoder:
        """Fit voxels ``X`` (n_samples, n_voxels) to targets ``y`` (n_samples, n_outputs).

        ``y`` may be any sliceable 2-D array (memory map, HDF5 dataset,
        :class:`RowIndexedTargets`): it is read in column chunks. ``groups`` (e.g. stimulus
        ids) keeps repeats of one stimulus in one fold.
        """
        if self.restandardize not in _RESTANDARDIZE:
            raise ValueError(f"restandardize must be one of {_RESTANDARDIZE}")
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_voxels), got shape {X.shape}")
        self.n_features_in_ = X.shape[1]
        self.voxels_ = self._columns(X.shape[1])
        X = X[:, self.voxels_]
        if not hasattr(y, "shape") or len(y.shape) != 2:
            y = np.atleast_2d(np.asarray(y, dtype=np.float32).T).T
        n, q = int(y.shape[0]), int(y.shape[1])
        if n != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} samples but y has {n}")
        self.target_mean_, self.target_std_ = _column_moments(y, self.chunk_size)
        self.n_outputs_ = q
        if self.n_components is None:
            self.components_ = None
            self.explained_variance_ratio_ = 1.0
            self.ridge_ = self._ridge().fit(X, y, groups=groups)
            return self
        k = int(self.n_components)
        if not 1 <= k <= min(n, q):
            raise ValueError(f"n_components must be in [1, {min(n, q)}], got {k}")
        scores, self.components_, kept = _pca(y, self.target_mean_, k, self.chunk_size)
        self.explained_variance_ratio_ = kept
        self.ridge_ = self._ridge().fit(X, scores, groups=groups)
        return self

    def _columns(self, n_columns: int) -> np.ndarray:
        if self.voxels is None:
            return np.arange(n_columns)
        cols = np.asarray(self.voxels, dtype=np.int64).ravel()
        if cols.size == 0 or cols.min() < 0 or cols.max() >= n_columns:
            raise ValueError(f"voxels must be non-empty column indices in [0, {n_columns})")
        return cols

    def predict_raw(self, X: Any) -> np.ndarray:
        """The ridge's predictions ``(n_samples, n_outputs)`` before re-standardisation."""
        return self.inverse_transform_targets(self.predict_scores(X))

    def predict_scores(self, X: Any) -> np.ndarray:
        """The ridge's own outputs: component scores ``(n, n_components)`` with components,
        else the raw predictions (the space :meth:`transform_targets` maps targets into)."""
        check_is_fitted(self, "ridge_")
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has shape {X.shape}; expected (n, {self.n_features_in_})")
        pred = self.ridge_.predict(X[:, self.voxels_])
        return np.atleast_2d(pred.T).T.astype(np.float32, copy=False)

    def transform_targets(self, y: Any) -> np.ndarray:
        """Targets ``(n, n_outputs)`` in the space the ridge predicts (see
        :meth:`predict_scores`): their component scores, or themselves."""
        check_is_fitted(self, "ridge_")
        y = np.asarray(y, dtype=np.float32)
        if y.ndim != 2 or y.shape[1] != self.n_outputs_:
            raise ValueError(f"expected targets (n, {self.n_outputs_}); got {y.shape}")
        if self.components_ is None:
            return y
        return ((y - self.target_mean_) @ self.components_.T).astype(np.float32)

    def inverse_transform_targets(self, scores: Any) -> np.ndarray:
        """Scores ``(n, n_components)`` mapped back to the targets' space."""
        check_is_fitted(self, "ridge_")
        scores = np.asarray(scores, dtype=np.float32)
        if self.components_ is None:
            return scores
        return (scores @ self.components_ + self.target_mean_).astype(np.float32)

    def predict(self, X: Any) -> np.ndarray:
        """Decoded targets ``(n_samples, n_outputs)`` (float32), re-standardised as
        ``restandardize`` says."""
        raw = self.predict_raw(X)
        return raw if self.restandardize == "none" else self.restandardise(raw)

    def restandardise(self, pred: np.ndarray) -> np.ndarray:
        """Predictions rescaled, per output, to the training targets' mean and sd.

        Each output column of the batch ``pred`` is z-scored over the batch, then given the
        training targets' mean and standard deviation (outputs constant over the batch keep
        the training mean). Needs a batch of predictions (a test set), not single rows.
        """
        check_is_fitted(self, "ridge_")
        pred = np.asarray(pred, dtype=np.float32)
        if pred.ndim != 2 or pred.shape[1] != self.n_outputs_:
            raise ValueError(f"expected predictions (n, {self.n_outputs_}); got {pred.shape}")
        if pred.shape[0] < 2:
            raise ValueError(
                "re-standardisation z-scores each output over a batch: predict at least 2 rows "
                "(or use restandardize='none')"
            )
        sd = pred.std(axis=0)
        z = (pred - pred.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        return (z * self.target_std_ + self.target_mean_).astype(np.float32)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean R^2 over outputs."""
        from neurodecode.metrics import r2_score_voxels

        return float(np.mean(r2_score_voxels(np.asarray(y, np.float32), self.predict(X))))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``config.json`` + ``model.safetensors`` (ridge arrays, target statistics)."""
        from neurodecode.encoders._persist import write_model_folder
        from neurodecode.encoders._ridge import _jsonable

        check_is_fitted(self, "ridge_")
        r = self.ridge_
        arrays = {
            "coef_": r.coef_,
            "intercept_": r.intercept_,
            "best_alphas_": r.best_alphas_,
            "target_mean_": self.target_mean_,
            "target_std_": self.target_std_,
            "voxels_": self.voxels_,
        }
        if self.components_ is not None:
            arrays["components_"] = self.components_
        meta = {
            "class": type(self).__name__,
            "params": {k: _jsonable(v) for k, v in self.get_params(deep=False).items()},
            "n_features_in_": int(self.n_features_in_),
            "n_outputs_": self.n_outputs_,
            "explained_variance_ratio_": float(self.explained_variance_ratio_),
            "form_": r.form_,
        }
        return write_model_folder(path, meta, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RidgeDecoder:
        """A decoder saved by :meth:`save`, ready to predict."""
        from neurodecode.encoders._persist import read_model_folder

        meta, arrays = read_model_folder(path, cls.__name__)
        est = cls(**meta["params"])
        ridge = est._ridge()
        for key in ("coef_", "intercept_", "best_alphas_"):
            setattr(ridge, key, arrays[key])
        est.voxels_ = arrays["voxels_"].astype(np.int64)
        est.n_features_in_ = int(meta["n_features_in_"])
        ridge.n_features_in_ = int(est.voxels_.size)
        ridge.form_ = meta["form_"]
        ridge._single_output = False
        est.ridge_ = ridge
        est.components_ = arrays.get("components_")
        est.target_mean_, est.target_std_ = arrays["target_mean_"], arrays["target_std_"]
        est.n_outputs_ = int(meta["n_outputs_"])
        est.explained_variance_ratio_ = float(meta["explained_variance_ratio_"])
        return est


def _column_moments(y: Any, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    q = int(y.shape[1])
    mean, sd = np.empty(q, np.float32), np.empty(q, np.float32)
    for cols in iter_column_chunks(q, chunk):
        block = np.asarray(y[:, cols], dtype=np.float64)
        mean[cols], sd[cols] = block.mean(axis=0), block.std(axis=0)
    return mean, sd


def _pca(y: Any, mean: np.ndarray, k: int, chunk: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Scores ``(n, k)``, components ``(k, q)`` and kept variance share of centred ``y``.

    Exact: the Gram matrix ``Yc Yc^T`` is summed over column chunks and eigendecomposed
    (float64); the components are ``Yc^T U_k / s_k``, again chunk by chunk.
    """
    n, q = int(y.shape[0]), int(y.shape[1])
    gram = np.zeros((n, n), dtype=np.float64)
    for cols in iter_column_chunks(q, chunk):
        block = np.asarray(y[:, cols], dtype=np.float32) - mean[cols]
        gram += (block @ block.T).astype(np.float64)
    eigvals, U = np.linalg.eigh(gram)
    order = np.argsort(eigvals)[::-1]
    eigvals, U = np.clip(eigvals[order], 0.0, None), U[:, order]
    s = np.sqrt(eigvals[:k])
    keep = s > 0
    Uk = (U[:, :k][:, keep] / s[keep]).astype(np.float32)
    components = np.zeros((k, q), dtype=np.float32)
    for cols in iter_column_chunks(q, chunk):
        block = np.asarray(y[:, cols], dtype=np.float32) - mean[cols]
        components[keep, cols] = (block.T @ Uk).T
    scores = np.zeros((n, k), dtype=np.float32)
    scores[:, keep] = (U[:, :k][:, keep] * s[keep]).astype(np.float32)
    total = float(eigvals.sum())
    return scores, components, float(eigvals[:k].sum() / total) if total > 0 else 1.0


def reliable_voxels(
    responses: np.ndarray,
    stim_ids: np.ndarray,
    candidates: np.ndarray,
    n_max: int | None,
) -> np.ndarray:
    """The ``n_max`` most reliable of the ``candidates`` columns (all when None), sorted.

    Reliability is the ncsnr estimated from the repeats *within* ``responses`` (pass training
    trials only, so that no test response chooses the voxels).
    """
    from neurodecode.data._noise_ceiling import ncsnr_from_repeats

    candidates = np.asarray(candidates, dtype=np.int64)
    if n_max is None or candidates.size <= n_max:
        return np.sort(candidates)
    snr = np.nan_to_num(ncsnr_from_repeats(responses[:, candidates], stim_ids), nan=0.0)
    return np.sort(candidates[np.argsort(-snr, kind="stable")[:n_max]])
