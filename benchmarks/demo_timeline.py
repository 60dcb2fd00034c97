"""Job timeline of a Snakemake run from its log: start/end of every job and the peak of threads
running at once; prints one JSON object.

Usage: ``python benchmarks/demo_timeline.py LOG [--cores N]``. Snakemake logs a job's start
(a timestamp line, then ``rule NAME:`` or ``localrule NAME:`` with its ``jobid`` and, when more
than one, its ``threads``) and its end (a timestamp, then ``Finished jobid: N``). Timestamps
have a one-second resolution, so a job ending and another starting in the same second count as
one after the other.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime
from pathlib import Path

_STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")


def parse(text: str) -> list[dict]:
    jobs: dict[int, dict] = {}
    lines = text.splitlines()
    when = None
    i = 0
    while i < len(lines):
        line = lines[i]
        stamp = _STAMP.match(line.strip())
        if stamp:
            when = datetime.strptime(" ".join(stamp.group(1).split()), "%a %b %d %H:%M:%S %Y")
        m = re.match(r"^(?:local)?rule (\w+):$", line)
        if m and when is not None:
            job = {"rule": m.group(1), "start": when, "threads": 1}
            j = i + 1
            while j < len(lines) and lines[j].startswith("    "):
                key, _, value = lines[j].strip().partition(": ")
                if key == "jobid":
                    job["jobid"] = int(value)
                elif key == "threads":
                    job["threads"] = int(value)
                j += 1
            if "jobid" in job:
                jobs[job["jobid"]] = job
        f = re.match(r"^Finished jobid: (\d+)", line)
        if f and when is not None and int(f.group(1)) in jobs:
            jobs[int(f.group(1))]["end"] = when
        i += 1
    return [j for j in jobs.values() if "end" in j]


def peak(jobs: list[dict], key: str) -> int:
    events = []
    for j in jobs:
        weight = j["threads"] if key == "threads" else 1
        events += [(j["start"], 1, weight), (j["end"], 0, -weight)]  # ends sort first
    now = best = 0
    for _, _, delta in sorted(events):
        now += delta
        best = max(best, now)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--cores", type=int, default=None)
    args = parser.parse_args()
    jobs = parse(args.log.read_text())
    t0 = min(j["start"] for j in jobs)
    out = {
        "log": str(args.log),
        "jobs": [
            {
                "rule": j["rule"],
                "jobid": j["jobid"],
                "threads": j["threads"],
                "start_s": (j["start"] - t0).total_seconds(),
                "end_s": (j["end"] - t0).total_seconds(),
            }
            for j in sorted(jobs, key=lambda j: (j["start"], j["jobid"]))
        ],
        "peak_threads_running": peak(jobs, "threads"),
        "peak_jobs_running": peak(jobs, "jobs"),
        "cores": args.cores,
    }
    print(json.dumps(out, indent=1))
    if args.cores is not None and out["peak_threads_running"] > args.cores:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
