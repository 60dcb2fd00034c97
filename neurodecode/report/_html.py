"""The per-subject HTML report: one self-contained file (figures embedded as data URIs).

The report only reads stage outputs: the per-ROI table written by ``neurodecode evaluate``,
the voxelwise score maps written by ``neurodecode encode``, an anatomical underlay from the
release, optionally the retrieval results of ``neurodecode contrastive`` (with example images
from the release), and the JSON sidecars of every input for provenance. It loads nothing from the
network, runs no script and so opens offline in any browser.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import html
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from neurodecode._io import atomic_write, read_json

__all__ = ["ReportInputs", "best_feature_spaces", "render_subject_report"]

_CSS = " ".join(
    (
        "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1d1d1f;",
        "padding:0 1rem}h1{font-size:1.6rem;margin-bottom:.2rem}",
        "h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}.meta{color:#555}",
        "table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}",
        "th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}th{background:#f5f5f7}",
        "td.l,th.l{text-align:left}tr.best td{font-weight:600}img{max-width:100%;height:auto}",
        "figure{margin:1rem 0}figcaption{color:#555;font-size:.85rem}",
        "details pre{background:#f5f5f7;padding:.5rem;overflow:auto;font-size:.75rem;",
        "max-height:24rem}",
        "table.thumbs td{text-align:center;font-size:.75rem;vertical-align:top}",
        "table.thumbs td.hit img{outline:3px solid #2a9d2a;outline-offset:-3px}",
        "table.thumbs td.q{background:#f5f5f7}",
    )
)


@dataclasses.dataclass(frozen=True)
class ReportInputs:
    """What a subject report is built from.

    Parameters
    ----------
    subject : str
        Subject label as the dataset spells it (``subj01``, ``CSI1``).
    roi_table : Path
        Tab-separated per-ROI table from ``neurodecode evaluate``: columns ``roi``,
        ``feature_space``, ``metric``, ``n_voxels``, ``mean``, ``ci_low``, ``ci_high`` and
        optionally ``noise_ceiling``, ``ceiling_fraction``, ``best``.
    score_maps : Mapping[str, Path]
        Feature space name -> voxelwise score NIfTI on the subject's functional grid.
    background : Path or None
        Anatomical underlay on the same grid (the subject's mean EPI or brain mask).
    provenance : Sequence[Path]
        JSON sidecars of the outputs the report summarises.
    dataset : str
        Dataset name shown in the title.
    contrastive : Path or None
        ``*_desc-contrastive_retrieval.json`` from ``neurodecode contrastive``; adds the
        retrieval section when given.
    stimuli : object, optional
        Stimulus source of the subject (``images(ids, size=(H, W))``, e.g.
        :attr:`neurodecode.data.Subject.stimuli`) for the example retrievals; without one they
        list stimulus ids only.
    """

    subject: str
    roi_table: Path
    score_maps: Mapping[str, Path]
    background: Path | None = None
    provenance: Sequence[Path] = ()
    dataset: str = ""
    contrastive: Path | None = None
    stimuli: Any = None


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


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _fmt(value: Any, digits: int = 3) -> str:
    if isinstance(value, float):
        return "n/a" if value != value else f"{value:.{digits}f}"
    return html.escape(str(value))


def _table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    left: int = 1,
    highlight: str | None = None,
) -> str:
    head = "".join(
        f'<th class="{"l" if i < left else ""}">{html.escape(c)}</th>'
        for i, c in enumerate(columns)
    )
    body = []
    for row in rows:
        cls = ' class="best"' if highlight and bool(row.get(highlight)) else ""
        cells = "".join(
            f'<td class="{"l" if i < left else ""}">{_fmt(row.get(c, ""))}</td>'
            for i, c in enumerate(columns)
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _provenance_section(paths: Sequence[Path]) -> str:
    rows, details = [], []
    for path in paths:
        try:
            record = read_json(path)
        except (OSError, ValueError) as exc:
            rows.append({"output": Path(path).name, "stage": f"unreadable: {exc}"})
            continue
        rows.append(
            {
                "output": Path(path).name,
                "stage": record.get("stage", ""),
                "version": record.get("package_version", ""),
                "seed": record.get("seed", ""),
                "split hash": (record.get("split_hash") or "")[:12],
                "device": record.get("device", ""),
                "wall time (s)": record.get("wall_time_s", float("nan")),
                "peak memory (MiB)": record.get("peak_memory_mb", float("nan")),
            }
        )
        details.append(
            f"<details><summary>{html.escape(Path(path).name)}</summary><pre>"
            f"{html.escape(json.dumps(record, indent=2, sort_keys=True))}</pre></details>"
        )
    columns = [
        "output",
        "stage",
        "version",
        "seed",
        "split hash",
        "device",
        "wall time (s)",
        "peak memory (MiB)",
    ]
    return _table(rows, columns, left=2) + "".join(details)


def render_subject_report(
    inputs: ReportInputs, out: str | os.PathLike[str], *, progress: bool = True
) -> Path:
    """Render the self-contained HTML report of one subject and write it atomically.

    Parameters
    ----------
    inputs : ReportInputs
        Stage outputs to summarise.
    out : path-like
        Destination ``.html`` file.
    progress : bool
        Show a progress bar over the figures.

    Returns
    -------
    Path
        ``out``.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from neurodecode import __version__
    from neurodecode.report._figures import roi_bar_png, score_map_png

    table = pd.read_csv(inputs.roi_table, sep="\t")
    metric = str(table["metric"].iloc[0]) if "metric" in table.columns and len(table) else "score"

    steps = tqdm(
        total=len(inputs.score_maps) + 1 + (inputs.contrastive is not None),
        desc=f"report {inputs.subject}",
        disable=not progress,
        unit="fig",
    )
    maps_html = []
    for space, path in inputs.score_maps.items():
        png = score_map_png(path, inputs.background, title=f"{space}: {metric}")
        maps_html.append(
            f"<figure>{_img(png, f'{space} accuracy map')}<figcaption>{html.escape(space)}: "
            f"voxelwise held-out {html.escape(metric)} ({html.escape(Path(path).name)})"
            "</figcaption></figure>"
        )
        steps.update()
    bars = roi_bar_png(table, metric=metric)
    steps.update()
    retrieval = ""
    if inputs.contrastive is not None:
        from neurodecode.report._retrieval import retrieval_section_html

        retrieval = retrieval_section_html(inputs.contrastive, inputs.stimuli)
        steps.update()
    steps.close()

    best = best_feature_spaces(table)
    roi_columns = [
        c
        for c in (
            "roi",
            "feature_space",
            "n_voxels",
            "mean",
            "ci_low",
            "ci_high",
            "noise_ceiling",
            "ceiling_fraction",
        )
        if c in table.columns
    ]
    title = f"{inputs.dataset} {inputs.subject}".strip()
    when = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>neurodecode report: {html.escape(title)}</title><style>{_CSS}</style></head>
<body><h1>Encoding report: {html.escape(title)}</h1>
<p class="meta">neurodecode {html.escape(__version__)} &middot; generated {when} &middot;
metric: {html.escape(metric)} on held-out test stimuli</p>
<h2>Best feature space per ROI</h2>
{_table(best.to_dict("records"), [c for c in roi_columns if c != "n_voxels"], left=2)}
<h2>Accuracy per ROI</h2>
<figure>{_img(bars, "ROI accuracy bars")}<figcaption>Mean {html.escape(metric)} over each ROI's
voxels per feature space; error bars: 95% confidence intervals; dashed lines: mean noise ceiling
of the ROI in the same units.</figcaption></figure>
{_table(table.to_dict("records"), roi_columns, left=2, highlight="best")}
<h2>Accuracy maps</h2>
{"".join(maps_html) or "<p>No score maps.</p>"}
{retrieval}
<h2>Run provenance</h2>
{_provenance_section(list(inputs.provenance))}
</body></html>
"""
    with atomic_write(out, "w", encoding="utf-8") as fh:
        fh.write(doc)
    return Path(out)
