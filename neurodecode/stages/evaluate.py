"""``neurodecode evaluate``: per-ROI summary of voxelwise encoding scores.

For every ROI label and feature space: number of voxels, mean score, a percentile bootstrap
confidence interval of that mean (voxels resampled with replacement; seeded, the same resamples
for every feature space), the ROI's mean noise ceiling in the score's units and the fraction of
it reached, and which feature space is best in the ROI. Inputs are volumes on the subject's
functional grid: the score maps written by ``neurodecode encode``, ROIs and a noise-ceiling
volume in percent variance explained (NSD's convention). ROIs come as label volumes
(``--atlases``; NSD's convention: -1 outside the brain, 0 unlabelled, 1..K labels, names from a
``ctab`` file read by the release reader's strict parser) and/or as named binary masks
(``--masks NAME=NIFTI[,NIFTI...]``; BOLD5000's one file per hemisphere and ROI, voxels > 0
inside; several files make one ROI of their union). The table is written atomically as TSV
with a sidecar.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neurodecode.stages._contract import StageConfig, StageOutputs, StageSpec, option

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["STAGES", "EvaluateConfig", "EvaluateOutputs", "run", "summarize_rois"]

COLUMNS = (
    "roi", "atlas", "feature_space", "metric", "n_voxels", "mean", "ci_low", "ci_high",
    "noise_ceiling", "ceiling_fraction", "best",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class EvaluateConfig(StageConfig):
    """Settings of ``neurodecode evaluate``.

    Parameters
    ----------
    scores : Mapping[str, Path]
        Voxelwise score maps, SPACE=NIFTI per feature space.
    out : Path
        Output TSV.
    atlases : tuple of Path
        ROI label volumes (names from ctab files given with --labels).
    masks : Mapping[str, tuple of Path]
        Binary ROI masks, NAME=NIFTI[,NIFTI...] (> 0 inside; several files: their union).
    metric : str
        What the score maps hold, r or r2 (sets the units of the noise ceiling).
    noise_ceiling : Path or None
        Noise-ceiling volume in percent variance explained.
    labels : Mapping[str, Path]
        Label names of the atlases, ATLAS=CTAB (atlas: the volume's file name without .nii.gz).
    n_bootstrap : int
        Bootstrap resamples of the confidence intervals.
    ci : float
        Confidence level of the intervals.
    seed : int
        Seed of the bootstrap.
    """

    scores: Mapping[str, Path] = option(metavar="SPACE=NIFTI")
    out: Path = option()
    atlases: tuple[Path, ...] = ()
    masks: Mapping[str, tuple[Path, ...]] = option(
        default_factory=dict, metavar="NAME=NIFTI[,NIFTI...]"
    )
    metric: str = option("r", choices=("r", "r2"))
    noise_ceiling: Path | None = None
    labels: Mapping[str, Path] = option(default_factory=dict, metavar="ATLAS=CTAB")
    n_bootstrap: int = option(1000, minimum=1)
    ci: float = option(0.95, above=0, below=1)
    seed: int = option(0, minimum=0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.scores:
            raise ValueError("--scores: give at least one SPACE=NIFTI score map")
        if not self.atlases and not self.masks:
            raise ValueError("evaluate: no ROIs; give label volumes (--atlases) or --masks")
        for name, paths in self.masks.items():
            if not paths:
                raise ValueError(f"--masks {name}: no files")


@dataclasses.dataclass(frozen=True)
class EvaluateOutputs(StageOutputs):
    """The per-ROI table."""

    table: Path


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
    """Summarise voxelwise scores per ROI (through :func:`neurodecode.metrics.roi_summary`).

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
        Seed of the bootstrap (the voxels scored in every space are resampled, identically for
        every feature space).

    Returns
    -------
    pandas.DataFrame
        One row per (roi, feature_space) with the columns of ``COLUMNS``.
    """
    import numpy as np
    import pandas as pd

    from neurodecode.metrics import roi_summary

    if metric not in ("r", "r2"):
        raise ValueError(f"metric must be 'r' or 'r2', got {metric!r}")
    ceiling = (
        _ceiling_in_metric_units(np.asarray(noise_ceiling, dtype=float), metric)
        if noise_ceiling is not None
        else None
    )
    values = {s: np.asarray(v, dtype=float) for s, v in scores.items()}
    valid = np.logical_and.reduce([np.isfinite(v) for v in values.values()])
    masks = {roi: np.asarray(m, dtype=bool) & valid for roi, m in rois.items()}
    masks = {roi: m for roi, m in masks.items() if m.any()}
    per_space = {
        s: roi_summary(v, masks, n_bootstrap=n_bootstrap, level=ci, seed=seed)
        for s, v in values.items()
    }
    rows = []
    for roi, mask in masks.items():
        nc = float(np.nanmean(ceiling[mask])) if ceiling is not None else math.nan
        means = {s: per_space[s][roi].value for s in values}
        best = max(means, key=means.__getitem__)
        for space in values:
            est = per_space[space][roi]
            rows.append(
                {
                    "roi": roi,
                    "atlas": (atlas_of or {}).get(roi, ""),
                    "feature_space": space,
                    "metric": metric,
                    "n_voxels": est.n,
                    "mean": est.value,
                    "ci_low": est.ci_low,
                    "ci_high": est.ci_high,
                    "noise_ceiling": nc,
                    "ceiling_fraction": est.value / nc if nc > 0 else math.nan,
                    "best": space == best,
                }
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _stem(path: Path) -> str:
    return Path(path).name.split(".nii")[0]


def _load_rois(
    atlases: Sequence[Path],
    labels: Mapping[str, Path],
    masks: Mapping[str, Sequence[Path]] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """ROI name -> boolean volume, and ROI name -> atlas (or mask file stems joined by ``+``)."""
    import numpy as np

    from neurodecode.data._volumes import read_ctab, read_volume

    rois: dict[str, Any] = {}
    atlas_of: dict[str, str] = {}
    for path in atlases:
        atlas = _stem(path)
        data = np.rint(read_volume(path)[0]).astype(np.int32)
        names = read_ctab(labels[atlas]) if atlas in labels else {}
        for k in sorted(int(v) for v in np.unique(data) if v > 0):
            name = names.get(k, f"{atlas}-{k}")
            rois[name] = data == k
            atlas_of[name] = atlas
    for name, paths in (masks or {}).items():
        if name in rois:
            raise ValueError(f"mask {name!r}: an atlas label of that name exists already")
        # ``> 0``: binary 0/1 masks, and label-style volumes whose -1 marks outside the brain
        volumes = [read_volume(p)[0] > 0 for p in paths]
        if len({v.shape for v in volumes}) > 1:
            raise ValueError(f"mask {name!r}: the files are on different grids")
        rois[name] = np.logical_or.reduce(volumes)
        atlas_of[name] = "+".join(_stem(p) for p in paths)
    return rois, atlas_of


def run(config: EvaluateConfig) -> EvaluateOutputs:
    """Read the volumes, summarise them and write the TSV and its sidecar."""
    import numpy as np

    from neurodecode._io import read_json
    from neurodecode._outputs import StageRun
    from neurodecode._provenance import sidecar_path
    from neurodecode.data._volumes import read_volume

    inputs = [*config.scores.values(), *config.atlases, *config.labels.values()]
    inputs += [p for paths in config.masks.values() for p in paths]
    if config.noise_ceiling is not None:
        inputs.append(config.noise_ceiling)
    with StageRun("evaluate", config, [config.out], inputs, seed=config.seed) as job:
        if job.up_to_date:
            return EvaluateOutputs(config.out)
        scores = {s: read_volume(p)[0] for s, p in config.scores.items()}
        for s, p in config.scores.items():
            scores[s][scores[s] == 0] = np.nan  # zero = outside the encoded voxels
            upstream = sidecar_path(p)
            if upstream.is_file() and job.record.split_hash is None:
                job.record.split_hash = read_json(upstream).get("split_hash")
        rois, atlas_of = _load_rois(config.atlases, config.labels, config.masks)
        shapes = {v.shape for v in scores.values()} | {v.shape for v in rois.values()}
        if len(shapes) > 1:
            raise ValueError(f"score maps and ROIs are on different grids: {sorted(shapes)}")
        nc = read_volume(config.noise_ceiling)[0] if config.noise_ceiling is not None else None
        table = summarize_rois(
            scores, rois, metric=config.metric, noise_ceiling=nc, atlas_of=atlas_of,
            n_bootstrap=config.n_bootstrap, ci=config.ci, seed=config.seed,
        )  # fmt: skip
        with open(job.path(config.out), "w", encoding="utf-8", newline="") as fh:
            table.to_csv(fh, sep="\t", index=False, float_format="%.6g")
    return EvaluateOutputs(config.out)


STAGES = (StageSpec("evaluate", "per-ROI table of voxelwise encoding scores", EvaluateConfig, run),)
