"""Flow metrics: end-point error, angular error, 8-sector direction accuracy, with n and CIs."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecode.metrics import (
    angular_error,
    direction_accuracy,
    direction_bins,
    end_point_error,
    flow_metrics,
)


def test_end_point_error_whole_frame_and_masked():
    true = np.zeros((2, 4, 4, 2))
    pred = true.copy()
    pred[0, :2, :, 0] = 3.0  # half the first clip's pixels off by 3
    pred[0, 2:, :, 1] = 4.0
    np.testing.assert_allclose(end_point_error(pred, true), [3.5, 0.0])
    mask = np.zeros((2, 4, 4), bool)
    mask[:, :2] = True
    np.testing.assert_allclose(end_point_error(pred, true, mask), [3.0, 0.0])
    mask[1] = False
    assert np.isnan(end_point_error(pred, true, mask)[1])
    with pytest.raises(ValueError, match="share a shape"):
        end_point_error(pred[:, :2], true)


def test_angular_error_of_known_vectors():
    true = np.array([[[1.0, 0.0]]])
    assert angular_error(true, true)[0] == pytest.approx(0.0, abs=1e-4)
    # (1, 0, 1) vs (0, 1, 1): cos = 1/2 -> 60 degrees
    assert angular_error(np.array([[[0.0, 1.0]]]), true)[0] == pytest.approx(60.0)
    assert angular_error(np.zeros((1, 1, 2)), np.zeros((1, 1, 2)))[0] == pytest.approx(
        0.0, abs=1e-4
    )


def test_direction_bins_and_accuracy():
    angles = np.deg2rad(np.arange(8) * 45.0)
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    assert direction_bins(vectors).tolist() == list(range(8))
    assert direction_bins(np.array([np.cos(0.3), np.sin(0.3)])) == 0  # within +-22.5 deg
    true = np.tile(vectors * 2.0, (3, 1, 1))  # 3 clips, 8 pixels each
    pred = true.copy()
    pred[0] = np.roll(true[0], 1, axis=0)  # every direction off by one sector
    acc = direction_accuracy(pred, true)
    np.testing.assert_allclose(acc, [0.0, 1.0, 1.0])
    slow = true * 0.1  # below min_speed: no pixel counts
    assert np.isnan(direction_accuracy(slow, slow)).all()
    # random predictions sit at chance 1/8
    rng = np.random.default_rng(0)
    t, p = rng.normal(size=(200, 64, 2)) * 3, rng.normal(size=(200, 64, 2)) * 3
    assert direction_accuracy(p, t).mean() == pytest.approx(1 / 8, abs=0.02)


def test_flow_metrics_give_n_and_a_ci():
    rng = np.random.default_rng(1)
    true = rng.normal(size=(30, 2, 8, 8, 2))
    pred = true + rng.normal(scale=0.5, size=true.shape)
    mask = rng.random(true.shape[:-1]) < 0.3
    out = flow_metrics(pred, true, mask, n_bootstrap=200)
    assert set(out) == {"epe", "angular_error", "direction_accuracy", "epe_masked",
                        "direction_accuracy_masked"}  # fmt: skip
    epe = out["epe"]
    assert epe.n == 30 and epe.ci_low <= epe.value <= epe.ci_high
    assert epe.value == pytest.approx(end_point_error(pred, true).mean())
    assert 0.5 < out["direction_accuracy"].value <= 1.0
