"""Per-chunk functions: everything one EM iteration needs from the data.

Each function here takes one block of rows and returns an object that adds to the same
object of another block.  A backend maps them over the blocks of a dataset (in memory,
memory-mapped, distributed) and sums; nothing else in the engine touches data rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .families import family
from .kernels import HELD_RESP, LOG_2PI, log_weights
from .params import MixtureParams

Array = NDArray[np.floating]


@dataclass
class SuffStats:
    """Sufficient statistics of one EM iteration, for a block of rows.

    nk:        (K,) responsibility sums
    sk:        (K, D) responsibility-weighted sums of x
    scatter:   per-component second moments centred on the current means: (K, D, D)
               or (K, D), as the covariance family's statistic says
    loglik:    sum_i log sum_k pi_k N(x_i | k)               (mixture log-likelihood)
    objective: the quantity EM climbs: loglik for soft EM, the classification
               log-likelihood sum_i log pi_z N(x_i | z) for hard EM
    log_max_resp: sum_i log max_k r_ik (the entropy part of ICL)
    n:         rows (the sum of their weights when the rows are weighted)
    rows:      rows, weighted or not (0 where not counted: mass_unit is then 1)
    """

    nk: Array
    sk: Array
    scatter: Array
    loglik: float
    objective: float
    log_max_resp: float
    n: float
    rows: int = 0

    def __add__(self, other: "SuffStats") -> "SuffStats":
        return SuffStats(
            self.nk + other.nk,
            self.sk + other.sk,
            self.scatter + other.scatter,
            self.loglik + other.loglik,
            self.objective + other.objective,
            self.log_max_resp + other.log_max_resp,
            self.n + other.n,
            self.rows + other.rows,
        )

    @property
    def mass_unit(self) -> float:
        """The mass of an average row: 1 for rows that are not weighted, the mean weight
        for weighted ones.  The M-step's thresholds of mass (em.COLLAPSE_MASS,
        em.EPS_MASS) are in this unit, so that weights scaled by any factor fit alike."""
        return 1.0 if not self.rows or self.n == self.rows else self.n / self.rows


#: No index: what _e_step finds far from every component on almost every block (and what
#: em.m_step finds collapsed on almost every iteration).
NO_INDICES: NDArray[np.intp] = np.zeros(0, dtype=np.intp)

#: Lower bound of log-responsibility differences before exponentiation (see below).
EXP_FLOOR = -700.0


def keep_known(pred: Predictions, known: NDArray[np.int64]) -> None:
    """Rows with a known component keep it in their predictions: label, and one-hot
    responsibilities (the final pass of a fit with known labels, predict, plot)."""
    rows = np.flatnonzero(known >= 0)
    if len(rows):
        pred.labels[rows] = known[rows]
        pred.resp[rows] = 0.0
        pred.resp[rows, known[rows]] = 1.0


def normalise_in_place(lp: Array, top: Array | None = None) -> tuple[Array, Array]:
    """Turn component-major (K, n) weighted log-probabilities into responsibilities, in
    place; or a stack of them, (..., K, n), each normalised over its own K (the stacked
    screening: engine.stacked).  Returns (log density per row: logsumexp_k lp_ki, the
    maxima over k of lp), each (..., n); top, when given, is those maxima already
    computed."""
    if top is None:
        top = lp.max(axis=-2)
    lp -= top[..., None, :]
    # exp of arguments below ~-708 yields subnormals or zero through a slow path (measured
    # 20x slower at -720 in float64), and well-separated data lands there on most entries.
    # Clamped, such a term is ~1e-304 instead: a change no sum of responsibilities can see.
    np.maximum(lp, EXP_FLOOR, out=lp)
    np.exp(lp, out=lp)
    total = lp.sum(axis=-2)
    lp *= np.reciprocal(total)[..., None, :]
    return np.log(total) + top, top


def _e_step(x: Array, params: MixtureParams, hard: bool
            ) -> tuple[Array, Array, Array, Any]:
    """(resp (K, n), log density, max over k of lp, kernel aux), all in work buffers.

    Rows so far from every component that the kernel's squared distances overflow (no
    finite log-probability, or inf - inf) get theirs from far_posterior instead; the log
    densities are then float64 whatever the data's dtype.
    """
    kern = params.kernel(x.dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        lp, aux = kern.log_prob(x)
        top = lp.max(axis=0)
        far = NO_INDICES if (top > -np.inf).all() else np.flatnonzero(~(top > -np.inf))
    if len(far):
        lp[:, far] = 0.0
        top = None
    labels = lp.argmax(axis=0) if hard else None
    lse, top = normalise_in_place(lp, top)
    if len(far):
        resp, far_lse, far_top = far_posterior(x[far], params)
        lp[:, far] = resp
        lse, top = lse.astype(np.float64), top.astype(np.float64)
        lse[far], top[far] = far_lse, far_top
        if labels is not None:
            labels[far] = resp.argmax(axis=0)
    if labels is not None:
        lp[:] = 0.0
        lp[labels, np.arange(lp.shape[1])] = 1.0
    return lp, lse, top, aux


def far_log_prob(x: Array, params: MixtureParams) -> tuple[NDArray[np.float64],
                                                            NDArray[np.float64]]:
    """(log pi_k N(x_i | k), log of the squared Mahalanobis distance), both (K, m), for
    rows far from every component: in float64, from residuals scaled twice (by the
    largest |x - mu| of the row, then by the largest whitened residual) so that nothing
    overflows before the last step, where a log-probability below the float64 range
    becomes -inf.  Never NaN for finite x."""
    x64 = np.asarray(x, dtype=np.float64)
    d = params.means.shape[1]
    half = x64[None, :, :] * 0.5 - params.means[:, None, :] * 0.5
    s = np.abs(half).max(axis=(0, 2))
    v = half / np.where(s > 0, s, 1.0)[None, :, None]
    factors = params.precisions_cholesky
    if factors.ndim == 3:  # upper U_k: the whitened residual is U_k^T (x - mu_k)
        z = np.einsum("kmd,kde->kme", v, factors)
    else:
        z = v * factors[:, None, :]
    t = np.abs(z).max(axis=(0, 2))
    t = np.where(t > 0, t, 1.0)
    q = ((z / t[None, :, None]) ** 2).sum(axis=2)
    with np.errstate(divide="ignore", over="ignore"):
        log_maha = np.log(q) + 2.0 * (np.log(2.0 * np.where(s > 0, s, 1.0)) + np.log(t))
        maha = np.exp(log_maha)
    const = log_weights(params.weights) + params.log_det - 0.5 * d * LOG_2PI
    return const[:, None] - 0.5 * maha, log_maha


def far_posterior(x: Array, params: MixtureParams) -> tuple[NDArray[np.float64],
                                                            NDArray[np.float64],
                                                            NDArray[np.float64]]:
    """(responsibilities (K, m), log-densities, max over k of the log-probabilities) of
    rows far from every component (far_log_prob).  Where some log-probability is finite
    they normalise as usual; where none is (the density is below the float64 range: its
    log is -inf), and for every such row where the components share one covariance (EII,
    EEI, EEE, E: there the distances' common term swamps, in any rounding, what tells
    them apart), the point belongs to its nearest component of weight > 0 by Mahalanobis
    distance (_nearest; on an exact tie, to the tied ones in proportion to
    pi_k |Sigma_k|^-1/2)."""
    lp, _ = far_log_prob(x, params)
    top = lp.max(axis=0)
    w = np.exp(lp - np.where(top > -np.inf, top, 0.0))  # 0 where the density is below
    with np.errstate(divide="ignore"):
        density = top + np.log(w.sum(axis=0))
    nearest = ~(top > -np.inf) | (not params.family.per_component)
    if nearest.any():
        const = log_weights(params.weights) + params.log_det
        tied = np.where(_nearest(x[nearest], params), const[:, None], -np.inf)
        w[:, nearest] = np.exp(tied - tied.max(axis=0))
    return w / w.sum(axis=0), density, top


def _nearest(x: Array, params: MixtureParams) -> NDArray[np.bool_]:
    """(K, m) True for the components of weight > 0 nearest each far row by Mahalanobis
    distance.  With x = s v (|v| <= 1), z_k = U_k^T v and m_k = U_k^T mu_k, the squared
    distance is s^2 |z_k|^2 - 2 s z_k . m_k + |m_k|^2: at these s a difference in a
    term outweighs any in the next, so the components are compared term by term, exact
    ties (the same U_k, computed alike) going on to the next.  The distances themselves
    (far_log_prob) agree to every digit where the components share a covariance."""
    x64 = np.asarray(x, dtype=np.float64)
    s = np.abs(x64).max(axis=1)
    v = x64 / np.where(s > 0, s, 1.0)[:, None]
    factors = params.precisions_cholesky
    if factors.ndim == 3:  # upper U_k: the whitened residual is U_k^T (x - mu_k)
        z = np.einsum("md,kde->kme", v, factors)
        m = np.einsum("kd,kde->ke", params.means, factors)
    else:
        z = v[None, :, :] * factors[:, None, :]
        m = params.means * factors
    with np.errstate(over="ignore", invalid="ignore"):
        terms = ((z * z).sum(axis=2), -2.0 * (z * m[:, None, :]).sum(axis=2),
                 np.broadcast_to((m * m).sum(axis=1)[:, None], z.shape[:2]))
    near = np.broadcast_to(params.weights[:, None] > 0, z.shape[:2])
    for term in terms:
        term = np.where(near & ~np.isnan(term), term, np.inf)
        near = near & (term == term.min(axis=0))
    return near


def stats_from_resp(x: Array, resp: Array, centers: Array, covariance_type: str,
                    w: NDArray[np.float64] | None = None) -> SuffStats:
    """Statistics of a chunk for given (n, K) responsibilities (log-likelihood terms
    zero); w: the rows' weights, or None."""
    fam = family(covariance_type)
    c = centers.astype(x.dtype, copy=False)
    if w is not None:
        resp = resp * w.astype(resp.dtype, copy=False)[:, None]
    return SuffStats(
        nk=resp.sum(axis=0, dtype=np.float64),
        sk=(resp.T @ x).astype(np.float64),
        scatter=fam.second_moments(x, resp, c),
        loglik=0.0,
        objective=0.0,
        log_max_resp=0.0,
        n=int(x.shape[0]) if w is None else float(w.sum()),
        rows=int(x.shape[0]),
    )


def chunk_stats(x: Array, params: MixtureParams, hard: bool = False,
                w: NDArray[np.float64] | None = None,
                known: NDArray[np.int64] | None = None,
                entropy: bool = True) -> SuffStats:
    """E-step and sufficient statistics of one chunk under ``params``.

    The second moments are centred on the current means (the centre the M-step expects).
    w: the rows' weights (each row counts w_i times in every sum), or None.  known: each
    row's known component (-1: unknown), or None: a known row's responsibilities are
    one-hot at it, and its term of the log-likelihood is log pi_z N(x | z).  entropy
    False leaves log_max_resp 0 (the EM iterations do not need it; ICL does).
    """
    resp, lse, top, aux = _e_step(x, params, hard)
    if known is not None:
        lse, top = fix_known(resp, lse, top, known)
    if w is not None:
        resp *= w.astype(resp.dtype, copy=False)[None, :]
    sk, scatter = params.kernel(x.dtype).moments(x, resp, aux)
    if hard:
        # Exact sums of each component's points: equal bit for bit when no point changed
        # component, which is how run_em detects that hard EM has converged.
        sk = (resp @ x).astype(np.float64)
    log_max = None
    if entropy:
        with np.errstate(invalid="ignore"):
            log_max = top - lse  # NaN only where both are -inf (a far row: one-hot, log 1)
    if w is not None:  # a row of weight 0 adds nothing, even where its terms are -inf
        lse, top = (np.where(w > 0, v * w, 0.0) for v in (lse, top))
        if log_max is not None:
            log_max = np.where(w > 0, log_max * w, 0.0)
    loglik = float(lse.sum(dtype=np.float64))
    return SuffStats(
        nk=resp.sum(axis=1, dtype=np.float64),
        sk=sk,
        scatter=scatter,
        loglik=loglik,
        objective=float(top.sum(dtype=np.float64)) if hard else loglik,
        log_max_resp=0.0 if log_max is None else float(np.nansum(log_max, dtype=np.float64)),
        n=int(x.shape[0]) if w is None else float(w.sum()),
        rows=int(x.shape[0]),
    )


def fix_known(resp: Array, lse: Array, top: Array, known: NDArray[np.int64]
              ) -> tuple[Array, Array]:
    """Known rows one-hot in resp (K, n), in place; their log-density terms become
    log pi_z N(x | z) = log r_z + log p(x) (and so the maxima over k too)."""
    rows = np.flatnonzero(known >= 0)
    if not len(rows):
        return lse, top
    z = known[rows]
    with np.errstate(divide="ignore"):
        own = np.log(resp[z, rows].astype(np.float64)) + lse[rows]
    lse, top = lse.astype(np.float64), top.astype(np.float64)
    lse[rows] = top[rows] = own
    resp[:, rows] = 0.0
    resp[z, rows] = 1.0
    return lse, top


@dataclass
class Moments:
    """Row count, column means and centred sums of squares (Chan et al.'s pairwise update)."""

    n: float  # rows, or the sum of their weights
    mean: Array
    m2: Array

    def __add__(self, other: "Moments") -> "Moments":
        if self.n == 0:
            return other
        if other.n == 0:
            return self
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / n)
        m2 = self.m2 + other.m2 + delta * delta * (self.n * other.n / n)
        return Moments(n, mean, m2)

    @property
    def variance(self) -> Array:
        return self.m2 / (self.n if self.n > 0 else 1)


def chunk_moments(x: Array, w: NDArray[np.float64] | None = None) -> Moments:
    """Moments of a chunk; with weights w, each row counts w_i times."""
    x64 = x.astype(np.float64, copy=False)
    if w is None:
        mean = x64.mean(axis=0)
        return Moments(int(x.shape[0]), mean, ((x64 - mean) ** 2).sum(axis=0))
    total = float(w.sum())
    if total == 0:
        return Moments(0, np.zeros(x.shape[1]), np.zeros(x.shape[1]))
    mean = (w @ x64) / total
    return Moments(total, mean, w @ ((x64 - mean) ** 2))


@dataclass
class Predictions:
    """Outputs of the final pass for one chunk."""

    labels: NDArray[np.intp]
    resp: Array
    log_density: Array


def predict_chunk(x: Array, params: MixtureParams, shown: bool = True) -> Predictions:
    """Labels (arg-max responsibility), responsibilities (as the outputs give them,
    shown_resp; as EM takes them with shown False) and log-densities of a chunk."""
    resp, lse, _, _ = _e_step(x, params, hard=False)
    out = resp.T.copy()
    return Predictions(resp.argmax(axis=0), shown_resp(out) if shown else out, lse)


def shown_resp(resp: Array) -> Array:
    """Responsibilities as the outputs give them: those at EXP_FLOOR's clamp (about
    1e-304, at most kernels.HELD_RESP) as 0, in place, which is what they stand for (a
    share below 1e-300 of the row), not the clamp's value."""
    resp[resp <= HELD_RESP] = 0.0
    return resp
