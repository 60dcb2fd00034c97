"""Loading registered models through each library's own entry point (local files only)."""

from __future__ import annotations

import dataclasses
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from neurodecode.models._registry import (
    WeightsNotFoundError,
    file_sha256,
    get_model_spec,
    resolve_weights,
)

__all__ = ["LoadedModel", "load_clip", "load_diffusers", "load_model", "weights_checksum"]

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
    if path.is_dir() and (path / "vocab.json").is_file():
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
    """Load a diffusers model (or one ``component`` of a pipeline repository) from local files.

    ``component="vae"`` reads the ``vae/`` subfolder of a pipeline repository; a model
    repository (``AutoencoderKL`` at its top level) needs no component.
    """
    import diffusers

    spec = get_model_spec(name)
    if spec.library != "diffusers":
        raise ValueError(f"{name} is a {spec.library} model, not a diffusers one")
    path = resolve_weights(name, root)
    folder = path / component if component else path
    if component == "vae" or spec.arch == "AutoencoderKL":
        model = diffusers.AutoencoderKL.from_pretrained(folder, local_files_only=True)
    else:
        model = diffusers.DiffusionPipeline.from_pretrained(folder, local_files_only=True)
    model = model.to(device)
    if hasattr(model, "eval"):
        model.eval()
    return LoadedModel(name, model, None, folder, weights_checksum(folder))


def load_model(
    name: str, device: str = "cpu", root: str | os.PathLike[str] | None = None
) -> LoadedModel:
    """Load any registered model by its library's own loading path."""
    spec = get_model_spec(name)
    if spec.library == "open_clip":
        return load_clip(name, device, root)
    if spec.library == "diffusers":
        return load_diffusers(name, "vae" if spec.arch != "AutoencoderKL" else None, device, root)
    if spec.library == "sentence_transformers":
        from sentence_transformers import SentenceTransformer

        path = resolve_weights(name, root)
        model = SentenceTransformer(str(path), device=device, local_files_only=True)
        return LoadedModel(name, model, None, path, weights_checksum(path))
    if spec.library == "torch" and spec.arch == "efficientnet-lite0":
        from neurodecode.models._efficientnet import load_efficientnet_lite0

        path = resolve_weights(name, root)
        model = load_efficientnet_lite0(path).to(device).eval()
        mean, std = (0.498, 0.498, 0.498), (0.502, 0.502, 0.502)
        return LoadedModel(name, model, None, path, weights_checksum(path), 224, mean, std)
    if spec.library == "transformers":
        import transformers

        path = resolve_weights(name, root)
        model = transformers.AutoModel.from_pretrained(path, local_files_only=True).to(device)
        return LoadedModel(name, model.eval(), None, path, weights_checksum(path))
    raise ValueError(f"{name}: no loader for library {spec.library!r}")
