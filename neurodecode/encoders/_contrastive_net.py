"""Network and configuration of the contrastive (MindEye-style) encoders.

The network is ``adapter[subject] -> residual MLP backbone -> linear head`` (CLIP space), plus a
projector head whose output is what the contrastive loss and retrieval compare with CLIP
embeddings, and an optional second projector for CLIP *text* embeddings. One adapter per
subject (standardisation, optionally a PCA projection, then a linear layer into the shared
latent) makes the same network serve single-subject and MindEye2-style multi-subject training.

All randomness inside the network (initialisation, dropout) comes from explicit
``torch.Generator`` objects, never from the global generator.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = [
    "ContrastiveConfig",
    "build_network",
    "estimate_training_memory",
    "get_preset",
    "list_presets",
]


@dataclasses.dataclass(frozen=True)
class ContrastiveConfig:
    """Architecture and training hyper-parameters of a contrastive encoder.

    Parameters
    ----------
    hidden_dim : int
        Width of the shared latent and of the residual blocks.
    n_blocks : int
        Residual blocks (Linear -> LayerNorm -> GELU -> Dropout, plus the skip).
    projector_dim : int
        Width of the hidden layers of the retrieval (and text) projector.
    input_dropout, dropout : float
        Dropout after the subject adapter and inside each block.
    epochs, batch_size : int
        Training length; ``batch_size`` is split evenly across subjects.
    max_lr, weight_decay, warmup_fraction : float
        AdamW with a one-cycle schedule peaking at ``max_lr`` after ``warmup_fraction`` of the
        steps. Biases and LayerNorm weights are not decayed.
    mixco_fraction : float
        Fraction of the epochs trained with BiMixCo; SoftCLIP for the rest.
    mixco_beta, mixco_prob : float
        Beta(beta, beta) mixing weights; probability that a sample is mixed.
    mixco_temperature, softclip_temperature : float
        Temperatures of the two losses.
    mse_weight : float
        Weight of the mean squared error between the head output and the CLIP embedding (keeps
        :meth:`predict` in CLIP's own coordinates, usable by embedding-conditioned decoders).
    text_weight : float
        Weight of the text-head loss when text embeddings are given to ``fit``.
    input_noise : float
        Standard deviation of Gaussian noise added to the training voxels, in units of each
        voxel's training standard deviation (0 = none). Training with input noise is equivalent
        to a ridge penalty on the input layer; it helps when trials are few and noisy.
    stimulus_samples : bool
        Train on stimuli rather than trials when ``fit`` is given the stimulus of each trial
        (``groups``): a sample's voxels average a random non-empty subset of its stimulus's
        repeats, and an epoch is one pass over the stimuli.
    pca_components : int
        0: the first trainable layer reads the standardised voxels. Otherwise each subject's
        standardised voxels are projected onto their ``pca_components`` leading principal axes
        (randomized PCA of the training samples, fitted once before training and kept in the
        adapter, so the fitted encoder still takes raw voxels); training then runs on the
        projected samples.
    pca_iterations : int
        Power iterations of the randomized PCA (each costs two passes over the training data).
    """

    hidden_dim: int = 512
    n_blocks: int = 2
    projector_dim: int = 512
    input_dropout: float = 0.5
    dropout: float = 0.15
    epochs: int = 60
    batch_size: int = 128
    max_lr: float = 1e-3
    weight_decay: float = 1e-2
    warmup_fraction: float = 0.1
    mixco_fraction: float = 1 / 3
    mixco_beta: float = 0.15
    mixco_prob: float = 0.5
    mixco_temperature: float = 0.05
    softclip_temperature: float = 0.05
    mse_weight: float = 1.0
    text_weight: float = 0.5
    input_noise: float = 0.0
    stimulus_samples: bool = False
    pca_components: int = 0
    pca_iterations: int = 2

    def __post_init__(self) -> None:
        for name in ("hidden_dim", "projector_dim", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise ValueError("batch_size must be >= 2 (contrastive losses need negatives)")
        if self.input_noise < 0:
            raise ValueError(f"input_noise must be >= 0, got {self.input_noise}")
        for name in ("pca_components", "pca_iterations"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, got {self.n_blocks}")
        for name in ("input_dropout", "dropout", "mixco_fraction", "mixco_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0.0 < self.warmup_fraction < 1.0:
            raise ValueError(f"warmup_fraction must be in (0, 1), got {self.warmup_fraction}")
        for name in ("max_lr", "mixco_beta", "mixco_temperature", "softclip_temperature"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")

    def replace(self, **changes: Any) -> ContrastiveConfig:
        """Copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ContrastiveConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown ContrastiveConfig fields: {sorted(unknown)}")
        return cls(**data)


# Presets. "synthetic-cpu" is sized for the synthetic demo world on a laptop CPU; its input noise
# (0.5) raised 300-way top-1 on two noisy, low-data toy problems (3,000 single trials; from
# 22.7/23.0% to 23.0/27.0% and from 27.7/26.7% to 31.3/32.7%, image/brain direction). Its 30
# epochs: on the demo world (1000 training images, 300-way) 10 epochs gave 40.0/45.7% and 30 gave
# 43.3/46.3%, within a few points of the 60 used before at half the cost. Its temperatures (0.01
# for both losses, was 0.05): the toy CLIP's test images have a near-duplicate (mean cosine to
# the nearest other test image 0.92), so at 0.05 SoftCLIP's soft targets put ~0.2 of a row's
# weight on that neighbour and the network never learns to tell them apart. On the demo world
# of seed 1 (subj01), 300-way top-1 image/brain: 0.05 -> 47.0/49.0%, 0.02 -> 51.3/55.7%,
# 0.01 -> 54.7/58.7%, 0.005 -> 53.0/60.3%; at 0.01, 20 epochs fell to 48.7/55.7%. Lower input
# dropout (0.2: 47.7/48.0%), a 2-model ensemble of 15 epochs each (46.3/49.7%) and an exact
# 512-component PCA of the repeat-averaged training voxels (49.0/47.7%) did not help at 0.05.
# With 0.01 on the demo worlds of seeds 0-3 (subj01, subj02; random_state 0): 56.0/57.3,
# 55.3/60.3; 54.7/58.7, 52.0/57.7; 56.7/59.7, 53.7/58.7; 59.3/60.3, 59.0/59.7% (was 51.3/50.0,
# -; 47.0/49.0, 45.7/49.0 at 0.05), at the same cost (75-94 CPU s per fit, 1 thread). Sharp
# logits need steps: on the stage test's tiny world (800 trials, 6 steps per epoch, 100-way)
# 15 epochs gave 66/79% at 0.05 but 5/38% at 0.01 (27/75% at 30 epochs).
# Its PCA input (512 components, randomized, 2 power iterations) cuts the first layer from
# 4,802 x 512 to 512 x 512 weights: on the demo world of seed 0 (subj01, 1 torch thread,
# machine shared with other jobs) the fit took 50.5 CPU s (input map 35.5 s wall, training
# 92.2 s wall at load ~6) for 53.0/60.0%; 300-way top-1 of every demo-preset world of seeds
# 0-3 and both subjects is in benchmarks/results/contrastive.json.
# The MindEye presets use MindEye1's widths (4096-wide latent, 4 residual blocks, 2048-wide
# projector) and MindEye1's temperatures; their memory, for the NSD input sizes, is in
# :func:`get_preset`'s docstring.
_PRESETS: dict[str, ContrastiveConfig] = {
    "synthetic-cpu": ContrastiveConfig(
        input_noise=0.5,
        epochs=30,
        mixco_temperature=0.01,
        softclip_temperature=0.01,
        pca_components=512,
    ),
    "mindeye-nsdgeneral": ContrastiveConfig(
        hidden_dim=4096,
        n_blocks=4,
        projector_dim=2048,
        epochs=240,
        batch_size=128,
        max_lr=3e-4,
        warmup_fraction=2 / 240,
        mixco_temperature=0.006,
        softclip_temperature=0.005,
    ),
    "mindeye-wholebrain": ContrastiveConfig(
        hidden_dim=1024,
        n_blocks=4,
        projector_dim=2048,
        epochs=240,
        batch_size=128,
        max_lr=3e-4,
        warmup_fraction=2 / 240,
        mixco_temperature=0.006,
        softclip_temperature=0.005,
    ),
}


def list_presets() -> list[str]:
    """Names accepted by :func:`get_preset` (and as ``config=`` of the encoders)."""
    return sorted(_PRESETS)


def get_preset(name: str) -> ContrastiveConfig:
    """The :class:`ContrastiveConfig` of a named preset.

    Presets
    -------
    synthetic-cpu
        512-wide, 2 blocks, input noise 0.5, 30 epochs, temperatures 0.01, a randomized PCA
        input of 512 components; sized for the synthetic world on 2 CPU cores.
    mindeye-nsdgeneral
        MindEye1 widths for nsdgeneral input (about 15.7k voxels) to a 768-d CLIP ViT-L/14
        embedding. Computed with :func:`estimate_training_memory` (not measured) for 15,724
        voxels, 768-d targets, batch 128, fp32, AdamW: 142.1 M parameters, 2.12 GiB for
        parameters + gradients + AdamW state, 0.06 GiB of activations: fits one 8 GB GPU.
    mindeye-wholebrain
        1024-wide latent so that a whole-brain input layer stays small: for 200,000 voxels,
        768-d targets, batch 128: 217.2 M parameters, 3.24 GiB for parameters + gradients +
        AdamW state, 0.21 GiB of activations (computed, not measured).
    """
    try:
        return _PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose from {list_presets()}") from None


def build_network(
    config: ContrastiveConfig,
    n_voxels: Mapping[str, int],
    clip_dim: int,
    text_dim: int | None = None,
) -> Any:
    """Build the (uninitialised) network; see :func:`init_parameters`.

    Returns a ``torch.nn.Module`` with ``adapters`` (ModuleDict), ``blocks``, ``head``,
    ``projector``, ``text_projector`` (or None), ``add_subject(subject, n_voxels)`` and
    ``forward(latent) -> (clip_embedding, retrieval_projection, text_projection or None)``.
    """
    import torch
    from torch import nn

    class SeededDropout(nn.Module):
        """Dropout drawing its mask from ``self.generator`` (set by the trainer)."""

        def __init__(self, p: float) -> None:
            super().__init__()
            self.p = p
            self.generator: torch.Generator | None = None

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not self.training or self.p == 0.0:
                return x
            keep = torch.rand(x.shape, generator=self.generator, device=x.device) >= self.p
            return x * keep.to(x.dtype) / (1.0 - self.p)

    class Standardize(nn.Module):
        """Fixed input map: standardisation, then (with ``n_components``) the PCA projection."""

        mean: torch.Tensor
        scale: torch.Tensor
        components: torch.Tensor | None

        def __init__(self, n: int, n_components: int = 0) -> None:
            super().__init__()
            self.register_buffer("mean", torch.zeros(n))
            self.register_buffer("scale", torch.ones(n))
            # A None buffer is left out of the state dict: models without PCA keep their keys.
            # With no more voxels than components, PCA would only rotate (and zero-pad) the
            # input: the voxels are used as they are.
            n_components = n_components if n_components < n else 0
            pca = torch.zeros(n, n_components) if n_components else None
            self.register_buffer("components", pca)
            self.out_features = n_components or n

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            z = (x - self.mean) / self.scale
            return z if self.components is None else z @ self.components

    def adapter(n: int) -> nn.Module:
        std = Standardize(n, config.pca_components)
        return nn.Sequential(
            std,
            nn.Linear(std.out_features, config.hidden_dim),
            nn.LayerNorm(config.hidden_dim),
            nn.GELU(),
            SeededDropout(config.input_dropout),
        )

    def block() -> nn.Module:
        h = config.hidden_dim
        return nn.Sequential(
            nn.Linear(h, h), nn.LayerNorm(h), nn.GELU(), SeededDropout(config.dropout)
        )

    def projector(out_dim: int) -> nn.Module:
        p = config.projector_dim
        return nn.Sequential(
            nn.LayerNorm(clip_dim),
            nn.GELU(),
            nn.Linear(clip_dim, p),
            nn.LayerNorm(p),
            nn.GELU(),
            nn.Linear(p, p),
            nn.LayerNorm(p),
            nn.GELU(),
            nn.Linear(p, out_dim),
        )

    class ContrastiveNetwork(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.adapters = nn.ModuleDict({s: adapter(n) for s, n in n_voxels.items()})
            self.blocks = nn.ModuleList([block() for _ in range(config.n_blocks)])
            self.head = nn.Linear(config.hidden_dim, clip_dim)
            self.projector = projector(clip_dim)
            self.text_projector = projector(text_dim) if text_dim else None

        def add_subject(self, subject: str, n: int) -> nn.Module:
            _check_subject(subject)
            self.adapters[subject] = adapter(n)
            return self.adapters[subject]

        def forward(
            self, latent: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
            """Shared part: latent -> (CLIP-space embedding, retrieval, text projections)."""
            h = latent
            for blk in self.blocks:
                h = h + blk(h)
            emb = self.head(h)
            text = self.text_projector(emb) if self.text_projector is not None else None
            return emb, self.projector(emb), text

    for subject in n_voxels:
        _check_subject(subject)
    return ContrastiveNetwork()


def init_parameters(module: torch.nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default Linear initialisation (U(+-1/sqrt(fan_in))) drawn from ``generator``.

    Parameters are drawn on the CPU and copied, so CPU and GPU runs start from the same weights.
    """
    import torch
    from torch import nn

    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.in_features)
                for p in (m.weight, m.bias):
                    if p is not None:
                        values = torch.empty(p.shape).uniform_(-bound, bound, generator=generator)
                        p.copy_(values)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


def set_dropout_generator(module: torch.nn.Module, generator: torch.Generator | None) -> None:
    """Point every seeded dropout layer of ``module`` at ``generator``."""
    for m in module.modules():
        if hasattr(m, "generator") and hasattr(m, "p"):
            m.generator = generator


def estimate_training_memory(
    config: ContrastiveConfig,
    n_voxels: int,
    clip_dim: int,
    text_dim: int | None = None,
    batch_size: int | None = None,
    bytes_per_value: int = 4,
) -> dict[str, float]:
    """Analytic (computed, not measured) training memory of one subject's network.

    The network is built on PyTorch's ``meta`` device, so nothing is allocated. Parameters count
    four times (weights, gradients, AdamW's two moments). Activations are the outputs of every
    leaf layer for one training batch, i.e. what autograd keeps for the backward pass; allocator
    overhead, the CUDA context (~0.5 GiB) and cuBLAS workspaces are not included.

    Returns
    -------
    dict
        ``n_parameters``, ``parameter_state_gib`` (weights + gradients + AdamW state),
        ``activation_gib``, ``total_gib``.
    """
    import torch

    batch = int(batch_size or config.batch_size)
    with torch.device("meta"):
        net = build_network(config, {"s": n_voxels}, clip_dim, text_dim)
        n_params = sum(p.numel() for p in net.parameters())
        outputs: list[int] = []

        def hook(_m: Any, _inp: Any, out: Any) -> None:
            if isinstance(out, torch.Tensor):
                outputs.append(out.numel())

        leaves = [m for m in net.modules() if not list(m.children())]
        handles = [m.register_forward_hook(hook) for m in leaves]
        net.train()
        x = torch.empty(batch, n_voxels)
        net(net.adapters["s"](x))
        for h in handles:
            h.remove()
    gib = 1024.0**3
    state = 4 * n_params * bytes_per_value / gib
    acts = (sum(outputs) + batch * n_voxels) * bytes_per_value / gib
    return {
        "n_parameters": float(n_params),
        "parameter_state_gib": state,
        "activation_gib": acts,
        "total_gib": state + acts,
    }


def _check_subject(subject: str) -> None:
    if not subject or "." in subject:
        raise ValueError(f"subject labels must be non-empty and contain no '.', got {subject!r}")
