"""The motion rule: the video demo config dry-runs (synth -> ... -> motion -> report) and the
`motion` section is validated (no stage is executed)."""

from __future__ import annotations

import re

import pytest
import yaml

from neurodecode.stages.run import WORKFLOW_DIR, RunConfig, load_workflow_config, run

DEMO = WORKFLOW_DIR / "config" / "bold-moments-demo.yaml"


def _commands(text: str, stage: str) -> list[str]:
    return sorted(set(re.findall(rf"^Shell command: (neurodecode {stage} .*)$", text, flags=re.M)))


def test_video_demo_config_dry_runs_every_stage_with_motion(tmp_path, capfd):
    assert run(RunConfig(config=DEMO, out=tmp_path / "out", dry_run=True, cores=1)).status == 0
    text = capfd.readouterr().out
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", text, flags=re.M))
    assert counts["synth"] == "1" and counts["motion"] == "1" and counts["report"] == "1"
    commands = _commands(text, "motion")
    assert len(commands) == 1
    cmd = commands[0]
    assert "--flow sub-01/features/sub-01_desc-disflow_features.h5" in cmd
    assert "--roi MT" in cmd and "--decoders ridge codebook" in cmd and "--device cpu" in cmd
    assert "logs/motion/sub-01.log" in cmd
    report = _commands(text, "report")
    assert report and "sub-01/sub-01_desc-motion_results.json" in report[0]
    assert "--model dis-flow" in text


def test_motion_section_is_validated(tmp_path):
    cfg = yaml.safe_load(DEMO.read_text())

    def write(**motion):
        path = tmp_path / "cfg.yaml"
        path.write_text(yaml.safe_dump({**cfg, "motion": {"flow": "disflow", **motion}}))
        return path

    assert load_workflow_config(write(epochs=3, lr=0.01), tmp_path)["motion"]["lr"] == 0.01
    assert load_workflow_config(write(shrink=[0]), tmp_path)["motion"]["shrink"] == [0]
    with pytest.raises(ValueError, match="motion"):
        load_workflow_config(write(shrink=[-0.1]), tmp_path)
    with pytest.raises(ValueError, match="motion"):
        load_workflow_config(write(decoders=["ridge", "lstm"]), tmp_path)
    with pytest.raises(ValueError, match="motion"):
        load_workflow_config(write(roi="MT; rm -rf /"), tmp_path)
    with pytest.raises(ValueError, match="motion"):
        load_workflow_config(write(unknown=1), tmp_path)


def test_motion_flow_must_be_a_configured_feature_space(tmp_path, capfd):
    cfg = yaml.safe_load(DEMO.read_text())
    cfg["motion"]["flow"] = "raftflow"
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert run(RunConfig(config=path, out=tmp_path / "out", dry_run=True, cores=1)).status != 0
    captured = capfd.readouterr()
    assert "motion/flow: 'raftflow' is not one of" in captured.out + captured.err
