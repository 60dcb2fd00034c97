"""Contrastive encoder benchmarks; each prints one JSON object.

Throughput (default): random voxels and targets (speed does not depend on their content). The
first epoch is reported separately (warm-up); ``train_samples_per_s`` is over the remaining
epochs and counts training samples seen, BiMixCo and SoftCLIP epochs together.

    python benchmarks/bench_contrastive.py --preset synthetic-cpu --n-voxels 2000 --clip-dim 512

Accuracy against ridge (``--vs-ridge``): a generative problem with a known truth. Images have
an 8-d latent; their "CLIP" embedding is a fixed non-linear map of it; each of 500 voxels has
Gaussian tuning around a point of the latent space, plus noise. Training: every image seen twice
(single trials); test: 300 new images, 3 repeats averaged. Both models are scored by the same
300-way retrieval (30 draws, seed 0).

    python benchmarks/bench_contrastive.py --vs-ridge --n-images 12000 --noise 3

Runtime settings (``--runtime``): what the training loop's time depends on, measured at the
demo world's sizes (4,802 voxels, 128-d targets): the AdamW update alone with the per-tensor,
foreach and fused implementations, then whole epochs for each batch size x thread count x
precision (fp32, or bf16 autocast). Wall and CPU (user + sys) seconds; on a shared machine the
CPU seconds are the comparable figure.

    python benchmarks/bench_contrastive.py --runtime --n-voxels 4802 --clip-dim 128
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
    parser.add_argument("--vs-ridge", action="store_true", help="accuracy vs ridge instead")
    parser.add_argument("--n-images", type=int, default=1500, help="--vs-ridge training images")
    parser.add_argument("--noise", type=float, default=3.0, help="--vs-ridge trial noise std")
    parser.add_argument("--runtime", action="store_true", help="optimizer/batch/threads/precision")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 256, 512])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    if args.vs_ridge:
        print(json.dumps(vs_ridge(args), indent=2))
        return
    if args.runtime:
        print(json.dumps(runtime(args), indent=2))
        return

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


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _load() -> list[float]:
    import os

    return [round(x, 2) for x in os.getloadavg()]


def runtime(args: argparse.Namespace) -> dict:
    """AdamW implementations, then epochs over batch size x threads x precision."""
    import contextlib

    import torch

    from neurodecode.encoders._contrastive import ContrastiveEncoder
    from neurodecode.encoders._contrastive_net import build_network, get_preset, init_parameters
    from neurodecode.encoders._contrastive_train import _param_groups

    config = get_preset(args.preset)
    rng = np.random.default_rng(args.seed)
    X = rng.normal(size=(args.n_train, args.n_voxels)).astype(np.float32)
    Y = rng.normal(size=(args.n_train, args.clip_dim)).astype(np.float32)
    out: dict = {
        "benchmark": "contrastive_runtime_settings",
        "preset": args.preset,
        "n_voxels": args.n_voxels,
        "clip_dim": args.clip_dim,
        "n_train": args.n_train,
        "machine": platform.machine(),
        "cpu_count": __import__("os").cpu_count(),
        "load_average_before": _load(),
        "optimizer_step": {},
        "epochs": [],
    }
    torch.set_num_threads(max(args.threads))
    net = build_network(config, {"s": args.n_voxels}, args.clip_dim)
    init_parameters(net, torch.Generator().manual_seed(0))
    for p in net.parameters():
        p.grad = torch.randn(p.shape, generator=torch.Generator().manual_seed(1))
    for impl in ("single_tensor", "foreach", "fused"):
        flags = {"single_tensor": {"foreach": False}, "foreach": {"foreach": True}}
        opt = torch.optim.AdamW(
            _param_groups(net, list(net.parameters()), config.weight_decay),
            lr=1e-4, **flags.get(impl, {"fused": True}),
        )  # fmt: skip
        opt.step()  # allocates the moments
        t0, c0 = time.perf_counter(), _cpu_seconds()
        for _ in range(20):
            opt.step()
        out["optimizer_step"][impl] = {
            "wall_ms": 1000 * (time.perf_counter() - t0) / 20,
            "cpu_ms": 1000 * (_cpu_seconds() - c0) / 20,
        }
    for batch in args.batch_sizes:
        for threads in args.threads:
            for precision in ("fp32", "bf16-autocast"):
                torch.set_num_threads(threads)
                cfg = config.replace(epochs=args.epochs, batch_size=batch)
                enc = ContrastiveEncoder(cfg, random_state=args.seed)
                ctx = (
                    contextlib.nullcontext()
                    if precision == "fp32"
                    else torch.autocast("cpu", dtype=torch.bfloat16)
                )
                t0, c0 = time.perf_counter(), _cpu_seconds()
                with ctx:
                    enc.fit(X, Y)
                wall, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
                samples = sum(h["samples"] for h in enc.history_)
                out["epochs"].append(
                    {
                        "batch_size": batch,
                        "threads": threads,
                        "precision": precision,
                        "wall_s": wall,
                        "cpu_s": cpu,
                        "samples": samples,
                        "samples_per_wall_s": samples / wall,
                        "samples_per_cpu_s": samples / cpu,
                    }
                )
    out["load_average_after"] = _load()
    return out


def tuned_voxel_problem(
    n_images: int, noise: float, seed: int = 0, n_voxels: int = 500, latent: int = 8
) -> tuple[np.ndarray, ...]:
    """Train (single trials, two repeats) and test (three repeats averaged) arrays."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(size=(latent, 64)) / np.sqrt(latent)
    w2 = rng.normal(size=(64, 32)) / 8
    centres = rng.normal(size=(n_voxels, latent))

    def images(n: int) -> tuple[np.ndarray, np.ndarray]:
        z = rng.normal(size=(n, latent))
        return z, (np.tanh(z @ w1) @ w2).astype(np.float32)

    def trials(z: np.ndarray) -> np.ndarray:
        d2 = ((z[:, None, :] - centres[None]) ** 2).sum(-1)
        return 3 * np.exp(-d2 / 8.0) + noise * rng.normal(size=(len(z), n_voxels))

    z, clip = images(n_images)
    X_train = np.concatenate([trials(z), trials(z)]).astype(np.float32)
    z_test, clip_test = images(300)
    X_test = np.mean([trials(z_test) for _ in range(3)], axis=0).astype(np.float32)
    return X_train, np.concatenate([clip, clip]), X_test, clip_test


def vs_ridge(args: argparse.Namespace) -> dict:
    from sklearn.linear_model import RidgeCV

    from neurodecode.encoders import ContrastiveEncoder, get_contrastive_preset
    from neurodecode.metrics import retrieval_accuracy

    X_train, Y_train, X_test, Y_test = tuned_voxel_problem(args.n_images, args.noise, args.seed)
    t0 = time.perf_counter()
    ridge = RidgeCV(alphas=np.logspace(-1, 6, 15)).fit(X_train, Y_train)
    ridge_s = time.perf_counter() - t0
    r = retrieval_accuracy(ridge.predict(X_test), Y_test)
    config = get_contrastive_preset(args.preset)
    t0 = time.perf_counter()
    enc = ContrastiveEncoder(config, random_state=args.seed, device=args.device)
    c = enc.fit(X_train, Y_train).retrieval(X_test, Y_test)
    enc_s = time.perf_counter() - t0
    return {
        "benchmark": "contrastive_vs_ridge_retrieval",
        "n_train_trials": len(X_train),
        "noise": args.noise,
        "preset": args.preset,
        "n_way": c.n_way,
        "chance": c.chance,
        "ridge": {"image_given_brain": r.image_given_brain,
                  "brain_given_image": r.brain_given_image,
                  "alpha": float(ridge.alpha_), "fit_s": ridge_s},
        "contrastive": {"image_given_brain": c.image_given_brain,
                        "brain_given_image": c.brain_given_image,
                        "ci": [c.image_given_brain_ci, c.brain_given_image_ci], "fit_s": enc_s},
    }  # fmt: skip


if __name__ == "__main__":
    main()
