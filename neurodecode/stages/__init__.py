"""The pipeline stages: one module per stage, each a frozen Config plus ``run(config)``.

Every stage module exposes ``STAGES``, a tuple of :class:`~neurodecode.stages._contract.StageSpec`
(most hold one; ``models`` holds ``models list`` and one ``models train KIND`` per toy-model
kind). :func:`list_stages` is the registry the CLI and the contract tests read. Stage modules
import heavy libraries only inside ``run``, so listing the stages stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["STAGE_MODULES", "get_stage", "list_stages"]

#: Order of the sub-commands in ``neurodecode --help``.
STAGE_MODULES: tuple[str, ...] = (
    "synth",
    "data",
    "prepare",
    "features",
    "models",
    "encode",
    "contrastive",
    "motion",
    "caption",
    "reconstruct",
    "scuba",
    "dive",
    "evaluate",
    "report",
    "run",
    "demo",
)


def list_stages() -> list[Any]:
    """Every registered :class:`StageSpec`, in ``--help`` order."""
    specs: list[Any] = []
    for name in STAGE_MODULES:
        module = importlib.import_module(f"neurodecode.stages.{name}")
        specs.extend(module.STAGES)
    return specs


def get_stage(name: str) -> Any:
    """The :class:`StageSpec` of a sub-command (``"encode"``, ``"data verify"``...)."""
    for spec in list_stages():
        if spec.name == name:
            return spec
    known = ", ".join(s.name for s in list_stages())
    raise KeyError(f"no stage {name!r}; stages: {known}")
