"""Where the data lives: the one place that chooses how a dataset is reduced.

open_dataset(source, ..., backend=...) turns what a reader returned into an engine
Dataset.  The local backend (this process: a thread pool over row blocks) takes

- a numpy array (in memory, or a read-only numpy memmap): backends.local.ArrayDataset;
- an io.NpyFile (data over the memory limit, on disk): backends.blockfile.BlockFileDataset;
- the path of a .npy file: memory-mapped, then as an array (how worker processes
  receive large arrays: backends.processes.portable).

The dask backend (backends.dask) keeps the blocks on the workers of a dask.distributed
cluster; it is opened for a run with session(BackendOptions(backend="dask", ...)), and while
that session is active open_dataset and the readers of the use cases (app.data) put data
on the cluster.

Every Dataset cuts its rows into blocks sized for the model being fitted (block_rows),
and its results do not depend on the number of threads or workers.  A backend is one row
of BACKENDS: a name and the function that opens a source with it; a backend that needs a
connection (dask) has a connect(options) context manager in the same module, and its
options are rows of BACKEND_OPTIONS (the command line builds its flags from them).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..engine.dataset import Dataset

#: backend name -> "module:function" that opens a source as a Dataset (loaded on use).
BACKENDS: dict[str, str] = {
    "local": f"{__name__}:open_local",
    "dask": f"{__name__}.dask:open_dask",
}

#: Seconds to wait for a scheduler before giving up (--connect-timeout).
CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class BackendOptions:
    """Where a run reduces its data: the local backend, or a dask cluster (a local one of
    `workers` processes, or the running scheduler at `scheduler`)."""

    backend: str = "local"
    workers: int | None = None  # dask: local worker processes (None: one per core)
    scheduler: str | None = None  # dask: tcp://HOST:PORT (None: $DASK_SCHEDULER_ADDRESS)
    connect_timeout: float = CONNECT_TIMEOUT

    def __post_init__(self) -> None:
        """The checks of the command line's flags (--workers, --connect-timeout), for the
        Python API's backend(): an InvalidParameter naming the option (numpy's numbers are
        taken for the numbers they hold)."""
        import math
        from numbers import Integral, Real

        from ..engine.errors import InvalidParameter

        if self.backend not in BACKENDS:
            raise InvalidParameter(f"unknown backend {self.backend!r}; choose one of "
                                   f"{', '.join(BACKENDS)}", option="backend")
        workers = self.workers
        if workers is not None:
            if isinstance(workers, bool) or not isinstance(workers, Integral) or workers < 1:
                raise InvalidParameter(f"workers must be an integer >= 1 or None (one per "
                                       f"core), got {workers!r}", option="workers")
            object.__setattr__(self, "workers", int(workers))
        timeout = self.connect_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, Real) or not (
                math.isfinite(timeout) and timeout > 0):
            raise InvalidParameter(f"connect_timeout must be a finite number of seconds > 0, "
                                   f"got {timeout!r}", option="connect_timeout")
        object.__setattr__(self, "connect_timeout", float(timeout))
        running = self.running_scheduler()
        if workers is not None and running is not None:
            raise InvalidParameter(f"workers starts a local cluster of its own, and {running} "
                                   "names a running one; give one of them", option="workers")

    def running_scheduler(self) -> str | None:
        """What names the running scheduler a dask backend joins ('scheduler', or
        $DASK_SCHEDULER_ADDRESS), or None where it starts a local cluster."""
        if self.backend != "dask":
            return None
        if self.scheduler is not None:
            return "scheduler"
        return "$DASK_SCHEDULER_ADDRESS" if os.environ.get("DASK_SCHEDULER_ADDRESS") else None


@dataclass(frozen=True)
class BackendOption:
    """One option of the backends, for the command line: its flag, type and help."""

    name: str  # the BackendOptions field
    kind: type
    metavar: str
    help: str


#: The options of BackendOptions beyond `backend`, as the command line offers them.
BACKEND_OPTIONS = (
    BackendOption("workers", int, "N", "With --backend dask and no scheduler: the number of "
                  "local worker processes (default: one per core); beside --scheduler or "
                  "$DASK_SCHEDULER_ADDRESS, bad usage."),
    BackendOption("scheduler", str, "ADDRESS", "With --backend dask: join the running cluster whose "
                  "scheduler is at tcp://HOST:PORT (default: $DASK_SCHEDULER_ADDRESS; "
                  "without either, a local cluster is started)."),
    BackendOption("connect_timeout", float, "SECONDS", "With --backend dask: give up on an "
                  f"unreachable scheduler after this many seconds (default: "
                  f"{CONNECT_TIMEOUT:g})."),
)


class BackendError(Exception):
    """The backend cannot run: its library is missing, or its cluster cannot be reached
    (one line, exit status 1)."""


_ACTIVE: list[Any] = []  # the sessions entered, innermost last


@contextmanager
def session(options: BackendOptions | None = None) -> Iterator[Any]:
    """Run what is inside on the backend options name: for the local backend nothing
    changes (yields None); for dask, a cluster is connected (or started) and yielded, and
    open_dataset uses it until the block ends (then a started cluster is shut down)."""
    if options is None or options.backend == "local":
        yield None
        return
    module = importlib.import_module(BACKENDS[options.backend].split(":")[0])
    with module.connect(options) as opened:
        _ACTIVE.append(opened)
        try:
            yield opened
        finally:
            _ACTIVE.remove(opened)


def backend(name: str = "dask", **options: Any) -> Any:
    """The Python API's way to a backend: inside ``with emgmm_cli.backend("dask",
    workers=4):`` (or scheduler="tcp://HOST:PORT"), fit, select, predict, score and the
    labels of what they return run on that cluster (a context manager: session)."""
    return session(BackendOptions(name, **options))


def active() -> Any:
    """The innermost active session (a connected cluster), or None for the local backend."""
    return _ACTIVE[-1] if _ACTIVE else None


def open_dataset(source: Any, *, n_components: int = 1, covariance_type: str = "full",
                 n_threads: int | None = None, backend: str | None = None) -> "Dataset":
    """A Dataset over source, in blocks sized for n_components and covariance_type.

    n_threads: threads of the block reduction (default: every core the process may use).
    backend: a BACKENDS name (default: the active session's, else local).
    """
    if backend is None:
        backend = "local" if active() is None else active().name
    where = BACKENDS.get(backend)
    if where is None:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    module, name = where.split(":")
    opener = getattr(importlib.import_module(module), name)
    dataset: Dataset = opener(source, n_components=n_components,
                              covariance_type=covariance_type, n_threads=n_threads)
    return dataset


def open_local(source: Any, *, n_components: int, covariance_type: str,
               n_threads: int | None) -> "Dataset":
    """The local backend: an array, a memory-mapped .npy path, or an NpyFile."""
    import numpy as np

    from ..io.npyfile import NpyFile
    from .local import ArrayDataset, block_rows

    if isinstance(source, (str, os.PathLike)):
        source = np.load(source, mmap_mode="r")
    if not isinstance(source, (np.ndarray, NpyFile)):
        raise TypeError(f"the local backend reads arrays and .npy files, not a "
                        f"{type(source).__name__}")
    rows = block_rows(n_components, int(source.shape[1]), covariance_type=covariance_type,
                      itemsize=np.dtype(source.dtype).itemsize)
    if isinstance(source, NpyFile):
        from .blockfile import BlockFileDataset  # data read block by block only

        return BlockFileDataset(source, block_rows=rows, n_threads=n_threads)
    return ArrayDataset(source, block_rows=rows, n_threads=n_threads)
