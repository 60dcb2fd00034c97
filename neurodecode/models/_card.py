"""Model cards (README.md) written beside trained toy models, from their training report."""

from __future__ import annotations

from typing import Any

__all__ = ["toy_clip_card"]


def toy_clip_card(report: dict[str, Any]) -> str:
    """Markdown model card of a toy CLIP from :func:`train_toy_clip`'s report."""
    cfg, m = report["config"], report["metrics"]
    size_mb = report.get("file_bytes", 0) / 1e6
    side = f"{cfg['image_size']}x{cfg['image_size']}"
    lo, hi = cfg["train_offset"], cfg["train_offset"] + cfg["n_train"]
    from neurodecode.synth import CATEGORIES, COLOURS, SHAPES

    n_colours, n_shapes, n_categories = len(COLOURS), len(SHAPES), len(CATEGORIES)
    return f"""# neurodecode toy CLIP

An open_clip `CLIP` (ResNet image tower: layers [1, 1, 1, 1], width 32; transformer text tower:
width 128, 4 layers, 4 heads, context 32; joint embedding 128) trained from scratch by
`neurodecode models train clip` on synthetic image/caption pairs. It is a test instrument for the
synthetic world, not a general image model.

## Data
Stimuli of `neurodecode.synth.StimulusSet` (generator seed {cfg["world_seed"]}, {side} RGB),
training ids drawn uniformly from [{lo}, {hi}) with one of their five captions per draw.
Evaluation ids 0..{cfg["n_eval"] - 1} were never trained on (they are
the stimuli a world with this seed shows its subjects).
Vocabulary: the {report["vocab_size"] - 2} open_clip BPE tokens used by the captions and prompts,
plus padding and `<unk>` (`vocab.json`; `neurodecode.models.CompactTokenizer`).

## Training
open_clip's `ClipLoss`; AdamW (lr {cfg["lr"]}, weight decay {cfg["weight_decay"]}, betas 0.9/0.98),
{cfg["warmup"]} warm-up steps then cosine decay; {cfg["steps"]} steps of batch {cfg["batch_size"]}
({cfg["steps"] * cfg["batch_size"]} pairs); bf16 autocast: {cfg["bf16"]}; seed {cfg["seed"]};
{report["torch_threads"]} CPU threads; wall time {report["train_seconds"]:.0f} s.
{report["n_parameters"]} parameters, stored as fp16 safetensors ({size_mb:.2f} MB).

## Held-out metrics ({int(m["n"])} images)
| read-out | value |
|---|---|
| zero-shot colour (caption prompts) | {m["colour"]:.3f} |
| zero-shot shape (object images) | {m["shape"]:.3f} |
| zero-shot category | {m["category"]:.3f} |
| image -> caption top-1 of 100 | {m["retrieval_i2t"]:.3f} |
| caption -> image top-1 of 100 | {m["retrieval_t2i"]:.3f} |

Prompts: "A picture of a {{colour}} {{word}}." averaged over the other attributes
(`neurodecode.models.zero_shot_prompts`). Chance: colour 1/{n_colours}, shape 1/{n_shapes},
category 1/{n_categories}, retrieval 1/100.

## Use
```python
from neurodecode.models import load_clip
model, tokenizer, info = load_clip("toy-clip")
```
or directly `open_clip.create_model("local-dir:<this folder>")` with the tokenizer of `vocab.json`.
"""
