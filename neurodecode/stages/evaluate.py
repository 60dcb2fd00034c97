"""``neurodecode evaluate``: per-ROI summary of voxelwise encoding scores.

For every ROI label and feature space: number of voxels, mean score, a percentile bootstrap
confidence interval of that mean (voxels resampled with replacement; seeded), the ROI's mean
noise ceiling in the score's units and the fraction of it reached, and which feature space is
best in the ROI. Inputs are volumes on the subject's functional grid: the score maps written by
``neurodecode encode``, ROIs and a noise-ceiling volume in percent variance explained (NSD's
convention). ROIs come as label volumes (``--atlas``; NSD's convention: -1 outside the brain, 0
unlabelled, 1..K labels, names from a ``ctab`` file) and/or as named binary masks (``--mask
NAME=NIFTI[,NIFTI...]``; BOLD5000's one file per hemisphere and ROI, voxels > 0 inside; several
files make one ROI of their union, e.g. both hemispheres). The table is written atomically as
TSV with a sidecar.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "EvaluateConfig",
    "parse_mask_specs",
    "parse_name_paths",
    "read_ctab",
    "register",
    "run",
    "summarize_rois",
]

COLUMNS = (
    "roi", "atlas", "feature_space", "metric", "n_voxels", "mean", "ci_low", "ci_high",
    "noise_ceiling", "ceiling_fraction", "best",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class EvaluateConfig:
    """Settings of ``neurodecode evaluate`` (defaults < YAML ``--config`` < CLI flags).

    Parameters
    ----------
    scores : Mapping[str, Path]
        Feature space -> voxelwise score NIfTI.
    out : Path
        Output TSV.
    atlases : Sequence[Path]
        ROI label volumes; each may have a ctab file of label names beside the release's.
    masks : Mapping[str, Sequence[Path]]
        ROI name -> binary mask volumes (voxels > 0 are inside); the ROI is their union.
        At least one atlas or mask is needed.
    metric : {"r", "r2"}
        What the score maps hold; sets the units the noise ceiling is converted to.
    noise_ceiling : Path, optional
        Noise-ceiling volume in percent variance explained.
    labels : Mapping[str, Path]
        Atlas file name -> ctab file with its label names.
    n_bootstrap, ci, seed
        Bootstrap resamples, confidence level and seed of the confidence intervals.
    """

    scores: Mapping[str, Path]
    out: Path
    atlases: Sequence[Path] = ()
    masks: Mapping[str, Sequence[Path]] = dataclasses.field(default_factory=dict)
    metric: str = "r"
    noise_ceiling: Path | None = None
    labels: Mapping[str, Path] = dataclasses.field(default_factory=dict)
    n_bootstrap: int = 1000
    ci: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.atlases and not self.masks:
            raise ValueError("evaluate: no ROIs; give label volumes (atlases) or masks")


def read_ctab(path: str | Path) -> dict[int, str]:
    """Label id -> name from a FreeSurfer-style ``ctab`` file (``ID name ...`` per line)."""
    names: dict[int, str] = {}
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].lstrip("-").isdigit():
            names[int(parts[0])] = parts[1]
    return names


def _ceiling_in_metric_units(nc_percent: np.ndarray, metric: str) -> np.ndarray:
    import numpy as np

    frac = np.clip(nc_percent / 100.0, 0.0, 1.0)
    return np.sqrt(frac) if metric == "r" else frac


def summarize_rois(
    scores: Mapping[str, np.ndarray],
    rois: Mapping[str, np.ndarray],
    *,
    metric: str = "r",
    noise_ceiling: np.ndarray | None = None,
    atlas_of: Mapping[str, str] | None = None,
    n_bootstrap: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Summarise voxelwise scores per ROI.

    Parameters
    ----------
    scores : Mapping[str, ndarray]
        Feature space -> scores, all of one shape (volume or voxel vector); NaN = not scored.
    rois : Mapping[str, ndarray of bool]
        ROI name -> mask of the same shape.
    metric : {"r", "r2"}
        Units of ``scores``.
    noise_ceiling : ndarray, optional
        Per-voxel noise ceiling in percent variance explained; converted to the metric's units
        (``sqrt(nc/100)`` for r, ``nc/100`` for r2) and averaged over the ROI.
    atlas_of : Mapping[str, str], optional
        ROI name -> atlas name (copied to the table).
    n_bootstrap : int
        Bootstrap resamples of the ROI's voxels for the confidence interval of the mean.
    ci : float
        Confidence level.
    seed : int
        Seed of the bootstrap (the same voxel resamples are used for every feature space).

    Returns
    -------
    pandas.DataFrame
        One row per (roi, feature_space) with the columns of ``COLUMNS``.
    """
    import numpy as np
    import pandas as pd

    if metric not in ("r", "r2"):
        raise ValueError(f"metric must be 'r' or 'r2', got {metric!r}")
    ceiling = (
        _ceiling_in_metric_units(np.asarray(noise_ceiling, dtype=float), metric)
        if noise_ceiling is not None
        else None
    )
    rng = np.random.default_rng(seed)
    alpha = (1 - ci) / 2
    rows = []
    for roi, mask in rois.items():
        mask = np.asarray(mask, dtype=bool)
        values = {s: np.asarray(v, dtype=float)[mask] for s, v in scores.items()}
        valid = np.logical_and.reduce([np.isfinite(v) for v in values.values()])
        n = int(valid.sum())
        if n == 0:
            continue
        idx = rng.integers(0, n, size=(n_bootstrap, n))
        nc = float(np.nanmean(ceiling[mask][valid])) if ceiling is not None else math.nan
        means = {}
        for space, v in values.items():
            v = v[valid]
            boot = v[idx].mean(axis=1)
            means[space] = float(v.mean())
            rows.append(
                {
                    "roi": roi,
                    "atlas": (atlas_of or {}).get(roi, ""),
                    "feature_space": space,
                    "metric": metric,
                    "n_voxels": n,
                    "mean": means[space],
                    "ci_low": float(np.quantile(boot, alpha)),
                    "ci_high": float(np.quantile(boot, 1 - alpha)),
                    "noise_ceiling": nc,
                    "ceiling_fraction": means[space] / nc if nc > 0 else math.nan,
                    "best": False,
                }
            )
        best = max(means, key=means.__getitem__)
        for row in rows[-len(values) :]:
            row["best"] = row["feature_space"] == best
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _stem(path: Path) -> str:
    return Path(path).name.split(".nii")[0]


def _load_rois(
    atlases: Sequence[Path],
    labels: Mapping[str, Path],
    masks: Mapping[str, Sequence[Path]] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """ROI name -> boolean volume, and ROI name -> atlas (or mask file stems joined by ``+``)."""
    import nibabel as nib
    import numpy as np

    rois: dict[str, Any] = {}
    atlas_of: dict[str, str] = {}
    for path in atlases:
        atlas = _stem(path)
        data = np.asarray(nib.load(path).dataobj)
        names = read_ctab(labels[atlas]) if atlas in labels else {}
        for k in sorted(int(v) for v in np.unique(data) if v > 0):
            name = names.get(k, f"{atlas}-{k}")
            rois[name] = data == k
            atlas_of[name] = atlas
    for name, paths in (masks or {}).items():
        if name in rois:
            raise ValueError(f"mask {name!r}: an atlas label of that name exists already")
        if not paths:
            raise ValueError(f"mask {name!r}: no files")
        # ``> 0``: binary 0/1 masks, and label-style volumes whose -1 marks outside the brain
        volumes = [np.asarray(nib.load(p).dataobj) > 0 for p in paths]
        if len({v.shape for v in volumes}) > 1:
            raise ValueError(f"mask {name!r}: the files are on different grids")
        rois[name] = np.logical_or.reduce(volumes)
        atlas_of[name] = "+".join(_stem(p) for p in paths)
    return rois, atlas_of


def run(config: EvaluateConfig) -> Path:
    """Read the volumes, summarise them and write the TSV and its sidecar."""
    import nibabel as nib
    import numpy as np

    from neurodecode._io import atomic_write
    from neurodecode._provenance import RunRecord, sidecar_path

    record = RunRecord(stage="evaluate", config=config, seed=config.seed)
    scores = {
        s: np.asarray(nib.load(p).dataobj, dtype=np.float32) for s, p in config.scores.items()
    }
    for s, p in config.scores.items():
        scores[s][scores[s] == 0] = np.nan  # zero = outside the encoded voxels
        upstream = sidecar_path(p)
        if upstream.is_file() and record.split_hash is None:
            from neurodecode._io import read_json

            record.split_hash = read_json(upstream).get("split_hash")
    rois, atlas_of = _load_rois(config.atlases, config.labels, config.masks)
    shapes = {v.shape for v in scores.values()} | {v.shape for v in rois.values()}
    if len(shapes) > 1:
        raise ValueError(f"score maps and ROIs are on different grids: {sorted(shapes)}")
    nc = (
        np.asarray(nib.load(config.noise_ceiling).dataobj, dtype=np.float32)
        if config.noise_ceiling is not None
        else None
    )
    table = summarize_rois(
        scores, rois, metric=config.metric, noise_ceiling=nc, atlas_of=atlas_of,
        n_bootstrap=config.n_bootstrap, ci=config.ci, seed=config.seed,
    )  # fmt: skip
    with atomic_write(config.out, "w", encoding="utf-8", newline="") as fh:
        table.to_csv(fh, sep="\t", index=False, float_format="%.6g")
    inputs = [*config.scores.values(), *config.atlases, *config.labels.values()]
    inputs += [p for paths in config.masks.values() for p in paths]
    if config.noise_ceiling is not None:
        inputs.append(config.noise_ceiling)
    record.write(config.out, inputs=inputs)
    return config.out


def parse_name_paths(items: Sequence[str], what: str) -> dict[str, Path]:
    """``["a=x.nii.gz", ...]`` -> ``{"a": Path("x.nii.gz")}``; ``what`` names the flag in errors."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"{what}: expected NAME=PATH, got {item!r}")
        out[key] = Path(value)
    return out


def parse_mask_specs(items: Sequence[str]) -> dict[str, list[Path]]:
    """``["PPA=lh.nii.gz,rh.nii.gz"]`` -> ``{"PPA": [Path("lh.nii.gz"), Path("rh.nii.gz")]}``."""
    out: dict[str, list[Path]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        paths = [Path(v) for v in value.split(",") if v]
        if not sep or not key or not paths:
            raise ValueError(f"--mask: expected NAME=NIFTI[,NIFTI...], got {item!r}")
        if key in out:
            raise ValueError(f"--mask: ROI {key!r} given twice")
        out[key] = paths
    return out


def register(subparsers: Any) -> None:
    """Add ``neurodecode evaluate``."""
    p = subparsers.add_parser("evaluate", help="per-ROI table of voxelwise encoding scores")
    p.add_argument("--config", type=Path, help="YAML with any of the settings below")
    p.add_argument("--scores", nargs="+", metavar="SPACE=NIFTI", help="score maps")
    p.add_argument("--atlas", nargs="+", type=Path, default=None, help="ROI label volumes")
    p.add_argument("--labels", nargs="*", metavar="ATLAS=CTAB", default=None)
    p.add_argument(
        "--mask", nargs="+", metavar="NAME=NIFTI[,NIFTI...]", default=None,
        help="binary ROI masks (> 0 inside); comma-joined files form one ROI (their union)",
    )  # fmt: skip
    p.add_argument("--noise-ceiling", type=Path, help="noise ceiling volume (% variance)")
    p.add_argument("--metric", choices=("r", "r2"))
    p.add_argument("--n-bootstrap", type=int)
    p.add_argument("--ci", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--out", type=Path, help="output TSV")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    import yaml

    settings: dict[str, Any] = {}
    if args.config:
        settings.update(yaml.safe_load(args.config.read_text()) or {})
    flags = {
        "scores": parse_name_paths(args.scores, "--scores") if args.scores else None,
        "atlases": args.atlas,
        "labels": parse_name_paths(args.labels, "--labels") if args.labels else None,
        "masks": parse_mask_specs(args.mask) if args.mask else None,
        "noise_ceiling": args.noise_ceiling,
        "metric": args.metric,
        "n_bootstrap": args.n_bootstrap,
        "ci": args.ci,
        "seed": args.seed,
        "out": args.out,
    }
    settings.update({k: v for k, v in flags.items() if v is not None})
    if isinstance(settings.get("masks"), Mapping):  # YAML: NAME: path or NAME: [paths]
        settings["masks"] = {
            k: [Path(p) for p in ([v] if isinstance(v, str) else v)]
            for k, v in settings["masks"].items()
        }
    try:
        config = EvaluateConfig(**settings)
    except (TypeError, ValueError) as exc:
        print(f"neurodecode evaluate: {exc}", file=sys.stderr)
        return 2
    print(run(config))
    return 0
