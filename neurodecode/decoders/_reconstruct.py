"""Image reconstruction from brain activity with a latent-diffusion model (diffusers).

The method of Takagi & Nishimoto and Brain-Diffuser, with MindEye's sample selection:

1. a :class:`~neurodecode.decoders.RidgeDecoder` maps voxels (early visual, say) to the
   diffusion model's VAE latent of the stimulus (the low-level path);
2. another maps voxels (nsdgeneral, say) to its conditioning image embedding (the high-level
   path: a CLIP image embedding, or a contrastive encoder's test predictions);
3. the predicted latent is noised to ``strength`` and denoised (img2img), conditioned on the
   predicted embedding with classifier-free guidance; ``n_samples`` samples are drawn per
   trial and the one whose image embedding best matches the predicted embedding is kept.

:class:`ReconstructionPipeline` takes every part as a component (VAE, UNet, scheduler, the
two decoders, the image encoder used for selection), has one ``__call__(brain, ...)`` and
returns a :class:`ReconstructionOutput`. ``mode`` gives the ablations: ``"latent"`` (the VAE's
decoding of the predicted latent alone), ``"embedding"`` (sampled from noise, conditioned on
the predicted embedding alone) and ``"full"``. The same code runs the shipped toy model and a
real unCLIP-style model loaded from a local folder (:meth:`ReconstructionPipeline.from_pretrained`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CONDITIONING", "ReconstructionOutput", "ReconstructionPipeline"]

#: How embeddings become UNet conditions: the toy model's unit-RMS scaling, or as they are.
CONDITIONING = ("unit_rms", "raw")
_MODES = ("full", "latent", "embedding")


@dataclasses.dataclass(frozen=True)
class ReconstructionOutput:
    """What one call of :class:`ReconstructionPipeline` returns.

    Attributes
    ----------
    images : uint8 ndarray ``(n, H, W, 3)``
        The chosen reconstruction of each trial.
    latents : ndarray ``(n, c, h, w)``
        Predicted (scaled) VAE latents.
    embeddings : ndarray ``(n, d)``
        Predicted image embeddings.
    samples : uint8 ndarray ``(n, k, H, W, 3)``
        Every sample drawn (``k = n_samples``; 1 in ``"latent"`` mode).
    chosen : ndarray of int ``(n,)``
        Index of the kept sample of each trial.
    sample_scores : ndarray ``(n, k)``
        Cosine of each sample's image embedding with the predicted embedding.
    """

    images: np.ndarray
    latents: np.ndarray
    embeddings: np.ndarray
    samples: np.ndarray
    chosen: np.ndarray
    sample_scores: np.ndarray


class ReconstructionPipeline:
    """Brain -> (latent, embedding) -> img2img latent diffusion -> the best-matching sample.

    Parameters
    ----------
    vae : diffusers.AutoencoderKL
    unet : diffusers.UNet2DConditionModel
        Conditioned on image embeddings through its class embedding and/or cross-attention
        (see :func:`neurodecode.models.unet_condition_kwargs`).
    scheduler : diffusers scheduler
        Sampler with ``set_timesteps``, ``add_noise`` and ``step`` (DDIM for the toy model).
    latent_decoder, embedding_decoder : RidgeDecoder
        Fitted voxels -> flattened scaled latent, voxels -> image embedding.
    image_encoder : callable, optional
        uint8 images ``(n, H, W, 3)`` -> image embeddings ``(n, d)`` in the embedding
        decoder's space; picks the sample that best matches the predicted embedding (without
        it the first sample is kept).
    conditioning : {"unit_rms", "raw"}
        ``"unit_rms"``: embeddings are L2-normalised and scaled to unit RMS (the toy model);
        ``"raw"``: given as predicted (a real unCLIP model).
    prompt_embeds : tensor ``(1, tokens, width)``, optional
        Cross-attention input of a UNet that does not cross-attend to image embeddings.
    """

    def __init__(
        self,
        vae: Any,
        unet: Any,
        scheduler: Any,
        latent_decoder: Any,
        embedding_decoder: Any,
        image_encoder: Callable[[np.ndarray], np.ndarray] | None = None,
        conditioning: str = "unit_rms",
        prompt_embeds: Any | None = None,
    ) -> None:
        if conditioning not in CONDITIONING:
            raise ValueError(f"conditioning must be one of {CONDITIONING}, got {conditioning!r}")
        self.vae = vae
        self.unet = unet
        self.scheduler = scheduler
        self.latent_decoder = latent_decoder
        self.embedding_decoder = embedding_decoder
        self.image_encoder = image_encoder
        self.conditioning = conditioning
        self.prompt_embeds = prompt_embeds

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """``(channels, side, side)`` of the VAE latent."""
        c = int(self.vae.config.latent_channels)
        side = int(self.unet.config.sample_size)
        return c, side, side

    @staticmethod
    def load_components(path: str | os.PathLike[str]) -> dict[str, Any]:
        """``vae``, ``unet``, ``scheduler`` and ``conditioning`` of a pipeline folder.

        Each component is read with the class its ``model_index.json`` names (as the
        registry's :func:`neurodecode.models.load_diffusers` does); ``conditioning`` is the
        folder's ``_conditioning`` key (``"raw"`` when absent, as for a real unCLIP model).
        """
        import torch

        from neurodecode.models._loading import _pipeline_component

        path = Path(path)
        index_file = path / "model_index.json"
        if not index_file.is_file():
            raise FileNotFoundError(f"{path}: no model_index.json (not a diffusers pipeline)")
        index = json.loads(index_file.read_text(encoding="utf-8"))
        missing = [k for k in ("vae", "unet", "scheduler") if k not in index]
        if missing:
            raise ValueError(f"{index_file}: no {', '.join(missing)} component(s)")
        parts: dict[str, Any] = {"scheduler": _pipeline_component(path, "scheduler")}
        for name in ("vae", "unet"):
            parts[name] = _pipeline_component(path, name, torch_dtype=torch.float32).eval()
        parts["conditioning"] = index.get("_conditioning", "raw")
        return parts

    def _conditions(self, embeddings: Any) -> Any:
        import torch

        from neurodecode.models._toy_diffusion import condition_from_embedding

        e = torch.as_tensor(np.asarray(embeddings, np.float32))
        return condition_from_embedding(e) if self.conditioning == "unit_rms" else e

    def decode_brain(self, brain: Any) -> tuple[np.ndarray, np.ndarray]:
        """Predicted (scaled) latents ``(n, c, h, w)`` and embeddings ``(n, d)`` of ``brain``."""
        latents = np.asarray(self.latent_decoder.predict(brain), np.float32)
        embeddings = np.asarray(self.embedding_decoder.predict(brain), np.float32)
        return latents.reshape(len(latents), *self.latent_shape), embeddings

    def __call__(
        self,
        brain: Any,
        *,
        mode: str = "full",
        strength: float = 0.75,
        num_inference_steps: int = 25,
        guidance_scale: float = 3.0,
        n_samples: int = 4,
        batch_size: int = 100,
        generator: Any | None = None,
        bf16: bool = True,
        embeddings: Any | None = None,
        latents: Any | None = None,
    ) -> ReconstructionOutput:
        """Reconstruct the images seen in each row of ``brain``.

        Parameters
        ----------
        brain : array ``(n, n_voxels)``
            Voxel responses (each decoder reads its own columns); ``n >= 2`` for the
            decoders' re-standardisation.
        mode : {"full", "latent", "embedding"}
            ``"full"``: img2img from the predicted latent conditioned on the predicted
            embedding; ``"latent"``: the VAE's decoding of the predicted latent alone;
            ``"embedding"``: sampled from noise, conditioned on the embedding alone.
        strength : float
            Share of the schedule the predicted latent is noised to (``"full"`` only).
        num_inference_steps : int
            Sampler steps of the whole schedule.
        guidance_scale : float
            Classifier-free guidance scale (1.0: none).
        n_samples : int
            Samples drawn per trial; the best match to the predicted embedding is kept.
        batch_size : int
            Trials denoised together.
        generator : torch.Generator, optional
            Makes sampling deterministic.
        bf16 : bool
            bfloat16 autocast of the UNet.
        embeddings : array ``(n, d)``, optional
            Conditioning embeddings to use instead of the embedding decoder's predictions
            (e.g. a contrastive encoder's predictions for the same trials); they also select
            the samples.
        latents : array ``(n, c, h, w)``, optional
            Scaled latents to start from instead of the latent decoder's predictions (e.g.
            their posterior mean under a natural-image prior).
        """
        import torch

        from neurodecode.models._toy_diffusion import decode_latents, denoise

        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        decoded_latents, decoded = self.decode_brain(brain)
        n = len(decoded_latents)
        if latents is None:
            latents = decoded_latents
        else:
            latents = np.asarray(latents, np.float32)
            if latents.shape != decoded_latents.shape:
                raise ValueError(f"latents must be {decoded_latents.shape}; got {latents.shape}")
        if embeddings is None:
            embeddings = decoded
        else:
            embeddings = np.asarray(embeddings, np.float32)
            if embeddings.shape != decoded.shape:
                raise ValueError(
                    f"embeddings must be {decoded.shape} (one per trial, the CLIP's width); "
                    f"got {embeddings.shape}"
                )
        if mode == "latent":
            images = decode_latents(self.vae, torch.from_numpy(latents))
            scores = self._scores(images[:, None], embeddings)
            return ReconstructionOutput(
                images, latents, embeddings, images[:, None], np.zeros(n, np.int64), scores
            )
        cond = self._conditions(embeddings)
        samples = np.empty((n, n_samples, *self._image_shape()), np.uint8)
        for k in range(n_samples):
            for start in range(0, n, batch_size):
                rows = slice(start, start + batch_size)
                z = denoise(
                    self.unet,
                    self.scheduler,
                    cond[rows],
                    init_latents=torch.from_numpy(latents[rows]) if mode == "full" else None,
                    strength=strength if mode == "full" else 1.0,
                    steps=num_inference_steps,
                    guidance_scale=guidance_scale,
                    generator=generator,
                    shape=self.latent_shape,
                    bf16=bf16,
                    prompt_embeds=self.prompt_embeds,
                )
                samples[rows, k] = decode_latents(self.vae, z)
        scores = self._scores(samples, embeddings)
        chosen = scores.argmax(axis=1)
        images = samples[np.arange(n), chosen]
        return ReconstructionOutput(images, latents, embeddings, samples, chosen, scores)

    def _image_shape(self) -> tuple[int, int, int]:
        factor = 2 ** (len(self.vae.config.block_out_channels) - 1)
        side = self.latent_shape[1] * factor
        return side, side, 3

    def _scores(self, samples: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
        """Cosine of each sample's image embedding with its trial's predicted embedding."""
        n, k = samples.shape[:2]
        if self.image_encoder is None:
            return np.zeros((n, k))
        flat = samples.reshape(n * k, *samples.shape[2:])
        emb = np.asarray(self.image_encoder(flat), np.float64).reshape(n, k, -1)
        emb /= np.linalg.norm(emb, axis=-1, keepdims=True) + 1e-12
        target = embeddings / (np.linalg.norm(embeddings, axis=-1, keepdims=True) + 1e-12)
        return np.einsum("nkd,nd->nk", emb, target)
