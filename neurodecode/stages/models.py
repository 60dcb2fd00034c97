"""``neurodecode models``: list the registry; train the toy models on the synthetic world.

* ``neurodecode models list``: registered names, library, weights source, and whether the
  weights are on this machine.
* ``neurodecode models train clip --out DIR [--world tiny|demo] [--world-seed N] [--seed N]
  [--steps N] [--lr X] [--warmup N] [--object-fraction F] [--init-from DIR]``: train the toy
  CLIP through open_clip (see :class:`neurodecode.models.ToyClipTrainConfig`), or continue a
  saved one, and write it in open_clip's ``local-dir:`` layout with a model card.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

__all__ = ["register", "run_list", "run_train_clip"]


def run_list() -> list[dict[str, str]]:
    """One row per registered model: name, library, kind, source, status."""
    from neurodecode.models import (
        WeightsNotFoundError,
        get_model_spec,
        list_models,
        resolve_weights,
    )

    rows = []
    for name in list_models():
        spec = get_model_spec(name)
        try:
            status = str(resolve_weights(name))
        except WeightsNotFoundError:
            status = "missing"
        rows.append({"name": name, "library": spec.library, "kind": spec.kind,
                     "source": spec.source, "weights": status})  # fmt: skip
    return rows


def run_train_clip(config: Any, out: Path, device: str = "cpu") -> dict[str, Any]:
    """Train the toy CLIP with ``config`` into ``out``; return the training report."""
    from neurodecode.models import train_toy_clip

    _, _, report = train_toy_clip(
        config, out=out, log=lambda s: print(s, flush=True), device=device
    )
    return report


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("models", help="model registry and toy-model training")
    sub = p.add_subparsers(dest="models_command", metavar="<command>")
    ls = sub.add_parser("list", help="registered models and whether their weights are here")
    ls.set_defaults(func=_main_list)
    train = sub.add_parser("train", help="train a toy model on the synthetic world")
    train.add_argument("model", choices=["clip"])
    train.add_argument("--out", type=Path, required=True)
    train.add_argument(
        "--world",
        choices=["tiny", "demo"],
        default="tiny",
        help="world preset whose stimulus generator (seed, image size) is used",
    )
    train.add_argument("--world-seed", type=int, help="override the preset's seed")
    train.add_argument("--seed", type=int, default=0, help="training seed")
    train.add_argument("--steps", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--n-eval", type=int, help="held-out ids evaluated (default 1000)")
    train.add_argument("--lr", type=float, help="peak learning rate (default 1e-3)")
    train.add_argument("--warmup", type=int, help="warm-up steps (default 50)")
    train.add_argument(
        "--object-fraction",
        type=float,
        help="share of each batch drawn from object images (default: uniform draws)",
    )
    train.add_argument(
        "--init-from", type=Path, help="continue training a toy CLIP saved in this folder"
    )
    train.add_argument("--device", default="cpu")
    train.add_argument("--threads", type=int)
    train.set_defaults(func=_main_train)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _main_list(args: argparse.Namespace) -> int:
    for row in run_list():
        print(f"{row['name']:40s} {row['library']:22s} {row['kind']:10s} {row['weights']}")
    return 0


def _main_train(args: argparse.Namespace) -> int:
    from neurodecode.models import ToyClipTrainConfig
    from neurodecode.synth import WorldConfig

    world = WorldConfig.demo() if args.world == "demo" else WorldConfig.tiny()
    overrides: dict[str, Any] = {
        "seed": args.seed,
        "world_seed": world.seed if args.world_seed is None else args.world_seed,
        "image_size": world.image_size,
    }
    for key in ("steps", "batch_size", "threads", "n_eval", "lr", "warmup", "object_fraction"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    if args.init_from is not None:
        overrides["init_from"] = str(args.init_from)
    config = dataclasses.replace(ToyClipTrainConfig(), **overrides)
    report = run_train_clip(config, args.out, device=args.device)
    print(f"models: wrote {args.out} ({report['metrics']})")
    return 0
