"""Extraction driver and extractors: truth spaces, resumption, CLIP image/text embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecode.features import (
    TRUTH_EXTRACTORS,
    extract_features,
    feature_file_info,
    get_extractor,
    list_extractors,
    read_features,
)
from neurodecode.synth import StimulusSet, truth_features


@pytest.fixture(scope="module")
def stimuli():
    return StimulusSet(400, seed=0)


def test_truth_extractors_wrap_truth_features(stimuli, tmp_path):
    ids = np.arange(10, 40)
    images = stimuli.images(ids)
    truth = truth_features(images)
    for name, space in TRUTH_EXTRACTORS.items():
        assert name in list_extractors()
        ex = get_extractor(name)
        out = tmp_path / f"{name}.h5"
        stats = extract_features(ex, ids, stimuli.images, out, batch_size=7, progress=False)
        got_ids, X = read_features(out)
        np.testing.assert_array_equal(got_ids, ids)
        np.testing.assert_allclose(X, truth[space], rtol=1e-6)
        assert stats["dim"] == truth[space].shape[1] == ex.dim
        info = feature_file_info(out)
        assert info["name"] == name and info["config"]["space"] == space


def test_extraction_resumes_after_interruption(stimuli, tmp_path):
    ids = np.arange(50)
    ex = get_extractor("synth-colour")
    out = tmp_path / "colour.h5"
    calls = []

    def flaky(batch):
        calls.append(batch.size)
        if len(calls) == 3:
            raise KeyboardInterrupt  # interrupted in the middle of the third batch
        return stimuli.images(batch)

    with pytest.raises(KeyboardInterrupt):
        extract_features(ex, ids, flaky, out, batch_size=10, progress=False)
    assert not out.exists()
    stats = extract_features(ex, ids, stimuli.images, out, batch_size=10, progress=False)
    assert stats["n_done_before"] == 20
    reference = tmp_path / "ref.h5"
    extract_features(ex, ids, stimuli.images, reference, batch_size=50, progress=False)
    np.testing.assert_array_equal(read_features(out)[1], read_features(reference)[1])


def test_unknown_extractor_names_the_registry():
    with pytest.raises(KeyError, match="registered"):
        get_extractor("no-such-model")
