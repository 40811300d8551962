"""A complete fit: validation, restarts from child seeds, the best run, its criteria."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

import numpy as np
from numpy.typing import NDArray

from . import criteria, starts
from .. import vocab
from .dataset import Dataset
from .families import family
from .em import EMRun, TraceRow, degenerate_components, run_em
from .errors import (
    DEGENERATE,
    FEWER_COMPONENTS,
    NOT_CONVERGED,
    WIDER_DTYPE,
    FitEvent,
    InvalidParameter,
)
from .hc import HcTree
from .init import distinct_rows, initial_params, restart_method
from .options import FitOptions
from .ordering import component_order
from .params import MixtureParams
from .stats import Moments, chunk_moments, chunk_stats

Array = NDArray[np.floating]

ALGORITHMS: tuple[str, ...] = vocab.names(vocab.ALGORITHMS)

#: on_iteration(restart, iteration, mean objective, change)
ProgressCallback = Callable[[int, int, float, float], None]


@dataclass
class FitResult:
    """The best run of a fit, with what a user needs to judge it."""

    params: MixtureParams
    options: FitOptions
    n_samples: int
    loglik: float
    n_iter: int
    converged: bool
    trace: list[TraceRow]
    events: list[FitEvent]
    degenerate: list[int]
    log_max_resp: float
    best_restart: int
    restart_logliks: list[float] = field(default_factory=list)
    #: every restart's trace, in restart order (the best one's is also ``trace``)
    restart_traces: list[list[TraceRow]] = field(default_factory=list, repr=False)
    #: passes over the data the best run made (n_iter, plus extrapolations that
    #: accelerated EM refused)
    n_passes: int = 0

    @property
    def mean_loglik(self) -> float:
        return self.loglik / self.n_samples

    @property
    def n_parameters(self) -> int:
        return self.params.n_parameters()

    @property
    def bic(self) -> float:
        return criteria.bic(self.loglik, self.n_parameters, self.n_samples)

    @property
    def aic(self) -> float:
        return criteria.aic(self.loglik, self.n_parameters)

    @property
    def icl(self) -> float:
        return criteria.icl(self.loglik, self.n_parameters, self.n_samples, self.log_max_resp)

    @property
    def is_degenerate(self) -> bool:
        return bool(self.degenerate)


#: Restarts whose final log-likelihoods agree to this relative tolerance reached the same
#: optimum (often with the components in another order); their difference is rounding,
#: which depends on how the rows were chunked, so the earlier restart is kept.
RESTART_TIE_RTOL = 1e-9


def _better(a: FitResult, b: FitResult | None) -> bool:
    """Non-degenerate beats degenerate; then the clearly higher final log-likelihood wins."""
    if b is None:
        return True
    if a.is_degenerate != b.is_degenerate:
        return not a.is_degenerate
    return a.loglik > b.loglik + RESTART_TIE_RTOL * abs(b.loglik)


def _check_model(data: Dataset, covariance_type: str) -> None:
    """mclust's E and V are models of one-dimensional data only."""
    fam = family(covariance_type)
    if fam.univariate and data.n_features != 1:
        raise InvalidParameter(
            f"{fam.name} is a model of one-dimensional data, and the data has "
            f"{data.n_features} columns; the models of several dimensions start with its "
            f"letter ({fam.name}II, {fam.name}EI, ...)", option="covariance_type")


def _check_data(data: Dataset, k: int) -> None:
    n = data.n_samples
    if n < 2:
        raise InvalidParameter(f"need at least 2 rows to fit a mixture, got {n}")
    if k > n:
        raise InvalidParameter(f"{k} components need at least {k} rows; the data has {n}")
    n_distinct = distinct_rows(data, k)
    if n_distinct < k:
        rounded = np.dtype(data.dtype) == np.float32
        raise InvalidParameter(
            f"{k} components but the data has only {n_distinct} distinct "
            f"point{'s' if n_distinct != 1 else ''}"
            + (" in float32, which keeps about 7 significant digits" if rounded else ""),
            advice=(FEWER_COMPONENTS, WIDER_DTYPE) if rounded else (FEWER_COMPONENTS,),
        )


def _events_for(run: EMRun, degenerate: list[int], options: FitOptions) -> list[FitEvent]:
    """The run's events (weight collapses), then its degenerate components and whether it
    stopped short of tol: data, phrased without advice (the caller adds its own)."""
    events = list(run.events)
    for c in degenerate:
        events.append(FitEvent(
            DEGENERATE,
            f"component {c}: covariance collapsed onto the regularisation floor "
            "(a spurious maximum of the likelihood); try fewer components, another "
            "covariance type, or more restarts",
            c, run.n_iter,
        ))
    if not run.converged:
        last = run.trace[-1].change
        plural = "s" if options.max_iter > 1 else ""
        detail = "" if math.isnan(last) else f" (last change {last:.3g}, tol {options.tol:g})"
        events.append(FitEvent(
            NOT_CONVERGED, f"did not converge in {options.max_iter} iteration{plural}{detail}",
            None, run.n_iter, {"last_change": last, "tol": options.tol},
        ))
    return events


def _one_restart(data: Dataset, options: FitOptions, r: int, rng: np.random.Generator,
                 moments: Moments, *, means_init: Array | None, hc_tree: HcTree | None,
                 on_iteration: ProgressCallback | None) -> FitResult:
    """Restart r: its start (restart_method), EM to convergence, its degeneracy check."""
    start = initial_params(
        data, options.n_components, options.covariance_type, restart_method(options.init, r),
        rng, reg_covar=options.reg_covar, column_mean=moments.mean,
        column_variance=moments.variance, means_init=means_init, hc_tree=hc_tree,
    )
    return _run_from(data, options, r, start, moments, on_iteration)


def _run_from(data: Dataset, options: FitOptions, r: int, start: MixtureParams,
              moments: Moments, on_iteration: ProgressCallback | None) -> FitResult:
    """Run r: EM to convergence from start, its degeneracy check, its components ordered."""
    callback = None if on_iteration is None else (
        lambda it, obj, ch: on_iteration(r, it, obj, ch))
    run = run_em(data, start, tol=options.tol, max_iter=options.max_iter,
                 reg_covar=options.reg_covar, hard=options.algorithm == "hard",
                 on_iteration=callback, accelerate=options.accelerate)
    degenerate = degenerate_components(run.params, moments.variance, options.reg_covar)
    return _ordered(data, FitResult(
        params=run.params, options=options, n_samples=data.n_samples, loglik=run.final.loglik,
        n_iter=run.n_iter, converged=run.converged, trace=run.trace,
        events=_events_for(run, degenerate, options), degenerate=degenerate,
        log_max_resp=run.final.log_max_resp, best_restart=r, n_passes=run.passes,
    ))


def _auto_runs(data: Dataset, options: FitOptions, moments: Moments,
               hc_tree: HcTree | None, on_iteration: ProgressCallback | None
               ) -> list[FitResult]:
    """init auto (engine.starts): the n_init best screened starts run to convergence.  A
    run that stalls or ends degenerate gives its place to the next candidate; such runs
    are kept (the first of them) only when no candidate is left and no run is sound."""
    ranked = starts.screen(data, options, np.random.SeedSequence(options.seed),
                           moments.mean, moments.variance, hc_tree)
    if not ranked:
        raise InvalidParameter("no start of init 'auto' could be made for "
                               f"{options.n_components} components", advice=(FEWER_COMPONENTS,))
    results: list[FitResult] = []
    spoilt: list[FitResult] = []
    for cand in ranked:
        if len(results) == options.n_init:
            break
        assert cand.params is not None
        r = len(results) + len(spoilt)
        result = _run_from(data, options, r, cand.params, moments, on_iteration)
        bad = result.is_degenerate or starts.stalled(result.params)
        (spoilt if bad else results).append(result)
    return results or spoilt[:1]


def _pick_best(results: list[FitResult]) -> FitResult:
    """The best restart (see _better), with every restart's final log-likelihood."""
    best: FitResult | None = None
    for result in results:
        if _better(result, best):
            best = result
    assert best is not None
    best.restart_logliks = [r.loglik for r in results]
    best.restart_traces = [r.trace for r in results]
    return best


def _ordered(data: Dataset, result: FitResult) -> FitResult:
    """A restart's result with its components in options.order (engine.ordering), the
    components its events and degenerate list name renumbered to match.  The final E-step
    is taken again with the reordered parameters, so that the log-likelihood is the sum
    that scoring the model gives, to the last bit."""
    params = result.params
    order = component_order(params.weights, params.means, result.options.order)
    if (order == np.arange(len(order))).all():
        return result
    params = params.permuted(order)
    final = data.reduce(partial(chunk_stats, params=params, hard=False))
    new = {int(old): j for j, old in enumerate(order)}

    def renumber(event: FitEvent) -> FitEvent:
        if event.component is None:
            return event
        j = new[event.component]
        text = event.message.replace(f"component {event.component}", f"component {j}", 1)
        return dataclasses.replace(event, component=j, message=text)

    events = [renumber(e) for e in result.events]
    where = [i for i, e in enumerate(events) if e.kind == DEGENERATE]  # listed by component
    for i, event in zip(where, sorted((events[i] for i in where),
                                      key=lambda e: e.component or 0)):
        events[i] = event
    return dataclasses.replace(result, params=params, events=events,
                               degenerate=sorted(new[c] for c in result.degenerate),
                               loglik=final.loglik, log_max_resp=final.log_max_resp)


def fit(
    data: Dataset,
    options: FitOptions,
    *,
    means_init: Array | None = None,
    on_iteration: ProgressCallback | None = None,
    hc_tree: HcTree | None = None,
) -> FitResult:
    """Fit a Gaussian mixture to ``data``: n_init runs, the best one kept.

    Restart r draws from child r of the SeedSequence of ``options.seed``, so a run is
    reproducible whatever the chunking or threading.  A restart that ends degenerate loses
    to any that does not (a spurious maximum is not a better fit).  With init "hc" the
    first restart cuts ``hc_tree`` (built from the data when None) and the others start
    as init.restart_method says.  Given means_init, the one run starts from those means
    (every restart would) and the options record init "means-init".
    """
    if means_init is not None:
        options = options.replace(init=vocab.MEANS_INIT)
    options.validate()
    _check_model(data, options.covariance_type)
    _check_data(data, options.n_components)
    moments = data.reduce(chunk_moments)
    if options.init == vocab.AUTO and means_init is None:
        return _pick_best(_auto_runs(data, options, moments, hc_tree, on_iteration))
    runs = 1 if means_init is not None else options.n_init
    children = np.random.SeedSequence(options.seed).spawn(runs)
    results = [
        _one_restart(data, options, r, np.random.default_rng(child), moments,
                     means_init=means_init, hc_tree=hc_tree, on_iteration=on_iteration)
        for r, child in enumerate(children)
    ]
    return _pick_best(results)
