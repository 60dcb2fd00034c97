"""Stimulus-side feature extractors and the HDF5 feature files they write.

``from neurodecode.features import get_extractor, extract_features, read_features``.
Importing this package does not import torch or open_clip; extractors load their model on
first use.
"""

from __future__ import annotations

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
from neurodecode.features._store import (
    ResumableFeatureWriter,
    feature_file_info,
    read_features,
    write_features,
)

__all__ = [
    "TRUTH_EXTRACTORS",
    "ClipImageExtractor",
    "ClipTextExtractor",
    "FeatureExtractor",
    "ImageNetExtractor",
    "ResumableFeatureWriter",
    "SentenceExtractor",
    "TruthExtractor",
    "VaeLatentExtractor",
    "extract_features",
    "feature_file_info",
    "get_extractor",
    "list_extractors",
    "read_features",
    "write_features",
]
