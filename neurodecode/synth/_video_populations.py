"""The population table of the video world: the image world's populations, plus MT.

The video world's brain holds the early-visual pRF population, colour- and category-selective
voxels as the image world does (the clips' frames drive them), an MT-like motion-selective
population in its own ROI (``MT``: direction- and speed-tuned voxels with large receptive
fields over the motion energy of :mod:`._motion_truth`), and untuned voxels. ROI names follow
the BOLD Moments Dataset's (``FFA``, ``TOS``, ``MT`` ...); the image world's table is untouched.
"""

from __future__ import annotations

import numpy as np

from neurodecode.synth._motion_truth import (
    MOTION_DIRECTIONS,
    MOTION_GRID,
    MOTION_SPEEDS,
    VIDEO_TRUTH_SPACES,
)
from neurodecode.synth._populations import (
    POPULATION_FAMILIES,
    CellContext,
    PopulationFamily,
    Tuning,
    _category_tuning,
    _colour_tuning,
)

__all__ = ["VIDEO_FAMILIES", "mt_tuning"]

_CELL_CENTRES = (np.arange(MOTION_GRID) + 0.5) / MOTION_GRID
_DIRECTIONS = 2 * np.pi * np.arange(MOTION_DIRECTIONS) / MOTION_DIRECTIONS
_LOG_SPEEDS = np.log2(np.asarray(MOTION_SPEEDS))
#: Speed tuning bandwidth (sd, octaves).
_SPEED_WIDTH = 0.9


def mt_tuning(ctx: CellContext) -> Tuning:
    """MT voxels: a Gaussian receptive field over the motion grid (sd 0.1-0.2 of the side,
    mostly in the contralateral field), von Mises direction tuning (kappa 1.5-3) around a
    preferred direction, and log-Gaussian speed tuning around a preferred speed (0.7-3.5
    pixels per frame). Half the voxels integrate motion, half have antagonistic surrounds
    (they read the second half of ``'motion'``: motion relative to the frame's mean). Weights
    sum to 1 over space."""
    n = ctx.position.shape[0]
    x_lo, x_hi = (0.35, 0.95) if ctx.hemisphere == "lh" else (0.05, 0.65)
    a = ctx.position[:, 1] if ctx.hemisphere == "lh" else 1 - ctx.position[:, 1]
    centre = np.stack([x_lo + (x_hi - x_lo) * a, 0.05 + 0.9 * (1 - ctx.position[:, 2])], axis=1)
    centre = np.clip(centre + ctx.rng.normal(0.0, 0.05, size=(n, 2)), 0.02, 0.98)
    sigma = np.asarray(ctx.rng.uniform(0.1, 0.2, size=n))
    preferred = np.asarray(ctx.rng.uniform(0.0, 2 * np.pi, size=n))
    kappa = np.asarray(ctx.rng.uniform(1.5, 3.0, size=n))
    speed = np.asarray(ctx.rng.uniform(-0.5, 1.8, size=n))
    gx = np.exp(-0.5 * ((_CELL_CENTRES[:, None] - centre[None, :, 0]) / sigma) ** 2)
    gy = np.exp(-0.5 * ((_CELL_CENTRES[:, None] - centre[None, :, 1]) / sigma) ** 2)
    rf = (gy[:, None, :] * gx[None, :, :]).reshape(MOTION_GRID * MOTION_GRID, n)
    rf /= rf.sum(axis=0, keepdims=True)
    direction = np.exp(kappa * (np.cos(_DIRECTIONS[:, None] - preferred[None, :]) - 1.0))
    speed_w = np.exp(-0.5 * ((_LOG_SPEEDS[:, None] - speed[None, :]) / _SPEED_WIDTH) ** 2)
    w = rf[:, None, None, :] * direction[None, :, None, :] * speed_w[None, None, :, :]
    w = w.reshape(-1, n)
    surround = np.asarray(ctx.rng.random(n)) < 0.5
    weights = np.zeros((2 * w.shape[0], n))
    weights[: w.shape[0], ~surround] = w[:, ~surround]
    weights[w.shape[0] :, surround] = w[:, surround]
    degrees = np.rint(np.rad2deg(preferred)).astype(int) % 360
    names = np.array([f"direction {d:03d}{' surround' if s else ''}"
                      for d, s in zip(degrees, surround, strict=True)])  # fmt: skip
    return Tuning(weights, names, centre.astype(np.float32), sigma.astype(np.float32))


_PRF = POPULATION_FAMILIES[0]

VIDEO_FAMILIES: tuple[PopulationFamily, ...] = (
    _PRF,
    PopulationFamily("colour", "colour", None, {"colour": (0.5, 0.4)}, _colour_tuning),
    PopulationFamily(
        "face", "category", "floc-faces", {"OFA": (0.6, 0.25), "FFA": (0.78, 0.1)},
        _category_tuning("face"),
    ),
    PopulationFamily(
        "place", "category", "floc-places",
        {"TOS": (0.55, 0.9), "PPA": (0.92, 0.2), "RSC": (0.92, 0.75)}, _category_tuning("place"),
    ),
    PopulationFamily("body", "category", "floc-bodies", {"EBA": (0.72, 0.55)},
                     _category_tuning("body")),
    PopulationFamily("word", "category", None, {"word": (0.85, 0.4)}, _category_tuning("word")),
    PopulationFamily("motion", "motion", "motion", {"MT": (0.62, 0.62)}, mt_tuning),
    PopulationFamily("noise", "", None, {"untuned-a": (0.42, 0.55), "untuned-b": (0.75, 0.85)}),
)  # fmt: skip

if _PRF.population != "prf":
    raise ValueError("the image world's table no longer starts with its pRF family")
for _family in VIDEO_FAMILIES:
    if _family.space and _family.space not in VIDEO_TRUTH_SPACES:
        raise ValueError(f"family {_family.population!r} uses unknown space {_family.space!r}")
