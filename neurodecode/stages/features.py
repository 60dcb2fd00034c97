"""``neurodecode features``: embed one subject's stimuli with a feature extractor.

Reads the stimulus ids of the prepared cache (``neurodecode prepare --out CACHE``), fetches
their images (or captions, for text extractors) from the release recorded in the cache, and
writes ``CACHE/features/<name>.h5`` (or ``--out``) in the feature-file format of
:func:`neurodecode.features.write_features`, with a JSON sidecar (model name, weights
checksum, throughput). An interrupted run resumes from its ``*.partial.h5`` file; a complete
output is not recomputed.

BOLD5000's images come from three sources at different sizes (stimulus ids index the subject's
sorted image-name table; the files are read from ``Presented_Stimuli``). They are made one size
the way CLIP preprocesses: each image is centre-cropped to a square and resized to the
extractor's input side. A text feature space needs captions for every stimulus; BOLD5000 has
them for its COCO images only, so the stage refuses such a space there instead of writing
rows of NaN.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "FeaturesConfig",
    "prepared_space",
    "register",
    "run",
    "square_images",
    "stimulus_source",
]

#: Grid label of a prepared cache when none is given and none can be found.
DEFAULT_SPACE = "func1pt8mm"
#: Side given to models that state no input size (ImageNet networks: their training size).
FALLBACK_SIDE = 224


@dataclasses.dataclass(frozen=True)
class FeaturesConfig:
    """Settings of the features stage (CLI flags map one to one)."""

    subject: str
    cache: Path
    model: str
    out: Path | None = None
    space: str | None = None
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


def prepared_space(cache: Path, subject: str) -> str:
    """The grid label of the subject's prepared cache under ``cache`` (``func1pt8mm``, ``T1w``).

    Raises ``ValueError`` when the folder holds caches of several grids; with none it returns
    ``func1pt8mm`` (opening it then names the missing cache).
    """
    from neurodecode.data._cache import CachePaths

    folder = CachePaths.of(cache, subject, "*").folder
    prefix, suffix = f"sub-{subject}_space-", "_desc-prepared_bold.json"
    spaces = sorted(p.name[len(prefix) : -len(suffix)] for p in folder.glob(prefix + "*" + suffix))
    if len(spaces) > 1:
        raise ValueError(f"{folder}: prepared caches of grids {spaces}; pass --space")
    return spaces[0] if spaces else DEFAULT_SPACE


def stimulus_source(cache: Path, subject: str, space: str | None = None) -> tuple[Any, Any]:
    """The prepared subject and its stimuli (``.images(ids)``, ``.captions(ids)``).

    ``space`` is the cache's grid label (default: the subject's only prepared cache).
    """
    from neurodecode.data import load_prepared, load_subject

    prep = load_prepared(cache, subject, space or prepared_space(cache, subject))
    stimuli = getattr(prep, "stimuli", None)
    if stimuli is None:
        cfg = prep.config
        release = load_subject(cfg.get("dataset", "nsd"), subject, root=cfg["root"])
        stimuli = release.stimuli
    return prep, stimuli


def square_images(images: Sequence[np.ndarray], side: int | None) -> np.ndarray:
    """Centre-crop each uint8 image ``(H, W, 3)`` to a square, resize it to ``side`` and stack.

    ``side=None`` keeps the cropped size (the images must then agree).
    """
    from PIL import Image

    out = []
    for image in images:
        h, w = image.shape[:2]
        n = min(h, w)
        top, left = (h - n) // 2, (w - n) // 2
        crop = np.ascontiguousarray(image[top : top + n, left : left + n])
        if side is not None and n != side:
            crop = np.asarray(Image.fromarray(crop).resize((side, side), Image.Resampling.BICUBIC))
        out.append(crop)
    if len({im.shape for im in out}) > 1:
        raise ValueError("images differ in size and the extractor has no input size to resize to")
    return np.stack(out) if out else np.empty((0, side or 0, side or 0, 3), np.uint8)


def _input_side(extractor: Any) -> int | None:
    """The image side the extractor's model takes (None for the synthetic truth spaces)."""
    from neurodecode.features import TruthExtractor, VaeLatentExtractor

    if isinstance(extractor, TruthExtractor):
        return None
    if isinstance(extractor, VaeLatentExtractor):
        return extractor.image_size
    return extractor.loaded.image_size or FALLBACK_SIDE


def _check_captions(stimuli: Any, ids: np.ndarray, name: str) -> None:
    captions = stimuli.captions(ids.tolist())
    missing = [i for i, caps in zip(ids.tolist(), captions, strict=True) if not caps]
    if missing:
        raise ValueError(
            f"{name}: {len(missing)} of {ids.size} stimuli have no captions (e.g. stimulus ids "
            f"{missing[:5]}); a text feature space needs every stimulus captioned (BOLD5000 "
            "captions only its COCO images): use an image feature space"
        )


def run(config: FeaturesConfig) -> Path:
    """Extract the features of every stimulus the subject saw; return the output path."""
    from neurodecode._provenance import RunRecord, sidecar_path
    from neurodecode.features import extract_features, get_extractor

    target = config.output()
    if target.exists() and sidecar_path(target).exists():
        return target
    prep, stimuli = stimulus_source(config.cache, config.subject, config.space)
    ids = np.unique(prep.trials["stim_id"].to_numpy().astype(np.int64))
    root = str(config.models_root) if config.models_root else None
    extractor = get_extractor(config.model, device=config.device, bf16=config.bf16, root=root)
    record = RunRecord(stage="features", config=dataclasses.asdict(config), device=config.device)
    if extractor.modality == "text":
        _check_captions(stimuli, ids, config.model)

        def load(batch: Any) -> Any:
            return stimuli.captions(batch.tolist())
    elif prep.config.get("dataset") == "bold5000":
        side = _input_side(extractor)

        def load(batch: Any) -> Any:
            return square_images([stimuli.images([i])[0] for i in batch.tolist()], side)
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
    p.add_argument(
        "--space", help="grid label of the prepared cache (default: the subject's only one)"
    )
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
        space=args.space,
        device=args.device,
        batch_size=args.batch_size,
        bf16=args.bf16,
        models_root=args.models_root,
        progress=not args.no_progress,
    )
    print(f"features: wrote {run(config)}")
    return 0
