"""The natural-image prior: streamed softmax means, the noise model, and the posterior.

Each part is checked against an independent dense computation: the chunked softmax mean
against ``scipy.special.softmax`` over the whole bank, the noise model against
``np.polyfit``, and the posterior against Gaussian log-densities from ``scipy.stats``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax
from scipy.stats import norm

from neurodecode.decoders import (
    BankPosterior,
    OnlineSoftmaxMean,
    RidgeDecoder,
    fit_noise_model,
    out_of_fold_scores,
)


@pytest.mark.parametrize("chunk", [1, 7, 50, 200])
def test_streamed_softmax_mean_equals_the_dense_one(chunk):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 30, (5, 200))  # far beyond exp's float range unless stabilised
    values = rng.normal(size=(200, 3))
    acc = OnlineSoftmaxMean(5, 3)
    for start in range(0, 200, chunk):
        acc.update(logits[:, start : start + chunk], values[start : start + chunk])
    w = softmax(logits, axis=1)
    np.testing.assert_allclose(acc.mean(), w @ values, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(acc.effective_size(), 1 / (w**2).sum(axis=1), rtol=1e-10)
    assert acc.n_seen == 200


def test_softmax_mean_rejects_bad_chunks():
    acc = OnlineSoftmaxMean(2, 3)
    with pytest.raises(ValueError, match="no chunk"):
        acc.mean()
    with pytest.raises(ValueError, match="logits must be"):
        acc.update(np.zeros((3, 4)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="values must be"):
        acc.update(np.zeros((2, 4)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="finite"):
        acc.update(np.array([[0.0, np.nan], [0.0, 0.0]]), np.zeros((2, 3)))


def test_noise_model_matches_a_least_squares_line_per_direction():
    rng = np.random.default_rng(1)
    s = rng.normal(size=(500, 4))
    slopes, sds = np.array([0.9, 0.3, 0.0, -0.5]), np.array([0.2, 0.5, 1.0, 0.1])
    pred = 0.1 + slopes * s + sds * rng.normal(size=s.shape)
    model = fit_noise_model(pred, s, nonnegative=False)
    for k in range(4):
        b, a = np.polyfit(s[:, k], pred[:, k], 1)
        resid = pred[:, k] - (a + b * s[:, k])
        assert model.slope[k] == pytest.approx(b, abs=1e-10)
        assert model.intercept[k] == pytest.approx(a, abs=1e-10)
        assert model.variance[k] == pytest.approx(resid.var(), rel=1e-8)
    np.testing.assert_allclose(model.slope, slopes, atol=0.08)
    clipped = fit_noise_model(pred, s)
    assert clipped.slope[3] == 0 and clipped.variance[3] == pytest.approx(pred[:, 3].var())
    np.testing.assert_array_equal(clipped.slope[:3], np.maximum(model.slope[:3], 0))
    summary = model.as_dict()
    assert summary["n"] == 500 and summary["n_directions"] == 4
    with pytest.raises(ValueError, match="same"):
        fit_noise_model(pred[:, :2], s)


def test_log_likelihood_is_the_gaussian_density_up_to_a_constant():
    rng = np.random.default_rng(2)
    s = rng.normal(size=(300, 3))
    model = fit_noise_model(0.5 * s + 0.3 * rng.normal(size=s.shape), s)
    pred, bank = rng.normal(size=(4, 3)), rng.normal(size=(6, 3))
    ll = model.log_likelihood(pred, bank)
    mean = model.intercept + model.slope * bank
    ref = norm.logpdf(pred[:, None, :], mean[None], np.sqrt(model.variance)).sum(axis=2)
    diff = ll - ref
    np.testing.assert_allclose(diff, diff[:, :1].repeat(6, axis=1), atol=1e-9)


def _world(seed=0, n=400, p=60, q=12, n_bank=3000, noise=12.0):
    """Stimuli of 4 classes with class-specific features; voxels a noisy linear read-out."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (4, q))

    def stimuli(m):
        cls = rng.integers(0, 4, m)
        return cls, centres[cls] + rng.normal(size=(m, q))

    mixing = rng.normal(size=(q, p))
    _, y_tr = stimuli(n)
    c_te, y_te = stimuli(100)
    c_bank, bank = stimuli(n_bank)

    def brain(y):
        return (y @ mixing + rng.normal(0, noise, (len(y), p))).astype(np.float32)

    return (brain(y_tr), y_tr.astype(np.float32), brain(y_te), y_te, c_te, centres,
            bank.astype(np.float32), c_bank)  # fmt: skip


def test_posterior_equals_the_dense_softmax_of_gaussian_densities():
    X, y, X_te, _, _, _, bank, _ = _world()
    dec = RidgeDecoder(alphas=np.logspace(-2, 5, 15), n_splits=4).fit(X, y)
    pred, true = out_of_fold_scores(dec, X, y, n_splits=4)
    assert pred.shape == true.shape == (len(X), 12)
    noise = fit_noise_model(pred, true)
    chunks = [bank[k : k + 256] for k in range(0, len(bank), 256)]
    scores = dec.predict_scores(X_te)
    for temperature in (1.0, 3.0):
        mean, summary = BankPosterior(dec, noise, lambda: iter(chunks), temperature)(scores)
        expected = noise.intercept + noise.slope * dec.transform_targets(bank)
        ll = norm.logpdf(scores[:, None, :], expected[None], np.sqrt(noise.variance)).sum(2)
        w = softmax(ll / temperature, axis=1)
        np.testing.assert_allclose(mean, w @ bank, rtol=1e-4, atol=1e-4)
        assert summary["bank_size"] == len(bank)
        assert summary["effective_size_median"] == pytest.approx(
            np.median(1 / (w**2).sum(axis=1)), rel=1e-6
        )
    # a flat prior (huge temperature) gives the bank's mean, whatever the brain says
    flat, _ = BankPosterior(dec, noise, lambda: iter(chunks), temperature=1e12)(scores)
    np.testing.assert_allclose(flat, np.broadcast_to(bank.mean(axis=0), flat.shape), atol=1e-3)


def test_posterior_finds_the_seen_image_when_the_bank_holds_it():
    X, y, X_te, y_te, _, _, bank, _ = _world(noise=4.0)
    dec = RidgeDecoder(alphas=np.logspace(-2, 5, 15), n_splits=4).fit(X, y)
    noise = fit_noise_model(*out_of_fold_scores(dec, X, y, n_splits=4))
    with_seen = np.concatenate([bank, y_te.astype(np.float32)])
    mean, summary = BankPosterior(dec, noise, lambda: iter([with_seen]))(dec.predict_scores(X_te))
    plain = dec.restandardise(dec.predict_raw(X_te))
    err_posterior = np.mean((mean - y_te) ** 2)
    assert err_posterior < 0.5 * np.mean((plain - y_te) ** 2)
    assert summary["effective_size_median"] < 3


def test_posterior_rejects_an_empty_bank_and_bad_temperatures():
    X, y, *_ = _world(n=60, n_bank=10)
    dec = RidgeDecoder(alphas=[1.0, 10.0], n_splits=3).fit(X, y)
    noise = fit_noise_model(*out_of_fold_scores(dec, X, y, n_splits=3))
    with pytest.raises(ValueError, match="empty"):
        BankPosterior(dec, noise, lambda: iter([]))(dec.predict_scores(X[:3]))
    with pytest.raises(ValueError, match="temperature"):
        BankPosterior(dec, noise, lambda: iter([]), temperature=0)


def test_scores_round_trip_through_the_components():
    X, y, *_ = _world(n=200)
    dec = RidgeDecoder(alphas=[1.0, 100.0], n_splits=3, n_components=5).fit(X, y)
    scores = dec.predict_scores(X[:7])
    assert scores.shape == (7, 5)
    np.testing.assert_allclose(dec.inverse_transform_targets(scores), dec.predict_raw(X[:7]),
                               rtol=1e-5, atol=1e-5)  # fmt: skip
    np.testing.assert_allclose(
        dec.transform_targets(dec.inverse_transform_targets(scores)), scores, atol=1e-3
    )
    with pytest.raises(ValueError, match="expected targets"):
        dec.transform_targets(np.zeros((3, 4)))
