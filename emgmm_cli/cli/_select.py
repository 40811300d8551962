"""What `select` does between parsing and printing: read, fit the grid, write, render.

The grid logic (cells, per-cell seeds, the degeneracy rule, the choice) is the engine's
(emgmm_cli.engine.selection).  This module decides where cells run: here, one after another
(--jobs 1), or in worker processes (emgmm_cli.backends.processes.run_tasks: spawned
interpreters with one BLAS thread each).  Both paths call the same task function on the
same items, and each cell's seed comes from --seed and the cell alone, so the results are
the same whatever --jobs is.  `batch --select` plans each dataset's grid with plan_grid and
fits its cells one after another with fit_cell_on, the code the select workers run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._fitting import (
    check_destinations,
    click_usage,
    data_log,
    fresh_seed,
    load_points,
)
from .context import Terminal

if TYPE_CHECKING:
    from ..engine import FitOptions
    from ..engine.hc import HcTree
    from ..engine.selection import CellResult, CellTask, Selection

#: Arrays up to this size travel to the worker processes inside each task; larger ones
#: are written once to a temporary .npy that the workers memory-map.
INLINE_BYTES = 16 << 20

TABLE_COLUMNS = ("covariance_type", "mclust", "n_components", "status", "log_likelihood",
                 "n_parameters", "bic", "aic", "icl", "converged", "n_iter", "best", "seed",
                 "message")


@dataclass(frozen=True)
class SelectRequest:
    """Every option of `emgmm select`, as parsed by click."""

    input: str
    columns: list[str] | None
    delimiter: str | None
    header: bool | None
    components: list[int]
    covariance_types: list[str]
    criterion: str
    init: str
    n_init: int
    tol: float
    max_iter: int
    reg_covar: float
    seed: int | None
    algorithm: str
    table: str | None
    model: str | None
    jobs: int
    dtype: str = "float64"
    memory_limit: int | None = None
    cache_dir: str | None = None


@dataclass(frozen=True)
class _Item:
    """One task for a worker: where the data is, the cell, the hierarchy."""

    source: Any  # an array (or a picklable block file), or the path of a temporary .npy
    task: "CellTask"
    hc_tree: "HcTree | None"
    n_threads: int | None  # of the block reduction: 1 in a worker, all cores here


def fit_cell_on(x: Any, task: "CellTask", hc_tree: "HcTree | None",
                n_threads: int | None = None, on_iteration: Any = None) -> "CellResult":
    """Fit one cell of the data x (an array or a block file): the code every caller runs
    (select's --jobs 1 and its workers, and batch --select), so a cell's result is the same
    wherever it is fitted."""
    from ..backends import open_dataset
    from ..engine.selection import fit_cell

    data = open_dataset(x, n_components=task.cell.n_components,
                        covariance_type=task.cell.covariance_type, n_threads=n_threads)
    return fit_cell(data, task, hc_tree=hc_tree, on_iteration=on_iteration)


def _fit_cell_task(item: _Item) -> "CellResult":
    """Fit one cell (in this process or a worker): the same code for every --jobs."""
    import numpy as np

    x = np.load(item.source, mmap_mode="r") if isinstance(item.source, str) else item.source
    return fit_cell_on(x, item.task, item.hc_tree, item.n_threads)


def grid_template(req: Any) -> "FitOptions":
    """The options every cell shares (its K, family and seed are the cell's), from a request
    with init, n_init, tol, max_iter, reg_covar and algorithm (select's, or batch's)."""
    from ..engine import FitOptions

    return FitOptions(1, "full", init=req.init, n_init=req.n_init, tol=req.tol,
                      max_iter=req.max_iter, reg_covar=req.reg_covar, algorithm=req.algorithm)


def plan_grid(x: Any, covariance_types: Sequence[str], components: Sequence[int],
              template: "FitOptions", seed: int
              ) -> tuple[list["CellTask"], "HcTree | None"]:
    """The task of every cell, in grid order (each with its own seed, from seed and the
    cell alone), and the hierarchy an hc selection cuts (built once, from seed).

    Raises EngineError for a grid or data the selection cannot work with.
    """
    from ..backends import open_dataset
    from ..engine.selection import grid, hierarchy, plan

    tasks = plan(grid(covariance_types, components), template, seed)
    return tasks, hierarchy(open_dataset(x, n_threads=1), template, seed)


def run_cells(x: Any, tasks: Sequence["CellTask"], hc_tree: "HcTree | None", jobs: int,
              on_done: Any = None) -> list["CellResult"]:
    """Fit every task, in up to `jobs` processes (0: one per core); results in task order.

    on_done(result) is called in this process as each cell finishes.
    """
    import numpy as np

    from ..backends.processes import run_tasks, worker_count

    workers = worker_count(jobs, len(tasks))
    results: dict[int, CellResult] = {}
    failures: list[BaseException] = []
    with ExitStack() as stack:
        source: Any = x
        if workers > 1 and isinstance(x, np.ndarray) and x.nbytes > INLINE_BYTES:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="emgmm-select-"))
            source = os.path.join(folder, "data.npy")
            np.save(source, np.ascontiguousarray(x))
        items = [_Item(source, t, hc_tree, 1 if workers > 1 else None) for t in tasks]

        def on_result(i: int, value: "CellResult | BaseException") -> None:
            if isinstance(value, BaseException):
                failures.append(value)
                return
            results[i] = value
            if on_done is not None:
                on_done(value)

        run_tasks(_fit_cell_task, items, workers, on_start=lambda i: None,
                  on_result=on_result)
    if failures:
        raise failures[0]
    return [results[i] for i in range(len(tasks))]


def selection_rows(selection: "Selection") -> list[dict[str, Any]]:
    """One plain record per cell, in grid order (the table's content)."""
    rows = []
    for i, c in enumerate(selection.cells):
        r = c.result
        rows.append({
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
            "best": i == selection.best,
            "seed": c.options.seed,
            "message": c.message,
        })
    return rows


def table_columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """selection_rows() as the columns of the table (TABLE_COLUMNS, in that order)."""
    return {name: [r[name] for r in rows] for name in TABLE_COLUMNS}


def _table_format(path: str) -> str:
    from ..io.writers import output_format

    fmt = output_format(path)
    if fmt == "npy":
        raise click_usage(f"the selection table has text columns; give --table a .csv, .tsv "
                          f"or .json name, not {path}")
    return fmt


def run_select(term: Terminal, req: SelectRequest) -> None:
    import numpy as np

    from ..engine.errors import EngineError
    from ..engine.selection import choose
    from ..io.errors import DataError
    from ..io.model import model_document
    from ..io.writers import OutputSet, output_format, write_json, write_table
    from ..render import make_console, render_selection, select_progress

    dest = {name: path for name, path in (("table", req.table), ("model", req.model))
            if path is not None}
    check_destinations(dest, [req.input], False)
    table_fmt = _table_format(req.table) if req.table is not None else None
    if req.model is not None and output_format(req.model, default="json") != "json":
        raise click_usage(f"the model is a JSON document; give --model a .json name, "
                          f"not {req.model}")
    # Without --table, the table is the data: CSV on stdout unless that is a terminal (or
    # the model goes there).
    csv_on_stdout = req.table is None and req.model != "-" and not term.stdout_isatty
    carries_data = csv_on_stdout or "-" in dest.values()

    points = load_points(req.input, req.columns, req.delimiter, req.header, dtype=req.dtype,
                         memory_limit=req.memory_limit, cache_dir=req.cache_dir,
                         log=data_log(term))
    seed = req.seed if req.seed is not None else fresh_seed()
    template = grid_template(req)
    try:
        tasks, tree = plan_grid(points.x, req.covariance_types, req.components, template,
                                seed)
    except EngineError as exc:
        raise DataError(points.source, str(exc)) from exc

    progress_stream = term.stderr if term.stderr_isatty and not term.quiet else None
    with select_progress(progress_stream, len(tasks)) as done:
        results = run_cells(points.x, tasks, tree, req.jobs, on_done=None if done is None else (
            lambda r: done(f"{r.cell.covariance_type} K={r.cell.n_components}")))

    from ..engine.selection import Selection

    selection = Selection(results, req.criterion, choose(results, req.criterion))
    rows = selection_rows(selection)
    best = selection.best_cell
    n, d = points.n_samples, points.n_features
    heading = (f"{points.source}: {n} rows x {d} columns; {len(tasks)} cells, "
               f"init {req.init}, n_init {req.n_init}, tol {req.tol:g}, seed {seed}")
    caption = _caption(best, req.criterion)

    stream = term.message_stream(carries_data)
    if stream is not None:
        render_selection(make_console(stream), rows, criterion=req.criterion,
                         heading=heading, caption=caption)
    else:
        for r in rows:
            if r["status"] == "failed":
                term.warn(f"{points.source}: {r['covariance_type']} K={r['n_components']} "
                          f"failed: {r['message']}")
    if best is None:
        raise DataError(points.source, "no cell can be chosen: every one failed or ended "
                        "degenerate; try fewer components, more --n-init, or a larger "
                        "--reg-covar")
    assert best.result is not None
    if not best.result.converged:
        term.warn(f"{points.source}: the chosen cell ({best.cell.covariance_type}, "
                  f"K={best.cell.n_components}) did not converge in {req.max_iter} "
                  "iterations; raise --max-iter")

    with OutputSet() as out:
        if csv_on_stdout:
            write_table("-", table_columns(rows), out=out)
        if req.table is not None:
            if table_fmt == "json":
                write_json(req.table, {
                    "criterion": req.criterion, "seed": seed, "source": points.source,
                    "best": {"covariance_type": best.cell.covariance_type,
                             "n_components": best.cell.n_components},
                    "cells": rows,
                }, out=out)
            else:
                write_table(req.table, table_columns(rows), out=out)
        if req.model is not None:
            doc = model_document(best.result, feature_names=points.column_names,
                                 source=points.source,
                                 dtype=np.dtype(points.x.dtype).name)
            write_json(req.model, doc, out=out)


def _caption(best: "CellResult | None", criterion: str) -> str:
    if best is None or best.result is None:
        return "no cell can be chosen: every one failed or ended degenerate"
    value = best.criterion(criterion)
    text = (f"best by {criterion.upper()} (lower is better): {best.cell.covariance_type} "
            f"({best.cell.mclust}), K={best.cell.n_components}, "
            f"{criterion.upper()} {value:.2f}")
    if criterion == "bic":
        text += f" (mclust reports BIC {-value:.2f})"
    return text
