"""Stop points (interrupts.stop_point): the long steps that run between EM iterations
look for a stop between their pieces, so that a worker told to stop (or a run whose
stop signal's exception was lost) ends within a piece, not at the step's end.

Each loop runs with a real stop check (what a worker process sets: interrupts.
set_stop_check) that raises at its third call; the step must end with that exception,
having done only part of its work.  test_hostile_signals has the same through real
processes: a batch's workers stopped while they convert text to the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from emgmm_cli import interrupts
from emgmm_cli.backends.local import ArrayDataset
from emgmm_cli.engine.dataset import InMemoryRows
from emgmm_cli.engine.hc import hc_tree
from emgmm_cli.engine.init import initial_params, kmeans
from emgmm_cli.engine.stacked import run_stacked
from emgmm_cli.io.text import open_input, read_text


class Halt(BaseException):
    """What the check below raises (a BaseException, as a worker's Cancelled is)."""


class Counting:
    """A stop check that raises Halt at its call number `at`."""

    def __init__(self, at: int) -> None:
        self.at, self.calls = at, 0

    def __call__(self) -> None:
        self.calls += 1
        if self.calls >= self.at:
            raise Halt()


@pytest.fixture
def check() -> Iterator[Counting]:
    counting = Counting(3)
    interrupts.set_stop_check(counting)
    try:
        yield counting
    finally:
        interrupts.set_stop_check(None)


RNG = np.random.default_rng(0)
X = np.r_[RNG.normal(0, 1, (400, 2)), RNG.normal(6, 1, (400, 2))]
UNIFORM = RNG.uniform(size=(2000, 2))


def _read(tmp_path: Path) -> Callable[[], tuple[np.ndarray, list[str], tuple[str, ...]]]:
    path = tmp_path / "rows.csv"
    np.savetxt(path, X, delimiter=",", header="a,b", comments="", fmt="%.6f")

    def read() -> tuple[np.ndarray, list[str], tuple[str, ...]]:
        with open_input(str(path)) as inp:  # 1 KiB chunks: about 30 of them
            return read_text(inp, delim=",", sniff=False, header=None, columns=None,
                             dtype=np.dtype(np.float64), chunk_bytes=1024)
    return read


def _stacked_runs() -> object:
    """Plain EM from two starts, their passes stacked (the screening's, and small data's
    full runs): no iteration callback, so the stacked loop looks itself."""
    data = InMemoryRows(X)
    start = [initial_params(data, 2, "full", "random", np.random.default_rng(i),
                            reg_covar=1e-6, column_mean=X.mean(axis=0),
                            column_variance=X.var(axis=0)) for i in range(2)]
    return run_stacked(data, start, tol=0.0, max_iter=500, reg_covar=1e-6)


STEPS: dict[str, Callable[[Path], Callable[[], Any]]] = {
    "a text read, between chunks": _read,
    "the hierarchy, between merges": lambda _: lambda: hc_tree(X),
    "k-means, between iterations": lambda _: lambda: kmeans(  # uniform rows: many
        InMemoryRows(UNIFORM), 8, np.random.default_rng(0), UNIFORM.var(axis=0)),
    "stacked EM runs, between passes": lambda _: _stacked_runs,
    "a pass over blocks": lambda _: lambda: ArrayDataset(X, block_rows=16, n_threads=1)
    .reduce(lambda block: block.sum(axis=0)),
}


@pytest.mark.parametrize("step", sorted(STEPS))
def test_a_long_step_stops_between_its_pieces(step: str, check: Counting,
                                              tmp_path: Path) -> None:
    run = STEPS[step](tmp_path)
    with pytest.raises(Halt):
        run()
    assert check.calls == 3  # stopped at the third look, not at the step's end


def test_without_a_check_the_steps_run_to_their_end(tmp_path: Path) -> None:
    x, names, _ = _read(tmp_path)()
    assert names == ["a", "b"] and np.allclose(x, X, atol=1e-6)
    np.testing.assert_allclose(
        ArrayDataset(X, block_rows=16, n_threads=1).reduce(lambda b: b.sum(axis=0)),
        X.sum(axis=0))
    assert len(hc_tree(X).merges) == len(X) - 1


def test_a_check_set_to_none_is_no_longer_called() -> None:
    counting = Counting(1)
    interrupts.set_stop_check(counting)
    interrupts.set_stop_check(None)
    interrupts.stop_point()
    assert counting.calls == 0
