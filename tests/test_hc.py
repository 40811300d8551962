"""The hierarchical start (engine/hc.py) against a plain agglomeration written here: every
pair of groups re-scored from its rows at every step, with the same criterion (Fraley's
regularised VVV score on mclust's SVD-transformed rows) and the same tie rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from emgmm_cli.engine.hc import HC_ALPHA, HC_BETA, _det_ldl, _row_sums, hc_tree, svd_scale


def reference_tree(x: np.ndarray, alpha: float = HC_ALPHA,
                   beta: float = HC_BETA) -> list[tuple[int, int]]:
    """O(m^3) agglomeration: at each step every pair (a < b) of live groups is scored as
    cost(a u b) - cost(a) - cost(b) from the rows themselves; the cheapest pair is merged,
    b into a, ties going to the largest b, then the largest a (mclust's rule)."""
    z = svd_scale(x)
    m, d = z.shape
    ridge = alpha * float(((z - z.mean(axis=0)) ** 2).sum()) / (m * d)

    def cost(rows: list[int]) -> float:
        part = z[rows]
        w = (part - part.mean(axis=0)).T @ (part - part.mean(axis=0))
        n = len(rows)
        det = max(float(np.linalg.det(w / n)), 0.0) if n > d else 0.0
        return n * math.log(det + beta * (float(np.trace(w)) + ridge) / n)

    groups = {i: [i] for i in range(m)}
    merges = []
    while len(groups) > 1:
        keys = sorted(groups)
        scored = [(cost(groups[a] + groups[b]) - cost(groups[a]) - cost(groups[b]), -b, -a)
                  for ia, a in enumerate(keys) for b in keys[ia + 1:]]
        _, minus_b, minus_a = min(scored)
        a, b = -minus_a, -minus_b
        groups[a] += groups.pop(b)
        merges.append((a, b))
    return merges


@pytest.mark.parametrize(("d", "seed", "beta"), [
    (1, 0, HC_BETA), (2, 1, HC_BETA), (3, 2, HC_BETA), (5, 3, HC_BETA), (9, 4, HC_BETA),
    # a small trace term: the determinants decide most merges
    (2, 5, 1e-3), (3, 6, 1e-4), (5, 7, 1e-8)])
def test_hc_tree_equals_the_plain_agglomeration(d: int, seed: int, beta: float) -> None:
    rng = np.random.default_rng(seed)
    m = 40 + 5 * d if d < 9 else 45
    # three groups of different spread and shape, so that the determinant matters
    centres = rng.normal(0, 4, (3, d))
    labels = rng.integers(0, 3, m)
    x = centres[labels] + rng.normal(size=(m, d)) * rng.uniform(0.3, 2.0, (3, d))[labels]
    tree = hc_tree(x, beta=beta)
    assert [tuple(int(v) for v in pair) for pair in tree.merges] == reference_tree(x, beta=beta)


def test_copies_of_a_row_merge_first_by_the_tie_rule() -> None:
    # five copies of row 0: merging them costs exactly the same, and they go first, the
    # pair of the largest indices first, then the group absorbs the next copy down
    rng = np.random.default_rng(7)
    x = rng.normal(size=(30, 2))
    x[10:15] = x[0]
    merges = [tuple(int(v) for v in pair) for pair in hc_tree(x).merges]
    assert merges[:5] == [(13, 14), (12, 13), (11, 12), (10, 11), (0, 10)]
    assert merges == reference_tree(x)


@pytest.mark.parametrize("d", [1, 2, 3, 7, 8, 9, 15, 16, 17, 64, 129, 200, 300])
def test_row_sums_add_up_as_numpy_does(d: int) -> None:
    # the trace of a pooled scatter is rounded exactly as np.trace rounds it
    rng = np.random.default_rng(d)
    x = rng.random((50, d)) * 10.0 ** rng.integers(-8, 8, (50, d))
    np.testing.assert_array_equal(_row_sums(np.ascontiguousarray(x.T)), x.sum(axis=1))
    np.testing.assert_array_equal(_row_sums(np.ascontiguousarray(x.T)),
                                  np.trace(np.einsum("ij,jk->ijk", x, np.eye(d)),
                                           axis1=1, axis2=2))


@pytest.mark.parametrize("d", [4, 5, 8])
def test_ldl_determinants_of_semi_definite_matrices(d: int) -> None:
    rng = np.random.default_rng(d)
    full = rng.normal(size=(20, d, d + 3))
    low = rng.normal(size=(5, d, d - 2))  # rank d - 2: determinant zero
    stack = np.concatenate([full @ full.transpose(0, 2, 1), low @ low.transpose(0, 2, 1)])
    det = _det_ldl(np.moveaxis(stack, 0, -1).copy())
    np.testing.assert_allclose(det[:20], np.linalg.det(stack[:20]), rtol=1e-10)
    scale = np.trace(stack[20:], axis1=1, axis2=2) ** d
    assert np.all(np.abs(det[20:]) <= 1e-12 * scale)
    assert np.all(det >= 0)


def replayed_partition(merges: np.ndarray, m: int, k: int) -> np.ndarray:
    """The cut at k by replaying the first m - k merges one at a time (b's rows to a)."""
    owner = np.arange(m)
    for a, b in merges[: m - k]:
        owner[owner == b] = a
    return np.unique(owner, return_inverse=True)[1].reshape(-1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_cut_is_the_replayed_merges(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # copies of rows make long chains of merges into one group (deep pointer chains)
    x = rng.normal(size=(120, 3))
    x[60:100] = x[rng.integers(0, 60, 40)]
    tree = hc_tree(x, min_groups=2 if seed == 2 else 1)
    for k in list(range(tree.min_groups, 121)) + [5, 3]:  # some twice: the kept cut
        labels = tree.partition(k)
        np.testing.assert_array_equal(labels, replayed_partition(tree.merges, 120, k))
        assert labels.dtype == np.intp and not labels.flags.writeable


def test_a_pickled_tree_makes_its_own_cuts() -> None:
    import pickle

    tree = hc_tree(np.random.default_rng(4).normal(size=(40, 2)))
    kept = tree.partition(3)
    copy = pickle.loads(pickle.dumps(tree))
    assert copy.n_rows == 40 and copy.rows is None
    np.testing.assert_array_equal(copy.merges, tree.merges)
    again = copy.partition(3)
    np.testing.assert_array_equal(again, kept)
    assert not again.flags.writeable and again is not kept


def test_wide_data_are_clustered_on_the_rows_whose_scatters_fit_the_budget() -> None:
    """The groups' packed scatter matrices take m d (d + 1) / 2 numbers: on 800 rows of 300
    columns that is 289 MB, so the hierarchy runs on the hc_rows that keep them within
    HC_BYTES (m rows span m - 1 directions: 256 rows), and its peak stays near that;
    narrow data keep all HC_MAX_ROWS rows."""
    import tracemalloc

    from emgmm_cli.engine.dataset import InMemoryRows
    from emgmm_cli.engine.hc import HC_BYTES, HC_MAX_ROWS, build_hc_tree, hc_rows

    assert hc_rows(5000, 89) == HC_MAX_ROWS and hc_rows(300, 2) == 300
    x = np.random.default_rng(0).normal(size=(800, 300))
    tracemalloc.start()
    try:
        tree = build_hc_tree(InMemoryRows(x), np.random.default_rng(1))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert tree.n_rows == hc_rows(800, 300) == 256
    assert tree.rows is not None and len(np.unique(tree.rows)) == 256
    assert peak < 2 * HC_BYTES
