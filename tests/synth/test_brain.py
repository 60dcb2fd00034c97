"""The simulated brain: geometry, atlases, tuning, linear responses, noise and noise ceilings."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from neurodecode.data import ncsnr_from_repeats
from neurodecode.data._nsd_layout import ROI_ATLASES
from neurodecode.synth import (
    POPULATION_FAMILIES,
    TRUTH_SPACES,
    PopulationFamily,
    WorldConfig,
    make_world,
    truth_features,
)
from neurodecode.synth import _brain as brain_module
from neurodecode.synth import _populations as populations_module

FAMILY_ATLAS = {f.population: f.atlas for f in POPULATION_FAMILIES if f.atlas}


@pytest.fixture(scope="module")
def world():
    return make_world(WorldConfig.tiny(seed=3))


@pytest.fixture(scope="module")
def brain(world):
    return world.brain("subj01")


@pytest.fixture(scope="module")
def repeats(world, brain):
    """Three repeats of every subj01 image, one session per repeat (betas z-scored per session)."""
    ids = world.subject_ids("subj01")
    trials = np.tile(ids, 3)
    sessions = np.repeat([1, 2, 3], ids.size)
    betas = brain.simulate_betas(trials, sessions, seed=7)
    return ids, trials, sessions, betas


def test_subject_image_sets(world):
    cfg = world.config
    a, b = world.subject_ids("subj01"), world.subject_ids("subj02")
    assert a.shape == (cfg.n_per_subject,) and len(set(a)) == a.size
    assert np.array_equal(a[: cfg.n_shared], world.shared_ids)
    assert np.array_equal(world.shared_ids, np.sort(world.shared_ids))
    assert not set(a[cfg.n_shared :]) & set(b[cfg.n_shared :])
    other = world.subject_ids("CSI1")
    assert np.array_equal(other[: cfg.n_shared], world.shared_ids)
    assert np.array_equal(other, world.subject_ids("CSI1"))
    assert a.max() < world.n_stimuli and world.subjects == ("subj01", "subj02")


def test_deterministic_per_seed_and_label(world, brain):
    twin = make_world(WorldConfig.tiny(seed=3)).brain("subj01")
    ids, sess = world.shared_ids[:20], np.ones(20, dtype=int)
    assert np.array_equal(twin.brainmask, brain.brainmask)
    assert np.array_equal(twin.ncsnr, brain.ncsnr)
    assert np.array_equal(twin.simulate_betas(ids, sess, 1), brain.simulate_betas(ids, sess, 1))
    assert not np.array_equal(
        brain.simulate_betas(ids, sess, 1), brain.simulate_betas(ids, sess, 2)
    )
    other_seed = make_world(WorldConfig.tiny(seed=4)).brain("subj01")
    other_label = world.brain("CSI1")
    for other in (other_seed, other_label):
        same_shape = other.ncsnr.shape == brain.ncsnr.shape
        assert not same_shape or not np.array_equal(other.ncsnr, brain.ncsnr)


def test_geometry(brain):
    assert brain.affine.shape == (4, 4)
    np.testing.assert_allclose(np.diag(brain.affine)[:3], 1.8)
    assert brain.brainmask.shape == brain.grid_shape == (20, 24, 20)
    assert np.array_equal(brain.voxel_ijk, np.argwhere(brain.brainmask))
    assert not (brain.left_hemisphere & ~brain.brainmask).any()
    frac = brain.left_hemisphere.sum() / brain.brainmask.sum()
    assert 0.4 < frac < 0.6


def test_atlas_volumes_and_labels(brain):
    assert set(brain.atlases) == {
        "nsdgeneral", "prf-visualrois", "floc-faces", "floc-places", "floc-bodies",
        "floc-words", "synth-colour",
    }  # fmt: skip
    for atlas, (names, vol) in brain.atlases.items():
        assert vol.dtype == np.int16 and vol.shape == brain.grid_shape
        assert np.array_equal(vol == -1, ~brain.brainmask)
        assert vol.max() <= len(names) and vol[brain.brainmask].min() >= 0
        if atlas in ROI_ATLASES:
            assert names == ROI_ATLASES[atlas]
    assert brain.atlases["synth-colour"][0] == ("colour",)


def _column_labels(brain, atlas):
    names, vol = brain.atlases[atlas]
    return names, vol[tuple(brain.voxel_ijk.T)]


def test_populations_match_atlases(brain):
    _, general = _column_labels(brain, "nsdgeneral")
    tuned = brain.true_space != ""
    assert tuned.sum() > 300 and general[tuned].min() == 1
    assert ((brain.population == "noise") & (general == 1)).any()  # untuned inside nsdgeneral
    expected_space = {f.population: f.space for f in POPULATION_FAMILIES}
    for population, atlas in FAMILY_ATLAS.items():
        names, labels = _column_labels(brain, atlas)
        assert np.array_equal(labels > 0, brain.population == population), population
        assert set(brain.true_space[labels > 0]) <= {expected_space[population], ""}
        for k in np.unique(labels[labels > 0]):
            for hemi in (True, False):
                cell = np.zeros(brain.grid_shape, dtype=bool)
                side = brain.left_hemisphere[tuple(brain.voxel_ijk.T)] == hemi
                cell[tuple(brain.voxel_ijk[(labels == k) & side].T)] = True
                assert cell.any(), (names[k - 1], hemi)
                n_parts = ndimage.label(cell, structure=np.ones((3, 3, 3)))[1]
                assert n_parts == 1, (names[k - 1], hemi, n_parts)
    prf = brain.population == "prf"
    assert np.isfinite(brain.prf_centre[prf]).all() and np.isnan(brain.prf_centre[~prf]).all()
    assert set(brain.preference[brain.population == "face"]) == {"face"}


def test_prf_retinotopy(brain):
    names, labels = _column_labels(brain, "prf-visualrois")
    lh = brain.left_hemisphere[tuple(brain.voxel_ijk.T)]
    prf = brain.population == "prf"
    assert (brain.prf_centre[prf & lh, 0] >= 0.5).all()
    assert (brain.prf_centre[prf & ~lh, 0] <= 0.5).all()
    ventral = np.isin(labels, [names.index(n) + 1 for n in ("V1v", "V2v", "V3v")])
    assert (brain.prf_centre[ventral, 1] <= 0.5).all()
    sizes = [np.median(brain.prf_size[np.isin(labels, [names.index(a) + 1 for a in group])])
             for group in (("V1v", "V1d"), ("V2v", "V2d"), ("V3v", "V3d"), ("hV4",))]  # fmt: skip
    assert sizes == sorted(sizes)


def test_true_response_exactly_linear_in_truth_features(world, brain):
    images = world.stimuli.images(world.shared_ids[:40])
    feats = truth_features(images)
    expected = brain.baseline + sum(feats[s] @ w for s, w in brain.true_weights.items())
    resp = brain.true_response(images)
    assert resp.shape == (40, brain.n_voxels) and resp.dtype == np.float32
    np.testing.assert_allclose(resp, expected, rtol=1e-4, atol=1e-4)
    assert set(brain.true_weights) == {"prf_energy", "colour", "category"}
    for space, w in brain.true_weights.items():
        assert w.shape == (TRUTH_SPACES[space], brain.n_voxels)
        assert np.array_equal(np.abs(w).sum(axis=0) > 0, brain.true_space == space)
    untuned = brain.true_space == ""
    assert np.ptp(resp[:, untuned], axis=0).max() == 0


def test_selectivity_of_category_and_colour_voxels(world, brain):
    ids = np.arange(300)
    resp = brain.true_response(world.stimuli.images(ids))
    cats = world.stimuli.categories(ids)
    for category in ("face", "place", "body", "word"):
        voxels = brain.population == category
        own = resp[cats == category][:, voxels].mean()
        assert own > resp[cats != category][:, voxels].mean() + 0.5, category
    main = np.array([world.stimuli.attributes(i)["main_colour"] for i in ids])
    red = (brain.population == "colour") & (brain.preference == "red")
    assert red.any() and resp[main == "red"][:, red].mean() > resp[main != "red"][:, red].mean()


def test_snr_distribution_and_beta_range(brain, repeats):
    tuned = brain.true_space != ""
    assert 0.4 <= np.median(brain.ncsnr[tuned]) <= 0.8
    assert (brain.ncsnr[tuned] > 0.3).mean() > 0.8
    assert (brain.ncsnr[~tuned] == 0).all()
    assert brain.signal_sd[tuned].min() >= 0.5 - 1e-6 and brain.signal_sd[tuned].max() <= 3 + 1e-6
    betas = repeats[3]
    assert betas.dtype == np.float32 and np.abs(betas).max() < 80


def test_sessions_simulated_separately_match_bulk(world, brain):
    ids = world.subject_ids("subj02")[:30]
    trials = np.concatenate([ids, ids[::-1]])
    sessions = np.repeat([4, 9], 30)
    bulk = brain.simulate_betas(trials, sessions, seed=11)
    first = brain.simulate_betas(trials[:30], sessions[:30], seed=11)
    np.testing.assert_array_equal(bulk[:30], first)
    with pytest.raises(ValueError):
        brain.simulate_betas(trials, sessions[:5], seed=11)


def test_noise_ceiling_matches_repeats(brain, repeats):
    ids, trials, sessions, betas = repeats
    z = np.empty_like(betas)
    for s in np.unique(sessions):
        rows = sessions == s
        z[rows] = (betas[rows] - betas[rows].mean(0)) / betas[rows].std(0)
    tuned = brain.true_space != ""
    est = ncsnr_from_repeats(z[:, tuned], trials)
    assert np.corrcoef(est, brain.ncsnr[tuned])[0, 1] > 0.9
    assert abs(np.median(est - brain.ncsnr[tuned])) < 0.05
    # the ceiling is the variance of repeat-averaged responses the true response explains
    average = betas.reshape(3, ids.size, -1).mean(axis=0)[:, tuned]
    truth = brain.true_response(brain.stimuli.images(ids))[:, tuned]
    a = (average - average.mean(0)) / average.std(0)
    t = (truth - truth.mean(0)) / truth.std(0)
    explained = 100 * (a * t).mean(axis=0) ** 2
    ceiling = brain.noise_ceiling(3)[tuned]
    np.testing.assert_allclose(
        brain.noise_ceiling(1), 100 * brain.ncsnr**2 / (brain.ncsnr**2 + 1), rtol=1e-5
    )
    assert abs(np.median(explained - ceiling)) < 4.0
    assert np.corrcoef(explained, ceiling)[0, 1] > 0.85


def test_population_table_is_the_extension_point(monkeypatch, world):
    extra = PopulationFamily(
        "colour-extra",
        "colour",
        "synth-extra",
        {"extra": (0.25, 0.5)},
        populations_module._colour_tuning,
    )
    monkeypatch.setattr(brain_module, "POPULATION_FAMILIES", (*POPULATION_FAMILIES, extra))
    grown = brain_module.SimulatedBrain(world.config, "subj09", world.stimuli, world._calibration)
    names, vol = grown.atlases["synth-extra"]
    assert names == ("extra",) and (vol == 1).sum() > 0
    cols = grown.population == "colour-extra"
    assert np.array_equal(vol[tuple(grown.voxel_ijk[cols].T)] == 1, np.ones(cols.sum(), bool))
    assert (grown.true_space[cols] == "colour").all()
    assert (np.abs(grown.true_weights["colour"][:, cols]).sum(axis=0) > 0).all()
    assert dataclasses.is_dataclass(extra)
