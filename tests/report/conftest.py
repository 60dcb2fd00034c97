"""Fabricated stage outputs for report tests: a tiny volume, two score maps, a ROI table, a
contrastive retrieval file and a stimulus source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurodecode._provenance import RunRecord


@pytest.fixture
def encoding_outputs(tmp_path: Path) -> dict:
    import nibabel as nib
    import pandas as pd

    rng = np.random.default_rng(0)
    shape = (12, 14, 10)
    affine = np.diag([1.8, 1.8, 1.8, 1.0])
    ii, jj, kk = np.indices(shape)
    brain = ((ii - 6) ** 2 / 30 + (jj - 7) ** 2 / 40 + (kk - 5) ** 2 / 20) < 1
    mean_img = nib.Nifti1Image(
        (brain * (500 + 50 * rng.standard_normal(shape))).astype("f4"), affine
    )
    sub = tmp_path / "sub-subj01"
    sub.mkdir(exist_ok=True)
    mean_path = tmp_path / "mean.nii.gz"
    nib.save(mean_img, mean_path)
    maps, sidecars = {}, []
    for space, gain in (("clip-image", 0.4), ("truth-colour", 0.2)):
        scores = np.where(
            brain, gain * np.exp(-((ii - 3) ** 2) / 8) + 0.02 * rng.standard_normal(shape), 0
        )
        desc = space.replace("-", "")
        path = sub / f"sub-subj01_space-func1pt8mm_desc-{desc}_stat-r_statmap.nii.gz"
        nib.save(nib.Nifti1Image(scores.astype("f4"), affine), path)
        sidecars.append(
            RunRecord(
                stage="encode", config={"space": space}, seed=0, split_hash="abc123def4567890"
            ).write(path, inputs=[mean_path])
        )
        maps[space] = path
    rows = []
    for roi, nc in (("V1v", 0.6), ("FFA-1", 0.5), ("PPA", 0.45)):
        for space, m in (("clip-image", 0.35), ("truth-colour", 0.2)):
            rows.append(
                {
                    "roi": roi,
                    "feature_space": space,
                    "metric": "r",
                    "n_voxels": 40,
                    "mean": m,
                    "ci_low": m - 0.05,
                    "ci_high": m + 0.05,
                    "noise_ceiling": nc,
                    "ceiling_fraction": m / nc,
                    "best": space == "clip-image",
                }
            )
    table = sub / "sub-subj01_desc-encoding_stat-r_rois.tsv"
    pd.DataFrame(rows).to_csv(table, sep="\t", index=False)
    # the evaluate sidecar names the score maps it summarised (the report draws them)
    RunRecord(
        stage="evaluate", config={"scores": {k: str(v) for k, v in maps.items()}}, seed=0,
        split_hash="abc123def4567890",
    ).write(table, inputs=list(maps.values()))  # fmt: skip
    return {
        "maps": maps,
        "table": table,
        "background": mean_path,
        "sidecars": sidecars,
        "root": tmp_path,
    }


class FakeStimuli:
    """A stimulus source (``images(ids, size=)``) drawing one flat colour per stimulus id."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[int], tuple[int, int] | None]] = []

    def images(self, ids, size=None) -> np.ndarray:
        ids = [int(i) for i in ids]
        self.calls.append((ids, size))
        h, w = size if size is not None else (32, 32)
        out = np.zeros((len(ids), h, w, 3), dtype=np.uint8)
        for n, i in enumerate(ids):
            out[n] = [(37 * i) % 256, (91 * i) % 256, (53 * i) % 256]
        return out


@pytest.fixture
def contrastive_outputs(tmp_path: Path) -> dict:
    """A ``*_desc-contrastive_retrieval.json`` (+ sidecar) from small synthetic embeddings."""
    from neurodecode._io import write_json_atomic
    from neurodecode.metrics._retrieval import rank_candidates, retrieval_accuracy

    rng = np.random.default_rng(1)
    n, d = 40, 8
    ids = np.arange(500, 500 + n)
    image = rng.normal(size=(n, d))
    brain = image + 0.8 * rng.normal(size=(n, d))
    ridge = image + 2.0 * rng.normal(size=(n, d))
    protocol = {"n_way": 300, "n_draws": 5, "seed": 0}
    queries = np.array([3, 17, 29])
    top = rank_candidates(brain[queries], image, k=5)
    result = {
        "subject": "subj01",
        "roi": None,
        "space": "func1pt8mm",
        "n_voxels": 150,
        "split_hash": "abc123def4567890",
        "n_train_trials": 800,
        "n_test_stimuli": n,
        "contrastive": retrieval_accuracy(brain, image, **protocol).as_dict(),
        "ridge_baseline": {**retrieval_accuracy(ridge, image, **protocol).as_dict(), "alpha": 1.0},
        "examples": [
            {"query_stim_id": int(ids[q]), "retrieved_stim_ids": ids[t].tolist()}
            for q, t in zip(queries, top, strict=True)
        ],
    }
    path = tmp_path / "sub-subj01" / "sub-subj01_desc-contrastive_retrieval.json"
    path.parent.mkdir(exist_ok=True)
    write_json_atomic(path, result)
    sidecar = RunRecord(
        stage="contrastive", config={"subject": "subj01"}, seed=0, split_hash="abc123def4567890"
    ).write(path)
    return {"path": path, "sidecar": sidecar, "result": result, "stimuli": FakeStimuli()}
