"""RidgeEncoder / BandedRidgeEncoder against scikit-learn and on problems with a known truth."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.utils.estimator_checks import parametrize_with_checks

from neurodecode.encoders import BandedRidgeEncoder, RidgeEncoder
from neurodecode.encoders._banded import r2_score_split
from neurodecode.metrics import r2_score_voxels

ALPHAS = np.logspace(-2, 5, 8)


def _problem(n=600, p=40, v=300, noise=1.0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)).astype(np.float32)
    W = (rng.standard_normal((p, v)) * rng.uniform(0.02, 0.5, v)).astype(np.float32)
    Y = X @ W + noise * rng.standard_normal((n, v)).astype(np.float32)
    return X, Y, W


@parametrize_with_checks([RidgeEncoder(n_splits=2), BandedRidgeEncoder(n_splits=2, n_iter=2)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("shape", [(400, 30), (60, 200)], ids=["primal", "dual"])
def test_matches_sklearn_ridge_at_the_chosen_alpha(shape):
    n, p = shape
    X, Y, _ = _problem(n=n, p=p, v=50)
    model = RidgeEncoder(alphas=ALPHAS).fit(X, Y)
    assert model.form_ == ("primal" if n >= p else "dual")
    for v in (0, 17, 49):
        ref = Ridge(alpha=model.best_alphas_[v]).fit(X, Y[:, v])
        np.testing.assert_allclose(model.coef_[:, v], ref.coef_, rtol=2e-3, atol=2e-4)
        np.testing.assert_allclose(model.intercept_[v], ref.intercept_, atol=2e-4)


def test_held_out_accuracy_matches_sklearn_per_target_ridgecv():
    X, Y, W = _problem(n=500, p=20, v=40, noise=3.0)
    ours = RidgeEncoder(alphas=ALPHAS, n_splits=5).fit(X, Y)
    # sklearn's per-target choice is leave-one-out (GCV); compare held-out accuracy.
    rng = np.random.default_rng(7)
    X_te = rng.standard_normal((500, 20)).astype(np.float32)
    Y_te = X_te @ W + 3.0 * rng.standard_normal((500, 40)).astype(np.float32)
    sk_gcv = RidgeCV(alphas=ALPHAS, alpha_per_target=True).fit(X, Y)
    diff = r2_score_voxels(Y_te, ours.predict(X_te)) - r2_score_voxels(Y_te, sk_gcv.predict(X_te))
    assert np.median(np.abs(diff)) < 1e-2


def test_grouped_folds_keep_repeats_together():
    from neurodecode.encoders._ridge import make_folds

    groups = np.repeat(np.arange(50), 3)
    for train, val in make_folds(150, 5, groups):
        assert not set(groups[train]) & set(groups[val])


def test_noise_voxels_get_large_alpha_and_tuned_voxels_smaller():
    X, Y, _W = _problem(n=800, p=30, v=60)
    Y[:, :20] = np.random.default_rng(1).standard_normal((800, 20)).astype(np.float32)
    model = RidgeEncoder(alphas=ALPHAS).fit(X, Y)
    assert np.median(model.best_alphas_[:20]) > np.median(model.best_alphas_[20:])


def test_chunked_fit_equals_one_chunk_and_reads_memmaps(tmp_path):
    X, Y, _ = _problem(v=100)
    path = tmp_path / "betas.npy"
    np.save(path, Y)
    Y_map = np.load(path, mmap_mode="r")
    whole = RidgeEncoder(alphas=ALPHAS, chunk_size=1000).fit(X, Y)
    chunked = RidgeEncoder(alphas=ALPHAS, chunk_size=7).fit(X, Y_map)
    np.testing.assert_array_equal(whole.best_alphas_, chunked.best_alphas_)
    np.testing.assert_allclose(whole.coef_, chunked.coef_, rtol=1e-5, atol=1e-6)


def test_torch_backend_agrees_with_numpy():
    pytest.importorskip("torch")
    X, Y, _ = _problem(v=40)
    a = RidgeEncoder(alphas=ALPHAS).fit(X, Y)
    b = RidgeEncoder(alphas=ALPHAS, backend="torch").fit(X, Y)
    np.testing.assert_array_equal(a.best_alphas_, b.best_alphas_)


def test_ill_conditioned_design_gives_finite_alphas_and_weights():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((300, 5)).astype(np.float32)
    X = np.hstack([base, base, base * 1e-6, np.zeros((300, 3), np.float32)])  # rank 5 of 18
    Y = base @ rng.standard_normal((5, 10)).astype(np.float32)
    model = RidgeEncoder(alphas=ALPHAS).fit(X, Y)
    assert np.all(np.isfinite(model.best_alphas_))
    assert np.all(np.isfinite(model.coef_))
    assert np.median(r2_score_voxels(Y, model.predict(X))) > 0.99


def test_malformed_inputs_are_rejected_clearly():
    X, Y, _ = _problem(n=40, v=5)
    bad = Y.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        RidgeEncoder().fit(X, bad)
    with pytest.raises(ValueError, match="folds"):
        RidgeEncoder(n_splits=5).fit(X[:4], Y[:4])
    with pytest.raises(ValueError, match="match X"):
        RidgeEncoder().fit(X, Y[:30])
    with pytest.raises(ValueError, match="grouped folds"):
        RidgeEncoder(n_splits=5).fit(X, Y, groups=np.repeat([0, 1, 2], [10, 10, 20]))


def test_constant_voxels_predict_their_mean():
    X, Y, _ = _problem(n=100, v=4)
    Y[:, 1] = 2.5
    model = RidgeEncoder(alphas=ALPHAS).fit(X, Y)
    assert model.best_alphas_[1] == ALPHAS.max()
    np.testing.assert_allclose(model.predict(X)[:, 1], 2.5, atol=1e-5)


def test_banded_ridge_finds_each_voxels_space():
    rng = np.random.default_rng(0)
    n, sizes = 900, (20, 12, 8)
    spaces = [rng.standard_normal((n, s)).astype(np.float32) for s in sizes]
    X = np.hstack(spaces)
    truth = np.repeat(np.arange(3), 40)
    Y = np.stack(
        [spaces[k] @ rng.standard_normal(sizes[k]).astype(np.float32) for k in truth], axis=1
    )
    Y += 2.0 * rng.standard_normal(Y.shape).astype(np.float32)
    model = BandedRidgeEncoder(space_sizes=sizes, n_iter=10, alphas=ALPHAS, random_state=0)
    model.fit(X[:600], Y[:600])
    shares = model.score_split(X[600:], Y[600:])
    assert np.mean(np.argmax(shares, axis=0) == truth) >= 0.95
    assert np.mean(np.argmax(model.space_weights_, axis=0) == truth) >= 0.9
    pred = model.predict(X[600:])
    unbiased = pred - pred.mean(axis=0) + Y[600:].mean(axis=0)
    np.testing.assert_allclose(shares.sum(axis=0), r2_score_voxels(Y[600:], unbiased), atol=1e-4)


def test_r2_split_sums_to_r2():
    rng = np.random.default_rng(0)
    parts = rng.standard_normal((3, 50, 7))
    y = parts.sum(axis=0) + rng.standard_normal((50, 7))
    total = parts.sum(axis=0)
    unbiased = total - total.mean(axis=0) + y.mean(axis=0)
    np.testing.assert_allclose(
        r2_score_split(y, parts).sum(axis=0), r2_score_voxels(y, unbiased), atol=1e-10
    )


def test_fits_responses_read_from_an_hdf5_dataset(tmp_path):
    h5py = pytest.importorskip("h5py")
    X, Y, _ = _problem(v=30)
    with h5py.File(tmp_path / "y.h5", "w") as fh:
        fh["y"] = Y
    with h5py.File(tmp_path / "y.h5", "r") as fh:
        from_file = RidgeEncoder(alphas=ALPHAS, chunk_size=8).fit(X, fh["y"])
    in_memory = RidgeEncoder(alphas=ALPHAS).fit(X, Y)
    np.testing.assert_allclose(from_file.coef_, in_memory.coef_, rtol=1e-5, atol=1e-6)
