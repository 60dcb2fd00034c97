"""Animating a first frame with a decoded flow, and the seam for video diffusion models.

A *motion-conditioned video model* is anything with this call (:class:`MotionVideoModel`)::

    frames = model(first_frame, flow, num_frames=8, generator=None)

``first_frame`` uint8 ``(H, W, 3)``; ``flow`` the decoded grid flow ``(F, G, G, 2)`` in pixels
per frame of the clip (the ``F`` kept frame pairs spread evenly over the clip); the result uint8
``(num_frames, H, W, 3)`` whose first frame is (close to) ``first_frame``. :class:`WarpAnimator`
is the default: it warps the first frame along the flow, upsampled to the frame and
interpolated in time between the kept pairs. :func:`load_motion_video_model` opens a
motion-conditioned video diffusion model from a local folder (a diffusers pipeline whose call
takes the first frame and the flow; Yeung et al. use such a model), and
:class:`DiffusersMotionVideoModel` adapts its call to the one above.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np

__all__ = [
    "DiffusersMotionVideoModel",
    "MotionVideoModel",
    "WarpAnimator",
    "load_motion_video_model",
    "save_gif",
    "temporal_flow",
]

#: Optional file of a model folder naming how its pipeline takes the flow.
SEAM_FILE = "neurodecode_motion.json"


class MotionVideoModel(Protocol):
    """The call every animator offers (see the module notes)."""

    def __call__(self, first_frame: np.ndarray, flow: np.ndarray, num_frames: int = 8,
                 generator: Any = None) -> np.ndarray: ...  # fmt: skip


def temporal_flow(flow: np.ndarray, n_pairs: int) -> np.ndarray:
    """Kept pairs ``(F, G, G, 2)`` -> every pair ``(n_pairs, G, G, 2)``, linear in time.

    The kept pairs sit at :func:`~neurodecode.features.flow_frame_pairs` of ``n_pairs``.
    """
    from neurodecode.features import flow_frame_pairs

    flow = np.asarray(flow, dtype=np.float32)
    at = flow_frame_pairs(n_pairs, flow.shape[0]).astype(np.float64)
    if at.size == 1:
        return np.repeat(flow[:1], n_pairs, axis=0)
    t = np.arange(n_pairs, dtype=np.float64)
    hi = np.clip(np.searchsorted(at, t, side="right"), 1, at.size - 1)
    lo = hi - 1
    w = np.clip((t - at[lo]) / (at[hi] - at[lo]), 0.0, 1.0)[:, None, None, None]
    return (flow[lo] * (1 - w) + flow[hi] * w).astype(np.float32)


class WarpAnimator:
    """Warp the first frame along the decoded flow, one frame pair at a time.

    Each next frame samples the previous one at ``p - flow(p)`` (bilinear; the flow is
    upsampled bilinearly from its grid to the frame), which moves content along the flow.
    """

    def __call__(self, first_frame: np.ndarray, flow: np.ndarray, num_frames: int = 8,
                 generator: Any = None) -> np.ndarray:  # fmt: skip
        import torch

        from neurodecode.features import upsample_flow

        image = np.asarray(first_frame)
        if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
            got = f"{image.dtype} {image.shape}"
            raise ValueError(f"first_frame must be uint8 (H, W, 3), got {got}")
        h, w = image.shape[:2]
        if h != w:
            raise ValueError(f"first_frame must be square, got {h}x{w}")
        pairs = upsample_flow(temporal_flow(flow, num_frames - 1), h)  # (T-1, H, W, 2)
        x = torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1)[None]
        ys, xs = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32),
                             indexing="ij")  # fmt: skip
        frames = [image]
        for step in pairs:
            sx = (xs - step[..., 0] + 0.5) / w * 2 - 1  # grid_sample's [-1, 1] pixel edges
            sy = (ys - step[..., 1] + 0.5) / h * 2 - 1
            grid = torch.from_numpy(np.stack([sx, sy], axis=-1))[None]
            x = torch.nn.functional.grid_sample(
                x, grid, mode="bilinear", padding_mode="border", align_corners=False
            )
            frame = np.clip(np.rint(x[0].permute(1, 2, 0).numpy()), 0, 255)
            frames.append(frame.astype(np.uint8))
        return np.stack(frames)


class DiffusersMotionVideoModel:
    """A diffusers pipeline behind the :class:`MotionVideoModel` call.

    The pipeline is called with ``image`` (the first frame, PIL), the flow under the keyword
    ``flow_argument`` (a float32 tensor ``(F, 2, G, G)``), ``num_frames``, ``generator`` and
    ``output_type="np"``; its ``frames`` output (``(1, T, H, W, 3)`` in [0, 1], diffusers'
    video convention) becomes uint8 ``(T, H, W, 3)``.

    Parameters
    ----------
    pipeline : callable
        The loaded pipeline (injected, as diffusers components are).
    flow_argument : str
        Keyword of the pipeline's call that takes the flow.
    extra : dict, optional
        Further keywords passed on every call (e.g. ``num_inference_steps``).
    """

    def __init__(self, pipeline: Any, flow_argument: str = "flow",
                 extra: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.pipeline = pipeline
        self.flow_argument = flow_argument
        self.extra = dict(extra or {})

    def __call__(self, first_frame: np.ndarray, flow: np.ndarray, num_frames: int = 8,
                 generator: Any = None) -> np.ndarray:  # fmt: skip
        import torch
        from PIL import Image

        tensor = torch.from_numpy(np.asarray(flow, dtype=np.float32)).permute(0, 3, 1, 2)
        out = self.pipeline(image=Image.fromarray(np.asarray(first_frame)),
                            num_frames=num_frames, generator=generator, output_type="np",
                            **{self.flow_argument: tensor}, **self.extra)  # fmt: skip
        frames = np.asarray(getattr(out, "frames", out))
        if frames.ndim == 5:
            frames = frames[0]
        if frames.dtype != np.uint8:
            frames = np.clip(np.rint(frames * 255.0), 0, 255).astype(np.uint8)
        return frames


def load_motion_video_model(folder: str | os.PathLike[str], device: str = "cpu") -> Any:
    """A motion-conditioned video diffusion model from a local folder.

    The folder is a diffusers pipeline (``model_index.json`` and its components' weights;
    a community pipeline's code may sit beside them as ``pipeline.py``); an optional
    ``neurodecode_motion.json`` gives ``flow_argument`` and extra call keywords. Nothing is
    downloaded.

    Raises
    ------
    WeightsNotFoundError
        The folder holds no diffusers pipeline.
    """
    import json

    from neurodecode.models import WeightsNotFoundError

    folder = Path(folder)
    if not (folder / "model_index.json").is_file():
        raise WeightsNotFoundError(
            f"{folder}: no motion-conditioned video model here (expected a diffusers pipeline "
            "folder with model_index.json and its weights; see neurodecode.decoders."
            "load_motion_video_model). Without one, animations warp the first frame."
        )
    import diffusers

    options: dict[str, Any] = {}
    if (folder / SEAM_FILE).is_file():
        options = json.loads((folder / SEAM_FILE).read_text(encoding="utf-8"))
    custom = folder / "pipeline.py"
    pipe = diffusers.DiffusionPipeline.from_pretrained(
        folder, local_files_only=True,
        **({"custom_pipeline": str(custom)} if custom.is_file() else {}),
    ).to(device)  # fmt: skip
    return DiffusersMotionVideoModel(pipe, options.get("flow_argument", "flow"),
                                     options.get("extra"))  # fmt: skip


def save_gif(path: str | os.PathLike[str], frames: np.ndarray, fps: float = 4.0) -> Path:
    """Frames uint8 ``(T, H, W, 3)`` as a looping GIF (PIL), written atomically."""
    from PIL import Image

    from neurodecode._io import atomic_output_path

    images = [Image.fromarray(np.asarray(f, dtype=np.uint8)) for f in frames]
    with atomic_output_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=round(1000 / fps), loop=0)  # fmt: skip
    return Path(path)
