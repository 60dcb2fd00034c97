"""Report section of ``neurodecode dive``: images synthesised to drive each ROI (BrainDiVE)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode.report._elements import image_grid, table_html
from neurodecode.report._sections import Section, SectionContext, SectionSpec, register_section

__all__ = ["dive_rows", "dive_section"]

_SHOWN = 8  # images per grid row


def _ci(entry: dict[str, Any] | None) -> str:
    if not entry:
        return ""
    return f"{entry['value']:.3f} [{entry['ci_low']:.3f}, {entry['ci_high']:.3f}]"


def dive_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (target, image set): n, predicted, true and category scores."""
    rows = []
    for t in result["targets"]:
        nat = t["natural"]
        sets = [(f"guided (scale {t['guided']['guidance_scale']:g})", t["guided"])]
        if "control" in t:
            sets.append(("control (scale 0)", t["control"]))
        for label, e in sets:
            row = {"target": t["name"], "images": label, "n": e["n"],
                   "predicted": _ci(e["predicted"])}  # fmt: skip
            if result.get("synthetic"):
                row["true"] = _ci(e.get("true"))
                row["natural p90 (true)"] = f"{nat['true_p90']:.3f}"
                if len(t["rois"]) > 1:
                    row["true per ROI"] = ", ".join(f"{n} {v['value']:.3f}"
                                                    for n, v in e["true_roi"].items())  # fmt: skip
                if t["category"]:
                    row["category read"] = f"{t['category']}: {_ci(e.get('category'))}"
            rows.append(row)
        row = {"target": t["name"], "images": f"natural: the {len(nat['top_ids'])} driving it "
               "most (measured)", "n": len(nat["top_ids"]),
               "predicted": _ci(nat["top_predicted"])}  # fmt: skip
        if result.get("synthetic"):
            row["true"] = _ci(nat.get("top_true"))
            row["natural p90 (true)"] = f"{nat['true_p90']:.3f}"
        rows.append(row)
    return rows


def _label(pred: float, true: np.ndarray | None, k: int, measured: float | None = None) -> str:
    parts = [f"pred {pred:.2f}"]
    if measured is not None:
        parts.append(f"meas {measured:.2f}")
    if true is not None:
        parts.append(f"true {float(true[k]):.2f}")
    return " / ".join(parts)


def _grids(result: dict[str, Any], images: Any) -> str:
    out = []
    for k, t in enumerate(result["targets"]):
        rows, header = [], [f"{t['name']}: image {i + 1}" for i in range(_SHOWN)]
        for arm in ("guided", "control"):
            key = f"{k}_{arm}_images"
            if key not in images:
                continue
            pred, true = images[f"{k}_{arm}_predicted"], images.get(f"{k}_{arm}_true")
            order = np.argsort(-pred, kind="stable")[:_SHOWN]
            rows.append([(images[key][i], f"{arm}: " + _label(pred[i], true, i)) for i in order])
        key = f"{k}_natural_top_images"
        if key in images:
            pred, true = images[f"{k}_natural_top_predicted"], images.get(f"{k}_natural_top_true")
            meas, ids = images[f"{k}_natural_top_measured"], images[f"{k}_natural_top_ids"]
            rows.append([(images[key][i], f"stimulus {int(ids[i])}: "
                          + _label(pred[i], true, i, float(meas[i])))
                         for i in range(min(_SHOWN, len(ids)))])  # fmt: skip
        width = max(len(r) for r in rows) if rows else 0
        rows = [r + [(None, "")] * (width - len(r)) for r in rows]
        if rows:
            out.append(image_grid(rows, header[:width]))
    return "\n".join(out)


def dive_section_html(path: Path) -> str:
    """The HTML of one ``*_desc-dive_results.json`` (with its ``_images.npz`` beside it)."""
    result = json.loads(Path(path).read_text(encoding="utf-8"))
    s = result["sampler"]
    truth = (" On this synthetic release every image is also scored by the simulated brain's "
             "true (noise-free) response and read by the toy CLIP (zero-shot) for the "
             "category the ROI's voxels are tuned to; the threshold is the 90th percentile of "
             "the true responses to the subject's natural stimuli." if result.get("synthetic")
             else "")  # fmt: skip
    parts = [
        f'<p class="meta">Diffusion model {html.escape(result["diffusion"])} guided by the '
        f"gradient of the subject's {html.escape(result['clip_model'])} encoder: "
        f"{s['steps']} {html.escape(s['scheduler'])} steps, guidance scale "
        f"{s['guidance_scale']:g} over the first {s['guidance_stop']:.0%} of them"
        f"{', unit-RMS gradients' if s['normalize_gradient'] else ''}, {s['views']} view(s) "
        f"per step; the {s['num_images']} of {s['num_candidates']} samples the encoder "
        f"predicts highest are kept. The control samples the same seeds unguided. Scores are "
        f"the target's mean response (a contrast: ROI A minus ROI B), means over images with "
        f"95% bootstrap CIs; pred: the encoder's prediction, meas: the repeat-averaged betas."
        f"{truth}</p>",
        "<h3>Scores per target</h3>",
    ]
    rows = dive_rows(result)
    columns = list(dict.fromkeys(c for r in rows for c in r))
    parts.append(table_html([{c: r.get(c, "") for c in columns} for r in rows], columns, left=2))
    npz = Path(str(path).replace("_results.json", "_images.npz"))
    if npz.is_file():
        with np.load(npz) as images:
            parts += ["<h3>Synthesised images beside the natural stimuli driving each ROI "
                      "most</h3>", _grids(result, dict(images))]  # fmt: skip
    return "\n".join(parts)


def dive_section(context: SectionContext) -> Section | None:
    """The section of every dive results file the report was given."""
    files = [p for p in context.of("dive") if p.name.endswith("_desc-dive_results.json")]
    if not files:
        return None
    body = "\n".join(dive_section_html(p) for p in files)
    return Section("dive", "Images synthesised to drive ROIs (BrainDiVE)", body, tuple(files))


register_section(SectionSpec("dive", ("dive",), dive_section, order=47))
