"""Threads a fork may leave behind: those that take a lock before every step that a fork
must not cut in half.

A fork copies the calling thread alone; a lock another thread held at that moment stays
held in the child for ever (the classic case: a thread in the middle of writing to
stderr, whose buffer's lock the child then waits for as soon as it writes).  So worker
processes fork only where no other thread runs (backends.processes.start_method), with
one exception: a thread registered here (quiet_at_fork) does its work only while
holding its lock, and every fork of this process first takes that lock
(os.register_at_fork), so the thread is between two steps, holding nothing, when the
fork happens.  The child, which has no such thread, releases its copy of the lock.

The progress displays of the command line (render: rich's refresh thread, which redraws
under its display's lock) register themselves, so that select and batch fork their
workers on a terminal as they do in a pipe.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: The registered threads and their locks, in registration order (taken in that order).
_QUIET: dict[threading.Thread, Any] = {}
_REGISTRY_LOCK = threading.Lock()


@contextmanager
def quiet_at_fork(thread: threading.Thread, lock: Any) -> Iterator[None]:
    """Register thread, which only works while holding lock (a threading.Lock or RLock),
    for as long as the context lasts."""
    with _REGISTRY_LOCK:
        _QUIET[thread] = lock
    try:
        yield
    finally:
        with _REGISTRY_LOCK:
            _QUIET.pop(thread, None)


def only_quiet_threads() -> bool:
    """Whether every thread but this one is registered (and alive): a fork now leaves
    nothing held."""
    here = threading.current_thread()
    with _REGISTRY_LOCK:
        quiet = set(_QUIET)
    return all(t is here or t in quiet for t in threading.enumerate())


def _take_locks() -> None:
    _REGISTRY_LOCK.acquire()
    for lock in _QUIET.values():
        lock.acquire()


def _release_locks() -> None:
    for lock in reversed(list(_QUIET.values())):
        lock.release()
    _REGISTRY_LOCK.release()


def _in_child() -> None:
    """The child's copies released; its registry empty (it has none of those threads)."""
    _release_locks()
    _QUIET.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_take_locks, after_in_parent=_release_locks,
                        after_in_child=_in_child)
