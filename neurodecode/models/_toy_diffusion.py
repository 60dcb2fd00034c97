"""The toy latent-diffusion model: a diffusers ``AutoencoderKL`` and ``UNet2DConditionModel``
conditioned on toy-CLIP image embeddings, unCLIP-style, saved as a diffusers pipeline folder.

The UNet reads the image embedding twice, as the real Stable unCLIP does: through its class
embedding (``class_embed_type="projection"``, added to the timestep embedding of every
residual block) and as one cross-attention token. Embeddings are L2-normalised and scaled to
unit RMS (:func:`condition_from_embedding`); the zero vector is the unconditional input that
classifier-free guidance contrasts with.

The folder holds ``model_index.json`` naming each component's library and class, so the
registry loads each one with :func:`neurodecode.models.load_diffusers` (``component="vae"``...)
exactly as it loads the components of a real pipeline folder.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "TOY_DIFFUSION_NAME",
    "ToyDiffusionArchitecture",
    "build_toy_scheduler",
    "build_toy_unet",
    "build_toy_vae",
    "condition_from_embedding",
    "decode_latents",
    "denoise",
    "encode_pool",
    "images_to_unit",
    "save_toy_diffusion",
    "unet_condition_kwargs",
]

TOY_DIFFUSION_NAME = "toy-diffusion"


@dataclasses.dataclass(frozen=True)
class ToyDiffusionArchitecture:
    """Sizes of the toy VAE and UNet.

    Parameters
    ----------
    image_size : int
        Side of the RGB images (the synthetic stimuli's size).
    latent_channels : int
        Channels of the VAE latent; its side is ``image_size / 2**(len(vae_channels) - 1)``.
    vae_channels : tuple of int
        ``block_out_channels`` of the VAE encoder and decoder.
    unet_channels : tuple of int
        ``block_out_channels`` of the UNet; the two lowest resolutions cross-attend.
    embedding_dim : int
        Width of the conditioning image embedding (the toy CLIP's 128).
    attention_heads : int
        Attention heads (diffusers' ``attention_head_dim`` is the number of heads).
    train_timesteps : int
        Diffusion steps of the training schedule (cosine betas).
    """

    image_size: int = 64
    latent_channels: int = 4
    vae_channels: tuple[int, ...] = (32, 64, 64)
    unet_channels: tuple[int, ...] = (48, 96, 128)
    embedding_dim: int = 128
    attention_heads: int = 4
    train_timesteps: int = 1000


def build_toy_vae(arch: ToyDiffusionArchitecture, seed: int = 0) -> Any:
    """A seeded, randomly initialised ``diffusers.AutoencoderKL``."""
    import torch
    from diffusers import AutoencoderKL

    n = len(arch.vae_channels)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return AutoencoderKL(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * n,
            up_block_types=("UpDecoderBlock2D",) * n,
            block_out_channels=tuple(arch.vae_channels),
            layers_per_block=1,
            latent_channels=arch.latent_channels,
            norm_num_groups=16,
            sample_size=arch.image_size,
        )


def build_toy_unet(arch: ToyDiffusionArchitecture, seed: int = 0) -> Any:
    """A seeded, randomly initialised ``diffusers.UNet2DConditionModel`` (see module doc)."""
    import torch
    from diffusers import UNet2DConditionModel

    n = len(arch.unet_channels)
    down = ("DownBlock2D",) * (n - 2) + ("CrossAttnDownBlock2D",) * 2
    up = ("CrossAttnUpBlock2D",) * 2 + ("UpBlock2D",) * (n - 2)
    side = arch.image_size // 2 ** (len(arch.vae_channels) - 1)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return UNet2DConditionModel(
            sample_size=side,
            in_channels=arch.latent_channels,
            out_channels=arch.latent_channels,
            block_out_channels=tuple(arch.unet_channels),
            layers_per_block=1,
            down_block_types=down,
            up_block_types=up,
            cross_attention_dim=arch.embedding_dim,
            attention_head_dim=arch.attention_heads,
            norm_num_groups=16,
            class_embed_type="projection",
            projection_class_embeddings_input_dim=arch.embedding_dim,
        )


def build_toy_scheduler(arch: ToyDiffusionArchitecture) -> Any:
    """The DDIM sampler of the training schedule (cosine betas, epsilon, no clipping).

    ``clip_sample`` is off: latents are not bounded to [-1, 1], and clamping them costs most
    of the colour information.
    """
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        num_train_timesteps=arch.train_timesteps,
        beta_schedule="squaredcos_cap_v2",
        clip_sample=False,
        prediction_type="epsilon",
        set_alpha_to_one=True,
    )


def condition_from_embedding(embedding: Any) -> Any:
    """Image embeddings ``(n, d)`` -> the UNet's condition: L2-normalised, scaled to unit RMS.

    Rows of zeros stay zero (the unconditional input of classifier-free guidance).
    """
    import torch

    e = torch.as_tensor(np.asarray(embedding) if not torch.is_tensor(embedding) else embedding)
    e = e.float()
    norm = e.norm(dim=-1, keepdim=True)
    return torch.where(norm > 0, e / norm.clamp_min(1e-12), e) * (e.shape[-1] ** 0.5)


def save_toy_diffusion(vae: Any, unet: Any, scheduler: Any, out: str | os.PathLike[str]) -> Path:
    """Write a diffusers pipeline folder: ``vae/``, ``unet/``, ``scheduler/``, ``model_index.json``.

    ``unet`` may be ``None`` (a VAE trained alone, to be continued with ``init_from``).

    Weights are stored as fp16 safetensors (``variant`` none, the default file names).
    """
    import diffusers

    from neurodecode._io import write_json_atomic

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    index = {
        "_class_name": "ReconstructionPipeline",
        "_conditioning": "unit_rms",
        "_diffusers_version": diffusers.__version__,
    }
    for name, module in (("vae", vae), ("unet", unet), ("scheduler", scheduler)):
        if module is not None:
            index[name] = ["diffusers", type(module).__name__]
    for name, module in (("vae", vae), ("unet", unet)):
        if module is None:
            continue
        config = {k: v for k, v in module.config.items() if k != "_name_or_path"}  # no paths
        copy = type(module).from_config(config).to(dtype=_half())
        copy.load_state_dict({k: v.to(_half()) for k, v in module.state_dict().items()})
        copy.save_pretrained(out / name, safe_serialization=True)
    scheduler.save_pretrained(out / "scheduler")
    write_json_atomic(out / "model_index.json", index)
    return out


def _half() -> Any:
    import torch

    return torch.float16


def unet_condition_kwargs(
    unet: Any, condition: Any, prompt_embeds: Any | None = None
) -> dict[str, Any]:
    """The UNet's conditioning arguments for image conditions ``(n, d)``.

    * class embedding (``class_embed_type="projection"``): ``class_labels`` is the condition
      when the projection reads ``d`` inputs (the toy model); when it reads ``2 d`` (Stable
      unCLIP), the condition followed by the timestep embedding of noise level 0 (no
      augmentation of the embedding), as unCLIP concatenates them;
    * cross-attention: ``prompt_embeds`` ``(1 or n, tokens, width)`` when given (a real
      model's text embedding of the empty prompt, say), else the condition as one token when
      the UNet cross-attends to width ``d``.
    """
    import torch

    n, d = condition.shape
    kwargs: dict[str, Any] = {}
    if getattr(unet.config, "class_embed_type", None) == "projection":
        width = int(unet.config.projection_class_embeddings_input_dim)
        if width == d:
            kwargs["class_labels"] = condition
        elif width == 2 * d:
            from diffusers.models.embeddings import get_timestep_embedding

            level = get_timestep_embedding(
                torch.zeros(n), d, flip_sin_to_cos=True, downscale_freq_shift=0
            )
            kwargs["class_labels"] = torch.cat([condition, level.to(condition)], dim=1)
        else:
            raise ValueError(
                f"the UNet's class projection reads {width} inputs, the image "
                f"conditions are {d}-d (expected {d} or {2 * d})"
            )
    if prompt_embeds is not None:
        kwargs["encoder_hidden_states"] = prompt_embeds.to(condition).expand(n, -1, -1)
    elif int(unet.config.cross_attention_dim) == d:
        kwargs["encoder_hidden_states"] = condition[:, None]
    else:
        raise ValueError(
            f"the UNet cross-attends to width {unet.config.cross_attention_dim}, the image "
            f"conditions are {d}-d: give prompt_embeds"
        )
    return kwargs


def denoise(
    unet: Any,
    scheduler: Any,
    condition: Any,
    *,
    init_latents: Any | None = None,
    strength: float = 1.0,
    steps: int = 25,
    guidance_scale: float = 3.0,
    generator: Any | None = None,
    shape: tuple[int, ...] | None = None,
    bf16: bool = True,
    prompt_embeds: Any | None = None,
) -> Any:
    """Sample latents conditioned on ``condition``, from noise or from ``init_latents`` (img2img).

    Parameters
    ----------
    unet, scheduler
        A ``UNet2DConditionModel`` and a diffusers scheduler with ``set_timesteps``/``step``.
    condition : tensor ``(n, d)``
        UNet conditions (:func:`condition_from_embedding`).
    init_latents : tensor ``(n, c, h, w)``, optional
        Scaled latents to start from: noised to the level ``strength`` of the schedule, then
        denoised over the last ``round(steps * strength)`` steps (diffusers' img2img rule).
    strength : float
        1.0: start from pure noise (``init_latents`` is then ignored).
    steps : int
        Sampler steps of the whole schedule.
    guidance_scale : float
        Classifier-free guidance against the zero condition (1.0: none).
    generator : torch.Generator, optional
        Makes the noise deterministic.
    shape : tuple, optional
        Latent shape ``(c, h, w)`` when sampling from noise without ``init_latents``.
    bf16 : bool
        bfloat16 autocast of the UNet.
    prompt_embeds : tensor, optional
        Cross-attention tokens (see :func:`unet_condition_kwargs`).

    Returns
    -------
    tensor ``(n, c, h, w)``
        Scaled latents.
    """
    import torch

    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must be in (0, 1], got {strength}")
    n = condition.shape[0]
    scheduler.set_timesteps(steps)
    timesteps = scheduler.timesteps
    if init_latents is not None and strength < 1.0:
        start = steps - max(1, round(steps * strength))
        timesteps = timesteps[start:]
        noise = torch.randn(init_latents.shape, generator=generator)
        latents = scheduler.add_noise(init_latents.float(), noise, timesteps[:1].repeat(n))
    else:
        if shape is None:
            if init_latents is None:
                raise ValueError("give init_latents or shape")
            shape = tuple(init_latents.shape[1:])
        latents = torch.randn((n, *shape), generator=generator)
        latents = latents * float(getattr(scheduler, "init_noise_sigma", 1.0))
    guided = guidance_scale != 1.0
    cond = torch.cat([torch.zeros_like(condition), condition]) if guided else condition
    kwargs = unet_condition_kwargs(unet, cond.float(), prompt_embeds)
    device_type = latents.device.type
    with torch.no_grad():
        for t in timesteps:
            x = torch.cat([latents, latents]) if guided else latents
            x = scheduler.scale_model_input(x, t)
            with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
                eps = unet(x, t, **kwargs).sample.float()
            if guided:
                uncond, cond_eps = eps.chunk(2)
                eps = uncond + guidance_scale * (cond_eps - uncond)
            latents = scheduler.step(eps, t, latents, generator=generator).prev_sample
    return latents


def decode_latents(vae: Any, latents: Any, batch: int = 100) -> np.ndarray:
    """Scaled latents -> uint8 images ``(n, H, W, 3)`` through the VAE decoder."""
    import torch

    out = []
    with torch.no_grad():
        for start in range(0, len(latents), batch):
            z = latents[start : start + batch].float() / float(vae.config.scaling_factor)
            x = vae.decode(z).sample.float().clamp(-1, 1)
            out.append(((x + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0, 0, 3), np.uint8)


def images_to_unit(images: np.ndarray) -> Any:
    """uint8 ``(n, H, W, 3)`` -> float32 ``(n, 3, H, W)`` in [-1, 1] (the VAE's range)."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    return x.div_(127.5).sub_(1.0)


def encode_pool(
    vae: Any, clip: Any, stimuli: Any, ids: np.ndarray, batch: int = 250
) -> tuple[Any, Any]:
    """VAE latent means (unscaled) and CLIP image embeddings of the stimuli ``ids``."""
    import torch

    from neurodecode.models._toy_clip_train import images_to_tensor

    lat, emb = [], []
    with torch.no_grad():
        for start in range(0, len(ids), batch):
            images = stimuli.images(ids[start : start + batch])
            lat.append(vae.encode(images_to_unit(images)).latent_dist.mean.float())
            x = images_to_tensor(images, clip.mean, clip.std)
            emb.append(clip.model.encode_image(x).float())
    return torch.cat(lat), torch.cat(emb)
