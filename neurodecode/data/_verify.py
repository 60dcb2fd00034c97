"""``data verify``: list every missing, truncated or unreadable file of an NSD download.

Checks are internal first: every session file must be on the brain mask's grid, hold the same
number of trials as the others, have the release's dtype, and be long enough for the data its
own header declares (HDF5: chunk/contiguous extent within the file; .nii.gz: the gzip trailer's
ISIZE equals the header's offset + data bytes mod 2**32, a cheap check that catches truncated
and most corrupt streams without inflating). The real-release constants of the manifest
(grid per subject, 750 trials) apply only when the brain mask has that subject's real grid:
a synthetic tree of another size is judged by its own geometry, the real release by both.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurodecode.data import _nsd_layout as nsd
from neurodecode.data._manifest import NSD_GRIDS

__all__ = ["Problem", "verify_release"]


@dataclass(frozen=True)
class Problem:
    """One file that is not as expected."""

    path: str
    problem: str
    expected: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem} (expected {self.expected})"


def _hdf5_problem(path: Path, grid, n_trials) -> tuple[str, str] | None:
    import h5py

    want = f"/betas int16 (T, {grid[2]}, {grid[1]}, {grid[0]})"
    try:
        with h5py.File(path, "r") as fh:
            ds = fh.get("betas")
            if ds is None:
                return "no /betas dataset", want
            if ds.ndim != 4 or tuple(ds.shape[1:]) != tuple(grid[::-1]) or ds.dtype != np.int16:
                return f"/betas is {ds.dtype} {ds.shape}", want
            if n_trials is not None and ds.shape[0] != n_trials:
                return f"/betas holds {ds.shape[0]} trials", f"{n_trials} trials"
            need = ds.id.get_offset() or 0
            if ds.chunks is None:
                need += ds.id.get_storage_size()
            else:
                last = ds.id.get_num_chunks() - 1
                info = ds.id.get_chunk_info(last) if last >= 0 else None
                need = max((info.byte_offset + info.size) if info else 0, need)
            if os.path.getsize(path) < need:
                return f"truncated: {os.path.getsize(path)} bytes", f">= {need} bytes"
    except OSError as exc:
        return f"unreadable HDF5 ({exc})", want
    return None


def _nifti_problem(path: Path, grid, n_trials) -> tuple[str, str] | None:
    import nibabel as nib

    want = f"(X, Y, Z, T) = ({grid[0]}, {grid[1]}, {grid[2]}, T)"
    try:
        proxy = nib.load(path).dataobj
        shape, offset = tuple(proxy.shape), int(proxy.offset)
    except Exception as exc:
        return f"unreadable NIfTI header ({exc})", want
    if len(shape) != 4 or tuple(shape[:3]) != tuple(grid):
        return f"image shape {shape}", want
    if n_trials is not None and shape[3] != n_trials:
        return f"{shape[3]} trials", f"{n_trials} trials"
    size = offset + int(np.prod(shape)) * np.dtype(proxy.dtype).itemsize
    with open(path, "rb") as fh:
        fh.seek(-4, os.SEEK_END)
        isize = struct.unpack("<I", fh.read(4))[0]
    if isize != size % 2**32:
        return "gzip trailer does not match the header's data size (truncated or corrupt)", (
            f"{size} uncompressed bytes"
        )
    return None


def verify_release(
    root: str | os.PathLike[str],
    subjects: list[str] | None = None,
    sessions: list[int] | None = None,
    fmt: str | None = None,
) -> list[Problem]:
    """Problems of an NSD tree; an empty list means every asked-for file is sound.

    ``subjects`` default: those with a ``ppdata`` folder. ``sessions`` default: every session
    file present, and for the real release every session of ``SESSIONS_COMPLETED``.
    ``fmt`` limits the check to ``hdf5`` or ``nii.gz`` betas (default: both, where present).
    """
    import nibabel as nib

    root = Path(root)
    problems: list[Problem] = []
    if subjects is None:
        subjects = sorted(p.name for p in (root / "nsddata/ppdata").glob("subj*"))
        if not subjects:
            return [Problem(str(root / "nsddata/ppdata"), "no subject folders", "subjXX/")]
    exp = root / nsd.expdesign_path()
    if not exp.is_file():
        problems.append(Problem(str(exp), "file is missing", "nsd_expdesign.mat"))
    for subj in subjects:
        mask = root / nsd.brainmask_path(subj)
        try:
            grid = tuple(int(v) for v in nib.load(mask).shape[:3])
        except Exception as exc:
            problems.append(Problem(str(mask), f"missing or unreadable ({exc})", "a 3-D volume"))
            continue
        real = NSD_GRIDS.get(subj) == grid
        n_trials = nsd.TRIALS_PER_SESSION if real else None
        fmts = [fmt] if fmt else ["hdf5", "nii.gz"]
        wanted = sessions
        if wanted is None:
            present = {s for s in range(1, 100) for f in fmts
                       if (root / nsd.session_betas_path(subj, s, f)).is_file()}  # type: ignore[arg-type]  # fmt: skip
            wanted = sorted(present | (set(range(1, nsd.SESSIONS_COMPLETED[subj] + 1))
                                       if real else set()))  # fmt: skip
        seen_t: dict[int, str] = {}
        for s in wanted:
            for f in fmts:
                path = root / nsd.session_betas_path(subj, s, f)  # type: ignore[arg-type]
                if not path.is_file():
                    if fmt or real or sessions is not None:
                        problems.append(Problem(str(path), "file is missing", f"session {s} betas"))
                    continue
                check = _hdf5_problem if f == "hdf5" else _nifti_problem
                found = check(path, grid, n_trials)
                if found:
                    problems.append(Problem(str(path), *found))
                    continue
                t = _trial_count(path)
                seen_t.setdefault(t, str(path))
        if len(seen_t) > 1:
            problems.append(Problem(str(root / nsd.betas_dir(subj)),
                                    f"sessions disagree on trials: {sorted(seen_t)}",
                                    "one trial count for every session"))  # fmt: skip
    return problems


def _trial_count(path: Path) -> int:
    if path.suffix == ".hdf5":
        import h5py

        with h5py.File(path, "r") as fh:
            return int(fh["betas"].shape[0])
    import nibabel as nib

    return int(nib.load(path).shape[3])
