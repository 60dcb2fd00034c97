"""Linear decoding of optical flow: ridge from voxels to the downsampled flow field.

The decoder is the package's one linear decoder, :class:`~neurodecode.decoders.RidgeDecoder`
(``X`` = voxels, targets = every component of the grid flow: one cross-validated alpha per
flow component, folds grouped by stimulus so that repeats of a clip never straddle a split, the
dual form when voxels outnumber trials), with the targets put back in the flow's shape. Its
predictions are the ridge's own (``restandardize="none"`` by default): end-point error is a
squared-error-like loss, which re-standardising the shrunk predictions would only raise.
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
        Candidate penalties (default: RidgeEncoder's log grid).
    n_splits : int
        Cross-validation folds (grouped by ``groups`` in :meth:`fit`).
    restandardize : {"none", "batch"}
        As for :class:`~neurodecode.decoders.RidgeDecoder` (default: raw ridge predictions).
    chunk_size : int
        Flow components fitted at once.

    Attributes
    ----------
    ridge_ : RidgeDecoder
        The fitted ridge (voxels -> flattened flow).
    flow_shape_ : tuple of int
    """

    def __init__(
        self,
        alphas: Sequence[float] | None = None,
        n_splits: int = 5,
        restandardize: str = "none",
        chunk_size: int = 8192,
    ) -> None:
        self.alphas = alphas
        self.n_splits = n_splits
        self.restandardize = restandardize
        self.chunk_size = chunk_size

    def fit(self, X: Any, flows: np.ndarray, groups: np.ndarray | None = None) -> RidgeFlowDecoder:
        """Fit on responses ``X (n, voxels)`` and flows ``(n, F, G, G, 2)``; ``groups``
        (stimulus ids) keep repeats in one fold."""
        from neurodecode.decoders._ridge_decoder import RidgeDecoder

        flows = np.asarray(flows, dtype=np.float32)
        if flows.ndim != 5 or flows.shape[-1] != 2:
            raise ValueError(f"flows must be (n, F, G, G, 2), got {flows.shape}")
        self.flow_shape_ = tuple(int(v) for v in flows.shape[1:])
        self.ridge_ = RidgeDecoder(
            alphas=self.alphas, n_splits=self.n_splits, chunk_size=self.chunk_size,
            restandardize=self.restandardize,
        ).fit(X, flows.reshape(len(flows), -1), groups=groups)  # fmt: skip
        self.n_features_in_ = self.ridge_.n_features_in_
        return self

    @property
    def best_alphas_(self) -> np.ndarray:
        """The penalty chosen for each flow component."""
        check_is_fitted(self, "ridge_")
        return np.asarray(self.ridge_.ridge_.best_alphas_)

    def predict(self, X: Any) -> np.ndarray:
        """Decoded flow ``(n, F, G, G, 2)``."""
        check_is_fitted(self, "ridge_")
        pred = self.ridge_.predict(np.asarray(X, dtype=np.float32))
        return pred.reshape(len(pred), *self.flow_shape_)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """The ridge in ``path`` (config.json + model.safetensors) and ``flow.json``."""
        from neurodecode._io import write_json_atomic

        check_is_fitted(self, "ridge_")
        folder = self.ridge_.save(path)
        write_json_atomic(folder / "flow.json", {"class": type(self).__name__,
                                                 "flow_shape": list(self.flow_shape_)})  # fmt: skip
        return folder

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RidgeFlowDecoder:
        """A decoder saved by :meth:`save`, ready to predict."""
        from neurodecode._io import read_json
        from neurodecode.decoders._ridge_decoder import RidgeDecoder

        meta = read_json(Path(path) / "flow.json")
        ridge = RidgeDecoder.load(path)
        alphas = None if ridge.alphas is None else [float(a) for a in ridge.alphas]
        est = cls(alphas=alphas, n_splits=ridge.n_splits,
                  restandardize=ridge.restandardize, chunk_size=ridge.chunk_size)  # fmt: skip
        est.ridge_, est.flow_shape_ = ridge, tuple(meta["flow_shape"])
        est.n_features_in_ = ridge.n_features_in_
        return est
