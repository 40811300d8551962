#!/usr/bin/env python3
"""select's cells in one process against two worker processes, forked and spawned.

    python benchmarks/jobs.py [--repeats N]

Not part of the test suite.  Behind app.requests' AUTO_JOBS_* (what --jobs auto weighs)
and processes.run_tasks' queued (what select hands its workers ahead):

- For each case (Old Faithful, or 3 spherical blobs of the given rows and columns drawn
  with numpy seed 0), `python -m emgmm_cli select FILE -k K -c FAMILIES --seed 0` as a
  process, start to exit, with --jobs 1 and with --jobs 2 under EMGMM_WORKER_START=fork
  and =spawn, the three taken in turn --repeats times; the medians in seconds, and the
  seconds with --jobs 1 over each.  The last column says what --jobs auto picks there.
- For Old Faithful's 36 cells (VVV, EEE, VVI, VII, K = 1..9), the cells alone through
  run_tasks on two forked workers, with no item queued and with one queued per worker
  (select's), taken in turn --repeats times; the medians in seconds.  And the pool's own
  cost: 36 items that take no time (int) through the same two workers.
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FAITHFUL = ROOT / "sample_data" / "faithful.csv"
FOUR = "VVV,EEE,VVI,VII"
#: (rows and columns of blobs, or None for Old Faithful; K; families)
CASES: list[tuple[tuple[int, int] | None, str, str]] = [
    (None, "1-9", FOUR), (None, "1-9", "VVV,VII"), (None, "1-4", "VVV,VII"),
    ((60, 2), "1-9", FOUR), ((150, 2), "1-9", FOUR), ((500, 5), "1-9", FOUR),
    ((1000, 5), "1-9", FOUR), ((2000, 5), "1-9", FOUR), ((20000, 5), "1-9", FOUR)]


def blobs(path: Path, rows: int, cols: int) -> Path:
    rng = np.random.default_rng(0)
    centres = rng.uniform(-5, 5, (3, cols))
    x = np.concatenate([c + rng.normal(size=(rows // 3 + 1, cols)) for c in centres])[:rows]
    np.savetxt(path, x, delimiter=",", header=",".join(f"x{j}" for j in range(cols)),
               comments="")
    return path


def seconds(command: list[str], method: str) -> float:
    env = {**os.environ, "EMGMM_WORKER_START": method}
    t = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - t


def processes(repeats: int, tmp: Path) -> None:
    from emgmm_cli.app.selecting import cell_workers

    print("| data | cells | --jobs 1 s | 2 forked s | 2 spawned s | 1 / forked | "
          "1 / spawned | auto (forked) |")
    print("|---|---|---|---|---|---|---|---|")
    for shape, ks, families in CASES:
        if shape is None:
            path, name = FAITHFUL, "Old Faithful"
        else:
            rows, cols = shape
            path, name = blobs(tmp / f"b{rows}x{cols}.csv", rows, cols), f"{rows} x {cols}"
        command = [sys.executable, "-m", "emgmm_cli", "select", str(path), "-k", ks, "-c",
                   families, "--seed", "0", "--table", str(tmp / "t.csv")]
        runs: dict[str, list[float]] = {"one": [], "fork": [], "spawn": []}
        for _ in range(repeats):
            runs["one"].append(seconds(command + ["--jobs", "1"], "fork"))
            for method in ("fork", "spawn"):
                runs[method].append(seconds(command + ["--jobs", "2"], method))
        med = {k: statistics.median(v) for k, v in runs.items()}
        x = np.loadtxt(path, delimiter=",", skiprows=1)
        n_cells = len(families.split(",")) * (9 if ks == "1-9" else 4)
        auto = cell_workers("auto", x, n_cells)
        print(f"| {name} | {n_cells} | {med['one']:.3f} | {med['fork']:.3f} | "
              f"{med['spawn']:.3f} | {med['one'] / med['fork']:.2f} | "
              f"{med['one'] / med['spawn']:.2f} | {auto} |", flush=True)


def queued(repeats: int) -> None:
    from emgmm_cli.app.selecting import _CellItem, _fit_cell_item
    from emgmm_cli.backends.local import ArrayDataset
    from emgmm_cli.backends.processes import run_tasks
    from emgmm_cli.engine.options import FitOptions
    from emgmm_cli.engine.selection import grid, hierarchy, plan

    os.environ["EMGMM_WORKER_START"] = "fork"
    x = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    template = FitOptions(1)
    tree = hierarchy(ArrayDataset(x), template, 0)
    tasks = plan(grid(FOUR.split(","), range(1, 10), 2), template, 0)
    items = [_CellItem(x, t, tree) for t in tasks]
    print("\n| 36 items, 2 forked workers | none queued s | one queued per worker s |\n"
          "|---|---|---|")
    cases: list[tuple[str, Callable[[Any], Any], list[Any]]] = [
        ("Old Faithful's cells", _fit_cell_item, items),
        ("no work (the pool alone)", int, list(range(36)))]
    for name, fn, work in cases:
        runs: dict[int, list[float]] = {0: [], 2: []}
        for _ in range(repeats):
            for ahead in runs:
                t = time.perf_counter()
                run_tasks(fn, work, 2, on_start=lambda i: None,
                          on_result=lambda i, v: None, queued=ahead)
                runs[ahead].append(time.perf_counter() - t)
        print(f"| {name} | {statistics.median(runs[0]):.3f} | "
              f"{statistics.median(runs[2]):.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        processes(args.repeats, Path(tmp))
    queued(args.repeats * 2)


if __name__ == "__main__":
    main()
