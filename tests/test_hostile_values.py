"""Hostile values in the data: huge, tiny, far from the model, rounded together, copied,
a class label left in.  Never a NaN, never a numpy warning, never a message that points
the wrong way: each condition is named once, with its column and its fix.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from click.testing import Result

from emgmm_cli.engine.families import FAMILIES, MATRIX, family
from emgmm_cli.engine.params import MixtureParams
from emgmm_cli.engine.stats import predict_chunk

from conftest import invoke_in

RNG = np.random.default_rng(12)
BLOBS = np.r_[RNG.normal(0, 1, (150, 2)), RNG.normal(6, 1.5, (150, 2))]


@pytest.fixture(autouse=True)
def numpy_warnings_are_errors() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):  # what is not silenced raises
            yield


def run(*args: str, cwd: Path, input: str | None = None) -> Result:
    result: Result = invoke_in(cwd, *args, input=input)
    return result


def write(path: Path, x: np.ndarray, names: str = "x,y", fmt: str = "%.17g") -> str:
    np.savetxt(path, x, delimiter=",", header=names, comments="", fmt=fmt)
    return path.name


def params_of(covariance_type: str) -> MixtureParams:
    rng = np.random.default_rng(3)
    k, d = 3, 2
    means = rng.normal(0, 5, (k, d))
    full = np.array([np.cov(rng.normal(size=(20, d)).T) + 0.2 * np.eye(d) for _ in range(k)])
    fam = family(covariance_type)  # the model's covariances for scatter 20 * full
    scatter = full if fam.statistic == MATRIX else np.diagonal(full, axis1=1, axis2=2)
    cov = fam.m_step(20.0 * scatter, np.full(k, 20.0), None)
    return MixtureParams.build(np.array([0.5, 0.3, 0.2]), means, cov, covariance_type)


# --------------------------------------------------------------------------- far from the model

FAR = np.array([[1e155, 1e155], [-3e200, 1e100], [1.7e308, -1.7e308], [1e300, 0.0],
                [0.0, -1e160], [4e154, -4e154]])
#: Far for float32, whose squared distances overflow at about 3e38.
FAR32 = np.array([[1e30, 1e30], [0.0, -1e25], [4e20, -4e20], [3e38, -3e38]])


def scaled_nearest(params: MixtureParams, x: np.ndarray) -> np.ndarray:
    """The component nearest by Mahalanobis distance, for points this far the arg-max of
    the responsibilities: the distances |U_k^T (x - mu_k)|^2 in exact rational arithmetic
    from the model's own precision factors (in floating point, where the components
    share one covariance, the distances' common term swamps what tells them apart)."""
    out = []
    for row in x:
        dist = []
        for mean, factor in zip(params.means, params.precisions_cholesky):
            r = [Fraction(float(a)) - Fraction(float(b)) for a, b in zip(row, mean)]
            if factor.ndim == 2:
                z = [sum(r[i] * Fraction(float(factor[i, j])) for i in range(len(r)))
                     for j in range(len(r))]
            else:
                z = [ri * Fraction(float(f)) for ri, f in zip(r, factor)]
            dist.append(sum(zi * zi for zi in z))
        live = [j for j, w in enumerate(params.weights) if w > 0]
        out.append(min(live, key=lambda j: dist[j]))
    return np.array(out)


@pytest.mark.parametrize("covariance_type",
                         [name for name, fam in FAMILIES.items() if not fam.univariate])
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


@pytest.mark.parametrize("covariance_type", ["E", "V"])
def test_far_points_of_one_column_go_to_the_component_they_lie_toward(
        covariance_type: str) -> None:
    """One column, means 0 and 10, variance 1 (E: shared; V: each its own, equal): a
    point at +1e200 is nearest the mean at 10, one at -1e200 the mean at 0, whatever the
    weights (both went to the heavier component, the distances equal to every digit)."""
    params = MixtureParams.build(np.array([0.67, 0.33]), np.array([[0.0], [10.0]]),
                                 np.array([1.0, 1.0] if covariance_type == "V" else 1.0),
                                 covariance_type)
    far = np.array([[1e200], [-1e200], [1.7e308], [-1e160]])
    pred = predict_chunk(far, params)
    assert pred.labels.tolist() == [1, 0, 1, 0] == scaled_nearest(params, far).tolist()
    np.testing.assert_array_equal(pred.resp, np.eye(2)[[1, 0, 1, 0]])


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
        "emgmm: warning: far.csv: 2 points (rows 1, 3, counting from 1) so far from every "
        "component that the density is below what a float64 holds: log-density -inf\n")
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


# --------------------------------------------------------------------------- scale


def fit_lines(tmp_path: Path, name: str, *extra: str) -> tuple[int, list[str], list[str]]:
    """(exit code, stderr lines, files written) of a fit of name with outputs asked for."""
    result = run("fit", name, "-k", "3", "--seed", "0", "--model", "m.json", "-o", "l.csv",
                 *extra, cwd=tmp_path)
    written = sorted(p.name for p in tmp_path.iterdir() if p.name in ("m.json", "l.csv")
                     or p.name.startswith("."))
    return result.exit_code, result.stderr.splitlines(), written


def test_values_near_1e300_are_refused_as_overflowing_with_the_fix(tmp_path: Path) -> None:
    write(tmp_path / "big.csv", np.round(BLOBS, 3) * 1e299, fmt="%.3e")
    code, lines, written = fit_lines(tmp_path, "big.csv")
    assert (code, written) == (1, [])
    j = int(np.argmax(np.ptp(BLOBS, axis=0)))  # the column of the widest span is named
    lo, hi = int(np.argmin(BLOBS[:, j])), int(np.argmax(BLOBS[:, j]))
    assert lines == [
        f"Error: big.csv: squared distances between the points overflow float64: column "
        f"'{'xy'[j]}' runs from {np.round(BLOBS[lo, j], 3) * 1e299:.3g} (row {lo + 1}) to "
        f"{np.round(BLOBS[hi, j], 3) * 1e299:.3g} (row {hi + 1}); use --standardize (every "
        "column centred and scaled to unit variance)"]


@pytest.mark.parametrize("power", [80, 100, 150])
def test_values_near_1e100_fit_as_the_same_data_at_unit_scale(tmp_path: Path,
                                                               power: int) -> None:
    """Data at 1e80 to 1e150 (variances up to 1e300: within float64, whose check above
    refuses only what overflows) fit with the default acceleration, and the fit is the
    unit-scale fit scaled: a GMM of c x is that of x with means times c and covariances
    times c^2, its log-likelihood less n D log c, when reg_covar scales with c^2 too.
    SQUAREM squared the covariances' differences in the data's units, which overflow
    from about 1e77 on (an internal OverflowError)."""
    scale = 10.0**power
    write(tmp_path / "unit.csv", BLOBS)
    write(tmp_path / "big.csv", BLOBS * scale)
    fits = {}
    for name, reg in (("unit", "1e-6"), ("big", f"{1e-6 * scale**2:.17g}")):
        # converged far beyond the default tol, so that the two runs, which differ by
        # rounding from their first step on, end at the same optimum to the test's rtol
        result = run("fit", f"{name}.csv", "-k", "3", "--seed", "0", "--tol", "1e-12",
                     "--model", f"{name}.json", "--reg-covar", reg, cwd=tmp_path)
        assert (result.exit_code, result.stderr) == (0, ""), result.output
        fits[name] = json.loads((tmp_path / f"{name}.json").read_text())
    unit, big = fits["unit"], fits["big"]
    shift = BLOBS.size * math.log(scale)
    assert big["log_likelihood"] == pytest.approx(unit["log_likelihood"] - shift, rel=1e-9)
    np.testing.assert_allclose(np.array(big["means"]) / scale, unit["means"], rtol=1e-6)
    np.testing.assert_allclose(np.array(big["covariances"]) / scale**2, unit["covariances"],
                               rtol=1e-5)


def test_one_outlier_at_1e200_is_named_by_its_row(tmp_path: Path) -> None:
    x = np.array(np.round(BLOBS, 3))
    x[41, 0] = 1e200
    write(tmp_path / "outlier.csv", x, fmt="%.6g")
    code, lines, written = fit_lines(tmp_path, "outlier.csv")
    assert (code, written) == (1, [])
    assert len(lines) == 1 and lines[0].startswith(
        "Error: outlier.csv: squared distances between the points overflow float64: column "
        "'x' runs from ")
    assert lines[0].endswith(" to 1e+200 (row 42); use --standardize (every column centred "
                             "and scaled to unit variance)")


def test_a_column_spanning_the_float_range_is_refused_without_a_warning(
        tmp_path: Path) -> None:
    """A column from -1e308 to 1e308 (half its span above 2^1023): the screen's unit,
    the power of two above that half, overflowed to inf with numpy's RuntimeWarning
    before the refusal.  One line now; with --standardize the column fits (the blobs
    squeezed near 0 in it by the two far points: collapsed components, said so)."""
    x = np.array(np.round(BLOBS, 3))
    x[0, 0], x[1, 0] = 1e308, -1e308
    write(tmp_path / "wide.csv", x, fmt="%.6g")
    code, lines, written = fit_lines(tmp_path, "wide.csv")
    assert (code, written) == (1, [])
    assert len(lines) == 1 and lines[0].startswith(
        "Error: wide.csv: squared distances between the points overflow float64: column "
        "'x' runs from -1e+308 (row 2) to 1e+308 (row 1)"), lines
    code, lines, written = fit_lines(tmp_path, "wide.csv", "--standardize")
    assert code == 0 and written == ["l.csv", "m.json"]
    assert [line.split(": ")[:2] for line in lines] == [["emgmm", "warning"]], lines


def test_values_at_1e_300_are_not_one_distinct_point(tmp_path: Path) -> None:
    write(tmp_path / "tiny.csv", BLOBS * 1e-300)
    code, lines, written = fit_lines(tmp_path, "tiny.csv")
    assert (code, written) == (1, [])
    lo, hi = BLOBS[:, 0].min() * 1e-300, BLOBS[:, 0].max() * 1e-300
    assert lines == [
        f"Error: tiny.csv: column 'x' varies by only {hi - lo:.3g} (from {lo:.3g} to "
        f"{hi:.3g}): squared differences that small underflow float64; use --standardize "
        "(every column centred and scaled to unit variance)"]
    # and with the fix, it fits: the model in the data's units
    code, lines, written = fit_lines(tmp_path, "tiny.csv", "--standardize")
    assert (code, lines, written) == (0, [], ["l.csv", "m.json"])


def test_k_means_plus_plus_says_why_it_cannot_seed() -> None:
    from emgmm_cli.engine.errors import InvalidParameter
    from emgmm_cli.engine.init import kmeans_plusplus

    rng = np.random.default_rng(0)
    with pytest.raises(InvalidParameter, match="^cannot seed 3 components: the squared "
                                               "distances between the 300 distinct points "
                                               "underflow$"):
        kmeans_plusplus(BLOBS * 1e-170, 3, rng)
    with pytest.raises(InvalidParameter, match="^cannot seed 3 components: the sample has "
                                               "only 2 distinct points$"):
        kmeans_plusplus(np.repeat([[0.0, 1.0], [2.0, 3.0]], 50, axis=0), 3, rng)


def test_float32_rounding_is_named_as_the_cause(tmp_path: Path) -> None:
    write(tmp_path / "g.csv", 1e9 + BLOBS, fmt="%.6f")
    code, lines, written = fit_lines(tmp_path, "g.csv", "--dtype", "float32")
    assert (code, written) == (1, [])
    assert lines == [
        "Error: g.csv: column 'x' holds one value, 1e+09: float32 counts in steps of 64 that "
        "far from zero, more than 1/1000 of the spread components narrow to along it "
        "(sqrt(reg_covar) = 0.001), and EM's sums would not resolve that spread; use --dtype "
        "float64 or --columns without that column"]  # not --standardize: after the rounding
    code, lines, written = fit_lines(tmp_path, "g.csv")
    assert (code, lines, written) == (0, [], ["l.csv", "m.json"])


def test_a_column_float32_holds_one_value_in_is_named_with_its_cause(tmp_path: Path) -> None:
    """A column that is one value in float32: rounding (values 1e-8 apart near 5) or
    underflow (values near 1e-300, below float32's least, read as 0, not -0) may have made
    it so, which float64 tells; the warning says so, and names the value as it is."""
    noise = RNG.normal(size=len(BLOBS))
    for name, column, value, why in (
            ("r.csv", 5.0 + 1e-8 * noise, "5", "which keeps about 7 significant digits"),
            ("u.csv", 1e-300 * noise, "0",
             "which reads values that near zero as 0 (its least positive value is "
             "1.4e-45)")):
        write(tmp_path / name, np.c_[BLOBS, column], names="x,y,z")
        code, lines, written = fit_lines(tmp_path, name, "--dtype", "float32")
        assert (code, written) == (0, ["l.csv", "m.json"]), lines
        assert lines == [
            f"emgmm: warning: {name}: column 'z' holds one value ({value}) in float32, {why}: "
            "it may hold more in float64; read the data as float64 (--dtype float64) or "
            "leave it out with --columns"]


def test_a_symbolic_link_loop_is_named(tmp_path: Path) -> None:
    (tmp_path / "a.csv").symlink_to(tmp_path / "b.csv")
    (tmp_path / "b.csv").symlink_to(tmp_path / "a.csv")
    code, lines, written = fit_lines(tmp_path, "a.csv")
    assert (code, lines, written) == (1, [
        "Error: a.csv: is a symbolic link that leads back to itself; point it at a data "
        "file"], [])


# --------------------------------------------------------------------------- columns that spoil a fit


def test_two_identical_columns_are_named_once(tmp_path: Path) -> None:
    write(tmp_path / "dup.csv", np.c_[BLOBS, BLOBS[:, 0]], "x,y,x_again")
    code, lines, _ = fit_lines(tmp_path, "dup.csv")
    assert code == 0
    assert lines[0] == ("emgmm: warning: dup.csv: columns 'x' and 'x_again' are identical; "
                        "every covariance is singular along them; leave one of them out with "
                        "--columns")
    # what collapses because of it is one line that points back, not one per component
    assert all("regularisation floor" in line and line.endswith(
        "; the data warned about above is the likely cause") for line in lines[1:])
    assert len(lines) <= 2


def test_a_column_that_is_a_unit_conversion_is_named(tmp_path: Path) -> None:
    write(tmp_path / "cm.csv", np.c_[BLOBS, BLOBS[:, 1] * 2.54 + 1], "x,inch,cm")
    code, lines, _ = fit_lines(tmp_path, "cm.csv", "-k", "2")
    assert lines[0] == ("emgmm: warning: cm.csv: columns 'inch' and 'cm' are linear functions "
                        "of one another (correlation +1); every covariance is singular along "
                        "them; leave one of them out with --columns")


def test_a_class_label_left_in_the_data_is_named(tmp_path: Path) -> None:
    x = np.c_[BLOBS, np.repeat([0, 1, 2], 100)]
    write(tmp_path / "label.csv", x, "x,y,label", fmt="%.6g")
    code, lines, _ = fit_lines(tmp_path, "label.csv")
    assert code == 0
    assert lines[0] == (
        "emgmm: warning: label.csv: column 'label' takes only 3 values (0, 1, 2) in 300 rows "
        "(a class label or a category?); components collapse onto such values; leave it out "
        "with --columns")
    assert len(lines) <= 2
    # the fix works: no warning at all
    fixed = run("fit", "label.csv", "-k", "2", "--seed", "0", "--columns", "x,y",
                "-o", "l.csv", cwd=tmp_path)
    assert fixed.exit_code == 0 and fixed.stderr == ""


def test_a_column_float32_rounds_to_few_values_is_named(tmp_path: Path) -> None:
    x = np.c_[BLOBS, 1e9 + 64 * np.repeat([0, 1, 2], 100) + RNG.normal(0, 1, 300)]
    write(tmp_path / "r.csv", x, "x,y,big", fmt="%.6f")
    code, lines, written = fit_lines(tmp_path, "r.csv", "--dtype", "float32")
    assert (code, written) == (1, [])
    assert lines == [
        "Error: r.csv: column 'big' holds only 3 values, up to 1e+09 from zero: float32 "
        "counts in steps of 64 that far from zero, more than 1/1000 of the spread components "
        "narrow to along it (sqrt(reg_covar) = 0.001), and EM's sums would not resolve that "
        "spread; use --dtype float64 or --columns without that column"]


#: Old Faithful's first column, 100 rows of N(0, 1) and N(5, 1) with a constant column.
def _with_column(value: float, values: int = 1) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(size=60), 5 + rng.normal(size=40)].round(3)
    return np.c_[value + np.arange(100) % values, x]


def _loglik(tmp_path: Path, name: str, *extra: str) -> float:
    result = run("fit", name, "-k", "2", "--seed", "0", "--model", "m.json", *extra,
                 cwd=tmp_path)
    assert result.exit_code == 0, result.output
    return float(json.loads((tmp_path / "m.json").read_text())["log_likelihood"])


@pytest.mark.parametrize("value,values", [(1e15, 1), (1e12, 3)])
def test_a_column_of_few_values_far_from_zero_is_refused(tmp_path: Path, value: float,
                                                         values: int) -> None:
    """A constant column at 1e11 moved the log-likelihood of this fit by 0.009, and at
    1e12 and beyond the fit failed on covariances that were not positive definite: EM's
    sums round such values by a sizeable share of the spread reg_covar leaves components
    along them.  It is refused, naming the column and the two fixes; with --standardize
    (centred) the fit is that of the same points without the offset."""
    write(tmp_path / "far.csv", _with_column(value, values), "a,b", fmt="%.17g")
    code, lines, written = fit_lines(tmp_path, "far.csv", "-k", "2")
    assert (code, written) == (1, [])
    held = ("one value, 1e+15" if values == 1 else "only 3 values, up to 1e+12 from zero")
    step = float(np.spacing(value + values - 1))
    assert lines[-1] == (
        f"Error: far.csv: column 'a' holds {held}: float64 counts in steps of {step:.3g} "
        "that far from zero, more than 1/1000 of the spread components narrow to along it "
        "(sqrt(reg_covar) = 0.001), and EM's sums would not resolve that spread; use "
        "--standardize (every column centred and scaled to unit variance) or --columns "
        "without that column")
    write(tmp_path / "near.csv", _with_column(0.0, values), "a,b", fmt="%.17g")
    assert _loglik(tmp_path, "far.csv", "--standardize") == pytest.approx(
        _loglik(tmp_path, "near.csv", "--standardize"), rel=1e-12)


def test_a_constant_column_of_epoch_seconds_is_fitted(tmp_path: Path) -> None:
    """Below the refusal (2^33 with the default reg_covar) the column's rounding moves
    each row's log-density by a few times the square of the step over sqrt(reg_covar)
    (5.7e-8 here; EM's sums are off by a few steps, how many depends on the order BLAS
    adds their terms in, so on the machine: 3.6 times it on one, within 1 on another):
    the log-likelihood of the column at 0 within 8 times it a row.  A column at 1e11
    moved it by 0.009 (test_a_column_of_few_values_far_from_zero_is_refused)."""
    write(tmp_path / "epoch.csv", _with_column(1.7e9), "a,b", fmt="%.17g")
    write(tmp_path / "zero.csv", _with_column(0.0), "a,b", fmt="%.17g")
    bound = 100 * 8 * (float(np.spacing(1.7e9)) / 1e-3) ** 2
    assert abs(_loglik(tmp_path, "epoch.csv") - _loglik(tmp_path, "zero.csv")) <= bound


@pytest.mark.parametrize("covariance_type", ["full", "tied", "VEV", "diag"])
def test_log_densities_far_from_zero_are_those_of_the_centred_data(
        tmp_path: Path, covariance_type: str) -> None:
    """Readings near 1e9 with a spread of 1e-3: the full-matrix kernel formed U^T x and
    U^T mu, both near 1e12, and their difference kept a residual to 1e-4 only, so that
    score wrote log-densities 2e-4 off (the diagonal families' kernel, centred, was
    exact).  Both kernels now centre the rows: the log-densities are those of the rows
    and means less 1e9 (subtractions that are exact here)."""
    x = 1e9 + 1e-3 * BLOBS
    write(tmp_path / "far.csv", x)
    fit = run("fit", "far.csv", "-k", "2", "-c", covariance_type, "--seed", "0",
              "--model", "m.json", cwd=tmp_path)
    assert fit.exit_code == 0, fit.output
    assert run("score", "m.json", "far.csv", "-o", "s.csv", cwd=tmp_path).exit_code == 0
    model = json.loads((tmp_path / "m.json").read_text())
    means = np.array(model["means"]) - 1e9
    covs = family(covariance_type).to_full(np.array(model["covariances"]), 2, 2)
    terms = [math.log(w) + multivariate_normal(m, c).logpdf(x - 1e9)
             for w, m, c in zip(model["weights"], means, covs)]
    got = np.loadtxt(tmp_path / "s.csv", skiprows=1)
    assert np.abs(got - np.logaddexp(*terms)).max() < 1e-8


@pytest.mark.parametrize("command", ["fit", "select"])
def test_one_row_is_refused_without_a_warning_for_each_column(tmp_path: Path,
                                                              command: str) -> None:
    """One row holds one value in every column: the screen warned of each column ("leave
    it out with --columns", advice that cannot help) before the error on the row count."""
    write(tmp_path / "one.csv", np.array([[1.0, 2.0, 3.0]]), "a,b,c")
    result = run(command, "one.csv", "-k", "1", cwd=tmp_path)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: one.csv: need at least 2 rows to fit a mixture, got 1"]


def test_few_values_far_from_zero_are_shown_in_full(tmp_path: Path) -> None:
    write(tmp_path / "far.csv", _with_column(1e12, 3), "a,b", fmt="%.17g")
    code, lines, _ = fit_lines(tmp_path, "far.csv", "-k", "2", "--standardize")
    assert code == 0
    assert lines[0].startswith("emgmm: warning: far.csv: column 'a' takes only 3 values "
                               "(1000000000000.0, 1000000000001.0, 1000000000002.0) in 100 rows")


def test_reg_covar_swamping_a_column_is_named(tmp_path: Path) -> None:
    x = np.c_[BLOBS, RNG.normal(0, 3e-5, 300)]
    write(tmp_path / "small.csv", x, "x,y,tiny")
    code, lines, _ = fit_lines(tmp_path, "small.csv", "-k", "2")
    var = float(np.var(x[:, 2]))
    assert (code, lines) == (0, [
        f"emgmm: warning: small.csv: reg_covar 1e-06 is more than 0.01 of the variance of "
        f"column 'tiny' ({var:.3g}): it, not the data, sets the spread of the components "
        "there; fit standardized columns with --standardize (or give a smaller --reg-covar)"])
    code, lines, _ = fit_lines(tmp_path, "small.csv", "-k", "2", "--standardize")
    assert (code, lines) == (0, [])


def test_batch_and_select_name_the_conditions_too(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    write(tmp_path / "data" / "label.csv", np.c_[BLOBS, np.repeat([0, 1, 2], 100)],
          "x,y,label", fmt="%.6g")
    warning = ("column 'label' takes only 3 values (0, 1, 2) in 300 rows (a class label or a "
               "category?); components collapse onto such values; leave it out with --columns")
    batch = run("batch", "data", "-k", "2", "--seed", "0", "--output-dir", "out", cwd=tmp_path)
    assert batch.exit_code == 0
    assert batch.stderr.splitlines()[0] == f"emgmm: warning: data/label.csv: {warning}"
    select = run("select", "data/label.csv", "-k", "1-2", "-c", "diag", "--seed", "0",
                 "--n-init", "1", "--table", "t.csv", cwd=tmp_path)
    assert select.exit_code == 0
    assert select.stderr.splitlines()[0] == f"emgmm: warning: data/label.csv: {warning}"


# --------------------------------------------------------------------------- linear algebra

#: Twelve rows near 1e9 in one column: a k-means++ candidate's first M-step gets a scatter
#: that is not positive definite to rounding.
NEAR_1E9 = np.array([[1000000000.36, 1.73936787713], [999999998.792, -0.495910728442],
                     [999999999.996, 0.32896962946], [1000000000.66, -0.258572545474],
                     [999999998.712, 1.5834728788], [1000000000.4, 1.32036098708],
                     [1000000000.43, 0.633352622825], [1000000000.7, -2.20350988065],
                     [999999998.816, 0.0520289742599], [999999999.338, 0.683686190777],
                     [999999999.564, 1.00396157584], [999999998.83, -0.617907044708]])


def test_an_m_step_whose_linear_algebra_fails_fails_its_start_not_the_run(
        tmp_path: Path) -> None:
    """EVE's M-step from a scatter that is not positive definite took an SVD that did not
    converge: an internal error (LinAlgError) that ended fit, and select with its default
    families, which lost every cell.  Now it is NotPositiveDefinite, as the factorisation
    of any other family's covariance is: the start fails, the auto start goes on with the
    others, and select fits every cell."""
    from emgmm_cli.engine.em import m_step
    from emgmm_cli.engine.errors import NotPositiveDefinite
    from emgmm_cli.engine.stats import SuffStats

    name = write(tmp_path / "near.csv", NEAR_1E9)
    assert run("fit", name, "-k", "2", "-c", "EVE", "--seed", "0", "-q", cwd=tmp_path
               ).exit_code == 0
    result = run("select", name, "-k", "1-3", "-c", "EVE,VVE,VEE", "--seed", "0",
                 cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    statuses = [line.split(",")[3] for line in result.stdout.splitlines()[1:]]
    assert len(statuses) == 9 and set(statuses) <= {"ok", "degenerate"}, statuses
    indefinite = np.array([[[5.4552e-6, -5.7023e-6], [-5.7023e-6, 1e-6]],
                           [[5.8978, 1.8126], [1.8126, 6.7150]]])
    stats = SuffStats(np.ones(2), np.zeros((2, 2)), indefinite, 0.0, 0.0, 0.0, 2.0)
    for covariance_type in ("EVE", "VEE"):
        with pytest.raises(NotPositiveDefinite) as info:
            m_step(stats, np.zeros((2, 2)), covariance_type, 1e-6, iteration=3)
        assert info.value.component == 0 and info.value.iteration == 3


@pytest.mark.parametrize("covariance_type", ["VVE", "EVE", "VEV", "full"])
def test_without_a_floor_a_covariance_singular_to_rounding_is_refused(
        tmp_path: Path, covariance_type: str) -> None:
    """With --reg-covar 0 and a constant column, VVE's covariances were singular only to
    rounding (variances of 1e-29 along the column beside ones of 10): exit 0, a
    log-likelihood of 179.6 that measured rounding, and no component degenerate.  Now
    such a covariance is not positive definite, as the other families' already were;
    spherical covariances, whose one variance the other column sets, still fit."""
    x = np.array([[1, 5], [2, 5], [3, 5], [10, 5], [11, 5], [12, 5]], dtype=float)
    name = write(tmp_path / "constant.csv", x, names="a,b")
    args = ("fit", name, "-k", "2", "--reg-covar", "0", "--seed", "0", "-q")
    result = run(*args, "-c", covariance_type, cwd=tmp_path)
    assert result.exit_code == 1 and result.stdout == ""
    assert "covariance is not positive definite" in result.stderr
    assert "even with reg_covar=0; use a larger --reg-covar" in result.stderr
    assert run(*args, "-c", "spherical", cwd=tmp_path).exit_code == 0


def two_tight_clusters(spread: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.r_[rng.normal(0, spread, (10000, 2)), rng.normal(10, spread, (10000, 2))]


def test_float32_diagonal_variances_within_rounding_are_said(tmp_path: Path) -> None:
    """Two clusters of spread 1e-2 at (0, 0) and (10, 10): in float32 a diagonal family's
    variances came out up to 9 % off (sums about the data's centre, where float32 rounds
    about 3 % of them), the fit 'converged' with exit 0 and no word; a tighter spread
    (2e-3) ended 'not positive definite' with advice of --reg-covar.  Now the first is a
    warning per component and an event of the model, the second advises --dtype float64
    first; float64, and full covariances in float32, are left alone."""
    write(tmp_path / "t.csv", two_tight_clusters(1e-2), "a,b")
    warned = run("fit", "t.csv", "-k", "2", "-c", "diag", "--dtype", "float32", "--seed", "0",
                 "--model", "m.json", "-o", "labels.csv", cwd=tmp_path)
    assert warned.exit_code == 0, warned.stderr
    said = [line for line in warned.stderr.splitlines() if "float32's rounding" in line]
    assert len(said) == 2 and said[0].startswith("emgmm: warning: t.csv: component 0: its "
                                                 "variance is within float32's rounding")
    events = json.loads((tmp_path / "m.json").read_text())["events"]
    assert [e["kind"] for e in events] == ["float32-precision"] * 2
    losses = [float(e["message"].split("term there by about ")[1].split(" ")[0]) for e in events]
    assert all(0.01 < loss < 0.1 for loss in losses), losses
    for quiet in (["-c", "diag"], ["-c", "full", "--dtype", "float32"]):
        r = run("fit", "t.csv", "-k", "2", *quiet, "--seed", "0", "-o", "labels.csv",
                cwd=tmp_path)
        assert r.exit_code == 0 and "rounding" not in r.stderr, r.stderr
    write(tmp_path / "tight.csv", two_tight_clusters(2e-3), "a,b")
    failed = run("fit", "tight.csv", "-k", "2", "-c", "diag", "--dtype", "float32", "--seed",
                 "0", "-o", "labels.csv", cwd=tmp_path)
    assert failed.exit_code == 1
    # where float32's rounding first bites, in the start's M-step or the first iteration's,
    # depends on how BLAS adds the sums up (seen both on two machines)
    assert re.search(r"is not positive definite (at iteration 1|in the initial parameters) "
                     "even with reg_covar=1e-06; use --dtype float64, a larger --reg-covar",
                     failed.stderr), failed.stderr


def test_a_tiny_floor_on_columns_of_far_apart_scales_fits_as_scikit_learn(tmp_path: Path
                                                                           ) -> None:
    """Columns at scales 1e-6 and 1e6, --reg-covar 1e-16: the start was refused as "not
    positive definite ... even with reg_covar=0", the check meant for no floor at all
    (a Cholesky diagonal below 1e-12 of its largest, which such scales give a sound
    covariance) having run on parameters remade without the floor.  Now the fit is
    scikit-learn's from the same start (the nearest-mean partition, then an M-step)."""
    from sklearn.mixture import GaussianMixture

    import emgmm_cli

    rng = np.random.default_rng(0)
    a = np.r_[rng.normal(0, 1, (150, 2)), rng.normal(4, 1, (150, 2))]
    x = np.c_[a[:, 0] * 1e-6, a[:, 1] * 1e6]
    means = x[[0, 200]]
    fitted = emgmm_cli.fit(x, 2, covariance_type="tied", means_init=means, reg_covar=1e-16,
                           accelerate="none", tol=1e-6)
    near = np.argmin(((x[:, None, :] - means[None]) ** 2).sum(axis=2), axis=1)
    mu = np.array([x[near == k].mean(axis=0) for k in range(2)])
    resid = x - mu[near]
    cov = resid.T @ resid / len(x) + 1e-16 * np.eye(2)
    peer = GaussianMixture(2, covariance_type="tied", reg_covar=1e-16, tol=1e-6,
                           weights_init=np.bincount(near) / len(x), means_init=mu,
                           precisions_init=np.linalg.inv(cov)).fit(x)
    assert fitted.log_likelihood == pytest.approx(peer.score(x) * len(x), rel=1e-9)


def test_a_column_rounded_by_a_share_of_its_own_spread_is_refused(tmp_path: Path) -> None:
    """Two groups of spread 0.1 along a column at 1e14 (float64 steps of 0.016 there):
    a full fit "converged" 110 below the diagonal one it contains, without a word, and
    k-means starts failed as "not positive definite" whatever --reg-covar.  Refused with
    --standardize advised (which centres the column first: that fit is sound); at 1e11
    the column's rounding is far below its spread, and the fit goes on."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2)) * [1.0, 0.1]
    x[:150] += [4.0, 0.3]
    spread = float(np.std(x[:, 1] + 1e14))
    write(tmp_path / "far.csv", x + [0.0, 1e14], "a,b")
    code, lines, written = fit_lines(tmp_path, "far.csv")
    assert (code, written) == (1, [])
    assert lines == [
        f"Error: far.csv: column 'b' spreads {spread:.3g} around 1e+14: float64 counts in "
        "steps of 0.0156 that far from zero, more than 1/100 of that spread, and EM's sums "
        "would not resolve it; use --standardize (every column centred and scaled to unit "
        "variance) or --columns without that column"]
    code, lines, written = fit_lines(tmp_path, "far.csv", "--standardize", "-c", "diag")
    assert (code, written) == (0, ["l.csv", "m.json"]), lines
    (tmp_path / "m.json").unlink()
    write(tmp_path / "near.csv", x + [0.0, 1e11], "a,b")
    code, lines, written = fit_lines(tmp_path, "near.csv")
    assert (code, lines, written) == (0, [], ["l.csv", "m.json"])


def test_a_column_of_a_few_values_one_rounding_apart_is_warned_of_not_refused(
        tmp_path: Path) -> None:
    """0.3 and 0.1 + 0.2 (0.30000000000000004): a column rounded by more than its whole
    spread, but of two values, which the few-values finding names (it was refused as
    coarse for a moment: the spread check is for columns of many values)."""
    x = np.c_[BLOBS, np.where(np.arange(300) % 2, 0.3, 0.1 + 0.2)]
    write(tmp_path / "noisy.csv", x, "x,y,r")
    code, lines, written = fit_lines(tmp_path, "noisy.csv")
    assert (code, written) == (0, ["l.csv", "m.json"])
    assert lines[0].startswith("emgmm: warning: noisy.csv: column 'r' takes only 2 values")


def test_a_share_of_a_row_below_the_exp_floor_is_written_as_zero() -> None:
    """A row far from a component had that component's responsibility written as the E
    step's clamp, 9.86e-305, where scipy (and scikit-learn, and mclust) give 0; shares
    above 1e-300 are kept as they are."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    import emgmm_cli

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (100, 2)), rng.normal(8, 1, (100, 2))])
    fitted = emgmm_cli.fit(x, 2, seed=0)
    rows = np.array([[-40.0, -40.0], [50.0, 50.0], [4.0, 4.2], [np.nan, 60.0]])
    log_dens = np.array([np.log(w) + multivariate_normal(m, c).logpdf(rows[:3]) for w, m, c
                         in zip(fitted.weights, fitted.means, fitted.covariances)]).T
    log_share = log_dens - logsumexp(log_dens, axis=1, keepdims=True)
    expected = np.exp(log_share)
    tiny = expected < 1e-300  # row 0's share of component 1, 2.5e-311: the clamp's
    assert tiny.sum() == 1 and 0 < expected.min() and 0 < expected[1].min() < 1e-280
    for resp in (emgmm_cli.predict(fitted, rows[:3], proba=True),
                 emgmm_cli.predict(fitted, rows, proba=True, missing="em")):
        assert (resp[:3][tiny] == 0).all()
        np.testing.assert_allclose(resp[:3][~tiny], expected[~tiny], rtol=1e-9, atol=0)
    assert sorted(resp[3].tolist()) == [0.0, 1.0]
