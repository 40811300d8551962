"""Outputs read back: by emgmm itself (a file it wrote is an input it reads the same way)
and by the usual readers, through real files and real pipelines."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """command in a shell, each `emgmm` in it this checkout's, stdout not a terminal."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EMGMM_FORCE_TTY": "0"}
    emgmm = f"{shlex.quote(sys.executable)} -m emgmm_cli"
    return subprocess.run(command.replace("emgmm ", emgmm + " "), shell=True, cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120)


def two_blobs(n: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.r_[rng.normal(0, 1, (n, 2)), rng.normal(8, 1, (n, 2))]


def test_a_quoted_hash_in_the_header_is_part_of_the_name(tmp_path: Path) -> None:
    """'#' starts a comment, but not inside double quotes: "b #1" is a column's name.
    Before, the header was cut at it, the rows then looked one field longer than the
    header and their first field was taken for row names: a fit of the wrong columns."""
    x = two_blobs()
    rows = "".join(f"{i},{a!r},{b!r}\n" for i, (a, b) in enumerate(x.tolist()))
    (tmp_path / "d.csv").write_text('a,"b #1",c\n' + rows, encoding="utf-8")
    done = shell("emgmm fit d.csv -k 2 --seed 0 --columns '\"b #1\",c' --model m.json "
                 "-o /dev/null", tmp_path)
    assert done.returncode == 0, done.stderr
    model = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert model["feature_names"] == ["b #1", "c"]
    every = shell("emgmm fit d.csv -k 2 --seed 0 --model all.json -o /dev/null", tmp_path)
    assert every.returncode == 0, every.stderr
    names = json.loads((tmp_path / "all.json").read_text(encoding="utf-8"))["feature_names"]
    assert names == ["a", "b #1", "c"]


def test_a_header_field_that_starts_a_comment_is_said(tmp_path: Path) -> None:
    """pandas writes a column named "#id" unquoted: '#' starts a comment there as
    anywhere, so the name is not read, and a warning says why the header lost it; a
    quoted name, or a comment after a space, draws none."""
    rows = "".join(f"{a!r},{b!r},{i}\n" for i, (a, b) in enumerate(two_blobs().tolist()))
    headers = {"cut.csv": "a,b,#id", "quoted.csv": 'a,b,"#id"', "noted.csv": "a,b,c  # units"}
    for name, header in headers.items():
        (tmp_path / name).write_text(header + "\n" + rows, encoding="utf-8")
    said = {name: shell(f"emgmm fit {name} -k 2 --seed 0 -o /dev/null", tmp_path)
            for name in headers}
    assert all(done.returncode == 0 for done in said.values())
    assert ("cut.csv: line 1: the header's text from '#' on is a comment, not column names "
            "(#id); put a name that holds '#' in double quotes") in said["cut.csv"].stderr
    assert "comment" not in said["quoted.csv"].stderr + said["noted.csv"].stderr
    # before the last name, the names after it go too: the rows outnumber the names,
    # refused as such a header's error (it said "give every column a name", no word of '#')
    # and where the first column holds increasing whole numbers, it was taken for R's row
    # names: column a left out, #id fitted as 'a' and b as '1', exit 0
    counted = "".join(f"{i + 1},{a!r},{b!r}\n" for i, (a, b) in enumerate(two_blobs().tolist()))
    for name, body in (("mid.csv", rows), ("counted.csv", counted)):
        (tmp_path / name).write_text("a,#id,b\n" + body, encoding="utf-8")
        mid = shell(f"emgmm fit {name} -k 2 --seed 0 -o /dev/null", tmp_path)
        assert mid.returncode == 1
        assert mid.stderr == (f"Error: {name}:1: the header's text from '#' on is a comment, "
                              "not column names (#id,b), and the rows have 3 fields to its 2 "
                              "names; put a name that holds '#' in double quotes\n")


def test_with_rows_keeps_a_quoted_hash_and_the_columns_of_a_trailing_delimiter(
        tmp_path: Path) -> None:
    """--with-rows writes each input field back as it was: a quoted "x#1" whole (it was
    cut to x), and the columns of rows that end with a delimiter in their places (each
    value was written one column to the left, the last column empty)."""
    x = two_blobs(5)
    body = "".join(f'{a!r},{b!r},"id#{i}",\n' for i, (a, b) in enumerate(x.tolist()))
    (tmp_path / "d.csv").write_text("x,y,id,\n" + body, encoding="utf-8")
    done = shell("emgmm fit d.csv -k 2 --seed 0 --columns x,y --with-rows -o out.json",
                 tmp_path)
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert [r["id"] for r in rows] == [f"id#{i}" for i in range(len(x))]
    assert np.array_equal([[r["x"], r["y"]] for r in rows], x)


def test_csv_quotes_names_and_text_that_hold_a_hash(tmp_path: Path) -> None:
    """A column named "id #" and a text value "a#1", written to CSV by --with-rows, are
    quoted, so that emgmm (for which '#' starts a comment) reads its own output back
    through a pipe, as pandas with comment='#' does.  Before, they were written bare: the
    header was cut at '#' and the rows had more fields than it."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    x = two_blobs(10)
    notes = [f"a#{i}" for i in range(len(x))]
    pd.DataFrame({"x": x[:, 0], "y #": x[:, 1], "note": notes}).to_parquet(tmp_path / "d.parquet")
    fit = "emgmm fit {} -k 2 --seed 0 --columns 'x,\"y #\"'"
    done = shell(fit.format("d.parquet") + " --with-rows -o - | tee rows.csv | "
                 + fit.format("-") + " > again.txt", tmp_path)
    assert done.returncode == 0, done.stderr
    rows = pd.read_csv(tmp_path / "rows.csv", comment="#")
    assert list(rows.columns) == ["x", "y #", "note", "cluster"]
    assert rows["note"].tolist() == notes
    again = np.loadtxt(tmp_path / "again.txt", dtype=int)
    assert np.array_equal(again, rows["cluster"].to_numpy())


def test_csv_quotes_a_carriage_return(tmp_path: Path) -> None:
    """csv.writer leaves a '\\r' in a field bare (its lines end at '\\n'), and a reader of
    universal newlines, emgmm's own, ends the line there: such a field is quoted."""
    import csv

    from emgmm_cli.io import write_table

    table = {"id #": ["a\rb", "c"], "v": [1.5, 2.0]}
    write_table(str(tmp_path / "t.csv"), table)
    with open(tmp_path / "t.csv", encoding="utf-8", newline="") as fh:
        assert list(csv.reader(fh)) == [["id #", "v"], ["a\rb", "1.5"], ["c", "2"]]
    assert (tmp_path / "t.csv").read_bytes().startswith(b'"id #",v\n"a\rb",1.5\n')


def test_with_rows_to_csv_keeps_every_digit_of_a_binary_inputs_columns(
        tmp_path: Path) -> None:
    """--with-rows keeps every column as it was: a float column of a Parquet or .npy input
    is written to CSV as the shortest text that reads back as it (a text input's columns
    keep their own text).  Before, it got the 10 significant digits of results, and 50
    times a quarter of a second apart came out as one value, 1733456789."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    x = two_blobs(25)
    t = 1733456789.123456 + 0.25 * np.arange(len(x))
    pd.DataFrame({"x": x[:, 0], "y": x[:, 1], "t": t}).to_parquet(tmp_path / "d.parquet")
    np.save(tmp_path / "d.npy", x.astype(np.float32))
    done = shell("emgmm fit d.parquet -k 2 --seed 0 --columns x,y --with-rows -o rows.csv "
                 "&& emgmm fit d.npy -k 2 --seed 0 --with-rows -o rows32.tsv", tmp_path)
    assert done.returncode == 0, done.stderr
    rows = pd.read_csv(tmp_path / "rows.csv")
    assert np.array_equal(rows["t"].to_numpy(), t)
    assert np.array_equal(rows[["x", "y"]].to_numpy(), x)
    rows32 = pd.read_csv(tmp_path / "rows32.tsv", sep="\t", dtype=np.float32)
    assert np.array_equal(rows32[["0", "1"]].to_numpy(), x.astype(np.float32))
    assert (tmp_path / "rows32.tsv").read_text(encoding="utf-8").count("e-0") == 0


def test_json_tables_tell_an_infinite_log_density_from_a_missing_row(tmp_path: Path) -> None:
    """score's table in JSON and JSON Lines: a point too far for a float64 density is
    "-inf", a row --missing drop left out is null (both were null), as --json says it."""
    (tmp_path / "d.csv").write_text("a,b\n" + "".join(
        f"{a!r},{b!r}\n" for a, b in two_blobs().tolist()), encoding="utf-8")
    (tmp_path / "far.csv").write_text("a,b\n0,1\n1e200,1e200\n,3\n", encoding="utf-8")
    fit = shell("emgmm fit d.csv -k 2 --seed 0 --model m.json -o /dev/null", tmp_path)
    assert fit.returncode == 0, fit.stderr
    for name in ("s.json", "s.jsonl"):
        done = shell(f"emgmm score m.json far.csv --missing drop -o {name} --json", tmp_path)
        assert done.returncode == 0, done.stderr
        text = (tmp_path / name).read_text(encoding="utf-8")
        rows = (json.loads(text) if name.endswith(".json")
                else [json.loads(line) for line in text.splitlines()])
        values = [next(iter(r.values())) if isinstance(r, dict) else r for r in rows]
        assert isinstance(values[0], float) and values[1:] == ["-inf", None], values
        assert json.loads(done.stdout)["n_infinite"] == 1


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_model_read_back_gives_the_fits_responsibilities_bit_for_bit(
        tmp_path: Path, dtype: str) -> None:
    """model-file.md: read back, a model gives the fit's labels and log-densities bit for
    bit where the data are read as the fit read them (a float32 fit: predict and score
    read float64 unless given --dtype float32, and then differ in the 7th digit)."""
    faithful = ROOT / "sample_data" / "faithful.csv"
    done = shell(f"emgmm fit {faithful} -k 3 --seed 0 --dtype {dtype} --model m.json "
                 "--responsibilities fit.csv -o labels.csv -q && "
                 f"emgmm predict m.json {faithful} --dtype {dtype} --proba -o again.csv -q && "
                 f"emgmm predict m.json {faithful} --dtype {dtype} -o relabel.csv -q && "
                 f"emgmm predict m.json {faithful} --proba -o wide.csv -q", tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "again.csv").read_bytes() == (tmp_path / "fit.csv").read_bytes()
    assert (tmp_path / "relabel.csv").read_bytes() == (tmp_path / "labels.csv").read_bytes()
    same = (tmp_path / "wide.csv").read_bytes() == (tmp_path / "fit.csv").read_bytes()
    assert same == (dtype == "float64")
