"""A complete fit: validation, restarts from child seeds, the best run, its criteria."""

from __future__ import annotations

import dataclasses
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Iterator

import numpy as np
from numpy.typing import NDArray

from . import criteria, splitmerge, starts
from .. import vocab
from .degenerate import DegeneratePolicy
from .dataset import (
    Dataset,
    check_known,
    reduce_weighted,
    row_known,
    row_weights,
    total_weight,
)
from .families import MATRIX, family
from .em import (
    Arrange,
    STOPPED_DEGENERATE,
    STOPPED_MAX_ITER,
    STOPPED_TIME_LIMIT,
    DegenerateTest,
    EMRun,
    IterationCallback,
    TraceRow,
    degenerate_components,
    past,
    run_em,
)
from .errors import (
    DEGENERATE,
    FEWER_COMPONENTS,
    FLOAT32_PRECISION,
    NOT_CONVERGED,
    TIME_LIMIT,
    WIDER_DTYPE,
    EngineError,
    FitEvent,
    InvalidParameter,
    NotPositiveDefinite,
)
from .hc import HcTree, seeded_hc_tree
from .missing import row_missing
from .stacked import run_stacked
from .init import distinct_rows, initial_params, restart_method
from .options import FitOptions, frozen_names
from .ordering import component_order
from .params import MixtureParams
from .stats import Moments, SuffStats, chunk_moments, stats_from_resp

Array = NDArray[np.floating]

ALGORITHMS: tuple[str, ...] = vocab.names(vocab.ALGORITHMS)

#: on_iteration(restart, iteration, mean objective, change)
ProgressCallback = Callable[[int, int, float, float], None]


@dataclass(eq=False)
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
    #: the sum of the sample weights of a weighted fit (None: every row counts once)
    weight_total: float | None = None
    #: why the kept run stopped (em.STOP_REASONS), and why every restart did
    stopped: str = STOPPED_MAX_ITER
    restart_stopped: list[str] = field(default_factory=list)
    #: how the kept run started (an init method, or one of vocab.RUN_ORIGINS), and how
    #: every restart did
    origin: str = ""
    restart_origins: list[str] = field(default_factory=list)

    @property
    def n_effective(self) -> float:
        """What the rows count for: N, or the sum of the sample weights.  The mean
        log-likelihood, BIC and ICL take it as n."""
        return float(self.n_samples) if self.weight_total is None else self.weight_total


    @property
    def mean_loglik(self) -> float:
        return self.loglik / self.n_effective

    @property
    def n_parameters(self) -> int:
        """The free parameters: the mixture's, less those options.freeze holds fixed
        (frozen weights: K - 1, as mclust's equalPro counts)."""
        p = self.params
        k, d = p.n_components, p.n_features
        counts = {"weights": k - 1, "means": k * d}
        counts["covariances"] = p.n_parameters() - counts["weights"] - counts["means"]
        return p.n_parameters() - sum(counts[f] for f in frozen_names(self.options.freeze))

    @property
    def bic(self) -> float:
        return criteria.bic(self.loglik, self.n_parameters, self.n_effective)

    @property
    def aic(self) -> float:
        return criteria.aic(self.loglik, self.n_parameters)

    @property
    def icl(self) -> float:
        return criteria.icl(self.loglik, self.n_parameters, self.n_effective,
                            self.log_max_resp)

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


def counted_rows(data: Dataset) -> tuple[int, str]:
    """The rows that count (weight above 0, where the rows are weighted), and how a
    message says which rows it counts."""
    w = row_weights(data)
    if w is None:
        return data.n_samples, ""
    return int(np.count_nonzero(w > 0)), " of weight above 0"


def rows_short(rows: tuple[int, str], k: int) -> str | None:
    """Why the rows (counted_rows) are too few for k components, or None."""
    n, counted = rows
    if n < 2:
        return f"need at least 2 rows{counted} to fit a mixture, got {n}"
    if k > n:
        return f"{k} components need at least {k} rows{counted}; the data has {n}"
    return None


def check_rows(rows: tuple[int, str], k: int) -> None:
    """Enough rows (counted_rows) for k components (InvalidParameter: rows_short)."""
    short = rows_short(rows, k)
    if short is not None:
        raise InvalidParameter(short)


def _check_data(data: Dataset, k: int) -> None:
    """Enough rows, and distinct points, for k components: of the rows that count (weight
    above 0) where the rows are weighted."""
    rows = counted_rows(data)
    check_rows(rows, k)
    counted = rows[1]
    n_distinct = distinct_rows(data, k)
    if n_distinct < k:
        rounded = np.dtype(data.dtype) == np.float32
        raise InvalidParameter(
            f"{k} components but the data has only {n_distinct} distinct "
            f"point{'s' if n_distinct != 1 else ''}{counted}"
            + (" in float32, which keeps about 7 significant digits" if rounded else ""),
            advice=(FEWER_COMPONENTS, WIDER_DTYPE) if rounded else (FEWER_COMPONENTS,),
        )


#: float32's relative precision, and the share of a component's variance that rounding
#: may take before a fit says so.  A diagonal family's sums are taken about one centre for
#: all the components (engine.kernels.ExpandedKernel), so a component at distance m from
#: it carries rounding of about eps m^2 in its variance v: two clusters of spread 2e-3 at
#: (0, 0) and (10, 10) in float32 (eps m^2 / v about 0.4) ended with variances of 8e-6
#: and 1.7e-5 for 4e-6, or not positive definite.  The matrix families' sums are about
#: each component's own mean.
FLOAT32_EPS = float(np.finfo(np.float32).eps)
FLOAT32_LOSS = 1e-3


def _float32_events(params: MixtureParams, center: Array, iteration: int) -> list[FitEvent]:
    """A FLOAT32_PRECISION event for each component of a diagonal family fitted on float32
    data whose variance rounding may have taken more than FLOAT32_LOSS of (the caller
    checks the dtype)."""
    if params.family.statistic == MATRIX:
        return []
    variance = np.diagonal(params.full_covariances(), axis1=1, axis2=2)
    loss = (FLOAT32_EPS * (params.means - center) ** 2 / variance).max(axis=1)
    return [FitEvent(FLOAT32_PRECISION,
                     f"component {k}: its variance is within float32's rounding at its "
                     f"distance from the data's centre, where a diagonal family's sums are "
                     f"taken (float32 rounds each row's term there by about {loss[k]:.2g} "
                     "of the variance, and their sum over the rows by more); fit in float64 "
                     "or with full covariances",
                     int(k), iteration, {"loss": float(loss[k])})
            for k in np.flatnonzero(loss > FLOAT32_LOSS)]


def _events_for(run: EMRun, degenerate: list[int], options: FitOptions,
                float32_center: Array | None = None) -> list[FitEvent]:
    """The run's events (weight collapses), then its degenerate components and whether it
    stopped short of tol: data, phrased without advice (the caller adds its own), and on
    float32 data (float32_center: the data's mean) the variances rounding took much of.
    The components are numbered as in the run's (arranged) parameters."""
    events = _renumbered(list(run.events), run.order)
    if float32_center is not None:
        events += _float32_events(run.params, float32_center, run.n_iter)
    # one component has one optimum, and no fewer: its collapse is the data's
    why = ("(the data have no spread along some direction); try another covariance type, "
           "or check the data for a column that is a function of others"
           if options.n_components == 1 else
           "(a spurious maximum of the likelihood); try fewer components, another "
           "covariance type, or more restarts")
    for c in degenerate:
        events.append(FitEvent(
            DEGENERATE, f"component {c}: covariance collapsed onto the regularisation floor "
                        f"{why}", c, run.n_iter))
    if run.stopped == STOPPED_TIME_LIMIT:
        events.append(FitEvent(
            TIME_LIMIT, f"stopped: time limit of {options.max_time:g} s reached after "
                        f"{run.n_iter} iteration{'s' if run.n_iter > 1 else ''}; the "
                        "parameters of the last one are kept",
            None, run.n_iter, {"max_time": options.max_time},
        ))
    elif not run.converged and run.stopped != STOPPED_DEGENERATE:  # said above
        last = run.trace[-1].change
        plural = "s" if options.max_iter > 1 else ""
        detail = "" if math.isnan(last) else f" (last change {last:.3g}, tol {options.tol:g})"
        events.append(FitEvent(
            NOT_CONVERGED, f"did not converge in {options.max_iter} iteration{plural}{detail}",
            None, run.n_iter, {"last_change": last, "tol": options.tol},
        ))
    return events


#: Events a trace row does not name, since the stop reason on the last row says them.
_STOP_EVENTS = (NOT_CONVERGED, TIME_LIMIT)


def event_name(event: FitEvent) -> str:
    """An event in a few words: its kind and the component it is about ("reinitialised 2",
    "dropped 3"; a dropped component as numbered when it was dropped)."""
    component = event.component if event.component is not None else event.values.get(
        "component")
    return event.kind if component is None else f"{event.kind} {component}"


def trace_events(result: FitResult) -> list[str | None]:
    """For each row of result.trace: what happened at that iteration (the names of its
    events, joined by '; '), None where nothing did; the last row ends with why the run
    stopped (em.STOP_REASONS).  An event is on the row of its iteration, or on the last
    row when it has none or the run made passes beyond its rows (accelerated EM)."""
    names: list[list[str]] = [[] for _ in result.trace]
    if not names:
        return []
    for event in result.events:
        if event.kind not in _STOP_EVENTS:
            it = event.iteration
            row = it - 1 if it is not None and 1 <= it <= len(names) else len(names) - 1
            names[row].append(event_name(event))
    names[-1].append(result.stopped)
    return ["; ".join(n) if n else None for n in names]


def _one_restart(data: Dataset, options: FitOptions, r: int, rng: np.random.Generator,
                 moments: Moments, *, means_init: Array | None, hc_tree: HcTree | None,
                 on_iteration: ProgressCallback | None,
                 start: MixtureParams | None = None,
                 deadline: float | None = None) -> FitResult:
    """Restart r: its start (restart_method, or the given one), EM to convergence, its
    degeneracy check."""
    origin = vocab.INIT_MODEL_ORIGIN if start is not None else restart_method(options.init, r)
    if start is None:
        start = initial_params(
            data, options.n_components, options.covariance_type,
            restart_method(options.init, r), rng, reg_covar=options.reg_covar,
            column_mean=moments.mean, column_variance=moments.variance,
            means_init=means_init, hc_tree=hc_tree, freeze=frozen_names(options.freeze),
        )
    result = _run_from(data, options, r, start, moments, on_iteration, deadline,
                       mclust_first=origin == "hc")
    result.origin = origin
    return result


def _equal_if_frozen(params: MixtureParams, options: FitOptions) -> MixtureParams:
    """A start made by an init with its weights equal when they are frozen (equalPro)."""
    if "weights" not in frozen_names(options.freeze):
        return params
    k = params.n_components
    return MixtureParams.build(np.full(k, 1.0 / k), params.means, params.covariances,
                               params.covariance_type)


def _run_from(data: Dataset, options: FitOptions, r: int, start: MixtureParams,
              moments: Moments, on_iteration: ProgressCallback | None,
              deadline: float | None = None, mclust_first: bool = False,
              watch: bool = False) -> FitResult:
    """Run r: EM to convergence from start, its degeneracy check, its components ordered;
    mclust_first: a run from mclust's hierarchical start, which EM leaves as mclust does
    before SQUAREM accelerates it (em.run_em); watch: the run stops once it is found
    degenerate (em.WATCH_EVERY)."""
    callback = None if on_iteration is None else (
        lambda it, obj, ch: on_iteration(r, it, obj, ch))
    policy = DegeneratePolicy(options.on_degenerate, moments.variance, options.reg_covar, data)
    judge = DegenerateTest.of(data, moments.variance)
    run = run_em(data, start, tol=options.tol, max_iter=options.max_iter,
                 reg_covar=options.reg_covar, hard=options.algorithm == "hard",
                 on_iteration=callback, accelerate=options.accelerate,
                 freeze=frozen_names(options.freeze), deadline=deadline,
                 after_m_step=None if options.on_degenerate == "keep" else policy,
                 arrange=_arrange(options), mclust_first=mclust_first,
                 watch=judge if watch else None, judge=judge)
    return _run_result(data, options, r, run, moments)


def _arrange(options: FitOptions) -> Arrange:
    """The order a run's final parameters go in: options.order (engine.ordering), so
    that the same optimum is numbered alike whatever the start."""
    return lambda params: component_order(params.weights, params.means, options.order)


def _run_result(data: Dataset, options: FitOptions, r: int, run: EMRun,
                moments: Moments) -> FitResult:
    """Run r's result (its parameters already in options.order, and its final E-step
    theirs: so the log-likelihood is the sum that scoring the model gives, to the last
    bit): its degeneracy check, its events renumbered to that order."""
    degenerate = degenerate_components(run.params, DegenerateTest.of(data, moments.variance),
                                       options.reg_covar)
    return FitResult(
        params=run.params, options=options, n_samples=data.n_samples, loglik=run.final.loglik,
        n_iter=run.n_iter, converged=run.converged, trace=run.trace,
        events=_events_for(run, degenerate, options,
                           moments.mean if np.dtype(data.dtype) == np.float32 else None),
        degenerate=degenerate,
        log_max_resp=run.final.log_max_resp, best_restart=r, n_passes=run.passes,
        weight_total=None if row_weights(data) is None else total_weight(data),
        stopped=run.stopped,
    )


def _auto_runs(data: Dataset, options: FitOptions, moments: Moments,
               hc_tree: HcTree | None, on_iteration: ProgressCallback | None,
               deadline: float | None = None, settle_degenerate: bool = True
               ) -> list[FitResult]:
    """init auto (engine.starts): the best screened starts run to convergence (on small
    data all at once, their passes shared: _stacks), then, with n_init of
    splitmerge.FROM_RUNS or more, the runs of split-and-merge moves (_moved_runs).  A run
    that stalls or ends degenerate gives its place to the next candidate; such runs are
    kept (_kept) only when no candidate is left and no run is sound, but a stalled run
    that is not degenerate competes with the sound ones (_pick_best).  A run stops once
    it is found degenerate (em.WATCH_EVERY) where it will not be kept: a sound run is in
    hand, or candidates wait to replace it, or settle_degenerate is False (fit's)."""
    seed = np.random.SeedSequence(options.seed)
    moved = splitmerge.budget(data, options)
    screened = options.n_init - moved
    ranked = starts.screen(data, options, seed, moments.mean, moments.variance, hc_tree,
                           runs=screened, deadline=deadline)
    if not ranked:
        raise InvalidParameter("no start of init 'auto' could be made for "
                               f"{options.n_components} components", advice=(FEWER_COMPONENTS,))
    results: list[FitResult] = []
    spoilt: list[FitResult] = []
    waiting = _continued(ranked, data)
    while waiting and len(results) < screened:
        if results and past(deadline):
            break
        batch = waiting[:screened - len(results) if _stacks(data, options) else 1]
        del waiting[:len(batch)]
        _continue(data, options, batch, moments, on_iteration, deadline, results, spoilt,
                  watch=bool(waiting or results) or not settle_degenerate)
    if moved and results:
        _moved_runs(data, options, starts.screening_sample(data, seed), moved, moments,
                    on_iteration, deadline, results, spoilt)
    # a stalled run gave its place to the next candidate, but its end is a maximum of
    # the model all the same: it competes (from mclust's own start, EM can end with two
    # components all but one and above every other run)
    stalled = [r for r in spoilt if not r.is_degenerate]
    if results or stalled:
        return sorted(results + stalled, key=lambda r: r.best_restart)
    return _kept(spoilt)


def _continued(ranked: list[starts.Candidate], data: Dataset
               ) -> list[tuple[str, MixtureParams]]:
    """The (origin, start) of the candidates the full runs take, in rank order: every one
    the screening made, less those whose screening on the data itself ended degenerate
    (their runs would end so too: see em.WATCH_EVERY), but for the first where all did,
    so that the fit has a run to keep.  On a sample of larger data (starts.SCREEN_ROWS) a
    component can collapse onto the few rows it holds there and not on the data: such a
    candidate is continued (and stops where it is degenerate on the data)."""
    made = [c for c in ranked if c.params is not None]
    if data.n_samples <= starts.SCREEN_ROWS:
        made = [c for c in made if not c.degenerate] or made[:1]
    return [(c.origin, c.params) for c in made if c.params is not None]


def _kept(spoilt: list[FitResult]) -> list[FitResult]:
    """The run a fit keeps where none is sound: the first that ran to its end, or the
    first of all where each was stopped as degenerate (settle_degenerate False)."""
    whole = [r for r in spoilt if r.stopped != STOPPED_DEGENERATE]
    return (whole or spoilt)[:1]


def _continue(data: Dataset, options: FitOptions, batch: list[tuple[str, MixtureParams]],
              moments: Moments, on_iteration: ProgressCallback | None,
              deadline: float | None, results: list[FitResult], spoilt: list[FitResult],
              watch: bool = True) -> None:
    """The next runs, from the (origin, start) of batch (all at once where _stacks, else
    one after another, none started past the deadline once a run has ended), each put in
    results, or in spoilt where it stalled or ended degenerate; watch: each stops once it
    is found degenerate (em.WATCH_EVERY)."""
    first = len(results) + len(spoilt)
    starts_ = [_equal_if_frozen(p, options) for _, p in batch]
    hierarchy = [origin == "hc" for origin, _ in batch]  # mclust's own start
    if _stacks(data, options):
        runs = _stacked_runs(data, options, first, starts_, moments, on_iteration, deadline,
                             hierarchy, watch)
    else:
        runs = []
        for i, p in enumerate(starts_):
            if (results or spoilt or runs) and past(deadline):
                break
            runs.append(_run_from(data, options, first + i, p, moments, on_iteration,
                                  deadline, hierarchy[i], watch))
    for result, (origin, _) in zip(runs, batch):
        result.origin = origin
        bad = result.is_degenerate or starts.stalled(result.params)
        (spoilt if bad else results).append(result)


def _moved_runs(data: Dataset, options: FitOptions, sample: Dataset, budget: int,
                moments: Moments, on_iteration: ProgressCallback | None,
                deadline: float | None, results: list[FitResult], spoilt: list[FitResult]
                ) -> None:
    """budget runs from split-and-merge moves (engine.splitmerge), CONTINUED at a time:
    the best screened moves of the best sound run so far, then, while no run has raised
    the best log-likelihood by more than tol per row, the next of the same moves."""
    best: FitResult | None = None
    ranked: list[tuple[str, MixtureParams]] = []
    while budget > 0 and not past(deadline):
        leader = max(results, key=lambda r: r.loglik)
        if best is None or leader.loglik - best.loglik > options.tol * best.n_effective:
            best = leader
            ranked = [(c.origin, c.params) for c in splitmerge.screen(
                sample, best.params, options, moments.variance, keep=budget,
                deadline=deadline) if c.params is not None]
        batch = ranked[:min(splitmerge.CONTINUED, budget)]
        if not batch:
            return
        del ranked[:len(batch)]
        budget -= len(batch)
        _continue(data, options, batch, moments, on_iteration, deadline, results, spoilt)


#: Full runs share their passes (engine.stacked) on data of at most this many rows, where
#: a pass costs mostly the fixed price of its numpy calls; beyond, one run at a time on
#: the backend's blocks and threads.
STACKED_ROWS = 2000


def _stacks(data: Dataset, options: FitOptions) -> bool:
    """Whether the auto start's full runs share their passes: the runs run_stacked makes
    (soft EM, nothing frozen, no degenerate policy, no missing values) on small data.  A
    progress callback or a time limit changes nothing: a fit is the same with or without
    them (but for the time limit's stop)."""
    return (data.n_samples <= STACKED_ROWS and options.algorithm == "soft"
            and not options.freeze and options.on_degenerate == "keep"
            and row_missing(data) is None)


def _stacked_runs(data: Dataset, options: FitOptions, first: int,
                  starts_: list[MixtureParams], moments: Moments,
                  on_iteration: ProgressCallback | None, deadline: float | None,
                  mclust_first: list[bool], watch: bool) -> list[FitResult]:
    """Runs first, first + 1, ... from starts_, their passes shared (engine.stacked): as
    _run_from's (mclust_first: each one's), raising the first run's error that has one;
    watch: each stops once found degenerate, or without it, once another has ended not
    degenerate."""
    callbacks: list[IterationCallback | None] | None = None if on_iteration is None else [
        partial(on_iteration, r) for r in range(first, first + len(starts_))]
    runs = run_stacked(data, starts_, tol=options.tol, max_iter=options.max_iter,
                       reg_covar=options.reg_covar, accelerate=options.accelerate,
                       deadline=deadline, on_iteration=callbacks, arrange=_arrange(options),
                       mclust_first=mclust_first,
                       watch=DegenerateTest.of(data, moments.variance),
                       watch_from_start=watch)
    out = []
    for r, run in enumerate(runs, start=first):
        if isinstance(run, EngineError):
            raise run
        out.append(_run_result(data, options, r, run, moments))
    return out


def _pick_best(results: list[FitResult]) -> FitResult:
    """The best restart (see _better), with every restart's final log-likelihood."""
    best: FitResult | None = None
    for result in results:
        if _better(result, best):
            best = result
    assert best is not None
    best.restart_logliks = [r.loglik for r in results]
    best.restart_traces = [r.trace for r in results]
    best.restart_stopped = [r.stopped for r in results]
    best.restart_origins = [r.origin for r in results]
    return best


def _renumbered(events: list[FitEvent], order: NDArray[np.intp] | None) -> list[FitEvent]:
    """A run's events with the components they name numbered as in its arranged
    parameters (EMRun.order: new component j is old order[j])."""
    if order is None:
        return events
    new = {int(old): j for j, old in enumerate(order)}

    def renumber(event: FitEvent) -> FitEvent:
        if event.component is None:
            return event
        j = new[event.component]
        text = event.message.replace(f"component {event.component}", f"component {j}", 1)
        return dataclasses.replace(event, component=j, message=text)

    return [renumber(e) for e in events]


def _known_stats(x: Array, *, k: int, covariance_type: str, origin: Array,
                 w: NDArray[np.float64] | None = None,
                 known: NDArray[np.int64] | None = None) -> SuffStats:
    resp = np.zeros((x.shape[0], k), dtype=x.dtype)
    if known is not None:
        rows = np.flatnonzero(known >= 0)
        resp[rows, known[rows]] = 1.0
    return stats_from_resp(x, resp, origin, covariance_type, w)


def with_known_labels(options: FitOptions) -> FitOptions:
    """The options a fit with known labels runs with (and records): the components keep
    the labels' numbers (order none).  (Its start, the means of the known rows when every
    component has some, is _semi_supervised's, recorded as init means-init.)"""
    return options.replace(order="none")


def _semi_supervised(data: Dataset, options: FitOptions, means_init: Array | None,
                     start: MixtureParams | None) -> tuple[FitOptions, Array | None]:
    """Options and starting means of a fit with known labels (semi-supervised EM).

    The labels must be components of the fit; the components keep the labels' numbers
    (order none), soft EM only, and no component may be dropped.  Unless the start is
    given, EM starts from the mean of each component's known rows when every component
    has some."""
    known = row_known(data)
    assert known is not None
    k = options.n_components
    check_known(known, data.n_samples, k, option=None)  # the data's labels against K
    if options.algorithm != "soft" or options.on_degenerate == "drop":
        raise InvalidParameter("known labels need soft EM and an on_degenerate other than "
                               "drop (the labels name fixed components)",
                               option="algorithm" if options.algorithm != "soft"
                               else "on_degenerate")
    options = with_known_labels(options)
    if means_init is not None or start is not None:
        return options, means_init
    origin = np.zeros((k, data.n_features))
    st = reduce_weighted(data, partial(_known_stats, k=k, covariance_type="diag",
                                       origin=origin), with_known=True)
    if (st.nk > 0).all():
        return options, st.sk / st.nk[:, None]
    return options, None


def fit(
    data: Dataset,
    options: FitOptions,
    *,
    means_init: Array | None = None,
    on_iteration: ProgressCallback | None = None,
    hc_tree: HcTree | None = None,
    start: MixtureParams | None = None,
    settle_degenerate: bool = True,
) -> FitResult:
    """Fit a Gaussian mixture to ``data``: n_init runs, the best one kept.

    Restart r draws from child r of the SeedSequence of ``options.seed``, so a run is
    reproducible whatever the chunking or threading.  A restart that ends degenerate loses
    to any that does not (a spurious maximum is not a better fit).  With init "hc" the
    first restart cuts ``hc_tree`` (built from the data when None) and the others start
    as init.restart_method says.  Given means_init, the one run starts from those means
    (every restart would) and the options record init "means-init" and n_init 1.  Given
    start (the parameters of a saved model, options.init_model), the one run continues
    from them, and the options record n_init 1.
    With init "auto", a run is stopped once it is found degenerate where it cannot win
    (_auto_runs); where every run is, the one kept runs to its end, or with
    settle_degenerate False (select's cells, which never choose a degenerate fit) stops
    there too, as stopped "degenerate".
    """
    began = time.monotonic()
    if row_known(data) is not None:
        options, means_init = _semi_supervised(data, options, means_init, start)
    if means_init is not None:
        options = options.from_means()
    if start is not None:
        options = options.from_model()
    options.validate()
    _check_model(data, options.covariance_type)
    if start is not None and (start.n_components, start.covariance_type) != (
            options.n_components, options.covariance_type):
        raise InvalidParameter("the start's components and family are not the options'")
    _check_data(data, options.n_components)
    moments = reduce_weighted(data, chunk_moments)
    deadline = None if options.max_time is None else began + options.max_time
    with _float32_advice(data):
        if options.init == vocab.AUTO and means_init is None and start is None:
            if hc_tree is None:
                hc_tree = seeded_hc_tree(data, options.seed)
            return _cut_short(_pick_best(_auto_runs(
                data, options, moments, hc_tree, on_iteration, deadline, settle_degenerate)),
                None, options, deadline)
        runs = 1 if means_init is not None or start is not None else options.n_init
        children = np.random.SeedSequence(options.seed).spawn(runs)
        results: list[FitResult] = []
        for r, child in enumerate(children):
            if results and past(deadline):
                break  # no restart starts after the time limit
            results.append(_one_restart(
                data, options, r, np.random.default_rng(child), moments,
                means_init=means_init, hc_tree=hc_tree, on_iteration=on_iteration,
                start=start, deadline=deadline))
        return _cut_short(_pick_best(results), len(results), options, deadline)


def _cut_short(best: FitResult, made: int | None, options: FitOptions,
               deadline: float | None) -> FitResult:
    """best, told (a TIME_LIMIT event) where the time limit left runs unmade: made of
    options.n_init were (None: init auto's, which counts them itself and makes one for
    K = 1 whatever n_init is); a fit whose kept run converged said nothing of them."""
    if made is None:
        short = past(deadline) and options.n_components > 1
        made = len(best.restart_logliks) if short else options.n_init
    if made < options.n_init and not any(e.kind == TIME_LIMIT for e in best.events):
        best.events.append(FitEvent(
            TIME_LIMIT, f"stopped: time limit of {options.max_time:g} s reached after {made} "
                        f"of {options.n_init} runs; the best of those is kept",
            None, best.n_iter, {"max_time": options.max_time}))
    return best


@contextmanager
def _float32_advice(data: Dataset) -> Iterator[None]:
    """A covariance that is not positive definite on float32 data advises float64 first:
    float32's rounding of the sums can make it so (FLOAT32_LOSS)."""
    try:
        yield
    except NotPositiveDefinite as exc:
        if np.dtype(data.dtype) == np.float32 and WIDER_DTYPE not in exc.advice:
            exc.advice = (WIDER_DTYPE, *exc.advice)
        raise
