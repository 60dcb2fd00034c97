"""End-to-end test of ``neurodecode contrastive`` on small HDF5 inputs."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")
pytest.importorskip("torch")

from neurodecode.stages import contrastive  # noqa: E402


def _write_inputs(tmp_path):
    rng = np.random.default_rng(0)
    n_stim, n_vox = 500, 120
    z = rng.normal(size=(n_stim, 8))
    clip = np.tanh(z @ rng.normal(size=(8, 16))).astype(np.float32)
    text = np.tanh(z @ rng.normal(size=(8, 12))).astype(np.float32)
    a = rng.normal(size=(8, n_vox)) / 3
    ids = np.arange(1000, 1000 + n_stim)
    test_ids = ids[:100]
    stim = np.concatenate([ids[100:], ids[100:], np.repeat(test_ids, 3)])
    split = np.array(["train"] * 800 + ["test"] * 300)
    betas = np.tanh(z[stim - 1000] @ a) + 0.8 * rng.normal(size=(len(stim), n_vox))
    with h5py.File(tmp_path / "cache.h5", "w") as fh:
        fh["betas"] = betas.astype(np.float32)
        fh["stim_ids"] = stim
        fh["split"] = split.astype("S")
        fh["roi/V1"] = np.arange(n_vox) < 60
        fh["roi/V2"] = np.arange(n_vox) >= 60
    for name, feats in (("clip.h5", clip), ("text.h5", text)):
        with h5py.File(tmp_path / name, "w") as fh:
            fh["stim_ids"] = ids[::-1]  # order differs from the cache's on purpose
            fh["features"] = feats[::-1]


def test_stage_cli_writes_model_retrieval_and_report_data(tmp_path):
    _write_inputs(tmp_path)
    parser = argparse.ArgumentParser()
    contrastive.register(parser.add_subparsers())
    args = parser.parse_args(
        ["contrastive", "--subject", "subj01", "--cache", str(tmp_path / "cache.h5"),
         "--features", str(tmp_path / "clip.h5"), "--text-features", str(tmp_path / "text.h5"),
         "--out", str(tmp_path / "out"), "--epochs", "15", "--ablation"]
    )  # fmt: skip
    assert args.func(args) == 0
    out = tmp_path / "out"
    res = json.loads((out / "sub-subj01_desc-contrastive_retrieval.json").read_text())
    assert res["n_test_stimuli"] == 100 and res["n_train_trials"] == 800
    assert res["contrastive"]["n_way"] == 100  # the test set is smaller than 300
    for key in ("contrastive", "ridge_baseline", "text"):
        assert res[key]["image_given_brain"] > 0.2, key  # chance is 0.01
        assert res[key]["brain_given_image"] > 0.2, key
    assert [r["roi"] for r in res["ablation"]] == ["none", "V1", "V2"]
    assert all(1000 <= e["query_stim_id"] < 1100 for e in res["examples"])
    sidecar = json.loads((out / "sub-subj01_desc-contrastive_retrieval.meta.json").read_text())
    assert sidecar["stage"] == "contrastive" and "retrieval_top1" in sidecar
    assert (out / "sub-subj01_desc-contrastive_model" / "model.safetensors").is_file()

    data = contrastive.report_data(out / "sub-subj01_desc-contrastive_retrieval.json")
    assert {r["model"] for r in data["table"]} == {"contrastive", "ridge_baseline", "text"}
    assert len(data["curves"]["contrastive"]["image_given_brain"]) == 100
    pytest.importorskip("matplotlib")
    png = contrastive.retrieval_curve_png(data)
    assert png.startswith(b"\x89PNG")
