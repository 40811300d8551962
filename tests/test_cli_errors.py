"""`emgmm fit` on bad input: the exit code, the exact one-line message, no traceback, and
nothing left behind.

Every run asks for outputs (--output-dir out and --model model.json, in a scratch folder
that is the working directory) so that each test also proves a failed run writes no file,
half-written or temporary.  Data errors exit with 1 and print exactly one line,
"Error: <file>[:<line>][: column '<name>']: <what> [; what to do]"; usage errors exit with
2 and end with click's "Error: ..." line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

import emgmm_cli
from emgmm_cli.cli.main import cli

BLOBS = Path(__file__).resolve().parent.parent / "sample_data" / "blobs4.csv"
OUTPUTS = ["--output-dir", "out", "--model", "model.json"]


@pytest.fixture()
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch folder as the working directory, so messages show short names."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EMGMM_FORCE_TTY", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path


def files_under(folder: Path) -> list[str]:
    """Every file under folder, hidden ones included, as sorted relative paths."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def put(name: str, text: str) -> str:
    Path(name).write_text(text)
    return name


def run(args: list[object]) -> Result:
    return CliRunner().invoke(cli, ["fit", *(str(a) for a in args), *OUTPUTS],
                              env={"EMGMM_FORCE_TTY": None}, prog_name="emgmm")


def fails(work: Path, args: list[object], code: int, message: str | None = None, *,
          pattern: str | None = None) -> Result:
    """Run fit with outputs requested; check the failure and that nothing was written."""
    before = files_under(work)
    result = run(args)
    assert result.exit_code == code, (result.exit_code, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit)  # handled, not a crash
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines, "no message"
    if code == 1:
        assert len(lines) == 1, lines  # one line, nothing else
    else:
        assert lines[0].startswith("Usage: emgmm fit")
    last = lines[-1]
    assert last.startswith("Error: ")
    if message is not None:
        assert last == message
    if pattern is not None:
        assert re.fullmatch(pattern, last), last
    assert files_under(work) == before  # no output, no temporary file
    assert not Path("out").exists() or files_under(Path("out")) == []
    return result


# --------------------------------------------------------------------------- the input file


def test_missing_file(work: Path) -> None:
    fails(work, ["nope.csv", "-k", 2], 1, "Error: nope.csv: file not found; check the path")


def test_input_is_a_directory(work: Path) -> None:
    Path("adir").mkdir()
    fails(work, ["adir", "-k", 2], 1,
          "Error: adir: is a directory, not a file; give the path of a data file")


def test_empty_file(work: Path) -> None:
    put("empty.csv", "")
    fails(work, ["empty.csv", "-k", 2], 1, "Error: empty.csv: file is empty")


def test_only_blank_and_comment_lines(work: Path) -> None:
    put("blank.csv", "\n# nothing here\n   \n")
    fails(work, ["blank.csv", "-k", 2], 1,
          "Error: blank.csv: file is empty (only blank or comment lines)")


def test_empty_stdin(work: Path) -> None:
    result = CliRunner().invoke(cli, ["fit", "-", "-k", "2", *OUTPUTS], input=b"",
                                env={"EMGMM_FORCE_TTY": None})
    assert result.exit_code == 1
    assert result.stderr == ("Error: <stdin>: standard input is empty; pipe data in or give "
                             "a file name\n")
    assert files_under(work) == []


def test_header_only(work: Path) -> None:
    put("hdr.csv", "x,y\n")
    fails(work, ["hdr.csv", "-k", 2], 1,
          "Error: hdr.csv:1: the file has a header but no data rows; it needs at least one "
          "row of numbers")


@pytest.mark.parametrize("columns", [[], ["--columns", "x"]])
def test_ragged_rows_name_the_line(work: Path, columns: list[str]) -> None:
    put("ragged.csv", "x,y\n1,2\n3,4\n5,6,7\n8,9\n")
    fails(work, ["ragged.csv", "-k", 2, *columns], 1,
          "Error: ragged.csv:4: expected 2 fields, found 3; every row needs as many fields "
          "as the header")
    put("short.csv", "# a comment line counts\nx,y\n1,2\n3\n5,6\n")
    fails(work, ["short.csv", "-k", 2, *columns], 1,
          "Error: short.csv:4: expected 2 fields, found 1; every row needs as many fields "
          "as the header")


def test_non_numeric_value_names_line_and_column(work: Path) -> None:
    put("nonnum.csv", "x,y\n1,2\n3,abc\n5,6\n7,8\n")
    fails(work, ["nonnum.csv", "-k", 2], 1,
          "Error: nonnum.csv:3: column 'y': non-numeric value 'abc'; fix or remove the row; "
          "use --columns to read only numeric columns")
    # the hint works: the other column alone fits
    ok = CliRunner().invoke(cli, ["fit", "nonnum.csv", "-k", "2", "--columns", "x",
                                  "--seed", "0"], env={"EMGMM_FORCE_TTY": None})
    assert ok.exit_code == 0 and len(ok.stdout.splitlines()) == 4


#: What a missing value under --missing error (the default) points to.
MISSING_REMEDIES = ("use --missing drop (leave out the rows with a missing value) or "
                    "--missing em (fit them through their observed values)")


@pytest.mark.parametrize("value", ["nan", "NaN", "NA"])
def test_nan(work: Path, value: str) -> None:
    put("nan.csv", f"x,y\n1,2\n3,4\n5,{value}\n7,8\n")
    fails(work, ["nan.csv", "-k", 2], 1,
          f"Error: nan.csv:4: column 'y': missing value '{value}'; {MISSING_REMEDIES}")
    # the remedies work: each fits the file
    for policy in ("drop", "em"):
        ok = CliRunner().invoke(cli, ["fit", "nan.csv", "-k", "1", "--missing", policy],
                                env={"EMGMM_FORCE_TTY": None})
        assert ok.exit_code == 0, ok.output


def test_nan_in_npy(work: Path) -> None:
    a = np.arange(20.0).reshape(10, 2)
    a[2, 1] = np.nan
    np.save("nan.npy", a)
    fails(work, ["nan.npy", "-k", 2], 1,
          f"Error: nan.npy: column '1': missing value (NaN) in row 3 (index 2); "
          f"{MISSING_REMEDIES}")


def test_missing_value_in_a_file_that_is_not_the_data(work: Path) -> None:
    """--missing applies to the data: a missing value in the starting means names no
    remedy of it."""
    put("x.csv", "x,y\n1,2\n3,4\n5,6\n7,8\n")
    put("means.csv", "1,2\nNA,4\n")
    fails(work, ["x.csv", "-k", 2, "--means-init", "means.csv"], 1,
          "Error: means.csv:2: column '0': missing value 'NA'")


@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity"])
def test_infinite_value(work: Path, value: str) -> None:
    put("inf.csv", f"x,y\n1,2\n{value},4\n5,6\n")
    said = (f"Error: inf.csv:3: column 'x': non-finite value '{value}'; an infinite value "
            "is not a missing value; remove or replace it first")
    fails(work, ["inf.csv", "-k", 2], 1, said)
    # no policy for missing values takes an infinity for one (it said "missing or infinite
    # values must be removed or imputed first" with --missing drop too)
    for policy in ("drop", "em"):
        fails(work, ["inf.csv", "-k", 2, "--missing", policy], 1, said)


def test_empty_field(work: Path) -> None:
    put("gap.csv", "x,y\n1,2\n3,\n5,6\n")
    fails(work, ["gap.csv", "-k", 2], 1,
          f"Error: gap.csv:3: column 'y': missing value (empty field); {MISSING_REMEDIES}")


def test_unknown_column(work: Path) -> None:
    put("three.csv", "x,y\n1,2\n3,4\n5,6\n")
    fails(work, ["three.csv", "-k", 2, "--columns", "x,z"], 1,
          "Error: three.csv: column 'z': no such column; available columns: x, y")
    fails(work, ["three.csv", "-k", 2, "--columns", "5"], 1,
          "Error: three.csv: column '5': column index 5 is out of range; there are 2 columns "
          "(indices 0 to 1): x, y")


# --------------------------------------------------------------------------- K and options


def test_k_zero_is_a_usage_error(work: Path) -> None:
    put("three.csv", "x,y\n1,2\n3,4\n5,6\n")
    fails(work, ["three.csv", "-k", 0], 2,
          "Error: Invalid value for '-k' / '--components': '0' is not an integer >= 1.")


def test_a_delimiter_that_is_no_character_is_a_usage_error(work: Path) -> None:
    """-d ab was a data error (exit 1) naming the input, even one that does not exist:
    a value no input could take is a usage error, said as the option's."""
    for value in ("ab", ""):
        fails(work, ["none.csv", "-k", 2, "-d", value], 2,
              f"Error: Invalid value for '-d' / '--delimiter': cannot use {value!r} as a "
              "delimiter; give one character such as ',' or ';', '\\t' for tabs or ' ' "
              "for whitespace")
    with pytest.raises(emgmm_cli.InvalidParameter) as caught:
        emgmm_cli.ReadOptions(delimiter="ab")
    assert caught.value.option == "delimiter"


def test_k_larger_than_the_rows(work: Path) -> None:
    put("three.csv", "x,y\n1,2\n3,4\n5,6\n")
    fails(work, ["three.csv", "-k", 4], 1,
          "Error: three.csv: 4 components need at least 4 rows; the data has 3")


def test_k_larger_than_the_distinct_points(work: Path) -> None:
    put("dup.csv", "x,y\n1,2\n1,2\n5,6\n1,2\n5,6\n")
    fails(work, ["dup.csv", "-k", 3], 1,
          "Error: dup.csv: 3 components but the data has only 2 distinct points; use fewer "
          "components")


def test_bad_covariance_type(work: Path) -> None:
    put("three.csv", "x,y\n1,2\n3,4\n5,6\n")
    fails(work, ["three.csv", "-k", 2, "-c", "bogus"], 2,
          "Error: Invalid value for '-c' / '--covariance-type': 'bogus' is not one of "
          "EII, spherical, EEI, VEI, EVI, diag, tied, VEE, EVE, VVE, EEV, VEV, EVV, full, E, V, "
          "VII, VVI, EEE, VVV.")


def test_negative_tol(work: Path) -> None:
    put("three.csv", "x,y\n1,2\n3,4\n5,6\n")
    fails(work, ["three.csv", "-k", 2, "--tol", -1], 2,
          "Error: Invalid value for '--tol': '-1' is not a finite number >= 0.")


def test_means_init_wrong_shape(work: Path) -> None:
    put("m3.csv", "1,1\n5,5\n6,1\n")
    fails(work, [BLOBS, "-k", 4, "--means-init", "m3.csv"], 1,
          "Error: m3.csv: expected 4 x 2 (K x D) starting means, not 3 x 2")
    np.save("wide.npy", np.arange(12.0).reshape(4, 3))
    fails(work, [BLOBS, "-k", 4, "--means-init", "wide.npy"], 1,
          "Error: wide.npy: expected 4 x 2 (K x D) starting means, not 4 x 3")


def test_means_init_identical_rows_names_both(work: Path) -> None:
    put("same.csv", "1,1\n5,5\n6,1\n5,5\n")
    fails(work, [BLOBS, "-k", 4, "--means-init", "same.csv"], 1,
          "Error: same.csv: rows 1 and 3 of starting means are identical; identical starting means "
          "can never separate")


def test_means_init_unreadable(work: Path) -> None:
    put("bad.csv", "1,1\n5,x\n")
    fails(work, [BLOBS, "-k", 2, "--means-init", "bad.csv"], 1,
          # --columns selects the data's columns, not the starting means'
          "Error: bad.csv:2: column '1': non-numeric value 'x'; fix or remove the row")


# --------------------------------------------------------------------------- outputs


def test_output_directory_under_a_file(work: Path) -> None:
    put("afile", "not a folder\n")
    before = files_under(work)
    result = CliRunner().invoke(cli, ["fit", str(BLOBS), "-k", "2",
                                      "--seed", "0", "--output-dir", "afile/out",
                                      "--model", "model.json"],
                                env={"EMGMM_FORCE_TTY": None})
    assert result.exit_code == 1
    assert result.stderr == "Error: afile/out: cannot create the directory: Not a directory\n"
    assert files_under(work) == before


def test_model_folder_missing(work: Path) -> None:
    before = files_under(work)
    result = CliRunner().invoke(cli, ["fit", str(BLOBS), "-k", "2",
                                      "--seed", "0", "--output-dir", "out",
                                      "--model", "nodir/model.json"],
                                env={"EMGMM_FORCE_TTY": None})
    assert result.exit_code == 1
    assert result.stderr == ("Error: nodir/model.json: cannot write: directory 'nodir' does "
                             "not exist; create it first\n")
    assert files_under(work) == before  # the three files staged in out/ were rolled back


def test_read_only_output_directory(work: Path) -> None:
    import subprocess
    import sys

    prefix = _unprivileged()  # root writes anywhere: run without that right
    if prefix is None:
        pytest.skip("root here cannot give up writing into a read-only folder")
    Path("ro").mkdir()
    Path("ro").chmod(0o555)
    try:
        done = subprocess.run(prefix + [sys.executable, "-m", "emgmm_cli", "fit", str(BLOBS),
                                        "-k", "2", "--seed", "0", "--output-dir", "ro"],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 1, done.stderr
        # the folder, found before the data are read (it was each output's, after the fit)
        assert done.stderr == ("Error: ro: cannot create files in this directory (permission "
                               "denied or read-only)\n")
        assert files_under(Path("ro")) == []
    finally:
        Path("ro").chmod(0o755)


def test_unsupported_output_extension_fails_before_fitting(work: Path) -> None:
    # --max-iter 1 would warn "did not converge" had the fit run: the error comes first
    fails(work, [BLOBS, "-k", 2, "--max-iter", 1, "-o", "labels.xyz"], 1,
          "Error: labels.xyz: unsupported output format '.xyz'; use .csv, .tsv, .npy, .json, .jsonl "
          "or .parquet")


@pytest.mark.parametrize("extra,message", [
    (["-o", "nope/labels.csv"],
     "nope/labels.csv: cannot write: directory 'nope' does not exist; create it first"),
    (["-o", "l.csv", "--trace", "l.csv"],
     "l.csv: the same file is given for two outputs; give each its own file"),
    (["-o", "."], ".: is a directory; give a file name for this output"),
])
def test_an_output_that_cannot_be_written_fails_before_fitting(work: Path, extra: list[str],
                                                               message: str) -> None:
    """Found when the outputs are staged, after the fit, these ended runs of any length
    with nothing written; they are checked with the outputs' names, before the data is
    read (--max-iter 1 would warn "did not converge" had the fit run)."""
    fails(work, [BLOBS, "-k", 2, "--max-iter", 1, *extra], 1, f"Error: {message}")


@pytest.mark.parametrize("args, message", [
    (["fit", BLOBS, "-k", 2, "--means-init", "d"],
     "d: is a directory, not a file; give the path of a data file"),
    (["fit", BLOBS, "-k", 2, "--sample-weights", "d"],
     "d: is a directory, not a file; give the path of a data file"),
    (["fit", BLOBS, "-k", 2, "--known-labels", "d"],
     "d: is a directory, not a file; give the path of a data file"),
    (["fit", BLOBS, "-k", 2, "--plot", "d.png"], "d.png: is a directory; give a file name "
                                                  "for this output"),
    (["fit", BLOBS, "-k", 2, "--output-dir", "f"],
     "f: exists and is not a directory; choose another output directory"),
    (["select", BLOBS, "-k", 2, "--table", "d"], "d: is a directory; give a file name for "
                                                  "this output"),
    (["batch", BLOBS, "-k", 2, "-o", "f"],
     "f: exists and is not a directory; choose another output directory"),
    (["batch", "f", "-k", 2, "-o", "f"],  # the dataset itself: not "no datasets found"
     "f: exists and is not a directory; choose another output directory"),
    (["info", "model.json", "-o", "d"], "d: is a directory; give a file name for this output"),
    (["make-blobs", "--centers", "0;9", "--covariances", "d"], "d: covariances are read from "
     "a .npy file (a K x D x D array) or a .json file (a nested list)"),
])
def test_a_folder_for_a_file_or_a_file_for_a_folder_is_exit_status_1(
        work: Path, args: list[object], message: str) -> None:
    """errors.md: a name that is a directory (or a file where a folder goes) is a file
    that failed, exit status 1, said by the command as for its other files; click's own
    check of these options made some of them usage errors (2), in its own words."""
    Path("d").mkdir()
    Path("d.png").mkdir()
    put("f", "x\n1\n2\n3\n")
    assert run_cli(["fit", BLOBS, "-k", 2, "--model", "model.json"]).exit_code == 0
    result = run_cli(args)
    assert (result.exit_code, result.stderr) == (1, f"Error: {message}\n")


def run_cli(args: list[object]) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env={"EMGMM_FORCE_TTY": None},
                              prog_name="emgmm")


def test_an_output_folder_that_cannot_be_made_fails_before_fitting(work: Path) -> None:
    put("f", "a file, not a folder\n")
    result = CliRunner().invoke(cli, ["fit", str(BLOBS), "-k", "2", "--max-iter", "1",
                                      "--output-dir", "f/sub"], env={"EMGMM_FORCE_TTY": None})
    assert (result.exit_code, result.stderr) == (
        1, "Error: f/sub: cannot create the directory: Not a directory\n")
    # and a folder that can be made is made, with the parents it needs
    result = CliRunner().invoke(cli, ["fit", str(BLOBS), "-k", "2", "--seed", "0",
                                      "--output-dir", "new/a/b"], env={"EMGMM_FORCE_TTY": None})
    assert result.exit_code == 0, result.stderr
    assert files_under(Path("new")) == ["a/b/labels.csv", "a/b/model.json",
                                        "a/b/responsibilities.csv", "a/b/trace.csv"]


# --------------------------------------------------------------------------- numerics


@pytest.mark.parametrize("kind", ["diag", "spherical", "full", "tied"])
def test_constant_column_still_fits(work: Path, kind: str) -> None:
    rows = [(x, 5.0) for x in (1.0, 1.2, 0.9, 1.1, 8.0, 8.3, 7.9, 8.1)]
    put("const.csv", "x,c\n" + "".join(f"{a},{b}\n" for a, b in rows))
    result = CliRunner().invoke(cli, ["fit", "const.csv", "-k", "2", "-c", kind, "--seed", "0",
                                      *OUTPUTS], env={"EMGMM_FORCE_TTY": None})
    assert result.exit_code == 0, result.stderr
    # one warning, the column's; no degenerate one: constant columns are left out of that
    # test
    assert result.stderr == (
        "emgmm: warning: const.csv: column 'c' holds one value (5) in every row: there is "
        "nothing to cluster on in it, every covariance is reg_covar along it, and the "
        "spherical models (EII, VII) average that into every column's variance; leave it "
        "out with --columns\n")
    assert files_under(work) == ["const.csv", "model.json", "out/labels.csv",
                                 "out/responsibilities.csv", "out/trace.csv"]
    labels = [int(v) for v in Path("out/labels.csv").read_text().split()]
    assert labels[:4] == [labels[0]] * 4 and labels[4:] == [1 - labels[0]] * 4


def test_covariance_not_positive_definite_suggests_reg_covar(work: Path) -> None:
    # two exactly collinear columns at a scale where reg_covar is lost in rounding: the
    # screen names the columns first, then the fit fails
    t = np.random.default_rng(0).normal(size=300)
    np.save("line.npy", np.c_[t, 2 * t] * 1e9)
    result = run(["line.npy", "-k", 1])
    assert result.exit_code == 1 and result.stdout == ""
    warning, error = result.stderr.splitlines()
    assert warning == (
        "emgmm: warning: line.npy: columns '0' and '1' are linear functions of one another "
        "(correlation +1); every covariance is singular along them; leave one of them out "
        "with --columns")
    assert re.fullmatch(
        r"Error: line\.npy: component 0: covariance is not positive definite (in the initial "
        r"parameters|at iteration \d+) even with reg_covar=1e-06; use a larger --reg-covar "
        r"\(for example [0-9.e+-]+\), fewer components, or --standardize \(every column "
        r"centred and scaled to unit variance\)", error), error
    assert files_under(work) == ["line.npy"]


def test_a_column_that_sums_others_is_named_and_blamed(work: Path) -> None:
    """A total beside its parts (total = a + b): no two columns are copies, so the screen
    said nothing; every fit of a full covariance, K = 1 too, collapsed, and select said
    to try more restarts or a larger floor, which change nothing.  The screen now names
    the three columns, and select's error points at them."""
    rng = np.random.default_rng(0)
    xy = np.r_[rng.normal(size=(150, 2)), rng.normal(size=(150, 2)) + [5.0, 1.0]]
    np.savetxt("sum.csv", np.c_[xy, xy.sum(axis=1)], delimiter=",", header="a,b,total",
               comments="", fmt="%.10g")
    said = ("emgmm: warning: sum.csv: columns 'a', 'b' and 'total' are linearly dependent "
            "(one is a weighted sum of the others); every covariance is singular along "
            "them; leave one of them out with --columns")
    fitted = run(["sum.csv", "-k", 1, "--seed", 0])
    assert fitted.exit_code == 0
    assert fitted.stderr.splitlines()[0] == said
    assert "the data warned about above is the likely cause" in fitted.stderr
    chosen = CliRunner().invoke(cli, ["select", "sum.csv", "-k", "1-2", "-c", "full,tied",
                                      "--seed", "0"])
    assert chosen.exit_code == 1
    assert chosen.stderr.splitlines()[0] == said
    assert chosen.stderr.splitlines()[-1].endswith(
        "some columns are linear functions of one another (the screen's warning says which): "
        "leave one of them out with --columns")
    # two of them alone are no such thing; a copy is said as the pair it is
    assert "dependent" not in run(["sum.csv", "-k", 1, "--columns", "a,total"]).stderr


def test_a_column_name_that_holds_a_comma_is_quoted(work: Path) -> None:
    """--columns (and --dims, and ReadOptions.columns) read their list as one CSV row: a
    name with a comma in it is given in double quotes, and the list of the columns there
    are shows it so."""
    rows = "".join(f"{i % 7}.5,{i % 5}.25,{i % 3}\n" for i in range(40))
    put("q.csv", 'x,"height, cm",z\n' + rows)
    fails(work, ["q.csv", "-k", 2, "--columns", "height, cm"], 1,
          "Error: q.csv: column 'height': no such column; available columns: x, "
          '"height, cm", z')
    result = CliRunner().invoke(cli, ["fit", "q.csv", "-k", "2", "--seed", "0", "--columns",
                                      '"height, cm", x', "--model", "m.json"],
                                env={"EMGMM_FORCE_TTY": None})
    assert result.exit_code == 0, result.stderr
    assert json.loads(Path("m.json").read_text())["feature_names"] == ["height, cm", "x"]
    read = emgmm_cli.ReadOptions(columns='"height, cm",x')
    fitted = emgmm_cli.fit("q.csv", 2, seed=0, read=read)
    assert fitted.document["feature_names"] == ["height, cm", "x"]


def test_a_terminal_on_stdin_is_refused_alike_by_every_command(work: Path) -> None:
    """'-' with a terminal on stdin: fit, predict and batch all refuse it with exit 1 and
    a line that fits the command (predict's advised 'cat data.csv | emgmm fit -'; batch's
    was a usage error, exit 2).  A real pseudo-terminal, in real processes."""
    import os
    import pty
    import subprocess
    import sys

    model = work / "m.json"
    model.write_text(json.dumps(emgmm_cli.fit(BLOBS, 2, seed=0).document))
    emgmm = Path(sys.executable).parent / "emgmm"
    main, side = pty.openpty()
    try:
        for args, line in (
                (["fit", "-", "-k", "2"], "Error: <stdin>: standard input is a terminal; pipe "
                 "the data in (for example: cat data.csv | emgmm COMMAND ... -) or give a "
                 "file name"),
                (["predict", str(model), "-"], None),
                (["batch", "-", "-k", "2", "-o", "out"], "Error: <stdin>: standard input is a "
                 "terminal; '-' reads a list of paths from it: pipe one in, for example: "
                 "find data -name '*.csv' | emgmm batch - ...")):
            done = subprocess.run([str(emgmm), *args], stdin=side, capture_output=True,
                                  text=True, timeout=60)
            assert done.returncode == 1, (args, done.stderr)
            last = done.stderr.splitlines()[-1]
            assert last == (line or "Error: <stdin>: standard input is a terminal; pipe the "
                            "data in (for example: cat data.csv | emgmm COMMAND ... -) or "
                            "give a file name"), last
    finally:
        os.close(main)
        os.close(side)
    assert files_under(work) == ["m.json"]


@pytest.mark.parametrize(("name", "line"), [
    ("fitt", "Error: No such command 'fitt'. Did you mean 'fit'?"),
    ("make_blobs", "Error: No such command 'make_blobs'. Did you mean 'make-blobs'?"),
    ("zzz", "Error: No such command 'zzz'."),
])
def test_a_mistyped_command_gets_the_closest_names(work: Path, name: str, line: str) -> None:
    """`emgmm fitt`: the closest command names in click's one-line error, exit 2, as for a
    mistyped option.  A fresh process: commands are loaded lazily, so none is loaded yet."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "emgmm_cli", name, "data.csv"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1] == line
    assert done.stdout == ""


def _unprivileged() -> list[str] | None:
    """The prefix that runs a command without the right to read any file (root's
    DAC override dropped by setpriv), [] where the user has none, None where root cannot
    drop it here."""
    import os
    import shutil

    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    return None if setpriv is None else [setpriv, "--bounding-set",
                                         "-dac_override,-dac_read_search"]


def test_a_file_that_cannot_be_read_is_the_files_error_not_bad_usage(tmp_path: Path) -> None:
    """An input or model that exists but cannot be read was click's usage error (exit 2,
    the usage lines, "Path 'x' is not readable"), where one that does not exist is the
    file's error (exit 1, one line): each is exit 1, one line, now."""
    import os
    import subprocess
    import sys

    prefix = _unprivileged()
    if prefix is None:
        pytest.skip("root here cannot give up reading every file")
    x = np.random.default_rng(0).normal(size=(40, 2))
    np.savetxt(tmp_path / "d.csv", x, delimiter=",", header="a,b", comments="")
    emgmm = [sys.executable, "-m", "emgmm_cli"]
    subprocess.run(emgmm + ["fit", "d.csv", "-k", "2", "--model", "m.json", "-q"],
                   cwd=tmp_path, check=True, capture_output=True)
    (tmp_path / "cov.json").write_text("[[[1, 0], [0, 1]]]")
    for name in ("d.csv", "m.json", "cov.json"):
        (tmp_path / ("shut-" + name)).write_bytes((tmp_path / name).read_bytes())
        os.chmod(tmp_path / ("shut-" + name), 0)
    for args, shut in ((["fit", "shut-d.csv", "-k", "2"], "shut-d.csv"),
                       (["make-blobs", "--centers", "0,0", "--covariances", "shut-cov.json"],
                        "shut-cov.json"),
                       (["predict", "m.json", "shut-d.csv"], "shut-d.csv"),
                       (["info", "shut-m.json"], "shut-m.json"),
                       (["sample", "shut-m.json", "-n", "3"], "shut-m.json"),
                       (["fit", "d.csv", "-k", "2", "--sample-weights", "shut-d.csv"],
                        "shut-d.csv")):
        done = subprocess.run(prefix + emgmm + args, cwd=tmp_path, capture_output=True,
                              text=True)
        assert done.returncode == 1, (args, done.stderr)
        assert done.stderr == (f"Error: {shut}: permission denied; check that you may read "
                               "the file\n"), args
    # a folder batch cannot list was left out without a word: "no datasets found"
    (tmp_path / "runs" / "shut").mkdir(parents=True)
    (tmp_path / "runs" / "shut" / "d.csv").write_bytes((tmp_path / "d.csv").read_bytes())
    os.chmod(tmp_path / "runs" / "shut", 0)
    try:
        done = subprocess.run(prefix + emgmm + ["batch", "runs", "-r", "-k", "2",
                                                "--output-dir", "out"],
                              cwd=tmp_path, capture_output=True, text=True)
    finally:
        os.chmod(tmp_path / "runs" / "shut", 0o755)
    assert done.returncode == 1 and done.stderr == (
        "Error: runs/shut: cannot list the folder: permission denied; check that you may "
        "read it\n"), done.stderr
