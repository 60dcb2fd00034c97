"""The BOLD Moments reader, verifier and restricted unpickler on the synthetic video release."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from synth._video_tree import bold_moments_tree  # tests/synth is a package on the test path

from neurodecode.cli import main
from neurodecode.data import ReleaseError, load_prepared
from neurodecode.data import _bold_moments_layout as bmd
from neurodecode.data._pickles import load_npy, load_pickle


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return bold_moments_tree(tmp_path_factory)


class _Shell:
    """Pickles as a call of os.system: what a hostile release file would carry."""

    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/neurodecode-pwned",))


def test_restricted_unpickler_refuses_a_malicious_pickle(tmp_path):
    path = tmp_path / "ROI-MT_indices.pkl"
    path.write_bytes(pickle.dumps({"MT": _Shell()}))
    with pytest.raises(ReleaseError) as err:
        load_pickle(path)
    message = str(err.value)
    assert str(path) in message and "system" in message and "refused" in message
    npy = tmp_path / "TYPED_FITHRF_GLMDENOISE_RR.npy"
    np.save(npy, np.array({"betasmd": _Shell()}, dtype=object), allow_pickle=True)
    with pytest.raises(ReleaseError, match="refused"):
        load_npy(npy)


def test_restricted_unpickler_reads_release_data(tmp_path):
    data = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": [1, 2.5, "x"], "c": 3}
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps(data, protocol=2))
    back = load_pickle(path)
    np.testing.assert_array_equal(back["a"], data["a"])
    assert back["b"] == data["b"] and back["c"] == 3
    (tmp_path / "cut.pkl").write_bytes(pickle.dumps(data)[:20])
    with pytest.raises(ReleaseError, match=r"cut\.pkl"):
        load_pickle(tmp_path / "cut.pkl")


def test_synthetic_release_follows_the_real_tree(tree):
    root, subject = tree["root"], tree["subject"]
    for s in bmd.MAIN_SESSIONS:
        assert (root / bmd.session_betas_path(subject, s)).is_file()
    for task in bmd.TASKS:
        assert (root / bmd.prepared_betas_path(subject, task)).is_file()
    assert (root / bmd.roi_path(subject, "MT", "l")).is_file() or any(
        (root / bmd.roi_dir(subject)).glob("*MT*")
    )
    assert (root / bmd.stimulus_path(1)).is_file()
    assert str(bmd.subject_dir(subject)).startswith("derivatives/versionB/MNI152/GLM/sub-")


def test_verify_passes_and_reports_a_broken_file(tree, tmp_path):
    out = tmp_path / "verify.json"
    argv = ["data", "verify", "--dataset", "boldmoments", "--root", str(tree["root"]),
            "--subject", tree["subject"], "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    from neurodecode.data._verify_bold_moments import verify_bold_moments

    assert verify_bold_moments(tree["root"], [tree["subject"]]) == []
    import shutil

    copy = tmp_path / "release"
    shutil.copytree(tree["root"], copy)
    roi = next((copy / bmd.roi_dir(tree["subject"])).glob("*MT*_indices.pkl"))
    roi.write_bytes(pickle.dumps({"MT": _Shell()}))
    problems = verify_bold_moments(copy, [tree["subject"]])
    assert any(p.path == str(roi) and "refused" in p.problem for p in problems), problems


def test_prepared_subject_api(tree):
    prep = load_prepared(tree["cache"], tree["subject"])
    world_train, world_test = 120, 20
    assert len(prep.split("train")) == world_train * 3
    assert len(prep.split("test")) == world_test * 10
    X, ids = prep.select(roi="MT", split="test", average_repeats=True)
    assert X.shape == (world_test, len(prep.columns("MT"))) and len(set(ids)) == world_test
    frames = prep.stimuli.frames(list(ids[:2]))
    assert frames.dtype == np.uint8 and frames.ndim == 5 and frames.shape[-1] == 3
    assert prep.stimuli.images(list(ids[:2])).shape == frames[:, 0].shape
    assert "MT" in prep.rois
