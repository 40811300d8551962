#!/usr/bin/env python3
"""One E-step on one thread against the local backend's thread pool of two.

    python benchmarks/pool.py [--repeats N]

Not part of the test suite.  Behind backends.local.POOL_MIN_BLOCKS: for each case (D, K,
family, rows; standard normal data, numpy seed 0, the start random-from-data with seed 0),
the same blocks (backends.local.block_rows) are reduced by engine.em.em_stats on one
thread and on two, with one BLAS thread per caller as the command line sets it; the best
of --repeats timings of 5 E-steps each, in milliseconds.  The last column says whether
the pool maps these blocks (rows >= POOL_MIN_BLOCKS * block_rows).
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import timeit  # noqa: E402

import numpy as np  # noqa: E402

from emgmm_cli.backends.local import POOL_MIN_BLOCKS, ArrayDataset, block_rows  # noqa: E402
from emgmm_cli.engine.em import em_stats  # noqa: E402
from emgmm_cli.engine.init import initial_params  # noqa: E402

CASES = [(2, 3, "full", 50_000), (2, 3, "full", 400_000), (5, 8, "full", 20_000),
         (5, 8, "full", 100_000), (5, 8, "diag", 20_000), (5, 8, "diag", 100_000),
         (16, 8, "full", 20_000), (16, 8, "diag", 20_000)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("| D | K | family | rows | blocks | 1 thread ms | 2 threads ms | gain | pool |")
    print("|---|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for d, k, family, n in CASES:
        x = rng.normal(size=(n, d))
        rows = block_rows(k, d, covariance_type=family)
        ms = []
        for threads in (1, 2):
            data = ArrayDataset(x, block_rows=rows, n_threads=threads)
            start = initial_params(data, k, family, "random-from-data",
                                   np.random.default_rng(0), reg_covar=1e-6,
                                   column_mean=x.mean(axis=0), column_variance=x.var(axis=0))
            best = min(timeit.repeat(lambda: em_stats(data, start, False, entropy=False),
                                     number=5, repeat=args.repeats))
            ms.append(best / 5 * 1e3)
        pooled = n >= POOL_MIN_BLOCKS * rows
        print(f"| {d} | {k} | {family} | {n:,} | {len(data.bounds())} | {ms[0]:.1f} | "
              f"{ms[1]:.1f} | {ms[0] / ms[1]:.2f} | {'yes' if pooled else 'no'} |")


if __name__ == "__main__":
    main()
