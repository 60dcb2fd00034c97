"""Package-level contracts: the layer order of STYLE.md, lint, types, a light import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    exe = shutil.which(name, path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return exe


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_import_layers_are_kept():
    """cli -> stages -> report -> decoders -> encoders -> features -> models -> synth -> data
    -> metrics; data never imports synth; metrics import nothing of ours; no cycles."""
    done = _run(_tool("lint-imports"))
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout
    for layer in ("neurodecode.decoders", "neurodecode.synth", "neurodecode.metrics"):
        assert layer in (ROOT / "pyproject.toml").read_text()


def test_ruff_lint_and_format_are_clean():
    lint = _run(_tool("ruff"), "check", ".")
    assert lint.returncode == 0, lint.stdout[-3000:]
    fmt = _run(_tool("ruff"), "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout[-3000:]


def test_mypy_is_clean():
    done = _run(_tool("mypy"))
    assert done.returncode == 0, done.stdout[-3000:]


def test_import_neurodecode_is_light():
    code = (
        "import sys, neurodecode, neurodecode.data, neurodecode.encoders, neurodecode.decoders,"
        " neurodecode.models, neurodecode.stages; neurodecode.stages.list_stages();"
        " heavy = [m for m in ('torch', 'diffusers', 'open_clip', 'transformers') if m in"
        " sys.modules]; print(heavy)"
    )
    done = _run(sys.executable, "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
