"""Report section of ``neurodecode reconstruct``: the image grid, the metric and ablation tables."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode.report._elements import image_grid, table_html
from neurodecode.report._sections import Section, SectionContext, SectionSpec, register_section

__all__ = ["reconstruction_rows", "reconstruction_section"]

_METHODS = {
    "full": "full pipeline (latent + embedding)",
    "latent": "latent alone (VAE decoding of the latent img2img starts from)",
    "latent_without_prior": "ridge-predicted latent alone, without the prior (VAE decoding)",
    "embedding": "predicted embedding alone (from noise)",
    "random_image": "baseline: a random test image",
    "mean_image": "baseline: the mean training image",
}
_HIGHER_IS_BETTER = {"correlation_distance": False}


def _label(metric: str) -> str:
    names = {
        "pixcorr": "PixCorr",
        "ssim": "SSIM",
        "colour": "colour (toy CLIP)",
        "category": "category (toy CLIP)",
    }
    if metric in names:
        return names[metric]
    kind, _, backbone = metric.partition("/")
    kind = {"two_way": "2-way", "correlation_distance": "corr. distance"}.get(kind, kind)
    return f"{kind} {backbone}".strip()


def reconstruction_rows(result: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per metric, one column per method (value and 95% CI), plus chance."""
    methods = [m for m in _METHODS if m in result["methods"]]
    metrics = list(result["methods"]["full"])
    chance = result.get("chance", {})
    rows = []
    for metric in metrics:
        row: dict[str, Any] = {"metric": _label(metric)}
        for m in methods:
            e = result["methods"][m].get(metric)
            row[_METHODS[m]] = (
                "" if e is None else f"{e['value']:.3f} [{e['ci_low']:.3f}, {e['ci_high']:.3f}]"
            )
        key = "two_way" if metric.startswith("two_way") else metric
        row["chance"] = f"{chance[key]:.3f}" if key in chance else ""
        rows.append(row)
    return rows, ["metric", *(_METHODS[m] for m in methods), "chance"]


def _grid(images: Any, result: dict[str, Any]) -> str:
    kinds = result.get("examples", {})
    methods = [m for m in ("full", "latent", "embedding") if f"recon_{m}" in images]
    rows, marks = [], []
    score = images["two_way_per_image"]
    for kind in ("best", "median", "worst"):
        for k in kinds.get(kind, []):
            stim = int(images["stim_id"][k])
            row = [(images["truth"][k], f"{kind}: stimulus {stim}")]
            row += [
                (images[f"recon_{m}"][k], f"{m} (2-way {score[k]:.2f})" if m == "full" else m)
                for m in methods
            ]
            rows.append(row)
            marks.append(["", "hit" if kind == "best" else "", *[""] * (len(methods) - 1)])
    if not rows:
        return ""
    header = ["seen image", *(_METHODS[m] for m in methods)]
    return (
        f"<h3>Test images: best, median and worst by {html.escape(result['example_score'])}"
        f"</h3>" + image_grid(rows, header, marks=marks)
    )


def reconstruction_section_html(path: Path) -> str:
    """The HTML of one ``*_desc-recon_results.json`` (with its ``_images.npz`` beside it)."""
    result = json.loads(Path(path).read_text(encoding="utf-8"))
    s = result["sampler"]
    v = result["voxels"]
    parts = [
        f'<p class="meta">Diffusion model {html.escape(result["diffusion"])}: ridge decoders '
        f"from {v['latent']:,} voxels to its VAE latent and from {v['embedding']:,} voxels to "
        f"the image embedding ({result['n_train']:,} repeat-averaged training stimuli, "
        f"predictions re-standardised), then img2img at strength {s['strength']} with "
        f"{s['num_inference_steps']} {html.escape(s['scheduler'])} steps, guidance "
        f"{s['guidance_scale']} and the best of {s['n_samples']} samples by embedding match, "
        f"on {result['n_test']} repeat-averaged test stimuli. Every figure is the mean over "
        "test images with a 95% bootstrap CI; the metric card in the results file defines "
        "each (sizes, layers, weights).</p>",
    ]
    prior = result.get("prior")
    if prior:
        src = prior["sources"]
        parts.append(
            f'<p class="meta">img2img starts from the posterior mean latent over a bank of '
            f"{prior['bank_size']:,} images this subject never saw ({src['release_unseen']:,} "
            f"from the release, {src['generated']:,} generated), given both decoders' "
            f"predictions under their out-of-fold noise models (temperature "
            f"{prior['temperature']:g}; median effective bank size "
            f"{prior['effective_size_median']:.1f}).</p>"
        )
    source = result.get("embedding_source", "ridge decoder")
    if source != "ridge decoder":
        parts.append(
            f'<p class="meta">The conditioning embeddings were read from '
            f"{html.escape(Path(source).name)} instead of the ridge embedding decoder.</p>"
        )
    rows, columns = reconstruction_rows(result)
    parts += ["<h3>Metrics and ablations</h3>", table_html(rows, columns)]
    npz = Path(str(path).replace("_results.json", "_images.npz"))
    if npz.is_file():
        with np.load(npz) as images:
            parts.append(_grid(images, result))
    return "\n".join(parts)


def reconstruction_section(context: SectionContext) -> Section | None:
    """The section of every reconstruction results file the report was given."""
    files = [p for p in context.of("reconstruct") if p.name.endswith("_results.json")]
    if not files:
        return None
    body = "\n".join(reconstruction_section_html(p) for p in files)
    return Section(
        "reconstruction",
        "Images reconstructed from the brain (latent diffusion)",
        body,
        tuple(files),
    )


register_section(SectionSpec("reconstruction", ("reconstruct",), reconstruction_section, order=35))
