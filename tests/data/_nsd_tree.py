"""A tiny NSD-layout release written with h5py/nibabel/scipy, for the data tests."""

from __future__ import annotations

from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import scipy.io

from neurodecode.data import _nsd_layout as nsd

GRID = (7, 6, 5)
AFFINE = np.diag([1.8, 1.8, 1.8, 1.0])


def write_betas(path: Path, data_xyzt: np.ndarray, fmt: str, chunks="voxel") -> None:
    """Session betas in the release's layout: NIfTI (X,Y,Z,T) or HDF5 /betas (T,Z,Y,X)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "nii.gz":
        nib.save(nib.Nifti1Image(data_xyzt, AFFINE), path)
        return
    t = data_xyzt.shape[3]
    arr = np.ascontiguousarray(data_xyzt.transpose(3, 2, 1, 0))
    with h5py.File(path, "w") as fh:
        if chunks is None:
            fh.create_dataset("betas", data=arr)
        else:
            shape = (t, 1, 1, 1) if chunks == "voxel" else chunks
            fh.create_dataset("betas", data=arr, chunks=shape)


def write_stimuli(root: Path, n: int, side: int = 8, seed: int = 0) -> None:
    """The stimulus table (nsdId, cocoId, cocoSplit) and an ``imgBrick`` of ``n`` images."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    info = root / nsd.stim_info_path()
    info.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"nsdId": np.arange(n), "cocoId": 1000 + np.arange(n),
                  "cocoSplit": ["train2017"] * n}).to_csv(info, index=True)  # fmt: skip
    brick = root / nsd.stimuli_path()
    brick.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(brick, "w") as fh:
        fh[nsd.IMAGE_BRICK_DATASET] = rng.integers(0, 256, (n, side, side, 3), dtype=np.uint8)


def write_tree(
    root: Path, subject: str = "subj01", sessions: int = 3, per_session: int = 12, seed: int = 0
) -> dict:
    """Write expdesign, the stimulus table and brick, brain mask, nsdgeneral (+ctab), ncsnr and
    session betas (both formats)."""
    rng = np.random.default_rng(seed)
    n_images = sessions * per_session // 3
    n_shared = max(1, n_images // 4)
    master = np.concatenate([rng.permutation(n_images) + 1 for _ in range(3)])
    subjectim = np.tile(np.arange(1, n_images + 1) * 7, (8, 1))
    expdesign = root / nsd.expdesign_path()
    expdesign.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(
        expdesign,
        {
            "masterordering": master[None, :],
            "subjectim": subjectim,
            "sharedix": np.arange(1, n_shared + 1) * 7,
        },
    )
    write_stimuli(root, int(subjectim.max()))
    brain = np.zeros(GRID, dtype=bool)
    brain[1:6, 1:5, 1:4] = True
    general = np.where(brain, 0, -1).astype(np.float32)
    general[2:5, 1:4, 1:3] = 1
    for rel, vol in (
        (nsd.brainmask_path(subject), brain.astype(np.float32)),
        (nsd.roi_path(subject, "nsdgeneral"), general),
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(vol, AFFINE), root / rel)
    ctab = root / nsd.ctab_path(subject, "nsdgeneral")
    ctab.parent.mkdir(parents=True, exist_ok=True)
    ctab.write_text("0 Unknown\n1 nsdgeneral\n")
    ncsnr = np.where(brain, rng.uniform(0.1, 1, GRID), np.nan).astype(np.float32)
    (root / nsd.betas_dir(subject)).mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(ncsnr, AFFINE), root / nsd.ncsnr_path(subject))
    betas = []
    for s in range(1, sessions + 1):
        data = rng.integers(-900, 900, (*GRID, per_session)).astype(np.int16)
        data[~brain] = 0
        data[3, 2, 1] = 17  # a constant voxel inside nsdgeneral
        betas.append(data)
        for fmt in ("hdf5", "nii.gz"):
            write_betas(root / nsd.session_betas_path(subject, s, fmt), data, fmt)
    return {
        "master": master,
        "shared": n_shared,
        "brain": brain,
        "general": general > 0,
        "betas": betas,
        "per_session": per_session,
    }
