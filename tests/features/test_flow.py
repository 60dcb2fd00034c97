"""Flow estimation (OpenCV DIS against the world's exact flow), downsampling and the codebook."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecode.features import (
    DisFlowEstimator,
    FlowCodebook,
    downsample_flow,
    flow_frame_pairs,
    flow_from_features,
    get_extractor,
)
from neurodecode.metrics import end_point_error
from neurodecode.synth._clips import ClipSet

#: DIS against exact flow on the synthetic clips, full resolution and on the 32 x 32 grid
#: (measured on 16 clips: 0.13 and 0.13 px/frame on seed 5, 0.20 and 0.21 on seed 11, against
#: 0.27 and 0.44 for zero flow).
DIS_EPE_MAX, DIS_GRID_EPE_MAX = 0.3, 0.3
#: The 40-centre codebook's limit (oracle labels) on held-out grid flow (measured 0.02 and 0.15
#: with a codebook of 10 clips; the stage's codebook of every training clip: 0.10).
CODEBOOK_EPE_MAX = 0.2


@pytest.fixture(scope="module", params=[5, 11])
def batch(request):
    clips = ClipSet(1040, seed=request.param, image_size=64, n_frames=8)
    ids = np.arange(16)
    return clips.frames(ids), clips.flow(ids)


def test_dis_flow_agrees_with_the_exact_flow(batch):
    frames, exact = batch
    dis = DisFlowEstimator()(frames)
    assert dis.shape == exact.shape
    full = end_point_error(dis, exact)
    grid = end_point_error(downsample_flow(dis), downsample_flow(exact))
    zero = end_point_error(np.zeros_like(exact), exact)
    print(f"DIS vs exact EPE: full {full.mean():.3f}, grid {grid.mean():.3f}; "
          f"zero flow {zero.mean():.3f} px/frame")  # fmt: skip
    assert full.mean() <= DIS_EPE_MAX and grid.mean() <= DIS_GRID_EPE_MAX
    assert full.mean() < 0.6 * zero.mean()


def test_downsampling_keeps_units_and_frames():
    flow = np.zeros((2, 7, 64, 64, 2), np.float32)
    flow[..., 0] = 1.5
    flow[:, :, :32, :, 1] = -2.0
    grid = downsample_flow(flow, grid=32, frames=3)
    assert grid.shape == (2, 3, 32, 32, 2)
    np.testing.assert_allclose(grid[..., 0], 1.5)
    np.testing.assert_allclose(grid[:, :, :16, :, 1], -2.0)
    np.testing.assert_allclose(grid[:, :, 16:, :, 1], 0.0)
    assert flow_frame_pairs(7, 3).tolist() == [0, 3, 6]
    back = flow_from_features(grid.reshape(2, -1), 32, 3)
    np.testing.assert_array_equal(back, grid)
    with pytest.raises(ValueError, match="multiple"):
        downsample_flow(np.zeros((1, 2, 30, 30, 2)), grid=32)


def test_codebook_limit_and_expected_flow(batch):
    _, exact = batch
    grid = downsample_flow(exact)
    book = FlowCodebook(40, random_state=0).fit(grid[:10])
    assert book.cluster_centers_.shape == (40, 2)
    labels = book.predict(grid[10:])
    assert labels.shape == grid[10:].shape[:-1]
    limit = end_point_error(book.reconstruct(labels), grid[10:]).mean()
    print(f"codebook limit (oracle labels) EPE: {limit:.3f} px/frame")
    assert limit <= CODEBOOK_EPE_MAX
    assert limit < 0.5 * end_point_error(np.zeros_like(grid[10:]), grid[10:]).mean()
    onehot = np.eye(40, dtype=np.float32)[labels]
    np.testing.assert_allclose(book.expected_flow(onehot), book.reconstruct(labels), atol=1e-6)


def test_dis_flow_extractor_is_a_video_feature_space(batch):
    frames, _ = batch
    ext = get_extractor("dis-flow")
    assert ext.modality == "video" and ext.dim == 3 * 32 * 32 * 2
    out = ext(frames[:2])
    assert out.shape == (2, ext.dim) and np.isfinite(out).all()


def test_raft_without_weights_is_a_clear_error(tmp_path):
    from neurodecode.models import WeightsNotFoundError

    ext = get_extractor("raft_small", root=str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match=r"raft_small|checkpoint"):
        ext.estimator.loaded  # noqa: B018
