"""Model registry, loaders and the toy models trained on the synthetic world.

``from neurodecode.models import list_models, get_model_spec, resolve_weights, load_clip``.
Names resolve to local weights only (a folder, the Hugging Face cache, a pip package or the
toy models shipped in this package); importing this package does not import torch or
open_clip (the CLIP-prefix captioner's names resolve on first use), and nothing here opens a
network connection.
"""

from __future__ import annotations

from neurodecode._lazy import lazy_names
from neurodecode.models._efficientnet import build_efficientnet_lite0, load_efficientnet_lite0
from neurodecode.models._loading import (
    LoadedModel,
    load_clip,
    load_diffusers,
    load_model,
    register_loader,
    weights_checksum,
)
from neurodecode.models._registry import (
    ModelSpec,
    WeightsNotFoundError,
    file_sha256,
    get_model_spec,
    list_models,
    models_dir,
    register_model,
    resolve_weights,
)
from neurodecode.models._toy_clip import (
    TOY_CLIP_ARCH,
    TOY_CLIP_NAME,
    CompactTokenizer,
    build_compact_vocab,
    load_toy_clip,
    save_toy_clip,
    toy_clip_model_cfg,
)
from neurodecode.models._toy_clip_train import (
    ToyClipTrainConfig,
    attribute_accuracy,
    category_of_class_word,
    evaluate_toy_clip,
    images_to_tensor,
    train_toy_clip,
    zero_shot_attributes,
    zero_shot_prompts,
)
from neurodecode.models._toy_clipcap_eval import evaluate_clipcap
from neurodecode.models._toy_clipcap_train import (
    ToyClipCapTrainConfig,
    embed_images,
    train_toy_clipcap,
)
from neurodecode.models._toy_diffusion import (
    TOY_DIFFUSION_NAME,
    ToyDiffusionArchitecture,
    condition_from_embedding,
    denoise,
    save_toy_diffusion,
    unet_condition_kwargs,
)
from neurodecode.models._toy_diffusion_train import ToyDiffusionTrainConfig, train_toy_diffusion
from neurodecode.models._trainers import ToyTrainer, get_trainer, list_trainers, register_trainer

# public name -> (private module, attribute): modules that import torch when imported
_LAZY: dict[str, tuple[str, str]] = {
    name: ("_toy_clipcap", name)
    for name in (
        "ClipCapConfig",
        "ClipPrefixCaptioner",
        "build_clipcap",
        "build_word_tokenizer",
        "caption_embeddings",
        "load_clipcap",
        "save_clipcap",
    )
}
_LAZY["load_clipcap_checkpoint"] = ("_clipcap_checkpoint", "load_clipcap_checkpoint")

__all__ = [
    "TOY_CLIP_ARCH",
    "TOY_CLIP_NAME",
    "TOY_DIFFUSION_NAME",
    "ClipCapConfig",
    "ClipPrefixCaptioner",
    "CompactTokenizer",
    "LoadedModel",
    "ModelSpec",
    "ToyClipCapTrainConfig",
    "ToyClipTrainConfig",
    "ToyDiffusionArchitecture",
    "ToyDiffusionTrainConfig",
    "ToyTrainer",
    "WeightsNotFoundError",
    "attribute_accuracy",
    "build_clipcap",
    "build_compact_vocab",
    "build_efficientnet_lite0",
    "build_word_tokenizer",
    "caption_embeddings",
    "category_of_class_word",
    "condition_from_embedding",
    "denoise",
    "embed_images",
    "evaluate_clipcap",
    "evaluate_toy_clip",
    "file_sha256",
    "get_model_spec",
    "get_trainer",
    "images_to_tensor",
    "list_models",
    "list_trainers",
    "load_clip",
    "load_clipcap",
    "load_clipcap_checkpoint",
    "load_diffusers",
    "load_efficientnet_lite0",
    "load_model",
    "load_toy_clip",
    "models_dir",
    "register_loader",
    "register_model",
    "register_trainer",
    "resolve_weights",
    "save_clipcap",
    "save_toy_clip",
    "save_toy_diffusion",
    "toy_clip_model_cfg",
    "train_toy_clip",
    "train_toy_clipcap",
    "train_toy_diffusion",
    "unet_condition_kwargs",
    "weights_checksum",
    "zero_shot_attributes",
    "zero_shot_prompts",
]

__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
