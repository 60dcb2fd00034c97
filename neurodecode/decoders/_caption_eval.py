"""Scoring decoded captions: the caption-metric suite against two references, and attributes.

Brain-captioning papers disagree on the reference: MindEye2 scores against the stimulus's own
(COCO) captions, Brain Captioning against the captioner's caption of the seen image. Both are
reported, with the captioner's own score on the true images (its ceiling against the
stimulus's captions) and the brain / image ratio. The embedding networks of the cosine
metrics (a sentence embedder, a CLIP text tower) run here and hand arrays to
:mod:`neurodecode.metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["attribute_accuracy", "embed_texts", "score_captions"]

#: Comparisons scored: name -> (candidates, references) keys of :func:`score_captions`.
COMPARISONS: dict[str, tuple[str, str]] = {
    "brain_vs_references": ("brain", "references"),
    "brain_vs_captioner": ("brain", "captioner"),
    "captioner_vs_references": ("captioner", "references"),
}


def embed_texts(extractor: Callable[[list[list[str]]], np.ndarray], texts: Sequence[str],
                batch_size: int = 256) -> np.ndarray:  # fmt: skip
    """One embedding per text from a text feature extractor (which embeds caption lists)."""
    out = [
        extractor([[t] for t in texts[start : start + batch_size]])
        for start in range(0, len(texts), batch_size)
    ]
    return np.concatenate(out).astype(np.float32)


def score_captions(
    brain: Sequence[str],
    captioner: Sequence[str],
    references: Sequence[Sequence[str]],
    embedders: Mapping[str, Callable[[list[list[str]]], np.ndarray]],
    *,
    metrics: Sequence[str] | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Every metric of the suite for the three comparisons, and brain / image ratios.

    Parameters
    ----------
    brain : sequence of str
        Captions decoded from brain activity, one per test stimulus.
    captioner : sequence of str
        The captioner's captions of the same stimuli' images.
    references : sequence of sequence of str
        Each stimulus's own reference captions.
    embedders : mapping
        Metric name (e.g. ``sentence_cosine``) -> text extractor whose embeddings are compared
        by cosine.
    metrics : sequence of str, optional
        Text metrics computed (default: all of ``neurodecode.metrics.TEXT_METRICS``).

    Returns
    -------
    dict
        ``{comparison: {metric: {value, ci_low, ci_high, n, level[, corpus]}}}`` for the
        comparisons of :data:`COMPARISONS`, plus ``brain_over_captioner`` (metric -> ratio of
        the brain's to the captioner's value, both against the references).
    """
    from pycocoevalcap.meteor.meteor import Meteor

    from neurodecode.metrics import TEXT_METRICS, caption_scores, embedding_cosine, ptb_tokenize

    text_metrics = tuple(TEXT_METRICS if metrics is None else metrics)
    n = len(brain)
    if not (len(captioner) == len(references) == n):
        raise ValueError("brain, captioner and references must have one entry per stimulus")
    texts = {"brain": [[c] for c in brain], "captioner": [[c] for c in captioner],
             "references": [list(r) for r in references]}  # fmt: skip
    flat = {(key, k): items[k] for key, items in texts.items() for k in range(n)}
    tok = ptb_tokenize(flat)  # one Java process for every text
    tokens = {key: [tok[(key, k)] for k in range(n)] for key in texts}
    meteor = Meteor() if "meteor" in text_metrics else None  # one process for all three
    out: dict[str, Any] = {}
    for name, (cand, ref) in COMPARISONS.items():
        cands = [t[0] for t in tokens[cand]]
        out[name] = caption_scores(cands, tokens[ref], text_metrics, n_bootstrap=n_bootstrap,
                                   seed=seed, tokenized=True, meteor=meteor)  # fmt: skip
    del meteor
    for metric, extractor in embedders.items():
        emb = {key: embed_texts(extractor, [t for items in texts[key] for t in items])
               for key in texts}  # fmt: skip
        k_refs = len(texts["references"][0])
        if any(len(r) != k_refs for r in texts["references"]):
            raise ValueError("every stimulus needs the same number of references")
        shaped = {"brain": emb["brain"], "captioner": emb["captioner"],
                  "references": emb["references"].reshape(n, k_refs, -1)}  # fmt: skip
        for name, (cand, ref) in COMPARISONS.items():
            _, est = embedding_cosine(shaped[cand], shaped[ref], n_bootstrap=n_bootstrap,
                                      seed=seed)  # fmt: skip
            out[name][metric] = est.as_dict()
    brain_ref, image_ref = out["brain_vs_references"], out["captioner_vs_references"]
    out["brain_over_captioner"] = {
        m: (brain_ref[m]["value"] / image_ref[m]["value"]) if image_ref[m]["value"] else None
        for m in brain_ref
    }
    return out


def attribute_accuracy(
    captions: Sequence[str], attributes: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """How often captions name their stimuli's colour and category, with chance rates.

    Chance is given three ways: ``uniform`` (1 / number of classes), ``majority`` (always
    naming the test set's most frequent class) and ``shuffled`` (these captions paired with
    random stimuli of the set: the sum over classes of named share x true share).
    """
    from neurodecode.metrics import bootstrap_mean
    from neurodecode.synth import CATEGORIES, COLOURS, named_attributes

    named = [named_attributes(c) for c in captions]
    out: dict[str, Any] = {"n": len(captions)}
    for key, truth_key, classes in (
        ("colour", "main_colour", COLOURS),
        ("category", "category", CATEGORIES),
    ):
        truth = np.array([a[truth_key] for a in attributes])
        said = np.array([str(n[key]) for n in named])
        hits = (said == truth).astype(np.float64)
        true_share = np.array([np.mean(truth == c) for c in classes])
        said_share = np.array([np.mean(said == c) for c in classes])
        out[key] = {
            **bootstrap_mean(hits).as_dict(),
            "chance_uniform": 1.0 / len(classes),
            "chance_majority": float(true_share.max()),
            "chance_shuffled": float(true_share @ said_share),
        }
    return out
