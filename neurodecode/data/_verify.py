"""``data verify``: list every file of an NSD download a stage would trip on.

Everything a stage reads is checked, each with the reader's own strict parsers, so a clean
report means ``prepare``, ``features`` and the report will not fail on the release:

* the design (``nsd_expdesign.mat``: fields, index ranges, shared images first);
* the stimulus table (required columns, integer ids), the stimulus brick (``imgBrick`` shape,
  dtype, extent within the file, first and last image readable) and the COCO caption files
  present;
* per subject: the brain mask; every ROI atlas (grid *and* position in space against the brain
  mask, its ctab read strictly, every label named; ``nsdgeneral`` present); ``ncsnr`` (grid,
  affine); ``responses.tsv`` (columns); every session file (the mask's grid, its affine for
  NIfTI, the release's dtype, the same trial count as the others, long enough for what its
  header declares, finite values when its dtype can hold NaN) and gaps in the session numbers;
* the manifest (:mod:`._manifest`): where the brain mask has the real subject's grid, each
  session file's size against what the manifest records (exact HDF5 data bytes, the gzip
  ISIZE of NIfTI), and a sha256 wherever one is recorded.

The real-release constants (grid per subject, 750 trials, every session) apply only when the
brain mask has that subject's real grid: a synthetic tree of another size is judged by its own
geometry, the real release by both.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode.data import _nsd_layout as nsd
from neurodecode.data._errors import ReleaseError
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


def checked(problems: list[Problem], path: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, one reader check of ``path``: a ``ReleaseError`` (or a stray library error)
    becomes a Problem, and None is returned."""
    try:
        return fn(*args)
    except ReleaseError as exc:
        problems.append(Problem(exc.path, exc.problem, exc.expected or "a readable file"))
    except (OSError, ValueError, KeyError, RuntimeError, EOFError) as exc:
        problems.append(Problem(str(path or "?"), f"unreadable ({exc})", "a readable file"))
    return None


def _hdf5_extent(ds: Any) -> int:
    """Bytes of the file a dataset's data occupy up to (offset + storage, or the last chunk)."""
    need = ds.id.get_offset() or 0
    if ds.chunks is None:
        return need + ds.id.get_storage_size()
    last = ds.id.get_num_chunks() - 1
    info = ds.id.get_chunk_info(last) if last >= 0 else None
    return max((info.byte_offset + info.size) if info else 0, need)


def _hdf5_problem(
    path: Path, grid, n_trials, ref: str = "the brain mask"
) -> tuple[str, str] | None:
    import h5py

    want = f"/betas int16 (T, {grid[2]}, {grid[1]}, {grid[0]}), the grid of {ref}"
    try:
        with h5py.File(path, "r") as fh:
            ds = fh.get("betas")
            if ds is None:
                return "no /betas dataset", want
            if ds.ndim != 4 or tuple(ds.shape[1:]) != tuple(grid[::-1]) or ds.dtype != np.int16:
                return f"/betas is {ds.dtype} {ds.shape}", want
            if n_trials is not None and ds.shape[0] != n_trials:
                return f"/betas holds {ds.shape[0]} trials", f"{n_trials} trials"
            need = _hdf5_extent(ds)
            if os.path.getsize(path) < need:
                return f"truncated: {os.path.getsize(path)} bytes", f">= {need} bytes"
    except (OSError, RuntimeError, KeyError) as exc:  # RuntimeError: a damaged chunk index
        return f"unreadable HDF5 ({exc})", want
    return None


def nifti_problem(
    path: Path, grid, n_trials, affine: np.ndarray | None = None, ref: str = "the brain mask"
) -> tuple[str, str] | None:
    """Header, grid, affine and gzip-trailer check of a 4-D NIfTI session file."""
    import nibabel as nib

    from neurodecode.data._volumes import AFFINE_TOLERANCE_MM

    want = f"(X, Y, Z, T) = ({grid[0]}, {grid[1]}, {grid[2]}, T), the grid of {ref}"
    try:
        img = nib.load(path)
        proxy = img.dataobj
        shape, offset = tuple(proxy.shape), int(proxy.offset)
    except Exception as exc:
        return f"unreadable NIfTI header ({exc})", want
    if len(shape) != 4 or tuple(shape[:3]) != tuple(grid):
        return f"image shape {shape}", want
    if affine is not None and not np.abs(img.affine - affine).max() <= AFFINE_TOLERANCE_MM:
        return f"affine differs from {ref}'s (another position in space)", f"{ref}'s affine"
    if n_trials is not None and shape[3] != n_trials:
        return f"{shape[3]} trials", f"{n_trials} trials"
    size = offset + int(np.prod(shape)) * np.dtype(proxy.dtype).itemsize
    if str(path).endswith(".gz"):
        with open(path, "rb") as fh:
            fh.seek(-4, os.SEEK_END)
            isize = struct.unpack("<I", fh.read(4))[0]
        if isize != size % 2**32:
            return "gzip trailer does not match the header's data size (truncated or corrupt)", (
                f"{size} uncompressed bytes"
            )
    return None


def nonfinite_problem(path: Path, ijk: np.ndarray) -> tuple[str, str] | None:
    """Scan a session file's betas at the brain voxels for NaN/Inf (float data only)."""
    from neurodecode.data._fastio import read_masked_betas

    data = read_masked_betas(path, ijk)
    if data.dtype.kind != "f":
        return None
    bad = ~np.isfinite(data)
    if bad.any():
        t, v = np.argwhere(bad)[0]
        return (
            f"{int(bad.sum())} NaN/infinite betas (first: trial {t}, voxel {ijk[v].tolist()})",
            "finite betas (prepare --nonfinite mask keeps going and counts them)",
        )
    return None


def _trial_count(path: Path) -> int:
    if path.suffix == ".hdf5":
        import h5py

        with h5py.File(path, "r") as fh:
            return int(fh["betas"].shape[0])
    import nibabel as nib

    return int(nib.load(path).shape[3])


def pd_numeric(column: Any) -> list[int]:
    """The integer entries of a table column (others are left out)."""
    import pandas as pd

    values = pd.to_numeric(column, errors="coerce")
    return [int(v) for v in values.dropna()]


def _needed_ids(root: Path) -> np.ndarray:
    """0-based nsdIds the design shows (empty when the design is unreadable)."""
    from neurodecode.data._nsd import read_design

    try:
        return np.unique(read_design(root)[1]) - 1
    except ReleaseError:
        return np.empty(0, dtype=np.int64)


def _check_stimuli(root: Path, problems: list[Problem]) -> None:
    from neurodecode.data._stimuli import NSDStimuli, _caption_index
    from neurodecode.data._volumes import open_hdf5, read_table

    info_path = root / nsd.stim_info_path()
    if info_path.is_file():
        table = checked(
            problems, info_path, read_table, info_path, ("nsdId", "cocoId", "cocoSplit")
        )
        if table is not None:
            for column in ("nsdId", "cocoId"):
                bad = ~table[column].astype(str).str.fullmatch(r"-?\d+")
                if bad.any():
                    row = int(np.argmax(bad.to_numpy()))
                    problems.append(Problem(str(info_path),
                                            f"{column} of row {row + 2} is {table[column][row]!r}",
                                            "integer ids"))  # fmt: skip
            needed = _needed_ids(root)
            have = set(pd_numeric(table["nsdId"]))
            lacking = [int(i) for i in needed if int(i) not in have]
            if lacking:
                problems.append(
                    Problem(
                        str(info_path),
                        f"no rows for {len(lacking)} shown nsdIds (e.g. {lacking[:3]})",
                        "a row per nsdId",
                    )
                )
    else:
        problems.append(Problem(str(info_path), "file is missing", "nsd_stim_info_merged.csv"))
    brick = root / nsd.stimuli_path()
    if brick.is_file():

        def check_brick() -> None:
            stimuli = NSDStimuli(root)
            with open_hdf5(brick) as fh:
                ds = stimuli._brick(fh)
                need = _hdf5_extent(ds)
                if os.path.getsize(brick) < need:
                    raise ReleaseError(brick, f"truncated: {os.path.getsize(brick)} bytes",
                                       f">= {need} bytes")  # fmt: skip
                needed = _needed_ids(root)
                if needed.size and needed.max() >= ds.shape[0]:
                    raise ReleaseError(
                        brick,
                        f"holds {ds.shape[0]} images",
                        f"more than the largest shown nsdId {needed.max()}",
                    )
                ds[0], ds[ds.shape[0] - 1]  # the first and last image decode

        checked(problems, brick, check_brick)
    else:
        problems.append(Problem(str(brick), "file is missing", "the imgBrick stimulus HDF5"))
    for split in ("train2017", "val2017"):
        path = root / nsd.captions_path(split)
        if path.is_file():  # optional: users place COCO's files here for caption spaces
            checked(problems, path, _caption_index, path)


def _check_rois(root: Path, subj: str, grid, affine, problems: list[Problem]) -> None:
    from neurodecode.data._volumes import check_grid, read_ctab, read_volume

    folder = root / nsd.roi_path(subj, "x").parent
    atlases = sorted(p for p in folder.glob("*.nii.gz")) if folder.is_dir() else []
    labels = root / nsd.ctab_path(subj, "x").parent
    for ctab in sorted(labels.glob("*.mgz.ctab")) if labels.is_dir() else []:
        atlas = ctab.name[: -len(".mgz.ctab")]
        volume = root / nsd.roi_path(subj, atlas)
        if not volume.is_file():
            problems.append(Problem(str(volume), f"file is missing ({ctab.name} is there)",
                                    f"the {atlas} atlas volume"))  # fmt: skip
    if not any(p.name == "nsdgeneral.nii.gz" for p in atlases):
        rel = root / nsd.roi_path(subj, "nsdgeneral")
        problems.append(
            Problem(str(rel), "file is missing", "the nsdgeneral atlas (prepare's voxels)")
        )
    for path in atlases:
        hemi = path.name.split(".")[0] if path.name.startswith(("lh.", "rh.")) else None
        atlas = path.name[len(hemi) + 1 if hemi else 0 : -len(".nii.gz")]

        def check(path: Path, atlas: str) -> None:
            vol, aff = read_volume(path)
            check_grid(path, vol.shape, aff, grid, affine, nsd.brainmask_path(subj).name)
            values = set(np.unique(np.rint(vol[vol > 0])).astype(int).tolist())
            ctab = root / nsd.ctab_path(subj, atlas)
            names = read_ctab(ctab)
            unnamed = sorted(values - set(names))
            if unnamed:
                raise ReleaseError(ctab, f"labels {unnamed} of {path.name} have no name")

        checked(problems, path, check, path, atlas)


def _sessions(root: Path, subj: str, fmts: list[str], real: bool, wanted) -> list[int]:
    present = {
        s
        for s in range(1, 100)
        for f in fmts
        if (root / nsd.session_betas_path(subj, s, f)).is_file()  # type: ignore[arg-type]
    }
    if wanted is not None:
        return sorted(wanted)
    return sorted(present | (set(range(1, nsd.SESSIONS_COMPLETED[subj] + 1)) if real else set()))


def verify_release(
    root: str | os.PathLike[str],
    subjects: list[str] | None = None,
    sessions: list[int] | None = None,
    fmt: str | None = None,
    manifest: Path | None = None,
) -> list[Problem]:
    """Problems of an NSD tree; an empty list means every asked-for file is sound.

    ``subjects`` default: those with a ``ppdata`` or a betas folder (a subject with betas but
    no ``ppdata`` is a problem). ``sessions`` default: every session file present, and for the
    real release every session of ``SESSIONS_COMPLETED``. ``fmt`` limits the check to ``hdf5``
    or ``nii.gz`` betas (default: both, where present).
    """
    from neurodecode.data._nsd import read_design
    from neurodecode.data._volumes import read_volume

    root = Path(root)
    problems: list[Problem] = []
    if subjects is None:
        folders = {p.name for p in (root / "nsddata/ppdata").glob("subj*")}
        folders |= {p.name for p in (root / "nsddata_betas/ppdata").glob("subj*")}
        subjects = sorted(folders)
        if not subjects:
            return [Problem(str(root / "nsddata/ppdata"), "no subject folders", "subjXX/")]
    checked(problems, root / nsd.expdesign_path(), read_design, root)
    _check_stimuli(root, problems)
    for subj in subjects:
        ppdata = root / nsd.ppdata_dir(subj)
        if not ppdata.is_dir():
            problems.append(Problem(str(ppdata), "folder is missing",
                                    f"{subj}'s brain mask, ROIs and ncsnr"))  # fmt: skip
            continue
        mask = root / nsd.brainmask_path(subj)
        loaded = checked(problems, mask, read_volume, mask)
        if loaded is None:
            continue
        brain, affine = loaded
        grid = tuple(int(v) for v in brain.shape)
        _check_rois(root, subj, grid, affine, problems)
        ncsnr = root / nsd.ncsnr_path(subj)
        if ncsnr.is_file():
            checked(problems, ncsnr, _on_grid, ncsnr, grid, affine, mask.name)
        responses = root / nsd.responses_path(subj)
        if responses.is_file():
            checked(problems, responses, _read_responses, responses)
        real = NSD_GRIDS.get(subj) == grid
        n_trials = nsd.TRIALS_PER_SESSION if real else None
        fmts = [fmt] if fmt else ["hdf5", "nii.gz"]
        wanted = _sessions(root, subj, fmts, real, sessions)
        ijk = np.argwhere(brain > 0)
        seen_t: dict[int, str] = {}
        have: set[int] = set()
        for s in wanted:
            for f in fmts:
                path = root / nsd.session_betas_path(subj, s, f)  # type: ignore[arg-type]
                if not path.is_file():
                    if fmt or real or sessions is not None:
                        problems.append(Problem(str(path), "file is missing", f"session {s} betas"))
                    continue
                found: tuple[str, str] | None = (
                    _hdf5_problem(path, grid, n_trials, mask.name)
                    if f == "hdf5"
                    else nifti_problem(path, grid, n_trials, affine, mask.name)
                )
                if found is None:
                    found = checked(problems, path, nonfinite_problem, path, ijk)
                if found:
                    problems.append(Problem(str(path), *found))
                    continue
                have.add(s)
                seen_t.setdefault(_trial_count(path), str(path))
        gaps = sorted(set(range(1, max(have, default=0) + 1)) - have)
        for gap in gaps if sessions is None else ():
            path = root / nsd.session_betas_path(subj, gap, fmts[0])  # type: ignore[arg-type]
            problems.append(Problem(str(path), f"file is missing (session {max(have)} is there)",
                                    "consecutive sessions from 1"))  # fmt: skip
        if len(seen_t) > 1:
            problems.append(Problem(str(root / nsd.betas_dir(subj)),
                                    f"sessions disagree on trials: {sorted(seen_t)}",
                                    "one trial count for every session"))  # fmt: skip
        if not any(p.path.startswith(str(root / "nsddata")) and subj in p.path for p in problems):
            # every file sound on its own: the reader's own cross-checks (design against
            # responses.tsv and the session files, ROIs against their ctabs)
            checked(problems, root, _open_subject, root, subj)
        if real or manifest is not None:
            problems += (
                checked(problems, manifest, manifest_problems, root, "nsd", subj, manifest) or []
            )
    return problems


def _open_subject(root: Path, subject: str) -> None:
    from neurodecode.data._nsd import load_nsd_subject

    sub = load_nsd_subject(root, subject)
    sub.rois  # noqa: B018
    sub.ncsnr  # noqa: B018


def _read_responses(path: Path) -> Any:
    from neurodecode.data._volumes import read_table

    return read_table(path, nsd.RESPONSES_REQUIRED_COLUMNS, sep="\t")


def _on_grid(path: Path, grid, affine, ref: str = "the brain mask") -> None:
    from neurodecode.data._volumes import check_grid, read_volume

    vol, own = read_volume(path)
    check_grid(path, vol.shape, own, grid, affine, ref)


def manifest_problems(
    root: Path, dataset: str, subject: str, manifest: Path | None = None
) -> list[Problem]:
    """Sizes and checksums of a subject's files against the dataset's manifest, where known.

    ``manifest`` is a manifest JSON (one with the sha256 a user recorded for their copy);
    default the packaged ``data_manifests/<dataset>.json``.
    """
    from neurodecode.data._manifest import MANIFEST_DIR, read_manifest

    file = Path(manifest) if manifest is not None else MANIFEST_DIR / f"{dataset}.json"
    problems: list[Problem] = []
    for entry in read_manifest(file)["files"]:
        if entry.get("tags", {}).get("subject") != subject:
            continue
        path = root / entry["path"]
        if not path.is_file():
            continue
        size = path.stat().st_size
        if entry.get("bytes") is not None and size != entry["bytes"]:
            problems.append(Problem(str(path), f"{size} bytes", f"{entry['bytes']} bytes"))
        if entry.get("min_bytes") is not None and size < entry["min_bytes"]:
            problems.append(Problem(str(path), f"{size} bytes", f">= {entry['min_bytes']} bytes"))
        if entry.get("sha256"):
            digest = _sha256(path)
            if digest != entry["sha256"]:
                problems.append(Problem(str(path), f"sha256 {digest[:16]}...",
                                        f"{entry['sha256'][:16]}... (the manifest)"))  # fmt: skip
    return problems


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()
