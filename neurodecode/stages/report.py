"""``neurodecode report``: render one subject's self-contained HTML report.

Reads stage outputs only (``--inputs``): each one's sidecar names the stage that wrote it, and
every registered report section (:mod:`neurodecode.report`) shows what its stages produced:
voxelwise encoding (``evaluate``'s per-ROI table, whose sidecar names the score maps), 2 vs 2
per ROI (``encode``'s ROI tables), contrastive retrieval, and the decoding stages' sections.
``--cache`` (the prepared cache) lets sections show the release's stimulus images, and on a
synthetic release the ground truth; ``--background`` is the anatomical underlay of the maps.
Writes the HTML atomically with its own sidecar.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from neurodecode.stages._contract import StageConfig, StageOutputs, StageSpec, fill_doc, option

__all__ = ["STAGES", "ReportConfig", "ReportOutputs", "run"]


@fill_doc
@dataclasses.dataclass(frozen=True)
class ReportConfig(StageConfig):
    """Settings of ``neurodecode report``.

    Parameters
    ----------
    subject : str
        %(subject)s
    out : Path
        Output .html file.
    inputs : tuple of Path
        Stage outputs to summarise (their sidecars say which section shows them).
    cache : Path or None
        The prepared cache (--out of neurodecode prepare): sections show its release's images.
    space : str or None
        %(space)s
    background : Path or None
        Anatomical underlay on the functional grid (the release's brain mask or mean EPI).
    dataset : str
        Dataset name for the title.
    provenance : tuple of Path
        Extra sidecars to list in the provenance section.
    """

    subject: str = option(pattern=r"[A-Za-z0-9]+")
    out: Path = option()
    inputs: tuple[Path, ...] = option(metavar="OUTPUT")
    cache: Path | None = None
    space: str | None = option(None, pattern=r"[A-Za-z0-9]+")
    background: Path | None = None
    dataset: str = ""
    provenance: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.inputs:
            raise ValueError("--inputs: give at least one stage output")


@dataclasses.dataclass(frozen=True)
class ReportOutputs(StageOutputs):
    """The HTML page."""

    html: Path


def _openers(config: ReportConfig) -> tuple[Any, Any]:
    cache = config.cache
    if cache is None:
        return None, None

    def stimuli() -> Any:
        from neurodecode.data import load_prepared

        return load_prepared(cache, config.subject, config.space).stimuli

    def truth() -> Any:
        from neurodecode.data import load_prepared
        from neurodecode.synth import ground_truth, is_synthetic_release

        prep = load_prepared(cache, config.subject, config.space)
        if not is_synthetic_release(prep.release_root):
            return None
        return ground_truth(prep.release_root, config.subject, prep.ijk, prep.shape)

    return stimuli, truth


def run(config: ReportConfig) -> ReportOutputs:
    """Render the report (or find it current) and write its sidecar."""
    from neurodecode._outputs import StageRun
    from neurodecode._provenance import sidecar_path
    from neurodecode.report import ReportInputs, render_report

    inputs = [*config.inputs, *[sidecar_path(p) for p in config.inputs]]
    inputs += [p for p in (config.background,) if p is not None]
    with StageRun("report", config, [config.out], inputs) as job:
        if job.up_to_date:
            return ReportOutputs(config.out)
        open_stimuli, open_truth = _openers(config)
        render_report(
            ReportInputs(
                subject=config.subject,
                outputs=list(config.inputs),
                dataset=config.dataset,
                background=config.background,
                provenance=list(config.provenance),
                open_stimuli=open_stimuli,
                open_truth=open_truth,
            ),
            job.path(config.out),
        )
    return ReportOutputs(config.out)


STAGES = (
    StageSpec(
        "report",
        "per-subject HTML report (self-contained)",
        ReportConfig,
        run,
        report=lambda out: f"report: {out.html}",
    ),
)
