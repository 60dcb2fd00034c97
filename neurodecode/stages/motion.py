"""``neurodecode motion``: decode optical flow from fMRI, score it, animate the first frames.

Inputs: the prepared cache (``--cache``, ``--subject``; ``--roi`` picks the voxel columns) of a
release with videos, and a flow feature file of its clips (``--flow``: a feature name of the
subject such as ``disflow``, written by ``neurodecode features --model dis-flow``, or a path):
the decoding targets, as Yeung et al. decode RAFT flow of the videos. Decoders are fitted on the
``train`` split's single trials and applied to the repeat-averaged ``test`` split:

* ``ridge``: :class:`~neurodecode.decoders.RidgeFlowDecoder` (voxels -> grid flow, each
  vector shrunk towards the training clips' median flow by a cross-validated threshold:
  ``--shrink``, ``0`` for the ridge's own predictions);
* ``codebook``: :class:`~neurodecode.decoders.CodebookFlowDecoder` (the published method:
  fMRI MLP embedding broadcast over the grid with first-frame features, per-patch
  classification over a k-means codebook, flow = probability-weighted centres).

Scores (:func:`~neurodecode.decoders.score_flows`): end-point error of the whole frame, angular
error and 8-sector direction accuracy, each with n and a bootstrap CI over test clips, against
the mean-training-flow and other-clips baselines, with the codebook limit. They are computed
against the targets (estimated flow) and, on a synthetic release, against the world's exact
flow, where the moving object's patches add object EPE and object direction accuracy and the
estimator itself is scored (flow features against exact flow).

Outputs in ``--out``: ``sub-S_desc-motion_results.json``; ``sub-S_desc-motion<decoder>_flows.h5``
(decoded test flows, feature-file format keyed by stimulus id, ``config`` giving the shape);
``sub-S_desc-motion_models/`` (each decoder saved); ``sub-S_desc-motion_animations/`` (for
``--n-examples`` test clips: the true clip and each decoder's animation of its first frame, GIF,
and ``examples.h5`` with their first frames and flows: target, exact, decoded).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode.stages._contract import StageConfig, StageOutputs, StageSpec, option

__all__ = ["DECODERS", "EXAMPLES_FILE", "STAGES", "MotionConfig", "MotionOutputs", "run"]

DECODERS = ("ridge", "codebook")
#: The animations folder's record of the animated clips' flows (read by the report).
EXAMPLES_FILE = "examples.h5"
_ALPHAS = tuple(np.logspace(0, 6, 13).tolist())
#: The ridge decoder's shrinkage grid (its SHRINK_GRID; fractions of the mean training speed).
_SHRINK = tuple(round(0.05 * k, 2) for k in range(21))


@dataclasses.dataclass(frozen=True)
class MotionConfig(StageConfig):
    """Settings of ``neurodecode motion``.

    Parameters
    ----------
    subject : str
        Subject label as the dataset spells it (01 for sub-01).
    cache : Path
        The --out folder of neurodecode prepare.
    flow : str
        Flow features of the clips: a feature name of the subject (disflow) or an .h5 path.
    out : Path
        Output folder.
    space : str or None
        Grid label of the prepared cache (default: the subject's only one).
    roi : str or None
        Voxel columns used (an ROI of the cache; default: every prepared voxel).
    decoders : tuple of str
        Decoders fitted: ridge, codebook.
    n_clusters : int
        Codebook size of the codebook decoder.
    epochs : int
        Training epochs of the codebook decoder.
    lr : float
        AdamW learning rate of the codebook decoder.
    alphas : tuple of float
        Candidate ridge penalties (one chosen per flow component).
    n_splits : int
        Ridge cross-validation folds (grouped by clip).
    shrink : tuple of float
        Ridge shrinkage towards the median flow: thresholds tried (x mean training speed).
        Each decoded vector moves this far towards the training clips' per-patch geometric
        median; one threshold is chosen by cross-validated end-point error on repeat-averaged
        held-out clips (``0``: the ridge's own predictions).
    n_examples : int
        Test clips animated (true clip and each decoder's animation).
    n_draws : int
        Random derangements averaged by the other-clips baseline.
    n_bootstrap : int
        Bootstrap resamples of the confidence intervals (over test clips).
    video_model : Path or None
        Folder of a motion-conditioned video diffusion model (default: warp the first frame).
    threads : int
        torch CPU threads of the codebook decoder.
    seed : int
        Seeds the codebook, training, the baselines' draws and the bootstrap.
    device : str
        torch device of the codebook decoder and the video model (cpu, cuda).
    """

    subject: str = option(pattern=r"[A-Za-z0-9]+")
    cache: Path = option()
    flow: str = option(metavar="NAME")
    out: Path = option()
    space: str | None = option(None, pattern=r"[A-Za-z0-9]+")
    roi: str | None = None
    decoders: tuple[str, ...] = option(DECODERS, choices=DECODERS)
    n_clusters: int = option(40, minimum=2)
    epochs: int = option(40, minimum=1)
    lr: float = option(2e-3, above=0)
    alphas: tuple[float, ...] = option(_ALPHAS, above=0)
    n_splits: int = option(5, minimum=2)
    shrink: tuple[float, ...] = option(_SHRINK, minimum=0)
    n_examples: int = option(4, minimum=0)
    n_draws: int = option(20, minimum=1)
    n_bootstrap: int = option(1000, minimum=1)
    video_model: Path | None = None
    threads: int = option(1, minimum=1)
    seed: int = option(0, minimum=0)
    device: str = "cpu"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.decoders:
            raise ValueError("--decoders: give at least one of " + ", ".join(DECODERS))


@dataclasses.dataclass(frozen=True)
class MotionOutputs(StageOutputs):
    """The results, the decoded flows, the saved decoders and the animations."""

    results: Path
    flows: dict[str, Path]
    models: Path
    animations: Path


def _outputs(cfg: MotionConfig) -> MotionOutputs:
    stem = Path(cfg.out) / f"sub-{cfg.subject}_desc-motion"
    flows = {d: Path(cfg.out) / f"sub-{cfg.subject}_desc-motion{d}_flows.h5" for d in cfg.decoders}
    return MotionOutputs(
        results=Path(f"{stem}_results.json"),
        flows=flows,
        models=Path(f"{stem}_models"),
        animations=Path(f"{stem}_animations"),
    )


def _read(cfg: MotionConfig, prep: Any, flow_path: Path) -> dict[str, Any]:
    from neurodecode.features import feature_file_info, flow_from_features, read_features

    config = feature_file_info(flow_path).get("config", {})
    grid, frames = int(config.get("grid", 32)), int(config.get("frames", 3))
    cols = np.arange(prep.n_voxels) if cfg.roi is None else prep.columns(cfg.roi)
    stim = prep.trials["stim_id"].to_numpy().astype(np.int64)
    train_rows = prep.split("train")
    X_test, test_ids = prep.select(roi=cfg.roi, split="test", average_repeats=True)
    train_ids = stim[train_rows]
    flows = {}
    for name, ids in (("train", train_ids), ("test", np.asarray(test_ids, dtype=np.int64))):
        flows[name] = flow_from_features(read_features(flow_path, stim_ids=ids)[1], grid, frames)
    return {
        "X_train": prep.rows(train_rows, cols)[np.arange(train_rows.size)],
        "train_ids": train_ids, "X_test": X_test, "test_ids": np.asarray(test_ids, np.int64),
        "flow_train": flows["train"], "flow_test": flows["test"], "grid": grid, "frames": frames,
    }  # fmt: skip


def _truth(prep: Any, ids: np.ndarray, grid: int, frames: int) -> dict[str, np.ndarray] | None:
    """Exact flow and object patches of the test clips (synthetic releases only)."""
    from neurodecode.features import downsample_flow, flow_frame_pairs
    from neurodecode.synth import is_synthetic_release, load_world

    if not is_synthetic_release(prep.release_root):
        return None
    clips = load_world(prep.release_root).stimuli  # the clips only: no brain is built
    if not hasattr(clips, "flow"):
        return None  # an image world has no motion
    exact = clips.flow(ids)
    masks = clips.object_masks(ids)[:, flow_frame_pairs(exact.shape[1], frames)]
    n, f, h, w = masks.shape
    patches = masks.reshape(n, f, grid, h // grid, grid, w // grid).mean(axis=(3, 5)) >= 0.5
    return {"flow": downsample_flow(exact, grid, frames), "mask": patches}


def _fit(cfg: MotionConfig, d: dict[str, Any], first_train: np.ndarray, log: dict) -> dict:
    from neurodecode.decoders import CodebookFlowDecoder, RidgeFlowDecoder

    models: dict[str, Any] = {}
    if "ridge" in cfg.decoders:
        start = time.perf_counter()
        ridge = RidgeFlowDecoder(alphas=cfg.alphas, n_splits=cfg.n_splits, shrink=cfg.shrink)
        models["ridge"] = ridge.fit(d["X_train"], d["flow_train"], groups=d["train_ids"])
        log["ridge"] = {"seconds": round(time.perf_counter() - start, 2),
                        "alpha_median": float(np.median(ridge.best_alphas_)),
                        "shrink": ridge.shrink_, "mean_speed": ridge.mean_speed_,
                        "shrink_grid": sorted({float(t) for t in cfg.shrink}),
                        "shrink_cv_epe": ridge.shrink_cv_epe_}  # fmt: skip
    if "codebook" in cfg.decoders:
        start = time.perf_counter()
        models["codebook"] = CodebookFlowDecoder(
            n_clusters=cfg.n_clusters, epochs=cfg.epochs, lr=cfg.lr, random_state=cfg.seed,
            device=cfg.device, threads=cfg.threads,
        ).fit(d["X_train"], d["flow_train"], first_train, groups=d["train_ids"])  # fmt: skip
        log["codebook"] = {"seconds": round(time.perf_counter() - start, 2),
                           "cross_entropy": models["codebook"].history_}  # fmt: skip
    return models


def run(cfg: MotionConfig) -> MotionOutputs:
    """Fit the decoders, score and animate them (or find the outputs current)."""
    from neurodecode._outputs import StageRun
    from neurodecode.data import load_prepared
    from neurodecode.stages.encode import resolve_feature_path

    prep = load_prepared(cfg.cache, cfg.subject, cfg.space)
    flow_path = resolve_feature_path(cfg.flow, cfg.cache, cfg.subject)
    outputs = _outputs(cfg)
    inputs = [prep.paths.sidecar, flow_path, *filter(None, [cfg.video_model])]
    with StageRun("motion", cfg, outputs.files(), inputs, seed=cfg.seed, device=cfg.device,
                  split_hash=prep.split_hash) as job:  # fmt: skip
        if job.up_to_date:
            return outputs
        results = _decode_and_score(cfg, prep, flow_path, job, outputs)
        from neurodecode._io import write_json_atomic

        write_json_atomic(job.path(outputs.results), results)
        job.record.extra["epe_ratio"] = results["scores"][results["reference"]]["epe_ratio"]
    return outputs


def _decode_and_score(cfg: MotionConfig, prep: Any, flow_path: Path, job: Any,
                      outputs: MotionOutputs) -> dict[str, Any]:  # fmt: skip
    from neurodecode.decoders._motion_eval import score_flows
    from neurodecode.features import write_features

    d = _read(cfg, prep, flow_path)
    stimuli = prep.stimuli
    unique_train, first_row = np.unique(d["train_ids"], return_index=True)
    first_frames = stimuli.images(unique_train)
    first_train = first_frames[np.searchsorted(unique_train, d["train_ids"])]
    first_test = stimuli.images(d["test_ids"])
    log: dict[str, Any] = {}
    models = _fit(cfg, d, first_train, log)
    decoded = {"ridge": models["ridge"].predict(d["X_test"])} if "ridge" in models else {}
    if "codebook" in models:
        decoded["codebook"] = models["codebook"].predict(d["X_test"], first_test)
    folder = job.path(outputs.models, directory=True)
    for name, model in models.items():
        model.save(folder / name)
    for name, flows in decoded.items():
        write_features(job.path(outputs.flows[name]), d["test_ids"], flows.reshape(len(flows), -1),
                       name=f"motion-{name}", model=name,
                       config={"grid": d["grid"], "frames": d["frames"], "subject": cfg.subject,
                               "layout": "frame,row,column,(dx,dy)"})  # fmt: skip
    from neurodecode.features import FlowCodebook

    codebook = models["codebook"].codebook_ if "codebook" in models else FlowCodebook(
        cfg.n_clusters, random_state=cfg.seed).fit(d["flow_train"][first_row])  # fmt: skip
    train_mean = d["flow_train"][first_row].mean(axis=0)
    common = {"train_mean": train_mean, "codebook": codebook, "n_draws": cfg.n_draws,
              "n_bootstrap": cfg.n_bootstrap, "seed": cfg.seed}  # fmt: skip
    scores = {"target": score_flows(decoded, d["flow_test"], **common)}
    truth = _truth(prep, d["test_ids"], d["grid"], d["frames"])
    if truth is not None:
        decoded_and_estimate = {**decoded, "estimator": d["flow_test"]}
        scores["truth"] = score_flows(decoded_and_estimate, truth["flow"], mask=truth["mask"],
                                      **common)  # fmt: skip
        scores["truth"]["epe_ratio"].pop("estimator")
    folder = job.path(outputs.animations, directory=True)
    examples = _animate(cfg, d, decoded, first_test, stimuli, folder)
    _write_examples(folder / EXAMPLES_FILE, examples, d, decoded, first_test, truth)
    return {
        "subject": cfg.subject, "space": prep.space, "roi": cfg.roi, "split_hash": prep.split_hash,
        "n_voxels": int(d["X_test"].shape[1]), "n_train_trials": len(d["train_ids"]),
        "n_train_clips": int(unique_train.size), "n_test_clips": len(d["test_ids"]),
        "flow_features": flow_path.name, "grid": d["grid"], "frames": d["frames"],
        "units": "pixels per frame of the clip", "decoders": list(decoded),
        "reference": "truth" if truth is not None else "target", "scores": scores,
        "test_ids": d["test_ids"].tolist(), "examples": examples, "training": log,
    }  # fmt: skip


def _animate(
    cfg: MotionConfig, d: dict[str, Any], decoded: dict[str, np.ndarray],
    first_test: np.ndarray, stimuli: Any, folder: Path,
) -> list[dict[str, Any]]:  # fmt: skip
    import torch

    from neurodecode.decoders import WarpAnimator, load_motion_video_model, save_gif

    folder.mkdir(parents=True, exist_ok=True)
    model = load_motion_video_model(cfg.video_model, cfg.device) if cfg.video_model else None
    animator = model or WarpAnimator()
    n = min(cfg.n_examples, len(d["test_ids"]))
    picks = np.sort(np.random.default_rng(cfg.seed).choice(len(d["test_ids"]), n, replace=False))
    examples = []
    for row in picks.tolist():
        stim = int(d["test_ids"][row])
        true = stimuli.frames([stim])[0]
        files = {"true": save_gif(folder / f"stim-{stim}_true.gif", true).name}
        for name, flows in decoded.items():
            generator = torch.Generator().manual_seed(cfg.seed)
            frames = animator(first_test[row], flows[row], num_frames=len(true),
                              generator=generator)  # fmt: skip
            files[name] = save_gif(folder / f"stim-{stim}_{name}.gif", frames).name
        examples.append({"stim_id": stim, "row": row, "files": files})
    return examples


def _write_examples(path: Path, examples: list[dict[str, Any]], d: dict[str, Any],
                    decoded: dict[str, np.ndarray], first_test: np.ndarray,
                    truth: dict[str, np.ndarray] | None) -> None:  # fmt: skip
    """The animated clips' first frames and flows: target, exact (synthetic), each decoder's."""
    import h5py

    rows = np.array([e["row"] for e in examples], dtype=np.int64)
    with h5py.File(path, "w") as fh:
        fh["stim_ids"] = d["test_ids"][rows]
        fh["first_frames"] = first_test[rows]
        fh["flow/target"] = d["flow_test"][rows]
        if truth is not None:
            fh["flow/truth"] = truth["flow"][rows]
            fh["object_mask"] = truth["mask"][rows]
        for name, flows in decoded.items():
            fh[f"flow/{name}"] = flows[rows]
        fh.attrs["units"] = "pixels per frame of the clip"


STAGES = (
    StageSpec(
        "motion",
        "decode optical flow from fMRI (ridge, codebook) and animate it",
        MotionConfig,
        run,
        report=lambda out: f"motion: wrote {out.results}",
    ),
)
