"""Hostile option values: every one is a usage error (exit 2) that names the option, given
before any data is read, in every command that takes it; and no message ever suggests a
value the options refuse.

The data file named in these runs does not exist: a refusal that came after reading
would say so (exit 1), so exit 2 proves the option was checked first.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

import emgmm_cli
from emgmm_cli.cli.errors import engine_message
from emgmm_cli.cli.main import cli
from emgmm_cli.engine.errors import InvalidParameter, NotPositiveDefinite
from emgmm_cli.engine.options import MAX_SEED, FitOptions

#: Each command that fits, with the arguments it needs besides the option under test.
FITTING = {
    "fit": ["fit", "missing.csv", "-k", "2"],
    "select": ["select", "missing.csv", "-k", "1-2"],
    "batch": ["batch", "missing.csv", "-k", "2", "--output-dir", "out"],
}

#: (option, value, what the option may be)
BAD_VALUES = [
    ("--tol", "nan", "a finite number >= 0"),
    ("--tol", "inf", "a finite number >= 0"),
    ("--tol", "-inf", "a finite number >= 0"),
    ("--tol", "-1e-3", "a finite number >= 0"),
    ("--reg-covar", "nan", "a finite number >= 0"),
    ("--reg-covar", "inf", "a finite number >= 0"),
    ("--reg-covar", "1e400", "a finite number >= 0"),
    ("--reg-covar", "-1", "a finite number >= 0"),
    ("--seed", str(2**53), f"an integer from 0 to {MAX_SEED}"),
    ("--seed", str(2**64), f"an integer from 0 to {MAX_SEED}"),
    ("--seed", "-1", f"an integer from 0 to {MAX_SEED}"),
    ("--seed", "1.5", f"an integer from 0 to {MAX_SEED}"),
    ("--n-init", "0", "an integer >= 1"),
    ("--max-iter", "0", "an integer >= 1"),
    ("--max-iter", "nan", "an integer >= 1"),
]


def invoke(args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Result:
    monkeypatch.chdir(tmp_path)
    return CliRunner().invoke(cli, args, env={"EMGMM_FORCE_TTY": None}, prog_name="emgmm")


@pytest.mark.parametrize("command", sorted(FITTING))
@pytest.mark.parametrize(("option", "value", "allowed"), BAD_VALUES,
                         ids=[f"{o}={v}" for o, v, _ in BAD_VALUES])
def test_bad_option_values_are_usage_errors_naming_the_option(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, option: str,
        value: str, allowed: str) -> None:
    result = invoke([*FITTING[command], f"{option}={value}"], tmp_path, monkeypatch)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-1] == (
        f"Error: Invalid value for '{option}': {value!r} is not {allowed}.")
    assert list(tmp_path.iterdir()) == []  # nothing read, nothing written


@pytest.mark.parametrize("command", sorted(FITTING))
@pytest.mark.parametrize(("value", "said"), [
    ("", "no column named; name at least one column"),
    ("a,,b", "empty column name in the list")])
def test_an_empty_columns_list_is_a_usage_error(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                command: str, value: str, said: str) -> None:
    """--columns "" was a data error (exit 1, after the input was opened), where an empty
    name in a list is usage (exit 2); both are usage now, before anything is read."""
    result = invoke([*FITTING[command], "--columns", value], tmp_path, monkeypatch)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-1] == f"Error: Invalid value for '--columns': {said}"


@pytest.mark.parametrize(("args", "message"), [
    (["score", "MODEL", "missing.csv", "--threshold", "nan"],
     "Invalid value for '--threshold': 'nan' is not a finite number in the range 0<x<1."),
    (["fit", "missing.csv", "-k", "2", "--backend", "dask", "--connect-timeout", "nan"],
     "Invalid value for '--connect-timeout': 'nan' is not a finite number in the range x>0."),
    (["fit", "missing.csv", "-k", "2", "--backend", "dask", "--connect-timeout", "inf"],
     "Invalid value for '--connect-timeout': 'inf' is not a finite number in the range x>0."),
])
def test_nan_and_infinity_are_refused_where_a_range_alone_let_them_through(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
        ) -> None:
    """click's FloatRange compares: NaN passed every comparison (score --threshold nan
    ended in an internal error from numpy's quantile, exit 1) and infinity passed an
    unbounded side (--connect-timeout nan or inf was taken)."""
    model = tmp_path / "model.json"
    x = np.random.default_rng(0).normal(size=(30, 2))
    model.write_text(json.dumps(emgmm_cli.fit(x, 2, seed=0).document))
    result = invoke([str(model) if a == "MODEL" else a for a in args], tmp_path, monkeypatch)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-1] == f"Error: {message}"
    assert list(tmp_path.iterdir()) == [model]  # nothing read, nothing written


@pytest.mark.parametrize(("args", "option", "kind"), [
    (["make-blobs", "--dim", "two"], "--dim", "integer"),
    (["make-blobs", "--n-centers", "two"], "--n-centers", "integer"),
    (["sample", "missing.json", "-n", "ten"], "-n' / '--n-samples", "integer"),
    (["batch", "missing.csv", "-k", "2", "-o", "out", "--jobs", "x"], "-j' / '--jobs",
     "integer"),
    (["score", "missing.json", "missing.csv", "--threshold", "x"], "--threshold", "number"),
])
def test_a_value_that_is_no_number_is_named_as_such(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], option: str,
        kind: str) -> None:
    """Not click's "'x' is not a valid integer range" (or "float range")."""
    result = invoke(args, tmp_path, monkeypatch)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-1] == (
        f"Error: Invalid value for '{option}': {args[-1]!r} is not a valid {kind}.")


@pytest.mark.parametrize(("name", "value"), [
    ("tol", math.nan), ("tol", math.inf), ("reg_covar", math.nan), ("reg_covar", math.inf),
    ("seed", 2**53), ("n_init", 0), ("max_iter", 0), ("tol", -1.0)])
def test_the_python_api_refuses_them_too_naming_the_option(name: str, value: float) -> None:
    x = np.random.default_rng(0).normal(size=(50, 2))
    options: dict[str, Any] = {name: value}
    with pytest.raises(InvalidParameter) as info:
        emgmm_cli.fit(x, 2, **options)
    assert info.value.option == name
    assert str(info.value).startswith(f"{name} must be ")


def test_the_largest_seed_is_accepted_and_recorded_exactly(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    x = np.random.default_rng(0).normal(size=(60, 2))
    np.savetxt(tmp_path / "d.csv", x, delimiter=",", header="a,b", comments="")
    result = invoke(["fit", "d.csv", "-k", "2", "--seed", str(MAX_SEED), "--model", "m.json"],
                    tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    text = (tmp_path / "m.json").read_text()
    assert re.search(rf'"seed": {MAX_SEED}\b', text)
    assert FitOptions.from_dict({"n_components": 2, "seed": MAX_SEED}).seed == MAX_SEED


def test_reg_covar_advice_never_suggests_a_value_the_options_refuse() -> None:
    # a hundred times the largest finite reg_covar is not finite: no example is given
    exc = NotPositiveDefinite(0, 3, 1e307)
    assert exc.suggested_reg_covar is None
    assert engine_message(exc) == (
        "component 0: covariance is not positive definite at iteration 3 even with "
        "reg_covar=1e+307; use a larger --reg-covar, fewer components, or --standardize "
        "(every column centred and scaled to unit variance)")
    assert "(for example 0.0001)" in engine_message(NotPositiveDefinite(0, None, 1e-6))


def test_tol_0_reaching_a_change_of_exactly_0_has_converged(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 1, (150, 2)), rng.normal(8, 1, (150, 2))]
    np.savetxt(tmp_path / "d.csv", x, delimiter=",", header="a,b", comments="")
    result = invoke(["fit", "d.csv", "-k", "2", "--seed", "0", "--tol", "0", "--max-iter",
                     "500", "--json"], tmp_path, monkeypatch)
    assert result.exit_code == 0 and result.stderr == "", result.output
    doc = json.loads(result.stdout)
    assert doc["converged"] and doc["n_iter"] < 500
    assert doc["trace"][-1]["change"] == 0.0
