"""``neurodecode models``: list the registry; train the toy models on the synthetic world.

* ``neurodecode models list``: registered names, library, kind and where the weights are on
  this machine (or ``missing``).
* ``neurodecode models train KIND --out DIR [--world tiny|demo] [--device D] [settings]``: one
  sub-command per registered toy-model kind (:func:`neurodecode.models.list_trainers`); its
  flags are the fields of that kind's training settings (e.g.
  :class:`neurodecode.models.ToyClipTrainConfig`), each defaulting to the trainer's default.
  The world preset sets the stimulus generator's seed and image size where the settings have
  those fields.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

from neurodecode.stages._contract import StageConfig, StageOutputs, StageSpec, field_help, option

__all__ = ["STAGES", "ModelsListConfig", "TrainOutputs", "run_list", "train_config_class"]


@dataclasses.dataclass(frozen=True)
class ModelsListConfig(StageConfig):
    """Settings of ``neurodecode models list``.

    Parameters
    ----------
    kind : str or None
        List only models of this kind (clip, image, text, vae, diffusion, captioner...).
    """

    kind: str | None = None


@dataclasses.dataclass(frozen=True)
class ModelsListOutputs(StageOutputs):
    """One row per registered model."""

    rows: tuple[dict[str, str], ...]


def run_list(config: ModelsListConfig | None = None) -> ModelsListOutputs:
    """One row per registered model: name, library, kind, source, weights (path or missing)."""
    from neurodecode.models import (
        WeightsNotFoundError,
        get_model_spec,
        list_models,
        resolve_weights,
    )

    rows = []
    for name in list_models(config.kind if config else None):
        spec = get_model_spec(name)
        try:
            status = str(resolve_weights(name))
        except WeightsNotFoundError:
            status = "missing"
        rows.append({"name": name, "library": spec.library, "kind": spec.kind,
                     "source": spec.source, "weights": status})  # fmt: skip
    return ModelsListOutputs(tuple(rows))


def _list_report(out: ModelsListOutputs) -> str:
    return "\n".join(
        f"{r['name']:44s} {r['library']:22s} {r['kind']:16s} {r['weights']}" for r in out.rows
    )


@dataclasses.dataclass(frozen=True)
class TrainOutputs(StageOutputs):
    """The saved toy model and its training report."""

    model: Path
    report: dict[str, Any]


_BASE_DOC = """Settings of ``neurodecode models train {kind}``.

    Parameters
    ----------
    out : Path
        Folder the model (weights, config, model card) is written to.
    world : str
        World preset whose stimulus generator (seed, image size) is used: tiny or demo.
    device : str
        Torch device to train on (cpu, cuda).
{fields}
    """


def train_config_class(trainer: Any) -> type:
    """The StageConfig of ``models train KIND``: out, world, device and every training setting
    of the trainer's config class (each optional: None keeps the trainer's default)."""
    settings = trainer.config
    hints = typing.get_type_hints(settings)
    docs = field_help(settings)
    own = {"out", "world", "device"}
    fields: list[tuple[str, Any, Any]] = [
        ("out", Path, option()),
        ("world", str, option("tiny", choices=("tiny", "demo"))),
        ("device", str, option("cpu")),
    ]
    lines = []
    for f in dataclasses.fields(settings):
        if f.name in own:
            continue
        inner = hints[f.name]
        optional = inner if type(None) in typing.get_args(inner) else inner | None
        fields.append((f.name, optional, option(None)))
        lines.append(f"    {f.name} : {getattr(inner, '__name__', inner)} or None")
        lines.append(f"        {docs.get(f.name) or f.name.replace('_', ' ')}")
    cls = dataclasses.make_dataclass(
        f"Train{trainer.kind.title().replace('-', '')}Config",
        fields,
        bases=(StageConfig,),
        frozen=True,
        namespace={"__module__": __name__},
    )
    cls.__doc__ = _BASE_DOC.format(kind=trainer.kind, fields="\n".join(lines))
    cls.trainer = trainer  # type: ignore[attr-defined]
    return cls


def _settings(config: Any) -> Any:
    """The trainer's settings: its defaults, the world preset's seed and size, then the flags."""
    from neurodecode.synth import WorldConfig

    trainer = type(config).trainer
    names = {f.name for f in dataclasses.fields(trainer.config)}
    world = getattr(WorldConfig, config.world)()
    values: dict[str, Any] = {}
    if "world_seed" in names:
        values["world_seed"] = world.seed
    if "image_size" in names:
        values["image_size"] = world.image_size
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            values[name] = str(value) if isinstance(value, Path) else value
    return trainer.config(**values)


def _train(config: Any) -> TrainOutputs:
    from neurodecode._outputs import StageRun

    trainer = type(config).trainer
    settings = _settings(config)
    out = Path(config.out)
    with StageRun(f"models train {trainer.kind}", config, [out], device=config.device) as job:
        if job.up_to_date:
            return TrainOutputs(out, {})
        report = trainer.train(
            settings, job.path(out, directory=True), config.device,
            lambda s: print(s, flush=True),
        )  # fmt: skip
        job.record.extra["settings"] = dataclasses.asdict(settings)
    return TrainOutputs(out, report)


def _train_specs() -> tuple[StageSpec, ...]:
    from neurodecode.models import get_trainer, list_trainers

    specs = []
    for kind in list_trainers():
        trainer = get_trainer(kind)
        specs.append(
            StageSpec(
                f"models train {kind}",
                trainer.description,
                train_config_class(trainer),
                _train,
                report=lambda out: f"models: wrote {out.model}",
            )
        )
    return tuple(specs)


STAGES = (
    StageSpec(
        "models list",
        "registered models and whether their weights are here",
        ModelsListConfig,
        run_list,
        report=_list_report,
        contract=False,
    ),
    *_train_specs(),
)
