"""Verification of a BOLD5000 download (release 2.0 betas and/or release 1.0 ROI data)."""

from __future__ import annotations

import os
from pathlib import Path

from neurodecode.data import _bold5000_layout as b5k
from neurodecode.data._verify import Problem, _nifti_problem

__all__ = ["verify_bold5000"]

_REAL_GRIDS = {
    "CSI1": (71, 89, 72),
    "CSI2": (72, 92, 70),
    "CSI3": (72, 88, 67),
    "CSI4": (70, 89, 70),
}


def _find(root: Path, relative: Path) -> Path | None:
    """The file at its default place, else anywhere under root by name (folders unverified)."""
    path = root / relative
    if path.is_file():
        return path
    return next(iter(sorted(root.rglob(relative.name))), None)


def verify_bold5000(
    root: str | os.PathLike[str],
    subjects: list[str] | None = None,
    sessions: list[int] | None = None,
) -> list[Problem]:
    """Problems of a BOLD5000 tree; an empty list means every asked-for file is sound.

    For each subject: release 2.0 (brain mask, image-name list, every session file present or
    asked for: readable header, the brain mask's grid, intact gzip trailer; the sessions' trials
    fit the image-name list) and release 1.0 when its stimulus list is present (every ROI file
    readable, holding ROI keys, each with one row per listed trial). ``subjects`` default: those
    with any file under ``root``.
    """
    import nibabel as nib

    root = Path(root)
    if subjects is None:
        subjects = [s for s in b5k.SUBJECTS if any(root.rglob(f"*{s}_*"))]
        if not subjects:
            return [Problem(str(root), "no BOLD5000 subject files", "CSI1..CSI4 files")]
    problems: list[Problem] = []
    for subj in subjects:
        mask = _find(root, b5k.brainmask_path(subj))
        names = _find(root, b5k.imgnames_path(subj))
        first = _find(root, b5k.beta_session_path(subj, 1))
        if first is None and sessions is None:
            pass  # no release 2.0 data for this subject: fine on a v1-only download
        elif mask is None or names is None:
            for rel, found in ((b5k.brainmask_path(subj), mask), (b5k.imgnames_path(subj), names)):
                if found is None:
                    problems.append(Problem(str(root / rel), "file is missing", rel.name))
        else:
            problems += _check_sessions(root, subj, mask, names, first, sessions, nib)
        stim_list = root / b5k.stim_list_path(subj)
        if stim_list.is_file():
            problems += _check_roi_release(root, subj, stim_list)
    return problems


def _check_sessions(root, subj, mask, names, first, sessions, nib) -> list[Problem]:
    problems: list[Problem] = []
    try:
        grid = tuple(int(v) for v in nib.load(mask).shape[:3])
    except Exception as exc:
        return [Problem(str(mask), f"unreadable ({exc})", "a 3-D volume")]
    if subj in _REAL_GRIDS and grid != _REAL_GRIDS[subj] and grid[0] > 60:
        problems.append(Problem(str(mask), f"grid {grid}", f"{_REAL_GRIDS[subj]}"))
    folder = (first or root / b5k.beta_session_path(subj, 1)).parent
    wanted = sessions or [
        s for s in range(1, b5k.SESSIONS.get(subj, 15) + 1)
        if (folder / b5k.beta_session_path(subj, s).name).is_file()
    ]  # fmt: skip
    total = 0
    for s in wanted:
        path = folder / b5k.beta_session_path(subj, s).name
        if not path.is_file():
            problems.append(Problem(str(path), "file is missing", f"session {s} betas"))
            continue
        found = _nifti_problem(path, grid, None)
        if found:
            problems.append(Problem(str(path), *found))
            continue
        total += int(nib.load(path).shape[3])
    n_names = sum(1 for line in Path(names).read_text().splitlines() if line.strip())
    if total > n_names:
        problems.append(Problem(str(names), f"{n_names} image names", f">= {total} trials"))
    return problems


def _check_roi_release(root: Path, subj: str, stim_list: Path) -> list[Problem]:
    import scipy.io

    n_trials = sum(1 for line in stim_list.read_text().splitlines() if line.strip())
    keys = [f"{h}{r}" for h in b5k.HEMISPHERES for r in b5k.ROI_NAMES]
    problems: list[Problem] = []
    for tr in b5k.TR_CHOICES:
        path = root / b5k.roi_mat_path(subj, tr)
        if not path.is_file():
            continue
        try:
            mat = scipy.io.loadmat(path)
        except Exception as exc:
            problems.append(Problem(str(path), f"unreadable MAT file ({exc})", "MATLAB v5"))
            continue
        present = {k.replace("LHLO", "LHLOC").replace("RHLO", "RHLOC").replace("RRSC", "RSC")
                   for k in mat if not k.startswith("__")}  # fmt: skip
        if not present & set(keys):
            problems.append(Problem(str(path), f"no ROI keys (has {sorted(present)})", f"{keys}"))
        bad = [k for k, v in mat.items() if not k.startswith("__") and v.shape[0] != n_trials]
        if bad:
            problems.append(Problem(str(path), f"{bad} rows differ from the stim list",
                                    f"{n_trials} rows"))  # fmt: skip
    return problems
