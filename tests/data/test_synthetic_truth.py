"""Readers on the synthetic NSD and BOLD5000 trees recover the world's ground truth."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import scipy.io

from neurodecode.cli import main
from neurodecode.data import _bold5000_layout as b5k
from neurodecode.data import _nsd_layout as nsd
from neurodecode.data import load_subject
from neurodecode.synth import WorldConfig, make_world
from neurodecode.synth._bold5000_writer import ROI_SOURCES, image_name, write_bold5000
from neurodecode.synth._nsd_writer import write_nsd

# A small world: 120 images per subject (30 shared), 360 NSD trials in 3 sessions.
SMALL = dataclasses.replace(
    WorldConfig.tiny(seed=3), n_stimuli=400, n_shared=30, n_per_subject=120,
    grid_shape=(14, 16, 12), image_size=32,
)  # fmt: skip


@pytest.fixture(scope="module")
def world():
    return make_world(SMALL)


@pytest.fixture(scope="module")
def nsd_tree(world, tmp_path_factory):
    root = tmp_path_factory.mktemp("synth_nsd")
    design = write_nsd(world, root, subjects=["subj02"])
    return root, design


@pytest.fixture(scope="module")
def b5k_tree(world, tmp_path_factory):
    cfg = dataclasses.replace(SMALL, subjects=("CSI1", "CSI2"))
    w = make_world(cfg)
    root = tmp_path_factory.mktemp("synth_b5k")
    designs = write_bold5000(w, root, subjects=["CSI2"], trials_per_session=80)
    return w, root, designs["CSI2"]


def test_nsd_design_files_are_one_based(world, nsd_tree):
    root, design = nsd_tree
    mat = scipy.io.loadmat(root / nsd.expdesign_path())
    master = mat["masterordering"].ravel()
    assert master.min() == 1 and master.max() == SMALL.n_per_subject
    assert np.all(np.bincount(master.astype(int))[1:] == SMALL.repeats)
    np.testing.assert_array_equal(mat["subjectim"][1], world.subject_ids("subj02") + 1)
    np.testing.assert_array_equal(np.sort(mat["sharedix"].ravel()), world.shared_ids + 1)
    assert mat["stimpattern"].shape[:2] == (design.n_sessions, 12)
    assert mat["basiccnt"].shape == (3, design.n_sessions)


def test_nsd_trials_map_to_world_stimuli(world, nsd_tree):
    root, design = nsd_tree
    sub = load_subject("nsd", "subj02", root=root)
    ids = world.subject_ids("subj02")
    np.testing.assert_array_equal(sub.trials["stim_id"], ids[design.masterordering])
    np.testing.assert_array_equal(sub.trials["session"], design.sessions + 1)
    test_ids = np.unique(sub.trials.loc[sub.split("test"), "stim_id"])
    np.testing.assert_array_equal(test_ids, world.shared_ids)
    assert sub.trials["run"].notna().all()  # responses.tsv agreed with the design


@pytest.mark.parametrize("fmt", ["hdf5", "nii.gz"])
def test_nsd_betas_are_the_simulated_psc(world, nsd_tree, fmt):
    root, design = nsd_tree
    sub = load_subject("nsd", "subj02", root=root, fmt=fmt)
    brain = world.brain("subj02")
    np.testing.assert_array_equal(sub.ijk, brain.voxel_ijk)
    np.testing.assert_allclose(sub.affine, brain.affine)
    rows = np.flatnonzero(design.sessions == 1)
    truth = brain.simulate_betas(sub.trials["stim_id"].to_numpy()[rows], np.ones(rows.size))
    got = sub.read_betas(rows)
    np.testing.assert_allclose(got, truth, atol=0.5 / nsd.BETA_SCALE + 1e-6)


def test_nsd_rois_ncsnr_and_stimuli(world, nsd_tree):
    root, _ = nsd_tree
    sub = load_subject("nsd", "subj02", root=root)
    brain = world.brain("subj02")
    for atlas, (labels, vol) in brain.atlases.items():
        assert [sub.roi_labels[atlas][k] for k in range(1, len(labels) + 1)] == list(labels)
        col = vol[tuple(brain.voxel_ijk.T)]
        for k, name in enumerate(labels, start=1):
            np.testing.assert_array_equal(sub.rois[f"{atlas}/{name}"], col == k)
            left = brain.left_hemisphere[tuple(brain.voxel_ijk.T)]
            np.testing.assert_array_equal(sub.rois[f"lh.{atlas}/{name}"], (col == k) & left)
    assert sub.rois["FFA-1"].sum() == (brain.roi == "FFA-1").sum() > 0
    np.testing.assert_allclose(sub.ncsnr, brain.ncsnr, rtol=1e-6)
    np.testing.assert_allclose(sub.noise_ceiling(3), brain.noise_ceiling(3), rtol=1e-5)
    ids = world.shared_ids[:5]
    np.testing.assert_array_equal(sub.stimuli.images(ids), world.stimuli.images(ids))
    assert sub.stimuli.captions(ids) == [world.stimuli.captions(i) for i in ids]


def test_nsd_noise_ceiling_estimated_from_the_betas_matches_the_truth(world, nsd_tree):
    """The written ncsnr is the truth; an estimate from the betas' repeats agrees with it."""
    from neurodecode.data import ncsnr_from_repeats

    root, _ = nsd_tree
    sub = load_subject("nsd", "subj02", root=root)
    brain = world.brain("subj02")
    tuned = brain.ncsnr > 0.4
    z = np.concatenate([d for _, d in sub._iter_zscored()])
    est = ncsnr_from_repeats(z, sub.trials["stim_id"].to_numpy())
    corr = np.corrcoef(est[tuned], brain.ncsnr[tuned])[0, 1]
    assert corr > 0.8, corr
    assert abs(np.median(est[brain.ncsnr == 0])) < 0.15


def test_bold5000_trials_betas_and_rois(b5k_tree):
    w, root, design = b5k_tree
    sub = load_subject("bold5000", "CSI2", root=root)
    names = [image_name(s, w.stimuli.category(s))[1] for s in design.stim_ids.tolist()]
    assert [sub.stimuli.names[i] for i in sub.trials["stim_id"]] == names
    np.testing.assert_array_equal(sub.trials["session"], design.sessions + 1)
    assert list(design.session_lengths) == [80, 80, 50]  # 30 x 4 + 90 x 1 = 210
    test_names = {sub.stimuli.names[i] for i in sub.trials.loc[sub.split("test"), "stim_id"]}
    shared = {image_name(s, w.stimuli.category(s))[1] for s in w.shared_ids.tolist()}
    assert test_names == shared
    brain = w.brain("CSI2")
    rows = np.flatnonzero(design.sessions == 2)
    truth = brain.simulate_betas(design.stim_ids[rows], np.full(rows.size, 2))
    np.testing.assert_array_equal(sub.read_betas(rows), truth)
    for roi, (atlas, labels) in ROI_SOURCES.items():
        names_, vol = brain.atlases[atlas]
        member = np.isin(vol, [names_.index(n) + 1 for n in labels])[tuple(brain.voxel_ijk.T)]
        np.testing.assert_array_equal(sub.rois[roi], member)
        assert member.sum() > 0


def test_bold5000_stimuli_and_roi_release(b5k_tree):
    w, root, _ = b5k_tree
    sub = load_subject("bold5000", "CSI2", root=root)
    sources = {sub.stimuli.source(n) for n in sub.stimuli.names}
    assert sources == {"COCO", "ImageNet", "Scene"}
    coco = next(i for i, n in enumerate(sub.stimuli.names) if n.startswith("COCO_"))
    stim = int(sub.stimuli.names[coco][len("COCO_train2014_") : -4]) - 1
    assert sub.stimuli.captions([coco]) == [w.stimuli.captions(stim)]
    img = sub.stimuli.images([coco])[0].astype(float)
    assert np.abs(img - w.stimuli.images([stim])[0]).mean() < 3  # JPEG q95, 4:4:4
    v1 = load_subject("bold5000", "CSI2", root=root, release="roi")
    np.testing.assert_array_equal(v1.trials["stim_id"], sub.trials["stim_id"])
    lines = (root / b5k.stim_list_path("CSI2")).read_text().split()
    assert sum(n.startswith(b5k.REPEAT_PREFIX) for n in lines) == 30 * 3
    np.testing.assert_allclose(
        v1.select(roi="LHPPA")[0], sub.read_betas(columns="LHPPA"), rtol=1e-6
    )


def test_synth_cli_writes_a_tree_that_verifies(tmp_path, capsys):
    out = tmp_path / "nsd"
    args = ["synth", "nsd", "--out", str(out), "--preset", "tiny", "--seed", "1",
            "--subjects", "subj01", "--formats", "hdf5"]  # fmt: skip
    assert main(args) == 0
    record = json.loads((out / "synth_world.json").read_text())
    assert record["world"]["seed"] == 1 and record["design"]["sessions"] == 3
    assert not (out / nsd.session_betas_path("subj01", 1, "nii.gz")).exists()
    assert main(["data", "verify", "--dataset", "nsd", "--root", str(out),
                 "--subject", "subj01"]) == 0  # fmt: skip
    # Same settings: a resumable re-run; other settings: refused, nothing touched.
    assert main(args) == 0
    before = (out / nsd.expdesign_path()).stat().st_mtime_ns
    assert main([*args[:6], "--seed", "2", *args[8:]]) == 2
    assert "other settings" in capsys.readouterr().err
    assert (out / nsd.expdesign_path()).stat().st_mtime_ns == before
