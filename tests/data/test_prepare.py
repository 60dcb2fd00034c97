"""prepare: train-only z-scoring, the cache files, resume and atomicity."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurodecode.data._cache import load_prepared
from neurodecode.data._prepare import PrepareConfig, prepare_subject

from ._nsd_tree import write_tree


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "nsd"
    return root, write_tree(root)


def _expected(info, column_mask):
    """Reference: /300 in float32, per-session z-score with training-trial statistics."""
    per = info["per_session"]
    master = info["master"]
    out = []
    for s, vol in enumerate(info["betas"]):
        x = vol[column_mask].T.astype(np.float32) / np.float32(300)
        train = master[s * per : (s + 1) * per] > info["shared"]
        mu = x[train].astype(np.float64).mean(0)
        sd = x[train].astype(np.float64).std(0)
        z = np.where(sd > 0, (x - mu) / np.where(sd > 0, sd, 1), 0)
        out.append(z)
    return np.concatenate(out)


@pytest.mark.parametrize("fmt", ["hdf5", "nii.gz"])
def test_prepare_zscores_with_training_statistics(tree, tmp_path, fmt):
    root, info = tree
    cfg = PrepareConfig("nsd", root, "subj01", tmp_path / "cache", fmt=fmt)
    prepare_subject(cfg)
    prep = load_prepared(tmp_path / "cache", "subj01")
    np.testing.assert_allclose(prep.betas, _expected(info, info["general"]), atol=2e-5)
    assert prep.n_voxels == int(info["general"].sum())
    # Training rows have mean 0 / std 1 per session; test rows do not (no leakage).
    train = prep.trials["split"].to_numpy() == "train"
    rows = train & (prep.trials["session"].to_numpy() == 1)
    live = prep.betas[rows].std(0) > 0
    np.testing.assert_allclose(prep.betas[rows][:, live].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(prep.betas[rows][:, live].std(0), 1, atol=1e-4)
    # the constant voxel is 0, flagged, and the choice is recorded
    col = np.flatnonzero((prep.ijk == [3, 2, 1]).all(1))[0]
    assert (prep.betas[:, col] == 0).all()
    record = json.loads(prep.paths.sidecar.read_text())
    assert "training trials" in record["zscore"]
    assert record["split_hash"] == prep.split_hash
    assert record["constant_voxel_sessions"] >= 3
    assert set(prep.trials["split"]) == {"train", "test"}
    assert (prep.trials["split"] == "test").to_numpy().sum() == 3 * info["shared"]


def test_prepared_subject_api(tree, tmp_path):
    root, info = tree
    prepare_subject(PrepareConfig("nsd", root, "subj01", tmp_path / "c", roi=None))
    prep = load_prepared(tmp_path / "c", "subj01")
    assert prep.n_voxels == int(info["brain"].sum())
    assert prep.rois["nsdgeneral"].sum() == int(info["general"].sum())
    x, ids = prep.select(roi="nsdgeneral", split="test", average_repeats=True)
    assert x.shape == (info["shared"], info["general"].sum())
    assert len(set(ids)) == len(ids)
    x_all, ids_all = prep.select(split="test")
    ref = x_all[ids_all == ids[0]].mean(0)[prep.rois["nsdgeneral"]]
    np.testing.assert_allclose(x[0], ref, atol=1e-6)
    img = prep.unmask(np.arange(prep.n_voxels, dtype=float))
    assert img.shape == (7, 6, 5)
    assert img.get_fdata()[tuple(prep.ijk[5])] == 5
    nc = prep.noise_ceiling(n=1)
    s2 = prep.ncsnr.astype(float) ** 2
    np.testing.assert_allclose(nc, 100 * s2 / (s2 + 1), rtol=1e-5)


def test_resume_does_nothing_and_interrupt_leaves_nothing_complete(tree, tmp_path, monkeypatch):
    from neurodecode.data import _nsd

    root, _ = tree
    cfg = PrepareConfig("nsd", root, "subj01", tmp_path / "c")
    paths = prepare_subject(cfg)
    files = (*paths.outputs, paths.sidecar)
    stamp = {p: p.stat().st_mtime_ns for p in files}
    monkeypatch.setattr(_nsd, "read_masked_betas", None)  # any read would now fail
    prepare_subject(cfg)
    assert stamp == {p: p.stat().st_mtime_ns for p in files}
    monkeypatch.undo()

    calls = {"n": 0}
    real = _nsd.read_masked_betas

    def failing(path, ijk, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("simulated interrupt in session 2")
        return real(path, ijk, **kwargs)

    monkeypatch.setattr(_nsd, "read_masked_betas", failing)
    out2 = tmp_path / "c2"
    with pytest.raises(KeyboardInterrupt):
        prepare_subject(PrepareConfig("nsd", root, "subj01", out2))
    folder = out2 / "sub-subj01"
    assert not any(p.name.endswith((".npy", ".json", ".h5", ".tsv")) for p in folder.iterdir())
    assert not [p for p in folder.iterdir() if ".tmp" in p.name]  # temporaries removed
    with pytest.raises(Exception, match="no prepared cache"):
        load_prepared(out2, "subj01")
    # a failed run with another config leaves the existing cache whole, as it was
    calls["n"] = 0
    with pytest.raises(KeyboardInterrupt):
        prepare_subject(PrepareConfig("nsd", root, "subj01", tmp_path / "c", fmt="nii.gz"))
    assert stamp == {p: p.stat().st_mtime_ns for p in files}
    assert load_prepared(tmp_path / "c", "subj01").config["fmt"] == "auto"
    monkeypatch.undo()
    prepare_subject(PrepareConfig("nsd", root, "subj01", tmp_path / "c", fmt="nii.gz"))
    again = load_prepared(tmp_path / "c", "subj01")
    assert again.config["fmt"] == "nii.gz" and again.betas.shape[0] == 36
