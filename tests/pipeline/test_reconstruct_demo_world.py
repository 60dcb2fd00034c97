"""Issue targets of image reconstruction on the demo world's 300 test images (subj01, subj02).

Both subjects of the demo world go through the real stages (synth, prepare, reconstruct with
the shipped toy latent-diffusion model and the default settings) as ``neurodecode demo`` runs
them. Chance: 0.5 for every 2-way identification; for colour and category the prior of the
test images' own labels (``chance`` in the results, about 1/6 and 1/5). Several minutes on 2
cores, hence ``slow``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("skimage")

pytestmark = pytest.mark.slow

SUBJECTS = ("subj01", "subj02")


def _stage(*args: str, cwd: Path) -> None:
    cmd = [sys.executable, "-m", "neurodecode.cli", *args]
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(args[:1])} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("demo-world")
    root = out / "sourcedata"
    _stage("synth", "nsd", "--preset", "demo", "--seed", "0", "--subjects", *SUBJECTS,
           "--formats", "hdf5", "--out", str(root), cwd=out)  # fmt: skip
    found = {}
    for subject in SUBJECTS:
        _stage("prepare", "--dataset", "nsd", "--root", str(root), "--subject", subject,
               "--out", str(out), "--no-progress", cwd=out)  # fmt: skip
        _stage("reconstruct", "--subject", subject, "--cache", str(out), "--out", str(out),
               cwd=out)  # fmt: skip
        found[subject] = json.loads((out / f"sub-{subject}_desc-recon_results.json").read_text())
    return found


def _value(r: dict, method: str, metric: str) -> float:
    return r["methods"][method][metric]["value"]


@pytest.mark.parametrize("subject", SUBJECTS)
def test_two_way_identification_efficientnet(results, subject):
    r = results[subject]
    assert r["n_test"] == 300 and r["chance"]["two_way"] == 0.5
    assert _value(r, "full", "two_way/efficientnet-lite0") >= 0.75


@pytest.mark.parametrize("subject", SUBJECTS)
def test_two_way_identification_toy_clip(results, subject):
    assert _value(results[subject], "full", "two_way/toy-clip") >= 0.90


# Measured 2026-12-02 on the demo world of seed 0 (shipped model after its stage 5, bank prior
# on, defaults): true-response 2-way 0.783 / 0.794 (subj01 / subj02); the embedding alone
# reaches 0.831 / 0.846. Open in the reconstruction issue.
@pytest.mark.xfail(strict=True, reason="true-response 2-way below the issue's 0.90 (open)")
@pytest.mark.parametrize("subject", SUBJECTS)
def test_true_response_two_way(results, subject):
    assert _value(results[subject], "full", "two_way/true_response") >= 0.90


@pytest.mark.parametrize("subject", SUBJECTS)
def test_colour_and_category(results, subject):
    r = results[subject]
    assert _value(r, "full", "colour") >= 0.70, r["chance"]
    assert _value(r, "full", "category") >= 0.70, r["chance"]


@pytest.mark.parametrize("subject", SUBJECTS)
def test_low_level_metrics_beat_the_mean_training_image(results, subject):
    r = results[subject]
    for metric in ("pixcorr", "ssim"):
        assert _value(r, "full", metric) > _value(r, "mean_image", metric), metric


@pytest.mark.parametrize("subject", SUBJECTS)
def test_the_embedding_adds_to_the_latent(results, subject):
    """Against the ridge latent alone; the prior's latent already holds the embedding's
    likelihood, so against it the full pipeline gains toy-CLIP 2-way and colour only."""
    r = results[subject]
    for metric in ("two_way/toy-clip", "colour", "category"):
        assert _value(r, "full", metric) > _value(r, "latent_without_prior", metric), metric
    for metric in ("two_way/toy-clip", "colour"):
        assert _value(r, "full", metric) > _value(r, "latent", metric), metric
