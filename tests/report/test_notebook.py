"""The analysis notebook runs top to bottom on stage outputs (nbclient)."""

from __future__ import annotations

import pandas as pd

from ._notebook import run_notebook


def test_notebook_executes_on_evaluate_outputs(encoding_outputs, tmp_path, monkeypatch):
    root = encoding_outputs["root"]
    table = encoding_outputs["table"]
    second = root / "sub-subj02" / table.name.replace("subj01", "subj02")
    second.parent.mkdir()
    frame = pd.read_csv(table, sep="\t")
    frame["mean"] += 0.05
    frame.to_csv(second, sep="\t", index=False)
    outputs, text = run_notebook(root, tmp_path, monkeypatch, timeout=120)
    assert not [o for o in outputs if o.output_type == "error"]
    assert "subj02" in text and "same in every subject" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)
