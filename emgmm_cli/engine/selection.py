"""Model selection: fit a grid of (covariance family, K) cells and pick the best, as
mclust's mclustBIC does.

Each cell is one fit (fitting.fit) with the shared options and a seed of its own, derived from
the run's seed and the cell alone (cell_seed), so a cell's result does not depend on which
other cells run, in what order, or in which process.  A cell ends one of three ways:

- ok:         a fit whose best restart is not degenerate; its criteria can win;
- degenerate: every restart ended on a spurious maximum (a component collapsed onto a few
              points or a line, em.degenerate_components).  Its likelihood is unbounded
              nonsense, often far "better" than any real fit, so it never wins (mclust
              reports such cells as missing).  Within a cell, fitting.fit already prefers any
              non-degenerate restart to a degenerate one;
- skipped:    the model does not apply to the data (K larger than the data allows, fewer
              distinct points than K, a one-dimensional model for data of several
              columns): no fit was tried; the reason is kept, as mclust reports NA;
- failed:     the fit broke off (a covariance not positive definite, ...): the reason is
              kept, the other cells go on.

The best cell has the lowest criterion (scikit-learn's sign: BIC = -2 log L + p log N;
mclust reports BIC = -ours and takes the largest); ties (within TIE_RTOL) go to the
earlier cell in grid order.  Nothing here reads files, prints or starts processes:
select() takes the way its cells are mapped as an argument (``map_cells``: here, in
order, by default; the command line passes a process pool; a distributed backend can
pass its own), and every mapper runs fit_cell on each CellTask, so a cell's result is
the same wherever it is fitted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .. import vocab
from .dataset import Dataset
from .degenerate import DegenerateComponent
from .errors import EngineError, InvalidParameter
from .families import family, searched
from .fitting import FitResult, ProgressCallback, counted_rows, fit, rows_short
from .hc import HcTree, seeded_hc_tree
from .options import FitOptions, component_values

CRITERIA: tuple[str, ...] = vocab.names(vocab.CRITERIA)

#: The seed-sequence key of the per-cell streams.
_CELL_STREAM = 0x5E


@dataclass(frozen=True)
class Cell:
    """One point of the grid: a covariance family and a number of components."""

    covariance_type: str
    n_components: int

    @property
    def mclust(self) -> str:
        """mclust's name of the family (VVV for full, ...)."""
        return family(self.covariance_type).mclust


def grid(covariance_types: Sequence[str], components: Iterable[int],
         n_features: int | None = None) -> list[Cell]:
    """Cells family by family (in the order given), K ascending within each; duplicates
    are dropped.  No family named: every family Mclust searches for data of n_features
    columns (families.searched)."""
    ks = component_values(components)
    if not covariance_types and n_features is not None:
        covariance_types = searched(n_features)
    types = list(dict.fromkeys(family(name).name for name in covariance_types))
    if not types:
        raise InvalidParameter("no covariance type to select from")
    return [Cell(t, k) for t in types for k in ks]


def cell_seed(seed: int, cell: Cell) -> int:
    """The seed of a cell's fit: a function of the run's seed and the cell only.

    53 bits, so it is written exactly in the model file (`emgmm fit` with the cell's
    options and this seed repeats the cell's fit on data the hierarchy takes whole:
    hc.hc_rows, at most HC_MAX_ROWS).
    """
    key = [int(seed), _CELL_STREAM, family(cell.covariance_type).seed_key, cell.n_components]
    state = np.random.SeedSequence(key).generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(11))


@dataclass(frozen=True)
class CellTask:
    """Everything a worker needs to fit one cell (picklable)."""

    index: int
    cell: Cell
    options: FitOptions


def plan(cells: Sequence[Cell], template: FitOptions, seed: int) -> list[CellTask]:
    """A task per cell: the template's options with the cell's family, K and seed."""
    template.validate()
    return [
        CellTask(i, c, template.replace(covariance_type=c.covariance_type,
                                        n_components=c.n_components, seed=cell_seed(seed, c)))
        for i, c in enumerate(cells)
    ]


@dataclass(eq=False)
class CellResult:
    """The outcome of one cell: its fit, or why there is none."""

    cell: Cell
    options: FitOptions
    result: FitResult | None = None
    error: str | None = None
    #: whether the model did not apply to the data (no fit was tried)
    skipped: bool = False
    #: why the fit of a failed cell stopped, where it says (degenerate, as on_degenerate
    #: 'error' asks); None otherwise
    halted: str | None = None

    @property
    def stopped(self) -> str | None:
        """Why the cell's kept run stopped (em.STOP_REASONS), or why its fit failed
        (halted); None when it did not run."""
        return self.result.stopped if self.result is not None else self.halted

    @property
    def status(self) -> str:
        """"ok", "degenerate", "skipped" or "failed"."""
        if self.result is None:
            return "skipped" if self.skipped else "failed"
        return "degenerate" if self.result.is_degenerate else "ok"

    @property
    def eligible(self) -> bool:
        """Whether the cell may be chosen (fitted, and not degenerate)."""
        return self.status == "ok"

    def criterion(self, name: str) -> float:
        """The cell's BIC, AIC or ICL (lower is better); NaN when it failed."""
        if name not in CRITERIA:
            raise ValueError(f"unknown criterion {name!r}; choose one of {', '.join(CRITERIA)}")
        if self.result is None:
            return float("nan")
        return float(getattr(self.result, name))

    @property
    def message(self) -> str:
        """Why the cell was skipped or failed, or which components collapsed; empty when
        ok."""
        if self.result is None:
            return self.error or ""
        if self.result.degenerate:
            which = ", ".join(str(c) for c in self.result.degenerate)
            plural = "s" if len(self.result.degenerate) > 1 else ""
            return (f"every restart ended degenerate (component{plural} {which} "
                    "collapsed: a spurious maximum)")
        return ""


def fit_cell(data: Dataset, task: CellTask, *, hc_tree: HcTree | None = None,
             on_iteration: ProgressCallback | None = None) -> CellResult:
    """Fit one cell; an engine error (the data cannot support this cell) is its result.

    on_iteration is fit's progress callback (it may raise to stop the fit: anything but
    an EngineError goes through).
    """
    try:
        result = fit(data, task.options, hc_tree=hc_tree, on_iteration=on_iteration,
                     settle_degenerate=False)  # such a cell is never chosen
    except InvalidParameter as exc:  # raised before any iteration: the model does not apply
        return CellResult(task.cell, task.options, error=str(exc), skipped=True)
    except EngineError as exc:
        return CellResult(task.cell, task.options, error=str(exc),
                          halted=exc.stopped if isinstance(exc, DegenerateComponent) else None)
    return CellResult(task.cell, task.options, result=result)


class Scored(Protocol):
    """What choose() reads of a cell: a CellResult, or a cell read back from a table."""

    @property
    def eligible(self) -> bool: ...

    def criterion(self, name: str) -> float: ...


#: Criteria this close (relative) are a tie, which the earlier cell wins.  Equal models
#: (every family at K = 1) reach the same optimum through different M-steps, whose
#: rounding differs by about 1e-13; a table read back at its 10 significant digits
#: (batch --skip-existing) must choose as the run did.
TIE_RTOL = 1e-8


def choose(results: Sequence[Scored], criterion: str = "bic") -> int | None:
    """Index of the best eligible cell (lowest criterion, the earlier on ties: values
    within TIE_RTOL), or None when no cell is eligible."""
    if criterion not in CRITERIA:
        raise ValueError(f"unknown criterion {criterion!r}; choose one of {', '.join(CRITERIA)}")
    best: int | None = None
    for i, r in enumerate(results):
        value = r.criterion(criterion)
        if not (r.eligible and np.isfinite(value)):
            continue
        if best is None:
            best = i
            continue
        lowest = results[best].criterion(criterion)
        if value < lowest and not math.isclose(value, lowest, rel_tol=TIE_RTOL):
            best = i
    return best


def hierarchy(data: Dataset, template: FitOptions, seed: int) -> HcTree | None:
    """The hierarchy every cell of an ``hc`` or ``auto`` selection cuts (None for other
    inits): built once, from the whole data or (over hc.hc_rows rows) a subsample drawn
    from seed."""
    if template.init not in ("hc", vocab.AUTO):
        return None
    return seeded_hc_tree(data, seed)


@dataclass(eq=False)
class Selection:
    """Every cell's outcome, in grid order, and which one won."""

    cells: list[CellResult]
    criterion: str
    best: int | None

    @property
    def best_cell(self) -> CellResult | None:
        return None if self.best is None else self.cells[self.best]


#: Called as each cell finishes: on_cell(task index, result) (in completion order).
CellCallback = Callable[[int, "CellResult"], None]
#: How select() fits its cells: map_cells(data, tasks, hc_tree, on_done) -> one CellResult
#: per task, in task order, calling on_done (if given) as each cell finishes.
CellMapper = Callable[[Dataset, Sequence[CellTask], "HcTree | None", "CellCallback | None"],
                      list["CellResult"]]


def fit_in_order(data: Dataset, tasks: Sequence[CellTask], hc_tree: HcTree | None,
                 on_done: CellCallback | None = None, *,
                 on_iteration: ProgressCallback | None = None) -> list[CellResult]:
    """The default CellMapper: every cell here, one after another (on_iteration is fit's
    progress callback, which may raise to stop)."""
    results: list[CellResult] = []
    for task in tasks:
        cell = task.cell
        result = fit_cell(data.for_model(cell.n_components, cell.covariance_type), task,
                          hc_tree=hc_tree, on_iteration=on_iteration)
        results.append(result)
        if on_done is not None:
            on_done(task.index, result)
    return results


def select(
    data: Dataset,
    cells: Sequence[Cell],
    template: FitOptions,
    *,
    seed: int,
    criterion: str = "bic",
    hc_tree: HcTree | None = None,
    map_cells: CellMapper = fit_in_order,
    on_cell: CellCallback | None = None,
) -> Selection:
    """Fit every cell and choose the best.

    template: the options shared by every cell (its n_components and covariance_type are
    replaced by each cell's, its seed by cell_seed(seed, cell)).  The hierarchy of an
    ``hc`` selection is built once, here, from seed (or given).  map_cells decides where
    the cells are fitted; on_cell(index, result) is called as each one finishes.
    """
    if criterion not in CRITERIA:
        raise InvalidParameter(f"unknown criterion {criterion!r}; choose one of "
                               f"{', '.join(CRITERIA)}", option="criterion")
    tasks = plan(cells, template, seed)
    beyond = _beyond_the_rows(data, tasks)
    if on_cell is not None:
        for i, result in beyond.items():
            on_cell(i, result)
    fitted = [t for t in tasks if t.index not in beyond]
    if hc_tree is None and fitted:
        hc_tree = hierarchy(data, template, seed)
    mapped = iter(map_cells(data, fitted, hc_tree, on_cell) if fitted else [])
    results = [beyond[t.index] if t.index in beyond else next(mapped) for t in tasks]
    return Selection(results, criterion, choose(results, criterion))


def fittable(data: Dataset, cells: Sequence[Cell]) -> int:
    """How many of cells select() fits: those with no more components than the data has
    rows (the others are skipped without a fit)."""
    rows = counted_rows(data)
    return sum(rows_short(rows, c.n_components) is None for c in cells)


def _beyond_the_rows(data: Dataset, tasks: Sequence[CellTask]) -> dict[int, CellResult]:
    """The skipped results, by task index, of the cells with more components than the
    data has rows (fit_cell's, without a fit each): a grid far beyond the data (-k
    1-100000 on 300 rows) costs little more than the cells that can be fitted."""
    rows = counted_rows(data)
    results: dict[int, CellResult] = {}
    for task in tasks:
        short = rows_short(rows, task.cell.n_components)
        if short is not None:
            results[task.index] = CellResult(task.cell, task.options, error=short,
                                             skipped=True)
    return results
