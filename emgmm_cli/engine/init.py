"""Initial parameters: every method ends in one reduction and one M-step.

- ``kmeans``: Lloyd's k-means (k-means++ seeding), then each point to its nearest centre;
- ``k-means++``: the k-means++ seeds alone as centres, then nearest-centre assignment;
- ``random-from-data``: K distinct data points as centres, then nearest-centre assignment;
- ``random``: random responsibilities (uniform, normalised per row);
- ``means_init``: given centres, then nearest-centre assignment;
- ``hc``: mclust's model-based hierarchical agglomeration cut at K (see hc.py).  The tree
  is deterministic, so only the first restart of a fit starts from it; restarts 2.. start
  from HC_RESTART_INITS in turn (see restart_method), which reach other optima.

Hard assignments (or random responsibilities) give sufficient statistics by the same
reduction EM uses, and the M-step turns them into weights, means and covariances.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import vocab
from ..interrupts import stop_point
from ..vocab import MEANS_INIT
from .dataset import Dataset, first_text, reduce_weighted, row_weights, take_weights
from .em import m_step
from .errors import FEWER_COMPONENTS, STANDARDIZE, InvalidParameter
from .hc import HcTree, build_hc_tree, hc_stats
from .params import MixtureParams
from .stats import SuffStats, stats_from_resp

Array = NDArray[np.floating]
Weights = NDArray[np.float64] | None

INIT_METHODS: tuple[str, ...] = vocab.names(vocab.INIT_METHODS)
#: What restarts 2, 3, ... start from, in turn, when the init is "hc" (the hierarchy gives
#: one start only).
HC_RESTART_INITS: tuple[str, ...] = ("random",)


def restart_method(init: str, restart: int) -> str:
    """The initialisation of restart ``restart`` (0-based) of a fit whose init is ``init``."""
    if init != "hc" or restart == 0:
        return init
    return HC_RESTART_INITS[(restart - 1) % len(HC_RESTART_INITS)]

#: Rows of the in-memory sample that k-means++ seeding and distinct-point draws use.
SEED_SAMPLE_ROWS = 50_000
#: Rows per logical block of the random-responsibility stream (independent of chunking).
RANDOM_BLOCK_ROWS = 1024
KMEANS_MAX_ITER = 100
KMEANS_TOL = 1e-4


#: Numbers in one block of the differences squared_distances forms (512 KiB of float64).
_DIFF_BLOCK = 1 << 16


def squared_distances(x: Array, centers: Array) -> Array:
    """(n, K) squared Euclidean distances, subtracting before squaring (no cancellation).

    Each distance is the einsum of a (D,) difference with itself.  How einsum adds up the
    D squares depends on the layout of the differences: laid out as x is (np.empty_like),
    one centre at a time, as ever.  Where that layout is row-major (C order), a block of
    rows is instead repeated K times and each copy minus every centre in one subtraction:
    fewer calls and a contiguous inner loop, the same numbers."""
    n, d = x.shape
    c = centers.astype(x.dtype, copy=False)
    k = len(c)
    out = np.empty((n, k), dtype=np.float64)
    buf = np.empty_like(x)
    if not buf.flags.c_contiguous:  # a column-major x: its own order of the sums
        for j, row in enumerate(c):
            np.subtract(x, row, out=buf)
            out[:, j] = np.einsum("ij,ij->i", buf, buf)
        return out
    step = max(1, _DIFF_BLOCK // max(1, k * d))
    for first in range(0, n, step):
        part = x[first:first + step]
        diff = np.repeat(part, k, axis=0)
        diff.reshape(len(part), k, d).__isub__(c)
        out[first:first + len(part)] = np.einsum("ij,ij->i", diff, diff).reshape(-1, k)
    return out


def _one_hot(labels: NDArray[np.intp], k: int, dtype: np.dtype) -> Array:
    resp = np.zeros((labels.shape[0], k), dtype=dtype)
    resp[np.arange(labels.shape[0]), labels] = 1.0
    return resp


def _nearest_center_stats(x: Array, centers: Array, covariance_type: str,
                          origin: Array, w: Weights = None) -> SuffStats:
    labels = squared_distances(x, centers).argmin(axis=1)
    return stats_from_resp(x, _one_hot(labels, centers.shape[0], x.dtype), origin,
                           covariance_type, w)


def _random_resp(start: int, stop: int, k: int, seed: int) -> Array:
    """Uniform random responsibilities for rows [start, stop), normalised per row.

    Drawn in logical blocks of RANDOM_BLOCK_ROWS rows, each from its own seeded stream, so
    row i gets the same values however the data is chunked or threaded.
    """
    first, last = start // RANDOM_BLOCK_ROWS, (stop - 1) // RANDOM_BLOCK_ROWS
    # a block's stream gives its rows in order, so the last block is drawn only as far
    # as it is needed
    parts = [np.random.default_rng([seed, b]).random(
        (min(RANDOM_BLOCK_ROWS, stop - b * RANDOM_BLOCK_ROWS), k))
        for b in range(first, last + 1)]
    block = (parts[0] if len(parts) == 1 else np.concatenate(parts))
    block = block[start - first * RANDOM_BLOCK_ROWS:]
    return block / block.sum(axis=1, keepdims=True)


def _random_resp_stats(x: Array, start: int, *, k: int, seed: int, covariance_type: str,
                       origin: Array, w: Weights = None) -> SuffStats:
    resp = _random_resp(start, start + x.shape[0], k, seed).astype(x.dtype)
    return stats_from_resp(x, resp, origin, covariance_type, w)


@dataclass
class _Lloyd:
    counts: Array
    sums: Array
    inertia: float

    def __add__(self, other: "_Lloyd") -> "_Lloyd":
        return _Lloyd(self.counts + other.counts, self.sums + other.sums,
                      self.inertia + other.inertia)


def _lloyd_chunk(x: Array, centers: Array, w: Weights = None) -> _Lloyd:
    """Lloyd's sums of a chunk; with weights, each row counts w_i times."""
    d2 = squared_distances(x, centers)
    labels = d2.argmin(axis=1)
    k, d = centers.shape
    x64 = x.astype(np.float64, copy=False)
    nearest = d2[np.arange(len(labels)), labels]
    if w is not None:
        x64, nearest = x64 * w[:, None], nearest * w
    # the sums of each centre's rows, added in row order (as np.add.at adds them), in one
    # bincount over the (row, column) cells
    cells = (labels[:, None] * d + np.arange(d)).reshape(-1)
    sums = np.asarray(np.bincount(cells, weights=x64.reshape(-1), minlength=k * d),
                      dtype=np.float64).reshape(k, d)
    return _Lloyd(np.bincount(labels, weights=w, minlength=k).astype(np.float64), sums,
                  float(nearest.sum()))


def _sample(data: Dataset, rng: np.random.Generator) -> tuple[Array, Weights]:
    """An in-memory sample of the rows (all of them up to SEED_SAMPLE_ROWS) and their
    weights (None for unweighted data)."""
    n = data.n_samples
    if n <= SEED_SAMPLE_ROWS:
        rows = np.arange(n)
    else:
        rows = np.sort(rng.choice(n, size=SEED_SAMPLE_ROWS, replace=False))
    return data.take(rows).astype(np.float64, copy=False), take_weights(data, rows)


def kmeans_plusplus(x: Array, k: int, rng: np.random.Generator, w: Weights = None) -> Array:
    """Greedy k-means++ seeding on an in-memory sample: K distinct rows of x.  With
    weights, rows are drawn with probability proportional to w_i (times the squared
    distance to the nearest seed after the first), as if row i were there w_i times."""
    n = x.shape[0]
    if w is not None and not (w != w[0]).any():
        w = None  # equal weights draw as no weights do: the seeds of the unweighted rows
    trials = 2 + int(math.log(k)) if k > 1 else 1
    centers = np.empty((k, x.shape[1]))
    centers[0] = x[rng.integers(n) if w is None else rng.choice(n, p=w / w.sum())]
    closest = squared_distances(x, centers[:1])[:, 0]
    for c in range(1, k):
        mass = closest if w is None else closest * w
        total = mass.sum()
        if not total > 0:
            raise _no_seeds(x, k)
        cand = np.searchsorted(np.cumsum(mass), rng.random(trials) * total)
        cand = np.minimum(cand, n - 1)
        d2 = squared_distances(x, x[cand])
        np.minimum(closest[:, None], d2, out=d2)
        best = int(np.argmin((d2 if w is None else d2 * w[:, None]).sum(axis=0)))
        centers[c] = x[cand[best]]
        closest = d2[:, best]
    return centers


def _no_seeds(x: Array, k: int) -> InvalidParameter:
    """Why k-means++ found no point away from the seeds it has: too few distinct points,
    or squared distances that vanish in float64."""
    n_distinct = len(np.unique(x, axis=0))
    if n_distinct < k:
        return InvalidParameter(f"cannot seed {k} components: the sample has only "
                                f"{n_distinct} distinct points", advice=(FEWER_COMPONENTS,))
    return InvalidParameter(f"cannot seed {k} components: the squared distances between the "
                            f"{n_distinct} distinct points underflow", advice=(STANDARDIZE,))


def kmeans(data: Dataset, k: int, rng: np.random.Generator,
           column_variance: Array) -> Array:
    """Lloyd's algorithm from k-means++ seeds.

    Up to SEED_SAMPLE_ROWS rows it runs on the whole dataset (one reduction per
    iteration).  Beyond, it runs on the in-memory sample the seeds were drawn from: an
    EM start needs good centres, not a converged k-means of every row, and up to
    KMEANS_MAX_ITER passes over data larger than memory would cost more than the fit.
    """
    sample, w = _sample(data, rng)
    centers = kmeans_plusplus(sample, k, rng, w)
    tol = KMEANS_TOL * float(np.mean(column_variance))
    whole = data.n_samples <= SEED_SAMPLE_ROWS
    for _ in range(KMEANS_MAX_ITER):
        stop_point()
        st = (reduce_weighted(data, partial(_lloyd_chunk, centers=centers)) if whole
              else _lloyd_chunk(sample, centers, w))
        filled = st.counts > 0
        if filled.all():
            new = st.sums / st.counts[:, None]
        else:
            new = centers.copy()
            new[filled] = st.sums[filled] / st.counts[filled, None]
            # An empty cluster moves to the sample point (of weight > 0) farthest from
            # every centre.
            gap = squared_distances(sample, new).min(axis=1)
            far = np.argsort(gap if w is None else np.where(w > 0, gap, -1.0))[::-1]
            for j, idx in zip(np.flatnonzero(~filled), far):
                new[j] = sample[idx]
        shift = float(((new - centers) ** 2).sum())
        centers = new
        if shift <= tol:
            break
    return centers


def distinct_rows(data: Dataset, k: int) -> int:
    """Number of distinct rows (of weight above 0, where the rows are weighted), counted
    only up to k: once k are found, the count so far (at least k; it stops reading).
    Each block's first 4 k rows are looked at first, since on most data they hold k
    distinct ones and a whole block's sort is then not needed."""
    seen: set[bytes] = set()
    w = row_weights(data)

    def counted(block: Array, first: int) -> Array:
        return block if w is None else block[w[first:first + len(block)] > 0]

    def add(rows: Array) -> bool:
        # + 0.0 makes -0.0 0.0, so that the bytes of equal rows are equal across blocks;
        # return_index, unread, keeps np.unique off its path that imports numpy.ma (10 ms)
        distinct = np.unique(np.ascontiguousarray(rows), axis=0, return_index=True)[0] + 0.0
        seen.update(row.tobytes() for row in distinct)
        return len(seen) >= k

    for _, block in data.scan(counted):
        if add(block[:4 * k]) or (len(block) > 4 * k and add(block)):
            break
    return len(seen)


def _all_distinct(rows: Array) -> bool:
    """Whether no two rows are equal (as np.unique(rows, axis=0) compares them: -0.0 equals
    0.0, NaN equals nothing): sorted lexicographically, equal rows are neighbours."""
    ordered = rows[np.lexsort(rows.T[::-1])]
    return not bool((ordered[1:] == ordered[:-1]).all(axis=1).any())


def _random_from_data(data: Dataset, k: int, rng: np.random.Generator) -> Array:
    """K distinct rows drawn at random (among the rows of weight > 0)."""
    w = row_weights(data)
    pool = data.n_samples if w is None else np.flatnonzero(w > 0)
    rows = np.sort(rng.choice(pool, size=k, replace=False))
    centers = data.take(rows).astype(np.float64, copy=False)
    if _all_distinct(centers):
        return centers
    sample, sw = _sample(data, rng)
    uniq = np.unique(sample if sw is None else sample[sw > 0], axis=0, return_index=True)[0]
    if len(uniq) < k:
        raise InvalidParameter(
            f"cannot draw {k} distinct points from a sample with {len(uniq)} distinct rows"
        )
    return uniq[np.sort(rng.choice(len(uniq), size=k, replace=False))]


def check_means_init(means: Any, k: int, d: int, what: str = "means_init") -> Array:
    """means (an array-like) as the K x D float64 starting means; InvalidParameter (of
    the option means_init) for anything else, non-finite values, or two identical rows.
    what: the means as the message names them."""
    try:
        converted = np.asarray(means, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidParameter(f"{what} must be a {k} x {d} (K x D) array of numbers; the "
                               f"{type(means).__name__} given is not one (numbers in rows of "
                               "one length)", option="means_init") from None
    text = first_text(means)  # "1.5", which numpy converts: text, as in the data
    if text is not None:
        raise InvalidParameter(f"{what} must be numbers, not text such as {str(text[1])!r}",
                               option="means_init")
    means = converted
    if means.ndim == 1 and d == 1:
        means = means[:, None]
    if means.shape != (k, d):
        shape = " x ".join(str(n) for n in means.shape)
        raise InvalidParameter(f"expected {k} x {d} (K x D) {what}, not "
                               f"{shape or 'one number'}", option="means_init")
    if not np.all(np.isfinite(means)):
        raise InvalidParameter(f"{what} contains NaN or infinite values", option="means_init")
    for i in range(k):
        same = np.flatnonzero((means[i + 1:] == means[i]).all(axis=1))
        if len(same):
            raise InvalidParameter(
                f"rows {i} and {i + 1 + int(same[0])} of {what} are identical; "
                "identical starting means can never separate", option="means_init")
    return means


@dataclass(frozen=True)
class StartContext:
    """What every starter may need besides the data and its random stream."""

    k: int
    covariance_type: str
    origin: Array  # (K, D): the centre of the starting statistics (the data's mean)
    column_variance: Array
    means_init: Array | None = None
    hc_tree: HcTree | None = None


Starter = Callable[[Dataset, np.random.Generator, StartContext], SuffStats]


def _from_centers(pick: Callable[[Dataset, np.random.Generator, StartContext], Array]
                  ) -> Starter:
    """A starter that assigns every point to the nearest of the centres pick chooses."""

    def start(data: Dataset, rng: np.random.Generator, ctx: StartContext) -> SuffStats:
        centers = pick(data, rng, ctx)
        st = reduce_weighted(data, partial(_nearest_center_stats, centers=centers,
                                           covariance_type=ctx.covariance_type,
                                           origin=ctx.origin))
        empty = np.flatnonzero(st.nk == 0)
        if len(empty):
            raise InvalidParameter(
                f"initial mean {int(empty[0])} is the nearest to no data point; "
                "move it or use fewer components"
            )
        return st

    return start


def _plusplus_seeds(data: Dataset, rng: np.random.Generator, ctx: StartContext) -> Array:
    sample, w = _sample(data, rng)
    return kmeans_plusplus(sample, ctx.k, rng, w)


def _given_means(data: Dataset, rng: np.random.Generator, ctx: StartContext) -> Array:
    if ctx.means_init is None:
        raise InvalidParameter(f"init {MEANS_INIT!r} needs the starting means")
    return check_means_init(ctx.means_init, ctx.k, data.n_features)


def _random_start(data: Dataset, rng: np.random.Generator, ctx: StartContext) -> SuffStats:
    seed = int(rng.integers(2**63))
    return reduce_weighted(
        data,
        partial(_random_resp_stats, k=ctx.k, seed=seed, covariance_type=ctx.covariance_type,
                origin=ctx.origin),
        indexed=True,
    )


def _hc_start(data: Dataset, rng: np.random.Generator, ctx: StartContext) -> SuffStats:
    tree = ctx.hc_tree if ctx.hc_tree is not None else build_hc_tree(data, rng)
    return hc_stats(data, tree, ctx.k, ctx.covariance_type, origin=ctx.origin)


#: THE table of initialisations: a name (emgmm_cli.vocab.INIT_METHODS, and MEANS_INIT)
#: -> the statistics of the starting partition, which one M-step turns into parameters.
STARTERS: dict[str, Starter] = {
    "kmeans": _from_centers(lambda data, rng, ctx: kmeans(data, ctx.k, rng,
                                                          ctx.column_variance)),
    "k-means++": _from_centers(_plusplus_seeds),
    "random-from-data": _from_centers(lambda data, rng, ctx: _random_from_data(data, ctx.k,
                                                                               rng)),
    MEANS_INIT: _from_centers(_given_means),
    "random": _random_start,
    "hc": _hc_start,
}


def initial_params(
    data: Dataset,
    k: int,
    covariance_type: str,
    method: str,
    rng: np.random.Generator,
    *,
    reg_covar: float,
    column_mean: Array,
    column_variance: Array,
    means_init: Array | None = None,
    hc_tree: HcTree | None = None,
    freeze: frozenset[str] = frozenset(),
) -> MixtureParams:
    """Starting parameters for one EM run: the starter of ``method``, then one M-step.

    For ``hc``, hc_tree is the hierarchy to cut (built here, from rng, when None); given
    means_init, the method is MEANS_INIT whatever ``method`` says.  With "weights" in
    freeze, the weights start (and stay) equal; with "means", given means_init are the
    start's means (the covariances about them), rather than the means of the points
    nearest to each.
    """
    starter = STARTERS.get(MEANS_INIT if means_init is not None else method)
    if starter is None:
        raise ValueError(f"unknown init method {method!r}; choose one of {', '.join(STARTERS)}")
    given = (check_means_init(means_init, k, data.n_features)
             if means_init is not None and "means" in freeze else None)
    # the statistics centred on the means to be taken, whose scatter is then about them
    origin = (np.broadcast_to(column_mean, (k, data.n_features)).copy() if given is None
              else given)
    ctx = StartContext(k, covariance_type, origin, column_variance, means_init, hc_tree)
    params, _ = m_step(starter(data, rng, ctx), origin, covariance_type, reg_covar,
                       freeze=freeze & {"weights"}, means=given)
    return params
