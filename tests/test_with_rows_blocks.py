"""fit and predict --with-rows to CSV and TSV read, annotate and write the input's rows a
block at a time (app.rows.ROWS_BLOCK): the table is the input's rows, parsed as written,
with the cluster of each, whatever the block size, and the rows are never held whole."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

import emgmm_cli.app.rows as rows_module
from emgmm_cli.app.requests import ReadOptions
from emgmm_cli.app.rows import InputRows, write_with_rows
from emgmm_cli.cli.main import cli
from emgmm_cli.io.errors import DataError

#: Two groups, an id and a text column; quoted fields that hold the delimiter, a '#', a
#: quote and a line break, and comment and blank lines between the rows.
TEXT = ('id,name,x,y\n1,"Ann, Jr",1.50,2\n2,bob,1.6,2.1\n# a comment line\n'
        '3,"two\nlines",1.4,1.9\n\n4,"say ""hi""",8,9\n5,"a # b",8.1,9.2\n6,fay,7.9,9\n'
        '7,gus,8.2,8.8\n8,hal,1.55,2.05\n9,ivy,8.05,9.1\n')
FIT = ("-k", "2", "--columns", "x,y", "--seed", "0", "--init", "kmeans")


def invoke(*args: Any, input: str | bytes | None = None) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args], input=input,
                                env={"EMGMM_FORCE_TTY": "0", "NO_COLOR": "1"})
    assert result.exit_code == 0, (result.stderr, result.exception)
    return result


def parsed(text: str, delimiter: str = ",") -> list[list[str]]:
    """The rows of a table as Python's csv module reads them (comment and blank lines out)."""
    lines = [line for line in csv.reader(io.StringIO(text), delimiter=delimiter)
             if line and not line[0].startswith("#")]
    return lines


@pytest.fixture()
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """ROWS_BLOCK at 3, and the size of every block read back (recorded)."""
    sizes: list[int] = []
    blocks = InputRows.blocks

    def recorded(self: InputRows, block_rows: int | None = None
                 ) -> Iterator[dict[str, np.ndarray]]:
        for block in blocks(self, block_rows):
            sizes.append(len(next(iter(block.values()))))
            yield block

    def never(self: InputRows) -> dict[str, np.ndarray]:
        raise AssertionError("the rows were read whole")

    monkeypatch.setattr(rows_module, "ROWS_BLOCK", 3)
    monkeypatch.setattr(InputRows, "blocks", recorded)
    monkeypatch.setattr(InputRows, "whole", never)
    return sizes


@pytest.mark.parametrize("source", ["file", "gzip", "stdin"])
@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_rows_are_the_inputs_with_their_cluster_block_by_block(
        tmp_path: Path, small_blocks: list[int], source: str, suffix: str) -> None:
    """Every row of the input, parsed as written (quotes, a line break in a field), with
    the cluster fit gives it and its responsibilities, read and written 3 rows at a time;
    to CSV and TSV, from a file, gzip and standard input."""
    path = tmp_path / ("people.csv.gz" if source == "gzip" else "people.csv")
    if source == "gzip":
        path.write_bytes(gzip.compress(TEXT.encode()))
    else:
        path.write_text(TEXT)
    labels = invoke("fit", path, *FIT, "-q").stdout.split()
    out = tmp_path / f"out{suffix}"
    args = ("fit", "-" if source == "stdin" else path, *FIT, "--with-rows", "--proba",
            "-o", out, "-q")
    invoke(*args, input=TEXT if source == "stdin" else None)
    header, *table = parsed(out.read_text(), "\t" if suffix == ".tsv" else ",")
    want_header, *want = parsed(TEXT)
    assert header == want_header + ["cluster", "p0", "p1"]
    assert [row[:5] for row in table] == [row + [c] for row, c in zip(want, labels)]
    assert all(abs(float(row[5]) + float(row[6]) - 1) < 1e-9 for row in table)
    assert small_blocks[:-1] == [3] * (len(small_blocks) - 1) and sum(small_blocks) == 9


def test_predict_rows_of_a_binary_input_block_by_block(tmp_path: Path,
                                                       small_blocks: list[int]) -> None:
    """predict --with-rows of a .npy input (memory-mapped, 3 rows at a time): each
    column's floats as their shortest text, and the cluster predict gives alone."""
    x = np.array([[1.5, 2.0], [1.6, 2.1], [1.4, 1.9], [8.0, 9.0], [8.1, 9.2],
                  [7.9, 9.0], [8.2, 8.8], [0.1, 1e-7]])
    data = tmp_path / "x.npy"
    np.save(data, x)
    model = tmp_path / "m.json"
    invoke("fit", data, "-k", "2", "--seed", "0", "--model", model, "-q")
    labels = invoke("predict", model, data).stdout.split()
    out = tmp_path / "rows.csv"
    invoke("predict", model, data, "--with-rows", "-o", out)
    header, *table = parsed(out.read_text())
    assert header == ["0", "1", "cluster"]
    assert [[float(v) for v in row[:2]] for row in table] == x.tolist()
    assert [row[2] for row in table] == labels
    assert small_blocks == [3, 3, 2]


@pytest.mark.parametrize("block", [2, rows_module.ROWS_BLOCK])
@pytest.mark.parametrize("extra", [1, -1])
def test_rows_that_do_not_line_up_are_an_error_and_nothing_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: int, block: int) -> None:
    """Rows read back that are more or fewer than the labels (an input changed between
    the two reads) are a DataError that counts them all, and dest is not written."""
    monkeypatch.setattr(rows_module, "ROWS_BLOCK", block)
    path = tmp_path / "people.csv"
    path.write_text(TEXT)
    dest = tmp_path / "out.csv"
    labels = np.zeros(9 - extra, dtype=np.int64)
    with pytest.raises(DataError, match=rf"the rows read back \(9\) are not the {9 - extra} "
                                        "rows fitted"):
        write_with_rows(str(dest), InputRows(str(path), ReadOptions()), labels,
                        source=str(path))
    assert not dest.exists()


@pytest.mark.parametrize("change", ["in place", "grown", "replaced", "removed"])
def test_an_input_changed_after_it_was_read_is_refused_not_written_beside_labels(
        tmp_path: Path, change: str) -> None:
    """The rows are read again to be written: a file rewritten while the fit ran (one
    byte of a value changed in place) was written back with the labels of the values
    fitted, exit 0; one grown was 'not a plain table'.  Its version from before the first
    read is checked."""
    path = tmp_path / "people.csv"
    path.write_text(TEXT)
    rows = InputRows.before_reading(str(path), ReadOptions(), None)
    assert len(next(rows.blocks())["id"]) == 9  # unchanged: read back
    if change == "in place":
        with open(path, "r+b") as fh:
            fh.seek(TEXT.index("1.50"))
            fh.write(b"9")
    elif change == "grown":
        with open(path, "a") as fh:
            fh.write("10,jo,1,2\n")
    elif change == "replaced":
        (tmp_path / "new.csv").write_text(TEXT)
        (tmp_path / "new.csv").replace(path)
    else:
        path.unlink()
    dest = tmp_path / "out.csv"
    with pytest.raises(DataError, match="the file changed while it was read"):
        write_with_rows(str(dest), rows, np.zeros(9, dtype=np.int64), source=str(path))
    assert not dest.exists()


def test_with_rows_leaves_a_missing_input_to_the_reader(tmp_path: Path) -> None:
    """Taking the input's versions first said "no data parts found" of a missing
    'nope[1].csv' (a glob to the part finder): the reader's "file not found", as
    without --with-rows."""
    for extra in ([], ["--with-rows"]):
        result = CliRunner().invoke(cli, ["fit", str(tmp_path / "nope[1].csv"), *FIT, *extra,
                                          "-o", str(tmp_path / "out.csv")])
        assert result.exit_code == 1
        missing = tmp_path / "nope[1].csv"
        assert result.stderr == f"Error: {missing}: file not found; check the path\n"


def test_fit_refuses_an_input_rewritten_while_it_ran(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line takes the input's version before it reads the points."""
    from emgmm_cli.app import fitting

    path = tmp_path / "people.csv"
    path.write_text(TEXT)
    fit_points = fitting.fit_points

    def rewritten_meanwhile(*args: Any, **kwargs: Any) -> Any:
        fitted = fit_points(*args, **kwargs)
        path.write_text(TEXT.replace("1.50", "9.50"))  # another process, as the fit ran
        return fitted

    monkeypatch.setattr(fitting, "fit_points", rewritten_meanwhile)
    result = CliRunner().invoke(cli, ["fit", str(path), *FIT, "--with-rows", "-o",
                                      str(tmp_path / "out.csv")], env={"EMGMM_FORCE_TTY": "0"})
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (f"Error: {path}: the file changed while it was "
                                              "read (something wrote to it); run again once "
                                              "nothing writes to it")
    assert not (tmp_path / "out.csv").exists()


def test_parts_are_one_table_by_their_column_names(tmp_path: Path) -> None:
    """The parts of a dask input (a folder) are one table, each part's columns by the
    first part's names: a part of the same columns in another order was written by
    position under the first part's header (x's values under y, exit 0); a part with a
    column the first lacks was an internal error, and is the data's now, in every format."""
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "a.csv").write_text("x,y\n0.1,0.2\n0.3,0.1\n5.0,5.2\n5.1,4.9\n")
    (parts / "b.csv").write_text("y,x\n0.25,0.15\n5.3,5.05\n")
    out = tmp_path / "out.csv"
    fit = ("fit", parts, "--backend", "dask", "--workers", "1", "--columns", "x,y", "-k", "2",
           "--seed", "0", "-q", "--with-rows")
    invoke(*fit, "-o", out)
    assert [row[:2] for row in parsed(out.read_text())] == [
        ["x", "y"], ["0.1", "0.2"], ["0.3", "0.1"], ["5.0", "5.2"], ["5.1", "4.9"],
        ["0.15", "0.25"], ["5.05", "5.3"]]
    (parts / "b.csv").write_text("x,y,t\n0.25,0.15,u\n5.3,5.05,v\n")
    for name in ("out2.csv", "out2.json"):
        result = CliRunner().invoke(cli, [str(a) for a in fit] + ["-o", str(tmp_path / name)])
        assert (result.exit_code, result.stderr) == (
            1, f"Error: {parts / 'b.csv'}: has a column 't' that the first part lacks; "
               "--with-rows writes the parts as one table, of the same columns\n")
        assert not (tmp_path / name).exists()


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_rows_that_are_not_utf8_are_the_datas_error(tmp_path: Path, suffix: str) -> None:
    """A Latin-1 byte in a column the fit does not read: the fit is sound, but the rows
    are written back as UTF-8 text, so --with-rows refuses them with what to do (it was an
    internal error, UnicodeDecodeError), and writes nothing."""
    path = tmp_path / "towns.csv"
    path.write_bytes(b"id,x,y,town\n1,0.1,0.2,Z\xfcrich\n2,0.3,0.1,Bern\n3,5.0,5.2,Basel\n"
                     b"4,5.1,4.9,Chur\n")
    out = tmp_path / f"out{suffix}"
    result = CliRunner().invoke(cli, ["fit", str(path), "--columns", "x,y", "-k", "2",
                                      "--seed", "0", "-q", "--with-rows", "-o", str(out)])
    assert (result.exit_code, result.stderr) == (
        1, f"Error: {path}: holds bytes that are not UTF-8 text (byte 0xfc, ...); its rows "
           "are written back as UTF-8 text: convert the file first (iconv -f latin1 -t "
           "utf-8), or write the labels alone and paste them beside the rows\n")
    assert not out.exists()
