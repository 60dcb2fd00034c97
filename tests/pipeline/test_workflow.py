"""The workflow's layout, lint, config resolution and SLURM dry run (no stage is executed)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from neurodecode.stages.run import (
    WORKFLOW_DIR,
    RunConfig,
    load_workflow_config,
    resolve_profile,
    run,
    snakemake_command,
)

REPO = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, **overrides) -> Path:
    """An NSD config over a release folder holding the files a dry run checks for."""
    from neurodecode.data import _nsd_layout as layout

    root = tmp_path / "release"
    cfg = yaml.safe_load((WORKFLOW_DIR / "config" / "nsd.yaml").read_text())
    cfg.update({"data_root": str(root), **overrides})
    atlases = cfg["evaluate"].get("atlases", ["prf-visualrois", "floc-faces", "floc-places"])
    for subject in cfg["subjects"]:
        files = [layout.brainmask_path(subject, cfg["space"])]
        for atlas in atlases:
            files += [
                layout.roi_path(subject, atlas, cfg["space"]),
                layout.ctab_path(subject, atlas),
            ]
        for rel in files:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).touch()
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_standard_layout_and_symlink():
    for rel in (
        "Snakefile",
        "config/config.yaml",
        "schemas/config.schema.yaml",
        "profiles/default/config.yaml",
        "profiles/slurm/config.yaml",
    ):
        assert (WORKFLOW_DIR / rel).is_file(), rel
    rules = sorted(p.stem for p in (WORKFLOW_DIR / "rules").glob("*.smk"))
    assert {"data", "features", "encode", "contrastive", "evaluate", "report"} <= set(rules)
    assert (REPO / "pipelines").resolve() == WORKFLOW_DIR
    # the Snakefile only includes rule files and defines `all`
    text = (WORKFLOW_DIR / "Snakefile").read_text()
    assert set(re.findall(r"^rule (\w+):", text, flags=re.M)) == {"all"}
    assert len(re.findall(r"^include:", text, flags=re.M)) == len(rules)


def test_every_rule_only_calls_the_cli_and_has_a_log_and_slurm_resources():
    profile = yaml.safe_load((WORKFLOW_DIR / "profiles/slurm/config.yaml").read_text())
    names = []
    for smk in (WORKFLOW_DIR / "rules").glob("*.smk"):
        text = smk.read_text()
        for block in re.split(r"\n\s*rule ", text)[1:]:
            name = block.split(":")[0]
            names.append(name)
            assert "log:" in block, f"{smk.name}: rule {name} has no log"
            assert "run:" not in block and "script:" not in block, name
            shell = block.split("shell:")[1]
            assert shell.strip().startswith('"neurodecode '), name
            assert name in profile["set-resources"], f"rule {name} has no SLURM resources"
            # every value reaches the shell quoted: a {..} field is :q, or a flags helper's
            fields = re.findall(r"\{([^{}]+)\}", shell.split("\n\n")[0])
            for fld in fields:
                ok = fld.endswith(":q") or fld.startswith(
                    (
                        "params.seed",
                        "params.options",
                        "params.text",
                        "params.scores",
                        "params.rois",
                        "params.n_",
                        "params.ci",
                    )
                )
                assert ok, f"rule {name}: {{{fld}}} reaches the shell unquoted"
    assert len(names) == len(set(names)) >= 8


#: A `contrastive` section using every option, over CLIP image and caption spaces.
CONTRASTIVE = {
    "contrastive": {"features": "clipimage", "text_features": "cliptext", "roi": "nsdgeneral"},
    "feature_spaces": [
        {"name": "clipimage", "extractor": "ViT-B-32/openai"},
        {"name": "cliptext", "extractor": "ViT-B-32/openai-text"},
    ],
}


@pytest.mark.parametrize("extra", [{}, CONTRASTIVE], ids=["plain", "contrastive"])
def test_lint_is_clean(tmp_path, extra):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(WORKFLOW_DIR / "Snakefile"),
            "--lint",
            "--configfile",
            str(_config(tmp_path, **extra)),
            "--directory",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Congratulations, your workflow is in a good condition" in res.stdout + res.stderr


def _dry_run_jobs(text: str) -> dict[str, dict[str, str]]:
    jobs: dict[str, dict[str, str]] = {}
    for block in re.split(r"\nrule ", text)[1:]:
        name = block.split(":")[0]
        m = re.search(r"resources: (.*)", block)
        res = dict(kv.split("=", 1) for kv in m.group(1).split(", ")) if m else {}
        th = re.search(r"threads: (\d+)", block)
        res["threads"] = th.group(1) if th else "1"
        jobs.setdefault(name, res)
    return jobs


def _shell_commands(text: str, stage: str) -> list[str]:
    return re.findall(rf"^Shell command: (neurodecode {stage} .*)$", text, flags=re.M)


def test_slurm_dry_run_lists_resources_per_rule(tmp_path, capfd):
    cfg = _config(
        tmp_path,
        contrastive={"features": "clipimage"},
        encode={"banded": [{"name": "both", "spaces": ["clipimage", "cliptext"]}]},
        feature_spaces=CONTRASTIVE["feature_spaces"],
    )
    status = run(RunConfig(config=cfg, out=tmp_path / "out", profile="slurm", dry_run=True))
    text = capfd.readouterr().out
    assert status.status == 0, text
    jobs = _dry_run_jobs(text)
    jobs.pop("all", None)
    profile = yaml.safe_load((WORKFLOW_DIR / "profiles/slurm/config.yaml").read_text())
    # structural, not a pinned list: every rule of the run has its SLURM resources
    assert {"verify", "prepare", "features", "encode", "encode_banded", "contrastive"} <= set(jobs)
    for rule, job in jobs.items():
        assert rule in profile["set-resources"], f"rule {rule} has no SLURM resources"
        wanted = {**profile["default-resources"], **profile["set-resources"][rule]}
        assert job["mem_mb"] == str(wanted["mem_mb"]), rule
        assert job["runtime"] == str(wanted["runtime"]), rule
        assert job["cpus_per_task"] == str(wanted["cpus_per_task"]), rule
        assert "slurm_partition" in job, rule
        # (Snakemake >= 9.17 no longer prints threads in a dry run; SLURM gets cpus_per_task)
    for gpu_rule in ("features", "encode", "contrastive"):
        assert jobs[gpu_rule]["gpu"] == "1"
    assert "gpu" not in jobs["prepare"]
    # the gpu resource puts the contrastive stage on CUDA
    commands = _shell_commands(text, "contrastive")
    assert len(commands) == 4 and all("--device cuda" in c for c in commands)


def test_default_profile_dry_run_per_subject_jobs(tmp_path, capfd):
    cfg = _config(tmp_path, subjects=["subj01", "subj02", "subj05"])
    assert run(RunConfig(config=cfg, out=tmp_path / "out", dry_run=True, cores=2)).status == 0
    text = capfd.readouterr().out
    n_spaces = len(yaml.safe_load(cfg.read_text())["feature_spaces"])
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", text, flags=re.M))
    assert counts["prepare"] == "3" and counts["report"] == "3"
    assert counts["encode"] == str(3 * n_spaces) and counts["features"] == str(3 * n_spaces)
    # no `contrastive` section in the release config: no job, and the report does not ask for
    # one (the packaged default experiment, which has the section, is not merged in)
    assert "contrastive" not in counts and "contrastive_retrieval" not in text
    out = tmp_path / "out"
    assert yaml.safe_load((out / "config.yaml").read_text())["subjects"][-1] == "subj05"
    desc = yaml.safe_load((out / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "derivative"


def test_contrastive_section_adds_one_cpu_job_per_subject_feeding_the_report(tmp_path, capfd):
    cfg = _config(tmp_path, subjects=["subj01", "subj02"], contrastive={})
    assert run(RunConfig(config=cfg, out=tmp_path / "out", dry_run=True, cores=2)).status == 0
    text = capfd.readouterr().out
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", text, flags=re.M))
    assert counts["contrastive"] == "2"
    commands = sorted(_shell_commands(text, "contrastive"))
    assert len(commands) == 2
    first = commands[0]
    # schema defaults: the toy CLIP image space, the CPU preset, 300-way retrieval
    assert "--features sub-subj01/features/sub-subj01_desc-clipimage_features.h5" in first
    assert "--preset synthetic-cpu" in first and "--n-way 300" in first
    assert "--device cpu" in first and "--text-features" not in first and "--roi" not in first
    assert "--out sub-subj01 " in first and "logs/contrastive/sub-subj01.log" in first
    reports = sorted(_shell_commands(text, "report"))
    assert "sub-subj01/sub-subj01_desc-contrastive_retrieval.json" in reports[0]
    assert "--cache ." in reports[0]


def test_contrastive_space_must_be_a_configured_feature_space(tmp_path, capfd):
    cfg = _config(tmp_path, contrastive={"features": "truthprf"})
    assert run(RunConfig(config=cfg, out=tmp_path / "out", dry_run=True, cores=1)).status != 0
    captured = capfd.readouterr()
    assert "contrastive/features: 'truthprf' is not one of" in captured.out + captured.err
    with pytest.raises(ValueError, match="contrastive/n_way"):
        load_workflow_config(_config(tmp_path, contrastive={"n_way": 1}), tmp_path)


def test_reconstruction_conditioned_on_the_contrastive_predictions(tmp_path, capfd):
    cfg = _config(tmp_path, subjects=["subj01"], contrastive={},
                  reconstruct={"embeddings": "contrastive", "n_samples": 4})  # fmt: skip
    assert run(RunConfig(config=cfg, out=tmp_path / "out", dry_run=True, cores=1)).status == 0
    (command,) = _shell_commands(capfd.readouterr().out, "reconstruct")
    assert "--embeddings sub-subj01/sub-subj01_desc-contrastive_predictions.h5" in command
    assert "--n-samples 4" in command and "--embeddings contrastive" not in command
    lone = _config(tmp_path, subjects=["subj01"], reconstruct={"embeddings": "contrastive"})
    assert run(RunConfig(config=lone, out=tmp_path / "o2", dry_run=True, cores=1)).status != 0
    captured = capfd.readouterr()
    assert "needs a contrastive section" in captured.out + captured.err


@pytest.mark.parametrize(
    ("name", "subjects"),
    [
        ("nsd", ["subj01", "subj02", "subj05", "subj07"]),
        ("bold5000", ["CSI1", "CSI2", "CSI3", "CSI4"]),
    ],
)
def test_release_configs_need_only_the_data_root(tmp_path, monkeypatch, name, subjects):
    path = WORKFLOW_DIR / "config" / f"{name}.yaml"
    monkeypatch.delenv("NEURODECODE_NSD_ROOT", raising=False)
    monkeypatch.delenv("NEURODECODE_BOLD5000_ROOT", raising=False)
    with pytest.raises(ValueError, match="no data root"):
        load_workflow_config(path, tmp_path)
    cfg = load_workflow_config(path, tmp_path, data_root=tmp_path)
    assert cfg["subjects"] == subjects and cfg["data_root"] == str(tmp_path.resolve())
    env = "NEURODECODE_NSD_ROOT" if name == "nsd" else "NEURODECODE_BOLD5000_ROOT"
    monkeypatch.setenv(env, str(tmp_path / "x"))
    assert load_workflow_config(path, tmp_path)["data_root"] == str(tmp_path / "x")


def test_invalid_config_names_the_field(tmp_path):
    with pytest.raises(ValueError, match=r"subjects/0: .* does not match"):
        load_workflow_config(_config(tmp_path, subjects=["subj 01"]), tmp_path)
    with pytest.raises(ValueError, match="threads"):
        load_workflow_config(_config(tmp_path, threads=4), tmp_path)


def test_relative_data_root_is_relative_to_the_config(tmp_path):
    (tmp_path / "data").mkdir()
    cfg = load_workflow_config(_config(tmp_path, data_root="data"), tmp_path / "out")
    assert cfg["data_root"] == str((tmp_path / "data").resolve())


def test_synthetic_world_goes_under_the_output(tmp_path):
    default = yaml.safe_load((WORKFLOW_DIR / "config" / "config.yaml").read_text())
    assert "synth" not in default  # it would leak into every merged --configfile
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump({**default, "synth": {"preset": "tiny"}}))
    cfg = load_workflow_config(path, tmp_path)
    assert cfg["data_root"] == str(tmp_path / "sourcedata" / "nsd-synthetic")


def test_profiles_resolve_and_unknown_profile_is_an_error(tmp_path):
    assert resolve_profile("slurm") == WORKFLOW_DIR / "profiles" / "slurm"
    with pytest.raises(ValueError, match="not one of"):
        resolve_profile("nope")
    cmd = snakemake_command(RunConfig(config=tmp_path, cores=3), tmp_path / "c.yaml")
    assert cmd[cmd.index("--workflow-profile") + 1].endswith("profiles/default")
    assert cmd[cmd.index("--cores") + 1] == "3"


def test_concurrent_runs_on_one_folder_are_refused(tmp_path):
    from neurodecode.stages.run import _acquire

    held = _acquire(tmp_path)
    try:
        with pytest.raises(OSError, match="in use"):
            _acquire(tmp_path)
    finally:
        held.close()
    _acquire(tmp_path).close()  # free again once the holder closed it


def test_demo_dry_run_synthesises_then_runs_every_stage(tmp_path, capfd):
    from neurodecode.stages.demo import DemoConfig
    from neurodecode.stages.demo import run as demo

    assert demo(DemoConfig(out=tmp_path / "demo", preset="tiny", dry_run=True)).status == 0
    text = capfd.readouterr().out
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", text, flags=re.M))
    assert counts["synth"] == "1" and counts["report"] == "2"
    assert counts["contrastive"] == "2"  # the default experiment retrieves with the toy CLIP
    assert "--preset tiny" in text
    cfg = yaml.safe_load((tmp_path / "demo" / "config.yaml").read_text())
    assert cfg["data_root"] == str(tmp_path / "demo" / "sourcedata" / "nsd-synthetic")
