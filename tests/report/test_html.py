from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from neurodecode.report import ReportInputs, best_feature_spaces, render_subject_report


def _inputs(outputs, **kw) -> ReportInputs:
    return ReportInputs(
        subject="subj01",
        roi_table=outputs["table"],
        score_maps=outputs["maps"],
        background=outputs["background"],
        provenance=outputs["sidecars"],
        dataset="nsd",
        **kw,
    )


def test_report_is_self_contained(encoding_outputs, tmp_path):
    out = render_subject_report(_inputs(encoding_outputs), tmp_path / "r.html", progress=False)
    text = out.read_text(encoding="utf-8")
    # every image is embedded; nothing points at a server or a sibling file
    srcs = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert srcs and all(s.startswith("data:") for s in srcs), srcs
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
    inputs = _inputs(encoding_outputs)
    inputs = ReportInputs(**{**inputs.__dict__, "provenance": [bad]})
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
    inputs = _inputs(encoding_outputs)
    missing = {"clip-image": tmp_path / "does-not-exist.nii.gz"}
    inputs = ReportInputs(**{**inputs.__dict__, "score_maps": missing})
    with pytest.raises(FileNotFoundError):
        render_subject_report(inputs, tmp_path / "r.html", progress=False)
    assert not list(tmp_path.glob("*r.html*"))
