"""``neurodecode prepare``: read a subject's session betas once and write the prepared cache."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("prepare", help="mask, scale and z-score betas into a cache")
    p.add_argument("--dataset", choices=["nsd", "bold5000"], required=True)
    p.add_argument("--root", type=Path, required=True, help="release root")
    p.add_argument("--subject", required=True, help="subject label, e.g. subj01")
    p.add_argument(
        "--out", type=Path, required=True,
        help="cache root (files go to OUT/sub-<subject>/), or the index file "
        "OUT/sub-<subject>/sub-<subject>_space-<space>_desc-prepared_bold.h5 itself",
    )  # fmt: skip
    p.add_argument(
        "--roi", default=None,
        help="ROI/atlas of the voxel columns; 'all': every brain voxel "
        "(default: nsdgeneral for NSD, all for BOLD5000)",
    )  # fmt: skip
    p.add_argument("--format", dest="fmt", choices=["hdf5", "nii.gz"], default="hdf5")
    p.add_argument(
        "--space", default=None, help="grid label (default: func1pt8mm; T1w for BOLD5000)"
    )
    p.add_argument("--sessions", type=int, nargs="+", default=None)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from neurodecode.data._cache import CachePaths
    from neurodecode.data._errors import ReleaseError
    from neurodecode.data._prepare import PrepareConfig, prepare_subject

    if args.space is None:
        args.space = "T1w" if args.dataset == "bold5000" else "func1pt8mm"
    if args.roi is None:
        args.roi = "nsdgeneral" if args.dataset == "nsd" else "all"
    out = Path(args.out)
    if out.suffix == ".h5":  # a Snakemake rule names the index file; the root is two levels up
        expected = CachePaths.of(out.parent.parent, args.subject, args.space).meta
        if out.resolve() != expected.resolve():
            raise SystemExit(f"--out {out}: a file path must be {expected}")
        out = out.parent.parent
    config = PrepareConfig(
        dataset=args.dataset, root=args.root, subject=args.subject, out=out,
        roi=None if args.roi == "all" else args.roi, fmt=args.fmt, space=args.space,
        sessions=tuple(args.sessions) if args.sessions else None,
    )  # fmt: skip

    def progress(items):
        return tqdm(items, desc=f"prepare {args.subject}", unit="session", disable=args.no_progress)

    try:
        paths = prepare_subject(config, progress=progress)
    except ReleaseError as exc:
        print(f"error: {exc}")
        return 1
    print(paths.meta)
    return 0
