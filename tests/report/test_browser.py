"""The report opens in a real headless browser without console errors (screenshot kept)."""

from __future__ import annotations

import pytest

from neurodecode.report import ReportInputs, render_subject_report

from ._browser import find_chromium, screenshot

pytest.importorskip("selenium")
pytestmark = pytest.mark.skipif(
    find_chromium() is None, reason="chromium + chromedriver not installed (.ci/run installs them)"
)


def test_report_renders_in_headless_chromium(encoding_outputs, contrastive_outputs, tmp_path):
    html = render_subject_report(
        ReportInputs(
            subject="subj01",
            roi_table=encoding_outputs["table"],
            score_maps=encoding_outputs["maps"],
            background=encoding_outputs["background"],
            provenance=encoding_outputs["sidecars"],
            dataset="nsd",
            contrastive=contrastive_outputs["path"],
            stimuli=contrastive_outputs["stimuli"],
        ),
        tmp_path / "report.html",
        progress=False,
    )
    png = tmp_path / "report.png"
    logs = screenshot(html, png)
    assert [entry for entry in logs if entry["level"] in ("SEVERE", "WARNING")] == []
    from PIL import Image

    with Image.open(png) as img:
        assert img.width >= 1000 and img.height > 1500
        # not a blank page: the embedded figures put many distinct colours on screen
        assert len(img.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 200
