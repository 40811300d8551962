"""Per-block E-step and sufficient-statistics kernels: the hot path of every iteration.

Two kernels serve the four covariance families (chosen in the covariance table):

Whitened (full, tied).  One GEMM of the block, augmented with a column of ones, against
the K stacked precision Cholesky factors with the means folded in gives the whitened
residuals z_ik = U_k^T (x_i - mu_k) for every component at once: shape (n, K*D).  Their
squared norms are the Mahalanobis distances.  The same buffer, scaled by sqrt(r_ik), gives
sum_i r_ik z z^T per component by one batched matrix product, and L_k (that) L_k^T, with
L_k the covariance Cholesky factor, is the scatter about the current means: exactly the
centred second moment the M-step wants, computed in well-conditioned coordinates.

Expanded (diag, spherical).  With xs = x - c (c the centre of the means, so the expansion
does not cancel for data far from zero), one GEMM of [xs, xs^2] against a (2D, K) matrix
gives every log-density, and one GEMM of the responsibilities against the same buffer
gives both the first moments and the per-dimension second moments.

Work buffers are per thread and reused across blocks and iterations; nothing allocates
(N, K, D).  Kernels are prepared once per parameter set and dtype (see MixtureParams).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating]

LOG_2PI = float(np.log(2.0 * np.pi))
#: Up to this many dimensions, loops over d beat einsum and broadcasting (measured 6x at D=2).
SMALL_D = 4

_local = threading.local()


def scratch(name: str, shape: tuple[int, ...], dtype: np.dtype) -> Array:
    """A per-thread work buffer, grown as needed and reused (contents undefined)."""
    bufs: dict[str, Array] = _local.__dict__.setdefault("bufs", {})
    size = int(np.prod(shape))
    buf = bufs.get(name)
    if buf is None or buf.dtype != dtype or buf.size < size:
        buf = np.empty(max(size, 1), dtype=dtype)
        bufs[name] = buf
    return buf[:size].reshape(shape)


def column_sums(a: Array) -> NDArray[np.float64]:
    """Sum over rows of an (n, K) block as one GEMV (much faster than a.sum(axis=0))."""
    return (np.ones(a.shape[0], dtype=a.dtype) @ a).astype(np.float64)


@dataclass(frozen=True)
class WhitenedKernel:
    """Full and tied covariances."""

    weights: Array  # (D + 1, K*D): stacked U_k with -mu_k U_k as the last row
    chol: NDArray[np.float64]  # (K, D, D) covariance Cholesky factors L_k (Sigma = L L^T)
    const: Array  # (K,) log pi_k + log|U_k| - D/2 log 2 pi
    tied: bool

    @classmethod
    def prepare(cls, means: Array, covariances: Array, prec_chol: Array, log_det: Array,
                log_weights: Array, dtype: np.dtype, tied: bool) -> "WhitenedKernel":
        k, d = means.shape
        u = np.broadcast_to(prec_chol, (k, d, d))
        w = np.empty((d + 1, k * d), dtype=dtype)
        w[:d] = u.transpose(1, 0, 2).reshape(d, k * d)
        w[d] = -np.einsum("kd,kde->ke", means, u).reshape(k * d)
        chol = np.broadcast_to(np.linalg.cholesky(covariances), (k, d, d))
        const = log_weights + log_det - 0.5 * d * LOG_2PI
        return cls(w, chol, const.astype(dtype), tied)

    def log_prob(self, x: Array) -> tuple[Array, Array]:
        n, d = x.shape
        k = self.const.shape[0]
        xa = scratch("xa", (n, d + 1), x.dtype)
        xa[:, :d] = x
        xa[:, d] = 1.0
        z = np.matmul(xa, self.weights, out=scratch("z", (n, k * d), x.dtype))
        z3 = z.reshape(n, k, d)
        lp = scratch("lp", (n, k), x.dtype)
        if d <= SMALL_D:  # a pass per dimension beats einsum's short inner loops
            tmp = scratch("tmp", (n, k), x.dtype)
            np.multiply(z3[:, :, 0], z3[:, :, 0], out=lp)
            for j in range(1, d):
                lp += np.multiply(z3[:, :, j], z3[:, :, j], out=tmp)
        else:
            np.einsum("nkd,nkd->nk", z3, z3, out=lp)
        lp *= -0.5
        lp += self.const
        return lp, z3

    def moments(self, x: Array, resp: Array, z3: Array) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(first moments (K, D), scatter about the current means)."""
        sk = (resp.T @ x).astype(np.float64)
        root = np.sqrt(resp)
        if z3.shape[2] <= SMALL_D:
            for j in range(z3.shape[2]):
                z3[:, :, j] *= root
        else:
            z3 *= root[:, :, None]
        inner = np.matmul(z3.transpose(1, 2, 0), z3.transpose(1, 0, 2)).astype(np.float64)
        if self.tied:
            inner = inner.sum(axis=0)
            scatter = self.chol[0] @ inner @ self.chol[0].T
        else:
            scatter = self.chol @ inner @ self.chol.transpose(0, 2, 1)
        return sk, scatter


@dataclass(frozen=True)
class ExpandedKernel:
    """Diagonal and spherical covariances."""

    center: Array  # (D,) c
    shifted_means: NDArray[np.float64]  # (K, D) mu_k - c
    weights: Array  # (2D, K): [ (mu-c) prec ; -prec/2 ]
    const: Array  # (K,)
    spherical: bool

    @classmethod
    def prepare(cls, means: Array, prec_chol: Array, log_det: Array, log_weights: Array,
                dtype: np.dtype, spherical: bool) -> "ExpandedKernel":
        k, d = means.shape
        prec = np.broadcast_to((prec_chol * prec_chol).reshape(k, -1), (k, d))
        c = means.mean(axis=0)
        ms = means - c
        w = np.empty((2 * d, k), dtype=dtype)
        w[:d] = (ms * prec).T
        w[d:] = -0.5 * prec.T
        const = log_weights + log_det - 0.5 * d * LOG_2PI - 0.5 * (ms * ms * prec).sum(axis=1)
        return cls(c.astype(dtype), ms, w, const.astype(dtype), spherical)

    def log_prob(self, x: Array) -> tuple[Array, Array]:
        n, d = x.shape
        k = self.const.shape[0]
        feats = scratch("feats", (n, 2 * d), x.dtype)
        xs = np.subtract(x, self.center, out=feats[:, :d])
        np.square(xs, out=feats[:, d:])
        lp = np.matmul(feats, self.weights, out=scratch("lp", (n, k), x.dtype))
        lp += self.const
        return lp, feats

    def moments(self, x: Array, resp: Array, feats: Array) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        d = x.shape[1]
        g = (resp.T @ feats).astype(np.float64)
        nk = column_sums(resp)[:, None]
        first, second = g[:, :d], g[:, d:]
        ms = self.shifted_means
        # sum_i r (x - m)^2 = sum r xs^2 - 2 (m - c) sum r xs + n_k (m - c)^2, with xs = x - c
        scatter = second - 2.0 * ms * first + nk * ms * ms
        sk = first + nk * self.center.astype(np.float64)
        return sk, (scatter.sum(axis=1) if self.spherical else scatter)
