"""``neurodecode contrastive``: train a contrastive encoder for one subject and evaluate retrieval.

Inputs:

* ``--cache-dir`` / ``--subject`` / ``--space``: the prepared cache written by ``neurodecode
  prepare`` (:func:`neurodecode.data.load_prepared`). ``--roi`` picks the voxel columns (an
  atlas or label name of the cache, e.g. ``nsdgeneral``); without it the whole prepared brain
  is used. Training betas are streamed batch by batch from the cache's memory map.
* ``--features``: HDF5 with ``stim_ids`` (n_stimuli,) and ``features`` (n_stimuli, d): CLIP
  image embeddings keyed by stimulus id. ``--text-features`` (same layout, e.g. the mean CLIP
  text embedding of each image's captions) adds the text head.

Training uses single trials of the ``train`` split; ``test`` trials are averaged over repeats
per stimulus (NSD convention). Outputs in ``--out``: ``sub-<S>_desc-contrastive_model/``
(config.json + model.safetensors) and ``sub-<S>_desc-contrastive_retrieval.json`` (retrieval
of the encoder and of a ridge voxels->CLIP baseline on the same draws, top-k curves, example
retrievals, optional text retrieval and per-ROI ablation) with its provenance sidecar
``sub-<S>_desc-contrastive_retrieval.meta.json``. ``neurodecode report --contrastive`` renders
that file (:mod:`neurodecode.report`); :func:`report_data` and :func:`retrieval_curve_png` give
the same table, curves and figure here.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

__all__ = ["ContrastiveStageConfig", "register", "report_data", "retrieval_curve_png", "run"]


@dataclasses.dataclass(frozen=True)
class ContrastiveStageConfig:
    """Settings of ``neurodecode contrastive``.

    Parameters
    ----------
    subject : str
        Subject label (``subj01``).
    cache_dir : Path
        The ``--out`` folder of ``neurodecode prepare``.
    features : Path
        CLIP image features keyed by stimulus id (layout in the module docstring).
    out : Path
        Output folder.
    space : str
        Grid of the prepared cache.
    roi : str, optional
        Voxel columns used (atlas or label name in the cache); None = the whole prepared brain.
    text_features : Path, optional
        CLIP text features of the captions, keyed by stimulus id.
    preset : str
        Encoder preset (``neurodecode.encoders.list_contrastive_presets()``).
    epochs : int, optional
        Overrides the preset's epochs.
    device : str
        ``cpu`` (default) or ``cuda``.
    seed : int
        Seeds training and the retrieval draws.
    n_way, n_draws : int
        Retrieval protocol (``n_way`` is capped at the number of test stimuli).
    ablation : bool
        Also report retrieval with each ROI of the cache (within the used columns) lesioned.
    n_examples : int
        Example queries (with their top-5 retrievals) kept for the report.
    """

    subject: str
    cache_dir: Path
    features: Path
    out: Path
    space: str = "func1pt8mm"
    roi: str | None = None
    text_features: Path | None = None
    preset: str = "synthetic-cpu"
    epochs: int | None = None
    device: str = "cpu"
    seed: int = 0
    n_way: int = 300
    n_draws: int = 30
    ablation: bool = False
    n_examples: int = 8


class _Rows:
    """Row-indexable view ``betas[rows][:, cols]`` read lazily (one batch at a time)."""

    def __init__(self, betas: Any, rows: Any, cols: Any) -> None:
        self.betas, self.rows, self.cols = betas, rows, cols
        self.shape = (len(rows), len(cols))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, idx: Any) -> Any:
        import numpy as np

        rows = self.rows[idx]
        order = np.argsort(rows, kind="stable")  # ascending reads from the memory map
        block = np.empty((len(rows), len(self.cols)), dtype=np.float32)
        block[order] = np.asarray(self.betas[rows[order]], dtype=np.float32)[:, self.cols]
        return block


def _read_subject(cfg: ContrastiveStageConfig) -> dict[str, Any]:
    import numpy as np

    from neurodecode.data._cache import load_prepared

    subject = load_prepared(cfg.cache_dir, cfg.subject, cfg.space)
    if cfg.roi is None:
        cols = np.arange(subject.n_voxels)
    elif cfg.roi in subject.rois:
        cols = np.flatnonzero(subject.rois[cfg.roi])
    else:
        raise ValueError(f"no ROI {cfg.roi!r} in the cache; ROIs: {sorted(subject.rois)}")
    train_rows = subject.split("train")
    stim = subject.trials["stim_id"].to_numpy().astype(np.int64)
    X_test, test_ids = subject.select(roi=cfg.roi, split="test", average_repeats=True)
    rois = {name: mask[cols] for name, mask in subject.rois.items() if name != cfg.roi}
    return {
        "X_train": _Rows(subject.betas, train_rows, cols),
        "train_ids": stim[train_rows],
        "X_test": X_test,
        "test_ids": np.asarray(test_ids, dtype=np.int64),
        "rois": {name: m for name, m in rois.items() if m.any() and not m.all()},
        "split_hash": subject.split_hash,
        "inputs": list(subject.paths.outputs),
    }


def _lookup(path: Path, ids: Any) -> Any:
    import h5py
    import numpy as np

    with h5py.File(path, "r") as fh:
        keys = np.asarray(fh["stim_ids"]).astype(np.int64)
        feats = np.asarray(fh["features"], dtype=np.float32)
    pos = {int(k): i for i, k in enumerate(keys)}
    missing = [int(i) for i in np.unique(ids) if int(i) not in pos]
    if missing:
        raise ValueError(f"{path}: no features for stimulus ids {missing[:5]}...")
    return feats[[pos[int(i)] for i in ids]]


def run(cfg: ContrastiveStageConfig) -> Path:
    """Train, evaluate and write the model, the retrieval JSON and its sidecar."""
    import numpy as np
    from sklearn.linear_model import RidgeCV

    from neurodecode._io import write_json_atomic
    from neurodecode._provenance import RunRecord
    from neurodecode.encoders._contrastive import ContrastiveEncoder
    from neurodecode.encoders._contrastive_ablation import roi_ablation
    from neurodecode.encoders._contrastive_net import get_preset
    from neurodecode.metrics._retrieval import rank_candidates, retrieval_accuracy

    record = RunRecord(
        stage="contrastive", config=dataclasses.asdict(cfg), seed=cfg.seed, device=cfg.device
    )
    d = _read_subject(cfg)
    record.split_hash = d["split_hash"]
    Y_train, Y_test = _lookup(cfg.features, d["train_ids"]), _lookup(cfg.features, d["test_ids"])
    T_train = T_test = None
    if cfg.text_features is not None:
        T_train = _lookup(cfg.text_features, d["train_ids"])
        T_test = _lookup(cfg.text_features, d["test_ids"])
    config = get_preset(cfg.preset)
    if cfg.epochs:
        config = config.replace(epochs=cfg.epochs)
    enc = ContrastiveEncoder(config, random_state=cfg.seed, device=cfg.device)
    enc.fit(d["X_train"], Y_train, T_train)

    protocol = {"n_way": cfg.n_way, "n_draws": cfg.n_draws, "seed": cfg.seed}
    emb = enc.embed(d["X_test"])
    result: dict[str, Any] = {
        "subject": cfg.subject,
        "roi": cfg.roi,
        "space": cfg.space,
        "n_voxels": int(d["X_test"].shape[1]),
        "split_hash": d["split_hash"],
        "n_train_trials": len(d["X_train"]),
        "n_test_stimuli": len(d["X_test"]),
        "contrastive": retrieval_accuracy(emb, Y_test, **protocol).as_dict(),
    }
    X_train_ram = d["X_train"][np.arange(len(d["X_train"]))]  # ridge needs it in memory
    ridge = RidgeCV(alphas=np.logspace(-2, 6, 17)).fit(X_train_ram, Y_train)
    del X_train_ram
    result["ridge_baseline"] = retrieval_accuracy(ridge.predict(d["X_test"]), Y_test, **protocol)
    result["ridge_baseline"] = {**result["ridge_baseline"].as_dict(), "alpha": float(ridge.alpha_)}
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

    out = Path(cfg.out)
    enc.save(out / f"sub-{cfg.subject}_desc-contrastive_model")
    target = out / f"sub-{cfg.subject}_desc-contrastive_retrieval.json"
    write_json_atomic(target, result)
    record.extra["retrieval_top1"] = {
        k: [result[k]["image_given_brain"], result[k]["brain_given_image"]]
        for k in ("contrastive", "ridge_baseline")
    }
    record.extra["roi"] = cfg.roi or "whole-brain (all prepared voxels)"
    record.write(target, inputs=[*d["inputs"], cfg.features, *filter(None, [cfg.text_features])])
    return target


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


def register(subparsers: Any) -> None:
    """Add the ``contrastive`` sub-command."""
    p = subparsers.add_parser("contrastive", help="contrastive encoder + retrieval, one subject")
    p.add_argument("--subject", required=True)
    p.add_argument("--cache-dir", type=Path, required=True, help="--out of neurodecode prepare")
    p.add_argument("--space", default="func1pt8mm")
    p.add_argument("--roi", help="voxel columns (atlas/label name); default: whole brain")
    p.add_argument("--features", type=Path, required=True)
    p.add_argument("--text-features", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--preset", default="synthetic-cpu")
    p.add_argument("--epochs", type=int)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-way", type=int, default=300)
    p.add_argument("--n-draws", type=int, default=30)
    p.add_argument("--ablation", action="store_true")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    fields = {f.name for f in dataclasses.fields(ContrastiveStageConfig)}
    cfg = ContrastiveStageConfig(**{k: v for k, v in vars(args).items() if k in fields})
    print(run(cfg))
    return 0
