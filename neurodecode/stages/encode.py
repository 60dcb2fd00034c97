"""``neurodecode encode``: fit a voxelwise ridge encoder on the training split, score on test.

Reads the prepared cache of one subject and one or more feature files (one feature space per
file, keyed by stimulus id). One feature space fits :class:`~neurodecode.encoders.RidgeEncoder`;
several fit :class:`~neurodecode.encoders.BandedRidgeEncoder`. The model is fitted on single
training trials (folds grouped by stimulus, so repeats never straddle a split) and scored on
the repeat-averaged test split against the noise ceiling of that average.

Outputs in ``--out`` (BIDS-derivatives names; ``D`` is the ``desc`` label):

* ``sub-S_space-X_desc-D_stat-{r,r2,noisenorm,alpha,noiseceiling}_statmap.nii.gz`` (the
  noise ceiling, in % variance, is that of the repeat-averaged test data) and, for banded ridge,
  ``stat-share<space>`` maps: per-voxel maps in the subject's space (via ``unmask``);
* ``sub-S_desc-D_model.h5``: coefficients, intercepts, alphas, feature names, split hash;
* ``sub-S_desc-D_rois.tsv``: per ROI, n voxels, mean r / noise-normalised score with 95% CIs,
  mean noise ceiling, and the best feature space;
* a JSON sidecar beside every file. Existing complete outputs are not recomputed.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["EncodeConfig", "register", "run"]


@dataclasses.dataclass(frozen=True)
class EncodeConfig:
    """Settings of the encode stage (CLI flags map one to one)."""

    subject: str
    cache: Path
    features: tuple[str, ...]
    out: Path
    space: str | None = None
    desc: str | None = None
    n_splits: int = 5
    alphas: tuple[float, ...] = tuple(np.logspace(-2, 6, 17).tolist())
    n_iter: int = 20
    seed: int = 0
    n_bootstrap: int = 1000
    chunk_size: int = 8192
    device: str = "cpu"

    @property
    def label(self) -> str:
        """The BIDS ``desc`` label: alphanumeric only."""
        raw = self.desc or "".join(_alnum(Path(f).stem) for f in self.features)
        return _alnum(raw) or "encoding"


def _alnum(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text)


class _RowView:
    """Rows of a memory-mapped matrix, read column chunk by column chunk (never whole)."""

    def __init__(self, matrix: np.ndarray, rows: np.ndarray) -> None:
        self.matrix, self.rows = matrix, rows
        self.shape = (len(rows), matrix.shape[1])

    def __getitem__(self, key):
        rows, cols = key
        if rows != slice(None):
            raise IndexError("a row view is read by column chunks: view[:, cols]")
        if isinstance(cols, slice):
            return self.matrix[self.rows, cols]
        return self.matrix[np.ix_(self.rows, np.asarray(cols))]


def resolve_feature_path(name: str, cache: Path) -> Path:
    """A feature file given as a path, or by name under ``CACHE/features/<name>.h5``."""
    path = Path(name)
    if path.suffix == ".h5" and path.exists():
        return path
    candidate = cache / "features" / f"{name}.h5"
    if candidate.exists():
        return candidate
    raise FileNotFoundError(
        f"feature set {name!r}: neither a file nor {candidate}; "
        "run `neurodecode features --model NAME` first"
    )


def _load_features(paths: Sequence[Path], stim_ids: np.ndarray) -> tuple[np.ndarray, list[int]]:
    from neurodecode.features import read_features

    blocks = [read_features(p, stim_ids=stim_ids)[1].astype(np.float32) for p in paths]
    return np.hstack(blocks), [b.shape[1] for b in blocks]


def _outputs(config: EncodeConfig, spaces: Sequence[str]) -> dict[str, Path]:
    stem = f"sub-{config.subject}"
    maps = {
        stat: config.out
        / f"{stem}_space-{config.space}_desc-{config.label}_stat-{stat}_statmap.nii.gz"
        for stat in ("r", "r2", "noisenorm", "alpha", "noiseceiling")
    }
    if len(spaces) > 1:
        for space in spaces:
            stat = f"share{_alnum(space)}"
            maps[stat] = config.out / (
                f"{stem}_space-{config.space}_desc-{config.label}_stat-{stat}_statmap.nii.gz"
            )
    maps["model"] = config.out / f"{stem}_desc-{config.label}_model.h5"
    maps["rois"] = config.out / f"{stem}_desc-{config.label}_rois.tsv"
    return maps


def run(config: EncodeConfig) -> dict[str, Path]:
    """Fit, score and write every output of the stage; returns the output paths.

    ``config.space`` None means the grid of the subject's only prepared cache.
    """
    from neurodecode._provenance import RunRecord, sidecar_path
    from neurodecode.data import load_prepared
    from neurodecode.stages.features import prepared_space

    space = config.space or prepared_space(config.cache, config.subject)
    config = dataclasses.replace(config, space=space)
    paths = [resolve_feature_path(f, config.cache) for f in config.features]
    spaces = [p.stem for p in paths]
    outputs = _outputs(config, spaces)
    if all(p.exists() and sidecar_path(p).exists() for p in outputs.values()):
        return outputs  # complete from an earlier run
    prep = load_prepared(config.cache, config.subject, space)
    record = RunRecord(stage="encode", config=config, seed=config.seed, split_hash=prep.split_hash)

    train_rows = prep.split("train")
    train_ids = prep.trials["stim_id"].to_numpy()[train_rows]
    X_train, sizes = _load_features(paths, train_ids)
    model = _fit(config, X_train, _RowView(prep.betas, train_rows), train_ids, sizes, spaces)

    Y_test, test_ids = prep.select(split="test", average_repeats=True)
    X_test, _ = _load_features(paths, test_ids)
    ceiling = (
        prep.noise_ceiling(None)
        if prep.ncsnr is not None
        else np.full(prep.n_voxels, np.nan, dtype=np.float32)
    )
    stats = _score(model, X_test, Y_test, ceiling, spaces)
    record.extra.update(
        {
            "feature_spaces": spaces,
            "feature_files": [str(p) for p in paths],
            "n_train_trials": len(train_rows),
            "n_test_images": len(test_ids),
        }
    )
    _write(config, prep, model, stats, outputs, spaces, record, paths)
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


def _score(model, X, Y, noise_ceiling, spaces) -> dict[str, np.ndarray]:
    from neurodecode.metrics import noise_normalized_score, pearson_r_voxels, r2_score_voxels

    pred = model.predict(X)
    r = pearson_r_voxels(Y, pred)
    stats = {
        "r": r,
        "r2": r2_score_voxels(Y, pred),
        "noisenorm": noise_normalized_score(r, noise_ceiling),
        "alpha": np.asarray(model.best_alphas_, dtype=np.float64),
        "noise_ceiling": noise_ceiling,
        "noiseceiling": noise_ceiling,
    }
    if len(spaces) > 1:
        shares = model.score_split(X, Y)
        for k, space in enumerate(spaces):
            stats[f"share{_alnum(space)}"] = shares[k]
        stats["best_space"] = np.where(
            np.all(np.isnan(shares), axis=0), -1, np.argmax(np.nan_to_num(shares, nan=-np.inf), 0)
        )
    return stats


def roi_table(prep, stats: dict[str, np.ndarray], spaces: Sequence[str], *, seed: int, n_boot: int):
    """Per-ROI summary rows (n, mean r and noise-normalised score with 95% CIs, best space)."""
    import pandas as pd

    from neurodecode.metrics import bootstrap_mean

    rows: list[dict[str, Any]] = []
    for name, mask in prep.rois.items():
        if not mask.any():
            continue
        r = bootstrap_mean(stats["r"][mask], n_bootstrap=n_boot, seed=seed)
        nn = bootstrap_mean(stats["noisenorm"][mask], n_bootstrap=n_boot, seed=seed)
        row: dict[str, Any] = {
            "roi": name,
            "n_voxels": int(mask.sum()),
            "r_mean": r.value,
            "r_ci_low": r.ci_low,
            "r_ci_high": r.ci_high,
            "noisenorm_mean": nn.value,
            "noisenorm_ci_low": nn.ci_low,
            "noisenorm_ci_high": nn.ci_high,
            "noisenorm_median": float(np.nanmedian(stats["noisenorm"][mask])),
            "n_scored": nn.n,
            "noise_ceiling_mean": float(np.nanmean(stats["noise_ceiling"][mask])),
        }
        if "best_space" in stats:
            best = stats["best_space"][mask]
            counts = np.bincount(best[best >= 0], minlength=len(spaces))
            row["best_space"] = spaces[int(np.argmax(counts))] if counts.sum() else ""
            for space in spaces:
                row[f"share_{space}"] = float(np.nanmean(stats[f"share{_alnum(space)}"][mask]))
        else:
            row["best_space"] = spaces[0]
        rows.append(row)
    return pd.DataFrame(rows)


def _write(config, prep, model, stats, outputs, spaces, record, feature_paths) -> None:
    import h5py
    import nibabel as nib

    from neurodecode._io import atomic_output_path, atomic_write

    inputs = [prep.paths.betas, *feature_paths]
    for stat, path in outputs.items():
        if stat in ("model", "rois"):
            continue
        with atomic_output_path(path) as tmp:
            nib.save(prep.unmask(np.nan_to_num(stats[stat], nan=0.0)), tmp)
        record.write(path, inputs)
    with atomic_output_path(outputs["model"]) as tmp, h5py.File(tmp, "w") as fh:
        fh["coef"] = model.coef_
        fh["intercept"] = model.intercept_
        fh["alphas"] = model.best_alphas_
        if hasattr(model, "space_weights_"):
            fh["space_weights"] = model.space_weights_
        fh.attrs["feature_spaces"] = list(spaces)
        fh.attrs["split_hash"] = prep.split_hash
        fh.attrs["estimator"] = type(model).__name__
    record.write(outputs["model"], inputs)
    table = roi_table(prep, stats, spaces, seed=config.seed, n_boot=config.n_bootstrap)
    with atomic_write(outputs["rois"], "w", encoding="utf-8") as fh:
        table.to_csv(fh, sep="\t", index=False, float_format="%.6g")
    record.write(outputs["rois"], inputs)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("encode", help="fit a voxelwise ridge encoder and score it")
    p.add_argument("--subject", required=True)
    p.add_argument("--cache", type=Path, required=True, help="--out of neurodecode prepare")
    p.add_argument("--features", required=True, help="comma-separated feature names or .h5 files")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--space", default=None, help="grid label of the cache (default: the subject's only one)"
    )
    p.add_argument("--desc", help="BIDS desc label of the outputs (default: from the names)")
    p.add_argument("--n-splits", type=int, default=5)
    p.add_argument("--n-iter", type=int, default=20, help="banded ridge random-search draws")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="'cpu' (numpy) or a torch device such as 'cuda'")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    config = EncodeConfig(
        subject=args.subject,
        cache=args.cache,
        features=tuple(f for f in args.features.split(",") if f),
        out=args.out,
        space=args.space,
        desc=args.desc,
        n_splits=args.n_splits,
        n_iter=args.n_iter,
        seed=args.seed,
        device=args.device,
    )
    outputs = run(config)
    print(f"encode: wrote {outputs['rois']}")
    return 0
