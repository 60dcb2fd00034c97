"""Report sections: one interface through which every stage contributes to the subject report.

A section builder is registered for the stages whose outputs it reads
(:func:`register_section`). The report stage hands it a :class:`SectionContext` (the subject,
the outputs it was given, grouped by the stage named in each one's sidecar, and lazy access to
the stimuli); the builder returns a :class:`Section` (title, HTML, the files it drew on), or
None when its stages gave nothing. The page (:mod:`._page`) shows the sections that exist, in
their registered order. This module and the page import no section module: the sections
import these.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from neurodecode._registry import Registry

__all__ = [
    "Section",
    "SectionContext",
    "SectionSpec",
    "list_sections",
    "register_section",
]


@dataclasses.dataclass(frozen=True)
class Section:
    """One part of the report page.

    Parameters
    ----------
    key : str
        Anchor of the section (letters, digits and dashes).
    title : str
        Heading.
    html : str
        The section's body.
    sources : tuple of Path
        The stage outputs it summarises (their sidecars go to the provenance section).
    """

    key: str
    title: str
    html: str
    sources: tuple[Path, ...] = ()


@dataclasses.dataclass
class SectionContext:
    """What a section builder may read.

    Parameters
    ----------
    subject : str
        Subject label.
    dataset : str
        Dataset name.
    outputs : Mapping[str, Sequence[Path]]
        Stage name -> the outputs of that stage given to the report.
    background : Path or None
        Anatomical underlay on the functional grid.
    open_stimuli : callable or None
        Returns the stimulus source (``images(ids, size=)``), opened on first use.
    open_truth : callable or None
        Returns the synthetic world's :class:`~neurodecode.synth.GroundTruth` of the subject
        (None for a real release).
    """

    subject: str
    dataset: str
    outputs: Mapping[str, Sequence[Path]]
    background: Path | None = None
    open_stimuli: Callable[[], Any] | None = None
    open_truth: Callable[[], Any] | None = None

    def of(self, stage: str) -> list[Path]:
        """The outputs of ``stage`` given to the report (maybe none)."""
        return list(self.outputs.get(stage, ()))

    @cached_property
    def stimuli(self) -> Any:
        return self.open_stimuli() if self.open_stimuli is not None else None

    @cached_property
    def truth(self) -> Any:
        return self.open_truth() if self.open_truth is not None else None


@dataclasses.dataclass(frozen=True)
class SectionSpec:
    """A registered section builder.

    Parameters
    ----------
    name : str
        Registry name.
    stages : tuple of str
        Stages whose outputs the builder reads.
    build : callable
        ``build(context) -> Section or None``.
    order : int
        Position on the page (smaller first).
    """

    name: str
    stages: tuple[str, ...]
    build: Callable[[SectionContext], Section | None]
    order: int = 100


_SECTIONS: Registry[SectionSpec] = Registry("report section", lambda spec: spec.name)


def register_section(spec: SectionSpec, *, overwrite: bool = False) -> SectionSpec:
    """Add a section builder."""
    return _SECTIONS.register(spec, overwrite=overwrite)


def list_sections() -> list[SectionSpec]:
    """Registered sections in page order."""
    return sorted(_SECTIONS, key=lambda s: (s.order, s.name))


def build_sections(context: SectionContext) -> list[Section]:
    """Every section whose stages gave the report something."""
    out = []
    for spec in list_sections():
        if not any(context.of(stage) for stage in spec.stages):
            continue
        section = spec.build(context)
        if section is not None:
            out.append(section)
    return out
