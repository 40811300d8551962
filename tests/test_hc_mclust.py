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
