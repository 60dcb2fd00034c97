"""``neurodecode motion``: the science check against the video world's truth.

Default run: the tiny video world (120 training clips x 3, 20 test clips x 10, 45 MT voxels),
where both decoders must already beat the no-brain baseline. Slow run (``-m slow``): the demo
video world (600 x 3 and 50 x 10, 142-171 MT voxels) on three world seeds, where the issue's
thresholds hold: decoded-flow EPE <= 0.6 x the mean-training-flow baseline's for both decoders,
direction accuracy well above chance (1/8).

Measured (EPE / mean-flow EPE against the exact flow; against the DIS targets in brackets):
tiny world, ridge 0.77 (0.81), codebook 0.77 (0.82); demo world seed 0, ridge 0.461 (0.530),
codebook 0.373 (0.516); seed 1, ridge 0.509 (0.580), codebook 0.401 (0.562); seed 3, ridge
0.535 (0.593), codebook 0.460 (0.604). Direction accuracy on the demo world: ridge 0.64, 0.50
and 0.49, codebook 0.35, 0.32 and 0.32 (chance 0.125). The ridge's predictions are shrunk
towards the median training flow (its cross-validated ``shrink``); its own predictions gave
0.480, 0.585 and 0.613 on seeds 0, 1 and 3 (seed 3 then failed the 0.6 bound).
"""

from __future__ import annotations

import json

import pytest
from synth._video_tree import motion_outputs  # tests/synth is a package on the test path

from neurodecode.cli import main

DECODERS = ("ridge", "codebook")
#: The issue's threshold on the demo world, and this test's on the tiny world.
#: Against the exact flow (the synthetic clips' truth); against the estimated flow the decoders
#: were trained on (which holds the estimator's own error, unpredictable from the brain) the
#: demo bound is TARGET_EPE_RATIO.
DEMO_EPE_RATIO, TARGET_EPE_RATIO, TINY_EPE_RATIO = 0.6, 0.65, 0.9
#: "Well above 1/8": twice chance, with the CI's lower end above chance, on the demo world;
#: 1.5 x chance on the tiny one.
DEMO_DIRECTION, TINY_DIRECTION = 2 / 8, 1.5 / 8


def _motion(cache, flow, out, *extra: str) -> dict:
    if cache is not None:
        argv = ["motion", "--subject", "01", "--cache", str(cache), "--flow", str(flow),
                "--out", str(out), "--roi", "MT", *extra]  # fmt: skip
        assert main(argv) == 0
    results = json.loads(next(out.glob("*_desc-motion_results.json")).read_text())
    for ref, scores in results["scores"].items():
        for name, value in scores["epe_ratio"].items():
            m = scores["models"][name]
            print(f"{ref} {name}: EPE {m['epe']['value']:.3f} (ratio {value:.3f}), direction "
                  f"accuracy {m['direction_accuracy']['value']:.3f}")  # fmt: skip
        base = scores["models"]["mean_flow"]["epe"]["value"]
        print(f"{ref} mean-flow EPE {base:.3f}, other clips "
              f"{scores['models']['other_clips']['epe']['value']:.3f}, codebook limit "
              f"{scores['models']['codebook_limit']['epe']['value']:.3f}")  # fmt: skip
    return results


def _check(results: dict, ratio: float, direction: float, directed=DECODERS,
           target_ratio: float | None = None) -> None:  # fmt: skip
    assert results["reference"] == "truth"
    for ref in ("target", "truth"):
        scores = results["scores"][ref]
        bound = ratio if ref == "truth" or target_ratio is None else target_ratio
        for name in DECODERS:
            assert scores["epe_ratio"][name] <= bound, (ref, name, scores["epe_ratio"])
            acc = scores["models"][name]["direction_accuracy"]
            if name in directed:
                assert acc["ci_low"] > 1 / 8 and acc["value"] >= direction, (ref, name, acc)
        limit = scores["models"]["codebook_limit"]["epe"]["value"]
        assert limit < 0.5 * scores["models"]["mean_flow"]["epe"]["value"]
    estimator = results["scores"]["truth"]["models"]["estimator"]["epe"]["value"]
    assert estimator < 0.5 * results["scores"]["truth"]["models"]["mean_flow"]["epe"]["value"]


def test_motion_decoders_beat_the_no_brain_baseline_on_the_tiny_world(tmp_path_factory):
    out = motion_outputs(tmp_path_factory)  # MOTION_ARGS (shared with the report tests)
    results = _motion(None, None, out)
    # 120 training clips are too few for the codebook decoder's directions (its accuracy there
    # is near chance); the demo world checks them
    _check(results, TINY_EPE_RATIO, TINY_DIRECTION, directed=("ridge",))
    assert results["n_test_clips"] == 20 and results["decoders"] == list(DECODERS)
    examples = out / "sub-01_desc-motion_animations"
    assert len(list(examples.glob("*.gif"))) == 2 * (1 + len(DECODERS))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 3])
def test_motion_thresholds_on_the_demo_world(seed, tmp_path):
    root, cache, out = tmp_path / "release", tmp_path / "cache", tmp_path / "motion"
    assert main(["synth", "boldmoments", "--preset", "demo", "--seed", str(seed),
                 "--out", str(root)]) == 0  # fmt: skip
    assert main(["prepare", "--dataset", "boldmoments", "--root", str(root), "--subject", "01",
                 "--out", str(cache), "--no-progress"]) == 0  # fmt: skip
    assert main(["features", "--subject", "01", "--cache", str(cache), "--model", "dis-flow",
                 "--no-progress"]) == 0  # fmt: skip
    results = _motion(cache, "disflow", out, "--epochs", "20", "--n-bootstrap", "500",
                      "--n-examples", "2")  # fmt: skip
    _check(results, DEMO_EPE_RATIO, DEMO_DIRECTION, target_ratio=TARGET_EPE_RATIO)
