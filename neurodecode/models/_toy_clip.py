"""The toy CLIP: a small open_clip model with a vocabulary restricted to the synthetic captions.

The architecture is an ordinary open_clip ``CLIP`` (ResNet image tower, transformer text tower)
registered with open_clip as the model config ``neurodecode-toy-clip``. The only departure is
the vocabulary: open_clip's 49,408-token BPE embedding would be half of the model, so the text
tower keeps only the BPE tokens that occur in the synthetic captions and prompts.
:class:`CompactTokenizer` runs open_clip's own tokenizer and maps its ids into that compact
vocabulary (unknown tokens -> one ``<unk>`` id). The saved folder follows open_clip's
``local-dir:`` layout (``open_clip_config.json`` + ``open_clip_model.safetensors``) plus
``vocab.json``, so ``open_clip.create_model("local-dir:DIR")`` loads it unchanged.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "TOY_CLIP_ARCH",
    "TOY_CLIP_NAME",
    "CompactTokenizer",
    "build_compact_vocab",
    "load_toy_clip",
    "save_toy_clip",
    "toy_clip_model_cfg",
]

TOY_CLIP_NAME = "neurodecode-toy-clip"
#: Architecture (open_clip model config) of the toy CLIP; ``vocab_size`` is set per vocabulary.
TOY_CLIP_ARCH: dict[str, Any] = {
    "embed_dim": 128,
    "vision_cfg": {"image_size": 64, "layers": [1, 1, 1, 1], "width": 32, "patch_size": None},
    "text_cfg": {"context_length": 32, "vocab_size": 0, "width": 128, "heads": 4, "layers": 4},
}
_PAD, _UNK = 0, 1  # compact ids; open_clip pads with 0, and its EOT pooling takes the argmax id


def toy_clip_model_cfg(vocab_size: int) -> dict[str, Any]:
    """open_clip model config of the toy CLIP for a compact vocabulary of ``vocab_size`` ids."""
    cfg = json.loads(json.dumps(TOY_CLIP_ARCH))
    cfg["text_cfg"]["vocab_size"] = int(vocab_size)
    return cfg


def build_compact_vocab(texts: Iterable[str]) -> list[int]:
    """Sorted open_clip BPE ids used by ``texts``, always including start and end of text.

    The compact id of BPE id ``kept[k]`` is ``k + 2`` (0 is padding, 1 is ``<unk>``); because
    the list is sorted and the end-of-text id is open_clip's largest, the end token keeps the
    largest compact id, as open_clip's argmax pooling requires.
    """
    import open_clip

    tok = open_clip.get_tokenizer("RN50")
    ids: set[int] = {tok.sot_token_id, tok.eot_token_id}
    for text in texts:
        ids.update(tok.encode(text))
    return sorted(ids)


class CompactTokenizer:
    """open_clip's BPE tokenizer followed by a map into a compact vocabulary.

    Parameters
    ----------
    kept : sequence of int
        Sorted BPE ids of the vocabulary (see :func:`build_compact_vocab`).
    context_length : int
        Tokens per text (truncated with a final end-of-text token, as open_clip does).
    """

    def __init__(self, kept: Sequence[int], context_length: int) -> None:
        import open_clip

        self.kept = [int(k) for k in kept]
        self.context_length = int(context_length)
        self._bpe = open_clip.get_tokenizer("RN50", context_length=self.context_length)
        lut = np.full(int(self._bpe.vocab_size), _UNK, dtype=np.int64)
        lut[self.kept] = np.arange(2, len(self.kept) + 2)
        lut[0] = _PAD  # open_clip's padding id stays padding
        self._lut = lut
        self.vocab_size = len(self.kept) + 2

    def unknown_fraction(self, texts: Sequence[str]) -> float:
        """Fraction of the BPE tokens of ``texts`` outside the vocabulary."""
        known = set(self.kept)
        tokens = [t for text in texts for t in self._bpe.encode(text)]
        return float(np.mean([t not in known for t in tokens])) if tokens else 0.0

    def __call__(self, texts: str | Sequence[str]) -> Any:
        import torch

        ids = self._bpe([texts] if isinstance(texts, str) else list(texts))
        return torch.from_numpy(self._lut[ids.numpy()])


def save_toy_clip(
    model: Any, kept: Sequence[int], out: str | os.PathLike[str], card: str | None = None
) -> Path:
    """Save in open_clip's ``local-dir:`` layout (fp16 safetensors) plus ``vocab.json``."""
    import torch
    from safetensors.torch import save_file

    from neurodecode._io import atomic_output_path, write_json_atomic

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    with atomic_output_path(out / "open_clip_model.safetensors") as tmp:
        save_file(state, str(tmp), metadata={"format": "pt"})
    from open_clip import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    write_json_atomic(
        out / "open_clip_config.json",
        {
            "model_cfg": toy_clip_model_cfg(len(kept) + 2),
            "preprocess_cfg": {"mean": list(OPENAI_DATASET_MEAN), "std": list(OPENAI_DATASET_STD)},
        },
    )
    write_json_atomic(out / "vocab.json", {"bpe_ids": [int(k) for k in kept]})
    if card is not None:
        (out / "README.md").write_text(card, encoding="utf-8")
    return out


def load_toy_clip(
    path: str | os.PathLike[str], device: str = "cpu"
) -> tuple[Any, CompactTokenizer]:
    """Load a saved toy CLIP through open_clip's ``local-dir:`` path (fp32, eval mode)."""
    import open_clip

    from neurodecode._io import read_json

    path = Path(path)
    model = open_clip.create_model(f"local-dir:{path}", device=device, precision="fp32")
    model.eval()
    kept = read_json(path / "vocab.json")["bpe_ids"]
    ctx = int(read_json(path / "open_clip_config.json")["model_cfg"]["text_cfg"]["context_length"])
    return model, CompactTokenizer(kept, ctx)
