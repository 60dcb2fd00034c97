"""Linear decoding of optical flow: ridge from voxels to the downsampled flow field.

The decoder is :class:`~neurodecode.encoders.RidgeEncoder` with the roles swapped (``X`` =
voxels, targets = every component of the grid flow): one cross-validated alpha per flow
component, folds grouped by stimulus so that repeats of a clip never straddle a split, the dual
(kernel) form when voxels outnumber trials.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

__all__ = ["RidgeFlowDecoder"]


class RidgeFlowDecoder(BaseEstimator):
    """Voxels -> grid flow ``(F, G, G, 2)`` by ridge regression.

    Parameters
    ----------
    alphas : array-like, optional
        Candidate penalties (default: RidgeEncoder's log grid 10^-2..10^6).
    n_splits : int
        Cross-validation folds (grouped by ``groups`` in :meth:`fit`).
    chunk_size : int
        Flow components fitted at once.
    backend, device : str
        As for :class:`~neurodecode.encoders.RidgeEncoder`.

    Attributes
    ----------
    encoder_ : RidgeEncoder
        The fitted ridge (voxels -> flattened flow).
    flow_shape_ : tuple of int
    """

    def __init__(
        self,
        alphas: Sequence[float] | None = None,
        n_splits: int = 5,
        chunk_size: int = 8192,
        backend: str = "numpy",
        device: str = "cpu",
    ) -> None:
        self.alphas = alphas
        self.n_splits = n_splits
        self.chunk_size = chunk_size
        self.backend = backend
        self.device = device

    def fit(self, X: Any, flows: np.ndarray, groups: np.ndarray | None = None) -> RidgeFlowDecoder:
        """Fit on responses ``X (n, voxels)`` (any row-sliceable array) and flows
        ``(n, F, G, G, 2)``; ``groups`` (stimulus ids) keep repeats in one fold."""
        from neurodecode.encoders import RidgeEncoder

        flows = np.asarray(flows, dtype=np.float32)
        if flows.ndim != 5 or flows.shape[-1] != 2:
            raise ValueError(f"flows must be (n, F, G, G, 2), got {flows.shape}")
        self.flow_shape_ = tuple(int(v) for v in flows.shape[1:])
        self.encoder_ = RidgeEncoder(
            alphas=self.alphas, n_splits=self.n_splits, chunk_size=self.chunk_size,
            backend=self.backend, device=self.device,
        ).fit(X, flows.reshape(len(flows), -1), groups=groups)  # fmt: skip
        self.n_features_in_ = self.encoder_.n_features_in_
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Decoded flow ``(n, F, G, G, 2)``."""
        check_is_fitted(self, "encoder_")
        pred = np.atleast_2d(self.encoder_.predict(np.asarray(X, dtype=np.float32)))
        return pred.reshape(len(pred), *self.flow_shape_)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """The ridge in ``path`` (config.json + model.safetensors) and ``flow.json``."""
        from neurodecode._io import write_json_atomic

        check_is_fitted(self, "encoder_")
        folder = self.encoder_.save(path)
        write_json_atomic(folder / "flow.json", {"class": type(self).__name__,
                                                 "flow_shape": list(self.flow_shape_)})  # fmt: skip
        return folder

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RidgeFlowDecoder:
        from neurodecode._io import read_json
        from neurodecode.encoders import RidgeEncoder

        meta = read_json(Path(path) / "flow.json")
        encoder = RidgeEncoder.load(path)
        est = cls(alphas=encoder.alphas, n_splits=encoder.n_splits,
                  chunk_size=encoder.chunk_size)  # fmt: skip
        est.encoder_, est.flow_shape_ = encoder, tuple(meta["flow_shape"])
        est.n_features_in_ = encoder.n_features_in_
        return est
