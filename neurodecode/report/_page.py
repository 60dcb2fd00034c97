"""The per-subject HTML page: one self-contained file (figures embedded as data URIs).

The page is a template (``templates/page.html`` and ``report.css``, package data) filled with
the sections that exist (:mod:`._sections`) and a provenance section listing the sidecar of
every output the sections read. It loads nothing from the network, runs no script and opens
offline in any browser.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from string import Template

from neurodecode._io import atomic_write, read_json
from neurodecode.report._elements import table_html
from neurodecode.report._sections import Section

__all__ = ["provenance_section", "render_page"]

_PROVENANCE_COLUMNS = (
    "output", "stage", "version", "seed", "split hash", "device", "wall time (s)",
    "peak memory (MiB)",
)  # fmt: skip


def _template(name: str) -> str:
    return resources.files("neurodecode.report").joinpath("templates", name).read_text("utf-8")


def provenance_section(sidecars: Sequence[Path]) -> Section:
    """A table of every sidecar (stage, version, seed, split hash...) with each one in full."""
    rows, details = [], []
    for path in sidecars:
        try:
            record = read_json(path)
        except (OSError, ValueError) as exc:
            rows.append({"output": Path(path).name, "stage": f"unreadable: {exc}"})
            continue
        rows.append(
            {
                "output": Path(path).name,
                "stage": record.get("stage", ""),
                "version": record.get("package_version", ""),
                "seed": record.get("seed", ""),
                "split hash": (record.get("split_hash") or "")[:12],
                "device": record.get("device", ""),
                "wall time (s)": record.get("wall_time_s", float("nan")),
                "peak memory (MiB)": record.get("peak_memory_mb", float("nan")),
            }
        )
        details.append(
            f"<details><summary>{html.escape(Path(path).name)}</summary><pre>"
            f"{html.escape(json.dumps(record, indent=2, sort_keys=True))}</pre></details>"
        )
    body = table_html(rows, list(_PROVENANCE_COLUMNS), left=2) + "".join(details)
    return Section("provenance", "Run provenance", body)


def render_page(
    out: str | os.PathLike[str],
    *,
    subject: str,
    dataset: str,
    sections: Sequence[Section],
    summary: str = "",
) -> Path:
    """Write the page of ``sections`` to ``out`` (atomically) and return the path."""
    from neurodecode import __version__

    title = f"{dataset} {subject}".strip()
    toc = "".join(f'<a href="#{html.escape(s.key)}">{html.escape(s.title)}</a>' for s in sections)
    body = "\n".join(
        f'<section id="{html.escape(s.key)}"><h2>{html.escape(s.title)}</h2>\n{s.html}</section>'
        for s in sections
    )
    doc = Template(_template("page.html")).substitute(
        title=html.escape(title),
        css=_template("report.css"),
        version=html.escape(__version__),
        when=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        summary=html.escape(summary or f"{len(sections)} section(s)"),
        toc=toc,
        sections=body,
    )
    with atomic_write(out, "w", encoding="utf-8") as fh:
        fh.write(doc)
    return Path(out)
