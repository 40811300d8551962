"""Synthetic Gaussian blob data: the generator behind `emgmm make-blobs` and sample_data/.

numpy only. Every draw comes from the caller's numpy.random.Generator, so the same seed
gives the same points, bit for bit. Points are emitted grouped by blob, in blob order (all
of blob 0, then all of blob 1, ...), with the blob index as the label.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import InvalidParameter
from .options import too_many_points

__all__ = ["make_blobs", "random_centers", "split_sizes"]

FLOAT_MAX = float(np.finfo(np.float64).max)


def split_sizes(n_total: int, k: int) -> list[int]:
    """Split n_total points over k blobs as evenly as possible.

    The remainder goes to the first blobs: split_sizes(10, 3) == [4, 3, 3].
    """
    n_total = _as_int(n_total, "the number of points")
    k = _as_int(k, "the number of blobs")
    if k < 1:
        raise InvalidParameter(f"the number of blobs must be >= 1, got {k}")
    if n_total < 0:
        raise InvalidParameter(f"the number of points must be >= 0, got {n_total}",
                               option="n_samples")
    base, remainder = divmod(n_total, k)
    return [base + 1 if i < remainder else base for i in range(k)]


def random_centers(
    k: int,
    d: int,
    box: tuple[float, float] = (-10.0, 10.0),
    *,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Draw k centres uniformly in the box [low, high)^d; returns a (k, d) float64 array."""
    k = _as_int(k, "the number of blobs")
    d = _as_int(d, "the number of dimensions")
    if k < 1:
        raise InvalidParameter(f"the number of blobs must be >= 1, got {k}")
    if d < 1:
        raise InvalidParameter(f"the number of dimensions must be >= 1, got {d}")
    if len(box) != 2:
        raise InvalidParameter(f"box must be a pair (low, high), got {box!r}")
    low, high = float(box[0]), float(box[1])
    if not (math.isfinite(high - low) and low < high):
        raise InvalidParameter(f"box must satisfy low < high with a finite width high - low, got "
                               f"({low:g}, {high:g})")
    _check_rng(rng)
    return rng.uniform(low, high, size=(k, d)).astype(np.float64, copy=False)


def make_blobs(
    sizes: Sequence[int],
    centers: ArrayLike,
    *,
    std: float | Sequence[float] = 1.0,
    covariances: ArrayLike | None = None,
    rng: np.random.Generator,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Draw Gaussian blobs around the given centres.

    sizes: points per blob (K non-negative integers).
    centers: (K, D) blob centres.
    std: one standard deviation for every blob, or one per blob (isotropic blobs).
    covariances: (K, D, D) symmetric positive definite covariances; when given, the points
        are drawn through their Cholesky factors and std must be left at its default.
    rng: the source of every draw.

    Returns X (N, D) float64 and labels (N,) int64, N = sum(sizes), grouped by blob in
    order. Raises InvalidParameter for any inconsistent or out-of-range argument.
    """
    _check_rng(rng)
    mu = _check_centers(centers)
    k, d = mu.shape
    counts = _check_sizes(sizes, k)
    scales = _check_std(std, k)

    factors: NDArray[np.float64] | None = None
    if covariances is not None:
        if not np.all(scales == 1.0):
            raise InvalidParameter(
                "give either std or covariances, not both (std must be left at 1 when "
                "covariances are given)"
            )
        factors = _cholesky_factors(covariances, k, d)

    x, labels = _allocate(sum(counts), d)
    start = 0
    for j, n_j in enumerate(counts):
        stop = start + n_j
        x[start:stop] = _blob_points(j, rng.standard_normal((n_j, d)), mu[j], scales[j],
                                     None if factors is None else factors[j])
        labels[start:stop] = j
        start = stop
    return x, labels


def _allocate(n: int, d: int) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Room for n points of d coordinates and their labels.  More bytes than numpy can
    address (it says ValueError: array is too big) is more memory than there is."""
    try:
        return np.empty((n, d), dtype=np.float64), np.empty(n, dtype=np.int64)
    except ValueError:
        raise MemoryError(f"{n} points of {d} coordinates take more bytes than numpy can "
                          "address") from None


def _blob_points(j: int, z: NDArray[np.float64], center: NDArray[np.float64], scale: float,
                 factor: NDArray[np.float64] | None) -> NDArray[np.float64]:
    """Blob j's points from standard normal draws z: center + L z with L the Cholesky
    factor of its covariance (whose entries, at most sqrt(FLOAT_MAX) = 1.3e154, carry no
    point beyond the float64 range), or center + scale z.  Those are checked themselves:
    exactly a std that carries one beyond the range is refused (InvalidParameter, option
    "centers"), computed without numpy's warnings."""
    if factor is not None:
        return z @ factor.T + center
    with np.errstate(over="ignore"):
        points = z * scale + center
    if not np.isfinite(points).all():
        where = ", ".join(f"{c:g}" for c in center)
        raise InvalidParameter(
            f"blob {j}: points around center ({where}) with std {scale:g} lie beyond the "
            f"float64 range (about -{FLOAT_MAX:.2g} to {FLOAT_MAX:.2g}); give a smaller "
            "center or std", option="centers")
    return points


# --- validation helpers -----------------------------------------------------------------


def _as_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidParameter(f"{what} must be an integer, got {value!r}")
    return int(value)


def _check_rng(rng: object) -> None:
    if not isinstance(rng, np.random.Generator):
        raise InvalidParameter(
            f"rng must be a numpy.random.Generator (numpy.random.default_rng(seed)), got "
            f"{type(rng).__name__}"
        )


def _check_centers(centers: ArrayLike) -> NDArray[np.float64]:
    try:
        mu = np.asarray(centers, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidParameter(f"centers must be a (K, D) array of numbers: {exc}") from None
    if mu.ndim != 2 or mu.shape[0] < 1 or mu.shape[1] < 1:
        raise InvalidParameter(f"centers must be a (K, D) array with K, D >= 1, got shape {mu.shape}")
    if not np.all(np.isfinite(mu)):
        bad = int(np.argwhere(~np.isfinite(mu))[0, 0])
        raise InvalidParameter(f"blob {bad}: center is not finite", option="center")
    return mu


def _check_sizes(sizes: Sequence[int], k: int) -> list[int]:
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, (Sequence, np.ndarray)):
        raise InvalidParameter(f"sizes must be a sequence of integers, got {sizes!r}")
    values = list(np.asarray(sizes).ravel()) if isinstance(sizes, np.ndarray) else list(sizes)
    if len(values) != k:
        raise InvalidParameter(f"{len(values)} sizes given for {k} centers; give one size per blob",
                               option="n_samples")
    counts: list[int] = []
    for j, value in enumerate(values):
        n_j = _as_int(value, f"blob {j}: size")
        if n_j < 0:
            raise InvalidParameter(f"blob {j}: size must be >= 0, got {n_j}", option="n_samples")
        counts.append(n_j)
    why = too_many_points(counts)
    if why is not None:
        raise InvalidParameter(why)
    return counts


def _check_std(std: float | Sequence[float], k: int) -> NDArray[np.float64]:
    try:
        arr = np.asarray(std, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidParameter(f"std must be a number or a sequence of numbers: {exc}",
                               option="std") from None
    if arr.ndim > 1:
        raise InvalidParameter(f"std must be a number or a sequence of numbers, got shape "
                               f"{arr.shape}", option="std")
    arr = arr.reshape(-1)
    if arr.size not in (1, k):
        raise InvalidParameter(f"{arr.size} std values given for {k} blobs; give 1 or {k}",
                               option="std")
    for j, value in enumerate(arr):
        if math.isnan(value) or value < 0 or math.isinf(value):
            where = f"blob {j}: " if arr.size > 1 else ""
            raise InvalidParameter(f"{where}std must be finite and >= 0, got {value:g}",
                                   option="std")
    return np.broadcast_to(arr, (k,)).copy()


def _cholesky_factors(covariances: ArrayLike, k: int, d: int) -> NDArray[np.float64]:
    try:
        cov = np.asarray(covariances, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidParameter(f"covariances must be a (K, D, D) array of numbers: {exc}") from None
    if cov.shape != (k, d, d):
        raise InvalidParameter(
            f"covariances must have shape (K, D, D) = ({k}, {d}, {d}) to match centers, got "
            f"{cov.shape}", option="covariances")
    factors = np.empty_like(cov)
    for j in range(k):
        c = cov[j]
        if not np.all(np.isfinite(c)):
            raise InvalidParameter(f"blob {j}: covariance has non-finite entries")
        scale = float(np.max(np.abs(c))) if c.size else 0.0
        if not np.allclose(c, c.T, rtol=1e-10, atol=1e-12 * scale):
            raise InvalidParameter(f"blob {j}: covariance is not symmetric")
        try:
            # halves summed: c + c.T may overflow; but a symmetric c as it is (halving
            # a subnormal variance, 5e-324, makes it 0)
            sym = c if np.array_equal(c, c.T) else 0.5 * c + 0.5 * c.T
            factors[j] = np.linalg.cholesky(sym)
        except np.linalg.LinAlgError:
            raise InvalidParameter(f"blob {j}: covariance is not positive definite") from None
    return factors
