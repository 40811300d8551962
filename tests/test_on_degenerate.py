"""--on-degenerate keep|reinit|drop|error: what EM does when a component collapses."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import emgmm_cli
from emgmm_cli.backends import open_dataset
from emgmm_cli.backends.local import ArrayDataset
from emgmm_cli.engine.degenerate import DROPPED, REINITIALISED, DegenerateComponent
from emgmm_cli.engine.errors import DEGENERATE
from emgmm_cli.engine.fitting import FitResult, fit
from emgmm_cli.engine.options import FitOptions
from conftest import invoke_in

DATA = Path(__file__).parent / "data"


def _x() -> np.ndarray:
    """Two blobs and three copies of one far point: random starts collapse components."""
    rng = np.random.default_rng(0)
    return np.r_[rng.normal(size=(200, 2)), np.tile([[8.0, 8.0]], (3, 1)),
                 rng.normal(size=(200, 2)) + [4, 0]]


def _fit(action: str, cov: str = "full") -> FitResult:
    return fit(open_dataset(_x(), n_components=4),
               FitOptions(4, covariance_type=cov, on_degenerate=action, seed=0,
                          init="random", max_iter=300))


def test_keep_is_the_default_and_reports_at_the_end() -> None:
    kept = _fit("keep")
    assert FitOptions(1).on_degenerate == "keep"
    assert kept.degenerate and [e.kind for e in kept.events] == [DEGENERATE]


def test_reinit_reseeds_and_ends_clean() -> None:
    result = _fit("reinit")
    kinds = [e.kind for e in result.events]
    assert kinds and set(kinds) == {REINITIALISED}
    assert result.params.n_components == 4 and not result.degenerate
    assert "the point the mixture explained worst" in result.events[0].message


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_drop_continues_with_fewer_components(cov: str) -> None:
    result = _fit("drop", cov)
    dropped = [e for e in result.events if e.kind == DROPPED]
    assert dropped
    assert result.params.n_components == 4 - len(dropped)
    assert "dropped at iteration" in dropped[0].message


def test_error_names_the_component() -> None:
    with pytest.raises(DegenerateComponent, match=r"component \d+ degenerated at iteration"):
        _fit("error")


def test_cli_drop_and_error(tmp_path: Path) -> None:
    np.savetxt(tmp_path / "x.csv", _x(), delimiter=",", header="a,b", comments="")
    args = ["fit", "x.csv", "-k", "4", "--init", "random", "--seed", "0", "--max-iter", "300"]
    r = invoke_in(tmp_path, *args, "--on-degenerate", "drop", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    drops = [e for e in doc["events"] if e["kind"] == DROPPED]
    assert drops and doc["n_components"] == 4 - len(drops)
    assert doc["options"]["on_degenerate"] == "drop"
    # the model of fewer components than options.n_components asked for, and events of
    # the components the run numbered, reads back
    (tmp_path / "m.json").write_text(json.dumps({k: v for k, v in doc.items()
                                                 if k != "trace"}))
    shown = invoke_in(tmp_path, "info", "m.json", "--json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["options"]["n_components"] == 4
    r = invoke_in(tmp_path, *args, "--on-degenerate", "error")
    assert r.exit_code == 1 and "degenerated at iteration" in r.stderr
    assert "Traceback" not in r.stderr


def test_drop_of_the_only_component_says_drop_not_error(tmp_path: Path) -> None:
    """Points on a line: one component is dropped, then the last one is degenerate too.
    fit --on-degenerate drop stopped saying "fit stopped as on_degenerate 'error' asks",
    an option the user did not give; the one line now says why drop could not go on."""
    (tmp_path / "line.csv").write_text("a,b\n0,0\n0,0\n0,0\n0,0\n1,1\n")
    r = invoke_in(tmp_path, "fit", "line.csv", "-k", "2", "--seed", "0", "--on-degenerate",
                  "drop", "--model", "m.json")
    assert r.exit_code == 1 and not (tmp_path / "m.json").exists()
    assert r.stderr.splitlines() == [
        "Error: line.csv: component 0 degenerated at iteration 2 (its covariance collapsed "
        "onto the regularisation floor); fit stopped: it is the only component, which "
        "on_degenerate 'drop' cannot drop"]
    r = invoke_in(tmp_path, "fit", "line.csv", "-k", "2", "--seed", "0", "--on-degenerate",
                  "error")
    assert r.exit_code == 1 and r.stderr.rstrip().endswith(
        "fit stopped as on_degenerate 'error' asks")


def test_a_covariance_that_is_reg_covar_to_rounding_has_collapsed() -> None:
    """Where the data's variance is far below reg_covar (values near 1e-12), every
    covariance is reg_covar and rounding, and the test (lambda_min - reg_covar below 1e-6
    of the least column variance, 6.8e-30 there) read the rounding's sign: select -k 1-3
    -c full,EII marked every cell degenerate but EII K = 3, whose covariance came out one
    unit in the last place above reg_covar, and chose it, exit 0.  A difference within
    DEGENERATE_ULPS units of reg_covar's last place is a collapse, either sign."""
    from emgmm_cli.engine.em import DEGENERATE_ULPS, DegenerateTest, degenerate_components
    from emgmm_cli.engine.params import MixtureParams

    reg = 1e-6
    variance = DegenerateTest.of(ArrayDataset(np.zeros((300, 2))), np.array([6.9e-24, 6.8e-24]))
    means = np.zeros((3, 2))
    for above in (0.0, np.spacing(reg), -np.spacing(reg), DEGENERATE_ULPS / 2 * np.spacing(reg)):
        flat = MixtureParams.build(np.full(3, 1 / 3), means, np.full(3, reg + above), "spherical")
        assert degenerate_components(flat, variance, reg) == [0, 1, 2], above
    # beyond the rounding, the ratio decides as before: 1e-4 of reg_covar is a spread
    wide = MixtureParams.build(np.full(3, 1 / 3), means, np.full(3, reg * 1.0001), "spherical")
    assert degenerate_components(wide, variance, reg) == []


def tight_pair(rows: int = 200, spread: float = 2e-3) -> np.ndarray:
    """Two clusters of the given spread at (0, 0) and (10, 10): each one's variance is
    1.6e-7 of the column variance, under DEGENERATE_RATIO, and each holds 200 rows."""
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal(0.0, spread, (rows, 2)), rng.normal(10.0, spread, (rows, 2))])


@pytest.mark.parametrize("covariance_type", ["full", "spherical"])
def test_tight_clusters_are_fitted_not_called_degenerate(covariance_type: str) -> None:
    """A tight cluster of many rows is no collapse (em.DegenerateTest): the fit is
    scikit-learn's (the same reg_covar), not degenerate, and so is K = 1, the single
    Gaussian of data that lie near a line (no spurious maximum to fall into).  The rule of
    DEGENERATE_RATIO alone called all of them degenerate."""
    from sklearn.mixture import GaussianMixture

    x = tight_pair()
    for k in (1, 2):
        ours = fit(ArrayDataset(x), FitOptions(k, covariance_type, seed=0))
        peer = GaussianMixture(k, covariance_type=covariance_type, reg_covar=1e-6, n_init=3,
                               tol=1e-6, random_state=0).fit(x)
        assert not ours.is_degenerate, (k, ours.degenerate)
        assert ours.loglik >= peer.score(x) * len(x) - 0.01, k


def far_tight_clusters(spread: float) -> np.ndarray:
    """Three clusters of 100 rows and the given spread at (0, 0), (5e4, 0) and (0, 1e5):
    each one's variance is 2e-11 (spread 0.1) or 2e-13 (0.01) of the least column variance,
    under SINGULAR_RATIO, and far above the rounding of rows of that size."""
    rng = np.random.default_rng(0)
    return np.vstack([c + spread * rng.normal(size=(100, 2))
                      for c in ([0.0, 0.0], [5e4, 0.0], [0.0, 1e5])])


@pytest.mark.parametrize("spread", [0.1, 0.01])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_tight_clusters_far_apart_are_fitted_not_called_degenerate(
        covariance_type: str, spread: float) -> None:
    """Clusters far tighter than the data's spread are no rounding (em.ROUNDING_BOUND): the
    default fit is scikit-learn's best of five or above, and sound.  Judged against the
    least column variance alone, every sound candidate was called degenerate: tied ended
    at -7056.8 from a start whose one covariance spans the data (scikit-learn 204.56), the
    others warned of a collapse of every component."""
    from sklearn.mixture import GaussianMixture

    x = far_tight_clusters(spread)
    ours = fit(ArrayDataset(x), FitOptions(3, covariance_type, seed=0))
    peer = GaussianMixture(3, covariance_type=covariance_type, reg_covar=1e-6, n_init=5,
                           tol=1e-6, random_state=0).fit(x)
    assert not ours.is_degenerate, ours.degenerate
    assert ours.loglik >= peer.score(x) * len(x) - 0.01


def test_select_chooses_tight_clusters_far_apart_as_scikit_learns_bic_does(
        tmp_path: Path) -> None:
    """select over the four families with K = 1..4 chooses the cell of the lowest BIC
    scikit-learn finds (VII with K = 3), and calls no cell up to K = 3 degenerate.  Judged
    against the least column variance alone, every cell of K = 2 and 3 was degenerate but
    EEE's, which stayed at the single Gaussian's -7056.8, and select chose VVV with K = 1,
    exit 0."""
    from sklearn.mixture import GaussianMixture

    x = far_tight_clusters(0.1)
    bic = {(name, k): GaussianMixture(k, covariance_type=cov, reg_covar=1e-6, n_init=3,
                                      tol=1e-6, random_state=0).fit(x).bic(x)
           for name, cov in (("VVV", "full"), ("EEE", "tied"), ("VVI", "diag"),
                             ("VII", "spherical")) for k in range(1, 5)}
    data = tmp_path / "far.csv"
    np.savetxt(data, x, delimiter=",", header="a,b", comments="", fmt="%.17g")
    result = invoke_in(tmp_path, "select", str(data), "-k", "1-4", "-c", "VVV,EEE,VVI,VII",
                       "--seed", "0", "-q")
    assert result.exit_code == 0, result.stderr
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    best = [(row["mclust"], int(row["n_components"])) for row in table if row["best"] == "true"]
    assert best == [min(bic, key=lambda cell: bic[cell])], best
    assert all(row["status"] == "ok" for row in table if int(row["n_components"]) <= 3)


def thin_tight_cluster_data() -> np.ndarray:
    """Three clusters of one orientation (VVE's true model): 300 rows of variances 9 and
    0.25, 300 of 1 and 0.5, and 100 at (2000, 1000) of variances 1e-3 and 1e-5."""
    rng = np.random.default_rng(7)
    turn = np.pi / 6
    rot = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    return np.vstack([rng.multivariate_normal(mean, rot @ np.diag(var) @ rot.T, n)
                      for n, mean, var in ((300, [0, 0], [9, 0.25]), (300, [30, -20], [1, 0.5]),
                                           (100, [2000, 1000], [1e-3, 1e-5]))])


#: R mclust 6.0.0, Mclust(X, G = 3, modelNames = m)$loglik on thin_tight_cluster_data
#: (written to CSV with 17 significant digits), 2026-12-07.
MCLUST_THIN_TIGHT = {"VVE": -1734.246, "EVE": -2559.284, "EVV": -2559.222, "VEE": -1945.835,
                     "VEV": -1945.543}


def test_a_tight_cluster_that_fills_its_covariance_is_no_collapse() -> None:
    """A cluster of 100 rows of variance 1e-5 among columns of variance 1.2e5 lies under
    the first bound (1e-10 of that), and in the families that share part of each
    covariance it was called degenerate: VVE's fit of its true model was dropped and the
    cell kept -5094.42 (mclust -1734.25), exit 0; EVE and EVV, whose equal volume holds
    that cluster's covariance at 0.09, were "degenerate" cells.  Its rows fill its
    covariance (em.FLAT_SHARE): each cell is sound and within reg_covar's reach of
    mclust's (mclust has no floor: 0.12 for VVE, whose least variance the floor lifts by
    a tenth), and select chooses VVE with K = 3, as mclust's BIC does."""
    x = thin_tight_cluster_data()
    for name, theirs in MCLUST_THIN_TIGHT.items():
        ours = fit(ArrayDataset(x), FitOptions(3, name, seed=0))
        assert not ours.is_degenerate, (name, ours.degenerate)
        assert ours.loglik >= theirs - 0.15, (name, ours.loglik)
    selected = emgmm_cli.select(x, [2, 3, 4], ["VVV", "VVE", "EVE", "VEE"], seed=0)
    assert selected.best is not None
    assert (selected.best.document["covariance_type"],
            selected.best.params.n_components) == ("VVE", 3)
    assert all(row["status"] == "ok" for row in selected.rows() if row["n_components"] == 3)


def test_a_few_rows_flat_in_a_hyperplane_stay_a_collapse_whatever_their_share() -> None:
    """The tight cluster's exemption (FLAT_SHARE) is for components of many rows: 13 rows
    (and other rows' small shares) in standardized wine's 13 columns lie in a hyperplane,
    their own least variance 2.8e-11 under a covariance held at 2.6e-6 by EVV's shared
    volume (a share of 1.1e-5).  With the exemption for any component, select's EVV
    K = 9 kept that collapse, -1406.24; judged as before, the cell keeps the sound fit it
    kept before the exemption, -1542.18 (every other cell of faithful, iris and wine, raw
    and standardized, is as before too)."""
    from sklearn.datasets import load_wine

    x = load_wine().data
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    cell = emgmm_cli.select(x, [9], ["EVV"], seed=0).selection.cells[0]
    assert cell.status == "ok" and cell.result is not None
    assert cell.result.loglik == pytest.approx(-1542.18, abs=0.01)


def test_a_collapse_far_from_the_centre_is_still_degenerate() -> None:
    """The data's rounding bounds the first bound from above, not below: among the far
    clusters, a component at (1e5, 1e5) whose covariance is reg_covar to rounding (rows
    that share a value: a quarter of the weight, so not few rows) is degenerate, and one
    of the same spread as the clusters is not; a family that shares part of each
    covariance keeps SINGULAR_RATIO times the least column variance (VVE's collapses stay
    off the floor by more than rounding), but where the component's rows fill its
    covariance (FLAT_SHARE) it is a cluster: there the three clusters are clusters (all
    four were called degenerate), and the rows that share a value a collapse however far
    off the floor its covariance is held."""
    from emgmm_cli.engine.em import ROUNDING_BOUND, DegenerateTest, degenerate_components
    from emgmm_cli.engine.params import MixtureParams

    x = np.vstack([far_tight_clusters(0.1), np.tile([1e5, 1e5], (3, 1))])
    test = DegenerateTest.of(ArrayDataset(x), x.var(axis=0))
    weights = np.full(4, 0.25)
    means = np.array([[0.0, 0.0], [5e4, 0.0], [0.0, 1e5], [1e5, 1e5]])
    unit = np.finfo(np.float64).eps * (x.var(axis=0).sum() + 1e10)
    for last, verdict in ((0.0, [3]), (ROUNDING_BOUND * unit / 2, [3]), (1e-2, [])):
        cov = np.stack([np.eye(2) * (1e-2 + 1e-6)] * 3 + [np.eye(2) * (1e-6 + last)])
        params = MixtureParams.build(weights, means, cov, "full")
        assert degenerate_components(params, test, 1e-6) == verdict, last
        shared = MixtureParams.build(weights, means, cov, "VVE")
        assert degenerate_components(shared, test, 1e-6) == [3], last


def test_collapses_a_little_off_the_floor_are_still_degenerate() -> None:
    """What lifts a collapse off the floor besides rounding: 60 rows that share b = 1 (a
    detection limit) and one row 0.006 from them, whose small share lifts the component
    1e-14 to 1e-10 above the floor, and 20 rows on the slanted line b = a, 2e3 long,
    whose least eigenvalue rounds to 1.5e-10.  Both are under reg_covar, where the cap on
    the first bound stops: capped at the data's rounding alone, VVI with K = 2 and VVV
    with K = 2 were sound, and select chose VVI with K = 2 on the first and VVV with K = 2
    on the second, exit 0."""
    rng = np.random.default_rng(0)
    bulk = np.c_[rng.normal(size=1000), rng.normal(3, 1, size=1000)]
    bulk = bulk[np.abs(bulk[:, 1] - 1) > 0.02]
    spike = np.vstack([bulk, [[0.3, 1.006]], np.c_[rng.normal(size=60), np.ones(60)]])
    rng = np.random.default_rng(0)
    t = rng.uniform(20, 1000, size=10)
    line = np.vstack([rng.normal(size=(2000, 2)), np.c_[np.r_[t, -t], np.r_[t, -t]]])
    for x, cov in ((spike, "diag"), (line, "full")):
        result = fit(ArrayDataset(x), FitOptions(2, cov, seed=0))
        assert result.degenerate == [1], cov


def thin_lines() -> np.ndarray:
    """Two parallel lines, 250 points each on y = x and y = x - 20, 1e-4 across: each
    cluster's variance across is 2e-10 of the least column variance, 1e-8 of along."""
    rng = np.random.default_rng(0)
    along = rng.normal(size=(2, 250))
    across = 1e-4 * rng.normal(size=(2, 250))
    return np.vstack([np.c_[along[0], along[0] + across[0]],
                      np.c_[along[1] + 10, along[1] - 10 + across[1]]])


@pytest.mark.parametrize(("make", "chosen"), [(tight_pair, ("VII", 2)), (thin_lines, ("VVV", 2))])
def test_select_chooses_tight_and_thin_clusters_as_scikit_learns_bic_does(
        tmp_path: Path, make: Callable[[], np.ndarray], chosen: tuple[str, int]) -> None:
    """select over full and spherical, K = 1..4, chooses the model of the lowest BIC
    scikit-learn finds (mclust chooses the same: VII, K = 2 on the tight pair; VVV, K = 2
    on the thin lines).  It chose VII with K = 1 on the one and K = 3 on the other when
    those clusters were called degenerate; a thin component of VVV, which could shrink
    onto a line exactly, is a thin cluster short of rounding."""
    from sklearn.mixture import GaussianMixture

    x = make()
    bic = {(name, k): GaussianMixture(k, covariance_type=cov, reg_covar=1e-6, n_init=3,
                                      tol=1e-6, random_state=0).fit(x).bic(x)
           for name, cov in (("VVV", "full"), ("VII", "spherical")) for k in range(1, 5)}
    expected = min(bic, key=lambda cell: bic[cell])
    data = tmp_path / "tight.csv"
    np.savetxt(data, x, delimiter=",", header="a,b", comments="")
    result = invoke_in(tmp_path, "select", str(data), "-k", "1-4", "-c", "VVV,VII",
                       "--seed", "0", "-q")
    assert result.exit_code == 0, result.stderr
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    best = [(row["mclust"], int(row["n_components"])) for row in table if row["best"] == "true"]
    assert best == [expected] == [chosen], (best, expected)
    # (K = 4 of the lines may end on a few points: a collapse)
    assert all(row["status"] == "ok" for row in table if int(row["n_components"]) <= 3)


def _mclust_thin_lines() -> dict[tuple[str, int], dict[str, str]]:
    """mclust's cells of tests/data/thin_lines.csv (its README), by (model, K)."""
    with open(DATA / "mclust_thin_lines.csv", newline="") as fh:
        return {(row["mclust_model"], int(row["K"])): row for row in csv.DictReader(fh)}


def test_select_keeps_thin_clusters_of_families_that_share_their_orientation(
        tmp_path: Path) -> None:
    """Two parallel thin lines of different lengths and widths (tests/data/thin_lines.csv,
    its README): VVE (one orientation, each its own volume and shape) fits them best, and
    mclust (tests/data/mclust_thin_lines.csv) chooses VVE with K = 3.  With the floor as
    low as mclust's none (--reg-covar 1e-12), every cell of VVV, VVE and EEV is sound,
    reaches mclust's log-likelihood less 0.01, and select chooses mclust's cell.  Judged
    by the shape of their fitted covariances alone, the thin components of VVE and EEV
    were called collapsed (their orientation is shared, as that of a collapse onto a line
    is), and select chose VVV with K = 3, exit 0."""
    peer = _mclust_thin_lines()
    result = invoke_in(tmp_path, "select", str(DATA / "thin_lines.csv"), "-k", "1-3",
                       "-c", "VVV,VVE,EEV", "--reg-covar", "1e-12", "--seed", "0", "-q")
    assert result.exit_code == 0, result.stderr
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(table) == len(peer) == 9
    for row in table:
        cell = (row["mclust"], int(row["n_components"]))
        assert row["status"] == "ok", (cell, row["message"])
        assert float(row["log_likelihood"]) >= float(peer[cell]["loglik"]) - 0.01, cell
    chosen = max(peer, key=lambda cell: float(peer[cell]["mclust_bic"]))
    assert [(row["mclust"], int(row["n_components"])) for row in table
            if row["best"] == "true"] == [chosen] == [("VVE", 3)]


def test_components_on_whole_numbers_sharing_a_value_are_degenerate_as_mclust_finds(
        tmp_path: Path) -> None:
    """Rounded data (tests/data/rounded_grid.csv, 33 distinct points of 165): EVV with K
    = 5 to 9 ends with components on rows that share a value, their covariances held 1e-6
    to 1e-5 of the least column variance off the line by EVV's shared volume, beyond the
    first look of the rule (DEGENERATE_RATIO); mclust cannot fit those cells (NA,
    tests/data/mclust_rounded_grid.csv).  They were "ok", and select chose EVV with K = 9
    (three of its components on three or fewer lines of the grid), exit 0.  Now they are
    degenerate, and the cells mclust fits are sound and at least its log-likelihood."""
    with open(DATA / "mclust_rounded_grid.csv", newline="") as fh:
        peer = {int(row["K"]): row for row in csv.DictReader(fh)}
    result = invoke_in(tmp_path, "select", str(DATA / "rounded_grid.csv"), "-k", "1-9",
                       "-c", "EVV", "--seed", "0", "-q")
    assert result.exit_code == 0, result.stderr
    table = {int(row["n_components"]): row for row in csv.DictReader(io.StringIO(result.stdout))}
    assert sorted(table) == sorted(peer) == list(range(1, 10))
    for k, row in table.items():
        if peer[k]["loglik"] == "NA":
            assert row["status"] == "degenerate", (k, row["log_likelihood"])
        else:
            assert row["status"] == "ok", k
            assert float(row["log_likelihood"]) >= float(peer[k]["loglik"]) - 0.01, k


def test_drop_keeps_thin_clusters_of_families_that_share_their_orientation() -> None:
    """--on-degenerate drop judges after every M-step by the same rule: on the thin lines
    it dropped VVE's thin components one after another down to one Gaussian
    (log-likelihood -2974.5, where mclust's VVE with K = 3 reaches 2209.49); now it
    drops none and reaches mclust's optimum."""
    import emgmm_cli

    result = emgmm_cli.fit(str(DATA / "thin_lines.csv"), 3, covariance_type="VVE",
                           reg_covar=1e-12, on_degenerate="drop", seed=0)
    assert result.params.n_components == 3 and not result.result.events
    assert result.log_likelihood >= float(_mclust_thin_lines()[("VVE", 3)]["loglik"]) - 0.01


def test_few_close_points_and_flat_rows_are_still_degenerate() -> None:
    """The two ways a collapse short of rounding is told from a tight cluster: a
    component on three points 1e-3 apart (fewer than FEW_ROWS_PER_DIM * (D + 1) rows),
    and a component of VVE on Old Faithful's points that share their waiting time (many
    rows, whose own scatter is flat to rounding: its orientation is shared, so its
    covariance cannot shrink onto the line exactly), each judged against points-based
    truth."""
    from dataclasses import replace

    from emgmm_cli.engine.em import (FEW_ROWS_PER_DIM, SINGULAR_RATIO, DegenerateTest,
                                     degenerate_components)
    from emgmm_cli.engine.params import MixtureParams

    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(size=(100, 2)), 5.0 + rng.normal(scale=1e-3, size=(3, 2))])
    test = DegenerateTest.of(ArrayDataset(x), x.var(axis=0))
    triple = x[-3:]
    cov = np.cov(triple.T, bias=True) + 1e-6 * np.eye(2)
    ratio = (np.linalg.eigvalsh(cov)[0] - 1e-6) / x.var(axis=0).min()
    assert SINGULAR_RATIO < ratio < 1e-6  # no rounding: only its few rows tell
    params = MixtureParams.build(np.array([100 / 103, 3 / 103]),
                                 np.vstack([x[:100].mean(axis=0), triple.mean(axis=0)]),
                                 np.stack([np.cov(x[:100].T), cov]), "full")
    assert 3 < FEW_ROWS_PER_DIM * 3
    assert degenerate_components(params, test, 1e-6) == [1]
    many = replace(test, rows=10_000)  # 290 rows
    assert degenerate_components(params, many, 1e-6) == []

    faithful = np.loadtxt(Path(__file__).parent.parent / "sample_data" / "faithful.csv",
                          delimiter=",", skiprows=1)[:, -2:]
    result = fit(ArrayDataset(faithful), FitOptions(7, "VVE", n_init=1,
                                                   init="random-from-data", seed=6))
    waiting = faithful[:, 1]
    spread = np.linalg.eigvalsh(result.params.full_covariances()) - 1e-6
    assert result.degenerate
    # no rounding in the covariance: only its rows tell
    assert max(spread[result.degenerate, 0]) > SINGULAR_RATIO * faithful.var(axis=0).min()
    for c in result.degenerate:
        rows = result.params.weights[c] * len(faithful)
        assert rows > FEW_ROWS_PER_DIM * 3
        mean = result.params.means[c, 1]
        assert np.isclose(mean, np.round(mean)) and (waiting == np.round(mean)).sum() >= rows - 1


def test_select_chooses_no_cell_of_data_that_reg_covar_swamps(tmp_path: Path) -> None:
    """The same data at the command line: no cell can be chosen (exit 1), and the advice
    is the swamped columns' (--standardize), not a larger --reg-covar; --standardize fits
    them and chooses a cell."""
    data = tmp_path / "tiny.csv"
    rows = np.random.default_rng(0).normal(scale=2.6e-12, size=(200, 2))
    np.savetxt(data, rows, delimiter=",", header="a,b", comments="")
    result = invoke_in(tmp_path, *["select", str(data), "-k", "1-3", "-c", "full,EII",
                                  "--seed", "0", "-q"])
    assert result.exit_code == 1, result.stdout
    last = result.stderr.splitlines()[-1]
    assert "no cell could be chosen: all 6 cells ended degenerate" in last
    assert last.endswith("fit standardized columns with --standardize (or give a smaller "
                         "--reg-covar)"), last
    chosen = invoke_in(tmp_path, *["select", str(data), "-k", "1-3", "-c", "full,EII",
                                  "--seed", "0", "-q", "--standardize"])
    assert chosen.exit_code == 0 and "true" in chosen.stdout


def test_drop_after_a_weight_collapse_renumbers_the_events(tmp_path: Path) -> None:
    """A component whose weight collapses and is then dropped: the collapse's event names
    the component as it was numbered then (its own component null, as the drop's), and
    no event names a component the model does not have (a KeyError reached the user)."""
    rng = np.random.default_rng(1)
    x = np.r_[rng.normal(size=(60, 2)), rng.normal(size=(3, 2)) + 30]
    holes = rng.random(x.shape) < 0.2
    holes[holes.all(axis=1), 1] = False  # each row keeps a value (one with none is left out)
    x[holes] = np.nan
    x[61, 0] = np.nan
    np.save(tmp_path / "x.npy", x)
    r = invoke_in(tmp_path, "fit", "x.npy", "-k", "4", "--seed", "0", "--missing", "em",
                  "--on-degenerate", "drop", "--init", "random-from-data", "--n-init", "1",
                  "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    kinds = [e["kind"] for e in doc["events"]]
    assert kinds[:2] == ["weight-collapse", DROPPED] and doc["n_components"] == 3
    collapse, drop = doc["events"][:2]
    assert collapse["component"] is None and drop["component"] is None
    assert collapse["message"].startswith("component 3:") and "component 3 of 4" in drop["message"]
    assert all(e["component"] is None or 0 <= e["component"] < 3 for e in doc["events"])


def test_reinit_seeds_at_the_row_worst_explained_by_its_observed_coordinates() -> None:
    """With --missing em, reinit ranked the rows by the density of the rows as imputed
    (each missing value the column's mean), not of their observed coordinates, as
    numerics.md says: a row (0, NaN) near a component, imputed to (0, ~5) between the
    clusters, was taken for the worst explained point over a true outlier."""
    from emgmm_cli.backends.local import ArrayDataset
    from emgmm_cli.engine.degenerate import worst_row
    from emgmm_cli.engine.missing import MissingRows, impute_means
    from emgmm_cli.engine.params import MixtureParams

    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 0.1, (50, 2)), rng.normal(10, 0.1, (50, 2)),
              [[3.0, -3.0]], [[0.0, np.nan]]]
    data = MissingRows(ArrayDataset(impute_means(x)), x)
    params = MixtureParams.build(np.array([0.5, 0.5]), np.array([[0.0, 0.0], [10.0, 10.0]]),
                                 np.array([np.eye(2) * 0.01] * 2), "full")
    assert worst_row(data, params) == 100  # the outlier, not row 101
    assert worst_row(ArrayDataset(x[:101]), params) == 100  # complete rows, as before


def test_one_components_collapse_is_said_to_be_the_datas(tmp_path: Path) -> None:
    """Four rows on a line, K = 1: the warning advised fewer components (none can be
    fewer) and more restarts (one component has one optimum).  It says the data have no
    spread along some direction, and what can be done."""
    (tmp_path / "line.csv").write_text("a,b\n1,2\n3,4\n5,6\n7,8\n")
    result = invoke_in(tmp_path, "fit", "line.csv", "-k", "1", "-o", "labels.csv")
    assert result.exit_code == 0
    assert ("emgmm: warning: line.csv: component 0: covariance collapsed onto the "
            "regularisation floor (the data have no spread along some direction); try "
            "another covariance type, or check the data for a column that is a function of "
            "others\n") in result.stderr
    assert "fewer components" not in result.stderr
