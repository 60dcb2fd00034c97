"""Stimulus-side feature extractors and the HDF5 feature files they write.

``from neurodecode.features import write_features, read_features``. Importing this package does
not import torch or open_clip; extractors load them when they first run.
"""

from __future__ import annotations

from neurodecode.features._store import (
    ResumableFeatureWriter,
    feature_file_info,
    read_features,
    write_features,
)

__all__ = ["ResumableFeatureWriter", "feature_file_info", "read_features", "write_features"]
