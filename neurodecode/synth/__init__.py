"""The synthetic world: procedural stimuli with captions, ground-truth features, simulated brains.

``from neurodecode.synth import WorldConfig, make_world, truth_features``. Everything is derived
from ``WorldConfig.seed`` (and a stimulus id or subject label); nothing uses global random state
and nothing here imports torch.
"""

from __future__ import annotations

from neurodecode.synth._brain import SimulatedBrain
from neurodecode.synth._captions import CATEGORIES, CATEGORY_WORDS, WORDS, named_attributes
from neurodecode.synth._config import WorldConfig
from neurodecode.synth._glyphs import BACKGROUND_RGB, COLOUR_RGB, COLOURS, SHAPES
from neurodecode.synth._oracle import (
    GroundTruth,
    generated_stimuli,
    ground_truth,
    is_synthetic_release,
    load_world,
    prepared_truth,
)
from neurodecode.synth._populations import POPULATION_FAMILIES, PopulationFamily
from neurodecode.synth._stimuli import StimulusSet
from neurodecode.synth._truth import (
    CATEGORY_FEATURES,
    COLOUR_FEATURES,
    PRF_GRID,
    TRUTH_SPACES,
    truth_features,
)
from neurodecode.synth._world import World, make_world

__all__ = [
    "BACKGROUND_RGB",
    "CATEGORIES",
    "CATEGORY_FEATURES",
    "CATEGORY_WORDS",
    "COLOURS",
    "COLOUR_FEATURES",
    "COLOUR_RGB",
    "POPULATION_FAMILIES",
    "PRF_GRID",
    "SHAPES",
    "TRUTH_SPACES",
    "WORDS",
    "GroundTruth",
    "PopulationFamily",
    "SimulatedBrain",
    "StimulusSet",
    "World",
    "WorldConfig",
    "generated_stimuli",
    "ground_truth",
    "is_synthetic_release",
    "load_world",
    "make_world",
    "named_attributes",
    "prepared_truth",
    "truth_features",
]
