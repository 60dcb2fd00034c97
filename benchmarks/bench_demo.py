"""Wall time and peak memory of ``neurodecode demo`` on this machine; prints one JSON object.

Usage: ``python benchmarks/bench_demo.py [--out bench_out/demo] [--cores N] [--preset demo]``.
The output folder is emptied first so that the whole demo runs. Peak memory is the largest
resident set of any single process of the run (``RUSAGE_CHILDREN`` max RSS), which is what
decides whether the demo fits a machine; the per-stage figures come from the sidecars.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench_out/demo"))
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument("--preset", default="demo")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    cmd = [sys.executable, "-m", "neurodecode.cli", "demo", "--out", str(args.out),
           "--cores", str(args.cores), "--preset", args.preset]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(cmd, check=False)
    wall = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    stages: dict[str, dict[str, float]] = {}
    seen: set[str] = set()
    for sidecar in sorted(args.out.rglob("*.json")):
        try:
            record = json.loads(sidecar.read_text())
        except (ValueError, OSError):
            continue
        if not isinstance(record, dict) or "stage" not in record:
            continue
        # every output of one run has the same record: count each run once
        key = json.dumps([record["stage"], record.get("config"), record.get("wall_time_s")])
        if key in seen:
            continue
        seen.add(key)
        s = stages.setdefault(record["stage"], {"n": 0, "wall_time_s": 0.0, "peak_memory_mb": 0.0})
        s["n"] += 1
        s["wall_time_s"] = round(s["wall_time_s"] + record.get("wall_time_s", 0.0), 2)
        s["peak_memory_mb"] = max(s["peak_memory_mb"], record.get("peak_memory_mb", 0.0))
    print(json.dumps({
        "benchmark": "neurodecode demo",
        "preset": args.preset,
        "cores": args.cores,
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
        "exit_status": proc.returncode,
        "wall_time_s": round(wall, 1),
        "peak_rss_mib": round(peak_mib, 1),
        "stages": stages,
        "reports": sorted(str(p) for p in args.out.glob("sub-*.html")),
        "timeline": _timeline(args.out, args.cores),
    }, indent=2))  # fmt: skip
    return proc.returncode


def _timeline(out: Path, cores: int) -> dict:
    """Peak threads and jobs running at once, from the run's Snakemake log."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from demo_timeline import parse, peak

    logs = sorted((out / ".snakemake" / "log").glob("*.snakemake.log"))
    if not logs:
        return {}
    jobs = parse(logs[-1].read_text())
    rules: dict[str, list[float]] = {}
    t0 = min(j["start"] for j in jobs)
    for j in jobs:
        rules.setdefault(j["rule"], []).append((j["end"] - j["start"]).total_seconds())
    return {
        "log": str(logs[-1]),
        "cores": cores,
        "peak_threads_running": peak(jobs, "threads"),
        "peak_jobs_running": peak(jobs, "jobs"),
        "span_s": max((j["end"] - t0).total_seconds() for j in jobs),
        "job_seconds_per_rule": {r: [round(s, 1) for s in v] for r, v in rules.items()},
    }


if __name__ == "__main__":
    sys.exit(main())
