"""2 vs 2 accuracy against a brute-force computation, and its edge cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from neurodecode.metrics import two_vs_two, two_vs_two_accuracy, two_vs_two_matrix


def _brute(y_true, y_pred) -> float:
    def r(a, b):
        return np.corrcoef(a, b)[0, 1]

    scores = []
    for i, j in itertools.combinations(range(len(y_true)), 2):
        matched = r(y_pred[i], y_true[i]) + r(y_pred[j], y_true[j])
        swapped = r(y_pred[i], y_true[j]) + r(y_pred[j], y_true[i])
        scores.append(1.0 if matched > swapped else 0.5 if matched == swapped else 0.0)
    return float(np.mean(scores))


@pytest.mark.parametrize("noise", [0.5, 2.0, 8.0])
def test_matches_a_brute_force_loop(noise):
    rng = np.random.default_rng(int(noise * 10))
    y = rng.normal(size=(25, 40))
    p = y + noise * rng.normal(size=y.shape)
    assert two_vs_two_accuracy(y, p) == pytest.approx(_brute(y, p), abs=1e-12)
    est = two_vs_two(y, p, n_bootstrap=300, seed=1)
    assert est.value == pytest.approx(_brute(y, p), abs=1e-12)
    assert est.n == 25 and est.ci_low <= est.value <= est.ci_high


def test_identical_predictions_score_one_and_shuffled_about_half():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(120, 30))
    assert two_vs_two_accuracy(y, y) == 1.0
    shuffled = y[rng.permutation(len(y))]
    assert 0.4 < two_vs_two_accuracy(y, shuffled) < 0.6
    outcome = two_vs_two_matrix(y, y)
    np.testing.assert_array_equal(outcome, outcome.T)
    assert np.all(np.diag(outcome) == 0.5)


def test_bootstrap_interval_covers_the_true_accuracy():
    rng = np.random.default_rng(3)
    hits = 0
    truth = []
    for _ in range(60):
        y = rng.normal(size=(40, 20))
        p = y + 2.5 * rng.normal(size=y.shape)
        truth.append(two_vs_two_accuracy(y, p))
    centre = float(np.mean(truth))
    for rep in range(60):
        y = rng.normal(size=(40, 20))
        p = y + 2.5 * rng.normal(size=y.shape)
        est = two_vs_two(y, p, n_bootstrap=400, seed=rep)
        hits += est.ci_low <= centre <= est.ci_high
    assert hits / 60 > 0.8


def test_needs_two_samples():
    with pytest.raises(ValueError, match="two samples"):
        two_vs_two_accuracy(np.ones((1, 3)), np.ones((1, 3)))
