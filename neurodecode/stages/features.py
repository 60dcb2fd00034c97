"""``neurodecode features``: embed one subject's stimuli with a feature extractor.

Reads the stimulus ids of the prepared cache (``neurodecode prepare --out CACHE``), fetches
their images (or captions, for text extractors) from the release recorded in the cache, and
writes ``CACHE/features/<name>.h5`` (or ``--out``) in the feature-file format of
:func:`neurodecode.features.write_features`, with a JSON sidecar (model name, weights
checksum, throughput). An interrupted run resumes from its ``*.partial.h5`` file; a complete
output is not recomputed.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

__all__ = ["FeaturesConfig", "register", "run", "stimulus_source"]


@dataclasses.dataclass(frozen=True)
class FeaturesConfig:
    """Settings of the features stage (CLI flags map one to one)."""

    subject: str
    cache: Path
    model: str
    out: Path | None = None
    device: str = "cpu"
    batch_size: int = 256
    bf16: bool = False
    models_root: Path | None = None
    progress: bool = True

    def output(self) -> Path:
        """``--out``, or ``CACHE/features/<extractor name>.h5``."""
        from neurodecode.features import get_extractor

        if self.out is not None:
            return self.out
        return self.cache / "features" / f"{get_extractor(self.model).name}.h5"


def stimulus_source(cache: Path, subject: str) -> tuple[Any, Any]:
    """The prepared subject and its stimuli (``.images(ids)``, ``.captions(ids)``)."""
    from neurodecode.data import load_prepared, load_subject

    prep = load_prepared(cache, subject)
    stimuli = getattr(prep, "stimuli", None)
    if stimuli is None:
        cfg = prep.config
        release = load_subject(cfg.get("dataset", "nsd"), subject, root=cfg["root"])
        stimuli = release.stimuli
    return prep, stimuli


def run(config: FeaturesConfig) -> Path:
    """Extract the features of every stimulus the subject saw; return the output path."""
    import numpy as np

    from neurodecode._provenance import RunRecord, sidecar_path
    from neurodecode.features import extract_features, get_extractor

    target = config.output()
    if target.exists() and sidecar_path(target).exists():
        return target
    prep, stimuli = stimulus_source(config.cache, config.subject)
    ids = np.unique(prep.trials["stim_id"].to_numpy().astype(np.int64))
    root = str(config.models_root) if config.models_root else None
    extractor = get_extractor(config.model, device=config.device, bf16=config.bf16, root=root)
    record = RunRecord(stage="features", config=dataclasses.asdict(config), device=config.device)
    if extractor.modality == "text":

        def load(batch: Any) -> Any:
            return stimuli.captions(batch.tolist())
    else:

        def load(batch: Any) -> Any:
            return stimuli.images(batch.tolist())

    stats = extract_features(
        extractor,
        ids,
        load,
        target,
        batch_size=config.batch_size,
        progress=config.progress,
        config={"subject": config.subject},
    )
    record.extra.update(
        {"model": extractor.model, "feature_name": extractor.name, "extraction": stats}
    )
    record.write(target, inputs=[prep.paths.sidecar])
    return target


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("features", help="embed a subject's stimuli (HDF5 by stimulus id)")
    p.add_argument("--subject", required=True)
    p.add_argument("--cache", type=Path, required=True, help="--out of neurodecode prepare")
    p.add_argument("--model", required=True, help="extractor name (see `neurodecode models list`)")
    p.add_argument("--out", type=Path, help="default: CACHE/features/<name>.h5")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast for the forward pass")
    p.add_argument("--models-root", type=Path, help="extra folder searched for weights")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    config = FeaturesConfig(
        subject=args.subject,
        cache=args.cache,
        model=args.model,
        out=args.out,
        device=args.device,
        batch_size=args.batch_size,
        bf16=args.bf16,
        models_root=args.models_root,
        progress=not args.no_progress,
    )
    print(f"features: wrote {run(config)}")
    return 0
