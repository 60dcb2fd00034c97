"""``neurodecode report``: render one subject's self-contained HTML report.

Reads stage outputs only: the per-ROI table from ``neurodecode evaluate``, the score maps from
``neurodecode encode`` (their sidecars supply the provenance section), and an anatomical
underlay on the functional grid (the release's mean EPI or brain mask). Writes the HTML
atomically with its own sidecar.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["ReportConfig", "register", "run"]


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
        Extra sidecars to list (those of ``table`` and ``scores`` are always listed).
    """

    subject: str
    table: Path
    scores: Mapping[str, Path]
    out: Path
    background: Path | None = None
    dataset: str = ""
    provenance: Sequence[Path] = ()


def run(config: ReportConfig) -> Path:
    """Render the report and write its sidecar; return the HTML path."""
    from neurodecode._provenance import RunRecord, sidecar_path
    from neurodecode.report import ReportInputs, render_subject_report

    record = RunRecord(stage="report", config=config)
    inputs = [Path(config.table), *map(Path, config.scores.values())]
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
