"""--standardize: EM on z-scored columns, everything reported in the data's units.

The equivalence: fitting the standardized data and mapping the result back (means
center + scale * mu, log-likelihoods minus N sum log scale) equals a fit with
standardize, to 1e-10; predict, score and sample apply the transform the model records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import Result
from scipy.special import logsumexp

import emgmm_cli
from emgmm_cli.app.data import as_points
from emgmm_cli.app.requests import SelectGrid
from emgmm_cli.app.selecting import select_points
from emgmm_cli.engine.options import FitOptions
from emgmm_cli.render import component_mean

from conftest import invoke_in

RNG = np.random.default_rng(21)
#: Three groups in columns of very different units (grams, metres, a rate).
X = np.r_[RNG.normal([500.0, 0.002, 3e4], [40.0, 0.0003, 2e3], (120, 3)),
          RNG.normal([800.0, 0.004, 2e4], [60.0, 0.0004, 3e3], (100, 3)),
          RNG.normal([650.0, 0.001, 5e4], [30.0, 0.0002, 4e3], (80, 3))]
TIGHT: dict[str, Any] = {"tol": 1e-12, "max_iter": 1000}


def run(*args: str, cwd: Path, input: str | None = None) -> Result:
    result: Result = invoke_in(cwd, *args, input=input)
    return result


def save(path: Path, x: np.ndarray) -> str:
    np.savetxt(path, x, delimiter=",", header="g,m,r", comments="", fmt="%.17g")
    return path.name


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_a_standardized_fit_is_the_fit_of_standardized_data_mapped_back(
        covariance_type: str) -> None:
    fit = emgmm_cli.fit(X, 3, covariance_type=covariance_type, seed=4, standardize=True,
                        **TIGHT)
    assert fit.transform is not None
    center, scale = fit.transform.center, fit.transform.scale
    np.testing.assert_allclose(center, X.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(scale, X.std(axis=0), rtol=1e-13)
    plain = emgmm_cli.fit((X - center) / scale, 3, covariance_type=covariance_type, seed=4,
                          **TIGHT)
    shift = len(X) * float(np.log(scale).sum())
    for name in ("log_likelihood", "bic", "aic", "icl"):
        mapped = getattr(plain, name) - (shift if name == "log_likelihood" else -2 * shift)
        assert getattr(fit, name) == pytest.approx(mapped, rel=1e-10), name
    np.testing.assert_array_equal(fit.labels, plain.labels)
    np.testing.assert_allclose(fit.params.covariances, plain.params.covariances, rtol=1e-10)
    means = [component_mean(fit.document, k) for k in range(3)]
    np.testing.assert_allclose(means, center + scale * plain.means, rtol=1e-10)
    assert fit.document["version"] == 2
    assert fit.document["transform"] == {"kind": "standardize", "center": center.tolist(),
                                         "scale": scale.tolist()}
    trace = np.array(fit.trace["log_likelihood"])
    np.testing.assert_allclose(trace, np.array(plain.trace["log_likelihood"])
                               - shift / len(X), rtol=1e-10)


def data_units_log_density(doc: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """The mixture's log-density in the data's units, from the model document alone."""
    from emgmm_cli.engine.families import family

    k, d = doc["n_components"], doc["n_features"]
    full = family(doc["covariance_type"]).to_full(np.asarray(doc["covariances"]), k, d)
    center, scale = (np.asarray(doc["transform"][n]) for n in ("center", "scale"))
    terms = [np.log(w) + gaussian_log_pdf(x, center + scale * np.asarray(m),
                                          np.outer(scale, scale) * c)
             for w, m, c in zip(doc["weights"], doc["means"], full)]
    return np.asarray(logsumexp(terms, axis=0))


def gaussian_log_pdf(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """log N(x | mean, cov) through the Cholesky factor (scipy's check refuses matrices
    whose eigenvalues span 1e14, as grams beside metres do)."""
    lower = np.linalg.cholesky(cov)
    z = np.linalg.solve(lower, (x - mean).T)
    return np.asarray(-0.5 * (z * z).sum(axis=0) - np.log(np.diag(lower)).sum()
                      - 0.5 * len(mean) * np.log(2 * np.pi))


def test_progress_is_told_the_log_likelihood_of_the_data() -> None:
    """on_iteration was told the mean log-likelihood of the standardized columns (-2.37)
    where the trace and the model say the data's (-4.92): fit's and select's alike."""
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 1, (150, 3)), rng.normal([5, 0, 0], 1, (150, 3))] * [1, 100, .01]
    told: list[tuple[int, float]] = []
    fitted = emgmm_cli.fit(x, 2, seed=0, standardize=True, n_init=1,
                           on_iteration=lambda r, i, mean, change: told.append((i, mean)))
    trace = fitted.trace["log_likelihood"]
    assert [mean for _, mean in told] == pytest.approx(list(trace), rel=1e-12)
    told.clear()  # select's cells (the command line's progress), in this process
    chosen = select_points(as_points(x, None), SelectGrid((2,), ("full",)),
                           FitOptions(2, n_init=1), seed=0, standardize=True,
                           on_iteration=lambda r, i, mean, c: told.append((i, mean)))
    best = chosen.selection.best_cell
    cell = None if best is None else best.result
    assert cell is not None and told[-1][1] == pytest.approx(cell.trace[-1].log_likelihood,
                                                             rel=1e-12)


def test_predict_score_and_sample_apply_the_models_transform(tmp_path: Path) -> None:
    name = save(tmp_path / "x.csv", X)
    fitted = run("fit", name, "-k", "3", "-c", "spherical", "--seed", "1", "--standardize",
                 "--model", "m.json", "-o", "labels.csv", cwd=tmp_path)
    assert fitted.exit_code == 0 and fitted.stderr == "", fitted.output
    doc = json.loads((tmp_path / "m.json").read_text())
    predicted = run("predict", "m.json", name, cwd=tmp_path)
    assert predicted.stdout == (tmp_path / "labels.csv").read_text()
    run("score", "m.json", name, "-o", "dens.npy", cwd=tmp_path)
    dens = np.load(tmp_path / "dens.npy")[:, 0]
    np.testing.assert_allclose(dens, data_units_log_density(doc, X), rtol=1e-10)
    summary = json.loads(run("score", "m.json", name, "--json", cwd=tmp_path).stdout)
    assert summary["log_likelihood"] == pytest.approx(doc["log_likelihood"], rel=1e-12)
    sampled = run("sample", "m.json", "-n", "20000", "--seed", "2", "-o", "s.npy",
                  cwd=tmp_path)
    assert sampled.exit_code == 0, sampled.output
    s = np.load(tmp_path / "s.npy")
    # in the data's units: the sample's spread per column follows the data's
    np.testing.assert_allclose(s[:, :3].mean(axis=0), X.mean(axis=0), rtol=0.05)
    np.testing.assert_allclose(s[:, :3].std(axis=0), X.std(axis=0), rtol=0.1)


def test_the_summary_shows_the_data_units(tmp_path: Path) -> None:
    name = save(tmp_path / "x.csv", X)
    run("fit", name, "-k", "3", "-c", "spherical", "--seed", "1", "--standardize",
        "--model", "m.json", "-o", "labels.csv", cwd=tmp_path)
    info = run("info", "m.json", cwd=tmp_path).stdout.splitlines()
    assert ("standardized: fitted on the columns centred and scaled to unit variance; "
            "components shown in the data's units") in info
    doc = json.loads((tmp_path / "m.json").read_text())
    first = next(line for line in info if line.startswith("component 0:"))
    mean = ", ".join(f"{v:.6g}" for v in component_mean(doc, 0))
    assert f"mean ({mean})" in first
    assert "(all dims)" not in first  # spherical in z is not spherical in grams and metres


def test_values_near_1e300_fit_once_standardized(tmp_path: Path) -> None:
    name = save(tmp_path / "big.csv", X * 1e296)
    refused = run("fit", name, "-k", "3", "--seed", "0", "-o", "l.csv", cwd=tmp_path)
    assert refused.exit_code == 1
    fitted = run("fit", name, "-k", "3", "--seed", "0", "--standardize", "--model", "m.json",
                 "-o", "l.csv", cwd=tmp_path)
    assert fitted.exit_code == 0 and fitted.stderr == "", fitted.output
    small = run("fit", save(tmp_path / "x.csv", X), "-k", "3", "--seed", "0", "--standardize",
                "-o", "lx.csv", cwd=tmp_path)
    assert small.exit_code == 0
    assert (tmp_path / "l.csv").read_text() == (tmp_path / "lx.csv").read_text()
    scored = json.loads(run("score", "m.json", name, "--json", cwd=tmp_path).stdout)
    assert scored["n_infinite"] == 0
    assert scored["log_likelihood"] == pytest.approx(
        json.loads((tmp_path / "m.json").read_text())["log_likelihood"], rel=1e-12)


def test_out_of_core_data_is_standardized_block_by_block(tmp_path: Path) -> None:
    name = save(tmp_path / "x.csv", X)
    args = ["fit", name, "-k", "3", "--seed", "5", "--standardize", "--json"]
    memory = json.loads(run(*args, cwd=tmp_path).stdout)
    blocks = json.loads(run(*args, "--memory-limit", "1K", "--cache-dir", "cache",
                            cwd=tmp_path).stdout)
    for key in ("log_likelihood", "means", "covariances", "transform"):
        assert blocks[key] == memory[key], key


def test_select_compares_cells_in_the_data_units(tmp_path: Path) -> None:
    selected = emgmm_cli.select(X, range(1, 4), ["full", "diag"], seed=3, standardize=True,
                                n_init=1)
    transform = selected.best.transform if selected.best is not None else None
    assert transform is not None
    plain = emgmm_cli.select(transform.to_z(X), range(1, 4), ["full", "diag"], seed=3,
                             n_init=1)
    shift = len(X) * float(np.log(transform.scale).sum())
    for a, b in zip(selected.rows(), plain.rows()):
        assert a["best"] == b["best"]
        assert a["bic"] == pytest.approx(b["bic"] + 2 * shift, rel=1e-9)
    name = save(tmp_path / "x.csv", X)
    table = run("select", name, "-k", "1-3", "-c", "full,diag", "--seed", "3", "--n-init", "1",
                "--standardize", "--table", "t.json", "--model", "best.json", cwd=tmp_path)
    assert table.exit_code == 0, table.output
    assert json.loads((tmp_path / "best.json").read_text())["transform"]["kind"] == "standardize"


def test_batch_records_standardize_and_does_not_skip_across_it(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    save(tmp_path / "data" / "x.csv", X)
    args = ["batch", "data", "-k", "3", "--seed", "0", "--output-dir", "out"]
    assert run(*args, "--standardize", cwd=tmp_path).exit_code == 0
    model = tmp_path / "out" / "x" / "model.json"
    assert "transform" in json.loads(model.read_text())
    again = run(*args, "--standardize", "--skip-existing", cwd=tmp_path)
    assert "skipped" in (tmp_path / "out" / "summary.csv").read_text()
    assert again.exit_code == 0
    plain = run(*args, "--skip-existing", cwd=tmp_path)
    assert plain.exit_code == 0
    assert "skipped" not in (tmp_path / "out" / "summary.csv").read_text()
    assert "transform" not in json.loads(model.read_text())


def test_means_init_is_given_in_the_data_units(tmp_path: Path) -> None:
    start = np.array([[500.0, 0.002, 3e4], [800.0, 0.004, 2e4], [650.0, 0.001, 5e4]])
    fit = emgmm_cli.fit(X, 3, means_init=start, standardize=True, seed=0)
    assert sorted(np.bincount(fit.labels).tolist()) == [80, 100, 120]


def test_a_standardized_model_continues_in_its_own_standardized_columns(tmp_path: Path
                                                                         ) -> None:
    """--init-model refused every model fitted with --standardize (with --standardize too,
    whatever its message advised).  Such a model continues in the columns its transform
    makes from the data, with or without --standardize: its transform, not the data's
    own spread, so that its parameters are the start they are; the continued model keeps
    that transform.  A model of the data's own columns with --standardize is refused."""
    data = save(tmp_path / "d.csv", X)
    run("fit", data, "-k", "3", "-c", "EVE", "--seed", "0", "--standardize", "--init",
        "random", "--n-init", "1", "--max-iter", "2", "--model", "s.json", "-q", "-o",
        "s.csv", cwd=tmp_path)
    first = json.loads((tmp_path / "s.json").read_text())
    docs = []
    for extra in ([], ["--standardize"]):
        run("fit", data, "--init-model", "s.json", *extra, "--model", "c.json", "-q", "-o",
            "c.csv", cwd=tmp_path)
        docs.append(json.loads((tmp_path / "c.json").read_text()))
    assert docs[0]["log_likelihood"] == docs[1]["log_likelihood"]
    went_on = docs[0]
    assert went_on["version"] == 2 and went_on["transform"] == first["transform"]
    assert went_on["covariance_type"] == "EVE" and went_on["n_iter"] > 1
    assert went_on["log_likelihood"] > first["log_likelihood"] + 1e-3  # 1 iteration was few
    # frozen whole, the continued model is the model: its parameters and log-likelihood
    run("fit", data, "--init-model", "s.json", "--freeze", "weights,means,covariances",
        "--model", "f.json", "-q", "-o", "f.csv", cwd=tmp_path)
    frozen = json.loads((tmp_path / "f.json").read_text())
    for name in ("weights", "means", "covariances"):
        np.testing.assert_array_equal(frozen[name], first[name])
    assert frozen["log_likelihood"] == pytest.approx(first["log_likelihood"], rel=1e-12)
    api = emgmm_cli.fit(X, init_model=str(tmp_path / "s.json"))
    assert api.log_likelihood == went_on["log_likelihood"]
    run("fit", data, "-k", "3", "--seed", "0", "--model", "p.json", "-q", cwd=tmp_path)
    refused = invoke_in(tmp_path, "fit", data, "--init-model", "p.json", "--standardize")
    assert refused.exit_code == 2 and refused.stderr.endswith(
        "Error: p.json is a model of the data's own columns, and --init-model continues its "
        "fit in them: leave --standardize out (a model fitted with --standardize continues "
        "in standardized columns)\n"), refused.stderr


def test_fit_with_rows_writes_log_densities_of_the_data(tmp_path: Path) -> None:
    """fit --with-rows --log-density on standardized columns writes what score and predict
    --with-rows write for the model: log-densities of the data's rows (it wrote those of
    the standardized rows, sum_j log scale_j higher)."""
    name = save(tmp_path / "x.csv", X)
    fitted = run("fit", name, "-k", "3", "--seed", "1", "--standardize", "--with-rows",
                 "--log-density", "-o", "rows.csv", "--model", "m.json", cwd=tmp_path)
    assert fitted.exit_code == 0, fitted.output
    written = np.genfromtxt(tmp_path / "rows.csv", delimiter=",", names=True)["log_density"]
    doc = json.loads((tmp_path / "m.json").read_text())
    np.testing.assert_allclose(written, data_units_log_density(doc, X), rtol=1e-9)
    assert written.sum() == pytest.approx(doc["log_likelihood"], rel=1e-9)


def observed_log_density(doc: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """data_units_log_density of rows with missing values (NaN): each row's marginal
    density of its observed columns."""
    out = np.empty(len(x))
    for i, row in enumerate(x):
        held = ~np.isnan(row)
        part = {**doc, "n_features": int(held.sum()), "covariance_type": "full",
                "transform": {n: np.asarray(doc["transform"][n])[held]
                              for n in ("center", "scale")},
                "means": np.asarray(doc["means"])[:, held]}
        full = np.asarray(doc["covariances"])
        part["covariances"] = full[:, held][:, :, held]
        out[i] = data_units_log_density(part, row[held][None, :])[0]
    return out


def test_rows_with_missing_values_lose_the_scales_of_their_observed_columns(
        tmp_path: Path) -> None:
    """--missing em with --standardize: a row with missing values has the marginal
    density of its observed columns, which loses only their log scales from z to x (the
    fit, score and fit --with-rows took all D off every row: iris-like data with 10% of
    its values missing read 12 log-likelihood units high)."""
    holed = X.copy()
    holed[np.random.default_rng(3).random(X.shape) < 0.1] = np.nan
    w = np.arange(len(X)) % 3
    for weights in (None, w):
        fit = emgmm_cli.fit(holed, 3, seed=0, standardize=True, missing="em",
                            sample_weights=weights)
        dens = observed_log_density(fit.document, holed)
        total = float(np.sum(dens if weights is None else w * dens))
        assert fit.log_likelihood == pytest.approx(total, rel=1e-10)
        assert fit.trace["log_likelihood"][-1] == pytest.approx(
            total / (len(X) if weights is None else w.sum()), rel=1e-6)
        scores = emgmm_cli.score(fit, holed, missing="em", sample_weights=weights)
        np.testing.assert_allclose(scores.log_density, dens, rtol=1e-10)
        assert scores.log_likelihood == pytest.approx(total, rel=1e-10)
    np.save(tmp_path / "h.npy", holed)
    blocks = run("fit", "h.npy", "-k", "3", "--seed", "0", "--standardize", "--missing", "em",
                 "--memory-limit", "4K", "--with-rows", "--log-density", "-o", "rows.csv",
                 "--model", "m.json", cwd=tmp_path)
    assert blocks.exit_code == 0, blocks.output
    doc = json.loads((tmp_path / "m.json").read_text())
    dens = observed_log_density(doc, holed)
    assert doc["log_likelihood"] == pytest.approx(dens.sum(), rel=1e-10)
    written = np.genfromtxt(tmp_path / "rows.csv", delimiter=",", names=True)["log_density"]
    np.testing.assert_allclose(written, dens, rtol=1e-9)


def test_columns_with_missing_values_are_scaled_by_the_spread_of_their_values(
        tmp_path: Path) -> None:
    """--missing em with --standardize divides each column by the standard deviation of
    the values it holds (numpy's nanstd), not of the column with its missing values set
    to its mean: a column observed in half the rows was divided by 1/sqrt(2) of its
    spread, and the spherical families fitted to it depended on how much was missing."""
    holed = X.copy()
    holed[::2, 0] = np.nan
    holed[np.random.default_rng(5).random(len(X)) < 0.2, 2] = np.nan
    fit = emgmm_cli.fit(holed, 3, covariance_type="spherical", seed=0, standardize=True,
                        missing="em")
    assert fit.transform is not None
    np.testing.assert_allclose(fit.transform.center, np.nanmean(holed, axis=0), rtol=1e-12)
    np.testing.assert_allclose(fit.transform.scale, np.nanstd(holed, axis=0), rtol=1e-12)
    # read block by block (the rows with missing values held: fewer of them)
    sparse = X.copy()
    sparse[np.random.default_rng(3).random(X.shape) < 0.1] = np.nan
    np.save(tmp_path / "h.npy", sparse)
    blocks = run("fit", "h.npy", "-k", "3", "--seed", "0", "--standardize", "--missing", "em",
                 "--memory-limit", "4K", "--model", "m.json", cwd=tmp_path)
    assert blocks.exit_code == 0, blocks.output
    doc = json.loads((tmp_path / "m.json").read_text())
    np.testing.assert_allclose(doc["transform"]["scale"], np.nanstd(sparse, axis=0),
                               rtol=1e-12)


@pytest.mark.parametrize("memory", [[], ["--memory-limit", "1K"]], ids=["array", "blocks"])
def test_a_point_that_standardizes_beyond_the_dtype_is_refused_not_nan(
        tmp_path: Path, memory: list[str]) -> None:
    """A standardized model applied to a point far beyond its columns' spread: (x - c) / s
    overflowed float32 to inf, and score wrote an empty log-density (NaN, as a missing
    one), a log-likelihood of null and no outlier, exit 0, with numpy's warnings."""
    np.save(tmp_path / "x.npy", X)
    assert run("fit", "x.npy", "-k", "3", "--seed", "1", "--standardize", "--model", "m.json",
               "-o", "labels.csv", cwd=tmp_path).exit_code == 0
    far = X.copy()
    far[5, 1] = 1e37  # m's spread is 0.001: 1e40 of them, beyond float32's 3.4e38
    np.save(tmp_path / "far.npy", far)
    for command in (["score", "m.json", "far.npy", "--dtype", "float32"],
                    ["predict", "m.json", "far.npy", "--dtype", "float32", "--proba"]):
        done = run(*command, *memory, "--cache-dir", "cache", cwd=tmp_path)
        assert (done.exit_code, done.stdout) == (1, ""), done.stderr
        scale = json.loads((tmp_path / "m.json").read_text())["transform"]["scale"][1]
        where = "" if memory else "column '1': value 1e+37 in row 6 (index 5)"
        assert done.stderr == (
            f"Error: far.npy: {where or 'value 1e+37'}, standardized ((x - center) / scale, "
            f"scale {scale:.3g}), is beyond what float32 holds; read the data as float64 "
            "(--dtype float64)\n")
    scored = run("score", "m.json", "far.npy", "--json", cwd=tmp_path)  # in float64: far
    assert scored.exit_code == 0 and json.loads(scored.stdout)["n_infinite"] == 0


def test_sample_refuses_points_a_transform_carries_beyond_float64(tmp_path: Path) -> None:
    """A transform whose center is near the float64 range's end (a model file edited, or
    of such data): sample wrote inf in the rows, exit 0, with a numpy warning."""
    np.save(tmp_path / "x.npy", X)
    assert run("fit", "x.npy", "-k", "3", "--seed", "1", "--standardize", "--model", "m.json",
               "-o", "labels.csv", cwd=tmp_path).exit_code == 0
    doc = json.loads((tmp_path / "m.json").read_text())
    doc["transform"]["center"][0], doc["transform"]["scale"][0] = 1.79e308, 1e307
    (tmp_path / "edge.json").write_text(json.dumps(doc))
    done = run("sample", "edge.json", "-n", "50", "--seed", "1", "-o", "s.csv", cwd=tmp_path)
    assert (done.exit_code, done.stdout) == (1, "")
    assert done.stderr == (
        "Error: edge.json: the model's transform (center 1.79e+308, scale 1e+307 in column "
        "'0') carries points drawn from it beyond the float64 range (about -1.8e308 to "
        "1.8e308); nothing is written\n")
    assert not (tmp_path / "s.csv").exists()
