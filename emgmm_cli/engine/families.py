"""The covariance families, as one table: one keyword-built row per family.

A row says everything that differs between families, and nothing else in the package
branches on a family's name:

- ``term``: its name, mclust's name and one line of description (emgmm_cli.vocab);
- ``shape(k, d)``: the shape of its covariances (the model file's, too: ``shape_text``);
- ``n_parameters(k, d)``: free parameters of the covariances (for BIC, AIC and ICL);
- ``statistic``: which per-component scatter its M-step reads, and so which E-step
  kernel computes it: MATRIX, the (K, D, D) scatter matrices (engine.kernels' whitened
  kernel), or DIAGONAL, their (K, D) diagonals (the expanded kernel);
- ``m_step(scatter, nk, delta, reg_covar)``: covariances from that statistic;
- ``expand(cov, k, d)``: the covariances one per component, (K, D, D) for MATRIX and
  (K, D) variances for DIAGONAL, which is all the E-step, the sampler, the summaries and
  the checks need;
- ``independent``: whether each component's covariance is estimated from its own points
  only, so that the covariance of a component whose weight collapsed can be frozen.

Shapes, for K components in D dimensions:

=========  ==================  =========================
family     covariances         statistic read by m_step
=========  ==================  =========================
full       (K, D, D)           MATRIX
tied       (D, D)              MATRIX, summed over k
diag       (K, D)              DIAGONAL
spherical  (K,)                DIAGONAL, summed over d
=========  ==================  =========================

Second moments are centred on each component's current mean m_k:
S_k = sum_i r_ik (x_i - m_k)(x_i - m_k)^T, which keeps the one-pass update sound; the
M-step corrects for the new mean with delta_k = mu_k - m_k.

A family can be registered at run time (``register``, and ``unregister``); every command
then accepts it: tests/test_families.py adds mclust's EEI that way, from the test alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .. import vocab
from ..vocab import CovarianceTerm
from .errors import NotPositiveDefinite

Array = NDArray[np.floating]

#: Values of Family.statistic.
MATRIX = "matrix"
DIAGONAL = "diagonal"


# --- M-steps: covariances from per-component scatter ----------------------------------------
# scatter: (K, D, D) or (K, D) centred on the previous means; nk: (K,) responsibility sums;
# delta: (K, D) new mean minus the centre the statistics used; reg: reg_covar.


def _centred(scatter: Array, nk: Array, delta: Array) -> Array:
    """Per-component scatter about the new means: S_k - n_k delta_k delta_k^T (or its
    diagonal)."""
    if scatter.ndim == 3:
        return scatter - nk[:, None, None] * (delta[:, :, None] * delta[:, None, :])
    return scatter - nk[:, None] * delta * delta


def _add_to_diagonal(cov: Array, reg: float) -> Array:
    idx = np.arange(cov.shape[-1])
    cov[..., idx, idx] += reg
    return cov


def m_step_full(scatter: Array, nk: Array, delta: Array, reg: float) -> Array:
    return _add_to_diagonal(_centred(scatter, nk, delta) / nk[:, None, None], reg)


def m_step_tied(scatter: Array, nk: Array, delta: Array, reg: float) -> Array:
    return _add_to_diagonal(_centred(scatter, nk, delta).sum(axis=0) / nk.sum(), reg)


def m_step_diag(scatter: Array, nk: Array, delta: Array, reg: float) -> Array:
    return _centred(scatter, nk, delta) / nk[:, None] + reg


def m_step_spherical(scatter: Array, nk: Array, delta: Array, reg: float) -> Array:
    return _centred(scatter, nk, delta).sum(axis=1) / (nk * delta.shape[1]) + reg


# --- per-component forms ---------------------------------------------------------------------


def own_matrices(cov: Array, k: int, d: int) -> Array:
    return np.asarray(cov, dtype=np.float64).reshape(k, d, d)


def shared_matrix(cov: Array, k: int, d: int) -> Array:
    return np.broadcast_to(np.asarray(cov, dtype=np.float64), (k, d, d))


def own_diagonals(cov: Array, k: int, d: int) -> Array:
    return np.asarray(cov, dtype=np.float64).reshape(k, d)


def own_variances(cov: Array, k: int, d: int) -> Array:
    return np.broadcast_to(np.asarray(cov, dtype=np.float64).reshape(k, 1), (k, d))


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


@dataclass(frozen=True, kw_only=True)
class Family:
    """One covariance family: every family-dependent operation of the engine."""

    term: CovarianceTerm
    shape: Callable[[int, int], tuple[int, ...]]
    n_parameters: Callable[[int, int], int]
    statistic: str
    m_step: Callable[[Array, Array, Array, float], Array]
    expand: Callable[[Array, int, int], Array]
    independent: bool

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

    def to_full(self, cov: Array, k: int, d: int) -> Array:
        """The covariances as a fresh (K, D, D) stack of matrices."""
        per = self.expand(cov, k, d)
        if self.statistic == MATRIX:
            return np.array(per, dtype=np.float64)
        out = np.zeros((k, d, d))
        idx = np.arange(d)
        out[:, idx, idx] = per
        return out

    def precision_factors(self, cov: Array, k: int, d: int, reg_covar: float,
                          iteration: int | None) -> tuple[Array, Array]:
        """(precision factors, log|U_k|) per component, raising NotPositiveDefinite.

        MATRIX: upper-triangular U_k with U_k U_k^T = Sigma_k^-1, shape (K, D, D).
        DIAGONAL: U_k = 1/sqrt(variances), shape (K, D).
        log|U_k| = -0.5 log|Sigma_k|: since |Sigma^-1| = |U|^2, the sign flips here, once.
        """
        per = self.expand(cov, k, d)
        if self.statistic == DIAGONAL:
            bad = np.flatnonzero(~(per > 0).all(axis=1))
            if len(bad):
                raise NotPositiveDefinite(int(bad[0]), iteration, reg_covar)
            factors = 1.0 / np.sqrt(per)
            return factors, np.log(factors).sum(axis=1)
        try:
            lower = np.linalg.cholesky(per)  # every component at once
        except np.linalg.LinAlgError:
            lower = None
        if lower is None or not np.all(np.isfinite(lower)):
            raise NotPositiveDefinite(_first_not_pd(per), iteration, reg_covar)
        # cov = L L^T  =>  inv(cov) = L^-T L^-1 = U U^T with U = L^-T (upper triangular)
        factors = np.triu(np.linalg.inv(lower).transpose(0, 2, 1))
        return factors, np.log(np.diagonal(factors, axis1=1, axis2=2)).sum(axis=1)

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

    def summary(self, cov: Array, component: int, k: int, d: int) -> "CovarianceSummary":
        """What a one-line picture of a component's covariance shows: its standard
        deviations (one, when the family makes them equal) and, for general matrices, the
        strongest correlation."""
        full = self.to_full(np.asarray(cov, dtype=np.float64), k, d)[component]
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


def register(fam: Family) -> Family:
    """Add a family to the table (and its term to the vocabulary)."""
    if fam.statistic not in (MATRIX, DIAGONAL):
        raise ValueError(f"statistic must be {MATRIX!r} or {DIAGONAL!r}, not {fam.statistic!r}")
    vocab.register_covariance(fam.term)
    FAMILIES[fam.name] = fam
    return fam


def unregister(name: str) -> None:
    """Remove a family registered at run time (and its term)."""
    FAMILIES.pop(name, None)
    vocab.unregister_covariance(name)


register(Family(
    term=vocab.covariance_term("full"), shape=lambda k, d: (k, d, d),
    n_parameters=lambda k, d: k * d * (d + 1) // 2, statistic=MATRIX,
    m_step=m_step_full, expand=own_matrices, independent=True,
))
register(Family(
    term=vocab.covariance_term("tied"), shape=lambda k, d: (d, d),
    n_parameters=lambda k, d: d * (d + 1) // 2, statistic=MATRIX,
    m_step=m_step_tied, expand=shared_matrix, independent=False,
))
register(Family(
    term=vocab.covariance_term("diag"), shape=lambda k, d: (k, d),
    n_parameters=lambda k, d: k * d, statistic=DIAGONAL,
    m_step=m_step_diag, expand=own_diagonals, independent=True,
))
register(Family(
    term=vocab.covariance_term("spherical"), shape=lambda k, d: (k,),
    n_parameters=lambda k, d: k, statistic=DIAGONAL,
    m_step=m_step_spherical, expand=own_variances, independent=True,
))


def family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(
            f"unknown covariance type {name!r}; choose one of {', '.join(FAMILIES)}"
        ) from None
