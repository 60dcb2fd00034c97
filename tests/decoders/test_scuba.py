"""BrainSCUBA's projection, word tagging and truth check, against direct computations."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecode.decoders._caption_words import caption_words, load_tagger, word_summary
from neurodecode.decoders._scuba import project_onto_bank, voxel_directions
from neurodecode.decoders._scuba_eval import selectivity_naming


def _dense(D: np.ndarray, B: np.ndarray, T: float) -> tuple[np.ndarray, np.ndarray]:
    """The projection in one float64 softmax over the whole bank."""
    Bn = B / np.linalg.norm(B, axis=1, keepdims=True)
    L = T * (D.astype(np.float64) @ Bn.T)
    P = np.exp(L - L.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    M = P @ Bn
    return M / np.linalg.norm(M, axis=1, keepdims=True), 1.0 / (P**2).sum(axis=1)


@pytest.mark.parametrize(("chunk", "voxel_batch"), [(1000, 64), (97, 7), (1, 50)])
def test_streamed_projection_equals_the_dense_softmax(chunk, voxel_batch):
    rng = np.random.default_rng(0)
    D, _ = voxel_directions(rng.standard_normal((16, 50)))
    B = rng.standard_normal((300, 16)).astype(np.float32) * rng.uniform(0.5, 2, (300, 1))
    chunks = [B[a : a + chunk] for a in range(0, len(B), chunk)]
    proj = project_onto_bank(D, chunks, temperatures=(5, 50, 150), voxel_batch=voxel_batch)
    for T in (5, 50, 150):
        mean, ess = _dense(D, B, T)
        np.testing.assert_allclose(proj.embeddings[T], mean, atol=1e-5)
        np.testing.assert_allclose(proj.effective_size[T], ess, rtol=1e-4)
    cos = D @ (B / np.linalg.norm(B, axis=1, keepdims=True)).T
    np.testing.assert_array_equal(proj.top_index, cos.argmax(axis=1))
    np.testing.assert_allclose(proj.top_cosine, cos.max(axis=1), atol=1e-6)
    assert proj.n_bank == 300
    np.testing.assert_allclose(np.linalg.norm(proj.embeddings[150], axis=1), 1, atol=1e-5)


def test_projection_limits_of_temperature():
    """A tiny temperature gives the bank mean; a huge one gives the closest image."""
    rng = np.random.default_rng(1)
    D, _ = voxel_directions(rng.standard_normal((8, 20)))
    B = rng.standard_normal((200, 8)).astype(np.float32)
    Bn = B / np.linalg.norm(B, axis=1, keepdims=True)
    proj = project_onto_bank(D, [B], temperatures=(1e-6, 1e5))
    mean = Bn.mean(axis=0) / np.linalg.norm(Bn.mean(axis=0))
    np.testing.assert_allclose(proj.embeddings[1e-6], np.tile(mean, (20, 1)), atol=1e-5)
    np.testing.assert_allclose(proj.embeddings[1e5], Bn[proj.top_index], atol=1e-5)
    np.testing.assert_allclose(proj.effective_size[1e-6], 200, rtol=1e-4)


def test_projection_refuses_bad_banks_and_directions():
    D, _ = voxel_directions(np.eye(4))
    good = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="expected \\(m, 4\\)"):
        project_onto_bank(D, [np.ones((3, 5))])
    bad = good.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"rows 3\.\.5 contain NaN"):
        project_onto_bank(D, [good, bad])
    with pytest.raises(ValueError, match="zero vector"):
        project_onto_bank(D, [np.zeros((2, 4))])
    with pytest.raises(ValueError, match="empty"):
        project_onto_bank(D, [])
    with pytest.raises(ValueError, match="temperatures"):
        project_onto_bank(D, [good], temperatures=(0,))
    with pytest.raises(ValueError, match="NaN or inf"):
        voxel_directions(np.full((2, 2), np.inf))


def test_voxel_directions_are_unit_and_flag_zero_weights():
    coef = np.array([[3.0, 0.0], [4.0, 0.0]])
    D, norms = voxel_directions(coef)
    np.testing.assert_allclose(D, [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(norms, [5.0, 0.0])


def test_caption_words_tags_nouns_and_adjectives():
    tagger = load_tagger()
    captions = ["A red cartoon face on a grey background.", "A small blue house with a roof.",
                "A red cartoon face on a grey background."]  # fmt: skip
    words = caption_words(captions, tagger)
    nouns, adjs = words[0]
    assert {"face", "background"} <= set(nouns) and "red" in adjs
    assert {"house", "roof"} <= set(words[1][0]) and {"small", "blue"} <= set(words[1][1])
    assert words[2] == words[0]


def test_word_summary_counts_each_caption_once():
    words = [(["face", "face"], ["red"]), (["face"], ["blue"]), (["house"], ["red"])]
    rows = word_summary([("all", np.arange(3)), ("two", np.array([0, 2]))], words, top=5)
    top = {(r["group"], r["pos"], r["word"]): (r["count"], r["share"]) for r in rows}
    assert top[("all", "noun", "face")] == (2, 2 / 3)
    assert top[("two", "adjective", "red")] == (2, 1.0)
    ranks = [r["word"] for r in rows if r["group"] == "all" and r["pos"] == "noun"]
    assert ranks == ["face", "house"]


def test_selectivity_naming_rates_and_chance():
    captions = ["A red face.", "A blue face.", "A green house.", "A red circle.",
                "A blue square on a teal background.", "A white star."]  # fmt: skip
    population = np.array(["face", "face", "place", "colour", "colour", "colour"])
    preference = np.array(["face", "face", "place", "red", "teal", "purple"])
    atlases = {"floc-faces": np.array([1, 1, 0, 0, 0, 0], bool),
               "floc-places": np.array([0, 0, 1, 0, 0, 0], bool)}  # fmt: skip
    out = selectivity_naming(captions, population, preference, atlases, n_bootstrap=50)
    assert out["category"]["floc-faces"]["value"] == 1.0
    assert out["category"]["floc-faces"]["chance_base_rate"] == pytest.approx(2 / 6)
    assert out["category"]["floc-places"]["value"] == 1.0
    colour = out["colour"]
    assert colour["value"] == pytest.approx(2 / 3) and colour["n"] == 3
    assert colour["object_colours"]["value"] == pytest.approx(0.5)
    assert colour["background_colours"]["value"] == 1.0
    # red is named by 2 of 6 captions, teal by 1, purple by none
    assert colour["chance_base_rate"] == pytest.approx((2 / 6 + 1 / 6 + 0) / 3)
