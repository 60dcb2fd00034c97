"""From stage outputs to the page: group them by stage, build the sections, add provenance."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from neurodecode._io import read_json
from neurodecode._provenance import sidecar_path
from neurodecode.report._page import provenance_section, render_page
from neurodecode.report._sections import SectionContext, build_sections

__all__ = ["ReportInputs", "group_by_stage", "render_report"]


@dataclasses.dataclass(frozen=True)
class ReportInputs:
    """What a subject report is built from.

    Parameters
    ----------
    subject : str
        Subject label as the dataset spells it (``subj01``, ``CSI1``).
    outputs : Sequence[Path]
        Stage outputs; each one's sidecar names the stage, which picks its section.
    dataset : str
        Dataset name shown in the title.
    background : Path or None
        Anatomical underlay on the functional grid (for the accuracy maps).
    provenance : Sequence[Path]
        Extra sidecars to list.
    open_stimuli, open_truth : callable, optional
        Open the stimulus source / the synthetic ground truth on first use.
    """

    subject: str
    outputs: Sequence[Path]
    dataset: str = ""
    background: Path | None = None
    provenance: Sequence[Path] = ()
    open_stimuli: Callable[[], Any] | None = None
    open_truth: Callable[[], Any] | None = None


def group_by_stage(outputs: Sequence[Path]) -> dict[str, list[Path]]:
    """Stage name -> outputs, from each output's sidecar; an output without one is an error."""
    groups: dict[str, list[Path]] = {}
    for out in map(Path, outputs):
        side = sidecar_path(out)
        if not out.exists():
            raise FileNotFoundError(f"{out}: report input does not exist")
        if not side.is_file():
            raise ValueError(f"{out}: no sidecar {side.name}; is it the output of a stage?")
        stage = read_json(side).get("stage")
        if not stage:
            raise ValueError(f"{side}: names no stage")
        groups.setdefault(str(stage), []).append(out)
    return groups


def render_report(inputs: ReportInputs, out: str | os.PathLike[str]) -> Path:
    """Build every section the outputs allow and write the page; return its path."""
    groups = group_by_stage(inputs.outputs)
    context = SectionContext(
        subject=inputs.subject,
        dataset=inputs.dataset,
        outputs=groups,
        background=Path(inputs.background) if inputs.background else None,
        open_stimuli=inputs.open_stimuli,
        open_truth=inputs.open_truth,
    )
    sections = build_sections(context)
    used = {p for s in sections for p in s.sources} | {p for g in groups.values() for p in g}
    sidecars = sorted({sidecar_path(p) for p in used if sidecar_path(p).is_file()})
    sidecars += [Path(p) for p in inputs.provenance]
    sections.append(provenance_section(sidecars))
    names = ", ".join(s.title for s in sections[:-1]) or "no results"
    return render_page(
        out, subject=inputs.subject, dataset=inputs.dataset, sections=sections, summary=names
    )
