"""Named, hashed splits and the noise-ceiling formulas."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from neurodecode.data import (
    assignment_hash,
    inverse_repeats,
    make_split,
    ncsnr_from_repeats,
    noise_ceiling_from_ncsnr,
    trials_hash,
)


def test_split_is_sorted_readonly_and_hashed():
    split = make_split("test", "rule", np.array([9, 2, 5]))
    np.testing.assert_array_equal(split.trials, [2, 5, 9])
    assert split.sha256 == hashlib.sha256(b"2\n5\n9").hexdigest()
    assert split.sha256 == make_split("test", "other words", [5, 9, 2]).sha256
    assert split.sha256 != make_split("test", "rule", [2, 5, 10]).sha256
    with pytest.raises(ValueError):
        split.trials[0] = 1
    assert len(split) == 3


def test_assignment_hash_is_the_prepared_cache_hash():
    from neurodecode.data._prepare import split_hash

    trials = pd.DataFrame({"trial": [0, 1, 7], "split": ["train", "test", "train"]})
    assert assignment_hash(trials["trial"], trials["split"]) == split_hash(trials)
    assert assignment_hash([0, 1, 7], ["train", "train", "train"]) != split_hash(trials)
    assert trials_hash([1, 2]) != trials_hash([12])


def test_inverse_repeats_is_the_unequal_repeats_formula():
    counts = np.array([3] * 5 + [2] * 3 + [1] * 2)
    assert inverse_repeats(counts) == pytest.approx((5 / 3 + 3 / 2 + 2 / 1) / 10)
    assert inverse_repeats(np.array([3, 3])) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        inverse_repeats(np.array([]))


def test_noise_ceiling_formula_and_nan():
    nc = noise_ceiling_from_ncsnr(np.array([0.0, 1.0, np.nan, 0.361]), 1 / 3)
    np.testing.assert_allclose(nc[[0, 1, 3]], [0.0, 75.0, 100 * 0.361**2 / (0.361**2 + 1 / 3)])
    assert np.isnan(nc[2]) and nc.dtype == np.float32


def test_ncsnr_from_repeats_recovers_the_simulated_snr():
    rng = np.random.default_rng(0)
    n_img, reps = 4000, 3
    true = np.array([0.2, 0.5, 1.0, 2.0])
    # unit total variance: signal sd s/sqrt(1+s^2), noise sd 1/sqrt(1+s^2)
    signal = rng.normal(size=(n_img, true.size)) * true / np.sqrt(1 + true**2)
    trials = np.repeat(signal, reps, axis=0)
    trials += rng.normal(size=trials.shape) / np.sqrt(1 + true**2)
    ids = np.repeat(np.arange(n_img), reps)
    single = np.arange(5) + n_img  # images shown once do not count
    trials = np.concatenate([trials, rng.normal(size=(5, true.size)) * 50])
    got = ncsnr_from_repeats(trials, np.concatenate([ids, single]))
    np.testing.assert_allclose(got, true, rtol=0.08)
    with pytest.raises(ValueError):
        ncsnr_from_repeats(np.zeros((3, 2)), np.arange(3))
