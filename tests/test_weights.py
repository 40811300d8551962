"""Sample weights: a row of weight w counts as the row given w times."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from emgmm_cli.engine.families import searched
from emgmm_cli import vocab
from emgmm_cli.backends import open_dataset
from emgmm_cli.engine.dataset import WeightedRows, check_known, check_weights
from emgmm_cli.engine.errors import InvalidParameter
from emgmm_cli.engine.fitting import FitResult, fit
from emgmm_cli.engine.options import FitOptions

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"


def _blobs(seed: int = 3, n: int = 90) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [6.0, 1.0], [1.0, 7.0]])
    return centres[np.arange(n) % 3] + rng.normal(size=(n, 2)) * [1.0, 0.7]


def _weights(n: int, seed: int = 4) -> np.ndarray:
    w = np.random.default_rng(seed).integers(0, 4, size=n).astype(float)
    w[:3] = [1.0, 2.0, 3.0]  # every starting mean's own row counts
    return w


def _pair(x: np.ndarray, w: np.ndarray, **kw: Any) -> tuple[FitResult, FitResult]:
    means = x[:3].copy()
    options = FitOptions(3, tol=0.0, max_iter=25, seed=0, order="none", **kw)
    weighted = fit(WeightedRows(open_dataset(x, n_components=3), w), options,
                   means_init=means)
    repeated = fit(open_dataset(np.repeat(x, w.astype(int), axis=0), n_components=3),
                   options, means_init=means)
    return weighted, repeated


@pytest.mark.parametrize("cov", searched(2))  # the models of data of several columns
@pytest.mark.parametrize("algorithm", ["soft", "hard"])
def test_weight_two_is_the_row_twice(cov: str, algorithm: str) -> None:
    x = _blobs()
    w = _weights(len(x))
    a, b = _pair(x, w, covariance_type=cov, algorithm=algorithm)
    for name in ("weights", "means", "covariances"):
        np.testing.assert_allclose(getattr(a.params, name), getattr(b.params, name),
                                   rtol=1e-10, atol=1e-10, err_msg=name)
    if algorithm == "hard":  # stops when no point changes component: exact either way
        assert a.n_iter == b.n_iter
    assert a.loglik == pytest.approx(b.loglik, rel=1e-10)
    assert a.bic == pytest.approx(b.bic, rel=1e-10)  # BIC's n is the sum of the weights
    assert a.icl == pytest.approx(b.icl, rel=1e-10)
    assert a.weight_total == w.sum() and a.n_samples == len(x)


@pytest.mark.parametrize("init", ["kmeans", "k-means++", "random-from-data", "random", "hc"])
def test_every_start_takes_weights(init: str) -> None:
    """Rows of weight zero are not data: a fit with them equals the fit without them
    (for the starts that do not draw from the rows' positions)."""
    x = _blobs(n=60)
    w = np.ones(len(x))
    w[::4] = 0.0
    data = WeightedRows(open_dataset(x, n_components=3), w)
    result = fit(data, FitOptions(3, init=init, seed=2, n_init=2))
    assert result.weight_total == w.sum()
    assert np.isfinite(result.loglik)
    if init in ("kmeans", "k-means++", "random-from-data"):
        # every seed is a row that counts: the start sees only them
        kept = fit(open_dataset(x[w > 0], n_components=3),
                   FitOptions(3, init=init, seed=2, n_init=2))
        assert result.loglik == pytest.approx(kept.loglik, rel=1e-6)


@pytest.mark.parametrize("bad,row", [([1.0, -1.0, 1.0], 1), ([1.0, 1.0, np.nan], 2),
                                     ([1.0, np.inf, 1.0], 1)])
def test_bad_weights_name_the_row(bad: list[float], row: int) -> None:
    with pytest.raises(InvalidParameter, match=f"of row {row} "):
        check_weights(bad, 3)


def test_all_zero_and_wrong_count() -> None:
    with pytest.raises(InvalidParameter, match="every sample weight is zero"):
        check_weights([0.0, 0.0], 2)
    with pytest.raises(InvalidParameter, match="3 sample weights for 2 rows"):
        check_weights([1.0, 1.0, 1.0], 2)


def test_weights_whose_sum_overflows_are_refused_in_one_line(tmp_path: Path) -> None:
    """Each weight finite, their sum not (or near it): numpy's overflow warnings, then a
    covariance 'not positive definite' that advised a larger --reg-covar."""
    assert check_weights([1e300 / 3] * 3, 3).sum() <= 1e300  # at the limit: taken
    for each in (1e306, 1e299):
        with pytest.raises(InvalidParameter, match=r"^sample weights sum to (inf|3e\+301), "
                                                   r"beyond 1e\+300: EM's weighted sums"):
            check_weights([each] * 300, 300)
    from conftest import invoke_in

    np.savetxt(tmp_path / "x.csv", _blobs(n=300), delimiter=",")
    (tmp_path / "w.txt").write_text("1e306\n" * 300)
    done = invoke_in(tmp_path, "fit", "x.csv", "-k", "3", "--sample-weights", "w.txt")
    assert (done.exit_code, done.stdout) == (1, "")
    assert done.stderr == (  # one line: no numpy warning
        "Error: w.txt: sample weights sum to inf, beyond 1e+300: EM's weighted sums would "
        "overflow; divide them by a common factor\n")


def test_weights_and_labels_of_another_shape_are_refused_not_flattened() -> None:
    """One value per row: 150 weights given as a (75, 2) array were taken in C order, as
    if flat (and in Fortran order, another fit without a word); known labels the same.
    Any shape but one dimension, or a column (N, 1), is refused; a list, a pandas Series
    or a one-column frame taken."""
    import pandas as pd

    import emgmm_cli
    from emgmm_cli.io.errors import DataError

    x = _blobs(n=150)
    w = np.random.default_rng(0).uniform(0.5, 2, len(x))
    flat = emgmm_cli.fit(x, 2, seed=0, sample_weights=w).log_likelihood
    for same in (list(w), pd.Series(w), w[:, None], pd.DataFrame({"w": w})):  # a column
        assert emgmm_cli.fit(x, 2, seed=0, sample_weights=same).log_likelihood == flat
    for shaped, said in ((w.reshape(75, 2), "shape (75, 2)"), (w[None], "shape (1, 150)"),
                         (np.float64(1.0), "a single value")):
        with pytest.raises(DataError, match=rf"sample weights are .*{re.escape(said)}"):
            emgmm_cli.fit(x, 2, seed=0, sample_weights=shaped)
    model = emgmm_cli.fit(x, 2, seed=0)
    with pytest.raises(DataError, match=r"known labels are an array of shape \(75, 2\)"):
        emgmm_cli.predict(model, x, known_labels=np.full((75, 2), -1))
    with pytest.raises(InvalidParameter, match="one value per row"):
        check_known(np.zeros((150, 2)), 150)
    assert (check_known(np.zeros((150, 1)), 150) == 0).all()


@pytest.mark.parametrize("init", vocab.names(vocab.INIT_METHODS))
def test_rows_of_weight_zero_do_not_count_toward_k(init: str) -> None:
    """Only rows of weight above 0 count: one such row ended random-from-data's start in
    numpy's "Cannot take a larger sample than population" (an internal error); the same
    check as unweighted rows get, naming the rows that count."""
    x = _blobs(n=40)
    one = np.zeros(len(x))
    one[5] = 1.0
    two = one.copy()
    two[9] = 2.0
    twice = x.copy()
    twice[9] = twice[5]  # the two rows that count are one point
    for rows, w, k, message in (
            (x, one, 2, "need at least 2 rows of weight above 0 to fit a mixture, got 1"),
            (x, two, 3, "3 components need at least 3 rows of weight above 0; the data has 2"),
            (twice, two, 2, "2 components but the data has only 1 distinct point of weight "
                            "above 0")):
        with pytest.raises(InvalidParameter) as info:
            fit(WeightedRows(open_dataset(rows), w), FitOptions(k, init=init, seed=0))
        assert str(info.value) == message
    assert fit(WeightedRows(open_dataset(x), two), FitOptions(2, init=init, seed=0)).loglik


@pytest.mark.parametrize("weights, said", [
    ([1e39] * 300, "weights that sum to 3e+41"), ([1e300] + [1.0] * 299, "weights that sum "
                                                 "to 1e+300"),
    ([1e-300] * 300, "a weight of 1e-300"), ([1.0] * 299 + [1e-31], "a weight of 1e-31")])
def test_float32_data_refuse_weights_beyond_its_range_in_one_line(
        tmp_path: Path, weights: list[float], said: str) -> None:
    """float32 data weigh their responsibilities in float32: weights of 1e39 overflowed
    and ones of 1e-300 vanished, with numpy's warnings on stderr and then a covariance
    'not positive definite' (float64 fits them all).  Refused first, saying why and
    advising float64; within the range, a scale fits as in float64."""
    from conftest import invoke_in

    np.savetxt(tmp_path / "x.csv", _blobs(n=300), delimiter=",")
    np.savetxt(tmp_path / "w.txt", weights)
    done = invoke_in(tmp_path, "fit", "x.csv", "-k", "3", "--sample-weights", "w.txt",
                     "--dtype", "float32")
    assert (done.exit_code, done.stdout) == (1, "")
    assert done.stderr == (
        f"Error: w.txt: float32 data cannot take {said}: with float32 the positive weights "
        "must be 1e-30 or more and sum to 1e+30 at most; scale the weights by a common "
        "factor; use --dtype float64\n")
    assert invoke_in(tmp_path, "fit", "x.csv", "-k", "3", "--sample-weights", "w.txt",
                     "-q").exit_code == 0
    with pytest.raises(InvalidParameter, match=re.escape(f"float32 data cannot take {said}")):
        check_weights(weights, 300, np.float32)


def test_weights_scaled_within_float32s_range_fit_alike_in_float32() -> None:
    x = _blobs(n=150).astype(np.float32)
    w = _weights(len(x))
    options = FitOptions(3, seed=0, init="kmeans", n_init=2)
    base = fit(WeightedRows(open_dataset(x), w), options)
    for scale in (1e-25, 1e25):
        scaled = fit(WeightedRows(open_dataset(x), w * scale), options)
        np.testing.assert_allclose(scaled.params.means, base.params.means, rtol=1e-5)
        assert scaled.loglik / scale == pytest.approx(base.loglik, rel=1e-5)


@pytest.mark.parametrize("algorithm", ["soft", "hard"])
@pytest.mark.parametrize("scale", [1e-3, 1e-9, 1e-20, 1e-100, 1e100])
def test_weights_scaled_by_any_factor_fit_alike(scale: float, algorithm: str) -> None:
    """The M-step's thresholds of mass are in rows of the mean weight: with every weight
    1e-9 (probabilities of a large sample, say) each component's mass was below the
    collapse threshold of 1e-6, every component "collapsed" at iteration 1 and the fit
    ended there (exit 0, mean log-likelihood -4.156 against -4.115); at 1e-20 the start
    was refused as not positive definite.  Now any factor gives the same fit, and the
    log-likelihood scales with it."""
    x = _blobs(n=150)
    w = _weights(len(x))
    options = FitOptions(3, seed=0, algorithm=algorithm, init="kmeans", n_init=2)
    base = fit(WeightedRows(open_dataset(x), w), options)
    scaled = fit(WeightedRows(open_dataset(x), w * scale), options)
    assert not base.events and not scaled.events
    assert scaled.n_iter == base.n_iter
    np.testing.assert_allclose(scaled.params.means, base.params.means, rtol=1e-9)
    np.testing.assert_allclose(scaled.params.weights, base.params.weights, rtol=1e-9)
    assert scaled.loglik / scale == pytest.approx(base.loglik, rel=1e-9)


@pytest.mark.parametrize("init, family", [("hc", "full"), ("kmeans", "VVE"),
                                          ("auto", "EVE")])
@pytest.mark.parametrize("scale", [1e-3, 1e-9, 1e100])
def test_weights_scaled_by_any_factor_stop_alike(init: str, family: str,
                                                 scale: float) -> None:
    """Two rules stopped on a change relative to 1 + |total|, the total in the weights'
    units: the hierarchy's run handing over to SQUAREM at mclust's rule (full, K = 3, 400
    rows of weights 0 to 3: 179 passes, at 1e-3 133 and 0.003 lower) and the iterative
    M-steps of VVE, EVE and the like (at 1e-9 lower by 0.009).  Both now measure the
    total in rows of the mean weight, as for rows that are not weighted."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(400, 3)) @ rng.normal(size=(3, 3)) + 3
    w = rng.integers(0, 4, size=len(x)).astype(float)
    options = FitOptions(3, covariance_type=family, init=init, seed=0,
                         n_init=2 if init == "auto" else 1)
    base = fit(WeightedRows(open_dataset(x), w), options)
    scaled = fit(WeightedRows(open_dataset(x), w * scale), options)
    assert scaled.n_iter == base.n_iter
    assert scaled.loglik / scale == pytest.approx(base.loglik, rel=1e-11)
    np.testing.assert_allclose(scaled.params.covariances, base.params.covariances,
                               rtol=1e-8)


@pytest.mark.parametrize("value", [1.0, 1e-6, 3.0])
def test_equal_weights_fit_as_no_weights(value: float) -> None:
    """Every row weighing the same is the unweighted data: weighted k-means++ drew its
    first seed by rng.choice with p where the unweighted draw is rng.integers, so from the
    same seed the auto start continued other candidates (faithful, K = 3: -1119.21 with
    weights of 1 against -1114.44 without).  Equal weights now seed as no weights do."""
    import emgmm_cli

    x = np.loadtxt(SAMPLE_DATA / "faithful.csv", delimiter=",", skiprows=1)
    for k in (2, 3, 4):
        plain = emgmm_cli.fit(x, k, seed=0)
        weighted = emgmm_cli.fit(x, k, seed=0, sample_weights=np.full(len(x), value))
        assert weighted.log_likelihood / value == pytest.approx(plain.log_likelihood,
                                                                rel=1e-12)
        np.testing.assert_array_equal(weighted.labels, plain.labels)
        assert weighted.result.restart_origins == plain.result.restart_origins


# --------------------------------------------------------------------------- API, CLI, pipeline


def _files(tmp: "Path") -> tuple[np.ndarray, np.ndarray]:
    x = _blobs(n=120)
    w = _weights(len(x))
    np.savetxt(tmp / "xw.csv", np.column_stack([x, w]), delimiter=",", header="a,b,w",
               comments="", fmt="%.17g")
    np.savetxt(tmp / "x.csv", x, delimiter=",", header="a,b", comments="", fmt="%.17g")
    np.savetxt(tmp / "w.csv", w, fmt="%d")
    np.savetxt(tmp / "rep.csv", np.repeat(x, w.astype(int), axis=0), delimiter=",",
               header="a,b", comments="", fmt="%.17g")
    return x, w


def test_api_fit_and_select_take_weights(tmp_path: "Path") -> None:
    import emgmm_cli
    from emgmm_cli.app.requests import ReadOptions

    x, w = _files(tmp_path)
    means = x[:3]
    weighted = emgmm_cli.fit(x, 3, sample_weights=w, means_init=means, seed=0, tol=1e-8)
    column = emgmm_cli.fit(tmp_path / "xw.csv", 3, read=ReadOptions(weights_column="w"),
                           means_init=means, seed=0, tol=1e-8)
    repeated = emgmm_cli.fit(np.repeat(x, w.astype(int), axis=0), 3, means_init=means,
                             seed=0, tol=1e-8)
    for f in (weighted, column):
        np.testing.assert_allclose(f.means, repeated.means, rtol=1e-9)
        assert f.bic == pytest.approx(repeated.bic, rel=1e-9)
        assert f.document["sum_of_weights"] == w.sum() and f.document["n_samples"] == len(x)
        assert len(f.labels) == len(x)  # every row gets a label, weight 0 too
    assert column.feature_names == ["a", "b"]  # the weights column is not a feature
    sel = emgmm_cli.select(x, [2, 3], ["full"], sample_weights=w, seed=1, n_init=1)
    assert sel.best is not None and sel.best.document["sum_of_weights"] == w.sum()


def test_cli_weights_column_file_and_errors(tmp_path: "Path") -> None:
    from conftest import invoke_in
    import json

    _files(tmp_path)
    docs = []
    for args in (["xw.csv", "--weights-column", "w"], ["x.csv", "--sample-weights", "w.csv"],
                 ["rep.csv"]):
        r = invoke_in(tmp_path, "fit", *args, "-k", "3", "--seed", "1", "--json")
        assert r.exit_code == 0, r.stderr
        docs.append(json.loads(r.stdout))
    for doc in docs[:2]:
        np.testing.assert_allclose(doc["means"], docs[2]["means"], rtol=1e-6)
        assert doc["bic"] == pytest.approx(docs[2]["bic"], rel=1e-9)
        assert doc["feature_names"] == ["a", "b"]
    (tmp_path / "bad.csv").write_text("a,w\n1,1\n2,-2\n3,1\n")
    r = invoke_in(tmp_path, "fit", "bad.csv", "-k", "1", "--weights-column", "w")
    assert r.exit_code == 1
    assert "bad.csv: column 'w': weight -2 of row 1 (counting from 0)" in r.stderr
    (tmp_path / "zero.csv").write_text("a,w\n1,0\n2,0\n")
    r = invoke_in(tmp_path, "fit", "zero.csv", "-k", "1", "--weights-column", "w")
    assert r.exit_code == 1 and "every weight is zero" in r.stderr
    # every weight left by --missing drop zero: the data's error, not a usage error
    # naming --sample-weights, an option not given (exit 2, as before)
    (tmp_path / "gone.csv").write_text("a,w\n1,0\nNA,2\n3,0\n")
    (tmp_path / "a.csv").write_text("a\n1\n2\n4\n")
    assert invoke_in(tmp_path, "fit", "a.csv", "-k", "1", "--model", "m.json",
                     "-q").exit_code == 0
    for command in (("fit", "gone.csv", "-k", "1"), ("score", "m.json", "gone.csv")):
        r = invoke_in(tmp_path, *command, "--weights-column", "w", "--missing", "drop")
        assert (r.exit_code, r.stderr) == (1, "Error: gone.csv: column 'w': every weight of "
                                              "the rows kept (those without a missing value) "
                                              "is zero; at least one row must count\n")
    r = invoke_in(tmp_path, "fit", "xw.csv", "-k", "1", "--weights-column", "nope")
    assert r.exit_code == 1 and "no weights column 'nope'" in r.stderr
    r = invoke_in(tmp_path, "fit", "xw.csv", "-k", "1", "--weights-column", "w",
                  "--sample-weights", "w.csv")
    assert r.exit_code == 2 and "not both" in r.stderr
    assert "Traceback" not in r.stderr


def test_select_and_batch_pipeline_with_weights(tmp_path: "Path") -> None:
    """A real process: select in worker processes and batch, each with a weights column."""
    import json
    import subprocess
    import sys

    _files(tmp_path)
    (tmp_path / "in").mkdir()
    (tmp_path / "xw.csv").rename(tmp_path / "in" / "xw.csv")
    run = lambda *a: subprocess.run([sys.executable, "-m", "emgmm_cli", *a], cwd=tmp_path,  # noqa: E731
                                    capture_output=True, text=True, check=False)
    sel = run("select", "in/xw.csv", "-k", "2-3", "-c", "full,diag", "--weights-column", "w",
              "--seed", "3", "--jobs", "2", "--n-init", "1", "--model", "a.json")
    plain = run("select", "rep.csv", "-k", "2-3", "-c", "full,diag", "--seed", "3",
                "--n-init", "1", "--model", "b.json")
    assert sel.returncode == 0 and plain.returncode == 0, sel.stderr + plain.stderr
    chosen, reference = (json.loads((tmp_path / n).read_text()) for n in ("a.json", "b.json"))
    assert chosen["n_components"] == reference["n_components"] == 3
    assert chosen["sum_of_weights"] == reference["n_samples"]
    out = run("batch", "in", "-k", "3", "--weights-column", "w", "--seed", "2",
              "--output-dir", "out")
    assert out.returncode == 0, out.stderr
    model = json.loads((tmp_path / "out" / "xw" / "model.json").read_text())
    assert model["feature_names"] == ["a", "b"] and "sum_of_weights" in model


def test_score_weighs_and_predict_leaves_the_column_out(tmp_path: "Path") -> None:
    import json

    import emgmm_cli
    from conftest import invoke_in

    x, w = _files(tmp_path)
    r = invoke_in(tmp_path, "fit", "xw.csv", "-k", "3", "--weights-column", "w", "--seed", "1",
                  "--model", "m.json", "-o", "labels.csv")
    assert r.exit_code == 0, r.stderr
    model = json.loads((tmp_path / "m.json").read_text())
    scored = []
    for args in (["xw.csv", "--weights-column", "w"], ["x.csv", "--sample-weights", "w.csv"],
                 ["rep.csv"]):
        r = invoke_in(tmp_path, "score", "m.json", *args, "--json")
        assert r.exit_code == 0, r.stderr
        scored.append(json.loads(r.stdout))
    for s in scored:  # the model's own log-likelihood, as if every row were repeated
        assert s["log_likelihood"] == pytest.approx(model["log_likelihood"], rel=1e-10)
    assert scored[0]["sum_of_weights"] == w.sum() == scored[2]["n_samples"]
    api = emgmm_cli.score(tmp_path / "m.json", x, sample_weights=w)
    assert api.log_likelihood == pytest.approx(model["log_likelihood"], rel=1e-10)
    r = invoke_in(tmp_path, "predict", "m.json", "xw.csv", "--weights-column", "w")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == (tmp_path / "labels.csv").read_text()


def test_out_of_core_rows_carry_their_weights_and_labels(tmp_path: "Path") -> None:
    """The block-file backend (data over the memory limit) gets the same weights."""
    import emgmm_cli
    from emgmm_cli.app.requests import ReadOptions

    x, w = _files(tmp_path)
    np.save(tmp_path / "xw.npy", np.column_stack([x, w]))
    fits = [emgmm_cli.fit(tmp_path / name, 3, seed=0, means_init=x[:3], read=ReadOptions(
        weights_column="2" if name.endswith("npy") else "w", memory_limit=limit,
        cache_dir=str(tmp_path / "cache")))
        for name in ("xw.csv", "xw.npy") for limit in (None, 1024)]
    for f in fits[1:]:
        np.testing.assert_allclose(f.means, fits[0].means, rtol=1e-10)
        assert f.document["sum_of_weights"] == w.sum()
    assert type(fits[1].data.rows).__name__ == "BlockFileDataset"  # type: ignore[attr-defined]


@pytest.mark.parametrize("missing", ["error", "drop", "em"])
@pytest.mark.parametrize("ext,limit", [("csv", None), ("csv", "1K"), ("npy", "1K"),
                                       ("jsonl", None)])
def test_a_missing_weight_is_an_error_that_says_so(tmp_path: "Path", missing: str, ext: str,
                                                   limit: str | None) -> None:
    """An empty field in the --weights-column column was "missing value (empty field);
    use --missing drop ... or --missing em ...", and both of those then failed with
    "weight nan of row 1 ... is not a finite number >= 0".  A weight is no feature: a
    missing one is an error saying that the row's weight must be given, whatever
    --missing says (as in --sample-weights FILE), in memory and block by block."""
    import json
    import subprocess
    import sys

    from conftest import invoke_in

    rows = [(1.0 + i % 7, 2.0 * (i % 5), "" if i == 30 else "1") for i in range(200)]
    if ext == "csv":
        (tmp_path / "d.csv").write_text("a,b,w\n" + "".join(f"{a},{b},{w}\n"
                                                            for a, b, w in rows))
    elif ext == "npy":
        np.save(tmp_path / "d.npy", np.array([(a, b, float(w or "nan")) for a, b, w in rows]))
    else:
        (tmp_path / "d.jsonl").write_text("".join(json.dumps(
            {"a": a, "b": b, "w": float(w) if w else None}) + "\n" for a, b, w in rows))
    column = "2" if ext == "npy" else "w"
    args = ["fit", f"d.{ext}", "-k", "1", "--weights-column", column, "--missing", missing]
    args += [] if limit is None else ["--memory-limit", limit, "--cache-dir", "cache"]
    r = invoke_in(tmp_path, *args)
    assert r.exit_code == 1, r.stderr
    assert f"column '{column}': weight of row 30 (counting from 0) is missing; give every " \
           "row its weight" in r.stderr, r.stderr
    assert "--missing" not in r.stderr
    if ext == "csv" and limit is None and missing == "error":
        proc = subprocess.run([sys.executable, "-m", "emgmm_cli", *args], cwd=tmp_path,
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
        assert "weight of row 30 (counting from 0) is missing" in proc.stderr


def test_the_apis_weights_and_labels_of_a_files_rows_go_with_the_rows_drop_leaves_out(
        tmp_path: Path) -> None:
    """missing="drop" on a file with weights or known labels given as arrays: the arrays
    were checked against the rows left after the drop ("1000 sample weights for 900
    rows", a DataError for what an array of data took), and 900 values were taken
    without a word.  They are the file's rows' as a file of them is: the same fit as from
    the array, in memory and block by block; 900 values are refused."""
    import emgmm_cli
    from emgmm_cli.io.errors import DataError

    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 1, (500, 2)), rng.normal(5, 1, (500, 2))])
    x[::10, 1] = np.nan
    np.save(tmp_path / "x.npy", x)
    w = rng.uniform(0.5, 2, len(x))
    known = np.full(len(x), -1)
    known[[1, 601]] = [0, 1]
    path = str(tmp_path / "x.npy")
    blocks = emgmm_cli.ReadOptions(memory_limit="16K")
    for kw in ({"sample_weights": w}, {"known_labels": known, "order": "none"}):
        from_array = emgmm_cli.fit(x, 2, seed=0, missing="drop", **kw)
        for read in (None, blocks):
            from_path = emgmm_cli.fit(path, 2, seed=0, missing="drop", read=read, **kw)
            assert from_path.log_likelihood == pytest.approx(from_array.log_likelihood,
                                                             rel=1e-12)
    model = emgmm_cli.fit(x, 2, seed=0, missing="drop")
    assert emgmm_cli.score(model, path, missing="drop", sample_weights=w).log_likelihood == (
        pytest.approx(emgmm_cli.score(model, x, missing="drop",
                                      sample_weights=w).log_likelihood, rel=1e-12))
    labels = emgmm_cli.predict(model, path, missing="drop", known_labels=known)
    assert labels[1] == 0 and labels[601] == 1 and (labels[::10] == -1).all()
    with pytest.raises(DataError, match="900 sample weights for 1000 rows"):
        emgmm_cli.fit(path, 2, seed=0, missing="drop", sample_weights=w[~np.isnan(x[:, 1])])


def test_weights_that_count_less_than_two_rows_are_warned_of(tmp_path: Path) -> None:
    """Weights scaled to sum to 1 (as probabilities) made BIC's penalty per parameter,
    log n, 0: select chose the largest K on two clusters, without a word.  Weights that
    sum to less than 2 are warned of (fit, select, the API); weights that count rows are
    not."""
    import subprocess
    import sys
    import warnings

    import emgmm_cli

    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 1, (100, 2)), rng.normal(5, 1, (100, 2))]
    for scale, warned in ((1 / 200, True), (1 / 400, True), (1.0, False), (0.02, False)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            emgmm_cli.select(x, components=[1, 2], covariance_types="full", seed=0,
                             sample_weights=np.full(200, scale))
        said = [str(w.message) for w in caught if "sample weights sum to" in str(w.message)]
        assert bool(said) == warned, (scale, said)
    np.savetxt(tmp_path / "w.csv", np.c_[x, np.full(200, 1 / 200)], delimiter=",",
               header="a,b,w", comments="")
    done = subprocess.run([sys.executable, "-m", "emgmm_cli", "fit", "w.csv", "--columns",
                           "a,b", "--weights-column", "w", "-k", "2", "-o", "/dev/null"],
                          cwd=tmp_path, capture_output=True, text=True, check=True)
    assert ("emgmm: warning: w.csv: the sample weights sum to 1: BIC and ICL count that sum "
            "as the number of rows, so their penalty per parameter, log n, is 0; weights that "
            "count rows (scaled to sum to 200, say) give them their meaning\n") in done.stderr
