"""Parity with scikit-learn's GaussianMixture from identical starting parameters.

scikit-learn is used here only as an oracle that gives numbers: both implementations are
started from the same weights, means and covariances, and run the same number of EM
iterations with the same reg_covar.  The per-iteration mean log-likelihood (our trace,
sklearn's ``lower_bounds_``), the stopping iteration, the converged flag and the final
parameters must agree to a relative 1e-8; how the data is cut into blocks and how many
threads reduce them must not change our numbers beyond 1e-12.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pytest
from numpy.typing import NDArray
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from emgmm_cli.backends.local import ArrayDataset
from emgmm_cli.engine import (
    MixtureParams,
    initial_params,
    predict_chunk,
    run_em,
)
from emgmm_cli.engine.em import EMRun
from emgmm_cli.engine.stats import chunk_moments

#: scikit-learn's four covariance types (ours have the same names)
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
K = 3
REG = 1e-6
PARITY_RTOL = 1e-8
CHUNKING_RTOL = 1e-12
DIMENSIONS = (1, 2, 5)

Array = NDArray[np.floating]


def overlapping_clusters(d: int, seed: int = 0, sizes: tuple[int, ...] = (500, 350, 250)) -> Array:
    """Three anisotropic Gaussian clusters whose centres are about two spreads apart."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=1.5, size=(len(sizes), d))
    parts = []
    for centre, n in zip(centres, sizes):
        mixing = np.eye(d) + 0.4 * rng.normal(size=(d, d))
        parts.append(centre + rng.normal(size=(n, d)) @ mixing)
    x = np.concatenate(parts)
    return x[rng.permutation(len(x))]


def kmeanspp_start(x: Array, covariance_type: str, seed: int = 1) -> MixtureParams:
    """Starting parameters from the engine's own k-means++ initialisation (seeded)."""
    ds = ArrayDataset(x, n_threads=1)
    moments = ds.reduce(chunk_moments)
    return initial_params(
        ds, K, covariance_type, "k-means++", np.random.default_rng(seed), reg_covar=REG,
        column_mean=moments.mean, column_variance=moments.variance,
    )


def hand_start(x: Array, covariance_type: str) -> MixtureParams:
    """Starting parameters written out by hand: three data rows as means, unequal weights,
    and covariances derived from the column variances."""
    d = x.shape[1]
    var = x.var(axis=0)
    means = x[[0, 1, 2]]
    scales = np.array([0.5, 1.0, 2.0])
    covariances: Array
    if covariance_type == "full":
        covariances = scales[:, None, None] * np.diag(var)[None]
    elif covariance_type == "tied":
        covariances = np.diag(var) + 0.1 * np.sqrt(np.outer(var, var)) * (1 - np.eye(d))
    elif covariance_type == "diag":
        covariances = scales[:, None] * var[None, :]
    else:
        covariances = scales * float(var.mean())
    return MixtureParams.build(np.array([0.5, 0.3, 0.2]), means, covariances, covariance_type)


STARTS = {"kmeans++": kmeanspp_start, "hand": hand_start}


def sklearn_precisions(params: MixtureParams) -> Array:
    """Inverse covariances in sklearn's shape for each type: (K,D,D), (D,D), (K,D), (K,)."""
    if params.covariance_type in ("full", "tied"):
        return np.linalg.inv(params.covariances)
    return 1.0 / params.covariances


@dataclass
class SklearnRun:
    model: GaussianMixture
    lower_bounds: Array


def run_sklearn(x: Array, start: MixtureParams, *, tol: float, max_iter: int) -> SklearnRun:
    model = GaussianMixture(
        n_components=start.n_components,
        covariance_type=start.covariance_type,
        weights_init=start.weights,
        means_init=start.means,
        precisions_init=sklearn_precisions(start),
        tol=tol,
        max_iter=max_iter,
        reg_covar=REG,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x)
    return SklearnRun(model, np.asarray(model.lower_bounds_, dtype=np.float64))


def run_ours(x: Array, start: MixtureParams, *, tol: float, max_iter: int,
             block_rows: int = 4096, n_threads: int = 1, hard: bool = False) -> EMRun:
    ds = ArrayDataset(x, block_rows=block_rows, n_threads=n_threads)
    return run_em(ds, start, tol=tol, max_iter=max_iter, reg_covar=REG, hard=hard,
                  accelerate="none")


def trace_of(run: EMRun) -> Array:
    return np.array([row.log_likelihood for row in run.trace])


def assert_rel(actual: object, expected: object, rtol: float, what: str) -> None:
    """Element-wise relative agreement; entries near zero are judged against the largest
    magnitude of the expected array (off-diagonal covariances can be ~0)."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    scale = float(np.max(np.abs(e))) if e.size else 0.0
    np.testing.assert_allclose(a, e, rtol=rtol, atol=rtol * scale, err_msg=what)


def assert_same_params(ours: MixtureParams, theirs: GaussianMixture, rtol: float) -> None:
    assert_rel(ours.weights, theirs.weights_, rtol, "weights")
    assert_rel(ours.means, theirs.means_, rtol, "means")
    assert_rel(ours.covariances, theirs.covariances_, rtol, "covariances")


def assert_same_runs(a: EMRun, b: EMRun, rtol: float) -> None:
    assert a.n_iter == b.n_iter
    assert a.converged == b.converged
    assert_rel(trace_of(a), trace_of(b), rtol, "trace")
    assert_rel(a.params.weights, b.params.weights, rtol, "weights")
    assert_rel(a.params.means, b.params.means, rtol, "means")
    assert_rel(a.params.covariances, b.params.covariances, rtol, "covariances")
    assert_rel(a.final.loglik, b.final.loglik, rtol, "final log-likelihood")


@pytest.fixture(scope="module", params=DIMENSIONS, ids=lambda d: f"D{d}")
def data(request: pytest.FixtureRequest) -> Array:
    return overlapping_clusters(request.param, seed=request.param)


# --- fixed number of iterations: the whole trajectory ------------------------------------


@pytest.mark.parametrize("start_kind", list(STARTS))
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_trajectory_matches_sklearn(data: Array, covariance_type: str, start_kind: str) -> None:
    start = STARTS[start_kind](data, covariance_type)
    ours = run_ours(data, start, tol=0.0, max_iter=25)
    theirs = run_sklearn(data, start, tol=0.0, max_iter=25)

    assert ours.n_iter == theirs.model.n_iter_ == 25
    assert ours.converged is False and theirs.model.converged_ is False
    assert_rel(trace_of(ours), theirs.lower_bounds, PARITY_RTOL, "trace vs lower_bounds_")
    assert [row.iteration for row in ours.trace] == list(range(1, 26))
    assert_same_params(ours.params, theirs.model, PARITY_RTOL)

    # The final E-step: mean log-likelihood, responsibilities and labels.
    n = data.shape[0]
    assert_rel(ours.final.loglik / n, theirs.model.score(data), PARITY_RTOL, "final loglik")
    pred = predict_chunk(data, ours.params)
    assert_rel(pred.resp, theirs.model.predict_proba(data), 1e-7, "responsibilities")
    np.testing.assert_array_equal(pred.labels, theirs.model.predict(data))
    assert_rel(pred.log_density, theirs.model.score_samples(data), PARITY_RTOL, "log density")


def test_trajectories_are_not_trivial() -> None:
    """The parity runs must actually move: the likelihood climbs over the 25 iterations,
    so an engine that stopped updating would not match by accident."""
    x = overlapping_clusters(2, seed=2)
    for ct in COVARIANCE_TYPES:
        trace = trace_of(run_ours(x, kmeanspp_start(x, ct), tol=0.0, max_iter=25))
        assert trace[-1] - trace[0] > 1e-3, ct


# --- the default stopping rule -------------------------------------------------------


@pytest.mark.parametrize("start_kind", list(STARTS))
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_default_tol_stops_at_the_same_iteration(
    data: Array, covariance_type: str, start_kind: str
) -> None:
    start = STARTS[start_kind](data, covariance_type)
    ours = run_ours(data, start, tol=1e-3, max_iter=100)
    theirs = run_sklearn(data, start, tol=1e-3, max_iter=100)

    assert ours.converged is True and theirs.model.converged_ is True
    assert ours.n_iter == theirs.model.n_iter_ == len(theirs.lower_bounds)
    assert_rel(trace_of(ours), theirs.lower_bounds, PARITY_RTOL, "trace vs lower_bounds_")
    assert_same_params(ours.params, theirs.model, PARITY_RTOL)
    # The trace's change column is the difference sklearn compares with tol.
    changes = [row.change for row in ours.trace]
    assert np.isnan(changes[0])
    assert_rel(changes[1:], np.diff(theirs.lower_bounds), 1e-6, "changes")
    assert abs(changes[-1]) < 1e-3 and all(abs(c) >= 1e-3 for c in changes[1:-1])


def test_max_iter_cut_reports_not_converged() -> None:
    """Stopping on max_iter before tol is met: neither side claims convergence."""
    x = overlapping_clusters(2, seed=2)
    start = kmeanspp_start(x, "full")
    ours = run_ours(x, start, tol=1e-3, max_iter=3)
    theirs = run_sklearn(x, start, tol=1e-3, max_iter=3)
    assert ours.n_iter == theirs.model.n_iter_ == 3
    assert ours.converged is False and theirs.model.converged_ is False
    assert_rel(trace_of(ours), theirs.lower_bounds, PARITY_RTOL, "trace")


# --- chunking and threads ------------------------------------------------------------------


CHUNKINGS = [(7, 1), (7, 2), (64, 1), (64, 2), (4096, 2)]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("d", [2, 5], ids=lambda d: f"D{d}")
def test_chunking_and_threads_do_not_change_soft_em(d: int, covariance_type: str) -> None:
    x = overlapping_clusters(d, seed=10 + d, sizes=(300, 200, 150))
    start = kmeanspp_start(x, covariance_type)
    reference = run_ours(x, start, tol=0.0, max_iter=20)
    theirs = run_sklearn(x, start, tol=0.0, max_iter=20)
    assert_rel(trace_of(reference), theirs.lower_bounds, PARITY_RTOL, "trace")
    assert_same_params(reference.params, theirs.model, PARITY_RTOL)
    for block_rows, n_threads in CHUNKINGS:
        other = run_ours(x, start, tol=0.0, max_iter=20, block_rows=block_rows,
                         n_threads=n_threads)
        assert_same_runs(other, reference, CHUNKING_RTOL)
        assert_rel(trace_of(other), theirs.lower_bounds, PARITY_RTOL, "trace")


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_chunking_and_threads_do_not_change_hard_em(covariance_type: str) -> None:
    # Hard (classification) EM has no scikit-learn counterpart: only self-consistency.
    x = overlapping_clusters(2, seed=3, sizes=(300, 200, 150))
    start = kmeanspp_start(x, covariance_type)
    reference = run_ours(x, start, tol=0.0, max_iter=30, hard=True)
    assert reference.n_iter >= 2
    for block_rows, n_threads in CHUNKINGS:
        other = run_ours(x, start, tol=0.0, max_iter=30, block_rows=block_rows,
                         n_threads=n_threads, hard=True)
        assert_same_runs(other, reference, CHUNKING_RTOL)


def test_threads_give_bitwise_identical_results() -> None:
    """Blocks are summed in row order whatever the pool does, so threads change nothing."""
    x = overlapping_clusters(5, seed=4)
    start = kmeanspp_start(x, "full")
    one = run_ours(x, start, tol=0.0, max_iter=10, block_rows=50, n_threads=1)
    two = run_ours(x, start, tol=0.0, max_iter=10, block_rows=50, n_threads=2)
    np.testing.assert_array_equal(trace_of(one), trace_of(two))
    np.testing.assert_array_equal(one.params.covariances, two.params.covariances)
    np.testing.assert_array_equal(one.params.means, two.params.means)
