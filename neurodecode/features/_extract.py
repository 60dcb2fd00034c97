"""Extractor names and the batched, resumable extraction driver."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode.features._extractors import (
    ClipImageExtractor,
    ClipTextExtractor,
    FeatureExtractor,
    ImageNetExtractor,
    SentenceExtractor,
    TruthExtractor,
    VaeLatentExtractor,
)
from neurodecode.features._store import ResumableFeatureWriter

__all__ = ["TRUTH_EXTRACTORS", "extract_features", "get_extractor", "list_extractors"]

#: Extractor name -> ground-truth space of ``neurodecode.synth.truth_features``.
TRUTH_EXTRACTORS: dict[str, str] = {
    "synth-prf": "prf_energy",
    "synth-colour": "colour",
    "synth-category": "category",
    "synth-nuisance": "nuisance",
}


def list_extractors() -> list[str]:
    """Names accepted by :func:`get_extractor` (text variants end in ``-text``)."""
    from neurodecode.models import get_model_spec, list_models

    names = [*TRUTH_EXTRACTORS, "dis-flow"]
    for model in list_models():
        kind = get_model_spec(model).kind
        if kind in ("clip", "image", "vae", "flow"):
            names.append(model)
        if kind in ("clip", "text"):
            names.append(f"{model}-text" if kind == "clip" else model)
    return sorted(names)


def get_extractor(
    name: str, device: str = "cpu", bf16: bool = False, root: str | None = None
) -> FeatureExtractor:
    """The extractor of a feature space.

    Parameters
    ----------
    name : str
        A truth space (``synth-prf``, ``synth-colour``, ``synth-category``, ``synth-nuisance``),
        a registered model name (image embedding: CLIP image tower, ImageNet network, VAE
        latents; text embedding for text models; grid optical flow of video clips for flow
        models, ``raft_small``), ``dis-flow`` (OpenCV DIS flow of video clips, no weights),
        ``<clip model>-text`` (CLIP text embedding of the captions), or ``local-dir:PATH`` (an
        open_clip folder; add ``-text`` for text).
    device : str, default "cpu"
    bf16 : bool, default False
        bfloat16 autocast for the forward pass.
    root : str, optional
        Extra folder searched for weights.
    """
    from neurodecode.models import get_model_spec

    if name in TRUTH_EXTRACTORS:
        return TruthExtractor(TRUTH_EXTRACTORS[name], name)
    if name == "dis-flow":
        from neurodecode.features._flow import DisFlowEstimator, FlowExtractor

        return FlowExtractor(DisFlowEstimator(), name)  # type: ignore[return-value]
    text = name.endswith("-text")
    model = name.removesuffix("-text") if text else name
    spec = get_model_spec(model)
    kwargs: dict[str, Any] = {"device": device, "bf16": bf16, "root": root}
    if spec.kind == "clip":
        return (ClipTextExtractor if text else ClipImageExtractor)(model, **kwargs)
    if spec.kind == "text":
        return SentenceExtractor(model, **kwargs)
    if spec.kind == "image":
        return ImageNetExtractor(model, **kwargs)
    if spec.kind == "vae":
        return VaeLatentExtractor(model, **kwargs)
    if spec.kind == "flow":
        from neurodecode.features._flow import FlowExtractor, RaftFlowEstimator

        raft = RaftFlowEstimator(model, device=device, root=root)
        return FlowExtractor(raft, model)  # type: ignore[return-value]
    raise ValueError(f"{name}: no feature extractor for models of kind {spec.kind!r}")


def extract_features(
    extractor: FeatureExtractor,
    stim_ids: Sequence[int] | np.ndarray,
    load: Callable[[np.ndarray], Any],
    out: str | os.PathLike[str],
    *,
    batch_size: int = 256,
    progress: bool = True,
    config: dict[str, Any] | None = None,
    partial: str | os.PathLike[str] | None = None,
    chunk_rows: int | None = None,
) -> dict[str, Any]:
    """Extract features of ``stim_ids`` batch by batch into ``out``, resuming a partial run.

    Parameters
    ----------
    extractor : FeatureExtractor
    stim_ids : array-like of int
        Stimuli to embed (unique).
    load : callable
        ``load(ids)`` returns the batch: uint8 images ``(n, H, W, 3)`` for image extractors, a
        list of caption lists for text extractors.
    out : path-like
        Final ``.h5`` file (format of :func:`neurodecode.features.write_features`).
    batch_size : int, default 256
    progress : bool, default True
        Show a tqdm progress bar.
    config : dict, optional
        Extra settings recorded in the file's ``config`` attribute.
    partial : path-like, optional
        Where unfinished rows are kept (see :class:`ResumableFeatureWriter`).
    chunk_rows : int, optional
        HDF5 chunk of the feature rows (see :class:`ResumableFeatureWriter`).

    Returns
    -------
    dict
        ``n`` (rows), ``n_done_before`` (rows found in a partial file), ``dim``,
        ``seconds`` (this call), ``per_second`` (rows per second of this call),
        ``weights_sha256``.
    """
    from tqdm.auto import tqdm

    ids = np.asarray(stim_ids, dtype=np.int64)
    t0 = time.perf_counter()
    dim = extractor.dim
    writer = ResumableFeatureWriter(
        out,
        ids,
        dim,
        name=extractor.name,
        model=extractor.model,
        weights_sha256=extractor.weights_sha256,
        config={**extractor.config, "batch_size": batch_size, **(config or {})},
        partial=partial,
        chunk_rows=chunk_rows,
    )
    with writer:
        todo = writer.todo
        n_before = ids.size - todo.size
        t_start = time.perf_counter()
        bar = tqdm(total=ids.size, initial=n_before, disable=not progress, desc=extractor.name)
        for start in range(0, todo.size, batch_size):
            chunk = todo[start : start + batch_size]
            writer.write(chunk, extractor(load(chunk)))
            bar.update(chunk.size)
        bar.close()
        seconds = time.perf_counter() - t_start
        writer.finalize()
    return {
        "n": int(ids.size),
        "n_done_before": int(n_before),
        "dim": int(dim),
        "seconds": round(time.perf_counter() - t0, 3),
        "per_second": round(todo.size / seconds, 1) if seconds > 0 and todo.size else None,
        "weights_sha256": extractor.weights_sha256,
        "path": str(Path(out)),
    }
