"""mclust's 14 covariance models, checked against their definitions and against R mclust.

- One M-step: from the same responsibilities, the engine's M-step followed by an E-step
  gives the log-likelihood of the maximiser of the expected complete-data log-likelihood,
  computed here from the weighted scatter matrices of the data: in closed form (Celeux
  and Govaert 1995) for EII, VII, EEI, VVI, EVI, EEE, EEV, EVV, VVV, and by a direct
  numerical maximisation (scipy.optimize, over an unconstrained parameterisation of the
  model) for VEI, VEE, EVE, VVE, VEV.
- Parameter counts: those implied by mclust's BIC in ../shared/reference.
- One EM step of any model never lowers the log-likelihood (the iterative M-steps start
  from the previous covariances).
- Every command, and one-dimensional data (mclust's E and V).
- `emgmm select` over the 14 models picks Mclust's choice on faithful and iris, and its
  cells reach mclust's log-likelihoods (mclust14_faithful.csv, mclust14_iris.csv).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.linalg import expm
from scipy.optimize import minimize
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from emgmm_cli.backends.local import ArrayDataset
from emgmm_cli.cli.main import cli
from emgmm_cli.engine import FitOptions, fit, m_step
from emgmm_cli.engine.errors import NotPositiveDefinite
from emgmm_cli.engine.families import FAMILIES, family
from emgmm_cli.engine.params import MixtureParams
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
    upper, lower = np.triu_indices(d, 1)
    s[:, upper, lower] = v
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


# --- every command with every model ----------------------------------------------------------


def invoke(*args: object) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False,
                                env={"EMGMM_FORCE_TTY": "0"})
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("model", MODELS)
def test_every_command_takes_every_model(model: str, tmp_path: Path) -> None:
    data = DATA / "faithful.csv"
    doc_path = tmp_path / "m.json"
    invoke("fit", data, "-k", 3, "-c", model, "--seed", 0, "--model", doc_path,
           "-o", tmp_path / "labels.csv")
    doc = json.loads(doc_path.read_text())
    fam = family(model)
    assert doc["covariance_type"] == fam.name and np.shape(doc["covariances"]) == fam.shape(3, 2)
    assert doc["n_parameters"] == fam.n_parameters(3, 2) + 3 * 2 + 2
    # the model's constraint holds in what was written (checked on the full matrices)
    full = fam.to_full(np.asarray(doc["covariances"]), 3, 2)
    check_constraint(model, full)
    assert invoke("predict", doc_path, data).stdout == (tmp_path / "labels.csv").read_text()
    scored = json.loads(invoke("score", doc_path, data, "--json").stdout)
    assert scored["log_likelihood"] == pytest.approx(doc["log_likelihood"], rel=1e-12)
    drawn = invoke("sample", doc_path, "-n", 500, "--seed", 1).stdout.splitlines()
    assert len(drawn) == 501
    assert f"covariance type: {fam.name}" in invoke("info", doc_path).stdout
    invoke("plot", doc_path, data, "-o", tmp_path / "picture.svg")
    assert (tmp_path / "picture.svg").stat().st_size > 0
    invoke("batch", data, "-k", 2, "-c", model, "--seed", 0, "--output-dir", tmp_path / "out")
    batch_doc = json.loads(next((tmp_path / "out").rglob("*.json")).read_text())
    assert batch_doc["covariance_type"] == fam.name


def check_constraint(model: str, covs: np.ndarray) -> None:
    """Sigma_k = lambda_k D_k A_k D_k^T with the model's equalities (E) and identities (I)."""
    volume = np.exp(np.linalg.slogdet(covs)[1] / covs.shape[1])
    values, vectors = np.linalg.eigh(covs / volume[:, None, None])
    diagonal = np.allclose(covs, covs * np.eye(covs.shape[1]), atol=1e-12)
    if model[0] == "E":
        np.testing.assert_allclose(volume, volume[0], rtol=1e-8)
    if model[1] == "E":
        np.testing.assert_allclose(values, values[:1].repeat(len(values), axis=0), rtol=1e-6)
    if model[1] == "I":
        np.testing.assert_allclose(values, 1.0, rtol=1e-8)
    if model[2] == "I":
        assert diagonal
    if model[2] == "E" and model[1] != "I":
        # one orientation: the matrices commute
        for c in covs[1:]:
            np.testing.assert_allclose(c @ covs[0], covs[0] @ c, rtol=1e-6, atol=1e-8)


def test_one_dimensional_data_have_mclusts_e_and_v(tmp_path: Path) -> None:
    x = load("faithful")[:, :1]
    one = tmp_path / "eruptions.csv"
    np.savetxt(one, x, delimiter=",", header="eruptions", comments="")
    rows = list(csv.DictReader(invoke("select", one, "-k", "1-3", "--seed", 0,
                                      "--n-init", 1).stdout.splitlines()))
    assert [(r["covariance_type"], r["n_components"]) for r in rows] == [
        ("E", "1"), ("E", "2"), ("E", "3"), ("V", "1"), ("V", "2"), ("V", "3")]
    assert [r["n_parameters"] for r in rows] == ["2", "4", "6", "2", "5", "8"]
    # the models of several dimensions reduce to these: EVE is E, VEV is V
    by = {(r["covariance_type"], r["n_components"]): float(r["log_likelihood"]) for r in rows}
    for model, same in (("EVE", "E"), ("VEV", "V")):
        doc = tmp_path / f"{model}.json"
        invoke("fit", one, "-k", 2, "-c", model, "--init", "hc", "--n-init", 1, "--seed", 0,
               "--tol", "1e-7", "--max-iter", 2000, "--model", doc)
        assert json.loads(doc.read_text())["log_likelihood"] == pytest.approx(
            by[same, "2"], abs=1e-4)
    # E and V refuse data of several columns, and select skips them
    result = CliRunner().invoke(cli, ["fit", str(DATA / "faithful.csv"), "-k", "2", "-c", "V"])
    assert result.exit_code == 2 and "V is a model of one-dimensional data" in result.output
    rows = list(csv.DictReader(invoke("select", DATA / "faithful.csv", "-k", "2", "-c",
                                      "V,VVV", "--n-init", 1, "--seed", 0).stdout.splitlines()))
    assert [(r["covariance_type"], r["status"]) for r in rows] == [("V", "skipped"),
                                                                  ("full", "ok")]
    assert rows[0]["message"].startswith("V is a model of one-dimensional data")


# --- selection over the 14 models, against Mclust --------------------------------------------

#: Mclust(X, G = 1:9)'s choice (../shared/reference/README.md; tests/data/README.md for
#: standardised iris): model, K, its BIC.
MCLUST_CHOICE = {"faithful": ("EEE", 3, -2314.316), "iris": ("VEV", 2, -561.7285),
                 "iris_std": ("VVV", 2, -794.7090)}


@pytest.mark.parametrize("dataset", ["faithful", "iris", "iris_std"])
def test_select_over_the_fourteen_models_picks_mclusts_choice(dataset: str,
                                                             tmp_path: Path) -> None:
    """`emgmm select DATA -k 1-9 --seed 0 --jobs 2` in a real process: every model, in
    mclust's order; the choice is Mclust's (or one with a better BIC); every cell reaches
    mclust's log-likelihood (less 0.01), and where the optima agree the BIC is mclust's
    with the sign turned."""
    table = tmp_path / "cells.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "emgmm_cli", "select", str(DATA / f"{dataset}.csv"),
         "-k", "1-9", "--seed", "0", "--jobs", "2", "-o", str(table)],
        capture_output=True, text=True, timeout=1200, check=False,
        env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(table.open(newline="")))
    assert [(r["mclust"], int(r["n_components"])) for r in rows] == [
        (m, k) for m in MODELS for k in range(1, 10)]
    best = next(r for r in rows if r["best"] == "true")
    model, k, bic = MCLUST_CHOICE[dataset]
    assert (best["mclust"], int(best["n_components"])) == (model, k) or -float(best["bic"]) > bic
    assert -float(best["bic"]) >= bic - 0.01
    short = set()
    for r in rows:
        ref = reference(dataset)[r["mclust"], int(r["n_components"])]
        if ref is None:  # mclust's NA: any outcome but a crash
            continue
        assert r["status"] == "ok", r
        loglik = float(r["log_likelihood"])
        if loglik < ref[0] - 0.01:
            short.add((r["mclust"], int(r["n_components"])))
        elif abs(loglik - ref[0]) < 0.005:  # the same optimum: BIC = -mclust's to 0.01
            assert -float(r["bic"]) == pytest.approx(ref[1], abs=0.01), r
    assert not short, sorted(short)


@pytest.mark.parametrize("dataset", ["faithful", "iris", "iris_std"])
def test_fit_with_the_default_start_reaches_mclusts_optimum(dataset: str) -> None:
    """fit with its defaults (init auto, n-init 2: mclust's hierarchical start and the best
    other screened start, both run to tol 1e-6) reaches mclust's log-likelihood less 0.01
    in every cell of every model, K = 1..9.  (On standardised iris, VEV with K = 5, the
    hierarchy's run accelerated from the start stopped 27.3 below mclust's optimum, near
    a saddle plain EM crawls past, and the cell 1.45 below: em.em_machine's mclust_first.)"""
    x = load(dataset)
    short = []
    for (model, k), ref in reference(dataset).items():
        if ref is None:
            continue
        result = fit(ArrayDataset(x), FitOptions(k, model, seed=0))
        if result.loglik < ref[0] - 0.01:
            short.append((model, k, result.loglik - ref[0]))
    assert not short, short


def test_the_models_page_states_the_table_and_the_convergence_control() -> None:
    """docs/models.md's parameter counts are the table's, and its M-step constants are the
    engine's."""
    from emgmm_cli.engine import families

    text = (Path(__file__).parent.parent / "docs" / "models.md").read_text()
    formulas = dict(line.split("|")[1:3] for line in text.splitlines()
                    if line.startswith("| ") and line.count("|") == 3 and "`" in line)
    formulas = {m.strip(): f.strip().strip("`") for m, f in formulas.items()}
    assert sorted(formulas) == sorted([*MODELS, "E", "V"])
    for model, formula in formulas.items():
        for k in range(1, 6):
            for d in range(1, 6):
                value = eval(formula.replace("/", "//"), {"K": k, "D": d, "R": d * (d - 1) // 2})
                assert family(model).n_parameters(k, d) == value, (model, k, d)
    assert f"`MSTEP_TOL` = {families.MSTEP_TOL:g}" in text
    assert f"`MSTEP_MAX_ITER` = {families.MSTEP_MAX_ITER}" in text
    assert f"`SCREEN_MSTEP_ITER` = {families.SCREEN_MSTEP_ITER}" in " ".join(text.split())
    flat = " ".join(text.split())
    assert f"`MSTEP_WARM_TOL` = {families.MSTEP_WARM_TOL:g}" in flat
    assert f"`NEWTON_FROM` = {families.NEWTON_FROM:g}" in flat
    assert f"`NEWTON_COLUMNS` = {families.NEWTON_COLUMNS}" in flat
    assert f"`QN_MEMORY` = {families.QN_MEMORY}" in flat
    assert "in all 252 cells (tests/test_models.py)" in flat


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(12, 60), d=st.integers(2, 4),
       k=st.integers(1, 4), model=st.sampled_from(MODELS))
def test_one_em_step_of_any_model_never_lowers_the_log_likelihood(
        seed: int, n: int, d: int, k: int, model: str) -> None:
    """The iterative M-steps start from the previous covariances and only go up: EM (a
    generalised EM for them) stays monotone."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.3, 3.0, size=d) + rng.normal(size=d)
    centers = np.broadcast_to(x.mean(axis=0), (k, d)).copy()
    resp = rng.dirichlet(np.ones(k), size=n)
    try:
        params, _ = m_step(stats_from_resp(x, resp, centers, family(model).name), centers,
                           model, 1e-3)
        before = chunk_stats(x, params)
        new, _ = m_step(before, params.means, model, 0.0, previous=params)
    except NotPositiveDefinite:
        assume(False)  # too few points for the model without reg_covar: not a step to judge
        raise
    after = chunk_stats(x, new).loglik
    assert after >= before.loglik - 1e-9 * max(1.0, abs(before.loglik)), (model, after,
                                                                           before.loglik)


#: mclust 6.0's log-likelihoods of Mclust(X, G = 3, modelNames = MODEL) on standardised
#: wine (scikit-learn's, columns centred and scaled to unit variance): 13 columns, where
#: EVE's and VVE's common orientation takes hundreds of majorisation steps per M-step.
WINE_STD_MCLUST_K3 = {"EVE": -2318.166, "VVE": -2299.072}


@pytest.mark.parametrize("model", sorted(WINE_STD_MCLUST_K3))
def test_common_orientation_reaches_mclusts_optimum_on_standardised_wine(model: str) -> None:
    from sklearn.datasets import load_wine

    x = load_wine().data
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    result = fit(ArrayDataset(x), FitOptions(3, covariance_type=model, n_init=2, seed=0))
    assert result.loglik >= WINE_STD_MCLUST_K3[model] - 0.01


def _wine_std() -> np.ndarray:
    from sklearn.datasets import load_wine

    x = load_wine().data
    return (x - x.mean(axis=0)) / x.std(axis=0)


def _orientation_parts(model: str) -> tuple[Callable[..., tuple[np.ndarray, float]],
                                            Callable[..., tuple[np.ndarray, np.ndarray, float]]]:
    from emgmm_cli.engine import families

    if model == "EVE":
        return families._eve_diagonal, families._eve_terms
    return families._vve_diagonal, families._vve_terms


@pytest.mark.parametrize("model", ["EVE", "VVE"])
def test_the_newton_system_is_the_orientation_objectives_derivatives(model: str) -> None:
    """The gradient and Hessian the Newton steps use, against central differences of the
    profile objective at D exp(A) (A skew-symmetric, scipy's expm), on 6 columns of
    standardised wine with 3 components, at an orientation far from any minimum."""
    from emgmm_cli.engine import families

    x = _wine_std()[:, :6]
    d, r = 6, 15
    nk, _, w = scatter(x, responsibilities(x, 3, seed=1))
    orient = _rotation(np.random.default_rng(2).normal(size=r), d)[0]
    diagonal, terms = _orientation_parts(model)

    def objective(v: np.ndarray) -> float:
        return families._profiled(w, orient @ _rotation(v, d)[0], nk, diagonal)[1]

    grad, hess = families._newton_system(w, orient, nk, terms)
    h, eye = 1e-4, np.eye(r)
    numerical_grad = np.array([(objective(h * e) - objective(-h * e)) / (2 * h) for e in eye])
    numerical_hess = np.array([[(objective(h * (a + b)) - objective(h * (a - b))
                                 - objective(h * (b - a)) + objective(-h * (a + b))) / (4 * h * h)
                                for b in eye] for a in eye])
    assert np.abs(grad - numerical_grad).max() <= 1e-6 * np.abs(numerical_grad).max()
    assert np.abs(hess - numerical_hess).max() <= 1e-5 * np.abs(numerical_hess).max()
    assert np.abs(hess - numerical_hess).max() > 0  # not one computation compared with itself


def test_a_newton_step_solves_by_cholesky_or_says_it_cannot() -> None:
    from emgmm_cli.engine import families

    rng = np.random.default_rng(8)
    a = rng.normal(size=(6, 6))
    spd, b = a @ a.T + 6.0 * np.eye(6), rng.normal(size=6)
    solved = families._cholesky_solve(spd, b)
    assert solved is not None
    np.testing.assert_allclose(solved, np.linalg.solve(spd, b), rtol=1e-12)
    assert families._cholesky_solve(spd - 100.0 * np.eye(6), b) is None  # indefinite


@pytest.mark.parametrize("model", ["EVE", "VVE"])
@pytest.mark.parametrize("warm", [False, True], ids=["first", "warm"])
def test_the_common_orientation_is_one_the_majorisation_cannot_lower(model: str,
                                                                      warm: bool) -> None:
    """An EVE or VVE M-step on standardised wine (13 columns, 4 components), from the
    pooled scatter or from other covariances, ends where 200 more of Browne and
    McNicholas's majorisation steps lower the objective (sum_k n_k log|Sigma_k| +
    tr(Sigma_k^-1 W_k), computed here) by less than 1e-10 of it: an exact M-step, not one
    stopped part-way (majorisation steps alone, to 1e-12 or capped at 1000 steps, did not
    here, from either start)."""
    from emgmm_cli.engine import families

    x = _wine_std()
    nk, _, w = scatter(x, responsibilities(x, 4, seed=3))
    m_step_of = family(model).m_step
    previous = None
    if warm:
        other_nk, _, other_w = scatter(x, responsibilities(x, 4, seed=4))
        previous = m_step_of(other_w, other_nk, None)
    covs = m_step_of(w, nk, previous)
    ours = expected_loglik(nk, w, covs)
    diagonal, _ = _orientation_parts(model)
    scaled = covs / np.linalg.det(covs)[:, None, None] ** (1 / 13)
    orient = np.linalg.eigh(scaled.sum(axis=0))[1]
    delta, _ = families._profiled(w, orient, nk, diagonal)
    alpha = np.linalg.eigvalsh(w)[:, -1]
    for _ in range(200):
        orient = families._majorise(w, alpha, orient, delta)
        delta, _ = families._profiled(w, orient, nk, diagonal)
    further = expected_loglik(nk, w, families._rotate(delta, np.broadcast_to(orient, w.shape)))
    assert further >= ours - 1e-10 * abs(ours), (ours, further)


@pytest.mark.parametrize("model", ["EVE", "VVE"])
@pytest.mark.parametrize("warm", [False, True], ids=["first", "warm"])
def test_beyond_newtons_columns_quasi_newton_steps_end_below_the_majorisation(
        model: str, warm: bool) -> None:
    """With more columns than Newton steps take (36 > NEWTON_COLUMNS), an EVE or VVE
    M-step (3 components of 600 points) ends lower than plain majorisation steps (the
    loop below, to the same tolerance and at most 1000 steps) from the pooled scatter's or
    the previous covariances' orientation, in fewer than a twentieth of their steps (27
    to 37 against 1000 when measured; without the L-BFGS memory, the steps along the
    preconditioned gradient alone, 35 to 71)."""
    from emgmm_cli.engine import families

    rng = np.random.default_rng(0)
    d = 36
    assert d > families.NEWTON_COLUMNS[1]
    shapes = [rng.normal(size=(d, d)) * rng.uniform(0.2, 2.0, size=d) for _ in range(3)]
    x = np.concatenate([rng.normal(size=(200, d)) @ m + 3.0 * rng.normal(size=d)
                        for m in shapes])
    nk, _, w = scatter(x, responsibilities(x, 3, seed=3))
    m_step_of = family(model).m_step
    other_nk, _, other_w = scatter(x, responsibilities(x, 3, seed=4))
    previous = m_step_of(other_w, other_nk, None) if warm else None
    search, calls = families._line_search, [0]

    def counted(*args: object) -> object:
        calls[0] += 1
        return search(*args)  # type: ignore[arg-type]

    families._line_search = counted  # type: ignore[assignment]
    try:
        ours = expected_loglik(nk, w, m_step_of(w, nk, previous))
    finally:
        families._line_search = search
    diagonal, _ = _orientation_parts(model)
    start = w.sum(axis=0) if previous is None else families._volume_one_sum(previous)
    orient = np.linalg.eigh(start)[1]
    delta, before = families._profiled(w, orient, nk, diagonal)
    alpha = np.linalg.eigvalsh(w)[:, -1]
    tol = families.MSTEP_WARM_TOL if warm else families.MSTEP_TOL
    for steps in range(1, 1001):
        orient = families._majorise(w, alpha, orient, delta)
        delta, after = families._profiled(w, orient, nk, diagonal)
        done, before = families._converged(before, after, tol), after
        if done:
            break
    plain = expected_loglik(nk, w, families._rotate(delta, np.broadcast_to(orient, w.shape)))
    assert ours < plain, (ours, plain)
    assert 0 < calls[0] < steps / 20, (calls[0], steps)


@pytest.mark.parametrize("model", ["EVE", "VVE"])
def test_the_quasi_newton_curvature_is_the_newton_hessians_diagonal(model: str) -> None:
    """_quasi_newton's gradient and first guess at the curvature are the Newton system's
    gradient and the magnitudes of its Hessian's diagonal (that system is checked against
    central differences above), here at an orientation far from any minimum."""
    from emgmm_cli.engine import families

    x = _wine_std()[:, :6]
    nk, _, w = scatter(x, responsibilities(x, 3, seed=1))
    orient = _rotation(np.random.default_rng(2).normal(size=15), 6)[0]
    _, terms = _orientation_parts(model)
    grad, hess = families._newton_system(w, orient, nk, terms)
    qn_grad, curvature = families._gradient_and_curvature(w, orient, nk, terms)
    np.testing.assert_allclose(qn_grad, grad, rtol=1e-12, atol=0)
    size = np.abs(np.diagonal(hess))
    assert size.min() > families.QN_FLOOR * size.max()  # no entry floored here
    np.testing.assert_allclose(curvature, size, rtol=1e-9)


def test_the_lbfgs_direction_is_the_bfgs_update_of_its_pairs() -> None:
    """The two-loop recursion (_lbfgs_direction) against the matrix it stands for
    (Nocedal and Wright, 7.19): H0 = gamma diag(1 / curvature), gamma = s.y / y.H0'y of
    the last pair, then H <- (I - rho s y^T) H (I - rho y s^T) + rho s s^T for each pair
    (s, y) in turn, rho = 1 / y.s; the direction is -H g.  With no pairs, -g / curvature.
    The pairs here are steps of a quadratic (y = A s, A positive definite), so that every
    y.s > 0, as _quasi_newton keeps them."""
    from emgmm_cli.engine import families

    rng = np.random.default_rng(5)
    n = 12
    a = rng.normal(size=(n, n))
    quadratic = a @ a.T + n * np.eye(n)
    curvature = np.abs(np.diagonal(quadratic)) * rng.uniform(0.5, 2.0, size=n)
    g = rng.normal(size=n)
    np.testing.assert_allclose(families._lbfgs_direction(g, curvature, []), -g / curvature)
    pairs = [(s, quadratic @ s) for s in rng.normal(size=(5, n))]
    last_s, last_y = pairs[-1]
    h = np.diag(1.0 / curvature) * (last_s @ last_y) / (last_y @ (last_y / curvature))
    eye = np.eye(n)
    for s, y in pairs:
        rho = 1.0 / (y @ s)
        h = (eye - rho * np.outer(s, y)) @ h @ (eye - rho * np.outer(y, s)) + rho * np.outer(s, s)
    np.testing.assert_allclose(families._lbfgs_direction(g, curvature, pairs), -h @ g,
                               rtol=1e-9)


@pytest.mark.parametrize("model", ["EVE", "VVE"])
def test_quasi_newton_steps_on_singular_scatters_stay_finite(model: str) -> None:
    """Fewer rows per component than columns (2 components of 50 rows in 60 columns): each
    scatter is singular but for reg_covar, the curvature spans many orders of magnitude
    (the floor QN_FLOOR holds), and steps along it can be long; the M-step warns of
    nothing (every floating-point error raises here) and ends at covariances of the
    family, positive definite, lower in its objective (sum_k n_k log|Sigma_k| +
    tr(Sigma_k^-1 W_k)) than the pooled scatter's orientation, where it starts."""
    from emgmm_cli.engine import families

    rng = np.random.default_rng(1)
    d = 60
    x = np.concatenate([rng.normal(size=(50, d)) * rng.uniform(0.3, 2.0, size=d)
                        + 3.0 * rng.normal(size=d) for _ in range(2)])
    nk, _, w = scatter(x, np.eye(2)[np.repeat([0, 1], 50)])  # each of rank 49 < 60
    w = w + (1e-6 * nk)[:, None, None] * np.eye(d)  # reg_covar, as scatter_about_means adds
    with np.errstate(all="raise", under="ignore"):
        cov = family(model).m_step(w, nk, None)
    assert np.isfinite(cov).all() and (np.linalg.eigvalsh(cov) > 0).all()
    assert family(model).unequal(cov, 2, d) is None
    diagonal, _ = _orientation_parts(model)
    start = np.linalg.eigh(w.sum(axis=0))[1]
    begun = expected_loglik(nk, w, families._rotate(families._profiled(w, start, nk, diagonal)[0],
                                                    np.broadcast_to(start, w.shape)))
    assert expected_loglik(nk, w, cov) < begun


@pytest.mark.parametrize("model", ["EVE", "VVE"])
def test_a_plane_without_curvature_takes_the_floor(model: str) -> None:
    """Where every scatter is round in the plane of columns 0 and 1, the objective does
    not change with a rotation in it (no gradient, no curvature): that entry of the
    curvature is QN_FLOOR of the largest, not 0 (a division by it would be inf), and the
    M-step from there raises no floating-point error."""
    from emgmm_cli.engine import families

    d = 36
    scales = np.array([1.0, 1.0, *np.linspace(2.0, 5.0, d - 2)])
    w = np.stack([np.diag(scales * f) for f in (1.0, 1.5, 3.0)]) * 100.0
    nk = np.array([100.0, 100.0, 100.0])
    _, terms = _orientation_parts(model)
    grad, curvature = families._gradient_and_curvature(w, np.eye(d), nk, terms)
    p, q = families._rotation_pairs(d)
    flat = int(np.flatnonzero((p == 0) & (q == 1))[0])
    assert grad[flat] == 0.0
    assert curvature[flat] == families.QN_FLOOR * curvature.max()
    with np.errstate(all="raise", under="ignore"):
        cov = family(model).m_step(w + np.eye(d) * 1e-3, nk, None)
    assert np.isfinite(cov).all()


@pytest.mark.parametrize("model", ["VEE", "EVE", "VVE"])
def test_a_turn_among_the_small_eigenvalues_is_another_orientation(model: str) -> None:
    """The commutator's test reads a turn in the units of the largest entries: ill-
    conditioned covariances (eigenvalues 1e4, 1 and 0.5 here, columns of scales 100
    and 1) with component 1 turned by 30 degrees in the plane of the two least passed
    as one orientation, and a hand-edited model file of them loaded.  Each pair of
    directions is judged by the correlation it leaves (families._turned); one
    orientation, however ill-conditioned, still passes."""
    rng = np.random.default_rng(4)
    v = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    shapes = {"VEE": [[1e4, 1.0, 0.5]] * 2, "EVE": [[1e4, 1.0, 0.5], [2e4, 0.25, 1.0]],
              "VVE": [[1e4, 1.0, 0.5], [3e4, 0.1, 2.0]]}[model]
    volumes = {"VEE": [1.0, 8.0], "EVE": [1.0, 1.0], "VVE": [1.0, 5.0]}[model]
    cov = np.stack([f * v @ np.diag(s) @ v.T for f, s in zip(volumes, shapes)])
    if model == "EVE":  # one volume: the second's eigenvalues to the first's product
        cov[1] *= (np.prod(shapes[0]) / np.prod(shapes[1])) ** (1 / 3)
    cov = 0.5 * (cov + cov.transpose(0, 2, 1))
    assert family(model).unequal(cov, 2, 3) is None
    t = np.radians(30.0)
    turn = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(t), -np.sin(t)], [0.0, np.sin(t), np.cos(t)]])
    w = np.linalg.eigh(cov[1])[1][:, ::-1]  # largest first: the turn is in the two least
    turned = cov.copy()
    turned[1] = w @ turn @ w.T @ cov[1] @ w @ turn.T @ w.T
    turned[1] = 0.5 * (turned[1] + turned[1].T)
    assert family(model).unequal(turned, 2, 3) == ("orientation", 1)


#: Standardised wine (R's scale(): columns centred, divided by their sd with n - 1), VVE
#: with K = 4, the run of seed VVE4_SEED (select's cell of seed 0): EM stopped at -2213.03,
#: where mclust 6.0's one estep + mstep("VVE") from the same responsibilities gave -2199.88
#: (the orientation started afresh; emgmm's started from the last one, in a local minimum
#: of its own), and EM from there -2192.08.
VVE4_SEED, VVE4_MCLUST_STEP = 7602258906339489, -2199.88


def test_eve_and_vve_do_not_stop_where_a_fresh_orientation_climbs() -> None:
    from sklearn.datasets import load_wine

    x = load_wine().data
    x = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    options = FitOptions(4, covariance_type="VVE", seed=VVE4_SEED)
    result = fit(ArrayDataset(x), options)
    assert result.loglik > VVE4_MCLUST_STEP and not result.is_degenerate
    assert result.loglik == pytest.approx(-2192.08, abs=0.01)  # models.md's figure
    trace = [row.log_likelihood for row in result.trace]
    assert min(np.diff(trace)) >= -1e-12  # the probe's rows keep the trace rising
    # where it ends, a fresh orientation's M-step climbs no further than tol
    before = chunk_stats(x, result.params)
    fresh, _ = m_step(before, result.params.means, "VVE", options.reg_covar)
    assert chunk_stats(x, fresh).loglik <= before.loglik + options.tol * len(x)


def test_a_run_that_goes_on_to_a_degenerate_end_ends_where_it_left() -> None:
    """select's EVE cell with K = 4 on the same data: a fresh orientation climbs from where
    a run converged (-2240.67), on to a spurious maximum (a component on the floor, whose
    cell then took another run's -2244.74); the run ends where it left instead."""
    import emgmm_cli
    from sklearn.datasets import load_wine

    x = load_wine().data
    x = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    rows = {r["mclust"]: r for r in emgmm_cli.select(x, [4], ["EVE", "VVE"], seed=0).rows()}
    assert rows["EVE"]["log_likelihood"] == pytest.approx(-2240.668, abs=1e-3)
    assert rows["VVE"]["log_likelihood"] > VVE4_MCLUST_STEP
    assert all(r["status"] == "ok" for r in rows.values())


def _vve4() -> tuple[np.ndarray, ArrayDataset]:
    from sklearn.datasets import load_wine

    x = load_wine().data
    x = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    return x, ArrayDataset(x)


def test_a_run_that_goes_on_keeps_to_max_iter_and_to_where_it_left_on_failure() -> None:
    """A plain run that went on from a fresh orientation began its count of iterations
    afresh (26 passes under --max-iter 20); and where an M-step failed after it went on,
    the whole run failed, though it had converged before."""
    from emgmm_cli.engine import em
    from emgmm_cli.engine.errors import NotPositiveDefinite

    x, data = _vve4()
    plain = FitOptions(4, covariance_type="VVE", seed=VVE4_SEED, accelerate="none")
    whole = fit(data, plain)
    capped = fit(data, plain.replace(max_iter=20))
    assert whole.n_passes > 20 >= capped.n_passes and capped.n_iter <= 20
    # EM as it ran before, the orientation always from the last one: the stall
    stall = fit(data, plain.replace(max_iter=1)).params
    for _ in range(300):
        stall = m_step(chunk_stats(x, stall), stall.means, "VVE", plain.reg_covar,
                       previous=stall)[0]
    assert chunk_stats(x, stall).loglik == pytest.approx(-2213.03, abs=0.01)

    def converged() -> em.Machine:  # a run that has converged at the stall
        return stall, True
        yield  # (a generator)

    steps = em.Steps(data, plain.reg_covar, False, None)
    calls: list[MixtureParams] = []

    def compute(params: MixtureParams) -> em.Pass:
        calls.append(params)  # 1: at the stall, 2: the probe (taken), 3: on from it
        if len(calls) == 4:
            raise NotPositiveDefinite(0, len(steps.trace), plain.reg_covar)
        return steps.compute(params)

    params, done = em.drive(em._reoriented(steps, converged(), plain.tol, 1000, False),
                            compute)
    assert len(calls) == 4 and done and len(steps.trace) == 1  # as where it left
    assert chunk_stats(x, params).loglik >= chunk_stats(x, stall).loglik


def test_a_probe_that_leads_nowhere_leaves_the_run_as_it_was() -> None:
    """Standardised breast cancer (30 columns), VVE with K = 3, select's seed of the cell
    (seed 0): the probe is refused, and the run ends as it did without one, its trace
    rising; it ended instead at the M-step from its converged parameters, 5.9e-4 lower
    in all (the floor's maximum, not the likelihood's), a trace row showing the fall."""
    from sklearn.datasets import load_breast_cancer

    x = load_breast_cancer().data
    x = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    result = fit(ArrayDataset(x), FitOptions(3, covariance_type="VVE",
                                             seed=8187067145619758))
    trace = np.array([row.log_likelihood for row in result.trace])
    assert min(np.diff(trace)) >= 0.0
    assert result.loglik == pytest.approx(26.276669, abs=1e-5)  # the engine's before
