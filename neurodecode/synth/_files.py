"""Small atomic writers shared by the synthetic release writers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode._io import atomic_output_path, atomic_write

__all__ = [
    "Progress",
    "column_volume",
    "save_nifti",
    "save_npy",
    "save_pickle",
    "save_text",
    "save_video",
    "write_coco_captions",
]

#: Called with a short message after each file (the CLI prints it; tests pass ``None``).
Progress = Callable[[str], None] | None


def save_nifti(path: Path, data: np.ndarray, affine: np.ndarray) -> None:
    """Write a NIfTI-1 image atomically (dtype kept as given)."""
    import nibabel as nib

    with atomic_output_path(path) as tmp:
        image = nib.Nifti1Image(data, affine)
        image.header.set_xyzt_units("mm", "sec")
        nib.save(image, tmp)


def save_pickle(path: Path, obj: Any) -> None:
    """Pickle ``obj`` atomically (the release formats that are pickles: BOLD Moments)."""
    import pickle

    with atomic_write(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)


def save_npy(path: Path, obj: Any) -> None:
    """``numpy.save`` atomically; a dict is saved as numpy does (a pickled 0-d object array)."""
    with atomic_write(path, "wb") as fh:
        np.save(fh, obj, allow_pickle=isinstance(obj, dict))


def save_video(path: Path, frames: np.ndarray, fps: float) -> None:
    """Frames uint8 ``(T, H, W, 3)`` RGB as an MPEG-4 file, atomically (OpenCV).

    The frames are PNG-coded in the MP4 container (lossless: the synthetic clips' pixels are
    their ground truth, as the other writers keep their images exact); OpenCV builds without
    that encoder fall back to MPEG-4 Part 2 (``mp4v``, lossy).
    """
    try:
        import cv2
    except ImportError:
        raise ImportError(
            "writing videos needs OpenCV: pip install opencv-python-headless "
            "(or neurodecode[video])"
        ) from None
    height, width = frames.shape[1:3]
    with atomic_output_path(path) as tmp:
        for codec in ("png ", "mp4v"):
            writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*codec), fps, (width, height))
            if writer.isOpened():
                break
        else:
            raise OSError(f"{path}: OpenCV cannot write MPEG-4 video here")
        try:
            for frame in frames:
                writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
        finally:
            writer.release()


def save_text(path: Path, text: str) -> None:
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def column_volume(
    mask: np.ndarray, values: np.ndarray, fill: float | int, dtype: Any
) -> np.ndarray:
    """Scatter per-voxel ``values`` (``(n_voxels, ...)`` in C order of ``mask``) into a volume.

    Trailing axes of ``values`` become trailing axes of the volume (``(X, Y, Z, T)``).
    """
    out = np.full(mask.shape + values.shape[1:], fill, dtype=dtype)
    out[mask] = values
    return out


def write_coco_captions(
    path: Path, image_ids: list[int], file_names: list[str], captions: list[list[str]], size: int
) -> None:
    """A COCO-style caption JSON (``info``, ``licenses``, ``images``, ``annotations``)."""
    images = [
        {"id": int(i), "file_name": name, "height": size, "width": size, "license": 0}
        for i, name in zip(image_ids, file_names, strict=True)
    ]
    annotations: list[dict[str, Any]] = []
    for image_id, caps in zip(image_ids, captions, strict=True):
        for caption in caps:
            annotations.append(
                {"id": len(annotations) + 1, "image_id": int(image_id), "caption": caption}
            )
    doc = {
        "info": {"description": "neurodecode synthetic world (COCO caption format)"},
        "licenses": [{"id": 0, "name": "CC0"}],
        "images": images,
        "annotations": annotations,
    }
    with atomic_write(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh)


def report(progress: Progress, message: str) -> None:
    if progress is not None:
        progress(message)
