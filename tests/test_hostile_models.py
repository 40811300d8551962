"""Models: every model fit writes, whatever its options, loads in every command that reads
models; and a hostile or broken transform in a model file is refused with the field named.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import Result

from emgmm_cli.engine.options import MAX_SEED

from conftest import invoke_in

RNG = np.random.default_rng(8)
X = np.r_[RNG.normal(0, 1, (70, 2)), RNG.normal(5, 1, (70, 2)), RNG.normal([0, 6], 1, (60, 2))]

#: Every fit option, each at values that stress it (a fit per entry).
OPTION_SETS: list[list[str]] = [
    ["-c", "full"], ["-c", "tied"], ["-c", "diag"], ["-c", "spherical"],
    ["--init", "k-means++"], ["--init", "random"], ["--init", "random-from-data"],
    ["--init", "hc", "--n-init", "3"], ["--means-init", "means.csv"],
    ["--tol", "0", "--max-iter", "300"], ["--tol", "1e300"], ["--max-iter", "1"],
    ["--reg-covar", "0"], ["--reg-covar", "1e3"], ["--algorithm", "hard"],
    ["--seed", "0"], ["--seed", str(MAX_SEED)], ["--n-init", "4"],
    ["--dtype", "float32"], ["--standardize"], ["--standardize", "-c", "spherical"],
    ["--standardize", "--dtype", "float32", "-c", "tied"], ["--columns", "y,x"],
]


def run(*args: str, cwd: Path, input: str | None = None) -> Result:
    result: Result = invoke_in(cwd, *args, input=input)
    return result


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    np.savetxt(root / "x.csv", X, delimiter=",", header="x,y", comments="", fmt="%.8g")
    (root / "means.csv").write_text("0,0\n5,5\n0,6\n")
    return root


@pytest.mark.parametrize("options", OPTION_SETS, ids=[" ".join(o) for o in OPTION_SETS])
def test_every_model_fit_writes_loads_in_every_command(folder: Path,
                                                       options: list[str]) -> None:
    name = "m-" + "_".join(o.strip("-").replace(".", "") for o in options) + ".json"
    fitted = run("fit", "x.csv", "-k", "3", "--seed", "1", *options, "--model", name,
                 "-o", name + ".labels.csv", cwd=folder)
    assert fitted.exit_code == 0, fitted.output
    doc = json.loads((folder / name).read_text())
    info = run("info", name, "--json", cwd=folder)
    assert info.exit_code == 0 and json.loads(info.stdout) == doc, info.output
    assert run("info", name, cwd=folder).exit_code == 0
    predicted = run("predict", name, "x.csv", cwd=folder)
    assert predicted.exit_code == 0, predicted.output
    assert predicted.stdout == (folder / (name + ".labels.csv")).read_text()
    scored = run("score", name, "x.csv", "--json", cwd=folder)
    assert scored.exit_code == 0, scored.output
    if doc["log_likelihood"] is not None:  # float32 fits sum float32 densities
        assert json.loads(scored.stdout)["log_likelihood"] == pytest.approx(
            doc["log_likelihood"], rel=1e-5 if "float32" in options else 1e-9)
    sampled = run("sample", name, "-n", "7", "--seed", "0", cwd=folder)
    assert sampled.exit_code == 0 and len(sampled.stdout.splitlines()) == 8, sampled.output


def test_a_fit_from_stdin_writes_a_model_that_loads(folder: Path) -> None:
    text = (folder / "x.csv").read_text()
    fitted = run("fit", "-", "-k", "2", "--seed", "0", "--model", "stdin.json", cwd=folder,
                 input=text)
    assert fitted.exit_code == 0, fitted.output
    assert run("predict", "stdin.json", "-", cwd=folder, input=text).exit_code == 0


# --------------------------------------------------------------------------- the transform field


@pytest.fixture(scope="module")
def standardized(folder: Path) -> dict[str, Any]:
    result = run("fit", "x.csv", "-k", "2", "--seed", "0", "--standardize", "--model", "s.json",
                 "-o", "s.labels.csv", cwd=folder)
    assert result.exit_code == 0
    doc: dict[str, Any] = json.loads((folder / "s.json").read_text())
    return doc


def edited(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(doc))
    for key, value in changes.items():
        if key.startswith("transform_"):
            out["transform"][key.removeprefix("transform_")] = value
        else:
            out[key] = value
    return out


BROKEN_TRANSFORMS = [
    ("not an object", {"transform": [1, 2]},
     "field 'transform': expected an object with kind 'standardize', got [1, 2]"),
    ("unknown kind", {"transform_kind": "log"},
     "field 'transform.kind': unknown transform \"log\"; expected 'standardize'"),
    ("in a version 1 file", {"version": 1},
     "field 'transform': a version 1 model cannot hold a transform (readers of version 1 "
     "ignore it); set version 2"),
    ("centre too short", {"transform_center": [0.0]},
     "field 'transform.center': expected 2 finite numbers (one per feature)"),
    ("scale as text", {"transform_scale": ["1", "2"]},
     "field 'transform.scale': expected 2 finite numbers (one per feature)"),
    ("zero scale", {"transform_scale": [1.0, 0.0]},
     "field 'transform.scale': expected numbers > 0"),
    ("negative scale", {"transform_scale": [-1.0, 1.0]},
     "field 'transform.scale': expected numbers > 0"),
    # 1 / 1e-310 overflows: NaN log-densities, numpy's warnings, exit 0 (1e-300 gives
    # the documented -inf and its warning)
    ("subnormal scale", {"transform_scale": [1e-310, 1.0]},
     "field 'transform.scale': expected numbers of at least 2.23e-308 (a subnormal scale "
     "divides the data into infinities)"),
]


@pytest.mark.parametrize(("label", "changes", "message"), BROKEN_TRANSFORMS,
                         ids=[b[0] for b in BROKEN_TRANSFORMS])
@pytest.mark.parametrize("command", ["info", "predict", "score", "sample"])
def test_a_broken_transform_is_refused_naming_the_field(
        folder: Path, standardized: dict[str, Any], label: str, changes: dict[str, Any],
        message: str, command: str) -> None:
    path = folder / f"broken-{label.replace(' ', '_')}.json"
    path.write_text(json.dumps(edited(standardized, **changes)))
    args = [command, path.name] + (["x.csv"] if command in ("predict", "score") else [])
    result = run(*args, *(["-n", "3"] if command == "sample" else []), cwd=folder)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {path.name}: {message}\n"


#: Fields that must be finite, each set to a number Python's json reads but that is not.
NOT_FINITE: list[tuple[dict[str, Any], str]] = [
    ({"log_likelihood": float("nan")},
     "field 'log_likelihood': expected a finite number or null, got NaN"),
    ({"bic": float("inf")}, "field 'bic': expected a finite number or null, got Infinity"),
    ({"means": [[0.0, float("nan")], [1.0, 1.0]]},
     "field 'means': holds a value that is not finite"),
    ({"transform_scale": [1.0, float("inf")]},
     "field 'transform.scale': expected 2 finite numbers (one per feature)"),
]


@pytest.mark.parametrize(("changes", "message"), NOT_FINITE,
                         ids=[next(iter(c)) for c, _ in NOT_FINITE])
@pytest.mark.parametrize("command", ["info", "predict", "score", "sample"])
def test_a_number_that_is_not_finite_is_refused_naming_the_field(
        folder: Path, standardized: dict[str, Any], changes: dict[str, Any],
        message: str, command: str) -> None:
    path = folder / f"not-finite-{next(iter(changes))}.json"
    path.write_text(json.dumps(edited(standardized, **changes)))  # writes NaN, Infinity
    args = [command, path.name] + (["x.csv"] if command in ("predict", "score") else [])
    result = run(*args, *(["-n", "3"] if command == "sample" else []), cwd=folder)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {path.name}: {message}\n"


def test_a_model_without_its_transform_is_not_silently_wrong(
        folder: Path, standardized: dict[str, Any]) -> None:
    """A version 2 document whose transform was dropped loaded as a plain model: its
    parameters, of the standardized columns, applied to the data's own (every row
    labelled 0, exit 0).  Refused; without the transform and as version 1, it is the
    plain model it then says it is."""
    doc = edited(standardized)
    del doc["transform"]
    (folder / "bare.json").write_text(json.dumps(doc))
    for command in ("info", "predict", "score", "sample"):
        args = [command, "bare.json"] + (["x.csv"] if command in ("predict", "score") else [])
        result = run(*args, *(["-n", "3"] if command == "sample" else []), cwd=folder)
        assert result.exit_code == 1
        assert result.stderr == ("Error: bare.json: missing field 'transform'; a version 2 "
                                 "model is of standardized columns and says how to make them "
                                 "(a model without a transform is version 1)\n")
    doc["version"] = 1
    (folder / "plain.json").write_text(json.dumps(doc))
    assert run("info", "plain.json", cwd=folder).exit_code == 0
    with_it = run("predict", "s.json", "x.csv", cwd=folder)
    assert with_it.stdout == (folder / "s.labels.csv").read_text()


@pytest.mark.parametrize("far", [1e20, 1e308])
def test_a_mean_moved_far_off_costs_its_component_and_nothing_else(folder: Path,
                                                                   far: float) -> None:
    """A model file with one mean at 1e20: predict labelled every row with one
    component and score gave -647.6 for a total scipy puts at -7457.1; as a start
    (--init-model) every covariance 'was not positive definite at iteration 1', the data
    blamed, and at 1e308 numpy's overflow warnings came first.  Each density is now the
    model's own (the kernel's exact mode): the far component takes no row, and
    continued, its weight collapses, said as such, and the fit goes on."""
    fitted = run("fit", "x.csv", "-k", "3", "-c", "full", "--seed", "1", "--model",
                 "near.json", "-o", "near.csv", cwd=folder)
    assert fitted.exit_code == 0, fitted.output
    doc = json.loads((folder / "near.json").read_text())
    doc["means"][0][0] = far
    (folder / "far.json").write_text(json.dumps(doc))
    labels = np.loadtxt(folder / "near.csv", dtype=int)
    full = np.array(doc["covariances"])
    from scipy.stats import multivariate_normal
    rows = np.loadtxt(folder / "x.csv", delimiter=",", skiprows=1)  # X as written
    with np.errstate(over="ignore"):
        dens = np.array([np.log(w) + multivariate_normal(m, c).logpdf(rows)
                         for w, m, c in zip(doc["weights"], doc["means"], full)])
    predicted = run("predict", "far.json", "x.csv", cwd=folder)
    assert predicted.exit_code == 0 and predicted.stderr == ""
    np.testing.assert_array_equal(np.array(predicted.stdout.split(), dtype=int),
                                  dens.argmax(axis=0))
    assert (dens.argmax(axis=0) != 0).all() and (labels == 0).any()  # the rows 0 held
    scored = run("score", "far.json", "x.csv", "--json", cwd=folder)
    assert scored.exit_code == 0 and scored.stderr == ""
    assert json.loads(scored.stdout)["log_likelihood"] == pytest.approx(
        float(np.logaddexp.reduce(dens, axis=0).sum()), rel=1e-10)
    went_on = run("fit", "x.csv", "--init-model", "far.json", "--model", "on.json", "-o",
                  "on.csv", cwd=folder)
    assert went_on.exit_code == 0, went_on.stderr
    # (numbered in the fit's order: the collapsed component last)
    assert went_on.stderr == ("emgmm: warning: x.csv: component 2: weight collapsed to zero "
                              "at iteration 1 (it explains no points); its mean and "
                              "covariance were frozen at their previous values\n")


def test_a_far_mean_leaves_a_shared_covariance_as_it_is(folder: Path) -> None:
    """A tied model (EEE) continued from a mean moved to 1e160: the far component's rows,
    their responsibilities floored at exp(-700) of the largest (1e-304), still brought
    their squared residuals (1e320) into the covariance the components share: a fit of
    -13950 where 1e20 gives -3465, and from 1e200 on 'not positive definite'.  Its
    moments are now over the rows it holds: the same fit from every far mean."""
    fitted = run("fit", "x.csv", "-k", "3", "-c", "EEE", "--seed", "1", "--model",
                 "tied.json", "-o", "tied.csv", cwd=folder)
    assert fitted.exit_code == 0, fitted.output
    ends = []
    for far in (1e20, 1e160, 1e300):
        doc = json.loads((folder / "tied.json").read_text())
        doc["means"][0][0] = far
        (folder / "tied-far.json").write_text(json.dumps(doc))
        went_on = run("fit", "x.csv", "--init-model", "tied-far.json", "--model",
                      "tied-on.json", "-o", "tied-on.csv", cwd=folder)
        assert went_on.exit_code == 0, went_on.stderr
        ends.append(json.loads((folder / "tied-on.json").read_text())["log_likelihood"])
    assert ends[1] == ends[0] and ends[2] == ends[0], ends


def test_a_far_mean_is_quiet_under_missing_em(folder: Path) -> None:
    """Rows with missing values take their densities through their observed columns, one
    component at a time: a mean at 1e300 overflowed their squares with numpy's warning
    (twice, in score and predict).  Such a component has no density there: quiet."""
    x = np.loadtxt(folder / "x.csv", delimiter=",", skiprows=1)
    x[::7, 1] = np.nan
    np.savetxt(folder / "holes.csv", x, delimiter=",", header="x,y", comments="")
    fitted = run("fit", "holes.csv", "-k", "3", "--missing", "em", "--seed", "1", "--model",
                 "holes.json", "-o", "holes.labels.csv", cwd=folder)
    assert fitted.exit_code == 0, fitted.output
    doc = json.loads((folder / "holes.json").read_text())
    doc["means"][0][0] = 1e300
    (folder / "holes-far.json").write_text(json.dumps(doc))
    for command in ("score", "predict"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # numpy's, as the program prints
            done = run(command, "holes-far.json", "holes.csv", "--missing", "em", "-o",
                       f"far.{command}.csv", cwd=folder)
        assert done.exit_code == 0 and done.stderr == "", done.stderr
    labels = np.loadtxt(folder / "far.predict.csv", dtype=int)
    assert (labels != 0).all()


@pytest.mark.parametrize("family, factor", [("diag", 1e-320), ("spherical", 1e-320),
                                            ("VVE", 1e300), ("EVE", 1e300),
                                            ("VVE", 1e-310)])
def test_covariances_near_the_ends_of_the_range_give_no_numpy_warning(
        folder: Path, family: str, factor: float) -> None:
    """Model files that load: diagonal variances of 1e-320 (subnormal) gave numpy's
    overflow warning from the kernel (their precisions are beyond the range), and shared-
    orientation covariances scaled by 1e300 three more from the orientation check (whose
    products overflowed; scaled by 1e-310 it refused them as 'another orientation than
    component 0's', comparing component 0 with itself)."""
    import emgmm_cli

    assert run("fit", "x.csv", "-k", "3", "-c", family, "--seed", "1", "--model",
               f"{family}.json", "-o", f"{family}.csv", cwd=folder).exit_code == 0
    doc = json.loads((folder / f"{family}.json").read_text())
    doc["covariances"] = (np.array(doc["covariances"]) * factor).tolist()
    path = folder / f"{family}-{factor:g}.json"
    path.write_text(json.dumps(doc))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", emgmm_cli.FitWarning)  # (the points' far: said)
        labels = emgmm_cli.predict(str(path), str(folder / "x.csv"))
        text = run("info", str(path), cwd=folder)
    assert text.exit_code == 0 and text.stderr == "" and len(labels) == len(X)
