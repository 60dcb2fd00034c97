"""BrainDiVE: images synthesised to drive a chosen set of voxels, by gradient guidance.

Luo et al. (2023) steer a latent diffusion model with a voxel encoder. At every sampler step
the clean latent is estimated from the noise prediction, decoded by the VAE, resized and
normalised for a frozen CLIP image tower and read out by the encoder's linear weights; the
gradient of the target's predicted activation with respect to the noisy latent is subtracted
from the noise prediction, scaled by the guidance scale and by ``sqrt(1 - alpha_bar_t)`` (the
form of classifier guidance), and the scheduler steps with the guided prediction:

    eps_hat = eps - s sqrt(1 - alpha_bar_t) grad_z score(D(x0_hat(z))).

The parts are library parts: any diffusers VAE, UNet and VP scheduler (DDIM, DPM-Solver...),
an open_clip image tower and the ridge readout of ``RidgeEncoder.to_torch()``.

* :class:`ImageVoxelEncoder` is the differentiable encoder shared by synthesis and evaluation:
  images in the VAE's range ``[-1, 1]`` to predicted voxel responses.
* :class:`VoxelTarget` says what is driven: the mean of an ROI or any voxel set, or a contrast
  (the mean of A minus the mean of B), as weights over the encoder's voxels.
* :class:`BrainGuidedDiffusionPipeline` samples, in the diffusers style (components injected,
  one ``__call__``, a dataclass output, ``generator=`` for determinism).

Beyond the published update, three optional controls are exposed (each off by default, so the
defaults are the published method): a per-image unit-RMS gradient (the step then no longer
depends on the readout's scale), guidance over the first part of the schedule only, and the
mean score over several random crops and flips of the decoded image (the augmentation of
CLIP-guided diffusion, against gradients that fool the encoder without changing the image).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "BrainGuidedDiffusionPipeline",
    "DiveOutput",
    "ImageVoxelEncoder",
    "VoxelTarget",
    "null_condition_kwargs",
]


class ImageVoxelEncoder(torch.nn.Module):
    """A frozen CLIP image tower and a linear readout: images to predicted voxel responses.

    Parameters
    ----------
    clip_model : torch.nn.Module
        A CLIP with ``encode_image`` (open_clip), frozen here.
    readout : torch.nn.Module
        Unit-normalised image embeddings to voxels (``RidgeEncoder.to_torch()``).
    mean, std : sequence of float
        The tower's pixel normalisation (of images in [0, 1]).
    image_size : int or None
        The tower's input side; images of another size are resized (bicubic, antialiased).
    """

    def __init__(
        self,
        clip_model: Any,
        readout: Any,
        mean: Sequence[float],
        std: Sequence[float],
        image_size: int | None = None,
    ) -> None:
        super().__init__()
        self.clip_model = clip_model.eval().requires_grad_(False)
        self.readout = readout.eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, 3, 1, 1))
        self.image_size = image_size

    @classmethod
    def from_models(cls, clip: Any, encoder: Any, columns: Any = None) -> ImageVoxelEncoder:
        """From a loaded CLIP (:func:`neurodecode.models.load_clip`) and a fitted encoder."""
        return cls(clip.model, encoder.to_torch(columns), clip.mean, clip.std, clip.image_size)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Unit CLIP embeddings ``(n, d)`` of images ``(n, 3, H, W)`` in ``[-1, 1]``."""
        x = ((images.float() + 1) / 2 - self.mean) / self.std
        side = self.image_size
        if side and tuple(x.shape[-2:]) != (side, side):
            x = torch.nn.functional.interpolate(
                x, size=(side, side), mode="bicubic", align_corners=False, antialias=True
            )
        return torch.nn.functional.normalize(self.clip_model.encode_image(x).float(), dim=-1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Predicted responses ``(n, n_voxels)`` of images ``(n, 3, H, W)`` in ``[-1, 1]``."""
        return self.readout(self.embed(images))


@dataclasses.dataclass(frozen=True)
class VoxelTarget:
    """What synthesis drives: ``score = response @ weights`` over the encoder's voxels.

    Attributes
    ----------
    name : str
        ``"FFA-1"``, ``"FFA-1-PPA"`` (a contrast)...
    weights : ndarray of shape (n_voxels,)
    """

    name: str
    weights: np.ndarray

    @classmethod
    def mean_of(cls, name: str, mask: Any) -> VoxelTarget:
        """The mean response of the voxels of a boolean ``mask`` over the encoder's voxels."""
        m = cls._mask(name, mask)
        return cls(name, m / m.sum())

    @classmethod
    def contrast(cls, name_a: str, mask_a: Any, name_b: str, mask_b: Any) -> VoxelTarget:
        """The mean response of ROI A minus that of ROI B (voxels in both count in neither)."""
        a, b = cls._mask(name_a, mask_a), cls._mask(name_b, mask_b)
        both = (a > 0) & (b > 0)
        a[both], b[both] = 0.0, 0.0
        if not a.any() or not b.any():
            raise ValueError(f"ROIs {name_a!r} and {name_b!r} share every voxel of one of them")
        return cls(f"{name_a}-{name_b}", a / a.sum() - b / b.sum())

    @staticmethod
    def _mask(name: str, mask: Any) -> np.ndarray:
        m = np.asarray(mask)
        if m.ndim != 1 or m.dtype != bool:
            raise ValueError(f"the mask of {name!r} must be a 1-D boolean array; got {m.dtype}"
                             f" {m.shape}")  # fmt: skip
        if not m.any():
            raise ValueError(f"ROI {name!r} has no voxels")
        return m.astype(np.float64)

    def score(self, responses: np.ndarray) -> np.ndarray:
        """The target's score of responses ``(n, n_voxels)``."""
        return np.asarray(responses, dtype=np.float64) @ self.weights


@dataclasses.dataclass(frozen=True)
class _Guidance:
    """The guidance settings of one call."""

    weights: torch.Tensor
    scale: float
    normalize: bool
    views: int
    through_unet: bool
    generator: Any


@dataclasses.dataclass
class DiveOutput:
    """Images synthesised for one target.

    Attributes
    ----------
    images : ndarray of uint8, shape (n, H, W, 3)
    predicted : ndarray of shape (n,)
        The target's score of each image under the encoder.
    latents : ndarray of shape (n, c, h, w)
        The final (scaled) latents.
    candidate_predicted : ndarray of shape (n_candidates,)
        The score of every sample drawn, kept or not (kept: the ``n`` highest).
    """

    images: np.ndarray
    predicted: np.ndarray
    latents: np.ndarray
    candidate_predicted: np.ndarray


class BrainGuidedDiffusionPipeline:
    """Latent diffusion guided by the predicted response of a voxel target (BrainDiVE).

    Parameters
    ----------
    vae : diffusers.AutoencoderKL
    unet : diffusers.UNet2DConditionModel
    scheduler : diffusers scheduler
        A VP scheduler with ``alphas_cumprod``, ``set_timesteps`` and ``step`` (DDIM,
        DPM-Solver, DDPM, PNDM...); epsilon or v prediction.
    encoder : ImageVoxelEncoder
    condition_kwargs : dict, optional
        The UNet's conditioning arguments for one image (``class_labels``,
        ``encoder_hidden_states`` of batch 1): the unconditioned input, e.g. the toy model's
        zero image embedding or Stable Diffusion's empty-prompt text embedding (see
        :func:`neurodecode.models.unet_condition_kwargs`). Repeated over each batch.
    """

    def __init__(
        self,
        vae: Any,
        unet: Any,
        scheduler: Any,
        encoder: ImageVoxelEncoder,
        condition_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if not hasattr(scheduler, "alphas_cumprod"):
            raise ValueError(
                f"{type(scheduler).__name__} has no alphas_cumprod: guidance needs a "
                "variance-preserving scheduler (DDIM, DPM-Solver, DDPM)"
            )
        kind = getattr(scheduler.config, "prediction_type", "epsilon")
        if kind not in ("epsilon", "v_prediction"):
            raise ValueError(f"prediction_type {kind!r} is not supported (epsilon, v_prediction)")
        self.vae = vae.eval().requires_grad_(False)
        self.unet = unet.eval().requires_grad_(False)
        self.scheduler = scheduler
        self.encoder = encoder.eval()
        self.condition_kwargs = dict(condition_kwargs or {})
        self.prediction_type = kind

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        side = int(self.unet.config.sample_size)
        return int(self.unet.config.in_channels), side, side

    def __call__(
        self,
        target: VoxelTarget,
        *,
        num_images: int = 16,
        num_candidates: int | None = None,
        steps: int = 50,
        guidance_scale: float = 100.0,
        normalize_gradient: bool = False,
        guidance_stop: float = 1.0,
        views: int = 1,
        gradient_through_unet: bool = True,
        batch_size: int = 16,
        generator: torch.Generator | None = None,
        bf16: bool = False,
    ) -> DiveOutput:
        """Synthesise ``num_images`` images driving ``target``.

        Parameters
        ----------
        target : VoxelTarget
            Weights over the encoder's voxels.
        num_images : int
            Images returned.
        num_candidates : int, optional
            Samples drawn (default ``num_images``); the ``num_images`` with the highest
            predicted score are kept (the encoder's score, never the truth).
        steps : int
            Sampler steps.
        guidance_scale : float
            ``s`` of the update; 0 samples without guidance (the control).
        normalize_gradient : bool
            Rescale each image's gradient to unit RMS before the update.
        guidance_stop : float in (0, 1]
            Guide the first ``guidance_stop`` of the steps only.
        views : int
            Random crops (80-100% of the side) and flips of the decoded image scored per step
            (1: the image itself).
        gradient_through_unet : bool
            Differentiate the x0 estimate through the UNet's noise prediction (as CLIP-guided
            diffusion does); False treats the prediction as a constant, so the gradient is the
            decoded image's, scaled by ``1 / sqrt(alpha_bar_t)``, and the UNet runs once
            without gradients.
        batch_size : int
            Samples denoised together.
        generator : torch.Generator, optional
            Seeds the noise and the views.
        bf16 : bool
            bfloat16 autocast of the networks' forward passes.

        Returns
        -------
        DiveOutput
        """
        n_cand = num_images if num_candidates is None else int(num_candidates)
        if num_images < 1 or n_cand < num_images:
            raise ValueError(f"need 1 <= num_images <= num_candidates; got {num_images}, {n_cand}")
        if not 0.0 < guidance_stop <= 1.0:
            raise ValueError(f"guidance_stop must be in (0, 1]; got {guidance_stop}")
        if views < 1 or batch_size < 1 or steps < 1:
            raise ValueError("views, batch_size and steps must be >= 1")
        if guidance_scale < 0 or not np.isfinite(guidance_scale):
            raise ValueError(f"guidance_scale must be finite and >= 0; got {guidance_scale}")
        device = next(self.unet.parameters()).device
        weights = torch.as_tensor(np.asarray(target.weights), dtype=torch.float32, device=device)
        n_out = int(getattr(self.encoder.readout, "out_features", weights.numel()))
        if weights.ndim != 1 or weights.numel() != n_out:
            raise ValueError(f"target {target.name!r} weighs {weights.numel()} voxels; the "
                             f"encoder predicts {n_out}")  # fmt: skip
        guide = _Guidance(weights, float(guidance_scale), normalize_gradient, views,
                          gradient_through_unet, generator)  # fmt: skip
        latents, images, scores = [], [], []
        for start in range(0, n_cand, batch_size):
            n = min(batch_size, n_cand - start)
            z = self._sample(guide, n, steps, guidance_stop, bf16)
            with torch.no_grad():
                x = self._decode(z)
                scores.append((self.encoder(x) @ weights).double().cpu().numpy())
            images.append(((x + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu()
                          .numpy())  # fmt: skip
            latents.append(z.cpu().numpy())
        cand = np.concatenate(scores)
        keep = np.sort(np.argsort(-cand, kind="stable")[:num_images])
        return DiveOutput(
            images=np.concatenate(images)[keep],
            predicted=cand[keep],
            latents=np.concatenate(latents)[keep],
            candidate_predicted=cand,
        )

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        x = self.vae.decode(z / float(self.vae.config.scaling_factor)).sample
        return x.float().clamp(-1, 1)

    def _kwargs(self, n: int) -> dict[str, Any]:
        return {k: v.expand(n, *v.shape[1:]) if torch.is_tensor(v) else v
                for k, v in self.condition_kwargs.items()}  # fmt: skip

    def _score(self, x: torch.Tensor, weights: torch.Tensor, views: int,
               generator: torch.Generator | None) -> torch.Tensor:  # fmt: skip
        if views == 1:
            return self.encoder(x) @ weights
        side = x.shape[-1]
        crops = []
        for v in range(views):
            frac = float(torch.empty(1).uniform_(0.8, 1.0, generator=generator))
            crop = max(1, round(side * frac))
            oy, ox = torch.randint(0, side - crop + 1, (2,), generator=generator).tolist()
            view = x[:, :, oy : oy + crop, ox : ox + crop]
            view = torch.nn.functional.interpolate(view, size=tuple(x.shape[-2:]), mode="bilinear",
                                                   align_corners=False)  # fmt: skip
            crops.append(view.flip(-1) if v % 2 else view)
        scores = self.encoder(torch.cat(crops)) @ weights  # all views in one pass
        return scores.view(views, x.shape[0]).mean(0)

    def _sample(self, guide: _Guidance, n: int, steps: int, stop: float,
                bf16: bool) -> torch.Tensor:  # fmt: skip
        sched = self.scheduler
        sched.set_timesteps(steps)
        device = next(self.unet.parameters()).device
        z = torch.randn((n, *self.latent_shape), generator=guide.generator).to(device)
        z = z * float(getattr(sched, "init_noise_sigma", 1.0))
        kwargs = self._kwargs(n)
        alphas = sched.alphas_cumprod
        guided_steps = int(np.ceil(stop * len(sched.timesteps))) if guide.scale > 0 else 0
        for k, t in enumerate(sched.timesteps):
            a = alphas[int(t)].float()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                if k < guided_steps:
                    out = self._guided_output(z, t, a, guide, kwargs)
                else:
                    with torch.no_grad():
                        x = sched.scale_model_input(z, t)
                        out = self.unet(x, t, **kwargs).sample.float()
            z = sched.step(out, t, z).prev_sample.detach()
        return z

    def _guided_output(self, z: torch.Tensor, t: Any, a: torch.Tensor, guide: _Guidance,
                       kwargs: dict) -> torch.Tensor:  # fmt: skip
        with torch.enable_grad():
            zz = z.detach().requires_grad_(True)
            with torch.set_grad_enabled(guide.through_unet):
                x_in = self.scheduler.scale_model_input(zz if guide.through_unet else z, t)
                out = self.unet(x_in, t, **kwargs).sample.float()
            if self.prediction_type == "v_prediction":
                eps = a.sqrt() * out + (1 - a).sqrt() * zz
            else:
                eps = out
            x0 = (zz - (1 - a).sqrt() * eps) / a.sqrt()
            score = self._score(self._decode(x0), guide.weights, guide.views, guide.generator)
            (grad,) = torch.autograd.grad(score.sum(), zz)
        grad = grad.float()
        scale = guide.scale
        if guide.normalize:
            rms = grad.flatten(1).norm(dim=1).clamp_min(1e-20) / grad[0].numel() ** 0.5
            grad = grad / rms.view(-1, *([1] * (grad.ndim - 1)))
        eps = eps.detach() - scale * (1 - a).sqrt() * grad
        if self.prediction_type == "v_prediction":
            x0 = (z - (1 - a).sqrt() * eps) / a.sqrt()
            return a.sqrt() * eps - (1 - a).sqrt() * x0
        return eps


def null_condition_kwargs(path: Any, unet: Any) -> dict[str, Any]:
    """The unconditioned input of a pipeline folder's UNet, for one image.

    A folder with ``text_encoder/`` and ``tokenizer/`` (Stable Diffusion) gives the text
    embedding of the empty prompt; an image-conditioned UNet (the toy model, unCLIP) a zero
    image embedding, the unconditional input it was trained with (classifier-free dropout).
    Both when the UNet takes both (Stable unCLIP).
    """
    from pathlib import Path

    from neurodecode.models import unet_condition_kwargs

    folder = Path(path)
    prompt = None
    if (folder / "text_encoder").is_dir() and (folder / "tokenizer").is_dir():
        from neurodecode.models._loading import _pipeline_component

        tokenizer = _pipeline_component(folder, "tokenizer")
        text_encoder = _pipeline_component(folder, "text_encoder").eval()
        ids = tokenizer([""], padding="max_length", max_length=tokenizer.model_max_length,
                        truncation=True, return_tensors="pt").input_ids  # fmt: skip
        with torch.no_grad():
            prompt = text_encoder(ids)[0].float()
    cross = int(unet.config.cross_attention_dim)
    if getattr(unet.config, "class_embed_type", None) == "projection":
        width = int(unet.config.projection_class_embeddings_input_dim)
        dim = width if prompt is None and cross == width else width // 2
    elif prompt is not None:
        return {"encoder_hidden_states": prompt}
    else:
        dim = cross
    return unet_condition_kwargs(unet, torch.zeros(1, dim), prompt_embeds=prompt)
