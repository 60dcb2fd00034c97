"""Animating the first frame with a flow, the video-model seam, and GIF output."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecode.decoders import (
    DiffusersMotionVideoModel,
    WarpAnimator,
    load_motion_video_model,
    save_gif,
)
from neurodecode.features import downsample_flow
from neurodecode.synth._clips import ClipSet


def test_warping_with_the_exact_flow_follows_the_true_clip():
    clips = ClipSet(1010, seed=2, image_size=64, n_frames=8)
    ids = np.arange(6)
    frames, flow = clips.frames(ids), downsample_flow(clips.flow(ids))
    warped_err, static_err = [], []
    for clip, f in zip(frames, flow, strict=True):
        anim = WarpAnimator()(clip[0], f, num_frames=8)
        assert anim.shape == clip.shape and anim.dtype == np.uint8
        np.testing.assert_array_equal(anim[0], clip[0])
        warped_err.append(np.abs(anim[1:4].astype(float) - clip[1:4]).mean())
        static_err.append(np.abs(clip[0:1].astype(float) - clip[1:4]).mean())
    assert np.mean(warped_err) < np.mean(static_err)
    still = WarpAnimator()(frames[0, 0], np.zeros_like(flow[0]), num_frames=3)
    assert np.abs(still.astype(int) - frames[0, 0]).max() <= 1


def test_video_model_seam_adapts_a_pipeline_and_refuses_an_empty_folder(tmp_path):
    from neurodecode.models import WeightsNotFoundError

    calls = {}

    def pipeline(image, num_frames, generator, output_type, **kwargs):
        calls.update(kwargs, size=image.size, output_type=output_type)
        return type("Out", (), {"frames": np.full((1, num_frames, 16, 16, 3), 0.5)})()

    model = DiffusersMotionVideoModel(pipeline, flow_argument="motion", extra={"steps": 2})
    out = model(np.zeros((16, 16, 3), np.uint8), np.zeros((3, 8, 8, 2)), num_frames=5)
    assert out.shape == (5, 16, 16, 3) and out.dtype == np.uint8 and out.max() == 128
    assert tuple(calls["motion"].shape) == (3, 2, 8, 8) and calls["steps"] == 2
    with pytest.raises(WeightsNotFoundError, match=r"model_index\.json"):
        load_motion_video_model(tmp_path)


def test_save_gif_writes_every_frame(tmp_path):
    from PIL import Image

    frames = np.stack([np.full((8, 8, 3), 40 * t, np.uint8) for t in range(4)])
    path = save_gif(tmp_path / "a.gif", frames)
    with Image.open(path) as im:
        assert im.n_frames == 4
