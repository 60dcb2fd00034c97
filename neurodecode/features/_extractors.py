"""Feature extractors: images (or captions) of stimuli -> one feature matrix.

Every extractor has ``name`` (the feature space), ``model`` (registry name), ``dim``,
``weights_sha256``, ``config`` and ``modality`` (``"image"`` or ``"text"``), and one method:
``__call__(batch)`` mapping a batch of uint8 images ``(n, H, W, 3)`` -- or, for text
extractors, a list of caption lists -- to float32 ``(n, dim)``. Models load on first use, so
constructing an extractor is cheap and offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "ClipImageExtractor",
    "ClipTextExtractor",
    "FeatureExtractor",
    "ImageNetExtractor",
    "SentenceExtractor",
    "TruthExtractor",
    "VaeLatentExtractor",
]


class FeatureExtractor:
    """Base class: lazy model loading, device choice, bf16 autocast option.

    Parameters
    ----------
    model : str
        Registry name of the model (see :func:`neurodecode.models.list_models`).
    device : str, default "cpu"
        torch device.
    bf16 : bool, default False
        Run the forward pass under bfloat16 autocast (outputs are float32).
    root : str, optional
        Extra folder searched for weights.
    """

    modality = "image"
    suffix = ""

    def __init__(
        self, model: str, device: str = "cpu", bf16: bool = False, root: str | None = None
    ) -> None:
        self.model = model
        self.device = device
        self.bf16 = bf16
        self.root = root
        self._loaded: Any = None

    @property
    def name(self) -> str:
        """Feature-space name (also the default file stem)."""
        return self.model.replace("/", "_").replace(":", "_") + self.suffix

    @property
    def loaded(self) -> Any:
        """The :class:`neurodecode.models.LoadedModel` (loaded on first access)."""
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded

    def _load(self) -> Any:
        from neurodecode.models import load_model

        return load_model(self.model, device=self.device, root=self.root)

    @property
    def weights_sha256(self) -> str:
        return str(self.loaded.weights_sha256)

    def weights_path(self) -> Any:
        """Where the weights are read from, without loading them (None: no weights)."""
        from neurodecode.models import resolve_weights

        return resolve_weights(self.model, self.root)

    @property
    def dim(self) -> int:
        return int(self(self._probe()).shape[1])

    @property
    def config(self) -> dict[str, Any]:
        return {"model": self.model, "modality": self.modality, "bf16": self.bf16}

    def _probe(self) -> Any:
        size = self.loaded.image_size or 64
        return np.zeros((1, size, size, 3), np.uint8)

    def _autocast(self) -> Any:
        import torch

        return torch.autocast(self.device.split(":")[0], torch.bfloat16, enabled=self.bf16)

    def _pixels(self, images: np.ndarray) -> Any:
        """uint8 images -> normalised tensor at the model's input size, on the device."""
        import torch

        from neurodecode.models import images_to_tensor

        lm = self.loaded
        x = images_to_tensor(images, lm.mean, lm.std)
        if lm.image_size and x.shape[-1] != lm.image_size:
            x = torch.nn.functional.interpolate(
                x, size=(lm.image_size, lm.image_size), mode="bicubic", align_corners=False
            )
        return x.to(self.device)

    def __call__(self, batch: Any) -> np.ndarray:
        import torch

        with torch.no_grad(), self._autocast():
            out = self._forward(batch)
        return out.float().reshape(out.shape[0], -1).cpu().numpy()

    def _forward(self, batch: Any) -> Any:
        raise NotImplementedError


class ClipImageExtractor(FeatureExtractor):
    """L2-normalised CLIP image embeddings (open_clip ``encode_image``)."""

    def _forward(self, batch: np.ndarray) -> Any:
        import torch

        f = self.loaded.model.encode_image(self._pixels(batch)).float()
        return torch.nn.functional.normalize(f, dim=-1)


class ClipTextExtractor(FeatureExtractor):
    """Mean of the L2-normalised CLIP text embeddings of each stimulus' captions."""

    modality = "text"
    suffix = "-text"

    def _probe(self) -> Any:
        return [["a picture"]]

    def _forward(self, batch: Sequence[Sequence[str]]) -> Any:
        import torch

        lm = self.loaded
        flat = [c for caps in batch for c in caps]
        f = lm.model.encode_text(lm.tokenizer(flat).to(self.device)).float()
        f = torch.nn.functional.normalize(f, dim=-1)
        counts = torch.tensor([len(c) for c in batch], device=f.device)
        owner = torch.repeat_interleave(torch.arange(len(batch), device=f.device), counts)
        mean = torch.zeros(len(batch), f.shape[1], device=f.device).index_add_(0, owner, f)
        return mean / counts[:, None]


class SentenceExtractor(ClipTextExtractor):
    """Mean sentence-transformer embedding of each stimulus' captions (normalised)."""

    def _forward(self, batch: Sequence[Sequence[str]]) -> Any:
        import torch

        flat = [c for caps in batch for c in caps]
        f = self.loaded.model.encode(flat, convert_to_tensor=True, normalize_embeddings=True)
        sizes = [len(c) for c in batch]
        return torch.stack([chunk.mean(0) for chunk in torch.split(f.float(), sizes)])


class ImageNetExtractor(FeatureExtractor):
    """Penultimate (pooled) features of an ImageNet classifier exposing ``features(x)``."""

    def _forward(self, batch: np.ndarray) -> Any:
        return self.loaded.model.features(self._pixels(batch))


class VaeLatentExtractor(FeatureExtractor):
    """Mean of a diffusers ``AutoencoderKL``'s latent distribution, flattened.

    Images are resized to ``image_size`` and scaled to [-1, 1] as diffusers VAEs expect; the
    latents are multiplied by the VAE's ``scaling_factor``.

    Parameters
    ----------
    image_size : int, default 64
        Input side given to the VAE (the latent side is ``image_size / 8`` for SD VAEs).
    """

    suffix = "-latent"

    def __init__(self, model: str, image_size: int = 64, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.image_size = int(image_size)

    @property
    def config(self) -> dict[str, Any]:
        return {**super().config, "image_size": self.image_size}

    def _probe(self) -> Any:
        return np.zeros((1, self.image_size, self.image_size, 3), np.uint8)

    def _forward(self, batch: np.ndarray) -> Any:
        import torch

        x = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float()
        x = x.div(127.5).sub(1.0)
        if x.shape[-1] != self.image_size:
            x = torch.nn.functional.interpolate(x, size=(self.image_size,) * 2, mode="bicubic")
        vae = self.loaded.model
        latent = vae.encode(x.to(self.device)).latent_dist.mean
        return latent * float(getattr(vae.config, "scaling_factor", 1.0))


class TruthExtractor(FeatureExtractor):
    """One ground-truth space of the synthetic world (``neurodecode.synth.truth_features``).

    Parameters
    ----------
    space : str
        ``"prf_energy"``, ``"colour"``, ``"category"`` or ``"nuisance"``.
    name : str
        Registry name of the extractor (``synth-prf`` ...).
    """

    def __init__(self, space: str, name: str) -> None:
        super().__init__(model=name)
        self.space = space

    @property
    def name(self) -> str:
        return self.model

    @property
    def weights_sha256(self) -> str:
        return ""

    def weights_path(self) -> Any:
        return None

    @property
    def dim(self) -> int:
        from neurodecode.synth import TRUTH_SPACES

        return int(TRUTH_SPACES[self.space])

    @property
    def config(self) -> dict[str, Any]:
        return {"model": self.model, "modality": "image", "space": self.space}

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        from neurodecode.synth import truth_features

        return np.asarray(truth_features(np.asarray(batch))[self.space], dtype=np.float32)
