"""Model cards (README.md) written beside trained toy models, from their training report."""

from __future__ import annotations

from typing import Any

__all__ = ["toy_clip_card", "toy_clipcap_card", "toy_diffusion_card", "toy_git_card"]


def _sampling(cfg: dict[str, Any]) -> str:
    lo, hi = cfg["train_offset"], cfg["train_offset"] + cfg["n_train"]
    frac = cfg.get("object_fraction")
    if frac is None:
        return f"ids drawn uniformly from [{lo}, {hi})"
    return (
        f"ids drawn from [{lo}, {hi}) with object images (the only ones whose captions name a "
        f"shape) making up {frac:.0%} of each batch"
    )


def _stage_line(k: int, stage: dict[str, Any]) -> str:
    cfg, m = stage["config"], stage["metrics"]
    start = "from a seeded random initialisation" if k == 0 else "continuing stage " + str(k)
    sha = stage.get("weights_sha256")
    sha = f" (weights sha256 `{sha[:16]}...`)" if sha else ""
    return (
        f"{k + 1}. {start}: {cfg['steps']} steps of batch {cfg['batch_size']} "
        f"({cfg['steps'] * cfg['batch_size']} pairs), {_sampling(cfg)}; AdamW (lr {cfg['lr']}, "
        f"weight decay {cfg['weight_decay']}, betas 0.9/0.98), {cfg['warmup']} warm-up steps then "
        f"cosine decay; bf16 autocast: {cfg['bf16']}; seed {cfg['seed']}; "
        f"{stage['torch_threads']} CPU threads; {stage['train_seconds']:.0f} s. "
        f"Held-out after it: shape {m['shape']:.3f}, category {m['category']:.3f}{sha}."
    )


def _command(k: int, cfg: dict[str, Any]) -> str:
    cmd = f"neurodecode models train clip --out stage{k + 1} --steps {cfg['steps']}"
    cmd += f" --world-seed {cfg['world_seed']} --seed {cfg['seed']}"
    if k:
        cmd += f" --init-from stage{k} --lr {cfg['lr']} --warmup {cfg['warmup']}"
    if cfg.get("object_fraction") is not None:
        cmd += f" --object-fraction {cfg['object_fraction']}"
    return cmd


def toy_clip_card(report: dict[str, Any]) -> str:
    """Markdown model card of a toy CLIP from :func:`train_toy_clip`'s report."""
    cfg, m, stages = report["config"], report["metrics"], report["stages"]
    size_mb = report.get("file_bytes", 0) / 1e6
    side = f"{cfg['image_size']}x{cfg['image_size']}"
    from neurodecode.synth import CATEGORIES, COLOURS, SHAPES

    n_colours, n_shapes, n_categories = len(COLOURS), len(SHAPES), len(CATEGORIES)
    total = sum(s["train_seconds"] for s in stages)
    steps = "\n".join(_stage_line(k, s) for k, s in enumerate(stages))
    commands = "\n".join(_command(k, s["config"]) for k, s in enumerate(stages))
    return f"""# neurodecode toy CLIP

An open_clip `CLIP` (ResNet image tower: layers [1, 1, 1, 1], width 32; transformer text tower:
width 128, 4 layers, 4 heads, context 32; joint embedding 128) trained from scratch, in the
stages below, by `neurodecode models train clip` on synthetic image/caption pairs. It is a test
instrument for the synthetic world, not a general image model.

## Data
Stimuli of `neurodecode.synth.StimulusSet` (generator seed {cfg["world_seed"]}, {side} RGB),
one of their five captions per draw. Evaluation ids 0..{cfg["n_eval"] - 1} were never trained on
(they are the stimuli a world with this seed shows its subjects).
Vocabulary: the {report["vocab_size"] - 2} open_clip BPE tokens used by the captions and prompts,
plus padding and `<unk>` (`vocab.json`; `neurodecode.models.CompactTokenizer`).

## Training
open_clip's `ClipLoss`, in {len(stages)} stage(s) ({total:.0f} s of training in all):

{steps}

{report["n_parameters"]} parameters, stored as fp16 safetensors ({size_mb:.2f} MB).
Each stage is deterministic given its seed and starting weights (on the same thread count);
the stages are reproduced by

```
{commands}
```

## Held-out metrics ({int(m["n"])} images)
| read-out | value |
|---|---|
| zero-shot colour (caption prompts) | {m["colour"]:.3f} |
| zero-shot shape (object images) | {m["shape"]:.3f} |
| zero-shot category | {m["category"]:.3f} |
| image -> caption top-1 of 100 | {m["retrieval_i2t"]:.3f} |
| caption -> image top-1 of 100 | {m["retrieval_t2i"]:.3f} |

Prompts: "A picture of a {{colour}} {{word}}." averaged over the other attributes
(`neurodecode.models.zero_shot_prompts`); the category read-out picks the nearest class word
(a shape word, face, house, figure or word) and maps it to its category
(`neurodecode.models.category_of_class_word`). Chance: colour 1/{n_colours},
shape 1/{n_shapes}, category 1/{n_categories}, retrieval 1/100.

## Use
```python
from neurodecode.models import load_clip

loaded = load_clip("toy-clip")  # loaded.model (open_clip CLIP), loaded.tokenizer
```
or directly `open_clip.create_model("local-dir:<this folder>")` with the tokenizer of `vocab.json`.
"""


def _git_stage_line(k: int, stage: dict[str, Any]) -> str:
    cfg, m = stage["config"], stage["metrics"]
    start = "from a seeded random initialisation" if k == 0 else "continuing stage " + str(k)
    sha = stage.get("weights_sha256")
    sha = f" (weights sha256 `{sha[:16]}...`)" if sha else ""
    pairs = cfg["steps"] * cfg["batch_size"]
    return (
        f"{k + 1}. {start}: {cfg['steps']} AdamW steps of batch {cfg['batch_size']} ({pairs} "
        f"pairs), {_sampling(cfg)}; lr {cfg['lr']} with {cfg['warmup']} warm-up steps then "
        f"cosine decay, weight decay {cfg['weight_decay']}; seed {cfg['seed']}; "
        f"{stage['torch_threads']} CPU thread(s); {stage['train_seconds']:.0f} s; final batch "
        f"loss {stage['final_loss']}. Held-out after it ({int(m['n'])} images): colour "
        f"{m['colour']:.3f}, category {m['category']:.3f}, shape {m['shape']:.3f}{sha}."
    )


def _git_command(k: int, n: int, cfg: dict[str, Any]) -> str:
    out = "toy-git" if k == n - 1 else f"stage{k + 1}"
    cmd = (
        f"neurodecode models train git --out {out} --steps {cfg['steps']} "
        f"--batch-size {cfg['batch_size']} --lr {cfg['lr']} --warmup {cfg['warmup']} "
        f"--world-seed {cfg['world_seed']} --seed {cfg['seed']} --threads {cfg['threads']}"
    )
    if cfg.get("object_fraction") is not None:
        cmd += f" --object-fraction {cfg['object_fraction']}"
    return cmd + (f" --init-from stage{k}" if k else "")


def toy_git_card(report: dict[str, Any]) -> str:
    """Markdown model card of a toy GIT from :func:`train_toy_git`'s report."""
    from neurodecode.models._toy_git import TOY_GIT_ARCH
    from neurodecode.synth import CATEGORIES, COLOURS, SHAPES

    cfg, m = report["config"], report["metrics"]
    stages = report.get("stages") or []
    v, side = TOY_GIT_ARCH["vision_config"], cfg["image_size"]
    n_tok = report["n_vision_tokens"]
    size_mb = report.get("file_bytes", 0) / 1e6
    lo, hi = cfg["train_offset"], cfg["train_offset"] + cfg["n_train"]
    total = sum(s["train_seconds"] for s in stages)
    lines = "\n".join(_git_stage_line(k, st) for k, st in enumerate(stages))
    commands = "\n".join(_git_command(k, len(stages), st["config"]) for k, st in enumerate(stages))
    return f"""# neurodecode toy GIT captioner

A transformers `GitForCausalLM` (image encoder: CLIP-style ViT, {side}x{side} input, patch
{v["patch_size"]}, width {v["hidden_size"]}, {v["num_hidden_layers"]} layers, {n_tok} vision
tokens; text decoder: width {TOY_GIT_ARCH["hidden_size"]}, {TOY_GIT_ARCH["num_hidden_layers"]}
layers, {TOY_GIT_ARCH["num_attention_heads"]} heads) trained from scratch by
`neurodecode models train git` on synthetic image/caption pairs. It is a test instrument for
the synthetic world (the brain-captioning stage decodes its {n_tok} x {v["hidden_size"]} vision
tokens from voxels), not a general captioner.

## Data
Stimuli of `neurodecode.synth.StimulusSet` (generator seed {cfg["world_seed"]}, {side}x{side}
RGB), ids from [{lo}, {hi}) drawn as each stage below says, one of their five captions per
draw. Evaluation ids 0..{cfg["n_eval"] - 1} were never trained on (they are the stimuli a world
with this seed shows its subjects). Tokenizer: a transformers `BertTokenizer` over
{report["vocab_size"]} entries (BERT's 5 special tokens and the caption words as BERT's
pre-tokenizer splits them);
processor: `GitProcessor` with a `CLIPImageProcessor` at {side}x{side} (CLIP mean and std).

## Training
GIT's captioning loss (next token; GIT shifts the labels itself; gradient norm clipped at 1),
AdamW (betas 0.9/0.98, no decay of biases, norms and embeddings), in {len(stages)} stage(s)
({total:.0f} s of training in all):

{lines}

{report["n_parameters"]} parameters, fp32 safetensors ({size_mb:.2f} MB). Each stage is
deterministic given its seed and starting weights (on the same thread count); the stages are
reproduced by

```
{commands}
```

## Held-out metrics ({int(m["n"])} images, greedy decoding)
| read-out | value | chance |
|---|---|---|
| colour named | {m["colour"]:.3f} | 1/{len(COLOURS)} |
| category named | {m["category"]:.3f} | 1/{len(CATEGORIES)} |
| shape named (object images, n = {m["n_objects"]}) | {m["shape"]:.3f} | 1/{len(SHAPES)} |

A caption names the first colour word and the first category word it contains (a shape
word counts as the object category; `neurodecode.synth.named_attributes`); the synthetic
captions name the main element's colour and category first. Captioning takes
{1000 * m["seconds_per_caption"]:.1f} ms per image here (batches of 128, greedy).

## Use
```python
from neurodecode.models import load_model

loaded = load_model("toy-git")  # loaded.model (GitForCausalLM), loaded.tokenizer (GitProcessor)
```
or `GitForCausalLM.from_pretrained(<this folder>)` with `AutoProcessor.from_pretrained`.
"""


def _acc_row(label: str, m: dict[str, float]) -> str:
    return f"| {label} | {m['colour']:.3f} | {m['shape']:.3f} | {m['category']:.3f} |"


def toy_diffusion_card(report: dict[str, Any]) -> str:
    """The model card (README.md) of the toy latent-diffusion model."""
    arch, n_par = report["architecture"], report["n_parameters"]
    m = report["metrics"]
    unet_params = n_par.get("unet", 0)
    lines = [
        "# neurodecode toy latent-diffusion model",
        "",
        f"A diffusers `AutoencoderKL` ({n_par['vae']} parameters; channels "
        f"{list(arch['vae_channels'])}, {arch['latent_channels']}-channel latent at 1/"
        f"{2 ** (len(arch['vae_channels']) - 1)} of the {arch['image_size']}-pixel side) and a "
        f"`UNet2DConditionModel` ({unet_params} parameters; channels "
        f"{list(arch['unet_channels'])}) conditioned, unCLIP-style, on toy-CLIP image "
        "embeddings (L2-normalised, unit RMS) through its class embedding "
        '(`class_embed_type="projection"`) and one cross-attention token; a DDIM sampler of '
        "the cosine schedule. Trained from scratch by `neurodecode models train diffusion` on "
        "synthetic stimuli. It is a test instrument for the synthetic world, not a general "
        "image model.",
        "",
        "## Training",
        "Stimuli of `neurodecode.synth.StimulusSet` (generator seed "
        f"{report['config']['world_seed']}), ids drawn from the range no world shows its "
        "subjects; held-out ids 0..n-1 are the stimuli of a world with that seed. Weights "
        "are trained on CPU (bf16 autocast) and stored as fp16 safetensors.",
        "",
    ]
    for k, stage in enumerate(report["stages"], 1):
        cfg, secs = stage["config"], stage["seconds"]
        parts = []
        if cfg["vae_steps"]:
            which = "VAE decoder (encoder frozen)" if cfg.get("decoder_only") else "VAE"
            parts.append(f"{which} {cfg['vae_steps']} steps of batch {cfg['vae_batch']} "
                         f"(lr {cfg['vae_lr']}, KL weight {cfg['kl_weight']}; "
                         f"{secs.get('vae', 0):.0f} s)")  # fmt: skip
        if cfg["unet_steps"]:
            parts.append(f"UNet {cfg['unet_steps']} steps of batch {cfg['unet_batch']} "
                         f"(lr {cfg['unet_lr']}, a pool of {cfg['n_pool']} stimuli, "
                         f"{cfg['uncond_fraction']:.0%} unconditioned, embedding noise up "
                         f"to {cfg['embedding_noise']}, min-SNR {cfg['snr_gamma']}; "
                         f"{secs.get('unet', 0):.0f} s)")  # fmt: skip
        start = f"continuing `{cfg['init_from']}`" if cfg["init_from"] else "from a seeded init"
        if cfg.get("decoder_from"):
            start += f", VAE decoder of `{cfg['decoder_from']}`"
        lines.append(f"{k}. {start}: " + "; ".join(parts or ["evaluation only"]) +
                     f"; seed {cfg['seed']}, {cfg['threads']} CPU thread(s).")  # fmt: skip
    sampler = m["sampler"]
    lines += [
        "",
        f"## Held-out quality ({m['n']} images, read zero-shot by the toy CLIP)",
        "| images | colour | shape (objects) | category |",
        "|---|---|---|---|",
        _acc_row("true images (the reader's own accuracy)", m["true_images"]),
        _acc_row("VAE reconstructions (the latent's ceiling)", m["vae_reconstruction"]),
        *(
            [
                _acc_row(
                    f"samples from noise conditioned on the image's embedding ({sampler['steps']} "
                    f"DDIM steps, guidance {sampler['guidance_scale']})",
                    m["conditioned_samples"],
                )
            ]
            if m["conditioned_samples"]
            else []
        ),
        "",
        f"VAE reconstruction PSNR: {m['vae_psnr_db']:.2f} dB. Chance: colour 1/6, category "
        "1/5 (the reader's prompts).",
        "",
    ]
    return "\n".join(lines)


def _clipcap_command(cfg: dict[str, Any]) -> str:
    cmd = (
        f"neurodecode models train clipcap --out toy-clipcap --steps {cfg['steps']} "
        f"--batch-size {cfg['batch_size']} --lr {cfg['lr']} --n-bank {cfg['n_bank']} "
        f"--world-seed {cfg['world_seed']} --seed {cfg['seed']} --threads {cfg['threads']}"
    )
    if cfg.get("object_fraction") is not None:
        cmd += f" --object-fraction {cfg['object_fraction']}"
    return cmd


def _caption_choice_text(cfg: dict[str, Any]) -> str:
    if cfg.get("caption_choice", "any") == "names_background":
        return ("The target caption is drawn from the stimulus's reference captions that name "
                "its background colour (all five for place scenes, which have none), so that "
                "a voxel tuned to a background colour can be named.")  # fmt: skip
    return "The target caption is any of the stimulus's five reference captions."


def _background_text(single: dict[str, Any]) -> str:
    bg = single.get("background")
    if not bg:
        return ""
    return (f"Background colour named (images with one, n = {bg['n']}): {bg['rate']:.3f}"
            " (chance 1/5).")  # fmt: skip


def toy_clipcap_card(report: dict[str, Any]) -> str:
    """Markdown model card of the toy CLIP-prefix captioner from its training report."""
    from neurodecode.models._toy_clipcap import TOY_GPT2_ARCH
    from neurodecode.synth import CATEGORIES, COLOURS, SHAPES

    cfg, m = report["config"], report["metrics"]
    single, blend, proj = m["single"], m["blend"], m["projection"]
    g = TOY_GPT2_ARCH
    lo, hi = cfg["train_offset"], cfg["train_offset"] + cfg["n_train"]
    k, n_embd = cfg["prefix_length"], g["n_embd"]
    noise = cfg["noise_fraction"] * (1 - cfg["blend_fraction"])
    blend_row = (
        f"| renormalised mean of {blend['blend_size']} embeddings of one category and colour | "
        f"{blend['colour']:.3f} | {blend['category']:.3f} | {blend['n']} |"
    )
    return f"""# neurodecode toy ClipCap captioner

A CLIP-prefix captioner in the manner of ClipCap (Mokady et al., 2021; MLP mapper): a
two-layer MLP ({report["clip_dim"]} -> {cfg["hidden"]} -> {k} x {n_embd}, Tanh between) turns
one `{cfg["clip_model"]}` image embedding (L2-normalised) into {k} prefix embeddings that a
transformers `GPT2LMHeadModel` ({g["n_layer"]} layers, width {n_embd}, {g["n_head"]} heads)
reads before the caption. Trained from scratch by `neurodecode models train clipcap` on
toy-CLIP embeddings of synthetic stimuli. It is the captioner of BrainSCUBA's projected voxel
embeddings on the synthetic world, a test instrument, not a general captioner.

## Data
Stimuli of `neurodecode.synth.StimulusSet` (generator seed {cfg["world_seed"]},
{cfg["image_size"]}x{cfg["image_size"]} RGB): a bank of {cfg["n_bank"]} ids from [{lo}, {hi}),
rendered and embedded once by `{cfg["clip_model"]}` (weights sha256
`{report["clip_weights_sha256"][:16]}...`), each with its five reference captions. Evaluation
ids 0..{cfg["n_eval"] - 1} were never trained on (they are the stimuli a world with this seed
shows its subjects). Tokenizer: a word-level `PreTrainedTokenizerFast` of {report["vocab_size"]}
entries (`<pad>`, `<bos>`, `<eos>`, `<unk>` and the caption words, lower case, punctuation
apart); captions end with `<eos>`.

## Training
GPT-2's next-token loss over the caption (the prefix positions are not scored), AdamW (lr
{cfg["lr"]}, betas 0.9/0.98, weight decay {cfg["weight_decay"]} of the matrices, token
embeddings excepted), {cfg["warmup"]} warm-up steps then cosine decay, gradient norm clipped at
1: {cfg["steps"]} steps of batch {cfg["batch_size"]}; seed {cfg["seed"]};
{report["torch_threads"]} CPU thread(s); {report["prepare_seconds"]:.0f} s to render and embed
the bank, {report["train_seconds"]:.0f} s in all. Final batch loss {report["final_loss"]}.

BrainSCUBA captions softmax-weighted means of many bank embeddings, which are less peaked
than one image's. So {cfg["blend_fraction"]:.0%} of each batch is the renormalised mean of
{cfg["blend_min"]} to {cfg["blend_max"]} bank embeddings of one category, main colour and
background colour (one of them the drawn stimulus, whose caption is the target), and
{noise:.0%} is a single embedding plus Gaussian noise of norm about {cfg["noise_scale"]},
renormalised. {_caption_choice_text(cfg)}

{report["n_parameters"]} parameters, fp32 safetensors ({report.get("file_bytes", 0) / 1e6:.2f} MB
for the folder). Deterministic given its settings (on the same thread count); reproduced by

```
{_clipcap_command(cfg)}
```

## Held-out metrics (greedy decoding)
| input | colour named | category named | n |
|---|---|---|---|
| one image's embedding | {single["colour"]:.3f} | {single["category"]:.3f} | {single["n"]} |
{blend_row}

Shape named (object images, n = {single["n_objects"]}): {single["shape"]:.3f}.
{_background_text(single)} Chance: colour
1/{len(COLOURS)}, category 1/{len(CATEGORIES)}, shape 1/{len(SHAPES)}. BrainSCUBA-style
projections (softmax at temperature {proj["temperature"]:g} over the {single["n"]} held-out
embeddings) of each category's mean direction name that category {proj["category"]:.3f}, of
each colour's that colour {proj["colour"]:.3f}, of each category-and-colour's both
{proj["both"]:.3f}. A caption names the first colour word and the first category word it
contains (a shape word counts as the object category; `neurodecode.synth.named_attributes`).
Captioning takes {1000 * m["seconds_per_caption"]:.2f} ms per embedding here (batches of 256).

## Use
```python
from neurodecode.models import caption_embeddings, load_model

loaded = load_model("toy-clipcap")  # loaded.model (ClipPrefixCaptioner), loaded.tokenizer
# embeddings: (n, {report["clip_dim"]}) toy-CLIP image embeddings (or BrainSCUBA projections)
captions = caption_embeddings(loaded.model, loaded.tokenizer, embeddings)
```
or `neurodecode.models.load_clipcap(<this folder>)`.
"""
