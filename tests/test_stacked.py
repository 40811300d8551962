"""Stacked screening (engine.stacked): several candidates' EM in shared passes is each
candidate's own EM (engine.em.run_em, plain), to rounding."""

from __future__ import annotations

import numpy as np
import pytest

from emgmm_cli.backends.local import ArrayDataset
from emgmm_cli.engine import initial_params, run_em
from emgmm_cli.engine.dataset import WeightedRows
from emgmm_cli.engine.params import MixtureParams
from emgmm_cli.engine.stacked import run_stacked
from emgmm_cli.engine.stats import chunk_moments

FAMILIES = ["VVV", "EEE", "VVI", "VII", "EII", "VEV", "EVE"]


def blobs(seed: int, n: int = 300, d: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(3, d))
    return centres[rng.integers(3, size=n)] + rng.normal(size=(n, d))


def starts(x: np.ndarray, family: str, k: int, count: int, data=None) -> list:
    moments = chunk_moments(x)
    data = ArrayDataset(x) if data is None else data
    methods = ["kmeans", "random", "k-means++", "random-from-data"]
    return [initial_params(data, k, family, methods[i % 4], np.random.default_rng(i),
                           reg_covar=1e-6, column_mean=moments.mean,
                           column_variance=moments.variance) for i in range(count)]


def assert_same(stacked, data, start, iters: int, tol: float) -> None:
    alone = run_em(data, start, tol=tol, max_iter=iters, reg_covar=1e-6)
    assert stacked.error is None and stacked.params is not None
    np.testing.assert_allclose(stacked.params.means, alone.params.means, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(stacked.params.covariances, alone.params.covariances,
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(stacked.params.weights, alone.params.weights, rtol=1e-9)
    assert stacked.loglik == pytest.approx(alone.final.loglik / alone.final.n, rel=1e-11)


@pytest.mark.parametrize("family", FAMILIES)
def test_each_candidate_runs_its_own_em(family: str) -> None:
    x = blobs(1)
    first = starts(x, family, 4, 5)
    runs = run_stacked(x, first, tol=0.0, max_iter=7, reg_covar=1e-6)
    for run, start in zip(runs, first):
        assert_same(run, ArrayDataset(x), start, 7, 0.0)


def test_candidates_stop_on_their_own() -> None:
    # a loose tolerance: the candidates converge after different numbers of passes
    x = blobs(2)
    first = starts(x, "VVV", 3, 4)
    runs = run_stacked(x, first, tol=1e-3, max_iter=50, reg_covar=1e-6)
    for run, start in zip(runs, first):
        assert_same(run, ArrayDataset(x), start, 50, 1e-3)


def test_weights_and_known_labels_are_each_candidates() -> None:
    x = blobs(3)
    rng = np.random.default_rng(3)
    w = rng.uniform(0.0, 3.0, size=len(x))
    w[:10] = 0.0
    known = np.full(len(x), -1, dtype=np.int64)
    known[rng.choice(len(x), 20, replace=False)] = rng.integers(3, size=20)
    data = WeightedRows(ArrayDataset(x), w, known)
    first = starts(x, "VVI", 3, 4, data)
    runs = run_stacked(x, first, tol=0.0, max_iter=6, reg_covar=1e-6, w=w, known=known)
    for run, start in zip(runs, first):
        assert_same(run, data, start, 6, 0.0)


def test_a_failing_candidate_drops_out_alone() -> None:
    # one start puts a component on a lone far point: after one pass its covariance is
    # zero, which without regularisation is no covariance; the other start goes on
    x = np.concatenate([blobs(4, n=200, d=2), [[100.0, 100.0]]])
    good = starts(x, "VVV", 2, 1)[0]
    bad = MixtureParams.build(np.array([0.5, 0.5]), np.array([[0.0, 0.0], [100.0, 100.0]]),
                              np.stack([np.eye(2) * 10.0, np.eye(2) * 1e-2]), "VVV")
    runs = run_stacked(x, [good, bad], tol=0.0, max_iter=5, reg_covar=0.0)
    assert runs[0].error is None and runs[0].params is not None
    assert runs[1].error is not None and runs[1].params is None
    alone = run_em(ArrayDataset(x), good, tol=0.0, max_iter=5, reg_covar=0.0)
    np.testing.assert_allclose(runs[0].params.means, alone.params.means, rtol=1e-9)


def test_rows_beyond_the_float_range_take_the_exact_path() -> None:
    # a start whose components are needles (variance 1e-300) far from the data: every
    # row's squared Mahalanobis distances overflow, so that candidate's E-step goes through
    # chunk_stats's far-row treatment (nearest component), while the other's is stacked
    x = blobs(5, n=200, d=2)
    normal = starts(x, "VII", 2, 1)[0]
    needles = MixtureParams.build(np.array([0.5, 0.5]), x[[0, 0]] + 1e5, np.full(2, 1e-300),
                                  "VII")
    runs = run_stacked(x, [normal, needles], tol=0.0, max_iter=2, reg_covar=1e-6)
    for run, start in zip(runs, [normal, needles]):
        assert_same(run, ArrayDataset(x), start, 2, 0.0)
