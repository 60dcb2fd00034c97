"""Reading stimulus videos (OpenCV, imported on first use; ``pip install neurodecode[video]``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from neurodecode.data._errors import ReleaseError

__all__ = ["read_video", "require_opencv"]


def require_opencv():
    """The ``cv2`` module, or an error saying how to install it."""
    try:
        import cv2
    except ImportError:
        raise ImportError(
            "reading and writing videos needs OpenCV: pip install opencv-python-headless "
            "(or neurodecode[video])"
        ) from None
    return cv2


def read_video(path: str | os.PathLike[str]) -> np.ndarray:
    """Every frame of a video file: uint8 ``(T, H, W, 3)`` RGB."""
    cv2 = require_opencv()
    path = Path(path)
    if not path.is_file():
        raise ReleaseError(path, "stimulus video is missing")
    capture = cv2.VideoCapture(str(path))
    frames = []
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
    if not frames:
        raise ReleaseError(path, "no frame could be decoded", "a video OpenCV reads")
    return np.stack(frames)
