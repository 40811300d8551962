"""The EM loop: E-step statistics by reduction, M-step from statistics only."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Callable, Generator, Sequence

import numpy as np
from numpy.typing import NDArray

from .families import family, not_positive_definite, scatter_about_means, screening_m_steps
from .dataset import Dataset, reduce_weighted, row_known, row_weights
from .missing import row_missing
from .errors import DROPPED, WEIGHT_COLLAPSE, EngineError, FitEvent, NotPositiveDefinite
from .params import MixtureParams
from .stats import NO_INDICES, SuffStats, chunk_stats
from .steplength import StepBound

Array = NDArray[np.floating]

#: Added to every responsibility sum so an empty component does not divide by zero.
EPS_MASS = 10.0 * np.finfo(np.float64).eps
#: A component whose responsibility mass falls below this (a millionth of one point) has
#: collapsed: it explains no data, so its mean and covariance are frozen where they were.
COLLAPSE_MASS = 1e-6
#: A component is degenerate (a spurious maximum of the likelihood: a covariance collapsed
#: onto the regularisation floor) when the smallest eigenvalue of its covariance, less
#: reg_covar, is below SINGULAR_RATIO times the smallest non-zero column variance of the
#: data (rounding: its points share a value, or lie on a line or a plane), or, in a
#: mixture of K >= 2, below DEGENERATE_RATIO times it while the component holds fewer
#: than FEW_ROWS_PER_DIM * (D + 1) rows (a few points close together) or, in a family
#: whose components share some of volume, shape and orientation (Family.equal: VVE, EVE,
#: VEE, VEV, EVV, EEV, VEI, EVI), below FLAT_LOOK times it while the scatter of the rows
#: it holds (weighted by their responsibilities, about its mean) has its smallest
#: eigenvalue below SINGULAR_RATIO times that variance: its rows lie on a line or a
#: plane to rounding, which such a covariance cannot shrink onto exactly (the shared
#: part holds it off, further than DEGENERATE_RATIO on whole-numbered data: EVV's
#: components on rows that share a value sat at 1e-6 to 1e-5 of it); in those families
#: either bound holds only where the component's rows do not fill its covariance
#: (FLAT_SHARE), or it holds too few rows.  A
#: component of many rows whose covariance is small all round is a tight cluster; a thin
#: one is a thin cluster unless its own rows are flat to rounding (VVV, VVI or VII would
#: shrink onto them exactly: the first bound); one of EEE, EEI or EII cannot collapse
#: alone; a single Gaussian (K = 1) has no spurious maximum.  In float32 every covariance
#: is rounded at about 1e-7 of the data's spread: there SINGULAR_RATIO is
#: DEGENERATE_RATIO.  In a family whose components share nothing (Family.equal empty:
#: their covariances can shrink onto their rows exactly), the first bound is at most
#: reg_covar itself, or ROUNDING_BOUND units of the data's rounding at the component
#: (DegenerateTest.rounding) where that is more: a covariance at least twice the floor
#: along every direction has not collapsed onto it unless rounding says so, and clusters
#: far tighter than the data's spread (of 0.1 at 0, 5e4 and 1e5 apart, where the first
#: bound is 0.055) are clusters.  A collapse sits above the floor by rounding and by
#: the small shares of rows near it (one row 0.006 from 60 that share a value: up to
#: 1e-10 with reg_covar 1e-6), both far below reg_covar.  See docs/numerics.md,
#: "Degenerate fits".
DEGENERATE_RATIO = 1e-6
SINGULAR_RATIO = 1e-10
FEW_ROWS_PER_DIM = 2
FLAT_LOOK = 1e-4
#: ... but not a component whose own rows' scatter has its least eigenvalue at least this
#: share of the component's own: a tight cluster of many rows, which the bounds above, in
#: units of the data's spread, would call collapsed (100 rows of variance 1e-5 among
#: columns of variance 1.2e5: VVE's true model, whose best fit was "degenerate" and a
#: worse one kept; EVE's, its volume the others', share 1.3e-4), where it holds at least
#: FEW_ROWS_PER_DIM * (D + 1) rows: fewer span hardly more than a hyperplane (13 rows
#: and others' small shares in wine's 13 columns, EVV K = 9: share 1.1e-5, its rows
#: flat).  Measured (benchmarks/degenerate_survey.py, 2026-12-07): the collapsed
#: components of many rows flagged had their rows' share at most 5e-18.
FLAT_SHARE = 1e-6
#: In the families of FLAT_LOOK, a component near the floor that holds at most D rows (its
#: mass less than D + FEW_ROWS_LEAK rows) is degenerate whatever its rows' own scatter:
#: they cannot span the D columns, and the shares of other rows it holds (2 rows and 1.9e-5
#: of a third on 15 points: EVV K = 5's component 4) lift that scatter off zero by more
#: than rounding (4.3e-10 of the column variance, over SINGULAR_RATIO), not off the floor.
FEW_ROWS_LEAK = 1e-3
#: ... or below this many units in the last place of reg_covar (the rounding of the
#: eigenvalue less reg_covar): where the data's variance is below what that difference
#: resolves (columns whose variance reg_covar swamps), a covariance that is reg_covar
#: and its rounding has collapsed onto the floor, whichever sign the rounding took.
DEGENERATE_ULPS = 64
#: The data's rounding at a component: the machine epsilon of the data's dtype times the
#: data's spread (the sum of the column variances), plus the squared distance of the
#: component's mean from the mixture's centre (sum_k pi_k mu_k: the data's mean wherever
#: an M-step made the mixture), plus the component's largest variance (an eigenvalue's
#: rounding: rows on a slanted line 2e3 long sat 1.5e-10 above the floor).  Measured
#: (benchmarks/degenerate_survey.py: fits from random data points, K = 6 and 9, seeds
#: 0..3, of faithful, iris, wine and breast cancer, raw and standardised, 2026-12-07): of
#: the components of VVV and VVI below the first bound, the largest sat 0.017 of that
#: unit above the floor; VVE's, whose shared orientation holds a collapse off the floor,
#: 1.3e4 (so families that share part of each covariance keep the first bound).
ROUNDING_BOUND = 10.0

IterationCallback = Callable[[int, float, float], None]
#: after_m_step(new params, collapsed components, responsibility sums, iteration) ->
#: (the parameters EM goes on with, events): engine.degenerate's policies.
AfterMStep = Callable[[MixtureParams, NDArray[np.intp], NDArray[np.floating], int],
                      tuple[MixtureParams, list[FitEvent]]]

#: Why a run of EM stopped (EMRun.stopped, and the model's "stopped").
STOPPED_CONVERGED = "converged"
STOPPED_MAX_ITER = "max-iter"
STOPPED_TIME_LIMIT = "time limit"
STOPPED_DEGENERATE = "degenerate"
STOP_REASONS = (STOPPED_CONVERGED, STOPPED_MAX_ITER, STOPPED_TIME_LIMIT, STOPPED_DEGENERATE)

#: A watched run (run_em's and run_stacked's watch: the auto start's full runs that cannot
#: be kept, engine.fitting) is looked at every WATCH_EVERY passes and stops, as
#: STOPPED_DEGENERATE, once WATCH_LOOKS looks in a row find a covariance collapsed onto
#: the floor (degenerate_components): EM does not climb out of a spurious maximum (each
#: of its steps raises a likelihood that the collapsed component makes unbounded but for
#: the floor), and such a run loses to any sound one whatever it goes on to.  Measured
#: (fit, seed 0, 2026-12-06): EVE with K = 9 on 500 x 40 blobs, where seven of the eight
#: candidates degenerate, each run to its end in turn, spent over 250 s on them.
WATCH_EVERY = 5
WATCH_LOOKS = 2

#: mclust's stopping rule (Mclust's default tol[1]): EM stops when the log-likelihood L
#: changes by less than this times 1 + |L|.
MCLUST_TOL = 1e-5


@dataclass(frozen=True)
class TraceRow:
    """One EM iteration: the mean per-sample objective under the parameters it started
    from, its change from the previous iteration, and the seconds the iteration took."""

    iteration: int
    log_likelihood: float
    change: float
    seconds: float


@dataclass
class EMRun:
    params: MixtureParams
    trace: list[TraceRow]
    converged: bool
    final: SuffStats
    events: list[FitEvent] = field(default_factory=list)
    #: passes over the data the run made (its E-steps; an extrapolation that
    #: accelerated EM refused is a pass without a trace row)
    passes: int = 0
    #: why it stopped: one of STOP_REASONS
    stopped: str = STOPPED_MAX_ITER
    #: the permutation ``arrange`` put params in (new component j is the run's component
    #: order[j]; events keep the run's own numbers), or None where it changed nothing
    order: NDArray[np.intp] | None = None

    @property
    def n_iter(self) -> int:
        return len(self.trace)


def m_step(
    stats: SuffStats,
    centers: Array,
    covariance_type: str,
    reg_covar: float,
    *,
    iteration: int | None = None,
    previous: MixtureParams | None = None,
    freeze: frozenset[str] = frozenset(),
    means: Array | None = None,
) -> tuple[MixtureParams, NDArray[np.intp]]:
    """New parameters from statistics whose second moments are centred on ``centers``.

    Returns the parameters and the indices of components whose mass collapsed; those keep
    the previous mean and covariance (there is no data to estimate them from).  freeze:
    the parameters (weights, means, covariances) kept as they are in ``previous``, bit
    for bit; the covariances are then those about the frozen means.  The family's M-step
    reads the scatter about the new means (families.scatter_about_means) and the previous
    covariances, which its iterative M-steps start from.  means: the means to take
    instead of the statistics' (a start's given means, to be frozen), the covariances
    then those about them.
    """
    fam = family(covariance_type)
    unit = stats.mass_unit  # the masses below are in rows of the mean weight
    nk = stats.nk + EPS_MASS * unit
    means = stats.sk / nk[:, None] if means is None else np.array(means, dtype=np.float64)
    collapsed = (NO_INDICES if stats.nk.min() >= COLLAPSE_MASS * unit
                 else np.flatnonzero(stats.nk < COLLAPSE_MASS * unit))
    if previous is not None and len(collapsed):
        means[collapsed] = previous.means[collapsed]
    if previous is not None and "means" in freeze:
        means = previous.means.copy()
    w = scatter_about_means(stats.scatter, nk, means - centers, reg_covar)
    prev = None if previous is None else previous.covariances
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"), \
            not_positive_definite(w, fam.statistic, iteration, reg_covar):
        if prev is not None and len(collapsed) and fam.per_component:
            # a collapsed component has no points to estimate it from: it keeps its
            # covariance, and the model's shared parts come from the others
            live = np.ones(len(nk), dtype=bool)  # a mask: np.setdiff1d imports numpy.ma
            live[collapsed] = False
            cov: Array = np.array(prev, dtype=np.float64)
            cov[live] = fam.m_step(*in_rows(w[live], nk[live], unit), prev[live])
        else:
            cov = fam.m_step(*in_rows(w, nk, unit), prev)
    if previous is not None and "covariances" in freeze:
        cov = previous.covariances.copy()
    weights = nk / nk.sum()
    if "weights" in freeze:
        weights = (previous.weights.copy() if previous is not None
                   else np.full(len(nk), 1.0 / len(nk)))
    params = MixtureParams.build(
        weights, means, cov, covariance_type, reg_covar=reg_covar, iteration=iteration
    )
    return params, collapsed


def in_rows(w: Array, nk: Array, unit: float) -> tuple[Array, Array]:
    """A family M-step's statistics in rows of the mean weight (SuffStats.mass_unit), so
    that its iterative steps, which stop on a change relative to 1 + |objective|, end
    alike for weights scaled by any factor.  Its covariances are ratios of the two, the
    same either way."""
    return (w, nk) if unit == 1.0 else (w / unit, nk / unit)


@dataclass(frozen=True)
class DegenerateTest:
    """What a component's covariance is judged against (degenerate_components): the
    column variances of the data, their rows (a component's weight times rows is the rows
    it holds, in rows of the mean weight), the ratio below which a covariance is
    rounding (SINGULAR_RATIO, or DEGENERATE_RATIO for float32 data) and the data
    themselves (the scatter of a component's own rows, looked at only where its family
    shares part of its covariance and that covariance is near the floor)."""

    column_variance: NDArray[np.float64]
    rows: int
    singular: float
    data: Dataset = field(compare=False, repr=False)

    @classmethod
    def of(cls, data: Dataset, column_variance: Array) -> "DegenerateTest":
        """The test for mixtures fitted to data, whose column variances are given."""
        singular = DEGENERATE_RATIO if np.dtype(data.dtype) == np.float32 else SINGULAR_RATIO
        return cls(np.asarray(column_variance, dtype=np.float64), data.n_samples, singular,
                   data)

    def rounding(self, mixtures: Sequence[MixtureParams], live: NDArray[np.intp],
                 widest: NDArray[np.float64]) -> NDArray[np.float64]:
        """(mixtures, K): ROUNDING_BOUND units of the data's rounding at each component
        (ROUNDING_BOUND above; the columns live only; widest: each one's largest
        eigenvalue), inf where a mean's distance overflows."""
        means = np.array([p.means[:, live] for p in mixtures], dtype=np.float64)
        weights = np.array([p.weights for p in mixtures], dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            centre = np.einsum("ck,ckd->cd", weights, means)
            far = np.square(means - centre[:, None, :]).sum(axis=2) + widest
        unit = float(np.finfo(self.data.dtype).eps)
        spread = float(self.column_variance[live].sum())
        return np.nan_to_num(ROUNDING_BOUND * unit * (spread + far), nan=np.inf)

    def each(self, mixtures: Sequence[MixtureParams], reg_covar: float) -> list[list[int]]:
        """degenerate_components of each of mixtures of one family and K, their least
        eigenvalues computed at once."""
        live = np.flatnonzero(self.column_variance > 0)
        if len(live) == 0 or not mixtures:
            return [[] for _ in mixtures]
        full = np.array([p.full_covariances() for p in mixtures])[:, :, live][..., live]
        eig = np.linalg.eigvalsh(full)
        lam = eig[..., 0] - reg_covar
        smallest = float(np.min(self.column_variance[live]))
        rounding = DEGENERATE_ULPS * float(np.spacing(reg_covar))
        fam = family(mixtures[0].covariance_type)
        singular: float | NDArray[np.float64] = self.singular * smallest
        if not fam.equal and singular > reg_covar:  # (else the cap changes nothing)
            singular = np.minimum(singular, np.maximum(
                reg_covar, self.rounding(mixtures, live, eig[..., -1])))
        first = lam < np.maximum(singular, rounding)
        if mixtures[0].n_components == 1:
            return [np.flatnonzero(row).tolist() for row in first]
        low = lam < max(DEGENERATE_RATIO * smallest, rounding)
        held = np.array([p.weights for p in mixtures]) * self.rows  # rows each holds
        # a few points close together
        found = low & (held < FEW_ROWS_PER_DIM * (mixtures[0].n_features + 1))
        if not (fam.per_component and fam.equal):
            return [np.flatnonzero(row).tolist() for row in first | found]
        # rows flat to rounding, held off the floor by the shared part
        near = lam < max(FLAT_LOOK * smallest, rounding)
        # or too few to span the columns: at most D rows and others' small shares
        found |= near & (held < len(live) + FEW_ROWS_LEAK)
        found |= lam < rounding  # the floor itself, to its rounding
        # a tight cluster of many rows (their spread a fair share of its covariance's
        # least eigenvalue, FLAT_SHARE) is no collapse; a few rows, D + 1 or so, span no
        # more than a hyperplane whatever their share
        many = held >= FEW_ROWS_PER_DIM * (mixtures[0].n_features + 1)
        found |= first & ~many
        suspects = (first | near) & ~found
        for j in np.flatnonzero(suspects.any(axis=1)).tolist():
            ks = np.flatnonzero(suspects[j])
            own = self.own_spread(mixtures[j], ks, live)
            fits = many[j, ks] & (own >= FLAT_SHARE * (lam[j, ks] + reg_covar))
            found[j, ks] = ~fits & (first[j, ks] | (own < self.singular * smallest))
        return [np.flatnonzero(row).tolist() for row in found]

    def own_spread(self, params: MixtureParams, components: NDArray[np.intp],
                   live: NDArray[np.intp]) -> Array:
        """The smallest eigenvalue of the scatter of each of the components' own rows over
        the data (weighted by their responsibilities, about its mean, per unit of its
        mass; the columns live only): one E-step."""
        st = em_stats(self.data, params, hard=False, entropy=False)
        nk = st.nk[components]
        delta = st.sk[components] / nk[:, None] - params.means[components]
        w = scatter_about_means(st.scatter[components], nk, delta, 0.0)
        own = w / nk.reshape((-1,) + (1,) * (w.ndim - 1))
        if own.ndim == 3:
            return np.linalg.eigvalsh(own[:, live][:, :, live])[:, 0]
        return own[:, live].min(axis=1)


def degenerate_components(params: MixtureParams, test: DegenerateTest,
                          reg_covar: float) -> list[int]:
    """Components whose covariance collapsed onto the regularisation floor.

    The test (DEGENERATE_RATIO above): lambda_min(Sigma_k restricted to non-constant
    columns) - reg_covar is below SINGULAR_RATIO times the smallest non-zero column
    variance (in a family whose components share nothing, at most reg_covar or the
    data's rounding at the component, DegenerateTest.rounding, whichever is more), or below
    DEGENERATE_RATIO times it where K >= 2 and the component holds few
    rows or, in a family that shares some of its covariance, below FLAT_LOOK times it
    where its own rows are flat to rounding (DegenerateTest.own_spread below
    SINGULAR_RATIO times it; there, too, the first bound and this one hold only where
    the rows' own spread is below FLAT_SHARE of the covariance's), or below
    DEGENERATE_ULPS units in the last place of reg_covar, what rounding leaves of it.
    Constant columns are left out, since every component is flat along them and
    reg_covar is what keeps that well-posed.
    """
    return test.each([params], reg_covar)[0]


def run_em(
    data: Dataset,
    params: MixtureParams,
    *,
    tol: float,
    max_iter: int,
    reg_covar: float,
    hard: bool = False,
    on_iteration: IterationCallback | None = None,
    accelerate: str = "none",
    freeze: frozenset[str] = frozenset(),
    deadline: float | None = None,
    after_m_step: AfterMStep | None = None,
    arrange: Arrange | None = None,
    relative_tol: bool = False,
    mclust_first: bool = False,
    watch: DegenerateTest | None = None,
    judge: DegenerateTest | None = None,
) -> EMRun:
    """Iterate E and M steps from ``params`` until the mean objective changes by < tol.

    The objective is the mean per-sample log-likelihood (soft EM) or the mean
    classification log-likelihood (hard EM, which also stops as soon as no point changes
    component).  Iteration t records the objective of the parameters it started from, as
    scikit-learn's lower_bounds_ does.

    accelerate "squarem" (soft EM only) extrapolates every two EM steps (squarem below);
    "none" is the plain iteration, step for step scikit-learn's.  Either way max_iter
    bounds the passes over the data, and the run stops when one plain EM step changes the
    objective by less than tol.  freeze: parameters the M-step keeps (m_step); deadline:
    a time.monotonic() after which no pass starts (the run keeps its last parameters,
    EM's best so far); after_m_step: a hook that may change the new parameters
    (engine.degenerate).  Frozen parameters and a hook run plain EM (an extrapolation
    would move frozen parameters by rounding, or mix mixtures of different K).  arrange:
    the order to put the final parameters in (EMRun.order), before the final E-step, so
    that its statistics are those of the parameters returned.  relative_tol: stop instead
    when the total objective L changes by less than tol (1 + |L|), mclust's rule (plain
    EM, as with frozen parameters).  mclust_first: under "squarem", plain EM first, as
    mclust runs it (em_machine).  judge: the test an EVE or VVE run that went on from a
    fresh orientation is judged degenerate by (_reoriented), or None.
    """
    steps = Steps(data, reg_covar, hard, on_iteration)
    steps.judge = judge
    steps.freeze, steps.deadline, steps.after_m_step = freeze, deadline, after_m_step
    steps.relative_tol, steps.watch = relative_tol, watch
    params, converged = drive(em_machine(steps, params, tol, max_iter, accelerate,
                                         mclust_first), steps.compute)
    params, order = arranged(params, arrange)
    return steps.finish(params, converged, em_stats(data, params, hard=False), order)


#: arrange(params) -> the permutation of its components to return them in (run_em).
Arrange = Callable[[MixtureParams], NDArray[np.intp]]


def arranged(params: MixtureParams, arrange: Arrange | None
             ) -> tuple[MixtureParams, NDArray[np.intp] | None]:
    """params in the order arrange gives, and that order (None where nothing moves)."""
    order = None if arrange is None else arrange(params)
    if order is None or (order == np.arange(len(order))).all():
        return params, None
    return params.permuted(order), order


def em_machine(steps: "Steps", params: MixtureParams, tol: float, max_iter: int,
               accelerate: str, mclust_first: bool = False) -> "Machine":
    """The run's iteration (squarem or _plain, as run_em says) as a Machine.

    With mclust_first, where it would be squarem, it is plain EM until mclust's rule
    holds (the total log-likelihood L changes by less than MCLUST_TOL (1 + |L|); or tol's,
    where it holds first: the run has converged), then squarem to tol: the run from
    mclust's hierarchical start goes where mclust's EM from it goes, and only then is
    accelerated.  SQUAREM solves for a fixed point of EM, and from a start still far from
    a maximum it can settle on another stationary point than plain EM would reach, lower
    or higher: from the hierarchy's start with tol 1e-6, lower in 7 and higher in 11 of
    541 cells of Old Faithful, iris and wine, raw and standardised, every family,
    K = 2..9 (benchmarks/hierarchy_runs.py); on standardised iris, VEV with K = 5, 27.3
    lower, stopped by a saddle plain EM crawls past."""
    plain_only = bool(steps.freeze) or steps.after_m_step is not None or steps.relative_tol
    if accelerate not in ("none", "squarem"):
        raise ValueError(f"unknown acceleration {accelerate!r}")
    accelerated = accelerate == "squarem" and not steps.hard and not plain_only
    if accelerated:
        machine = (_plain(steps, params, tol, max_iter, handoff=MCLUST_TOL) if mclust_first
                   else squarem(steps, params, tol, max_iter))
    else:
        machine = _plain(steps, params, tol, max_iter)
    if not family(params.covariance_type).reorients or steps.hard or plain_only:
        return machine
    return _reoriented(steps, machine, tol, max_iter, accelerated)


def _reoriented(steps: Steps, machine: Machine, tol: float, max_iter: int,
                accelerated: bool) -> Machine:
    """machine, for EVE and VVE (Family.reorients): where it converges, the orientation
    is tried afresh.  Their M-step finds the orientation by steps from the last one
    (_common_orientation), and can stay in a local minimum of its own while a fresh start
    leads lower: EM then stops at a point no maximum of the likelihood, where mclust's M
    step from the same responsibilities climbs on (standardised wine, VVE with K = 4: EM
    stayed at -2213.03; one M-step from fresh starts gave -2199.88, and EM from there
    -2192.08).  So, once converged: one pass at the parameters (their statistics), the
    M-step from those with the orientation started afresh (previous None: as a run's
    first), and one pass at its parameters; where their mean log-likelihood is above
    the converged one by more than tol, the run goes on from there (squarem where
    accelerated), the two passes' trace rows recorded, else it ends at the converged
    parameters, its trace and result as without the probe (whose passes leave no row,
    as a refused extrapolation's does; the M-step from the converged parameters, which
    the run would otherwise end at, lowered the likelihood by 8.8e-7 a row with VVE on
    30 columns: the floor's, not the likelihood's, maximum).  A run that went on
    and ended degenerate (steps.judge; a spurious maximum, which the one it left was not:
    standardised wine, EVE with K = 4) ends where it left instead, its trace and events
    as they were there (the progress callback has been told the iterations it made);
    so does one whose M-step failed on the way."""
    left: tuple[MixtureParams, int, int] | None = None  # where a probe led on from
    while True:
        try:
            params, converged = yield from machine
        except EngineError:
            if left is None:
                raise
            params, converged = left[0], True  # the run that went on failed: it ends
        if left is not None and (params is left[0] or (  # where it left, as below
                steps.judge is not None and len(degenerate_components(
                    params, steps.judge, steps.reg_covar)) and not len(
                        degenerate_components(left[0], steps.judge, steps.reg_covar)))):
            steps.trace, steps.events = steps.trace[:left[1]], steps.events[:left[2]]
            return left[0], True
        if not converged or steps.passes + 2 > max_iter or steps.halted():
            return params, converged
        try:  # its statistics alone: the run ends at params unless a probe leads on
            st = (yield params)[0]
        except EngineError:
            return params, True
        if st.nk.min() < COLLAPSE_MASS * st.mass_unit:
            return params, True
        try:
            fresh, _ = m_step(st, params.means, params.covariance_type, steps.reg_covar,
                              iteration=steps.passes)
            probe = yield fresh
        except EngineError:
            return params, True
        gain = probe[0].objective / probe[0].n - st.objective / st.n
        if not gain > tol:
            return params, True
        steps.record(st.objective / st.n)
        left = (params, len(steps.trace), len(steps.events))
        st, after = steps.account(probe)
        steps.record(st.objective / st.n)
        machine = (squarem if accelerated else _plain)(steps, after, tol, max_iter)


#: One pass over the data as a Machine receives it: the statistics under the parameters
#: it asked for, the parameters they give, and the components whose mass collapsed.
Pass = tuple[SuffStats, MixtureParams, NDArray[np.intp]]
#: An EM iteration written as a generator: it yields the parameters it needs a pass from,
#: is sent that Pass (or has the pass's EngineError thrown in), and returns (its last
#: parameters, whether it converged).  run_em drives one with one pass at a time;
#: engine.stacked drives several at once, with one stacked pass for all their requests.
Machine = Generator[MixtureParams, Pass, tuple[MixtureParams, bool]]


def drive(machine: Machine, compute: Callable[[MixtureParams], Pass]
          ) -> tuple[MixtureParams, bool]:
    """Run a machine to its end, each pass by compute (its EngineError thrown in)."""
    try:
        request = next(machine)
        while True:
            try:
                done = compute(request)
            except EngineError as exc:
                request = machine.throw(exc)
                continue
            request = machine.send(done)
    except StopIteration as stop:
        result: tuple[MixtureParams, bool] = stop.value
        return result


def em_stats(data: Dataset, params: MixtureParams, hard: bool,
             entropy: bool = True) -> SuffStats:
    """One E-step over the whole dataset: the rows' weights and known labels included,
    and rows with missing coordinates through their observed ones (engine.missing)."""
    missing = row_missing(data)
    if missing is not None:
        return missing.missing_stats(params, hard, row_weights(data), row_known(data),
                                     entropy)
    return reduce_weighted(data, partial(chunk_stats, params=params, hard=hard,
                                         entropy=entropy), with_known=True)


class Steps:
    """One run's EM map and record.  compute(params) is F(params) = M-step(E-step(params)),
    one pass over the data (run_em's; engine.stacked makes its passes itself and counts
    them in passes); account(pass) takes a pass's events and hook; record and finish keep
    the run's trace rows, events and passes."""

    def __init__(self, data: Dataset, reg_covar: float, hard: bool,
                 on_iteration: IterationCallback | None) -> None:
        self.data, self.reg_covar, self.hard = data, reg_covar, hard
        self.on_iteration = on_iteration
        self.trace: list[TraceRow] = []
        self.events: list[FitEvent] = []
        self.passes = 0
        self._collapsed: set[int] = set()
        self._t = time.perf_counter()
        self.freeze: frozenset[str] = frozenset()
        self.deadline: float | None = None
        self.after_m_step: AfterMStep | None = None
        self.stopped = STOPPED_MAX_ITER
        self.relative_tol = False  # plain EM: tol relative to 1 + |L| (run_em)
        self.watch: DegenerateTest | None = None  # run_em's watch
        self.judge: DegenerateTest | None = None  # run_em's judge (_reoriented)
        self._looks = 0  # looks in a row that found the run degenerate

    def halted(self) -> bool:
        """Whether the run stops here, short of convergence: it is watched and was found
        degenerate (WATCH_EVERY), or the deadline has passed (stopped says which)."""
        if self._looks >= WATCH_LOOKS:
            self.stopped = STOPPED_DEGENERATE
        elif past(self.deadline):
            self.stopped = STOPPED_TIME_LIMIT
        else:
            return False
        return True

    def _look(self, params: MixtureParams) -> None:
        """Every WATCH_EVERY passes of a watched run, whether params are degenerate."""
        if self.watch is not None and self.passes % WATCH_EVERY == 0:
            found = degenerate_components(params, self.watch, self.reg_covar)
            self._looks = self._looks + 1 if found else 0

    def compute(self, params: MixtureParams) -> Pass:
        """One pass over the data (counted): the statistics under params and the
        parameters they give."""
        self.passes += 1
        st = em_stats(self.data, params, self.hard, entropy=False)
        new, collapsed = m_step(st, params.means, params.covariance_type, self.reg_covar,
                                iteration=self.passes, previous=params, freeze=self.freeze)
        return st, new, collapsed

    def account(self, done: Pass) -> tuple[SuffStats, MixtureParams]:
        """A pass's events (collapsed components) and after_m_step hook: its statistics
        and the parameters EM goes on with."""
        st, new, collapsed = done
        for k in collapsed:
            if int(k) not in self._collapsed:
                self._collapsed.add(int(k))
                self.events.append(FitEvent(
                    WEIGHT_COLLAPSE,
                    f"component {k}: weight collapsed to zero at iteration {self.passes} (it "
                    "explains no points); its mean and covariance were frozen at their "
                    "previous values", int(k), self.passes,
                ))
        if self.after_m_step is not None:
            new, more = self.after_m_step(new, collapsed, st.nk, self.passes)
            for event in more:
                if event.kind == DROPPED:
                    self._dropped(int(event.values["component"]))
            self.events += more
        self._look(new)
        return st, new

    def _dropped(self, k: int) -> None:
        """Component k was dropped: the events and collapses recorded so far name the
        components as they are numbered now (those above k one lower); an event that named
        k names none, its message keeping the number k had, as the drop's own event does."""
        self.events = [after_drop(e, k) for e in self.events]
        self._collapsed = {j - (j > k) for j in self._collapsed if j != k}

    def finish(self, params: MixtureParams, converged: bool, final: SuffStats,
               order: NDArray[np.intp] | None = None) -> EMRun:
        """The run's record, ended at params (final: the statistics under them; order:
        the permutation they were arranged in, EMRun.order)."""
        stopped = STOPPED_CONVERGED if converged else self.stopped
        return EMRun(params, self.trace, converged, final, self.events, self.passes, stopped,
                     order)

    def record(self, obj: float) -> float:
        """A trace row for the parameters of the last pass; returns the change from the
        previous row (NaN for the first)."""
        change = self.trace[-1].log_likelihood if self.trace else math.nan
        change = obj - change
        now = time.perf_counter()
        self.trace.append(TraceRow(len(self.trace) + 1, obj, change, now - self._t))
        self._t = now
        if self.on_iteration is not None:
            self.on_iteration(len(self.trace), obj, change)
        return change


def after_drop(event: FitEvent, k: int) -> FitEvent:
    """event with the components numbered as after component k was dropped."""
    c = event.component
    if c is None or c < k:
        return event
    if c == k:
        return replace(event, component=None, values={**event.values, "component": k})
    text = event.message.replace(f"component {c}", f"component {c - 1}", 1)
    return replace(event, component=c - 1, message=text)


def past(deadline: float | None) -> bool:
    """Whether a time limit (a time.monotonic(), or None for none) has passed."""
    return deadline is not None and time.monotonic() >= deadline


def settled(change: float, tol: float) -> bool:
    # a change of exactly 0 has converged whatever tol is (tol 0 included)
    return not math.isnan(change) and (abs(change) < tol or change == 0.0)


def _plain(steps: Steps, params: MixtureParams, tol: float, max_iter: int,
           handoff: float | None = None) -> Machine:
    """Plain EM: (the last parameters, whether it converged).  handoff: once the total
    log-likelihood's change relative to 1 + |total| is below it, squarem goes on to tol
    (em_machine's mclust_first)."""
    prev_stats: SuffStats | None = None
    while steps.passes < max_iter:  # the run's passes: a run may go on (_reoriented)
        st, new_params = steps.account((yield params))
        change = steps.record(st.objective / st.n)
        # the total's change, to 1 + |total|, the total in rows of the mean weight (as
        # where the rows are not weighted): weights scaled by any factor stop alike
        unit = st.mass_unit
        relative = change * ((st.n / unit) / (1.0 + abs(st.objective / unit)))
        if steps.relative_tol:
            change = relative
        unchanged = (
            steps.hard and prev_stats is not None
            and np.array_equal(st.nk, prev_stats.nk) and np.array_equal(st.sk, prev_stats.sk)
        )
        params = new_params
        if unchanged or settled(change, tol):
            return params, True
        if handoff is not None and settled(relative, handoff):
            return (yield from squarem(steps, params, tol, max_iter))
        if steps.passes < max_iter and steps.halted():
            break
        prev_stats = st
    return params, False


def squarem(steps: Steps, params: MixtureParams, tol: float, max_iter: int) -> Machine:
    """SQUAREM (the squared extrapolation method, its S3 step length) with a monotonicity
    safeguard: (the last parameters, whether it converged).

    A cycle makes two EM steps theta1 = F(theta0), theta2 = F(theta1), extrapolates
    theta' = theta0 + 2 alpha r + alpha^2 v with r = theta1 - theta0, v = theta2 - 2 theta1
    + theta0 and alpha = |r| / |v| (in units of the data's spread, so that weights, means
    and covariances count alike; within the bounds of engine.steplength), and takes one
    more EM step from theta'.  theta' is kept only if it is a valid mixture of the family
    (positive weights, positive definite covariances: _extrapolate) whose log-likelihood
    is at least theta1's;
    otherwise the cycle goes on from theta2, as plain EM would.  Each cycle starts from
    the result of an EM step, so every trace row is at least the one before it, and the
    run stops, as plain EM does, when a plain EM step changes the objective by less than
    tol.  A refused extrapolation costs one pass and leaves no trace row.
    """
    scale = float(np.mean(np.diagonal(params.full_covariances(), axis1=1, axis2=2)))
    scale = scale if scale > 0 and math.isfinite(scale) else 1.0
    bound, theta0 = StepBound(), params
    while steps.passes < max_iter and not (steps.passes and steps.halted()):
        st0, theta1 = steps.account((yield theta0))
        if settled(steps.record(st0.objective / st0.n), tol):
            return theta1, True
        if steps.passes >= max_iter or steps.halted():
            return theta1, False
        st1, theta2 = steps.account((yield theta1))
        l1 = st1.objective / st1.n
        if settled(steps.record(l1), tol):
            return theta2, True
        alpha, guess = _extrapolate(theta0, theta1, theta2, bound, scale)
        theta0 = theta2
        if guess is not None and steps.passes < max_iter:
            taken = yield from _try_guess(steps, guess, l1)
            if taken is not None:
                theta0 = taken
                bound.taken(alpha)
                continue
        bound.refused(alpha)
    return theta0, False


def _try_guess(steps: Steps, guess: MixtureParams, floor: float
               ) -> Generator[MixtureParams, Pass, MixtureParams | None]:
    """One EM step from an extrapolated guess, kept (its trace row recorded, F(guess)
    returned) if the guess's objective is at least floor; None when refused."""
    try:
        st, after = steps.account((yield guess))
    except NotPositiveDefinite:
        return None
    objective = st.objective / st.n
    if not objective >= floor:
        return None
    steps.record(objective)
    return after


def _extrapolate(p0: MixtureParams, p1: MixtureParams, p2: MixtureParams, bound: StepBound,
                 scale: float) -> tuple[float, MixtureParams | None]:
    """SQUAREM's step length and extrapolated parameters (None when the extrapolation is
    not a valid mixture of the family (_onto_family), or when there is nothing to
    extrapolate).  scale: the data's variance;
    the norms of r and v count weights as they are, means in units of the data's spread
    (sqrt(scale)) and covariances in units of its variance, each divided by its unit
    before it is squared: squared in the data's own units, the covariances of data beyond
    about 1e77 would overflow (their squares pass 1e308)."""
    units = (1.0, math.sqrt(scale), scale)  # weights, means, covariances
    parts = [(p.weights, p.means, p.covariances) for p in (p0, p1, p2)]
    # a collapsed component's mean near the float range (a model file's) overflows here:
    # no extrapolation then (sv not finite)
    with np.errstate(over="ignore", invalid="ignore"):
        r = [b - a for a, b in zip(parts[0], parts[1])]
        v = [c - 2.0 * b + a for a, b, c in zip(*parts)]
        sr = sum(_squared_norm(x, unit) for x, unit in zip(r, units))
        sv = sum(_squared_norm(x, unit) for x, unit in zip(v, units))
    if not (sv > 0 and math.isfinite(sr / sv)):
        return 1.0, None
    alpha = bound.length(sr, sv)
    if alpha == 1.0:
        return alpha, p2
    new = [a + (2.0 * alpha) * x + (alpha * alpha) * y for a, x, y in zip(parts[0], r, v)]
    if not (new[0] > 0).all():
        return alpha, None
    weights = new[0] / new[0].sum()
    try:
        cov = _onto_family(weights, new[2], p2)
        return alpha, MixtureParams.build(weights, new[1], cov, p0.covariance_type)
    except (NotPositiveDefinite, np.linalg.LinAlgError):
        return alpha, None


def _onto_family(weights: Array, cov: Array, near: MixtureParams) -> Array:
    """Extrapolated covariances as a mixture of the family: those of a family whose
    components share some of volume, shape and orientation (VEI, ..., EVV) are no
    longer of it when combined entry by entry (two components' shapes 0.43 apart under
    VEI), and a guess outside the model can pass theta1's likelihood that no mixture of
    the model reaches, which the trace then falls from.  Their family's M-step from the
    covariances as scatters (weighted by the weights; iterative ones from near's and at
    most SCREEN_MSTEP_ITER iterations: any mixture of the model will do) takes them back
    into it.  The families without such constraints are closed under the combination."""
    fam = family(near.covariance_type)
    if not fam.equal:
        return cov
    k, d = near.n_components, near.n_features
    per = fam.expand(cov, k, d)
    scatter = per * weights.reshape((k,) + (1,) * (per.ndim - 1))
    with screening_m_steps(), np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return fam.m_step(scatter, weights, near.covariances)


def _squared_norm(x: Array, unit: float) -> float:
    """|x / unit|^2: x in that unit, then squared."""
    scaled = x if unit == 1.0 else x / unit
    return float(np.vdot(scaled, scaled))
