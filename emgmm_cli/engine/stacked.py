"""EM on several mixtures of one family and K at once, over the same rows in memory.

On small data an EM pass costs mostly the fixed price of its numpy calls, not
arithmetic, so runs from several starts share their passes: the screening of the auto
start (engine.starts), and on small data its full runs (engine.fitting).  Each run is
its own em.Machine (plain EM or SQUAREM, as run_em would drive it); in every round
run_stacked gathers the parameters each live run asks a pass from, and one pass serves
them all (or, where their work buffers would pass STACK_BYTES, the runs go in groups
that fit, one group after another: memory stays bounded whatever the dimension and the
number of runs).  The kernels of all their components are stacked into one (the whitened
or expanded forms side by side), one call computes every component's log-density of
every row, the responsibilities are normalised within each run's K components, and one
call gives every component's first and second moments.  The M-step too is one for all
where the family's takes a stack (Family.stacks: every family but EVE and VVE, the
iterative M-steps of VEI, VEE and VEV each mixture to its own end), and the precision
factors of every component come from one batched factorisation; EVE and VVE, and a run
with a collapsed component, take their M-step one run at a time (em.m_step).

Each run's iterations are those run_em makes (the same E-step, the same M-step, the
same stopping rule, the same extrapolations), up to the rounding of the stacked
products; a run whose M-step fails (a covariance that is not positive definite) ends
with its error, and one that converges stops while the others go on.  Rows far from
every component of a run (whose log-densities underflow) take that run's E-step through
stats.chunk_stats, which handles them.  Hard EM and rows with missing coordinates are
not stacked (the caller runs each alone).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..interrupts import stop_point
from .dataset import Dataset, row_known, row_weights
from .em import (COLLAPSE_MASS, EPS_MASS, Arrange, DegenerateTest, EMRun,
                 IterationCallback, Machine, Steps, arranged, degenerate_components,
                 em_machine, em_stats, in_rows, m_step)
from .errors import EngineError
from .families import MATRIX, factorise, family, scatter_about_means
from .kernels import ExpandedKernel, WhitenedKernel, log_weights
from .params import MixtureParams
from .stats import NO_INDICES, SuffStats, chunk_stats, fix_known, normalise_in_place

Array = NDArray[np.floating]


#: The work buffers of one stacked pass stay within this many bytes: the runs of a larger
#: stack take their passes in groups (runs_per_pass).  Without the bound, 40 screened
#: starts of VVV with K = 9 on 2000 rows of 100 columns needed 2.6 GB at their peak.
STACK_BYTES = 64 << 20


@dataclass(frozen=True)
class Rows:
    """The rows every pass of a stack reads, with what depends on them alone, computed
    once for all the passes: their mean (the kernels' centre) and the features
    the family's kernel multiplies (kernels' features), their weights and known labels."""

    x: Array
    center: NDArray[np.float64]
    feats: Array
    w: NDArray[np.float64] | None
    known: NDArray[np.int64] | None

    @classmethod
    def of(cls, data: Dataset, statistic: str) -> "Rows":
        x = data.take(np.arange(data.n_samples))
        center = np.asarray(x.mean(axis=0, dtype=np.float64))
        kernel = WhitenedKernel if statistic == MATRIX else ExpandedKernel
        feats = kernel.features(x, center.astype(x.dtype))
        return cls(x, center, feats, row_weights(data), row_known(data))


def runs_per_pass(params: MixtureParams, data: Dataset) -> int:
    """How many runs like params (their family, K and D) one stacked pass over the rows
    of data takes: as many as keep the pass's work buffers (Family.work_columns per run
    and row) within STACK_BYTES, and at least one.  A larger stack runs in groups of that
    many, one group to its end after another, so that only one group's iterates are
    live; run_stacked on one such group at a time makes the very same runs."""
    width = params.family.work_columns(params.n_components, params.n_features)
    per_run = width * data.n_samples * np.dtype(data.dtype).itemsize
    return max(1, STACK_BYTES // per_run)


def stack_groups(count: int, per: int) -> list[range]:
    """The indices of count runs, in groups of per (runs_per_pass), in order."""
    return [range(first, min(first + per, count)) for first in range(0, count, per)]


def _joined(parts: list[Array]) -> Array:
    """The parts one after another along their first axis (np.concatenate); a single part
    itself (every caller only reads what this returns)."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _stacked(parts: list[Array]) -> Array:
    """The parts, all of one shape, stacked along a new first axis: np.array, not
    np.stack (the same stack at a fifth of the cost); a single part as a view."""
    return parts[0][None] if len(parts) == 1 else np.array(parts)


def stacked_kernel(mixtures: list[MixtureParams], rows: Rows
                   ) -> WhitenedKernel | ExpandedKernel:
    """One kernel for the components of all the mixtures (of one family), in order, for
    the rows.  The kernel's centre is the rows' mean, not the means' (which may be
    far apart across candidates): its expansion is then as exact for every candidate
    whose means lie among the rows as each candidate's own."""
    dtype = rows.x.dtype
    means = _joined([p.means for p in mixtures])
    factors = _joined([p.precisions_cholesky for p in mixtures])
    log_det = _joined([p.log_det for p in mixtures])
    log_pi = log_weights(_joined([p.weights for p in mixtures]))
    if mixtures[0].family.statistic == MATRIX:
        chol = _joined([p.covariance_factors() for p in mixtures])
        return WhitenedKernel.prepare(means, chol, factors, log_det, log_pi, dtype,
                                      center=rows.center)
    return ExpandedKernel.prepare(means, factors, log_det, log_pi, dtype,
                                  center=rows.center)


def stacked_stats(rows: Rows, mixtures: list[MixtureParams]) -> list[SuffStats]:
    """Each mixture's E-step statistics over the rows, as chunk_stats gives them (entropy
    left out)."""
    x, w, known = rows.x, rows.w, rows.known
    r, k, n = len(mixtures), mixtures[0].n_components, x.shape[0]
    # a candidate with rows beyond the float range (overflowing distances) has its
    # E-step from chunk_stats below; its entries here are not read
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        kern = stacked_kernel(mixtures, rows)
        lp, aux = kern.log_prob(x, rows.feats)
        resp = lp.reshape(r, k, n)
        top = resp.max(axis=1)
        # top is finite everywhere exactly when its sum is (one reduction, not a mask)
        far = None if np.isfinite(top.sum()) else ~(top > -np.inf).all(axis=1)
        if far is not None:
            resp[far] = 0.0
            top[far] = 0.0
        lse, top = normalise_in_place(resp, top)
    if known is not None:
        for j in range(r):
            lse[j], top[j] = fix_known(resp[j], lse[j], top[j], known)
    if w is not None:
        resp *= w.astype(resp.dtype, copy=False)
        with np.errstate(invalid="ignore"):
            lse = np.where(w > 0, lse * w, 0.0)
    sk, scatter = kern.moments(x, lp, aux)
    nk = resp.sum(axis=2, dtype=np.float64)
    loglik = lse.sum(axis=1, dtype=np.float64).tolist()
    total_n = float(n) if w is None else float(w.sum())
    out = []
    for j, params in enumerate(mixtures):
        if far is not None and far[j]:
            out.append(chunk_stats(x, params, w=w, known=known, entropy=False))
            continue
        part = slice(j * k, (j + 1) * k)
        out.append(SuffStats(nk[j], sk[part], scatter[part], loglik[j], loglik[j], 0.0,
                             total_n, n))
    return out


#: A mixture's M-step in a stack: its new parameters and collapsed components (Pass's),
#: or the error its M-step raised.
MStep = tuple[MixtureParams, NDArray[np.intp]] | EngineError


def stacked_m_step(stats: list[SuffStats], mixtures: list[MixtureParams], reg_covar: float,
                   iterations: list[int]) -> list[MStep]:
    """Each mixture's M-step (em.m_step, at its own iteration) from its statistics.  One
    M-step for all where the family takes a stack and no component collapsed; one mixture
    at a time otherwise (then exactly em.m_step's)."""
    fam = family(mixtures[0].covariance_type)
    nk = _stacked([st.nk for st in stats]) if fam.stacks else None
    unit = stats[0].mass_unit  # every mixture's rows are the same: em.m_step's unit
    if nk is None or not nk.min() >= COLLAPSE_MASS * unit:
        return [_one_m_step(st, params, reg_covar, it)
                for st, params, it in zip(stats, mixtures, iterations)]
    c, k = nk.shape
    d = mixtures[0].n_features
    nk = nk + EPS_MASS * unit
    means = _stacked([st.sk for st in stats]) / nk[:, :, None]
    delta = means - _stacked([p.means for p in mixtures])
    scatter = _joined([st.scatter for st in stats])
    w = scatter_about_means(scatter, nk.reshape(-1), delta.reshape(c * k, d), reg_covar)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        cov = fam.m_step(*in_rows(w.reshape((c, k) + w.shape[1:]), nk, unit),
                         _stacked([p.covariances for p in mixtures]))
    # one covariance per component: the stack is one family's set of c * k of them
    per = (fam.expand(cov.reshape((c * k,) + cov.shape[2:]), c * k, d) if fam.per_component
           else np.concatenate([fam.expand(one, k, d) for one in cov]))
    try:
        factors, log_det, lower = factorise(per, fam.statistic, reg_covar, None)
    except EngineError:  # some mixture's covariance: each one's own M-step says which
        return [_one_m_step(st, params, reg_covar, it)
                for st, params, it in zip(stats, mixtures, iterations)]
    weights = nk / nk.sum(axis=1, keepdims=True)
    out: list[MStep] = []
    for j in range(c):
        part = slice(j * k, (j + 1) * k)
        out.append((MixtureParams.assemble(
            weights[j], means[j], cov[j], fam.name,
            (factors[part], log_det[part], None if lower is None else lower[part])),
            NO_INDICES))
    return out


def _one_m_step(st: SuffStats, params: MixtureParams, reg_covar: float,
                iteration: int) -> MStep:
    try:
        return m_step(st, params.means, params.covariance_type, reg_covar,
                      iteration=iteration, previous=params)
    except EngineError as exc:
        return exc


def _drive(group: range, machines: list[Machine], steps: list[Steps], rows: Rows,
           reg_covar: float, ended: dict[int, tuple[MixtureParams, bool] | EngineError],
           arm: DegenerateTest | None = None) -> None:
    """The runs of group to their ends (put in ended), each pass one stacked pass for all
    of them that are still running; arm: the test the runs still running
    are watched with (Steps.watch) once one has ended not degenerate."""
    asked: dict[int, MixtureParams] = {}
    for i in group:
        try:
            asked[i] = next(machines[i])
        except StopIteration as stop:
            ended[i] = stop.value
    while asked:
        stop_point()  # the screening's passes have no iteration callback
        live = list(asked)
        mixtures = [asked[i] for i in live]
        for i in live:
            steps[i].passes += 1
        stats = stacked_stats(rows, mixtures)
        news = stacked_m_step(stats, mixtures, reg_covar, [steps[i].passes for i in live])
        for i, st, new in zip(live, stats, news):
            try:
                asked[i] = (machines[i].throw(new) if isinstance(new, EngineError)
                            else machines[i].send((st, *new)))
            except StopIteration as stop:
                del asked[i]
                ended[i] = stop.value
                if arm is not None and not degenerate_components(stop.value[0], arm,
                                                                 reg_covar):
                    for j in asked:
                        steps[j].watch = arm
            except EngineError as exc:
                del asked[i]
                ended[i] = exc


def run_stacked(data: Dataset, starts: list[MixtureParams], *, tol: float, max_iter: int,
                reg_covar: float, accelerate: str = "none", deadline: float | None = None,
                on_iteration: list[IterationCallback | None] | None = None,
                arrange: Arrange | None = None, exact_final: bool = True,
                mclust_first: list[bool] | None = None, watch: DegenerateTest | None = None,
                watch_from_start: bool = True) -> list[EMRun | EngineError]:
    """run_em from each start (all of one family and K; soft EM, nothing frozen, no hook)
    over the rows of data, read whole: the same iterations (em.em_machine), their passes
    shared (one stacked E-step and M-step for all the runs that ask for one); each run's
    EMRun, or the EngineError that ended it.  on_iteration: each run's callback (called
    as its iterations end, the runs' in turn), or None; arrange, watch and mclust_first
    (each run's, or none's): as run_em's, but with watch_from_start False the runs are
    watched only once one of their group has ended not degenerate (so that a run that
    cannot be kept, beside a sound one, stops where it is found degenerate).  The final
    E-step is each run's own (em_stats: its log-likelihood is the sum that scoring the
    parameters gives, to the last bit), or with exact_final False one stacked pass for
    all (the screening: the sums to rounding, and no entropy)."""
    rows = Rows.of(data, starts[0].family.statistic)
    steps = [Steps(data, reg_covar, False, None if on_iteration is None else on_iteration[i])
             for i in range(len(starts))]
    for one in steps:
        one.deadline, one.watch = deadline, watch if watch_from_start else None
        one.judge = watch
    firsts = [False] * len(starts) if mclust_first is None else mclust_first
    machines = [em_machine(s, p, tol, max_iter, accelerate, first)
                for s, p, first in zip(steps, starts, firsts)]
    ended: dict[int, tuple[MixtureParams, bool] | EngineError] = {}
    per = runs_per_pass(starts[0], data)
    for group in stack_groups(len(starts), per):
        _drive(group, machines, steps, rows, reg_covar, ended,
               None if watch_from_start else watch)
    ends = [ended[i] for i in range(len(starts))]
    last = {i: arranged(end[0], arrange) for i, end in enumerate(ends)
            if not isinstance(end, EngineError)}
    if exact_final:
        finals = {i: em_stats(data, params, hard=False) for i, (params, _) in last.items()}
    else:
        ended_at = list(last)
        finals = {}
        for group in stack_groups(len(ended_at), per):
            runs = [ended_at[j] for j in group]
            finals.update(zip(runs, stacked_stats(rows, [last[i][0] for i in runs])))
    return [end if isinstance(end, EngineError) else
            steps[i].finish(last[i][0], end[1], finals[i], last[i][1])
            for i, end in enumerate(ends)]
