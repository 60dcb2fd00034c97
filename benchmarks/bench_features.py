"""Feature-extraction throughput: toy CLIP on synthetic 64x64 images (prints JSON).

Measures, for ``--n`` images: rendering alone, the model forward alone (fp32 and bf16
autocast, images already in memory), and the end-to-end ``extract_features`` run that renders,
embeds and writes the resumable HDF5 file.

    python benchmarks/bench_features.py --n 10000 --threads 2
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--model", default="toy-clip")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import torch

    from neurodecode.features import extract_features, get_extractor, read_features
    from neurodecode.synth import StimulusSet

    torch.set_num_threads(args.threads)
    stimuli = StimulusSet(args.n, seed=0, image_size=64)
    ids = np.arange(args.n)
    t0 = time.perf_counter()
    images = stimuli.images(ids)
    render_s = time.perf_counter() - t0
    result: dict[str, object] = {
        "model": args.model,
        "n_images": args.n,
        "image_size": 64,
        "batch_size": args.batch_size,
        "torch_threads": torch.get_num_threads(),
        "device": args.device,
        "cpu": platform.processor() or platform.machine(),
        "render_images_per_s": round(args.n / render_s, 1),
    }
    for bf16 in (False, True):
        ex = get_extractor(args.model, device=args.device, bf16=bf16)
        ex(images[:8])  # load and warm up
        t0 = time.perf_counter()
        for start in range(0, args.n, args.batch_size):
            ex(images[start : start + args.batch_size])
        key = "forward_bf16_images_per_s" if bf16 else "forward_fp32_images_per_s"
        result[key] = round(args.n / (time.perf_counter() - t0), 1)
    for bf16 in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "feats.h5"
            ex = get_extractor(args.model, device=args.device, bf16=bf16)
            t0 = time.perf_counter()
            stats = extract_features(
                ex, ids, stimuli.images, out, batch_size=args.batch_size, progress=False
            )
            key = "end_to_end_bf16_images_per_s" if bf16 else "end_to_end_fp32_images_per_s"
            result[key] = round(args.n / (time.perf_counter() - t0), 1)
            result["dim"] = stats["dim"]
            result["rows_written"] = int(read_features(out)[0].size)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
