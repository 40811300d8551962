"""The family table is the one place a covariance family lives.

A family registered from this module alone (mclust's EEI: one diagonal covariance shared
by every component) works in every command through the command line, with no other
module edited; its fits are checked against R mclust's EEI log-likelihoods and BIC on
Old Faithful (../shared/reference/mclust14_faithful.csv, copied to tests/data).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from emgmm_cli.cli.main import cli
from emgmm_cli.engine import families
from emgmm_cli.engine.families import DIAGONAL, Family
from emgmm_cli.vocab import CovarianceTerm

DATA = Path(__file__).parent / "data"
FAITHFUL = DATA / "faithful.csv"


def m_step_eei(scatter: np.ndarray, nk: np.ndarray, delta: np.ndarray, reg: float
               ) -> np.ndarray:
    """One diagonal for all components: the pooled per-dimension scatter about the new
    means over the total weight (Celeux and Govaert 1995, model [lambda B])."""
    return (scatter - nk[:, None] * delta * delta).sum(axis=0) / nk.sum() + reg


EEI = Family(
    term=CovarianceTerm("EEI", "one diagonal covariance shared by every component", "EEI"),
    shape=lambda k, d: (d,),
    n_parameters=lambda k, d: d,
    statistic=DIAGONAL,
    m_step=m_step_eei,
    expand=lambda cov, k, d: np.broadcast_to(np.asarray(cov, dtype=np.float64), (k, d)),
    independent=False,
)


@pytest.fixture()
def eei() -> Iterator[Family]:
    families.register(EEI)
    try:
        yield EEI
    finally:
        families.unregister("EEI")


def invoke(*args: object) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False,
                                env={"EMGMM_FORCE_TTY": "0"})
    assert result.exit_code == 0, result.output
    return result


def mclust_eei() -> dict[int, tuple[float, float]]:
    """K -> (mclust's log-likelihood, its BIC in our sign: -mclust's)."""
    with open(DATA / "mclust14_faithful.csv", newline="") as fh:
        return {int(r["K"]): (float(r["loglik"]), -float(r["mclust_bic"]))
                for r in csv.DictReader(fh) if r["mclust_model"] == "EEI"}


def test_a_registered_family_works_in_every_command(eei: Family, tmp_path: Path) -> None:
    model = tmp_path / "m.json"
    labels = invoke("fit", FAITHFUL, "-k", 3, "-c", "EEI", "--seed", 0, "--model", model,
                    "-o", tmp_path / "labels.csv").stdout
    assert labels == ""
    doc = json.loads(model.read_text())
    assert doc["covariance_type"] == "EEI" and np.shape(doc["covariances"]) == (2,)
    assert doc["n_parameters"] == 2 + 3 * 2 + 2
    # predict and score reproduce the fit on its data
    predicted = invoke("predict", model, FAITHFUL).stdout
    assert predicted == (tmp_path / "labels.csv").read_text()
    scored = json.loads(invoke("score", model, FAITHFUL, "--json").stdout)
    assert scored["log_likelihood"] == pytest.approx(doc["log_likelihood"], rel=1e-12)
    # sample draws points with the one shared diagonal covariance
    drawn = np.loadtxt(invoke("sample", model, "-n", 4000, "--seed", 1).stdout
                       .splitlines()[1:], delimiter=",")
    assert drawn.shape == (4000, 2)
    info = invoke("info", model).stdout
    assert "covariance type: EEI" in info and "component 2:" in info
    # select searches it, and names it in its table
    table = invoke("select", FAITHFUL, "-k", "2-3", "-c", "EEI,tied", "--n-init", 2,
                   "--seed", 0).stdout.splitlines()
    assert [line.split(",")[:3] for line in table[1:]] == [
        ["EEI", "EEI", "2"], ["EEI", "EEI", "3"], ["tied", "EEE", "2"], ["tied", "EEE", "3"]]


def test_a_registered_family_reaches_mclusts_optima(eei: Family) -> None:
    table = invoke("select", FAITHFUL, "-k", "1-5", "-c", "EEI", "--seed", 0).stdout
    rows = list(csv.DictReader(table.splitlines()))
    reference = mclust_eei()
    for row in rows:
        loglik, bic = reference[int(row["n_components"])]
        assert float(row["log_likelihood"]) >= loglik - 0.01, row
        if abs(float(row["log_likelihood"]) - loglik) < 0.01:
            assert float(row["bic"]) == pytest.approx(bic, abs=0.02), row


def test_unregistered_family_is_unknown_again() -> None:
    assert "EEI" not in families.FAMILIES
    result = CliRunner().invoke(cli, ["fit", str(FAITHFUL), "-k", "2", "-c", "EEI"])
    assert result.exit_code == 2 and "'EEI' is not one of full, tied, diag" in result.output
