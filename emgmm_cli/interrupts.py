"""Stopping a run: Ctrl-C, SIGTERM and SIGHUP alike, and the steps they must not cut.

The command line makes SIGTERM (kill, timeout, schedulers) and SIGHUP (a closed terminal)
raise Stopped, a KeyboardInterrupt (stop_on_signals), so that every path that cleans up
after Ctrl-C (an output set's temporary files, the cache's conversion, a batch's summary)
cleans up after them too, and the exit status says which signal it was (128 + its
number).  A step that must not be cut in half (renaming a set of outputs into place,
recording a dataset as done) holds them (hold_interrupts, deferred_interrupt): a signal
that comes meanwhile is noted and raised when the step is over.  Batch workers ignore
them all and stop when the parent says so (backends.processes).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
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


def _raise_stopped(signum: int, frame: object) -> None:
    raise Stopped(signum)


def stop_on_signals() -> None:
    """Make SIGTERM and SIGHUP raise Stopped (where the platform has them)."""
    for signum in STOP_SIGNALS:
        if signum != signal.SIGINT:
            signal.signal(signum, _raise_stopped)


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
