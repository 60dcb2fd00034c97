"""The motion feature space of the video world, and the truth features of clips.

``'motion'`` is an MT-like motion energy: for each cell of a ``MOTION_GRID`` x ``MOTION_GRID``
grid over the frame, each of ``MOTION_DIRECTIONS`` directions and each speed of
``MOTION_SPEEDS``, the mean over the cell's pixels and the clip's frame pairs of the flow's
tuning weights there. A flow vector of speed ``s`` and direction ``theta`` splits its unit
weight between the two nearest direction bins (linear on the circle) and the two nearest speed
bins (linear in log2 speed; below the slowest bin the weight falls linearly to 0 at rest), so a
cell's mean flow is close to a linear function of its energies: what an MT population carries.
Flow is measured in pixels per frame of a 64-pixel frame (other sizes are rescaled).

The space has two halves: the energy of the flow itself (what MT cells that integrate motion
over their receptive field see) and the energy of the flow relative to the frame's mean flow
(what MT cells with antagonistic surrounds see: about half of MT's cells are suppressed by
wide-field motion, so they signal an object's motion against a moving background).
"""

from __future__ import annotations

import numpy as np

from neurodecode.synth._truth import TRUTH_SPACES, truth_features

__all__ = [
    "MOTION_DIM",
    "MOTION_DIRECTIONS",
    "MOTION_GRID",
    "MOTION_HALF",
    "MOTION_SPEEDS",
    "VIDEO_TRUTH_SPACES",
    "motion_energy",
    "motion_features",
    "video_truth_features",
]

MOTION_GRID = 8
MOTION_DIRECTIONS = 8
#: Speed bins (pixels per frame at a 64-pixel side).
MOTION_SPEEDS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
#: Size of each half of the space (integrative, then surround-antagonistic).
MOTION_HALF = MOTION_GRID * MOTION_GRID * MOTION_DIRECTIONS * len(MOTION_SPEEDS)
MOTION_DIM = 2 * MOTION_HALF
#: The image world's spaces plus 'motion'.
VIDEO_TRUTH_SPACES: dict[str, int] = {**TRUTH_SPACES, "motion": MOTION_DIM}
_CANON = 64.0


def _speed_weights(speed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two speed bins per sample and their weights (hat functions in log2 speed)."""
    logs = np.log2(np.asarray(MOTION_SPEEDS))
    n_bins = logs.size
    ls = np.log2(np.maximum(speed, 1e-6))
    pos = np.clip((ls - logs[0]) / (logs[1] - logs[0]), 0.0, n_bins - 1.0)
    lo = np.minimum(np.floor(pos).astype(np.int64), n_bins - 2)
    frac = pos - lo
    scale = np.clip(speed / MOTION_SPEEDS[0], 0.0, 1.0)  # rest carries no energy
    return lo, lo + 1, (1.0 - frac) * scale, frac * scale


def motion_energy(flow: np.ndarray, chunk: int = 16) -> np.ndarray:
    """Motion energy of clips from their flow.

    Parameters
    ----------
    flow : ndarray, shape (n, P, H, W, 2)
        Forward flow of ``P`` frame pairs, pixels per frame (``x`` right, ``y`` down).
    chunk : int
        Clips processed at once (bounds memory).

    Returns
    -------
    ndarray of float32, shape (n, MOTION_HALF)
        Row-major over (cell row, cell column, direction, speed); directions are
        ``2 pi k / MOTION_DIRECTIONS`` counter-clockwise from +x in image coordinates (so the
        second bin points down-right on screen).
    """
    flow = np.asarray(flow, dtype=np.float32)
    if flow.ndim != 5 or flow.shape[-1] != 2:
        raise ValueError(f"expected flow of shape (n, P, H, W, 2), got {flow.shape}")
    n, p, h, w, _ = flow.shape
    out = np.zeros((n, MOTION_HALF), dtype=np.float32)
    rows = (np.arange(h) * MOTION_GRID) // h
    cols = (np.arange(w) * MOTION_GRID) // w
    cell = (rows[:, None] * MOTION_GRID + cols[None, :]).ravel()  # (H*W,)
    per_cell = np.bincount(cell, minlength=MOTION_GRID**2).astype(np.float64)
    n_speed, n_dir = len(MOTION_SPEEDS), MOTION_DIRECTIONS
    for start in range(0, n, chunk):
        f = flow[start : start + chunk].astype(np.float64) * (_CANON / w)
        m = f.shape[0]
        fx, fy = f[..., 0].reshape(m, p, -1), f[..., 1].reshape(m, p, -1)
        speed = np.hypot(fx, fy)
        angle = np.mod(np.arctan2(fy, fx), 2 * np.pi) / (2 * np.pi / n_dir)
        d0 = np.floor(angle).astype(np.int64) % n_dir
        d1 = (d0 + 1) % n_dir
        dfrac = angle - np.floor(angle)
        s0, s1, ws0, ws1 = _speed_weights(speed)
        base = (np.arange(m)[:, None, None] * MOTION_HALF) + cell[None, None, :] * (n_dir * n_speed)
        total = np.zeros(m * MOTION_HALF)
        for d, wd in ((d0, 1.0 - dfrac), (d1, dfrac)):
            for s, wsp in ((s0, ws0), (s1, ws1)):
                idx = base + d * n_speed + s
                total += np.bincount(idx.ravel(), (wd * wsp).ravel(), minlength=m * MOTION_HALF)
        total = total.reshape(m, MOTION_GRID**2, n_dir * n_speed)
        total /= per_cell[None, :, None] * p
        out[start : start + m] = total.reshape(m, MOTION_HALF)
    return out


def motion_features(flow: np.ndarray) -> np.ndarray:
    """The ``'motion'`` space: :func:`motion_energy` of the flow, then of the flow minus each
    frame pair's mean flow (the surround-antagonistic half): ``(n, MOTION_DIM)``."""
    flow = np.asarray(flow, dtype=np.float32)
    relative = flow - flow.mean(axis=(2, 3), keepdims=True)
    return np.concatenate([motion_energy(flow), motion_energy(relative)], axis=1)


def video_truth_features(frames: np.ndarray, flow: np.ndarray) -> dict[str, np.ndarray]:
    """Ground-truth features of clips: the image spaces averaged over frames, and 'motion'.

    Parameters
    ----------
    frames : ndarray of uint8, shape (n, T, H, W, 3)
    flow : ndarray, shape (n, T - 1, H, W, 2)
        Exact forward flow, pixels per frame.

    Returns
    -------
    dict of str to ndarray of float32
        Every space of ``VIDEO_TRUTH_SPACES``: ``prf_energy``, ``colour``, ``category`` and
        ``nuisance`` as :func:`truth_features` of each frame averaged over the clip's frames,
        and ``motion`` (:func:`motion_features`).
    """
    frames = np.asarray(frames)
    if frames.ndim != 5:
        raise ValueError(f"expected frames of shape (n, T, H, W, 3), got {frames.shape}")
    n, t = frames.shape[:2]
    flat = truth_features(frames.reshape(n * t, *frames.shape[2:]))
    out = {k: v.reshape(n, t, -1).mean(axis=1, dtype=np.float64).astype(np.float32)
           for k, v in flat.items()}  # fmt: skip
    out["motion"] = motion_features(flow)
    return out
