"""Voxelwise ridge with per-voxel alphas: neurodecode vs himalaya vs scikit-learn.

Prints JSON. Every method sees the same data (seeded), the same alpha grid and, where the
library allows it, the same 5 folds (scikit-learn's per-target RidgeCV only offers
leave-one-out/GCV, so it runs GCV). Each method runs in its own subprocess so that its peak
resident memory (VmHWM) is its own; ``baseline_mb`` is the memory after the data were made.

    python benchmarks/bench_ridge.py                      # both issue shapes + 200k streamed
    python benchmarks/bench_ridge.py --shapes 9000x512x15724 --methods neurodecode,sklearn
    python benchmarks/bench_ridge.py --quick              # small smoke run
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

N_TEST = 1000
N_ALPHAS = 10
N_FOLDS = 5
METHODS = ("neurodecode", "himalaya-numpy", "himalaya-torch", "sklearn-gcv")


def make_data(n_train: int, p: int, v: int, seed: int = 0):
    """Linear-Gaussian responses with voxel-specific SNR (a third of voxels pure noise)."""
    rng = np.random.default_rng(seed)
    n = n_train + N_TEST
    X = rng.standard_normal((n, p), dtype=np.float32)
    W = rng.standard_normal((p, v), dtype=np.float32)
    W *= (rng.uniform(0.0, 0.1, v) * (rng.random(v) > 1 / 3)).astype(np.float32)
    Y = X @ W
    Y += rng.standard_normal((n, v), dtype=np.float32)
    X -= X[:n_train].mean(axis=0)
    Y -= Y[:n_train].mean(axis=0)
    return X[:n_train], Y[:n_train], X[n_train:], Y[n_train:]


def _vmhwm_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_one(method: str, n_train: int, p: int, v: int, out: Path) -> dict:
    from sklearn.model_selection import KFold

    from neurodecode.metrics import r2_score_voxels

    X, Y, Xt, Yt = make_data(n_train, p, v)
    baseline = _vmhwm_mb()
    alphas = np.logspace(-1, 4, N_ALPHAS)
    cv = KFold(N_FOLDS)
    start = time.perf_counter()
    if method == "neurodecode":
        from neurodecode.encoders import RidgeEncoder

        model = RidgeEncoder(alphas=alphas, n_splits=N_FOLDS, fit_intercept=False).fit(X, Y)
    elif method.startswith("himalaya"):
        import himalaya.backend
        from himalaya.ridge import RidgeCV

        himalaya.backend.set_backend("numpy" if method.endswith("numpy") else "torch")
        model = RidgeCV(alphas=alphas, cv=cv, fit_intercept=False).fit(X, Y)
    elif method == "sklearn-gcv":
        from sklearn.linear_model import RidgeCV as SkRidgeCV

        model = SkRidgeCV(alphas=alphas, alpha_per_target=True, fit_intercept=False).fit(X, Y)
    else:
        raise ValueError(method)
    wall = time.perf_counter() - start
    pred = np.asarray(model.predict(Xt), dtype=np.float32)
    r2 = r2_score_voxels(Yt, pred)
    np.save(out, r2.astype(np.float32))
    return {"wall_s": round(wall, 2), "peak_mb": round(_vmhwm_mb(), 0), "baseline_mb": baseline}


def run_streamed(n_train: int, p: int, v: int, chunk: int) -> dict:
    """Fit on an on-disk (HDF5) response matrix far larger than a voxel chunk."""
    from neurodecode.encoders import RidgeEncoder

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_train, p), dtype=np.float32)
    import h5py

    # The responses live in an HDF5 file, as in the prepared cache, read chunk by chunk: the
    # process's resident memory is then the fit's own, not page cache of a memory map.
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        path = Path(tmp) / "betas.h5"
        with h5py.File(path, "w") as fh:
            Y = fh.create_dataset("betas", shape=(n_train, v), dtype=np.float32,
                                  chunks=(n_train, min(256, v)))  # fmt: skip
            for start in range(0, v, chunk):
                stop = min(start + chunk, v)
                W = rng.standard_normal((p, stop - start), dtype=np.float32) * 0.05
                noise = rng.standard_normal((n_train, stop - start), np.float32)
                Y[:, start:stop] = X @ W + noise
        baseline = _vmhwm_mb()
        with h5py.File(path, "r") as fh:
            t0 = time.perf_counter()
            model = RidgeEncoder(alphas=np.logspace(-1, 4, N_ALPHAS), chunk_size=chunk).fit(
                X, fh["betas"]
            )
            wall = time.perf_counter() - t0
        size_gb = path.stat().st_size / 1e9
    return {
        "n_train": n_train,
        "p": p,
        "voxels": v,
        "chunk_size": chunk,
        "betas_file_gb": round(size_gb, 2),
        "wall_s": round(wall, 1),
        "peak_mb": round(_vmhwm_mb(), 0),
        "baseline_mb": round(baseline, 0),
        "coef_mb": round(model.coef_.nbytes / 2**20, 0),
    }


def _child(args) -> None:
    if args.streamed:
        n, p, v = map(int, args.shape.split("x"))
        print(json.dumps(run_streamed(n, p, v, args.chunk)))
    else:
        n, p, v = map(int, args.shape.split("x"))
        print(json.dumps(run_one(args.child, n, p, v, Path(args.r2_out))))


def _spawn(extra: list[str]) -> dict:
    cmd = [sys.executable, __file__, *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="9000x512x15724,27000x768x15724")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--streamed-shape", default="9000x512x200000")
    parser.add_argument("--no-streamed", action="store_true")
    parser.add_argument("--quick", action="store_true", help="small shapes for a smoke run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--streamed", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--shape", help=argparse.SUPPRESS)
    parser.add_argument("--r2-out", help=argparse.SUPPRESS)
    parser.add_argument("--chunk", type=int, default=8192, help="voxels per chunk (streamed)")
    args = parser.parse_args()
    if args.child or args.streamed:
        _child(args)
        return
    if args.quick:
        args.shapes, args.streamed_shape = "1500x64x2000", "1500x64x20000"
    report: dict = {
        "machine": {"cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]},
        "protocol": {
            "alphas": f"logspace(-1, 4, {N_ALPHAS})",
            "folds": f"KFold({N_FOLDS}) for neurodecode and himalaya; GCV for sklearn",
            "n_test": N_TEST,
            "fit_intercept": False,
        },
        "shapes": [],
    }
    methods = args.methods.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        for shape in args.shapes.split(","):
            entry: dict = {"shape": shape, "methods": {}}
            r2s = {}
            for method in methods:
                out = Path(tmp) / f"{method}-{shape}.npy"
                entry["methods"][method] = _spawn(
                    ["--child", method, "--shape", shape, "--r2-out", str(out)]
                )
                if out.exists():
                    r2s[method] = np.load(out)
            ref = r2s.get("himalaya-numpy", r2s.get("himalaya-torch"))
            for method, r2 in r2s.items():
                if ref is not None:
                    diff = np.abs(r2 - ref)
                    entry["methods"][method]["median_abs_dR2_vs_himalaya"] = float(np.median(diff))
                    entry["methods"][method]["max_abs_dR2_vs_himalaya"] = float(np.max(diff))
                entry["methods"][method]["median_test_r2"] = float(np.median(r2))
            report["shapes"].append(entry)
            print(json.dumps(entry), file=sys.stderr, flush=True)
    if not args.no_streamed:
        report["streamed"] = _spawn(["--streamed", "--shape", args.streamed_shape])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
