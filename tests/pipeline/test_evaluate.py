from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neurodecode.cli import main
from neurodecode.data._volumes import read_ctab
from neurodecode.stages.evaluate import EvaluateConfig, run, summarize_rois


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
    ).table
    table = pd.read_csv(out, sep="\t").set_index("roi")
    assert list(table.index) == ["OPA", "PPA"]
    assert table.loc["OPA", "mean"] == pytest.approx(0.5)
    assert table.loc["PPA", "n_voxels"] == 8
    assert table.loc["OPA", "noise_ceiling"] == pytest.approx(0.6)
    side = read_json(tmp_path / "sub-x" / "t.json")
    assert side["stage"] == "evaluate" and side["config"]["n_bootstrap"] == 200
    assert read_ctab(tmp_path / "floc-places.mgz.ctab") == {1: "OPA", 2: "PPA"}


def _save(path, data):
    import nibabel as nib

    nib.save(nib.Nifti1Image(np.asarray(data, "f4"), np.eye(4)), path)
    return path


def test_binary_masks_are_named_rois_and_comma_files_are_their_union(tmp_path):
    """BOLD5000's one-label masks: one file per hemisphere and ROI, 0 outside, 1 inside."""
    lh, rh = np.zeros((4, 4, 2)), np.zeros((4, 4, 2))
    lh[0, :2], rh[3, :2] = 1, 1  # 4 voxels each, disjoint
    lh[1, 0, 0] = -1  # label-style "outside the brain" is not inside
    score = np.zeros((4, 4, 2))
    score[0], score[3] = 0.2, 0.6
    args = {
        "scores": {"clip": _save(tmp_path / "s.nii.gz", score)},
        "masks": {
            "LHPPA": [_save(tmp_path / "sub-X_mask-LHPPA.nii.gz", lh)],
            "RHPPA": [_save(tmp_path / "sub-X_mask-RHPPA.nii.gz", rh)],
            "PPA": [tmp_path / "sub-X_mask-LHPPA.nii.gz", tmp_path / "sub-X_mask-RHPPA.nii.gz"],
        },
        "out": tmp_path / "t.tsv",
        "n_bootstrap": 100,
    }
    table = pd.read_csv(run(EvaluateConfig(**args)).table, sep="\t").set_index("roi")
    assert list(table.index) == ["LHPPA", "RHPPA", "PPA"]
    assert table["n_voxels"].tolist() == [4, 4, 8]
    assert table.loc["LHPPA", "mean"] == pytest.approx(0.2)
    assert table.loc["PPA", "mean"] == pytest.approx(0.4)
    assert table.loc["PPA", "atlas"] == "sub-X_mask-LHPPA+sub-X_mask-RHPPA"
    assert np.isnan(table.loc["PPA", "noise_ceiling"])  # no noise-ceiling map given


def test_masks_and_atlases_together_and_input_errors(tmp_path):
    atlas = np.zeros((3, 3, 3))
    atlas[0] = 1
    mask = np.zeros((3, 3, 3))
    mask[2] = 1
    score = _save(tmp_path / "s.nii.gz", np.full((3, 3, 3), 0.3))
    _save(tmp_path / "atlas.nii.gz", atlas)
    _save(tmp_path / "m.nii.gz", mask)
    table = pd.read_csv(
        run(
            EvaluateConfig(
                scores={"a": score}, atlases=[tmp_path / "atlas.nii.gz"],
                masks={"M": [tmp_path / "m.nii.gz"]}, out=tmp_path / "t.tsv", n_bootstrap=100,
            )
        ).table,
        sep="\t",
    )  # fmt: skip
    assert table["roi"].tolist() == ["atlas-1", "M"]  # no ctab: labels named atlas-k
    with pytest.raises(ValueError, match="no ROIs"):
        EvaluateConfig(scores={"a": score}, out=tmp_path / "x.tsv")
    big = _save(tmp_path / "big.nii.gz", np.ones((4, 3, 3)))
    with pytest.raises(ValueError, match="different grids"):
        run(EvaluateConfig(scores={"a": score}, masks={"M": [big]}, out=tmp_path / "y.tsv"))


def test_cli_mask_flag(tmp_path, capsys):
    mask = np.zeros((2, 2, 2))
    mask[0] = 1
    _save(tmp_path / "lh.nii.gz", mask)
    _save(tmp_path / "rh.nii.gz", 1 - mask)
    _save(tmp_path / "s.nii.gz", np.full((2, 2, 2), 0.5))
    for bad in (["PPA"], ["PPA="], ["=a.nii.gz"], ["A=a.nii.gz", "A=b.nii.gz"]):
        argv = ["evaluate", "--scores", f"clip={tmp_path / 's.nii.gz'}", "--masks", *bad,
                "--out", str(tmp_path / "bad.tsv")]  # fmt: skip
        assert main(argv) == 2
        assert "--masks" in capsys.readouterr().err
    argv = ["evaluate", "--scores", f"clip={tmp_path / 's.nii.gz'}", "--masks",
            f"EarlyVis={tmp_path / 'lh.nii.gz'},{tmp_path / 'rh.nii.gz'}",
            f"LHEarlyVis={tmp_path / 'lh.nii.gz'}", "--n-bootstrap", "100",
            "--out", str(tmp_path / "t.tsv")]  # fmt: skip
    assert main(argv) == 0
    table = pd.read_csv(tmp_path / "t.tsv", sep="\t").set_index("roi")
    assert table.loc["EarlyVis", "n_voxels"] == 8 and table.loc["LHEarlyVis", "n_voxels"] == 4
