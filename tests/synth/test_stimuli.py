"""Stimuli, captions and ground-truth features of the synthetic world."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from neurodecode.synth import (
    CATEGORIES,
    CATEGORY_FEATURES,
    CATEGORY_WORDS,
    COLOUR_FEATURES,
    COLOURS,
    SHAPES,
    TRUTH_SPACES,
    StimulusSet,
    truth_features,
)


@pytest.fixture(scope="module")
def pool() -> StimulusSet:
    return StimulusSet(73_000, seed=5, image_size=64)


@pytest.fixture(scope="module")
def sample(pool):
    ids = np.arange(1000)
    return ids, pool.images(ids), pool.categories(ids)


def test_same_seed_same_stimuli_other_seed_differs(pool):
    twin = StimulusSet(73_000, seed=5, image_size=64)
    other = StimulusSet(73_000, seed=6, image_size=64)
    ids = [0, 17, 72_999, 17]
    assert np.array_equal(pool.images(ids), twin.images(ids))
    assert all(pool.captions(i) == twin.captions(i) for i in ids)
    assert all(pool.attributes(i) == twin.attributes(i) for i in ids)
    assert not np.array_equal(pool.images(ids), other.images(ids))
    assert [pool.captions(i) for i in ids] != [other.captions(i) for i in ids]


def test_images_are_generated_per_id(pool):
    batch = pool.images([72_999, 3, 3])
    assert batch.shape == (3, 64, 64, 3) and batch.dtype == np.uint8
    assert np.array_equal(batch[0], pool.images([72_999])[0])
    assert np.array_equal(batch[1], batch[2])
    with pytest.raises(IndexError):
        pool.images([73_000])


def test_any_image_size():
    big = StimulusSet(100, seed=1, image_size=128).images([4, 9])
    assert big.shape == (2, 128, 128, 3)


def test_categories_balanced(pool):
    cats = pool.categories(np.arange(1000))
    assert set(cats) == set(CATEGORIES)
    for c in CATEGORIES:
        assert (cats == c).sum() == 200
    for block in cats.reshape(-1, 5):
        assert sorted(block) == sorted(CATEGORIES)


def test_attributes_are_json_and_consistent(pool):
    for i in range(200):
        attrs = pool.attributes(i)
        assert json.loads(json.dumps(attrs)) == attrs
        assert attrs["category"] == pool.category(i)
        main = attrs["objects"][0]
        assert main["colour"] == attrs["main_colour"] and main["colour"] in COLOURS
        if attrs["category"] == "object":
            assert 1 <= len(attrs["objects"]) <= 3
            assert all(o["shape"] in SHAPES for o in attrs["objects"])
            assert main["size"] == max(o["size"] for o in attrs["objects"])
        else:
            assert len(attrs["objects"]) == 1
        for o in attrs["objects"]:
            assert all(0 <= v <= 1 for v in o["position"])


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def test_captions_name_category_colour_and_only_what_is_there(pool):
    for i in range(300):
        attrs = pool.attributes(i)
        caps = pool.captions(i)
        assert len(caps) == 5 and len(set(caps)) == 5
        present_colours = {o["colour"] for o in attrs["objects"]}
        present_shapes = {o["shape"] for o in attrs["objects"]} & set(SHAPES)
        cat_word = CATEGORY_WORDS.get(attrs["category"], attrs["objects"][0]["shape"])
        for cap in caps:
            words = _words(cap)
            assert cat_word in words, (cap, attrs)
            assert attrs["main_colour"] in words, (cap, attrs)
            assert words & set(COLOURS) <= present_colours, (cap, attrs)
            assert words & set(SHAPES) <= present_shapes, (cap, attrs)
            other_categories = set(CATEGORY_WORDS.values()) - {cat_word}
            assert not words & other_categories, (cap, attrs)


def test_truth_features_shapes_and_purity(sample):
    _, images, _ = sample
    feats = truth_features(images[:50])
    assert set(feats) == set(TRUTH_SPACES)
    for name, p in TRUTH_SPACES.items():
        assert feats[name].shape == (50, p) and feats[name].dtype == np.float32
        assert np.isfinite(feats[name]).all()
    again = truth_features(images[:50].copy(), chunk=7)
    for name in TRUTH_SPACES:
        np.testing.assert_allclose(again[name], feats[name], rtol=1e-5, atol=1e-6)
    assert truth_features(images[:0])["colour"].shape == (0, len(COLOUR_FEATURES))
    with pytest.raises(ValueError):
        truth_features(images[:2].astype(np.float32))


def test_category_scores_separate_categories(sample):
    _, images, cats = sample
    scores = truth_features(images)["category"]
    glyph = cats != "object"
    pred = np.array(CATEGORY_FEATURES)[scores.argmax(axis=1)]
    assert (pred[glyph] == cats[glyph]).mean() > 0.97
    # each glyph category scores higher on its own images than objects do on average
    for k, c in enumerate(CATEGORY_FEATURES):
        assert scores[cats == c, k].mean() > scores[cats == "object", k].mean() + 0.3


def test_colour_feature_finds_main_colour(sample, pool):
    ids, images, _ = sample
    colour = truth_features(images)["colour"]
    main = np.array([pool.attributes(i)["main_colour"] for i in ids])
    assert COLOUR_FEATURES[: len(COLOURS)] == COLOURS
    pred = np.array(COLOURS)[colour[:, : len(COLOURS)].argmax(axis=1)]
    assert (pred == main).mean() > 0.95
    # plain backgrounds are read as their own palette colour
    for k, i in enumerate(ids):
        bg = pool.attributes(i)["background"]
        if bg["kind"] == "plain" and pool.category(i) != "place":
            assert COLOUR_FEATURES[int(colour[k].argmax())] == bg["colour"]
    assert colour.sum(axis=1).max() <= 1.0 + 1e-6


def test_truth_features_resolution_invariant():
    small = StimulusSet(50, seed=2, image_size=64)
    large = StimulusSet(50, seed=2, image_size=128)
    a = truth_features(small.images(range(50)))
    b = truth_features(large.images(range(50)))
    assert (a["category"].argmax(1) == b["category"].argmax(1)).mean() > 0.9
    assert np.corrcoef(a["colour"].ravel(), b["colour"].ravel())[0, 1] > 0.95
    assert np.corrcoef(a["prf_energy"].ravel(), b["prf_energy"].ravel())[0, 1] > 0.7
