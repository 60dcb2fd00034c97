"""The image-metric suite against independent computations and its fixed points."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecode.metrics import (
    correlation_distance,
    pixcorr,
    ssim,
    summarise,
    two_way_identification,
)


def _images(n: int, seed: int = 0, side: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, side, side, 3), dtype=np.uint8)


def _brute_two_way(pred: np.ndarray, true: np.ndarray) -> float:
    n, hits, total = len(pred), 0.0, 0
    for i in range(n):
        own = np.corrcoef(pred[i], true[i])[0, 1]
        for j in range(n):
            if j != i:
                other = np.corrcoef(pred[i], true[j])[0, 1]
                hits += 1.0 if own > other else 0.5 if own == other else 0.0
                total += 1
    return hits / total


def test_pixcorr_matches_corrcoef() -> None:
    a, b = _images(5, 1), _images(5, 2)
    expected = [
        np.corrcoef(x.ravel() / 255.0, y.ravel() / 255.0)[0, 1] for x, y in zip(a, b, strict=True)
    ]
    np.testing.assert_allclose(pixcorr(a, b), expected, atol=1e-12)


def test_pixcorr_identical_is_one_and_resizes() -> None:
    a = _images(3)
    np.testing.assert_allclose(pixcorr(a, a), 1.0)
    big = np.repeat(np.repeat(a, 2, axis=1), 2, axis=2)
    assert np.all(pixcorr(big, a, size=16) > 0.99)
    with pytest.raises(ValueError, match="shapes differ"):
        pixcorr(big, a)


def test_two_way_matches_brute_force_loop() -> None:
    rng = np.random.default_rng(3)
    true = rng.normal(size=(12, 20))
    pred = true + rng.normal(scale=1.5, size=true.shape)
    assert np.mean(two_way_identification(pred, true)) == pytest.approx(
        _brute_two_way(pred, true), abs=1e-12
    )


def test_two_way_identical_is_perfect_and_shuffled_is_chance() -> None:
    rng = np.random.default_rng(4)
    true = rng.normal(size=(300, 64))
    assert np.mean(two_way_identification(true, true)) == 1.0
    shuffled = [np.mean(two_way_identification(true[rng.permutation(300)], true)) for _ in range(8)]
    assert np.mean(shuffled) == pytest.approx(0.5, abs=0.03)


def test_ssim_identical_is_one_and_noise_lowers_it() -> None:
    a = _images(2, side=32)
    np.testing.assert_allclose(ssim(a, a), 1.0)
    noisy = np.clip(a.astype(int) + np.random.default_rng(0).integers(-60, 60, a.shape), 0, 255)
    assert np.all(ssim(noisy.astype(np.uint8), a) < 0.95)


def test_correlation_distance_bounds() -> None:
    x = np.random.default_rng(5).normal(size=(4, 10))
    np.testing.assert_allclose(correlation_distance(x, x), 0.0, atol=1e-12)
    np.testing.assert_allclose(correlation_distance(-x, x), 2.0, atol=1e-12)


def test_summary_has_n_and_ci() -> None:
    est = summarise(np.array([0.0, 1.0, 1.0, 1.0]), n_bootstrap=200)
    assert est.n == 4 and est.ci_low <= est.value <= est.ci_high


def test_mismatched_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="3 reconstructions but 2"):
        two_way_identification(np.zeros((3, 4)), np.zeros((2, 4)))
