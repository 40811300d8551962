"""Runs of the auto start that cannot be kept stop once found degenerate (em.WATCH_EVERY),
and candidates whose screening ended degenerate are not continued (fitting._continued).

The data: two Gaussian blobs of 60 points and three copies of one far point, which any
component that takes them alone collapses onto (a spurious maximum).  What the watch
assumes is checked here against the runs it cuts short, run to their ends.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from emgmm_cli.backends.local import ArrayDataset
from emgmm_cli.cli.main import cli
from emgmm_cli.engine import FitOptions, fit, run_em, stacked, starts
from emgmm_cli.engine.em import (STOPPED_CONVERGED, STOPPED_DEGENERATE, WATCH_EVERY,
                                 WATCH_LOOKS, DegenerateTest, EMRun,
                                 degenerate_components)
from emgmm_cli.engine.hc import seeded_hc_tree
from emgmm_cli.engine.params import MixtureParams


def blobs_and_a_triple() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal(size=(60, 2)), rng.normal(size=(60, 2)) + 6.0,
                      np.tile([20.0, 20.0], (3, 1))])


X = blobs_and_a_triple()
VARIANCE = X.var(axis=0)
TEST = DegenerateTest.of(ArrayDataset(X), VARIANCE)


def screened(k: int, seed: int) -> list[starts.Candidate]:
    data = ArrayDataset(X)
    options = FitOptions(n_components=k, covariance_type="VVV", seed=seed)
    return starts.screen(data, options, np.random.SeedSequence(seed), X.mean(axis=0),
                         VARIANCE, seeded_hc_tree(data, seed), runs=2)


def start_of(k: int, seed: int, origin: str) -> MixtureParams:
    params = next(c.params for c in screened(k, seed) if c.origin == origin)
    assert params is not None
    return params


def run(start: MixtureParams, watch: DegenerateTest | None = None) -> EMRun:
    return run_em(ArrayDataset(X), start, tol=1e-6, max_iter=2000, reg_covar=1e-6,
                  accelerate="squarem", watch=watch)


def test_a_watched_run_stops_once_found_degenerate_and_is_the_same_run_up_to_there() -> None:
    start = start_of(3, 2, "random")  # sound when screened, degenerate at its end
    assert not degenerate_components(start, TEST, 1e-6)
    whole = run(start)
    assert whole.stopped == STOPPED_CONVERGED and degenerate_components(whole.params,
                                                                        TEST, 1e-6)
    watched = run(start, TEST)
    assert watched.stopped == STOPPED_DEGENERATE and not watched.converged
    assert degenerate_components(watched.params, TEST, 1e-6)
    assert watched.passes % WATCH_EVERY == 0 and watched.passes < whole.passes
    assert watched.passes >= WATCH_EVERY * WATCH_LOOKS
    rows = len(watched.trace)
    assert [t.log_likelihood for t in watched.trace] == [
        t.log_likelihood for t in whole.trace[:rows]]


def test_a_sound_run_is_not_stopped_by_the_watch() -> None:
    start = start_of(3, 0, "random-from-data")
    whole, watched = run(start), run(start, TEST)
    assert watched.stopped == whole.stopped == STOPPED_CONVERGED
    assert watched.final.objective == whole.final.objective


def test_a_stacked_run_beside_a_sound_one_is_watched_once_that_one_has_ended() -> None:
    sound, doomed = start_of(3, 0, "random-from-data"), start_of(3, 2, "random")

    def both(watch: DegenerateTest | None = None,
             watch_from_start: bool = True) -> list[EMRun]:
        runs = stacked.run_stacked(ArrayDataset(X), [sound, doomed], tol=1e-6,
                                   max_iter=2000, reg_covar=1e-6, accelerate="squarem",
                                   watch=watch, watch_from_start=watch_from_start)
        assert all(isinstance(r, EMRun) for r in runs)
        return runs  # type: ignore[return-value]

    alone = both()
    assert alone[1].stopped == STOPPED_CONVERGED  # to its (degenerate) end
    later = both(watch=TEST, watch_from_start=False)
    assert later[0].stopped == STOPPED_CONVERGED
    assert later[0].final.objective == alone[0].final.objective
    assert later[1].stopped == STOPPED_DEGENERATE
    # not watched before the sound run ended: two looks after it, at the earliest
    assert later[1].passes >= later[0].passes + WATCH_EVERY
    assert later[1].passes < alone[1].passes
    at_once = both(watch=TEST)
    assert at_once[1].stopped == STOPPED_DEGENERATE
    assert at_once[1].passes < later[1].passes


@pytest.mark.parametrize(("k", "seed"), [(3, 0), (3, 2), (4, 1)])
def test_candidates_degenerate_in_screening_are_not_continued(k: int, seed: int) -> None:
    ranked = screened(k, seed)
    doomed = [c for c in ranked if c.degenerate]
    assert doomed
    for cand in doomed:  # what leaving them out assumes: each run ends degenerate
        assert cand.params is not None
        end = run(cand.params)
        assert degenerate_components(end.params, TEST, 1e-6)
    restarts: set[int] = set()
    fit(ArrayDataset(X), FitOptions(n_components=k, covariance_type="VVV", seed=seed),
        on_iteration=lambda r, *_: restarts.add(r))
    assert len(restarts) == len([c for c in ranked if not c.degenerate])


def test_where_every_run_is_degenerate_fit_settles_the_kept_one_and_select_does_not() -> None:
    options = FitOptions(n_components=3, covariance_type="VVV", seed=2)
    settled = fit(ArrayDataset(X), options)
    assert settled.degenerate and settled.converged
    assert settled.stopped == STOPPED_CONVERGED
    cut = fit(ArrayDataset(X), options, settle_degenerate=False)
    assert cut.degenerate and not cut.converged and cut.stopped == STOPPED_DEGENERATE
    assert cut.n_passes < settled.n_passes
    assert [t.log_likelihood for t in cut.trace] == [
        t.log_likelihood for t in settled.trace[:len(cut.trace)]]
    # fit warns of the degenerate components, and not of a failure to converge
    assert {e.kind for e in cut.events} == {"degenerate"}


def test_select_shows_a_degenerate_cell_stopped_as_degenerate(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    np.savetxt(path, X, delimiter=",", header="a,b", comments="")
    out = CliRunner().invoke(cli, ["select", str(path), "-c", "VVV", "-k", "1-5",
                                   "--seed", "0", "--json"])
    assert out.exit_code == 0, out.output
    cells = json.loads(out.output)["cells"]
    degenerate = [c for c in cells if c["status"] == "degenerate"]
    assert degenerate
    for cell in degenerate:
        assert cell["stopped"] in (STOPPED_DEGENERATE, STOPPED_CONVERGED)
    assert any(c["stopped"] == STOPPED_DEGENERATE and not c["converged"] for c in degenerate)


def test_of_runs_all_degenerate_a_fit_keeps_the_first_that_ran_to_its_end() -> None:
    from emgmm_cli.engine.fitting import _kept

    options = FitOptions(n_components=3, covariance_type="VVV", seed=2)
    cut = fit(ArrayDataset(X), options, settle_degenerate=False)
    settled = fit(ArrayDataset(X), options)
    assert _kept([cut, settled, cut]) == [settled]
    assert _kept([cut, cut]) == [cut]
