"""The tiny video world as a BOLD Moments tree, prepared, with DIS flow features: built once per
test session (under pytest's session base folder) and shared by the tests that need it."""

from __future__ import annotations

import fcntl
from pathlib import Path

SUBJECT = "01"


def bold_moments_tree(tmp_path_factory) -> dict[str, Path]:
    """``root`` (the release), ``cache`` (prepared, with ``disflow`` features) and ``flow``.

    The first caller writes it (``neurodecode synth boldmoments --preset tiny``, ``prepare``,
    ``features --model dis-flow``); later callers of the session find it complete.
    """
    from neurodecode.cli import main

    base = tmp_path_factory.getbasetemp() / "bold-moments-tiny"
    base.mkdir(exist_ok=True)
    root, cache = base / "release", base / "cache"
    flow = cache / f"sub-{SUBJECT}" / "features" / f"sub-{SUBJECT}_desc-disflow_features.h5"
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (base / "complete").is_file():
            assert main(["synth", "boldmoments", "--preset", "tiny", "--out", str(root)]) == 0
            assert main(["prepare", "--dataset", "boldmoments", "--root", str(root), "--subject",
                         SUBJECT, "--out", str(cache), "--no-progress"]) == 0  # fmt: skip
            assert main(["features", "--subject", SUBJECT, "--cache", str(cache), "--model",
                         "dis-flow", "--no-progress"]) == 0  # fmt: skip
            (base / "complete").touch()
    return {"root": root, "cache": cache, "flow": flow, "subject": SUBJECT}  # type: ignore[dict-item]


#: Settings of the shared motion-stage run on the tiny world (the science check's).
MOTION_ARGS = ("--roi", "MT", "--epochs", "15", "--lr", "0.01", "--n-clusters", "16",
               "--n-bootstrap", "200", "--n-examples", "2")  # fmt: skip


def motion_outputs(tmp_path_factory) -> Path:
    """The ``neurodecode motion`` output folder on the tiny video world (run once a session)."""
    from neurodecode.cli import main

    tree = bold_moments_tree(tmp_path_factory)
    out = tmp_path_factory.getbasetemp() / "bold-moments-tiny" / "motion"
    with open(out.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out.parent / "motion-complete").is_file():
            argv = ["motion", "--subject", SUBJECT, "--cache", str(tree["cache"]),
                    "--flow", str(tree["flow"]), "--out", str(out), *MOTION_ARGS]  # fmt: skip
            assert main(argv) == 0
            (out.parent / "motion-complete").touch()
    return out
