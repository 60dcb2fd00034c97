"""Command line: ``neurodecode <stage> ...``.

The sub-commands are the registered stages (:func:`neurodecode.stages.list_stages`); each one's
flags are generated from its Config (:mod:`neurodecode.stages._contract`). Stage modules import
heavy libraries only inside their run functions, so ``neurodecode --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from neurodecode import __version__


def build_parser() -> argparse.ArgumentParser:
    from neurodecode.stages import list_stages
    from neurodecode.stages._command_line import add_stage_parser

    parser = argparse.ArgumentParser(
        prog="neurodecode", description="fMRI encoding and decoding on NSD and BOLD5000."
    )
    parser.add_argument("--version", action="version", version=f"neurodecode {__version__}")
    subparsers = parser.add_subparsers(dest="stage", metavar="<stage>")
    groups: dict[tuple[str, ...], argparse._SubParsersAction] = {(): subparsers}
    for spec in list_stages():
        words = tuple(spec.name.split())
        for depth in range(1, len(words)):
            prefix = words[:depth]
            if prefix not in groups:
                group = groups[words[: depth - 1]].add_parser(
                    words[depth - 1], help=f"{' '.join(prefix)} commands"
                )
                group.set_defaults(func=_help_of(group))
                groups[prefix] = group.add_subparsers(dest=f"command_{depth}", metavar="<command>")
        add_stage_parser(groups[words[:-1]], spec, words[-1])
    return parser


def _help_of(parser: argparse.ArgumentParser):
    def show(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return show


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
