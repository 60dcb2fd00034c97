"""How the stage contract test (test_contract.py) drives each stage: one case per stage."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

SUBJECT = "subj01"


@dataclasses.dataclass
class Case:
    """How the contract test drives one stage."""

    argv: Callable[[dict, Path], list[str]]  # (world, out folder) -> the command line
    changed: list[str]  # appended flags that change the config (empty: the stage refuses)
    refuses_change: bool = False  # a changed config is refused rather than rerun


def _toy_clip() -> Path:
    from neurodecode.models import resolve_weights

    return resolve_weights("toy-clip")  # continuing it skips building a vocabulary


def _features(w: dict, name: str) -> str:
    return str(w["features"] / f"sub-{SUBJECT}_desc-{name}_features.h5")


CASES: dict[str, Case] = {
    "synth": Case(
        lambda w, out: [
            "synth",
            "nsd",
            "--preset",
            "tiny",
            "--subjects",
            SUBJECT,
            "--formats",
            "hdf5",
            "--out",
            str(out),
        ],
        ["--seed", "3"],
        refuses_change=True,  # a tree is never mixed from two worlds
    ),
    "data verify": Case(
        lambda w, out: [
            "data",
            "verify",
            "--dataset",
            "nsd",
            "--root",
            str(w["root"]),
            "--subject",
            SUBJECT,
            "--out",
            str(out / "verify.json"),
        ],
        ["--fmt", "hdf5"],
    ),
    "prepare": Case(
        lambda w, out: [
            "prepare",
            "--dataset",
            "nsd",
            "--root",
            str(w["root"]),
            "--subject",
            SUBJECT,
            "--out",
            str(out),
            "--no-progress",
        ],
        ["--roi", "all"],
    ),
    "features": Case(
        lambda w, out: [
            "features",
            "--subject",
            SUBJECT,
            "--cache",
            str(w["cache"]),
            "--model",
            "synth-category",
            "--out",
            str(out / "f.h5"),
            "--no-progress",
        ],
        ["--batch-size", "7"],
    ),
    "encode": Case(
        lambda w, out: [
            "encode",
            "--subject",
            SUBJECT,
            "--cache",
            str(w["cache"]),
            "--features",
            _features(w, "synthcolour"),
            "--out",
            str(out),
            "--n-bootstrap",
            "20",
        ],
        ["--n-splits", "3"],
    ),
    "contrastive": Case(
        lambda w, out: [
            "contrastive",
            "--subject",
            SUBJECT,
            "--cache",
            str(w["cache"]),
            "--features",
            _features(w, "toyclip"),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--n-draws",
            "2",
        ],
        ["--seed", "1"],
    ),
    "evaluate": Case(
        lambda w, out: [
            "evaluate",
            "--scores",
            f"colour={w['score']}",
            "--atlases",
            str(w["atlas"]),
            "--labels",
            f"prf-visualrois={w['ctab']}",
            "--n-bootstrap",
            "100",
            "--out",
            str(out / "t.tsv"),
        ],
        ["--seed", "4"],
    ),
    "report": Case(
        lambda w, out: [
            "report",
            "--subject",
            SUBJECT,
            "--inputs",
            str(w["table"]),
            "--out",
            str(out / "r.html"),
        ],
        ["--dataset", "nsd"],
    ),
    "caption": Case(
        lambda w, out: [
            "caption",
            "--subject",
            SUBJECT,
            "--cache",
            str(w["cache"]),
            "--out",
            str(out),
            "--metrics",
            "bleu1",
            "cider",
            "--n-components",
            "16",
            "--n-splits",
            "3",
            "--n-bootstrap",
            "20",
            "--max-new-tokens",
            "8",
            "--bank-size",
            "64",
        ],
        ["--num-beams", "2"],
    ),
    "models train clip": Case(
        lambda w, out: [
            "models",
            "train",
            "clip",
            "--out",
            str(out / "clip"),
            "--steps",
            "1",
            "--batch-size",
            "4",
            "--n-eval",
            "100",
            "--log-every",
            "1",
            "--init-from",
            str(_toy_clip()),
        ],
        ["--seed", "1"],
    ),
    "motion": Case(
        lambda w, out: [
            "motion",
            "--subject",
            w["video"]["subject"],
            "--cache",
            str(w["video"]["cache"]),
            "--flow",
            str(w["video"]["flow"]),
            "--out",
            str(out),
            "--roi",
            "MT",
            "--epochs",
            "1",
            "--n-clusters",
            "4",
            "--n-examples",
            "1",
            "--n-draws",
            "2",
            "--n-bootstrap",
            "20",
        ],
        ["--n-clusters", "5"],
    ),
    "reconstruct": Case(
        lambda w, out: [
            "reconstruct",
            "--subject",
            SUBJECT,
            "--cache",
            str(w["cache"]),
            "--out",
            str(out),
            "--steps",
            "2",
            "--n-samples",
            "1",
            "--backbones",
            "toy-clip",
            "--no-ablations",
            "--bank-size",
            "64",
            "--n-splits",
            "3",
            "--n-bootstrap",
            "20",
        ],
        ["--strength", "0.5"],
    ),
    "models train diffusion": Case(
        lambda w, out: [
            "models",
            "train",
            "diffusion",
            "--out",
            str(out / "diffusion"),
            "--vae-steps",
            "1",
            "--unet-steps",
            "1",
            "--vae-batch",
            "2",
            "--unet-batch",
            "2",
            "--n-pool",
            "4",
            "--n-eval",
            "4",
            "--eval-steps",
            "1",
            "--log-every",
            "1",
        ],
        ["--seed", "1"],
    ),
    "models train git": Case(
        lambda w, out: [
            "models",
            "train",
            "git",
            "--out",
            str(out / "git"),
            "--steps",
            "1",
            "--batch-size",
            "4",
            "--n-eval",
            "5",
            "--log-every",
            "1",
            "--eval-every",
            "0",
        ],
        ["--seed", "1"],
    ),
}
