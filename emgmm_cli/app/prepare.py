"""Data made ready for the engine, once per dataset: screened, and standardized if asked.

prepare() refuses fewer than 2 rows (before the findings one row would make of every
column), reads two passes of column statistics (engine.screening.column_stats), refuses
data whose squared distances overflow or underflow (DataScale), finds the conditions
that spoil a fit (a label column, copied columns, float32 rounding, a reg_covar that
swamps a column: engine.screening.screen), and with standardize=True centres every
column on its mean and divides it by its standard deviation (Standardize).

Standardize: EM runs on z = (x - center) / scale.  What is reported stays in the data's
units:

- log-likelihoods (the fit's, every restart's, the trace's, and so BIC, AIC and ICL) are
  those of the data: log p(x) = log p(z) - sum_j log scale_j per row (over the columns
  the row holds a value in: a row with missing values has the density of those), so a
  standardized fit and a plain one compare directly, and `score` on the training data
  gives the model's log-likelihood;
- the model keeps the parameters EM fitted, on the standardized columns, where the
  covariance family holds exactly (a spherical covariance of the standardized columns is
  a diagonal one, not a spherical one, in the data's units unless the scales are equal),
  with the transform beside them (io.model: "transform"); predict, score and sample
  apply it, and the summaries show means and spreads in the data's units;
- the transform's 2 D numbers are not counted as parameters of the mixture (they are the
  same for every K and family, as a preprocessing step is).
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..engine.errors import EngineError
from ..engine.dataset import Dataset, row_weights, total_weight
from ..engine.families import MATRIX, family
from ..engine.missing import co_observed, held_sums, observed_rows
from ..engine.fitting import FitResult, ProgressCallback, check_rows, counted_rows
from ..engine.errors import DIAGONAL_FAMILY, FEW_WEIGHTS, NEVER_TOGETHER, Finding
from ..engine.screening import ColumnStats, DataScale, column_stats, screen
from ..io.errors import DataError
from ..io.npyfile import NpyFile, check_standardized
from ..io.readers import Points
from .data import dataset

Array = NDArray[np.floating]

#: The kind of transform a model document records.
STANDARDIZE = "standardize"


@dataclass(frozen=True, eq=False)
class Standardize:
    """z = (x - center) / scale, one center and one positive scale per column (equal only
    to itself, as the results that hold it: docs/python.md)."""

    center: NDArray[np.float64]
    scale: NDArray[np.float64]

    def __post_init__(self) -> None:
        # read-only, as a fit's parameters (MixtureParams.locked): an edit of fit.transform
        # changed what predict does but not the model's document nor its labels
        for name in ("center", "scale"):
            values = np.array(getattr(self, name), dtype=np.float64)
            values.flags.writeable = False
            object.__setattr__(self, name, values)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A copy (copy.deepcopy, pickle) is read-only as the original."""
        self.__dict__.update(state)
        self.__post_init__()

    @classmethod
    def of(cls, stats: ColumnStats, names: Sequence[str]) -> "Standardize":
        """Column means and standard deviations of the values the columns hold (missing
        values left out; 1 for a constant column).  A spread beyond float64 (columns
        running from about -1e308 to 1e308) cannot be scaled."""
        std = stats.held_std
        wide = np.flatnonzero(~np.isfinite(std) | ~np.isfinite(stats.mean))
        if len(wide):
            j = int(wide[0])
            raise DataScale(f"column '{names[j]}' spreads beyond what float64 holds (from "
                            f"{stats.lo[j]:.3g} to {stats.hi[j]:.3g}); it cannot be "
                            "standardized", j)
        return cls(np.asarray(stats.mean, dtype=np.float64),
                   np.where(std > 0, std, 1.0).astype(np.float64))

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> "Standardize":
        return cls(np.asarray(doc["center"], dtype=np.float64),
                   np.asarray(doc["scale"], dtype=np.float64))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": STANDARDIZE, "center": self.center.tolist(),
                "scale": self.scale.tolist()}

    @property
    def log_scale(self) -> float:
        """sum_j log scale_j: what the log-density of a row loses from z to x."""
        return float(np.log(self.scale).sum())

    def to_z(self, x: Any, dtype: Any = np.float64) -> Array:
        """(x - center) / scale in dtype; a finite value whose z that cannot hold becomes
        infinite (apply refuses it)."""
        with np.errstate(over="ignore", invalid="ignore"):
            z = (np.asarray(x, dtype=np.float64) - self.center) / self.scale
            return z.astype(dtype, copy=False)

    def to_data(self, z: Any) -> NDArray[np.float64]:
        return self.center + self.scale * np.asarray(z, dtype=np.float64)

    def apply(self, points: Points) -> Points:
        """The points standardized: an array computed now, an NpyFile that delivers
        its blocks standardized, or a cluster's partitions mapped where they are."""
        x = points.x
        if isinstance(x, NpyFile):
            mapped: Any = dataclasses.replace(
                x, affine=(tuple(self.center.tolist()), tuple(self.scale.tolist())))
        elif hasattr(x, "map_partitions"):  # on a cluster (backends.dask): each partition
            mapped = x.map_partitions(partial(self.checked_z, dtype=x.dtype,
                                              source=points.source,
                                              names=list(points.column_names)))
        else:
            mapped = np.ascontiguousarray(self.checked_z(
                x, x.dtype, source=points.source, names=list(points.column_names), rows=True))
        return dataclasses.replace(points, x=mapped)

    def checked_z(self, x: Any, dtype: Any, *, source: str, names: list[str],
                  rows: bool = False) -> Array:
        """to_z, refusing (io.npyfile.check_standardized) a finite value whose z dtype
        cannot hold; rows: name its row (x is every row)."""
        z = self.to_z(x, dtype)
        check_standardized(source, np.asarray(x), z, self.scale, names=names, rows=rows)
        return z

    def row_log_scales(self, data: Dataset) -> float | NDArray[np.float64]:
        """What the log-density of each row of data (standardized) loses from z to x:
        sum_j log scale_j over the columns the row holds a value in (the marginal
        density of a row with missing values is of its observed columns alone); one
        number where every row holds every column."""
        held = held_sums(data, np.log(self.scale))
        if held is None:
            return self.log_scale
        parts = [sums for _, sums in held]
        return np.concatenate(parts) if parts else np.zeros(0)

    def held_lost(self, data: Dataset) -> float | None:
        """row_log_scales summed over data's rows, each counted by its weight, block by
        block (nothing of size N kept beside the weights); None where every row holds
        every column (each then loses log_scale)."""
        held = held_sums(data, np.log(self.scale))
        if held is None:
            return None
        w = row_weights(data)
        return math.fsum(float(sums.sum() if w is None else np.dot(w[first:first + len(sums)],
                                                                   sums))
                         for first, sums in held)

    def lost_per_row(self, data: Dataset) -> float:
        """What the mean log-likelihood of data (standardized) loses from z to x: the
        mean of row_log_scales, each row counted by its weight."""
        held = self.held_lost(data)
        return self.log_scale if held is None else held / total_weight(data)

    def data_progress(self, on_iteration: ProgressCallback | None, data: Dataset
                      ) -> ProgressCallback | None:
        """on_iteration, told each iteration's mean log-likelihood in the data's units, as
        the trace holds it (data_result), not in the standardized columns'."""
        if on_iteration is None:
            return None
        lost = self.lost_per_row(data)

        def in_data_units(run: int, iteration: int, mean: float, change: float) -> None:
            on_iteration(run, iteration, mean - lost, change)

        return in_data_units

    def data_result(self, result: FitResult, data: Dataset) -> FitResult:
        """result, fitted to data (standardized), with its log-likelihoods in the data's
        units (criteria follow)."""
        held = self.held_lost(data)
        per_row = self.log_scale if held is None else held / result.n_effective
        lost = result.n_effective * per_row if held is None else held
        return dataclasses.replace(
            result, loglik=result.loglik - lost,
            trace=[dataclasses.replace(r, log_likelihood=r.log_likelihood - per_row)
                   for r in result.trace],
            restart_logliks=[v - lost for v in result.restart_logliks])


@dataclass(frozen=True)
class Prepared:
    """Points ready for the engine (standardized if asked), what the screen found, and
    the transform (None without one)."""

    points: Points
    findings: list[Finding] = field(default_factory=list)
    transform: Standardize | None = None


def _check_held(stats: ColumnStats, points: Points) -> None:
    """A DataError for a column that holds no value in any row (--missing em): EM would
    fit it from the values imputed for it, which are none (stats.observed counts the
    values the rows hold, in memory, read block by block or on a cluster alike)."""
    empty = np.flatnonzero(stats.observed == 0)
    if len(empty):
        raise DataError(points.source, f"column '{points.column_names[int(empty[0])]}' has no "
                                       "value in any row (every one is missing): there is "
                                       "nothing to fit it from; leave it out with --columns")


def _missing_findings(data: Dataset, points: Points, covariances: bool) -> list[Finding]:
    """Of rows with missing values (--missing em; engine.missing.co_observed), with
    covariances (a family that has them): a finding for each pair of columns never
    observed in one row (each column holds some: _check_held)."""
    rows = observed_rows(data)
    if rows is None or not covariances:
        return []
    seen = co_observed(rows)
    names = points.column_names
    return [Finding(NEVER_TOGETHER, (int(i), int(j)), f"columns '{names[i]}' and "
                    f"'{names[j]}' hold values but never in the same row: the data say "
                    "nothing of how they vary together, and a covariance between them is "
                    "where EM's start left it", (DIAGONAL_FAMILY,))
            for i, j in np.argwhere(np.triu(~seen, 1))]


#: Sample weights that sum to less than this count for fewer than so many rows: BIC's and
#: ICL's penalty per parameter, log n, is then below log 2, at 1 nothing, below 1 a reward.
FEW_ROWS_WEIGHED = 2.0


def _weights_findings(data: Dataset) -> list[Finding]:
    """A finding for sample weights that sum to less than FEW_ROWS_WEIGHED (weights
    scaled to sum to 1, as probabilities are, where the criteria count rows)."""
    weights = row_weights(data)
    if weights is None:
        return []
    total = float(weights.sum())
    if not total < FEW_ROWS_WEIGHED:
        return []
    rows = int(np.count_nonzero(weights))
    log_n = math.log(total) if total > 0 else -math.inf
    shown = "0" if abs(log_n) < 5e-4 else f"{log_n:.3g}"
    return [Finding(FEW_WEIGHTS, (), f"the sample weights sum to {total:.3g}: BIC and ICL "
                                     "count that sum as the number of rows, so their penalty "
                                     f"per parameter, log n, is {shown}; weights "
                                     f"that count rows (scaled to sum to {rows}, say) give "
                                     "them their meaning")]


def prepare(points: Points, *, reg_covar: float, standardize: bool = False,
            n_threads: int | None = None, covariance_type: str | None = None,
            transform: Standardize | None = None) -> Prepared:
    """Screen points (and standardize them if asked, or by transform where given: a
    continued model's own); an engine error names the data.  covariance_type: the one
    family to be fitted, where there is one (fit): a diagonal one is not told of columns
    never observed together, as it has no covariance."""
    names = points.column_names
    try:
        data = dataset(points, n_threads=n_threads)
        check_rows(counted_rows(data), 1)
        stats = column_stats(data, observed_rows(data))
        _check_held(stats, points)
        covariances = covariance_type is None or family(covariance_type).statistic == MATRIX
        missing = _missing_findings(data, points, covariances) + _weights_findings(data)
        if transform is None and standardize:
            transform = Standardize.of(stats, names)
        findings = screen(stats, names, reg_covar=reg_covar,
                          scale=None if transform is None else transform.scale) + missing
    except EngineError as exc:
        exc.source = points.source
        raise
    if transform is None:
        return Prepared(points, findings)
    return Prepared(transform.apply(points), findings, transform)

