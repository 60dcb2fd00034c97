"""Toy-CLIP training mechanics: compact vocabulary, determinism, saving through open_clip."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("open_clip")

from neurodecode.models import (  # noqa: E402
    CompactTokenizer,
    ToyClipTrainConfig,
    build_compact_vocab,
    load_clip,
    train_toy_clip,
)

_TINY = ToyClipTrainConfig(steps=3, batch_size=8, warmup=1, n_eval=100, log_every=10, eval_every=0)


def test_compact_tokenizer_keeps_eot_largest_and_maps_unknowns():
    kept = build_compact_vocab(["a red circle", "a blue star"])
    tok = CompactTokenizer(kept, context_length=8)
    ids = tok(["a red circle", "a green circle"])
    assert ids.shape == (2, 8)
    eot = tok.vocab_size - 1
    assert int(ids[0].argmax()) == 4 and int(ids[0, 4]) == eot  # sot a red circle eot
    assert int(ids[1, 2]) == 1  # "green" is not in the vocabulary -> <unk>
    assert int(ids[0, -1]) == 0  # padding stays 0
    assert tok.unknown_fraction(["a green circle"]) == pytest.approx(1 / 3)


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_training_is_deterministic_given_the_seed_and_saves_a_loadable_folder(tmp_path):
    m1, _, report = train_toy_clip(_TINY, out=tmp_path / "a", log=lambda s: None)
    m2, _, _ = train_toy_clip(_TINY, log=lambda s: None)
    m3, _, _ = train_toy_clip(dataclasses.replace(_TINY, seed=1), log=lambda s: None)
    s1, s2, s3 = _state(m1), _state(m2), _state(m3)
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    assert not all(torch.equal(s1[k], s3[k]) for k in s1)
    assert set(report["metrics"]) >= {"colour", "shape", "category", "retrieval"}
    card = (tmp_path / "a" / "README.md").read_text()
    assert "zero-shot colour" in card and "3 steps" in card
    loaded = load_clip(f"local-dir:{tmp_path / 'a'}")
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        got = loaded.model.encode_image(x)
        want = m1.eval().half().float().encode_image(x)
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=2e-2)


def test_object_fraction_sets_the_share_of_object_images_in_each_batch():
    from neurodecode.models._toy_clip_train import _draw_ids
    from neurodecode.synth import StimulusSet

    cfg = dataclasses.replace(_TINY, batch_size=20, object_fraction=0.5)
    stimuli = StimulusSet(cfg.train_offset + cfg.n_train, cfg.world_seed)
    rng = np.random.default_rng(0)
    for _ in range(3):
        ids = _draw_ids(rng, stimuli, cfg)
        assert (stimuli.categories(ids) == "object").sum() == 10
        assert ((ids >= cfg.train_offset) & (ids < cfg.train_offset + cfg.n_train)).all()


def test_continued_training_keeps_vocabulary_and_records_its_stages(tmp_path):
    train_toy_clip(_TINY, out=tmp_path / "a", log=lambda s: None)
    cont = dataclasses.replace(_TINY, init_from=str(tmp_path / "a"), object_fraction=0.5, lr=1e-4)
    _, _, report = train_toy_clip(cont, out=tmp_path / "b", log=lambda s: None)
    vocab = [(tmp_path / d / "vocab.json").read_text() for d in "ab"]
    assert vocab[0] == vocab[1]
    assert [s["config"]["steps"] for s in report["stages"]] == [3, 3]
    assert report["stages"][1]["config"]["init_from"] == "a"  # a folder name, not a path
    assert report["config"]["init_from"] == "a"
    assert len(report["stages"][0]["weights_sha256"]) == 64
    card = (tmp_path / "b" / "README.md").read_text()
    assert "continuing stage 1" in card and "--init-from stage1" in card
    with pytest.raises(ValueError, match="object_fraction"):
        dataclasses.replace(_TINY, object_fraction=1.5)
    with pytest.raises(FileNotFoundError, match=r"training_report\.json"):
        train_toy_clip(dataclasses.replace(_TINY, init_from=str(tmp_path)), log=lambda s: None)
