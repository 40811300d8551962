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
of iris cut at K = 1..9 gives mclust 6.0's partitions (tests/test_hc.py).

Before clustering, the rows are transformed as mclust >= 5.4 does by default
(``mclust.options("hcUse") == "SVD"``): centred, scaled to unit variance, rotated onto the
right singular vectors, and each direction divided by the square root of its singular
value.  Constant columns are dropped.

The agglomeration needs O(m^2) memory and O(m^2 d^3) time for m rows, so it runs on at
most HC_MAX_ROWS rows (mclust's default ``subset``): a larger dataset is clustered on a
random subsample of that many rows, and the starting parameters are estimated from the
subsample's partition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .dataset import Dataset, take_weights
from .errors import ANOTHER_INIT, FEWER_COMPONENTS, InvalidParameter
from .missing import row_missing
from .stats import SuffStats, stats_from_resp

Array = NDArray[np.floating]

#: Most rows the agglomeration runs on (mclust.options("subset") is 2000 too).
HC_MAX_ROWS = 2000
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

    @property
    def min_groups(self) -> int:
        """The fewest groups the tree reaches (1 for a complete tree)."""
        return self.n_rows - int(self.merges.shape[0])

    def partition(self, k: int) -> NDArray[np.intp]:
        """Labels 0..k-1 of the clustered rows when the tree is cut at k groups.

        A merged group keeps the lower index, that of its first row, so the labels number
        the groups in order of their first row: a pure function of the tree.
        """
        if not self.min_groups <= k <= self.n_rows:
            raise InvalidParameter(
                f"hc: cannot cut the hierarchy of {self.n_rows} rows at {k} groups",
                advice=(FEWER_COMPONENTS, ANOTHER_INIT),
            )
        owner = np.arange(self.n_rows)
        for a, b in self.merges[: self.n_rows - k]:
            owner[owner == b] = a
        _, labels = np.unique(owner, return_inverse=True)
        return labels.reshape(-1).astype(np.intp)


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


class _Criterion:
    """The VVV score of groups, given their sizes and scatter matrices (stacked)."""

    def __init__(self, d: int, s: float, alpha: float, beta: float) -> None:
        self.d = d
        self.ridge = alpha * s
        self.beta = beta

    def cost(self, n: Array, scatter: Array) -> Array:
        """n log(det(W / n) + beta (tr(W) + alpha s) / n), elementwise over the stack."""
        tr = np.trace(scatter, axis1=-2, axis2=-1)
        sign, logdet = np.linalg.slogdet(scatter / n[..., None, None])
        # A group of at most d rows has a singular scatter: its determinant is zero, and
        # rounding may leave a tiny number of either sign there.
        det = np.where((sign > 0) & (n > self.d), np.exp(logdet), 0.0)
        return n * np.log(det + self.beta * (tr + self.ridge) / n)

    def merged(self, n_a: float, mean_a: Array, scatter_a: Array, n: Array, means: Array,
               scatter: Array) -> Array:
        """The cost of group a merged with each of the given groups."""
        total = n_a + n
        delta = means - mean_a
        w = (n_a * n / total)[:, None, None] * (delta[:, :, None] * delta[:, None, :])
        w += scatter
        w += scatter_a
        return self.cost(total, w)


def _last_argmin(rows: Array) -> NDArray[np.intp]:
    """The last column where each row of a (r, m) array takes its minimum."""
    m = rows.shape[1]
    return (m - 1 - np.argmin(rows[:, ::-1], axis=1)).astype(np.intp)


def _cheapest(best: Array, best_at: NDArray[np.intp]) -> tuple[int, int]:
    """The pair (a, b), a < b, to merge: the cheapest, and among equally cheap pairs the
    one with the largest b, then the largest a (each row's best_at is the last column of
    its minimum, so the row of that b holds that pair)."""
    rows = np.flatnonzero(best == best.min())
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
    if z.shape[1] == 0:  # every row the same: any merge order is as good
        z = np.zeros((m, 1))
    d = int(z.shape[1])
    n = np.ones(m)
    means = z.copy()
    scatter = np.zeros((m, d, d))
    centred = z - z.mean(axis=0)
    s = float(np.einsum("ij,ij->", centred, centred)) / max(m * d, 1)
    crit = _Criterion(d, s if s > 0 else 1.0, alpha, beta)
    own = crit.cost(n, scatter)

    # delta[i, j]: the cost of merging groups i and j (inf on the diagonal and once dead);
    # best[i], best_at[i]: the minimum of row i and where it is.
    delta = np.full((m, m), np.inf)
    for i in range(m - 1):
        c = crit.merged(n[i], means[i], scatter[i], n[i + 1:], means[i + 1:], scatter[i + 1:])
        delta[i, i + 1:] = c - own[i] - own[i + 1:]
        delta[i + 1:, i] = delta[i, i + 1:]
    best = delta.min(axis=1)
    best_at = _last_argmin(delta)
    live = np.ones(m, dtype=bool)

    merges: list[tuple[int, int]] = []
    for _ in range(max(0, m - max(1, min_groups))):
        a, b = _cheapest(best, best_at)
        merges.append((a, b))
        # b joins a: pooled size, mean and scatter
        total = n[a] + n[b]
        diff = means[b] - means[a]
        scatter[a] += scatter[b] + (n[a] * n[b] / total) * np.outer(diff, diff)
        means[a] = (n[a] * means[a] + n[b] * means[b]) / total
        n[a] = total
        own[a] = crit.cost(n[a:a + 1], scatter[a:a + 1])[0]
        live[b] = False
        delta[b, :] = np.inf
        delta[:, b] = np.inf
        best[b] = np.inf
        others = np.flatnonzero(live)
        others = others[others != a]
        row = np.full(m, np.inf)
        if len(others):
            c = crit.merged(n[a], means[a], scatter[a], n[others], means[others],
                            scatter[others])
            row[others] = c - own[a] - own[others]
        delta[a, :] = row
        delta[:, a] = row
        # Rows whose minimum was with a or b are recomputed; the others can only have
        # been undercut by their new cost with a.
        stale = np.flatnonzero(live & ((best_at == a) | (best_at == b)))
        if len(stale):
            best[stale] = delta[stale].min(axis=1)
            best_at[stale] = _last_argmin(delta[stale])
        better = live & ((row < best) | ((row == best) & (a > best_at)))
        best[better] = row[better]
        best_at[better] = a
        best[a] = row.min()
        best_at[a] = _last_argmin(row[None, :])[0]
    return HcTree(rows=rows, merges=np.asarray(merges, dtype=np.intp).reshape(-1, 2),
                  n_rows=m)


def build_hc_tree(data: Dataset, rng: np.random.Generator, *,
                  max_rows: int = HC_MAX_ROWS) -> HcTree:
    """The complete tree of a dataset: all rows, or a random max_rows of them."""
    n = data.n_samples
    if n <= max_rows:
        return hc_tree(data.take(np.arange(n)))
    rows = np.sort(rng.choice(n, size=max_rows, replace=False)).astype(np.intp)
    return hc_tree(data.take(rows), rows=rows)


def hc_stats(data: Dataset, tree: HcTree, k: int, covariance_type: str, *,
             origin: Array) -> SuffStats:
    """The statistics of the partition of the clustered rows when the tree is cut at k
    (one M-step turns them into the weights, means and covariances of its k groups)."""
    labels = tree.partition(k)
    rows = np.arange(data.n_samples) if tree.rows is None else tree.rows
    if len(rows) != tree.n_rows:
        raise InvalidParameter("hc: the hierarchy was built for another dataset")
    x = data.take(rows)
    resp = np.zeros((len(labels), k), dtype=x.dtype)
    resp[np.arange(len(labels)), labels] = 1.0
    # the hierarchy is of the rows as they are; the statistics of its groups are weighted
    return stats_from_resp(x, resp, origin, covariance_type, take_weights(data, rows))


#: The seed-sequence key of the stream that draws the hierarchy's subsample (large data).
HC_STREAM = 0xC1


def seeded_hc_tree(data: Dataset, seed: int | None) -> HcTree | None:
    """The hierarchy a fit or a selection with this seed cuts: built from the whole data
    or (over HC_MAX_ROWS rows) a subsample drawn from the seed's own stream; None where
    there is none to build (fewer than two rows, or rows with missing coordinates)."""
    if data.n_samples < 2 or row_missing(data) is not None:
        return None
    key = [int(seed), HC_STREAM] if seed is not None else None
    return build_hc_tree(data, np.random.default_rng(np.random.SeedSequence(key)))
