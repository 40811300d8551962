"""Hostile values in the data: huge, tiny, far from the model, rounded together, copied,
a class label left in.  Never a NaN, never a numpy warning, never a message that points
the wrong way: each condition is named once, with its column and its fix.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from emgmm_cli.cli.main import cli
from emgmm_cli.engine.families import FAMILIES
from emgmm_cli.engine.params import MixtureParams
from emgmm_cli.engine.stats import predict_chunk

RNG = np.random.default_rng(12)
BLOBS = np.r_[RNG.normal(0, 1, (150, 2)), RNG.normal(6, 1.5, (150, 2))]


@pytest.fixture(autouse=True)
def numpy_warnings_are_errors() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):  # what is not silenced raises
            yield


def run(*args: str, cwd: Path) -> Result:
    import os

    here = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, list(args), env={"EMGMM_FORCE_TTY": None},
                                  prog_name="emgmm")
    finally:
        os.chdir(here)


def write(path: Path, x: np.ndarray, names: str = "x,y", fmt: str = "%.17g") -> str:
    np.savetxt(path, x, delimiter=",", header=names, comments="", fmt=fmt)
    return path.name


def params_of(covariance_type: str) -> MixtureParams:
    rng = np.random.default_rng(3)
    k, d = 3, 2
    means = rng.normal(0, 5, (k, d))
    full = np.array([np.cov(rng.normal(size=(20, d)).T) + 0.2 * np.eye(d) for _ in range(k)])
    cov = {"full": full, "tied": full[0], "diag": np.diagonal(full, axis1=1, axis2=2).copy(),
           "spherical": full[:, 0, 0].copy()}[covariance_type]
    return MixtureParams.build(np.array([0.5, 0.3, 0.2]), means, cov, covariance_type)


# --------------------------------------------------------------------------- far from the model

FAR = np.array([[1e155, 1e155], [-3e200, 1e100], [1.7e308, -1.7e308], [1e300, 0.0],
                [0.0, -1e160], [4e154, -4e154]])
#: Far for float32, whose squared distances overflow at about 3e38.
FAR32 = np.array([[1e30, 1e30], [0.0, -1e25], [4e20, -4e20], [3e38, -3e38]])


def scaled_nearest(params: MixtureParams, x: np.ndarray) -> np.ndarray:
    """The component nearest by Mahalanobis distance, computed on x / |x| (so nothing
    overflows): for points this far, the arg-max of the responsibilities."""
    full = params.full_covariances()
    out = []
    for row in x:
        s = np.abs(row).max()
        d = [float((row / s - m / s) @ np.linalg.solve(c, row / s - m / s))
             for m, c in zip(params.means, full)]
        out.append(int(np.argmin(d)))
    return np.array(out)


@pytest.mark.parametrize("covariance_type", list(FAMILIES)[:4])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_points_far_from_the_model_get_their_nearest_component(covariance_type: str,
                                                               dtype: type) -> None:
    params = params_of(covariance_type)
    x: np.ndarray = (FAR if dtype is np.float64 else FAR32).astype(dtype)
    pred = predict_chunk(x, params)
    assert not np.isnan(pred.log_density).any() and not np.isnan(pred.resp).any()
    assert (pred.log_density < 0).all()
    np.testing.assert_allclose(pred.resp.sum(axis=1), 1.0, rtol=1e-12)
    assert pred.labels.tolist() == scaled_nearest(params, x.astype(np.float64)).tolist()


def test_a_far_point_whose_density_is_representable_keeps_its_value() -> None:
    params = params_of("full")
    x = np.array([[1e150, -2e150]])
    dens = predict_chunk(x, params).log_density[0]
    # log N(x | k) = const_k - maha_k / 2, with maha_k ~ 1e300: the nearest term wins
    full = params.full_covariances()
    terms = [np.log(w) - 0.5 * np.linalg.slogdet(2 * np.pi * c)[1]
             - 0.5 * float((x[0] - m) @ np.linalg.solve(c, x[0] - m))
             for w, m, c in zip(params.weights, params.means, full)]
    assert np.isfinite(dens) and dens == pytest.approx(max(terms), rel=1e-9)


def test_score_and_predict_far_from_the_model(tmp_path: Path) -> None:
    write(tmp_path / "train.csv", BLOBS)
    fitted = run("fit", "train.csv", "-k", "2", "--seed", "0", "--model", "m.json",
                 "-o", "labels.csv", cwd=tmp_path)
    assert fitted.exit_code == 0, fitted.output
    write(tmp_path / "far.csv", np.array([[1e155, 1e155], [1.0, 1.0], [-1e300, 2.0]]))
    scored = run("score", "m.json", "far.csv", "--json", cwd=tmp_path)
    assert scored.exit_code == 0, scored.output
    summary = json.loads(scored.stdout)
    assert summary["log_likelihood"] == "-inf" and summary["mean_log_likelihood"] == "-inf"
    assert summary["n_infinite"] == 2
    assert scored.stderr == (
        "emgmm: warning: far.csv: 2 points (rows 1, 3) so far from every component that the "
        "density is below what a float64 holds: log-density -inf\n")
    table = run("score", "m.json", "far.csv", "-o", "-", cwd=tmp_path)
    out = table.stdout.splitlines()
    assert (out[0], out[1], out[3]) == ("log_density", "-inf", "-inf")
    assert np.isfinite(float(out[2]))
    proba = run("predict", "m.json", "far.csv", "--proba", cwd=tmp_path)
    assert proba.exit_code == 0 and proba.stderr == "", proba.output
    rows = [[float(v) for v in line.split(",")] for line in proba.stdout.splitlines()[1:]]
    assert [sum(r) for r in rows] == pytest.approx([1, 1, 1])
    labels = run("predict", "m.json", "far.csv", cwd=tmp_path)
    assert labels.exit_code == 0 and labels.stderr == ""
    assert [int(v) for v in labels.stdout.split()] == [int(np.argmax(r)) for r in rows]


def test_threshold_flags_the_infinitely_unlikely_points_first(tmp_path: Path) -> None:
    write(tmp_path / "train.csv", BLOBS)
    assert run("fit", "train.csv", "-k", "2", "--seed", "0", "--model", "m.json",
               "-o", "labels.csv", cwd=tmp_path).exit_code == 0
    x = np.r_[BLOBS[:9], [[1e200, 1e200]]]
    write(tmp_path / "some.csv", x)
    result = run("score", "m.json", "some.csv", "--threshold", "0.05", "--json",
                 "-o", "flags.csv", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    flags = np.loadtxt(tmp_path / "flags.csv", delimiter=",", skiprows=1)[:, 1]
    assert flags.tolist() == [0] * 9 + [1]
    assert json.loads(result.stdout)["n_outliers"] == 1
