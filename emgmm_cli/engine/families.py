"""The covariance families, as one table: one keyword-built row per family.

A row says everything that differs between families, and nothing else in the package
branches on a family's name:

- ``term``: its name, mclust's name and one line of description (emgmm_cli.vocab);
- ``shape(k, d)``: the shape of its covariances (the model file's, too: ``shape_text``);
- ``n_parameters(k, d)``: free parameters of the covariances (for BIC, AIC and ICL);
- ``statistic``: which per-component scatter its M-step reads, and so which E-step
  kernel computes it: MATRIX, the (K, D, D) scatter matrices (engine.kernels' whitened
  kernel), or DIAGONAL, their (K, D) diagonals (the expanded kernel);
- ``m_step(W, nk, previous)``: covariances from the scatter about the new means (the
  statistic, regularised: scatter_about_means) and the previous covariances (None at the
  first M-step), which the iterative M-steps start from;
- ``expand(cov, k, d)``: the covariances one per component, (K, D, D) for MATRIX and
  (K, D) variances for DIAGONAL, which is all the E-step, the sampler, the summaries and
  the checks need;
- ``univariate``: mclust's E and V, the models of one-dimensional data (there the 14
  models of several dimensions reduce to these two).
- ``equal``: what the components' own covariances share (VOLUME, SHAPE, ORIENTATION),
  which a model file's must keep (``unequal``); nothing for the families that store one
  covariance for all, or that leave each component free.

The 14 models of mclust (Celeux and Govaert 1995: Sigma_k = lambda_k D_k A_k D_k^T,
volume, orientation, shape), with scikit-learn's names for four of them:

=========  ==================  ================  ============================
model      covariances         statistic         M-step
=========  ==================  ================  ============================
EII        a number            DIAGONAL          closed form
VII        (K,)                DIAGONAL          closed form (``spherical``)
EEI        (D,)                DIAGONAL          closed form
VEI        (K, D)              DIAGONAL          iterative (fixed point)
EVI        (K, D)              DIAGONAL          closed form
VVI        (K, D)              DIAGONAL          closed form (``diag``)
EEE        (D, D)              MATRIX            closed form (``tied``)
VEE        (K, D, D)           MATRIX            iterative (fixed point)
EVE        (K, D, D)           MATRIX            iterative (MM, Browne and McNicholas 2014)
VVE        (K, D, D)           MATRIX            iterative (MM, Browne and McNicholas 2014)
EEV        (K, D, D)           MATRIX            closed form
VEV        (K, D, D)           MATRIX            iterative (fixed point on eigenvalues)
EVV        (K, D, D)           MATRIX            closed form
VVV        (K, D, D)           MATRIX            closed form (``full``)
E, V       a number, (K,)      DIAGONAL          closed form (one dimension only)
=========  ==================  ================  ============================

Covariances are stored whole (each component's matrix or diagonal), not as lambda, D and
A: every model is then read, sampled and drawn by the same code, and n_parameters counts
what the model leaves free (mclust's nVarParams).  docs/models.md derives each M-step.

Second moments are centred on each component's current mean m_k:
S_k = sum_i r_ik (x_i - m_k)(x_i - m_k)^T, which keeps the one-pass update sound; the
M-step corrects for the new mean with delta_k = mu_k - m_k.

A family can be registered at run time (``register``, and ``unregister``); every command
then accepts it: tests/test_families.py adds a toy family that way, from the test alone.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .. import vocab
from ..vocab import CovarianceTerm
from .errors import InvalidParameter, NotPositiveDefinite

Array = NDArray[np.floating]

#: Values of Family.statistic.
MATRIX = "matrix"
DIAGONAL = "diagonal"
#: A family's M-step: (W, nk, previous covariances or None) -> covariances (Family.m_step).
CovarianceStep = Callable[[Array, Array, Array | None], Array]


# --- M-steps: covariances from per-component scatter about the new means -------------------
# W: (K, D, D) scatter matrices or (K, D) their diagonals, about the new means and with
# n_k reg_covar added to the diagonal (scatter_about_means); nk: (K,) responsibility sums;
# previous: the covariances of the previous iteration (the family's shape), or None for
# the first M-step.  Celeux and Govaert (1995) write Sigma_k = lambda_k D_k A_k D_k^T
# (volume lambda_k, orientation D_k, shape A_k with |A_k| = 1); each model fixes which of
# the three vary with k (V), are equal (E) or are the identity (I).

#: The iterative M-steps (VEI, VEE, VEV, EVE, VVE) stop when an iteration lowers their
#: objective sum_k n_k log|Sigma_k| + tr(Sigma_k^-1 W_k) by less than this fraction of
#: 1 + its size, or after MSTEP_MAX_ITER iterations.  Each iteration lowers the objective,
#: and the first starts from the previous covariances, so a capped M-step still raises
#: the likelihood (a generalised EM step).
MSTEP_TOL = 1e-12
MSTEP_MAX_ITER = 1000
#: Without a floor (reg_covar 0), a covariance whose Cholesky factor has a diagonal entry
#: below this share of its largest is singular to rounding (_check_rank): its variance
#: there, below 1e-24 of the largest, is far below what float64 sums of the data resolve.
SINGULAR_TO_ROUNDING = 1e-12
#: The screening of the auto start (engine.starts) ranks candidates by where a few EM
#: iterations take them, not by exact M-steps: within screening_m_steps() an iterative
#: M-step takes at most SCREEN_MSTEP_ITER iterations (still each lowering its objective: a
#: generalised EM step), and the full runs go on from there with MSTEP_MAX_ITER.  Measured
#: (fit, seed 0, 2026-12-06): on 500 x 40 blobs EVE K = 4 took 1.8 s against 9.4 s, VVE
#: K = 3 3.7 s against 11.4 s, EVE K = 2 2.3 s against 8.0 s, the log-likelihoods within
#: 0.0075 (all converged); Old Faithful (EVE K = 3, 9, VVE 5, VEV 4) and iris (EVE 3, 8,
#: VVE 6, VEV 3, VEE 4, VEI 5) the same fits; standardised wine the same (VEV 4, VEE 5,
#: VEI 3) or better (EVE K = 3 +1.10, VVE K = 6 +6.47: another candidate ranked first).
SCREEN_MSTEP_ITER = 20
_MSTEP_ITER: ContextVar[int] = ContextVar("emgmm_mstep_iter", default=MSTEP_MAX_ITER)


@contextmanager
def screening_m_steps() -> Iterator[None]:
    """Iterative M-steps of SCREEN_MSTEP_ITER iterations at most, within the block."""
    token = _MSTEP_ITER.set(SCREEN_MSTEP_ITER)
    try:
        yield
    finally:
        _MSTEP_ITER.reset(token)


def _max_iter() -> int:
    """The iterations an iterative M-step may take here (MSTEP_MAX_ITER, or
    SCREEN_MSTEP_ITER within screening_m_steps)."""
    return _MSTEP_ITER.get()

#: EVE's and VVE's orientation takes majorisation steps while each lowers the objective by
#: at least this fraction of 1 + its size, then Newton steps to MSTEP_TOL
#: (_common_orientation), from 3 to 32 columns (NEWTON_COLUMNS; a Newton step solves for
#: the D (D - 1) / 2 rotations: 496 at 32); outside, majorisation steps alone: with 2
#: columns, one angle, they are cheaper (select -c EVE,VVE on Old Faithful 0.6 s against
#: 1.0 s with Newton steps), and at 60 (n < D) Newton steps cost more than they save.
#: Beyond 32 the orientation takes quasi-Newton steps instead (_quasi_newton).
#: Every M-step of fits of Old Faithful, iris (raw, K = 2..9; standardised, 3, 5, 8) and
#: standardised wine (13 columns, K = 2..9), EVE and VVE, n_init 2, seed 0 (7,102
#: M-steps), solved again by majorisation steps alone (to MSTEP_TOL in a run's first
#: M-step, MSTEP_WARM_TOL after): the same objective or a lower one in all but 8 (another
#: local minimum, at most 3.4% higher), lower by more than 1e-6 of it in 2,267; 8.8 s
#: against 54.1 s.  Switching at 1e-2, 1e-3, 1e-6 or 1e-8 was no faster (2026-12-04).
NEWTON_FROM = 1e-4
NEWTON_COLUMNS = (3, 32)
#: Majorisation steps alone (outside NEWTON_COLUMNS) from the previous
#: covariances (every M-step of a run but the first) stop at mclust's inner tolerance
#: (emControl()$tol[2], the square root of the double precision) instead of MSTEP_TOL.
MSTEP_WARM_TOL = 1.49e-8
#: A Newton step is halved at most this many times in search of a lower objective.
LINE_SEARCH_HALVINGS = 30
#: Beyond NEWTON_COLUMNS the orientation takes quasi-Newton steps (_quasi_newton): L-BFGS
#: with this many of its last steps, its first guess at the Hessian that Hessian's
#: diagonal, its entries at least QN_FLOOR of the largest.  Measured on 500 points of 4
#: blobs in 40 columns (emgmm make-blobs -n 500 --n-centers 4 --dim 40 --seed 0), fit
#: seed 0, K = 2..9, against majorisation steps accelerated as SQUAREM accelerates EM:
#: 62 s against 304 s for the 16 fits of EVE and VVE, higher in 11 of the 14 that were
#: not degenerate (by 0.01 to 72), lower in 3 (by 0.011, 33 and 128: another maximum);
#: with K = 4, EVE and VVE at mclust's optimum where the majorisation ended 1.4 and 1.1
#: below it (2026-12-06; docs/models.md).
QN_MEMORY = 10
QN_FLOOR = 1e-8
#: Where the Newton step's Hessian is not positive definite, mu I is added to it: a tenth
#: of the last step's mu, or DAMPING times the mean size of its diagonal, then ten times
#: that, up to DAMPINGS tries (a Hessian that none makes positive definite, not finite,
#: ends the M-step).
DAMPING = 1e-6
DAMPINGS = 12

#: What a family holds equal across components that keep covariances of their own
#: (Family.equal): Celeux and Govaert's volume |Sigma_k|^(1/D), shape (the eigenvalues of
#: Sigma_k over its volume; a diagonal family's variances over theirs, column by column)
#: and orientation (the eigenvectors).
VOLUME, SHAPE, ORIENTATION = "volume", "shape", "orientation"
#: Covariances keep their family's equalities to this relative tolerance (Family.unequal),
#: beyond what rounding moves each eigenvalue (EIGEN_ROUNDING D times the largest):
#: every M-step builds them exactly equal, so a fit's differ by rounding alone (at most
#: 2e-10 in 192 fits of the eight families that share something, K = 2, 3, 5, 8, on Old
#: Faithful, iris, wine raw and standardised, 8 columns of breast cancer and 3 columns
#: spread over 1e-4 to 1e6, measured once, 2026-12-05); a model file edited by hand or
#: written by another program may not keep them.
EQUAL_RTOL = 1e-6
EIGEN_ROUNDING = 16 * float(np.finfo(np.float64).eps)


def scatter_about_means(scatter: Array, nk: Array, delta: Array, reg: float) -> Array:
    """W_k = S_k - n_k delta_k delta_k^T + n_k reg I: the scatter about the new means
    (or its diagonal), with reg_covar added as if each point carried it, so that every
    model keeps its constraint and VVV gets W_k / n_k + reg I."""
    if scatter.ndim == 3:
        w = scatter - nk[:, None, None] * (delta[:, :, None] * delta[:, None, :])
        d = w.shape[-1]
        diagonal = w.reshape(len(w), d * d)[:, ::d + 1]  # a view: w is a fresh array
        diagonal += nk[:, None] * reg
        return w
    return scatter - nk[:, None] * delta * delta + nk[:, None] * reg


def _det_root(m: Array, stacked: int = 1) -> Array:
    """|M_k|^(1/D) of each matrix of a (K, D, D) stack, or the geometric mean of each
    row of a (K, D) stack of diagonals; stacked: the axes before the matrices' or the
    diagonals' (2 for the (C, K, ...) of the stacked M-step)."""
    if m.ndim == stacked + 2:
        return np.exp(np.linalg.slogdet(m)[1] / m.shape[-1])
    return np.exp(np.log(m).mean(axis=-1))


def _scaled(m: Array, s: Array) -> Array:
    """Each entry of a stack (K, ...) times its own number s_k (also (C, K, ...) by
    (C, K): the stacked M-step, or (C, ...) by (C,))."""
    return m * s.reshape(s.shape + (1,) * (m.ndim - s.ndim))


def _converged(before: float, after: float, tol: float = MSTEP_TOL) -> bool:
    return not before - after > tol * (1.0 + abs(after))


# The M-steps from here to _STACKED_M_STEPS also take a stack of C mixtures' statistics at
# once (W (C, K, ...), nk (C, K), previous (C, K, ...): engine.stacked), one mixture per
# entry of the leading axis; the component axis is nk's last.  Family.stacks says which
# M-steps do.


def m_step_vvv(w: Array, nk: Array, previous: Array | None) -> Array:
    """lambda_k D_k A_k D_k^T all free: W_k / n_k (or the diagonals: VVI)."""
    return _scaled(w, 1.0 / nk)


def m_step_eee(w: Array, nk: Array, previous: Array | None) -> Array:
    """One covariance for all: sum_k W_k / n (or the diagonal: EEI)."""
    total = nk.sum(axis=-1)
    pooled = w.sum(axis=nk.ndim - 1)
    return pooled / total.reshape(total.shape + (1,) * (pooled.ndim - total.ndim))


def m_step_vii(w: Array, nk: Array, previous: Array | None) -> Array:
    """lambda_k I: tr(W_k) / (D n_k).  w: (K, D) diagonals."""
    return w.sum(axis=-1) / (nk * w.shape[-1])


def m_step_eii(w: Array, nk: Array, previous: Array | None) -> Array:
    """lambda I: tr(sum_k W_k) / (D n), a number.  w: (K, D) diagonals."""
    return np.asarray(w.sum(axis=(-2, -1)) / (nk.sum(axis=-1) * w.shape[-1]))


def _eigen(w: Array) -> tuple[Array, Array]:
    """Eigenvalues (K, D), ascending, and eigenvectors (K, D, D) of each W_k (of a stack
    of mixtures too: (C, K, ...))."""
    values, vectors = np.linalg.eigh(w)
    return values, vectors


def _rotate(values: Array, vectors: Array) -> Array:
    """L_k diag(values_k) L_k^T."""
    return np.einsum("...kij,...kj,...klj->...kil", vectors, values, vectors)


def m_step_evv(w: Array, nk: Array, previous: Array | None) -> Array:
    """lambda C_k, |C_k| = 1 (EVV; EVI with diagonals): C_k = W_k / |W_k|^(1/D),
    lambda = sum_k |W_k|^(1/D) / n."""
    root = _det_root(w, nk.ndim)
    return _scaled(w, (root.sum(axis=-1, keepdims=True) / nk.sum(axis=-1, keepdims=True))
                   / root)


def m_step_eev(w: Array, nk: Array, previous: Array | None) -> Array:
    """lambda D_k A D_k^T: D_k the eigenvectors of W_k, lambda A = sum_k Omega_k / n (the
    eigenvalues, both in ascending order), a closed form (Celeux and Govaert 1995)."""
    values, vectors = _eigen(w)
    shared = values.sum(axis=-2, keepdims=True) / nk.sum(axis=-1)[..., None, None]
    return _rotate(np.broadcast_to(shared, values.shape), vectors)


def _shapes_of(covs: Array) -> Array:
    """Each of a stack of covariances (C, D, D) or diagonals (C, D) (or the (K, ...) of one
    mixture) scaled to determinant 1."""
    return _scaled(covs, 1.0 / _det_root(covs))


def _shared_shape(w: Array, nk: Array, shape: Array) -> tuple[Array, Array]:
    """(lambda (C, K), S (C, ...)) of Sigma_k = lambda_k S with |S| = 1 shared (VEE; VEI
    with (K, D) diagonals), for each of a stack of C mixtures (W (C, K, ...), nk (C, K))
    by alternating the two closed-form conditional maxima from S = shape: lambda_k =
    tr(W_k S^-1) / (D n_k), then S = M / |M|^(1/D) with M = sum_k W_k / lambda_k (Celeux
    and Govaert 1995).  Each step lowers a mixture's objective; each mixture stops when
    its own has settled (_converged), as it would alone, while the others go on."""
    d = w.shape[-1]
    diagonal = w.ndim == 3
    shape = shape.copy()
    before = np.full(len(nk), np.inf)
    going = np.ones(len(nk), dtype=bool)
    for _ in range(_max_iter()):
        # (a mixture that has stopped keeps its shape, and so gets its lambda again)
        if diagonal:
            traces = (w / shape[:, None, :]).sum(axis=2)
        else:
            traces = np.einsum("ckij,cij->ck", w, np.linalg.inv(shape))
        lam = traces / (d * nk)
        after = d * np.einsum("ck,ck->c", nk, np.log(lam))  # + D n, at the maximum
        going &= before - after > MSTEP_TOL * (1.0 + np.abs(after))
        if not going.any():
            break
        before = after
        shape[going] = _shapes_of(_scaled(w, 1.0 / lam).sum(axis=1))[going]
    return lam, shape


def _start_shape(w: Array, previous: Array | None) -> Array:
    """Each mixture's shared shape to start from (a stack: W (C, K, ...)): the previous
    one (component 0's covariance, scaled to determinant 1), or that of the pooled
    scatter."""
    return _shapes_of(w.sum(axis=1) if previous is None else previous[:, 0])


def _one_or_stack(m_step: CovarianceStep) -> CovarianceStep:
    """An M-step written for a stack of mixtures (W (C, K, ...), nk (C, K), previous
    (C, K, ...)) that also takes one mixture (W (K, ...), nk (K,)) as a stack of one."""

    @functools.wraps(m_step)
    def either(w: Array, nk: Array, previous: Array | None) -> Array:
        if nk.ndim == 2:
            return m_step(w, nk, previous)
        return m_step(w[None], nk[None], None if previous is None else previous[None])[0]

    return either


@_one_or_stack
def m_step_vee(w: Array, nk: Array, previous: Array | None) -> Array:
    """lambda_k C, |C| = 1 (VEE; VEI with diagonals): iterative (_shared_shape)."""
    lam, shape = _shared_shape(w, nk, _start_shape(w, previous))
    return _scaled(np.broadcast_to(shape[:, None], w.shape), lam)


@_one_or_stack
def m_step_vev(w: Array, nk: Array, previous: Array | None) -> Array:
    """lambda_k D_k A D_k^T: D_k the eigenvectors of W_k; lambda_k and A as VEI's on the
    eigenvalues Omega_k (iterative, _shared_shape)."""
    values, vectors = _eigen(w)
    start = (values.sum(axis=1) if previous is None
             else np.linalg.eigvalsh(previous[:, 0]))
    lam, shape = _shared_shape(values, nk, _shapes_of(start))
    return _rotate(lam[:, :, None] * shape[:, None], vectors)


#: The M-steps that take a stack of mixtures (above).
_STACKED_M_STEPS = (m_step_vvv, m_step_eee, m_step_vii, m_step_eii, m_step_evv, m_step_eev,
                    m_step_vee, m_step_vev)


def _polar(f: Array) -> Array:
    """The orthogonal matrix nearest f: U V^T from f = U S V^T (it maximises tr(f^T D))."""
    u, _, vt = np.linalg.svd(f)
    return u @ vt


#: Diagonals b_k = diag(D^T W_k D) and weights n_k -> (Delta_k, the objective): the
#: conditional maximum of a common-orientation model given D (_eve_diagonal, _vve_diagonal).
Diagonal = Callable[[Array, Array], tuple[Array, float]]
#: b and n -> the first and second derivatives of that objective in b: (u (K, D), the
#: Hessian's blocks within each component (K, D, D), and c where the Hessian also has
#: c u u^T across all of them).
Terms = Callable[[Array, Array], tuple[Array, Array, float]]


def _common_orientation(w: Array, nk: Array, previous: Array | None,
                        diagonal: Diagonal, terms: Terms) -> Array:
    """D diag(delta_k) D^T with one orientation D for all components (EVE, VVE).

    Given D, delta_k comes from b_k = diag(D^T W_k D) in closed form (``diagonal``, which
    returns delta and the objective).  D starts from the eigenvectors of the previous
    covariances scaled to volume 1 (their common orientation); in a run's first M-step,
    from those of the pooled scatter, of the scatters scaled to volume 1, or of one W_k,
    whichever gives the lowest objective.  It takes Browne and McNicholas's (2014)
    majorisation steps (_majorise) while each lowers the objective by at least NEWTON_FROM
    of 1 + its size: they never raise it, and lead where they lead from the start.  Their
    convergence is linear and slow near the end, so from there (with NEWTON_COLUMNS
    columns) D takes Newton steps on the orthogonal group instead (_newton_step), each
    halved until it lowers the objective (a majorisation step where none does), until the
    step's expected decrease is below MSTEP_TOL of 1 + the objective; with more columns,
    quasi-Newton steps from the start (_quasi_newton).
    """
    # K + 2 first starts: from the pooled scatter's alone, the first M-steps of small
    # components took 20 ms each on standardised wine, a third of VVE's time; select -c
    # VVE there 4.4 -> 3.3 s of CPU, EVE's the same; over the EVE and VVE cells of iris
    # and wine (raw, standardised), K = 1..9, no cell that is not degenerate ended lower,
    # iris VVE K = 6 0.51 higher (2026-12-04)
    starts = ([w.sum(axis=0), _volume_one_sum(w), *w] if previous is None
              else [_volume_one_sum(previous)])
    ends = [(orient, *_profiled(w, orient, nk, diagonal))
            for orient in (np.linalg.eigh(start)[1] for start in starts)]
    orient, delta, before = min(ends, key=lambda end: end[2])  # the first of equals
    d = orient.shape[0]
    # without Newton steps (majorisation steps with 2 columns, quasi-Newton ones beyond
    # NEWTON_COLUMNS), the steps from a previous orientation stop at mclust's inner
    # tolerance
    steps = NEWTON_COLUMNS[0] <= d <= NEWTON_COLUMNS[1]
    last = MSTEP_TOL if steps or previous is None else MSTEP_WARM_TOL
    if d > NEWTON_COLUMNS[1]:
        orient, delta = _quasi_newton(w, nk, orient, delta, before, diagonal, terms, last)
        return _rotate(delta, np.broadcast_to(orient, w.shape))
    alpha = np.linalg.eigvalsh(w)[:, -1]  # the majorisation's bounds (_majorise)
    newton, mu = False, 0.0
    for _ in range(_max_iter()):
        if newton:
            step, decrease, mu = _newton_step(w, orient, nk, terms, mu)
            if not decrease > MSTEP_TOL * (1.0 + abs(before)):
                break
            found = _line_search(w, orient, nk, diagonal, step, before)
            if found is not None:
                orient, delta, before, _ = found
                continue
        orient = _majorise(w, alpha, orient, delta)
        delta, after = _profiled(w, orient, nk, diagonal)
        done = _converged(before, after, last)
        newton = newton or (steps and _converged(before, after, NEWTON_FROM))
        before = after
        if done:
            break
    return _rotate(delta, np.broadcast_to(orient, w.shape))


def _quasi_newton(w: Array, nk: Array, orient: Array, delta: Array, before: float,
                  diagonal: Diagonal, terms: Terms, tol: float) -> tuple[Array, Array]:
    """Quasi-Newton steps from D, where a Newton step would solve for too many rotations:
    L-BFGS (Nocedal and Wright, algorithm 7.4) in the coordinates A_pq of D exp(A) that
    the Newton steps take, its first guess at the inverse Hessian the inverse of that
    Hessian's diagonal (_gradient_and_curvature), its last QN_MEMORY steps and their
    changes of gradient (each in the coordinates at its own D, as the body of a rotating
    frame measures them), each step moved along by _line_search.  A direction that does
    not go down starts the memory afresh.  It stops when a step lowers the objective by
    less than tol of 1 + its size, where no halving of the step lowers it, or after
    _max_iter() steps: (D, Delta_k).  The majorisation steps lower the objective by less,
    the more its curvature differs from one rotation to another (components with about
    as many rows as columns); this step measures those curvatures."""
    grad, curvature = _gradient_and_curvature(w, orient, nk, terms)
    pairs: list[tuple[Array, Array]] = []
    for _ in range(_max_iter()):
        step = _lbfgs_direction(grad, curvature, pairs)
        if not float(grad @ step) < 0.0:
            pairs.clear()
            step = -grad / curvature
        found = _line_search(w, orient, nk, diagonal, step, before)
        if found is None:
            break
        orient, delta, after, taken = found
        new_grad, curvature = _gradient_and_curvature(w, orient, nk, terms)
        change = new_grad - grad
        if float(taken @ change) > 0.0:
            pairs = [*pairs, (taken, change)][-QN_MEMORY:]
        grad, done, before = new_grad, _converged(before, after, tol), after
        if done:
            break
    return orient, delta


def _lbfgs_direction(grad: Array, curvature: Array, pairs: list[tuple[Array, Array]]
                     ) -> Array:
    """-H grad, H the L-BFGS inverse Hessian of the (step, change of gradient) pairs, its
    start diag(1 / curvature) scaled as Nocedal and Wright's (7.20) scales the identity."""
    v = grad.copy()
    alphas = []
    for s, y in reversed(pairs):
        a = float(s @ v) / float(y @ s)
        alphas.append(a)
        v -= a * y
    v /= curvature
    if pairs:
        s, y = pairs[-1]
        v *= float(s @ y) / float(y @ (y / curvature))
    for (s, y), a in zip(pairs, reversed(alphas)):
        v += s * (a - float(y @ v) / float(y @ s))
    return -v


def _volume_one_sum(m: Array) -> Array:
    """The sum of a stack of matrices (K, D, D), each scaled to determinant 1."""
    return _shapes_of(m).sum(axis=0)


def _profiled(w: Array, orient: Array, nk: Array, diagonal: Diagonal) -> tuple[Array, float]:
    """(Delta_k, the objective) at orientation D: diagonal's of b_k = diag(D^T W_k D)."""
    return diagonal((orient * (w @ orient)).sum(axis=1), nk)


def _majorise(w: Array, alpha: Array, orient: Array, delta: Array) -> Array:
    """Browne and McNicholas's two majorisation steps from D: with alpha_k the largest
    eigenvalue of W_k, F = sum_k (alpha_k I - W_k) D diag(1 / delta_k) and D = U V^T from
    F = U S V^T, which never raises sum_k tr(W_k D diag(1/delta_k) D^T); then, with beta_k
    the largest of 1 / delta_k, F = sum_k W_k D (beta_k I - diag(1 / delta_k)), which helps
    where the first bound is loose."""
    inv = 1.0 / delta
    wd = w @ orient  # W_k D, (K, D, D)
    orient = _polar(orient * (alpha @ inv) - np.einsum("kij,kj->ij", wd, inv))
    wd = w @ orient
    beta = inv.max(axis=1)
    return _polar(np.einsum("k,kij->ij", beta, wd) - np.einsum("kij,kj->ij", wd, inv))


@functools.lru_cache(maxsize=64)
def _rotation_pairs(d: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """The (p, q), p < q, of the D (D - 1) / 2 plane rotations that span the tangent space
    of the orthogonal group: the coordinates of a Newton step."""
    p, q = np.triu_indices(d, 1)
    return p, q


@functools.lru_cache(maxsize=64)
def _curvature_entries(d: int) -> tuple[NDArray[np.intp], NDArray[np.intp], Array,
                                        NDArray[np.intp], NDArray[np.intp], Array]:
    """Where the second-order part of the Newton step's Hessian reads C and R
    (_newton_step): for the pairs i = (p, q) and j, the four signed entries T(p, q, p', q')
    - T(q, p, p', q') - T(p, q, q', p') + T(q, p, q', p') of T_abce = [b = c] C_ea -
    [a = e] R_abc; as (the flat (i, j), the flat (e, a) of C, the sign) where b = c, and
    (the flat (i, j), the flat (a, b, c) of R, minus the sign) where a = e.  Of the
    R (R - 1) / 2 entries of the Hessian, only O(R D) have one."""
    p, q = _rotation_pairs(d)
    r = len(p)
    pi, qi = np.repeat(p, r), np.repeat(q, r)
    pj, qj = np.tile(p, r), np.tile(q, r)
    at = np.arange(r * r)
    c_at, c_from, c_sign, r_at, r_from, r_sign = [], [], [], [], [], []
    for sign, (a, b, c, e) in ((1.0, (pi, qi, pj, qj)), (-1.0, (qi, pi, pj, qj)),
                               (-1.0, (pi, qi, qj, pj)), (1.0, (qi, pi, qj, pj))):
        on = b == c
        c_at.append(at[on])
        c_from.append((e * d + a)[on])
        c_sign.append(np.full(int(on.sum()), sign))
        on = a == e
        r_at.append(at[on])
        r_from.append(((a * d + b) * d + c)[on])
        r_sign.append(np.full(int(on.sum()), -sign))
    return (np.concatenate(c_at), np.concatenate(c_from), np.concatenate(c_sign),
            np.concatenate(r_at), np.concatenate(r_from), np.concatenate(r_sign))


def _newton_system(w: Array, orient: Array, nk: Array, terms: Terms) -> tuple[Array, Array]:
    """The gradient and Hessian of the objective at D exp(A) in the entries A_pq (p < q,
    _rotation_pairs) of a skew-symmetric A, at A = 0.

    With M_k = D^T W_k D, b_kj = (M_k)_jj and u, H the objective's derivatives in b
    (terms): to second order in A, b_kj moves by 2 sum_i (M_k)_ij A_ij (the Jacobian J:
    -2 (M_k)_pq on b_kp and 2 (M_k)_pq on b_kq) plus (A^2 M_k - A M_k A)_jj, so the
    gradient is J^T u and the Hessian J^T H J plus that of sum_kj u_kj (A^2 M_k -
    A M_k A)_jj, which is S + S^T with S read from C = sum_k M_k diag(u_k) and R_abc =
    sum_k u_ka (M_k)_bc (_curvature_entries).
    """
    p, q = _rotation_pairs(orient.shape[0])
    m, u, blocks, outer, grad = _first_order(w, orient, nk, terms)
    k, d, r = m.shape[0], m.shape[1], len(p)
    mpq = m[:, p, q]
    jac = np.zeros((k, d, r))
    jac[:, p, np.arange(r)] = -2.0 * mpq
    jac[:, q, np.arange(r)] = 2.0 * mpq
    hess = jac.reshape(k * d, r).T @ (blocks @ jac).reshape(k * d, r)
    c_at, c_from, c_sign, r_at, r_from, r_sign = _curvature_entries(d)
    c = np.einsum("kea,ka->ea", m, u).reshape(-1)
    rr = np.einsum("ka,kbc->abc", u, m).reshape(-1)
    s = (np.bincount(c_at, weights=c_sign * c[c_from], minlength=r * r)
         + np.bincount(r_at, weights=r_sign * rr[r_from], minlength=r * r)).reshape(r, r)
    hess += s + s.T + outer * np.outer(grad, grad)
    return grad, hess


def _first_order(w: Array, orient: Array, nk: Array, terms: Terms
                 ) -> tuple[Array, Array, Array, float, Array]:
    """M_k = D^T W_k D, terms' u, blocks and c at b_k = diag(M_k), and the gradient in the
    A_pq (_newton_system)."""
    p, q = _rotation_pairs(orient.shape[0])
    m = orient.T @ w @ orient
    u, blocks, outer = terms(np.einsum("kjj->kj", m), nk)
    return m, u, blocks, outer, 2.0 * (m[:, p, q] * (u[:, q] - u[:, p])).sum(axis=0)


def _gradient_and_curvature(w: Array, orient: Array, nk: Array, terms: Terms
                            ) -> tuple[Array, Array]:
    """The gradient in the A_pq and the magnitudes of the Hessian's diagonal
    (_newton_system's, each entry's own O(K) terms: the rotation in the plane (p, q)
    alone), at least QN_FLOOR of the largest: _quasi_newton's first guess at the
    curvature."""
    p, q = _rotation_pairs(orient.shape[0])
    m, u, blocks, outer, grad = _first_order(w, orient, nk, terms)
    b = np.einsum("kjj->kj", m)
    mpq = m[:, p, q]
    hd = (2.0 * ((u[:, q] - u[:, p]) * (b[:, p] - b[:, q])).sum(axis=0)
          + 4.0 * (mpq * mpq * (blocks[:, p, p] + blocks[:, q, q]
                                - 2.0 * blocks[:, p, q])).sum(axis=0)
          + outer * grad * grad)
    size = np.abs(hd)
    largest = float(size.max()) if size.size else 0.0
    if not largest > 0.0 or not math.isfinite(largest):
        return grad, np.ones_like(grad)
    return grad, np.maximum(size, QN_FLOOR * largest)


def _newton_step(w: Array, orient: Array, nk: Array, terms: Terms, mu: float
                 ) -> tuple[Array, float, float]:
    """The Newton step from D (_newton_system), the decrease of the objective it expects
    (-g.step / 2), and mu: where the Hessian is not positive definite (away from a
    minimum, or along directions where it is flat), mu I is added to it (DAMPING), and
    the step still goes down, shorter; the next step starts from a tenth of that mu."""
    grad, hess = _newton_system(w, orient, nk, terms)
    r = len(grad)
    scale = float(np.abs(np.diagonal(hess)).mean()) or 1.0
    mu = 0.1 * mu if mu > DAMPING * scale else 0.0
    for _ in range(DAMPINGS):
        solved = _cholesky_solve(hess + mu * np.eye(r) if mu else hess, grad)
        if solved is None:
            mu = DAMPING * scale if not mu else 10.0 * mu
            continue
        step = -solved
        return step, -0.5 * float(grad @ step), mu
    return np.zeros(r), 0.0, mu


def _cholesky_solve(matrix: Array, rhs: Array) -> Array | None:
    """matrix^-1 rhs from the Cholesky factor of a symmetric float64 matrix, or None where
    the factor does not exist (not positive definite).  LAPACK's potrf and potrs, as
    scipy.linalg's cho_factor and cho_solve call them (the same numbers), without their
    wrappers: select -c EVE,VVE on iris, jobs 1, 1.34 -> 1.20 s (2026-12-05)."""
    from scipy.linalg.lapack import dpotrf, dpotrs  # only EVE and VVE need scipy here

    factor, info = dpotrf(matrix, lower=0, clean=0)
    if info != 0:
        return None
    solved, info = dpotrs(factor, rhs, lower=0)
    return solved if info == 0 else None


def _line_search(w: Array, orient: Array, nk: Array, diagonal: Diagonal, step: Array,
                 before: float) -> tuple[Array, Array, float, Array] | None:
    """D moved along the step (the Cayley transform of its A, orthogonal and equal to
    exp(A) to second order), halved until the objective is lower than before: (D, Delta_k,
    the objective, the step taken), or None where LINE_SEARCH_HALVINGS do not find one."""
    d = orient.shape[0]
    p, q = _rotation_pairs(d)
    eye = np.eye(d)
    half = np.zeros((d, d))  # A / 2, A the step's skew-symmetric matrix
    half[p, q] = 0.5 * step
    half[q, p] = -0.5 * step
    for halvings in range(LINE_SEARCH_HALVINGS):
        moved = orient @ np.linalg.solve(eye - half, eye + half)
        delta, after = _profiled(w, moved, nk, diagonal)
        if after < before:
            return moved, delta, after, step * 0.5 ** halvings
        half *= 0.5
    return None


def _eve_diagonal(b: Array, nk: Array) -> tuple[Array, float]:
    """lambda A_k from b_k = diag(D^T W_k D): A_k = b_k / |b_k|^(1/D), lambda =
    sum_k |b_k|^(1/D) / n; objective D n log lambda (+ D n)."""
    root = _det_root(b)
    lam = root.sum() / nk.sum()
    return b * (lam / root)[:, None], b.shape[1] * float(nk.sum()) * float(np.log(lam))


def _eve_terms(b: Array, nk: Array) -> tuple[Array, Array, float]:
    """The derivatives of EVE's objective D n log(S / n) in b, S = sum_k r_k with r_k =
    |b_k|^(1/D): dr_k/db_kj = r_k / (D b_kj), and d2r_k/db_kj db_kl = r_k / (D^2 b_kj b_kl)
    less r_k / (D b_kj^2) where j = l; times D n / S, less (D n / S^2) dS dS^T."""
    d = b.shape[1]
    root = _det_root(b)
    scale = d * float(nk.sum()) / float(root.sum())
    u = scale * root[:, None] / (d * b)
    blocks = (scale / (d * d)) * root[:, None, None] / (b[:, :, None] * b[:, None, :])
    blocks[:, np.arange(d), np.arange(d)] -= scale * root[:, None] / (d * b * b)
    return u, blocks, -1.0 / (d * float(nk.sum()))


def _vve_diagonal(b: Array, nk: Array) -> tuple[Array, float]:
    """lambda_k A_k = b_k / n_k; objective sum_k n_k log|b_k / n_k| (+ D n)."""
    delta = b / nk[:, None]
    return delta, float(nk @ np.log(delta).sum(axis=1))


def _vve_terms(b: Array, nk: Array) -> tuple[Array, Array, float]:
    """The derivatives of VVE's objective sum_kj n_k log b_kj (+ a constant) in b."""
    d = b.shape[1]
    blocks = np.zeros(b.shape + (d,))
    blocks[:, np.arange(d), np.arange(d)] = -nk[:, None] / (b * b)
    return nk[:, None] / b, blocks, 0.0


def m_step_eve(w: Array, nk: Array, previous: Array | None) -> Array:
    """lambda D A_k D^T (iterative: _common_orientation)."""
    return _common_orientation(w, nk, previous, _eve_diagonal, _eve_terms)


def m_step_vve(w: Array, nk: Array, previous: Array | None) -> Array:
    """lambda_k D A_k D^T (iterative: _common_orientation)."""
    return _common_orientation(w, nk, previous, _vve_diagonal, _vve_terms)


# --- per-component forms ---------------------------------------------------------------------


def own_matrices(cov: Array, k: int, d: int) -> Array:
    return np.asarray(cov, dtype=np.float64).reshape(k, d, d)


# The shared forms are copies, not np.broadcast_to's views: a copy costs a quarter of
# broadcast_to's call on small data, and factorise's Cholesky reads it without copying.
def shared_matrix(cov: Array, k: int, d: int) -> Array:
    return np.asarray(cov, dtype=np.float64).reshape(1, d, d).repeat(k, 0)


def own_diagonals(cov: Array, k: int, d: int) -> Array:
    return np.asarray(cov, dtype=np.float64).reshape(k, d)


def own_variances(cov: Array, k: int, d: int) -> Array:
    return np.asarray(cov, dtype=np.float64).reshape(k, 1).repeat(d, 1)


def factorise(per: Array, statistic: str, reg_covar: float | None, iteration: int | None
              ) -> tuple[Array, Array, Array | None]:
    """(precision factors, log|U_k|, covariance factors) of covariances one per component
    (Family.expand's form), raising NotPositiveDefinite.

    MATRIX: upper-triangular U_k with U_k U_k^T = Sigma_k^-1, shape (K, D, D), and the
    lower Cholesky factors L_k of the covariances (Sigma_k = L_k L_k^T), which the
    whitened kernel reads.  DIAGONAL: U_k = 1/sqrt(variances), shape (K, D), and None.
    log|U_k| = -0.5 log|Sigma_k|: since |Sigma^-1| = |U|^2, the sign flips here, once.
    reg_covar: the fit's floor, whose 0 also checks the rank (_check_rank); None: none to
    check against (parameters remade from checked ones: MixtureParams.build).
    """
    floor = 0.0 if reg_covar is None else reg_covar  # as an error says it
    if statistic == DIAGONAL:
        if not (per > 0).all():
            bad = np.flatnonzero(~(per > 0).all(axis=1))
            raise NotPositiveDefinite(int(bad[0]), iteration, floor)
        factors = 1.0 / np.sqrt(per)
        return factors, np.log(factors).sum(axis=1), None
    try:
        lower = np.linalg.cholesky(per)  # every component at once
    except np.linalg.LinAlgError:
        lower = None
    # the sum is finite exactly when every entry is (one reduction, not a mask)
    if lower is None or not np.isfinite(lower.sum()):
        raise NotPositiveDefinite(_first_not_pd(per), iteration, floor)
    if reg_covar == 0.0:
        _check_rank(lower, iteration)
    # cov = L L^T  =>  inv(cov) = L^-T L^-1 = U U^T with U = L^-T (upper triangular)
    factors = np.where(_below_diagonal(per.shape[-1]), 0.0,
                       np.linalg.inv(lower).transpose(0, 2, 1))  # np.triu's, its mask kept
    log_det = np.log(np.diagonal(factors, axis1=1, axis2=2)).sum(axis=1)
    return factors, log_det, lower


@functools.lru_cache(maxsize=64)
def _below_diagonal(d: int) -> NDArray[np.bool_]:
    """The entries below the diagonal of a D x D matrix (np.triu zeroes them: it builds
    this mask on every call, a quarter of a small factorisation's time)."""
    mask = np.tri(d, d, -1, dtype=bool)
    mask.setflags(write=False)
    return mask


def _check_rank(lower: Array, iteration: int | None) -> None:
    """Without a floor, a covariance singular to rounding (its Cholesky factor's smallest
    diagonal entry below SINGULAR_TO_ROUNDING of its largest: along a constant column, VVE
    left variances of 1e-29 beside ones of 10, where the other families' factorisations
    fail) is not positive definite: its log-likelihood is rounding, not data."""
    diag = np.diagonal(lower, axis1=1, axis2=2)
    bad = diag.min(axis=1) < SINGULAR_TO_ROUNDING * diag.max(axis=1)
    if bad.any():
        raise NotPositiveDefinite(int(np.argmax(bad)), iteration, 0.0)


@contextmanager
def not_positive_definite(w: Array, statistic: str, iteration: int | None,
                          reg_covar: float) -> Iterator[None]:
    """An M-step from the scatters w (with reg_covar) whose linear algebra fails (an SVD
    that does not converge, a singular matrix: the iterative M-steps, on scatters that are
    not positive definite to rounding) raises NotPositiveDefinite, as the factorisation
    of its covariances would, for the first scatter that is not."""
    try:
        yield
    except np.linalg.LinAlgError:
        bad = (_first_not_pd(w) if statistic == MATRIX
               else int(np.argmin((w > 0).all(axis=-1))))
        raise NotPositiveDefinite(bad, iteration, reg_covar) from None


def _first_not_pd(matrices: Array) -> int:
    """The first of a stack of matrices that has no finite Cholesky factor."""
    for j, c in enumerate(matrices):
        try:
            if np.all(np.isfinite(np.linalg.cholesky(c))):
                continue
        except np.linalg.LinAlgError:
            pass
        return j
    return 0


def _turned(per: Array) -> NDArray[np.bool_]:
    """Which covariances are not diagonal in the eigenvectors of the first, beyond
    EQUAL_RTOL and rounding: the commutator's test (Family.unequal) is in the units of the
    largest entries, and so misses a turn among the small eigenvalues of ill-conditioned
    matrices (a 30 degree turn in the plane of the two least of 1e4, 1, 0.5).  Here each
    pair of directions i, j is judged by the correlation it leaves, |m_ij| / sqrt(m_ii
    m_jj) with m = V0^T Sigma_k V0, and pairs the first covariance hardly tells apart (its
    eigenvectors fixed only to rounding over their eigenvalues' gap) are let off that far."""
    values, vectors = np.linalg.eigh(per[0])
    m = vectors.T @ per @ vectors
    d = per.shape[-1]
    own = np.sqrt(np.abs(np.diagonal(m, axis1=1, axis2=2)))  # (K, D)
    scale = own[:, :, None] * own[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.abs(m) / scale
        gap = np.abs(values[:, None] - values[None, :])
        angle = EIGEN_ROUNDING * d * np.abs(values).max() / gap  # V0's own rounding
        spread = np.abs(own[:, :, None] ** 2 - own[:, None, :] ** 2) / scale
        entries = EIGEN_ROUNDING * d * np.abs(per).max(axis=(1, 2))[:, None, None] / scale
        bad = corr > EQUAL_RTOL + angle * (spread + 1.0) + entries
    bad[:, np.arange(d), np.arange(d)] = False
    return np.asarray(bad.any(axis=(1, 2)))


def _log_eigenvalues(per: Array, statistic: str) -> tuple[Array, Array]:
    """The logarithms of each covariance's eigenvalues (K, D), ascending for matrices (a
    diagonal's variances as they are), and how far rounding may move each: a matrix's
    entries, rounded to float64, fix its eigenvalues only to about EIGEN_ROUNDING D times
    its largest, so the small ones of an ill-conditioned matrix only that well."""
    if statistic != MATRIX:
        return np.log(per), np.zeros(per.shape)
    values = np.linalg.eigvalsh(per)
    slack = EIGEN_ROUNDING * per.shape[-1] * values[:, -1:] / values
    return np.log(values), slack


@dataclass(frozen=True, kw_only=True)
class Family:
    """One covariance family: every family-dependent operation of the engine."""

    term: CovarianceTerm
    shape: Callable[[int, int], tuple[int, ...]]
    n_parameters: Callable[[int, int], int]
    statistic: str
    m_step: CovarianceStep
    expand: Callable[[Array, int, int], Array]
    univariate: bool = False
    #: VOLUME, SHAPE, ORIENTATION: what its components' own covariances share
    equal: frozenset[str] = frozenset()

    @property
    def stacks(self) -> bool:
        """Whether m_step takes a stack of mixtures (W (C, K, ...), nk (C, K)) at once."""
        return self.m_step in _STACKED_M_STEPS

    @property
    def reorients(self) -> bool:
        """Whether its M-step solves for one orientation of covariances of shapes of their
        own (EVE, VVE: _common_orientation), by steps from a start that can end in a
        local minimum other than the one a fresh start leads to."""
        return ORIENTATION in self.equal and SHAPE not in self.equal

    @property
    def name(self) -> str:
        return self.term.name

    @property
    def mclust(self) -> str:
        return self.term.mclust

    @property
    def per_component(self) -> bool:
        """Whether the covariances hold one entry per component (their first axis is K);
        otherwise the components share what is stored."""
        symbolic: Callable[[object, object], tuple[object, ...]] = self.shape  # type: ignore[assignment]
        return symbolic("K", "D")[:1] == ("K",)

    @property
    def shape_text(self) -> str:
        """The covariances' shape in the letters of the model file: 'K x D x D', 'D'..."""
        symbolic: Callable[[object, object], tuple[object, ...]] = self.shape  # type: ignore[assignment]
        return " x ".join(str(s) for s in symbolic("K", "D")) or "a number"

    @property
    def seed_key(self) -> int:
        """A number that stands for the family in seed sequences: a function of its name,
        so that seeds do not depend on the order of the table."""
        return int.from_bytes(hashlib.sha256(self.name.encode()).digest()[:4], "big")

    def work_columns(self, k: int, d: int) -> int:
        """Columns of the per-row work buffers of a block (sizes blocks; backends.local)."""
        if self.statistic == MATRIX:
            return k * d + d + 1 + k  # residuals (K*D), [x, 1], log-probabilities (K)
        return 2 * d + k  # [x - c, (x - c)^2], log-probabilities (K)

    def unequal(self, cov: Array, k: int, d: int) -> tuple[str, int] | None:
        """The first of the family's equalities (equal: VOLUME, SHAPE, ORIENTATION, in
        that order) that positive definite covariances break beyond EQUAL_RTOL (and their
        rounding: _log_eigenvalues), and the first component that breaks it against
        component 0; None where they keep them."""
        if k < 2 or not self.equal:
            return None
        per = self.expand(np.asarray(cov, dtype=np.float64), k, d)
        logs, slack = _log_eigenvalues(per, self.statistic)
        volume, loose = logs.mean(axis=1), slack.mean(axis=1)  # log |Sigma_k|^(1/D)
        tests = {VOLUME: np.abs(volume - volume[0]) > EQUAL_RTOL + loose + loose[0]}
        # each set of eigenvalues (a diagonal's variances, column by column) over its
        # volume is one set
        shape, tol = logs - volume[:, None], slack + loose[:, None]
        tests[SHAPE] = (np.abs(shape - shape[0]) > EQUAL_RTOL + tol + tol[0]).any(axis=1)
        if ORIENTATION in self.equal and self.statistic == MATRIX:
            # symmetric matrices that commute have one set of eigenvectors ...
            # (each over its largest entry: products of 1e300-sized entries overflow)
            unit = per / np.abs(per).max(axis=(1, 2))[:, None, None]
            turn = np.abs(unit @ unit[0] - unit[0] @ unit).max(axis=(1, 2))
            tests[ORIENTATION] = turn > EQUAL_RTOL
            tests[ORIENTATION] |= _turned(per)
            if SHAPE in self.equal:
                # ... and with one shape too, each matrix over its volume is one matrix
                # (unless the eigenvalues go with other eigenvectors)
                whole = per / np.exp(volume)[:, None, None]
                gap = np.abs(whole - whole[0]).max(axis=(1, 2))
                tests[ORIENTATION] |= gap > (EQUAL_RTOL + loose + loose[0]) * np.abs(
                    whole[0]).max()
        for what in (VOLUME, SHAPE, ORIENTATION):
            if what in self.equal and what in tests and tests[what].any():
                return what, int(np.flatnonzero(tests[what])[0])
        return None

    def to_full(self, cov: Array, k: int, d: int) -> Array:
        """The covariances as a fresh (K, D, D) stack of matrices."""
        per = self.expand(cov, k, d)
        if self.statistic == MATRIX:
            return np.array(per, dtype=np.float64)
        out = np.zeros((k, d, d))
        idx = np.arange(d)
        out[:, idx, idx] = per
        return out

    def precision_factors(self, cov: Array, k: int, d: int, reg_covar: float | None,
                          iteration: int | None) -> tuple[Array, Array, Array | None]:
        """(precision factors, log|U_k|, covariance factors) per component, raising
        NotPositiveDefinite: factorise(expand(cov)), which see."""
        return factorise(self.expand(cov, k, d), self.statistic, reg_covar, iteration)

    def second_moments(self, x: Array, resp: Array, centers: Array) -> Array:
        """Per-component scatter of x about given centres for given responsibilities: the
        statistic m_step reads (initialisation; the iterations use the kernels)."""
        k = centers.shape[0]
        w = np.empty_like(x)
        if self.statistic == MATRIX:
            out = np.empty((k, x.shape[1], x.shape[1]))
            for j in range(k):
                np.subtract(x, centers[j], out=w)
                w *= np.sqrt(resp[:, j])[:, None]
                out[j] = w.T @ w
            return out
        out = np.empty(centers.shape)
        for j in range(k):
            np.subtract(x, centers[j], out=w)
            np.square(w, out=w)
            out[j] = resp[:, j] @ w
        return out

    def summaries(self, cov: Array, k: int, d: int) -> list["CovarianceSummary"]:
        """What a one-line picture of each component's covariance shows (summary), the
        covariances expanded once for all (a model of K = 80 components in 30 columns:
        17 s where each component expanded all of them)."""
        fulls = self.to_full(np.asarray(cov, dtype=np.float64), k, d)
        return [self.summary(full) for full in fulls]

    def summary(self, full: Array) -> "CovarianceSummary":
        """What a one-line picture of a component's covariance (full: its D x D matrix)
        shows: its standard deviations (one, when the family makes them equal) and, for
        general matrices, the strongest correlation."""
        d = full.shape[0]
        sd = np.sqrt(np.maximum(np.diagonal(full), 0.0))
        if self.statistic == DIAGONAL:
            isotropic = d > 1 and bool(np.all(sd == sd[0]))
            return CovarianceSummary(sd.tolist()[:1] if isotropic else sd.tolist(), isotropic)
        best, where = 0.0, (0, 1)
        for i in range(d):
            for j in range(i + 1, d):
                r = full[i, j] / (sd[i] * sd[j]) if sd[i] * sd[j] > 0 else 0.0
                if abs(r) >= abs(best):
                    best, where = float(r), (i, j)
        return CovarianceSummary(sd.tolist(), False, (where[0], where[1], best) if d > 1 else None)


@dataclass(frozen=True)
class CovarianceSummary:
    """Family.summary: standard deviations (one if isotropic) and the strongest
    correlation (i, j, r) of a general matrix, or None."""

    sd: list[float]
    isotropic: bool
    correlation: tuple[int, int, float] | None = None


FAMILIES: dict[str, Family] = {}
#: family()'s answers by the name asked (a family's own name, its mclust name, either in
#: any case): every EM pass looks its family up, and the vocabulary's resolution of an
#: mclust name walks every family.  Emptied whenever the table changes.
_LOOKED_UP: dict[str, Family] = {}


def register(fam: Family) -> Family:
    """Add a family to the table (and its term to the vocabulary)."""
    if fam.statistic not in (MATRIX, DIAGONAL):
        raise ValueError(f"statistic must be {MATRIX!r} or {DIAGONAL!r}, not {fam.statistic!r}")
    vocab.register_covariance(fam.term)
    FAMILIES[fam.name] = fam
    _LOOKED_UP.clear()
    return fam


def unregister(name: str) -> None:
    """Remove a family registered at run time (and its term)."""
    FAMILIES.pop(name, None)
    _LOOKED_UP.clear()
    vocab.unregister_covariance(name)


def shared_variance(cov: Array, k: int, d: int) -> Array:
    """One variance (EII) or one per column (EEI), copied to every component (as
    shared_matrix)."""
    return np.full((k, d), cov, dtype=np.float64)


def _sym(k: int, d: int) -> int:
    """Free entries of one orientation: D (D - 1) / 2."""
    return d * (d - 1) // 2


# mclust's order (mclustBIC's columns); n_parameters is mclust's nVarParams(model, D, K);
# the last entry: what the components' own covariances share (Family.equal).
_NONE: frozenset[str] = frozenset()
for _name, _shape, _count, _stat, _m_step, _expand, _equal in (
    ("EII", lambda k, d: (), lambda k, d: 1, DIAGONAL, m_step_eii, shared_variance, _NONE),
    ("spherical", lambda k, d: (k,), lambda k, d: k, DIAGONAL, m_step_vii, own_variances,
     _NONE),
    ("EEI", lambda k, d: (d,), lambda k, d: d, DIAGONAL, m_step_eee, shared_variance, _NONE),
    ("VEI", lambda k, d: (k, d), lambda k, d: k + d - 1, DIAGONAL, m_step_vee,
     own_diagonals, frozenset({SHAPE})),
    ("EVI", lambda k, d: (k, d), lambda k, d: 1 + k * (d - 1), DIAGONAL, m_step_evv,
     own_diagonals, frozenset({VOLUME})),
    ("diag", lambda k, d: (k, d), lambda k, d: k * d, DIAGONAL, m_step_vvv, own_diagonals,
     _NONE),
    ("tied", lambda k, d: (d, d), lambda k, d: d * (d + 1) // 2, MATRIX, m_step_eee,
     shared_matrix, _NONE),
    ("VEE", lambda k, d: (k, d, d), lambda k, d: k + d - 1 + _sym(k, d), MATRIX, m_step_vee,
     own_matrices, frozenset({SHAPE, ORIENTATION})),
    ("EVE", lambda k, d: (k, d, d), lambda k, d: 1 + k * (d - 1) + _sym(k, d), MATRIX,
     m_step_eve, own_matrices, frozenset({VOLUME, ORIENTATION})),
    ("VVE", lambda k, d: (k, d, d), lambda k, d: k * d + _sym(k, d), MATRIX, m_step_vve,
     own_matrices, frozenset({ORIENTATION})),
    ("EEV", lambda k, d: (k, d, d), lambda k, d: d + k * _sym(k, d), MATRIX, m_step_eev,
     own_matrices, frozenset({VOLUME, SHAPE})),
    ("VEV", lambda k, d: (k, d, d), lambda k, d: k + d - 1 + k * _sym(k, d), MATRIX,
     m_step_vev, own_matrices, frozenset({SHAPE})),
    ("EVV", lambda k, d: (k, d, d), lambda k, d: 1 + k * (d - 1) + k * _sym(k, d), MATRIX,
     m_step_evv, own_matrices, frozenset({VOLUME})),
    ("full", lambda k, d: (k, d, d), lambda k, d: k * d * (d + 1) // 2, MATRIX, m_step_vvv,
     own_matrices, _NONE),
):
    register(Family(term=vocab.covariance_term(_name), shape=_shape, n_parameters=_count,
                    statistic=_stat, m_step=_m_step, expand=_expand, equal=_equal))
register(Family(term=vocab.covariance_term("E"), shape=lambda k, d: (), n_parameters=lambda k, d: 1,
                statistic=DIAGONAL, m_step=m_step_eii, expand=shared_variance, univariate=True))
register(Family(term=vocab.covariance_term("V"), shape=lambda k, d: (k,),
                n_parameters=lambda k, d: k, statistic=DIAGONAL, m_step=m_step_vii,
                expand=own_variances, univariate=True))


def family(name: str) -> Family:
    """The family called ``name`` (or by mclust's name: VVV is full)."""
    try:
        return _LOOKED_UP[name]
    except (KeyError, TypeError):
        pass
    try:
        fam = FAMILIES[vocab.canonical_covariance(name)]
    except (KeyError, TypeError):
        raise InvalidParameter(
            f"unknown covariance type {name!r}; choose one of {', '.join(FAMILIES)}",
            option="covariance_type") from None
    _LOOKED_UP[name] = fam
    return fam


def searched(n_features: int) -> tuple[str, ...]:
    """The families a selection tries when none are named, as Mclust does: E and V for
    one-dimensional data, every other family otherwise."""
    return tuple(name for name, fam in FAMILIES.items()
                 if fam.univariate == (n_features == 1))
