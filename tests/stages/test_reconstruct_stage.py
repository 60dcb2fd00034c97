"""``neurodecode reconstruct`` on a tiny world: outputs, metric bookkeeping, report, notebook.

The science thresholds live in tests/pipeline/test_reconstruct_demo_world.py (slow, demo
world); this runs the same code on the tiny world (240 training images, 60 test images) with
the shipped toy latent-diffusion model and checks what holds at any size.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neurodecode.cli import main

pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("skimage")

SUBJECT = "subj01"
METHODS = {"full", "latent", "latent_without_prior", "embedding", "random_image", "mean_image"}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    base = tmp_path_factory.mktemp("reconstruct")
    root, cache = base / "release", base / "cache"
    out = base / "derivatives" / f"sub-{SUBJECT}"
    assert main(["synth", "nsd", "--preset", "tiny", "--subjects", SUBJECT, "--formats",
                 "hdf5", "--out", str(root)]) == 0  # fmt: skip
    assert main(["prepare", "--dataset", "nsd", "--root", str(root), "--subject", SUBJECT,
                 "--out", str(cache), "--no-progress"]) == 0  # fmt: skip
    assert main(["reconstruct", "--subject", SUBJECT, "--cache", str(cache), "--out", str(out),
                 "--steps", "6", "--n-bootstrap", "200", "--bank-size", "200",
                 "--latent-roi", "prf-visualrois"]) == 0  # fmt: skip
    path = out / f"sub-{SUBJECT}_desc-recon_results.json"
    return {"path": path, "data": json.loads(path.read_text()), "cache": cache,
            "images": dict(np.load(str(path).replace("_results.json", "_images.npz"))),
            "derivatives": out.parent}  # fmt: skip


def test_every_method_has_every_metric_with_n_and_ci(result):
    r = result["data"]
    assert r["n_test"] == 60 and set(r["methods"]) == METHODS
    names = set(r["methods"]["full"])
    assert names >= {"pixcorr", "ssim", "two_way/toy-clip", "two_way/efficientnet-lite0",
                     "correlation_distance/efficientnet-lite0", "colour", "category",
                     "two_way/true_response"}  # fmt: skip
    for metrics in r["methods"].values():
        assert set(metrics) == names
        for e in metrics.values():
            assert e["n"] == 60 and e["ci_low"] <= e["value"] <= e["ci_high"]
    assert r["chance"]["two_way"] == 0.5 and 0 < r["chance"]["colour"] < 0.5


def test_the_latent_decoder_reads_its_roi_and_the_card_names_the_weights(result):
    r = result["data"]
    assert r["voxels"]["latent"] < r["voxels"]["embedding"]
    card = r["metric_card"]
    assert "sigma 1.5" in card["ssim"]
    assert len(card["backbones"]["efficientnet-lite0"]["weights_sha256"]) == 64


def test_images_are_saved_beside_the_results(result):
    arr = result["images"]
    assert arr["truth"].shape == (60, 64, 64, 3) and arr["truth"].dtype == np.uint8
    for m in ("full", "latent", "embedding", "random_image", "mean_image"):
        assert arr[f"recon_{m}"].shape == arr["truth"].shape
    assert arr["two_way_per_image"].shape == (60,)
    # the random-image baseline is a derangement of the test images
    assert not np.any(np.all(arr["recon_random_image"] == arr["truth"], axis=(1, 2, 3)))


def test_baselines_behave_as_defined(result):
    m = result["data"]["methods"]
    assert m["random_image"]["two_way/toy-clip"]["value"] == pytest.approx(0.5, abs=0.1)
    # one image for all: every comparison ties
    assert m["mean_image"]["two_way/true_response"]["value"] == pytest.approx(0.5)


def test_the_report_shows_the_reconstruction_section(result, tmp_path):
    page = tmp_path / "r.html"
    assert main(["report", "--subject", SUBJECT, "--inputs", str(result["path"]), "--cache",
                 str(result["cache"]), "--out", str(page)]) == 0  # fmt: skip
    text = page.read_text()
    assert "Images reconstructed from the brain" in text and "PixCorr" in text
    assert "baseline: the mean training image" in text and text.count("<img") >= 9


def test_the_notebook_runs_on_the_stage_outputs(result, tmp_path, monkeypatch):
    import importlib.util

    pytest.importorskip("nbclient")
    helper = Path(__file__).resolve().parents[1] / "report" / "_notebook.py"
    spec = importlib.util.spec_from_file_location("notebook_runner", helper)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "reconstruction.ipynb"
    outputs, text = module.run_notebook(result["derivatives"], tmp_path, monkeypatch,
                                        timeout=180, notebook=notebook)  # fmt: skip
    assert not [o for o in outputs if o.output_type == "error"]
    assert "full - latent" in text and "subj01" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)


def test_given_embeddings_must_cover_every_test_stimulus(result, tmp_path, capsys):
    """``--embeddings`` (e.g. contrastive predictions): a file lacking test ids is refused,
    naming the file, and nothing is written."""
    from neurodecode.features import write_features

    ids = np.asarray(result["images"]["stim_id"][:5], np.int64)  # not every test stimulus
    path = tmp_path / "emb.h5"
    write_features(path, ids, np.ones((len(ids), 32), np.float32), name="given", model="m")
    out = tmp_path / "out"
    assert main(["reconstruct", "--subject", SUBJECT, "--cache", str(result["cache"]),
                 "--out", str(out), "--embeddings", str(path), "--steps", "2",
                 "--no-ablations", "--n-bootstrap", "10"]) != 0  # fmt: skip
    assert "emb.h5" in capsys.readouterr().err
    assert not list(out.glob("sub-*"))
