"""Release writers of the synthetic world, one per registered dataset layout.

The table below is the synthetic side of the dataset registry
(:mod:`neurodecode.data._datasets`): ``neurodecode synth DATASET`` looks the writer up here by
name. A writer takes the world, the root, the options of ``neurodecode synth`` and a progress
callback, and returns the design it wrote (recorded in ``synth_world.json``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from neurodecode._registry import Registry
from neurodecode.synth._files import Progress
from neurodecode.synth._world import World

__all__ = ["SynthWriter", "get_writer", "list_writers"]


@dataclasses.dataclass(frozen=True)
class SynthWriter:
    """How the synthetic world is written in one release layout.

    Parameters
    ----------
    dataset : str
        The registered dataset whose layout is written.
    write : callable
        ``write(world, root, formats=, trials_per_session=, progress=) -> dict``: writes the
        tree and returns the design record.
    subject_labels : callable
        ``subject_labels(n) -> tuple of str``: the labels of ``n`` subjects in this layout.
    formats : tuple of str
        Beta formats the layout can hold (the ``--formats`` choices).
    """

    dataset: str
    write: Callable[..., dict[str, Any]]
    subject_labels: Callable[[int], tuple[str, ...]]
    formats: tuple[str, ...] = ()


def _write_nsd(
    world: World, root: Path, *, formats: Sequence[str], trials_per_session: int | None,
    progress: Progress,
) -> dict[str, Any]:  # fmt: skip
    from neurodecode.synth._nsd_writer import write_nsd

    design = write_nsd(
        world, root, formats=formats, trials_per_session=trials_per_session, progress=progress
    )
    return {"trials_per_session": design.trials_per_session, "sessions": design.n_sessions}


def _write_bold5000(
    world: World, root: Path, *, formats: Sequence[str], trials_per_session: int | None,
    progress: Progress,
) -> dict[str, Any]:  # fmt: skip
    from neurodecode.synth._bold5000_writer import write_bold5000

    if trials_per_session:
        designs = write_bold5000(
            world, root, trials_per_session=trials_per_session, progress=progress
        )
    else:
        designs = write_bold5000(world, root, progress=progress)
    return {k: {"session_lengths": list(d.session_lengths)} for k, d in designs.items()}


def _nsd_labels(n: int) -> tuple[str, ...]:
    from neurodecode.data._nsd_layout import SUBJECTS

    return SUBJECTS[:n]


def _bold5000_labels(n: int) -> tuple[str, ...]:
    from neurodecode.data._bold5000_layout import SUBJECTS

    return SUBJECTS[:n]


_WRITERS: Registry[SynthWriter] = Registry("synthetic-release writer", lambda w: w.dataset)
_WRITERS.register(SynthWriter("nsd", _write_nsd, _nsd_labels, ("hdf5", "nii.gz")))
_WRITERS.register(SynthWriter("bold5000", _write_bold5000, _bold5000_labels, ("nii.gz",)))


def register_writer(writer: SynthWriter, *, overwrite: bool = False) -> SynthWriter:
    """Add the writer of one more release layout."""
    return _WRITERS.register(writer, overwrite=overwrite)


def list_writers() -> list[str]:
    """Datasets the synthetic world can be written as."""
    return _WRITERS.names()


def get_writer(dataset: str) -> SynthWriter:
    """The writer of ``dataset``'s layout."""
    return _WRITERS.get(dataset)
