"""Verification of a BOLD5000 download (release 2.0 betas and/or release 1.0 ROI data).

What a stage reads is checked with the reader's own code where it can be: the brain mask; the
image-name list (every name resolves inside the root, its image file is there); every session
file (the mask's grid and position in space, intact gzip trailer, finite betas) and gaps in the
session numbers; the OpenNeuro ROI masks (grid and position against the brain mask; each ROI in
both hemispheres, since a bilateral ROI is never built from one side); the COCO caption file
when present; release 1.0 ROI files (readable, ROI keys, one row per listed trial); and the
manifest's sizes and checksums where recorded.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from neurodecode.data import _bold5000_layout as b5k
from neurodecode.data._verify import (
    Problem,
    checked,
    manifest_problems,
    nifti_problem,
    nonfinite_problem,
)

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
    manifest: Path | None = None,
) -> list[Problem]:
    """Problems of a BOLD5000 tree; an empty list means every asked-for file is sound.

    ``subjects`` default: those with any file under ``root``.
    """
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
            problems += _check_release2(root, subj, mask, names, first, sessions)
        stim_list = root / b5k.stim_list_path(subj)
        if stim_list.is_file():
            problems += _check_roi_release(root, subj, stim_list)
        if manifest is not None or (mask is not None and _real(mask, subj)):
            problems += (
                checked(problems, manifest, manifest_problems, root, "bold5000", subj, manifest)
                or []
            )
    return problems


def _real(mask: Path, subj: str) -> bool:
    import nibabel as nib

    try:
        return tuple(int(v) for v in nib.load(mask).shape[:3]) == _REAL_GRIDS.get(subj)
    except Exception:
        return False


def _check_release2(root, subj, mask, names, first, sessions) -> list[Problem]:
    import nibabel as nib

    from neurodecode.data._bold5000 import BOLD5000Subject, check_image_names
    from neurodecode.data._stimuli import BOLD5000Stimuli
    from neurodecode.data._volumes import read_lines, read_volume

    problems: list[Problem] = []
    loaded = checked(problems, mask, read_volume, mask)
    if loaded is None:
        return problems
    brain, affine = loaded
    grid = tuple(int(v) for v in brain.shape)
    if subj in _REAL_GRIDS and grid != _REAL_GRIDS[subj] and grid[0] > 60:
        problems.append(Problem(str(mask), f"grid {grid}", f"{_REAL_GRIDS[subj]}"))
    ijk = np.argwhere(brain > 0)
    folder = (first or root / b5k.beta_session_path(subj, 1)).parent
    present = [s for s in range(1, 100) if (folder / b5k.beta_session_path(subj, s).name).is_file()]
    wanted = sessions or present
    gaps = sorted(set(range(1, max(present, default=0) + 1)) - set(present))
    for gap in gaps if sessions is None else ():
        problems.append(Problem(str(folder / b5k.beta_session_path(subj, gap).name),
                                f"file is missing (session {max(present)} is there)",
                                "consecutive sessions: the image list is split by their "
                                "lengths"))  # fmt: skip
    total = 0
    for s in wanted:
        path = folder / b5k.beta_session_path(subj, s).name
        if not path.is_file():
            problems.append(Problem(str(path), "file is missing", f"session {s} betas"))
            continue
        # not the affine: the beta files' is reportedly wrong (DATA_FORMATS B), the mask's rules
        found = nifti_problem(path, grid, None)
        if found is None:
            found = checked(problems, path, nonfinite_problem, path, ijk)
        if found:
            problems.append(Problem(str(path), *found))
            continue
        total += int(nib.load(path).shape[3])
    lines = checked(problems, names, read_lines, names)
    listed = checked(problems, names, check_image_names, names, lines) if lines else None
    if listed is None:
        if lines == []:
            problems.append(Problem(str(names), "holds no image names", "one name per trial"))
        return problems
    if total > len(listed):
        problems.append(Problem(str(names), f"{len(listed)} image names", f">= {total} trials"))
    table = sorted(set(listed))
    stimuli = BOLD5000Stimuli(root, table)
    missing = []
    for i, name in enumerate(table):
        path = checked(problems, names, stimuli.path, i)
        if path is not None and not path.is_file():
            missing.append(name)
    if missing:
        problems.append(
            Problem(str(root / b5k.STIMULI_ROOT),
                    f"{len(missing)} listed images are missing (e.g. {missing[:3]})",
                    "every image of the list")
        )  # fmt: skip
    found_masks = checked(problems, root, BOLD5000Subject._find_roi_masks, root, subj)
    for path in sorted((found_masks or {}).values()):
        checked(problems, path, _on_grid, path, grid, affine, mask.name)
    for roi in b5k.ROI_NAMES:
        sides = [h for h in b5k.HEMISPHERES if h + roi in (found_masks or {})]
        if len(sides) == 1:
            other = next(h for h in b5k.HEMISPHERES if h not in sides)
            problems.append(Problem(
                str(root / b5k.roi_mask_path(subj, other, roi)),
                f"file is missing ({sides[0]}{roi} is there)",
                f"{roi} in both hemispheres (a bilateral ROI is never built from one side)",
            ))  # fmt: skip
    captions = _find(root, b5k.captions_path())
    if captions is not None:
        from neurodecode.data._stimuli import _caption_index

        checked(problems, captions, _caption_index, captions)
    return problems


def _on_grid(path: Path, grid, affine, ref: str = "the brain mask") -> None:
    from neurodecode.data._volumes import check_grid, read_volume

    vol, own = read_volume(path)
    check_grid(path, vol.shape, own, grid, affine, ref)


def _check_roi_release(root: Path, subj: str, stim_list: Path) -> list[Problem]:
    from neurodecode.data._volumes import load_mat, read_lines

    problems: list[Problem] = []
    listed = checked(problems, stim_list, read_lines, stim_list)
    if listed is None:
        return problems
    n_trials = len(listed)
    keys = [f"{h}{r}" for h in b5k.HEMISPHERES for r in b5k.ROI_NAMES]
    for tr in b5k.TR_CHOICES:
        path = root / b5k.roi_mat_path(subj, tr)
        if not path.is_file():
            continue
        mat = checked(problems, path, _load_rois, path, load_mat)
        if mat is None:
            continue
        present = {k.replace("LHLO", "LHLOC").replace("RHLO", "RHLOC").replace("RRSC", "RSC")
                   for k in mat}  # fmt: skip
        if not present & set(keys):
            problems.append(Problem(str(path), f"no ROI keys (has {sorted(present)})", f"{keys}"))
        bad = [k for k, v in mat.items() if v.shape[0] != n_trials]
        if bad:
            problems.append(Problem(str(path), f"{bad} rows differ from the stim list",
                                    f"{n_trials} rows"))  # fmt: skip
    return problems


def _load_rois(path: Path, load_mat) -> dict[str, np.ndarray]:
    import scipy.io

    from neurodecode.data._errors import ReleaseError

    try:
        names = [n for n, _, _ in scipy.io.whosmat(path) if not n.startswith("__")]
    except Exception as exc:
        raise ReleaseError(path, f"unreadable MAT file ({exc})", "MATLAB v5") from exc
    return load_mat(path, names)
