"""Property-based tests (hypothesis): index conversions, split logic and metrics."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from neurodecode.data._nsd import _repeat_index, design_trials
from neurodecode.data._splits import assignment_hash, make_split
from neurodecode.metrics import (
    bootstrap_mean,
    noise_normalized_score,
    pearson_r_voxels,
    r2_score_voxels,
    retrieval_accuracy,
    two_vs_two_accuracy,
    two_vs_two_matrix,
)

FAST = settings(max_examples=60, deadline=None)


@st.composite
def designs(draw):
    """A random NSD-style design: 1-based masterordering over n images, subjectim rows."""
    n_images = draw(st.integers(2, 30))
    repeats = draw(st.integers(1, 3))
    n_shared = draw(st.integers(1, n_images))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    master = np.concatenate([rng.permutation(n_images) + 1 for _ in range(repeats)])
    subjectim = np.stack([rng.permutation(500)[:n_images] + 1 for _ in range(3)])
    subjectim[:, :n_shared] = subjectim[0, :n_shared]  # shared first, the same in every row
    number = draw(st.integers(1, 3))
    return master, subjectim, n_shared, number


@FAST
@given(designs())
def test_design_indices_match_a_brute_force_reading(design):
    master, subjectim, n_shared, number = design
    trial = np.arange(master.size)
    k10, stim, repeat, test = design_trials(master, subjectim, n_shared, number, trial)
    for t in trial:
        assert k10[t] == master[t]
        assert stim[t] == subjectim[number - 1][master[t] - 1] - 1  # 1-based -> 0-based
        assert repeat[t] == int(np.sum(master[:t] == master[t]))
        assert test[t] == (master[t] <= n_shared)
    assert stim.min() >= 0


@FAST
@given(arrays(np.int64, st.integers(1, 60), elements=st.integers(1, 8)))
def test_repeat_index_counts_earlier_showings(k10):
    repeat = _repeat_index(k10)
    for i, value in enumerate(k10):
        assert repeat[i] == np.count_nonzero(k10[:i] == value)


@FAST
@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=40, unique=True), st.randoms())
def test_a_split_is_its_sorted_trials_and_its_hash_is_order_free(trials, rnd):
    shuffled = list(trials)
    rnd.shuffle(shuffled)
    a, b = make_split("test", "rule", trials), make_split("test", "rule", shuffled)
    assert a.sha256 == b.sha256 and list(a.trials) == sorted(trials)
    assert not a.trials.flags.writeable
    if len(trials) > 1:
        assert make_split("test", "rule", trials[:-1]).sha256 != a.sha256


@FAST
@given(st.lists(st.sampled_from(["train", "test"]), min_size=2, max_size=40), st.data())
def test_the_assignment_hash_changes_when_one_trial_moves(splits, data):
    trials = list(range(len(splits)))
    i = data.draw(st.integers(0, len(splits) - 1))
    moved = list(splits)
    moved[i] = "train" if moved[i] == "test" else "test"
    assert assignment_hash(trials, splits) != assignment_hash(trials, moved)
    assert assignment_hash(trials, splits) == assignment_hash(list(trials), list(splits))


finite = st.floats(-1e3, 1e3, allow_nan=False, width=32)


@FAST
@given(arrays(np.float64, (12, 4), elements=finite), arrays(np.float64, (12, 4), elements=finite),
       st.floats(0.1, 10), st.floats(-5, 5))  # fmt: skip
def test_voxelwise_scores_are_bounded_and_r_is_affine_invariant(y, p, scale, shift):
    r = pearson_r_voxels(y, p)
    ok = np.isfinite(r)
    assert np.all(np.abs(r[ok]) <= 1 + 1e-9)
    ok &= (p.std(axis=0) > 1e-3) & (y.std(axis=0) > 1e-3)  # well-conditioned columns only
    r2 = pearson_r_voxels(y, scale * p + shift)
    np.testing.assert_allclose(r2[ok], r[ok], atol=1e-6)
    assert np.all(r2_score_voxels(y, p)[np.isfinite(r2_score_voxels(y, p))] <= 1 + 1e-9)
    assert np.all(r2_score_voxels(y, y)[np.isfinite(r2_score_voxels(y, y))] > 1 - 1e-9)


@FAST
@given(arrays(np.float64, 20, elements=st.floats(-1, 1)),
       arrays(np.float64, 20, elements=st.floats(0, 100)))  # fmt: skip
def test_the_noise_normalised_score_is_a_percentage(r, ceiling):
    score = noise_normalized_score(r, ceiling)
    ok = np.isfinite(score)
    assert np.all((score[ok] >= 0) & (score[ok] <= 100))
    assert ok[ceiling > 0].all()  # scored wherever there is a ceiling


@FAST
@given(arrays(np.float64, (8, 6), elements=finite), arrays(np.float64, (8, 6), elements=finite))
def test_two_vs_two_is_symmetric_and_a_probability(y, p):
    outcome = two_vs_two_matrix(y, p)
    np.testing.assert_array_equal(outcome, outcome.T)
    acc = two_vs_two_accuracy(y, p)
    assert 0.0 <= acc <= 1.0


@FAST
@given(arrays(np.float64, st.integers(1, 50), elements=finite), st.integers(0, 1000))
def test_a_bootstrap_interval_holds_its_estimate(values, seed):
    est = bootstrap_mean(values, n_bootstrap=200, seed=seed)
    assert est.n == values.size
    assert est.ci_low - 1e-9 <= est.value <= est.ci_high + 1e-9


@FAST
@given(st.integers(3, 20), st.integers(2, 8), st.integers(0, 1000))
def test_identical_embeddings_retrieve_perfectly(n, d, seed):
    x = np.random.default_rng(seed).normal(size=(n, d))
    res = retrieval_accuracy(x, x, n_way=n, n_draws=2, seed=0)
    assert res.image_given_brain == 1.0 and res.brain_given_image == 1.0
