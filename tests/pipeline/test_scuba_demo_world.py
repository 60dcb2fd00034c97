"""Issue targets on the demo world: BrainSCUBA's voxel captions name what the simulation tuned.

Both subjects of the demo world go through the real stages (synth, prepare, toy-CLIP features,
encode, ``image-bank`` of 20,000 generated images as the demo config builds it, ``scuba`` with
the shipped toy ClipCap). For every category ROI (face, place, body, word atlases) the captions
of its tuned voxels name the category >= 80% of the time; colour voxels name their preferred
colour >= 70%, all of them and those preferring an object colour and a background colour each
(the captioner is trained on captions that name the background). The raw weight direction, captioned
without the projection, falls far short. About 10 minutes on 2 cores, hence ``slow``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("spacy")

pytestmark = pytest.mark.slow

SUBJECTS = ("subj01", "subj02")
ATLASES = ("floc-faces", "floc-places", "floc-bodies", "floc-words")


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
    _stage("image-bank", "--world", str(root), "--size", "20000", "--out", "bank.h5",
           "--no-progress", cwd=out)  # fmt: skip
    found = {}
    for s in SUBJECTS:
        _stage("prepare", "--dataset", "nsd", "--root", str(root), "--subject", s,
               "--out", str(out), "--no-progress", cwd=out)  # fmt: skip
        _stage("features", "--subject", s, "--cache", ".", "--model", "toy-clip",
               "--no-progress", cwd=out)  # fmt: skip
        _stage("encode", "--subject", s, "--cache", ".", "--features", "toy-clip", "--desc",
               "clipimage", "--out", f"sub-{s}", "--n-bootstrap", "100", cwd=out)  # fmt: skip
        _stage("scuba", "--subject", s, "--cache", ".", "--encoder",
               f"sub-{s}/sub-{s}_desc-clipimage_model", "--bank", "bank.h5",
               "--out", f"sub-{s}", cwd=out)  # fmt: skip
        found[s] = json.loads((out / f"sub-{s}" / f"sub-{s}_desc-scuba_results.json").read_text())
    return found


@pytest.mark.parametrize("subject", SUBJECTS)
def test_category_rois_tuned_voxels_name_their_category(results, subject):
    check = results[subject]["truth_check"]["projection"]["category"]
    assert set(ATLASES) <= set(check)
    for atlas in ATLASES:
        e = check[atlas]
        assert e["n"] >= 100 and e["value"] >= 0.80, (atlas, e)
        assert e["value"] > 2 * e["chance_base_rate"], (atlas, e)


@pytest.mark.parametrize("subject", SUBJECTS)
def test_colour_voxels_name_their_preferred_colour(results, subject):
    colour = results[subject]["truth_check"]["projection"]["colour"]
    assert colour["n"] >= 150 and colour["value"] >= 0.70, colour
    assert colour["value"] > 3 * colour["chance_base_rate"], colour
    assert colour["chance_uniform"] == pytest.approx(1 / 11)
    for kind in ("object_colours", "background_colours"):
        part = colour[kind]
        assert part["n"] >= 50 and part["value"] >= 0.70, (kind, part)


@pytest.mark.parametrize("subject", SUBJECTS)
def test_the_raw_direction_without_the_projection_falls_short(results, subject):
    check = results[subject]["truth_check"]
    proj = [check["projection"]["category"][a]["value"] for a in ATLASES]
    raw = [check["raw_direction"]["category"][a]["value"] for a in ATLASES]
    assert sum(raw) / 4 < 0.5 < sum(proj) / 4
    for other in ("temperature_50", "temperature_500"):
        assert other in check
