"""The codebook flow decoder (Yeung et al., "Neural Representations of Dynamic Visual Stimuli").

fMRI responses go through an MLP to an embedding; the embedding is broadcast over the flow grid
and concatenated with features of the clip's first frame (a small dilated convolutional
network at half the grid's resolution, learned with the rest); a convolutional head classifies
every grid patch of every kept frame (each half-grid cell emits the logits of its 2 x 2 patches)
over a k-means codebook of flow vectors (:class:`~neurodecode.features.FlowCodebook`),
trained with cross-entropy per patch. The continuous flow is the probability-weighted sum of the
codebook's centres. Training draws, per clip and epoch, the average of a random non-empty subset
of its repeated trials ("a window of trials"); prediction takes the responses as given (the
repeat average of each test clip).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

__all__ = ["CodebookFlowDecoder"]


def _build_network(n_voxels: int, frames: int, grid: int, k: int, params: dict[str, Any]):
    import torch
    from torch import nn

    c, e, h = params["channels"], params["embed_dim"], params["hidden"]

    class Network(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.brain = nn.Sequential(nn.Linear(n_voxels, h), nn.GELU(), nn.Linear(h, e))
            # first frame (+ x, y) at twice the grid -> features at half the grid
            self.image = nn.Sequential(
                nn.Conv2d(5, c, 3, stride=2, padding=1), nn.GELU(),
                nn.Conv2d(c, c, 3, stride=2, padding=1), nn.GELU(),
                nn.Conv2d(c, c, 3, padding=2, dilation=2), nn.GELU(),
                nn.Conv2d(c, c, 3, padding=4, dilation=4), nn.GELU(),
            )  # fmt: skip
            # fused features -> each half-grid cell emits the logits of its 2 x 2 patches
            self.head = nn.Sequential(
                nn.Conv2d(c + e, c, 1), nn.GELU(),
                nn.Conv2d(c, c, 3, padding=1), nn.GELU(),
                nn.Conv2d(c, 4 * frames * k, 1), nn.PixelShuffle(2),
            )  # fmt: skip
            self.dropout = params["dropout"]

        def forward(self, x: Any, images: Any, generator: Any = None) -> Any:
            if self.training and self.dropout > 0:
                keep = torch.rand(x.shape, generator=generator, device=x.device) >= self.dropout
                x = x * keep / (1.0 - self.dropout)
            emb = self.brain(x)
            n, _, size, _ = images.shape
            ys, xs = torch.meshgrid(torch.linspace(-1, 1, size, device=images.device),
                                    torch.linspace(-1, 1, size, device=images.device),
                                    indexing="ij")  # fmt: skip
            coords = torch.stack([xs, ys]).expand(n, 2, size, size)
            feats = self.image(torch.cat([images, coords], dim=1))  # (n, c, G/2, G/2)
            broadcast = emb[:, :, None, None].expand(-1, -1, *feats.shape[2:])
            logits = self.head(torch.cat([feats, broadcast], dim=1))  # (n, F*K, G, G)
            return logits.view(n, frames, k, grid, grid).transpose(1, 2)  # (n, K, F, G, G)

    return Network()


def _init(module: Any, generator: Any) -> None:
    """PyTorch's default initialisation (U(+-1/sqrt(fan_in))) drawn from ``generator``."""
    import torch
    from torch import nn

    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                fan_in = m.weight[0].numel()
                bound = 1.0 / math.sqrt(fan_in)
                for p in (m.weight, m.bias):
                    if p is not None:
                        p.copy_(torch.empty(p.shape).uniform_(-bound, bound, generator=generator))


class CodebookFlowDecoder(BaseEstimator):
    """fMRI + first frame -> per-patch codebook classification -> continuous flow.

    Parameters
    ----------
    n_clusters : int
        Codebook size (Yeung et al.: 40).
    embed_dim, hidden : int
        Width of the fMRI embedding and of the MLP's hidden layer.
    channels : int
        Width of the image network and the head.
    epochs, batch_size, lr, weight_decay : float
        AdamW training (cosine learning-rate decay over ``epochs``).
    dropout : float
        Dropout on the voxels during training.
    random_state : int
        Seeds the codebook, the initialisation, the draws of trials and dropout.
    device : str
        torch device.
    threads : int or None
        torch CPU threads while fitting (None: torch's default).

    Attributes
    ----------
    codebook_ : FlowCodebook
    flow_shape_ : tuple of int
        ``(frames, grid, grid, 2)`` of the targets.
    history_ : list of float
        Mean training cross-entropy of each epoch.
    """

    def __init__(
        self, n_clusters: int = 40, embed_dim: int = 64, hidden: int = 256, channels: int = 24,
        epochs: int = 40, batch_size: int = 16, lr: float = 2e-3, weight_decay: float = 1e-3,
        dropout: float = 0.2, random_state: int = 0, device: str = "cpu",
        threads: int | None = None,
    ) -> None:  # fmt: skip
        self.n_clusters = n_clusters
        self.embed_dim = embed_dim
        self.hidden = hidden
        self.channels = channels
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.random_state = random_state
        self.device = device
        self.threads = threads

    # ------------------------------------------------------------------ helpers
    def _seeds(self, n: int) -> list[int]:
        seq = np.random.SeedSequence(self.random_state)
        return [int(s.generate_state(1)[0]) for s in seq.spawn(n)]

    def _images(self, first_frames: np.ndarray) -> Any:
        import torch

        frames = np.asarray(first_frames)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"first frames must be (n, H, W, 3), got {frames.shape}")
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 127.5
        size = 2 * self.flow_shape_[1]
        if x.shape[-1] != size or x.shape[-2] != size:
            x = torch.nn.functional.interpolate(x, size=(size, size), mode="area")
        return x - 1.0

    def _network(self) -> Any:
        frames, grid = self.flow_shape_[0], self.flow_shape_[1]
        params = {k: getattr(self, k) for k in ("channels", "embed_dim", "hidden", "dropout")}
        return _build_network(self.n_features_in_, frames, grid, self.n_clusters, params)

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, flows: np.ndarray, first_frames: np.ndarray,
            groups: np.ndarray | None = None) -> CodebookFlowDecoder:  # fmt: skip
        """Fit on responses ``X (n, voxels)``, target flows ``(n, F, G, G, 2)`` and first frames
        ``(n, H, W, 3)`` of the same rows; rows sharing a ``groups`` value (stimulus id) are
        repeats of one clip (targets and frames are taken from its first row)."""
        import torch

        from neurodecode.features import FlowCodebook

        X = np.asarray(X, dtype=np.float32)
        flows = np.asarray(flows, dtype=np.float32)
        if flows.ndim != 5 or flows.shape[-1] != 2 or len(flows) != len(X):
            raise ValueError(f"flows must be (n={len(X)}, F, G, G, 2), got {flows.shape}")
        groups = np.arange(len(X)) if groups is None else np.asarray(groups)
        _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
        members = [np.flatnonzero(inverse == g) for g in range(len(first))]
        code_seed, init_seed, data_seed, drop_seed = self._seeds(4)
        self.codebook_ = FlowCodebook(self.n_clusters, random_state=code_seed).fit(flows[first])
        labels = torch.from_numpy(self.codebook_.predict(flows[first]))  # (n_clips, F, G, G)
        self.flow_shape_ = tuple(int(v) for v in flows.shape[1:])
        self.n_features_in_ = X.shape[1]
        self.x_mean_ = X.mean(axis=0)
        self.x_scale_ = X.std(axis=0) + 1e-6
        Xs = torch.from_numpy((X - self.x_mean_) / self.x_scale_)
        images = self._images(np.asarray(first_frames)[first])
        device = torch.device(self.device)
        old_threads = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            net = self._network()
            _init(net, torch.Generator().manual_seed(init_seed))
            net.to(device).train()
            self.history_ = self._train(net, Xs, images, labels, members, data_seed, drop_seed)
        finally:
            torch.set_num_threads(old_threads)
        self.net_ = net.cpu().eval()
        return self

    def _train(self, net, Xs, images, labels, members, data_seed, drop_seed) -> list[float]:
        import torch

        device = torch.device(self.device)
        rng = np.random.default_rng(data_seed)
        generator = torch.Generator(device=device).manual_seed(drop_seed)
        opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        n = len(members)
        steps = max(1, math.ceil(n / self.batch_size)) * self.epochs
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
        )
        history = []
        for _ in range(self.epochs):
            window = torch.stack([
                Xs[rng.choice(rows, size=rng.integers(1, rows.size + 1), replace=False)].mean(0)
                for rows in members
            ])  # fmt: skip
            order = rng.permutation(n)
            total = 0.0
            for start in range(0, n, self.batch_size):
                idx = torch.from_numpy(order[start : start + self.batch_size])
                logits = net(window[idx].to(device), images[idx].to(device), generator)
                loss = torch.nn.functional.cross_entropy(logits, labels[idx].to(device))
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item() * len(idx)
            history.append(total / n)
        return history

    # ------------------------------------------------------------------ prediction
    def predict_proba(self, X: Any, first_frames: np.ndarray) -> np.ndarray:
        """Codebook probabilities of every patch: ``(n, F, G, G, n_clusters)``."""
        import torch

        check_is_fitted(self, "net_")
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has shape {X.shape}; expected (n, {self.n_features_in_})")
        x = torch.from_numpy((X - self.x_mean_) / self.x_scale_)
        images = self._images(first_frames)
        out = []
        with torch.no_grad():
            for start in range(0, len(x), 64):
                logits = self.net_(x[start : start + 64], images[start : start + 64])
                out.append(torch.softmax(logits, dim=1).permute(0, 2, 3, 4, 1).numpy())
        k = self.n_clusters
        return np.concatenate(out) if out else np.empty((0, *self.flow_shape_[:3], k), np.float32)

    def predict(self, X: Any, first_frames: np.ndarray) -> np.ndarray:
        """Continuous flow ``(n, F, G, G, 2)``: probability-weighted sum of the centres."""
        return self.codebook_.expected_flow(self.predict_proba(X, first_frames))

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """``config.json`` (parameters, shapes, history) and ``model.safetensors``."""
        import torch

        from neurodecode.encoders._persist import write_model_folder

        check_is_fitted(self, "net_")
        meta = {
            "class": type(self).__name__, "params": self.get_params(deep=False),
            "flow_shape": list(self.flow_shape_), "n_features_in_": int(self.n_features_in_),
            "history": [float(v) for v in self.history_],
        }  # fmt: skip
        arrays = {f"net.{k}": v for k, v in self.net_.state_dict().items()}
        arrays["codebook.centres"] = torch.from_numpy(self.codebook_.cluster_centers_)
        arrays["x.mean"] = torch.from_numpy(np.asarray(self.x_mean_, dtype=np.float32))
        arrays["x.scale"] = torch.from_numpy(np.asarray(self.x_scale_, dtype=np.float32))
        return write_model_folder(path, meta, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CodebookFlowDecoder:
        """A decoder saved by :meth:`save`, ready to predict."""
        from neurodecode.encoders._persist import read_model_folder
        from neurodecode.features import FlowCodebook

        meta, arrays = read_model_folder(path, cls.__name__, torch=True)
        est = cls(**meta["params"])
        est.flow_shape_ = tuple(meta["flow_shape"])
        est.n_features_in_ = int(meta["n_features_in_"])
        est.history_ = list(meta["history"])
        est.codebook_ = FlowCodebook(est.n_clusters)
        est.codebook_.cluster_centers_ = arrays["codebook.centres"].numpy()
        est.x_mean_ = arrays["x.mean"].numpy()
        est.x_scale_ = arrays["x.scale"].numpy()
        net = est._network()
        net.load_state_dict({k[4:]: v for k, v in arrays.items() if k.startswith("net.")})
        est.net_ = net.eval()
        return est
