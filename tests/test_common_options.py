"""One flag, one meaning, everywhere: --json, --format, -o/--output, -q, --no-color and -d
on every command that has such a result; the rows of fit and predict with a cluster
column; label files with a header only when asked; shell completion."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from emgmm_cli.cli.main import COMMANDS, cli

ROOT = Path(__file__).resolve().parent.parent
FAITHFUL = ROOT / "sample_data" / "faithful.csv"
EMGMM = Path(sys.executable).parent / "emgmm"

#: Clearly two groups, with an id column and a text column beside the numbers.
PEOPLE = ('id,name,x,y\n1,"Ann, Jr",1.50,2\n2,bob,1.6,2.1\n3,cy,1.4,1.9\n4,dee,8,9\n'
          '5,eve,8.1,9.2\n6,fay,7.9,9\n7,gus,8.2,8.8\n')


def invoke(*args: Any, input: str | None = None, tty: bool = False) -> Result:
    env = {"EMGMM_FORCE_TTY": "1" if tty else "0", "NO_COLOR": "1"}
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, env=env)


def ok(*args: Any, **kwargs: Any) -> Result:
    result = invoke(*args, **kwargs)
    assert result.exit_code == 0, (result.stderr, result.exception)
    return result


@pytest.fixture()
def people(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    path.write_text(PEOPLE)
    return path


# --------------------------------------------------------------------------- rows


def test_fit_writes_the_rows_untouched_with_a_cluster_column(people: Path) -> None:
    out = ok("fit", people, "-k", 2, "--columns", "x,y", "--seed", 0, "--init", "kmeans",
             "--with-rows").stdout
    lines = out.splitlines()
    assert lines[0] == "id,name,x,y,cluster"
    # the larger group is component 0 (--order weight)
    assert lines[1:] == [f"{row},{c}" for row, c in
                         zip(PEOPLE.splitlines()[1:], [1, 1, 1, 0, 0, 0, 0])]
    assert '"Ann, Jr",1.50,2,' in out  # quoted text and the numbers as written
    piped = ok("fit", "-", "-k", 2, "--columns", "x,y", "--seed", 0, "--init", "kmeans",
               "--with-rows", input=PEOPLE).stdout
    assert piped == out


def test_rows_with_responsibilities_and_log_density_in_every_format(people: Path,
                                                                   tmp_path: Path) -> None:
    jsonl = ok("fit", people, "-k", 2, "--columns", "x,y", "--seed", 0, "--with-rows",
               "--proba", "--log-density", "--format", "jsonl").stdout
    first = json.loads(jsonl.splitlines()[0])
    assert list(first) == ["id", "name", "x", "y", "cluster", "p0", "p1", "log_density"]
    assert first["id"] == 1 and first["name"] == "Ann, Jr" and first["x"] == 1.5
    model = tmp_path / "m.json"
    ok("fit", people, "-k", 2, "--columns", "x,y", "--seed", 0, "--model", model, "-q")
    tsv = tmp_path / "out.tsv"
    ok("predict", model, people, "--with-rows", "--proba", "-o", tsv)
    header, *rows = tsv.read_text().splitlines()
    assert header.split("\t") == ["id", "name", "x", "y", "cluster", "p0", "p1"]
    assert rows[0].startswith("1\tAnn, Jr\t1.50\t2\t")
    assert len(rows) == 7


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_record_formats_keep_each_columns_values(tmp_path: Path, fmt: str) -> None:
    """--with-rows to JSON Lines or Parquet: a fitted column with NA or nan (--missing)
    was written as text, every value a string ("0.3", "NA"); an id 9007199254740993 beside
    a decimal became 9007199254740992.0 (so did 9.007199254740993e15), ids 0012 became 12,
    1e-400 became 0.0.  Now a column is numbers where every value keeps its value (a
    missing one, blanks around it or not: null), else text as written."""
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    import pandas as pd

    data = tmp_path / "d.csv"
    data.write_text("big,code,count,gap,point,tiny,x,y\n"
                    "9007199254740993,0012,3,,9.007199254740993e15,1e-400,1.5, NA\n"
                    "1.5,0013,4,7,1.5,0,1.6,2.1\n"
                    "2,0014,5,8,2,0.0,nan,1.9\n"
                    "3,0015,6,9,3,1,8,9\n"
                    "4,0016,7,10,4,2,8.1,9.2\n")
    model = tmp_path / "m.json"
    ok("fit", data, "-k", 1, "--columns", "x,y", "--missing", "drop", "--seed", 0,
       "--model", model, "-q")
    out = tmp_path / f"rows.{fmt}"
    ok("predict", model, data, "--missing", "drop", "--with-rows", "-o", out)
    table = (pd.read_parquet(out) if fmt == "parquet"
             else pd.DataFrame([json.loads(line) for line in out.read_text().splitlines()]))
    assert table["big"].tolist() == ["9007199254740993", "1.5", "2", "3", "4"]
    assert table["point"].tolist() == ["9.007199254740993e15", "1.5", "2", "3", "4"]
    assert table["tiny"].tolist() == ["1e-400", "0", "0.0", "1", "2"]  # not 0.0
    assert table["code"].tolist() == ["0012", "0013", "0014", "0015", "0016"]
    assert table["count"].tolist() == [3, 4, 5, 6, 7]
    assert table["count"].dtype == np.int64
    np.testing.assert_array_equal(table["gap"], [np.nan, 7, 8, 9, 10])
    np.testing.assert_array_equal(table["x"], [1.5, 1.6, np.nan, 8, 8.1])
    np.testing.assert_array_equal(table["y"], [np.nan, 2.1, 1.9, 9, 9.2])
    assert table["cluster"].tolist() == [-1, 0, -1, 0, 0]


def test_added_columns_never_replace_the_inputs(tmp_path: Path) -> None:
    """An input column named as one that --with-rows adds (cluster, p0.., log_density)
    is written as it was, in fit and predict alike; the added one gets '_' appended."""
    points = ["1.50,2", "1.6,2.1", "1.4,1.9", "8,9", "8.1,9.2", "7.9,9", "8.2,8.8"]
    named = tmp_path / "named.csv"
    named.write_text("\n".join(["x,y,log_density,p1,cluster,p0_", *(
        f"{p},7,8,9,5" for p in points)]) + "\n")
    model = tmp_path / "m.json"
    ok("fit", named, "-k", 2, "--columns", "x,y", "--seed", 0, "--model", model, "-q")
    fitted = ok("fit", named, "-k", 2, "--columns", "x,y", "--seed", 0, "--with-rows",
                "--proba", "--log-density").stdout
    predicted = ok("predict", model, named, "--with-rows", "--proba",
                   "--log-density").stdout
    assert fitted == predicted
    header, first, *_ = fitted.splitlines()
    assert header == ("x,y,log_density,p1,cluster,p0_,cluster_,p0,p1_,log_density_")
    assert first.startswith("1.50,2,7,8,9,5,")
    jsonl = ok("predict", model, named, "--with-rows", "--proba", "--format", "jsonl")
    assert list(json.loads(jsonl.stdout.splitlines()[0])) == [
        "x", "y", "log_density", "p1", "cluster", "p0_", "cluster_", "p0", "p1_"]


def test_proba_and_log_density_of_fit_need_the_rows(people: Path, tmp_path: Path) -> None:
    """Each flag's advice names what gives its columns alone, in an option the command
    has: predict --log-density pointed to --responsibilities FILE, which predict lacks
    (and which holds no log-density)."""
    model = tmp_path / "m.json"
    ok("fit", people, "-k", 2, "--columns", "x,y", "--seed", 0, "--model", model, "-q")
    for args, line in (
            (["fit", people, "-k", 2, "--columns", "x,y", "--log-density"],
             "--log-density adds columns to the rows of --with-rows; add --with-rows (the "
             "log-densities alone: emgmm score MODEL DATA)"),
            (["predict", model, people, "--columns", "x,y", "--log-density"],
             "--log-density adds columns to the rows of --with-rows; add --with-rows (the "
             "log-densities alone: emgmm score MODEL DATA)"),
            (["fit", people, "-k", 2, "--columns", "x,y", "--proba"],
             "--proba adds columns to the rows of --with-rows; add --with-rows (the "
             "responsibilities alone: --responsibilities FILE)")):
        result = invoke(*args)
        assert result.exit_code == 2
        assert result.stderr.splitlines()[-1] == f"Error: {line}"


def test_label_files_get_a_header_only_when_asked(people: Path, tmp_path: Path) -> None:
    bare = ok("fit", people, "-k", 2, "--columns", "x,y", "--seed", 0).stdout
    assert bare.splitlines()[0] in ("0", "1") and len(bare.splitlines()) == 7
    headed = ok("fit", people, "-k", 2, "--columns", "x,y", "--seed", 0,
                "--label-header").stdout
    assert headed == "cluster\n" + bare
    model = tmp_path / "m.json"
    ok("fit", people, "-k", 2, "--columns", "x,y", "--seed", 0, "--model", model, "-q")
    assert ok("predict", model, people, "--label-header").stdout == headed
    # a .npy file holds no header: --label-header there did nothing, exit 0
    for command in (["fit", people, "-k", 2, "--columns", "x,y"], ["predict", model, people]):
        labels = tmp_path / "labels.npy"
        result = invoke(*command, "--label-header", "-o", labels)
        assert result.exit_code == 2 and not labels.exists(), result.stderr
        assert result.stderr.splitlines()[-1] == (
            f"Error: --label-header writes a 'cluster' header, which {labels} cannot hold (a "
            ".npy file holds numbers only); leave --label-header out or give another format")
        ok(*command, "-o", labels)  # without the flag, the labels as numbers
        labels.unlink()
    # nor beside an output with a header of its own (it did nothing there, exit 0)
    for command, what in ((["predict", model, people, "--proba"],
                           "the responsibilities of --proba"),
                          (["predict", model, people, "--with-rows"], "the rows of --with-rows"),
                          (["fit", people, "-k", 2, "--with-rows", "-o", tmp_path / "r.csv"],
                           "the rows of --with-rows")):
        result = invoke(*command, "--label-header")
        assert result.exit_code == 2 and result.stderr.splitlines()[-1] == (
            f"Error: --label-header heads bare labels; {what} have their own header: leave "
            "--label-header out")


# --------------------------------------------------------------------------- the flags


def test_format_sets_the_format_of_data_on_stdout(tmp_path: Path) -> None:
    as_json = json.loads(ok("make-blobs", "-n", 3, "--seed", 0, "--format", "json").stdout)
    assert list(as_json[0]) == ["x0", "x1"]
    tsv = ok("make-blobs", "-n", 3, "--seed", 0, "--format", "tsv").stdout
    assert tsv.splitlines()[0] == "x0\tx1"
    labels = ok("fit", FAITHFUL, "-k", 2, "--seed", 0, "--format", "json").stdout
    assert len(json.loads(labels)) == 272
    # the next run is back to CSV
    assert ok("make-blobs", "-n", 3, "--seed", 0).stdout.splitlines()[0] == "x0,x1"
    cells = json.loads(ok("select", FAITHFUL, "-k", "1-2", "-c", "full", "--n-init", 1,
                          "--seed", 0, "--format", "json").stdout)
    assert cells["best"] == {"covariance_type": "full", "n_components": 2}
    bad = invoke("make-blobs", "--format", "npy")
    assert bad.exit_code == 2 and "'csv', 'tsv', 'json', 'jsonl'" in bad.stderr
    # a usage error found after --format (here a later option's) left the format set for
    # the next command run in this process (its context was never closed)
    assert invoke("make-blobs", "--format", "json", "-n", "x").exit_code == 2
    assert ok("make-blobs", "-n", 3, "--seed", 0).stdout.splitlines()[0] == "x0,x1"


def test_json_on_every_command_that_prints_a_result(tmp_path: Path) -> None:
    model = tmp_path / "m.json"
    fitted = json.loads(ok("fit", FAITHFUL, "-k", 2, "--seed", 0, "--json").stdout)
    assert fitted["n_components"] == 2
    ok("fit", FAITHFUL, "-k", 2, "--seed", 0, "--model", model, "-q")
    selected = json.loads(ok("select", FAITHFUL, "-k", "1-2", "-c", "diag", "--n-init", 1,
                             "--seed", 0, "--json").stdout)
    assert selected["criterion"] == "bic" and len(selected["cells"]) == 2
    batch = json.loads(ok("batch", FAITHFUL, "-k", 2, "--seed", 0, "-o", tmp_path / "b",
                          "--json").stdout)
    assert batch["datasets"] == 1 and batch["failed"] == 0
    assert batch["rows"][0]["k"] == 2 and batch["summary"].endswith("summary.csv")
    assert json.loads(ok("score", model, FAITHFUL, "--json").stdout)["n_samples"] == 272
    assert json.loads(ok("info", model, "--json").stdout)["n_components"] == 2
    both = invoke("batch", FAITHFUL, "-k", 2, "-o", tmp_path / "c", "--json", "--summary", "-")
    assert both.exit_code == 2 and "only one output can go to stdout" in both.stderr
    # --format beside --json was ignored (fit --json --format csv printed JSON): stdout
    # holds the JSON alone, so the two are bad usage together, in either order
    for args in (["fit", FAITHFUL, "-k", 2, "--json", "--format", "csv"],
                 ["select", FAITHFUL, "-k", 2, "--format", "json", "--json"],
                 ["batch", FAITHFUL, "-k", 2, "-o", tmp_path / "d", "--json", "--format",
                  "tsv"],
                 ["score", model, FAITHFUL, "--format", "jsonl", "--json"]):
        mixed = invoke(*args)
        assert mixed.exit_code == 2 and mixed.stdout == "", mixed.output
        assert mixed.stderr.endswith("Error: --json prints JSON on stdout, and --format says "
                                     "how data written there look; give one of them\n")
    assert not (tmp_path / "d").exists()


def test_o_is_the_main_output_of_every_command(tmp_path: Path) -> None:
    model = tmp_path / "m.json"
    ok("fit", FAITHFUL, "-k", 2, "--seed", 0, "--model", model, "-o", tmp_path / "l.csv")
    ok("select", FAITHFUL, "-k", "1-2", "-c", "tied", "--n-init", 1, "--seed", 0,
       "-o", tmp_path / "cells.csv")
    ok("batch", FAITHFUL, "-k", 2, "--seed", 0, "-o", tmp_path / "runs", "-q")
    for command in (["predict", model, FAITHFUL], ["score", model, FAITHFUL],
                    ["sample", model, "-n", 5], ["info", model], ["make-blobs"],
                    ["plot", model, FAITHFUL]):
        suffix = {"plot": "png", "info": "txt"}.get(str(command[0]), "csv")
        out = tmp_path / f"{command[0]}.{suffix}"
        assert ok(*command, "-o", out).stdout == ""
        assert out.stat().st_size > 0, command
    assert (tmp_path / "cells.csv").read_text().startswith("covariance_type,")
    assert (tmp_path / "runs" / "summary.csv").is_file()
    assert (tmp_path / "info.txt").read_text().startswith(f"model: {model}\n")


def test_every_command_takes_quiet_and_no_color() -> None:
    for command in COMMANDS:
        text = ok(command.name, "--help").stdout
        assert "-q, --quiet" in text and "--no-color" in text, command.name


# --------------------------------------------------------------------------- completion


def complete(words: str, cwd: Path) -> list[str]:
    """What emgmm answers bash's completion for the last of words."""
    env = {**os.environ, "COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1),
           "_EMGMM_COMPLETE": "bash_complete"}
    done = subprocess.run([str(EMGMM)], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.skipif(not EMGMM.exists(), reason="needs the installed emgmm script")
def test_completion_answers_commands_options_choices_and_files(tmp_path: Path) -> None:
    assert complete("emgmm s", tmp_path) == ["plain,select", "plain,score", "plain,sample"]
    assert "plain,--n-init" in complete("emgmm fit --n", tmp_path)
    assert complete("emgmm fit data.csv -c V", tmp_path) == [
        "plain,VEI", "plain,VEE", "plain,VVE", "plain,VEV", "plain,V", "plain,VII",
        "plain,VVI", "plain,VVV"]
    assert complete("emgmm fit da", tmp_path) == ["file,da"]  # the shell lists the files
    assert complete("emgmm completion ", tmp_path) == ["plain,bash", "plain,zsh", "plain,fish"]


@pytest.mark.skipif(not EMGMM.exists(), reason="needs the installed emgmm script")
def test_completion_answers_each_family_of_a_list_of_them(tmp_path: Path) -> None:
    """select -c and batch -c take a comma-separated list of families, and completed
    nothing at all (not even the first)."""
    assert complete("emgmm select data.csv -c a", tmp_path) == ["plain,all"]
    assert complete("emgmm select data.csv -c full,VV", tmp_path) == [
        "plain,full,VVE", "plain,full,VVI", "plain,full,VVV"]
    assert complete("emgmm batch data -c diag,f", tmp_path) == ["plain,diag,full"]
    assert "plain,EII" in complete("emgmm select data.csv -c ", tmp_path)


@pytest.mark.skipif(not EMGMM.exists(), reason="needs the installed emgmm script")
def test_completion_answers_each_parameter_of_freeze(tmp_path: Path) -> None:
    """--freeze takes a comma-separated list of the parameters held fixed, and completed
    nothing; now each item, as -c's lists are, in fit, select and batch."""
    assert complete("emgmm fit data.csv --freeze ", tmp_path) == [
        "plain,weights", "plain,means", "plain,covariances"]
    assert complete("emgmm fit data.csv --freeze m", tmp_path) == ["plain,means"]
    assert complete("emgmm select data.csv --freeze weights,", tmp_path) == [
        "plain,weights,means", "plain,weights,covariances"]
    assert complete("emgmm batch data --freeze means,c", tmp_path) == [
        "plain,means,covariances"]


def read_until(fd: int, wanted: bytes, seconds: float = 20.0) -> bytes:
    seen = b""
    end = time.monotonic() + seconds
    while wanted not in seen and time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    return seen


@pytest.mark.skipif(not EMGMM.exists() or shutil.which("bash") is None,
                    reason="needs bash and the installed emgmm script")
def test_bash_completes_a_file_name_in_the_current_folder(tmp_path: Path) -> None:
    (tmp_path / "measurements.csv").write_text("x\n1\n2\n")
    env = {"PATH": f"{EMGMM.parent}:{os.environ.get('PATH', '')}", "HOME": str(tmp_path),
           "TERM": "dumb", "PS1": "$ ", "INPUTRC": "/dev/null"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: an interactive bash with emgmm's completion loaded
        os.chdir(tmp_path)
        os.execve(shutil.which("bash") or "bash", ["bash", "--norc", "--noprofile", "-i"], env)
    try:
        os.write(fd, b'source <(emgmm completion bash); echo loaded"ok"\n')
        assert b"loadedok" in read_until(fd, b"loadedok")
        os.write(fd, b"emgmm fit meas\t")
        assert b"measurements.csv" in read_until(fd, b"measurements.csv")
        os.write(fd, b"\x15emgmm pl\t")  # Ctrl-U clears the line; a command completes too
        assert b"emgmm plot" in read_until(fd, b"emgmm plot")
    finally:
        os.write(fd, b"\x15exit\n")
        os.close(fd)
        os.waitpid(pid, 0)


def test_completion_prints_each_shells_script() -> None:
    assert "complete -o nosort -F _emgmm_completion emgmm" in ok("completion", "bash").stdout
    assert ok("completion", "zsh").stdout.startswith("#compdef emgmm")
    assert "complete --no-files --command emgmm" in ok("completion", "fish").stdout


def test_no_command_writes_over_a_file_read_beside_the_data(tmp_path: Path) -> None:
    """--sample-weights and --known-labels files are inputs like the data, on every
    command that reads them: an output that names one is refused (exit 2) and the file
    is left as it was (fit and batch: tests/test_cli_fit.py)."""
    model = tmp_path / "m.json"
    ok("fit", FAITHFUL, "-k", 2, "--seed", 0, "--model", model, "-q")
    ones = tmp_path / "ones.csv"
    ones.write_text("1\n" * 272)
    labels = tmp_path / "labels.csv"
    labels.write_text("0\n" * 272)
    saved = {path: path.read_bytes() for path in (ones, labels)}
    for command, option, path, output in (
            (["select", FAITHFUL, "-k", "1-2"], "--sample-weights", ones, ["--table"]),
            (["select", FAITHFUL, "-k", "1-2"], "--known-labels", labels, ["--plot"]),
            (["predict", model, FAITHFUL], "--sample-weights", ones, ["-o"]),
            (["predict", model, FAITHFUL], "--known-labels", labels, ["-o"]),
            (["score", model, FAITHFUL], "--sample-weights", ones, ["-o"]),
            (["plot", model, FAITHFUL], "--known-labels", labels, ["-o"])):
        result = invoke(*command, option, path, *output, path)
        assert result.exit_code == 2, (command, option, result.stderr)
        assert result.stderr.splitlines()[-1].startswith(
            f"Error: refusing to overwrite the input file {path} with "), result.stderr
        assert {p: p.read_bytes() for p in saved} == saved


def test_a_family_is_named_in_any_case_as_all_is(tmp_path: Path) -> None:
    """-c ALL was taken and -c Full, -c vvv refused: a family's name (or mclust's) is
    now read in any case where no family has that exact name, on every command and in
    the Python API; the model records the family's own name."""
    import emgmm_cli

    model = tmp_path / "m.json"
    ok("fit", FAITHFUL, "-k", 2, "--seed", 0, "-c", "Full", "--model", model, "-q")
    assert json.loads(model.read_text())["covariance_type"] == "full"
    table = ok("select", FAITHFUL, "-k", "1-2", "--seed", 0, "-c", "vvi,Eii").stdout
    assert {line.split(",")[0] for line in table.splitlines()[1:]} == {"diag", "EII"}
    fitted = emgmm_cli.fit(str(FAITHFUL), 2, covariance_type="Tied", seed=0)
    assert fitted.document["covariance_type"] == "tied"
    refused = invoke("fit", FAITHFUL, "-k", 2, "-c", "fulll")
    assert refused.exit_code == 2 and "'fulll' is not one of" in refused.stderr


@pytest.mark.skipif(not EMGMM.exists(), reason="needs the installed emgmm script")
def test_completion_answers_the_inputs_column_names(tmp_path: Path) -> None:
    """--columns (each item of its list), --weights-column and --known-column complete
    the names of the input's columns, read from its first lines; names a shell would
    split are left out, and stdin or a file that is not there gives nothing."""
    (tmp_path / "people.csv").write_text('height,"weight, kg",age,bmi index\n1,2,3,4\n')
    assert complete("emgmm fit people.csv --columns ", tmp_path) == [
        "plain,height", "plain,age"]
    assert complete("emgmm fit people.csv -k 2 --columns height,", tmp_path) == [
        "plain,height,age"]
    assert complete("emgmm select people.csv --weights-column a", tmp_path) == ["plain,age"]
    assert complete("emgmm fit people.csv --known-column h", tmp_path) == ["plain,height"]
    # predict's INPUT is its second argument (the model is not read to complete)
    assert complete("emgmm predict m.json people.csv --columns a", tmp_path) == ["plain,age"]
    for words in ("emgmm fit - --columns ", "emgmm fit gone.csv --columns ",
                  "emgmm fit --columns "):
        assert complete(words, tmp_path) in ([], [""]), words
