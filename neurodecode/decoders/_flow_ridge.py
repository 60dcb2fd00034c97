"""Linear decoding of optical flow: ridge from voxels to the downsampled flow field.

The decoder is the package's one linear decoder, :class:`~neurodecode.decoders.RidgeDecoder`
(``X`` = voxels, targets = every component of the grid flow: one cross-validated alpha per
flow component, folds grouped by stimulus so that repeats of a clip never straddle a split, the
dual form when voxels outnumber trials), with the targets put back in the flow's shape. The
ridge's predictions are not re-standardised (``restandardize="none"``): end-point error is a
squared-error-like loss, which re-standardising the shrunk predictions would only raise.

**Shrinkage towards the median flow.** A ridge predicts the conditional *mean* of each flow
vector, the optimum of squared error; end-point error (the norm of the error, not its square)
is minimised by the conditional *geometric median*. Where the brain leaves a patch's motion
uncertain (is the camera panning, or is the background still?) the mean hedges with a small
spurious flow that the median would not predict. :meth:`RidgeFlowDecoder.predict` therefore
applies the proximal map of the end-point norm to each predicted vector ``v``: ``c + (v - c)
max(0, 1 - tau / |v - c|)``, with ``c`` the training clips' per-patch geometric median flow
(the best constant under end-point error) and ``tau`` chosen by cross-validated end-point
error over a grid (``shrink``: fractions of the training flows' mean speed; ``(0,)`` turns it
off). The validation folds mirror the test condition: their trials are averaged over repeats
before decoding, as the test clips are. :meth:`RidgeFlowDecoder.predict_raw` gives the ridge's
own predictions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

__all__ = ["SHRINK_GRID", "RidgeFlowDecoder", "geometric_median", "shrink_flow"]

#: Default candidate thresholds of the shrinkage, as fractions of the training flows' mean speed.
SHRINK_GRID: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(21))
_CENTRE_FILE = "flow_centre.safetensors"


def geometric_median(flows: np.ndarray, n_iter: int = 100, tol: float = 1e-6) -> np.ndarray:
    """Per-component geometric median ``(...)`` of flow vectors ``(n, ..., 2)`` (Weiszfeld).

    Each position's median is the 2-D point minimising the summed distances (end-point
    errors) to the ``n`` vectors at that position, starting from the coordinate-wise median.
    """
    v = np.asarray(flows, dtype=np.float64)
    z = np.median(v, axis=0)
    for _ in range(n_iter):
        w = 1.0 / np.maximum(np.linalg.norm(v - z, axis=-1, keepdims=True), 1e-9)
        new = (w * v).sum(axis=0) / w.sum(axis=0)
        done = np.max(np.abs(new - z)) < tol
        z = new
        if done:
            break
    return z.astype(np.float32)


def shrink_flow(flows: np.ndarray, centre: np.ndarray, tau: float) -> np.ndarray:
    """Each flow vector moved ``tau`` towards ``centre`` (to it when closer): the proximal map
    of ``tau |v - centre|``, the end-point norm."""
    flows = np.asarray(flows, dtype=np.float32)
    if tau <= 0:
        return flows
    delta = flows - centre
    norm = np.linalg.norm(delta, axis=-1, keepdims=True)
    return (centre + delta * np.maximum(0.0, 1.0 - tau / np.maximum(norm, 1e-12))).astype(
        np.float32
    )


def _clip_means(X: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``X`` averaged per group (repeats of a clip), and the first row of each group."""
    ids, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    sums = np.zeros((ids.size, X.shape[1]), dtype=np.float64)
    np.add.at(sums, inverse, X)
    return (sums / np.bincount(inverse)[:, None]).astype(np.float32), first


class RidgeFlowDecoder(BaseEstimator):
    """Voxels -> grid flow ``(F, G, G, 2)`` by ridge regression, shrunk towards the median flow.

    Parameters
    ----------
    alphas : array-like, optional
        Candidate penalties (default: RidgeEncoder's log grid).
    n_splits : int
        Cross-validation folds (grouped by ``groups`` in :meth:`fit`), of the penalties and of
        the shrinkage.
    restandardize : {"none", "batch"}
        As for :class:`~neurodecode.decoders.RidgeDecoder` (default: raw ridge predictions).
    chunk_size : int
        Flow components fitted at once.
    shrink : sequence of float, optional
        Candidate shrinkage thresholds, fractions of the training flows' mean speed (default
        :data:`SHRINK_GRID`, 0 to 1); one is chosen by cross-validated end-point error. None or
        ``(0,)``: no shrinkage (and no cross-validation of it).

    Attributes
    ----------
    ridge_ : RidgeDecoder
        The fitted ridge (voxels -> flattened flow).
    flow_shape_ : tuple of int
    centre_ : ndarray, shape flow_shape_
        Per-patch geometric median of the training clips' flows.
    mean_speed_ : float
        Mean flow speed of the training clips (the unit of ``shrink``).
    shrink_ : float
        Chosen threshold, in the flows' units (0: none).
    shrink_cv_epe_ : list of float or None
        Cross-validated end-point error of each candidate of ``shrink``.
    """

    def __init__(
        self,
        alphas: Sequence[float] | None = None,
        n_splits: int = 5,
        restandardize: str = "none",
        chunk_size: int = 8192,
        shrink: Sequence[float] | None = SHRINK_GRID,
    ) -> None:
        self.alphas = alphas
        self.n_splits = n_splits
        self.restandardize = restandardize
        self.chunk_size = chunk_size
        self.shrink = shrink

    def _ridge(self) -> Any:
        from neurodecode.decoders._ridge_decoder import RidgeDecoder

        return RidgeDecoder(
            alphas=self.alphas, n_splits=self.n_splits, chunk_size=self.chunk_size,
            restandardize=self.restandardize,
        )  # fmt: skip

    def fit(self, X: Any, flows: np.ndarray, groups: np.ndarray | None = None) -> RidgeFlowDecoder:
        """Fit on responses ``X (n, voxels)`` and flows ``(n, F, G, G, 2)``; ``groups``
        (stimulus ids) keep repeats in one fold and are averaged in validation folds."""
        X = np.asarray(X, dtype=np.float32)
        flows = np.asarray(flows, dtype=np.float32)
        if flows.ndim != 5 or flows.shape[-1] != 2:
            raise ValueError(f"flows must be (n, F, G, G, 2), got {flows.shape}")
        grid = sorted({float(t) for t in (self.shrink or (0.0,))})
        if grid[0] < 0:
            raise ValueError(f"shrink thresholds must be >= 0, got {grid}")
        groups = np.arange(len(flows)) if groups is None else np.asarray(groups)
        self.flow_shape_ = tuple(int(v) for v in flows.shape[1:])
        self.ridge_ = self._ridge().fit(X, flows.reshape(len(flows), -1), groups=groups)
        self.n_features_in_ = self.ridge_.n_features_in_
        clips = flows[np.unique(groups, return_index=True)[1]]
        self.centre_ = geometric_median(clips)
        self.mean_speed_ = float(np.linalg.norm(clips, axis=-1).mean())
        self.shrink_, self.shrink_cv_epe_ = 0.0, None
        if grid != [0.0]:
            taus = np.asarray(grid) * self.mean_speed_
            self.shrink_cv_epe_ = self._cv_shrink(X, flows, groups, taus).tolist()
            self.shrink_ = float(taus[int(np.argmin(self.shrink_cv_epe_))])
        return self

    def _cv_shrink(self, X: np.ndarray, flows: np.ndarray, groups: np.ndarray,
                   taus: np.ndarray) -> np.ndarray:  # fmt: skip
        """Mean end-point error per threshold over held-out clips (repeat-averaged responses,
        ridge and median refitted on the other folds)."""
        from neurodecode.encoders._ridge import make_folds

        total, n_clips = np.zeros(taus.size), 0
        for train, held in make_folds(len(X), self.n_splits, groups):
            ridge = self._ridge().fit(X[train], flows[train].reshape(train.size, -1),
                                      groups=groups[train])  # fmt: skip
            X_held, first = _clip_means(X[held], groups[held])
            true = flows[held][first]
            pred = ridge.predict(X_held).reshape(true.shape)
            centre = geometric_median(flows[train][np.unique(groups[train], return_index=True)[1]])
            for k, tau in enumerate(taus):
                total[k] += np.linalg.norm(shrink_flow(pred, centre, tau) - true, axis=-1).mean(
                    axis=(1, 2, 3)).sum()  # fmt: skip
            n_clips += len(true)
        return total / n_clips

    @property
    def best_alphas_(self) -> np.ndarray:
        """The penalty chosen for each flow component."""
        check_is_fitted(self, "ridge_")
        return np.asarray(self.ridge_.ridge_.best_alphas_)

    def predict_raw(self, X: Any) -> np.ndarray:
        """The ridge's own decoded flow ``(n, F, G, G, 2)``, before the shrinkage."""
        check_is_fitted(self, "ridge_")
        pred = self.ridge_.predict(np.asarray(X, dtype=np.float32))
        return pred.reshape(len(pred), *self.flow_shape_)

    def predict(self, X: Any) -> np.ndarray:
        """Decoded flow ``(n, F, G, G, 2)``, shrunk by ``shrink_`` towards ``centre_``."""
        return shrink_flow(self.predict_raw(X), self.centre_, self.shrink_)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """The ridge in ``path`` (config.json + model.safetensors), ``flow.json`` and the
        median flow (``flow_centre.safetensors``)."""
        from safetensors.numpy import save_file

        from neurodecode._io import atomic_output_path, write_json_atomic

        check_is_fitted(self, "ridge_")
        folder = self.ridge_.save(path)
        with atomic_output_path(folder / _CENTRE_FILE) as tmp:
            save_file({"centre": np.ascontiguousarray(self.centre_)}, str(tmp))
        grid = None if self.shrink is None else [float(t) for t in self.shrink]
        write_json_atomic(folder / "flow.json", {
            "class": type(self).__name__, "flow_shape": list(self.flow_shape_),
            "shrink": grid, "shrink_": self.shrink_, "mean_speed_": self.mean_speed_,
            "shrink_cv_epe_": self.shrink_cv_epe_,
        })  # fmt: skip
        return folder

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RidgeFlowDecoder:
        """A decoder saved by :meth:`save`, ready to predict."""
        from safetensors.numpy import load_file

        from neurodecode._io import read_json
        from neurodecode.decoders._ridge_decoder import RidgeDecoder

        meta = read_json(Path(path) / "flow.json")
        ridge = RidgeDecoder.load(path)
        alphas = None if ridge.alphas is None else [float(a) for a in ridge.alphas]
        est = cls(alphas=alphas, n_splits=ridge.n_splits, restandardize=ridge.restandardize,
                  chunk_size=ridge.chunk_size, shrink=meta.get("shrink"))  # fmt: skip
        est.ridge_, est.flow_shape_ = ridge, tuple(meta["flow_shape"])
        est.n_features_in_ = ridge.n_features_in_
        est.shrink_ = float(meta.get("shrink_", 0.0))
        est.mean_speed_ = float(meta.get("mean_speed_", 0.0))
        est.shrink_cv_epe_ = meta.get("shrink_cv_epe_")
        centre = Path(path) / _CENTRE_FILE
        est.centre_ = (load_file(str(centre))["centre"] if centre.exists()
                       else np.zeros(est.flow_shape_, np.float32))  # fmt: skip
        return est
