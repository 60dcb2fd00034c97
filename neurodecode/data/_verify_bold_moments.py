"""Verification of a BOLD Moments download (versionB MNI152 derivatives and the videos).

Every pickle is opened through the restricted unpickler, so a file that names anything but
release data is reported (never run). Per subject: each main-experiment session's GLMsingle
betas (``betasmd`` on the group mask's grid, one trial per entry of the session's design
record), the prepared betas (``(videos, repeats, voxels)`` over the group mask's voxels, one
name per video), the noise-ceiling files and the ROI index files (positions inside the group
mask, agreeing with their voxel indices). Then every video the designs name, where a
``stimuli/`` folder exists. Session files are read whole (GLMsingle saves them as one pickle):
about 1 GB each in the real release.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode.data import _bold_moments_layout as bmd
from neurodecode.data._errors import ReleaseError
from neurodecode.data._verify import Problem, manifest_problems

__all__ = ["verify_bold_moments"]


def _problem(exc: ReleaseError) -> Problem:
    return Problem(exc.path, exc.problem, exc.expected or "a readable release file")


def _check_session(sub: Any, session: int, path: Path) -> None:
    from neurodecode.data._bold_moments import read_session_betas

    n_trials = int(np.sum(sub._blocks == session))
    shape = read_session_betas(path).shape
    if not (shape[:3] == sub._grid or shape[0] == len(sub._mask_ijk)) or shape[-1] != n_trials:
        raise ReleaseError(path, f"{bmd.BETA_KEY} has shape {shape}", f"(*{sub._grid}, {n_trials})")


def _check_prepared(path: Path, n_mask: int) -> None:
    from neurodecode.data._pickles import load_pickle

    data = load_pickle(path)
    betas, names = np.asarray(data[0]), list(data[1])
    if betas.ndim != 3 or betas.shape[2] != n_mask or betas.shape[0] != len(names):
        raise ReleaseError(path, f"betas {betas.shape} for {len(names)} videos",
                           f"(videos, repeats, {n_mask})")  # fmt: skip


def _check_noise_ceiling(path: Path, n_mask: int) -> None:
    from neurodecode.data._pickles import load_pickle

    values = np.asarray(load_pickle(path)[1]).ravel()
    if values.size != n_mask:
        raise ReleaseError(path, f"{values.size} values", f"{n_mask} (the group mask's voxels)")


def _check_subject(root: Path, label: str, sessions: list[int] | None) -> tuple[list, set]:
    from neurodecode.data._bold_moments import BoldMomentsSubject

    problems: list[Problem] = []
    try:
        sub = BoldMomentsSubject(root, label, sessions=sessions)
    except ReleaseError as exc:
        return [_problem(exc)], set()
    n_mask = len(sub._mask_ijk)
    checks: list[tuple[Any, tuple]] = [(_check_session, (sub, s, p)) for s, p in sub._files.items()]
    for task in bmd.TASKS:
        checks.append((_check_prepared, (root / bmd.prepared_betas_path(label, task), n_mask)))
        for n in bmd.NOISE_CEILING_N[task]:
            checks.append((_check_noise_ceiling, (root / bmd.noise_ceiling_path(label, task, n),
                                                  n_mask)))  # fmt: skip
    for check, args in checks:
        if check is not _check_session and not args[0].is_file():
            continue  # prepared files are optional for the reader
        try:
            check(*args)
        except ReleaseError as exc:
            problems.append(_problem(exc))
    try:
        sub._roi_positions()
    except ReleaseError as exc:
        problems.append(_problem(exc))
    return problems, set((sub.trials["stim_id"].to_numpy() + 1).tolist())


def verify_bold_moments(
    root: str | os.PathLike[str],
    subjects: list[str] | None = None,
    sessions: list[int] | None = None,
    manifest: Path | None = None,
) -> list[Problem]:
    """Problems of a BOLD Moments tree; an empty list means every checked file is sound.

    ``subjects`` default: those with a GLM folder under ``root``; ``sessions`` default: the
    main-experiment sessions present (2..5); ``manifest``: a manifest JSON to check sizes and
    checksums against (the packaged one records none, so only a user's is checked).
    """
    root = Path(root)
    mask_path = root / bmd.group_mask_path()
    if not mask_path.is_file():
        return [Problem(str(mask_path), "file is missing", "the group mask (MNI152)")]
    if subjects is None:
        subjects = [s for s in bmd.SUBJECTS if (root / bmd.subject_dir(s)).is_dir()]
        if not subjects:
            return [Problem(str(root / bmd.glm_dir()), "no subject folder", "sub-01..sub-10")]
    problems: list[Problem] = []
    videos: set[int] = set()
    for label in subjects:
        found, shown = _check_subject(root, label, sessions)
        problems += found
        videos |= shown
        if manifest is not None:
            problems += manifest_problems(root, "boldmoments", label, manifest)
    if (root / "stimuli").is_dir():
        for number in sorted(videos):
            path = root / bmd.stimulus_path(number)
            if not path.is_file() or path.stat().st_size == 0:
                problems.append(Problem(str(path), "video is missing", f"video {number:04d}"))
    return problems
