"""The Python API (emgmm_cli.fit, select, predict, score, sample): the command line's own
use cases, so the same data and options give the same numbers either way."""

from __future__ import annotations

import copy
import io
import json
import pickle
import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import emgmm_cli
from emgmm_cli.cli.main import cli

DATA = Path(__file__).parent / "data"
FAITHFUL = DATA / "faithful.csv"


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)


def test_fit_an_array_a_frame_or_a_path_alike(x: np.ndarray) -> None:
    a = emgmm_cli.fit(x, 3, covariance_type="tied", seed=0)
    frame = emgmm_cli.fit(pd.read_csv(FAITHFUL), 3, covariance_type="tied", seed=0)
    path = emgmm_cli.fit(str(FAITHFUL), 3, covariance_type="tied", seed=0)
    for other in (frame, path):
        assert other.log_likelihood == a.log_likelihood
        np.testing.assert_array_equal(other.means, a.means)
        np.testing.assert_array_equal(other.labels, a.labels)
    assert frame.feature_names == path.feature_names == ["eruptions", "waiting"]
    assert a.feature_names == ["0", "1"] and a.source == "<array>"


def test_fit_result_holds_what_the_model_file_says(x: np.ndarray, tmp_path: Path) -> None:
    fit = emgmm_cli.fit(x, 2, covariance_type="diag", seed=3, n_init=2)
    assert fit.weights.shape == (2,) and fit.means.shape == (2, 2)
    assert fit.covariances.shape == (2, 2)
    assert fit.responsibilities.shape == (272, 2)
    np.testing.assert_allclose(fit.responsibilities.sum(axis=1), 1.0)
    np.testing.assert_array_equal(fit.labels, fit.responsibilities.argmax(axis=1))
    assert fit.bic == pytest.approx(-2 * fit.log_likelihood + 9 * np.log(272))
    assert fit.document["bic"] == fit.bic and fit.document["options"]["seed"] == 3
    assert fit.trace["iteration"] == list(range(1, fit.n_iter + 1))
    # the command line, with the same options, writes the same model
    model = tmp_path / "m.json"
    result = CliRunner().invoke(cli, ["fit", str(FAITHFUL), "-k", "2", "-c", "diag",
                                      "--seed", "3", "--n-init", "2", "--model", str(model)])
    assert result.exit_code == 0, result.output
    cli_doc = json.loads(model.read_text())
    for key in ("weights", "means", "covariances", "log_likelihood", "bic", "icl"):
        assert cli_doc[key] == json.loads(json.dumps(fit.document[key])), key


def test_predict_score_sample_on_a_fit_or_a_file(x: np.ndarray, tmp_path: Path) -> None:
    fit = emgmm_cli.fit(x, 3, seed=1)
    np.testing.assert_array_equal(emgmm_cli.predict(fit, x), fit.labels)
    np.testing.assert_allclose(emgmm_cli.predict(fit, x, proba=True), fit.responsibilities)
    scores = emgmm_cli.score(fit, x)
    assert scores.log_likelihood == pytest.approx(fit.log_likelihood, rel=1e-12)
    assert scores.log_density.shape == (272,)
    path = tmp_path / "m.json"
    path.write_text(json.dumps(fit.document))
    loaded = emgmm_cli.load_model(str(path))
    np.testing.assert_array_equal(emgmm_cli.predict(str(path), x), fit.labels)
    np.testing.assert_array_equal(emgmm_cli.predict(loaded, x), fit.labels)
    points, components = emgmm_cli.sample(fit, 500, seed=2)
    again, _ = emgmm_cli.sample(str(path), 500, seed=2)
    assert points.shape == (500, 2) and set(components) <= {0, 1, 2}
    np.testing.assert_array_equal(points, again)


def test_predict_keeps_known_labels_as_the_command_does(x: np.ndarray, tmp_path: Path) -> None:
    """predict --known-labels kept the known rows' components; the Python predict had no
    known_labels.  Now it has, with the command's result, and checks them as it does."""
    fit = emgmm_cli.fit(x, 3, seed=1)
    known = np.full(len(x), -1)
    known[:4] = (fit.labels[:4] + 1) % 3
    labels = emgmm_cli.predict(fit, x, known_labels=known)
    np.testing.assert_array_equal(labels[:4], known[:4])
    np.testing.assert_array_equal(labels[4:], fit.labels[4:])
    proba = emgmm_cli.predict(fit, x, known_labels=known, proba=True)
    np.testing.assert_array_equal(proba[:4].argmax(axis=1), known[:4])
    model, data, file = tmp_path / "m.json", tmp_path / "x.csv", tmp_path / "known.txt"
    model.write_text(json.dumps(fit.document))
    np.savetxt(data, x, delimiter=",", header="eruptions,waiting", comments="")
    np.savetxt(file, known, fmt="%d")
    result = CliRunner().invoke(cli, ["predict", str(model), str(data), "--known-labels",
                                      str(file)])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.loadtxt(io.StringIO(result.stdout)), labels)
    known[5] = 3
    with pytest.raises(emgmm_cli.DataError, match="3"):
        emgmm_cli.predict(fit, x, known_labels=known)


def test_select_picks_mclusts_model_on_faithful(x: np.ndarray) -> None:
    selected = emgmm_cli.select(x, range(1, 5), ["full", "tied"], seed=0)
    best = selected.best
    assert best is not None
    assert (best.document["covariance_type"], best.params.n_components) == ("tied", 3)
    assert best.log_likelihood == pytest.approx(-1126.3, abs=0.05)
    rows = selected.rows()
    assert len(rows) == 8 and sum(r["best"] for r in rows) == 1


def test_bad_input_and_options_raise_the_projects_errors(x: np.ndarray) -> None:
    with pytest.raises(emgmm_cli.DataError, match=r"column '1': missing value \(NaN\) in "
                                                  "row 0; give missing='drop' or missing='em'"):
        emgmm_cli.fit(np.array([[1.0, np.nan], [2.0, 3.0], [4.0, 5.0]]), 2)
    with pytest.raises(emgmm_cli.DataError, match="value inf in row 1 is not a finite number; "
                       "an infinite value is not a missing value"):
        emgmm_cli.fit(np.array([[1.0, 0.0], [2.0, np.inf], [4.0, 5.0]]), 2, missing="drop")
    # a value too large for the dtype asked for, told as it was (as a file's is), not as
    # the infinity it became
    with pytest.raises(emgmm_cli.DataError, match="column '1': value 1e\\+300 in row 1 is "
                                                  "out of range for float32"):
        emgmm_cli.fit(np.array([[1.0, 0.0], [2.0, 1e300], [4.0, 5.0]]), 2,
                      read=emgmm_cli.ReadOptions(dtype="float32"))
    with pytest.raises(emgmm_cli.DataError, match=r"column 'b': not a numeric column \(dtype "
                       r"\w+\); give read=ReadOptions\(columns=\.\.\.\) naming only numeric"):
        emgmm_cli.fit(pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "z"]}), 2)
    with pytest.raises(emgmm_cli.DataError, match="holds complex128 values, not real numbers"):
        emgmm_cli.fit(np.ones((3, 2), dtype=complex), 2)
    with pytest.raises(emgmm_cli.InvalidParameter, match="tol must be a finite number") as info:
        emgmm_cli.fit(x, 2, tol=float("nan"))
    assert info.value.option == "tol"
    with pytest.raises(emgmm_cli.EngineError, match="need at least 300 rows") as fail:
        emgmm_cli.fit(x, 300)
    assert fail.value.source == "<array>"


def test_importing_the_package_loads_nothing_heavy() -> None:
    code = ("import sys, emgmm_cli; emgmm_cli.__version__; "
            "print(sorted(m for m in ('numpy', 'pandas', 'scipy', 'rich', 'click') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_a_constant_column_is_refused_from_where_its_rounding_would_show(x: np.ndarray
                                                                         ) -> None:
    """The refusal's limit (engine.screening.ROUNDING_SHARE): a constant column at 2^33,
    where float64 counts in steps of 1.9e-6, above 1/1000 of sqrt(reg_covar) = 1e-3; at
    2^33 - 2^21 (steps of 9.5e-7) the fit runs, as it does with a larger reg_covar."""
    def with_column(value: float) -> np.ndarray:
        return np.c_[x, np.full(len(x), value)]

    with pytest.raises(emgmm_cli.EngineError, match="^<array>: column '2' holds one value, 8.59e"):
        emgmm_cli.fit(with_column(2.0**33), 2, seed=0)
    assert emgmm_cli.fit(with_column(2.0**33 - 2.0**21), 2, seed=0).converged
    assert emgmm_cli.fit(with_column(2.0**33), 2, seed=0, reg_covar=4e-6).converged


def test_numpy_numbers_are_taken_and_wrong_values_raise_value_errors(x: np.ndarray) -> None:
    """numpy's integers and floats stand for the numbers they hold (the model records
    plain JSON numbers); K = 0 is refused, not fitted as 1; a value of the wrong type or
    range raises InvalidParameter, which is a ValueError, naming the option."""
    import json

    fitted = emgmm_cli.fit(x, np.int64(2), seed=np.uint32(3), n_init=np.int32(1),
                           tol=np.float32(1e-4))
    options = json.loads(json.dumps(fitted.document))["options"]
    assert (fitted.params.n_components, options["seed"], options["n_init"]) == (2, 3, 1)
    assert options["tol"] == float(np.float32(1e-4))
    for bad, option in ((dict(n_components=0), "n_components"),
                        (dict(n_components="2"), "n_components"),
                        (dict(n_components=2, covariance_type="fulll"), "covariance_type"),
                        (dict(n_components=2, seed=np.bool_(True)), "seed")):
        with pytest.raises(ValueError) as info:
            emgmm_cli.fit(x, **bad)
        assert isinstance(info.value, emgmm_cli.InvalidParameter)
        assert info.value.option == option
    selected = emgmm_cli.select(x, np.arange(1, 3), "full, VII", seed=0)
    assert [(c.cell.covariance_type, c.cell.n_components) for c in selected.cells] == [
        ("full", 1), ("full", 2), ("spherical", 1), ("spherical", 2)]
    for ks, families in (([1, 2.5], ["full"]), ([True], ["full"]), ([2], ["box"])):
        with pytest.raises(emgmm_cli.InvalidParameter):
            emgmm_cli.select(x, ks, families)  # type: ignore[arg-type]


def test_sample_takes_numpy_numbers_and_refuses_what_is_no_count(x: np.ndarray) -> None:
    fitted = emgmm_cli.fit(x, 2, seed=0)
    points, components = emgmm_cli.sample(fitted, np.int64(3), seed=np.uint8(4))
    again, _ = emgmm_cli.sample(fitted, 3, seed=4)
    assert points.shape == (3, 2) and components.shape == (3,)
    np.testing.assert_array_equal(points, again)
    for n, seed, option in ((-1, None, "n"), (2.5, None, "n"), (True, None, "n"),
                            (2**63, None, "n"), (3, -1, "seed")):
        with pytest.raises(emgmm_cli.InvalidParameter) as info:
            emgmm_cli.sample(fitted, n, seed=seed)  # type: ignore[arg-type]
        assert info.value.option == option
    with pytest.raises(emgmm_cli.DataError, match="has 1 column but the model has 2$"):
        emgmm_cli.predict(fitted, x[:, :1])


@pytest.mark.parametrize("point", [np.array([0.5, 1.0]), [0.5, 1.0]])
def test_one_point_given_as_a_vector_is_told_how_to_give_it(x: np.ndarray, point: Any
                                                             ) -> None:
    """A vector is a column of values, as a one-column file is; one point of the model's
    D coordinates given as a vector (as scikit-learn also refuses) is told the shape."""
    fitted = emgmm_cli.fit(x, 2, seed=0)
    with pytest.raises(emgmm_cli.DataError) as info:
        emgmm_cli.predict(fitted, point)
    assert str(info.value).endswith(
        "has 1 column but the model has 2; a point of 2 coordinates is one row, shape "
        "(1, 2): give [point] or point.reshape(1, -1)")
    assert emgmm_cli.predict(fitted, [point]).shape == (1,)


def test_a_frames_repeated_column_names_are_read_as_a_files(x: np.ndarray) -> None:
    """A DataFrame with a repeated column name ended in numpy's "operands could not be
    broadcast" (frame[names] takes every column of a repeated name): its columns are now
    taken by position and named as the readers name a header's repeats (a, a.1)."""
    frame = pd.DataFrame(np.c_[x, x[:, 1] * 2.0], columns=["a", "b", "a"])
    fitted = emgmm_cli.fit(frame, 2, seed=0)
    assert fitted.feature_names == ["a", "b", "a.1"]
    assert fitted.log_likelihood == emgmm_cli.fit(np.c_[x, x[:, 1] * 2.0], 2,
                                                  seed=0).log_likelihood
    chosen = emgmm_cli.fit(frame, 2, seed=0, read=emgmm_cli.ReadOptions(columns=("a.1",)))
    assert chosen.feature_names == ["a.1"]
    assert chosen.log_likelihood == emgmm_cli.fit(x[:, 1] * 2.0, 2, seed=0).log_likelihood
    from emgmm_cli.app.data import as_points

    assert as_points(frame).notes == ("the DataFrame repeats the column name 'a'; the "
                                      "columns are read as 'a' and 'a.1'",)


@pytest.mark.parametrize("data", [None, 3.0, {"a": [1.0, 2.0]}])
def test_what_is_no_array_of_points_is_named(data: Any) -> None:
    with pytest.raises(emgmm_cli.DataError) as info:
        emgmm_cli.fit(data, 1)
    assert str(info.value) == ("<array>: expected a path, an N x D array or a DataFrame of "
                               f"points, got {type(data).__name__}")


def test_select_takes_all_as_the_command_line_does(x: np.ndarray) -> None:
    """One string of families is read as -c reads it: "all" is every family mclust
    searches for the data's dimension, as no family named."""
    every = emgmm_cli.select(x, [1], None, seed=0)
    named = emgmm_cli.select(x, [1], " all ", seed=0)
    assert [c.cell for c in named.cells] == [c.cell for c in every.cells]
    assert len(named.cells) == 14


def test_predict_and_score_take_a_frames_columns_by_name(x: np.ndarray, tmp_path: Path
                                                         ) -> None:
    """As the command line reads a file's header: a DataFrame (or a file) whose columns
    hold the model's names, in another order or among others, is read by name.  Columns
    in another order were taken by position (other labels, exit 0), and an extra column
    made the data refused."""
    frame = pd.read_csv(FAITHFUL)
    fitted = emgmm_cli.fit(frame, 3, seed=0)
    labels = emgmm_cli.predict(fitted, frame)
    shuffled = frame.assign(note=1.0)[["waiting", "note", "eruptions"]]
    shuffled.to_csv(tmp_path / "shuffled.csv", index=False)
    for data in (frame[["waiting", "eruptions"]], shuffled, str(tmp_path / "shuffled.csv")):
        np.testing.assert_array_equal(emgmm_cli.predict(fitted, data), labels)
        assert emgmm_cli.score(fitted, data).log_likelihood == pytest.approx(
            fitted.log_likelihood, rel=1e-12)
    # the model's names asked for in another order: by name too
    asked = emgmm_cli.ReadOptions(columns=["waiting", "eruptions"])
    for data in (frame, shuffled, str(tmp_path / "shuffled.csv")):
        np.testing.assert_array_equal(emgmm_cli.predict(fitted, data, read=asked), labels)
    # names that are not the model's: every column, in order, as before
    renamed = frame.rename(columns={"eruptions": "a", "waiting": "b"})
    np.testing.assert_array_equal(emgmm_cli.predict(fitted, renamed), labels)
    np.testing.assert_array_equal(emgmm_cli.predict(fitted, x), labels)


def test_names_of_digits_take_columns_by_name(tmp_path: Path) -> None:
    """A model whose feature names are digits (years, 2019: not the 0, 1, ... of unnamed
    columns) took the data's columns by position, whatever their names: a frame or file
    of its columns in another order was labelled by the wrong coordinates (no label
    agreed, exit 0, no warning).  They are taken by name, as other names are; where the
    data lack one (a digit name would select by index), every column, with a warning."""
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal([0, 0, 8], 1, (100, 3)), rng.normal([8, 0, 0], 1, (100, 3))]
    for columns in ([2019, 2020, 2021], ["a", "b", "1"]):
        frame = pd.DataFrame(x, columns=columns)
        fitted = emgmm_cli.fit(frame, 2, seed=0)
        reversed_ = frame[columns[::-1]]
        reversed_.to_csv(tmp_path / "reversed.csv", index=False)
        for data in (reversed_, str(tmp_path / "reversed.csv")):
            np.testing.assert_array_equal(
                emgmm_cli.predict(fitted, data, read=emgmm_cli.ReadOptions(header=True)),
                fitted.labels)
    with pytest.warns(emgmm_cli.FitWarning, match=r"the columns \(a, b, z\) are not the "
                                                 r"model's \(a, b, 1\); using all columns"):
        labels = emgmm_cli.predict(fitted, pd.DataFrame(x, columns=["a", "b", "z"]))
    np.testing.assert_array_equal(labels, fitted.labels)


def test_columns_without_names_are_taken_in_order_whatever_the_models_names(
        tmp_path: Path) -> None:
    """Data without names of their own (an array, a file without a header) are taken in
    order: a model fitted on columns 1, 0 (feature names "1", "0") reordered such data,
    already in its order, to 0, 1 (261 of 450 labels off, exit 0).  A frame's labels are
    its names, the 0, 1, 2 of a model of unnamed columns too: the frame's columns 2, 0, 1
    were taken in order (251 off, no warning)."""
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal([0, 0, 8], 1, (150, 3)), rng.normal([8, 0, 0], 1, (150, 3)),
              rng.normal([0, 8, 0], 1, (150, 3))]
    by_index = emgmm_cli.fit(x, 3, seed=0, read=emgmm_cli.ReadOptions(columns=["1", "0"]))
    assert by_index.feature_names == ["1", "0"]
    np.savetxt(tmp_path / "two.csv", x[:, [1, 0]], delimiter=",")
    for data in (x[:, [1, 0]], str(tmp_path / "two.csv")):
        np.testing.assert_array_equal(emgmm_cli.predict(by_index, data), by_index.labels)
    with pytest.raises(emgmm_cli.DataError, match="has 3 columns but the model has 2"):
        emgmm_cli.predict(by_index, x)  # every column, in order: asked for by index
    np.testing.assert_array_equal(
        emgmm_cli.predict(by_index, x, read=emgmm_cli.ReadOptions(columns=["1", "0"])),
        by_index.labels)
    unnamed = emgmm_cli.fit(pd.DataFrame(x), 3, seed=0)
    assert unnamed.feature_names == ["0", "1", "2"]
    for data in (pd.DataFrame(x)[[2, 0, 1]], pd.DataFrame(x), x):
        np.testing.assert_array_equal(emgmm_cli.predict(unnamed, data), unnamed.labels)


def test_a_name_with_a_control_character_is_found_by_the_models_name(tmp_path: Path
                                                                     ) -> None:
    """A column named "a" ESC is kept, and shown, as 'a\\x1b' (errors.printable); asked
    for by that name it was not found, so its own fit's columns in another order were
    taken in order (176 of 450 labels off) with a warning naming identical columns."""
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal([0, 0, 8], 1, (150, 3)), rng.normal([8, 0, 0], 1, (150, 3)),
              rng.normal([0, 8, 0], 1, (150, 3))]
    frame = pd.DataFrame(x, columns=["a\x1b", "b", "c"])
    fitted = emgmm_cli.fit(frame, 3, seed=0)
    assert fitted.feature_names == ["a\\x1b", "b", "c"]
    reordered = frame[["c", "b", "a\x1b"]]
    reordered.to_csv(tmp_path / "reordered.csv", index=False)
    for data in (reordered, str(tmp_path / "reordered.csv")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            np.testing.assert_array_equal(emgmm_cli.predict(fitted, data), fitted.labels)


def test_names_with_spaces_around_them_are_the_frames_own(tmp_path: Path) -> None:
    """A DataFrame's (or a Parquet file's) column "height " is its name, spaces and all
    (a text header's names are stripped): columns asked for were stripped before they
    were looked up, so the fit's own frame could not be labelled by it ("no such
    column 'height'"), nor that column be asked for."""
    frame = pd.read_csv(FAITHFUL).rename(columns={"eruptions": "eruptions "})
    fitted = emgmm_cli.fit(frame, 2, seed=0)
    assert fitted.feature_names == ["eruptions ", "waiting"]
    frame.to_parquet(tmp_path / "f.parquet")
    for data in (frame, frame[["waiting", "eruptions "]], str(tmp_path / "f.parquet")):
        np.testing.assert_array_equal(emgmm_cli.predict(fitted, data), fitted.labels)
    one = emgmm_cli.fit(frame, 2, seed=0, read=emgmm_cli.ReadOptions(columns=["eruptions "]))
    assert one.feature_names == ["eruptions "]
    # spaces around a name that no column has are still dropped ("a, b" on the command line)
    two = emgmm_cli.fit(frame, 2, seed=0, read=emgmm_cli.ReadOptions(columns=[" waiting"]))
    assert two.feature_names == ["waiting"]


def test_a_masked_arrays_masked_entries_are_missing_values(x: np.ndarray) -> None:
    """np.asarray reads the values under a mask: a fit of a masked array used them (exit
    0).  Masked entries are missing values now, refused or dropped or fitted as
    missing= says."""
    masked = np.ma.masked_array(x, mask=x > 90)
    rows = int((x > 90).any(axis=1).sum())
    with pytest.raises(emgmm_cli.DataError, match="missing value"):
        emgmm_cli.fit(masked, 2, seed=0)
    dropped = emgmm_cli.fit(masked, 2, seed=0, missing="drop")
    plain = emgmm_cli.fit(x[~(x > 90).any(axis=1)], 2, seed=0)
    assert dropped.document["n_dropped"] == rows
    assert dropped.log_likelihood == pytest.approx(plain.log_likelihood, rel=1e-12)
    assert emgmm_cli.fit(masked, 2, seed=0, missing="em").document["n_incomplete"] == rows
    unmasked = emgmm_cli.fit(np.ma.masked_array(x, mask=False), 2, seed=0)
    assert unmasked.log_likelihood == emgmm_cli.fit(x, 2, seed=0).log_likelihood


def test_weights_labels_and_models_of_the_wrong_kind_are_named(x: np.ndarray) -> None:
    """Text among the sample weights or known labels ended in numpy's "could not convert
    string to float" (an internal ValueError), and None or a dict given as the model was
    "None: model file not found"; each now says what it got."""
    weights: list[Any] = [1.0] * len(x)
    weights[3] = "heavy"
    with pytest.raises(emgmm_cli.DataError) as info:
        emgmm_cli.fit(x, 2, sample_weights=weights)
    assert str(info.value) == ("<sample_weights>: weight 'heavy' of row 3 (counting from 0) "
                               "is text, not a number")
    labels = np.array([-1] * len(x), dtype=object)
    labels[7] = "b"
    with pytest.raises(emgmm_cli.DataError) as info:
        emgmm_cli.fit(x, 2, known_labels=labels)
    assert str(info.value) == ("<known_labels>: known label 'b' of row 7 (counting from 0) "
                               "is text, not a number")
    fitted = emgmm_cli.fit(x, 2, seed=0)
    for call in (emgmm_cli.predict, emgmm_cli.score):  # read options of the wrong kind
        with pytest.raises(TypeError, match="read must be an emgmm_cli.ReadOptions"):
            call(fitted, x, read={})  # type: ignore[arg-type]
    for model in (None, {"weights": [1.0]}, 3):  # an argument of the wrong kind
        with pytest.raises(TypeError) as problem:
            emgmm_cli.predict(model, x)
        assert str(problem.value) == (
            "expected a model: the path of a model file, emgmm_cli.fit's result or a loaded "
            f"model, got {type(model).__name__}")


def test_options_are_checked_before_the_data_are_read(tmp_path: Path) -> None:
    """A misspelt option was FitOptions' own TypeError, and a bad value was found only
    after the data were read (a missing file was said first); both now come first, the
    misspelt one naming the options there are."""
    missing = str(tmp_path / "none.csv")
    for name, call in (("fit", emgmm_cli.fit), ("select", emgmm_cli.select)):
        args: tuple[Any, ...] = (2,) if name == "fit" else ([1, 2], "VVV")
        with pytest.raises(TypeError) as typo:
            call(missing, *args, n_int=3)
        assert str(typo.value).startswith(
            f"{name}() got an unexpected keyword argument 'n_int' (did you mean 'n_init'?); "
            "its options are " + ("covariance_type, init, means_init, " if name == "fit"
                                  else "init, ") + "n_init, tol,")
        with pytest.raises(emgmm_cli.InvalidParameter) as bad:
            call(missing, *args, tol=-1)
        assert "tol must be a finite number >= 0, got -1" in str(bad.value)


def test_read_options_take_a_size_and_refuse_a_dtype_that_is_no_float(tmp_path: Path,
                                                                        x: np.ndarray
                                                                        ) -> None:
    """ReadOptions(memory_limit="1K") ended in int()'s ValueError and dtype="int8" in
    "dtype must be a floating type" (internal ValueErrors), memory_limit=-1 was taken:
    a size reads as --memory-limit reads it, the rest (and a header that is no bool,
    which was taken as true) are InvalidParameters naming the option, as python.md says
    of every option out of range (they were UsageProblems naming the command line's flag,
    so `except emgmm_cli.InvalidParameter` missed them)."""
    assert emgmm_cli.ReadOptions(memory_limit="1K").memory_limit == 1024
    np.save(tmp_path / "x.npy", x)
    by_blocks = emgmm_cli.fit(str(tmp_path / "x.npy"), 2, seed=0,
                              read=emgmm_cli.ReadOptions(memory_limit="1K"))
    assert by_blocks.log_likelihood == pytest.approx(emgmm_cli.fit(x, 2, seed=0)
                                                     .log_likelihood, rel=1e-12)
    for options, message in (({"dtype": "int8"}, "dtype must be one of float64, float32, "
                                                  "got 'int8'"),
                             ({"header": "yes"}, "header must be True, False or None (detect "
                                                 "it), got 'yes'"),
                             ({"memory_limit": -1}, "memory_limit must be a number of bytes "
                                                    ">= 1 or a size such as '512M', got -1"),
                             ({"memory_limit": "lots"}, "memory_limit must be a number of "
                                                        "bytes >= 1 or a size such as '512M', "
                                                        "got 'lots'")):
        with pytest.raises(emgmm_cli.InvalidParameter) as info:
            emgmm_cli.ReadOptions(**options)
        assert str(info.value) == message and info.value.option == next(iter(options))
    with pytest.raises(emgmm_cli.InvalidParameter) as info:
        emgmm_cli.fit(x, 2, missing="skip")
    assert info.value.option == "missing"


def test_a_fit_keeps_its_own_rows_whatever_the_caller_writes_after(x: np.ndarray) -> None:
    expected = emgmm_cli.fit(x, 3, seed=0).labels
    given = x.copy()
    column = np.ascontiguousarray(x[:, 1])
    frame = pd.DataFrame(x.copy(), columns=["eruptions", "waiting"])
    fits = [emgmm_cli.fit(given, 3, seed=0), emgmm_cli.fit(column, 3, seed=0),
            emgmm_cli.fit(frame, 3, seed=0)]
    before = emgmm_cli.fit(x[:, 1].copy(), 3, seed=0).labels
    given[:] = 0.0
    column[:] = 0.0
    frame.loc[:, :] = 0.0
    np.testing.assert_array_equal(fits[0].labels, expected)  # computed when first asked
    np.testing.assert_array_equal(fits[1].labels, before)
    np.testing.assert_array_equal(fits[2].labels, expected)


@pytest.mark.parametrize("columns, message", [
    ([], "no columns selected; name at least one column"),
    (["0", "0"], "column '0': column selected more than once"),
    (["2"], "column '2': column index 2 is out of range"),
])
def test_an_array_or_a_frame_refuses_the_columns_a_file_refuses(
        x: np.ndarray, tmp_path: Path, columns: list[str], message: str) -> None:
    path = tmp_path / "faithful.csv"
    path.write_text(FAITHFUL.read_text())
    for data in (x, pd.read_csv(FAITHFUL), str(path)):
        with pytest.raises(emgmm_cli.DataError, match=message):
            emgmm_cli.fit(data, 2, read=emgmm_cli.ReadOptions(columns=columns))


def test_a_frames_columns_are_chosen_by_name_or_index_as_a_files(x: np.ndarray) -> None:
    read = emgmm_cli.ReadOptions(columns=["1", "eruptions"])
    frame = emgmm_cli.fit(pd.read_csv(FAITHFUL), 2, seed=0, read=read)
    path = emgmm_cli.fit(str(FAITHFUL), 2, seed=0, read=read)
    assert frame.feature_names == path.feature_names == ["waiting", "eruptions"]
    np.testing.assert_array_equal(frame.means, path.means)


def test_select_refuses_fits_covariance_type_naming_its_own(x: np.ndarray) -> None:
    """select(covariance_type="diag") fitted all 14 families without a word: the option
    was taken for the template's, which every cell replaces with its own family."""
    with pytest.raises(TypeError) as typo:
        emgmm_cli.select(x, [1, 2], covariance_type="diag", seed=0)
    assert str(typo.value).startswith("select() got an unexpected keyword argument "
                                      "'covariance_type' (did you mean 'covariance_types'?)")
    with pytest.raises(TypeError, match=r"'critrion' \(did you mean 'criterion'\?\)"):
        emgmm_cli.select(x, [1, 2], "diag", critrion="aic")
    with pytest.raises(TypeError, match=r"'standardise' \(did you mean 'standardize'\?\)"):
        emgmm_cli.fit(x, 2, standardise=True)


@pytest.mark.parametrize("option, value", [("init_model", "model.json"),
                                           ("means_init", "means.csv")])
def test_select_refuses_a_start_that_no_cell_would_use(x: np.ndarray, option: str,
                                                       value: str) -> None:
    with pytest.raises(TypeError, match=f"select\\(\\) got an unexpected keyword argument "
                                        f"'{option}'; its options are init, n_init"):
        options: dict[str, Any] = {option: value}
        emgmm_cli.select(x, [1, 2], ["full"], seed=0, **options)
    with pytest.raises(emgmm_cli.InvalidParameter, match="init 'means-init' starts from given "
                                                         "means, which no cell") as caught:
        emgmm_cli.select(x, [1, 2], ["full"], init="means-init")
    assert caught.value.option == "init"


@pytest.mark.parametrize("seed", ["1", 1.0, True, -1, 2**60])
def test_select_checks_its_seed_as_fit_does(x: np.ndarray, seed: Any) -> None:
    calls: list[tuple[Any, Any]] = [(emgmm_cli.fit, 2), (emgmm_cli.select, [2])]
    for call, k in calls:
        with pytest.raises(emgmm_cli.InvalidParameter,
                           match=f"seed must be an integer from 0 to {2**53 - 1} or null, got"
                           ) as caught:
            call(x, k, seed=seed)
        assert caught.value.option == "seed"
    assert emgmm_cli.select(x, [2], ["full"], seed=np.int64(3)).best is not None


def test_an_option_given_an_array_is_told_on_one_line(x: np.ndarray) -> None:
    with pytest.raises(emgmm_cli.InvalidParameter) as caught:
        emgmm_cli.fit(x, 2, tol=np.ones((4, 4)))
    message = str(caught.value)
    assert "\n" not in message and len(message) < 120
    assert message.startswith("tol must be a finite number >= 0, got array([[1., 1., 1., 1.],")


@pytest.mark.parametrize("data", [[[1.0, 2.0], [3.0]], [[1.0, [2.0, 3.0]], [3.0, 4.0]]])
def test_rows_of_unequal_lengths_are_a_data_error(x: np.ndarray, data: Any) -> None:
    with pytest.raises(emgmm_cli.DataError, match="<array>: the list is no N x D array: its "
                                                  "rows are not all of one length of numbers"):
        emgmm_cli.fit(data, 1)
    with pytest.raises(emgmm_cli.DataError, match="the list is no N x D array"):
        emgmm_cli.predict(emgmm_cli.fit(x, 2, seed=0), data)


@pytest.mark.parametrize("means, message", [
    ([["a", "b"], ["c", "d"]], "means_init must be a 2 x 2 \\(K x D\\) array of numbers; the "
                               "list given is not one"),
    ([[1.0, 2.0], [3.0]], "means_init must be a 2 x 2 \\(K x D\\) array of numbers"),
    ([[1.0, 2.0], [1.0, 2.0]], "rows 0 and 1 of means_init are identical"),
    ([[1.0, np.nan], [1.0, 2.0]], "means_init contains NaN or infinite values"),
    (5.0, "expected 2 x 2 \\(K x D\\) means_init, not one number"),
])
def test_means_init_that_is_no_array_of_numbers_is_an_invalid_parameter(
        x: np.ndarray, means: Any, message: str) -> None:
    with pytest.raises(emgmm_cli.InvalidParameter, match=message) as raised:
        emgmm_cli.fit(x, 2, means_init=means)
    assert raised.value.option == "means_init"  # named, as every option's error names it


def test_numbers_written_as_text_are_refused_beside_the_data_as_in_it(x: np.ndarray) -> None:
    """Data of text are refused, but sample weights, known labels and starting means of
    text such as "2" were read as the numbers they spell, without a word."""
    n = len(x)
    with pytest.raises(emgmm_cli.DataError, match="^<sample_weights>: weight '2' of row 0 "
                                                  r"\(counting from 0\) is text, not a number$"):
        emgmm_cli.fit(x, 2, sample_weights=np.array(["2"] * n))
    with pytest.raises(emgmm_cli.DataError, match="^<sample_weights>: weight 'x' of row 5 "):
        emgmm_cli.fit(x, 2, sample_weights=pd.Series([1.0] * 5 + ["x"] * (n - 5)))
    with pytest.raises(emgmm_cli.DataError, match="^<known_labels>: known label '0' of row 0"):
        emgmm_cli.fit(x, 2, known_labels=["0"] * n)
    with pytest.raises(emgmm_cli.InvalidParameter, match="^means_init must be numbers, not "
                                                         "text such as '3.6'$") as raised:
        emgmm_cli.fit(x, 2, means_init=pd.DataFrame(x[[0, 100]]).astype(str))
    assert raised.value.option == "means_init"
    with pytest.raises(emgmm_cli.InvalidParameter, match="text such as '1'$"):  # not '0.0'
        emgmm_cli.fit(x, 2, means_init=[[0.0, "1"], [6, 60]])
    # numbers are numbers, whatever holds them
    weighed = emgmm_cli.fit(x, 2, seed=0, sample_weights=[2] * n).log_likelihood
    assert weighed == pytest.approx(2 * emgmm_cli.fit(x, 2, seed=0).log_likelihood, rel=1e-9)


def test_starting_means_in_a_frame_are_taken_by_name_as_from_a_file(x: np.ndarray,
                                                                    tmp_path: Path) -> None:
    """A DataFrame of starting means with the data's columns in another order was taken
    by position (each mean's coordinates swapped: a fit from elsewhere, or an error about
    a mean near no data point), where a file with that header is taken by name."""
    data = pd.DataFrame(x, columns=["eruptions", "waiting"])
    start = data.iloc[[0, 100, 200]][["waiting", "eruptions"]]  # the other order
    start.to_csv(tmp_path / "start.csv", index=False)
    frozen: dict[str, Any] = {"freeze": "means", "order": "none", "max_iter": 5}
    by_frame = emgmm_cli.fit(data, 3, means_init=start, **frozen)
    by_file = emgmm_cli.fit(data, 3, means_init=str(tmp_path / "start.csv"), **frozen)
    np.testing.assert_array_equal(by_frame.means, x[[0, 100, 200]])
    np.testing.assert_array_equal(by_file.means, by_frame.means)
    assert by_frame.log_likelihood == by_file.log_likelihood
    # columns that do not name the data's are taken by position, as a file's are: here
    # (waiting, eruptions) read as (eruptions, waiting), far from every point
    with pytest.raises(emgmm_cli.InvalidParameter, match="initial mean 0 is the nearest to "
                                                         "no data point"):
        emgmm_cli.fit(data, 3, means_init=start.set_axis(["a", "b"], axis=1), **frozen)


def test_select_says_what_covariance_types_it_takes(x: np.ndarray) -> None:
    with pytest.raises(TypeError) as raised:  # was: 'int' object is not iterable
        emgmm_cli.select(x, [1], 3)  # type: ignore[arg-type]
    assert str(raised.value) == ("covariance_types must be a list of covariance types or one "
                                 "string such as 'full' or 'VVV,EEE', not 3")


def test_wrong_kinds_of_arguments_are_told_as_python_tells_them(tmp_path: Path) -> None:
    """init_model given as a pathlib.Path was refused ('must be a string or null') where
    the data and means_init take one; read given as a dict ended in an AttributeError
    from inside, and select(x, 3) in "'int' object is not iterable"."""
    x = np.random.default_rng(0).normal(size=(60, 2))
    model = tmp_path / "m.json"
    model.write_text(json.dumps(emgmm_cli.fit(x, 2, seed=0).document))
    continued = emgmm_cli.fit(x, init_model=model, seed=0)
    assert continued.document["options"]["init_model"] == str(model)
    with pytest.raises(TypeError, match="read must be an emgmm_cli.ReadOptions"):
        emgmm_cli.fit(x, 2, read={"columns": ["0"]})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"components must be numbers of components to try"):
        emgmm_cli.select(x, 3)  # type: ignore[arg-type]
    # ReadOptions(columns=5) ended in "'int' object is not iterable"
    with pytest.raises(TypeError, match=r"^columns must be a list of column names or 0-based "
                                        r"indices, or one string such as 'a,b', not 5$"):
        emgmm_cli.ReadOptions(columns=5)  # type: ignore[arg-type]
    # select(x, None): "'NoneType' object is not iterable"; load_model(None): "expected
    # str, bytes or os.PathLike object"
    with pytest.raises(TypeError, match=r"components must be numbers of components to try"):
        emgmm_cli.select(x, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^load_model takes the path of a model file, not "
                                        r"None$"):
        emgmm_cli.load_model(None)  # type: ignore[arg-type]


def test_a_criterion_is_taken_in_any_case_and_checked_before_the_data_are_read(
        tmp_path: Path) -> None:
    """criterion="ICL" was refused where covariance names are taken in any case, and a
    misspelt one only once the data were read ("<array>: unknown criterion"; a large file
    read first); now checked first, an InvalidParameter of option criterion, as on the
    command line (--criterion ICL)."""
    x = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    assert emgmm_cli.select(x, [1, 2], ["full"], criterion="ICL",
                            seed=0).selection.criterion == "icl"
    with pytest.raises(emgmm_cli.InvalidParameter, match="^unknown criterion 'bci'; choose "
                                                         "one of bic, aic, icl$") as bad:
        emgmm_cli.select(str(tmp_path / "absent.csv"), [1], criterion="bci")
    assert bad.value.option == "criterion"
    result = CliRunner().invoke(cli, ["select", str(FAITHFUL), "-k", "1-2", "-c", "VVV",
                                      "--criterion", "ICL", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["criterion"] == "icl"


def test_a_fit_and_a_selection_print_as_one_line() -> None:
    """repr(fit) and repr(selected) ran to thousands of characters (every parameter, trace
    row and cell): a line each now, what a session at the prompt wants to see."""
    fitted = emgmm_cli.fit(str(FAITHFUL), 2, seed=0)
    assert repr(fitted) == (
        f"Fitted(source={str(FAITHFUL)!r}, n_components=2, covariance_type='full', "
        f"n_samples=272, log_likelihood={fitted.log_likelihood:.6g}, "
        f"bic={fitted.bic:.6g}, converged=True)")
    selected = emgmm_cli.select(str(FAITHFUL), [1, 2], ["full"], seed=0)
    assert repr(selected) == (f"Selected(source={str(FAITHFUL)!r}, cells=2, "
                              "criterion='bic', best='full K=2', seed=0)")


def test_results_are_equal_to_themselves_alone(x: np.ndarray, tmp_path: Path) -> None:
    """fit == fit (the same call twice), a Scores against another, `fit in [other]`:
    the generated comparison of their arrays raised numpy's "truth value of an array is
    ambiguous".  Every result compares as the object it is, and can be hashed."""
    first, second = emgmm_cli.fit(x, 2, seed=0), emgmm_cli.fit(x, 2, seed=0)
    (tmp_path / "m.json").write_text(json.dumps(first.document))
    loaded = emgmm_cli.load_model(str(tmp_path / "m.json"))
    selected = emgmm_cli.select(x, [1, 2], ["full"], seed=0)
    pairs = [(first, second), (emgmm_cli.score(first, x), emgmm_cli.score(second, x)),
             (loaded, emgmm_cli.load_model(str(tmp_path / "m.json"))),
             (selected, emgmm_cli.select(x, [1, 2], ["full"], seed=0)),
             (first.result, second.result), (first.result.params, second.result.params),
             (selected.selection, selected.selection.cells[0]),
             (emgmm_cli.fit(x, 2, seed=0, standardize=True).transform,
              emgmm_cli.fit(x, 2, seed=0, standardize=True).transform)]
    for one, other in pairs:
        assert one == one and one != other and one not in [other] and one in [other, one]
        assert len({one, other, one}) == 2


def test_a_fits_parameters_cannot_be_edited_behind_its_back(x: np.ndarray, tmp_path: Path
                                                            ) -> None:
    """fit.means[0] = ... changed the fit's means, but not its precision factors, its
    document or what predict and score then use: the parameters are views numpy refuses
    to write into; a copy is the caller's to change.  fit.params.means[0] = ... did so
    still: the engine's parameters a fit or a loaded model holds are read-only too."""
    fitted = emgmm_cli.fit(x, 2, seed=0)
    for name in ("weights", "means", "covariances"):
        values = getattr(fitted, name)
        with pytest.raises(ValueError, match="read-only"):
            values[...] = 0.0
        mine = values.copy()
        mine[...] = 0.0
        assert getattr(fitted, name).any()
    np.testing.assert_array_equal(fitted.means, fitted.document["means"])
    # nor through the engine's parameters it holds (fit.params, docs/python.md's own
    # example), a loaded model's, or the labels and responsibilities computed once
    (tmp_path / "m.json").write_text(json.dumps(fitted.document))
    loaded = emgmm_cli.load_model(str(tmp_path / "m.json"))
    for params in (fitted.params, loaded.params):
        for name in ("weights", "means", "covariances", "precisions_cholesky", "log_det"):
            with pytest.raises(ValueError, match="read-only"):
                getattr(params, name)[...] = 0.0
    for values in (fitted.labels, fitted.responsibilities):
        with pytest.raises(ValueError, match="read-only"):
            values[...] = 0
    np.testing.assert_array_equal(emgmm_cli.predict(fitted, x), fitted.labels)
    # nor a standardized fit's transform (25 labels moved, the document unchanged), nor
    # the parameters of a copy (copy.deepcopy and pickle made the arrays writable)
    scaled = emgmm_cli.fit(x, 2, seed=0, standardize=True)
    for copied in (scaled, copy.deepcopy(scaled), pickle.loads(pickle.dumps(scaled))):
        assert copied.transform is not None
        for values in (copied.transform.center, copied.transform.scale,
                       copied.params.means, copied.params.precisions_cholesky):
            with pytest.raises(ValueError, match="read-only"):
                values[...] = 0.0
        np.testing.assert_array_equal(emgmm_cli.predict(copied, x), scaled.labels)


@pytest.mark.parametrize("family, columns", [("E", 1), ("EII", 1), ("EII", 2)])
def test_the_one_variance_of_eii_and_e_is_a_number(family: str, columns: int) -> None:
    """fit.covariances of a family with one variance for every component (EII, E) raised
    'Cannot set flags on array scalars' (the read-only view of a number).  It is the
    number, the fit's variance, as the model document writes it."""
    x = np.random.default_rng(0).normal(size=(60, columns))
    x[:30] += 4
    fitted = emgmm_cli.fit(x, 2, covariance_type=family, seed=0)
    assert np.ndim(fitted.covariances) == 0
    assert float(fitted.covariances) == fitted.document["covariances"] > 0
    best = emgmm_cli.select(x, [1, 2], [family], seed=0).best
    assert best is not None and best.covariances > 0


def test_engine_errors_name_their_data_and_say_their_advice_in_the_apis_terms(
        x: np.ndarray, tmp_path: Path) -> None:
    """Data too small for float64: the command line names the file and advises
    --standardize; the API's error said neither (the advice, an engine error's, was
    dropped).  Same exception, its source first and its advice in keyword arguments;
    the command line's wording is unchanged (tests/test_hostile_values.py)."""
    from emgmm_cli.engine.errors import NotPositiveDefinite
    from emgmm_cli.engine.screening import DataScale

    with pytest.raises(DataScale, match=r"^<array>: column '0' varies by only .*; use "
                                        r"standardize=True \(every column centred"):
        emgmm_cli.fit(x * 1e-200, 2, seed=0)
    line = np.column_stack([x[:, 0], 2 * x[:, 0] + 1])
    with pytest.raises(NotPositiveDefinite, match=r"^<array>: .*not positive definite.*; use a "
                                                  r"larger reg_covar \(for example [0-9.e-]+\), "
                                                  "fewer components, or standardize=True"):
        emgmm_cli.fit(line, 2, seed=0, reg_covar=0)
    np.save(tmp_path / "tiny.npy", x * 1e-200)
    with pytest.raises(DataScale, match=r"tiny.npy: column '0' .*; use standardize=True"):
        emgmm_cli.fit(str(tmp_path / "tiny.npy"), 2, seed=0)


def test_data_errors_name_the_apis_arguments_not_flags(x: np.ndarray) -> None:
    """A column with no value said "leave it out with --columns", a model file not found
    "write one with emgmm fit --model FILE.json": flags the API has not.  Said in its
    terms, in every call that reads data or a model."""
    empty = pd.DataFrame({"a": x[:, 0], "b": np.nan})
    for missing in ("em", "drop"):
        with pytest.raises(emgmm_cli.DataError,
                           match=r"leave it out with read=ReadOptions\(columns=\.\.\.\)"):
            emgmm_cli.fit(empty, 2, missing=missing)
    for call in (lambda: emgmm_cli.fit(x, init_model="nope.json"),
                 lambda: emgmm_cli.load_model("nope.json"),
                 lambda: emgmm_cli.sample("nope.json", 3),
                 lambda: emgmm_cli.predict("nope.json", x)):
        with pytest.raises(emgmm_cli.DataError) as info:
            call()
        assert str(info.value) == ("nope.json: model file not found; check the path, or write "
                                   "one with json.dump(fitted.document, file)")
    # a flag the message names as the command line's own is left as it is
    with pytest.raises(emgmm_cli.DataError, match="emgmm fit --model writes"):
        emgmm_cli.load_model(str(FAITHFUL))


def test_a_named_series_is_one_column_of_its_name() -> None:
    """A pandas Series lost its name (its one feature was '0'): a named Series is the
    one-column frame of that name, with the same fit as the bare values."""
    import pandas as pd

    waiting = pd.read_csv(FAITHFUL)["waiting"]
    named = emgmm_cli.fit(waiting, 2, seed=0)
    bare = emgmm_cli.fit(waiting.to_numpy(), 2, seed=0)
    assert (named.feature_names, bare.feature_names) == (["waiting"], ["0"])
    assert named.log_likelihood == bare.log_likelihood


def test_an_on_iteration_that_is_no_function_is_refused_before_the_fit() -> None:
    """fit(x, 2, on_iteration=3) failed only at the first iteration ('int' object is not
    callable, from inside the engine): it is a TypeError before any data is read."""
    x = np.random.default_rng(0).normal(size=(60, 2))
    with pytest.raises(TypeError, match="on_iteration must be a function, not 3"):
        emgmm_cli.fit(x, 2, on_iteration=3)  # type: ignore[arg-type]


def test_an_empty_list_of_families_is_refused_as_an_empty_c_is(tmp_path: Path) -> None:
    """select(x, [1, 2], []) fitted every family (28 cells) where `emgmm select -c ''`
    is a usage error: an empty list names no family, an InvalidParameter before the data
    are read; None and "all" still mean every family searched."""
    missing = str(tmp_path / "none.csv")
    empties: tuple[list[str], tuple[str, ...]] = ([], ())
    for empty in empties:
        with pytest.raises(emgmm_cli.InvalidParameter) as bad:
            emgmm_cli.select(missing, [1, 2], empty)
        assert bad.value.option == "covariance_type"
        assert str(bad.value).startswith("no covariance type given; choose 'all' (or None) "
                                         "or a list of EII, spherical,")
    done = CliRunner().invoke(cli, ["select", str(FAITHFUL), "-k", "1", "-c", ""])
    assert done.exit_code == 2 and "Invalid value for '-c'" in done.stderr


@pytest.mark.parametrize("value", ["yes", 1, None, "False"])
def test_a_yes_or_no_argument_takes_only_true_or_false(tmp_path: Path, value: Any) -> None:
    """fit(x, 2, standardize="yes") was taken as true (and "False" too), as was select's
    standardize and predict's proba: each is now a TypeError, before the data are read."""
    x = np.random.default_rng(0).normal(size=(60, 2))
    model = emgmm_cli.fit(x, 2, seed=0)
    missing = str(tmp_path / "none.csv")
    for name, call in (
            ("standardize", lambda: emgmm_cli.fit(missing, 2, standardize=value)),
            ("standardize", lambda: emgmm_cli.select(missing, [1], "full", standardize=value)),
            ("proba", lambda: emgmm_cli.predict(model, missing, proba=value))):
        with pytest.raises(TypeError) as wrong:
            call()
        assert str(wrong.value) == f"{name} must be True or False, not {value!r}"
    labelled = emgmm_cli.predict(model, x, proba=np.bool_(True))  # type: ignore[arg-type]
    assert labelled.shape == (60, 2)


def test_weights_and_known_labels_given_as_paths_are_read_as_the_command_reads_them(
        tmp_path: Path, x: np.ndarray) -> None:
    """sample_weights and known_labels as a path (str or Path): that file, as
    --sample-weights and --known-labels read it and the model records it; not a column
    of strings ("weight 'w.csv' of row 0 is not a number")."""
    w = np.linspace(0.5, 2.0, len(x))
    known = np.full(len(x), -1)
    known[:3] = 1
    np.savetxt(tmp_path / "w.csv", w)
    np.savetxt(tmp_path / "k.csv", known, fmt="%d")
    by_array = emgmm_cli.fit(x, 2, seed=0, sample_weights=w, known_labels=known)
    by_path = emgmm_cli.fit(x, 2, seed=0, sample_weights=str(tmp_path / "w.csv"),
                            known_labels=tmp_path / "k.csv")
    assert by_path.log_likelihood == by_array.log_likelihood
    assert by_path.document["options"]["sample_weights"] == str(tmp_path / "w.csv")
    assert set(by_path.document["input_sha256"]) == {"sample_weights", "known_labels"}
    selected = emgmm_cli.select(x, [2], "VVV", seed=0, sample_weights=tmp_path / "w.csv")
    assert selected.best is not None
    model = tmp_path / "m.json"
    model.write_text(json.dumps(by_path.document))
    scores = emgmm_cli.score(str(model), x, sample_weights=tmp_path / "w.csv")
    assert scores.log_likelihood == emgmm_cli.score(str(model), x,
                                                    sample_weights=w).log_likelihood
    labels = emgmm_cli.predict(str(model), x, known_labels=str(tmp_path / "k.csv"))
    assert (labels[:3] == 1).all()
    with pytest.raises(emgmm_cli.UsageProblem, match="once"):
        emgmm_cli.fit(x, 2, sample_weights=tmp_path / "w.csv",
                      read=emgmm_cli.ReadOptions(sample_weights=str(tmp_path / "w.csv")))


def test_a_missing_value_in_a_file_says_what_to_give_as_in_an_array(tmp_path: Path) -> None:
    """A missing value in an array said "give missing='drop' or missing='em'"; one in a
    file said nothing of what to do (its advice was the command line's, unsaid here).
    fit, select, predict and score say it in the API's terms."""
    (tmp_path / "na.csv").write_text("a,b\n1,2\n3,NA\n5,6\n")
    said = "na.csv:3: column 'b': missing value 'NA'; give missing='drop' or missing='em'"
    model = emgmm_cli.fit(np.array([[1.0, 2.0], [2.0, 3.0], [4.0, 5.0], [5.0, 5.0]]), 1)
    data = str(tmp_path / "na.csv")
    calls = [lambda: emgmm_cli.fit(data, 1), lambda: emgmm_cli.select(data, [1], "VVV"),
             lambda: emgmm_cli.predict(model, data), lambda: emgmm_cli.score(model, data)]
    for call in calls:
        with pytest.raises(emgmm_cli.DataError) as raised:
            call()
        assert str(raised.value) == f"{tmp_path}/{said}"
    with pytest.raises(emgmm_cli.DataError, match="give missing='drop' or missing='em'"):
        emgmm_cli.fit(np.array([[1.0, 2.0], [np.nan, 3.0], [4.0, 5.0]]), 1)
    # a word in the data: the columns to read are the API's read option, not --columns
    (tmp_path / "word.csv").write_text("a,b\n1,2\n3,x\n5,6\n")
    with pytest.raises(emgmm_cli.DataError) as raised:
        emgmm_cli.fit(str(tmp_path / "word.csv"), 1)
    assert str(raised.value).endswith(
        "non-numeric value 'x'; fix or remove the row; give read=ReadOptions(columns=...) "
        "naming only numeric columns")
    assert len(emgmm_cli.fit(data, 1, missing="drop").labels) == 3  # -1 for the dropped


def test_what_reading_says_names_the_python_apis_arguments(tmp_path: Path) -> None:
    """A file whose delimiter is not the one given said "give the delimiter with -d ','"
    to a Python caller, and a row of no value under missing="em" "as --missing drop
    leaves rows out": the command line's flags with their values, said as the API's."""
    (tmp_path / "semi.csv").write_text("a;b\n1;2\n3;4\n5;6\n")
    with pytest.raises(emgmm_cli.DataError, match=re.escape(
            "give the delimiter with read=ReadOptions(delimiter=';')")):
        emgmm_cli.fit(str(tmp_path / "semi.csv"), 1, read=emgmm_cli.ReadOptions(delimiter=","))
    x = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    x[5] = np.nan
    with pytest.warns(emgmm_cli.FitWarning, match=re.escape(
            "1 row with no value at all left out (label -1, no density), as missing='drop' "
            "leaves rows out")):
        emgmm_cli.fit(x, 2, seed=0, missing="em")


@pytest.mark.parametrize(("options", "option"), [
    ({"workers": -1}, "workers"), ({"workers": 0}, "workers"), ({"workers": 2.5}, "workers"),
    ({"connect_timeout": -1}, "connect_timeout"), ({"connect_timeout": float("nan")},
                                                   "connect_timeout")])
def test_backend_options_are_checked_as_the_flags_are(options: dict[str, Any],
                                                      option: str) -> None:
    """backend("dask", workers=-1) ended in dask's "Only use allow_other_workers= if using
    workers=" traceback at the first fit, workers=0 started one per core, and
    connect_timeout=-1 was "could not convert string to float: '1-1.0'"; the values that
    --workers and --connect-timeout refuse are InvalidParameters naming the option."""
    with pytest.raises(emgmm_cli.InvalidParameter) as bad:
        emgmm_cli.backend("dask", **options)
    assert bad.value.option == option and str(bad.value).startswith(f"{option} must be")
    from emgmm_cli.backends import BackendOptions

    taken = BackendOptions("dask", workers=np.int64(2), connect_timeout=np.float32(1.5))
    assert (taken.workers, taken.connect_timeout) == (2, 1.5)
    with pytest.raises(emgmm_cli.InvalidParameter, match="unknown backend 'spark'; choose "
                                                         "one of local, dask") as unknown:
        emgmm_cli.backend("spark")  # was a bare ValueError, naming no option
    assert unknown.value.option == "backend"
    assert type(taken.workers) is int and type(taken.connect_timeout) is float


def test_freeze_takes_a_list_of_names_as_select_takes_its_families() -> None:
    """freeze=["means"] was refused ('freeze must be a comma-separated list ..., got
    ['means']'), where select takes its families as a list or one string; a list of
    names is the command line's "weights,means", an empty one nothing frozen."""
    x = np.random.default_rng(0).normal(size=(60, 2))
    listed = emgmm_cli.fit(x, 2, seed=0, freeze=["weights", "means"])
    joined = emgmm_cli.fit(x, 2, seed=0, freeze="weights,means")
    assert listed.document["options"]["freeze"] == "weights,means"
    assert listed.log_likelihood == joined.log_likelihood
    assert emgmm_cli.fit(x, 2, seed=0, freeze=[]).document["options"]["freeze"] is None
    chosen = emgmm_cli.select(x, [2], "full", seed=0, freeze=("weights",)).best
    assert chosen is not None and chosen.document["options"]["freeze"] == "weights"
    with pytest.raises(emgmm_cli.InvalidParameter, match="got 'mean'"):
        emgmm_cli.fit(x, 2, freeze=["mean"])


def test_what_the_command_line_warns_of_is_a_fit_warning(x: np.ndarray) -> None:
    """A fit that stops short, the data screen's findings (with the collapse they cause
    said once, as the command line says it), a selection that chooses no cell or one
    that did not converge, and data whose columns are not the model's: each a
    FitWarning naming the source (they were silent in Python, printed at the command
    line), and so is score's point of log-density -inf; a clean fit warns of nothing."""
    with pytest.warns(emgmm_cli.FitWarning,
                      match=r"^<array>: did not converge in 2 iterations \(last change"):
        short = emgmm_cli.fit(x, 3, seed=0, n_init=1, max_iter=2)
    assert not short.converged
    with pytest.warns(emgmm_cli.FitWarning) as caught:
        copied = emgmm_cli.fit(np.c_[x, x[:, 0]], 2, seed=0)
    said = [str(w.message) for w in caught]
    assert said == ["<array>: " + copied.findings[0].message,
                    "<array>: components 0 and 1: covariance collapsed onto the "
                    "regularisation floor (a spurious maximum of the likelihood); the data "
                    "warned about above is the likely cause"], said
    # the findings are said when found, before the fit: also where it then fails
    with pytest.warns(emgmm_cli.FitWarning, match="^<array>: columns '0' and '2' are identical"):
        with pytest.raises(emgmm_cli.EngineError, match="not positive definite"):
            emgmm_cli.fit(np.c_[x, x[:, 0]], 2, seed=0, reg_covar=0)
    with pytest.warns(emgmm_cli.FitWarning, match=r"^<array>: the chosen cell \(full, K=4\) "
                                                  r"did not converge in 2 iterations \(last"):
        emgmm_cli.select(x, [4], "VVV", seed=0, max_iter=2, n_init=1)
    tiny = np.random.default_rng(0).normal(scale=2.6e-12, size=(200, 2))
    with pytest.warns(emgmm_cli.FitWarning, match="^<array>: no cell could be chosen: all 2 "
                                                  "cells ended degenerate"):
        assert emgmm_cli.select(tiny, [1, 2], "VVV", seed=0).best is None
    model = emgmm_cli.fit(pd.read_csv(FAITHFUL), 2, seed=0)
    other = pd.DataFrame(x, columns=["u", "v"])
    for apply in (emgmm_cli.predict, emgmm_cli.score):
        with pytest.warns(emgmm_cli.FitWarning, match=r"^<array>: the columns \(u, v\) "
                                                      r"are not the model's \(eruptions, "
                                                      r"waiting\); using all columns$"):
            apply(model, other)
    far = pd.read_csv(FAITHFUL).head(3).assign(waiting=[70.0, 1e300, 80.0])
    # the row as the returned array numbers it (the command line's counts from 1)
    with pytest.warns(emgmm_cli.FitWarning, match=r"^<array>: 1 point \(row 1, counting from "
                                                  r"0\) so far from every component that the "
                                                  "density is below"):
        assert emgmm_cli.score(model, far).log_density[1] == -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        emgmm_cli.fit(x, 2, seed=0)
        emgmm_cli.predict(model, pd.read_csv(FAITHFUL))


@pytest.mark.parametrize(("fields", "said"), [
    ({"weights_column": "w", "sample_weights": "w.csv"},
     "give the sample weights once: {weights_column} or {sample_weights}, not both"),
    ({"known_column": "z", "known_labels": "z.csv"},
     "give the known labels once: {known_column} or {known_labels}, not both")])
def test_read_options_name_their_fields_and_the_command_line_its_flags(
        tmp_path: Path, fields: dict[str, str], said: str) -> None:
    """ReadOptions, built by the user, names its keyword arguments; the same problem at the
    command line names the flags (it named the flags in both)."""
    api = said.format(**{name: name for name in fields})
    with pytest.raises(emgmm_cli.UsageProblem, match=f"^{api}$") as caught:
        emgmm_cli.ReadOptions(**fields)  # type: ignore[arg-type]
    assert caught.value.option == list(fields)[1]
    flags = {name: "--" + name.replace("_", "-") for name in fields}
    data = tmp_path / "d.csv"
    data.write_text("a,w,z\n1,1,0\n2,1,1\n4,2,0\n")
    for command in (["fit", "-k", "1"], ["select", "-k", "1"]):
        args = [command[0], str(data), *command[1:]]
        for name, value in fields.items():
            args += [flags[name], value]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, result.output
        assert result.output.splitlines()[-1] == "Error: " + said.format(**flags)
