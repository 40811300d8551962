"""What `emgmm select` and `emgmm fit` import on their common path (issue 10: start-up time).

Data small enough for memory and one block, the default local backend, the result on
stdout (a pipe): none of the modules that only other paths need is loaded.  Each run is
a real `emgmm` process (emgmm_cli.cli.main.main, as the console script runs it) that
writes the names in sys.modules when it ends; no timing is asserted, only presence.
The controls show the same probe seeing those modules when a run does need them, and
every run's output is checked against a reference (mclust, scikit-learn).  And how such a
process ends: main() ends it itself once the command is over, with the command's status,
its output flushed and the atexit functions run, without the interpreter's teardown.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
FAITHFUL = ROOT / "sample_data" / "faithful.csv"

#: Runs `emgmm ARGS` in this process as the console script does, then writes the names of
#: the loaded modules to the file named first (at exit: main() runs the atexit functions,
#: then ends the process).
PROBE = """
import atexit, sys
out, sys.argv = sys.argv[1], ["emgmm", *sys.argv[2:]]

@atexit.register
def listing():
    with open(out, "w", encoding="utf-8") as fh:
        fh.write("\\n".join(sorted(sys.modules)))

from emgmm_cli.cli.main import main
main()
"""

#: Loaded by no plain select or fit: libraries of other paths (the dask backend, pandas
#: for large text, pictures, rich tables on a terminal, Parquet), numpy's masked arrays
#: (np.unique loads them unless asked for indices), the standard library's process and
#: thread pools, JSON, temporary files and shutil (with bz2 and lzma), and the modules of
#: this package that only other paths or commands use.
NOT_ON_THE_COMMON_PATH = (
    "dask", "distributed", "pandas", "matplotlib", "plotext", "PIL", "rich", "pyarrow",
    "scipy", "sklearn", "numpy.ma", "multiprocessing", "concurrent.futures", "json",
    "tempfile", "shutil",
    "emgmm_cli.backends.dask", "emgmm_cli.backends.processes",
    "emgmm_cli.backends.blockfile", "emgmm_cli.app.plotting", "emgmm_cli.app.batching",
    "emgmm_cli.app.models", "emgmm_cli.app.blobs",
    "emgmm_cli.cli.batch", "emgmm_cli.cli.predict", "emgmm_cli.cli.score",
    "emgmm_cli.cli.plot", "emgmm_cli.cli.sample", "emgmm_cli.cli.info",
    "emgmm_cli.cli.make_blobs", "emgmm_cli.cli.completion",
)


def run(tmp_path: Path, *args: str) -> tuple[str, set[str]]:
    """`emgmm ARGS` in a fresh interpreter, stdout and stderr pipes: (stdout, modules)."""
    listing = tmp_path / "modules.txt"
    env = {k: v for k, v in os.environ.items() if k != "EMGMM_FORCE_TTY"}
    proc = subprocess.run([sys.executable, "-c", PROBE, str(listing), *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, set(listing.read_text(encoding="utf-8").split())


def test_select_loads_only_its_own_path(tmp_path: Path) -> None:
    out, modules = run(tmp_path, "select", str(FAITHFUL), "-k", "1-3", "-c", "VVV,EEE",
                       "--seed", "0")
    assert "emgmm_cli.cli.select" in modules and "emgmm_cli.engine.selection" in modules
    assert [m for m in NOT_ON_THE_COMMON_PATH if m in modules] == []
    assert "emgmm_cli.cli.fit" not in modules
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 6
    best = [r for r in rows if r["best"] == "true"]
    # Mclust(faithful, G = 1:9) chooses EEE with 3 components, BIC -2314.316
    # (../shared/reference/README.md); emgmm's BIC has the opposite sign, and its optimum
    # may be a little better than mclust's, never worse
    assert [(b["mclust"], b["n_components"]) for b in best] == [("EEE", "3")]
    assert 2314.316 - 0.1 < float(best[0]["bic"]) <= 2314.316 + 0.01


def test_a_collapsed_component_loads_no_masked_arrays(tmp_path: Path) -> None:
    """EVI with 4 components on Old Faithful (seed 0) meets a component that collapses in
    one of its runs: its M-step keeps the others' covariances without np.setdiff1d,
    which loads numpy.ma (8 ms in a worker)."""
    out, modules = run(tmp_path, "select", str(FAITHFUL), "-k", "4", "-c", "EVI",
                       "--seed", "0", "--jobs", "1")
    assert len(list(csv.DictReader(io.StringIO(out)))) == 1
    assert [m for m in NOT_ON_THE_COMMON_PATH if m in modules] == []


def test_fit_loads_only_its_own_path(tmp_path: Path) -> None:
    from sklearn.metrics import adjusted_rand_score
    from sklearn.mixture import GaussianMixture

    out, modules = run(tmp_path, "fit", str(FAITHFUL), "-k", "2", "--seed", "0")
    assert "emgmm_cli.cli.fit" in modules
    assert [m for m in NOT_ON_THE_COMMON_PATH if m in modules] == []
    assert "emgmm_cli.cli.select" not in modules and "emgmm_cli.app.selecting" not in modules
    labels = np.array(out.split(), dtype=np.int64)
    x = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    reference = GaussianMixture(2, covariance_type="full", n_init=5,
                                random_state=0).fit_predict(x)
    assert len(labels) == len(x) and adjusted_rand_score(reference, labels) == 1.0


def test_the_probe_sees_what_a_run_needs(tmp_path: Path) -> None:
    """Controls: a model file loads json, --jobs 2 the process pool, data over the memory
    limit the block reader; the outputs are those of the common path."""
    plain, _ = run(tmp_path, "fit", str(FAITHFUL), "-k", "2", "--seed", "0")
    out, modules = run(tmp_path, "fit", str(FAITHFUL), "-k", "2", "--seed", "0",
                       "--labels", "-", "--model", "model.json")
    assert out == plain and (tmp_path / "model.json").stat().st_size > 0
    assert "json" in modules
    np.save(tmp_path / "faithful.npy", np.loadtxt(FAITHFUL, delimiter=",", skiprows=1))
    out, modules = run(tmp_path, "fit", "faithful.npy", "-k", "2", "--seed", "0",
                       "--memory-limit", "1KB")
    assert out == plain and "emgmm_cli.backends.blockfile" in modules
    table, _ = run(tmp_path, "select", str(FAITHFUL), "-k", "1-3", "-c", "VVV,EEE",
                   "--seed", "0")
    out, modules = run(tmp_path, "select", str(FAITHFUL), "-k", "1-3", "-c", "VVV,EEE",
                       "--seed", "0", "--jobs", "2")
    assert out == table
    assert "emgmm_cli.backends.processes" in modules and "concurrent.futures" in modules


#: main() with its command replaced by one that writes a line (left in the buffer) and
#: raises SystemExit(argv[1]); an atexit function that writes last; and a line after
#: main() that no run reaches.
EXIT_PROBE = """
import atexit, sys
from emgmm_cli.cli import main as entry

atexit.register(lambda: sys.stdout.write("atexit ran\\n"))
code = eval(sys.argv[1])

def command(*args, **kwargs):
    sys.stdout.write("the command's output\\n")
    raise SystemExit(code)

entry.cli.main = command
entry.main()
sys.stdout.write("after main\\n")
"""


@pytest.mark.parametrize(("code", "status", "stderr"), [
    ("None", 0, ""), ("0", 0, ""), ("3", 3, ""), ("'a message'", 1, "a message\n")])
def test_the_process_ends_with_the_commands_status_after_atexit(
        code: str, status: int, stderr: str) -> None:
    """main() ends the process itself once the command is over (skipping the interpreter's
    teardown): SystemExit's status, as Python would give it, the command's output flushed
    and the atexit functions run first."""
    proc = subprocess.run([sys.executable, "-c", EXIT_PROBE, code], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == status
    assert proc.stdout == "the command's output\natexit ran\n"
    assert proc.stderr == stderr


def _session_members(sid: int) -> list[str]:
    """The command lines of the processes whose session is sid (Linux /proc)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
            cmdline = Path("/proc", entry, "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        # the fields after the command name (which may hold spaces) in parentheses
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            members.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return members


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads Linux's /proc")
def test_a_select_with_worker_processes_leaves_none_behind(tmp_path: Path) -> None:
    """The process ends itself (main's _exit) only once its workers are done: a select
    whose cells ran in 2 worker processes, in a session of its own, leaves no process of
    that session when it exits; its table is select's."""
    args = ["select", str(FAITHFUL), "-k", "1-3", "-c", "VVV,EEE", "--seed", "0"]
    alone, _ = run(tmp_path, *args)
    proc = subprocess.Popen([sys.executable, "-m", "emgmm_cli", *args, "--jobs", "2"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out == alone
    assert _session_members(proc.pid) == []


def test_the_console_script_imports_nothing_before_it_can_catch_ctrl_c() -> None:
    """The console script imports emgmm_cli.launch, and so the package, before launch.main
    catches KeyboardInterrupt: a Ctrl-C meanwhile is Python's traceback.  The package
    imported typing there (4 ms of that window); now those two modules load no other but
    __future__ (their `from __future__ import annotations`: a module of constants, where
    the environment's start-up has not loaded it already)."""
    code = ("import sys; before = set(sys.modules); import emgmm_cli.launch; "
            "print(sorted(set(sys.modules) - before - {'__future__'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.strip() == "['emgmm_cli', 'emgmm_cli.launch']"
