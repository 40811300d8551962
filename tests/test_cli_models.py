"""predict, score, sample and info on models saved by `fit --model`.

Round trips on sample_data/blobs4.csv (columns x, y): predict gives the labels fit wrote,
score the log-densities scikit-learn computes from the same parameters and the model's
log-likelihood, sample draws data a new fit recovers the model from, info describes it.
"""

from __future__ import annotations

import io
import json
import re
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from numpy.typing import NDArray

from emgmm_cli.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
BLOBS = ROOT / "sample_data" / "blobs4.csv"
EMGMM = Path(sys.executable).parent / "emgmm"
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def invoke(*args: str, input: str | bytes | None = None, tty: bool = False) -> Result:
    env = {"EMGMM_FORCE_TTY": "1" if tty else "0"}
    return CliRunner().invoke(cli, list(args), input=input, env=env)


def ok(*args: str, input: str | bytes | None = None, tty: bool = False) -> Result:
    result = invoke(*args, input=input, tty=tty)
    assert result.exit_code == 0, result.output
    return result


class Fitted:
    def __init__(self, folder: Path, covariance_type: str) -> None:
        self.model = folder / f"{covariance_type}.json"
        self.labels = folder / f"{covariance_type}-labels.csv"
        self.resp = folder / f"{covariance_type}-resp.csv"
        ok("fit", str(BLOBS), "-k", "4", "-c", covariance_type, "--seed", "0",
           "--model", str(self.model), "--labels", str(self.labels),
           "--responsibilities", str(self.resp))
        self.doc: dict[str, Any] = json.loads(self.model.read_text())


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Fitted]:
    folder = tmp_path_factory.mktemp("fits")
    return {t: Fitted(folder, t) for t in COVARIANCE_TYPES}


@pytest.fixture(scope="module")
def full(fitted: dict[str, Fitted]) -> Fitted:
    return fitted["full"]


def read_csv(text: str) -> tuple[list[str], NDArray[np.float64]]:
    header = text.splitlines()[0].split(",")
    return header, np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1, ndmin=2)


def blobs_xy() -> NDArray[np.float64]:
    return np.loadtxt(BLOBS, delimiter=",", skiprows=1, usecols=(0, 1))


# --- predict -------------------------------------------------------------------------------


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_predict_gives_the_labels_fit_wrote(fitted: dict[str, Fitted], covariance_type: str) -> None:
    f = fitted[covariance_type]
    out = ok("predict", str(f.model), str(BLOBS)).stdout
    assert out == f.labels.read_text()


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_predict_proba_gives_the_responsibilities_fit_wrote(
    fitted: dict[str, Fitted], covariance_type: str
) -> None:
    f = fitted[covariance_type]
    out = ok("predict", str(f.model), str(BLOBS), "--proba").stdout
    assert out == f.resp.read_text()
    header, resp = read_csv(out)
    assert header == ["p0", "p1", "p2", "p3"]
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-8)
    labels = np.loadtxt(f.labels, dtype=int)
    assert np.array_equal(resp.argmax(axis=1), labels)


def test_predict_to_files_by_extension(tmp_path: Path, full: Fitted) -> None:
    labels = np.loadtxt(full.labels, dtype=int)
    for name in ("labels.csv", "labels.npy", "labels.json"):
        result = ok("predict", str(full.model), str(BLOBS), "-o", str(tmp_path / name))
        assert result.stdout == ""
    assert (tmp_path / "labels.csv").read_text() == full.labels.read_text()
    npy = np.load(tmp_path / "labels.npy")
    assert npy.dtype == np.int64 and np.array_equal(npy, labels)
    assert json.loads((tmp_path / "labels.json").read_text()) == labels.tolist()


def test_predict_reads_stdin_and_selects_the_model_columns(full: Fitted) -> None:
    text = "".join(f"{line},extra\n" for line in BLOBS.read_text().splitlines())
    # x, y, x,y,extra: the header holds the model's x and y among others
    assert ok("predict", str(full.model), "-", input=text).stdout == full.labels.read_text()


def test_predict_headerless_data_uses_every_column(full: Fitted) -> None:
    xy = "".join(f"{line}\n" for line in BLOBS.read_text().splitlines()[1:])
    result = ok("predict", str(full.model), "-", input=xy)
    assert result.stdout == full.labels.read_text()
    assert result.stderr == ""


def test_a_model_of_columns_chosen_by_index_reads_headerless_data_in_order(
        tmp_path: Path) -> None:
    """fit --columns 1,0 on data without a header names the model's features "1", "0";
    predict on a file of those two columns, in that order, took them by those names as
    indices and swapped them (exit 0, most labels off).  Such data are read in order;
    the three-column original needs --columns 1,0 again (an error says so)."""
    rows = BLOBS.read_text().splitlines()[1:]
    (tmp_path / "all.csv").write_text("".join(f"{r},{i % 7}\n" for i, r in enumerate(rows)))
    (tmp_path / "two.csv").write_text(
        "".join(",".join(r.split(",")[::-1]) + "\n" for r in rows))
    model, labels = tmp_path / "m.json", tmp_path / "labels.csv"
    ok("fit", str(tmp_path / "all.csv"), "-k", "4", "--seed", "0", "--columns", "1,0",
       "--model", str(model), "-o", str(labels))
    assert ok("predict", str(model), str(tmp_path / "two.csv")).stdout == labels.read_text()
    assert ok("predict", str(model), str(tmp_path / "all.csv"), "--columns", "1,0"
              ).stdout == labels.read_text()
    wide = invoke("predict", str(model), str(tmp_path / "all.csv"))
    assert wide.exit_code == 1 and "select 2 columns with --columns" in wide.stderr


def test_predict_other_header_uses_every_column_with_a_warning(tmp_path: Path, full: Fitted) -> None:
    renamed = tmp_path / "renamed.csv"
    lines = BLOBS.read_text().splitlines()
    renamed.write_text("a,b\n" + "".join(f"{ln}\n" for ln in lines[1:]))
    result = ok("predict", str(full.model), str(renamed))
    assert result.stdout == full.labels.read_text()
    assert result.stderr == (f"emgmm: warning: {renamed}: the columns (a, b) are not the "
                             "model's (x, y); using all columns\n")
    quiet = ok("predict", str(full.model), str(renamed), "-q")
    assert quiet.stderr == "" and quiet.stdout == full.labels.read_text()


def test_predict_with_columns_delimiter_and_no_header(tmp_path: Path, full: Fitted) -> None:
    tsv = tmp_path / "data.txt"
    lines = BLOBS.read_text().splitlines()[1:]
    tsv.write_text("".join(f"7;{ln.split(',')[0]};{ln.split(',')[1]}\n"
                           for ln in lines))
    result = ok("predict", str(full.model), str(tsv), "-d", ";", "-H", "--columns", "1,2")
    assert result.stdout == full.labels.read_text()


def test_columns_named_as_the_model_names_them_are_its_columns_in_any_order(
        tmp_path: Path, full: Fitted) -> None:
    """--columns y,x on a model of (x, y) paired the columns by position: every label
    and log-density of the swapped coordinates, exit 0.  The model's own names are taken
    by name, as without --columns; by index they are taken in the order given."""
    swapped = tmp_path / "yx.csv"
    rows = [line.split(",") for line in BLOBS.read_text().splitlines()]
    swapped.write_text("".join(f"{b},{a}\n" for a, b in rows))  # header y,x
    for data in (BLOBS, swapped):
        for columns in ("y,x", "x,y"):
            result = ok("predict", str(full.model), str(data), "--columns", columns)
            assert result.stdout == full.labels.read_text()
            score = json.loads(ok("score", str(full.model), str(data), "--columns", columns,
                                  "--json").stdout)
            assert score["log_likelihood"] == pytest.approx(full.doc["log_likelihood"],
                                                            rel=1e-12)
    by_index = ok("predict", str(full.model), str(swapped), "--columns", "1,0")
    assert by_index.stdout == full.labels.read_text() and by_index.stderr == ""
    # by index in another order, but named as the model's: taken by name, said so (the
    # coordinates were swapped, with a warning that they were "not the model's")
    for command in ("predict", "score"):
        other = invoke(command, str(full.model), str(swapped), "--columns", "0,1")
        assert other.exit_code == 0 and other.stdout == ok(command, str(full.model),
                                                           str(BLOBS)).stdout
        assert other.stderr == (f"emgmm: warning: {swapped}: the columns given (y, x) are the "
                                "model's in another order; using them in its (x, y)\n")
    refit = tmp_path / "refit.json"
    ok("fit", str(BLOBS), "--init-model", str(full.model), "--columns", "y,x",
       "--model", str(refit))
    assert json.loads(refit.read_text())["feature_names"] == ["x", "y"]


def test_columns_given_by_other_names_are_said_as_a_header_of_other_names_is(
        tmp_path: Path, full: Fitted) -> None:
    """--columns naming columns that are not the model's (x,w for a model of x, y) used
    them by position without a word, where a header of other names without --columns
    is warned of: warned alike, in the command and the Python API."""
    import warnings

    import emgmm_cli

    more = tmp_path / "xyw.csv"
    rows = [line.split(",") for line in BLOBS.read_text().splitlines()]
    more.write_text("".join(f"{a},{b},{'w' if i == 0 else i % 7}\n"
                            for i, (a, b) in enumerate(rows)))
    said = ("the columns given (x, w) are not the model's (x, y); using them in the order "
            "given")
    result = ok("predict", str(full.model), str(more), "--columns", "x,w")
    assert result.stderr == f"emgmm: warning: {more}: {said}\n"
    with pytest.warns(emgmm_cli.FitWarning, match=re.escape(said)):
        emgmm_cli.predict(str(full.model), str(more), read=emgmm_cli.ReadOptions(
            columns=["x", "w"]))
    for columns in ("y,x", "x,y"):  # the model's own, in any order: nothing to say
        assert ok("predict", str(full.model), str(more), "--columns", columns).stderr == ""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        emgmm_cli.predict(str(full.model), str(more), read=emgmm_cli.ReadOptions(
            columns=["y", "x"]))


def test_predict_refuses_to_overwrite_its_inputs(full: Fitted) -> None:
    for target in (full.model, BLOBS):
        result = invoke("predict", str(full.model), str(BLOBS), "-o", str(target))
        assert result.exit_code == 2
        assert "refusing to overwrite the input file" in result.stderr


def test_predict_data_errors_exit_1(tmp_path: Path, full: Fitted) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n3,abc\n")
    result = invoke("predict", str(full.model), str(bad))
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {bad}:3: column 'y': non-numeric value 'abc'; fix or "
                             "remove the row; use --columns to read only numeric columns\n")
    assert result.stdout == ""


# --- score ---------------------------------------------------------------------------------


def sklearn_mixture(doc: dict[str, Any]) -> Any:
    """scikit-learn's GaussianMixture holding the model's parameters."""
    from sklearn.mixture import GaussianMixture

    cov_type = doc["covariance_type"]
    cov = np.array(doc["covariances"])
    gm = GaussianMixture(n_components=doc["n_components"], covariance_type=cov_type)
    gm.weights_ = np.array(doc["weights"])
    gm.means_ = np.array(doc["means"])
    gm.covariances_ = cov
    if cov_type in ("full", "tied"):
        # cov = L L^T, so U = L^-T is upper triangular with U U^T = inv(cov)
        gm.precisions_cholesky_ = np.linalg.inv(np.linalg.cholesky(cov)).swapaxes(-1, -2)
    else:
        gm.precisions_cholesky_ = 1.0 / np.sqrt(cov)
    gm.n_features_in_ = doc["n_features"]
    return gm


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_score_matches_sklearn_and_the_model(
    tmp_path: Path, fitted: dict[str, Fitted], covariance_type: str
) -> None:
    f = fitted[covariance_type]
    out = ok("score", str(f.model), str(BLOBS)).stdout
    header, text_dens = read_csv(out)
    assert header == ["log_density"]
    ok("score", str(f.model), str(BLOBS), "-o", str(tmp_path / "dens.npy"))
    dens = np.load(tmp_path / "dens.npy")  # full precision (CSV holds 10 digits)
    assert dens.shape == (350, 1)
    np.testing.assert_allclose(text_dens[:, 0], dens[:, 0], rtol=1e-9)
    expected = sklearn_mixture(f.doc).score_samples(blobs_xy())
    np.testing.assert_allclose(dens[:, 0], expected, rtol=0, atol=1e-10)

    summary = json.loads(ok("score", str(f.model), str(BLOBS), "--json").stdout)
    assert summary["log_likelihood"] == f.doc["log_likelihood"]  # bit for bit
    assert summary["mean_log_likelihood"] == f.doc["log_likelihood"] / f.doc["n_samples"]
    assert summary["mean_log_likelihood"] == f.doc["mean_log_likelihood"]
    assert summary["n_samples"] == 350
    assert summary["model"] == str(f.model) and summary["source"] == str(BLOBS)


def test_a_component_of_weight_0_takes_no_point_and_adds_no_density(
    tmp_path: Path, full: Fitted
) -> None:
    """The model file allows a weight of 0: that component has no density anywhere, so
    even points far from every component belong to the others (as scipy says), with or
    without a missing value."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    doc = dict(full.doc, weights=[0.5, 0.5, 0.0, 0.0])
    model = tmp_path / "zero.json"
    model.write_text(json.dumps(doc))
    means, covs = np.array(doc["means"]), np.array(doc["covariances"])
    far = np.vstack([means[2] + 300.0, means[3] - 300.0, means[2] * 50.0])
    data = tmp_path / "far.csv"
    np.savetxt(data, far, delimiter=",", header="x,y", comments="")
    for args in ([], ["--missing", "em"]):
        done = subprocess.run([str(EMGMM), "score", str(model), str(data), "-o",
                               str(tmp_path / "dens.npy"), *args], capture_output=True, text=True)
        assert done.returncode == 0 and done.stderr == ""
        labels = subprocess.run([str(EMGMM), "predict", str(model), str(data), *args],
                                capture_output=True, text=True, check=True).stdout.split()
        lp = np.array([multivariate_normal(means[j], covs[j]).logpdf(far) for j in (0, 1)])
        np.testing.assert_allclose(np.load(tmp_path / "dens.npy")[:, 0],
                                   logsumexp(lp + np.log(0.5), axis=0), rtol=1e-12)
        assert labels == [str(j) for j in lp.argmax(axis=0)]


def test_score_threshold_over_rows_left_out_by_missing_drop(tmp_path: Path,
                                                             full: Fitted) -> None:
    """guide.md: a row --missing drop leaves out has no log-density (empty), is no
    outlier (0), and the cutoff is the quantile of the rows scored."""
    lines = BLOBS.read_text().splitlines()
    holed = tmp_path / "holed.csv"
    holed.write_text(lines[0] + "\n" + "".join(
        (",".join(["", ln.split(",")[1]]) if i % 7 == 0 else ln) + "\n"
        for i, ln in enumerate(lines[1:])))
    out = tmp_path / "scored.csv"
    summary = json.loads(ok("score", str(full.model), str(holed), "--missing", "drop",
                            "--threshold", "0.1", "-o", str(out), "--json").stdout)
    rows = out.read_text().splitlines()[1:]
    gone = [i for i in range(len(rows)) if i % 7 == 0]
    assert all(rows[i] == ",0" for i in gone)
    kept = np.array([float(r.split(",")[0]) for i, r in enumerate(rows) if i % 7])
    assert summary["n_dropped"] == len(gone)
    assert summary["cutoff_log_density"] == pytest.approx(np.quantile(kept, 0.1), abs=1e-8)


def test_score_threshold_flags_the_lowest_quantile(tmp_path: Path, full: Fitted) -> None:
    out = tmp_path / "scored.csv"
    result = ok("score", str(full.model), str(BLOBS), "--threshold", "0.1", "-o", str(out),
                "--json")
    summary = json.loads(result.stdout)
    header, table = read_csv(out.read_text())
    assert header == ["log_density", "outlier"]
    dens, flags = table[:, 0], table[:, 1].astype(int)
    cutoff = np.quantile(dens, 0.1)
    assert summary["threshold"] == 0.1
    assert summary["cutoff_log_density"] == pytest.approx(cutoff, abs=1e-8)
    assert summary["n_outliers"] == int(flags.sum()) == 35
    assert set(flags.tolist()) == {0, 1}
    assert dens[flags == 1].max() < dens[flags == 0].min()


def test_score_summary_on_a_terminal(full: Fitted) -> None:
    result = ok("score", str(full.model), str(BLOBS), "--threshold", "0.05", tty=True)
    text = result.stdout
    assert "log_density" not in text  # the per-sample table is not dumped on a terminal
    assert f"{full.doc['log_likelihood']:.10g}" in text
    assert "outliers" in text and "18 of 350" in text


def test_score_table_to_stdout_and_summary_to_a_terminal_stderr(full: Fitted) -> None:
    result = ok("score", str(full.model), str(BLOBS), "-o", "-", tty=True)
    assert result.stdout.startswith("log_density\n")
    assert "log-likelihood" in result.stderr


def test_score_quiet_and_json_print_no_summary(full: Fitted) -> None:
    result = ok("score", str(full.model), str(BLOBS), "-q", tty=True)
    assert result.stdout == "" and result.stderr == ""
    result = ok("score", str(full.model), str(BLOBS), "--json", tty=True)
    assert json.loads(result.stdout)["n_samples"] == 350 and result.stderr == ""


@pytest.mark.parametrize("args, message", [
    (["--threshold", "0"], "Invalid value for '--threshold': 0.0 is not in the range 0<x<1."),
    (["--threshold", "1"], "Invalid value for '--threshold': 1.0 is not in the range 0<x<1."),
    (["--json", "-o", "-"], "only one output can go to stdout, got -o, --json"),
])
def test_score_usage_errors(full: Fitted, args: list[str], message: str) -> None:
    result = invoke("score", str(full.model), str(BLOBS), *args)
    assert result.exit_code == 2
    assert result.stderr.endswith(f"Error: {message}\n")


# --- sample --------------------------------------------------------------------------------


def match_components(means: NDArray[np.float64], other: NDArray[np.float64]) -> list[int]:
    order = [int(np.argmin(np.linalg.norm(other - m, axis=1))) for m in means]
    assert sorted(order) == list(range(len(means)))
    return order


def test_sample_then_fit_recovers_the_model(tmp_path: Path, full: Fitted) -> None:
    data = tmp_path / "sampled.csv"
    truth = tmp_path / "truth.npy"
    ok("sample", str(full.model), "-n", "20000", "--seed", "1", "-o", str(data), "--labels",
       str(truth))
    header, table = read_csv(data.read_text())
    assert header == ["x", "y"] and table.shape == (20000, 2)
    refit = tmp_path / "refit.json"
    ok("fit", str(data), "-k", "4", "--seed", "0", "--model", str(refit),
       "-o", str(tmp_path / "labels.csv"))
    doc = json.loads(refit.read_text())
    means, weights = np.array(full.doc["means"]), np.array(full.doc["weights"])
    order = match_components(means, np.array(doc["means"]))
    np.testing.assert_allclose(np.array(doc["weights"])[order], weights, atol=0.02)
    np.testing.assert_allclose(np.array(doc["means"])[order], means, atol=0.1)
    # --labels holds the component each point was drawn from
    counts = np.bincount(np.load(truth), minlength=4) / 20000
    np.testing.assert_allclose(counts, weights, atol=0.02)


def test_sample_same_seed_same_bytes(tmp_path: Path, full: Fitted) -> None:
    first = ok("sample", str(full.model), "-n", "300", "--seed", "5").stdout
    assert ok("sample", str(full.model), "-n", "300", "--seed", "5").stdout == first
    assert ok("sample", str(full.model), "-n", "300", "--seed", "6").stdout != first
    for name in ("a.npy", "b.npy"):
        ok("sample", str(full.model), "-n", "300", "--seed", "5", "-o", str(tmp_path / name))
    assert (tmp_path / "a.npy").read_bytes() == (tmp_path / "b.npy").read_bytes()
    arr = np.load(tmp_path / "a.npy")
    _, table = read_csv(first)
    assert arr.shape == (300, 2)
    np.testing.assert_allclose(arr, table, rtol=1e-9)


def test_sampled_points_far_from_zero_keep_their_decimals(tmp_path: Path) -> None:
    """A model of points near 2e9 (seconds since 1970, say) that differ by units: the
    points drawn from it are written to 10 digits of their spread, as the .npy holds
    them, not rounded to whole seconds."""
    data, model = tmp_path / "times.csv", tmp_path / "m.json"
    x = 2e9 + np.random.default_rng(0).normal(size=(200, 2)) * [1.0, 3.0]
    np.savetxt(data, x, delimiter=",", header="t,u", comments="", fmt="%.17g")
    ok("fit", str(data), "-k", "1", "--seed", "0", "--model", str(model))
    _, text = read_csv(ok("sample", str(model), "-n", "50", "--seed", "1").stdout)
    ok("sample", str(model), "-n", "50", "--seed", "1", "-o", str(tmp_path / "s.npy"))
    arr = np.load(tmp_path / "s.npy")
    assert not np.all(text == np.round(text))
    assert np.all(np.abs(text - arr) <= 1e-10 * (arr.max(axis=0) - arr.min(axis=0)))


def test_a_subnormal_variance_is_sampled_as_the_other_commands_take_it(tmp_path: Path) -> None:
    """A model whose covariance is diag(5e-324) (info, predict and score take it) made
    sample fail 'blob 0: covariance is not positive definite': halved to symmetrise it,
    each variance underflowed to 0.  A symmetric covariance is factorised as it is."""
    data, model = tmp_path / "d.csv", tmp_path / "m.json"
    x = np.random.default_rng(0).normal(size=(60, 2)) + np.repeat([[0, 0], [9, 9]], 30, 0)
    np.savetxt(data, x, delimiter=",", header="a,b", comments="")
    ok("fit", str(data), "-k", "2", "--seed", "0", "--model", str(model), "-q")
    doc = json.loads(model.read_text())
    doc["covariances"][0] = [[5e-324, 0.0], [0.0, 5e-324]]
    model.write_text(json.dumps(doc))
    ok("predict", str(model), str(data))
    _, drawn = read_csv(ok("sample", str(model), "-n", "400", "--seed", "1", "--labels",
                           str(tmp_path / "k.csv")).stdout)
    which = np.loadtxt(tmp_path / "k.csv", dtype=int)
    first = drawn[which == 0]  # spread 2e-162: the mean to the digits written
    assert len(first) > 100 and (first == first[0]).all()
    np.testing.assert_allclose(first[0], doc["means"][0], rtol=1e-9, atol=1e-9)
    assert drawn[which == 1].std(axis=0).min() > 0.1


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_every_family(fitted: dict[str, Fitted], covariance_type: str) -> None:
    f = fitted[covariance_type]
    header, table = read_csv(ok("sample", str(f.model), "-n", "4000", "--seed", "2",
                                "--label-column", "label").stdout)
    assert header == ["x", "y", "label"]
    labels = table[:, 2].astype(int)
    assert np.all(np.diff(labels) >= 0)  # component by component
    means = np.array(f.doc["means"])
    for k in range(4):
        np.testing.assert_allclose(table[labels == k, :2].mean(axis=0), means[k], atol=0.25)


def test_sample_tsv_and_label_name_clash(tmp_path: Path, full: Fitted) -> None:
    out = tmp_path / "s.tsv"
    ok("sample", str(full.model), "-n", "10", "--seed", "0", "-o", str(out))
    assert out.read_text().splitlines()[0] == "x\ty"
    clash = invoke("sample", str(full.model), "-n", "10", "--label-column", "y")
    assert clash.exit_code == 2
    assert "--label-column y is the name of a coordinate column (x, y)" in clash.stderr


@pytest.mark.parametrize("args, message", [
    ([], "Missing option '-n' / '--n-samples'."),
    (["-n", "-1"], "Invalid value for '-n' / '--n-samples': -1 is not in the range x>=0."),
    (["-n", "99999999999999999999"], ("Invalid value for '-n' / '--n-samples': "
                                      "99999999999999999999 points are more than numpy can "
                                      "index (at most 9223372036854775807)")),
])
def test_sample_usage_errors(full: Fitted, args: list[str], message: str) -> None:
    result = invoke("sample", str(full.model), *args)
    assert result.exit_code == 2
    assert result.stderr.endswith(f"Error: {message}\n")


def test_sample_of_more_points_than_memory_can_hold(full: Fitted) -> None:
    """2^62 points: a count numpy indexes, an array no memory holds (exit 1, the advice)."""
    result = invoke("sample", str(full.model), "-n", str(2**62), "--seed", "0")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == ("Error: out of memory; draw fewer points with -n (or several "
                             "samples with different --seed)\n")


def test_sample_of_no_points_is_make_blobs_of_none(tmp_path: Path, full: Fitted) -> None:
    """-n 0 writes what make-blobs -n 0 writes: the columns and no rows (in every format),
    and an empty labels file."""
    assert ok("sample", str(full.model), "-n", "0", "--seed", "0").stdout == "x,y\n"
    assert ok("make-blobs", "-n", "0", "--seed", "0").stdout == "x0,x1\n"
    for name in ("s.npy", "s.json", "s.parquet"):
        ok("sample", str(full.model), "-n", "0", "-o", str(tmp_path / name), "--labels",
           str(tmp_path / "labels.csv"))
        assert (tmp_path / "labels.csv").read_text() == ""
    assert np.load(tmp_path / "s.npy").shape == (0, 2)
    assert json.loads((tmp_path / "s.json").read_text()) == []
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    assert pd.read_parquet(tmp_path / "s.parquet").columns.tolist() == ["x", "y"]
    assert len(pd.read_parquet(tmp_path / "s.parquet")) == 0


# --- info ----------------------------------------------------------------------------------


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_info_plain_text_in_a_pipe(fitted: dict[str, Fitted], covariance_type: str) -> None:
    f = fitted[covariance_type]
    text = ok("info", str(f.model)).stdout
    lines = text.splitlines()
    assert "components (K): 4" in lines
    assert "features (D): 2 (x, y)" in lines
    assert f"covariance type: {covariance_type}" in lines
    assert f"BIC: {f.doc['bic']:.10g}" in lines
    assert f"AIC: {f.doc['aic']:.10g}" in lines
    assert any(line.startswith("options: init=auto") and "seed=0" in line for line in lines)
    assert sum(line.startswith("component ") for line in lines) == 4
    assert f"component 0: weight {f.doc['weights'][0]:.6g}," in text
    assert "\x1b[" not in text and "━" not in text


def test_info_tables_on_a_terminal(full: Fitted) -> None:
    text = ok("info", str(full.model), tty=True).stdout
    assert "K=4" in text and "D=2" in text and "full covariance" in text
    assert "BIC / AIC / ICL" in text and "weight" in text


@pytest.mark.parametrize("tty", [False, True])
def test_info_expands_the_covariances_once(full: Fitted, tty: bool,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Each component's line expanded every component's covariance, and the line of each
    computed every line: K^3 D^2 work (a model of K = 80 in 30 columns took 17 s, K = 300
    did not end in 8 minutes; now 0.6 s)."""
    from emgmm_cli.engine.families import Family

    expanded: list[int] = []
    to_full = Family.to_full

    def counted(self: Family, cov: Any, k: int, d: int) -> Any:
        expanded.append(k)
        return to_full(self, cov, k, d)

    monkeypatch.setattr(Family, "to_full", counted)
    assert "component" in ok("info", str(full.model), tty=tty).stdout
    assert expanded == [4]


def test_info_says_a_fit_was_weighted_and_lists_every_option(tmp_path: Path) -> None:
    """info of a model fitted with --sample-weights and --known-labels named neither: its
    options line stopped at the seed (no dtype, weights, known labels, missing), and its
    'per sample' log-likelihood, divided by the weights' sum, sat beside the row count."""
    (tmp_path / "w.csv").write_text("2\n" * 350)
    (tmp_path / "known.csv").write_text("0\n" + "-1\n" * 349)
    model = tmp_path / "m.json"
    ok("fit", str(BLOBS), "-k", "4", "--seed", "0", "--sample-weights", str(tmp_path / "w.csv"),
       "--known-labels", str(tmp_path / "known.csv"), "--model", str(model), "-o",
       str(tmp_path / "labels.csv"))
    lines = ok("info", str(model)).stdout.splitlines()
    assert f"fitted on: {BLOBS} (350 rows, sample weights summing to 700, the n of the " \
           "per-sample log-likelihood and the criteria)" in lines
    options = next(line for line in lines if line.startswith("options: "))
    for shown in ("dtype=float64", f"sample_weights={tmp_path / 'w.csv'}",
                  f"known_labels={tmp_path / 'known.csv'}", "missing=error"):
        assert f" {shown}" in options, options
    table = ok("info", str(model), tty=True).stdout
    assert "sample weights summing to 700" in table


def test_info_json_echoes_the_document(full: Fitted) -> None:
    assert json.loads(ok("info", str(full.model), "--json").stdout) == full.doc


# --- every command ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["make-blobs", "predict", "score", "sample", "info"])
def test_help_has_examples_and_every_option_has_help(command: str) -> None:
    from emgmm_cli.cli.main import cli as group

    result = ok(command, "--help")
    assert "Examples:" in result.stdout
    sub = group.commands[command]
    for param in sub.params:
        if param.param_type_name == "option":
            assert getattr(param, "help", None), f"{command}: {param.name} has no help"


def test_group_help_lists_the_commands() -> None:
    out = ok("--help").stdout
    for command in ("make-blobs", "predict", "score", "sample", "info"):
        assert f"  {command}" in out


# --- real subprocesses, one per command --------------------------------------------------------


def shell(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(script, shell=True, cwd=cwd, capture_output=True, text=True,
                          check=False)


def test_subprocess_predict_into_sort_uniq(tmp_path: Path, full: Fitted) -> None:
    done = shell(f"{shlex.quote(str(EMGMM))} predict {shlex.quote(str(full.model))} "
                 f"{shlex.quote(str(BLOBS))} | sort | uniq -c", tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    counts = {int(label): int(n) for n, label in (line.split() for line in done.stdout.splitlines())}
    labels = np.loadtxt(full.labels, dtype=int)
    assert counts == {k: int(v) for k, v in enumerate(np.bincount(labels))}


def test_subprocess_score_json(tmp_path: Path, full: Fitted) -> None:
    done = shell(f"cat {shlex.quote(str(BLOBS))} | {shlex.quote(str(EMGMM))} score "
                 f"{shlex.quote(str(full.model))} - --json", tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    summary = json.loads(done.stdout)
    assert summary["log_likelihood"] == full.doc["log_likelihood"]
    assert summary["source"] == "<stdin>"


def test_subprocess_sample_into_head_exits_quietly(tmp_path: Path, full: Fitted) -> None:
    done = shell(f"{shlex.quote(str(EMGMM))} sample {shlex.quote(str(full.model))} -n 200000 "
                 "--seed 3 | head -n 3", tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.splitlines()[0] == "x,y"
    assert len(done.stdout.splitlines()) == 3


def test_subprocess_sample_of_a_model_of_unnamed_columns_into_predict(tmp_path: Path
                                                                     ) -> None:
    """sample --help's own pipeline on a model fitted to a headerless file: sample writes
    the model's names 0,1 as its header, which predict and score read as a row of data
    (a warning, 501 labels for 500 points, a log-likelihood with the density of (0, 1)
    in it, exit 0).  A header that numbers the columns from 0 over decimals is a header,
    and where it is the model's own names, nothing needs saying."""
    bare = tmp_path / "bare.csv"
    bare.write_text("".join(f"{ln}\n" for ln in BLOBS.read_text().splitlines()[1:]))
    emgmm, model = shlex.quote(str(EMGMM)), "model.json"
    fit = shell(f"{emgmm} fit bare.csv -k 4 --seed 0 --model {model} -q > labels.csv", tmp_path)
    assert fit.returncode == 0, fit.stderr
    assert json.loads((tmp_path / model).read_text())["feature_names"] == ["0", "1"]
    done = shell(f"{emgmm} sample {model} -n 500 --seed 1 --labels truth.csv "
                 f"| {emgmm} predict {model} - | wc -l", tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.strip() == "500"
    scored = shell(f"{emgmm} sample {model} -n 500 --seed 1 | {emgmm} score {model} - --json",
                   tmp_path)
    assert scored.returncode == 0 and scored.stderr == ""
    assert json.loads(scored.stdout)["n_samples"] == 500


def test_subprocess_info_into_grep(tmp_path: Path, full: Fitted) -> None:
    done = shell(f"{shlex.quote(str(EMGMM))} info {shlex.quote(str(full.model))} "
                 "| grep -E '^(components|features|covariance type)'", tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout == ("components (K): 4\nfeatures (D): 2 (x, y)\n"
                           "covariance type: full\n")


def test_info_and_the_fit_summary_escape_a_file_name_that_would_drive_the_terminal(
        tmp_path: Path) -> None:
    """A data file named with ESC [2J and a newline: `fit` on a terminal and `info` wrote
    the name as it is, so the terminal cleared its screen, and info's 'fitted on:' line
    was cut in two lines (grep found half of it).  Now such characters are written as
    escapes, as in every message, and each value stays on its line."""
    name = "we\x1b[2Jird\nname.csv"
    data, model = tmp_path / name, tmp_path / "model.json"
    data.write_bytes(BLOBS.read_bytes())
    env = {**os.environ, "EMGMM_FORCE_TTY": "1", "COLUMNS": "200"}
    fit = subprocess.run([str(EMGMM), "fit", str(data), "-k", "2", "--seed", "0", "--model",
                          str(model), "--no-color", "-o", str(tmp_path / "labels.csv")],
                         capture_output=True, text=True, env=env, check=False, timeout=120)
    assert fit.returncode == 0, fit.stderr
    shown = "we\\x1b[2Jird\\x0aname.csv"
    assert "\x1b" not in fit.stdout + fit.stderr and shown in fit.stdout + fit.stderr
    table = subprocess.run([str(EMGMM), "info", str(model), "--no-color"], env=env,
                           capture_output=True, text=True, check=False, timeout=60)
    assert table.returncode == 0 and "\x1b" not in table.stdout and shown in table.stdout
    done = shell(f"{shlex.quote(str(EMGMM))} info {shlex.quote(str(model))} | grep '^fitted'",
                 tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout == f"fitted on: {tmp_path}/{shown} (350 rows)\n"


def test_info_json_to_a_file_names_the_option_given(tmp_path: Path, full: Fitted) -> None:
    """info --json -o out.txt said "give --model a .json name", an option info does not
    have, and info --json -o MODEL refused to overwrite it "with model"; now the messages
    name -o."""
    for out, message in ((tmp_path / "out.txt", "the model is a JSON document; give -o a "
                          f".json name, not {tmp_path / 'out.txt'}"),
                         (full.model, f"refusing to overwrite the input file {full.model} "
                          "with -o")):
        before = full.model.read_bytes()
        done = subprocess.run([str(EMGMM), "info", str(full.model), "--json", "-o", str(out)],
                              capture_output=True, text=True, check=False, timeout=60)
        assert done.returncode == 2 and done.stderr.splitlines()[-1] == f"Error: {message}"
        assert full.model.read_bytes() == before
    assert list(tmp_path.iterdir()) == []


def test_info_to_a_file_writes_what_its_extension_names(tmp_path: Path, full: Fitted) -> None:
    """info -o info.json wrote the 'name: value' lines into a .json file; a .json name
    gets the document now (as --json), and a table format's name, which info cannot
    write, is bad usage."""
    ok("info", str(full.model), "-o", str(tmp_path / "i.json"))
    assert json.loads((tmp_path / "i.json").read_text()) == full.doc
    ok("info", str(full.model), "-o", str(tmp_path / "i.txt"))
    assert (tmp_path / "i.txt").read_text() == ok("info", str(full.model)).stdout
    for name in ("i.csv", "i.jsonl", "i.npy"):
        result = invoke("info", str(full.model), "-o", str(tmp_path / name))
        assert result.exit_code == 2 and result.stderr.splitlines()[-1] == (
            "Error: info writes the model document to a .json name and its 'name: value' "
            f"lines to another; {tmp_path / name} names a table format")
    for name in ("i.json.gz", "i.txt.xz"):  # written uncompressed before
        result = invoke("info", str(full.model), "-o", str(tmp_path / name))
        assert result.exit_code == 2 and result.stderr.splitlines()[-1] == (
            "Error: info writes no compressed file; give -o a name without "
            f"{os.path.splitext(name)[1]}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["i.json", "i.txt"]


# --- what the weights and the known labels do, as each command's help says ------------------


def test_weights_and_known_labels_do_what_each_commands_help_says(full: Fitted,
                                                                  tmp_path: Path) -> None:
    """predict's and score's --help said what they do in a fit ("statistics, log-likelihood,
    k-means start", "BIC takes the sum of the weights as n", "Semi-supervised EM").  Now
    each command's help says what they do there, and this checks that it is so: predict
    keeps the known rows' components and ignores the weights; score weights its total and
    ignores the known labels."""
    from emgmm_cli.cli.options import (LABEL_KNOWN, LABEL_WEIGHTS, SCORE_KNOWN,
                                       SCORE_WEIGHTS)

    n = len(blobs_xy())
    weights, known = tmp_path / "w.txt", tmp_path / "k.txt"
    w = np.ones(n)
    w[:5] = 3.0
    np.savetxt(weights, w)
    plain = np.loadtxt(io.StringIO(ok("predict", str(full.model), str(BLOBS)).stdout))
    flipped = np.full(n, -1)
    flipped[:5] = (plain[:5] + 1) % 4
    np.savetxt(known, flipped, fmt="%d")
    for command, says in (("predict", (LABEL_WEIGHTS, LABEL_KNOWN)),
                          ("score", (SCORE_WEIGHTS, SCORE_KNOWN))):
        help_text = " ".join(ok(command, "--help").stdout.split())
        assert all(" ".join(s.split()) in help_text for s in says)
        assert "Semi-supervised" not in help_text and "k-means start" not in help_text

    def run(command: str, *extra: str) -> NDArray[np.float64]:
        out = ok(command, str(full.model), str(BLOBS), *extra).stdout
        return np.loadtxt(io.StringIO(out), skiprows=1 if command == "score" else 0)

    np.testing.assert_array_equal(run("predict", "--sample-weights", str(weights)), plain)
    kept = run("predict", "--known-labels", str(known))
    np.testing.assert_array_equal(kept[:5], flipped[:5])
    np.testing.assert_array_equal(kept[5:], plain[5:])
    density = run("score")
    np.testing.assert_array_equal(run("score", "--known-labels", str(known)), density)
    total = json.loads(ok("score", str(full.model), str(BLOBS), "--sample-weights",
                          str(weights), "--json").stdout)
    assert total["log_likelihood"] == pytest.approx(float(w @ density), rel=1e-8)  # 10 digits


def test_missing_does_what_each_commands_help_says(full: Fitted, tmp_path: Path) -> None:
    """predict's, score's and plot's --help said what --missing does in a fit: drop "left
    out of the fit", em "take part in EM"; none of them fits.  Their help now says what
    it does there, and this checks that it is so: drop gives label -1, NaN
    responsibilities and log-density and leaves the row out of score's total; em labels
    and scores the row by its observed coordinate."""
    from emgmm_cli.cli.options import APPLY_MISSING

    for command in ("predict", "score", "plot"):
        help_text = " ".join(ok(command, "--help").stdout.split())
        assert " ".join(APPLY_MISSING.split()) in help_text, command
        assert "out of the fit" not in help_text and "part in EM" not in help_text
    lines = BLOBS.read_text().splitlines()
    lines[1] = lines[1].split(",")[0] + ","  # row 0: y missing
    holed = tmp_path / "holed.csv"
    holed.write_text("\n".join(lines) + "\n")
    model, data = str(full.model), str(holed)

    def table(*args: str) -> list[str]:
        return ok(*args).stdout.splitlines()

    assert table("predict", model, data, "--missing", "drop")[0] == "-1"
    assert table("predict", model, data, "--missing", "drop", "--proba")[1] == ",,,"
    assert table("score", model, data, "--missing", "drop")[1] == '""'
    assert table("predict", model, data, "--missing", "em")[0] in list("0123")
    assert float(table("score", model, data, "--missing", "em")[1]) < 0
    n = len(lines) - 1
    totals = {how: json.loads(ok("score", model, data, "--missing", how, "--json").stdout)
              for how in ("drop", "em")}
    assert (totals["drop"]["n_samples"], totals["em"]["n_samples"]) == (n - 1, n)


def test_a_sample_seed_out_of_range_is_refused_as_fits_are(full: Fitted) -> None:
    """sample --seed 9007199254740992 was refused with "seed must be an integer from 0 to
    9007199254740991 or null" (null: a model file's word) under a help that said only
    [x>=0].  It is now checked as fit's --seed is, with fit's message."""
    for seed in ("9007199254740992", "-1"):
        result = invoke("sample", str(full.model), "-n", "2", "--seed", seed)
        assert result.exit_code == 2 and result.stdout == ""
        assert result.stderr.splitlines()[-1] == (
            f"Error: Invalid value for '--seed': '{seed}' is not an integer from 0 to "
            "9007199254740991.")
    assert len(ok("sample", str(full.model), "-n", "2", "--seed",
                  "9007199254740991").stdout.splitlines()) == 3


def test_a_headerless_models_sample_with_its_labels_reads_back(tmp_path: Path) -> None:
    """A model of unnamed columns (0, 1) has its samples written as 0,1,L with
    --label-column L: predict refused them ("has 3 columns (0, 1, L) but the model has
    2"), the model's names being indices.  The first D columns of such a header are the
    model's."""
    rows = [line.split(",") for line in BLOBS.read_text().splitlines()[1:]]
    (tmp_path / "bare.csv").write_text("".join(f"{a},{b}\n" for a, b in rows))
    ok("fit", str(tmp_path / "bare.csv"), "-k", "4", "--seed", "0", "--model",
       str(tmp_path / "bare.json"), "-o", str(tmp_path / "l.csv"))
    ok("sample", str(tmp_path / "bare.json"), "-n", "40", "--seed", "1", "--label-column", "L",
       "-o", str(tmp_path / "s.csv"))
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert lines[0] == "0,1,L"
    (tmp_path / "xy.csv").write_text("".join(",".join(ln.split(",")[:2]) + "\n"
                                             for ln in lines))
    labelled = ok("predict", str(tmp_path / "bare.json"), str(tmp_path / "s.csv"))
    assert labelled.stdout == ok("predict", str(tmp_path / "bare.json"),
                                 str(tmp_path / "xy.csv")).stdout
    assert len(labelled.stdout.split()) == 40
