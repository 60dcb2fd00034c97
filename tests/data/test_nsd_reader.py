"""The NSD reader on a tiny hand-written release (tests/data/conftest.py)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from neurodecode.data import (
    NSDSubject,
    ReleaseError,
    load_subject,
    trials_hash,
)
from neurodecode.data import _nsd_layout as nsd

from .conftest import AFFINE, SUBJ


@pytest.fixture(scope="module")
def subj(nsd_tree) -> NSDSubject:
    root, _ = nsd_tree
    return load_subject("nsd", SUBJ, root=root)


def _expected_rows(truth):
    per = truth["per_session"]
    trial = np.concatenate([(s - 1) * per + np.arange(per) for s in truth["sessions"]])
    return trial


def test_trials_follow_the_design(subj, nsd_tree):
    _, truth = nsd_tree
    trial = _expected_rows(truth)
    t = subj.trials
    np.testing.assert_array_equal(t["trial"], trial)
    np.testing.assert_array_equal(t["session"], trial // truth["per_session"] + 1)
    np.testing.assert_array_equal(t["trial_in_session"], trial % truth["per_session"])
    k10 = truth["master"][trial]  # 1-based
    expected_stim = truth["subjectim"][truth["number"] - 1, k10 - 1] - 1
    np.testing.assert_array_equal(t["stim_id"], expected_stim)
    # 1-based 73k ids of the design are the 0-based ids + 1.
    np.testing.assert_array_equal(t["stim_id"] + 1, truth["subjectim"][1, k10 - 1])
    for row, tr in enumerate(trial):
        assert t["repeat"].iloc[row] == np.sum(truth["master"][:tr] == truth["master"][tr])
    np.testing.assert_array_equal(t["split"] == "test", k10 <= truth["n_shared"])
    assert set(t["run"].tolist()) == {1, 2}  # from responses.tsv


def test_splits_are_hashed_trial_lists(subj):
    test = subj.splits["test"]
    rows = subj.split("test")
    np.testing.assert_array_equal(test.trials, np.sort(subj.trials["trial"].to_numpy()[rows]))
    assert test.sha256 == trials_hash(test.trials.tolist())
    assert len(test) + len(subj.splits["train"]) == subj.n_trials
    assert "shared1000" in test.rule
    with pytest.raises(KeyError):
        subj.split("val")


def test_betas_are_stored_over_scale_in_float32(subj, nsd_tree):
    _, truth = nsd_tree
    betas = subj.read_betas()
    assert betas.dtype == np.float32
    stored = truth["stored"][truth["brain"]].T  # (trials, voxels) in C order over (X, Y, Z)
    expected = stored[_expected_rows(truth)].astype(np.float32) / np.float32(nsd.BETA_SCALE)
    np.testing.assert_array_equal(betas, expected)
    rows = np.array([30, 2, 2, 14])
    cols = np.array([5, 0, 3])
    np.testing.assert_array_equal(subj.read_betas(rows, cols), expected[rows][:, cols])


def test_nifti_and_hdf5_sessions_agree(nsd_tree):
    root, _ = nsd_tree
    h5 = load_subject("nsd", SUBJ, root=root, fmt="hdf5")
    nii = load_subject("nsd", SUBJ, root=root, fmt="nii.gz")
    assert sorted(set(h5.trials["session"])) == [1, 2]
    assert sorted(set(nii.trials["session"])) == [2, 4]
    np.testing.assert_array_equal(
        h5.read_betas(h5.split("train")[h5.trials["session"].to_numpy()[h5.split("train")] == 2]),
        nii.read_betas(
            nii.split("train")[nii.trials["session"].to_numpy()[nii.split("train")] == 2]
        ),
    )


def test_select_averages_any_number_of_repeats(subj):
    data, ids = subj.select(roi="V1v", split="test", average_repeats=True)
    raw, raw_ids = subj.select(roi="V1v", split="test")
    assert np.all(np.diff(ids) > 0)
    counts = {i: int(np.sum(raw_ids == i)) for i in ids}
    assert set(counts.values()) > {3}  # session 3 is missing: some images have fewer repeats
    for row, i in enumerate(ids):
        np.testing.assert_allclose(data[row], raw[raw_ids == i].mean(axis=0), rtol=1e-6)
    assert data.shape[1] == subj.rois["V1v"].sum()


def test_rois_from_every_atlas_with_ctab_names(subj, nsd_tree):
    _, truth = nsd_tree
    brain = truth["brain"]
    atlas = truth["atlas"][brain]
    np.testing.assert_array_equal(subj.rois["prf-visualrois"], atlas > 0)
    assert (atlas == -1).any() and not subj.rois["prf-visualrois"][atlas == -1].any()
    for value, name in {1: "V1v", 2: "V1d", 3: "V2v"}.items():
        np.testing.assert_array_equal(subj.rois[f"prf-visualrois/{name}"], atlas == value)
    # Bare names go to prf-visualrois before Kastner2015, which also has a "V2v" (= label 1).
    np.testing.assert_array_equal(subj.rois["V2v"], atlas == 3)
    np.testing.assert_array_equal(subj.rois["Kastner2015/V2v"], atlas == 1)
    np.testing.assert_array_equal(subj.rois["TO1"], atlas == 2)
    np.testing.assert_array_equal(subj.rois["lh.V1v"], truth["hemi"]["lh"][brain] == 1)
    np.testing.assert_array_equal(subj.rois["rh.prf-visualrois"], truth["hemi"]["rh"][brain] > 0)
    assert subj.roi_labels["prf-visualrois"] == {1: "V1v", 2: "V1d", 3: "V2v"}
    assert set(subj.roi_labels) == {"prf-visualrois", "Kastner2015", "nsdgeneral"}


def test_voxel_columns_from_an_atlas(nsd_tree):
    root, truth = nsd_tree
    sub = load_subject("nsd", SUBJ, root=root, voxels="nsdgeneral")
    assert sub.n_voxels == int((truth["general"] > 0).sum())
    expected = truth["stored"][truth["general"] > 0].T[: truth["per_session"]]
    np.testing.assert_array_equal(
        sub.read_betas(np.arange(truth["per_session"])), expected.astype(np.float32) / 300
    )


def test_noise_ceiling_from_ncsnr(subj, nsd_tree):
    _, truth = nsd_tree
    s = truth["ncsnr"][truth["brain"]].astype(np.float64)
    np.testing.assert_allclose(subj.noise_ceiling(n=3), 100 * s**2 / (s**2 + 1 / 3), rtol=1e-6)
    test = subj.trials[subj.trials["split"] == "test"]
    counts = test.groupby("stim_id").size().to_numpy()
    a, b, c = (np.sum(counts == k) for k in (3, 2, 1))
    inv = (a / 3 + b / 2 + c / 1) / (a + b + c)
    nc = subj.noise_ceiling()
    np.testing.assert_allclose(nc, 100 * s**2 / (s**2 + inv), rtol=1e-6)
    assert np.isnan(nc).sum() == 1  # the NaN ncsnr voxel inside the brain
    assert subj.noise_ceiling(n=1, roi="V1d").shape == (subj.rois["V1d"].sum(),)


def test_unmask_uses_the_brainmask_affine(subj, nsd_tree):
    _, truth = nsd_tree
    values = np.arange(subj.n_voxels, dtype=np.float32) + 1
    img = subj.unmask(values)
    np.testing.assert_allclose(img.affine, AFFINE, atol=1e-6)  # stored as float32
    vol = np.asarray(img.dataobj)
    np.testing.assert_array_equal(vol[truth["brain"]], values)
    assert np.all(vol[~truth["brain"]] == 0)
    roi_img = subj.unmask(np.ones(subj.rois["V1v"].sum()), roi="V1v", fill=np.nan)
    assert np.nansum(np.asarray(roi_img.dataobj)) == subj.rois["V1v"].sum()
    with pytest.raises(ValueError, match="shape"):
        subj.unmask(values[:-1])


def test_stimuli_by_id_and_captions(subj, nsd_tree):
    _, truth = nsd_tree
    ids = [17, 3, 17, 199]
    images = subj.stimuli.images(ids)
    np.testing.assert_array_equal(images, truth["brick"][ids])
    assert subj.stimuli.images(ids, size=(4, 5)).shape == (4, 4, 5, 3)
    assert len(subj.stimuli) == truth["brick"].shape[0]
    caps = subj.stimuli.captions([3, 4])
    assert caps == [["image 5003 caption 0", "image 5003 caption 1"],
                    ["image 5004 caption 0", "image 5004 caption 1"]]  # fmt: skip


def test_explicit_sessions_and_missing_one(nsd_tree):
    root, _ = nsd_tree
    sub = load_subject("nsd", SUBJ, root=root, sessions=(4,))
    assert set(sub.trials["session"]) == {4}
    with pytest.raises(ReleaseError, match="betas_session03"):
        load_subject("nsd", SUBJ, root=root, sessions=(1, 3))


def test_import_is_light():
    code = (
        "import sys, neurodecode.data; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'h5py', 'nibabel') "
        "or m.startswith('neurodecode.synth')]; print(bad); assert not bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
