"""Worker processes (backends.processes): how they start (forked or spawned, and
EMGMM_WORKER_START), what forked workers inherit, and that their BLAS runs one thread.

Real processes throughout; the commands that use them (select and batch with --jobs)
are tested under both start methods in test_cli_select, test_cli_batch and
test_hostile_signals.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from emgmm_cli.backends import BackendError
from emgmm_cli.backends.processes import START_VARIABLE, run_tasks, start_method

from conftest import PROC, forked_workers

ROOT = Path(__file__).resolve().parent.parent
FORKS = sys.platform.startswith("linux")


def _call(item: Callable[[], Any]) -> Any:
    return item()


def _blas_threads(_: int) -> list[int]:
    from threadpoolctl import threadpool_info

    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def run_all(fn: Callable[[Any], Any], items: list[Any]) -> dict[int, Any]:
    results: dict[int, Any] = {}
    run_tasks(fn, items, 2, on_start=lambda i: None, on_result=results.__setitem__)
    return results


def in_fresh_process(code: str, **env: str) -> str:
    """What python -c code prints, run with this environment less START_VARIABLE (as
    start_method decides unless env sets it) and with env."""
    environ = {k: v for k, v in os.environ.items() if k != START_VARIABLE}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**environ, "PYTHONPATH": str(ROOT), **env}, timeout=60,
                          check=True)
    return done.stdout.strip()


@pytest.mark.skipif(not FORKS, reason="workers fork on Linux")
def test_workers_fork_where_no_other_thread_runs_and_the_variable_decides() -> None:
    probe = ("import threading, time\n"
             "from emgmm_cli.backends.processes import start_method\n"
             "print(start_method())\n"
             "threading.Thread(target=time.sleep, args=(1,), daemon=True).start()\n"
             "print(start_method())\n")
    assert in_fresh_process(probe).split() == ["fork", "spawn"]  # a second thread: spawned
    assert in_fresh_process(probe, **{START_VARIABLE: "fork"}).split() == ["fork", "fork"]
    assert in_fresh_process(probe, **{START_VARIABLE: "spawn"}).split() == ["spawn", "spawn"]


def test_a_start_method_that_is_not_one_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(START_VARIABLE, "vfork")
    with pytest.raises(BackendError, match="^EMGMM_WORKER_START must be fork or spawn, "
                                           "not 'vfork'$"):
        start_method()


@pytest.mark.skipif(not FORKS, reason="workers fork on Linux")
def test_forked_workers_inherit_the_items_and_spawned_ones_receive_them_pickled(
        monkeypatch: pytest.MonkeyPatch) -> None:
    items = [lambda: 1, lambda: 2, lambda: 3]  # lambdas do not pickle
    monkeypatch.setenv(START_VARIABLE, "fork")
    assert run_all(_call, items) == {0: 1, 1: 2, 2: 3}
    monkeypatch.setenv(START_VARIABLE, "spawn")
    spawned = run_all(_call, items)
    assert sorted(spawned) == [0, 1, 2]
    assert all("pickle" in str(v).lower() for v in spawned.values()), spawned


@pytest.mark.skipif(not FORKS, reason="workers fork on Linux")
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_workers_run_blas_on_one_thread_whatever_the_parent_runs(
        method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from threadpoolctl import threadpool_limits

    monkeypatch.setenv(START_VARIABLE, method)
    with threadpool_limits(2, user_api="blas"):
        here = _blas_threads(0)
        if not here or max(here) < 2:
            pytest.skip("no BLAS library whose threads can be set")
        found = run_all(_blas_threads, [0, 1])
    # every BLAS library a worker has loaded (a spawned one may have fewer than this
    # process: only those its task imports) runs one thread
    assert sorted(found) == [0, 1]
    assert all(threads and set(threads) == {1} for threads in found.values()), found


def _through_the_thread_pool(n: int) -> int:
    from emgmm_cli.backends.local import _pool

    return _pool(2).submit(int, n * 10).result(timeout=20)


@pytest.mark.skipif(not FORKS, reason="workers fork on Linux")
def test_a_forked_worker_makes_its_own_thread_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parent's pool of threads (backends.local) is not the child's: a fork copies no
    thread, and a task handed to the copied pool would wait for ever."""
    assert _through_the_thread_pool(0) == 0  # the pool, and its threads, here
    monkeypatch.setenv(START_VARIABLE, "fork")
    assert run_all(_through_the_thread_pool, [1, 2]) == {0: 10, 1: 20}


def _nap(n: int) -> int:
    import time

    time.sleep(0.05)
    return n


@pytest.mark.parametrize("queued", [0, 2])
def test_queued_items_wait_in_the_pool_beside_those_running(queued: int) -> None:
    """With queued = q, workers + q items are handed out before the first result comes
    back (the next item waits for a worker that finishes), and every result arrives."""
    events: list[tuple[str, int]] = []
    run_tasks(_nap, list(range(6)), 2, on_start=lambda i: events.append(("start", i)),
              on_result=lambda i, v: events.append(("done", i if v == i else -1)),
              queued=queued)
    first_done = next(j for j, e in enumerate(events) if e[0] == "done")
    assert events[:first_done] == [("start", i) for i in range(2 + queued)]
    assert sorted(i for what, i in events if what == "done") == list(range(6))


QUIET_PROBE = """
import threading, time
from emgmm_cli.backends.processes import run_tasks, start_method
from emgmm_cli.forking import quiet_at_fork

lock = threading.RLock()
stop = threading.Event()

def busy():  # works only under its lock, as a progress display's refresh thread does
    while not stop.is_set():
        with lock:
            time.sleep(0.001)

def free(_):  # in a worker: the lock is not held there
    return lock.acquire(timeout=5)

thread = threading.Thread(target=busy, daemon=True)
thread.start()
print(start_method())
with quiet_at_fork(thread, lock):
    print(start_method())
    found = {}
    run_tasks(free, [0, 1, 2, 3], 2, on_start=lambda i: None, on_result=found.__setitem__)
    print(sorted(found.items()))
print(start_method())
stop.set()
"""


@pytest.mark.skipif(not FORKS, reason="workers fork on Linux")
def test_workers_fork_beside_a_thread_registered_as_quiet_and_find_its_lock_free() -> None:
    assert in_fresh_process(QUIET_PROBE).splitlines() == [
        "spawn", "fork", "[(0, True), (1, True), (2, True), (3, True)]", "spawn"]


@pytest.mark.skipif(not (FORKS and PROC), reason="workers fork on Linux, seen in /proc")
def test_workers_killed_as_they_start_fail_the_run_with_a_message(tmp_path: Path) -> None:
    """Every worker SIGKILLed as soon as it appears: the pool breaks with tasks not yet
    handed over, and closes their pipe while its thread still writes them.  The parent
    died of that SIGPIPE (exit 141, said nothing: as if stdout's reader had gone); now
    its cells run again alone, die again, and select says which, exit 1."""
    import numpy as np

    rng = np.random.default_rng(0)
    centres = rng.integers(0, 3, 20_000)[:, None] * 4.0
    np.save(tmp_path / "x.npy", rng.normal(size=(20_000, 3)) + centres)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EMGMM_FORCE_TTY": "0", START_VARIABLE: "fork"}
    proc = subprocess.Popen([sys.executable, "-m", "emgmm_cli", "select", "x.npy", "-k", "2-3",
                             "-c", "full,diag", "--jobs", "2", "--seed", "0"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed: set[int] = set()
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        for pid in set(forked_workers(proc.pid)) - killed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            killed.add(pid)
        time.sleep(0.005)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out) == (1, ""), err
    assert re.fullmatch(r"Error: cell (full|diag) K=[23]: its worker process died \(killed, or "
                        r"out of memory\), also when run again alone\n", err), err


@pytest.mark.skipif(not PROC, reason="workers seen in /proc")
@pytest.mark.parametrize("method", ["fork", "spawn"] if FORKS else ["spawn"])
def test_workers_end_when_their_parent_is_killed(tmp_path: Path, method: str) -> None:
    """batch --jobs 2 SIGKILLed (as the out-of-memory killer ends it): its workers went
    on, then waited for a next task for ever (their siblings hold the pipes open, so no
    SIGPIPE came), SIGTERM ignored, orphans of init.  Now each sees its parent gone, stops
    its task as a stop signal would (no output committed, no temporary file left), and
    ends within a few seconds."""
    import numpy as np

    rng = np.random.default_rng(0)
    (tmp_path / "d").mkdir()
    for name in "abcd":
        np.save(tmp_path / "d" / f"{name}.npy", rng.normal(size=(20_000, 4)))
    env = {**os.environ, "PYTHONPATH": str(ROOT), START_VARIABLE: method}
    proc = subprocess.Popen(
        [sys.executable, "-m", "emgmm_cli", "batch", "d", "-k", "6", "--tol", "0",
         "--max-iter", "1000000", "--jobs", "2", "-o", "out", "-q"], cwd=tmp_path, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while len(workers) < 2 and time.monotonic() < deadline:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        workers = [int(c) for c in children.read_text().split()
                   if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()]
        time.sleep(0.05)
    assert len(workers) == 2, workers
    time.sleep(2.0)  # fitting their datasets
    proc.kill()
    proc.wait(timeout=10)
    ended = time.monotonic() + 20
    alive = workers
    while alive and time.monotonic() < ended:
        # a zombie (state Z) has ended: its new parent, init, reaps it when it will
        alive = [w for w in workers if Path(f"/proc/{w}").exists() and
                 Path(f"/proc/{w}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
        time.sleep(0.2)
    assert alive == []
    left = sorted(p.relative_to(tmp_path / "out").as_posix()
                  for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert left == [], left


def _tagged(tag: str, i: int, pause: float) -> tuple[str, int]:
    time.sleep(pause)
    return tag, i


def _in_threads(run: Callable[[str], None], tags: str) -> None:
    import threading

    threads = [threading.Thread(target=run, args=(tag,)) for tag in tags]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
        assert not thread.is_alive()


@pytest.mark.skipif(not FORKS, reason="workers fork on Linux")
def test_pools_run_from_threads_at_once_each_get_their_own_items(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two pools of forked workers run from two threads at once (the API's select with
    jobs=2, EMGMM_WORKER_START=fork): the workers of one inherited the other's items
    (each pool set the one module-wide _inherited), so a select returned another call's
    cells, with no error, or a bare AssertionError.  The second pool now waits."""
    from functools import partial

    monkeypatch.setenv(START_VARIABLE, "fork")
    results: dict[str, dict[int, Any]] = {}

    def run(tag: str) -> None:  # lambdas: they reach the workers by fork alone
        results[tag] = run_all(_call, [partial(_tagged, tag, i, 0.05) for i in range(6)])

    _in_threads(run, "abc")
    assert results == {tag: {i: (tag, i) for i in range(6)} for tag in "abc"}


@pytest.mark.skipif(not FORKS, reason="workers fork on Linux")
def test_pools_run_from_threads_at_once_leave_the_environment_as_it_was(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each pool set the BLAS thread variables to 1 and put back what it had found: pools
    run from several threads at once put back each other's 1, left in os.environ for
    every process the program started afterwards."""
    from functools import partial

    from emgmm_cli.backends.processes import THREAD_LIMIT_VARS

    monkeypatch.setenv(START_VARIABLE, "spawn")  # spawned pools run side by side
    for name in THREAD_LIMIT_VARS:
        monkeypatch.delenv(name, raising=False)
    seen: dict[str, dict[int, Any]] = {}

    def run(tag: str) -> None:  # the later a pool starts, the later it ends
        pause = {"a": 0.1, "b": 1.0}[tag]
        seen[tag] = run_all(partial(_tagged, tag, pause=pause), list(range(4)))

    _in_threads(run, "ab")
    assert seen == {tag: {i: (tag, i) for i in range(4)} for tag in "ab"}
    assert {name: os.environ.get(name) for name in THREAD_LIMIT_VARS} == dict.fromkeys(
        THREAD_LIMIT_VARS)


def _select_in_daemon(jobs: Any, queue: Any) -> None:
    import emgmm_cli

    x = np.loadtxt(ROOT / "sample_data" / "faithful.csv", delimiter=",", skiprows=1)
    try:
        found = emgmm_cli.select(x, range(1, 4), ["full", "diag"], seed=0, jobs=jobs)
        queue.put(("ok", [row["log_likelihood"] for row in found.rows()]))
    except Exception as exc:  # noqa: BLE001 - reported to the test
        queue.put((type(exc).__name__, str(exc)))


@pytest.mark.skipif(not FORKS, reason="workers fork on Linux")
def test_select_in_a_daemon_process_says_it_cannot_start_workers() -> None:
    """A daemon process (a multiprocessing.Pool's worker) cannot have children: select with
    jobs=2 there failed with multiprocessing's bare AssertionError.  An explicit count of
    workers is a BackendError that says why; jobs='auto' fits the cells in the process."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    outcomes = []
    for jobs in (2, "auto", 1):
        queue = ctx.Queue()
        process = ctx.Process(target=_select_in_daemon, args=(jobs, queue), daemon=True)
        process.start()
        outcomes.append(queue.get(timeout=120))
        process.join(60)
    assert outcomes[0] == ("WorkersUnavailable", "cannot start worker processes (a daemon "
                           "process cannot start processes); run with --jobs 1")
    assert outcomes[1] == outcomes[2] and outcomes[1][0] == "ok"
