"""The report opens in a real headless browser without console errors (screenshot kept)."""

from __future__ import annotations

import pytest

from neurodecode.report import ReportInputs, render_report

from ._browser import find_chromium, screenshot

pytest.importorskip("selenium")
pytestmark = pytest.mark.skipif(
    find_chromium() is None, reason="chromium + chromedriver not installed (.ci/run installs them)"
)


def test_report_renders_in_headless_chromium(encoding_outputs, contrastive_outputs, tmp_path):
    stimuli = contrastive_outputs["stimuli"]
    html = render_report(
        ReportInputs(
            subject="subj01",
            outputs=[encoding_outputs["table"], contrastive_outputs["path"]],
            background=encoding_outputs["background"],
            dataset="nsd",
            open_stimuli=lambda: stimuli,
        ),
        tmp_path / "report.html",
    )
    png = tmp_path / "report.png"
    logs = screenshot(html, png)
    assert [entry for entry in logs if entry["level"] in ("SEVERE", "WARNING")] == []
    from PIL import Image

    with Image.open(png) as img:
        assert img.width >= 1000 and img.height > 1500
        # not a blank page: the embedded figures put many distinct colours on screen
        assert len(img.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 200
