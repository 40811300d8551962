"""What the engine needs of a dataset: a map-reduce over row blocks, and nothing else.

The EM loop, initialisation and model selection are written against this protocol; the
backends (emgmm_cli.backends: in memory, memory-mapped, block file, and any distributed
one) implement it, and emgmm_cli.backends.open_dataset is the one place that chooses.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

T = TypeVar("T")
R = TypeVar("R")


class Dataset(Protocol):
    """Rows of a data matrix, reachable only block by block."""

    @property
    def n_samples(self) -> int: ...

    @property
    def n_features(self) -> int: ...

    @property
    def dtype(self) -> np.dtype: ...

    def reduce(self, fn: Callable[..., T], *, indexed: bool = False) -> T:
        """Apply fn to every block of rows and add up the results.

        fn(block) is called, or fn(block, first_row) when indexed is true.  How the sum is
        grouped is fixed by the backend and the blocks alone (never by the number of
        threads or workers), so a result does not depend on them.
        """
        ...

    def scan(self, fn: Callable[[NDArray[np.floating], int], R]) -> Iterator[tuple[int, R]]:
        """(first row, fn(block, first row)) for every block, yielded in row order.

        The final pass (labels, responsibilities, scores) is a scan: the blocks may be
        computed in parallel, the results arrive in order, and nothing of size N is kept.
        """
        ...

    def take(self, rows: NDArray[np.intp]) -> NDArray[np.floating]:
        """The rows with the given (sorted or unsorted) indices, as an in-memory array."""
        ...

    def for_model(self, n_components: int, covariance_type: str) -> "Dataset":
        """The same rows, in blocks sized for a model of this many components and family
        (the work buffers of a block grow with K and D)."""
        ...


# --------------------------------------------------------------------------- per-row data


class RowsWith:
    """A Dataset that is the rows of another (self.rows) with something beside them: the
    protocol methods are the rows' own."""

    rows: Dataset

    @property
    def n_samples(self) -> int:
        return self.rows.n_samples

    @property
    def n_features(self) -> int:
        return self.rows.n_features

    @property
    def dtype(self) -> np.dtype:
        return self.rows.dtype

    def reduce(self, fn: Callable[..., T], *, indexed: bool = False) -> T:
        return self.rows.reduce(fn, indexed=indexed)

    def scan(self, fn: Callable[[NDArray[np.floating], int], R]) -> Iterator[tuple[int, R]]:
        return self.rows.scan(fn)

    def take(self, rows: NDArray[np.intp]) -> NDArray[np.floating]:
        return self.rows.take(rows)


class WeightedRows(RowsWith):
    """Any Dataset whose rows carry non-negative weights (sample weights).

    The weights are an (N,) float64 array held beside the rows, and they flow with the
    blocks: reduce_weighted(data, fn) calls fn(block, w=w) with w the block's slice of the
    weights (None for a dataset without them), through the backend's own indexed
    reduction, so every backend (in memory, memory-mapped, block file, distributed) and
    every covariance family gets them without knowing of them.  The plain protocol
    methods are those of the rows: reduce, scan and take do not see the weights.
    A weight w counts a row w times: every sufficient statistic, the log-likelihood and
    the k-means initialisation weigh it so, and a row of weight 2 is the row given twice.

    known: the (N,) known component of each row, -1 where unknown (semi-supervised EM),
    or None; it flows to the EM statistics the same way (reduce_weighted with_known).
    weights may then be None (every row counts once).

    dropped: the rows of the input left out for a missing value, an (N_read,) mask
    whose False entries are these rows in order, or None; only the final pass reads it
    (row_dropped), to give the rows left out no label.
    """

    def __init__(self, rows: Dataset, weights: NDArray[np.floating] | None,
                 known: NDArray[np.integer] | None = None,
                 dropped: NDArray[np.bool_] | None = None) -> None:
        self.rows = rows
        self.weights = None if weights is None else check_weights(weights, rows.n_samples,
                                                                  rows.dtype)
        self.known = None if known is None else check_known(known, rows.n_samples)
        self.dropped = dropped
        if dropped is not None and len(dropped) - int(dropped.sum()) != rows.n_samples:
            raise ValueError("the rows left out must leave the dataset's rows")

    def for_model(self, n_components: int, covariance_type: str) -> "WeightedRows":
        return WeightedRows(self.rows.for_model(n_components, covariance_type), self.weights,
                            self.known, self.dropped)


def row_dropped(data: Dataset) -> NDArray[np.bool_] | None:
    """The input's rows left out of data for a missing value (a mask over the rows read),
    or None without any."""
    dropped: NDArray[np.bool_] | None = getattr(data, "dropped", None)
    return dropped


def _per_row(values: Any, what: str, option: str | None) -> NDArray[Any]:
    """values as an array of one dimension, one value per row (a column, (N, 1), taken as
    one); InvalidParameter for any other shape (an (N/2, 2) array has N values, but which
    belongs to which row is a guess: a weight or label per row is a column, not a
    matrix)."""
    from .errors import InvalidParameter

    raw = np.asarray(values)
    if raw.ndim == 2 and raw.shape[1] == 1:
        raw = raw[:, 0]
    if raw.ndim != 1:
        shape = (f"an array of shape {raw.shape}" if raw.ndim
                 else "a single value" if raw.dtype != object  # a number
                 else f"a {type(values).__name__}")  # a generator, a dict: no array
        raise InvalidParameter(f"the {what}s are {shape}; give them as one value per row, "
                               "in an array of one dimension", option=option)
    return raw


def first_text(values: Any) -> tuple[int, str | bytes] | None:
    """(index, item) of the first item of values, flattened in order, that is text (a str
    or bytes: "2" is no number where numbers are asked for, as in the data); a list's
    items as given (np.asarray would make [1.0, "x"] all text).  None where none is, or
    where values are no array (ragged: the caller's own checks say so)."""
    try:
        raw = np.asarray(values)
        if raw.dtype.kind not in "USO":
            return None
        if not isinstance(values, np.ndarray):
            raw = np.asarray(values, dtype=object)
    except ValueError:
        return None
    for i, value in enumerate(raw.ravel()):
        if isinstance(value, (str, bytes)):
            return i, value
    return None


def _numbers(values: Any, what: str, option: str | None) -> NDArray[np.float64]:
    """values (one per row: _per_row) as a contiguous float64 array; InvalidParameter
    naming the first of them (0-based) that is no number (a string, None in an object
    array)."""
    from .errors import InvalidParameter

    values = _per_row(values, what, option)
    try:
        return np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        for i, value in enumerate(np.asarray(values, dtype=object)):
            try:
                float(value)
            except (TypeError, ValueError):
                raise InvalidParameter(f"{what} {value!r} of row {i} (counting from 0) is not "
                                       "a number", option=option) from None
        raise InvalidParameter(f"the {what}s are not numbers", option=option) from None


def check_known(known: Any, n_rows: int, n_components: int | None = None, *,
                option: str | None = "known_labels") -> NDArray[np.int64]:
    """Known labels as an (N,) int64 array, -1 for unknown; InvalidParameter naming the
    first bad row for a count other than n_rows, or a label that is not -1 or a
    component (0..n_components-1 when given).  option: the option the error is about
    (None where the labels are data checked against a model's or a fit's K, not a
    usage problem)."""
    from .errors import InvalidParameter

    raw = _per_row(known, "known label", option)
    if raw.dtype == np.bool_:  # True and False are no component numbers (nor -1)
        raise InvalidParameter("the known labels are True and False; give component "
                               "numbers, -1 where unknown", option=option)
    if len(raw) != n_rows:
        raise InvalidParameter(f"{len(raw)} known labels for {n_rows} rows; give one per row "
                               "(-1 where unknown)", option=option)
    numbers = _numbers(raw, "known label", option)
    with np.errstate(invalid="ignore"):
        labels = np.where(np.isfinite(numbers), numbers, -1.0)
        whole = labels == np.round(labels)
    top = np.inf if n_components is None else n_components - 1
    bad = np.flatnonzero(~whole | (labels < -1) | (labels > top))
    if len(bad):
        i = int(bad[0])
        # "below K", not "from 0 to K - 1": a message that names K alone is one reason for
        # select's skipped cells of every K (render.cell_reasons merges them)
        allowed = "-1 or a component number" if n_components is None else \
            f"-1 or a component number below {n_components}"
        raise InvalidParameter(f"known label {raw[i]} of row {i} (counting from 0) is not "
                               f"{allowed}", option=option)
    return labels.astype(np.int64)


def row_known(data: Dataset) -> NDArray[np.int64] | None:
    """The known components of data's rows (-1: unknown), or None without any."""
    known: NDArray[np.int64] | None = getattr(data, "known", None)
    return known


def check_weights(weights: Any, n_rows: int, dtype: Any = np.float64
                  ) -> NDArray[np.float64]:
    """weights as an (N,) float64 array; InvalidParameter, naming the first bad row
    (0-based), for a count other than n_rows, a negative or non-finite weight, or weights
    that are all zero or sum beyond MAX_WEIGHT_TOTAL; for data of dtype float32, also
    weights beyond FLOAT32_WEIGHTS (_check_float32)."""
    from .errors import InvalidParameter

    w = _numbers(weights, "sample weight", "sample_weights")
    if len(w) != n_rows:
        raise InvalidParameter(f"{len(w)} sample weights for {n_rows} rows; give one weight "
                               "per row", option="sample_weights")
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(~(w >= 0) | ~np.isfinite(w))
    if len(bad):
        i = int(bad[0])
        if np.isnan(w[i]):  # a missing value: no policy for the features' applies to it
            raise InvalidParameter(f"sample weight of row {i} (counting from 0) is missing; "
                                   "give every row its weight", option="sample_weights")
        raise InvalidParameter(f"sample weight {w[i]:g} of row {i} (counting from 0) is not "
                               "a finite number >= 0", option="sample_weights")
    if not w.any():
        raise InvalidParameter("every sample weight is zero; at least one row must count",
                               option="sample_weights")
    with np.errstate(over="ignore"):
        total = w.sum()
    if not total <= MAX_WEIGHT_TOTAL:
        raise InvalidParameter(f"sample weights sum to {total:.3g}, beyond "
                               f"{MAX_WEIGHT_TOTAL:g}: EM's weighted sums would overflow; "
                               "divide them by a common factor", option="sample_weights")
    if np.dtype(dtype) == np.float32:
        _check_float32(w)
    return w


#: The positive sample weights float32 data may take: the E-step weighs the rows'
#: responsibilities in the data's dtype, where weights of 1e39 overflow and ones of
#: 1e-300 vanish (numpy's overflow warnings, then a covariance "not positive
#: definite"); up to a sum of 1e30 and down to 1e-30 leave 1e8 of float32's room.
FLOAT32_WEIGHTS = (1e-30, 1e30)


def _check_float32(w: NDArray[np.float64]) -> None:
    """Weights float32 sums can hold (FLOAT32_WEIGHTS), else InvalidParameter."""
    from .errors import WIDER_DTYPE, InvalidParameter

    low, high = FLOAT32_WEIGHTS
    positive = w[w > 0]
    smallest, total = float(positive.min()), float(w.sum())
    if smallest < low or total > high:
        beyond = (f"a weight of {smallest:.3g}" if smallest < low else
                  f"weights that sum to {total:.3g}")
        raise InvalidParameter(
            f"float32 data cannot take {beyond}: with float32 the positive weights must be "
            f"{low:g} or more and sum to {high:g} at most; scale the weights by a common "
            "factor", option="sample_weights", advice=(WIDER_DTYPE,))


#: The most the sample weights may sum to: EM's sums weight squared residuals and
#: log-densities by them (weights of 1e306 on 300 rows: overflow warnings, then a
#: covariance "not positive definite"), and a sum of 1e300 leaves them 1e8 of room.
MAX_WEIGHT_TOTAL = 1e300


def row_weights(data: Dataset) -> NDArray[np.float64] | None:
    """The weights of data's rows, or None when every row counts once."""
    weights: NDArray[np.float64] | None = getattr(data, "weights", None)
    return weights


def total_weight(data: Dataset) -> float:
    """What the rows count for: the sum of their weights, or N."""
    w = row_weights(data)
    return float(data.n_samples) if w is None else float(w.sum())


class _WithWeights:
    """fn(block[, first row], w=the block's weights or None[, known=its known labels]),
    from the block's first row (picklable, for backends that ship the function to other
    processes).  weights and known hold the rows from row offset on: every row, or the
    rows of one part of them (over_part)."""

    def __init__(self, fn: Callable[..., object], weights: NDArray[np.float64] | None,
                 indexed: bool, known: NDArray[np.int64] | None = None,
                 with_known: bool = False, offset: int = 0) -> None:
        self.fn = fn
        self.weights = weights
        self.indexed = indexed
        self.known = known
        self.with_known = with_known
        self.offset = offset

    def __call__(self, block: NDArray[np.floating], first: int) -> object:
        start = first - self.offset
        stop = start + block.shape[0]
        extra: dict[str, Any] = {"w": None if self.weights is None
                                 else self.weights[start:stop]}
        if self.with_known:
            extra["known"] = None if self.known is None else self.known[start:stop]
        return self.fn(block, first, **extra) if self.indexed else self.fn(block, **extra)

    def bare(self) -> "_WithWeights":
        """This function without the per-row arrays: what a backend that keeps each part's
        weights and known labels beside its rows ships (then over_part on each part)."""
        return _WithWeights(self.fn, None, self.indexed, None, self.with_known)

    def over_part(self, weights: NDArray[np.float64] | None,
                  known: NDArray[np.int64] | None, offset: int) -> "_WithWeights":
        """This function over the rows from row offset on, whose weights and known labels
        (or None) are given."""
        return _WithWeights(self.fn, weights, self.indexed, known, self.with_known, offset)


def reduce_weighted(data: Dataset, fn: Callable[..., T], *, indexed: bool = False,
                    with_known: bool = False) -> T:
    """The sum over blocks of fn(block, w=w) (fn(block, first_row, w=w) when indexed):
    w is the block's row weights, or None for a dataset without them; with_known also
    passes known=, the block's known labels (or None)."""
    adapter = _WithWeights(fn, row_weights(data), indexed, row_known(data), with_known)
    return data.reduce(adapter, indexed=True)  # type: ignore[return-value]


def take_weights(data: Dataset, rows: NDArray[np.intp]) -> NDArray[np.float64] | None:
    """The weights of the given rows, or None for a dataset without them."""
    w = row_weights(data)
    return None if w is None else w[np.asarray(rows, dtype=np.intp)]


class InMemoryRows:
    """A small in-memory matrix as one block: the Dataset a fit screens its starts on
    when the data is larger (engine.starts).  No thread pool, no copies per call."""

    def __init__(self, x: NDArray[np.floating]) -> None:
        self._x = x

    @property
    def n_samples(self) -> int:
        return int(self._x.shape[0])

    @property
    def n_features(self) -> int:
        return int(self._x.shape[1])

    @property
    def dtype(self) -> np.dtype:
        return self._x.dtype

    def reduce(self, fn: Callable[..., T], *, indexed: bool = False) -> T:
        return fn(self._x, 0) if indexed else fn(self._x)

    def scan(self, fn: Callable[[NDArray[np.floating], int], R]) -> Iterator[tuple[int, R]]:
        yield 0, fn(self._x, 0)

    def take(self, rows: NDArray[np.intp]) -> NDArray[np.floating]:
        return self._x[np.asarray(rows, dtype=np.intp)]

    def for_model(self, n_components: int, covariance_type: str) -> "InMemoryRows":
        return self
