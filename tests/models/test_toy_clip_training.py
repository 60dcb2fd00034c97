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
