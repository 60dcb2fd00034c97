"""The BOLD5000 reader (release 2.0 GLMsingle volumes and release 1.0 ROI data)."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecode.data import BOLD5000Subject, ReleaseError, load_subject, ncsnr_from_repeats

from .conftest import AFFINE, B5_DOWNLOAD, CSI


@pytest.fixture(scope="module")
def v2(bold5000_tree) -> BOLD5000Subject:
    root, _ = bold5000_tree
    return load_subject("bold5000", CSI, root=root)


@pytest.fixture(scope="module")
def v1(bold5000_tree) -> BOLD5000Subject:
    root, _ = bold5000_tree
    return load_subject("bold5000", CSI, root=root, release="roi")


def test_v2_trials_split_imgnames_by_session_length(v2, bold5000_tree):
    _, truth = bold5000_tree
    names = truth["names"]
    table = sorted(set(names))
    assert v2.stimuli.names == tuple(table)
    t = v2.trials
    np.testing.assert_array_equal(t["trial"], np.arange(len(names)))
    np.testing.assert_array_equal(t["session"], np.repeat([1, 2, 3], truth["lengths"]))
    np.testing.assert_array_equal(
        t["trial_in_session"], np.concatenate([np.arange(n) for n in truth["lengths"]])
    )
    assert [table[i] for i in t["stim_id"]] == names
    shown = {n: names.count(n) for n in names}
    np.testing.assert_array_equal(t["split"] == "test", [shown[n] > 1 for n in names])
    assert [int(r) for r in t["repeat"]] == [names[:i].count(n) for i, n in enumerate(names)]
    assert len(v2.splits["test"]) == 7  # one image x4, one x3


def test_v2_betas_geometry_and_rois(v2, bold5000_tree):
    _, truth = bold5000_tree
    brain = truth["brain"]
    np.testing.assert_array_equal(v2.read_betas(), truth["psc"][brain].T)
    # The brain mask's affine, not the beta files' (written with an identity affine).
    np.testing.assert_allclose(v2.affine, AFFINE, atol=1e-6)
    assert v2.shape == brain.shape
    vol = np.zeros(brain.shape, bool)
    vol[1, 1:3, 0] = True
    np.testing.assert_array_equal(v2.rois["LHPPA"], vol[brain])
    vol[2, 3, 0] = True  # RHPPA
    np.testing.assert_array_equal(v2.rois["PPA"], vol[brain])
    assert {"LHPPA", "RHLOC", "RHRSC", "LOC", "RSC", "PPA"} <= set(v2.rois)  # LO/RRSC normalised
    assert v2.rois["RHRSC"].sum() == 1


def test_v2_select_and_noise_ceiling_from_repeats(v2, bold5000_tree):
    _, truth = bold5000_tree
    data, ids = v2.select(roi="LOC", split="test", average_repeats=True)
    assert data.shape == (2, v2.rois["LOC"].sum())
    repeated = {"COCO_train2014_000000000999.jpg", "kitchen2.jpg"}
    assert {v2.stimuli.names[i] for i in ids} == repeated
    # ncsnr estimated from repeats of per-session z-scored betas (no ncsnr in BOLD5000).
    brain = truth["brain"]
    z = []
    start = 0
    for n in truth["lengths"]:
        block = truth["psc"][brain].T[start : start + n].astype(np.float64)
        z.append((block - block.mean(0)) / block.std(0))
        start += n
    expected = ncsnr_from_repeats(np.concatenate(z), v2.trials["stim_id"].to_numpy())
    np.testing.assert_allclose(v2.ncsnr, expected, rtol=1e-4)
    inv = (1 / 4 + 1 / 3) / 2
    s2 = expected.astype(np.float64) ** 2
    np.testing.assert_allclose(v2.noise_ceiling(), 100 * s2 / (s2 + inv), rtol=1e-4)


def test_v2_voxel_columns_from_an_roi(bold5000_tree):
    root, truth = bold5000_tree
    sub = load_subject("bold5000", CSI, root=root, voxels="LOC", sessions=(1, 2))
    assert sub.n_voxels == 4
    assert set(sub.trials["session"]) == {1, 2}
    assert sub.read_betas().shape == (sum(truth["lengths"][:2]), 4)


def test_v1_roi_release(v1, bold5000_tree):
    _, truth = bold5000_tree
    assert v1.geometry is None
    data = v1.read_betas()
    expected = np.concatenate([truth["roi_data"][k] for k in truth["keys"]], axis=1)
    np.testing.assert_allclose(data, expected.astype(np.float32))
    np.testing.assert_allclose(v1.select(roi="LHOPA")[0], truth["roi_data"]["LHOPA"], rtol=1e-6)
    both = truth["roi_data"]["LHPPA"].shape[1] + truth["roi_data"]["RHPPA"].shape[1]
    assert v1.rois["PPA"].sum() == both
    # rep_ prefixes are stripped: the same stimulus ids as release 2.0.
    assert v1.stimuli.names == tuple(sorted(set(truth["names"])))
    assert len(v1.splits["test"]) == 7
    with pytest.raises(ValueError, match="ROI-level data has no volume"):
        v1.unmask(np.zeros(v1.n_voxels))
    h5 = load_subject("bold5000", CSI, root=v1.root, release="roi", fmt="h5")
    np.testing.assert_allclose(h5.read_betas(), data)


def test_stimuli_images_and_coco_captions(v2):
    names = v2.stimuli.names
    coco = names.index("COCO_train2014_000000000999.jpg")
    scene = names.index("concert5.jpg")
    imagenet = names.index("n01945685_2329.JPEG")
    assert v2.stimuli.captions([coco, scene]) == [["a dog", "two dogs"], []]
    with pytest.raises(ValueError, match="size"):
        v2.stimuli.images(range(len(names)))
    images = v2.stimuli.images([coco, imagenet, scene], size=(16, 16))
    assert images.shape == (3, 16, 16, 3) and images.dtype == np.uint8
    assert abs(int(images[0, 8, 8, 1]) - 100) < 8  # the colour it was written with
    assert v2.stimuli.source(names[imagenet]) == "ImageNet"


def test_v2_session_gap_is_an_error(bold5000_copy):
    root, _ = bold5000_copy
    (root / B5_DOWNLOAD / CSI / f"{CSI}_GLMbetas-TYPED-FITHRF-GLMDENOISE-RR_ses-02.nii.gz").unlink()
    # the image list is split by session lengths: a gap is an error, never silently skipped
    with pytest.raises(ReleaseError, match=r"ses-02.*session 3 is there"):
        load_subject("bold5000", CSI, root=root)
    with pytest.raises(ReleaseError, match="ses-02"):
        load_subject("bold5000", CSI, root=root, sessions=(1, 3))
