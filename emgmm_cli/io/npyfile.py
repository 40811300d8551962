"""A .npy file on disk, described rather than loaded: NpyFile.

An NpyFile names a C-ordered 2-D array in a .npy file (path, where its data begin, its
shape and dtype), the columns to keep and the dtype to deliver, and reads rows of it when
asked.  It is what Points.x holds for data larger than memory; backends.open_dataset
turns it into a Dataset (backends.blockfile.BlockFileDataset).

Reads are positional (os.preadv) into fresh buffers rather than through a memory map: the
pages of a map that a pass has touched count in the process's resident memory (up to the
whole file), blocks read into fresh buffers do not, so resident memory stays bounded by
the blocks in flight.  Positional reads on one descriptor need no lock, so threads read
blocks at once.  The descriptor is opened when the NpyFile is made (a cache file replaced
or removed meanwhile by another process stays readable) and is not part of the pickled
state: a copy in a worker process opens its own, so an NpyFile pickles in a few hundred
bytes.  A file written to in place after its descriptor was opened (its size or
modification time changed) is an error at the next read, rather than passes of EM over
different data.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from .errors import (INFINITE_HINT, MISSING_REMEDIES, DataError, changed_error, file_version,
                     open_error)
from .missing import PerColumn, refused

__all__ = ["NpyFile", "checked_rows", "kept", "nonfinite_error", "pass_rows", "plain_npy",
           "read_npy_header"]

#: Bytes of rows read at a time by a pass over a whole file (pass_rows).
PASS_BLOCK_BYTES = 8 << 20



def read_npy_header(source: str | BinaryIO
                    ) -> tuple[tuple[int, ...], bool, np.dtype, int] | None:
    """(shape, fortran_order, dtype, data offset) of a .npy file (a path, or a binary file
    at its start: the first bytes of a stream); None if it is not one numpy can describe
    (read_points then says what is wrong)."""
    try:
        if isinstance(source, str):
            with open(source, "rb") as fh:
                return _npy_header(fh)
        return _npy_header(source)
    except (OSError, ValueError, EOFError, SyntaxError):
        return None


def _npy_header(fh: BinaryIO) -> tuple[tuple[int, ...], bool, np.dtype, int] | None:
    fmt = np.lib.format
    version = fmt.read_magic(fh)
    if version == (1, 0):
        shape, fortran, dtype = fmt.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, fortran, dtype = fmt.read_array_header_2_0(fh)
    else:
        return None
    return tuple(shape), bool(fortran), np.dtype(dtype), fh.tell()


def plain_npy(source: str | BinaryIO) -> tuple[int, int, bool, np.dtype, int] | None:
    """(rows, columns, fortran order, dtype, data offset) of a .npy file (as
    read_npy_header takes it) that holds a plain numeric 1-D (one column) or 2-D array
    with rows and columns; None otherwise (whether the file is as long as its header says
    is the caller's to check)."""
    info = read_npy_header(source)
    if info is None:
        return None
    shape, fortran, file_dtype, offset = info
    if file_dtype.kind not in "biuf" or file_dtype.hasobject or len(shape) not in (1, 2):
        return None
    n_rows, n_cols = shape[0], (shape[1] if len(shape) == 2 else 1)
    if n_rows == 0 or n_cols == 0:
        return None
    return n_rows, n_cols, fortran, file_dtype, offset


def nonfinite_error(
    source: str, names: list[str], x: NDArray[np.floating], raw: NDArray[np.generic],
    first_row: int, *, missing: PerColumn = False
) -> DataError:
    """The error for the first entry of x that is refused (io.missing.refused: not finite,
    NaN included where missing values are not allowed), rows counted from first_row; raw:
    the values as read, to show a value too large for x's dtype as it was."""
    i, j = (int(v) for v in np.argwhere(refused(x, missing))[0])
    row = first_row + i
    original = raw[i, j]
    where = f"in row {row + 1} (index {row})"
    if np.isfinite(original):
        message = f"value {original.item()!r} {where} is out of range for {x.dtype}"
    elif np.isnan(original):
        return DataError(source, f"missing value (NaN) {where}", column=names[j],
                         advice=MISSING_REMEDIES)
    else:
        message = f"non-finite value {float(original)} {where}; {INFINITE_HINT}"
    return DataError(source, message, column=names[j])



def check_standardized(source: str, x: NDArray[np.floating], z: NDArray[np.floating],
                       scale: NDArray[np.float64], *, names: Sequence[str] | None = None,
                       rows: bool = False) -> None:
    """Refuse (DataError) a finite value of x whose standardized z = (x - center) / scale
    is not finite in z's dtype: a model's transform applied to a point far from its data
    (1e37 on columns of spread 0.01, in float32), where the E-step's sums would be NaN.
    names: the columns' (to name its column); rows: name its row (x is every row)."""
    beyond = np.argwhere(np.isfinite(x) & ~np.isfinite(z))
    if not len(beyond):
        return
    i, j = (int(v) for v in beyond[0])
    where = f" in row {i + 1} (index {i})" if rows else ""
    dtype = z.dtype.name
    advice = ("read the data as float64 (--dtype float64)" if dtype == "float32" else
              "the point lies beyond every component: leave it out")
    raise DataError(source, f"value {float(x[i, j]):g}{where}, standardized ((x - center) / "
                            f"scale, scale {float(scale[j]):.3g}), is beyond what {dtype} "
                            f"holds; {advice}", column=None if names is None else names[j])

#: The version of an NpyFile that was closed: no read opens it again.
_CLOSED = (-1,)


@dataclass(frozen=True)
class NpyFile:
    """Rows of the (n_rows, n_file_columns) array of file_dtype at byte offset of path,
    C-ordered, or column by column when fortran; columns are kept (in that order) and
    delivered as dtype.

    shape and dtype are those of what is delivered, so code that only asks for the
    size of the data treats an NpyFile and an array alike.  affine: (center, scale), one
    number per kept column, to deliver (x - center) / scale (computed in float64 from x
    in dtype, as from data read into memory) instead of x; None delivers the values as
    stored.
    """

    path: str
    offset: int
    n_rows: int
    n_file_columns: int
    file_dtype: np.dtype
    columns: tuple[int, ...]
    dtype: np.dtype
    affine: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    fortran: bool = False
    _fd: list[int] = field(default_factory=list, init=False, repr=False, compare=False)
    _version: tuple[int, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "file_dtype", np.dtype(self.file_dtype))
        object.__setattr__(self, "dtype", np.dtype(self.dtype))
        object.__setattr__(self, "columns", tuple(int(c) for c in self.columns))
        self._fd.append(os.open(self.path, os.O_RDONLY))
        object.__setattr__(self, "_version", file_version(os.fstat(self._fd[0])))

    def __getstate__(self) -> dict[str, Any]:
        # the descriptor and the file's version are each process's own (__setstate__);
        # every other field, those a subclass keeps (FileRows.found) included, travels
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("_fd", "_version")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "_fd", [])
        object.__setattr__(self, "_version", ())
        try:  # this process's own descriptor, and the file's version as it opens it
            self._descriptor()
        except DataError:  # not here: where a task reads it (_descriptor)
            pass

    def _descriptor(self) -> int:
        """This process's descriptor of the file.  An unpickled copy that could not open
        it tries again at its first read, where a file this process may not read is a
        DataError of the task that reads (raised as a dask worker unpickled a task's
        arguments, it killed the worker, and then every other one it was sent to)."""
        if not self._fd:
            if self._version == _CLOSED:
                raise ValueError(f"{self.path}: read after close")
            try:
                self._fd.append(os.open(self.path, os.O_RDONLY))
            except OSError as exc:
                raise open_error(self.path, exc) from None
            object.__setattr__(self, "_version", file_version(os.fstat(self._fd[0])))
        return self._fd[0]

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        """Close the descriptor (reads fail afterwards)."""
        fds = getattr(self, "_fd", None)
        if fds is not None:
            object.__setattr__(self, "_version", _CLOSED)
        while fds:
            try:
                os.close(fds.pop())
            except OSError:  # pragma: no cover - already closed
                pass

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_rows, len(self.columns))

    @property
    def row_bytes(self) -> int:
        return self.n_file_columns * self.file_dtype.itemsize

    @property
    def all_columns(self) -> bool:
        return self.columns == tuple(range(self.n_file_columns))

    def read_raw(self, start: int, stop: int) -> NDArray[Any]:
        """Rows [start, stop) as stored (every column, file_dtype), in a fresh buffer (of a
        Fortran-ordered file: one read per column, each a contiguous run)."""
        n = max(0, stop - start)
        if not self.fortran:
            buf = np.empty((n, self.n_file_columns), dtype=self.file_dtype)
            self._pread(buf, self.offset + start * self.row_bytes)
            self._check_unchanged()
            return buf
        cols = np.empty((self.n_file_columns, n), dtype=self.file_dtype)
        size = self.file_dtype.itemsize
        for j in range(self.n_file_columns):
            self._pread(cols[j], self.offset + (j * self.n_rows + start) * size)
        self._check_unchanged()
        return cols.T

    def _check_unchanged(self) -> None:
        """Raise DataError if the file was written to since this process opened it: EM's
        passes over it would see different data."""
        if file_version(os.fstat(self._descriptor())) != self._version:
            raise changed_error(self.path)

    def _pread(self, buf: NDArray[Any], pos: int) -> None:
        """Fill the contiguous buf from the file at byte pos."""
        view = buf.data.cast("B")
        done, total = 0, view.nbytes
        while done < total:
            got = os.preadv(self._descriptor(), [view[done:]], pos + done)
            if got <= 0:
                raise DataError(self.path, f"the file ended early (expected {self.n_rows} "
                                           "rows); was it truncated?")
            done += got

    def convert(self, raw: NDArray[Any]) -> NDArray[np.floating]:
        """Raw rows (as read_raw returns them): the kept columns in dtype, C-ordered and
        writable.  Values too large for dtype become infinite (the caller checks)."""
        if self.affine is None:
            return kept(raw, self.columns, self.dtype)
        sel = raw if self.all_columns else raw[:, list(self.columns)]
        center, scale = (np.asarray(v, dtype=np.float64) for v in self.affine)
        with np.errstate(over="ignore", invalid="ignore"):
            x = sel.astype(self.dtype).astype(np.float64)
            z = np.ascontiguousarray((x - center) / scale, dtype=self.dtype)
        # (a value too large for dtype itself is infinite in x too: the caller's to say)
        check_standardized(self.path, x, z, scale)
        return z

    def read(self, start: int, stop: int) -> NDArray[np.floating]:
        """Rows [start, stop) (clipped to the file): the kept columns in dtype."""
        start, stop = max(0, start), min(stop, self.n_rows)
        return self.convert(self.read_raw(start, max(start, stop)))

    def take_sorted(self, rows: NDArray[np.intp]) -> NDArray[np.floating]:
        """Rows by sorted (possibly repeated) index: each run of consecutive rows is one
        read, so a sorted sample of rows costs one call per gap."""
        rows = np.asarray(rows, dtype=np.intp)
        out = np.empty((len(rows), len(self.columns)), dtype=self.dtype)
        if len(rows) == 0:
            return out
        ends = np.append(np.flatnonzero(np.diff(rows) > 1) + 1, len(rows))
        lo = 0
        for hi in ends.tolist():
            first = int(rows[lo])
            block = self.read(first, int(rows[hi - 1]) + 1)
            out[lo:hi] = block[rows[lo:hi] - first]
            lo = hi
        return out


def kept(raw: NDArray[Any], columns: Sequence[int], dtype: np.dtype) -> NDArray[np.floating]:
    """Raw rows (every column, as stored): the columns kept, in dtype, C-ordered and
    writable.  Values too large for dtype become infinite (the caller checks)."""
    sel = raw if tuple(columns) == tuple(range(raw.shape[1])) else raw[:, list(columns)]
    if sel.dtype == dtype and sel.flags.c_contiguous and sel.flags.writeable:
        return sel
    with np.errstate(over="ignore", invalid="ignore"):
        return np.ascontiguousarray(sel, dtype=dtype)


def pass_rows(source: str, names: list[str], npy: NpyFile, missing: PerColumn = False, *,
              keep: bool = False) -> NDArray[np.floating] | None:
    """One pass over the file, block by block: every kept value must be finite in npy's
    dtype (NaN, a missing value, where missing allows it), else the DataError naming
    the first that is not.  keep: also return the kept values, in one C-ordered array
    allocated once and filled a block at a time (the peak memory is that array and one
    block, never the file as stored besides)."""
    rows = max(1, PASS_BLOCK_BYTES // max(1, npy.row_bytes))
    blocks = (npy.read_raw(start, min(start + rows, npy.n_rows))
              for start in range(0, npy.n_rows, rows))
    return checked_rows(source, names, blocks, npy.convert, npy.columns, npy.shape,
                        npy.dtype, missing, keep=keep)


def checked_rows(source: str, names: list[str], blocks: Iterable[NDArray[Any]],
                 convert: Callable[[NDArray[Any]], NDArray[np.floating]],
                 columns: Sequence[int], shape: tuple[int, int], dtype: np.dtype,
                 missing: PerColumn = False, *, keep: bool = False
                 ) -> NDArray[np.floating] | None:
    """pass_rows over blocks of raw rows (every column, as stored, in order), each made
    into kept values by convert: the DataError of the first refused value, and with keep
    the values (shape, dtype), one block in memory at a time besides them."""
    cols = list(columns)
    out = np.empty(shape, dtype=dtype) if keep else None
    start = 0
    for raw in blocks:
        x = convert(raw)
        if refused(x, missing).any():
            raise nonfinite_error(source, names, x, raw[:, cols], start, missing=missing)
        if out is not None:
            out[start : start + len(x)] = x
        start += len(x)
        del raw, x  # before the next block is read: one block in memory at a time
    return out
