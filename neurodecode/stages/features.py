"""``neurodecode features``: embed one subject's stimuli with a feature extractor.

Reads the stimulus ids of the prepared cache (``neurodecode prepare --out CACHE``), fetches
their images (or captions, for text extractors) from the release recorded in the cache, and
writes ``CACHE/sub-S/features/sub-S_desc-<name>_features.h5`` (or ``--out``) in the
feature-file format of :func:`neurodecode.features.write_features`, with a JSON sidecar (model
name, weights checksum, throughput). An interrupted run resumes from its partial file; a
current output (same settings, same cache, same weights) is not recomputed.

Where a release's images differ in size (BOLD5000's three sources; the registry says so) they
are made one size the way CLIP preprocesses: each image is centre-cropped to a square and
resized to the extractor's input side. A text feature space needs captions; BOLD5000 has them
for its COCO images only, so by default the stage refuses such a space there instead of writing
rows of NaN; ``--missing-captions skip`` writes the captioned stimuli only (encoding then uses
the stimuli present in every feature space).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode.stages._contract import StageConfig, StageOutputs, StageSpec, fill_doc, option

__all__ = [
    "STAGES",
    "FeaturesConfig",
    "FeaturesOutputs",
    "feature_path",
    "run",
    "square_images",
]

#: Side given to models that state no input size (ImageNet networks: their training size).
FALLBACK_SIDE = 224


def desc_label(text: str) -> str:
    """A BIDS ``desc`` label: letters and digits only."""
    return re.sub(r"[^A-Za-z0-9]", "", text)


def feature_path(cache: Path, subject: str, name: str) -> Path:
    """Default place of a subject's feature file.

    ``CACHE/sub-S/features/sub-S_desc-N_features.h5``: one folder per subject, so a default path
    never mixes subjects.
    """
    return (
        Path(cache)
        / f"sub-{subject}"
        / "features"
        / (f"sub-{subject}_desc-{desc_label(name)}_features.h5")
    )


@fill_doc
@dataclasses.dataclass(frozen=True)
class FeaturesConfig(StageConfig):
    """Settings of ``neurodecode features``.

    Parameters
    ----------
    subject : str
        %(subject)s
    cache : Path
        %(cache)s
    model : str
        Extractor name (see neurodecode models list).
    out : Path or None
        Output feature file (default: CACHE/sub-S/features/sub-S_desc-NAME_features.h5).
    space : str or None
        %(space)s
    device : str
        Torch device of the extractor (cpu, cuda).
    batch_size : int
        Stimuli embedded per forward pass.
    bf16 : bool
        Run the forward pass under bfloat16 autocast.
    models_root : Path or None
        Extra folder searched for weights.
    missing_captions : str
        Text spaces: 'error' when a stimulus has no caption, or 'skip' such stimuli.
    progress : bool
        Show a progress bar.
    """

    subject: str = option(pattern=r"[A-Za-z0-9]+")
    cache: Path = option()
    model: str = option()
    out: Path | None = None
    space: str | None = option(None, pattern=r"[A-Za-z0-9]+")
    device: str = "cpu"
    batch_size: int = option(256, minimum=1)
    bf16: bool = False
    models_root: Path | None = None
    missing_captions: str = option("error", choices=("error", "skip"))
    progress: bool = True

    def output(self) -> Path:
        """``--out``, or the subject's default feature path for the extractor's name."""
        from neurodecode.features import get_extractor

        if self.out is not None:
            return self.out
        return feature_path(self.cache, self.subject, get_extractor(self.model).name)


@dataclasses.dataclass(frozen=True)
class FeaturesOutputs(StageOutputs):
    """The feature file."""

    features: Path


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


def _captioned(stimuli: Any, ids: np.ndarray, name: str, skip: bool) -> np.ndarray:
    captions = stimuli.captions(ids.tolist())
    has = np.array([bool(caps) for caps in captions], dtype=bool)
    if has.all():
        return ids
    missing = ids[~has]
    if not skip:
        raise ValueError(
            f"{name}: {missing.size} of {ids.size} stimuli have no captions (e.g. stimulus ids "
            f"{missing[:5].tolist()}); a text feature space needs every stimulus captioned "
            "(BOLD5000 captions only its COCO images): use an image feature space, or "
            "--missing-captions skip"
        )
    if not has.any():
        raise ValueError(f"{name}: none of the {ids.size} stimuli has a caption")
    return ids[has]


def run(config: FeaturesConfig) -> FeaturesOutputs:
    """Extract the features of every stimulus the subject saw (or find them current)."""
    from neurodecode._outputs import StageRun
    from neurodecode.data import get_dataset, load_prepared
    from neurodecode.features import extract_features, get_extractor

    target = config.output()
    prep = load_prepared(config.cache, config.subject, config.space)
    root = str(config.models_root) if config.models_root else None
    extractor = get_extractor(config.model, device=config.device, bf16=config.bf16, root=root)
    weights = extractor.weights_path()
    inputs = [prep.paths.sidecar, *([weights] if weights is not None else [])]
    with StageRun(
        "features", config, [target], inputs, device=config.device, split_hash=prep.split_hash
    ) as job:
        if job.up_to_date:
            return FeaturesOutputs(target)
        stimuli = prep.stimuli
        ids = np.unique(prep.trials["stim_id"].to_numpy().astype(np.int64))
        if extractor.modality == "text":
            ids = _captioned(stimuli, ids, config.model, config.missing_captions == "skip")

            def load(batch: Any) -> Any:
                return stimuli.captions(batch.tolist())
        elif not get_dataset(prep.dataset).uniform_image_size:
            side = _input_side(extractor)

            def load(batch: Any) -> Any:
                return square_images([stimuli.images([i])[0] for i in batch.tolist()], side)
        else:

            def load(batch: Any) -> Any:
                return stimuli.images(batch.tolist())

        partial = target.with_name(f".{target.name.removesuffix('.h5')}.partial.h5")
        stats = extract_features(
            extractor, ids, load, job.path(target), batch_size=config.batch_size,
            progress=config.progress, config={"subject": config.subject}, partial=partial,
        )  # fmt: skip
        job.record.extra.update(
            {"model": extractor.model, "feature_name": extractor.name, "extraction": stats}
        )
    return FeaturesOutputs(target)


STAGES = (
    StageSpec("features", "embed a subject's stimuli (HDF5 by stimulus id)", FeaturesConfig, run),
)
