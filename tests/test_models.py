"""mclust's 14 covariance models, checked against their definitions and against R mclust.

- One M-step: from the same responsibilities, the engine's M-step followed by an E-step
  gives the log-likelihood of the maximiser of the expected complete-data log-likelihood,
  computed here from the weighted scatter matrices of the data: in closed form (Celeux
  and Govaert 1995) for EII, VII, EEI, VVI, EVI, EEE, EEV, EVV, VVV, and by a direct
  numerical maximisation (scipy.optimize, over an unconstrained parameterisation of the
  model) for VEI, VEE, EVE, VVE, VEV.
- Parameter counts: those implied by mclust's BIC in ../shared/reference.
- Converged fits reach mclust's log-likelihood (mclust14_faithful.csv, mclust14_iris.csv).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from scipy.linalg import expm
from scipy.optimize import minimize
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from emgmm_cli.engine import m_step
from emgmm_cli.engine.families import FAMILIES, family
from emgmm_cli.engine.stats import chunk_stats, stats_from_resp

DATA = Path(__file__).parent / "data"
MODELS = ("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV",
          "EVV", "VVV")
CLOSED = ("EII", "VII", "EEI", "VVI", "EVI", "EEE", "EEV", "EVV", "VVV")
ITERATIVE = ("VEI", "VEE", "EVE", "VVE", "VEV")


def load(name: str) -> np.ndarray:
    return np.loadtxt(DATA / f"{name}.csv", delimiter=",", skiprows=1)


def reference(name: str) -> dict[tuple[str, int], tuple[float, float] | None]:
    """(model, K) -> (mclust's log-likelihood, its BIC), or None where mclust has NA."""
    with open(DATA / f"mclust14_{name}.csv", newline="") as fh:
        return {(r["mclust_model"], int(r["K"])):
                None if r["loglik"] == "NA" else (float(r["loglik"]), float(r["mclust_bic"]))
                for r in csv.DictReader(fh)}


def responsibilities(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Distinct components: a partition along a random direction, softened."""
    rng = np.random.default_rng(seed)
    rank = np.argsort(np.argsort(x @ rng.normal(size=x.shape[1])))
    hard = np.eye(k)[rank * k // len(x)]
    return 0.7 * hard + 0.3 * rng.dirichlet(np.ones(k), size=len(x))


def scatter(x: np.ndarray, resp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n_k, weighted means, W_k = sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T), directly."""
    nk = resp.sum(axis=0)
    means = resp.T @ x / nk[:, None]
    w = np.stack([(resp[:, j, None] * (x - means[j])).T @ (x - means[j])
                  for j in range(resp.shape[1])])
    return nk, means, w


def mixture_loglik(x: np.ndarray, weights: np.ndarray, means: np.ndarray,
                   covs: np.ndarray) -> float:
    lp = np.column_stack([np.log(weights[j]) + multivariate_normal(means[j], covs[j]).logpdf(x)
                          for j in range(len(weights))])
    return float(logsumexp(lp, axis=1).sum())


def expected_loglik(nk: np.ndarray, w: np.ndarray, covs: np.ndarray) -> float:
    """The covariance part of the expected complete-data log-likelihood (x -2):
    sum_k n_k log|Sigma_k| + tr(Sigma_k^-1 W_k)."""
    traces = np.trace(np.linalg.solve(covs, w), axis1=1, axis2=2)
    return float(nk @ np.linalg.slogdet(covs)[1] + traces.sum())


# --- closed forms (Celeux and Govaert 1995, table 1) -----------------------------------------


def _root(m: np.ndarray) -> float:
    return float(np.linalg.det(m) ** (1.0 / m.shape[0]))


def closed_form(model: str, nk: np.ndarray, w: np.ndarray) -> np.ndarray:
    k, d = w.shape[:2]
    n, pooled = nk.sum(), w.sum(axis=0)
    eye = np.eye(d)
    if model == "EII":
        return np.stack([np.trace(pooled) / (n * d) * eye] * k)
    if model == "VII":
        return np.stack([np.trace(w[j]) / (nk[j] * d) * eye for j in range(k)])
    if model == "EEI":
        return np.stack([np.diag(np.diag(pooled)) / n] * k)
    if model == "VVI":
        return np.stack([np.diag(np.diag(w[j])) / nk[j] for j in range(k)])
    if model == "EVI":
        b = [np.diag(np.diag(w[j])) for j in range(k)]
        lam = sum(_root(bj) for bj in b) / n
        return np.stack([lam * bj / _root(bj) for bj in b])
    if model == "EEE":
        return np.stack([pooled / n] * k)
    if model == "EEV":
        eig = [np.linalg.eigh(w[j]) for j in range(k)]
        omega = sum(np.diag(v) for v, _ in eig)
        return np.stack([vec @ omega @ vec.T / n for _, vec in eig])
    if model == "EVV":
        lam = sum(_root(w[j]) for j in range(k)) / n
        return np.stack([lam * w[j] / _root(w[j]) for j in range(k)])
    assert model == "VVV"
    return w / nk[:, None, None]


# --- numerical maximisation over an unconstrained parameterisation ---------------------------


def _shape(v: np.ndarray) -> np.ndarray:
    """A positive diagonal of determinant 1 from D - 1 free numbers."""
    a = np.append(v, 0.0)
    return np.exp(a - a.mean())


def _rotation(v: np.ndarray, d: int) -> np.ndarray:
    """Rotations (..., D, D) from D (D - 1) / 2 free numbers each (the exponential of a
    skew-symmetric matrix)."""
    v = np.atleast_2d(v)
    s = np.zeros((len(v), d, d))
    s[:, *np.triu_indices(d, 1)] = v
    return np.asarray(expm(s - s.transpose(0, 2, 1)))


def _spd(v: np.ndarray, d: int) -> np.ndarray:
    """A covariance of determinant 1 from D (D + 1) / 2 free numbers."""
    low = np.zeros((d, d))
    low[np.tril_indices(d)] = v
    low[np.diag_indices(d)] = np.exp(low[np.diag_indices(d)])
    c = low @ low.T
    return c / _root(c)


def parameterisation(model: str, k: int, d: int) -> tuple[int, Callable[[np.ndarray],
                                                                          np.ndarray]]:
    """(number of free numbers, their covariances (K, D, D)) of an iterative model."""
    r = d * (d - 1) // 2
    if model == "VEI":
        return k + d - 1, lambda v: np.exp(v[:k])[:, None, None] * np.diag(_shape(v[k:]))
    if model == "VEE":
        return k + d * (d + 1) // 2, lambda v: np.exp(v[:k])[:, None, None] * _spd(v[k:], d)
    if model == "EVE":
        def eve(v: np.ndarray) -> np.ndarray:
            rot = _rotation(v[1:1 + r], d)[0]
            shapes = np.stack([_shape(s) for s in v[1 + r:].reshape(k, d - 1)])
            return np.exp(v[0]) * np.einsum("ij,kj,lj->kil", rot, shapes, rot)
        return 1 + r + k * (d - 1), eve
    if model == "VVE":
        def vve(v: np.ndarray) -> np.ndarray:
            rot = _rotation(v[:r], d)[0]
            return np.einsum("ij,kj,lj->kil", rot, np.exp(v[r:].reshape(k, d)), rot)
        return r + k * d, vve
    assert model == "VEV"

    def vev(v: np.ndarray) -> np.ndarray:
        shape = _shape(v[k:k + d - 1])
        rots = _rotation(v[k + d - 1:].reshape(k, r), d)
        return np.exp(v[:k])[:, None, None] * np.einsum("kij,j,klj->kil", rots, shape, rots)
    return k + d - 1 + k * r, vev


def numerical_maximum(model: str, nk: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The covariances maximising the expected complete-data log-likelihood, by BFGS from
    the pooled scatter's volume (every shape 1, every rotation 0)."""
    k, d = w.shape[:2]
    size, covs = parameterisation(model, k, d)
    v0 = np.zeros(size)
    log_volume = np.log(_root(w.sum(axis=0) / nk.sum()))
    if model in ("VEI", "VEE", "VEV"):
        v0[:k] = log_volume
    elif model == "EVE":
        v0[0] = log_volume
    else:
        v0[d * (d - 1) // 2:] = log_volume
    best = minimize(lambda v: expected_loglik(nk, w, covs(v)), v0, method="BFGS",
                    options={"gtol": 1e-9, "maxiter": 20000})
    return covs(best.x)


# --- the tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["faithful", "iris"])
@pytest.mark.parametrize("model", MODELS)
def test_one_m_step_reaches_the_maximum(model: str, dataset: str) -> None:
    x = load(dataset)
    d = x.shape[1]
    for k in range(1, 10):
        resp = responsibilities(x, k, seed=k)
        centers = np.broadcast_to(x.mean(axis=0), (k, d)).copy()
        stats = stats_from_resp(x, resp, centers, family(model).name)
        params, _ = m_step(stats, centers, model, 0.0)
        engine = chunk_stats(x, params).loglik

        nk, means, w = scatter(x, resp)
        np.testing.assert_allclose(params.means, means, rtol=1e-10, atol=1e-10)
        covs = (closed_form(model, nk, w) if model in CLOSED
                else numerical_maximum(model, nk, w))
        expected = mixture_loglik(x, nk / nk.sum(), means, covs)
        if model in CLOSED:
            np.testing.assert_allclose(params.full_covariances(), covs, rtol=1e-9, atol=1e-12)
            assert engine == pytest.approx(expected, rel=1e-10), (model, k)
        else:
            # the engine's M-step is at least as good as the numerical optimiser's ...
            ours = expected_loglik(nk, w, params.full_covariances())
            theirs = expected_loglik(nk, w, covs)
            assert ours <= theirs + 1e-7 * abs(theirs), (model, k, ours, theirs)
            # ... and the same maximum
            assert engine == pytest.approx(expected, abs=1e-3), (model, k)


@pytest.mark.parametrize("dataset", ["faithful", "iris"])
def test_parameter_counts_are_mclusts(dataset: str) -> None:
    """mclust's BIC = 2 log L - p log n gives p; ours counts the same (BIC = -mclust's)."""
    x = load(dataset)
    n, d = x.shape
    for (model, k), ref in reference(dataset).items():
        if ref is None:
            continue
        loglik, bic = ref
        p = (2 * loglik - bic) / np.log(n)
        assert family(model).n_parameters(k, d) + k * d + k - 1 == round(p), (model, k)
        assert abs(p - round(p)) < 1e-6


def test_the_table_has_mclusts_fourteen_models_and_two_of_one_dimension() -> None:
    assert [family(m).name for m in MODELS] == [
        "EII", "spherical", "EEI", "VEI", "EVI", "diag", "tied", "VEE", "EVE", "VVE", "EEV",
        "VEV", "EVV", "full"]
    assert [f.mclust for f in FAMILIES.values() if f.univariate] == ["E", "V"]
