"""EM with missing coordinates (data missing at random; Ghahramani and Jordan 1994).

A row with missing coordinates takes part in EM through what its observed coordinates
o say.  With Sigma the covariance and mu the mean of component k:

- E-step: its responsibilities come from the marginal density of the observed
  coordinates, pi_k N(x_o | mu_o, Sigma_oo), and so does its term of the log-likelihood;
- M-step: its missing coordinates m take their conditional expectation
  x_hat_m = mu_m + Sigma_mo Sigma_oo^-1 (x_o - mu_o), with conditional covariance
  C = Sigma_mm - Sigma_mo Sigma_oo^-1 Sigma_om (zero on the observed block), so that the
  per-component statistics are sum r, sum r x_hat and sum r ((x_hat - m_k)(x_hat - m_k)^T
  + C), centred on the current means m_k as every other statistic (engine.stats).  Every
  family's M-step then applies unchanged to those scatter matrices (their diagonals for
  the diagonal families).

Rows are grouped by their pattern of missing coordinates: each pattern costs K Cholesky
factorisations of its observed block per iteration, and its rows one product each.  The
complete rows go through the ordinary kernels (stats.chunk_stats), so a dataset without
missing values is fitted exactly as before.  MissingRows holds the rows in memory; for
every other use (initialisation, screening, pictures) it is the data with each missing
value replaced by its column's mean over the rows that have it.  The statistics of the
rows add up over any split of the rows, so a backend that holds the rows in parts keeps a
MissingRows of each part and adds their missing_stats (the Incomplete protocol).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from .dataset import Dataset, InMemoryRows, RowsWith
from .families import MATRIX
from .kernels import LOG_2PI
from .params import MixtureParams
from .stats import (
    Predictions,
    SuffStats,
    chunk_stats,
    fix_known,
    normalise_in_place,
    predict_chunk,
    shown_resp,
)

Array = NDArray[np.floating]


def impute_means(x: NDArray[np.floating]) -> NDArray[np.floating]:
    """x with each NaN replaced by the mean of its column's other values (0 for a column
    with none)."""
    return fill_missing(x, observed_means(observed_sums(x)))


def observed_sums(x: NDArray[np.floating]) -> NDArray[np.float64]:
    """Per column the sum of the values that are not NaN, then per column their count,
    then the number of rows with a NaN: (2 D + 1,), to be added over parts of the rows."""
    holes = np.isnan(x)
    return np.concatenate([np.where(holes, 0.0, x).sum(axis=0, dtype=np.float64),
                           (~holes).sum(axis=0), [holes.any(axis=1).sum()]])


def observed_means(sums: NDArray[np.float64]) -> NDArray[np.float64]:
    """The column means of observed_sums (0 for a column without a value)."""
    d = (len(sums) - 1) // 2
    counts = sums[d:2 * d]
    return np.where(counts > 0, sums[:d] / np.maximum(counts, 1), 0.0)


def fill_missing(x: NDArray[np.floating], means: NDArray[np.float64]) -> NDArray[np.floating]:
    """x with each NaN replaced by its column's value of means."""
    out = np.array(x, copy=True)
    rows, cols = np.nonzero(np.isnan(out))
    out[rows, cols] = means[cols]
    return out


class Incomplete(Protocol):
    """Rows some of which have missing coordinates, as EM and the final pass read them:
    MissingRows (in memory), or a backend's rows that hold their own (backends.dask)."""

    @property
    def n_incomplete(self) -> int: ...

    def missing_stats(self, params: MixtureParams, hard: bool, w: NDArray[np.float64] | None,
                      known: NDArray[np.int64] | None, entropy: bool = True) -> SuffStats:
        """One E-step over every row (module function missing_stats)."""
        ...

    def missing_predictions(self, params: MixtureParams) -> Iterator[tuple[int, Predictions]]:
        """(first row, predictions) of the rows in blocks, in row order."""
        ...


class MissingRows(RowsWith):
    """A Dataset whose rows may have missing coordinates (NaN), held in memory.

    rows: the Dataset of the rows with their missing values imputed (impute_means), which
    reduce, scan and take serve; x: the rows with their NaN.  EM reads missing_stats and
    the final pass missing_predictions (engine.em.em_stats, predictions)."""

    def __init__(self, rows: Dataset, x: NDArray[np.floating]) -> None:
        self.rows = rows
        holes = np.isnan(x)
        incomplete = holes.any(axis=1)
        self.complete = np.flatnonzero(~incomplete)
        self.x_complete = np.ascontiguousarray(x[self.complete])
        rows_in = np.flatnonzero(incomplete)
        masks, inverse = np.unique(holes[rows_in], axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        #: per pattern: (its rows, its observed columns), the rows' values in float64
        self.patterns = [(rows_in[inverse == p], np.flatnonzero(~masks[p]))
                         for p in range(len(masks))]
        self.x = np.asarray(x, dtype=np.float64)

    @property
    def n_incomplete(self) -> int:
        return self.n_samples - len(self.complete)

    def missing_stats(self, params: MixtureParams, hard: bool, w: NDArray[np.float64] | None,
                      known: NDArray[np.int64] | None, entropy: bool = True) -> SuffStats:
        return missing_stats(self, params, hard, w, known, entropy)

    def missing_predictions(self, params: MixtureParams) -> Iterator[tuple[int, Predictions]]:
        return iter([(0, missing_predictions(self, params))])

    def for_model(self, n_components: int, covariance_type: str) -> "MissingRows":
        out = MissingRows.__new__(MissingRows)
        out.__dict__.update(self.__dict__)
        out.rows = self.rows.for_model(n_components, covariance_type)
        return out


class BlockMissingRows(RowsWith):
    """A Dataset read block by block whose rows may have missing coordinates, with the
    rows that have some held in memory (data over the memory limit, --missing em).

    rows: the Dataset of the rows with their missing values imputed, which reduce, scan
    and take serve; raw: the same rows with their NaN; incomplete: the indices of the rows
    with a NaN, x_incomplete their values.  An E-step reduces the complete rows of raw
    block by block and adds the held rows' statistics (missing_stats): the same sums as
    MissingRows over the rows in memory, grouped by block."""

    def __init__(self, rows: Dataset, raw: Dataset, incomplete: NDArray[np.intp],
                 x_incomplete: NDArray[np.floating]) -> None:
        self.rows = rows
        self.raw = raw
        self.incomplete = incomplete
        self.held = part_missing(np.asarray(x_incomplete, dtype=np.float64))

    @property
    def n_incomplete(self) -> int:
        return len(self.incomplete)

    def missing_stats(self, params: MixtureParams, hard: bool, w: NDArray[np.float64] | None,
                      known: NDArray[np.int64] | None, entropy: bool = True) -> SuffStats:
        def complete(block: Array, first: int) -> SuffStats:
            keep = ~np.isnan(block).any(axis=1)
            rows = slice(first, first + len(block))
            return chunk_stats(block if keep.all() else block[keep], params, hard,
                               None if w is None else w[rows][keep],
                               None if known is None else known[rows][keep], entropy)

        held = self.incomplete
        st: SuffStats = self.raw.reduce(complete, indexed=True)
        return st + self.held.missing_stats(params, hard, None if w is None else w[held],
                                            None if known is None else known[held], entropy)

    def missing_predictions(self, params: MixtureParams) -> Iterator[tuple[int, Predictions]]:
        return self.raw.scan(lambda block, _: predict_rows(block, params))

    def for_model(self, n_components: int, covariance_type: str) -> "BlockMissingRows":
        out = BlockMissingRows.__new__(BlockMissingRows)
        out.__dict__.update(self.__dict__)
        out.rows = self.rows.for_model(n_components, covariance_type)
        out.raw = self.raw.for_model(n_components, covariance_type)
        return out


def co_observed(observed: Dataset) -> NDArray[np.bool_]:
    """(D, D): whether some row holds a value in both columns i and j (the diagonal:
    whether column i holds one anywhere), of rows with their missing values as NaN
    (observed_rows), block by block wherever they are."""
    return np.asarray(observed.reduce(_co_counts) > 0)


def _co_counts(block: Array) -> NDArray[np.float64]:
    held = (~np.isnan(block)).astype(np.float64)
    return held.T @ held


def observed_rows(data: Dataset) -> Dataset | None:
    """The rows of data with their missing values as NaN (where data has some in memory,
    read block by block or on a cluster: MissingRows, BlockMissingRows, the cluster's
    rows as read, backends.dask), for what must read the values the rows hold rather
    than those imputed (the screen: engine.screening.column_stats); None where data has
    none."""
    rows = row_missing(data)
    if isinstance(rows, MissingRows):
        return InMemoryRows(rows.x)
    if isinstance(rows, BlockMissingRows):
        return rows.raw
    as_read = getattr(rows, "as_read", None)
    return None if as_read is None else as_read()


def held_sums(data: Dataset, values: NDArray[np.float64]
              ) -> Iterator[tuple[int, NDArray[np.float64]]] | None:
    """Per row of data, the sum of values (one a column) over the columns where the row
    holds a value, block by block as (first row, sums), in row order (nothing of size N
    is kept); None where no row misses one (each row's sum is values.sum())."""
    rows = observed_rows(data)
    if rows is None:
        return None
    return rows.scan(partial(_held_sum, values=values))


def _held_sum(block: Array, _first: int, *, values: NDArray[np.float64]
              ) -> NDArray[np.float64]:
    return np.where(np.isnan(block), 0.0, values).sum(axis=1)


def row_missing(data: Dataset) -> Incomplete | None:
    """The rows with missing coordinates under data (through the wrappers that add per-row
    data): a MissingRows, or a dataset whose n_incomplete is not 0; None without any."""
    found: Any = data
    while found is not None and not isinstance(found, (MissingRows, BlockMissingRows)) \
            and not getattr(found, "n_incomplete", 0):
        found = getattr(found, "rows", None)
    return found


def part_missing(x: Array) -> MissingRows:
    """One part of a dataset's rows, x in memory, as MissingRows for its share of an
    E-step (missing_stats) and of the final pass (missing_predictions), which read x
    alone (its rows are x too, not imputed: the backend that holds the parts keeps
    the imputed rows)."""
    return MissingRows(InMemoryRows(x), x)


def predict_rows(x: Array, params: MixtureParams) -> Predictions:
    """stats.predict_chunk of rows x in memory, those with missing coordinates through
    their observed ones."""
    if not np.isnan(x).any():
        return predict_chunk(x, params)
    return missing_predictions(part_missing(x), params)


def _pattern(x: Array, obs: NDArray[np.intp], params: MixtureParams, full: Array
             ) -> tuple[Array, Array, Array]:
    """For rows x (m, D) whose observed columns are obs: (log pi_k N(x_o | k), (K, m);
    the rows completed by each component's conditional expectations, (K, m, D); the
    conditional covariances, (K, D, D), zero outside the missing block)."""
    k, d = params.means.shape
    missing = np.ones(d, dtype=bool)  # a mask: np.setdiff1d imports numpy.ma
    missing[obs] = False
    mis = np.flatnonzero(missing)
    m = x.shape[0]
    lp = np.empty((k, m))
    filled = np.empty((k, m, d))
    cond = np.zeros((k, d, d))
    with np.errstate(divide="ignore"):
        log_pi = np.log(params.weights)
    for j in range(k):
        mu, cov = params.means[j], full[j]
        filled[j][:, obs] = x[:, obs]
        if len(obs) == 0:  # nothing observed: the prior, and the component itself
            lp[j] = log_pi[j]
            filled[j][:] = mu
            cond[j] = cov
            continue
        low = np.linalg.cholesky(cov[np.ix_(obs, obs)])
        diff = x[:, obs] - mu[obs]
        z = np.linalg.solve(low, diff.T)  # (o, m): L^-1 (x_o - mu_o)
        with np.errstate(over="ignore"):  # a mean far off (a model file's): -inf, no row
            lp[j] = log_pi[j] - 0.5 * (len(obs) * LOG_2PI + (z * z).sum(axis=0)) \
                - np.log(np.diagonal(low)).sum()
        if len(mis):
            # A = Sigma_mo Sigma_oo^-1 = (L^-1 Sigma_om)^T L^-1
            b = np.linalg.solve(low, cov[np.ix_(obs, mis)])  # (o, mis)
            filled[j][:, mis] = mu[mis] + (b.T @ z).T
            cond[j][np.ix_(mis, mis)] = cov[np.ix_(mis, mis)] - b.T @ b
    return lp, filled, cond


def _posterior(lp: Array, hard: bool, known: NDArray[np.int64] | None, observed: bool = True
               ) -> tuple[Array, Array, Array]:
    """(responsibilities (K, m), log-density terms, maxima over k) of log-probabilities
    lp (K, m), as stats.chunk_stats makes them (hard: one-hot; known rows one-hot).  Rows
    with no coordinate observed (not observed) have the density of nothing, 1: their
    log-density is exactly 0, not the logarithm of the weights' sum, which rounds."""
    labels = lp.argmax(axis=0) if hard else None
    resp = lp.copy()
    lse, top = normalise_in_place(resp)
    if not observed:
        lse[:] = 0.0
    if labels is not None:
        resp[:] = 0.0
        resp[labels, np.arange(resp.shape[1])] = 1.0
    if known is not None:
        lse, top = fix_known(resp, lse, top, known)
    return resp, lse, top


def _pattern_stats(data: MissingRows, rows: NDArray[np.intp], obs: NDArray[np.intp],
                   params: MixtureParams, full: Array, hard: bool,
                   w: NDArray[np.float64] | None, known: NDArray[np.int64] | None
                   ) -> SuffStats:
    lp, filled, cond = _pattern(data.x[rows], obs, params, full)
    resp, lse, top = _posterior(lp, hard, None if known is None else known[rows], len(obs) > 0)
    log_max = top - lse
    if w is not None:
        wr = w[rows]
        resp *= wr[None, :]
        lse, top, log_max = (np.where(wr > 0, v * wr, 0.0) for v in (lse, top, log_max))
    nk = resp.sum(axis=1)
    sk = np.einsum("km,kmd->kd", resp, filled)
    dev = filled - params.means[:, None, :]
    scatter = np.einsum("km,kmd,kme->kde", resp, dev, dev) + nk[:, None, None] * cond
    if params.family.statistic != MATRIX:
        scatter = np.diagonal(scatter, axis1=1, axis2=2).copy()
    loglik = float(lse.sum())
    return SuffStats(nk, sk, scatter, loglik, float(top.sum()) if hard else loglik,
                     float(np.nansum(log_max)), len(rows) if w is None else float(wr.sum()),
                     len(rows))


def missing_stats(data: MissingRows, params: MixtureParams, hard: bool,
                  w: NDArray[np.float64] | None, known: NDArray[np.int64] | None,
                  entropy: bool = True) -> SuffStats:
    """One E-step over every row: the complete rows through the kernels, each pattern of
    missing coordinates through its marginal and conditional moments (module docstring).
    w, known: every row's weight and known component (or None)."""
    c = data.complete
    st = chunk_stats(data.x_complete, params, hard, None if w is None else w[c],
                     None if known is None else known[c], entropy)
    full = params.family.to_full(params.covariances, *params.means.shape)
    for rows, obs in data.patterns:
        part = _pattern_stats(data, rows, obs, params, full, hard, w, known)
        if not entropy:
            part.log_max_resp = 0.0
        st = st + part
    return st


def missing_predictions(data: MissingRows, params: MixtureParams) -> Predictions:
    """Labels, responsibilities (N, K) and log-densities of every row (the marginal
    density of its observed coordinates where some are missing)."""
    c = data.complete
    n, k = data.n_samples, params.n_components
    labels = np.empty(n, dtype=np.intp)
    resp = np.empty((n, k))
    dens = np.empty(n)
    if len(c):
        pred = predict_chunk(data.x_complete, params)
        labels[c], resp[c], dens[c] = pred.labels, pred.resp, pred.log_density
    full = params.family.to_full(params.covariances, *params.means.shape)
    for rows, obs in data.patterns:
        r, lse, _ = _posterior(_pattern(data.x[rows], obs, params, full)[0], False, None,
                               len(obs) > 0)
        labels[rows], resp[rows], dens[rows] = r.argmax(axis=0), r.T, lse
    return Predictions(labels, shown_resp(resp), dens)


def predictions(data: Dataset, params: MixtureParams) -> Iterator[tuple[int, Predictions]]:
    """(first row, predictions) of every block of data in row order: the final pass of a
    fit, predict and score (one block of every row for data with missing values)."""
    missing = row_missing(data)
    if missing is None:
        return data.scan(lambda block, _: predict_chunk(block, params))
    return missing.missing_predictions(params)
