"""The command line of a stage, generated from its Config (see :mod:`._contract`).

``--config YAML`` and one flag per field, resolved as defaults < YAML < flags; bad input is
reported on stderr in one line with exit status ``EXIT_BAD_INPUT``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from neurodecode.stages._contract import (
    EXIT_BAD_INPUT,
    EXIT_SYSTEM_ERROR,
    ConfigError,
    StageOutputs,
    StageSpec,
    _flag,
    _kind,
    _unwrap_optional,
    field_help,
)

__all__ = ["add_stage_parser", "cli_main", "config_from_args", "config_from_mapping"]


def _argument(parser: argparse.ArgumentParser, f: dataclasses.Field, hint: Any, help_: str):
    kind, _ = _kind(hint)
    inner, _ = _unwrap_optional(hint)
    meta = f.metadata
    default_note = ""
    if f.default is not dataclasses.MISSING and f.default not in (None, (), ""):
        shown = f.default
        if isinstance(shown, tuple) and len(shown) > 4:
            shown = f"{', '.join(map(str, shown[:3]))}, ... ({len(shown)} values)"
        default_note = f" (default: {shown})"
    kwargs: dict[str, Any] = {"help": (help_ + default_note).replace("%", "%%")}
    if meta.get("metavar"):
        kwargs["metavar"] = meta["metavar"]
    if kind == "scalar" and inner is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    elif kind in ("tuple", "mapping"):
        kwargs["nargs"] = "+"
        if kind == "mapping":
            kwargs.setdefault("metavar", "NAME=PATH")
    if meta.get("remainder"):
        kwargs.pop("nargs", None)
        parser.add_argument(f.name, nargs=argparse.REMAINDER, default=argparse.SUPPRESS,
                            help=kwargs["help"])  # fmt: skip
    elif meta.get("positional"):
        if kind == "scalar" and inner is not bool:
            kwargs["nargs"] = "?"
        parser.add_argument(f.name, default=argparse.SUPPRESS, **kwargs)
    else:
        parser.add_argument(_flag(f), dest=f.name, default=argparse.SUPPRESS, **kwargs)


def _cli_fields(config_cls: type) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(config_cls) if f.metadata.get("cli", True)]


def add_stage_parser(subparsers: Any, spec: StageSpec, name: str | None = None) -> Any:
    """Add the sub-command of ``spec`` (flags from its Config) and return its parser."""
    hints = typing.get_type_hints(spec.config)
    docs = field_help(spec.config)
    parser = subparsers.add_parser(
        name or spec.name.split()[-1], help=spec.help, description=spec.help
    )
    if "config" not in {f.name for f in dataclasses.fields(spec.config)}:
        # (``run`` has its own --config: the workflow config, which holds its settings)
        parser.add_argument(
            "--config",
            dest="_config_file",
            type=Path,
            default=None,
            metavar="YAML",
            help="YAML file of settings (keys: the flag names); flags given here win over it",
        )
    for f in _cli_fields(spec.config):
        if f.name not in docs or not docs[f.name]:
            raise TypeError(f"{spec.config.__name__}: field {f.name!r} has no docstring entry")
        _argument(parser, f, hints[f.name], docs[f.name])
    parser.set_defaults(func=lambda args: cli_main(spec, args))
    return parser


def _parse_pairs(items: Sequence[str], value_hint: Any, name: str) -> dict[str, Any]:
    """``NAME=VALUE`` items of a mapping flag (a tuple value splits on commas)."""
    kind, _ = _kind(value_hint)
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise ConfigError(f"{name}: expected NAME=VALUE, got {item!r}")
        if key in out:
            raise ConfigError(f"{name}: {key!r} given twice")
        out[key] = [v for v in value.split(",") if v] if kind == "tuple" else value
    return out


def read_config_file(path: Path, config_cls: type) -> dict[str, Any]:
    """Settings from a stage's YAML ``--config`` file (relative paths: from the file's folder)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--config {path}: not valid YAML ({exc})") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"--config {path}: expected a mapping of settings at the top level")
    names = {f.name: f for f in dataclasses.fields(config_cls)}
    hints = typing.get_type_hints(config_cls)
    out: dict[str, Any] = {}
    for key, value in data.items():
        field_name = str(key).replace("-", "_")
        if field_name not in names:
            known = ", ".join(sorted(n.replace("_", "-") for n in names))
            raise ConfigError(f"--config {path}: unknown setting {key!r}; known: {known}")
        if value is not None and _is_path_hint(hints[field_name]):
            value = _relative_to(value, path.parent)
        out[field_name] = value
    return out


def _is_path_hint(hint: Any) -> bool:
    kind, sub = _kind(hint)
    inner, _ = _unwrap_optional(hint)
    if kind == "scalar":
        return inner is Path
    return sub is Path or _kind(sub)[1] is Path


def _relative_to(value: Any, base: Path) -> Any:
    if isinstance(value, str):
        p = Path(value).expanduser()
        return p if p.is_absolute() else base / p
    if isinstance(value, list):
        return [_relative_to(v, base) for v in value]
    if isinstance(value, Mapping):
        return {k: _relative_to(v, base) for k, v in value.items()}
    return value


def config_from_mapping(config_cls: type, settings: Mapping[str, Any]) -> Any:
    """Build ``config_cls`` from settings, naming a missing required flag plainly."""
    missing = [
        _flag(f)
        for f in dataclasses.fields(config_cls)
        if f.name not in settings
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"missing {', '.join(missing)} (a flag, or a key of --config)")
    try:
        return config_cls(**settings)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None


def config_from_args(spec: StageSpec, args: argparse.Namespace) -> Any:
    """Defaults < ``--config`` YAML < flags."""
    hints = typing.get_type_hints(spec.config)
    settings: dict[str, Any] = {}
    if getattr(args, "_config_file", None) is not None:
        settings.update(read_config_file(args._config_file, spec.config))
    for f in _cli_fields(spec.config):
        if not hasattr(args, f.name):
            continue
        value = getattr(args, f.name)
        if f.metadata.get("remainder"):
            value = [v for i, v in enumerate(value) if not (i == 0 and v == "--")]
        if _kind(hints[f.name])[0] == "mapping":
            value = _parse_pairs(value, _kind(hints[f.name])[1], _flag(f))
        settings[f.name] = value
    return config_from_mapping(spec.config, settings)


def _bad_input_types() -> tuple[type[BaseException], ...]:
    from neurodecode.data._errors import ReleaseError

    return (ConfigError, ReleaseError, FileNotFoundError, ValueError, KeyError, PermissionError)


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc) or type(exc).__name__


def cli_main(spec: StageSpec, args: argparse.Namespace) -> int:
    """Run ``spec`` from parsed flags; bad input becomes one line on stderr and exit status 2."""
    prog = f"neurodecode {spec.name}"
    try:
        config = config_from_args(spec, args)
        outputs = spec.run(config)
    except _bad_input_types() as exc:
        if os.environ.get("NEURODECODE_DEBUG"):
            raise
        print(f"{prog}: error: {_message(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # the machine, not the input: a full disk, a lost mount...
        if os.environ.get("NEURODECODE_DEBUG"):
            raise
        print(f"{prog}: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
              file=sys.stderr)  # fmt: skip
        return EXIT_SYSTEM_ERROR
    if spec.report is not None:
        text = spec.report(outputs)
        if text:
            print(text)
    elif isinstance(outputs, StageOutputs):
        for path in outputs.files():
            print(f"{spec.name}: wrote {path}")
    return spec.exit_status(outputs) if spec.exit_status is not None else 0
