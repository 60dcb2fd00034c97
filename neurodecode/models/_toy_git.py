"""The toy GIT captioner: a small transformers ``GitForCausalLM`` with a compact vocabulary.

The architecture is an ordinary GIT (a CLIP-style ViT image encoder whose last hidden state,
all tokens, is projected into a causal transformer text decoder), configured small for 64x64
stimuli. Its tokenizer is a transformers ``BertTokenizer`` over a compact word list: the words
of the synthetic captions as BERT's own pre-tokenizer splits them (lower case, punctuation
apart), plus BERT's special tokens. A 30k-entry BERT vocabulary would make the embedding and
output layers most of the model (and the captioner several times slower) for no gain on a
world whose captions use under two hundred words. The processor is a ``GitProcessor`` with a
``CLIPImageProcessor`` at the model's input side, so the saved folder is a standard
transformers model folder that ``GitForCausalLM.from_pretrained`` and
``AutoProcessor.from_pretrained`` read unchanged, as they read ``microsoft/git-base-coco``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "TOY_GIT_ARCH",
    "build_git_vocab",
    "caption_images",
    "git_image_tensor",
    "load_toy_git",
    "save_toy_git",
    "toy_git_config",
    "toy_git_processor",
    "vocab_texts",
]

_SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
#: Architecture of the toy GIT (``vocab_size`` is set from the vocabulary).
TOY_GIT_ARCH: dict[str, Any] = {
    "vision_config": {
        "hidden_size": 128,
        "intermediate_size": 512,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "image_size": 64,
        "patch_size": 16,
    },
    "hidden_size": 128,
    "intermediate_size": 512,
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "max_position_embeddings": 48,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
}
#: CLIP's image normalisation (GIT's image encoder is a CLIP ViT).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def build_git_vocab(texts: Iterable[str]) -> dict[str, int]:
    """Word -> id of a compact BERT vocabulary covering ``texts``.

    BERT's special tokens come first (``[PAD]`` is 0); the words are the lower-cased pieces of
    BERT's own pre-tokenizer (punctuation split off), sorted, so every piece of ``texts`` is a
    whole entry and the WordPiece step never needs ``##`` continuations or ``[UNK]``.
    """
    from tokenizers.pre_tokenizers import BertPreTokenizer

    split = BertPreTokenizer()
    words: set[str] = set()
    for text in texts:
        words.update(piece for piece, _ in split.pre_tokenize_str(text.lower()))
    ordered = [*_SPECIAL, *sorted(words - set(_SPECIAL))]
    return {w: i for i, w in enumerate(ordered)}


def toy_git_processor(vocab: dict[str, int], image_size: int = 64) -> Any:
    """``GitProcessor`` of the toy GIT: CLIP image processing at ``image_size`` + the tokenizer."""
    from transformers import BertTokenizer, CLIPImageProcessor, GitProcessor

    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size},
        crop_size={"height": image_size, "width": image_size},
        image_mean=list(CLIP_MEAN),
        image_std=list(CLIP_STD),
    )
    tokenizer = BertTokenizer(
        vocab=dict(vocab), model_max_length=TOY_GIT_ARCH["max_position_embeddings"]
    )
    return GitProcessor(image_processor=image_processor, tokenizer=tokenizer)


def toy_git_config(vocab: dict[str, int]) -> Any:
    """``GitConfig`` of the toy GIT for a vocabulary from :func:`build_git_vocab`."""
    from transformers import GitConfig

    arch = json.loads(json.dumps(TOY_GIT_ARCH))
    return GitConfig(
        **arch,
        vocab_size=len(vocab),
        pad_token_id=vocab["[PAD]"],
        bos_token_id=vocab["[CLS]"],
        eos_token_id=vocab["[SEP]"],
    )


def git_image_tensor(images: np.ndarray, processor: Any) -> Any:
    """uint8 ``(n, H, W, 3)`` images -> the ``pixel_values`` the processor makes from them.

    Images already at the processor's crop side are only rescaled and normalised here (the
    resize and crop are identities for them; a test checks the two agree); others go through
    the processor itself.
    """
    import torch

    ip = processor.image_processor
    side = int(ip.crop_size["height"])
    images = np.asarray(images)
    if images.shape[1:3] != (side, side):
        return processor(images=list(images), return_tensors="pt").pixel_values
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    x = x * float(ip.rescale_factor)
    mean = torch.tensor(ip.image_mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(ip.image_std, dtype=torch.float32).view(1, 3, 1, 1)
    return (x - mean) / std


def caption_images(
    model: Any,
    processor: Any,
    images: np.ndarray,
    *,
    batch_size: int = 128,
    max_new_tokens: int = 30,
    **generate: Any,
) -> list[str]:
    """Captions of uint8 images by a GIT captioner (greedy unless ``generate`` says otherwise)."""
    import torch

    out: list[str] = []
    device = next(model.parameters()).device
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            pixels = git_image_tensor(images[start : start + batch_size], processor)
            ids = model.generate(
                pixel_values=pixels.to(device), max_new_tokens=max_new_tokens, **generate
            )
            out += processor.batch_decode(ids, skip_special_tokens=True)
    return [" ".join(c.split()) for c in out]


def save_toy_git(
    model: Any, processor: Any, out: str | os.PathLike[str], card: str | None = None
) -> Path:
    """Save the model (safetensors) and its processor as a standard transformers folder."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    if card is not None:
        (out / "README.md").write_text(card, encoding="utf-8")
    return out


def load_toy_git(path: str | os.PathLike[str], device: str = "cpu") -> tuple[Any, Any]:
    """The toy GIT (eval mode) and its processor from a folder written by :func:`save_toy_git`."""
    from transformers import AutoProcessor, GitForCausalLM

    path = Path(path)
    if not (path / "config.json").is_file():  # from_pretrained would report a hub error
        raise FileNotFoundError(f"{path}: not a saved GIT folder (no config.json)")
    model = GitForCausalLM.from_pretrained(path, local_files_only=True).to(device).eval()
    return model, AutoProcessor.from_pretrained(path, local_files_only=True)


def vocab_texts(stimuli: Any, ids: Sequence[int] | np.ndarray) -> list[str]:
    """Texts the vocabulary must cover: captions of ``ids`` and every slot value of the grammar."""
    from neurodecode.synth import BACKGROUND_RGB, CATEGORY_WORDS, COLOURS, SHAPES, WORDS

    texts = [c for i in ids for c in stimuli.captions(int(i))]
    texts.append(" ".join([*COLOURS, *SHAPES, *CATEGORY_WORDS.values(), *WORDS, *BACKGROUND_RGB]))
    return texts
