"""Pure solvers for voxelwise ridge regression with one alpha per voxel.

Every fold is reduced once to a spectral form ``predictions(alpha) = A diag(d(alpha)) B``
with ``A`` of shape ``(n_val, r)``, ``B`` of shape ``(r, n_voxels)`` and
``d_j = 1 / (lambda_j + alpha)``:

* primal (``n_samples >= n_features``): eigendecompose ``X_tr^T X_tr = Q diag(lambda) Q^T``;
  ``A = X_val Q`` and ``B = Q^T X_tr^T Y_tr``;
* dual (``n_features > n_samples``): eigendecompose ``K = X_tr X_tr^T = U diag(lambda) U^T``;
  ``A = X_val X_tr^T U`` and ``B = U^T Y_tr``.

Validation errors for all alphas then cost either one ``(n_val x r) @ (r x v)`` product per
alpha (direct) or one ``(r x r) @ (r x v)`` product per alpha after ``C = A^T Y_val`` (Gram
form), whichever is cheaper. Decompositions run in float64 on the small ``r x r`` matrix
(cheap, and robust on ill-conditioned designs); the large products run in float32.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = [
    "FoldSpectrum",
    "backend",
    "cv_scores_per_alpha",
    "fold_spectrum",
    "ridge_weights",
    "spectrum",
]


@dataclass(frozen=True)
class FoldSpectrum:
    """One fold reduced to its spectral form (see the module docstring)."""

    A: np.ndarray  # (n_val, r) float32
    eigvals: np.ndarray  # (r,) float64, >= 0
    project: np.ndarray  # (r, n_train) float32: B = project @ Y_train
    AtA: np.ndarray | None  # (r, r) float32, for the Gram form


def spectrum(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Eigen-decomposition of the smaller Gram matrix of ``X``.

    Returns ``(eigvals, vectors, form)`` where ``form`` is ``"primal"`` (vectors ``Q`` of
    ``X^T X``) or ``"dual"`` (vectors ``U`` of ``X X^T``). Negative round-off eigenvalues are
    clipped to zero. When ``eigh`` fails to converge (it can on badly conditioned input),
    the singular value decomposition of ``X`` is used instead.
    """
    n, p = X.shape
    form = "primal" if n >= p else "dual"
    X64 = X.astype(np.float64, copy=False)
    gram = X64.T @ X64 if form == "primal" else X64 @ X64.T
    try:
        eigvals, vectors = np.linalg.eigh(gram)
    except np.linalg.LinAlgError:
        import scipy.linalg

        U, s, Vt = scipy.linalg.svd(X64, full_matrices=False, lapack_driver="gesvd")
        eigvals, vectors = s**2, (Vt.T if form == "primal" else U)
    return np.clip(eigvals, 0.0, None), vectors, form


def fold_spectrum(X_train: np.ndarray, X_val: np.ndarray) -> FoldSpectrum:
    """Reduce one cross-validation fold to ``A``, eigenvalues and the projection of ``Y``."""
    eigvals, V, form = spectrum(X_train)
    V32 = V.astype(np.float32)
    if form == "primal":
        A = X_val @ V32
        project = (X_train @ V32).T  # Q^T X_tr^T
    else:
        A = (X_val @ X_train.T) @ V32
        project = V32.T
    n_val, r = A.shape
    AtA = (A.T @ A) if r < n_val else None
    return FoldSpectrum(A=A, eigvals=eigvals, project=np.ascontiguousarray(project), AtA=AtA)


def cv_scores_per_alpha(
    fold: FoldSpectrum, Y_train: np.ndarray, Y_val: np.ndarray, alphas: np.ndarray
) -> np.ndarray:
    """Validation R^2 of every alpha for every voxel of one fold: ``(n_alphas, n_voxels)``.

    Voxels whose validation variance is zero get a score of 0 for every alpha.
    """
    ops = backend(Y_train)
    B = ops.convert(fold.project) @ Y_train  # (r, v)
    centred = Y_val - Y_val.mean(0)
    sst = ops.numpy(ops.colsum_product(centred, centred))
    scores = np.empty((len(alphas), Y_val.shape[1]), dtype=np.float64)
    A = ops.convert(fold.A)
    if fold.AtA is not None:  # Gram form: ||Y - A D B||^2 = yy - 2 <C, D B> + <D B, AtA D B>
        yy = ops.colsum_product(Y_val, Y_val)
        C = A.T @ Y_val
        AtA = ops.convert(fold.AtA)
        for i, d in enumerate(_shrinkage(fold.eigvals, alphas)):
            DB = B * ops.convert(d)[:, None]
            sse = yy - 2.0 * ops.colsum_product(C, DB) + ops.colsum_product(DB, AtA @ DB)
            scores[i] = ops.numpy(sse)
    else:
        for i, d in enumerate(_shrinkage(fold.eigvals, alphas)):
            residual = Y_val - A @ (B * ops.convert(d)[:, None])
            scores[i] = ops.numpy(ops.colsum_product(residual, residual))
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1.0 - scores / sst
    r2[:, sst <= 0] = 0.0
    return r2


class _NumpyOps:
    """Array operations of the solvers on numpy arrays (the default backend)."""

    @staticmethod
    def convert(x: np.ndarray) -> np.ndarray:
        return x

    @staticmethod
    def numpy(x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64)

    @staticmethod
    def colsum_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # Accumulate in float64: the Gram form subtracts nearly equal terms.
        return np.einsum("ij,ij->j", a, b, dtype=np.float64)


class _TorchOps:
    """The same operations on torch tensors (CPU or GPU), imported only when used."""

    def __init__(self, like) -> None:
        self.device = like.device

    def convert(self, x):
        import torch

        return torch.as_tensor(np.ascontiguousarray(x), device=self.device)

    @staticmethod
    def numpy(x) -> np.ndarray:
        return x.double().cpu().numpy()

    @staticmethod
    def colsum_product(a, b):
        return (a.double() * b.double()).sum(0)


def backend(array) -> _NumpyOps | _TorchOps:
    """The operations matching ``array``'s library (numpy, or torch when it is a tensor)."""
    if isinstance(array, np.ndarray):
        return _NumpyOps()
    return _TorchOps(array)


def _shrinkage(eigvals: np.ndarray, alphas: np.ndarray) -> Iterator[np.ndarray]:
    for alpha in alphas:
        yield (1.0 / (eigvals + alpha)).astype(np.float32)


def ridge_weights(
    X: np.ndarray, Y: np.ndarray, alpha_per_voxel: np.ndarray, decomposition=None
) -> np.ndarray:
    """Ridge coefficients ``(n_features, n_voxels)`` with one alpha per voxel.

    Voxels sharing an alpha are solved together, so the cost is one pair of products per
    distinct alpha on top of one decomposition.
    """
    eigvals, V, form = decomposition if decomposition is not None else spectrum(X)
    V32 = V.astype(np.float32)
    B = V32.T @ (X.T @ Y) if form == "primal" else V32.T @ Y  # Q^T X^T Y, or U^T Y
    W = np.empty((X.shape[1], Y.shape[1]), dtype=np.float32)
    for alpha in np.unique(alpha_per_voxel):
        cols = np.flatnonzero(alpha_per_voxel == alpha)
        d = (1.0 / (eigvals + alpha)).astype(np.float32)
        scaled = B[:, cols] * d[:, None]
        W[:, cols] = V32 @ scaled if form == "primal" else X.T @ (V32 @ scaled)
    return W
