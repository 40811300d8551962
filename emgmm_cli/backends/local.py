"""The local backend: rows cut into fixed blocks, mapped over a thread pool in this process.

Blocks are sized so a block's working set (its rows times the family's work columns) stays
cache-friendly, and mapped over a thread pool: numpy and BLAS release the GIL, so both
cores work even when D is small.  Block bounds depend on N and the block size only, and
results are added in block order, so nothing depends on the thread count.

BlockedDataset holds all of that; a subclass says only how to read rows: ArrayDataset from
an ndarray or a numpy memmap, backends.blockfile.BlockFileDataset from a .npy file on disk.
"""

from __future__ import annotations

import collections
import copy
import functools
import itertools
import operator
import os
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from numpy.typing import NDArray

from ..engine.families import family
from ..interrupts import block_stop_signals, stop_point

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor
    from contextlib import AbstractContextManager

    from threadpoolctl import ThreadpoolController

T = TypeVar("T")
R = TypeVar("R")

BLOCK_MULTIPLE = 4
#: Target size of a block's work buffers.  Measured on 2 cores (full covariance,
#: K = D = 16): 2 MB 0.60 s, 4 MB 0.52 s, 8 MB 0.60 s per iteration of 1M rows.
DEFAULT_BLOCK_BYTES = 4 << 20
#: Fewer rows than this make the GEMMs of large-D problems inefficient (D = 64, K = 8:
#: 1024 rows 0.47 s, 2048 rows 0.43 s per iteration of 200k rows).
MIN_BLOCK_ROWS = 2048
MAX_BLOCK_ROWS = 1 << 16
#: The thread pool maps the blocks only when the rows fill at least this many blocks of
#: block_rows (each about DEFAULT_BLOCK_BYTES of work); below, one thread takes them in
#: turn, since the numpy calls of smaller passes contend for the GIL about as much as they
#: gain from a second core.  benchmarks/pool.py on 2 cores (2026-12-02), one E-step, gain
#: of 2 threads over 1: below this bound 0.99 to 1.12 (D = 5, K = 8, full, 20,000 rows:
#: 1.01; on a loaded machine such passes ran up to 1.2x slower on 2), above it 1.12 to 1.44
#: (D = 16, K = 8, full, 20,000 rows: 1.44; diag, D = 5, K = 8, 100,000 rows: 1.35).
POOL_MIN_BLOCKS = 3


def block_rows(n_components: int, n_features: int, *, covariance_type: str = "full",
               itemsize: int = 8, target_bytes: int = DEFAULT_BLOCK_BYTES) -> int:
    """Rows per block such that the covariance family's work buffers for one block
    (Family.work_columns wide, in the data's itemsize) are about target_bytes."""
    width = family(covariance_type).work_columns(max(n_components, 1), max(n_features, 1))
    rows = target_bytes // (width * itemsize)
    return int(min(MAX_BLOCK_ROWS, max(MIN_BLOCK_ROWS, rows)))


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def worker_count(jobs: int, n_tasks: int) -> int:
    """Processes to use for --jobs (0: one per core), never more than there are tasks."""
    wanted = available_cores() if jobs == 0 else jobs
    return max(1, min(wanted, n_tasks))


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _forget_pools() -> None:
    """In a forked child: the parent's pools, whose threads the child has not, forgotten
    (the child makes its own), and a lock no parent thread can be holding."""
    global _POOLS_LOCK
    _POOLS.clear()
    _POOLS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def _pool(n_threads: int) -> ThreadPoolExecutor:
    """A process-wide pool per thread count, kept so that the per-thread work buffers of
    the kernels survive from one iteration to the next; its threads take no stopping
    signal (interrupts.block_stop_signals).  concurrent.futures is imported here: data of one
    block (most small files) never needs a pool."""
    from concurrent.futures import ThreadPoolExecutor

    with _POOLS_LOCK:
        pool = _POOLS.get(n_threads)
        if pool is None:
            # Ctrl-C, SIGTERM and SIGHUP blocked in the pool's threads, so that the
            # kernel delivers them to the main thread, whose Python handlers stop the run.
            # Delivered to a pool thread, such a signal only flags the handler, which runs
            # once the main thread next runs Python code: never, if it waits in a system
            # call (a read from a pipe that sends nothing more).
            pool = _POOLS[n_threads] = ThreadPoolExecutor(
                n_threads, thread_name_prefix="emgmm", initializer=block_stop_signals)
        return pool


_BLAS: ThreadpoolController | None = None


def _one_blas_thread() -> AbstractContextManager[object]:
    """BLAS limited to one thread (all of numpy's BLAS libraries), restored on exit.

    The pool's threads each call BLAS, and BLAS's own threads inside each of them
    oversubscribe the cores: on 2 cores, 10 passes of a full-covariance fit of
    200,000 x 8 through the Python API took 0.81 s with numpy's default BLAS threads
    against 0.58 s with one (and E-steps ran up to 9x slower on a loaded machine).  The
    command line already runs BLAS on one thread (cli.main), which this leaves as it is.
    threadpoolctl is imported, and numpy's libraries looked up, on the first pool map.
    """
    global _BLAS
    from threadpoolctl import ThreadpoolController

    with _POOLS_LOCK:
        if _BLAS is None:
            _BLAS = ThreadpoolController()
        return _BLAS.limit(limits=1, user_api="blas")


def _ordered_map(pool: ThreadPoolExecutor, run: Callable[[tuple[int, int]], T],
                 bounds: list[tuple[int, int]], window: int) -> Iterator[T]:
    """run over every block on the pool, results yielded in block order, BLAS on one
    thread meanwhile (_one_blas_thread).

    At most ``window`` blocks are in flight or waiting to be consumed: holding every
    block's result until the end would cost O(N) memory on large data.  Closing the
    iterator early cancels what has not started.
    """
    pending: collections.deque[Future[T]] = collections.deque()
    todo = iter(bounds)
    with _one_blas_thread():
        for ab in itertools.islice(todo, window):
            pending.append(pool.submit(run, ab))
        try:
            while pending:
                part = pending.popleft().result()
                nxt = next(todo, None)
                if nxt is not None:
                    pending.append(pool.submit(run, nxt))
                yield part
        finally:
            for future in pending:
                future.cancel()


def _between(results: Iterator[T]) -> Iterator[T]:
    """results, with a stop point (interrupts.stop_point) before each: a pass over data
    larger than memory, which can take minutes, stops between blocks once a stop is asked
    for (closing _ordered_map's iterator cancels the blocks not started)."""
    try:
        for result in results:
            stop_point()
            yield result
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()


class BlockedDataset:
    """The rows of an (N, D) matrix in equal blocks, mapped over a thread pool.

    Subclasses implement _read(start, stop) (a block as an in-memory array) and
    _take(rows) (rows by sorted index).
    """

    def __init__(self, n_samples: int, n_features: int, dtype: np.dtype, *,
                 block_rows: int = 4096, n_threads: int | None = None) -> None:
        self._n = int(n_samples)
        self._d = int(n_features)
        self._dtype = np.dtype(dtype)
        self.block_rows = max(1, int(block_rows))
        self.n_threads = available_cores() if n_threads is None else max(1, int(n_threads))

    # --- what a subclass provides ---------------------------------------------------------

    def _read(self, start: int, stop: int) -> NDArray[np.floating]:
        raise NotImplementedError

    def _take(self, rows: NDArray[np.intp]) -> NDArray[np.floating]:
        """Rows with sorted (possibly repeated) indices."""
        raise NotImplementedError

    # --- the Dataset protocol -------------------------------------------------------------

    @property
    def n_samples(self) -> int:
        return self._n

    @property
    def n_features(self) -> int:
        return self._d

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    def bounds(self) -> list[tuple[int, int]]:
        """Equal blocks of at most block_rows rows.  More than one block is rounded up to a
        multiple of BLOCK_MULTIPLE, so 2 or 4 threads finish together; the bounds depend
        on N and block_rows only, never on the thread count, so neither do the sums."""
        n, b = self._n, self.block_rows
        count = -(-n // b)
        if count > 1:
            count = -(-count // BLOCK_MULTIPLE) * BLOCK_MULTIPLE
        size = -(-n // max(count, 1))
        return [(i, min(i + size, n)) for i in range(0, n, size)]

    def _map(self, run: Callable[[tuple[int, int]], T]) -> Iterator[T]:
        bounds = self.bounds()
        if (self.n_threads == 1 or len(bounds) == 1
                or self._n < POOL_MIN_BLOCKS * self.block_rows):
            return _between(map(run, bounds))
        return _between(_ordered_map(_pool(self.n_threads), run, bounds, 4 * self.n_threads))

    def reduce(self, fn: Callable[..., T], *, indexed: bool = False) -> T:
        def run(ab: tuple[int, int]) -> T:
            block = self._read(*ab)
            return fn(block, ab[0]) if indexed else fn(block)

        # added left to right in block order, as functools.reduce does
        return functools.reduce(operator.add, self._map(run))

    def scan(self, fn: Callable[[NDArray[np.floating], int], R]) -> Iterator[tuple[int, R]]:
        def run(ab: tuple[int, int]) -> tuple[int, R]:
            return ab[0], fn(self._read(*ab), ab[0])

        return self._map(run)

    def take(self, rows: NDArray[np.intp]) -> NDArray[np.floating]:
        rows = np.asarray(rows, dtype=np.intp).reshape(-1)
        if len(rows) and (rows.min() < 0 or rows.max() >= self._n):
            raise IndexError(f"row index out of range for {self._n} rows")
        order = np.argsort(rows, kind="stable")
        out = np.empty((len(rows), self._d), dtype=self._dtype)
        if len(rows):
            out[order] = self._take(rows[order])
        return out

    def for_model(self, n_components: int, covariance_type: str) -> "BlockedDataset":
        resized = copy.copy(self)
        resized.block_rows = block_rows(n_components, self._d,
                                        covariance_type=covariance_type,
                                        itemsize=self._dtype.itemsize)
        return resized


class ArrayDataset(BlockedDataset):
    """A (N, D) ndarray or numpy memmap."""

    def __init__(self, x: NDArray[np.floating], block_rows: int = 4096,
                 n_threads: int | None = None) -> None:
        if x.ndim != 2:
            raise ValueError(f"expected a 2-D array, got shape {x.shape}")
        super().__init__(x.shape[0], x.shape[1], x.dtype, block_rows=block_rows,
                         n_threads=n_threads)
        self._x = x

    @property
    def array(self) -> NDArray[np.floating]:
        return self._x

    def _read(self, start: int, stop: int) -> NDArray[np.floating]:
        return np.asarray(self._x[start:stop])

    def _take(self, rows: NDArray[np.intp]) -> NDArray[np.floating]:
        return np.asarray(self._x[rows])
