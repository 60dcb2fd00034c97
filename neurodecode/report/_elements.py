"""HTML building blocks shared by every report section (no section logic here)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["fmt", "image_grid", "img_tag", "table_html", "thumbnail_png"]


def img_tag(png: bytes, alt: str) -> str:
    """An ``<img>`` with the PNG embedded as a data URI (the report opens offline)."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def fmt(value: Any, digits: int = 3) -> str:
    """A table cell: floats rounded, NaN as n/a, everything escaped."""
    if isinstance(value, (float, np.floating)):
        return "n/a" if value != value else f"{float(value):.{digits}f}"
    return html.escape(str(value))


def table_html(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    left: int = 1,
    highlight: str | None = None,
) -> str:
    """A table of ``rows`` (mappings) over ``columns``; the first ``left`` columns left-aligned,
    rows whose ``highlight`` value is true in bold."""
    head = "".join(
        f'<th class="{"l" if i < left else ""}">{html.escape(c)}</th>'
        for i, c in enumerate(columns)
    )
    body = []
    for row in rows:
        cls = ' class="best"' if highlight and bool(row.get(highlight)) else ""
        cells = "".join(
            f'<td class="{"l" if i < left else ""}">{fmt(row.get(c, ""))}</td>'
            for i, c in enumerate(columns)
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def thumbnail_png(image: np.ndarray) -> bytes:
    """A uint8 RGB image as PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def image_grid(
    rows: Sequence[Sequence[tuple[np.ndarray | None, str]]],
    header: Sequence[str],
    *,
    marks: Sequence[Sequence[str]] | None = None,
) -> str:
    """A table of thumbnails: each cell an (image or None, caption) pair.

    ``marks`` gives each cell a CSS class (``"hit"`` frames it green, ``"q"`` shades it).
    """
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for r, row in enumerate(rows):
        cells = []
        for c, (image, caption) in enumerate(row):
            cls = marks[r][c] if marks else ""
            tag = img_tag(thumbnail_png(image), caption) if image is not None else ""
            cells.append(f'<td class="{cls}">{tag}<br>{html.escape(caption)}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<table class="thumbs"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
