"""JSON input: what emgmm writes as .json, .jsonl and .ndjson reads back as data.

`emgmm sample -o points.jsonl` and `fit --with-rows -o rows.json` wrote files no command
could read (".json: the file has a header but no data rows", ".jsonl: non-numeric value
'{"eruptions":3.6'").  Now every command reads them, from files and standard input.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import invoke_in
from emgmm_cli.io import DataError, read_points

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


@pytest.mark.parametrize("name", ["points.json", "points.jsonl", "points.ndjson"])
def test_what_make_blobs_writes_reads_back_exactly(tmp_path: Path, name: str) -> None:
    """Every value as the .npy the same command writes holds it, the column names too."""
    for out in (name, "points.npy"):
        r = invoke_in(tmp_path, "make-blobs", "-n", "50", "--n-centers", "3", "--seed", "4",
                      "--label-column", "blob", "-o", out)
        assert r.exit_code == 0, r.stderr
    ref = read_points(str(tmp_path / "points.npy"))
    got = read_points(str(tmp_path / name))
    assert got.column_names == ["x0", "x1", "blob"]
    np.testing.assert_array_equal(got.x, ref.x)
    picked = read_points(str(tmp_path / name), columns=["blob", "x0"])
    np.testing.assert_array_equal(picked.x, ref.x[:, [2, 0]])
    packed = tmp_path / (name + ".gz")
    packed.write_bytes(gzip.compress((tmp_path / name).read_bytes()))
    np.testing.assert_array_equal(read_points(str(packed)).x, ref.x)
    with (tmp_path / name).open("rb") as fh:
        np.testing.assert_array_equal(read_points("-", stdin=fh).x, ref.x)


def test_fit_reads_its_own_rows_and_labels(tmp_path: Path) -> None:
    """predict --with-rows --proba -o rows.json, then fit on the rows' columns: the labels
    of the CSV; a labels .json (an array of numbers) is one column."""
    data = str(SAMPLE / "faithful.csv")
    assert invoke_in(tmp_path, "fit", data, "-k", "2", "--seed", "0", "--model", "m.json",
                     "-o", "labels.json", "-q").exit_code == 0
    rows = invoke_in(tmp_path, "predict", "m.json", data, "--with-rows", "--proba", "-o",
                     "rows.json")
    assert rows.exit_code == 0, rows.stderr
    ref = invoke_in(tmp_path, "fit", data, "-k", "2", "--seed", "0")
    again = invoke_in(tmp_path, "fit", "rows.json", "--columns", "eruptions,waiting", "-k",
                      "2", "--seed", "0")
    assert again.exit_code == 0 and again.stdout == ref.stdout
    labels = read_points(str(tmp_path / "labels.json"))
    assert labels.column_names == ["0"] and labels.x.shape == (272, 1)
    assert labels.x[:, 0].astype(int).tolist() == [int(v) for v in ref.stdout.split()]
    # over --memory-limit, JSON is read whole (there are no blocks of it)
    limited = invoke_in(tmp_path, "fit", "rows.json", "--columns", "eruptions,waiting", "-k",
                        "2", "--seed", "0", "--memory-limit", "1K")
    assert limited.exit_code == 0 and limited.stdout == ref.stdout


@pytest.mark.parametrize("name, text, line, message", [
    ("a.json", '[1, 2, "x"]', None,
     "a.json: column '0': non-numeric value \"x\" in row 3; fix or remove the row"),
    ("b.jsonl", '{"a": 1}\n\n{"a": true}\n', 3,
     "b.jsonl:3: column 'a': non-numeric value true; fix or remove the row"),
    ("c.json", "[[1, 2], [3]]", None,
     "c.json: row 2: every row must be an array of 2 values, as the first"),
    ("d.jsonl", '{"a": 1}\n{"b": 2}\n', 2,
     "d.jsonl:2: every row must be an object with the keys of the first row (a)"),
    ("e.json", "[1, 2", 1, "e.json:1: not valid JSON: Expecting ',' delimiter"),
    ("f.json", "[]", None, "f.json: the JSON holds no rows"),
    # empty objects were an internal error (argmax of an empty sequence, in the fit)
    ("h.jsonl", "{}\n{}\n", None, "h.jsonl: the rows are empty objects: no column to read"),
    ("i.json", "[{}, {}]", None, "i.json: the rows are empty objects: no column to read"),
    ("j.jsonl", "[]\n[]\n", None, "j.jsonl: the rows are empty arrays: no column to read"),
    ("g.json", "[1, Infinity]", None,
     "g.json: column '0': non-finite value inf in row 2 (index 1); an infinite value is "
     "not a missing value; remove or replace it first"),
])
def test_what_is_not_numeric_data_is_named(tmp_path: Path, name: str, text: str,
                                           line: int | None, message: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(DataError) as info:
        read_points(str(tmp_path / name))
    assert str(info.value).replace(str(tmp_path) + "/", "") == message
    assert info.value.line == line


def test_null_is_a_missing_value_and_unread_columns_may_hold_text(tmp_path: Path) -> None:
    (tmp_path / "m.jsonl").write_text(
        '{"id": "a", "x": 1.5, "y": 2}\n{"id": "b", "x": null, "y": 3}\n'
        '{"id": "c", "x": 2.5, "y": 4}\n')
    r = invoke_in(tmp_path, "fit", "m.jsonl", "--columns", "x,y", "-k", "1")
    assert r.exit_code == 1 and "column 'x': missing value (NaN) in row 2" in r.stderr
    points = read_points(str(tmp_path / "m.jsonl"), columns=["y", "x"], missing=True)
    np.testing.assert_array_equal(points.x, [[2, 1.5], [3, np.nan], [4, 2.5]])
    dropped = invoke_in(tmp_path, "fit", "m.jsonl", "--columns", "x,y", "-k", "1",
                        "--missing", "drop")
    assert dropped.exit_code == 0 and dropped.stdout.split() == ["0", "-1", "0"]


def test_a_jsonl_pipeline_through_real_processes(tmp_path: Path) -> None:
    """make-blobs writes JSON lines to a pipe, fit reads them from its standard input."""
    emgmm = [sys.executable, "-m", "emgmm_cli"]
    blobs = subprocess.run(emgmm + ["make-blobs", "-n", "90", "--n-centers", "3", "--seed",
                                    "1", "--format", "jsonl"],
                           capture_output=True, check=True)
    assert blobs.stdout.startswith(b'{"x0": ')
    fit = subprocess.run(emgmm + ["fit", "-", "-k", "3", "--seed", "0"], input=blobs.stdout,
                         capture_output=True)
    assert fit.returncode == 0, fit.stderr
    (tmp_path / "b.csv").write_bytes(subprocess.run(
        emgmm + ["make-blobs", "-n", "90", "--n-centers", "3", "--seed", "1"],
        capture_output=True, check=True).stdout)
    ref = subprocess.run(emgmm + ["fit", str(tmp_path / "b.csv"), "-k", "3", "--seed", "0"],
                         capture_output=True, check=True)
    assert fit.stdout == ref.stdout


def test_with_rows_writes_a_json_inputs_rows_back(tmp_path: Path) -> None:
    """--with-rows reads the input's rows again, text columns and all: for JSON it parsed
    them as CSV (an internal ParserError, exit 1).  Now the rows as the JSON holds them,
    from a file and from standard input, a null written as an empty field."""
    (tmp_path / "r.jsonl").write_text(
        '{"id": "a", "x": 1.5}\n{"id": "b", "x": null}\n{"id": "c", "x": 2.5}\n'
        '{"id": "d", "x": 3.5}\n')
    args = ["--columns", "x", "-k", "1", "--missing", "drop", "--with-rows"]
    as_csv = invoke_in(tmp_path, "fit", "r.jsonl", *args)
    assert as_csv.exit_code == 0, as_csv.stderr
    assert as_csv.stdout.splitlines() == ["id,x,cluster", "a,1.5,0", "b,,-1", "c,2.5,0",
                                          "d,3.5,0"]
    piped = invoke_in(tmp_path, "fit", "-", *args, "--format", "jsonl",
                      input=(tmp_path / "r.jsonl").read_text())
    assert piped.exit_code == 0, piped.stderr
    assert piped.stdout.splitlines()[1] == '{"id": "b", "x": null, "cluster": -1}'
    model = invoke_in(tmp_path, "fit", "r.jsonl", "--columns", "x", "-k", "1", "--missing",
                      "drop", "--model", "m.json", "-q")
    assert model.exit_code == 0
    rows = invoke_in(tmp_path, "predict", "m.json", "r.jsonl", "--missing", "drop",
                     "--with-rows", "--proba", "--format", "json")
    assert rows.exit_code == 0, rows.stderr
    assert '"id": "c", "x": 2.5, "cluster": 0, "p0": 1.0' in rows.stdout


def test_with_rows_reads_npy_from_standard_input(tmp_path: Path) -> None:
    """.npy bytes on standard input were fitted (read_points knows them by their magic
    number) and then --with-rows read them back as text: "holds .npy data, not text",
    exit 1 after the fit.  The rows are read back as the points were read."""
    x = np.array([[0.0, 1.0], [0.1, 1.2], [5.0, 6.0], [5.2, 6.1]])
    np.save(tmp_path / "x.npy", x)
    emgmm = [sys.executable, "-m", "emgmm_cli"]
    for command in (["fit", "-", "-k", "2", "--seed", "0"],
                    ["predict", "m.json", "-"]):
        if command[0] == "predict":
            subprocess.run(emgmm + ["fit", "x.npy", "-k", "2", "--seed", "0", "--model",
                                    "m.json", "-q"], cwd=tmp_path, check=True)
        run = subprocess.run(emgmm + command + ["--with-rows"], cwd=tmp_path,
                             input=(tmp_path / "x.npy").read_bytes(), capture_output=True)
        assert run.returncode == 0, run.stderr
        lines = run.stdout.decode().splitlines()
        assert lines[0] == "0,1,cluster" and len(lines) == 5
        assert [line.rsplit(",", 1)[0] for line in lines[1:]] == ["0,1", "0.1,1.2", "5,6",
                                                                   "5.2,6.1"]
        clusters = [line.rsplit(",", 1)[1] for line in lines[1:]]
        assert clusters[0] == clusters[1] != clusters[2] == clusters[3]


def test_known_labels_and_sample_weights_from_json(tmp_path: Path) -> None:
    """fit -o labels.json wrote what --known-labels read as a header line and no labels
    ("0 known labels for 272 rows"); JSON labels are one column now, null where unknown,
    and sample weights and starting means read from JSON too."""
    data = str(SAMPLE / "faithful.csv")
    assert invoke_in(tmp_path, "fit", data, "-k", "2", "--seed", "0", "-o", "l.json",
                     "-q").exit_code == 0
    ref = invoke_in(tmp_path, "fit", data, "-k", "2", "--seed", "0").stdout
    labels = [int(v) for v in ref.split()]
    known = invoke_in(tmp_path, "fit", data, "-k", "2", "--seed", "0", "--known-labels",
                      "l.json")
    assert known.exit_code == 0, known.stderr
    assert [int(v) for v in known.stdout.split()] == labels
    (tmp_path / "some.json").write_text("[" + ", ".join(
        "null" if i % 3 else str(v) for i, v in enumerate(labels)) + "]")
    some = invoke_in(tmp_path, "fit", data, "-k", "2", "--seed", "0", "--known-labels",
                     "some.json")
    assert some.exit_code == 0, some.stderr
    (tmp_path / "half.json").write_text("[0.5" + ", -1" * 271 + "]")
    bad = invoke_in(tmp_path, "fit", data, "-k", "2", "--known-labels", "half.json")
    assert (bad.exit_code, bad.stderr.strip()) == (1, (
        "Error: half.json: row 1: 0.5 is not a component number (or -1, or null, where "
        "unknown)"))
    (tmp_path / "w.json").write_text("[" + ", ".join(["2"] * 272) + "]")
    weighted = invoke_in(tmp_path, "fit", data, "-k", "2", "--seed", "0", "--sample-weights",
                         "w.json")
    assert weighted.exit_code == 0 and weighted.stdout.split() == ref.split()


def test_json_without_its_extension_is_known_by_its_first_bytes(tmp_path: Path) -> None:
    """/dev/stdin, a process substitution or a .txt file holding JSON was read as CSV
    ("non-numeric value '{"x0": ...'"); a file without a data extension is JSON where it
    starts with [ or {, as standard input is.  A .csv file stays text."""
    assert invoke_in(tmp_path, "make-blobs", "-n", "30", "--seed", "2", "-o",
                     "b.jsonl").exit_code == 0
    ref = read_points(str(tmp_path / "b.jsonl"))
    (tmp_path / "b.txt").write_bytes((tmp_path / "b.jsonl").read_bytes())
    np.testing.assert_array_equal(read_points(str(tmp_path / "b.txt")).x, ref.x)
    (tmp_path / "b.csv").write_bytes((tmp_path / "b.jsonl").read_bytes())
    with pytest.raises(DataError, match="non-numeric value"):
        read_points(str(tmp_path / "b.csv"))
    # over --memory-limit it is read whole too, not through the text cache; and a labels
    # file known so is read as labels (the readers share io.readers.file_format)
    limited = invoke_in(tmp_path, "fit", "b.txt", "-k", "2", "--seed", "0",
                        "--memory-limit", "1K", "--cache-dir", "cache")
    assert limited.exit_code == 0, limited.stderr
    assert not (tmp_path / "cache").exists()
    labels = [int(v) for v in limited.stdout.split()]
    (tmp_path / "labels.txt").write_text("[" + ", ".join(map(str, labels)) + "]")
    known = invoke_in(tmp_path, "fit", "b.txt", "-k", "2", "--seed", "0", "--known-labels",
                      "labels.txt")
    assert known.exit_code == 0, known.stderr
    assert [int(v) for v in known.stdout.split()] == labels
    emgmm = [sys.executable, "-m", "emgmm_cli"]
    with (tmp_path / "b.jsonl").open("rb") as fh:
        fit = subprocess.run(emgmm + ["fit", "/dev/stdin", "-k", "2", "--seed", "0",
                                      "--with-rows"], stdin=fh, capture_output=True)
    assert fit.returncode == 0, fit.stderr
    assert fit.stdout.splitlines()[0] == b"x0,x1,cluster"
    assert len(fit.stdout.splitlines()) == 31


@pytest.mark.parametrize("header", ["[Na+],[K+]", "{a},{b}", "[mm],[s]", "[null_count],x"])
def test_a_text_header_that_starts_with_a_bracket_is_no_json(tmp_path: Path,
                                                             header: str) -> None:
    """A header whose first name starts with '[' or '{' (units, ions) on stdin or in a .txt
    file was taken for JSON: "not valid JSON: Expecting value".  JSON is told by how it
    goes on (an array's first value, an object's first key)."""
    text = f"{header}\n0.1,0.2\n0.3,0.1\n5,6\n"
    (tmp_path / "d.txt").write_text(text)
    pts = read_points(str(tmp_path / "d.txt"))
    assert pts.column_names == header.split(",")
    np.testing.assert_array_equal(pts.x, [[0.1, 0.2], [0.3, 0.1], [5, 6]])
    r = invoke_in(tmp_path, "fit", "-", "-k", "1", input=text)
    assert (r.exit_code, r.stdout) == (0, "0\n0\n0\n"), r.stderr
