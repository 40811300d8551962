"""Plain EM on several mixtures of one family at once, over the same few rows.

The screening of the auto start (engine.starts) runs a few EM iterations from each of
several candidate starts on at most a few thousand rows.  There an EM pass costs mostly
the fixed price of its numpy calls, not arithmetic, so the candidates share their passes:
the kernels of all R candidates' components are stacked into one (the R K components'
whitened or expanded forms side by side), one call computes every component's
log-density of every row, the responsibilities are normalised within each candidate's K
components, and one call gives every component's first and second moments.  Only the
M-step (its family's, which may couple a candidate's components) runs per candidate.

Each candidate's iterations are those run_em makes (the same E-step, the same M-step, the
same stopping rule), up to the rounding of the stacked products; a candidate whose M-step
fails (a covariance that is not positive definite) drops out with its error, and one that
converges stops while the others go on.  Rows far from every component of a candidate
(whose log-densities underflow) take that candidate's E-step through stats.chunk_stats,
which handles them.  Hard EM and rows with missing coordinates are not stacked (the
caller runs each candidate alone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .em import m_step, settled
from .errors import EngineError
from .families import MATRIX
from .kernels import ExpandedKernel, WhitenedKernel
from .params import MixtureParams
from .stats import SuffStats, chunk_stats, fix_known, normalise_in_place

Array = NDArray[np.floating]


@dataclass
class StackedRun:
    """Where one candidate's iterations ended: its parameters and the mean log-likelihood
    of them (None and -inf with the error when its M-step failed)."""

    params: MixtureParams | None
    loglik: float = -math.inf
    error: EngineError | None = None


def stacked_kernel(mixtures: list[MixtureParams], x: Array
                   ) -> WhitenedKernel | ExpandedKernel:
    """One kernel for the components of all the mixtures (of one family), in order, for
    the rows x.  The expanded form's centre is the rows' mean, not the means' (which may
    be far apart across candidates): its expansion is then as exact for every candidate
    whose means lie among the rows as each candidate's own."""
    dtype = x.dtype
    first = mixtures[0]
    means = np.concatenate([p.means for p in mixtures])
    factors = np.concatenate([p.precisions_cholesky for p in mixtures])
    log_det = np.concatenate([p.log_det for p in mixtures])
    log_weights = np.log(np.maximum(np.concatenate([p.weights for p in mixtures]),
                                    np.finfo(np.float64).tiny))
    if first.family.statistic == MATRIX:
        chol = np.concatenate([p.covariance_factors() for p in mixtures])
        return WhitenedKernel.prepare(means, chol, factors, log_det, log_weights, dtype)
    return ExpandedKernel.prepare(means, factors, log_det, log_weights, dtype,
                                  center=x.mean(axis=0, dtype=np.float64))


def stacked_stats(x: Array, mixtures: list[MixtureParams], w: NDArray[np.float64] | None,
                  known: NDArray[np.int64] | None) -> list[SuffStats]:
    """Each mixture's E-step statistics over the rows x, as chunk_stats gives them
    (entropy left out)."""
    r, k, n = len(mixtures), mixtures[0].n_components, x.shape[0]
    # a candidate with rows beyond the float range (overflowing distances) has its
    # E-step from chunk_stats below; its entries here are not read
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        kern = stacked_kernel(mixtures, x)
        lp, aux = kern.log_prob(x)
        resp = lp.reshape(r, k, n)
        top = resp.max(axis=1)
        far = ~(top > -np.inf).all(axis=1)
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
    loglik = lse.sum(axis=1, dtype=np.float64)
    total_n = float(n) if w is None else float(w.sum())
    out = []
    for j, params in enumerate(mixtures):
        if far[j]:
            out.append(chunk_stats(x, params, w=w, known=known, entropy=False))
            continue
        part = slice(j * k, (j + 1) * k)
        out.append(SuffStats(nk[j], sk[part], scatter[part], float(loglik[j]),
                             float(loglik[j]), 0.0, total_n))
    return out


def run_stacked(x: Array, starts: list[MixtureParams], *, tol: float, max_iter: int,
                reg_covar: float, w: NDArray[np.float64] | None = None,
                known: NDArray[np.int64] | None = None) -> list[StackedRun]:
    """Plain soft EM from each start (all of one family and K) for at most max_iter
    passes, each stopping as run_em does when its mean log-likelihood changes by less
    than tol; returns where each ended, with the mean log-likelihood of its final
    parameters (one more E-step)."""
    runs = [StackedRun(p) for p in starts]
    last = [math.nan] * len(runs)
    live = list(range(len(runs)))
    for it in range(1, max_iter + 1):
        if not live:
            break
        stats = stacked_stats(x, [runs[i].params for i in live], w, known)  # type: ignore[misc]
        going = []
        for i, st in zip(live, stats):
            params = runs[i].params
            assert params is not None
            try:
                runs[i].params = m_step(st, params.means, params.covariance_type, reg_covar,
                                        iteration=it, previous=params)[0]
            except EngineError as exc:
                runs[i] = StackedRun(None, error=exc)
                continue
            obj = st.objective / st.n
            change, last[i] = obj - last[i], obj
            if not settled(change, tol):
                going.append(i)
        live = going
    done = [i for i, run in enumerate(runs) if run.params is not None]
    if done:
        final = stacked_stats(x, [runs[i].params for i in done], w, known)  # type: ignore[misc]
        for i, st in zip(done, final):
            runs[i].loglik = st.loglik / st.n
    return runs
