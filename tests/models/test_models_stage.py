"""``neurodecode models list`` and ``neurodecode models train clip`` through the stage parser."""

from __future__ import annotations

import json

import pytest

from neurodecode.cli import main
from neurodecode.stages import models as stage


def test_list_reports_local_and_missing_weights(capsys):
    rows = {r["name"]: r for r in stage.run_list().rows}
    assert rows["ViT-B-32/openai"]["weights"] == "missing"  # empty HF cache in tests
    assert rows["toy-clip"]["weights"].endswith("toy-clip")
    assert main(["models", "list"]) == 0
    assert "stabilityai/sd-vae-ft-mse" in capsys.readouterr().out


def test_train_clip_command_writes_an_open_clip_folder(tmp_path):
    pytest.importorskip("open_clip")
    out = tmp_path / "clip"
    argv = ["models", "train", "clip", "--world", "tiny", "--out", str(out), "--steps", "2",
            "--batch-size", "4", "--n-eval", "100"]  # fmt: skip
    assert main(argv) == 0
    report = json.loads((out / "training_report.json").read_text())
    assert report["config"]["steps"] == 2 and report["config"]["world_seed"] == 0
    assert {p.name for p in out.iterdir()} >= {
        "open_clip_config.json", "open_clip_model.safetensors", "vocab.json", "README.md"
    }  # fmt: skip
