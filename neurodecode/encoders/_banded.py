"""Banded ridge: one regularisation per feature space, chosen per voxel by cross-validation."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from neurodecode.encoders._ridge import (
    LinearEncoderMixin,
    _as_2d_responses,
    _best_alpha_index,
    _is_2d,
    _output_dtype,
    _read_chunk,
    default_alphas,
    iter_column_chunks,
    make_folds,
)
from neurodecode.encoders._solvers import (
    cv_scores_per_alpha,
    fold_spectrum,
    ridge_weights,
    spectrum,
)

__all__ = ["BandedRidgeEncoder", "r2_score_split"]


def r2_score_split(y_true: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """Split each voxel's R^2 into one share per feature space (the product measure).

    With centred data, ``R^2 = sum_k (2 yhat_k . y - yhat_k . yhat) / ||y||^2`` where
    ``yhat = sum_k yhat_k``; each term is space k's share. Every part is centred first, so the
    shares sum to the R^2 of the summed prediction with its mean bias removed (the intercept
    belongs to no space). ``parts`` has shape ``(n_spaces, n_samples, n_voxels)``.
    """
    y = np.asarray(y_true, dtype=np.float64)
    parts = np.asarray(parts, dtype=np.float64)
    y = y - y.mean(axis=0)
    parts = parts - parts.mean(axis=1, keepdims=True)
    total = parts.sum(axis=0)
    denom = (y * y).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = (2.0 * (parts * y).sum(axis=1) - (parts * total).sum(axis=1)) / denom
    shares[:, denom == 0] = np.nan
    return shares


class BandedRidgeEncoder(LinearEncoderMixin, RegressorMixin, BaseEstimator):
    """Ridge with one regularisation per feature space (banded ridge), chosen per voxel.

    The feature spaces are consecutive column blocks of ``X`` of sizes ``space_sizes``. Space
    k is scaled by ``sqrt(gamma_k)`` with ``gamma`` on the simplex, and the overall alpha
    is chosen as in :class:`RidgeEncoder`; the effective regularisation of space k is then
    ``alpha / gamma_k``. Candidate ``gamma`` vectors are each space alone, all spaces equally,
    and ``n_iter`` seeded Dirichlet draws (a random search, as in himalaya's multiple-kernel
    ridge); each voxel keeps the (gamma, alpha) with the best mean validation R^2.

    Parameters
    ----------
    space_sizes : sequence of int
        Number of columns of each feature space, in order.
    space_names : sequence of str, optional
        Names of the spaces (default ``space0``, ``space1``...).
    n_iter : int
        Random Dirichlet candidates on top of the corners and the centre of the simplex.
    alphas, n_splits, fit_intercept, chunk_size
        As in :class:`RidgeEncoder`.
    random_state : int, optional
        Seed of the candidate draws.

    Attributes
    ----------
    coef_ : ndarray (n_features, n_voxels)
    intercept_ : ndarray (n_voxels,)
    space_weights_ : ndarray (n_spaces, n_voxels)
        The chosen ``gamma`` of each voxel.
    best_alphas_ : ndarray (n_voxels,)
    cv_score_ : ndarray (n_voxels,)
        Best mean validation R^2.
    """

    _ARRAYS = ("coef_", "intercept_", "best_alphas_", "space_weights_", "cv_score_")
    _FITTED_META = ("space_names_",)

    def _after_load(self) -> None:
        self._blocks_ = self._blocks(int(self.n_features_in_))

    def __init__(
        self,
        space_sizes: Sequence[int] = (),
        space_names: Sequence[str] | None = None,
        n_iter: int = 20,
        alphas: Sequence[float] | np.ndarray | None = None,
        n_splits: int = 5,
        fit_intercept: bool = True,
        chunk_size: int = 8192,
        random_state: int | None = None,
    ) -> None:
        self.space_sizes = space_sizes
        self.space_names = space_names
        self.n_iter = n_iter
        self.alphas = alphas
        self.n_splits = n_splits
        self.fit_intercept = fit_intercept
        self.chunk_size = chunk_size
        self.random_state = random_state

    def _blocks(self, n_features: int) -> list[slice]:
        sizes = list(self.space_sizes) or [n_features]
        if any(int(s) <= 0 for s in sizes) or sum(sizes) != n_features:
            raise ValueError(
                f"space_sizes {sizes} must be positive and sum to the {n_features} feature columns"
            )
        edges = np.cumsum([0, *sizes])
        return [slice(int(a), int(b)) for a, b in itertools.pairwise(edges)]

    def candidates(self, n_spaces: int) -> np.ndarray:
        """The ``gamma`` vectors searched: ``(n_candidates, n_spaces)``, rows on the simplex."""
        rng = np.random.default_rng(self.random_state)
        if n_spaces == 1:
            return np.ones((1, 1))
        fixed = [np.eye(n_spaces), np.full((1, n_spaces), 1.0 / n_spaces)]
        draws = rng.dirichlet(np.ones(n_spaces), size=self.n_iter)
        rows = [*fixed, draws]
        return np.unique(np.vstack(rows), axis=0)

    def fit(self, X, y, groups=None) -> BandedRidgeEncoder:
        """Fit on ``X`` (n_samples, sum(space_sizes)) and ``Y`` (n_samples, n_voxels)."""
        X = validate_data(self, X, dtype=np.float32, ensure_min_samples=2, reset=True)
        Y = _as_2d_responses(y, X.shape[0])
        self._single_output = Y.shape[1] == 1 and not _is_2d(y)
        blocks = self._blocks(X.shape[1])
        self.space_names_ = list(self.space_names or [f"space{k}" for k in range(len(blocks))])
        if len(self.space_names_) != len(blocks):
            raise ValueError(f"{len(self.space_names_)} space names for {len(blocks)} spaces")
        alphas = np.sort(default_alphas() if self.alphas is None else np.asarray(self.alphas))
        folds = make_folds(X.shape[0], self.n_splits, groups)
        x_mean = X.mean(axis=0) if self.fit_intercept else np.zeros(X.shape[1], np.float32)
        Xc = X - x_mean
        gammas = self.candidates(len(blocks))
        n_vox = Y.shape[1]
        best_score = np.full(n_vox, -np.inf)
        best_gamma = np.zeros(n_vox, dtype=int)
        best_alpha = np.full(n_vox, alphas[-1])
        for g, gamma in enumerate(gammas):
            Xg = self._scale(Xc, blocks, gamma)
            spectra = [fold_spectrum(Xg[tr], Xg[va]) for tr, va in folds]
            for cols in iter_column_chunks(n_vox, self.chunk_size):
                Yc = _read_chunk(Y, cols)
                Yc -= Yc.mean(axis=0)
                scores = np.mean(
                    [
                        cv_scores_per_alpha(s, Yc[tr], Yc[va], alphas)
                        for s, (tr, va) in zip(spectra, folds, strict=True)
                    ],
                    axis=0,
                )
                idx = _best_alpha_index(scores)
                top = np.nan_to_num(scores[idx, np.arange(scores.shape[1])], nan=-np.inf)
                better = top > best_score[cols]
                view = np.arange(cols.start, cols.stop)[better]
                best_score[view], best_gamma[view], best_alpha[view] = (
                    top[better],
                    g,
                    alphas[idx[better]],
                )
        self._refit(Xc, Y, blocks, gammas, best_gamma, best_alpha, x_mean)
        self.space_weights_ = gammas[best_gamma].T.astype(np.float32)
        self.best_alphas_ = best_alpha
        self.cv_score_ = np.where(np.isfinite(best_score), best_score, np.nan).astype(np.float32)
        return self

    @staticmethod
    def _scale(Xc: np.ndarray, blocks: list[slice], gamma: np.ndarray) -> np.ndarray:
        Xg = Xc.copy()
        for block, g in zip(blocks, gamma, strict=True):
            Xg[:, block] *= np.float32(np.sqrt(g))
        return Xg

    def _refit(self, Xc, Y, blocks, gammas, best_gamma, best_alpha, x_mean) -> None:
        n_vox = Y.shape[1]
        self.coef_ = np.zeros((Xc.shape[1], n_vox), dtype=np.float32)
        y_mean = np.zeros(n_vox, dtype=np.float32)
        for g in np.unique(best_gamma):
            Xg = self._scale(Xc, blocks, gammas[g])
            decomposition = spectrum(Xg)
            scale = np.concatenate(
                [np.full(b.stop - b.start, np.sqrt(gammas[g][k])) for k, b in enumerate(blocks)]
            ).astype(np.float32)
            for cols in iter_column_chunks(n_vox, self.chunk_size):
                sel = np.flatnonzero(best_gamma[cols] == g) + cols.start
                if sel.size == 0:
                    continue
                Yc = np.array(Y[:, sel], dtype=np.float32)
                y_mean[sel] = Yc.mean(axis=0) if self.fit_intercept else 0.0
                Yc -= y_mean[sel]
                W = ridge_weights(Xg, Yc, best_alpha[sel], decomposition)
                self.coef_[:, sel] = W * scale[:, None]  # back to the unscaled features
        self.intercept_ = y_mean - x_mean @ self.coef_
        self._blocks_ = blocks

    def predict(self, X) -> np.ndarray:
        """Predicted responses ``(n_samples, n_voxels)``."""
        check_is_fitted(self, "coef_")
        dtype = _output_dtype(X)
        X = validate_data(self, X, dtype=dtype, reset=False)
        pred = X @ self.coef_.astype(dtype, copy=False) + self.intercept_.astype(dtype, copy=False)
        return pred[:, 0] if self._single_output else pred

    def predict_split(self, X) -> np.ndarray:
        """Each space's contribution to the prediction: ``(n_spaces, n_samples, n_voxels)``."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return np.stack([X[:, b] @ self.coef_[b] for b in self._blocks_])

    def score_split(self, X, y) -> np.ndarray:
        """Each space's share of the explained variance per voxel: ``(n_spaces, n_voxels)``."""
        return r2_score_split(_as_2d_responses(y, len(X)), self.predict_split(X))

    def score_voxels(self, X, y) -> np.ndarray:
        """R^2 of each voxel on ``(X, y)``: ``(n_voxels,)``."""
        from neurodecode.metrics import r2_score_voxels

        pred = np.atleast_2d(self.predict(X).T).T
        return r2_score_voxels(_as_2d_responses(y, pred.shape[0]), pred)

    def score(self, X, y, sample_weight=None) -> float:
        """Mean R^2 over voxels."""
        return float(np.nanmean(self.score_voxels(X, y)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
