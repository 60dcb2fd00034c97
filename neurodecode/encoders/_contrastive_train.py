"""Training loop shared by the single- and multi-subject contrastive encoders.

Each step draws ``batch_size // n_subjects`` trials per subject, passes each subject's voxels
through its own adapter, concatenates the latents and trains the shared backbone on the joint
batch (MindEye2's multi-subject scheme). The first ``mixco_fraction`` of the epochs use BiMixCo
(mixing happens within a subject, in voxel space), the rest SoftCLIP. AdamW, one-cycle schedule.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from neurodecode.encoders._contrastive_losses import mix_voxels, mixco_nce_loss, soft_clip_loss
from neurodecode.encoders._contrastive_net import ContrastiveConfig, set_dropout_generator
from neurodecode.encoders._contrastive_samples import TrainingSamples

if TYPE_CHECKING:
    import torch

__all__ = ["SubjectData", "fit_standardizer", "train_network"]

_CHUNK = 4096


@dataclasses.dataclass
class SubjectData:
    """One subject's training arrays; ``voxels`` may be any array-like indexable by rows.

    ``groups`` (the stimulus of each trial) lets training draw stimuli instead of trials
    (``ContrastiveConfig.stimulus_samples``). ``transformed``: the rows are already the output
    of the adapter's fixed input map (standardised and PCA-projected voxels), so training
    starts at the adapter's first trainable layer.
    """

    subject: str
    voxels: Any
    image: np.ndarray
    text: np.ndarray | None = None
    groups: np.ndarray | None = None
    transformed: bool = False

    def __post_init__(self) -> None:
        n = len(self.voxels)
        if len(self.image) != n or (self.text is not None and len(self.text) != n):
            raise ValueError(f"{self.subject}: voxels, image and text targets differ in length")
        if self.groups is not None and len(self.groups) != n:
            raise ValueError(f"{self.subject}: groups and voxels differ in length")
        if n < 2:
            raise ValueError(f"{self.subject}: need at least 2 training samples, got {n}")


def fit_standardizer(voxels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-voxel mean and standard deviation, read in row chunks (works on memmaps)."""
    n, n_voxels = len(voxels), voxels.shape[1]
    total = np.zeros(n_voxels)
    sq = np.zeros(n_voxels)
    for start in range(0, n, _CHUNK):
        block = np.asarray(voxels[start : start + _CHUNK], dtype=np.float64)
        total += block.sum(0)
        sq += (block**2).sum(0)
    mean = total / n
    var = np.maximum(sq / n - mean**2, 0.0)
    scale = np.sqrt(var)
    scale[scale < 1e-8] = 1.0  # constant voxels carry no signal; avoid dividing by zero
    return mean.astype(np.float32), scale.astype(np.float32)


def train_network(
    net: Any,
    data: Sequence[SubjectData],
    config: ContrastiveConfig,
    *,
    rng: np.random.Generator,
    generator: torch.Generator,
    device: torch.device,
    parameters: Iterable[torch.nn.Parameter] | None = None,
    epochs: int | None = None,
    verbose: bool = False,
) -> list[dict[str, float]]:
    """Train ``net`` in place; return one record per epoch (mean loss, phase, seconds).

    ``parameters`` restricts what is optimised (default: all of ``net``); ``epochs`` overrides
    ``config.epochs``.
    """
    import torch
    import torch.nn.functional as F

    epochs = int(epochs or config.epochs)
    samples = {
        d.subject: TrainingSamples(d.voxels, d.groups, config.stimulus_samples, rng) for d in data
    }
    for d in data:
        samples[d.subject].check_targets(d.image, f"{d.subject}: image targets")
        if d.text is not None:
            samples[d.subject].check_targets(d.text, f"{d.subject}: text targets")
    per_subject = max(2, config.batch_size // len(data))
    batch = {d.subject: min(per_subject, samples[d.subject].n_samples) for d in data}
    steps_per_epoch = max(samples[d.subject].n_samples // batch[d.subject] for d in data)
    total_steps = epochs * steps_per_epoch
    mixco_epochs = round(config.mixco_fraction * epochs)
    use_text = any(d.text is not None for d in data)
    if use_text and not all(d.text is not None for d in data):
        raise ValueError("text targets must be given for every subject or for none")
    if use_text and net.text_projector is None:
        raise ValueError("the network has no text head")

    params = list(parameters) if parameters is not None else list(net.parameters())
    opt = _adamw(_param_groups(net, params, config.weight_decay), config.max_lr, device)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=config.max_lr, total_steps=total_steps, pct_start=config.warmup_fraction
    )
    set_dropout_generator(net, generator)
    net.train()
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    try:
        for epoch in range(epochs):
            mixing = epoch < mixco_epochs
            t0 = time.perf_counter()
            losses = []
            for _ in range(steps_per_epoch):
                loss = _step(
                    net, data, samples, batch, config, mixing, use_text, rng, generator, device, F
                )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                losses.append(float(loss.detach()))
            record = {
                "epoch": float(epoch),
                "loss": float(np.mean(losses)),
                "mixco": float(mixing),
                "seconds": time.perf_counter() - t0,
                "samples": float(steps_per_epoch * sum(batch.values())),
            }
            history.append(record)
            if verbose:
                phase = "BiMixCo" if mixing else "SoftCLIP"
                elapsed = time.perf_counter() - start
                print(
                    f"epoch {epoch + 1}/{epochs} [{phase}] loss {record['loss']:.4f}"
                    f" elapsed {elapsed:.1f} s",
                    flush=True,
                )
    finally:
        set_dropout_generator(net, None)
        net.eval()
    return history


def _step(
    net: Any,
    data: Sequence[SubjectData],
    samples: dict[str, TrainingSamples],
    batch: dict[str, int],
    config: ContrastiveConfig,
    mixing: bool,
    use_text: bool,
    rng: np.random.Generator,
    generator: torch.Generator,
    device: torch.device,
    F: Any,
) -> torch.Tensor:
    import torch

    latents, images, texts, perms, lams = [], [], [], [], []
    offset = 0
    for d in data:
        b = batch[d.subject]
        x, idx = samples[d.subject].draw(b, device)
        adapter = net.adapters[d.subject]
        if config.input_noise > 0:
            # Gaussian input noise, in units of each voxel's training std: Tikhonov (ridge-like)
            # regularisation of the input layer (Bishop, 1995). Projected inputs are in those
            # units already, and white noise stays white under the orthonormal PCA projection.
            scale = 1.0 if d.transformed else adapter[0].scale
            noise = torch.randn(x.shape, generator=generator, device=device)
            x = x + config.input_noise * scale * noise
        if mixing:
            mixed = mix_voxels(x, rng, beta=config.mixco_beta, prob=config.mixco_prob)
            x, perm, lam = mixed.voxels, mixed.perm + offset, mixed.lam
        else:
            perm = torch.arange(b, device=device) + offset
            lam = torch.ones(b, device=device)
        # Mixing and input noise commute with the affine input map, so with transformed inputs
        # they happen in its output space and only the trainable layers run per step.
        latents.append(adapter[1:](x) if d.transformed else adapter(x))
        images.append(torch.as_tensor(d.image[idx], dtype=torch.float32, device=device))
        if use_text and d.text is not None:
            texts.append(torch.as_tensor(d.text[idx], dtype=torch.float32, device=device))
        perms.append(perm)
        lams.append(lam)
        offset += b
    emb, proj, text_proj = net(torch.cat(latents))
    image = torch.cat(images)
    perm, lam = torch.cat(perms), torch.cat(lams)

    def contrastive(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pred, target = F.normalize(pred, dim=-1), F.normalize(target, dim=-1)
        if mixing:
            return mixco_nce_loss(pred, target, perm, lam, config.mixco_temperature)
        return soft_clip_loss(pred, target, config.softclip_temperature)

    loss = contrastive(proj, image)
    if config.mse_weight > 0:
        target = lam[:, None] * image + (1 - lam[:, None]) * image[perm]
        loss = loss + config.mse_weight * F.mse_loss(emb, target)
    if use_text and config.text_weight > 0:
        loss = loss + config.text_weight * contrastive(text_proj, torch.cat(texts))
    return loss


def _adamw(groups: list[dict[str, Any]], lr: float, device: torch.device) -> Any:
    """AdamW with the fused update (one kernel over all parameters) where torch has one.

    The default per-tensor update cost a quarter of the training time on 2 CPU cores (15 s of
    58 s for the demo world); the fused update is also PyTorch's fastest on CUDA.
    """
    import torch

    if device.type in ("cpu", "cuda"):
        return torch.optim.AdamW(groups, lr=lr, fused=True)
    return torch.optim.AdamW(groups, lr=lr, foreach=True)


def _param_groups(
    net: Any, params: list[torch.nn.Parameter], weight_decay: float
) -> list[dict[str, Any]]:
    """Decay weight matrices only; biases and LayerNorm parameters (1-D) are not decayed."""
    wanted = {id(p) for p in params}
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for p in net.parameters():
        if id(p) in wanted and p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
