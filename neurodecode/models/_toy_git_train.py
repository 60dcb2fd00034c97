"""Training and evaluation of the toy GIT captioner on synthetic image/caption pairs.

Training draws fresh stimuli from the synthetic generator (ids from ``train_offset`` upwards,
never the ids ``0..`` that worlds use), renders them, picks one of their five captions and
minimises GIT's own captioning loss (``GitForCausalLM(..., labels=...)``: GIT shifts the
labels itself; padding is -100). Evaluation captions held-out ids ``0..n_eval-1`` (the stimuli
a world with the same seed shows its subjects) and reads the colour, shape and category each
caption names (:func:`neurodecode.synth.named_attributes`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode.models._toy_clip_train import _draw_ids
from neurodecode.models._toy_git import (
    build_git_vocab,
    caption_images,
    git_image_tensor,
    save_toy_git,
    toy_git_config,
    toy_git_processor,
    vocab_texts,
)

__all__ = ["ToyGitTrainConfig", "caption_accuracy", "evaluate_captioner", "train_toy_git"]


@dataclasses.dataclass(frozen=True)
class ToyGitTrainConfig:
    """Settings of one toy-GIT training run (deterministic given all of them).

    Parameters
    ----------
    seed : int
        Seeds initialisation (torch, in a forked RNG) and batch sampling (numpy).
    world_seed : int
        Seed of the synthetic stimulus generator (a world's WorldConfig.seed).
    image_size : int
        Side of the stimuli (the model's input size).
    steps : int
        Optimiser steps.
    batch_size : int
        Image/caption pairs per step.
    lr : float
        Peak AdamW learning rate (linear warm-up, then cosine decay to zero).
    weight_decay : float
        AdamW weight decay of the matrices.
    warmup : int
        Warm-up steps.
    train_offset : int
        First training id (ids below it are what worlds show; never trained on).
    n_train : int
        Training ids are drawn uniformly from [train_offset, train_offset + n_train).
    n_eval : int
        Held-out ids 0..n_eval-1 for the metrics.
    threads : int
        torch intra-op threads.
    log_every : int
        Steps between loss lines.
    eval_every : int
        Steps between held-out checks on 200 ids (0: only at the end).
    object_fraction : float or None
        Share of each batch drawn from object images (default: ids drawn uniformly).

        Object images are the only ones whose category the caption names by a shape word, and
        the captioner learns shape last; ``None`` draws ids uniformly (about one image in five
        is an object).
    init_from : str or None
        Saved toy GIT folder to continue training (default: a fresh seeded model).

        Its weights, vocabulary and processor are kept; the learning-rate schedule (warm-up,
        cosine decay over ``steps``) starts again, and ``image_size`` must be the folder's.
        Give the continuation a new ``seed`` so that it draws new batches.
    """

    seed: int = 0
    world_seed: int = 0
    image_size: int = 64
    steps: int = 1500
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 100
    train_offset: int = 100_000
    n_train: int = 1_000_000
    n_eval: int = 1000
    threads: int = 1
    log_every: int = 50
    eval_every: int = 500
    object_fraction: float | None = None
    init_from: str | None = None

    def __post_init__(self) -> None:
        if self.object_fraction is not None and not 0.0 <= self.object_fraction <= 1.0:
            raise ValueError(f"object_fraction must be in [0, 1], got {self.object_fraction}")


def caption_accuracy(captions: Sequence[str], attributes: Sequence[dict[str, Any]]) -> dict:
    """How often captions name the colour, category and (objects) shape of their stimuli.

    Parameters
    ----------
    captions : sequence of str
    attributes : sequence of dict
        The stimuli's descriptions (``StimulusSet.attributes``), one per caption.

    Returns
    -------
    dict
        ``colour``, ``category``, ``shape`` (object images only) accuracies, ``n``,
        ``n_objects`` and ``named_nothing`` (share of captions naming no colour and no
        category word at all).
    """
    from neurodecode.synth import named_attributes

    named = [named_attributes(c) for c in captions]
    colour = [n["colour"] == a["main_colour"] for n, a in zip(named, attributes, strict=True)]
    category = [n["category"] == a["category"] for n, a in zip(named, attributes, strict=True)]
    shape = [
        n["shape"] == a["objects"][0]["shape"]
        for n, a in zip(named, attributes, strict=True)
        if a["category"] == "object"
    ]
    return {
        "colour": float(np.mean(colour)),
        "category": float(np.mean(category)),
        "shape": float(np.mean(shape)) if shape else float("nan"),
        "n": len(captions),
        "n_objects": len(shape),
        "named_nothing": float(
            np.mean([n["colour"] is None and n["category"] is None for n in named])
        ),
    }


def evaluate_captioner(
    model: Any, processor: Any, stimuli: Any, ids: Sequence[int] | np.ndarray, **generate: Any
) -> dict[str, Any]:
    """:func:`caption_accuracy` of a GIT captioner's (greedy) captions of stimuli ``ids``.

    Also returns ``seconds_per_caption`` and a few ``examples``.
    """
    was_training = model.training
    model.eval()
    ids = [int(i) for i in ids]
    t0 = time.perf_counter()
    captions = caption_images(model, processor, stimuli.images(ids), **generate)
    seconds = time.perf_counter() - t0
    metrics = caption_accuracy(captions, [stimuli.attributes(i) for i in ids])
    metrics["seconds_per_caption"] = seconds / max(1, len(ids))
    metrics["examples"] = [
        {"stim_id": i, "caption": c} for i, c in zip(ids[:5], captions[:5], strict=False)
    ]
    model.train(was_training)
    return metrics


def _lr_at(step: int, cfg: ToyGitTrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * progress))


def _build_model(vocab: dict[str, int], seed: int) -> Any:
    import torch
    from transformers import GitForCausalLM

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return GitForCausalLM(toy_git_config(vocab))


def _optimizer(model: Any, cfg: ToyGitTrainConfig) -> Any:
    import torch

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embed" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embed" not in n)]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0}],
        lr=cfg.lr,
        betas=(0.9, 0.98),
    )


_STAGE_METRICS = ("colour", "category", "shape", "named_nothing", "n", "n_objects")


def _stage_record(report: dict[str, Any]) -> dict[str, Any]:
    """What the model card says of one training stage (its settings, time and result)."""
    record = {k: report[k] for k in ("config", "train_seconds", "torch_threads", "final_loss")}
    record["metrics"] = {k: report["metrics"][k] for k in _STAGE_METRICS}
    return record


def _continued(config: ToyGitTrainConfig) -> tuple[Any, Any, list[dict[str, Any]]]:
    """Model, processor and training stages of the saved toy GIT ``config.init_from``."""
    from neurodecode._io import read_json
    from neurodecode.models._registry import file_sha256
    from neurodecode.models._toy_git import load_toy_git

    folder = Path(str(config.init_from))
    path = folder / "training_report.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; init_from must be a folder of train_toy_git")
    model, processor = load_toy_git(folder)
    side = int(processor.image_processor.crop_size["height"])
    if side != config.image_size:
        raise ValueError(f"{folder}: a {side}x{side} model; image_size is {config.image_size}")
    parent = read_json(path)
    stages = [dict(s) for s in parent.get("stages") or [_stage_record(parent)]]
    stages[-1]["weights_sha256"] = file_sha256(folder / "model.safetensors")
    return model, processor, stages


def _format(metrics: dict[str, Any]) -> str:
    keys = ("colour", "category", "shape", "named_nothing")
    return " ".join(f"{k}={metrics[k]:.3f}" for k in keys)


def train_toy_git(
    config: ToyGitTrainConfig,
    out: str | Path | None = None,
    log: Callable[[str], None] = print,
    device: str = "cpu",
) -> tuple[Any, Any, dict[str, Any]]:
    """Train the toy GIT and (when ``out`` is given) save it with its model card.

    Parameters
    ----------
    config : ToyGitTrainConfig
    out : path, optional
        Folder for the transformers files (``config.json``, ``model.safetensors``, the
        processor's files), ``README.md`` (the model card) and ``training_report.json``.
    log : callable
        Receives progress lines.
    device : str
        torch device.

    Returns
    -------
    model, processor, report
    """
    import torch

    from neurodecode.synth import StimulusSet

    torch.set_num_threads(config.threads)
    t0 = time.perf_counter()
    stimuli = StimulusSet(
        config.train_offset + config.n_train, config.world_seed, config.image_size
    )
    rng = np.random.default_rng(config.seed)
    lo, hi = config.train_offset, config.train_offset + config.n_train
    parents: list[dict[str, Any]] = []
    if config.init_from is None:
        vocab = build_git_vocab(vocab_texts(stimuli, rng.integers(lo, hi, 4000)))
        processor = toy_git_processor(vocab, config.image_size)
        model = _build_model(vocab, config.seed)
    else:
        model, processor, parents = _continued(config)
        vocab = processor.tokenizer.get_vocab()
    tokenizer = processor.tokenizer
    model = model.to(device)
    model.train()
    opt = _optimizer(model, config)
    running: list[float] = []
    for step in range(config.steps):
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, config)
        ids = _draw_ids(rng, stimuli, config)
        picks = rng.integers(0, 5, config.batch_size)
        captions = [stimuli.captions(int(i))[int(k)] for i, k in zip(ids, picks, strict=True)]
        tokens = tokenizer(captions, padding="longest", return_tensors="pt")
        labels = tokens.input_ids.masked_fill(tokens.attention_mask == 0, -100)
        pixels = git_image_tensor(stimuli.images(ids), processor)
        loss = model(
            input_ids=tokens.input_ids.to(device),
            attention_mask=tokens.attention_mask.to(device),
            pixel_values=pixels.to(device),
            labels=labels.to(device),
        ).loss
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
                line += " " + _format(evaluate_captioner(model, processor, stimuli, range(200)))
            log(line)
    train_s = time.perf_counter() - t0
    model.eval()
    metrics = evaluate_captioner(model, processor, stimuli, range(config.n_eval))
    settings = dataclasses.asdict(config)
    if config.init_from is not None:  # a folder name, not this machine's path
        settings["init_from"] = Path(config.init_from).name
    report: dict[str, Any] = {
        "config": settings,
        "metrics": metrics,
        "train_seconds": round(train_s, 1),
        "vocab_size": len(vocab),
        "n_parameters": int(sum(p.numel() for p in model.parameters())),
        "n_vision_tokens": int(model.git.encoder.layer[0].attention.self.image_patch_tokens),
        "torch_threads": torch.get_num_threads(),
        "final_loss": round(float(loss.detach()), 4),
    }
    report["stages"] = [*parents, _stage_record(report)]
    log("held-out: " + _format(metrics))
    if out is not None:
        from neurodecode._io import write_json_atomic
        from neurodecode.models._card import toy_git_card

        save_toy_git(model, processor, out)
        report["file_bytes"] = (Path(out) / "model.safetensors").stat().st_size
        (Path(out) / "README.md").write_text(toy_git_card(report), encoding="utf-8")
        write_json_atomic(Path(out) / "training_report.json", report)
    return model, processor, report
