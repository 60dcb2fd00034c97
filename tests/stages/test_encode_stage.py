"""The encode stage end to end on a tiny prepared NSD-layout cache."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from data._nsd_tree import write_tree  # tests/data is a package on the test path

from neurodecode.data._cache import load_prepared
from neurodecode.data._prepare import PrepareConfig, prepare_subject
from neurodecode.encoders import BandedRidgeEncoder, RidgeEncoder
from neurodecode.features import write_features
from neurodecode.stages.encode import EncodeConfig, run
from neurodecode.stages.features import feature_path


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("encode")
    root, out = tmp / "nsd", tmp / "cache"
    write_tree(root, sessions=4, per_session=30)
    prepare_subject(PrepareConfig(dataset="nsd", root=root, subject="subj01", out=out))
    prep = load_prepared(out, "subj01")
    ids = np.unique(prep.trials["stim_id"])
    rng = np.random.default_rng(0)
    for name, dim in (("spaceA", 5), ("spaceB", 3)):
        write_features(
            feature_path(out, "subj01", name), ids, rng.standard_normal((ids.size, dim)),
            name=name, model="test",
        )  # fmt: skip
    return out


def test_single_space_writes_maps_model_and_roi_table(cache, tmp_path):
    config = EncodeConfig(subject="subj01", cache=cache, features=("spaceA",), out=tmp_path)
    outputs = run(config)
    prep = load_prepared(cache, "subj01")
    for stat in ("r", "r2", "noisenorm", "alpha"):
        img = nib.load(outputs[stat])
        assert img.shape == prep.shape
        np.testing.assert_allclose(img.affine, prep.affine)
        assert outputs[stat].with_name(outputs[stat].name.replace(".nii.gz", ".json")).exists()
    table = pd.read_csv(outputs["rois"], sep="\t")
    assert {"roi", "n_voxels", "r_mean", "r_ci_low", "r_ci_high", "noisenorm_mean"} <= set(table)
    assert {"two_vs_two", "two_vs_two_ci_low", "two_vs_two_ci_high"} <= set(table)
    assert (table["n_voxels"] > 0).all()
    model = RidgeEncoder.load(outputs["model"])
    assert model.coef_.shape == (5, prep.n_voxels)
    alphas = nib.load(outputs["alpha"]).get_fdata()[prep.ijk[:, 0], prep.ijk[:, 1], prep.ijk[:, 2]]
    assert np.all(alphas > 0)


def test_several_spaces_use_banded_ridge_with_shares(cache, tmp_path):
    from neurodecode._io import read_json
    from neurodecode._provenance import sidecar_path

    config = EncodeConfig(
        subject="subj01", cache=cache, features=("spaceA", "spaceB"), out=tmp_path, n_iter=3
    )
    outputs = run(config)
    assert "sharespaceA" in outputs and "sharespaceB" in outputs
    model = BandedRidgeEncoder.load(outputs["model"])
    assert model.space_names_ == ["spaceA", "spaceB"] and model.coef_.shape[0] == 8
    side = read_json(sidecar_path(outputs["model"]))
    assert side["split_hash"] == load_prepared(cache, "subj01").split_hash
    assert "best_space" in pd.read_csv(outputs["rois"], sep="\t")


def test_rerun_keeps_complete_outputs(cache, tmp_path):
    config = EncodeConfig(subject="subj01", cache=cache, features=("spaceA",), out=tmp_path)
    first = run(config)
    stamps = {p: p.stat().st_mtime_ns for p in first.files()}
    second = run(config)
    assert {p: p.stat().st_mtime_ns for p in second.files()} == stamps
    third = run(config.replace(n_splits=3))  # another setting: recomputed
    assert any(p.stat().st_mtime_ns != stamps[p] for p in third.files())


def test_missing_feature_set_is_named(cache, tmp_path):
    config = EncodeConfig(subject="subj01", cache=cache, features=("nope",), out=tmp_path)
    with pytest.raises(FileNotFoundError, match="nope"):
        run(config)
