"""Figures of the per-subject report, rendered to PNG bytes for embedding.

matplotlib and nilearn are imported inside the functions: ``import neurodecode.report`` stays
cheap, and the Agg backend is selected before pyplot is first imported so that rendering never
needs a display.
"""

from __future__ import annotations

import gc
import io
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["retrieval_curves_png", "roi_bar_png", "score_map_png"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _to_png(fig, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    _pyplot().close(fig)
    return buf.getvalue()


def score_map_png(
    score_map: str | os.PathLike[str] | Any,
    background: str | os.PathLike[str] | None,
    *,
    title: str,
    vmax: float | None = None,
    threshold: float | None = None,
    n_cuts: int = 6,
) -> bytes:
    """Render a voxelwise accuracy map over the subject's anatomy as axial slices.

    Parameters
    ----------
    score_map : path-like or nibabel.Nifti1Image
        NIfTI image of per-voxel scores on the subject's functional grid.
    background : path-like or None
        Anatomical underlay on the same grid (the release's ``mean`` or ``brainmask`` image).
        Without one the map is drawn on a blank background.
    title : str
        Figure title.
    vmax : float, optional
        Upper end of the colour scale; by default the 99th percentile of positive scores,
        so that a few extreme voxels do not wash the map out.
    threshold : float, optional
        Scores with an absolute value below this are not drawn; by default none are hidden
        except exact zeros (voxels outside the analysed mask).
    n_cuts : int
        Number of axial slices.

    Returns
    -------
    bytes
        The PNG image.
    """
    import nibabel as nib
    import numpy as np
    from nilearn import plotting

    img = score_map if isinstance(score_map, nib.Nifti1Image) else nib.load(os.fspath(score_map))
    data = np.asarray(img.dataobj, dtype=np.float32)
    finite = data[np.isfinite(data) & (data != 0)]
    if vmax is None:
        positive = finite[finite > 0]
        vmax = float(np.percentile(positive, 99)) if positive.size else 1.0
    vmax = max(vmax, 1e-6)
    img = nib.Nifti1Image(np.nan_to_num(data, nan=0.0), img.affine)
    # bg_img=None draws no underlay (nilearn 0.14 rejects bg_img=False)
    bg = nib.load(os.fspath(background)) if background is not None else None
    cuts = _axial_cuts(bg if bg is not None else img, n_cuts)
    plt = _pyplot()
    fig = plt.figure(figsize=(11, 2.6))
    # nilearn runs a full garbage collection on every image access; with the objects already
    # alive kept out of it (gc.freeze) each one costs microseconds instead of ~0.15 s
    gc.freeze()
    try:
        display = plotting.plot_stat_map(
            img,
            bg_img=bg,
            display_mode="z",
            cut_coords=cuts,
            threshold=threshold if threshold is not None else 1e-9,
            vmax=vmax,
            cmap="inferno",
            symmetric_cbar=False,
            colorbar=True,
            black_bg=False,
            draw_cross=False,
            annotate=True,
            title=title,
            figure=fig,
        )
    finally:
        gc.unfreeze()
    png = _to_png(fig)
    display.close()
    return png


def _axial_cuts(img, n_cuts: int) -> list[float]:
    """World z of ``n_cuts`` slices spread evenly over the image's non-zero extent.

    Every map of a subject is cut at the same slices (taken from the shared underlay), so
    maps of different feature spaces can be compared side by side.
    """
    import numpy as np

    data = np.asarray(img.dataobj)
    data = data.reshape((*data.shape[:3], -1))[..., 0]
    ks = np.flatnonzero(np.any(np.nan_to_num(data) != 0, axis=(0, 1)))
    lo, hi = (int(ks[0]), int(ks[-1])) if ks.size else (0, data.shape[2] - 1)
    n = max(1, min(n_cuts, hi - lo + 1))
    slices = np.unique(np.round(np.linspace(lo, hi, n + 2)[1:-1]).astype(int))
    return [float((img.affine @ np.array([0.0, 0.0, k, 1.0]))[2]) for k in slices]


def roi_bar_png(
    table: pd.DataFrame, *, metric: str, roi_order: Sequence[str] | None = None
) -> bytes:
    """Grouped bars of mean ROI accuracy per feature space, with CIs and noise ceilings.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per (roi, feature_space) with columns ``mean``, ``ci_low``, ``ci_high`` and
        optionally ``noise_ceiling`` (same units as ``mean``).
    metric : str
        Axis label for the score.
    roi_order : sequence of str, optional
        ROI order on the x axis; by default the order of first appearance in ``table``.

    Returns
    -------
    bytes
        The PNG image.
    """
    import numpy as np

    plt = _pyplot()
    rois = list(roi_order) if roi_order is not None else list(dict.fromkeys(table["roi"]))
    spaces = list(dict.fromkeys(table["feature_space"]))
    width = 0.8 / max(len(spaces), 1)
    x = np.arange(len(rois), dtype=float)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.75 * len(rois) + 2.5), 3.8))
    cmap = plt.get_cmap("tab10")
    for i, space in enumerate(spaces):
        sub = table[table["feature_space"] == space].set_index("roi").reindex(rois)
        mean = sub["mean"].to_numpy(dtype=float)
        err = np.vstack(
            [
                mean - sub["ci_low"].to_numpy(dtype=float),
                sub["ci_high"].to_numpy(dtype=float) - mean,
            ]
        )
        ax.bar(
            x - 0.4 + width * (i + 0.5),
            mean,
            width=width,
            yerr=np.clip(np.nan_to_num(err), 0, None),
            capsize=2,
            color=cmap(i % 10),
            label=space,
        )
    if "noise_ceiling" in table.columns:
        ceiling = table.groupby("roi", sort=False)["noise_ceiling"].first().reindex(rois)
        for xi, nc in zip(x, ceiling.to_numpy(dtype=float), strict=True):
            if np.isfinite(nc):
                ax.hlines(nc, xi - 0.45, xi + 0.45, colors="black", linestyles="dashed", lw=1.2)
        ax.plot([], [], "k--", lw=1.2, label="noise ceiling")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(x, rois, rotation=45, ha="right")
    ax.set_ylabel(metric)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return _to_png(fig)


def retrieval_curves_png(data: Mapping[str, Any], *, max_k: int = 50) -> bytes:
    """Top-k retrieval accuracy against k, both directions, every model, with chance.

    Parameters
    ----------
    data : Mapping
        :func:`neurodecode.report._retrieval.retrieval_report_data` output: ``curves`` (model
        -> direction -> top-k fractions for k = 1..n_way) and ``table`` (for ``n_way``).
    max_k : int
        Largest k drawn.

    Returns
    -------
    bytes
        The PNG image.
    """
    plt = _pyplot()
    n_way = int(data["table"][0]["n_way"])
    ks = range(1, min(max_k, n_way) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), sharey=True)
    for ax, direction in zip(axes, ("image_given_brain", "brain_given_image"), strict=True):
        for model, curves in data["curves"].items():
            curve = curves[direction][: len(ks)]
            ax.plot(range(1, len(curve) + 1), [100 * v for v in curve], label=model)
        ax.plot(ks, [100 * k / n_way for k in ks], "k:", label="chance")
        ax.set_title(direction.replace("_", " "))
        ax.set_xlabel("k")
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_ylabel(f"top-k accuracy (%), {n_way}-way")
    axes[1].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return _to_png(fig)
