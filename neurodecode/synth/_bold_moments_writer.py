"""Write the video world as a BOLD Moments Dataset tree (OpenNeuro ds005165, versionB MNI152).

Every path and convention comes from :mod:`neurodecode.data._bold_moments_layout`. Per subject,
for each main-experiment session (2, 3, ...): GLMsingle's ``TYPED_FITHRF_GLMDENOISE_RR.npy``
(a saved dict: ``betasmd`` ``(X, Y, Z, trials)`` float32 PSC, and ``R2``), the design record
``sub-XX_ses-NN_conditionOrderDM.pkl`` (``(events_run, conditions)``: 3 test runs then the
training runs, as the release's GLM script builds it) and ``DESIGNINFO.npy``; the prepared
betas (each session z-scored by its training trials' mean and sd, ddof=1, then organised as
``(videos, repeats, voxels)`` float64 with the video names and the group-mask image, as the
release pickles them), the noise-ceiling files ``(ncsnr, NC %)`` computed from those as the
release's notebook does, and the ROI index files. Shared: the group mask (the template brain's
mask), the videos (``stimuli/{train,test}/NNNN.mp4``) and ``annotations.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode.data import _bold_moments_layout as bmd
from neurodecode.synth._brain import label_key
from neurodecode.synth._files import (
    Progress,
    column_volume,
    report,
    save_nifti,
    save_npy,
    save_pickle,
    save_text,
    save_video,
)

__all__ = ["bold_moments_design", "noise_ceiling", "write_bold_moments"]

_DESIGN = 43
_TRIAL_SECONDS = 4.0  # onset spacing of the written runs (the release's are ~4 s apart)


def bold_moments_design(
    train_ids: np.ndarray, test_ids: np.ndarray, train_repeats: int, test_repeats: int,
    n_sessions: int, seed: int, key: int,
) -> list[list[np.ndarray]]:  # fmt: skip
    """Per session, its runs' stimulus ids: 3 test runs, then 10 training runs.

    Every training clip is shown ``train_repeats`` times and every test clip ``test_repeats``
    times over all sessions, in a per-subject random order cut into near-equal sessions.
    """
    rng = np.random.default_rng([seed, _DESIGN, key])
    train = rng.permutation(np.repeat(np.asarray(train_ids, dtype=np.int64), train_repeats))
    test = rng.permutation(np.repeat(np.asarray(test_ids, dtype=np.int64), test_repeats))
    sessions = []
    for tr, te in zip(np.array_split(train, n_sessions), np.array_split(test, n_sessions),
                      strict=True):  # fmt: skip
        runs = np.array_split(te, bmd.TEST_RUNS_PER_SESSION)
        runs += np.array_split(tr, bmd.TRAIN_RUNS_PER_SESSION)
        sessions.append([r for r in runs if r.size])
    return sessions


def noise_ceiling(betas: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """ncsnr and noise ceiling (%) from organised betas ``(videos, repeats, voxels)``.

    The release's definition (its noise-ceiling notebook, after GLMsingle's example): the
    noise sd is the root mean over videos of the across-repeat variance (ddof=1); the signal
    variance is the total variance of all single trials minus the noise variance, rectified;
    ncsnr = signal sd / noise sd; NC = 100 ncsnr^2 / (ncsnr^2 + 1/n).
    """
    noise_sd = np.sqrt(np.nanmean(np.nanvar(betas, axis=1, ddof=1), axis=0))
    total = np.nanvar(betas.reshape(-1, betas.shape[-1]), axis=0)
    signal = np.maximum(total - noise_sd**2, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ncsnr = np.sqrt(signal) / noise_sd
    return ncsnr, 100.0 * ncsnr**2 / (ncsnr**2 + 1.0 / n)


def _write_stimuli(world: Any, root: Path, ids: np.ndarray, progress: Progress) -> None:
    clips = world.stimuli
    fps = clips.n_frames / bmd.VIDEO_SECONDS
    annotations: dict[str, Any] = {}
    for start in range(0, ids.size, 32):
        chunk = ids[start : start + 32]
        frames = clips.frames(chunk)
        clips.truth_features(chunk)  # rendered once: the brains' responses reuse them
        for stim, clip in zip(chunk.tolist(), frames, strict=True):
            number = bmd.video_number(stim)
            save_video(root / bmd.stimulus_path(number), clip, fps)
            attrs = clips.attributes(stim)
            annotations[f"{number:04d}"] = {
                "bmd_matrixfilename": f"vid_idx{number:04d}",
                "set": bmd.task_of(number),
                "objects": [o["shape"] for o in attrs["objects"]],
                "scenes": [attrs["background"]["kind"]],
                "actions": [attrs["motion"]["kind"]],
                "text_descriptions": clips.captions(stim),
            }
        report(progress, f"stimuli: {min(start + 32, ids.size)}/{ids.size} videos")
    import json

    save_text(root / bmd.annotations_path(), json.dumps(annotations, indent=1) + "\n")


def _mask_image(brain: Any) -> Any:
    import nibabel as nib

    return nib.Nifti1Image(brain.brainmask.astype(np.uint8), brain.affine)


def _write_rois(root: Path, label: str, brain: Any, mask_image: Any) -> None:
    ijk = brain.voxel_ijk.astype(np.int64)  # the group mask's voxels in C order
    regions = {bmd.GENERAL_ROI: brain._visual}
    names = sorted({r for r in brain.roi.tolist() if r})
    for roi in names:
        member = brain.roi == roi
        regions[f"l{roi}"] = member & brain.left_hemisphere[brain.brainmask]
        regions[f"r{roi}"] = member & ~brain.left_hemisphere[brain.brainmask]
    for name, member in regions.items():
        positions = np.flatnonzero(member).astype(np.int64)
        hemi, roi = (None, name) if name == bmd.GENERAL_ROI else (name[0], name[1:])
        save_pickle(root / bmd.roi_path(label, roi, hemi), (ijk[positions], positions[:, None],
                                                            mask_image))  # fmt: skip


def _write_session(root: Path, label: str, session: int, runs: list[np.ndarray], brain: Any,
                   betas: np.ndarray) -> None:  # fmt: skip
    conditions: list[str] = []
    events_run: list[dict[str, list[Any]]] = []
    for run in runs:
        kinds = [bmd.condition_name(bmd.video_number(s)) for s in run.tolist()]
        conditions += [k for k in kinds if k not in conditions]
        onsets = [round(_TRIAL_SECONDS * (k + 1), 3) for k in range(len(kinds))]
        events_run.append({"trial_type": kinds, "onset": onsets})
    save_pickle(root / bmd.condition_order_path(label, session), (events_run, conditions))
    order = np.array([conditions.index(k) for ev in events_run for k in ev["trial_type"]])
    save_npy(root / bmd.design_path(label, session), {
        "stimorder": order, "numtrialrun": np.array([len(r) for r in runs]),
        "stimdur": bmd.VIDEO_SECONDS, "tr": 1.0,
    })  # fmt: skip
    volume = column_volume(brain.brainmask, betas.T, 0.0, np.float32)
    r2 = column_volume(brain.brainmask, brain.noise_ceiling(1), 0.0, np.float32)
    save_npy(root / bmd.session_betas_path(label, session), {bmd.BETA_KEY: volume, "R2": r2})


def _write_prepared(root: Path, label: str, sessions: list[tuple[np.ndarray, np.ndarray]],
                    world: Any, mask_image: Any) -> None:  # fmt: skip
    parts: dict[str, dict[int, list[np.ndarray]]] = {"train": {}, "test": {}}
    for stim, psc in sessions:
        tasks = np.array([bmd.task_of(bmd.video_number(s)) for s in stim.tolist()])
        train = psc[tasks == "train"].astype(np.float64)
        mean, sd = train.mean(axis=0), train.std(axis=0, ddof=1)
        sd[~(sd > 0)] = 1.0
        z = (psc - mean) / sd
        for row, s in enumerate(stim.tolist()):
            parts[str(tasks[row])].setdefault(s, []).append(z[row])
    for task, ids, repeats in (
        ("train", world.train_ids, world.config.train_repeats),
        ("test", world.test_ids, world.config.test_repeats),
    ):
        betas = np.full((ids.size, repeats, world.brain(label).n_voxels), np.nan)
        for k, s in enumerate(ids.tolist()):
            for r, values in enumerate(parts[task].get(s, [])):
                betas[k, r] = values
        names = [bmd.condition_name(bmd.video_number(s)) for s in ids.tolist()]
        save_pickle(root / bmd.prepared_betas_path(label, task), (betas, names, mask_image))
        for n in bmd.NOISE_CEILING_N[task]:
            save_pickle(root / bmd.noise_ceiling_path(label, task, n), noise_ceiling(betas, n))


def write_bold_moments(
    world: Any, root: str | Path, subjects: Sequence[str] | None = None,
    progress: Progress = None,
) -> dict[str, Any]:  # fmt: skip
    """Write the video world as a BOLD Moments tree under ``root``; returns the design record.

    Parameters
    ----------
    world : VideoWorld
    root : path
        Dataset root (created).
    subjects : sequence of str, optional
        BIDS labels (default the world's subjects).
    progress : callable, optional
        Called with a message after each file group.
    """
    root = Path(root)
    subjects = tuple(subjects) if subjects is not None else world.subjects
    for label in subjects:
        bmd._check_subject(label)
    cfg = world.config
    shown = world.subject_ids(subjects[0])
    _write_stimuli(world, root, shown, progress)
    first = world.brain(subjects[0])
    save_nifti(root / bmd.group_mask_path(), first.brainmask.astype(np.uint8), first.affine)
    mask_image = _mask_image(first)
    sessions_of = [s for s in range(2, 2 + cfg.n_sessions)]
    record: dict[str, Any] = {"sessions": sessions_of}
    for label in subjects:
        brain = world.brain(label)
        design = bold_moments_design(world.train_ids, world.test_ids, cfg.train_repeats,
                                     cfg.test_repeats, cfg.n_sessions, cfg.seed,
                                     label_key(label))  # fmt: skip
        written = []
        for session, runs in zip(sessions_of, design, strict=True):
            stim = np.concatenate(runs)
            psc = brain.simulate_betas(stim, np.full(stim.size, session))
            _write_session(root, label, session, runs, brain, psc)
            written.append((stim, psc))
            report(progress, f"sub-{label} ses-{session:02d}: {stim.size} trials")
        _write_prepared(root, label, written, world, mask_image)
        _write_rois(root, label, brain, mask_image)
        record[label] = {"trials_per_session": [int(sum(r.size for r in s)) for s in design]}
    return record
