"""``neurodecode synth nsd|bold5000``: write the synthetic world as a release tree.

The tree has the real release's layout (DATA_FORMATS.md), so every later stage reads it with
the same code it uses for NSD or BOLD5000 on disk. ``<out>/synth_world.json`` records the world
configuration and the design; it is written last, so its presence marks a complete tree.
Re-running with the same settings rewrites identical files; a tree made with other settings is
refused rather than mixed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["PRESETS", "SynthConfig", "register", "run"]

#: ``--preset`` name -> ``WorldConfig`` class method.
PRESETS = ("tiny", "demo")
MARKER = "synth_world.json"


@dataclasses.dataclass(frozen=True)
class SynthConfig:
    """Settings of one ``neurodecode synth`` run.

    Parameters
    ----------
    dataset : str
        ``'nsd'`` or ``'bold5000'``.
    out : Path
        Release root to write.
    preset : str
        World size preset (``'tiny'`` or ``'demo'``).
    seed : int
        World seed.
    subjects : tuple of str, optional
        Subject labels (default ``subj01 subj02`` for NSD, ``CSI1 CSI2`` for BOLD5000).
    formats : tuple of str
        NSD beta formats.
    trials_per_session : int, optional
        Session length (NSD: must divide the trials; default as in ``write_nsd``).
    """

    dataset: str
    out: Path
    preset: str = "tiny"
    seed: int = 0
    subjects: tuple[str, ...] | None = None
    formats: tuple[str, ...] = ("hdf5", "nii.gz")
    trials_per_session: int | None = None

    def world_config(self) -> Any:
        from neurodecode.data import _bold5000_layout as b5k
        from neurodecode.synth import WorldConfig

        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; one of {PRESETS}")
        base = getattr(WorldConfig, self.preset)(seed=self.seed)
        default = b5k.SUBJECTS[: len(base.subjects)] if self.dataset == "bold5000" else None
        subjects = self.subjects or default
        return dataclasses.replace(base, subjects=tuple(subjects)) if subjects else base


def _record(config: SynthConfig, world_config: Any) -> dict[str, Any]:
    from neurodecode import __version__

    return {
        "dataset": config.dataset,
        "world": dataclasses.asdict(world_config),
        "formats": list(config.formats) if config.dataset == "nsd" else None,
        "trials_per_session": config.trials_per_session,
        "neurodecode_version": __version__,
    }


def run(config: SynthConfig) -> dict[str, Any]:
    """Write the tree; return the record stored in ``synth_world.json``."""
    from neurodecode._io import read_json, write_json_atomic
    from neurodecode.synth import make_world

    world_config = config.world_config()
    record = json.loads(json.dumps(_record(config, world_config)))  # as stored: lists, not tuples
    marker = config.out / MARKER
    if marker.is_file():
        old = read_json(marker)
        same = {k: v for k, v in old.items() if k not in ("neurodecode_version", "design")}
        if same != {k: v for k, v in record.items() if k != "neurodecode_version"}:
            raise ValueError(
                f"{marker}: {config.out} already holds a synthetic {old.get('dataset')} tree made "
                "with other settings; choose another --out or delete it"
            )
    world = make_world(world_config)
    start = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - start:7.1f} s] {message}", flush=True)

    if config.dataset == "nsd":
        from neurodecode.synth._nsd_writer import write_nsd

        design = write_nsd(
            world, config.out, formats=config.formats,
            trials_per_session=config.trials_per_session, progress=progress,
        )  # fmt: skip
        record["design"] = {
            "trials_per_session": design.trials_per_session, "sessions": design.n_sessions
        }  # fmt: skip
    elif config.dataset == "bold5000":
        from neurodecode.synth._bold5000_writer import write_bold5000

        kwargs = {}
        if config.trials_per_session:
            kwargs["trials_per_session"] = config.trials_per_session
        designs = write_bold5000(world, config.out, progress=progress, **kwargs)
        record["design"] = {k: {"session_lengths": list(d.session_lengths)}
                            for k, d in designs.items()}  # fmt: skip
    else:
        raise ValueError(f"dataset must be 'nsd' or 'bold5000', got {config.dataset!r}")
    write_json_atomic(marker, record)
    progress(f"done: {config.dataset} tree of {', '.join(world.subjects)} in {config.out}")
    return record


def register(subparsers: Any) -> None:
    """Add ``neurodecode synth``."""
    p = subparsers.add_parser("synth", help="write the synthetic world as an NSD/BOLD5000 tree")
    p.add_argument("dataset", choices=["nsd", "bold5000"])
    p.add_argument("--out", type=Path, required=True, help="release root to write")
    p.add_argument("--preset", choices=PRESETS, default="tiny", help="world size")
    p.add_argument("--seed", type=int, default=0, help="world seed")
    p.add_argument("--subjects", nargs="+", default=None, help="subject labels")
    p.add_argument("--formats", default="hdf5,nii.gz", help="NSD beta formats, comma-separated")
    p.add_argument("--trials-per-session", type=int, default=None)
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    try:
        run(
            SynthConfig(
                dataset=args.dataset,
                out=args.out,
                preset=args.preset,
                seed=args.seed,
                subjects=tuple(args.subjects) if args.subjects else None,
                formats=tuple(f.strip() for f in args.formats.split(",") if f.strip()),
                trials_per_session=args.trials_per_session,
            )
        )
    except ValueError as exc:
        print(f"neurodecode synth: {exc}", file=sys.stderr)
        return 2
    return 0
