"""The work of ``neurodecode dive`` (see :mod:`neurodecode.stages.dive`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["check_targets", "load_voxel_encoder", "synthesise"]


def _mask(prep: Any, name: str) -> np.ndarray:
    if name not in prep.rois:
        raise ValueError(f"no ROI {name!r} in the cache; ROIs: {sorted(prep.rois)}")
    mask = np.asarray(prep.rois[name], bool)
    if not mask.any():
        raise ValueError(f"ROI {name!r} has no voxels in the cache")
    return mask


def check_targets(prep: Any, names: list[str], contrast: str | None) -> None:
    """Every ROI named exists and has voxels; a contrast's two ROIs differ."""
    if not names:
        raise ValueError("dive: give at least one --roi")
    for name in names + ([contrast] if contrast else []):
        _mask(prep, name)
    if contrast and contrast == names[0]:
        raise ValueError(f"dive: --contrast {contrast} is the first --roi itself")


def load_voxel_encoder(cfg: Any, n_voxels: int) -> Any:
    """The subject's ridge encoder, checked against the cache and ``cfg.clip_model``."""
    from neurodecode.stages._scuba_run import load_ridge_encoder

    encoder, models = load_ridge_encoder(Path(cfg.encoder), n_voxels)
    if models and cfg.clip_model not in models:
        raise ValueError(
            f"{cfg.encoder}: the encoder was fitted on features of {', '.join(models)}, not "
            f"--clip-model {cfg.clip_model}"
        )
    return encoder


def _roi_means(prep: Any, names: list[str]) -> list[Any]:
    from neurodecode.decoders import VoxelTarget

    return [VoxelTarget.mean_of(n, _mask(prep, n)) for n in names]


def _targets(cfg: Any, prep: Any, names: list[str]) -> list[Any]:
    from neurodecode.decoders import VoxelTarget

    targets = _roi_means(prep, names)
    if cfg.contrast:
        a, b = names[0], cfg.contrast
        targets.append(VoxelTarget.contrast(a, _mask(prep, a), b, _mask(prep, b)))
    return targets


def _pipeline(cfg: Any, encoder: Any) -> tuple[Any, dict[str, Any]]:
    import torch

    from neurodecode.decoders import (
        BrainGuidedDiffusionPipeline,
        ImageVoxelEncoder,
        null_condition_kwargs,
    )
    from neurodecode.models import load_clip
    from neurodecode.stages._reconstruct_run import _load_pipeline_parts

    clip = load_clip(cfg.clip_model, device=cfg.device, root=cfg.models_root)
    voxel_encoder = ImageVoxelEncoder.from_models(clip, encoder).to(cfg.device)
    parts = _load_pipeline_parts(cfg)
    null = null_condition_kwargs(parts["path"], parts["unet"])
    null = {k: v.to(cfg.device) if torch.is_tensor(v) else v for k, v in null.items()}
    pipe = BrainGuidedDiffusionPipeline(parts["vae"], parts["unet"], parts["scheduler"],
                                        voxel_encoder, null)  # fmt: skip
    info = {"clip": clip, "sha256": parts["sha256"], "scheduler": type(parts["scheduler"]).__name__}
    return pipe, info


def _to_unit(images: np.ndarray, device: str) -> Any:
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    return (x / 127.5 - 1).to(device)


def _predict(encoder: Any, images: np.ndarray, device: str, batch: int = 256) -> np.ndarray:
    """Predicted responses ``(n, n_voxels)`` of uint8 images."""
    import torch

    out = []
    with torch.no_grad():
        for s in range(0, len(images), batch):
            out.append(encoder(_to_unit(images[s : s + batch], device)).double().cpu().numpy())
    return np.concatenate(out) if out else np.empty((0, 0))


def _natural(prep: Any, truth: Any, pipe: Any, weights: dict[str, np.ndarray], device: str,
             chunk: int = 256) -> dict[str, Any]:  # fmt: skip
    """Scores of the subject's natural stimuli under each named voxel weighting.

    ``measured`` (repeat-averaged betas), ``predicted`` (the encoder) and, on a synthetic
    release, ``true`` (the oracle): each a dict name -> ``(n_stimuli,)``. Images are read
    chunk by chunk and only the scores are kept, so a full NSD subject's 10,000 stimuli are
    never in memory at once.
    """
    names = list(weights)
    w = np.stack([weights[n] for n in names], axis=1)  # (n_voxels, n_weightings)
    betas, ids = prep.select(roi=None, split=None, average_repeats=True)
    measured = np.asarray(betas, np.float32) @ w.astype(np.float32)
    del betas
    predicted, true = [], []
    for s in range(0, len(ids), chunk):
        images = prep.stimuli.images(ids[s : s + chunk])
        predicted.append(_predict(pipe.encoder, images, device) @ w)
        if truth is not None:
            true.append(truth.true_response(images).astype(np.float64) @ w)

    def by_name(m: np.ndarray) -> dict[str, np.ndarray]:
        return {n: np.asarray(m[:, j], np.float64) for j, n in enumerate(names)}

    return {
        "ids": np.asarray(ids, np.int64),
        "measured": by_name(measured),
        "predicted": by_name(np.concatenate(predicted)),
        "true": by_name(np.concatenate(true)) if truth is not None else None,
    }


def _roi_category(truth: Any, mask: np.ndarray) -> str | None:
    """The category most of the ROI's category-tuned voxels prefer (None if none is tuned)."""
    from neurodecode.synth import CATEGORY_FEATURES

    pref = np.asarray(truth.preference)[mask]
    tuned = pref[np.isin(pref, CATEGORY_FEATURES)]
    if tuned.size == 0:
        return None
    values, counts = np.unique(tuned, return_counts=True)
    return str(values[np.argmax(counts)])


def _estimate(values: np.ndarray, cfg: Any) -> dict[str, Any]:
    from neurodecode.metrics import bootstrap_mean

    return bootstrap_mean(values, n_bootstrap=cfg.n_bootstrap, seed=cfg.seed).as_dict()


def _score_images(cfg: Any, images: np.ndarray, predicted: np.ndarray, target: Any,
                  masks: dict[str, np.ndarray], truth: Any, reader: Any,
                  category: str | None) -> tuple[dict[str, Any], dict]:  # fmt: skip
    """Scores of one image set: predicted, and on a synthetic release true and category."""
    out: dict[str, Any] = {"n": len(images), "predicted": _estimate(predicted, cfg)}
    arrays: dict[str, np.ndarray] = {"predicted": np.asarray(predicted, np.float64)}
    if truth is None:
        return out, arrays
    true = truth.true_response(images).astype(np.float64)
    arrays["true"] = target.score(true)
    out["true"] = _estimate(arrays["true"], cfg)
    out["true_roi"] = {n: _estimate(true[:, m].mean(axis=1), cfg) for n, m in masks.items()}
    if category is not None:
        from neurodecode.models import zero_shot_attributes

        read = zero_shot_attributes(reader.model, reader.tokenizer, images, device=cfg.device)
        arrays["category"] = np.asarray(read["category"])
        out["category"] = _estimate(arrays["category"] == category, cfg)
        out["category_read"] = {c: int(np.sum(arrays["category"] == c))
                                for c in np.unique(arrays["category"])}  # fmt: skip
    return out, arrays


def synthesise(cfg: Any, prep: Any, encoder: Any,
               names: list[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:  # fmt: skip
    """Synthesise and score every target: (results dict, arrays for the npz)."""
    import torch

    from neurodecode.synth import prepared_truth

    timings: dict[str, float] = {}
    t = time.perf_counter()
    pipe, info = _pipeline(cfg, encoder)
    truth = prepared_truth(prep, cfg.subject)
    targets = _targets(cfg, prep, names)
    rois = list(dict.fromkeys([*names, *([cfg.contrast] if cfg.contrast else [])]))
    weighting = {f"target:{tg.name}": tg.weights for tg in targets}
    weighting.update({f"roi:{tg.name}": tg.weights for tg in _roi_means(prep, rois)})
    natural = _natural(prep, truth, pipe, weighting, cfg.device)
    timings["load_and_natural"] = time.perf_counter() - t
    call = {"num_images": cfg.num_images, "num_candidates": cfg.num_candidates,
            "steps": cfg.steps, "normalize_gradient": cfg.normalize_gradient,
            "guidance_stop": cfg.guidance_stop, "views": cfg.views,
            "gradient_through_unet": cfg.gradient_through_unet,
            "batch_size": cfg.batch_size, "bf16": cfg.bf16}  # fmt: skip
    arms = {"guided": cfg.guidance_scale, **({"control": 0.0} if cfg.control else {})}
    results, arrays = [], {"natural_ids": natural["ids"]}
    for k, target in enumerate(targets):
        parts = [target.name] if k < len(names) else [names[0], cfg.contrast]
        masks = {n: _mask(prep, n) for n in parts}
        category = _roi_category(truth, masks[parts[0]]) if truth is not None else None
        entry: dict[str, Any] = {"name": target.name, "rois": parts,
                                 "kind": "roi" if len(parts) == 1 else "contrast",
                                 "voxels": {n: int(m.sum()) for n, m in masks.items()},
                                 "category": category}  # fmt: skip
        entry["natural"] = _natural_scores(cfg, prep, natural, target, masks, arrays, k)
        for arm, scale in arms.items():
            t = time.perf_counter()
            gen = torch.Generator().manual_seed(cfg.seed + k)  # the same noise in both arms
            out = pipe(target, guidance_scale=scale, generator=gen, **call)
            timings[f"{target.name}/{arm}"] = time.perf_counter() - t
            scores, per_image = _score_images(cfg, out.images, out.predicted, target, masks,
                                              truth, info["clip"], category)  # fmt: skip
            scores["guidance_scale"] = scale
            scores["candidate_predicted_mean"] = float(np.mean(out.candidate_predicted))
            entry[arm] = scores
            arrays[f"{k}_{arm}_images"] = out.images
            arrays.update({f"{k}_{arm}_{key}": v for key, v in per_image.items()})
        results.append(entry)
    result = {
        "subject": cfg.subject, "diffusion": cfg.diffusion,
        "diffusion_weights_sha256": info["sha256"], "clip_model": cfg.clip_model,
        "encoder": str(cfg.encoder), "split_hash": prep.split_hash,
        "n_natural": int(natural["ids"].size),
        "sampler": {**call, "guidance_scale": cfg.guidance_scale,
                    "scheduler": info["scheduler"], "seed": cfg.seed},
        "synthetic": truth is not None, "targets": results,
        "definitions": _definitions(cfg),
        "timings_seconds": {k: round(v, 2) for k, v in timings.items()},
    }  # fmt: skip
    return result, arrays


def _natural_scores(cfg: Any, prep: Any, natural: dict[str, Any], target: Any,
                    masks: dict[str, Any], arrays: dict[str, np.ndarray],
                    k: int) -> dict[str, Any]:  # fmt: skip
    """The natural stimuli's scores of one target, and its top ``n_natural`` of them."""
    key = f"target:{target.name}"
    measured, predicted = natural["measured"][key], natural["predicted"][key]
    top = np.argsort(-measured, kind="stable")[: cfg.n_natural]
    out: dict[str, Any] = {
        "n": int(measured.size),
        "top_ids": natural["ids"][top].tolist(),
        "top_measured": _estimate(measured[top], cfg),
        "top_predicted": _estimate(predicted[top], cfg),
        "predicted_all": _estimate(predicted, cfg),
    }
    arrays[f"{k}_natural_top_ids"] = natural["ids"][top]
    arrays[f"{k}_natural_top_images"] = prep.stimuli.images(natural["ids"][top])
    arrays[f"{k}_natural_top_measured"] = measured[top]
    arrays[f"{k}_natural_top_predicted"] = predicted[top]
    if natural["true"] is not None:
        true = natural["true"][key]
        out["true_p90"] = float(np.percentile(true, 90))
        out["true_all"] = _estimate(true, cfg)
        out["top_true"] = _estimate(true[top], cfg)
        out["true_roi_p90"] = {n: float(np.percentile(natural["true"][f"roi:{n}"], 90))
                               for n in masks}  # fmt: skip
        arrays[f"{k}_natural_top_true"] = true[top]
    return out


def _definitions(cfg: Any) -> dict[str, str]:
    return {
        "score": "the target's mean response over its voxels (a contrast: the mean over ROI A "
        "minus the mean over ROI B), in the units of the betas",
        "predicted": "the score of the encoder's prediction (CLIP image tower + ridge readout)",
        "measured": "the score of the repeat-averaged betas of a natural stimulus",
        "true": "the score of the simulated brain's noise-free response (synthetic releases)",
        "true_p90": "90th percentile of the true scores of the subject's natural stimuli",
        "category": "share of images the CLIP reads (zero-shot) as the category most of the "
        "ROI's category-tuned voxels prefer",
        "ci": f"95% percentile bootstrap over images, {cfg.n_bootstrap} resamples",
    }
