"""`emgmm batch`: every dataset of a tree fitted as `fit` would, one summary, robustly.

A generated tree holds good datasets (CSV, TSV, NPY, in subfolders) and bad ones (a
non-numeric value, too few rows for K, an empty file), plus files batch must leave alone.
Checked: the summary and its table, outputs mirrored under --output-dir, exit status 1
naming the bad files, the same results as `fit` and with --jobs 2 as with --jobs 1, a real
Ctrl-C followed by --skip-existing, and `find ... | emgmm batch -`.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from emgmm_cli.backends.processes import WORKER_DIED_ALONE, WorkerDied, run_tasks
from emgmm_cli.cli.main import cli

from conftest import PROC, forked_workers, invoke_in

ROOT = Path(__file__).resolve().parent.parent
STANDARD = ["labels.csv", "model.json", "trace.csv"]
GOOD = ["data/a.csv", "data/b.tsv", "data/c.npy", "data/sub/d.csv", "data/sub/deeper/e.csv"]


def blobs(rng: np.random.Generator, n: int, d: int, k: int = 3) -> np.ndarray:
    centres = np.arange(k)[:, None] * 6.0 + rng.normal(0.0, 0.3, (k, d))
    return np.vstack([rng.normal(centres[j], 1.0, (n // k, d)) for j in range(k)])


def write_csv(path: Path, x: np.ndarray, delimiter: str = ",") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    names = delimiter.join("xyzw"[j] for j in range(x.shape[1]))
    np.savetxt(path, x, delimiter=delimiter, header=names, comments="", fmt="%.8f")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tmp/data: five good datasets, three bad ones, and files to be ignored."""
    root = tmp_path_factory.mktemp("batch")
    data = root / "data"
    rng = np.random.default_rng(7)
    write_csv(data / "a.csv", blobs(rng, 150, 2))
    write_csv(data / "b.tsv", blobs(rng, 120, 3), delimiter="\t")
    np.save(data / "c.npy", blobs(rng, 90, 2))
    write_csv(data / "sub" / "d.csv", blobs(rng, 210, 2))
    write_csv(data / "sub" / "deeper" / "e.csv", blobs(rng, 60, 1))
    (data / "bad.csv").write_text("x,y\n1,2\n3,4\n5,abc\n6,7\n")
    (data / "tiny.csv").write_text("x,y\n1,2\n3,4\n")
    (data / "empty.csv").write_text("")
    (data / "notes.txt").write_text("not data\n")
    (data / ".hidden.csv").write_text("x\n1\n2\n3\n4\n")
    return root


def invoke(*args: str, tty: bool = False, columns: int = 200) -> Result:
    env = {"EMGMM_FORCE_TTY": "1" if tty else "0", "COLUMNS": str(columns)}
    return CliRunner().invoke(cli, list(args), env=env)


def read_summary(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def without_column(path: Path, name: str) -> list[list[str]]:
    """A CSV's rows without one column (timings differ from run to run)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    j = rows[0].index(name)
    return [r[:j] + r[j + 1:] for r in rows]


@pytest.fixture(scope="module")
def first_run(tree: Path) -> tuple[Result, Path]:
    """batch data -r -k 3 --seed 0 over the whole tree (one run shared by several tests)."""
    cwd = os.getcwd()
    os.chdir(tree)
    try:
        result = invoke("batch", "data", "-r", "-k", "3", "--seed", "0",
                        "--output-dir", "results")
    finally:
        os.chdir(cwd)
    return result, tree / "results"


# --------------------------------------------------------------------------- one batch


def test_summary_lists_every_dataset_with_its_status(first_run: tuple[Result, Path]) -> None:
    result, results = first_run
    rows = read_summary(results / "summary.csv")
    assert list(rows[0]) == ["file", "rows", "dims", "k", "covariance", "iterations",
                             "converged", "stopped", "log_likelihood", "bic", "seconds",
                             "status"]
    # directory listings in name order, files before subfolders
    assert [r["file"] for r in rows] == [
        "data/a.csv", "data/b.tsv", "data/bad.csv", "data/c.npy", "data/empty.csv",
        "data/tiny.csv", "data/sub/d.csv", "data/sub/deeper/e.csv"]
    by_file = {r["file"]: r for r in rows}
    for name, (n, d) in {"data/a.csv": (150, 2), "data/b.tsv": (120, 3), "data/c.npy": (90, 2),
                         "data/sub/d.csv": (210, 2), "data/sub/deeper/e.csv": (60, 1)}.items():
        row = by_file[name]
        assert (row["rows"], row["dims"], row["k"], row["covariance"], row["status"]) == (
            str(n), str(d), "3", "full", "ok")
        assert row["converged"] == "true" and int(row["iterations"]) >= 1
        assert row["stopped"] == "converged"
        assert float(row["log_likelihood"]) < 0 and float(row["bic"]) > 0
        assert float(row["seconds"]) > 0
        model = json.loads((results / Path(name).relative_to("data").with_suffix("")
                            / "model.json").read_text())
        assert float(row["log_likelihood"]) == pytest.approx(model["log_likelihood"], rel=1e-9)
        assert float(row["bic"]) == pytest.approx(model["bic"], rel=1e-9)
    assert by_file["data/bad.csv"]["status"] == (
        "failed: line 4: column 'y': non-numeric value 'abc'; fix or remove the row; "
        "use --columns to read only numeric columns")
    assert by_file["data/tiny.csv"]["status"] == (
        "failed: 3 components need at least 3 rows; the data has 2")
    assert (by_file["data/tiny.csv"]["rows"], by_file["data/tiny.csv"]["dims"]) == ("2", "2")
    assert by_file["data/empty.csv"]["status"] == "failed: file is empty"
    assert by_file["data/empty.csv"]["rows"] == "" and by_file["data/empty.csv"]["k"] == ""


def test_outputs_mirror_the_input_tree(first_run: tuple[Result, Path], tree: Path) -> None:
    _, results = first_run
    assert files_under(results) == sorted(
        [f"{stem}/{name}" for stem in ("a", "b", "c", "sub/d", "sub/deeper/e")
         for name in STANDARD] + ["summary.csv"])
    labels = np.loadtxt(results / "sub" / "d" / "labels.csv", dtype=np.int64)
    assert labels.shape == (210,) and set(labels.tolist()) == {0, 1, 2}
    trace = read_summary(results / "a" / "trace.csv")
    assert list(trace[0]) == ["iteration", "log_likelihood", "change", "seconds", "event"]
    # inputs untouched, nothing else written beside them
    assert files_under(tree / "data") == [
        ".hidden.csv", "a.csv", "b.tsv", "bad.csv", "c.npy", "empty.csv", "notes.txt",
        "sub/d.csv", "sub/deeper/e.csv", "tiny.csv"]


def test_failures_give_exit_1_and_name_the_files(first_run: tuple[Result, Path]) -> None:
    result, _ = first_run
    assert result.exit_code == 1
    assert result.stdout == ""  # not a terminal: the summary is in summary.csv only
    assert result.stderr.splitlines() == [
        "emgmm: error: data/bad.csv: line 4: column 'y': non-numeric value 'abc'; fix or "
        "remove the row; use --columns to read only numeric columns",
        "emgmm: error: data/empty.csv: file is empty",
        "emgmm: error: data/tiny.csv: 3 components need at least 3 rows; the data has 2",
        "Error: 3 of 8 datasets failed; see results/summary.csv",
    ]


def test_each_dataset_is_what_fit_gives(first_run: tuple[Result, Path], tree: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _, results = first_run
    monkeypatch.chdir(tree)
    for name in ("data/a.csv", "data/c.npy"):
        out = tree / "fit-out" / Path(name).stem
        fit = invoke("fit", name, "-k", "3", "--seed", "0", "--output-dir", str(out))
        assert fit.exit_code == 0, fit.output
        mine = results / Path(name).stem
        assert (mine / "labels.csv").read_bytes() == (out / "labels.csv").read_bytes()
        assert (mine / "model.json").read_bytes() == (out / "model.json").read_bytes()
        assert without_column(mine / "trace.csv", "seconds") == without_column(
            out / "trace.csv", "seconds")


def test_table_on_a_terminal(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    result = invoke("batch", "data", "-k", "3", "--seed", "0", "--output-dir", "tty-out",
                    tty=True, columns=160)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["file", "rows", "dims", "K", "cov", "iter", "conv",
                                "log-lik", "BIC", "sec", "status"]
    a_row = next(line for line in lines if line.startswith("data/a.csv ")).split()
    assert a_row[1:5] == ["150", "2", "3", "full"] and a_row[6] == "yes" and a_row[-1] == "ok"
    assert any(line.startswith("data/bad.csv ") and "failed: line 4: column 'y'" in line
               for line in lines)
    assert lines[-1].startswith("6 datasets: 3 fitted, 0 skipped, 3 failed in ")
    assert lines[-1].endswith("; summary in tty-out/summary.csv")


def test_quiet_keeps_only_the_errors(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    result = invoke("batch", "data/bad.csv", "data/a.csv", "-k", "3", "--output-dir", "quiet",
                    "-q", tty=True)
    assert result.exit_code == 1 and result.stdout == ""
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        "emgmm: error: data/bad.csv: line 4: column 'y': non-numeric value 'abc'; fix or "
        "remove the row; use --columns to read only numeric columns",
        "Error: 1 of 2 datasets failed; see quiet/summary.csv"]


def test_files_and_globs_choose_datasets(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    result = invoke("batch", "data", "--glob", "*.tsv", "--glob", "sub/*.csv", "-r", "-k", "3",
                    "--seed", "0", "--output-dir", "globbed", "--responsibilities",
                    "--summary", "globbed.json")
    assert result.exit_code == 0, result.output
    assert files_under(tree / "globbed") == sorted(
        [f"{stem}/{name}" for stem in ("b", "sub/d")
         for name in STANDARD + ["responsibilities.csv"]] + ["summary.csv"])
    records = json.loads((tree / "globbed.json").read_text())
    assert [(r["file"], r["rows"], r["k"], r["converged"], r["status"]) for r in records] == [
        ("data/b.tsv", 120, 3, True, "ok"), ("data/sub/d.csv", 210, 3, True, "ok")]
    resp = np.loadtxt(tree / "globbed" / "b" / "responsibilities.csv", delimiter=",",
                      skiprows=1)
    assert resp.shape == (120, 3) and np.allclose(resp.sum(axis=1), 1.0)


def test_an_empty_glob_is_a_usage_error(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--glob '' (an unset shell variable) said "no datasets found in data (looked for
    *.csv, ...)", the default patterns, exit 1, of a folder that holds such files."""
    monkeypatch.chdir(tree)
    result = invoke("batch", "data", "-k", "3", "--output-dir", "out", "--glob", "*.tsv",
                    "--glob", "")
    assert result.exit_code == 2 and not (tree / "out").exists()
    assert result.stderr.endswith("Error: Invalid value for '--glob': an empty pattern "
                                  "matches no file\n")


def test_a_glob_with_a_slash_looks_in_the_folders_it_names(tree: Path) -> None:
    """--glob 'sub/*.csv' without -r found nothing ("no datasets found"), since only the
    directory's own files were listed: a pattern with '/' names the folders it looks in.
    The patterns without '/' still match the top level only, unless -r."""
    from emgmm_cli.app.discover import discover

    def found(*patterns: str, recursive: bool = False) -> list[str]:
        items = discover((str(tree / "data"),), output_dir=str(tree / "unused"),
                         patterns=patterns, recursive=recursive)
        return [Path(item.path).relative_to(tree / "data").as_posix() for item in items]

    assert found("sub/*.csv") == ["sub/d.csv"]
    assert found("*.npy", "sub/*/*.csv") == ["c.npy", "sub/deeper/e.csv"]
    assert found("**/e.csv") == ["sub/deeper/e.csv"]
    assert found("*.tsv", "sub/*.csv") == ["b.tsv", "sub/d.csv"]
    assert found("d.csv") == [] and found("d.csv", recursive=True) == ["sub/d.csv"]


def test_a_directory_holds_compressed_text_and_parquet(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder of data.csv.gz (or Parquet) files was "no datasets": the default search
    knew .csv, .tsv and .npy only, though every command reads compressed text and
    Parquet.  Now they are datasets, their outputs in a folder named without the
    compression suffix; JSON (model files, settings) is left to --glob; a compressed and
    a plain copy of one dataset are refused as two datasets of one folder."""
    import gzip

    import pandas as pd

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(3)
    write_csv(tmp_path / "d" / "a.csv", blobs(rng, 90, 2))
    (tmp_path / "d" / "a.csv.gz").write_bytes(gzip.compress((tmp_path / "d" / "a.csv")
                                                            .read_bytes()))
    (tmp_path / "d" / "a.csv").rename(tmp_path / "d" / "A.tsv.bz2.txt")  # no dataset
    pd.DataFrame(blobs(rng, 60, 2), columns=["x", "y"]).to_parquet(tmp_path / "d" / "b.parquet")
    (tmp_path / "d" / "model.json").write_text("{}")
    result = invoke("batch", "d", "-k", "2", "--seed", "0", "--output-dir", "out")
    assert result.exit_code == 0, result.output
    assert [r["file"] for r in read_summary(tmp_path / "out" / "summary.csv")] == [
        "d/a.csv.gz", "d/b.parquet"]
    assert files_under(tmp_path / "out") == sorted(
        [f"{stem}/{name}" for stem in ("a", "b") for name in STANDARD] + ["summary.csv"])
    write_csv(tmp_path / "d" / "a.csv", blobs(rng, 90, 2))
    clash = invoke("batch", "d", "-k", "2", "--output-dir", "out2")
    assert clash.exit_code == 2 and "d/a.csv and d/a.csv.gz would both write to out2/a" \
        in clash.stderr, clash.output


def test_one_seed_for_every_dataset(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    result = invoke("batch", "data/a.csv", "data/c.npy", "-k", "2", "--output-dir", "seeded")
    assert result.exit_code == 0, result.output
    # files named on their own are mirrored by their path from the working directory
    seeds = {json.loads((tree / "seeded" / "data" / s / "model.json").read_text())
             ["options"]["seed"]
             for s in ("a", "c")}
    assert len(seeds) == 1 and isinstance(seeds.pop(), int)


def test_skip_existing_keeps_complete_outputs_fitted_alike(
        tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    args = ["batch", "data/a.csv", "data/c.npy", "data/tiny.csv", "--seed", "0",
            "--output-dir", "resumed"]
    assert invoke(*args, "-k", "3").exit_code == 1
    model_a = (tree / "resumed" / "data" / "a" / "model.json").read_bytes()
    (tree / "resumed" / "data" / "c" / "trace.csv").unlink()  # incomplete: fitted again
    again = invoke(*args, "-k", "3", "--skip-existing")
    assert again.exit_code == 1
    statuses = [(r["file"], r["status"]) for r in read_summary(tree / "resumed/summary.csv")]
    assert statuses[:2] == [("data/a.csv", "skipped"), ("data/c.npy", "ok")]
    assert statuses[2][0] == "data/tiny.csv" and statuses[2][1].startswith("failed: ")
    skipped = read_summary(tree / "resumed/summary.csv")[0]
    assert (skipped["rows"], skipped["k"], skipped["seconds"]) == ("150", "3", "")
    assert (tree / "resumed" / "data" / "a" / "model.json").read_bytes() == model_a
    # other options: fitted again, whatever is on disk
    other = invoke(*args[:3], *args[4:], "-k", "2", "--skip-existing")
    assert other.exit_code == 0, other.output
    assert [(r["status"], r["k"]) for r in read_summary(tree / "resumed/summary.csv")] == [
        ("ok", "2"), ("ok", "2")]


def test_skip_existing_fits_again_data_written_since_their_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A data file replaced after its batch kept the old results under --skip-existing:
    20 labels for 14 rows, status skipped, exit 0.  Now data modified at or after their
    model.json are fitted again (make's rule); untouched data are still kept."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    for name, n, seed in (("a", "20", "0"), ("b", "30", "1")):
        assert invoke("make-blobs", "-n", n, "--n-centers", "2", "--seed", seed, "-o",
                      f"data/{name}.csv").exit_code == 0
    args = ["batch", "data", "-k", "2", "--seed", "0", "--output-dir", "res", "-q"]
    assert invoke(*args).exit_code == 0
    assert invoke("make-blobs", "-n", "14", "--n-centers", "2", "--seed", "7", "-o",
                  "data/a.csv").exit_code == 0
    fitted = (tmp_path / "res" / "a" / "model.json").stat().st_mtime_ns
    os.utime("data/a.csv", ns=(fitted, fitted))  # the same tick: not known to be older
    again = invoke(*args, "--skip-existing")
    assert again.exit_code == 0, again.stderr
    rows = {r["file"]: (r["status"], r["rows"]) for r in read_summary(tmp_path / "res/summary.csv")}
    assert rows == {"data/a.csv": ("ok", "14"), "data/b.csv": ("skipped", "30")}
    assert len((tmp_path / "res" / "a" / "labels.csv").read_text().split()) == 14


def test_skip_existing_fits_again_another_file_of_the_same_size_and_times(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files of one size and written before the first batch: the folder renamed away and
    another put in its place (the files' own times are their old ones), and a batch of
    another folder into the same output folder (B/a.csv beside A/a.csv: out/a), both
    kept the first file's results (status skipped, exit 0).  model.json records the
    file's device and inode (source_file); another file is fitted again."""
    monkeypatch.chdir(tmp_path)
    for folder in ("A", "B", "swap"):
        (tmp_path / folder).mkdir()
    x = np.random.default_rng(0).normal(size=(150, 2)) + np.repeat([[0, 0], [5, 0]], 75, 0)
    for folder, rows in (("A", x), ("B", x[::-1]), ("swap", x[:, ::-1])):  # one size
        np.savetxt(tmp_path / folder / "a.csv", rows, fmt="%.6f", delimiter=",",
                   header="u,v", comments="")
    old = os.stat("A/a.csv").st_mtime_ns - 10**10
    for folder in ("A", "B", "swap"):
        os.utime(f"{folder}/a.csv", ns=(old, old))
    assert len({os.stat(f"{f}/a.csv").st_size for f in ("A", "B", "swap")}) == 1
    args = ["-k", "2", "--seed", "0", "--output-dir", "out", "-q"]
    assert invoke("batch", "A", *args).exit_code == 0
    doc = json.loads((tmp_path / "out" / "a" / "model.json").read_text())
    st = os.stat("A/a.csv")
    assert doc["source_file"] == [st.st_dev, st.st_ino]
    assert invoke("batch", "A", *args, "--skip-existing").exit_code == 0
    assert read_summary(tmp_path / "out/summary.csv")[0]["status"] == "skipped"
    assert invoke("batch", "B", *args, "--skip-existing").exit_code == 0
    row = read_summary(tmp_path / "out/summary.csv")[0]
    assert (row["file"], row["status"]) == ("B/a.csv", "ok")
    alone = invoke("fit", "B/a.csv", "-k", "2", "--seed", "0", "-q")
    assert (tmp_path / "out/a/labels.csv").read_text() == alone.stdout
    os.rename("B", "B_old")
    os.rename("swap", "B")
    assert os.stat("B/a.csv").st_mtime_ns < os.stat("out/a/model.json").st_mtime_ns
    assert invoke("batch", "B", *args, "--skip-existing").exit_code == 0
    assert read_summary(tmp_path / "out/summary.csv")[0]["status"] == "ok"
    assert invoke("batch", "B", *args, "--skip-existing").exit_code == 0
    assert read_summary(tmp_path / "out/summary.csv")[0]["status"] == "skipped"


def test_skip_existing_fits_again_an_older_file_of_another_size_moved_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`mv new.npy data/x.npy` (new.npy written before the batch, so older than its
    model.json; as cp -p, rsync -t and tar keep times) was skipped: 600 labels kept for
    900 rows, exit 0.  model.json records the file's size; another size is fitted again."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    for path, n, seed in (("data/x.npy", "600", "1"), ("new.npy", "900", "5")):
        assert invoke("make-blobs", "-n", n, "--seed", seed, "-o", path).exit_code == 0
    args = ["batch", "data", "-k", "3", "--seed", "0", "--output-dir", "out", "-q"]
    assert invoke(*args).exit_code == 0
    doc = json.loads((tmp_path / "out" / "x" / "model.json").read_text())
    assert doc["source_size"] == (tmp_path / "data" / "x.npy").stat().st_size
    assert read_summary(tmp_path / "out/summary.csv")[0]["status"] == "ok"
    assert invoke(*args, "--skip-existing").exit_code == 0  # unchanged: kept
    assert read_summary(tmp_path / "out/summary.csv")[0]["status"] == "skipped"
    os.replace("new.npy", "data/x.npy")
    assert invoke(*args, "--skip-existing").exit_code == 0
    row = read_summary(tmp_path / "out/summary.csv")[0]
    assert (row["status"], row["rows"]) == ("ok", "900")
    # a file of the same size (every .npy of one shape) moved in, older than model.json:
    # kept the old results (labels of other data, exit 0); its change time says it came
    assert invoke("make-blobs", "-n", "900", "--seed", "9", "-o", "same.npy").exit_code == 0
    kept = os.stat("same.npy").st_mtime_ns
    os.utime("same.npy", ns=(kept - 10**10, kept - 10**10))  # written well before the fit
    assert invoke(*args, "--skip-existing").exit_code == 0
    assert read_summary(tmp_path / "out/summary.csv")[0]["status"] == "skipped"
    os.replace("same.npy", "data/x.npy")
    assert os.stat("data/x.npy").st_mtime_ns < os.stat("out/x/model.json").st_mtime_ns
    assert invoke(*args, "--skip-existing").exit_code == 0
    assert read_summary(tmp_path / "out/summary.csv")[0]["status"] == "ok"
    assert invoke("predict", "out/x/model.json", "data/x.npy").stdout == \
        (tmp_path / "out/x/labels.csv").read_text()
    # a link made to point at another file of that size
    os.replace("data/x.npy", "elsewhere.npy")
    assert invoke("make-blobs", "-n", "900", "--seed", "4", "-o", "other.npy").exit_code == 0
    os.utime("other.npy", ns=(kept - 10**10, kept - 10**10))
    os.symlink(tmp_path / "elsewhere.npy", "data/x.npy")
    assert invoke(*args).exit_code == 0
    os.utime("data/x.npy", ns=(kept - 10**10, kept - 10**10), follow_symlinks=False)
    os.remove("data/x.npy")
    os.symlink(tmp_path / "other.npy", "data/x.npy")
    assert invoke(*args, "--skip-existing").exit_code == 0
    assert read_summary(tmp_path / "out/summary.csv")[0]["status"] == "ok"


def test_an_output_that_cannot_be_written_fails_its_dataset_before_its_data_are_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file where a dataset's folder goes (DIR/a), or a folder where one of its outputs
    goes (DIR/b/labels.csv), was found as the outputs were written, after the fit (8.5 s
    of a 3,000,000-row fit thrown away); docs/errors.md says such outputs are found from
    the names, before the data is read.  Those datasets fail unread; the others are fitted."""
    monkeypatch.chdir(tmp_path)
    for name in "abc":
        write_csv(tmp_path / "d" / f"{name}.csv", blobs(np.random.default_rng(2), 90, 2))
    (tmp_path / "out" / "b" / "labels.csv").mkdir(parents=True)
    (tmp_path / "out" / "a").write_text("kept\n")
    result = invoke("batch", "d", "-k", "2", "--seed", "0", "-o", "out", "-q")
    assert result.exit_code == 1
    rows = {r["file"]: (r["rows"], r["status"]) for r in read_summary(tmp_path / "out/summary.csv")}
    assert rows == {
        "d/a.csv": ("", "failed: out/a: exists and is not a directory; choose another output "
                        "directory"),
        "d/b.csv": ("", "failed: out/b/labels.csv: is a directory; give a file name for this "
                        "output"),
        "d/c.csv": ("90", "ok")}
    assert (tmp_path / "out" / "a").read_text() == "kept\n"


def test_a_rerun_leaves_no_output_of_an_earlier_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run with K=3 and --responsibilities, then one with K=2 without, left the K=3
    responsibilities.csv beside the K=2 model, and --skip-existing --responsibilities
    then kept the pair.  A run removes the standard outputs it does not write."""
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "d" / "a.csv", blobs(np.random.default_rng(2), 90, 2))
    args = ["batch", "d", "--seed", "1", "-o", "out", "-q"]
    assert invoke(*args, "-k", "3", "--responsibilities").exit_code == 0
    assert invoke(*args, "-k", "2").exit_code == 0
    assert files_under(tmp_path / "out") == [*(f"a/{n}" for n in STANDARD), "summary.csv"]
    again = invoke(*args, "-k", "2", "--responsibilities", "--skip-existing")
    assert again.exit_code == 0, again.output
    assert [r["status"] for r in read_summary(tmp_path / "out" / "summary.csv")] == ["ok"]
    header = (tmp_path / "out" / "a" / "responsibilities.csv").read_text().split("\n")[0]
    assert header == "p0,p1"


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(("args", "message"), [
    (["data", "data/c.npy", "--glob", "c.*"], None),  # the same file twice is fitted once
    (["twins"], "twins/t.csv and twins/t.npy would both write to"),
    (["data", "--summary", "data/a.csv"], "refusing to overwrite the input file data/a.csv"),
    (["-", "-"], "'-' (a list of paths on stdin) can be given only once"),
    (["out-inside/data"], "is (inside) the output directory"),
])
def test_layouts_that_cannot_work_are_refused(tree: Path, monkeypatch: pytest.MonkeyPatch,
                                              args: list[str], message: str | None) -> None:
    monkeypatch.chdir(tree)
    twins = tree / "twins"
    twins.mkdir(exist_ok=True)
    write_csv(twins / "t.csv", np.arange(20.0).reshape(10, 2))
    np.save(twins / "t.npy", np.arange(20.0).reshape(10, 2))
    (tree / "out-inside" / "data").mkdir(parents=True, exist_ok=True)
    out = "out-inside" if args == ["out-inside/data"] else "refused"
    result = invoke("batch", *args, "-k", "2", "--seed", "0", "--output-dir", out)
    if message is None:
        assert result.exit_code == 0, result.output
        assert [r["file"] for r in read_summary(tree / out / "summary.csv")] == ["data/c.npy"]
    else:
        assert result.exit_code == 2 and message in result.stderr, result.output


@pytest.mark.parametrize(("summary", "message"), [
    ("out/a/labels.csv", "the same file is given for two outputs (an output of d/a.csv)"),
    ("out/./a/../a/model.json", "the same file is given for two outputs"),
    ("out/a/responsibilities.csv", "the same file is given for two outputs"),
    ("out/a/selection.csv", "the same file is given for two outputs"),
    ("out/summary.csv", "the same file is given for two outputs (the batch's summary.csv)"),
    ("out/a/notes.csv", "is inside out/a, the folder of the outputs of d/a.csv"),
    ("out/a", "is the folder of the outputs of d/a.csv"),
])
def test_a_summary_among_the_outputs_is_refused_before_any_fit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, summary: str, message: str) -> None:
    """--summary out/a/labels.csv replaced a's labels with the summary, exit 0, and a
    later --skip-existing kept the folder.  A summary where the batch writes (or, with
    other options, would write) a dataset's outputs is refused before anything runs."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    assert invoke("make-blobs", "-n", "60", "--n-centers", "2", "--seed", "1", "-o",
                  "d/a.csv").exit_code == 0
    result = invoke("batch", "d", "-k", "2", "--seed", "1", "-o", "out", "-q",
                    "--summary", summary)
    assert result.exit_code == 1 and message in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    beside = invoke("batch", "d", "-k", "2", "--seed", "1", "-o", "out", "-q",
                    "--summary", "out/a-summary.csv")
    assert beside.exit_code == 0, beside.output
    assert files_under(tmp_path / "out") == [
        "a-summary.csv", *(f"a/{name}" for name in STANDARD), "summary.csv"]


@pytest.mark.parametrize(("summary", "status", "message"), [
    ("nodir/s.csv", 1, "nodir/s.csv: cannot write: directory 'nodir' does not exist"),
    ("out/sub/s.csv", 1, "directory 'out/sub' does not exist"),
    ("s.xyz", 1, "s.xyz: unsupported output format '.xyz'"),
    ("s.npy", 2, "the summary has text columns; give --summary a .csv"),
])
def test_a_summary_that_cannot_be_written_is_refused_before_any_fit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, summary: str, status: int,
        message: str) -> None:
    """Such a --summary failed only after every dataset was fitted, and then
    DIR/summary.csv was not written either.  Now it is refused before any data is read,
    as every command's outputs are."""
    monkeypatch.chdir(tmp_path)
    np.savetxt(tmp_path / "a.csv", blobs(np.random.default_rng(1), 60, 2), delimiter=",",
               header="x,y", comments="")
    result = invoke("batch", "a.csv", "-k", "2", "--seed", "1", "-o", "out", "-q",
                    "--summary", summary)
    assert result.exit_code == status and message in result.stderr, result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_summary_csv_is_written_when_the_summary_file_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    np.savetxt(tmp_path / "a.csv", blobs(np.random.default_rng(1), 60, 2), delimiter=",",
               header="x,y", comments="")
    result = invoke("batch", "a.csv", "-k", "2", "--seed", "1", "-o", "out", "-q",
                    "--summary", "/dev/full")
    assert result.exit_code == 1 and "No space left on device" in result.stderr
    assert [r["status"] for r in read_summary(tmp_path / "out" / "summary.csv")] == ["ok"]


def test_nothing_to_fit_is_an_error(tmp_path: Path) -> None:
    result = invoke("batch", str(tmp_path), "-k", "2", "--output-dir", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert f"no datasets found in {tmp_path}" in result.stderr


def test_nothing_found_names_every_default_pattern(tmp_path: Path) -> None:
    """The message lists what the search looks for (app.discover), compressed text and
    Parquet included."""
    from emgmm_cli.app.discover import DEFAULT_BINARY, DEFAULT_FILES, DEFAULT_TEXT
    from emgmm_cli.io.formats import CODEC_BY_EXT

    (tmp_path / "empty").mkdir()
    result = invoke("batch", str(tmp_path / "empty"), "-k", "2",
                    "--output-dir", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert f"(looked for {DEFAULT_FILES};" in result.stderr
    for ext in (*DEFAULT_TEXT, *DEFAULT_BINARY, *CODEC_BY_EXT):
        assert ext in result.stderr


def test_output_dir_inside_the_data_is_not_searched(tmp_path: Path) -> None:
    write_csv(tmp_path / "p.csv", blobs(np.random.default_rng(1), 60, 2))
    for _ in range(2):
        result = invoke("batch", str(tmp_path), "-r", "-k", "2", "--seed", "1",
                        "--output-dir", str(tmp_path / "res"))
        assert result.exit_code == 0, result.output
        assert len(read_summary(tmp_path / "res" / "summary.csv")) == 1


# --------------------------------------------------------------------------- processes


def test_jobs_2_gives_the_results_of_jobs_1(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    # large enough for several row blocks, whose sums must not depend on the threads a
    # worker has (--jobs 1 fits with every core, each of two workers with half of them)
    big = tree / "big" / "large.npy"
    big.parent.mkdir(exist_ok=True)
    np.save(big, blobs(np.random.default_rng(5), 140_001, 2))  # 3 blocks of <= 65536 rows
    for jobs, method in (("1", "fork"), ("2", "fork"), ("2", "spawn")):  # how workers start
        monkeypatch.setenv("EMGMM_WORKER_START", method)
        result = invoke("batch", "data", "big/large.npy", "-r", "-k", "3", "--n-init", "2",
                        "--seed", "3", "--responsibilities", "--output-dir",
                        f"jobs{jobs}-{method}", "--jobs", jobs)
        assert result.exit_code == 1 and "3 of 9 datasets failed" in result.stderr
    one = tree / "jobs1-fork"
    assert (one / "big" / "large" / "model.json").is_file()
    for two in (tree / "jobs2-fork", tree / "jobs2-spawn"):
        assert files_under(one) == files_under(two)
        for name in files_under(one):
            if name.endswith("trace.csv") or name == "summary.csv":
                assert (without_column(one / name, "seconds")
                        == without_column(two / name, "seconds"))
            else:
                assert (one / name).read_bytes() == (two / name).read_bytes(), name


def _die_on_one(n: int) -> int:
    if n == 1:
        os._exit(3)  # a worker killed mid-task (as by the out-of-memory killer)
    time.sleep(0.3)  # so that item 2 cannot finish before item 1, taken before it, dies
    return n * 10


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_dead_worker_fails_its_own_task_alone(
        method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 0, in flight on the other worker when item 1's died, is lost with the pool and
    run again alone; item 1, run again alone, dies again and fails; 2 and 3 come after."""
    monkeypatch.setenv("EMGMM_WORKER_START", method)
    results: dict[int, object] = {}
    started: list[int] = []
    run_tasks(_die_on_one, [0, 1, 2, 3], 2, on_start=started.append,
              on_result=results.__setitem__)
    assert sorted(started) == [0, 1, 2, 3]  # each once: the runs again are not new starts
    assert {i: v for i, v in results.items() if i != 1} == {0: 0, 2: 20, 3: 30}
    assert isinstance(results[1], WorkerDied) and str(results[1]) == WORKER_DIED_ALONE


def _die_on_even(n: int) -> int:
    if n % 2 == 0:
        os._exit(3)
    time.sleep(0.3)
    return n * 10


def test_a_task_run_again_alone_is_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The last lost task ran again beside new ones from the queue: item 2, beside item
    1 run again, killed its worker, and item 1, innocent, was reported as the one that
    died alone."""
    results: dict[int, object] = {}
    run_tasks(_die_on_even, [0, 1, 2, 3], 2, on_start=lambda i: None,
              on_result=results.__setitem__)
    assert {i: v for i, v in results.items() if i % 2} == {1: 10, 3: 30}
    died = [results[0], results[2]]
    assert all(isinstance(v, WorkerDied) and v.alone for v in died)


def _zero_dies(n: int) -> int:
    if n == 0:
        os._exit(3)
    time.sleep(5.0)  # still running when item 0's death breaks the pool (then killed)
    return n * 10


def test_lost_tasks_a_stop_keeps_from_running_again_are_reported(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A stop (here SIGTERM as item 0's death is reported) ends the loop before item 1,
    lost with item 0's worker, runs again: it was left out of the results (batch then
    left the temporary files its killed writer made); it is reported as its worker's
    death, without 'run again alone'.  Forked workers: a spawned pool starts its second
    worker after the first, and Python's executor may see the first one's death only
    once the second has handed over its result (item 1's 10, item 0 lost 5 s later)."""
    from emgmm_cli.interrupts import Stopped, stopping_on_signals

    monkeypatch.setenv("EMGMM_WORKER_START", "fork")
    results: dict[int, object] = {}

    def on_result(i: int, value: object) -> None:
        results[i] = value
        if i == 0:
            os.kill(os.getpid(), signal.SIGTERM)

    with stopping_on_signals(), pytest.raises(Stopped):
        run_tasks(_zero_dies, [0, 1, 2], 2, on_start=lambda i: None, on_result=on_result)
    assert sorted(results) == [0, 1]
    assert isinstance(results[0], WorkerDied) and results[0].alone
    assert isinstance(results[1], WorkerDied) and not results[1].alone
    assert str(results[1]) == "its worker process died (killed, or out of memory)"


#: One worker dies while the other's task hands back a result larger than a pipe holds:
#: the survivor, ignoring the broken pool's SIGTERM, waited for ever to write it.
LARGE_RESULT_AFTER_A_DEATH = """
import os, signal, sys, time
from emgmm_cli.backends.processes import run_tasks
def task(n):
    if n == 0:
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(1.0)
    return b"x" * 1_000_000
if __name__ == "__main__":
    got = {}
    run_tasks(task, [0, 1, 2], 2, on_start=lambda i: None, on_result=got.__setitem__)
    print(type(got[0]).__name__, len(got[1]), len(got[2]))
"""


def test_a_large_result_beside_a_dead_worker_does_not_hang(tmp_path: Path) -> None:
    script = tmp_path / "large.py"
    script.write_text(LARGE_RESULT_AFTER_A_DEATH)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT),
                                            "EMGMM_WORKER_START": "fork"})
    assert (done.returncode, done.stdout) == (0, "WorkerDied 1000000 1000000\n"), done.stderr


def _die_once(item: tuple[int, str]) -> int:
    n, marker = item
    if n == 1 and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(3)  # killed once (out of memory beside the others), not again alone
    time.sleep(0.3)
    return n * 10


def test_tasks_lost_with_a_dead_worker_run_again(tmp_path: Path) -> None:
    results: dict[int, object] = {}
    marker = str(tmp_path / "died")
    run_tasks(_die_once, [(n, marker) for n in range(4)], 2, on_start=lambda i: None,
              on_result=results.__setitem__, queued=1)
    assert os.path.exists(marker) and results == {0: 0, 1: 10, 2: 20, 3: 30}


# --------------------------------------------------------------------------- real processes


def run_cli(*args: str, cwd: Path, **kwargs: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EMGMM_FORCE_TTY": "0"}
    return subprocess.Popen([sys.executable, "-m", "emgmm_cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kwargs)  # type: ignore[call-overload]


@pytest.mark.skipif(not PROC, reason="needs Linux's /proc")
def test_a_worker_killed_mid_fit_loses_nothing(tmp_path: Path) -> None:
    """A worker SIGKILLed (as by the out-of-memory killer) while it fits: the datasets in
    flight run again, alone, and the batch ends as a batch with --jobs 1 does, exit 0;
    a temporary file a killed writer left behind (here: one planted) is removed."""
    rng = np.random.default_rng(3)
    for name in "abc":
        (tmp_path / "data").mkdir(exist_ok=True)
        np.save(tmp_path / "data" / f"{name}.npy", blobs(rng, 30_000, 4, k=4))
    (tmp_path / "killed" / "b").mkdir(parents=True)
    stale = tmp_path / "killed" / "b" / ".labels.csv.tmp-1a2b3c4d"
    stale.write_text("0\n")
    batch = ["batch", "data", "-k", "4", "--seed", "0"]
    proc = run_cli(*batch, "--jobs", "2", "--output-dir", "killed", cwd=tmp_path)
    deadline = time.monotonic() + 30
    while not (workers := forked_workers(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert workers, "no worker process started"
    time.sleep(0.3)  # into its fit
    os.kill(workers[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    alone = subprocess.run([sys.executable, "-m", "emgmm_cli", *batch, "--jobs", "1",
                            "--output-dir", "alone"], cwd=tmp_path, capture_output=True,
                           text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert alone.returncode == 0, alone.stderr
    killed, one = tmp_path / "killed", tmp_path / "alone"
    assert files_under(killed) == files_under(one)  # no temporary file left
    assert without_column(killed / "summary.csv", "seconds") == without_column(
        one / "summary.csv", "seconds")
    for name in files_under(one):
        if name.endswith(("labels.csv", "model.json")):
            assert (killed / name).read_bytes() == (one / name).read_bytes(), name


def find_into_batch(find: str, batch: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`find data FIND | emgmm batch - BATCH`, a real shell pipeline in cwd."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EMGMM_FORCE_TTY": "0"}
    command = f"find data {find} | {shlex.quote(sys.executable)} -m emgmm_cli batch - {batch}"
    return subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


def test_find_piped_into_batch(tree: Path) -> None:
    done = find_into_batch("-name '*.csv' -not -name '.*'", "-k 3 --seed 0 --output-dir piped",
                           tree)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[-1] == "Error: 3 of 6 datasets failed; see piped/summary.csv"
    assert files_under(tree / "piped") == sorted(
        [f"data/{stem}/{name}" for stem in ("a", "sub/d", "sub/deeper/e") for name in STANDARD]
        + ["summary.csv"])
    assert sorted(r["file"] for r in read_summary(tree / "piped" / "summary.csv")) == [
        "data/a.csv", "data/bad.csv", "data/empty.csv", "data/sub/d.csv",
        "data/sub/deeper/e.csv", "data/tiny.csv"]


def test_find_that_finds_nothing_is_said_so(tree: Path) -> None:
    """Not 'no datasets found in - (looked for *.csv, ...)': nothing was looked for."""
    done = find_into_batch("-name '*.none'", "-k 3 --output-dir nothing", tree)
    assert (done.returncode, done.stderr) == (1, (
        "Error: <stdin>: lists no paths; pipe in the paths of the data files, one a line: "
        "find data -name '*.csv' | emgmm batch -\n"))
    assert not (tree / "nothing").exists()


def test_a_dash_for_the_output_folder_is_refused_not_made_a_folder(tmp_path: Path) -> None:
    """'-' is stdout wherever a file is written; batch -o - made a folder called '-' in
    the working directory (exit 0), and --cache-dir - would have too."""
    data = tmp_path / "data"
    write_csv(data / "a.csv", blobs(np.random.default_rng(0), 60, 2))
    for args in (["batch", "data", "-k", "2", "-o", "-"],
                 ["fit", "data/a.csv", "-k", "2", "--cache-dir", "-"]):
        done = run_cli(*args, cwd=tmp_path)
        out, err = done.communicate(timeout=60)
        assert done.returncode == 2 and out == "", err
        assert err.splitlines()[-1].endswith(
            "'-' stands for stdin or stdout, never a folder; give ./- for a folder called '-'")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 datasets that take a few seconds together; the last is 50 times the size of the
    others, so that a batch interrupted after its first results is surely still running
    (small fits finish in bursts when a process pool has run ahead of the writer)."""
    root = tmp_path_factory.mktemp("many")
    rng = np.random.default_rng(11)
    (root / "data").mkdir()
    for i in range(24):
        np.save(root / "data" / f"set{i:02d}.npy", blobs(rng, 300_000 if i == 23 else 6000, 3))
    return root


def check_complete_or_absent(results: Path) -> list[str]:
    """Every dataset folder holds exactly the standard files; no temporary file anywhere.
    Returns the folders, which summary.csv must list."""
    assert not [p for p in results.rglob(".*")], "temporary files left behind"
    folders = sorted(p.name for p in results.iterdir() if p.is_dir())
    for name in folders:
        assert sorted(f.name for f in (results / name).iterdir()) == STANDARD, name
    listed = sorted(Path(r["file"]).stem for r in read_summary(results / "summary.csv"))
    assert listed == folders
    return folders


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_then_skip_existing(many: Path, jobs: str) -> None:
    results = many / f"results-{jobs}"
    # the k-means start and plain EM: enough work that the batch is still running when
    # the interrupt comes
    args = ["batch", "data", "-k", "3", "--n-init", "4", "--seed", "0", "--init", "kmeans",
            "--accelerate", "none", "--tol", "1e-6", "--output-dir", results.name,
            "--jobs", jobs]
    proc = run_cli(*args, cwd=many)
    deadline = time.monotonic() + 60
    while len(list(results.glob("*/model.json"))) < 2 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.splitlines()[-1] == "emgmm: interrupted"
    done = check_complete_or_absent(results)
    assert 2 <= len(done) < 24

    proc = run_cli(*args, "--skip-existing", cwd=many)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert check_complete_or_absent(results) == [f"set{i:02d}" for i in range(24)]
    status = {Path(r["file"]).stem: r["status"] for r in read_summary(results / "summary.csv")}
    assert status == {name: "skipped" if name in done else "ok" for name in status}


# --------------------------------------------------------------------------- --select

SELECT = ["--select", "-k", "1-4", "-c", "full,diag", "--n-init", "2", "--seed", "0"]
SELECTION_COLUMNS = ("covariance_type,mclust,n_components,status,log_likelihood,n_parameters,"
                     "bic,aic,icl,converged,n_iter,stopped,best,seed,message")


@pytest.fixture(scope="module")
def select_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tmp/data: 3 well-separated blobs, 2 blobs, and a file that cannot be read."""
    from emgmm_cli.engine.blobs import make_blobs

    root = tmp_path_factory.mktemp("select")
    rng = np.random.default_rng(3)
    three, _ = make_blobs([70, 70, 70], [[0.0, 0.0], [9.0, 0.0], [0.0, 9.0]], rng=rng)
    two, _ = make_blobs([80, 80], [[0.0, 0.0], [8.0, 8.0]], rng=rng)
    write_csv(root / "data" / "three.csv", three)
    write_csv(root / "data" / "two.csv", two)
    (root / "data" / "bad.csv").write_text("x,y\n1,2\n3,4\n5,abc\n6,7\n")
    # two blobs 2 apart beside a third: BIC and ICL pick diag K=2 (by 10 units), AIC
    # diag K=4 (by 1.3)
    near, _ = make_blobs([70, 70, 70], [[0.0, 0.0], [2.0, 0.0], [0.0, 9.0]],
                         rng=np.random.default_rng(3))
    write_csv(root / "near" / "near.csv", near)
    return root


@pytest.fixture(scope="module")
def selected(select_tree: Path) -> dict[str, Result]:
    """batch data --select -k 1-4 -c full,diag --n-init 2 --seed 0, with --jobs 1 and 2."""
    cwd = os.getcwd()
    os.chdir(select_tree)
    try:
        return {jobs: invoke("batch", "data", *SELECT, "--output-dir", f"sel{jobs}",
                             "--jobs", jobs) for jobs in ("1", "2")}
    finally:
        os.chdir(cwd)


def test_select_chooses_each_datasets_model(selected: dict[str, Result],
                                            select_tree: Path) -> None:
    result, results = selected["1"], select_tree / "sel1"
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        ("emgmm: error: data/bad.csv: line 4: column 'y': non-numeric value 'abc'; fix or "
         "remove the row; use --columns to read only numeric columns"),
        "Error: 1 of 3 datasets failed; see sel1/summary.csv",
    ]
    assert files_under(results) == sorted(
        [f"{stem}/{name}" for stem in ("three", "two")
         for name in STANDARD + ["selection.csv"]] + ["summary.csv"])
    rows = {r["file"]: r for r in read_summary(results / "summary.csv")}
    assert list(rows) == ["data/bad.csv", "data/three.csv", "data/two.csv"]
    assert rows["data/bad.csv"]["status"].startswith("failed: line 4: column 'y'")
    for name, k, n in (("three", 3, 210), ("two", 2, 160)):
        row = rows[f"data/{name}.csv"]
        folder = results / name
        assert (folder / "selection.csv").read_text().splitlines()[0] == SELECTION_COLUMNS
        cells = read_summary(folder / "selection.csv")
        assert [(c["covariance_type"], c["n_components"]) for c in cells] == [
            (t, str(j)) for t in ("full", "diag") for j in range(1, 5)]
        assert all(c["status"] == "ok" for c in cells)
        best = [c for c in cells if c["best"] == "true"]
        assert len(best) == 1 and best[0]["n_components"] == str(k)
        assert float(best[0]["bic"]) == min(float(c["bic"]) for c in cells)
        # the summary shows the chosen cell, whose fit model.json is
        assert (row["rows"], row["k"], row["covariance"], row["status"]) == (
            str(n), str(k), best[0]["covariance_type"], "ok")
        model = json.loads((folder / "model.json").read_text())
        assert (model["n_components"], model["covariance_type"]) == (
            k, best[0]["covariance_type"])
        assert float(row["log_likelihood"]) == pytest.approx(model["log_likelihood"], rel=1e-9)
        assert float(row["bic"]) == pytest.approx(model["bic"], rel=1e-9)
        assert (row["iterations"], row["converged"]) == (str(model["n_iter"]), "true")
        assert str(model["n_iter"]) == best[0]["n_iter"]
        assert model["options"]["seed"] == int(best[0]["seed"])
        # the defaults where none was given (--n-init was)
        assert {o: model["options"][o] for o in ("init", "n_init", "tol", "max_iter")} == {
            "init": "auto", "n_init": 2, "tol": 1e-6, "max_iter": 2000}
        labels = np.loadtxt(folder / "labels.csv", dtype=np.int64)
        assert labels.shape == (n,) and set(labels.tolist()) == set(range(k))


def test_select_jobs_2_gives_the_results_of_jobs_1(selected: dict[str, Result],
                                                   select_tree: Path) -> None:
    assert selected["2"].exit_code == 1
    assert selected["2"].stderr.splitlines()[-1] == (
        "Error: 1 of 3 datasets failed; see sel2/summary.csv")
    one, two = select_tree / "sel1", select_tree / "sel2"
    assert files_under(one) == files_under(two)
    for name in files_under(one):
        if name.endswith("trace.csv") or name == "summary.csv":
            assert without_column(one / name, "seconds") == without_column(two / name, "seconds")
        else:
            assert (one / name).read_bytes() == (two / name).read_bytes(), name


def test_select_outputs_are_those_of_select_and_fit(selected: dict[str, Result],
                                                    select_tree: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(select_tree)
    mine = select_tree / "sel1" / "three"
    alone = invoke("select", "data/three.csv", *SELECT[1:], "--table", "cells.csv",
                   "--model", "best.json")
    assert alone.exit_code == 0, alone.stderr
    assert (select_tree / "cells.csv").read_bytes() == (mine / "selection.csv").read_bytes()
    assert (select_tree / "best.json").read_bytes() == (mine / "model.json").read_bytes()
    # the chosen cell is a fit with select's options and the cell's seed
    opts = json.loads((mine / "model.json").read_text())["options"]
    fit = invoke("fit", "data/three.csv", "-k", str(opts["n_components"]), "-c",
                 opts["covariance_type"], "--init", opts["init"], "--n-init", "2", "--tol", "1e-6",
                 "--max-iter", "2000", "--seed", str(opts["seed"]), "--output-dir", "fit3")
    assert fit.exit_code == 0, fit.stderr
    for name in ("labels.csv", "model.json"):
        assert (select_tree / "fit3" / name).read_bytes() == (mine / name).read_bytes()
    assert without_column(mine / "trace.csv", "seconds") == without_column(
        select_tree / "fit3" / "trace.csv", "seconds")


def test_select_skip_existing_compares_the_grid_and_the_choice(
        select_tree: Path, selected: dict[str, Result], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(select_tree)
    # mclust's start and plain EM, whose cells on this data are what the comments say
    args = ["batch", "data/two.csv", "--select", "-k", "1-3", "-c", "diag", "--n-init", "1",
            "--init", "hc", "--accelerate", "none",
            "--seed", "0", "--output-dir", "resel", "--skip-existing"]
    statuses = []
    for extra in ([], [], ["--criterion", "aic"], ["-k", "1-2"], ["-k", "1-2"],
                  ["-k", "1-2", "--seed", "1"]):
        result = invoke(*args, *extra)  # a -k in extra overrides the first
        assert result.exit_code == 0, result.stderr
        statuses.append(read_summary(select_tree / "resel" / "summary.csv")[0]["status"])
    # the same grid again; AIC picks the same cell (the outputs would be the same); another
    # grid; it again; another seed
    assert statuses == ["ok", "skipped", "skipped", "ok", "skipped", "ok"]
    # ICL picks BIC's cell (diag K=2): kept; AIC another one (diag K=4): fitted again
    for criterion, status, k in (("bic", "ok", "2"), ("icl", "skipped", "2"),
                                 ("aic", "ok", "4")):
        result = invoke("batch", "near", *SELECT, "--init", "hc", "--accelerate", "none",
                        "--criterion", criterion, "--output-dir", "recrit", "--skip-existing")
        assert result.exit_code == 0, result.stderr
        row = read_summary(select_tree / "recrit" / "summary.csv")[0]
        assert (row["status"], row["k"], row["covariance"]) == (status, k, "diag")
    # a fixed-K run over a selection's folder fits again and leaves no selection.csv
    fixed = invoke("batch", "data/two.csv", "-k", "2", "-c", "diag", "--init", "hc",
                   "--seed", "0", "--output-dir", "resel", "--skip-existing")
    assert fixed.exit_code == 0, fixed.stderr
    assert read_summary(select_tree / "resel" / "summary.csv")[0]["status"] == "ok"
    assert files_under(select_tree / "resel") == sorted(
        [f"data/two/{name}" for name in STANDARD] + ["summary.csv"])
    # and a missing selection.csv makes a selection's folder incomplete
    again = invoke(*args[:-1])
    assert again.exit_code == 0
    (select_tree / "resel" / "data" / "two" / "selection.csv").unlink()
    invoke(*args)
    assert read_summary(select_tree / "resel" / "summary.csv")[0]["status"] == "ok"


def test_select_skip_existing_keeps_a_choice_among_equal_models(tmp_path: Path) -> None:
    """One Gaussian: at K = 1 the full-matrix families give one BIC up to rounding, which
    selection.csv writes as one number; the run marked a later family best than the
    table read back chooses, so --skip-existing fitted the dataset again every time."""
    cov = [[1.0, 0.5, 0.2], [0.5, 2.0, 0.3], [0.2, 0.3, 1.5]]
    np.savetxt(tmp_path / "one.csv",  # every digit: the rounding that showed it
               np.random.default_rng(3).multivariate_normal([0.0, 0.0, 0.0], cov, size=200),
               delimiter=",", header="x,y,z", comments="")
    args = ["batch", str(tmp_path / "one.csv"), "--select", "-k", "1", "--seed", "0",
            "--output-dir", str(tmp_path / "out"), "--skip-existing"]
    statuses = []
    for _ in range(2):
        result = invoke(*args)
        assert result.exit_code == 0, result.stderr
        row = read_summary(tmp_path / "out" / "summary.csv")[0]
        statuses.append((row["status"], row["covariance"]))
    assert statuses == [("ok", "tied"), ("skipped", "tied")]


def test_select_with_no_cell_to_choose_fails_that_dataset(tmp_path: Path) -> None:
    (tmp_path / "one.csv").write_text("x,y\n1,2\n")
    write_csv(tmp_path / "fine.csv", blobs(np.random.default_rng(2), 60, 2, k=2))
    out = tmp_path / "out"
    result = invoke("batch", str(tmp_path / "one.csv"), str(tmp_path / "fine.csv"), "--select",
                    "-k", "1-2", "-c", "spherical", "--n-init", "1", "--seed", "0",
                    "--output-dir", str(out))
    assert result.exit_code == 1
    rows = read_summary(out / "summary.csv")
    # one row fits no cell: said once, before the cells (it was "no cell could be chosen:
    # all 2 cells skipped; spherical K=1: need at least 2 rows ...")
    reason = "need at least 2 rows to fit a mixture, got 1"
    assert (rows[0]["rows"], rows[0]["k"], rows[0]["status"]) == ("1", "", f"failed: {reason}")
    assert (rows[1]["k"], rows[1]["covariance"], rows[1]["status"]) == ("2", "spherical", "ok")
    assert f"emgmm: error: {tmp_path / 'one.csv'}: {reason}" in result.stderr.splitlines()
    assert files_under(out) == sorted(
        [f"fine/{name}" for name in STANDARD + ["selection.csv"]] + ["summary.csv"])


@pytest.mark.parametrize(("args", "message"), [
    (["-k", "1-4"], "'1-4' is a list of components, which needs --select"),
    (["-k", "2,4"], "'2,4' is a list of components, which needs --select"),
    (["-k", "3", "--criterion", "aic"], "--criterion chooses among the cells of --select"),
    (["-k", "3", "-c", "full,diag"], "'full,diag' is a list of covariance types"),
    (["-k", "3", "-c", "all"], "needs --select"),
    (["-k", "0"], "'0': components run from 1 up"),
    ([], "Missing option '-k' / '--components'"),
    (["--select", "-k", "4-2"], "components run from 1 up"),
    (["--select", "-c", "box"], "box: choose all, or a comma-separated list"),
    (["--select", "--criterion", "dic"], "'dic' is not one of 'bic', 'aic', 'icl'"),
    (["--select", "--means-init", "m.csv"], "cannot be used with --select"),
])
def test_select_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    write_csv(tmp_path / "p.csv", np.arange(20.0).reshape(10, 2))
    result = invoke("batch", str(tmp_path), *args, "--output-dir", str(tmp_path / "o"))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert not (tmp_path / "o").exists()


def test_help_shows_select_and_its_defaults() -> None:
    text = invoke("batch", "--help", columns=80).stdout
    for flag in ("-k, --components K|KS", "-c, --covariance-type TYPE|TYPES", "--select",
                 "--criterion [bic|aic|icl]"):
        assert flag in text, flag
    assert "emgmm batch data/ --select -k 1-8 --output-dir results/" in text
    flat = " ".join(text.split())
    # one set of EM defaults with and without --select; the grid's own
    assert "select's" not in flat
    for shown in ("[default: auto]", "[default: 2]", "[default: 1e-06]", "[default: 2000]",
                  "[default: full; with --select: all]", "[default with --select: 1-9]"):
        assert shown in flat, shown


def test_help_names_every_column_of_the_summary() -> None:
    """batch --help listed the summary's columns without stopped, which summary.csv has
    (emgmm batch DIR -k 3 --output-dir OUT: file,...,converged,stopped,...)."""
    from emgmm_cli.app.batching import SUMMARY_COLUMNS

    flat = " ".join(invoke("batch", "--help", columns=80).stdout.split())
    listed = flat.partition("The summary (")[2].partition(";")[0].split(", ")
    assert [c.lower().replace("-", "_") for c in listed] == list(SUMMARY_COLUMNS)


def test_find_listing_folders_leaves_out_the_output_folder_inside(tmp_path: Path) -> None:
    """`find data | emgmm batch - -o data/res` (folders listed too) was refused on its second
    run, exit 2, 'data/res is (inside) the output directory': the folders of an earlier run's
    outputs are left out as its files are."""
    write_csv(tmp_path / "data" / "p.csv", blobs(np.random.default_rng(1), 60, 2))
    for run in range(2):
        done = find_into_batch("", "-k 2 --seed 1 --output-dir data/res", tmp_path)
        assert done.returncode == 0, done.stderr
        assert [r["file"] for r in read_summary(tmp_path / "data/res/summary.csv")] == [
            "data/p.csv"]
    assert "left out 6 paths inside the output directory data/res: data/res" in done.stderr


def test_a_file_named_inside_the_output_folder_is_left_out_with_a_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """guide.md: a file named as a PATH is read wherever it lies, but in the output
    directory, where it is taken for an earlier output (emgmm batch */*.csv -o out names
    out/a/labels.csv too): left out, saying so."""
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "data" / "p.csv", blobs(np.random.default_rng(1), 60, 2))
    assert invoke("batch", "data", "-k", "2", "--seed", "1", "-o", "out", "-q").exit_code == 0
    done = invoke("batch", "data/p.csv", "out/p/labels.csv", "-k", "2", "--seed", "1",
                  "-o", "out")
    assert done.exit_code == 0, done.stderr
    assert "left out 1 path inside the output directory out: out/p/labels.csv" in done.stderr
    assert [r["file"] for r in read_summary(tmp_path / "out/summary.csv")] == ["data/p.csv"]


def test_an_earlier_batchs_outputs_are_no_data(tmp_path: Path) -> None:
    """`emgmm batch data -r -o data/r1` then `... -o data/r2` fitted r1's labels.csv and
    trace.csv as datasets and failed on its summary.csv (exit 1), as with their paths
    listed by find.  A folder holding a batch's summary.csv is left out, with a warning;
    one holding another summary.csv is searched."""
    write_csv(tmp_path / "data" / "p.csv", blobs(np.random.default_rng(1), 60, 2))
    (tmp_path / "data" / "notes").mkdir()
    write_csv(tmp_path / "data" / "notes" / "summary.csv", blobs(np.random.default_rng(2), 30, 2))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EMGMM_FORCE_TTY": "0"}
    for out in ("r1", "r2"):
        done = subprocess.run([sys.executable, "-m", "emgmm_cli", "batch", "data", "-r", "-k",
                               "2", "--seed", "1", "-o", f"data/{out}"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert [r["file"] for r in read_summary(tmp_path / "data" / out / "summary.csv")] == [
            "data/p.csv", "data/notes/summary.csv"]
    assert done.stderr == ("emgmm: warning: left out 1 folder of an earlier batch's outputs "
                           "(holding its summary.csv): data/r1\n")
    # the files listed, then the folders too: r1 and r2 themselves left out, not searched
    for find, out, paths in (("-name '*.csv'", "listed", 10), ("", "listed2", 22)):
        piped = find_into_batch(find, f"-k 2 --seed 1 -o {out}", tmp_path)
        assert piped.returncode == 0, piped.stderr
        assert sorted(r["file"] for r in read_summary(tmp_path / out / "summary.csv")) == [
            "data/notes/summary.csv", "data/p.csv"]
        said = (f"emgmm: warning: left out {paths} paths inside an earlier batch's output "
                "directory (a folder holding its summary.csv): ")
        assert piped.stderr.startswith(said) and piped.stderr.endswith(", ...\n")
        named = piped.stderr[len(said):-len(", ...\n")].split(", ")  # (in find's order)
        assert len(named) == 3 and all(p.startswith(("data/r1", "data/r2")) for p in named)


def test_hidden_files_listed_on_stdin_are_left_out_and_named(tmp_path: Path) -> None:
    """`find data -name '*.csv' | emgmm batch -` fitted data/.hidden.csv, which a search
    of data leaves out (the help and the guide said listed ones were too)."""
    write_csv(tmp_path / "data" / "a.csv", blobs(np.random.default_rng(1), 60, 2))
    write_csv(tmp_path / "data" / ".hidden.csv", blobs(np.random.default_rng(2), 60, 2))
    write_csv(tmp_path / "data" / ".ipynb_checkpoints" / "a-checkpoint.csv",
              blobs(np.random.default_rng(3), 60, 2))
    done = find_into_batch("-name '*.csv'", "-k 2 --seed 1 -o listed", tmp_path)
    assert done.returncode == 0, done.stderr
    assert [r["file"] for r in read_summary(tmp_path / "listed" / "summary.csv")] == [
        "data/a.csv"]
    said = "emgmm: warning: left out 2 hidden files (a name starting with '.'): "
    assert done.stderr.startswith(said) and sorted(done.stderr[len(said):-1].split(", ")) == [
        "data/.hidden.csv", "data/.ipynb_checkpoints/a-checkpoint.csv"]
    searched = invoke("batch", str(tmp_path / "data"), "-k", "2", "--seed", "1", "-o",
                      str(tmp_path / "searched"))
    assert searched.exit_code == 0 and searched.stderr == ""
    assert len(read_summary(tmp_path / "searched" / "summary.csv")) == 1


@pytest.mark.parametrize("option", ["--sample-weights", "--known-labels", "--means-init"])
def test_standard_input_for_a_file_read_beside_every_dataset_is_refused(
        tmp_path: Path, option: str) -> None:
    """`emgmm batch a.csv b.csv -k 2 --sample-weights - < w.txt` gave a.csv the weights
    and failed b.csv with '<stdin>: standard input is empty' (exit 1): the batch reads
    the file for every dataset, standard input once.  Refused before anything is read."""
    for name in ("a.csv", "b.csv"):
        write_csv(tmp_path / name, blobs(np.random.default_rng(3), 30, 2))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["batch", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"),
                                      "-k", "2", option, "-", "-o", str(out)],
                                input="1\n" * 90)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-1] == (
        f"Error: {option} - (standard input) is read once, and a batch reads it for every "
        "dataset; give a file name")
    assert not out.exists()


def test_standard_input_for_the_starting_model_is_refused_as_everywhere(
        tmp_path: Path) -> None:
    """A model is read from a file alone, in batch (errors.md listed it with the usage
    errors, exit 2) as in fit, predict and the others: exit 1, nothing written."""
    write_csv(tmp_path / "a.csv", blobs(np.random.default_rng(3), 30, 2))
    out = tmp_path / "out"
    for command in (["batch", str(tmp_path / "a.csv"), "-o", str(out)],
                    ["fit", str(tmp_path / "a.csv"), "--output-dir", str(out)]):
        result = CliRunner().invoke(cli, [*command, "-k", "2", "--init-model", "-"],
                                    input="{}")
        assert result.exit_code == 1, result.output
        assert result.stderr == ("Error: <stdin>: a model is read from a file, not from "
                                 "standard input; write one with emgmm fit --model "
                                 "FILE.json\n")
        assert not out.exists()


def test_a_dataset_whose_folder_is_an_output_file_is_refused_before_any_fit(
        tmp_path: Path) -> None:
    """A dataset named summary.csv.npy (its folder DIR/summary.csv) was fitted, then the
    summary could not be written ("is a directory"), exit 1, neither summary written; so
    x/labels.csv.npy beside x.npy with -r.  Refused, from the names, before any fit."""
    rng = np.random.default_rng(4)
    (tmp_path / "d5").mkdir()
    np.save(tmp_path / "d5" / "summary.csv.npy", blobs(rng, 60, 2))
    (tmp_path / "d6" / "x").mkdir(parents=True)
    np.save(tmp_path / "d6" / "x.npy", blobs(rng, 60, 2))
    np.save(tmp_path / "d6" / "x" / "labels.csv.npy", blobs(rng, 60, 2))
    for data, out, dataset, file in (("d5", "o5", "d5/summary.csv.npy", "o5/summary.csv"),
                                     ("d6", "o6", "d6/x/labels.csv.npy", "o6/x/labels.csv")):
        result = invoke_in(tmp_path, "batch", data, "-r", "-k", "2", "-o", out, "--summary",
                           "s.csv")
        assert result.exit_code == 2, result.stderr
        assert result.stderr.splitlines()[-1] == (
            f"Error: the outputs of {dataset} go to the folder {file}, which the batch "
            f"writes as the file {file}; rename the dataset, or fit it apart")
        assert not (tmp_path / out).exists() and not (tmp_path / "s.csv").exists()
    np.save(tmp_path / "one.npy", blobs(rng, 60, 2))
    named = invoke_in(tmp_path, "batch", "one.npy", "-k", "2", "-o", "o7", "--summary",
                      "one.npy")
    assert named.exit_code == 2 and named.stderr.splitlines()[-1] == (
        "Error: refusing to overwrite the input file one.npy with one.npy; choose another "
        "--summary")  # (it said --output-dir)


def test_symbolic_links_are_datasets_or_failed_rows_never_left_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder linked into the data is searched with -r, once (a link back to a folder
    seen is not followed again); a link whose name matches but that leads to no file
    (broken, or looping) is a failed row naming why.  Both were left out without a word,
    exit 0, and --glob 'linked/*.csv' found no dataset."""
    rng = np.random.default_rng(3)
    write_csv(tmp_path / "data" / "a.csv", blobs(rng, 90, 2))
    write_csv(tmp_path / "other" / "b.csv", blobs(rng, 90, 2))
    (tmp_path / "data" / "linked").symlink_to(tmp_path / "other")
    (tmp_path / "other" / "back").symlink_to(tmp_path / "data")
    (tmp_path / "data" / "broken.csv").symlink_to(tmp_path / "nowhere.csv")
    (tmp_path / "data" / "loop.csv").symlink_to(tmp_path / "data" / "loop.csv")
    monkeypatch.chdir(tmp_path)
    result = invoke("batch", "data", "-r", "-k", "2", "--seed", "0", "-o", "out", "-q")
    assert result.exit_code == 1
    rows = {row["file"]: row["status"] for row in read_summary(tmp_path / "out" / "summary.csv")}
    assert rows == {"data/a.csv": "ok", "data/linked/b.csv": "ok",
                    "data/broken.csv": "failed: file not found; check the path",
                    "data/loop.csv": "failed: is a symbolic link that leads back to itself; "
                                     "point it at a data file"}
    named = invoke("batch", "data", "--glob", "linked/*.csv", "-k", "2", "--seed", "0",
                   "-o", "out2", "-q")
    assert named.exit_code == 0, named.stderr
    assert [r["file"] for r in read_summary(tmp_path / "out2" / "summary.csv")] == [
        "data/linked/b.csv"]
