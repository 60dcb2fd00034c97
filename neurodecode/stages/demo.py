"""``neurodecode demo``: the whole workflow on the default synthetic world.

Writes the demo experiment (the packaged ``config/config.yaml`` plus a ``synth`` section, so
the workflow first synthesises a two-subject NSD-layout world under ``<out>/sourcedata``) and
runs it with ``neurodecode run``; prints where the subject reports are. Re-running the command
resumes an interrupted demo.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from neurodecode.stages._contract import StageConfig, StageOutputs, StageSpec, option
from neurodecode.stages.synth import PRESETS

__all__ = ["STAGES", "DemoConfig", "DemoOutputs", "run"]


@dataclasses.dataclass(frozen=True)
class DemoConfig(StageConfig):
    """Settings of ``neurodecode demo``.

    Parameters
    ----------
    out : Path
        Output folder (the synthetic release goes to OUT/sourcedata).
    preset : str
        Size of the synthetic world (neurodecode synth's presets).
    cores : int or None
        Local cores (default: all).
    profile : str
        default, slurm or a path to a profile folder.
    dry_run : bool
        List the jobs without running them.
    """

    out: Path = Path("demo_out")
    preset: str = option("demo", choices=PRESETS)
    cores: int | None = option(None, minimum=1)
    profile: str = "default"
    dry_run: bool = False


#: Workflow settings of the ``tiny`` preset's smoke run (its world has a few dozen images per
#: split, so the decoding stages' science is not read from it): small priors, few steps.
SMOKE_SIZES: dict[str, dict[str, Any]] = {
    "reconstruct": {
        "bank_size": 200,
        "steps": 4,
        "n_samples": 1,
        "backbones": ["toy-clip"],
        "n_bootstrap": 100,
    },
    "caption": {"bank_size": 200, "n_bootstrap": 100},
    "scuba": {"bank_size": 500, "n_bootstrap": 100},
    "dive": {
        "num_images": 2,
        "num_candidates": 2,
        "steps": 3,
        "views": 1,
        "n_natural": 3,
        "n_bootstrap": 100,
    },
}


@dataclasses.dataclass(frozen=True)
class DemoOutputs(StageOutputs):
    """The workflow's exit status and the subject reports."""

    status: int
    reports: tuple[Path, ...]


def write_demo_config(config: DemoConfig) -> Path:
    """Write the demo's workflow config into ``config.out`` and return its path."""
    import yaml

    from neurodecode._io import atomic_write
    from neurodecode.stages.run import WORKFLOW_DIR

    cfg = yaml.safe_load((WORKFLOW_DIR / "config" / "config.yaml").read_text(encoding="utf-8"))
    cfg["synth"] = {"preset": config.preset, "seed": cfg["seed"]}
    if config.preset == "tiny":  # a smoke run: the decoding stages at smoke size too
        for section, sizes in SMOKE_SIZES.items():
            if section in cfg:
                cfg[section] = {**(cfg[section] or {}), **sizes}
    path = config.out / "demo.yaml"
    with atomic_write(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(cfg, fh, sort_keys=False)
    return path


def run(config: DemoConfig) -> DemoOutputs:
    """Run the demo; return the workflow's exit status and the reports."""
    from neurodecode.stages import run as run_stage

    result = run_stage.run(
        run_stage.RunConfig(
            config=write_demo_config(config),
            out=config.out,
            cores=config.cores,
            profile=config.profile,
            dry_run=config.dry_run,
        )
    )
    reports: tuple[Path, ...] = ()
    if result.status == 0 and not config.dry_run:
        reports = tuple(sorted(config.out.resolve().glob("sub-*.html")))
    return DemoOutputs(status=result.status, reports=reports)


STAGES = (
    StageSpec(
        "demo",
        "synthesise the default world and run the workflow",
        DemoConfig,
        run,
        exit_status=lambda out: out.status,
        report=lambda out: "\n".join(f"report: {p}" for p in out.reports),
        contract=False,
    ),
)
