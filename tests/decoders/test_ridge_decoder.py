"""RidgeDecoder: the multi-output ridge against one ridge per token, PCA reduction, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecode.decoders import RidgeDecoder, RowIndexedTargets
from neurodecode.encoders import RidgeEncoder


def _problem(n=120, p=40, tokens=6, dims=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)).astype(np.float32)
    W = rng.normal(size=(p, tokens * dims)).astype(np.float32)
    Y = X @ W + rng.normal(scale=2.0, size=(n, tokens * dims)).astype(np.float32)
    groups = np.repeat(np.arange(n // 2), 2)
    return X, Y, groups


def test_one_multi_output_solve_equals_one_ridge_per_token():
    X, Y, groups = _problem()
    dims = 5
    joint = RidgeDecoder(n_splits=3).fit(X, Y, groups=groups)
    per_token = np.concatenate(
        [
            RidgeEncoder(n_splits=3).fit(X, Y[:, t : t + dims], groups=groups).predict(X)
            for t in range(0, Y.shape[1], dims)
        ],
        axis=1,
    )
    np.testing.assert_allclose(joint.predict(X), per_token, atol=1e-4)


def test_all_components_give_the_exact_solution_and_fewer_keep_less_variance():
    X, Y, _ = _problem(n=60, p=20, tokens=4, dims=3)
    exact = RidgeDecoder(alphas=[10.0], n_splits=3).fit(X, Y)
    full = RidgeDecoder(alphas=[10.0], n_splits=3, n_components=Y.shape[1]).fit(X, Y)
    np.testing.assert_allclose(full.predict(X), exact.predict(X), atol=1e-3)
    assert full.explained_variance_ratio_ == pytest.approx(1.0)
    few = RidgeDecoder(alphas=[10.0], n_splits=3, n_components=3).fit(X, Y)
    assert 0.0 < few.explained_variance_ratio_ < 1.0
    assert few.components_.shape == (3, Y.shape[1])
    with pytest.raises(ValueError, match="n_components"):
        RidgeDecoder(n_components=1000).fit(X, Y)


def test_restandardised_predictions_take_the_training_statistics():
    X, Y, _ = _problem()
    dec = RidgeDecoder(n_splits=3).fit(X, Y)
    pred = dec.restandardise(dec.predict(X[:50]))
    np.testing.assert_allclose(pred.mean(0), Y.mean(0), atol=1e-3)
    np.testing.assert_allclose(pred.std(0), Y.std(0), rtol=1e-3)
    with pytest.raises(ValueError, match="batch"):
        dec.restandardise(dec.predict(X[:1]))


def test_row_indexed_targets_read_like_the_repeated_matrix():
    X, Y, groups = _problem()
    unique = Y[::2]
    view = RowIndexedTargets(unique, groups)
    assert view.shape == (len(groups), Y.shape[1])
    np.testing.assert_array_equal(view[:, 3:7], unique[groups][:, 3:7])
    a = RidgeDecoder(n_splits=3, chunk_size=7).fit(X, view, groups=groups)
    b = RidgeDecoder(n_splits=3).fit(X, unique[groups], groups=groups)
    np.testing.assert_allclose(a.predict(X), b.predict(X), atol=1e-5)


@pytest.mark.parametrize("n_components", [None, 4])
def test_save_and_load_give_the_same_predictions(tmp_path, n_components):
    X, Y, _ = _problem()
    dec = RidgeDecoder(n_splits=3, n_components=n_components).fit(X, Y)
    back = RidgeDecoder.load(dec.save(tmp_path / "decoder"))
    np.testing.assert_array_equal(back.predict(X), dec.predict(X))
    np.testing.assert_array_equal(back.target_std_, dec.target_std_)
    assert back.get_params() == dec.get_params()
