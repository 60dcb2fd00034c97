"""``neurodecode caption`` on a tiny world: every metric, both references, attributes, report.

The science thresholds live in tests/pipeline/test_caption_demo_world.py (slow, demo world);
this runs the same code on the tiny world (240 training images) and checks what holds at any
size: the captioner reads its true images, the metric suite's bookkeeping, the report section.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neurodecode.cli import main

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("pycocoevalcap")

SUBJECT = "subj01"


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    base = tmp_path_factory.mktemp("caption")
    root, cache = base / "release", base / "cache"
    out = base / "derivatives" / f"sub-{SUBJECT}"
    assert main(["synth", "nsd", "--preset", "tiny", "--subjects", SUBJECT, "--formats",
                 "hdf5", "--out", str(root)]) == 0  # fmt: skip
    assert main(["prepare", "--dataset", "nsd", "--root", str(root), "--subject", SUBJECT,
                 "--out", str(cache), "--no-progress"]) == 0  # fmt: skip
    assert main(["caption", "--subject", SUBJECT, "--cache", str(cache), "--out", str(out),
                 "--n-bootstrap", "200", "--n-examples", "3"]) == 0  # fmt: skip
    path = out / f"sub-{SUBJECT}_desc-caption_results.json"
    return {"path": path, "data": json.loads(path.read_text()), "cache": cache,
            "derivatives": out.parent}  # fmt: skip


def test_the_stage_decodes_one_caption_per_test_stimulus(result):
    r = result["data"]
    assert r["n_test"] == len(r["captions"]) == 60
    assert r["vision_tokens"] == [17, 128]
    assert all(c["brain"] and c["captioner"] and len(c["references"]) == 5 for c in r["captions"])
    assert r["decoder"]["explained_variance_ratio"] <= 1.0
    assert set(r["timings_seconds"]) >= {"fit_decoder", "captions", "metrics"}


def test_the_captioner_reads_the_true_images(result):
    seen = result["data"]["attributes"]["captioner"]
    assert seen["colour"]["value"] >= 0.85 and seen["category"]["value"] >= 0.85
    assert seen["colour"]["chance_uniform"] == pytest.approx(1 / 6)


def test_every_metric_is_reported_against_both_references_with_ratios(result):
    m = result["data"]["metrics"]
    names = {"bleu1", "bleu4", "meteor", "rouge_l", "cider", "sentence_cosine", "clip_text_cosine"}
    for comparison in ("brain_vs_references", "brain_vs_captioner", "captioner_vs_references"):
        assert set(m[comparison]) == names
        for v in m[comparison].values():
            assert v["n"] == 60 and v["ci_low"] <= v["value"] <= v["ci_high"]
    for name in names:
        ratio = (
            m["brain_vs_references"][name]["value"] / m["captioner_vs_references"][name]["value"]
        )
        assert m["brain_over_captioner"][name] == pytest.approx(ratio)


def test_the_report_shows_the_caption_section(result, tmp_path):
    page = tmp_path / "r.html"
    assert main(["report", "--subject", SUBJECT, "--inputs", str(result["path"]), "--cache",
                 str(result["cache"]), "--out", str(page)]) == 0  # fmt: skip
    text = page.read_text()
    assert "Captions decoded from the brain" in text and "CIDEr-D" in text
    assert "captioner&#x27;s caption" in text or "captioner's caption" in text
    first = result["data"]["captions"][result["data"]["examples"][0]]
    assert first["references"][0].replace('"', "&quot;") in text


def test_the_notebook_runs_on_the_stage_outputs(result, tmp_path, monkeypatch):
    import importlib.util

    pytest.importorskip("nbclient")
    helper = Path(__file__).resolve().parents[1] / "report" / "_notebook.py"
    spec = importlib.util.spec_from_file_location("notebook_runner", helper)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    run_notebook = module.run_notebook
    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "captioning.ipynb"
    outputs, text = run_notebook(result["derivatives"], tmp_path, monkeypatch, timeout=180,
                                 notebook=notebook)  # fmt: skip
    assert not [o for o in outputs if o.output_type == "error"]
    assert "brain / image" in text and "subj01" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)
