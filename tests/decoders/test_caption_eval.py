"""Scoring decoded captions: the sentence cosine by hand with the real MiniLM, attributes."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecode.decoders._caption_eval import attribute_accuracy, embed_texts

PAIRS = [
    ("A red star on a grey background.", "A picture of a red star."),
    ("A smiling blue face.", "The word cat written in green letters."),
    ("A small yellow house with a roof.", "An outdoor scene with a yellow house."),
]


def test_sentence_cosine_matches_minilm_by_hand():
    pytest.importorskip("sentence_transformers")
    from transformers import AutoModel, AutoTokenizer

    from neurodecode.features import get_extractor
    from neurodecode.metrics import embedding_cosine
    from neurodecode.models import resolve_weights

    torch = pytest.importorskip("torch")
    extractor = get_extractor("all-MiniLM-L6-v2")
    a = embed_texts(extractor, [p[0] for p in PAIRS])
    b = embed_texts(extractor, [p[1] for p in PAIRS])
    per, _ = embedding_cosine(a, b)

    # by hand: the BERT encoder, mean pooling over real tokens, cosine (all-MiniLM-L6-v2's recipe)
    path = resolve_weights("all-MiniLM-L6-v2")
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    net = AutoModel.from_pretrained(path, local_files_only=True).eval()

    def embed(texts):
        batch = tok(list(texts), padding=True, truncation=True, return_tensors="pt")
        with torch.no_grad():
            hidden = net(**batch).last_hidden_state
        mask = batch["attention_mask"][..., None].float()
        return ((hidden * mask).sum(1) / mask.sum(1)).numpy()

    x, y = embed(p[0] for p in PAIRS), embed(p[1] for p in PAIRS)
    want = (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    np.testing.assert_allclose(per, want, atol=1e-5)
    assert per[0] > per[1]  # same content scores above unrelated content
    same, _ = embedding_cosine(a, a)
    np.testing.assert_allclose(same, 1.0, atol=1e-6)


def test_attribute_accuracy_and_its_chance_rates():
    truth = [("red", "object"), ("blue", "face"), ("red", "place"), ("green", "word")]
    attrs = [{"main_colour": c, "category": k} for c, k in truth]
    captions = ["A red star.", "A blue house.", "A green house.", "Nothing here."]
    out = attribute_accuracy(captions, attrs)
    assert out["n"] == 4
    assert out["colour"]["value"] == pytest.approx(2 / 4)
    assert out["category"]["value"] == pytest.approx(2 / 4)  # star -> object, house -> place
    assert out["colour"]["chance_uniform"] == pytest.approx(1 / 6)
    assert out["colour"]["chance_majority"] == pytest.approx(2 / 4)
    # named red 1/4, blue 1/4, green 1/4; true red 2/4, blue 1/4, green 1/4
    assert out["colour"]["chance_shuffled"] == pytest.approx((2 + 1 + 1) / 16)
    assert out["category"]["chance_uniform"] == pytest.approx(1 / 5)
