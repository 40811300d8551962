"""Data larger than memory: .npy read block by block, and text converted once to a binary cache.

open_points() decides how an input is read, by its size on disk against a memory limit
(default: a quarter of the memory this process may use, see default_memory_limit):

- at most the limit, or standard input, or Parquet or JSON (io.readers.file_format):
  read into memory by read_points;
- a larger .npy: never loaded.  Its header is read, every block of rows is checked once
  for non-finite values, and Points.x is an NpyFile (io.npyfile): a description of the
  array on disk whose rows are read when asked for (backends.open_dataset makes it a
  Dataset that reads block by block);
- a larger text file (CSV, TSV, ..., compressed or not): converted once to a .npy in the
  cache directory, chunk by chunk (never whole), written atomically (writers.atomic_write),
  then read as above.  The cache is keyed by the file's absolute path, size, modification
  and status-change times and inode, and by the columns, dtype, delimiter and header options, so it is reused
  while the file is unchanged; a newer version of the same file replaces the older cache.

The text is read by io.text, the reader read_points uses (the same prologue, the same
chunk parser, the same exact locator), so the values, and every error message with its
line and column, are those of an in-memory read.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .errors import DataError, open_error
from .missing import Missing
from .npyfile import NpyFile, pass_rows, read_npy_header
from .readers import Points, file_format, npy_columns, read_points
from .text import (
    CHUNK_BYTES,
    CommentLines,
    iter_chunks,
    make_plan,
    no_rows_error,
    open_input,
    prologue,
    text_delimiter,
    with_note,
)
from .formats import npy_header
from .writers import atomic_write

__all__ = [
    "cache_file",
    "default_cache_dir",
    "default_memory_limit",
    "open_npy_blocks",
    "open_points",
    "text_to_cache",
]

#: Written into every cache key: bump it when the cache layout or the parser changes.
CACHE_FORMAT = 2
#: The smallest chunk of text parsed at a time while converting to the cache (by loadtxt;
#: by pandas, see _chunk_bytes).
MIN_CHUNK_BYTES, PANDAS_MIN_CHUNK_BYTES = 64, 1 << 20
#: Fallback when the machine's memory cannot be read.
FALLBACK_MEMORY_LIMIT = 1 << 30
#: A temporary file in the cache directory untouched for this long is an orphan, left by
#: a run that was killed outright (SIGKILL, a power cut) while converting: a conversion
#: writes to its temporary file chunk after chunk, so a live one is never this old.
#: (SIGTERM, SIGHUP and Ctrl-C remove their temporary files themselves.)
STALE_TEMP_SECONDS = 3600

Log = Callable[[str], None]


# --------------------------------------------------------------------------- limits and places


def _cgroup_limit(proc: str = "/proc/self/cgroup", root: str = "/sys/fs/cgroup"
                  ) -> int | None:
    """The memory limit of this process's cgroup (v2, then v1), if there is one: the
    least set on its own group or any group above it (proc names the groups, root is
    where they are mounted; a group private to a container is its root)."""
    limits = []
    for path in _cgroup_limit_files(proc, root):
        try:
            with open(path, encoding="ascii") as fh:
                text = fh.read().strip()
        except (OSError, ValueError):
            continue
        if text.isdigit() and int(text) < (1 << 60):
            limits.append(int(text))
    return min(limits, default=None)


def _cgroup_limit_files(proc: str, root: str) -> list[str]:
    """The files of the memory limits over this process: of its v2 group and those above
    it, then of its v1 memory group and those above it (proc's lines "0::/path" and
    "N:...memory...:/path"; the root alone where proc cannot be read)."""
    v2 = v1 = "/"
    try:
        with open(proc, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                number, controllers, group = (line.rstrip("\n").split(":", 2) + ["", ""])[:3]
                if number == "0" and controllers == "":
                    v2 = group
                elif "memory" in controllers.split(","):
                    v1 = group
    except OSError:
        pass
    return ([os.path.join(root, group, "memory.max") for group in _groups_up(v2)]
            + [os.path.join(root, "memory", group, "memory.limit_in_bytes")
               for group in _groups_up(v1)])


def _groups_up(group: str) -> list[str]:
    """A cgroup's path relative to the mount, then its parents' up to the mount ("");
    a path outside this namespace's view ("/.." in a nested one) is the mount's."""
    parts = [] if ".." in group.split("/") else [p for p in group.split("/") if p]
    return ["/".join(parts[:n]) for n in range(len(parts), -1, -1)]


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


# --------------------------------------------------------------------------- .npy


def open_npy_blocks(path: str, *, columns: Sequence[str] | None = None,
                    dtype: DTypeLike = np.float64, check: bool = True,
                    source: str | None = None, missing: Missing = False
                    ) -> Points[NpyFile] | None:
    """A .npy file as Points whose x is an NpyFile, checked for non-finite values (with
    missing, for infinities: NaN are missing values where it allows them: io.missing).

    Returns None where the file is not a plain numeric 1-D or 2-D array with rows, in C or
    Fortran order (read_points then reads it, or says what is wrong with it).
    """
    name = source or path
    found = npy_columns(path, name, columns, np.dtype(dtype), missing)
    if found is None:
        return None
    npy, names, allowed = found
    if check:
        pass_rows(name, names, npy, allowed)
    return Points(npy, names, name)


# --------------------------------------------------------------------------- text to cache


def cache_key(path: str, st: os.stat_result, *, columns: Sequence[str] | None,
              delimiter: str | None, header: bool | None, dtype: np.dtype,
              missing: Missing = False) -> tuple[str, str]:
    """(identity of the file version, identity of the reading options), as hex digests.
    A cache that may hold missing values (NaN), or may in other columns, is another than
    one that may not, so reading without missing finds each missing value where the text
    has it."""
    import json  # as everywhere in this module: only data over the memory limit needs it

    real = os.path.realpath(path)
    # the status-change time too: a file rewritten in place with its old modification time
    # restored (touch -r, cp -p or rsync -t --inplace over it) was read from the old cache
    version = json.dumps([CACHE_FORMAT, real, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                          st.st_ino])
    options: list[Any] = [list(columns) if columns is not None else None, delimiter, header,
                          np.dtype(dtype).str]
    if missing is not False:
        options.append("missing" if missing is True else ["missing", *missing])
    reading = json.dumps(options)
    return (hashlib.sha256(version.encode()).hexdigest()[:16],
            hashlib.sha256(reading.encode()).hexdigest()[:12])


def _path_tag(path: str) -> str:
    real = os.path.realpath(path)
    stem = "".join(c if c.isalnum() or c in "-_." else "_"
                   for c in os.path.splitext(os.path.basename(real))[0])[:40] or "data"
    return f"{stem}-{hashlib.sha256(real.encode()).hexdigest()[:12]}"


def cache_file(cache_dir: str, path: str, st: os.stat_result, *,
               columns: Sequence[str] | None, delimiter: str | None, header: bool | None,
               dtype: DTypeLike, missing: Missing = False) -> tuple[str, str, str]:
    """(cache file, tag of the input, version key) for a text file read with these options.

    Every cache file of one input starts with "{tag}-"; those of its current version with
    "{tag}-{version}-" (the others are stale).
    """
    version, reading = cache_key(path, st, columns=columns, delimiter=delimiter,
                                 header=header, dtype=np.dtype(dtype), missing=missing)
    tag = _path_tag(path)
    return os.path.join(cache_dir, f"{tag}-{version}-{reading}.npy"), tag, version


def _chunk_bytes(memory_limit: int, large: bool) -> int:
    """Text parsed at a time: a chunk with its fields and values stays well under the
    memory limit.  pandas' chunks are at least PANDAS_MIN_CHUNK_BYTES whatever the limit:
    each call costs about a millisecond, so tiny chunks of a large file would take hours."""
    floor = PANDAS_MIN_CHUNK_BYTES if large else MIN_CHUNK_BYTES
    return int(min(CHUNK_BYTES, max(floor, memory_limit // 32)))


def text_to_cache(path: str, target: str, *, delimiter: str | None, header: bool | None,
                  columns: Sequence[str] | None, dt: np.dtype, memory_limit: int,
                  missing: Missing = False) -> tuple[list[str], tuple[str, ...]]:
    """Convert a text file to a .npy at target, chunk by chunk; returns the column names
    and the reader's notes (io.text.Layout.notes).  missing: empty fields, NA and NaN
    are missing values, stored as NaN.

    The .npy is written through writers.atomic_write (its header rewritten with the row
    count at the end), so target is complete or absent; then its metadata (target.json).
    """
    delim, sniff = text_delimiter(path, delimiter)
    with open_input(path) as inp:
        layout = prologue(inp, delim, sniff, header)
        plan = make_plan(inp, layout, columns, dt, missing)
        d = len(plan.usecols)
        with atomic_write(target, binary=True) as fh:
            head = npy_header((0, d), dt)
            fh.write(head)
            n_rows = 0
            size = _chunk_bytes(memory_limit, plan.large)
            comments = CommentLines()
            for part, _ in iter_chunks(inp, plan, chunk_bytes=size, comments=comments):
                if part.shape[0]:
                    fh.write(part.data.cast("B"))
                    n_rows += part.shape[0]
            inp.check_unchanged()
            if n_rows == 0:
                raise no_rows_error(plan)
            final = npy_header((n_rows, d), dt)
            if len(final) != len(head):  # pragma: no cover - numpy pads for in-place growth
                raise RuntimeError("the .npy header changed length; cannot finish the cache")
            fh.seek(0)
            fh.write(final)
    notes = with_note(layout.notes, comments.note())
    meta = {"format": CACHE_FORMAT, "source": os.path.realpath(path),
            "column_names": plan.names, "dtype": dt.name, "notes": list(notes)}
    import json

    with atomic_write(target + ".json") as out:
        json.dump(meta, out)
    return plan.names, notes


def _cached_names(target: str) -> tuple[list[str], tuple[str, ...]] | None:
    """The column names and notes stored beside a complete cache file, or None to
    rebuild it."""
    import json

    try:
        with open(target + ".json", encoding="utf-8") as fh:
            meta = json.load(fh)
        names, notes = meta["column_names"], meta["notes"]
        info = read_npy_header(target)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if info is None or meta.get("format") != CACHE_FORMAT or not isinstance(names, list) \
            or not isinstance(notes, list):
        return None
    shape, _, dtype, offset = info
    if len(shape) != 2 or shape[1] != len(names) or \
            os.path.getsize(target) != offset + shape[0] * shape[1] * dtype.itemsize:
        return None
    return [str(n) for n in names], tuple(str(n) for n in notes)


def remove_orphans(cache_dir: str, *, older_than: float = STALE_TEMP_SECONDS) -> list[str]:
    """Remove the temporary files (OutputSet's .NAME.tmp-XXXXXXXX) in cache_dir that have
    not been written to for older_than seconds; returns their names."""
    try:
        entries = os.listdir(cache_dir)
    except OSError:
        return []
    removed, now = [], time.time()
    for entry in entries:
        if not (entry.startswith(".") and ".tmp-" in entry):
            continue
        path = os.path.join(cache_dir, entry)
        try:
            if now - os.stat(path).st_mtime > older_than:
                os.unlink(path)
                removed.append(entry)
        except OSError:
            pass
    return removed


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


def _convert(path: str, target: str, *, delimiter: str | None, header: bool | None,
             columns: Sequence[str] | None, dt: np.dtype, memory_limit: int,
             missing: Missing = False) -> tuple[list[str], tuple[str, ...]]:
    """text_to_cache, with a failed write of the cache named as such."""
    try:
        return text_to_cache(path, target, delimiter=delimiter, header=header,
                             columns=columns, dt=dt, memory_limit=memory_limit,
                             missing=missing)
    except DataError as exc:
        cause = exc.__cause__
        if not isinstance(cause, OSError) or not exc.source.startswith(target):
            raise
        raise DataError(target, f"cannot write the binary cache ({cause.strerror or cause}); "
                                "give a folder with room with --cache-dir") from cause


def open_text_cached(path: str, *, columns: Sequence[str] | None, delimiter: str | None,
                     header: bool | None, dtype: DTypeLike, memory_limit: int,
                     cache_dir: str, log: Log | None = None,
                     missing: Missing = False) -> Points[NpyFile]:
    """A text file through its binary cache (made now if missing or stale) as Points
    (missing: missing values are kept, as NaN)."""
    dt = np.dtype(dtype)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise open_error(path, exc) from exc
    target, tag, version = cache_file(cache_dir, path, st, columns=columns,
                                      delimiter=delimiter, header=header, dtype=dt,
                                      missing=missing)
    remove_orphans(cache_dir)
    found = _cached_names(target) if os.path.exists(target) else None
    if found is not None:
        if log is not None:
            log(f"{path}: reusing the binary cache {target}")
    else:
        _ensure_cache_dir(cache_dir)
        if log is not None:
            log(f"{path}: {format_size(st.st_size)} is over the memory limit "
                f"({format_size(memory_limit)}); converting it once to the binary cache "
                f"{target}")
        found = _convert(path, target, delimiter=delimiter, header=header, columns=columns,
                         dt=dt, memory_limit=memory_limit, missing=missing)
        _remove_stale(cache_dir, tag, version)
    points = open_npy_blocks(target, dtype=dt, check=False, source=path)
    if points is None:  # pragma: no cover - we wrote it
        raise DataError(target, "the binary cache is unreadable; delete it and run again")
    return Points(points.x, found[0], path, found[1])


# --------------------------------------------------------------------------- entry point


def open_points(path: str, *, columns: Sequence[str] | None = None,
                delimiter: str | None = None, header: bool | None = None,
                dtype: DTypeLike = np.float64, memory_limit: int | None = None,
                cache_dir: str | None = None, log: Log | None = None,
                missing: Missing = False) -> Points[NDArray[np.floating] | NpyFile]:
    """Read INPUT as `fit` does: in memory when small, block by block when over the limit.

    memory_limit: bytes (default: default_memory_limit()); a file larger than this on disk
    is not loaded (a compressed file counts by its compressed size).  cache_dir: where
    text files over the limit are converted (default: default_cache_dir()).  log: called
    with one-line messages about what was done.  missing: missing values are read as NaN
    (read_points; over the limit, kept as NaN in the blocks and the binary cache).
    """
    dt = np.dtype(dtype)
    if isinstance(columns, str):
        columns = columns.split(",")
    if path == "-":
        return read_points(path, columns=columns, delimiter=delimiter, header=header, dtype=dt,
                           missing=missing)
    limit = default_memory_limit() if memory_limit is None else int(memory_limit)
    try:
        st = os.stat(path)
    except OSError:
        st = None
    whole = st is None or not stat.S_ISREG(st.st_mode) or st.st_size <= limit
    # the format is asked of a file over the limit only (it may open the file to see):
    # .parquet and JSON have no blocks, and are read whole whatever their size
    kind = None if whole else file_format(path)
    if whole or kind in ("parquet", "json", None):
        return read_points(path, columns=columns, delimiter=delimiter, header=header, dtype=dt,
                           missing=missing)
    assert st is not None
    if kind == "npy":
        points = open_npy_blocks(path, columns=columns, dtype=dt, missing=missing)
        if points is None:  # read_points says what stops it being read by blocks
            return read_points(path, columns=columns, dtype=dt, mmap=True,
                               missing=missing)
        if log is not None:
            log(f"{path}: {format_size(st.st_size)} is over the memory limit "
                f"({format_size(limit)}); reading it block by block")
        return points
    return open_text_cached(path, columns=columns, delimiter=delimiter, header=header,
                            dtype=dt, memory_limit=limit,
                            cache_dir=cache_dir if cache_dir is not None else default_cache_dir(),
                            log=log, missing=missing)
