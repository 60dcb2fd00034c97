"""Tiny hand-written NSD and BOLD5000 release trees, with the truth they were written from.

The files follow DATA_FORMATS.md (names, dtypes, axis orders, 1-based fields) at toy sizes.
The NSD tree is a partial download (session 3 of 4 missing, sessions 1-2 as HDF5, 2 and 4 as
NIfTI); the BOLD5000 release 2.0 files sit in a folder other than our default, as a user's
unpacked download might.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import scipy.io
from PIL import Image

from neurodecode.data import _bold5000_layout as b5k
from neurodecode.data import _nsd_layout as nsd

NSD_GRID = (5, 6, 4)
AFFINE = np.array([[1.8, 0, 0, -10.0], [0, 1.8, 0, 4.0], [0, 0, 1.8, 7.5], [0, 0, 0, 1]])
SUBJ = "subj02"  # subject 2: its own row of subjectim, not row 0


def _save(path: Path, data: np.ndarray, affine=AFFINE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, affine), path)


def write_nsd_tree(root: Path, seed: int = 0) -> dict:
    """4 design sessions x 12 trials, 16 images x 3 (4 shared); sessions 1, 2, 4 on disk."""
    rng = np.random.default_rng(seed)
    per_session, n_design_sessions, n_images, n_shared, pool = 12, 4, 16, 4, 200
    master = np.concatenate([rng.permutation(n_images) + 1 for _ in range(3)])  # 1-based
    ids = rng.choice(np.arange(1, pool + 1), size=(8, n_images), replace=False)
    subjectim = ids.copy()
    shared = rng.choice(np.arange(1, pool + 1), size=n_shared, replace=False)
    subjectim[:, :n_shared] = shared
    design = root / nsd.expdesign_path()
    design.parent.mkdir(parents=True, exist_ok=True)
    fields = {
        "masterordering": master[None, :].astype(np.float64),
        "subjectim": subjectim.astype(np.float64),
        "sharedix": rng.permutation(shared)[None, :].astype(np.float64),
        "stimpattern": np.zeros((n_design_sessions, 1, per_session)),
        "basiccnt": np.zeros((3, n_design_sessions)),
    }
    scipy.io.savemat(design, fields)

    brain = np.zeros(NSD_GRID, dtype=bool)
    brain[1:4, 1:5, 1:3] = True
    _save(root / nsd.brainmask_path(SUBJ), brain.astype(np.float32))
    atlas = np.where(brain, 0, -1).astype(np.float32)
    atlas[1, 1:5, 1] = 1
    atlas[2, 1:4, 1] = 2
    atlas[3, 2:4, 2] = 3
    atlas[2, 2, 2] = -1  # -1 inside the brain mask: outside the cortex, never a member
    hemi = {"lh": np.where(np.arange(NSD_GRID[0])[:, None, None] < 2, atlas, 0),
            "rh": np.where(np.arange(NSD_GRID[0])[:, None, None] >= 2, atlas, 0)}  # fmt: skip
    general = np.where(brain, 0, -1).astype(np.float32)
    general[1:3, 1:5, 1:3] = 1
    for name, vol, table in (
        ("prf-visualrois", atlas, "0 Unknown\n1 V1v\n2 V1d\n3 V2v\n"),
        ("Kastner2015", atlas, "0 Unknown\n1 V2v\n2 TO1\n3 IPS0\n"),  # V2v again: bare name clash
        ("nsdgeneral", general, "0 Unknown\n1 nsdgeneral\n"),
    ):
        _save(root / nsd.roi_path(SUBJ, name), vol)
        ctab = root / nsd.ctab_path(SUBJ, name)
        ctab.parent.mkdir(parents=True, exist_ok=True)
        ctab.write_text(table)
    for h, vol in hemi.items():
        _save(root / nsd.roi_path(SUBJ, "prf-visualrois", hemi=h), vol.astype(np.float32))

    ncsnr = np.where(brain, rng.uniform(0.1, 1.5, NSD_GRID), np.nan).astype(np.float32)
    ncsnr[1, 1, 1] = np.nan  # NaN inside the brain stays NaN
    _save(root / nsd.ncsnr_path(SUBJ), ncsnr)

    psc = rng.normal(0, 3, (*NSD_GRID, n_design_sessions * per_session)).astype(np.float32)
    psc[~brain] = 0
    stored = np.round(psc * nsd.BETA_SCALE).astype(np.int16)
    sessions = {1: ("hdf5",), 2: ("hdf5", "nii.gz"), 4: ("nii.gz",)}
    for s, fmts in sessions.items():
        block = stored[..., (s - 1) * per_session : s * per_session]
        for fmt in fmts:
            path = root / nsd.session_betas_path(SUBJ, s, fmt)
            path.parent.mkdir(parents=True, exist_ok=True)
            if fmt == "nii.gz":
                nib.save(nib.Nifti1Image(block, AFFINE), path)
            else:
                with h5py.File(path, "w") as fh:
                    fh.create_dataset("betas", data=block.transpose(3, 2, 1, 0),
                                      chunks=(per_session, 1, 1, 1))  # fmt: skip

    number = nsd.subject_number(SUBJ)
    t = np.arange(master.size)
    resp = pd.DataFrame({c: 0 for c in nsd.RESPONSES_COLUMNS}, index=t)
    resp["SUBJECT"], resp["SESSION"] = number, t // per_session + 1
    resp["RUN"], resp["TRIAL"] = (t % per_session) // 6 + 1, t % 6 + 1
    resp["73KID"] = subjectim[number - 1, master - 1]
    resp["10KID"] = master
    (root / nsd.responses_path(SUBJ)).parent.mkdir(parents=True, exist_ok=True)
    resp.to_csv(root / nsd.responses_path(SUBJ), sep="\t", index=False)

    brick = np.zeros((pool, 6, 7, 3), dtype=np.uint8)
    brick[:] = (np.arange(pool) % 251)[:, None, None, None]
    brick[..., 1] = np.arange(pool)[:, None, None] // 251
    stim = root / nsd.stimuli_path()
    stim.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(stim, "w") as fh:
        fh.create_dataset(nsd.IMAGE_BRICK_DATASET, data=brick, chunks=(1, 6, 7, 3))
    info = pd.DataFrame({c: 0 for c in nsd.STIM_INFO_COLUMNS}, index=np.arange(pool))
    info["nsdId"] = np.arange(pool)
    info["cocoId"] = 5000 + np.arange(pool)
    info["cocoSplit"] = np.where(np.arange(pool) % 2 == 0, "train2017", "val2017")
    info["cropBox"] = "(0, 0, 0.1, 0.1)"
    info.to_csv(root / nsd.stim_info_path())
    for split in ("train2017", "val2017"):
        ids_ = [5000 + i for i in range(pool) if (i % 2 == 0) == (split == "train2017")]
        anns = [{"id": n, "image_id": i, "caption": f"image {i} caption {c}"}
                for n, (i, c) in enumerate((i, c) for i in ids_ for c in range(2))]  # fmt: skip
        path = root / nsd.captions_path(split)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"images": [{"id": i} for i in ids_], "annotations": anns}))
    return {
        "master": master, "subjectim": subjectim, "number": number, "n_shared": n_shared,
        "per_session": per_session, "sessions": sorted(sessions), "brain": brain,
        "atlas": atlas, "general": general, "hemi": hemi, "ncsnr": ncsnr,
        "stored": stored, "brick": brick,
    }  # fmt: skip


B5_GRID = (4, 5, 3)
CSI = "CSI1"
B5_DOWNLOAD = Path("my_download/glmsingle_betas")  # not our default folder: found by name


def write_bold5000_tree(root: Path, seed: int = 1) -> dict:
    """Release 2.0 (3 sessions of 6, 5, 5 trials) and 1.0 ROI files over one image list."""
    rng = np.random.default_rng(seed)
    singles = [
        "COCO_train2014_000000000123.jpg", "COCO_train2014_000000000456.jpg",
        "n01945685_2329.JPEG", "n02000000_11.JPEG", "concert5.jpg", "airport1.jpg",
        "beach3.jpg", "n03000000_7.JPEG", "COCO_val2014_000000000789.jpg",
    ]  # fmt: skip
    a, b = "COCO_train2014_000000000999.jpg", "kitchen2.jpg"
    names = singles + [a] * 4 + [b] * 3
    order = rng.permutation(len(names))
    names = [names[i] for i in order]
    lengths = (6, 5, 5)
    folder = root / B5_DOWNLOAD / CSI
    folder.mkdir(parents=True)
    (folder / b5k.imgnames_path(CSI).name).write_text("\n".join(names) + "\n")
    brain = np.zeros(B5_GRID, dtype=bool)
    brain[1:3, 1:4, :] = True
    _save(folder / b5k.brainmask_path(CSI).name, brain.astype(np.float32))
    psc = rng.normal(0, 2, (*B5_GRID, len(names))).astype(np.float32)
    start = 0
    for s, n in enumerate(lengths, start=1):
        # The beta files' affine is reportedly wrong: readers take the brain mask's.
        _save(folder / b5k.beta_session_path(CSI, s).name, psc[..., start : start + n], np.eye(4))
        start += n
    # Both hemispheres of each ROI (a bilateral ROI is only built from both), in CSI2/CSI3
    # spellings for two of them (LO, RRSC).
    masks = {
        "LHPPA": (1, slice(1, 3), 0), "RHPPA": (2, 3, 0),
        "LHLO": (1, 3, 1), "RHLO": (2, slice(1, 4), 1),
        "LHRSC": (1, 1, 2), "RHRRSC": (1, 3, 2),
    }  # fmt: skip
    for stem, index in masks.items():
        vol = np.zeros(B5_GRID, dtype=np.float32)
        vol[index] = 1
        hemi, roi = stem[:2], stem[2:]
        _save(root / b5k.roi_mask_path(CSI, hemi, roi), vol)
    # Release 1.0: ten ROI keys over the same trial list, with rep_ on later showings.
    v1_names = [("rep_" + n if names[:i].count(n) else n) for i, n in enumerate(names)]
    (root / b5k.stim_list_path(CSI)).parent.mkdir(parents=True)
    (root / b5k.stim_list_path(CSI)).write_text("\n".join(v1_names) + "\n")
    keys = [h + r for h in b5k.HEMISPHERES for r in b5k.ROI_NAMES]
    roi_data = {k: rng.normal(size=(len(names), 2 + i % 3)) for i, k in enumerate(keys)}
    mat = root / b5k.roi_mat_path(CSI, fmt="mat")
    mat.parent.mkdir(parents=True)
    scipy.io.savemat(mat, roi_data)
    h5 = root / b5k.roi_mat_path(CSI, fmt="h5")
    h5.parent.mkdir(parents=True)
    with h5py.File(h5, "w") as fh:
        for k, v in roi_data.items():
            fh[k] = v
    for i, name in enumerate(sorted(set(names))):
        kind = "COCO" if name.startswith("COCO_") else "Scene"
        src = b5k.stimulus_path("ImageNet" if name.endswith(".JPEG") else kind, name)
        path = root / src
        path.parent.mkdir(parents=True, exist_ok=True)
        size = (8 + i, 10) if i % 2 else (10, 12)
        Image.new("RGB", size, (10 * i, 100, 200)).save(path, format="JPEG", quality=95)
    caps = root / b5k.captions_path("train2014")
    caps.parent.mkdir(parents=True)
    caps.write_text(json.dumps({
        "images": [{"id": 123}, {"id": 456}, {"id": 999}],
        "annotations": [{"id": 1, "image_id": 123, "caption": "a cat"},
                        {"id": 2, "image_id": 999, "caption": "a dog "},
                        {"id": 3, "image_id": 999, "caption": "two dogs"}],
    }))  # fmt: skip
    return {"names": names, "lengths": lengths, "brain": brain, "psc": psc, "masks": masks,
            "roi_data": roi_data, "keys": keys}  # fmt: skip


@pytest.fixture(scope="module")
def nsd_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("nsd")
    return root, write_nsd_tree(root)


@pytest.fixture(scope="module")
def bold5000_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("bold5000")
    return root, write_bold5000_tree(root)


@pytest.fixture
def nsd_copy(nsd_tree, tmp_path):
    """A private copy of the NSD tree that a test may damage."""
    root, truth = nsd_tree
    shutil.copytree(root, tmp_path / "nsd")
    return tmp_path / "nsd", truth


@pytest.fixture
def bold5000_copy(bold5000_tree, tmp_path):
    root, truth = bold5000_tree
    shutil.copytree(root, tmp_path / "b5k")
    return tmp_path / "b5k", truth
