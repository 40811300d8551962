"""Split-and-merge moves (engine.splitmerge): the auto start's later runs.

Oracles: scikit-learn's GaussianMixture (its best of many k-means restarts) on data
where the optimum is plain, and on Old Faithful, where ten screened runs stop short of
scikit-learn's best of 30 and the moves reach past it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emgmm_cli.backends.local import ArrayDataset
from emgmm_cli.engine import splitmerge
from emgmm_cli.engine.dataset import WeightedRows
from emgmm_cli.engine.em import run_em
from emgmm_cli.engine.fitting import fit
from emgmm_cli.engine.missing import part_missing
from emgmm_cli.engine.options import FitOptions
from emgmm_cli.engine.params import MixtureParams
from emgmm_cli.engine.stats import predict_chunk

DATA = Path(__file__).resolve().parent / "data"


def three_groups(n: int = 300, seed: int = 0) -> np.ndarray:
    """Three round groups of n/3 points, far apart, at (0, 0), (10, 0) and (20, 0)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]])
    return np.concatenate([c + rng.standard_normal((n // 3, 2)) for c in centres])


def stuck(x: np.ndarray, covariance_type: str) -> MixtureParams:
    """A maximum short of the best: two components share the group at (0, 0) and the
    third spans the other two (EM from here stays there, but for tied, whose shared
    covariance lets it escape)."""
    start = MixtureParams.build(
        np.array([1 / 6, 1 / 6, 2 / 3]), np.array([[0.0, -0.8], [0.0, 0.8], [15.0, 0.0]]),
        _covariances(covariance_type, np.array([1.0, 1.0, 26.0])), covariance_type)
    return run_em(ArrayDataset(x), start, tol=1e-9, max_iter=2000, reg_covar=1e-6).params


def _covariances(covariance_type: str, scale: np.ndarray) -> np.ndarray:
    full = np.array([np.diag([s, 1.0]) for s in scale])
    return {"full": full, "tied": full.mean(axis=0), "diag": full[:, np.arange(2), np.arange(2)],
            "spherical": full[:, np.arange(2), np.arange(2)].mean(axis=1)}[covariance_type]


def sklearn_best(x: np.ndarray, k: int, covariance_type: str, n_init: int) -> float:
    from sklearn.mixture import GaussianMixture

    gm = GaussianMixture(k, covariance_type=covariance_type, n_init=n_init, tol=1e-7,
                         max_iter=2000, random_state=0).fit(x)
    return float(gm.score(x) * len(x))


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_the_first_move_merges_the_shared_group_and_splits_the_spanning_one(
        covariance_type: str) -> None:
    x = three_groups()
    params = stuck(x, covariance_type)
    stuck_loglik = run_em(ArrayDataset(x), params, tol=1e-9, max_iter=1,
                          reg_covar=1e-6).final.loglik
    made = splitmerge.moves(x, params, 1e-6)
    assert np.sort(params.means[:, 0]) == pytest.approx([0.0, 0.5, 15.0], abs=1.2)  # stuck
    assert 1 <= len(made) <= 3  # K = 3: three pairs, each with one component to split
    first = made[0]
    assert first.covariance_type == covariance_type and first.n_components == 3
    assert first.weights.sum() == pytest.approx(1.0)
    # one component per group: the merged pair at (0, 0), the split one at 10 and at 20
    assert np.sort(first.means[:, 0]) == pytest.approx([0.0, 10.0, 20.0], abs=0.5)
    moved = run_em(ArrayDataset(x), first, tol=1e-9, max_iter=2000, reg_covar=1e-6)
    best = sklearn_best(x, 3, covariance_type, n_init=10)
    assert moved.final.loglik == pytest.approx(best, abs=0.01)
    assert best > stuck_loglik + 50  # the stuck maximum is far below


def test_moves_respect_row_weights() -> None:
    """Weights count rows as copies do: the moves of weighted rows are those of the rows
    repeated."""
    x = three_groups(90)
    counts = np.random.default_rng(1).integers(1, 4, len(x))
    params = stuck(np.repeat(x, counts, axis=0), "full")
    weighted = splitmerge.moves(x, params, 1e-6, counts.astype(np.float64))
    repeated = splitmerge.moves(np.repeat(x, counts, axis=0), params, 1e-6)
    assert len(weighted) == len(repeated)
    for a, b in zip(weighted, repeated):
        assert a.weights == pytest.approx(b.weights)
        assert a.means == pytest.approx(b.means)
        assert a.covariances == pytest.approx(b.covariances)


def test_a_move_that_leaves_a_component_less_than_a_row_is_left_out() -> None:
    """A split that gives j less than MIN_MASS rows' worth of responsibility makes no
    start (EM would begin with a component that explains next to nothing); one that
    gives it a share of the rows does."""
    x = three_groups()
    params = stuck(x, "full")
    resp = predict_chunk(x, params).resp.astype(np.float64)
    k = int(np.argmax(params.means[:, 0]))  # the component spanning two groups
    i, j = (c for c in range(3) if c != k)
    two = np.zeros(len(x), dtype=bool)
    two[np.argsort(resp[:, k])[-2:]] = True  # two rows' worth: enough, not weighed 0.4
    assert resp[two, k].sum() > 1.9
    assert splitmerge._moved(x, resp, None, (i, j, k), two, "full", 1e-6) is not None
    light = np.full(len(x), 0.4)
    assert splitmerge._moved(x, resp, light, (i, j, k), two, "full", 1e-6) is None
    beyond = x[:, 0] > params.means[k, 0]
    moved = splitmerge._moved(x, resp, light, (i, j, k), beyond, "full", 1e-6)
    assert moved is not None and (moved.weights * 0.4 * len(x)).min() >= splitmerge.MIN_MASS


def test_the_budget_is_half_the_runs_from_four_on() -> None:
    ds = ArrayDataset(three_groups())
    assert [splitmerge.budget(ds, FitOptions(3, n_init=r)) for r in (1, 2, 3, 4, 5, 10)] == \
        [0, 0, 0, 2, 2, 5]
    assert splitmerge.budget(ds, FitOptions(2, n_init=10)) == 0  # no third component
    for changed in ({"algorithm": "hard"}, {"freeze": "weights"},
                    {"on_degenerate": "reinit"}):
        assert splitmerge.budget(ds, FitOptions(3, n_init=10, **changed)) == 0  # type: ignore[arg-type]
    missing = three_groups()
    missing[0, 0] = np.nan
    assert splitmerge.budget(part_missing(missing), FitOptions(3, n_init=10)) == 0
    known = WeightedRows(ds, None, np.full(ds.n_samples, -1))
    assert splitmerge.budget(known, FitOptions(3, n_init=10)) == 0


def test_a_fit_spends_its_runs_on_moves_and_leaves_the_maximum_others_stop_at() -> None:
    """Old Faithful, tied, K = 7: ten screened runs end at -1114.72, below scikit-learn's
    best of 30 k-means restarts; five screened runs and five from moves pass it."""
    x = np.loadtxt(DATA / "faithful.csv", delimiter=",", skiprows=1)
    options = FitOptions(7, "tied", n_init=10, seed=0)
    moved = fit(ArrayDataset(x), options)
    assert len(moved.restart_logliks) == 10 and not moved.is_degenerate
    assert moved.best_restart >= 5  # a run from a move
    target = sklearn_best(x, 7, "tied", n_init=30)
    assert moved.loglik >= target - 0.01
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(splitmerge, "FROM_RUNS", 11)
        screened = fit(ArrayDataset(x), options)
    assert screened.loglik < target - 0.5


def test_moves_are_deterministic_whatever_the_threads() -> None:
    rng = np.random.default_rng(4)
    x = np.concatenate([c + rng.standard_normal((700, 3)) for c in rng.uniform(-6, 6, (6, 3))])
    options = FitOptions(6, "full", n_init=6, seed=3)
    runs = [fit(ArrayDataset(x, block_rows=block, n_threads=threads), options)
            for block, threads in ((512, 1), (512, 2), (512, 2))]
    assert len(runs[0].restart_logliks) == 6
    for other in runs[1:]:
        assert other.restart_logliks == runs[0].restart_logliks
        assert np.array_equal(other.params.means, runs[0].params.means)


def test_weighted_rows_take_moves_too() -> None:
    x = three_groups(150)
    w = np.full(len(x), 2.0)
    weighted = fit(WeightedRows(ArrayDataset(x), w, None), FitOptions(3, n_init=4, seed=0))
    plain = fit(ArrayDataset(x), FitOptions(3, n_init=4, seed=0))
    assert len(weighted.restart_logliks) == len(plain.restart_logliks)
    assert weighted.restart_origins[2:] == plain.restart_origins[2:] == ["split-merge"] * 2
    assert weighted.loglik == pytest.approx(2 * plain.loglik, rel=1e-9)


def test_the_cli_runs_moves_with_n_init(tmp_path: Path) -> None:
    model = tmp_path / "m.json"
    done = subprocess.run(
        [sys.executable, "-m", "emgmm_cli", "fit", str(DATA / "faithful.csv"), "-k", "7",
         "-c", "tied", "--n-init", "10", "--seed", "0", "--model", str(model), "--quiet"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    doc = json.loads(model.read_text())
    x = np.loadtxt(DATA / "faithful.csv", delimiter=",", skiprows=1)
    api = fit(ArrayDataset(x), FitOptions(7, "tied", n_init=10, seed=0))
    assert doc["log_likelihood"] == pytest.approx(api.loglik, abs=1e-6)
    assert doc["restart_log_likelihoods"] == pytest.approx(api.restart_logliks, abs=1e-6)


def test_no_move_starts_after_the_time_limit() -> None:
    """max_time: past the limit no candidate starts but the first (so one screened run,
    which stops at the limit), and no run from a move starts after it."""
    x = three_groups()
    limited = fit(ArrayDataset(x), FitOptions(3, n_init=10, seed=0, max_time=0.0))
    assert len(limited.restart_logliks) == 1 and limited.restart_origins == ["hc"]
    assert set(limited.restart_stopped) == {"time limit"}
    unlimited = fit(ArrayDataset(x), FitOptions(3, n_init=10, seed=0))
    assert len(unlimited.restart_logliks) > len(limited.restart_logliks)


# --- where each run started: the fit's record, the model file, the summary -------------------


def test_every_run_records_where_it_started() -> None:
    x = np.loadtxt(DATA / "faithful.csv", delimiter=",", skiprows=1)
    auto = fit(ArrayDataset(x), FitOptions(7, "tied", n_init=10, seed=0))
    screened = {"hc", "kmeans", "random", "k-means++", "random-from-data", "hc-mclust",
                "hc-family"}
    assert set(auto.restart_origins[:5]) <= screened
    assert auto.restart_origins[5:] == ["split-merge"] * 5
    assert auto.origin == auto.restart_origins[auto.best_restart] == "split-merge"
    assert fit(ArrayDataset(x), FitOptions(3, init="hc", n_init=3, seed=0)).restart_origins \
        == ["hc", "random", "random"]
    assert fit(ArrayDataset(x), FitOptions(3, init="kmeans", seed=0),
               means_init=x[:3]).restart_origins == ["means-init"]
    first = fit(ArrayDataset(x), FitOptions(3, seed=0))
    assert first.restart_origins[0] in screened and first.origin in first.restart_origins
    assert fit(ArrayDataset(x), FitOptions(3, seed=0), start=first.params).restart_origins \
        == ["init-model"]


def test_the_model_file_and_the_summaries_say_where_runs_started(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from emgmm_cli.cli.main import cli

    model = tmp_path / "m.json"
    runner = CliRunner()
    done = runner.invoke(cli, ["fit", str(DATA / "faithful.csv"), "-k", "7", "-c", "tied",
                               "--n-init", "10", "--seed", "0", "--model", str(model),
                               "--quiet"])
    assert done.exit_code == 0, done.output
    doc = json.loads(model.read_text())
    assert doc["origin"] == "split-merge" and doc["restart_origins"][5:] == ["split-merge"] * 5
    shown = runner.invoke(cli, ["info", str(model)])
    assert shown.exit_code == 0
    assert "runs: 10: " in shown.output and "split-merge 5; kept: split-merge" in shown.output
    # a file written before the fields were: loads, and says nothing of its runs
    del doc["origin"], doc["restart_origins"]
    model.write_text(json.dumps(doc))
    older = runner.invoke(cli, ["info", str(model)])
    assert older.exit_code == 0 and "runs:" not in older.output


def test_moves_are_made_on_the_rows_the_screening_ran_on() -> None:
    """starts.sample_stream is the child a seed's spawn gives first, which screen draws
    its rows from, for a seed of its own and for a child seed alike."""
    from emgmm_cli.engine.starts import sample_stream, screening_sample

    for seed in (np.random.SeedSequence(5), np.random.SeedSequence(5).spawn(3)[2]):
        expected = np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key,
                                          pool_size=seed.pool_size).spawn(4)[0]
        assert np.array_equal(sample_stream(seed).generate_state(4), expected.generate_state(4))
    x = np.random.default_rng(0).standard_normal((5000, 2))
    seed = np.random.SeedSequence(9)
    a = screening_sample(ArrayDataset(x), seed).take(np.arange(2000))
    b = screening_sample(ArrayDataset(x), seed).take(np.arange(2000))
    assert np.array_equal(a, b) and not np.array_equal(a, x[:2000])


def _moved_fit(x: np.ndarray, k: int) -> tuple[MixtureParams, FitOptions]:
    options = FitOptions(k, covariance_type="full", seed=0, n_init=1, init="kmeans")
    return fit(ArrayDataset(x), options).params, options


def test_moves_screened_a_group_at_a_time_rank_as_all_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """screen makes and screens the moves one stacked group at a time, keeping the keep
    best: the same candidates, in the same order, with the same mixtures, as screening
    every move at once (groups of 3 here: a bound of 3 runs' work buffers)."""
    from emgmm_cli import vocab
    from emgmm_cli.engine import stacked
    from emgmm_cli.engine.starts import Candidate, rank

    x = np.random.default_rng(3).standard_normal((400, 3))
    params, options = _moved_fit(x, 6)
    per_run = params.family.work_columns(6, 3) * len(x) * 8
    monkeypatch.setattr(stacked, "STACK_BYTES", 3 * per_run)
    sample, variance = ArrayDataset(x), x.var(axis=0)
    everything = [Candidate(i, vocab.MOVE_ORIGIN, params=p)
                  for i, p in enumerate(splitmerge.moves(x, params, options.reg_covar))]
    assert len(everything) > 9  # several groups
    whole = [c for c in rank(sample, options, everything, variance) if c.usable]
    for keep in (1, 4, splitmerge.MOVES):
        kept = splitmerge.screen(sample, params, options, variance, keep=keep)
        assert [c.index for c in kept] == [c.index for c in whole[:keep]]
        assert [c.loglik for c in kept] == [c.loglik for c in whole[:keep]]


def test_the_moves_screening_holds_a_few_mixtures_not_all_of_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With one run's work buffers per stacked pass, the screening's peak is those
    buffers, the rows and a few mixtures (the keep best, a group's start and its screened
    mixture): not the 60 moves' starts at once (at K = 9 and D = 40 they take 20 MB)."""
    import tracemalloc

    from emgmm_cli.engine import stacked

    x = np.random.default_rng(5).standard_normal((1000, 40))
    params, options = _moved_fit(x, 9)
    buffers = params.family.work_columns(9, 40) * len(x) * 8
    monkeypatch.setattr(stacked, "STACK_BYTES", buffers)
    mixture = 3 * params.covariances.nbytes  # covariances, precision and covariance factors
    tracemalloc.start()
    try:
        kept = splitmerge.screen(ArrayDataset(x), params, options, x.var(axis=0), keep=5)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(kept) == 5
    assert peak < buffers + 3 * x.nbytes + 20 * mixture, (peak, mixture)
