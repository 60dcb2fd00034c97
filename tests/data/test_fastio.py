"""Fast masked readers against h5py / nibabel on small files."""

from __future__ import annotations

import gzip

import h5py
import nibabel as nib
import numpy as np
import pytest

from neurodecode.data import _fastio
from neurodecode.data._errors import ReleaseError
from neurodecode.data._fastio import mask_to_ijk, read_masked_betas

from ._nsd_tree import AFFINE, write_betas

SHAPE = (9, 8, 7, 11)  # X, Y, Z, T


def _data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    data = rng.integers(-32768, 32767, SHAPE, dtype=np.int16)
    mask = rng.random(SHAPE[:3]) < 0.3
    return data, mask


@pytest.mark.parametrize("chunks", ["voxel", (4, 1, 1, 1), (11, 2, 3, 4), None])
@pytest.mark.parametrize("walk", [False, True])
def test_hdf5_matches_h5py(tmp_path, monkeypatch, chunks, walk):
    # walk=True forces the whole-index walk + coalesced preadv; False the per-chunk lookups.
    monkeypatch.setattr(_fastio, "_LOOKUP_COST", 10**9 if walk else 0)
    data, mask = _data(1)
    path = tmp_path / "s.hdf5"
    write_betas(path, data, "hdf5", chunks=chunks)
    ijk = mask_to_ijk(mask)
    with h5py.File(path) as fh:
        ref = fh["betas"][()][:, ijk[:, 2], ijk[:, 1], ijk[:, 0]]
    got = read_masked_betas(path, ijk)
    assert got.dtype == np.int16
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(got, data[mask].T)


def test_hdf5_unallocated_chunks_read_fill_value(tmp_path, monkeypatch):
    path = tmp_path / "s.hdf5"
    with h5py.File(path, "w") as fh:
        ds = fh.create_dataset(
            "betas", shape=(5, 3, 3, 3), dtype="i2", chunks=(5, 1, 1, 1), fillvalue=-7
        )
        ds[:, 1, 1, 1] = np.arange(5)
    ijk = np.array([[1, 1, 1], [0, 0, 0], [2, 1, 1]])
    for cost in (0, 10**9):
        monkeypatch.setattr(_fastio, "_LOOKUP_COST", cost)
        got = read_masked_betas(path, ijk)
        np.testing.assert_array_equal(got[:, 0], np.arange(5))
        assert (got[:, 1:] == -7).all()


def test_nifti_gz_and_plain_match_nibabel(tmp_path):
    data, mask = _data(2)
    ijk = mask_to_ijk(mask)
    for name in ("s.nii.gz", "s.nii"):
        nib.save(nib.Nifti1Image(data, AFFINE), tmp_path / name)
        ref = np.asarray(nib.load(tmp_path / name).dataobj)[mask].T
        got = read_masked_betas(tmp_path / name, ijk)
        assert got.dtype == np.int16
        np.testing.assert_array_equal(got, ref)


def test_nifti_scaling_is_honoured(tmp_path):
    data, mask = _data(3)
    raw = bytearray(nib.Nifti1Image(data, AFFINE).to_bytes())
    raw[112:120] = np.array([0.5, 2.0], dtype="<f4").tobytes()  # scl_slope, scl_inter
    (tmp_path / "s.nii.gz").write_bytes(gzip.compress(bytes(raw)))
    ref = nib.load(tmp_path / "s.nii.gz").get_fdata()[mask].T
    got = read_masked_betas(tmp_path / "s.nii.gz", mask_to_ijk(mask))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=1e-6)


def test_truncated_gzip_names_file(tmp_path):
    data, mask = _data(4)
    path = tmp_path / "betas_session01.nii.gz"
    nib.save(nib.Nifti1Image(data, AFFINE), path)
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) * 2 // 3])
    with pytest.raises(ReleaseError, match=r"betas_session01\.nii\.gz"):
        read_masked_betas(path, mask_to_ijk(mask))


def test_corrupt_gzip_crc_names_file(tmp_path):
    data, mask = _data(5)
    path = tmp_path / "s.nii.gz"
    raw = nib.Nifti1Image(data, AFFINE).to_bytes()
    blob = bytearray(gzip.compress(raw))
    blob[-8] ^= 0xFF  # CRC32 in the trailer
    path.write_bytes(bytes(blob))
    with pytest.raises(ReleaseError, match=r"s\.nii\.gz"):
        read_masked_betas(path, mask_to_ijk(mask))


def test_short_nifti_data_names_file(tmp_path):
    data, mask = _data(6)
    path = tmp_path / "s.nii.gz"
    raw = nib.Nifti1Image(data, AFFINE).to_bytes()
    path.write_bytes(gzip.compress(raw[: len(raw) - 1000]))  # valid gzip, data too short
    with pytest.raises(ReleaseError, match=r"truncated.*trial volume"):
        read_masked_betas(path, mask_to_ijk(mask))


def test_wrong_shape_hdf5_names_file(tmp_path):
    path = tmp_path / "betas_session02.hdf5"
    with h5py.File(path, "w") as fh:
        fh["betas"] = np.zeros((4, 3, 3), dtype=np.int16)
    with pytest.raises(ReleaseError, match=r"betas_session02\.hdf5.*shape"):
        read_masked_betas(path, np.zeros((1, 3), int))
    with h5py.File(path, "w") as fh:
        fh["betas"] = np.zeros((4, 2, 2, 2), dtype=np.int16)  # grid smaller than the mask
    with pytest.raises(ReleaseError, match=r"betas_session02\.hdf5.*grid"):
        read_masked_betas(path, np.array([[5, 0, 0]]))
    with pytest.raises(ReleaseError, match="trials"):
        read_masked_betas(path, np.array([[1, 0, 0]]), n_trials=750)


@pytest.mark.parametrize("walk", [False, True])
def test_truncated_hdf5_names_file(tmp_path, monkeypatch, walk):
    monkeypatch.setattr(_fastio, "_LOOKUP_COST", 10**9 if walk else 0)
    data, mask = _data(7)
    path = tmp_path / "betas_session03.hdf5"
    write_betas(path, data, "hdf5")
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) - 3000])
    with pytest.raises(ReleaseError, match=r"betas_session03\.hdf5"):
        read_masked_betas(path, mask_to_ijk(mask))


def test_missing_file(tmp_path):
    with pytest.raises(ReleaseError, match="missing"):
        read_masked_betas(tmp_path / "nope.hdf5", np.zeros((1, 3), int))
