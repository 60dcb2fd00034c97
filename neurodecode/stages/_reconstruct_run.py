"""The work of ``neurodecode reconstruct`` (see :mod:`neurodecode.stages.reconstruct`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["reconstruct_and_score"]


def _load_pipeline_parts(cfg: Any) -> dict[str, Any]:
    from neurodecode.decoders import ReconstructionPipeline
    from neurodecode.models import get_model_spec, resolve_weights, weights_checksum

    spec = get_model_spec(cfg.diffusion)
    if spec.library != "diffusers":
        raise ValueError(f"--diffusion {cfg.diffusion}: a {spec.library} model, not diffusers")
    path = resolve_weights(cfg.diffusion, cfg.models_root)
    parts = ReconstructionPipeline.load_components(path)
    for name in ("vae", "unet"):
        parts[name] = parts[name].to(cfg.device)
    parts["path"] = path
    parts["sha256"] = weights_checksum(path / "unet")
    return parts


def _vae_latents(vae: Any, images: np.ndarray, device: str, batch: int = 250) -> np.ndarray:
    import torch

    from neurodecode.models._toy_diffusion import images_to_unit

    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            x = images_to_unit(images[start : start + batch]).to(device)
            z = vae.encode(x).latent_dist.mean * float(vae.config.scaling_factor)
            out.append(z.float().cpu().numpy())
    return np.concatenate(out)


def _derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    while True:
        perm = rng.permutation(n)
        if not np.any(perm == np.arange(n)):
            return perm


def _examples(scores: np.ndarray, k: int) -> dict[str, list[int]]:
    """Rows of the best, median and worst ``k`` reconstructions by a per-image score."""
    order = np.argsort(-scores, kind="stable")
    mid = len(order) // 2 - k // 2
    return {
        "best": order[:k].tolist(),
        "median": order[mid : mid + k].tolist(),
        "worst": order[len(order) - k :][::-1].tolist(),
    }


def reconstruct_and_score(
    cfg: Any, prep: Any, columns: Callable[[Any, str | None], np.ndarray]
) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, Any]]:
    """Fit, reconstruct, score: (results dict, arrays for the npz, decoders by name)."""
    import torch

    from neurodecode.decoders import ReconstructionPipeline, RidgeDecoder
    from neurodecode.decoders._reconstruct_eval import (
        BACKBONE_LAYERS,
        score_reconstructions,
        truth_scores,
    )
    from neurodecode.features import get_extractor
    from neurodecode.metrics import two_way_identification

    timings: dict[str, float] = {}
    t = time.perf_counter()
    X_train, train_ids = prep.select(roi=None, split="train", average_repeats=True)
    X_test, test_ids = prep.select(roi=None, split="test", average_repeats=True)
    X_train, X_test = np.asarray(X_train, np.float32), np.asarray(X_test, np.float32)
    train_ids, test_ids = np.asarray(train_ids, np.int64), np.asarray(test_ids, np.int64)
    train_images = prep.stimuli.images(train_ids)
    test_images = prep.stimuli.images(test_ids)
    timings["read"] = time.perf_counter() - t

    t = time.perf_counter()
    parts = _load_pipeline_parts(cfg)
    root = str(cfg.models_root) if cfg.models_root else None
    clip = get_extractor(cfg.clip_model, device=cfg.device, root=root)
    side = int(parts["unet"].config.sample_size) * 2 ** (
        len(parts["vae"].config.block_out_channels) - 1
    )
    if train_images.shape[1] != side:
        raise ValueError(
            f"--diffusion {cfg.diffusion} makes {side}-pixel images, the "
            f"stimuli are {train_images.shape[1]} pixels"
        )
    lat_train = _vae_latents(parts["vae"], train_images, cfg.device)
    emb_train = clip(train_images)
    given = _given_embeddings(cfg, test_ids, emb_train.shape[1])
    timings["targets"] = time.perf_counter() - t

    t = time.perf_counter()
    decoders = {
        "latent": RidgeDecoder(
            voxels=columns(prep, cfg.latent_roi), alphas=cfg.alphas, n_splits=cfg.n_splits
        ),
        "embedding": RidgeDecoder(
            voxels=columns(prep, cfg.embedding_roi), alphas=cfg.alphas, n_splits=cfg.n_splits
        ),
    }
    decoders["latent"].fit(X_train, lat_train.reshape(len(lat_train), -1), groups=train_ids)
    decoders["embedding"].fit(X_train, emb_train, groups=train_ids)
    timings["fit_decoders"] = time.perf_counter() - t

    pipe = ReconstructionPipeline(
        parts["vae"],
        parts["unet"],
        parts["scheduler"],
        decoders["latent"],
        decoders["embedding"],
        image_encoder=clip,
        conditioning=parts["conditioning"],
    )
    call = {
        "strength": cfg.strength,
        "num_inference_steps": cfg.steps,
        "guidance_scale": cfg.guidance_scale,
        "n_samples": cfg.n_samples,
        "bf16": cfg.bf16,
    }
    from neurodecode.synth import prepared_truth

    truth = prepared_truth(prep, cfg.subject)
    t = time.perf_counter()
    prior_latents, prior_info = _prior_latents(
        cfg, prep, truth, decoders, X_train, train_ids, lat_train, emb_train, X_test, parts, clip
    )
    timings["prior"] = time.perf_counter() - t
    methods = ("full", "latent", "embedding") if cfg.ablations else ("full",)
    recon: dict[str, np.ndarray] = {}
    chosen: dict[str, np.ndarray] = {}
    for mode in methods:
        t = time.perf_counter()
        gen = torch.Generator().manual_seed(cfg.seed)
        out = pipe(X_test, mode=mode, generator=gen, embeddings=given, latents=prior_latents,
                   **call)  # fmt: skip
        recon[mode], chosen[mode] = out.images, out.chosen
        timings[f"reconstruct_{mode}"] = time.perf_counter() - t
    if cfg.ablations and prior_latents is not None:
        out = pipe(X_test, mode="latent", embeddings=given, **call)
        recon["latent_without_prior"], chosen["latent_without_prior"] = out.images, out.chosen
    rng = np.random.default_rng(cfg.seed)
    if cfg.ablations:
        recon["random_image"] = test_images[_derangement(len(test_images), rng)]
        mean_image = train_images.astype(np.float64).mean(axis=0).round().astype(np.uint8)
        recon["mean_image"] = np.repeat(mean_image[None], len(test_images), axis=0)

    t = time.perf_counter()
    backbones = {name: get_extractor(name, device=cfg.device, root=root) for name in cfg.backbones}
    true_feats = {name: np.asarray(ex(test_images)) for name, ex in backbones.items()}
    scores = {
        m: score_reconstructions(
            images,
            test_images,
            backbones,
            truth_features=true_feats,
            n_bootstrap=cfg.n_bootstrap,
            seed=cfg.seed,
        )
        for m, images in recon.items()
    }
    if truth is not None:
        reader = clip.loaded
        attrs = truth.attributes(test_ids)
        for m, images in recon.items():
            scores[m].update(
                truth_scores(
                    images,
                    test_images,
                    attrs,
                    truth,
                    reader,
                    n_bootstrap=cfg.n_bootstrap,
                    seed=cfg.seed,
                )
            )
    timings["metrics"] = time.perf_counter() - t
    per_image = two_way_identification(
        np.asarray(clip(recon["full"])),
        true_feats.get(cfg.clip_model, np.asarray(clip(test_images))),
    )
    result: dict[str, Any] = {
        "subject": cfg.subject,
        "diffusion": cfg.diffusion,
        "diffusion_weights_sha256": parts["sha256"],
        "split_hash": prep.split_hash,
        "n_train": len(train_ids),
        "n_test": len(test_ids),
        "voxels": {k: int(d.voxels_.size) for k, d in decoders.items()},
        "decoders": {
            k: {"median_alpha": float(np.median(d.ridge_.best_alphas_)), "form": d.ridge_.form_}
            for k, d in decoders.items()
        },
        "sampler": {**call, "scheduler": type(parts["scheduler"]).__name__},
        "embedding_source": str(cfg.embeddings) if cfg.embeddings else "ridge decoder",
        "prior": prior_info,
        "methods": scores,
        "chance": _chance(truth, test_ids),
        "metric_card": _metric_card(cfg, backbones, BACKBONE_LAYERS, side),
        "examples": _examples(per_image, cfg.n_examples),
        "example_score": f"two_way/{cfg.clip_model} per image",
        "timings_seconds": {k: round(v, 2) for k, v in timings.items()},
    }
    arrays = {
        "stim_id": test_ids,
        "truth": test_images,
        "two_way_per_image": per_image,
        **{f"recon_{m}": im for m, im in recon.items()},
        **{f"chosen_{m}": c for m, c in chosen.items()},
    }
    return result, arrays, decoders


def _prior_latents(
    cfg: Any, prep: Any, truth: Any, decoders: dict[str, Any], X_train: np.ndarray,
    train_ids: np.ndarray, lat_train: np.ndarray, emb_train: np.ndarray, X_test: np.ndarray,
    parts: dict, clip: Any,
) -> tuple[np.ndarray | None, dict[str, Any] | None]:  # fmt: skip
    """The latent img2img starts from: its posterior mean over a bank of unseen images.

    The likelihood of a bank image is the sum of both decoders' (latent and embedding), each
    under its out-of-fold noise model; the bank is read chunk by chunk (VAE latents and CLIP
    embeddings of each chunk), never held whole. None when ``bank_size`` is 0.
    """
    from neurodecode.decoders import OnlineSoftmaxMean, fit_noise_model, out_of_fold_scores
    from neurodecode.stages._bank import bank_image_chunks, default_bank_size

    size = default_bank_size(train_ids) if cfg.bank_size is None else int(cfg.bank_size)
    if size == 0:
        return None, None
    lat_flat = lat_train.reshape(len(lat_train), -1)
    terms = []
    for name, targets in (("latent", lat_flat), ("embedding", emb_train)):
        dec = decoders[name]
        oof = out_of_fold_scores(dec, X_train, targets, n_splits=cfg.n_splits, seed=cfg.seed)
        noise = fit_noise_model(*oof)
        terms.append((dec, noise, dec.predict_scores(X_test)))
    loaders, sources = bank_image_chunks(prep, truth, size, cfg.subject)
    acc = OnlineSoftmaxMean(len(X_test), lat_flat.shape[1])
    for load in loaders:
        images = load()
        lat = _vae_latents(parts["vae"], images, cfg.device).reshape(len(images), -1)
        features = (lat, np.asarray(clip(images)))
        logits = sum(noise.log_likelihood(pred, dec.transform_targets(f))
                     for (dec, noise, pred), f in zip(terms, features, strict=True))  # fmt: skip
        acc.update(logits / cfg.prior_temperature, lat)
    ess = acc.effective_size()
    info = {"bank_size": acc.n_seen, "sources": sources, "temperature": cfg.prior_temperature,
            "effective_size_median": float(np.median(ess)),
            "effective_size_min": float(ess.min()),
            "noise_models": {name: noise.as_dict()
                             for name, (_, noise, _) in zip(("latent", "embedding"), terms,
                                                            strict=True)}}  # fmt: skip
    posterior = acc.mean().astype(np.float32).reshape(len(X_test), *lat_train.shape[1:])
    return posterior, info


def _given_embeddings(cfg: Any, test_ids: np.ndarray, dim: int) -> np.ndarray | None:
    """The test stimuli's embeddings from ``cfg.embeddings`` (in ``test_ids`` order), if set."""
    if cfg.embeddings is None:
        return None
    from neurodecode.features import read_features

    _, emb = read_features(cfg.embeddings, test_ids)  # names the file and any missing id
    if emb.shape[1] != dim:
        raise ValueError(
            f"{cfg.embeddings}: embeddings of width {emb.shape[1]}, but --clip-model "
            f"{cfg.clip_model} embeds images in {dim} dimensions"
        )
    if not np.all(np.isfinite(emb)):
        raise ValueError(f"{cfg.embeddings}: embeddings hold NaN or infinite values")
    return emb


def _chance(truth: Any, test_ids: np.ndarray) -> dict[str, float]:
    out = {"two_way": 0.5}
    if truth is not None:
        attrs = truth.attributes(test_ids)
        for task, key in (("colour", "main_colour"), ("category", "category")):
            _, counts = np.unique([a[key] for a in attrs], return_counts=True)
            out[task] = float(np.sum((counts / counts.sum()) ** 2))  # a random guess by the prior
    return out


def _metric_card(cfg: Any, backbones: dict[str, Any], layers: dict[str, str], side: int) -> dict:
    card: dict[str, Any] = {
        "pixcorr": f"Pearson r of the flattened RGB pixels (0..1) at {side}x{side}",
        "ssim": f"skimage structural_similarity of rgb2gray images at {side}x{side}, Gaussian "
        "weights sigma 1.5, population covariance, data_range 1",
        "two_way": "share of other test images whose ground-truth features correlate less with "
        "the reconstruction's than its own ground truth's (Pearson; chance 0.5)",
        "correlation_distance": "1 - Pearson r of reconstruction and ground-truth features",
        "colour, category": "the toy CLIP's zero-shot read-out of the reconstruction, against "
        "the world's description of the seen image",
        "two_way/true_response": "two_way on the simulated brain's noise-free responses to the "
        "reconstruction and to the seen image",
        "ci": f"95% percentile bootstrap over test images, {cfg.n_bootstrap} resamples",
        "backbones": {},
    }
    for name, ex in backbones.items():
        card["backbones"][name] = {
            "layer": layers.get(name, "the extractor's output"),
            "weights_sha256": ex.weights_sha256,
            "input_size": getattr(ex.loaded, "image_size", None),
        }
    return card
