"""prepare on a BOLD5000 release 2.0 tree: PSC betas through the Subject, one cache API."""

from __future__ import annotations

import numpy as np

from neurodecode.data import load_prepared, load_subject
from neurodecode.data._prepare import PrepareConfig, prepare_subject


def test_bold5000_cache_matches_the_subject(bold5000_tree, tmp_path):
    root, _ = bold5000_tree
    config = PrepareConfig(
        dataset="bold5000", root=root, subject="CSI1", out=tmp_path, roi=None, space="T1w"
    )
    prepare_subject(config)
    prep = load_prepared(tmp_path, "CSI1", space="T1w")
    subject = load_subject("bold5000", "CSI1", root=root)
    assert prep.betas.shape == (subject.n_trials, subject.n_voxels)
    np.testing.assert_array_equal(prep.trials["stim_id"], subject.trials["stim_id"])
    assert set(prep.trials["split"]) == {"train", "test"}
    raw = subject.read_betas()
    sessions = subject.trials["session"].to_numpy()
    train = (subject.trials["split"] == "train").to_numpy()
    for s in np.unique(sessions):
        rows = sessions == s
        ref = raw[rows & train] if (rows & train).any() else raw[rows]
        sd = ref.std(axis=0)
        expected = (raw[rows] - ref.mean(axis=0)) / np.where(sd > 0, sd, 1)
        expected[:, ~(sd > 0)] = 0
        np.testing.assert_allclose(prep.betas[rows], expected, rtol=1e-4, atol=1e-4)
    for name, mask in subject.rois.items():
        if mask.any():
            np.testing.assert_array_equal(prep.rois[name], mask)
    np.testing.assert_array_equal(prep.ijk, subject.ijk)
