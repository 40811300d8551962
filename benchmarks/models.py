#!/usr/bin/env python3
"""Seconds per EM iteration of each of mclust's 14 covariance models, against VVV (full).

    python benchmarks/models.py                  # 1,000,000 x 16, K 16 (a few minutes)
    python benchmarks/models.py --quick          # 100,000 x 16, K 16
    python benchmarks/models.py --rows N --iters M

Not part of the test suite.  Every model runs in this process on the same data (16
Gaussian clusters in 16 dimensions, fixed seed) through the engine's block reduction
(emgmm_cli.engine.run_em on an ArrayDataset: its thread pool, one BLAS thread per thread,
as the emgmm command runs), from the same start: each point given to its nearest true
centre, then the model's own M-step.  tol 0 and --iters iterations; a model's seconds per
iteration are the median of its iterations after the first (each is one E-step, that is
one pass over the data, and one M-step).  The models are timed in turn, twice over in
alternating order, and each keeps its faster median, so that a load that comes and goes
on the machine weighs on every model alike.  The last column, the ratio to VVV measured
in the same run, is the figure to read: the cost of a model's M-step (the iterative ones
included) relative to a pass over the data.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import numpy as np  # noqa: E402

MODELS = ("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV",
          "EVV", "VVV")


def make_data(n: int, d: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n x d points from k anisotropic Gaussian clusters, the k true centres)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=6.0, size=(k, d))
    labels = rng.integers(k, size=n)
    x = np.empty((n, d))
    for j in range(k):
        rows = labels == j
        a = rng.normal(size=(d, d)) / np.sqrt(d)
        x[rows] = centres[j] + rng.normal(size=(int(rows.sum()), d)) @ a.T
    return x, centres


def start(x: np.ndarray, centres: np.ndarray, model: str):
    from emgmm_cli.engine import m_step
    from emgmm_cli.engine.init import squared_distances
    from emgmm_cli.engine.stats import stats_from_resp

    k = len(centres)
    labels = squared_distances(x, centres).argmin(axis=1)
    resp = np.zeros((len(x), k))
    resp[np.arange(len(x)), labels] = 1.0
    origin = np.broadcast_to(x.mean(axis=0), centres.shape).copy()
    params, _ = m_step(stats_from_resp(x, resp, origin, model), origin, model, 1e-6)
    return params


def seconds_per_iteration(x: np.ndarray, centres: np.ndarray, model: str, iters: int) -> float:
    from emgmm_cli.backends.local import ArrayDataset, block_rows
    from emgmm_cli.engine import run_em

    k, d = centres.shape
    data = ArrayDataset(x, block_rows=block_rows(k, d, covariance_type=model))
    run = run_em(data, start(x, centres, model), tol=0.0, max_iter=iters, reg_covar=1e-6)
    return statistics.median(row.seconds for row in run.trace[1:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--components", type=int, default=16)
    parser.add_argument("--iters", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="100,000 rows")
    args = parser.parse_args()
    n = 100_000 if args.quick else args.rows
    x, centres = make_data(n, args.features, args.components)
    best: dict[str, float] = {}
    for order in (MODELS, MODELS[::-1]):
        for model in order:
            t = seconds_per_iteration(x, centres, model, args.iters)
            best[model] = min(best.get(model, t), t)
    from emgmm_cli.engine.families import family

    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"`python benchmarks/models.py{' --quick' if args.quick else ''}`: {n:,} x "
          f"{args.features}, K {args.components}, {args.iters} iterations per model; {when}; "
          f"{platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, numpy {np.__version__}\n")
    print("| model | emgmm name | M-step | s / iteration | x VVV |")
    print("|---|---|---|---:|---:|")
    for model in MODELS:
        kind = ("iterative" if model in ("VEI", "VEE", "EVE", "VVE", "VEV")
                else "closed form")
        print(f"| {model} | {family(model).name} | {kind} | {best[model]:.3f} | "
              f"{best[model] / best['VVV']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
