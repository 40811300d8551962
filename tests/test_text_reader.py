"""Tests of emgmm_cli.io.text, the one text reader behind read_points and the cache.

- every valid variant of CSV (blank and whitespace-only trailing lines, comments, quotes,
  CRLF, a byte-order mark, and their combinations) is read by the fast parsers, small
  (numpy.loadtxt) and large (pandas, whole file and chunk by chunk): the exact locator
  never runs;
- the in-memory read, the cache conversion, standard input, compressed files and the
  large-input parser give the same values and the same error messages (line, column) for
  the same bad file, with the problem in a later chunk;
- .gz, .bz2, .xz and .zst (when zstandard is importable) are read as they are;
- standard input is read in chunks, with a bounded peak of memory;
- pandas and numpy.loadtxt agree bit for bit, so which one read a chunk never shows.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from emgmm_cli.io import DataError, read_points
from emgmm_cli.io import text as text_reader
from emgmm_cli.io.cache import open_points

ROOT = Path(__file__).resolve().parent.parent


def compress(codec: str, data: bytes) -> bytes:
    if codec == "gz":
        return gzip.compress(data)
    if codec == "bz2":
        return bz2.compress(data)
    if codec == "xz":
        return lzma.compress(data)
    zstandard = pytest.importorskip("zstandard")
    return bytes(zstandard.ZstdCompressor().compress(data))


@pytest.fixture()
def no_locator(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> None:
        raise AssertionError("the exact locator ran on a valid file")

    monkeypatch.setattr(text_reader, "locate", refuse)


@pytest.fixture(params=["small", "large"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """small: numpy.loadtxt; large: pandas (the size threshold lowered to 0)."""
    if request.param == "large":
        pytest.importorskip("pandas")
        monkeypatch.setattr(text_reader, "PANDAS_MIN_BYTES", 0)
    return str(request.param)


def read_via(how: str, tmp_path: Path, name: str, data: bytes, **kwargs: Any) -> Any:
    """read_points over data given as a file, on stdin, gzip-compressed, or in small chunks."""
    if how == "stdin":
        return read_points("-", stdin=io.BytesIO(data), **kwargs)
    if how == "gz":
        path = tmp_path / (name + ".gz")
        path.write_bytes(gzip.compress(data))
        return read_points(str(path), **kwargs)
    path = tmp_path / name
    path.write_bytes(data)
    return read_points(str(path), **kwargs)


# --------------------------------------------------------------------------- the fast path

VALID = [
    ("trailing blank lines", b"x,y\n1,2\n3,4\n\n\n", {}),
    ("trailing whitespace lines", b"x,y\n1,2\n3,4\n   \n\t \n", {}),
    ("comments", b"# made by hand\nx,y\n1,2 # first\n# a whole line\n3,4\n", {}),
    ("quoted numbers", b'"x","y"\n"1","2"\n3,"4"\n', {}),
    ("crlf", b"x,y\r\n1,2\r\n3,4\r\n", {}),
    ("bom", b"\xef\xbb\xbfx,y\n1,2\n3,4\n", {}),
    ("bom without header", b"\xef\xbb\xbf1,2\n3,4\n", {}),
    ("all of them", b'\xef\xbb\xbf# note\r\n"x","y"\r\n"1",2 # a\r\n\r\n3,"4"\r\n  \r\n\r\n', {}),
    ("quoted delimiter in a column left out", b'x,y,label\n1,2,"a, b"\n3,4,c\n',
     {"columns": ["x", "y"]}),
    ("R row names", b'"x" "y"\n"1" 1 2\n"2" 3 4\n', {}),
    ("blank lines", b"x,y\n\n1,2\n\n3,4\n", {}),
]


@pytest.mark.parametrize("how", ["file", "stdin", "gz"])
@pytest.mark.parametrize(("label", "data", "kwargs"), VALID, ids=[v[0] for v in VALID])
def test_valid_csv_stays_on_the_fast_path(tmp_path: Path, no_locator: None, parser: str,
                                          how: str, label: str, data: bytes,
                                          kwargs: dict[str, Any]) -> None:
    pts = read_via(how, tmp_path, "d.txt" if label == "R row names" else "d.csv", data,
                   **kwargs)
    np.testing.assert_array_equal(pts.x, [[1, 2], [3, 4]])
    assert pts.x.flags.c_contiguous and pts.x.dtype == np.float64
    if "header" not in label:
        assert pts.column_names == ["x", "y"]


@pytest.fixture()
def chunks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The large parser for every file, and a count of the chunks it cuts (none when
    pandas reads a path whole)."""
    monkeypatch.setattr(text_reader, "PANDAS_MIN_BYTES", 0)
    counts: list[int] = []
    original = text_reader.parse_chunk

    def counted(*args: Any) -> Any:
        counts.append(1)
        return original(*args)

    monkeypatch.setattr(text_reader, "parse_chunk", counted)
    return counts


def test_the_large_parser_reads_a_file_whole(tmp_path: Path, chunks: list[int],
                                             no_locator: None) -> None:
    pytest.importorskip("pandas")
    x = np.random.default_rng(0).normal(size=(3000, 5))
    path = tmp_path / "d.csv"
    np.savetxt(path, x, delimiter=",", header="a,b,c,d,e", comments="", fmt="%.17g")
    np.testing.assert_array_equal(read_points(str(path)).x, x)
    assert chunks == []  # pandas read the path, no chunk was cut
    # a comment makes pandas refuse the whole file: the chunks read it, still fast
    with open(path, "a", encoding="ascii") as fh:
        fh.write("# the end\n")
    np.testing.assert_array_equal(read_points(str(path)).x, x)
    assert chunks


def test_a_zero_one_column_keeps_the_whole_file_parse(tmp_path: Path,
                                                     chunks: list[int]) -> None:
    pytest.importorskip("pandas")
    path = tmp_path / "d.csv"
    path.write_text("x,flag\n" + "1.5,0\n2.5,1\n" * 50)
    assert read_points(str(path)).x[:, 1].tolist() == [0.0, 1.0] * 50
    assert chunks == []
    path.write_text("x,flag\n" + "1.5,False\n2.5,True\n" * 50)
    err = error_of(lambda: read_points(str(path)))
    assert (err.line, err.column) == (2, "flag") and "non-numeric value 'False'" in err.message


def test_lines_longer_than_a_chunk_and_a_long_prologue(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_reader, "CHUNK_BYTES", 64)
    x = np.random.default_rng(1).normal(size=(40, 30))
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in x) + "\n"
    prologue = "# a comment line\n" * 5000  # more than the first look at the input
    path = tmp_path / "d.csv"
    path.write_text(prologue + ",".join(f"c{j}" for j in range(30)) + "\n" + body)
    pts = read_points(str(path))
    np.testing.assert_array_equal(pts.x, x)
    assert pts.column_names[-1] == "c29"
    err = pytest.raises(DataError, read_points, "-",
                        stdin=io.BytesIO((prologue + "a,b\n1,2\n3,x\n").encode()))
    assert (err.value.line, err.value.column) == (5003, "b")


def test_small_inputs_do_not_import_pandas(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("x,y\n1,2\n3,4\n")
    code = ("import sys; from emgmm_cli.io import read_points; "
            f"read_points({str(path)!r}); print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


def quoted_text(rows: int, delim: str = ",", crlf: bool = False) -> tuple[bytes, np.ndarray]:
    """A table whose text column holds what quoting allows (line breaks, delimiters,
    escaped quotes, a '#'), inch marks within unquoted fields, and comments with quotes,
    beside two numeric columns; and those columns' values."""
    rng = np.random.default_rng(7)
    x = np.round(rng.normal(size=(rows, 2)), 6)
    texts = ['"a\nb"', '"say ""hi""\n, then #go"', '12"', 'plain', '"x""\n\n"', '"\n"',
             '3" by 5"', '""']
    eol = "\r\n" if crlf else "\n"
    lines = [delim.join(["note", "x", "y"])]
    for i, (a, b) in enumerate(x):
        lines.append(delim.join([texts[i % len(texts)], repr(float(a)), repr(float(b))]))
        if i % 37 == 5:
            lines.append('# a "comment, with an open quote')
    return (eol.join(lines) + eol).encode(), x


@pytest.mark.parametrize("how", ["file", "stdin", "gz"])
@pytest.mark.parametrize("layout", ["csv", "crlf", "tsv"])
def test_quoted_line_breaks_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          parser: str, how: str, layout: str) -> None:
    # Chunks were cut at the last line break, inside a quoted field or not: a record split
    # so failed "expected 3 fields, found 1" past the first chunk (1 MiB of such rows).
    data, x = quoted_text(400, "\t" if layout == "tsv" else ",", layout == "crlf")
    name = "d.tsv" if layout == "tsv" else "d.csv"
    pandas = pytest.importorskip("pandas")
    frame = pandas.read_csv(io.BytesIO(data), sep="\t" if layout == "tsv" else ",",
                            comment="#")
    np.testing.assert_array_equal(frame[["x", "y"]].to_numpy(), x)  # the reference reading
    for size in (64, 333, 4096):
        monkeypatch.setattr(text_reader, "CHUNK_BYTES", size)
        monkeypatch.setattr(text_reader, "SMALL_CHUNK_BYTES", size)
        pts = read_via(how, tmp_path, name, data, columns=["x", "y"])
        np.testing.assert_array_equal(pts.x, x)


def test_the_exact_reader_keeps_quoted_lines_whole(tmp_path: Path, parser: str) -> None:
    # A quoted field's blank line and '#' were read as a blank line and a comment, each
    # line alone: "expected 3 fields, found 1" where pandas reads three rows.
    data = b'note,x,y\n"x\n\n",1,2\n"then\n #go",3,4\n12",5,6 # an "inch\nb,7,8 # c\n'
    pandas = pytest.importorskip("pandas")
    frame = pandas.read_csv(io.BytesIO(data), comment="#")
    path = tmp_path / "d.csv"
    path.write_bytes(data)
    pts = read_points(str(path), columns=["x", "y"])
    np.testing.assert_array_equal(pts.x, frame[["x", "y"]].to_numpy())
    assert pts.n_samples == 4


@pytest.mark.parametrize("where", ["first column", "last column", "last row"])
def test_a_quote_left_open_is_an_error_not_a_whole_file_chunk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parser: str, where: str) -> None:
    # numpy's parser, and the csv module under the locator, take the rest of the text for
    # a field whose quote is left open: in the last column the rows read were those
    # before it (11 of 400,011, exit 0)
    path = tmp_path / "d.csv"
    row = {"first column": '"open,3,4', "last column": '3,4,"open',
           "last row": '3,4,"open'}[where]
    after = "" if where == "last row" else "5,6,b\n" * 300
    path.write_text("x,y,note\n" + "1,2,a\n" * 30 + row + "\n" + after)
    sizes: list[int] = []
    original = text_reader.parse_chunk

    def measured(plan: Any, data: bytes, base: int) -> Any:
        sizes.append(len(data))
        return original(plan, data, base)

    monkeypatch.setattr(text_reader, "parse_chunk", measured)
    for size in (64, text_reader.SMALL_CHUNK_BYTES):
        monkeypatch.setattr(text_reader, "CHUNK_BYTES", size)
        monkeypatch.setattr(text_reader, "SMALL_CHUNK_BYTES", size)
        monkeypatch.setattr(text_reader, "QUOTED_BYTES", 4 * size)
        for read in (lambda: read_points(str(path), columns=["x", "y"]),
                     lambda: read_points("-", stdin=io.BytesIO(path.read_bytes()),
                                         columns=["x", "y"])):
            err = error_of(read)
            assert err.line == 32 and "a quoted field starts in this row and does not end" \
                in err.message, str(err)
    assert max(sizes) <= 256  # the chunk stopped growing at QUOTED_BYTES


def test_the_locator_refuses_a_quote_left_open() -> None:
    plan = text_reader.ChunkPlan("d.csv", text_reader.Layout(",", 0, 3, ["x", "y", "n"], 0, True, 3),
                                 [0, 1], ["x", "y"], np.dtype(np.float64), False)
    np.testing.assert_array_equal(text_reader.locate(plan, '1,2,"a\nb"\n', 0), [[1, 2]])
    err = error_of(lambda: text_reader.locate(plan, '1,2,a\n3,4,"a\nb\n5,6,c\n', 7))
    assert err.line == 9 and "does not end" in err.message


def test_lines_that_end_with_a_carriage_return_alone(tmp_path: Path, parser: str) -> None:
    # loadtxt's lines were split at '\n' alone: a comment before a lone '\r' hid the
    # rows after it (one row of three read, exit 0)
    data = b"x,y\r1,2 # c\r3,4\r5,6\r  \r"
    for pts in (read_via("file", tmp_path, "d.csv", data),
                read_via("stdin", tmp_path, "d.csv", data)):
        np.testing.assert_array_equal(pts.x, [[1, 2], [3, 4], [5, 6]])


def test_r_write_table_with_text_that_holds_spaces(tmp_path: Path, parser: str) -> None:
    # R's write.table (its defaults: spaces between fields, text quoted) of a column of
    # names: '"1" "New York" 1.5 2' was split at every space, "expected 3 fields, found 5"
    data = (b'"city" "x" "y"\n"1" "New York" 1.5 2\n"2" "Los  Angeles" NA 3\n'
            b'"3" "Boston" 2.5 4\n"4" "St. ""Paul""" 3.5 5\n')
    pandas = pytest.importorskip("pandas")
    frame = pandas.read_csv(io.BytesIO(data), sep=r"\s+")
    for how in ("file", "stdin"):
        pts = read_via(how, tmp_path, "d.txt", data, columns=["x", "y"], missing=True)
        np.testing.assert_array_equal(pts.x, frame[["x", "y"]].to_numpy())
        assert pts.column_names == ["x", "y"]
    err = error_of(lambda: read_via("file", tmp_path, "d.txt", data, columns=["x", "y"]))
    assert (err.line, err.column) == (3, "x") and "missing value 'NA'" in err.message


def test_a_number_quoted_over_two_lines_is_text(tmp_path: Path, parser: str) -> None:
    # numpy's parser, and the exact reader's lines, joined a quoted field's lines without
    # their break: '"1\n2"' was read as 12, exit 0; pandas reads the text '1\n2'
    for how in ("file", "stdin"):
        err = error_of(lambda: read_via(how, tmp_path, "d.csv", b'x,y\n"1\n2",3\n4,5\n'))
        assert (err.line, err.column) == (2, "x") and "non-numeric value '1\\n2'" in \
            err.message, str(err)
        # a row after a quoted line break is named at its own line
        err = error_of(lambda: read_via(how, tmp_path, "d.csv",
                                        b'x,y,n\n1,3,"a\nb"\n4,z,c\n', columns=["x", "y"]))
        assert (err.line, err.column) == (4, "y"), str(err)


# --------------------------------------------------------------------------- one reader, one error

LATE = "x,y,z\n" + "1.5,2,3\n" * 40  # about 330 bytes: a 64-byte chunk ends long before


BAD = [
    ("ragged row", LATE + "4,5\n" + "1,2,3\n" * 3, None, np.float64),
    ("ragged row, columns", LATE + "4,5,6,7\n" + "1,2,3\n", ["z", "x"], np.float64),
    ("non-numeric", LATE + "4,abc,6\n", None, np.float64),
    ("non-numeric in a comment-bearing file", "# c\n" + LATE + "4,5,6 # ok\n7,y,9\n", None,
     np.float64),
    ("empty field", LATE + "4,,6\n", None, np.float64),
    ("nan", LATE + "4,5,nan\n", None, np.float64),
    ("inf", LATE + "4,-inf,6\n", None, np.float64),
    ("true/false words", "x,y\n" + "True,1\n" * 30 + "False,2\n", None, np.float64),
    ("out of range for float32", LATE + "4,5,1e39\n", None, np.float32),
    ("header without data", "x,y,z\n\n# nothing\n", None, np.float64),
]


def error_of(read: Callable[[], Any]) -> DataError:
    with pytest.raises(DataError) as info:
        read()
    return info.value


@pytest.mark.parametrize(("label", "text", "columns", "dtype"), BAD, ids=[b[0] for b in BAD])
def test_every_path_gives_the_same_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         label: str, text: str, columns: list[str] | None,
                                         dtype: Any) -> None:
    data = text.encode()
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    kwargs: dict[str, Any] = {"columns": columns, "dtype": dtype}
    whole = error_of(lambda: read_points(str(path), **kwargs))
    monkeypatch.setattr(text_reader, "CHUNK_BYTES", 64)
    errors = {
        "chunks": error_of(lambda: read_points(str(path), **kwargs)),
        "stdin": error_of(lambda: read_points("-", stdin=io.BytesIO(data), **kwargs)),
        "gzip": error_of(lambda: read_via("gz", tmp_path, "bad.csv", data, **kwargs)),
        "cache": error_of(lambda: open_points(str(path), memory_limit=16,
                                              cache_dir=str(tmp_path / "cache"), **kwargs)),
    }
    if label != "header without data":
        pytest.importorskip("pandas")
        monkeypatch.setattr(text_reader, "PANDAS_MIN_BYTES", 0)
        errors["pandas, whole file"] = error_of(lambda: read_points(str(path), **kwargs))
        errors["pandas, chunks"] = error_of(
            lambda: read_points("-", stdin=io.BytesIO(data), **kwargs))
    assert whole.line is not None
    for how, err in errors.items():
        assert str(err).replace(str(path) + ".gz", str(path)).replace("<stdin>", str(path)) \
            == str(whole), how
    assert not list((tmp_path / "cache").glob("*.npy"))


def test_every_path_gives_the_same_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(500, 3)) * 10.0 ** rng.integers(-30, 30, size=(500, 3))
    lines = ['"a",b,c'] + [",".join(repr(float(v)) for v in row) for row in x]
    lines[100] += " # a comment"
    data = ("\r\n".join(lines) + "\r\n\r\n").encode()
    path = tmp_path / "d.csv"
    path.write_bytes(data)
    expected = read_points(str(path)).x
    np.testing.assert_array_equal(expected, x)
    monkeypatch.setattr(text_reader, "CHUNK_BYTES", 1000)
    cached = open_points(str(path), memory_limit=16, cache_dir=str(tmp_path / "c")).x
    assert not isinstance(cached, np.ndarray)
    np.testing.assert_array_equal(cached.read(0, 500), x)
    np.testing.assert_array_equal(read_points("-", stdin=io.BytesIO(data)).x, x)
    np.testing.assert_array_equal(read_via("gz", tmp_path, "d.csv", data).x, x)
    pytest.importorskip("pandas")
    monkeypatch.setattr(text_reader, "PANDAS_MIN_BYTES", 0)
    np.testing.assert_array_equal(read_points(str(path)).x, x)
    np.testing.assert_array_equal(read_points("-", stdin=io.BytesIO(data)).x, x)


def decimal_commas(x: np.ndarray, delimiter: str = ";") -> bytes:
    """x as a spreadsheet in many languages exports it: fields separated by ';' (or
    tabs), numbers with decimal commas."""
    lines = [delimiter.join("abc"[: x.shape[1]])] + [
        delimiter.join(repr(float(v)).replace(".", ",") for v in row) for row in x]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_decimal_commas_read_the_same_on_every_path(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    delimiter: str) -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(500, 3)) * 10.0 ** rng.integers(-30, 30, size=(500, 3))
    data = decimal_commas(x, delimiter)
    path = tmp_path / "eu.txt"  # the delimiter sniffed, as on stdin
    path.write_bytes(data)
    pts = read_points(str(path))
    np.testing.assert_array_equal(pts.x, x)
    assert pts.notes == ("line 2: the numbers are written with decimal commas (1,5 is read "
                         "as 1.5)",)
    # the note names the first line that writes one (it named the first row whatever)
    (tmp_path / "late.txt").write_text("a;b\n1;2\n2;3\n1,5;4\n")
    assert read_points(str(tmp_path / "late.txt")).notes == (
        "line 4: the numbers are written with decimal commas (1,5 is read as 1.5)",)
    monkeypatch.setattr(text_reader, "CHUNK_BYTES", 1000)
    np.testing.assert_array_equal(read_points("-", stdin=io.BytesIO(data)).x, x)
    np.testing.assert_array_equal(read_via("gz", tmp_path, "eu.txt", data).x, x)
    cached = open_points(str(path), memory_limit=16, cache_dir=str(tmp_path / "c")).x
    assert not isinstance(cached, np.ndarray)
    np.testing.assert_array_equal(cached.read(0, 500), x)
    pytest.importorskip("pandas")
    monkeypatch.setattr(text_reader, "PANDAS_MIN_BYTES", 0)
    np.testing.assert_array_equal(read_points(str(path)).x, x)
    np.testing.assert_array_equal(read_points("-", stdin=io.BytesIO(data)).x, x)


@pytest.mark.parametrize("delimiter", [";", "\t", "|", " "])
def test_decimal_commas_without_a_header_are_sniffed(delimiter: str) -> None:
    # the first line holds ',' (in its numbers): the delimiter that splits the first
    # lines alike into numbers is chosen, not ','
    x = np.random.default_rng(6).normal(size=(20, 3))
    data = b"\n".join(decimal_commas(x, delimiter).split(b"\n")[1:])
    pts = read_points("-", stdin=io.BytesIO(data))
    np.testing.assert_array_equal(pts.x, x)
    assert pts.column_names == ["0", "1", "2"]


def test_decimal_commas_stay_on_the_fast_path(tmp_path: Path, no_locator: None,
                                              parser: str) -> None:
    x = np.random.default_rng(5).normal(size=(50, 2))
    path = tmp_path / "eu.csv"
    path.write_bytes(decimal_commas(x))
    np.testing.assert_array_equal(read_points(str(path), delimiter=";").x, x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pandas_and_loadtxt_agree_bit_for_bit(dtype: Any) -> None:
    pytest.importorskip("pandas")
    rng = np.random.default_rng(5)
    values = (rng.normal(size=20_000) * 10.0 ** rng.integers(-300, 300, size=20_000)).tolist()
    if dtype == np.float32:
        values = [v for v in values if 1e-30 < abs(v) < 1e30]
    words = ([repr(v) for v in values] + ["%.25g" % v for v in values[:3000]]
             + ["%.12e" % v for v in values[:3000]]
             + ["2.2250738585072011e-308", "9007199254740993", "4.9406564584124654e-324",
                "0.1000000000000000055511151231257827021181583404541015625"])
    if dtype == np.float32:
        words = [w for w in words if 1e-30 < abs(float(w)) < 1e30]
    data = ("\n".join(words) + "\n").encode()
    layout = text_reader.Layout(",", 0, 1, ["0"], 0, False, 0)
    small = text_reader.ChunkPlan("t", layout, [0], ["0"], np.dtype(dtype), False)
    large = text_reader.ChunkPlan("t", layout, [0], ["0"], np.dtype(dtype), True)
    a = text_reader.parse_chunk(small, data, 0)
    b = text_reader.parse_chunk(large, data, 0)
    assert a.dtype == b.dtype == dtype
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[:, 0], np.array([float(w) for w in words], dtype=dtype))


# --------------------------------------------------------------------------- compressed input


@pytest.mark.parametrize("codec", ["gz", "bz2", "xz", "zst"])
def test_compressed_files_are_read(tmp_path: Path, codec: str) -> None:
    data = b"x,y\n1,2\n3,4\n5,oops\n"
    path = tmp_path / f"d.csv.{codec}"
    path.write_bytes(compress(codec, data[:12]))
    pts = read_points(str(path))
    assert pts.column_names == ["x", "y"]
    np.testing.assert_array_equal(pts.x, [[1, 2], [3, 4]])
    path.write_bytes(compress(codec, data))
    err = error_of(lambda: read_points(str(path)))
    assert str(err) == f"{path}:4: column 'y': non-numeric value 'oops'; fix or remove the " \
                       "row"
    # recognised by its magic number on stdin and under another name
    np.testing.assert_array_equal(
        read_points("-", stdin=io.BytesIO(compress(codec, data[:12]))).x, [[1, 2], [3, 4]])
    other = tmp_path / "renamed.dat"
    other.write_bytes(compress(codec, data[:12]))
    np.testing.assert_array_equal(read_points(str(other)).x, [[1, 2], [3, 4]])


def test_a_compressed_file_over_the_limit_goes_through_the_cache(tmp_path: Path) -> None:
    data = b"x,y\n" + b"1.5,2\n3,4.25\n" * 200
    path = tmp_path / "d.csv.gz"
    path.write_bytes(gzip.compress(data))
    pts = open_points(str(path), memory_limit=16, cache_dir=str(tmp_path / "c"))
    assert not isinstance(pts.x, np.ndarray)
    assert pts.column_names == ["x", "y"]
    np.testing.assert_array_equal(pts.x.read(0, pts.n_samples), read_points(str(path)).x)


def test_a_compressed_tsv_keeps_its_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "d.tsv.gz"
    path.write_bytes(gzip.compress(b"x y\tz\n1\t2\n"))
    pts = read_points(str(path))
    assert pts.column_names == ["x y", "z"]


def test_zst_without_zstandard_names_the_package(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zstandard", None)
    path = tmp_path / "d.csv.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00" * 8)
    err = error_of(lambda: read_points(str(path)))
    assert "needs the zstandard package; install it with pip install zstandard" in err.message


def test_truncated_compressed_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "d.csv.xz"
    path.write_bytes(lzma.compress(b"x,y\n" + b"1,2\n" * 1000)[:-30])
    err = error_of(lambda: read_points(str(path)))
    assert err.source == str(path) and "cannot decompress the xz data" in err.message


# --------------------------------------------------------------------------- standard input


def test_stdin_is_read_in_chunks_with_bounded_memory() -> None:
    # 10 MB of text, 6.4 MB of float64.  The reader held the whole input as bytes and as
    # text before parsing it: 6.7x the result.  Chunked, the peak is the result's buffer
    # (at most 1.5x the rows, when it has just grown by half) plus one 1 MiB chunk's work
    # (its bytes, its lines as str, its values: about 2.5 MiB, 0.4x here); 1.8x measured.
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(size=(100_000, 8)), 9)
    buf = io.StringIO()
    np.savetxt(buf, x, delimiter=",", fmt="%.9f")
    data = buf.getvalue().encode()
    assert len(data) > 9e6
    stream = io.BytesIO(data)
    tracemalloc.start()
    try:
        pts = read_points("-", stdin=stream)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(pts.x, x)
    assert peak < 2.5 * pts.x.nbytes, peak / pts.x.nbytes


def test_stdin_reads_no_more_than_it_needs_at_a_time() -> None:
    class Counting(io.BytesIO):
        largest = 0

        def read(self, n: int | None = -1) -> bytes:
            assert n is not None and n >= 0, "asked for the whole stream"
            Counting.largest = max(Counting.largest, n)
            return super().read(n)

    data = b"x,y\n" + b"1.25,2.5\n" * 200_000
    pts = read_points("-", stdin=Counting(data))
    assert pts.n_samples == 200_000
    assert Counting.largest <= text_reader.READ_BYTES


def _chunks_then(path: Path, rewrite: Callable[[], object]) -> None:
    """Read path in 1 KiB chunks, rewrite it (in place: the same inode) after the first,
    and read on to the end, as read_text and the cache's conversion do."""
    with text_reader.open_input(str(path)) as inp:
        layout = text_reader.prologue(inp, ",", False, None)
        plan = text_reader.make_plan(inp, layout, None, np.dtype(np.float64))
        chunks = text_reader.iter_chunks(inp, plan, chunk_bytes=1024)
        next(chunks)
        rewrite()
        for _ in chunks:
            pass
        inp.check_unchanged()


def test_a_file_rewritten_in_place_with_its_time_set_back_is_changed(tmp_path: Path
                                                                     ) -> None:
    """Rows rewritten under a read, the same size, the modification time put back (touch
    -d): the read took half of each version and the fit went on with exit 0.  The
    status-change time, which cannot be set back, is part of the file's version now."""
    import os
    import time

    path = tmp_path / "rows.csv"
    rows = [f"{i % 97}.5,{i % 89}.25\n" for i in range(40000)]
    path.write_text("a,b\n" + "".join(rows))
    before = path.stat()

    def rewrite() -> None:
        time.sleep(0.05)  # past the clock tick of the file's making (ctime's granularity)
        with open(path, "r+") as fh:  # the same rows in reverse: the same size
            fh.write("a,b\n" + "".join(reversed(rows)))
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert path.stat().st_size == before.st_size
        assert path.stat().st_mtime_ns == before.st_mtime_ns

    with pytest.raises(DataError, match="the file changed while it was read"):
        _chunks_then(path, rewrite)


def test_a_file_rewritten_under_a_read_is_named_changed_not_malformed(tmp_path: Path
                                                                      ) -> None:
    """A file truncated and rewritten with other rows during a read was refused for the
    row where the two met ('expected 2 fields, found 1'): the read says that the file
    changed, the cause."""
    path = tmp_path / "rows.csv"
    rows = "".join(f"{i % 97}.5,{i % 89}.25\n" for i in range(40000))
    path.write_text("a,b\n" + rows)
    with pytest.raises(DataError, match="the file changed while it was read"):
        _chunks_then(path, lambda: path.write_text("a;b\n" + rows.replace(",", ";")))


def test_reads_in_many_threads_leave_the_warning_filters_as_they_were(tmp_path: Path
                                                                      ) -> None:
    """The parsers run under warnings.catch_warnings, which saves and restores the
    process's one list of filters: reads in several threads at once (the API's predict
    from a thread pool) restored each other's lists, and one left an "ignore all" filter
    for good, so the program's later warnings (a FitWarning among them) were never seen.
    The parsers' blocks take turns now."""
    import threading
    import warnings

    path = tmp_path / "rows.csv"
    path.write_text("a,b\n" + "".join(f"{i % 7}.5,{i % 5}.25\n" for i in range(50)))
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        before = list(warnings.filters)
        switch = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # threads switch as often as they can
        try:
            def read() -> None:
                for _ in range(250):
                    read_points(str(path))

            threads = [threading.Thread(target=read) for _ in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
        finally:
            sys.setswitchinterval(switch)
        assert warnings.filters == before
