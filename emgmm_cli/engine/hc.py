"""Model-based agglomerative hierarchical clustering: the ``hc`` initialisation.

This is the start mclust gives EM (Banfield & Raftery 1993; Fraley 1998): put every row in
a group of its own and repeatedly merge the two groups whose union costs the least
classification likelihood.  For the unconstrained Gaussian model (mclust's "VVV"), twice
the negative classification log-likelihood of a partition is, up to constants,
sum over groups C of n_C log det(W_C / n_C), where W_C is the scatter matrix of the rows of
C about their mean.  That is undefined while a group has too few rows to span the space
(a singleton has W_C = 0), so each group is scored as Fraley does:

    cost(C) = n_C log( det(W_C / n_C) + beta (tr(W_C) + alpha s) / n_C )

with s = tr(W_all) / (N d) (the mean column variance of the transformed data) and
alpha = beta = 1, mclust's defaults.  For a small group the determinant is zero and the
trace term ranks merges by spread; for a large one the determinant dominates and the score
is the plain VVV criterion.  A merge of A and B costs cost(A u B) - cost(A) - cost(B); the
cheapest is taken.  Ties, frequent where rows repeat, go as mclust's go: to the pair (a, b),
a < b, with the largest b, then the largest a; with that rule the tree of Old Faithful and
of iris cut at K = 1..9 gives mclust 6.0's partitions (tests/test_hc_mclust.py).

Before clustering, the rows are transformed as mclust >= 5.4 does by default
(``mclust.options("hcUse") == "SVD"``): centred, scaled to unit variance, rotated onto the
right singular vectors, and each direction divided by the square root of its singular
value.  Constant columns are dropped.

Speed.  The costs of all pairs are kept in an m x m matrix, and for each row a lower bound
of its minimum that is exact for most rows.  A merge re-scores the new group against every
live group in one vectorised pass (against the empty group as well: that is its cost on
its own); a row whose minimum was with one of the merged groups keeps it as a bound, and
is searched again only when its bound is the least of all.  The first matrix (pairs of
rows) is one expression per block of rows: two rows have scatter
(z_j - z_i)(z_j - z_i)' / 2, of determinant zero unless d = 1.  The groups' statistics
are stored one column per group (sizes, means, the upper triangle of the scatter), so
every step is a whole-array operation.  A determinant is computed only where it can
count: never for a group of at most d rows, nor (d >= 4) where its AM-GM bound
(tr(W) / (n d))^d is too small to change the sum with the trace term.  It is written out
for d = 2 and 3, an LDL' elimination vectorised over the groups above, and LAPACK's
slogdet for d = 1 (where every pair needs one).  Traces are added up in numpy's own order
and the pooled statistics formed with the same operations as ever, so where no
determinant is needed a score is the same number to the last bit; elsewhere it differs
from one computed by LAPACK by rounding only.

The agglomeration needs O(m^2) memory and about m^2 pair scores (each O(d) to O(d^3)) for
m rows, so it runs on at most HC_MAX_ROWS rows (mclust's default ``subset``), and the
groups' packed scatters m d (d + 1) / 2 more numbers, so on wide data on fewer (hc_rows:
as many as keep those within HC_BYTES): a larger dataset is clustered on a random
subsample of that many rows, and the starting parameters are estimated from the
subsample's partition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from numpy.typing import NDArray

from ..interrupts import stop_point
from .dataset import Dataset, take_weights
from .errors import ANOTHER_INIT, FEWER_COMPONENTS, InvalidParameter
from .families import scatter_about_means
from .missing import row_missing
from .stats import SuffStats, stats_from_resp

Array = NDArray[np.floating]

#: Most rows the agglomeration runs on (mclust.options("subset") is 2000 too).
HC_MAX_ROWS = 2000
#: Most bytes the groups' packed scatter matrices take (hc_rows): m rows of D columns
#: hold m d' (d' + 1) / 2 numbers, d' = min(D, m - 1); 2000 rows of up to 89 columns fit.
HC_BYTES = 64 << 20
#: Fraley's (1998) regularisation constants of the VVV criterion (mclust's defaults).
HC_ALPHA = 1.0
HC_BETA = 1.0


@dataclass(frozen=True)
class HcTree:
    """The merge sequence of an agglomeration of some rows of a dataset.

    rows:   the dataset rows that were clustered (sorted), or None for all of them
    merges: (m - g, 2) pairs (a, b) with a < b: at step t, group b joined group a, where
            groups start as the clustered rows 0..m-1 in order and g is where it stopped
    n_rows: m, the number of clustered rows
    """

    rows: NDArray[np.intp] | None
    merges: NDArray[np.intp]
    n_rows: int
    #: the cuts made so far: k -> partition(k)
    _cuts: dict[int, NDArray[np.intp]] = field(default_factory=dict, init=False, repr=False,
                                               compare=False)

    def __getstate__(self) -> dict[str, object]:
        """Pickled without the cuts made so far (a worker process makes its own)."""
        return {"rows": self.rows, "merges": self.merges, "n_rows": self.n_rows}

    def __setstate__(self, state: dict[str, object]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_cuts", {})

    @property
    def min_groups(self) -> int:
        """The fewest groups the tree reaches (1 for a complete tree)."""
        return self.n_rows - int(self.merges.shape[0])

    def partition(self, k: int) -> NDArray[np.intp]:
        """Labels 0..k-1 of the clustered rows when the tree is cut at k groups (read-only).

        A merged group keeps the lower index, that of its first row, so the labels number
        the groups in order of their first row: a pure function of the tree.  A selection
        cuts one tree at the same K for every family, so each cut is kept on the tree.
        """
        if not self.min_groups <= k <= self.n_rows:
            raise InvalidParameter(
                f"hc: cannot cut the hierarchy of {self.n_rows} rows at {k} groups",
                advice=(FEWER_COMPONENTS, ANOTHER_INIT),
            )
        labels = self._cuts.get(k)
        if labels is None:
            labels = _cut(self.merges[: self.n_rows - k], self.n_rows)
            labels.flags.writeable = False
            self._cuts[k] = labels
        return labels


def _cut(merges: NDArray[np.intp], m: int) -> NDArray[np.intp]:
    """The labels of m rows after the given merges: each b points at its a (a < b, and a
    group is named by its first row), and pointer jumping (owner = owner[owner], about
    log2 of the depth times) takes every row to the first row of its group; the groups
    are then numbered in order of their first rows."""
    owner = np.arange(m, dtype=np.intp)
    owner[merges[:, 1]] = merges[:, 0]
    while True:
        up = owner[owner]
        if np.array_equal(up, owner):
            break
        owner = up
    first = owner == np.arange(m)
    return (np.cumsum(first) - 1).astype(np.intp)[owner]


def svd_scale(x: Array) -> Array:
    """mclust's "SVD" transformation: standardise, rotate onto the right singular vectors,
    divide each direction by the square root of its singular value.  Constant columns
    (and directions with no spread) are dropped."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape[0] < 2:
        return np.zeros((x.shape[0], 0))
    sd = x.std(axis=0, ddof=1)
    live = sd > 0
    if not live.any():
        return np.zeros((x.shape[0], 0))
    z = (x[:, live] - x[:, live].mean(axis=0)) / sd[live]
    _, sing, vt = np.linalg.svd(z, full_matrices=False)
    keep = sing > sing[0] * 1e-12
    return (z @ vt[keep].T) / np.sqrt(sing[keep])


#: A determinant below this fraction of the trace term cannot change their sum (half an ulp
#: of a float64 is at least 2**-54 of it): such pairs skip the determinant (d >= 4).
_NEGLIGIBLE = 2.0 ** -60
#: About how many numbers a block of the first matrix of merge costs holds.
_BLOCK_SIZE = 1 << 20

Index = NDArray[np.intp] | slice
#: (lambda sel: the packed scatter matrices of the groups sel, one column each)
Packed = Callable[[Index], Array]


def _row_sums(x: Array) -> Array:
    """x.sum(axis=0), added up as numpy adds up the d numbers of a row of a contiguous
    (n, d) array (and so np.trace a matrix): left to right below 8 terms, from 8 with 8
    running sums combined pairwise, halving above 128.  With x laid out (d, ...) every
    step is a whole-array operation."""
    d = x.shape[0]
    if d < 8:
        total = x[0] + x[1] if d > 1 else x[0].copy()
        for k in range(2, d):
            total += x[k]
        return total
    if d > 128:
        half = d // 2 - (d // 2) % 8
        return _row_sums(x[:half]) + _row_sums(x[half:])
    acc = x[:8].copy()
    for k in range(8, d - d % 8, 8):
        acc += x[k:k + 8]
    pairs = acc[0::2] + acc[1::2]
    total = (pairs[0] + pairs[1]) + (pairs[2] + pairs[3])
    for k in range(d - d % 8, d):
        total += x[k]
    return total


def _det_ldl(a: Array) -> Array:
    """Determinants of symmetric positive semi-definite matrices, stacked on the last axis
    ((d, d, n), overwritten): the product of the pivots of an LDL' elimination (no
    pivoting is needed for such matrices; a pivot that rounding leaves at or below zero
    makes the determinant zero)."""
    d = a.shape[0]
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        for k in range(d - 1):
            lower = a[k + 1:, k] / a[k, k]
            a[k + 1:, k + 1:] -= lower[:, None, :] * a[None, k, k + 1:]
        pivots = np.diagonal(a).T  # (d, n)
        det = np.prod(pivots, axis=0)
    det[~np.all((pivots > 0) & (pivots < np.inf), axis=0)] = 0.0
    return det


class _Criterion:
    """The VVV score of groups, given their sizes, traces and scatter matrices.

    A scatter matrix is packed as its upper triangle, row by row (q = d (d + 1) / 2
    numbers), and a stack of them is laid out (q, n): one column per group.
    """

    def __init__(self, d: int, s: float, alpha: float, beta: float) -> None:
        self.d = d
        self.ridge = alpha * s
        self.beta = beta
        self.upper = np.triu_indices(d)
        q = len(self.upper[0])
        self.unpack = np.zeros((d, d), dtype=np.intp)
        self.unpack[self.upper] = np.arange(q)
        self.unpack.T[self.upper] = np.arange(q)
        self.diagonal = np.flatnonzero(self.upper[0] == self.upper[1])

    def score(self, n: Array | float, tr: Array, det: Array | float) -> Array:
        """n log(det + beta (tr + alpha s) / n), given the determinant of W / n."""
        return n * np.log(det + self.beta * (tr + self.ridge) / n)

    def cost(self, n: Array, tr: Array, packed: Packed) -> Array:
        """The score of groups of n rows whose scatter W has trace tr; packed(sel) gives
        the W whose determinant is needed.

        A group of at most d rows has a singular scatter: its determinant is zero (rounding
        may leave a tiny number of either sign there), and so it is where the determinant
        is too small to change the sum.  Both are decided from n and tr alone, and W is
        asked for the rest only.
        """
        det = np.zeros(len(n))
        need = n > self.d
        if self.d >= 4:
            with np.errstate(over="ignore", under="ignore"):
                bound = (2.0 * tr / (n * self.d)) ** self.d  # >= det(W / n) (AM-GM)
            need &= bound > self.beta * (tr + self.ridge) / n * _NEGLIGIBLE
        found = np.flatnonzero(need)
        if len(found):
            sel: Index = slice(None) if len(found) == len(n) else found
            det[sel] = np.maximum(self._det(packed(sel) / n[sel]), 0.0)
        return self.score(n, tr, det)

    def _det(self, v: Array) -> Array:
        """Determinants of packed symmetric matrices: written out up to d = 3."""
        if self.d == 1:
            # exp(log) as LAPACK's slogdet gives it, so that in one dimension, where every
            # pair needs its determinant, equal distances round alike
            sign, logdet = np.linalg.slogdet(v[0][:, None, None])
            return np.where(sign > 0, np.exp(logdet), 0.0)
        if self.d == 2:
            return v[0] * v[2] - v[1] * v[1]
        if self.d == 3:
            a, b, c, e, f, i = v
            return a * (e * i - f * f) - b * (b * i - f * c) + c * (b * f - e * c)
        return _det_ldl(v[self.unpack])

    def merged(self, a: int, groups: _Groups, others: NDArray[np.intp]) -> Array:
        """The cost of group a merged with each of the others: the pooled scatter is
        W_a + W_j + n_a n_j / (n_a + n_j) (mean_j - mean_a)(mean_j - mean_a)'."""
        n_a, n = groups.n[a], groups.n.take(others)
        total = n_a + n
        coef = n_a * n / total
        delta = groups.means.take(others, axis=1) - groups.means[:, a, None]
        row, col = self.upper

        def packed(sel: Index) -> Array:
            part = delta[:, sel]
            w = part[row] * part[col]
            w *= coef[sel]
            w += groups.packed.take(others[sel], axis=1)
            w += groups.packed[:, a, None]
            return w

        if self.d <= 3:  # determinants are cheap: every pooled scatter in full
            w = packed(slice(None))
            det = np.where(total > self.d, np.maximum(self._det(w / total), 0.0), 0.0)
            return self.score(total, _row_sums(w[self.diagonal]), det)
        sq = delta * delta
        sq *= coef
        sq += groups.diag.take(others, axis=1)
        sq += groups.diag[:, a, None]
        return self.cost(total, _row_sums(sq), packed)

    def singleton_pairs(self, z: Array, own: float) -> Array:
        """The (m, m) matrix of the costs of merging two rows (inf on the diagonal), a block
        of rows at a time, the upper triangle only.  A pair's scatter is
        (z_j - z_i)(z_j - z_i)' / 2, whose determinant is zero (two rows) unless d = 1."""
        m, d = z.shape
        cols = np.ascontiguousarray(z.T)
        delta = np.empty((m, m))
        step = max(1, _BLOCK_SIZE // max(1, m * d))
        for i0 in range(0, m, step):
            rows = min(step, m - i0)
            half = cols[:, None, i0:] - cols[:, i0:i0 + rows, None]
            half *= half
            half *= 0.5
            if d == 1:
                flat = half.reshape(1, -1)
                block = self.cost(np.full(flat.shape[1], 2.0), flat[0],
                                  lambda sel: flat[:, sel]).reshape(rows, m - i0)
            else:
                block = self.score(2.0, _row_sums(half), 0.0)
            block -= own
            block -= own
            delta[i0:i0 + rows, i0:] = block
            delta[i0:, i0:i0 + rows] = block.T
        np.fill_diagonal(delta, np.inf)
        return delta


class _Groups:
    """Sizes, means and packed scatter matrices of the groups, one column per group, and
    last the empty group (n = 0: merged with it, a group is scored on its own)."""

    def __init__(self, z: Array, upper: tuple[NDArray[np.intp], NDArray[np.intp]]) -> None:
        m, d = z.shape
        self.upper = upper
        self.n = np.ones(m + 1)
        self.n[m] = 0.0
        self.means = np.zeros((d, m + 1))
        self.means[:, :m] = z.T
        self.packed = np.zeros((len(upper[0]), m + 1))
        self.diagonal = np.flatnonzero(upper[0] == upper[1])
        self.entries = list(zip(upper[0].tolist(), upper[1].tolist()))
        self.diag = np.zeros((d, m + 1))  # the diagonals of the scatter matrices

    def join(self, a: int, b: int) -> None:
        """b joins a: pooled size, mean and scatter."""
        if len(self.diagonal) <= 3:
            self._join_numbers(a, b)
            return
        n, means, row, col = self.n, self.means, *self.upper
        total = n[a] + n[b]
        diff = means[:, b] - means[:, a]
        self.packed[:, a] += self.packed[:, b] + (n[a] * n[b] / total) * (diff[row] * diff[col])
        means[:, a] = (n[a] * means[:, a] + n[b] * means[:, b]) / total
        n[a] = total
        self.diag[:, a] = self.packed[self.diagonal, a]

    def _join_numbers(self, a: int, b: int) -> None:
        """join, one number at a time (d <= 3: faster so), in the same order of operations."""
        n, means, packed = self.n, self.means, self.packed
        n_a, n_b = n.item(a), n.item(b)
        total = n_a + n_b
        coef = n_a * n_b / total
        diff = [means.item(k, b) - means.item(k, a) for k in range(len(means))]
        for p, (k, l) in enumerate(self.entries):
            packed[p, a] = packed.item(p, a) + (packed.item(p, b) + coef * (diff[k] * diff[l]))
        for k in range(len(means)):
            means[k, a] = (n_a * means.item(k, a) + n_b * means.item(k, b)) / total
            self.diag[k, a] = packed.item(self.entries.index((k, k)), a)
        n[a] = total


def _last_argmin(rows: Array) -> NDArray[np.intp]:
    """The last column where each row of a (r, m) array takes its minimum."""
    m = rows.shape[1]
    return (m - 1 - np.argmin(rows[:, ::-1], axis=1)).astype(np.intp)


def _cheapest(rows: NDArray[np.intp], best_at: NDArray[np.intp]) -> tuple[int, int]:
    """The pair (a, b), a < b, to merge, given the rows whose minimum is the least: among
    equally cheap pairs the one with the largest b, then the largest a (each row's best_at
    is the last column of its minimum, so the row of that b holds that pair)."""
    if len(rows) == 2 and best_at[rows[0]] == rows[1] and best_at[rows[1]] == rows[0]:
        return int(rows[0]), int(rows[1])  # the usual case: one pair, seen from both ends
    partner = best_at[rows]
    lo, hi = np.minimum(rows, partner), np.maximum(rows, partner)
    pick = np.lexsort((lo, hi))[-1]
    return int(lo[pick]), int(hi[pick])


def hc_tree(x: Array, *, rows: NDArray[np.intp] | None = None, min_groups: int = 1,
            alpha: float = HC_ALPHA, beta: float = HC_BETA) -> HcTree:
    """Agglomerate the rows of x, one group per row at the start, down to min_groups.

    ``rows`` records which dataset rows x holds (None: all of them, in order); a tree
    stopped at min_groups can be cut at any K >= min_groups.
    """
    z = svd_scale(x)
    m = int(z.shape[0])
    if m == 0:
        return HcTree(rows=rows, merges=np.zeros((0, 2), dtype=np.intp), n_rows=0)
    if z.shape[1] == 0:  # every row the same: any merge order is as good
        z = np.zeros((m, 1))
    d = int(z.shape[1])
    centred = z - z.mean(axis=0)
    s = float(np.einsum("ij,ij->", centred, centred)) / max(m * d, 1)
    crit = _Criterion(d, s if s > 0 else 1.0, alpha, beta)
    groups = _Groups(z, crit.upper)
    # own[i]: the cost of group i on its own (own[m]: of the empty group, unused)
    own = np.zeros(m + 1)
    own[:m] = crit.merged(0, groups, np.array([m]))[0]

    # delta[i, j]: the cost of merging groups i and j, kept between live groups (inf on
    # the diagonal); live: the live groups, ascending.
    # best[i] is at most the minimum of row i; where exact[i], it is that minimum and
    # best_at[i] is where, the last of equals (inf and -1 once i is dead).  A row is
    # made exact again only when its bound is the least of all.
    delta = crit.singleton_pairs(z, float(own[0]))
    live = np.arange(m)
    best = delta.min(axis=1)
    best_at = _last_argmin(delta)
    exact = np.ones(m, dtype=bool)
    full = np.empty(m)  # the new row of a, inf where dead

    merges: list[tuple[int, int]] = []
    for _ in range(max(0, m - max(1, min_groups))):
        stop_point()  # a stop asked for is heard between merges
        while True:
            least = np.flatnonzero(best == best.min())
            loose = least[~exact[least]]
            if not len(loose):
                break
            for i in loose.tolist():
                again = delta[i].take(live)
                k = int(_last_argmin(again[None, :])[0])
                best[i], best_at[i], exact[i] = again[k], live[k], True
        a, b = _cheapest(least, best_at)
        merges.append((a, b))
        groups.join(a, b)
        gone = int(live.searchsorted(b))
        live = np.concatenate((live[:gone], live[gone + 1:]))
        best[b] = np.inf
        best_at[b] = -1
        # a scored against the empty group in its own place: its cost on its own
        at = int(live.searchsorted(a))
        others = live.copy()
        others[at] = m
        cost = crit.merged(a, groups, others)
        own[a] = cost[at]
        row = cost - own[a] - own.take(others)
        row[at] = np.inf
        delta[a, live] = row
        delta[live, a] = row
        full.fill(np.inf)
        full[live] = row
        # A row whose minimum was with b, or with a where its cost rose, keeps its old
        # minimum as a bound; anywhere the cost with a is below the bound it is the
        # minimum, and an equal cost moves an exact minimum to a higher index.
        exact &= ~(((best_at == a) & (full > best)) | (best_at == b))
        better = (full < best) | ((full == best) & exact & (a > best_at))
        np.copyto(best, full, where=better)
        np.copyto(best_at, a, where=better)
        exact |= better
        best[a] = row.min()
        best_at[a] = live[_last_argmin(row[None, :])[0]]
        exact[a] = True
    return HcTree(rows=rows, merges=np.asarray(merges, dtype=np.intp).reshape(-1, 2),
                  n_rows=m)


def hc_rows(n: int, d: int, max_rows: int = HC_MAX_ROWS) -> int:
    """How many of n rows of d columns the agglomeration runs on: at most max_rows, and
    no more than keep its groups' packed scatter matrices within HC_BYTES (m rows span
    at most m - 1 directions once centred, so wide data take some hundreds of rows)."""

    def packed_bytes(m: int) -> int:
        rank = max(1, min(d, m - 1))
        return 8 * m * rank * (rank + 1) // 2

    lo, hi = min(n, 2), min(n, max_rows)
    while lo < hi:  # the most rows whose scatters fit (packed_bytes grows with m)
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if packed_bytes(mid) <= HC_BYTES else (lo, mid - 1)
    return lo


def build_hc_tree(data: Dataset, rng: np.random.Generator, *,
                  max_rows: int = HC_MAX_ROWS) -> HcTree:
    """The complete tree of a dataset: all rows, or a random hc_rows of them."""
    n = data.n_samples
    m = hc_rows(n, data.n_features, max_rows)
    if n <= m:
        return hc_tree(data.take(np.arange(n)))
    rows = np.sort(rng.choice(n, size=m, replace=False)).astype(np.intp)
    return hc_tree(data.take(rows), rows=rows)


def hc_stats(data: Dataset, tree: HcTree, k: int, covariance_type: str, *,
             origin: Array) -> SuffStats:
    """The statistics of the partition of the clustered rows when the tree is cut at k
    (one M-step turns them into the weights, means and covariances of its k groups); of
    one column, their quantile classes instead, as mclust starts EM there (its hierarchy
    is for two columns or more)."""
    rows = np.arange(data.n_samples) if tree.rows is None else tree.rows
    if len(rows) != tree.n_rows:
        raise InvalidParameter("hc: the hierarchy was built for another dataset")
    x = data.take(rows)
    labels = quantile_classes(x[:, 0], k) if x.shape[1] == 1 else tree.partition(k)
    resp = np.zeros((len(labels), k), dtype=x.dtype)
    resp[np.arange(len(labels)), labels] = 1.0
    # the hierarchy is of the rows as they are; the statistics of its groups are weighted
    return stats_from_resp(x, resp, origin, covariance_type, take_weights(data, rows))


def quantile_classes(x: Array, k: int) -> NDArray[np.intp]:
    """Labels 0..k-1 of the values x: k classes between k + 1 distinct quantiles, as
    mclust's start for one column (qclass) makes them.  The quantiles are those of n
    equally spaced probabilities (numpy's default, R's type 7), n from k + 1 up until k + 1
    of them differ; where more than k + 1 then differ, those that close the narrowest
    gaps go (each the lower end of its gap, the first of equal gaps first); the outer two
    are moved past the least and greatest value by sd(x) sqrt(eps), and class i holds the
    values from quantile i up to, not including, quantile i + 1."""
    values = np.asarray(x, dtype=np.float64)
    distinct = len(np.unique(values))
    if k > distinct:
        raise InvalidParameter(f"hc: {k} classes of {distinct} distinct values",
                               advice=(FEWER_COMPONENTS,))
    n, q = k, np.zeros(0)
    while len(q) < k + 1:  # ends: interpolated quantiles lie between distinct values too
        n += 1
        q = np.unique(np.quantile(values, np.linspace(0.0, 1.0, n)))
    extra = len(q) - k - 1
    if extra:
        q = np.delete(q, np.argsort(np.diff(q), kind="stable")[:extra])
    pad = float(np.std(values, ddof=1)) * math.sqrt(np.finfo(np.float64).eps) \
        if len(values) > 1 else 0.0
    q[0], q[-1] = values.min() - pad, values.max() + pad
    labels = np.searchsorted(q, values, side="right") - 1
    return np.clip(labels, 0, k - 1).astype(np.intp)


#: How many of the hierarchy's last merges the family's own criterion decides again
#: (family_tree).  On benchmarks/optima.py's 20,000 x 5 blobs, VII with K = 3, fit seeds 0
#: to 3: with 1 to 6 every seed reaches mclust's best, -252007.54; with none, 3 of the 4
#: end at the cut at K's -257582.37.  Over the optima benchmark's cells, 1, 3 and 6 missed
#: the same number of targets.
REMERGED = 3


def _group_scores(n: Array, scatter: Array, covariance_type: str, reg_covar: float
                  ) -> Array:
    """Per group (weight n, scatter matrix about its mean), twice its term of the
    classification log-likelihood under its own maximum-likelihood weight, mean and
    covariance of the family (floored by reg_covar), less constants: 2 n log n - n log
    det(S) - tr(S^-1 W).  Not for "tied", whose groups share one covariance."""
    d = scatter.shape[-1]
    if covariance_type == "full":
        logdet, spread = _full_terms(scatter, n[:, None, None], reg_covar)
    else:
        own = np.einsum("pii->pi", scatter)
        if covariance_type == "spherical":
            own = np.repeat(own.mean(axis=1, keepdims=True), d, axis=1)
        var = own / n[:, None] + reg_covar
        logdet = np.log(var).sum(axis=1)
        spread = (own / var).sum(axis=1)
    return 2.0 * n * np.log(n) - n * logdet - spread


def _tied_scores(n: Array, pooled: Array, total: float, reg_covar: float) -> Array:
    """Per partition (the weights n of its groups, and the scatter of all of them about
    their own means, pooled), twice the classification log-likelihood with one covariance
    for all groups, less constants: the sum of 2 n log n, less total log det(S) and
    tr(S^-1 W), S = W / total + reg_covar I."""
    logdet, spread = _full_terms(pooled, total, reg_covar)
    return 2.0 * (n * np.log(n)).sum(axis=-1) - total * logdet - spread


def _full_terms(scatter: Array, n: Array | float, reg_covar: float) -> tuple[Array, Array]:
    """log det(S) and tr(S^-1 W) of S = W / n + reg_covar I, per scatter matrix W of the
    stack (n: their weights, broadcast against it)."""
    cov = scatter / n + reg_covar * np.eye(scatter.shape[-1])
    _, logdet = np.linalg.slogdet(cov)
    return logdet, np.einsum("...ii->...", np.linalg.solve(cov, scatter))


def _min_rows(covariance_type: str, d: int) -> int:
    """The fewest rows a group needs for its covariance of the family to have full rank."""
    return {"full": d + 1, "tied": 1}.get(covariance_type, 2)


def family_tree(data: Dataset, tree: HcTree, k: int, covariance_type: str, reg_covar: float,
                *, origin: Array) -> HcTree | None:
    """The hierarchy with its last merges down to k groups decided again by the family's
    own criterion: tree cut at up to k + REMERGED groups (as many as leave every group
    enough rows for the family's covariance: _min_rows), then the pair whose merge keeps
    the classification likelihood of the family highest (each group with its own weight,
    mean and covariance, or with one covariance for "tied") merged, again and again, down
    to k.  mclust's hierarchy (like this one) merges by the unconstrained VVV criterion
    whatever the family; where groups are well apart, which of them to join last is the
    family's choice.  The groups' statistics are hc_stats's (weighted as the rows are,
    about origin: a centre of the data, as the M-step's).  The tree it returns stops at k
    groups; None where no finer cut has groups large enough (or weight), where the
    family's likelihood is not finite (_merged_down), or where tree stops above k
    groups."""
    if k < tree.min_groups:
        return None
    least = _min_rows(covariance_type, data.n_features)
    fine = next((g for g in range(min(k + REMERGED, tree.n_rows), k, -1)
                 if g >= tree.min_groups and np.bincount(tree.partition(g)).min() >= least),
                None)
    if fine is None:
        return None
    centre = np.broadcast_to(origin, (fine, data.n_features))
    st = hc_stats(data, tree, fine, "full", origin=centre)
    n: Array = st.nk
    if not (n > 0).all():  # a group of rows of weight 0 has no Gaussian
        return None
    means: Array = st.sk / n[:, None]
    scatter: Array = scatter_about_means(st.scatter, n, means - centre, 0.0)
    # each group's first row: its name in the merges (a cut numbers groups by first row)
    names = [int(r) for r in np.unique(tree.partition(fine), return_index=True)[1]]
    with np.errstate(all="ignore"):
        try:
            merged = _merged_down(n, means, scatter, names, k, covariance_type, reg_covar)
        except np.linalg.LinAlgError:  # a covariance singular under reg_covar
            merged = None
    if merged is None:
        return None
    return HcTree(rows=tree.rows, merges=np.concatenate([tree.merges[: tree.n_rows - fine],
                                                         merged]), n_rows=tree.n_rows)


def _merged_down(n: Array, means: Array, scatter: Array, names: list[int], k: int,
                 covariance_type: str, reg_covar: float) -> NDArray[np.intp] | None:
    """family_tree's merges of the groups (weights n, means, scatter matrices about them,
    first rows names) down to k, as (a, b) rows; None where the family's likelihood is not
    finite for some pair (a covariance singular under reg_covar: no merge is better)."""
    tied = covariance_type == "tied"
    own = None if tied else _group_scores(n, scatter, covariance_type, reg_covar)
    merges = []
    while len(names) > k:
        i, j = np.triu_indices(len(names), 1)
        pair_n = n[i] + n[j]
        delta = means[i] - means[j]
        between = (n[i] * n[j] / pair_n)[:, None, None] * delta[:, :, None] * delta[:, None, :]
        if tied:
            kept = np.broadcast_to(n, (len(i), len(n))).copy()
            kept[np.arange(len(i)), i], kept[np.arange(len(i)), j] = pair_n, 1.0  # 1 log 1 = 0
            gain = _tied_scores(kept, scatter.sum(axis=0) + between, float(n.sum()),
                                reg_covar)
        else:
            merged = _group_scores(pair_n, scatter[i] + scatter[j] + between,
                                   covariance_type, reg_covar)
            gain = merged - own[i] - own[j]  # type: ignore[index]
        if not np.isfinite(gain).all():
            return None
        best = int(np.argmax(gain))
        a, b = int(i[best]), int(j[best])
        merges.append((names[a], names[b]))
        means[a] = (n[a] * means[a] + n[b] * means[b]) / pair_n[best]
        n[a], scatter[a] = pair_n[best], scatter[a] + scatter[b] + between[best]
        if own is not None:
            own[a] = merged[best]
            own = np.delete(own, b)
        n, means, scatter = (np.delete(v, b, axis=0) for v in (n, means, scatter))
        del names[b]
    return np.array(merges, dtype=np.intp).reshape(-1, 2)


#: The seed-sequence key of the stream that draws the hierarchy's subsample (large data).
HC_STREAM = 0xC1


def seeded_hc_tree(data: Dataset, seed: int | None) -> HcTree | None:
    """The hierarchy a fit or a selection with this seed cuts: built from the whole data
    or (over hc_rows rows) a subsample drawn from the seed's own stream; None where
    there is none to build (fewer than two rows, or rows with missing coordinates)."""
    if data.n_samples < 2 or row_missing(data) is not None:
        return None
    key = [int(seed), HC_STREAM] if seed is not None else None
    return build_hc_tree(data, np.random.default_rng(np.random.SeedSequence(key)))
