"""``neurodecode synth DATASET``: write the synthetic world as a release tree.

The tree has the real release's layout (DATA_FORMATS.md), so every later stage reads it with
the same code it uses for NSD or BOLD5000 on disk. ``<out>/synth_world.json`` records the world
configuration and the design. The tree is written under a temporary name and renamed into
place once complete (its sidecar, ``<out>.json`` beside it, records the run). Re-running with
the same settings finds the tree current; a tree made with other settings is refused rather
than mixed.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from neurodecode.stages._contract import StageConfig, StageOutputs, StageSpec, option

__all__ = ["PRESETS", "STAGES", "SynthConfig", "SynthOutputs", "run"]

#: ``--preset`` name -> ``WorldConfig`` class method.
PRESETS = ("tiny", "demo")
MARKER = "synth_world.json"


def _datasets() -> list[str]:
    from neurodecode.synth._writers import list_writers

    return list_writers()


@dataclasses.dataclass(frozen=True)
class SynthConfig(StageConfig):
    """Settings of ``neurodecode synth``.

    Parameters
    ----------
    dataset : str
        Release layout to write (nsd, bold5000, boldmoments).
    out : Path
        Release root to write.
    preset : str
        World size: tiny (unit tests) or demo.
    seed : int
        World seed.
    subjects : tuple of str or None
        Subject labels (default: the layout's first labels, one per subject of the preset).
    formats : tuple of str or None
        Beta formats to write (default: every format of the layout).
    trials_per_session : int or None
        Session length (NSD: must divide the trials; default: the writer's).
    """

    dataset: str = option(choices=_datasets, positional=True)
    out: Path = option()
    preset: str = option("tiny", choices=PRESETS)
    seed: int = option(0, minimum=0)
    subjects: tuple[str, ...] | None = option(None, pattern=r"[A-Za-z0-9]+")
    formats: tuple[str, ...] | None = None
    trials_per_session: int | None = option(None, minimum=1)

    def __post_init__(self) -> None:
        super().__post_init__()
        from neurodecode.synth._writers import get_writer

        allowed = get_writer(self.dataset).formats
        bad = sorted(set(self.formats or ()) - set(allowed))
        if bad:
            raise ValueError(f"--formats {bad}: the {self.dataset} layout holds {list(allowed)}")

    def world_config(self) -> Any:
        from neurodecode.synth import WorldConfig
        from neurodecode.synth._writers import get_writer

        writer = get_writer(self.dataset)
        if writer.world is not None:
            base = writer.world(self.preset, self.seed)
        else:
            base = getattr(WorldConfig, self.preset)(seed=self.seed)
        subjects = self.subjects or writer.subject_labels(len(base.subjects))
        return dataclasses.replace(base, subjects=tuple(subjects))

    @property
    def beta_formats(self) -> tuple[str, ...]:
        from neurodecode.synth._writers import get_writer

        return self.formats or get_writer(self.dataset).formats


@dataclasses.dataclass(frozen=True)
class SynthOutputs(StageOutputs):
    """The release root (its ``synth_world.json`` records the world)."""

    root: Path

    @property
    def marker(self) -> Path:
        return self.root / MARKER


def _record(config: SynthConfig, world_config: Any) -> dict[str, Any]:
    from neurodecode import __version__

    return {
        "dataset": config.dataset,
        "world": dataclasses.asdict(world_config),
        "formats": list(config.beta_formats),
        "trials_per_session": config.trials_per_session,
        "neurodecode_version": __version__,
    }


def run(config: SynthConfig) -> SynthOutputs:
    """Write the tree (or find it current); the record is in ``synth_world.json``.

    The tree is written into a temporary folder beside ``out`` and renamed onto it once
    complete, so a failed or killed run leaves no partial release under ``out``. An existing
    ``out`` must be empty or a tree of these same settings: anything else is refused, never
    overwritten.
    """
    from neurodecode._io import read_json, write_json_atomic
    from neurodecode._outputs import StageRun
    from neurodecode.synth import make_world
    from neurodecode.synth._writers import get_writer

    world_config = config.world_config()
    record = json.loads(json.dumps(_record(config, world_config)))  # as stored: lists
    out = Path(config.out)
    marker = out / MARKER
    if marker.is_file():
        old = read_json(marker)
        same = {k: v for k, v in old.items() if k not in ("neurodecode_version", "design")}
        if same != {k: v for k, v in record.items() if k != "neurodecode_version"}:
            raise ValueError(
                f"{marker}: {out} already holds a synthetic {old.get('dataset')} tree made "
                "with other settings; choose another --out or delete it"
            )
    elif out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(
            f"{out}: exists and is not a synthetic release (no {MARKER}); choose an empty or "
            "new --out (nothing there is overwritten)"
        )
    with StageRun("synth", config, [out], seed=config.seed) as job:
        if job.up_to_date and marker.is_file():
            return SynthOutputs(out)
        tree = job.path(out, directory=True)
        world = make_world(world_config)
        start = time.perf_counter()

        def progress(message: str) -> None:
            print(f"[{time.perf_counter() - start:7.1f} s] {message}", flush=True)

        record["design"] = get_writer(config.dataset).write(
            world, tree, formats=config.beta_formats,
            trials_per_session=config.trials_per_session, progress=progress,
        )  # fmt: skip
        write_json_atomic(tree / MARKER, record)
        progress(f"done: {config.dataset} tree of {', '.join(world.subjects)} in {out}")
    return SynthOutputs(out)


STAGES = (StageSpec("synth", "write the synthetic world as a release tree", SynthConfig, run),)
