"""BrainSCUBA's projection: each voxel's selectivity direction pulled onto natural images.

A linear encoder from unit-normalised CLIP image embeddings to voxels gives every voxel a
weight vector in CLIP space: the direction of embedding that drives it most. That direction
is not itself the embedding of any image, so a captioner trained on image embeddings reads it
poorly. BrainSCUBA (Luo et al., 2024) replaces it by a softmax-weighted mean of a bank of
natural-image embeddings, weighted by their cosine with the direction at temperature ``T``:

    w_i = softmax_i(T cos(d, b_i)),    projection = Σ_i w_i b_i / ||Σ_i w_i b_i||.

:func:`project_onto_bank` streams the bank chunk by chunk with an online log-sum-exp (running
maximum, normaliser and weighted sum per voxel), batched over voxels as matrix products, so a
bank of any size costs the memory of one chunk. Several temperatures share one pass: the
cosines are computed once and only the exponentials and the weighted sums are repeated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["BankProjection", "project_onto_bank", "voxel_directions"]

#: The published temperature of the softmax over the bank.
DEFAULT_TEMPERATURE = 150.0


def voxel_directions(coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit selectivity directions of a linear encoder's voxels.

    Parameters
    ----------
    coef : ndarray of shape (n_features, n_voxels)
        The encoder's weights (``RidgeEncoder.coef_``), from embedding to voxel.

    Returns
    -------
    directions : ndarray of shape (n_voxels, n_features), float32
        Each voxel's weight vector divided by its norm (zero where the norm is zero).
    norms : ndarray of shape (n_voxels,)
        The weight norms; a zero norm marks a voxel the encoder gave no direction.
    """
    coef = np.asarray(coef, dtype=np.float64)
    if coef.ndim != 2:
        raise ValueError(f"coef must be (n_features, n_voxels); got shape {coef.shape}")
    if not np.all(np.isfinite(coef)):
        raise ValueError("the encoder's weights contain NaN or inf")
    norms = np.linalg.norm(coef, axis=0)
    safe = np.where(norms > 0, norms, 1.0)
    return (coef / safe).T.astype(np.float32), norms


@dataclasses.dataclass(frozen=True)
class BankProjection:
    """The projection of every voxel direction onto the bank, at one or more temperatures.

    Attributes
    ----------
    temperatures : tuple of float
    embeddings : dict of float to ndarray of shape (n_voxels, dim)
        The unit-length softmax-weighted mean of the bank, per temperature.
    effective_size : dict of float to ndarray of shape (n_voxels,)
        ``(Σ w)² / Σ w²``: how many bank images each mean effectively averages.
    top_index : ndarray of shape (n_voxels,), int64
        Row of the bank (over all chunks, in order) closest to each direction.
    top_cosine : ndarray of shape (n_voxels,)
        That image's cosine with the direction.
    n_bank : int
        Bank embeddings read.
    """

    temperatures: tuple[float, ...]
    embeddings: dict[float, np.ndarray]
    effective_size: dict[float, np.ndarray]
    top_index: np.ndarray
    top_cosine: np.ndarray
    n_bank: int


class _Accumulator:
    """Online softmax-weighted sums of one voxel batch at several temperatures (torch).

    The first temperature is folded into the directions (``T d``), so the matrix product
    gives its logits; the others rescale the shifted logits. The closest bank row is found
    only for the voxels whose maximum a block raises.
    """

    def __init__(self, torch: Any, n: int, dim: int, temperatures: Sequence[float],
                 device: Any) -> None:  # fmt: skip
        f64 = {"dtype": torch.float64, "device": device}
        self.torch = torch
        self.temperatures = tuple(float(t) for t in temperatures)
        self.max_logit = torch.full((n,), -torch.inf, device=device)  # at temperatures[0]
        self.top = torch.zeros(n, dtype=torch.int64, device=device)
        self.norm = {t: torch.zeros(n, **f64) for t in self.temperatures}
        self.norm2 = {t: torch.zeros(n, **f64) for t in self.temperatures}
        self.sum = {t: torch.zeros(n, dim, **f64) for t in self.temperatures}

    def update(self, logits: Any, block: Any, offset: int, spare: Any) -> None:
        """Add one block: ``logits`` ``(n, m)`` at ``temperatures[0]`` (overwritten), the
        block's unit rows ``(m, dim)``, its first row's index, and a spare ``(n, m)`` buffer
        (used with several temperatures)."""
        torch = self.torch
        block_max = logits.amax(dim=1)
        raised = torch.nonzero(block_max > self.max_logit).squeeze(1)
        if raised.numel():
            self.top[raised] = logits.index_select(0, raised).argmax(dim=1) + offset
        new_max = torch.maximum(self.max_logit, block_max)
        shift = (self.max_logit - new_max).double()  # -inf on the first block
        logits.sub_(new_max[:, None])  # <= 0
        t0 = self.temperatures[0]
        for t in self.temperatures[::-1]:  # the first last: it exponentiates in place
            w = logits.exp_() if t == t0 else torch.mul(logits, t / t0, out=spare).exp_()
            rescale = torch.exp(shift * (t / t0))
            # float32 row sums (exact enough for <= one block of weights in [0, 1]): a
            # float64 accumulation is ~200x slower on CPU and dominated the whole pass.
            self.norm[t] = self.norm[t] * rescale + w.sum(dim=1).double()
            sq = torch.linalg.vector_norm(w, dim=1).double() ** 2
            self.norm2[t] = self.norm2[t] * rescale**2 + sq
            self.sum[t] = self.sum[t] * rescale[:, None] + (w @ block).double()
        self.max_logit = new_max

    def result(self) -> tuple[dict[float, Any], dict[float, Any], Any]:
        means, ess = {}, {}
        for t in self.temperatures:
            mean = self.sum[t] / self.norm[t][:, None]
            length = self.torch.linalg.vector_norm(mean, dim=1, keepdim=True)
            means[t] = (mean / length.clamp_min(1e-12)).float()
            ess[t] = self.norm[t] ** 2 / self.norm2[t]
        return means, ess, self.max_logit.double() / self.temperatures[0]


def project_onto_bank(
    directions: np.ndarray,
    bank: Iterable[np.ndarray] | Callable[[], Iterable[np.ndarray]],
    *,
    temperatures: Sequence[float] = (DEFAULT_TEMPERATURE,),
    voxel_batch: int = 1024,
    bank_block: int = 4096,
    device: str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> BankProjection:
    """Softmax-weighted means of a bank of embeddings, one per voxel direction, in one pass.

    Parameters
    ----------
    directions : ndarray of shape (n_voxels, dim)
        Unit selectivity directions (:func:`voxel_directions`).
    bank : iterable of ndarray of shape (m, dim), or a callable returning one
        The bank's embeddings chunk by chunk; each chunk's rows are L2-normalised here (so
        the weights are cosines, whatever the extractor's normalisation). Only one chunk is
        held at a time.
    temperatures : sequence of float, default (150,)
        Softmax temperatures (each gives its own projection from the same pass).
    voxel_batch, bank_block : int, default 1024 and 4096
        The products are computed in blocks of ``voxel_batch`` voxels x ``bank_block`` bank
        rows, held in one preallocated buffer (two with several temperatures) small enough
        for the elementwise passes to stay in cache: the extra memory is that buffer plus
        one chunk of the bank.
    device : str, default "cpu"
        Torch device of the matrix products.
    progress : callable, optional
        Called with the number of bank rows read after each chunk.

    Returns
    -------
    BankProjection
    """
    import torch

    temps = tuple(float(t) for t in temperatures)
    if not temps or any(not np.isfinite(t) or t <= 0 for t in temps):
        raise ValueError(f"temperatures must be positive and finite; got {temperatures}")
    if len(set(temps)) != len(temps):
        raise ValueError(f"temperatures must be distinct; got {temperatures}")
    if voxel_batch < 1 or bank_block < 1:
        raise ValueError(f"voxel_batch and bank_block must be >= 1; got {voxel_batch}, "
                         f"{bank_block}")  # fmt: skip
    D = np.asarray(directions, dtype=np.float32)
    if D.ndim != 2 or not np.all(np.isfinite(D)):
        raise ValueError(f"directions must be a finite (n_voxels, dim) array; got {D.shape}")
    n, dim = D.shape
    dev = torch.device(device)
    Dt = torch.from_numpy(D).to(dev) * temps[0]  # the matrix product gives the logits
    batches = [slice(a, min(a + voxel_batch, n)) for a in range(0, n, voxel_batch)]
    acc = [_Accumulator(torch, s.stop - s.start, dim, temps, dev) for s in batches]
    width = min(voxel_batch, max(n, 1))
    buf = torch.empty(width * bank_block, device=dev)
    spare = torch.empty(width * bank_block, device=dev) if len(temps) > 1 else buf
    chunk_buf: Any = None
    seen = 0
    chunks = bank() if callable(bank) else bank
    with torch.no_grad():
        for raw in chunks:
            chunk = np.asarray(raw, dtype=np.float32)
            if chunk.ndim != 2 or chunk.shape[1] != dim:
                raise ValueError(
                    f"bank chunk has shape {chunk.shape}; expected (m, {dim}), the encoder's "
                    "embedding width"
                )
            if not len(chunk):
                continue
            if not np.all(np.isfinite(chunk)):
                raise ValueError(f"bank rows {seen}..{seen + len(chunk) - 1} contain NaN or inf")
            # normalised into one reused buffer: a fresh chunk-sized tensor per chunk lets the
            # allocator's heap creep with the bank's length
            if chunk_buf is None or len(chunk_buf) < len(chunk):
                chunk_buf = torch.empty(len(chunk), dim, device=dev)
            C = chunk_buf[: len(chunk)]
            C.copy_(torch.from_numpy(chunk))
            lengths = torch.linalg.vector_norm(C, dim=1, keepdim=True)
            if bool((lengths == 0).any()):
                raise ValueError(f"bank rows {seen}..{seen + len(chunk) - 1} include a zero vector")
            C.div_(lengths)
            for b0 in range(0, len(C), bank_block):
                block = C[b0 : b0 + bank_block]
                m = len(block)
                for s, a in zip(batches, acc, strict=True):
                    k = s.stop - s.start
                    logits = torch.mm(Dt[s], block.T, out=buf[: k * m].view(k, m))
                    a.update(logits, block, seen + b0, spare[: k * m].view(k, m))
            seen += len(chunk)
            if progress is not None:
                progress(seen)
    if seen == 0:
        raise ValueError("the bank is empty")
    embeddings: dict[float, list[Any]] = {t: [] for t in temps}
    ess: dict[float, list[Any]] = {t: [] for t in temps}
    top_cos = []
    for a in acc:
        means, sizes, cos = a.result()
        top_cos.append(cos)
        for t in temps:
            embeddings[t].append(means[t])
            ess[t].append(sizes[t])
    return BankProjection(
        temperatures=temps,
        embeddings={t: torch.cat(embeddings[t]).cpu().numpy() for t in temps},
        effective_size={t: torch.cat(ess[t]).cpu().numpy() for t in temps},
        top_index=torch.cat([a.top for a in acc]).cpu().numpy(),
        top_cosine=torch.cat(top_cos).cpu().numpy(),
        n_bank=seen,
    )
