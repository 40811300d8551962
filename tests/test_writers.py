"""Tests of emgmm_cli.io's writers: the FORMATS table, write_table, stream_table, write_json,
and the atomic OutputSet behind them."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import numpy as np
import pytest

from emgmm_cli.io import (
    DataError,
    OutputSet,
    atomic_write,
    ensure_dir,
    format_for_path,
    formats,
    read_points,
    stream_table,
    write_json,
    write_table,
)
from emgmm_cli.io.formats import FORMATS, Block, TableWriter, format_names, formats_help


# --------------------------------------------------------------------------- output formats


def test_output_format() -> None:
    assert format_for_path("a.csv") == "csv"
    assert format_for_path("a.TSV") == "tsv"
    assert format_for_path("a.tab") == "tsv"
    assert format_for_path("a.npy") == "npy"
    assert format_for_path("a.json") == "json"
    assert format_for_path("-") == "csv"
    assert format_for_path("-", default="json") == "json"
    assert format_for_path("/dev/stdout") == "csv"
    with pytest.raises(DataError, match=re.escape(
            "out.xlsx: unsupported output format '.xlsx'; use .csv, .tsv, .npy, .json, .jsonl or .parquet")):
        format_for_path("out.xlsx")


# --------------------------------------------------------------------------- write_table


def test_labels_one_integer_per_line(tmp_path: Path) -> None:
    labels = np.array([0, 2, 1, 1])
    for name in ("l.csv", "l.tsv"):
        write_table(str(tmp_path / name), labels)
        assert (tmp_path / name).read_text() == "0\n2\n1\n1\n"
    write_table(str(tmp_path / "l.npy"), labels.astype(np.int32))
    loaded = np.load(tmp_path / "l.npy")
    assert loaded.dtype == np.int64 and loaded.tolist() == [0, 2, 1, 1]
    write_table(str(tmp_path / "l.json"), labels)
    assert (tmp_path / "l.json").read_text() == "[0, 2, 1, 1]\n"
    assert json.loads((tmp_path / "l.json").read_text()) == [0, 2, 1, 1]


def test_responsibilities_csv_tsv_json_npy(tmp_path: Path) -> None:
    resp = np.array([[0.25, 0.75], [1 / 3, 2 / 3]])
    names = ["p0", "p1"]
    write_table(str(tmp_path / "r.csv"), resp, column_names=names)
    assert (tmp_path / "r.csv").read_text() == "p0,p1\n0.25,0.75\n0.3333333333,0.6666666667\n"
    write_table(str(tmp_path / "r.tsv"), resp, column_names=names)
    assert (tmp_path / "r.tsv").read_text().splitlines()[0] == "p0\tp1"
    write_table(str(tmp_path / "r.json"), resp, column_names=names)
    records = json.loads((tmp_path / "r.json").read_text())
    assert records == [{"p0": 0.25, "p1": 0.75}, {"p0": 1 / 3, "p1": 2 / 3}]
    write_table(str(tmp_path / "r.npy"), resp, column_names=names)
    np.testing.assert_array_equal(np.load(tmp_path / "r.npy"), resp)


def test_scores_as_one_named_column(tmp_path: Path) -> None:
    write_table(str(tmp_path / "s.csv"), np.array([-1.5, 2.0]), column_names=["score"])
    assert (tmp_path / "s.csv").read_text() == "score\n-1.5\n2\n"


def test_matrix_round_trip_through_the_reader(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3)) * 1e3
    write_table(str(tmp_path / "m.csv"), x, column_names=["a", "b", "c"])
    pts = read_points(str(tmp_path / "m.csv"))
    assert pts.column_names == ["a", "b", "c"]
    np.testing.assert_allclose(pts.x, x, rtol=1e-9)
    write_table(str(tmp_path / "m.tsv"), x, column_names=["a", "b", "c"])
    np.testing.assert_allclose(read_points(str(tmp_path / "m.tsv")).x, x, rtol=1e-9)


@pytest.mark.filterwarnings("error")
def test_spread_digits() -> None:
    """DIGITS where values are of the size of their spread; one more digit per power of
    ten the largest value exceeds the spread by, up to a float64's 17; a constant column
    as many as read back as its value (it has no spread to keep): all 17 made 0.1
    0.10000000000000001 (make-blobs --std 0, sample -n 1)."""
    digits = formats.spread_digits
    assert digits(np.array([0.1, 5.0])) == formats.DIGITS == 10
    assert digits(np.array([-3.0, 4.0, 9.5])) == 10
    assert digits(np.array([1e-300, 2e-300])) == 10
    assert digits(np.array([100.0, 101.5])) == 12
    assert digits(np.array([1e9 + 0.5, 1e9 + 3.25])) == 17
    assert digits(np.array([7.25, 7.25])) == 10
    assert digits(np.array([0.1, 0.1])) == 10 and digits(np.array([1 / 3])) == 16
    assert digits(np.array([-0.084055573903225378])) == 16
    assert digits(np.array([0.1 + 0.2])) == 17  # 0.30000000000000004
    assert digits(np.array([0.0, 0.0])) == 10
    assert digits(np.array([np.nan, -np.inf, 2.0, 3.0])) == 10  # no warning either
    assert digits(np.array([np.nan])) == 10
    assert digits(np.array([1e308, -1e308])) == 10  # a spread float64 cannot hold


def test_coordinates_keep_their_spread(tmp_path: Path) -> None:
    """Points near 2e9 that differ by units: DIGITS significant digits round them to
    whole numbers; written as coordinates they keep 10 digits of their spread, and a
    matrix and a table of columns write the same text."""
    rng = np.random.default_rng(0)
    x = 2e9 + rng.normal(size=(50, 2))
    x[:, 1] = x[:, 1] / 2e9  # a second column near 1, spread 1e-9
    plain, coords, cols = (tmp_path / n for n in ("plain.csv", "coords.csv", "cols.csv"))
    write_table(str(plain), x, column_names=["a", "b"])
    write_table(str(coords), x, column_names=["a", "b"], coordinates=True)
    write_table(str(cols), {"a": x[:, 0], "b": x[:, 1], "label": np.arange(50)},
                coordinates=True)
    rounded = read_points(str(plain)).x
    assert np.all(rounded[:, 0] == np.round(rounded[:, 0]))  # what this guards against
    back = read_points(str(coords)).x
    spread = x.max(axis=0) - x.min(axis=0)
    assert np.all(np.abs(back - x) <= 1e-10 * spread)
    with_labels = read_points(str(cols)).x
    np.testing.assert_array_equal(with_labels[:, :2], back)
    np.testing.assert_array_equal(with_labels[:, 2], np.arange(50))
    # data of ordinary size: the same bytes either way
    y = rng.normal(size=(20, 3))
    write_table(str(plain), y)
    write_table(str(coords), y, coordinates=True)
    assert plain.read_bytes() == coords.read_bytes()


def test_trace_table_with_nan(tmp_path: Path) -> None:
    trace = {
        "iteration": [1, 2, 3],
        "log_likelihood": [-10.5, -9.25, -9.0],
        "change": [float("nan"), 1.25, None],
        "seconds": np.array([0.1, 0.2, 0.3]),
    }
    write_table(str(tmp_path / "t.csv"), trace)
    assert (tmp_path / "t.csv").read_text() == (
        "iteration,log_likelihood,change,seconds\n1,-10.5,,0.1\n2,-9.25,1.25,0.2\n3,-9,,0.3\n"
    )
    write_table(str(tmp_path / "t.tsv"), trace)
    assert (tmp_path / "t.tsv").read_text().splitlines()[1] == "1\t-10.5\t\t0.1"
    write_table(str(tmp_path / "t.json"), trace)
    records = json.loads((tmp_path / "t.json").read_text())
    assert records[0] == {"iteration": 1, "log_likelihood": -10.5, "change": None, "seconds": 0.1}
    assert records[2]["change"] is None
    write_table(str(tmp_path / "t.npy"), trace)
    arr = np.load(tmp_path / "t.npy")
    assert arr.shape == (3, 4) and arr.dtype == np.float64
    assert np.isnan(arr[0, 2]) and arr[1, 2] == 1.25


def test_whole_numbers_with_gaps_stay_whole_numbers(tmp_path: Path) -> None:
    """A column of whole numbers and None (select's n_parameters, batch's k for a failed
    dataset) was made float64: JSON and JSON Lines wrote "k": 3.0, Parquet a double
    column.  It is now 3 and null there, the empty field of CSV, and NaN in .npy."""
    table = {"k": [3, None, 12], "bic": [1.5, None, 2.0]}
    write_table(str(tmp_path / "t.csv"), table)
    assert (tmp_path / "t.csv").read_text() == "k,bic\n3,1.5\n,\n12,2\n"
    for name in ("t.json", "t.jsonl"):
        write_table(str(tmp_path / name), table)
    assert json.loads((tmp_path / "t.json").read_text())[0] == {"k": 3, "bic": 1.5}
    assert (tmp_path / "t.jsonl").read_text().splitlines()[:2] == [
        '{"k": 3, "bic": 1.5}', '{"k": null, "bic": null}']
    write_table(str(tmp_path / "t.npy"), table)
    arr = np.load(tmp_path / "t.npy")
    assert arr[0].tolist() == [3.0, 1.5] and np.isnan(arr[1]).all()
    pq = pytest.importorskip("pyarrow.parquet")
    write_table(str(tmp_path / "t.parquet"), table)
    read = pq.read_table(tmp_path / "t.parquet")
    assert str(read.schema.field("k").type) == "int64"
    assert read.column("k").to_pylist() == [3, None, 12]


def test_nan_in_matrix_is_an_empty_field(tmp_path: Path) -> None:
    x = np.array([[1.0, np.nan], [np.inf, 2.0]])
    write_table(str(tmp_path / "m.csv"), x, column_names=["a", "b"])
    assert (tmp_path / "m.csv").read_text() == "a,b\n1,\ninf,2\n"
    write_table(str(tmp_path / "m.json"), x, column_names=["a", "b"])
    assert json.loads((tmp_path / "m.json").read_text()) == [{"a": 1.0, "b": None}, {"a": "inf", "b": 2.0}]


def test_table_with_strings(tmp_path: Path) -> None:
    table = {"k": [1, 2], "covariance": ["full", "diag, tied"], "bic": [10.0, 9.5], "ok": [True, False]}
    write_table(str(tmp_path / "s.csv"), table)
    assert (tmp_path / "s.csv").read_text() == 'k,covariance,bic,ok\n1,full,10,true\n2,"diag, tied",9.5,false\n'
    write_table(str(tmp_path / "s.json"), table)
    assert json.loads((tmp_path / "s.json").read_text())[1] == {
        "k": 2, "covariance": "diag, tied", "bic": 9.5, "ok": False,
    }
    with pytest.raises(DataError) as info:
        write_table(str(tmp_path / "s.npy"), table)
    assert info.value.column == "covariance"
    assert not (tmp_path / "s.npy").exists()


def test_empty_tables(tmp_path: Path) -> None:
    write_table(str(tmp_path / "e.csv"), np.zeros(0, dtype=int))
    assert (tmp_path / "e.csv").read_text() == ""
    write_table(str(tmp_path / "e.json"), {"a": []})
    assert (tmp_path / "e.json").read_text() == "[]\n"


def test_many_rows_are_formatted_in_chunks(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30000, 5))
    x[12345, 3] = np.nan
    write_table(str(tmp_path / "big.csv"), x, column_names=list("abcde"))
    lines = (tmp_path / "big.csv").read_text().splitlines()
    assert len(lines) == 30001
    assert lines[12346].split(",")[3] == ""
    assert lines[30000] == ",".join("%.10g" % v for v in x[-1])


def test_malformed_table_data_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_table(str(tmp_path / "a.csv"), np.zeros((2, 2)), column_names=["only-one"])
    with pytest.raises(ValueError):
        write_table(str(tmp_path / "a.csv"), {"a": [1, 2], "b": [1]})
    with pytest.raises(ValueError):
        write_table(str(tmp_path / "a.csv"), np.zeros((2, 2, 2)))
    assert not (tmp_path / "a.csv").exists()


# --------------------------------------------------------------------------- write_json


def test_write_json(tmp_path: Path) -> None:
    obj = {
        "k": np.int64(3),
        "weights": np.array([0.5, 0.5]),
        "bad": [float("nan"), float("inf"), np.float32(1.5)],
        "ok": np.bool_(True),
        "nested": {"x": (1, 2)},
    }
    write_json(str(tmp_path / "m.json"), obj)
    text = (tmp_path / "m.json").read_text()
    assert text.endswith("}\n") and '\n  "k": 3,' in text
    assert json.loads(text) == {
        "k": 3, "weights": [0.5, 0.5], "bad": [None, "inf", 1.5], "ok": True, "nested": {"x": [1, 2]},
    }


# --------------------------------------------------------------------------- atomicity


def _temps(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".tmp-" in p.name]


class Boom(Exception):
    pass


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"

    def write(fh: IO[Any]) -> None:
        fh.write("partial\n" * 1000)
        fh.flush()
        assert _temps(tmp_path) and _temps(tmp_path)[0].startswith(".out.csv.tmp-")
        raise Boom()

    with pytest.raises(Boom), OutputSet() as out, out.stage(str(target)) as fh:
        write(fh)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_existing_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("precious\n")
    with pytest.raises(Boom), atomic_write(str(target)) as fh:
        fh.write("half")
        raise Boom()
    assert target.read_text() == "precious\n"
    assert _temps(tmp_path) == []


def test_failure_after_first_output_commits_nothing(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), OutputSet() as out:
        write_table(str(tmp_path / "labels.csv"), np.array([0, 1]), out=out)
        assert _temps(tmp_path) and not (tmp_path / "labels.csv").exists()  # not before commit
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_output_set_commits_all(tmp_path: Path) -> None:
    with OutputSet() as out:
        write_table(str(tmp_path / "labels.csv"), np.array([0, 1]), out=out)
        write_json(str(tmp_path / "model.json"), {"k": 2}, out=out)
        with out.stage(str(tmp_path / "raw.bin"), binary=True) as fb:
            fb.write(b"\x00\x01")
    assert (tmp_path / "labels.csv").read_text() == "0\n1\n"
    assert json.loads((tmp_path / "model.json").read_text()) == {"k": 2}
    assert (tmp_path / "raw.bin").read_bytes() == b"\x00\x01"
    assert _temps(tmp_path) == []
    with pytest.raises(RuntimeError):
        out.commit()


def test_explicit_abort(tmp_path: Path) -> None:
    out = OutputSet()
    with out.stage(str(tmp_path / "a.csv")) as fh:
        fh.write("x\n")
    out.abort()
    out.abort()
    assert list(tmp_path.iterdir()) == []


def test_new_file_mode_follows_umask_and_existing_mode_is_kept(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_table(str(tmp_path / "new.csv"), np.array([1]))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.csv").st_mode) == 0o644
    existing = tmp_path / "old.csv"
    existing.write_text("x\n")
    os.chmod(existing, 0o640)
    write_table(str(existing), np.array([1]))
    assert stat.S_IMODE(os.stat(existing).st_mode) == 0o640
    assert existing.read_text() == "1\n"


def test_writes_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    write_table(str(link), np.array([7]))
    assert link.is_symlink()
    assert real.read_text() == "7\n"


def test_device_target_is_written_not_replaced() -> None:
    if not os.path.exists(os.devnull) or os.name != "posix":
        pytest.skip("needs /dev/null")
    write_table(os.devnull, np.array([1, 2]))
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_output_errors(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope" / "out.csv")
    with pytest.raises(DataError) as info:
        write_table(missing, np.array([1]))
    assert info.value.source == missing
    assert info.value.message == f"cannot write: directory '{tmp_path / 'nope'}' does not exist; create it first"
    with pytest.raises(DataError, match="is a directory"):
        write_table(str(tmp_path), np.array([1]), fmt="csv")
    with pytest.raises(DataError, match="the same file is given for two outputs"):
        with OutputSet() as out:
            write_table(str(tmp_path / "a.csv"), np.array([1]), out=out)
            write_table(str(tmp_path / "a.csv"), np.array([2]), out=out)
    assert list(tmp_path.iterdir()) == []


def test_check_targets_says_what_staging_would_before_anything_is_written(
        tmp_path: Path) -> None:
    """io.writers.check_targets: the errors OutputSet.stage gives (test_output_errors),
    with their messages, found from the names alone; streams and stdout are left out."""
    from emgmm_cli.io.writers import check_targets

    (tmp_path / "a.csv").write_text("x\n")
    (tmp_path / "link.csv").symlink_to(tmp_path / "a.csv")
    missing = str(tmp_path / "nope" / "out.csv")
    with pytest.raises(DataError) as info:
        check_targets(["-", missing])
    assert (info.value.source, info.value.message) == (
        missing, f"cannot write: directory '{tmp_path / 'nope'}' does not exist; create it "
                 "first")
    with pytest.raises(DataError, match=": is a directory; give a file name"):
        check_targets([str(tmp_path)])
    with pytest.raises(DataError, match="link.csv: the same file is given for two outputs"):
        check_targets([str(tmp_path / "a.csv"), str(tmp_path / "link.csv")])
    check_targets(["-", "-", os.devnull, os.devnull, str(tmp_path / "b.csv")])
    # a folder the command makes needs only to be makeable
    check_targets([missing], creates=str(tmp_path / "nope"))
    with pytest.raises(DataError, match="sub: cannot create the directory: Not a directory$"):
        check_targets([], creates=str(tmp_path / "a.csv" / "sub"))
    with pytest.raises(DataError, match="a.csv: exists and is not a directory"):
        check_targets([], creates=str(tmp_path / "a.csv"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "link.csv"]


def test_ensure_dir(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    assert ensure_dir(str(target)) == str(target)
    assert target.is_dir()
    ensure_dir(str(target))
    (tmp_path / "file").write_text("")
    with pytest.raises(DataError, match="exists and is not a directory"):
        ensure_dir(str(tmp_path / "file"))


# --------------------------------------------------------------------------- stdout


def test_stdout_is_written_only_at_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.StringIO()
    monkeypatch.setattr(sys, "stdout", fake)
    with OutputSet() as out:
        write_table("-", np.array([0, 1, 1]), out=out)
        assert fake.getvalue() == ""
    assert fake.getvalue() == "0\n1\n1\n"


def test_stdout_gets_nothing_when_the_run_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.StringIO()
    monkeypatch.setattr(sys, "stdout", fake)
    with pytest.raises(Boom), OutputSet() as out:
        write_table("-", np.array([0, 1, 1]), out=out)
        raise Boom()
    assert fake.getvalue() == ""


def test_stdout_with_capsys(capsys: pytest.CaptureFixture[str]) -> None:
    write_table("-", np.array([[0.5, 0.5]]), column_names=["p0", "p1"])
    write_json("-", {"a": 1})
    assert capsys.readouterr().out == 'p0,p1\n0.5,0.5\n{\n  "a": 1\n}\n'


def test_stdout_binary(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    write_table("-", np.array([1, 2]), fmt="npy")
    data = capsysbinary.readouterr().out
    np.testing.assert_array_equal(np.load(io.BytesIO(data)), [1, 2])


def test_only_one_output_on_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.StringIO()
    monkeypatch.setattr(sys, "stdout", fake)
    with pytest.raises(DataError, match="only one output can go to standard output"):
        with OutputSet() as out:
            write_table("-", np.array([1]), out=out)
            write_table("-", np.array([2]), out=out)
    assert fake.getvalue() == ""


# --------------------------------------------------------------------------- the FORMATS table

ROOT = Path(__file__).resolve().parent.parent


def test_every_row_describes_its_format() -> None:
    seen: set[str] = set()
    for name, writer in FORMATS.items():
        assert writer.extensions and all(e.startswith(".") and e == e.lower() for e in writer.extensions)
        assert not seen & set(writer.extensions), f"{name} shares an extension"
        seen |= set(writer.extensions)
        assert writer.description and "\n" not in writer.description
        assert isinstance(writer.binary, bool)
    assert list(FORMATS) == ["csv", "tsv", "npy", "json", "jsonl", "parquet"]


def test_format_for_path_knows_every_extension_and_lists_them_when_refusing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the lookup alone: whether pyarrow is there is test_parquet_without_pyarrow_names_the_extra's
    monkeypatch.setattr(formats.Parquet, "check", classmethod(lambda cls, path: None))
    for name, writer in FORMATS.items():
        for ext in writer.extensions:
            assert format_for_path(f"out{ext}") == name
            assert format_for_path(f"dir/OUT{ext.upper()}") == name
    with pytest.raises(DataError) as info:
        format_for_path("out.xlsx")
    assert info.value.message == f"unsupported output format '.xlsx'; use {formats_help()}"
    for writer in FORMATS.values():
        assert writer.extensions[0] in info.value.message
    with pytest.raises(ValueError):
        format_for_path("-", default="xlsx")


def test_formats_help_is_built_from_the_table() -> None:
    assert formats_help() == ".csv, .tsv, .npy, .json, .jsonl or .parquet"
    assert formats_help(text_columns=True) == ".csv, .tsv, .json, .jsonl or .parquet"
    assert format_names(text_columns=True) == ["csv", "tsv", "json", "jsonl", "parquet"]
    assert format_names(streaming=True) == [n for n, w in FORMATS.items() if w.streams]


def test_the_formats_table_imports_without_numpy() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import emgmm_cli.io.formats, sys; assert 'numpy' not in sys.modules"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr


def test_a_new_format_is_one_class_and_one_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Upper(TableWriter):
        extensions = (".up",)
        description = "upper-case test format"

        def write_block(self, block: Block) -> None:
            for row in zip(*(c.tolist() for c in block.columns)):
                self.fh.write(" ".join(str(v).upper() for v in row) + "\n")

    monkeypatch.setitem(FORMATS, "up", Upper)
    assert format_for_path("t.UP") == "up"
    assert formats_help().endswith(", .parquet or .up")
    write_table(str(tmp_path / "t.up"), {"a": ["x", "y"], "b": [True, False]})
    assert (tmp_path / "t.up").read_text() == "X TRUE\nY FALSE\n"
    with stream_table(str(tmp_path / "s.up"), n_rows=3, dtype=np.int64) as table:
        table.write(np.array([1, 2]))
        table.write(np.array([3]))
    assert (tmp_path / "s.up").read_text() == "1\n2\n3\n"


# --------------------------------------------------------------------------- one block or many


def _streamed(path: Path, blocks: list[np.ndarray], names: list[str] | None) -> bytes:
    with stream_table(str(path), n_rows=sum(len(b) for b in blocks), column_names=names,
                      dtype=blocks[0].dtype) as table:
        for block in blocks:
            table.write(block)
    return path.read_bytes()


@pytest.mark.parametrize("name", list(FORMATS))
@pytest.mark.parametrize("chunk", [1 << 16, 7])
def test_streamed_blocks_equal_one_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         name: str, chunk: int) -> None:
    if name == "parquet":
        pytest.importorskip("pyarrow")
    monkeypatch.setattr(formats, "_CELLS_PER_CHUNK", chunk)  # chunks cut across blocks
    monkeypatch.setattr(formats, "_CELLS_PER_ROW_GROUP", 4 * chunk)  # so do row groups
    ext = FORMATS[name].extensions[0]
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, 61)
    resp = rng.dirichlet(np.ones(3), 45)
    resp[5, 1], resp[6, 2] = np.nan, np.inf
    names = ["p0", "p1", "p2"]
    for data, cols, cuts in [(labels, None, [0, 1, 30, 30, 59]), (resp, names, [2, 17, 40])]:
        write_table(str(tmp_path / f"one{ext}"), data, column_names=cols)
        one = (tmp_path / f"one{ext}").read_bytes()
        assert _streamed(tmp_path / f"many{ext}", np.split(data, cuts), cols) == one
        assert len(one) > 0


# --------------------------------------------------------------------------- JSON Lines


def _lines(path: Path) -> list[Any]:
    text = path.read_text()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_jsonl_labels_and_responsibilities(tmp_path: Path) -> None:
    write_table(str(tmp_path / "l.jsonl"), np.array([0, 2, 1, 1]))
    assert (tmp_path / "l.jsonl").read_text() == "0\n2\n1\n1\n"
    resp = np.array([[0.25, 0.75], [1 / 3, np.nan], [np.inf, 0.5]])
    write_table(str(tmp_path / "r.ndjson"), resp, column_names=["p0", "p1"])
    assert (tmp_path / "r.ndjson").read_text().splitlines()[0] == '{"p0": 0.25, "p1": 0.75}'
    assert _lines(tmp_path / "r.ndjson") == [
        {"p0": 0.25, "p1": 0.75}, {"p0": 1 / 3, "p1": None}, {"p0": "inf", "p1": 0.5}]
    write_table(str(tmp_path / "e.jsonl"), np.zeros(0, dtype=int))
    assert (tmp_path / "e.jsonl").read_text() == ""
    write_table(str(tmp_path / "s.jsonl"), np.array(["a, b", "c"]))
    assert (tmp_path / "s.jsonl").read_text() == '"a, b"\n"c"\n'
    write_table(str(tmp_path / "f.jsonl"), np.array([0.5, np.nan, True]))
    assert (tmp_path / "f.jsonl").read_text() == "0.5\nnull\n1.0\n"


def test_jsonl_table_of_mixed_columns(tmp_path: Path) -> None:
    table = {"k": [1, 2], "covariance": ["full", "diag, tied"], "bic": [10.0, float("nan")],
             "ok": [True, False], "note": ["é", None]}
    write_table(str(tmp_path / "s.jsonl"), table)
    assert _lines(tmp_path / "s.jsonl") == [
        {"k": 1, "covariance": "full", "bic": 10.0, "ok": True, "note": "é"},
        {"k": 2, "covariance": "diag, tied", "bic": None, "ok": False, "note": None},
    ]


def test_jsonl_streamed_to_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.StringIO()
    monkeypatch.setattr(sys, "stdout", fake)
    with OutputSet() as out:
        with stream_table("-", n_rows=3, column_names=["score"], fmt="jsonl", out=out) as table:
            table.write(np.array([1.5, -2.0]))
            table.write(np.array([float("nan")]))
        assert fake.getvalue() == ""
    assert fake.getvalue() == '{"score": 1.5}\n{"score": -2.0}\n{"score": null}\n'


# --------------------------------------------------------------------------- Parquet


def test_parquet_round_trip(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    write_table(str(tmp_path / "l.parquet"), np.array([0, 2, 1]))
    labels = pd.read_parquet(tmp_path / "l.parquet")
    assert list(labels.columns) == ["value"] and labels["value"].tolist() == [0, 2, 1]
    resp = np.random.default_rng(4).dirichlet(np.ones(3), 20)
    resp[3, 0] = np.nan
    with stream_table(str(tmp_path / "r.parquet"), n_rows=20, column_names=["p0", "p1", "p2"]) as table:
        for block in np.split(resp, [7, 7, 15]):
            table.write(block)
    frame = pd.read_parquet(tmp_path / "r.parquet")
    assert list(frame.columns) == ["p0", "p1", "p2"]
    np.testing.assert_array_equal(frame.to_numpy(), resp)  # NaN stays NaN
    mixed = {"k": [1, 2], "covariance": ["full", None], "bic": [10.0, 9.5], "ok": [True, False]}
    write_table(str(tmp_path / "s.parquet"), mixed)
    back = pd.read_parquet(tmp_path / "s.parquet")
    assert back["k"].tolist() == [1, 2] and back["ok"].tolist() == [True, False]
    assert back["covariance"][0] == "full" and back["covariance"].isna().tolist() == [False, True]


def test_parquet_row_groups_follow_row_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    monkeypatch.setattr(formats, "_CELLS_PER_ROW_GROUP", 20)  # 10 rows of 2 columns a group
    with stream_table(str(tmp_path / "r.parquet"), n_rows=25, column_names=["a", "b"]) as table:
        for block in np.split(np.arange(50.0).reshape(25, 2), [3, 4, 18]):
            table.write(block)
    meta = pq.read_metadata(tmp_path / "r.parquet")
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [10, 10, 5]


def test_parquet_on_stdout(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    write_table("-", np.array([[0.5, 0.5]]), column_names=["p0", "p1"], fmt="parquet")
    back = pq.read_table(io.BytesIO(capsysbinary.readouterr().out))
    assert back.to_pydict() == {"p0": [0.5], "p1": [0.5]}


def test_parquet_column_that_arrow_cannot_hold(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    with pytest.raises(DataError) as info:
        write_table(str(tmp_path / "m.parquet"), {"a": [1, "x", None]})
    assert info.value.column == "a" and info.value.message.startswith("cannot write as Parquet")
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_parquet_without_pyarrow_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for module in [m for m in sys.modules if m == "pyarrow" or m.startswith("pyarrow.")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now fails
    hint = "writing .parquet needs pyarrow: pip install 'emgmm[parquet]'"
    with pytest.raises(DataError, match=re.escape(f"out.parquet: {hint}")):
        format_for_path("out.parquet")
    with pytest.raises(DataError, match=re.escape(hint)):
        write_table(str(tmp_path / "l.parquet"), np.array([1, 2]))
    with pytest.raises(DataError, match=re.escape(hint)):
        write_table(str(tmp_path / "l.bin"), np.array([1, 2]), fmt="parquet")
    monkeypatch.setattr(formats.Parquet, "check", classmethod(lambda cls, path: None))
    with pytest.raises(DataError, match=re.escape(hint)):  # the import itself fails too
        write_table(str(tmp_path / "l.parquet"), np.array([1, 2]))
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- .npy refusals


def test_npy_refusals_list_the_formats_that_hold_text(tmp_path: Path) -> None:
    text_formats = formats_help(text_columns=True)
    with pytest.raises(DataError) as info:
        write_table(str(tmp_path / "s.npy"), {"k": [1], "name": ["a"]})
    assert info.value.column == "name"
    assert info.value.message.endswith(f"use {text_formats}")
    with pytest.raises(DataError, match=re.escape(f"cannot write <U1 values to .npy; use {text_formats}")):
        write_table(str(tmp_path / "v.npy"), np.array(["a", "b"]))
    assert list(tmp_path.iterdir()) == []


def test_a_staged_folder_gets_the_bits_a_new_folder_gets(tmp_path: Path) -> None:
    """The folders of parts (dask --output-dir labels/) came out drwx------, mkdtemp's,
    whatever the umask, where every other output is readable as the umask allows: other
    users of a shared file system could not read the results.  A new one gets 0777 less
    the umask; one that replaces a folder gets that folder's bits."""
    from emgmm_cli.io.writers import OutputSet

    old = os.umask(0o022)
    try:
        with OutputSet() as out:
            (Path(out.stage_folder(str(tmp_path / "new"))) / "p.csv").write_text("1\n")
        assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o755
        os.umask(0o077)
        with OutputSet() as out:
            out.stage_folder(str(tmp_path / "private"))
        assert stat.S_IMODE((tmp_path / "private").stat().st_mode) == 0o700
        (tmp_path / "new").chmod(0o750)
        with OutputSet() as out:
            out.stage_folder(str(tmp_path / "new"))
        assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o750
    finally:
        os.umask(old)


def test_a_staged_folder_appears_at_commit_and_replaces_the_old_one(tmp_path: Path) -> None:
    from emgmm_cli.io.writers import OutputSet

    target = tmp_path / "labels"
    target.mkdir()
    (target / "old.csv").write_text("old\n")
    with OutputSet() as out:
        folder = Path(out.stage_folder(str(target)))
        (folder / "part-00000.csv").write_text("1\n")
        assert (target / "old.csv").exists()  # nothing changes before the commit
    assert sorted(p.name for p in target.iterdir()) == ["part-00000.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels"]

    with pytest.raises(KeyboardInterrupt), OutputSet() as out:
        (Path(out.stage_folder(str(target))) / "part-00000.csv").write_text("2\n")
        raise KeyboardInterrupt
    assert (target / "part-00000.csv").read_text() == "1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="is a file"), OutputSet() as out:
        out.stage_folder(str(tmp_path / "file"))
