"""The stage contract, checked over every registered stage (a new stage must add its case).

For each stage: ``--help`` lists every setting; a second identical run does nothing and a
changed setting reruns; every output has a sidecar; a run that fails, or is killed, after it
wrote its outputs under temporary names leaves nothing under the final names; two concurrent
runs give one valid result; the CLI and ``run()`` give the same outputs; out-of-range numbers
are refused with a clear error before any work starts.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from neurodecode.cli import build_parser, main
from neurodecode.stages import list_stages
from neurodecode.stages._command_line import config_from_args
from neurodecode.stages._contract import EXIT_BAD_INPUT

from ._contract_cases import CASES, SUBJECT


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A one-subject tiny synthetic release, prepared, with features, encoded and evaluated."""
    base = tmp_path_factory.mktemp("contract")
    root, cache = base / "release", base / "cache"
    assert main(["synth", "nsd", "--preset", "tiny", "--subjects", SUBJECT, "--formats",
                 "hdf5", "--out", str(root)]) == 0  # fmt: skip
    assert main(["prepare", "--dataset", "nsd", "--root", str(root), "--subject", SUBJECT,
                 "--out", str(cache), "--no-progress"]) == 0  # fmt: skip
    for model in ("synth-colour", "toy-clip"):
        assert main(["features", "--subject", SUBJECT, "--cache", str(cache), "--model", model,
                     "--no-progress"]) == 0  # fmt: skip
    enc = base / "encode"
    assert main(["encode", "--subject", SUBJECT, "--cache", str(cache), "--features",
                 "synth-colour", "--out", str(enc), "--n-bootstrap", "20"]) == 0  # fmt: skip
    assert main(["encode", "--subject", SUBJECT, "--cache", str(cache), "--features",
                 "toy-clip", "--desc", "clipimage", "--out", str(enc), "--n-bootstrap",
                 "20"]) == 0  # fmt: skip
    bank = base / "bank" / "bank.h5"
    assert main(["image-bank", "--world", str(root), "--size", "64", "--out", str(bank),
                 "--no-progress"]) == 0  # fmt: skip
    grid = "func1pt8mm"
    score = enc / f"sub-{SUBJECT}_space-{grid}_desc-synthcolour_stat-r_statmap.nii.gz"
    from neurodecode.data import _nsd_layout as nsd

    atlas = root / nsd.roi_path(SUBJECT, "prf-visualrois", grid)
    ctab = root / nsd.ctab_path(SUBJECT, "prf-visualrois")
    table = base / "evaluate" / "table.tsv"
    assert main(["evaluate", "--scores", f"colour={score}", "--atlases", str(atlas),
                 "--labels", f"prf-visualrois={ctab}", "--n-bootstrap", "100",
                 "--out", str(table)]) == 0  # fmt: skip
    from synth._video_tree import bold_moments_tree  # the video world (motion)

    return {"root": root, "cache": cache, "score": score, "atlas": atlas, "ctab": ctab,
            "table": table, "features": cache / f"sub-{SUBJECT}" / "features", "bank": bank,
            "clip_encoder": enc / f"sub-{SUBJECT}_desc-clipimage_model",
            "video": bold_moments_tree(tmp_path_factory)}  # fmt: skip


CONTRACT = [s.name for s in list_stages() if s.contract]


def test_every_stage_under_the_contract_has_a_case():
    assert sorted(CONTRACT) == sorted(CASES), "add the new stage's case to CASES"


def _files(folder: Path) -> dict[Path, int]:
    """Visible files (and their mtimes) under ``folder``; temporaries and locks are hidden."""
    if not folder.exists():
        return {}
    out = {}
    for p in folder.rglob("*"):
        rel = p.relative_to(folder)
        if p.is_file() and not any(part.startswith(".") for part in rel.parts):
            out[p] = p.stat().st_mtime_ns
    return out


def _hidden_temps(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".tmp" in p.name] if folder.exists() else []


def _spec(name: str):
    return next(s for s in list_stages() if s.name == name)


def _config(name: str, argv: list[str]):
    return config_from_args(_spec(name), build_parser().parse_args(argv))


@pytest.mark.parametrize("name", CONTRACT)
def test_help_lists_every_setting(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*name.split(), "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for f in dataclasses.fields(_spec(name).config):
        if f.metadata.get("cli", True) and not f.metadata.get("positional"):
            assert f"--{f.name.replace('_', '-')}" in text, f.name


@pytest.mark.parametrize("name", CONTRACT)
def test_rerun_does_nothing_a_change_reruns_and_every_output_has_a_sidecar(name, world, tmp_path):
    from neurodecode._provenance import sidecar_path

    case = CASES[name]
    out = tmp_path / "out"
    argv = case.argv(world, out)
    assert main(argv) == 0
    outputs = _spec(name).run(_config(name, argv)).files()
    assert outputs
    umask = os.umask(0)
    os.umask(umask)
    for path in outputs:
        assert path.exists() and sidecar_path(path).is_file(), path
        want = (0o777 if path.is_dir() else 0o666) & ~umask
        assert path.stat().st_mode & 0o777 == want, f"{path}: mode {oct(path.stat().st_mode)}"
    first = _files(out)
    assert main(argv) == 0
    assert _files(out) == first, "an identical second run rewrote outputs"
    status = main(argv + case.changed)
    if case.refuses_change:
        assert status == EXIT_BAD_INPUT and _files(out) == first
    else:
        assert status == 0
        changed = _files(out)
        assert any(changed.get(p) != t for p, t in first.items()), "a changed config did not rerun"


@pytest.mark.parametrize("name", CONTRACT)
def test_cli_and_run_give_the_same_outputs(name, world, tmp_path):
    case = CASES[name]
    out = tmp_path / "out"
    argv = case.argv(world, out)
    outputs = _spec(name).run(_config(name, argv)).files()
    stamps = _files(out)
    assert main(argv) == 0  # the CLI resolves the same config: nothing to do
    assert _files(out) == stamps
    assert sorted(outputs) == sorted(p for p in outputs if p.exists())


@pytest.mark.parametrize("name", CONTRACT)
def test_failing_run_leaves_nothing_under_the_final_names(name, world, tmp_path, monkeypatch):
    from neurodecode import _outputs

    def full_disk(self):
        raise OSError(28, "No space left on device (simulated)")

    monkeypatch.setattr(_outputs.StageRun, "_write_sidecars", full_disk)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="No space left"):
        _spec(name).run(_config(name, CASES[name].argv(world, out)))
    assert _files(out) == {}
    assert _hidden_temps(tmp_path) == []


class _Killed(BaseException):
    """Stands for SIGKILL: raised where the process would die, with every cleanup disabled."""


@pytest.mark.parametrize("name", CONTRACT)
def test_killed_run_leaves_nothing_and_the_next_run_finishes(name, world, tmp_path, monkeypatch):
    """A kill just before the commit (all work done, every output under a temporary name):
    the file system is left as SIGKILL leaves it (no cleanup runs), then a run finishes."""
    from neurodecode import _io

    def die(self):
        raise _Killed

    monkeypatch.setattr(_io.OutputTransaction, "commit", die)
    monkeypatch.setattr(_io.OutputTransaction, "abort", lambda self: None)
    out = tmp_path / "out"
    argv = CASES[name].argv(world, out)
    with pytest.raises(_Killed):
        main(argv)
    assert _files(out) == {}, "a killed run left files under final names"
    assert _hidden_temps(tmp_path), "the simulated kill should leave its temporaries behind"
    monkeypatch.undo()
    assert main(argv) == 0
    assert _files(out) and _hidden_temps(tmp_path) == []  # the next run cleaned up


_KILL_BEFORE_COMMIT = """
import os, signal, sys
from neurodecode import _io
def commit(self):
    os.kill(os.getpid(), signal.SIGKILL)
_io.OutputTransaction.commit = commit
from neurodecode.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_real_sigkill_before_the_commit_leaves_nothing(world, tmp_path):
    out = tmp_path / "out"
    argv = CASES["encode"].argv(world, out)
    proc = subprocess.run([sys.executable, "-c", _KILL_BEFORE_COMMIT, *argv],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert _files(out) == {} and _hidden_temps(out)
    assert main(argv) == 0
    assert _files(out) and _hidden_temps(out) == []


@pytest.mark.parametrize("name", CONTRACT)
def test_concurrent_runs_give_one_valid_result(name, world, tmp_path):
    """Two runs at once (threads: each opens the lock file itself, so the OS lock separates
    them exactly as it separates processes)."""
    from concurrent.futures import ThreadPoolExecutor

    out = tmp_path / "out"
    argv = CASES[name].argv(world, out)
    with ThreadPoolExecutor(2) as pool:
        statuses = list(pool.map(lambda _: main(list(argv)), range(2)))
    assert statuses == [0, 0]
    stamps = _files(out)
    outputs = _spec(name).run(_config(name, argv)).files()  # one valid, current result
    assert _files(out) == stamps and all(p.exists() for p in outputs)
    assert _hidden_temps(out) == []


def test_two_processes_at_once_give_one_valid_result(world, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "neurodecode.cli", *CASES["prepare"].argv(world, out)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for _ in range(2)]  # fmt: skip
    for proc in procs:
        text = proc.communicate(timeout=300)[0].decode()
        assert proc.returncode == 0, text[-2000:]
    from neurodecode.data import load_prepared

    prep = load_prepared(out, SUBJECT)
    assert prep.betas.shape[0] == len(prep.trials) and _hidden_temps(out) == []


def _bounded_fields(name: str) -> list[tuple[str, object]]:
    """Each numeric setting with a bound, and a value just outside it."""
    spec = _spec(name)
    hints = typing.get_type_hints(spec.config)
    bad = []
    for f in dataclasses.fields(spec.config):
        meta = f.metadata
        if not meta.get("cli", True) or meta.get("positional"):
            continue
        kind = str(hints[f.name])
        integer = "int" in kind
        if meta.get("minimum") is not None:
            bad.append((f.name, meta["minimum"] - 1 if integer else meta["minimum"] - 0.5))
        elif meta.get("above") is not None:
            bad.append((f.name, meta["above"]))
        if meta.get("maximum") is not None:
            bad.append((f.name, meta["maximum"] + 1))
        elif meta.get("below") is not None:
            bad.append((f.name, meta["below"]))
    return bad


@pytest.mark.parametrize("name", CONTRACT)
def test_out_of_range_numbers_fail_clearly_before_any_work(name, world, tmp_path, capsys):
    bad = _bounded_fields(name)
    for field_name, value in bad:
        out = tmp_path / field_name
        flag = f"--{field_name.replace('_', '-')}"
        argv = [*CASES[name].argv(world, out), flag, str(value)]
        assert main(argv) == EXIT_BAD_INPUT, (field_name, value)
        err = capsys.readouterr().err
        assert flag in err and "must be" in err, err
        assert not out.exists() or _files(out) == {}
    # a value that is not a number at all is refused the same way
    for field_name, _ in bad[:1]:
        flag = f"--{field_name.replace('_', '-')}"
        assert main([*CASES[name].argv(world, tmp_path / "x"), flag, "many"]) == EXIT_BAD_INPUT
        assert flag in capsys.readouterr().err
