"""Training and evaluation of the toy CLIP-prefix captioner on toy-CLIP image embeddings.

A bank of training stimuli (ids from ``train_offset`` upwards, never the ids ``0..`` that worlds
show their subjects; drawn as the other toy trainers draw theirs) is rendered and embedded
once by the CLIP the captioner reads (``toy-clip`` through the registry, L2-normalised as the
feature extractor writes them). Each step pairs bank entries with one of their five reference
captions and minimises GPT-2's next-token loss over the caption (the prefix is not scored).

The captioner is meant for BrainSCUBA's projections: softmax-weighted means of many bank
embeddings, renormalised, which are less peaked than one image's embedding. So a share of each
batch (``blend_fraction``) is replaced by the renormalised mean of ``m`` (``blend_min`` to
``blend_max``) embeddings of stimuli with the same category and main colour, captioned with
the caption of one of them; another share gets Gaussian noise in embedding space. Evaluation
captions held-out ids ``0..n_eval-1``: single images, blends of ``eval_blend_size`` held-out
images of one category and colour, and the softmax projection (temperature 150) of each
category's, each colour's and each category-and-colour's mean direction onto the held-out pool.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode.models._toy_clip_train import _draw_ids, images_to_tensor
from neurodecode.models._toy_clipcap_eval import (
    _background_colour,
    _groups,
    _unit,
    _words,
    evaluate_clipcap,
)
from neurodecode.models._toy_git import vocab_texts
from neurodecode.synth._captions import N_CAPTIONS

__all__ = ["ToyClipCapTrainConfig", "embed_images", "train_toy_clipcap"]


@dataclasses.dataclass(frozen=True)
class ToyClipCapTrainConfig:
    """Settings of one toy-ClipCap training run (deterministic given all of them).

    Parameters
    ----------
    seed : int
        Seeds initialisation (torch, in a forked RNG), the bank, batches and blends (numpy).
    world_seed : int
        Seed of the synthetic stimulus generator (a world's WorldConfig.seed).
    image_size : int
        Side of the rendered stimuli (resized to the CLIP's input side if it differs).
    clip_model : str
        Registry name of the open_clip CLIP whose image embeddings the captioner reads.
    prefix_length : int
        Prefix embeddings made from one CLIP embedding.
    hidden : int
        Hidden width of the MLP mapper.
    steps : int
        Optimiser steps.
    batch_size : int
        Embedding/caption pairs per step.
    lr : float
        Peak AdamW learning rate (linear warm-up, then cosine decay to zero).
    weight_decay : float
        AdamW weight decay of the matrices.
    warmup : int
        Warm-up steps.
    train_offset : int
        First training id (ids below it are what worlds show; never trained on).
    n_train : int
        Bank ids are drawn from [train_offset, train_offset + n_train).
    n_bank : int
        Training stimuli rendered and embedded once.
    object_fraction : float or None
        Share of the bank drawn from object images (None: ids drawn uniformly).
    blend_fraction : float
        Share of each batch that is a blend of same-attribute embeddings.
    blend_min : int
        Fewest embeddings in a training blend.
    blend_max : int
        Most embeddings in a training blend.
    noise_fraction : float
        Share of each batch (of the single embeddings) given Gaussian noise.
    noise_scale : float
        Norm of that noise relative to the unit embedding.
    caption_choice : {"names_background", "any"}
        Target caption of a training stimulus: one of its captions that names its background
        colour, where one does (``"names_background"``; place scenes have none), or any of
        them. Without it the captioner learns the templates' mix and, decoding greedily,
        mostly leaves the background out, so a voxel tuned to a background colour cannot be
        named.
    n_eval : int
        Held-out ids 0..n_eval-1 for the metrics.
    eval_blend_size : int
        Held-out embeddings averaged in each evaluation blend.
    n_eval_blends : int
        Evaluation blends.
    threads : int
        torch intra-op threads.
    log_every : int
        Steps between loss lines.
    eval_every : int
        Steps between held-out checks on 500 ids and 100 blends (0: only at the end).
    """

    seed: int = 0
    world_seed: int = 0
    image_size: int = 64
    clip_model: str = "toy-clip"
    prefix_length: int = 4
    hidden: int = 256
    steps: int = 1200
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup: int = 100
    train_offset: int = 100_000
    n_train: int = 1_000_000
    n_bank: int = 10_000
    object_fraction: float | None = None
    blend_fraction: float = 0.5
    blend_min: int = 2
    blend_max: int = 32
    noise_fraction: float = 0.2
    noise_scale: float = 0.3
    caption_choice: str = "names_background"
    n_eval: int = 1000
    eval_blend_size: int = 16
    n_eval_blends: int = 500
    threads: int = 2
    log_every: int = 100
    eval_every: int = 400

    def __post_init__(self) -> None:
        for name in ("blend_fraction", "noise_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.object_fraction is not None and not 0.0 <= self.object_fraction <= 1.0:
            raise ValueError(f"object_fraction must be in [0, 1], got {self.object_fraction}")
        if not 1 <= self.blend_min <= self.blend_max:
            raise ValueError(f"need 1 <= blend_min <= blend_max; got {self.blend_min}, "
                             f"{self.blend_max}")  # fmt: skip
        if self.caption_choice not in ("names_background", "any"):
            raise ValueError(f"caption_choice must be 'names_background' or 'any', got "
                             f"{self.caption_choice!r}")  # fmt: skip
        if self.n_bank < 1 or self.n_eval < 1 or self.eval_blend_size < 1:
            raise ValueError("n_bank, n_eval and eval_blend_size must be >= 1")


def embed_images(loaded: Any, images: np.ndarray, device: str = "cpu", batch: int = 256) -> Any:
    """L2-normalised image embeddings ``(n, d)`` float32 of uint8 images by a loaded CLIP.

    The CLIP's own normalisation and input side, as the feature stage's CLIP extractor reads
    them (bicubic resize when the images are another size).
    """
    import torch

    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            x = images_to_tensor(images[start : start + batch], loaded.mean, loaded.std)
            side = loaded.image_size
            if side and x.shape[-1] != side:
                x = torch.nn.functional.interpolate(x, size=(side, side), mode="bicubic",
                                                    align_corners=False)  # fmt: skip
            f = loaded.model.encode_image(x.to(device)).float()
            out.append(torch.nn.functional.normalize(f, dim=-1).cpu())
    return torch.cat(out).numpy()


def _embed_ids(stimuli: Any, ids: np.ndarray, loaded: Any, device: str) -> np.ndarray:
    chunks = [embed_images(loaded, stimuli.images(ids[a : a + 1000]), device)
              for a in range(0, len(ids), 1000)]  # fmt: skip
    return np.concatenate(chunks).astype(np.float32)


def _blend_key(attrs: dict[str, Any]) -> tuple[str, str, str]:
    """A training blend's members share category, main colour and background colour."""
    return attrs["category"], attrs["main_colour"], str(attrs["background"].get("colour", ""))


def _training_inputs(
    rng: np.random.Generator,
    anchors: np.ndarray,
    emb: np.ndarray,
    group: np.ndarray,
    members: list[np.ndarray],
    cfg: ToyClipCapTrainConfig,
) -> np.ndarray:
    """Embeddings of one batch: each anchor's own, a same-attribute blend, or a noisy copy."""
    x = emb[anchors].copy()
    kind = rng.random(len(anchors))
    for b in np.flatnonzero(kind < cfg.blend_fraction):
        pool = members[group[anchors[b]]]
        m = min(int(rng.integers(cfg.blend_min, cfg.blend_max + 1)), len(pool))
        others = rng.choice(pool[pool != anchors[b]], size=m - 1, replace=False)
        x[b] = _unit(emb[np.append(others, anchors[b])].mean(0))
    # the singles (kind >= blend_fraction) of the next noise_fraction of them get noise
    cut = cfg.blend_fraction + cfg.noise_fraction * (1.0 - cfg.blend_fraction)
    noisy = np.flatnonzero((kind >= cfg.blend_fraction) & (kind < cut))
    if len(noisy):
        sigma = cfg.noise_scale / math.sqrt(emb.shape[1])  # noise of norm ~noise_scale
        x[noisy] = _unit(x[noisy] + sigma * rng.normal(size=(len(noisy), emb.shape[1])))
    return x.astype(np.float32)


def _target_captions(
    captions: Sequence[str], attributes: Sequence[dict[str, Any]], choice: str
) -> np.ndarray:
    """``(n, N_CAPTIONS)`` bool: the captions a stimulus may be trained on (see the config)."""
    ok = np.ones((len(attributes), N_CAPTIONS), dtype=bool)
    if choice == "any":
        return ok
    for i, a in enumerate(attributes):
        bg = _background_colour(a)
        if not bg:
            continue
        names = [bg in _words(c) for c in captions[i * N_CAPTIONS : (i + 1) * N_CAPTIONS]]
        if any(names):
            ok[i] = names
    return ok


def _lr_at(step: int, cfg: ToyClipCapTrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * progress))


def _bank_ids(rng: np.random.Generator, stimuli: Any, cfg: ToyClipCapTrainConfig) -> np.ndarray:
    """``n_bank`` training ids, drawn as the toy CLIP's and GIT's batches are."""
    return _draw_ids(rng, stimuli, dataclasses.replace(cfg, batch_size=cfg.n_bank))


def _format(m: dict[str, Any]) -> str:
    s, b = m["single"], m["blend"]
    return (
        f"single colour={s['colour']:.3f} category={s['category']:.3f} | blend{b['blend_size']} "
        f"colour={b['colour']:.3f} category={b['category']:.3f}"
    )


def train_toy_clipcap(
    config: ToyClipCapTrainConfig,
    out: str | Path | None = None,
    log: Callable[[str], None] = print,
    device: str = "cpu",
) -> tuple[Any, Any, dict[str, Any]]:
    """Train the toy CLIP-prefix captioner and (when ``out`` is given) save it with its card.

    Parameters
    ----------
    config : ToyClipCapTrainConfig
    out : path, optional
        Folder for :func:`save_clipcap`'s files, ``README.md`` and ``training_report.json``.
    log : callable
        Receives progress lines.
    device : str
        torch device.

    Returns
    -------
    model, tokenizer, report
    """
    import torch

    from neurodecode.models._loading import load_clip
    from neurodecode.models._toy_clipcap import (
        ClipCapConfig,
        build_clipcap,
        build_word_tokenizer,
        caption_tokens,
        save_clipcap,
        toy_gpt2_config,
    )
    from neurodecode.synth import StimulusSet

    torch.set_num_threads(config.threads)
    t0 = time.perf_counter()
    stimuli = StimulusSet(
        config.train_offset + config.n_train, config.world_seed, config.image_size
    )
    rng = np.random.default_rng(config.seed)
    clip = load_clip(config.clip_model, device=device)
    bank_ids = _bank_ids(rng, stimuli, config)
    emb = _embed_ids(stimuli, bank_ids, clip, device)
    attrs = [stimuli.attributes(int(i)) for i in bank_ids]
    captions = [c for i in bank_ids for c in stimuli.captions(int(i))]
    eligible = _target_captions(captions, attrs, config.caption_choice)
    group, members = _groups(attrs, _blend_key)
    tokenizer = build_word_tokenizer(vocab_texts(stimuli, bank_ids[:4000]))
    tokens, mask = caption_tokens(tokenizer, captions)
    eval_ids = np.arange(config.n_eval)
    eval_emb = _embed_ids(stimuli, eval_ids, clip, device)
    eval_attrs = [stimuli.attributes(int(i)) for i in eval_ids]
    prepare_s = time.perf_counter() - t0
    log(f"bank of {len(bank_ids)} embeddings ({emb.shape[1]}-d, {config.clip_model}), "
        f"{len(tokenizer)} tokens: {prepare_s:.0f}s")  # fmt: skip
    cc = ClipCapConfig(config.prefix_length, int(emb.shape[1]), config.hidden, config.clip_model)
    model = build_clipcap(cc, toy_gpt2_config(tokenizer), config.seed).to(device)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "wte" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "wte" not in n)]
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": rest, "weight_decay": 0.0}]  # fmt: skip
    opt = torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.98))
    running: list[float] = []
    for step in range(config.steps):
        for g in opt.param_groups:
            g["lr"] = _lr_at(step, config)
        anchors = rng.integers(0, len(bank_ids), config.batch_size)
        pick = np.argmax(rng.random((config.batch_size, N_CAPTIONS)) * eligible[anchors], 1)
        rows = torch.from_numpy(anchors * N_CAPTIONS + pick)
        width = int(mask[rows].sum(1).max())
        ids, m = tokens[rows, :width], mask[rows, :width]
        x = torch.from_numpy(_training_inputs(rng, anchors, emb, group, members, config))
        loss = model(x.to(device), ids.to(device), m.to(device),
                     labels=ids.masked_fill(m == 0, -100).to(device)).loss  # fmt: skip
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running.append(float(loss.detach()))
        if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
            line = f"step {step + 1}/{config.steps} loss {np.mean(running):.4f} "
            line += f"lr {_lr_at(step, config):.2e} {time.perf_counter() - t0:.0f}s"
            running = []
            if config.eval_every and (step + 1) % config.eval_every == 0:
                quick = evaluate_clipcap(model, tokenizer, eval_emb[:500], eval_attrs[:500],
                                         blend_size=config.eval_blend_size, n_blends=100,
                                         seed=config.seed)  # fmt: skip
                line += " " + _format(quick)
                model.train()
            log(line)
    train_s = time.perf_counter() - t0
    model.eval()
    metrics = evaluate_clipcap(model, tokenizer, eval_emb, eval_attrs,
                               blend_size=config.eval_blend_size,
                               n_blends=config.n_eval_blends, seed=config.seed)  # fmt: skip
    report: dict[str, Any] = {
        "config": dataclasses.asdict(config),
        "metrics": metrics,
        "prepare_seconds": round(prepare_s, 1),
        "train_seconds": round(train_s, 1),
        "vocab_size": len(tokenizer),
        "n_parameters": int(sum(p.numel() for p in model.parameters())),
        "clip_model": config.clip_model,
        "clip_dim": int(emb.shape[1]),
        "clip_weights_sha256": clip.weights_sha256,
        "torch_threads": torch.get_num_threads(),
        "final_loss": round(float(loss.detach()), 4) if config.steps else None,
    }
    log("held-out: " + _format(metrics))
    if out is not None:
        from neurodecode._io import write_json_atomic
        from neurodecode.models._card import toy_clipcap_card

        out = Path(out)
        save_clipcap(out, model, tokenizer)
        report["file_bytes"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        (out / "README.md").write_text(toy_clipcap_card(report), encoding="utf-8")
        write_json_atomic(out / "training_report.json", report)
    return model, tokenizer, report
