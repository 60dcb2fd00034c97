"""The published ClipCap checkpoints (Mokady et al., 2021), read into a ClipPrefixCaptioner.

ClipCap's MLP checkpoints (``coco_weights.pt``, ``conceptual_weights.pt``) are torch state
dicts of its ``ClipCaptionModel``: ``clip_project.model.0/2.weight/bias`` (the MLP mapper) and
``gpt.*`` (a ``GPT2LMHeadModel``). They are read with ``weights_only=True`` (tensors only, no
pickled code); GPT-2's architecture and tokenizer come from a GPT-2 folder.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from neurodecode.models._toy_clipcap import (
    ClipCapConfig,
    ClipPrefixCaptioner,
    _load_gpt,
    _load_mapper,
)

__all__ = ["load_clipcap_checkpoint"]


def load_clipcap_checkpoint(
    checkpoint: str | os.PathLike[str],
    gpt2: str | os.PathLike[str],
    *,
    clip_model: str = "ViT-B-32/openai",
    normalisation: str = "none",
    stop_tokens: Sequence[str] = (".",),
    device: str = "cpu",
) -> tuple[ClipPrefixCaptioner, Any]:
    """A published ClipCap MLP checkpoint (e.g. ``coco_weights.pt``) as a captioner.

    Parameters
    ----------
    checkpoint : path
        A torch state dict with ``clip_project.model.0/2.weight/bias`` (the MLP mapper) and
        ``gpt.*`` (``GPT2LMHeadModel``'s tensors), read with ``weights_only=True``.
    gpt2 : path
        A GPT-2 folder with ``config.json`` and tokenizer files (the architecture and the
        tokenizer; its weights, if any, are not read).
    clip_model, normalisation, stop_tokens
        See :class:`ClipCapConfig` (defaults: the published COCO model's).
    device : str

    Returns
    -------
    model, tokenizer
        The prefix length, CLIP width and hidden width come from the checkpoint's shapes.
    """
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    checkpoint, gpt2 = Path(checkpoint), Path(gpt2)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"{checkpoint}: missing (the ClipCap checkpoint)")
    if not (gpt2 / "config.json").is_file():
        raise FileNotFoundError(f"{gpt2 / 'config.json'}: missing (GPT-2's config)")
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors alike: the file is unreadable
        raise ValueError(f"{checkpoint}: not a readable torch state dict ({exc})") from None
    keys = [f"clip_project.model.{i}.{p}" for i in (0, 2) for p in ("weight", "bias")]
    if not isinstance(state, dict) or any(k not in state for k in keys):
        raise ValueError(f"{checkpoint}: not a ClipCap MLP checkpoint (needs {keys} and gpt.*)")
    gpt_config = GPT2Config.from_pretrained(gpt2, local_files_only=True)
    first, last = state[keys[0]], state[keys[2]]
    n_embd = int(gpt_config.n_embd)
    if last.shape[0] % n_embd:
        raise ValueError(f"{checkpoint}: the mapper makes {last.shape[0]} values, not a multiple "
                         f"of GPT-2's width {n_embd} ({gpt2 / 'config.json'})")  # fmt: skip
    config = ClipCapConfig(
        prefix_length=int(last.shape[0]) // n_embd,
        clip_dim=int(first.shape[1]),
        hidden=int(first.shape[0]),
        clip_model=clip_model,
        normalisation=normalisation,
        stop_tokens=tuple(stop_tokens),
    )
    model = ClipPrefixCaptioner(config, GPT2LMHeadModel(gpt_config))
    _load_mapper(model, state, checkpoint)
    _load_gpt(model, state, checkpoint, prefix="gpt.")
    tokenizer = AutoTokenizer.from_pretrained(gpt2, local_files_only=True)
    return model.to(device).eval(), tokenizer
