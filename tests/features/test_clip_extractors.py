"""CLIP extractors on the shipped toy CLIP: shapes, normalisation, text means, bf16."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("open_clip")

from neurodecode.features import extract_features, feature_file_info, get_extractor
from neurodecode.models import resolve_weights
from neurodecode.synth import StimulusSet


@pytest.fixture(scope="module")
def stimuli():
    return StimulusSet(200, seed=0)


def test_toy_clip_image_features_are_unit_norm_and_recorded(stimuli, tmp_path):
    ex = get_extractor("toy-clip")
    out = tmp_path / "toy-clip.h5"
    stats = extract_features(ex, np.arange(20), stimuli.images, out, batch_size=8, progress=False)
    assert stats["dim"] == 128
    info = feature_file_info(out)
    assert info["model"] == "toy-clip"
    assert len(info["weights_sha256"]) == 64
    from neurodecode.features import read_features

    X = read_features(out)[1]
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1, atol=1e-5)
    assert resolve_weights("toy-clip").is_dir()


def test_text_features_average_the_captions(stimuli):
    ex = get_extractor("toy-clip-text")
    caps = [stimuli.captions(i) for i in range(3)]
    got = ex(caps)
    each = ex([[c] for c in caps[1]])
    np.testing.assert_allclose(got[1], each.mean(0), atol=1e-5)


def test_bf16_extraction_stays_close_to_fp32(stimuli):
    images = stimuli.images(range(16))
    a = get_extractor("toy-clip")(images)
    b = get_extractor("toy-clip", bf16=True)(images)
    cos = (a * b).sum(1) / np.linalg.norm(b, axis=1)
    assert cos.min() > 0.97
