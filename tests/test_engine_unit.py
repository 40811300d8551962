"""Unit tests of the engine against naive oracles, and the invariants EM must keep.

Oracles: scipy.stats log-pdfs for the log-densities, np.linalg.inv for the precisions,
np.cov with aweights for the M-step covariances.  Invariants: responsibilities sum to 1,
labels are the arg-max, the log-likelihood never decreases, restarts never hurt, the
statistics of two halves add up to those of the whole.  Every random draw is seeded.
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from emgmm_cli.backends.local import ArrayDataset
from emgmm_cli.engine import (
    FAMILIES,
    INIT_METHODS,
    FitOptions,
    InvalidParameter,
    MixtureParams,
    NotPositiveDefinite,
    SuffStats,
    chunk_stats,
    fit,
    initial_params,
    m_step,
    predict_chunk,
    run_em,
)
from emgmm_cli.engine.em import COLLAPSE_MASS
from emgmm_cli.engine.errors import FEWER_COMPONENTS, LARGER_REG_COVAR, STANDARDIZE
from emgmm_cli.engine.stats import chunk_moments, stats_from_resp

Array = NDArray[np.floating]
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


# --- helpers -----------------------------------------------------------------------------


def random_covariances(rng: np.random.Generator, k: int, d: int, covariance_type: str,
                       low: float = 0.2, high: float = 3.0) -> Array:
    """Valid covariances of the family's shape, with scales drawn from [low, high]."""
    if covariance_type == "full":
        a = rng.normal(size=(k, d, d))
        return a @ a.transpose(0, 2, 1) + low * np.eye(d)
    if covariance_type == "tied":
        a = rng.normal(size=(d, d))
        return a @ a.T + low * np.eye(d)
    if covariance_type == "diag":
        return rng.uniform(low, high, size=(k, d))
    return rng.uniform(low, high, size=k)


def random_params(rng: np.random.Generator, k: int, d: int, covariance_type: str,
                  spread: float = 3.0) -> MixtureParams:
    return MixtureParams.build(
        rng.dirichlet(np.ones(k)),
        rng.normal(scale=spread, size=(k, d)),
        random_covariances(rng, k, d, covariance_type),
        covariance_type,
    )


def clusters(seed: int, d: int = 2, sizes: tuple[int, ...] = (120, 100, 80),
             spread: float = 4.0) -> Array:
    """Gaussian clusters with random centres and anisotropic spreads."""
    rng = np.random.default_rng(seed)
    parts = []
    for n in sizes:
        centre = rng.normal(scale=spread, size=d)
        mixing = np.eye(d) + 0.3 * rng.normal(size=(d, d))
        parts.append(centre + rng.normal(size=(n, d)) @ mixing)
    x = np.concatenate(parts)
    return x[rng.permutation(len(x))]


def start_params(x: Array, k: int, covariance_type: str, method: str, seed: int,
                 reg_covar: float = 1e-6) -> MixtureParams:
    ds = ArrayDataset(x, n_threads=1)
    m = ds.reduce(chunk_moments)
    return initial_params(ds, k, covariance_type, method, np.random.default_rng(seed),
                          reg_covar=reg_covar, column_mean=m.mean, column_variance=m.variance)


def weighted_log_prob(params: MixtureParams, x: Array) -> Array:
    """log pi_k + log N(x_i | k), (n, K), as the engine's E-step kernel computes it."""
    lp, _ = params.kernel(x.dtype).log_prob(x)
    return lp.T.copy()


def naive_covariance(x: Array, w: Array) -> Array:
    """Weighted empirical covariance, normalised by the sum of the weights."""
    return np.atleast_2d(np.cov(x, rowvar=False, aweights=w, bias=True))


def assert_stats_equal(a: SuffStats, b: SuffStats, rtol: float) -> None:
    assert a.n == b.n
    for name in ("nk", "sk", "scatter", "loglik", "objective", "log_max_resp"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=1e-12,
                                   err_msg=name)


# --- E-step against scipy --------------------------------------------------------------


@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_weighted_log_prob_matches_scipy(covariance_type: str, d: int) -> None:
    rng = np.random.default_rng(100 + d)
    params = random_params(rng, 4, d, covariance_type)
    x = rng.normal(scale=4.0, size=(50, d))
    full = params.full_covariances()
    expected = np.column_stack([
        multivariate_normal(params.means[k], full[k]).logpdf(x).reshape(-1)
        + np.log(params.weights[k])
        for k in range(4)
    ])
    np.testing.assert_allclose(weighted_log_prob(params, x), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_weighted_log_prob_far_from_the_origin(covariance_type: str) -> None:
    """Data and means near 1e6: the shifted expansion keeps the distances accurate."""
    rng = np.random.default_rng(7)
    params = random_params(rng, 3, 2, covariance_type)
    shifted = MixtureParams.build(params.weights, params.means + 1e6, params.covariances,
                                  covariance_type)
    x = rng.normal(scale=3.0, size=(40, 2))
    np.testing.assert_allclose(weighted_log_prob(shifted, x + 1e6),
                               weighted_log_prob(params, x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("far", [1e8, 1e12, 1e20, 1e300])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_a_mean_far_from_the_others_leaves_every_density_exact(covariance_type: str,
                                                              far: float) -> None:
    """One mean moved far off (a model file's): the kernel's centre, the means' mean,
    went with it, and the expansion about it lost the residuals near the other means
    (log-densities off by 0.057 at 1e8 for a diagonal family, by everything from 1e16
    on).  Exact mode (kernels.EXACT_OFFSET) keeps them: scipy's to 1e-10."""
    rng = np.random.default_rng(11)
    base = random_params(rng, 3, 2, covariance_type)
    means = base.means.copy()
    means[0, 0] = far
    params = MixtureParams.build(base.weights, means, base.covariances, covariance_type)
    x = rng.normal(scale=4.0, size=(60, 2))
    full = params.full_covariances()
    with np.errstate(over="ignore"):  # scipy's own squares of the far mean's residuals
        expected = np.column_stack([multivariate_normal(means[k], full[k]).logpdf(x)
                                    + np.log(params.weights[k]) for k in range(3)])
    got = weighted_log_prob(params, x)
    np.testing.assert_allclose(got[:, 1:], expected[:, 1:], rtol=1e-10, atol=1e-10)
    assert (got[:, 0] < -1e10).all()
    assert params.kernel(x.dtype).exact is not None


@pytest.mark.parametrize("covariance_type", sorted(FAMILIES))
def test_exact_mode_gives_the_shared_expansions_statistics(
        covariance_type: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On ordinary data the two ways agree to rounding: each component's residuals from
    its own mean, and the expansion about the centre (every kernel in exact mode with
    EXACT_OFFSET 0)."""
    from emgmm_cli.engine import kernels

    x = clusters(5, d=3)
    params = start_params(x, 3, covariance_type, "kmeans", 0)
    shared = chunk_stats(x, params)
    monkeypatch.setattr(kernels, "EXACT_OFFSET", 0.0)
    again = MixtureParams.build(params.weights, params.means, params.covariances,
                                covariance_type)
    assert again.kernel(x.dtype).exact is not None
    assert_stats_equal(chunk_stats(x, again), shared, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_input_close_to_float64(covariance_type: str) -> None:
    rng = np.random.default_rng(3)
    params = random_params(rng, 3, 3, covariance_type)
    x = rng.normal(scale=3.0, size=(60, 3))
    lp32 = weighted_log_prob(params, x.astype(np.float32))
    assert lp32.dtype == np.float32
    np.testing.assert_allclose(lp32, weighted_log_prob(params, x), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical", "VEV",
                                             "EEI"])
def test_float32_data_far_from_zero_reaches_float64s_fit(covariance_type: str) -> None:
    """Two clusters of spread 1 and 0.5 at 1e5 in float32: the first moments were taken
    as resp @ x (rounding the means by 0.06), and the kernel's centre was rounded to
    float32 for the rows but not for the means (every residual off by up to 1% of a
    spread): full ended 0.45 below its maximum and reported a log-likelihood 0.06 above
    what its parameters give, exit 0.  Now the float32 fit ends where the float64 fit of
    the same values does, and reports what scipy gives for its parameters."""
    import emgmm_cli
    from emgmm_cli.app.requests import ReadOptions

    rng = np.random.default_rng(11)
    x = (np.vstack([rng.normal([0, 0], 1, (200, 2)), rng.normal([6, 6], 0.5, (200, 2))])
         + 1e5).astype(np.float32)
    single = emgmm_cli.fit(x, 2, covariance_type=covariance_type, seed=0,
                           read=ReadOptions(dtype="float32"))
    double = emgmm_cli.fit(x.astype(np.float64), 2, covariance_type=covariance_type, seed=0)
    full = single.params.full_covariances()
    density = logsumexp([np.log(single.weights[k]) + multivariate_normal(
        single.means[k], full[k]).logpdf(x.astype(np.float64)) for k in range(2)], axis=0)
    assert abs(single.log_likelihood - density.sum()) < 2e-3
    assert abs(single.log_likelihood - double.log_likelihood) < 2e-3


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_precision_cholesky_against_inverse(covariance_type: str) -> None:
    rng = np.random.default_rng(11)
    params = random_params(rng, 3, 4, covariance_type)
    pc = params.precisions_cholesky
    full = params.full_covariances()
    if covariance_type in ("full", "tied"):
        assert pc.shape == (3, 4, 4)  # one factor per component, shared or not
        for u, cov in zip(pc, full):
            np.testing.assert_array_equal(u, np.triu(u))  # upper triangular
            np.testing.assert_allclose(u @ u.T, np.linalg.inv(cov), rtol=1e-10, atol=1e-12)
    else:
        assert pc.shape == (3, 4)
        np.testing.assert_allclose(pc * pc, 1.0 / np.diagonal(full, axis1=1, axis2=2),
                                   rtol=1e-12)
    # +log|U| is -0.5 log|Sigma|, per component.
    expected = -0.5 * np.linalg.slogdet(params.full_covariances())[1]
    np.testing.assert_allclose(params.log_det, expected, rtol=1e-12)


# --- M-step against np.cov ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["one-hot", "soft"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_m_step_matches_weighted_empirical_covariance(covariance_type: str, kind: str) -> None:
    rng = np.random.default_rng(5)
    n, d, k, reg = 300, 3, 3, 1e-3
    x = clusters(5, d=d, sizes=(100, 100, 100))
    if kind == "one-hot":
        resp = np.eye(k)[rng.integers(k, size=n)]
    else:
        resp = rng.dirichlet(np.ones(k), size=n)
    # The statistics may be centred anywhere: the data's mean, a random point, far away.
    for centers in (np.broadcast_to(x.mean(axis=0), (k, d)), rng.normal(size=(k, d)),
                    x.mean(axis=0) + 50.0 * rng.normal(size=(k, d))):
        stats = stats_from_resp(x, resp, np.array(centers), covariance_type)
        params, collapsed = m_step(stats, np.array(centers), covariance_type, reg)
        assert len(collapsed) == 0
        nk = resp.sum(axis=0)
        np.testing.assert_allclose(params.weights, nk / n, rtol=1e-12)
        means = np.array([np.average(x, axis=0, weights=resp[:, j]) for j in range(k)])
        np.testing.assert_allclose(params.means, means, rtol=1e-10, atol=1e-12)
        covs = np.array([naive_covariance(x, resp[:, j]) for j in range(k)])
        if covariance_type == "full":
            expected = covs + reg * np.eye(d)
        elif covariance_type == "tied":
            expected = np.einsum("k,kde->de", nk, covs) / n + reg * np.eye(d)
        elif covariance_type == "diag":
            expected = np.diagonal(covs, axis1=1, axis2=2) + reg
        else:
            expected = np.diagonal(covs, axis1=1, axis2=2).mean(axis=1) + reg
        np.testing.assert_allclose(params.covariances, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_suff_stats_of_two_halves_add_to_the_whole(covariance_type: str, hard: bool) -> None:
    rng = np.random.default_rng(9)
    x = clusters(9, d=3)
    params = random_params(rng, 3, 3, covariance_type)
    whole = chunk_stats(x, params, hard=hard)
    for cut in (1, 137, len(x) - 1):
        halves = chunk_stats(x[:cut], params, hard=hard) + chunk_stats(x[cut:], params, hard=hard)
        assert_stats_equal(halves, whole, rtol=1e-11)
    assert whole.n == len(x)
    np.testing.assert_allclose(whole.nk.sum(), len(x), rtol=1e-12)


# --- responsibilities and labels ---------------------------------------------------------


@pytest.mark.parametrize("scale", [1.0, 1e3])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_responsibilities_sum_to_one_and_labels_are_argmax(covariance_type: str,
                                                           scale: float) -> None:
    # scale 1e3 puts points thousands of standard deviations from every mean, where the
    # densities underflow: the log-space normalisation must still give proper rows.
    rng = np.random.default_rng(21)
    params = random_params(rng, 4, 3, covariance_type)
    x = rng.normal(scale=4.0 * scale, size=(200, 3))
    pred = predict_chunk(x, params)
    assert np.all(np.isfinite(pred.resp))
    assert np.all((pred.resp >= 0) & (pred.resp <= 1))
    np.testing.assert_allclose(pred.resp.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(pred.labels, pred.resp.argmax(axis=1))
    lp = weighted_log_prob(params, x)
    np.testing.assert_allclose(pred.log_density, logsumexp(lp, axis=1), rtol=1e-12)

    # hard EM counts each point once, in its arg-max component
    hard = chunk_stats(x, params, hard=True)
    np.testing.assert_array_equal(hard.nk, np.bincount(pred.labels, minlength=4))


# --- EM climbs ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_soft_em_log_likelihood_never_decreases(covariance_type: str, seed: int) -> None:
    x = clusters(30 + seed, d=3, spread=2.0)
    for method in ("random-from-data", "random"):
        start = start_params(x, 4, covariance_type, method, seed, reg_covar=0.0)
        run = run_em(ArrayDataset(x), start, tol=0.0, max_iter=60, reg_covar=0.0)
        trace = np.array([r.log_likelihood for r in run.trace] + [run.final.loglik / len(x)])
        steps = np.diff(trace)
        assert steps.min() >= -1e-12 * np.abs(trace).max(), (method, steps.min())


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_hard_em_classification_objective_never_decreases(covariance_type: str,
                                                          seed: int) -> None:
    x = clusters(40 + seed, d=2, spread=2.0)
    start = start_params(x, 3, covariance_type, "random-from-data", seed, reg_covar=0.0)
    run = run_em(ArrayDataset(x), start, tol=0.0, max_iter=60, reg_covar=0.0, hard=True)
    trace = np.array([r.log_likelihood for r in run.trace])
    assert np.diff(trace).min(initial=0.0) >= -1e-12 * np.abs(trace).max()
    # Hard EM stops by itself once no point changes component.
    assert run.converged and run.n_iter < 60


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_n_init_5_never_worse_than_n_init_1(covariance_type: str, seed: int) -> None:
    x = clusters(50, d=2, sizes=(80, 70, 60, 50), spread=2.5)
    one = fit(ArrayDataset(x), FitOptions(4, covariance_type, init="random-from-data",
                                          n_init=1, seed=seed))
    five = fit(ArrayDataset(x), FitOptions(4, covariance_type, init="random-from-data",
                                           n_init=5, seed=seed))
    # Restart 0 of five draws from the same child seed as the single run.
    assert five.restart_logliks[0] == one.loglik
    assert len(five.restart_logliks) == 5
    assert not one.is_degenerate and not five.is_degenerate
    assert five.loglik >= one.loglik
    assert five.loglik >= max(five.restart_logliks) * (1 + 1e-9)  # (log-likelihoods < 0)


# --- parameter counts --------------------------------------------------------------------


# K = 3, D = 4: covariance parameters + K*D means + (K - 1) weights.
N_PARAMETERS = {"full": 30 + 12 + 2, "tied": 10 + 12 + 2, "diag": 12 + 12 + 2,
                "spherical": 3 + 12 + 2}


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_n_parameters_table(covariance_type: str) -> None:
    assert N_PARAMETERS == {"full": 44, "tied": 24, "diag": 26, "spherical": 17}
    params = random_params(np.random.default_rng(0), 3, 4, covariance_type)
    assert params.n_parameters() == N_PARAMETERS[covariance_type]


def test_criteria_use_the_parameter_count() -> None:
    x = clusters(60, d=2)
    result = fit(ArrayDataset(x), FitOptions(3, "diag", seed=0))
    n, p = len(x), result.n_parameters
    assert p == 3 * 2 + 3 * 2 + 2
    assert result.bic == pytest.approx(-2 * result.loglik + p * np.log(n), rel=1e-14)
    assert result.aic == pytest.approx(-2 * result.loglik + 2 * p, rel=1e-14)
    assert result.icl >= result.bic  # the entropy term is never negative


# --- reproducibility ---------------------------------------------------------------------


@pytest.mark.parametrize("init", INIT_METHODS)
def test_same_seed_same_result_whatever_the_chunking(init: str) -> None:
    x = clusters(70, d=3, sizes=(150, 120, 90))
    options = FitOptions(3, "full", init=init, n_init=2, seed=1234)
    a = fit(ArrayDataset(x), options)
    b = fit(ArrayDataset(x), options)
    np.testing.assert_array_equal(a.params.means, b.params.means)
    np.testing.assert_array_equal(a.params.covariances, b.params.covariances)
    assert a.loglik == b.loglik and a.n_iter == b.n_iter
    for block_rows, n_threads in ((7, 1), (64, 2), (100, 2)):
        c = fit(ArrayDataset(x, block_rows=block_rows, n_threads=n_threads), options)
        # With kmeans both restarts reach the same optimum, components permuted; the
        # log-likelihoods differ only in the last bits, which depend on the chunking, and
        # must not decide which restart (and so which label order) is reported.
        assert c.best_restart == a.best_restart
        assert c.n_iter == a.n_iter
        np.testing.assert_allclose(c.params.means, a.params.means, rtol=1e-12)
        np.testing.assert_allclose(c.params.covariances, a.params.covariances, rtol=1e-12,
                                   atol=1e-14)
        np.testing.assert_allclose(c.loglik, a.loglik, rtol=1e-12)


def test_different_seeds_give_different_starts() -> None:
    x = clusters(71, d=2)
    a = fit(ArrayDataset(x), FitOptions(3, init="random-from-data", max_iter=1, seed=1))
    b = fit(ArrayDataset(x), FitOptions(3, init="random-from-data", max_iter=1, seed=2))
    assert not np.array_equal(a.params.means, b.params.means)


# --- errors: invalid parameters --------------------------------------------------------


def test_identical_starting_means_are_rejected_quickly() -> None:
    x = clusters(80, d=2)
    means = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    msg = "rows 0 and 2 of means_init are identical; identical starting means can never separate"
    t0 = time.perf_counter()
    with pytest.raises(InvalidParameter, match=re.escape(msg)):
        fit(ArrayDataset(x), FitOptions(3, "full", seed=0), means_init=means)
    # All K starting means equal, with K large: still an immediate error, not a hang.
    with pytest.raises(InvalidParameter,
                       match=re.escape("rows 0 and 1 of means_init are identical")):
        fit(ArrayDataset(x), FitOptions(200, "diag", seed=0), means_init=np.zeros((200, 2)))
    assert time.perf_counter() - t0 < 2.0


def test_means_init_of_the_wrong_shape() -> None:
    x = clusters(81, d=2)
    msg = "expected 3 x 2 (K x D) means_init, not 2 x 2"
    with pytest.raises(InvalidParameter, match=re.escape(msg)):
        fit(ArrayDataset(x), FitOptions(3, seed=0), means_init=np.zeros((2, 2)))


def test_more_components_than_distinct_points() -> None:
    x = np.repeat(np.array([[0.0, 1.0], [2.0, 3.0]]), 50, axis=0)
    msg = "3 components but the data has only 2 distinct points"
    with pytest.raises(InvalidParameter, match=re.escape(msg)) as info:
        fit(ArrayDataset(x, block_rows=16), FitOptions(3, "full", seed=0))
    assert info.value.advice == (FEWER_COMPONENTS,)


def test_more_components_than_rows() -> None:
    x = np.arange(8.0).reshape(4, 2)
    with pytest.raises(InvalidParameter,
                       match=re.escape("5 components need at least 5 rows; the data has 4")):
        fit(ArrayDataset(x), FitOptions(5, seed=0))


# --- errors: covariances that are not positive definite --------------------------------


def test_build_rejects_a_non_positive_definite_full_covariance() -> None:
    covs = np.stack([np.eye(2), np.array([[1.0, 2.0], [2.0, 1.0]])])
    msg = ("component 1: covariance is not positive definite in the initial parameters even "
           "with reg_covar=0")
    with pytest.raises(NotPositiveDefinite, match=re.escape(msg) + "$") as info:
        MixtureParams.build(np.array([0.5, 0.5]), np.zeros((2, 2)), covs, "full")
    assert info.value.component == 1 and info.value.iteration is None
    assert info.value.advice == (LARGER_REG_COVAR, FEWER_COMPONENTS, STANDARDIZE)
    assert info.value.suggested_reg_covar == 1e-4


@pytest.mark.parametrize(("covariance_type", "covariances", "component"), [
    ("tied", np.array([[1.0, 2.0], [2.0, 1.0]]), 0),
    ("diag", np.array([[1.0, 1.0], [1.0, 1.0], [1.0, -0.5]]), 2),
    ("diag", np.array([[1.0, 1.0], [np.nan, 1.0], [1.0, 1.0]]), 1),
    ("spherical", np.array([1.0, 0.0, 1.0]), 1),
])
def test_build_names_the_failing_component(covariance_type: str, covariances: Array,
                                           component: int) -> None:
    k = 3
    with pytest.raises(NotPositiveDefinite,
                       match=re.escape(f"component {component}: covariance is not positive")):
        MixtureParams.build(np.full(k, 1 / k), np.zeros((k, 2)), covariances, covariance_type)


def test_m_step_error_names_the_iteration() -> None:
    stats = SuffStats(nk=np.array([5.0, 5.0]), sk=np.zeros((2, 2)),
                      scatter=np.array([[1.0, 1.0], [1.0, -1.0]]), loglik=0.0, objective=0.0,
                      log_max_resp=0.0, n=10)
    with pytest.raises(NotPositiveDefinite,
                       match=re.escape("component 1: covariance is not positive definite at "
                                       "iteration 4 even with reg_covar=1e-06") + "$"):
        m_step(stats, np.zeros((2, 2)), "diag", 1e-6, iteration=4)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_data_that_overflows_raises_not_positive_definite(covariance_type: str) -> None:
    x = np.random.default_rng(0).normal(size=(200, 2)) * 1e160
    with np.errstate(all="ignore"), pytest.raises(NotPositiveDefinite) as info:
        fit(ArrayDataset(x), FitOptions(3, covariance_type, seed=0))
    message = str(info.value)
    assert message.startswith(f"component {info.value.component}: ")
    assert "not positive definite" in message and "--" not in message
    assert LARGER_REG_COVAR in info.value.advice


# --- things that must not be errors ------------------------------------------------------


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_constant_column_still_fits(covariance_type: str) -> None:
    x = clusters(90, d=2)
    x = np.column_stack([x, np.full(len(x), 3.0)])
    result = fit(ArrayDataset(x), FitOptions(3, covariance_type, seed=0))
    assert np.isfinite(result.loglik)
    assert result.degenerate == []
    assert not [e for e in result.events if e.kind == "degenerate"]
    assert result.converged


# --- weight collapse ---------------------------------------------------------------------


COLLAPSE_MSG = ("component 2: weight collapsed to zero at iteration 1 (it explains no "
                "points); its mean and covariance were frozen at their previous values")


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_hard_em_reports_weight_collapse(covariance_type: str) -> None:
    # Two tight groups and two stray points (3 and 7) that are nearer the middle mean (5)
    # than either group's mean: the middle component starts with those two points, then
    # both prefer their own group's component, and it is left empty.
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, 100), rng.normal(10, 1, 100), [3.0, 7.0]])[:, None]
    result = fit(ArrayDataset(x), FitOptions(3, covariance_type, algorithm="hard", seed=0),
                 means_init=np.array([0.0, 10.0, 5.0]))
    collapse = [e for e in result.events if e.kind == "weight-collapse"]
    assert len(collapse) == 1
    event = collapse[0]
    assert (event.component, event.iteration) == (2, 1)
    assert event.message == COLLAPSE_MSG
    assert result.params.weights[2] < 1e-15
    # Frozen where the first M-step put it: the mean and spread of the points 3 and 7.
    assert result.params.means[2, 0] == pytest.approx(5.0, rel=1e-12)
    if covariance_type != "tied":
        assert float(np.ravel(result.params.covariances[2])[0]) == pytest.approx(4.0 + 1e-6,
                                                                                rel=1e-12)
    assert np.all(np.isfinite(result.params.covariances))
    assert np.isfinite(result.loglik)


def test_soft_em_reports_weight_collapse_of_a_far_component() -> None:
    x = clusters(91, d=2, spread=1.0)
    start = MixtureParams.build(np.array([0.45, 0.45, 0.1]),
                                np.array([[-1.0, 0.0], [1.0, 0.0], [1e4, 1e4]]),
                                np.array([2.0, 2.0, 1.0]), "spherical")
    run = run_em(ArrayDataset(x), start, tol=1e-3, max_iter=50, reg_covar=1e-6)
    assert [(e.kind, e.component, e.iteration) for e in run.events] == [
        ("weight-collapse", 2, 1)]
    assert run.events[0].message == COLLAPSE_MSG
    np.testing.assert_array_equal(run.params.means[2], [1e4, 1e4])
    assert run.params.covariances[2] == 1.0
    assert run.converged and np.isfinite(run.final.loglik)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_m_step_freezes_collapsed_components(covariance_type: str) -> None:
    rng = np.random.default_rng(12)
    x = rng.normal(size=(60, 2))
    previous = random_params(rng, 3, 2, covariance_type)
    resp = np.zeros((60, 3))
    resp[:30, 0] = 1.0
    resp[30:, 1] = 1.0
    resp[0, :] = [1.0 - COLLAPSE_MASS / 10, 0.0, COLLAPSE_MASS / 10]  # below the floor
    stats = stats_from_resp(x, resp, previous.means, covariance_type)
    params, collapsed = m_step(stats, previous.means, covariance_type, 1e-6, iteration=3,
                               previous=previous)
    np.testing.assert_array_equal(collapsed, [2])
    np.testing.assert_array_equal(params.means[2], previous.means[2])
    if covariance_type != "tied":
        np.testing.assert_array_equal(params.covariances[2], previous.covariances[2])
    assert params.weights[2] < 1e-8
    np.testing.assert_allclose(params.weights.sum(), 1.0, rtol=1e-14)
    # Without previous parameters (the initial M-step) nothing is frozen, and the
    # collapsed index is still reported.
    _, again = m_step(stats, previous.means, covariance_type, 1e-6)
    np.testing.assert_array_equal(again, [2])


# --- one EM step never lowers the likelihood (property test) ----------------------------


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(6, 40),
    d=st.integers(1, 3),
    k=st.integers(1, 4),
    covariance_type=st.sampled_from(COVARIANCE_TYPES),
    log_scale=st.floats(-2.0, 2.0),
)
def test_one_em_step_never_lowers_the_log_likelihood(
    seed: int, n: int, d: int, k: int, covariance_type: str, log_scale: float
) -> None:
    rng = np.random.default_rng(seed)
    scale = 10.0 ** log_scale
    x = rng.normal(scale=scale, size=(n, d)) + rng.normal(scale=3 * scale, size=d)
    params = MixtureParams.build(
        rng.dirichlet(np.ones(k)),
        x[rng.choice(n, size=k, replace=False)] + rng.normal(scale=scale, size=(k, d)),
        random_covariances(rng, k, d, covariance_type, 0.05 * scale**2, 5.0 * scale**2),
        covariance_type,
    )
    pred = predict_chunk(x, params)
    resp, lse = pred.resp, pred.log_density
    assert np.all(np.isfinite(resp)) and np.all((resp >= 0) & (resp <= 1))
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, atol=1e-12)

    before = chunk_stats(x, params)
    assert before.loglik == pytest.approx(float(lse.sum()), rel=1e-12)
    try:
        new, _ = m_step(before, params.means, covariance_type, 0.0, previous=params)
    except NotPositiveDefinite:
        # With reg_covar = 0 a component carried by fewer than D+1 points is singular:
        # that is the error the engine should raise, and not a step to judge.
        assume(False)
        raise
    after = chunk_stats(x, new).loglik
    assume(np.isfinite(after))
    assert after >= before.loglik - 1e-9 * max(1.0, abs(before.loglik))


class _CountingDataset(ArrayDataset):
    """An ArrayDataset that counts full passes (reductions) over its rows."""

    def __init__(self, x: np.ndarray) -> None:
        super().__init__(x, block_rows=8192, n_threads=1)
        self.passes = 0

    def reduce(self, fn: Any, *, indexed: bool = False) -> Any:
        self.passes += 1
        return super().reduce(fn, indexed=indexed)


@pytest.mark.parametrize(("n", "lloyd_on_all_rows"), [(2_000, True), (60_000, False)])
def test_kmeans_start_reads_large_data_once(n: int, lloyd_on_all_rows: bool) -> None:
    from emgmm_cli.engine.init import SEED_SAMPLE_ROWS

    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    x = centers[rng.integers(3, size=n)] + rng.normal(size=(n, 2))
    data = _CountingDataset(x)
    moments = data.reduce(chunk_moments)
    data.passes = 0
    params = initial_params(data, 3, "full", "kmeans", np.random.default_rng(1),
                            reg_covar=1e-6, column_mean=moments.mean,
                            column_variance=moments.variance)
    # Above SEED_SAMPLE_ROWS, Lloyd's iterations run on the in-memory sample: the only
    # pass over the data is the one that assigns every row to its nearest centre.
    assert (n > SEED_SAMPLE_ROWS) is not lloyd_on_all_rows
    assert (data.passes > 1) is lloyd_on_all_rows
    if not lloyd_on_all_rows:
        assert data.passes == 1
    found = params.means[np.argsort(params.means[:, 0] + 10 * params.means[:, 1])]
    np.testing.assert_allclose(found, centers, atol=0.1)


# --- initialisation kernels --------------------------------------------------------------


def per_centre_distances(x: Array, centers: Array) -> Array:
    """Squared distances one centre at a time, each the einsum of x - c laid out as x is."""
    out = np.empty((x.shape[0], centers.shape[0]))
    for k, c in enumerate(centers.astype(x.dtype)):
        diff = np.empty_like(x)
        np.subtract(x, c, out=diff)
        out[:, k] = np.einsum("ij,ij->i", diff, diff)
    return out


@pytest.mark.parametrize(("n", "d", "k"), [(1, 1, 1), (272, 2, 9), (3001, 5, 40),
                                           (500, 37, 3), (7, 300, 2)])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_squared_distances(n: int, d: int, k: int, layout: str, dtype: type) -> None:
    from scipy.spatial.distance import cdist

    from emgmm_cli.engine.init import squared_distances

    rng = np.random.default_rng(n + d + k)
    scale = 10.0 ** rng.integers(-3, 4, d)
    rows: np.ndarray = (rng.normal(size=(2 * n, d)) * scale).astype(dtype)
    x: np.ndarray = {"C": rows[:n], "F": np.asfortranarray(rows[:n]),
                     "strided": rows[::2]}[layout]
    centers = x[rng.integers(0, n, k)].astype(np.float64) + rng.normal(size=(k, d))
    found = squared_distances(x, centers)
    assert found.shape == (n, k) and found.dtype == np.float64
    # the very numbers of one centre at a time (so the starts drawn from them are the same)
    np.testing.assert_array_equal(found, per_centre_distances(x, centers))
    np.testing.assert_allclose(found, cdist(x.astype(np.float64),
                                            centers.astype(dtype).astype(np.float64),
                                            "sqeuclidean"),
                               rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_lloyd_sums_add_each_centres_rows_in_order(weighted: bool) -> None:
    from emgmm_cli.engine.init import _lloyd_chunk

    rng = np.random.default_rng(3)
    x, centers = clusters(5, d=4), rng.normal(scale=4.0, size=(6, 4))
    w = rng.uniform(0.0, 3.0, len(x)) if weighted else None
    found = _lloyd_chunk(x, centers, w)
    labels = np.argmin(((x[:, None, :] - centers) ** 2).sum(axis=2), axis=1)
    sums = np.zeros((6, 4))
    np.add.at(sums, labels, x if w is None else x * w[:, None])  # row by row, in order
    np.testing.assert_array_equal(found.sums, sums)
    np.testing.assert_array_equal(found.counts, np.bincount(labels, weights=w, minlength=6))


def test_random_responsibilities_are_the_blocks_streams_sliced() -> None:
    from emgmm_cli.engine.init import RANDOM_BLOCK_ROWS, _random_resp

    blocks = np.concatenate([np.random.default_rng([99, b]).random((RANDOM_BLOCK_ROWS, 3))
                             for b in range(3)])
    whole = blocks / blocks.sum(axis=1, keepdims=True)
    for start, stop in ((0, 1), (0, 272), (5, RANDOM_BLOCK_ROWS), (0, RANDOM_BLOCK_ROWS + 1),
                        (RANDOM_BLOCK_ROWS - 1, 2 * RANDOM_BLOCK_ROWS + 7),
                        (RANDOM_BLOCK_ROWS, 3 * RANDOM_BLOCK_ROWS)):
        np.testing.assert_array_equal(_random_resp(start, stop, 3, 99), whole[start:stop])


def test_random_data_points_are_distinct() -> None:
    from emgmm_cli.engine.init import _random_from_data

    # 30 copies of 4 points and one other: some draws of 5 rows repeat a point and are
    # drawn again among the distinct rows
    x = np.concatenate([np.repeat(np.eye(4) * [1.0, -0.0, 2.0, 3.0], 30, axis=0),
                        [[5.0, 5.0, 5.0, 5.0]]])
    x[:15, 1] = 0.0  # the other 15 copies of row 0 hold -0.0 there: the same point
    for seed in range(20):
        centers = _random_from_data(ArrayDataset(x), 5, np.random.default_rng(seed))
        assert len(np.unique(centers, axis=0)) == 5
    with pytest.raises(InvalidParameter, match="5 distinct points from a sample with 4"):
        _random_from_data(ArrayDataset(x[:120]), 5, np.random.default_rng(0))


def test_distinct_rows_counts_equal_rows_once_across_blocks() -> None:
    # 0.0 and -0.0 are one point (np.unique's rule), in the first rows and beyond them,
    # in one block and across blocks; the count stops once K are found
    from emgmm_cli.engine.init import distinct_rows

    x = np.zeros((40, 2))
    x[1::2] = -0.0
    x[30] = [1.0, 2.0]
    for block_rows in (7, 64):
        data = ArrayDataset(x, block_rows=block_rows, n_threads=1)
        assert distinct_rows(data, 3) == 2
        assert distinct_rows(data, 2) == 2
    assert distinct_rows(ArrayDataset(np.arange(200.0).reshape(100, 2)), 5) >= 5


def test_step_length_stays_within_its_bound_as_squarem_grows_and_shrinks_it() -> None:
    """SQUAREM's step length (engine.steplength, one rule for EM's acceleration and the
    orientation's majorisation steps): |r| / |v| within [1, bound]; a step taken at the
    bound multiplies it by STEP_FACTOR, a refused one beyond 1 divides it, never below 1."""
    from emgmm_cli.engine.steplength import STEP_FACTOR, StepBound

    bound = StepBound()
    assert bound.length(100.0, 1.0) == 1.0  # |r| / |v| = 10, capped at the first bound
    assert bound.length(0.25, 1.0) == 1.0  # never below 1 (two plain steps)
    bound.taken(1.0)
    assert bound.limit == STEP_FACTOR
    assert bound.length(9.0, 1.0) == 3.0  # within the bound: |r| / |v| itself
    bound.taken(3.0)  # below the bound: it stays
    assert bound.limit == STEP_FACTOR
    bound.taken(bound.length(100.0, 1.0))
    assert bound.limit == STEP_FACTOR**2
    bound.refused(1.0)  # a step of length 1 is never refused for its length
    assert bound.limit == STEP_FACTOR**2
    for _ in range(3):
        bound.refused(2.0)
    assert bound.limit == 1.0
