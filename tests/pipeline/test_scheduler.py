"""No set of jobs whose threads exceed --cores runs at once (snakemake/snakemake#3913).

Snakemake 9.10 to 9.16 skipped the resource bookkeeping when exactly one job was ready, so the
cores it had "free" grew with every such job and two ``threads: 2`` jobs later ran together
under ``--cores 2`` (the demo's two contrastive jobs did). The fix is upstream from 9.17, which
pyproject requires; this reproducer runs the real scheduler on the shape that triggered it.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import pytest

pytest.importorskip("snakemake")

SNAKEFILE = """
rule all:
    input: "a.done", "b.done"

rule first:
    output: "common"
    threads: 1
    shell: "touch {output}"

rule job:
    input: "common"
    output: "{x}.done"
    wildcard_constraints: x="a|b"
    threads: 2
    shell:
        "date +%s.%N > {wildcards.x}.start; sleep 1.5;"
        " date +%s.%N > {wildcards.x}.end; touch {output}"
"""


def test_installed_snakemake_has_the_fix():
    major, minor = (int(v) for v in version("snakemake").split(".")[:2])
    assert (major, minor) >= (9, 17)


def test_two_jobs_of_two_threads_run_one_after_the_other_on_two_cores(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "-c", "2", "--directory", str(tmp_path),
         "-s", str(tmp_path / "Snakefile")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    spans = sorted(
        (float((tmp_path / f"{x}.start").read_text()), float((tmp_path / f"{x}.end").read_text()))
        for x in "ab"
    )
    assert spans[0][1] <= spans[1][0], f"the jobs overlapped: {spans}"
