"""The fault-injection matrix: every file a stage reads, damaged every way, and what must follow.

A case is (dataset, file, fault). Each is applied to a fresh copy of a tiny, complete synthetic
release; then ``data verify`` and the stage that reads the file are run through the CLI. Every
case must end in a *clear error* (exit status 2 and the damaged file named on the output) or in a
*correct result* (exit 0 and valid outputs: an optional file missing, say). Whatever the
outcome, no output may be left corrupt or half-written under its final name, and no input file
may change. ``python -m tests.faults._matrix`` prints the counts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np

from neurodecode.data import _bold5000_layout as b5k
from neurodecode.data import _nsd_layout as nsd

SUBJECT = {"nsd": "subj01", "bold5000": "CSI1"}


def write_world(dataset: str, root: Path) -> None:
    """A tiny complete synthetic release (one subject) of ``dataset``."""
    from neurodecode.synth import WorldConfig, make_world
    from neurodecode.synth._writers import get_writer

    cfg = WorldConfig(
        seed=2, n_stimuli=150, n_shared=12, n_per_subject=60, image_size=32,
        grid_shape=(12, 14, 12), subjects=(SUBJECT[dataset],),
    )  # fmt: skip
    writer = get_writer(dataset)
    per_session = 40 if dataset == "bold5000" else None  # several sessions
    writer.write(make_world(cfg), root, formats=writer.formats, trials_per_session=per_session,
                 progress=None)  # fmt: skip


# ----------------------------------------------------------------------------- faults
def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def garble(path: Path) -> None:
    """Damage the content while keeping the length: bytes flipped at the start and the middle."""
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    for start in (0, len(data) // 2):
        n = min(64, len(data) - start)
        data[start : start + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


def missing(path: Path) -> None:
    path.unlink()


def _rewrite_nifti(path: Path, fn: Callable[[np.ndarray, np.ndarray], tuple]) -> None:
    img = nib.load(path)
    data, affine = fn(np.asarray(img.dataobj), img.affine.copy())
    nib.save(nib.Nifti1Image(data, affine), path)


def wrong_grid(path: Path) -> None:
    """The volume on a grid one voxel smaller along x (a volume of another grid)."""
    if path.suffix == ".hdf5":
        with h5py.File(path, "r") as fh:
            data = fh["betas"][()]
        with h5py.File(path, "w") as fh:
            fh.create_dataset("betas", data=data[..., :-1], chunks=(data.shape[0], 1, 1, 1))
        return
    _rewrite_nifti(path, lambda d, a: (d[:-1], a))


def shifted(path: Path) -> None:
    """The same grid, moved 5 mm in space (another position: e.g. another session's space)."""

    def move(d, a):
        a[0, 3] += 5.0
        return d, a

    _rewrite_nifti(path, move)


def nan_betas(path: Path) -> None:
    """One NaN beta inside the brain (float data, as GLMsingle's)."""

    def poison(d, a):
        d = d.astype(np.float32)
        idx = tuple(np.argwhere(np.abs(d[..., 0]) > 0)[0])
        d[(*idx, 1)] = np.nan
        return d, a

    _rewrite_nifti(path, poison)


def bad_label_line(path: Path) -> None:
    path.write_text(path.read_text() + "three PPA\n")


def unnamed_label(path: Path) -> None:
    """Label 1 (present in every atlas volume) loses its line."""
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("1 ")]
    path.write_text("\n".join(lines) + "\n")


def non_numeric_id(path: Path) -> None:
    text = path.read_text().splitlines()
    head = text[0].split(",")
    col = head.index("cocoId")
    row = text[1].split(",")
    row[col] = "seventeen"
    path.write_text("\n".join([text[0], ",".join(row), *text[2:]]) + "\n")


def damaged_chunk_index(path: Path) -> None:
    """Zero the chunk index (B-tree) of /betas: h5py raises RuntimeError on reads."""
    with h5py.File(path, "r") as fh:
        ds = fh["betas"]
        info = ds.id.get_chunk_info(0)
        first_chunk = info.byte_offset
    data = bytearray(path.read_bytes())
    # the index lives between the superblock and the first chunk's data
    start = 800
    data[start:first_chunk] = bytes(first_chunk - start)
    path.write_bytes(bytes(data))


def escape_root(path: Path) -> None:
    lines = path.read_text().splitlines()
    lines[0] = "../../outside.jpg"
    path.write_text("\n".join(lines) + "\n")


def one_hemisphere(path: Path) -> None:
    path.unlink()  # the other hemisphere's mask stays


FAULTS: dict[str, Callable[[Path], None]] = {f.__name__: f for f in (
    truncate, empty, garble, missing, wrong_grid, shifted, nan_betas, bad_label_line,
    unnamed_label, non_numeric_id, damaged_chunk_index, escape_root, one_hemisphere,
)}  # fmt: skip


# ----------------------------------------------------------------------------- cases
@dataclasses.dataclass(frozen=True)
class Case:
    """One damaged file, the stage that reads it, and whether the stage must fail."""

    dataset: str
    file: str  # path relative to the release root
    fault: str
    stage: str  # "prepare" or "features" (the stage whose run must show the fault)
    outcome: str = "error"  # "error": a clear error naming the file; "ok": a correct result
    verify: str = "error"  # what `data verify` must say: "error" (names the file) or "ok"

    @property
    def id(self) -> str:
        return f"{self.dataset}:{Path(self.file).name}:{self.fault}"


def _nsd_cases() -> list[Case]:
    s = SUBJECT["nsd"]
    design = str(nsd.expdesign_path())
    info = str(nsd.stim_info_path())
    brick = str(nsd.stimuli_path())
    caps = str(nsd.captions_path("train2017"))
    mask = str(nsd.brainmask_path(s))
    general = str(nsd.roi_path(s, "nsdgeneral"))
    faces = str(nsd.roi_path(s, "floc-faces"))
    ctab = str(nsd.ctab_path(s, "floc-faces"))
    ncsnr = str(nsd.ncsnr_path(s))
    resp = str(nsd.responses_path(s))
    h5 = str(nsd.session_betas_path(s, 2, "hdf5"))
    gz = str(nsd.session_betas_path(s, 2, "nii.gz"))
    cases = []
    for fault in ("truncate", "empty", "garble", "missing"):
        cases.append(Case("nsd", design, fault, "prepare"))
        cases.append(Case("nsd", mask, fault, "prepare"))
        cases.append(Case("nsd", general, fault, "prepare"))
        # prepare needs nsdgeneral only; a missing other atlas is a damaged download for verify
        cases.append(Case("nsd", faces, fault, "prepare",
                          outcome="ok" if fault == "missing" else "error"))  # fmt: skip
        # auto format: the NIfTI copy of session 2 serves when the HDF5 one is gone
        cases.append(
            Case(
                "nsd",
                h5,
                fault,
                "prepare",
                outcome="ok" if fault == "missing" else "error",
                verify="ok" if fault == "missing" else "error",
            )
        )
        cases.append(Case("nsd", brick, fault, "features"))
        cases.append(
            Case(
                "nsd",
                resp,
                fault,
                "prepare",
                outcome="ok" if fault == "missing" else "error",
                verify="ok" if fault == "missing" else "error",
            )
        )  # optional file
        cases.append(
            Case(
                "nsd",
                ncsnr,
                fault,
                "prepare",
                outcome="ok" if fault == "missing" else "error",
                verify="ok" if fault == "missing" else "error",
            )
        )  # estimated instead
        cases.append(Case("nsd", ctab, fault, "prepare"))
        cases.append(Case("nsd", info, fault, "features-text"))
        cases.append(
            Case(
                "nsd", caps, fault, "features-text", verify="ok" if fault == "missing" else "error"
            )
        )  # user-placed file
    for fault in ("wrong_grid", "shifted"):
        for path in (general, faces, ncsnr):
            cases.append(Case("nsd", path, fault, "prepare"))
    cases.append(Case("nsd", mask, "wrong_grid", "prepare"))
    cases.append(Case("nsd", h5, "wrong_grid", "prepare"))
    cases.append(Case("nsd", gz, "wrong_grid", "prepare-nifti"))
    cases.append(Case("nsd", gz, "shifted", "prepare-nifti"))
    cases.append(Case("nsd", gz, "truncate", "prepare-nifti"))
    cases.append(Case("nsd", gz, "garble", "prepare-nifti"))
    cases.append(Case("nsd", h5, "damaged_chunk_index", "prepare"))
    cases.append(Case("nsd", ctab, "bad_label_line", "prepare"))
    cases.append(Case("nsd", ctab, "unnamed_label", "prepare"))
    # the damaged row is of a stimulus no subject sees: verify names it, the stage never reads it
    cases.append(Case("nsd", info, "non_numeric_id", "features-text", outcome="ok"))
    return cases


def _bold5000_cases() -> list[Case]:
    s = SUBJECT["bold5000"]
    mask = str(b5k.brainmask_path(s))
    names = str(b5k.imgnames_path(s))
    ses = str(b5k.beta_session_path(s, 2))
    last = str(b5k.beta_session_path(s, 1))
    lh = str(b5k.roi_mask_path(s, "LH", "PPA"))
    cases = []
    for fault in ("truncate", "empty", "garble", "missing"):
        cases.append(Case("bold5000", mask, fault, "prepare"))
        cases.append(Case("bold5000", ses, fault, "prepare"))
        cases.append(Case("bold5000", names, fault, "prepare"))
    for fault in ("wrong_grid", "shifted", "truncate", "garble"):
        cases.append(Case("bold5000", lh, fault, "prepare-roi"))
    cases.append(Case("bold5000", ses, "wrong_grid", "prepare"))
    cases.append(Case("bold5000", ses, "nan_betas", "prepare-refuse"))
    cases.append(Case("bold5000", ses, "nan_betas", "prepare", outcome="ok"))  # masked, counted
    cases.append(Case("bold5000", last, "nan_betas", "prepare", outcome="ok"))
    cases.append(Case("bold5000", names, "escape_root", "prepare"))
    cases.append(Case("bold5000", lh, "one_hemisphere", "prepare-roi"))
    return cases


CASES: list[Case] = _nsd_cases() + _bold5000_cases()


# ----------------------------------------------------------------------------- running
def digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (the inputs must not change)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def stage_argv(case: Case, root: Path, out: Path) -> list[str]:
    s = SUBJECT[case.dataset]
    prepare = ["prepare", "--dataset", case.dataset, "--root", str(root), "--subject", s,
               "--out", str(out / "cache"), "--no-progress"]  # fmt: skip
    if case.stage == "prepare-nifti":
        return [*prepare, "--fmt", "nii.gz"]
    if case.stage == "prepare-roi":
        return [*prepare, "--roi", "PPA"]
    if case.stage == "prepare-refuse":
        return [*prepare, "--nonfinite", "refuse"]
    return prepare


def features_argv(case: Case, out: Path) -> list[str]:
    model = "synth-colour" if case.stage == "features" else "toy-clip-text"
    return ["features", "--subject", SUBJECT[case.dataset], "--cache", str(out / "cache"),
            "--model", model, "--out", str(out / "f.h5"), "--no-progress"]  # fmt: skip


def final_outputs(out: Path) -> list[Path]:
    """Files under the output folder except hidden temporaries and locks."""
    return [p for p in out.rglob("*") if p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(out).parts)]  # fmt: skip


def outputs_valid(out: Path) -> bool:
    """Every visible output is whole: a prepared cache loads, a feature file reads."""
    from neurodecode.data._cache import find_spaces, load_prepared
    from neurodecode.features import read_features

    folder = out / "cache"
    for subject_dir in folder.glob("sub-*") if folder.exists() else []:
        label = subject_dir.name[4:]
        for space in find_spaces(folder, label):
            load_prepared(folder, label, space).betas  # noqa: B018
    if (out / "f.h5").exists():
        read_features(out / "f.h5")
    return True


def pristine(dataset: str, cache: Path) -> Path:
    root = cache / f"{dataset}-pristine"
    if not (root / "synth_world.json").exists() and not (root / ".written").exists():
        write_world(dataset, root)
        (root / ".written").touch()
    return root


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".written"))
    return dst


def _run(argv: list[str]) -> tuple[int, str]:
    """Exit status and everything printed by one in-process CLI run."""
    import contextlib
    import io

    from neurodecode.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        status = main(argv)
    return status, buf.getvalue()


def run_case(case: Case, pristine_roots: dict[str, Path], tmp: Path) -> dict:
    """Damage a copy of the pristine release, run verify and the reading stage, judge."""
    root = copy_tree(pristine_roots[case.dataset], tmp / "release")
    target = root / case.file
    assert target.exists(), target
    FAULTS[case.fault](target)
    before = digest(root)
    name = Path(case.file).name
    result: dict = {"case": case.id}
    status, text = _run(["data", "verify", "--dataset", case.dataset, "--root", str(root),
                         "--subject", SUBJECT[case.dataset]])  # fmt: skip
    result["verify"] = "error" if status == 2 and name in text else "ok" if status == 0 else text
    out = tmp / "out"
    if case.stage.startswith("prepare"):
        status, text = _run(stage_argv(case, root, out))
        produced = final_outputs(out) if out.exists() else []
    else:
        status, text = _run(stage_argv(case, root, out))
        assert status == 0, f"prepare reads none of these files: {text}"
        status, text = _run(features_argv(case, out))
        produced = [out / "f.h5"] if (out / "f.h5").exists() else []
    if status == 2 and name in text:
        result["outcome"] = "error"
        result["corrupt"] = bool(produced)  # a failed stage leaves nothing under final names
    elif status == 0:
        result["outcome"] = "ok"
        result["corrupt"] = not outputs_valid(out)
    else:
        result["outcome"] = f"exit {status}: {text[-500:]}"
        result["corrupt"] = False
    result["inputs_modified"] = digest(root) != before
    return result


def summarise(results: list[dict]) -> dict:
    return {
        "cases": len(results),
        "clear_errors": sum(r["outcome"] == "error" for r in results),
        "correct_results": sum(r["outcome"] == "ok" for r in results),
        "unclear_or_wrong": sum(r["outcome"] not in ("error", "ok") for r in results),
        "outputs_corrupted": sum(r["corrupt"] for r in results),
        "inputs_modified": sum(r["inputs_modified"] for r in results),
    }


if __name__ == "__main__":
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as tmp_dir:
        base = Path(tmp_dir)
        roots = {ds: pristine(ds, base) for ds in ("nsd", "bold5000")}
        results = []
        for n, case in enumerate(CASES):
            res = run_case(case, roots, base / f"case{n}")
            res["expected"] = [case.verify, case.outcome]
            results.append(res)
        summary = summarise(results)
        summary["as_expected"] = sum(
            r["verify"] == r["expected"][0] and r["outcome"] == r["expected"][1] for r in results
        )
        print(json.dumps(summary, indent=1))
