"""The default start (init auto: engine.starts) and accelerated EM (SQUAREM).

References are independent of the code under test: plain EM from the same start (the
iteration the scikit-learn parity tests pin down), and mclust's log-likelihoods on Old
Faithful (tests/data/mclust_faithful.csv, through tests/test_select.py's proof run).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import emgmm_cli
from emgmm_cli import vocab
from emgmm_cli.backends.local import ArrayDataset
from emgmm_cli.cli.main import cli
from emgmm_cli.engine import FitOptions, fit, initial_params, run_em, stacked, starts
from emgmm_cli.engine.em import (DEGENERATE_RATIO, FEW_ROWS_PER_DIM, MCLUST_TOL, SINGULAR_RATIO,
                                 DegenerateTest, EMRun)
from emgmm_cli.engine.hc import seeded_hc_tree
from emgmm_cli.engine.params import MixtureParams
from emgmm_cli.engine.starts import (
    FLOOR_FELT,
    LIFTED_FLOOR,
    SCREEN_ITERS,
    Candidate,
    bhattacharyya,
    candidate_methods,
    floor_felt,
    same_mixture,
    screen,
    screen_count,
    stalled,
    stalled_each,
)
from emgmm_cli.engine.selection import Cell, select
from emgmm_cli.engine.stats import chunk_moments

DATA = Path(__file__).parent / "data"


def faithful() -> np.ndarray:
    return np.loadtxt(DATA / "faithful.csv", delimiter=",", skiprows=1)


def mixture(seed: int, n: int = 400) -> tuple[np.ndarray, int]:
    """Points from a random mixture of 2 to 4 Gaussians in 2 to 4 dimensions."""
    rng = np.random.default_rng(seed)
    k, d = int(rng.integers(2, 5)), int(rng.integers(2, 5))
    centres = rng.normal(scale=3.0, size=(k, d))
    labels = rng.integers(k, size=n)
    mixing = np.eye(d) + 0.3 * rng.normal(size=(k, d, d))
    x = centres[labels] + np.einsum("nd,nde->ne", rng.normal(size=(n, d)), mixing[labels])
    return x, k


# --- accelerated EM ---------------------------------------------------------------------


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_squarem_never_ends_below_plain_em(covariance_type: str) -> None:
    """From the same start, SQUAREM's optimum is at least plain EM's (to 1e-6 of a
    log-likelihood unit per point), its trace never falls, and it needs fewer passes."""
    passes = {"none": 0, "squarem": 0}
    for seed in range(12):
        x, k = mixture(seed)
        ds = ArrayDataset(x)
        moments = ds.reduce(chunk_moments)
        start = initial_params(ds, k, covariance_type, "k-means++", np.random.default_rng(seed),
                               reg_covar=1e-6, column_mean=moments.mean,
                               column_variance=moments.variance)
        runs = {acc: run_em(ds, start, tol=1e-10, max_iter=20000, reg_covar=1e-6,
                            accelerate=acc) for acc in passes}
        for acc, run in runs.items():
            assert run.converged
            passes[acc] += run.passes
        plain, fast = runs["none"].final.loglik, runs["squarem"].final.loglik
        assert fast >= plain - 1e-6 * len(x), (seed, plain, fast)
        trace = np.array([row.log_likelihood for row in runs["squarem"].trace])
        assert (np.diff(trace) >= -1e-12).all()
    assert passes["squarem"] < passes["none"]


#: The families whose components share some of volume, shape and orientation: an
#: extrapolation entry by entry leaves them (em._onto_family).
CONSTRAINED = ("VEI", "EVI", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV")


@pytest.mark.parametrize("covariance_type", CONSTRAINED)
def test_squarem_keeps_a_constrained_familys_guesses_in_it(covariance_type: str) -> None:
    """SQUAREM combined these families' covariances entry by entry: a guess outside the
    model (VEI on iris, K = 2, from random responsibilities: two components' shapes 0.43
    apart) could pass theta1's likelihood, go into the trace at -2.8903 a point, and the
    run fall from there to -2.9538; such drops came in 54 of 140 fits of these families
    on iris and faithful.  Now a guess is taken back into the family: the trace of a run
    that does not end degenerate never falls (but by a hair, 1e-9 a point, as plain EM's
    can), and every guess is of the family."""
    from emgmm_cli.engine import em
    from emgmm_cli.engine.families import family

    guesses: list[MixtureParams] = []
    extrapolate = em._extrapolate

    def watched(*args: object) -> object:
        alpha, guess = extrapolate(*args)  # type: ignore[arg-type]
        if guess is not None:
            guesses.append(guess)
        return alpha, guess

    x = np.loadtxt(DATA / "iris.csv", delimiter=",", skiprows=1)
    fam = family(covariance_type)
    em._extrapolate = watched  # type: ignore[assignment]
    try:
        for k, seed in ((2, 1), (2, 2), (3, 1), (4, 2)):
            f = emgmm_cli.fit(x, k, covariance_type=covariance_type, seed=seed, n_init=1,
                              init="random", tol=1e-9)
            if f.result.degenerate:
                continue
            trace = np.asarray(f.trace["log_likelihood"])
            # a hair at the end, as plain EM's: the floor, and iterative M-steps' tolerance
            assert (np.diff(trace) >= -1e-9).all(), (k, seed, np.diff(trace).min())
    finally:
        em._extrapolate = extrapolate
    assert guesses
    for guess in guesses:
        again = fam.m_step(fam.expand(guess.covariances, guess.n_components, 4)
                           * guess.weights.reshape(-1, *[1] * (guess.covariances.ndim - 1)),
                           guess.weights, guess.covariances)
        np.testing.assert_allclose(again, guess.covariances, rtol=1e-6, atol=1e-12)


def iris_std() -> np.ndarray:
    return np.loadtxt(DATA / "iris_std.csv", delimiter=",", skiprows=1)


#: Mclust(X, G = 5, modelNames = "VEV") on tests/data/iris_std.csv (mclust14_iris_std.csv)
MCLUST_IRIS_STD_VEV_5 = -265.482575935928


def hierarchy_start(x: np.ndarray, k: int, covariance_type: str) -> MixtureParams:
    ds = ArrayDataset(x)
    moments = ds.reduce(chunk_moments)
    return initial_params(ds, k, covariance_type, "hc", np.random.default_rng(0),
                          reg_covar=1e-6, column_mean=moments.mean,
                          column_variance=moments.variance, hc_tree=seeded_hc_tree(ds, 0))


def test_squarem_can_stop_at_a_saddle_that_plain_em_crawls_past() -> None:
    """Standardised iris, VEV with K = 5, from mclust's hierarchical start: plain EM
    crawls near -295 for dozens of iterations, then climbs to mclust's optimum; SQUAREM
    from the same start settles by the saddle, 27 below.  From the hierarchy's start EM
    therefore runs as mclust's does until mclust's rule holds, and is only then
    accelerated (mclust_first): it ends where plain EM and mclust end."""
    x = iris_std()
    ds = ArrayDataset(x)
    start = hierarchy_start(x, 5, "VEV")
    runs = {name: run_em(ds, start, tol=1e-6, max_iter=2000, reg_covar=1e-6, **kw)
            for name, kw in (("plain", {"accelerate": "none"}),
                             ("squarem", {"accelerate": "squarem"}),
                             ("first", {"accelerate": "squarem", "mclust_first": True}))}
    ends = {name: run.final.loglik for name, run in runs.items()}
    assert ends["plain"] == pytest.approx(MCLUST_IRIS_STD_VEV_5, abs=0.01)
    assert ends["squarem"] < MCLUST_IRIS_STD_VEV_5 - 20
    assert ends["first"] >= MCLUST_IRIS_STD_VEV_5 - 0.01
    assert runs["first"].converged and runs["first"].passes <= runs["plain"].passes
    # fit --init hc (its first restart) and the default start's run from the hierarchy
    # take this path, also after a thorough (accelerated) screening
    hc = fit(ds, FitOptions(5, "VEV", init="hc", n_init=1))
    assert hc.loglik == pytest.approx(ends["first"], abs=1e-9)
    assert fit(ds, FitOptions(5, "VEV", seed=0)).loglik >= MCLUST_IRIS_STD_VEV_5 - 0.01
    thorough = fit(ds, FitOptions(5, "VEV", n_init=starts.THOROUGH_FROM, seed=0))
    from_hierarchy = [loglik for origin, loglik in zip(thorough.restart_origins,
                                                       thorough.restart_logliks)
                      if origin == "hc"]
    assert from_hierarchy and from_hierarchy[0] >= MCLUST_IRIS_STD_VEV_5 - 0.01


def test_the_run_from_the_hierarchy_is_plain_em_until_mclusts_rule_holds() -> None:
    """mclust_first: the trace is plain EM's, row for row, up to the first iteration whose
    change of the total log-likelihood L is below MCLUST_TOL (1 + |L|); SQUAREM then
    carries it to tol; with accelerate none it is plain EM throughout."""
    x = iris_std()
    ds = ArrayDataset(x)
    start = hierarchy_start(x, 4, "VVV")
    plain = run_em(ds, start, tol=0.0, max_iter=300, reg_covar=1e-6, accelerate="none")
    first = run_em(ds, start, tol=1e-9, max_iter=2000, reg_covar=1e-6, accelerate="squarem",
                   mclust_first=True)
    totals = np.array([row.log_likelihood for row in plain.trace]) * len(x)
    settled = np.abs(np.diff(totals)) < MCLUST_TOL * (1 + np.abs(totals[1:]))
    switch = int(np.argmax(settled)) + 2  # the rows plain EM makes before mclust stops
    assert settled.any() and 5 < switch < len(first.trace)
    ours = [row.log_likelihood for row in first.trace]
    assert ours[:switch] == [row.log_likelihood for row in plain.trace[:switch]]
    # (the covariance floor, added after each M-step's maximum, can lower a step by a
    # hair: here 4e-10 per point, none without it)
    assert (np.diff(ours) >= -1e-9).all() and first.converged
    none = run_em(ds, start, tol=1e-9, max_iter=2000, reg_covar=1e-6, accelerate="none",
                  mclust_first=True)
    assert [r.log_likelihood for r in none.trace] == [
        r.log_likelihood for r in run_em(ds, start, tol=1e-9, max_iter=2000, reg_covar=1e-6,
                                         accelerate="none").trace]


def test_hard_em_is_never_accelerated() -> None:
    x, k = mixture(3)
    ds = ArrayDataset(x)
    moments = ds.reduce(chunk_moments)
    start = initial_params(ds, k, "full", "kmeans", np.random.default_rng(0), reg_covar=1e-6,
                           column_mean=moments.mean, column_variance=moments.variance)
    runs = [run_em(ds, start, tol=1e-9, max_iter=500, reg_covar=1e-6, hard=True,
                   accelerate=acc) for acc in ("none", "squarem")]
    assert [r.log_likelihood for r in runs[0].trace] == [r.log_likelihood for r in runs[1].trace]


# --- stalled starts ---------------------------------------------------------------------


def test_a_stalled_start_is_detected() -> None:
    """Random responsibilities on many points put every mean near the data's mean; two
    EM iterations later the components are still nearly the same Gaussian."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(20000, 3)) + shift for shift in (0, 4, 8)])
    ds = ArrayDataset(x)
    moments = ds.reduce(chunk_moments)
    start = initial_params(ds, 3, "full", "random", rng, reg_covar=1e-6,
                           column_mean=moments.mean, column_variance=moments.variance)
    run = run_em(ds, start, tol=1e-3, max_iter=2, reg_covar=1e-6)
    assert stalled(start) and stalled(run.params)
    assert bhattacharyya(run.params).max() < 1e-4
    good = fit(ds, FitOptions(3, seed=0))
    assert not stalled(good.params)
    assert np.sort(good.params.means[:, 0]).round(1).tolist() == pytest.approx([0, 4, 8], abs=0.1)


def test_bhattacharyya_distance_closed_form() -> None:
    """Two 1-D Gaussians: (m1 - m2)^2 / (4 (s1 + s2)) + ln((s1 + s2) / (2 sqrt(s1 s2))) / 2."""
    from emgmm_cli.engine.params import MixtureParams

    params = MixtureParams.build(np.array([0.5, 0.5]), np.array([[0.0], [3.0]]),
                                 np.array([1.0, 4.0]), "spherical")
    expected = 9 / (4 * 5) + 0.5 * np.log(5 / (2 * 2))
    assert bhattacharyya(params)[0, 1] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_candidates_judged_together_are_judged_as_one_at_a_time(covariance_type: str) -> None:
    """stalled_each and DegenerateTest.each, which judge a cell's screened candidates in one
    batched computation, against the textbook formulas applied one pair and one component
    at a time: among the mixtures, one with a duplicated component (stalled) and one with
    a component collapsed onto the floor (degenerate, where the family lets a component
    have its own covariance)."""
    from emgmm_cli.engine.families import family
    from emgmm_cli.engine.params import MixtureParams

    rng = np.random.default_rng(5)
    k, d, reg = 4, 3, 1e-6
    # 20 rows of column variances 2, 0.5 and 0 (the last column constant: left out)
    sign = np.tile([1.0, -1.0], 10)
    x = np.c_[sign * np.sqrt(2.0), sign * np.sqrt(0.5), np.zeros(20)]
    test = DegenerateTest.of(ArrayDataset(x), x.var(axis=0))
    assert test.singular == SINGULAR_RATIO and test.rows == 20
    fam = family(covariance_type)
    mixtures = []
    for i in range(6):
        means = rng.normal(scale=2.0, size=(k, d))
        a = rng.normal(size=(k, d, d))
        full = a @ a.transpose(0, 2, 1) + 0.1 * np.eye(d)
        if i == 1:  # component 3 a copy of component 0
            means[3], full[3] = means[0], full[0]
        if i == 2:  # component 2 flat onto the floor
            full[2] = np.diag([reg, reg, reg])
        cov = {"full": full, "tied": full[0],
               "diag": np.diagonal(full, axis1=1, axis2=2).copy(),
               "spherical": np.diagonal(full, axis1=1, axis2=2).mean(axis=1)}[covariance_type]
        mixtures.append(MixtureParams.build(np.full(k, 1 / k), means, cov, covariance_type))

    def distance(m1: np.ndarray, s1: np.ndarray, m2: np.ndarray, s2: np.ndarray) -> float:
        mid = (s1 + s2) / 2
        return float((m1 - m2) @ np.linalg.inv(mid) @ (m1 - m2) / 8 + 0.5 * np.log(
            np.linalg.det(mid) / np.sqrt(np.linalg.det(s1) * np.linalg.det(s2))))

    expected_stalled, expected_degenerate = [], []
    for p in mixtures:
        full = p.full_covariances()
        pairs = [distance(p.means[i], full[i], p.means[j], full[j])
                 for i in range(k) for j in range(i + 1, k)]
        expected_stalled.append(min(pairs) < starts.STALL_DISTANCE)
        rows = p.weights * test.rows
        spread = [np.linalg.eigvalsh(full[c][:2, :2]) - reg for c in range(k)]
        expected_degenerate.append([c for c in range(k) if spread[c][0] < x[:, 1].var() * (
            DEGENERATE_RATIO if rows[c] < FEW_ROWS_PER_DIM * (d + 1)
            else SINGULAR_RATIO)])
    assert stalled_each(mixtures) == expected_stalled == [stalled(p) for p in mixtures]
    assert test.each(mixtures, reg) == expected_degenerate
    assert expected_stalled[1] and sum(expected_stalled) == 1
    assert expected_degenerate[2] == ([2] if fam.per_component else [])


def test_screening_ranks_stalled_candidates_last() -> None:
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(size=(3000, 2)) + shift for shift in (0, 6)])
    ds = ArrayDataset(x)
    moments = ds.reduce(chunk_moments)
    options = FitOptions(2, seed=3, n_init=2)
    ranked = screen(ds, options, np.random.SeedSequence(3), moments.mean, moments.variance,
                    None)
    assert [c.method for c in ranked if not c.usable] == ["random"]
    last = ranked[-1].params
    assert ranked[-1].method == "random" and last is not None and stalled(last)
    assert all(c.usable for c in ranked[:-1])
    assert Candidate(0, "kmeans", loglik=-1.0, usable=True).rank() < \
        Candidate(1, "random", loglik=0.0, usable=False).rank()
    assert candidate_methods(3, hierarchy=True) == ["hc", "kmeans", "random"]


def test_a_fit_given_more_runs_screens_its_candidates_thoroughly() -> None:
    """From n_init THOROUGH_FROM on, the candidates run THOROUGH_ITERS iterations,
    accelerated as the fit asks, and random responsibilities join the turn."""
    short = FitOptions(3, n_init=starts.THOROUGH_FROM - 1)
    long = FitOptions(3, n_init=starts.THOROUGH_FROM)
    assert starts.screen_iterations(short) == (SCREEN_ITERS, "none")
    assert starts.screen_iterations(long) == (starts.THOROUGH_ITERS, "squarem")
    plain = FitOptions(3, n_init=starts.THOROUGH_FROM, accelerate="none")
    assert starts.screen_iterations(plain) == (starts.THOROUGH_ITERS, "none")
    assert "random" not in candidate_methods(12, hierarchy=True)[3:]
    assert candidate_methods(7, hierarchy=True, thorough=True) == [
        "hc", "kmeans", "random", "kmeans", "random", "k-means++", "random-from-data"]


def standardised_wine() -> np.ndarray:
    from sklearn.datasets import load_wine

    x = load_wine().data
    return (x - x.mean(axis=0)) / x.std(axis=0)


@pytest.mark.parametrize(("dataset", "covariance_type", "k"), [
    ("faithful", "full", 5), ("wine (std)", "tied", 6)])
def test_the_thorough_screening_reaches_scikit_learns_best_of_30_restarts(
        monkeypatch: pytest.MonkeyPatch, dataset: str, covariance_type: str, k: int) -> None:
    """Two cells of benchmarks/optima.py where fit --n-init 10 with the short screening
    stopped below scikit-learn's best of 30 k-means restarts (its oracle, run here as the
    benchmark runs it): the thorough screening reaches it."""
    from sklearn.mixture import GaussianMixture

    x = faithful() if dataset == "faithful" else standardised_wine()
    oracle = GaussianMixture(k, covariance_type=covariance_type, n_init=30, tol=1e-7,
                             max_iter=2000, reg_covar=1e-6, random_state=0).fit(x)
    target = oracle.score(x) * len(x) - 0.01
    options = FitOptions(k, covariance_type=covariance_type, n_init=10, seed=0)
    assert fit(ArrayDataset(x), options).loglik >= target
    monkeypatch.setattr(starts, "THOROUGH_FROM", 11)
    assert fit(ArrayDataset(x), options).loglik < target


def test_the_screening_runs_its_candidates_in_the_stacks_groups(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the memory bound of a stack (engine.stacked.STACK_BYTES), the screening runs
    its candidates in run_stacked's own groups, each group's screened mixtures taking the
    place of its starts before the next group runs; the runs are those of one call."""
    x, k = mixture(4)
    ds = ArrayDataset(x)
    moments = chunk_moments(x)
    options = FitOptions(k, "full", n_init=2, seed=0)
    methods = candidate_methods(8)
    first = [initial_params(ds, k, "full", m, np.random.default_rng(i), reg_covar=1e-6,
                            column_mean=moments.mean, column_variance=moments.variance)
             for i, m in enumerate(methods)]
    cands = [Candidate(i, m, params=p) for i, (m, p) in enumerate(zip(methods, first))]
    per_run = first[0].family.work_columns(k, x.shape[1]) * len(x) * 8
    monkeypatch.setattr(stacked, "STACK_BYTES", 3 * per_run)
    whole = stacked.run_stacked(ds, first, tol=1e-6, max_iter=SCREEN_ITERS,
                                reg_covar=1e-6, exact_final=False)
    held: list[int] = []  # at each call, the candidates still holding their starts
    real = starts.run_stacked

    def counted(data: ArrayDataset, runs: list, **kw: object) -> list:
        held.append(sum(c.params is p for c, p in zip(cands, first)))
        return real(data, runs, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(starts, "run_stacked", counted)
    starts._iterate(ds, options, cands)
    assert held == [8, 5, 2]
    for cand, run in zip(cands, whole):
        assert isinstance(run, EMRun) and cand.params is not None
        np.testing.assert_array_equal(cand.params.covariances, run.params.covariances)
        assert cand.loglik == run.final.loglik / run.final.n


# --- the hierarchy's start with the floor lifted ------------------------------------------


def test_the_floor_is_felt_from_the_least_variance_along_any_direction() -> None:
    """Two columns of variance 1 each, nearly equal: along their difference the data vary
    by 2 * 1e-4**2 = 2e-8, and a floor of 1e-6 is felt there; not once they differ."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=2000)
    close = np.c_[a, a + rng.normal(scale=1e-4, size=2000)]
    apart = np.c_[a, rng.normal(size=2000)]
    assert floor_felt(1e-6, ArrayDataset(close))
    assert not floor_felt(1e-6, ArrayDataset(apart))
    least = float(np.linalg.eigvalsh(np.cov(apart, rowvar=False, bias=True))[0])
    assert floor_felt(FLOOR_FELT * least, ArrayDataset(apart))
    assert not floor_felt(FLOOR_FELT * least * 0.999, ArrayDataset(apart))
    assert not floor_felt(1.0, ArrayDataset(np.ones((5, 2))))  # no spread at all


def test_relative_tol_stops_as_mclust_does() -> None:
    """run_em(relative_tol=True) stops at the first iteration whose total log-likelihood
    L changes by less than tol (1 + |L|), plain EM's trace until then."""
    x = faithful()
    ds = ArrayDataset(x)
    moments = chunk_moments(x)
    start = initial_params(ds, 3, "full", "kmeans", np.random.default_rng(1), reg_covar=1e-6,
                           column_mean=moments.mean, column_variance=moments.variance)
    stopped = run_em(ds, start, tol=1e-5, max_iter=500, reg_covar=1e-6, relative_tol=True)
    plain = run_em(ds, start, tol=0.0, max_iter=stopped.n_iter + 5, reg_covar=1e-6)
    totals = np.array([row.log_likelihood for row in plain.trace]) * len(x)
    met = np.abs(np.diff(totals)) < 1e-5 * (1.0 + np.abs(totals[1:]))
    assert stopped.converged and stopped.n_iter == int(np.argmax(met)) + 2
    assert [r.log_likelihood for r in stopped.trace] == \
        [r.log_likelihood for r in plain.trace[:stopped.n_iter]]
    # the rule is plain EM's: asked to accelerate, the run is the same
    asked = run_em(ds, start, tol=1e-5, max_iter=500, reg_covar=1e-6, relative_tol=True,
                   accelerate="squarem")
    assert [r.log_likelihood for r in asked.trace] == \
        [r.log_likelihood for r in stopped.trace]


def test_the_floor_is_felt_on_breast_cancer_and_not_on_the_other_datasets() -> None:
    """What docs/numerics.md says of the benchmark's datasets, with reg_covar 1e-6."""
    from sklearn.datasets import load_breast_cancer, load_iris, load_wine

    def standardised(x: np.ndarray) -> np.ndarray:
        return (x - x.mean(axis=0)) / x.std(axis=0)

    cancer = np.asarray(load_breast_cancer().data, dtype=np.float64)
    felt = {"breast cancer": cancer, "breast cancer (std)": standardised(cancer)}
    unfelt = {"faithful": faithful(), "iris": load_iris().data, "wine": load_wine().data,
              "wine (std)": standardised(load_wine().data)}
    assert all(floor_felt(1e-6, ArrayDataset(x)) for x in felt.values())
    assert not any(floor_felt(1e-6, ArrayDataset(np.asarray(x, dtype=np.float64)))
                   for x in unfelt.values())


def screened(x: np.ndarray, k: int, covariance_type: str = "full") -> list[Candidate]:
    from emgmm_cli.engine.hc import hc_tree

    moments = chunk_moments(x)
    return screen(ArrayDataset(x), FitOptions(k, covariance_type, n_init=2, seed=0),
                  np.random.SeedSequence(0), moments.mean, moments.variance, hc_tree(x))


def test_the_hierarchy_is_screened_again_where_the_floor_is_felt() -> None:
    """One column of tiny spread: the floor reg_covar 1e-6 is felt, and the hierarchy's
    start also runs as mclust runs it; rescaled, it is screened once."""
    rng = np.random.default_rng(2)
    x = np.c_[rng.normal(size=(200, 2)) + np.repeat([[0.0, 0.0], [4.0, 1.0]], 100, axis=0),
              rng.normal(scale=1e-3, size=200)]
    lifted = [c for c in screened(x, 2) if c.floor is not None]
    floor = FitOptions(2).reg_covar * LIFTED_FLOOR
    assert [(c.method, c.floor, c.usable) for c in lifted] == [("hc", floor, True)]
    assert all(c.floor is None for c in screened(x / x.std(axis=0), 2))
    assert all(c.floor is None for c in screened(x, 1))  # one component: one optimum
    from emgmm_cli.engine.hc import hc_tree

    moments = chunk_moments(x)
    hard = screen(ArrayDataset(x), FitOptions(2, "full", n_init=2, seed=0, algorithm="hard"),
                  np.random.SeedSequence(0), moments.mean, moments.variance, hc_tree(x))
    assert all(c.floor is None for c in hard)  # mclust's path is soft EM


#: Raw breast cancer, VVV: K -> (mclust's optimum refined under the floor, the default
#: fit's without the mclust-path candidate); docs/numerics.md quotes K = 2's (test_docs).
BREAST_CANCER_VVV = {2: (22656.79, 22639.05), 4: (25548.66, 25507.67)}


@pytest.mark.parametrize("k, oracle, without",
                         [(k, *pair) for k, pair in BREAST_CANCER_VVV.items()])
def test_raw_breast_cancer_reaches_mclusts_optimum_through_the_lifted_floor(
        monkeypatch: pytest.MonkeyPatch, k: int, oracle: float, without: float) -> None:
    """mclust fits raw breast cancer with no floor; its optimum for VVV, refined under
    reg_covar 1e-6 by plain EM (the oracle: mclust 6.0.0's fitted parameters, cached by
    benchmarks/optima.py), is 22656.79 for K = 2 and 25548.66 for K = 4.  The default fit
    reaches it through the hierarchy's start run as mclust runs it; without that
    candidate (and without the moves and the thorough screening, which here climb past
    it: engine.splitmerge, starts.THOROUGH_FROM) it ends lower."""
    from sklearn.datasets import load_breast_cancer

    x = np.asarray(load_breast_cancer().data, dtype=np.float64)
    cache = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
    cell = json.loads((cache / "optima_mclust.json").read_text())["cells"][
        f"breast cancer/full/{k}"]["params"]
    start = emgmm_cli.engine.MixtureParams.build(cell["weights"], cell["means"],
                                                 cell["covariances"], "full")
    refined = run_em(ArrayDataset(x), start, tol=1e-7, max_iter=2000, reg_covar=1e-6)
    assert refined.final.loglik == pytest.approx(oracle, abs=0.01)
    ours = fit(ArrayDataset(x), FitOptions(k, "full", n_init=10, seed=0))
    assert not ours.is_degenerate and ours.loglik >= refined.final.loglik - 0.01
    monkeypatch.setattr("emgmm_cli.engine.starts.FLOOR_FELT", np.inf)
    monkeypatch.setattr("emgmm_cli.engine.splitmerge.FROM_RUNS", 11)
    monkeypatch.setattr("emgmm_cli.engine.starts.THOROUGH_FROM", 11)
    alone = fit(ArrayDataset(x), FitOptions(k, "full", n_init=10, seed=0))
    assert alone.loglik == pytest.approx(without, abs=0.01)


#: Raw breast cancer, VVV with K = 7, a select cell (n-init 2, seed 0): mclust's optimum
#: refined under the floor (as BREAST_CANCER_VVV), and where the cell ended when the
#: hierarchy's start, not the one run as mclust runs it, was the run always made.
BREAST_CANCER_SELECT_VVV7 = (27324.87, 27124.38)


def test_a_select_cell_runs_mclusts_own_start_where_the_floor_is_felt(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With 2 runs, the run always made is mclust's own start: where the floor is felt,
    the hierarchy run as mclust runs EM (ranked third here, after the hierarchy's start
    and hc-family, which both end 200 below), so the cell reaches mclust's optimum."""
    from sklearn.datasets import load_breast_cancer

    oracle, before = BREAST_CANCER_SELECT_VVV7
    x = np.asarray(load_breast_cancer().data, dtype=np.float64)
    cache = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
    cell = json.loads((cache / "optima_mclust.json").read_text())["cells"][
        "breast cancer/full/7"]["params"]
    start = emgmm_cli.engine.MixtureParams.build(cell["weights"], cell["means"],
                                                 cell["covariances"], "full")
    refined = run_em(ArrayDataset(x), start, tol=1e-7, max_iter=2000, reg_covar=1e-6)
    assert refined.final.loglik == pytest.approx(oracle, abs=0.01)
    grid = [Cell("full", 7)]
    ours = select(ArrayDataset(x), grid, FitOptions(1, n_init=2), seed=0).cells[0].result
    assert ours is not None and not ours.is_degenerate
    assert ours.loglik >= refined.final.loglik - 0.01
    assert vocab.LIFTED_ORIGIN in ours.restart_origins
    monkeypatch.setattr(starts, "mclusts_start", lambda ranked: next(
        (c for c in ranked if c.usable and c.origin == "hc"), None))
    hc = select(ArrayDataset(x), grid, FitOptions(1, n_init=2), seed=0).cells[0].result
    assert hc is not None and hc.restart_origins == ["hc-family", "hc"]
    assert hc.loglik == pytest.approx(before, abs=0.01)


def test_a_stalled_run_gives_its_place_but_competes_for_the_cell() -> None:
    """Rounded data, EEI with K = 6: mclust's EM from its hierarchy ends with two of the
    six components all but the same Gaussian (Bhattacharyya distance 5e-5, below
    STALL_DISTANCE) at -501.94 (tests/data/mclust_rounded_pairs.csv).  The runs that end
    so are replaced by further candidates, but their ends compete with the sound runs':
    the cell kept the best sound run, -503.42, below mclust's, exit 0."""
    x = np.loadtxt(DATA / "rounded_pairs.csv", delimiter=",", skiprows=1)
    oracle = np.genfromtxt(DATA / "mclust_rounded_pairs.csv", delimiter=",", names=True,
                           dtype=None, encoding="utf-8")
    assert (str(oracle["mclust_model"]), int(oracle["K"])) == ("EEI", 6)
    mclust = float(oracle["loglik"])
    cell = select(ArrayDataset(x), [Cell("EEI", 6)], FitOptions(1, n_init=2),
                  seed=0).cells[0].result
    assert cell is not None and not cell.is_degenerate
    assert cell.loglik >= mclust - 0.01
    assert starts.stalled(cell.params)
    assert "hc" in cell.restart_origins  # mclust's own start, made as promised
    # the stalled runs were replaced: more runs than the two asked for, every one listed
    assert len(cell.restart_logliks) == len(cell.restart_origins) > 2


# --- the default: deterministic, usable everywhere --------------------------------------


def test_default_is_deterministic_under_a_seed() -> None:
    x, k = mixture(7, n=3000)
    results = [fit(ArrayDataset(x, block_rows=512, n_threads=threads),
                   FitOptions(k + 1, "diag", n_init=3, seed=11)) for threads in (1, 2, 2)]
    assert results[0].options.init == "auto" and results[0].options.accelerate == "squarem"
    for other in results[1:]:
        assert other.loglik == results[0].loglik
        assert np.array_equal(other.params.means, results[0].params.means)
        assert other.restart_logliks == results[0].restart_logliks
    different = fit(ArrayDataset(x), FitOptions(k + 1, "diag", n_init=3, seed=12))
    assert different.restart_logliks != results[0].restart_logliks


def test_default_fit_beats_kmeans_restarts_on_faithful() -> None:
    """full, K = 4 on Old Faithful: ten k-means restarts of plain EM stop at -1114.69
    (docs/numerics.md); the default start reaches mclust's -1111.28 or better."""
    x = faithful()
    plain = fit(ArrayDataset(x), FitOptions(4, init="kmeans", n_init=10, accelerate="none",
                                            seed=0))
    default = fit(ArrayDataset(x), FitOptions(4, n_init=10, seed=0))
    assert default.loglik >= -1111.28 - 0.01
    assert default.loglik > plain.loglik + 1.0


def test_python_api_and_cli_take_the_options(tmp_path: Path) -> None:
    x = faithful()
    fitted = emgmm_cli.fit(x, 2, seed=0, accelerate="none", init="auto")
    assert fitted.document["options"]["accelerate"] == "none"
    result = CliRunner().invoke(cli, ["fit", str(DATA / "faithful.csv"), "-k", "2", "--seed",
                                      "0", "--accelerate", "bogus"])
    assert result.exit_code == 2 and "bogus" in result.output
    result = CliRunner().invoke(cli, ["select", "--help"])
    assert "--accelerate" in result.output and "auto" in result.output


def test_a_real_pipeline_records_the_default(tmp_path: Path) -> None:
    model = tmp_path / "m.json"
    done = subprocess.run(
        [sys.executable, "-m", "emgmm_cli", "fit", str(DATA / "faithful.csv"), "-k", "3",
         "--seed", "0", "--model", str(model), "--quiet"],
        capture_output=True, text=True, check=True)
    assert done.stderr == ""
    options = json.loads(model.read_text())["options"]
    assert options["init"] == "auto" and options["accelerate"] == "squarem"
    # two full runs: mclust's hierarchical start and the best other
    assert options["n_init"] == 2


def test_the_same_mixture_whatever_the_order_of_its_components() -> None:
    from emgmm_cli.engine.params import MixtureParams

    variance = np.array([4.0, 0.25])
    a = MixtureParams.build(np.array([0.3, 0.7]), np.array([[0.0, 1.0], [5.0, -1.0]]),
                            np.stack([np.eye(2), np.diag([2.0, 0.1])]), "VVV")
    swapped = a.permuted(np.array([1, 0]))
    assert same_mixture(a, swapped, variance) and same_mixture(swapped, a, variance)
    # a mean moved by 1e-5 of its column's spread (sd 0.5) is another mixture at 1e-6
    moved = MixtureParams.build(a.weights, a.means + [[0.0, 5e-6], [0.0, 0.0]],
                                a.covariances, "VVV")
    assert not same_mixture(a, moved, variance)
    assert same_mixture(a, moved, variance, tol=1e-4)
    tied = MixtureParams.build(a.weights, a.means, np.eye(2), "EEE")
    assert not same_mixture(a, tied, variance)


def test_candidates_that_screen_to_one_mixture_are_continued_once() -> None:
    # two far apart clusters: every sound start screens to the same two components, so
    # the full runs go on from one of them (and the stalled random start), not from copies
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.normal(size=(300, 2)) + shift for shift in (0, 12)])
    ds = ArrayDataset(x)
    moments = ds.reduce(chunk_moments)
    options = FitOptions(2, "VVV", seed=1, n_init=3, tol=1e-8)
    ranked = screen(ds, options, np.random.SeedSequence(1), moments.mean, moments.variance,
                    None)
    usable = [c for c in ranked if c.usable]
    assert len(ranked) < screen_count(3)  # of 12 candidates, the copies are gone
    assert not any(same_mixture(a.params, b.params, moments.variance)  # type: ignore[arg-type]
                   for i, a in enumerate(usable) for b in usable[i + 1:])
    several = fit(ds, options)
    assert len(several.restart_logliks) <= 2  # fewer runs than n_init: no copies
    single = fit(ds, options.replace(n_init=1))
    assert several.loglik == pytest.approx(single.loglik, rel=1e-12)


def test_mclusts_start_stays_among_the_runs_where_it_screens_to_anothers_mixture(
        ) -> None:
    """Where the hierarchy's candidate screened to the mixture of a better ranked one, it
    was left out as a copy: the runs then held no run from mclust's start (faithful, full
    with K = 2: k-means++ twice), which the help and the guide promise.  It takes the
    other's place; the optima of 756 cells (faithful, iris and wine, raw and
    standardised, every family, K = 1..9) were unchanged by it, 23 of them now say hc."""
    x = np.loadtxt(Path(__file__).resolve().parent.parent / "sample_data" / "faithful.csv",
                   delimiter=",", skiprows=1)
    fitted = emgmm_cli.fit(x, 2, seed=0, covariance_type="full")
    chosen = emgmm_cli.select(x, [2], covariance_types=["full"], seed=0)
    assert chosen.best is not None and "hc" in chosen.best.document["restart_origins"]
    # the swap itself: the same mixture twice, the hierarchy's ranked second by rounding
    params = fitted.params
    better = Candidate(1, "kmeans", params=params, loglik=-100.0, usable=True)
    mclust = Candidate(0, "hc", params=params, loglik=-100.0 - 1e-9, usable=True)
    other = Candidate(2, "random", params=params.permuted(np.array([1, 0])),
                      loglik=-100.0 - 2e-9, usable=True)
    kept = starts._distinct([better, mclust, other], np.var(x, axis=0))
    assert kept == [mclust] and starts.mclusts_start(kept) is mclust


def test_one_component_takes_one_start_and_lands_on_the_closed_form(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """K = 1 has one optimum, the rows' mean and covariance (plus reg_covar): one start
    is made (the starts are counted as they are made), one full run, and numpy's moments
    are the answer."""
    from emgmm_cli.engine import starts

    made: list[str] = []

    def counted(*args: object, **kwargs: object) -> object:
        made.append(str(args[3]))
        return initial_params(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(starts, "initial_params", counted)
    x = faithful()
    moments = chunk_moments(x)
    options = FitOptions(1, "full", n_init=5, seed=0)
    assert len(screen(ArrayDataset(x), options, np.random.SeedSequence(0), moments.mean,
                      moments.variance, None)) == 1
    assert made == ["kmeans"]
    made.clear()
    screen(ArrayDataset(x), options.replace(n_components=2), np.random.SeedSequence(0),
           moments.mean, moments.variance, None)
    assert len(made) == 20  # min(40, 4 x 5) for K = 2
    result = fit(ArrayDataset(x), options)
    assert len(result.restart_logliks) == 1
    np.testing.assert_allclose(result.params.means[0], x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(result.params.covariances[0],
                               np.cov(x, rowvar=False, bias=True) + 1e-6 * np.eye(2),
                               rtol=1e-10)


def test_screening_takes_short_iterative_m_steps_and_the_full_runs_exact_ones(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On 34 columns of blobs EVE's common orientation takes many steps: each screened
    candidate's M-steps took up to MSTEP_MAX_ITER (1000) majorisation steps, 9 s for one
    fit of K = 4, and a first M-step from the blobs' own labels here takes over a hundred
    quasi-Newton steps.  Screening ranks candidates by where a few EM iterations lead, so
    within it an iterative M-step takes at most SCREEN_MSTEP_ITER steps; the full runs
    are not bounded so.  Counted here: the most steps (beyond NEWTON_COLUMNS, quasi-Newton
    ones: their line searches) of one M-step inside a fit's screening, and of that first
    M-step inside screening_m_steps() and outside."""
    from emgmm_cli.engine import families

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0.0, 1.0, (60, 34)) * rng.uniform(0.3, 2.0, 34) + 8.0 * j
                        for j in range(2)])
    assert x.shape[1] > families.NEWTON_COLUMNS[1]
    steps, most = [0], [0]
    search, orientation, screen = (families._line_search, families._common_orientation,
                                   starts.screen)

    def step(*inner: object) -> object:
        steps[0] += 1
        return search(*inner)  # type: ignore[arg-type]

    def counted_orientation(*args: object) -> object:
        steps[0] = 0
        try:
            return orientation(*args)  # type: ignore[arg-type]
        finally:
            most[0] = max(most[0], steps[0])

    def counted_screen(*args: object, **kwargs: object) -> object:
        monkeypatch.setattr(families, "_common_orientation", counted_orientation)
        try:
            return screen(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            monkeypatch.setattr(families, "_common_orientation", orientation)

    monkeypatch.setattr(families, "_line_search", step)
    monkeypatch.setattr(starts, "screen", counted_screen)
    assert fit(ArrayDataset(x), FitOptions(2, covariance_type="EVE", seed=0)).converged
    assert 0 < most[0] <= families.SCREEN_MSTEP_ITER
    labels = np.repeat([0, 1], 60)
    nk = np.bincount(labels).astype(float)
    w = np.array([np.cov(x[labels == j].T, bias=True) * nk[j] for j in range(2)])
    m_step = families.family("EVE").m_step
    with families.screening_m_steps():
        assert families._max_iter() == families.SCREEN_MSTEP_ITER
        steps[0] = 0
        m_step(w, nk, None)
        assert steps[0] == families.SCREEN_MSTEP_ITER
    assert families._max_iter() == families.MSTEP_MAX_ITER
    steps[0] = 0
    m_step(w, nk, None)
    assert steps[0] > families.SCREEN_MSTEP_ITER
