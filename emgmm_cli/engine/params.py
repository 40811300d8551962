"""The parameter set of a Gaussian mixture, with its precision factors."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .families import MATRIX, Family, family
from .kernels import ExpandedKernel, WhitenedKernel, log_weights

Array = NDArray[np.floating]


@dataclass(frozen=True, eq=False)
class MixtureParams:
    """Weights (K,), means (K, D) and covariances (the family's shape) of one mixture.

    The precision factors are computed once, at construction, one per component (the
    family's expanded form: see Family.precision_factors); building a params object whose
    covariances are not positive definite raises NotPositiveDefinite.
    """

    weights: Array
    means: Array
    covariances: Array
    covariance_type: str
    precisions_cholesky: Array = field(repr=False)
    log_det: Array = field(repr=False)  # log|U_k| = -0.5 log|Sigma_k|, (K,)

    @classmethod
    def build(
        cls,
        weights: Array,
        means: Array,
        covariances: Array,
        covariance_type: str,
        *,
        reg_covar: float | None = None,
        iteration: int | None = None,
    ) -> "MixtureParams":
        """The mixture of these parameters, its precision factors computed (raising
        NotPositiveDefinite).  reg_covar: the floor of the fit the covariances come from,
        whose 0 (no floor) has them checked for a rank short by rounding as well
        (families.factorise); None for parameters remade from ones already checked
        (reordered, extrapolated, their weights changed), or read from a model file."""
        fam = family(covariance_type)
        weights = np.asarray(weights, dtype=np.float64)
        means = np.atleast_2d(np.asarray(means, dtype=np.float64))
        covariances = np.asarray(covariances, dtype=np.float64)
        k, d = means.shape
        if weights.shape != (k,):
            raise ValueError(f"weights have shape {weights.shape}, expected ({k},)")
        if covariances.shape != fam.shape(k, d):
            raise ValueError(
                f"{covariance_type} covariances have shape {covariances.shape}, "
                f"expected {fam.shape(k, d)}"
            )
        factors, log_det, lower = fam.precision_factors(covariances, k, d, reg_covar,
                                                        iteration)
        return cls.assemble(weights, means, covariances, covariance_type,
                            (factors, log_det, lower))

    @classmethod
    def assemble(cls, weights: Array, means: Array, covariances: Array, covariance_type: str,
                 factorised: tuple[Array, Array, Array | None]) -> "MixtureParams":
        """A params object from parts already checked and factorised (families.factorise:
        precision factors, log|U_k|, covariance factors), as build makes them."""
        factors, log_det, lower = factorised
        params = cls(weights, means, covariances, covariance_type, factors, log_det)
        params.__dict__["_lower"] = lower  # the kernel's covariance factors, computed once
        return params

    def locked(self) -> "MixtureParams":
        """These parameters, their arrays (and the covariance factors computed so far)
        made read-only, in place: for parameters handed out whole (a fit's, a loaded
        model's), whose precision factors and kernels an edit would leave behind.  A copy
        (copy.deepcopy, pickle) is locked as they are (__setstate__)."""
        for values in self._arrays():
            values.flags.writeable = False
        return self

    def _arrays(self) -> list[np.ndarray]:
        return [values for values in (self.weights, self.means, self.covariances,
                                      self.precisions_cholesky, self.log_det,
                                      self.__dict__.get("_lower"))
                if isinstance(values, np.ndarray)]

    def __getstate__(self) -> tuple[dict[str, object], bool]:
        """The state, and whether the arrays are read-only: a pickle or a deep copy
        makes them writable again, and __setstate__ locks the copy as the original."""
        return dict(self.__dict__), not self.weights.flags.writeable

    def __setstate__(self, state: tuple[dict[str, object], bool]) -> None:
        values, locked = state
        self.__dict__.update(values)
        if locked:
            self.locked()

    @property
    def family(self) -> Family:
        return family(self.covariance_type)

    @property
    def n_components(self) -> int:
        return int(self.means.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.means.shape[1])

    def n_parameters(self) -> int:
        """Free parameters: covariances, means and K - 1 weights."""
        k, d = self.means.shape
        return self.family.n_parameters(k, d) + k * d + k - 1

    def permuted(self, order: NDArray[np.intp]) -> "MixtureParams":
        """The same mixture with its components in another order: new component j is
        component order[j].  Covariances shared by the components stay as they are."""
        cov = self.covariances[order] if self.family.per_component else self.covariances
        return MixtureParams.build(self.weights[order], self.means[order], cov,
                                   self.covariance_type)

    def full_covariances(self) -> Array:
        """Covariances as a (K, D, D) stack, whatever the family."""
        return self.family.to_full(self.covariances, self.n_components, self.n_features)

    def covariance_factors(self) -> Array:
        """The lower Cholesky factors L_k of the covariances (K, D, D), Sigma_k = L_k L_k^T
        (families with per-dimension statistics: their expanded diagonals), computed once."""
        lower: Array | None = self.__dict__.get("_lower")
        if lower is None:
            lower = np.linalg.cholesky(self.full_covariances())
            self.__dict__["_lower"] = lower
        return lower

    def kernel(self, dtype: np.dtype) -> "WhitenedKernel | ExpandedKernel":
        """The per-block kernel for these parameters and a data dtype, prepared once.

        log N(x | k) = -0.5 (D log 2 pi + maha) - 0.5 log|Sigma_k|, and log_det holds
        log|U_k| = -0.5 log|Sigma_k| (U the precision factor).
        """
        cache: dict[np.dtype, WhitenedKernel | ExpandedKernel] = \
            self.__dict__.setdefault("_kernels", {})
        dtype = np.dtype(dtype)
        kern = cache.get(dtype)
        if kern is None:
            fam = self.family
            if fam.statistic == MATRIX:
                kern = WhitenedKernel.prepare(self.means, self.covariance_factors(),
                                              self.precisions_cholesky, self.log_det,
                                              log_weights(self.weights), dtype)
            else:
                kern = ExpandedKernel.prepare(self.means, self.precisions_cholesky,
                                              self.log_det, log_weights(self.weights), dtype)
            cache[dtype] = kern
        return kern
