"""Known labels (semi-supervised EM): rows with a known component keep it."""

from __future__ import annotations

import dataclasses
import json
import gzip
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import emgmm_cli
from emgmm_cli.backends import open_dataset
from emgmm_cli.engine.dataset import WeightedRows, check_known
from emgmm_cli.engine.errors import InvalidParameter
from emgmm_cli.engine.fitting import fit
from emgmm_cli.engine.options import FitOptions
from conftest import invoke_in


def _data(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two long overlapping blobs side by side (k-means splits them the wrong way), the
    truth, and 5% of it known (-1 elsewhere)."""
    rng = np.random.default_rng(seed)
    n = 400
    truth = np.arange(n) % 2
    x = np.c_[truth * 2.0 + rng.normal(size=n) * 0.6, rng.normal(size=n) * 5]
    known = np.full(n, -1)
    rows = rng.choice(n, n // 20, replace=False)
    known[rows] = truth[rows]
    return x, truth, known


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_five_percent_known_beats_unsupervised(seed: int) -> None:
    x, truth, known = _data(seed)
    # the same start (k-means') and stopping rule (scikit-learn's tol): plain EM stops on
    # the wrong split it started from, the known rows pull it to the right one (run to
    # the default tol, plain EM finds the right split here by itself)
    same: dict[str, Any] = {"init": "kmeans", "tol": 1e-3, "max_iter": 100,
                            "accelerate": "none"}
    plain = emgmm_cli.fit(x, 2, seed=seed, **same)
    semi = emgmm_cli.fit(x, 2, seed=seed, known_labels=known, **same)
    unsupervised = max((plain.labels == truth).mean(), (plain.labels != truth).mean())
    supervised = (semi.labels == truth).mean()
    assert supervised > unsupervised + 0.2
    rows = known >= 0
    assert (semi.labels[rows] == known[rows]).all()  # known rows keep their labels
    assert (semi.responsibilities[rows, known[rows]] == 1.0).all()
    assert semi.document["options"]["order"] == "none"


def test_score_gives_the_mixtures_log_likelihood_of_a_fit_with_known_labels() -> None:
    """score --help and guide.md: on the training data score's total is the model's
    log_likelihood, and for a fit with known labels at least that: the fit counts a known
    row as log pi_z N(x | z) (scipy's density here), score as log p(x), with or without
    the labels."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    x, _, known = _data(4)
    semi = emgmm_cli.fit(x, 2, seed=0, known_labels=known)
    p = semi.params
    joint = np.stack([np.log(p.weights[k]) + multivariate_normal(
        p.means[k], p.full_covariances()[k]).logpdf(x) for k in range(2)], axis=1)
    rows = known >= 0
    objective = logsumexp(joint[~rows], axis=1).sum() + joint[rows, known[rows]].sum()
    assert semi.log_likelihood == pytest.approx(objective, rel=1e-10)
    mixture = float(logsumexp(joint, axis=1).sum())
    for labels in (None, known):
        scored = emgmm_cli.score(semi, x, known_labels=labels).log_likelihood
        assert scored == pytest.approx(mixture, rel=1e-10)
    assert mixture > semi.log_likelihood
    plain = emgmm_cli.fit(x, 2, seed=0)
    assert emgmm_cli.score(plain, x).log_likelihood == pytest.approx(plain.log_likelihood,
                                                                     rel=1e-12)


def test_known_rows_are_one_hot_in_the_statistics() -> None:
    """Every row known: EM is the complete-data maximum likelihood, in one M-step."""
    x, truth, _ = _data(3)
    result = fit(WeightedRows(open_dataset(x, n_components=2), None, truth),
                 FitOptions(2, seed=0))
    for k in range(2):
        np.testing.assert_allclose(result.params.means[k], x[truth == k].mean(axis=0),
                                   rtol=1e-10)


def test_bad_known_labels() -> None:
    with pytest.raises(InvalidParameter, match="known label 2.5 of row 1"):
        check_known([0, 2.5], 2)
    # a mask is no labels: every row pinned to component 0 (False), exit 0
    with pytest.raises(InvalidParameter, match="known labels are True and False"):
        check_known(np.zeros(2, dtype=bool), 2)
    x, _, known = _data(0)
    known[5] = 4
    with pytest.raises(InvalidParameter, match="component number below 2"):
        fit(WeightedRows(open_dataset(x), None, known), FitOptions(2, seed=0))
    with pytest.raises(InvalidParameter, match="soft EM"):
        fit(WeightedRows(open_dataset(x), None, _data(0)[2]),
            FitOptions(2, seed=0, algorithm="hard"))


def test_cli_column_and_file(tmp_path: Path) -> None:
    x, truth, known = _data(0)
    np.savetxt(tmp_path / "d.csv", np.c_[x, known], delimiter=",", header="a,b,known",
               comments="", fmt=["%.10g", "%.10g", "%d"])
    (tmp_path / "k.txt").write_text("".join(f"{'' if k < 0 else k}\n" for k in known))
    by_column = invoke_in(tmp_path, "fit", "d.csv", "-k", "2", "--known-column", "known",
                          "--seed", "0")
    by_file = invoke_in(tmp_path, "fit", "d.csv", "--columns", "a,b", "-k", "2",
                        "--known-labels", "k.txt", "--seed", "0")
    assert by_column.exit_code == 0 and by_file.exit_code == 0, by_column.stderr
    assert by_column.stdout == by_file.stdout
    labels = np.array(by_column.stdout.split(), dtype=int)
    assert (labels == truth).mean() > 0.9
    (tmp_path / "bad.txt").write_text("0\nx\n")
    r = invoke_in(tmp_path, "fit", "d.csv", "-k", "2", "--known-labels", "bad.txt")
    assert r.exit_code == 1 and "line 2: 'x' is not a component number" in r.stderr
    # under a header, the line of the file (it was named one line early: "line 2" for 3)
    (tmp_path / "headed.txt").write_text("known\n0\nx\n")
    r = invoke_in(tmp_path, "fit", "d.csv", "-k", "2", "--known-labels", "headed.txt")
    assert r.exit_code == 1 and "headed.txt: line 3: 'x' is not a component" in r.stderr
    r = invoke_in(tmp_path, "fit", "d.csv", "-k", "1", "--known-column", "known")
    # the data's file and the column the labels came from
    assert r.exit_code == 1 and "d.csv: column 'known': known label 1 of row" in r.stderr
    r = invoke_in(tmp_path, "fit", "d.csv", "-k", "2", "--known-column", "known",
                  "--algorithm", "hard")
    assert r.exit_code == 2 and "known labels need soft EM" in r.stderr


@pytest.mark.parametrize("ext", ["npy", "parquet", "csv.gz", "tsv", "jsonl"])
def test_labels_written_by_fit_read_back_as_known_labels(tmp_path: Path, ext: str) -> None:
    """--known-labels read every file as UTF-8 lines: the labels fit -o writes as .npy or
    Parquet (or any compressed text) were "cannot read the known labels: 'utf-8' codec
    can't decode".  Now the labels are read as the data are (io.readers' one dispatch):
    every known label keeps its row, so the fit is the fit they came from."""
    x, _, _ = _data(1)
    np.savetxt(tmp_path / "d.csv", x, delimiter=",", header="a,b", comments="")
    plain = invoke_in(tmp_path, "fit", "d.csv", "-k", "2", "--seed", "0")
    name = f"labels.{ext}"
    if ext == "csv.gz":
        assert invoke_in(tmp_path, "fit", "d.csv", "-k", "2", "--seed", "0", "-o",
                         "labels.csv", "-q").exit_code == 0
        (tmp_path / name).write_bytes(gzip.compress((tmp_path / "labels.csv").read_bytes()))
    else:
        assert invoke_in(tmp_path, "fit", "d.csv", "-k", "2", "--seed", "0", "-o", name,
                         "-q").exit_code == 0
    known = invoke_in(tmp_path, "fit", "d.csv", "-k", "2", "--seed", "3", "--known-labels",
                      name)
    assert known.exit_code == 0, known.stderr
    assert known.stdout == plain.stdout


def test_known_labels_that_are_no_component_numbers(tmp_path: Path) -> None:
    """A label file of two columns, a label too large for any mixture, or a non-integer
    value: one line saying which, exit 1 (no numpy cast warning, no overflow)."""
    x, _, _ = _data(2)
    np.savetxt(tmp_path / "d.csv", x, delimiter=",", header="a,b", comments="")
    n = len(x)
    np.save(tmp_path / "two.npy", np.zeros((n, 2)))
    np.save(tmp_path / "huge.npy", np.r_[1e30, np.zeros(n - 1)])
    np.save(tmp_path / "half.npy", np.r_[np.zeros(n - 1), 0.5])
    (tmp_path / "huge.txt").write_text("99999999999999999999999\n" + "0\n" * (n - 1))
    cases = {"two.npy": "two.npy: known labels are one column, one label per row; it has 2 "
                        "columns",
             "huge.npy": "huge.npy: row 1: 1e+30 is not a component number (or -1, or NaN, "
                         "where unknown)",
             "half.npy": f"half.npy: row {n}: 0.5 is not a component number",
             "huge.txt": "huge.txt: line 1: '99999999999999999999999' is not a component "
                         "number"}
    for name, message in cases.items():
        r = invoke_in(tmp_path, "fit", "d.csv", "-k", "2", "--known-labels", name)
        assert r.exit_code == 1 and r.stderr.startswith("Error: " + message), r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_predict_score_and_plot_check_known_labels_against_the_model(tmp_path: Path
                                                                     ) -> None:
    """predict, score and plot take --known-labels: a label that is no component of the
    model ended predict and score in an internal IndexError (exit 1, "internal error")
    and was ignored by plot; now a one-line data error naming the model, and nothing
    written.  Within the model's K, plot colours known rows by their label, as predict
    labels them."""
    pytest.importorskip("matplotlib")
    from emgmm_cli.app.plotting import points_view
    from emgmm_cli.io.readers import read_points

    x, _, known = _data(0)
    np.savetxt(tmp_path / "d.csv", x, delimiter=",", header="a,b", comments="")
    assert invoke_in(tmp_path, "fit", "d.csv", "-k", "2", "--seed", "0", "--model",
                     "m.json", "-q").exit_code == 0
    bad = known.copy()
    bad[7] = 2
    (tmp_path / "bad.txt").write_text("".join(f"{k}\n" for k in bad))
    line = ("Error: bad.txt: known label 2 of row 7 (counting from 0) is not -1 or a "
            "component number below 2, the number of components of the model m.json")
    for command, out in (("predict", "l.csv"), ("score", "s.csv"), ("plot", "p.png")):
        r = invoke_in(tmp_path, command, "m.json", "d.csv", "--known-labels", "bad.txt",
                      "-o", out)
        assert (r.exit_code, r.stderr.strip()) == (1, line), r.stderr
        assert not (tmp_path / out).exists()
    flipped = np.where(known >= 0, 1 - known, -1)  # every known row against the model
    (tmp_path / "k.txt").write_text("".join(f"{k}\n" for k in flipped))
    r = invoke_in(tmp_path, "predict", "m.json", "d.csv", "--known-labels", "k.txt")
    labels = np.array(r.stdout.split(), dtype=int)
    rows = flipped >= 0
    assert r.exit_code == 0 and (labels[rows] == flipped[rows]).all()
    points = read_points(str(tmp_path / "d.csv"))
    view = points_view(emgmm_cli.load_model(str(tmp_path / "m.json")).params,
                       dataclasses.replace(points, known=flipped), model="m.json")
    np.testing.assert_array_equal(view.labels, labels)


def test_a_message_about_known_labels_names_where_they_came_from(tmp_path: Path) -> None:
    """A known label that is no component of the fit was said of the data, not of the
    labels: `fit d.csv -k 2 --known-labels k.txt` said "d.csv: known label 5 ...", and
    fit(x, 2, known_labels=...) named nothing (or the data's file).  Now the file of
    labels, the data's file for a column of it, the argument for the Python API's (and
    its sample_weights alike); score takes known_labels as `score --known-labels` does."""
    x, _, _ = _data(0)
    np.savetxt(tmp_path / "d.csv", x, delimiter=",", header="a,b", comments="")
    bad = np.full(len(x), -1)
    bad[3] = 5
    (tmp_path / "k.txt").write_text("".join(f"{k}\n" for k in bad))
    said = "known label 5 of row 3 (counting from 0) is not -1 or a component number below 2"
    r = invoke_in(tmp_path, "fit", "d.csv", "-k", "2", "--known-labels", "k.txt")
    assert (r.exit_code, r.stderr.strip()) == (1, f"Error: k.txt: {said}")
    for data in (x, str(tmp_path / "d.csv")):
        with pytest.raises(emgmm_cli.DataError) as wrong:
            emgmm_cli.fit(data, 2, known_labels=bad)
        assert str(wrong.value) == f"<known_labels>: {said}"
        with pytest.raises(emgmm_cli.DataError) as short:
            emgmm_cli.fit(data, 2, known_labels=bad[1:])
        assert str(short.value).startswith(f"<known_labels>: {len(x) - 1} known labels for ")
        with pytest.raises(emgmm_cli.DataError) as weights:
            emgmm_cli.fit(data, 2, sample_weights=-np.ones(len(x)))
        assert str(weights.value).startswith("<sample_weights>: weight -1 of row 0 ")
    model = emgmm_cli.fit(x, 2, seed=0)
    with pytest.raises(emgmm_cli.DataError) as scored:
        emgmm_cli.score(model, x, known_labels=bad)
    assert str(scored.value) == f"<known_labels>: {said}, the number of components of the model <fit>"
    within = np.where(bad == 5, 1, bad)
    assert (emgmm_cli.score(model, x, known_labels=within).log_density
            == emgmm_cli.score(model, x).log_density).all()


def test_select_pipeline_with_known_labels(tmp_path: Path) -> None:
    """A real process: select in worker processes with a known-labels column."""
    x, truth, known = _data(1)
    np.savetxt(tmp_path / "d.csv", np.c_[x, known], delimiter=",", header="a,b,known",
               comments="", fmt=["%.10g", "%.10g", "%d"])
    proc = subprocess.run([sys.executable, "-m", "emgmm_cli", "select", "d.csv", "-k", "2-3",
                           "-c", "full", "--known-column", "known", "--jobs", "2", "--seed",
                           "1", "--n-init", "1", "--model", "m.json"],
                          cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    labels = emgmm_cli.predict(tmp_path / "m.json", x)
    assert (labels == truth).mean() > 0.85



def test_select_warns_once_of_every_k_the_known_labels_exceed(tmp_path: Path) -> None:
    """Known label 3 rules out K = 1, 2 and 3 in every family: one warning, not one per
    K (the reason names K, not K - 1, so render.cell_reasons merges it)."""
    x, _, known = _data(0)
    known[known == 1] = 3
    np.savetxt(tmp_path / "d.csv", np.c_[x, known], delimiter=",", header="a,b,known",
               comments="", fmt=["%.10g", "%.10g", "%d"])
    r = invoke_in(tmp_path, "select", "d.csv", "-k", "1-4", "-c", "full,spherical",
                  "--known-column", "known", "--seed", "0", "--n-init", "1", "-o", "t.csv")
    assert r.exit_code == 0, r.stderr
    first = int(np.flatnonzero(known == 3)[0])
    assert r.stderr.splitlines() == [
        f"emgmm: warning: d.csv: full, spherical K=1-3 skipped: known label 3 of row {first} "
        "(counting from 0) is not -1 or a component number below K"]

def test_row_columns_by_index_count_the_input_columns(tmp_path: Path) -> None:
    """--weights-column and --known-column by 0-based index name the input's own columns,
    whatever --columns reads and the other one takes out (the Python API's too)."""
    import json

    from emgmm_cli.app.requests import ReadOptions

    x, _, known = _data(0)
    rng = np.random.default_rng(5)
    w, z = 1 + np.arange(len(x)) % 2, rng.normal(size=len(x))
    np.savetxt(tmp_path / "d.csv", np.c_[x, w, known, z], delimiter=",",
               header="a,b,w,known,z", comments="", fmt="%.10g")
    fit = ("fit", "d.csv", "-k", "2", "--seed", "0", "--json")
    by_name = invoke_in(tmp_path, *fit, "--weights-column", "w", "--known-column", "known")
    assert by_name.exit_code == 0, by_name.stderr
    for args in (["--weights-column", "w", "--known-column", "3"],
                 ["--known-column", "3", "--weights-column", "2"],
                 ["--columns", "0,1,4", "--weights-column", "2", "--known-column", "3"],
                 ["--columns", "a,b,z", "--known-column", "3", "--weights-column", "w"]):
        r = invoke_in(tmp_path, *fit, *args)
        assert r.exit_code == 0, (args, r.stderr)
        doc = json.loads(r.stdout)
        assert doc["feature_names"] == ["a", "b", "z"], args
        assert doc["means"] == json.loads(by_name.stdout)["means"], args
    r = invoke_in(tmp_path, *fit, "--columns", "4,0,1", "--weights-column", "2")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["feature_names"] == ["z", "a", "b"]
    assert doc["sum_of_weights"] == w.sum()
    r = invoke_in(tmp_path, *fit, "--weights-column", "2", "--known-column", "w")
    assert r.exit_code == 1
    assert "the weights column and the known-labels column are one column, 'w'" in r.stderr
    api = emgmm_cli.fit(tmp_path / "d.csv", 2, seed=0, read=ReadOptions(
        columns=("b", "a"), weights_column="2", known_column="3"))
    assert api.feature_names == ["b", "a"] and api.document["sum_of_weights"] == w.sum()
    api = emgmm_cli.fit(tmp_path / "d.csv", 2, seed=0, read=ReadOptions(
        weights_column="w", known_column="3"))
    assert api.feature_names == ["a", "b", "z"]
    assert api.means.tolist() == json.loads(by_name.stdout)["means"]


def _unknown_written_missing(tmp_path: Path) -> tuple[np.ndarray, np.ndarray, Any]:
    """The rows of _data(0), their known labels (-1: unknown), and the data frame of a, b
    and known, whose unknown labels are missing values (NaN) where the row number is
    even and -1 where it is odd."""
    import pandas as pd

    x, _, known = _data(0)
    column = np.where((known < 0) & (np.arange(len(known)) % 2 == 0), np.nan, known)
    return x, known, pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "known": column})


@pytest.mark.parametrize("ext", ["csv", "npy", "parquet", "jsonl"])
@pytest.mark.parametrize("missing", ["error", "drop", "em"])
@pytest.mark.parametrize("limit", [None, "4K"])
def test_a_missing_known_label_is_unknown_whatever_missing_says(
        tmp_path: Path, ext: str, missing: str, limit: str | None) -> None:
    """An empty field (NA, NaN; NaN in .npy and Parquet, null in JSON) in the column of
    --known-column was "missing value (empty field); use --missing drop ... or --missing
    em" by default, although an empty line of --known-labels is unknown.  Now it is
    unknown whatever --missing says (which is the features'), in memory and block by
    block: the fit is that of the labels given as a file with -1."""
    x, known, frame = _unknown_written_missing(tmp_path)
    if ext == "csv":
        text = frame.to_csv(index=False, na_rep="")
        text = text.replace(",,", ",NA,", 3)  # NA (what R writes) is one too
        (tmp_path / "d.csv").write_text(text)
    elif ext == "npy":
        np.save(tmp_path / "d.npy", frame.to_numpy())
    elif ext == "parquet":
        frame.to_parquet(tmp_path / "d.parquet")
    else:
        (tmp_path / "d.jsonl").write_text("".join(
            json.dumps({"a": a, "b": b, "known": None if k != k else int(k)}) + "\n"
            for a, b, k in frame.itertuples(index=False)))
    np.savetxt(tmp_path / "x.csv", x, delimiter=",", header="a,b", comments="", fmt="%.17g")
    np.savetxt(tmp_path / "k.txt", known, fmt="%d")
    column = "2" if ext == "npy" else "known"
    common = ["-k", "2", "--seed", "0", "--missing", missing, "--json"]
    common += [] if limit is None else ["--memory-limit", limit, "--cache-dir", "cache"]
    got = invoke_in(tmp_path, "fit", f"d.{ext}", "--known-column", column, *common)
    want = invoke_in(tmp_path, "fit", "x.csv", "--known-labels", "k.txt", *common)
    assert got.exit_code == 0, got.stderr
    assert want.exit_code == 0, want.stderr
    got_doc, want_doc = json.loads(got.stdout), json.loads(want.stdout)
    assert got_doc["means"] == want_doc["means"]
    assert got_doc["n_samples"] == len(x) and "n_dropped" not in got_doc


def test_known_labels_column_missing_in_every_command_and_the_api(tmp_path: Path) -> None:
    """The same rule in select, predict, score, batch, a real process reading stdin and
    the Python API; the features keep theirs (a missing value in one is still an error
    by default, naming its line and column, and --missing drop leaves its row out)."""
    x, known, frame = _unknown_written_missing(tmp_path)
    frame.to_csv(tmp_path / "d.csv", index=False, na_rep="")
    np.savetxt(tmp_path / "x.csv", x, delimiter=",", header="a,b", comments="", fmt="%.17g")
    np.savetxt(tmp_path / "k.txt", known, fmt="%d")
    fit = ("-k", "2", "--seed", "0")
    assert invoke_in(tmp_path, "fit", "x.csv", *fit, "--known-labels", "k.txt", "--model",
                     "want.json", "-q").exit_code == 0
    want = json.loads((tmp_path / "want.json").read_text())["means"]
    r = invoke_in(tmp_path, "select", "d.csv", *fit, "-c", "full", "--known-column", "known",
                  "--model", "sel.json", "-q")
    assert r.exit_code == 0, r.stderr
    assert json.loads((tmp_path / "sel.json").read_text())["means"] == want
    for command in ("predict", "score"):
        r = invoke_in(tmp_path, command, "want.json", "d.csv", "--known-column", "known")
        assert r.exit_code == 0, (command, r.stderr)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "d.csv").write_bytes((tmp_path / "d.csv").read_bytes())
    r = invoke_in(tmp_path, "batch", "in", *fit, "--known-column", "known", "-o", "out")
    assert r.exit_code == 0, r.stderr
    assert json.loads((tmp_path / "out" / "d" / "model.json").read_text())["means"] == want
    proc = subprocess.run([sys.executable, "-m", "emgmm_cli", "fit", "-", *fit,
                           "--known-column", "known", "--model", "stdin.json"], cwd=tmp_path,
                          input=(tmp_path / "d.csv").read_bytes(), capture_output=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "stdin.json").read_text())["means"] == want
    read = emgmm_cli.ReadOptions(known_column="known")
    for data in (tmp_path / "d.csv", frame):
        fitted = emgmm_cli.fit(data, n_components=2, seed=0, read=read)
        assert fitted.means.tolist() == want
    lines = (tmp_path / "d.csv").read_text().splitlines()
    lines[5] = "," + lines[5].split(",", 1)[1]  # a feature's missing value, line 6
    (tmp_path / "f.csv").write_text("\n".join(lines) + "\n")
    r = invoke_in(tmp_path, "fit", "f.csv", *fit, "--known-column", "known")
    assert r.exit_code == 1 and "f.csv:6: column 'a': missing value" in r.stderr, r.stderr
    r = invoke_in(tmp_path, "fit", "f.csv", *fit, "--known-column", "known",
                  "--missing", "drop", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["n_dropped"] == 1, r.stderr


def test_an_order_given_beside_known_labels_is_refused(tmp_path: Path) -> None:
    """`--known-column known --order weight` (or mean) was silently fitted with order none,
    the labels naming the components, while --algorithm hard beside them is refused.  An
    order other than none given beside known labels is now a usage error (exit 2, one
    line naming why) in fit, select and batch, and a UsageProblem in the Python API;
    --order none, or no --order, fits."""
    x, _, known = _data(0)
    np.savetxt(tmp_path / "d.csv", np.c_[x, known], delimiter=",", header="a,b,known",
               comments="", fmt=["%.10g", "%.10g", "%d"])
    np.savetxt(tmp_path / "k.txt", known, fmt="%d")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "d.csv").write_bytes((tmp_path / "d.csv").read_bytes())
    why = "does not apply with known labels, which name the components"
    for args in (["fit", "d.csv", "--known-column", "known", "--order", "weight"],
                 ["fit", "d.csv", "--columns", "a,b", "--known-labels", "k.txt", "--order",
                  "mean"],
                 ["select", "d.csv", "--known-column", "known", "--order", "mean"],
                 ["batch", "in", "--known-column", "known", "--order", "weight", "-o", "o"]):
        r = invoke_in(tmp_path, *args, "-k", "2")
        assert r.exit_code == 2 and why in r.stderr, (args, r.stderr)
    assert not (tmp_path / "o").exists()
    proc = subprocess.run([sys.executable, "-m", "emgmm_cli", "fit", "d.csv", "-k", "2",
                           "--known-column", "known", "--order", "weight"], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and why in proc.stderr.splitlines()[-1], proc.stderr
    for order in ([], ["--order", "none"]):
        r = invoke_in(tmp_path, "fit", "d.csv", "-k", "2", "--known-column", "known", *order)
        assert r.exit_code == 0, r.stderr
    read = emgmm_cli.ReadOptions(known_column="known")
    with pytest.raises(emgmm_cli.UsageProblem, match=f"^order weight {why}"):
        emgmm_cli.fit(tmp_path / "d.csv", n_components=2, read=read, order="weight")
    with pytest.raises(emgmm_cli.UsageProblem, match=f"^order mean {why}"):
        emgmm_cli.select(x, components=[2], known_labels=known, order="mean")
    emgmm_cli.fit(x, n_components=2, known_labels=known, order="none", seed=0)


def test_a_label_file_as_a_csv_writer_quotes_it(tmp_path: Path) -> None:
    """pandas writes an empty string of a one-column CSV as "", and may quote a label:
    `--known-labels k.csv` refused 'line 2: '""' is not a component number'.  A quoted
    field is read without its quotes: "" is unknown, as an empty line is, "1" is 1."""
    from emgmm_cli.io.readers import read_labels

    for text, labels in (('k\n""\n1\n"0"\n', [-1, 1, 0]), ('""\n"1"\n0\n', [-1, 1, 0])):
        (tmp_path / "k.csv").write_text(text)
        assert read_labels(str(tmp_path / "k.csv")).tolist() == labels
    (tmp_path / "k.csv").write_text('k\n"x"\n')
    with pytest.raises(emgmm_cli.DataError, match="k.csv: line 2: 'x' is not a component number"):
        read_labels(str(tmp_path / "k.csv"))


def test_a_first_label_line_that_is_a_number_or_unknown_is_no_header(tmp_path: Path) -> None:
    """The first line was a header unless it held digits (an optional '-' first): NA, NaN,
    +1 or 0.0 there was dropped, so a file of one label per row was one short ("159
    known labels for 160 rows"), or, one line longer, silently shifted.  A header is a
    first line that is no number and not unknown; a number that is no label is refused."""
    from emgmm_cli.io.readers import read_labels

    for text, labels in (("NA\n1\n0\n", [-1, 1, 0]), ("NaN\n1\n", [-1, 1]),
                         ("-nan\n1\n nan \n", [-1, 1, -1]),
                         ("+1\n0\n", [1, 0]), (" 2\n0\n", [2, 0]), ("k\nNA\n1\n", [-1, 1]),
                         ("cluster\n0\n", [0])):
        (tmp_path / "k.txt").write_text(text)
        assert read_labels(str(tmp_path / "k.txt")).tolist() == labels, text
    for first in ("0.5", "inf", "1e300"):
        (tmp_path / "k.txt").write_text(f"{first}\n1\n")
        with pytest.raises(emgmm_cli.DataError,
                           match=f"k.txt: line 1: '{first}' is not a component number"):
            read_labels(str(tmp_path / "k.txt"))


def test_whole_labels_written_with_a_decimal_point_are_labels(tmp_path: Path) -> None:
    """pandas writes a label column that has missing values as floats (0.0, empty, 2.0):
    --known-column read such a column, --known-labels refused the same labels in a file
    ("'0.0' is not a component number")."""
    import pandas as pd
    from emgmm_cli.io.readers import read_labels

    labels = pd.Series([0, None, 2, 1, None], dtype="float64")
    labels.to_csv(tmp_path / "k.csv", index=False, header=False)
    assert (tmp_path / "k.csv").read_text() == '0.0\n""\n2.0\n1.0\n""\n'
    assert read_labels(str(tmp_path / "k.csv")).tolist() == [0, -1, 2, 1, -1]
    (tmp_path / "e.txt").write_text("label\n1e0\n-1.0\n3.00\n")
    assert read_labels(str(tmp_path / "e.txt")).tolist() == [1, -1, 3]


def test_labels_numbering_a_start_otherwise_are_warned_of(tmp_path: Path) -> None:
    """Known labels beside a start (--means-init, --init-model) name the start's
    components: where the start numbers them otherwise (a model of an earlier fit, its
    components in weight order), EM pulls them across, without a word before."""
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    x = np.concatenate([rng.normal(c, 1.0, (300, 2)) for c in centers])
    known = np.where(rng.random(900) < 0.2, np.repeat([0, 1, 2], 300), -1)
    with pytest.warns(emgmm_cli.FitWarning) as caught:
        swapped = emgmm_cli.fit(x, 3, means_init=centers[[1, 0, 2]], known_labels=known)
    said = [str(w.message) for w in caught if "known labels" in str(w.message)]
    assert [f.kind for f in swapped.findings] == ["known-vs-start"]
    assert said == ["<array>: the known labels number the components otherwise than the "
                    "starting means: most rows labelled 0 (77 of 78) lie in its component 1, "
                    "and EM, holding them to component 0, pulls the two across; relabel the "
                    "rows, or reorder the start"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the right numbering: nothing to say
        emgmm_cli.fit(x, 3, means_init=centers, known_labels=known)
    # a model whose components 0 and 2 are the labels' 2 and 0, on the command line
    model = tmp_path / "model.json"
    fitted = emgmm_cli.fit(x, 3, means_init=centers[[2, 1, 0]], max_iter=3, order="none")
    model.write_text(json.dumps(fitted.document))
    np.savetxt(tmp_path / "x.csv", np.column_stack([x, known]), delimiter=",",
               header="a,b,kn", comments="", fmt=["%.6f", "%.6f", "%d"])
    result = invoke_in(tmp_path, "fit", "x.csv", "--known-column", "kn", "--init-model",
                       "model.json", "-o", "labels.csv")
    assert result.exit_code == 0
    assert ("the known labels number the components otherwise than the model: most rows "
            "labelled 0") in result.stderr
