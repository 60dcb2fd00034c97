"""The toy-model trainers: ``neurodecode models train KIND`` looks its kind up here.

Each entry names the toy model it makes (its registry name), the frozen dataclass of its
training settings, and the function that trains and saves it. The stage builds the command
line of each kind from its settings class, so a new toy model is one :func:`register_trainer`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from neurodecode._registry import Registry

__all__ = ["ToyTrainer", "get_trainer", "list_trainers", "register_trainer"]


@dataclasses.dataclass(frozen=True)
class ToyTrainer:
    """How one kind of toy model is trained.

    Parameters
    ----------
    kind : str
        The ``models train`` sub-command (``clip``, ``diffusion``...).
    model : str
        Registry name of the shipped model this trainer makes.
    config : type
        Frozen dataclass of the training settings (numpydoc-documented; its fields become
        flags of ``neurodecode models train KIND``).
    train : callable
        ``train(config, out, device, log) -> dict``: trains, saves the model (with its card)
        into the folder ``out`` and returns the training report.
    description : str
        One line for ``--help``.
    """

    kind: str
    model: str
    config: type
    train: Callable[[Any, Path, str, Callable[[str], None]], dict[str, Any]]
    description: str


_TRAINERS: Registry[ToyTrainer] = Registry("toy-model kind", lambda t: t.kind)


def register_trainer(trainer: ToyTrainer, *, overwrite: bool = False) -> ToyTrainer:
    """Add a toy-model kind."""
    return _TRAINERS.register(trainer, overwrite=overwrite)


def list_trainers() -> list[str]:
    """Registered toy-model kinds."""
    return _TRAINERS.names()


def get_trainer(kind: str) -> ToyTrainer:
    """The trainer of ``kind``."""
    return _TRAINERS.get(kind)


def _train_clip(config: Any, out: Path, device: str, log: Callable[[str], None]) -> dict:
    from neurodecode.models._toy_clip_train import train_toy_clip

    _, _, report = train_toy_clip(config, out=out, log=log, device=device)
    return report


def _clip_config() -> type:
    from neurodecode.models._toy_clip_train import ToyClipTrainConfig

    return ToyClipTrainConfig


register_trainer(
    ToyTrainer(
        kind="clip",
        model="toy-clip",
        config=_clip_config(),
        train=_train_clip,
        description="train the toy CLIP (open_clip) on the synthetic world",
    )
)


def _train_git(config: Any, out: Path, device: str, log: Callable[[str], None]) -> dict:
    from neurodecode.models._toy_git_train import train_toy_git

    _, _, report = train_toy_git(config, out=out, log=log, device=device)
    return report


def _git_config() -> type:
    from neurodecode.models._toy_git_train import ToyGitTrainConfig

    return ToyGitTrainConfig


register_trainer(
    ToyTrainer(
        kind="git",
        model="toy-git",
        config=_git_config(),
        train=_train_git,
        description="train the toy GIT captioner (transformers) on the synthetic world",
    )
)


def _train_diffusion(config: Any, out: Path, device: str, log: Callable[[str], None]) -> dict:
    from neurodecode.models._toy_diffusion_train import train_toy_diffusion

    return train_toy_diffusion(config, out=out, log=log, device=device)


def _diffusion_config() -> type:
    from neurodecode.models._toy_diffusion_train import ToyDiffusionTrainConfig

    return ToyDiffusionTrainConfig


register_trainer(
    ToyTrainer(
        kind="diffusion",
        model="toy-diffusion",
        config=_diffusion_config(),
        train=_train_diffusion,
        description="train the toy latent-diffusion model (diffusers VAE + UNet) on the "
        "synthetic world",
    )
)


def _train_clipcap(config: Any, out: Path, device: str, log: Callable[[str], None]) -> dict:
    from neurodecode.models._toy_clipcap_train import train_toy_clipcap

    _, _, report = train_toy_clipcap(config, out=out, log=log, device=device)
    return report


def _clipcap_config() -> type:
    from neurodecode.models._toy_clipcap_train import ToyClipCapTrainConfig

    return ToyClipCapTrainConfig


register_trainer(
    ToyTrainer(
        kind="clipcap",
        model="toy-clipcap",
        config=_clipcap_config(),
        train=_train_clipcap,
        description="train the toy ClipCap captioner (MLP prefix + transformers GPT-2) on "
        "toy-CLIP embeddings of the synthetic world",
    )
)
