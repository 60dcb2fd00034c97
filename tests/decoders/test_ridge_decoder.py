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


def _tokens_problem(n=120, v=40, tokens=6, dims=5, seed=0):
    """Targets laid out like GIT's flattened vision tokens (tokens x dims), stimuli in pairs."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, v)).astype(np.float32)
    W = rng.normal(size=(v, tokens * dims)).astype(np.float32)
    Y = X @ W + 2 * rng.normal(size=(n, tokens * dims)).astype(np.float32)
    return X, Y, np.repeat(np.arange(n // 2), 2)


def test_one_multi_output_solve_equals_one_ridge_per_token():
    X, Y, groups = _tokens_problem()
    dims = 5
    joint = RidgeDecoder(n_splits=3).fit(X, Y, groups=groups)
    per_token = np.concatenate(
        [
            RidgeEncoder(n_splits=3).fit(X, Y[:, t : t + dims], groups=groups).predict(X)
            for t in range(0, Y.shape[1], dims)
        ],
        axis=1,
    )
    np.testing.assert_allclose(joint.predict_raw(X), per_token, atol=1e-4)


def test_components_have_their_shape_and_their_number_is_bounded():
    X, Y, _ = _tokens_problem(n=60, v=20, tokens=4, dims=3)
    few = RidgeDecoder(alphas=[10.0], n_splits=3, n_components=3).fit(X, Y)
    assert few.components_.shape == (3, Y.shape[1])
    with pytest.raises(ValueError, match="n_components"):
        RidgeDecoder(n_components=1000).fit(X, Y)


def test_row_indexed_targets_read_like_the_repeated_matrix():
    X, Y, groups = _tokens_problem()
    unique = Y[::2]
    view = RowIndexedTargets(unique, groups)
    assert view.shape == (len(groups), Y.shape[1])
    np.testing.assert_array_equal(view[:, 3:7], unique[groups][:, 3:7])
    a = RidgeDecoder(n_splits=3, chunk_size=7).fit(X, view, groups=groups)
    b = RidgeDecoder(n_splits=3).fit(X, unique[groups], groups=groups)
    np.testing.assert_allclose(a.predict_raw(X), b.predict_raw(X), atol=1e-5)


def test_a_reduced_decoder_saves_its_components(tmp_path):
    X, Y, _ = _tokens_problem()
    dec = RidgeDecoder(n_splits=3, n_components=4).fit(X, Y)
    back = RidgeDecoder.load(dec.save(tmp_path / "decoder"))
    np.testing.assert_array_equal(back.components_, dec.components_)
    np.testing.assert_array_equal(back.predict(X), dec.predict(X))
    assert back.get_params() == dec.get_params()
