#!/usr/bin/env python3
"""The dask backend against the local backend: seconds per EM pass, overhead, batch.

    python benchmarks/dask_backend.py            # 10,000,000 x 16 (1.2 GB in --scratch)
    python benchmarks/dask_backend.py --quick    # 1,000,000 x 16, 40 datasets: it works

Not part of the test suite; needs the dask extra (pip install '.[test]').  Prints a
Markdown report and writes the results as JSON to benchmarks/results/dask_backend.json
(--out), with the command, the date and the machine; scripts/make_docs.py renders the
committed file into docs/distributed.md (measured() and cost_table() below), and
tests/test_docs.py checks that the document is up to date.

Method
------
A. One EM pass (the E-step and the sufficient statistics of every row: what an
   iteration costs; the M-step reads only the statistics) over an N x 16 float64 .npy of
   4 blobs, K 8, full covariance, from the same parameters, on:

   - local:   the local backend (backends.local.ArrayDataset over the memory-mapped file,
              its thread pool of one thread per core), as `emgmm fit` runs;
   - dask-1, dask-2: the dask backend on a LocalCluster of 1 and 2 worker processes (one
              thread each) on 127.0.0.1, the file read by the workers in partitions.

   Each pass is timed --repeats times after a first (untimed) one; the median is
   reported.  "overhead" is the median time of a pass whose per-block function does
   nothing (returns 0.0) over the same partitions: what dask costs per iteration whatever
   the model (shipping the function, one task per partition, the tree of additions,
   gathering the sum).  "start" is the time to start the local cluster; "load" the time
   to read the file into the workers' memory (with one empty pass), once per run.  The statistics of dask-2 are compared with local's.

B. `emgmm batch` over 200 datasets (1,000 x 2 CSV files, K 3, seed 0), whole process
   from start to exit: local with --jobs 1 and --jobs 2, and --backend dask --workers 2.

C. Per-block throughput for the cost model of docs/distributed.md: rows per second of
   one thread computing chunk_stats over one partition (PARTITION_BYTES) of 32 columns,
   K 8, full; the size in bytes of one partition's statistics (pickled) at K 8, D 32.

The machine was shared with other work while these ran: compare the figures of one run
with each other (ratios), not with another run's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from functools import partial
from typing import Any

# One BLAS thread per engine thread, as the emgmm command sets it (dask's workers set the
# same): BLAS threads inside the thread pool's threads oversubscribe the cores.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from emgmm_cli.backends import BackendOptions, session  # noqa: E402
from emgmm_cli.backends.dask import PARTITION_BYTES, REDUCE_FANIN  # noqa: E402
from emgmm_cli.backends.local import ArrayDataset, available_cores  # noqa: E402
from emgmm_cli.engine.params import MixtureParams  # noqa: E402
from emgmm_cli.engine.stats import chunk_stats  # noqa: E402

K = 8
MODEL_ROWS, MODEL_COLS, MODEL_WORKERS = 1_000_000_000, 32, 32


def nothing(block: Any) -> float:
    return 0.0


def params_for(d: int, rng: np.random.Generator) -> MixtureParams:
    return MixtureParams.build(np.full(K, 1 / K), rng.normal(0, 3, (K, d)),
                               np.stack([np.eye(d)] * K), "full")


def blobs_npy(path: str, n: int, d: int, rng: np.random.Generator) -> None:
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, d))
    centers = rng.normal(0, 5, (4, d))
    step = 1 << 20
    for a in range(0, n, step):
        b = min(a + step, n)
        out[a:b] = centers[rng.integers(0, 4, b - a)] + rng.standard_normal((b - a, d))
    out.flush()
    del out


def timed(run: Any, repeats: int) -> float:
    run()  # the first pass is not timed
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def relative_difference(a: Any, b: Any) -> float:
    worst = 0.0
    for name in ("nk", "sk", "scatter"):
        x, y = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
        worst = max(worst, float(np.max(np.abs(x - y)) / np.max(np.abs(y))))
    return max(worst, abs(a.loglik - b.loglik) / abs(b.loglik))


def passes(path: str, repeats: int) -> dict[str, Any]:
    """Part A: local, dask-1, dask-2."""
    x = np.load(path, mmap_mode="r")
    params = params_for(x.shape[1], np.random.default_rng(1))
    fn = partial(chunk_stats, params=params, hard=False)
    local = ArrayDataset(x).for_model(K, "full")
    reference = local.reduce(fn)
    out: dict[str, Any] = {"local": {"threads": available_cores(),
                                     "seconds": timed(lambda: local.reduce(fn), repeats)}}
    for workers in (1, 2):
        with session(BackendOptions("dask", workers=workers)) as cluster:
            t0 = time.perf_counter()
            cluster.client  # the local cluster started
            start = time.perf_counter() - t0
            t0 = time.perf_counter()
            data = cluster.open_npy(path).for_model(K, "full")
            data.reduce(nothing)  # the partitions read into the workers' memory
            load = time.perf_counter() - t0
            seconds = timed(lambda: data.reduce(fn), repeats)
            overhead = timed(lambda: data.reduce(nothing), repeats)
            got = data.reduce(fn)
            out[f"dask-{workers}"] = {"workers": workers, "partitions": len(data.parts),
                                      "start_seconds": start, "load_seconds": load, "seconds": seconds,
                                      "overhead_seconds": overhead,
                                      "relative_difference": relative_difference(got,
                                                                                 reference)}
    return out


def batch(folder: str, count: int) -> dict[str, float]:
    """Part B: emgmm batch over count small datasets, local and dask."""
    rng = np.random.default_rng(2)
    sets = os.path.join(folder, "sets")
    os.makedirs(sets)
    for i in range(count):
        rows = np.concatenate([rng.normal(c, 1.0, (333, 2)) for c in (0.0, 4.0, 8.0)])
        np.savetxt(os.path.join(sets, f"d{i:03d}.csv"), np.vstack([rows, rows[:1]]),
                   delimiter=",", header="x,y", comments="", fmt="%.6f")
    cases = {"local --jobs 1": ["--jobs", "1"], "local --jobs 2": ["--jobs", "2"],
             "dask --workers 2": ["--backend", "dask", "--workers", "2"]}
    out = {}
    for name, extra in cases.items():
        dest = os.path.join(folder, name.replace(" ", "_"))
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "emgmm_cli", "batch", sets, "-k", "3",
                        "--seed", "0", "-o", dest, "-q", *extra], check=True)
        out[name] = time.perf_counter() - t0
    return out


def throughput(repeats: int) -> dict[str, float]:
    """Part C: one thread's chunk_stats rate over one partition of 32 columns."""
    rng = np.random.default_rng(3)
    rows = PARTITION_BYTES // (MODEL_COLS * 8)
    part = rng.normal(0, 3, (rows, MODEL_COLS))
    params = params_for(MODEL_COLS, rng)
    data = ArrayDataset(part, n_threads=1).for_model(K, "full")
    fn = partial(chunk_stats, params=params, hard=False)
    seconds = timed(lambda: data.reduce(fn), repeats)
    return {"rows_per_second": rows / seconds, "partition_rows": rows,
            "stats_bytes": len(pickle.dumps(data.reduce(fn)))}


def cost_model(measured: dict[str, Any]) -> dict[str, Any]:
    """1e9 x 32 float64 on 32 workers, from Part C's throughput and Part A's overhead."""
    c = measured["throughput"]
    rows_per_worker = MODEL_ROWS / MODEL_WORKERS
    partitions = math.ceil(MODEL_ROWS / c["partition_rows"])
    depth = math.ceil(math.log(partitions, REDUCE_FANIN))
    per_task = measured["passes"]["dask-2"]["overhead_seconds"] / \
        measured["passes"]["dask-2"]["partitions"]
    # on-worker first level (partitions placed in runs): what crosses the network is the
    # sums of the groups of REDUCE_FANIN partitions, then the levels above
    crossing = math.ceil(partitions / REDUCE_FANIN) * c["stats_bytes"]
    d = MODEL_COLS
    spark_record = (d + d * (d + 1) // 2 + 2) * 8  # mean sums, packed cov sums, w, ws
    spark_partitions = math.ceil(MODEL_ROWS * d * 8 / (128 << 20))
    return {
        "rows": MODEL_ROWS, "cols": d, "workers": MODEL_WORKERS, "k": K,
        "gib_per_worker": MODEL_ROWS * d * 8 / MODEL_WORKERS / 2**30,
        "partitions": partitions, "partitions_per_worker": partitions / MODEL_WORKERS,
        "compute_seconds": rows_per_worker / c["rows_per_second"],
        "task_overhead_seconds": partitions / MODEL_WORKERS * per_task,
        "stats_bytes": c["stats_bytes"], "depth": depth,
        "bytes_out": K * (1 + d + d * d) * 8,
        "bytes_crossing": crossing,
        "spark_partitions": spark_partitions,
        "spark_shuffle_bytes": spark_partitions * K * spark_record,
        "spark_broadcast_bytes": K * (1 + d + d * (d + 1) // 2) * 8,
    }


def _mb(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB" if n >= 2**20 else f"{n / 2**10:,.1f} KiB"


def cost_table(results: dict[str, Any]) -> str:
    """The cost table of docs/distributed.md, from a results document."""
    m = results["cost_model"]
    rate = results["throughput"]["rows_per_second"]
    return "\n".join([
        "| per iteration, 1,000,000,000 x 32 float64, K 8 full, 32 workers | emgmm (dask) "
        "| Spark MLlib GaussianMixture |",
        "|---|---|---|",
        f"| data per worker (in memory) | {m['gib_per_worker']:.1f} GiB | the same |",
        f"| partitions | {m['partitions']:,} of {PARTITION_BYTES >> 20} MiB "
        f"({m['partitions_per_worker']:.0f} per worker) | {m['spark_partitions']:,} "
        "of 128 MiB |",
        f"| sent to the workers | the parameters once: {_mb(m['bytes_out'])} "
        f"| a broadcast of the parameters: {_mb(m['spark_broadcast_bytes'])} |",
        f"| statistics of one partition | {_mb(m['stats_bytes'])} (K x (1 + D + D x D) "
        f"float64) | K records of D + D(D+1)/2 + 2 float64: "
        f"{_mb(m['spark_shuffle_bytes'] / m['spark_partitions'])} |",
        f"| statistics that cross the network | {_mb(m['bytes_crossing'])} (the first "
        "level adds partitions on their own worker) | "
        f"{_mb(m['spark_shuffle_bytes'])} (every partition's records, shuffled) |",
        f"| reduction | a tree of {REDUCE_FANIN}-way additions, depth {m['depth']} "
        "| reduceByKey (one shuffle), then collect |",
        f"| compute per worker | {m['compute_seconds']:.0f} s ({rate:,.0f} rows/s "
        "per thread, measured) | not measured here |",
        f"| task overhead per worker | {m['task_overhead_seconds']:.2f} s (measured "
        "per task) | not measured here |",
    ])


def measured(results: dict[str, Any]) -> str:
    """Parts A and B as Markdown, with where and how they were measured."""
    p, b, prov = results["passes"], results["batch"], results["provenance"]
    n = results["rows"]
    lines = [f"A. One EM pass over {n:,} x 16 float64, K {K} full (median of "
             f"{results['repeats']}):", "",
             "| backend | s/pass | vs local | overhead s/pass | start s | load s | partitions "
             "| max relative difference |", "|---|---|---|---|---|---|---|---|"]
    base = p["local"]["seconds"]
    lines.append(f"| local ({p['local']['threads']} threads) | {base:.3f} | 1.00 | | | | | |")
    for name in ("dask-1", "dask-2"):
        r = p[name]
        lines.append(f"| {name} | {r['seconds']:.3f} | {r['seconds'] / base:.2f} | "
                     f"{r['overhead_seconds']:.3f} | {r['start_seconds']:.1f} | "
                     f"{r['load_seconds']:.1f} | "
                     f"{r['partitions']} | {r['relative_difference']:.1e} |")
    lines += ["", f"B. `emgmm batch` over {results['datasets']} datasets (1,000 x 2, K 3), "
              "whole process:", "", "| run | seconds | vs local --jobs 1 |", "|---|---|---|"]
    for name, seconds in b.items():
        lines.append(f"| {name} | {seconds:.1f} | {seconds / b['local --jobs 1']:.2f} |")
    lines += ["", f"Command: `{prov['command']}`; {prov['date']}; {prov['machine']}; "
              f"{prov['load']}."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scratch", default=None)
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results",
                                                      "dask_backend.json"))
    args = parser.parse_args()
    rows, datasets = (1_000_000, 40) if args.quick else (10_000_000, 200)
    with tempfile.TemporaryDirectory(dir=args.scratch, prefix="emgmm-bench-") as folder:
        path = os.path.join(folder, "x.npy")
        blobs_npy(path, rows, 16, np.random.default_rng(0))
        results: dict[str, Any] = {"rows": rows, "datasets": datasets,
                                   "repeats": args.repeats,
                                   "passes": passes(path, args.repeats)}
        os.remove(path)
        results["batch"] = batch(folder, datasets)
    results["throughput"] = throughput(args.repeats)
    results["cost_model"] = cost_model(results)
    results["provenance"] = {
        "command": " ".join(["python", "benchmarks/dask_backend.py", *sys.argv[1:]]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}, "
                   f"Python {platform.python_version()}, numpy {np.__version__}",
        "load": "shared with other work (timings noisy)",
    }
    print(measured(results), "", cost_table(results), sep="\n")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(results, fh, indent=2)
        fh.write("\n")



if __name__ == "__main__":
    main()
