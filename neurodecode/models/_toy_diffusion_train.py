"""Training of the toy latent-diffusion model on synthetic stimuli, through diffusers.

Two parts, each resumable from a saved folder:

1. **VAE**: ``AutoencoderKL`` on freshly rendered stimuli (ids from ``train_offset`` upwards,
   never the ids ``0..`` that worlds show their subjects), mean squared error plus a small KL.
2. **UNet**: a pool of ``n_pool`` training stimuli is encoded once (VAE latent means, scaled by
   ``1 / std``, the VAE's ``scaling_factor``; toy-CLIP image embeddings), then the UNet learns
   the noise of the cosine schedule with min-SNR weighting. The embedding is dropped (zeroed)
   for ``uncond_fraction`` of each batch (classifier-free guidance), and perturbed for the
   rest (``embedding_noise``), so the model tolerates the imperfect embeddings decoded from
   a brain.

Evaluation (:mod:`neurodecode.models._toy_diffusion_eval`) uses held-out ids ``0..n_eval-1``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode.models._toy_diffusion import (
    ToyDiffusionArchitecture,
    build_toy_scheduler,
    build_toy_unet,
    build_toy_vae,
    condition_from_embedding,
    encode_pool,
    images_to_unit,
    save_toy_diffusion,
)

__all__ = ["ToyDiffusionTrainConfig", "train_toy_diffusion"]


@dataclasses.dataclass(frozen=True)
class ToyDiffusionTrainConfig:
    """Settings of one toy-diffusion training run (deterministic given all of them).

    Parameters
    ----------
    seed : int
        Seeds initialisation and batch sampling.
    world_seed : int
        Seed of the synthetic stimulus generator.
    image_size : int
        Side of the stimuli.
    vae_steps, vae_batch, vae_lr : int, int, float
        VAE training (0 steps: keep the VAE of ``init_from``).
    kl_weight : float
        Weight of the KL term of the VAE loss.
    decoder_only : bool
        Train only the VAE decoder (the encoder, hence the latent space, stays fixed), e.g.
        alongside a UNet trained on the same encoder's latents.
    decoder_from : str or None
        A saved toy-diffusion folder whose VAE decoder replaces this one's (trained with
        ``decoder_only`` on the same encoder).
    unet_steps, unet_batch, unet_lr : int, int, float
        UNet training (0 steps: keep the UNet of ``init_from``, or none when there is none).
    warmup : int
        Linear warm-up steps of both parts, then cosine decay to zero.
    n_pool : int
        Training stimuli encoded once for the UNet.
    uncond_fraction : float
        Share of each UNet batch trained without its embedding.
    embedding_noise : float
        Largest norm of the random perturbation added to the unit embedding (uniform in
        ``[0, embedding_noise]``, then re-normalised).
    snr_gamma : float
        Min-SNR loss weighting ``min(snr, gamma) / snr``.
    train_offset, n_train : int
        Training ids come from ``[train_offset, train_offset + n_train)``.
    n_eval : int
        Held-out ids ``0..n_eval-1`` for the metrics.
    eval_steps, guidance_scale : int, float
        DDIM steps and guidance of the held-out samples.
    bf16 : bool
        bfloat16 autocast (the weights stay fp32).
    threads : int
        torch intra-op threads.
    init_from : str or None
        A saved toy-diffusion folder to continue from.
    clip : str
        Registry name of the CLIP whose image embeddings condition the UNet.
    log_every : int
        Steps between loss lines.
    checkpoint_every : int
        Steps between saves of the UNet being trained to ``checkpoint_dir`` (0: none).
    checkpoint_dir : str or None
        Folder of those saves (``unet/``, overwritten each time), for inspecting a long run.
    """

    seed: int = 0
    world_seed: int = 0
    image_size: int = 64
    vae_steps: int = 600
    vae_batch: int = 32
    vae_lr: float = 1e-3
    kl_weight: float = 1e-6
    decoder_only: bool = False
    decoder_from: str | None = None
    unet_steps: int = 3000
    unet_batch: int = 64
    unet_lr: float = 1e-3
    warmup: int = 50
    n_pool: int = 30000
    uncond_fraction: float = 0.1
    embedding_noise: float = 0.6
    snr_gamma: float = 5.0
    train_offset: int = 100_000
    n_train: int = 1_000_000
    n_eval: int = 500
    eval_steps: int = 25
    guidance_scale: float = 3.0
    bf16: bool = True
    threads: int = 1
    init_from: str | None = None
    clip: str = "toy-clip"
    log_every: int = 50
    checkpoint_every: int = 0
    checkpoint_dir: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.uncond_fraction < 1.0:
            raise ValueError(f"uncond_fraction must be in [0, 1), got {self.uncond_fraction}")
        if self.vae_steps < 0 or self.unet_steps < 0:
            raise ValueError("vae_steps and unet_steps must be >= 0")


def _lr(step: int, steps: int, lr: float, warmup: int) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    return 0.5 * lr * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def _train_vae(vae: Any, cfg: ToyDiffusionTrainConfig, stimuli: Any, log: Callable) -> float:
    import torch

    rng = np.random.default_rng([cfg.seed, 1])
    if cfg.decoder_only:
        for p in [*vae.encoder.parameters(), *vae.quant_conv.parameters()]:
            p.requires_grad_(False)
    params = [p for p in vae.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.vae_lr, weight_decay=0.0, fused=True)
    amp = torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16)
    t0, running = time.perf_counter(), []
    vae.train()
    for step in range(cfg.vae_steps):
        for g in opt.param_groups:
            g["lr"] = _lr(step, cfg.vae_steps, cfg.vae_lr, cfg.warmup)
        ids = rng.integers(cfg.train_offset, cfg.train_offset + cfg.n_train, cfg.vae_batch)
        x = images_to_unit(stimuli.images(ids))
        with amp:
            with torch.set_grad_enabled(not cfg.decoder_only):
                posterior = vae.encode(x).latent_dist
            y = vae.decode(posterior.sample()).sample
        loss = torch.nn.functional.mse_loss(y.float(), x)
        loss = loss + cfg.kl_weight * posterior.kl().float().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        running.append(float(loss.detach()))
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.vae_steps:
            log(
                f"vae step {step + 1}/{cfg.vae_steps} loss {np.mean(running):.5f} "
                f"{time.perf_counter() - t0:.0f}s"
            )
            running = []
    vae.eval()
    return time.perf_counter() - t0


def _perturb(cond: Any, cfg: ToyDiffusionTrainConfig, gen: Any) -> Any:
    import torch

    n, d = cond.shape
    unit = cond / d**0.5
    noise = torch.randn(n, d, generator=gen)
    noise = noise / noise.norm(dim=1, keepdim=True)
    scale = torch.rand(n, 1, generator=gen) * cfg.embedding_noise
    out = torch.nn.functional.normalize(unit + scale * noise, dim=1) * d**0.5
    drop = torch.rand(n, generator=gen) < cfg.uncond_fraction
    out[drop] = 0.0
    return out


def _train_unet(
    unet: Any, latents: Any, cond: Any, cfg: ToyDiffusionTrainConfig, log: Callable
) -> float:
    import torch
    from diffusers import DDPMScheduler

    noise_sched = DDPMScheduler(
        num_train_timesteps=unet.config.get("num_train_timesteps", 1000)
        if hasattr(unet.config, "get")
        else 1000,
        beta_schedule="squaredcos_cap_v2",
        clip_sample=False,
    )
    alphas = noise_sched.alphas_cumprod
    snr = alphas / (1 - alphas)
    weight = torch.clamp(snr, max=cfg.snr_gamma) / snr
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.AdamW(unet.parameters(), lr=cfg.unet_lr, weight_decay=0.01, fused=True)
    amp = torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16)
    t0, running = time.perf_counter(), []
    unet.train()
    n_t = len(alphas)
    for step in range(cfg.unet_steps):
        for g in opt.param_groups:
            g["lr"] = _lr(step, cfg.unet_steps, cfg.unet_lr, cfg.warmup)
        pick = torch.randint(0, len(latents), (cfg.unet_batch,), generator=gen)
        z0 = latents[pick]
        c = _perturb(cond[pick], cfg, gen)
        t = torch.randint(0, n_t, (cfg.unet_batch,), generator=gen)
        eps = torch.randn(z0.shape, generator=gen)
        zt = noise_sched.add_noise(z0, eps, t)
        with amp:
            pred = unet(zt, t, encoder_hidden_states=c[:, None], class_labels=c).sample
        per = ((pred.float() - eps) ** 2).mean(dim=(1, 2, 3))
        loss = (per * weight[t]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        running.append(float(loss.detach()))
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.unet_steps:
            log(
                f"unet step {step + 1}/{cfg.unet_steps} loss {np.mean(running):.5f} "
                f"{time.perf_counter() - t0:.0f}s"
            )
            running = []
        if cfg.checkpoint_every and cfg.checkpoint_dir and (step + 1) % cfg.checkpoint_every == 0:
            unet.save_pretrained(Path(cfg.checkpoint_dir) / "unet", safe_serialization=True)
    unet.eval()
    return time.perf_counter() - t0


def _initial(cfg: ToyDiffusionTrainConfig, arch: ToyDiffusionArchitecture) -> tuple:
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    if cfg.init_from is None:
        return build_toy_vae(arch, cfg.seed), None, []
    folder = Path(cfg.init_from)
    from neurodecode._io import read_json

    report = read_json(folder / "training_report.json")
    vae = AutoencoderKL.from_pretrained(folder / "vae", torch_dtype=torch.float32)
    unet = None
    if (folder / "unet").is_dir():
        unet = UNet2DConditionModel.from_pretrained(folder / "unet", torch_dtype=torch.float32)
    stages = list(report.get("stages", []))
    if cfg.decoder_from is not None:
        other = Path(cfg.decoder_from)
        donor = AutoencoderKL.from_pretrained(other / "vae", torch_dtype=torch.float32)
        vae.decoder.load_state_dict(donor.decoder.state_dict())
        vae.post_quant_conv.load_state_dict(donor.post_quant_conv.state_dict())
        donor_stages = read_json(other / "training_report.json").get("stages", [])
        stages += [
            {**st, "part": f"VAE decoder from {other.name}"}
            for st in donor_stages
            if st not in stages
        ]
    return vae, unet, stages


def train_toy_diffusion(
    config: ToyDiffusionTrainConfig,
    out: str | Path | None = None,
    log: Callable[[str], None] = print,
    device: str = "cpu",
) -> dict[str, Any]:
    """Train (or continue) the toy latent-diffusion model; save it with its card in ``out``.

    Returns
    -------
    dict
        The training report: config, per-part seconds, held-out metrics, parameter counts.
    """
    import torch

    from neurodecode._io import write_json_atomic
    from neurodecode.models._loading import load_clip
    from neurodecode.models._toy_diffusion_eval import evaluate_toy_diffusion
    from neurodecode.synth import StimulusSet

    if device != "cpu":
        raise ValueError("the toy-diffusion trainer runs on cpu only (bf16 autocast)")
    torch.set_num_threads(config.threads)
    arch = ToyDiffusionArchitecture(image_size=config.image_size)
    stimuli = StimulusSet(
        config.train_offset + config.n_train, config.world_seed, config.image_size
    )
    vae, unet, stages = _initial(config, arch)
    clip = load_clip(config.clip)
    seconds: dict[str, float] = {}
    if config.vae_steps:
        seconds["vae"] = round(_train_vae(vae, config, stimuli, log), 1)
    vae.eval()
    if config.unet_steps:
        t0 = time.perf_counter()
        rng = np.random.default_rng([config.seed, 2])
        pool = rng.choice(
            np.arange(config.train_offset, config.train_offset + config.n_train),
            config.n_pool,
            replace=False,
        )
        latents, emb = encode_pool(vae, clip, stimuli, pool)
        scale = float(1.0 / latents.std())
        vae.register_to_config(scaling_factor=scale)
        seconds["encode_pool"] = round(time.perf_counter() - t0, 1)
        log(f"pool of {len(pool)} encoded in {seconds['encode_pool']:.0f}s, scale {scale:.4f}")
        if unet is None:
            unet = build_toy_unet(arch, config.seed)
        if config.checkpoint_every and config.checkpoint_dir:
            save_toy_diffusion(vae, unet, build_toy_scheduler(arch), config.checkpoint_dir)
        seconds["unet"] = round(
            _train_unet(unet, latents * scale, condition_from_embedding(emb), config, log), 1
        )
    scheduler = build_toy_scheduler(arch)
    metrics = evaluate_toy_diffusion(vae, unet, scheduler, clip, stimuli, config, log)
    report: dict[str, Any] = {
        "config": dataclasses.asdict(config),
        "architecture": dataclasses.asdict(arch),
        "seconds": seconds,
        "metrics": metrics,
        "n_parameters": {
            name: int(sum(p.numel() for p in module.parameters()))
            for name, module in (("vae", vae), ("unet", unet))
            if module is not None
        },
        "torch_threads": torch.get_num_threads(),
        "device": device,
    }
    report["stages"] = [*stages, {k: report[k] for k in ("config", "seconds", "metrics")}]
    if out is not None:
        from neurodecode.models._card import toy_diffusion_card

        save_toy_diffusion(vae, unet, scheduler, out)
        write_json_atomic(Path(out) / "training_report.json", report)
        (Path(out) / "README.md").write_text(toy_diffusion_card(report), encoding="utf-8")
    return report
