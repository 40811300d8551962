"""The EM loop: E-step statistics by reduction, M-step from statistics only."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

import numpy as np
from numpy.typing import NDArray

from .families import family, scatter_about_means
from .dataset import Dataset
from .errors import WEIGHT_COLLAPSE, FitEvent
from .params import MixtureParams
from .stats import SuffStats, chunk_stats

Array = NDArray[np.floating]

#: Added to every responsibility sum so an empty component does not divide by zero.
EPS_MASS = 10.0 * np.finfo(np.float64).eps
#: A component whose responsibility mass falls below this (a millionth of one point) has
#: collapsed: it explains no data, so its mean and covariance are frozen where they were.
COLLAPSE_MASS = 1e-6
#: A component is degenerate (a spurious maximum of the likelihood) when the smallest
#: eigenvalue of its covariance, less reg_covar, is below this fraction of the smallest
#: non-zero column variance of the data.  See docs/numerics.md, "Degenerate fits".
DEGENERATE_RATIO = 1e-6

IterationCallback = Callable[[int, float, float], None]


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
) -> tuple[MixtureParams, NDArray[np.intp]]:
    """New parameters from statistics whose second moments are centred on ``centers``.

    Returns the parameters and the indices of components whose mass collapsed; those keep
    the previous mean and covariance (there is no data to estimate them from).  The
    family's M-step reads the scatter about the new means (families.scatter_about_means)
    and the previous covariances, which its iterative M-steps start from.
    """
    fam = family(covariance_type)
    nk = stats.nk + EPS_MASS
    means = stats.sk / nk[:, None]
    collapsed = np.flatnonzero(stats.nk < COLLAPSE_MASS)
    if previous is not None and len(collapsed):
        means[collapsed] = previous.means[collapsed]
    w = scatter_about_means(stats.scatter, nk, means - centers, reg_covar)
    prev = None if previous is None else previous.covariances
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if prev is not None and len(collapsed) and fam.per_component:
            # a collapsed component has no points to estimate it from: it keeps its
            # covariance, and the model's shared parts come from the others
            live = np.setdiff1d(np.arange(len(nk)), collapsed)
            cov: Array = np.array(prev, dtype=np.float64)
            cov[live] = fam.m_step(w[live], nk[live], prev[live])
        else:
            cov = fam.m_step(w, nk, prev)
    params = MixtureParams.build(
        nk / nk.sum(), means, cov, covariance_type, reg_covar=reg_covar, iteration=iteration
    )
    return params, collapsed


def degenerate_components(
    params: MixtureParams, column_variance: Array, reg_covar: float,
    ratio: float = DEGENERATE_RATIO,
) -> list[int]:
    """Components whose covariance collapsed onto the regularisation floor.

    The test: lambda_min(Sigma_k restricted to non-constant columns) - reg_covar is below
    ratio times the smallest non-zero column variance.  Constant columns are left out, since
    every component is flat along them and reg_covar is what keeps that well-posed.
    """
    live = np.flatnonzero(np.asarray(column_variance) > 0)
    if len(live) == 0:
        return []
    full = params.full_covariances()[:, live][:, :, live]
    lam = np.linalg.eigvalsh(full)[:, 0] - reg_covar
    floor = ratio * float(np.min(np.asarray(column_variance)[live]))
    return [int(k) for k in np.flatnonzero(lam < floor)]


def run_em(
    data: Dataset,
    params: MixtureParams,
    *,
    tol: float,
    max_iter: int,
    reg_covar: float,
    hard: bool = False,
    on_iteration: IterationCallback | None = None,
) -> EMRun:
    """Iterate E and M steps from ``params`` until the mean objective changes by < tol.

    The objective is the mean per-sample log-likelihood (soft EM) or the mean
    classification log-likelihood (hard EM, which also stops as soon as no point changes
    component).  Iteration t records the objective of the parameters it started from, as
    scikit-learn's lower_bounds_ does.
    """
    trace: list[TraceRow] = []
    events: list[FitEvent] = []
    converged = False
    prev_obj: float | None = None
    prev_stats: SuffStats | None = None
    seen_collapsed: set[int] = set()
    t_last = time.perf_counter()
    for it in range(1, max_iter + 1):
        st = data.reduce(partial(chunk_stats, params=params, hard=hard))
        obj = st.objective / st.n
        change = math.nan if prev_obj is None else obj - prev_obj
        new_params, collapsed = m_step(
            st, params.means, params.covariance_type, reg_covar, iteration=it, previous=params
        )
        for k in collapsed:
            if int(k) not in seen_collapsed:
                seen_collapsed.add(int(k))
                events.append(FitEvent(
                    WEIGHT_COLLAPSE,
                    f"component {k}: weight collapsed to zero at iteration {it} (it explains "
                    "no points); its mean and covariance were frozen at their previous values",
                    int(k), it,
                ))
        now = time.perf_counter()
        trace.append(TraceRow(it, obj, change, now - t_last))
        t_last = now
        if on_iteration is not None:
            on_iteration(it, obj, change)
        unchanged = (
            hard and prev_stats is not None
            and np.array_equal(st.nk, prev_stats.nk) and np.array_equal(st.sk, prev_stats.sk)
        )
        params = new_params
        # a change of exactly 0 has converged whatever tol is (tol 0 included)
        if unchanged or (prev_obj is not None and (abs(change) < tol or change == 0.0)):
            converged = True
            break
        prev_obj, prev_stats = obj, st
    final = data.reduce(partial(chunk_stats, params=params, hard=False))
    return EMRun(params, trace, converged, final, events)
