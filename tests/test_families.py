"""The family table is the one place a covariance family lives.

A family registered from this module alone (a toy model: every component has the
identity covariance, nothing of it estimated) works in every command through the command
line, with no other module edited.  mclust's 14 models, which are rows of the table, are
checked in tests/test_models.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from emgmm_cli.cli.main import cli
from emgmm_cli.engine import families
from emgmm_cli.engine.errors import InvalidParameter
from emgmm_cli.engine.families import DIAGONAL, Family, shared_variance
from emgmm_cli.vocab import CovarianceTerm

DATA = Path(__file__).parent / "data"
FAITHFUL = DATA / "faithful.csv"


def m_step_unit(w: np.ndarray, nk: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """Nothing to estimate: the identity, whatever the scatter."""
    return np.asarray(1.0)


UNIT = Family(
    term=CovarianceTerm("unit", "every component has the identity covariance", ""),
    shape=lambda k, d: (),
    n_parameters=lambda k, d: 0,
    statistic=DIAGONAL,
    m_step=m_step_unit,
    expand=shared_variance,
)


@pytest.fixture()
def unit() -> Iterator[Family]:
    families.register(UNIT)
    try:
        yield UNIT
    finally:
        families.unregister("unit")


def invoke(*args: object) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False,
                                env={"EMGMM_FORCE_TTY": "0"})
    assert result.exit_code == 0, result.output
    return result


def test_a_registered_family_works_in_every_command(unit: Family, tmp_path: Path) -> None:
    model = tmp_path / "m.json"
    labels = invoke("fit", FAITHFUL, "-k", 3, "-c", "unit", "--seed", 0, "--model", model,
                    "-o", tmp_path / "labels.csv").stdout
    assert labels == ""
    doc = json.loads(model.read_text())
    assert doc["covariance_type"] == "unit" and doc["covariances"] == 1.0
    assert doc["n_parameters"] == 3 * 2 + 2
    # predict and score reproduce the fit on its data
    predicted = invoke("predict", model, FAITHFUL).stdout
    assert predicted == (tmp_path / "labels.csv").read_text()
    scored = json.loads(invoke("score", model, FAITHFUL, "--json").stdout)
    assert scored["log_likelihood"] == pytest.approx(doc["log_likelihood"], rel=1e-12)
    # sample draws points about the means with the identity covariance
    drawn = np.loadtxt(invoke("sample", model, "-n", 4000, "--seed", 1).stdout
                       .splitlines()[1:], delimiter=",")
    assert drawn.shape == (4000, 2)
    info = invoke("info", model).stdout
    assert "covariance type: unit" in info and "component 2:" in info
    # select searches it, with every other family when none is named, and names it in
    # its table
    table = invoke("select", FAITHFUL, "-k", "2-3", "-c", "unit,EEE", "--n-init", 2,
                   "--seed", 0).stdout.splitlines()
    assert [line.split(",")[:3] for line in table[1:]] == [
        ["unit", "", "2"], ["unit", "", "3"], ["tied", "EEE", "2"], ["tied", "EEE", "3"]]
    assert "unit" in families.searched(2)


def test_unregistered_family_is_unknown_again() -> None:
    assert "unit" not in families.FAMILIES
    with pytest.raises(InvalidParameter, match="unknown covariance type 'unit'"):
        families.family("unit")  # looked up while registered: not remembered since
    result = CliRunner().invoke(cli, ["fit", str(FAITHFUL), "-k", "2", "-c", "unit"])
    assert result.exit_code == 2 and "'unit' is not one of EII, spherical, EEI" in result.output
