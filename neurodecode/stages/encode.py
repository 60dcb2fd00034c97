"""``neurodecode encode``: fit a voxelwise ridge encoder on the training split, score on test.

Reads the prepared cache of one subject and one or more feature files (one feature space per
file, keyed by stimulus id). One feature space fits :class:`~neurodecode.encoders.RidgeEncoder`;
several fit :class:`~neurodecode.encoders.BandedRidgeEncoder`. The model is fitted on single
training trials (folds grouped by stimulus, so repeats never straddle a split) and scored on
the repeat-averaged test split against the noise ceiling of that average. Stimuli missing from
a feature file (e.g. BOLD5000 images without captions, for a text space) are left out, and
the sidecar counts the trials dropped.

Outputs in ``--out`` (BIDS-derivatives names; ``D`` is the ``desc`` label):

* ``sub-S_space-X_desc-D_stat-{r,r2,noisenorm,alpha,noiseceiling}_statmap.nii.gz`` (the
  noise ceiling, in % variance, is that of the repeat-averaged test data) and, for banded ridge,
  ``stat-share<space>`` maps: per-voxel maps in the subject's space (via ``unmask``);
* ``sub-S_desc-D_model/``: the fitted encoder (``config.json`` + ``model.safetensors``; load it
  with ``RidgeEncoder.load`` / ``BandedRidgeEncoder.load``);
* ``sub-S_desc-D_rois.tsv``: per ROI, n voxels, mean r / noise-normalised score with 95% CIs,
  2 vs 2 accuracy over the ROI's voxels with its CI (bootstrap over test stimuli), mean noise
  ceiling, and the best feature space;
* a JSON sidecar beside every output.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode.stages._contract import StageConfig, StageOutputs, StageSpec, fill_doc, option
from neurodecode.stages.features import desc_label, feature_path

__all__ = ["STAGES", "EncodeConfig", "EncodeOutputs", "resolve_feature_path", "roi_table", "run"]

_DEFAULT_ALPHAS = tuple(np.logspace(-2, 6, 17).tolist())
_BASE_STATS = ("r", "r2", "noisenorm", "alpha", "noiseceiling")


@fill_doc
@dataclasses.dataclass(frozen=True)
class EncodeConfig(StageConfig):
    """Settings of ``neurodecode encode``.

    Parameters
    ----------
    subject : str
        %(subject)s
    cache : Path
        %(cache)s
    features : tuple of str
        Feature spaces: names of the subject's feature files, or .h5 paths (several: banded ridge).
    out : Path
        Output folder.
    space : str or None
        %(space)s
    desc : str or None
        BIDS desc label of the outputs (default: from the feature names).
    n_splits : int
        Cross-validation folds (grouped by stimulus).
    alphas : tuple of float
        Candidate ridge penalties (one is chosen per voxel).
    n_iter : int
        Banded ridge: random draws of the per-space weights.
    seed : int
        Seed of the banded-ridge draws and of the bootstrap intervals.
    n_bootstrap : int
        Bootstrap resamples of the per-ROI confidence intervals.
    chunk_size : int
        Voxels fitted at once (bounds memory).
    device : str
        'cpu' (numpy) or a torch device such as 'cuda'.
    """

    subject: str = option(pattern=r"[A-Za-z0-9]+")
    cache: Path = option()
    features: tuple[str, ...] = option(metavar="NAME")
    out: Path = option()
    space: str | None = option(None, pattern=r"[A-Za-z0-9]+")
    desc: str | None = option(None, pattern=r"[A-Za-z0-9]+")
    n_splits: int = option(5, minimum=2)
    alphas: tuple[float, ...] = option(_DEFAULT_ALPHAS, above=0)
    n_iter: int = option(20, minimum=1)
    seed: int = option(0, minimum=0)
    n_bootstrap: int = option(1000, minimum=1)
    chunk_size: int = option(8192, minimum=1)
    device: str = "cpu"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.features:
            raise ValueError("--features: give at least one feature space")

    @property
    def label(self) -> str:
        """The BIDS ``desc`` label: alphanumeric only (default: the feature spaces' names)."""
        raw = self.desc or "".join(space_name(f, self.subject) for f in self.features)
        return desc_label(raw) or "encoding"


def space_name(feature: str, subject: str) -> str:
    """A feature space's name: a name as given, or the ``desc`` of a subject's feature file."""
    stem = Path(feature).name.removesuffix(".h5")
    return desc_label(stem.removeprefix(f"sub-{subject}_desc-").removesuffix("_features"))


@dataclasses.dataclass(frozen=True)
class EncodeOutputs(StageOutputs):
    """Score maps by statistic, the saved encoder and the per-ROI table."""

    maps: dict[str, Path]
    model: Path
    rois: Path

    def __getitem__(self, key: str) -> Path:
        if key in ("model", "rois"):
            return self.model if key == "model" else self.rois
        return self.maps[key]

    def __contains__(self, key: str) -> bool:
        return key in ("model", "rois") or key in self.maps


def resolve_feature_path(name: str, cache: Path, subject: str) -> Path:
    """A feature file given as a path, or by name (the subject's default feature path)."""
    path = Path(name)
    if path.suffix == ".h5" and path.exists():
        return path
    candidate = feature_path(cache, subject, name)
    if candidate.exists():
        return candidate
    raise FileNotFoundError(
        f"feature set {name!r}: neither a file nor {candidate}; "
        f"run `neurodecode features --subject {subject} --model NAME` first"
    )


def _outputs(config: EncodeConfig, space: str, spaces: Sequence[str]) -> EncodeOutputs:
    stem = f"sub-{config.subject}"
    stats = list(_BASE_STATS) + (
        [f"share{desc_label(s)}" for s in spaces] if len(spaces) > 1 else []
    )
    maps = {
        stat: config.out / f"{stem}_space-{space}_desc-{config.label}_stat-{stat}_statmap.nii.gz"
        for stat in stats
    }
    return EncodeOutputs(
        maps=maps,
        model=config.out / f"{stem}_desc-{config.label}_model",
        rois=config.out / f"{stem}_desc-{config.label}_rois.tsv",
    )


def _common_ids(paths: Sequence[Path]) -> np.ndarray:
    from neurodecode.features import feature_file_info

    ids = None
    for p in paths:
        have = np.asarray(feature_file_info(p)["stim_ids"], dtype=np.int64)
        ids = have if ids is None else np.intersect1d(ids, have)
    return np.asarray(ids)


def _load_features(paths: Sequence[Path], stim_ids: np.ndarray) -> tuple[np.ndarray, list[int]]:
    from neurodecode.features import read_features

    blocks = [read_features(p, stim_ids=stim_ids)[1].astype(np.float32) for p in paths]
    return np.hstack(blocks), [b.shape[1] for b in blocks]


def run(config: EncodeConfig) -> EncodeOutputs:
    """Fit, score and write every output of the stage (or find them current)."""
    from neurodecode._outputs import StageRun
    from neurodecode.data import load_prepared

    prep = load_prepared(config.cache, config.subject, config.space)
    paths = [resolve_feature_path(f, config.cache, config.subject) for f in config.features]
    spaces = [space_name(str(p), config.subject) for p in paths]
    outputs = _outputs(config, prep.space, spaces)
    with StageRun(
        "encode", config, outputs.files(), [prep.paths.sidecar, *paths], seed=config.seed,
        device=config.device, split_hash=prep.split_hash,
    ) as job:  # fmt: skip
        if job.up_to_date:
            return outputs
        stim = prep.trials["stim_id"].to_numpy()
        has = np.isin(stim, _common_ids(paths))
        train_rows = prep.split("train")
        dropped = int((~has[train_rows]).sum())
        train_rows = train_rows[has[train_rows]]
        train_ids = stim[train_rows]
        X_train, sizes = _load_features(paths, train_ids)
        model = _fit(config, X_train, prep.rows(train_rows), train_ids, sizes, spaces)

        test_rows = prep.split("test")
        dropped += int((~has[test_rows]).sum())
        Y_test, test_ids = prep.select(split="test", average_repeats=True)
        keep = np.isin(test_ids, stim[test_rows[has[test_rows]]])
        Y_test, test_ids = Y_test[keep], test_ids[keep]
        X_test, _ = _load_features(paths, test_ids)
        ceiling = (
            prep.noise_ceiling(None)
            if prep.ncsnr is not None
            else np.full(prep.n_voxels, np.nan, dtype=np.float32)
        )
        pred = model.predict(X_test)
        stats = _score(model, X_test, Y_test, pred, ceiling, spaces)
        job.record.extra.update(
            {
                "feature_spaces": spaces,
                "feature_files": [str(p) for p in paths],
                "n_train_trials": len(train_rows),
                "n_test_images": len(test_ids),
                "n_trials_without_features": dropped,
            }
        )
        _write(job, config, prep, model, stats, outputs, spaces, Y_test, pred)
    return outputs


def _fit(config, X, Y, groups, sizes, spaces):
    from neurodecode.encoders import BandedRidgeEncoder, RidgeEncoder

    if len(sizes) == 1:
        # On "cpu" numpy does the algebra; any other device runs it through torch there.
        model = RidgeEncoder(
            alphas=config.alphas,
            n_splits=config.n_splits,
            chunk_size=config.chunk_size,
            backend="numpy" if config.device == "cpu" else "torch",
            device=config.device,
        )
    else:
        model = BandedRidgeEncoder(
            space_sizes=sizes,
            space_names=spaces,
            n_iter=config.n_iter,
            alphas=config.alphas,
            n_splits=config.n_splits,
            chunk_size=config.chunk_size,
            random_state=config.seed,
        )
    return model.fit(X, Y, groups=groups)


def _score(model, X, Y, pred, noise_ceiling, spaces) -> dict[str, np.ndarray]:
    from neurodecode.metrics import noise_normalized_score, pearson_r_voxels, r2_score_voxels

    r = pearson_r_voxels(Y, pred)
    stats = {
        "r": r,
        "r2": r2_score_voxels(Y, pred),
        "noisenorm": noise_normalized_score(r, noise_ceiling),
        "alpha": np.asarray(model.best_alphas_, dtype=np.float64),
        "noiseceiling": noise_ceiling,
    }
    if len(spaces) > 1:
        shares = model.score_split(X, Y)
        for k, space in enumerate(spaces):
            stats[f"share{desc_label(space)}"] = shares[k]
        stats["best_space"] = np.where(
            np.all(np.isnan(shares), axis=0), -1, np.argmax(np.nan_to_num(shares, nan=-np.inf), 0)
        )
    return stats


def roi_table(
    rois: dict[str, np.ndarray],
    stats: dict[str, np.ndarray],
    spaces: Sequence[str],
    Y_test: np.ndarray,
    pred: np.ndarray,
    *,
    seed: int,
    n_boot: int,
):
    """Per-ROI summary rows: n, mean r and noise-normalised score, 2 vs 2, best space."""
    import pandas as pd

    from neurodecode.metrics import roi_summary, two_vs_two

    masks = {name: m for name, m in rois.items() if m.any()}
    r = roi_summary(stats["r"], masks, n_bootstrap=n_boot, seed=seed)
    nn = roi_summary(stats["noisenorm"], masks, n_bootstrap=n_boot, seed=seed)
    rows: list[dict[str, Any]] = []
    for name, mask in masks.items():
        scored = mask & np.isfinite(stats["r"])
        tvt = (
            two_vs_two(Y_test[:, scored], pred[:, scored], n_bootstrap=n_boot, seed=seed)
            if scored.sum() >= 2 and len(Y_test) >= 2
            else None
        )
        row: dict[str, Any] = {
            "roi": name,
            "n_voxels": int(mask.sum()),
            "r_mean": r[name].value,
            "r_ci_low": r[name].ci_low,
            "r_ci_high": r[name].ci_high,
            "noisenorm_mean": nn[name].value,
            "noisenorm_ci_low": nn[name].ci_low,
            "noisenorm_ci_high": nn[name].ci_high,
            "noisenorm_median": float(np.nanmedian(stats["noisenorm"][mask]))
            if np.isfinite(stats["noisenorm"][mask]).any()
            else float("nan"),
            "n_scored": nn[name].n,
            "noise_ceiling_mean": float(np.nanmean(stats["noiseceiling"][mask]))
            if np.isfinite(stats["noiseceiling"][mask]).any()
            else float("nan"),
            "two_vs_two": tvt.value if tvt else float("nan"),
            "two_vs_two_ci_low": tvt.ci_low if tvt else float("nan"),
            "two_vs_two_ci_high": tvt.ci_high if tvt else float("nan"),
            "n_test_images": len(Y_test),
        }
        if "best_space" in stats:
            best = stats["best_space"][mask]
            counts = np.bincount(best[best >= 0], minlength=len(spaces))
            row["best_space"] = spaces[int(np.argmax(counts))] if counts.sum() else ""
            for space in spaces:
                row[f"share_{space}"] = float(np.nanmean(stats[f"share{desc_label(space)}"][mask]))
        else:
            row["best_space"] = spaces[0]
        rows.append(row)
    return pd.DataFrame(rows)


def _write(job, config, prep, model, stats, outputs, spaces, Y_test, pred) -> None:
    import nibabel as nib

    for stat, path in outputs.maps.items():
        nib.save(prep.unmask(np.nan_to_num(stats[stat], nan=0.0)), job.path(path))
    model.save(job.path(outputs.model, directory=True))
    table = roi_table(
        prep.rois, stats, spaces, Y_test, pred, seed=config.seed, n_boot=config.n_bootstrap
    )
    with open(job.path(outputs.rois), "w", encoding="utf-8") as fh:
        table.to_csv(fh, sep="\t", index=False, float_format="%.6g")


STAGES = (
    StageSpec(
        "encode",
        "fit a voxelwise ridge encoder and score it",
        EncodeConfig,
        run,
        report=lambda out: f"encode: wrote {out.rois}",
    ),
)
