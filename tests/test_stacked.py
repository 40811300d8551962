"""Stacked runs (engine.stacked): several runs' EM in shared passes is each run's own EM
(engine.em.run_em, plain and SQUAREM), to rounding: parameters, trace, passes, stop."""

from __future__ import annotations

import numpy as np
import pytest

from emgmm_cli.backends.local import ArrayDataset
from emgmm_cli.engine import initial_params, run_em
from emgmm_cli.engine import fitting, stacked
from emgmm_cli.engine.fitting import fit
from emgmm_cli.engine.options import FitOptions
from emgmm_cli.engine.ordering import component_order
from emgmm_cli.engine.dataset import WeightedRows
from emgmm_cli.engine.em import EMRun, em_stats
from emgmm_cli.engine.errors import NotPositiveDefinite
from emgmm_cli.engine.families import DIAGONAL, FAMILIES as FAMILY_TABLE, family
from emgmm_cli.engine.params import MixtureParams
from emgmm_cli.engine.stacked import run_stacked
from emgmm_cli.engine.stats import chunk_moments

FAMILIES = ["VVV", "EEE", "VVI", "VII", "EII", "VEI", "EVI", "VEE", "EEV", "EVV", "VEV",
            "EVE"]


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


#: How far a stacked run's final parameters (and the sum of its rows' log largest
#: responsibilities, which they decide) may differ from the same run alone: their passes'
#: products are rounded differently (one stacked product against one per run).  Measured:
#: at most 1.6e-9 (a weight, a variance and that sum of one VVI run of 103 accelerated
#: passes in test_each_run_is_its_own_squarem; the other families' runs there stay below
#: 3e-12).  Both kernels centre the rows, a stacked pass on the rows' mean and a run alone
#: on its means' mean, so a covariance entry near 0 differs by rounding on the matrix's
#: scale: COVARIANCE_ATOL (measured 4.8e-11 on an entry of 1e-3, EVE, unit-scale data).
PARAMS_RTOL = 5e-9
COVARIANCE_ATOL = 1e-10


def assert_same(stacked, data, start, iters: int, tol: float, accelerate: str = "none") -> None:
    alone = run_em(data, start, tol=tol, max_iter=iters, reg_covar=1e-6, accelerate=accelerate)
    assert isinstance(stacked, EMRun)
    # PARAMS_RTOL: a slowly converging accelerated run carries the stacked products'
    # rounding, amplified by its extrapolations, further than a plain one
    np.testing.assert_allclose(stacked.params.means, alone.params.means, rtol=PARAMS_RTOL,
                               atol=1e-9)
    np.testing.assert_allclose(stacked.params.covariances, alone.params.covariances,
                               rtol=PARAMS_RTOL, atol=COVARIANCE_ATOL)
    np.testing.assert_allclose(stacked.params.weights, alone.params.weights, rtol=PARAMS_RTOL)
    assert stacked.final.loglik == pytest.approx(alone.final.loglik, rel=1e-11)
    assert stacked.final.log_max_resp == pytest.approx(alone.final.log_max_resp,
                                                       rel=PARAMS_RTOL, abs=1e-9)
    assert (stacked.passes, stacked.n_iter, stacked.converged, stacked.stopped) == (
        alone.passes, alone.n_iter, alone.converged, alone.stopped)
    np.testing.assert_allclose([r.log_likelihood for r in stacked.trace],
                               [r.log_likelihood for r in alone.trace], rtol=1e-9)


@pytest.mark.parametrize("name", [n for n, f in FAMILY_TABLE.items() if f.stacks])
def test_a_stacked_m_step_is_each_mixtures_own(name: str) -> None:
    """A family that takes a stack of mixtures (Family.stacks) gives each one the
    covariances its own M-step gives it."""
    fam = family(name)
    rng = np.random.default_rng(7)
    c, k, d = 3, 4, 3
    rows = rng.normal(size=(c, k, 12, d))
    w = np.einsum("ckni,cknj->ckij", rows, rows)
    if fam.statistic == DIAGONAL:
        w = np.einsum("ckii->cki", w).copy()
    nk = rng.uniform(5.0, 20.0, size=(c, k))
    together = fam.m_step(w, nk, None)
    for j in range(c):
        np.testing.assert_allclose(together[j], fam.m_step(w[j], nk[j], None), rtol=1e-13)
    # the next M-step, from these covariances (where the iterative ones start)
    later = fam.m_step(1.5 * w, nk, together)
    for j in range(c):
        np.testing.assert_allclose(later[j], fam.m_step(1.5 * w[j], nk[j], together[j]),
                                   rtol=1e-13)


@pytest.mark.parametrize("family", FAMILIES)
def test_each_candidate_runs_its_own_em(family: str) -> None:
    x = blobs(1)
    first = starts(x, family, 4, 5)
    runs = run_stacked(ArrayDataset(x), first, tol=0.0, max_iter=7, reg_covar=1e-6)
    for run, start in zip(runs, first):
        assert_same(run, ArrayDataset(x), start, 7, 0.0)


#: SQUAREM to convergence, stacked against alone: VEI is left out.  There one of the five
#: runs (118 passes) ends with the same log-likelihood (to 2e-12 of it) but means 7e-7
#: apart, measured with the stacked E-step alone (its M-step one run at a time, before it
#: took stacks) as with both: rounding drifts along a direction the likelihood hardly
#: sees, beyond PARAMS_RTOL; its plain-EM runs are compared above.
SQUAREM_FAMILIES = [name for name in FAMILIES if name != "VEI"]


@pytest.mark.parametrize("family", SQUAREM_FAMILIES)
def test_each_run_is_its_own_squarem(family: str) -> None:
    # SQUAREM to convergence: the runs ask for passes of different kinds (EM steps and
    # extrapolated guesses, some refused) in the same stacked pass, and stop apart
    x = blobs(6)
    first = starts(x, family, 4, 5)
    runs = run_stacked(ArrayDataset(x), first, tol=1e-8, max_iter=300, reg_covar=1e-6,
                       accelerate="squarem")
    assert len({run.passes for run in runs if isinstance(run, EMRun)}) > 1
    for run, start in zip(runs, first):
        assert_same(run, ArrayDataset(x), start, 300, 1e-8, "squarem")


def test_candidates_stop_on_their_own() -> None:
    # a loose tolerance: the candidates converge after different numbers of passes
    x = blobs(2)
    first = starts(x, "VVV", 3, 4)
    runs = run_stacked(ArrayDataset(x), first, tol=1e-3, max_iter=50, reg_covar=1e-6)
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
    runs = run_stacked(data, first, tol=0.0, max_iter=6, reg_covar=1e-6)
    for run, start in zip(runs, first):
        assert_same(run, data, start, 6, 0.0)


def test_a_failing_candidate_drops_out_alone() -> None:
    # one start puts a component on a lone far point: after one pass its covariance is
    # zero, which without regularisation is no covariance; the other start goes on
    x = np.concatenate([blobs(4, n=200, d=2), [[100.0, 100.0]]])
    good = starts(x, "VVV", 2, 1)[0]
    bad = MixtureParams.build(np.array([0.5, 0.5]), np.array([[0.0, 0.0], [100.0, 100.0]]),
                              np.stack([np.eye(2) * 10.0, np.eye(2) * 1e-2]), "VVV")
    runs = run_stacked(ArrayDataset(x), [good, bad], tol=0.0, max_iter=5, reg_covar=0.0)
    assert isinstance(runs[0], EMRun)
    assert isinstance(runs[1], NotPositiveDefinite)
    with pytest.raises(NotPositiveDefinite, match=str(runs[1])):
        run_em(ArrayDataset(x), bad, tol=0.0, max_iter=5, reg_covar=0.0)
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
    runs = run_stacked(ArrayDataset(x), [normal, needles], tol=0.0, max_iter=2, reg_covar=1e-6)
    for run, start in zip(runs, [normal, needles]):
        assert_same(run, ArrayDataset(x), start, 2, 0.0)


def test_a_collapsing_component_is_reported_as_alone() -> None:
    # a start with a component far from every row: its mass collapses on the first pass,
    # which run_em reports as an event and freezes; the stacked run the same
    x = blobs(7, n=200, d=2)
    normal = starts(x, "VVV", 3, 1)[0]
    lost = MixtureParams.build(np.array([0.4, 0.4, 0.2]),
                               np.array([x[0], x[1], x[0] + 1e3]),
                               np.stack([np.eye(2)] * 3), "VVV")
    runs = run_stacked(ArrayDataset(x), [normal, lost], tol=1e-8, max_iter=200,
                       reg_covar=1e-6, accelerate="squarem")
    alone = run_em(ArrayDataset(x), lost, tol=1e-8, max_iter=200, reg_covar=1e-6,
                   accelerate="squarem")
    assert isinstance(runs[1], EMRun) and alone.events
    assert [(e.kind, e.component, e.iteration) for e in runs[1].events] == [
        (e.kind, e.component, e.iteration) for e in alone.events]
    assert_same(runs[0], ArrayDataset(x), normal, 200, 1e-8, "squarem")


@pytest.mark.parametrize("family", ["VVV", "EEE", "VVI", "VII", "VEV"])
def test_fit_with_shared_passes_is_fit_one_run_at_a_time(
        family: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # the auto start's full runs share their passes on small data (up to STACKED_ROWS
    # rows); above, they run one at a time: the same fit, the same progress reports
    x = blobs(8, n=400, d=3)
    options = FitOptions(4, family, n_init=3, seed=2, tol=1e-7, max_iter=500)
    shared_calls: list[tuple[int, int]] = []
    shared = fit(ArrayDataset(x), options,
                 on_iteration=lambda r, it, *_: shared_calls.append((r, it)))
    monkeypatch.setattr(fitting, "STACKED_ROWS", 0)
    alone_calls: list[tuple[int, int]] = []
    alone = fit(ArrayDataset(x), options,
                on_iteration=lambda r, it, *_: alone_calls.append((r, it)))
    assert sorted(shared_calls) == sorted(alone_calls) and len(alone_calls) > 30
    assert shared_calls != alone_calls  # interleaved: the runs took their passes together
    assert shared.loglik == pytest.approx(alone.loglik, rel=1e-10)
    assert shared.restart_logliks == pytest.approx(alone.restart_logliks, rel=1e-10)
    assert (shared.best_restart, shared.n_iter, shared.n_passes) == (
        alone.best_restart, alone.n_iter, alone.n_passes)
    np.testing.assert_allclose(shared.params.means, alone.params.means, rtol=1e-8)


@pytest.mark.parametrize("n", [400, 2500])
@pytest.mark.parametrize("family", ["VVV", "VVI", "VII"])
def test_a_fits_log_likelihood_is_its_models_score_to_the_last_bit(n: int, family: str) -> None:
    # with shared passes (400 rows) or without (2,500), the kept run's parameters are
    # ordered before its final E-step, which is its own: scoring them gives the same sum
    x = blobs(9, n=n, d=3)
    data = ArrayDataset(x)
    result = fit(data, FitOptions(3, family, n_init=3, seed=4, tol=1e-6, max_iter=300))
    assert em_stats(data, result.params, hard=False).loglik == result.loglik
    order = component_order(result.params.weights, result.params.means, "weight")
    assert (order == np.arange(3)).all()


def test_the_screenings_stacked_final_pass_is_each_runs_to_rounding() -> None:
    x = blobs(10)
    first = starts(x, "VVI", 4, 5)
    shared = run_stacked(ArrayDataset(x), first, tol=0.0, max_iter=5, reg_covar=1e-6,
                         exact_final=False)
    own = run_stacked(ArrayDataset(x), first, tol=0.0, max_iter=5, reg_covar=1e-6)
    for a, b in zip(shared, own):
        assert isinstance(a, EMRun) and isinstance(b, EMRun)
        assert a.final.loglik == pytest.approx(b.final.loglik, rel=1e-12)
        assert a.final.log_max_resp == 0.0 and b.final.log_max_resp != 0.0


@pytest.mark.parametrize("family", ["VVV", "VII"])
def test_a_stack_over_its_memory_bound_runs_in_groups(family: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs whose work buffers together pass STACK_BYTES run in groups that fit, one group
    to its end after another (the screening's final pass in groups too): each run is
    still its own EM."""
    x = blobs(2, n=400)
    first = starts(x, family, 3, 7)
    # work columns a run: VVV 3 * 3 + 3 + 1 + 3 (residuals, [x, 1], log-probabilities),
    # VII 2 * 3 + 3 ([x - c, (x - c)^2], log-probabilities); 400 rows of 8 bytes
    per_run = (16 if family == "VVV" else 9) * 400 * 8
    monkeypatch.setattr(stacked, "STACK_BYTES", 3 * per_run + 1)
    assert stacked.runs_per_pass(first[0], ArrayDataset(x)) == 3
    calls: list[int] = []
    real = stacked.stacked_stats

    def counted(rows: stacked.Rows, mixtures: list[MixtureParams]) -> list:
        calls.append(len(mixtures))
        return real(rows, mixtures)

    monkeypatch.setattr(stacked, "stacked_stats", counted)
    runs = run_stacked(ArrayDataset(x), first, tol=0.0, max_iter=4, reg_covar=1e-6)
    assert calls == [3] * 4 + [3] * 4 + [1] * 4  # 4 passes a group
    for run, start in zip(runs, first):
        assert_same(run, ArrayDataset(x), start, 4, 0.0)
    calls.clear()
    screened = run_stacked(ArrayDataset(x), first, tol=0.0, max_iter=4, reg_covar=1e-6,
                           exact_final=False)
    assert calls[-3:] == [3, 3, 1]  # the final pass, grouped too
    for a, b in zip(screened, runs):
        assert isinstance(a, EMRun) and isinstance(b, EMRun)
        assert a.final.loglik == pytest.approx(b.final.loglik, rel=1e-12)
    monkeypatch.setattr(stacked, "STACK_BYTES", 1)
    assert stacked.runs_per_pass(first[0], ArrayDataset(x)) == 1
