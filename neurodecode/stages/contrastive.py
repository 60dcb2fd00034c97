"""``neurodecode contrastive``: train a contrastive encoder for one subject and evaluate retrieval.

Inputs:

* ``--cache`` / ``--subject`` / ``--space``: the prepared cache written by ``neurodecode
  prepare`` (:func:`neurodecode.data.load_prepared`). ``--roi`` picks the voxel columns (an
  atlas or label name of the cache, e.g. ``nsdgeneral``); without it the whole prepared brain
  is used. Training betas are streamed batch by batch from the cache's memory map.
* ``--features``: a feature file (``stim_ids``, ``features``) of CLIP image embeddings keyed
  by stimulus id. ``--text-features`` (same layout, e.g. the mean CLIP text embedding of each
  image's captions) adds the text head.

Training uses the trials of the ``train`` split (with the preset's ``stimulus_samples``, each
sample averages a random subset of one stimulus's repeats); ``test`` trials are averaged over
repeats per stimulus (NSD convention). The ridge baseline is the project's
:class:`~neurodecode.encoders.RidgeEncoder` from voxels to CLIP embeddings (one cross-validated
alpha per embedding dimension), fitted on the repeat-averaged training stimuli: the test inputs'
kind, and a dual (kernel) problem of one row per stimulus. Progress (epoch, loss, elapsed
time) is printed while training. Outputs in ``--out``:

* ``sub-<S>_desc-contrastive_model/`` (config.json + model.safetensors);
* ``sub-<S>_desc-contrastive_retrieval.json``: retrieval of the encoder and of a ridge
  voxels->CLIP baseline on the same draws, top-k curves, example retrievals, optional text
  retrieval and per-ROI ablation, and the wall (``seconds``) and process CPU
  (``cpu_seconds``) time of the encoder's fit (its input map and training apart) and of the
  ridge baseline (sidecar ``..._retrieval.meta.json``);
* ``sub-<S>_desc-contrastive_predictions.h5``: the encoder's predicted CLIP image embeddings
  (head output, CLIP's coordinates) of the repeat-averaged test stimuli, in the feature-file
  format keyed by stimulus id, for embedding-conditioned decoders.

``neurodecode report`` renders the retrieval file (its section is in :mod:`neurodecode.report`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from neurodecode.stages._contract import StageConfig, StageOutputs, StageSpec, fill_doc, option

__all__ = [
    "STAGES",
    "ContrastiveOutputs",
    "ContrastiveStageConfig",
    "report_data",
    "retrieval_curve_png",
    "run",
]


def _presets() -> list[str]:
    from neurodecode.encoders._contrastive_net import list_presets

    return list_presets()


@fill_doc
@dataclasses.dataclass(frozen=True)
class ContrastiveStageConfig(StageConfig):
    """Settings of ``neurodecode contrastive``.

    Parameters
    ----------
    subject : str
        %(subject)s
    cache : Path
        %(cache)s
    features : Path
        CLIP image features keyed by stimulus id (a feature file).
    out : Path
        Output folder.
    space : str or None
        %(space)s
    roi : str or None
        Voxel columns used (atlas or label name in the cache; default: the whole prepared brain).
    text_features : Path or None
        CLIP text features of the captions keyed by stimulus id (adds the text head).
    preset : str
        Encoder preset (neurodecode.encoders.list_contrastive_presets()).
    epochs : int or None
        Overrides the preset's number of epochs.
    device : str
        Torch device for training and inference (cpu, cuda).
    threads : int or None
        CPU threads of torch (default: torch's own choice, one per core).
    seed : int
        Seeds training and the retrieval draws.
    n_way : int
        Candidates per retrieval query (capped at the number of test stimuli).
    n_draws : int
        Random candidate draws averaged.
    ablation : bool
        Also report retrieval with each ROI of the cache (within the used columns) lesioned.
    n_examples : int
        Example queries (with their top-5 retrievals) kept for the report.
    """

    subject: str = option(pattern=r"[A-Za-z0-9]+")
    cache: Path = option()
    features: Path = option()
    out: Path = option()
    space: str | None = option(None, pattern=r"[A-Za-z0-9]+")
    roi: str | None = None
    text_features: Path | None = None
    preset: str = option("synthetic-cpu", choices=_presets)
    epochs: int | None = option(None, minimum=1)
    device: str = "cpu"
    threads: int | None = option(None, minimum=1)
    seed: int = option(0, minimum=0)
    n_way: int = option(300, minimum=2)
    n_draws: int = option(30, minimum=1)
    ablation: bool = False
    n_examples: int = option(8, minimum=0)


@dataclasses.dataclass(frozen=True)
class ContrastiveOutputs(StageOutputs):
    """The retrieval results, the saved encoder and its test predictions."""

    retrieval: Path
    model: Path
    predictions: Path


def _outputs(cfg: ContrastiveStageConfig) -> ContrastiveOutputs:
    stem = Path(cfg.out) / f"sub-{cfg.subject}_desc-contrastive"
    return ContrastiveOutputs(
        retrieval=Path(f"{stem}_retrieval.json"),
        model=Path(f"{stem}_model"),
        predictions=Path(f"{stem}_predictions.h5"),
    )


def _read_subject(cfg: ContrastiveStageConfig, prep: Any) -> dict[str, Any]:
    import numpy as np

    if cfg.roi is None:
        cols = np.arange(prep.n_voxels)
    elif cfg.roi in prep.rois:
        cols = np.flatnonzero(prep.rois[cfg.roi])
    else:
        raise ValueError(f"no ROI {cfg.roi!r} in the cache; ROIs: {sorted(prep.rois)}")
    train_rows = prep.split("train")
    stim = prep.trials["stim_id"].to_numpy().astype(np.int64)
    X_test, test_ids = prep.select(roi=cfg.roi, split="test", average_repeats=True)
    X_avg, avg_ids = prep.select(roi=cfg.roi, split="train", average_repeats=True)
    rois = {name: mask[cols] for name, mask in prep.rois.items() if name != cfg.roi}
    return {
        "X_train": prep.rows(train_rows, cols),
        "train_ids": stim[train_rows],
        "X_test": X_test,
        "test_ids": np.asarray(test_ids, dtype=np.int64),
        "X_train_average": X_avg,
        "train_average_ids": np.asarray(avg_ids, dtype=np.int64),
        "rois": {name: m for name, m in rois.items() if m.any() and not m.all()},
    }


def _lookup(path: Path, ids: Any) -> Any:
    from neurodecode.features import read_features

    return read_features(path, stim_ids=ids)[1]


def run(cfg: ContrastiveStageConfig) -> ContrastiveOutputs:
    """Train, evaluate and write the model, the retrieval JSON and the test predictions."""
    from neurodecode._io import write_json_atomic
    from neurodecode._outputs import StageRun
    from neurodecode.data import load_prepared

    prep = load_prepared(cfg.cache, cfg.subject, cfg.space)
    outputs = _outputs(cfg)
    inputs = [prep.paths.sidecar, cfg.features, *filter(None, [cfg.text_features])]
    with StageRun(
        "contrastive", cfg, outputs.files(), inputs, seed=cfg.seed, device=cfg.device,
        split_hash=prep.split_hash,
    ) as job:  # fmt: skip
        if job.up_to_date:
            return outputs
        result, enc, emb_pred, test_ids = _train_and_evaluate(cfg, prep)
        enc.save(job.path(outputs.model, directory=True))
        write_json_atomic(job.path(outputs.retrieval), result)
        from neurodecode.features import write_features

        write_features(
            job.path(outputs.predictions), test_ids, emb_pred, name="contrastive-predictions",
            model=str(outputs.model.name), config={"subject": cfg.subject, "split": "test",
                                                   "average_repeats": True},
        )  # fmt: skip
        job.record.extra["retrieval_top1"] = {
            k: [result[k]["image_given_brain"], result[k]["brain_given_image"]]
            for k in ("contrastive", "ridge_baseline")
        }
        job.record.extra["roi"] = cfg.roi or "whole-brain (all prepared voxels)"
    return outputs


def _train_and_evaluate(cfg: ContrastiveStageConfig, prep: Any) -> tuple[Any, ...]:
    import time

    import numpy as np
    import torch

    from neurodecode.encoders import RidgeEncoder
    from neurodecode.encoders._contrastive import ContrastiveEncoder
    from neurodecode.encoders._contrastive_ablation import roi_ablation
    from neurodecode.encoders._contrastive_net import get_preset
    from neurodecode.metrics._retrieval import rank_candidates, retrieval_accuracy

    d = _read_subject(cfg, prep)
    Y_train, Y_test = _lookup(cfg.features, d["train_ids"]), _lookup(cfg.features, d["test_ids"])
    T_train = T_test = None
    if cfg.text_features is not None:
        T_train = _lookup(cfg.text_features, d["train_ids"])
        T_test = _lookup(cfg.text_features, d["test_ids"])
    config = get_preset(cfg.preset)
    if cfg.epochs:
        config = config.replace(epochs=cfg.epochs)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    start, cpu_start = time.perf_counter(), time.process_time()
    n_voxels = d["X_test"].shape[1]
    print(f"{cfg.subject}: {len(d['X_train'])} training trials x {n_voxels} voxels", flush=True)
    enc = ContrastiveEncoder(config, random_state=cfg.seed, device=cfg.device, verbose=True)
    enc.fit(d["X_train"], Y_train, T_train, groups=d["train_ids"])
    train_s, train_cpu = time.perf_counter() - start, time.process_time() - cpu_start

    protocol = {"n_way": cfg.n_way, "n_draws": cfg.n_draws, "seed": cfg.seed}
    emb = enc.embed(d["X_test"])
    result: dict[str, Any] = {
        "subject": cfg.subject,
        "roi": cfg.roi,
        "space": prep.space,
        "n_voxels": int(d["X_test"].shape[1]),
        "split_hash": prep.split_hash,
        "n_train_trials": len(d["X_train"]),
        "n_test_stimuli": len(d["X_test"]),
        "contrastive": retrieval_accuracy(emb, Y_test, **protocol).as_dict(),
    }
    start, cpu_start = time.perf_counter(), time.process_time()
    Y_avg = _lookup(cfg.features, d["train_average_ids"])
    ridge = RidgeEncoder(backend="torch" if cfg.device != "cpu" else "numpy", device=cfg.device)
    ridge.fit(d["X_train_average"], Y_avg)
    baseline = retrieval_accuracy(ridge.predict(d["X_test"]), Y_test, **protocol)
    alphas, counts = np.unique(ridge.best_alphas_, return_counts=True)
    result["ridge_baseline"] = {
        **baseline.as_dict(),
        "estimator": "RidgeEncoder (voxels -> CLIP, one alpha per dimension)",
        "n_train_stimuli": len(Y_avg),
        "alphas": {f"{a:g}": int(c) for a, c in zip(alphas, counts, strict=True)},
    }
    result["seconds"] = {
        "contrastive_fit": train_s,
        "contrastive_input_map": enc.fit_seconds_["input_map"],
        "contrastive_training": enc.fit_seconds_["training"],
        "ridge_fit": time.perf_counter() - start,
    }
    # CPU seconds of the process (all threads): comparable across loaded and idle machines
    result["cpu_seconds"] = {
        "contrastive_fit": train_cpu,
        "ridge_fit": time.process_time() - cpu_start,
    }
    print(f"ridge baseline fitted in {result['seconds']['ridge_fit']:.1f} s", flush=True)
    if T_test is not None:
        result["text"] = retrieval_accuracy(enc.embed_text(d["X_test"]), T_test, **protocol)
        result["text"] = result["text"].as_dict()
    n_ex = min(cfg.n_examples, len(emb))
    queries = np.random.default_rng(cfg.seed).choice(len(emb), size=n_ex, replace=False)
    top = rank_candidates(emb[queries], Y_test, k=5)
    result["examples"] = [
        {"query_stim_id": int(d["test_ids"][q]), "retrieved_stim_ids": d["test_ids"][t].tolist()}
        for q, t in zip(queries, top, strict=True)
    ]
    if cfg.ablation:
        if not d["rois"]:
            raise ValueError("--ablation needs ROIs in the cache that split the used voxels")
        result["ablation"] = roi_ablation(enc, d["X_test"], Y_test, d["rois"], **protocol)
    return result, enc, enc.predict(d["X_test"]), d["test_ids"]


def report_data(path: str | Path) -> dict[str, Any]:
    """What the report shows, from a ``*_desc-contrastive_retrieval.json``.

    See :func:`neurodecode.report.retrieval_report_data` (``table``, ``curves``, ``examples``,
    ``ablation``).
    """
    from neurodecode.report import retrieval_report_data

    return retrieval_report_data(path)


def retrieval_curve_png(data: dict[str, Any], max_k: int = 50) -> bytes:
    """Top-k curves (both directions, every model) as PNG bytes, from :func:`report_data`."""
    from neurodecode.report._figures import retrieval_curves_png

    return retrieval_curves_png(data, max_k=max_k)


STAGES = (
    StageSpec(
        "contrastive",
        "contrastive encoder + retrieval, one subject",
        ContrastiveStageConfig,
        run,
        report=lambda out: str(out.retrieval),
    ),
)
