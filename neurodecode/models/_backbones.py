"""The image-metric suite's real backbones: torchvision networks tapped at a named layer.

Reconstruction papers (Ozcelik & VanRullen; MindEye) score images with AlexNet's
``features.4`` and ``features.11``, InceptionV3's pooled features, EfficientNet-B1's pooled
features and SwAV's ResNet-50 pooled features. Each is a registry name here whose weights load
from a local checkpoint when present (never downloaded; the registry's message says which file
to fetch and where to put it). The layer is read with torchvision's own feature-extraction
tool (``create_feature_extractor``), flattened, and exposed as ``features(x)``, the interface
:class:`neurodecode.features.ImageNetExtractor` reads.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

__all__ = ["BACKBONES", "BackboneSpec", "load_backbone"]

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclasses.dataclass(frozen=True)
class BackboneSpec:
    """A torchvision architecture, the layer read, and the input side it expects."""

    arch: str
    layer: str
    image_size: int
    prefix: str = ""  # stripped from checkpoint keys (SwAV's ``module.``)
    head: str | None = None  # a checkpoint may lack this submodule (SwAV has no ``fc``)


#: Registry name -> backbone.
BACKBONES: dict[str, BackboneSpec] = {
    "alexnet/features.4": BackboneSpec("alexnet", "features.4", 224),
    "alexnet/features.11": BackboneSpec("alexnet", "features.11", 224),
    "inception_v3": BackboneSpec("inception_v3", "avgpool", 299),
    "efficientnet_b1": BackboneSpec("efficientnet_b1", "avgpool", 240),
    "swav-resnet50": BackboneSpec("resnet50", "avgpool", 224, prefix="module.", head="fc"),
}


def _state_dict(path: str | os.PathLike[str], spec: BackboneSpec, model: Any) -> dict:
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if spec.prefix:
        state = {k.removeprefix(spec.prefix): v for k, v in state.items()}
    wanted = model.state_dict()
    missing = [
        k for k in wanted if k not in state and not (spec.head and k.startswith(spec.head + "."))
    ]
    if missing:
        raise ValueError(
            f"{path}: not a {spec.arch} checkpoint; it lacks {len(missing)} of the network's "
            f"tensors (first: {missing[0]})"
        )
    kept = {k: v for k, v in state.items() if k in wanted}
    for k, v in kept.items():
        if tuple(v.shape) != tuple(wanted[k].shape):
            raise ValueError(f"{path}: {k} has shape {tuple(v.shape)}, expected "
                             f"{tuple(wanted[k].shape)} for {spec.arch}")  # fmt: skip
    return kept


def load_backbone(name: str, path: str | os.PathLike[str]) -> tuple[Any, BackboneSpec]:
    """The backbone ``name`` with the checkpoint at ``path``: a module with ``features(x)``.

    ``x`` is ImageNet-normalised ``(n, 3, s, s)`` at the backbone's ``image_size``; the
    features are the layer's output flattened to ``(n, d)``.
    """
    import torch
    from torchvision import models
    from torchvision.models.feature_extraction import create_feature_extractor

    spec = BACKBONES[name]
    kwargs: dict[str, Any] = {}
    if spec.arch == "inception_v3":  # as torchvision builds it for its ImageNet weights
        kwargs = {"aux_logits": True, "init_weights": False, "transform_input": True}
    net = models.get_model(spec.arch, weights=None, **kwargs)
    net.load_state_dict(_state_dict(path, spec, net), strict=not spec.head)
    net.eval()

    class LayerFeatures(torch.nn.Module):
        """``features(x)``: the flattened output of one layer of a torchvision network."""

        def __init__(self) -> None:
            super().__init__()
            self.body = create_feature_extractor(net, return_nodes={spec.layer: "out"})

        def features(self, x: torch.Tensor) -> torch.Tensor:
            return torch.flatten(self.body(x)["out"], 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.features(x)

    return LayerFeatures().eval(), spec


def imagenet_normalisation() -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The mean and sd every backbone here was trained with."""
    return _IMAGENET_MEAN, _IMAGENET_STD
