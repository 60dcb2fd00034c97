"""Encoders between brain activity and stimulus features.

Names are resolved lazily (module-level ``__getattr__``), so ``import neurodecode.encoders``
imports neither torch nor scikit-learn.
"""

from __future__ import annotations

from neurodecode._lazy import lazy_names

# public name -> (private module, attribute)
_LAZY: dict[str, tuple[str, str]] = {
    "RidgeEncoder": ("_ridge", "RidgeEncoder"),
    "BandedRidgeEncoder": ("_banded", "BandedRidgeEncoder"),
    "ContrastiveEncoder": ("_contrastive", "ContrastiveEncoder"),
    "MultiSubjectContrastiveEncoder": ("_multisubject", "MultiSubjectContrastiveEncoder"),
    "ContrastiveConfig": ("_contrastive_net", "ContrastiveConfig"),
    "list_contrastive_presets": ("_contrastive_net", "list_presets"),
    "get_contrastive_preset": ("_contrastive_net", "get_preset"),
    "estimate_contrastive_memory": ("_contrastive_net", "estimate_training_memory"),
    "contrastive_roi_ablation": ("_contrastive_ablation", "roi_ablation"),
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
