"""The workflow on BOLD5000: the shipped release configs (dry runs) and a tiny synthetic world.

The dry runs need no data: the release root is an empty folder (or one holding only the mask
file names the workflow looks for). The end-to-end run synthesises a one-subject BOLD5000 tree
with ``neurodecode synth`` and runs every stage on it through ``neurodecode run``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from neurodecode.data import _bold5000_layout as b5k
from neurodecode.stages.run import WORKFLOW_DIR, RunConfig, run

B5K_ROIS = ("EarlyVis", "LOC", "OPA", "PPA", "RSC")


def _dry_run(config: Path, out: Path, capfd, data_root: Path) -> str:
    status = run(RunConfig(config=config, out=out, data_root=data_root, cores=1, dry_run=True))
    text = capfd.readouterr().out
    assert status.status == 0, text
    return text


def _job_counts(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"^(\w+)\s+(\d+)$", text, flags=re.M)}


def _shell_commands(text: str, stage: str) -> list[str]:
    return re.findall(rf"^Shell command: (neurodecode {stage} .*)$", text, flags=re.M)


@pytest.mark.parametrize("name", ["nsd", "bold5000"])
def test_shipped_release_config_dry_runs_with_only_a_data_root(tmp_path, capfd, monkeypatch, name):
    from neurodecode.features import get_extractor

    for env in ("NEURODECODE_NSD_ROOT", "NEURODECODE_BOLD5000_ROOT"):
        monkeypatch.delenv(env, raising=False)
    path = WORKFLOW_DIR / "config" / f"{name}.yaml"
    cfg = yaml.safe_load(path.read_text())
    assert cfg["data_root"] is None and "synth" not in cfg
    for fs in cfg["feature_spaces"]:  # real releases: registry models, no synthetic truth
        assert not fs["extractor"].startswith("synth-")
        assert get_extractor(fs["extractor"]).modality == "image"  # offline, loads nothing
    root = tmp_path / "release"
    root.mkdir()
    text = _dry_run(path, tmp_path / "out", capfd, root)
    counts = _job_counts(text)
    n_sub, n_fs = len(cfg["subjects"]), len(cfg["feature_spaces"])
    for rule in ("verify", "prepare", "evaluate", "report"):
        assert counts[rule] == n_sub, rule
    assert counts["features"] == counts["encode"] == n_sub * n_fs
    assert "synth" not in counts
    evaluate, report = _shell_commands(text, "evaluate"), _shell_commands(text, "report")
    assert len(evaluate) == len(report) == n_sub
    for subject in cfg["subjects"]:
        (cmd,) = [c for c in evaluate if f"sub-{subject}/" in c]
        (rep,) = [c for c in report if f"--subject {subject} " in c]
        if name == "bold5000":
            assert "--atlases" not in cmd
            for roi in B5K_ROIS:
                lh, rh = (str(root / b5k.roi_mask_path(subject, h, roi)) for h in ("LH", "RH"))
                assert f"LH{roi}={lh} " in cmd and f" {roi}={lh},{rh}" in cmd
            assert f"--background {root / b5k.brainmask_path(subject)} " in rep
            assert f"--space {cfg['space']}" in _shell_commands(text, "features")[0]
        else:
            from neurodecode.data import _nsd_layout as nsd

            assert "--masks" not in cmd
            for atlas in cfg["evaluate"]["atlases"]:
                assert str(root / nsd.roi_path(subject, atlas, cfg["space"])) in cmd
                assert f"{atlas}={root / nsd.ctab_path(subject, atlas)}" in cmd
            assert f"--background {root / nsd.brainmask_path(subject, cfg['space'])} " in rep


def test_visio_linguistic_config_fits_image_and_caption_spaces_together(
    tmp_path, capfd, monkeypatch
):
    monkeypatch.delenv("NEURODECODE_BOLD5000_ROOT", raising=False)
    path = WORKFLOW_DIR / "config" / "bold5000-visio-linguistic.yaml"
    cfg = yaml.safe_load(path.read_text())
    root = tmp_path / "release"
    root.mkdir()
    text = _dry_run(path, tmp_path / "out", capfd, root)
    counts = _job_counts(text)
    assert counts["encode_banded"] == len(cfg["subjects"])
    banded = _shell_commands(text, "encode")
    (cmd,) = [c for c in banded if "--desc imagetext" in c and "sub-CSI1/" in c]
    assert "desc-clipimage_features.h5" in cmd and "desc-cliptext_features.h5" in cmd
    text_features = [c for c in _shell_commands(text, "features") if "openai-text" in c]
    assert text_features and all("--missing-captions skip" in c for c in text_features)
    reports = _shell_commands(text, "report")
    assert all("desc-imagetext_rois.tsv" in r for r in reports)


def test_bold5000_masks_and_brain_mask_are_found_where_the_release_unpacked_them(tmp_path, capfd):
    """CSI2 spells some masks differently (LHLO, RHRRSC) and the folders are unverified."""
    root = tmp_path / "release"
    spm = root / "ds001499" / "derivatives" / "spm" / "sub-CSI2"
    spm.mkdir(parents=True)
    stems = ["LHEarlyVis", "RHEarlyVis", "LHLO", "RHLO", "LHPPA", "RHRRSC"]
    for stem in stems:
        (spm / f"sub-CSI2_mask-{stem}.nii.gz").touch()
    brainmask = root / "GLMsingle" / "CSI2_brainmask.nii.gz"
    brainmask.parent.mkdir()
    brainmask.touch()
    cfg = yaml.safe_load((WORKFLOW_DIR / "config" / "bold5000.yaml").read_text())
    cfg["subjects"] = ["CSI2"]
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    text = _dry_run(path, tmp_path / "out", capfd, root)
    (cmd,) = _shell_commands(text, "evaluate")
    masks = dict(m.split("=", 1) for m in cmd.split("--masks ")[1].split(" --")[0].split())
    assert masks["LHLOC"] == str(spm / "sub-CSI2_mask-LHLO.nii.gz")
    assert masks["LOC"].split(",") == [
        str(spm / f"sub-CSI2_mask-{s}.nii.gz") for s in ("LHLO", "RHLO")
    ]
    assert masks["RHRSC"] == str(spm / "sub-CSI2_mask-RHRRSC.nii.gz")
    # only what the release has: no OPA at all, and no bilateral ROI from one hemisphere
    assert "LHOPA" not in masks and "OPA" not in masks and "PPA" not in masks and "RSC" not in masks
    assert set(masks) == {"LHEarlyVis", "RHEarlyVis", "EarlyVis", "LHLOC", "RHLOC", "LOC",
                          "LHPPA", "RHRSC"}  # fmt: skip
    assert f"--background {brainmask} " in _shell_commands(text, "report")[0]


def test_unknown_bold5000_roi_in_the_config_is_an_error(tmp_path, capfd):
    cfg = yaml.safe_load((WORKFLOW_DIR / "config" / "bold5000.yaml").read_text())
    cfg["evaluate"]["atlases"] = ["PPA", "FFA"]
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    (tmp_path / "release").mkdir()
    status = run(
        RunConfig(config=path, out=tmp_path / "out", data_root=tmp_path / "release", dry_run=True)
    )
    captured = capfd.readouterr()
    assert status.status != 0
    assert "FFA" in captured.out + captured.err


def test_square_images_crop_the_centre_and_resize():
    from neurodecode.stages.features import square_images

    wide = np.zeros((4, 8, 3), np.uint8)
    wide[:, 2:6] = 200  # the centre square
    tall = np.full((10, 6, 3), 7, np.uint8)
    out = square_images([wide, tall], side=4)
    assert out.shape == (2, 4, 4, 3) and out.dtype == np.uint8
    assert (out[0] == 200).all() and (out[1] == 7).all()
    assert square_images([wide], side=None).shape == (1, 4, 4, 3)
    with pytest.raises(ValueError, match="differ in size"):
        square_images([wide, tall], side=None)


def test_prepared_space_is_the_subjects_only_cache(tmp_path):
    from neurodecode.data import ReleaseError, load_prepared
    from neurodecode.data._cache import find_spaces

    assert find_spaces(tmp_path, "CSI1") == []
    with pytest.raises(ReleaseError, match="no prepared cache"):
        load_prepared(tmp_path, "CSI1")
    folder = tmp_path / "sub-CSI1"
    folder.mkdir()
    (folder / "sub-CSI1_space-T1w_desc-prepared_bold.json").touch()
    (folder / "sub-CSI1_space-T1w_desc-clip_stat-r_statmap.json").touch()
    assert find_spaces(tmp_path, "CSI1") == ["T1w"]
    (folder / "sub-CSI1_space-MNI_desc-prepared_bold.json").touch()
    with pytest.raises(ValueError, match="pass --space"):
        load_prepared(tmp_path, "CSI1")


# ---------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def bold5000_run(tmp_path_factory):
    """A tiny synthetic BOLD5000 world (CSI1) and the whole workflow run on it."""
    tmp = tmp_path_factory.mktemp("b5k")
    root, out = tmp / "bold5000", tmp / "derivatives"
    synth = [sys.executable, "-m", "neurodecode.cli", "synth", "bold5000", "--preset", "tiny",
             "--subjects", "CSI1", "--out", str(root)]  # fmt: skip
    res = subprocess.run(synth, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    cfg = {
        "dataset": "bold5000",
        "data_root": str(root),
        "subjects": ["CSI1"],
        "space": "T1w",
        # the world's truth (recomputed from the images on disk) and the shipped toy CLIP
        "feature_spaces": [
            {"name": "truthcategory", "extractor": "synth-category"},
            {"name": "clipimage", "extractor": "toy-clip"},
            {"name": "cliptext", "extractor": "toy-clip-text", "missing_captions": "skip"},
        ],
        "seed": 0,
        # image and caption spaces together (the visio-linguistic model), on the COCO images
        "encode": {"banded": [{"name": "imagetext", "spaces": ["clipimage", "cliptext"]}]},
        "evaluate": {"metric": "r", "n_bootstrap": 200, "ci": 0.95},
    }
    path = tmp / "bold5000.yaml"
    path.write_text(yaml.safe_dump(cfg))
    status = run(RunConfig(config=path, out=out, cores=1)).status
    return status, out, cfg


@pytest.mark.slow
def test_whole_workflow_on_a_tiny_bold5000_world(bold5000_run):
    from neurodecode._io import read_json

    status, out, cfg = bold5000_run
    logs = "\n".join(p.read_text() for p in sorted(out.glob("logs/*/*.log")))
    assert status == 0, logs
    report = out / "sub-CSI1.html"
    table_path = out / "sub-CSI1" / "sub-CSI1_desc-encoding_stat-r_rois.tsv"
    assert report.is_file() and table_path.is_file()
    table = pd.read_csv(table_path, sep="\t")
    spaces = [fs["name"] for fs in cfg["feature_spaces"]]
    expected = [f"{h}{r}" for r in B5K_ROIS for h in ("LH", "RH")] + list(B5K_ROIS)
    assert sorted(set(table["roi"])) == sorted(expected)
    assert set(table["feature_space"]) == set(spaces)
    assert (table.groupby("roi")["best"].sum() == 1).all()
    both = table.set_index(["roi", "feature_space"])["n_voxels"]
    for roi in B5K_ROIS:  # a bilateral ROI is its two hemispheres (disjoint masks)
        assert both[roi, spaces[0]] == both["LH" + roi, spaces[0]] + both["RH" + roi, spaces[0]]
    # the synthetic brain's category-tuned ROIs are explained by the category truth space
    place = table[(table["roi"] == "PPA") & (table["feature_space"] == "truthcategory")]
    assert place["mean"].item() > 0.2 and np.isfinite(place["noise_ceiling"].item())
    html = report.read_text()
    for roi in B5K_ROIS:
        assert f">{roi}<" in html
    trials = pd.read_csv(next((out / "sub-CSI1").glob("*_desc-prepared_trials.tsv")), sep="\t")
    # the test split is BOLD5000's repeated images; features cover every image shown
    encode = read_json(out / "sub-CSI1" / "sub-CSI1_desc-clipimage_rois.json")
    assert encode["n_test_images"] > 0 and encode["n_trials_without_features"] == 0
    # the banded image+caption model: fitted on the captioned (COCO) stimuli only
    banded = read_json(out / "sub-CSI1" / "sub-CSI1_desc-imagetext_rois.json")
    assert banded["feature_spaces"] == ["clipimage", "cliptext"]
    assert 0 < banded["n_trials_without_features"] < len(trials)
    rois = pd.read_csv(out / "sub-CSI1" / "sub-CSI1_desc-imagetext_rois.tsv", sep="\t")
    assert {"share_clipimage", "share_cliptext", "two_vs_two"} <= set(rois)
    assert "2 vs 2" in html
    repeated = trials.groupby("stim_id")["split"].agg(lambda s: s.iloc[0])
    counts = trials.groupby("stim_id").size()
    assert ((repeated == "test") == (counts > 1)).all()


@pytest.mark.slow
def test_text_space_is_refused_where_captions_are_missing(bold5000_run):
    from neurodecode.stages.features import FeaturesConfig
    from neurodecode.stages.features import run as features

    status, out, _ = bold5000_run
    assert status == 0
    with pytest.raises(ValueError, match="have no captions"):
        features(FeaturesConfig(subject="CSI1", cache=out, model="toy-clip-text", out=out / "t.h5"))
    kept = features(
        FeaturesConfig(subject="CSI1", cache=out, model="toy-clip-text", out=out / "t.h5",
                       missing_captions="skip", progress=False)
    )  # fmt: skip
    from neurodecode.features import read_features

    assert (
        0
        < len(read_features(kept.features)[0])
        < len(
            read_features(out / "sub-CSI1" / "features" / "sub-CSI1_desc-clipimage_features.h5")[0]
        )
    )
