"""The stage contract: a frozen Config, ``run(config) -> Outputs``, and a CLI made from the Config.

Every stage module defines

* a frozen dataclass deriving from :class:`StageConfig`, documented in numpydoc: each field's
  first line under ``Parameters`` is its ``--help`` line, its type annotation decides how the
  flag parses, and :func:`option` adds bounds (``minimum``, ``above``...) and choices, which are
  checked when the Config is built, i.e. before any work starts;
* ``run(config)``, which returns a dataclass deriving from :class:`StageOutputs`;
* a :class:`StageSpec` named ``STAGE`` that ties them together.

The command line of a stage is generated from it (:mod:`._command_line`): ``--config YAML``
and one flag per field, resolved as defaults < YAML < flags. Bad input (a :class:`ConfigError`,
a ``ReleaseError``, a missing file, missing weights) is reported on stderr in one line naming
what is wrong, with exit status :data:`EXIT_BAD_INPUT`; set ``NEURODECODE_DEBUG=1`` to see the
traceback too.

:class:`StageRun` is the other half: it holds the outputs' lock, says whether existing outputs
were made from the same resolved config and the same inputs (only then is work skipped), hands
out temporary paths for every output and puts them, with their sidecars, in place together.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from neurodecode._outputs import StageRun

__all__ = [
    "EXIT_BAD_INPUT",
    "SHARED_DOCS",
    "ConfigError",
    "StageConfig",
    "StageOutputs",
    "StageRun",
    "StageSpec",
    "field_help",
    "fill_doc",
    "option",
]

#: Exit status of every stage for bad input (flags, config files, releases, missing weights).
EXIT_BAD_INPUT = 2
#: Exit status when the machine fails a stage (a full disk): nothing was written.
EXIT_SYSTEM_ERROR = 1


class ConfigError(ValueError):
    """A stage setting is missing, unknown or out of range (the message names the flag)."""


def option(
    default: Any = dataclasses.MISSING,
    *,
    default_factory: Any = dataclasses.MISSING,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    below: float | None = None,
    choices: Sequence[Any] | Callable[[], Sequence[Any]] | None = None,
    pattern: str | None = None,
    positional: bool = False,
    remainder: bool = False,
    cli: bool = True,
    metavar: str | None = None,
) -> Any:
    """A Config field with checks (bounds, choices, a regular expression) and CLI details.

    ``minimum``/``maximum`` are inclusive bounds, ``above``/``below`` exclusive ones; they apply
    to every element of a tuple. ``choices`` may be a callable (resolved when checked, e.g. the
    registered datasets). ``positional`` makes the flag a positional argument, ``remainder``
    collects everything after ``--`` (a tuple of str); ``cli=False`` keeps a field out of the
    command line (YAML and Python only).
    """
    meta = {
        "minimum": minimum,
        "maximum": maximum,
        "above": above,
        "below": below,
        "choices": choices,
        "pattern": pattern,
        "positional": positional,
        "remainder": remainder,
        "cli": cli,
        "metavar": metavar,
    }
    return dataclasses.field(default=default, default_factory=default_factory, metadata=meta)


# --------------------------------------------------------------------------- type handling
def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0], True
    return hint, False


def _kind(hint: Any) -> tuple[str, Any]:
    """('scalar', type) | ('tuple', item type) | ('mapping', value hint)."""
    inner, _ = _unwrap_optional(hint)
    origin = typing.get_origin(inner)
    if origin is tuple:
        args = typing.get_args(inner)
        return "tuple", args[0] if args else str
    if origin in (dict, Mapping):
        return "mapping", typing.get_args(inner)[1]
    return "scalar", inner


def _convert_scalar(value: Any, typ: Any, name: str) -> Any:
    if typ is Any:
        return value
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{name}: expected true or false, got {value!r}")
    if typ is int:
        if isinstance(value, bool):
            raise ConfigError(f"{name}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{name}: expected an integer, got {value!r}")
    if typ is float:
        if isinstance(value, bool):
            raise ConfigError(f"{name}: expected a number, got {value!r}")
        try:
            out = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: expected a number, got {value!r}") from None
        if out != out:
            raise ConfigError(f"{name}: expected a number, got NaN")
        return out
    if typ is Path:
        if isinstance(value, (str, os.PathLike)) and str(value) != "":
            return Path(value)
        raise ConfigError(f"{name}: expected a path, got {value!r}")
    if typ is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{name}: expected a string, got {value!r}")
    return value


def convert_value(value: Any, hint: Any, name: str, *, split_commas: bool = True) -> Any:
    """``value`` (from Python, YAML or a flag) as the field type ``hint`` says.

    Items of a tuple of strings are split on commas (``--features a,b``) unless
    ``split_commas`` is false.
    """
    inner, optional = _unwrap_optional(hint)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{name}: a value is required")
    kind, sub = _kind(inner)
    if kind == "tuple":
        if isinstance(value, (str, os.PathLike)):
            value = [value]
        if not isinstance(value, Iterable) or isinstance(value, Mapping):
            raise ConfigError(f"{name}: expected a list, got {value!r}")
        items: list[Any] = []
        for item in value:
            if sub is str and isinstance(item, str) and split_commas:
                items += [part for part in item.split(",") if part]
            else:
                items.append(item)
        return tuple(_convert_scalar(v, sub, name) for v in items)
    if kind == "mapping":
        if not isinstance(value, Mapping):
            raise ConfigError(f"{name}: expected NAME=VALUE pairs, got {value!r}")
        return {str(k): convert_value(v, sub, f"{name}[{k}]") for k, v in value.items()}
    return _convert_scalar(value, inner, name)


def _flag(f: dataclasses.Field) -> str:
    return "--" + f.name.replace("_", "-")


def _check(value: Any, f: dataclasses.Field, name: str) -> None:
    meta = f.metadata
    values = value if isinstance(value, tuple) else (value,)
    for v in values:
        if v is None:
            continue
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            for key, ok, word in (
                ("minimum", lambda a, b: a >= b, ">="),
                ("maximum", lambda a, b: a <= b, "<="),
                ("above", lambda a, b: a > b, ">"),
                ("below", lambda a, b: a < b, "<"),
            ):
                bound = meta.get(key)
                if bound is not None and not ok(v, bound):
                    raise ConfigError(f"{name} must be {word} {bound}, got {v}")
        choices = meta.get("choices")
        if choices is not None:
            allowed = list(choices() if callable(choices) else choices)
            if v not in allowed:
                raise ConfigError(f"{name}: {v!r} is not one of {allowed}")
        pattern = meta.get("pattern")
        if pattern is not None and not re.fullmatch(pattern, str(v)):
            raise ConfigError(f"{name}: {v!r} does not match the pattern {pattern}")


@dataclasses.dataclass(frozen=True)
class StageConfig:
    """Base of every stage Config: values are converted to their field types and checked.

    Subclasses add fields (documented under ``Parameters`` in their docstring) and may extend
    ``__post_init__`` (call ``super().__post_init__()`` first) for checks across fields.
    """

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            name = _flag(f)
            value = convert_value(
                getattr(self, f.name), hints[f.name], name,
                split_commas=not f.metadata.get("remainder"),
            )  # fmt: skip
            _check(value, f, name)
            object.__setattr__(self, f.name, value)

    def replace(self, **changes: Any) -> Any:
        """A copy with some settings changed (checked again)."""
        return dataclasses.replace(self, **changes)


class StageOutputs:
    """Base of the outputs dataclass a stage's ``run`` returns."""

    def files(self) -> list[Path]:
        """Every output path (fields holding paths, mappings of paths, sequences of paths)."""
        out: list[Path] = []
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out += _paths_in(getattr(self, f.name))
        return out


def _paths_in(value: Any) -> list[Path]:
    if isinstance(value, Path):
        return [value]
    if isinstance(value, Mapping):
        return [p for v in value.values() for p in _paths_in(v)]
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _paths_in(v)]
    return []


# --------------------------------------------------------------------------- documentation
#: Descriptions of the settings many stages share, written once (nilearn's docdict): a Config
#: docstring says ``%(subject)s`` and :func:`fill_doc` puts the text in.
SHARED_DOCS: dict[str, str] = {
    "subject": "Subject label as the dataset spells it (subj01, CSI1).",
    "cache": "The --out folder of neurodecode prepare.",
    "space": "Grid label of the prepared cache (default: the subject's only one).",
    "device": "Torch device to run on (cpu, cuda).",
    "dataset": "Registered dataset the release is (nsd, bold5000).",
    "root": "Release root.",
}


def fill_doc(cls: type) -> type:
    """Class decorator: fill ``%(name)s`` in the docstring from :data:`SHARED_DOCS`."""
    if cls.__doc__:
        cls.__doc__ = cls.__doc__ % SHARED_DOCS
    return cls


def field_help(cls: type) -> dict[str, str]:
    """Field name -> first line of its description under the docstring's ``Parameters``.

    Several names on one line (``n_way, n_draws : int``) share the description.
    """
    doc = (cls.__doc__ or "").expandtabs()
    lines = doc.splitlines()
    out: dict[str, str] = {}
    inside = False
    current: list[str] = []
    indent = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped == "Parameters" and i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}:
            inside = True
            continue
        if not inside or set(stripped) == {"-"}:
            continue
        if stripped and i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}:
            break  # the next section
        lead = len(line) - len(line.lstrip())
        if stripped and (indent is None or lead <= indent):
            indent = lead
            names = stripped.split(" : ")[0]
            current = [n.strip() for n in names.split(",")]
            for n in current:
                out[n] = ""
        elif stripped and current:
            for n in current:
                if not out[n]:
                    out[n] = stripped
    return out


# --------------------------------------------------------------------------- command line
@dataclasses.dataclass(frozen=True)
class StageSpec:
    """How a stage is called: its sub-command, Config, run function and what it prints.

    Parameters
    ----------
    name : str
        Sub-command; several words make nested commands (``"data verify"``).
    help : str
        One line for ``neurodecode --help``.
    config : type
        The stage's :class:`StageConfig` subclass.
    run : callable
        ``run(config) -> StageOutputs``.
    exit_status : callable, optional
        ``exit_status(outputs) -> int`` for stages whose result decides the status
        (``data verify``, the workflow drivers); default 0.
    report : callable, optional
        ``report(outputs) -> str`` printed on success; default: one ``wrote PATH`` line per
        output.
    contract : bool
        Whether the stage writes outputs under the contract (sidecars, skipping current work);
        commands such as ``models list`` do not.
    """

    name: str
    help: str
    config: type
    run: Callable[[Any], Any]
    exit_status: Callable[[Any], int] | None = None
    report: Callable[[Any], str] | None = None
    contract: bool = True
