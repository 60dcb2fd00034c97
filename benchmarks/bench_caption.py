"""Brain captioning's decoder: one multi-output ridge vs one ridge per vision token.

Prints one JSON object with up to three parts:

* ``equal``: on the same random data (voxels -> 197 tokens x ``--dims``), the multi-output
  :class:`~neurodecode.decoders.RidgeDecoder` (one decomposition of the voxel matrix shared by
  every output) against one :class:`~neurodecode.encoders.RidgeEncoder` per token (what the
  published code does, 197 times): max |delta| of the test predictions and the speed-up. Both
  use the same alphas and the same 5 folds, so their predictions must agree to float error.
* ``real``: time and peak resident memory (VmHWM) of one fit at GIT-base size, 197 x 768 =
  151,296 outputs, 15,724 voxels, 9,000 training samples, random data; the targets are written
  to an HDF5 file first and streamed from it in column chunks (as a feature file would be), so
  the peak is the fit's. ``--n-components`` sets the target reduction (see RidgeDecoder).
* ``pca``: what the reduction costs: on a smaller random problem with a low-rank signal, the
  test R^2 and correlation of reduced solves against the exact one.

    python benchmarks/bench_caption.py --parts equal,pca
    python benchmarks/bench_caption.py --parts real --n-components 512
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

N_TOKENS = 197


def _vmhwm_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def make_data(n: int, p: int, q: int, rank: int, seed: int = 0):
    """Voxels X (n, p) and targets Y (n, q) = X B + noise with a rank-``rank`` map B."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p), dtype=np.float32)
    B = rng.standard_normal((p, rank), dtype=np.float32) @ rng.standard_normal(
        (rank, q), dtype=np.float32
    )
    B *= np.float32(1.0 / np.sqrt(p * rank))  # signal variance 1 per output, as the noise
    Y = X @ B + rng.standard_normal((n, q), dtype=np.float32)
    return X, Y


def part_equal(n: int, p: int, dims: int, n_test: int) -> dict:
    from neurodecode.decoders import RidgeDecoder
    from neurodecode.encoders import RidgeEncoder

    X, Y = make_data(n + n_test, p, N_TOKENS * dims, rank=20)
    Xtr, Ytr, Xte = X[:n], Y[:n], X[n:]
    t0 = time.perf_counter()
    joint = RidgeDecoder().fit(Xtr, Ytr).predict_raw(Xte)
    t_joint = time.perf_counter() - t0
    t0 = time.perf_counter()
    per = np.concatenate(
        [
            RidgeEncoder().fit(Xtr, Ytr[:, k * dims : (k + 1) * dims]).predict(Xte)
            for k in range(N_TOKENS)
        ],
        axis=1,
    )
    t_per = time.perf_counter() - t0
    return {
        "shape": {"n_train": n, "n_test": n_test, "voxels": p, "tokens": N_TOKENS, "dims": dims},
        "multi_output_s": round(t_joint, 2),
        "per_token_s": round(t_per, 2),
        "speedup": round(t_per / t_joint, 1),
        "max_abs_delta": float(np.max(np.abs(joint - per))),
        "max_abs_prediction": float(np.max(np.abs(per))),
    }


def part_pca(n: int, p: int, q: int, n_test: int, components: list[int]) -> dict:
    from neurodecode.decoders import RidgeDecoder
    from neurodecode.metrics import pearson_r_voxels, r2_score_voxels

    X, Y = make_data(n + n_test, p, q, rank=40, seed=1)
    Xtr, Ytr, Xte, Yte = X[:n], Y[:n], X[n:], Y[n:]
    t0 = time.perf_counter()
    exact = RidgeDecoder().fit(Xtr, Ytr)
    rows = [{"n_components": None, "seconds": round(time.perf_counter() - t0, 2)}]
    preds = [exact.predict_raw(Xte)]
    for k in components:
        t0 = time.perf_counter()
        dec = RidgeDecoder(n_components=k).fit(Xtr, Ytr)
        seconds = round(time.perf_counter() - t0, 2)
        kept = round(dec.explained_variance_ratio_, 4)
        rows.append({"n_components": k, "seconds": seconds, "explained_variance_ratio": kept})
        preds.append(dec.predict_raw(Xte))
    for row, pred in zip(rows, preds, strict=True):
        row["test_r2_mean"] = round(float(np.mean(r2_score_voxels(Yte, pred))), 4)
        row["test_r_mean"] = round(float(np.nanmean(pearson_r_voxels(Yte, pred))), 4)
        row["r_with_exact"] = round(float(np.corrcoef(pred.ravel(), preds[0].ravel())[0, 1]), 4)
    return {"shape": {"n_train": n, "n_test": n_test, "voxels": p, "outputs": q,
                      "signal_rank": 40}, "solves": rows}  # fmt: skip


def _real_child(n: int, p: int, q: int, k: int | None, chunk: int, targets: str) -> dict:
    import h5py

    from neurodecode.decoders import RidgeDecoder

    rng = np.random.default_rng(2)
    X = rng.standard_normal((n, p), dtype=np.float32)
    baseline = _vmhwm_mb()
    t0 = time.perf_counter()
    with h5py.File(targets, "r") as fh:
        dec = RidgeDecoder(n_components=k, chunk_size=chunk).fit(X, fh["features"])
    wall = time.perf_counter() - t0
    pred = dec.predict_raw(X[:8])
    return {"wall_s": round(wall, 1), "peak_mb": round(_vmhwm_mb()), "baseline_mb": round(baseline),
            "n_components": k, "chunk_size": chunk, "form": dec.ridge_.form_,
            "explained_variance_ratio": round(dec.explained_variance_ratio_, 4),
            "prediction_shape": list(pred.shape)}  # fmt: skip


def part_real(n: int, p: int, dims: int, k: int | None, chunk: int) -> dict:
    import h5py

    q = N_TOKENS * dims
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        targets = str(Path(tmp) / "targets.h5")
        rng = np.random.default_rng(3)
        t0 = time.perf_counter()
        with h5py.File(targets, "w") as fh:
            ds = fh.create_dataset("features", (n, q), dtype="f4", chunks=(n, min(q, 1024)))
            for start in range(0, q, 8192):
                stop = min(q, start + 8192)
                ds[:, start:stop] = rng.standard_normal((n, stop - start), dtype=np.float32)
        write_s = time.perf_counter() - t0
        args = json.dumps([n, p, q, k, chunk, targets])
        code = ("import json,sys; from bench_caption import _real_child; "
                f"print(json.dumps(_real_child(*json.loads({args!r}))))")  # fmt: skip
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              cwd=Path(__file__).parent, check=True)  # fmt: skip
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return {"shape": {"n_train": n, "voxels": p, "tokens": N_TOKENS, "dims": dims, "outputs": q},
            "targets_file_gb": round(n * q * 4 / 1e9, 2), "write_targets_s": round(write_s, 1),
            **out}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="equal,pca", help="comma list of equal, pca, real")
    ap.add_argument("--n-components", type=int, default=512, help="real part (0: exact)")
    ap.add_argument("--chunk-size", type=int, default=8192)
    ap.add_argument("--quick", action="store_true", help="small shapes (smoke run)")
    args = ap.parse_args()
    parts = args.parts.split(",")
    out: dict = {"machine": {"cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]}}
    if "equal" in parts:
        shape = (300, 400, 4, 100) if args.quick else (1000, 1500, 8, 300)
        out["equal"] = part_equal(*shape)
    if "pca" in parts:
        shape = (300, 200, 500, 100, [16, 64]) if args.quick else (2000, 1500, 8192, 500,
                                                                    [64, 256, 512])  # fmt: skip
        out["pca"] = part_pca(*shape)
    if "real" in parts:
        shape = (600, 2000, 64) if args.quick else (9000, 15724, 768)
        out["real"] = part_real(*shape, args.n_components or None, args.chunk_size)
    out["command"] = "python benchmarks/bench_caption.py " + " ".join(sys.argv[1:])
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
