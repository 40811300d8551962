"""The hierarchical start is mclust's: the same partitions at K = 1..9 on real data.

mclust's own partitions (tests/data/mclust_hclass_*.csv, from R mclust 6.0.0's hclass) are
the oracle.  Both data sets repeat rows, so many merges tie exactly; the partitions agree
only because ties go as mclust's go (engine/hc.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emgmm_cli.engine.hc import hc_tree

DATA = Path(__file__).parent / "data"


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two labelings group the rows alike (up to the labels' names)."""
    pairs = np.unique(np.stack([a, b]), axis=1)
    return len(np.unique(pairs[0])) == len(np.unique(pairs[1])) == pairs.shape[1]


def test_same_partition_tells_groupings_apart() -> None:
    assert same_partition(np.array([0, 0, 1, 2]), np.array([5, 5, 3, 1]))
    assert not same_partition(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]))
    assert not same_partition(np.array([0, 0, 1, 1]), np.array([0, 0, 0, 0]))


@pytest.mark.parametrize("name", ["faithful", "iris"])
def test_partitions_are_mclusts(name: str) -> None:
    x = pd.read_csv(DATA / f"{name}.csv").to_numpy(dtype=float)
    reference = pd.read_csv(DATA / f"mclust_hclass_{name}.csv")
    tree = hc_tree(x)
    for k in range(1, 10):
        ours = tree.partition(k)
        assert len(np.unique(ours)) == k
        assert same_partition(ours, reference[f"K{k}"].to_numpy()), f"K = {k}"


def test_ties_go_to_the_pair_with_the_largest_indices() -> None:
    # four copies of one point and a far pair: the copies merge first, and of the six
    # equally cheap pairs among them, (2, 3) goes first, then the group absorbs 1, then 0
    x = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [5.0, 1.0], [6.0, 3.0]])
    merges = hc_tree(x).merges.tolist()
    assert merges[:3] == [[2, 3], [1, 2], [0, 1]]


#: R mclust 6.0.0's mclust:::qclass(x, k) of these values, k = 2..6 (its start for one
#: column: classes between quantiles, the narrowest gaps closed where values repeat).
QCLASS_VALUES = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4]
QCLASS = {2: "1 1 1 1 2 2 1 2 2 1 2 2 2 2 2 1 1 1 2 1",
          3: "2 1 2 1 2 3 1 3 2 2 2 3 3 3 3 2 1 2 3 2",
          4: "2 1 2 1 3 4 1 3 3 2 3 4 4 3 4 2 1 2 4 2",
          5: "2 1 3 1 4 5 1 4 4 2 4 5 5 4 5 2 1 2 5 3",
          6: "3 1 3 1 4 6 1 5 4 3 4 6 6 5 6 3 1 3 6 3"}


@pytest.mark.filterwarnings("ignore:.*collapsed onto the regularisation floor")
def test_one_column_starts_from_mclusts_quantile_classes() -> None:
    """mclust starts one column from its quantile classes, not its hierarchy: --init hc
    cut a hierarchy there, and select's V with K = 5 on the eruptions ended at -255.80
    (mclust -255.62).  The classes are mclust's, ties included, and every cell of E and V
    with K = 1..9 on either column of faithful, from that start alone (--init hc
    --n-init 1) and by select's default, reaches mclust's log-likelihood."""
    import emgmm_cli
    from emgmm_cli.engine.hc import quantile_classes

    values = np.array(QCLASS_VALUES, dtype=float)
    for k, labels in QCLASS.items():
        np.testing.assert_array_equal(quantile_classes(values, k),
                                      np.array(labels.split(), dtype=int) - 1)
    faithful = pd.read_csv(DATA / "faithful.csv")
    reference = pd.read_csv(DATA / "mclust_1d_faithful.csv")
    for column, rows in reference.groupby("column"):
        x = faithful[[column]].to_numpy()
        selected = {(r["covariance_type"], r["n_components"]): r["log_likelihood"]
                    for r in emgmm_cli.select(x, range(1, 10), ["E", "V"], seed=0).rows()}
        for model, k, theirs in rows[["model", "K", "loglik"]].itertuples(index=False):
            start = emgmm_cli.fit(x, int(k), covariance_type=model, init="hc", n_init=1,
                                  seed=0).log_likelihood
            assert start >= theirs - 0.01, (column, model, k, start, theirs)
            assert selected[(model, int(k))] >= theirs - 0.01, (column, model, k)
