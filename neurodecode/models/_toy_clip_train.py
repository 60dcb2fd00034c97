"""Training and evaluation of the toy CLIP on synthetic image/caption pairs, through open_clip.

Training draws fresh stimuli from the synthetic generator (ids from ``train_offset`` upwards,
never the ids ``0..`` that worlds use), renders them, picks one of their five captions, and
optimises open_clip's own :class:`open_clip.loss.ClipLoss`. Evaluation uses held-out ids
``0..n_eval-1``: exactly the stimuli a world with the same seed shows its subjects.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode.models._toy_clip import (
    TOY_CLIP_NAME,
    CompactTokenizer,
    build_compact_vocab,
    save_toy_clip,
    toy_clip_model_cfg,
)

__all__ = [
    "ToyClipTrainConfig",
    "attribute_accuracy",
    "category_of_class_word",
    "evaluate_toy_clip",
    "images_to_tensor",
    "train_toy_clip",
    "true_attributes",
    "zero_shot_attributes",
    "zero_shot_prompts",
]

_PROMPT = "A picture of a {colour} {word}."


@dataclasses.dataclass(frozen=True)
class ToyClipTrainConfig:
    """Settings of one toy-CLIP training run (deterministic given all of them).

    Parameters
    ----------
    seed : int
        Seeds initialisation (torch, in a forked RNG) and batch sampling (numpy).
    world_seed : int
        Seed of the synthetic stimulus generator (a world's ``WorldConfig.seed``).
    image_size : int
        Side of the stimuli (the model's input size).
    steps, batch_size, lr, weight_decay, warmup : int, int, float, float, int
        AdamW with linear warm-up then cosine decay to zero.
    train_offset, n_train : int
        Training ids are drawn uniformly from ``[train_offset, train_offset + n_train)``.
    n_eval : int
        Held-out ids ``0..n_eval-1`` for the metrics.
    bf16 : bool
        bfloat16 autocast (CPU or CUDA); the weights stay fp32 during training.
    threads : int
        torch intra-op threads.
    object_fraction : float or None
        Share of each batch drawn from object images (the only images whose captions name a
        shape); the rest are drawn from the other categories. ``None``: ids drawn uniformly,
        so about one image in five is an object.
    init_from : str or None
        Folder of a saved toy CLIP to continue from (its weights and vocabulary); ``None``
        trains from a seeded random initialisation.
    log_every : int
        Steps between loss lines (and held-out checks on 200 ids when ``eval_every`` > 0).
    eval_every : int
        Steps between held-out checks (0: none until the end).
    """

    seed: int = 0
    world_seed: int = 0
    image_size: int = 64
    steps: int = 750
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup: int = 50
    train_offset: int = 100_000
    n_train: int = 1_000_000
    n_eval: int = 1000
    bf16: bool = False
    threads: int = 2
    object_fraction: float | None = None
    init_from: str | None = None
    log_every: int = 50
    eval_every: int = 150

    def __post_init__(self) -> None:
        if self.object_fraction is not None and not 0.0 <= self.object_fraction <= 1.0:
            raise ValueError(f"object_fraction must be in [0, 1], got {self.object_fraction}")


def images_to_tensor(images: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> Any:
    """uint8 ``(n, H, W, 3)`` images -> normalised float32 ``(n, 3, H, W)`` tensor."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (x - m) / s


def zero_shot_prompts() -> dict[str, dict[str, list[str]]]:
    """Caption prompts per class for the colour, shape and category read-outs.

    Category classes are the words captions use for them (each shape word for objects, then
    ``face``, ``house``, ``figure``, ``word``); :func:`category_of_class_word` maps a predicted
    word to its category, the usual zero-shot read-out of a coarse label from fine class names.
    """
    from neurodecode.synth import COLOURS, SHAPES

    words = list(_category_words())
    return {
        "colour": {c: [_PROMPT.format(colour=c, word=w) for w in words] for c in COLOURS},
        "shape": {s: [_PROMPT.format(colour=c, word=s) for c in COLOURS] for s in SHAPES},
        "category": {w: [_PROMPT.format(colour=c, word=w) for c in COLOURS] for w in words},
    }


def _category_words() -> dict[str, str]:
    from neurodecode.synth import CATEGORIES, CATEGORY_WORDS, SHAPES

    out = {s: "object" for s in SHAPES}
    out.update({CATEGORY_WORDS[c]: c for c in CATEGORIES if c in CATEGORY_WORDS})
    return out


def category_of_class_word(word: str) -> str:
    """Category named by a class word of the ``category`` prompts (``"star"`` -> ``"object"``)."""
    return _category_words()[word]


def _encode_text(model: Any, tokenizer: Any, texts: Sequence[str], device: str) -> Any:
    import torch

    with torch.no_grad():
        f = model.encode_text(tokenizer(list(texts)).to(device)).float()
    return torch.nn.functional.normalize(f, dim=-1)


def _encode_images(model: Any, images: np.ndarray, device: str, batch: int = 256) -> Any:
    import torch
    from open_clip import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            x = images_to_tensor(
                images[start : start + batch], OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
            )
            out.append(model.encode_image(x.to(device)).float())
    return torch.nn.functional.normalize(torch.cat(out), dim=-1)


def true_attributes(attributes: Sequence[dict[str, Any]]) -> dict[str, list[str | None]]:
    """Colour, shape (object images only, else ``None``) and category of described stimuli."""
    return {
        "colour": [a["main_colour"] for a in attributes],
        "shape": [a["objects"][0]["shape"] if a["category"] == "object" else None
                  for a in attributes],
        "category": [a["category"] for a in attributes],
    }  # fmt: skip


def zero_shot_attributes(
    model: Any, tokenizer: Any, images: Any, device: str = "cpu"
) -> dict[str, list[str]]:
    """Colour, shape and category read from images by a CLIP, zero-shot.

    Parameters
    ----------
    model, tokenizer
        An open_clip CLIP and its tokenizer (the toy CLIP's by default).
    images : uint8 array ``(n, H, W, 3)`` or a tensor of unit image embeddings ``(n, d)``
    device : str

    Returns
    -------
    dict
        ``colour``, ``shape`` and ``category`` labels per image (the nearest prompt class; the
        category prompts' class words mapped by :func:`category_of_class_word`).
    """
    import torch

    img = images if torch.is_tensor(images) else _encode_images(model, images, device)
    out: dict[str, list[str]] = {}
    for task, classes in zero_shot_prompts().items():
        names = list(classes)
        protos = torch.stack(
            [_encode_text(model, tokenizer, classes[c], device).mean(0) for c in names]
        )
        pred = (img @ torch.nn.functional.normalize(protos, dim=-1).T).argmax(1).cpu().numpy()
        label = category_of_class_word if task == "category" else str
        out[task] = [label(names[k]) for k in pred]
    return out


def attribute_accuracy(
    predicted: dict[str, list[str]], attributes: Sequence[dict[str, Any]]
) -> dict[str, float]:
    """Share of images whose predicted colour, shape (objects only) and category are right."""
    truth = true_attributes(attributes)
    out = {}
    for task, labels in predicted.items():
        keep = [k for k, t in enumerate(truth[task]) if t is not None]
        out[task] = float(np.mean([labels[k] == truth[task][k] for k in keep])) if keep else 0.0
    return out


def evaluate_toy_clip(
    model: Any,
    tokenizer: Any,
    stimuli: Any,
    ids: Sequence[int] | np.ndarray,
    device: str = "cpu",
) -> dict[str, float]:
    """Zero-shot attribute accuracy and 100-way retrieval of a CLIP on synthetic stimuli.

    Parameters
    ----------
    model : open_clip.CLIP
    tokenizer : callable
        Texts -> token tensor.
    stimuli : neurodecode.synth.StimulusSet
    ids : sequence of int
        Held-out stimulus ids (at least 100).
    device : str

    Returns
    -------
    dict
        ``colour``, ``shape`` (object images only), ``category`` accuracies; ``retrieval_i2t``,
        ``retrieval_t2i`` and their mean ``retrieval`` (top-1 among the first 100 ids, each
        image against its first caption); ``n``.
    """
    import torch

    was_training = model.training
    model.eval()
    ids = [int(i) for i in ids]
    attrs = [stimuli.attributes(i) for i in ids]
    img = _encode_images(model, stimuli.images(ids), device)
    metrics: dict[str, float] = {"n": float(len(ids))}
    metrics.update(attribute_accuracy(zero_shot_attributes(model, tokenizer, img, device), attrs))
    n_ret = min(100, len(ids))
    txt = _encode_text(model, tokenizer, [stimuli.captions(i)[0] for i in ids[:n_ret]], device)
    sim = img[:n_ret] @ txt.T
    target = torch.arange(n_ret, device=sim.device)
    metrics["retrieval_i2t"] = float((sim.argmax(1) == target).float().mean())
    metrics["retrieval_t2i"] = float((sim.argmax(0) == target).float().mean())
    metrics["retrieval"] = (metrics["retrieval_i2t"] + metrics["retrieval_t2i"]) / 2
    model.train(was_training)
    return metrics


def _vocab_texts(stimuli: Any, ids: np.ndarray) -> list[str]:
    from neurodecode.synth import BACKGROUND_RGB, CATEGORY_WORDS, COLOURS, SHAPES, WORDS

    texts = [c for i in ids for c in stimuli.captions(int(i))]
    texts += [p for task in zero_shot_prompts().values() for ps in task.values() for p in ps]
    texts += [" ".join([*COLOURS, *SHAPES, *CATEGORY_WORDS.values(), *WORDS, *BACKGROUND_RGB])]
    return texts


def _lr_at(step: int, cfg: ToyClipTrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * progress))


def _draw_ids(rng: np.random.Generator, stimuli: Any, config: Any) -> np.ndarray:
    """One batch of training ids (see ``ToyClipTrainConfig.object_fraction``).

    ``config``: a toy trainer's settings with ``train_offset``, ``n_train``, ``batch_size`` and
    ``object_fraction`` (the toy GIT's trainer draws its batches here too).
    """
    lo, hi = config.train_offset, config.train_offset + config.n_train
    if config.object_fraction is None:
        return rng.integers(lo, hi, config.batch_size)
    n_obj = round(config.object_fraction * config.batch_size)
    ids = np.empty(config.batch_size, dtype=np.int64)
    for k in range(config.batch_size):
        want_object = k < n_obj
        while True:  # categories are balanced in blocks of five: ~5 (or ~1.25) draws per slot
            i = int(rng.integers(lo, hi))
            if (stimuli.category(i) == "object") == want_object:
                ids[k] = i
                break
    return ids[rng.permutation(config.batch_size)]


def _initial_model(
    config: ToyClipTrainConfig, stimuli: Any, rng: np.random.Generator
) -> tuple[Any, list[int]]:
    """The model to train and its compact vocabulary (BPE ids)."""
    if config.init_from is not None:
        from neurodecode.models._toy_clip import load_toy_clip

        model, tokenizer = load_toy_clip(config.init_from)
        return model, tokenizer.kept
    lo, hi = config.train_offset, config.train_offset + config.n_train
    kept = build_compact_vocab(_vocab_texts(stimuli, rng.integers(lo, hi, 4000)))
    return _build_model(len(kept) + 2, config.seed), kept


def _portable_config(config: ToyClipTrainConfig) -> dict[str, Any]:
    """The config as a dict, with ``init_from`` as a folder name, not a machine's path."""
    out = dataclasses.asdict(config)
    if out["init_from"]:
        out["init_from"] = Path(out["init_from"]).name
    return out


def _stage_record(report: dict[str, Any]) -> dict[str, Any]:
    return {k: report[k] for k in ("config", "metrics", "train_seconds", "torch_threads")}


def _parent_stages(config: ToyClipTrainConfig) -> list[dict[str, Any]]:
    """Training stages of the model ``config.init_from`` continues (from its report)."""
    if config.init_from is None:
        return []
    from neurodecode._io import read_json
    from neurodecode.models._registry import file_sha256

    folder = Path(config.init_from)
    path = folder / "training_report.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: missing; init_from must be a folder written by train_toy_clip"
        )
    parent = read_json(path)
    stages = parent.get("stages") or [_stage_record(parent)]
    stages[-1] = {
        **stages[-1],
        "weights_sha256": file_sha256(folder / "open_clip_model.safetensors"),
    }
    return stages


def _build_model(vocab_size: int, seed: int) -> Any:
    import open_clip
    import torch

    from neurodecode._io import write_json_atomic

    with tempfile.TemporaryDirectory() as tmp:
        write_json_atomic(Path(tmp) / f"{TOY_CLIP_NAME}.json", toy_clip_model_cfg(vocab_size))
        open_clip.add_model_config(tmp)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return open_clip.create_model(TOY_CLIP_NAME, pretrained=None)


def train_toy_clip(
    config: ToyClipTrainConfig,
    out: str | Path | None = None,
    log: Callable[[str], None] = print,
    device: str = "cpu",
) -> tuple[Any, CompactTokenizer, dict[str, Any]]:
    """Train the toy CLIP and (when ``out`` is given) save it with a model card.

    Parameters
    ----------
    config : ToyClipTrainConfig
    out : path, optional
        Folder for ``open_clip_config.json``, ``open_clip_model.safetensors``, ``vocab.json``
        and ``README.md`` (the model card).
    log : callable
        Receives progress lines.
    device : str
        torch device.

    Returns
    -------
    model, tokenizer, report
        ``report`` holds the config, held-out metrics, wall time and file size.
    """
    import torch
    from open_clip import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
    from open_clip.loss import ClipLoss

    from neurodecode.synth import StimulusSet

    parent_stages = _parent_stages(config)  # fails early when init_from is not a toy CLIP
    torch.set_num_threads(config.threads)
    t0 = time.perf_counter()
    stimuli = StimulusSet(
        config.train_offset + config.n_train, config.world_seed, config.image_size
    )
    rng = np.random.default_rng(config.seed)
    model, kept = _initial_model(config, stimuli, rng)
    tokenizer = CompactTokenizer(kept, toy_clip_model_cfg(0)["text_cfg"]["context_length"])
    model = model.to(device)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": rest, "weight_decay": 0.0},
        ],
        lr=config.lr,
        betas=(0.9, 0.98),
        eps=1e-6,
    )
    loss_fn = ClipLoss()
    amp = torch.autocast(
        device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=config.bf16
    )
    eval_ids = np.arange(config.n_eval)
    running = []
    for step in range(config.steps):
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, config)
        ids = _draw_ids(rng, stimuli, config)
        picks = rng.integers(0, 5, config.batch_size)
        captions = [stimuli.captions(int(i))[int(k)] for i, k in zip(ids, picks, strict=True)]
        x = images_to_tensor(stimuli.images(ids), OPENAI_DATASET_MEAN, OPENAI_DATASET_STD)
        with amp:
            img_f, txt_f, scale = model(x.to(device), tokenizer(captions).to(device))
        loss = loss_fn(img_f.float(), txt_f.float(), scale.float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        running.append(float(loss.detach()))
        if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
            line = f"step {step + 1}/{config.steps} loss {np.mean(running):.4f} "
            line += f"lr {_lr_at(step, config):.2e} {time.perf_counter() - t0:.0f}s"
            running = []
            if config.eval_every and (step + 1) % config.eval_every == 0:
                m = evaluate_toy_clip(model, tokenizer, stimuli, eval_ids[:200], device)
                line += " " + " ".join(f"{k}={v:.3f}" for k, v in m.items() if k != "n")
            log(line)
    train_s = time.perf_counter() - t0
    model.eval()
    metrics = evaluate_toy_clip(model, tokenizer, stimuli, eval_ids, device)
    report: dict[str, Any] = {
        "config": _portable_config(config),
        "metrics": metrics,
        "train_seconds": round(train_s, 1),
        "vocab_size": tokenizer.vocab_size,
        "n_parameters": int(sum(p.numel() for p in model.parameters())),
        "torch_threads": torch.get_num_threads(),
    }
    report["stages"] = [*parent_stages, _stage_record(report)]
    log("held-out: " + " ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
    if out is not None:
        from neurodecode.models._card import toy_clip_card

        save_toy_clip(model, kept, out)
        report["file_bytes"] = (Path(out) / "open_clip_model.safetensors").stat().st_size
        (Path(out) / "README.md").write_text(toy_clip_card(report), encoding="utf-8")
        from neurodecode._io import write_json_atomic

        write_json_atomic(Path(out) / "training_report.json", report)
    return model, tokenizer, report
