"""Tests of the BiMixCo / SoftCLIP losses against direct computations."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from neurodecode.encoders._contrastive_losses import (  # noqa: E402
    mix_voxels,
    mixco_nce_loss,
    soft_clip_loss,
)


def _unit(x):
    return F.normalize(x, dim=-1)


def _pair(n=8, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return _unit(torch.randn(n, d, generator=g)), _unit(torch.randn(n, d, generator=g))


def test_mixco_without_mixing_is_symmetric_infonce():
    preds, targets = _pair()
    n = preds.shape[0]
    temp = 0.1
    loss = mixco_nce_loss(preds, targets, torch.arange(n), torch.ones(n), temp)
    logits = preds @ targets.T / temp
    labels = torch.arange(n)
    ref = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    torch.testing.assert_close(loss, ref)


def test_mixco_targets_follow_mixing_weights():
    preds, targets = _pair(n=4)
    perm = torch.tensor([1, 0, 3, 2])
    lam = torch.tensor([0.7, 1.0, 0.2, 0.5])
    temp = 0.2
    loss = mixco_nce_loss(preds, targets, perm, lam, temp)
    w = np.zeros((4, 4))
    for i in range(4):
        w[i, i] += lam[i].item()
        w[i, perm[i].item()] += 1 - lam[i].item()
    logits = (preds @ targets.T / temp).double().numpy()

    def log_softmax(a):
        a = a - a.max(axis=1, keepdims=True)
        return a - np.log(np.exp(a).sum(axis=1, keepdims=True))

    b2i = -(log_softmax(logits) * w).sum(1).mean()
    wt = w.T / w.T.sum(1, keepdims=True)  # image -> brain targets, renormalised per image
    i2b = -(log_softmax(logits.T) * wt).sum(1).mean()
    assert loss.item() == pytest.approx((b2i + i2b) / 2, rel=1e-5)


def test_soft_clip_with_orthogonal_targets_reduces_to_infonce():
    n = 6
    targets = torch.eye(n, 8)  # mutually orthogonal: soft targets are one-hot at low temperature
    preds = _unit(targets + 0.3 * torch.randn(n, 8, generator=torch.Generator().manual_seed(1)))
    temp = 0.01
    loss = soft_clip_loss(preds, targets, temp)
    ref = mixco_nce_loss(preds, targets, torch.arange(n), torch.ones(n), temp)
    torch.testing.assert_close(loss, ref, rtol=1e-4, atol=1e-4)


def test_soft_clip_soft_targets_spread_over_near_duplicates():
    # Two identical images: the best achievable loss splits mass between them, so predicting
    # either one is equally good (a hard InfoNCE would punish one of them).
    targets = _unit(torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    swapped = targets[[1, 0, 2]]
    assert soft_clip_loss(swapped, targets, 0.1).item() == pytest.approx(
        soft_clip_loss(targets, targets, 0.1).item()
    )


def test_losses_prefer_aligned_predictions_and_have_gradients():
    preds, targets = _pair(n=16, d=12, seed=3)
    n = preds.shape[0]
    for loss_fn in (
        lambda p: soft_clip_loss(p, targets, 0.05),
        lambda p: mixco_nce_loss(p, targets, torch.arange(n), torch.ones(n), 0.05),
    ):
        assert loss_fn(targets).item() < loss_fn(preds).item()
        p = preds.clone().requires_grad_(True)
        loss_fn(p).backward()
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_mix_voxels_is_seeded_and_mixes_as_documented():
    x = torch.randn(32, 10, generator=torch.Generator().manual_seed(0))
    a = mix_voxels(x, np.random.default_rng(5), beta=0.15, prob=0.5)
    b = mix_voxels(x, np.random.default_rng(5), beta=0.15, prob=0.5)
    torch.testing.assert_close(a.voxels, b.voxels)
    assert sorted(a.perm.tolist()) == list(range(32))
    expected = a.lam[:, None] * x + (1 - a.lam[:, None]) * x[a.perm]
    torch.testing.assert_close(a.voxels, expected)
    unmixed = a.lam == 1.0
    assert 0 < unmixed.sum() < 32  # about half the rows are left alone at prob=0.5
    torch.testing.assert_close(a.voxels[unmixed], x[unmixed])
    none = mix_voxels(x, np.random.default_rng(5), prob=0.0)
    torch.testing.assert_close(none.voxels, x)
