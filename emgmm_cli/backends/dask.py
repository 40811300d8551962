"""The dask backend: the rows in partitions held by the workers of a dask.distributed cluster.

A source is read by the workers, never by this process: a .npy file is cut into row
ranges that each worker memory-maps and copies (only the header is read here), and a
directory or glob of parts (.npy, .csv, .tsv, .parquet, compressed text) gives one
partition per part, read by the project's own reader on a worker.  Partitions are
persisted on the workers once (dask futures) and every pass reuses them.

A reduction sends the function (its parameters: K x D x D numbers) out once as a task,
reduces every partition on the worker that holds it with the local backend's block
reduction (backends.local: the same blocks, the same engine functions), and adds the
partition sums by a tree of REDUCE_FANIN-way additions; only the sum comes back.  The
grouping depends on the partitions alone, never on the number of workers, so a result
does not depend on them; against the local backend only the summation order differs.

Rows with sample weights, known labels or rows of the input left out (engine.dataset's
per-row data) keep each partition's share beside it on its worker (Beside, with_rows): a
weighted reduction (engine.dataset.reduce_weighted) ships its function without them and
each partition's reduction gets its own.  A column of the data (weights, known labels) is
split off, and incomplete rows dropped, by the workers (split_partitions).  Rows with
missing values (EM with them: engine.missing) are imputed partition by partition, and each
partition's MissingRows is kept on its worker for the E-steps and the final pass
(with_missing).

Partitions keep their lineage (the task that read them): when a worker dies, the
scheduler reads its partitions again on another worker and the pass completes with the
same result.  dask and distributed are imported only here, only when used.
"""

from __future__ import annotations

import copy
import glob
import logging
import operator
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from ..engine.dataset import check_known, check_weights
from ..engine.missing import (
    MissingRows,
    fill_missing,
    missing_predictions,
    missing_stats,
    observed_means,
    observed_sums,
    part_missing,
)
from ..interrupts import stop_signals_blocked
from ..io.errors import DataError
from ..io.formats import CODEC_BY_EXT
from ..io.jsondata import JSON_EXTENSIONS
from ..io.text import DELIMITER_BY_EXT
from . import BackendError, BackendOptions
from .local import ArrayDataset, available_cores, block_rows
from .tasks import Pool, run_pool

T = TypeVar("T")
R = TypeVar("R")
Array = NDArray[np.floating]

#: A partition of a .npy file (or of an array handed over in memory) holds about this
#: many bytes of rows: large enough that a task's overhead (about a millisecond) is
#: small against its reduction, small enough to spread over the workers and to re-read
#: quickly when a worker is lost.
PARTITION_BYTES = 64 << 20
#: Partition sums are added this many at a time, level by level (depth: log_8 of the
#: number of partitions).
REDUCE_FANIN = 8
#: What a directory of parts is searched for: text and JSON, plain or compressed, as
#: every reader takes them (io.readers), and .npy and Parquet files.
_TEXT_PARTS = (*DELIMITER_BY_EXT, ".txt", *JSON_EXTENSIONS)
PART_SUFFIXES = tuple(ext + codec for ext in _TEXT_PARTS
                      for codec in ("", *CODEC_BY_EXT)) + (".npy", ".parquet")
PART_FILES = (f"{', '.join(_TEXT_PARTS)} files, also compressed ({', '.join(CODEC_BY_EXT)}), "
              ".npy and .parquet files")
#: What installs the backend.
EXTRA = "pip install 'emgmm[dask]'"


# --------------------------------------------------------------------------- on the workers


@dataclass(frozen=True)
class Beside:
    """What a partition's rows carry beside them, on its worker: their sample weights and
    known labels (or None), and dropped, the rows of its part of the input left out for
    a missing value (a mask over the rows read, None: none)."""

    weights: NDArray[np.float64] | None = None
    known: NDArray[np.int64] | None = None
    dropped: NDArray[np.bool_] | None = None

    @staticmethod
    def joined(parts: Sequence["Beside"]) -> "Beside":
        def join(arrays: list[Any]) -> Any:
            return None if arrays[0] is None else np.concatenate(arrays)

        return Beside(join([p.weights for p in parts]), join([p.known for p in parts]),
                      join([p.dropped for p in parts]))


def _load_rows(path: str, start: int, stop: int) -> Array:
    """Rows start:stop of a .npy file, memory-mapped and copied into this worker."""
    x = np.load(path, mmap_mode="r")
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    return np.array(x[start:stop])


def _value(obj: T) -> T:
    return obj


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]


def _second(pair: tuple[Any, Any]) -> Any:
    return pair[1]


def _in_dir(folder: str, fn: Callable[..., R], *args: Any) -> R:
    """fn(*args) in folder (the client's working directory, on storage the workers share)."""
    if os.path.isdir(folder) and os.getcwd() != folder:
        os.chdir(folder)
    return fn(*args)


def _shape(x: Array) -> tuple[int, int]:
    return int(x.shape[0]), int(x.shape[1])


def _add_all(*parts: T | None) -> T | None:
    """The sum of the parts, in order, those of partitions without rows (None) left out."""
    total = None
    for part in parts:
        if part is not None:
            total = part if total is None else operator.add(total, part)
    return total


def _reduce_part(x: Array, fn: Callable[..., T], start: int, rows: int, indexed: bool,
                 beside: Beside | None = None) -> T | None:
    """fn over the blocks of one partition, added in block order (the local backend);
    None for a partition without rows.  beside: the partition's weights and known labels,
    given to fn (engine.dataset.reduce_weighted's function, shipped bare)."""
    if not len(x):
        return None
    if beside is not None:
        fn = fn.over_part(beside.weights, beside.known, start)  # type: ignore[attr-defined]
    data = ArrayDataset(x, block_rows=rows, n_threads=1)
    if not indexed:
        return data.reduce(fn)
    return data.reduce(lambda block, first: fn(block, start + first), indexed=True)


def _scan_part(x: Array, fn: Callable[[Array, int], R], start: int,
               rows: int) -> list[tuple[int, R]]:
    if not len(x):
        return []
    data = ArrayDataset(x, block_rows=rows, n_threads=1)
    return [(start + first, value) for first, value in
            data.scan(lambda block, first: fn(block, start + first))]


def _missing_part_stats(part: MissingRows, beside: Beside | None, *, params: Any,
                        hard: bool, entropy: bool) -> Any:
    return missing_stats(part, params, hard, None if beside is None else beside.weights,
                         None if beside is None else beside.known, entropy)


def _missing_part_predictions(part: MissingRows, params: Any, start: int
                              ) -> list[tuple[int, Any]]:
    return [(start, missing_predictions(part, params))]


def _call(fn: Callable[..., R], *args: Any) -> R:
    """fn(*args) on a worker, fn a future sent once."""
    return fn(*args)


def _take_part(x: Array, rows: NDArray[np.intp]) -> Array:
    return np.asarray(x[rows])


def _each_part(x: Array, fn: Callable[..., R], start: int, index: int,
               beside: Beside | None = None) -> R:
    if beside is None:
        return fn(x, start, index)
    return fn(x, start, index, known=beside.known, dropped=beside.dropped)


def _split_part(x: Array, fn: Callable[[Array], tuple[Array, Any]]
                ) -> tuple[Array, tuple[Any, int]]:
    rows, small = fn(x)
    return rows, (small, int(rows.shape[0]))


def _map_part(x: Array, fn: Callable[[Array], Array]) -> Array:
    return fn(x)


def _with_whole(fn: Callable[..., R], item: Any, parts: Sequence[Any]) -> R:
    """fn(every row, item) on one worker: the partitions are brought to it by dask; with
    their weights and known labels beside them (Beside, after the rows),
    fn(every row, item, weights=..., known=...)."""
    rows = [p for p in parts if not isinstance(p, Beside)]
    x = rows[0] if len(rows) == 1 else np.concatenate(rows)
    besides = [p for p in parts if isinstance(p, Beside)]
    if not besides:
        return fn(x, item)
    whole = Beside.joined(besides)
    return fn(x, item, weights=whole.weights, known=whole.known)


# --------------------------------------------------------------------------- the Dataset


class DaskDataset:
    """An (N, D) matrix in partitions persisted on a cluster's workers (dask futures), with
    the Dataset protocol of engine.dataset.  A partition is reduced in blocks of
    block_rows rows, as the local backend reduces an array."""

    name = "dask"

    def __init__(self, cluster: "DaskCluster", parts: Sequence[Any], lengths: Sequence[int],
                 n_features: int, dtype: Any, *, block_rows: int = 4096) -> None:
        self.cluster = cluster
        self.parts = list(parts)
        self.lengths = [int(n) for n in lengths]
        self.starts = np.concatenate([[0], np.cumsum(self.lengths, dtype=np.int64)])
        self._d = int(n_features)
        self._dtype = np.dtype(dtype)
        self.block_rows = int(block_rows)
        #: the rows' sample weights, known labels and rows of the input left out, held
        #: here for the engine (engine.dataset.row_weights, row_known, row_dropped), or
        #: None; with_rows puts each partition's share beside it on its worker
        self.weights: NDArray[np.float64] | None = None
        self.known: NDArray[np.int64] | None = None
        self.dropped: NDArray[np.bool_] | None = None
        self.beside: list[Any] | None = None  # futures of Beside, one a partition
        self.read_lengths = list(self.lengths)  # rows read behind each partition
        #: with missing values (with_missing): their number, the partitions as read (the
        #: parts then hold them imputed), and futures of each partition's MissingRows
        self.n_incomplete = 0
        self.raw: list[Any] | None = None
        self.missing: list[Any] | None = None
        self._missing: DaskDataset | bool | None = None  # with_missing's (False: self)

    @property
    def n_samples(self) -> int:
        return int(self.starts[-1])

    @property
    def n_features(self) -> int:
        return self._d

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_samples, self._d

    @property
    def nbytes(self) -> int:
        return self.n_samples * self._d * self._dtype.itemsize

    def reduce(self, fn: Callable[..., T], *, indexed: bool = False) -> T:
        client = self.cluster.client
        besides: list[Any] = [None] * len(self.parts)
        if self.beside is not None and getattr(fn, "weights", None) is self.weights \
                and getattr(fn, "known", None) is self.known and hasattr(fn, "bare"):
            # reduce_weighted's function over these rows: each partition's weights and
            # known labels are on its worker already, the function goes out without them
            fn, besides = fn.bare(), self.beside
        shipped = client.submit(_value, fn, pure=False)  # out once, fetched by each worker
        return self._added([client.submit(_reduce_part, part, shipped, int(start),
                                          self.block_rows, indexed, beside, pure=False)
                            for part, start, beside in zip(self.parts, self.starts[:-1],
                                                           besides)])

    def _added(self, level: list[Any]) -> Any:
        """The sum of the partitions' futures, by a tree of REDUCE_FANIN-way additions."""
        client = self.cluster.client
        while len(level) > 1:
            level = [client.submit(_add_all, *level[i:i + REDUCE_FANIN], pure=False)
                     for i in range(0, len(level), REDUCE_FANIN)]
        return self.cluster.result(level[0])

    # --- rows with missing values (engine.missing.Incomplete) ---------------------------

    def with_missing(self) -> "DaskDataset":
        """These rows, and when some have a missing value (NaN) the rows with each
        replaced by its column's mean (engine.missing.impute_means, the column means
        added over the partitions), which reduce, scan and take serve, with the rows
        as read (raw) and each partition's MissingRows beside them on its worker
        (EM reads missing_stats, the final pass missing_predictions).  Computed once."""
        if self._missing is None:
            imputed = self._imputed()
            self._missing = False if imputed is self else imputed
        return self._missing if isinstance(self._missing, DaskDataset) else self

    def _imputed(self) -> "DaskDataset":
        sums = self.reduce(observed_sums)
        n_incomplete = int(sums[-1])
        if not n_incomplete:
            return self
        imputed = self.map_partitions(partial(fill_missing, means=observed_means(sums)))
        imputed.raw, imputed.n_incomplete, imputed._missing = self.parts, n_incomplete, False
        imputed.missing = [self.cluster.client.submit(part_missing, part, pure=False)
                           for part in self.parts]
        return imputed

    def as_read(self) -> "DaskDataset | None":
        """The rows as read, their missing values NaN, where with_missing imputed some
        (engine.missing.held_sums reads them); None otherwise."""
        if self.raw is None:
            return None
        read = copy.copy(self)
        read.parts, read.raw, read.missing, read._missing = self.raw, None, None, False
        read.n_incomplete = 0
        return read

    def missing_stats(self, params: Any, hard: bool, w: NDArray[np.float64] | None,
                      known: NDArray[np.int64] | None, entropy: bool = True) -> Any:
        """One E-step (engine.missing.missing_stats) over each partition's MissingRows on
        its worker, with its weights and known labels, added as reduce adds."""
        assert self.missing is not None
        client = self.cluster.client
        shipped = client.submit(_value, partial(_missing_part_stats, params=params, hard=hard,
                                                entropy=entropy), pure=False)
        return self._added([client.submit(_call, shipped, part, beside, pure=False)
                            for part, beside in zip(self.missing, self._besides(w, known))])

    def _besides(self, w: NDArray[np.float64] | None, known: NDArray[np.int64] | None
                 ) -> list[Any]:
        """Each partition's weights and known labels: the futures beside it when w and
        known are its own (with_rows), else their slices."""
        if self.beside is not None and w is self.weights and known is self.known:
            return self.beside
        return [Beside(None if w is None else w[a:b], None if known is None else known[a:b])
                for a, b in zip(self.starts[:-1], self.starts[1:])]

    def missing_predictions(self, params: Any) -> Iterator[tuple[int, Any]]:
        """(first row, predictions) of each partition's rows, in row order, those with
        missing coordinates through their observed ones."""
        assert self.missing is not None
        shipped = self.cluster.client.submit(_value, params, pure=False)
        missing = self.missing
        return self._stream(lambda i: (_missing_part_predictions, missing[i], shipped,
                                       int(self.starts[i])))

    def scan(self, fn: Callable[[Array, int], R]) -> Iterator[tuple[int, R]]:
        shipped = self.cluster.client.submit(_value, fn, pure=False)
        return self._stream(lambda i: (_scan_part, self.parts[i], shipped,
                                       int(self.starts[i]), self.block_rows))

    def _stream(self, task: Callable[[int], tuple[Any, ...]]) -> Iterator[tuple[int, R]]:
        """The (first row, value) lists of task(i) (a function and its arguments) for
        every partition i, yielded in row order, a few partitions per worker at a time."""
        client = self.cluster.client
        todo = iter(range(len(self.parts)))
        pending: deque[Any] = deque()

        def submit() -> None:
            i = next(todo, None)
            if i is not None:
                pending.append(client.submit(*task(i), pure=False))

        for _ in range(2 * self.cluster.n_workers()):
            submit()
        try:
            while pending:
                results = self.cluster.result(pending.popleft())
                submit()
                yield from results
        finally:  # left open by its reader, it may end after the client closed
            if pending and not self.cluster.closed:
                client.cancel(list(pending))

    def take(self, rows: NDArray[np.intp]) -> Array:
        rows = np.asarray(rows, dtype=np.intp).reshape(-1)
        if len(rows) and (rows.min() < 0 or rows.max() >= self.n_samples):
            raise IndexError(f"row index out of range for {self.n_samples} rows")
        order = np.argsort(rows, kind="stable")
        wanted = rows[order]
        which = np.searchsorted(self.starts, wanted, side="right") - 1
        client = self.cluster.client
        futures = [client.submit(_take_part, self.parts[p],
                                 wanted[which == p] - self.starts[p], pure=False)
                   for p in np.unique(which)]
        out = np.empty((len(rows), self._d), dtype=self._dtype)
        if futures:
            out[order] = np.concatenate(self.cluster.result(futures))
        return out

    def for_model(self, n_components: int, covariance_type: str) -> "DaskDataset":
        resized = copy.copy(self)
        resized.block_rows = block_rows(n_components, self._d, covariance_type=covariance_type,
                                        itemsize=self._dtype.itemsize)
        return resized

    def with_rows(self, weights: NDArray[np.float64] | None, known: NDArray[np.int64] | None,
                  dropped: NDArray[np.bool_] | None) -> "DaskDataset":
        """These rows with their sample weights, known labels (-1: unknown) and the rows of
        the input left out (engine.dataset.WeightedRows's per-row data): held here, and
        each partition's share sent to its worker (once: a copy for another model keeps
        them), so that a weighted reduction ships only its function."""
        out = copy.copy(self)
        out.weights = None if weights is None else check_weights(weights, self.n_samples,
                                                                     self._dtype)
        out.known = None if known is None else check_known(known, self.n_samples)
        out.dropped = dropped
        if dropped is not None and len(dropped) - int(dropped.sum()) != self.n_samples:
            raise ValueError("the rows left out must leave the dataset's rows")
        client = self.cluster.client
        out.beside = [client.submit(_value, share, pure=False, workers=where,
                                    allow_other_workers=where is not None)
                      for share, where in zip(out._shares(), self._holders())]
        return out

    def _shares(self) -> list[Beside]:
        """Each partition's Beside, its rows' share of the per-row data."""
        bounds = list(zip(self.starts[:-1], self.starts[1:]))
        reads = self._read_bounds()
        return [Beside(None if self.weights is None else self.weights[a:b],
                       None if self.known is None else self.known[a:b],
                       None if self.dropped is None else self.dropped[lo:hi])
                for (a, b), (lo, hi) in zip(bounds, reads)]

    def _read_bounds(self) -> list[tuple[int, int]]:
        """The rows of the input behind each partition: those it was read from when the
        rows were dropped on the workers (split_partitions), else the rows left out
        before a partition's first row are its own, as with_dropped (app.fitting) widens
        blocks."""
        n = self.n_samples if self.dropped is None else len(self.dropped)
        if sum(self.read_lengths) == n:
            ends = np.cumsum([0, *self.read_lengths])
            return [(int(a), int(b)) for a, b in zip(ends[:-1], ends[1:])]
        assert self.dropped is not None
        kept = np.flatnonzero(~self.dropped)
        firsts = [0] + [int(kept[a - 1]) + 1 if a else 0 for a in self.starts[1:-1]]
        return list(zip(firsts, firsts[1:] + [n]))

    def _holders(self) -> list[list[str] | None]:
        """The worker that holds each partition (None where it is not yet known)."""
        who = self.cluster.client.who_has(self.parts)
        return [list(who.get(part.key, ())) or None for part in self.parts]

    def split_partitions(self, fn: Callable[[Array], tuple[Array, R]], n_features: int
                         ) -> tuple["DaskDataset", list[R]]:
        """fn(rows) -> (other rows, something small) on the worker of each partition: the
        dataset of the other rows (n_features columns, persisted anew) and the small
        things, here in partition order."""
        client = self.cluster.client
        shipped = client.submit(_value, fn, pure=False)
        pairs = [client.submit(_split_part, part, shipped, pure=False) for part in self.parts]
        parts = [client.submit(_first, pair, pure=False) for pair in pairs]
        smalls = self.cluster.result([client.submit(_second, pair, pure=False)
                                      for pair in pairs])
        del pairs
        split = DaskDataset(self.cluster, parts, [n for _, n in smalls], n_features,
                            self._dtype, block_rows=self.block_rows)
        split.read_lengths = list(self.read_lengths)
        return split, [small for small, _ in smalls]

    def map_partitions(self, fn: Callable[[Array], Array]) -> "DaskDataset":
        """The rows mapped by fn (row for row, partition by partition), persisted anew."""
        if self.raw is not None:
            raise ValueError("the rows of a dataset with missing values are mapped before "
                             "with_missing")
        client = self.cluster.client
        shipped = client.submit(_value, fn, pure=False)
        parts = [client.submit(_map_part, part, shipped, pure=False) for part in self.parts]
        mapped = copy.copy(self)
        mapped.parts, mapped._missing = parts, None
        return mapped

    def each_partition(self, fn: Callable[..., R]) -> list[R]:
        """fn(rows, first row, partition index) on the worker that holds each partition,
        in partition order (what fn returns comes back here: keep it small); for rows
        with per-row data (with_rows) fn(rows, first row, partition index, known=the
        partition's known labels or None, dropped=the mask of its share of the input's
        rows left out, or None: Beside)."""
        client = self.cluster.client
        shipped = client.submit(_value, fn, pure=False)
        besides = self.beside or [None] * len(self.parts)
        return self.cluster.result([
            client.submit(_each_part, part, shipped, int(start), i, beside, pure=False)
            for i, (part, start, beside) in enumerate(zip(self.raw or self.parts,
                                                          self.starts[:-1], besides))])

    def whole_tasks(self, fn: Callable[..., R], items: Sequence[Any], *,
                    on_result: Callable[[int, R | BaseException], None]) -> None:
        """fn(every row, item) for each item, each a task on one worker (dask brings the
        partitions to it: the rows as read, their missing values too), reported as they
        finish (cluster.run_tasks); for rows with weights or known labels, fn(every row,
        item, weights=..., known=...)."""
        self.cluster.run_tasks(partial(_with_whole, fn), items, on_start=lambda i: None,
                               on_result=on_result,
                               extra=(self.raw or self.parts) + (self.beside or []))


# --------------------------------------------------------------------------- the cluster


class DaskCluster:
    """A dask client (and the local cluster it started, if any): where the dask backend's
    datasets live while a session lasts.  Connected when first used, so that a run that
    fails before it reads its data (a bad option, a missing file) fails at once."""

    name = "dask"

    def __init__(self, options: BackendOptions) -> None:
        self.options = options
        self._client: Any = None
        self._stack = ExitStack()
        self._closed = False

    @property
    def client(self) -> Any:
        if self._closed:
            raise BackendError("the dask cluster of this data was closed; ask for labels "
                               "and responsibilities inside the emgmm_cli.backend block")
        if self._client is None:
            self._client = _start(self.options, self._stack)
        return self._client

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the client (and shut down a local cluster, cancelling its work)."""
        self._client, self._closed = None, True
        self._stack.close()

    def n_workers(self) -> int:
        return max(1, len(self.client.scheduler_info()["workers"]))

    def n_threads(self) -> int:
        info = self.client.scheduler_info()["workers"].values()
        return max(1, sum(int(w.get("nthreads", 1)) for w in info))

    def worker_memory(self) -> int:
        """The smallest memory limit of a worker, in bytes (0: not limited)."""
        limits = [int(w.get("memory_limit") or 0)
                  for w in self.client.scheduler_info()["workers"].values()]
        return min(limits) if limits else 0

    def placement(self, count: int) -> list[list[str]]:
        """Where each of count partitions should be read: runs of consecutive partitions
        on each worker, so that the first level of a reduction's tree adds partitions
        that lie on one worker (a hint only: dask moves work where it must, and the
        result does not depend on it).  A BackendError where the scheduler has no
        worker."""
        workers = sorted(self.client.scheduler_info()["workers"])
        if not workers:  # its tasks would wait for one, for ever and without a word
            raise BackendError(f"the dask scheduler at {self.client.scheduler.address} "
                               "has no workers; start some (dask worker ADDRESS), or leave "
                               "out --scheduler for a local cluster")
        return [[workers[i * len(workers) // count]] for i in range(count)]

    def result(self, futures: Any) -> Any:
        """What the futures hold (a list for a list); interrupted, the work is cancelled.
        A list is waited for first: a gather interrupted while it waits leaves tasks of
        its own that end in errors no one reads, which asyncio prints as tracebacks."""
        from distributed import wait

        try:
            if isinstance(futures, list):
                with self.client.as_current():  # wait() waits with the current client
                    wait(futures)
                return self.client.gather(futures)
            return futures.result()
        except BaseException:
            self.client.cancel(futures if isinstance(futures, list) else [futures])
            raise

    # --- sources ----------------------------------------------------------------------

    def from_array(self, x: Array, *, partition_rows: int | None = None) -> DaskDataset:
        """An in-memory array, sent to the workers in partitions (kept in the task graph,
        so a lost worker's partitions are sent again)."""
        if x.ndim != 2:
            raise ValueError(f"expected a 2-D array, got shape {x.shape}")
        bounds = _bounds(x.shape[0], partition_rows or _partition_rows(x.shape[1], x.dtype))
        parts = [self.client.submit(_value, np.ascontiguousarray(x[a:b]), pure=False,
                                    workers=where, allow_other_workers=True)
                 for (a, b), where in zip(bounds, self.placement(len(bounds)))]
        return DaskDataset(self, parts, [b - a for a, b in bounds], x.shape[1], x.dtype)

    def open_ranges(self, n_rows: int, n_features: int, dtype: Any,
                    read: Callable[[int, int], Array], *,
                    partition_rows: int | None = None) -> DaskDataset:
        """Rows that every worker can read itself, read(start, stop) on a worker for each
        partition (a file on storage they share: nothing is read here)."""
        bounds = _bounds(n_rows, partition_rows or _partition_rows(n_features, dtype))
        parts = [self.client.submit(read, a, b, pure=False, workers=where,
                                    allow_other_workers=True)
                 for (a, b), where in zip(bounds, self.placement(len(bounds)))]
        return DaskDataset(self, parts, [b - a for a, b in bounds], n_features, dtype)

    def open_npy(self, path: str, *, partition_rows: int | None = None) -> DaskDataset:
        """A .npy file read by the workers in row ranges, memory-mapped (only its header
        is read here)."""
        header = np.load(path, mmap_mode="r")
        n, d = int(header.shape[0]), 1 if header.ndim == 1 else int(header.shape[1])
        dtype = header.dtype
        del header
        return self.open_ranges(n, d, dtype, partial(_load_rows, os.path.abspath(path)),
                                partition_rows=partition_rows)

    def open_parts(self, paths: Sequence[str],
                   reader: Callable[[str], tuple[Array, list[str]]]
                   ) -> tuple[DaskDataset, list[str]]:
        """One partition per file, each read on a worker by reader(path) -> (rows, column
        names); the parts must agree on their columns.  Returns the dataset and the
        first part's column names.  A part that cannot be read is an error naming it
        (the reader's)."""
        client = self.client
        read = [client.submit(reader, os.path.abspath(p), pure=False, workers=where,
                              allow_other_workers=True)
                for p, where in zip(paths, self.placement(len(paths)))]
        parts = [client.submit(_first, r, pure=False) for r in read]
        names = [client.submit(_second, r, pure=False) for r in read]
        with _named_as_given(paths):
            shapes = self.result([client.submit(_shape, p, pure=False) for p in parts])
            all_names = self.result(names)
        del read
        for path, got, shape in zip(paths, all_names, shapes):
            if shape[1] != shapes[0][1] or got != all_names[0]:
                raise DataError(path, f"its columns ({', '.join(got)}) are not those of "
                                      f"{paths[0]} ({', '.join(all_names[0])}); the parts of "
                                      "a dataset must have the same columns")
        dtype = self.result(client.submit(lambda x: x.dtype, parts[0], pure=False))
        dataset = DaskDataset(self, parts, [s[0] for s in shapes], shapes[0][1], dtype)
        return dataset, list(all_names[0])

    # --- independent tasks ------------------------------------------------------------

    def run_tasks(self, fn: Callable[[T], R], items: Sequence[T], *,
                  on_start: Callable[[int], None],
                  on_result: Callable[[int, R | BaseException], None],
                  extra: Sequence[Any] | None = None) -> None:
        """fn(item) (or fn(item, extra): futures in it arrive as their values) for every
        item on the workers, as many at once as they have threads,
        reported as they finish (as backends.processes.run_tasks).  A task whose worker
        died is retried by dask; one that keeps killing its workers is reported as a
        RuntimeError.  A stop signal (held meanwhile, backends.tasks) starts nothing more:
        the tasks in flight are waited for and reported, and then it is raised."""
        if items:
            run_pool(_TaskPool(self, fn, items, extra), len(items), self.n_threads(),
                     on_start=on_start, on_result=on_result)


class _TaskPool(Pool):
    """backends.tasks.Pool on a cluster: tasks run in this process's working directory
    (relative paths mean on the workers what they mean here), and are not stopped part-way
    (a stop waits for those in flight)."""

    def __init__(self, cluster: DaskCluster, fn: Callable[..., Any], items: Sequence[Any],
                 extra: Sequence[Any] | None) -> None:
        self.client, self.fn, self.items, self.extra = cluster.client, fn, items, extra
        self.here = os.getcwd()

    def submit(self, i: int) -> Any:
        args = (self.items[i],) if self.extra is None else (self.items[i], list(self.extra))
        return self.client.submit(_in_dir, self.here, self.fn, *args, pure=False)

    def wait(self, futures: list[Any], timeout: float | None) -> list[Any]:
        from distributed import wait

        if not futures:
            return []
        try:
            with self.client.as_current():  # wait() waits with the current client
                wait(futures, timeout, "ALL_COMPLETED" if timeout is None else "FIRST_COMPLETED")
        except TimeoutError:  # none finished meanwhile
            pass
        return [f for f in futures if f.done()]

    def outcome(self, future: Any) -> Any:
        from distributed.scheduler import KilledWorker

        from .processes import WorkerDied

        exc = future.exception()
        if isinstance(exc, KilledWorker):
            return WorkerDied(alone=False)
        return exc if exc is not None else future.result()


@contextmanager
def _named_as_given(paths: Sequence[str]) -> Iterator[None]:
    """A DataError a worker raised about one of paths, which it read by its absolute path
    (its working directory need not be this one), named by the path as given."""
    given = {os.path.abspath(p): p for p in paths}
    try:
        yield
    except DataError as exc:
        if exc.source not in given:
            raise
        raise DataError(given[exc.source], exc.message, line=exc.line, column=exc.column,
                        advice=exc.advice) from None


def _partition_rows(n_features: int, dtype: Any) -> int:
    return max(1, PARTITION_BYTES // (max(1, n_features) * np.dtype(dtype).itemsize))


def _bounds(n: int, rows: int) -> list[tuple[int, int]]:
    return [(a, min(a + rows, n)) for a in range(0, max(n, 1), rows)] if n else [(0, 0)]


def part_files(source: str) -> list[str] | None:
    """The part files of a source (a directory, searched for PART_SUFFIXES, or a glob
    pattern), in name order; None for a plain file."""
    if os.path.isdir(source):
        found = [os.path.join(source, name) for name in os.listdir(source)
                 if name.lower().endswith(PART_SUFFIXES) and not name.startswith(".")]
    elif glob.has_magic(source):
        found = [p for p in glob.glob(source) if os.path.isfile(p)]
    else:
        return None
    if not found:
        raise DataError(source, f"no data parts found (looked for {PART_FILES})")
    return sorted(found)


def open_dask(source: Any, *, n_components: int, covariance_type: str,
              n_threads: int | None) -> DaskDataset:
    """The dask backend's opener (backends.BACKENDS): a DaskDataset as it is, or an
    array or the path of a .npy file put on the active session's cluster."""
    from . import active

    if isinstance(source, DaskDataset):
        return source.for_model(n_components, covariance_type)
    cluster = active()
    if not isinstance(cluster, DaskCluster):
        raise BackendError("the dask backend needs a cluster: run inside "
                           "emgmm_cli.backend('dask', ...) or give --backend dask")
    if isinstance(source, (str, os.PathLike)):
        data = cluster.open_npy(os.fspath(source))
    else:
        data = cluster.from_array(np.asarray(source))
    return data.for_model(n_components, covariance_type)


@contextmanager
def connect(options: BackendOptions) -> Iterator[DaskCluster]:
    """The cluster of a session (connected when first used), closed at the end."""
    cluster = DaskCluster(options)
    try:
        yield cluster
    finally:
        cluster.close()


def _start(options: BackendOptions, stack: ExitStack) -> Any:
    """A client of the scheduler options name (or $DASK_SCHEDULER_ADDRESS), or of a new
    local cluster of options.workers processes on 127.0.0.1 (one thread each); stack
    closes them.  The local cluster's threads and worker processes (those its nannies
    start later too) are started with the stopping signals blocked, so that a Ctrl-C sent
    to the whole process group reaches this process alone, which shuts the cluster down;
    one that comes while the cluster starts is raised once it has."""
    from multiprocessing import resource_tracker

    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise BackendError(f"the dask backend needs dask.distributed; install it with "
                           f"{EXTRA}") from exc
    address = options.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    if address is None:
        # multiprocessing's resource tracker, started by the first worker, unblocks
        # SIGINT and SIGTERM in the thread that starts it: started here first
        _start_tracker(resource_tracker)
        with stop_signals_blocked():
            local = stack.enter_context(LocalCluster(
                n_workers=options.workers or available_cores(), threads_per_worker=1,
                processes=True, host="127.0.0.1", dashboard_address=":0",
                silence_logs=logging.CRITICAL))  # a task's error is the run's one line
        return stack.enter_context(Client(local, set_as_default=False))
    return stack.enter_context(_join(Client, address, options.connect_timeout))


#: The warning filter the resource tracker is started with (its -W option): see
#: _start_tracker.
_TRACKER_QUIET = "ignore:resource_tracker:UserWarning"


def _start_tracker(resource_tracker: Any) -> None:
    """multiprocessing's resource tracker, started (where it is not running) without its
    warning about semaphores left to clean up.  A run that a closed pipe ends (`emgmm ...
    --backend dask | head`: SIGPIPE, exit 141, quietly as a program in a pipe ends) does
    not shut its cluster down; the tracker then cleans up what the cluster's processes
    left, and said so on stderr after the run.  The tracker takes the interpreter's -W
    options (sys.warnoptions) when it starts: the filter is one of them only then."""
    added = _TRACKER_QUIET not in sys.warnoptions
    if added:
        sys.warnoptions.append(_TRACKER_QUIET)
    try:
        resource_tracker.ensure_running()
    finally:
        if added:
            sys.warnoptions.remove(_TRACKER_QUIET)


def _join(client_type: Any, address: str, timeout: float) -> Any:
    """A client of the scheduler at address, or a BackendError within timeout seconds."""
    try:
        _handshake(address, timeout)
        return client_type(address, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BackendError(f"cannot reach the dask scheduler at {address} within "
                           f"{timeout:g} s ({reason}); check that address (given, or "
                           "DASK_SCHEDULER_ADDRESS) and that `dask scheduler` runs there"
                           ) from None


def _handshake(address: str, timeout: float) -> None:
    """Connect to address and read its handshake within timeout seconds, in a thread of
    its own (an event loop may run in the caller's): distributed's Client waits for the
    handshake without a limit, and reads other bytes than a scheduler's as the length of
    a message (a MemoryError).  An OSError or a TimeoutError where no scheduler answers."""
    import asyncio
    import threading

    from distributed.comm import connect

    async def shake() -> None:  # connect's own error first, where it gives one in time
        comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout + 0.25)
        await comm.close()

    failed: list[Exception] = []

    def run() -> None:
        try:
            asyncio.run(shake())
        except TimeoutError:
            failed.append(TimeoutError("it connects but gives no answer"))
        except (OSError, ValueError) as exc:
            failed.append(exc)
        except Exception:  # anything else that answers: its bytes are not dask's
            failed.append(OSError("what answers there is not a dask scheduler"))

    thread = threading.Thread(target=run, name="emgmm-handshake", daemon=True)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
