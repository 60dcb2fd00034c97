"""Tests of the N-way retrieval metric against a brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from neurodecode.metrics._retrieval import (
    cosine_similarity,
    rank_candidates,
    retrieval_accuracy,
)


def _reference_top1(queries: np.ndarray, candidates: np.ndarray) -> float:
    """Query i is correct when candidate i is strictly more similar than every other one."""
    hits = 0
    for i, q in enumerate(queries):
        sims = [float(q @ c / (np.linalg.norm(q) * np.linalg.norm(c))) for c in candidates]
        others = [s for j, s in enumerate(sims) if j != i]
        hits += sims[i] > max(others)
    return hits / len(queries)


def test_matches_brute_force_in_both_directions_when_all_samples_are_candidates():
    rng = np.random.default_rng(1)
    image = rng.normal(size=(40, 8))
    brain = image + 1.2 * rng.normal(size=image.shape)
    res = retrieval_accuracy(brain, image, n_way=300, n_draws=3, seed=0)
    assert res.n_way == 40  # clipped to the number of samples
    assert res.image_given_brain == pytest.approx(_reference_top1(brain, image))
    assert res.brain_given_image == pytest.approx(_reference_top1(image, brain))
    # The two directions differ on this problem, so a swapped direction would be caught.
    assert res.image_given_brain != res.brain_given_image
    # Every draw holds all samples, so draws do not vary: the interval comes from resampling
    # queries, about the binomial one for 40 queries.
    lo, hi = res.image_given_brain_ci
    p = res.image_given_brain
    assert lo < p < hi
    assert (hi - lo) / 2 == pytest.approx(1.96 * np.sqrt(p * (1 - p) / 40), rel=0.3)


def test_each_draw_matches_brute_force_on_its_subset():
    rng = np.random.default_rng(2)
    image = rng.normal(size=(120, 6))
    brain = image + rng.normal(size=image.shape)
    res = retrieval_accuracy(brain, image, n_way=25, n_draws=4, seed=7)
    draw_rng = np.random.default_rng(7)
    for d in range(4):
        idx = draw_rng.choice(120, size=25, replace=False)
        assert res.draws_image_given_brain[d] == pytest.approx(
            _reference_top1(brain[idx], image[idx])
        )
        assert res.draws_brain_given_image[d] == pytest.approx(
            _reference_top1(image[idx], brain[idx])
        )
    assert res.image_given_brain == pytest.approx(res.draws_image_given_brain.mean())


def test_perfect_constant_and_random_predictors():
    rng = np.random.default_rng(3)
    image = rng.normal(size=(600, 32))
    perfect = retrieval_accuracy(2.0 * image, image)  # cosine ignores scale
    assert perfect.image_given_brain == 1.0 and perfect.brain_given_image == 1.0
    assert perfect.n_way == 300 and perfect.chance == pytest.approx(1 / 300)

    constant = retrieval_accuracy(np.ones_like(image), image)
    # One query per draw is right by luck: the image nearest the constant vector.
    assert constant.image_given_brain == pytest.approx(1 / 300)
    assert constant.brain_given_image == 0.0  # identical candidates: ties count against

    noise = retrieval_accuracy(rng.normal(size=image.shape), image, n_draws=30, seed=1)
    assert noise.image_given_brain < 0.02 and noise.brain_given_image < 0.02
    # Top-k of a random ranking is about k / n_way.
    assert noise.topk(150)[0] == pytest.approx(0.5, abs=0.05)


def test_topk_curve_is_monotone_and_ends_at_one():
    rng = np.random.default_rng(4)
    image = rng.normal(size=(200, 10))
    brain = image + 2 * rng.normal(size=image.shape)
    res = retrieval_accuracy(brain, image, n_way=50, n_draws=5, seed=0)
    for curve in (res.topk_image_given_brain, res.topk_brain_given_image):
        assert curve.shape == (50,)
        assert np.all(np.diff(curve) >= 0)
        assert curve[-1] == pytest.approx(1.0)
    assert res.topk(1) == pytest.approx((res.image_given_brain, res.brain_given_image))
    with pytest.raises(ValueError):
        res.topk(51)


def test_seed_determinism_and_ci():
    rng = np.random.default_rng(5)
    image = rng.normal(size=(400, 10))
    brain = image + 2.5 * rng.normal(size=image.shape)
    a = retrieval_accuracy(brain, image, n_way=100, seed=3)
    b = retrieval_accuracy(brain, image, n_way=100, seed=3)
    c = retrieval_accuracy(brain, image, n_way=100, seed=4)
    np.testing.assert_array_equal(a.draws_image_given_brain, b.draws_image_given_brain)
    assert not np.array_equal(a.draws_image_given_brain, c.draws_image_given_brain)
    lo, hi = a.image_given_brain_ci
    assert lo < a.image_given_brain < hi
    # Resampling the 400 queries gives a wider interval than the spread of the 30 draws.
    draws = a.draws_image_given_brain
    half = scipy.stats.t.ppf(0.975, draws.size - 1) * draws.std(ddof=1) / np.sqrt(draws.size)
    assert (hi - lo) / 2 > half
    d = a.as_dict()
    assert d["n_way"] == 100 and len(d["topk_image_given_brain"]) == 100


def test_rank_candidates_and_cosine():
    cands = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    q = np.array([[1.0, 0.1], [0.0, 5.0]])
    np.testing.assert_array_equal(rank_candidates(q, cands, k=2), [[0, 2], [1, 2]])
    sim = cosine_similarity(q, cands)
    assert sim[0, 3] == 0.0  # zero-norm rows are similar to nothing
    assert sim[1, 1] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("brain", "image", "kwargs"),
    [
        (np.zeros((5, 3)), np.zeros((5, 4)), {}),
        (np.zeros(5), np.zeros(5), {}),
        (np.zeros((1, 3)), np.zeros((1, 3)), {}),
        (np.full((5, 3), np.nan), np.zeros((5, 3)), {}),
        (np.zeros((5, 3)), np.zeros((5, 3)), {"n_way": 1}),
        (np.zeros((5, 3)), np.zeros((5, 3)), {"n_draws": 0}),
    ],
)
def test_invalid_inputs_raise(brain, image, kwargs):
    with pytest.raises(ValueError):
        retrieval_accuracy(brain, image, **kwargs)
