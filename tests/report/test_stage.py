from __future__ import annotations

from neurodecode._io import read_json
from neurodecode.cli import main


def test_report_cli_writes_html_and_sidecar(encoding_outputs, tmp_path, capsys):
    out = tmp_path / "sub-subj01.html"
    argv = ["report", "--subject", "subj01", "--dataset", "nsd",
            "--inputs", str(encoding_outputs["table"]),
            "--background", str(encoding_outputs["background"]), "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert str(out) in capsys.readouterr().out
    side = read_json(tmp_path / "sub-subj01.json")
    assert side["stage"] == "report" and side["config"]["subject"] == "subj01"
    assert str(encoding_outputs["table"]) in side["inputs"]
    # provenance of the encode outputs is carried into the page
    text = out.read_text()
    for sidecar in encoding_outputs["sidecars"]:
        assert sidecar.name in text


def test_report_cli_reports_missing_settings(tmp_path, capsys):
    assert main(["report", "--subject", "subj01"]) == 2
    assert "missing --out, --inputs" in capsys.readouterr().err


def _prepared_release(root):
    """A tiny NSD-layout release with a stimulus brick, prepared into ``root / "cache"``."""
    import h5py
    from data._nsd_tree import write_tree  # tests/data is a package on the test path

    from neurodecode.data import _nsd_layout as nsd
    from neurodecode.data._prepare import PrepareConfig, prepare_subject
    from neurodecode.synth import StimulusSet

    write_tree(root / "nsd", sessions=4, per_session=30)
    path = root / "nsd" / nsd.stimuli_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as fh:
        fh[nsd.IMAGE_BRICK_DATASET] = StimulusSet(300, seed=3, image_size=32).images(range(300))
    prepare_subject(PrepareConfig(dataset="nsd", root=root / "nsd", subject="subj01",
                                  out=root / "cache"))  # fmt: skip
    return root / "cache"


def test_report_cli_shows_contrastive_retrieval_with_release_images(
    encoding_outputs, contrastive_outputs, tmp_path
):
    import re

    import numpy as np

    from neurodecode._io import write_json_atomic
    from neurodecode.data import load_prepared

    cache = _prepared_release(tmp_path / "world")
    # the fabricated retrieval file, re-keyed to the test stimuli of the prepared subject
    test_ids = np.unique(load_prepared(cache, "subj01").trials.query("split == 'test'").stim_id)
    result = contrastive_outputs["result"]
    result["examples"] = [
        {"query_stim_id": int(test_ids[0]), "retrieved_stim_ids": test_ids[:5].tolist()},
        {"query_stim_id": int(test_ids[-1]), "retrieved_stim_ids": test_ids[1:6].tolist()},
    ]
    retrieval = write_json_atomic(contrastive_outputs["path"], result)
    out = tmp_path / "sub-subj01.html"
    argv = ["report", "--subject", "subj01", "--inputs", str(encoding_outputs["table"]),
            str(retrieval), "--cache", str(cache), "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    text = out.read_text()
    assert "Contrastive retrieval" in text and "Images not shown" not in text
    assert len(re.findall(r'<img alt="stimulus \d+"', text)) == 12  # 2 queries x (1 + top-5)
    assert text.count('<td class="hit">') == 1  # only the first query retrieved its image
    # the retrieval sidecar is listed with the others and recorded as an input
    assert contrastive_outputs["sidecar"].name in text
    assert str(retrieval) in read_json(tmp_path / "sub-subj01.json")["inputs"]
