"""Reconstruction speed: seconds per reconstructed image, and the diffusion model's training time.

Prints one JSON object:

* ``sampling``: for each (steps, samples per trial, batch, strength) setting, the wall time of
  :class:`~neurodecode.decoders.ReconstructionPipeline` on ``--n-trials`` trials with the
  shipped toy latent-diffusion model (fitted ridge decoders on random voxels; the decoders'
  cost is separate, ``decoders_s``), as seconds per reconstructed image (per trial, all its
  samples and the selection included) and per UNet evaluation; torch threads and device.
* ``training``: the shipped model's training seconds per part and the hardware it names, read
  from its ``training_report.json`` (measured when it was trained).

    python benchmarks/bench_reconstruct.py --threads 2
    python benchmarks/bench_reconstruct.py --device cuda   # where a GPU is available
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _pipeline(n_trials: int, device: str):
    from neurodecode.decoders import ReconstructionPipeline, RidgeDecoder
    from neurodecode.features import get_extractor
    from neurodecode.models import resolve_weights

    path = resolve_weights("toy-diffusion")
    parts = ReconstructionPipeline.load_components(path)
    for name in ("vae", "unet"):
        parts[name] = parts[name].to(device)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 500), dtype=np.float32)
    c, side = int(parts["vae"].config.latent_channels), int(parts["unet"].config.sample_size)
    t = time.perf_counter()
    lat = RidgeDecoder(n_splits=3).fit(X, rng.standard_normal((400, c * side * side)))
    emb = RidgeDecoder(n_splits=3).fit(X, rng.standard_normal((400, 128)))
    fit_s = time.perf_counter() - t
    clip = get_extractor("toy-clip", device=device)
    pipe = ReconstructionPipeline(
        parts["vae"],
        parts["unet"],
        parts["scheduler"],
        lat,
        emb,
        image_encoder=clip,
        conditioning=parts["conditioning"],
    )
    return pipe, X[:n_trials], fit_s, path


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pipe, brain, fit_s, path = _pipeline(args.n_trials, args.device)
    settings = [  # (steps, samples, batch, strength, mode)
        (20, 2, 100, 0.6, "full"),
        (20, 1, 100, 0.6, "full"),
        (20, 4, 100, 0.6, "full"),
        (20, 1, 100, 1.0, "embedding"),
        (50, 1, 100, 0.6, "full"),
        (20, 2, 25, 0.6, "full"),
    ]
    rows = []
    pipe(brain[:4], n_samples=1, num_inference_steps=2)  # warm-up
    for steps, samples, batch, strength, mode in settings:
        t = time.perf_counter()
        pipe(
            brain,
            mode=mode,
            num_inference_steps=steps,
            n_samples=samples,
            batch_size=batch,
            strength=strength,
            generator=torch.Generator().manual_seed(0),
        )
        wall = time.perf_counter() - t
        run_steps = steps if mode == "embedding" else max(1, round(steps * strength))
        evals = len(brain) * samples * run_steps * 2  # classifier-free guidance doubles the batch
        rows.append(
            {
                "mode": mode,
                "steps": steps,
                "denoising_steps": run_steps,
                "samples_per_trial": samples,
                "batch": batch,
                "strength": strength,
                "wall_s": round(wall, 2),
                "s_per_image": round(wall / len(brain), 4),
                "ms_per_unet_image_eval": round(1000 * wall / evals, 3),
            }
        )
    report = json.loads((path / "training_report.json").read_text())
    out = {
        "n_trials": len(brain),
        "device": args.device,
        "torch_threads": torch.get_num_threads(),
        "decoders_s": round(fit_s, 2),
        "sampling": rows,
        "training": {
            "stages": [
                {
                    "seconds": st["seconds"],
                    "threads": st["config"]["threads"],
                    "vae_steps": st["config"]["vae_steps"],
                    "unet_steps": st["config"]["unet_steps"],
                }
                for st in report["stages"]
            ],
            "device": report.get("device", "cpu"),
        },
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
