"""The video world: clips with exact flow, the motion space, MT, and the image world untouched."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecode.synth import WorldConfig, make_world
from neurodecode.synth._brain import SimulatedBrain
from neurodecode.synth._clips import MOTION_KINDS, ClipSet
from neurodecode.synth._motion_truth import (
    MOTION_DIRECTIONS,
    MOTION_GRID,
    MOTION_HALF,
    MOTION_SPEEDS,
    motion_energy,
    motion_features,
)
from neurodecode.synth._populations import POPULATION_FAMILIES
from neurodecode.synth._video_world import VideoWorld, VideoWorldConfig


@pytest.fixture(scope="module")
def clips():
    return ClipSet(1040, seed=3, image_size=64, n_frames=8)


def _warp_back(frame_next: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample the next frame at p + flow(p) (bilinear): the current frame where flow is exact."""
    h, w = flow.shape[:2]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float64)
    x, y = np.clip(gx + flow[..., 0], 0, w - 1), np.clip(gy + flow[..., 1], 0, h - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    ax, ay = (x - x0)[..., None], (y - y0)[..., None]
    f = frame_next.astype(np.float64)
    top = f[y0, x0] * (1 - ax) + f[y0, x1] * ax
    return top * (1 - ay) + (f[y1, x0] * (1 - ax) + f[y1, x1] * ax) * ay


def test_clip_flow_is_exact(clips):
    """Following the flow from every pixel lands on the same colour in the next frame (away from
    occlusions: where the layer a pixel belongs to is hidden in the next frame), better than
    following any scaled version of it; what is left is bilinear resampling of sharp textures."""
    errors: dict[float, list[float]] = {0.0: [], 0.8: [], 1.0: [], 1.25: []}
    for i in range(12):
        frames, flow, masks = clips.render(i)
        assert frames.shape == (8, 64, 64, 3) and flow.shape == (7, 64, 64, 2)
        assert masks.shape == (8, 64, 64) and masks[0].any()
        gy, gx = np.mgrid[0:64, 0:64]
        for t in range(7):
            tx = np.clip(np.rint(gx + flow[t, ..., 0]).astype(int), 0, 63)
            ty = np.clip(np.rint(gy + flow[t, ..., 1]).astype(int), 0, 63)
            visible = masks[t + 1][ty, tx] == masks[t]  # the pixel's layer is still on top
            visible[:4], visible[-4:], visible[:, :4], visible[:, -4:] = False, False, False, False
            for scale, found in errors.items():
                warped = _warp_back(frames[t + 1], scale * flow[t])
                found.append(np.abs(warped - frames[t])[visible].mean())
    mean = {k: np.mean(v) for k, v in errors.items()}
    assert mean[1.0] < 0.6 * mean[0.0] and mean[1.0] < min(mean[0.8], mean[1.25])


def test_motion_parameters_cover_the_kinds_and_stay_in_frame(clips):
    kinds = {clips.motion(i)["kind"] for i in range(80)}
    assert kinds == set(MOTION_KINDS)
    pans = [clips.motion(i) for i in range(200) if np.hypot(*clips.motion(i)["pan"]) > 0]
    assert 0.1 < len(pans) / 200 < 0.5
    for i in range(40):
        attrs = clips.attributes(i)
        assert attrs["background"]["kind"] != "plain"  # textured backgrounds only
        if np.hypot(*attrs["motion"]["pan"]) > 0:
            assert attrs["background"]["kind"] in ("checker", "noise")
        m = attrs["motion"]
        start = np.array(m["centre"]) - np.array(m["velocity"]) / 64 * 3.5
        end = np.array(m["centre"]) + np.array(m["velocity"]) / 64 * 3.5
        assert np.all((start >= 0.15) & (start <= 0.85) & (end >= 0.15) & (end <= 0.85))


def test_translation_flow_is_the_velocity_on_the_object(clips):
    i = next(i for i in range(100) if clips.motion(i)["kind"] == "translate"
             and not any(clips.motion(i)["pan"]))  # fmt: skip
    _, flow, masks = clips.render(i)
    v = np.array(clips.motion(i)["velocity"])
    np.testing.assert_allclose(flow[2][masks[2]], np.broadcast_to(v, (masks[2].sum(), 2)),
                               atol=1e-4)  # fmt: skip
    assert np.abs(flow[2][~masks[2]]).max() == 0


def test_clips_are_deterministic():
    a = ClipSet(20, seed=1).render(5)
    b = ClipSet(20, seed=1).render(5)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)
    assert not np.array_equal(ClipSet(20, seed=2).render(5)[0], a[0])


def test_motion_energy_bins_direction_and_speed():
    flow = np.zeros((1, 1, 64, 64, 2), np.float32)
    flow[..., 0] = 1.0  # 1 pixel per frame to the right: direction bin 0, speed bin 1 (= 1.0)
    e = motion_energy(flow).reshape(MOTION_GRID**2, MOTION_DIRECTIONS, len(MOTION_SPEEDS))
    assert np.allclose(e[:, 0, 1], 1.0) and np.isclose(e.sum(), MOTION_GRID**2)
    down = np.zeros_like(flow)
    down[..., 1] = 2.0  # downwards on screen: a quarter turn, bin 2; speed bin 2 (= 2.0)
    e = motion_energy(down).reshape(MOTION_GRID**2, MOTION_DIRECTIONS, len(MOTION_SPEEDS))
    assert np.allclose(e[:, 2, 2], 1.0)
    assert motion_energy(np.zeros_like(flow)).sum() == 0  # rest carries no energy


def test_surround_half_ignores_wide_field_motion():
    flow = np.zeros((1, 1, 64, 64, 2), np.float32)
    flow[..., 0] = 1.5  # a pan: every pixel moves alike
    feats = motion_features(flow)
    assert feats[0, :MOTION_HALF].sum() > 60 and feats[0, MOTION_HALF:].sum() == 0
    flow[0, 0, 20:40, 20:40] = (-1.0, 0.0)  # an object moving against the pan
    assert feats.shape[1] == 2 * MOTION_HALF and motion_features(flow)[0, MOTION_HALF:].sum() > 0


@pytest.fixture(scope="module")
def video_world():
    return make_world(VideoWorldConfig(n_train=30, n_test=6, grid_shape=(16, 20, 16)))


def test_video_world_follows_the_release_design(video_world):
    assert isinstance(video_world, VideoWorld)
    assert video_world.train_ids.tolist() == list(range(30))
    assert video_world.test_ids.tolist() == list(range(1000, 1006))  # videos 1001-1006
    with pytest.raises(ValueError, match="at most 1000"):
        VideoWorldConfig(n_train=1001)


def test_mt_is_driven_by_motion_only_and_brains_share_a_template(video_world):
    brain = video_world.brain("01")
    mt = brain.roi == "MT"
    assert mt.sum() > 10 and (brain.population[mt] == "motion").all()
    assert set(brain.true_space[mt]) <= {"motion", ""}
    w = brain.true_weights
    assert np.abs(w["motion"][:, mt]).sum(axis=0).min() > 0
    assert np.abs(w["prf_energy"][:, mt]).sum() == 0
    other = video_world.brain("02")
    assert np.array_equal(other.brainmask, brain.brainmask)  # one MNI-like template
    assert not np.array_equal(other.true_weights["motion"], w["motion"])
    ids = video_world.test_ids[:2]
    response = brain.true_response(video_world.stimuli.batch(ids))
    np.testing.assert_allclose(response, brain.true_response_ids(ids), rtol=1e-4, atol=1e-4)


def test_image_world_keeps_its_own_table():
    world = make_world(WorldConfig.tiny())
    brain = world.brain("subj01")
    assert isinstance(brain, SimulatedBrain) and brain.families is POPULATION_FAMILIES
    assert "motion" not in brain.true_weights and "MT" not in set(brain.roi)
