"""Caption metrics: the COCO suite from pycocoevalcap, and embedding cosines, each with n and a CI.

Definitions (fixed here, so figures are comparable across stages):

* **Text metrics** are pycocoevalcap's own scorers (the reference implementation of the COCO
  caption evaluation): BLEU-1 and BLEU-4 (``Bleu(4)``), METEOR 1.5 (``Meteor``, Java), ROUGE-L
  (``Rouge``) and CIDEr-D (``Cider``, x10 as COCO reports it, n-gram document frequencies from
  the references of the captions scored together). Every caption and reference first goes
  through COCO's PTB tokenizer (Stanford CoreNLP's PTBTokenizer, Java; lower case, punctuation
  removed). Each caption may have several references.
* A metric's ``value`` is the mean of its per-caption scores, and its interval a percentile
  bootstrap over captions (:func:`neurodecode.metrics.bootstrap_mean`). BLEU and METEOR also
  have a corpus-level figure (pooled n-gram counts; METEOR's aggregate statistics), which is
  what papers usually print: it is kept as ``corpus``. For ROUGE-L and CIDEr-D the corpus
  figure is the mean.
* **Embedding cosines** (sentence embeddings, CLIP text embeddings) are computed from arrays:
  the cosine of a caption's embedding with each of its references' embeddings, averaged over
  its references. The networks that embed run in the layer above and pass arrays in.
* SPICE is not in the suite: pycocoevalcap's SPICE needs Stanford CoreNLP 3.6.0 and its models
  jar, which it downloads on first use; with no network they cannot be had.

A caption identical to its only reference scores the maximum of every metric (1, or 10 for
CIDEr-D when the captions scored together differ from each other: CIDEr's document
frequencies are over those captions' references).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from neurodecode.metrics._stats import Estimate, bootstrap_mean

__all__ = [
    "TEXT_METRICS",
    "caption_scores",
    "embedding_cosine",
    "per_caption_scores",
    "ptb_tokenize",
]

#: Text metrics of the suite, in table order.
TEXT_METRICS: tuple[str, ...] = ("bleu1", "bleu4", "meteor", "rouge_l", "cider")


def ptb_tokenize(texts: Mapping[Any, Sequence[str]]) -> dict[Any, list[str]]:
    """COCO's PTB tokenisation of several texts per key (one Java process for all of them)."""
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    keys = list(texts)
    # the tokenizer keys its output by position; str keys keep any key type round-tripping
    index = {str(k): k for k in keys}
    if len(index) != len(keys):
        raise ValueError("keys must stay distinct as strings")
    inputs = {str(k): [{"caption": str(t)} for t in texts[k]] for k in keys}
    if not any(inputs.values()):
        return {k: [] for k in keys}
    out = PTBTokenizer().tokenize(inputs)
    return {index[k]: v for k, v in out.items()}


def _check(candidates: Sequence[str], references: Sequence[Sequence[str]]) -> None:
    if isinstance(candidates, str):
        raise TypeError("candidates must be a sequence of captions, not one string")
    if len(candidates) != len(references):
        raise ValueError(f"{len(candidates)} candidates but {len(references)} reference lists")
    if len(candidates) == 0:
        raise ValueError("no captions to score")
    for k, refs in enumerate(references):
        if isinstance(refs, str) or len(refs) == 0:
            raise ValueError(f"caption {k}: references must be a non-empty list of strings")


def per_caption_scores(
    candidates: Sequence[str],
    references: Sequence[Sequence[str]],
    metrics: Sequence[str] = TEXT_METRICS,
    *,
    tokenized: bool = False,
    meteor: Any = None,
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Per-caption scores of the text metrics, and their corpus-level figures.

    Parameters
    ----------
    candidates : sequence of str
        One caption per item.
    references : sequence of sequence of str
        The references of each item (at least one each).
    metrics : sequence of str
        Names from :data:`TEXT_METRICS`.
    tokenized : bool
        The texts are already PTB-tokenized (:func:`ptb_tokenize`); skip that step.
    meteor : pycocoevalcap Meteor, optional
        A running METEOR scorer to reuse (its Java process starts once); made here if needed.

    Returns
    -------
    scores : dict
        Metric name -> ``(n,)`` float64 array.
    corpus : dict
        Metric name -> corpus-level figure (see the module docstring).
    """
    _check(candidates, references)
    unknown = sorted(set(metrics) - set(TEXT_METRICS))
    if unknown:
        raise ValueError(f"unknown caption metrics {unknown}; known: {list(TEXT_METRICS)}")
    n = len(candidates)
    if tokenized:
        res = {k: [str(candidates[k])] for k in range(n)}
        gts = {k: [str(r) for r in references[k]] for k in range(n)}
    else:
        texts = {("c", k): [candidates[k]] for k in range(n)}
        texts.update({("r", k): list(references[k]) for k in range(n)})
        tok = ptb_tokenize(texts)
        res = {k: tok[("c", k)] for k in range(n)}
        gts = {k: tok[("r", k)] for k in range(n)}
    scores: dict[str, np.ndarray] = {}
    corpus: dict[str, float] = {}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocoevalcap prints its BLEU internals
        if {"bleu1", "bleu4"} & set(metrics):
            from pycocoevalcap.bleu.bleu import Bleu

            total, each = Bleu(4).compute_score(gts, res, verbose=0)
            for name, order in (("bleu1", 0), ("bleu4", 3)):
                if name in metrics:
                    scores[name] = np.asarray(each[order], dtype=np.float64)
                    corpus[name] = float(total[order])
        if "meteor" in metrics:
            scorer = meteor
            if scorer is None:
                from pycocoevalcap.meteor.meteor import Meteor

                scorer = Meteor()
            total, each = scorer.compute_score(gts, res)
            scores["meteor"] = np.asarray(each, dtype=np.float64)
            corpus["meteor"] = float(total)
            del scorer  # a scorer made here ends its Java process when released
        if "rouge_l" in metrics:
            from pycocoevalcap.rouge.rouge import Rouge

            _, each = Rouge().compute_score(gts, res)
            scores["rouge_l"] = np.asarray(each, dtype=np.float64)
            corpus["rouge_l"] = float(np.mean(each))
        if "cider" in metrics:
            from pycocoevalcap.cider.cider import Cider

            _, each = Cider().compute_score(gts, res)
            scores["cider"] = np.asarray(each, dtype=np.float64)
            corpus["cider"] = float(np.mean(each))
    return {m: scores[m] for m in metrics}, {m: corpus[m] for m in metrics}


def caption_scores(
    candidates: Sequence[str],
    references: Sequence[Sequence[str]],
    metrics: Sequence[str] = TEXT_METRICS,
    *,
    n_bootstrap: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    tokenized: bool = False,
    meteor: Any = None,
) -> dict[str, dict[str, float | int]]:
    """The text metrics of captions against their references, each with n and a bootstrap CI.

    Returns
    -------
    dict
        Metric name -> ``value`` (mean per-caption score), ``ci_low``, ``ci_high``, ``n``,
        ``level`` and ``corpus`` (the corpus-level figure).
    """
    scores, corpus = per_caption_scores(
        candidates, references, metrics, tokenized=tokenized, meteor=meteor
    )
    out: dict[str, dict[str, float | int]] = {}
    for name, values in scores.items():
        est = bootstrap_mean(values, n_bootstrap=n_bootstrap, level=level, seed=seed)
        out[name] = {**est.as_dict(), "corpus": corpus[name]}
    return out


def embedding_cosine(
    candidates: np.ndarray,
    references: np.ndarray,
    *,
    n_bootstrap: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[np.ndarray, Estimate]:
    """Cosine of caption embeddings with their references' embeddings, with a bootstrap CI.

    Parameters
    ----------
    candidates : ndarray, shape (n, d)
        One embedding per caption (any scale: rows are normalised here).
    references : ndarray, shape (n, d) or (n, k, d)
        One reference embedding per caption, or ``k`` each (the cosine is averaged over them).

    Returns
    -------
    per_caption : ndarray, shape (n,)
    estimate : Estimate
        Mean over captions, with n and the interval.
    """
    cand = np.asarray(candidates, dtype=np.float64)
    refs = np.asarray(references, dtype=np.float64)
    if refs.ndim == 2:
        refs = refs[:, None, :]
    if cand.ndim != 2 or refs.ndim != 3 or refs.shape[0] != cand.shape[0]:
        raise ValueError(
            f"candidates {cand.shape} and references {np.shape(references)} do not match: "
            "expected (n, d) and (n, d) or (n, k, d)"
        )
    if refs.shape[2] != cand.shape[1]:
        raise ValueError(f"embedding sizes differ: {cand.shape[1]} vs {refs.shape[2]}")
    cand = cand / np.linalg.norm(cand, axis=1, keepdims=True)
    refs = refs / np.linalg.norm(refs, axis=2, keepdims=True)
    per_caption = np.einsum("nd,nkd->nk", cand, refs).mean(axis=1)
    est = bootstrap_mean(per_caption, n_bootstrap=n_bootstrap, level=level, seed=seed)
    return per_caption, est
