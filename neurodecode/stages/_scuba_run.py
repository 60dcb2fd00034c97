"""The work of ``neurodecode image-bank`` and ``neurodecode scuba`` (see :mod:`.scuba`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["build_bank", "caption_voxels", "load_ridge_encoder"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


# --------------------------------------------------------------------------- the bank
def _world_source(cfg: Any) -> tuple[np.ndarray, Callable[[np.ndarray], Any], Any, list[Path]]:
    import pandas as pd

    from neurodecode.synth import generated_stimuli, is_synthetic_release, load_world
    from neurodecode.synth._oracle import MARKER

    if not is_synthetic_release(cfg.world):
        raise ValueError(
            f"{cfg.world}: not a synthetic release (no {MARKER}), so it has no generator to "
            "draw a bank from; pass --images DIR to embed a folder of images instead"
        )
    world = load_world(cfg.world)
    stimuli = generated_stimuli(world, cfg.size)
    ids = np.arange(world.stimuli.n, stimuli.n, dtype=np.int64)
    attrs = [stimuli.attributes(int(i)) for i in ids]
    table = pd.DataFrame({"id": ids, "source": "generated",
                          "category": [a["category"] for a in attrs],
                          "main_colour": [a["main_colour"] for a in attrs]})  # fmt: skip
    return ids, stimuli.images, table, [Path(cfg.world) / MARKER]


def _folder_source(cfg: Any, side: int | None) -> tuple[np.ndarray, Callable, Any, list[Path]]:
    import pandas as pd

    from neurodecode.stages.features import square_images

    folder = Path(cfg.images)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such image folder")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ValueError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) under it")

    def load(batch: np.ndarray) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        images = []
        for i in batch.tolist():
            try:
                with Image.open(paths[i]) as im:
                    images.append(np.asarray(im.convert("RGB")))
            except (OSError, UnidentifiedImageError) as exc:
                raise ValueError(f"{paths[i]}: not a readable image ({exc})") from exc
        return square_images(images, side)

    table = pd.DataFrame({"id": np.arange(len(paths)), "source": "folder",
                          "path": [str(p.relative_to(folder)) for p in paths]})  # fmt: skip
    # each file's size and mtime where they are few enough to list in the sidecar
    inputs = [folder, *paths] if len(paths) <= 2000 else [folder]
    return np.arange(len(paths), dtype=np.int64), load, table, inputs


def build_bank(cfg: Any, outputs: Any) -> Any:
    """Embed the bank's images into a chunked, resumable feature file and its id table."""
    from neurodecode._outputs import StageRun
    from neurodecode.features import extract_features, get_extractor
    from neurodecode.stages._contract import ConfigError
    from neurodecode.stages.features import _input_side

    if (cfg.world is None) == (cfg.images is None):
        raise ConfigError("scuba bank: give exactly one of --world RELEASE and --images DIR")
    root = str(cfg.models_root) if cfg.models_root else None
    extractor = get_extractor(cfg.model, device=cfg.device, root=root)
    if extractor.modality != "image":
        raise ConfigError(f"scuba bank: --model {cfg.model} is not an image extractor")
    if cfg.world is not None:
        ids, load, table, inputs = _world_source(cfg)
    else:
        ids, load, table, inputs = _folder_source(cfg, _input_side(extractor))
    weights = extractor.weights_path()
    inputs += [weights] if weights is not None else []
    with StageRun("image-bank", cfg, outputs.files(), inputs, device=cfg.device) as job:
        if job.up_to_date:
            return outputs
        bank = outputs.bank
        partial = bank.with_name(f".{bank.name.removesuffix('.h5')}.partial.h5")
        source = {"world": str(cfg.world)} if cfg.world is not None else {"images": str(cfg.images)}
        stats = extract_features(
            extractor, ids, load, job.path(bank), batch_size=cfg.batch_size,
            progress=cfg.progress, config=source, partial=partial, chunk_rows=cfg.chunk_rows,
        )  # fmt: skip
        table.to_csv(job.path(outputs.images), sep="\t", index=False)
        job.record.extra.update({"model": extractor.model, "n": int(ids.size), **source,
                                 "extraction": stats})  # fmt: skip
    return outputs


# --------------------------------------------------------------------------- the captions
def _bank_infos(cfg: Any, dim: int, models: list[str]) -> list[dict[str, Any]]:
    """The banks' feature-file attributes, checked against the encoder's width and models."""
    from neurodecode.features import feature_file_info

    infos = []
    for path in cfg.bank:
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: no such bank file (make it with `image-bank`)")
        try:
            info = feature_file_info(path)
        except (OSError, KeyError) as exc:
            raise ValueError(f"{path}: not a feature file ({exc})") from exc
        if info["dim"] != dim:
            raise ValueError(f"{path}: bank embeddings have {info['dim']} dims; the encoder "
                             f"{cfg.encoder} reads {dim}")  # fmt: skip
        if models and str(info["model"]) not in models:
            raise ValueError(f"{path}: bank embedded by {info['model']}, but the encoder "
                             f"{cfg.encoder} was fitted on features of "
                             f"{', '.join(models)}")  # fmt: skip
        infos.append(info)
    return infos


def _load_encoder(cfg: Any, n_voxels: int) -> tuple[np.ndarray, list[str]]:
    encoder, models = load_ridge_encoder(Path(cfg.encoder), n_voxels)
    return np.asarray(encoder.coef_), models


def load_ridge_encoder(folder: Path, n_voxels: int) -> tuple[Any, list[str]]:
    """A single-space ridge encoder folder of the cache's voxels, and its feature models."""
    from neurodecode._provenance import sidecar_path
    from neurodecode.encoders import RidgeEncoder

    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no encoder folder (fit one with `neurodecode encode`)")
    try:
        encoder = RidgeEncoder.load(folder)
    except (ValueError, KeyError, OSError) as exc:
        raise ValueError(f"{folder}: not a single-space RidgeEncoder folder ({exc})") from exc
    coef = np.asarray(encoder.coef_)
    if coef.ndim != 2 or coef.shape[1] != n_voxels:
        raise ValueError(f"{folder}: the encoder predicts {coef.shape[-1]} voxels; the prepared "
                         f"cache has {n_voxels}")  # fmt: skip
    return encoder, _encoder_models(sidecar_path(folder))


def _encoder_models(side: Path) -> list[str]:
    """Models of the feature files the encoder was fitted on, as far as they can be read.

    The encode sidecar lists the files as that run named them (relative to its working
    folder); files no longer found are skipped, and with none found nothing is checked.
    """
    from neurodecode._io import read_json
    from neurodecode.features import feature_file_info

    if not side.is_file():
        return []
    models = []
    for name in read_json(side).get("feature_files", []):
        try:
            models.append(str(feature_file_info(name)["model"]))
        except (OSError, KeyError, ValueError):
            continue
    return models


def _blocks(paths: tuple[Path, ...]) -> Iterator[np.ndarray]:
    from neurodecode.features import iter_feature_blocks

    for path in paths:
        for _, X in iter_feature_blocks(path):
            yield X


def _voxel_labels(prep: Any) -> tuple[list[str], list[str]]:
    """Each voxel's first ROI label and its atlas (atlases in cache order; "" if none)."""
    n = prep.n_voxels
    label, atlas = [""] * n, [""] * n
    for name, labels in prep.roi_labels.items():
        if len(labels) == 1 and next(iter(labels.values())) == name:
            continue  # a one-label atlas such as nsdgeneral: the whole region, not an ROI
        for value in labels.values():
            if value not in prep.rois:
                continue
            for i in np.flatnonzero(prep.rois[value]):
                if not label[i]:
                    label[i], atlas[i] = value, name
    return label, atlas


def caption_voxels(cfg: Any, outputs_in: Callable[[str], Any]) -> Any:
    """The ``scuba`` stage: project, caption, tag and summarise every voxel.

    ``outputs_in(space)`` gives the stage's outputs for the cache's grid label.
    """
    from neurodecode._outputs import StageRun
    from neurodecode.data import load_prepared

    prep = load_prepared(cfg.cache, cfg.subject, cfg.space)
    outputs = outputs_in(prep.space)
    coef, models = _load_encoder(cfg, prep.n_voxels)
    infos = _bank_infos(cfg, coef.shape[0], models)
    inputs = [prep.paths.sidecar, Path(cfg.encoder), *cfg.bank]
    with StageRun("scuba", cfg, outputs.files(), inputs, seed=cfg.seed, device=cfg.device,
                  split_hash=prep.split_hash) as job:  # fmt: skip
        if job.up_to_date:
            return outputs
        result, table, words, maps = _compute(cfg, prep, coef, infos)
        import nibabel as nib

        from neurodecode._io import write_json_atomic

        table.to_csv(job.path(outputs.captions), sep="\t", index=False)
        words.to_csv(job.path(outputs.words), sep="\t", index=False)
        image = prep.unmask(maps.astype(np.float32))
        data = np.asarray(image.dataobj).astype(np.uint8)
        out_img = nib.Nifti1Image(data, image.affine, image.header)
        out_img.set_data_dtype(np.uint8)
        nib.save(out_img, job.path(outputs.wordmaps))
        write_json_atomic(job.path(outputs.results), result)
        job.record.extra.update({"captioner": cfg.captioner, "map_words": list(cfg.map_words),
                                 "n_bank": result["bank"]["n"]})  # fmt: skip
    return outputs


def _compute(cfg: Any, prep: Any, coef: np.ndarray, infos: list[dict]) -> tuple[Any, ...]:
    import pandas as pd

    from neurodecode.decoders._caption_words import caption_words, word_sets, word_summary
    from neurodecode.decoders._scuba import project_onto_bank, voxel_directions
    from neurodecode.models import load_model
    from neurodecode.models._toy_clipcap import caption_embeddings

    timings: dict[str, float] = {}
    t = time.perf_counter()
    directions, norms = voxel_directions(coef)
    temps: tuple[float, ...] = (float(cfg.temperature),)
    if cfg.ablations:
        temps += tuple(float(x) for x in cfg.ablation_temperatures if x != cfg.temperature)
    proj = project_onto_bank(directions, lambda: _blocks(cfg.bank), temperatures=temps,
                             voxel_batch=cfg.voxel_batch, device=cfg.device)  # fmt: skip
    timings["projection"] = time.perf_counter() - t

    t = time.perf_counter()
    captioner = load_model(cfg.captioner, device=cfg.device, root=cfg.models_root)

    def caption(embeddings: np.ndarray) -> list[str]:
        return caption_embeddings(captioner.model, captioner.tokenizer, embeddings,
                                  num_beams=cfg.num_beams,
                                  max_new_tokens=cfg.max_new_tokens)  # fmt: skip

    captions = caption(proj.embeddings[temps[0]])
    variants: dict[str, list[str]] = {}
    if cfg.ablations:
        variants["raw_direction"] = caption(directions)
        for temp in temps[1:]:
            variants[f"temperature_{temp:g}"] = caption(proj.embeddings[temp])
    timings["captions"] = time.perf_counter() - t

    t = time.perf_counter()
    tagged = caption_words(captions)
    label, atlas = _voxel_labels(prep)
    bank_ids = np.concatenate([np.asarray(i["stim_ids"]) for i in infos])
    bank_file = np.repeat(np.arange(len(infos)), [len(i["stim_ids"]) for i in infos])
    ijk = np.asarray(prep.ijk)
    table = pd.DataFrame({
        "column": np.arange(prep.n_voxels), "i": ijk[:, 0], "j": ijk[:, 1], "k": ijk[:, 2],
        "roi": label, "atlas": atlas, "caption": captions,
        "nouns": [",".join(n) for n, _ in tagged], "adjectives": [",".join(a) for _, a in tagged],
        "weight_norm": norms, "effective_size": proj.effective_size[temps[0]],
        "top_bank_file": bank_file[proj.top_index], "top_bank_id": bank_ids[proj.top_index],
        "top_cosine": proj.top_cosine,
    })  # fmt: skip
    groups = [("all", np.arange(prep.n_voxels))]
    for key in (atlas, label):
        names = sorted({x for x in key if x})
        groups += [(n, np.flatnonzero(np.asarray(key) == n)) for n in names]
    words = pd.DataFrame(word_summary(groups, tagged, top=cfg.n_top_words))
    if words.empty:
        words = pd.DataFrame(columns=["group", "n", "pos", "rank", "word", "count", "share"])
    said = word_sets(captions)  # each caption read once, for every mapped word
    maps = np.array([[w in s for w in cfg.map_words] for s in said], dtype=np.uint8).reshape(
        prep.n_voxels, len(cfg.map_words)
    )
    timings["words"] = time.perf_counter() - t

    result: dict[str, Any] = {
        "subject": cfg.subject, "captioner": cfg.captioner,
        "captioner_weights_sha256": captioner.weights_sha256, "n_voxels": prep.n_voxels,
        "split_hash": prep.split_hash,
        "bank": {"files": [str(p) for p in cfg.bank], "n": proj.n_bank,
                 "models": sorted({str(i["model"]) for i in infos})},
        "temperature": temps[0],
        "projection": {f"{tmp:g}": {"median_effective_size":
                                    float(np.median(proj.effective_size[tmp]))} for tmp in temps},
        "median_top_cosine": float(np.median(proj.top_cosine)),
        "voxels_without_direction": int(np.sum(norms == 0)),
        # in the word maps' volume order (a list: the results file's keys are sorted)
        "map_words": [{"word": w, "voxels": int(maps[:, k].sum())}
                      for k, w in enumerate(cfg.map_words)],
        "summary": words.to_dict(orient="records"),
    }  # fmt: skip
    from neurodecode.synth import prepared_truth

    truth = prepared_truth(prep, cfg.subject)
    result["examples"] = _examples(cfg, prep, truth)
    if truth is not None:
        result["truth_check"] = _check(cfg, prep, truth, captions, variants)
    result["timings_seconds"] = {k: round(v, 2) for k, v in timings.items()}
    return result, table, words, maps


def _category_atlases(prep: Any) -> dict[str, np.ndarray]:
    return {a: np.asarray(prep.rois[a], bool) for a in prep.roi_labels if a in prep.rois}


def _check(cfg: Any, prep: Any, truth: Any, captions: list[str],
           variants: dict[str, list[str]]) -> dict[str, Any]:  # fmt: skip
    from neurodecode.decoders._scuba_eval import selectivity_naming

    def score(texts: list[str]) -> dict[str, Any]:
        return selectivity_naming(texts, truth.population, truth.preference,
                                  _category_atlases(prep), n_bootstrap=cfg.n_bootstrap,
                                  seed=cfg.seed)  # fmt: skip

    out = {"projection": score(captions)}
    out.update({name: score(texts) for name, texts in variants.items()})
    return out


def _examples(cfg: Any, prep: Any, truth: Any) -> dict[str, list[int]]:
    """Voxel columns shown in the report: per atlas, random (tuned, on a synthetic release)."""
    rng = np.random.default_rng(cfg.seed)
    out = {}
    for name, mask in _category_atlases(prep).items():
        pool = np.flatnonzero(mask)
        if truth is not None:
            tuned = pool[np.asarray(truth.population)[pool] != "noise"]
            pool = tuned if tuned.size else pool
        k = min(cfg.n_examples, pool.size)
        out[name] = sorted(int(c) for c in rng.choice(pool, size=k, replace=False)) if k else []
    return out
