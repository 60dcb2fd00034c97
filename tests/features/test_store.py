import h5py
import numpy as np
import pytest

from neurodecode.features import (
    ResumableFeatureWriter,
    feature_file_info,
    read_features,
    write_features,
)


def _data(n=20, p=4, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.permutation(1000)[:n]
    return ids, rng.standard_normal((n, p)).astype(np.float32)


def test_roundtrip_layout_and_attrs(tmp_path):
    ids, X = _data()
    path = write_features(
        tmp_path / "f.h5",
        ids,
        X,
        name="clip-image",
        model="toy-clip",
        weights_sha256="ab",
        config={"batch_size": 8},
    )
    with h5py.File(path) as fh:
        assert fh["stim_ids"].dtype == np.int64 and fh["features"].dtype == np.float32
        assert fh.attrs["name"] == "clip-image" and fh.attrs["model"] == "toy-clip"
    info = feature_file_info(path)
    assert info["config"] == {"batch_size": 8} and info["weights_sha256"] == "ab"
    assert (info["n"], info["dim"]) == X.shape
    got_ids, got = read_features(path)
    np.testing.assert_array_equal(got_ids, ids)
    np.testing.assert_array_equal(got, X)
    assert not list(tmp_path.glob(".*tmp*"))


def test_rows_aligned_to_requested_ids_with_repeats(tmp_path):
    ids, X = _data()
    write_features(tmp_path / "f.h5", ids, X, name="n", model="m")
    want = np.array([ids[5], ids[0], ids[5], ids[19]])
    got_ids, got = read_features(tmp_path / "f.h5", stim_ids=want)
    np.testing.assert_array_equal(got_ids, want)
    np.testing.assert_array_equal(got, X[[5, 0, 5, 19]])


def test_missing_ids_error_names_file_and_ids(tmp_path):
    ids, X = _data()
    write_features(tmp_path / "f.h5", ids, X, name="n", model="m")
    absent = [int(i) for i in range(1000, 1003)]
    with pytest.raises(ValueError, match=r"f\.h5.*3 requested.*1000, 1001, 1002"):
        read_features(tmp_path / "f.h5", stim_ids=[ids[0], *absent])
    with pytest.raises(FileNotFoundError):
        read_features(tmp_path / "nope.h5")


def test_write_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="duplicates"):
        write_features(tmp_path / "f.h5", [1, 1], np.zeros((2, 3)), name="n", model="m")
    with pytest.raises(ValueError, match="shape"):
        write_features(tmp_path / "f.h5", [1, 2], np.zeros((3, 3)), name="n", model="m")
    assert not (tmp_path / "f.h5").exists()


def test_resumable_writer_resumes_after_interruption(tmp_path):
    ids, X = _data(n=10)
    final = tmp_path / "f.h5"
    w = ResumableFeatureWriter(final, ids, 4, name="n", model="m", weights_sha256="s")
    w.write(ids[:4], X[:4])
    w.close()  # "interrupted"
    assert not final.exists() and w.partial_path.exists()
    w2 = ResumableFeatureWriter(final, ids, 4, name="n", model="m", weights_sha256="s")
    np.testing.assert_array_equal(w2.todo, ids[4:])
    with pytest.raises(RuntimeError, match="6 rows"):
        w2.finalize()
    w2.write(ids[4:][::-1], X[4:][::-1])
    w2.finalize()
    assert not w2.partial_path.exists()
    got_ids, got = read_features(final)
    np.testing.assert_array_equal(got_ids, ids)
    np.testing.assert_array_equal(got, X)
    with h5py.File(final) as fh:
        assert "done" not in fh


def test_resumable_writer_discards_partial_of_other_model(tmp_path):
    ids, X = _data(n=6)
    w = ResumableFeatureWriter(tmp_path / "f.h5", ids, 4, name="n", model="a")
    w.write(ids[:3], X[:3])
    w.close()
    w2 = ResumableFeatureWriter(tmp_path / "f.h5", ids, 4, name="n", model="b")
    assert w2.todo.size == 6
    w2.close()
