"""data verify and the manifests."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from neurodecode.cli import main
from neurodecode.data import _nsd_layout as nsd
from neurodecode.data._datasets import build_manifest

from ._nsd_tree import write_tree

MANIFESTS = Path(__file__).resolve().parents[2] / "data_manifests"  # -> the packaged ones


def test_committed_manifests_are_regenerated_ones():
    for name in ("nsd", "bold5000"):
        assert json.loads((MANIFESTS / f"{name}.json").read_text()) == build_manifest(name)
    files = build_manifest("nsd")["files"]
    n_hdf5 = sum(f.get("format") == "hdf5" for f in files)
    assert n_hdf5 == sum(nsd.SESSIONS_COMPLETED.values())


def test_verify_good_tree(tmp_path):
    write_tree(tmp_path)
    assert main(["data", "verify", "--dataset", "nsd", "--root", str(tmp_path)]) == 0
    report = tmp_path / "r.json"
    argv = ["data", "verify", "--dataset", "nsd", "--root", str(tmp_path), "--subject", "subj01",
            "--out", str(report)]  # fmt: skip
    assert main(argv) == 0
    assert json.loads(report.read_text())["ok"] is True


def test_verify_lists_each_broken_file(tmp_path, capsys):
    write_tree(tmp_path)
    missing = tmp_path / nsd.session_betas_path("subj01", 2, "hdf5")
    missing.unlink()
    gz = tmp_path / nsd.session_betas_path("subj01", 1, "nii.gz")
    gz.write_bytes(gz.read_bytes()[:-50])
    wrong = tmp_path / nsd.session_betas_path("subj01", 3, "hdf5")
    with h5py.File(wrong, "w") as fh:
        fh["betas"] = np.zeros((12, 5, 6, 6), dtype=np.int16)
    capsys.readouterr()
    argv = ["data", "verify", "--dataset", "nsd", "--root", str(tmp_path), "--sessions", "1",
            "2", "3"]  # fmt: skip
    assert main(argv) != 0
    out = capsys.readouterr().out
    assert f"{missing}: file is missing" in out
    assert f"{gz}: gzip trailer" in out
    assert f"{wrong}: /betas is int16 (12, 5, 6, 6)" in out
    assert "3 problem(s)" in out
