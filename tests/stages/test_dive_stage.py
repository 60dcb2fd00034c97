"""``neurodecode dive`` on a tiny world: outputs, report, notebook, refusals.

The science thresholds live in tests/pipeline/test_dive_demo_world.py (slow, demo world); this
checks the bookkeeping that holds at any size: one entry per target with the guided samples,
the control and the natural stimuli; scores that are the true responses' means over the ROI;
the report section and the notebook; clear refusals of bad inputs before any work.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurodecode.cli import main
from neurodecode.stages._contract import EXIT_BAD_INPUT

pytest.importorskip("torch")
pytest.importorskip("diffusers")

SUBJECT = "subj01"
ROIS = ("FFA-1", "PPA")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("dive")
    root, cache = base / "release", base / "cache"
    out = base / "derivatives" / f"sub-{SUBJECT}"
    assert main(["synth", "nsd", "--preset", "tiny", "--subjects", SUBJECT, "--formats",
                 "hdf5", "--out", str(root)]) == 0  # fmt: skip
    assert main(["prepare", "--dataset", "nsd", "--root", str(root), "--subject", SUBJECT,
                 "--out", str(cache), "--no-progress"]) == 0  # fmt: skip
    assert main(["features", "--subject", SUBJECT, "--cache", str(cache), "--model", "toy-clip",
                 "--no-progress"]) == 0  # fmt: skip
    encoder_dir = base / "encode"
    assert main(["encode", "--subject", SUBJECT, "--cache", str(cache), "--features", "toy-clip",
                 "--desc", "clipimage", "--out", str(encoder_dir),
                 "--n-bootstrap", "20"]) == 0  # fmt: skip
    encoder = encoder_dir / f"sub-{SUBJECT}_desc-clipimage_model"
    assert main(["dive", "--subject", SUBJECT, "--cache", str(cache), "--encoder", str(encoder),
                 "--out", str(out), "--roi", ",".join(ROIS), "--contrast", "PPA",
                 "--num-images", "2", "--num-candidates", "3", "--steps", "3", "--views", "2",
                 "--n-natural", "3", "--n-bootstrap", "50"]) == 0  # fmt: skip
    stem = out / f"sub-{SUBJECT}_desc-dive"
    return {"base": base, "root": root, "cache": cache, "encoder": encoder, "out": out,
            "results": Path(f"{stem}_results.json"),
            "images": Path(f"{stem}_images.npz")}  # fmt: skip


@pytest.fixture(scope="module")
def result(world):
    import json

    return json.loads(world["results"].read_text())


def test_one_entry_per_roi_and_the_contrast(result):
    names = [t["name"] for t in result["targets"]]
    assert names == ["FFA-1", "PPA", "FFA-1-PPA"]
    assert [t["kind"] for t in result["targets"]] == ["roi", "roi", "contrast"]
    assert result["synthetic"] is True and result["n_natural"] > 0
    for t in result["targets"]:
        assert t["guided"]["n"] == 2 and t["control"]["n"] == 2
        assert t["guided"]["guidance_scale"] == 0.3 and t["control"]["guidance_scale"] == 0.0
        assert t["category"] in ("face", "place")
        nat = t["natural"]
        assert len(nat["top_ids"]) == 3 and np.isfinite(nat["true_p90"])
        assert nat["n"] == result["n_natural"]


def test_scores_are_the_truth_of_the_saved_images(world, result):
    """Every true score in the results is the oracle's mean over the ROI of the saved images."""
    from neurodecode.data import load_prepared
    from neurodecode.synth import prepared_truth

    prep = load_prepared(world["cache"], SUBJECT, None)
    truth = prepared_truth(prep, SUBJECT)
    with np.load(world["images"]) as arrays:
        for k, t in enumerate(result["targets"]):
            masks = {n: np.asarray(prep.rois[n], bool) for n in t["rois"]}
            for arm in ("guided", "control"):
                images = arrays[f"{k}_{arm}_images"]
                assert images.dtype == np.uint8 and images.shape[0] == 2
                true = truth.true_response(images)
                means = {n: true[:, m].mean(axis=1) for n, m in masks.items()}
                expected = means[t["rois"][0]] - (means[t["rois"][1]] if len(masks) > 1 else 0)
                np.testing.assert_allclose(arrays[f"{k}_{arm}_true"], expected, rtol=1e-5,
                                           atol=1e-6)  # fmt: skip
                assert t[arm]["true"]["value"] == pytest.approx(expected.mean(), rel=1e-6)
                assert t[arm]["true"]["n"] == 2
                pred = arrays[f"{k}_{arm}_predicted"]
                assert t[arm]["predicted"]["value"] == pytest.approx(pred.mean(), rel=1e-6)
            measured = arrays[f"{k}_natural_top_measured"]
            assert np.all(np.diff(measured) <= 0)  # shown in decreasing measured response


def test_the_control_is_the_guided_sampler_at_scale_zero(world, tmp_path):
    """The control samples the guided arm's noise unguided: a run at scale 0 reproduces it."""
    out = tmp_path / "zero"
    assert main(["dive", "--subject", SUBJECT, "--cache", str(world["cache"]), "--encoder",
                 str(world["encoder"]), "--out", str(out), "--roi", "FFA-1",
                 "--guidance-scale", "0", "--no-control", "--num-images", "2",
                 "--num-candidates", "3", "--steps", "3", "--views", "2", "--n-natural", "3",
                 "--n-bootstrap", "50"]) == 0  # fmt: skip
    rerun = out / f"sub-{SUBJECT}_desc-dive_images.npz"
    with np.load(world["images"]) as arrays, np.load(rerun) as zero:
        control, guided = arrays["0_control_images"], arrays["0_guided_images"]
        np.testing.assert_array_equal(zero["0_guided_images"], control)
        assert "0_control_images" not in zero
    assert not np.array_equal(guided, control)  # the guidance changed the samples


def test_the_report_shows_the_dive_section(world, tmp_path):
    page = tmp_path / "r.html"
    assert main(["report", "--subject", SUBJECT, "--inputs", str(world["results"]), "--cache",
                 str(world["cache"]), "--out", str(page)]) == 0  # fmt: skip
    text = page.read_text()
    assert "Images synthesised to drive ROIs (BrainDiVE)" in text
    assert "Scores per target" in text and "natural p90 (true)" in text
    assert text.count('<table class="thumbs">') == 3  # one grid per target
    assert "control: pred" in text and "guided: pred" in text and "stimulus " in text


def test_the_notebook_runs_on_the_stage_outputs(world, tmp_path, monkeypatch):
    import importlib.util

    pytest.importorskip("nbclient")
    helper = Path(__file__).resolve().parents[1] / "report" / "_notebook.py"
    spec = importlib.util.spec_from_file_location("notebook_runner", helper)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "dive.ipynb"
    outputs, text = module.run_notebook(world["out"].parent, tmp_path, monkeypatch, timeout=180,
                                        notebook=notebook)  # fmt: skip
    assert not [o for o in outputs if o.output_type == "error"]
    assert "subj01" in text and "FFA-1-PPA" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)


def _dive(world, tmp_path, *extra):
    return main(["dive", "--subject", SUBJECT, "--cache", str(world["cache"]), "--encoder",
                 str(world["encoder"]), "--out", str(tmp_path / "o"), "--num-images", "1",
                 "--num-candidates", "1", "--steps", "1", *extra])  # fmt: skip


def test_an_unknown_roi_is_refused_before_any_work(world, tmp_path, capsys):
    assert _dive(world, tmp_path, "--roi", "FFA-1,NOPE") == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "NOPE" in err and "PPA" in err  # names the bad ROI and lists the known ones
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_a_contrast_of_the_roi_with_itself_is_refused(world, tmp_path, capsys):
    assert _dive(world, tmp_path, "--roi", "PPA", "--contrast", "PPA") == EXIT_BAD_INPUT
    assert "--contrast PPA" in capsys.readouterr().err


def test_fewer_candidates_than_images_are_refused(world, tmp_path, capsys):
    assert _dive(world, tmp_path, "--num-images", "3", "--num-candidates", "2") == EXIT_BAD_INPUT
    assert "--num-candidates" in capsys.readouterr().err


def test_a_missing_encoder_is_refused(world, tmp_path, capsys):
    code = main(["dive", "--subject", SUBJECT, "--cache", str(world["cache"]), "--encoder",
                 str(tmp_path / "none"), "--out", str(tmp_path / "o")])  # fmt: skip
    assert code == EXIT_BAD_INPUT and "encode" in capsys.readouterr().err


def test_an_encoder_of_another_clip_is_refused(world, tmp_path, capsys):
    assert _dive(world, tmp_path, "--clip-model", "ViT-B-16/openai") == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "toy-clip" in err and "ViT-B-16/openai" in err


def test_a_real_release_is_scored_by_the_encoder_and_the_betas_only(world, tmp_path, monkeypatch):
    """Without a ground truth (a real release) the results hold the predicted and measured
    scores, no true ones, and the report still renders them."""
    import json

    import neurodecode.synth

    monkeypatch.setattr(neurodecode.synth, "prepared_truth", lambda prep, subject: None)
    out = tmp_path / "real"
    assert main(["dive", "--subject", SUBJECT, "--cache", str(world["cache"]), "--encoder",
                 str(world["encoder"]), "--out", str(out), "--roi", "FFA-1",
                 "--num-images", "1", "--num-candidates", "1", "--steps", "1", "--views", "1",
                 "--n-natural", "2", "--n-bootstrap", "20"]) == 0  # fmt: skip
    results = out / f"sub-{SUBJECT}_desc-dive_results.json"
    r = json.loads(results.read_text())
    t = r["targets"][0]
    assert r["synthetic"] is False and t["category"] is None
    assert "true" not in t["guided"] and "true_p90" not in t["natural"]
    assert np.isfinite(t["natural"]["top_measured"]["value"])
    page = tmp_path / "r.html"
    assert main(["report", "--subject", SUBJECT, "--inputs", str(results), "--cache",
                 str(world["cache"]), "--out", str(page)]) == 0  # fmt: skip
    assert "meas " in page.read_text() and "natural p90" not in page.read_text()
