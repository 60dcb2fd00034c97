"""Optical flow of stimulus clips: estimation, downsampling to a grid, and a k-means codebook.

Estimators map clips (uint8 ``(n, T, H, W, 3)``) to forward flow ``(n, T-1, H, W, 2)`` in pixels
per frame (``x`` right, ``y`` down): OpenCV's DIS (Kroeger et al. 2016; classical, no weights) by
default, torchvision's RAFT (Teed & Deng 2020) when its checkpoint is on this machine. Decoding
targets are the flow downsampled as in Yeung et al.: ``frames`` frame pairs evenly spread over the
clip, each area-averaged onto a ``grid`` x ``grid`` grid (units unchanged: pixels per frame of the
clip). :class:`~neurodecode.features.FlowCodebook` quantises the grid's vectors with k-means.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "FLOW_FRAMES",
    "FLOW_GRID",
    "DisFlowEstimator",
    "FlowExtractor",
    "RaftFlowEstimator",
    "downsample_flow",
    "flow_frame_pairs",
    "flow_from_features",
    "upsample_flow",
]

FLOW_GRID = 32
FLOW_FRAMES = 3


def flow_frame_pairs(n_pairs: int, frames: int = FLOW_FRAMES) -> np.ndarray:
    """Indices of ``frames`` frame pairs evenly spread over ``n_pairs`` (first and last kept)."""
    if frames < 1 or n_pairs < 1:
        raise ValueError(f"need >= 1 frame pair and >= 1 kept, got {n_pairs} and {frames}")
    return np.unique(np.rint(np.linspace(0, n_pairs - 1, min(frames, n_pairs))).astype(np.int64))


def downsample_flow(
    flow: np.ndarray, grid: int = FLOW_GRID, frames: int = FLOW_FRAMES
) -> np.ndarray:
    """Flow ``(n, P, H, W, 2)`` -> ``(n, frames, grid, grid, 2)``: kept pairs, area-averaged.

    ``H`` and ``W`` must be multiples of ``grid``. Vectors keep their units (pixels per frame
    of the full-size clip).
    """
    flow = np.asarray(flow, dtype=np.float32)
    if flow.ndim != 5 or flow.shape[-1] != 2:
        raise ValueError(f"expected flow (n, P, H, W, 2), got {flow.shape}")
    n, p, h, w, _ = flow.shape
    if h % grid or w % grid:
        raise ValueError(f"frame size {h}x{w} is not a multiple of the grid {grid}")
    kept = flow[:, flow_frame_pairs(p, frames)]
    blocks = kept.reshape(n, kept.shape[1], grid, h // grid, grid, w // grid, 2)
    return blocks.mean(axis=(3, 5), dtype=np.float64).astype(np.float32)


def upsample_flow(flow: np.ndarray, size: int) -> np.ndarray:
    """Grid flow ``(..., G, G, 2)`` -> ``(..., size, size, 2)`` by bilinear interpolation."""
    import torch

    flow = np.asarray(flow, dtype=np.float32)
    lead = flow.shape[:-3]
    x = torch.from_numpy(flow.reshape(-1, *flow.shape[-3:])).permute(0, 3, 1, 2)
    up = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return up.permute(0, 2, 3, 1).numpy().reshape(*lead, size, size, 2)


class DisFlowEstimator:
    """OpenCV's Dense Inverse Search optical flow on grey-level frames.

    Parameters
    ----------
    patch_size, patch_stride : int
        DIS patch size and stride (6 and 2 resolve the small frames of the synthetic clips).
    finest_scale : int
        Finest pyramid level (0: full resolution).
    """

    name = "dis"

    def __init__(self, patch_size: int = 6, patch_stride: int = 2, finest_scale: int = 0) -> None:
        self.patch_size = patch_size
        self.patch_stride = patch_stride
        self.finest_scale = finest_scale

    @property
    def config(self) -> dict[str, Any]:
        return {"estimator": "opencv-dis", "preset": "medium", "patch_size": self.patch_size,
                "patch_stride": self.patch_stride, "finest_scale": self.finest_scale}  # fmt: skip

    def __call__(self, clips: np.ndarray) -> np.ndarray:
        from neurodecode.data._video import require_opencv

        cv2 = require_opencv()
        clips = _check_clips(clips)
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        dis.setFinestScale(self.finest_scale)
        dis.setPatchSize(self.patch_size)
        dis.setPatchStride(self.patch_stride)
        n, t, h, w, _ = clips.shape
        out = np.empty((n, t - 1, h, w, 2), dtype=np.float32)
        for i, clip in enumerate(clips):
            grey = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in clip]
            for k in range(t - 1):
                out[i, k] = dis.calc(grey[k], grey[k + 1], None)
        return out


class RaftFlowEstimator:
    """torchvision's RAFT from a local checkpoint (registry names ``raft_small``, ``raft_large``).

    Frames are upsampled to a multiple of 8 no smaller than ``min_side`` (RAFT works at 1/8
    resolution) and the flow is brought back to the clip's size and units.

    Parameters
    ----------
    model : str
        Registry name of the RAFT checkpoint.
    device : str
        torch device.
    iterations : int
        RAFT's recurrent refinement steps.
    min_side : int
        Smallest side the frames are resized to.
    root : str, optional
        Extra folder searched for the checkpoint.
    """

    def __init__(self, model: str = "raft_small", device: str = "cpu", iterations: int = 12,
                 min_side: int = 128, root: str | None = None) -> None:  # fmt: skip
        self.model = model
        self.device = device
        self.iterations = iterations
        self.min_side = min_side
        self.root = root
        self._loaded: Any = None

    @property
    def name(self) -> str:
        return self.model

    @property
    def loaded(self) -> Any:
        if self._loaded is None:
            from neurodecode.models import load_model

            self._loaded = load_model(self.model, device=self.device, root=self.root)
        return self._loaded

    @property
    def config(self) -> dict[str, Any]:
        return {"estimator": self.model, "iterations": self.iterations, "min_side": self.min_side}

    def __call__(self, clips: np.ndarray) -> np.ndarray:
        import torch

        clips = _check_clips(clips)
        n, t, h, w, _ = clips.shape
        side = max(self.min_side, int(np.ceil(max(h, w) / 8) * 8))
        net = self.loaded.model
        out = np.empty((n, t - 1, h, w, 2), dtype=np.float32)
        with torch.no_grad():
            for i, clip in enumerate(clips):
                x = torch.from_numpy(np.ascontiguousarray(clip)).permute(0, 3, 1, 2).float()
                x = torch.nn.functional.interpolate(x, size=(side, side), mode="bilinear",
                                                    align_corners=False)  # fmt: skip
                x = (x / 127.5 - 1.0).to(self.device)
                flows = net(x[:-1], x[1:], num_flow_updates=self.iterations)[-1]
                flows = torch.nn.functional.interpolate(flows, size=(h, w), mode="bilinear",
                                                        align_corners=False)  # fmt: skip
                scale = torch.tensor([w / side, h / side], device=flows.device)[None, :, None, None]
                out[i] = (flows * scale).permute(0, 2, 3, 1).cpu().numpy()
        return out


def _check_clips(clips: np.ndarray) -> np.ndarray:
    clips = np.asarray(clips)
    if clips.ndim != 5 or clips.shape[-1] != 3 or clips.dtype != np.uint8 or clips.shape[1] < 2:
        got = f"{clips.dtype} {clips.shape}"
        raise ValueError(f"expected uint8 clips (n, T >= 2, H, W, 3), got {got}")
    return clips


class FlowExtractor:
    """Grid flow of clips as a feature space: ``(n, frames * grid * grid * 2)`` per batch.

    A feature file of it holds each clip's downsampled flow flattened row-major over
    ``(frame, row, column, (dx, dy))``; :func:`flow_from_features` puts it back in shape.

    Parameters
    ----------
    estimator : DisFlowEstimator or RaftFlowEstimator
    name : str
        Feature-space (and extractor) name.
    grid, frames : int
        See :func:`downsample_flow`.
    """

    modality = "video"

    def __init__(self, estimator: Any, name: str, grid: int = FLOW_GRID,
                 frames: int = FLOW_FRAMES) -> None:  # fmt: skip
        self.estimator = estimator
        self.name = name
        self.model = name
        self.grid = grid
        self.frames = frames

    @property
    def dim(self) -> int:
        return self.frames * self.grid * self.grid * 2

    @property
    def weights_sha256(self) -> str:
        loaded = getattr(self.estimator, "loaded", None)
        return str(loaded.weights_sha256) if loaded is not None else ""

    def weights_path(self) -> Any:
        if isinstance(self.estimator, RaftFlowEstimator):
            from neurodecode.models import resolve_weights

            return resolve_weights(self.estimator.model, self.estimator.root)
        return None

    @property
    def config(self) -> dict[str, Any]:
        return {"model": self.name, "modality": "video", "grid": self.grid,
                "frames": self.frames, "layout": "frame,row,column,(dx,dy)",
                "units": "pixels per frame of the clip", **self.estimator.config}  # fmt: skip

    def __call__(self, clips: np.ndarray) -> np.ndarray:
        flow = downsample_flow(self.estimator(clips), self.grid, self.frames)
        return flow.reshape(len(flow), -1)


def flow_from_features(
    X: np.ndarray, grid: int = FLOW_GRID, frames: int = FLOW_FRAMES
) -> np.ndarray:
    """Rows of a flow feature file -> ``(n, frames, grid, grid, 2)``."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != frames * grid * grid * 2:
        raise ValueError(f"{X.shape}: not flow features of {frames} frames on a {grid} grid")
    return X.reshape(len(X), frames, grid, grid, 2)
