"""--on-degenerate keep|reinit|drop|error: what EM does when a component collapses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emgmm_cli.backends import open_dataset
from emgmm_cli.engine.degenerate import DROPPED, REINITIALISED, DegenerateComponent
from emgmm_cli.engine.errors import DEGENERATE
from emgmm_cli.engine.fitting import FitResult, fit
from emgmm_cli.engine.options import FitOptions
from conftest import invoke_in


def _x() -> np.ndarray:
    """Two blobs and three copies of one far point: random starts collapse components."""
    rng = np.random.default_rng(0)
    return np.r_[rng.normal(size=(200, 2)), np.tile([[8.0, 8.0]], (3, 1)),
                 rng.normal(size=(200, 2)) + [4, 0]]


def _fit(action: str, cov: str = "full") -> FitResult:
    return fit(open_dataset(_x(), n_components=4),
               FitOptions(4, covariance_type=cov, on_degenerate=action, seed=0,
                          init="random", max_iter=300))


def test_keep_is_the_default_and_reports_at_the_end() -> None:
    kept = _fit("keep")
    assert FitOptions(1).on_degenerate == "keep"
    assert kept.degenerate and [e.kind for e in kept.events] == [DEGENERATE]


def test_reinit_reseeds_and_ends_clean() -> None:
    result = _fit("reinit")
    kinds = [e.kind for e in result.events]
    assert kinds and set(kinds) == {REINITIALISED}
    assert result.params.n_components == 4 and not result.degenerate
    assert "the point the mixture explained worst" in result.events[0].message


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_drop_continues_with_fewer_components(cov: str) -> None:
    result = _fit("drop", cov)
    dropped = [e for e in result.events if e.kind == DROPPED]
    assert dropped
    assert result.params.n_components == 4 - len(dropped)
    assert "dropped at iteration" in dropped[0].message


def test_error_names_the_component() -> None:
    with pytest.raises(DegenerateComponent, match=r"component \d+ degenerated at iteration"):
        _fit("error")


def test_cli_drop_and_error(tmp_path: Path) -> None:
    np.savetxt(tmp_path / "x.csv", _x(), delimiter=",", header="a,b", comments="")
    args = ["fit", "x.csv", "-k", "4", "--init", "random", "--seed", "0", "--max-iter", "300"]
    r = invoke_in(tmp_path, *args, "--on-degenerate", "drop", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    drops = [e for e in doc["events"] if e["kind"] == DROPPED]
    assert drops and doc["n_components"] == 4 - len(drops)
    assert doc["options"]["on_degenerate"] == "drop"
    r = invoke_in(tmp_path, *args, "--on-degenerate", "error")
    assert r.exit_code == 1 and "degenerated at iteration" in r.stderr
    assert "Traceback" not in r.stderr
