"""Read point data (N samples x D features) from CSV, TSV, whitespace text, .npy or stdin.

The happy path is numpy's C text parser (``np.loadtxt``) and imports nothing heavier than
numpy.  When it fails, or finds values that cannot be fitted (NaN, infinities), the file is
read again by a plain Python parser that defines what the format means and reports the
first problem precisely: file, line, column and what to do.  Where the two disagree only
in leniency (lines holding nothing but spaces, a quoted number after a space) the Python
parser's result is returned.

Text format, as both parsers read it:

- fields are separated by one character (',' for .csv, tab for .tsv/.tab, sniffed for
  other text and stdin) or by runs of whitespace;
- ``"`` quotes a field; '#' starts a comment that runs to the end of the line; blank lines
  (and lines holding only whitespace) are skipped;
- an optional header row; with it, a first column of row names as R's ``write.table``
  writes them (header one field shorter than the rows) is recognised and skipped;
- every row has the same number of fields; selected fields must be finite numbers.
"""

from __future__ import annotations

import csv
import io
import math
import os
import stat
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, TextIO

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .errors import DataError

__all__ = ["INPUT_EXTENSIONS", "STDIN_NAME", "Points", "read_points"]

STDIN_NAME = "<stdin>"
"""The source name used in errors and in Points.source for data read from stdin."""

INPUT_EXTENSIONS = (".csv", ".tsv", ".tab", ".txt", ".npy", ".parquet")
"""Extensions with a known input format (any other is text with a sniffed delimiter)."""

_NPY_MAGIC = b"\x93NUMPY"
_HEAD_BYTES = 4096
_BLOCK_ROWS = 65536
_COMPRESSED = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd", ".zip": "zip"}
_DELIMITER_BY_EXT = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_SNIFF_CANDIDATES = (",", "\t", ";", "|")
_MISSING_HINT = "missing or infinite values must be removed or imputed first"


@dataclass(frozen=True, eq=False)
class Points:
    """Data read from one source.

    x: (N, D) array of the requested dtype, C-contiguous (a read-only np.memmap when a
    .npy file was read with mmap=True); column_names: D names (header names, or "0", "1",
    ... without a header); source: the path, or "<stdin>".
    """

    x: NDArray[np.floating]
    column_names: list[str]
    source: str

    @property
    def n_samples(self) -> int:
        """N, the number of rows."""
        return int(self.x.shape[0])

    @property
    def n_features(self) -> int:
        """D, the number of columns."""
        return int(self.x.shape[1])


# --------------------------------------------------------------------------- entry point


def read_points(
    path: str,
    *,
    columns: Sequence[str] | None = None,
    delimiter: str | None = None,
    header: bool | None = None,
    dtype: DTypeLike = np.float64,
    stdin: BinaryIO | None = None,
    mmap: bool = False,
) -> Points:
    """Read an (N, D) matrix of finite numbers from a file, or from stdin when path is "-".

    The format follows the extension: .csv comma-separated, .tsv and .tab tab-separated,
    .npy a numpy array (1-D is read as one column), .parquet through pandas.  Other text
    (.txt, any other extension or none) has its delimiter sniffed from the first row:
    ',', tab, ';' or '|' if it shows one, else runs of whitespace (so that the output of
    paste, cut or awk reads too); a one-column file is the same either way.  "-" reads
    such text from ``stdin`` (default ``sys.stdin.buffer``); .npy bytes on stdin are
    recognised by their magic number.

    delimiter: overrides the extension's; one character, or " " / "whitespace" for runs of
        whitespace; "\\t" and "tab" mean a tab.
    header: None detects it (the first row is a header if one of its fields is not a
        number, unless every such field stands over text in the second row too: a
        string column); True/False force it.  Without a header the columns are named
        "0", "1", ...
    columns: names or 0-based indices (as strings, e.g. "2") of the columns to keep, in the
        order given; a name wins over an index.  Only these columns need to be numeric.
        A single string is split at commas.
    dtype: a floating dtype for the result.
    mmap: for a .npy file, map it read-only instead of loading it (no copy unless columns
        selects a subset); its dtype must then be ``dtype`` already.  Ignored for text.

    Raises DataError, with the source and where known the line and column, for anything
    wrong with the file or its contents.
    """
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise ValueError(f"dtype must be a floating type, not {dt}")
    name = STDIN_NAME if path == "-" else path
    if isinstance(columns, str):
        columns = columns.split(",")
    if columns is not None and len(columns) == 0:
        raise DataError(name, "no columns selected; name at least one column")
    delim = _delimiter_option(delimiter, name) if delimiter is not None else None

    if path == "-":
        src = _stdin_source(stdin)
        if src.head.startswith(_NPY_MAGIC):
            return _read_npy(src, columns, dt, mmap=False)
        return _read_text(src, delim, delimiter is None, header, columns, dt)

    ext = os.path.splitext(path)[1].lower()
    if ext in _COMPRESSED:
        raise DataError(
            path,
            f"{_COMPRESSED[ext]}-compressed files are not read directly; decompress it first, "
            f"or pipe it in: {'gunzip' if ext == '.gz' else 'decompress'} -c {path} | emgmm fit -",
        )
    src = _file_source(path)
    if ext == ".npy":
        return _read_npy(src, columns, dt, mmap=mmap)
    if ext == ".parquet":
        return _read_parquet(src, columns, dt)
    if delimiter is not None:
        return _read_text(src, delim, False, header, columns, dt)
    if ext in _DELIMITER_BY_EXT:
        return _read_text(src, _DELIMITER_BY_EXT[ext], False, header, columns, dt)
    # .txt, other extensions and none (/dev/stdin, <(command)): sniffed, CSV by default
    return _read_text(src, ",", True, header, columns, dt)


def _delimiter_option(delimiter: str, source: str) -> str | None:
    """The delimiter character, or None for runs of whitespace."""
    aliases: dict[str, str | None] = {
        "\\t": "\t", "tab": "\t", " ": None, "space": None, "whitespace": None, "\\s+": None,
    }
    if delimiter in aliases:
        return aliases[delimiter]
    if len(delimiter) != 1 or delimiter in "\"#\r\n":
        raise DataError(
            source,
            f"cannot use {delimiter!r} as a delimiter; give one character such as ',' or ';', "
            "'\\t' for tabs or ' ' for whitespace",
        )
    return delimiter


# --------------------------------------------------------------------------- sources


@dataclass
class _Source:
    """Where the bytes come from: a re-openable regular file, or bytes held in memory."""

    name: str
    path: str | None
    data: bytes | None
    head: bytes
    _text: str | None = field(default=None, repr=False)

    def open_text(self) -> TextIO:
        """A fresh, seekable text stream over the whole content (UTF-8, BOM dropped)."""
        if self.path is not None:
            try:
                return open(self.path, encoding="utf-8-sig", errors="replace", newline=None)
            except OSError as exc:
                raise _open_error(self.name, exc) from exc
        if self._text is None:
            self._text = (self.data or b"").decode("utf-8-sig", errors="replace")
        return io.StringIO(self._text, newline=None)

    def count_byte(self, char: str) -> int:
        """How often an ASCII character occurs in the content (a quick structure check)."""
        if self.path is None:
            if self._text is None:
                self._text = (self.data or b"").decode("utf-8-sig", errors="replace")
            return self._text.count(char)
        needle = char.encode("ascii")
        total = 0
        with open(self.path, "rb") as fh:
            while block := fh.read(1 << 24):
                total += block.count(needle)
        return total


def _open_error(name: str, exc: OSError) -> DataError:
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return DataError(name, "file not found; check the path")
    if isinstance(exc, IsADirectoryError):
        return DataError(name, "is a directory, not a file; give the path of a data file")
    if isinstance(exc, PermissionError):
        return DataError(name, "permission denied; check that you may read the file")
    return DataError(name, f"cannot read the file: {exc.strerror or exc}")


def _file_source(path: str) -> _Source:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise _open_error(path, exc) from exc
    if stat.S_ISDIR(st.st_mode):
        raise DataError(path, "is a directory, not a file; give the path of a data file")
    try:
        with open(path, "rb") as fh:
            if stat.S_ISREG(st.st_mode):
                head = fh.read(_HEAD_BYTES)
                data = None
            else:  # a pipe or a device (e.g. <(command)): it can be read only once
                data = fh.read()
                head = data[:_HEAD_BYTES]
    except OSError as exc:
        raise _open_error(path, exc) from exc
    if not head:
        raise DataError(path, "file is empty")
    return _Source(path, path if data is None else None, data, head)


def _stdin_source(stdin: BinaryIO | None) -> _Source:
    stream: BinaryIO | None = stdin
    if stream is None:
        stream = sys.stdin.buffer if sys.stdin is not None else None
    if stream is None:
        raise DataError(STDIN_NAME, "there is no standard input; give a file name")
    isatty = getattr(stream, "isatty", None)
    if callable(isatty) and isatty():
        raise DataError(
            STDIN_NAME,
            "standard input is a terminal; pipe data in (for example: "
            "cat data.csv | emgmm fit -) or give a file name",
        )
    data = stream.read()
    if isinstance(data, str):  # a text stream handed in by mistake
        data = data.encode("utf-8")
    if not data:
        raise DataError(STDIN_NAME, "standard input is empty; pipe data in or give a file name")
    return _Source(STDIN_NAME, None, bytes(data), bytes(data[:_HEAD_BYTES]))


def _check_text_head(src: _Source) -> None:
    """Refuse binary content early with a message that names what it probably is."""
    head = src.head
    if head.startswith(_NPY_MAGIC):
        raise DataError(src.name, "holds .npy data, not text; give the file a .npy extension")
    if head.startswith(b"PAR1"):
        raise DataError(src.name, "holds Parquet data, not text; give the file a .parquet extension")
    if head.startswith(b"\x1f\x8b"):
        raise DataError(src.name, "is gzip-compressed; decompress it first (gunzip -c FILE | emgmm fit -)")
    if head.startswith(b"PK\x03\x04"):
        raise DataError(src.name, "is a zip archive; extract the data file first")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        raise DataError(
            src.name,
            "looks like a binary file or UTF-16 text; save the data as UTF-8 text "
            "(CSV/TSV) or as .npy",
        )


# --------------------------------------------------------------------------- text


def _strip_comment(line: str) -> str:
    cut = line.find("#")
    return line if cut < 0 else line[:cut]


def _unquote(text: str) -> str:
    value = text.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].strip()
    return value


def _split(text: str, delim: str | None) -> list[str]:
    """Fields of one (comment-free) line."""
    if delim is None:
        return text.split()
    return next(csv.reader([text.rstrip("\r\n")], delimiter=delim, quotechar='"'), [])


def _kind(text: str) -> str:
    """'empty', 'number' or 'text' for one field (header detection)."""
    value = _unquote(text)
    if not value:
        return "empty"
    if "_" in value:
        return "text"
    try:
        float(value)
    except ValueError:
        return "text"
    return "number"


def _looks_like_header(first: list[str], second: list[str] | None) -> bool:
    kinds = [_kind(f) for f in first]
    if "text" not in kinds:
        return False
    if second is None:
        return True
    offset = 1 if len(second) == len(first) + 1 else 0
    for j, kind in enumerate(kinds):
        if kind != "text":
            continue
        below = j + offset
        if below >= len(second) or _kind(second[below]) != "text":
            return True
    # every non-numeric field stands over text: a string column, not a header
    return False


def _sniff(first_line: str, second_line: str | None) -> str | None:
    """The delimiter the first content lines show: ',', tab, ';', '|' or whitespace (None).

    A first line with spaces over a second line without them is a one-column CSV whose
    header name holds a space, not whitespace-separated text.
    """
    for cand in _SNIFF_CANDIDATES:
        if cand in first_line:
            return cand
    if second_line is not None and len(first_line.split()) > 1 and len(second_line.split()) == 1:
        return ","
    return None


class _LineReader:
    """readline() over a text stream, counting lines and skipping blank/comment ones."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lineno = 0

    def next_content(self) -> tuple[int, str] | None:
        while True:
            line = self.stream.readline()
            if not line:
                return None
            self.lineno += 1
            content = _strip_comment(line)
            if content.strip():
                return self.lineno, content


@dataclass
class _Layout:
    """What the prologue of a text file said about its shape."""

    delim: str | None
    start_line: int  # data are the content lines after this line number
    n_fields: int  # fields per data row (row names included)
    names: list[str]  # names of the data columns (row names excluded)
    offset: int  # 1 if the first field of each row holds R-style row names
    has_header: bool
    header_fields: int


def _read_text(
    src: _Source,
    delim: str | None,
    sniff: bool,
    header: bool | None,
    columns: Sequence[str] | None,
    dt: np.dtype,
) -> Points:
    _check_text_head(src)
    with src.open_text() as stream:
        layout, data_pos = _prologue(src, stream, delim, sniff, header)
        sel = _resolve_columns(columns, layout.names, src.name)
        usecols = [layout.offset + j for j in sel]
        names = [layout.names[j] for j in sel]
        use_all = layout.offset == 0 and usecols == list(range(layout.n_fields))
        stream.seek(data_pos)
        x = _loadtxt_fast(stream, layout.delim, None if use_all else usecols, dt)
    if x is not None and _fast_result_ok(src, x, layout, use_all):
        return Points(x, names, src.name)
    # Slow path: report the first problem precisely, or read what loadtxt would not.
    if x is not None and use_all and x.shape[1] != layout.n_fields:
        x = None  # loadtxt read rows of another width: nothing of it can be kept
    x = _parse_python(src, layout, usecols, names, dt, fast=x)
    return Points(x, names, src.name)


def _prologue(
    src: _Source, stream: TextIO, delim: str | None, sniff: bool, header: bool | None
) -> tuple[_Layout, int]:
    """Read the first one or two content lines: delimiter, header, names, field count."""
    lines = _LineReader(stream)
    first = lines.next_content()
    if first is None:
        if lines.lineno == 0:
            raise DataError(src.name, "file is empty")
        raise DataError(src.name, "file is empty (only blank or comment lines)")
    first_no, first_text = first
    after_first = stream.tell()
    second = lines.next_content()
    if sniff:
        delim = _sniff(first_text, second[1] if second is not None else None)
    first_fields = _split(first_text, delim)
    second_fields = _split(second[1], delim) if second is not None else None

    has_header = header if header is not None else _looks_like_header(first_fields, second_fields)
    if not has_header:
        n = len(first_fields)
        layout = _Layout(delim, 0, n, [str(j) for j in range(n)], 0, False, 0)
        return layout, 0

    if second_fields is None:
        raise DataError(
            src.name,
            "the file has a header but no data rows; it needs at least one row of numbers",
            line=first_no,
        )
    names = [_unquote(f) or str(j) for j, f in enumerate(first_fields)]
    offset = 1 if len(second_fields) == len(names) + 1 else 0
    layout = _Layout(delim, first_no, len(names) + offset, names, offset, True, len(first_fields))
    return layout, after_first


def _loadtxt_fast(
    stream: TextIO, delim: str | None, usecols: list[int] | None, dt: np.dtype
) -> NDArray[np.floating] | None:
    """numpy's C parser from the stream's position; None where it refuses the data."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x = np.loadtxt(
                stream,
                dtype=dt,
                delimiter=delim,
                comments="#",
                quotechar='"',
                usecols=usecols,
                ndmin=2,
            )
    except (ValueError, IndexError, TypeError):
        return None
    return np.ascontiguousarray(x)


def _fast_result_ok(src: _Source, x: NDArray[np.floating], layout: _Layout, use_all: bool) -> bool:
    """Whether loadtxt's result needs no second look."""
    if x.shape[0] == 0:
        return False
    if use_all and x.shape[1] != layout.n_fields:
        return False
    if not use_all and layout.delim is not None and layout.delim.isascii():
        # loadtxt does not check the field count of rows when usecols is given: count the
        # delimiters instead (comments or quoted delimiters send us to the exact check).
        expected = (layout.n_fields - 1) * x.shape[0]
        if layout.has_header:
            expected += layout.header_fields - 1
        if src.count_byte(layout.delim) != expected:
            return False
    return bool(np.isfinite(x).all())


class _Content:
    """Iterator over the comment-stripped, non-blank lines after a given line number."""

    def __init__(self, stream: TextIO, start_line: int) -> None:
        self.stream = stream
        self.start_line = start_line
        self.lineno = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        while True:
            line = self.stream.readline()
            if not line:
                raise StopIteration
            self.lineno += 1
            if self.lineno <= self.start_line:
                continue
            content = _strip_comment(line)
            if content.strip():
                return content.rstrip("\r\n")


def _show(value: str, limit: int = 40) -> str:
    text = value if value.isprintable() else value.encode("unicode_escape").decode("ascii")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _parse_value(raw: str, source: str, lineno: int, column: str) -> float:
    value = _unquote(raw)
    if not value:
        raise DataError(
            source,
            "missing value (empty field); missing values must be removed or imputed first",
            line=lineno,
            column=column,
        )
    try:
        if "_" in value:
            raise ValueError(value)
        number = float(value)
    except ValueError:
        raise DataError(
            source,
            f"non-numeric value '{_show(value)}'; fix or remove the row, or select numeric "
            "columns with --columns",
            line=lineno,
            column=column,
        ) from None
    if not math.isfinite(number):
        raise DataError(
            source, f"non-finite value '{_show(value)}'; {_MISSING_HINT}", line=lineno, column=column
        )
    return number


def _parse_python(
    src: _Source,
    layout: _Layout,
    usecols: list[int],
    names: list[str],
    dt: np.dtype,
    fast: NDArray[np.floating] | None = None,
) -> NDArray[np.floating]:
    """The reference parser: every row, every selected field, first problem raised.

    fast: what loadtxt read, if it read anything; the values are then only checked, not
    kept (the file may be large), and fast is returned when the check finds no fault.
    """
    rows: list[list[float]] = []
    linenos: list[int] = []
    keep = fast is None
    what = "the header" if layout.has_header else "the first row"
    with src.open_text() as stream:
        content = _Content(stream, layout.start_line)
        records: Iterator[list[str]]
        if layout.delim is None:
            records = (line.split() for line in content)
        else:
            records = csv.reader(content, delimiter=layout.delim, quotechar='"')
        for fields in records:
            lineno = content.lineno
            if len(fields) != layout.n_fields:
                raise DataError(
                    src.name,
                    f"expected {layout.n_fields} fields, found {len(fields)}; every row needs "
                    f"as many fields as {what}",
                    line=lineno,
                )
            values = [_parse_value(fields[j], src.name, lineno, nm) for j, nm in zip(usecols, names)]
            if keep:
                rows.append(values)
            linenos.append(lineno)
    if not linenos:
        raise DataError(
            src.name,
            "the file has a header but no data rows; it needs at least one row of numbers",
            line=layout.start_line or None,
        )
    if fast is not None and fast.shape != (len(linenos), len(usecols)):
        return _parse_python(src, layout, usecols, names, dt)  # the parsers disagree: ours counts
    if fast is None:
        with np.errstate(over="ignore"):
            x = np.array(rows, dtype=dt).reshape(len(rows), len(usecols))
    else:
        x = fast
    bad = ~np.isfinite(x)
    if bad.any():
        # every value parsed as a finite float64, so the dtype is too narrow for it
        i, j = (int(v) for v in np.argwhere(bad)[0])
        shown = f"{rows[i][j]!r} " if keep else ""
        raise DataError(
            src.name, f"value {shown}is out of range for {dt.name}", line=linenos[i], column=names[j]
        )
    return np.ascontiguousarray(x)


# --------------------------------------------------------------------------- columns


def _available(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(names[:limit])
    if len(names) > limit:
        shown += f", ... ({len(names)} in all)"
    return shown


def _resolve_columns(columns: Sequence[str] | None, names: list[str], source: str) -> list[int]:
    """Indices of the selected columns: each entry a name or a 0-based index."""
    if columns is None:
        return list(range(len(names)))
    first_index: dict[str, int] = {}
    for j, nm in enumerate(names):
        first_index.setdefault(nm, j)
    chosen: list[int] = []
    for spec in columns:
        key = str(spec).strip()
        if key in first_index:
            j = first_index[key]
        elif key.isascii() and key.isdigit():
            j = int(key)
            if j >= len(names):
                raise DataError(
                    source,
                    f"column index {j} is out of range; there are {len(names)} columns "
                    f"(indices 0 to {len(names) - 1}): {_available(names)}",
                    column=key,
                )
        else:
            raise DataError(
                source, f"no such column; available columns: {_available(names)}", column=key
            )
        if j in chosen:
            raise DataError(source, "column selected more than once", column=key)
        chosen.append(j)
    return chosen


# --------------------------------------------------------------------------- .npy


def _nonfinite_error(
    source: str, names: list[str], x: NDArray[np.floating], raw: NDArray[np.generic], first_row: int
) -> DataError:
    """The error for the first non-finite entry of x (rows counted from first_row)."""
    i, j = (int(v) for v in np.argwhere(~np.isfinite(x))[0])
    row = first_row + i
    original = raw[i, j]
    if np.isfinite(original):
        message = f"value {original!r} in row {row + 1} (index {row}) is out of range for {x.dtype}"
    else:
        message = f"non-finite value {float(original)} in row {row + 1} (index {row}); {_MISSING_HINT}"
    return DataError(source, message, column=names[j])


def _read_npy(src: _Source, columns: Sequence[str] | None, dt: np.dtype, *, mmap: bool) -> Points:
    loaded: object
    try:
        if src.path is not None:
            loaded = np.load(src.path, mmap_mode="r" if mmap else None, allow_pickle=False)
        else:
            loaded = np.load(io.BytesIO(src.data or b""), allow_pickle=False)
    except OSError as exc:
        if isinstance(exc, (PermissionError, FileNotFoundError, IsADirectoryError)):
            raise _open_error(src.name, exc) from exc
        raise DataError(src.name, f"not a valid .npy file ({_reason(exc)}); write it with numpy.save") from exc
    except (ValueError, EOFError) as exc:
        if "pickle" in str(exc):
            reason = "it holds Python objects, not numbers"
        else:
            reason = _reason(exc)
        raise DataError(src.name, f"not a valid .npy file ({reason}); write it with numpy.save") from exc
    if not isinstance(loaded, np.ndarray):
        close = getattr(loaded, "close", None)
        if callable(close):
            close()
        raise DataError(src.name, "is an .npz archive, not a .npy file; save one array with numpy.save")
    arr: np.ndarray = loaded
    if arr.dtype.kind not in "biuf":
        raise DataError(src.name, f"the array holds {arr.dtype} values, not numbers; save a numeric array")
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    elif arr.ndim != 2:
        raise DataError(
            src.name,
            f"the array has {arr.ndim} dimensions with shape {arr.shape}; expected 1 (N values) "
            "or 2 (N rows x D columns)",
        )
    if arr.shape[0] == 0:
        raise DataError(src.name, f"the array has no rows (shape {arr.shape})")
    if arr.shape[1] == 0:
        raise DataError(src.name, f"the array has no columns (shape {arr.shape})")
    all_names = [str(j) for j in range(arr.shape[1])]
    sel = _resolve_columns(columns, all_names, src.name)
    names = [all_names[j] for j in sel]
    use_all = sel == list(range(arr.shape[1]))

    if mmap and isinstance(arr, np.memmap):
        if arr.dtype != dt:
            raise DataError(
                src.name,
                f"memory mapping needs a {dt} array but the file holds {arr.dtype}; convert the "
                f"file (numpy.save(path, a.astype('{dt}'))) or read it without memory mapping",
            )
        if not arr.flags.c_contiguous:
            raise DataError(
                src.name,
                "memory mapping needs a C-ordered array but the file is in Fortran order; "
                "re-save it with numpy.save(path, numpy.ascontiguousarray(a))",
            )
        x = arr if use_all else np.ascontiguousarray(arr[:, sel])
        for start in range(0, x.shape[0], _BLOCK_ROWS):
            block = x[start : start + _BLOCK_ROWS]
            if not np.isfinite(block).all():
                raw = arr[start : start + _BLOCK_ROWS][:, sel]
                raise _nonfinite_error(src.name, names, np.asarray(block), raw, start)
        return Points(x, names, src.name)

    raw = arr if use_all else arr[:, sel]
    with np.errstate(over="ignore", invalid="ignore"):
        x = np.ascontiguousarray(raw, dtype=dt)
    if not np.isfinite(x).all():
        raise _nonfinite_error(src.name, names, x, raw, 0)
    return Points(x, names, src.name)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 100 else text[:97] + "..."


# --------------------------------------------------------------------------- .parquet


def _read_parquet(src: _Source, columns: Sequence[str] | None, dt: np.dtype) -> Points:
    """Read a Parquet file through pandas (imported only here)."""
    if src.path is None:
        raise DataError(src.name, ".parquet data can only be read from a regular file")
    try:
        import pandas as pd  # type: ignore[import-untyped, unused-ignore]
    except ImportError as exc:
        raise DataError(src.name, "reading .parquet needs pandas; install it with pip install pandas") from exc
    try:
        frame = pd.read_parquet(src.path)
    except ImportError as exc:
        raise DataError(
            src.name, "reading .parquet needs pyarrow; install it with pip install pyarrow"
        ) from exc
    except Exception as exc:  # pyarrow raises its own types for broken files
        raise DataError(src.name, f"not a valid .parquet file ({_reason(exc)})") from exc
    all_names = [str(c) for c in frame.columns]
    if frame.shape[0] == 0:
        raise DataError(src.name, "the table has no rows")
    sel = _resolve_columns(columns, all_names, src.name)
    names = [all_names[j] for j in sel]
    for j in sel:
        kind = getattr(frame.dtypes.iloc[j], "kind", "O")
        if kind not in "biuf":
            raise DataError(
                src.name,
                f"not a numeric column (dtype {frame.dtypes.iloc[j]}); select numeric columns "
                "with --columns",
                column=all_names[j],
            )
    x = np.ascontiguousarray(frame.iloc[:, sel].to_numpy(dtype=dt, na_value=np.nan))
    if not np.isfinite(x).all():
        raise _nonfinite_error(src.name, names, x, x, 0)
    return Points(x, names, src.name)
