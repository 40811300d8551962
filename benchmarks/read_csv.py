#!/usr/bin/env python3
"""Reading a large CSV: emgmm's text reader against pandas.read_csv, time and peak memory.

    python benchmarks/read_csv.py                        # 1,000,000 x 16, 5 repeats
    python benchmarks/read_csv.py --rows 200000 --cols 8 --repeats 7

Not part of the test suite.  Writes a CSV of normal random numbers (header row, "%.10g",
about 210 MB at the default size) into a temporary folder, then measures, interleaved
(the machine may be busy: every case runs once per round, and the minimum over the
rounds is reported):

- pandas   pandas.read_csv(path, dtype=float64)
- read     emgmm_cli.io.read_points(path): the in-memory read
- stdin    read_points("-", stdin=<the file opened as a stream>): the chunked reader
- cache    emgmm_cli.io.cache.open_points(path, memory_limit=<half the file>): the
           conversion to the out-of-core .npy cache (a fresh cache folder each time)

Each measurement runs in a fresh subprocess that imports numpy, pandas and emgmm first,
so no case pays an import the other does not.  Time and memory are measured in separate
runs, so that the memory sampler does not take a core from pandas' parser threads.
Peak memory is that subprocess's ru_maxrss (VmHWM) less its resident size just before
the call, and, sampled every 2 ms by a thread, the peak of its anonymous memory
(RssAnon) over that before the call: what
the process itself allocated, without the pages of a memory-mapped file (pandas maps the
file it reads) that the kernel can drop and that other processes share.  Both are given
as multiples of the float64 result (rows x cols x 8 bytes).

Targets: read/pandas time at most 1.2; peak memory of read at most 2x the result.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CASES = ("pandas", "read", "stdin", "cache")

CHILD = r"""
import json, os, sys, threading, time
sys.path.insert(0, sys.argv[1])
import numpy as np
import pandas as pd
from emgmm_cli.io import read_points
from emgmm_cli.io.cache import open_points

def status():
    with open("/proc/self/status") as fh:
        return {k: int(v.split()[0]) * 1024 for k, v in (l.split(":", 1) for l in fh)
                if k in ("VmHWM", "VmRSS", "RssAnon")}

case, path, scratch, sampled = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] == "1"
peak_anon = [0]
running = [sampled]

def sample():
    while running[0]:
        peak_anon[0] = max(peak_anon[0], status()["RssAnon"])
        time.sleep(0.002)

before = status()
peak_anon[0] = before["RssAnon"]
watcher = threading.Thread(target=sample, daemon=True)
if sampled:
    watcher.start()
t0 = time.perf_counter()
if case == "pandas":
    shape = pd.read_csv(path, dtype=np.float64).shape
elif case == "read":
    shape = read_points(path).x.shape
elif case == "stdin":
    with open(path, "rb") as fh:
        shape = read_points("-", stdin=fh).x.shape
else:
    limit = os.path.getsize(path) // 2
    shape = open_points(path, memory_limit=limit, cache_dir=scratch).x.shape
seconds = time.perf_counter() - t0
running[0] = False
if sampled:
    watcher.join()
after = status()
print(json.dumps({"seconds": seconds, "shape": list(shape),
                  "rss": after["VmHWM"] - before["VmRSS"],
                  "anon": max(peak_anon[0], after["RssAnon"]) - before["RssAnon"]}))
"""


def write_csv(path: str, rows: int, cols: int) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    header = ",".join(f"x{j}" for j in range(cols))
    with open(path, "w", encoding="ascii") as fh:
        fh.write(header + "\n")
        for start in range(0, rows, 100_000):
            block = rng.normal(size=(min(100_000, rows - start), cols))
            np.savetxt(fh, block, delimiter=",", fmt="%.10g")


def measure(case: str, path: str, scratch: str, sampled: bool) -> dict[str, float]:
    cache = tempfile.mkdtemp(dir=scratch)
    proc = subprocess.run([sys.executable, "-c", CHILD, ROOT, case, path, cache,
                           "1" if sampled else "0"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{case} failed:\n{proc.stderr}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="emgmm-read-bench-") as scratch:
        path = os.path.join(scratch, "data.csv")
        t0 = time.perf_counter()
        write_csv(path, args.rows, args.cols)
        size = os.path.getsize(path)
        print(f"{args.rows:,} x {args.cols} CSV, {size / 1e6:.0f} MB, written in "
              f"{time.perf_counter() - t0:.1f} s; {args.repeats} interleaved rounds")
        timed: dict[str, list[dict[str, float]]] = {case: [] for case in CASES}
        sampled: dict[str, list[dict[str, float]]] = {case: [] for case in CASES}
        for _ in range(args.repeats):
            for case in CASES:
                timed[case].append(measure(case, path, scratch, sampled=False))
                sampled[case].append(measure(case, path, scratch, sampled=True))
        report(timed, sampled, args.rows * args.cols * 8)


def report(timed: dict[str, list[dict[str, float]]], runs: dict[str, list[dict[str, float]]],
           result_bytes: int) -> None:
    best = {case: min(r["seconds"] for r in rs) for case, rs in timed.items()}
    print()
    print("| case | min s | / pandas | peak RSS / result | peak anon / result |")
    print("|---|---|---|---|---|")
    for case, rs in runs.items():
        rss = max(r["rss"] for r in rs) / result_bytes
        anon = max(r["anon"] for r in rs) / result_bytes
        print(f"| {case} | {best[case]:.2f} | {best[case] / best['pandas']:.2f} | "
              f"{rss:.2f}x | {anon:.2f}x |")
    print(f"\nresult: {result_bytes / 2**20:.0f} MiB of float64; targets: read / pandas <= 1.2, "
          "read's peak <= 2x")


if __name__ == "__main__":
    main()
