"""Science checks of the ridge encoders on the synthetic world, against its ground truth.

Training: the subject's own images, single trials (3 repeats each), folds grouped by image.
Test: the shared images, repeat-averaged, scored against the true noise ceiling of a
3-repeat average. Features: the world's true feature spaces, computed from pixels.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neurodecode.encoders import BandedRidgeEncoder
from neurodecode.metrics import noise_normalized_score, pearson_r_voxels

synth = pytest.importorskip("neurodecode.synth")

SPACES = ("prf_energy", "colour", "category", "nuisance")


# the demo world's brains at the size these checks were tuned on (1000 training images)
_WORLD = dataclasses.replace(
    synth.WorldConfig.demo(), n_stimuli=2400, n_shared=200, n_per_subject=1200
)


@pytest.fixture(scope="module")
def fitted():
    world = synth.make_world(_WORLD)
    brain = world.brain("subj01")
    ids = world.subject_ids("subj01")
    shared = set(world.shared_ids.tolist())
    own = np.array([i for i in ids if i not in shared])
    test_ids = np.asarray(world.shared_ids)
    reps = world.config.repeats
    train_trials = np.tile(own, reps)
    sessions = np.arange(len(train_trials)) // 300  # drift changes every 300 trials
    _, volume = brain.atlases["nsdgeneral"]
    ijk = brain.voxel_ijk
    visual = volume[ijk[:, 0], ijk[:, 1], ijk[:, 2]] > 0  # tuned and noise voxels of nsdgeneral
    Y_train = brain.simulate_betas(train_trials, sessions, seed=1)[:, visual]
    Y_train -= _session_means(Y_train, sessions)  # per-session centring, as prepare z-scores
    test_trials = np.tile(test_ids, reps)
    Y_test = brain.simulate_betas(test_trials, np.zeros(len(test_trials), int), seed=2)[:, visual]
    Y_test = Y_test.reshape(reps, len(test_ids), -1).mean(axis=0)
    feats_train = synth.truth_features(world.stimuli.images(own))
    feats_test = synth.truth_features(world.stimuli.images(test_ids))
    X_train = np.hstack([np.tile(feats_train[s], (reps, 1)) for s in SPACES])
    X_test = np.hstack([feats_test[s] for s in SPACES])
    sizes = [feats_train[s].shape[1] for s in SPACES]
    model = BandedRidgeEncoder(
        space_sizes=sizes, space_names=SPACES, n_iter=4, alphas=np.logspace(-1, 5, 7),
        random_state=0,
    )  # fmt: skip
    model.fit(X_train, Y_train, groups=train_trials)
    truth = _Truth(
        population=brain.population[visual],
        true_space=brain.true_space[visual],
        prf_centre=brain.prf_centre[visual],
        ceiling=brain.noise_ceiling(reps)[visual],
    )
    return truth, model, X_test, Y_test, sizes


@dataclasses.dataclass
class _Truth:
    population: np.ndarray
    true_space: np.ndarray
    prf_centre: np.ndarray
    ceiling: np.ndarray


def _session_means(Y, sessions):
    means = np.zeros_like(Y)
    for s in np.unique(sessions):
        means[sessions == s] = Y[sessions == s].mean(axis=0)
    return means


def _grid_centres(grid):
    """Cell centres (x, y) as fractions of the image side, cells in row-major (y, x) order."""
    c = (np.arange(grid) + 0.5) / grid
    y, x = np.meshgrid(c, c, indexing="ij")
    return np.stack([x.ravel(), y.ravel()], axis=1)


def test_tuned_voxels_reach_their_noise_ceiling(fitted):
    truth, model, X_test, Y_test, _ = fitted
    tuned = truth.population != "noise"
    r = pearson_r_voxels(Y_test, model.predict(X_test))
    score = noise_normalized_score(r, truth.ceiling)
    print(f"median noise-normalised score, tuned voxels: {np.nanmedian(score[tuned]):.1f}")
    assert np.nanmedian(score[tuned]) >= 80


def test_noise_voxels_are_not_predicted(fitted):
    truth, model, X_test, Y_test, _ = fitted
    noise = truth.population == "noise"
    r = pearson_r_voxels(Y_test, model.predict(X_test))
    print(f"median r, noise voxels: {np.nanmedian(r[noise]):.3f} (n={noise.sum()})")
    assert abs(np.nanmedian(r[noise])) <= 0.05


def test_best_feature_space_is_the_simulated_one(fitted):
    truth, model, X_test, Y_test, _ = fitted
    tuned = truth.population != "noise"
    shares = model.score_split(X_test, Y_test)
    best = np.asarray(SPACES)[np.argmax(np.nan_to_num(shares, nan=-np.inf), axis=0)]
    hit = np.mean(best[tuned] == truth.true_space[tuned])
    print(f"best space == simulated space: {hit:.3f} of {tuned.sum()} tuned voxels")
    assert hit >= 0.9


def test_prf_centres_recovered_from_weights(fitted):
    truth, model, _, _, sizes = fitted
    prf = truth.population == "prf"
    weights = np.clip(model.coef_[: sizes[0], prf], 0, None)
    centres = _grid_centres(synth.PRF_GRID)
    est = (weights.T @ centres) / weights.sum(axis=0)[:, None]
    true_centre = truth.prf_centre[prf]
    corr = [np.corrcoef(est[:, a], true_centre[:, a])[0, 1] for a in (0, 1)]
    print(f"pRF centre correlation x, y: {corr[0]:.3f}, {corr[1]:.3f} (n={prf.sum()})")
    assert min(corr) >= 0.9
