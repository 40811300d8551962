"""Independent tasks run elsewhere, reported as they finish and stopped cleanly: the loop
that worker processes (backends.processes) and a dask cluster (backends.dask) share.

A Pool starts item i and hands back a future; run_pool keeps up to `slots` of them in
flight and reports each result once, in the caller's thread.  Ctrl-C, SIGTERM and SIGHUP
are held for the whole loop (interrupts.deferred_interrupt) and looked for between waits
of at most POLL_SECONDS, rather than raised wherever the signal lands.  Raised anywhere,
it could land between a result being taken and being reported (a dataset's folder
complete on disk and missing from the batch's summary), between a task being handed out
and being recorded, or inside the futures' own machinery, which may then keep one of
their locks (a run that stopped once hung instead).  Held, a signal only ends the loop:
the pool is told to stop, the items not started are dropped, the tasks in flight are
waited for and those that finished are reported, and then the signal is raised as it
came.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..interrupts import deferred_interrupt, interrupt_noted

#: The longest a stop signal waits to be acted on while tasks run.
POLL_SECONDS = 0.05


class _Skipped:
    """What Pool.outcome returns for a task that stopped part-way (nothing to report)."""


SKIPPED = _Skipped()


class _Lost:
    """What Pool.outcome returns for a task lost with its pool (a worker died, and the
    pool broke with every task in flight): run_pool runs it again, alone."""


LOST = _Lost()


class Pool:
    """Where run_pool's tasks run: submit, wait and outcome are each pool's own; by
    default a task cannot be dropped or told to stop (a stop waits for it) and the pool
    does not break."""

    def submit(self, i: int) -> Any:
        """Start item i; its future."""
        raise NotImplementedError

    def wait(self, futures: list[Any], timeout: float | None) -> list[Any]:
        """Those of futures that are done, once one is or timeout seconds have passed
        (timeout None: once every one is)."""
        raise NotImplementedError

    def outcome(self, future: Any) -> Any:
        """What a finished future reports: the task's value or exception, SKIPPED, or
        LOST (the pool broke with it in flight)."""
        raise NotImplementedError

    def cancel(self, future: Any) -> bool:
        """Drop a future whose task has not started; whether it was dropped."""
        return False

    def stop(self) -> None:
        """Tell the tasks in flight to stop as soon as they can."""

    def broken(self) -> bool:
        """Whether the pool lost the tasks in flight (restart() starts it afresh)."""
        return False

    def restart(self) -> None:
        """Start the pool afresh after it broke."""


def run_pool(pool: Pool, n_items: int, slots: int, *,
             on_start: Callable[[int], None],
             on_result: Callable[[int, Any], None],
             lost: Callable[[bool], BaseException] = RuntimeError) -> None:
    """Run items 0 .. n_items - 1 on pool, at most slots at a time (in order), calling
    on_start(i) once item i is handed out and on_result(i, value) once it is done.  A
    stop signal that comes meanwhile is raised once the tasks in flight are reported.

    Where the pool breaks (a worker died: killed, or out of memory), every task in flight
    is lost with it, whichever worker ran it; each is run again alone, one after another
    before any other item, nothing beside it, so that one task that kills its worker fails
    alone, reported with lost(True) (a new exception), and the others it took with it get
    their results.  A stop that comes first reports those still waiting with lost(False):
    their worker died, and they were not run again."""
    queue = list(range(n_items))[::-1]
    in_flight: dict[Any, int] = {}
    again: list[int] = []  # lost with the pool: each to be run alone, in order
    alone: set[int] = set()  # those running alone now

    def report(done: list[Any]) -> None:
        for future in sorted(done, key=in_flight.__getitem__):
            i = in_flight.pop(future)
            value = pool.outcome(future)
            if isinstance(value, _Lost) and i not in alone:
                again.append(i)
            elif not isinstance(value, _Skipped):
                on_result(i, lost(True) if isinstance(value, _Lost) else value)
            alone.discard(i)

    with deferred_interrupt():
        while (queue or again or in_flight) and not interrupt_noted():
            if again:
                if not in_flight:
                    again.sort(reverse=True)
                    i = again.pop()
                    alone.add(i)
                    in_flight[pool.submit(i)] = i
            elif not alone:  # (the last one run again is alone too)
                while queue and len(in_flight) < slots:
                    i = queue.pop()
                    in_flight[pool.submit(i)] = i
                    on_start(i)
            report(pool.wait(list(in_flight), POLL_SECONDS))
            if pool.broken():  # every task in flight is lost with it: report them
                report(pool.wait(list(in_flight), None))
                pool.restart()
        if in_flight:  # stopping
            pool.stop()
            for future in [f for f in in_flight if pool.cancel(f)]:
                in_flight.pop(future)
            report(pool.wait(list(in_flight), None))
        for i in sorted(again):  # lost, and stopped before they ran again
            on_result(i, lost(False))
