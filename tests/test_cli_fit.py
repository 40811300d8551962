"""`emgmm fit` at the command line: every option, where output goes, and real processes.

Most tests drive the click command in-process with CliRunner (click >= 8.2 keeps
result.stdout and result.stderr apart; result.output is the two interleaved).  The ones
that need a real process (pipes, stdin, SIGPIPE, Ctrl-C, import cost) use subprocess.
Numbers are compared with the engine run directly and, where it is cheap, with an
independent computation in scipy.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from emgmm_cli.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
BLOBS = ROOT / "sample_data" / "blobs4.csv"
HEIGHTS = ROOT / "sample_data" / "heights.csv"

# The generating parameters of sample_data/blobs4.csv (sample_data/README.md).
BLOB_SIZES = np.array([80, 60, 70, 140])
BLOB_CENTERS = np.array([[1.0, 1.0], [5.0, 5.0], [6.0, 1.0], [2.0, 8.0]])

MODEL_KEYS = {
    "format", "version", "covariance_type", "n_components", "n_features", "feature_names",
    "weights", "means", "covariances", "n_samples", "log_likelihood", "mean_log_likelihood",
    "n_parameters", "bic", "aic", "icl", "converged", "n_iter", "degenerate", "events",
    "restart_log_likelihoods", "options", "source",
}
OPTION_KEYS = {"n_components", "covariance_type", "init", "n_init", "tol", "max_iter",
               "reg_covar", "algorithm", "seed"}


# --------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No forced terminal, no colour, a fixed width, whatever the caller's shell has."""
    monkeypatch.delenv("EMGMM_FORCE_TTY", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")


def invoke(args: list[Any], *, tty: bool = False, input: bytes | str | None = None) -> Result:
    """Run `emgmm ARGS` in-process; tty=True sets EMGMM_FORCE_TTY=1 for the run."""
    env = {"EMGMM_FORCE_TTY": "1" if tty else None}
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, env=env)


def ok(result: Result) -> Result:
    """Assert a run succeeded, showing its stderr (and exception) when it did not."""
    assert result.exit_code == 0, (result.exit_code, result.stderr, result.exception)
    return result


def fit(*args: Any, tty: bool = False, input: bytes | str | None = None) -> Result:
    return ok(invoke(["fit", *args], tty=tty, input=input))


def fit_json(*args: Any) -> dict[str, Any]:
    """The --json document of a fit."""
    doc: dict[str, Any] = json.loads(fit(*args, "--json").stdout)
    return doc


def int_lines(text: str) -> list[int]:
    """Every line of text as an int (fails on any other line)."""
    lines = text.splitlines()
    assert all(re.fullmatch(r"\d+", line) for line in lines), lines[:5]
    return [int(line) for line in lines]


def blobs_xy() -> np.ndarray:
    return np.loadtxt(BLOBS, delimiter=",", skiprows=1, usecols=(0, 1))


def blobs_truth() -> np.ndarray:
    return np.loadtxt(BLOBS.parent / "blobs4.labels.csv", dtype=int)


def engine_fit(x: np.ndarray, **options: Any) -> tuple[Any, np.ndarray]:
    """The engine's own fit of x and its labels, as `fit` sets it up."""
    from emgmm_cli.backends.local import ArrayDataset, block_rows
    from emgmm_cli.engine import FitOptions, predict_chunk
    from emgmm_cli.engine import fit as engine

    opts = FitOptions(**options)
    rows = block_rows(opts.n_components, x.shape[1])
    data = ArrayDataset(np.ascontiguousarray(x), block_rows=rows)
    result = engine(data, opts)
    labels = np.concatenate([predict_chunk(b, result.params).labels for _, b in data.scan(lambda b, _: b)])
    return result, labels


def full_covariances(doc: dict[str, Any]) -> np.ndarray:
    """The model's covariances as K x D x D, whatever its family."""
    k, d, cov = doc["n_components"], doc["n_features"], np.asarray(doc["covariances"])
    kind = doc["covariance_type"]
    if kind == "full":
        return cov
    if kind == "tied":
        return np.broadcast_to(cov, (k, d, d)).copy()
    if kind == "diag":
        return np.stack([np.diag(c) for c in cov])
    return np.stack([np.eye(d) * c for c in cov])


def mixture_logpdf(x: np.ndarray, weights: Any, means: Any, covs: Any) -> np.ndarray:
    """Per-row log sum_k w_k N(x | mu_k, Sigma_k), by scipy (independent of the engine)."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    lp = np.column_stack([
        math.log(w) + multivariate_normal(np.asarray(m), np.asarray(c)).logpdf(x).reshape(-1)
        for w, m, c in zip(weights, means, covs)
    ])
    return logsumexp(lp, axis=1)


def files_under(folder: Path) -> list[str]:
    """Every file under folder, hidden ones included, as sorted relative paths."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- what goes where


def test_pipe_gets_exactly_one_label_per_line_equal_to_the_engines() -> None:
    result = fit(BLOBS, "-k", 4, "--seed", 0)
    assert result.stderr == ""
    labels = int_lines(result.stdout)
    _, expected = engine_fit(blobs_xy(), n_components=4, seed=0)
    assert labels == expected.tolist()
    assert len(labels) == 350 and set(labels) == {0, 1, 2, 3}


def test_with_rows_beside_other_files_goes_to_stdout_and_with_json_is_refused(
        tmp_path: Path) -> None:
    """`fit DATA --model m.json --with-rows --proba > rows.csv` wrote m.json and nothing
    else, exit 0 (the labels went to stdout only where no other file was named); with
    --json the rows were dropped the same way."""
    plain = fit(BLOBS, "-k", 4, "--seed", 0, "--with-rows", "--proba").stdout
    beside = fit(BLOBS, "-k", 4, "--seed", 0, "--with-rows", "--proba", "--model",
                 tmp_path / "m.json", "--trace", tmp_path / "t.csv")
    assert beside.stdout == plain and plain.startswith("x,y,cluster,p0,p1,p2,p3\n")
    assert len(plain.splitlines()) == 351 and (tmp_path / "m.json").is_file()
    refused = invoke(["fit", BLOBS, "-k", 4, "--json", "--with-rows"])
    assert (refused.exit_code, refused.stdout) == (2, "")
    assert refused.stderr.splitlines()[-1] == (
        "Error: --with-rows writes the rows with their labels, and stdout carries --json; "
        "name a file for them with -o")


def test_terminal_gets_a_summary_not_labels() -> None:
    doc = fit_json(BLOBS, "-k", 4, "--seed", 0)
    out = fit(BLOBS, "-k", 4, "--seed", 0, tty=True).stdout
    assert "log-likelihood" in out and "BIC" in out and "AIC" in out and "ICL" in out
    assert "350 rows x 2 columns (x, y)" in out
    assert f"{doc['log_likelihood']:.2f}" in out
    lines = out.splitlines()
    header = [i for i, line in enumerate(lines) if "component" in line and "weight" in line]
    assert len(header) == 1
    rows = [line for line in lines[header[0] + 1:] if re.match(r"^\s*\d+\s*│", line)]
    assert [int(r.split("│")[0]) for r in rows] == [0, 1, 2, 3]
    for k, row in enumerate(rows):
        assert f"{doc['weights'][k]:.4f}" in row
    assert not any(re.fullmatch(r"\d+", line) for line in lines)  # no bare labels


def test_terminal_with_data_on_stdout_puts_the_summary_on_stderr() -> None:
    result = fit(BLOBS, "-k", 4, "--seed", 0, "-o", "-", tty=True)
    assert len(int_lines(result.stdout)) == 350
    assert "log-likelihood" in result.stderr and "BIC" in result.stderr


def test_terminal_and_named_output_summary_on_stdout(tmp_path: Path) -> None:
    result = fit(BLOBS, "-k", 4, "--seed", 0, "-o", tmp_path / "l.csv", tty=True)
    assert "BIC" in result.stdout and "BIC" not in result.stderr
    assert len(int_lines((tmp_path / "l.csv").read_text())) == 350


@pytest.mark.parametrize("flag", ["-q", "--quiet"])
def test_quiet_prints_nothing_but_data(flag: str) -> None:
    # not converged would warn; a terminal would get a summary: -q silences both
    noisy = fit(BLOBS, "-k", 4, "--seed", 0, "--max-iter", 1, "-o", "-", tty=True)
    assert "did not converge" in noisy.stderr
    quiet = fit(BLOBS, "-k", 4, "--seed", 0, "--max-iter", 1, "-o", "-", flag, tty=True)
    assert quiet.stderr == ""
    assert quiet.stdout == noisy.stdout
    silent = fit(BLOBS, "-k", 4, "--seed", 0, flag, tty=True)
    assert silent.stdout == "" and silent.stderr == ""


# --------------------------------------------------------------------------- fit options


def test_components_short_and_long_agree() -> None:
    a = fit(BLOBS, "-k", 3, "--seed", 5).stdout
    b = fit(BLOBS, "--components", 3, "--seed", 5).stdout
    assert a == b and set(int_lines(a)) == {0, 1, 2}


def _n_parameters(kind: str, k: int, d: int) -> int:
    cov = {"full": k * d * (d + 1) // 2, "tied": d * (d + 1) // 2, "diag": k * d,
           "spherical": k}[kind]
    return (k - 1) + k * d + cov


@pytest.mark.parametrize("flag,kind", [("-c", "full"), ("--covariance-type", "tied"),
                                       ("-c", "diag"), ("--covariance-type", "spherical")])
def test_covariance_types(flag: str, kind: str) -> None:
    doc = fit_json(BLOBS, "-k", 4, "--seed", 0, flag, kind)
    k, d, n = 4, 2, 350
    assert doc["covariance_type"] == kind == doc["options"]["covariance_type"]
    shape = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[kind]
    assert np.shape(doc["covariances"]) == shape
    assert doc["n_parameters"] == _n_parameters(kind, k, d)
    assert doc["converged"] is True
    # the reported log-likelihood is that of the final parameters (checked by scipy)
    x = blobs_xy()
    ll = mixture_logpdf(x, doc["weights"], doc["means"], full_covariances(doc)).sum()
    assert doc["log_likelihood"] == pytest.approx(ll, rel=1e-10)
    assert doc["mean_log_likelihood"] == pytest.approx(ll / n, rel=1e-10)
    p = doc["n_parameters"]
    assert doc["bic"] == pytest.approx(-2 * ll + p * math.log(n), rel=1e-10)
    assert doc["aic"] == pytest.approx(-2 * ll + 2 * p, rel=1e-10)
    assert doc["icl"] >= doc["bic"]
    assert sum(doc["weights"]) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("init", ["kmeans", "k-means++", "random", "random-from-data"])
def test_init_methods(init: str) -> None:
    doc = fit_json(BLOBS, "-k", 4, "--seed", 1, "--init", init)
    assert doc["options"]["init"] == init
    assert doc["converged"] is True and doc["n_iter"] >= 1
    if init != "random":  # random responsibilities may stop on the plateau at the mean
        assert doc["log_likelihood"] > -1430
    result, _ = engine_fit(blobs_xy(), n_components=4, seed=1, init=init)
    assert doc["log_likelihood"] == pytest.approx(result.loglik, rel=1e-12)
    assert doc["n_iter"] == result.n_iter


def _start_loglik(x: np.ndarray, centers: np.ndarray, reg_covar: float = 1e-6) -> float:
    """Mean log-likelihood of the parameters --means-init starts from, computed by hand:
    each point to its nearest centre, then weights, means and (biased) covariances."""
    nearest = ((x[:, None, :] - centers[None]) ** 2).sum(-1).argmin(1)
    k, d = centers.shape
    w = np.array([np.mean(nearest == j) for j in range(k)])
    mu = np.array([x[nearest == j].mean(0) for j in range(k)])
    cov = np.array([np.cov(x[nearest == j].T, bias=True) + reg_covar * np.eye(d)
                    for j in range(k)])
    return float(mixture_logpdf(x, w, mu, cov).mean())


@pytest.mark.parametrize("ext", ["csv", "npy"])
def test_means_init_is_where_the_fit_starts(tmp_path: Path, ext: str) -> None:
    centers = np.array([[0.0, 0.0], [4.0, 4.0], [7.0, 0.0], [2.0, 9.0]])
    path = tmp_path / f"means.{ext}"
    if ext == "npy":
        np.save(path, centers)
    else:
        path.write_text("".join(f"{a},{b}\n" for a, b in centers))
    doc = fit_json(BLOBS, "-k", 4, "--means-init", path, "--max-iter", 1)
    assert doc["options"]["init"] == "means-init"
    assert doc["options"]["means_init"] == str(path)
    assert doc["n_iter"] == 1 and doc["converged"] is False
    assert doc["trace"][0]["log_likelihood"] == pytest.approx(
        _start_loglik(blobs_xy(), centers), rel=1e-12)
    # the seed plays no part when the means are given
    full = fit_json(BLOBS, "-k", 4, "--means-init", path, "--seed", 3, "--order", "none")
    again = fit_json(BLOBS, "-k", 4, "--means-init", path, "--seed", 4, "--order", "none")
    assert full["means"] == again["means"] and full["converged"] is True
    # with --order none, components keep the order of the given means
    assert np.argmin(((np.array(full["means"])[:, None] - BLOB_CENTERS[None]) ** 2)
                     .sum(-1), axis=1).tolist() == [0, 1, 2, 3]


def test_means_init_header_is_read_by_the_data_s_names(tmp_path: Path) -> None:
    """A --means-init file whose header names the data's columns in another order (b,a
    over data a,b) was read by position: the means of b taken for a, a wrong start and,
    with --freeze means, wrong frozen means with exit 0.  Its columns are now read by
    name, in fit, batch and the Python API, as predict reads a model's."""
    import emgmm_cli

    rng = np.random.default_rng(1)
    x = np.r_[rng.normal([0, 10], 1, (100, 2)), rng.normal([10, 0], 1, (100, 2))]
    (tmp_path / "in").mkdir()
    np.savetxt(tmp_path / "in" / "ab.csv", x, delimiter=",", header="a,b", comments="")
    (tmp_path / "ba.csv").write_text("b,a\n10,1\n0,9\n")
    want = [[1.0, 10.0], [9.0, 0.0]]  # (a, b) of each row of ba.csv
    frozen = ["-k", "2", "--means-init", str(tmp_path / "ba.csv"), "--freeze", "means",
              "--order", "none"]
    doc = fit_json(tmp_path / "in" / "ab.csv", *frozen)
    assert doc["means"] == want
    # with --columns b,a the data's columns are b, a: the file is read in that order
    doc = fit_json(tmp_path / "in" / "ab.csv", "--columns", "b,a", *frozen)
    assert doc["means"] == [[10.0, 1.0], [0.0, 9.0]]
    r = invoke(["batch", tmp_path / "in", *frozen, "--output-dir", tmp_path / "out"])
    assert r.exit_code == 0, r.stderr
    assert json.loads((tmp_path / "out" / "ab" / "model.json").read_text())["means"] == want
    api = emgmm_cli.fit(tmp_path / "in" / "ab.csv", 2, means_init=tmp_path / "ba.csv",
                        freeze="means", order="none")
    assert api.document["means"] == want


def test_means_init_csv_and_npy_agree(tmp_path: Path) -> None:
    centers = np.array([[1.5, 0.5], [5.5, 5.5], [6.5, 0.5], [2.5, 7.5]])
    np.save(tmp_path / "m.npy", centers)
    (tmp_path / "m.csv").write_text("".join(f"{a!r},{b!r}\n" for a, b in centers.tolist()))
    a = fit_json(BLOBS, "-k", 4, "--means-init", tmp_path / "m.npy")
    b = fit_json(BLOBS, "-k", 4, "--means-init", tmp_path / "m.csv")
    assert a["means"] == b["means"] and a["log_likelihood"] == b["log_likelihood"]


@pytest.mark.parametrize("command", ["fit", "batch"])
@pytest.mark.parametrize("extra, option", [
    (["--init", "kmeans"], "--init kmeans does not apply with --means-init"),
    (["--n-init", "3"], "--n-init 3 does not apply with --means-init"),
    (["--init-model", "MODEL"], "--means-init and --init-model are two starts"),
])
def test_means_init_refuses_the_options_it_would_leave_unused(
        tmp_path: Path, command: str, extra: list[str], option: str) -> None:
    """--means-init with --init, --n-init > 1 or --init-model given is bad usage, found
    before any data is read: --init and --n-init were ignored, and beside --init-model
    the means were never read while the model recorded them as the start."""
    means = tmp_path / "means.csv"
    means.write_text("0,0\n4,4\n7,0\n2,9\n")
    model = tmp_path / "model.json"
    assert invoke(["fit", BLOBS, "-k", 4, "--seed", 0, "--model", model]).exit_code == 0
    target = [BLOBS, "-k", 4] if command == "fit" else [BLOBS, "-k", 4, "--output-dir",
                                                        tmp_path / "out"]
    args = [a if a != "MODEL" else model for a in extra]
    result = invoke([command, *target, "--means-init", means, *args, "--json"])
    assert result.exit_code == 2, result.output
    assert option in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
    # given alone, or with their defaults spelled out, the means are the start, and the
    # model records the one run made (it recorded the default n_init 2)
    for same in ([], ["--n-init", "1"]):
        doc = fit_json(BLOBS, "-k", 4, "--means-init", means, *same)
        assert doc["options"]["init"] == "means-init" and doc["origin"] == "means-init"
        assert doc["options"]["n_init"] == 1 and len(doc["restart_log_likelihoods"]) == 1


def test_means_init_in_the_api_refuses_what_it_would_leave_unused(tmp_path: Path) -> None:
    import emgmm_cli

    means = np.array([[0.0, 0.0], [4.0, 4.0], [7.0, 0.0], [2.0, 9.0]])
    x = blobs_xy()
    model = tmp_path / "model.json"
    assert invoke(["fit", BLOBS, "-k", 4, "--seed", 0, "--model", model]).exit_code == 0
    for options in ({"init": "random"}, {"n_init": 2}, {"init_model": str(model)}):
        with pytest.raises(emgmm_cli.UsageProblem) as caught:
            emgmm_cli.fit(x, 4, means_init=means, **options)
        assert isinstance(caught.value, ValueError)
    assert emgmm_cli.fit(x, 4, means_init=means, n_init=1).result.options.init == "means-init"


def test_n_init_keeps_the_best_restart() -> None:
    one = fit_json(BLOBS, "-k", 4, "--seed", 2, "--init", "random-from-data", "--n-init", 1)
    many = fit_json(BLOBS, "-k", 4, "--seed", 2, "--init", "random-from-data",
                    "--n-init", 5)
    assert len(one["restart_log_likelihoods"]) == 1
    lls = many["restart_log_likelihoods"]
    assert len(lls) == 5 and many["options"]["n_init"] == 5
    assert many["log_likelihood"] in lls
    assert many["log_likelihood"] >= max(lls) - 1e-9 * abs(max(lls))
    assert many["log_likelihood"] >= one["log_likelihood"] - 1e-9 * abs(one["log_likelihood"])


@pytest.mark.parametrize("tol", [0.1, 1e-3, 1e-9])
def test_tol_stops_at_the_first_change_below_it(tol: float) -> None:
    doc = fit_json(BLOBS, "-k", 4, "--seed", 1, "--init", "random-from-data",
                   "--tol", tol, "--max-iter", 500)
    assert doc["options"]["tol"] == tol and doc["converged"] is True
    changes = [row["change"] for row in doc["trace"]]
    assert changes[0] is None  # no change on the first iteration (NaN -> null)
    assert abs(changes[-1]) < tol
    assert all(abs(c) >= tol for c in changes[1:-1])


def test_max_iter_not_converged_warns_and_says_so() -> None:
    result = fit(BLOBS, "-k", 4, "--seed", 1, "--init", "random-from-data",
                 "--max-iter", 3, "--tol", 0, "--json")
    doc = json.loads(result.stdout)
    assert doc["converged"] is False and doc["n_iter"] == 3 and len(doc["trace"]) == 3
    assert doc["options"]["max_iter"] == 3
    warnings = [line for line in result.stderr.splitlines() if "did not converge" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"emgmm: warning: {BLOBS}: did not converge in 3 iterations")
    assert "--max-iter" in warnings[0]
    assert [e["kind"] for e in doc["events"]] == ["not-converged"]


def test_reg_covar_is_added_to_the_diagonal() -> None:
    # one component: the M-step gives the data's own mean and biased covariance exactly
    x = blobs_xy()
    for reg in (0.0, 0.5):
        doc = fit_json(BLOBS, "-k", 1, "--reg-covar", reg)
        assert doc["options"]["reg_covar"] == reg
        assert doc["weights"] == [1.0]
        np.testing.assert_allclose(doc["means"][0], x.mean(0), rtol=1e-12)
        np.testing.assert_allclose(doc["covariances"][0],
                                   np.cov(x.T, bias=True) + reg * np.eye(2), rtol=1e-10)
    sph = fit_json(BLOBS, "-k", 4, "--seed", 0, "-c", "spherical", "--reg-covar", 25)
    assert min(sph["covariances"]) >= 25


def test_same_seed_same_result() -> None:
    a = fit(BLOBS, "-k", 4, "--seed", 7, "--init", "random-from-data").stdout
    b = fit(BLOBS, "-k", 4, "--seed", 7, "--init", "random-from-data").stdout
    assert a == b
    da = fit_json(BLOBS, "-k", 4, "--seed", 7, "--init", "random-from-data", "--n-init", 2)
    db = fit_json(BLOBS, "-k", 4, "--seed", 7, "--init", "random-from-data", "--n-init", 2)
    for doc in (da, db):
        doc.pop("trace")  # seconds differ
    assert da == db and da["options"]["seed"] == 7


def test_no_seed_records_the_seed_it_used(tmp_path: Path) -> None:
    m1, m2 = tmp_path / "m1.json", tmp_path / "m2.json"
    first = fit(BLOBS, "-k", 4, "--init", "random-from-data", "--model", m1).stdout
    doc = json.loads(m1.read_text())
    seed = doc["options"]["seed"]
    assert isinstance(seed, int) and seed >= 0
    again = fit(BLOBS, "-k", 4, "--init", "random-from-data", "--seed", seed,
                "--model", m2).stdout
    assert again == first
    assert json.loads(m2.read_text()) == doc
    other = json.loads(fit(BLOBS, "-k", 4, "--json").stdout)["options"]["seed"]
    assert other != seed  # a fresh seed each time


def test_algorithm_hard() -> None:
    hard = fit_json(BLOBS, "-k", 4, "--seed", 0, "--algorithm", "hard")
    soft = fit_json(BLOBS, "-k", 4, "--seed", 0, "--algorithm", "soft")
    assert hard["options"]["algorithm"] == "hard" and soft["options"]["algorithm"] == "soft"
    assert hard["converged"] is True
    result, labels = engine_fit(blobs_xy(), n_components=4, seed=0, algorithm="hard")
    assert hard["log_likelihood"] == pytest.approx(result.loglik, rel=1e-12)
    assert int_lines(fit(BLOBS, "-k", 4, "--seed", 0, "--algorithm", "hard").stdout) \
        == labels.tolist()
    # the hard trace is the classification log-likelihood, below the mixture's
    assert hard["trace"][-1]["log_likelihood"] <= hard["mean_log_likelihood"] + 1e-12


# --------------------------------------------------------------------------- reading options


def test_columns_by_name_and_by_index() -> None:
    by_name = fit_json(BLOBS, "-k", 4, "--seed", 0)
    by_index = fit_json(BLOBS, "-k", 4, "--columns", "0,1", "--seed", 0)
    mixed = fit_json(BLOBS, "-k", 4, "--columns", "x,1", "--seed", 0)
    for doc in (by_name, by_index, mixed):
        doc.pop("trace")
        assert doc["feature_names"] == ["x", "y"] and doc["n_features"] == 2
    assert by_name == by_index == mixed
    swapped = fit_json(BLOBS, "-k", 4, "--columns", "y,x", "--seed", 0)
    assert swapped["feature_names"] == ["y", "x"]
    one = fit_json(BLOBS, "-k", 2, "--columns", "1", "--seed", 0)
    assert one["feature_names"] == ["y"] and np.shape(one["means"]) == (2, 1)
    everything = fit_json(BLOBS, "-k", 2, "--seed", 0)
    assert everything["feature_names"] == ["x", "y"]


@pytest.mark.parametrize("flag,delim", [("-d", ";"), ("--delimiter", "|"),
                                        ("-d", "\\t"), ("-d", " ")])
def test_delimiter(tmp_path: Path, flag: str, delim: str) -> None:
    char = {"\\t": "\t"}.get(delim, delim)
    x = blobs_xy()
    path = tmp_path / "blobs.txt"
    path.write_text(f"x{char}y\n" + "".join(f"{a!r}{char}{b!r}\n" for a, b in x.tolist()))
    expected = fit(BLOBS, "-k", 4, "--seed", 0).stdout
    assert fit(path, "-k", 4, flag, delim, "--seed", 0).stdout == expected


def test_tsv_by_extension(tmp_path: Path) -> None:
    path = tmp_path / "blobs.tsv"
    path.write_text(BLOBS.read_text().replace(",", "\t"))
    expected = fit(BLOBS, "-k", 4, "--seed", 0).stdout
    assert fit(path, "-k", 4, "--seed", 0).stdout == expected


def test_header_options(tmp_path: Path) -> None:
    x = blobs_xy()
    bare = tmp_path / "bare.csv"
    bare.write_text("".join(f"{a!r},{b!r}\n" for a, b in x.tolist()))
    detected = fit_json(bare, "-k", 4, "--seed", 0)
    assert detected["n_samples"] == 350 and detected["feature_names"] == ["0", "1"]
    for flag in ("-H", "--no-header"):
        doc = fit_json(bare, "-k", 4, "--seed", 0, flag)
        assert doc["n_samples"] == 350 and doc["means"] == detected["means"]
    forced = fit_json(bare, "-k", 4, "--seed", 0, "--header")
    assert forced["n_samples"] == 349
    assert forced["feature_names"] == [repr(float(x[0, 0])), repr(float(x[0, 1]))]
    named = fit_json(BLOBS, "-k", 4, "--seed", 0, "--header")
    assert named["n_samples"] == 350
    # without a header the names are 0, 1, ... and the first row is data
    refused = invoke(["fit", BLOBS, "-k", 4, "--columns", "0,1", "--no-header"])
    assert refused.exit_code == 1
    assert refused.stderr == (f"Error: {BLOBS}:1: column '0': non-numeric value 'x'; this "
                              "first row is read as data, not as a header (--header reads it "
                              "as one)\n")
    unnamed = invoke(["fit", BLOBS, "-k", 4, "--columns", "x,y", "-H"])
    assert unnamed.exit_code == 1
    assert unnamed.stderr == (f"Error: {BLOBS}: column 'x': no such column; available "
                              "columns: 0, 1\n")


def test_stdin_in_process_reads_the_same_data() -> None:
    expected = fit(BLOBS, "-k", 4, "--seed", 0).stdout
    assert fit("-", "-k", 4, "--seed", 0, input=BLOBS.read_bytes()).stdout == expected
    piped = ok(invoke(["fit", "-", "-k", 4, "--seed", 0, "--json"],
                      input=BLOBS.read_bytes()))
    assert json.loads(piped.stdout)["source"] == "<stdin>"


# --------------------------------------------------------------------------- outputs


@pytest.mark.parametrize("flag", ["-o", "--labels", "--output"])
def test_labels_option_spellings(tmp_path: Path, flag: str) -> None:
    out = tmp_path / "labels.csv"
    result = fit(BLOBS, "-k", 4, "--seed", 0, flag, out)
    assert result.stdout == "" and result.stderr == ""
    _, expected = engine_fit(blobs_xy(), n_components=4, seed=0)
    assert int_lines(out.read_text()) == expected.tolist()


def test_responsibilities(tmp_path: Path) -> None:
    resp_path, labels_path = tmp_path / "resp.csv", tmp_path / "labels.csv"
    fit(BLOBS, "-k", 4, "--seed", 0, "--responsibilities", resp_path, "-o", labels_path)
    lines = resp_path.read_text().splitlines()
    assert lines[0] == "p0,p1,p2,p3"
    resp = np.loadtxt(resp_path, delimiter=",", skiprows=1)
    assert resp.shape == (350, 4)
    assert np.all(resp >= 0) and np.all(resp <= 1)
    np.testing.assert_allclose(resp.sum(1), 1.0, atol=1e-8)
    labels = int_lines(labels_path.read_text())
    clear = resp.max(1) > 0.5 + 1e-6  # argmax of rounded values is only safe when clear
    assert (resp.argmax(1)[clear] == np.array(labels)[clear]).all()
    # the same as the model's posterior, computed independently
    doc = fit_json(BLOBS, "-k", 4, "--seed", 0)
    x, covs = blobs_xy(), full_covariances(doc)
    from scipy.stats import multivariate_normal

    dens = np.column_stack([w * multivariate_normal(m, c).pdf(x)
                            for w, m, c in zip(doc["weights"], doc["means"], covs)])
    np.testing.assert_allclose(resp, dens / dens.sum(1, keepdims=True), atol=1e-9)


def test_trace_file(tmp_path: Path) -> None:
    trace, model = tmp_path / "trace.csv", tmp_path / "model.json"
    fit(BLOBS, "-k", 4, "--seed", 1, "--init", "random-from-data", "--trace", trace,
        "--model", model)
    lines = trace.read_text().splitlines()
    assert lines[0] == "iteration,log_likelihood,change,seconds,event"
    rows = [line.split(",") for line in lines[1:]]
    doc = json.loads(model.read_text())
    assert len(rows) == doc["n_iter"] > 3
    assert [r[4] for r in rows] == [""] * (len(rows) - 1) + [doc["stopped"]]
    assert [int(r[0]) for r in rows] == list(range(1, doc["n_iter"] + 1))
    ll = [float(r[1]) for r in rows]
    assert rows[0][2] == ""
    for i in range(1, len(rows)):
        assert float(rows[i][2]) == pytest.approx(ll[i] - ll[i - 1], rel=1e-6, abs=1e-9)
    assert all(float(r[3]) >= 0 for r in rows)
    # soft EM never goes down, and the final parameters are at least as good
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(ll))
    assert doc["mean_log_likelihood"] >= ll[-1] - 1e-9


def test_model_file(tmp_path: Path) -> None:
    model = tmp_path / "model.json"
    result = fit(BLOBS, "-k", 4, "--seed", 0, "--model", model, "-c", "diag")
    assert result.stdout == ""  # a named output: no labels on stdout
    text = model.read_text()
    doc = json.loads(text)
    assert MODEL_KEYS <= set(doc)
    assert OPTION_KEYS <= set(doc["options"])
    assert doc["format"] == "emgmm-model" and doc["version"] == 1
    assert doc["n_components"] == 4 and doc["n_features"] == 2 and doc["n_samples"] == 350
    assert doc["feature_names"] == ["x", "y"] and doc["source"] == str(BLOBS)
    assert doc["options"]["seed"] == 0 and doc["options"]["covariance_type"] == "diag"
    assert doc["degenerate"] == [] and doc["events"] == []
    assert doc["n_iter"] >= 1 and isinstance(doc["converged"], bool)
    # full precision: the numbers round-trip
    result_, _ = engine_fit(blobs_xy(), n_components=4, seed=0, covariance_type="diag")
    assert doc["means"] == result_.params.means.tolist()
    assert doc["log_likelihood"] == result_.loglik


def test_output_dir_writes_the_four_standard_files(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "out"  # created, parents included
    result = fit(BLOBS, "-k", 4, "--seed", 0, "--output-dir", out)
    assert result.stdout == "" and result.stderr == ""
    assert files_under(out) == ["labels.csv", "model.json", "responsibilities.csv",
                                "trace.csv"]
    doc = json.loads((out / "model.json").read_text())
    _, expected = engine_fit(blobs_xy(), n_components=4, seed=0)
    assert int_lines((out / "labels.csv").read_text()) == expected.tolist()
    assert (out / "responsibilities.csv").read_text().startswith("p0,p1,p2,p3\n")
    assert len((out / "trace.csv").read_text().splitlines()) == doc["n_iter"] + 1


def test_output_dir_with_a_single_file_overridden(tmp_path: Path) -> None:
    out, labels = tmp_path / "out", tmp_path / "mine.tsv"
    fit(BLOBS, "-k", 4, "--seed", 0, "--output-dir", out, "-o", labels)
    assert files_under(out) == ["model.json", "responsibilities.csv", "trace.csv"]
    assert len(int_lines(labels.read_text())) == 350


def test_json_on_stdout() -> None:
    result = fit(BLOBS, "-k", 4, "--seed", 0, "--json")
    assert result.stderr == ""
    doc = json.loads(result.stdout)  # nothing but the document: no labels
    assert MODEL_KEYS <= set(doc)
    assert len(doc["trace"]) == doc["n_iter"]
    assert set(doc["trace"][0]) == {"iteration", "log_likelihood", "change", "seconds",
                                    "event"}
    assert [r["event"] for r in doc["trace"]] == [None] * (doc["n_iter"] - 1) + ["converged"]
    # on a terminal --json still goes to stdout, the summary to stderr
    tty = fit(BLOBS, "-k", 4, "--seed", 0, "--json", tty=True)
    assert json.loads(tty.stdout)["means"] == doc["means"]
    assert "BIC" in tty.stderr


def test_show_trace() -> None:
    doc = fit_json(BLOBS, "-k", 4, "--seed", 1, "--init", "random-from-data")
    out = fit(BLOBS, "-k", 4, "--seed", 1, "--init", "random-from-data", "--show-trace",
              tty=True).stdout
    lines = out.splitlines()
    head = [i for i, line in enumerate(lines)
            if "iteration" in line and "change" in line and "seconds" in line]
    assert len(head) == 1
    rows = [line for line in lines[head[0] + 1:] if re.match(r"^\s*\d+\s*│", line)]
    assert [int(r.split("│")[0]) for r in rows] == list(range(1, doc["n_iter"] + 1))
    for row, rec in zip(rows, doc["trace"]):
        assert f"{rec['log_likelihood']:.10g}" in row
    plain = fit(BLOBS, "-k", 4, "--seed", 1, "--init", "random-from-data", tty=True)
    assert "seconds" not in plain.stdout


@pytest.mark.parametrize("ext", ["csv", "tsv", "npy", "json"])
def test_output_formats_follow_the_extension(tmp_path: Path, ext: str) -> None:
    lab, resp, trace = (tmp_path / f"{n}.{ext}" for n in ("labels", "resp", "trace"))
    fit(BLOBS, "-k", 4, "--seed", 0, "-o", lab, "--responsibilities", resp,
        "--trace", trace, "--model", tmp_path / "m.json")
    doc = json.loads((tmp_path / "m.json").read_text())
    _, expected = engine_fit(blobs_xy(), n_components=4, seed=0)
    if ext == "npy":
        labels = np.load(lab)
        assert labels.dtype == np.int64 and labels.tolist() == expected.tolist()
        r = np.load(resp)
        assert r.shape == (350, 4) and r.dtype == np.float64
        np.testing.assert_allclose(r.sum(1), 1.0, atol=1e-12)
        t = np.load(trace)
        assert t.shape == (doc["n_iter"], 4)
        assert t[:, 0].tolist() == list(range(1, doc["n_iter"] + 1))
    elif ext == "json":
        assert json.loads(lab.read_text()) == expected.tolist()
        records = json.loads(resp.read_text())
        assert len(records) == 350 and list(records[0]) == ["p0", "p1", "p2", "p3"]
        assert sum(records[0].values()) == pytest.approx(1.0, abs=1e-12)
        rows = json.loads(trace.read_text())
        assert [r["iteration"] for r in rows] == list(range(1, doc["n_iter"] + 1))
        assert rows[0]["change"] is None
    else:
        sep = "," if ext == "csv" else "\t"
        assert int_lines(lab.read_text()) == expected.tolist()
        assert resp.read_text().splitlines()[0] == sep.join(["p0", "p1", "p2", "p3"])
        assert trace.read_text().splitlines()[0] == sep.join(
            ["iteration", "log_likelihood", "change", "seconds", "event"])


@pytest.mark.parametrize("option", ["-o", "--responsibilities", "--trace", "--model"])
def test_dash_is_stdout(tmp_path: Path, option: str) -> None:
    result = fit(BLOBS, "-k", 4, "--seed", 0, option, "-", "--output-dir", tmp_path / "o")
    out = result.stdout
    std = {"-o": "labels.csv", "--responsibilities": "responsibilities.csv",
           "--trace": "trace.csv", "--model": "model.json"}[option]
    assert std not in files_under(tmp_path / "o") and len(files_under(tmp_path / "o")) == 3
    if option == "-o":
        assert len(int_lines(out)) == 350
    elif option == "--responsibilities":
        assert out.splitlines()[0] == "p0,p1,p2,p3" and len(out.splitlines()) == 351
    elif option == "--trace":
        assert out.splitlines()[0] == "iteration,log_likelihood,change,seconds,event"
    else:
        assert json.loads(out)["format"] == "emgmm-model"


@pytest.mark.parametrize("args,names", [
    (["-o", "-", "--responsibilities", "-"], "-o/--labels, --responsibilities"),
    (["--trace", "-", "--json"], "--trace, --json"),
    (["--model", "-", "-o", "-"], "-o/--labels, --model"),
])
def test_two_outputs_on_stdout_is_a_usage_error(tmp_path: Path, args: list[str],
                                                names: str) -> None:
    model = tmp_path / "kept.json"
    result = invoke(["fit", BLOBS, "-k", 4, *args, "--output-dir", tmp_path / "out"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == \
        f"Error: only one output can go to stdout, got {names}"
    assert not (tmp_path / "out").exists() and not model.exists()


def test_refuses_to_overwrite_the_input(tmp_path: Path) -> None:
    data = tmp_path / "labels.csv"  # the name --output-dir would give the labels
    data.write_bytes(BLOBS.read_bytes())
    before = data.read_bytes()
    for args, name in ((["--model", data], "--model"), (["-o", data], "-o/--labels"),
                       (["--output-dir", tmp_path], "-o/--labels"),
                       (["--trace", tmp_path / "." / "labels.csv"], "--trace")):
        result = invoke(["fit", data, "-k", 4, *args])
        assert result.exit_code == 2, result.stderr
        assert re.fullmatch(rf"Error: refusing to overwrite the input file \S+ with {name}",
                            result.stderr.splitlines()[-1])
    means = tmp_path / "means.csv"
    means.write_text("1,1\n5,5\n6,1\n2,8\n")
    result = invoke(["fit", BLOBS, "-k", 4, "--means-init", means, "--model", means])
    assert result.exit_code == 2
    assert data.read_bytes() == before and means.read_text() == "1,1\n5,5\n6,1\n2,8\n"
    assert files_under(tmp_path) == ["labels.csv", "means.csv"]


def test_files_read_beside_the_data_are_inputs_too(tmp_path: Path) -> None:
    """--init-model, --sample-weights and --known-labels name inputs, as --means-init
    does: fit and batch refuse an output that would overwrite one, before anything runs."""
    model = tmp_path / "start.json"
    assert invoke(["fit", BLOBS, "-k", 4, "--seed", 0, "--model", model,
                   "-o", tmp_path / "l.csv"]).exit_code == 0
    ones = tmp_path / "ones.csv"
    ones.write_text("1\n" * 350)
    saved = {path: path.read_bytes() for path in (model, ones)}
    for args, path, name in (
            (["--init-model", model, "--model", model], model, "--model"),
            (["-k", 4, "--sample-weights", ones, "-o", ones], ones, "-o/--labels"),
            (["-k", 4, "--known-labels", ones, "--trace", ones], ones, "--trace")):
        result = invoke(["fit", BLOBS, *args])
        assert result.exit_code == 2, result.stderr
        assert result.stderr.splitlines()[-1] == \
            f"Error: refusing to overwrite the input file {path} with {name}"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "b.csv").write_bytes(BLOBS.read_bytes())
    (tmp_path / "out" / "b").mkdir(parents=True)
    inside = tmp_path / "out" / "b" / "model.json"
    inside.write_bytes(model.read_bytes())
    result = invoke(["batch", tmp_path / "in", "--init-model", inside, "--output-dir",
                     tmp_path / "out"])
    assert result.exit_code == 2
    assert f"refusing to overwrite the input file {inside} with {inside}" in result.stderr
    assert all(path.read_bytes() == data for path, data in saved.items())
    assert inside.read_bytes() == model.read_bytes()


def test_debug_reraises_with_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    plain = invoke(["fit", missing, "-k", 2])
    assert plain.exit_code == 1 and isinstance(plain.exception, SystemExit)
    assert plain.stderr == f"Error: {missing}: file not found; check the path\n"
    debug = invoke(["fit", missing, "-k", 2, "--debug"])
    from emgmm_cli.io.errors import DataError

    assert isinstance(debug.exception, DataError)  # not turned into one line
    assert debug.exc_info is not None and debug.exc_info[2] is not None
    assert "file not found" in str(debug.exception)


# --------------------------------------------------------------------------- correctness


def _bayes_errors(x: np.ndarray, truth: np.ndarray) -> int:
    """Mistakes of the Bayes rule under the true parameters (identity covariances)."""
    log_w = np.log(BLOB_SIZES / BLOB_SIZES.sum())
    score = log_w[None] - 0.5 * ((x[:, None, :] - BLOB_CENTERS[None]) ** 2).sum(-1)
    return int((score.argmax(1) != truth).sum())


def test_blobs_clustering_is_as_good_as_the_bayes_rule() -> None:
    from scipy.optimize import linear_sum_assignment

    x, truth = blobs_xy(), blobs_truth()
    # scikit-learn's procedure (the k-means start, plain EM, its tol and max-iter); run on
    # to the default tol, EM reaches a higher likelihood whose labels are not the Bayes
    # rule's (-1426.23 against -1426.37)
    labels = np.array(int_lines(fit(BLOBS, "-k", 4, "--seed", 0, "--init", "kmeans",
                                    "--accelerate", "none", "--tol", "1e-3", "--max-iter",
                                    "100").stdout))
    confusion = np.zeros((4, 4), dtype=int)
    np.add.at(confusion, (labels, truth), 1)
    rows, cols = linear_sum_assignment(-confusion)
    errors = len(labels) - int(confusion[rows, cols].sum())
    bayes = _bayes_errors(x, truth)
    assert errors <= bayes + 1, (errors, bayes, confusion)


@pytest.mark.parametrize("algorithm", ["soft", "hard"])
def test_heights_two_groups(algorithm: str) -> None:
    # the k-means start's optimum, near the groups' own means; the default start reaches a
    # higher likelihood (348.79 against 345.56) with the means further apart
    doc = fit_json(HEIGHTS, "-k", 2, "--seed", 0, "--init", "kmeans", "--accelerate", "none",
                   "--algorithm", algorithm)
    assert doc["converged"] is True
    means = sorted(m[0] for m in doc["means"])
    assert means[0] < 1.655 < means[1]
    assert 1.50 < means[0] < 1.60 and 1.70 < means[1] < 1.80
    assert all(0.35 < w < 0.65 for w in doc["weights"])


# --------------------------------------------------------------------------- real processes


def emgmm_command() -> list[str]:
    script = Path(sys.executable).parent / "emgmm"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "emgmm_cli"]


def shell(command: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "EMGMM_FORCE_TTY"}
    return subprocess.run(command, shell=True, check=False, cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env=env, **kwargs)


EMGMM = " ".join(shlex.quote(part) for part in emgmm_command())
FIT_BLOBS = f"{EMGMM} fit sample_data/blobs4.csv -k 4 --seed 0"


def test_process_pipe_to_sort_uniq() -> None:
    proc = shell(f"{FIT_BLOBS} | sort | uniq -c")
    assert proc.returncode == 0 and proc.stderr == ""
    counts = [line.split() for line in proc.stdout.splitlines()]
    assert len(counts) == 4
    assert sorted(int(label) for _, label in counts) == [0, 1, 2, 3]
    assert sum(int(c) for c, _ in counts) == 350


def test_process_stdin_gives_the_same_labels() -> None:
    direct = shell(FIT_BLOBS)
    piped = shell(f"cat sample_data/blobs4.csv | {EMGMM} fit - -k 4 --seed 0")
    assert direct.returncode == piped.returncode == 0
    assert piped.stderr == ""
    assert piped.stdout == direct.stdout and len(direct.stdout.splitlines()) == 350


def test_process_module_version_and_help() -> None:
    proc = subprocess.run([sys.executable, "-m", "emgmm_cli", "--version"], check=False, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    from emgmm_cli import __version__

    assert proc.returncode == 0
    assert proc.stdout.strip() == f"emgmm, version {__version__}"
    helped = subprocess.run([*emgmm_command(), "fit", "--help"], check=False, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "--covariance-type" in helped.stdout


def test_process_debug_shows_the_traceback(tmp_path: Path) -> None:
    missing = shlex.quote(str(tmp_path / "missing.csv"))
    plain = shell(f"{EMGMM} fit {missing} -k 2")
    assert plain.returncode == 1 and plain.stdout == ""
    assert plain.stderr == f"Error: {tmp_path / 'missing.csv'}: file not found; check the path\n"
    debug = shell(f"{EMGMM} fit {missing} -k 2 --debug")
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert "DataError" in debug.stderr and "file not found" in debug.stderr


def test_process_head_exits_quietly(tmp_path: Path) -> None:
    proc = shell(f"{FIT_BLOBS} | head -1")
    assert proc.returncode == 0
    assert re.fullmatch(r"\d\n", proc.stdout)
    assert proc.stderr == ""
    # far more output than a pipe buffer holds, so the writer meets the closed pipe
    rng = np.random.default_rng(3)
    np.savetxt(tmp_path / "many.csv", rng.normal(size=(40_000, 2)), delimiter=",", fmt="%.6f")
    model = tmp_path / "m.json"
    big = shell(f"{EMGMM} fit {shlex.quote(str(tmp_path / 'many.csv'))} -k 3 --seed 0 "
                f"--model {shlex.quote(str(model))} --responsibilities - | head -c 10; "
                "echo \" ${PIPESTATUS[0]}\"", executable="/bin/bash")
    assert "Traceback" not in big.stderr and "BrokenPipe" not in big.stderr
    assert big.stderr == ""
    assert big.stdout.startswith("p0,p1,p2\n")
    # killed by SIGPIPE (128 + 13), as cat or seq would be; or done before head closed;
    # the files besides are written before standard output (the exit codes' table)
    from emgmm_cli.cli.context import ExitStatus

    assert big.stdout.rsplit(" ", 1)[1].strip() in (str(int(ExitStatus.BROKEN_PIPE)), "0")
    assert json.loads(model.read_text(encoding="utf-8"))["n_components"] == 3


def test_process_ctrl_c_exits_130_and_leaves_nothing(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = tmp_path / "big.npy"
    np.save(data, rng.normal(size=(200_000, 8)))
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "EMGMM_FORCE_TTY"}
    proc = subprocess.Popen(
        [*emgmm_command(), "fit", str(data), "-k", "16", "--max-iter", "1000", "--tol", "0",
         "--output-dir", str(out), "--model", str(tmp_path / "model.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
        # a child that ignores SIGINT (started from a background job) would never stop
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    time.sleep(1.2)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    try:
        stdout, stderr = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert stderr == "emgmm: interrupted\n"
    assert stdout == ""
    assert not out.exists() or files_under(out) == []
    assert files_under(tmp_path) == ["big.npy"]


HEAVY = ("numpy", "pandas", "scipy", "rich")


def _heavy_imports(stderr: str) -> list[str]:
    found = []
    for line in stderr.splitlines():
        m = re.match(r"import time:\s+\d+\s+\|\s+\d+\s+\|\s+(\S+)", line)
        if m and m.group(1).split(".")[0] in HEAVY:
            found.append(m.group(1))
    return found


def test_help_does_not_import_heavy_modules() -> None:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c",
                           "from emgmm_cli.cli.main import cli"],
                          check=False, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "emgmm_cli.cli.main" in proc.stderr  # the report is there to read
    assert _heavy_imports(proc.stderr) == []
    helped = subprocess.run([sys.executable, "-X", "importtime", "-m", "emgmm_cli", "--help"],
                            check=False, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "Usage:" in helped.stdout
    assert _heavy_imports(helped.stderr) == []


def test_decimal_commas_give_the_labels_of_decimal_points(tmp_path: Path) -> None:
    """A spreadsheet's export (';' between fields, decimal commas) fits as the same data
    written with points, and the warning says how its numbers were read."""
    eu = tmp_path / "blobs-eu.csv"
    eu.write_text(BLOBS.read_text().replace(",", ";").replace(".", ","))
    points = ok(invoke(["fit", BLOBS, "-k", 4, "--seed", 0]))
    commas = ok(invoke(["fit", eu, "-d", ";", "-k", 4, "--seed", 0]))
    assert commas.stdout == points.stdout
    assert commas.stderr == (f"emgmm: warning: {eu}: line 2: the numbers are written with "
                             "decimal commas (1,5 is read as 1.5)\n")

