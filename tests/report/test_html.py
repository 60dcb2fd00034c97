from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from neurodecode.report import ReportInputs, best_feature_spaces, render_report


def _inputs(outputs, extra=(), stimuli=None, **kw) -> ReportInputs:
    return ReportInputs(
        subject="subj01",
        outputs=[outputs["table"], *extra],
        background=outputs["background"],
        dataset="nsd",
        open_stimuli=(lambda: stimuli) if stimuli is not None else None,
        **kw,
    )


def render_subject_report(inputs, out, progress=False):
    return render_report(inputs, out)


def test_report_is_self_contained(encoding_outputs, tmp_path):
    out = render_subject_report(_inputs(encoding_outputs), tmp_path / "r.html", progress=False)
    text = out.read_text(encoding="utf-8")
    # every image is embedded; nothing points at a server or a sibling file
    srcs = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert srcs and all(s.startswith(("data:", "#")) for s in srcs), srcs  # in-page anchors
    # two score maps + one bar chart, each a decodable PNG
    pngs = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(pngs) == 3
    import base64

    assert all(base64.b64decode(p)[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert "nsd subj01" in text
    for roi in ("V1v", "FFA-1", "PPA"):
        assert f">{roi}<" in text


def test_report_lists_provenance_of_every_sidecar(encoding_outputs, tmp_path):
    out = render_subject_report(_inputs(encoding_outputs), tmp_path / "r.html", progress=False)
    text = out.read_text(encoding="utf-8")
    for sidecar in encoding_outputs["sidecars"]:
        assert sidecar.name in text
        assert json.loads(sidecar.read_text())["split_hash"][:12] in text


def test_unreadable_sidecar_is_reported_not_fatal(encoding_outputs, tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    inputs = _inputs(encoding_outputs, provenance=[bad])
    text = render_subject_report(inputs, tmp_path / "r.html", progress=False).read_text()
    assert "unreadable" in text and "broken.json" in text


def test_best_feature_space_without_best_column():
    table = pd.DataFrame(
        {
            "roi": ["A", "A", "B", "B"],
            "feature_space": ["x", "y", "x", "y"],
            "mean": [0.1, 0.3, 0.5, 0.2],
        }
    )
    best = best_feature_spaces(table)
    assert dict(zip(best["roi"], best["feature_space"], strict=True)) == {"A": "y", "B": "x"}


def test_failed_render_leaves_no_file(encoding_outputs, tmp_path):
    encoding_outputs["maps"]["clip-image"].unlink()  # a score map the table names is gone
    with pytest.raises(Exception, match="clip"):
        render_subject_report(_inputs(encoding_outputs), tmp_path / "r.html", progress=False)
    assert not list(tmp_path.glob("*r.html*"))


def test_an_input_that_is_not_a_stage_output_is_refused(encoding_outputs, tmp_path):
    stray = tmp_path / "stray.tsv"
    stray.write_text("a\n1\n")
    with pytest.raises(ValueError, match="no sidecar"):
        render_subject_report(_inputs(encoding_outputs, extra=[stray]), tmp_path / "r.html")


def _pngs(text: str) -> list[bytes]:
    import base64

    return [base64.b64decode(p) for p in re.findall(r'src="data:image/png;base64,([^"]+)"', text)]


def test_contrastive_section_shows_retrieval_curves_and_examples(
    encoding_outputs, contrastive_outputs, tmp_path
):
    stimuli = contrastive_outputs["stimuli"]
    inputs = _inputs(encoding_outputs, extra=[contrastive_outputs["path"]], stimuli=stimuli)
    text = render_subject_report(inputs, tmp_path / "r.html", progress=False).read_text()
    assert "Contrastive retrieval" in text
    res = contrastive_outputs["result"]
    for model in ("contrastive", "ridge_baseline"):
        for direction in ("image_given_brain", "brain_given_image"):
            low, high = res[model][f"{direction}_ci"]
            assert f">{100 * res[model][direction]:.1f}<" in text, (model, direction)
            assert f"[{100 * low:.1f}, {100 * high:.1f}]" in text
    assert ">2.5<" in text  # chance of the 40-way draws (the test set is smaller than 300)
    assert ">40<" in text and "800" in text  # n test stimuli, training trials
    # 3 figures of the encoding report + the top-k curves + a thumbnail in every example cell
    shown = {e["query_stim_id"] for e in res["examples"]}
    shown |= {i for e in res["examples"] for i in e["retrieved_stim_ids"]}
    pngs = _pngs(text)
    assert len(pngs) == 4 + sum(1 + len(e["retrieved_stim_ids"]) for e in res["examples"])
    assert len(set(pngs[4:])) == len(shown)
    assert all(p[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert stimuli.calls == [(sorted(shown), (96, 96))]  # one batched read, thumbnails
    # every query row shows its five retrievals; a retrieved seen image is framed
    assert text.count("seen: ") == len(res["examples"])
    hits = sum(e["query_stim_id"] in e["retrieved_stim_ids"] for e in res["examples"])
    assert text.count('<td class="hit">') == hits
    srcs = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert all(s.startswith(("data:", "#")) for s in srcs)


def test_contrastive_examples_without_stimuli_list_ids(
    encoding_outputs, contrastive_outputs, tmp_path
):
    inputs = _inputs(encoding_outputs, extra=[contrastive_outputs["path"]])
    text = render_subject_report(inputs, tmp_path / "r.html", progress=False).read_text()
    assert "Images not shown" in text
    assert len(_pngs(text)) == 4  # no thumbnails
    for example in contrastive_outputs["result"]["examples"]:
        assert f"seen: {example['query_stim_id']}" in text


def test_report_without_contrastive_has_no_retrieval_section(encoding_outputs, tmp_path):
    text = render_subject_report(
        _inputs(encoding_outputs), tmp_path / "r.html", progress=False
    ).read_text()
    assert "Contrastive retrieval" not in text


def test_retrieval_report_data_reads_the_stage_file(contrastive_outputs, tmp_path):
    from neurodecode._io import write_json_atomic
    from neurodecode.report import retrieval_report_data

    data = retrieval_report_data(contrastive_outputs["path"])
    assert [(r["model"], r["direction"]) for r in data["table"]] == [
        ("contrastive", "image_given_brain"),
        ("contrastive", "brain_given_image"),
        ("ridge_baseline", "image_given_brain"),
        ("ridge_baseline", "brain_given_image"),
    ]
    assert {r["n_way"] for r in data["table"]} == {40}
    assert {r["n_samples"] for r in data["table"]} == {40}
    assert len(data["curves"]["ridge_baseline"]["brain_given_image"]) == 40
    assert data["curves"]["contrastive"]["image_given_brain"][-1] == pytest.approx(1.0)
    assert data["ablation"] == [] and data["space"] == "func1pt8mm"
    empty = write_json_atomic(tmp_path / "empty.json", {"subject": "subj01"})
    with pytest.raises(ValueError, match="no retrieval results"):
        retrieval_report_data(empty)
