"""``neurodecode features`` on a tiny prepared NSD-layout cache (images from the release)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from data._nsd_tree import write_tree  # tests/data is a package on the test path

from neurodecode.cli import main
from neurodecode.data._cache import load_prepared
from neurodecode.data._prepare import PrepareConfig, prepare_subject
from neurodecode.features import read_features
from neurodecode.stages.features import FeaturesConfig, feature_path, run


def _write_stimulus_brick(root, n):
    import h5py

    from neurodecode.data import _nsd_layout as nsd
    from neurodecode.synth import StimulusSet

    path = root / nsd.stimuli_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as fh:
        fh[nsd.IMAGE_BRICK_DATASET] = StimulusSet(n, seed=3, image_size=32).images(range(n))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("features")
    root, out = tmp / "nsd", tmp / "cache"
    write_tree(root, sessions=4, per_session=30)
    _write_stimulus_brick(root, n=300)
    prepare_subject(PrepareConfig(dataset="nsd", root=root, subject="subj01", out=out))
    return out


def test_stage_writes_every_stimulus_with_a_sidecar(cache):
    from neurodecode.synth import truth_features

    out = run(
        FeaturesConfig(subject="subj01", cache=cache, model="synth-colour", progress=False)
    ).features
    assert out == feature_path(cache, "subj01", "synth-colour")
    assert out == cache / "sub-subj01" / "features" / "sub-subj01_desc-synthcolour_features.h5"
    prep = load_prepared(cache, "subj01")
    stimuli = prep.stimuli
    ids = np.unique(prep.trials["stim_id"])
    got_ids, X = read_features(out)
    np.testing.assert_array_equal(got_ids, ids)
    np.testing.assert_allclose(X, truth_features(stimuli.images(ids.tolist()))["colour"], rtol=1e-6)
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["stage"] == "features" and sidecar["model"] == "synth-colour"
    assert sidecar["extraction"]["n"] == ids.size
    assert load_prepared(cache, "subj01").split_hash


def test_cli_parses_the_documented_command(cache, tmp_path):
    target = tmp_path / "p.h5"
    argv = ["features", "--subject", "subj01", "--cache", str(cache), "--model", "synth-prf",
            "--out", str(target), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert read_features(target)[1].shape[1] == 256
