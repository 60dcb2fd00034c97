"""Metrics with fixed, documented definitions (pure numpy; imports nothing else of ours)."""

from neurodecode.metrics._retrieval import (
    RetrievalResult,
    cosine_similarity,
    rank_candidates,
    retrieval_accuracy,
)

__all__ = ["RetrievalResult", "cosine_similarity", "rank_candidates", "retrieval_accuracy"]
