"""Hostile and odd input files: each is read right, or refused with one line that names the
file, the line and the rule, or read with a warning that says what was decided.

- rows one field longer than the header: a trailing delimiter (an empty last field) is
  dropped, R row names (text or increasing whole numbers) are skipped, anything else or
  both is an error that says so (never the wrong columns in silence);
- repeated column names are made unique, with a warning, so that a model fitted on the
  file applies to it again;
- a delimiter the file does not use, decimal commas, bytes that are not UTF-8 text, a
  header of numbers: each is named.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from emgmm_cli.cli.main import cli
from emgmm_cli.io import DataError, read_points
from emgmm_cli.io import text as text_reader
from emgmm_cli.io.cache import open_points

RNG = np.random.default_rng(5)
XY = np.round(np.r_[RNG.normal(0, 1, (60, 2)), RNG.normal(6, 1, (60, 2))] * [1, 10], 2)


def put(tmp_path: Path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return str(path)


def lines(x: np.ndarray, fmt: str) -> str:
    return "".join(fmt.format(*row) + "\n" for row in x.tolist())


def error_of(path: str, **kwargs: Any) -> DataError:
    with pytest.raises(DataError) as info:
        read_points(path, **kwargs)
    return info.value


@pytest.fixture(params=["small", "large", "cache"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
           tmp_path: Path) -> Any:
    """read_points through numpy.loadtxt, through pandas, or through the binary cache."""
    if request.param == "large":
        monkeypatch.setattr(text_reader, "PANDAS_MIN_BYTES", 0)
    if request.param == "cache":
        return lambda path, **kw: open_points(path, memory_limit=1, cache_dir=str(
            tmp_path / "cache"), **kw)
    return read_points


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, env={"EMGMM_FORCE_TTY": None},
                              prog_name="emgmm")


# --------------------------------------------------------------------------- one field more


def test_a_trailing_delimiter_is_not_a_column(tmp_path: Path, reader: Any) -> None:
    path = put(tmp_path, "t.csv", "x,y\n" + lines(XY, "{},{},"))
    pts = reader(path, columns=["x"])
    np.testing.assert_array_equal(np.asarray(pts.x[:, 0] if isinstance(pts.x, np.ndarray)
                                             else pts.x.read(0, len(XY))[:, 0]), XY[:, 0])
    whole = reader(path)
    assert whole.column_names == ["x", "y"]
    assert whole.x.shape == XY.shape


def test_fit_columns_x_fits_x_not_y(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("t.csv").write_text("x,y\n" + lines(XY, "{},{},"))
    Path("x.csv").write_text("x\n" + lines(XY[:, :1], "{}"))
    got = run("fit", "t.csv", "-k", "2", "--columns", "x", "--seed", "0", "--json")
    want = run("fit", "x.csv", "-k", "2", "--seed", "0", "--json")
    assert got.exit_code == 0 and got.stderr == "", got.output
    assert json.loads(got.stdout)["means"] == json.loads(want.stdout)["means"]
    both = run("fit", "t.csv", "-k", "2", "--seed", "0", "-o", "labels.csv")
    assert both.exit_code == 0 and both.stderr == "", both.output


def test_trailing_delimiters_on_the_header_too_and_without_a_header(tmp_path: Path,
                                                                    reader: Any) -> None:
    pts = reader(put(tmp_path, "h.csv", "x,y,\n" + lines(XY, "{},{},")))
    assert pts.column_names == ["x", "y"]
    pts = reader(put(tmp_path, "n.csv", lines(XY, "{},{},")))
    assert pts.column_names == ["0", "1"] and pts.x.shape == XY.shape


def test_a_row_may_leave_the_trailing_delimiter_out(tmp_path: Path, reader: Any) -> None:
    text = "x,y\n" + lines(XY[:2], "{},{},") + lines(XY[2:3], "{},{}") + lines(XY[3:], "{},{},")
    pts = reader(put(tmp_path, "m.csv", text))
    assert pts.x.shape == XY.shape


@pytest.mark.parametrize("before", [50, 300])  # among the rows the prologue reads, or after
def test_a_value_after_the_trailing_delimiter_is_an_error(tmp_path: Path, reader: Any,
                                                          before: int) -> None:
    rows = np.tile(XY, (3, 1))
    text = "x,y\n" + lines(rows[:before], "{},{},") + "1.5,2.5,7\n" + lines(rows[before:], "{},{},")
    with pytest.raises(DataError) as info:
        reader(put(tmp_path, "v.csv", text))
    assert str(info.value) == (
        f"{tmp_path / 'v.csv'}:{before + 2}: a value after the last column ('7'); the rows "
        "end with a trailing delimiter, so their last field must be empty")


@pytest.mark.parametrize(("label", "first"), [
    ("text", lambda i: f'"r{i}"'), ("row numbers", lambda i: str(i + 1)),
    ("filtered row numbers", lambda i: f'"{3 * i + 2}"')])
def test_r_row_names_are_skipped(tmp_path: Path, reader: Any, label: str, first: Any) -> None:
    text = "x,y\n" + "".join(f"{first(i)},{a},{b}\n" for i, (a, b) in enumerate(XY.tolist()))
    pts = reader(put(tmp_path, "r.csv", text))
    assert pts.column_names == ["x", "y"]
    # said, as an unnamed first column's are: a header one name short of data of
    # increasing whole numbers first (t,x over 1,0.5,0.7) reads so too, its names moved
    assert pts.notes == ("line 1: the rows have one field more than the header has names, "
                         "and the first holds row names (text or increasing whole numbers), "
                         "as R writes them; it is not read as data",)


def test_an_extra_field_that_could_be_either_is_an_error(tmp_path: Path) -> None:
    text = "x,y\n" + "".join(f"{i + 1},{a}," + "\n" for i, a in enumerate(XY[:, 0].tolist()))
    err = error_of(put(tmp_path, "both.csv", text))
    assert (err.line, err.column) == (2, None)
    assert err.message == (
        "the rows have 3 fields but the header has 2 names (x, y), and the extra field is "
        "ambiguous: the last field is empty in every row, as after a trailing delimiter, "
        "and the first holds row names; emgmm will not guess which to drop: remove the "
        "trailing delimiters, or name the first column in the header")


def test_an_extra_field_that_is_neither_is_an_error(tmp_path: Path) -> None:
    text = "x,y\n" + lines(np.c_[XY, XY[:, :1]], "{},{},{}")
    err = error_of(put(tmp_path, "neither.csv", text))
    assert (err.line, err.column) == (2, None)
    assert err.message == (
        "the rows have 3 fields but the header has 2 names (x, y); the extra field is neither "
        "a trailing delimiter (an empty last field in every row) nor row names (text or "
        "increasing whole numbers in the first field of every row); give every column a "
        "name in the header")


# --------------------------------------------------------------------------- names


def test_repeated_names_are_made_unique_with_a_warning(tmp_path: Path, reader: Any) -> None:
    pts = reader(put(tmp_path, "xx.csv", "x,x,y,x\n" + lines(np.c_[XY, XY], "{},{},{},{}")))
    assert pts.column_names == ["x", "x.1", "y", "x.2"]
    assert pts.notes == ("line 1: the header repeats the column name 'x'; the columns are "
                         "read as 'x', 'x.1' and 'x.2'",)


def test_a_model_of_a_file_with_repeated_names_applies_to_it(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.chdir(tmp_path)
    Path("xx.csv").write_text("x,x\n" + lines(XY, "{},{}"))
    warning = ("emgmm: warning: xx.csv: line 1: the header repeats the column name 'x'; the "
               "columns are read as 'x' and 'x.1'\n")
    fitted = run("fit", "xx.csv", "-k", "2", "--seed", "0", "--model", "m.json",
                 "-o", "labels.csv")
    assert fitted.exit_code == 0 and fitted.stderr == warning, fitted.output
    assert json.loads(Path("m.json").read_text())["feature_names"] == ["x", "x.1"]
    predicted = run("predict", "m.json", "xx.csv")
    assert predicted.exit_code == 0 and predicted.stderr == warning, predicted.output
    assert predicted.stdout == Path("labels.csv").read_text()
    scored = run("score", "m.json", "xx.csv", "--json")
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.stdout)["log_likelihood"] == pytest.approx(
        json.loads(Path("m.json").read_text())["log_likelihood"], rel=1e-12)


# --------------------------------------------------------------------------- delimiters


@pytest.mark.parametrize(("name", "text", "message"), [
    ("semi.csv", "a;b\n1;2\n3;4\n",
     "no ',' in the first line, but ';' separates its fields; give the delimiter with -d ';'"),
    ("semi_no_header.csv", "1.5;2\n3;4\n",
     "no ',' in the first line, but ';' separates its fields; give the delimiter with -d ';'"),
    ("tabs.csv", "a\tb\n1\t2\n",
     "no ',' in the first line, but tab separates its fields; give the delimiter with -d '\\t'"),
    ("pipes.csv", "a|b\n1|2\n",
     "no ',' in the first line, but '|' separates its fields; give the delimiter with -d '|'"),
    ("commas.tsv", "a,b\n1,2\n",
     "no tab in the first line, but ',' separates its fields; give the delimiter with -d ','"),
])
def test_a_delimiter_the_file_does_not_use_is_named(tmp_path: Path, name: str, text: str,
                                                    message: str) -> None:
    err = error_of(put(tmp_path, name, text))
    assert (err.line, err.column, err.message) == (1, None, message)


def test_a_one_column_file_with_a_semicolon_in_its_name_is_read(tmp_path: Path) -> None:
    pts = read_points(put(tmp_path, "one.csv", "mass;kg\n1.5\n2.5\n"))
    assert pts.column_names == ["mass;kg"]


@pytest.mark.parametrize("text, second", [
    ("a;b\n1,5;2\n3;4\n", 2.0),
    # every field of the row under the header in decimal commas: still a header over them
    ("a;b\n1,5;2,5\n3;4\n", 2.5),
])
def test_decimal_commas_are_read_where_commas_do_not_separate(tmp_path: Path, text: str,
                                                               second: float) -> None:
    pts = read_points(put(tmp_path, "eu.csv", text), delimiter=";")
    assert pts.column_names == ["a", "b"]
    np.testing.assert_array_equal(pts.x, [[1.5, second], [3, 4]])
    assert pts.notes == ("line 2: the numbers are written with decimal commas (1,5 is read "
                         "as 1.5)",)


@pytest.mark.parametrize("name, text, delimiter, value, advice", [
    # a decimal point among the first rows: the file's numbers are read with points
    ("mixed.csv", "a;b\n1,5;2.5\n3;4\n", ";", "1,5",
     "decimal commas (1,5) are read only where ',' does not separate the fields and the "
     "first rows write them, and no decimal point (1.5); write every number one way"),
    # fields separated by ',': a quoted 1,5 is no decimal comma
    ("comma.csv", 'a,b\n"1,5",2\n3,4\n', None, "1,5",
     "decimal commas (1,5) are read only where ',' does not separate the fields and the "
     "first rows write them, and no decimal point (1.5); write every number one way"),
    # decimal commas in the first rows, a decimal point further down
    ("late.csv", "a;b\n" + "1,5;2\n" * 250 + "3.5;4\n", ";", "3.5",
     "the first rows write decimal commas (1,5), this field a decimal point; write every "
     "number one way"),
])
def test_decimal_commas_and_points_together_are_named(
        tmp_path: Path, name: str, text: str, delimiter: str | None, value: str,
        advice: str) -> None:
    err = error_of(put(tmp_path, name, text), delimiter=delimiter)
    line = 252 if name == "late.csv" else 2
    assert (err.line, err.column, err.message) == (line, "a", f"non-numeric value '{value}'; "
                                                             f"{advice}")


def test_decimal_commas_in_row_names_position_are_no_internal_error(tmp_path: Path) -> None:
    # one field more than the header holds, decimal commas in the first: not row names
    err = error_of(put(tmp_path, "extra.csv", "a;b\n1,5;2,5;3,5\n2,5;3,5;4,5\n"),
                   delimiter=";")
    assert err.message.startswith("the rows have 3 fields but the header has 2 names (a, b); "
                                  "the extra field is neither a trailing delimiter")


# --------------------------------------------------------------------------- bytes


def test_bytes_that_are_not_text_are_refused_as_such(tmp_path: Path) -> None:
    noise = bytes(np.random.default_rng(1).integers(0x80, 0x100, 4096, dtype=np.uint8))
    err = error_of(put(tmp_path, "noise.csv", noise))
    assert err.line is None
    assert err.message.startswith("is not UTF-8 text (")
    assert err.message.endswith(" of its first 4096 bytes are not); save the data as UTF-8 "
                                "text (CSV/TSV) or as .npy")


def test_a_header_that_is_not_utf8_is_read_with_a_warning(tmp_path: Path) -> None:
    path = put(tmp_path, "latin1.csv", "Gr\xf6\xdfe,b\n".encode("latin-1")
               + lines(XY, "{},{}").encode())
    pts = read_points(path)
    assert pts.column_names == ["Gr\ufffd\ufffde", "b"]
    assert pts.notes == ("line 1: the header is not UTF-8 text (byte 0xf6); its names hold "
                         "U+FFFD in place of such bytes: save the file as UTF-8",)


def test_a_first_row_of_whole_numbers_over_decimals_is_named(tmp_path: Path) -> None:
    pts = read_points(put(tmp_path, "years.csv", "1990,2000\n" + lines(XY, "{},{}")))
    assert pts.x.shape == (len(XY) + 1, 2)
    assert pts.notes == ("line 1 (1990, 2000) holds whole numbers over columns of decimals; "
                         "it is read as data: if it is a header, add --header",)
    assert read_points(put(tmp_path, "ints.csv", "1,2\n3,4\n5,6.5\n")).notes == ()
    assert read_points(str(tmp_path / "years.csv"), header=False).notes == ()


def test_a_first_row_numbering_the_columns_over_decimals_is_the_header(tmp_path: Path
                                                                      ) -> None:
    """0, 1, ..., D - 1 over decimals: the names emgmm gives unnamed columns (sample
    writes a model's as its header), read as the header with a note; not for one column,
    where a first value 0 is as likely data, nor over whole numbers, nor with -H given."""
    pts = read_points(put(tmp_path, "named.csv", "0,1\n" + lines(XY, "{},{}")))
    assert pts.x.shape == (len(XY), 2) and pts.column_names == ["0", "1"]
    assert pts.notes == ("line 1 (0, 1) numbers the columns from 0, as emgmm names unnamed "
                         "columns: it is read as the header; if it is data, add --no-header",)
    assert read_points(str(tmp_path / "named.csv"), header=False).x.shape == (len(XY) + 1, 2)
    assert read_points(put(tmp_path, "ints.csv", "0,1\n3,4\n5,6\n")).x.shape == (3, 2)
    assert read_points(put(tmp_path, "one.csv", "0\n1.5\n2.5\n")).x.shape == (3, 1)
    other = read_points(put(tmp_path, "other.csv", "1,0\n" + lines(XY, "{},{}")))
    assert other.x.shape == (len(XY) + 1, 2)  # not in order: a row of data, as before


# --------------------------------------------------------------------------- a file being written

_APPENDER = """
import sys, time
with open(sys.argv[1], "a") as fh:
    while True:  # a row at a time, each in two writes: a reader may see half of it
        fh.write("1.5,2.5,3."); fh.flush(); time.sleep(0.0005)
        fh.write("5\\n"); fh.flush()
"""


@pytest.mark.parametrize("limit", ["1G", "1K"])
def test_a_file_written_to_while_it_is_read_is_an_error(tmp_path: Path, limit: str) -> None:
    """Read in memory or converted to the cache while another process appends to it: the
    last row read could be half a row (3.5 read as 3.), so it is refused, never fitted."""
    import subprocess
    import sys
    import time

    path = tmp_path / "growing.csv"
    path.write_text("x,y,z\n" + lines(np.c_[XY, XY[:, 0]], "{},{},{}") * 1500)
    size = path.stat().st_size
    writer = subprocess.Popen([sys.executable, "-c", _APPENDER, str(path)])
    try:
        while path.stat().st_size == size:
            time.sleep(0.001)
        done = subprocess.run([sys.executable, "-m", "emgmm_cli", "fit", str(path), "-k", "2",
                               "--seed", "1", "--memory-limit", limit, "--cache-dir",
                               str(tmp_path / "cache"), "-o", str(tmp_path / "labels.csv")],
                              capture_output=True, text=True, timeout=120)
    finally:
        writer.kill()
        writer.wait()
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"Error: {path}: the file changed while it was read (something wrote to it); "
        "run again once nothing writes to it"]
    assert not (tmp_path / "labels.csv").exists()
    cache = tmp_path / "cache"
    assert not cache.exists() or not list(cache.iterdir())


# --------------------------------------------------------------------------- long fields


def test_a_text_field_longer_than_128_kib_is_read_anywhere(tmp_path: Path) -> None:
    """The csv module's default limit (131072 characters a field) made a long text field
    in the first lines an internal error, and one anywhere when a later bad value sent
    the chunk to the reference parser; pandas reads any length."""
    long = "z" * 140_000
    rows = [f"n{i},{i % 7}.5,{i % 3}.25" for i in range(30)]
    first = ["note,x,y", f"{long},1.5,2.5", *rows]
    path = put(tmp_path, "first.csv", "\n".join(first) + "\n")
    result = run("fit", path, "-k", "1", "--columns", "x,y", "--seed", "0", "-q")
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["0"] * 31
    header = put(tmp_path, "header.csv", f"{long},b\n1,2\n3,4\n5,7\n")
    result = run("fit", header, "-k", "1", "--seed", "0", "-q")
    assert result.exit_code == 0, result.output
    bad = put(tmp_path, "bad.csv", "\n".join(["note,x,y", *rows[:5], f"{long},1,2",
                                              *rows[5:10], "n,oops,1"]) + "\n")
    result = run("fit", bad, "-k", "1", "--columns", "x,y", "-q")
    assert result.exit_code == 1
    assert "internal error" not in result.output
    assert "bad.csv:13: column 'x': non-numeric value 'oops'" in result.output
    # the limit, the csv module's for the whole process, is raised only while reading
    assert csv.field_size_limit() == 128 * 1024


# --------------------------------------------------------------------------- stdin twice


@pytest.mark.parametrize("args", [
    ("fit", "-", "-k", "1", "--sample-weights", "-"),
    ("fit", "DATA", "-k", "1", "--sample-weights", "-", "--known-labels", "-"),
    ("fit", "-", "-k", "1", "--means-init", "-"),
    ("select", "-", "-k", "1-2", "-c", "diag", "--sample-weights", "-")])
def test_stdin_named_by_two_inputs_is_a_usage_error(tmp_path: Path, args: tuple[str, ...]
                                                    ) -> None:
    """The second reader found stdin empty and said 'standard input is empty; pipe data
    in', though data had been piped in."""
    data = put(tmp_path, "d.csv", "x,y\n1,2\n3,5\n4,4\n6,1\n")
    args = tuple(data if a == "DATA" else a for a in args)
    result = run(*args, input="x,y\n1,2\n3,5\n4,4\n6,1\n")
    assert result.exit_code == 2, result.output
    assert "'-' (standard input) is given for more than one input" in result.output
    assert "standard input is empty" not in result.output


# --------------------------------------------------------------------------- pipes


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
@pytest.mark.parametrize("command", [("fit", "-k", "2", "--seed", "0"),
                                     ("predict", "MODEL")])
def test_with_rows_reads_a_named_pipe_once(tmp_path: Path, command: tuple[str, ...]) -> None:
    """--with-rows read the input a second time for its rows: a FIFO (or bash's <(...))
    was opened again, and the run waited for ever for a writer (or found it drained)."""
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 1, (40, 2)), rng.normal(8, 1, (40, 2))]
    text = "id,a,b\n" + "".join(f"r{i},{u:.6f},{v:.6f}\n" for i, (u, v) in enumerate(x))
    data = put(tmp_path, "d.csv", text)
    model = str(tmp_path / "m.json")
    assert run("fit", data, "-k", "2", "--seed", "0", "--columns", "a,b", "--model", model,
               "-o", str(tmp_path / "l.csv")).exit_code == 0
    args = [model if a == "MODEL" else a for a in command]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    emgmm = [sys.executable, "-m", "emgmm_cli"]
    expected = subprocess.run([*emgmm, *args, data, "--columns", "a,b", "--with-rows"],
                              capture_output=True, text=True, env=env, timeout=30)
    assert expected.returncode == 0, expected.stderr
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"cat {shlex.quote(data)} > {shlex.quote(str(fifo))}"])
    try:
        done = subprocess.run([*emgmm, *args, str(fifo), "--columns", "a,b", "--with-rows"],
                              capture_output=True, text=True, env=env, timeout=30)
    finally:
        writer.kill()
        writer.wait()
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == expected.stdout
    assert done.stdout.splitlines()[1].startswith("r0,")


def test_with_rows_of_a_file_whose_name_looks_like_a_glob(tmp_path: Path) -> None:
    """--with-rows looked for the parts of a glob in a file named data[1].csv (a dask
    backend's input may be a glob) and failed after the fit: 'no data parts found'."""
    data = put(tmp_path, "data[1].csv", "a,b\n" + "".join(
        f"{i % 7},{(i * 3) % 11}\n" for i in range(40)))
    result = run("fit", data, "-k", "2", "--seed", "0", "--with-rows", "-o",
                 str(tmp_path / "rows.csv"))
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "rows.csv").read_text().splitlines()
    assert lines[0] == "a,b,cluster" and len(lines) == 41
    assert [line.rsplit(",", 1)[0] for line in lines[1:]] == [
        f"{i % 7},{(i * 3) % 11}" for i in range(40)]
