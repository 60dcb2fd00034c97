"""The motion report section and the motion notebook, on the tiny video world's stage outputs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from synth._video_tree import motion_outputs  # tests/synth is a package on the test path

from neurodecode.cli import main

from ._notebook import run_notebook

MOTION_NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "motion.ipynb"


@pytest.fixture(scope="module")
def motion(tmp_path_factory):
    return motion_outputs(tmp_path_factory)


def test_flow_colour_wheel():
    from neurodecode.report._motion import flow_to_rgb

    flow = np.zeros((2, 2, 2))
    flow[0, 0] = (1, 0)  # right: red
    flow[0, 1] = (0, 1)  # down (screen): hue 1/4 -> yellow-green
    rgb = flow_to_rgb(flow, scale=1.0)
    assert rgb[0, 0].tolist() == [255, 0, 0]
    assert rgb[1, 1].tolist() == [0, 0, 0]  # at rest: black
    assert rgb[0, 1, 1] == 255 and rgb[0, 1, 2] == 0


def test_motion_section_shows_scores_flows_and_animations(motion, tmp_path):
    results = next(motion.glob("*_desc-motion_results.json"))
    out = tmp_path / "report.html"
    assert main(["report", "--subject", "01", "--inputs", str(results), "--out", str(out)]) == 0
    page = out.read_text()
    assert 'id="motion"' in page and "Motion decoding" in page
    for label in ("codebook decoder", "ridge decoder", "mean training flow",
                  "another test clip", "codebook limit", "Against the exact flow"):  # fmt: skip
        assert label in page, label
    assert "towards the training clips' median flow" in page
    assert len(re.findall(r"data:image/gif;base64", page)) == 2 * 3  # true + 2 decoders, 2 clips
    assert len(re.findall(r"flow of \d+", page)) == 2 * 3  # truth + 2 decoders' flow fields


def test_motion_notebook_executes_on_stage_outputs(motion, tmp_path, monkeypatch):
    outputs, text = run_notebook(motion, tmp_path, monkeypatch, timeout=180,
                                 notebook=MOTION_NOTEBOOK)  # fmt: skip
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert "ratio_ok" in text and "codebook_limit_epe" in text
    assert any(o.get("data", {}).get("image/png") for o in outputs)
    streams = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "beats the mean flow" in streams and "mean decoded speed" in streams
    assert "ridge shrinkage" in streams
