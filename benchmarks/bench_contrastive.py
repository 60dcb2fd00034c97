"""Training throughput of the contrastive encoder; prints one JSON object.

Random voxels and targets (throughput does not depend on their content). The first epoch is
reported separately (allocator warm-up); ``samples_per_s`` is over the remaining epochs and
counts training samples seen, BiMixCo and SoftCLIP epochs together.

    python benchmarks/bench_contrastive.py --preset synthetic-cpu --n-voxels 2000 --clip-dim 512
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="synthetic-cpu")
    parser.add_argument("--n-voxels", type=int, default=2000)
    parser.add_argument("--clip-dim", type=int, default=512)
    parser.add_argument("--n-train", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    from neurodecode.encoders._contrastive import ContrastiveEncoder
    from neurodecode.encoders._contrastive_net import estimate_training_memory, get_preset

    config = get_preset(args.preset).replace(epochs=args.epochs)
    if args.batch_size:
        config = config.replace(batch_size=args.batch_size)
    rng = np.random.default_rng(args.seed)
    X = rng.normal(size=(args.n_train, args.n_voxels)).astype(np.float32)
    Y = rng.normal(size=(args.n_train, args.clip_dim)).astype(np.float32)
    t0 = time.perf_counter()
    enc = ContrastiveEncoder(config, random_state=args.seed, device=args.device).fit(X, Y)
    fit_s = time.perf_counter() - t0
    hist = enc.history_
    steady = hist[1:] or hist
    samples = sum(h["samples"] for h in steady)
    seconds = sum(h["seconds"] for h in steady)
    t0 = time.perf_counter()
    enc.embed(X)
    embed_s = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "benchmark": "contrastive_training_throughput",
                "preset": args.preset,
                "config": config.to_dict(),
                "n_voxels": args.n_voxels,
                "clip_dim": args.clip_dim,
                "n_train": args.n_train,
                "device": args.device,
                "torch_threads": torch.get_num_threads(),
                "machine": platform.machine(),
                "train_samples_per_s": samples / seconds,
                "first_epoch_s": hist[0]["seconds"],
                "fit_wall_s": fit_s,
                "inference_samples_per_s": args.n_train / embed_s,
                "memory_estimate_computed_not_measured": estimate_training_memory(
                    config, args.n_voxels, args.clip_dim
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
