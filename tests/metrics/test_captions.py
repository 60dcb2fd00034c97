"""The caption-metric suite: BLEU-1 and the sentence cosine recomputed by hand, maxima, CIs."""

from __future__ import annotations

import math
import shutil
from collections import Counter

import numpy as np
import pytest

from neurodecode.metrics import TEXT_METRICS, caption_scores, embedding_cosine, per_caption_scores

pytest.importorskip("pycocoevalcap")
needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="METEOR/PTB need Java")

# already PTB-tokenized (lower case, no punctuation), so these run without Java
PAIRS = [
    ("a red star on a grey background", ["a red star on a black background", "a red star"]),
    ("a blue face", ["a smiling blue face with two eyes", "there is a blue face in the centre"]),
    ("the word cat written in green letters", ["the word cat written in green letters"]),
    ("a house house house", ["a yellow house in a landscape"]),
]


def _bleu1_by_hand(candidate: str, references: list[str]) -> float:
    """Clipped unigram precision x brevity penalty (closest reference length, as COCO's BLEU)."""
    cand = candidate.split()
    refs = [r.split() for r in references]
    max_ref = Counter()
    for r in refs:
        for w, c in Counter(r).items():
            max_ref[w] = max(max_ref[w], c)
    clipped = sum(min(c, max_ref[w]) for w, c in Counter(cand).items())
    precision = clipped / len(cand)
    closest = min((abs(len(r) - len(cand)), len(r)) for r in refs)[1]
    bp = 1.0 if len(cand) > closest else math.exp(1 - closest / len(cand))
    return precision * bp


def test_bleu1_matches_a_hand_computation_on_fixed_pairs():
    cands, refs = zip(*PAIRS, strict=True)
    scores, _ = per_caption_scores(list(cands), list(refs), ("bleu1",), tokenized=True)
    want = [_bleu1_by_hand(c, r) for c, r in PAIRS]
    np.testing.assert_allclose(scores["bleu1"], want, rtol=1e-6)
    assert want[3] == pytest.approx(2 / 4 * math.exp(1 - 6 / 4))  # "a", one "house" clipped


def test_identical_captions_get_the_maximum_of_the_pure_python_metrics():
    refs = [r for _, r in PAIRS]
    cands = [r[0] for r in refs]  # each caption equals its only reference
    out = caption_scores(cands, [[c] for c in cands], ("bleu1", "bleu4", "rouge_l", "cider"),
                         tokenized=True, n_bootstrap=50)  # fmt: skip
    for name in ("bleu1", "bleu4", "rouge_l"):
        assert out[name]["value"] == pytest.approx(1.0, abs=1e-6), name
    assert out["cider"]["value"] == pytest.approx(10.0, abs=1e-6)


@needs_java
def test_every_text_metric_is_maximal_for_an_identical_caption_through_the_java_tools():
    refs = ["A red star on a grey background.", "A smiling blue face with two eyes.",
            "A small green house with a roof."]  # fmt: skip
    wrong = ["A purple cross on a teal backdrop.", "The word dog in white letters.",
             "A white figure of a person standing."]  # fmt: skip
    # one call (one PTB and one METEOR process): identical captions first, then wrong ones
    scores, _ = per_caption_scores(refs + wrong, [[r] for r in refs] * 2)
    assert list(scores) == list(TEXT_METRICS)
    for name, best in zip(TEXT_METRICS, (1, 1, 1, 1, 10), strict=True):
        np.testing.assert_allclose(scores[name][:3], best, atol=1e-6, err_msg=name)
        assert np.all(scores[name][3:] < best - 1e-3), name


def test_intervals_hold_the_value_and_count_the_captions():
    cands, refs = zip(*PAIRS, strict=True)
    out = caption_scores(list(cands), list(refs), ("bleu1", "cider"), tokenized=True)
    for m in out.values():
        assert m["n"] == len(PAIRS)
        assert m["ci_low"] <= m["value"] <= m["ci_high"]


def test_embedding_cosine_averages_over_references():
    rng = np.random.default_rng(0)
    cand, refs = rng.normal(size=(5, 8)), rng.normal(size=(5, 3, 8))
    per, est = embedding_cosine(cand, refs, n_bootstrap=100)
    by_hand = [
        np.mean([c @ r / np.linalg.norm(c) / np.linalg.norm(r) for r in rs])
        for c, rs in zip(cand, refs, strict=True)
    ]
    np.testing.assert_allclose(per, by_hand, rtol=1e-10)
    assert est.value == pytest.approx(np.mean(by_hand)) and est.n == 5
    same, _ = embedding_cosine(cand, cand * 3.0)
    np.testing.assert_allclose(same, 1.0)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="reference lists"):
        per_caption_scores(["a"], [["a"], ["b"]], ("bleu1",), tokenized=True)
    with pytest.raises(ValueError, match="unknown caption metrics"):
        per_caption_scores(["a"], [["a"]], ("spice",), tokenized=True)
    with pytest.raises(TypeError):
        per_caption_scores("a cat", [["a cat"]], ("bleu1",), tokenized=True)
    with pytest.raises(ValueError, match="do not match"):
        embedding_cosine(np.ones((2, 3)), np.ones((3, 3)))
