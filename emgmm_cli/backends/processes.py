"""Independent tasks in worker processes: forked or spawned, one BLAS thread each, stoppable.

`emgmm batch --jobs N` fits N datasets at once, `emgmm select --jobs N` N cells.  How a
worker starts (start_method):

- forked, where the platform offers it (Linux and the BSDs; not macOS, whose system
  libraries are not safe to use after a fork, nor Windows) and this process runs no
  other thread but those a fork may leave behind (emgmm_cli.forking: a fork copies the
  calling thread alone, and a lock another one held would stay held in the child).  A
  fork costs milliseconds; the worker inherits the imported modules and the tasks'
  items themselves, which are never pickled (only results travel back), and unless the
  parent's BLAS runs one thread (blas_one_thread) it limits it to one (threadpoolctl)
  on its start;
- spawned otherwise: a fresh interpreter (no state copied from the parent) that imports
  numpy itself, about 0.3 s, and receives each item pickled; its environment limits the
  linear-algebra library to one thread (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS,
  MKL_NUM_THREADS ... = 1, set in the parent only while the pool lives, so they are read
  when numpy is first imported in the worker).

N workers therefore keep N cores busy, not N times as many threads.  Both run the same
function on the same items, so what a task returns does not depend on how its worker
started.  Where no worker can be started (WorkersUnavailable: no working POSIX
semaphores, as where /dev/shm is missing), the caller hears so before anything ran.

Stopping: workers ignore SIGINT, SIGTERM and SIGHUP (blocked from their start, ignored once
started), so a Ctrl-C (which the terminal sends to the whole process group), or a
scheduler's SIGTERM to the group, reaches only the parent (emgmm_cli.interrupts makes
SIGTERM and SIGHUP raise there as Ctrl-C does).  The parent holds them while the pool
runs (backends.tasks.run_pool) and, once one came, sets a shared event; a task polls it
through check_stop() (a batch's datasets and select's cells do so at every EM iteration,
stop_at_iteration, a batch also before committing its outputs, and both at every stop
point of what runs between: interrupts.stop_point, between a read's chunks, the
hierarchy's merges, a pass's blocks), raises Cancelled and cleans up after itself.  The parent waits for the tasks in flight, reports those that
finished anyway, and raises the signal's KeyboardInterrupt.  A parent killed outright
(SIGKILL, the out-of-memory killer) can ask nothing: each worker looks for it every
PARENT_POLL seconds, and once it is gone stops its task as above and ends (_watch_parent).

Nothing here knows about mixtures: tasks are a picklable module-level function and items.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from ..forking import only_quiet_threads
from ..interrupts import (  # noqa: F401 - re-exported: what tasks hold while committing
    STOP_SIGNALS,
    deferred_interrupt,
    hold_interrupts,
    raise_if_stopped,
    release_interrupts,
    set_stop_check,
    stop_signals_blocked,
)
from . import BackendError
from .local import available_cores, worker_count  # noqa: F401 - re-exported
from .tasks import LOST, SKIPPED, Pool, run_pool

T = TypeVar("T")
R = TypeVar("R")

THREAD_LIMIT_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)

#: What a task whose worker died is told (WorkerDied), where it was not run again.
WORKER_DIED = "its worker process died (killed, or out of memory)"
#: What a task gets whose worker died twice, the second time running alone (run_tasks).
WORKER_DIED_ALONE = f"{WORKER_DIED}, also when run again alone"


class WorkerDied(BackendError):
    """What a task gets whose worker died: WORKER_DIED_ALONE where it ran again alone and
    died again (run_tasks), WORKER_DIED where a stop came first or on a dask cluster
    (which ran it again itself); message: the caller's, naming the task."""

    def __init__(self, alone: bool = True, message: str | None = None) -> None:
        super().__init__(message or (WORKER_DIED_ALONE if alone else WORKER_DIED))
        self.alone = alone


#: Arrays up to this size travel to the worker processes inside each task; larger ones
#: are written once to a temporary .npy that the workers memory-map.
INLINE_BYTES = 16 << 20


class WorkersUnavailable(BackendError):
    """Worker processes cannot be started here (no working POSIX semaphores, as where
    /dev/shm is missing or read-only; no processes left to start): nothing ran in one."""

    def __init__(self, cause: BaseException) -> None:
        self.reason = getattr(cause, "strerror", None) or str(cause) or type(cause).__name__
        super().__init__(f"cannot start worker processes ({self.reason}); run with --jobs 1")


#: What starting a pool of workers raises where the platform cannot.
_CANNOT_START = (OSError, ImportError, NotImplementedError)


class Cancelled(BaseException):
    """Raised inside a task when the run is being stopped (a BaseException, like Ctrl-C,
    so that code which reports ordinary failures lets it through)."""


_stop_event: Any = None  # a multiprocessing Event, in worker processes only
_orphaned = False  # in a worker whose parent is gone (_watch_parent)
#: How often a worker looks whether its parent is still there, and how long one whose
#: parent is gone gives its task to stop (check_stop) before it ends, in seconds.
PARENT_POLL = 0.5
ORPHAN_GRACE = 5.0
#: The function and items of the pool being run with forked workers, which inherit them
#: (set in the parent while that pool lives, _inherit_lock held by _inherit_owner, the
#: thread that runs it: _forking).
_inherited: tuple[Callable[[Any], Any], Sequence[Any]] | None = None
_inherit_lock = threading.Lock()
_inherit_owner: int | None = None


#: The environment variable that chooses how workers start: "fork" (where the platform
#: offers it, even with other threads running) or "spawn"; unset or empty: as
#: start_method decides.
START_VARIABLE = "EMGMM_WORKER_START"


def start_method() -> str:
    """How worker processes start here and now: "fork" or "spawn" (see the module's
    docstring, and START_VARIABLE)."""
    import multiprocessing

    asked = os.environ.get(START_VARIABLE, "")
    if asked not in ("", "fork", "spawn"):
        raise BackendError(f"{START_VARIABLE} must be fork or spawn, not {asked!r}")
    forks = sys.platform != "darwin" and "fork" in multiprocessing.get_all_start_methods()
    if asked:
        return "fork" if asked == "fork" and forks else "spawn"
    return "fork" if forks and only_quiet_threads() else "spawn"


#: Blocked, beside the stopping signals, while a pool may start its threads and workers
#: (they inherit the mask): the pool's thread that writes tasks to the workers then gets
#: an error where its pipe has no reader left (a worker killed as the pool starts: the
#: pool breaks and closes the pipe's other end), instead of SIGPIPE, which ends the whole
#: process quietly, exit 141 (main restores its default so that `emgmm ... | head` ends
#: so).  Workers unblock it (_init_worker).
POOL_THREADS_BLOCK = frozenset({signal.SIGPIPE} if hasattr(signal, "SIGPIPE") else ())


def _init_worker(stop_event: Any, limit_blas: bool) -> None:
    for signum in STOP_SIGNALS:  # the parent decides when to stop
        signal.signal(signum, signal.SIG_IGN)
    if hasattr(signal, "SIGPIPE"):  # a worker whose parent is gone ends quietly
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGPIPE})
    global _stop_event
    _stop_event = stop_event
    set_stop_check(check_stop)  # the reading, the hierarchy, ... look between pieces
    import threading

    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True,
                     name="emgmm-parent-watch").start()
    if limit_blas:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, user_api="blas")


def _watch_parent(parent: int) -> None:
    """End this worker once its parent is gone (killed by SIGKILL or the kernel's
    out-of-memory killer, which no handler sees): its task stops as a stop signal stops
    it (check_stop raises Cancelled: no output is committed, temporary files are
    removed), and ORPHAN_GRACE seconds later the worker exits, whatever it was doing.  A
    worker has nothing to give a parent that is gone, and would otherwise wait for its
    next task for ever: its siblings hold the pipes open, so no SIGPIPE comes."""
    import time

    global _orphaned
    while os.getppid() == parent:
        time.sleep(PARENT_POLL)
    _orphaned = True
    time.sleep(ORPHAN_GRACE)
    os._exit(1)


def _inherited_task(i: int) -> Any:
    """Item i of the pool's items, run by the pool's function (in a forked worker)."""
    assert _inherited is not None
    fn, items = _inherited
    return fn(items[i])


def check_stop() -> None:
    """Raise Cancelled if the parent asked the workers to stop, or is gone (a no-op in
    the parent)."""
    if _orphaned or (_stop_event is not None and _stop_event.is_set()):
        raise Cancelled()


def stop_at_iteration(*_: Any) -> None:
    """check_stop as fit's per-iteration callback (on_iteration): a task in a worker stops
    at its next EM iteration once the parent asks, not at its end."""
    check_stop()


def blas_one_thread() -> bool:
    """Whether numpy's BLAS libraries run one thread here, as far as this process can
    tell without looking them up: the environment says so (OpenBLAS, OpenMP and MKL's
    variables all 1, as the command line sets them before numpy is imported) and
    threadpoolctl, which could have changed it since, was never imported.  Then forked
    workers need not limit BLAS themselves (importing threadpoolctl costs a worker about
    13 ms)."""
    return ("threadpoolctl" not in sys.modules
            and all(os.environ.get(name) == "1" for name in THREAD_LIMIT_VARS[:3]))


#: The pools under way in this process that set the thread-limit variables, and what the
#: variables held before the first of them (single_threaded_blas): pools run from several
#: threads at once restored each other's values and left 1 in os.environ for good.
_blas_lock = threading.Lock()
_blas_users = 0
_blas_saved: dict[str, str | None] = {}


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Set the thread-limit variables to 1 in os.environ, restoring them once the last
    pool that set them (of any thread) is over."""
    global _blas_users, _blas_saved
    with _blas_lock:
        if _blas_users == 0:
            _blas_saved = {name: os.environ.get(name) for name in THREAD_LIMIT_VARS}
            os.environ.update({name: "1" for name in THREAD_LIMIT_VARS})
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                for name, value in _blas_saved.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value


@contextmanager
def portable(source: Any) -> Iterator[Any]:
    """source in a form that reaches a worker cheaply: itself where workers fork (they
    inherit it) or it pickles cheaply, or for an in-memory array over INLINE_BYTES that
    spawned workers would receive the path of a temporary .npy (removed after), which
    backends.open_dataset maps."""
    import numpy as np

    if start_method() == "fork" or not (
            isinstance(source, np.ndarray) and not isinstance(source, np.memmap)
            and source.nbytes > INLINE_BYTES):
        yield source
        return
    with tempfile.TemporaryDirectory(prefix="emgmm-") as folder:
        path = os.path.join(folder, "data.npy")
        np.save(path, np.ascontiguousarray(source))
        yield path


def run_tasks(
    fn: Callable[[T], R],
    items: Sequence[T],
    workers: int,
    *,
    on_start: Callable[[int], None],
    on_result: Callable[[int, R | BaseException], None],
    queued: int = 0,
) -> None:
    """Run fn(item) for every item, at most `workers` at a time, reporting as they finish.

    on_start(i) is called when item i is handed to the pool, on_result(i, value) when it
    is done, with fn's result or the exception it raised.  A worker that dies breaks the
    pool with every task in flight: the pool is started afresh and those tasks run again,
    one at a time, so that a task whose worker dies while it runs alone gets a
    WorkerDied and the others their results.  Results arrive
    in completion order; what each one is does not depend on the order.  queued: items
    handed to the pool beyond one per worker, so that a worker that finishes one finds the
    next waiting (on_start then reports some items a little before they run).  Short
    tasks gain: Old Faithful's 36 select cells on 2 forked workers, 0.288 -> 0.255 s with
    one more item per worker (benchmarks/jobs.py --repeats 5, 2026-12-03).

    workers == 1 runs everything here, in this process, and a KeyboardInterrupt simply
    propagates (a task may call hold_interrupts() before it commits its outputs: Ctrl-C is
    then raised only once its result has been reported; and an exception that a stop
    signal came before is that signal's, see interrupts.raise_if_stopped).  Otherwise a
    stop signal is held: the workers are told to stop, the tasks in flight are waited for
    (those that finished anyway are reported) and then it is raised.
    """
    if workers <= 1:
        for i, item in enumerate(items):
            on_start(i)
            try:
                try:
                    value: R | BaseException = fn(item)
                except Exception as exc:  # noqa: BLE001 - reported to the caller
                    raise_if_stopped()  # unless it is a stop signal in disguise
                    value = exc
                on_result(i, value)
            finally:
                release_interrupts()  # a task may hold Ctrl-C from its commit to here
        return
    _run_pool(fn, items, workers, on_start, on_result, queued)


def _run_pool(
    fn: Callable[[T], R],
    items: Sequence[T],
    workers: int,
    on_start: Callable[[int], None],
    on_result: Callable[[int, R | BaseException], None],
    queued: int,
) -> None:
    global _inherited
    import multiprocessing

    if multiprocessing.current_process().daemon:  # its children would be refused
        raise WorkersUnavailable(OSError("a daemon process cannot start processes"))
    limit_blas = not blas_one_thread()
    with _forking() as fork, single_threaded_blas(), deferred_interrupt():
        try:  # the stop event and the pool's queues need working semaphores
            pool = _ProcessPool(fn, items, workers, limit_blas, fork)
        except _CANNOT_START as exc:
            raise WorkersUnavailable(exc) from None
        if fork:  # a pool that spawns leaves a forked one's items alone
            _inherited = (fn, items)
        try:
            run_pool(pool, len(items), workers + queued, on_start=on_start,
                     on_result=on_result, lost=WorkerDied)
        finally:
            pool.close()
            if fork:
                _inherited = None


@contextmanager
def _forking() -> Iterator[bool]:
    """Whether a pool's workers fork (start_method), holding _inherit_lock while they do:
    one pool at a time hands its workers fn and the items by fork (_inherited); pools
    run meanwhile from other threads wait for it (pools run from several threads at once,
    with EMGMM_WORKER_START=fork, gave one call's workers another's cells); a pool started
    under one (from its own thread) spawns its workers instead."""
    global _inherit_owner
    if start_method() != "fork":
        yield False
        return
    if _inherit_owner == threading.get_ident():
        yield False
        return
    with _inherit_lock:
        _inherit_owner = threading.get_ident()
        try:
            yield True
        finally:
            _inherit_owner = None


class _ProcessPool(Pool):
    """backends.tasks.Pool on a ProcessPoolExecutor: how workers start (forked: they
    inherit fn and the items, and are handed indices), the event that tells them to stop,
    and whether a worker died (the executor is then broken, and started afresh; its tasks
    in flight are LOST, and run again alone: tasks.run_pool).

    Whatever may start a process runs with the stopping signals blocked
    (interrupts.stop_signals_blocked), and a process started meanwhile inherits the mask:
    a worker is never cut in the middle of its start-up by a signal sent to its whole
    group (a Ctrl-C at the terminal) before it gets to ignore them (_init_worker), and the
    parent never stops half-way through handing a new worker its start-up data (which the
    worker would report as EOFError).  The workers keep them blocked: they stop when the
    parent says so."""

    def __init__(self, fn: Callable[[T], R], items: Sequence[T], workers: int,
                 limit_blas: bool, forked: bool) -> None:
        import multiprocessing

        self.fn, self.items, self.workers = fn, items, workers
        self.forked = forked
        # a forked worker's BLAS has the parent's threads, a spawned one's reads the
        # variables single_threaded_blas sets
        self.limit_blas = self.forked and limit_blas
        self.ctx = multiprocessing.get_context("fork" if self.forked else "spawn")
        with stop_signals_blocked():  # may start multiprocessing's resource tracker
            self.stop_event = self.ctx.Event()
        self.executor = self._new_executor()
        self.submitted = self.lost = False

    def _new_executor(self) -> Any:
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(self.workers, mp_context=self.ctx,
                                       initializer=_init_worker,
                                       initargs=(self.stop_event, self.limit_blas))
        # a broken pool closes its task queue's reader while the queue's thread may still
        # be writing tasks to it: that thread is to end there (POOL_THREADS_BLOCK), not
        # print the error
        queue = getattr(executor, "_call_queue", None)
        if hasattr(queue, "_ignore_epipe"):
            queue._ignore_epipe = True  # type: ignore[union-attr]
        return executor

    def submit(self, i: int) -> Any:
        """WorkersUnavailable where the first worker cannot be started; a future that
        failed with BrokenProcessPool where the pool broke before this (a worker died
        that no future has reported yet)."""
        from concurrent.futures import Future
        from concurrent.futures.process import BrokenProcessPool

        try:
            # a submit may start a worker, and the pool's threads
            with stop_signals_blocked(also=POOL_THREADS_BLOCK):
                future = (self.executor.submit(_inherited_task, i) if self.forked
                          else self.executor.submit(self.fn, self.items[i]))
        except BrokenProcessPool as exc:
            future = Future()
            future.set_exception(exc)
        except _CANNOT_START as exc:
            if self.submitted:
                raise
            raise WorkersUnavailable(exc) from None
        self.submitted = True
        return future

    def wait(self, futures: list[Any], timeout: float | None) -> list[Any]:
        from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, wait

        if not futures:
            return []
        when = ALL_COMPLETED if timeout is None else FIRST_COMPLETED
        return list(wait(futures, timeout, when)[0])

    def outcome(self, future: Any) -> Any:
        from concurrent.futures.process import BrokenProcessPool

        exc = future.exception()
        if isinstance(exc, Cancelled):
            return SKIPPED  # stopped part-way: it wrote nothing, there is nothing to report
        if isinstance(exc, BrokenProcessPool):
            self.lost = True
            return LOST
        return exc if exc is not None else future.result()

    def cancel(self, future: Any) -> bool:
        return bool(future.cancel())

    def stop(self) -> None:
        self.stop_event.set()

    def broken(self) -> bool:
        return self.lost

    def restart(self) -> None:
        """A new executor, the workers the broken one left killed first: their tasks in
        flight are lost (run again), and they ignore the SIGTERM it sends them
        (_init_worker), so one that ended its task waited for ever to hand a large result
        (a select cell's, over a pipe's 64 KiB) to a reader that was gone, and shutdown
        with it."""
        for process in list((getattr(self.executor, "_processes", None) or {}).values()):
            try:
                process.kill()
            except (OSError, AttributeError, ValueError):
                pass
        self.executor.shutdown(wait=True)
        self.executor, self.lost = self._new_executor(), False

    def close(self) -> None:
        self.stop_event.set()
        self.executor.shutdown(wait=True, cancel_futures=True)
