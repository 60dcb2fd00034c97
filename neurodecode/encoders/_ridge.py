"""Voxelwise ridge regression with one cross-validated alpha per voxel."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import GroupKFold, KFold
from sklearn.utils.validation import check_is_fitted, validate_data

from neurodecode.encoders._persist import linear_readout, read_model_folder, write_model_folder
from neurodecode.encoders._solvers import (
    FoldSpectrum,
    cv_scores_per_alpha,
    fold_spectrum,
    ridge_weights,
    spectrum,
)

__all__ = ["LinearEncoderMixin", "RidgeEncoder", "default_alphas", "iter_column_chunks"]


def default_alphas() -> np.ndarray:
    """The default log grid of alphas: 10^-2 .. 10^6, 17 values."""
    return np.logspace(-2, 6, 17)


def iter_column_chunks(n_columns: int, chunk_size: int) -> Iterator[slice]:
    """Consecutive column slices of at most ``chunk_size`` columns."""
    for start in range(0, n_columns, chunk_size):
        yield slice(start, min(start + chunk_size, n_columns))


def make_folds(
    n_samples: int, n_splits: int, groups: np.ndarray | None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cross-validation folds; with ``groups`` (e.g. stimulus ids) no group spans two folds."""
    if n_splits < 2:
        raise ValueError(f"n_splits must be at least 2, got {n_splits}")
    if groups is None:
        if n_samples < n_splits:
            raise ValueError(
                f"cannot make {n_splits} cross-validation folds from {n_samples} samples"
            )
        return list(KFold(n_splits).split(np.zeros(n_samples)))
    groups = np.asarray(groups)
    if groups.shape != (n_samples,):
        raise ValueError(f"groups has shape {groups.shape}; expected ({n_samples},)")
    n_groups = len(np.unique(groups))
    if n_groups < n_splits:
        raise ValueError(
            f"cannot make {n_splits} grouped folds from {n_groups} distinct groups (stimuli)"
        )
    return list(GroupKFold(n_splits).split(np.zeros(n_samples), groups=groups))


class LinearEncoderMixin:
    """Persistence and the differentiable readout of the linear encoders.

    A subclass lists its fitted arrays in ``_ARRAYS`` and its fitted non-array attributes in
    ``_FITTED_META``; :meth:`save` writes them with the constructor parameters.
    """

    _ARRAYS: tuple[str, ...] = ("coef_", "intercept_", "best_alphas_")
    _FITTED_META: tuple[str, ...] = ()

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``config.json`` (class, parameters) and ``model.safetensors`` into ``path``."""
        check_is_fitted(self, "coef_")
        params = {k: _jsonable(v) for k, v in self.get_params(deep=False).items()}  # type: ignore[attr-defined]
        meta = {
            "class": type(self).__name__,
            "params": params,
            "n_features_in_": int(self.n_features_in_),  # type: ignore[attr-defined]
            "single_output": bool(getattr(self, "_single_output", False)),
            **{k: _jsonable(getattr(self, k)) for k in self._FITTED_META},
        }
        arrays = {k: np.asarray(getattr(self, k)) for k in self._ARRAYS if hasattr(self, k)}
        return write_model_folder(path, meta, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Any:
        """An encoder saved by :meth:`save`, ready to predict."""
        meta, arrays = read_model_folder(path, cls.__name__)
        est: Any = cls(**meta["params"])
        for key, value in arrays.items():
            setattr(est, key, value)
        for key in cls._FITTED_META:
            setattr(est, key, meta[key])
        est.n_features_in_ = int(meta["n_features_in_"])
        est._single_output = bool(meta.get("single_output", False))
        est._after_load()
        return est

    def _after_load(self) -> None:
        pass

    def to_torch(self, columns: Any = None) -> Any:
        """A frozen ``torch.nn.Linear`` from features to (the ``columns`` of) the voxels.

        The same predictions as :meth:`predict`, differentiable with respect to the features:
        the readout a generator is guided by.
        """
        check_is_fitted(self, "coef_")
        return linear_readout(self.coef_, self.intercept_, columns)  # type: ignore[attr-defined]


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


class RidgeEncoder(LinearEncoderMixin, RegressorMixin, BaseEstimator):
    """Ridge regression from stimulus features to voxels, with one alpha per voxel.

    Each voxel's alpha is chosen from ``alphas`` by K-fold cross-validation on the training
    data (mean validation R^2 over folds); folds are grouped by ``groups`` when given, so that
    repeats of one image never sit on both sides of a split. The primal form is used when
    there are at least as many samples as features, the dual (kernel) form otherwise. Voxels
    are processed in chunks of ``chunk_size`` columns, so ``Y`` may be a memory-mapped array
    (the prepared cache) of any width.

    Parameters
    ----------
    alphas : array-like, optional
        Candidate regularisation strengths (default: :func:`default_alphas`).
    n_splits : int
        Number of cross-validation folds.
    fit_intercept : bool
        Centre features and responses on the training data.
    chunk_size : int
        Voxels per chunk; bounds memory to about ``n_samples * chunk_size * 4`` bytes per copy.
    backend : {"numpy", "torch"}
        Library of the large matrix products; torch runs on ``device``.
    device : str
        Torch device (``"cpu"``, ``"cuda"``...); ignored by the numpy backend.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features, n_voxels)
    intercept_ : ndarray of shape (n_voxels,)
    best_alphas_ : ndarray of shape (n_voxels,)
    cv_scores_ : ndarray of shape (n_alphas, n_voxels)
        Mean validation R^2 of each alpha.
    form_ : {"primal", "dual"}
    """

    _ARRAYS = ("coef_", "intercept_", "best_alphas_", "cv_scores_")
    _FITTED_META = ("form_",)

    def __init__(
        self,
        alphas: Sequence[float] | np.ndarray | None = None,
        n_splits: int = 5,
        fit_intercept: bool = True,
        chunk_size: int = 8192,
        backend: str = "numpy",
        device: str = "cpu",
    ) -> None:
        self.alphas = alphas
        self.n_splits = n_splits
        self.fit_intercept = fit_intercept
        self.chunk_size = chunk_size
        self.backend = backend
        self.device = device

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, X, y, groups=None) -> RidgeEncoder:
        """Fit on features ``X`` (n_samples, n_features) and responses ``Y`` (n_samples, n_voxels).

        ``groups`` (n_samples,) labels samples that must stay in one fold, e.g. stimulus ids.
        ``Y`` is read chunk by chunk and never copied whole; a NaN in it raises ``ValueError``.
        Constant voxels get a zero model (prediction = their mean) and the largest alpha.
        """
        X = validate_data(self, X, dtype=np.float32, ensure_min_samples=2, reset=True)
        Y = _as_2d_responses(y, X.shape[0])
        Y_is_1d = Y.shape[1] == 1 and not _is_2d(y)
        alphas = self._alphas()
        folds = make_folds(X.shape[0], self.n_splits, groups)
        x_mean = X.mean(axis=0) if self.fit_intercept else np.zeros(X.shape[1], np.float32)
        Xc = X - x_mean
        spectra = [fold_spectrum(Xc[train], Xc[val]) for train, val in folds]
        decomposition = spectrum(Xc)
        self.form_ = decomposition[2]

        n_vox = Y.shape[1]
        self.coef_ = np.empty((X.shape[1], n_vox), dtype=np.float32)
        self.intercept_ = np.zeros(n_vox, dtype=np.float32)
        self.best_alphas_ = np.empty(n_vox, dtype=np.float64)
        self.cv_scores_ = np.empty((len(alphas), n_vox), dtype=np.float32)
        for cols in iter_column_chunks(n_vox, self.chunk_size):
            Yc = _read_chunk(Y, cols)
            y_mean = Yc.mean(axis=0) if self.fit_intercept else np.zeros(Yc.shape[1], np.float32)
            Yc -= y_mean
            scores = self._cv_scores(spectra, folds, Yc, alphas)
            best = _best_alpha_index(scores)
            self.best_alphas_[cols] = alphas[best]
            self.cv_scores_[:, cols] = scores
            self.coef_[:, cols] = ridge_weights(Xc, Yc, alphas[best], decomposition)
            self.intercept_[cols] = y_mean - x_mean @ self.coef_[:, cols]
        self._single_output = Y_is_1d
        return self

    def _alphas(self) -> np.ndarray:
        alphas = default_alphas() if self.alphas is None else np.asarray(self.alphas, float)
        if alphas.ndim != 1 or alphas.size == 0 or np.any(~np.isfinite(alphas) | (alphas <= 0)):
            raise ValueError(f"alphas must be a non-empty 1-D array of positive numbers: {alphas}")
        return np.sort(alphas)

    def _cv_scores(
        self,
        spectra: list[FoldSpectrum],
        folds: list[tuple[np.ndarray, np.ndarray]],
        Yc: np.ndarray,
        alphas: np.ndarray,
    ) -> np.ndarray:
        total = np.zeros((len(alphas), Yc.shape[1]), dtype=np.float64)
        to_backend = self._converter()
        for spec, (train, val) in zip(spectra, folds, strict=True):
            total += cv_scores_per_alpha(spec, to_backend(Yc[train]), to_backend(Yc[val]), alphas)
        return (total / len(folds)).astype(np.float32)

    def _converter(self):
        if self.backend == "numpy":
            return lambda a: a
        if self.backend == "torch":
            import torch

            device = torch.device(self.device)
            return lambda a: torch.as_tensor(a, device=device)
        raise ValueError(f"backend must be 'numpy' or 'torch', got {self.backend!r}")

    # -- prediction --------------------------------------------------------------------------
    def predict(self, X) -> np.ndarray:
        """Predicted responses ``(n_samples, n_voxels)``."""
        check_is_fitted(self, "coef_")
        dtype = _output_dtype(X)
        X = validate_data(self, X, dtype=dtype, reset=False)
        pred = X @ self.coef_.astype(dtype, copy=False) + self.intercept_.astype(dtype, copy=False)
        return pred[:, 0] if getattr(self, "_single_output", False) else pred

    def score(self, X, y, sample_weight=None) -> float:
        """Mean R^2 over voxels (per-voxel scores: :meth:`score_voxels`)."""
        return float(np.mean(self.score_voxels(X, y)))

    def score_voxels(self, X, y) -> np.ndarray:
        """R^2 of each voxel on ``(X, Y)``: ``(n_voxels,)``."""
        from neurodecode.metrics import r2_score_voxels

        pred = np.atleast_2d(self.predict(X).T).T
        return r2_score_voxels(_as_2d_responses(y, pred.shape[0]), pred)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _as_2d_responses(Y, n_samples: int):
    if Y is None:
        raise ValueError("requires y to be passed, but the target y is None")
    if not (hasattr(Y, "shape") and hasattr(Y, "__getitem__")):
        # Lists and other array-likes; arrays, memory maps, h5py datasets and row views
        # (anything sliceable with a shape) are read chunk by chunk instead.
        Y = np.asarray(Y, dtype=np.float32)
    if len(Y.shape) == 1:
        Y = np.asarray(Y)[:, None]
    if len(Y.shape) != 2 or Y.shape[0] != n_samples:
        raise ValueError(
            f"responses have shape {Y.shape}; expected ({n_samples}, n_voxels) to match X"
        )
    return Y


def _is_2d(y) -> bool:
    shape = getattr(y, "shape", None)
    return shape is not None and len(shape) == 2


def _output_dtype(X) -> np.dtype:
    """float64 predictions for float64 input (scikit-learn's convention), float32 otherwise."""
    return np.dtype(np.float64) if getattr(X, "dtype", None) == np.float64 else np.dtype(np.float32)


def _read_chunk(Y, cols: slice) -> np.ndarray:
    chunk = np.array(Y[:, cols], dtype=np.float32)  # a private copy (Y may be a memmap)
    if not np.all(np.isfinite(chunk)):
        bad = np.flatnonzero(~np.all(np.isfinite(chunk), axis=0))[:5] + cols.start
        raise ValueError(
            f"responses contain NaN or infinite values (voxel columns {bad.tolist()}...); "
            "drop or impute those voxels before fitting"
        )
    return chunk


def _best_alpha_index(scores: np.ndarray) -> np.ndarray:
    """Index of the best alpha per voxel; ties (e.g. constant voxels) go to the largest alpha."""
    scores = np.nan_to_num(scores, nan=-np.inf)
    flipped = scores[::-1]
    return scores.shape[0] - 1 - np.argmax(flipped, axis=0)
