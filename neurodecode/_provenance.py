"""Run provenance: the JSON sidecar written beside every stage output."""

from __future__ import annotations

import dataclasses
import os
import platform
import resource
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from neurodecode._io import write_json_atomic

__all__ = ["RunRecord", "describe_inputs", "peak_memory_mb", "sidecar_matches", "sidecar_path"]

_MULTI_SUFFIXES = (".nii.gz", ".tar.gz")
#: Folders with more files than this are described by existence only.
_MAX_FOLDER_FILES = 20_000


def sidecar_path(output: str | os.PathLike[str]) -> Path:
    """Return the BIDS-style JSON sidecar path of an output file (``x.nii.gz`` -> ``x.json``)."""
    out = Path(output)
    name = out.name
    for suffix in _MULTI_SUFFIXES:
        if name.endswith(suffix):
            return out.with_name(name[: -len(suffix)] + ".json")
    return (
        out.with_suffix(".json")
        if out.suffix != ".json"
        else out.with_name(out.stem + ".meta.json")
    )


def peak_memory_mb() -> float:
    """Peak resident memory of this process and its waited-for children, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # Linux reports KiB; macOS reports bytes.
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / 1024**2
    return max(own, children) * scale


def describe_inputs(paths: Iterable[str | os.PathLike[str]]) -> dict[str, dict[str, Any]]:
    """Size and modification time (ns) of each input file; for a folder, of each file in it.

    Cheap (no checksums; those are for manifests) and exact enough to tell when an input was
    rewritten: a stage compares this with the description its sidecar recorded before it
    reuses an output.
    """
    out: dict[str, dict[str, Any]] = {}
    for p in paths:
        path = Path(p)
        if path.is_file():
            st = path.stat()
            out[str(path)] = {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
        elif path.is_dir():
            files = sorted(f for f in path.rglob("*") if f.is_file() and not f.name.startswith("."))
            if len(files) <= _MAX_FOLDER_FILES:
                stats = [f.stat() for f in files]
                out[str(path)] = {
                    "files": len(files),
                    "bytes": sum(s.st_size for s in stats),
                    "mtime_ns": max((s.st_mtime_ns for s in stats), default=0),
                }
            else:  # a release root: its files are checked by `data verify`, not here
                out[str(path)] = {"exists": True}
        else:
            out[str(path)] = {"exists": False}
    return out


def sidecar_matches(
    output: str | os.PathLike[str],
    config: Any,
    inputs: Iterable[str | os.PathLike[str]] = (),
) -> bool:
    """True when ``output`` and its sidecar exist and the sidecar records ``config``/``inputs``.

    ``config`` is compared as the sidecar stores it (plain JSON); ``inputs`` by
    :func:`describe_inputs` now, so a re-written input makes the output stale.
    """
    import json

    from neurodecode._io import read_json

    out = Path(output)
    side = sidecar_path(out)
    if not out.exists() or not side.is_file():
        return False
    try:
        record = read_json(side)
    except (OSError, ValueError):
        return False
    want = json.loads(json.dumps(_plain(config), default=str))
    if not isinstance(record, dict) or record.get("config") != want:
        return False
    return record.get("inputs") == json.loads(json.dumps(describe_inputs(inputs)))


@dataclasses.dataclass
class RunRecord:
    """Collects what a stage did; call :meth:`write` once the output is in place.

    Examples
    --------
    >>> record = RunRecord(stage="prepare", config={"subject": "subj01"})  # doctest: +SKIP
    >>> ...  # do the work, write the output atomically
    >>> record.write("out/sub-01_desc-prepared.h5", inputs=[...])  # doctest: +SKIP
    """

    stage: str
    config: Any  # a Config dataclass or a mapping
    seed: int | None = None
    device: str = "cpu"
    split_hash: str | None = None
    started: float = dataclasses.field(default_factory=time.perf_counter)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def as_dict(self, inputs: Iterable[str | os.PathLike[str]] = ()) -> dict[str, Any]:
        from neurodecode import __version__

        return {
            "stage": self.stage,
            "package_version": __version__,
            "python": platform.python_version(),
            "config": _plain(self.config),
            "inputs": describe_inputs(inputs),
            "split_hash": self.split_hash,
            "seed": self.seed,
            "device": self.device,
            "wall_time_s": round(time.perf_counter() - self.started, 3),
            "peak_memory_mb": round(peak_memory_mb(), 1),
            **self.extra,
        }

    def write(
        self, output: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]] = ()
    ) -> Path:
        """Write the sidecar of ``output`` atomically and return its path."""
        return write_json_atomic(sidecar_path(output), self.as_dict(inputs))


def plain(obj: Any) -> Any:
    """``obj`` as JSON-ready builtins (dataclasses, mappings, sequences and paths converted)."""
    return _plain(obj)


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(obj).items()}
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, float) and obj != obj:
        return None
    return obj
