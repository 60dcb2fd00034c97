"""BrainSCUBA's projection: throughput against this machine's matrix-multiply floor, and memory.

Prints one JSON object. The bank (random unit embeddings, ``--bank`` rows x ``--dim``) is
written to a chunked HDF5 feature file first and streamed from it, as ``neurodecode scuba``
reads one; the voxel directions are ``--voxels`` random unit vectors.

* ``floor``: the two matrix products the projection cannot avoid, over an in-memory bank of
  the same size: cosines ``(voxels, dim) @ (dim, rows)`` and weighted sums
  ``(voxels, rows) @ (rows, dim)``, nothing else (no exponentials, no reading), in the
  fastest of several blockings (:data:`FLOOR_BLOCKS`, each reported).
* ``projection``: :func:`~neurodecode.decoders.project_onto_bank` at temperature 150 over the
  file, reading included; ``ratio`` is its time over the floor's (target <= 3).
* ``memory``: peak resident memory (VmHWM) of the projection alone, in a fresh process per
  bank size (``--memory-banks``), over the process's baseline after the imports and the
  directions: flat in the bank's size when the stream holds one chunk. Each size runs
  ``--memory-repeats`` times: the peak varies by tens of MB between identical runs (thread
  and allocator start-up), so growth shows only as a trend across sizes beyond that spread.

    python benchmarks/bench_scuba.py                      # 1,000,000 x 128, 15,724 voxels
    python benchmarks/bench_scuba.py --dim 512 --bank 200000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _vmhwm_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _vmrss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _directions(voxels: int, dim: int) -> np.ndarray:
    D = np.random.default_rng(1).standard_normal((voxels, dim), dtype=np.float32)
    return D / np.linalg.norm(D, axis=1, keepdims=True)


def write_bank(path: Path, n: int, dim: int, chunk: int) -> float:
    """A random unit-embedding bank file of ``n`` rows; returns the seconds it took."""
    from neurodecode.features import ResumableFeatureWriter

    t = time.perf_counter()
    rng = np.random.default_rng(0)
    with ResumableFeatureWriter(path, np.arange(n), dim, name="random", model="random",
                                chunk_rows=chunk) as writer:  # fmt: skip
        for a in range(0, n, chunk):
            X = rng.standard_normal((min(chunk, n - a), dim), dtype=np.float32)
            writer.write(np.arange(a, a + len(X)), X / np.linalg.norm(X, axis=1, keepdims=True))
        writer.finalize()
    return time.perf_counter() - t


def floor_seconds(D: np.ndarray, n: int, voxel_batch: int, bank_block: int) -> float:
    """The two GEMMs over ``n`` bank rows in blocks of voxel_batch x bank_block, in memory."""
    import torch

    Dt = torch.from_numpy(D)
    C = torch.from_numpy(np.random.default_rng(0).standard_normal((bank_block, D.shape[1]),
                                                                  dtype=np.float32))  # fmt: skip
    buf = torch.empty(min(voxel_batch, len(Dt)) * bank_block)
    t = time.perf_counter()
    with torch.no_grad():
        for a in range(0, n, bank_block):
            Ca = C[: min(bank_block, n - a)]
            for v in range(0, len(Dt), voxel_batch):
                Dv = Dt[v : v + voxel_batch]
                W = torch.mm(Dv, Ca.T, out=buf[: len(Dv) * len(Ca)].view(len(Dv), len(Ca)))
                _ = W @ Ca
    return time.perf_counter() - t


#: Blockings tried for the floor (voxels x bank rows); the fastest is the floor.
FLOOR_BLOCKS = ((1024, 4096), (4096, 16384), (16384, 16384))


def projection_seconds(D: np.ndarray, path: Path, voxel_batch: int) -> tuple[float, int]:
    from neurodecode.decoders import project_onto_bank
    from neurodecode.features import iter_feature_blocks

    t = time.perf_counter()
    blocks = (X for _, X in iter_feature_blocks(path))
    proj = project_onto_bank(D, blocks, voxel_batch=voxel_batch)
    return time.perf_counter() - t, proj.n_bank


def memory_child(path: str, voxels: int, dim: int, voxel_batch: int) -> None:
    """Run in a fresh process: print the projection's peak memory over the baseline."""
    import torch  # noqa: F401  (imported before the baseline is read)

    from neurodecode.decoders import project_onto_bank  # noqa: F401

    D = _directions(voxels, dim)
    base = _vmrss_mb()
    seconds, n = projection_seconds(D, Path(path), voxel_batch)
    peak = _vmhwm_mb()
    print(json.dumps({"bank": n, "baseline_mb": round(base), "peak_mb": round(peak),
                      "extra_mb": round(peak - base), "seconds": round(seconds, 1)}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bank", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--voxels", type=int, default=15_724)
    parser.add_argument("--chunk", type=int, default=16_384)
    parser.add_argument("--voxel-batch", type=int, default=1024)
    parser.add_argument(
        "--memory-banks", type=int, nargs="*", default=[100_000, 300_000, 1_000_000]
    )
    parser.add_argument(
        "--memory-repeats",
        type=int,
        default=2,
        help="fresh processes per bank size (the peak varies run to run)",
    )
    parser.add_argument("--memory-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        p, v, d, b = args.memory_child
        memory_child(p, int(v), int(d), int(b))
        return
    import torch

    tmp = Path(os.environ.get("BENCH_TMP") or tempfile.mkdtemp(prefix="bench_scuba_"))
    tmp.mkdir(parents=True, exist_ok=True)
    D = _directions(args.voxels, args.dim)
    sizes = sorted({args.bank, *args.memory_banks})
    paths, write_s = {}, {}
    for n in sizes:
        paths[n] = tmp / f"bank_{n}x{args.dim}.h5"
        if not paths[n].exists():
            write_s[n] = round(write_bank(paths[n], n, args.dim, args.chunk), 1)
    floors = {f"{v}x{b}": floor_seconds(D, args.bank, v, b) for v, b in FLOOR_BLOCKS}
    floor = min(floors.values())
    ours, n_read = projection_seconds(D, paths[args.bank], args.voxel_batch)
    assert n_read == args.bank
    memory = []
    for n in [n for n in args.memory_banks for _ in range(args.memory_repeats)]:
        child = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(paths[n]), str(args.voxels),
             str(args.dim), str(args.voxel_batch)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        memory.append(json.loads(child.stdout.strip().splitlines()[-1]))
    flops = 4.0 * args.voxels * args.bank * args.dim  # two GEMMs, 2 flops per multiply-add
    print(json.dumps({
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "load_avg_1m": os.getloadavg()[0]},
        "shape": {"bank": args.bank, "dim": args.dim, "voxels": args.voxels,
                  "chunk": args.chunk, "voxel_batch": args.voxel_batch},
        "write_bank_s": write_s,
        "floor_s": round(floor, 2),
        "floor_s_by_block": {k: round(v, 2) for k, v in floors.items()},
        "floor_gflops": round(flops / floor / 1e9, 1),
        "projection_s": round(ours, 2), "ratio": round(ours / floor, 2),
        "bank_per_second": round(args.bank / ours),
        "memory": memory,
        "command": "python benchmarks/bench_scuba.py " + " ".join(sys.argv[1:]),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
