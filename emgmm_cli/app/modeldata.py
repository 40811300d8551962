"""Data read for a saved model's columns (predict, score, plot, and fit --init-model): by
the model's feature names where the data have them all, in whatever order; else every
column (or those asked for), whose count must be the model's D."""

from __future__ import annotations

import dataclasses
import io
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..io.errors import DataError
from ..io.model import LoadedModel, check_features
from ..io.readers import Points
from ..io.text import POSITIONAL_HEADER
from ..vocab import counted
from .data import as_points, load
from .requests import ReadOptions
from .rows import buffered_input

Warn = Callable[[str], None]


def read_data(model: LoadedModel, path: str, read: ReadOptions, warn: Warn, *,
              stdin: io.BytesIO | None = None, log: Callable[[str], None] | None = None,
              whole: bool = False) -> Points:
    """The data for a model, read as fit reads them (data.load: over read.memory_limit, a
    .npy block by block and a text file through its binary cache; log: its progress):
    read.columns if given; else the model's feature names when the input's header holds
    them all; else every column.  D must be the model's.  stdin: the bytes of stdin, when
    they are read more than once.  With sample weights (read.weights_column,
    read.sample_weights) the points carry them (data.weighed).  whole: in memory
    whatever their size (plot draws every point).  warn: what reading decided (the
    points' notes, every column used instead of the model's), each line naming the
    source."""
    names = model.feature_names
    read = in_model_order(read, names)
    if (read.weights_column or read.known_column) and read.columns is None \
            and usable_names(names):
        read = dataclasses.replace(read, columns=tuple(names))
    if whole:
        read = dataclasses.replace(read, memory_limit=sys.maxsize)
    if stdin is None:
        stdin = buffered_input(path)

    def read_as(columns: Sequence[str] | None) -> Points:
        """The data with these columns (None: every one), stdin's bytes from their start."""
        if stdin is not None:
            stdin.seek(0)
        return load(path, dataclasses.replace(read, columns=columns), log=log, stdin=stdin)

    other_names = False  # a header, without the model's names: every column is used
    if read.columns is not None:
        points = read_as(read.columns)
        if _reordered(points.column_names, names):  # given by index: the model's, by name
            warn(f"{points.source}: the columns given ({', '.join(points.column_names)}) "
                 f"are the model's in another order; using them in its ({', '.join(names)})")
            points = read_as(tuple(names))
    else:
        points, other_names = model_columns(read_as, names)
    check_features(model, points)
    other = other_columns(points, names) if other_names else given_columns(points, names,
                                                                            read)
    if other is not None:
        warn(f"{points.source}: {other}")
    points = _expected_header(points, names)
    for note in points.notes:
        warn(f"{points.source}: {note}")
    return points


def _expected_header(points: Points, names: list[str]) -> Points:
    """points without the note that their header numbers the columns from 0 (io.text's
    POSITIONAL_HEADER) where those are the model's names (as sample writes them for a
    model of unnamed columns): a header was what the model led to expect."""
    if points.column_names != names:
        return points
    return dataclasses.replace(points, notes=tuple(
        n for n in points.notes if POSITIONAL_HEADER not in n))


def other_columns(points: Points, names: list[str]) -> str:
    """What reading says of data whose columns are named, but not by the model's names:
    every column is used, in order."""
    return (f"the columns ({', '.join(points.column_names)}) are not the model's "
            f"({', '.join(names)}); using all columns")


def given_columns(points: Points, names: list[str], read: ReadOptions | None) -> str | None:
    """What reading says of columns given (read.columns) that are named, but not by the
    model's names, in its order: they are used in the order given, the first for the
    model's first feature (a,b,w for a model of a,b,c; b,a,w would put b where a was)."""
    if read is None or read.columns is None or not usable_names(names) \
            or not usable_names(points.column_names) or points.column_names == names:
        return None
    return (f"the columns given ({', '.join(points.column_names)}) are not the model's "
            f"({', '.join(names)}); using them in the order given")


def _reordered(columns: list[str], names: list[str]) -> bool:
    """Whether columns (as read) are the model's names in another order: columns given by
    index whose header names are the model's, which are then taken by name."""
    return usable_names(names) and columns != names and sorted(columns) == sorted(names)


#: How the readers refuse a column asked for (io.text.resolve_columns) that the data lack
#: by name: none of that name, or a digit string taken as an index past the columns, or as
#: the index of a column already taken by name.
_NOT_THERE = ("no such column", "column index", "column selected more than once")


def by_name(read_as: Callable[[tuple[str, ...] | None], Points], names: list[str]
            ) -> Points | None:
    """The data's columns of the model's names (read_as reads the data with the columns
    given), or None where the data lack one of them: then every column is read, in order,
    instead.  A name of digits (2019) that the data's header lacks selects a column by
    index instead, one of another name: such data lack it too."""
    try:
        points = read_as(tuple(names))
    except DataError as exc:
        if exc.column in names and exc.message.startswith(_NOT_THERE):
            return None
        raise
    return points if points.column_names == names else None


def in_model_order(read: ReadOptions, names: list[str]) -> ReadOptions:
    """read, its columns in the model's order where they are the model's feature names in
    another: columns named as the model names them are its columns, whatever order they
    are asked for in (as the model's names are taken without --columns); columns asked
    for by index, or by other names, are taken in the order given."""
    asked = read.columns
    if asked is None or not usable_names(names) or list(asked) == names \
            or sorted(map(str, asked)) != sorted(names):
        return read
    return dataclasses.replace(read, columns=tuple(names))


def model_columns(read_as: Callable[[tuple[str, ...] | None], Points], names: list[str]
                  ) -> tuple[Points, bool]:
    """(the data for a model of these feature names, whether every column was taken
    though the data's columns have names, other than the model's), no columns asked for:
    the model's names where the data's own names hold them all, in whatever order; every
    column, in order, otherwise.  Data without names of their own (an array, a file
    without a header, a .npy: columns named "0", "1", ... in order, or a header that
    numbers them so) are taken in order, whatever the model's names: a model's names of
    digits from columns chosen by index (fit --columns 1,0) would otherwise reorder data
    already in its order.  read_as: the data with the columns given (None: all)."""
    digits = all(name.isdigit() for name in names)
    if usable_names(names) and not digits:  # names no unnamed data can have
        named = by_name(read_as, names)
        points = read_as(None) if named is None else named
        return points, named is None and usable_names(points.column_names)
    points = read_as(None)
    own = points.column_names
    if own != positional(len(own)) and set(names) <= set(own):
        named = by_name(read_as, names)  # a header of years, a DataFrame's labels 2, 0, 1
        if named is not None:
            return named, False
    return points, usable_names(names) and usable_names(own)


def positional(n: int) -> list[str]:
    """The names of n unnamed columns: "0", "1", ..., as the readers give them."""
    return [str(j) for j in range(n)]


def usable_names(names: list[str]) -> bool:
    """Names that select columns by header: any but the names of unnamed columns ("0",
    "1", ..., in order: io.readers names them so), which select them by index.  A name of
    digits among others (a year) is a header's name too (by_name)."""
    return bool(names) and names != positional(len(names))


def model_points(names: list[str], n_features: int, data: Any, read: ReadOptions | None,
                 sample_weights: Any = None, missing: str | None = None,
                 known_labels: Any = None) -> Points:
    """The points of data (a path, a DataFrame, an array) for a model of these feature
    names and D, as read_data reads a file for the command line: read.columns if given;
    else the model's feature names where the data's column names hold them all (a
    DataFrame's columns in another order, or among others, are taken by name); else every
    column, in order."""
    given = {"sample_weights": sample_weights, "known_labels": known_labels,
             "missing": missing}
    read = None if read is None else in_model_order(read, names)
    if read is None or read.columns is None:
        points, other_names = model_columns(lambda columns: as_points(
            data, dataclasses.replace(read or ReadOptions(), columns=columns), **given), names)
        if other_names:
            points = dataclasses.replace(
                points, notes=(other_columns(points, names), *points.notes))
    else:
        points = as_points(data, read, **given)
        other = given_columns(points, names, read)
        if other is not None:
            points = dataclasses.replace(points, notes=(other, *points.notes))
    if points.n_features != n_features:
        # a bare vector is a column of values (one coordinate each); one point of the
        # model's D coordinates given as such a vector is a row of them
        d = n_features
        hint = (f"; a point of {d} coordinates is one row, shape (1, {d}): give [point] or "
                "point.reshape(1, -1)" if np.ndim(data) == 1 and len(data) == d else "")
        raise DataError(points.source, f"has {counted(points.n_features, 'column')} but the "
                                       f"model has {d}{hint}")
    return _expected_header(points, names)
