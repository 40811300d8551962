"""SIGTERM and SIGHUP (what timeout, schedulers, kill and a closing terminal send) stop a
run as Ctrl-C does: exit 143 or 129, nothing partial anywhere, a batch's summary written;
and the cache directory loses the temporary files of runs killed outright.

Real processes (python -m emgmm_cli), signalled once they have started the step under
test: writing their outputs, converting text to the binary cache, fitting a batch.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from emgmm_cli import interrupts
from emgmm_cli.backends.processes import START_VARIABLE, run_tasks
from emgmm_cli.cli.main import BLAS_THREAD_VARIABLES
from emgmm_cli.interrupts import Stopped, stopping_on_signals
from emgmm_cli.io.cache import STALE_TEMP_SECONDS, remove_orphans

from conftest import assert_stopped_batch

ROOT = Path(__file__).resolve().parent.parent
STOPPED: dict[int, tuple[int, str]] = {
    signal.SIGTERM: (143, "emgmm: stopped by SIGTERM"),
    signal.SIGHUP: (129, "emgmm: stopped by SIGHUP")}


def start(*args: str, cwd: Path, **env_: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EMGMM_FORCE_TTY": "0", **env_}
    return subprocess.Popen([sys.executable, "-m", "emgmm_cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def signal_when(proc: subprocess.Popen[str], ready: Callable[[], bool], signum: int,
                timeout: float = 60) -> tuple[int, str]:
    """Send signum as soon as ready() holds; (exit code, last line of stderr)."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the step under test never started"
        time.sleep(0.002)
    proc.send_signal(signum)
    err = stderr_of(proc)
    return proc.returncode, (err.splitlines() or [""])[-1]


def stderr_of(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    """What proc wrote to stderr once it ended; killed (and the test failed) if it has
    not ended within timeout seconds, so that no hung run outlives the test."""
    try:
        return proc.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*tmp-*"))


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset whose outputs take a good part of a second to write, and its text form."""
    root = tmp_path_factory.mktemp("signals")
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 1, (150_000, 3)), rng.normal(4, 1, (150_000, 3))]
    np.save(root / "big.npy", x)
    np.savetxt(root / "big.csv", x[:120_000], delimiter=",", header="a,b,c", comments="",
               fmt="%.6f")
    return root


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_while_outputs_are_written_leaves_nothing(big: Path, tmp_path: Path,
                                                           signum: int) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proc = start("fit", str(big / "big.npy"), "-k", "4", "--seed", "0", "--max-iter", "3",
                 "--responsibilities", str(out / "resp.csv"), "-o", str(out / "labels.csv"),
                 "--model", str(out / "model.json"), cwd=tmp_path)
    code, last = signal_when(proc, lambda: bool(temporaries(out)), signum)
    assert (code, last) == STOPPED[signum]
    assert sorted(p.name for p in out.iterdir()) == []  # no output, no temporary file


def test_a_signal_while_outputs_are_written_leaves_no_output_dir_of_its_own(
        big: Path, tmp_path: Path) -> None:
    """SIGTERM while fit wrote into an --output-dir it had made left that folder, empty
    (exit 143); now the folders the run made go with its outputs (as batch's do), and a
    folder that was there stays."""
    made = tmp_path / "new" / "deeper"
    proc = start("fit", str(big / "big.npy"), "-k", "4", "--seed", "0", "--max-iter", "3",
                 "--output-dir", str(made), "--responsibilities", str(made / "resp.csv"),
                 cwd=tmp_path)
    code, last = signal_when(proc, lambda: made.is_dir() and bool(temporaries(made)),
                             signal.SIGTERM)
    assert (code, last) == STOPPED[signal.SIGTERM]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_signals_after_the_first_cut_nothing_short(big: Path, tmp_path: Path) -> None:
    """A second and third signal (timeout passing its SIGTERM on, a user's Ctrl-C) while a
    run cleans up after the first change nothing: one stop's exit status and line, not
    click's "Aborted!", and nothing left."""
    out = tmp_path / "out"
    out.mkdir()
    proc = start("fit", str(big / "big.npy"), "-k", "4", "--seed", "0", "--max-iter", "3",
                 "--responsibilities", str(out / "resp.csv"), "-o", str(out / "labels.csv"),
                 cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not temporaries(out):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.002)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        proc.send_signal(signum)
        time.sleep(0.001)
    err = stderr_of(proc)
    # the one that stops it: the first Python handles (signals that wait together are
    # handled in the order of their numbers, not of their coming)
    assert (proc.returncode, err.splitlines()[-1]) in [
        *STOPPED.values(), (130, "emgmm: interrupted")]
    assert "Aborted" not in err and list(out.iterdir()) == []


#: A run whose threads cannot all end: one of the engine's block threads waits for a lock
#: nobody will release, as they do when a signal's exception, raised in the main thread
#: just as it took one of the pool's locks, left that lock taken (Python cannot undo that).
STUCK_THREAD = """
import sys, threading
from emgmm_cli.backends.local import _pool
from emgmm_cli.cli.main import main
taken = threading.Lock()
taken.acquire()
_pool(1).submit(taken.acquire)
sys.argv = ["emgmm", "fit", sys.argv[1], "-k", "2"]
main()
"""


def writer_of(fifo: Path, proc: subprocess.Popen[str]) -> int:
    """The write end of fifo, once proc has opened it and waits in a read from it (its
    main thread asleep in the kernel's pipe read, Linux's /proc says).  A signal that
    comes just before the read starts is only flagged, and the read waits on: the race
    of every blocking call in Python, not what the test is about."""
    deadline = time.monotonic() + 60
    end = None
    while end is None or "pipe_read" not in Path(f"/proc/{proc.pid}/wchan").read_text():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        if end is None:
            try:
                end = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: no reader yet
                pass
        time.sleep(0.002)
    return end


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_stopped_run_exits_even_if_a_thread_cannot_end(tmp_path: Path, signum: int) -> None:
    """Once stopped and cleaned up, a run exits: it does not wait for its threads at the
    interpreter's shutdown (which would then wait for ever).  And the signal reaches the
    main thread, waiting in a read, not the block thread (where it would only be
    flagged, and the read would wait on)."""
    fifo = tmp_path / "points.csv"
    os.mkfifo(fifo)
    # BLAS on one thread, as main() has it before numpy is loaded (here numpy is loaded
    # first): a BLAS thread would take the signal as the block thread would
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EMGMM_FORCE_TTY": "0",
           **dict.fromkeys(BLAS_THREAD_VARIABLES, "1")}
    proc = subprocess.Popen([sys.executable, "-c", STUCK_THREAD, str(fifo)], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    end = writer_of(fifo, proc)
    try:
        proc.send_signal(signum)
        err = stderr_of(proc, timeout=30)
    finally:
        os.close(end)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    expected = STOPPED.get(signum, (130, "emgmm: interrupted"))
    assert (proc.returncode, err.splitlines()[-1]) == expected


#: `emgmm fit` on the file named first, as the console script runs it, with SIGTERM sent to
#: itself while click parses the arguments (before the command) or as click ends the run
#: (after it): click catches such an exception itself ("Aborted!", exit status 1).
OUTSIDE_THE_COMMAND = """
import os, signal, sys, time
import click
from emgmm_cli.cli import main as entry
where = sys.argv[2]
owner, name = (entry.cli, "make_context") if where == "before" else (click.Context, "exit")
real = getattr(owner, name)
def signalled(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.2)  # delivered and handled here
    return real(*args, **kwargs)
setattr(owner, name, signalled)
sys.argv = ["emgmm", "fit", sys.argv[1], "-k", "2", "--seed", "0", "-o", "labels.csv"]
entry.main()
"""


@pytest.mark.parametrize("where,code,last", [
    ("before", *STOPPED[signal.SIGTERM]), ("after", 0, "")])
def test_a_signal_outside_the_command_is_the_runs_own(tmp_path: Path, where: str, code: int,
                                                      last: str) -> None:
    """A stop that comes before the command starts stops the run (143, its line); one
    that comes as the run ends, its outputs written, leaves its exit status as it was."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EMGMM_FORCE_TTY": "0"}
    proc = subprocess.run([sys.executable, "-c", OUTSIDE_THE_COMMAND,
                           str(ROOT / "sample_data" / "faithful.csv"), where], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert (proc.returncode, (proc.stderr.splitlines() or [""])[-1]) == (code, last)
    assert (tmp_path / "labels.csv").exists() == (where == "after")


def test_sigterm_during_the_cache_conversion_leaves_no_orphan(big: Path,
                                                              tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    proc = start("fit", str(big / "big.csv"), "-k", "2", "--seed", "0", "--memory-limit", "1M",
                 "--cache-dir", str(cache), "-o", str(tmp_path / "labels.csv"), cwd=tmp_path)
    code, last = signal_when(proc, lambda: cache.is_dir() and bool(temporaries(cache)),
                             signal.SIGTERM)
    assert (code, last) == STOPPED[signal.SIGTERM]
    assert list(cache.iterdir()) == []
    assert not (tmp_path / "labels.csv").exists()


@pytest.fixture(scope="module")
def long_texts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two CSVs of 48 MB (a 1 MB block of rows written 48 times over): converting one to
    the cache takes a second or more on any machine."""
    root = tmp_path_factory.mktemp("long") / "data"
    root.mkdir()
    rng = np.random.default_rng(5)
    for name in ("one", "two"):
        rows = io.StringIO()
        np.savetxt(rows, rng.normal(size=(25_000, 4)), delimiter=",", fmt="%.6f")
        with open(root / f"{name}.csv", "w", encoding="ascii") as fh:
            fh.write("a,b,c,d\n" + rows.getvalue() * 48)
    return root


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_sigterm_stops_batch_workers_while_they_convert_text(long_texts: Path,
                                                             tmp_path: Path,
                                                             method: str) -> None:
    """Workers converting large text to the cache stop between its chunks (interrupts.
    stop_point), within a fraction of a second of the signal: no cache file completed, no
    temporary one left.  (They used to look first at their fit's first EM iteration,
    after the conversion and the hierarchy: 3.6 s on this test's machine for files of
    76 MB.)"""
    cache, results = tmp_path / "cache", tmp_path / "results"
    proc = start("batch", str(long_texts), "-k", "2", "--seed", "0", "--jobs", "2",
                 "--memory-limit", "1M", "--cache-dir", str(cache), "-o", str(results),
                 cwd=tmp_path, EMGMM_WORKER_START=method)
    sent: list[float] = []

    def converting() -> bool:  # both workers writing their conversions
        if cache.is_dir() and len(temporaries(cache)) >= 2:
            sent.append(time.monotonic())
            return True
        return False

    assert signal_when(proc, converting, signal.SIGTERM) == STOPPED[signal.SIGTERM]
    assert time.monotonic() - sent[0] < 3.0
    assert list(cache.iterdir()) == []
    assert [p.name for p in results.iterdir()] == ["summary.csv"]


def test_orphans_of_runs_killed_outright_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    old = cache / ".data-0123-abcd.npy.tmp-k1ll3d00"
    live = cache / ".data-0123-abcd.npy.tmp-wr1t1ng0"
    kept = cache / "data-0123-abcd.npy"
    for path in (old, live, kept):
        path.write_bytes(b"\x93NUMPY")
    then = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(old, (then, then))
    os.utime(kept, (then, then))
    assert remove_orphans(str(cache)) == [old.name]
    assert sorted(p.name for p in cache.iterdir()) == sorted([live.name, kept.name])


def test_the_next_run_cleans_the_cache_directory(big: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    orphan = cache / ".big-000000000000-0000-000000.npy.tmp-abcdefgh"
    orphan.write_bytes(b"x" * 1000)
    then = time.time() - 2 * STALE_TEMP_SECONDS
    os.utime(orphan, (then, then))
    small = tmp_path / "small.csv"
    small.write_text("a,b\n" + "".join(f"{i % 7},{i % 5}.5\n" for i in range(400)))
    proc = start("fit", str(small), "-k", "2", "--seed", "0", "--memory-limit", "1K",
                 "--cache-dir", str(cache), "-o", str(tmp_path / "l.csv"), cwd=tmp_path)
    err = stderr_of(proc)
    assert proc.returncode == 0, err
    assert not orphan.exists()
    assert temporaries(cache) == []


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("many")
    rng = np.random.default_rng(4)
    (root / "data").mkdir()
    for i in range(16):
        x = np.r_[rng.normal(0, 1, (3000, 3)), rng.normal(5, 1, (3000, 3))]
        np.save(root / "data" / f"set{i:02d}.npy", x)
    return root


@pytest.mark.parametrize("jobs,method", [("1", "fork"), ("2", "fork"), ("2", "spawn")])
def test_sigterm_stops_a_batch_and_its_summary_is_written(many: Path, jobs: str,
                                                          method: str) -> None:
    results = many / f"results-{jobs}-{method}"
    proc = start("batch", "data", "-k", "3", "--n-init", "3", "--seed", "0",
                 "--output-dir", results.name, "--jobs", jobs, cwd=many,
                 EMGMM_WORKER_START=method)
    code, last = signal_when(proc, lambda: len(list(results.glob("*/model.json"))) >= 1,
                             signal.SIGTERM)
    assert (code, last) == STOPPED[signal.SIGTERM]
    assert_stopped_batch(results, 16)


def children(pid: int) -> set[int]:
    """The processes pid started (Linux's /proc), empty where there is no such listing."""
    found: set[int] = set()
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        found |= {int(p) for p in listing.read_text().split()}
    return found


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_sigterm_stops_a_select_in_worker_processes(many: Path, method: str) -> None:
    """select --jobs 2 (or its default, auto, on these 6,000 rows) fits the cells in
    worker processes, forked or spawned: SIGTERM stops them all, even as they start, and
    the table is not written."""
    table = many / "cells.csv"
    proc = start("select", "data/set00.npy", "-k", "1-9", "--seed", "0", "--jobs", "2",
                 "--table", table.name, cwd=many, EMGMM_WORKER_START=method)
    workers: set[int] = set()

    def busy() -> bool:  # signalled as soon as the first worker is being started
        workers.update(children(proc.pid))
        return len(workers) >= 2

    # no traceback from a worker stopped while it started: the signal's line comes last
    assert signal_when(proc, busy, signal.SIGTERM) == STOPPED[signal.SIGTERM]
    assert not table.exists() and temporaries(many) == []
    deadline = time.monotonic() + 10
    while any(running(pid) for pid in workers):
        assert time.monotonic() < deadline, "a worker outlived the run"
        time.sleep(0.01)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
def test_sigterm_stops_the_cells_in_flight_at_their_next_iteration(many: Path) -> None:
    """The cells a worker is fitting stop at their next EM iteration, not at their end:
    plain EM to a change of exactly 0 takes these cells thousands of iterations (some
    15 s or more each), the run ends within seconds of the signal."""
    proc = start("select", "data/set00.npy", "-k", "7-8", "-c", "VVV", "--n-init", "1",
                 "--tol", "0", "--max-iter", "100000", "--accelerate", "none",
                 "--seed", "0", "--jobs", "2", "--table", "stopped.csv", cwd=many)
    workers: set[int] = set()
    started: list[float] = []

    def fitting() -> bool:  # a second after both workers started: inside their cells
        workers.update(children(proc.pid))
        if len(workers) >= 2 and not started:
            started.append(time.monotonic())
        return bool(started) and time.monotonic() > started[0] + 1.0

    assert signal_when(proc, fitting, signal.SIGTERM) == STOPPED[signal.SIGTERM]
    assert time.monotonic() - (started[0] + 1.0) < 5.0
    assert not (many / "stopped.csv").exists()


def running(pid: int) -> bool:
    """Whether the process is there and not a zombie (one that ended, not yet reaped)."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def test_holding_interrupts_holds_sigterm_too() -> None:
    with stopping_on_signals():
        interrupts.hold_interrupts()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)  # delivered, noted, not raised
        assert interrupts.interrupt_noted()
        with pytest.raises(Stopped) as info:
            interrupts.release_interrupts()
        assert info.value.signum == signal.SIGTERM and info.value.exit_status == 143
        assert not interrupts.interrupt_noted()
        interrupts.hold_interrupts()
        interrupts.release_interrupts()  # nothing came: nothing raised
    assert interrupts.stop_received() is None


def test_once_a_stop_is_reported_later_signals_are_ignored() -> None:
    """After the first stop, another signal is ignored while its exception is on its way;
    once the stop is reported (the command line has said its line and chosen its exit
    status, and the exception it goes on with is no longer a KeyboardInterrupt), one that
    comes outside any handler is ignored too: raised there, it would reach click as
    "Aborted!" and exit status 1 (test_signals_after_the_first_cut_nothing_short, seen)."""
    with stopping_on_signals():
        with pytest.raises(Stopped):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.01)
        with pytest.raises(Stopped):  # not reported: a later signal still stops
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)
        interrupts.stop_reported()
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(0.01)  # delivered, ignored
        assert interrupts.stop_received() is not None  # the first stop's, still
        assert interrupts.stop_received().exit_status == 143  # type: ignore[union-attr]
    assert interrupts.stop_received() is None


# --------------------------------------------------------------------------- the task loop


def _mark(path: str) -> str:
    """A task: a moment's work, then its file written (as a dataset's outputs are)."""
    time.sleep(0.05)
    Path(path).write_text("done")
    return path


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_signal_while_a_result_is_reported_loses_no_result(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """SIGTERM landing in the middle of reporting a result (here, sent from inside
    on_result, where a batch records a dataset in its summary) stops the run only once
    that result and every other finished task have been reported: each task's file is a
    reported result, and nothing more was started."""
    monkeypatch.setenv(START_VARIABLE, method)
    paths = [str(tmp_path / f"task{i}") for i in range(12)]
    reported: dict[int, str] = {}

    def on_result(i: int, value: str | BaseException) -> None:
        if not reported:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # delivered here, in the middle of the report
        assert isinstance(value, str)
        reported[i] = value

    with stopping_on_signals(), pytest.raises(Stopped):
        run_tasks(_mark, paths, 2, on_start=lambda i: None, on_result=on_result)
    written = sorted(p for p in paths if Path(p).exists())
    assert sorted(reported.values()) == written and 1 <= len(written) < len(paths)


def _masks_the_stop(item: int) -> int:
    """A task that turns the KeyboardInterrupt a signal raises inside it into another
    exception, as numpy's comparison of structured arrays does (np.unique(x, axis=0))."""
    if item == 1:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        except KeyboardInterrupt:
            raise TypeError("Cannot compare structured arrays") from None
    if item == 3:  # the same exception, no signal
        raise TypeError("Cannot compare structured arrays")
    return item


def test_signals_while_a_stop_is_on_its_way_are_ignored() -> None:
    """While the first stop's exception is handled (the run cleans up), the signals that
    follow do not raise again (they would cut the clean-up short); the run's stop stays
    the first one, and the next run raises."""
    with stopping_on_signals():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
            pytest.fail("SIGTERM raised nothing")
        except Stopped as first:
            for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):  # the clean-up
                os.kill(os.getpid(), signum)
                time.sleep(0.01)  # delivered and handled: nothing raised
            assert first.signum == signal.SIGTERM
        assert isinstance(interrupts.stop_received(), Stopped)
        assert interrupts.stop_received().signum == signal.SIGTERM  # type: ignore[union-attr]
    with stopping_on_signals(), pytest.raises(Stopped):
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(1)


class Swallows:
    """An object whose finaliser a signal interrupts: the stop's exception is raised inside
    __del__, where Python prints "Exception ignored" and drops it (as the dask client's
    futures' finalisers do)."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # Swallows
def test_a_stop_whose_exception_was_lost_still_stops_the_run() -> None:
    """The fit's next iteration raises it (interrupts.polling), and so does the next
    signal (the first one's)."""
    import emgmm_cli

    with stopping_on_signals():
        Swallows()  # collected at once: the signal came and went, nothing raised
        assert isinstance(interrupts.stop_received(), Stopped)
        with pytest.raises(Stopped):
            emgmm_cli.fit(ROOT / "sample_data" / "faithful.csv", 2, seed=0)
        with pytest.raises(Stopped) as info:
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(1)
        assert info.value.signum == signal.SIGTERM


def test_a_stop_turned_into_another_exception_still_stops_the_run() -> None:
    """In this process (one worker), a task's exception is its result, unless a stop
    signal came: then the run stops as the signal asked, and no later task starts."""
    reported: dict[int, int | BaseException] = {}
    with stopping_on_signals(), pytest.raises(Stopped) as info:
        run_tasks(_masks_the_stop, [0, 1, 2], 1, on_start=lambda i: None,
                  on_result=reported.__setitem__)
    assert info.value.signum == signal.SIGTERM and reported == {0: 0}
    reported.clear()
    with stopping_on_signals():  # no signal: the exception is the task's result
        run_tasks(_masks_the_stop, [3, 2], 1, on_start=lambda i: None,
                  on_result=reported.__setitem__)
    assert isinstance(reported[0], TypeError) and reported[1] == 2


@pytest.mark.skipif(shutil.which("nohup") is None, reason="needs nohup")
def test_a_run_under_nohup_goes_on_when_its_terminal_closes(big: Path,
                                                           tmp_path: Path) -> None:
    """nohup starts the run ignoring SIGHUP: it stays ignored, and the fit completes."""
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EMGMM_FORCE_TTY": "0"}
    proc = subprocess.Popen(["nohup", sys.executable, "-m", "emgmm_cli", "fit",
                             str(big / "big.npy"), "-k", "4", "--seed", "0", "--max-iter", "3",
                             "-o", str(out / "labels.csv"), "--model", str(out / "model.json")],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    code, last = signal_when(proc, lambda: bool(temporaries(out)), signal.SIGHUP)
    assert code == 0, last
    assert sorted(p.name for p in out.iterdir()) == ["labels.csv", "model.json"]


#: A Ctrl-C that lands while `module` is being imported, as one pressed in the program's
#: first tenth of a second would: a finder ahead of every other raises it there.
CTRL_C_DURING_IMPORT = """
import sys
class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            raise KeyboardInterrupt
sys.meta_path.insert(0, CtrlC())
sys.argv = ["emgmm", "make-blobs", "-n", "10"]
from emgmm_cli.launch import main
main()
"""


@pytest.mark.parametrize("module", ["click", "emgmm_cli.cli.make_blobs", "numpy"])
def test_ctrl_c_while_starting_is_an_interrupt_not_a_traceback(module: str) -> None:
    """Ctrl-C in the first ~0.1 s (`timeout -s INT 0.1 emgmm make-blobs`) printed Python's
    KeyboardInterrupt traceback from inside click's or numpy's import: the program's
    handlers came after them.  The entry point (emgmm_cli.launch) now catches it."""
    from emgmm_cli.cli.context import ExitStatus
    from emgmm_cli.launch import INTERRUPTED

    assert INTERRUPTED == ExitStatus.INTERRUPTED
    done = subprocess.run([sys.executable, "-c", CTRL_C_DURING_IMPORT.format(module=module)],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "emgmm: interrupted\n")


def test_the_console_script_starts_at_the_launcher() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"emgmm": "emgmm_cli.launch:main"}
    assert "from emgmm_cli.launch import main" in (ROOT / "emgmm_cli" / "__main__.py").read_text()
