"""``neurodecode run``: drive the Snakemake workflow over a config file.

The workflow ships inside the package (``neurodecode/workflow``: Snakefile, ``rules/*.smk``,
``config/``, ``schemas/``, ``profiles/``), so an installed neurodecode can run it; the
repository's top-level ``pipelines`` is a symlink to that folder, giving the standard layout.

``run`` resolves the config (CLI flags > YAML; a relative ``data_root`` is relative to the
config file; a null one comes from ``--data-root`` or the dataset's environment variable, as the
dataset registry names it), validates it against the schema, writes the resolved config and a
BIDS ``dataset_description.json`` into the output folder and then calls ``python -m snakemake``
with that folder as working directory. The output folder is locked with ``flock`` for the
duration, and the lock is held by the Snakemake process itself (it inherits the locked file),
so even when ``neurodecode run`` is killed no second workflow can start in that folder while
its Snakemake still runs. An OS lock cannot go stale when a run is killed, unlike Snakemake's
own lock files, which is why Snakemake's locking is turned off; interrupted jobs are re-run
(``--rerun-incomplete``), so killing a run and starting it again finishes the work.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from neurodecode.stages._contract import StageConfig, StageOutputs, StageSpec, option

__all__ = [
    "STAGES",
    "WORKFLOW_DIR",
    "RunConfig",
    "RunOutputs",
    "load_workflow_config",
    "resolve_profile",
    "run",
    "snakemake_command",
]

#: The packaged workflow (``pipelines`` in a source checkout points here).
WORKFLOW_DIR = Path(__file__).resolve().parents[1] / "workflow"
LOCK_NAME = ".neurodecode.lock"


@dataclasses.dataclass(frozen=True)
class RunConfig(StageConfig):
    """Settings of ``neurodecode run`` (the experiment itself is in the workflow YAML).

    Parameters
    ----------
    config : Path
        Workflow config YAML (validated by schemas/config.schema.yaml).
    out : Path
        Derivatives folder: Snakemake's working directory and the root of every output.
    data_root : Path or None
        Release root; overrides the YAML's data_root.
    cores : int or None
        Local cores (default: the profile decides, all for the default profile).
    profile : str
        default, slurm (the packaged profiles) or a path to a profile folder.
    dry_run : bool
        List the jobs (with their resources) without running them.
    snakemake_args : tuple of str
        After --: further arguments passed to Snakemake unchanged.
    """

    config: Path = option()
    out: Path = Path("derivatives/neurodecode")
    data_root: Path | None = None
    cores: int | None = option(None, minimum=1)
    profile: str = "default"
    dry_run: bool = False
    snakemake_args: tuple[str, ...] = option((), remainder=True)


@dataclasses.dataclass(frozen=True)
class RunOutputs(StageOutputs):
    """Snakemake's exit status and the resolved config it ran."""

    status: int
    resolved_config: Path


def load_workflow_config(
    path: str | os.PathLike[str], out: Path, data_root: Path | None = None
) -> dict[str, Any]:
    """Read, resolve and validate a workflow config.

    ``data_root`` precedence: the ``data_root`` argument, then the YAML (relative paths are
    relative to the YAML's folder), then the dataset's environment variable (the registry's
    ``root_env``: ``NEURODECODE_NSD_ROOT``, ``NEURODECODE_BOLD5000_ROOT``); a config with a
    ``synth`` section and no root synthesises its world under ``<out>/sourcedata``.

    Raises
    ------
    ValueError
        When the config does not match the schema or no data root can be found.
    """
    import jsonschema
    import yaml

    from neurodecode.data import get_dataset

    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            cfg = yaml.safe_load(fh) or {}
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the workflow config ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    with open(WORKFLOW_DIR / "schemas" / "config.schema.yaml", encoding="utf-8") as fh:
        schema = yaml.safe_load(fh)
    try:
        jsonschema.validate(cfg, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(map(str, exc.absolute_path)) or "(top level)"
        raise ValueError(f"{path}: {where}: {exc.message}") from None
    spec = get_dataset(cfg["dataset"])
    if data_root is not None:
        cfg["data_root"] = str(Path(data_root).resolve())
    elif cfg.get("data_root"):
        cfg["data_root"] = str((path.parent / cfg["data_root"]).resolve())
    elif spec.root_from_env() is not None:
        cfg["data_root"] = str(Path(str(spec.root_from_env())).resolve())
    elif "synth" in cfg:
        cfg["data_root"] = str((out / "sourcedata" / f"{cfg['dataset']}-synthetic").resolve())
    if not cfg.get("data_root"):
        raise ValueError(
            f"{path}: no data root for {cfg['dataset']}: pass --data-root, set data_root in "
            f"the config or set {spec.root_env}"
        )
    return cfg


def resolve_profile(profile: str) -> Path:
    """Map ``default`` / ``slurm`` to the packaged profile folders; accept any folder path."""
    packaged = WORKFLOW_DIR / "profiles" / profile
    candidate = packaged if (packaged / "config.yaml").is_file() else Path(profile)
    if not (candidate / "config.yaml").is_file():
        known = sorted(p.name for p in (WORKFLOW_DIR / "profiles").iterdir())
        raise ValueError(f"profile {profile!r}: not one of {known} nor a folder with config.yaml")
    return candidate.resolve()


def snakemake_command(config: RunConfig, resolved_config: Path) -> list[str]:
    """The Snakemake command line ``run`` executes (the profile is the workflow profile).

    Snakemake reads ``profiles/default`` beside the Snakefile as *workflow profile* and lets it
    override any ``--profile``; passing the chosen profile as ``--workflow-profile`` makes it
    the only one in effect.
    """
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(WORKFLOW_DIR / "Snakefile"),
        "--directory",
        str(config.out.resolve()),
        "--configfile",
        str(resolved_config),
        "--workflow-profile",
        str(resolve_profile(config.profile)),
        "--nolock",
        "--rerun-incomplete",
    ]
    if config.cores is not None:
        cmd += ["--cores", str(config.cores)]
    if config.dry_run:
        cmd.append("--dry-run")
    return cmd + list(config.snakemake_args)


def _dataset_description(cfg: Mapping[str, Any]) -> dict[str, Any]:
    from neurodecode import __version__

    return {
        "Name": f"neurodecode derivatives ({cfg['dataset']})",
        "BIDSVersion": "1.9.0",
        "DatasetType": "derivative",
        "GeneratedBy": [
            {
                "Name": "neurodecode",
                "Version": __version__,
                "Description": "the neurodecode workflow (see config.yaml)",
            }
        ],
        "SourceDatasets": [{"URL": Path(cfg["data_root"]).as_uri()}],
    }


class BusyError(OSError):
    """The output folder is locked by another run (its Snakemake may outlive its driver)."""


def _acquire(folder: Path) -> Any:
    """The open, exclusively locked lock file of ``folder`` (raises when it is in use)."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    fh = open(folder / LOCK_NAME, "a")  # noqa: SIM115 - handed to the Snakemake process
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise BusyError(errno.EBUSY, f"{folder} is in use by another neurodecode run") from None
    return fh


def run(config: RunConfig) -> RunOutputs:
    """Resolve the config, write it beside the outputs and run the workflow."""
    import yaml

    from neurodecode._io import atomic_write, write_json_atomic

    out = config.out.resolve()
    cfg = load_workflow_config(config.config, out, config.data_root)
    resolve_profile(config.profile)
    lock = _acquire(out)
    try:
        resolved = out / "config.yaml"
        with atomic_write(resolved, "w", encoding="utf-8") as fh:
            yaml.safe_dump(cfg, fh, sort_keys=False)
        write_json_atomic(out / "dataset_description.json", _dataset_description(cfg))
        env = dict(os.environ)
        # rules call `neurodecode`: use the one beside this interpreter even when its
        # environment is not activated
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        # The child inherits the locked file: the lock lasts as long as Snakemake does.
        proc = subprocess.Popen(snakemake_command(config, resolved), env=env,
                                pass_fds=(lock.fileno(),))  # fmt: skip
        previous = {
            sig: signal.signal(sig, lambda s, _f: proc.send_signal(s))
            for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            status = proc.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        lock.close()
    return RunOutputs(status=status, resolved_config=resolved)


STAGES = (
    StageSpec(
        "run",
        "run the workflow (verify -> ... -> report) on a config",
        RunConfig,
        run,
        exit_status=lambda out: out.status,
        report=lambda out: "",
        contract=False,
    ),
)
