"""Command line: ``neurodecode <stage> ...``.

Each stage lives in ``neurodecode.stages.<name>`` and exposes ``register(subparsers)``, which
adds its sub-command and sets ``func`` (called with the parsed arguments, returning an exit
status). Stage modules import heavy libraries only inside their run functions, so
``neurodecode --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from neurodecode import __version__

#: Order of the sub-commands in ``--help``.
STAGE_MODULES: tuple[str, ...] = (
    "synth",
    "data",
    "prepare",
    "features",
    "models",
    "encode",
    "contrastive",
    "evaluate",
    "report",
    "run",
    "demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurodecode", description="fMRI encoding and decoding on NSD and BOLD5000."
    )
    parser.add_argument("--version", action="version", version=f"neurodecode {__version__}")
    subparsers = parser.add_subparsers(dest="stage", metavar="<stage>")
    for name in STAGE_MODULES:
        module = importlib.import_module(f"neurodecode.stages.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
