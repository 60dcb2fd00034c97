from __future__ import annotations

import argparse

from neurodecode._io import read_json
from neurodecode.stages import report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    report.register(parser.add_subparsers())
    return parser


def test_report_cli_writes_html_and_sidecar(encoding_outputs, tmp_path, capsys):
    scores = [f"{k}={v}" for k, v in encoding_outputs["maps"].items()]
    out = tmp_path / "sub-subj01.html"
    args = _parser().parse_args(
        ["report", "--subject", "subj01", "--dataset", "nsd",
         "--table", str(encoding_outputs["table"]), "--scores", *scores,
         "--background", str(encoding_outputs["background"]), "--out", str(out)]
    )  # fmt: skip
    assert args.func(args) == 0
    assert str(out) in capsys.readouterr().out
    side = read_json(tmp_path / "sub-subj01.json")
    assert side["stage"] == "report" and side["config"]["subject"] == "subj01"
    assert str(encoding_outputs["table"]) in side["inputs"]
    # provenance of the encode outputs is carried into the page
    text = out.read_text()
    for sidecar in encoding_outputs["sidecars"]:
        assert sidecar.name in text


def test_report_cli_reports_missing_settings(tmp_path, capsys):
    args = _parser().parse_args(["report", "--subject", "subj01"])
    assert args.func(args) == 2
    assert "missing" in capsys.readouterr().err
