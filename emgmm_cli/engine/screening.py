"""Data conditions that spoil a fit, found once, before it: as findings (data), not prose.

Two passes over the data (Dataset.reduce) give what every check needs, per column: the
range and the rows that hold its ends, whether every value is a whole number, the first
few distinct values, and the means and co-moments of the columns, computed in scaled
coordinates (each column centred on its mid-range and divided by a power of two near its
half-range) so that they hold for values near 1e300 and near 1e-300 alike.

From those, screen() says:

- ``overflow`` (an error, DataScale): squared distances between points exceed what the
  data's dtype holds; k-means and the E-step would produce infinities;
- ``underflow`` (an error, DataScale): a column's values differ by so little that their
  squared differences fall below the dtype's normal range (subnormal or zero);
- ``coarse`` (an error, DataScale): a column that holds one value, or a handful of them
  (those FEW_VALUES names), so far from zero that the dtype's step there is more than
  ROUNDING_SHARE of the spread reg_covar leaves every component along it: components
  narrow down to that spread on such a column, and EM's sums (the means, the E-step's
  distances) round by a sizeable share of it, so the fit's log-likelihood and
  covariances are off (a constant column at 1e11 moved the log-likelihood of a fit of
  100 rows by 0.009, one at 1e12 made covariances not positive definite); checked only
  where EM runs on the data's own columns (not standardized, which centres them);
- FEW_VALUES: a column takes a handful of values (a class label, a category, or values
  that float32 rounded together): components collapse onto them;
- COPIES: two columns that are copies, or linear functions, of one another, or three or
  more of which one is a weighted sum of the others: every covariance is singular along
  their dependence;
- FLOAT32_CONSTANT: a column that holds one value in float32 (it may hold more in float64);
- CONSTANT: a column that holds one value: nothing to cluster on, every covariance as
  narrow as reg_covar along it, and in the spherical families that narrowness averaged
  into every column's variance;
- REG_COVAR_SWAMPS: reg_covar is large beside a column's variance, so it, not the data,
  sets the spread along that column.

The messages speak of columns, values and reg_covar; the remedies are data
(Finding.advice, EngineError.advice), phrased by whoever shows them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .dataset import Dataset
from .errors import (
    CONSTANT,
    COPIES,
    FEW_VALUES,
    FLOAT32_CONSTANT,
    LEAVE_OUT_COLUMN,
    REG_COVAR_SWAMPS,
    STANDARDIZE,
    WIDER_DTYPE,
    EngineError,
    Finding,
)

Array = NDArray[np.floating]

#: A column with at most this many distinct values, in at least MIN_ROWS_PER_VALUE rows
#: per value, is a label or a category rather than a measurement.
FEW = 8
MIN_ROWS_PER_VALUE = 10
#: Columns whose correlation is this close to +-1 are copies of one another (in at least
#: MIN_ROWS_FOR_COPIES rows: any two columns of two rows are perfectly correlated).
COPY_TOLERANCE = 1e-9
MIN_ROWS_FOR_COPIES = 10
#: reg_covar above this share of a column's variance swamps the column.
REG_COVAR_SHARE = 0.01
#: The dtype's step at a column's values may be at most this share of sqrt(reg_covar),
#: where components narrow down to that spread (the ``coarse`` refusal).  The rounding
#: (EM's sums are off by a few steps, by how their terms are added) moves a row's
#: log-density by a few times the square of that share: 1.2 to 3.6 times it, measured
#: with a constant column from 1e8 to 2^33 (tests/test_hostile_values.py), so at most a
#: few times 1e-6 for what passes, the order of the default tol.  In float64 with the
#: default reg_covar 1e-6, columns at up to 2^33 (8.6e9) pass, epoch seconds among them
#: (1.7e9: 2e-7 a row, measured).
ROUNDING_SHARE = 1e-3


class DataScale(EngineError):
    """The data's values are too large or too small for squared distances in their dtype
    (the remedy: rescale the columns)."""

    def __init__(self, message: str, column: int,
                 advice: tuple[str, ...] = (STANDARDIZE,)) -> None:
        super().__init__(message, advice=advice)
        self.column = column


# --------------------------------------------------------------------------- pass 1: extent


@dataclass
class _Extent:
    """Per column: smallest and largest values and their rows, whole numbers only, and the
    distinct values while there are at most FEW (None beyond)."""

    n: int
    lo: Array
    hi: Array
    lo_row: NDArray[np.int64]
    hi_row: NDArray[np.int64]
    whole: NDArray[np.bool_]
    values: list[set[float] | None] = field(default_factory=list)
    observed: NDArray[np.int64] | None = None  # per column, the rows with a value (None: n)

    def __add__(self, other: "_Extent") -> "_Extent":
        take_lo = other.lo < self.lo
        take_hi = other.hi > self.hi
        return _Extent(
            self.n + other.n,
            np.where(take_lo, other.lo, self.lo), np.where(take_hi, other.hi, self.hi),
            np.where(take_lo, other.lo_row, self.lo_row),
            np.where(take_hi, other.hi_row, self.hi_row),
            self.whole & other.whole,
            [_union(a, b) for a, b in zip(self.values, other.values)],
            None if self.observed is None and other.observed is None
            else self.counts() + other.counts())

    def counts(self) -> NDArray[np.int64]:
        """Per column, the rows that hold a value."""
        return np.full(len(self.lo), self.n) if self.observed is None else self.observed


def _union(a: set[float] | None, b: set[float] | None) -> set[float] | None:
    if a is None or b is None or len(a | b) > FEW:
        return None
    return a | b


def _extent(x: Array, first_row: int) -> _Extent:
    """One block's extent.  Whether values are whole numbers is only looked at in columns
    of few values (the only ones it matters for); the others say False.  Missing values
    (NaN, in the rows column_stats is given as observed) are passed over: the extent is
    that of the values each column holds."""
    x64 = x.astype(np.float64, copy=False)
    d = x64.shape[1]
    holes = np.isnan(x64)
    observed = None
    if holes.any():
        observed = (~holes).sum(axis=0)
        columns = [x64[~holes[:, j], j] for j in range(d)]
    else:
        columns = [x64[:, j] for j in range(d)]
    values: list[set[float] | None] = []
    for col in columns:
        # return_index, unread, keeps np.unique off its path that imports numpy.ma (10 ms)
        distinct = np.unique(col[: 4 * FEW], return_index=True)[0]
        if len(distinct) <= FEW:
            distinct = np.unique(col)
        values.append(set(distinct.tolist()) if len(distinct) <= FEW else None)
    whole = np.array([v is not None and all(float(a).is_integer() for a in v)
                      for v in values], dtype=bool)
    # arg-min and arg-max, then the values at them: faster than min and max down columns
    # (a column with no value in the block: +inf and -inf, which any value replaces)
    lo_row = np.where(holes, np.inf, x64).argmin(axis=0) if observed is not None \
        else x64.argmin(axis=0)
    hi_row = np.where(holes, -np.inf, x64).argmax(axis=0) if observed is not None \
        else x64.argmax(axis=0)
    cols = np.arange(d)
    lo, hi = x64[lo_row, cols], x64[hi_row, cols]
    if observed is not None:
        lo, hi = np.where(observed > 0, lo, np.inf), np.where(observed > 0, hi, -np.inf)
    return _Extent(int(x.shape[0]), lo, hi, lo_row + first_row, hi_row + first_row, whole,
                   values, observed)


# --------------------------------------------------------------------------- pass 2: spread


@dataclass
class _Spread:
    """Row count, means and co-moments of the scaled columns, merged as Chan et al. do."""

    n: int
    mean: Array
    comoment: Array

    def __add__(self, other: "_Spread") -> "_Spread":
        n = self.n + other.n
        delta = other.mean - self.mean
        return _Spread(n, self.mean + delta * (other.n / n),
                       self.comoment + other.comoment
                       + np.outer(delta, delta) * (self.n * other.n / n))


def _spread(x: Array, center: Array, unit: Array) -> _Spread:
    y = (x.astype(np.float64, copy=False) - center) / unit
    mean = y.mean(axis=0)
    y -= mean
    return _Spread(int(x.shape[0]), mean, y.T @ y)


@dataclass(frozen=True)
class ColumnStats:
    """What the screen and --standardize need to know of each column.

    lo/hi (and the rows holding them), whole (every value a whole number, known for
    columns with values only), values (the sorted distinct values when at most FEW, else
    None), observed (the rows that hold a value: n but where values are missing), all
    of the values the columns hold; center/unit: the mid-range and a power of two near
    the half-range; scaled_mean, scaled_var and corr: the columns' means, variances and
    correlations in the units (x - center) / unit, over the rows as EM reads them (missing
    values imputed).
    """

    n: int
    dtype: np.dtype
    lo: Array
    hi: Array
    lo_row: NDArray[np.int64]
    hi_row: NDArray[np.int64]
    whole: NDArray[np.bool_]
    values: list[list[float] | None]
    center: Array
    unit: Array
    scaled_mean: Array
    scaled_var: Array
    corr: Array
    observed: NDArray[np.int64]

    def held(self, j: int) -> str:
        """The rows column j holds its values in, for a message: "300 rows", or "the 152
        rows that have a value"."""
        count = int(self.observed[j])
        return f"{count} rows" if count == self.n else f"the {count} rows that have a value"

    @property
    def mean(self) -> Array:
        """Column means, in the data's units."""
        return self.center + self.unit * self.scaled_mean

    @property
    def std(self) -> Array:
        """Column standard deviations (population), in the data's units (0 for a constant
        column; may overflow to inf or underflow to 0 where the units cannot hold it)."""
        with np.errstate(over="ignore", under="ignore"):
            return self.unit * np.sqrt(self.scaled_var)

    @property
    def held_std(self) -> Array:
        """Column standard deviations (population) of the values each column holds: std
        where no value is missing.  The imputed rows EM reads sit at the column's mean, so
        they add nothing to the sum of squares, only to the count it is divided by; a
        column observed in half the rows would read 1/sqrt(2) of its spread."""
        held = np.maximum(self.observed, 1)  # a column without a value is refused before
        with np.errstate(over="ignore", under="ignore"):
            return self.unit * np.sqrt(self.scaled_var * (self.n / held))

    @property
    def constant(self) -> NDArray[np.bool_]:
        return np.asarray(self.lo == self.hi)


def column_stats(data: Dataset, observed: Dataset | None = None) -> ColumnStats:
    """Two passes over data: the extent of every column, then its scaled moments.
    observed: the same rows with their missing values as NaN, where they have some (the
    extent is then that of the values the columns hold, not of the imputed ones, and
    observed counts them: 0 for a column that has none, which the caller refuses)."""
    ext: _Extent = (data if observed is None else observed).reduce(_extent, indexed=True)
    if observed is not None:  # a column with no value at all: its extent reads 0 to 0
        empty = ext.counts() == 0
        ext.lo, ext.hi = np.where(empty, 0.0, ext.lo), np.where(empty, 0.0, ext.hi)
    with np.errstate(over="ignore"):
        center = ext.lo / 2 + ext.hi / 2
        half = ext.hi / 2 - ext.lo / 2
    # the power of two at or above half, at most the dtype's largest (half is at most
    # its largest value, so the columns scaled by it stay within 2)
    top = np.finfo(half.dtype).maxexp - 1
    power = np.minimum(np.ceil(np.log2(np.where(half > 0, half, 1.0))), top)
    unit = np.where(half > 0, np.exp2(power), 1.0)
    spread: _Spread = data.reduce(lambda x: _spread(x, center, unit))
    var = np.diagonal(spread.comoment) / spread.n
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.sqrt(np.diagonal(spread.comoment))
        corr = spread.comoment / np.outer(sd, sd)
    values = [None if v is None else sorted(v) for v in ext.values]
    return ColumnStats(ext.n, np.dtype(data.dtype), ext.lo, ext.hi, ext.lo_row, ext.hi_row,
                       ext.whole, values, center, unit, spread.mean, var, corr, ext.counts())


# --------------------------------------------------------------------------- the screen


def screen(stats: ColumnStats, names: Sequence[str], *, reg_covar: float,
           scale: Array | None = None) -> list[Finding]:
    """The findings about data with these column statistics, in the order the columns
    come; raises DataScale where squared distances overflow or underflow the dtype.

    scale: where the fit runs on the columns divided by it (standardized), the
    distances and variances that matter are those of the divided columns.
    """
    units = np.ones(len(names)) if scale is None else np.asarray(scale, dtype=np.float64)
    _check_scale(stats, names, units)
    if scale is None and reg_covar > 0:  # without a floor, such columns fail on their own
        _check_resolution(stats, names, reg_covar)
    if scale is None:  # (standardized columns are centred first)
        _check_spread(stats, names)
    findings = [f for j in range(len(names)) for f in _column_findings(stats, names, j)]
    copies = _copies(stats, names)
    findings += copies or _dependent(stats, names)
    swamped = _swamped(stats, names, reg_covar, units)
    return findings + ([swamped] if swamped is not None else [])


def _g(value: float) -> str:
    return f"{value:.3g}"


def _check_scale(stats: ColumnStats, names: Sequence[str], units: Array) -> None:
    """Squared distances must stay within the dtype: the sum over columns of the squared
    spans (in the given units) below its largest value, and each column's squared span
    (when not zero) at least its smallest normal value."""
    info = np.finfo(stats.dtype)
    with np.errstate(over="ignore", under="ignore"):
        half = (stats.hi / 2 - stats.lo / 2) / units
        total = float(np.sum(4 * half * half))
    j = int(np.argmax(half))
    where = (f"column '{names[j]}' runs from {_g(stats.lo[j])} (row {stats.lo_row[j] + 1}) "
             f"to {_g(stats.hi[j])} (row {stats.hi_row[j] + 1})")
    if not total < float(info.max) / 16:
        raise DataScale(f"squared distances between the points overflow {stats.dtype.name}: "
                        f"{where}", j)
    floor = float(np.sqrt(info.tiny))
    small = np.flatnonzero((half > 0) & (half < floor))
    if len(small):
        j = int(small[0])
        raise DataScale(f"column '{names[j]}' varies by only {_g(2 * half[j])} (from "
                        f"{_g(stats.lo[j])} to {_g(stats.hi[j])}): squared differences that "
                        f"small underflow {stats.dtype.name}", j)


def _few_values(stats: ColumnStats, j: int) -> bool:
    """Whether column j takes a handful of values, in enough rows to be a category."""
    values = stats.values[j]
    return values is not None and stats.observed[j] >= MIN_ROWS_PER_VALUE * len(values)


def _check_resolution(stats: ColumnStats, names: Sequence[str], reg_covar: float) -> None:
    """The ``coarse`` refusal: a column of one value or few values (_few_values), whose
    dtype step at its largest magnitude is above ROUNDING_SHARE of sqrt(reg_covar)."""
    floor = math.sqrt(reg_covar)
    with np.errstate(over="ignore"):
        big = np.maximum(np.abs(stats.lo), np.abs(stats.hi)).astype(stats.dtype)
        step = np.spacing(big).astype(np.float64)
    for j in range(len(names)):
        narrowed = stats.constant[j] or _few_values(stats, j)
        if not narrowed or step[j] <= ROUNDING_SHARE * floor:
            continue
        held = (f"one value, {_g(float(stats.lo[j]))}" if stats.constant[j] else
                f"only {len(stats.values[j] or [])} values, up to {_g(float(big[j]))} from zero")
        float32 = stats.dtype == np.float32
        raise DataScale(
            f"column '{names[j]}' holds {held}: {stats.dtype.name} counts in steps of "
            f"{_g(step[j])} that far from zero, more than 1/{1 / ROUNDING_SHARE:g} of the "
            f"spread components narrow to along it (sqrt(reg_covar) = {_g(floor)}), and "
            "EM's sums would not resolve that spread", j,
            # in float32 the values are rounded as read, before --standardize could
            # centre them: what rounding merged stays merged
            advice=(WIDER_DTYPE, LEAVE_OUT_COLUMN) if float32
            else (STANDARDIZE, LEAVE_OUT_COLUMN))


#: The most a float64 column that varies may be rounded (its dtype step at its largest
#: magnitude) for a share of its own spread (standard deviation): EM's sums of such
#: values, at n times their offset, round each mean by a part of that spread.  Measured on
#: 300 rows of two groups, spread 0.18 along a column moved to an offset, full K = 2
#: against the same fit standardized: at 1e12 (share 7e-4) 3e-5 below, at 3e12 (2.7e-3)
#: 8e-5, at 1e13 (1.1e-2) 0.012, at 1e14 (0.09) a fit 110 below the diagonal one it
#: contains, "converged", and k-means starts "not positive definite" at any --reg-covar.
SPREAD_SHARE = 1e-2


def _check_spread(stats: ColumnStats, names: Sequence[str]) -> None:
    """The ``coarse`` refusal of a float64 column that varies, rounded by more than
    SPREAD_SHARE of its spread.  Float32 data have their own findings
    (_column_findings)."""
    if stats.dtype != np.float64:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        big = np.maximum(np.abs(stats.lo), np.abs(stats.hi))
        step, spread = np.spacing(big), stats.held_std
        # (a column of a few values, 0.3 and 0.1 + 0.2 among them, is _check_resolution's)
        many = np.array([v is None for v in stats.values])
        coarse = many & (step > SPREAD_SHARE * spread)
    for j in map(int, np.flatnonzero(coarse)):
        raise DataScale(
            f"column '{names[j]}' spreads {_g(float(spread[j]))} around "
            f"{_g(float(stats.mean[j]))}: float64 counts in steps of {_g(float(step[j]))} "
            f"that far from zero, more than 1/{1 / SPREAD_SHARE:g} of that spread, and "
            "EM's sums would not resolve it", j, advice=(STANDARDIZE, LEAVE_OUT_COLUMN))


def _column_findings(stats: ColumnStats, names: Sequence[str], j: int) -> list[Finding]:
    values = stats.values[j]
    float32 = stats.dtype == np.float32
    if stats.constant[j]:
        if not float32:
            every = "every row" if stats.observed[j] == stats.n else "every row that has one"
            return [Finding(CONSTANT, (j,), f"column '{names[j]}' holds one value "
                            f"({_g(stats.lo[j])}) in {every}: there is nothing to cluster "
                            "on in it, every covariance is reg_covar along it, and the "
                            "spherical models (EII, VII) average that into every column's "
                            "variance", (LEAVE_OUT_COLUMN,))]
        value = float(stats.lo[j]) or 0.0  # not -0
        why = ("which reads values that near zero as 0 (its least positive value is "
               f"{_g(float(np.finfo(np.float32).smallest_subnormal))})"
               if value == 0.0 else "which keeps about 7 significant digits")
        return [Finding(FLOAT32_CONSTANT, (j,), f"column '{names[j]}' holds one value "
                        f"({_g(value)}) in float32, {why}: it may hold more in float64",
                        (WIDER_DTYPE, LEAVE_OUT_COLUMN))]
    if values is None or not _few_values(stats, j):
        return []
    shown = _shown(values)
    advice: tuple[str, ...]
    if float32 and _rounded(values):
        why, advice = "float32 keeps about 7 significant digits", (WIDER_DTYPE,
                                                                   LEAVE_OUT_COLUMN)
    elif stats.whole[j]:
        why, advice = "a class label or a category?", (LEAVE_OUT_COLUMN,)
    else:
        why, advice = "a category?", (LEAVE_OUT_COLUMN,)
    return [Finding(FEW_VALUES, (j,), f"column '{names[j]}' takes only {len(values)} values "
                    f"({shown}) in {stats.held(j)} ({why}); components collapse onto such "
                    "values", advice)]


def _shown(values: list[float]) -> str:
    """Distinct values, each in 10 significant digits, or in full where those would show
    two as one (1e12 and 1e12 + 1)."""
    short = [f"{v:.10g}" for v in values]
    return ", ".join(short if len(set(short)) == len(short) else map(repr, values))


def _rounded(values: list[float]) -> bool:
    """Whether distinct float32 values lie a few float32 steps apart: rounding made them."""
    step = float(np.spacing(np.float32(max(abs(v) for v in values))))
    return min(b - a for a, b in zip(values, values[1:])) <= 4 * step


def _copies(stats: ColumnStats, names: Sequence[str]) -> list[Finding]:
    """One finding per pair of columns that are (linear) copies of one another."""
    out: list[Finding] = []
    if stats.n < MIN_ROWS_FOR_COPIES:
        return out
    with np.errstate(invalid="ignore"):
        close = np.triu(np.abs(stats.corr) >= 1 - COPY_TOLERANCE, 1)
    live = ~stats.constant
    for i, j in np.argwhere(close & live[:, None] & live[None, :]).tolist():
        r = float(stats.corr[i, j])
        same = stats.lo[i] == stats.lo[j] and stats.hi[i] == stats.hi[j] and r > 0
        what = "are identical" if same else (
            f"are linear functions of one another (correlation {r:+.0f})")
        out.append(Finding(COPIES, (i, j), f"columns '{names[i]}' and '{names[j]}' {what}; "
                           "every covariance is singular along them", (LEAVE_OUT_COLUMN,)))
    return out


def _dependent(stats: ColumnStats, names: Sequence[str]) -> list[Finding]:
    """One finding where three columns or more are linearly dependent (one a weighted sum
    of the others, as a total beside its parts: the least eigenvalue of their correlation
    matrix within COPY_TOLERANCE of 0) and no two of them are copies (_copies says those):
    the columns that weigh in the dependence, named."""
    live = np.flatnonzero(~stats.constant)
    if stats.n < MIN_ROWS_FOR_COPIES or len(live) < 3:
        return []
    corr = stats.corr[np.ix_(live, live)]
    if not np.isfinite(corr).all():
        return []
    values, vectors = np.linalg.eigh(corr)
    if not values[0] <= COPY_TOLERANCE:
        return []
    weight = np.abs(vectors[:, 0])
    cols = [int(live[j]) for j in np.flatnonzero(weight >= 0.01 * weight.max())]
    listed = ", ".join(f"'{names[j]}'" for j in cols[:-1]) + f" and '{names[cols[-1]]}'"
    return [Finding(COPIES, tuple(cols), f"columns {listed} are linearly dependent (one is a "
                    "weighted sum of the others); every covariance is singular along them",
                    (LEAVE_OUT_COLUMN,))]


def _swamped(stats: ColumnStats, names: Sequence[str], reg_covar: float,
             units: Array) -> Finding | None:
    """The columns whose variance (in the given units) reg_covar swamps (one finding for
    all of them).  Of a column with missing values, the variance of the values it holds:
    imputed at their mean, the others add nothing to the sum of squares, only rows."""
    with np.errstate(over="ignore", under="ignore"):
        ratio = stats.unit / units
        var = stats.scaled_var * ratio * ratio * (stats.n / np.maximum(stats.observed, 1))
    cols = [j for j in range(len(names))
            if not stats.constant[j] and reg_covar > REG_COVAR_SHARE * float(var[j])]
    if not cols:
        return None
    listed = ", ".join(f"'{names[j]}' ({_g(float(var[j]))})" for j in cols[:5])
    more = f" and {len(cols) - 5} more" if len(cols) > 5 else ""
    return Finding(REG_COVAR_SWAMPS, tuple(cols),
                   f"reg_covar {reg_covar:g} is more than {REG_COVAR_SHARE:g} of the variance of "
                   f"column{'s' if len(cols) > 1 else ''} {listed}{more}: it, not the data, "
                   "sets the spread of the components there", (STANDARDIZE,))


def describe(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """The findings as plain records (for a model document or a summary)."""
    return [{"kind": f.kind, "columns": list(f.columns), "message": f.message}
            for f in findings]
