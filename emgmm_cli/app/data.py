"""Data for the use cases: read from a file (the command line) or taken from an array or
a data frame (the Python API), then opened as an engine Dataset."""

from __future__ import annotations

import dataclasses
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, BinaryIO, TypeGuard

import numpy as np
from numpy.typing import NDArray

from ..backends import active, open_dataset
from ..engine.dataset import Dataset, WeightedRows, check_known, first_text
from ..engine.errors import WIDER_DTYPE, EngineError
from ..engine.missing import (
    BlockMissingRows,
    MissingRows,
    impute_means,
    observed_means,
    observed_sums,
)
from ..io.cache import default_memory_limit, format_size, open_npy_blocks, open_points
from ..io.errors import (INFINITE_HINT, MISSING_REMEDIES, READ_FLOAT64, SELECT_COLUMNS,
                         DataError)
from ..io.missing import Missing, PerColumn, per_column, refused
from ..io.npyfile import NpyFile, nonfinite_error
from ..io.readers import Points, column_names, read_labels, read_points
from ..io.text import repeated_names, resolve_columns, unique_names
from ..vocab import counted
from .errors import UsageProblem, api_remedies
from .requests import ReadOptions

if TYPE_CHECKING:  # backends.blockfile is imported where data read block by block needs it
    from ..backends.blockfile import FileRows

#: The source name of data handed over in memory (in messages and the model file).
ARRAY_SOURCE = "<array>"

Log = Callable[[str], None]

#: Bytes of rows read at a time by the scans for missing values of data read block by block.
SCAN_BLOCK_BYTES = 8 << 20


def load(path: str, read: ReadOptions, *, log: Log | None = None,
         stdin: BinaryIO | None = None) -> Points:
    """The data of a file ('-': stdin; or its bytes given, read before) as the read options
    say: in memory when small; over read.memory_limit, a .npy is read block by block and
    a text file through its binary cache (emgmm_cli.io.cache)."""
    columns = read.read_columns()
    # what is read, as the fit saw it
    size, identity = (None, None) if stdin is not None else file_identity(path)
    if stdin is not None:
        points: Points = read_points(path, columns=columns, delimiter=read.delimiter,
                                     header=read.header, dtype=read.dtype, stdin=stdin,
                                     missing=read.missing_in())
    elif active() is not None:
        points = read_on_cluster(path, columns=columns, delimiter=read.delimiter,
                                 header=read.header, dtype=read.dtype,
                                 missing=read.missing_in())
    else:
        points = open_points(path, columns=columns, delimiter=read.delimiter,
                             header=read.header, dtype=read.dtype,
                             memory_limit=read.memory_bytes, cache_dir=read.cache_dir, log=log,
                             missing=read.missing_in())
    return dataclasses.replace(weighed(points, read), source_size=size,
                               source_file=identity)


def file_identity(path: str) -> tuple[int | None, tuple[int, int] | None]:
    """The size and the (device, inode) of the regular file at path; None and None for
    stdin, a pipe, a folder of parts or a path that cannot be read."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None, None
    if not stat.S_ISREG(st.st_mode):
        return None, None
    return st.st_size, (st.st_dev, st.st_ino)


def read_on_cluster(path: str, *, columns: Sequence[str] | None = None,
                    delimiter: str | None = None, header: bool | None = None,
                    dtype: Any = np.float64, stdin: BinaryIO | None = None,
                    missing: Missing = False) -> Points:
    """read_points, by the workers of the active cluster (backends.dask): a .npy file in
    row ranges (without --columns), a directory or glob of parts one part per worker task;
    standard input is read here and sent to them.  missing: as read_points's."""
    cluster = active()
    if path == "-":
        points = read_points(path, columns=columns, delimiter=delimiter, header=header,
                             dtype=dtype, stdin=stdin, missing=missing)
        return Points(cluster.from_array(points.x), points.column_names, points.source,
                      points.notes)
    reader = partial(_read_part, columns=tuple(columns) if columns else None,
                     delimiter=delimiter, header=header, dtype=np.dtype(dtype).name,
                     missing=missing)
    if os.path.isfile(path):
        npy = open_npy_blocks(os.path.abspath(path), columns=columns, dtype=dtype,
                              check=False, source=path) \
            if path.lower().endswith(".npy") else None
        if npy is not None:
            names = npy.column_names
            allowed = per_column(missing, [str(j) for j in range(npy.x.n_file_columns)],
                                 npy.x.columns)
            data = cluster.open_ranges(*npy.x.shape, npy.x.dtype,
                                       partial(_read_rows, npy.x, names, path, allowed))
            return Points(data, names, path)
        data, names = cluster.open_parts([path], reader)
        return Points(data, names, path)
    from ..backends.dask import part_files

    parts = part_files(path)
    if parts is None:
        raise DataError(path, "file not found; check the path")
    data, names = cluster.open_parts(parts, reader)
    return Points(data, names, path)


def _read_rows(npy: NpyFile, names: list[str], source: str, missing: PerColumn, start: int,
               stop: int) -> NDArray[np.floating]:
    """Rows start:stop of a .npy file, read on a worker and checked for the values
    missing refuses (io.missing.refused)."""
    raw = npy.read_raw(start, stop)
    x = npy.convert(raw)
    if refused(x, missing).any():
        raise nonfinite_error(source, names, x, raw[:, list(npy.columns)], start,
                              missing=missing)
    return x


def _read_part(path: str, **kwargs: Any) -> tuple[NDArray[np.floating], list[str]]:
    """One part of a dataset, read on a worker: its rows and column names."""
    points = read_points(path, **kwargs)
    return points.x, points.column_names


def feature_names(path: str, read: ReadOptions) -> list[str] | None:
    """The names of the columns load(path, read) fits (the columns read, less the weights
    and known-label columns), found from the file's head (io.readers.column_names); None
    where the head cannot tell.  A DataError where reading would fail on them."""
    names = column_names(path, delimiter=read.delimiter, header=read.header)
    if names is None:
        return None
    chosen = [names[j] for j in resolve_columns(read.read_columns(), names, path)]
    at = [_position(chosen, read, spec) for spec in (read.weights_column, read.known_column)
          if spec is not None]
    if None in at:
        return None
    return [name for j, name in enumerate(chosen) if j not in at]


# --------------------------------------------------------------------------- sample weights


def weighed(points: Points, read: ReadOptions, weights: Any = None,
            known: Any = None) -> Points:
    """points with their per-row data: sample weights (read.weights_column taken out of
    the features, the one column of the file read.sample_weights, or weights given by
    the Python API) and known labels (read.known_column, taken out of the features, the
    file read.known_labels, or known given).  Weights must be finite and >= 0, not all
    zero; known labels whole numbers >= -1 (-1: unknown); a DataError names the row.
    Points that --missing drop has already thinned (points.dropped: a file read before
    the Python API's arrays are given) take values for every row read, those of the rows
    left out going with them."""
    from ..engine.dataset import check_known, check_weights
    from ..engine.errors import InvalidParameter

    dropped = points.dropped
    rows = points.n_samples if dropped is None else len(dropped)

    def kept(values: NDArray[Any]) -> NDArray[Any]:
        return values if dropped is None else values[~dropped]

    points, taken = _row_columns(points, read)
    weights, weights_from = _beside(points, taken, "weights", weights, WEIGHTS_ARGUMENT)
    known, known_from = _beside(points, taken, "known-labels", known, KNOWN_ARGUMENT)
    if read.sample_weights is not None:
        weights_from, weights = read.sample_weights, _one_column(read.sample_weights)
    if read.known_labels is not None:
        known_from, known = read.known_labels, read_labels(read.known_labels)
    # a column of the data (--weights-column, --known-column) is named with its source
    columns = {"weights": read.weights_column, "known-labels": read.known_column}
    try:
        where, column = weights_from, columns["weights"] if "weights" in taken else None
        if weights_from == WEIGHTS_ARGUMENT:
            _no_text(weights, "sample weight", "sample_weights")
        if weights is not None:
            points = dataclasses.replace(points, weights=kept(check_weights(
                weights, rows, read.dtype)))
        where, column = known_from, columns["known-labels"] if "known-labels" in taken else None
        if known_from == KNOWN_ARGUMENT:
            _no_text(known, "known label", "known_labels")
        if known is not None:
            points = dataclasses.replace(points, known=kept(check_known(known, rows)),
                                         known_source=known_from, known_column=column)
    except InvalidParameter as exc:
        advice = (READ_FLOAT64,) if WIDER_DTYPE in exc.advice else ()
        raise DataError(where, str(exc).replace("sample weight ", "weight ", 1),
                        column=column, advice=advice) from None
    if read.missing == "em":  # a row with no value at all tells EM nothing
        points = without_incomplete(points, empty=True)
        if isinstance(points.x, NpyFile):  # scanned by rows_dataset
            from ..backends.blockfile import file_rows

            points = dataclasses.replace(points, x=file_rows(
                points.x, holes=True, source=points.source, memory_limit=read.memory_bytes))
    if read.missing != "drop":
        return points
    points = without_incomplete(points)
    if points.weights is not None and not points.weights.any():  # each row's was checked
        raise DataError(weights_from, "every weight of the rows kept (those without a "
                        "missing value) is zero; at least one row must count",
                        column=columns["weights"] if "weights" in taken else None)
    return points


#: Where weights and known labels given to the Python API come from, as errors name it.
WEIGHTS_ARGUMENT, KNOWN_ARGUMENT = "<sample_weights>", "<known_labels>"


def _no_text(values: Any, what: str, option: str) -> None:
    """Weights or known labels given to the Python API hold no text: "2" is refused, as
    it is in the data (an InvalidParameter naming the row)."""
    from ..engine.errors import InvalidParameter

    found = first_text(values)
    if found is not None:
        raise InvalidParameter(f"{what} {str(found[1])!r} of row {found[0]} (counting from "
                               "0) is text, not a number", option=option)


def _beside(points: Points, taken: dict[str, NDArray[np.float64]], what: str, given: Any,
            argument: str) -> tuple[Any, str]:
    """(the rows' weights or known labels: a column taken out of points, or those given
    to the Python API; where they came from: the data's source, or the argument)."""
    if what in taken:
        return taken[what], points.source
    return given, points.source if given is None else argument


def known_components(points: Points, n_components: int, model: str | None = None) -> None:
    """The points' known labels, where they have some, must be -1 or components of the fit
    or of the model (0..n_components-1): a DataError naming where the labels came from
    (Points.known_source, and known_column: the data's column) and the first that is not."""
    if points.known is None:
        return
    try:
        check_known(points.known, points.n_samples, n_components, option=None)
    except EngineError as exc:
        whose = "" if model is None else f", the number of components of the model {model}"
        raise DataError(points.known_source or points.source, f"{exc}{whose}",
                        column=points.known_column) from None


# --------------------------------------------------------------------------- missing values


def without_incomplete(points: Points, empty: bool = False) -> Points:
    """points without the rows that hold a missing value (NaN), or with empty, without
    those that hold no value at all (--missing em: such a row tells the fit nothing, and
    a model gives it no density: left out as --missing drop leaves rows out, and said in
    the points' notes); their weights and known labels with them; points.dropped marks
    the rows left out (None when none is).  A DataError when every row is left out.  Data
    read block by block is scanned once for them, then read without them
    (backends.blockfile.FileRows)."""
    x = points.x
    kept = None
    held: NDArray[np.bool_] | None = None  # per column, whether some row has a value
    if isinstance(x, NpyFile):
        from ..backends.blockfile import file_rows

        dropped = np.zeros(x.shape[0], dtype=bool)
        held = np.zeros(x.shape[1], dtype=bool)
        for start, block in file_blocks(x):
            holes = np.isnan(block)
            dropped[start:start + len(block)] = (holes.all if empty else holes.any)(axis=1)
            held |= ~holes.all(axis=0)
        kept = file_rows(x, left_out=np.flatnonzero(dropped)) if dropped.any() else None
    elif hasattr(x, "split_partitions"):  # on a cluster: dropped by the workers
        kept, masks = x.split_partitions(_rows_with_values if empty else _complete_rows,
                                         x.n_features)
        dropped = np.concatenate(masks)
    else:
        holes = np.isnan(x)
        dropped = holes.all(axis=1) if empty else holes.any(axis=1)
    if not dropped.any():
        return points
    if dropped.all():
        raise _nothing_left(points, dropped, held, empty)
    keep = ~dropped
    notes = points.notes + ((f"{counted(int(dropped.sum()), 'row')} with no value at all "
                             "left out (label -1, no density), as --missing drop leaves "
                             "rows out",) if empty else ())
    return dataclasses.replace(
        points, x=np.ascontiguousarray(x[keep]) if kept is None else kept,
        dropped=dropped, weights=None if points.weights is None else points.weights[keep],
        known=None if points.known is None else points.known[keep], notes=notes)


def _nothing_left(points: Points, dropped: NDArray[np.bool_],
                  held: NDArray[np.bool_] | None, empty: bool) -> DataError:
    """Every row left out: where a column holds no value at all, it says why (not on a
    cluster)."""
    if empty:
        return DataError(points.source, f"none of the {len(dropped)} rows holds a value; "
                                        "no row is left")
    if held is None and not hasattr(points.x, "split_partitions"):  # in memory
        held = ~np.isnan(np.asarray(points.x)).all(axis=0)
    columns = [] if held is None else np.flatnonzero(~held).tolist()
    why = (f" (column '{points.column_names[columns[0]]}' has none at all; leave it out "
           "with --columns)" if columns else "")
    return DataError(points.source, f"every one of the {len(dropped)} rows has a missing "
                                    f"value{why}; no row is left")


def file_blocks(x: NpyFile) -> Iterator[tuple[int, NDArray[np.floating]]]:
    """(first row, rows) of x in blocks of about SCAN_BLOCK_BYTES, in order."""
    step = max(1, SCAN_BLOCK_BYTES // max(1, x.shape[1] * 8))
    for start in range(0, x.shape[0], step):
        yield start, x.read(start, start + step)


def file_missing(x: FileRows, n_components: int, covariance_type: str,
                 n_threads: int | None) -> Dataset:
    """The Dataset of rows x read block by block whose missing values EM treats as such:
    BlockMissingRows (the rows with one held in memory, found by one scan of x that is
    kept in x.found), or the plain rows when none has one.  A DataError when the rows
    with a missing value alone take more than the memory limit."""
    if not x.found:
        limit = default_memory_limit() if x.memory_limit is None else x.memory_limit
        sums, rows, values, held = np.zeros(2 * x.shape[1] + 1), [], [], 0
        for start, block in file_blocks(x):
            sums += observed_sums(block)
            inside = np.flatnonzero(np.isnan(block).any(axis=1))
            rows.append(inside + start)
            values.append(np.asarray(block[inside], dtype=np.float64))
            held += values[-1].nbytes
            if held > limit:
                raise DataError(x.source, f"the rows with a missing value alone take more "
                                          f"than the memory limit ({format_size(limit)}); "
                                          "raise --memory-limit, or use --missing drop")
        x.found.extend([observed_means(sums), np.concatenate(rows),
                        np.concatenate(values)])
    means, incomplete, x_incomplete = x.found
    raw = dataclasses.replace(x, holes=False)
    opened = partial(open_dataset, n_components=n_components,
                     covariance_type=covariance_type, n_threads=n_threads)
    if not len(incomplete):
        return opened(raw)
    return BlockMissingRows(opened(dataclasses.replace(raw, fill=means)), opened(raw),
                            incomplete, x_incomplete)


def _with_holes(x: Any) -> TypeGuard[FileRows]:
    """x is FileRows whose NaN EM treats as missing (holes): the only NpyFile with holes,
    so backends.blockfile need not be imported to tell."""
    return isinstance(x, NpyFile) and bool(getattr(x, "holes", False))


def _complete_rows(x: NDArray[np.floating]) -> tuple[NDArray[np.floating], NDArray[np.bool_]]:
    """(the rows of x without a missing value, the mask of those with one)."""
    return _without(x, np.isnan(x).any(axis=1))


def _rows_with_values(x: NDArray[np.floating]
                      ) -> tuple[NDArray[np.floating], NDArray[np.bool_]]:
    """(the rows of x that hold a value, the mask of those that hold none)."""
    return _without(x, np.isnan(x).all(axis=1))


def _without(x: NDArray[np.floating], dropped: NDArray[np.bool_]
             ) -> tuple[NDArray[np.floating], NDArray[np.bool_]]:
    return (x if not dropped.any() else np.ascontiguousarray(x[~dropped])), dropped


def _one_column(path: str) -> NDArray[np.float64]:
    table = read_points(path, dtype="float64")
    if table.n_features != 1:
        raise DataError(path, f"sample weights are one column, one weight per row; the file "
                              f"has {table.n_features} columns")
    return np.asarray(table.x[:, 0])


def _row_columns(points: Points, read: ReadOptions
                 ) -> tuple[Points, dict[str, NDArray[np.float64]]]:
    """(points without read's weights and known-labels columns, the values of each in
    float64 by what it holds: "weights", "known-labels").  Each is a header name or the
    input's own 0-based column index, whatever --columns reads and the other one takes:
    both are found among the columns read before either is taken out."""
    specs = {what: spec for what, spec in (("weights", read.weights_column),
                                            ("known-labels", read.known_column))
             if spec is not None}
    at = {what: _column_position(points, read, spec, what) for what, spec in specs.items()}
    if len(set(at.values())) < len(at):
        raise DataError(points.source, "the weights column and the known-labels column are "
                                       f"one column, '{points.column_names[at['weights']]}'"
                                       "; give each its own", column=specs["known-labels"])
    if at and len(at) >= points.n_features:
        only = "column is the only column" if len(at) == 1 else "columns are the only columns"
        raise DataError(points.source, f"the {' and the '.join(at)} {only}; there is nothing "
                                       "left to fit", column=next(iter(specs.values())))
    taken: dict[str, NDArray[np.float64]] = {}
    for what, j in sorted(at.items(), key=lambda item: -item[1]):  # the later column first:
        points, taken[what] = _split_column(points, j)  # the earlier keep their place
    return points, taken


def _column_position(points: Points, read: ReadOptions, spec: str, what: str) -> int:
    """Where among points' columns the column spec is (_position), or a DataError."""
    j = _position(points.column_names, read, spec)
    if j is None:
        raise DataError(points.source, f"no {what} column {spec!r}; available columns: "
                                       f"{', '.join(points.column_names)}", column=spec)
    return j


def _position(names: list[str], read: ReadOptions, spec: str) -> int | None:
    """Where among the columns read (names) the column spec is: a header name, or the
    input's own 0-based index.  With read.columns, the reader found it and read it at its
    place in read.read_columns(); without, every column was read, in the input's order.
    None where there is no such column."""
    if read.columns is not None:
        return (read.read_columns() or ()).index(spec)
    if spec in names:
        return names.index(spec)
    if spec.isascii() and spec.isdigit() and int(spec) < len(names):
        return int(spec)
    return None


def _split_column(points: Points, j: int) -> tuple[Points, NDArray[np.float64]]:
    """(points without their column j, the values of that column read in the points'
    dtype, as every route reads it, then in float64)."""
    names = points.column_names
    keep = [i for i in range(len(names)) if i != j]
    x = points.x
    rest: Any
    if hasattr(x, "split_partitions"):  # on a cluster: split by the workers
        rest, columns = x.split_partitions(partial(_take_column, j=j, keep=keep), len(keep))
        weights = np.concatenate(columns)
    elif isinstance(x, NpyFile):
        column = dataclasses.replace(x, columns=(x.columns[j],))
        weights = np.asarray(column.read(0, x.shape[0])[:, 0], dtype=np.float64)
        rest = dataclasses.replace(x, columns=tuple(x.columns[i] for i in keep))
    else:
        weights = np.asarray(x[:, j], dtype=np.float64).copy()
        rest = np.ascontiguousarray(x[:, keep])
    return dataclasses.replace(points, x=rest, column_names=[names[i] for i in keep]), weights


def _take_column(x: NDArray[np.floating], *, j: int, keep: list[int]
                 ) -> tuple[NDArray[np.floating], NDArray[np.float64]]:
    """(the columns keep of x, its column j in float64)."""
    return np.ascontiguousarray(x[:, keep]), np.asarray(x[:, j], dtype=np.float64)


def _unmasked(data: Any) -> NDArray[Any]:
    """data as an array; a numpy masked array's masked entries as missing values (NaN),
    not the values under the mask (np.asarray's).  numpy.ma is looked for only where the
    caller imported it (it costs 10 ms to import)."""
    ma = sys.modules.get("numpy.ma")
    if ma is not None and isinstance(data, ma.MaskedArray):
        if data.dtype.kind not in "biuf":
            return np.asarray(data)
        return np.asarray(data.astype(np.float64).filled(np.nan))
    try:
        return np.asarray(data)
    except ValueError:  # numpy's words: "setting an array element with a sequence. ..."
        raise DataError(ARRAY_SOURCE, f"the {type(data).__name__} is no N x D array: its rows "
                                      "are not all of one length of numbers") from None


def as_points(data: Any, read: ReadOptions | None = None, *,
              sample_weights: Any = None, known_labels: Any = None,
              missing: str | None = None) -> Points:
    """Points from a path, an (N, D) or (N,) array-like, or a pandas DataFrame.

    A DataFrame keeps its column names (a repeated name made unique as the readers make
    it: a, a.1; Points.notes says so); read.columns selects among them (or among
    "0".."D-1" for an array) by name or 0-based index, as among a file's.  Values must be
    finite numbers.  sample_weights: N weights, known_labels: N known components, -1
    where unknown (or the read options' columns and files: see weighed).  missing: what
    a missing value (NaN; in text also an empty field or NA) means, one of
    requests.MISSING_POLICIES (default: read.missing, "error").
    """
    read = api_read_options(read, missing)
    _given_once(read, weights=sample_weights is not None)
    if isinstance(data, (str, os.PathLike)):
        return weighed(load(os.fspath(data), read), ReadOptions(), sample_weights,
                       known_labels)
    names: list[str] | None = None
    notes: tuple[str, ...] = ()
    if hasattr(data, "to_frame") and getattr(data, "name", None) is not None:
        data = data.to_frame()  # a named pandas Series: one column of that name
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):  # a pandas DataFrame
        data, names, notes = _frame_values(data, read)
    x = _unmasked(data)
    if x.ndim == 0:  # None, a number, a dict, ...: no array of points at all
        raise DataError(ARRAY_SOURCE, "expected a path, an N x D array or a DataFrame of "
                                      f"points, got {type(data).__name__}")
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise DataError(ARRAY_SOURCE, f"expected an N x D array with N, D >= 1, got shape "
                                      f"{x.shape}")
    if x.dtype.kind not in "biuf":
        raise DataError(ARRAY_SOURCE, f"the array holds {x.dtype} values, not real numbers")
    if names is None:
        names = [str(j) for j in range(x.shape[1])]
        if read.columns is not None:
            cols = _chosen_columns(read, names)
            x, names = x[:, cols], [names[j] for j in cols]
    given = x  # as given: a value too large for read.dtype is told as it was
    with np.errstate(over="ignore", invalid="ignore"):
        x = np.ascontiguousarray(x, dtype=np.dtype(read.dtype))
    if x is data or not x.flags.owndata:  # the caller's memory: a fit keeps its own rows,
        x = x.copy()  # whose labels it gives later, whatever the caller then writes there
    bad = np.argwhere(refused(x, _allowed(read, names)))
    if len(bad):
        i, j = (int(v) for v in bad[0])
        if np.isnan(x[i, j]):  # the remedies, as the Python API says them
            raise DataError(ARRAY_SOURCE, f"missing value (NaN) in row {i}; "
                                          f"{api_remedies(MISSING_REMEDIES)}", column=names[j])
        if np.isfinite(given[i, j]):
            raise DataError(ARRAY_SOURCE, f"value {given[i, j].item()!r} in row {i} is out of "
                                          f"range for {x.dtype}", column=names[j])
        raise DataError(ARRAY_SOURCE, f"value {x[i, j]} in row {i} is not a finite number; "
                                      f"{INFINITE_HINT}", column=names[j])
    points = weighed(Points(x, names, ARRAY_SOURCE, notes), read, sample_weights, known_labels)
    cluster = active()
    return points if cluster is None else dataclasses.replace(points,
                                                              x=cluster.from_array(points.x))


def _allowed(read: ReadOptions, names: list[str]) -> PerColumn:
    """Where the columns read (names) may hold missing values, as the readers take
    read.missing_in() (io.missing), their places found as weighed finds them."""
    missing = read.missing_in()
    if isinstance(missing, bool):
        return missing
    at = [_position(names, read, spec) for spec in missing]
    return tuple(j in at for j in range(len(names)))


def api_read_options(read: Any, missing: str | None) -> ReadOptions:
    """The read options a Python API call gave (a TypeError for anything else, which
    would fail inside the reader), missing put in where given."""
    if read is not None and not isinstance(read, ReadOptions):
        raise TypeError(f"read must be an emgmm_cli.ReadOptions (how to read the data), not "
                        f"a {type(read).__name__}")
    read = read or ReadOptions()
    return read if missing is None else dataclasses.replace(read, missing=missing)


def api_files(read: Any, sample_weights: Any, known_labels: Any) -> tuple[Any, Any, Any]:
    """(read, sample_weights, known_labels) of a Python API call, where sample_weights or
    known_labels given as a path (a str or os.PathLike) become that file in the read
    options, as --sample-weights FILE and --known-labels FILE read it (and record it).
    A TypeError for read options that are not a ReadOptions (api_read_options)."""
    if read is not None:
        read = api_read_options(read, None)
    files = {name: os.fspath(value) for name, value in
             (("sample_weights", sample_weights), ("known_labels", known_labels))
             if isinstance(value, (str, os.PathLike))}
    if not files:
        return read, sample_weights, known_labels
    read = api_read_options(read, None)
    _given_once(read, weights="sample_weights" in files, known="known_labels" in files)
    return (dataclasses.replace(read, **files),
            None if "sample_weights" in files else sample_weights,
            None if "known_labels" in files else known_labels)


def _given_once(read: ReadOptions, *, weights: bool = False, known: bool = False) -> None:
    """Sample weights (weights) or known labels (known) given to a Python API call beside
    read options that bring their own: a UsageProblem, whichever would be taken."""
    if weights and read.weighted:
        raise UsageProblem("give the sample weights once: sample_weights, or the "
                           "weights_column or sample_weights of the read options")
    if known and (read.known_column or read.known_labels) is not None:
        raise UsageProblem("give the known labels once: known_labels, or the known_column "
                           "or known_labels of the read options")


def _chosen_columns(read: ReadOptions, names: list[str]) -> list[int]:
    """Where among names the columns read are (every one without read.columns), each a
    name or a 0-based index, as a file's header selects them (io.text.resolve_columns)."""
    columns = read.read_columns()
    if columns is not None and not columns:
        raise DataError(ARRAY_SOURCE, "no columns selected; name at least one column")
    return resolve_columns(columns, names, ARRAY_SOURCE)


def _frame_values(frame: Any, read: ReadOptions) -> tuple[Any, list[str], tuple[str, ...]]:
    """(values, column names, notes) of the DataFrame's columns that read.columns names
    (every column without), a repeated name read as the readers read a header's (a, a.1)."""
    given = [str(c) for c in frame.columns]
    names = unique_names(given)
    notes = tuple(repeated_names(given, names, "the DataFrame"))
    at = _chosen_columns(read, names)
    chosen = [names[j] for j in at]
    sub = frame.iloc[:, at]  # by position: names may repeat
    for name, kind in zip(chosen, sub.dtypes):
        if getattr(kind, "kind", "O") not in "biuf":
            raise DataError(ARRAY_SOURCE, f"not a numeric column (dtype {kind})", column=name,
                            advice=(SELECT_COLUMNS,))
    return sub.to_numpy(dtype=np.float64, na_value=np.nan), chosen, notes


def dataset(points: Points, n_components: int = 1, covariance_type: str = "full", *,
            n_threads: int | None = None) -> Dataset:
    """The Dataset over points that a model of this K and family is fitted or applied on
    (backends.open_dataset chooses the backend), its rows weighted by points.weights."""
    return rows_dataset(points.x, n_components, covariance_type, n_threads=n_threads,
                        weights=points.weights, known=points.known, dropped=points.dropped)


def rows_dataset(x: Any, n_components: int = 1, covariance_type: str = "full", *,
                 n_threads: int | None = None, weights: NDArray[np.float64] | None = None,
                 known: NDArray[np.int64] | None = None,
                 dropped: NDArray[np.bool_] | None = None,
                 backend: str | None = None) -> Dataset:
    """The Dataset over rows x (an array, or what open_dataset reads) with their per-row
    data; rows with missing values (NaN, only with missing="em") are MissingRows (on a
    cluster, rows that hold theirs: backends.dask.DaskDataset.with_missing)."""
    holes = isinstance(x, np.ndarray) and bool(np.isnan(x).any())
    if hasattr(x, "with_missing"):
        x = x.with_missing()
    rows: Dataset
    if _with_holes(x):  # read block by block (file_missing)
        rows = file_missing(x, n_components, covariance_type, n_threads)
    else:
        rows = open_dataset(impute_means(x) if holes else x, n_components=n_components,
                            covariance_type=covariance_type, n_threads=n_threads,
                            backend=backend)
    if holes:
        rows = MissingRows(rows, x)
    if weights is None and known is None and dropped is None:
        return rows
    if hasattr(rows, "with_rows"):  # rows that keep their per-row data (backends.dask)
        with_rows: Dataset = rows.with_rows(weights, known, dropped)
        return with_rows
    return WeightedRows(rows, weights, known, dropped)
