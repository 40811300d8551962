"""The output formats: one writer class per format, one row per format in FORMATS.

A table reaches a file through one writer: begin() once, write_block() for each block of
rows, end() once.  write_table (one block) and stream_table (block by block) in writers.py
drive the same classes, so a table streamed in pieces and the same table written at once
are the same bytes, and no second serialiser has to be kept in step with the first.

Adding a format is one writer class and one row in FORMATS.  The extension lookup
(format_for_path), the error that lists the formats and the help text (formats_help) are
built from the table, so nothing else needs to learn the new name.

This module imports without numpy, because `emgmm --help` builds its text from FORMATS and
must start fast.  Writers handle the numpy arrays they are given through the arrays' own
methods.  Only a format that needs a library's functions imports that library, inside its
own methods (Npy does so for numpy's header functions).

Three kinds of table reach a writer (see Layout): a bare vector (labels, scores), which
has no column names and so no header; a numeric matrix with named columns (responsibilities
``p0..p{K-1}``); and a table of columns each of its own type (numbers, strings, bools,
None).  Each writer class says what it makes of each.
"""

from __future__ import annotations

import csv
import functools
import math
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, ClassVar

from .errors import DataError

if TYPE_CHECKING:
    import json

    import numpy as np

__all__ = [
    "FORMATS",
    "Block",
    "Layout",
    "TableWriter",
    "STDOUT_FORMAT",
    "format_for_path",
    "format_names",
    "stdout_format_names",
    "formats_help",
    "jsonable",
    "npy_header",
]

#: Rows are formatted this many cells at a time, so that no writer builds the text of a
#: whole large table in memory at once.
_CELLS_PER_CHUNK = 1 << 16


# --------------------------------------------------------------------------- what writers get


@dataclass(frozen=True)
class Layout:
    """What a writer is told before the first row, so that it can write its header.

    names: the column names, or None for a bare vector (which has no header).
    n_rows: the number of rows that will follow.  A .npy header holds the final shape, so
        it must be known before the first row.
    dtype: the dtype of a vector or of a numeric matrix.  None for a table of columns
        where each column has its own type.
    digits: the significant digits text formats give each column's floats, or None:
        DIGITS for all (see spread_digits).
    """

    names: tuple[str, ...] | None
    n_rows: int
    dtype: np.dtype[Any] | None
    digits: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Block:
    """Some rows of a table, as 1-D columns and, where they form one, a numeric matrix.

    Text formats print a numeric matrix a chunk of rows at a time, and .npy writes its
    bytes.  The record formats (JSON, Parquet) read the same rows column by column.
    """

    columns: tuple[np.ndarray, ...]
    matrix: np.ndarray | None = None

    @classmethod
    def of_array(cls, arr: np.ndarray) -> Block:
        """The rows of a 1-D array (one column) or of a 2-D array (a column per column)."""
        matrix = arr.reshape(-1, 1) if arr.ndim == 1 else arr
        columns = tuple(matrix[:, j] for j in range(matrix.shape[1]))
        return cls(columns, matrix if arr.dtype.kind in "iuf" else None)

    @property
    def n_rows(self) -> int:
        if self.matrix is not None:
            return int(self.matrix.shape[0])
        return len(self.columns[0]) if self.columns else 0


def _row_chunks(n_rows: int, n_cols: int) -> Iterator[tuple[int, int]]:
    """(start, stop) of consecutive row ranges, each about _CELLS_PER_CHUNK cells."""
    step = max(1, _CELLS_PER_CHUNK // max(n_cols, 1))
    for start in range(0, n_rows, step):
        yield start, min(start + step, n_rows)


# --------------------------------------------------------------------------- the writer API


class TableWriter(ABC):
    """One output format, writing one table into one open file.

    The class attributes describe the format for the table and for help text.  They are
    read without making an instance, so `--help` costs no more than a dictionary lookup.
    """

    extensions: ClassVar[tuple[str, ...]]
    """The file extensions that select this format, lower case; the first is the one shown."""
    description: ClassVar[str]
    """One line for help text."""
    binary: ClassVar[bool] = False
    """Whether the file is bytes, not UTF-8 text."""
    holds_text: ClassVar[bool] = True
    """Whether columns of strings can be written (a selection table, a batch summary)."""
    holds_names: ClassVar[bool] = True
    """Whether the columns' names are written (a header, keys, a schema)."""
    streams: ClassVar[bool] = True
    """Whether rows are written block by block as they come, without holding them all."""

    def __init__(self, fh: IO[Any], path: str, layout: Layout) -> None:
        self.fh = fh
        self.path = path  # for error messages
        self.layout = layout

    @classmethod
    def check(cls, path: str) -> None:
        """Raise DataError when this format cannot be written here at all.

        This is called when the output path is first read, so that a missing optional
        library is reported before a long fit rather than after it.
        """

    def begin(self) -> None:
        """Write whatever comes before the first row."""

    @abstractmethod
    def write_block(self, block: Block) -> None:
        """Write these rows (possibly none) after those already written."""

    def end(self) -> None:
        """Write whatever comes after the last row."""


# --------------------------------------------------------------------------- CSV and TSV

#: Significant digits of a float in CSV and TSV: enough for results (responsibilities,
#: log-likelihoods, criteria), a third shorter than the 17 that read back as the same
#: float64 in every case (ROUND_TRIP_DIGITS).
DIGITS = 10
ROUND_TRIP_DIGITS = 17


def spread_digits(col: np.ndarray) -> int:
    """The significant digits that keep DIGITS of a float column's spread (its largest
    value less its smallest) in each of its values, at most ROUND_TRIP_DIGITS: DIGITS for
    most data, more where values lie far from zero beside how much they differ.  Points
    near 1e9 that differ by units keep their decimals (DIGITS alone would round them to
    whole numbers), and a constant column reads back as itself, in as few digits as do
    that (0.1 written as 0.1, not 0.10000000000000001).  For coordinates that
    were computed (drawn points, centres), whose every digit the format should keep."""
    finite = col[(col == col) & (abs(col) < math.inf)]  # array methods: no numpy here
    if finite.size == 0:
        return DIGITS
    top, spread = float(abs(finite).max()), float(finite.max()) - float(finite.min())
    if top == 0 or spread == math.inf:  # a spread beyond float64's range is wider than top
        return DIGITS
    if not spread > 0:  # one value: the fewest digits that read back as it (0.1, not
        value = float(finite[0])  # 0.10000000000000001), DIGITS at least
        return next(d for d in range(DIGITS, ROUND_TRIP_DIGITS + 1)
                    if d == ROUND_TRIP_DIGITS or float("%.*g" % (d, value)) == value)
    # the last digit of the largest value, written to d digits, is 10^(e_top - d + 1); it
    # is the last of DIGITS digits of the spread when d = DIGITS + e_top - e_spread
    extra = math.floor(math.log10(top)) - math.floor(math.log10(spread))
    return max(DIGITS, min(ROUND_TRIP_DIGITS, DIGITS + extra))


#: The %-format of a float with DIGITS significant digits.
FLOAT_FORMAT = "%%.%dg" % DIGITS


def _float_formats(layout: Layout, n_cols: int) -> list[str]:
    """The %-format of each column's floats: the layout's digits, or DIGITS."""
    if layout.digits is None:
        return [FLOAT_FORMAT] * n_cols
    return ["%%.%dg" % digits for digits in layout.digits]


def _text_cells(col: np.ndarray, fmt: str = FLOAT_FORMAT) -> list[str]:
    """The CSV/TSV text of each value of one column (floats with the %-format fmt)."""
    kind = col.dtype.kind
    if kind in "iu":
        return [str(v) for v in col.tolist()]
    if kind == "f":
        isnan = math.isnan
        return ["" if isnan(v) else fmt % v for v in col.tolist()]
    if kind == "b":
        return ["true" if v else "false" for v in col.tolist()]
    cells = []
    for v in col.tolist():
        if v is None or (isinstance(v, float) and math.isnan(v)):
            cells.append("")
        elif isinstance(v, bool):
            cells.append("true" if v else "false")
        elif isinstance(v, float):
            cells.append(fmt % v)
        else:
            cells.append(str(v))
    return cells


def _write_numbers(fh: IO[Any], arr: np.ndarray, delim: str, float_formats: list[str]
                   ) -> None:
    """Rows of numbers, '%d' or each column's float format, one %-format per chunk of
    rows (fast in CPython)."""
    n_cols = arr.shape[1]
    is_float = arr.dtype.kind == "f"
    row_format = delim.join(float_formats if is_float else ["%d"] * n_cols) + "\n"
    for start, stop in _row_chunks(arr.shape[0], n_cols):
        rows = arr[start:stop]
        text = (row_format * rows.shape[0]) % tuple(rows.ravel().tolist())
        if is_float and (rows != rows).any():
            # a formatted float holds only digits, '.', 'e', signs, 'inf' or 'nan'
            text = text.replace("nan", "")
        fh.write(text)


def _cut_at(cell: str) -> bool:
    """Whether a cell holds what csv.writer leaves unquoted but a reader would cut the
    field at: '#' (a comment, for emgmm and for pandas' comment='#') or '\\r' (a line
    break, for a reader of universal newlines)."""
    return "#" in cell or "\r" in cell


class Delimited(TableWriter):
    """Delimited text: a header row unless the table is a bare vector, then one line a row.

    A bare vector is one value a line, so that ``paste`` and ``sort | uniq -c`` work.
    Floats are written with DIGITS significant digits (or the layout's digits), NaN and
    None as empty fields, booleans as "true"/"false".  Names and text are quoted as
    csv.writer quotes them, and also where they hold a '#' or a '\\r', which a reader of
    comments, or of lines ended by '\\r', would cut there.
    """

    delimiter: ClassVar[str]

    def _csv(self) -> Any:
        return csv.writer(self.fh, delimiter=self.delimiter, lineterminator="\n")

    def _rows(self, rows: Iterable[Sequence[str]]) -> None:
        """Write rows of cells: csv.writer's quoting, and quotes around a '#' or '\\r'."""
        writer = self._csv()
        for row in rows:
            if any(map(_cut_at, row)):
                self.fh.write(self.delimiter.join(map(self._quoted, row)) + "\n")
            else:
                writer.writerow(row)

    def _quoted(self, cell: str) -> str:
        if any(c in cell for c in (self.delimiter, '"', "#", "\n", "\r")):
            return '"' + cell.replace('"', '""') + '"'
        return cell

    def begin(self) -> None:
        if self.layout.names is not None:
            self._rows([self.layout.names])

    def write_block(self, block: Block) -> None:
        formats = _float_formats(self.layout, len(block.columns))
        if block.matrix is not None:
            _write_numbers(self.fh, block.matrix, self.delimiter, formats)
        elif self.layout.names is None:  # bools or strings: one cell a line, as written
            self.fh.writelines(cell + "\n" for cell in _text_cells(block.columns[0]))
        else:
            for start, stop in _row_chunks(block.n_rows, len(block.columns)):
                cells = [_text_cells(c[start:stop], fmt)
                         for c, fmt in zip(block.columns, formats)]
                if any(_cut_at(cell) for column in cells for cell in column):
                    self._rows(zip(*cells))
                else:
                    self._csv().writerows(zip(*cells))


class Csv(Delimited):
    delimiter = ","
    extensions = (".csv",)
    description = "comma-separated values, with a header row"


class Tsv(Delimited):
    delimiter = "\t"
    extensions = (".tsv", ".tab")
    description = "tab-separated values, with a header row"


# --------------------------------------------------------------------------- .npy


def npy_header(shape: tuple[int, ...], dtype: Any) -> bytes:
    """The header numpy.save writes for a C-ordered array of this shape and dtype.

    numpy pads it so that the first axis can grow in place: (0, D) and (N, D) give headers
    of the same length, so a file can be begun before its row count is known.
    """
    import io

    import numpy as np

    fmt = np.lib.format
    d = {"descr": fmt.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
         "shape": tuple(int(s) for s in shape)}
    buf = io.BytesIO()
    try:
        fmt.write_array_header_1_0(buf, d)
    except ValueError:  # pragma: no cover - only for headers over 64 KiB
        buf = io.BytesIO()
        fmt.write_array_header_2_0(buf, d)
    return buf.getvalue()


class Npy(TableWriter):
    """NumPy's .npy: a header for the final shape, then each block's raw bytes.

    The header comes first and holds the row count, which is why a streamed table announces
    its rows (Layout.n_rows).  A bare vector is a 1-D array, a matrix a 2-D one, without
    its column names.  Integers and booleans are written as int64; a table of columns
    becomes a float64 matrix, and must hold numbers only.
    """

    extensions = (".npy",)
    description = "a NumPy array (numbers only)"
    binary = True
    holds_text = False
    holds_names = False

    def begin(self) -> None:
        import numpy as np

        dtype = self.layout.dtype
        self._dtype: np.dtype[Any]
        if dtype is None:
            self._dtype = np.dtype(np.float64)
        elif dtype.kind in "iub":
            self._dtype = np.dtype(np.int64)
        elif dtype.kind == "f":
            self._dtype = dtype
        else:
            raise DataError(self.path, f"cannot write {dtype} values to .npy; "
                                       f"use {formats_help(text_columns=True)}")
        names, n_rows = self.layout.names, self.layout.n_rows
        shape = (n_rows,) if names is None else (n_rows, len(names))
        self.fh.write(npy_header(shape, self._dtype))

    def write_block(self, block: Block) -> None:
        if self.layout.dtype is not None:
            rows = block.columns[0] if self.layout.names is None else block.matrix
            assert rows is not None
            self.fh.write(rows.astype(self._dtype, copy=False).tobytes())
            return
        assert self.layout.names is not None
        for name, col in zip(self.layout.names, block.columns):
            if col.dtype.kind not in "biuf" and not _numbers(col):
                raise DataError(self.path, "not numeric; .npy output holds numbers only: "
                                           f"use {formats_help(text_columns=True)}", column=name)
        if block.columns:
            import numpy as np

            self.fh.write(np.column_stack([
                c.astype(np.float64) if c.dtype.kind in "biuf"
                else np.array([np.nan if v is None else v for v in c.tolist()], np.float64)
                for c in block.columns]).tobytes())


def _numbers(col: np.ndarray) -> bool:
    """Whether a column of objects holds numbers and None (whole numbers with gaps)."""
    return all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
               for v in col.tolist())


# --------------------------------------------------------------------------- JSON


def json_number(value: float) -> float | str | None:
    """A float as JSON holds it: JSON has no NaN nor infinity, so NaN (a missing value)
    is null and an infinity the string "inf" or "-inf" (a log-density below what a
    float64 holds is not a missing one)."""
    if math.isfinite(value):
        return value
    return None if math.isnan(value) else "inf" if value > 0 else "-inf"


def jsonable(obj: Any) -> Any:
    """obj as plain JSON values: numpy arrays and scalars made lists and numbers (NaN and
    the infinities as json_number writes them), objects with to_dict() their dict.

    numpy values are recognised by their tolist() method, not by type, so that this module
    does not import numpy.
    """
    if obj is None or isinstance(obj, (str, bool)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return json_number(float(obj))
    if isinstance(obj, Mapping):
        return {(k if isinstance(k, str) else str(jsonable(k))): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    for method in ("tolist", "to_dict"):
        convert = getattr(obj, method, None)
        if callable(convert):
            return jsonable(convert())
    raise TypeError(f"cannot write a {type(obj).__name__} as JSON")


def _json_values(col: np.ndarray) -> list[Any]:
    """Plain Python values of one column for JSON; NaN and infinities as json_number."""
    values: list[Any] = col.tolist()
    if col.dtype.kind == "f":
        if all(map(math.isfinite, values)):
            return values
        return [json_number(v) for v in values]
    if col.dtype.kind == "O":
        return [jsonable(v) for v in values]
    return values


@functools.cache
def _encoder() -> json.JSONEncoder:
    """The encoder of JSON rows; json is imported when a JSON table is first written."""
    import json

    return json.JSONEncoder(allow_nan=False, ensure_ascii=False)


#: A lone surrogate: what a file name that is not UTF-8 holds for each of its stray bytes
#: once decoded (os.fsdecode's surrogateescape), and the one character UTF-8 cannot encode.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def json_escaped(text: str) -> str:
    """JSON text (ensure_ascii False) with its lone surrogates written as \\uXXXX escapes,
    as ensure_ascii would write them: the document stays UTF-8, and json.loads gives the
    same string back (os.fsencode of it, the file name's own bytes)."""
    if text.isascii() or _LONE_SURROGATE.search(text) is None:
        return text
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _json_text(block: Block, names: Sequence[str] | None, sep: str) -> Iterator[str]:
    """The rows of block as JSON, a chunk of rows at a time, joined by sep.

    A bare vector (names None) gives one JSON value per row; any other table gives one
    object {name: value, ...} per row.
    """
    encode = _encoder().encode
    for start, stop in _row_chunks(block.n_rows, len(block.columns)):
        columns = [_json_values(c[start:stop]) for c in block.columns]
        if names is not None:
            yield json_escaped(sep.join(encode(dict(zip(names, row)))
                                        for row in zip(*columns)))
        elif block.columns[0].dtype.kind in "biuf":
            # one encoder call per chunk, ten times faster than one per value; numbers,
            # true, false and null hold no ", " to be mistaken for a separator
            yield encode(columns[0])[1:-1].replace(", ", sep)
        else:
            yield json_escaped(sep.join(encode(v) for v in columns[0]))


class Json(TableWriter):
    """One JSON list: of values for a bare vector, else of objects {name: value}, one a line.

    Floats are written as Python's repr, NaN and None as null, the infinities as the
    strings "inf" and "-inf" (json_number).
    """

    extensions = (".json",)
    description = "one JSON list (of objects, one a line, when the columns have names)"

    def begin(self) -> None:
        self._vector = self.layout.names is None
        self._opened = False  # whether "[" has been written

    def write_block(self, block: Block) -> None:
        sep = ", " if self._vector else ",\n  "
        for text in _json_text(block, self.layout.names, sep):
            if self._opened:
                self.fh.write(sep)
            else:
                self.fh.write("[" if self._vector else "[\n  ")
                self._opened = True
            self.fh.write(text)

    def end(self) -> None:
        if not self._opened:
            self.fh.write("[]\n")
        else:
            self.fh.write("]\n" if self._vector else "\n]\n")


class JsonLines(TableWriter):
    """JSON Lines: one JSON value (a bare vector) or one object per line, as Json writes
    them, with nothing around them."""

    extensions = (".jsonl", ".ndjson")
    description = "JSON Lines: one JSON value or object per line"

    def write_block(self, block: Block) -> None:
        for text in _json_text(block, self.layout.names, "\n"):
            self.fh.write(text + "\n")


# --------------------------------------------------------------------------- Parquet

_PARQUET_EXTRA = "writing .parquet needs pyarrow: pip install 'emgmm[parquet]'"

#: A Parquet row group holds about this many cells.  Groups are cut by row count alone,
#: never at block boundaries, so streamed and one-block files are the same bytes, and a
#: stream holds at most one group in memory.
_CELLS_PER_ROW_GROUP = 1 << 20


class Parquet(TableWriter):
    """Apache Parquet through pyarrow (the optional extra), one row group at a time.

    A bare vector becomes one column named "value", because Parquet columns need names.
    Floats are kept as they are (NaN stays NaN, as in .npy); None in a column of objects
    is null.
    """

    extensions = (".parquet",)
    description = "Apache Parquet (needs pyarrow: the emgmm[parquet] extra)"
    binary = True

    @classmethod
    def check(cls, path: str) -> None:
        import importlib.util

        if importlib.util.find_spec("pyarrow") is None:
            raise DataError(path, _PARQUET_EXTRA)

    def begin(self) -> None:
        try:
            import pyarrow
            import pyarrow.parquet
        except ImportError:
            raise DataError(self.path, _PARQUET_EXTRA) from None
        self._pa, self._pq = pyarrow, pyarrow.parquet
        self._names = self.layout.names if self.layout.names is not None else ("value",)
        self._group_rows = max(1, _CELLS_PER_ROW_GROUP // max(len(self._names), 1))
        self._pending: list[Any] = []  # pyarrow tables not yet written, under one group
        self._pending_rows = 0
        self._writer: Any = None  # made from the first block's schema

    def _arrow_table(self, block: Block) -> Any:
        arrays = []
        for name, col in zip(self._names, block.columns):
            try:
                arrays.append(self._pa.array(col))
            except (self._pa.ArrowInvalid, self._pa.ArrowTypeError) as exc:
                reason = str(exc).splitlines()[0]
                raise DataError(self.path, f"cannot write as Parquet: {reason}", column=name) from None
        return self._pa.table(arrays, names=list(self._names))

    def write_block(self, block: Block) -> None:
        self._pending.append(self._arrow_table(block))
        self._pending_rows += block.n_rows
        if self._pending_rows >= self._group_rows:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        """Write every full row group pending (and, if final, the rest)."""
        table = self._pa.concat_tables(self._pending).combine_chunks()
        if self._writer is None:
            self._writer = self._pq.ParquetWriter(self.fh, table.schema)
        start = 0
        while table.num_rows - start >= self._group_rows or (final and start < table.num_rows):
            group = table.slice(start, self._group_rows)
            self._writer.write_table(group, row_group_size=self._group_rows)
            start += group.num_rows
        self._pending = [table.slice(start)]
        self._pending_rows = table.num_rows - start

    def end(self) -> None:
        if not self._pending:  # no block came: the columns' types come from the layout
            dtype = self.layout.dtype
            kind = self._pa.float64() if dtype is None else self._pa.from_numpy_dtype(dtype)
            empty = self._pa.array([], type=kind)
            self._pending = [self._pa.table([empty] * len(self._names), names=list(self._names))]
        self._flush(final=True)
        self._writer.close()


# --------------------------------------------------------------------------- the table


FORMATS: dict[str, type[TableWriter]] = {
    "csv": Csv,
    "tsv": Tsv,
    "npy": Npy,
    "json": Json,
    "jsonl": JsonLines,
    "parquet": Parquet,
}
"""Every output format by name, in the order help text lists them."""


def format_names(*, text_columns: bool = False, streaming: bool = False) -> list[str]:
    """The names in FORMATS, in order; only those that hold columns of strings if
    text_columns, only those that write row blocks as they come if streaming."""
    return [name for name, writer in FORMATS.items()
            if (writer.holds_text or not text_columns) and (writer.streams or not streaming)]


def formats_help(*, text_columns: bool = False, streaming: bool = False) -> str:
    """The first extension of each format, in table order, as a phrase for help and errors
    (".csv, .tsv or .json"); format_names says what the two filters keep.

    Usage: f"Write to FILE ({formats_help()} by extension; default: stdout)".
    """
    shown = [FORMATS[name].extensions[0] for name in format_names(
        text_columns=text_columns, streaming=streaming)]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


#: The format of tables written to stdout ('-'): csv unless a command's --format names
#: another (for the run of that command).
STDOUT_FORMAT: ContextVar[str] = ContextVar("emgmm_stdout_format", default="csv")


def stdout_format_names() -> list[str]:
    """The formats a table on stdout can take: the text ones."""
    return [name for name, writer in FORMATS.items() if not writer.binary]


#: --delimiter's words for tab and for runs of whitespace (None).
DELIMITER_ALIASES: dict[str, str | None] = {
    "\\t": "\t", "tab": "\t", " ": None, "space": None, "whitespace": None, "\\s+": None,
}


def delimiter_problem(delimiter: str) -> str | None:
    """Why a --delimiter value cannot delimit fields (None where it can): one character,
    not a quote, a comment's '#' or a line break, or one of DELIMITER_ALIASES."""
    if delimiter in DELIMITER_ALIASES or (len(delimiter) == 1
                                          and delimiter not in "\"#\r\n"):
        return None
    return (f"cannot use {delimiter!r} as a delimiter; give one character such as ',' or "
            "';', '\\t' for tabs or ' ' for whitespace")


#: The compression suffixes text is read through (io.text decompresses them), by codec.
CODEC_BY_EXT = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd"}


def text_extension(path: str) -> str:
    """A text input's extension, lower case: the one before a compression suffix
    (data.csv.gz is a CSV)."""
    stem, ext = os.path.splitext(path.lower())
    return os.path.splitext(stem)[1] if ext in CODEC_BY_EXT else ext


def format_for_path(path: str, default: str = "csv", *, text_columns: bool = False) -> str:
    """The name of the format to write path in: the one its extension selects.

    "-" (stdout) and paths without an extension (/dev/stdout, a named pipe) get default.
    Raises DataError for an extension no format has, listing the formats (text_columns:
    only those that hold text columns, for a table that has some), and for a format
    that cannot be written here (TableWriter.check: a missing optional library), so that a
    command can check its outputs before it does any work.
    """
    if default not in FORMATS:
        raise ValueError(f"default must be one of {list(FORMATS)}, not {default!r}")
    if path == "-" and default == "csv":
        default = STDOUT_FORMAT.get()
    ext = os.path.splitext(path)[1].lower()
    name = default if not ext else next(
        (name for name, writer in FORMATS.items() if ext in writer.extensions), None)
    if name is None:
        raise DataError(path, f"unsupported output format '{ext}'; "
                              f"use {formats_help(text_columns=text_columns)}")
    FORMATS[name].check(path)
    return name
