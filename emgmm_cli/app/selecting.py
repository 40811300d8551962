"""Model selection over a grid of (covariance family, K) cells (the `select` use case;
`batch --select` runs it per dataset).

The grid, the per-cell seeds, the degeneracy rule and the choice are the engine's one
select() (engine.selection); this module decides where the cells are fitted: here, one
after another, or in worker processes (backends.processes: forked or spawned, with one
BLAS thread each).  Both run engine.selection.fit_cell on the same tasks, and each cell's
seed comes from the run's seed and the cell alone, so the results do not depend on --jobs.

--jobs auto (the command's default) picks per run (cell_workers): worker processes, one
per core, where they pay for their start and the data travel inside the tasks; here
otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import vocab
from ..backends import active, open_dataset
from ..interrupts import polling
from ..engine.dataset import Dataset
from ..engine.errors import (COPIES, NOT_CONVERGED, REG_COVAR_SWAMPS, TIME_LIMIT, EngineError,
                             FitEvent, InvalidParameter)
from ..engine.missing import row_missing
from ..engine.fitting import ProgressCallback
from ..engine.hc import HcTree
from ..engine.options import FitOptions, component_values
from ..engine.selection import (
    CellCallback,
    CellMapper,
    CellResult,
    CellTask,
    Selection,
    fit_cell,
    fit_in_order,
    fittable,
    grid,
    select,
)
from ..io.errors import DataError
from ..io.readers import Points
from ..io.formats import FORMATS, format_for_path, formats_help
from ..io.writers import OutputSet, write_json, write_table
from .data import api_files, as_points, dataset, rows_dataset
from .errors import UsageProblem, warn, warned
from .fitting import (FindingCallback, Fitted, api_inputs, check_flags, check_known_order,
                      check_outputs, file_digests, fitted, fresh_seed, keyword_names,
                      options_of)
from .prepare import Prepared, prepare
from .requests import (AUTO_JOBS_BYTES, AUTO_JOBS_CELLS, AUTO_JOBS_ROW_CELLS,
                       AUTO_JOBS_ROWS, ReadOptions, SelectGrid)

TABLE_COLUMNS = ("covariance_type", "mclust", "n_components", "status", "log_likelihood",
                 "n_parameters", "bic", "aic", "icl", "converged", "n_iter", "stopped",
                 "best", "seed", "message")


@dataclass(eq=False)
class Selected:
    """A selection over one dataset: every cell, and the chosen one as a fit.

    prepared: the data the cells were fitted on (standardized, with standardize) and
    what the screen found; the cells' log-likelihoods and criteria are in the data's
    units.
    """

    selection: Selection
    seed: int
    template: FitOptions
    points: Points = field(repr=False)
    data: Dataset = field(repr=False)
    prepared: Prepared = field(repr=False)
    #: what the rows brought besides their points (ReadOptions.inputs), for the model
    inputs: dict[str, Any] | None = None
    #: file_digests of the files read beside the data, taken when the selection started
    digests: dict[str, str] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        """One line: the grid and the chosen cell (the dataclass's own repr holds every
        cell's fit)."""
        cell = self.selection.best_cell
        best = None if cell is None else (f"{cell.cell.covariance_type} "
                                          f"K={cell.cell.n_components}")
        return (f"Selected(source={self.points.source!r}, cells={len(self.cells)}, "
                f"criterion={self.selection.criterion!r}, best={best!r}, seed={self.seed})")

    @property
    def cells(self) -> list[CellResult]:
        return self.selection.cells

    @property
    def best(self) -> Fitted | None:
        """The chosen cell as a fit (what fit --model would write), or None."""
        cell = self.selection.best_cell
        if cell is None or cell.result is None:
            return None
        data = self.data.for_model(cell.cell.n_components, cell.cell.covariance_type)
        return fitted(self.points, data, cell.result, self.prepared, self.inputs,
                      self.digests)

    def rows(self) -> list[dict[str, Any]]:
        """One plain record per cell, in grid order (the table's content)."""
        return [_row(i, c, self.selection.best) for i, c in enumerate(self.selection.cells)]

    def table(self) -> dict[str, list[Any]]:
        """The rows as the columns of the table (TABLE_COLUMNS, in that order)."""
        rows = self.rows()
        return {name: [r[name] for r in rows] for name in TABLE_COLUMNS}

    def failed(self) -> list[CellResult]:
        return [c for c in self.selection.cells if c.status == "failed"]


def _row(i: int, c: CellResult, best: int | None) -> dict[str, Any]:
    r = c.result
    return {
        "covariance_type": c.cell.covariance_type,
        "mclust": c.cell.mclust,
        "n_components": c.cell.n_components,
        "status": c.status,
        "log_likelihood": None if r is None else r.loglik,
        "n_parameters": None if r is None else r.n_parameters,
        "bic": None if r is None else r.bic,
        "aic": None if r is None else r.aic,
        "icl": None if r is None else r.icl,
        "converged": None if r is None else r.converged,
        "n_iter": None if r is None else r.n_iter,
        "stopped": c.stopped,
        "best": i == best,
        "seed": c.options.seed,
        "message": c.message,
    }


# --------------------------------------------------------------------------- where cells run

def _fallback(jobs: int | str, log: Callable[[str], None] | None
              ) -> Callable[[str], None] | None:
    """--jobs auto runs the cells here where no worker can be started (told to log, if
    any); a count asked for says so as an error."""
    if jobs != vocab.AUTO:
        return None
    return log if log is not None else (lambda reason: None)


def cell_workers(jobs: int | str, x: Any, n_cells: int) -> int:
    """How many processes fit the cells of a selection over the rows x (Points.x): jobs
    (0: one per core), or for "auto" one per core where x is an array in memory of
    AUTO_JOBS_BYTES at most, the grid has AUTO_JOBS_CELLS cells or more, and x has
    AUTO_JOBS_ROWS rows or more or, where workers fork, rows times cells
    AUTO_JOBS_ROW_CELLS or more (1 otherwise: here; requests.AUTO_JOBS_ROWS says why);
    never more than there are cells."""
    from ..backends.local import worker_count

    if jobs == vocab.AUTO:
        jobs = 0 if _workers_pay(x, n_cells) else 1
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 0:
        raise InvalidParameter(f"jobs must be a whole number >= 0 or 'auto', not {jobs!r}",
                               option="jobs")
    return worker_count(int(jobs), n_cells)


def _workers_pay(x: Any, n_cells: int) -> bool:
    """Whether worker processes pay for their start on a grid of n_cells over x (see
    cell_workers)."""
    if not (isinstance(x, np.ndarray) and not isinstance(x, np.memmap)
            and x.nbytes <= AUTO_JOBS_BYTES and n_cells >= AUTO_JOBS_CELLS):
        return False
    rows = x.shape[0]
    if rows >= AUTO_JOBS_ROWS:
        return True
    if rows * n_cells < AUTO_JOBS_ROW_CELLS:
        return False  # (and the workers' module is not imported)
    from ..backends.processes import start_method

    return start_method() == "fork"


@dataclass(frozen=True)
class _CellItem:
    """One cell for a worker process: where the data is, the cell, the hierarchy."""

    source: Any  # what open_dataset reads (an array, a block-file descriptor)
    task: CellTask
    hc_tree: HcTree | None
    weights: NDArray[np.float64] | None = None  # the rows' sample weights
    known: NDArray[np.int64] | None = None  # the rows' known components
    missing: bool = False  # the rows have missing values: loaded whole (MissingRows)


def _fit_cell_item(item: _CellItem) -> CellResult:
    """One cell in a worker process, stopping at its next EM iteration once the parent
    asks (a Ctrl-C does not wait for the cells in flight to end)."""
    from ..backends.processes import stop_at_iteration

    cell = item.task.cell
    source = item.source
    if item.missing and isinstance(source, str):  # a temporary .npy (processes.portable)
        source = np.load(source)
    data = rows_dataset(source, cell.n_components, cell.covariance_type, n_threads=1,
                        weights=item.weights, known=item.known)
    return fit_cell(data, item.task, hc_tree=item.hc_tree, on_iteration=stop_at_iteration)


def process_mapper(source: Any, jobs: int, weights: NDArray[np.float64] | None = None,
                   known: NDArray[np.int64] | None = None, missing: bool = False,
                   on_fallback: Callable[[str], None] | None = None) -> CellMapper:
    """A CellMapper that fits up to `jobs` cells at once in worker processes (0: one per
    core), each opening source itself (with the rows' weights and known labels, when
    given); with one worker, the cells run here in order.  Where no worker can be
    started (processes.WorkersUnavailable), the cells run here too if on_fallback is
    given (it is told why), and the error is raised otherwise."""
    from ..backends.processes import (WorkerDied, WorkersUnavailable, portable, run_tasks,
                                      worker_count)

    def map_cells(data: Dataset, tasks: Sequence[CellTask], hc_tree: HcTree | None,
                  on_done: CellCallback | None) -> list[CellResult]:
        workers = worker_count(jobs, len(tasks))
        if workers <= 1:
            return fit_in_order(data, tasks, hc_tree, on_done)
        results: dict[int, CellResult] = {}
        failures: list[BaseException] = []

        def on_result(i: int, value: CellResult | BaseException) -> None:
            if isinstance(value, WorkerDied):
                cell = tasks[i].cell
                value = WorkerDied(value.alone, f"cell {cell.covariance_type} "
                                                f"K={cell.n_components}: {value}")
            if isinstance(value, BaseException):
                failures.append(value)
                return
            results[i] = value
            if on_done is not None:
                on_done(tasks[i].index, value)

        with portable(source) as shared:
            items = [_CellItem(shared, t, hc_tree, weights, known, missing) for t in tasks]
            try:
                run_tasks(_fit_cell_item, items, workers, on_start=lambda i: None,
                          on_result=on_result, queued=workers)
            except WorkersUnavailable as exc:
                if on_fallback is None:
                    raise
                on_fallback(f"cannot start worker processes ({exc.reason}): fitting the "
                            "cells in this process")
                return fit_in_order(data, tasks, hc_tree, on_done)
        if failures:
            raise failures[0]
        return [results[i] for i in range(len(tasks))]

    return map_cells


def _fit_cell_whole(x: Any, item: tuple[CellTask, HcTree | None],
                    weights: NDArray[np.float64] | None = None,
                    known: NDArray[np.int64] | None = None) -> CellResult:
    """One cell on a cluster's worker, over every row brought to it (as the local fit),
    with the rows' weights and known labels when they have them, and their missing
    values."""
    task, hc_tree = item
    data = rows_dataset(x, task.cell.n_components, task.cell.covariance_type, n_threads=1,
                        weights=weights, known=known, backend="local")
    return fit_cell(data, task, hc_tree=hc_tree)


#: A cell is fitted on one worker when the data take at most this share of its memory.
WORKER_SHARE = 0.25


def cluster_mapper(cluster: Any) -> CellMapper:
    """A CellMapper over a dask cluster (backends.dask): when the data fit in a worker
    (WORKER_SHARE of its memory), every cell is a task on one worker, over all the rows;
    otherwise the cells run one after another, each a fit over the whole cluster."""

    def map_cells(data: Dataset, tasks: Sequence[CellTask], hc_tree: HcTree | None,
                  on_done: CellCallback | None) -> list[CellResult]:
        memory = cluster.worker_memory()
        if memory and getattr(data, "nbytes", 0) > WORKER_SHARE * memory:
            return fit_in_order(data, tasks, hc_tree, on_done)
        results: dict[int, CellResult] = {}

        def on_result(i: int, value: CellResult | BaseException) -> None:
            if isinstance(value, BaseException):
                raise value
            results[i] = value
            if on_done is not None:
                on_done(tasks[i].index, value)

        data.whole_tasks(_fit_cell_whole, [(t, hc_tree) for t in tasks],  # type: ignore[attr-defined]
                         on_result=on_result)
        return [results[i] for i in range(len(tasks))]

    return map_cells


def select_points(points: Points, cells: SelectGrid, template: FitOptions, *,
                  seed: int | None = None, jobs: int | str = 1,
                  on_cell: CellCallback | None = None,
                  on_iteration: ProgressCallback | None = None,
                  n_threads: int | None = None, standardize: bool = False,
                  on_finding: FindingCallback | None = None,
                  inputs: dict[str, Any] | None = None,
                  log: Callable[[str], None] | None = None) -> Selected:
    """Fit every cell of the grid to points and choose (engine.selection.select).

    The data are screened (and standardized) once, as fit_points does.  jobs (a count,
    0: one per core, or "auto": cell_workers decides) other than 1 fits cells in worker
    processes; otherwise here, in order, where on_iteration (fit's progress callback,
    which may raise to stop) applies, after a check for a stop (interrupts.polling);
    log, if given, is told when worker processes run them.  A seed of None draws one
    (recorded).  An engine error about the grid names the data.  inputs: what the rows
    brought besides their points (ReadOptions.inputs), for the chosen cell's model.
    """
    seed = fresh_seed() if seed is None else seed
    digests = file_digests({**template.to_dict(), **(inputs or {})})  # as read, not later
    prepared = prepare(points, reg_covar=template.reg_covar, standardize=standardize,
                       n_threads=n_threads)
    if on_finding is not None:
        for finding in prepared.findings:
            on_finding(finding)
    data = dataset(prepared.points, n_threads=n_threads)
    if prepared.transform is not None:  # progress in the data's units, as fit_points's
        on_iteration = prepared.transform.data_progress(on_iteration, data)
    plan = grid(cells.covariance_types, cells.components, data.n_features)
    n_cells = fittable(data, plan)
    workers = 1 if active() is not None else cell_workers(jobs, prepared.points.x, n_cells)
    if log is not None and workers > 1:
        from ..backends.processes import start_method

        log(f"fitting {n_cells} cells in {workers} {start_method()}ed worker processes"
            + (" (--jobs auto)" if jobs == vocab.AUTO else ""))
    mapper: CellMapper = (cluster_mapper(active()) if active() is not None
                          else process_mapper(prepared.points.x, workers,
                                              prepared.points.weights, prepared.points.known,
                                              row_missing(data) is not None,
                                              _fallback(jobs, log)) if workers > 1
                          else partial(fit_in_order, on_iteration=polling(on_iteration)))
    try:
        selection = select(data, plan, template, seed=seed, criterion=cells.criterion,
                           map_cells=mapper, on_cell=on_cell)
    except EngineError as exc:
        exc.source = points.source
        raise
    if prepared.transform is not None:
        for cell in selection.cells:
            if cell.result is not None:
                cell.result = prepared.transform.data_result(cell.result, data)
    return Selected(selection, seed, template, points, data, prepared, inputs, digests)


def no_choice_counts(selected: Selected) -> str:
    """How many cells failed, were skipped or ended degenerate, when none could be chosen
    ('all 4 cells skipped', 'of 6 cells, 2 skipped and 4 ended degenerate')."""
    results, criterion = selected.cells, selected.selection.criterion
    failed = sum(r.status == "failed" for r in results)
    skipped = sum(r.status == "skipped" for r in results)
    degenerate = sum(r.status == "degenerate" for r in results)
    other = len(results) - failed - skipped - degenerate  # fitted, no finite criterion
    parts = [f"{n} {what}" for n, what in (
        (failed, "failed"), (skipped, "skipped"), (degenerate, "ended degenerate"),
        (other, f"had no finite {criterion.upper()}")) if n]
    if len(parts) > 1:
        return f"of {len(results)} cells, {' and '.join(parts)}"
    what = parts[0].split(" ", 1)[1]
    return (f"the only cell {what}" if len(results) == 1
            else f"all {len(results)} cells {what}")


def no_choice_message(selected: Selected) -> str:
    """Why no cell could be chosen: how many failed or ended degenerate, and what became
    of the first cell (the simplest model)."""
    first = selected.cells[0]
    why = f"; {cell_name(first)}: {first.message}" if first.message else ""
    hint = _degenerate_hint(selected)
    return f"no cell could be chosen: {no_choice_counts(selected)}{why}{hint}"


#: The families whose covariances are spheres: the fewest parameters a component can have.
SPHERES = ("EII", "VII")


def _degenerate_hint(selected: Selected) -> str:
    """What may help where cells ended degenerate, of what was not tried: fewer components
    (where K = 1 was not among them), more restarts (one Gaussian has one optimum), a
    family of fewer parameters (where one with more did), a larger floor."""
    degenerate = [r.cell for r in selected.cells if r.status == "degenerate"]
    if not degenerate:
        return ""
    if any(f.kind == REG_COVAR_SWAMPS for f in selected.prepared.findings):
        return ("; reg_covar, not the data, sets the spread of some columns: fit standardized "
                "columns with --standardize (or give a smaller --reg-covar)")
    if any(f.kind == COPIES for f in selected.prepared.findings):
        return ("; some columns are linear functions of one another (the screen's warning "
                "says which): leave one of them out with --columns")
    tips = ["fewer components"] if min(c.n_components for c in degenerate) > 1 else []
    if any(c.n_components > 1 for c in degenerate):
        tips.append("more --n-init")
    if any(c.mclust not in SPHERES for c in degenerate):
        tips.append("a family of fewer parameters (-c diag or -c spherical)")
    return f"; try {vocab.listed(tips + ['a larger --reg-covar'])}"


def cell_name(result: CellResult) -> str:
    return f"{result.cell.covariance_type} K={result.cell.n_components}"


# --------------------------------------------------------------------------- outputs


def check_select_outputs(table: str | None, model: str | None, inputs: Sequence[str],
                         plot: str | None = None, *, as_json: bool = False) -> None:
    """The outputs of a selection, checked before any data is read (UsageProblem): none
    may overwrite one of inputs (the data and the files read beside it), the table needs
    a format with text columns, the model a .json name, the plot a picture's."""
    dest = {name: path for name, path in (("table", table), ("model", model), ("plot", plot))
            if path}
    if table is not None and not FORMATS[format_for_path(table, text_columns=True)].holds_text:
        raise UsageProblem(f"the selection table has text columns; give --table a "
                           f"{formats_help(text_columns=True)} name, not {table}",
                           option="--table")
    check_outputs(dest, inputs, as_json=as_json)


def write_selection(selected: Selected, *, table: str | None, model: str | None,
                    plot: str | None = None, as_json: bool = False) -> None:
    """The table of every cell (JSON: with the choice), the chosen cell's model, the
    criterion against K (plot) and with as_json the selection as JSON on stdout, written
    atomically together.  Raises DataError when no cell can be chosen."""
    best = selected.best
    if best is None:
        raise DataError(selected.points.source, no_choice_message(selected))
    with OutputSet() as out:
        if table is not None:
            _stage_table(out, table, selected)
        if model is not None:
            write_json(model, best.document, out=out)
        if as_json:
            write_json("-", selection_document(selected), out=out)
        if plot is not None:
            from .plotting import criterion_figure, save_figure

            figure = criterion_figure(selected.selection, source=selected.points.source)
            save_figure(figure, plot, out=out)


def selection_document(selected: Selected) -> dict[str, Any]:
    """The selection as one JSON document: the criterion, seed and source, the chosen
    cell, and every cell's row."""
    chosen = selected.selection.best_cell
    assert chosen is not None
    return {
        "criterion": selected.selection.criterion, "seed": selected.seed,
        "source": selected.points.source,
        "best": {"covariance_type": chosen.cell.covariance_type,
                 "n_components": chosen.cell.n_components},
        "cells": selected.rows(),
    }


def _stage_table(out: OutputSet, path: str, selected: Selected) -> None:
    if format_for_path(path) == "json":
        write_json(path, selection_document(selected), out=out)
    else:
        write_table(path, selected.table(), out=out)


# --------------------------------------------------------------------------- Python API


def select_model(data: Any, components: Iterable[int] = range(1, 10),
                 covariance_types: Sequence[str] | str | None = None, *,
                 criterion: str = "bic",
                 seed: int | None = None, jobs: int | str = 1, read: ReadOptions | None = None,
                 standardize: bool = False, sample_weights: Any = None,
                 known_labels: Any = None, missing: str | None = None,
                 **options: Any) -> Selected:
    """Choose the number of components and the covariance family of data (a path, an
    array or a DataFrame) as `emgmm select` does: every (family, K) cell is fitted with
    the options given (FitOptions' defaults otherwise), and the lowest criterion wins.
    covariance_types: the families (every one mclust searches when none), a list or one
    string as -c takes them ("full", "VVV,EEE" or "all").  Returns a Selected: .cells,
    .rows(), .best (a Fitted, or None when every cell failed or ended degenerate).  What
    the command line says as warnings (what reading decided, the findings, no cell chosen
    or a chosen cell not converged) are FitWarnings (app.errors.warn).
    sample_weights: N weights >= 0, a row of weight w counting as the row given w times
    (or a path: a file of them, as fit's; known_labels likewise);
    missing: as fit's.  jobs: cells fitted at once in worker
    processes (0: one per core; "auto": as the command's default decides, see
    cell_workers).  The default here is 1, not the command's "auto": where worker
    processes are spawned rather than forked (backends.processes.start_method), each one
    imports the caller's main module, so a script that asks for them must call this
    under ``if __name__ == "__main__":``."""
    if components is None or isinstance(components, (int, str)):
        raise TypeError(f"components must be numbers of components to try, such as "
                        f"range(1, 10) or [2, 4], not {components!r}")
    check_flags(standardize=standardize)
    read, sample_weights, known_labels = api_files(read, sample_weights, known_labels)
    check_known_order(options.get("order"), read, known_labels)
    # the seed checked as fit's; a cell has no start of its own (as `emgmm select`)
    # covariance_type is each cell's (covariance_types: the grid's), never an option
    template = options_of(1, {**options, "seed": seed}, "select",
                          not_here=("means_init", "init_model", "covariance_type"),
                          named=keyword_names(select_model))
    if template.init == vocab.MEANS_INIT:
        raise InvalidParameter(f"init {vocab.MEANS_INIT!r} starts from given means, which no "
                               "cell of a selection has; choose another init", option="init")
    cells = SelectGrid(component_values(components), _families(covariance_types), criterion)
    points = as_points(data, read, sample_weights=sample_weights, known_labels=known_labels,
                       missing=missing)
    inputs = api_inputs(read, missing, sample_weights, known_labels)
    selected = select_points(points, cells, template, seed=template.seed, jobs=jobs,
                             standardize=standardize, inputs=inputs, on_finding=warned(points))
    warn(points.source, _choice_warnings(selected))
    return selected


def _choice_warnings(selected: Selected) -> list[str]:
    """What the Python API warns of the choice: none made, or a chosen cell that did not
    converge."""
    best = selected.selection.best_cell
    if best is None or best.result is None:
        return [f"no cell could be chosen: {no_choice_counts(selected)}"]
    stopped = unconverged_choice(selected, lambda event: event.message)
    return [] if stopped is None else [stopped]


def unconverged_choice(selected: Selected, say: Callable[[FitEvent], str]) -> str | None:
    """Where the chosen cell did not converge, a warning naming it and why it stopped
    short (its run's own stop events, max-iter or the time limit, each as say words it)."""
    best = selected.selection.best_cell
    if best is None or best.result is None or best.result.converged:
        return None
    stops = [e for e in best.result.events if e.kind in (NOT_CONVERGED, TIME_LIMIT)]
    return (f"the chosen cell ({best.cell.covariance_type}, K={best.cell.n_components}) "
            + "; ".join(say(e) for e in stops))


def _families(covariance_types: Sequence[str] | str | None) -> tuple[str, ...]:
    """The families select() was given, () for every one searched (None or "all"); an
    empty list names none, an InvalidParameter as an empty -c is."""
    if covariance_types is None:
        return ()
    if isinstance(covariance_types, str):  # not its letters: the names it lists
        return tuple(vocab.covariance_list(covariance_types))
    try:
        given = tuple(covariance_types)
    except TypeError:  # a number, say: the argument after components
        raise TypeError(f"covariance_types must be a list of covariance types or one "
                        f"string such as 'full' or 'VVV,EEE', not {covariance_types!r}"
                        ) from None
    if not given:
        raise InvalidParameter("no covariance type given; choose 'all' (or None) or a list "
                               f"of {', '.join(vocab.covariance_choices())}",
                               option="covariance_type")
    return given
