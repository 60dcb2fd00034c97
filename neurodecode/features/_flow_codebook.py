"""A k-means codebook of grid flow vectors (scikit-learn)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

__all__ = ["FlowCodebook"]


class FlowCodebook(BaseEstimator):
    """A k-means codebook of grid flow vectors: the quantised targets of the codebook decoder.

    Parameters
    ----------
    n_clusters : int
        Codebook size (Yeung et al.: 40).
    max_samples : int
        Vectors drawn (at random) to fit k-means on; all of them when fewer.
    random_state : int
        Seeds the draw and k-means.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, 2)
        The codebook's flow vectors (pixels per frame).
    """

    def __init__(self, n_clusters: int = 40, max_samples: int = 50_000, random_state: int = 0):
        self.n_clusters = n_clusters
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, flows: np.ndarray, y: Any = None) -> FlowCodebook:
        """Fit on grid flows ``(n, F, G, G, 2)`` (or any ``(..., 2)`` array of vectors)."""
        from sklearn.cluster import KMeans

        vectors = np.asarray(flows, dtype=np.float32).reshape(-1, 2)
        if len(vectors) < self.n_clusters:
            raise ValueError(f"{len(vectors)} flow vectors for {self.n_clusters} clusters")
        rng = np.random.default_rng(self.random_state)
        if len(vectors) > self.max_samples:
            vectors = vectors[rng.choice(len(vectors), self.max_samples, replace=False)]
        km = KMeans(self.n_clusters, n_init=3, random_state=self.random_state).fit(vectors)
        self.cluster_centers_ = km.cluster_centers_.astype(np.float32)
        return self

    def predict(self, flows: np.ndarray) -> np.ndarray:
        """Index of the nearest centre of every vector: ``flows.shape[:-1]`` int64."""
        check_is_fitted(self, "cluster_centers_")
        flows = np.asarray(flows, dtype=np.float32)
        vectors = flows.reshape(-1, 2)
        labels = np.empty(len(vectors), dtype=np.int64)
        for start in range(0, len(vectors), 1 << 18):
            v = vectors[start : start + (1 << 18)]
            d2 = ((v[:, None, :] - self.cluster_centers_[None]) ** 2).sum(axis=-1)
            labels[start : start + len(v)] = d2.argmin(axis=1)
        return labels.reshape(flows.shape[:-1])

    def reconstruct(self, labels: np.ndarray) -> np.ndarray:
        """The centres of ``labels``: flows ``labels.shape + (2,)``."""
        check_is_fitted(self, "cluster_centers_")
        return self.cluster_centers_[np.asarray(labels, dtype=np.int64)]

    def expected_flow(self, probabilities: np.ndarray) -> np.ndarray:
        """Probability-weighted sum of the centres: ``(..., K)`` -> ``(..., 2)``."""
        check_is_fitted(self, "cluster_centers_")
        return np.asarray(probabilities, dtype=np.float32) @ self.cluster_centers_
