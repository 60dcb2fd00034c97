"""Held-out evaluation of a CLIP-prefix captioner on toy-CLIP image embeddings.

Single held-out images (colour, category, shape and background colour named), renormalised
means of same-attribute embeddings (what BrainSCUBA's projections look like), and the
projections of category and colour directions onto the held-out pool at BrainSCUBA's
temperature.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from neurodecode.models._toy_git_train import caption_accuracy

__all__ = ["background_named", "evaluate_clipcap"]

#: BrainSCUBA's softmax temperature, used by the projection read-out.
_PROJECTION_TEMPERATURE = 150.0


def _group_key(attrs: dict[str, Any]) -> tuple[str, str]:
    return attrs["category"], attrs["main_colour"]


def _groups(
    attributes: Sequence[dict[str, Any]], key: Callable[[dict[str, Any]], tuple] = _group_key
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Group of each stimulus (same ``key``: category and main colour by default) and the
    members of each group."""
    keys = sorted({key(a) for a in attributes})
    index = {k: g for g, k in enumerate(keys)}
    group = np.array([index[key(a)] for a in attributes], dtype=np.int64)
    return group, [np.flatnonzero(group == g) for g in range(len(keys))]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _words(caption: str) -> set[str]:
    return set(re.findall(r"[a-z]+", caption.lower()))


def _background_colour(attrs: dict[str, Any]) -> str:
    return str(attrs["background"].get("colour", ""))


def background_named(captions: Sequence[str], attributes: Sequence[dict[str, Any]]) -> dict:
    """Share of captions naming their stimulus's background colour (stimuli that have one)."""
    pairs = zip(captions, attributes, strict=True)
    hits = [_background_colour(a) in _words(c) for c, a in pairs if _background_colour(a)]
    return {"rate": float(np.mean(hits)) if hits else float("nan"), "n": len(hits)}


def _projections(emb: np.ndarray, attributes: Sequence[dict[str, Any]]) -> list[tuple]:
    """(label, key, projection) of each category, colour and category-and-colour direction."""
    out = []
    for key in ("category", "main_colour", "both"):
        labels = sorted({_group_key(a) if key == "both" else a[key] for a in attributes})
        for label in labels:
            rows = [k for k, a in enumerate(attributes)
                    if (_group_key(a) if key == "both" else a[key]) == label]  # fmt: skip
            direction = _unit(emb[rows].mean(0))
            logits = _PROJECTION_TEMPERATURE * (emb @ direction)
            w = np.exp(logits - logits.max())
            out.append((label, key, _unit((w / w.sum()) @ emb)))
    return out


def _named(captions: Sequence[str], attributes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """:func:`caption_accuracy` without the shape (a blend's members differ in shape)."""
    m = caption_accuracy(captions, attributes)
    return {k: m[k] for k in ("colour", "category", "named_nothing", "n")}


def evaluate_clipcap(
    model: Any,
    tokenizer: Any,
    embeddings: np.ndarray,
    attributes: Sequence[dict[str, Any]],
    *,
    blend_size: int = 16,
    n_blends: int = 500,
    seed: int = 0,
    **caption: Any,
) -> dict[str, Any]:
    """How often a captioner names the colour and category of held-out embeddings.

    Parameters
    ----------
    model, tokenizer
        A CLIP-prefix captioner and its tokenizer.
    embeddings : ndarray of shape (n, d)
        CLIP image embeddings of held-out stimuli.
    attributes : sequence of dict
        Their descriptions (``StimulusSet.attributes``).
    blend_size : int
        Embeddings of one category and colour averaged (and renormalised) per blend.
    n_blends : int
        Blends, each around a random stimulus of a group with at least ``blend_size`` members.
    seed : int
        Seeds the choice of blends.
    **caption
        Passed to :func:`caption_embeddings` (``num_beams=``...).

    Returns
    -------
    dict
        ``single`` (:func:`caption_accuracy` of one caption per embedding, with ``shape``),
        ``blend`` (colour and category of the blends), ``projection`` (category named for
        each category direction, colour for each colour direction, both for each
        category-and-colour direction, projected onto the pool at temperature 150),
        ``seconds_per_caption`` and ``examples``.
    """
    from neurodecode.models._toy_clipcap import caption_embeddings

    attributes = list(attributes)
    t0 = time.perf_counter()
    single = caption_embeddings(model, tokenizer, embeddings, **caption)
    seconds = (time.perf_counter() - t0) / len(single)
    metrics: dict[str, Any] = {"single": caption_accuracy(single, attributes)}
    metrics["single"]["background"] = background_named(single, attributes)
    group, members = _groups(attributes)
    eligible = np.flatnonzero([len(members[g]) >= blend_size for g in group])
    blend: dict[str, Any] = {"colour": float("nan"), "category": float("nan"), "n": 0}
    if len(eligible) and n_blends:
        rng = np.random.default_rng(seed)
        anchors = rng.choice(eligible, size=n_blends)
        x = np.stack([_unit(embeddings[rng.choice(members[group[a]], blend_size,
                                                  replace=False)].mean(0))
                      for a in anchors])  # fmt: skip
        texts = caption_embeddings(model, tokenizer, x, **caption)
        blend = _named(texts, [attributes[a] for a in anchors])
        blend["examples"] = [{"category": attributes[a]["category"],
                              "colour": attributes[a]["main_colour"], "caption": c}
                             for a, c in zip(anchors[:5], texts[:5], strict=False)]  # fmt: skip
    blend["blend_size"] = blend_size
    metrics["blend"] = blend
    proj = _projections(embeddings, attributes)
    texts = caption_embeddings(model, tokenizer, np.stack([p[2] for p in proj]), **caption)
    named = [_named([t], [_truth(p[0], p[1])]) for p, t in zip(proj, texts, strict=True)]
    keys = [p[1] for p in proj]
    metrics["projection"] = {
        "category": _mean([n["category"] for n, k in zip(named, keys, strict=True)
                           if k == "category"]),
        "colour": _mean([n["colour"] for n, k in zip(named, keys, strict=True)
                         if k == "main_colour"]),
        "both": _mean([n["colour"] * n["category"] for n, k in zip(named, keys, strict=True)
                       if k == "both"]),
        "temperature": _PROJECTION_TEMPERATURE,
        "captions": {label: t for (label, key, _), t in zip(proj, texts, strict=True)
                     if key != "both"},
    }  # fmt: skip
    metrics["seconds_per_caption"] = seconds
    metrics["examples"] = [{"index": k, "caption": c} for k, c in enumerate(single[:5])]
    return metrics


def _truth(label: Any, key: str) -> dict[str, Any]:
    """A description naming only what a projection's direction stands for."""
    if key == "both":
        return {"category": label[0], "main_colour": label[1], "objects": [{"shape": None}]}
    return {"category": label if key == "category" else None,
            "main_colour": label if key == "main_colour" else None,
            "objects": [{"shape": None}]}  # fmt: skip


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")
