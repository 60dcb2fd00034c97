"""Tests of the multi-subject contrastive encoder and of fine-tuning a new subject."""

from __future__ import annotations

import copy

import numpy as np
import pytest

pytest.importorskip("torch")

from neurodecode.encoders._contrastive import ContrastiveEncoder
from neurodecode.encoders._contrastive_net import ContrastiveConfig
from neurodecode.encoders._multisubject import MultiSubjectContrastiveEncoder

CFG = ContrastiveConfig(hidden_dim=128, projector_dim=128, epochs=20, batch_size=128)
TINY = CFG.replace(hidden_dim=32, projector_dim=32, epochs=2, batch_size=16)


class World:
    """Images share a latent; each subject sees it through its own voxels (own count)."""

    def __init__(self, seed=0):
        self.rng = np.random.default_rng(seed)
        self.w1 = self.rng.normal(size=(16, 64)) / 4
        self.w2 = self.rng.normal(size=(64, 32)) / 8
        self.maps = {}

    def images(self, n):
        z = self.rng.normal(size=(n, 16))
        return z, (np.tanh(z @ self.w1) @ self.w2).astype(np.float32)

    def trials(self, subject, z, n_voxels=None, repeats=1):
        if subject not in self.maps:
            self.maps[subject] = self.rng.normal(size=(16, n_voxels)) / 4
        a = self.maps[subject]
        out = [
            np.tanh(z @ a) + 2.0 * self.rng.normal(size=(len(z), a.shape[1]))
            for _ in range(repeats)
        ]
        return np.concatenate(out).astype(np.float32)


def test_finetuning_new_subject_on_one_session_beats_training_it_alone():
    world = World(seed=0)
    z, clip = world.images(1000)
    X = {f"subj0{i}": world.trials(f"subj0{i}", z, 200 + 20 * i) for i in range(1, 4)}
    Y = {s: clip for s in X}
    base = MultiSubjectContrastiveEncoder(CFG, random_state=0).fit(X, Y)
    assert base.subjects_ == ["subj01", "subj02", "subj03"]

    # "One session": 150 images seen twice by the held-out subject.
    z_s, clip_s = world.images(150)
    X_new = world.trials("subj04", z_s, 260, repeats=2)
    Y_new = np.concatenate([clip_s, clip_s])
    z_t, clip_t = world.images(300)
    X_test = np.mean([world.trials("subj04", z_t) for _ in range(3)], axis=0)

    alone = ContrastiveEncoder(CFG.replace(epochs=100), random_state=0).fit(X_new, Y_new)
    r_alone = alone.retrieval(X_test, clip_t)
    tuned = copy.deepcopy(base).finetune_subject("subj04", X_new, Y_new, epochs=100)
    r_tuned = tuned.retrieval(X_test, clip_t, "subj04")
    mean_alone = (r_alone.image_given_brain + r_alone.brain_given_image) / 2
    mean_tuned = (r_tuned.image_given_brain + r_tuned.brain_given_image) / 2
    assert mean_tuned > mean_alone + 0.03
    assert r_tuned.image_given_brain > r_alone.image_given_brain
    assert r_tuned.brain_given_image > r_alone.brain_given_image
    assert tuned.subjects_[-1] == "subj04" and len(tuned.finetune_history_["subj04"]) == 100


def test_multisubject_save_load_and_adapter_only_finetuning(tmp_path):
    world = World(seed=1)
    z, clip = world.images(60)
    X = {"a": world.trials("a", z, 20), "b": world.trials("b", z, 30)}
    Y = {"a": clip, "b": clip}
    enc = MultiSubjectContrastiveEncoder(TINY, random_state=0).fit(X, Y)
    shared_before = {
        k: v.clone() for k, v in enc.network_.state_dict().items() if "adapters" not in k
    }
    enc.finetune_subject("c", world.trials("c", z, 25), clip, epochs=2, train="adapter")
    for k, v in enc.network_.state_dict().items():
        if k in shared_before:
            np.testing.assert_array_equal(v.numpy(), shared_before[k].numpy())
    assert enc.n_voxels_ == {"a": 20, "b": 30, "c": 25}
    enc.save(tmp_path / "ms")
    loaded = MultiSubjectContrastiveEncoder.load(tmp_path / "ms")
    assert loaded.subjects_ == ["a", "b", "c"]
    Xc = world.trials("c", z[:10])
    np.testing.assert_array_equal(loaded.embed(Xc, "c"), enc.embed(Xc, "c"))
    assert loaded.score({"a": X["a"]}, {"a": clip}) == pytest.approx(
        enc.score({"a": X["a"]}, {"a": clip})
    )
    with pytest.raises(ValueError, match="unknown subject"):
        enc.embed(Xc, "d")
    with pytest.raises(ValueError, match="same subject keys"):
        MultiSubjectContrastiveEncoder(TINY).fit(X, {"a": clip})
    with pytest.raises(ValueError, match="32-d"):
        enc.finetune_subject("d", Xc, np.zeros((10, 5), np.float32))
