"""Loading registered models through each library's own entry point (local files only)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from neurodecode.models._registry import (
    ModelSpec,
    WeightsNotFoundError,
    _hf_cache_dir,
    file_sha256,
    get_model_spec,
    models_dir,
    resolve_weights,
)

__all__ = [
    "LoadedModel",
    "load_clip",
    "load_diffusers",
    "load_model",
    "register_loader",
    "weights_checksum",
]

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A loaded model with what provenance needs.

    Attributes
    ----------
    name : str
        Registry name.
    model : object
        The library's model object (eval mode).
    tokenizer : callable or None
        Texts -> tokens, for models with a text side.
    path : Path
        Where the weights were read from.
    weights_sha256 : str
        sha256 of the main weights file.
    image_size : int or None
        Input side the image tower expects.
    mean, std : tuple of float or None
        Image normalisation.
    """

    name: str
    model: Any
    tokenizer: Any
    path: Path
    weights_sha256: str
    image_size: int | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None


def _main_weights_file(path: Path) -> Path:
    if path.is_file():
        return path
    files = sorted(
        (p for p in path.rglob("*") if p.suffix in _WEIGHT_SUFFIXES and p.is_file()),
        key=lambda p: (-p.stat().st_size, str(p)),
    )
    if not files:
        raise WeightsNotFoundError(f"{path}: no weights file ({', '.join(_WEIGHT_SUFFIXES)})")
    return files[0]


@lru_cache(maxsize=64)
def _sha_cached(path: str, size: int, mtime: float) -> str:
    return file_sha256(path)


def weights_checksum(path: str | os.PathLike[str]) -> str:
    """sha256 of a model's main (largest) weights file, cached per file size and mtime."""
    main = _main_weights_file(Path(path))
    st = main.stat()
    return _sha_cached(str(main), st.st_size, st.st_mtime)


def load_clip(
    name: str, device: str = "cpu", root: str | os.PathLike[str] | None = None
) -> LoadedModel:
    """Load a CLIP through open_clip from local files.

    Parameters
    ----------
    name : str
        ``"toy-clip"``, an open_clip ``ARCH/TAG`` registry name, or ``local-dir:PATH`` (a folder
        with ``open_clip_config.json`` and weights, as open_clip saves them).
    device : str
        torch device.
    root : path-like, optional
        Extra folder searched for weights (see :func:`resolve_weights`).

    Returns
    -------
    LoadedModel
    """
    import open_clip

    spec = get_model_spec(name)
    if spec.library != "open_clip":
        raise ValueError(f"{name} is a {spec.library} model, not an open_clip CLIP")
    path = resolve_weights(name, root)
    if path.is_dir() and (path / "vocab.json").is_file():  # a toy CLIP's compact vocabulary
        from neurodecode.models._toy_clip import load_toy_clip

        model, tokenizer = load_toy_clip(path, device=device)
    elif path.is_dir():
        model = open_clip.create_model(f"local-dir:{path}", device=device)
        tokenizer = open_clip.get_tokenizer(f"local-dir:{path}")
    else:
        model = open_clip.create_model(spec.arch, pretrained=str(path), device=device)
        tokenizer = open_clip.get_tokenizer(spec.arch)
    model.eval()
    size = model.visual.image_size
    return LoadedModel(
        name=name,
        model=model,
        tokenizer=tokenizer,
        path=path,
        weights_sha256=weights_checksum(path),
        image_size=int(size[0] if isinstance(size, (tuple, list)) else size),
        mean=tuple(getattr(model.visual, "image_mean", None) or open_clip.OPENAI_DATASET_MEAN),
        std=tuple(getattr(model.visual, "image_std", None) or open_clip.OPENAI_DATASET_STD),
    )


def load_diffusers(
    name: str,
    component: str | None = None,
    device: str = "cpu",
    root: str | os.PathLike[str] | None = None,
) -> LoadedModel:
    """Load a diffusers pipeline, model, or one ``component`` of a pipeline, from local files.

    A folder with ``model_index.json`` is a whole pipeline (loaded with
    ``DiffusionPipeline.from_pretrained``, which picks the pipeline class it names);
    ``component="vae"`` (or ``"unet"``...) reads that subfolder of a pipeline with the class its
    ``model_index.json`` names; a model repository (``AutoencoderKL`` at its top level) is
    loaded with the registry's ``arch`` class.
    """
    import diffusers

    spec = get_model_spec(name)
    if spec.library != "diffusers":
        raise ValueError(f"{name} is a {spec.library} model, not a diffusers one")
    path = resolve_weights(name, root)
    folder = path / component if component else path
    if component is not None:
        model = _pipeline_component(path, component)
    elif (path / "model_index.json").is_file():
        model = diffusers.DiffusionPipeline.from_pretrained(path, local_files_only=True)
    else:
        model = getattr(diffusers, spec.arch).from_pretrained(path, local_files_only=True)
    model = model.to(device)
    if hasattr(model, "eval"):
        model.eval()
    return LoadedModel(name, model, None, folder, weights_checksum(folder))


def _pipeline_component(path: Path, component: str, **kwargs: Any) -> Any:
    """One component of a pipeline folder, by the class ``model_index.json`` names for it.

    ``kwargs`` go to the class's ``from_pretrained`` (``torch_dtype=`` ...).
    """
    import importlib
    import json

    index_file = path / "model_index.json"
    if not index_file.is_file():
        raise WeightsNotFoundError(f"{path}: no model_index.json (not a diffusers pipeline)")
    index = json.loads(index_file.read_text(encoding="utf-8"))
    if component not in index or not isinstance(index[component], list):
        known = sorted(k for k, v in index.items() if isinstance(v, list))
        raise KeyError(f"{path}: no component {component!r}; components: {known}")
    library, cls_name = index[component]
    cls = getattr(importlib.import_module(library), cls_name)
    sub = path / component
    if hasattr(cls, "from_pretrained"):
        return cls.from_pretrained(sub, local_files_only=True, **kwargs)
    raise ValueError(f"{path}: component {component!r} ({cls_name}) cannot be loaded alone")


def _load_open_clip(spec: ModelSpec, device: str, root: Any) -> LoadedModel:
    return load_clip(spec.name, device, root)


def _load_diffusers_model(spec: ModelSpec, device: str, root: Any) -> LoadedModel:
    # A VAE-kind entry of a pipeline repository means that repository's VAE.
    path = resolve_weights(spec.name, root)
    component = "vae" if spec.kind == "vae" and (path / "model_index.json").is_file() else None
    return load_diffusers(spec.name, component, device, root)


def _load_sentence_transformers(spec: ModelSpec, device: str, root: Any) -> LoadedModel:
    from sentence_transformers import SentenceTransformer

    path = resolve_weights(spec.name, root)
    model = SentenceTransformer(str(path), device=device, local_files_only=True)
    return LoadedModel(spec.name, model, None, path, weights_checksum(path))


def _load_torch(spec: ModelSpec, device: str, root: Any) -> LoadedModel:
    if spec.arch != "efficientnet-lite0":
        raise ValueError(f"{spec.name}: no torch loader for architecture {spec.arch!r}")
    from neurodecode.models._efficientnet import load_efficientnet_lite0

    path = resolve_weights(spec.name, root)
    model = load_efficientnet_lite0(path).to(device).eval()
    mean, std = (0.498, 0.498, 0.498), (0.502, 0.502, 0.502)
    return LoadedModel(spec.name, model, None, path, weights_checksum(path), 224, mean, std)


def _load_transformers(spec: ModelSpec, device: str, root: Any) -> LoadedModel:
    """A transformers model by its registry class (e.g. ``GitForCausalLM``, with generation)
    and, where the folder has one, its processor (else its tokenizer)."""
    import transformers

    path = resolve_weights(spec.name, root)
    cls = getattr(transformers, spec.arch, None) or transformers.AutoModel
    model = cls.from_pretrained(path, local_files_only=True).to(device).eval()
    processor: Any = None
    if any((path / f).is_file() for f in ("processor_config.json", "preprocessor_config.json")):
        processor = transformers.AutoProcessor.from_pretrained(path, local_files_only=True)
    elif any(
        (path / f).is_file() for f in ("tokenizer.json", "vocab.txt", "tokenizer_config.json")
    ):
        processor = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    return LoadedModel(spec.name, model, processor, path, weights_checksum(path))


def _load_torchvision(spec: ModelSpec, device: str, root: Any) -> LoadedModel:
    """A torchvision model built without weights, then given the local checkpoint."""
    import torch
    from torchvision import models

    path = resolve_weights(spec.name, root)
    model = models.get_model(spec.arch, weights=None)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return LoadedModel(spec.name, model.to(device).eval(), None, path, weights_checksum(path))


def _load_torchvision_backbone(spec: ModelSpec, device: str, root: Any) -> LoadedModel:
    """A metric backbone: a torchvision network with its checkpoint, tapped at one layer."""
    from neurodecode.models._backbones import imagenet_normalisation, load_backbone

    path = resolve_weights(spec.name, root)
    model, backbone = load_backbone(spec.name, path)
    mean, std = imagenet_normalisation()
    return LoadedModel(spec.name, model.to(device).eval(), None, path, weights_checksum(path),
                       backbone.image_size, mean, std)  # fmt: skip


#: Hugging Face repositories of GPT-2 small (ClipCap's decoder), looked for in the HF cache.
_GPT2_REPOS = ("openai-community/gpt2", "gpt2")


def _gpt2_folder(spec: ModelSpec, path: Path, root: Any) -> Path:
    """GPT-2's config and tokenizer for a checkpoint: ``gpt2/`` beside it, in the model's local
    folder, or a GPT-2 snapshot in the Hugging Face cache (never downloaded)."""
    local = models_dir(root) / spec.name
    for folder in (path / "gpt2", local / "gpt2"):
        if (folder / "config.json").is_file():
            return folder
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    for repo in _GPT2_REPOS:
        try:
            snap = Path(snapshot_download(repo, cache_dir=_hf_cache_dir(), local_files_only=True))
        except (LocalEntryNotFoundError, FileNotFoundError, OSError):
            continue
        if (snap / "config.json").is_file():
            return snap
    raise WeightsNotFoundError(
        f"{spec.name}: GPT-2's config and tokenizer are not on this machine. Put GPT-2 small's "
        f"config.json and tokenizer files in {local / 'gpt2'}/ (`huggingface-cli download "
        f"openai-community/gpt2 config.json vocab.json merges.txt tokenizer.json "
        f"tokenizer_config.json --local-dir {local / 'gpt2'}`), or into the Hugging Face cache "
        "($HF_HOME)."
    )


def _load_clipcap(spec: ModelSpec, device: str, root: Any) -> LoadedModel:
    """A CLIP-prefix captioner: a saved folder (the toy one), or a published ClipCap checkpoint
    (the entry's first file) with GPT-2's config and tokenizer."""
    from neurodecode.models._clipcap_checkpoint import load_clipcap_checkpoint
    from neurodecode.models._toy_clipcap import CLIPCAP_CONFIG, load_clipcap

    path = resolve_weights(spec.name, root)
    if (path / CLIPCAP_CONFIG).is_file():
        model, tokenizer = load_clipcap(path, device)
        return LoadedModel(spec.name, model, tokenizer, path, weights_checksum(path))
    checkpoint = path / spec.files[0]
    model, tokenizer = load_clipcap_checkpoint(
        checkpoint, _gpt2_folder(spec, path, root), device=device
    )
    return LoadedModel(spec.name, model, tokenizer, path, weights_checksum(checkpoint))


#: Library -> loader ``(spec, device, root) -> LoadedModel``; :func:`register_loader` adds one.
_LOADERS: dict[str, Callable[[ModelSpec, str, Any], LoadedModel]] = {
    "open_clip": _load_open_clip,
    "diffusers": _load_diffusers_model,
    "sentence_transformers": _load_sentence_transformers,
    "torch": _load_torch,
    "transformers": _load_transformers,
    "torchvision": _load_torchvision,
    "torchvision_backbone": _load_torchvision_backbone,
    "clipcap": _load_clipcap,
}


def register_loader(
    library: str, loader: Callable[[ModelSpec, str, Any], LoadedModel], *, overwrite: bool = False
) -> None:
    """Add the loader of a library (a model's ``library`` picks it)."""
    if library in _LOADERS and not overwrite:
        raise ValueError(f"a loader for {library!r} is already registered")
    _LOADERS[library] = loader


def load_model(
    name: str, device: str = "cpu", root: str | os.PathLike[str] | None = None
) -> LoadedModel:
    """Load any registered model by its library's own loading path (local files only)."""
    spec = get_model_spec(name)
    try:
        loader = _LOADERS[spec.library]
    except KeyError:
        raise ValueError(f"{name}: no loader for library {spec.library!r}") from None
    return loader(spec, device, root)
