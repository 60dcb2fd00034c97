"""Training samples of the contrastive encoders: trials, or stimuli from subsets of repeats."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neurodecode.encoders._contrastive_samples import TrainingSamples  # noqa: E402

CPU = torch.device("cpu")


def _trials(n_stimuli=6, repeats=(3, 2, 1, 3, 3, 2), n_voxels=4, seed=0):
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(100, 100 + n_stimuli), repeats)
    order = rng.permutation(len(groups))  # trials of a stimulus are not adjacent
    groups = groups[order]
    X = rng.normal(size=(len(groups), n_voxels)).astype(np.float32)
    return X, groups


def test_trial_samples_visit_every_trial_once_per_epoch_in_sorted_reads():
    X, groups = _trials()
    samples = TrainingSamples(X, groups, by_stimulus=False, rng=np.random.default_rng(0))
    assert samples.n_samples == len(X) and not samples.averages
    seen = []
    for _ in range(len(X) // 2):
        x, rows = samples.draw(2, CPU)
        assert np.all(np.diff(rows) > 0)  # h5py needs increasing row indices
        np.testing.assert_array_equal(x.numpy(), X[rows])
        seen += rows.tolist()
    assert sorted(seen) == list(range(len(X)))


def test_stimulus_samples_average_a_non_empty_subset_of_their_own_repeats():
    X, groups = _trials()
    samples = TrainingSamples(X, groups, by_stimulus=True, rng=np.random.default_rng(1))
    assert samples.n_samples == 6 and samples.averages
    sizes = {g: set() for g in np.unique(groups)}
    for _ in range(200):
        x, rows = samples.draw(3, CPU)
        for value, row in zip(x.numpy(), rows, strict=True):
            own = X[groups == groups[row]]
            # the sample equals the mean of exactly one non-empty subset of its trials
            matches = [
                k
                for k in range(1, len(own) + 1)
                for subset in _subsets(len(own), k)
                if np.allclose(value, own[list(subset)].mean(0), atol=1e-6)
            ]
            assert matches, (value, own)
            sizes[groups[row]].add(matches[0])
    # every subset size from one trial to the full average occurs
    assert sizes[100] == {1, 2, 3} and sizes[102] == {1}


def test_stimulus_samples_need_one_target_per_stimulus():
    X, groups = _trials()
    samples = TrainingSamples(X, groups, by_stimulus=True, rng=np.random.default_rng(0))
    targets = (groups[:, None] * np.ones((1, 2))).astype(np.float32)
    samples.check_targets(targets, "image targets")
    targets[0, 0] += 1.0
    with pytest.raises(ValueError, match="differ between trials of one stimulus"):
        samples.check_targets(targets, "image targets")
    with pytest.raises(ValueError, match="groups has shape"):
        TrainingSamples(X, groups[:-1], by_stimulus=True, rng=np.random.default_rng(0))


def _subsets(n, k):
    from itertools import combinations

    return combinations(range(n), k)
