"""The contrastive encoders' PCA input map: randomized PCA against exact SVD, and the encoder.

The reference is numpy's exact SVD of the standardised matrix; the problems are small low-rank
matrices plus noise built inside each test.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from neurodecode.encoders._contrastive import ContrastiveEncoder
from neurodecode.encoders._contrastive_net import ContrastiveConfig, get_preset
from neurodecode.encoders._contrastive_pca import fit_input_pca, project_inputs
from neurodecode.encoders._contrastive_train import fit_standardizer
from neurodecode.encoders._multisubject import MultiSubjectContrastiveEncoder

SMALL = ContrastiveConfig(hidden_dim=128, projector_dim=128, epochs=20, batch_size=128)
TINY = SMALL.replace(hidden_dim=32, projector_dim=32, epochs=2, batch_size=16)


def make_problem(n_train=1500, n_test=300, n_voxels=300, noise=2.0, seed=0):
    """Voxels and "CLIP" embeddings, both non-linear maps of a 16-d image latent (as in
    test_contrastive.py): training on single trials (two repeats), testing on 3-repeat means."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(size=(16, 64)) / 4
    w2 = rng.normal(size=(64, 32)) / 8
    a = rng.normal(size=(16, n_voxels)) / 4

    def images(n):
        z = rng.normal(size=(n, 16))
        return z, (np.tanh(z @ w1) @ w2).astype(np.float32)

    def trial(z):
        return np.tanh(z @ a) + noise * rng.normal(size=(len(z), n_voxels))

    z_tr, c_tr = images(n_train)
    X_tr = np.concatenate([trial(z_tr), trial(z_tr)]).astype(np.float32)
    z_te, c_te = images(n_test)
    X_te = np.mean([trial(z_te) for _ in range(3)], axis=0).astype(np.float32)
    return X_tr, np.concatenate([c_tr, c_tr]), X_te, c_te


def low_rank(n=600, v=300, rank=12, seed=0):
    rng = np.random.default_rng(seed)
    strengths = np.linspace(8.0, 2.0, rank)
    X = (rng.normal(size=(n, rank)) * strengths) @ rng.normal(size=(rank, v))
    X += 0.3 * rng.normal(size=(n, v)) + 5.0  # noise and an offset the standardiser removes
    return X.astype(np.float32)


def exact(X):
    mean, scale = fit_standardizer(X)
    A = (X.astype(np.float64) - mean) / scale
    _, s, vt = np.linalg.svd(A, full_matrices=False)
    return mean, scale, A, s, vt


def test_randomized_pca_matches_exact_svd_on_the_signal_axes():
    X = low_rank()
    mean, scale, A, s, vt = exact(X)
    W, values = fit_input_pca(X, mean, scale, 20, rng=np.random.default_rng(0))
    assert W.shape == (300, 20) and W.dtype == np.float32
    np.testing.assert_allclose(W.T @ W, np.eye(20), atol=1e-5)
    np.testing.assert_allclose(values[:12], s[:12], rtol=1e-4)
    # the 12 signal axes span the exact ones (all principal angles ~0)
    cosines = np.linalg.svd(W[:, :12].T @ vt[:12].T, compute_uv=False)
    assert cosines.min() > 0.9999
    np.testing.assert_allclose(project_inputs(X, mean, scale, W), A @ W, atol=1e-3)


def test_pca_reads_row_chunks_and_pads_past_the_rank(tmp_path, monkeypatch):
    import neurodecode.encoders._contrastive_pca as pca

    X = low_rank(n=40, v=100)
    mean, scale, *_ = exact(X)
    W, values = fit_input_pca(X, mean, scale, 64, rng=np.random.default_rng(0))
    # a memmap read in chunks of 7 rows gives the in-memory result
    disk = np.memmap(tmp_path / "x.dat", dtype=np.float32, mode="w+", shape=X.shape)
    disk[:] = X
    monkeypatch.setattr(pca, "_CHUNK", 7)
    W_disk, _ = fit_input_pca(disk, mean, scale, 64, rng=np.random.default_rng(0))
    np.testing.assert_allclose(np.abs(W_disk[:, :12]), np.abs(W[:, :12]), atol=1e-4)
    # 40 samples have at most 40 axes: the other 24 columns are zero, as are their values
    assert np.count_nonzero(np.abs(W).sum(0)) == 40
    assert not values[40:].any() and values[39] > 0
    with pytest.raises(ValueError, match="n_components"):
        fit_input_pca(X, mean, scale, 0, rng=np.random.default_rng(0))


def test_pca_config_validated_and_in_the_cpu_preset():
    assert get_preset("synthetic-cpu").pca_components == 512
    assert ContrastiveConfig().pca_components == 0  # raw voxels unless asked
    with pytest.raises(ValueError, match="pca_components"):
        ContrastiveConfig(pca_components=-1)
    with pytest.raises(ValueError, match="pca_iterations"):
        ContrastiveConfig(pca_iterations=-1)
    roundtrip = ContrastiveConfig.from_dict(get_preset("synthetic-cpu").to_dict())
    assert roundtrip == get_preset("synthetic-cpu")


def test_encoder_with_pca_retrieves_takes_raw_voxels_and_round_trips(tmp_path):
    X_tr, Y_tr, X_te, Y_te = make_problem()
    config = SMALL.replace(pca_components=64)
    enc = ContrastiveEncoder(config, random_state=0).fit(X_tr, Y_tr)
    res = enc.retrieval(X_te, Y_te)
    assert res.image_given_brain > 0.6 and res.brain_given_image > 0.6
    assert set(enc.fit_seconds_) == {"input_map", "training"}
    std = enc.network_.adapters["subject"][0]
    assert tuple(std.components.shape) == (300, 64)
    assert enc.network_.adapters["subject"][1].in_features == 64
    # the projection is part of the saved model: the loaded encoder takes raw voxels
    enc.save(tmp_path / "enc")
    loaded = ContrastiveEncoder.load(tmp_path / "enc")
    assert loaded.config_.pca_components == 64 and loaded.n_features_in_ == 300
    np.testing.assert_array_equal(loaded.embed(X_te), enc.embed(X_te))
    np.testing.assert_array_equal(loaded.predict(X_te), enc.predict(X_te))


def test_pca_encoder_is_seeded_and_without_pca_the_state_keys_are_unchanged():
    X_tr, Y_tr, X_te, _ = make_problem(n_train=100, n_test=20, n_voxels=40)
    config = TINY.replace(pca_components=16)
    a = ContrastiveEncoder(config, random_state=3).fit(X_tr, Y_tr).embed(X_te)
    b = ContrastiveEncoder(config, random_state=3).fit(X_tr, Y_tr).embed(X_te)
    np.testing.assert_array_equal(a, b)
    # no more voxels (40) than components: the voxels are used as they are
    wide = ContrastiveEncoder(TINY.replace(pca_components=40), random_state=3).fit(X_tr, Y_tr)
    assert wide.network_.adapters["subject"][0].components is None
    plain = ContrastiveEncoder(TINY, random_state=3).fit(X_tr, Y_tr)
    keys = {k for k in plain.network_.state_dict() if k.startswith("adapters.subject.0.")}
    assert keys == {"adapters.subject.0.mean", "adapters.subject.0.scale"}


def test_multi_subject_fit_and_finetune_with_pca():
    X1, Y1, X1_te, _ = make_problem(n_train=300, n_test=100, n_voxels=60, seed=1)
    X2, Y2, _, _ = make_problem(n_train=300, n_test=100, n_voxels=80, seed=1)
    config = TINY.replace(pca_components=24, epochs=3)
    enc = MultiSubjectContrastiveEncoder(config, random_state=0).fit(
        {"s1": X1, "s2": X2}, {"s1": Y1, "s2": Y2}
    )
    enc.finetune_subject("s3", X1, Y1, epochs=2)
    for subject, width in (("s1", 60), ("s2", 80), ("s3", 60)):
        assert tuple(enc.network_.adapters[subject][0].components.shape) == (width, 24)
    assert enc.embed(X1_te, "s3").shape == (100, 32)
