"""ROI ablation: removing the informative ROI hurts retrieval, removing noise voxels does not."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from neurodecode.encoders._contrastive import ContrastiveEncoder
from neurodecode.encoders._contrastive_ablation import roi_ablation
from neurodecode.encoders._contrastive_net import ContrastiveConfig

CFG = ContrastiveConfig(hidden_dim=128, projector_dim=128, epochs=15, batch_size=128)


def _problem(seed=0):
    """Voxels 0-149 carry the image latent ("V1"); voxels 150-299 are pure noise."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(16, 32)) / 4
    a = rng.normal(size=(16, 150)) / 4

    def trials(z):
        signal = np.tanh(z @ a) + 0.7 * rng.normal(size=(len(z), 150))
        return np.hstack([signal, rng.normal(size=(len(z), 150))]).astype(np.float32)

    z_tr, z_te = rng.normal(size=(1200, 16)), rng.normal(size=(200, 16))
    clip = lambda z: np.tanh(z @ w).astype(np.float32)  # noqa: E731
    rois = {"V1": np.arange(300) < 150, "noise": np.arange(300) >= 150}
    return trials(z_tr), clip(z_tr), trials(z_te), clip(z_te), rois


def test_lesion_and_retrain_ablation_identify_the_informative_roi():
    X_tr, Y_tr, X_te, Y_te, rois = _problem()
    enc = ContrastiveEncoder(CFG, random_state=0).fit(X_tr, Y_tr)
    rows = roi_ablation(enc, X_te, Y_te, rois, n_way=200, n_draws=5)
    by_roi = {r["roi"]: r for r in rows}
    assert [r["roi"] for r in rows] == ["none", "V1", "noise"]
    assert by_roi["none"]["image_given_brain"] > 0.3 and by_roi["none"]["brain_given_image"] > 0.3
    # Without V1 nothing is left to decode: chance level (1/200).
    assert by_roi["V1"]["image_given_brain"] < 0.03 and by_roi["V1"]["brain_given_image"] < 0.03
    assert (
        by_roi["V1"]["drop_image_given_brain"] > 0.3
        and by_roi["V1"]["drop_brain_given_image"] > 0.3
    )
    # Lesioning noise voxels removes noise, not signal: no loss.
    assert by_roi["noise"]["drop_image_given_brain"] < 0.02
    assert by_roi["noise"]["drop_brain_given_image"] < 0.02
    assert by_roi["V1"]["n_voxels"] == 150 and by_roi["V1"]["mode"] == "lesion"

    retrained = roi_ablation(
        enc, X_te, Y_te, {"noise": rois["noise"]}, X_train=X_tr, y_train=Y_tr, n_way=200, n_draws=5
    )
    assert retrained[1]["mode"] == "retrain"
    # Retrained on the signal voxels alone, the model decodes better than with the noise.
    assert retrained[1]["image_given_brain"] > by_roi["none"]["image_given_brain"]
    assert retrained[1]["brain_given_image"] > by_roi["none"]["brain_given_image"]

    with pytest.raises(ValueError, match="no voxels"):
        roi_ablation(enc, X_te, Y_te, {"empty": np.zeros(300, bool)})
    with pytest.raises(ValueError, match="mask shape"):
        roi_ablation(enc, X_te, Y_te, {"bad": np.ones(10, bool)})
