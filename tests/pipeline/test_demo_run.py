"""The real workflow on a tiny synthetic world: killed mid-stage, resumed, finished.

One module-scoped run: ``neurodecode demo --preset tiny`` is started, killed (SIGKILL to its
whole process group) while a stage is running after ``prepare`` has finished, and started
again. The second run must finish, leave every output that was complete before the kill
untouched (same bytes and modification time), and leave no partial file under an output name.
"Complete" is an output with its sidecar whose job Snakemake had recorded as finished: one
killed between the stage's commit and Snakemake's record is, by Snakemake's rule, redone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("snakemake")
pytest.importorskip("torch")

KILL_TIMEOUT_S = 600


def _demo(out: Path) -> list[str]:
    return [sys.executable, "-m", "neurodecode.cli", "demo", "--preset", "tiny",
            "--out", str(out), "--cores", "2"]  # fmt: skip


def _outputs(out: Path) -> dict[Path, tuple[int, int]]:
    """Every stage output with a sidecar (complete by construction): path -> (mtime, size)."""
    from neurodecode._provenance import sidecar_path

    found = {}
    for path in out.glob("sub-*/**/*"):
        # an output without its sidecar was caught mid-commit (sidecars are placed last): the
        # resumed run must redo it, so only outputs with a sidecar count as complete
        if (path.is_file() and not path.name.startswith(".") and path.suffix != ".json"
                and sidecar_path(path).is_file()):  # fmt: skip
            st = path.stat()
            found[path] = (st.st_mtime_ns, st.st_size)
    return found


def _snakemake_incomplete(out: Path) -> set[Path]:
    """Outputs Snakemake marks incomplete (its job had not been recorded as finished).

    Snakemake deletes and recomputes those on the next run, even when the stage had already
    committed them: the kill fell between the stage's commit and Snakemake's bookkeeping.
    The markers are files under ``.snakemake/incomplete`` named by the url-safe base64 of the
    output path (split into ``@``-prefixed segments when longer than a file name).
    """
    from base64 import urlsafe_b64decode

    root = out / ".snakemake" / "incomplete"
    found = set()
    for marker in root.rglob("*") if root.is_dir() else ():
        if marker.is_file() and marker.name != "migration_underway":
            parts = marker.relative_to(root).parts
            key = "".join(p.removeprefix("@") for p in parts)
            path = Path(urlsafe_b64decode(key.encode()).decode())
            found.add((path if path.is_absolute() else out / path).resolve())
    return found


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(out.parent / "first.log", "w") as log:
        proc = subprocess.Popen(
            _demo(out), stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
        deadline = time.monotonic() + KILL_TIMEOUT_S
        # Kill once a prepared cache exists and a later stage has started (features).
        while time.monotonic() < deadline and proc.poll() is None:
            if list(out.glob("sub-*/*desc-prepared_bold.h5")) and list(out.glob("logs/features/*")):
                break
            time.sleep(0.2)
        assert proc.poll() is None, (out.parent / "first.log").read_text()[-3000:]
        time.sleep(1.0)  # into the features stage
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    incomplete = _snakemake_incomplete(out)
    before = {p: s for p, s in _outputs(out).items() if p.resolve() not in incomplete}
    second = subprocess.run(_demo(out), capture_output=True, text=True, env=env, timeout=1800)
    return out, before, second


def test_resumed_run_finishes(resumed):
    out, _, second = resumed
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    for subject in ("subj01", "subj02"):
        report = out / f"sub-{subject}.html"
        assert report.stat().st_size > 10_000
        assert f"report: {report.resolve()}" in second.stdout


def test_completed_outputs_were_not_recomputed(resumed):
    out, before, _ = resumed
    assert any(p.name.endswith("desc-prepared_bold.h5") for p in before)
    after = _outputs(out)
    for path, stamp in before.items():
        assert after.get(path) == stamp, f"{path} was rewritten by the resumed run"


def test_no_partial_file_under_an_output_name(resumed):
    out, _, _ = resumed
    for path in out.glob("sub-*/**/*"):
        if path.is_file() and not path.name.startswith("."):
            assert ".tmp" not in path.name, path
    for sidecar in out.glob("sub-*/**/*.json"):
        json.loads(sidecar.read_text())  # every sidecar is whole JSON


def test_encoding_recovers_the_world_truth(resumed):
    """The demo's per-ROI table: each ROI's best space is the one it was simulated from."""
    import pandas as pd

    out, _, _ = resumed
    table = pd.read_csv(next(out.glob("sub-subj01/*_desc-encoding_stat-r_rois.tsv")), sep="\t")
    best = table[table["best"]].set_index("roi")
    truth = {"prf-visualrois": "truthprf", "floc-faces": "truthcategory",
             "floc-places": "truthcategory"}  # fmt: skip
    assert {"V1v", "hV4", "FFA-1", "PPA"} <= set(best.index)
    for roi, row in best.iterrows():
        assert row["feature_space"] == truth[row["atlas"]], roi
        assert row["ceiling_fraction"] > 0.7, (roi, row["ceiling_fraction"])


def test_notebook_runs_on_the_demo_outputs(resumed, tmp_path, monkeypatch):
    """notebooks/ read stage outputs only: the analysis notebook runs on the demo's folder."""
    pytest.importorskip("nbclient")
    from report._notebook import run_notebook

    out, _, _ = resumed
    outputs, text = run_notebook(out, tmp_path, monkeypatch)
    assert not [o for o in outputs if o.output_type == "error"]
    assert "subj01" in text and "subj02" in text


def test_demo_report_opens_in_headless_chromium(resumed, tmp_path):
    """The real report of the run, in Debian's chromium: no console errors, a full page."""
    from report._browser import find_chromium, screenshot

    if find_chromium() is None:
        pytest.skip("chromium + chromedriver not installed (.ci/run installs them)")
    out, _, _ = resumed
    png = Path(os.environ.get("NEURODECODE_SCREENSHOT_DIR", tmp_path)) / "demo_report.png"
    logs = screenshot(out / "sub-subj01.html", png)
    assert [e for e in logs if e["level"] in ("SEVERE", "WARNING")] == []
    from PIL import Image

    with Image.open(png) as img:
        assert img.width >= 1000 and img.height > 1500
        assert len(img.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 200
