"""BrainSCUBA's captions checked against the synthetic world's voxel tuning.

The simulated brain knows what drives each voxel: a category-selective population (face,
place, body, word, each in its own atlas) or a colour-selective one with a preferred palette
colour. A voxel's caption *names its category* when the caption's category word
(:func:`neurodecode.synth.named_attributes`: "face", "house", "figure", "word") is that
category's; it *names its preferred colour* when the colour word appears anywhere in it
(a preferred background colour is named as "... on a teal background").

Chance rates are given two ways: ``uniform`` (1 / classes) and ``base_rate``, the share of
all the captioned voxels whose caption names the class, averaged over the tuned voxels'
classes: what the check scores when captions are shuffled across voxels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["selectivity_naming"]


def selectivity_naming(
    captions: Sequence[str],
    population: np.ndarray,
    preference: np.ndarray,
    atlases: Mapping[str, np.ndarray],
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """How often voxel captions name what the simulation tuned each voxel to.

    Parameters
    ----------
    captions : sequence of str, length n_voxels
    population, preference : ndarray of shape (n_voxels,)
        The truth's population and preferred value of each voxel
        (:class:`~neurodecode.synth.GroundTruth`).
    atlases : mapping of str to bool ndarray
        Voxel masks of the category atlases (``floc-faces``...); missing ones are skipped.
    n_bootstrap, seed
        Of the bootstrap confidence intervals (over voxels).

    Returns
    -------
    dict
        ``category``: per category ROI, ``n`` tuned voxels in it, ``rate`` with its bootstrap
        CI and the chance rates; ``colour``: the same over colour-tuned voxels, also split by
        object and background colours.
    """
    from neurodecode.decoders._caption_words import word_sets
    from neurodecode.metrics import bootstrap_mean
    from neurodecode.synth import CATEGORIES, COLOURS, named_attributes
    from neurodecode.synth._glyphs import BACKGROUND_RGB
    from neurodecode.synth._populations import POPULATION_FAMILIES
    from neurodecode.synth._truth import COLOUR_FEATURES

    population = np.asarray(population).astype(str)
    preference = np.asarray(preference).astype(str)
    n = len(captions)
    if population.shape != (n,) or preference.shape != (n,):
        raise ValueError(f"population and preference must have shape ({n},)")
    boot: dict[str, Any] = {"n_bootstrap": n_bootstrap, "seed": seed}
    named = np.array([str(named_attributes(c)["category"]) for c in captions])
    out: dict[str, Any] = {"category": {}, "colour": {}}
    for family in POPULATION_FAMILIES:
        if family.space != "category" or family.atlas is None or family.atlas not in atlases:
            continue
        category = family.population
        tuned = np.asarray(atlases[family.atlas], dtype=bool) & (population == category)
        if not tuned.any():
            continue
        hits = (named[tuned] == category).astype(np.float64)
        out["category"][family.atlas] = {
            "category": category, **bootstrap_mean(hits, **boot).as_dict(),
            "chance_uniform": 1.0 / len(CATEGORIES),
            "chance_base_rate": float(np.mean(named == category)),
        }  # fmt: skip
    colour = population == "colour"
    if colour.any():
        pref = preference[colour]
        words = word_sets(captions)  # each caption read once
        hits = np.array([c in words[int(i)] for i, c in zip(np.flatnonzero(colour), pref,
                                                             strict=True)])  # fmt: skip
        said = {c: float(np.mean([c in w for w in words])) for c in set(pref)}
        base = float(np.mean([said[c] for c in pref]))
        entry: dict[str, Any] = {**bootstrap_mean(hits.astype(np.float64), **boot).as_dict(),
                                 "chance_uniform": 1.0 / len(COLOUR_FEATURES),
                                 "chance_base_rate": base}  # fmt: skip
        for kind, names in (("object_colours", COLOURS), ("background_colours", BACKGROUND_RGB)):
            m = np.isin(pref, list(names))
            if m.any():
                entry[kind] = {**bootstrap_mean(hits[m].astype(np.float64), **boot).as_dict(),
                               "chance_base_rate": float(np.mean([said[c] for c in pref[m]])),
                               "chance_uniform": 1.0 / len(names)}  # fmt: skip
        out["colour"] = entry
    return out
