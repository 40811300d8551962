"""Read point data (N samples x D features) from CSV, TSV, whitespace text, .npy, .parquet,
JSON or stdin; and, from the same dispatch (input_format), an input's columns as written
(read_columns: --with-rows) and a file of labels (read_labels: --known-labels).

Text is read by io.text (the one text reader, also used by the out-of-core cache): a
fast C parser per chunk, an exact locator for the first problem, compressed files read
as they are.  .npy goes through numpy, .parquet through pandas (imported only then),
JSON through io.jsondata.

Text format:

- fields are separated by one character (',' for .csv, tab for .tsv/.tab, sniffed for
  other text and stdin) or by runs of whitespace;
- ``"`` quotes a field; '#' starts a comment that runs to the end of the line; blank lines
  (and lines holding only whitespace) are skipped;
- an optional header row; repeated names in it are made unique (x, x.1), with a note;
- rows one field longer than the header: an empty last field in every row (a trailing
  delimiter) is dropped, a first field of row names as R's ``write.table`` writes them
  (text, or increasing whole numbers) is skipped, and anything else is an error that
  says so; an empty last field in every row of headerless data is dropped too;
- every row has the same number of fields; selected fields must be finite numbers.

What the reader decided that a user should hear is in Points.notes (io.text.Layout).
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Generic, TextIO, TypeVar

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .errors import SELECT_COLUMNS, DataError, open_error, printable, reason
from .missing import Missing, PerColumn, per_column, refused
from .npyfile import (PASS_BLOCK_BYTES, NpyFile, checked_rows, kept, nonfinite_error,
                      pass_rows, plain_npy)
from .text import (
    NPY_MAGIC,
    READ_BYTES,
    STDIN_NAME,
    ByteReader,
    Input,
    Layout as TextLayout,
    missing_word,
    not_npy_error,
    open_input,
    prologue,
    read_text,
    repeated_names,
    resolve_columns,
    text_delimiter,
    unique_names,
    unquote,
)
from .jsondata import is_json, json_columns, read_json

__all__ = ["STDIN_NAME", "Points", "read_points"]

_BLOCK_ROWS = 65536


X = TypeVar("X", bound="NDArray[np.floating] | NpyFile", covariant=True)


@dataclass(frozen=True, eq=False)
class Points(Generic[X]):
    """Data read from one source.

    x: the (N, D) data: an array of the requested dtype, C-contiguous (a read-only
    np.memmap when a .npy file was read with mmap=True), or, for data over the memory
    limit (io.cache.open_points), an NpyFile that reads its rows from disk when asked;
    backends.open_dataset turns either into a Dataset.  read_points always gives an
    array (Points[NDArray]); open_points either (Points[NDArray | NpyFile]).
    column_names: D names (header names, or "0", "1", ... without a header); source: the
    path, or "<stdin>"; notes: what reading decided that the user should hear (one line
    each, without the source: repeated names made unique, a first row of whole numbers
    read as data, a header that is not UTF-8).  weights: the (N,) sample weights of the
    rows (app.data.weighed), or None when every row counts once.
    """

    x: X
    column_names: list[str]
    source: str
    notes: tuple[str, ...] = ()
    weights: NDArray[np.float64] | None = None
    known: NDArray[np.int64] | None = None  # known components, -1 unknown (app.data)
    #: where known came from, for a message about them: the file of known labels, the
    #: data's source for a column of it, or the Python API's argument ("<known_labels>")
    known_source: str | None = None
    known_column: str | None = None  # the data's column they were (--known-column), if one
    #: (N_read,) True for each row of the input left out for a missing value (--missing
    #: drop, app.data): x, weights and known hold the other rows only; None: none left out
    dropped: NDArray[np.bool_] | None = None
    #: the size in bytes of the file read, taken before it was read (app.data.load); None
    #: for stdin, a pipe, parts or an array
    source_size: int | None = None
    #: that file's (device, inode), taken with its size; None where source_size is
    source_file: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        # names are shown at the terminal: control characters read from a header or a
        # DataFrame's columns (ANSI sequences) as escapes (errors.printable)
        object.__setattr__(self, "column_names", [printable(n) for n in self.column_names])

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
    stdin: BinaryIO | TextIO | None = None,
    mmap: bool = False,
    missing: Missing | None = None,
) -> Points[NDArray[np.floating]]:
    """Read an (N, D) matrix of finite numbers from a file, or from stdin when path is "-".

    The format follows the extension: .csv comma-separated, .tsv and .tab tab-separated,
    .npy a numpy array (1-D is read as one column), .parquet through pandas.  Other text
    (.txt, any other extension or none) has its delimiter sniffed from the first row:
    ',', tab, ';' or '|' if it shows one, else runs of whitespace (so that the output of
    paste, cut or awk reads too); a one-column file is the same either way.  "-" reads
    such text from ``stdin`` (default ``sys.stdin.buffer``); .npy bytes on stdin are
    recognised by their magic number.  Compressed text (.gz, .bz2, .xz, and .zst with the
    zstandard package; on stdin recognised by magic number) is decompressed as it is
    read; data.csv.gz is a CSV.

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
    missing: missing values are read as NaN (in text: empty fields, NA, and NaN as float()
        reads it); infinities stay errors.  False: a missing value is an error whose
        advice names the remedies (the rows left out, or fitted through their observed
        values); None (a file that is not the data, such as starting means): an error
        without them.  A tuple of columns (names or 0-based indices, as in columns):
        missing values are read as NaN in those, and are errors in the others
        (io.missing).

    Raises DataError, with the source and where known the line and column, for anything
    wrong with the file or its contents.
    """
    try:
        return _read_points(path, columns, delimiter, header, np.dtype(dtype), stdin, mmap,
                            missing or False)
    except DataError as exc:
        if missing is None:  # no missing values are allowed in this file, whatever asked
            exc.advice = ()
        raise


def _read_points(path: str, columns: Sequence[str] | None, delimiter: str | None,
                 header: bool | None, dt: np.dtype, stdin: BinaryIO | TextIO | None,
                 mmap: bool, missing: Missing) -> Points[NDArray[np.floating]]:
    """read_points, with every argument given."""
    if dt.kind != "f":
        raise ValueError(f"dtype must be a floating type, not {dt}")
    name = STDIN_NAME if path == "-" else path
    if isinstance(columns, str):
        columns = columns.split(",")
    if columns is not None and len(columns) == 0:
        raise DataError(name, "no columns selected; name at least one column")
    delim, sniff = text_delimiter(path, delimiter)
    with open_input(path, stdin=stdin, decompress=not _binary(path)) as inp:
        return _points_in(inp, input_format(path, inp), columns, dt, missing=missing,
                          mmap=mmap and path != "-", delim=delim, sniff=sniff, header=header)


def _points_in(inp: Input, kind: str, columns: Sequence[str] | None, dt: np.dtype, *,
               missing: Missing, mmap: bool = False, delim: str | None = None,
               sniff: bool = True, header: bool | None = None
               ) -> Points[NDArray[np.floating]]:
    """The points of an opened input that holds kind (input_format)."""
    if kind == "parquet":
        return _read_parquet(inp, columns, dt, missing)
    if kind == "npy":
        return _read_npy(inp, columns, dt, mmap=mmap, missing=missing)
    if kind == "json":
        return Points(*read_json(inp, columns, dt, missing), inp.name)
    x, names, notes = read_text(inp, delim=delim, sniff=sniff, header=header,
                                columns=columns, dtype=dt, missing=missing)
    return Points(x, names, inp.name, notes)


# --------------------------------------------------------------------------- formats

#: What an input holds (input_format); the extensions of the binary ones, which are read
#: as they are (never decompressed).
INPUT_FORMATS = ("parquet", "npy", "json", "text")
_BINARY = {".parquet": "parquet", ".npy": "npy"}


def _extension(path: str) -> str:
    return "" if path == "-" else os.path.splitext(path)[1].lower()


def _binary(path: str) -> bool:
    return _extension(path) in _BINARY


def input_format(path: str, inp: Input) -> str:
    """What the opened input of path holds, one of INPUT_FORMATS: .parquet and .npy by their
    extension (and .npy bytes on stdin by their magic number), JSON by its extension or,
    where no data extension says, its first bytes (jsondata.is_json), text otherwise.
    Every reader of an input (read_points, read_columns, read_labels, io.cache) takes this
    one answer."""
    ext = _extension(path)
    if ext in _BINARY:
        return _BINARY[ext]
    if path == "-" and inp.reader.peek(6) == NPY_MAGIC:
        return "npy"
    return "json" if is_json(path, inp) else "text"


def file_format(path: str) -> str | None:
    """input_format of a file, opened for its first bytes where its extension does not
    say; None where it cannot be opened (its reader then says why)."""
    if _binary(path):
        return _BINARY[_extension(path)]
    try:
        with open_input(path) as inp:
            return input_format(path, inp)
    except DataError:
        return None


# --------------------------------------------------------------------------- columns, labels


def read_columns(path: str, *, delimiter: str | None = None, header: bool | None = None,
                 stdin: BinaryIO | None = None) -> dict[str, NDArray[Any]]:
    """Every column of path ("-": stdin; or the bytes given as stdin, read from their
    start) by name, in order, as written: text as text, JSON's values as they are (None for
    null), the numbers of .npy and Parquet as numbers.  Text is read with the delimiter
    and header that read_points decides for the same arguments (io.text.prologue), so that
    its rows are the points' rows: the table fit and predict --with-rows write back."""
    (whole,) = column_blocks(path, delimiter=delimiter, header=header, stdin=stdin)
    return whole


def column_blocks(path: str, *, delimiter: str | None = None, header: bool | None = None,
                  stdin: BinaryIO | None = None, block_rows: int | None = None
                  ) -> Iterator[dict[str, NDArray[Any]]]:
    """read_columns's columns block_rows rows at a time (text, read as it comes, and .npy,
    memory-mapped from a file), or in one block (block_rows None; Parquet and JSON
    always).  Nothing of the input is held beyond the block but what its format holds."""
    if stdin is not None:
        stdin.seek(0)
    delim, sniff = text_delimiter(path, delimiter)
    with open_input(path, stdin=stdin, decompress=not _binary(path)) as inp:
        kind = input_format(path, inp)
        if kind == "parquet":
            frame = _parquet_frame(inp)[0]
            yield {str(c): frame[c].to_numpy() for c in frame.columns}
        elif kind == "npy":
            arr = _load_npy(inp, mmap=block_rows is not None)
            step = len(arr) if block_rows is None else block_rows
            for first in range(0, max(len(arr), 1), max(step, 1)):
                part = np.asarray(arr[first:first + step])
                yield {str(j): part[:, j] for j in range(arr.shape[1])}
        elif kind == "json":
            yield json_columns(inp)
        else:
            yield from _text_columns(inp, prologue(inp, delim, sniff, header), block_rows)


class _Stream:
    """An input's reader as the file pandas reads (read, and iteration that it checks for)."""

    def __init__(self, reader: Any) -> None:
        self.read = reader.read

    def __iter__(self) -> Iterator[bytes]:
        raise NotImplementedError("read by read(size)")


def _text_columns(inp: Input, layout: TextLayout, block_rows: int | None
                  ) -> Iterator[dict[str, NDArray[Any]]]:
    """The text rows after the prologue, every field as text, block_rows at a time."""
    import pandas as pd

    names = ([""] if layout.offset else []) + list(layout.names)
    # every field by position (a trailing delimiter's empty field last, left out): the C
    # parser, which reads a '#' inside quotes as text, as the points' parsers do
    source: Any = io.BytesIO(inp.reader.read()) if block_rows is None else _Stream(inp.reader)
    try:
        frames = pd.read_csv(source, sep=layout.delim or r"\s+", header=None, dtype=str,
                             keep_default_na=False, comment="#", index_col=False,
                             skip_blank_lines=True, quotechar='"', encoding="utf-8",
                             chunksize=block_rows)
        for frame in [frames] if block_rows is None else frames:
            yield {name: frame.iloc[:, j].to_numpy() for j, name in enumerate(names)}
    except UnicodeDecodeError as exc:  # in a column the points did not read
        raise DataError(inp.name, f"holds bytes that are not UTF-8 text (byte "
                                  f"0x{exc.object[exc.start]:02x}, ...); its "
                                  "rows are written back as UTF-8 text: convert the file "
                                  "first (iconv -f latin1 -t utf-8), or write the labels "
                                  "alone and paste them beside the rows") from None


def column_names(path: str, *, delimiter: str | None = None, header: bool | None = None
                 ) -> list[str] | None:
    """The names read_points gives every column of the file path with these arguments,
    found without reading its rows where the format allows (text: its first lines, .npy:
    its header; Parquet and JSON are read).  None where they cannot tell what was read: a
    text file whose first line is the names of headerless columns ("0,1,..."), which a
    header or a row of data would give alike."""
    delim, sniff = text_delimiter(path, delimiter)
    with open_input(path, decompress=not _binary(path)) as inp:
        kind = input_format(path, inp)
        if kind == "parquet":
            return [str(c) for c in _parquet_frame(inp)[0].columns]
        if kind == "npy":
            return [str(j) for j in range(_load_npy(inp, mmap=True).shape[1])]
        if kind == "json":
            return list(json_columns(inp))
        layout = prologue(inp, delim, sniff, header)
    if layout.names != [str(j) for j in range(len(layout.names))]:
        return layout.names
    if not layout.has_header:  # is the first row, read as a header, "0,1,..." too?
        with open_input(path) as inp:
            if prologue(inp, delim, sniff, True).names != layout.names:
                return layout.names
    return None


def read_labels(path: str) -> NDArray[np.int64]:
    """The known component of each row, -1 where unknown (--known-labels).  Text, plain
    or compressed, holds one a line: a whole number, or -1, an empty line, NA or NaN
    where unknown; a first line that is not a number is a header.  The other formats
    (.npy, Parquet, JSON: what `fit -o labels.EXT` writes) hold one column of whole
    numbers, NaN or null where unknown."""
    with open_input(path, decompress=not _binary(path)) as inp:
        kind = input_format(path, inp)
        if kind == "text":
            return _text_labels(inp.name, inp.reader.read())
        table = _points_in(inp, kind, None, np.dtype(np.float64), missing=True)
    if table.n_features != 1:
        raise DataError(table.source, "known labels are one column, one label per row; it "
                                      f"has {table.n_features} columns")
    values = table.x[:, 0]
    bad = np.flatnonzero(~np.isnan(values) & ((values != np.round(values))
                                               | (np.abs(values) > _LARGEST_LABEL)))
    if len(bad):
        raise DataError(table.source, f"row {int(bad[0]) + 1}: {values[bad[0]]:g} is not a "
                                      "component number (or -1, or "
                                      f"{'null' if kind == 'json' else 'NaN'}, where unknown)")
    return np.where(np.isnan(values), -1, values).astype(np.int64)


#: No mixture has more components than this; a larger "label" is no component number.
_LARGEST_LABEL = 2**53


def _text_labels(name: str, data: bytes) -> NDArray[np.int64]:
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(name, f"the known labels are not UTF-8 text (byte {exc.start}); "
                              "write one label a line, or .npy, Parquet or JSON") from None
    # a field as a CSV writer quotes it: an empty label, "", is unknown as an empty line
    fields = [unquote(line) for line in lines]
    header = bool(fields) and _names_a_column(fields[0])
    fields = fields[header:]
    out = np.full(len(fields), -1, dtype=np.int64)
    for i, text in enumerate(fields):
        if not _unknown(text):
            out[i] = _label(text, name, i + 1 + header)  # the line in the file
    return out


def _unknown(text: str) -> bool:
    """Whether a label line says the row's component is unknown: a missing value (empty,
    NA, any NaN), or na."""
    return missing_word(text) or text.strip().upper() == "NA"


def _names_a_column(text: str) -> bool:
    """Whether a first label line is a header: not a number (a label, or a number that
    is no label, which _label then refuses at line 1), and not unknown."""
    if _unknown(text):
        return False
    try:
        float(text)
    except ValueError:
        return True
    return False


def _label(text: str, name: str, line: int) -> int:
    """A label line's whole number, within _LARGEST_LABEL as the other formats' are; a
    whole number written with a decimal point (0.0, as pandas writes a label column that
    has missing values) too, as a table's column is read."""
    try:
        label: int | None = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        label = int(value) if value.is_integer() else None
    if label is None or abs(label) > _LARGEST_LABEL:
        raise DataError(name, f"line {line}: {printable(text)!r} is not a component number "
                              "(or -1, or empty, where unknown)")
    return label


# --------------------------------------------------------------------------- .npy


def _nonfinite(x: NDArray[np.floating], missing: PerColumn) -> bool:
    """Whether x holds a value that is not allowed (io.missing.refused)."""
    return bool(refused(x, missing).any())


def _load_npy(src: Input, mmap: bool) -> np.ndarray:
    """The array of a .npy input (memory-mapped with mmap), as rows and columns (1-D: one
    column) of real numbers; a DataError says what the input holds instead."""
    loaded: object
    head = src.reader.peek(4096)
    if not head.startswith((NPY_MAGIC, b"PK\x03\x04")):  # (an .npz archive: said below)
        raise not_npy_error(src.name, head)
    try:
        if src.path is not None:
            loaded = np.load(src.path, mmap_mode="r" if mmap else None, allow_pickle=False)
        else:
            loaded = _npy_from_stream(src.reader, head)
    except OSError as exc:
        if isinstance(exc, (PermissionError, FileNotFoundError, IsADirectoryError)):
            raise open_error(src.name, exc) from exc
        raise DataError(src.name, f"not a valid .npy file ({reason(exc)}); write it with numpy.save") from exc
    except (ValueError, EOFError) as exc:
        if "pickle" in str(exc) or "Python objects" in str(exc):  # (the latter: mmap)
            why = "it holds Python objects, not numbers"
        else:
            why = reason(exc)
        raise DataError(src.name, f"not a valid .npy file ({why}); write it with numpy.save") from exc
    if not isinstance(loaded, np.ndarray):
        close = getattr(loaded, "close", None)
        if callable(close):
            close()
        raise DataError(src.name, "is an .npz archive, not a .npy file; save one array with numpy.save")
    arr: np.ndarray = loaded
    if arr.dtype.kind not in "biuf":
        raise DataError(src.name, f"the array holds {arr.dtype} values, not real numbers; save a numeric array")
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
    return arr


def _npy_from_stream(reader: ByteReader, head: bytes) -> object:
    """The array of .npy bytes on a stream, read into it a block at a time (the stream's
    bytes are never held whole besides it).  Errors as np.load raises them; a version of
    the format other than 1.0 and 2.0 goes to np.load whole."""
    fmt = np.lib.format
    if not head.startswith(NPY_MAGIC) or head[6:8] not in (b"\x01\x00", b"\x02\x00"):
        return np.load(io.BytesIO(reader.read()), allow_pickle=False)
    version = fmt.read_magic(reader)
    read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    shape, fortran, dtype = read_header(reader)
    if dtype.hasobject:
        raise ValueError("Object arrays cannot be loaded when allow_pickle=False")
    arr = np.empty(shape[::-1] if fortran else shape, dtype=dtype)
    flat = arr.reshape(-1).view(np.uint8)
    for start in range(0, flat.size, PASS_BLOCK_BYTES):
        want = min(PASS_BLOCK_BYTES, flat.size - start)
        block = reader.read(want)
        if len(block) < want:
            raise EOFError(f"the data end early: {flat.size} bytes expected, "
                           f"{start + len(block)} read")
        flat[start : start + len(block)] = np.frombuffer(block, dtype=np.uint8)
    return arr.T if fortran else arr


def _read_npy(src: Input, columns: Sequence[str] | None, dt: np.dtype, *,
              mmap: bool, missing: Missing = False) -> Points[NDArray[np.floating]]:
    if src.path is None or not mmap:
        points = (_npy_by_blocks(src.path, src.name, columns, dt, missing) if src.path
                  else _npy_stream_by_blocks(src, columns, dt, missing))
        if points is not None:
            return points
    arr = _load_npy(src, mmap)
    all_names = [str(j) for j in range(arr.shape[1])]
    sel = resolve_columns(columns, all_names, src.name)
    names = [all_names[j] for j in sel]
    use_all = sel == list(range(arr.shape[1]))
    allowed = per_column(missing, all_names, sel)
    if mmap and isinstance(arr, np.memmap) and allowed is False:
        return Points(_checked_map(src.name, arr, sel, names, dt), names, src.name)
    raw = arr if use_all else arr[:, sel]
    with np.errstate(over="ignore", invalid="ignore"):
        x = np.ascontiguousarray(raw, dtype=dt)
    if _nonfinite(x, allowed):
        raise nonfinite_error(src.name, names, x, raw, 0, missing=allowed)
    return Points(x, names, src.name)


def _npy_stream_by_blocks(src: Input, columns: Sequence[str] | None, dt: np.dtype,
                          missing: Missing) -> Points[NDArray[np.floating]] | None:
    """A plain C-ordered .npy on a stream (standard input, a compressed file) read into
    memory block by block, as _npy_by_blocks reads a file: only the selected columns, in
    dt, are ever held whole.  None where its header is not within the stream's first
    NPY_HEAD_BYTES or the array is not a plain numeric 1-D or 2-D one with its rows in
    order (_load_npy then reads it whole, or says what is wrong); nothing is read from the
    stream then."""
    plain = plain_npy(io.BytesIO(src.reader.peek(NPY_HEAD_BYTES)))
    if plain is None or (plain[2] and plain[1] > 1):  # Fortran order, more than a column
        return None
    n_rows, n_cols, _, file_dtype, offset = plain
    all_names = [str(j) for j in range(n_cols)]
    sel = resolve_columns(columns, all_names, src.name)
    names = [all_names[j] for j in sel]
    src.reader.read(offset)  # the header, read above from the peeked bytes
    row_bytes = n_cols * file_dtype.itemsize
    # blocks of the stream's own reads: the reader holds a block's bytes once more
    step = max(1, READ_BYTES // row_bytes)

    def blocks() -> Iterator[NDArray[Any]]:
        for start in range(0, n_rows, step):
            want = min(step, n_rows - start) * row_bytes
            data = src.reader.read(want)
            if len(data) < want:
                raise DataError(src.name, "not a valid .npy file (the data end early: "
                                          f"{n_rows * row_bytes} bytes expected, "
                                          f"{start * row_bytes + len(data)} read); write it "
                                          "with numpy.save")
            yield np.frombuffer(data, dtype=file_dtype).reshape(-1, n_cols)

    x = checked_rows(src.name, names, blocks(), lambda raw: kept(raw, sel, dt), sel,
                     (n_rows, len(sel)), dt, per_column(missing, all_names, sel), keep=True)
    assert x is not None
    return Points(x, names, src.name)


#: The first bytes of a stream that must hold a .npy header for it to be read by blocks
#: (numpy writes headers of 128 bytes, more only for arrays of very many dimensions).
NPY_HEAD_BYTES = 4096


def _npy_by_blocks(path: str, name: str, columns: Sequence[str] | None, dt: np.dtype,
                   missing: Missing) -> Points[NDArray[np.floating]] | None:
    """A plain .npy file read into memory block by block: only the selected columns, in
    dt, are ever held whole (never the file as stored besides).  None where the file is
    not one (_load_npy then reads it, or says what is wrong)."""
    found = npy_columns(path, name, columns, dt, missing)
    if found is None:
        return None
    npy, names, allowed = found
    try:
        x = pass_rows(name, names, npy, allowed, keep=True)
    finally:
        npy.close()
    assert x is not None
    return Points(x, names, name)


def npy_columns(path: str, name: str, columns: Sequence[str] | None, dt: np.dtype,
                missing: Missing = False) -> tuple[NpyFile, list[str], PerColumn] | None:
    """The selected columns of a plain .npy file (an NpyFile delivering them as dt), their
    names and where they may hold missing values (io.missing.per_column), for reading it
    block by block, in memory or out of core; None where the file is not a plain numeric
    1-D or 2-D array with rows in C or Fortran order (np.load then reads it, or says what
    is wrong), a DataError where it is shorter than its header says."""
    info = plain_npy(path)
    if info is None:
        return None
    n_rows, n_cols, fortran, file_dtype, offset = info
    if os.path.getsize(path) < offset + n_rows * n_cols * file_dtype.itemsize:
        raise DataError(name, f"the file is shorter than its header says ({n_rows} x "
                              f"{n_cols} {file_dtype}); was it truncated?")
    all_names = [str(j) for j in range(n_cols)]
    sel = resolve_columns(columns, all_names, name)
    npy = NpyFile(path, offset, n_rows, n_cols, file_dtype, tuple(sel), dt, fortran=fortran)
    return npy, [all_names[j] for j in sel], per_column(missing, all_names, sel)


def _checked_map(name: str, arr: np.memmap, sel: list[int], names: list[str],
                 dt: np.dtype) -> NDArray[np.floating]:
    """A memory-mapped array of dtype dt, C-ordered, checked block by block for
    non-finite values (the selected columns copied when sel is a subset)."""
    use_all = sel == list(range(arr.shape[1]))
    if arr.dtype != dt:
        raise DataError(
            name,
            f"memory mapping needs a {dt} array but the file holds {arr.dtype}; convert the "
            f"file (numpy.save(path, a.astype('{dt}'))) or read it without memory mapping",
        )
    if not arr.flags.c_contiguous:
        raise DataError(
            name,
            "memory mapping needs a C-ordered array but the file is in Fortran order; "
            "re-save it with numpy.save(path, numpy.ascontiguousarray(a))",
        )
    x = arr if use_all else np.ascontiguousarray(arr[:, sel])
    for start in range(0, x.shape[0], _BLOCK_ROWS):
        block = x[start : start + _BLOCK_ROWS]
        if not np.isfinite(block).all():
            raw = arr[start : start + _BLOCK_ROWS][:, sel]
            raise nonfinite_error(name, names, np.asarray(block), raw, start)
    return x


# --------------------------------------------------------------------------- .parquet


def _parquet_frame(src: Input) -> tuple[Any, tuple[str, ...]]:
    """The table of a Parquet file as a pandas DataFrame (pyarrow and pandas imported only
    here), a repeated column name made unique as in text ('x', 'x.1'), and a note for
    each such name (pandas' own reader refused the file, in pyarrow's words)."""
    if src.path is None:
        raise DataError(src.name, ".parquet data can only be read from a regular file")
    try:
        import pandas  # noqa: F401  (Table.to_pandas needs it)
        import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]
    except ImportError as exc:
        raise DataError(
            src.name, "reading .parquet needs pyarrow: pip install 'emgmm[parquet]'"
        ) from exc
    try:
        table = pq.ParquetFile(src.path).read()
        names = [str(c) for c in table.column_names]
        unique = unique_names(names)
        if unique != names:
            table = table.rename_columns(unique)
        return table.to_pandas(), tuple(repeated_names(names, unique, "the table"))
    except Exception as exc:  # pyarrow raises its own types for broken files
        raise DataError(src.name, f"not a valid .parquet file ({reason(exc)})") from exc


def _read_parquet(src: Input, columns: Sequence[str] | None,
                  dt: np.dtype, missing: Missing = False) -> Points[NDArray[np.floating]]:
    frame, notes = _parquet_frame(src)
    all_names = [str(c) for c in frame.columns]
    if frame.shape[0] == 0:
        raise DataError(src.name, "the table has no rows")
    sel = resolve_columns(columns, all_names, src.name)
    names = [all_names[j] for j in sel]
    for j in sel:
        kind = getattr(frame.dtypes.iloc[j], "kind", "O")
        if kind not in "biuf":
            raise DataError(src.name, f"not a numeric column (dtype {frame.dtypes.iloc[j]})",
                            column=all_names[j], advice=(SELECT_COLUMNS,))
    x = np.ascontiguousarray(frame.iloc[:, sel].to_numpy(dtype=dt, na_value=np.nan))
    allowed = per_column(missing, all_names, sel)
    if _nonfinite(x, allowed):
        raise nonfinite_error(src.name, names, x, x, 0, missing=allowed)
    return Points(x, names, src.name, notes)
