"""Write a synthetic world as an NSD release tree (DATA_FORMATS.md, parts A and E).

Every path, dtype, axis order and index base comes from :mod:`neurodecode.data._nsd_layout`,
the module the readers use. The files are what the real release holds: the experiment design
(``nsd_expdesign.mat``, 1-based), the stimulus table, ``responses.tsv``, the ``imgBrick``
stimulus HDF5, COCO caption JSONs, and per subject the brain mask, ROI atlases with label
tables, ``ncsnr`` and int16 (x300) session betas as NIfTI ``(X, Y, Z, T)`` and HDF5
``/betas`` ``(T, Z, Y, X)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode._io import atomic_output_path, atomic_write
from neurodecode.data import _nsd_layout as nsd
from neurodecode.synth._design import NsdDesign, nsd_design
from neurodecode.synth._files import (
    Progress,
    column_volume,
    report,
    save_nifti,
    save_text,
    write_coco_captions,
)
from neurodecode.synth._world import World

__all__ = ["NSD_FORMATS", "write_nsd"]

NSD_FORMATS: tuple[nsd.BetaFormat, ...] = ("hdf5", "nii.gz")
_N_SUBJECT_ROWS = len(nsd.SUBJECTS)
_RUNS_PER_SESSION = 12
_BRICK_BATCH = 256


def _coco_split(stim_id: int, shared: set[int]) -> str:
    # Every shared image is from train2017 (A5); one in ten of the others from val2017.
    return "train2017" if stim_id in shared or stim_id % 10 else "val2017"


def _subject_rows(world: World) -> np.ndarray:
    """``subjectim`` (8, n_per_subject), 1-based: each row the shared ids first, then its own."""
    rows = [world.subject_ids(label) + 1 for label in nsd.SUBJECTS[:_N_SUBJECT_ROWS]]
    return np.stack(rows).astype(np.int64)


def _write_design(world: World, root: Path, design: NsdDesign, subjectim: np.ndarray) -> None:
    import scipy.io

    per, n_sessions = design.trials_per_session, design.n_sessions
    first = np.zeros(design.n_trials, dtype=bool)
    first[design.presentation_trials(world.config.repeats)[:, 0]] = True
    repeat_no = np.zeros(design.n_trials, dtype=np.int64)
    for m, trials in enumerate(design.presentation_trials(world.config.repeats).T):
        repeat_no[trials] = m
    basiccnt = np.stack(
        [np.bincount(design.sessions[repeat_no == m], minlength=n_sessions) for m in range(3)]
    ).astype(np.float64)
    runs = np.array_split(np.arange(per), _RUNS_PER_SESSION)
    slots = max(len(r) for r in runs)
    stimpattern = np.zeros((n_sessions, _RUNS_PER_SESSION, slots), dtype=np.float64)
    for r, trials in enumerate(runs):
        stimpattern[:, r, : len(trials)] = 1.0
    fields = {
        # All index fields 1-based, stored as doubles like MATLAB writes them.
        "masterordering": (design.masterordering + 1)[None, :].astype(np.float64),
        "subjectim": subjectim.astype(np.float64),
        "sharedix": (world.shared_ids + 1)[None, :].astype(np.float64),
        "stimpattern": stimpattern,
        "basiccnt": basiccnt,
    }
    with atomic_output_path(root / nsd.expdesign_path()) as tmp:
        scipy.io.savemat(tmp, fields, do_compression=True)


def _write_stim_info(world: World, root: Path, design: NsdDesign, subjectim: np.ndarray) -> None:
    import pandas as pd

    n, shared = world.n_stimuli, set(world.shared_ids.tolist())
    ids = np.arange(n)
    table = pd.DataFrame(
        {
            "cocoId": ids + 1,
            "cocoSplit": [_coco_split(i, shared) for i in range(n)],
            "cropBox": "(0, 0, 0, 0)",
            "loss": 0.0,
            "nsdId": ids,
            "flagged": False,
            "BOLD5000": False,
            "shared1000": np.isin(ids, world.shared_ids),
        }
    )
    trials = design.presentation_trials(world.config.repeats)  # (n_per_subject, repeats)
    for s in range(1, _N_SUBJECT_ROWS + 1):
        nsd_ids = subjectim[s - 1] - 1
        table[f"subject{s}"] = np.isin(ids, nsd_ids)
        for r in range(3):
            col = np.zeros(n, dtype=np.int64)  # 0 = not shown; else 1-based global trial
            if r < trials.shape[1]:
                col[nsd_ids] = trials[:, r] + 1
            table[f"subject{s}_rep{r}"] = col
    path = root / nsd.stim_info_path()
    with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
        table[list(nsd.STIM_INFO_COLUMNS)].to_csv(fh)  # index column first, = nsdId


def _write_stimuli(world: World, root: Path, progress: Progress) -> None:
    import h5py

    n, size = world.n_stimuli, world.config.image_size
    with atomic_output_path(root / nsd.stimuli_path()) as tmp, h5py.File(tmp, "w") as fh:
        brick = fh.create_dataset(
            nsd.IMAGE_BRICK_DATASET, shape=(n, size, size, 3), dtype=np.uint8,
            chunks=(1, size, size, 3),
        )  # fmt: skip
        for start in range(0, n, _BRICK_BATCH):
            ids = np.arange(start, min(n, start + _BRICK_BATCH))
            brick[start : start + ids.size] = world.stimuli.images(ids)
    report(progress, f"{nsd.stimuli_path()}: {n} images of {size}x{size}")
    shared = set(world.shared_ids.tolist())
    for split in ("train2017", "val2017"):
        ids_ = [i for i in range(n) if _coco_split(i, shared) == split]
        write_coco_captions(
            root / nsd.captions_path(split),
            [i + 1 for i in ids_],
            [f"{i + 1:012d}.jpg" for i in ids_],
            [world.stimuli.captions(i) for i in ids_],
            size,
        )


def _write_responses(root: Path, label: str, design: NsdDesign, subject_row: np.ndarray) -> None:
    import pandas as pd

    per = design.trials_per_session
    t = np.arange(design.n_trials)
    in_session = t % per
    run_of_slot = np.concatenate(
        [
            np.full(len(r), k + 1)
            for k, r in enumerate(np.array_split(np.arange(per), _RUNS_PER_SESSION))
        ]
    )
    first_of_run = np.r_[0, np.cumsum(np.bincount(run_of_slot)[1:])[:-1]]
    k10 = design.masterordering + 1
    seen = np.zeros(t.size, dtype=bool)
    order = np.argsort(design.masterordering, kind="stable")
    is_first = np.r_[True, design.masterordering[order][1:] != design.masterordering[order][:-1]]
    seen[order] = ~is_first
    table = pd.DataFrame({c: 0 for c in nsd.RESPONSES_COLUMNS}, index=t)
    table["SUBJECT"] = nsd.subject_number(label)
    table["SESSION"] = t // per + 1
    table["RUN"] = run_of_slot[in_session]
    table["TRIAL"] = in_session - first_of_run[run_of_slot[in_session] - 1] + 1
    table["73KID"] = subject_row[design.masterordering]
    table["10KID"] = k10
    table["TIME"] = 737000.0 + table["SESSION"] + in_session * 4.0 / 86400.0
    table["ISOLD"] = seen.astype(int)
    table["ISCORRECT"] = 1
    table["RT"] = 800.0
    path = root / nsd.responses_path(label)
    with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
        table.to_csv(fh, sep="\t", index=False)


def _write_rois(root: Path, label: str, brain: Any) -> None:
    for atlas, (labels, vol) in brain.atlases.items():
        save_nifti(root / nsd.roi_path(label, atlas), vol, brain.affine)
        for hemi, side in (("lh", brain.left_hemisphere), ("rh", ~brain.left_hemisphere)):
            half = np.where(side | (vol < 0), vol, 0).astype(np.int16)
            save_nifti(root / nsd.roi_path(label, atlas, hemi=hemi), half, brain.affine)
        table = "".join(f"{k} {name}\n" for k, name in enumerate(("Unknown", *labels)))
        save_text(root / nsd.ctab_path(label, atlas), table)


def _write_session(path: Path, fmt: str, volume: np.ndarray, affine: np.ndarray) -> None:
    if fmt == "nii.gz":
        save_nifti(path, volume, affine)
        return
    import h5py

    data = np.ascontiguousarray(volume.transpose(3, 2, 1, 0))  # (T, Z, Y, X)
    with atomic_output_path(path) as tmp, h5py.File(tmp, "w") as fh:
        fh.create_dataset(
            nsd.HDF5_BETAS_DATASET, data=data, chunks=(data.shape[0], 1, 1, data.shape[3])
        )


def _write_subject(
    world: World, root: Path, label: str, design: NsdDesign, subject_row: np.ndarray,
    formats: Sequence[str], progress: Progress,
) -> None:  # fmt: skip
    brain = world.brain(label)
    mask = brain.brainmask
    save_nifti(root / nsd.brainmask_path(label), mask.astype(np.int16), brain.affine)
    _write_rois(root, label, brain)
    ncsnr = column_volume(mask, brain.ncsnr, np.nan, np.float32)
    save_nifti(root / nsd.ncsnr_path(label), ncsnr, brain.affine)
    _write_responses(root, label, design, subject_row)
    stim = subject_row[design.masterordering] - 1  # nsdId of every trial
    per = design.trials_per_session
    limit = np.iinfo(np.int16).max
    for s in range(design.n_sessions):
        rows = slice(s * per, (s + 1) * per)
        psc = brain.simulate_betas(stim[rows], np.full(per, s))
        stored = np.clip(np.round(psc * nsd.BETA_SCALE), -limit, limit).astype(np.int16)
        volume = column_volume(mask, stored.T, 0, np.int16)  # zeros outside the brain mask
        for fmt in formats:
            path = root / nsd.session_betas_path(label, s + 1, fmt)  # type: ignore[arg-type]
            _write_session(path, fmt, volume, brain.affine)
        report(progress, f"{label} session {s + 1}/{design.n_sessions}: {per} trials")


def write_nsd(
    world: World,
    root: str | Path,
    subjects: Sequence[str] | None = None,
    formats: Sequence[str] = NSD_FORMATS,
    trials_per_session: int | None = None,
    progress: Progress = None,
) -> NsdDesign:
    """Write ``world`` as an NSD release under ``root``.

    Parameters
    ----------
    world : World
        The synthetic world; its ``n_stimuli`` images make the 73k-analogue pool.
    root : path
        Release root (created). Files are written atomically; existing ones are replaced.
    subjects : sequence of str, optional
        NSD labels (``subj01``..``subj08``) whose brains are written; default the world's.
    formats : sequence of str
        Session beta formats, any of ``'hdf5'`` and ``'nii.gz'``.
    trials_per_session : int, optional
        Must divide ``n_per_subject * repeats``; the default gives >= 3 equal sessions of at
        most NSD's 750 trials.
    progress : callable, optional
        Called with a message after each file group.

    Returns
    -------
    NsdDesign
        The design written (shared by all subjects, as NSD's ``masterordering`` is).
    """
    root = Path(root)
    subjects = tuple(subjects) if subjects is not None else world.subjects
    for label in subjects:
        if label not in nsd.SUBJECTS:
            raise ValueError(f"not an NSD subject label: {label!r} (one of {nsd.SUBJECTS})")
    bad = [f for f in formats if f not in NSD_FORMATS]
    if bad or not formats:
        raise ValueError(f"beta formats must be among {NSD_FORMATS}, got {list(formats)}")
    cfg = world.config
    design = nsd_design(cfg.n_per_subject, cfg.repeats, cfg.seed, trials_per_session)
    subjectim = _subject_rows(world)
    _write_design(world, root, design, subjectim)
    _write_stim_info(world, root, design, subjectim)
    _write_stimuli(world, root, progress)
    for label in subjects:
        row = subjectim[nsd.subject_number(label) - 1]
        _write_subject(world, root, label, design, row, formats, progress)
    return design
