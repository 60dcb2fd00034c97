"""Run the analysis notebook on a derivatives folder (shared by the report and pipeline tests)."""

from __future__ import annotations

from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "encoding_across_subjects.ipynb"


def run_notebook(
    derivatives: Path, workdir: Path, monkeypatch, timeout: int = 300, notebook: Path = NOTEBOOK
):
    """Execute ``notebook`` (default: the encoding one) on ``derivatives``.

    ``NEURODECODE_DERIVATIVES`` is set to ``derivatives`` for the kernel.

    Returns ``(outputs, text)``: every code-cell output, and their ``text/plain`` joined.
    """
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("NEURODECODE_DERIVATIVES", str(derivatives))
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    ).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    text = "".join(str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    return outputs, text
