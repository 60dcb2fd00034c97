"""The motion-decoding section: decoded against true flow, scores, and the animations.

It reads what ``neurodecode motion`` wrote: ``*_desc-motion_results.json`` (scores of every
decoder and baseline, n and CIs) and, beside it, the animations folder (GIFs of the true clips
and of each decoder's animation of the first frame, and ``examples.h5`` with those clips'
flows). Flow fields are drawn on the optical-flow colour wheel: hue is the direction (red
rightwards, then clockwise on screen through yellow downwards), brightness the speed, one scale
per clip shared by its fields.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode._io import read_json
from neurodecode.report._elements import img_tag, table_html, thumbnail_png
from neurodecode.report._sections import Section, SectionContext, SectionSpec, register_section

__all__ = ["flow_to_rgb", "motion_section", "motion_section_html"]

_NAMES = {
    "ridge": "ridge decoder (voxels \u2192 flow, shrunk to the median flow)",
    "codebook": "codebook decoder (Yeung et al.)",
    "mean_flow": "baseline: mean training flow (no brain)",
    "other_clips": "baseline: another test clip's flow",
    "codebook_limit": "codebook limit (oracle labels)",
    "estimator": "flow estimator (the targets)",
}
_METRICS = (
    ("epe", "EPE"),
    ("epe_object", "EPE on the object"),
    ("angular_error", "angular error (\u00b0)"),
    ("direction_accuracy", "direction acc."),
    ("direction_accuracy_object", "direction acc., object"),
)
_SIDE = 96


def flow_to_rgb(flow: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Flow ``(H, W, 2)`` -> uint8 RGB on the colour wheel; speeds >= ``scale`` are brightest."""
    from matplotlib.colors import hsv_to_rgb

    flow = np.asarray(flow, dtype=np.float64)
    speed = np.linalg.norm(flow, axis=-1)
    scale = float(scale if scale else max(speed.max(), 1e-6))
    hue = np.mod(np.arctan2(flow[..., 1], flow[..., 0]), 2 * np.pi) / (2 * np.pi)
    value = np.clip(speed / scale, 0.0, 1.0)
    rgb = hsv_to_rgb(np.stack([hue, np.ones_like(hue), value], axis=-1))
    return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)


def _enlarge(image: np.ndarray) -> np.ndarray:
    k = max(1, _SIDE // image.shape[0])
    return np.repeat(np.repeat(image, k, axis=0), k, axis=1)


def _gif_tag(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" width="{_SIDE}" src="data:image/gif;base64,{data}">'


def _cell(value: dict[str, Any] | None, digits: int) -> str:
    if value is None or value.get("value") is None or value["value"] != value["value"]:
        return ""
    return (f"{value['value']:.{digits}f} [{value['ci_low']:.{digits}f}, "
            f"{value['ci_high']:.{digits}f}]")  # fmt: skip


def _score_table(scores: dict[str, Any]) -> str:
    rows, columns = [], ["model", "EPE / mean-flow EPE"]
    present = [(k, label) for k, label in _METRICS
               if any(k in m for m in scores["models"].values())]  # fmt: skip
    columns += [label for _, label in present] + ["n"]
    for name, metrics in scores["models"].items():
        ratio = scores["epe_ratio"].get(name)
        row: dict[str, Any] = {"model": _NAMES.get(name, name),
                               "EPE / mean-flow EPE": f"{ratio:.2f}" if ratio else ""}  # fmt: skip
        for key, label in present:
            row[label] = _cell(metrics.get(key), 3 if "accuracy" in key else 2)
        row["n"] = metrics["epe"]["n"]
        rows.append(row)
    return table_html(rows, columns, left=1)


def _examples_html(folder: Path, examples: list[dict[str, Any]], decoders: list[str]) -> str:
    import h5py

    path = folder / "examples.h5"
    if not path.is_file() or not examples:
        return ""
    with h5py.File(path, "r") as fh:
        ids = fh["stim_ids"][()].tolist()
        flows = {k: fh[f"flow/{k}"][()] for k in fh["flow"]}
    truth = "truth" if "truth" in flows else "target"
    head = ["clip", "true clip", *[f"animated: {d}" for d in decoders],
            f"{truth} flow", *[f"{d} flow" for d in decoders]]  # fmt: skip
    rows = []
    for example in examples:
        stim = int(example["stim_id"])
        k = ids.index(stim)
        scale = max(float(np.linalg.norm(flows[truth][k], axis=-1).max()), 0.5)
        cells = [f"<td>{stim}</td>"]
        for name in ("true", *decoders):
            gif = folder / example["files"][name]
            cells.append(f"<td>{_gif_tag(gif, f'{name} {stim}') if gif.is_file() else ''}</td>")
        for name in (truth, *decoders):
            png = thumbnail_png(_enlarge(flow_to_rgb(flows[name][k][0], scale)))
            cells.append(f"<td>{img_tag(png, f'{name} flow of {stim}')}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    heads = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return (f'<table class="thumbs"><thead><tr>{heads}</tr></thead><tbody>{"".join(rows)}'
            "</tbody></table><p class=\"meta\">Animations warp the clip's first frame along the "
            "decoded flow. Flow fields: the first kept frame pair on the colour wheel (hue = "
            "direction, brightness = speed up to the clip's top true speed).</p>")  # fmt: skip


def motion_section_html(path: str | Path) -> str:
    """The section body for one ``*_desc-motion_results.json``."""
    path = Path(path)
    res = read_json(path)
    ref = res["reference"]
    units = html.escape(res.get("units", ""))
    parts = [
        f'<p class="meta">Subject {html.escape(str(res["subject"]))}: '
        f"{res['n_voxels']:,} voxels ({html.escape(str(res['roi'] or 'every prepared voxel'))}); "
        f"decoders fitted on {res['n_train_trials']:,} single trials of {res['n_train_clips']} "
        f"clips, tested on {res['n_test_clips']} clips (repeats averaged). Targets: "
        f"{html.escape(res['flow_features'])} ({res['frames']} frame pairs on a "
        f"{res['grid']}\u00d7{res['grid']} grid; {units}). Values: mean over test clips "
        "[95% bootstrap CI over clips].</p>"
    ]
    ridge = res.get("training", {}).get("ridge", {})
    if ridge.get("shrink_cv_epe"):
        parts.append(
            '<p class="meta">Ridge decoder: each decoded vector shrunk by '
            f"{ridge['shrink']:.3g} {units} towards the training clips' median flow (the "
            "threshold of least cross-validated EPE on repeat-averaged held-out clips; EPE is "
            "minimised by a median, the ridge predicts a mean).</p>"
        )
    titles = {"truth": "Against the exact flow (the synthetic world's truth)",
              "target": "Against the targets (estimated flow of the test clips)"}  # fmt: skip
    for key in (ref, *[k for k in res["scores"] if k != ref]):
        parts += [f"<h3>{titles.get(key, key)}</h3>", _score_table(res["scores"][key])]
    folder = path.with_name(path.name.replace("_results.json", "_animations"))
    examples = _examples_html(folder, res.get("examples", []), list(res["decoders"]))
    if examples:
        parts += ["<h3>Decoded motion</h3>", examples]
    return "\n".join(parts)


def motion_section(context: SectionContext) -> Section | None:
    files = [p for p in context.of("motion") if p.name.endswith("_results.json")]
    if not files:
        return None
    body = "\n".join(motion_section_html(p) for p in files)
    return Section("motion", "Motion decoding (fMRI \u2192 optical flow)", body, tuple(files))


register_section(SectionSpec("motion", ("motion",), motion_section, order=50))
