"""Decoders: from brain activity to stimuli, captions and motion.

A layer of its own between :mod:`neurodecode.report` and :mod:`neurodecode.encoders`: decoders
may use fitted encoders (``RidgeEncoder.load``, ``.to_torch()``), encoders never import
decoders. Generative decoders follow diffusers' conventions: components injected, one
``__call__``, dataclass outputs, ``generator=`` for determinism. Names resolve lazily, so
``import neurodecode.decoders`` imports neither torch nor diffusers.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> (private module, attribute); the decoding capabilities add theirs here
_LAZY: dict[str, tuple[str, str]] = {
    "RidgeDecoder": ("_ridge_decoder", "RidgeDecoder"),
    "RowIndexedTargets": ("_ridge_decoder", "RowIndexedTargets"),
    "BrainCaptionPipeline": ("_caption", "BrainCaptionPipeline"),
    "CaptionOutput": ("_caption", "CaptionOutput"),
    "caption_vision_tokens": ("_caption", "caption_vision_tokens"),
    "given_vision_tokens": ("_caption", "given_vision_tokens"),
    "vision_tokens": ("_caption", "vision_tokens"),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
