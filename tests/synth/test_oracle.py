"""The ground-truth oracle: the world rebuilt from a written release, on the cache's columns."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurodecode.cli import main
from neurodecode.data import load_prepared
from neurodecode.synth import GroundTruth, WorldConfig, ground_truth, load_world, make_world


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("oracle")
    root, cache = tmp / "release", tmp / "cache"
    assert main(["synth", "nsd", "--preset", "tiny", "--seed", "5", "--subjects", "subj02",
                 "--formats", "hdf5", "--out", str(root)]) == 0  # fmt: skip
    assert main(["prepare", "--dataset", "nsd", "--root", str(root), "--subject", "subj02",
                 "--out", str(cache), "--no-progress"]) == 0  # fmt: skip
    return root, load_prepared(cache, "subj02")


def test_the_world_is_rebuilt_exactly_from_the_release(prepared):
    root, _ = prepared
    world = load_world(root)
    assert world.config == WorldConfig.tiny(seed=5).__class__(
        **{**WorldConfig.tiny(seed=5).__dict__, "subjects": ("subj02",)}
    )
    fresh = make_world(world.config)
    ids = np.arange(10)
    np.testing.assert_array_equal(world.stimuli.images(ids), fresh.stimuli.images(ids))
    record = json.loads((root / "synth_world.json").read_text())
    assert record["world"]["seed"] == 5


def test_truth_is_on_the_cache_columns_by_voxel_position(prepared):
    root, prep = prepared
    truth = ground_truth(root, "subj02", prep.ijk, prep.shape)
    brain = truth.brain
    assert truth.columns.size == prep.n_voxels
    # the same voxels, by position
    np.testing.assert_array_equal(brain.voxel_ijk[truth.columns], prep.ijk)
    # the prepared columns are nsdgeneral: every one is in the simulated visual region
    assert set(np.unique(truth.population)) <= {"prf", "colour", "face", "place", "body",
                                                 "word", "noise"}  # fmt: skip
    ids = np.unique(prep.trials["stim_id"])[:8]
    images = truth.images(ids)
    np.testing.assert_allclose(
        truth.true_response(images), brain.true_response(images)[:, truth.columns], rtol=1e-6
    )
    # a face-selective column responds more to faces than to the other categories
    cats = np.array([a["category"] for a in truth.attributes(np.arange(60))])
    resp = truth.true_response(truth.images(np.arange(60)))
    face = truth.tuned("face")
    assert face.any()
    assert resp[cats == "face"][:, face].mean() > resp[cats != "face"][:, face].mean()
    # betas are noisy truth: the repeat-averaged test betas correlate with the true response
    Y, test_ids = prep.select(split="test", average_repeats=True)
    true = truth.true_response(truth.images(test_ids))
    tuned = truth.true_space != ""
    r = [np.corrcoef(Y[:, c], true[:, c])[0, 1] for c in np.flatnonzero(tuned)[:50]]
    assert np.nanmean(r) > 0.3
    assert truth.held_out_ids.size > 0 and not np.isin(truth.held_out_ids, test_ids).any()


def test_columns_outside_the_brain_and_other_grids_are_refused(prepared):
    root, prep = prepared
    world = load_world(root)
    with pytest.raises(ValueError, match="outside the simulated brain"):
        GroundTruth(world, "subj02", np.array([[0, 0, 0]]))
    with pytest.raises(ValueError, match="grid"):
        GroundTruth(world, "subj02", prep.ijk, shape=(1, 2, 3))


def test_a_real_release_has_no_truth(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a synthetic release"):
        load_world(tmp_path)
