#!/usr/bin/env python3
"""EM from mclust's hierarchical start: accelerated throughout, plain EM first, plain EM.

    python benchmarks/hierarchy_runs.py            # a few minutes
    python benchmarks/hierarchy_runs.py --only iris

Not part of the test suite; it needs scikit-learn (its datasets: pip install '.[test]').
Datasets: Old Faithful (sample_data/faithful.csv) and scikit-learn's iris and wine, raw and
standardised (columns centred, unit variance).  In each cell (every family mclust
searches for the data's columns, K = 2..9) the hierarchy (hc.seeded_hc_tree, seed 0) is
cut at K, as `--init hc` and the auto start's hierarchy candidate start, and EM runs from
that start with the defaults (tol 1e-6, max-iter 2000, reg-covar 1e-6) three ways
(engine.em.run_em): SQUAREM throughout ("squarem"), plain EM until mclust's rule holds and
SQUAREM after ("first", mclust_first: what a run from the hierarchy does), and plain EM
("plain").  A run that fails or ends degenerate leaves its cell out.  It prints, per
dataset and in all, the cells where each accelerated way ends more than 0.01 below or
above plain EM, and the passes each way takes; then the cells where either accelerated
way ends more than 0.01 below plain EM; with the command, the date, the commit and the
machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from select_models import provenance  # this folder: the script's own

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emgmm_cli.backends.local import ArrayDataset  # noqa: E402
from emgmm_cli.engine import initial_params, run_em  # noqa: E402
from emgmm_cli.engine.em import DegenerateTest, degenerate_components  # noqa: E402
from emgmm_cli.engine.errors import EngineError  # noqa: E402
from emgmm_cli.engine.families import searched  # noqa: E402
from emgmm_cli.engine.hc import HcTree, seeded_hc_tree  # noqa: E402
from emgmm_cli.engine.stats import chunk_moments  # noqa: E402

WAYS = {"squarem": {"accelerate": "squarem"},
        "first": {"accelerate": "squarem", "mclust_first": True},
        "plain": {"accelerate": "none"}}
SLACK = 0.01


def datasets() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_iris, load_wine

    out = {"Old Faithful": np.loadtxt(ROOT / "sample_data" / "faithful.csv", delimiter=",",
                                      skiprows=1)}
    for name, loader in (("iris", load_iris), ("wine", load_wine)):
        x = loader().data
        out[name] = x
        out[f"{name} (std)"] = (x - x.mean(0)) / x.std(0)
    return out


def cell(data: ArrayDataset, tree: HcTree, family: str, k: int
         ) -> dict[str, tuple[float, int]] | None:
    """way -> (log-likelihood, passes) from the hierarchy's start; None where a way failed
    or ended degenerate."""
    moments = data.reduce(chunk_moments)
    try:
        start = initial_params(data, k, family, "hc", np.random.default_rng(0),
                               reg_covar=1e-6, column_mean=moments.mean,
                               column_variance=moments.variance, hc_tree=tree)
    except EngineError:
        return None
    out = {}
    for way, options in WAYS.items():
        try:
            run = run_em(data, start, tol=1e-6, max_iter=2000, reg_covar=1e-6,
                         **options)  # type: ignore[arg-type]
        except EngineError:
            return None
        if degenerate_components(run.params, DegenerateTest.of(data, moments.variance), 1e-6):
            return None
        out[way] = (run.final.loglik, run.passes)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="datasets whose names start so")
    args = parser.parse_args()
    lines = ["| data | cells | squarem below plain | above | first below plain | above | "
             "passes squarem | first | plain |", "|---|---|---|---|---|---|---|---|---|"]
    total = np.zeros(8, dtype=np.int64)
    moved = []
    for name, x in datasets().items():
        if args.only and not any(name.lower().startswith(o.lower()) for o in args.only):
            continue
        data = ArrayDataset(x)
        tree = seeded_hc_tree(data, 0)
        assert tree is not None  # (none only for data with missing values)
        counts = np.zeros(8, dtype=np.int64)
        for family in searched(x.shape[1]):
            for k in range(2, 10):
                ends = cell(data, tree, family, k)
                if ends is None:
                    continue
                plain = ends["plain"][0]
                gaps = {way: ends[way][0] - plain for way in ("squarem", "first")}
                counts += [1, gaps["squarem"] < -SLACK, gaps["squarem"] > SLACK,
                           gaps["first"] < -SLACK, gaps["first"] > SLACK,
                           ends["squarem"][1], ends["first"][1], ends["plain"][1]]
                if min(gaps.values()) < -SLACK:
                    moved.append(f"| {name} | {family} | {k} | {plain:.3f} | "
                                 f"{gaps['squarem']:+.3f} | {gaps['first']:+.3f} |")
        total += counts
        lines.append(f"| {name} | " + " | ".join(f"{c:,}" for c in counts) + " |")
        print(lines[-1], file=sys.stderr)
    lines.append("| all | " + " | ".join(f"{c:,}" for c in total) + " |")
    lines += ["", "| data | family | K | plain EM | squarem - plain | first - plain |",
              "|---|---|---|---|---|---|", *moved]
    print(provenance(sys.argv[1:], False, "hierarchy_runs.py") + "\n\n" + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
