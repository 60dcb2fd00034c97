"""``neurodecode data verify``: check a (partial) release download before preparing it."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register", "run_verify"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("data", help="release utilities")
    sub = p.add_subparsers(dest="data_command", metavar="<command>")
    v = sub.add_parser("verify", help="list missing, truncated or unreadable files")
    v.add_argument("--dataset", choices=["nsd", "bold5000"], required=True)
    v.add_argument("--root", type=Path, required=True)
    v.add_argument("--subject", nargs="+", default=None)
    v.add_argument("--sessions", type=int, nargs="+", default=None)
    v.add_argument("--format", dest="fmt", choices=["hdf5", "nii.gz"], default=None)
    v.add_argument("--out", type=Path, default=None, help="also write a JSON report here")
    v.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    from neurodecode._io import write_json_atomic
    from neurodecode.data._verify import verify_release

    if args.dataset == "bold5000":
        from neurodecode.data._verify_bold5000 import verify_bold5000

        problems = verify_bold5000(args.root, args.subject, args.sessions)
    else:
        problems = verify_release(args.root, args.subject, args.sessions, args.fmt)
    for p in problems:
        print(p)
    if args.out:
        write_json_atomic(args.out, {"root": str(args.root), "ok": not problems,
                                     "problems": [vars(p) for p in problems]})  # fmt: skip
    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0
