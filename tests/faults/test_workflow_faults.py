"""Faults around the workflow and the machine: shell injection, odd paths, unknown config keys,
a killed driver, a full disk."""

from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from neurodecode.stages.run import WORKFLOW_DIR, RunConfig, load_workflow_config, run

from ._matrix import SUBJECT, final_outputs, pristine

pytest.importorskip("snakemake")


def _config(tmp: Path, root: Path, **changes) -> Path:
    cfg = yaml.safe_load((WORKFLOW_DIR / "config" / "config.yaml").read_text())
    cfg.pop("contrastive", None)
    cfg.update({"data_root": str(root), "subjects": ["subj01"], **changes})
    path = tmp / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _shell(text: str, stage: str) -> list[str]:
    return re.findall(rf"^Shell command: (neurodecode {stage} .*)$", text, flags=re.M)


INJECTION = "synth-prf; touch PWNED; true"


def test_injection_through_a_config_string_is_refused_by_the_schema(tmp_path):
    cfg = _config(tmp_path, tmp_path, feature_spaces=[{"name": "x", "extractor": INJECTION}])
    with pytest.raises(ValueError, match="feature_spaces/0/extractor"):
        load_workflow_config(cfg, tmp_path / "out")
    for key, value in (("roi", "nsdgeneral; touch PWNED"), ("preset", "$(touch PWNED)")):
        bad = _config(tmp_path, tmp_path, contrastive={"features": "clipimage", key: value})
        with pytest.raises(ValueError, match=f"contrastive/{key}"):
            load_workflow_config(bad, tmp_path / "out")


def test_injection_is_harmless_even_when_the_schema_is_bypassed(tmp_path, capfd):
    """A copy of the workflow whose schema lets anything through: every value is still quoted."""
    workflow = tmp_path / "workflow"
    shutil.copytree(WORKFLOW_DIR, workflow)
    schema = workflow / "schemas" / "config.schema.yaml"
    schema.write_text(re.sub(r'pattern: "[^"]*"', "minLength: 0", schema.read_text()))
    root = pristine("nsd", tmp_path / "r")
    cfg = yaml.safe_load(_config(tmp_path, root).read_text())
    cfg["feature_spaces"] = [{"name": "x", "extractor": INJECTION}]
    cfg["scuba"] = {**cfg.get("scuba", {}), "features": "x"}  # its bank embeds with INJECTION
    cfg["dive"] = {**cfg.get("dive", {}), "features": "x"}  # its encoder is fitted on x
    path = tmp_path / "bypass.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(workflow / "Snakefile"), "--configfile",
         str(path), "--directory", str(out), "-c1", "--dry-run", "--nolock"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    (command,) = _shell(done.stdout, "features")
    assert "'synth-prf; touch PWNED; true'" in command  # one quoted word
    # run exactly that shell line: the stage gets the whole string as a model name and fails
    result = subprocess.run(["bash", "-c", command], cwd=out, capture_output=True, timeout=120)
    assert result.returncode != 0
    assert not (out / "PWNED").exists() and not list(tmp_path.rglob("PWNED"))


def test_a_data_root_with_spaces_and_metacharacters_reaches_stages_whole(tmp_path, capfd):
    root = tmp_path / "my data; $(touch PWNED)"
    shutil.copytree(pristine("nsd", tmp_path / "r"), root)
    out = tmp_path / "out dir"
    status = run(RunConfig(config=_config(tmp_path, root), out=out, cores=1, dry_run=True))
    text = capfd.readouterr().out
    assert status.status == 0, text
    (verify,) = _shell(text, "data verify")
    (out / "logs" / "verify").mkdir(parents=True)  # (Snakemake makes log folders before a job)
    done = subprocess.run(["bash", "-c", verify], cwd=out, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (out / "sub-subj01" / "sub-subj01_desc-verify_report.json").is_file()
    assert not list(tmp_path.rglob("PWNED"))


def test_every_config_section_rejects_unknown_keys_and_passes_known_ones(tmp_path, capfd):
    with pytest.raises(ValueError, match="n_split"):
        load_workflow_config(_config(tmp_path, tmp_path, encode={"n_split": 3}), tmp_path)
    with pytest.raises(ValueError, match="n_draw"):
        load_workflow_config(_config(tmp_path, tmp_path, contrastive={"n_draw": 3}), tmp_path)
    (tmp_path / "root").mkdir()
    cfg = _config(tmp_path, tmp_path / "root", encode={"n_splits": 3, "alphas": [1.0, 10.0]})
    status = run(RunConfig(config=cfg, out=tmp_path / "out", cores=1, dry_run=True))
    text = capfd.readouterr().out
    assert status.status == 0, text
    for command in _shell(text, "encode"):
        assert "--n-splits 3" in command and "--alphas 1.0 10.0" in command


def test_killing_the_driver_keeps_the_folder_locked_while_its_snakemake_runs(tmp_path):
    cfg = yaml.safe_load((WORKFLOW_DIR / "config" / "config.yaml").read_text())
    cfg.pop("contrastive", None)
    cfg.update({"synth": {"preset": "tiny"}, "subjects": ["subj01"]})
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "neurodecode.cli", "run", "--config", str(path), "--out",
           str(out), "--cores", "1"]  # fmt: skip
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (out / "logs" / "synth.log").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (out / "logs" / "synth.log").exists(), "the workflow did not start"
        os.kill(first.pid, signal.SIGKILL)  # the driver only: its Snakemake lives on
        first.wait()
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert second.returncode == 1 and "in use by another neurodecode run" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the orphaned Snakemake and its jobs
        time.sleep(0.5)


def _limit_file_size(limit: int):
    def set_limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return set_limit


def test_a_full_disk_during_prepare_is_a_clear_error_and_leaves_nothing(tmp_path):
    """Writes past RLIMIT_FSIZE fail with EFBIG exactly as a full disk fails with ENOSPC
    (Python ignores SIGXFSZ), so this is the full-disk path without filling a disk."""
    root = pristine("nsd", tmp_path / "r")
    out = tmp_path / "cache"
    argv = [sys.executable, "-m", "neurodecode.cli", "prepare", "--dataset", "nsd", "--root",
            str(root), "--subject", SUBJECT["nsd"], "--out", str(out), "--no-progress"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                          preexec_fn=_limit_file_size(20_000))  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "desc-prepared_bold.npy" in done.stderr and "could not write" in done.stderr
    assert "Traceback" not in done.stderr
    assert final_outputs(out) == [] if out.exists() else True
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]  # no hidden partial file either
    again = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
