"""Data for the use cases: read from a file (the command line) or taken from an array or
a data frame (the Python API), then opened as an engine Dataset."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from ..backends import active, open_dataset
from ..engine.dataset import Dataset
from ..io.cache import open_npy_blocks, open_points
from ..io.errors import DataError
from ..io.npyfile import NpyFile, nonfinite_error
from ..io.readers import Points, read_points
from .requests import ReadOptions

#: The source name of data handed over in memory (in messages and the model file).
ARRAY_SOURCE = "<array>"

Log = Callable[[str], None]


def load(path: str, read: ReadOptions, *, log: Log | None = None,
         stdin: BinaryIO | None = None) -> Points:
    """The data of a file ('-': stdin, or the bytes of stdin given) as the read options
    say: in memory when small; over read.memory_limit, a .npy is read block by block and
    a text file through its binary cache (emgmm_cli.io.cache)."""
    if path == "-" and stdin is not None:
        return read_points(path, columns=read.columns, delimiter=read.delimiter,
                           header=read.header, dtype=read.dtype, stdin=stdin)
    if active() is not None:
        return read_on_cluster(path, columns=read.columns, delimiter=read.delimiter,
                               header=read.header, dtype=read.dtype)
    return open_points(path, columns=read.columns, delimiter=read.delimiter,
                       header=read.header, dtype=read.dtype, memory_limit=read.memory_limit,
                       cache_dir=read.cache_dir, log=log)


def read_on_cluster(path: str, *, columns: Sequence[str] | None = None,
                    delimiter: str | None = None, header: bool | None = None,
                    dtype: Any = np.float64, stdin: BinaryIO | None = None) -> Points:
    """read_points, by the workers of the active cluster (backends.dask): a .npy file in
    row ranges (without --columns), a directory or glob of parts one part per worker task;
    standard input is read here and sent to them."""
    cluster = active()
    if path == "-":
        points = read_points(path, columns=columns, delimiter=delimiter, header=header,
                             dtype=dtype, stdin=stdin)
        return Points(cluster.from_array(points.x), points.column_names, points.source,
                      points.notes)
    reader = partial(_read_part, columns=tuple(columns) if columns else None,
                     delimiter=delimiter, header=header, dtype=np.dtype(dtype).name)
    if os.path.isfile(path):
        npy = open_npy_blocks(os.path.abspath(path), columns=columns, dtype=dtype,
                              check=False, source=path) \
            if path.lower().endswith(".npy") else None
        if npy is not None:
            names = npy.column_names
            data = cluster.open_ranges(*npy.x.shape, npy.x.dtype,
                                       partial(_read_rows, npy.x, names, path))
            return Points(data, names, path)
        data, names = cluster.open_parts([path], reader)
        return Points(data, names, path)
    from ..backends.dask import part_files

    parts = part_files(path)
    if parts is None:
        raise DataError(path, "file not found; check the path")
    data, names = cluster.open_parts(parts, reader)
    return Points(data, names, path)


def _read_rows(npy: NpyFile, names: list[str], source: str, start: int,
               stop: int) -> NDArray[np.floating]:
    """Rows start:stop of a .npy file, read on a worker and checked for non-finite values."""
    raw = npy.read_raw(start, stop)
    x = npy.convert(raw)
    if not np.isfinite(x).all():
        raise nonfinite_error(source, names, x, raw[:, list(npy.columns)], start)
    return x


def _read_part(path: str, **kwargs: Any) -> tuple[NDArray[np.floating], list[str]]:
    """One part of a dataset, read on a worker: its rows and column names."""
    points = read_points(path, **kwargs)
    return points.x, points.column_names


def as_points(data: Any, read: ReadOptions | None = None) -> Points:
    """Points from a path, an (N, D) or (N,) array-like, or a pandas DataFrame.

    A DataFrame keeps its column names; read.columns selects among them (or among
    "0".."D-1" for an array).  Values must be finite numbers.
    """
    read = read or ReadOptions()
    if isinstance(data, (str, os.PathLike)):
        return load(os.fspath(data), read)
    names: list[str] | None = None
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):  # a pandas DataFrame
        names = [str(c) for c in data.columns]
        data = _frame_values(data, names, read)
        if read.columns is not None:
            names = list(read.columns)
    x = np.asarray(data)
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise DataError(ARRAY_SOURCE, f"expected an N x D array with N, D >= 1, got shape "
                                      f"{x.shape}")
    if x.dtype.kind not in "biuf":
        raise DataError(ARRAY_SOURCE, f"the array holds {x.dtype} values, not numbers")
    if names is None:
        names = [str(j) for j in range(x.shape[1])]
        if read.columns is not None:
            cols = [_column_index(c, names) for c in read.columns]
            x, names = x[:, cols], [names[j] for j in cols]
    with np.errstate(over="ignore", invalid="ignore"):
        x = np.ascontiguousarray(x, dtype=np.dtype(read.dtype))
    bad = np.argwhere(~np.isfinite(x))
    if len(bad):
        i, j = (int(v) for v in bad[0])
        raise DataError(ARRAY_SOURCE, f"value {x[i, j]} in row {i} is not a finite number; "
                                      "missing or infinite values must be removed or imputed "
                                      "first", column=names[j])
    cluster = active()
    return Points(x if cluster is None else cluster.from_array(x), names, ARRAY_SOURCE)


def _column_index(spec: str, names: list[str]) -> int:
    if spec in names:
        return names.index(spec)
    raise DataError(ARRAY_SOURCE, f"no such column; available columns: {', '.join(names)}",
                    column=spec)


def _frame_values(frame: Any, names: list[str], read: ReadOptions) -> Any:
    chosen = list(read.columns) if read.columns is not None else names
    for name in chosen:
        if name not in names:
            _column_index(name, names)
    columns = [frame.columns[names.index(n)] for n in chosen]
    sub = frame[columns]
    for name, kind in zip(chosen, sub.dtypes):
        if getattr(kind, "kind", "O") not in "biuf":
            raise DataError(ARRAY_SOURCE, f"not a numeric column (dtype {kind}); select "
                                          "numeric columns", column=name)
    return sub.to_numpy(dtype=np.float64, na_value=np.nan)


def dataset(points: Points, n_components: int = 1, covariance_type: str = "full", *,
            n_threads: int | None = None) -> Dataset:
    """The Dataset over points that a model of this K and family is fitted or applied on
    (backends.open_dataset chooses the backend)."""
    return open_dataset(points.x, n_components=n_components, covariance_type=covariance_type,
                        n_threads=n_threads)
