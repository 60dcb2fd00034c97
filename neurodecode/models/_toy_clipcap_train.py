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
from neurodecode.models._toy_git import vocab_texts
from neurodecode.models._toy_git_train import caption_accuracy

__all__ = ["ToyClipCapTrainConfig", "embed_images", "evaluate_clipcap", "train_toy_clipcap"]

#: BrainSCUBA's softmax temperature, used by the projection read-out.
_PROJECTION_TEMPERATURE = 150.0


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


def _group_key(attrs: dict[str, Any]) -> tuple[str, str]:
    return attrs["category"], attrs["main_colour"]


def _groups(attributes: Sequence[dict[str, Any]]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Group of each stimulus (same category and main colour) and the members of each group."""
    keys = sorted({_group_key(a) for a in attributes})
    index = {k: g for g, k in enumerate(keys)}
    group = np.array([index[_group_key(a)] for a in attributes], dtype=np.int64)
    return group, [np.flatnonzero(group == g) for g in range(len(keys))]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


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


def _projections(emb: np.ndarray, attributes: Sequence[dict[str, Any]]) -> list[tuple]:
    """(label, key, projection) of each category, colour and category-and-colour direction."""
    out = []
    for key in ("category", "main_colour", "both"):
        labels = sorted({_group_key(a) if key == "both" else a[key] for a in attributes})
        for label in labels:
            rows = [k for k, a in enumerate(attributes)
                    if (_group_key(a) if key == "both" else a[key]) == label]  # fmt: skip
            direction = _unit(emb[rows].mean(0))
            logits = _PROJECTION_TEMPERATURE * (emb @ direction)
            w = np.exp(logits - logits.max())
            out.append((label, key, _unit((w / w.sum()) @ emb)))
    return out


def _named(captions: Sequence[str], attributes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """:func:`caption_accuracy` without the shape (a blend's members differ in shape)."""
    m = caption_accuracy(captions, attributes)
    return {k: m[k] for k in ("colour", "category", "named_nothing", "n")}


def evaluate_clipcap(
    model: Any,
    tokenizer: Any,
    embeddings: np.ndarray,
    attributes: Sequence[dict[str, Any]],
    *,
    blend_size: int = 16,
    n_blends: int = 500,
    seed: int = 0,
    **caption: Any,
) -> dict[str, Any]:
    """How often a captioner names the colour and category of held-out embeddings.

    Parameters
    ----------
    model, tokenizer
        A CLIP-prefix captioner and its tokenizer.
    embeddings : ndarray of shape (n, d)
        CLIP image embeddings of held-out stimuli.
    attributes : sequence of dict
        Their descriptions (``StimulusSet.attributes``).
    blend_size : int
        Embeddings of one category and colour averaged (and renormalised) per blend.
    n_blends : int
        Blends, each around a random stimulus of a group with at least ``blend_size`` members.
    seed : int
        Seeds the choice of blends.
    **caption
        Passed to :func:`caption_embeddings` (``num_beams=``...).

    Returns
    -------
    dict
        ``single`` (:func:`caption_accuracy` of one caption per embedding, with ``shape``),
        ``blend`` (colour and category of the blends), ``projection`` (category named for
        each category direction, colour for each colour direction, both for each
        category-and-colour direction, projected onto the pool at temperature 150),
        ``seconds_per_caption`` and ``examples``.
    """
    from neurodecode.models._toy_clipcap import caption_embeddings

    attributes = list(attributes)
    t0 = time.perf_counter()
    single = caption_embeddings(model, tokenizer, embeddings, **caption)
    seconds = (time.perf_counter() - t0) / len(single)
    metrics: dict[str, Any] = {"single": caption_accuracy(single, attributes)}
    group, members = _groups(attributes)
    eligible = np.flatnonzero([len(members[g]) >= blend_size for g in group])
    blend: dict[str, Any] = {"colour": float("nan"), "category": float("nan"), "n": 0}
    if len(eligible) and n_blends:
        rng = np.random.default_rng(seed)
        anchors = rng.choice(eligible, size=n_blends)
        x = np.stack([_unit(embeddings[rng.choice(members[group[a]], blend_size,
                                                  replace=False)].mean(0))
                      for a in anchors])  # fmt: skip
        texts = caption_embeddings(model, tokenizer, x, **caption)
        blend = _named(texts, [attributes[a] for a in anchors])
        blend["examples"] = [{"category": attributes[a]["category"],
                              "colour": attributes[a]["main_colour"], "caption": c}
                             for a, c in zip(anchors[:5], texts[:5], strict=False)]  # fmt: skip
    blend["blend_size"] = blend_size
    metrics["blend"] = blend
    proj = _projections(embeddings, attributes)
    texts = caption_embeddings(model, tokenizer, np.stack([p[2] for p in proj]), **caption)
    named = [_named([t], [_truth(p[0], p[1])]) for p, t in zip(proj, texts, strict=True)]
    keys = [p[1] for p in proj]
    metrics["projection"] = {
        "category": _mean([n["category"] for n, k in zip(named, keys, strict=True)
                           if k == "category"]),
        "colour": _mean([n["colour"] for n, k in zip(named, keys, strict=True)
                         if k == "main_colour"]),
        "both": _mean([n["colour"] * n["category"] for n, k in zip(named, keys, strict=True)
                       if k == "both"]),
        "temperature": _PROJECTION_TEMPERATURE,
        "captions": {label: t for (label, key, _), t in zip(proj, texts, strict=True)
                     if key != "both"},
    }  # fmt: skip
    metrics["seconds_per_caption"] = seconds
    metrics["examples"] = [{"index": k, "caption": c} for k, c in enumerate(single[:5])]
    return metrics


def _truth(label: Any, key: str) -> dict[str, Any]:
    """A description naming only what a projection's direction stands for."""
    if key == "both":
        return {"category": label[0], "main_colour": label[1], "objects": [{"shape": None}]}
    return {"category": label if key == "category" else None,
            "main_colour": label if key == "main_colour" else None,
            "objects": [{"shape": None}]}  # fmt: skip


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


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
    group, members = _groups(attrs)
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
        rows = torch.from_numpy(anchors * 5 + rng.integers(0, 5, config.batch_size))
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
