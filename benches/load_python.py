#!/usr/bin/env python3
"""Load time and peak memory of `pqc info FILE` against Python Polars'
`pl.read_csv(FILE, try_parse_dates=True)` on the same file, in one run.

Each is a whole process, run RUNS times, alternating, so both see the same
page cache and the same load on the machine; wall is the median, peak memory
the largest resident set (`wait4`'s ru_maxrss) of the runs.

    python3 benches/load_python.py target/release/pqc big.csv [RUNS]

Needs `polars` importable by this Python (a virtual environment with
`pip install polars`).
"""

import json
import os
import statistics
import subprocess
import sys
import time


def run(argv):
    """Wall seconds, CPU seconds and peak resident MiB of one process."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        sys.exit(f"{argv[0]} failed with status {status}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def main():
    pqc, path = sys.argv[1], sys.argv[2]
    load = os.getloadavg()[0]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    polars = [
        sys.executable,
        "-c",
        "import sys, polars as pl; "
        "df = pl.read_csv(sys.argv[1], try_parse_dates=True); "
        "print(df.estimated_size())",
        path,
    ]
    info = [pqc, "info", "--format", "json", path]
    results = {"pqc info": [], "polars read_csv": []}
    details = None
    for _ in range(runs):
        wall, cpu, rss, out = run(info)
        results["pqc info"].append((wall, cpu, rss))
        details = json.loads(out)
        wall, cpu, rss, out = run(polars)
        results["polars read_csv"].append((wall, cpu, rss))
        polars_frame = int(out)
    frame_mib = details["memory_bytes"] / 2**20
    print(f"load average before the run: {load:.2f}")
    print(f"file: {path} ({os.path.getsize(path) / 2**20:.0f} MiB, {details['rows']} rows), {runs} runs each")
    print(f"loaded frame: pqc {frame_mib:.0f} MiB, polars {polars_frame / 2**20:.0f} MiB")
    print(f"{'':18} {'wall (median)':>14} {'cpu (median)':>13} {'peak memory':>12} {'peak / frame':>13}")
    for name, samples in results.items():
        wall = statistics.median(w for w, _, _ in samples)
        cpu = statistics.median(c for _, c, _ in samples)
        peak = max(r for _, _, r in samples)
        frame = frame_mib if name == "pqc info" else polars_frame / 2**20
        print(f"{name:18} {wall:>12.2f} s {cpu:>11.2f} s {peak:>8.0f} MiB {peak / frame:>12.2f}x")
    print("pqc load breakdown (last run):", json.dumps(details.get("load_breakdown_ms")))


if __name__ == "__main__":
    main()
