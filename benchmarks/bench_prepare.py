"""Benchmark ``prepare`` against h5py and nibabel reads of the same NSD-layout session betas.

Writes an NSD-layout subject (full size by default: 81x104x83 grid, 4 sessions x 750 trials,
int16 betas inside an ellipsoidal brain mask, a 15,724-voxel posterior "nsdgeneral") into a
temporary folder with h5py/nibabel/isal, then runs each method in its own subprocess and prints
JSON: seconds, MB/s of session betas (int16 bytes of the whole 4-D arrays) and the subprocess's
peak resident memory (VmHWM). Files are freshly written, so reads come from the page cache.

    python benchmarks/bench_prepare.py            # full size (~9 GB of temporary files)
    python benchmarks/bench_prepare.py --quick    # small smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from neurodecode.data import _nsd_layout as nsd

SUBJECT = "subj01"


def write_subject(root: Path, grid, n_sessions: int, n_trials: int, n_roi: int, seed=0) -> None:
    import h5py
    import nibabel as nib
    import scipy.io
    from isal import igzip

    rng = np.random.default_rng(seed)
    affine = np.diag([1.8, 1.8, 1.8, 1.0])
    c = np.indices(grid).reshape(3, -1).T.astype(float)
    centre, radii = np.asarray(grid) / 2, np.asarray(grid) * 0.42
    brain = (((c - centre) / radii) ** 2).sum(1).reshape(grid) <= 1
    posterior = np.array([grid[0] / 2, grid[1] * 0.2, grid[2] * 0.45])
    dist = np.where(brain.ravel(), np.linalg.norm(c - posterior, axis=1), np.inf)
    general = np.full(grid, -1, np.int16)
    general[brain] = 0
    general.ravel()[np.argsort(dist)[:n_roi]] = 1
    for rel, vol in ((nsd.brainmask_path(SUBJECT), brain), (nsd.roi_path(SUBJECT, "nsdgeneral"),
                                                            general)):  # fmt: skip
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(vol.astype(np.float32), affine), root / rel)
    n_images = n_sessions * n_trials // 3
    master = np.concatenate([rng.permutation(n_images) + 1 for _ in range(3)])
    (root / nsd.expdesign_path()).parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(root / nsd.expdesign_path(), {
        "masterordering": master[None], "subjectim": np.tile(np.arange(1, n_images + 1), (8, 1)),
        "sharedix": np.arange(1, max(1, n_images // 10) + 1)})  # fmt: skip
    ijk = np.argwhere(brain)
    for s in range(1, n_sessions + 1):
        vals = rng.normal(0, 600, (n_trials, len(ijk))).astype(np.int16)
        tzyx = np.zeros((n_trials, *grid[::-1]), np.int16)
        tzyx[:, ijk[:, 2], ijk[:, 1], ijk[:, 0]] = vals
        h5 = root / nsd.session_betas_path(SUBJECT, s, "hdf5")
        h5.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(h5, "w") as fh:  # MATLAB's layout: one chunk per voxel
            fh.create_dataset("betas", data=tzyx, chunks=(n_trials, 1, 1, 1))
        img = nib.Nifti1Image(tzyx.T, affine)  # (X, Y, Z, T) view, Fortran-contiguous
        raw = root / "tmp.nii"
        nib.save(img, raw)
        del tzyx, img
        gz = root / nsd.session_betas_path(SUBJECT, s, "nii.gz")
        with open(raw, "rb") as src, igzip.open(gz, "wb", compresslevel=1) as dst:
            shutil.copyfileobj(src, dst, 1 << 22)
        raw.unlink()


# Each method runs in a fresh interpreter: `python bench_prepare.py --method NAME ROOT OUT`.
def _sessions(root: Path, fmt: str) -> list[Path]:
    return sorted((root / nsd.betas_dir(SUBJECT)).glob(f"betas_session*.{fmt}"))


def _ijk(root: Path) -> np.ndarray:
    import nibabel as nib

    return np.argwhere(np.asarray(nib.load(root / nsd.roi_path(SUBJECT, "nsdgeneral")).dataobj) > 0)


def run_method(name: str, root: Path, out: Path) -> None:
    import h5py
    import nibabel as nib

    from neurodecode.data._fastio import read_masked_betas
    from neurodecode.data._prepare import PrepareConfig, prepare_subject

    ijk = _ijk(root)
    i, j, k = ijk.T
    t0 = time.perf_counter()
    if name.startswith("prepare_"):
        fmt = "hdf5" if name == "prepare_hdf5" else "nii.gz"
        prepare_subject(PrepareConfig("nsd", root, SUBJECT, out / name, fmt=fmt))
    elif name.startswith("fastio_"):
        for p in _sessions(root, "hdf5" if name == "fastio_hdf5" else "nii.gz"):
            read_masked_betas(p, ijk).astype(np.float32)
    elif name == "h5py_whole":
        for p in _sessions(root, "hdf5"):
            with h5py.File(p) as fh:
                fh["betas"][()][:, k, j, i].astype(np.float32)
    elif name == "h5py_masked_slabs":
        for p in _sessions(root, "hdf5"):
            with h5py.File(p) as fh:
                ds = fh["betas"]
                res = np.empty((ds.shape[0], len(ijk)), np.float32)
                for z in np.unique(k):
                    sel = np.flatnonzero(k == z)
                    res[:, sel] = ds[:, z][:, j[sel], i[sel]]
    elif name == "nibabel_get_fdata":
        for p in _sessions(root, "nii.gz"):
            nib.load(p).get_fdata()[i, j, k].T.astype(np.float32)
    else:
        raise SystemExit(f"unknown method {name}")
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "peak_rss_mb": _peak_rss_mb()}))


def _peak_rss_mb() -> float:
    """This process's high-water RSS. ru_maxrss is not used: Linux carries it over from the
    parent through fork+exec, so every child would report the parent's peak."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


METHODS = ("prepare_hdf5", "prepare_nii.gz", "fastio_hdf5", "fastio_nii.gz", "h5py_whole",
           "h5py_masked_slabs", "nibabel_get_fdata")  # fmt: skip


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    ap.add_argument("--method", nargs=3, metavar=("NAME", "ROOT", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--workdir", type=Path, default=None, help="where to write the test subject")
    args = ap.parse_args(argv)
    if args.method:
        run_method(args.method[0], Path(args.method[1]), Path(args.method[2]))
        return 0
    if args.quick:
        grid, sessions, trials, n_roi = (30, 36, 28), 2, 60, 800
    else:
        grid, sessions, trials, n_roi = (81, 104, 83), 4, 750, 15724
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="bench_prepare_") as tmp:
        root, out = Path(tmp) / "nsd", Path(tmp) / "out"
        t0 = time.perf_counter()
        write_subject(root, grid, sessions, trials, n_roi)
        write_s = time.perf_counter() - t0
        session_mb = trials * int(np.prod(grid)) * 2 / 1e6
        results = {}
        for name in METHODS:
            cmd = [sys.executable, __file__, "--method", name, str(root), str(out)]
            res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True)
                             .stdout.strip().splitlines()[-1])  # fmt: skip
            res["MB_per_s"] = round(sessions * session_mb / res["seconds"], 1)
            res["seconds_per_session"] = round(res["seconds"] / sessions, 3)
            results[name] = {k: round(v, 3) for k, v in res.items()}
        hdf5_bytes = sum(p.stat().st_size for p in _sessions(root, "hdf5"))
        gz_bytes = sum(p.stat().st_size for p in _sessions(root, "nii.gz"))

    slabs = "h5py_masked_slabs"

    def ratio(a, b, key):
        return round(results[b][key] / results[a][key], 2)

    print(json.dumps({
        "config": {"grid": grid, "sessions": sessions, "trials_per_session": trials,
                   "roi_voxels": n_roi, "session_MB_int16": round(session_mb, 1),
                   "hdf5_MB_on_disk": round(hdf5_bytes / 1e6, 1),
                   "niigz_MB_on_disk": round(gz_bytes / 1e6, 1),
                   "write_seconds": round(write_s, 1)},
        "machine": {"cpus": os.cpu_count(), "loadavg_after": os.getloadavg(),
                    "note": "shared machine; page cache warm (files just written)"},
        "methods": results,
        "speedup": {
            "prepare_hdf5_vs_h5py_masked_slabs": ratio("prepare_hdf5", slabs, "seconds"),
            "fastio_hdf5_vs_h5py_masked_slabs": ratio("fastio_hdf5", slabs, "seconds"),
            "prepare_niigz_vs_nibabel_get_fdata": ratio("prepare_nii.gz", "nibabel_get_fdata",
                                                        "seconds"),
            "fastio_niigz_vs_nibabel_get_fdata": ratio("fastio_nii.gz", "nibabel_get_fdata",
                                                       "seconds"),
            "nibabel_peak_over_prepare_niigz_peak": ratio("prepare_nii.gz", "nibabel_get_fdata",
                                                          "peak_rss_mb"),
        },
    }, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
