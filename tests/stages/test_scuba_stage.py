"""``neurodecode image-bank`` and ``neurodecode scuba`` on a tiny world: outputs, report, notebook.

The science thresholds live in tests/pipeline/test_scuba_demo_world.py (slow, demo world);
this checks the bookkeeping that holds at any size: one caption per voxel, word tables that
count what the captions say, word maps that match them, the truth check and its ablations, the
report section, the notebook, and clear refusals of bad inputs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neurodecode.cli import main
from neurodecode.stages._contract import EXIT_BAD_INPUT

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("spacy")

SUBJECT = "subj01"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("scuba")
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
    bank = base / "bank" / "bank.h5"
    assert main(["image-bank", "--world", str(root), "--size", "300", "--chunk-rows", "128",
                 "--out", str(bank), "--no-progress"]) == 0  # fmt: skip
    encoder = encoder_dir / f"sub-{SUBJECT}_desc-clipimage_model"
    assert main(["scuba", "--subject", SUBJECT, "--cache", str(cache), "--encoder", str(encoder),
                 "--bank", str(bank), "--out", str(out), "--n-bootstrap", "50",
                 "--voxel-batch", "100"]) == 0  # fmt: skip
    stem = out / f"sub-{SUBJECT}"
    return {"base": base, "root": root, "cache": cache, "bank": bank, "encoder": encoder,
            "out": out, "results": Path(f"{stem}_desc-scuba_results.json"),
            "captions": Path(f"{stem}_desc-scuba_captions.tsv"),
            "words": Path(f"{stem}_desc-scuba_words.tsv"),
            "wordmaps": Path(f"{stem}_space-func1pt8mm_desc-scuba_wordmaps.nii.gz")}  # fmt: skip


def test_the_bank_is_chunked_and_keyed_by_generator_id(world):
    import h5py
    import pandas as pd

    with h5py.File(world["bank"], "r") as fh:
        assert fh["features"].shape == (300, 128) and fh["features"].chunks == (128, 128)
        ids = np.asarray(fh["stim_ids"])
    table = pd.read_csv(world["bank"].with_name("bank_images.tsv"), sep="\t")
    assert list(table["id"]) == list(ids) and set(table["source"]) == {"generated"}
    from neurodecode.synth import load_world

    assert ids[0] == load_world(world["root"]).stimuli.n  # beyond the pool: no subject saw it


def test_one_caption_per_voxel_with_its_words(world):
    import pandas as pd

    from neurodecode.data import load_prepared

    prep = load_prepared(world["cache"], SUBJECT, None)
    table = pd.read_csv(world["captions"], sep="\t", keep_default_na=False)
    assert len(table) == prep.n_voxels
    np.testing.assert_array_equal(table[["i", "j", "k"]].to_numpy(), prep.ijk)
    assert (table["caption"].str.len() > 0).all()
    assert table["effective_size"].between(1, 300).all()
    named = table[table["nouns"] != ""]
    assert len(named) > 0.9 * len(table)
    for caption, nouns in zip(named["caption"], named["nouns"], strict=True):
        assert all(n in caption.lower() for n in nouns.split(","))
    faces = np.asarray(prep.rois["floc-faces"])
    assert set(table.loc[faces, "atlas"]) == {"floc-faces"}


def test_the_word_table_counts_the_captions(world):
    import pandas as pd

    captions = pd.read_csv(world["captions"], sep="\t", keep_default_na=False)
    words = pd.read_csv(world["words"], sep="\t")
    top = words[(words["group"] == "all") & (words["pos"] == "noun")].iloc[0]
    said = captions["nouns"].map(lambda s: top["word"] in s.split(","))
    assert top["count"] == said.sum() and top["share"] == pytest.approx(said.mean())
    assert {"floc-faces", "floc-places"} <= set(words["group"])


def test_word_maps_mark_the_voxels_whose_caption_has_the_word(world):
    import nibabel as nib
    import pandas as pd

    from neurodecode.data import load_prepared

    result = json.loads(world["results"].read_text())
    img = nib.load(world["wordmaps"])
    data = np.asarray(img.dataobj)
    words = [m["word"] for m in result["map_words"]]
    assert data.dtype == np.uint8 and data.shape[3] == len(words) and set(np.unique(data)) <= {0, 1}
    prep = load_prepared(world["cache"], SUBJECT, None)
    captions = pd.read_csv(world["captions"], sep="\t", keep_default_na=False)["caption"]
    i, j, k = prep.ijk.T
    for n, word in enumerate(words):
        expected = captions.str.lower().str.contains(rf"\b{word}\b").to_numpy()
        np.testing.assert_array_equal(data[i, j, k, n].astype(bool), expected)
        assert data[..., n].sum() == result["map_words"][n]["voxels"]


def test_the_truth_check_and_its_ablations(world):
    result = json.loads(world["results"].read_text())
    check = result["truth_check"]
    assert set(check) == {"projection", "raw_direction", "temperature_50", "temperature_500"}
    for variant in check.values():
        atlases = {"floc-faces", "floc-places", "floc-bodies", "floc-words"}
        assert atlases <= set(variant["category"])
        for entry in variant["category"].values():
            assert 0 <= entry["value"] <= 1 and entry["chance_uniform"] == pytest.approx(0.2)
        assert variant["colour"]["chance_uniform"] == pytest.approx(1 / 11)
    assert result["bank"]["n"] == 300 and result["temperature"] == 150
    assert result["projection"]["500"]["median_effective_size"] < \
        result["projection"]["50"]["median_effective_size"]  # fmt: skip


def test_the_report_shows_the_scuba_section(world, tmp_path):
    page = tmp_path / "r.html"
    inputs = [str(world[k]) for k in ("results", "captions", "words", "wordmaps")]
    assert main(["report", "--subject", SUBJECT, "--inputs", *inputs, "--cache",
                 str(world["cache"]), "--out", str(page)]) == 0  # fmt: skip
    text = page.read_text()
    assert "Voxel selectivity captions (BrainSCUBA)" in text
    assert "Words per ROI" in text and "Captions against the simulated tuning" in text
    assert "raw weight direction" in text and "Word map" in text


def test_the_notebook_runs_on_the_stage_outputs(world, tmp_path, monkeypatch):
    import importlib.util

    pytest.importorskip("nbclient")
    helper = Path(__file__).resolve().parents[1] / "report" / "_notebook.py"
    spec = importlib.util.spec_from_file_location("notebook_runner", helper)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "scuba.ipynb"
    outputs, text = module.run_notebook(world["out"].parent, tmp_path, monkeypatch, timeout=180,
                                        notebook=notebook)  # fmt: skip
    assert not [o for o in outputs if o.output_type == "error"]
    assert "subj01" in text and "raw_direction" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)


def test_a_bank_of_another_width_is_refused(world, tmp_path, capsys):
    from neurodecode.features import write_features

    bad = tmp_path / "bad.h5"
    write_features(bad, np.arange(5), np.ones((5, 7)), name="toy-clip", model="toy-clip")
    code = main(["scuba", "--subject", SUBJECT, "--cache", str(world["cache"]), "--encoder",
                 str(world["encoder"]), "--bank", str(bad),
                 "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and str(bad) in err and "7 dims" in err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_a_bank_of_another_model_is_refused(world, tmp_path, capsys):
    from neurodecode.features import write_features

    other = tmp_path / "other.h5"
    write_features(other, np.arange(5), np.ones((5, 128)), name="other", model="other-clip")
    code = main(["scuba", "--subject", SUBJECT, "--cache", str(world["cache"]), "--encoder",
                 str(world["encoder"]), "--bank", str(other),
                 "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and "other-clip" in err and "toy-clip" in err


def test_a_missing_encoder_is_refused(world, tmp_path, capsys):
    code = main(["scuba", "--subject", SUBJECT, "--cache", str(world["cache"]), "--encoder",
                 str(tmp_path / "none"), "--bank", str(world["bank"]),
                 "--out", str(tmp_path / "o")])  # fmt: skip
    assert code == EXIT_BAD_INPUT and "encode" in capsys.readouterr().err


def test_a_folder_bank_names_an_unreadable_image(tmp_path, capsys):
    from PIL import Image

    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    for n in range(3):
        Image.fromarray(np.full((40, 50, 3), 60 * n, np.uint8)).save(folder / f"im{n}.png")
    (folder / "sub" / "broken.jpg").write_bytes(b"not a jpeg")
    code = main(["image-bank", "--images", str(folder), "--out", str(tmp_path / "b.h5"),
                 "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and "broken.jpg" in err
    assert not (tmp_path / "b.h5").exists()
    (folder / "sub" / "broken.jpg").unlink()
    assert main(["image-bank", "--images", str(folder), "--out", str(tmp_path / "b.h5"),
                 "--no-progress"]) == 0  # fmt: skip
    import pandas as pd

    table = pd.read_csv(tmp_path / "b_images.tsv", sep="\t")
    assert list(table["path"]) == ["im0.png", "im1.png", "im2.png"]


def test_the_bank_needs_exactly_one_source(tmp_path, capsys):
    assert main(["image-bank", "--out", str(tmp_path / "b.h5")]) == EXIT_BAD_INPUT
    assert "exactly one of --world" in capsys.readouterr().err
