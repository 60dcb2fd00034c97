from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neurodecode.stages.evaluate import EvaluateConfig, read_ctab, run, summarize_rois


def test_bootstrap_ci_matches_the_normal_interval():
    rng = np.random.default_rng(1)
    n = 400
    scores = {"a": rng.normal(0.3, 0.1, n), "b": rng.normal(0.1, 0.1, n)}
    rois = {"R": np.ones(n, bool)}
    t = summarize_rois(scores, rois, n_bootstrap=4000, seed=3).set_index("feature_space")
    half = 1.96 * scores["a"].std() / np.sqrt(n)
    assert t.loc["a", "ci_low"] < t.loc["a", "mean"] < t.loc["a", "ci_high"]
    assert (t.loc["a", "ci_high"] - t.loc["a", "ci_low"]) == pytest.approx(2 * half, rel=0.15)
    assert bool(t.loc["a", "best"]) and not bool(t.loc["b", "best"])


def test_ci_coverage_over_repeated_experiments():
    rng = np.random.default_rng(7)
    hits = 0
    for rep in range(200):
        v = rng.normal(0.2, 0.15, 60)
        t = summarize_rois({"s": v}, {"R": np.ones(60, bool)}, n_bootstrap=500, seed=rep)
        hits += t["ci_low"][0] <= 0.2 <= t["ci_high"][0]
    assert 0.88 <= hits / 200 <= 0.99


def test_noise_ceiling_units_nan_voxels_and_fraction():
    scores = {"s": np.array([0.2, 0.4, np.nan, 0.9])}
    rois = {"R": np.array([True, True, True, False])}
    nc = np.array([25.0, 25.0, 100.0, 0.0])  # percent variance
    r = summarize_rois(scores, rois, metric="r", noise_ceiling=nc).iloc[0]
    assert r["n_voxels"] == 2 and r["mean"] == pytest.approx(0.3)
    assert r["noise_ceiling"] == pytest.approx(0.5)  # sqrt(25 %)
    assert r["ceiling_fraction"] == pytest.approx(0.6)
    r2 = summarize_rois(scores, rois, metric="r2", noise_ceiling=nc).iloc[0]
    assert r2["noise_ceiling"] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="metric"):
        summarize_rois(scores, rois, metric="auc")


def test_stage_reads_volumes_and_writes_table_with_sidecar(tmp_path):
    import nibabel as nib

    from neurodecode._io import read_json

    affine = np.eye(4)
    atlas = np.zeros((4, 4, 2))
    atlas[0] = -1  # outside the brain: never a label
    atlas[1] = 1
    atlas[2] = 2
    nib.save(nib.Nifti1Image(atlas.astype("f4"), affine), tmp_path / "floc-places.nii.gz")
    (tmp_path / "floc-places.mgz.ctab").write_text("0 Unknown\n1 OPA\n2 PPA\n")
    score = np.zeros((4, 4, 2), "f4")
    score[1], score[2], score[0] = 0.5, 0.1, 0.9
    nib.save(nib.Nifti1Image(score, affine), tmp_path / "s.nii.gz")
    nib.save(nib.Nifti1Image(np.full((4, 4, 2), 36.0, "f4"), affine), tmp_path / "nc.nii.gz")
    out = run(
        EvaluateConfig(
            scores={"clip": tmp_path / "s.nii.gz"},
            atlases=[tmp_path / "floc-places.nii.gz"],
            labels={"floc-places": tmp_path / "floc-places.mgz.ctab"},
            noise_ceiling=tmp_path / "nc.nii.gz",
            out=tmp_path / "sub-x" / "t.tsv",
            n_bootstrap=200,
        )
    )
    table = pd.read_csv(out, sep="\t").set_index("roi")
    assert list(table.index) == ["OPA", "PPA"]
    assert table.loc["OPA", "mean"] == pytest.approx(0.5)
    assert table.loc["PPA", "n_voxels"] == 8
    assert table.loc["OPA", "noise_ceiling"] == pytest.approx(0.6)
    side = read_json(tmp_path / "sub-x" / "t.json")
    assert side["stage"] == "evaluate" and side["config"]["n_bootstrap"] == 200
    assert read_ctab(tmp_path / "floc-places.mgz.ctab") == {0: "Unknown", 1: "OPA", 2: "PPA"}
