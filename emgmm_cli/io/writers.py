"""Write results: atomically, in the format the file's extension names, "-" for stdout.

Every output of a run goes through an OutputSet, a small transaction: each file is first
written to a temporary file beside its target (``.{name}.tmp-XXXXXXXX``, flushed and
fsync'd) and renamed onto the target only at commit; stdout (and pipes or devices such as
/dev/null given as a path) are buffered in memory and written at commit.  A run that fails
or is interrupted therefore leaves no half-written file, no stray temporary file, an
existing target untouched, and nothing on stdout.

    with OutputSet() as out:                      # commit on success, abort on exception
        write_table("labels.csv", labels, out=out)
        write_table("resp.csv", resp, column_names=["p0", "p1"], out=out)
        write_json("model.json", model_dict, out=out)

Formats (see output_format): .csv, .tsv/.tab, .npy, .json.  What write_table writes:

- a 1-D array (labels, scores) without column_names: one value per line, no header (so
  ``paste`` and ``sort | uniq -c`` work); .npy: the 1-D array (int64 for integers);
  .json: one JSON list;
- a 2-D array with column_names (responsibilities ``p0..p{K-1}``, per-sample scores): a
  header row then the rows; .npy: the 2-D array (no names); .json: a list of records;
- a dict of columns (``{"iteration": [...], "log_likelihood": [...]}``): a header row
  then the rows; .npy: a 2-D float64 array; .json: a list of records.

Floats are written with '%.10g' in text and as Python's repr in JSON; NaN (and None in a
dict column) is an empty field in CSV/TSV and null in JSON, as are infinities in JSON.
"""

from __future__ import annotations

import csv
import json
import math
import os
import stat
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import (
    IO,
    Any,
    BinaryIO,
    Literal,
    TextIO,
    TypeAlias,
    overload,
)

import numpy as np
from numpy.typing import ArrayLike

from .errors import DataError

__all__ = [
    "OUTPUT_FORMATS",
    "STDOUT_NAME",
    "OutputSet",
    "TableStream",
    "atomic_write",
    "ensure_dir",
    "npy_header",
    "output_format",
    "stream_table",
    "write_json",
    "write_table",
]

OUTPUT_FORMATS = ("csv", "tsv", "npy", "json")
"""The formats write_table can write."""

STDOUT_NAME = "<stdout>"
"""The name used in errors about data written to stdout."""

_FORMAT_BY_EXT = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".npy": "npy", ".json": "json"}
_CELLS_PER_CHUNK = 1 << 16

TableData: TypeAlias = "ArrayLike | Mapping[str, Any]"
"""What write_table accepts: a 1-D or 2-D array, or a mapping column name -> values."""


# --------------------------------------------------------------------------- formats and dirs


def output_format(path: str, default: str = "csv") -> str:
    """The format ("csv", "tsv", "npy" or "json") that the extension of path names.

    "-" (stdout) and paths without an extension (/dev/stdout, a named pipe) get default;
    ".tab" is TSV; an unsupported extension raises DataError.
    """
    if default not in OUTPUT_FORMATS:
        raise ValueError(f"default must be one of {OUTPUT_FORMATS}, not {default!r}")
    if path == "-":
        return default
    ext = os.path.splitext(path)[1].lower()
    if not ext:
        return default
    fmt = _FORMAT_BY_EXT.get(ext)
    if fmt is None:
        raise DataError(path, f"unsupported output format '{ext}'; use .csv, .tsv, .npy or .json")
    return fmt


def ensure_dir(path: str) -> str:
    """Create the directory path (and its parents) unless it exists; return path.

    Output files never create their folders by themselves; the code behind an option such as
    --output-dir calls this first.  Raises DataError when path exists as a file or cannot
    be created.
    """
    try:
        os.makedirs(path, exist_ok=True)
    except FileExistsError:
        raise DataError(path, "exists and is not a directory; choose another output directory") from None
    except PermissionError:
        raise DataError(path, "permission denied: cannot create the directory") from None
    except OSError as exc:
        raise DataError(path, f"cannot create the directory: {exc.strerror or exc}") from exc
    return path


# --------------------------------------------------------------------------- transactions


@dataclass
class _Staged:
    path: str  # as given (for messages)
    target: str | None  # the real file to rename onto; None for a stream
    tmp: str | None  # the temporary file, until renamed
    buffer: IO[Any] | None  # content for a stream, written at commit (spooled to disk)
    binary: bool


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _new_file_mode() -> int:
    """The permission bits a newly created file gets (0o666 less the umask)."""
    umask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(umask)
    return 0o666 & ~umask


class OutputSet:
    """A transaction over several output files: all of them appear at commit, or none.

    Use ``stage(path)`` (a context manager yielding a file object) or ``add(path, write)``
    for each output, then ``commit()``; or use the set as a context manager, which commits
    when the block succeeds and aborts when it raises (KeyboardInterrupt included).
    A path of "-" is stdout; at most one output may go there.  The folder of each output
    must exist (see ensure_dir).
    """

    def __init__(self) -> None:
        self._staged: list[_Staged] = []
        self._pending: set[str] = set()  # temporary files still being written
        self._closed = False

    @property
    def paths(self) -> list[str]:
        """The paths staged so far, in order."""
        return [entry.path for entry in self._staged]

    @overload
    def stage(self, path: str, binary: Literal[False] = ...) -> AbstractContextManager[TextIO]: ...

    @overload
    def stage(self, path: str, binary: Literal[True]) -> AbstractContextManager[BinaryIO]: ...

    @overload
    def stage(self, path: str, binary: bool) -> AbstractContextManager[IO[Any]]: ...

    def stage(self, path: str, binary: bool = False) -> AbstractContextManager[IO[Any]]:
        """A context manager yielding a file object for the content of path.

        The content becomes the file at commit; if the block raises, the temporary file is
        removed and the output is not staged.  Raises DataError when the target is a
        directory, is already staged, or its folder does not exist or is not writable.
        """
        return self._stage(path, binary)

    def add(self, path: str, write: Callable[[IO[Any]], object], binary: bool = False) -> None:
        """Stage path with the content that write(file object) writes."""
        with self._stage(path, binary) as fh:
            write(fh)

    @contextmanager
    def _stage(self, path: str, binary: bool) -> Iterator[IO[Any]]:
        if self._closed:
            raise RuntimeError("this OutputSet has already been committed or aborted")
        if path == "-" or _is_stream(path):
            yield from self._stage_stream(path, binary)
            return
        target = os.path.realpath(path)  # write through a symlink, not over it
        for entry in self._staged:
            if entry.target == target:
                raise DataError(path, "the same file is given for two outputs; give each its own file")
        try:
            st: os.stat_result | None = os.stat(target)
        except OSError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise DataError(path, "is a directory; give a file name for this output")
        fd, tmp = _make_temp(path, target)
        self._pending.add(tmp)
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, stat.S_IMODE(st.st_mode) if st is not None else _new_file_mode())
            if binary:
                fh: IO[Any] = os.fdopen(fd, "wb")
            else:
                fh = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
            with fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            _unlink_quietly(tmp)
            self._pending.discard(tmp)
            raise DataError(path, f"cannot write: {exc.strerror or exc}") from exc
        except BaseException:
            _unlink_quietly(tmp)
            self._pending.discard(tmp)
            raise
        self._pending.discard(tmp)
        self._staged.append(_Staged(path, target, tmp, None, binary))

    def _stage_stream(self, path: str, binary: bool) -> Iterator[IO[Any]]:
        if path == "-" and any(entry.path == "-" for entry in self._staged):
            raise DataError(
                STDOUT_NAME, "only one output can go to standard output; give the others file names"
            )
        buffer = _spool(binary)
        yield buffer
        self._staged.append(_Staged(path, None, None, buffer, binary))

    def commit(self) -> None:
        """Rename every temporary file onto its target, then write the buffered streams.

        Raises DataError if a rename or a stream write fails; the temporary files not yet
        renamed are removed.
        """
        if self._closed:
            raise RuntimeError("this OutputSet has already been committed or aborted")
        self._closed = True
        try:
            folders: set[str] = set()
            for entry in self._staged:
                if entry.tmp is None or entry.target is None:
                    continue
                try:
                    os.replace(entry.tmp, entry.target)
                except OSError as exc:
                    raise DataError(entry.path, f"cannot write: {exc.strerror or exc}") from exc
                entry.tmp = None
                folders.add(os.path.dirname(entry.target))
            for folder in folders:
                _fsync_dir(folder)
            for entry in self._staged:
                if entry.buffer is not None:
                    _write_stream(entry)
                    entry.buffer = None
        finally:
            self._cleanup()

    def abort(self) -> None:
        """Remove every temporary file and forget the buffered streams. Safe to repeat."""
        self._closed = True
        self._cleanup()

    def _cleanup(self) -> None:
        for entry in self._staged:
            if entry.tmp is not None:
                _unlink_quietly(entry.tmp)
                entry.tmp = None
            entry.buffer = None
        for tmp in self._pending:
            _unlink_quietly(tmp)
        self._pending.clear()

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if self._closed:
            return
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def _is_stream(path: str) -> bool:
    """An existing path that is neither a regular file nor a directory (pipe, device)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _make_temp(path: str, target: str) -> tuple[int, str]:
    import tempfile

    folder = os.path.dirname(target)
    shown = os.path.dirname(path) or "."
    try:
        return tempfile.mkstemp(prefix=f".{os.path.basename(target)}.tmp-", dir=folder)
    except (FileNotFoundError, NotADirectoryError):
        raise DataError(
            path, f"cannot write: directory '{shown}' does not exist; create it first"
        ) from None
    except PermissionError:
        raise DataError(path, f"permission denied: cannot create files in '{shown}'") from None
    except OSError as exc:
        raise DataError(path, f"cannot write: {exc.strerror or exc}") from exc


def _fsync_dir(folder: str) -> None:
    """Make the renames durable (best effort; not every system can open a directory)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


#: Content for stdout is held in memory up to this size, then in an unnamed temporary file.
_SPOOL_BYTES = 16 << 20
_COPY_CHUNK = 1 << 20


def _spool(binary: bool) -> IO[Any]:
    """A buffer for content written at commit: memory while small, then a temporary file
    (so that streaming N labels to stdout does not hold them all in memory)."""
    import tempfile

    if binary:
        return tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, mode="w+b")
    return tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, mode="w+", encoding="utf-8",
                                         newline="\n")


def _chunks(buffer: IO[Any]) -> Iterator[Any]:
    buffer.seek(0)
    while chunk := buffer.read(_COPY_CHUNK):
        yield chunk


def _write_stream(entry: _Staged) -> None:
    assert entry.buffer is not None
    buffer = entry.buffer
    if entry.path == "-":
        stdout = sys.stdout
        if stdout is None:
            raise DataError(STDOUT_NAME, "there is no standard output to write to")
        if entry.binary:
            raw = getattr(stdout, "buffer", None)
            if raw is None:
                raise DataError(STDOUT_NAME, "cannot write binary data to this standard output")
            stdout.flush()
            for chunk in _chunks(buffer):
                raw.write(chunk)
            raw.flush()
        else:
            for chunk in _chunks(buffer):
                stdout.write(chunk)
            stdout.flush()
        return
    try:
        if entry.binary:
            with open(entry.path, "wb") as fb:
                for chunk in _chunks(buffer):
                    fb.write(chunk)
        else:
            with open(entry.path, "w", encoding="utf-8", newline="\n") as ft:
                for chunk in _chunks(buffer):
                    ft.write(chunk)
    except OSError as exc:
        raise DataError(entry.path, f"cannot write: {exc.strerror or exc}") from exc


@overload
def atomic_write(path: str, binary: Literal[False] = ...) -> AbstractContextManager[TextIO]: ...


@overload
def atomic_write(path: str, binary: Literal[True]) -> AbstractContextManager[BinaryIO]: ...


@overload
def atomic_write(path: str, binary: bool) -> AbstractContextManager[IO[Any]]: ...


def atomic_write(path: str, binary: bool = False) -> AbstractContextManager[IO[Any]]:
    """A context manager yielding a file object whose content replaces path on success.

    The same guarantees as an OutputSet of one file ("-" is stdout, written at the end).
    """
    return _atomic_write(path, binary)


@contextmanager
def _atomic_write(path: str, binary: bool) -> Iterator[IO[Any]]:
    with OutputSet() as out, out.stage(path, binary) as fh:
        yield fh


def _emit(path: str, write: Callable[[IO[Any]], object], binary: bool, out: OutputSet | None) -> None:
    if out is not None:
        out.add(path, write, binary)
    else:
        with atomic_write(path, binary) as fh:
            write(fh)


# --------------------------------------------------------------------------- tables


@dataclass
class _Table:
    """A normalised table: a bare vector, a numeric matrix, or named 1-D columns."""

    kind: Literal["vector", "matrix", "columns"]
    names: list[str]
    matrix: np.ndarray | None = None  # vector (1-D) or matrix (2-D)
    columns: list[np.ndarray] | None = None


def _as_column(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"column {name!r} must be 1-D, not of shape {arr.shape}")
    if arr.dtype.kind == "O":
        items = arr.tolist()
        numeric = all(
            v is None or (isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_)))
            for v in items
        )
        if numeric:
            return np.array([np.nan if v is None else v for v in items], dtype=np.float64)
    return arr


def _as_table(data: TableData, column_names: Sequence[str] | None) -> _Table:
    if isinstance(data, Mapping):
        if column_names is not None:
            raise ValueError("column_names applies to arrays; a mapping names its own columns")
        names = [str(k) for k in data]
        cols = [_as_column(v, n) for n, v in zip(names, data.values())]
        lengths = {len(c) for c in cols}
        if len(lengths) > 1:
            raise ValueError(f"table columns differ in length: {sorted(lengths)}")
        return _Table("columns", names, columns=cols)
    arr = np.asarray(data)
    if arr.ndim == 1 and column_names is None:
        return _Table("vector", [], matrix=arr)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"write_table takes a 1-D or 2-D array, not shape {arr.shape}")
    names = [str(n) for n in column_names] if column_names is not None else [str(j) for j in range(arr.shape[1])]
    if len(names) != arr.shape[1]:
        raise ValueError(f"{len(names)} column names for {arr.shape[1]} columns")
    if arr.dtype.kind in "iuf":
        return _Table("matrix", names, matrix=arr)
    return _Table("columns", names, columns=[arr[:, j] for j in range(arr.shape[1])])


def write_table(
    path: str,
    data: TableData,
    *,
    column_names: Sequence[str] | None = None,
    fmt: str | None = None,
    out: OutputSet | None = None,
) -> None:
    """Write labels, a named matrix or a dict of columns to path in its format.

    data: a 1-D array (without column_names: one value per line, no header), a 2-D array
    (column_names default to "0", "1", ...; a 1-D array with one name is one column), or a
    mapping column name -> 1-D values (numbers, bools, strings or None).
    fmt: "csv", "tsv", "npy" or "json"; by default output_format(path).
    out: stage into this OutputSet; without it, path is written atomically on its own.
    Raises DataError for an unsupported extension, non-numeric columns in .npy output and
    files that cannot be written; ValueError for malformed data (a programming error).
    """
    fmt = fmt if fmt is not None else output_format(path)
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f"fmt must be one of {OUTPUT_FORMATS}, not {fmt!r}")
    table = _as_table(data, column_names)
    if fmt == "npy":
        array = _npy_array(path, table)
        _emit(path, lambda fh: np.save(fh, array, allow_pickle=False), True, out)
    elif fmt == "json":
        _emit(path, lambda fh: _write_json_table(fh, table), False, out)
    else:
        delim = "," if fmt == "csv" else "\t"
        _emit(path, lambda fh: _write_text_table(fh, table, delim), False, out)


def _npy_array(path: str, table: _Table) -> np.ndarray:
    if table.matrix is not None:
        arr = table.matrix
        if arr.dtype.kind in "iub":
            return arr.astype(np.int64)
        if arr.dtype.kind == "f":
            return arr
        raise DataError(path, f"cannot write {arr.dtype} values to .npy; use .csv, .tsv or .json")
    assert table.columns is not None
    for name, col in zip(table.names, table.columns):
        if col.dtype.kind not in "biuf":
            raise DataError(
                path, "not numeric; .npy output holds numbers only: use .csv, .tsv or .json", column=name
            )
    n_rows = len(table.columns[0]) if table.columns else 0
    if not table.columns:
        return np.empty((n_rows, 0), dtype=np.float64)
    return np.column_stack([c.astype(np.float64) for c in table.columns]).reshape(n_rows, len(table.columns))


def _text_cells(col: np.ndarray) -> list[str]:
    """The CSV/TSV text of each value of one column."""
    kind = col.dtype.kind
    if kind in "iu":
        return [str(v) for v in col.tolist()]
    if kind == "f":
        isnan = math.isnan
        return ["" if isnan(v) else "%.10g" % v for v in col.tolist()]
    if kind == "b":
        return ["true" if v else "false" for v in col.tolist()]
    cells = []
    for v in col.tolist():
        if v is None or (isinstance(v, float) and math.isnan(v)):
            cells.append("")
        elif isinstance(v, bool):
            cells.append("true" if v else "false")
        elif isinstance(v, float):
            cells.append("%.10g" % v)
        else:
            cells.append(str(v))
    return cells


def _write_text_table(fh: IO[Any], table: _Table, delim: str) -> None:
    if table.kind == "columns":
        assert table.columns is not None
        writer = csv.writer(fh, delimiter=delim, lineterminator="\n")
        writer.writerow(table.names)
        writer.writerows(zip(*(_text_cells(c) for c in table.columns)))
        return
    assert table.matrix is not None
    arr = table.matrix
    if table.kind == "matrix":
        csv.writer(fh, delimiter=delim, lineterminator="\n").writerow(table.names)
    else:
        arr = arr.reshape(-1, 1)
    if arr.dtype.kind not in "iuf":  # a bare vector of bools or strings: one cell per line
        fh.writelines(cell + "\n" for cell in _text_cells(arr[:, 0]))
        return
    _write_numbers(fh, arr, delim)


def _write_numbers(fh: IO[Any], arr: np.ndarray, delim: str) -> None:
    """Rows of numbers, '%d' or '%.10g', formatted a chunk of rows at a time."""
    n_rows, n_cols = arr.shape
    is_float = arr.dtype.kind == "f"
    cell = "%.10g" if is_float else "%d"
    row_format = delim.join([cell] * n_cols) + "\n"
    step = max(1, _CELLS_PER_CHUNK // max(n_cols, 1))
    for start in range(0, n_rows, step):
        block = arr[start : start + step]
        text = (row_format * block.shape[0]) % tuple(block.ravel().tolist())
        if is_float and np.isnan(block).any():
            # a formatted float holds only digits, '.', 'e', signs, 'inf' or 'nan'
            text = text.replace("nan", "")
        fh.write(text)


def _json_values(col: np.ndarray) -> list[Any]:
    """Plain Python values of one column for JSON; NaN and infinities as None."""
    values: list[Any] = col.tolist()
    if col.dtype.kind == "f":
        if np.isfinite(col).all():
            return values
        return [v if math.isfinite(v) else None for v in values]
    if col.dtype.kind == "O":
        return [_jsonable(v) for v in values]
    return values


_JSON_LINE = json.JSONEncoder(allow_nan=False, ensure_ascii=False)


def _write_json_table(fh: IO[Any], table: _Table) -> None:
    if table.kind == "vector":
        assert table.matrix is not None
        fh.write(_JSON_LINE.encode(_json_values(table.matrix)) + "\n")
        return
    if table.kind == "matrix":
        assert table.matrix is not None
        columns = [_json_values(table.matrix[:, j]) for j in range(table.matrix.shape[1])]
    else:
        assert table.columns is not None
        columns = [_json_values(c) for c in table.columns]
    names = table.names
    n_rows = len(columns[0]) if columns else 0
    if n_rows == 0:
        fh.write("[]\n")
        return
    encode = _JSON_LINE.encode
    rows = zip(*columns)
    fh.write("[\n  " + encode(dict(zip(names, next(rows)))))
    chunk: list[str] = []
    for row in rows:
        chunk.append(encode(dict(zip(names, row))))
        if len(chunk) >= 4096:
            fh.write(",\n  " + ",\n  ".join(chunk))
            chunk.clear()
    if chunk:
        fh.write(",\n  " + ",\n  ".join(chunk))
    fh.write("\n]\n")


# --------------------------------------------------------------------------- streamed tables


def npy_header(shape: tuple[int, ...], dtype: Any) -> bytes:
    """The header numpy.save writes for a C-ordered array of this shape and dtype.

    numpy pads it so that the first axis can grow in place: (0, D) and (N, D) give headers
    of the same length, so a file can be begun before its row count is known.
    """
    import io

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


class TableStream:
    """One table written block by block: what write_table writes, in pieces.

    Made by stream_table.  A table of n_rows rows, either a bare vector (no column_names:
    one value per line; labels, scores) or a matrix with named columns (responsibilities).
    write(block) appends rows: the text formats format them, .npy appends their raw bytes
    after a header written up front for the final shape (so n_rows must be known), .json
    continues a list.  The file equals write_table's for the concatenated blocks, byte for
    byte.
    """

    def __init__(self, fh: IO[Any], fmt: str, path: str, n_rows: int,
                 names: Sequence[str] | None, dtype: Any) -> None:
        self._fh, self.fmt, self.path = fh, fmt, path
        self.n_rows, self.rows_written = int(n_rows), 0
        self.names = [str(n) for n in names] if names is not None else None
        self.dtype = np.dtype(dtype)
        if self.dtype.kind not in "iuf":
            raise ValueError(f"a streamed table holds numbers, not {self.dtype}")
        if fmt == "npy":
            if self.dtype.kind in "iu":
                self.dtype = np.dtype(np.int64)  # as write_table writes integers
            shape = (self.n_rows,) if self.names is None else (self.n_rows, len(self.names))
            fh.write(npy_header(shape, self.dtype))
        elif fmt in ("csv", "tsv") and self.names is not None:
            csv.writer(fh, delimiter=self._delim, lineterminator="\n").writerow(self.names)

    @property
    def _delim(self) -> str:
        return "," if self.fmt == "csv" else "\t"

    def write(self, block: ArrayLike) -> None:
        """Append rows: a 1-D block for a vector, (rows, len(names)) for a matrix."""
        arr = np.asarray(block)
        if self.names is None:
            if arr.ndim != 1:
                raise ValueError(f"a vector table takes 1-D blocks, not shape {arr.shape}")
        else:
            if arr.ndim == 1 and len(self.names) == 1:
                arr = arr.reshape(-1, 1)
            if arr.ndim != 2 or arr.shape[1] != len(self.names):
                raise ValueError(f"blocks of {len(self.names)} columns expected, got shape "
                                 f"{arr.shape}")
        if self.rows_written + arr.shape[0] > self.n_rows:
            raise ValueError(f"{self.path}: more than the {self.n_rows} rows announced")
        arr = arr.astype(self.dtype, copy=False)
        self.rows_written += arr.shape[0]
        if arr.shape[0] == 0:
            return
        if self.fmt == "npy":
            self._fh.write(np.ascontiguousarray(arr).tobytes())
        elif self.fmt == "json":
            self._write_json(arr)
        else:
            _write_numbers(self._fh, arr.reshape(-1, 1) if arr.ndim == 1 else arr, self._delim)

    def _write_json(self, arr: np.ndarray) -> None:
        first = self.rows_written == arr.shape[0]
        if self.names is None:
            inner = _JSON_LINE.encode(_json_values(arr))[1:-1]
            self._fh.write(("[" if first else ", ") + inner)
            return
        encode, names = _JSON_LINE.encode, self.names
        columns = [_json_values(arr[:, j]) for j in range(arr.shape[1])]
        records = [encode(dict(zip(names, row))) for row in zip(*columns)]
        self._fh.write(("[\n  " if first else ",\n  ") + ",\n  ".join(records))

    def close(self) -> None:
        """Check that every announced row came, and end the file."""
        if self.rows_written != self.n_rows:
            raise ValueError(f"{self.path}: {self.rows_written} rows written of the "
                             f"{self.n_rows} announced")
        if self.fmt == "json":
            if self.n_rows == 0:
                self._fh.write("[]\n")
            else:
                self._fh.write("]\n" if self.names is None else "\n]\n")


@contextmanager
def stream_table(path: str, *, n_rows: int, column_names: Sequence[str] | None = None,
                 dtype: Any = np.float64, fmt: str | None = None,
                 out: OutputSet | None = None) -> Iterator[TableStream]:
    """A TableStream into path (staged into out, or written atomically on its own).

    Nothing appears at path unless the block completes with all n_rows rows written; a
    failure removes the temporary file, as for write_table.
    """
    fmt = fmt if fmt is not None else output_format(path)
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f"fmt must be one of {OUTPUT_FORMATS}, not {fmt!r}")
    binary = fmt == "npy"
    stage = out.stage(path, binary) if out is not None else atomic_write(path, binary)
    with stage as fh:
        table = TableStream(fh, fmt, path, n_rows, column_names, dtype)
        yield table
        table.close()


# --------------------------------------------------------------------------- JSON


def _jsonable(obj: Any) -> Any:
    """obj with numpy values made plain and non-finite floats made None."""
    if obj is None or isinstance(obj, (str, bool)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, Mapping):
        return {(k if isinstance(k, str) else str(_jsonable(k))): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return _jsonable(to_dict())
    raise TypeError(f"cannot write a {type(obj).__name__} as JSON")


def write_json(path: str, obj: Any, *, out: OutputSet | None = None) -> None:
    """Write obj as pretty JSON (indent 2, trailing newline), atomically or into out.

    numpy arrays and scalars become lists and numbers; NaN and infinities become null;
    objects with a to_dict() method are written as its result.
    """
    text = json.dumps(_jsonable(obj), indent=2, allow_nan=False, ensure_ascii=False) + "\n"

    def write(fh: IO[Any]) -> None:
        fh.write(text)

    _emit(path, write, False, out)
