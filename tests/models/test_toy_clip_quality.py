"""The shipped toy CLIP on held-out synthetic stimuli (ids a world shows, never trained on)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("open_clip")

from neurodecode.models import evaluate_toy_clip, load_clip, resolve_weights
from neurodecode.synth import StimulusSet


@pytest.fixture(scope="module")
def metrics():
    loaded = load_clip("toy-clip")
    report = (resolve_weights("toy-clip") / "README.md").read_text()
    assert "seed 0" in report
    stimuli = StimulusSet(1000, seed=0, image_size=64)
    return evaluate_toy_clip(loaded.model, loaded.tokenizer, stimuli, range(600))


@pytest.mark.parametrize("attribute", ["colour", "shape", "category"])
def test_zero_shot_attributes_by_caption_prompts(metrics, attribute):
    assert metrics[attribute] >= 0.90


def test_image_caption_retrieval_among_100(metrics):
    assert metrics["retrieval_i2t"] >= 0.60
    assert metrics["retrieval_t2i"] >= 0.60


def test_shipped_file_is_small():
    path = resolve_weights("toy-clip") / "open_clip_model.safetensors"
    assert path.stat().st_size <= 20 * 1024**2
