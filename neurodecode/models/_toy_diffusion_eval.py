"""Held-out quality of the toy latent-diffusion model, read by the toy CLIP.

* the **VAE ceiling**: colour, shape and category of the VAE's reconstructions of held-out
  stimuli (nothing decoded from a brain can carry more through the latent);
* **conditioned samples**: images sampled from noise, conditioned on each held-out stimulus's
  own toy-CLIP image embedding, must keep its colour and category;
* the same read-out of the true images (the reader's own accuracy).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["evaluate_toy_diffusion"]


def evaluate_toy_diffusion(
    vae: Any, unet: Any, scheduler: Any, clip: Any, stimuli: Any, config: Any, log: Callable
) -> dict[str, Any]:
    """Attribute accuracies (toy CLIP, zero-shot) of true, VAE-reconstructed and sampled images.

    ``config`` supplies ``n_eval``, ``eval_steps``, ``guidance_scale``, ``seed`` and ``bf16``.
    """
    import time

    import torch

    from neurodecode.models._toy_clip_train import (
        attribute_accuracy,
        images_to_tensor,
        zero_shot_attributes,
    )
    from neurodecode.models._toy_diffusion import (
        condition_from_embedding,
        decode_latents,
        denoise,
        encode_pool,
    )

    t0 = time.perf_counter()
    ids = np.arange(config.n_eval)
    attrs = [stimuli.attributes(int(i)) for i in ids]
    true_images = stimuli.images(ids)
    latents, emb = encode_pool(vae, clip, stimuli, ids)
    scale = float(vae.config.scaling_factor)
    recon = decode_latents(vae, latents * scale)
    gen = torch.Generator().manual_seed(config.seed)
    sampled = []
    for start in range(0, len(ids) if unet is not None else 0, 100):
        cond = condition_from_embedding(emb[start : start + 100])
        z = denoise(
            unet,
            scheduler,
            cond,
            steps=config.eval_steps,
            guidance_scale=config.guidance_scale,
            generator=gen,
            shape=tuple(latents.shape[1:]),
            bf16=config.bf16,
        )
        sampled.append(decode_latents(vae, z))

    def read(images: np.ndarray) -> dict[str, float]:
        with torch.no_grad():
            x = images_to_tensor(images, clip.mean, clip.std)
            f = torch.nn.functional.normalize(clip.model.encode_image(x).float(), dim=-1)
        return attribute_accuracy(zero_shot_attributes(clip.model, clip.tokenizer, f), attrs)

    diff = recon.astype(np.float32) - true_images.astype(np.float32)
    metrics = {
        "n": len(ids),
        "true_images": read(true_images),
        "vae_reconstruction": read(recon),
        "vae_psnr_db": float(10 * np.log10(255.0**2 / np.mean(diff**2))),
        "conditioned_samples": read(np.concatenate(sampled)) if sampled else None,
        "sampler": {
            "steps": config.eval_steps,
            "guidance_scale": config.guidance_scale,
            "scheduler": type(scheduler).__name__,
        },
        "eval_seconds": round(time.perf_counter() - t0, 1),
    }
    log("held-out: " + ", ".join(f"{k} {v}" for k, v in metrics.items() if isinstance(v, dict)))

    return metrics
