"""Multi-subject contrastive encoder (MindEye2-style) and fine-tuning of a new subject.

Every subject has its own input adapter (standardisation + linear layer, so subjects may have
different voxel counts) into a shared latent; the residual backbone and the heads are shared.
Training batches hold the same number of trials from every subject. A new subject is added with
:meth:`MultiSubjectContrastiveEncoder.finetune_subject`: a fresh adapter, then fine-tuning on
that subject's (possibly very little) data, starting from the shared backbone.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from neurodecode.encoders._contrastive import (
    _check_targets,
    _check_voxels,
    _ContrastiveBase,
    _maybe_groups,
    _maybe_targets,
    fit_input_map,
)
from neurodecode.encoders._contrastive_net import init_parameters
from neurodecode.encoders._contrastive_train import SubjectData, train_network

if TYPE_CHECKING:
    from neurodecode.metrics._retrieval import RetrievalResult

__all__ = ["MultiSubjectContrastiveEncoder"]


class MultiSubjectContrastiveEncoder(_ContrastiveBase):
    """Contrastive encoder with subject-specific input layers and a shared backbone.

    Parameters
    ----------
    config : ContrastiveConfig or str, default="synthetic-cpu"
        Hyper-parameters or preset name; ``batch_size`` is split evenly across subjects.
    random_state : int or None, default=None
        Seeds initialisation, batching, mixing and dropout (also of fine-tuning).
    device : str, default="cpu"
        Torch device, e.g. ``"cuda"``.
    verbose : bool, default=False
        Print the loss of every epoch.

    Attributes
    ----------
    config_ : ContrastiveConfig
    network_ : torch.nn.Module
    n_voxels_ : dict of str to int
        Voxel count of every subject the network has an adapter for.
    subjects_ : list of str
        Subjects in training order (fine-tuned subjects appended).
    history_ : list of dict
        Per-epoch records of the joint training.
    finetune_history_ : dict of str to list of dict
        Per-epoch records of each fine-tuning.
    """

    def fit(
        self,
        X: Mapping[str, Any],
        y: Mapping[str, Any],
        y_text: Mapping[str, Any] | None = None,
        groups: Mapping[str, Any] | None = None,
    ) -> MultiSubjectContrastiveEncoder:
        """Train jointly on several subjects.

        Parameters
        ----------
        X : mapping of subject label to array of shape (n_trials_s, n_voxels_s)
        y : mapping of subject label to array of shape (n_trials_s, clip_dim)
            CLIP image embeddings of the stimulus of each trial.
        y_text : mapping of subject label to array of shape (n_trials_s, text_dim), optional
            Trains the text head.
        groups : mapping of subject label to array of shape (n_trials_s,), optional
            The stimulus of each trial (used by ``stimulus_samples`` configurations).
        """
        subjects = _same_keys(X, y, y_text)
        data = []
        for s in subjects:
            xs = _check_voxels(X[s], None)
            text = None if y_text is None else _maybe_targets(y_text[s], len(xs))
            group = None if groups is None else _maybe_groups(groups[s], len(xs))
            data.append(SubjectData(s, xs, _check_targets(y[s], len(xs)), text, group))
        self._fit_subjects(data)
        self.subjects_ = list(subjects)
        self.finetune_history_: dict[str, list[dict[str, float]]] = {}
        return self

    def finetune_subject(
        self,
        subject: str,
        X: Any,
        y: Any,
        y_text: Any | None = None,
        *,
        epochs: int | None = None,
        train: Literal["all", "adapter"] = "all",
        groups: Any | None = None,
    ) -> MultiSubjectContrastiveEncoder:
        """Add ``subject`` with a new input adapter and fine-tune on its data.

        Parameters
        ----------
        subject : str
            New (or existing, to continue training) subject label.
        X, y, y_text : array-like
            The subject's voxels, CLIP image embeddings and optional text embeddings.
        epochs : int, optional
            Fine-tuning epochs (default ``config_.epochs``).
        train : {"all", "adapter"}, default="all"
            Fine-tune the whole network (MindEye2) or only the new adapter.
        groups : array-like of shape (n_trials,), optional
            The stimulus of each trial (used by ``stimulus_samples`` configurations).
        """
        import torch

        self._check_fitted()
        if train not in ("all", "adapter"):
            raise ValueError(f"train must be 'all' or 'adapter', got {train!r}")
        X = _check_voxels(X, None)
        data = SubjectData(
            subject, X, _check_targets(y, len(X)), _maybe_targets(y_text, len(X)),
            _maybe_groups(groups, len(X)),
        )  # fmt: skip
        if data.image.shape[1] != self.clip_dim_:
            raise ValueError(f"image targets must be {self.clip_dim_}-d like the base training")
        if data.text is not None and data.text.shape[1] != self.text_dim_:
            raise ValueError(f"text targets must be {self.text_dim_}-d (text head of fit)")
        seq = np.random.SeedSequence([_entropy(self.random_state), zlib.crc32(subject.encode())])
        seeds = [int(s.generate_state(1)[0]) for s in seq.spawn(4)]
        init_seed, dropout_seed, data_seed, pca_seed = seeds
        net = self.network_
        device = next(net.parameters()).device
        adapter = net.add_subject(subject, X.shape[1])
        init_parameters(adapter, torch.Generator().manual_seed(init_seed))
        inputs = fit_input_map(adapter, data, self.config_, np.random.default_rng(pca_seed))
        adapter.to(device)
        frozen = [] if train == "all" else [p for p in net.parameters() if p.requires_grad]
        for p in frozen:
            p.requires_grad_(False)
        for p in adapter.parameters():
            p.requires_grad_(True)
        try:
            history = train_network(
                net,
                [inputs],
                self.config_,
                rng=np.random.default_rng(data_seed),
                generator=torch.Generator(device=device).manual_seed(dropout_seed),
                device=device,
                parameters=[p for p in net.parameters() if p.requires_grad],
                epochs=epochs,
                verbose=self.verbose,
            )
        finally:
            for p in frozen:
                p.requires_grad_(True)
        self.n_voxels_[subject] = int(X.shape[1])
        if subject not in self.subjects_:
            self.subjects_.append(subject)
        self.finetune_history_[subject] = history
        return self

    def predict(self, X: Any, subject: str) -> np.ndarray:
        """Predicted CLIP image embeddings of ``subject``'s trials (head output)."""
        return self._outputs(X, subject, "predict")

    def embed(self, X: Any, subject: str) -> np.ndarray:
        """L2-normalised retrieval embeddings of ``subject``'s trials."""
        return self._outputs(X, subject, "embed")

    def embed_text(self, X: Any, subject: str) -> np.ndarray:
        """L2-normalised embeddings in CLIP text space (needs text targets at fit)."""
        return self._outputs(X, subject, "text")

    def retrieval(
        self,
        X: Any,
        y: Any,
        subject: str,
        n_way: int = 300,
        n_draws: int = 30,
        seed: int | None = 0,
    ) -> RetrievalResult:
        """N-way retrieval between ``embed(X, subject)`` and the CLIP embeddings ``y``."""
        from neurodecode.metrics._retrieval import retrieval_accuracy

        emb = self.embed(X, subject)
        return retrieval_accuracy(emb, _check_targets(y, len(emb)), n_way, n_draws, seed)

    def score(self, X: Mapping[str, Any], y: Mapping[str, Any]) -> float:
        """Mean over subjects (the keys of ``X``) of the two directions' N-way top-1."""
        subjects = _same_keys(X, y, None)
        scores = []
        for s in subjects:
            res = self.retrieval(X[s], y[s], s)
            scores.append((res.image_given_brain + res.brain_given_image) / 2)
        return float(np.mean(scores))

    def _extra_meta(self) -> dict[str, Any]:
        return {"subjects": self.subjects_, "finetune_history": self.finetune_history_}

    def _load_extra_meta(self, meta: Mapping[str, Any]) -> None:
        self.subjects_ = list(meta["subjects"])
        self.finetune_history_ = dict(meta["finetune_history"])


def _same_keys(
    X: Mapping[str, Any], y: Mapping[str, Any], y_text: Mapping[str, Any] | None
) -> list[str]:
    if not isinstance(X, Mapping) or not isinstance(y, Mapping):
        raise TypeError("X and y must be mappings from subject label to array")
    if set(X) != set(y) or (y_text is not None and set(y_text) != set(X)):
        raise ValueError("X, y (and y_text) must have the same subject keys")
    if not X:
        raise ValueError("no subjects given")
    return list(X)


def _entropy(random_state: int | None) -> int:
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(2, np.uint64)[0] >> np.uint64(1))
    return int(random_state)
