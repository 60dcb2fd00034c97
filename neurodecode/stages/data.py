"""``neurodecode data verify``: check a (partial) release download before preparing it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from neurodecode.data._datasets import dataset_names
from neurodecode.stages._contract import (
    EXIT_BAD_INPUT,
    StageConfig,
    StageOutputs,
    StageSpec,
    fill_doc,
    option,
)

__all__ = ["STAGES", "VerifyConfig", "VerifyOutputs", "run"]


@fill_doc
@dataclasses.dataclass(frozen=True)
class VerifyConfig(StageConfig):
    """Settings of ``neurodecode data verify``.

    Parameters
    ----------
    dataset : str
        %(dataset)s
    root : Path
        %(root)s
    subject : tuple of str or None
        Subjects to check (default: every subject found under the root).
    sessions : tuple of int or None
        1-based sessions to check (default: every session present, all of the real release).
    fmt : str or None
        Check only session files of this format (hdf5, nii.gz; default: every format present).
    out : Path or None
        Also write the problems as a JSON report here.
    manifest : Path or None
        A manifest JSON with your own recorded sizes/checksums (default: the packaged one).
    """

    dataset: str = option(choices=dataset_names)
    root: Path = option()
    subject: tuple[str, ...] | None = None
    sessions: tuple[int, ...] | None = option(None, minimum=1)
    fmt: str | None = option(None, choices=("hdf5", "nii.gz"))
    out: Path | None = None
    manifest: Path | None = None


@dataclasses.dataclass(frozen=True)
class VerifyOutputs(StageOutputs):
    """The problems found (empty: every checked file is sound) and the report written."""

    problems: tuple[Any, ...]
    report: Path | None = None


def run(config: VerifyConfig) -> VerifyOutputs:
    """Check the release; write the JSON report when ``out`` is set."""
    from neurodecode._io import read_json, write_json_atomic
    from neurodecode._outputs import StageRun
    from neurodecode.data import get_dataset

    spec = get_dataset(config.dataset)

    def check() -> list[Any]:
        subjects = list(config.subject) if config.subject else None
        sessions = list(config.sessions) if config.sessions else None
        return spec.verify(config.root, subjects, sessions, config.fmt, config.manifest)

    if config.out is None:
        return VerifyOutputs(problems=tuple(check()))
    with StageRun("verify", config, [config.out], [config.root]) as job:
        if job.up_to_date:
            record = read_json(config.out)
            return VerifyOutputs(problems=tuple(record.get("problems", ())), report=config.out)
        problems = check()
        report = {"root": str(config.root), "ok": not problems,
                  "problems": [vars(p) for p in problems]}  # fmt: skip
        write_json_atomic(job.path(config.out), report)
    return VerifyOutputs(problems=tuple(problems), report=config.out)


def _report(out: VerifyOutputs) -> str:
    lines = [str(p) if not isinstance(p, dict) else f"{p['path']}: {p['problem']}"
             for p in out.problems]  # fmt: skip
    return "\n".join([*lines, f"{len(out.problems)} problem(s)"])


STAGES = (
    StageSpec(
        "data verify",
        "list missing, truncated or unreadable files of a release",
        VerifyConfig,
        run,
        exit_status=lambda out: EXIT_BAD_INPUT if out.problems else 0,
        report=_report,
    ),
)
