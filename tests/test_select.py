"""Model selection in the engine: the grid, per-cell seeds, the degeneracy rule, the
criteria, and the hierarchical start (engine/hc.py), checked against mclust on R's Old
Faithful data (tests/data/mclust_faithful.csv: mclust 6.0's mclustBIC table)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from emgmm_cli.backends.local import ArrayDataset
from emgmm_cli.engine import FitOptions, fit, m_step
from emgmm_cli.engine.errors import InvalidParameter
from emgmm_cli.engine.hc import HcTree, build_hc_tree, hc_stats, hc_tree, svd_scale
from emgmm_cli.engine.init import INIT_METHODS, restart_method
from emgmm_cli.engine.selection import (
    CRITERIA,
    Cell,
    CellResult,
    CellTask,
    Selection,
    cell_seed,
    choose,
    fit_cell,
    fit_in_order,
    grid,
    hierarchy,
    plan,
    select,
)

DATA = Path(__file__).parent / "data"
FAMILIES = ("full", "tied", "diag", "spherical")

#: What `emgmm select` uses by default (emgmm_cli/cli/select.py): init auto, SQUAREM.
DEFAULTS = FitOptions(1)


def faithful() -> np.ndarray:
    return np.loadtxt(DATA / "faithful.csv", delimiter=",", skiprows=1)


def mclust_table() -> dict[tuple[str, int], tuple[float, float]]:
    """(covariance_type, K) -> (mclust's log-likelihood, BIC in our sign)."""
    with open(DATA / "mclust_faithful.csv", newline="") as fh:
        return {(r["covariance_type"], int(r["K"])): (float(r["loglik"]), -float(r["mclust_bic"]))
                for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def faithful_selection() -> Selection:
    """The proof run: every family, K = 1..9, seed 0, the defaults."""
    return select(ArrayDataset(faithful()), grid(FAMILIES, range(1, 10)), DEFAULTS,
                  seed=0)


# --- the Old Faithful proof ----------------------------------------------------------------


def test_faithful_picks_mclusts_model(faithful_selection: Selection) -> None:
    best = faithful_selection.best_cell
    assert best is not None and best.result is not None
    assert best.cell == Cell("tied", 3) and best.cell.mclust == "EEE"
    loglik, bic = mclust_table()[("tied", 3)]
    assert best.result.loglik == pytest.approx(-1126.3, abs=0.05)
    assert best.result.loglik == pytest.approx(loglik, abs=0.05)
    assert best.result.bic == pytest.approx(2314.3, abs=0.05)
    assert best.result.bic == pytest.approx(bic, abs=0.05)  # mclust: BIC = -2314.32
    assert best.result.converged and not best.result.is_degenerate


def test_faithful_every_cell_at_least_as_good_as_mclust(faithful_selection: Selection) -> None:
    # mclust reports a value in every cell, so none of its fits is singular; with the data
    # recorded to 3 decimals (eruptions) and whole minutes (waiting), a component under our
    # degeneracy floor (1e-6 of the eruption variance) would be singular, so none of
    # mclust's fits is degenerate by our test either: every cell is compared.
    reference = mclust_table()
    assert len(faithful_selection.cells) == len(reference) == 36
    short = []
    for c in faithful_selection.cells:
        assert c.status == "ok", (c.cell, c.message)
        assert c.result is not None
        loglik, _ = reference[(c.cell.covariance_type, c.cell.n_components)]
        if c.result.loglik < loglik - 0.01:
            short.append((c.cell, c.result.loglik, loglik))
    assert not short, f"cells below mclust's log-likelihood: {short}"


def test_faithful_criteria_rank_differently(faithful_selection: Selection) -> None:
    cells = faithful_selection.cells
    by_icl = choose(cells, "icl")
    by_aic = choose(cells, "aic")
    assert by_icl is not None and by_aic is not None
    # ICL adds the classification entropy: it prefers the two well-separated groups of
    # Old Faithful to BIC's three overlapping ones.
    assert cells[by_icl].cell == Cell("full", 2)
    assert cells[by_icl].criterion("icl") == min(c.criterion("icl") for c in cells)
    # AIC penalises parameters least and picks a larger model than BIC.
    assert cells[by_aic].cell.n_components > 3
    assert cells[by_aic].criterion("aic") == min(c.criterion("aic") for c in cells)
    for c in cells:
        r = c.result
        assert r is not None
        assert c.criterion("bic") == r.bic and c.criterion("aic") == r.aic
        assert c.criterion("icl") >= c.criterion("bic")  # the entropy term is >= 0


# --- the degeneracy rule -------------------------------------------------------------------


def degenerate_diag5() -> CellResult:
    """diag, K = 5 from K random data points (seed 4): a component collapses onto points
    sharing one 'waiting' value, and the BIC is far below every legitimate fit's."""
    task = CellTask(0, Cell("diag", 5), FitOptions(5, "diag", init="random-from-data",
                                                   n_init=1, seed=4, tol=1e-7, max_iter=2000))
    return fit_cell(ArrayDataset(faithful()), task)


def test_a_degenerate_cell_never_wins() -> None:
    x = faithful()
    spurious = degenerate_diag5()
    assert spurious.status == "degenerate" and not spurious.eligible
    assert spurious.result is not None and spurious.result.degenerate
    assert spurious.result.bic == pytest.approx(2220.7, abs=0.2)
    assert "collapsed" in spurious.message
    legit = fit_cell(ArrayDataset(x), CellTask(1, Cell("tied", 3), FitOptions(
        3, "tied", init="hc", n_init=1, tol=1e-7, max_iter=2000, seed=0)))
    assert legit.status == "ok" and legit.criterion("bic") > spurious.criterion("bic") + 90
    # Without the rule, the spurious maximum would be chosen by every criterion ...
    assert min([spurious, legit], key=lambda c: c.criterion("bic")) is spurious
    # ... with it, never.
    for criterion in CRITERIA:
        assert choose([spurious, legit], criterion) == 1
        assert choose([legit, spurious], criterion) == 0
    assert choose([spurious], "bic") is None


def test_a_degenerate_restart_gives_way_to_a_legitimate_one() -> None:
    # Restart 0 of seed 4 is the degenerate fit above; the other restarts are not, and
    # the cell reports the best of those.
    task = CellTask(0, Cell("diag", 5), FitOptions(5, "diag", init="random-from-data",
                                                   n_init=4, seed=4, tol=1e-7, max_iter=2000))
    outcome = fit_cell(ArrayDataset(faithful()), task)
    assert outcome.status == "ok" and outcome.result is not None
    spurious = degenerate_diag5().result
    assert spurious is not None
    assert outcome.result.restart_logliks[0] == pytest.approx(spurious.loglik, abs=1e-9)
    assert outcome.result.loglik < spurious.loglik - 50
    assert outcome.result.bic > 2300


# --- failures, seeds, grid -------------------------------------------------------------------


def test_a_cell_that_cannot_be_fitted_fails_alone() -> None:
    x = faithful()[:40]
    sel = select(ArrayDataset(x), grid(["diag"], [2, 41, 60]), FitOptions(1, n_init=2),
                 seed=3)
    statuses = [c.status for c in sel.cells]
    assert statuses == ["ok", "skipped", "skipped"]
    assert sel.cells[1].result is None and math.isnan(sel.cells[1].criterion("bic"))
    assert sel.cells[1].message == "41 components need at least 41 rows; the data has 40"
    assert sel.best == 0


def test_nothing_to_choose_when_every_cell_fails() -> None:
    sel = select(ArrayDataset(faithful()[:5]), grid(["full", "tied"], [6]),
                 FitOptions(1), seed=0)
    assert [c.status for c in sel.cells] == ["skipped", "skipped"]
    assert sel.best is None and sel.best_cell is None


def test_grid_order_and_validation() -> None:
    cells = grid(["diag", "full", "diag"], [3, 1, 2, 3])
    assert [(c.covariance_type, c.n_components) for c in cells] == [
        ("diag", 1), ("diag", 2), ("diag", 3), ("full", 1), ("full", 2), ("full", 3)]
    assert [c.mclust for c in grid(["full", "tied", "diag", "spherical"], [1])] == [
        "VVV", "EEE", "VVI", "VII"]
    assert [c.covariance_type for c in grid(["VVV", "EEE", "VVI", "VII"], [1])] == [
        "full", "tied", "diag", "spherical"]
    assert [c.mclust for c in grid([], [1], n_features=3)][:3] == ["EII", "VII", "EEI"]
    assert [c.mclust for c in grid([], [1], n_features=1)] == ["E", "V"]
    with pytest.raises(InvalidParameter, match=r"must be whole numbers >= 1, got 0$"):
        grid(["full"], [2, 0])
    with pytest.raises(ValueError, match="unknown covariance type 'box'"):
        grid(["box"], [2])
    with pytest.raises(InvalidParameter, match="unknown criterion"):
        select(ArrayDataset(faithful()), grid(["full"], [1]), FitOptions(1), seed=0,
               criterion="dic")


def test_cell_seeds_depend_on_the_seed_and_the_cell_only() -> None:
    cells = grid(FAMILIES, range(1, 10))
    seeds = [cell_seed(7, c) for c in cells]
    assert len(set(seeds)) == len(seeds)
    assert all(0 <= s < 2**53 for s in seeds)
    assert cell_seed(7, Cell("diag", 4)) == seeds[cells.index(Cell("diag", 4))]
    assert cell_seed(8, Cell("diag", 4)) != cell_seed(7, Cell("diag", 4))
    tasks = plan(list(reversed(cells)), FitOptions(1, n_init=3), seed=7)
    assert {t.cell: t.options.seed for t in tasks} == dict(zip(cells, seeds))
    assert all(t.options.n_init == 3 and t.options.n_components == t.cell.n_components
               and t.options.covariance_type == t.cell.covariance_type for t in tasks)


def test_a_cell_is_the_same_alone_in_another_grid_and_in_fit() -> None:
    x = faithful()
    template = FitOptions(1, init="hc", n_init=3, tol=1e-7, max_iter=2000)
    big = select(ArrayDataset(x), grid(["full", "diag"], [2, 3, 4]), template, seed=11)
    alone = select(ArrayDataset(x, block_rows=4096, n_threads=1), grid(["diag"], [3]),
                   template, seed=11)
    a, b = big.cells[4], alone.cells[0]
    assert a.cell == b.cell == Cell("diag", 3)
    assert a.result is not None and b.result is not None
    assert a.result.loglik == b.result.loglik
    np.testing.assert_array_equal(a.result.params.means, b.result.params.means)
    # `emgmm fit` with the cell's options and seed repeats the cell
    again = fit(ArrayDataset(x), a.options)
    assert again.loglik == a.result.loglik


def test_on_cell_reports_every_cell_in_order() -> None:
    seen: list[tuple[int, Cell]] = []
    select(ArrayDataset(faithful()), grid(["spherical"], [1, 2]), FitOptions(1), seed=0,
           on_cell=lambda i, r: seen.append((i, r.cell)))
    assert seen == [(0, Cell("spherical", 1)), (1, Cell("spherical", 2))]


def one_gaussian() -> np.ndarray:
    """200 points of one correlated Gaussian: K = 1 wins, in the full-matrix families."""
    cov = [[1.0, 0.5, 0.2], [0.5, 2.0, 0.3], [0.2, 0.3, 1.5]]
    return np.random.default_rng(3).multivariate_normal([0.0, 0.0, 0.0], cov, size=200)


def test_equal_models_tie_and_the_first_listed_wins() -> None:
    """At K = 1 the eight full-matrix families are one model; their M-steps differ in
    rounding (1e-13 of the BIC), which chose VEE over EEE with the table showing the same
    BIC for both (and mclust choosing EEE)."""
    sel = select(ArrayDataset(one_gaussian()), grid([], [1], 3), DEFAULTS, seed=0)
    bics = [c.criterion("bic") for c in sel.cells if c.cell.mclust[1:] not in ("II", "EI", "VI")]
    assert len(bics) == 8 and all(math.isclose(b, bics[0], rel_tol=1e-12) for b in bics)
    assert sel.best_cell is not None and sel.best_cell.cell.mclust == "EEE"


def test_choose_breaks_ties_by_grid_order_and_skips_failures() -> None:
    ok = fit_cell(ArrayDataset(faithful()), CellTask(0, Cell("full", 2), FitOptions(2, seed=0)))
    failed = CellResult(Cell("full", 400), FitOptions(400), error="too many")
    assert choose([failed, ok, ok], "bic") == 1
    with pytest.raises(ValueError, match="unknown criterion"):
        choose([ok], "dic")


# --- the hierarchical start ------------------------------------------------------------------


def naive_tree(x: np.ndarray) -> list[tuple[int, int]]:
    """The agglomeration by brute force: every pair re-scored at every step."""
    z = svd_scale(x)
    d = z.shape[1]
    s = float(((z - z.mean(axis=0)) ** 2).sum()) / (len(z) * d)

    def cost(rows: list[int]) -> float:
        part = z[rows]
        w = (part - part.mean(axis=0)).T @ (part - part.mean(axis=0))
        n = len(rows)
        det = np.linalg.det(w / n) if n > d else 0.0
        return n * math.log(det + (np.trace(w) + s) / n)

    groups = {i: [i] for i in range(len(z))}
    merges = []
    while len(groups) > 1:
        keys = sorted(groups)
        best = None
        for ia, a in enumerate(keys):
            for b in keys[ia + 1:]:
                delta = cost(groups[a] + groups[b]) - cost(groups[a]) - cost(groups[b])
                if best is None or delta < best[0] - 1e-12:
                    best = (delta, a, b)
        assert best is not None
        _, a, b = best
        groups[a] += groups.pop(b)
        merges.append((a, b))
    return merges


def test_hc_tree_matches_brute_force() -> None:
    rng = np.random.default_rng(5)
    x = np.vstack([rng.normal([0, 0], [1.0, 0.3], (12, 2)),
                   rng.normal([4, 1], [0.4, 1.2], (10, 2)),
                   rng.normal([1, 5], 0.5, (8, 2))]) @ np.array([[3.0, 1.0], [0.0, 20.0]])
    tree = hc_tree(x)
    assert [tuple(m) for m in tree.merges] == naive_tree(x)
    assert tree.n_rows == 30 and tree.min_groups == 1


def test_hc_finds_well_separated_groups_and_numbers_them_by_first_row() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[10.0, 0.0], [0.0, 0.0], [0.0, 10.0]])
    truth = rng.integers(0, 3, 150)
    x = centres[truth] + rng.normal(size=(150, 2))
    labels = hc_tree(x).partition(3)
    # the same partition as the truth, with groups numbered by their first row
    order = list(dict.fromkeys(truth.tolist()))
    np.testing.assert_array_equal(labels, [order.index(t) for t in truth])
    assert labels[0] == 0
    assert np.all(hc_tree(x).partition(1) == 0)
    assert len(np.unique(hc_tree(x).partition(150))) == 150


def test_hc_does_not_depend_on_the_units_of_the_columns() -> None:
    # the "SVD" transformation standardises each column first
    x = faithful()
    a = hc_tree(x).partition(4)
    b = hc_tree(x * [60.0, 0.01] + [5.0, -2.0]).partition(4)
    np.testing.assert_array_equal(a, b)


def test_hc_tree_cuts_and_errors() -> None:
    x = faithful()[:20]
    partial = hc_tree(x, min_groups=4)
    assert partial.min_groups == 4
    np.testing.assert_array_equal(partial.partition(5), hc_tree(x).partition(5))
    with pytest.raises(InvalidParameter, match="cannot cut the hierarchy of 20 rows at 3"):
        partial.partition(3)
    with pytest.raises(InvalidParameter, match="at 21 groups"):
        partial.partition(21)
    # constant columns are dropped; a constant dataset still has a tree
    flat = np.column_stack([x[:, 0], np.full(20, 7.0)])
    assert svd_scale(flat).shape == (20, 1)
    assert hc_tree(np.ones((5, 2))).n_rows == 5


def test_hc_subsamples_large_data_and_estimates_from_the_subsample() -> None:
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(0, 1, (300, 2)), rng.normal(8, 1, (200, 2))])
    data = ArrayDataset(x)
    tree = build_hc_tree(data, np.random.default_rng(0), max_rows=120)
    assert tree.rows is not None and len(tree.rows) == tree.n_rows == 120
    assert np.all(np.diff(tree.rows) > 0)
    stats = hc_stats(data, tree, 2, "full", origin=np.zeros((2, 2)))
    assert stats.n == 120 and stats.nk.sum() == 120
    params, _ = m_step(stats, np.zeros((2, 2)), "full", 1e-6)
    means = params.means[np.argsort(params.means[:, 0])]
    np.testing.assert_allclose(means, [[0, 0], [8, 8]], atol=0.5)
    with pytest.raises(InvalidParameter, match="another dataset"):
        hc_stats(ArrayDataset(x[:100]), HcTree(rows=None, merges=tree.merges, n_rows=120), 2,
                 "full", origin=np.zeros((2, 2)))


def test_hc_init_in_fit_first_restart_then_random() -> None:
    assert "hc" in INIT_METHODS and "auto" in INIT_METHODS
    assert [restart_method("hc", r) for r in range(3)] == ["hc", "random", "random"]
    assert [restart_method("kmeans", r) for r in range(2)] == ["kmeans", "kmeans"]
    x = faithful()
    one = fit(ArrayDataset(x), FitOptions(3, "tied", init="hc", seed=1, tol=1e-7,
                                          max_iter=2000))
    other_seed = fit(ArrayDataset(x), FitOptions(3, "tied", init="hc", seed=2, tol=1e-7,
                                                 max_iter=2000))
    assert one.loglik == other_seed.loglik  # the hierarchy does not depend on the seed
    given = hierarchy(ArrayDataset(x), FitOptions(1, init="hc"), seed=0)
    assert given is not None
    with_tree = fit(ArrayDataset(x), FitOptions(3, "tied", init="hc", seed=1, tol=1e-7,
                                                max_iter=2000), hc_tree=given)
    assert with_tree.loglik == one.loglik
    assert hierarchy(ArrayDataset(x), FitOptions(1, init="kmeans"), seed=0) is None


def test_cells_beyond_the_rows_are_skipped_without_a_fit() -> None:
    """A grid far beyond the data (K up to 3000 on 30 rows): the cells with more
    components than rows are skipped together, each with fit_cell's reason, and only
    the others reach the mapper (no fit, no worker process each)."""
    x = np.random.default_rng(3).normal(size=(30, 2))
    data = ArrayDataset(x)
    cells = grid(["diag", "full"], range(1, 3001))
    template = FitOptions(n_components=1, n_init=1, max_iter=5, init="kmeans")
    mapped: list[int] = []

    def mapper(d: Any, tasks: Any, tree: Any, on_done: Any) -> list[CellResult]:
        mapped.extend(t.cell.n_components for t in tasks)
        return fit_in_order(d, tasks, tree, on_done)

    done: list[int] = []
    selection = select(data, cells, template, seed=1, map_cells=mapper,
                       on_cell=lambda i, r: done.append(i))
    assert sorted(mapped) == sorted(list(range(1, 31)) * 2)
    assert sorted(done) == list(range(len(cells)))
    assert [c.cell for c in selection.cells] == cells
    task = plan(cells, template, 1)[2999 + 3000]
    assert task.cell == Cell("full", 3000)
    alone = fit_cell(data, task)
    beyond = selection.cells[2999 + 3000]
    assert (beyond.status, beyond.error, beyond.options) == ("skipped", alone.error,
                                                            alone.options)
    assert beyond.error == "3000 components need at least 3000 rows; the data has 30"
