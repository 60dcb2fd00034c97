"""Every file a stage reads, damaged every way: a clear error naming it, or a correct result.

The matrix is tests/faults/_matrix.py. The whole matrix runs by default (each case is a copy of
a tiny release and one or two in-process CLI runs). Counts: ``python -m tests.faults._matrix``.
"""

from __future__ import annotations

import pytest

from ._matrix import CASES, pristine, run_case


@pytest.fixture(scope="module")
def pristine_roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("pristine")
    return {ds: pristine(ds, base) for ds in ("nsd", "bold5000")}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_fault(case, pristine_roots, tmp_path):
    result = run_case(case, pristine_roots, tmp_path)
    assert result["verify"] == case.verify, result
    assert result["outcome"] == case.outcome, result
    assert not result["corrupt"], result
    assert not result["inputs_modified"], result
