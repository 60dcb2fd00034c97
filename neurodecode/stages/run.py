"""``neurodecode run``: drive the Snakemake workflow over a config file.

The workflow ships inside the package (``neurodecode/workflow``: Snakefile, ``rules/*.smk``,
``config/``, ``schemas/``, ``profiles/``), so an installed neurodecode can run it; the
repository's top-level ``pipelines`` is a symlink to that folder, giving the standard layout.

``run`` resolves the config (CLI flags > YAML; a relative ``data_root`` is relative to the
config file; a null one comes from ``--data-root`` or the dataset's environment variable),
validates it against the schema, writes the resolved config and a BIDS
``dataset_description.json`` into the output folder and then calls ``python -m snakemake``
with that folder as working directory. The output folder is locked with ``flock`` for the
duration (an OS lock cannot go stale when a run is killed, unlike Snakemake's own lock files,
which is why Snakemake's locking is turned off), and interrupted jobs are re-run
(``--rerun-incomplete``), so killing a run and starting it again finishes the work.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "WORKFLOW_DIR",
    "RunConfig",
    "load_workflow_config",
    "register",
    "resolve_profile",
    "run",
    "snakemake_command",
]

#: The packaged workflow (``pipelines`` in a source checkout points here).
WORKFLOW_DIR = Path(__file__).resolve().parents[1] / "workflow"
ROOT_ENV = {"nsd": "NEURODECODE_NSD_ROOT", "bold5000": "NEURODECODE_BOLD5000_ROOT"}


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Settings of ``neurodecode run`` (the experiment itself is in the workflow YAML).

    Parameters
    ----------
    config : Path
        Workflow config YAML (validated by ``schemas/config.schema.yaml``).
    out : Path
        Derivatives folder: Snakemake's working directory and the root of every output.
    data_root : Path, optional
        Release root; overrides the YAML's ``data_root``.
    cores : int, optional
        Local cores; by default the profile decides (``all`` for ``default``).
    profile : str
        ``default``, ``slurm`` (the packaged profiles) or a path to a profile folder.
    dry_run : bool
        List the jobs (with their resources) without running them.
    snakemake_args : tuple of str
        Further arguments passed to Snakemake unchanged.
    """

    config: Path
    out: Path = Path("derivatives/neurodecode")
    data_root: Path | None = None
    cores: int | None = None
    profile: str = "default"
    dry_run: bool = False
    snakemake_args: tuple[str, ...] = ()


def load_workflow_config(
    path: str | os.PathLike[str], out: Path, data_root: Path | None = None
) -> dict[str, Any]:
    """Read, resolve and validate a workflow config.

    ``data_root`` precedence: the ``data_root`` argument, then the YAML (relative paths are
    relative to the YAML's folder), then the dataset's environment variable
    (``NEURODECODE_NSD_ROOT``, ``NEURODECODE_BOLD5000_ROOT``); a config with a ``synth``
    section and no root synthesises its world under ``<out>/sourcedata``.

    Raises
    ------
    ValueError
        When the config does not match the schema or no data root can be found.
    """
    import jsonschema
    import yaml

    path = Path(path)
    with open(path, encoding="utf-8") as fh:
        cfg = yaml.safe_load(fh) or {}
    if data_root is not None:
        cfg["data_root"] = str(Path(data_root).resolve())
    elif cfg.get("data_root"):
        cfg["data_root"] = str((path.parent / cfg["data_root"]).resolve())
    elif os.environ.get(ROOT_ENV.get(cfg.get("dataset", ""), "")):
        cfg["data_root"] = str(Path(os.environ[ROOT_ENV[cfg["dataset"]]]).resolve())
    elif "synth" in cfg:
        cfg["data_root"] = str((out / "sourcedata" / f"{cfg['dataset']}-synthetic").resolve())
    with open(WORKFLOW_DIR / "schemas" / "config.schema.yaml", encoding="utf-8") as fh:
        schema = yaml.safe_load(fh)
    try:
        jsonschema.validate(cfg, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(map(str, exc.absolute_path)) or "(top level)"
        raise ValueError(f"{path}: {where}: {exc.message}") from None
    if not cfg["data_root"]:
        env = ROOT_ENV[cfg["dataset"]]
        raise ValueError(
            f"{path}: no data root for {cfg['dataset']}: pass --data-root, set data_root in "
            f"the config or set {env}"
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
        "Name": f"neurodecode encoding derivatives ({cfg['dataset']})",
        "BIDSVersion": "1.9.0",
        "DatasetType": "derivative",
        "GeneratedBy": [
            {
                "Name": "neurodecode",
                "Version": __version__,
                "Description": "verify -> prepare -> features -> encode -> evaluate -> report",
            }
        ],
        "SourceDatasets": [{"URL": Path(cfg["data_root"]).as_uri()}],
    }


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".neurodecode.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"{folder} is in use by another neurodecode run") from None
        yield


def run(config: RunConfig) -> int:
    """Resolve the config, write it beside the outputs and run the workflow.

    Returns
    -------
    int
        Snakemake's exit status.
    """
    import yaml

    from neurodecode._io import atomic_write, write_json_atomic

    out = config.out.resolve()
    cfg = load_workflow_config(config.config, out, config.data_root)
    with _locked(out):
        resolved = out / "config.yaml"
        with atomic_write(resolved, "w", encoding="utf-8") as fh:
            yaml.safe_dump(cfg, fh, sort_keys=False)
        write_json_atomic(out / "dataset_description.json", _dataset_description(cfg))
        env = dict(os.environ)
        # rules call `neurodecode`: use the one beside this interpreter even when its
        # environment is not activated
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        proc = subprocess.Popen(snakemake_command(config, resolved), env=env)
        previous = {
            sig: signal.signal(sig, lambda s, _f: proc.send_signal(s))
            for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            return proc.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by ``run`` and ``demo``."""
    parser.add_argument("--cores", type=int, default=None, help="local cores (default: all)")
    parser.add_argument(
        "--profile", default="default", help="default | slurm | path to a profile folder"
    )
    parser.add_argument("--dry-run", action="store_true", help="list jobs without running")


def register(subparsers: Any) -> None:
    """Add ``neurodecode run``."""
    p = subparsers.add_parser(
        "run",
        help="run the workflow (verify -> ... -> report) on a config",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("--config", type=Path, required=True, help="workflow config YAML")
    p.add_argument("--out", type=Path, default=RunConfig.out, help="derivatives folder")
    p.add_argument("--data-root", type=Path, default=None, help="release root (overrides YAML)")
    add_run_arguments(p)
    p.add_argument("snakemake_args", nargs=argparse.REMAINDER, help="after --: passed to Snakemake")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    extra: Sequence[str] = [a for a in args.snakemake_args if a != "--"]
    try:
        return run(
            RunConfig(
                config=args.config,
                out=args.out,
                data_root=args.data_root,
                cores=args.cores,
                profile=args.profile,
                dry_run=args.dry_run,
                snakemake_args=tuple(extra),
            )
        )
    except (ValueError, RuntimeError) as exc:
        print(f"neurodecode run: {exc}", file=sys.stderr)
        return 2
