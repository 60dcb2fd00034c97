"""The table of voxel population families of the simulated brain.

A family says which ROIs it fills (atlas and label names), where they lie in the visual region,
which ground-truth feature space drives them and how each voxel's tuning weights are drawn.
Adding a population (e.g. a motion-selective MT with direction tuning over a motion feature
space) is one more :class:`PopulationFamily` in :data:`POPULATION_FAMILIES` with its tuning
function; the brain builds masks, atlases and responses from this table alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from neurodecode.synth._truth import CATEGORY_FEATURES, COLOUR_FEATURES, PRF_GRID, TRUTH_SPACES

__all__ = ["POPULATION_FAMILIES", "CellContext", "PopulationFamily", "Tuning"]


@dataclass(frozen=True)
class CellContext:
    """What a tuning function knows about one ROI cell (one ROI in one hemisphere).

    Attributes
    ----------
    roi : str
        ROI label name.
    hemisphere : str
        ``'lh'`` or ``'rh'``.
    position : ndarray, shape (n, 3)
        Voxel positions within the cell, each axis rank-normalised to [0, 1]
        (lateral-to-medial, posterior-to-anterior, inferior-to-superior).
    rng : numpy.random.Generator
        Seeded from the world seed, the subject label and the cell.
    """

    roi: str
    hemisphere: str
    position: np.ndarray
    rng: np.random.Generator


@dataclass(frozen=True)
class Tuning:
    """Tuning of a cell's voxels: unscaled weights over the family's feature space, extras."""

    weights: np.ndarray  # (p, n)
    preference: np.ndarray  # (n,) str
    prf_centre: np.ndarray | None = None  # (n, 2) x, y as fractions of the image side
    prf_size: np.ndarray | None = None  # (n,) Gaussian sd as a fraction of the image side


@dataclass(frozen=True)
class PopulationFamily:
    """One kind of tuned population.

    Parameters
    ----------
    population : str
        Value of ``brain.population`` for its voxels (``'noise'`` for untuned voxels).
    space : str
        Ground-truth feature space driving it (a key of ``truth_features``), ``''`` if none.
    atlas : str or None
        Atlas its ROIs are labelled in (NSD label names where the atlas is NSD's).
    rois : dict of str to (float, float)
        ROI label -> anchor in the visual region (posterior-anterior, inferior-superior),
        both in [0, 1]; each ROI becomes one contiguous cell per hemisphere.
    tuning : callable or None
        ``tuning(context) -> Tuning`` (None for untuned families).
    """

    population: str
    space: str
    atlas: str | None
    rois: dict[str, tuple[float, float]] = field(default_factory=dict)
    tuning: Callable[[CellContext], Tuning] | None = None


_PRF_SIGMA = {"V1": (0.035, 0.06), "V2": (0.05, 0.085), "V3": (0.07, 0.11), "hV4": (0.1, 0.16)}
_GRID_CENTRES = (np.arange(PRF_GRID) + 0.5) / PRF_GRID


def prf_weights(centre: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Gaussian pRFs on the contrast-energy grid, each summing to 1: ``(PRF_GRID**2, n)``."""
    gx = np.exp(-0.5 * ((_GRID_CENTRES[:, None] - centre[None, :, 0]) / sigma) ** 2)
    gy = np.exp(-0.5 * ((_GRID_CENTRES[:, None] - centre[None, :, 1]) / sigma) ** 2)
    w = (gy[:, None, :] * gx[None, :, :]).reshape(PRF_GRID * PRF_GRID, -1)  # row-major (y, x)
    return w / w.sum(axis=0, keepdims=True)


def _prf_tuning(ctx: CellContext) -> Tuning:
    """Retinotopy: the left hemisphere maps the right visual field; ventral maps upper field.

    Within a cell, visual-field position follows the voxel's position (x from the
    posterior-anterior rank, y from the inferior-superior rank), so neighbouring voxels have
    neighbouring pRFs; size grows along the hierarchy and with eccentricity.
    """
    n = ctx.position.shape[0]
    x_lo, x_hi = (0.5, 0.95) if ctx.hemisphere == "lh" else (0.05, 0.5)
    y_lo, y_hi = {"v": (0.05, 0.5), "d": (0.5, 0.95)}.get(ctx.roi[-1], (0.05, 0.95))
    jitter = ctx.rng.normal(0.0, 0.02, size=(n, 2))
    a = ctx.position[:, 1] if ctx.hemisphere == "lh" else 1 - ctx.position[:, 1]
    b = ctx.position[:, 2] if ctx.roi[-1] == "d" else 1 - ctx.position[:, 2]
    centre = np.stack([x_lo + (x_hi - x_lo) * a, y_lo + (y_hi - y_lo) * (1 - b)], axis=1)
    centre = np.clip(centre + jitter, [x_lo, y_lo], [x_hi, y_hi])  # stay in the quadrant
    lo, hi = _PRF_SIGMA[ctx.roi.rstrip("vd")]
    ecc = np.linalg.norm(centre - 0.5, axis=1) / np.sqrt(0.5)
    sigma = ctx.rng.uniform(lo, hi, size=n) * (0.7 + 0.8 * ecc)
    return Tuning(prf_weights(centre, sigma), np.full(n, ""), centre, sigma)


def _one_hot(names: tuple[str, ...], preferred: np.ndarray) -> np.ndarray:
    w = np.zeros((len(names), len(preferred)))
    w[[names.index(str(p)) for p in preferred], np.arange(len(preferred))] = 1.0
    return w


def _colour_tuning(ctx: CellContext) -> Tuning:
    # any colour of the palette, object or background: colour-selective cortex is not told
    # which pixels belong to objects
    preferred = ctx.rng.choice(COLOUR_FEATURES, size=ctx.position.shape[0])
    return Tuning(_one_hot(COLOUR_FEATURES, preferred), preferred.astype(str))


def _category_tuning(category: str) -> Callable[[CellContext], Tuning]:
    def tuning(ctx: CellContext) -> Tuning:
        preferred = np.full(ctx.position.shape[0], category)
        return Tuning(_one_hot(CATEGORY_FEATURES, preferred), preferred)

    tuning.__doc__ = f"Voxels selective for {category} images (one-hot on the category score)."
    return tuning


POPULATION_FAMILIES: tuple[PopulationFamily, ...] = (
    PopulationFamily(
        "prf",
        "prf_energy",
        "prf-visualrois",
        {
            "V1v": (0.04, 0.38),
            "V1d": (0.04, 0.62),
            "V2v": (0.18, 0.25),
            "V2d": (0.18, 0.75),
            "V3v": (0.32, 0.15),
            "V3d": (0.32, 0.85),
            "hV4": (0.45, 0.1),
        },
        _prf_tuning,
    ),
    PopulationFamily("colour", "colour", "synth-colour", {"colour": (0.5, 0.4)}, _colour_tuning),
    PopulationFamily(
        "face",
        "category",
        "floc-faces",
        {"OFA": (0.6, 0.25), "FFA-1": (0.78, 0.1)},
        _category_tuning("face"),
    ),
    PopulationFamily(
        "place",
        "category",
        "floc-places",
        {"OPA": (0.55, 0.9), "PPA": (0.92, 0.2), "RSC": (0.92, 0.75)},
        _category_tuning("place"),
    ),
    PopulationFamily(
        "body",
        "category",
        "floc-bodies",
        {"EBA": (0.72, 0.55), "FBA-1": (0.95, 0.45)},
        _category_tuning("body"),
    ),
    PopulationFamily(
        "word",
        "category",
        "floc-words",
        {"OWFA": (0.6, 0.02), "VWFA-1": (0.8, 0.35)},
        _category_tuning("word"),
    ),
    # untuned voxels inside nsdgeneral (unlabelled in every atlas but nsdgeneral)
    PopulationFamily("noise", "", None, {"untuned-a": (0.42, 0.55), "untuned-b": (0.75, 0.85)}),
)

for _family in POPULATION_FAMILIES:
    if _family.space and _family.space not in TRUTH_SPACES:
        raise ValueError(f"family {_family.population!r} uses unknown space {_family.space!r}")
