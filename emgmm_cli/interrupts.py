"""Stopping a run: Ctrl-C, SIGTERM and SIGHUP alike, and the steps they must not cut.

The command line makes SIGTERM (kill, timeout, schedulers) and SIGHUP (a closed terminal)
raise Stopped, a KeyboardInterrupt (stop_on_signals), so that every path that cleans up
after Ctrl-C (an output set's temporary files, the cache's conversion, a batch's summary)
cleans up after them too, and the exit status says which signal it was (128 + its
number).  A step that must not be cut in half (renaming a set of outputs into place,
recording a dataset as done) holds them (hold_interrupts, deferred_interrupt): a signal
that comes meanwhile is noted and raised when the step is over.  Batch workers ignore
them all and stop when the parent says so (backends.processes).

Once a stopping signal has been raised, those that follow are ignored while its exception
is on its way (_stopping): the clean-up runs to its end and the exit status is the first
one's.

A signal that a run's own handlers raise is also recorded (stop_received), because the
exception can be lost on its way: code that calls back into Python may turn it into
another one.  numpy's comparison of structured arrays (np.unique(..., axis=0)) does so,
into "TypeError: Cannot compare structured arrays", which a batch would report as one
dataset's failure before it went on with the next.  So where a run turns an exception
into a result (a failed dataset, a failed cell, an error message), it first raises the
stop that was asked for (raise_if_stopped), and so does every EM iteration of a fit or a
selection's cells here (polling): a finaliser that swallows the exception ("Exception
ignored in ...") cannot make the run go on.

A signal that the run was started ignoring (SIGHUP under nohup, SIGINT in a background
job of a shell without job control) stays ignored.

Steps that run long without an EM iteration (reading a text file chunk by chunk,
converting one to the cache, building the hierarchy, screening starts, one pass over
blocks of large data) call stop_point() between their pieces: it raises the stop a signal
asked for, and in a worker process the stop its parent asked for (set_stop_check: a
worker's signals are ignored, its parent tells it through a shared event).  Measured
before: `batch --jobs 2 --memory-limit 1M` on two 76 MB CSVs, sent SIGTERM 0.5 s in, took
3.6 s to stop while its workers converted the files (each EM iteration was the first
place a worker looked).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: The signals that stop a run as Ctrl-C does.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised as Ctrl-C is (see the module's docstring)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


class _Received:
    """The stopping signal that came while stop_on_signals' handlers were installed
    (None if none came), and whether its stop has been reported (stop_reported)."""

    signum: int | None = None
    reported = False


def _stop_exception(signum: int) -> KeyboardInterrupt:
    return KeyboardInterrupt() if signum == signal.SIGINT else Stopped(signum)


def _raise_stopped(signum: int, frame: object) -> None:
    _Received.signum, _Received.reported = signum, False
    for other in STOP_SIGNALS:  # from now on the run is stopping: see _stopping
        if signal.getsignal(other) is _raise_stopped:
            signal.signal(other, _stopping)
    raise _stop_exception(signum)


def _stopping(signum: int, frame: object) -> None:
    """A stopping signal that came after the first: ignored while the first one's
    exception is on its way, so that it cannot cut short the clean-up the first one set
    off (a second Ctrl-C, or timeout's SIGTERM passed on to a run that was already sent
    one, would otherwise leave a temporary file behind, or turn the exit status into
    click's "Aborted!" and 1); raised again, as the first one, where that exception was
    lost (see stop_received), unless the stop has been reported (stop_reported): the run
    is then on its way out with the first one's exit status, and a signal raised there
    (the command line's exit no longer a KeyboardInterrupt) would reach click as "Aborted!"
    and 1."""
    if not _Received.reported and not isinstance(sys.exc_info()[1], KeyboardInterrupt):
        raise _stop_exception(signum if _Received.signum is None else _Received.signum)


def stop_reported() -> None:
    """The stop has been reported (its line said, its exit status chosen): the stopping
    signals that follow are ignored."""
    _Received.reported = True


def block_stop_signals(also: frozenset[int] = frozenset()) -> set[int | signal.Signals] | None:
    """Block the stopping signals in this thread, and those of also: the kernel holds one
    sent to the process for a thread that takes it (the main thread, whose handlers stop
    the run), or until they are unblocked here.  Returns the mask before, or None where
    the platform cannot block signals."""
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, {*STOP_SIGNALS, *also})


@contextmanager
def stop_signals_blocked(also: frozenset[int] = frozenset()) -> Iterator[None]:
    """The stopping signals (and those of also) blocked in this thread meanwhile
    (block_stop_signals), held pending and delivered once the mask is restored."""
    previous = block_stop_signals(also)
    try:
        yield
    finally:
        if previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def stop_on_signals() -> None:
    """Make SIGTERM and SIGHUP raise Stopped and Ctrl-C KeyboardInterrupt, each recorded
    (where the platform has them, and unless the process was started ignoring them)."""
    _Received.signum = None
    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _raise_stopped)


@contextmanager
def stopping_on_signals() -> Iterator[None]:
    """stop_on_signals() for the duration of the block, then the handlers as they were
    and nothing recorded (for a run inside a process that goes on after it)."""
    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    stop_on_signals()
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _Received.signum, _Received.reported = None, False


def stop_received() -> KeyboardInterrupt | None:
    """The exception of the stopping signal that came since stop_on_signals() (None if
    none did): Stopped for SIGTERM and SIGHUP, KeyboardInterrupt for Ctrl-C."""
    signum = _Received.signum
    return None if signum is None else _stop_exception(signum)


def polling(callback: Callable[..., None] | None) -> Callable[..., None]:
    """A loop's per-iteration callback that first raises the stop a signal asked for
    (raise_if_stopped), then calls callback (if any): a stop whose exception was lost on
    its way (a finaliser swallows it: "Exception ignored in ... __del__", as the dask
    client's futures do) still stops the loop at its next iteration."""

    def polled(*args: Any) -> None:
        raise_if_stopped()
        if callback is not None:
            callback(*args)

    return polled


def raise_if_stopped() -> None:
    """Raise the stop a signal asked for, if one came (stop_received): for code that is
    about to turn an exception into a result, which may be that stop in disguise."""
    stop = stop_received()
    if stop is not None:
        raise stop


class _Checks:
    """What stop_point asks besides the signals: a worker's parent's wish (None: none)."""

    extra: Callable[[], None] | None = None


def set_stop_check(check: Callable[[], None] | None) -> None:
    """Make stop_point also call check (which raises to stop), or no more (None): a worker
    process's way of hearing its parent (backends.processes)."""
    _Checks.extra = check


def stop_point() -> None:
    """A point where a long step may stop: raise the stop a signal asked for
    (raise_if_stopped), or the one set_stop_check's check raises.  Cheap (a few
    microseconds in a worker), so loops call it at every piece of their work."""
    raise_if_stopped()
    if _Checks.extra is not None:
        _Checks.extra()


class _Hold:
    """The state of hold_interrupts(): the handlers it replaced, and the first stopping
    signal that came meanwhile (None if none)."""

    previous: dict[int, Any] = {}
    held = False
    caught: int | None = None


def _note_interrupt(signum: int, frame: object) -> None:
    if _Hold.caught is None:
        _Hold.caught = signum


def hold_interrupts() -> None:
    """From now until release_interrupts(), Ctrl-C (and SIGTERM and SIGHUP, where a
    handler raises for them) is noted instead of raised.

    Outside the main thread, while already held, and for signals that are ignored (the
    workers) or left to their default action, it does nothing.
    """
    if _Hold.held or threading.current_thread() is not threading.main_thread():
        return
    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    previous = {s: h for s, h in previous.items() if callable(h)}
    if not previous:
        return
    _Hold.previous, _Hold.held, _Hold.caught = previous, True, None
    for signum in previous:
        signal.signal(signum, _note_interrupt)


def release_interrupts() -> None:
    """End hold_interrupts(); if a stopping signal came meanwhile, its handler runs now
    (for Ctrl-C, KeyboardInterrupt is raised)."""
    if not _Hold.held:
        return
    for signum, handler in _Hold.previous.items():
        signal.signal(signum, handler)
    _Hold.held = False
    caught, _Hold.caught = _Hold.caught, None
    if caught is not None:
        _Hold.previous[caught](caught, None)


def interrupt_noted() -> bool:
    """Whether a stopping signal came while held (hold_interrupts), not yet raised: for a
    loop that holds them and looks between steps (backends.tasks)."""
    return _Hold.held and _Hold.caught is not None


@contextmanager
def deferred_interrupt() -> Iterator[None]:
    """hold_interrupts() for the duration of the block (a no-op if already held)."""
    if _Hold.held:
        yield
        return
    hold_interrupts()
    try:
        yield
    finally:
        release_interrupts()
