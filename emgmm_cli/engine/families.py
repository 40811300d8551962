"""The four covariance families, as one table.

Every operation that depends on the covariance type lives in a :class:`Family` row, so the
rest of the engine never branches on the type: the E-step asks the family for Mahalanobis
distances and log-determinants, the M-step for a covariance from sufficient statistics,
criteria for a parameter count, the sampler for full matrices.  Adding a family means adding
one row to :data:`FAMILIES`.

Shapes, for K components in D dimensions:

=========  ==================  =======================  ===========================
family     covariances         precision Cholesky       second-moment statistic S
=========  ==================  =======================  ===========================
full       (K, D, D)           (K, D, D) upper          (K, D, D)
tied       (D, D)              (D, D) upper             (D, D)  summed over k
diag       (K, D)              (K, D)                   (K, D)
spherical  (K,)                (K,)                     (K,)    summed over d
=========  ==================  =======================  ===========================

The precision Cholesky factor U satisfies U U^T = Sigma^-1.  For diag and spherical it is
1/sqrt(variance).  Second moments are centred on the component's current mean m_k:
S_k = sum_i r_ik (x_i - m_k)(x_i - m_k)^T, which keeps the one-pass update sound.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np
from numpy.typing import NDArray

from .errors import NotPositiveDefinite
from .kernels import ExpandedKernel, WhitenedKernel

Array = NDArray[np.floating]


def _chol_inverse_upper(cov: Array, reg_covar: float, iteration: int | None) -> Array:
    """Upper-triangular U with U U^T = inv(cov), for a stack of (D, D) covariances."""
    stack = cov.reshape(-1, cov.shape[-2], cov.shape[-1])
    out = np.empty_like(stack)
    eye = np.eye(stack.shape[-1], dtype=stack.dtype)
    for k, c in enumerate(stack):
        try:
            lower = np.linalg.cholesky(c)
        except np.linalg.LinAlgError:
            raise NotPositiveDefinite(k, iteration, reg_covar) from None
        if not np.all(np.isfinite(lower)):
            raise NotPositiveDefinite(k, iteration, reg_covar)
        # cov = L L^T  =>  inv(cov) = L^-T L^-1 = U U^T with U = L^-T (upper triangular).
        out[k] = np.triu(np.linalg.solve(lower, eye).T)
    return out.reshape(cov.shape)


def _inv_sqrt(var: Array, reg_covar: float, iteration: int | None) -> Array:
    bad = np.flatnonzero(~(var > 0).reshape(var.shape[0], -1).all(axis=1))
    if len(bad):
        raise NotPositiveDefinite(int(bad[0]), iteration, reg_covar)
    return 1.0 / np.sqrt(var)


# --- log-determinants ------------------------------------------------------------------
# Each returns log|U| per component, where U is the precision Cholesky factor.  Because
# |Sigma^-1| = |U|^2, this is +log|U| = -0.5 * log|Sigma|: the sign flips here, once.


def _logdet_full(pc: Array, d: int) -> Array:
    return np.log(np.diagonal(pc, axis1=-2, axis2=-1)).sum(axis=-1)


def _logdet_tied(pc: Array, d: int) -> Array:
    return np.asarray(np.log(np.diagonal(pc)).sum())


def _logdet_diag(pc: Array, d: int) -> Array:
    return np.log(pc).sum(axis=1)


def _logdet_spherical(pc: Array, d: int) -> Array:
    return d * np.log(pc)


# --- the per-block kernels (engine/kernels.py) -------------------------------------------
# kernel(means, covariances, prec_chol, log_det, log_weights, dtype) -> a prepared kernel


def _whitened(means: Array, covariances: Array, prec_chol: Array, log_det: Array,
              log_weights: Array, dtype: np.dtype, *, tied: bool) -> WhitenedKernel:
    return WhitenedKernel.prepare(means, covariances, prec_chol, log_det, log_weights,
                                  dtype, tied)


def _expanded(means: Array, covariances: Array, prec_chol: Array, log_det: Array,
              log_weights: Array, dtype: np.dtype, *, spherical: bool) -> ExpandedKernel:
    return ExpandedKernel.prepare(means, prec_chol, log_det, log_weights, dtype, spherical)


def _whitened_columns(k: int, d: int) -> int:
    return k * d + d + 1 + k  # residuals (K*D), [x, 1], log-probabilities (K)


def _expanded_columns(k: int, d: int) -> int:
    return 2 * d + k  # [x - c, (x - c)^2], log-probabilities (K)


# --- second moments centred on given centres (initialisation; the iterations use the
# kernels above, which centre on the current means) ---------------------------------------


def _weighted_scatter(x: Array, resp: Array, centers: Array) -> Array:
    """(K, D, D): sum_i r_ik (x_i - c_k)(x_i - c_k)^T, one symmetric rank-n update per k."""
    k = centers.shape[0]
    d = x.shape[1]
    out = np.empty((k, d, d), dtype=np.float64)
    w = np.empty_like(x)
    for j in range(k):
        np.subtract(x, centers[j], out=w)
        w *= np.sqrt(resp[:, j])[:, None]
        out[j] = w.T @ w
    return out


def _sm_tied(x: Array, resp: Array, centers: Array) -> Array:
    return _weighted_scatter(x, resp, centers).sum(axis=0)


def _sm_diag(x: Array, resp: Array, centers: Array) -> Array:
    out = np.empty(centers.shape, dtype=np.float64)
    w = np.empty_like(x)
    for j in range(centers.shape[0]):
        np.subtract(x, centers[j], out=w)
        np.square(w, out=w)
        out[j] = resp[:, j] @ w
    return out


def _sm_spherical(x: Array, resp: Array, centers: Array) -> Array:
    return _sm_diag(x, resp, centers).sum(axis=1)


# --- M-step: covariance from statistics --------------------------------------------------
# nk: (K,) responsibility sums; delta: (K, D) new mean minus the centre the statistics used.


def _cov_full(s: Array, nk: Array, delta: Array, reg: float) -> Array:
    cov = s / nk[:, None, None] - delta[:, :, None] * delta[:, None, :]
    idx = np.arange(cov.shape[-1])
    cov[:, idx, idx] += reg
    return cov


def _cov_tied(s: Array, nk: Array, delta: Array, reg: float) -> Array:
    cov = (s - (delta.T * nk) @ delta) / nk.sum()
    cov.flat[:: cov.shape[0] + 1] += reg
    return cov


def _cov_diag(s: Array, nk: Array, delta: Array, reg: float) -> Array:
    return s / nk[:, None] - delta * delta + reg


def _cov_spherical(s: Array, nk: Array, delta: Array, reg: float) -> Array:
    return (s / nk - (delta * delta).sum(axis=1)) / delta.shape[1] + reg


# --- conversions -------------------------------------------------------------------------


def _full_full(cov: Array, k: int, d: int) -> Array:
    return np.asarray(cov, dtype=np.float64).reshape(k, d, d)


def _full_tied(cov: Array, k: int, d: int) -> Array:
    return np.broadcast_to(cov, (k, d, d)).copy()


def _full_diag(cov: Array, k: int, d: int) -> Array:
    out = np.zeros((k, d, d))
    idx = np.arange(d)
    out[:, idx, idx] = cov
    return out


def _full_spherical(cov: Array, k: int, d: int) -> Array:
    return np.asarray(cov)[:, None, None] * np.eye(d)[None]


@dataclass(frozen=True)
class Family:
    """One covariance family: every type-dependent operation of the engine."""

    name: str
    mclust: str
    description: str
    shape: Callable[[int, int], tuple[int, ...]]
    n_parameters: Callable[[int, int], int]
    precision_cholesky: Callable[[Array, float, "int | None"], Array]
    log_det: Callable[[Array, int], Array]
    kernel: Callable[..., "WhitenedKernel | ExpandedKernel"]
    second_moments: Callable[[Array, Array, Array], Array]
    covariance: Callable[[Array, Array, Array, float], Array]
    to_full: Callable[[Array, int, int], Array]
    #: Columns of per-row work buffer a block needs (sizes blocks; see backends.local).
    work_columns: Callable[[int, int], int]


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "full", "VVV", "each component has its own general covariance matrix",
            lambda k, d: (k, d, d), lambda k, d: k * d * (d + 1) // 2,
            _chol_inverse_upper, _logdet_full, partial(_whitened, tied=False),
            _weighted_scatter, _cov_full,
            _full_full, _whitened_columns,
        ),
        Family(
            "tied", "EEE", "all components share one general covariance matrix",
            lambda k, d: (d, d), lambda k, d: d * (d + 1) // 2,
            _chol_inverse_upper, _logdet_tied, partial(_whitened, tied=True), _sm_tied,
            _cov_tied, _full_tied, _whitened_columns,
        ),
        Family(
            "diag", "VVI", "each component has its own diagonal covariance matrix",
            lambda k, d: (k, d), lambda k, d: k * d,
            _inv_sqrt, _logdet_diag, partial(_expanded, spherical=False), _sm_diag,
            _cov_diag, _full_diag, _expanded_columns,
        ),
        Family(
            "spherical", "VII", "each component has its own single variance",
            lambda k, d: (k,), lambda k, d: k,
            _inv_sqrt, _logdet_spherical, partial(_expanded, spherical=True), _sm_spherical,
            _cov_spherical,
            _full_spherical, _expanded_columns,
        ),
    )
}

COVARIANCE_TYPES: tuple[str, ...] = tuple(FAMILIES)


def family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(
            f"unknown covariance type {name!r}; choose one of {', '.join(FAMILIES)}"
        ) from None
