"""Randomized PCA of the standardised training voxels, for the encoders' input adapter.

The contrastive encoders can map each subject's standardised voxels onto their leading
principal components before the first trainable layer (``ContrastiveConfig.pca_components``).
The projection is fitted once, before training, by randomized subspace iteration (Halko,
Martinsson & Tropp, 2011, algorithm 4.4), and kept in the adapter as a buffer, so the saved
encoder still takes raw voxels. Every pass over the data reads it in row chunks, so a memory
map or a lazy row view is never loaded whole: ``2 + 2 * n_iter`` passes in all.

Exact SVD of the demo world's 6,000 x 4,802 training matrix cost 31 CPU seconds; the
randomized version needs a few matrix products of that matrix with ``n_components +
n_oversamples`` columns instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["fit_input_pca", "project_inputs"]

_CHUNK = 4096


def _standardized_blocks(voxels: Any, mean: np.ndarray, scale: np.ndarray) -> Any:
    for start in range(0, len(voxels), _CHUNK):
        block = np.asarray(voxels[start : start + _CHUNK], dtype=np.float32)
        yield start, (block - mean) / scale


def _times(voxels: Any, mean: np.ndarray, scale: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``A @ right`` for the standardised data ``A`` (n, v); ``right`` is (v, l)."""
    out = np.empty((len(voxels), right.shape[1]), dtype=np.float32)
    for start, block in _standardized_blocks(voxels, mean, scale):
        out[start : start + len(block)] = block @ right
    return out


def _transpose_times(
    voxels: Any, mean: np.ndarray, scale: np.ndarray, left: np.ndarray
) -> np.ndarray:
    """``A.T @ left`` for the standardised data ``A`` (n, v); ``left`` is (n, l)."""
    out = np.zeros((voxels.shape[1], left.shape[1]), dtype=np.float32)
    for start, block in _standardized_blocks(voxels, mean, scale):
        out += block.T @ left[start : start + len(block)]
    return out


def _orthonormal(a: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the columns of a tall ``a``, by CholeskyQR2 in float64.

    Two rounds of ``a <- a @ inv(chol(a.T @ a)).T`` restore orthogonality to rounding level
    for the moderately conditioned blocks of subspace iteration, and cost a Gram matrix and a
    triangular solve: a tenth of Householder QR's CPU time at the demo's size (6,000 x 522:
    4.3 CPU s for numpy's QR). A Gram matrix that is not positive definite (rank-deficient
    block) falls back to Householder QR.
    """
    from scipy.linalg import solve_triangular

    q = a.astype(np.float64)
    for _ in range(2):
        try:
            lower = np.linalg.cholesky(q.T @ q)
        except np.linalg.LinAlgError:
            return np.linalg.qr(a.astype(np.float64))[0].astype(np.float32)
        q = solve_triangular(lower, q.T, lower=True).T
    return q.astype(np.float32)


def fit_input_pca(
    voxels: Any,
    mean: np.ndarray,
    scale: np.ndarray,
    n_components: int,
    *,
    n_iter: int = 2,
    n_oversamples: int = 10,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Leading principal axes of the standardised voxels, by randomized subspace iteration.

    Parameters
    ----------
    voxels : array-like of shape (n_samples, n_voxels)
        Any row-indexable array; read in row chunks, ``2 + 2 * n_iter`` times.
    mean, scale : ndarray of shape (n_voxels,)
        The standardiser: the data are ``(voxels - mean) / scale`` (centred when ``mean`` is
        the training mean, so the singular vectors are principal axes).
    n_components : int
        Axes returned. When the data have fewer than ``n_components`` dimensions
        (``min(n_samples, n_voxels)``), the missing axes are zero columns: they carry no
        training variance, so the adapter's input width stays ``n_components``.
    n_iter : int, default=2
        Power (subspace) iterations; each sharpens the separation of the leading axes from
        the tail at the cost of two passes over the data.
    n_oversamples : int, default=10
        Extra random directions of the range finder.
    rng : numpy.random.Generator
        Source of the random test matrix.

    Returns
    -------
    components : ndarray of shape (n_voxels, n_components), float32
        Orthonormal columns (zero columns past the data's rank).
    singular_values : ndarray of shape (n_components,), float32
        Of the standardised data, descending (zeros past its rank).
    """
    n, v = len(voxels), int(voxels.shape[1])
    if n_components < 1:
        raise ValueError(f"n_components must be >= 1, got {n_components}")
    if n_iter < 0 or n_oversamples < 0:
        raise ValueError("n_iter and n_oversamples must be >= 0")
    mean = np.asarray(mean, dtype=np.float32)
    scale = np.asarray(scale, dtype=np.float32)
    rank = min(n_components, n, v)
    width = min(rank + n_oversamples, n, v)
    omega = rng.standard_normal((v, width), dtype=np.float32)
    q = _orthonormal(_times(voxels, mean, scale, omega))
    for _ in range(n_iter):
        q = _orthonormal(_transpose_times(voxels, mean, scale, q))
        q = _orthonormal(_times(voxels, mean, scale, q))
    small = _transpose_times(voxels, mean, scale, q).astype(np.float64)  # (v, width) = A.T @ Q
    # SVD of the small factor through the eigenvectors of its (width x width) Gram matrix:
    # the leading axes are exact to rounding, at a fraction of a full SVD's cost.
    eigval, eigvec = np.linalg.eigh(small.T @ small)
    order = np.argsort(eigval)[::-1][:rank]
    s = np.sqrt(np.maximum(eigval[order], 0.0))
    axes = small @ (eigvec[:, order] / np.where(s > 0, s, 1.0))
    components = np.zeros((v, n_components), dtype=np.float32)
    components[:, :rank] = axes
    values = np.zeros(n_components, dtype=np.float32)
    values[:rank] = s
    return components, values


def project_inputs(
    voxels: Any, mean: np.ndarray, scale: np.ndarray, components: np.ndarray
) -> np.ndarray:
    """``((voxels - mean) / scale) @ components`` in row chunks, float32 (n, n_components)."""
    return _times(
        voxels,
        np.asarray(mean, dtype=np.float32),
        np.asarray(scale, dtype=np.float32),
        np.asarray(components, dtype=np.float32),
    )
