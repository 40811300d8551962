"""--max-time: a fit stops cleanly at its time limit and every fit says why it stopped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from emgmm_cli.backends import open_dataset
from emgmm_cli.engine.em import STOP_REASONS
from emgmm_cli.engine.errors import TIME_LIMIT
from emgmm_cli.engine.fitting import fit
from emgmm_cli.engine.options import FitOptions
from conftest import invoke_in


def _x() -> np.ndarray:
    rng = np.random.default_rng(11)
    return np.r_[rng.normal(size=(150, 2)), rng.normal(size=(150, 2)) + [3.0, 0.0]]


def test_time_limit_keeps_the_last_parameters_and_starts_no_restart() -> None:
    data = open_dataset(_x(), n_components=2)
    # k-means starts: restart r starts alike whatever n_init is (auto's ranking of its
    # screened candidates depends on how many there are)
    limited = fit(data, FitOptions(2, max_time=0.0, n_init=3, tol=0.0, max_iter=50, seed=3,
                                   init="kmeans"))
    assert limited.n_iter == 1 and not limited.converged
    assert limited.stopped == "time limit" and limited.restart_stopped == ["time limit"]
    assert [e.kind for e in limited.events] == [TIME_LIMIT]
    # the same as one iteration of the same start: the best parameters so far
    one = fit(data, FitOptions(2, max_iter=1, n_init=1, tol=0.0, seed=3, init="kmeans"))
    np.testing.assert_array_equal(limited.params.means, one.params.means)
    assert one.stopped == "max-iter"
    free = fit(data, FitOptions(2, n_init=2, seed=3))
    assert free.stopped == "converged" and free.restart_stopped == ["converged"] * 2
    assert set(free.restart_stopped) <= set(STOP_REASONS)


def test_runs_the_time_limit_left_unmade_are_told() -> None:
    """A fit whose kept run converged, the time limit then leaving the other runs unmade,
    said nothing: converged, no event, n_init 2 recorded and one run made (2,000 x 100,
    EVE with K = 20, --max-time 60).  Runs of about 20 ms each, 40 asked for in 0.3 s."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(c, 1.0, (3000, 10)) for c in (0.0, 3.0, 6.0)])
    limited = fit(open_dataset(x, n_components=3),
                  FitOptions(3, covariance_type="VEV", init="kmeans", n_init=40, max_time=0.3,
                             seed=0))
    made = len(limited.restart_logliks)
    assert made < 40 and [e.kind for e in limited.events] == [TIME_LIMIT]
    if limited.stopped == "converged":  # the kept run ended before the limit (the rule)
        assert limited.events[0].message == (
            f"stopped: time limit of 0.3 s reached after {made} of 40 runs; the best of "
            "those is kept")


def test_cli_records_why_every_fit_stopped(tmp_path: Path) -> None:
    np.savetxt(tmp_path / "x.csv", _x(), delimiter=",", header="a,b", comments="")
    r = invoke_in(tmp_path, "fit", "x.csv", "-k", "2", "--max-time", "0", "--tol", "0",
                  "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["stopped"] == "time limit" and doc["n_iter"] == 1
    assert doc["options"]["max_time"] == 0.0
    assert "stopped: time limit of 0 s reached after 1 iteration" in r.stderr
    r = invoke_in(tmp_path, "fit", "x.csv", "-k", "2", "--max-iter", "2", "--tol", "0",
                  "--json")
    assert json.loads(r.stdout)["stopped"] == "max-iter"
    r = invoke_in(tmp_path, "fit", "x.csv", "-k", "2", "--max-time", "-1")
    assert r.exit_code == 2


def test_select_and_batch_limit_each_cell_and_dataset(tmp_path: Path) -> None:
    """A real process: every cell of a selection and every dataset of a batch stops at
    its own limit."""
    (tmp_path / "in").mkdir()
    for i in range(2):
        np.savetxt(tmp_path / "in" / f"d{i}.csv", _x()[i::2], delimiter=",", header="a,b",
                   comments="")
    run = lambda *a: subprocess.run([sys.executable, "-m", "emgmm_cli", *a], cwd=tmp_path,  # noqa: E731
                                    capture_output=True, text=True, check=False)
    sel = run("select", "in/d0.csv", "-k", "1-3", "-c", "full", "--max-time", "0",
              "--tol", "0", "--seed", "2", "--model", "best.json", "--json")
    assert sel.returncode == 0, sel.stderr
    cells = json.loads(sel.stdout)["cells"]
    assert all(c["n_iter"] == 1 for c in cells)
    assert json.loads((tmp_path / "best.json").read_text())["stopped"] == "time limit"
    out = run("batch", "in", "-k", "2", "--max-time", "0", "--tol", "0", "--output-dir", "out")
    assert out.returncode == 0, out.stderr
    for i in range(2):
        model = json.loads((tmp_path / "out" / f"d{i}" / "model.json").read_text())
        assert model["stopped"] == "time limit" and model["n_iter"] == 1


def test_the_auto_starts_screening_stops_at_the_time_limit_too() -> None:
    """Past the limit, the auto start starts no candidate but the first, and no pass
    starts in its screening but each run's first, as in the full runs: counted through a
    registered family whose M-step is VVV's, one call per mixture and pass (it is not one
    of the stacked ones).  Before, every candidate started and ran its SCREEN_ITERS passes
    whatever the limit: a select of EVE on 100 x 60 data with --max-time 2 took 50 s."""
    from emgmm_cli.engine import families
    from emgmm_cli.engine.starts import SCREEN_ITERS, screen_count
    from emgmm_cli.vocab import CovarianceTerm

    calls: list[int] = []

    def m_step_counted(w: np.ndarray, nk: np.ndarray, previous: np.ndarray | None
                       ) -> np.ndarray:
        calls.append(1)
        return families.m_step_vvv(w, nk, previous)

    counted = families.Family(
        term=CovarianceTerm("counted", "VVV's covariances, its M-steps counted", ""),
        shape=lambda k, d: (k, d, d), n_parameters=lambda k, d: k * d * (d + 1) // 2,
        statistic=families.MATRIX, m_step=m_step_counted, expand=families.own_matrices)
    families.register(counted)
    try:
        data = open_dataset(_x(), n_components=3)
        made = {}
        for max_time in (None, 0.0):
            calls.clear()
            result = fit(data, FitOptions(3, covariance_type="counted", seed=0,
                                          max_time=max_time))
            made[max_time] = (len(calls), result.stopped)
    finally:
        families.unregister("counted")
    candidates = screen_count(FitOptions(3).n_init)
    assert made[None][1] == "converged" and made[0.0][1] == "time limit"
    assert made[None][0] > SCREEN_ITERS * candidates  # the screening's passes, and more
    # the first candidate's start (mclust's hierarchy), its one screening pass and its
    # full run's one pass
    assert made[0.0][0] == 3, made


def test_select_says_why_its_chosen_cell_stopped_short(tmp_path: Path) -> None:
    """The chosen cell's warning names its own stop: the time limit, or max-iter (it said
    'did not converge in 2000 iterations; raise --max-iter' for both)."""
    np.savetxt(tmp_path / "x.csv", _x(), delimiter=",", header="a,b", comments="")
    for extra, said in [
        (["--max-time", "0"], "stopped: time limit of 0 s reached after 1 iteration; the "
                              "parameters of the last one are kept"),
        (["--max-iter", "2"], "did not converge in 2 iterations (last change "),
    ]:
        r = invoke_in(tmp_path, "select", "x.csv", "-k", "2", "-c", "full", "--tol", "0",
                      "--seed", "0", *extra)
        assert r.exit_code == 0, r.stderr
        warning = [line for line in r.stderr.splitlines() if "chosen cell" in line]
        assert len(warning) == 1 and warning[0].startswith(
            f"emgmm: warning: x.csv: the chosen cell (full, K=2) {said}"), r.stderr
