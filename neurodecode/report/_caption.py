"""Report section of ``neurodecode caption``: example captions and the caption-metric table."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from neurodecode.report._elements import image_grid, table_html
from neurodecode.report._sections import Section, SectionContext, SectionSpec, register_section

__all__ = ["caption_metric_rows", "caption_section"]

_COMPARISONS = {
    "brain_vs_references": "decoded vs the stimulus's captions",
    "brain_vs_captioner": "decoded vs the captioner's caption",
    "captioner_vs_references": "captioner (true image) vs the stimulus's captions",
}
_METRICS = {
    "bleu1": "BLEU-1",
    "bleu4": "BLEU-4",
    "meteor": "METEOR",
    "rouge_l": "ROUGE-L",
    "cider": "CIDEr-D",
    "sentence_cosine": "sentence cosine",
    "clip_text_cosine": "CLIP text cosine",
}


def caption_metric_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per metric: each comparison's value with its CI, and brain / image."""
    rows = []
    metrics = result["metrics"]
    for key, label in _METRICS.items():
        if key not in metrics["brain_vs_references"]:
            continue
        row: dict[str, Any] = {"metric": label}
        for comp, title in _COMPARISONS.items():
            m = metrics[comp][key]
            row[title] = f"{m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"
        ratio = metrics["brain_over_captioner"].get(key)
        row["brain / image"] = "n/a" if ratio is None else f"{ratio:.2f}"
        rows.append(row)
    return rows


def _attribute_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    whose = [("brain", "decoded from the brain"), ("captioner", "captioner, true image")]
    if "brain_without_prior" in result["attributes"]:
        whose.insert(1, ("brain_without_prior", "decoded, without the prior"))
    for who, label in whose:
        for key in ("colour", "category"):
            a = result["attributes"][who][key]
            rows.append({
                "captions": label,
                "attribute": key,
                "named correctly": f"{a['value']:.3f} [{a['ci_low']:.3f}, {a['ci_high']:.3f}]",
                "chance (uniform / majority / shuffled)": (
                    f"{a['chance_uniform']:.3f} / {a['chance_majority']:.3f} / "
                    f"{a['chance_shuffled']:.3f}"
                ),
            })  # fmt: skip
    return rows


def _examples(result: dict[str, Any], stimuli: Any) -> str:
    picks = [result["captions"][k] for k in result.get("examples", [])]
    if not picks:
        return ""
    images = stimuli.images([p["stim_id"] for p in picks]) if stimuli is not None else None
    rows = []
    for k, p in enumerate(picks):
        image = images[k] if images is not None else None
        rows.append([
            (image, f"stimulus {p['stim_id']}"), (None, p["brain"]), (None, p["captioner"]),
            (None, p["references"][0]),
        ])  # fmt: skip
    header = ["seen image", "decoded from the brain", "captioner's caption", "a reference"]
    return "<h3>Test images</h3>" + image_grid(rows, header)


def _token_source(result: dict[str, Any]) -> str:
    prior = result.get("prior")
    if not prior:
        return "predictions re-standardised to the training tokens"
    src = prior["sources"]
    return (
        f"tokens given to GIT: the posterior mean over a bank of {prior['bank_size']:,} images "
        f"this subject never saw ({src['release_unseen']:,} from the release, "
        f"{src['generated']:,} generated) under the ridge's out-of-fold noise model "
        f"(temperature {prior['temperature']:g}; median effective bank size "
        f"{prior['effective_size_median']:.1f})"
    )


def caption_section_html(path: Path, stimuli: Any) -> str:
    """The HTML of one ``*_desc-caption_results.json``."""
    result = json.loads(Path(path).read_text(encoding="utf-8"))
    dec = result["decoder"]
    comps = dec["n_components"]
    reduction = (
        f"targets reduced to {comps} principal components "
        f"({dec['explained_variance_ratio']:.1%} of their variance)"
        if comps
        else "every output solved exactly"
    )
    tokens = " x ".join(str(v) for v in result["vision_tokens"])
    gen = result["generation"]
    how = f"beam search ({gen['num_beams']} beams)" if gen["num_beams"] > 1 else "greedy"
    if gen["do_sample"]:
        how = f"sampling (temperature {gen['temperature']}, top-p {gen['top_p']})"
    parts = [
        f'<p class="meta">Captioner {html.escape(result["captioner"])}: one multi-output ridge '
        f"from {result['n_voxels']:,} voxels to its {tokens} vision tokens ({reduction}; "
        f"{result['n_train']:,} training samples; test r of the tokens: mean "
        f"{dec['test_r_mean']:.3f}), {_token_source(result)}, "
        f"captions by {how} on {result['n_test']} repeat-averaged test stimuli. Every metric is "
        "the mean over test stimuli with a 95% bootstrap CI; CIDEr-D is x10 as COCO prints it."
        "</p>",
        table_html(
            caption_metric_rows(result), ["metric", *_COMPARISONS.values(), "brain / image"]
        ),
    ]
    if "attributes" in result:
        parts += [
            "<h3>Attributes named (synthetic world's truth)</h3>",
            table_html(_attribute_rows(result), list(_attribute_rows(result)[0]), left=2),
        ]
    parts.append(_examples(result, stimuli))
    return "\n".join(parts)


def caption_section(context: SectionContext) -> Section | None:
    """The section of every caption results file the report was given."""
    files = [p for p in context.of("caption") if p.name.endswith("_results.json")]
    if not files:
        return None
    body = "\n".join(caption_section_html(p, context.stimuli) for p in files)
    return Section("captions", "Captions decoded from the brain (GIT)", body, tuple(files))


register_section(SectionSpec("captions", ("caption",), caption_section, order=40))
