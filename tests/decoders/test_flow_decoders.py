"""The flow decoders (ridge, codebook) on a small planted problem, persistence, and scoring."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecode.decoders import CodebookFlowDecoder, RidgeFlowDecoder, score_flows


def _problem(seed: int = 0, n_clips: int = 160, repeats: int = 2):
    """Clips whose flow is one of 8 uniform directions over a square patch at one of 4 places;
    voxels carry direction and place (with noise); the first frame shows the patch."""
    rng = np.random.default_rng(seed)
    direction = rng.integers(0, 8, n_clips)
    place = rng.integers(0, 4, n_clips)
    angle = direction * np.pi / 4
    flows = np.zeros((n_clips, 2, 8, 8, 2), np.float32)
    frames = np.zeros((n_clips, 16, 16, 3), np.uint8)
    for i in range(n_clips):
        r, c = divmod(int(place[i]), 2)
        flows[i, :, 4 * r : 4 * r + 4, 4 * c : 4 * c + 4] = 2 * np.array(
            [np.cos(angle[i]), np.sin(angle[i])]
        )
        frames[i, 8 * r : 8 * r + 8, 8 * c : 8 * c + 8] = 255
    code = np.concatenate([np.eye(8)[direction], np.eye(4)[place],
                           np.eye(32)[direction * 4 + place]], axis=1)  # fmt: skip
    mixing = rng.normal(size=(code.shape[1], 80))
    groups = np.repeat(np.arange(n_clips), repeats)
    X = code[groups] @ mixing + rng.normal(scale=0.2, size=(groups.size, 80))
    return X.astype(np.float32), flows, frames, groups


def test_ridge_flow_decoder_beats_the_mean_flow_and_round_trips(tmp_path):
    X, flows, _, groups = _problem()
    train, test = groups < 120, groups >= 120
    dec = RidgeFlowDecoder(alphas=np.logspace(-1, 4, 6), n_splits=3)
    dec.fit(X[train], flows[groups[train]], groups=groups[train])
    pred = dec.predict(X[test])
    assert pred.shape == (test.sum(), 2, 8, 8, 2)
    true = flows[groups[test]]
    err = np.linalg.norm(pred - true, axis=-1).mean()
    base = np.linalg.norm(flows[:120].mean(0) - true, axis=-1).mean()
    assert err < 0.6 * base, (err, base)
    back = RidgeFlowDecoder.load(dec.save(tmp_path / "ridge"))
    np.testing.assert_allclose(back.predict(X[test]), pred, rtol=1e-5, atol=1e-5)


def test_geometric_median_and_the_end_point_shrinkage():
    from neurodecode.decoders._flow_ridge import geometric_median, shrink_flow

    # three collinear points: the middle one; a majority at zero keeps the median there
    line = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 0.0]])[:, None]
    np.testing.assert_allclose(geometric_median(line)[0], [1.0, 0.0], atol=1e-4)
    spike = np.concatenate([np.zeros((6, 1, 2)), np.random.default_rng(0).normal(size=(4, 1, 2))])
    np.testing.assert_allclose(geometric_median(spike)[0], 0.0, atol=1e-4)
    v = np.array([[3.0, 4.0], [0.03, 0.04], [-1.0, 0.0]], np.float32)
    out = shrink_flow(v, np.zeros(2, np.float32), 0.5)
    np.testing.assert_allclose(out, [[2.7, 3.6], [0.0, 0.0], [-0.5, 0.0]], atol=1e-6)
    np.testing.assert_array_equal(shrink_flow(v, np.zeros(2, np.float32), 0.0), v)


def test_ridge_flow_shrinkage_is_chosen_by_cross_validation(tmp_path):
    X, flows, _, groups = _problem(seed=3)
    X = X + np.random.default_rng(3).normal(scale=3.0, size=X.shape).astype(np.float32)
    train, test = groups < 120, groups >= 120
    fit = {"X": X[train], "flows": flows[groups[train]], "groups": groups[train]}
    dec = RidgeFlowDecoder(alphas=np.logspace(-1, 4, 6), n_splits=3).fit(**fit)
    assert len(dec.shrink_cv_epe_) == len(dec.shrink) and dec.shrink_ > 0
    assert min(dec.shrink_cv_epe_) < dec.shrink_cv_epe_[0]
    np.testing.assert_allclose(dec.centre_, 0.0, atol=1e-3)  # most patches of a clip are still
    true = flows[groups[test]]
    raw, shrunk = dec.predict_raw(X[test]), dec.predict(X[test])
    epe = {k: np.linalg.norm(v - true, axis=-1).mean() for k, v in (("raw", raw), ("s", shrunk))}
    assert epe["s"] < epe["raw"], epe
    back = RidgeFlowDecoder.load(dec.save(tmp_path / "ridge"))
    assert back.shrink_ == dec.shrink_
    np.testing.assert_allclose(back.predict(X[test]), shrunk, rtol=1e-5, atol=1e-5)
    off = RidgeFlowDecoder(alphas=np.logspace(-1, 4, 6), n_splits=3, shrink=(0.0,)).fit(**fit)
    assert off.shrink_ == 0.0 and off.shrink_cv_epe_ is None
    np.testing.assert_array_equal(off.predict(X[test]), off.predict_raw(X[test]))
    np.testing.assert_allclose(off.predict_raw(X[test]), raw, rtol=1e-5, atol=1e-5)


def test_the_motion_stage_default_shrinkage_grid_is_the_decoders():
    from neurodecode.decoders._flow_ridge import SHRINK_GRID
    from neurodecode.stages.motion import MotionConfig

    assert MotionConfig.__dataclass_fields__["shrink"].default == SHRINK_GRID


def test_codebook_flow_decoder_learns_and_round_trips(tmp_path):
    X, flows, frames, groups = _problem(seed=1)
    train, test = groups < 120, groups >= 120
    dec = CodebookFlowDecoder(n_clusters=9, epochs=25, hidden=32, embed_dim=16, channels=8,
                              dropout=0.0, lr=1e-2, random_state=0, threads=1)  # fmt: skip
    dec.fit(X[train], flows[groups[train]], frames[groups[train]], groups=groups[train])
    assert dec.history_[-1] < dec.history_[0]
    proba = dec.predict_proba(X[test], frames[groups[test]])
    assert proba.shape == (test.sum(), 2, 8, 8, 9)
    np.testing.assert_allclose(proba.sum(-1), 1.0, atol=1e-5)
    pred = dec.predict(X[test], frames[groups[test]])
    true = flows[groups[test]]
    err = np.linalg.norm(pred - true, axis=-1).mean()
    base = np.linalg.norm(flows[:120].mean(0) - true, axis=-1).mean()
    assert err < 0.6 * base, (err, base)
    back = CodebookFlowDecoder.load(dec.save(tmp_path / "codebook"))
    np.testing.assert_allclose(back.predict(X[test], frames[groups[test]]), pred, atol=1e-5)
    # same seed, same decoder (a few epochs suffice to compare)
    short = {**dec.get_params(), "epochs": 2}
    a, b = (CodebookFlowDecoder(**short).fit(X[train], flows[groups[train]],
                                             frames[groups[train]], groups=groups[train])
            for _ in range(2))  # fmt: skip
    np.testing.assert_array_equal(a.predict(X[test], frames[groups[test]]),
                                  b.predict(X[test], frames[groups[test]]))  # fmt: skip


def test_score_flows_has_the_baselines_and_the_codebook_limit():
    from neurodecode.features import FlowCodebook

    _, flows, _, _ = _problem(seed=2)
    true, train = flows[120:], flows[:120]
    book = FlowCodebook(9, random_state=0).fit(train)
    out = score_flows({"perfect": true.copy()}, true, train_mean=train.mean(0), codebook=book,
                      mask=np.linalg.norm(true, axis=-1) > 0, n_bootstrap=50)  # fmt: skip
    models = out["models"]
    assert set(models) == {"perfect", "mean_flow", "other_clips", "codebook_limit"}
    assert models["perfect"]["epe"]["value"] == pytest.approx(0.0, abs=1e-6)
    assert models["perfect"]["direction_accuracy"]["value"] == 1.0
    assert models["mean_flow"]["epe"]["n"] == len(true)
    assert models["codebook_limit"]["epe"]["value"] < models["mean_flow"]["epe"]["value"]
    assert out["epe_ratio"]["perfect"] == pytest.approx(0.0, abs=1e-6)
