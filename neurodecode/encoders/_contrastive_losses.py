"""Contrastive losses of MindEye: BiMixCo (voxel mixup + bidirectional InfoNCE) and SoftCLIP.

All functions take L2-normalised embeddings: ``preds`` (brain side) and ``targets`` (CLIP side),
both of shape ``(batch, dim)``; row ``i`` of each describes trial ``i``.

Differences from the MindEye code, on purpose:

* The randomness of :func:`mix_voxels` comes from an explicit ``numpy.random.Generator`` (no
  global seeding), so training is reproducible from ``random_state`` alone.
* In the target-to-brain direction of :func:`mixco_nce_loss`, the soft targets are renormalised
  to sum to one per row. MindEye uses the transposed mixing matrix as is, whose rows sum to
  anything in (0, 2); that silently re-weights images by how often they were mixed in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["MixedVoxels", "mix_voxels", "mixco_nce_loss", "soft_clip_loss"]


class MixedVoxels(NamedTuple):
    """Result of :func:`mix_voxels`.

    Attributes
    ----------
    voxels : torch.Tensor of shape (batch, n_voxels)
        ``lam * x + (1 - lam) * x[perm]`` row by row.
    perm : torch.Tensor of int64, shape (batch,)
        Partner of each row.
    lam : torch.Tensor of shape (batch,)
        Weight of each row's own trial (1 for rows left unmixed).
    """

    voxels: torch.Tensor
    perm: torch.Tensor
    lam: torch.Tensor


def mix_voxels(
    voxels: torch.Tensor, rng: np.random.Generator, beta: float = 0.15, prob: float = 0.5
) -> MixedVoxels:
    """Mix each voxel vector with a random partner (mixup in voxel space).

    Parameters
    ----------
    voxels : torch.Tensor of shape (batch, n_voxels)
    rng : numpy.random.Generator
        Source of the permutation, the mixing weights and the choice of mixed rows.
    beta : float, default=0.15
        Mixing weights are drawn from Beta(beta, beta); a small value keeps most weights near 0
        or 1.
    prob : float, default=0.5
        Probability that a row is mixed at all; the other rows keep weight 1.

    Returns
    -------
    MixedVoxels
    """
    import torch

    n = voxels.shape[0]
    perm = rng.permutation(n)
    lam = rng.beta(beta, beta, size=n)
    lam[rng.random(n) > prob] = 1.0
    perm_t = torch.as_tensor(perm, device=voxels.device)
    lam_t = torch.as_tensor(lam, dtype=voxels.dtype, device=voxels.device)
    mixed = lam_t[:, None] * voxels + (1 - lam_t[:, None]) * voxels[perm_t]
    return MixedVoxels(mixed, perm_t, lam_t)


def mixco_nce_loss(
    preds: torch.Tensor,
    targets: torch.Tensor,
    perm: torch.Tensor,
    lam: torch.Tensor,
    temperature: float = 0.006,
) -> torch.Tensor:
    """Bidirectional InfoNCE with mixup-aware soft targets (BiMixCo).

    Row ``i`` of ``preds`` was computed from the mixture ``lam[i] * x[i] + (1 - lam[i]) *
    x[perm[i]]``, so its target distribution over the batch's images puts ``lam[i]`` on image
    ``i`` and ``1 - lam[i]`` on image ``perm[i]``. The image-to-brain direction uses the
    transposed weights, renormalised per image.

    Parameters
    ----------
    preds, targets : torch.Tensor of shape (batch, dim)
        L2-normalised brain and image embeddings.
    perm, lam : torch.Tensor of shape (batch,)
        From :func:`mix_voxels`.
    temperature : float, default=0.006
        Softmax temperature of the similarity logits.

    Returns
    -------
    torch.Tensor
        Scalar loss, the mean of both directions.
    """
    import torch
    import torch.nn.functional as F

    n = preds.shape[0]
    rows = torch.arange(n, device=preds.device)
    weights = torch.zeros(n, n, dtype=preds.dtype, device=preds.device)
    weights[rows, rows] += lam
    weights[rows, perm] += 1 - lam  # accumulates onto the diagonal where perm[i] == i
    logits = preds @ targets.T / temperature
    brain_to_image = -(F.log_softmax(logits, dim=1) * weights).sum(dim=1).mean()
    weights_t = weights.T / weights.T.sum(dim=1, keepdim=True)
    image_to_brain = -(F.log_softmax(logits.T, dim=1) * weights_t).sum(dim=1).mean()
    return (brain_to_image + image_to_brain) / 2


def soft_clip_loss(
    preds: torch.Tensor, targets: torch.Tensor, temperature: float = 0.005
) -> torch.Tensor:
    """SoftCLIP: cross-entropy to the softmax of the targets' own similarity structure.

    Instead of one-hot labels, each brain embedding is asked to reproduce the distribution of
    image-image similarities of its target, so near-duplicate images are not pushed apart.

    Parameters
    ----------
    preds, targets : torch.Tensor of shape (batch, dim)
        L2-normalised brain and image embeddings.
    temperature : float, default=0.005
        Temperature of both the brain-image logits and the image-image soft targets.

    Returns
    -------
    torch.Tensor
        Scalar loss, the mean of both directions.
    """
    import torch.nn.functional as F

    soft = F.softmax(targets @ targets.T / temperature, dim=1)
    logits = preds @ targets.T / temperature
    brain_to_image = -(F.log_softmax(logits, dim=1) * soft).sum(dim=1).mean()
    image_to_brain = -(F.log_softmax(logits.T, dim=1) * soft).sum(dim=1).mean()
    return (brain_to_image + image_to_brain) / 2
