"""CLIP-prefix captioners (ClipCap, Mokady et al. 2021): a mapping network + a GPT-2 decoder.

A two-layer MLP (``clip_dim -> hidden -> prefix_length * n_embd``, Tanh between, as ClipCap's
MLP mapper) turns one CLIP image embedding into ``prefix_length`` token embeddings that a
transformers ``GPT2LMHeadModel`` reads as ``inputs_embeds`` before the caption; captions are
generated from the prefix alone, greedily or by beam search, by GPT-2's own ``generate``.
Parameter names follow the published checkpoints (``clip_project.model.0/2`` for the mapper,
``gpt.*`` for GPT-2), so ClipCap's ``coco_weights.pt`` loads into the same module
(:mod:`neurodecode.models._clipcap_checkpoint`).

The toy captioner of the synthetic world uses a small GPT-2 and a word-level
``PreTrainedTokenizerFast`` over the caption words (lower case, punctuation apart, as BERT's
pre-tokenizer splits them) plus ``<pad>``, ``<bos>``, ``<eos>``, ``<unk>``: a 50k-entry BPE
vocabulary would be nearly all of the model for a world whose captions use about a hundred
words. Its folder (:func:`save_clipcap`) holds ``gpt2/`` (``save_pretrained``, safetensors),
the tokenizer's files, ``mapper.safetensors`` and ``clipcap_config.json``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "CLIPCAP_CONFIG",
    "MAPPER_FILE",
    "TOY_GPT2_ARCH",
    "ClipCapConfig",
    "ClipPrefixCaptioner",
    "build_clipcap",
    "build_word_tokenizer",
    "caption_embeddings",
    "caption_tokens",
    "load_clipcap",
    "prepare_embeddings",
    "save_clipcap",
    "toy_gpt2_config",
]

CLIPCAP_CONFIG = "clipcap_config.json"
MAPPER_FILE = "mapper.safetensors"
GPT2_FOLDER = "gpt2"
_SPECIAL = {"pad_token": "<pad>", "bos_token": "<bos>", "eos_token": "<eos>", "unk_token": "<unk>"}
_NORMALISATIONS = ("l2", "none")
#: The toy GPT-2 (``vocab_size`` and the special ids are set from the tokenizer).
TOY_GPT2_ARCH: dict[str, Any] = {
    "n_layer": 2,
    "n_embd": 128,
    "n_head": 4,
    "n_inner": 512,
    "n_positions": 48,
    "resid_pdrop": 0.0,
    "embd_pdrop": 0.0,
    "attn_pdrop": 0.0,
}
# GPT-2 buffers that checkpoints of older transformers versions saved and newer ones rebuild
_LEGACY_BUFFERS = (".attn.bias", ".attn.masked_bias")


@dataclasses.dataclass(frozen=True)
class ClipCapConfig:
    """What a CLIP-prefix captioner reads, besides its GPT-2 (``clipcap_config.json``).

    Parameters
    ----------
    prefix_length : int
        Prefix embeddings the mapper makes from one CLIP embedding.
    clip_dim : int
        Width of the CLIP embeddings read.
    hidden : int
        Hidden width of the MLP mapper.
    clip_model : str
        Registry name of the CLIP whose image embeddings it was trained on.
    normalisation : {"l2", "none"}
        What is done to an embedding before the mapper: ``"l2"`` divides it by its norm (as
        in training), ``"none"`` reads it as given (ClipCap's COCO model read raw CLIP
        embeddings).
    stop_tokens : tuple of str
        Tokens that end a caption besides the tokenizer's end token (ClipCap's COCO model
        stops at ``"."``).
    """

    prefix_length: int
    clip_dim: int
    hidden: int
    clip_model: str = "toy-clip"
    normalisation: str = "l2"
    stop_tokens: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("prefix_length", "clip_dim", "hidden"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        if self.normalisation not in _NORMALISATIONS:
            raise ValueError(f"normalisation must be one of {_NORMALISATIONS}; "
                             f"got {self.normalisation!r}")  # fmt: skip
        object.__setattr__(self, "stop_tokens", tuple(str(t) for t in self.stop_tokens))

    @classmethod
    def from_dict(cls, data: Any, source: str = "the config") -> ClipCapConfig:
        """Config from its JSON form; ``source`` names the file in error messages."""
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a JSON object, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}
        missing, unknown = sorted(required - set(data)), sorted(set(data) - names)
        if missing or unknown:
            raise ValueError(f"{source}: missing keys {missing}, unknown keys {unknown}")
        stops = data.get("stop_tokens", [])
        if not isinstance(stops, list) or not all(isinstance(t, str) for t in stops):
            raise ValueError(f"{source}: stop_tokens must be a list of strings; got {stops!r}")
        try:
            return cls(**{**data, "stop_tokens": tuple(stops)})
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: {exc}") from None


class _MlpMapper(torch.nn.Module):
    """ClipCap's MLP: ``Linear -> Tanh -> Linear`` as ``self.model`` (the checkpoints' keys)."""

    def __init__(self, clip_dim: int, hidden: int, out: int) -> None:
        super().__init__()
        self.model = torch.nn.Sequential(
            torch.nn.Linear(clip_dim, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, out)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class ClipPrefixCaptioner(torch.nn.Module):
    """A CLIP-prefix captioner: MLP mapper + ``GPT2LMHeadModel``.

    Parameters
    ----------
    config : ClipCapConfig
    gpt : transformers.GPT2LMHeadModel
        The decoder; its ``n_embd`` is the width of each prefix embedding.
    """

    def __init__(self, config: ClipCapConfig, gpt: Any) -> None:
        super().__init__()
        self.config = config
        self.gpt = gpt
        self.n_embd = int(gpt.config.n_embd)
        self.clip_project = _MlpMapper(
            config.clip_dim, config.hidden, config.prefix_length * self.n_embd
        )

    def prefix(self, embeddings: torch.Tensor) -> torch.Tensor:
        """``(n, clip_dim)`` prepared embeddings -> ``(n, prefix_length, n_embd)`` prefixes."""
        out = self.clip_project(embeddings)
        return out.view(-1, self.config.prefix_length, self.n_embd)

    def forward(
        self,
        embeddings: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> Any:
        """GPT-2's output over ``[prefix, tokens]``; ``labels`` (of the tokens; -100 ignored)
        give the next-token loss of the caption, the prefix positions never scored."""
        prefix = self.prefix(embeddings)
        tokens = self.gpt.transformer.wte(input_ids)
        n, k = prefix.shape[:2]
        mask = None
        if attention_mask is not None:
            ones = torch.ones(n, k, dtype=attention_mask.dtype, device=attention_mask.device)
            mask = torch.cat([ones, attention_mask], dim=1)
        if labels is not None:
            ignore = torch.full((n, k), -100, dtype=labels.dtype, device=labels.device)
            labels = torch.cat([ignore, labels], dim=1)
        return self.gpt(
            inputs_embeds=torch.cat([prefix, tokens], dim=1), attention_mask=mask, labels=labels
        )


def build_word_tokenizer(texts: Iterable[str], max_length: int = 40) -> Any:
    """Word-level ``PreTrainedTokenizerFast`` over the words of ``texts``.

    Text is lower-cased and split by BERT's pre-tokenizer (whitespace, punctuation apart); the
    special tokens come first (``<pad>`` is 0), then the words, sorted. Decoding joins words
    with spaces and cleans the spaces before punctuation.
    """
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    split = pre_tokenizers.BertPreTokenizer()
    words: set[str] = set()
    for text in texts:
        words.update(piece for piece, _ in split.pre_tokenize_str(text.lower()))
    specials = list(_SPECIAL.values())
    vocab = {w: i for i, w in enumerate([*specials, *sorted(words - set(specials))])}
    backend = Tokenizer(WordLevel(vocab, unk_token=_SPECIAL["unk_token"]))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = split
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_max_length=max_length,
        clean_up_tokenization_spaces=True,
        **_SPECIAL,
    )


def toy_gpt2_config(tokenizer: Any) -> Any:
    """``GPT2Config`` of the toy captioner for a tokenizer from :func:`build_word_tokenizer`."""
    from transformers import GPT2Config

    return GPT2Config(
        **TOY_GPT2_ARCH,
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def build_clipcap(config: ClipCapConfig, gpt_config: Any, seed: int = 0) -> ClipPrefixCaptioner:
    """A seeded, freshly initialised captioner (torch's global RNG is left as it was)."""
    from transformers import GPT2LMHeadModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ClipPrefixCaptioner(config, GPT2LMHeadModel(gpt_config))


def caption_tokens(tokenizer: Any, captions: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)`` of captions, each ended by the end token, padded."""
    rows = [[*ids, tokenizer.eos_token_id] for ids in
            tokenizer(list(captions), add_special_tokens=False).input_ids]  # fmt: skip
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for k, row in enumerate(rows):
        ids[k, : len(row)] = torch.tensor(row)
        mask[k, : len(row)] = 1
    return ids, mask


def prepare_embeddings(model: ClipPrefixCaptioner, embeddings: Any) -> torch.Tensor:
    """``(n, clip_dim)`` embeddings -> the float32 tensor the mapper reads (normalised as in
    training when the model's ``normalisation`` is ``"l2"``)."""
    x = torch.as_tensor(np.asarray(embeddings, dtype=np.float32))
    if x.ndim != 2 or x.shape[1] != model.config.clip_dim:
        raise ValueError(f"embeddings must be (n, {model.config.clip_dim}) (the CLIP width the "
                         f"captioner reads); got shape {tuple(x.shape)}")  # fmt: skip
    if not bool(torch.isfinite(x).all()):
        raise ValueError("embeddings contain NaN or inf")
    if model.config.normalisation == "l2":
        norms = torch.linalg.vector_norm(x, dim=1, keepdim=True)
        if bool((norms == 0).any()):
            raise ValueError("embeddings include a zero vector (it has no direction)")
        x = x / norms
    return x


def _stop_ids(model: ClipPrefixCaptioner, tokenizer: Any) -> list[int]:
    ids = [] if tokenizer.eos_token_id is None else [int(tokenizer.eos_token_id)]
    for token in model.config.stop_tokens:
        piece = tokenizer.encode(token, add_special_tokens=False)
        if len(piece) != 1:
            raise ValueError(f"stop token {token!r} is {len(piece)} tokens, not one")
        ids.append(int(piece[0]))
    return sorted(set(ids))


def caption_embeddings(
    model: ClipPrefixCaptioner,
    tokenizer: Any,
    embeddings: Any,
    *,
    num_beams: int = 1,
    max_new_tokens: int = 20,
    batch_size: int = 256,
) -> list[str]:
    """Captions of CLIP embeddings by a CLIP-prefix captioner (deterministic).

    Parameters
    ----------
    model : ClipPrefixCaptioner
    tokenizer : transformers tokenizer
        The captioner's.
    embeddings : array of shape (n, clip_dim)
        CLIP image embeddings (or blends of them), normalised here as in training.
    num_beams : int, default 1
        1: greedy decoding; more: beam search of that width (no sampling either way).
    max_new_tokens : int, default 20
        Longest caption, in tokens.
    batch_size : int, default 256
        Embeddings captioned at once.

    Returns
    -------
    list of str
        One caption per row, special tokens removed, spaces normalised.
    """
    from transformers import GenerationConfig

    if num_beams < 1 or max_new_tokens < 1 or batch_size < 1:
        raise ValueError("num_beams, max_new_tokens and batch_size must be >= 1")
    limit = int(model.gpt.config.n_positions) - model.config.prefix_length
    if max_new_tokens > limit:
        raise ValueError(f"max_new_tokens must be <= {limit} (GPT-2 positions minus the prefix)")
    x = prepare_embeddings(model, embeddings)
    stop = _stop_ids(model, tokenizer)
    pad = next(
        t for t in (tokenizer.pad_token_id, tokenizer.eos_token_id, stop[0]) if t is not None
    )
    generation = GenerationConfig(max_new_tokens=max_new_tokens, num_beams=num_beams,
                                  do_sample=False, eos_token_id=stop, pad_token_id=pad)  # fmt: skip
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out: list[str] = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            prefix = model.prefix(x[start : start + batch_size].to(device))
            mask = torch.ones(prefix.shape[:2], dtype=torch.long, device=device)
            ids = model.gpt.generate(inputs_embeds=prefix, attention_mask=mask,
                                     generation_config=generation)  # fmt: skip
            out += tokenizer.batch_decode(ids, skip_special_tokens=True)
    model.train(was_training)
    return [" ".join(c.split()) for c in out]


def save_clipcap(
    folder: str | os.PathLike[str],
    model: ClipPrefixCaptioner,
    tokenizer: Any,
    *,
    card: str | None = None,
    report: dict[str, Any] | None = None,
) -> Path:
    """Write a captioner folder: ``gpt2/``, tokenizer files, ``mapper.safetensors``,
    ``clipcap_config.json`` and, when given, ``README.md`` and ``training_report.json``."""
    from safetensors.torch import save_file

    from neurodecode._io import atomic_output_path, write_json_atomic

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.gpt.save_pretrained(folder / GPT2_FOLDER)
    tokenizer.save_pretrained(folder)
    _portable_tokenizer_class(folder / "tokenizer_config.json")
    state = {f"clip_project.{k}": v.detach().cpu().contiguous()
             for k, v in model.clip_project.state_dict().items()}  # fmt: skip
    with atomic_output_path(folder / MAPPER_FILE) as tmp:
        save_file(state, str(tmp), metadata={"format": "pt"})
    write_json_atomic(folder / CLIPCAP_CONFIG, dataclasses.asdict(model.config))
    if card is not None:
        (folder / "README.md").write_text(card, encoding="utf-8")
    if report is not None:
        write_json_atomic(folder / "training_report.json", report)
    return folder


def _portable_tokenizer_class(path: Path) -> None:
    """Name a generic fast tokenizer ``PreTrainedTokenizerFast``, the class name transformers 4
    and 5 both read (transformers 5 writes its own ``TokenizersBackend``)."""
    from neurodecode._io import write_json_atomic

    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("tokenizer_class") == "TokenizersBackend":
            write_json_atomic(path, {**data, "tokenizer_class": "PreTrainedTokenizerFast"})


def _need(path: Path, what: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing ({what}); a saved CLIP-prefix captioner "
                                f"folder has {CLIPCAP_CONFIG}, {MAPPER_FILE}, {GPT2_FOLDER}/ "
                                "and tokenizer files (save_clipcap writes them)")  # fmt: skip
    return path


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise ValueError(f"{path}: not a readable safetensors file ({exc})") from None


def _read_config(path: Path) -> ClipCapConfig:
    try:
        data = json.loads(_need(path, "the captioner's settings").read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    return ClipCapConfig.from_dict(data, str(path))


def _load_mapper(model: ClipPrefixCaptioner, state: dict[str, torch.Tensor], source: Path) -> None:
    """Put ``clip_project.*`` tensors of ``state`` into the mapper (shapes checked)."""
    want = {f"clip_project.{k}": v for k, v in model.clip_project.state_dict().items()}
    missing = sorted(set(want) - set(state))
    if missing:
        raise ValueError(f"{source}: lacks the mapper tensors {missing}")
    for key, ref in want.items():
        if tuple(state[key].shape) != tuple(ref.shape):
            raise ValueError(f"{source}: {key} has shape {tuple(state[key].shape)}; the config "
                             f"makes it {tuple(ref.shape)}")  # fmt: skip
    model.clip_project.load_state_dict(
        {k.removeprefix("clip_project."): state[k].float() for k in want}
    )


def load_clipcap(
    folder: str | os.PathLike[str], device: str = "cpu"
) -> tuple[ClipPrefixCaptioner, Any]:
    """A captioner (eval mode) and its tokenizer from a folder written by :func:`save_clipcap`.

    Raises
    ------
    FileNotFoundError
        The folder or one of its files is missing (the message names it).
    ValueError
        A file is damaged or disagrees with the others (the message names it and says how).
    """
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder (expected a saved CLIP-prefix "
                                f"captioner: {CLIPCAP_CONFIG}, {MAPPER_FILE}, {GPT2_FOLDER}/, "
                                "tokenizer files)")  # fmt: skip
    config = _read_config(folder / CLIPCAP_CONFIG)
    gpt_dir = folder / GPT2_FOLDER
    _need(gpt_dir / "config.json", "GPT-2's config")
    weights = _need(gpt_dir / "model.safetensors", "GPT-2's weights")
    _need(folder / "tokenizer.json", "the tokenizer")
    mapper = _read_safetensors(_need(folder / MAPPER_FILE, "the mapper's weights"))
    gpt_state = _read_safetensors(weights)
    try:
        gpt_config = GPT2Config.from_pretrained(gpt_dir, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{gpt_dir / 'config.json'}: not a GPT-2 config ({exc})") from None
    model = ClipPrefixCaptioner(config, GPT2LMHeadModel(gpt_config))
    _load_mapper(model, mapper, folder / MAPPER_FILE)
    _load_gpt(model, gpt_state, weights, prefix="")
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    if len(tokenizer) > int(gpt_config.vocab_size):
        raise ValueError(f"{folder / 'tokenizer.json'}: {len(tokenizer)} tokens, more than "
                         f"GPT-2's vocab_size {gpt_config.vocab_size}")  # fmt: skip
    return model.to(device).eval(), tokenizer


def _load_gpt(model: ClipPrefixCaptioner, state: dict[str, Any], source: Path, prefix: str) -> None:
    """Put GPT-2 tensors (keys ``prefix + name``) into ``model.gpt``, checking names and shapes.

    The tied output layer may be absent (it is the token embedding); old checkpoints' attention
    buffers are dropped (transformers rebuilds them).
    """
    want = model.gpt.state_dict()
    got = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
    got = {k: v for k, v in got.items() if not k.endswith(_LEGACY_BUFFERS)}
    tied = bool(getattr(model.gpt.config, "tie_word_embeddings", True))
    missing = sorted(k for k in set(want) - set(got) if not (tied and k == "lm_head.weight"))
    unknown = sorted(set(got) - set(want))
    if missing or unknown:
        first = (missing or unknown)[0]
        raise ValueError(f"{source}: not this GPT-2's weights: {len(missing)} tensors missing, "
                         f"{len(unknown)} unknown (first: {prefix}{first})")  # fmt: skip
    for key, value in got.items():
        if tuple(value.shape) != tuple(want[key].shape):
            raise ValueError(f"{source}: {prefix}{key} has shape {tuple(value.shape)}; GPT-2's "
                             f"config makes it {tuple(want[key].shape)}")  # fmt: skip
    model.gpt.load_state_dict({k: v.float() for k, v in got.items()}, strict=False)
    if tied:
        model.gpt.tie_weights()
