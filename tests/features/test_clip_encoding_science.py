"""Science check: toy-CLIP features explain the synthetic brain's category and colour voxels.

A ridge encoder on toy-CLIP image embeddings should reach at least half of the noise ceiling
(median noise-normalised score >= 50) in the category-selective and colour populations, while
pRF voxels, whose true space is local contrast energy, are predicted better from that pRF space
than from a global image embedding.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("open_clip")

from neurodecode.encoders import RidgeEncoder
from neurodecode.features import get_extractor
from neurodecode.metrics import noise_normalized_score, pearson_r_voxels
from neurodecode.synth import WorldConfig, make_world

CATEGORY_POPULATIONS = ("face", "place", "body", "word")


def _fit_score(X_train, Y_train, groups, X_test, Y_test):
    model = RidgeEncoder(alphas=np.logspace(-3, 5, 17), n_splits=5).fit(X_train, Y_train, groups)
    return pearson_r_voxels(Y_test, model.predict(X_test))


# the demo world's brains at the size these checks were tuned on (1000 training images)
_WORLD = dataclasses.replace(WorldConfig.demo(), n_stimuli=2400, n_shared=200, n_per_subject=1200)


@pytest.fixture(scope="module")
def scores():
    world = make_world(_WORLD)
    brain = world.brain("subj01")
    shared = set(world.shared_ids.tolist())
    own = np.array([i for i in world.subject_ids("subj01") if i not in shared])
    test_ids = np.asarray(world.shared_ids)
    reps = world.config.repeats
    train_trials = np.tile(own, reps)
    sessions = np.arange(len(train_trials)) // 300
    Y_train = brain.simulate_betas(train_trials, sessions, seed=1)
    for s in np.unique(sessions):  # per-session centring, as prepare's z-scoring does
        Y_train[sessions == s] -= Y_train[sessions == s].mean(axis=0)
    Y_test = brain.simulate_betas(np.tile(test_ids, reps), np.zeros(reps * test_ids.size, int), 2)
    Y_test = Y_test.reshape(reps, test_ids.size, -1).mean(axis=0)
    out = {}
    for name in ("toy-clip", "synth-prf"):
        ex = get_extractor(name)
        X_own, X_test = ex(world.stimuli.images(own)), ex(world.stimuli.images(test_ids))
        r = _fit_score(np.tile(X_own, (reps, 1)), Y_train, train_trials, X_test, Y_test)
        out[name] = (r, noise_normalized_score(r, brain.noise_ceiling(reps)))
    return brain, out


def test_toy_clip_explains_category_and_colour_populations(scores):
    brain, out = scores
    _, score = out["toy-clip"]
    for pops in (CATEGORY_POPULATIONS, ("colour",)):
        mask = np.isin(brain.population, pops)
        assert mask.sum() > 20
        assert np.nanmedian(score[mask]) >= 50, (pops, np.nanmedian(score[mask]))


def test_prf_voxels_are_better_explained_by_the_prf_space(scores):
    brain, out = scores
    prf = brain.population == "prf"
    r_clip, r_prf = out["toy-clip"][0][prf], out["synth-prf"][0][prf]
    assert np.nanmedian(r_prf) > np.nanmedian(r_clip) + 0.1
    assert np.mean(r_prf > r_clip) > 0.8
