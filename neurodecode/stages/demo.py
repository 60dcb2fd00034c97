"""``neurodecode demo``: the whole workflow on the default synthetic world.

Writes the demo experiment (the packaged ``config/config.yaml`` plus a ``synth`` section, so
the workflow first synthesises a two-subject NSD-layout world under ``<out>/sourcedata``) and
runs it with ``neurodecode run``; prints where the subject reports are. Re-running the command
resumes an interrupted demo.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

__all__ = ["DemoConfig", "register", "run"]


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Settings of ``neurodecode demo``.

    Parameters
    ----------
    out : Path
        Derivatives folder (the synthetic release goes to ``<out>/sourcedata``).
    preset : str
        Size preset of the synthetic world (``neurodecode synth``'s presets).
    cores, profile, dry_run
        As for ``neurodecode run``.
    """

    out: Path = Path("demo_out")
    preset: str = "demo"
    cores: int | None = None
    profile: str = "default"
    dry_run: bool = False


def write_demo_config(config: DemoConfig) -> Path:
    """Write the demo's workflow config into ``config.out`` and return its path."""
    import yaml

    from neurodecode._io import atomic_write
    from neurodecode.stages.run import WORKFLOW_DIR

    cfg = yaml.safe_load((WORKFLOW_DIR / "config" / "config.yaml").read_text(encoding="utf-8"))
    cfg["synth"] = {"preset": config.preset, "seed": cfg["seed"]}
    path = config.out / "demo.yaml"
    with atomic_write(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(cfg, fh, sort_keys=False)
    return path


def run(config: DemoConfig) -> int:
    """Run the demo; return the workflow's exit status."""
    from neurodecode.stages import run as run_stage

    status = run_stage.run(
        run_stage.RunConfig(
            config=write_demo_config(config),
            out=config.out,
            cores=config.cores,
            profile=config.profile,
            dry_run=config.dry_run,
        )
    )
    if status == 0 and not config.dry_run:
        for report in sorted(config.out.resolve().glob("sub-*.html")):
            print(f"report: {report}")
    return status


def register(subparsers: Any) -> None:
    """Add ``neurodecode demo``."""
    from neurodecode.stages.run import add_run_arguments

    p = subparsers.add_parser("demo", help="synthesise the default world and run the workflow")
    p.add_argument("--out", type=Path, default=DemoConfig.out, help="output folder")
    p.add_argument("--preset", default=DemoConfig.preset, help="synthetic world size preset")
    add_run_arguments(p)
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    try:
        return run(
            DemoConfig(
                out=args.out,
                preset=args.preset,
                cores=args.cores,
                profile=args.profile,
                dry_run=args.dry_run,
            )
        )
    except (ValueError, RuntimeError) as exc:
        print(f"neurodecode demo: {exc}", file=sys.stderr)
        return 2
