"""Per-block E-step and sufficient-statistics kernels: the hot path of every iteration.

Two kernels serve every covariance family; a family's ``statistic`` (engine.families)
chooses one, and both return per-component statistics that the family's M-step reduces:

Whitened (families whose M-step reads scatter matrices: full, tied).  One GEMM of the block, centred
on c (the centre of the means, so that U^T x and U^T mu do not cancel for data far from zero)
and augmented with a column of ones, against the K stacked precision Cholesky factors with
the shifted means folded in gives the whitened residuals z_ik = U_k^T (x_i - mu_k) for
every component at once: shape (n, K*D).  Their
squared norms are the Mahalanobis distances.  The same buffer, scaled by sqrt(r_ik), gives
sum_i r_ik z z^T per component by one batched matrix product, and L_k (that) L_k^T, with
L_k the covariance Cholesky factor, is the scatter about the current means: exactly the
centred second moment the M-step wants, computed in well-conditioned coordinates.

Expanded (families whose M-step reads per-dimension scatter: diag, spherical).  With xs = x - c (c the centre of the means, so the expansion
does not cancel for data far from zero), one GEMM of [xs, xs^2] against a (2D, K) matrix
gives every log-density, and one GEMM of the responsibilities against the same buffer
gives both the first moments and the per-dimension second moments.

Far means (exact mode).  Both expansions subtract, for a row near component k, two
terms of the size of mu_k's distance from c; float64 keeps about 16 digits of each, so
where a mean lies more than EXACT_OFFSET of its own standard deviations from c (a model
file with one mean at 1e20; data spread over a range 1e8 times a component's floor)
the residuals near it would keep few or none.  There the kernel is prepared in exact
mode: each component's residuals from its own mean, one product per component, and its
moments from them (K products instead of one; fits of ordinary data never get there,
and keep the shared expansion bit for bit).

Layout: component-major.  Log-probabilities and responsibilities of a block are (K, n) and
the whitened residuals (K, D, n), so each component's rows are contiguous: reductions over
components are vectorised across rows, and each component's D x D product reads one
contiguous (D, n) slab (measured 25% faster per iteration than row-major at K = D = 16).
Work buffers are per thread and reused across blocks and iterations; nothing allocates
(N, K, D).  Kernels are prepared once per parameter set and dtype (see MixtureParams).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating]

LOG_2PI = float(np.log(2.0 * np.pi))

#: The most the shared expansion's terms may exceed what they leave, the residuals near
#: a component, before the kernel goes to exact mode (above): float64's rounding of the
#: terms, about 2e-16 of each, is then at most about 2e-9 of a residual.  The whitened
#: kernel's terms are a mean's distance from the centre in its standard deviations (along
#: a whitened axis), the expanded kernel's the square of that distance (column by
#: column): exact mode from 1e7 and from sqrt(1e7) = 3162 of them.  Measured on a model
#: of faithful with one mean moved: a diagonal family's log-densities off by 0.057 with
#: the mean 1e8 away (2e7 of its deviations), a full one's by 4e-8, 3e-4 at 1e12 and by
#: everything from 1e16 on; exact mode agrees with scipy to the 10 digits score writes.
EXACT_OFFSET = 1e7


def log_weights(weights: Array) -> Array:
    """log pi_k, -inf for a weight of 0: such a component has no density anywhere, so
    it never takes a point (not even one far from every other component)."""
    with np.errstate(divide="ignore"):
        return np.log(weights)


def _in(dtype: np.dtype, center: Array) -> NDArray[np.float64]:
    """The kernel's centre as the rows' dtype holds it: the features are the rows less
    that, so the means' offsets from it must be too (a float32 centre near 1e5, rounded
    by up to 0.004, shifted every residual of a spread of 0.5 by 1%)."""
    return np.asarray(center, dtype=dtype).astype(np.float64)


_local = threading.local()


def scratch(name: str, shape: tuple[int, ...], dtype: np.dtype) -> Array:
    """A per-thread work buffer, grown as needed and reused (contents undefined)."""
    bufs: dict[str, Array] = _local.__dict__.setdefault("bufs", {})
    size = math.prod(shape)
    buf = bufs.get(name)
    if buf is None or buf.dtype != dtype or buf.size < size:
        buf = np.empty(max(size, 1), dtype=dtype)
        bufs[name] = buf
    return buf[:size].reshape(shape)


#: Responsibilities at or below this are the floor's (stats.EXP_FLOOR: exp(-700) of a
#: row's largest, about 1e-304), not a component's share of the row.
HELD_RESP = 1e-300


def _held(resp: Array) -> NDArray[np.bool_]:
    """Where a component holds a share of a row: in exact mode its moments are taken
    over those alone.  A floored responsibility stands for one below 1e-304, whose true
    share of a residual's square (exp(-r^2 / 2) r^2) is nothing; the floor's 1e-304
    times the square of a residual 1e160 off is 1e16."""
    held: NDArray[np.bool_] = resp > HELD_RESP
    return held


@dataclass(frozen=True)
class WhitenedKernel:
    """Per-component covariance matrices: (K, D, D) scatter statistics."""

    center: Array  # (D,) c
    weights: Array  # (K*D, D + 1): row block k is [U_k^T, -U_k^T (mu_k - c)]
    chol: NDArray[np.floating]  # (K, D, D) covariance Cholesky factors L_k (Sigma = L L^T)
    const: Array  # (K, 1) log pi_k + log|U_k| - D/2 log 2 pi
    means: NDArray[np.float64]  # (K, D) mu_k, whose residuals z are
    exact: Array | None = None  # (K, D) the means, in exact mode (module docstring)

    @classmethod
    def prepare(cls, means: Array, chol: Array, factors: Array, log_det: Array,
                log_weights: Array, dtype: np.dtype,
                center: Array | None = None) -> "WhitenedKernel":
        """The covariances' lower Cholesky factors L_k (K, D, D) and their upper precision
        factors U_k = L_k^-T (K, D, D); center: c (default: the means' mean)."""
        k, d = means.shape
        c = _in(dtype, means.mean(axis=0) if center is None else center)
        w = np.empty((k, d, d + 1), dtype=dtype)
        w[:, :, :d] = factors.transpose(0, 2, 1)
        w[:, :, d] = -np.einsum("kd,kde->ke", means - c, factors)
        const = log_weights + log_det - 0.5 * d * LOG_2PI
        far = not np.abs(w[:, :, d]).max(initial=0.0) <= EXACT_OFFSET  # NaN too
        return cls(c.astype(dtype), w.reshape(k * d, d + 1), chol,
                   const.astype(dtype, copy=False)[:, None],
                   np.asarray(means, dtype=np.float64), means.astype(dtype) if far else None)

    @staticmethod
    def features(x: Array, center: Array, out: Array | None = None) -> Array:
        """The rows less c, augmented with a column of ones, (n, D + 1): what log_prob
        multiplies, for a kernel centred at c (in out, when given)."""
        n, d = x.shape
        xa = np.empty((n, d + 1), dtype=x.dtype) if out is None else out
        np.subtract(x, center, out=xa[:, :d])
        xa[:, d] = 1.0
        return xa

    def log_prob(self, x: Array, feats: Array | None = None) -> tuple[Array, Array]:
        """(log pi_k N(x_i | k) (K, n), the whitened residuals); feats: features(x,
        self.center), where the caller has them (the same rows and centre over many
        passes)."""
        n, d = x.shape
        k = self.const.shape[0]
        if self.exact is not None:
            z3 = scratch("z", (k * d, n), x.dtype).reshape(k, d, n)
            for j in range(k):  # U_j^T (x - mu_j): no subtraction of two far terms
                np.matmul(self.weights[j * d:(j + 1) * d, :d], (x - self.exact[j]).T,
                          out=z3[j])
        else:
            xa = (self.features(x, self.center, scratch("xa", (n, d + 1), x.dtype))
                  if feats is None else feats)
            z = np.matmul(self.weights, xa.T, out=scratch("z", (k * d, n), x.dtype))
            z3 = z.reshape(k, d, n)
        lp = np.einsum("kdn,kdn->kn", z3, z3, out=scratch("lp", (k, n), x.dtype))
        lp *= -0.5
        lp += self.const
        return lp, z3

    def moments(self, x: Array, resp: Array, z3: Array) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(first moments (K, D), scatter matrices about the current means (K, D, D)).

        The first moments are taken about the means, sum_i r_ik x_i = n_k mu_k + L_k
        sum_i r_ik z_ik, as the scatter is: resp @ x, of float32 values far from zero,
        rounded the means (1e5 + 3 at 400 rows: off by 0.06 of a spread of 1, and the
        fit stopped short of the maximum)."""
        if self.exact is None:
            rz = np.matmul(z3, resp[:, :, None])[:, :, 0].astype(np.float64, copy=False)
            nk = resp.sum(axis=1, dtype=np.float64)
            sk = nk[:, None] * self.means + np.einsum("kde,ke->kd", self.chol, rz)
            return sk, self._scatter(resp, z3)
        sk = (resp @ x).astype(np.float64, copy=False)  # fresh products: no copy needed
        # a far component's residuals hold no responsibility (its rows' own, floored by
        # EXP_FLOOR, would still give them weight enough to swamp a shared covariance)
        np.copyto(z3, 0.0, where=~_held(resp)[:, None, :] | ~np.isfinite(z3))
        with np.errstate(over="ignore", invalid="ignore"):
            return sk, self._scatter(resp, z3)

    def _scatter(self, resp: Array, z3: Array) -> NDArray[np.float64]:
        z3 *= np.sqrt(resp)[:, None, :]
        inner = np.matmul(z3, z3.transpose(0, 2, 1)).astype(np.float64, copy=False)
        scatter: NDArray[np.float64] = self.chol @ inner @ self.chol.transpose(0, 2, 1)
        return scatter


@dataclass(frozen=True)
class ExpandedKernel:
    """Per-component diagonal covariances: (K, D) per-dimension scatter statistics."""

    center: Array  # (D,) c
    shifted_means: NDArray[np.float64]  # (K, D) mu_k - c
    weights: Array  # (K, 2D): [ (mu-c) prec , -prec/2 ]
    const: Array  # (K, 1)
    # in exact mode (module docstring): the means (K, D), 1/sqrt(variances) (K, D) and
    # log pi_k + log|U_k| - D/2 log 2 pi (K, 1)
    exact: tuple[Array, Array, Array] | None = None

    @classmethod
    def prepare(cls, means: Array, factors: Array, log_det: Array, log_weights: Array,
                dtype: np.dtype, center: Array | None = None) -> "ExpandedKernel":
        """factors (K, D): 1/sqrt(variances); center: c (default: the means' mean)."""
        k, d = means.shape
        c = _in(dtype, means.mean(axis=0) if center is None else center)
        ms = means - c
        w = np.empty((k, 2 * d), dtype=dtype)
        base = log_weights + log_det - 0.5 * d * LOG_2PI
        # a subnormal variance (1e-320, a model file's) has a precision beyond the range:
        # inf, and its component far from every row (exact mode below)
        with np.errstate(over="ignore", invalid="ignore"):
            prec = factors * factors
            w[:, :d] = ms * prec
            w[:, d:] = -0.5 * prec
            const = base - 0.5 * (ms * ms * prec).sum(axis=1)
            far = not np.square(ms * factors).max(initial=0.0) <= EXACT_OFFSET
        exact = (means.astype(dtype), factors.astype(dtype),
                 base.astype(dtype, copy=False)[:, None]) if far else None
        return cls(c.astype(dtype), ms, w, const.astype(dtype, copy=False)[:, None], exact)

    @staticmethod
    def features(x: Array, center: Array, out: Array | None = None) -> Array:
        """[x - c, (x - c)^2], (n, 2D): what log_prob multiplies, for a kernel centred at
        c (in out, when given)."""
        n, d = x.shape
        feats = np.empty((n, 2 * d), dtype=x.dtype) if out is None else out
        xs = np.subtract(x, center, out=feats[:, :d])
        np.square(xs, out=feats[:, d:])
        return feats

    def log_prob(self, x: Array, feats: Array | None = None) -> tuple[Array, Array]:
        """(log pi_k N(x_i | k) (K, n), the features); feats: features(x, self.center),
        where the caller has them (the same rows and centre over many passes)."""
        n, d = x.shape
        k = self.const.shape[0]
        if self.exact is not None:
            means, roots, base = self.exact
            lp = scratch("lp", (k, n), x.dtype)
            for j in range(k):  # ((x - mu_j) / sigma_j)^2: no subtraction of far terms
                r = (x - means[j]) * roots[j]
                np.einsum("nd,nd->n", r, r, out=lp[j])
            lp *= -0.5
            lp += base
            return lp, x
        if feats is None:
            feats = self.features(x, self.center, scratch("feats", (n, 2 * d), x.dtype))
        lp = np.matmul(self.weights, feats.T, out=scratch("lp", (k, n), x.dtype))
        lp += self.const
        return lp, feats

    def moments(self, x: Array, resp: Array, feats: Array) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        d = x.shape[1]
        if self.exact is not None:  # about each mean itself
            means = self.exact[0]
            scatter = np.empty((len(means), d))
            held = _held(resp)
            for j in range(len(means)):  # as WhitenedKernel.moments's exact mode
                with np.errstate(over="ignore", invalid="ignore"):
                    square = np.square(x - means[j])
                    np.copyto(square, 0.0, where=~held[j][:, None] | ~np.isfinite(square))
                    scatter[j] = resp[j] @ square
            return (resp @ x).astype(np.float64), scatter
        g = (resp @ feats).astype(np.float64, copy=False)
        nk = resp.sum(axis=1, dtype=np.float64)[:, None]
        first, second = g[:, :d], g[:, d:]
        ms = self.shifted_means
        # sum_i r (x - m)^2 = sum r xs^2 - 2 (m - c) sum r xs + n_k (m - c)^2, with xs = x - c
        scatter = second - 2.0 * ms * first + nk * ms * ms
        sk = first + nk * self.center.astype(np.float64)
        return sk, scatter
