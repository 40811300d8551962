"""Missing values: --missing error (the default) | drop, in reading, fitting, predicting
and scoring."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import emgmm_cli
from emgmm_cli.io.errors import DataError
from emgmm_cli.io.readers import read_points
from conftest import invoke_in

TEXT = "a,b\n1,2\nNA,3\n,4\n5,NaN\n6,nan\n7,8\n"


def test_text_missing_values_are_nan(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(TEXT)
    x = read_points(str(path), missing=True).x
    expected = np.array([[1, 2], [np.nan, 3], [np.nan, 4], [5, np.nan], [6, np.nan], [7, 8]])
    np.testing.assert_array_equal(x, expected)


def test_loadtxt_and_locator_agree(tmp_path: Path) -> None:
    """A chunk whose only missing values are NaN goes through the fast parser; one with
    NA goes through the locator: the same values either way."""
    fast, slow = tmp_path / "fast.csv", tmp_path / "slow.csv"
    fast.write_text("a,b\n1,nan\n2,3\n")
    slow.write_text("a,b\n1,NA\n2,3\n")
    np.testing.assert_array_equal(read_points(str(fast), missing=True).x,
                                  read_points(str(slow), missing=True).x)


@pytest.mark.parametrize("field, message", [
    ("NA", "column 'b': missing value 'NA'"),
    ("", "column 'b': missing value (empty field)"),
    ("nan", "column 'b': missing value 'nan'"),
])
def test_error_policy_keeps_the_located_message(tmp_path: Path, field: str,
                                                message: str) -> None:
    path = tmp_path / "m.csv"
    path.write_text(f"a,b\n1,2\n3,{field}\n")
    with pytest.raises(DataError) as info:
        read_points(str(path))
    assert str(info.value).startswith(f"{path}:3: {message}")
    r = invoke_in(tmp_path, "fit", "m.csv", "-k", "1")
    assert r.exit_code == 1 and f"m.csv:3: {message}; use --missing drop (" in r.stderr
    assert "or --missing em (" in r.stderr
    # batch: the dataset's status says it too, the file in its own column
    r = invoke_in(tmp_path, "batch", "m.csv", "-k", "1", "--output-dir", "out")
    status = (tmp_path / "out" / "summary.csv").read_text().splitlines()[1]
    assert r.exit_code == 1 and f"failed: line 3: {message}; use --missing drop (" in status


def test_infinity_stays_an_error(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("a,b\n1,NA\n3,inf\n")
    with pytest.raises(DataError, match=r"m.csv:3: column 'b': non-finite value 'inf'"):
        read_points(str(tmp_path / "m.csv"), missing=True)
    np.save(tmp_path / "m.npy", np.array([[1.0, np.nan], [np.inf, 2.0]]))
    with pytest.raises(DataError, match="non-finite value inf in row 2"):
        read_points(str(tmp_path / "m.npy"), missing=True)


def test_npy_nan_is_missing(tmp_path: Path) -> None:
    np.save(tmp_path / "m.npy", np.array([[1.0, np.nan], [2.0, 3.0]]))
    assert np.isnan(read_points(str(tmp_path / "m.npy"), missing=True).x[0, 1])
    with pytest.raises(DataError, match=r"missing value \(NaN\) in row 1 \(index 0\)$"):
        read_points(str(tmp_path / "m.npy"))


def _blobs(seed: int = 0, n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [8.0, 8.0, 0.0], [0.0, 8.0, 8.0]])
    return centres[np.arange(n) % 3] + rng.normal(size=(n, 3))


def _holed(x: np.ndarray, share: float, seed: int = 1) -> np.ndarray:
    """x with share of its values removed (NaN) at random."""
    rng = np.random.default_rng(seed)
    out = x.copy()
    out[rng.random(x.shape) < share] = np.nan
    return out


@pytest.mark.parametrize("family", ["full", "tied", "diag", "spherical"])
def test_drop_is_the_fit_of_the_complete_rows(family: str) -> None:
    x = _blobs()
    holed = _holed(x, 0.05)
    incomplete = np.isnan(holed).any(axis=1)
    assert 0 < incomplete.sum() < len(x) // 2
    dropped = emgmm_cli.fit(holed, 3, missing="drop", seed=4, covariance_type=family)
    complete = emgmm_cli.fit(x[~incomplete], 3, seed=4, covariance_type=family)
    np.testing.assert_array_equal(dropped.means, complete.means)
    assert dropped.log_likelihood == complete.log_likelihood
    assert (dropped.labels[incomplete] == -1).all()
    np.testing.assert_array_equal(dropped.labels[~incomplete], complete.labels)
    assert np.isnan(dropped.responsibilities[incomplete]).all()
    np.testing.assert_array_equal(dropped.responsibilities[~incomplete],
                                  complete.responsibilities)
    assert dropped.document["n_dropped"] == int(incomplete.sum())
    assert dropped.document["n_samples"] == int((~incomplete).sum())


def test_drop_keeps_weights_and_known_labels_aligned() -> None:
    x = _blobs(2, 60)
    holed = x.copy()
    holed[[0, 5, 7], 1] = np.nan
    keep = ~np.isnan(holed).any(axis=1)
    w = np.arange(60) % 4 + 0.5
    known = np.where(np.arange(60) % 10 == 0, np.arange(60) % 3, -1)
    a = emgmm_cli.fit(holed, 3, missing="drop", seed=1, sample_weights=w, known_labels=known)
    b = emgmm_cli.fit(x[keep], 3, seed=1, sample_weights=w[keep], known_labels=known[keep])
    np.testing.assert_array_equal(a.means, b.means)
    np.testing.assert_array_equal(a.labels[keep], b.labels)


def test_predict_and_score_drop(tmp_path: Path) -> None:
    x = _blobs(3)
    model = emgmm_cli.fit(x, 3, seed=0)
    holed = _holed(x, 0.1, seed=5)
    incomplete = np.isnan(holed).any(axis=1)
    labels = emgmm_cli.predict(model, holed, missing="drop")
    assert (labels[incomplete] == -1).all()
    np.testing.assert_array_equal(labels[~incomplete], emgmm_cli.predict(model, x[~incomplete]))
    scores = emgmm_cli.score(model, holed, missing="drop")
    reference = emgmm_cli.score(model, x[~incomplete])
    assert np.isnan(scores.log_density[incomplete]).all()
    np.testing.assert_array_equal(scores.log_density[~incomplete], reference.log_density)
    assert scores.log_likelihood == reference.log_likelihood
    with pytest.raises(DataError,
                       match=r"missing value \(NaN\) in row \d+; give missing='drop' or"):
        emgmm_cli.predict(model, holed)


def test_em_leaves_out_a_row_with_no_value_as_drop_does(tmp_path: Path) -> None:
    """A row with no value at all tells EM nothing and a model gives it no density: under
    --missing em it is left out as --missing drop leaves rows out (label -1, NaN, not in
    a total), and said.  score gave it a log-density of 0, the most typical of the file,
    counted it in the mean and never flagged it; a file of such rows scored 0, exit 0."""
    x = _holed(_blobs(3), 0.1, seed=5)
    empty = np.zeros(len(x), dtype=bool)
    empty[[4, 50, 51, 299]] = True
    x[empty] = np.nan
    model = emgmm_cli.fit(_blobs(3), 3, seed=0)
    with pytest.warns(emgmm_cli.FitWarning, match="4 rows with no value at all left out"):
        scores = emgmm_cli.score(model, x, missing="em")
    alone = emgmm_cli.score(model, x[~empty], missing="em")
    assert np.isnan(scores.log_density[empty]).all()
    np.testing.assert_array_equal(scores.log_density[~empty], alone.log_density)
    assert scores.log_likelihood == alone.log_likelihood
    with pytest.warns(emgmm_cli.FitWarning):
        labels = emgmm_cli.predict(model, x, missing="em")
        fitted = emgmm_cli.fit(x, 3, missing="em", seed=4)
    assert (labels[empty] == -1).all() and (fitted.labels[empty] == -1).all()
    np.testing.assert_array_equal(fitted.means,
                                  emgmm_cli.fit(x[~empty], 3, missing="em", seed=4).means)
    (tmp_path / "none.csv").write_text("a,b,c\nNA,NA,NA\n,,\n")
    (tmp_path / "m.json").write_text(json.dumps(model.document))
    r = invoke_in(tmp_path, "score", "m.json", "none.csv", "--missing", "em")
    assert (r.exit_code, r.stderr) == (1, "Error: none.csv: none of the 2 rows holds a "
                                          "value; no row is left\n")


def test_a_standardized_model_scores_the_rows_around_one_with_no_value(tmp_path: Path
                                                                       ) -> None:
    """The log-densities of a standardized model lose each row's log scales (those of the
    columns it holds); with a row of no value left out under --missing em, those were one
    fewer than the rows scored: score, predict --log-density and fit --with-rows
    --log-density ended in numpy's ValueError ("internal error" on the command line).
    The other rows score as they do without it; it has none."""
    x = _holed(_blobs(3), 0.1, seed=5)
    x[7] = np.nan
    with pytest.warns(emgmm_cli.FitWarning, match="1 row with no value at all left out"):
        model = emgmm_cli.fit(x, 3, seed=0, standardize=True, missing="em")
        scores = emgmm_cli.score(model, x, missing="em")
    alone = emgmm_cli.score(model, np.delete(x, 7, axis=0), missing="em")
    assert np.isnan(scores.log_density[7])
    np.testing.assert_array_equal(np.delete(scores.log_density, 7), alone.log_density)
    assert scores.log_likelihood == alone.log_likelihood == model.log_likelihood
    np.savetxt(tmp_path / "m.csv", x, delimiter=",", header="a,b,c", comments="")
    r = invoke_in(tmp_path, "fit", "m.csv", "-k", "3", "--seed", "0", "--standardize",
                  "--missing", "em", "--with-rows", "--log-density", "-o", "rows.csv")
    assert r.exit_code == 0, r.output
    rows = np.genfromtxt(tmp_path / "rows.csv", delimiter=",", skip_header=1)
    assert np.isnan(rows[7, -1]) and rows[7, -2] == -1
    np.testing.assert_allclose(np.delete(rows[:, -1], 7), alone.log_density, rtol=1e-9)


def test_info_and_the_summary_say_how_many_rows_em_fitted_through_missing_values(
        tmp_path: Path) -> None:
    """info said how many rows --missing drop left out, but nothing of the rows that
    --missing em fitted through their observed values (the model's n_incomplete)."""
    (tmp_path / "m.csv").write_text("a,b\n0,0\n0.1,NA\n,8\n8,8\n8.2,7.9\n0.2,0.1\n7.9,8.1\n"
                                    "-0.1,0.2\n")
    r = invoke_in(tmp_path, "fit", "m.csv", "-k", "2", "--seed", "1", "--missing", "em",
                  "--model", "m.json", "-q")
    assert r.exit_code == 0, r.stderr
    r = invoke_in(tmp_path, "info", "m.json")
    assert ("fitted on: m.csv (8 rows, 2 rows with missing values, fitted through their "
            "observed values)") in r.stdout
    table = subprocess.run([sys.executable, "-m", "emgmm_cli", "info", "m.json"], cwd=tmp_path,
                           env={**os.environ, "EMGMM_FORCE_TTY": "1", "COLUMNS": "120"},
                           capture_output=True, text=True, timeout=60, check=True).stdout
    assert "2 rows with missing values, fitted through their observed values" in table


def test_cli_drop(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("a,b\n0,0\n0.1,NA\n,8\n8,8\n8.2,7.9\n0.2,0.1\n7.9,8.1\n"
                                    "-0.1,0.2\n")
    r = invoke_in(tmp_path, "fit", "m.csv", "-k", "2", "--seed", "1", "--missing", "drop",
                  "--labels", "labels.csv", "--responsibilities", "resp.csv", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["n_dropped"] == 2 and doc["n_samples"] == 6
    labels = (tmp_path / "labels.csv").read_text().split()
    assert labels[1:3] == ["-1", "-1"] and set(labels) == {"-1", "0", "1"}
    resp = (tmp_path / "resp.csv").read_text().splitlines()
    assert resp[2:4] == [",", ","]  # no responsibilities: empty fields
    r = invoke_in(tmp_path, "fit", "m.csv", "-k", "2", "--seed", "1", "--missing", "drop",
                  "--model", "m.json")
    assert r.exit_code == 0, r.stderr
    r = invoke_in(tmp_path, "info", "m.json")
    assert "fitted on: m.csv (6 rows, 2 incomplete rows dropped)" in r.stdout
    r = invoke_in(tmp_path, "score", "m.json", "m.csv", "--missing", "drop", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["n_dropped"] == 2
    r = invoke_in(tmp_path, "predict", "m.json", "m.csv", "--missing", "drop")
    assert r.stdout.split() == labels
    r = invoke_in(tmp_path, "fit", "m.csv", "-k", "2", "--missing", "maybe")
    assert r.exit_code == 2


def test_cli_every_row_incomplete_and_out_of_core(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("a,b\n1,NA\nNA,2\n")
    r = invoke_in(tmp_path, "fit", "m.csv", "-k", "1", "--missing", "drop")
    assert r.exit_code == 1
    assert r.stderr.strip() == ("Error: m.csv: every one of the 2 rows has a missing value; "
                                "no row is left")
    # over the memory limit too (tests/test_missing_out_of_core.py compares the fits)
    (tmp_path / "big.csv").write_text("a,b\n" + "NA,2\n3,NA\n" * 200)
    r = invoke_in(tmp_path, "fit", "big.csv", "-k", "1", "--missing", "drop",
                  "--memory-limit", "1K")
    assert r.exit_code == 1
    assert r.stderr.strip() == ("Error: big.csv: every one of the 400 rows has a missing "
                                "value; no row is left")


def test_a_column_with_no_value_is_refused_for_a_fit(tmp_path: Path) -> None:
    """A column missing in every row (a spreadsheet's empty column) has nothing EM could
    fit it from: with --missing em it was filled with 0s and fitted as a constant column
    (mean 0, exit 0); now refused by name, in memory and read block by block alike.
    --missing drop names it as the reason every row went.  Predicting with such a column
    stays possible: the model knows the column, and the rows' other values place them."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3))
    (tmp_path / "e.csv").write_text("a,b,c\n" + "".join(
        f"{u:.6f},,{v:.6f}\n" for u, v in zip(x[:, 0], x[:, 2])))
    line = ("Error: e.csv: column 'b' has no value in any row (every one is missing): there "
            "is nothing to fit it from; leave it out with --columns")
    r = invoke_in(tmp_path, "fit", "e.csv", "-k", "2", "--seed", "0", "--missing", "em",
                  "--model", "m.json")
    assert (r.exit_code, r.stderr.strip()) == (1, line)
    assert not (tmp_path / "m.json").exists()
    r = invoke_in(tmp_path, "select", "e.csv", "-k", "1-2", "--missing", "em")
    assert (r.exit_code, r.stderr.strip()) == (1, line)
    r = invoke_in(tmp_path, "fit", "e.csv", "-k", "2", "--missing", "drop")
    assert (r.exit_code, r.stderr.strip()) == (1, (
        "Error: e.csv: every one of the 100 rows has a missing value (column 'b' has none "
        "at all; leave it out with --columns); no row is left"))
    x[:, 1] = np.nan
    with pytest.raises(DataError, match="column '1' has no value in any row"):
        emgmm_cli.fit(x, 2, missing="em")
    fitted = emgmm_cli.fit(rng.normal(size=(100, 3)), 2, seed=0)
    assert emgmm_cli.predict(fitted, x, missing="em").shape == (100,)


@pytest.mark.parametrize("limit", [None, "8K"])
def test_the_screen_reads_the_values_the_columns_hold(tmp_path: Path, limit: str | None
                                                      ) -> None:
    """With --missing em the screen's counts and values are those of the values each
    column holds, in memory and read block by block: a 0/1 column half missing "took 3
    values (0, 0.544, 1) in 300 rows", the imputed mean among them, and a column of 5s
    held 5 "in every row".  A column with no value is refused block by block too (it was
    fitted, exit 0, where the rows were read from disk; with this change alone, a numpy
    warning and an overflow error)."""
    rng = np.random.default_rng(0)
    n = 300
    a, b = rng.normal(size=n), rng.integers(0, 2, size=n).astype(float)
    b[rng.random(n) < 0.5] = np.nan
    c = np.where(rng.random(n) < 0.5, np.nan, 5.0)
    field = lambda v: "" if np.isnan(v) else f"{v:g}"  # noqa: E731
    d = rng.normal(size=n)
    (tmp_path / "f.csv").write_text("a,b,c,d\n" + "".join(
        f"{u:.17g},{field(v)},{field(w)},{z:.17g}\n" for u, v, w, z in zip(a, b, c, d)))
    (tmp_path / "e.csv").write_text("a,b,c\n" + "".join(
        f"{u:.17g},,{w:.17g}\n" for u, w in zip(a, rng.normal(size=n))))
    memory = [] if limit is None else ["--memory-limit", limit, "--cache-dir", "cache"]
    r = invoke_in(tmp_path, "fit", "f.csv", "-k", "2", "--seed", "0", "--missing", "em",
                  "--model", "m.json", *memory)
    assert r.exit_code == 0, r.stderr
    held = int((~np.isnan(b)).sum())
    assert (f"column 'b' takes only 2 values (0, 1) in the {held} rows that have a value "
            "(a class label or a category?)") in r.stderr
    assert "column 'c' holds one value (5) in every row that has one:" in r.stderr
    assert "0.5" not in r.stderr and "Warning" not in r.stderr
    r = invoke_in(tmp_path, "fit", "e.csv", "-k", "2", "--seed", "0", "--missing", "em",
                  *memory)
    assert (r.exit_code, r.stderr.strip()) == (1, (
        "Error: e.csv: column 'b' has no value in any row (every one is missing): there "
        "is nothing to fit it from; leave it out with --columns"))
    # --missing drop names the empty column as why no row is left, block by block too
    r = invoke_in(tmp_path, "fit", "e.csv", "-k", "2", "--missing", "drop", *memory)
    assert (r.exit_code, r.stderr.strip()) == (1, (
        f"Error: e.csv: every one of the {n} rows has a missing value (column 'b' has none "
        "at all; leave it out with --columns); no row is left"))
    if limit is not None:  # both files over the limit: their rows read block by block
        assert len(list((tmp_path / "cache").glob("*.npy"))) == 2
        assert min((tmp_path / name).stat().st_size for name in ("f.csv", "e.csv")) > 8192


def test_reg_covar_is_weighed_against_the_variance_of_the_values_held(tmp_path: Path
                                                                      ) -> None:
    """A column of spread 0.02 (variance 4e-4, which reg_covar 1e-6 does not swamp) with
    97% of its values missing: imputed at their mean, the column's variance over every
    row was 2.5e-5 and the screen said reg_covar swamped it.  One of spread 0.003 still
    is (9e-6)."""
    rng = np.random.default_rng(0)
    n = 400
    a = rng.normal(size=n)
    for spread, swamped in ((0.02, False), (0.003, True)):
        c = rng.normal(size=n) * spread
        c[rng.random(n) < 0.97] = np.nan
        (tmp_path / "s.csv").write_text("a,c\n" + "".join(
            f"{float(u)!r},{'' if np.isnan(v) else repr(float(v))}\n" for u, v in zip(a, c)))
        r = invoke_in(tmp_path, "fit", "s.csv", "-k", "2", "--seed", "0", "--missing", "em",
                      "--model", "m.json")
        assert r.exit_code == 0, r.stderr
        held = c[~np.isnan(c)]
        shown = f"column 'c' ({held.var():.3g})"
        assert (shown in r.stderr) is swamped, r.stderr
        assert ("reg_covar 1e-06 is more than 0.01 of the variance" in r.stderr) is swamped


def test_columns_never_observed_together_are_named(tmp_path: Path) -> None:
    """Two sources merged (one measured a, the other b): with --missing em the data say
    nothing of how a and b vary together, and a fitted covariance between them is EM's
    start's; a warning names them, except to a fit of a diagonal family, which has no
    such covariance (select, whose cells mix families, warns)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3))
    x[:50, 1] = np.nan
    x[50:, 0] = np.nan
    (tmp_path / "merged.csv").write_text("a,b,c\n" + "".join(
        ",".join("" if np.isnan(v) else f"{v:.6f}" for v in row) + "\n" for row in x))
    line = ("emgmm: warning: merged.csv: columns 'a' and 'b' hold values but never in the "
            "same row: the data say nothing of how they vary together, and a covariance "
            "between them is where EM's start left it; fit a diagonal family (-c diag), "
            "which has none")
    for command, stderr in ((["fit", "merged.csv", "-k", "2"], [line]),
                            (["fit", "merged.csv", "-k", "2", "-c", "VVI"], []),
                            (["select", "merged.csv", "-k", "1-2", "-c", "VVV,VVI"], [line])):
        r = invoke_in(tmp_path, *command, "--seed", "0", "--missing", "em")
        assert (r.exit_code, r.stderr.splitlines()) == (0, stderr), r.stderr
    fitted = emgmm_cli.fit(x, 2, seed=0, missing="em")
    assert [(f.kind, f.columns) for f in fitted.findings] == [("never-together", (0, 1))]
    x[0, 1] = 1.0  # one row with both: a finding no more
    assert emgmm_cli.fit(x, 2, seed=0, missing="em").findings == []


def test_pipeline_drop(tmp_path: Path) -> None:
    """A real process: select and batch read the option too; fit's labels go to a pipe."""
    x = _holed(_blobs(6, 90), 0.05, seed=2)
    lines = ["a,b,c"] + [",".join("NA" if np.isnan(v) else f"{v:.6f}" for v in row)
                         for row in x]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "d.csv").write_text("\n".join(lines) + "\n")
    run = lambda *a: subprocess.run([sys.executable, "-m", "emgmm_cli", *a],  # noqa: E731
                                    cwd=tmp_path, capture_output=True, text=True, check=False)
    fit = run("fit", "in/d.csv", "-k", "3", "--seed", "2", "--missing", "drop")
    assert fit.returncode == 0, fit.stderr
    labels = np.array(fit.stdout.split(), dtype=int)
    incomplete = np.isnan(x).any(axis=1)
    assert len(labels) == 90 and (labels[incomplete] == -1).all()
    assert (labels[~incomplete] >= 0).all()
    sel = run("select", "in/d.csv", "-k", "2-3", "-c", "full", "--seed", "1", "--n-init",
              "1", "--missing", "drop", "--model", "s.json")
    assert sel.returncode == 0, sel.stderr
    assert json.loads((tmp_path / "s.json").read_text())["n_dropped"] == incomplete.sum()
    batch = run("batch", "in", "-k", "3", "--seed", "2", "--missing", "drop",
                "--output-dir", "out")
    assert batch.returncode == 0, batch.stderr
    plain = run("fit", "in/d.csv", "-k", "3")
    assert plain.returncode == 1 and "in/d.csv:" in plain.stderr


# --------------------------------------------------------------------------- missing="em"


def _matched(a: np.ndarray, b: np.ndarray) -> float:
    """The largest difference between two sets of means, components matched."""
    import itertools

    return min(float(np.abs(a[list(p)] - b).max())
               for p in itertools.permutations(range(len(a))))


def _five_d(seed: int = 0, n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0] * 5, [6, 6, 0, 0, 6], [0, 6, 6, 6, 0]])
    return centres[np.arange(n) % 3] + rng.normal(size=(n, 5))


@pytest.mark.parametrize("family", ["full", "tied", "diag", "spherical"])
def test_em_without_missing_values_is_ordinary_em(family: str) -> None:
    x = _blobs(7, 150)
    a = emgmm_cli.fit(x, 3, seed=2, covariance_type=family)
    b = emgmm_cli.fit(x, 3, seed=2, covariance_type=family, missing="em")
    np.testing.assert_array_equal(a.means, b.means)
    np.testing.assert_array_equal(a.covariances, b.covariances)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.log_likelihood == b.log_likelihood and "n_incomplete" not in b.document


def test_em_is_the_closed_form_for_a_monotone_pattern() -> None:
    """One Gaussian, x0 always observed, x1 missing in 40% of the rows: the maximum-
    likelihood estimate has a closed form (Anderson 1957): x0's moments over every row,
    the regression of x1 on x0 over the complete ones."""
    rng = np.random.default_rng(3)
    x = rng.multivariate_normal([1, 2], [[2, 1.2], [1.2, 1.5]], size=200)
    holed = x.copy()
    gone = rng.random(200) < 0.4
    holed[gone, 1] = np.nan
    mu0, s00 = x[:, 0].mean(), x[:, 0].var()
    xc = x[~gone]
    mc = xc.mean(axis=0)
    beta = np.mean((xc[:, 0] - mc[0]) * (xc[:, 1] - mc[1])) / xc[:, 0].var()
    mu1 = mc[1] + beta * (mu0 - mc[0])
    s11 = xc[:, 1].var() - beta ** 2 * xc[:, 0].var() + beta ** 2 * s00
    cov = np.array([[s00, beta * s00], [beta * s00, s11]])
    for accelerate in ("none", "squarem"):
        f = emgmm_cli.fit(holed, 1, missing="em", reg_covar=0.0, tol=0.0, max_iter=2000,
                          accelerate=accelerate)
        np.testing.assert_allclose(f.means[0], [mu0, mu1], atol=1e-6)
        np.testing.assert_allclose(f.covariances[0], cov, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_em_with_a_fifth_of_the_values_missing(seed: int) -> None:
    """20% of the values removed at random (two rows in three incomplete): EM's means are
    within 0.15 of the complete-data fit's, and at most half as far as those of drop."""
    x = _five_d(seed)
    holed = _holed(x, 0.2, seed=seed + 10)
    assert np.isnan(holed).any(axis=1).mean() > 0.6
    complete = emgmm_cli.fit(x, 3, seed=1, tol=1e-8)
    em = emgmm_cli.fit(holed, 3, seed=1, tol=1e-8, missing="em")
    drop = emgmm_cli.fit(holed, 3, seed=1, tol=1e-8, missing="drop")
    assert _matched(complete.means, em.means) < 0.15
    assert _matched(complete.means, em.means) < 0.5 * _matched(complete.means, drop.means)
    assert em.document["n_incomplete"] == int(np.isnan(holed).any(axis=1).sum())
    assert (em.labels >= 0).all()
    np.testing.assert_allclose(em.responsibilities.sum(axis=1), 1.0)


def test_em_scores_the_marginal_density() -> None:
    from scipy.stats import multivariate_normal

    x = _five_d(4, 120)
    holed = _holed(x, 0.2, seed=3)
    holed[5] = np.nan  # nothing observed: left out, as --missing drop leaves rows out
    with pytest.warns(emgmm_cli.FitWarning, match="1 row with no value at all left out"):
        model = emgmm_cli.fit(holed, 3, seed=0, missing="em")
        scores = emgmm_cli.score(model, holed, missing="em")
        labels = emgmm_cli.predict(model, holed, missing="em")
        proba = emgmm_cli.predict(model, holed, missing="em", proba=True)
    for i in range(20):
        seen = ~np.isnan(holed[i])
        if not seen.any():
            assert np.isnan(scores.log_density[i]) and labels[i] == -1
            assert np.isnan(proba[i]).all()
            continue
        parts = [model.weights[k] * multivariate_normal(
            model.means[k][seen], model.covariances[k][np.ix_(seen, seen)]).pdf(holed[i][seen])
            for k in range(3)]
        np.testing.assert_allclose(scores.log_density[i], np.log(sum(parts)), rtol=1e-10)
        np.testing.assert_allclose(proba[i], np.array(parts) / sum(parts), atol=1e-12)
        assert labels[i] == int(np.argmax(parts))
    np.testing.assert_array_equal(labels, model.labels)
    assert scores.log_likelihood == pytest.approx(model.log_likelihood, rel=1e-12)


@pytest.mark.parametrize("weights", [(0.1, 0.2, 0.7), (1 / 3, 1 / 3, 1 / 3),
                                     (0.6435255093527715, 0.22895726222657026,
                                      0.12751722842065827)])
def test_a_row_with_nothing_observed_has_log_density_exactly_zero(weights) -> None:
    """Its density is that of no coordinate, 1, whatever the weights' sum rounds to (the
    first and last weights here sum to 1 but their logsumexp is -5.6e-17 and 1.1e-16)."""
    from emgmm_cli.engine.missing import missing_stats, part_missing, predict_rows
    from emgmm_cli.engine.params import MixtureParams

    params = MixtureParams.build(np.array(weights), np.array([[0.0, 0], [1, 1], [2, 2]]),
                                 np.stack([np.eye(2)] * 3), "full")
    x = np.array([[np.nan, np.nan], [0.5, np.nan], [np.nan, np.nan]])
    density = predict_rows(x, params).log_density
    assert density[0] == 0.0 and density[2] == 0.0 and density[1] < 0
    st = missing_stats(part_missing(x), params, False, None, None)
    assert st.loglik == density[1]


def _several_dimension_families() -> list[str]:
    from emgmm_cli.engine.families import FAMILIES

    return [name for name, fam in FAMILIES.items() if not fam.univariate]


@pytest.mark.parametrize("family", _several_dimension_families())
def test_em_every_family_and_hard_em(family: str) -> None:
    x = _five_d(5, 150)
    holed = _holed(x, 0.2, seed=6)
    complete = emgmm_cli.fit(x, 3, seed=1, covariance_type=family)
    for algorithm in ("soft", "hard") if family in ("full", "spherical") else ("soft",):
        em = emgmm_cli.fit(holed, 3, seed=1, covariance_type=family, missing="em",
                           algorithm=algorithm)
        assert _matched(complete.means, em.means) < 0.3
        assert (em.labels >= 0).all()


def test_cli_em(tmp_path: Path) -> None:
    x = _holed(_five_d(8, 90), 0.2, seed=1)
    lines = ["a,b,c,d,e"] + [",".join("" if np.isnan(v) else f"{v:.6f}" for v in row)
                             for row in x]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    r = invoke_in(tmp_path, "fit", "d.csv", "-k", "3", "--seed", "1", "--missing", "em",
                  "--labels", "l.csv", "--model", "m.json", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["n_incomplete"] == int(np.isnan(x).any(axis=1).sum())
    labels = (tmp_path / "l.csv").read_text().split()
    assert len(labels) == 90 and "-1" not in labels
    r = invoke_in(tmp_path, "predict", "m.json", "d.csv", "--missing", "em")
    assert r.exit_code == 0 and r.stdout.split() == labels
    r = invoke_in(tmp_path, "score", "m.json", "d.csv", "--missing", "em", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads((tmp_path / "m.json").read_text())
    assert json.loads(r.stdout)["log_likelihood"] == pytest.approx(doc["log_likelihood"])
    r = invoke_in(tmp_path, "fit", "d.csv", "-k", "3", "--missing", "em",
                  "--memory-limit", "1K")  # the incomplete rows alone are over it
    assert r.exit_code == 1 and "alone take more than the memory limit" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_pipeline_em(tmp_path: Path) -> None:
    x = _holed(_five_d(9, 90), 0.2, seed=2)
    lines = ["a,b,c,d,e"] + [",".join("NA" if np.isnan(v) else f"{v:.6f}" for v in row)
                             for row in x]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    fit = subprocess.run([sys.executable, "-m", "emgmm_cli", "fit", "d.csv", "-k", "3",
                          "--seed", "1", "--missing", "em", "--model", "m.json", "--labels", "-"],
                         cwd=tmp_path, capture_output=True, text=True, check=False)
    assert fit.returncode == 0, fit.stderr
    labels = fit.stdout.split()
    assert len(labels) == 90 and "-1" not in labels
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["n_incomplete"] == int(np.isnan(x).any(axis=1).sum())
    predict = subprocess.run([sys.executable, "-m", "emgmm_cli", "predict", "m.json", "-",
                              "--missing", "em"], input=(tmp_path / "d.csv").read_text(),
                             cwd=tmp_path, capture_output=True, text=True, check=False)
    assert predict.returncode == 0, predict.stderr
    assert predict.stdout.split() == labels


def test_select_in_worker_processes_with_missing_values(tmp_path: Path) -> None:
    """Worker processes open the rows with their missing values as the parent does."""
    x = _holed(_five_d(10, 90), 0.2, seed=4)
    np.save(tmp_path / "d.npy", x)
    runs = [invoke_in(tmp_path, "select", "d.npy", "-k", "2-3", "-c", "full,diag", "--seed",
                      "1", "--n-init", "1", "--missing", "em", "--jobs", jobs, "--model",
                      f"m{jobs}.json") for jobs in ("1", "2")]
    assert all(r.exit_code == 0 for r in runs), runs[1].stderr
    one, two = (json.loads((tmp_path / f"m{j}.json").read_text()) for j in ("1", "2"))
    assert one["means"] == two["means"] and one["n_components"] == 3
