"""Data larger than memory: .npy read block by block, and CSV converted once to a binary cache.

open_points() decides how an input is read, by its size against a memory limit (default: a
quarter of the machine's memory, see default_memory_limit):

- at most the limit, or standard input, .parquet, compressed files: read into memory by
  read_points, as always;
- a larger .npy: never loaded.  Its header is read, every block of rows is checked once for
  non-finite values, and Points.x is a BlockFile: an array-like whose row slices are read
  from the file with positional reads (os.preadv) when asked for, with the selected columns
  and converted to the requested dtype block by block.  Positional reads rather than a
  memory map: the pages of a map that a pass has touched count in the process's resident
  memory (up to the whole file), blocks read into fresh buffers do not;
- a larger text file (CSV, TSV, ...): converted once, in row chunks (never whole), to a
  .npy in the cache directory, written atomically, then read as above.  The cache is keyed
  by the file's absolute path, size and modification time, and by the columns, dtype,
  delimiter and header options, so it is reused while the file is unchanged; a newer
  version of the same file replaces the older cache.

The text is parsed as read_points parses it (the same prologue: delimiter, header, column
names; numpy's parser per chunk, the exact Python parser where it refuses a chunk), so the
values, and every error message with its line and column, are those of an in-memory read.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import stat
import tempfile
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .errors import DataError
from .readers import (
    _COMPRESSED,
    _DELIMITER_BY_EXT,
    Points,
    _check_text_head,
    _Content,
    _delimiter_option,
    _file_source,
    _Layout,
    _nonfinite_error,
    _parse_value,
    _prologue,
    _resolve_columns,
    _Source,
    read_points,
)
from .writers import npy_header

__all__ = [
    "BlockFile",
    "cache_path",
    "default_cache_dir",
    "default_memory_limit",
    "open_npy_blocks",
    "open_points",
    "text_to_cache",
]

#: Written into every cache key: bump it when the cache layout or the parser changes.
CACHE_FORMAT = 1
#: Rows checked (or converted) per block when a large file is validated or cached.
CHECK_BLOCK_BYTES = 8 << 20
#: Bounds of the rows of text parsed at a time while converting to the cache.
MIN_CHUNK_ROWS, MAX_CHUNK_ROWS = 16, 1 << 16
#: Fallback when the machine's memory cannot be read.
FALLBACK_MEMORY_LIMIT = 1 << 30

Log = Callable[[str], None]


# --------------------------------------------------------------------------- limits and places


def _cgroup_limit() -> int | None:
    """The memory limit of this process's cgroup (v2, then v1), if there is one."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path, encoding="ascii") as fh:
                text = fh.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < (1 << 60):
            return int(text)
    return None


def physical_memory() -> int | None:
    """Bytes of memory this process may use: MemTotal, or the cgroup's limit if lower."""
    total: int | None = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    total = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        total = None
    if total is None:
        try:
            total = int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, ValueError, OSError):
            total = None
    group = _cgroup_limit()
    if group is not None:
        total = group if total is None else min(total, group)
    return total


def default_memory_limit() -> int:
    """A quarter of the memory this process may use (1 GiB if it cannot be read)."""
    total = physical_memory()
    return max(1, total // 4) if total else FALLBACK_MEMORY_LIMIT


def default_cache_dir() -> str:
    """$XDG_CACHE_HOME/emgmm, or ~/.cache/emgmm."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "emgmm")


def format_size(n: int) -> str:
    """Bytes for a message: 512 B, 3.2 KiB, 1.5 GiB."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover


# --------------------------------------------------------------------------- .npy headers


def _read_npy_header(path: str) -> tuple[tuple[int, ...], bool, np.dtype, int] | None:
    """(shape, fortran_order, dtype, data offset) of a .npy file; None if it is not one
    numpy can describe (read_points then says what is wrong)."""
    fmt = np.lib.format
    try:
        with open(path, "rb") as fh:
            version = fmt.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = fmt.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = fmt.read_array_header_2_0(fh)
            else:
                return None
            offset = fh.tell()
    except (OSError, ValueError, EOFError, SyntaxError):
        return None
    return tuple(shape), bool(fortran), np.dtype(dtype), offset


# --------------------------------------------------------------------------- the block file


class BlockFile:
    """The rows of a C-ordered 2-D array in a .npy file, read only when indexed.

    Behaves as the (N, D) array ArrayDataset needs: ``shape``, ``ndim``, ``dtype``, and
    indexing by a row slice (a fresh, writable, C-contiguous ndarray of ``dtype``), by an
    array of row indices (for samples), or by one row.  ``columns`` selects columns of the
    file; values are converted to ``dtype`` block by block.  Reads are positional
    (os.preadv on one descriptor), so threads read blocks at once without locking.
    ``np.asarray(block_file)`` reads every row: the whole array in memory, which the fit
    never asks for.
    """

    ndim = 2

    def __init__(self, path: str, *, offset: int, n_rows: int, n_file_columns: int,
                 file_dtype: DTypeLike, columns: Sequence[int] | None = None,
                 dtype: DTypeLike = np.float64) -> None:
        self.path = path
        self.offset = int(offset)
        self.file_dtype = np.dtype(file_dtype)
        self.n_file_columns = int(n_file_columns)
        cols = list(range(self.n_file_columns)) if columns is None else [int(c) for c in columns]
        self.columns = cols
        self._all_columns = cols == list(range(self.n_file_columns))
        self.dtype = np.dtype(dtype)
        self.shape = (int(n_rows), len(cols))
        self.row_bytes = self.n_file_columns * self.file_dtype.itemsize
        self._fd: int | None = os.open(path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return (f"BlockFile({self.path!r}, shape={self.shape}, dtype={self.dtype}, "
                f"file_dtype={self.file_dtype})")

    @property
    def nbytes(self) -> int:
        return self.shape[0] * self.shape[1] * self.dtype.itemsize

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:  # pragma: no cover - depends on the garbage collector
        try:
            self.close()
        except (OSError, AttributeError):
            pass

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_fd"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._fd = os.open(self.path, os.O_RDONLY)

    def _fileno(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        return self._fd

    def read_raw(self, start: int, stop: int) -> NDArray[Any]:
        """Rows [start, stop) as stored in the file (all columns, the file's dtype)."""
        n = max(0, stop - start)
        buf = np.empty((n, self.n_file_columns), dtype=self.file_dtype)
        if n == 0:
            return buf
        view = buf.data.cast("B")
        pos, done, fd = self.offset + start * self.row_bytes, 0, self._fileno()
        total = view.nbytes
        while done < total:
            got = os.preadv(fd, [view[done:]], pos + done)
            if got <= 0:
                raise DataError(self.path, f"the file ended early (expected {self.shape[0]} "
                                           "rows); was it truncated?")
            done += got
        return buf

    def _convert(self, raw: NDArray[Any]) -> NDArray[np.floating]:
        sel = raw if self._all_columns else raw[:, self.columns]
        if sel.dtype == self.dtype and sel.flags.c_contiguous and sel.flags.writeable:
            return sel
        with np.errstate(over="ignore", invalid="ignore"):
            return np.ascontiguousarray(sel, dtype=self.dtype)

    def read(self, start: int, stop: int) -> NDArray[np.floating]:
        """Rows [start, stop): selected columns in ``dtype``."""
        start, stop = max(0, start), min(stop, self.shape[0])
        return self._convert(self.read_raw(start, max(start, stop)))

    def take(self, rows: NDArray[np.intp]) -> NDArray[np.floating]:
        rows = np.asarray(rows, dtype=np.intp).reshape(-1)
        n = self.shape[0]
        if len(rows) and (rows.min() < -n or rows.max() >= n):
            raise IndexError(f"row index out of range for {n} rows")
        rows = np.where(rows < 0, rows + n, rows)
        out = np.empty((len(rows), self.shape[1]), dtype=self.dtype)
        if len(rows) == 0:
            return out
        order = np.argsort(rows, kind="stable")
        srt = rows[order]
        # runs of consecutive (or repeated) rows are read with one call
        breaks = np.flatnonzero(np.diff(srt) > 1) + 1
        lo = 0
        for hi in itertools.chain(breaks.tolist(), [len(srt)]):
            a, b = int(srt[lo]), int(srt[hi - 1]) + 1
            block = self.read(a, b)
            out[order[lo:hi]] = block[srt[lo:hi] - a]
            lo = hi
        return out

    def __getitem__(self, key: Any) -> NDArray[np.floating]:
        if isinstance(key, tuple):
            rows, cols = key[0], key[1:]
            part = self[rows]
            return part[(slice(None),) + tuple(cols)] if cols else part
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step == 1:
                return self.read(start, stop)
            return self.take(np.arange(start, stop, step))
        if isinstance(key, (int, np.integer)):
            i = int(key)
            if not -self.shape[0] <= i < self.shape[0]:
                raise IndexError(f"row {i} out of range for {self.shape[0]} rows")
            i %= self.shape[0]
            return self.read(i, i + 1)[0]
        arr = np.asarray(key)
        if arr.dtype == bool:
            return self.take(np.flatnonzero(arr))
        return self.take(arr)

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None
                  ) -> NDArray[Any]:
        out = self.read(0, self.shape[0])
        return out if dtype is None else out.astype(dtype, copy=False)

    def iter_blocks(self, rows: int) -> Any:
        """(first row, raw rows in the file's dtype, converted rows) for each block."""
        for a in range(0, self.shape[0], max(1, rows)):
            b = min(a + rows, self.shape[0])
            raw = self.read_raw(a, b)
            yield a, raw, self._convert(raw)


def _check_rows(source: str, names: list[str], blocks: BlockFile) -> None:
    """One pass over the file: every selected value must be finite in the target dtype."""
    rows = max(1, CHECK_BLOCK_BYTES // max(1, blocks.row_bytes))
    for start, raw, x in blocks.iter_blocks(rows):
        if not np.isfinite(x).all():
            raise _nonfinite_error(source, names, x, raw[:, blocks.columns], start)


# --------------------------------------------------------------------------- .npy


def open_npy_blocks(path: str, *, columns: Sequence[str] | None = None,
                    dtype: DTypeLike = np.float64, check: bool = True,
                    source: str | None = None) -> Points | None:
    """A .npy file as Points whose x is a BlockFile, checked for non-finite values.

    Returns None where the file is not a plain C-ordered numeric 1-D or 2-D array with
    rows (read_points then reads it, or says what is wrong with it).
    """
    info = _read_npy_header(path)
    if info is None:
        return None
    shape, fortran, file_dtype, offset = info
    if fortran or file_dtype.kind not in "biuf" or file_dtype.hasobject or len(shape) not in (1, 2):
        return None
    n_rows = shape[0]
    n_cols = shape[1] if len(shape) == 2 else 1
    if n_rows == 0 or n_cols == 0:
        return None
    if os.path.getsize(path) < offset + n_rows * n_cols * file_dtype.itemsize:
        raise DataError(path, f"the file is shorter than its header says ({n_rows} x {n_cols} "
                              f"{file_dtype}); was it truncated?")
    name = source or path
    all_names = [str(j) for j in range(n_cols)]
    sel = _resolve_columns(columns, all_names, name)
    names = [all_names[j] for j in sel]
    blocks = BlockFile(path, offset=offset, n_rows=n_rows, n_file_columns=n_cols,
                       file_dtype=file_dtype, columns=sel, dtype=dtype)
    if check:
        _check_rows(name, names, blocks)
    return Points(blocks, names, name)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- text to cache


def cache_key(path: str, st: os.stat_result, *, columns: Sequence[str] | None,
              delimiter: str | None, header: bool | None, dtype: np.dtype) -> tuple[str, str]:
    """(identity of the file version, identity of the reading options), as hex digests."""
    real = os.path.realpath(path)
    version = json.dumps([CACHE_FORMAT, real, st.st_size, st.st_mtime_ns, st.st_ino])
    reading = json.dumps([list(columns) if columns is not None else None, delimiter, header,
                          np.dtype(dtype).str])
    return (hashlib.sha256(version.encode()).hexdigest()[:16],
            hashlib.sha256(reading.encode()).hexdigest()[:12])


def _path_tag(path: str) -> str:
    real = os.path.realpath(path)
    stem = "".join(c if c.isalnum() or c in "-_." else "_"
                   for c in os.path.splitext(os.path.basename(real))[0])[:40] or "data"
    return f"{stem}-{hashlib.sha256(real.encode()).hexdigest()[:12]}"


def cache_path(cache_dir: str, path: str, *, columns: Sequence[str] | None = None,
               delimiter: str | None = None, header: bool | None = None,
               dtype: DTypeLike = np.float64) -> str:
    """The cache file a text file gets with these reading options (it may not exist yet)."""
    st = os.stat(path)
    version, reading = cache_key(path, st, columns=columns, delimiter=delimiter,
                                 header=header, dtype=np.dtype(dtype))
    return os.path.join(cache_dir, f"{_path_tag(path)}-{version}-{reading}.npy")


def _chunk_rows(memory_limit: int, n_fields: int) -> int:
    """Rows of text parsed at a time: the lines, the fields and the parsed values of a
    chunk stay well under the memory limit."""
    per_row = 64 * max(1, n_fields)
    return int(min(MAX_CHUNK_ROWS, max(MIN_CHUNK_ROWS, memory_limit // (8 * per_row))))


def _loadtxt_chunk(lines: list[str], layout: _Layout, usecols: list[int] | None,
                   dt: np.dtype) -> NDArray[np.floating] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x = np.loadtxt(lines, dtype=dt, delimiter=layout.delim, comments=None,
                           quotechar='"', usecols=usecols, ndmin=2)
    except (ValueError, IndexError, TypeError):
        return None
    return x


def _chunk_ok(x: NDArray[np.floating] | None, lines: list[str], layout: _Layout,
              use_all: bool) -> bool:
    if x is None or x.shape[0] != len(lines):
        return False
    if use_all:
        if x.shape[1] != layout.n_fields:
            return False
    else:  # loadtxt does not check the width of rows when usecols is given: we do
        n = layout.n_fields
        if any('"' in line for line in lines):
            return False
        if layout.delim is None:
            if not all(len(line.split()) == n for line in lines):
                return False
        elif not all(line.count(layout.delim) == n - 1 for line in lines):
            return False
    return bool(np.isfinite(x).all())


def _parse_chunk(source: str, lines: list[str], linenos: list[int], layout: _Layout,
                 usecols: list[int], names: list[str], dt: np.dtype) -> NDArray[np.floating]:
    """The reference parser (readers._parse_python) on one chunk: first problem raised."""
    import csv

    what = "the header" if layout.has_header else "the first row"
    if layout.delim is None:
        records: Any = (line.split() for line in lines)
    else:
        records = csv.reader(lines, delimiter=layout.delim, quotechar='"')
    rows: list[list[float]] = []
    for fields, lineno in zip(records, linenos):
        if len(fields) != layout.n_fields:
            raise DataError(
                source,
                f"expected {layout.n_fields} fields, found {len(fields)}; every row needs "
                f"as many fields as {what}",
                line=lineno,
            )
        rows.append([_parse_value(fields[j], source, lineno, nm)
                     for j, nm in zip(usecols, names)])
    with np.errstate(over="ignore"):
        x = np.array(rows, dtype=dt).reshape(len(rows), len(usecols))
    bad = ~np.isfinite(x)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise DataError(source, f"value {rows[i][j]!r} is out of range for {dt.name}",
                        line=linenos[i], column=names[j])
    return x


def _text_delimiter(path: str, delimiter: str | None) -> tuple[str | None, bool]:
    """(delimiter, sniff) as read_points chooses them for a file path."""
    if delimiter is not None:
        return _delimiter_option(delimiter, path), False
    ext = os.path.splitext(path)[1].lower()
    if ext in _DELIMITER_BY_EXT:
        return _DELIMITER_BY_EXT[ext], False
    return ",", True


def _write_file_atomically(target: str, write: Callable[[Any], None], binary: bool) -> None:
    folder = os.path.dirname(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.tmp-", dir=folder)
    try:
        fh: Any = os.fdopen(fd, "w+b") if binary else os.fdopen(fd, "w", encoding="utf-8")
        with fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def text_to_cache(src: _Source, target: str, *, delim: str | None, sniff: bool,
                  header: bool | None, columns: Sequence[str] | None, dt: np.dtype,
                  memory_limit: int) -> list[str]:
    """Convert a text file to a .npy at target, chunk by chunk; returns the column names.

    The .npy is written to a temporary file beside target (its header rewritten with the
    row count at the end) and renamed onto target, so target is complete or absent.
    """
    _check_text_head(src)
    with src.open_text() as stream:
        layout, _ = _prologue(src, stream, delim, sniff, header)
    sel = _resolve_columns(columns, layout.names, src.name)
    usecols = [layout.offset + j for j in sel]
    names = [layout.names[j] for j in sel]
    use_all = layout.offset == 0 and usecols == list(range(layout.n_fields))
    chunk = _chunk_rows(memory_limit, layout.n_fields)
    d = len(usecols)

    def write(fh: Any) -> None:
        head = npy_header((0, d), dt)
        fh.write(head)
        n_rows = 0
        with src.open_text() as stream:
            content = _Content(stream, layout.start_line)
            while True:
                lines: list[str] = []
                linenos: list[int] = []
                for line in itertools.islice(content, chunk):
                    lines.append(line)
                    linenos.append(content.lineno)
                if not lines:
                    break
                x = _loadtxt_chunk(lines, layout, None if use_all else usecols, dt)
                if not _chunk_ok(x, lines, layout, use_all):
                    x = _parse_chunk(src.name, lines, linenos, layout, usecols, names, dt)
                assert x is not None
                fh.write(np.ascontiguousarray(x, dtype=dt).tobytes())
                n_rows += x.shape[0]
        if n_rows == 0:
            raise DataError(
                src.name,
                "the file has a header but no data rows; it needs at least one row of numbers",
                line=layout.start_line or None,
            )
        final = npy_header((n_rows, d), dt)
        if len(final) != len(head):  # pragma: no cover - numpy pads for in-place growth
            raise RuntimeError("the .npy header changed length; cannot finish the cache")
        fh.seek(0)
        fh.write(final)

    meta = {"format": CACHE_FORMAT, "source": os.path.realpath(src.path or src.name),
            "column_names": names, "dtype": dt.name}
    _write_file_atomically(target + ".json", lambda fh: json.dump(meta, fh), binary=False)
    _write_file_atomically(target, write, binary=True)
    return names


def _cached_names(target: str) -> list[str] | None:
    """The column names stored beside a complete cache file, or None to rebuild it."""
    try:
        with open(target + ".json", encoding="utf-8") as fh:
            meta = json.load(fh)
        names = meta["column_names"]
        info = _read_npy_header(target)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if info is None or meta.get("format") != CACHE_FORMAT or not isinstance(names, list):
        return None
    shape, _, dtype, offset = info
    if len(shape) != 2 or shape[1] != len(names) or \
            os.path.getsize(target) != offset + shape[0] * shape[1] * dtype.itemsize:
        return None
    return [str(n) for n in names]


def _remove_stale(cache_dir: str, tag: str, version: str) -> None:
    """Remove the caches of earlier versions of the same file."""
    try:
        entries = os.listdir(cache_dir)
    except OSError:
        return
    for entry in entries:
        if entry.startswith(tag + "-") and not entry.startswith(f"{tag}-{version}-"):
            try:
                os.unlink(os.path.join(cache_dir, entry))
            except OSError:
                pass


def _ensure_cache_dir(cache_dir: str) -> None:
    try:
        os.makedirs(cache_dir, exist_ok=True)
    except OSError as exc:
        raise DataError(cache_dir, f"cannot create the cache directory ({exc.strerror or exc}); "
                                   "give a writable one with --cache-dir") from exc
    if not os.access(cache_dir, os.W_OK | os.X_OK):
        raise DataError(cache_dir, "the cache directory is not writable; give another one with "
                                   "--cache-dir")


def open_text_cached(path: str, *, columns: Sequence[str] | None, delimiter: str | None,
                     header: bool | None, dtype: DTypeLike, memory_limit: int,
                     cache_dir: str, log: Log | None = None) -> Points:
    """A text file through its binary cache (made now if missing or stale) as Points."""
    dt = np.dtype(dtype)
    delim, sniff = _text_delimiter(path, delimiter)
    src = _file_source(path)
    st = os.stat(path)
    version, reading = cache_key(path, st, columns=columns, delimiter=delimiter,
                                 header=header, dtype=dt)
    tag = _path_tag(path)
    target = os.path.join(cache_dir, f"{tag}-{version}-{reading}.npy")
    names = _cached_names(target) if os.path.exists(target) else None
    if names is not None:
        if log is not None:
            log(f"{path}: reusing the binary cache {target}")
    else:
        _ensure_cache_dir(cache_dir)
        if log is not None:
            log(f"{path}: {format_size(st.st_size)} is over the memory limit "
                f"({format_size(memory_limit)}); converting it once to the binary cache "
                f"{target}")
        try:
            names = text_to_cache(src, target, delim=delim, sniff=sniff, header=header,
                                  columns=columns, dt=dt, memory_limit=memory_limit)
        except OSError as exc:
            raise DataError(target, f"cannot write the binary cache ({exc.strerror or exc}); "
                                    "give a folder with room with --cache-dir") from exc
        _remove_stale(cache_dir, tag, version)
    points = open_npy_blocks(target, dtype=dt, check=False, source=path)
    if points is None:  # pragma: no cover - we wrote it
        raise DataError(target, "the binary cache is unreadable; delete it and run again")
    return Points(points.x, names, path)


# --------------------------------------------------------------------------- entry point


def open_points(path: str, *, columns: Sequence[str] | None = None,
                delimiter: str | None = None, header: bool | None = None,
                dtype: DTypeLike = np.float64, memory_limit: int | None = None,
                cache_dir: str | None = None, log: Log | None = None) -> Points:
    """Read INPUT as `fit` does: in memory when small, block by block when over the limit.

    memory_limit: bytes (default: default_memory_limit()); a file larger than this is not
    loaded.  cache_dir: where text files over the limit are converted (default:
    default_cache_dir()).  log: called with one-line messages about what was done.
    """
    dt = np.dtype(dtype)
    if isinstance(columns, str):
        columns = columns.split(",")
    if path == "-":
        return read_points(path, columns=columns, delimiter=delimiter, header=header, dtype=dt)
    limit = default_memory_limit() if memory_limit is None else int(memory_limit)
    try:
        st = os.stat(path)
    except OSError:
        st = None
    ext = os.path.splitext(path)[1].lower()
    if st is None or not stat.S_ISREG(st.st_mode) or st.st_size <= limit \
            or ext in _COMPRESSED or ext == ".parquet":
        return read_points(path, columns=columns, delimiter=delimiter, header=header, dtype=dt)
    if ext == ".npy":
        points = open_npy_blocks(path, columns=columns, dtype=dt)
        if points is None:  # read_points says what stops it being read by blocks
            return read_points(path, columns=columns, dtype=dt, mmap=True)
        if log is not None:
            log(f"{path}: {format_size(st.st_size)} is over the memory limit "
                f"({format_size(limit)}); reading it block by block")
        return points
    return open_text_cached(path, columns=columns, delimiter=delimiter, header=header,
                            dtype=dt, memory_limit=limit,
                            cache_dir=cache_dir if cache_dir is not None else default_cache_dir(),
                            log=log)
