"""The analysis notebook runs top to bottom on stage outputs (nbclient)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "encoding_across_subjects.ipynb"


def test_notebook_executes_on_evaluate_outputs(encoding_outputs, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    root = encoding_outputs["root"]
    table = encoding_outputs["table"]
    second = root / "sub-subj02" / table.name.replace("subj01", "subj02")
    second.parent.mkdir()
    frame = pd.read_csv(table, sep="\t")
    frame["mean"] += 0.05
    frame.to_csv(second, sep="\t", index=False)
    monkeypatch.setenv("NEURODECODE_DERIVATIVES", str(root))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "subj02" in text and "same in every subject" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)
