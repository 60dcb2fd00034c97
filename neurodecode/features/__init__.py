"""Stimulus-side feature extractors and the HDF5 feature files they write.

``from neurodecode.features import get_extractor, extract_features, read_features``.
Importing this package does not import torch or open_clip; extractors load their model on
first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neurodecode.features._extract import (
    TRUTH_EXTRACTORS,
    extract_features,
    get_extractor,
    list_extractors,
)
from neurodecode.features._extractors import (
    ClipImageExtractor,
    ClipTextExtractor,
    FeatureExtractor,
    ImageNetExtractor,
    SentenceExtractor,
    TruthExtractor,
    VaeLatentExtractor,
)
from neurodecode.features._flow import (
    FLOW_FRAMES,
    FLOW_GRID,
    DisFlowEstimator,
    FlowExtractor,
    RaftFlowEstimator,
    downsample_flow,
    flow_frame_pairs,
    flow_from_features,
    upsample_flow,
)
from neurodecode.features._store import (
    ResumableFeatureWriter,
    feature_file_info,
    iter_feature_blocks,
    read_features,
    write_features,
)

__all__ = [
    "FLOW_FRAMES",
    "FLOW_GRID",
    "TRUTH_EXTRACTORS",
    "ClipImageExtractor",
    "ClipTextExtractor",
    "DisFlowEstimator",
    "FeatureExtractor",
    "FlowCodebook",
    "FlowExtractor",
    "ImageNetExtractor",
    "RaftFlowEstimator",
    "ResumableFeatureWriter",
    "SentenceExtractor",
    "TruthExtractor",
    "VaeLatentExtractor",
    "downsample_flow",
    "extract_features",
    "feature_file_info",
    "flow_frame_pairs",
    "flow_from_features",
    "get_extractor",
    "iter_feature_blocks",
    "list_extractors",
    "read_features",
    "upsample_flow",
    "write_features",
]


if TYPE_CHECKING:
    from neurodecode.features._flow_codebook import FlowCodebook


def __getattr__(name: str) -> object:
    if name == "FlowCodebook":  # scikit-learn is imported when the codebook is used
        from neurodecode.features._flow_codebook import FlowCodebook

        return FlowCodebook
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
