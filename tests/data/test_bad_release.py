"""Damaged or incomplete releases raise ReleaseError naming the file, never a library error."""

from __future__ import annotations

import gzip

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.io

from neurodecode.data import ReleaseError, load_subject
from neurodecode.data import _bold5000_layout as b5k
from neurodecode.data import _nsd_layout as nsd

from .conftest import B5_DOWNLOAD, CSI, SUBJ


def _raises_for(path, call):
    with pytest.raises(ReleaseError) as err:
        call()
    assert err.value.path == str(path), str(err.value)
    assert str(path) in str(err.value)
    return err.value


def test_missing_session_file(nsd_copy):
    root, _ = nsd_copy
    path = root / nsd.session_betas_path(SUBJ, 3, "hdf5")
    _raises_for(path, lambda: load_subject("nsd", SUBJ, root=root, sessions=(3,)))
    folder = root / nsd.betas_dir(SUBJ)
    for f in folder.glob("betas_session*"):
        f.unlink()
    _raises_for(folder, lambda: load_subject("nsd", SUBJ, root=root))


def test_truncated_gzip_session(nsd_copy):
    root, _ = nsd_copy
    path = root / nsd.session_betas_path(SUBJ, 4, "nii.gz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    sub = load_subject("nsd", SUBJ, root=root)  # the header is intact: opening works
    rows = np.flatnonzero(sub.trials["session"].to_numpy() == 4)
    err = _raises_for(path, lambda: sub.read_betas(rows))
    assert "truncated" in err.problem or "corrupt" in err.problem


def test_corrupt_gzip_header(nsd_copy):
    root, _ = nsd_copy
    path = root / nsd.session_betas_path(SUBJ, 4, "nii.gz")
    path.write_bytes(gzip.compress(b"not a nifti header at all"))
    _raises_for(path, lambda: load_subject("nsd", SUBJ, root=root))


def test_hdf5_with_the_wrong_shape(nsd_copy):
    root, _ = nsd_copy
    path = root / nsd.session_betas_path(SUBJ, 1, "hdf5")
    with h5py.File(path, "w") as fh:
        fh["betas"] = np.zeros((12, 4, 6, 4), dtype=np.int16)  # one Z-plane short
    err = _raises_for(path, lambda: load_subject("nsd", SUBJ, root=root))
    assert "grid" in err.problem
    with h5py.File(path, "w") as fh:
        fh["betas"] = np.zeros((12, 24), dtype=np.int16)
    _raises_for(path, lambda: load_subject("nsd", SUBJ, root=root))
    path.write_bytes(b"\x00" * 64)  # not HDF5 at all
    _raises_for(path, lambda: load_subject("nsd", SUBJ, root=root))


def test_expdesign_without_a_field(nsd_copy):
    root, _ = nsd_copy
    path = root / nsd.expdesign_path()
    design = scipy.io.loadmat(path)
    del design["sharedix"]
    scipy.io.savemat(path, {k: v for k, v in design.items() if not k.startswith("__")})
    err = _raises_for(path, lambda: load_subject("nsd", SUBJ, root=root))
    assert "sharedix" in err.problem


def test_responses_disagreeing_with_the_design(nsd_copy):
    root, _ = nsd_copy
    path = root / nsd.responses_path(SUBJ)
    table = pd.read_csv(path, sep="\t")
    table.loc[15, "73KID"] += 1  # session 2, trial 3
    table.to_csv(path, sep="\t", index=False)
    err = _raises_for(path, lambda: load_subject("nsd", SUBJ, root=root))
    assert "session 2 trial 3" in err.problem


def test_csv_with_a_missing_column(nsd_copy):
    root, _ = nsd_copy
    path = root / nsd.stim_info_path()
    table = pd.read_csv(path, index_col=0).drop(columns="cocoSplit")
    table.to_csv(path)
    sub = load_subject("nsd", SUBJ, root=root)
    assert sub.stimuli.images([1]).shape[0] == 1  # images do not need the CSV
    err = _raises_for(path, lambda: sub.stimuli.captions([1]))
    assert "cocoSplit" in err.problem


def test_missing_caption_file_only_matters_for_captions(nsd_copy):
    root, _ = nsd_copy
    path = root / nsd.captions_path("val2017")
    path.unlink()
    sub = load_subject("nsd", SUBJ, root=root)
    assert sub.stimuli.captions([2])[0]  # train2017 still there
    _raises_for(path, lambda: sub.stimuli.captions([3]))


def test_ctab_missing(nsd_copy):
    root, _ = nsd_copy
    path = root / nsd.ctab_path(SUBJ, "prf-visualrois")
    path.unlink()
    sub = load_subject("nsd", SUBJ, root=root)  # ROIs are read on first use
    _raises_for(path, lambda: sub.rois)
    assert "nsdgeneral" in load_subject("nsd", SUBJ, root=root, atlases=("nsdgeneral",)).rois


def test_roi_volume_on_another_grid(nsd_copy):
    root, _ = nsd_copy
    import nibabel as nib

    path = root / nsd.roi_path(SUBJ, "nsdgeneral")
    nib.save(nib.Nifti1Image(np.zeros((3, 3, 3), np.float32), np.eye(4)), path)
    sub = load_subject("nsd", SUBJ, root=root)
    _raises_for(path, lambda: sub.rois)


def test_bold5000_mat_without_a_key(bold5000_copy):
    root, _ = bold5000_copy
    path = root / b5k.roi_mat_path(CSI)
    data = scipy.io.loadmat(path)
    scipy.io.savemat(path, {k: v for k, v in data.items() if k != "RHRSC" and k[:2] != "__"})
    err = _raises_for(path, lambda: load_subject("bold5000", CSI, root=root, release="roi"))
    assert "RHRSC" in err.problem
    h5 = root / b5k.roi_mat_path(CSI, fmt="h5")
    with h5py.File(h5, "a") as fh:
        del fh["LHOPA"]
    _raises_for(h5, lambda: load_subject("bold5000", CSI, root=root, release="roi", fmt="h5"))


def test_bold5000_imgnames_shorter_than_the_sessions(bold5000_copy):
    root, truth = bold5000_copy
    path = root / B5_DOWNLOAD / CSI / b5k.imgnames_path(CSI).name
    path.write_text("\n".join(truth["names"][:-2]) + "\n")
    _raises_for(path, lambda: load_subject("bold5000", CSI, root=root))


def test_bold5000_stim_list_rows_disagree(bold5000_copy):
    root, _ = bold5000_copy
    path = root / b5k.roi_mat_path(CSI)
    data = scipy.io.loadmat(path)
    data["LHPPA"] = data["LHPPA"][:-1]
    scipy.io.savemat(path, {k: v for k, v in data.items() if k[:2] != "__"})
    err = _raises_for(path, lambda: load_subject("bold5000", CSI, root=root, release="roi"))
    assert "LHPPA" in err.problem
