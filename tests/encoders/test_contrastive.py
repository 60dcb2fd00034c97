"""Tests of ContrastiveEncoder on a self-contained generative problem.

Images have a latent z; their "CLIP" embedding is a fixed non-linear map of z; voxels are a
non-linear map of z plus noise. Training uses single trials (two repeats), testing averages
three repeats, as on NSD.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import sklearn.base

pytest.importorskip("torch")

from neurodecode.encoders._contrastive import ContrastiveEncoder
from neurodecode.encoders._contrastive_net import (
    ContrastiveConfig,
    build_network,
    estimate_training_memory,
    get_preset,
    list_presets,
)
from neurodecode.metrics._retrieval import retrieval_accuracy


def make_problem(n_train=1500, n_test=300, n_voxels=300, noise=2.0, text=False, seed=0):
    rng = np.random.default_rng(seed)
    latent, clip_dim = 16, 32
    w1 = rng.normal(size=(latent, 64)) / np.sqrt(latent)
    w2 = rng.normal(size=(64, clip_dim)) / 8
    wt = rng.normal(size=(latent, 24)) / np.sqrt(latent)
    a = rng.normal(size=(latent, n_voxels)) / np.sqrt(latent)

    def images(n):
        z = rng.normal(size=(n, latent))
        return z, (np.tanh(z @ w1) @ w2).astype(np.float32), np.tanh(z @ wt).astype(np.float32)

    def trial(z):
        return np.tanh(z @ a) + noise * rng.normal(size=(len(z), n_voxels))

    z_tr, c_tr, t_tr = images(n_train)
    X_tr = np.concatenate([trial(z_tr), trial(z_tr)]).astype(np.float32)
    Y_tr, T_tr = np.concatenate([c_tr, c_tr]), np.concatenate([t_tr, t_tr])
    z_te, c_te, t_te = images(n_test)
    X_te = np.mean([trial(z_te) for _ in range(3)], axis=0).astype(np.float32)
    if text:
        return X_tr, Y_tr, T_tr, X_te, c_te, t_te
    return X_tr, Y_tr, X_te, c_te


SMALL = ContrastiveConfig(hidden_dim=128, projector_dim=128, epochs=20, batch_size=128)
TINY = SMALL.replace(hidden_dim=32, projector_dim=32, epochs=2, batch_size=16)


def test_retrieval_far_above_chance_both_directions():
    X_tr, Y_tr, X_te, Y_te = make_problem()
    enc = ContrastiveEncoder(SMALL, random_state=0).fit(X_tr, Y_tr)
    res = enc.retrieval(X_te, Y_te)
    assert res.n_way == 300
    # Chance is 1/300; a broken loss, target pairing or direction lands near it.
    assert res.image_given_brain > 0.6
    assert res.brain_given_image > 0.6
    assert enc.score(X_te, Y_te) == pytest.approx(
        (res.image_given_brain + res.brain_given_image) / 2
    )
    # The head regresses CLIP coordinates: its predictions also retrieve, by cosine.
    head = retrieval_accuracy(enc.predict(X_te), Y_te)
    assert head.image_given_brain > 0.1
    # The loss went down over training, and the first third used BiMixCo.
    losses = [h["loss"] for h in enc.history_]
    assert losses[-1] < 0.5 * losses[0]
    assert [h["mixco"] for h in enc.history_].count(1.0) == round(SMALL.epochs / 3)


def test_shuffled_pairs_give_chance_retrieval():
    X_tr, Y_tr, X_te, Y_te = make_problem(n_train=400, n_test=200)
    perm = np.random.default_rng(1).permutation(len(Y_tr))
    enc = ContrastiveEncoder(SMALL.replace(epochs=8), random_state=0).fit(X_tr, Y_tr[perm])
    res = enc.retrieval(X_te, Y_te)
    assert res.image_given_brain < 0.05 and res.brain_given_image < 0.05


def test_same_seed_same_model_other_seed_differs():
    X_tr, Y_tr, X_te, _ = make_problem(n_train=100, n_test=20, n_voxels=40)
    a = ContrastiveEncoder(TINY, random_state=3).fit(X_tr, Y_tr).embed(X_te)
    b = ContrastiveEncoder(TINY, random_state=3).fit(X_tr, Y_tr).embed(X_te)
    c = ContrastiveEncoder(TINY, random_state=4).fit(X_tr, Y_tr).embed(X_te)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)


def test_save_load_round_trip(tmp_path):
    X_tr, Y_tr, T_tr, X_te, _, _ = make_problem(n_train=100, n_test=20, n_voxels=40, text=True)
    enc = ContrastiveEncoder(TINY, random_state=0).fit(X_tr, Y_tr, T_tr)
    enc.save(tmp_path / "enc")
    assert sorted(p.name for p in (tmp_path / "enc").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    meta = json.loads((tmp_path / "enc" / "config.json").read_text())
    assert meta["class"] == "ContrastiveEncoder" and meta["config"]["hidden_dim"] == 32
    loaded = ContrastiveEncoder.load(tmp_path / "enc")
    assert loaded.config_ == TINY and loaded.n_features_in_ == 40 and loaded.text_dim_ == 24
    for method in ("predict", "embed", "embed_text"):
        np.testing.assert_array_equal(getattr(loaded, method)(X_te), getattr(enc, method)(X_te))
    from neurodecode.encoders._multisubject import MultiSubjectContrastiveEncoder

    with pytest.raises(ValueError, match="holds a ContrastiveEncoder"):
        MultiSubjectContrastiveEncoder.load(tmp_path / "enc")


def test_h5py_input_matches_in_memory_array(tmp_path):
    h5py = pytest.importorskip("h5py")
    X_tr, Y_tr, X_te, _ = make_problem(n_train=100, n_test=20, n_voxels=40)
    with h5py.File(tmp_path / "betas.h5", "w") as fh:
        fh["betas"] = X_tr
    with h5py.File(tmp_path / "betas.h5", "r") as fh:
        from_disk = ContrastiveEncoder(TINY, random_state=0).fit(fh["betas"], Y_tr)
    in_memory = ContrastiveEncoder(TINY, random_state=0).fit(X_tr, Y_tr)
    np.testing.assert_allclose(from_disk.embed(X_te), in_memory.embed(X_te), rtol=1e-5, atol=1e-6)


def test_text_head_retrieves_captions():
    X_tr, Y_tr, T_tr, X_te, _, T_te = make_problem(text=True)
    enc = ContrastiveEncoder(SMALL, random_state=0).fit(X_tr, Y_tr, T_tr)
    res = retrieval_accuracy(enc.embed_text(X_te), T_te)
    assert res.image_given_brain > 0.3 and res.brain_given_image > 0.3
    no_text = ContrastiveEncoder(TINY, random_state=0).fit(X_tr[:50], Y_tr[:50])
    with pytest.raises(ValueError, match="without text"):
        no_text.embed_text(X_te)


def test_errors_and_sklearn_conventions():
    enc = ContrastiveEncoder(TINY, random_state=0)
    params = enc.get_params()
    assert params == {"config": TINY, "random_state": 0, "device": "cpu", "verbose": False}
    clone = sklearn.base.clone(enc)
    assert clone.get_params() == params and clone is not enc
    with pytest.raises(RuntimeError, match="not fitted"):
        enc.predict(np.zeros((2, 3), np.float32))
    X_tr, Y_tr, _, _ = make_problem(n_train=30, n_test=5, n_voxels=10)
    enc.fit(X_tr, Y_tr)
    assert not hasattr(ContrastiveEncoder(TINY), "network_")  # init stores, fit builds
    with pytest.raises(ValueError, match="expected 10 voxels"):
        enc.predict(np.zeros((2, 11), np.float32))
    with pytest.raises(ValueError, match="targets must have shape"):
        ContrastiveEncoder(TINY).fit(X_tr, Y_tr[:-1])
    with pytest.raises(ValueError, match="unknown preset"):
        ContrastiveEncoder("nope").fit(X_tr, Y_tr)
    with pytest.raises(ValueError, match="batch_size"):
        ContrastiveConfig(batch_size=1)


def test_presets_and_memory_estimate():
    assert list_presets() == ["mindeye-nsdgeneral", "mindeye-wholebrain", "synthetic-cpu"]
    cfg = SMALL.replace(n_blocks=3)
    est = estimate_training_memory(cfg, n_voxels=50, clip_dim=16, text_dim=8, batch_size=4)
    real = build_network(cfg, {"s": 50}, 16, 8)
    assert est["n_parameters"] == sum(p.numel() for p in real.parameters())
    assert est["parameter_state_gib"] == pytest.approx(16 * est["n_parameters"] / 1024**3)
    # Activations scale linearly with the batch.
    est8 = estimate_training_memory(cfg, 50, 16, 8, batch_size=8)
    assert est8["activation_gib"] == pytest.approx(2 * est["activation_gib"])
    # The figures quoted in get_preset's docstring are the computed ones.
    doc = get_preset.__doc__
    nsd = estimate_training_memory(get_preset("mindeye-nsdgeneral"), 15724, 768)
    whole = estimate_training_memory(get_preset("mindeye-wholebrain"), 200_000, 768)
    for est_, n_params_m in ((nsd, "142.1"), (whole, "217.2")):
        assert f"{est_['n_parameters'] / 1e6:.1f} M parameters" in doc
        assert f"{est_['n_parameters'] / 1e6:.1f}" == n_params_m
        assert f"{est_['parameter_state_gib']:.2f} GiB" in doc
        assert f"{est_['activation_gib']:.2f} GiB" in doc


def test_cuda_requested_without_cuda_raises():
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    X_tr, Y_tr, _, _ = make_problem(n_train=30, n_test=5, n_voxels=10)
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        ContrastiveEncoder(TINY, device="cuda").fit(X_tr, Y_tr)


@pytest.mark.gpu
def test_trains_on_gpu_and_reloads_on_cpu(tmp_path):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    X_tr, Y_tr, X_te, Y_te = make_problem()
    enc = ContrastiveEncoder(SMALL, random_state=0, device="cuda").fit(X_tr, Y_tr)
    assert next(enc.network_.parameters()).device.type == "cuda"
    res = enc.retrieval(X_te, Y_te)
    assert res.image_given_brain > 0.6 and res.brain_given_image > 0.6
    again = ContrastiveEncoder(SMALL, random_state=0, device="cuda").fit(X_tr, Y_tr)
    np.testing.assert_allclose(again.embed(X_te), enc.embed(X_te), atol=1e-3)
    enc.save(tmp_path / "gpu")
    cpu = ContrastiveEncoder.load(tmp_path / "gpu", device="cpu")
    np.testing.assert_allclose(cpu.embed(X_te), enc.embed(X_te), atol=1e-4)


def test_input_noise_is_seeded_and_changes_training():
    X_tr, Y_tr, X_te, _ = make_problem(n_train=100, n_test=20, n_voxels=40)
    noisy = TINY.replace(input_noise=0.5)
    a = ContrastiveEncoder(noisy, random_state=3).fit(X_tr, Y_tr).embed(X_te)
    b = ContrastiveEncoder(noisy, random_state=3).fit(X_tr, Y_tr).embed(X_te)
    clean = ContrastiveEncoder(TINY, random_state=3).fit(X_tr, Y_tr).embed(X_te)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, clean)
    with pytest.raises(ValueError, match="input_noise"):
        ContrastiveConfig(input_noise=-1.0)


def test_public_names_and_light_imports():
    import subprocess
    import sys

    code = (
        "import sys, neurodecode, neurodecode.encoders, neurodecode.metrics\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "from neurodecode.encoders import ContrastiveEncoder, MultiSubjectContrastiveEncoder\n"
        "from neurodecode.encoders import list_contrastive_presets, contrastive_roi_ablation\n"
        "from neurodecode.metrics import retrieval_accuracy\n"
        "assert 'torch' not in sys.modules, 'torch imported by the class import'\n"
        "print(list_contrastive_presets())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "synthetic-cpu" in out.stdout
