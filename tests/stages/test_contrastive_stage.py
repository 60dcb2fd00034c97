"""End-to-end test of ``neurodecode contrastive`` on small HDF5 inputs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")
pytest.importorskip("torch")

from neurodecode.cli import main  # noqa: E402
from neurodecode.stages import contrastive  # noqa: E402


def _write_prepared_cache(root, subject, betas, stim, split, labels, names):
    """A cache in the layout of ``neurodecode.data._cache`` (what ``prepare`` writes)."""
    folder = root / f"sub-{subject}"
    folder.mkdir(parents=True)
    prefix = folder / f"sub-{subject}_space-func1pt8mm_desc-prepared"
    np.save(f"{prefix}_bold.npy", betas.astype(np.float32))
    n = len(stim)
    rows = ["trial\tsession\ttrial_in_session\tstim_id\trepeat\tsplit"]
    rows += [f"{i}\t1\t{i}\t{stim[i]}\t0\t{split[i]}" for i in range(n)]
    (folder / f"{prefix.name}_trials.tsv").write_text("\n".join(rows) + "\n")
    n_vox = betas.shape[1]
    with h5py.File(f"{prefix}_bold.h5", "w") as fh:
        fh["ijk"] = np.stack([np.arange(n_vox), np.zeros(n_vox), np.zeros(n_vox)], 1).astype(
            np.int32
        )
        fh["affine"] = np.eye(4)
        fh["shape"] = np.array([n_vox, 1, 1])
        ds = fh.create_dataset("rois/prf-visualrois", data=labels.astype(np.int16))
        ds.attrs["names"] = json.dumps(names)
        fh["zscore/mean"] = np.zeros((1, n_vox), np.float32)
        fh["zscore/std"] = np.ones((1, n_vox), np.float32)
    outputs = {
        p.name: p.stat().st_size
        for p in (
            Path(f"{prefix}_bold.npy"),
            Path(f"{prefix}_trials.tsv"),
            Path(f"{prefix}_bold.h5"),
        )
    }
    sidecar = {"config": {}, "split_hash": "test-hash", "outputs_bytes": outputs}
    Path(f"{prefix}_bold.json").write_text(json.dumps(sidecar))


def _write_inputs(tmp_path):
    rng = np.random.default_rng(0)
    n_stim, n_vox = 500, 150
    z = rng.normal(size=(n_stim, 8))
    clip = np.tanh(z @ rng.normal(size=(8, 16))).astype(np.float32)
    text = np.tanh(z @ rng.normal(size=(8, 12))).astype(np.float32)
    a = rng.normal(size=(8, n_vox)) / 3
    a[:, 120:] = 0  # the last 30 voxels ("unlabelled") carry no signal
    ids = np.arange(1000, 1000 + n_stim)
    test_ids = ids[:100]
    stim = np.concatenate([ids[100:], np.repeat(test_ids, 3), ids[100:]])
    split = np.array(["train"] * 400 + ["test"] * 300 + ["train"] * 400)
    betas = np.tanh(z[stim - 1000] @ a) + 0.8 * rng.normal(size=(len(stim), n_vox))
    labels = np.zeros(n_vox, int)
    labels[:60], labels[60:120] = 1, 2
    _write_prepared_cache(
        tmp_path / "prepared", "subj01", betas, stim, split, labels, ["V1v", "V2v"]
    )
    for name, feats in (("clip.h5", clip), ("text.h5", text)):
        with h5py.File(tmp_path / name, "w") as fh:
            fh["stim_ids"] = ids[::-1]  # order differs from the cache's on purpose
            fh["features"] = feats[::-1]


def test_stage_cli_writes_model_retrieval_and_report_data(tmp_path):
    _write_inputs(tmp_path)
    argv = ["contrastive", "--subject", "subj01", "--cache", str(tmp_path / "prepared"),
            "--features", str(tmp_path / "clip.h5"), "--text-features", str(tmp_path / "text.h5"),
            "--out", str(tmp_path / "out"), "--epochs", "30", "--ablation"]  # fmt: skip
    # 30 epochs (240 steps): at the preset's temperature 0.01, 15 epochs (90 steps) are too few
    # on this tiny world (image given brain 5% vs 27% at 30; see the preset's comment).
    assert main(argv) == 0
    out = tmp_path / "out"
    res = json.loads((out / "sub-subj01_desc-contrastive_retrieval.json").read_text())
    assert res["n_test_stimuli"] == 100 and res["n_train_trials"] == 800
    assert res["contrastive"]["n_way"] == 100  # the test set is smaller than 300
    for key in ("contrastive", "ridge_baseline", "text"):
        assert res[key]["image_given_brain"] > 0.2, key  # chance is 0.01
        assert res[key]["brain_given_image"] > 0.2, key
    assert res["roi"] is None and res["n_voxels"] == 150  # whole brain by default
    assert res["split_hash"] == "test-hash"
    by_roi = {r["roi"]: r for r in res["ablation"]}
    assert sorted(by_roi) == ["V1v", "V2v", "none", "prf-visualrois"]
    # Lesioning every labelled (signal-carrying) voxel leaves the unlabelled noise: chance.
    assert by_roi["prf-visualrois"]["image_given_brain"] < 0.05
    assert all(1000 <= e["query_stim_id"] < 1100 for e in res["examples"])
    sidecar = json.loads((out / "sub-subj01_desc-contrastive_retrieval.meta.json").read_text())
    assert sidecar["stage"] == "contrastive" and "retrieval_top1" in sidecar
    assert (out / "sub-subj01_desc-contrastive_model" / "model.safetensors").is_file()
    from neurodecode.features import read_features

    ids, pred = read_features(out / "sub-subj01_desc-contrastive_predictions.h5")
    assert sorted(ids.tolist()) == list(range(1000, 1100)) and pred.shape == (100, 16)

    data = contrastive.report_data(out / "sub-subj01_desc-contrastive_retrieval.json")
    assert {r["model"] for r in data["table"]} == {"contrastive", "ridge_baseline", "text"}
    assert len(data["curves"]["contrastive"]["image_given_brain"]) == 100
    pytest.importorskip("matplotlib")
    png = contrastive.retrieval_curve_png(data)
    assert png.startswith(b"\x89PNG")


def test_roi_selection_and_lazy_rows(tmp_path):
    _write_inputs(tmp_path)
    cfg = contrastive.ContrastiveStageConfig(
        subject="subj01", cache=tmp_path / "prepared", features=tmp_path / "clip.h5",
        out=tmp_path / "out", roi="V1v", epochs=2, n_draws=2,
    )  # fmt: skip
    res = json.loads(contrastive.run(cfg).retrieval.read_text())
    assert res["roi"] == "V1v" and res["n_voxels"] == 60
    with pytest.raises(ValueError, match="no ROI 'FFA-1'"):
        contrastive.run(dataclasses.replace(cfg, roi="FFA-1"))

    from neurodecode.data import RowView

    betas = np.arange(40, dtype=np.float32).reshape(10, 4)
    view = RowView(betas, np.array([7, 2, 5]), np.array([3, 0]))
    assert view.shape == (3, 2) and len(view) == 3
    np.testing.assert_array_equal(view[np.array([2, 0, 1])], betas[[5, 7, 2]][:, [3, 0]])


def test_notebook_analyses_the_stage_outputs_of_two_folders(tmp_path, monkeypatch):
    """notebooks/contrastive_retrieval.ipynb reads real stage outputs (two runs = two worlds)."""
    pytest.importorskip("nbclient")
    import os

    from report._notebook import NOTEBOOK, run_notebook

    _write_inputs(tmp_path)
    folders = []
    for seed in (0, 1):
        out = tmp_path / f"world{seed}" / "sub-subj01"
        cfg = contrastive.ContrastiveStageConfig(
            subject="subj01", cache=tmp_path / "prepared", features=tmp_path / "clip.h5",
            out=out, epochs=3, n_draws=3, seed=seed, threads=1,
        )  # fmt: skip
        contrastive.run(cfg)
        folders.append(str(out.parent))
    notebook = NOTEBOOK.with_name("contrastive_retrieval.ipynb")
    outputs, text = run_notebook(
        os.pathsep.join(folders), tmp_path, monkeypatch, timeout=120, notebook=notebook
    )
    assert not [o for o in outputs if o.output_type == "error"]
    assert "world0/subj01" in text and "world1/subj01" in text
    assert "encoder_minus_ridge" in text and "training seconds" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2
