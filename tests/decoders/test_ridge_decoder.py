"""The one linear decoder: voxels -> features through the ridge machinery."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecode.decoders import RidgeDecoder, RowIndexedTargets, reliable_voxels
from neurodecode.encoders import RidgeEncoder


def _problem(n=120, v=40, q=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, v)).astype(np.float32)
    W = rng.normal(size=(v, q)).astype(np.float32)
    Y = X @ W + 2 * rng.normal(size=(n, q)).astype(np.float32)
    groups = np.repeat(np.arange(n // 3), 3)
    return X, Y, groups


def test_it_is_the_encoders_ridge_run_the_other_way():
    X, Y, groups = _problem()
    dec = RidgeDecoder(restandardize="none").fit(X, Y, groups=groups)
    enc = RidgeEncoder().fit(X, Y, groups=groups)
    np.testing.assert_allclose(dec.predict(X), enc.predict(X), atol=1e-5)


def test_full_rank_pca_equals_the_exact_solve_and_lazy_targets_read_in_chunks():
    X, Y, groups = _problem(q=12)
    # one alpha for every output: a ridge commutes with the rotation onto the components
    exact = RidgeDecoder(alphas=(10.0,), restandardize="none").fit(X, Y, groups=groups)
    pca = RidgeDecoder(alphas=(10.0,), n_components=12, restandardize="none", chunk_size=5)
    pca.fit(X, RowIndexedTargets(Y, np.arange(len(Y))), groups=groups)
    assert pca.explained_variance_ratio_ == pytest.approx(1.0)
    np.testing.assert_allclose(pca.predict(X), exact.predict(X), atol=1e-3)
    few = RidgeDecoder(n_components=3, restandardize="none").fit(X, Y, groups=groups)
    assert 0 < few.explained_variance_ratio_ < 1


def test_voxel_subset_restandardisation_and_persistence(tmp_path):
    X, Y, groups = _problem()
    dec = RidgeDecoder(voxels=np.arange(10, 30)).fit(X, Y, groups=groups)
    pred = dec.predict(X[:50])
    np.testing.assert_allclose(pred.mean(0), Y.mean(0), atol=1e-4)
    np.testing.assert_allclose(pred.std(0), Y.std(0), rtol=1e-3)
    np.testing.assert_array_equal(dec.voxels_, np.arange(10, 30))
    with pytest.raises(ValueError, match="at least 2 rows"):
        dec.predict(X[:1])
    back = RidgeDecoder.load(dec.save(tmp_path / "dec"))
    np.testing.assert_allclose(back.predict(X[:50]), pred, atol=1e-6)
    with pytest.raises(ValueError, match="voxels"):
        RidgeDecoder(voxels=[99]).fit(X, Y)


def test_reliable_voxels_come_from_training_repeats_only():
    rng = np.random.default_rng(1)
    stim = np.repeat(np.arange(40), 3)
    signal = rng.normal(size=(40, 6))[stim]
    noise = rng.normal(size=(120, 6)) * np.array([0.1, 0.1, 3, 3, 3, 0.2])
    chosen = reliable_voxels(signal + noise, stim, np.arange(6), 3)
    assert chosen.tolist() == [0, 1, 5]
    assert reliable_voxels(signal, stim, np.arange(6), None).tolist() == list(range(6))
