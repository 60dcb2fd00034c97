"""ContrastiveEncoder: voxels -> residual MLP -> CLIP image-embedding space (MindEye-style).

``predict`` returns the head output, a regression of the CLIP embedding in CLIP's own
coordinates (for embedding-conditioned decoders); ``embed`` returns the L2-normalised projector
output that the contrastive loss aligned with CLIP embeddings, which is what retrieval uses.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator

from neurodecode.encoders._contrastive_net import (
    ContrastiveConfig,
    build_network,
    get_preset,
    init_parameters,
)
from neurodecode.encoders._contrastive_train import SubjectData, fit_standardizer, train_network

if TYPE_CHECKING:
    import torch

    from neurodecode.metrics._retrieval import RetrievalResult

__all__ = ["ContrastiveEncoder"]

_WEIGHTS = "model.safetensors"
_CONFIG = "config.json"
_SINGLE = "subject"  # adapter name of the single-subject encoder


class _ContrastiveBase(BaseEstimator):
    """Machinery shared by the single- and multi-subject encoders."""

    def __init__(
        self,
        config: ContrastiveConfig | str = "synthetic-cpu",
        *,
        random_state: int | None = None,
        device: str = "cpu",
        verbose: bool = False,
    ) -> None:
        self.config = config
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # -- fitting -----------------------------------------------------------------------------
    def _resolve_config(self) -> ContrastiveConfig:
        if isinstance(self.config, str):
            return get_preset(self.config)
        if isinstance(self.config, ContrastiveConfig):
            return self.config
        raise TypeError(f"config must be a ContrastiveConfig or a preset name, got {self.config!r}")

    def _torch_device(self) -> torch.device:
        import torch

        dev = torch.device(self.device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("device='cuda' was requested but CUDA is not available")
        return dev

    def _seeds(self, n: int) -> list[int]:
        seq = np.random.SeedSequence(self.random_state)
        return [int(s.generate_state(1)[0]) for s in seq.spawn(n)]

    def _fit_subjects(self, data: list[SubjectData]) -> None:
        import torch

        config = self._resolve_config()
        device = self._torch_device()
        clip_dim = _common_width([d.image for d in data], "image targets")
        texts = [d.text for d in data if d.text is not None]
        text_dim = _common_width(texts, "text targets") if texts else None
        # spawn(4)[:3] == spawn(3): the PCA seed leaves the other three as they were
        init_seed, dropout_seed, data_seed, pca_seed = self._seeds(4)
        net = build_network(
            config, {d.subject: d.voxels.shape[1] for d in data}, clip_dim, text_dim
        )
        init_parameters(net, torch.Generator().manual_seed(init_seed))
        pca_rng = np.random.default_rng(pca_seed)
        start = time.perf_counter()
        inputs = [fit_input_map(net.adapters[d.subject], d, config, pca_rng) for d in data]
        input_map_s = time.perf_counter() - start
        if self.verbose:
            pca = any(d.transformed for d in inputs)
            what = f"PCA to {config.pca_components} components" if pca else ""
            print(f"input map ({what or 'standardiser'}) fitted in {input_map_s:.1f} s", flush=True)
        net.to(device)
        history = train_network(
            net,
            inputs,
            config,
            rng=np.random.default_rng(data_seed),
            generator=torch.Generator(device=device).manual_seed(dropout_seed),
            device=device,
            verbose=self.verbose,
        )
        self.config_ = config
        self.network_ = net
        self.clip_dim_ = clip_dim
        self.text_dim_ = text_dim
        self.n_voxels_ = {d.subject: int(d.voxels.shape[1]) for d in data}
        self.history_ = history
        self.fit_seconds_ = {
            "input_map": input_map_s,
            "training": float(sum(h["seconds"] for h in history)),
        }

    # -- inference ---------------------------------------------------------------------------
    def _outputs(self, X: Any, subject: str, which: str, batch_size: int = 1024) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        self._check_fitted()
        if subject not in self.n_voxels_:
            raise ValueError(f"unknown subject {subject!r}; fitted: {sorted(self.n_voxels_)}")
        X = _check_voxels(X, self.n_voxels_[subject])
        if which == "text" and self.network_.text_projector is None:
            raise ValueError("this encoder was fitted without text targets (no text head)")
        net = self.network_
        dev = next(net.parameters()).device
        net.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                block = np.asarray(X[start : start + batch_size], dtype=np.float32)
                x = torch.as_tensor(block, device=dev)
                emb, proj, text = net(net.adapters[subject](x))
                if which == "predict":
                    out.append(emb)
                else:
                    out.append(F.normalize(proj if which == "embed" else text, dim=-1))
        return torch.cat(out).cpu().numpy()

    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet; call fit first")

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into the folder ``path``."""
        from safetensors.torch import save_file

        from neurodecode import __version__
        from neurodecode._io import atomic_output_path, write_json_atomic

        self._check_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.network_.state_dict().items()}
        with atomic_output_path(folder / _WEIGHTS) as tmp:
            save_file(state, str(tmp))
        meta = {
            "class": type(self).__name__,
            "package_version": __version__,
            "config": self.config_.to_dict(),
            "init_config": self.config if isinstance(self.config, str) else None,
            "random_state": self.random_state,
            "n_voxels": self.n_voxels_,
            "clip_dim": self.clip_dim_,
            "text_dim": self.text_dim_,
            "history": self.history_,
            "fit_seconds": self.fit_seconds_,
            **self._extra_meta(),
        }
        write_json_atomic(folder / _CONFIG, meta)
        return folder

    def _extra_meta(self) -> dict[str, Any]:
        return {}

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str = "cpu") -> Any:
        """Load an encoder written by :meth:`save` onto ``device``."""
        from safetensors.torch import load_file

        folder = Path(path)
        meta = json.loads((folder / _CONFIG).read_text(encoding="utf-8"))
        if meta.get("class") != cls.__name__:
            raise ValueError(f"{folder} holds a {meta.get('class')}, not a {cls.__name__}")
        config = ContrastiveConfig.from_dict(meta["config"])
        est = cls(
            config=meta["init_config"] or config,
            random_state=meta["random_state"],
            device=device,
        )
        net = build_network(config, meta["n_voxels"], meta["clip_dim"], meta["text_dim"])
        net.load_state_dict(load_file(str(folder / _WEIGHTS)))
        net.to(est._torch_device()).eval()
        est.config_ = config
        est.network_ = net
        est.clip_dim_ = meta["clip_dim"]
        est.text_dim_ = meta["text_dim"]
        est.n_voxels_ = dict(meta["n_voxels"])
        est.history_ = meta["history"]
        est.fit_seconds_ = dict(meta.get("fit_seconds", {}))  # absent in older saves
        est._load_extra_meta(meta)
        return est

    def _load_extra_meta(self, meta: Mapping[str, Any]) -> None:
        pass


class ContrastiveEncoder(_ContrastiveBase):
    """MindEye-style contrastive encoder from voxels to CLIP image-embedding space.

    Voxels are standardised (training statistics), optionally projected onto their leading
    principal axes (``pca_components``: a randomized PCA fitted before training and kept in the
    model, which still takes raw voxels), mapped by a linear layer into a latent,
    refined by residual MLP blocks and mapped by a linear head into CLIP space; a projector head
    gives the embeddings used for retrieval. Training: BiMixCo for the first third of the epochs,
    then SoftCLIP, plus an MSE term on the head; AdamW with a one-cycle schedule. With text
    embeddings (e.g. CLIP text embeddings of the captions, averaged per image) a second
    projector is trained to retrieve captions from brain activity.

    Parameters
    ----------
    config : ContrastiveConfig or str, default="synthetic-cpu"
        Hyper-parameters, or a preset name (see :func:`list_contrastive_presets`).
    random_state : int or None, default=None
        Seeds initialisation, batching, mixing and dropout. Runs with the same seed on the same
        device and thread count are bitwise identical on the CPU (GPU kernels may not be).
    device : str, default="cpu"
        Torch device for training and inference, e.g. ``"cuda"``.
    verbose : bool, default=False
        Print the loss of every epoch.

    Attributes
    ----------
    config_ : ContrastiveConfig
        The resolved configuration.
    network_ : torch.nn.Module
        The trained network (in eval mode).
    n_features_in_ : int
        Number of voxels.
    clip_dim_, text_dim_ : int, int or None
        Widths of the image and text targets.
    history_ : list of dict
        Per-epoch mean loss, phase, seconds and samples.
    fit_seconds_ : dict of str to float
        Wall seconds of fitting the input map (standardiser, PCA, projection) and of training.

    Examples
    --------
    >>> enc = ContrastiveEncoder(random_state=0).fit(train_voxels, train_clip)  # doctest: +SKIP
    >>> enc.retrieval(test_voxels, test_clip).image_given_brain  # doctest: +SKIP
    """

    def fit(
        self, X: Any, y: Any, y_text: Any | None = None, groups: Any | None = None
    ) -> ContrastiveEncoder:
        """Train on voxels ``X`` (n, n_voxels) and CLIP image embeddings ``y`` (n, d).

        ``X`` may be any row-indexable array (a memmap or an h5py dataset are read batch by
        batch). ``y_text`` (n, d_text), optional, trains the text head. ``groups`` (n,), the
        stimulus of each trial, lets a ``stimulus_samples`` configuration train on stimuli
        (averages of random subsets of their repeats); it is ignored otherwise.
        """
        X = _check_voxels(X, None)
        data = SubjectData(
            _SINGLE, X, _check_targets(y, len(X)), _maybe_targets(y_text, len(X)),
            _maybe_groups(groups, len(X)),
        )  # fmt: skip
        self._fit_subjects([data])
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted CLIP image embeddings (head output, CLIP's coordinates), (n, clip_dim)."""
        return self._outputs(X, _SINGLE, "predict")

    def embed(self, X: Any) -> np.ndarray:
        """L2-normalised retrieval embeddings (projector output), (n, clip_dim)."""
        return self._outputs(X, _SINGLE, "embed")

    def embed_text(self, X: Any) -> np.ndarray:
        """L2-normalised embeddings in CLIP text space (text head), (n, text_dim)."""
        return self._outputs(X, _SINGLE, "text")

    def retrieval(
        self, X: Any, y: Any, n_way: int = 300, n_draws: int = 30, seed: int | None = 0
    ) -> RetrievalResult:
        """N-way retrieval between ``embed(X)`` and the CLIP image embeddings ``y``."""
        from neurodecode.metrics._retrieval import retrieval_accuracy

        return retrieval_accuracy(self.embed(X), _check_targets(y, len(X)), n_way, n_draws, seed)

    def score(self, X: Any, y: Any) -> float:
        """Mean of 300-way (or test-size-way) top-1 accuracy in both directions (30 draws)."""
        res = self.retrieval(X, y)
        return (res.image_given_brain + res.brain_given_image) / 2

    def _load_extra_meta(self, meta: Mapping[str, Any]) -> None:
        self.n_features_in_ = int(meta["n_voxels"][_SINGLE])


def _common_width(arrays: list[np.ndarray], what: str) -> int:
    widths = {a.shape[1] for a in arrays}
    if len(widths) != 1:
        raise ValueError(f"all {what} must have the same width, got {sorted(widths)}")
    return widths.pop()


def _check_voxels(X: Any, n_voxels: int | None) -> Any:
    if not hasattr(X, "shape") or not hasattr(X, "__getitem__"):
        X = np.asarray(X, dtype=np.float32)
    if len(X.shape) != 2:
        raise ValueError(f"voxels must be 2-D (n_samples, n_voxels), got shape {X.shape}")
    if n_voxels is not None and X.shape[1] != n_voxels:
        raise ValueError(f"expected {n_voxels} voxels, got {X.shape[1]}")
    # Arrays are left as they are (a float64 memmap must not be copied into RAM here); every
    # batch is converted to float32 when it is read.
    return X


def _check_targets(y: Any, n: int) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 2 or y.shape[0] != n:
        raise ValueError(f"targets must have shape ({n}, d), got {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("targets contain NaN or infinite values")
    return y


def _maybe_targets(y: Any | None, n: int) -> np.ndarray | None:
    return None if y is None else _check_targets(y, n)


def _maybe_groups(groups: Any | None, n: int) -> np.ndarray | None:
    if groups is None:
        return None
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"groups must have shape ({n},), got {groups.shape}")
    return groups


def fit_input_map(
    adapter: Any, data: SubjectData, config: ContrastiveConfig, rng: np.random.Generator
) -> SubjectData:
    """Fit the adapter's fixed input map on ``data``; return what training should read.

    The map is the standardiser and, with ``config.pca_components``, the randomized PCA of
    the standardised samples (written into the adapter's buffers). Without PCA, training
    streams ``data`` as it is; with it, the samples are projected once here (``n x k`` in RAM)
    and training reads those.
    """
    import torch

    from neurodecode.encoders._contrastive_pca import fit_input_pca, project_inputs

    mean, scale = fit_standardizer(data.voxels)
    std = adapter[0]
    std.mean.copy_(torch.as_tensor(mean))
    std.scale.copy_(torch.as_tensor(scale))
    if std.components is None:  # no PCA, or no more voxels than components
        return data
    components, _ = fit_input_pca(
        data.voxels, mean, scale, std.components.shape[1], n_iter=config.pca_iterations, rng=rng
    )
    std.components.copy_(torch.as_tensor(components))
    projected = project_inputs(data.voxels, mean, scale, components)
    return dataclasses.replace(data, voxels=projected, transformed=True)
