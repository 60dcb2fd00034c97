"""The voxelwise-encoding sections: per-ROI tables, bar charts and accuracy maps.

Reads ``neurodecode evaluate``'s per-ROI table (its sidecar names the score maps it
summarised) and ``neurodecode encode``'s per-ROI tables (r, noise-normalised score and 2 vs 2
accuracy per ROI and feature space).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from neurodecode._io import read_json
from neurodecode._provenance import sidecar_path
from neurodecode.report._elements import img_tag, table_html
from neurodecode.report._sections import Section, SectionContext, SectionSpec, register_section

__all__ = ["best_feature_spaces", "encoding_section", "encoding_two_vs_two_section"]

_ROI_COLUMNS = (
    "roi", "feature_space", "n_voxels", "mean", "ci_low", "ci_high", "noise_ceiling",
    "ceiling_fraction",
)  # fmt: skip


def best_feature_spaces(table: Any) -> Any:
    """Return the best feature space per ROI (highest mean score) as a DataFrame.

    Uses the ``best`` column when the table has one (``neurodecode evaluate`` marks it),
    otherwise the row with the highest ``mean`` per ROI.
    """
    if "best" in table.columns:
        best = table[table["best"].astype(bool)]
    else:
        best = table.loc[table.groupby("roi", sort=False)["mean"].idxmax()]
    return best.reset_index(drop=True)


def _score_maps(table_path: Path) -> dict[str, Path]:
    side = sidecar_path(table_path)
    if not side.is_file():
        return {}
    scores = read_json(side).get("config", {}).get("scores", {})
    return {space: Path(p) for space, p in scores.items()}


def encoding_section(context: SectionContext) -> Section | None:
    """Best space per ROI, ROI bars with noise ceilings, the table and accuracy maps."""
    import pandas as pd

    from neurodecode.report._figures import roi_bar_png, score_map_png

    tables = context.of("evaluate")
    if not tables:
        return None
    parts, sources = [], []
    for table_path in tables:
        table = pd.read_csv(table_path, sep="\t")
        metric = str(table["metric"].iloc[0]) if "metric" in table and len(table) else "score"
        columns = [c for c in _ROI_COLUMNS if c in table.columns]
        best = best_feature_spaces(table)
        bars = roi_bar_png(table, metric=metric)
        parts += [
            f'<p class="meta">metric: {html.escape(metric)} on held-out test stimuli</p>',
            "<h3>Best feature space per ROI</h3>",
            table_html(best.to_dict("records"), [c for c in columns if c != "n_voxels"], left=2),
            "<h3>Accuracy per ROI</h3>",
            f"<figure>{img_tag(bars, 'ROI accuracy bars')}<figcaption>Mean "
            f"{html.escape(metric)} over each ROI's voxels per feature space; error bars: 95% "
            "confidence intervals; dashed lines: mean noise ceiling of the ROI in the same "
            "units.</figcaption></figure>",
            table_html(table.to_dict("records"), columns, left=2, highlight="best"),
            "<h3>Accuracy maps</h3>",
        ]
        maps = _score_maps(table_path)
        for space, path in maps.items():
            png = score_map_png(path, context.background, title=f"{space}: {metric}")
            parts.append(
                f"<figure>{img_tag(png, f'{space} accuracy map')}<figcaption>"
                f"{html.escape(space)}: voxelwise held-out {html.escape(metric)} "
                f"({html.escape(Path(path).name)})</figcaption></figure>"
            )
        if not maps:
            parts.append("<p>No score maps.</p>")
        sources += [table_path, *maps.values()]
    return Section("encoding", "Voxelwise encoding", "\n".join(parts), tuple(sources))


def encoding_two_vs_two_section(context: SectionContext) -> Section | None:
    """Per feature space and ROI: r, noise-normalised score and 2 vs 2 accuracy with CIs."""
    import pandas as pd

    tables = [p for p in context.of("encode") if p.name.endswith("_rois.tsv")]
    if not tables:
        return None
    rows = []
    for path in tables:
        table = pd.read_csv(path, sep="\t")
        space = path.name.split("_desc-", 1)[1].removesuffix("_rois.tsv")
        for rec in table.to_dict("records"):
            rows.append(
                {
                    "feature space": space,
                    "roi": rec["roi"],
                    "n voxels": rec["n_voxels"],
                    "r": rec["r_mean"],
                    "noise-normalised (%)": rec["noisenorm_mean"],
                    "2 vs 2": rec.get("two_vs_two", float("nan")),
                    "2 vs 2 95% CI": f"[{rec.get('two_vs_two_ci_low', float('nan')):.3f}, "
                    f"{rec.get('two_vs_two_ci_high', float('nan')):.3f}]",
                    "n test": rec.get("n_test_images", ""),
                }
            )
    body = (
        '<p class="meta">From each encoding model\'s own ROI table: mean Pearson r and the '
        "noise-normalised score over the ROI's voxels, and 2 vs 2 accuracy of the predicted "
        "response patterns over those voxels (all pairs of test stimuli; chance 0.5; 95% CI a "
        "bootstrap over test stimuli).</p>" + table_html(rows, list(rows[0]), left=2)
    )
    return Section("two-vs-two", "Encoding models per ROI (r, 2 vs 2)", body, tuple(tables))


register_section(SectionSpec("encoding", ("evaluate",), encoding_section, order=10))
register_section(SectionSpec("two-vs-two", ("encode",), encoding_two_vs_two_section, order=20))
