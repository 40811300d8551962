"""What a person at a terminal sees: help two columns short of the terminal (118 at most) with
no word broken, tables that fit 80 columns without cutting a number, one format for the
numbers of a column, and progress on stderr while a fit runs."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from emgmm_cli.cli.main import COMMANDS, cli
from emgmm_cli.render import (_summaries, covariance_summary, make_console,
                              render_batch_summary, render_fit_summary, render_selection,
                              vector_formats)

ROOT = Path(__file__).resolve().parent.parent
EMGMM = Path(sys.executable).parent / "emgmm"
FAITHFUL = ROOT / "sample_data" / "faithful.csv"


def help_text(command: str | None, width: int) -> str:
    """What --help prints on a terminal width columns wide (COLUMNS, as the shell sets)."""
    args = [command, "--help"] if command else ["--help"]
    result = CliRunner().invoke(cli, args, env={"COLUMNS": str(width)})
    assert result.exit_code == 0
    return result.stdout


@pytest.mark.parametrize("command", [None, *(str(c.name) for c in COMMANDS)])
def test_help_fits_80_columns_and_breaks_no_word(command: str | None) -> None:
    text = help_text(command, 80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    for line, after in zip(lines, lines[1:]):
        # a line never ends inside a hyphenated word (--with-rows, random-from-data)
        assert not re.search(r"\w-$", line) or not after.strip(), (line, after)


def test_the_command_list_says_what_each_command_does_without_cutting_it_short() -> None:
    listed = help_text(None, 80).partition("Commands:")[2].splitlines()
    assert len([line for line in listed if line.strip()]) == len(COMMANDS)
    assert not any(line.rstrip().endswith("...") for line in listed), listed


def test_help_uses_a_wide_terminal_up_to_118_columns() -> None:
    """A real process: click's test runner fixes the width itself.  click wraps two
    columns short of the terminal's width (the guide said "up to 120": HELP_WIDTH)."""
    def lines(columns: int) -> list[str]:
        done = subprocess.run([sys.executable, "-m", "emgmm_cli", "fit", "--help"],
                              env={**os.environ, "COLUMNS": str(columns)}, text=True,
                              capture_output=True, timeout=60, check=True)
        return done.stdout.splitlines()

    wide, narrow = lines(200), lines(80)
    assert max(len(line) for line in wide) == 118
    assert max(len(line) for line in narrow) == 78 and len(wide) < len(narrow)


def test_fit_summary_numbers_share_a_format_at_80_columns() -> None:
    doc = CliRunner().invoke(cli, ["fit", str(ROOT / "sample_data" / "faithful.csv"), "-k", "3",
                                   "--seed", "0", "--json"]).stdout
    import json

    document = json.loads(doc)
    out = io.StringIO()
    render_fit_summary(make_console(out, width=80, color=False), document, shape=(272, 2))
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert re.search(r"log-likelihood\s+-\d+\.\d\d \(per sample -\d\.\d{4}\)", text)
    assert re.search(r"\d+\.\d\d / \d+\.\d\d / \d+\.\d\d", text)
    means = re.findall(r"\(([-\d.]+), ([-\d.]+)\)  *sd", text) or re.findall(
        r"│ \(([-\d.]+), ([-\d.]+)\) │", text)
    assert len(means) == 3
    for dim in zip(*means):  # each dimension's means with the same decimals
        assert len({len(v.partition(".")[2]) for v in dim}) == 1, means


def test_columns_of_other_scales_each_keep_their_significant_digits() -> None:
    """Income in dollars beside height in metres: decimals shared by the dimensions, those
    of the largest, showed means 1.60 and 1.80 both as 2 and a spread of 0.05 as 0."""
    doc: dict[str, Any] = {
        "covariance_type": "diag", "n_components": 2, "n_features": 2,
        "weights": [0.5, 0.5], "means": [[29510.1, 1.60124], [69777.3, 1.80311]],
        "covariances": [[4897.0 ** 2, 0.0504 ** 2], [5123.0 ** 2, 0.0497 ** 2]]}
    means = vector_formats([doc["means"][0], doc["means"][1]])
    assert [f(v) for f, v in zip(means, doc["means"][0])] == ["29510", "1.601"]
    assert [f(v) for f, v in zip(means, doc["means"][1])] == ["69777", "1.803"]
    (first, _) = _summaries(doc)
    assert covariance_summary(first) == "sd (4897, 0.05040)"


def test_a_wide_selection_table_leaves_columns_out_rather_than_cutting_numbers() -> None:
    rows = [dict(covariance_type="spherical", mclust="VII", n_components=k, status="ok",
                 log_likelihood=-1234567.891 * k, n_parameters=123, bic=2469135.78 * k,
                 aic=2469000.12 * k, icl=2470000.5 * k, converged=True, best=k == 2,
                 message="") for k in (1, 2, 10)]
    for width, shown in ((80, ["BIC *"]), (120, ["BIC *", "AIC", "ICL"])):
        out = io.StringIO()
        render_selection(make_console(out, width=width, color=False), rows, criterion="bic")
        text = out.getvalue()
        assert "…" not in text and "24691357.80" in text
        assert [h for h in ("BIC *", "AIC", "ICL") if h in text.splitlines()[0]] == shown
        assert max(len(line) for line in text.splitlines()) <= width
    assert "AIC and ICL are left out at this width" in text or width == 120


def test_the_selection_table_is_measured_whole_before_its_criteria_are_chosen() -> None:
    """The width of all three criteria was estimated, short of a note such as 'skipped
    [12]' and of the columns' separators: an 83-column table went to an 80-column terminal,
    every row wrapping.  The table is measured as rich lays it out; a family whose mclust
    name is its own name says it once ('EII', not 'EII (EII)')."""
    rows = [dict(covariance_type=name, mclust=mclust, n_components=k, status=status,
                 log_likelihood=-23742.54 * k, n_parameters=11, bic=47503.06 * k,
                 aic=47491.09 * k, icl=47503.06 * k, converged=True, best=False,
                 message="x" if status == "skipped" else "")
            for name, mclust, status in (("EII", "EII", "ok"), ("spherical", "VII", "ok"),
                                         ("tied", "EEE", "degenerate"),
                                         ("full", "VVV", "skipped"))
            for k in range(1, 13)]
    rows[0]["best"] = True
    for skipped in range(36, 48):
        rows[skipped]["message"] = f"reason {skipped}"  # twelve reasons: 'skipped [12]'
    for width in range(66, 130, 3):  # below, the one criterion does not fit: whole, wider
        out = io.StringIO()
        render_selection(make_console(out, width=width, color=False), rows, criterion="bic")
        lines = out.getvalue().splitlines()
        assert max(len(line) for line in lines[:49]) <= width, width
        assert "AIC" in lines[0] or "AIC and ICL are left out at this width" in " ".join(
            lines[49:])
    assert lines[2].startswith("EII  ") and lines[14].startswith("spherical (VII)")
    assert "AIC" in lines[0]  # at 127 every criterion fits


def test_a_terminal_too_narrow_for_the_tables_gets_them_whole(tmp_path: Path) -> None:
    """At COLUMNS=40, select's table dropped its K column and cut every number
    ('-1289.…', '2607.…'), and batch's cut its file names, rows and K to '…': such a
    terminal now gets each table at the width it needs (its lines wrap), batch's file
    names folded, nothing cut."""
    env = {"EMGMM_FORCE_TTY": "1", "COLUMNS": "40"}
    selected = CliRunner().invoke(cli, ["select", str(FAITHFUL), "-k", "1-2", "-c", "full",
                                        "--seed", "0"], env=env)
    assert selected.exit_code == 0, selected.output
    assert "full (VVV) 1 -1289.80      5 2607.62 yes" in selected.stdout
    assert "full (VVV) 2 -1130.26     11 2322.19 yes  <- best" in selected.stdout
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "faithful.csv").write_bytes(FAITHFUL.read_bytes())
    batch = CliRunner().invoke(cli, ["batch", str(tmp_path / "data"), "-k", "2", "--seed",
                                     "0", "--output-dir", str(tmp_path / "out")], env=env)
    assert batch.exit_code == 0, batch.output
    assert re.search(r" 272 +2 2 full +2 yes +-1130\.26 2322\.19 ", batch.stdout), batch.stdout
    for text in (selected.stdout, batch.stdout):
        assert "…" not in text


def run_on_a_terminal(args: list[str], columns: int = 80, term: str = "xterm-256color"
                      ) -> str:
    """What emgmm ARGS writes to a terminal columns wide (stdout and stderr together), of
    the kind TERM names."""
    pid, fd = pty.fork()
    if pid == 0:
        env = {**os.environ, "COLUMNS": str(columns), "TERM": term}
        env.pop("NO_COLOR", None)
        os.execve(str(EMGMM), [str(EMGMM), *args], env)
    seen = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.waitpid(pid, 0)
    return seen.decode("utf-8", "replace")


@pytest.mark.skipif(not EMGMM.exists(), reason="needs the installed emgmm script")
def test_fit_shows_its_progress_on_a_terminal(tmp_path: Path) -> None:
    data = tmp_path / "big.npy"
    CliRunner().invoke(cli, ["make-blobs", "-n", "200000", "--n-centers", "4", "--seed", "1",
                             "-o", str(data)])
    # 30 iterations of 200,000 rows: each restart lasts some refreshes of the display
    # (with 12 it once ended between two, under load, and its line was never drawn)
    screen = run_on_a_terminal(["fit", str(data), "-k", "4", "--seed", "0", "--n-init", "2",
                                "--tol", "0", "--max-iter", "30"])
    assert "reading " in screen
    assert re.search(r"restart 1 of 2, iteration \d+ of 30: log-lik -\d+\.\d{6}", screen)
    assert re.search(r"restart 2 of 2, iteration \d+ of 30", screen)
    assert "BIC / AIC / ICL" in screen  # then the summary


@pytest.mark.skipif(not EMGMM.exists(), reason="needs the installed emgmm script")
def test_a_warning_while_reading_is_a_line_of_its_own_above_the_spinner(tmp_path: Path
                                                                        ) -> None:
    """A warning said while the spinner of a read was shown was written after it, on its
    line ('... reading data.csv 0:00:00emgmm: warning: ...'): it goes above it now."""
    model = tmp_path / "m.json"
    CliRunner().invoke(cli, ["fit", str(FAITHFUL), "-k", "2", "--seed", "0", "--model",
                             str(model), "-q"])
    (tmp_path / "other.csv").write_text("p,q\n" + "1,2\n3,4\n" * 50)
    screen = run_on_a_terminal(["predict", str(model), str(tmp_path / "other.csv"), "-o",
                                str(tmp_path / "labels.csv")])
    warning = "emgmm: warning: "
    assert warning in screen
    before = screen[:screen.index(warning)]
    # the spinner's line cleared (carriage return, erase line) right before the warning
    assert before.endswith("\r\x1b[2K"), repr(screen)


@pytest.mark.skipif(not EMGMM.exists(), reason="needs the installed emgmm script")
def test_select_counts_every_family_and_says_its_workers_above_its_bar(tmp_path: Path
                                                                      ) -> None:
    """With every family (-c all, the default) the bar's total was 0 ('2/0 ... 42/0'),
    and the note of the worker processes was written onto the bar's line, which stayed
    on the screen above the table."""
    screen = run_on_a_terminal(["select", str(FAITHFUL), "-k", "1-3", "--seed", "0",
                                "--n-init", "1", "--jobs", "2"])
    plain = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", screen)
    assert re.search(r"select: cells ━+ +0/42 ", plain), repr(plain)
    note = "emgmm: fitting 42 cells in 2 "
    assert note in screen
    assert screen[:screen.index(note)].endswith("\r\x1b[2K"), repr(screen)


def test_the_tables_on_screen_say_why_a_fit_stopped_short(tmp_path: Path) -> None:
    # a cell that hit --max-iter says so in its conv column, not only "no"; the batch
    # summary the same
    faithful = str(ROOT / "sample_data" / "faithful.csv")
    screen = run_on_a_terminal(["select", faithful, "-k", "2-3", "-c", "VVV", "--seed", "0",
                                "--max-iter", "2", "--init", "kmeans"], columns=100)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", screen)
    rows = [line for line in plain.splitlines() if line.lstrip().startswith("full (VVV)")]
    assert len(rows) == 2 and all("max-iter" in line for line in rows), screen
    out = io.StringIO()
    render_batch_summary(make_console(out, width=120, color=False), [
        dict(file=name, rows=272, dims=2, k=3, covariance="full", iterations=it,
             converged=stop == "converged", stopped=stop, log_likelihood=-1130.0, bic=2300.0,
             seconds=0.1, status="ok")
        for name, it, stop in (("a.csv", 100, "max-iter"), ("b.csv", 7, "converged"),
                               ("c.csv", 4, "time limit"))])
    lines = {line.split()[0]: line for line in out.getvalue().splitlines()[2:] if line.strip()}
    assert "max-iter" in lines["a.csv"] and "yes" in lines["b.csv"]
    assert "time limit" in lines["c.csv"]


def test_control_characters_from_data_reach_the_terminal_as_escapes(tmp_path: Path) -> None:
    """A header name holding ESC [31m (red) and BEL went to the terminal as they are, in
    the fit summary (a table rich draws) and in messages: the terminal obeyed them.  Names
    read from data and model files, and every error and warning line, now show control
    characters as escapes (\\x1b); the model records the names so written."""
    rows = "".join(f"{a},{b}\n" for a, b in zip(range(40), range(40, 0, -1)))
    (tmp_path / "esc.csv").write_text('"a\x1b[31mRED","b\x07bell"\n' + rows)
    env = {"EMGMM_FORCE_TTY": "1", "COLUMNS": "100"}
    runner = CliRunner()
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        summary = runner.invoke(cli, ["fit", "esc.csv", "-k", "2", "--seed", "0", "--model",
                                      "m.json"], env=env)
        error = runner.invoke(cli, ["fit", "esc.csv", "-k", "2", "--columns", "nope"], env=env)
        info = runner.invoke(cli, ["info", "m.json"], env=env)
    finally:
        os.chdir(here)
    assert summary.exit_code == 0, summary.output
    for result in (summary, error, info):
        assert "\x1b[31mRED" not in result.output and "\x07" not in result.output
    assert "a\\x1b[31mRED, b\\x07bell" in summary.output
    assert error.stderr.strip().endswith("available columns: a\\x1b[31mRED, b\\x07bell")
    assert "a\\x1b[31mRED" in info.output
    import json

    names = json.loads((tmp_path / "m.json").read_text())["feature_names"]
    assert names == ["a\\x1b[31mRED", "b\\x07bell"]


def test_a_file_name_with_a_newline_keeps_every_message_on_one_line(tmp_path: Path) -> None:
    """An error names the file: a name holding a newline split 'Error: bad' from
    'name.csv: line 2: ...' (fit), and a batch's error line alike.  Newlines in messages
    are escapes now (\\x0a), as control characters are."""
    import subprocess
    import sys

    (tmp_path / "d").mkdir()
    for where in (tmp_path, tmp_path / "d"):
        (where / "bad\nname.csv").write_text("a,b\n1,x\n")
    (tmp_path / "d" / "ok.csv").write_text("a,b\n1,2\n3,4\n5,5\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    runs = [subprocess.run([sys.executable, "-m", "emgmm_cli", *args], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=60)
            for args in (["fit", "bad\nname.csv", "-k", "2"], ["batch", "d", "-k", "1", "-o", "o"])]
    assert [r.returncode for r in runs] == [1, 1]
    fit, batch = (r.stderr.splitlines() for r in runs)
    assert fit == ["Error: bad\\x0aname.csv:2: column 'b': non-numeric value 'x'; fix or "
                   "remove the row; use --columns to read only numeric columns"]
    assert batch[0].startswith("emgmm: error: d/bad\\x0aname.csv: line 2: ") and len(batch) == 2


def test_brackets_in_names_reach_the_summaries_as_they_are(tmp_path: Path) -> None:
    """The fit summary and info's table showed m[b]1.csv as m1.csv and the columns
    [red]a and b[/red] as a and b: rich read the brackets as its markup."""
    rows = "".join(f"{a},{b}\n" for a, b in zip(range(40), range(40, 0, -1)))
    (tmp_path / "m[b]1.csv").write_text("[red]a,b[/red]\n" + rows)
    env = {"EMGMM_FORCE_TTY": "1", "COLUMNS": "120"}
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        shown = [CliRunner().invoke(cli, args, env=env) for args in (
            ["fit", "m[b]1.csv", "-k", "2", "--seed", "0", "--model", "m.json"],
            ["info", "m.json"])]
    finally:
        os.chdir(here)
    for result in shown:
        assert result.exit_code == 0, result.output
        assert "m[b]1.csv: 40 rows x 2 columns ([red]a, b[/red])" in result.output


def test_one_of_a_thing_is_said_in_the_singular(tmp_path: Path) -> None:
    """The summaries' counts: '3 rows x 1 column', '1 cell' (they said '1 columns' and
    '1 cells')."""
    data = tmp_path / "one.csv"
    data.write_text("a\n1\n2\n3\n")
    env = {"EMGMM_FORCE_TTY": "1", "COLUMNS": "120"}
    fitted = CliRunner().invoke(cli, ["fit", str(data), "-k", "1"], env=env)
    assert f"{data}: 3 rows x 1 column (a)" in fitted.output, fitted.output
    chosen = CliRunner().invoke(cli, ["select", str(data), "-k", "1", "-c", "V"], env=env)
    assert f"{data}: 3 rows x 1 column; 1 cell, init" in chosen.output, chosen.output


#: An SGR sequence that sets a foreground colour (bold and the like are not colour).
COLOUR = re.compile(r"\x1b\[[0-9;]*?(?:3[0-7]|9[0-7]|38;[0-9;]+)m")


@pytest.mark.skipif(not EMGMM.exists(), reason="needs the installed emgmm script")
@pytest.mark.parametrize("command", ["fit", "select", "info", "batch", "plot"])
def test_no_color_leaves_out_every_colour_on_a_terminal(tmp_path: Path, command: str) -> None:
    """fit's summary, select's and batch's tables, info's and the progress shown while they
    ran took their colours from the terminal whatever --no-color said (NO_COLOR was
    heeded): the summary's "converged: yes" stayed green.  Now --no-color reaches every
    console; without it the same screens are in colour, so the check can fail."""
    data = tmp_path / "data" / "faithful.csv"
    data.parent.mkdir()
    data.write_bytes((ROOT / "sample_data" / "faithful.csv").read_bytes())
    model = tmp_path / "m.json"
    assert CliRunner().invoke(cli, ["fit", str(data), "-k", "2", "--seed", "0", "--model",
                                    str(model), "-q"]).exit_code == 0
    args = {"fit": ["fit", str(data), "-k", "2", "--seed", "0"],
            "select": ["select", str(data), "-k", "1-2", "-c", "VVV", "--seed", "0"],
            "info": ["info", str(model)],
            "batch": ["batch", str(data.parent), "-k", "2", "--seed", "0", "--output-dir",
                      str(tmp_path / "out")],
            "plot": ["plot", str(model), str(data)]}[command]
    plain = run_on_a_terminal([*args, "--no-color"])
    assert "Error" not in plain and plain.strip()
    assert COLOUR.findall(plain) == []
    if command == "batch":
        (tmp_path / "out").rename(tmp_path / "out-plain")
    assert COLOUR.search(run_on_a_terminal(args))


@pytest.mark.parametrize(("exponent", "ordinary"), [("e300", "e+299"), ("e-300", "e-301")])
def test_summaries_show_huge_and_tiny_values_in_scientific_notation(
        tmp_path: Path, exponent: str, ordinary: str) -> None:
    """Column a at +-1e300 showed its means and standard deviations as 300-digit integers
    (cut with "…" in the table) and at +-1e-300 as 0.000, in the fit summary, info's table
    and info's text.  Now such a dimension is in scientific notation with four significant
    digits while column b keeps its fixed decimals."""
    rows = "".join(f"{sign}1{exponent},{b}\n" for sign, b in zip("+-+-+-", range(1, 7)))
    (tmp_path / "d.csv").write_text("a,b\n" + rows)
    model = tmp_path / "m.json"
    fitted = CliRunner().invoke(cli, ["fit", str(tmp_path / "d.csv"), "-k", "2",
                                      "--standardize", "--seed", "0", "--model", str(model)],
                                env={"EMGMM_FORCE_TTY": None})
    assert fitted.exit_code == 0, fitted.output
    import json

    out = io.StringIO()
    render_fit_summary(make_console(out, width=120, color=False),
                       json.loads(model.read_text()), shape=(6, 2))
    text = CliRunner().invoke(cli, ["info", str(model)], env={"EMGMM_FORCE_TTY": None}).stdout
    for shown in (out.getvalue(), text):
        assert not re.search(r"\d{20}|…|\(-?0\.0+,", shown), shown
        assert len(re.findall(r"sd \(\d\.\d{3}" + re.escape(ordinary) + r", \d\.\d{4}\)",
                              shown)) == 2, shown
    assert len(re.findall(r"\(-?\d\.\d{3}" + re.escape(ordinary) + r", \d\.\d{3}\)",
                          out.getvalue())) == 2


def test_tables_show_huge_and_tiny_criteria_in_scientific_notation() -> None:
    """A criterion or log-likelihood of 1e300 (a model file may say so) filled the select
    and batch tables with hundreds of digits, and one of 1e-5 read 0.00."""
    rows = [dict(covariance_type="full", mclust="VVV", n_components=k, status="ok",
                 log_likelihood=-1e300, n_parameters=5, bic=1e300 * k, aic=1e-5,
                 icl=2469135.78, converged=True, best=k == 1, message="") for k in (1, 2)]
    out = io.StringIO()
    render_selection(make_console(out, width=120, color=False), rows, criterion="bic")
    text = out.getvalue()
    assert "-1.000000000e+300" in text and "2.000000000e+300" in text
    assert "1.000000000e-05" in text and "2469135.78" in text
    batch = io.StringIO()
    render_batch_summary(make_console(batch, width=120, color=False), [
        dict(file="a.csv", rows=6, dims=2, k=2, covariance="full", iterations=3,
             converged=True, stopped="converged", log_likelihood=-1e300, bic=2300.5,
             seconds=0.1, status="ok")])
    assert "-1.000000000e+300" in batch.getvalue() and "2300.50" in batch.getvalue()
    assert not re.search(r"\d{20}|…", text + batch.getvalue())


def test_numbers_turn_scientific_beyond_fixed_decimals() -> None:
    """The rule of render.LARGE: fixed decimals from 1e-3 to below 1e6 (four significant
    digits of the largest value), scientific with four significant digits beyond; one
    format per dimension, from its own values."""
    from emgmm_cli.render import number_format, vector_formats

    assert [number_format([v])(v) for v in (0.0, 1e-3, 2.5, 999999.0)] == [
        "0.000", "0.001000", "2.500", "999999"]
    assert [number_format([v])(v) for v in (9.99e-4, 1e6, -1e300, 1e-300)] == [
        "9.990e-04", "1.000e+06", "-1.000e+300", "1.000e-300"]
    formats = vector_formats([[1.5, 2e7, 12.25, 5e-9], [2.5, -3e7, 0.0, 0.0]])
    assert [[f(v) for f, v in zip(formats, row)] for row in ([1.5, 2e7, 12.25, 5e-9],)] == [
        ["1.500", "2.000e+07", "12.25", "5.000e-09"]]


def test_the_iterations_shown_say_when_they_follow_a_screening() -> None:
    """With init auto the summary said "iterations 2" of a run that had continued a start
    screened for 10 iterations, as though EM had taken two steps.  Now it says those are
    the iterations after the screening (n_iter counts no more); other starts as before."""
    import emgmm_cli
    from emgmm_cli.render import model_info_text

    for init, after in (("auto", True), ("kmeans", False)):
        doc = emgmm_cli.fit(ROOT / "sample_data" / "faithful.csv", 2, seed=0,
                            init=init).document
        out = io.StringIO()
        render_fit_summary(make_console(out, width=100, color=False), doc, shape=(272, 2))
        line = next(x for x in out.getvalue().splitlines() if x.startswith("iterations"))
        said = f"{doc['n_iter']} after its start's screening (converged: yes"
        assert (said in line) == after and f"{doc['n_iter']} " in line
        text = model_info_text(doc, "m.json")
        assert (f"iterations: {said}" in text) == after


@pytest.mark.skipif(not EMGMM.exists(), reason="needs the installed emgmm script")
def test_a_dumb_terminal_gets_the_summary_and_no_progress(tmp_path: Path) -> None:
    """On TERM=dumb, which cannot redraw a line, the progress display came out as an empty
    line a phase above the summary."""
    screen = run_on_a_terminal(["fit", str(FAITHFUL), "-k", "2", "--seed", "0"],
                               term="dumb")
    assert screen.startswith("data ") and "BIC / AIC / ICL" in screen, repr(screen)


@pytest.mark.skipif(not EMGMM.exists(), reason="needs the installed emgmm script")
def test_columns_of_zero_count_as_unset(tmp_path: Path) -> None:
    """COLUMNS=0, which rich took as a width, printed no summary at all (exit 0)."""
    screen = run_on_a_terminal(["fit", str(FAITHFUL), "-k", "2", "--seed", "0"], columns=0)
    assert "BIC / AIC / ICL" in screen and "0.6441" in screen, repr(screen)


def test_a_narrow_terminal_wraps_the_component_table_between_numbers(tmp_path: Path
                                                                      ) -> None:
    """At 24 columns info's (and fit's) table cut its weights and means to '0.…' and
    '(4.…': the vectors now wrap between their numbers, and the weights stay whole, as
    the trace's numbers do."""
    import json

    model = tmp_path / "m.json"
    CliRunner().invoke(cli, ["fit", str(FAITHFUL), "-k", "2", "--seed", "0", "--model",
                             str(model), "-q"])
    env = {"EMGMM_FORCE_TTY": "1", "COLUMNS": "24"}
    shown = CliRunner().invoke(cli, ["info", str(model)], env=env)
    trace = CliRunner().invoke(cli, ["fit", str(FAITHFUL), "-k", "3", "-c", "VVV", "--seed",
                                     "0", "--show-trace"], env=env)
    assert shown.exit_code == 0 and trace.exit_code == 0, shown.output + trace.output
    doc = json.loads(model.read_text())
    words = shown.stdout.split()
    for k in range(2):
        assert f"{doc['weights'][k]:.4f}" in words
        assert f"({doc['means'][k][0]:.3f}," in words and f"{doc['means'][k][1]:.2f})" in words
    assert "…" not in shown.stdout + trace.stdout
    assert re.search(r"\n +\d+ │ +-4\.\d{9} │ [+-]\d\.\d{3}e[+-]\d\d │ +\d\.\d{4} │ converged",
                     trace.stdout), trace.stdout
