"""Motion-decoding benchmarks; prints one JSON object.

* **Flow estimation**: OpenCV DIS on clips of the synthetic video world (64 x 64, 8 frames):
  clips per second, and its end-point error against the world's exact flow (full resolution
  and on the 32 x 32 decoding grid), with the zero-flow EPE for scale.
* **Codebook limit**: a k-means codebook fitted on the grid flow of training clips, applied to
  held-out clips with oracle labels (nearest centre): the EPE a classifier over it can reach.
* **Decoder training**: the ridge decoder's fit (with its default cross-validated shrinkage
  towards the median flow, which refits the ridge once per fold, and without it:
  ``shrink=(0,)``) and the codebook decoder's seconds per epoch
  on random responses of the demo world's size (voxels, trials), the grid flow targets of real
  clips (speed does not depend on the responses' content). The machine's 1-minute load
  average at the end is recorded: timings on a shared machine are only comparable at a
  similar load.

    python benchmarks/bench_motion.py --n-clips 64 --n-voxels 142 --n-train 600
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-clips", type=int, default=64, help="clips whose flow is estimated")
    parser.add_argument("--n-voxels", type=int, default=142, help="decoder input voxels")
    parser.add_argument("--n-train", type=int, default=600, help="training clips (x 3 trials)")
    parser.add_argument("--n-clusters", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=2, help="codebook decoder epochs timed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import torch

    from neurodecode.decoders import CodebookFlowDecoder, RidgeFlowDecoder
    from neurodecode.features import DisFlowEstimator, FlowCodebook, downsample_flow
    from neurodecode.metrics import end_point_error
    from neurodecode.synth._clips import ClipSet

    torch.set_num_threads(1)
    clips = ClipSet(1000 + args.n_clips, seed=args.seed, image_size=64, n_frames=8)
    ids = np.arange(args.n_clips)
    frames, exact = clips.frames(ids), clips.flow(ids)
    start = time.perf_counter()
    dis = DisFlowEstimator()(frames)
    dis_s = time.perf_counter() - start
    grid_exact, grid_dis = downsample_flow(exact), downsample_flow(dis)
    half = args.n_clips // 2
    book = FlowCodebook(args.n_clusters, random_state=args.seed).fit(grid_exact[:half])
    limit = end_point_error(book.reconstruct(book.predict(grid_exact[half:])), grid_exact[half:])

    rng = np.random.default_rng(args.seed)
    groups = np.repeat(np.arange(args.n_train), 3)
    X = rng.normal(size=(groups.size, args.n_voxels)).astype(np.float32)
    flows = grid_dis[rng.integers(0, args.n_clips, args.n_train)][groups]
    firsts = frames[rng.integers(0, args.n_clips, args.n_train), 0][groups]
    ridge_s = {}
    for label, shrink in (("shrink", None), ("raw", (0.0,))):
        kwargs = {} if shrink is None else {"shrink": shrink}
        start = time.perf_counter()
        RidgeFlowDecoder(alphas=np.logspace(0, 6, 13), **kwargs).fit(X, flows, groups=groups)
        ridge_s[label] = time.perf_counter() - start
    start = time.perf_counter()
    CodebookFlowDecoder(n_clusters=args.n_clusters, epochs=args.epochs, device=args.device,
                        random_state=args.seed).fit(X, flows, firsts, groups=groups)  # fmt: skip
    codebook_s = time.perf_counter() - start
    print(json.dumps({
        "benchmark": "motion", "machine": platform.machine(), "python": platform.python_version(),
        "torch_threads": 1, "device": args.device, "n_clips": args.n_clips,
        "load_average_1min": round(os.getloadavg()[0], 2), "cpu_count": os.cpu_count(),
        "dis_clips_per_s": round(args.n_clips / dis_s, 2),
        "dis_vs_exact_epe": round(float(end_point_error(dis, exact).mean()), 4),
        "dis_vs_exact_epe_grid": round(float(end_point_error(grid_dis, grid_exact).mean()), 4),
        "zero_flow_epe": round(float(end_point_error(np.zeros_like(exact), exact).mean()), 4),
        "codebook_clusters": args.n_clusters,
        "codebook_limit_epe_grid": round(float(limit.mean()), 4),
        "n_voxels": args.n_voxels, "n_train_trials": int(groups.size),
        "ridge_fit_s": round(ridge_s["shrink"], 2),
        "ridge_fit_s_without_shrinkage": round(ridge_s["raw"], 2),
        "codebook_fit_s_per_epoch": round(codebook_s / args.epochs, 2),
        "codebook_fit_epochs": args.epochs,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
