"""Tests of emgmm_cli.io's readers and the DataError they raise (writers: test_writers.py)."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import re
import sys
from pathlib import Path
from typing import IO, Any

import numpy as np
import pytest

from emgmm_cli.io import DataError, Points, read_points
from emgmm_cli.io.errors import DROP_MISSING, EM_MISSING, SELECT_COLUMNS
from emgmm_cli.io import text as text_reader
from emgmm_cli.io.cache import open_points

HERE = Path(__file__).parent
SAMPLE_DATA = HERE.parent / "sample_data"


def put(tmp_path: Path, name: str, text: str | bytes) -> str:
    """Write a file under tmp_path and return its path as a string."""
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode("utf-8"))
    return str(path)


def read_error(path: str, **kwargs: Any) -> DataError:
    with pytest.raises(DataError) as info:
        read_points(path, **kwargs)
    return info.value


# --------------------------------------------------------------------------- DataError


def test_data_error_str_leaves_out_missing_parts() -> None:
    assert str(DataError("data.csv", "file is empty")) == "data.csv: file is empty"
    err = DataError("data.csv", "non-numeric value 'abc'; fix it", line=7, column="x")
    assert str(err) == "data.csv:7: column 'x': non-numeric value 'abc'; fix it"
    assert (err.source, err.line, err.column, err.message) == ("data.csv", 7, "x", "non-numeric value 'abc'; fix it")
    assert str(DataError("d.csv", "bad", column="2")) == "d.csv: column '2': bad"
    assert str(DataError("d.csv", "bad", line=3)) == "d.csv:3: bad"


def test_data_error_is_one_line_and_pickles() -> None:
    err = DataError("<stdin>", "first\nsecond  line", line=2)
    assert str(err) == "<stdin>:2: first second line"
    copy = pickle.loads(pickle.dumps(err))
    assert isinstance(copy, DataError)
    assert (copy.source, copy.line, copy.column, str(copy)) == (err.source, 2, None, str(err))
    advised = DataError("d.csv", "missing value 'NA'", line=3, advice=(DROP_MISSING,))
    assert pickle.loads(pickle.dumps(advised)).advice == (DROP_MISSING,)
    assert str(advised) == "d.csv:3: missing value 'NA'"  # the command line phrases advice


# --------------------------------------------------------------------------- CSV happy paths


def test_reads_csv_with_header(tmp_path: Path) -> None:
    path = put(tmp_path, "d.csv", "x,y\n1,2\n3.5,-4e-3\n")
    pts = read_points(path)
    assert isinstance(pts, Points)
    assert pts.column_names == ["x", "y"]
    assert pts.source == path
    assert pts.x.dtype == np.float64 and pts.x.flags.c_contiguous
    np.testing.assert_array_equal(pts.x, [[1, 2], [3.5, -4e-3]])
    assert (pts.n_samples, pts.n_features) == (2, 2)


def test_reads_csv_without_header(tmp_path: Path) -> None:
    pts = read_points(put(tmp_path, "d.csv", "1,2,3\n4,5,6\n"))
    assert pts.column_names == ["0", "1", "2"]
    np.testing.assert_array_equal(pts.x, [[1, 2, 3], [4, 5, 6]])


def test_quoted_header_names_are_unquoted(tmp_path: Path) -> None:
    pts = read_points(put(tmp_path, "d.csv", '"eruptions","waiting"\n3.6,79\n"1.8","54"\n'))
    assert pts.column_names == ["eruptions", "waiting"]
    np.testing.assert_array_equal(pts.x, [[3.6, 79], [1.8, 54]])


def test_header_forced_on_and_off(tmp_path: Path) -> None:
    numeric = put(tmp_path, "n.csv", "10,20\n1,2\n")
    assert read_points(numeric, header=True).column_names == ["10", "20"]
    np.testing.assert_array_equal(read_points(numeric, header=True).x, [[1, 2]])
    np.testing.assert_array_equal(read_points(numeric, header=False).x, [[10, 20], [1, 2]])
    named = put(tmp_path, "h.csv", "x,y\n1,2\n")
    err = read_error(named, header=False)
    assert (err.line, err.column) == (1, "0")
    assert "non-numeric value 'x'" in err.message


def test_string_column_without_header_is_not_taken_for_a_header(tmp_path: Path) -> None:
    path = put(tmp_path, "d.csv", "alice,1,2\nbob,3,4\n")
    pts = read_points(path, columns=["1", "2"])
    assert pts.column_names == ["1", "2"]
    np.testing.assert_array_equal(pts.x, [[1, 2], [3, 4]])


@pytest.mark.parametrize(("text", "names", "rows"), [
    ("1,NA,3\n2,4,5\n3,5,6\n", ["0", "1", "2"], 3),  # data: NA is a missing value
    ('"x0"\nNA\n2.5\n0.3\n', ["x0"], 3),  # a header over a missing value
    ("a,b\nNA,NA\n1,2\n", ["a", "b"], 2),
    ("a,NA\n1,2\n", ["a", "NA"], 1)])  # a column named NA beside another
def test_r_s_na_is_a_missing_value_when_the_header_is_detected(
        tmp_path: Path, text: str, names: list[str], rows: int) -> None:
    """NA counted as text where the header is detected: a first row of data holding one
    was taken for the header (a row lost, the columns named '1', 'NA', '3', exit 0), and a
    header over one for a row of a text column (a non-numeric value 'x0')."""
    pts = read_points(put(tmp_path, "d.csv", text), missing=True)
    assert (pts.column_names, len(pts.x)) == (names, rows)


def test_empty_header_name_is_named_by_its_index(tmp_path: Path) -> None:
    pts = read_points(put(tmp_path, "d.csv", "x,,y\n0,1.5,2.5\n1,3.5,4.5\n"))
    assert pts.column_names == ["x", "1", "y"]


def test_an_unnamed_first_column_of_row_numbers_is_row_names(tmp_path: Path) -> None:
    # pandas' to_csv writes the index under an empty name, R's write.csv its row names:
    # they are not data
    pts = read_points(put(tmp_path, "d.csv", ",x,y\n0,1.5,2.5\n1,3.5,4.5\n"))
    assert pts.column_names == ["x", "y"]
    np.testing.assert_array_equal(pts.x, [[1.5, 2.5], [3.5, 4.5]])
    assert pts.notes == (ROW_NAMES_NOTE,)


ROW_NAMES_NOTE = ("line 1: the first column has no name and holds row names (text or whole "
                  "numbers, none repeated); it is not read as data")


def test_an_unnamed_first_column_of_sorted_or_sampled_row_numbers_is_row_names(
        tmp_path: Path) -> None:
    """pandas' index after sort_values or sample: distinct whole numbers, out of order.
    They were fitted as a feature named '0', with no word."""
    pts = read_points(put(tmp_path, "d.csv", ",x,y\n7,1.5,2.5\n0,3.5,4.5\n3,0.5,1.5\n"))
    assert (pts.column_names, pts.notes) == (["x", "y"], (ROW_NAMES_NOTE,))
    np.testing.assert_array_equal(pts.x, [[1.5, 2.5], [3.5, 4.5], [0.5, 1.5]])
    # numbers that repeat are data, read under the column's number, and said to be
    pts = read_points(put(tmp_path, "e.csv", ",x,y\n1,1.5,2.5\n0,3.5,4.5\n1,0.5,1.5\n"))
    assert pts.column_names == ["0", "x", "y"]
    np.testing.assert_array_equal(pts.x[:, 0], [1, 0, 1])
    assert pts.notes == ("line 1: the first column has no name; it is read as data, as "
                         "column '0' (--columns can leave it out)",)


@pytest.mark.parametrize("text, message", [
    ("x,y\n1,2\n3,#DIV/0!\n", "missing value (empty field) (the line's text from '#' on, "
     "'#DIV/0!', is a comment, not data)"),
    ("x,y,z\n1,2,3\n3,#N/A,4\n", "expected 3 fields, found 2; every row needs as many "
     "fields as the header (the line's text from '#' on, '#N/A,4', is a comment, not data)"),
    ("x\ty\n1\t2\n3\t #REF!\n", "missing value (empty field) (the line's text from '#' on, "
     "'#REF!', is a comment, not data)"),
    # a comment after a value is one on purpose: not the row's trouble
    ("x,y\n1,2\n3,z # checked\n", "non-numeric value 'z'; fix or remove the row"),
])
def test_a_spreadsheet_error_value_that_starts_a_comment_is_named(tmp_path: Path, text: str,
                                                                   message: str) -> None:
    """'#DIV/0!' in a later field: '#' starts a comment, and the row was refused as short
    of a value or of fields, with no word of the '#' (the line as seen has them all)."""
    err = read_error(put(tmp_path, "d.txt" if "\t" in text else "d.csv", text))
    assert (err.line, err.message) == (3, message)


def test_a_delimiter_within_quotes_is_not_sniffed(tmp_path: Path) -> None:
    """A tab-separated .txt whose header quotes a name with a comma ("a,b"<tab>"c") was
    sniffed as comma-separated: "column '0': non-numeric value 'a,b\\t"c"'"."""
    pts = read_points(put(tmp_path, "d.txt", '"a,b"\t"c"\n0.5\t1.5\n2.5\t3.5\n'))
    assert pts.column_names == ["a,b", "c"]
    np.testing.assert_array_equal(pts.x, [[0.5, 1.5], [2.5, 3.5]])
    pts = read_points(put(tmp_path, "e.txt", '"x; y",z\n1,2\n'))  # the comma outside
    assert pts.column_names == ["x; y", "z"]


def test_a_header_read_as_data_says_so(tmp_path: Path) -> None:
    """--no-header on a file with a header: 'non-numeric value 'eruptions'; fix or remove
    the row; use --columns to read only numeric columns', no word of the header."""
    path = put(tmp_path, "d.csv", "eruptions,waiting\n3.6,79\n1.8,54\n")
    err = read_error(path, header=False)
    assert (err.line, err.column, err.message, err.advice) == (
        1, "0", "non-numeric value 'eruptions'; this first row is read as data, not as a "
        "header (--header reads it as one)", ())
    # a later row, or a first row under a header, keeps the advice for a data row
    err = read_error(put(tmp_path, "e.csv", "3.6,79\n1.8,x\n"), header=False)
    assert (err.line, err.message) == (2, "non-numeric value 'x'; fix or remove the row")
    err = read_error(put(tmp_path, "f.csv", "a,b\n3.6,x\n"))
    assert (err.line, err.message) == (2, "non-numeric value 'x'; fix or remove the row")


@pytest.mark.parametrize("limit", [None, 1])
def test_a_comment_line_among_the_data_rows_is_said(tmp_path: Path, limit: int | None
                                                      ) -> None:
    """A row a spreadsheet began with #N/A is a comment: not read, and the outputs, a row
    for each row read, no longer line up with the file's lines.  It was silent.  Comment
    lines before the first row and after the last are a preamble and an end: not said.
    Read in memory and (limit 1) through the binary cache, which keeps the note."""
    text = "# made by hand\nx,y\n# units: mm\n1,2\n#N/A,7\n3,4\n  # half\n\n5,6\n# end\n"
    path = put(tmp_path, "d.csv", text)
    pts = open_points(path, memory_limit=limit, cache_dir=str(tmp_path / "cache"))
    x = pts.x if isinstance(pts.x, np.ndarray) else pts.x.read(0, pts.x.shape[0])
    assert isinstance(pts.x, np.ndarray) == (limit is None)
    np.testing.assert_array_equal(x, [[1, 2], [3, 4], [5, 6]])
    assert pts.notes == ("line 5: '#N/A,7' among the data rows begins with '#': a comment, "
                         "not a row, as is 1 more such line (the outputs have one row for "
                         "each row read)",)
    one = put(tmp_path, "e.csv", "x,y\n1,2\n" + "#" + "9" * 40 + ",7\n3,4\n")
    assert read_points(one).notes == (
        f"line 3: '#{'9' * 26}...' among the data rows begins with '#': a comment, not a "
        "row (the outputs have one row for each row read)",)
    clean = put(tmp_path, "f.csv", "# preamble\nx,y\n1,2 # first\n3,4\n# the end\n")
    assert read_points(clean).notes == ()


def test_sample_faithful_csv() -> None:
    path = SAMPLE_DATA / "faithful.csv"
    if not path.exists():
        pytest.skip("sample_data/faithful.csv is not in this checkout")
    pts = read_points(str(path))
    assert pts.column_names == ["eruptions", "waiting"]
    assert pts.x.shape == (272, 2)


def test_blank_comment_and_whitespace_only_lines_are_skipped(tmp_path: Path) -> None:
    text = "# made by hand\n\nx,y\n1,2 # first\n   \n\n3,4\n"
    pts = read_points(put(tmp_path, "d.csv", text))
    assert pts.column_names == ["x", "y"]
    np.testing.assert_array_equal(pts.x, [[1, 2], [3, 4]])


def test_crlf_and_bom(tmp_path: Path) -> None:
    pts = read_points(put(tmp_path, "d.csv", b"\xef\xbb\xbfx,y\r\n1,2\r\n3,4\r\n"))
    assert pts.column_names == ["x", "y"]
    np.testing.assert_array_equal(pts.x, [[1, 2], [3, 4]])


def test_spaces_around_fields_and_quoted_numbers(tmp_path: Path) -> None:
    pts = read_points(put(tmp_path, "d.csv", 'x, y\n 1 , "2"\n3, "4"\n'))
    assert pts.column_names == ["x", "y"]
    np.testing.assert_array_equal(pts.x, [[1, 2], [3, 4]])


def test_float32(tmp_path: Path) -> None:
    pts = read_points(put(tmp_path, "d.csv", "x\n0.1\n0.2\n"), dtype=np.float32)
    assert pts.x.dtype == np.float32 and pts.x.shape == (2, 1)


def test_non_float_dtype_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        read_points(put(tmp_path, "d.csv", "1\n"), dtype=np.int64)


def test_text_file_is_not_modified(tmp_path: Path) -> None:
    path = put(tmp_path, "d.csv", "x,y\n1,2\n")
    before = os.stat(path)
    read_points(path)
    after = os.stat(path)
    assert Path(path).read_bytes() == b"x,y\n1,2\n"
    assert (before.st_mtime_ns, before.st_size) == (after.st_mtime_ns, after.st_size)


@pytest.mark.parametrize(
    ("name", "text", "kwargs"),
    [
        ("h.csv", "x,y\n1,2\n3,4\n", {}),
        ("n.csv", "# comment\n1,2\n\n3,4\n", {}),
        ("s.csv", "x,y,label\n1,2,a\n3,4,b\n", {"columns": ["y", "x"]}),
        ("t.tsv", "x\ty\n1\t2\n", {}),
        ("w.txt", "x y\n1 2\n", {}),
        ("r.txt", '"x" "y"\n"1" 1 2\n', {}),
    ],
)
def test_clean_files_take_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str, kwargs: dict[str, Any]
) -> None:
    def slow(*args: Any) -> None:
        raise AssertionError("the Python parser ran on a clean file")

    monkeypatch.setattr(text_reader, "locate", slow)
    assert read_points(put(tmp_path, name, text), **kwargs).x.shape[0] >= 1


def test_larger_file_matches_the_written_values(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5000, 4))
    path = str(tmp_path / "big.csv")
    np.savetxt(path, x, delimiter=",", header="a,b,c,d", comments="", fmt="%.17g")
    pts = read_points(path)
    np.testing.assert_array_equal(pts.x, x)


# --------------------------------------------------------------------------- other text formats


def test_tsv_and_tab(tmp_path: Path) -> None:
    for name in ("d.tsv", "d.tab"):
        pts = read_points(put(tmp_path, name, "x\ty\n1\t2\n3\t4\n"))
        assert pts.column_names == ["x", "y"]
        np.testing.assert_array_equal(pts.x, [[1, 2], [3, 4]])


def test_tsv_empty_field_is_missing(tmp_path: Path) -> None:
    err = read_error(put(tmp_path, "d.tsv", "x\ty\n1\t2\n3\t\n"))
    assert (err.line, err.column) == (3, "y")
    assert err.message.startswith("missing value (empty field)")


def test_txt_whitespace_and_sniffed(tmp_path: Path) -> None:
    pts = read_points(put(tmp_path, "w.txt", "x y\n1   2\n3\t4\n"))
    assert pts.column_names == ["x", "y"]
    np.testing.assert_array_equal(pts.x, [[1, 2], [3, 4]])
    pts = read_points(put(tmp_path, "c.txt", "x,y\n1,2\n"))
    np.testing.assert_array_equal(pts.x, [[1, 2]])
    pts = read_points(put(tmp_path, "s.txt", "x;y\n1;2\n"))
    np.testing.assert_array_equal(pts.x, [[1, 2]])


def test_txt_with_r_row_names(tmp_path: Path) -> None:
    # write.table(faithful) in R: the header is one field shorter than the rows
    text = '"eruptions" "waiting"\n"1" 3.6 79\n"2" 1.8 54\n'
    pts = read_points(put(tmp_path, "faithful.txt", text))
    assert pts.column_names == ["eruptions", "waiting"]
    np.testing.assert_array_equal(pts.x, [[3.6, 79], [1.8, 54]])
    pts = read_points(put(tmp_path, "faithful2.txt", text), columns=["waiting"])
    np.testing.assert_array_equal(pts.x, [[79], [54]])


def test_delimiter_overrides_extension(tmp_path: Path) -> None:
    path = put(tmp_path, "d.csv", "x;y\n1;2\n")
    np.testing.assert_array_equal(read_points(path, delimiter=";").x, [[1, 2]])
    tabbed = put(tmp_path, "t.csv", "x\ty\n1\t2\n")
    np.testing.assert_array_equal(read_points(tabbed, delimiter="\\t").x, [[1, 2]])
    spaced = put(tmp_path, "s.csv", "x  y\n1 2\n")
    np.testing.assert_array_equal(read_points(spaced, delimiter=" ").x, [[1, 2]])


def test_bad_delimiter(tmp_path: Path) -> None:
    err = read_error(put(tmp_path, "d.csv", "1\n"), delimiter=";;")
    assert "cannot use ';;' as a delimiter" in str(err)


def test_unknown_extension_is_sniffed_text(tmp_path: Path) -> None:
    np.testing.assert_array_equal(read_points(put(tmp_path, "d.dat", "a,b\n1,2\n")).x, [[1, 2]])
    np.testing.assert_array_equal(read_points(put(tmp_path, "noext", "1,2\n")).x, [[1, 2]])
    np.testing.assert_array_equal(read_points(put(tmp_path, "w.dat", "1 2\n3 4\n")).x, [[1, 2], [3, 4]])


def test_csv_extension_is_strictly_comma_separated(tmp_path: Path) -> None:
    err = read_error(put(tmp_path, "d.csv", "1 2\n3 4\n"))
    assert (err.line, err.column) == (1, None)
    assert err.message == ("no ',' in the first line, but whitespace separates its fields; "
                           "give the delimiter with -d ' '")


# --------------------------------------------------------------------------- column selection


def test_columns_by_name_and_index_in_the_order_given(tmp_path: Path) -> None:
    path = put(tmp_path, "d.csv", "x,y,z\n1,2,3\n4,5,6\n")
    pts = read_points(path, columns=["z", "x"])
    assert pts.column_names == ["z", "x"]
    np.testing.assert_array_equal(pts.x, [[3, 1], [6, 4]])
    pts = read_points(path, columns=["1"])
    assert pts.column_names == ["y"]
    np.testing.assert_array_equal(pts.x, [[2], [5]])
    assert pts.x.flags.c_contiguous


def test_column_name_wins_over_index(tmp_path: Path) -> None:
    path = put(tmp_path, "d.csv", "b,0,a\n1,2,3\n")
    pts = read_points(path, header=True, columns=["0"])
    assert pts.column_names == ["0"]
    np.testing.assert_array_equal(pts.x, [[2]])


def test_unselected_string_column_is_fine(tmp_path: Path) -> None:
    path = put(tmp_path, "d.csv", 'x,y,label\n1,2,"a, quoted"\n3,4,b\n5,6,\n')
    pts = read_points(path, columns=["x", "y"])
    np.testing.assert_array_equal(pts.x, [[1, 2], [3, 4], [5, 6]])
    pts = read_points(path, columns=["y", "0"])
    np.testing.assert_array_equal(pts.x, [[2, 1], [4, 3], [6, 5]])


def test_selected_string_column_is_an_error(tmp_path: Path) -> None:
    path = put(tmp_path, "d.csv", "x,y,label\n1,2,a\n3,4,b\n")
    with pytest.raises(
        DataError,
        match=re.escape(
            f"{path}:2: column 'label': non-numeric value 'a'; fix or remove the row"
        ),
    ) as raised:
        read_points(path, missing=False)
    # the command line says --columns, the Python API read=ReadOptions(columns=...)
    assert raised.value.advice == (SELECT_COLUMNS,)


def test_columns_as_one_comma_separated_string(tmp_path: Path) -> None:
    path = put(tmp_path, "d.csv", "x,y,z\n1,2,3\n")
    assert read_points(path, columns="z,x").column_names == ["z", "x"]


def test_subset_with_commas_in_comments_and_quotes(tmp_path: Path) -> None:
    text = '# a comment, with commas, here\nx,y,label\n1,2,"a, b"\n3,4,c # note, more\n'
    pts = read_points(put(tmp_path, "d.csv", text), columns=["x", "y"])
    np.testing.assert_array_equal(pts.x, [[1, 2], [3, 4]])


def test_subset_overflow_in_float32(tmp_path: Path) -> None:
    err = read_error(put(tmp_path, "d.csv", "x,y\n1,a\n1e40,b\n"), columns=["x"], dtype=np.float32)
    assert (err.line, err.column) == (3, "x")
    assert err.message == "value 1e+40 is out of range for float32"


def test_unselected_nan_is_fine(tmp_path: Path) -> None:
    path = put(tmp_path, "d.csv", "x,y\n1,nan\n2,\n")
    np.testing.assert_array_equal(read_points(path, columns=["x"]).x, [[1], [2]])


def test_unknown_column_name(tmp_path: Path) -> None:
    path = put(tmp_path, "d.csv", "x,y,label\n1,2,a\n")
    with pytest.raises(
        DataError,
        match=re.escape(f"{path}: column 'z': no such column; available columns: x, y, label"),
    ) as info:
        read_points(path, columns=["x", "z"])
    assert (info.value.line, info.value.column) == (None, "z")


def test_column_index_out_of_range(tmp_path: Path) -> None:
    path = put(tmp_path, "d.csv", "x,y\n1,2\n")
    err = read_error(path, columns=["5"])
    assert err.column == "5"
    assert err.message == "column index 5 is out of range; there are 2 columns (indices 0 to 1): x, y"


def test_column_selected_twice_and_no_columns(tmp_path: Path) -> None:
    path = put(tmp_path, "d.csv", "x,y\n1,2\n")
    assert read_error(path, columns=["x", "0"]).message == "column selected more than once"
    assert "no columns selected" in read_error(path, columns=[]).message


def test_columns_without_header_list_numbered_names(tmp_path: Path) -> None:
    err = read_error(put(tmp_path, "d.csv", "1,2\n3,4\n"), columns=["x"])
    assert err.message == "no such column; available columns: 0, 1"


# --------------------------------------------------------------------------- reader errors


def test_file_not_found(tmp_path: Path) -> None:
    path = str(tmp_path / "missing.csv")
    with pytest.raises(DataError, match=re.escape(f"{path}: file not found; check the path")) as info:
        read_points(path)
    assert info.value.line is None and info.value.column is None


def test_directory(tmp_path: Path) -> None:
    err = read_error(str(tmp_path))
    assert err.message == "is a directory, not a file; give the path of a data file"


def test_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = put(tmp_path, "d.csv", "1,2\n")

    def refuse(*args: Any, **kwargs: Any) -> IO[Any]:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(text_reader, "open", refuse, raising=False)
    err = read_error(path)
    assert str(err) == f"{path}: permission denied; check that you may read the file"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads anything")
def test_permission_denied_for_real(tmp_path: Path) -> None:
    path = put(tmp_path, "d.csv", "1,2\n")
    os.chmod(path, 0)
    try:
        assert "permission denied" in read_error(path).message
    finally:
        os.chmod(path, 0o600)


def test_empty_file(tmp_path: Path) -> None:
    path = put(tmp_path, "d.csv", "")
    with pytest.raises(DataError, match=re.escape(f"{path}: file is empty")):
        read_points(path)


def test_only_blank_lines(tmp_path: Path) -> None:
    err = read_error(put(tmp_path, "d.csv", "\n\n   \n# nothing\n"))
    assert err.message == "file is empty (only blank or comment lines)"


def test_header_only(tmp_path: Path) -> None:
    err = read_error(put(tmp_path, "d.csv", "\nx,y\n\n"))
    assert err.line == 2
    assert err.message == "the file has a header but no data rows; it needs at least one row of numbers"


def test_ragged_rows(tmp_path: Path) -> None:
    path = put(tmp_path, "d.csv", "x,y\n1,2\n3\n")
    with pytest.raises(
        DataError,
        match=re.escape(f"{path}:3: expected 2 fields, found 1; every row needs as many fields as the header"),
    ) as info:
        read_points(path)
    assert (info.value.line, info.value.column) == (3, None)
    err = read_error(put(tmp_path, "e.csv", "1,2\n3,4\n5,6,7\n"))
    assert err.line == 3
    assert err.message.startswith("expected 2 fields, found 3; every row needs as many fields as the first row")


def test_ragged_rows_found_with_a_column_subset(tmp_path: Path) -> None:
    err = read_error(put(tmp_path, "d.csv", "x,y,z\n1,2,3\n4,5,6,7\n8,9,10\n"), columns=["x"])
    assert (err.line, err.message[:27]) == (3, "expected 3 fields, found 4;")
    err = read_error(put(tmp_path, "e.csv", "x,y,z\n1,2,3\n4,5\n"), columns=["x"])
    assert (err.line, err.message[:27]) == (3, "expected 3 fields, found 2;")


def test_header_longer_than_rows(tmp_path: Path) -> None:
    err = read_error(put(tmp_path, "d.csv", "x,y,z\n1,2\n3,4\n"))
    assert err.line == 2
    assert err.message.startswith("expected 3 fields, found 2")


def test_non_numeric_value(tmp_path: Path) -> None:
    err = read_error(put(tmp_path, "d.csv", "x,y\n1,2\n3,4\n5,abc\n"))
    assert (err.line, err.column) == (4, "y")
    assert err.message.startswith("non-numeric value 'abc';")
    assert "1_000" in read_error(put(tmp_path, "e.csv", "x,y\n1,1_000\n")).message


@pytest.mark.parametrize(("field", "shown"), [
    ("", "(empty field)"), ("NA", "'NA'"), ("nan", "'nan'"), ("NaN", "'NaN'"),
    ('"NA"', "'NA'")])
def test_missing_value(tmp_path: Path, field: str, shown: str) -> None:
    """A missing value is said to be one, where it is, with the remedies as data (the
    command line phrases them); in a file that is not the data (missing None), without."""
    path = put(tmp_path, "d.csv", f"x,y\n1,2\n{field},4\n")
    for missing, advice in ((False, (DROP_MISSING, EM_MISSING)), (None, ())):
        with pytest.raises(DataError) as info:
            read_points(path, missing=missing)
        assert str(info.value) == f"{path}:3: column 'x': missing value {shown}"
        assert info.value.advice == advice
    assert np.isnan(read_points(path, missing=True).x[1, 0])


@pytest.mark.parametrize("value", ["inf", "-Infinity"])
def test_non_finite_values(tmp_path: Path, value: str) -> None:
    err = read_error(put(tmp_path, "d.csv", f"x,y\n1,2\n3,{value}\n"))
    assert (err.line, err.column) == (3, "y")
    assert err.message == (
        f"non-finite value '{value}'; an infinite value is not a missing value; remove or "
        "replace it first"
    )
    assert err.advice == ()


def test_value_out_of_range_for_float32(tmp_path: Path) -> None:
    err = read_error(put(tmp_path, "d.csv", "x\n1\n1e40\n"), dtype=np.float32)
    assert (err.line, err.column) == (3, "x")
    assert "out of range for float32" in err.message


def test_broken_compressed_and_binary_files_are_named(tmp_path: Path) -> None:
    err = read_error(put(tmp_path, "d.csv.gz", b"\x1f\x8b\x08"))
    assert err.message.startswith("cannot decompress the gzip data (")
    assert err.message.endswith("); is the file complete?")
    err = read_error(put(tmp_path, "d.zip", b"PK\x03\x04"))
    assert "zip archives are not read directly" in err.message
    buf = io.BytesIO()
    np.save(buf, np.zeros((2, 2)))
    assert "give the file a .npy extension" in read_error(put(tmp_path, "d.csv", buf.getvalue())).message
    assert "binary" in read_error(put(tmp_path, "e.csv", b"1,2\x00\x01\n")).message


# --------------------------------------------------------------------------- .npy


def test_npy_2d_and_1d(tmp_path: Path) -> None:
    x = np.arange(12.0).reshape(6, 2)
    np.save(tmp_path / "a.npy", x)
    pts = read_points(str(tmp_path / "a.npy"))
    np.testing.assert_array_equal(pts.x, x)
    assert pts.column_names == ["0", "1"]
    np.save(tmp_path / "v.npy", np.arange(5))
    pts = read_points(str(tmp_path / "v.npy"))
    assert pts.x.shape == (5, 1) and pts.x.dtype == np.float64 and pts.x.flags.c_contiguous


def test_npy_columns(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.arange(12.0).reshape(4, 3))
    pts = read_points(str(tmp_path / "a.npy"), columns=["2", "0"])
    assert pts.column_names == ["2", "0"]
    np.testing.assert_array_equal(pts.x[0], [2, 0])
    assert pts.x.flags.c_contiguous


def test_npy_mmap(tmp_path: Path) -> None:
    x = np.arange(12.0).reshape(6, 2)
    np.save(tmp_path / "a.npy", x)
    pts = read_points(str(tmp_path / "a.npy"), mmap=True)
    assert isinstance(pts.x, np.memmap)
    assert not pts.x.flags.writeable
    np.testing.assert_array_equal(pts.x, x)
    np.save(tmp_path / "v.npy", np.arange(4.0))
    pts = read_points(str(tmp_path / "v.npy"), mmap=True)
    assert pts.x.shape == (4, 1) and isinstance(pts.x, np.memmap)
    assert not pts.x.flags.owndata and not pts.x.flags.writeable


def test_npy_mmap_needs_the_dtype(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.arange(6, dtype=np.int32).reshape(3, 2))
    err = read_error(str(tmp_path / "a.npy"), mmap=True)
    assert "memory mapping needs a float64 array but the file holds int32" in err.message
    # without mmap the same file is converted
    assert read_points(str(tmp_path / "a.npy")).x.dtype == np.float64


def test_npy_bad_shapes_and_dtypes(tmp_path: Path) -> None:
    np.save(tmp_path / "c.npy", np.zeros((2, 2, 2)))
    assert "the array has 3 dimensions" in read_error(str(tmp_path / "c.npy")).message
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    assert "holds <U1 values, not real numbers" in read_error(str(tmp_path / "s.npy")).message
    np.save(tmp_path / "z.npy", np.ones((3, 2), dtype=complex))  # numbers, but not real ones
    assert read_error(str(tmp_path / "z.npy")).message.endswith(
        "the array holds complex128 values, not real numbers; save a numeric array")
    np.save(tmp_path / "o.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
    assert "holds Python objects" in read_error(str(tmp_path / "o.npy")).message
    np.save(tmp_path / "e.npy", np.zeros((0, 3)))
    assert "no rows" in read_error(str(tmp_path / "e.npy")).message


def test_a_npy_of_python_objects_is_named_so_over_the_memory_limit_too(tmp_path: Path) -> None:
    """Over the limit the file is memory-mapped, which numpy refuses in its own words."""
    np.save(tmp_path / "o.npy", np.array([[1.0, 2.0], [3.0, 4.0]], dtype=object),
            allow_pickle=True)
    for limit in (None, 1):
        with pytest.raises(DataError) as info:
            open_points(str(tmp_path / "o.npy"), memory_limit=limit)
        assert info.value.message == ("not a valid .npy file (it holds Python objects, not "
                                      "numbers); write it with numpy.save")


def test_a_npy_read_into_memory_never_holds_the_file_as_stored(tmp_path: Path) -> None:
    """A .npy read in float32, or cut to some columns, is converted block by block into
    its result: the file's float64 values are never all in memory at once (they were
    loaded whole and then converted: `emgmm fit big.npy --dtype float32` took more memory
    than the float64 fit).  tracemalloc sees numpy's buffers."""
    import tracemalloc

    x = np.random.default_rng(0).normal(size=(600_000, 10))
    np.save(tmp_path / "x.npy", x)
    file_bytes = x.nbytes
    for kwargs in ({"dtype": "float32"}, {"columns": ["7", "2"]}):
        tracemalloc.start()
        try:
            got = read_points(str(tmp_path / "x.npy"), **kwargs).x
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        want = x.astype(np.float32) if "dtype" in kwargs else x[:, [7, 2]]
        assert np.array_equal(got, want) and got.flags.c_contiguous
        assert peak < file_bytes, (kwargs, peak, file_bytes)


def test_a_npy_on_standard_input_is_read_into_its_array_block_by_block(tmp_path: Path
                                                                         ) -> None:
    """.npy bytes on stdin fill the array as they come: the stream's bytes were held whole
    twice besides the array (`emgmm fit - < big.npy`: 3x the file; large-data.md says
    standard input is never held twice).  Read in float32, or cut to some columns, they
    are converted block by block, as a file's are: the stream's float64 values were held
    whole besides the result (`emgmm fit - --dtype float32 < big.npy` peaked at 247 MB
    for a 128 MB file, 141 MB from the file named)."""
    import tracemalloc

    x = np.random.default_rng(1).normal(size=(600_000, 10))
    np.save(tmp_path / "x.npy", x)
    for kwargs, want, bound in (({}, x, 2 * x.nbytes),
                                ({"dtype": "float32"}, x.astype(np.float32), x.nbytes),
                                ({"columns": ["7", "2"]}, x[:, [7, 2]], x.nbytes)):
        with open(tmp_path / "x.npy", "rb") as stream:
            tracemalloc.start()
            try:
                got = read_points("-", stdin=stream, **kwargs).x
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        assert np.array_equal(got, want) and got.flags.c_contiguous, kwargs
        assert peak < bound, (kwargs, peak, bound)
    x[123_456, 4] = np.nan
    np.save(tmp_path / "n.npy", x)
    with open(tmp_path / "n.npy", "rb") as stream, pytest.raises(DataError) as info:
        read_points("-", stdin=stream)
    assert str(info.value).startswith("<stdin>: column '4': missing value (NaN) in row "
                                      "123457 (index 123456)")
    np.save(tmp_path / "f.npy", np.asfortranarray(x[:5, :3]))
    with open(tmp_path / "f.npy", "rb") as stream:
        assert np.array_equal(read_points("-", stdin=stream).x, x[:5, :3])
    with open(tmp_path / "x.npy", "rb") as whole:
        cut = whole.read(10_000)
    with pytest.raises(DataError, match="not a valid .npy file"):
        read_points("-", stdin=io.BytesIO(cut))


def test_npy_invalid_file(tmp_path: Path) -> None:
    path = put(tmp_path, "bad.npy", bytes(range(256)))
    assert read_error(path).message == ("is not a .npy file (it does not start as "
                                        "numpy.save writes one); write it with numpy.save")
    np.save(tmp_path / "t.npy", np.arange(100.0))
    truncated = (tmp_path / "t.npy").read_bytes()[:-40]
    # as out of core (io.cache.open_npy_blocks) says it; numpy's words were "not a valid
    # .npy file (cannot reshape array of size 95 into shape (100,))"
    assert read_error(put(tmp_path, "t.npy", truncated)).message == (
        "the file is shorter than its header says (100 x 1 float64); was it truncated?")
    np.savez(tmp_path / "z.npz", a=np.zeros(3))
    os.replace(tmp_path / "z.npz", tmp_path / "z.npy")
    assert ".npz archive" in read_error(str(tmp_path / "z.npy")).message


@pytest.mark.parametrize("memory_limit", [None, 1])
def test_a_npy_file_that_holds_something_else_says_what(tmp_path: Path,
                                                         memory_limit: int | None) -> None:
    """Not "it holds Python objects" (numpy's answer to any bytes without its magic number):
    what the file holds, and what to do; also over the memory limit."""
    np.save(tmp_path / "a.npy", np.arange(6.0).reshape(3, 2))
    npy = (tmp_path / "a.npy").read_bytes()

    def message(name: str, content: bytes) -> str:
        with pytest.raises(DataError) as info:
            open_points(put(tmp_path, name, content), memory_limit=memory_limit,
                        cache_dir=str(tmp_path / "cache"))
        return info.value.message

    assert message("text.npy", b"x,y\n1,2\n3,4\n") == (
        "holds text, not .npy data; give the file a .csv, .tsv or .txt extension")
    assert message("gz.npy", gzip.compress(npy)) == (
        "is gzip-compressed, not a .npy file; decompress it first")
    assert message("a.csv.gz", gzip.compress(npy)) == (
        "holds gzip-compressed .npy data, not text; decompress it to a .npy file")
    assert message("a.csv", npy) == "holds .npy data, not text; give the file a .npy extension"


def test_npy_non_finite(tmp_path: Path) -> None:
    x = np.zeros((5, 3))
    x[3, 2] = np.nan
    np.save(tmp_path / "a.npy", x)
    for mmap in (False, True):
        err = read_error(str(tmp_path / "a.npy"), mmap=mmap, missing=False)
        assert (err.line, err.column) == (None, "2")
        assert err.message == "missing value (NaN) in row 4 (index 3)"
        assert err.advice == (DROP_MISSING, EM_MISSING)
    np.testing.assert_array_equal(read_points(str(tmp_path / "a.npy"), columns=["0"]).x, np.zeros((5, 1)))


# --------------------------------------------------------------------------- stdin


def test_stdin_csv() -> None:
    pts = read_points("-", stdin=io.BytesIO(b"x,y\n1,2\n3,4\n"))
    assert pts.source == "<stdin>"
    assert pts.column_names == ["x", "y"]
    np.testing.assert_array_equal(pts.x, [[1, 2], [3, 4]])


def test_stdin_errors_name_stdin() -> None:
    err = read_error("-", stdin=io.BytesIO(b"x,y\n1,2\n3,oops\n"))
    assert str(err).startswith("<stdin>:3: column 'y': non-numeric value 'oops'")
    with pytest.raises(
        DataError, match=re.escape("<stdin>: standard input is empty; pipe data in or give a file name")
    ):
        read_points("-", stdin=io.BytesIO(b""))


def test_stdin_delimiter_and_npy() -> None:
    pts = read_points("-", stdin=io.BytesIO(b"1\t2\n"), delimiter="\t")
    np.testing.assert_array_equal(pts.x, [[1, 2]])
    buf = io.BytesIO()
    np.save(buf, np.ones((3, 2)))
    pts = read_points("-", stdin=io.BytesIO(buf.getvalue()))
    np.testing.assert_array_equal(pts.x, np.ones((3, 2)))


def test_stdin_default_is_sys_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.TextIOWrapper(io.BytesIO(b"1,2\n"))
    monkeypatch.setattr(sys, "stdin", fake)
    np.testing.assert_array_equal(read_points("-").x, [[1, 2]])


def test_stdin_delimiter_is_sniffed() -> None:
    # paste a b | emgmm fit -   and   awk '{print $1, $2}' | emgmm fit -
    pts = read_points("-", stdin=io.BytesIO(b"x\ty\n1\t2\n"))
    assert pts.column_names == ["x", "y"]
    np.testing.assert_array_equal(pts.x, [[1, 2]])
    np.testing.assert_array_equal(read_points("-", stdin=io.BytesIO(b"1 2\n3 4\n")).x, [[1, 2], [3, 4]])
    pts = read_points("-", stdin=io.BytesIO(b"my value\n1.5\n2.5\n"))
    assert pts.column_names == ["my value"]


def test_stdin_terminal_is_refused() -> None:
    class Terminal(io.BytesIO):
        def isatty(self) -> bool:
            return True

    assert "standard input is a terminal" in read_error("-", stdin=Terminal(b"1\n")).message


# --------------------------------------------------------------------------- .parquet (lazy pandas)


def test_parquet_columns_by_name_and_a_text_column_refused(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = str(tmp_path / "d.parquet")
    pq.write_table(pa.table({"x": [1.0, 2.0], "y": [3, 4], "label": ["a", "b"]}), path)
    pts = read_points(path, columns=["y", "x"])
    np.testing.assert_array_equal(pts.x, [[3, 1], [4, 2]])
    err = read_error(path)
    assert err.column == "label" and "not a numeric column" in err.message


def test_a_parquet_column_name_repeated_is_read_as_in_text(tmp_path: Path) -> None:
    """pyarrow writes tables whose names repeat; pandas' reader refused them in pyarrow's
    words ("Multiple matches for FieldRef.Name(x) in x: double x: double
    __fragment_index ...").  They are read as a header that repeats a name is: x, x.1."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = str(tmp_path / "d.parquet")
    pq.write_table(pa.table([pa.array([1.0, 2.0]), pa.array([3.0, 4.0]),
                             pa.array([5.0, 6.0])], names=["x", "y", "x"]), path)
    pts = read_points(path)
    assert pts.column_names == ["x", "y", "x.1"]
    np.testing.assert_array_equal(pts.x, [[1, 3, 5], [2, 4, 6]])
    assert pts.notes == ("the table repeats the column name 'x'; the columns are read as "
                         "'x' and 'x.1'",)
    np.testing.assert_array_equal(read_points(path, columns=["x.1"]).x, [[5], [6]])
