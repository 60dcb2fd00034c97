"""``neurodecode contrastive``: train a contrastive encoder for one subject and evaluate retrieval.

Inputs (HDF5; dataset names are options, defaults below, until the data contracts fix them):

* ``--cache``: ``betas`` (n_trials, n_voxels) float, ``stim_ids`` (n_trials,) int, ``split``
  (n_trials,) bytes/str with ``train`` / ``test``; optional ``roi/<name>`` boolean voxel masks
  (used by ``--ablation``).
* ``--features``: ``stim_ids`` (n_stimuli,) int and ``features`` (n_stimuli, d): CLIP image
  embeddings. ``--text-features`` (same layout, e.g. mean CLIP text embedding of the captions)
  adds the text head.

Training uses single trials; test trials are averaged over repeats per stimulus (NSD
convention). Outputs in ``--out``: ``sub-<S>_desc-contrastive_model/`` (config.json +
model.safetensors), ``sub-<S>_desc-contrastive_retrieval.json`` (retrieval of the encoder and of
a ridge voxels->CLIP baseline, top-k curves, example retrievals, optional text retrieval and ROI
ablation) with its provenance sidecar. :func:`report_data` and :func:`retrieval_curve_png` turn
that file into what the report shows.
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
    cache, features : Path
        Prepared betas and CLIP image features (layout in the module docstring).
    out : Path
        Output folder.
    text_features : Path, optional
        CLIP text features of the captions, keyed by stimulus id.
    preset : str
        Encoder preset (``neurodecode.encoders`` presets).
    epochs : int, optional
        Overrides the preset's epochs.
    device : str
        ``cpu`` (default) or ``cuda``.
    seed : int
        Seeds training and the retrieval draws.
    n_way, n_draws : int
        Retrieval protocol.
    ablation : bool
        Report retrieval with each ``roi/<name>`` mask of the cache lesioned.
    n_examples : int
        Example queries (with their top-5 retrievals) kept for the report.
    """

    subject: str
    cache: Path
    features: Path
    out: Path
    text_features: Path | None = None
    preset: str = "synthetic-cpu"
    epochs: int | None = None
    device: str = "cpu"
    seed: int = 0
    n_way: int = 300
    n_draws: int = 30
    ablation: bool = False
    n_examples: int = 8


def _read_split(cfg: ContrastiveStageConfig) -> dict[str, Any]:
    import h5py
    import numpy as np

    with h5py.File(cfg.cache, "r") as fh:
        betas = np.asarray(fh["betas"], dtype=np.float32)
        stim = np.asarray(fh["stim_ids"]).astype(np.int64)
        split = np.array([s.decode() if isinstance(s, bytes) else str(s) for s in fh["split"]])
        rois = {k: np.asarray(v, dtype=bool) for k, v in fh["roi"].items()} if "roi" in fh else {}
    train, test = split == "train", split == "test"
    if not train.any() or not test.any():
        raise ValueError(f"{cfg.cache}: needs both 'train' and 'test' trials in 'split'")
    test_ids = np.unique(stim[test])
    test_betas = np.stack([betas[test & (stim == s)].mean(axis=0) for s in test_ids])
    return {
        "X_train": betas[train],
        "train_ids": stim[train],
        "X_test": test_betas,
        "test_ids": test_ids,
        "rois": rois,
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
    d = _read_split(cfg)
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
        "n_train_trials": len(d["X_train"]),
        "n_test_stimuli": len(d["X_test"]),
        "contrastive": retrieval_accuracy(emb, Y_test, **protocol).as_dict(),
    }
    ridge = RidgeCV(alphas=np.logspace(-2, 6, 17)).fit(d["X_train"], Y_train)
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
            raise ValueError(f"--ablation needs roi/<name> masks in {cfg.cache}")
        result["ablation"] = roi_ablation(enc, d["X_test"], Y_test, d["rois"], **protocol)

    out = Path(cfg.out)
    enc.save(out / f"sub-{cfg.subject}_desc-contrastive_model")
    target = out / f"sub-{cfg.subject}_desc-contrastive_retrieval.json"
    write_json_atomic(target, result)
    record.extra["retrieval_top1"] = {
        k: [result[k]["image_given_brain"], result[k]["brain_given_image"]]
        for k in ("contrastive", "ridge_baseline")
    }
    record.write(target, inputs=[cfg.cache, cfg.features, *filter(None, [cfg.text_features])])
    return target


def report_data(path: str | Path) -> dict[str, Any]:
    """What the report shows, from a ``*_desc-contrastive_retrieval.json``.

    Returns
    -------
    dict
        ``table``: rows (model, direction, top-1, CI, chance, n_way); ``curves``: model ->
        direction -> top-k list (k = 1..n_way); ``examples``: query stimulus id and its top-5
        retrieved stimulus ids (the report renders the images); ``ablation``: per-ROI rows.
    """
    from neurodecode._io import read_json

    res = read_json(path)
    models = [m for m in ("contrastive", "ridge_baseline", "text") if m in res]
    table: list[dict[str, Any]] = []
    curves: dict[str, dict[str, list[float]]] = {}
    for m in models:
        r = res[m]
        curves[m] = {}
        for direction in ("image_given_brain", "brain_given_image"):
            table.append(
                {
                    "model": m,
                    "direction": direction,
                    "top1": r[direction],
                    "ci_low": r[f"{direction}_ci"][0],
                    "ci_high": r[f"{direction}_ci"][1],
                    "chance": r["chance"],
                    "n_way": r["n_way"],
                }
            )
            curves[m][direction] = r[f"topk_{direction}"]
    return {
        "subject": res["subject"],
        "table": table,
        "curves": curves,
        "examples": res["examples"],
        "ablation": res.get("ablation", []),
    }


def retrieval_curve_png(data: dict[str, Any], max_k: int = 50) -> bytes:
    """Top-k curves (both directions, every model) as PNG bytes, from :func:`report_data`."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), sharey=True)
    for ax, direction in zip(axes, ("image_given_brain", "brain_given_image"), strict=True):
        for model, curves in data["curves"].items():
            curve = curves[direction][:max_k]
            ax.plot(range(1, len(curve) + 1), [100 * v for v in curve], label=model)
        n_way = data["table"][0]["n_way"]
        ks = range(1, min(max_k, n_way) + 1)
        ax.plot(ks, [100 * k / n_way for k in ks], "k:", label="chance")
        ax.set_title(direction.replace("_", " "))
        ax.set_xlabel("k")
    axes[0].set_ylabel(f"top-k accuracy (%), {data['table'][0]['n_way']}-way")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def register(subparsers: Any) -> None:
    """Add the ``contrastive`` sub-command."""
    p = subparsers.add_parser("contrastive", help="contrastive encoder + retrieval, one subject")
    p.add_argument("--subject", required=True)
    p.add_argument("--cache", type=Path, required=True)
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
