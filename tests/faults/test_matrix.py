"""Every file a stage reads, damaged every way: a clear error naming it, or a correct result.

The matrix is tests/faults/_matrix.py. The whole matrix runs by default (each case is a copy of
a tiny release and one or two in-process CLI runs). Counts: ``python -m tests.faults._matrix``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from neurodecode.cli import main

from ._matrix import (
    CASES,
    FAULTS,
    SUBJECT,
    copy_tree,
    digest,
    features_argv,
    final_outputs,
    outputs_valid,
    pristine,
    stage_argv,
)


@pytest.fixture(scope="module")
def pristine_roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("pristine")
    return {ds: pristine(ds, base) for ds in ("nsd", "bold5000")}


def run_case(case, pristine_roots, tmp: Path, capsys) -> dict:
    root = copy_tree(pristine_roots[case.dataset], tmp / "release")
    target = root / case.file
    assert target.exists(), target
    FAULTS[case.fault](target)
    before = digest(root)
    name = Path(case.file).name
    result: dict = {"case": case.id}
    capsys.readouterr()
    status = main(["data", "verify", "--dataset", case.dataset, "--root", str(root),
                   "--subject", SUBJECT[case.dataset]])  # fmt: skip
    text = "".join(capsys.readouterr())
    result["verify"] = "error" if status == 2 and name in text else "ok" if status == 0 else text
    out = tmp / "out"
    if case.stage.startswith("prepare"):
        status = main(stage_argv(case, root, out))
    else:
        assert main(stage_argv(case, root, out)) == 0, "prepare reads none of these files"
        capsys.readouterr()
        status = main(features_argv(case, out))
    text = "".join(capsys.readouterr())
    if status == 2 and name in text:
        result["outcome"] = "error"
        ran_last = out / "f.h5" if not case.stage.startswith("prepare") else out / "cache"
        result["corrupt"] = (
            ran_last.exists()
            and any(final_outputs(ran_last.parent))
            and (not case.stage.startswith("prepare") and (out / "f.h5").exists())
        )
    elif status == 0:
        result["outcome"] = "ok"
        result["corrupt"] = not outputs_valid(out)
    else:
        result["outcome"] = f"exit {status}: {text[-500:]}"
        result["corrupt"] = False
    if case.stage.startswith("prepare") and result["outcome"] == "error":
        result["corrupt"] = bool(final_outputs(out)) if out.exists() else False
    result["inputs_modified"] = digest(root) != before
    return result


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_fault(case, pristine_roots, tmp_path, capsys):
    result = run_case(case, pristine_roots, tmp_path, capsys)
    assert result["verify"] == case.verify, result
    assert result["outcome"] == case.outcome, result
    assert not result["corrupt"], result
    assert not result["inputs_modified"], result
