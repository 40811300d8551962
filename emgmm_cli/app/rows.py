"""The input's own rows with a cluster column added (fit and predict --with-rows).

Every column of the input is kept, those that were not fitted too (ids, text), as it was
written: text is read as text and written back unchanged to CSV and TSV; the record
formats (JSON, JSON Lines, Parquet) get numbers for the columns whose values are numbers
or missing and keep their values as numbers (_as_numbers).
The rows are read a second time, after the points, by io.readers.column_blocks with the
delimiter and header the points were read with, so that the two line up.  To CSV and TSV
they are read, annotated and written ROWS_BLOCK rows at a time: only the labels (and the
responsibilities and log-densities asked for) are held for every row.  The record formats
decide a column's type from all its values, so to them the table is held in memory.
"""

from __future__ import annotations

import io
import os
import re
import stat
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from ..io.errors import DataError, changed_error, file_version
from ..io.formats import format_for_path
from ..io.readers import column_blocks
from ..io.text import missing_word
from ..io.writers import OutputSet, TableStream, stream_table, write_table
from .requests import ReadOptions

#: The name of the column that holds each row's component, and of its label files'
#: header (--label-header).
CLUSTER = "cluster"
#: Formats that get the input's text as it was written (the others: numbers as numbers).
TEXT_AS_WRITTEN = ("csv", "tsv")


def buffered_input(path: str) -> io.BytesIO | None:
    """The bytes of path ('-': stdin) where it cannot be read twice (the points, then the
    rows): stdin, or a pipe (a FIFO, bash's <(...)), which a second open would wait on or
    find drained.  None for a file or a directory (read again), and where the input cannot
    be read (a terminal, none, a missing path): the reader then says why."""
    if path != "-":
        try:
            if not stat.S_ISFIFO(os.stat(path).st_mode):
                return None
            with open(path, "rb") as fh:
                return io.BytesIO(fh.read())
        except OSError:
            return None
    stream = getattr(sys.stdin, "buffer", None) if sys.stdin is not None else None
    if stream is None or stream.isatty():
        return None
    return io.BytesIO(stream.read())


#: Rows --with-rows reads, annotates and writes at a time to CSV and TSV.
ROWS_BLOCK = 1 << 16


@dataclass(frozen=True)
class InputRows:
    """The input's rows, to be read back after the fit (--with-rows): path ('-': stdin),
    read as the points were, from stdin's bytes where it cannot be read twice
    (buffered_input)."""

    path: str
    read: ReadOptions
    stdin: BinaryIO | None = None
    #: each file's version (io.errors.file_version) from before the points were read
    #: (before_reading); None: not checked
    versions: dict[str, tuple[int, ...]] | None = None

    @classmethod
    def before_reading(cls, path: str, read: ReadOptions, stdin: BinaryIO | None
                       ) -> "InputRows":
        """The rows of path, whose files' versions are taken now, before the points are
        read: a file that changes by the time its rows are read back (rewritten while
        the fit ran) is refused (io.errors.changed_error), not written beside the labels
        of other rows."""
        if stdin is not None:
            return cls(path, read, stdin)
        try:
            files = _parts(path) or [path]
        except DataError:  # no parts there: the reader says so, as without --with-rows
            return cls(path, read, stdin)
        return cls(path, read, stdin, {one: _version(one) for one in files})

    def blocks(self, block_rows: int | None = None) -> Iterator[dict[str, NDArray[Any]]]:
        """Every column by name, in order, as written (io.readers.column_blocks),
        block_rows rows at a time (None: at once); of a directory or a glob of parts (the
        dask backend's input), the parts' rows one after the other, each part's columns
        by the first part's names (a DataError where a part has other names)."""
        path, read = self.path, self.read
        parts = None if self.stdin is not None else _parts(path)
        if self.versions is not None and list(self.versions) != (parts or [path]):
            raise changed_error(path)  # parts came or went
        names: list[str] | None = None
        for one in [path] if parts is None else parts:
            self._unchanged(one)
            for block in column_blocks(one, delimiter=read.delimiter, header=read.header,
                                       stdin=self.stdin if parts is None else None,
                                       block_rows=block_rows):
                names = list(block) if names is None else names
                yield _named(block, names, one)
            self._unchanged(one)

    def _unchanged(self, one: str) -> None:
        if self.versions is not None and _version(one) != self.versions[one]:
            raise changed_error(one)

    def whole(self) -> dict[str, NDArray[Any]]:
        """Every row at once (blocks, joined)."""
        tables = list(self.blocks())
        if len(tables) == 1:
            return tables[0]
        return {name: _joined([t[name] for t in tables]) for name in tables[0]}


def _parts(path: str) -> list[str] | None:
    """The parts of a directory or glob (the dask backend's input); None for a file
    (whatever its name holds: 'data[1].csv' is no glob), stdin or a pipe."""
    from ..backends.dask import part_files

    return None if path == "-" or os.path.isfile(path) else part_files(path)


def _version(path: str) -> tuple[int, ...]:
    """The file's version (io.errors.file_version); () where it is gone."""
    try:
        return file_version(os.stat(path))
    except OSError:
        return ()


def _named(block: dict[str, NDArray[Any]], names: list[str], source: str
           ) -> dict[str, NDArray[Any]]:
    """block's columns in the order of names, which it must hold, no more and no fewer."""
    if list(block) == names:
        return block
    if set(block) != set(names):
        other = sorted(set(block) ^ set(names))[0]
        which = ("has a column '{}' that the first part lacks" if other in block
                 else "lacks the first part's column '{}'").format(other)
        raise DataError(source, f"{which}; --with-rows writes the parts as one table, "
                                "of the same columns")
    return {name: block[name] for name in names}


def _joined(columns: list[NDArray[Any]]) -> NDArray[Any]:
    """One column of every part, one after the other: where the parts hold it otherwise
    (text in one, floats of a binary part in another), as text, each float as _as_text
    writes it."""
    if len({c.dtype for c in columns}) > 1:
        columns = [_as_text(c) for c in columns]
    return np.concatenate(columns)


#: From this magnitude on a float64 is a whole number and not every whole number is one: a
#: value there stays text unless the float is exactly what its text says (an id
#: 9007199254740993 would become 9007199254740992).
EXACT_WHOLE = 2**53


def _as_numbers(column: NDArray[Any]) -> NDArray[Any]:
    """A text column as numbers where each value is one, or a missing value as the
    readers take them (an empty field, NA, any spelling of NaN, blanks around them:
    NaN, which the record formats write as null), and each number keeps its value; else
    as it is, text: where a value is no number or an infinity, where a number is written
    with leading zeros (an id, 0012), where one of EXACT_WHOLE or more is not exactly
    the float it reads as, or where one reads as 0 but is not (1e-400)."""
    import pandas as pd

    if column.dtype.kind != "O" or not all(map(_number_or_missing, column[:SNIFF])):
        return column  # a column of text is known by its first values
    values = pd.to_numeric(pd.Series(column, dtype=object), errors="coerce")  # NaN: none
    if values.dtype.kind not in "iuf":
        return column
    holes = np.asarray(values.isna(), dtype=bool)
    if holes.any() and not all(map(_missing, column[holes])):
        return column
    given = column[~holes] if holes.any() else column
    if _zero_led(given):  # an id 0012, a code 007
        return column
    if values.dtype.kind in "iu":
        return np.asarray(values)
    numbers = np.asarray(values, dtype=np.float64)[~holes]
    if not np.isfinite(numbers).all() or not _exact(given, numbers):
        return column
    return np.asarray(values, dtype=np.float64)


#: The first values of a column _as_numbers looks at before it reads them all.
SNIFF = 64


def _missing(value: Any) -> bool:
    """Whether a value of a column read back is missing: a missing word of text, or a
    JSON input's null or NaN."""
    if isinstance(value, str):
        return missing_word(value)
    return value is None or (isinstance(value, float) and value != value)


def _number_or_missing(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return _missing(value)
    return True


def _zero_led(texts: NDArray[Any]) -> bool:
    """Whether a number of texts (each one a number) is written with leading zeros: its
    first characters read, as bytes, at once."""
    raw = np.asarray(texts).astype("S")  # numbers are ASCII
    if raw.dtype.itemsize < 2:
        return False
    head = raw.view(np.uint8).reshape(len(raw), -1)[:, :3]
    head = np.pad(head, ((0, 0), (0, 3 - head.shape[1])))
    digit = (head >= ord("0")) & (head <= ord("9"))
    signed = (head[:, 0] == ord("+")) | (head[:, 0] == ord("-"))
    led = ((head[:, 0] == ord("0")) & digit[:, 1]) | (
        signed & (head[:, 1] == ord("0")) & digit[:, 2])
    blank = (head[:, 0] == ord(" ")) | (head[:, 0] == ord("\t"))
    return bool(led.any()) or (bool(blank.any()) and any(
        re.match(r"\s*[+-]?0\d", t) for t in np.asarray(texts)[blank]))


def _exact(texts: Any, numbers: NDArray[np.float64]) -> bool:
    """Whether each float is the number its text says where the float cannot be trusted
    to: from EXACT_WHOLE on, and at 0 (a text that underflowed)."""
    from decimal import Decimal, InvalidOperation

    doubtful = (np.abs(numbers) >= EXACT_WHOLE) | (numbers == 0)
    for text, number in zip(texts[doubtful], numbers[doubtful]):
        try:
            if Decimal(str(text).strip()) != Decimal(float(number)):
                return False
        except InvalidOperation:  # pandas read what Decimal does not (1_000)
            return False
    return True


def _as_text(column: NDArray[Any]) -> NDArray[Any]:
    """A column of floats (of a binary input) as the shortest text of each value that
    reads back as it (whole numbers without '.0', as %g writes them), as a text input's
    own text is kept; other columns as they are.
    Text output gives floats only DIGITS significant digits otherwise: times in seconds
    since 1970 would lose their decimals."""
    if column.dtype.kind != "f":
        return column
    values = column.tolist() if column.dtype == np.float64 else column
    texts = ("" if v != v else str(v) for v in values)  # NaN: an empty field, as before
    return np.array([t[:-2] if t.endswith(".0") else t for t in texts], dtype=object)


def write_with_rows(dest: str, rows: InputRows, labels: NDArray[np.int64], *, source: str,
                    resp: NDArray[np.floating] | None = None,
                    log_density: NDArray[np.floating] | None = None,
                    out: OutputSet | None = None) -> None:
    """The input's rows with their cluster, and p0.. and log_density where given
    (annotated), to dest: to CSV and TSV ROWS_BLOCK rows at a time, to the other formats
    at once.  Rows that do not line up with the labels are a DataError, and nothing is
    written."""
    if format_for_path(dest) not in TEXT_AS_WRITTEN:
        write_table(dest, annotated(rows.whole(), labels, source=source, dest=dest, resp=resp,
                                    log_density=log_density), out=out)
        return
    n, done = len(labels), 0
    with ExitStack() as stack:
        stream: TableStream | None = None
        blocks = rows.blocks(ROWS_BLOCK)
        for block in blocks:
            m = _length(block)
            if done + m > n:  # the rows left are counted for the message
                raise _not_lined_up(source, done + m + sum(map(_length, blocks)), n)
            part = slice(done, done + m)
            table = annotated(block, labels[part], source=source, dest=dest,
                              resp=None if resp is None else resp[part],
                              log_density=None if log_density is None else log_density[part])
            if stream is None:
                stream = stack.enter_context(stream_table(dest, n_rows=n, dtype=None,
                                                          column_names=list(table), out=out))
            stream.write_columns(list(table.values()))
            done += m
        if done != n:
            raise _not_lined_up(source, done, n)


def _length(block: dict[str, NDArray[Any]]) -> int:
    return len(next(iter(block.values())))


def _not_lined_up(source: str, read: int, fitted: int) -> DataError:
    return DataError(source, f"the rows read back ({read}) are not the {fitted} rows "
                             "fitted; --with-rows needs a plain table")


def annotated(rows: dict[str, NDArray[Any]], labels: NDArray[np.int64], *, source: str,
              dest: str, resp: NDArray[np.floating] | None = None,
              log_density: NDArray[np.floating] | None = None) -> dict[str, Any]:
    """The rows, then cluster, then the responsibilities p0..p{K-1} and log_density when
    given: the table --with-rows writes to dest (whose format decides whether text that
    holds numbers is written as numbers).  An added column never replaces one of the
    input's: it takes its name with '_' appended as often as needed (added_name)."""
    n = len(labels)
    lengths = {len(c) for c in rows.values()}
    if lengths != {n}:
        raise _not_lined_up(source, sorted(lengths)[0], n)
    numbers = format_for_path(dest) not in TEXT_AS_WRITTEN
    table: dict[str, Any] = {name: _as_numbers(c) if numbers else _as_text(c)
                             for name, c in rows.items()}
    table[added_name(CLUSTER, table)] = labels
    if resp is not None:
        for j in range(resp.shape[1]):
            table[added_name(f"p{j}", table)] = resp[:, j]
    if log_density is not None:
        table[added_name("log_density", table)] = log_density
    return table


def added_name(name: str, table: dict[str, Any]) -> str:
    """The name of a column added to table (--with-rows): name, with '_' appended until
    no column of table has it (an input's cluster column keeps its name, and the labels
    go to cluster_)."""
    while name in table:
        name += "_"
    return name


def write_labels(dest: str, labels: NDArray[np.int64], *, header: bool,
                 out: OutputSet | None = None) -> None:
    """One label a line, under a 'cluster' header only when asked (so that paste and
    sort | uniq -c work)."""
    if header:
        write_table(dest, {CLUSTER: labels}, out=out)
    else:
        write_table(dest, labels, out=out)
