"""Metrics with fixed, documented definitions (pure numpy; imports nothing else of ours)."""

from neurodecode.metrics._captions import (
    TEXT_METRICS,
    caption_scores,
    embedding_cosine,
    per_caption_scores,
    ptb_tokenize,
)
from neurodecode.metrics._flow import (
    angular_error,
    direction_accuracy,
    direction_bins,
    end_point_error,
    flow_metrics,
)
from neurodecode.metrics._images import (
    correlation_distance,
    pixcorr,
    ssim,
    summarise,
    two_way_identification,
)
from neurodecode.metrics._retrieval import (
    RetrievalResult,
    cosine_similarity,
    rank_candidates,
    retrieval_accuracy,
)
from neurodecode.metrics._stats import Estimate, bootstrap_mean
from neurodecode.metrics._voxelwise import (
    noise_normalized_score,
    pearson_r_voxels,
    r2_score_voxels,
    roi_summary,
    two_vs_two,
    two_vs_two_accuracy,
    two_vs_two_matrix,
)

__all__ = [
    "TEXT_METRICS",
    "Estimate",
    "RetrievalResult",
    "angular_error",
    "bootstrap_mean",
    "caption_scores",
    "correlation_distance",
    "cosine_similarity",
    "direction_accuracy",
    "direction_bins",
    "embedding_cosine",
    "end_point_error",
    "flow_metrics",
    "noise_normalized_score",
    "pearson_r_voxels",
    "per_caption_scores",
    "pixcorr",
    "ptb_tokenize",
    "r2_score_voxels",
    "rank_candidates",
    "retrieval_accuracy",
    "roi_summary",
    "ssim",
    "summarise",
    "two_vs_two",
    "two_vs_two_accuracy",
    "two_vs_two_matrix",
    "two_way_identification",
]
