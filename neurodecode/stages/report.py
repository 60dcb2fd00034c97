"""``neurodecode report``: render one subject's self-contained HTML report.

Reads stage outputs only: the per-ROI table from ``neurodecode evaluate``, the score maps from
``neurodecode encode`` (their sidecars supply the provenance section), and an anatomical
underlay on the functional grid (the release's mean EPI or brain mask). With
``--contrastive`` it adds the retrieval results of ``neurodecode contrastive``; their example
images are read from the release of the prepared cache given by ``--cache-dir``. Writes the HTML
atomically with its own sidecar.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["ReportConfig", "register", "run", "stimulus_images"]


@dataclasses.dataclass(frozen=True)
class ReportConfig:
    """Settings of ``neurodecode report`` (defaults < YAML ``--config`` < CLI flags).

    Parameters
    ----------
    subject : str
        Subject label.
    table : Path
        Per-ROI TSV from ``neurodecode evaluate``.
    scores : Mapping[str, Path]
        Feature space -> score map NIfTI.
    out : Path
        Output ``.html``.
    background : Path, optional
        Anatomical underlay on the functional grid.
    dataset : str
        Dataset name for the title.
    provenance : Sequence[Path]
        Extra sidecars to list (those of ``table``, ``scores`` and ``contrastive`` are always
        listed).
    contrastive : Path, optional
        ``*_desc-contrastive_retrieval.json`` of ``neurodecode contrastive``.
    cache_dir : Path, optional
        The prepared cache the contrastive stage read (``--out`` of ``neurodecode prepare``);
        the example retrievals show images from its release. Without it they show stimulus ids.
    """

    subject: str
    table: Path
    scores: Mapping[str, Path]
    out: Path
    background: Path | None = None
    dataset: str = ""
    provenance: Sequence[Path] = ()
    contrastive: Path | None = None
    cache_dir: Path | None = None


def stimulus_images(cache_dir: str | Path, subject: str, space: str) -> Any:
    """The stimulus source (``images(ids, size=)``) of a prepared subject's release."""
    from neurodecode.data import load_prepared, load_subject

    prepared = load_prepared(cache_dir, subject, space)
    settings = prepared.config
    release = load_subject(settings.get("dataset", "nsd"), subject, root=settings["root"])
    return release.stimuli


def run(config: ReportConfig) -> Path:
    """Render the report and write its sidecar; return the HTML path."""
    from neurodecode._io import read_json
    from neurodecode._provenance import RunRecord, sidecar_path
    from neurodecode.report import ReportInputs, render_subject_report

    record = RunRecord(stage="report", config=dataclasses.asdict(config))
    inputs = [Path(config.table), *map(Path, config.scores.values())]
    stimuli = None
    if config.contrastive is not None:
        inputs.append(Path(config.contrastive))
        if config.cache_dir is not None:
            space = read_json(config.contrastive)["space"]
            stimuli = stimulus_images(config.cache_dir, config.subject, space)
    sidecars = [sidecar_path(p) for p in inputs if sidecar_path(p).is_file()]
    sidecars += [Path(p) for p in config.provenance]
    html = render_subject_report(
        ReportInputs(
            subject=config.subject,
            roi_table=Path(config.table),
            score_maps={k: Path(v) for k, v in config.scores.items()},
            background=Path(config.background) if config.background else None,
            provenance=sidecars,
            dataset=config.dataset,
            contrastive=Path(config.contrastive) if config.contrastive else None,
            stimuli=stimuli,
        ),
        config.out,
    )
    extra = [config.background] if config.background else []
    record.write(html, inputs=[*inputs, *extra])
    return html


def register(subparsers: Any) -> None:
    """Add ``neurodecode report``."""
    p = subparsers.add_parser("report", help="per-subject HTML report (self-contained)")
    p.add_argument("--config", type=Path, help="YAML with any of the settings below")
    p.add_argument("--subject")
    p.add_argument("--dataset")
    p.add_argument("--table", type=Path, help="per-ROI TSV from `neurodecode evaluate`")
    p.add_argument("--scores", nargs="+", metavar="SPACE=NIFTI")
    p.add_argument("--background", type=Path, help="anatomical underlay (mean EPI / mask)")
    p.add_argument("--provenance", nargs="*", type=Path, help="extra sidecars to list")
    p.add_argument("--contrastive", type=Path, help="retrieval JSON from `neurodecode contrastive`")
    p.add_argument(
        "--cache-dir", type=Path, help="prepared cache whose release shows the example images"
    )
    p.add_argument("--out", type=Path, help="output .html")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    import sys

    import yaml

    from neurodecode.stages.evaluate import parse_name_paths

    settings: dict[str, Any] = {}
    if args.config:
        settings.update(yaml.safe_load(args.config.read_text()) or {})
    flags = {
        "subject": args.subject,
        "dataset": args.dataset,
        "table": args.table,
        "scores": parse_name_paths(args.scores, "--scores") if args.scores else None,
        "background": args.background,
        "provenance": args.provenance,
        "contrastive": args.contrastive,
        "cache_dir": args.cache_dir,
        "out": args.out,
    }
    settings.update({k: v for k, v in flags.items() if v is not None})
    try:
        config = ReportConfig(**settings)
    except TypeError as exc:
        print(f"neurodecode report: {exc}", file=sys.stderr)
        return 2
    print(f"report: {run(config)}")
    return 0
