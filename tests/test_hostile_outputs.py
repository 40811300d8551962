"""Outputs under hostile conditions: a full disk behind stdout, a closed stderr, requests
too large for memory, a batch whose input is missing: each failure says what failed, on
stderr, and leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from emgmm_cli.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
FULL = Path("/dev/full")


def shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EMGMM_FORCE_TTY": "0"}
    emgmm = f"{shlex.quote(sys.executable)} -m emgmm_cli"
    return subprocess.run(command.replace("emgmm", emgmm, 1), shell=True, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("outputs")
    rng = np.random.default_rng(2)
    x = np.r_[rng.normal(0, 1, (100, 2)), rng.normal(6, 1, (100, 2))]
    np.savetxt(root / "x.csv", x, delimiter=",", header="x,y", comments="", fmt="%.6f")
    done = shell("emgmm fit x.csv -k 2 --seed 0 --model m.json -o labels.csv", root)
    assert done.returncode == 0, done.stderr
    return root


@pytest.mark.skipif(not FULL.exists(), reason="no /dev/full here")
@pytest.mark.parametrize("command", [
    "fit x.csv -k 2 --seed 0", "fit x.csv -k 2 --seed 0 --json", "predict m.json x.csv",
    "score m.json x.csv", "sample m.json -n 50000", "info m.json", "make-blobs -n 50000",
    "select x.csv -k 1-2 -c diag --n-init 1 --seed 0", "completion bash"])
def test_a_full_disk_behind_stdout_is_named_as_stdout(work: Path, command: str) -> None:
    done = shell(f"emgmm {command} > /dev/full", work)
    assert done.returncode == 1
    assert done.stderr == "Error: <stdout>: cannot write: No space left on device\n"


@pytest.mark.skipif(not FULL.exists(), reason="no /dev/full here")
@pytest.mark.parametrize("command", ["--help", "--version", "-h", "fit --help",
                                     "select -h", "make-blobs --help"])
def test_a_full_disk_behind_clicks_own_output_is_named_as_stdout(work: Path,
                                                                 command: str) -> None:
    """click writes help and the version while it parses, before any command runs."""
    done = shell(f"emgmm {command} > /dev/full", work)
    assert done.returncode == 1
    assert done.stderr == "Error: <stdout>: cannot write: No space left on device\n"


@pytest.mark.skipif(not FULL.exists(), reason="no /dev/full here")
@pytest.mark.parametrize("command", [
    "fit x.csv -k 2 --seed 0 --plot FULL.png", "fit x.csv -k 2 --seed 0 --trace-plot FULL.png",
    "select x.csv -k 1-2 -c diag --n-init 1 --seed 0 --plot FULL.png"])
def test_a_device_output_that_fails_leaves_stdout_unwritten(work: Path, command: str
                                                            ) -> None:
    """A picture through a link to /dev/full was written after the labels or the table on
    stdout: the run failed (exit 1) with its data already out."""
    link = work / "FULL.png"
    if not link.is_symlink():
        link.symlink_to(FULL)
    done = shell(f"emgmm {command}", work)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "Error: FULL.png: cannot write: No space left on device\n"


NO_STDOUT = "Error: <stdout>: there is no standard output to write to\n"


@pytest.mark.parametrize(("command", "status", "stderr"), [
    ("fit x.csv -k 2 --seed 0", 1, NO_STDOUT),
    ("select x.csv -k 1-2 -c diag --n-init 1 --seed 0", 1, NO_STDOUT),
    ("info m.json", 1, NO_STDOUT), ("completion bash", 1, NO_STDOUT),
    ("--version", 0, "")])  # click drops its own output where there is no stdout
def test_with_stdout_closed_a_run_ends_as_it_says(work: Path, command: str, status: int,
                                                 stderr: str) -> None:
    done = shell(f"emgmm {command} >&-", work)
    assert (done.returncode, done.stderr) == (status, stderr)


@pytest.mark.skipif(not FULL.exists(), reason="no /dev/full here")
@pytest.mark.parametrize("command", [
    "fit x.csv -k 2 --seed 0 --with-rows --model out/m.json --trace out/t.csv",
    "make-blobs -n 1000 --labels out/l.csv --centers-out out/c.csv",
    "score m.json x.csv -o out/s.csv --json",
    "select x.csv -k 1-2 -c diag --n-init 1 --seed 0 --model out/m.json"])
@pytest.mark.parametrize("stdout", ["> /dev/full", ">&-"])
def test_a_failed_stdout_leaves_the_other_outputs_unwritten(work: Path, command: str,
                                                            stdout: str) -> None:
    """Standard output was written after the files were renamed into place: a full disk
    behind it, or none at all, failed the run (exit 1) with its files written, and the
    versions they replaced gone.  Now stdout is written first; the old files stay."""
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    names = [word.split("/")[1] for word in command.split() if word.startswith("out/")]
    for name in names:
        (out / name).write_text("old\n")
    done = shell(f"emgmm {command} {stdout}", work)
    assert done.returncode == 1, done.stderr
    assert done.stderr in (NO_STDOUT,
                           "Error: <stdout>: cannot write: No space left on device\n")
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    assert all((out / name).read_text() == "old\n" for name in names)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_closed_stdout_is_found_before_the_data_is_read(tmp_path: Path) -> None:
    """As an output folder that does not exist is: the input, a named pipe no one writes
    to, is never read (reading it would wait for ever), and no fit is made."""
    os.mkfifo(tmp_path / "never")
    done = shell("emgmm fit never -k 2 >&-", tmp_path)
    assert (done.returncode, done.stderr) == (1, NO_STDOUT)


def test_a_reader_that_stops_early_still_gets_the_files(tmp_path: Path) -> None:
    """| head: the run ends by SIGPIPE (exit 141 in a shell), quietly, and the files named
    beside stdout are written (after stdout now: SIGPIPE is held while stdout is written,
    then delivered)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EMGMM_FORCE_TTY": "0"}
    with subprocess.Popen([sys.executable, "-m", "emgmm_cli", "make-blobs", "-n", "200000",
                           "--seed", "0", "--labels", "l.csv", "--centers-out", "c.csv"],
                          cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline() == b"x0,x1\n"
        proc.stdout.close()
        assert proc.wait(timeout=120) == -13 and proc.stderr.read() == b""
    centers = np.loadtxt(tmp_path / "c.csv", delimiter=",", skiprows=1)
    labels = np.loadtxt(tmp_path / "l.csv", dtype=int)
    assert labels.shape == (200000,) and centers.shape[0] == labels.max() + 1


def test_with_stderr_closed_the_error_does_not_go_to_stdout(work: Path) -> None:
    done = shell("emgmm fit missing.csv -k 2 2>&-", work)
    assert (done.returncode, done.stdout) == (1, "")


@pytest.mark.parametrize(("command", "advice"), [
    ("sample m.json -n 100000000000000",
     "draw fewer points with -n (or several samples with different --seed)"),
    ("make-blobs -n 100000000000000",
     "make fewer points with -n (or several files with different --seed)"),
])
def test_out_of_memory_advice_names_the_commands_own_options(work: Path, command: str,
                                                            advice: str) -> None:
    os.chdir(work)
    result = CliRunner().invoke(cli, command.split(), env={"EMGMM_FORCE_TTY": None})
    assert result.exit_code == 1
    assert result.stderr == f"Error: out of memory; {advice}\n"


def test_a_missing_batch_input_writes_nothing(tmp_path: Path) -> None:
    done = shell("emgmm batch nodir/ -k 2 --output-dir out", tmp_path)
    assert done.returncode == 1
    assert done.stderr == "Error: nodir/: no such file or directory; check the path\n"
    assert list(tmp_path.iterdir()) == []


def test_a_fortran_ordered_npy_over_the_memory_limit_is_read_block_by_block(
        tmp_path: Path) -> None:
    x = np.asfortranarray(np.random.default_rng(3).normal(size=(3000, 3)) + [0, 5, 10])
    np.save(tmp_path / "f.npy", x)
    args = ["fit", "f.npy", "-k", "2", "--seed", "0", "--json", "--columns", "2,0"]
    os.chdir(tmp_path)
    whole = CliRunner().invoke(cli, args, env={"EMGMM_FORCE_TTY": None})
    blocks = CliRunner().invoke(cli, [*args, "--memory-limit", "4K"],
                                env={"EMGMM_FORCE_TTY": None})
    assert whole.exit_code == 0 and blocks.exit_code == 0, blocks.output
    a, b = json.loads(whole.stdout), json.loads(blocks.stdout)
    for key in ("means", "covariances", "weights", "log_likelihood", "n_iter"):
        assert a[key] == b[key], key


@pytest.mark.parametrize("path", ["/dev/stdout", "/dev/fd/1"])
def test_stdout_by_name_is_written_where_the_shell_points_it(work: Path, path: str) -> None:
    """Not a temporary file renamed onto the file behind > or >>: that replaced what was
    there (the line before, the appended file's content) and lost what came after."""
    done = shell(f"{{ echo first; emgmm predict m.json x.csv -o {path}; echo last; }} > "
                 f"out.txt && echo appended >> out.txt && "
                 f"{shlex.quote(sys.executable)} -m emgmm_cli predict m.json x.csv -o {path}"
                 " >> out.txt", work)
    assert done.returncode == 0, done.stderr
    labels = (work / "labels.csv").read_text()
    assert (work / "out.txt").read_text() == f"first\n{labels}last\nappended\n{labels}"


@pytest.mark.parametrize("outputs", ["--model /dev/stdout -o -",
                                     "--model /dev/fd/1 -o /dev/stdout"])
def test_stdout_by_two_names_is_two_outputs_on_stdout(work: Path, outputs: str) -> None:
    done = shell(f"emgmm fit x.csv -k 2 --seed 0 {outputs} > two.txt", work)
    assert done.returncode == 2
    assert done.stderr.endswith("Error: only one output can go to stdout, got -o/--labels, "
                                "--model\n")
    assert (work / "two.txt").read_text() == ""


@pytest.fixture
def closed_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder that exists and takes no new file: read-only by its mode where this runs
    as another user than root, else by a read-only bind mount (skipped where neither)."""
    folder = tmp_path / "closed"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    made = subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(folder)],
                          capture_output=True)
    if made.returncode != 0:
        pytest.skip("root here, and no read-only bind mount can be made")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


@pytest.mark.parametrize("command", ["fit x.csv -k 2 --seed 0 --output-dir {dir}",
                                     "batch x.csv -k 2 --seed 0 --output-dir {dir}"])
def test_an_output_folder_that_takes_no_file_is_refused_before_the_fit(
        work: Path, closed_dir: Path, command: str) -> None:
    """fit --output-dir and batch --output-dir of an existing folder where no file can be
    created failed only once the fit was over (batch: each dataset, then its summary);
    errors.md says before the data are read."""
    done = shell("emgmm " + command.format(dir=shlex.quote(str(closed_dir))), work)
    assert done.returncode == 1 and done.stderr == (
        f"Error: {closed_dir}: cannot create files in this directory (permission denied or "
        "read-only)\n")
    assert list(closed_dir.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_folder_that_takes_no_file_is_not_called_missing(work: Path) -> None:
    done = shell("emgmm fit x.csv -k 2 --seed 0 -o /proc/labels.csv", work)
    assert done.returncode == 1
    assert done.stderr in (  # root may create files anywhere, /proc still refuses them
        "Error: /proc/labels.csv: cannot write: '/proc' takes no new files\n",
        "Error: /proc/labels.csv: permission denied: cannot create files in '/proc'\n")


def test_a_file_name_that_is_not_utf8_is_written_back_as_its_own_bytes(work: Path,
                                                                      tmp_path: Path) -> None:
    """A data file whose name holds a byte that is not UTF-8 (bad\\xff.csv) ended fit
    --model, select --json and batch with 'internal error: UnicodeEncodeError', batch
    without its summary.  Text outputs now hold the name's own bytes (as ls writes it),
    JSON the \\\\udcff escape, which json.loads and os.fsencode turn back into them."""
    raw = b"bad\xff.csv"
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / os.fsdecode(raw)).write_bytes((work / "x.csv").read_bytes())
    (runs / "ok.csv").write_bytes((work / "x.csv").read_bytes())
    fitted = shell("emgmm fit bad*.csv -k 2 --seed 0 --model ../m.json -o ../labels.csv", runs)
    assert fitted.returncode == 0, fitted.stderr
    document = (tmp_path / "m.json").read_bytes()
    assert b'"source": "bad\\udcff.csv"' in document
    assert os.fsencode(json.loads(document.decode("utf-8"))["source"]) == raw
    predicted = shell("emgmm predict ../m.json bad*.csv", runs)
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stdout.encode() == (tmp_path / "labels.csv").read_bytes()
    selected = shell("emgmm select bad*.csv -k 1-2 -c diag --n-init 1 --seed 0 --json", runs)
    assert selected.returncode == 0, selected.stderr
    assert os.fsencode(json.loads(selected.stdout)["source"]) == raw
    batch = shell("emgmm batch runs -k 2 --seed 0 --output-dir out", tmp_path)
    assert batch.returncode == 0, batch.stderr
    summary = (tmp_path / "out" / "summary.csv").read_bytes()
    assert b"bad\xff.csv," in summary and b"ok.csv," in summary


def test_data_on_stdout_is_utf8_whatever_the_encoding_of_the_locale(tmp_path: Path) -> None:
    """With an ASCII standard output (PYTHONIOENCODING=ascii, a C locale without UTF-8)
    a column named 'é' ended fit --with-rows -o -, fit --model - and info with 'internal
    error: UnicodeEncodeError'.  Data on stdout is now the file's very bytes, and a
    summary on the terminal shows what the encoding cannot as an escape."""
    (tmp_path / "e.csv").write_text("é,b\n1,2\n3,4.5\n5,1\n7,3\n", encoding="utf-8")
    to_file = shell("emgmm fit e.csv -k 1 --seed 0 --with-rows -o rows.csv --model m.json",
                    tmp_path)
    assert to_file.returncode == 0, to_file.stderr
    piped = shell("PYTHONIOENCODING=ascii emgmm fit e.csv -k 1 --seed 0 --with-rows -o - "
                  "> piped.csv", tmp_path)
    assert piped.returncode == 0, piped.stderr
    assert (tmp_path / "piped.csv").read_bytes() == (tmp_path / "rows.csv").read_bytes()
    assert (tmp_path / "rows.csv").read_bytes().startswith("é,b,".encode())
    shown = shell("PYTHONIOENCODING=ascii EMGMM_FORCE_TTY=1 emgmm info m.json", tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "(\\xe9, b)" in shown.stdout


@pytest.mark.skipif(not FULL.exists(), reason="no /dev/full here")
def test_a_warning_that_cannot_be_written_is_dropped_and_the_run_goes_on(tmp_path: Path
                                                                         ) -> None:
    """A warning with stderr on a full disk ended a sound fit with exit 1 and no labels:
    it is dropped now, as with stderr closed."""
    (tmp_path / "l1.csv").write_bytes("é,b\n1,2\n3,4.5\n5,1\n7,3\n".encode("latin-1"))
    said = shell("emgmm fit l1.csv -k 1 --seed 0", tmp_path)
    assert said.returncode == 0 and "emgmm: warning: " in said.stderr
    dropped = shell("emgmm fit l1.csv -k 1 --seed 0 2>/dev/full", tmp_path)
    assert dropped.returncode == 0
    assert dropped.stdout == said.stdout and len(said.stdout.splitlines()) == 4
