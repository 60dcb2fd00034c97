"""The contrastive-retrieval section of the subject report.

It reads what ``neurodecode contrastive`` wrote (``*_desc-contrastive_retrieval.json``): top-1
retrieval in both directions with the confidence interval over random candidate draws, the
top-k curves and a few example queries with their top-5 retrieved stimulus ids. Nothing is
recomputed here; the example images are read through a stimulus source (``.images(ids,
size=(H, W))``, e.g. :attr:`neurodecode.data.Subject.stimuli`) and embedded as PNG data URIs.
"""

from __future__ import annotations

import html
import os
from typing import Any

from neurodecode._io import read_json
from neurodecode.report._elements import img_tag as _img
from neurodecode.report._elements import table_html as _table
from neurodecode.report._elements import thumbnail_png as _thumbnail_png
from neurodecode.report._sections import Section, SectionContext, SectionSpec, register_section

__all__ = ["retrieval_report_data", "retrieval_section", "retrieval_section_html"]

_MODELS = {
    "contrastive": "contrastive encoder",
    "ridge_baseline": "ridge baseline (voxels -> CLIP)",
    "text": "contrastive encoder, text head",
}
_DIRECTIONS = ("image_given_brain", "brain_given_image")
#: Side of the example thumbnails, in pixels.
THUMBNAIL = 96


def retrieval_report_data(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What the report shows, from a ``*_desc-contrastive_retrieval.json``.

    Parameters
    ----------
    path : path-like
        Retrieval file written by ``neurodecode contrastive``.

    Returns
    -------
    dict
        ``table``: one row per (model, direction) with ``top1``, ``ci_low``, ``ci_high``,
        ``chance`` (fractions), ``n_way``, ``n_samples`` (test stimuli the draws come from) and
        ``n_draws``; ``curves``: model -> direction -> top-k list (k = 1..n_way); ``examples``:
        query stimulus id and its top-5 retrieved stimulus ids, best first; ``ablation``:
        per-ROI rows (empty without ``--ablation``); and the run's ``subject``, ``roi``,
        ``n_voxels``, ``n_train_trials``, ``n_test_stimuli`` and ``space``.
    """
    res = read_json(path)
    table: list[dict[str, Any]] = []
    curves: dict[str, dict[str, list[float]]] = {}
    for model in (m for m in _MODELS if m in res):
        r = res[model]
        curves[model] = {}
        for direction in _DIRECTIONS:
            table.append(
                {
                    "model": model,
                    "direction": direction,
                    "top1": r[direction],
                    "ci_low": r[f"{direction}_ci"][0],
                    "ci_high": r[f"{direction}_ci"][1],
                    "chance": r["chance"],
                    "n_way": r["n_way"],
                    "n_samples": r["n_samples"],
                    "n_draws": r["n_draws"],
                }
            )
            curves[model][direction] = r[f"topk_{direction}"]
    if not table:
        raise ValueError(f"{path}: no retrieval results (keys: {sorted(res)})")
    keys = ("subject", "roi", "n_voxels", "n_train_trials", "n_test_stimuli", "space")
    return {
        **{k: res.get(k) for k in keys},
        "table": table,
        "curves": curves,
        "examples": res.get("examples", []),
        "ablation": res.get("ablation", []),
    }


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def _example_images(examples: list[dict[str, Any]], stimuli: Any) -> dict[int, str]:
    """Stimulus id -> ``<img>`` tag of every stimulus shown in the examples."""
    ids = sorted({e["query_stim_id"] for e in examples} | {
        i for e in examples for i in e["retrieved_stim_ids"]
    })  # fmt: skip
    if not ids:
        return {}
    images = stimuli.images(ids, size=(THUMBNAIL, THUMBNAIL))
    return {
        i: _img(_thumbnail_png(img), f"stimulus {i}") for i, img in zip(ids, images, strict=True)
    }


def _examples_html(examples: list[dict[str, Any]], stimuli: Any, n_candidates: Any) -> str:
    tags = _example_images(examples, stimuli) if stimuli is not None else {}
    k = max((len(e["retrieved_stim_ids"]) for e in examples), default=0)
    head = "".join(f"<th>top-{j}</th>" for j in range(1, k + 1))
    rows = []
    for e in examples:
        query = int(e["query_stim_id"])
        cells = [f'<td class="q">{tags.get(query, "")}<br>seen: {query}</td>']
        for stim in e["retrieved_stim_ids"]:
            cls = "hit" if int(stim) == query else ""
            cells.append(f'<td class="{cls}">{tags.get(int(stim), "")}<br>{int(stim)}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    note = (
        ""
        if stimuli is not None
        else "<p>Images not shown: no stimulus source was given (pass the prepared cache with "
        "<code>--cache</code>); the numbers are stimulus ids.</p>"
    )
    return (
        f'{note}<table class="thumbs"><thead><tr><th>query (seen image)</th>{head}</tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table><p class="meta">Each row: the image the subject '
        f"saw, then the five test images whose CLIP embeddings are closest (cosine) to the "
        f"brain embedding of that trial average, ranked among all {html.escape(str(n_candidates))}"
        " test stimuli; a green frame marks the seen image.</p>"
    )


def retrieval_section_html(
    path: str | os.PathLike[str], stimuli: Any = None, *, max_k: int = 50
) -> str:
    """The ``Contrastive retrieval`` section (HTML fragment) of a subject report.

    Parameters
    ----------
    path : path-like
        Retrieval file written by ``neurodecode contrastive``.
    stimuli : object, optional
        Stimulus source with ``images(ids, size=(H, W))`` returning uint8 RGB arrays; without
        one the examples list stimulus ids only.
    max_k : int
        Largest k drawn on the top-k curves.

    Returns
    -------
    str
        HTML with the table, the embedded top-k figure and the example retrievals.
    """
    from neurodecode.report._figures import retrieval_curves_png

    data = retrieval_report_data(path)
    rows = [
        {
            "model": _MODELS[r["model"]],
            "direction": r["direction"].replace("_", " "),
            "top-1 (%)": _pct(r["top1"]),
            "95% CI (%)": f"[{_pct(r['ci_low'])}, {_pct(r['ci_high'])}]",
            "chance (%)": _pct(r["chance"]),
            "n-way": r["n_way"],
            "n test stimuli": r["n_samples"],
            "draws": r["n_draws"],
        }
        for r in data["table"]
    ]
    first = data["table"][0]
    capped = (
        " Here n-way is capped at the number of test stimuli, so every draw holds all of them."
        if first["n_way"] >= first["n_samples"]
        else ""
    )
    curves = _img(retrieval_curves_png(data, max_k=max_k), "top-k retrieval curves")
    roi = data["roi"] or "whole prepared brain"
    parts = [
        f'<p class="meta">Voxels: {html.escape(str(roi))} ({_fmt_int(data["n_voxels"])}); '
        f"trained on {_fmt_int(data['n_train_trials'])} single trials, tested on "
        f"{_fmt_int(data['n_test_stimuli'])} test stimuli (repeats averaged). Top-1 is the "
        f"mean over {first['n_draws']} random draws of {first['n_way']} candidates; the 95% CI "
        f"is a bootstrap over the test stimuli (each one's hit rate over its draws).{capped}</p>",
        _table(rows, list(rows[0]), left=2),
        f"<figure>{curves}<figcaption>Top-k accuracy against k in both directions: "
        "<em>image given brain</em> ranks the candidate images for a brain embedding, "
        "<em>brain given image</em> ranks the candidate brain embeddings for an image; "
        "dotted: chance (k / n-way).</figcaption></figure>",
    ]
    if data["ablation"]:
        columns = [
            "roi",
            "n_voxels",
            "mode",
            "image_given_brain",
            "brain_given_image",
            "drop_image_given_brain",
            "drop_brain_given_image",
        ]
        parts += [
            "<h3>ROI ablation (top-1 with the ROI removed)</h3>",
            _table(data["ablation"], columns, left=1),
        ]
    if data["examples"]:
        parts += [
            "<h3>Example retrievals</h3>",
            _examples_html(data["examples"], stimuli, data["n_test_stimuli"]),
        ]
    return "\n".join(parts)


def _fmt_int(value: Any) -> str:
    return "?" if value is None else f"{int(value):,}"


def retrieval_section(context: SectionContext) -> Section | None:
    """The section of every retrieval file the report was given."""
    files = [p for p in context.of("contrastive") if p.name.endswith("_retrieval.json")]
    if not files:
        return None
    body = "\n".join(retrieval_section_html(p, context.stimuli) for p in files)
    return Section("retrieval", "Contrastive retrieval (fMRI \u2192 CLIP)", body, tuple(files))


register_section(SectionSpec("retrieval", ("contrastive",), retrieval_section, order=30))
