"""Report section of ``neurodecode scuba``: voxel-selectivity captions (BrainSCUBA)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from neurodecode.report._elements import img_tag, table_html
from neurodecode.report._sections import Section, SectionContext, SectionSpec, register_section

__all__ = ["scuba_check_rows", "scuba_section"]

_VARIANT_TITLES = {"projection": "projected (temperature {t:g})",
                   "raw_direction": "raw weight direction (no projection)"}  # fmt: skip


def _variant_title(name: str, temperature: float) -> str:
    if name.startswith("temperature_"):
        return f"projected (temperature {name.removeprefix('temperature_')})"
    return _VARIANT_TITLES.get(name, name).format(t=temperature)


def _rate(entry: dict[str, Any]) -> str:
    return f"{entry['value']:.3f} [{entry['ci_low']:.3f}, {entry['ci_high']:.3f}]"


def scuba_check_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (captions, tuned group): the rate named, its CI, n and the chance rates."""
    rows = []
    for variant, check in result.get("truth_check", {}).items():
        title = _variant_title(variant, result["temperature"])
        groups = [(f"{atlas} voxels tuned to {e['category']}: name the category", e)
                  for atlas, e in check["category"].items()]  # fmt: skip
        colour = check.get("colour") or {}
        if colour:
            groups.append(("colour voxels: name the preferred colour", colour))
            for kind in ("object_colours", "background_colours"):
                if kind in colour:
                    groups.append((f"  of which preferring {kind.replace('_', ' ')}",
                                   colour[kind]))  # fmt: skip
        for label, e in groups:
            rows.append({"captions": title, "voxels": label, "n": e["n"], "rate": _rate(e),
                         "chance (base rate / uniform)":
                         f"{e['chance_base_rate']:.3f} / {e['chance_uniform']:.3f}"})  # fmt: skip
    return rows


def _word_tables(words: Any, groups: list[str], top: int = 5) -> str:
    rows = []
    for group in groups:
        sub = words[words["group"] == group]
        if sub.empty:
            continue
        row: dict[str, Any] = {"ROI": group, "voxels": int(sub["n"].iloc[0])}
        for pos, title in (("noun", "top nouns (share of voxels)"),
                           ("adjective", "top adjectives (share of voxels)")):  # fmt: skip
            part = sub[sub["pos"] == pos].sort_values("rank").head(top)
            row[title] = ", ".join(f"{w} ({s:.0%})" for w, s in zip(part["word"], part["share"],
                                                                     strict=True))  # fmt: skip
        rows.append(row)
    if not rows:
        return ""
    return table_html(rows, list(rows[0]), left=4)


def _examples(result: dict[str, Any], table: Any) -> str:
    rows = []
    for atlas, columns in result.get("examples", {}).items():
        for c in columns:
            r = table.iloc[int(c)]
            rows.append({"atlas": atlas, "ROI": r["roi"], "voxel (i, j, k)":
                         f"({r['i']}, {r['j']}, {r['k']})", "caption": r["caption"],
                         "effective bank size": f"{r['effective_size']:.0f}"})  # fmt: skip
    if not rows:
        return ""
    return "<h3>Example voxels</h3>" + table_html(rows, list(rows[0]), left=4)


def _word_map(result: dict[str, Any], wordmaps: Path | None, background: Path | None) -> str:
    if wordmaps is None or not result["map_words"]:
        return ""
    import nibabel as nib
    import numpy as np

    from neurodecode.report._figures import score_map_png

    order = [m["word"] for m in result["map_words"]]
    counts = {m["word"]: m["voxels"] for m in result["map_words"]}
    k = int(np.argmax([counts[w] for w in order]))
    word = order[k]
    if not counts[word]:
        return ""
    img = nib.load(str(wordmaps))
    volume = np.asarray(img.dataobj[..., k], dtype=np.float32)
    png = score_map_png(nib.Nifti1Image(volume, img.affine), background, vmax=1.0,
                        title=f'voxels whose caption says "{word}" ({counts[word]:,})')  # fmt: skip
    listed = ", ".join(f"{html.escape(w)} {n:,}" for w, n in counts.items())
    return (f"<h3>Word map</h3><p class=\"meta\">Voxels per mapped word: {listed}.</p>"
            + img_tag(png, f"word map of {word}"))  # fmt: skip


def scuba_section_html(results: Path, outputs: list[Path], background: Path | None) -> str:
    """The HTML of one ``*_desc-scuba_results.json`` and the outputs beside it."""
    import pandas as pd

    result = json.loads(Path(results).read_text(encoding="utf-8"))
    stem = Path(results).name.removesuffix("_desc-scuba_results.json")
    by_suffix = {p.name.removeprefix(stem): p for p in outputs}
    tables = {}
    for key in ("captions", "words"):
        if f"_desc-scuba_{key}.tsv" in by_suffix:
            path = by_suffix[f"_desc-scuba_{key}.tsv"]
            tables[key] = pd.read_csv(path, sep="\t", keep_default_na=False)
    table, words = tables.get("captions"), tables.get("words")
    wordmaps = next((p for p in outputs if p.name.startswith(stem)
                     and p.name.endswith("_desc-scuba_wordmaps.nii.gz")), None)  # fmt: skip
    bank = result["bank"]
    ess = result["projection"][f"{result['temperature']:g}"]["median_effective_size"]
    parts = [
        f'<p class="meta">Each of the {result["n_voxels"]:,} voxels\' CLIP-image encoder '
        f"weights, as a unit direction, projected onto a bank of {bank['n']:,} image "
        f"embeddings ({html.escape(', '.join(bank['models']))}) by a softmax of their cosines "
        f"at temperature {result['temperature']:g} (median effective bank size {ess:,.0f}), "
        f"then captioned by {html.escape(result['captioner'])}; nouns and adjectives tagged by "
        "spaCy. Rates are over voxels with 95% bootstrap CIs.</p>",
    ]
    rows = scuba_check_rows(result)
    if rows:
        parts += ["<h3>Captions against the simulated tuning</h3>",
                  table_html(rows, list(rows[0]), left=2)]  # fmt: skip
    if words is not None:
        groups = ["all", *sorted(g for g in set(words["group"]) if g != "all")]
        parts += ["<h3>Words per ROI</h3>", _word_tables(words, groups)]
    if table is not None:
        parts.append(_examples(result, table))
    parts.append(_word_map(result, wordmaps, background))
    return "\n".join(p for p in parts if p)


def scuba_section(context: SectionContext) -> Section | None:
    """The section of every scuba results file the report was given."""
    outputs = context.of("scuba")
    files = [p for p in outputs if p.name.endswith("_desc-scuba_results.json")]
    if not files:
        return None
    body = "\n".join(scuba_section_html(p, outputs, context.background) for p in files)
    return Section("scuba", "Voxel selectivity captions (BrainSCUBA)", body, tuple(outputs))


register_section(SectionSpec("scuba", ("scuba",), scuba_section, order=45))
