"""`emgmm select`: choose the number of components and the covariance family."""

from __future__ import annotations

from typing import Any

import click

from .. import vocab
from ..app.requests import (AUTO_JOBS_BYTES, AUTO_JOBS_CELLS, AUTO_JOBS_ROW_CELLS,
                            AUTO_JOBS_ROWS)
from .context import Terminal, pass_terminal
from .errors import command
from .options import (
    check_known_order,
    json_option,
    backend_options,
    FILE_PATH,
    MAX_COMPONENT_VALUES,
    SELECT_COMPONENTS,
    SELECT_COVARIANCES,
    TEXT_FORMATS_TEXT,
    ComponentList,
    CovarianceList,
    JobCount,
    common_options,
    format_option,
    covariance_help,
    em_options,
    input_options,
    picture_option,
    take,
)


@command(short_help="Choose K and the covariance model (by BIC by default).")
@input_options()
@click.option("-k", "--components", type=ComponentList(), default=SELECT_COMPONENTS,
              show_default=True,
              help="Numbers of components to try: a range (1-9), a list (2,4,8) or both "
                   f"(1-3,6); at most {MAX_COMPONENT_VALUES} of them.")
@click.option("-c", "--covariance-type", "covariance_types", type=CovarianceList(),
              default=SELECT_COVARIANCES, show_default=True, help=covariance_help(True))
@click.option("--criterion",
              type=click.Choice(vocab.names(vocab.CRITERIA), case_sensitive=False), default="bic",
              show_default=True,
              help="What picks the best cell, lower being better (scikit-learn's sign; "
                   "mclust reports BIC as -BIC and takes the largest).")
@em_options(means_init=False)
@click.option("-o", "--table", "--output", "table", metavar="FILE",
              type=FILE_PATH,
              help=f"Write the table of every cell to FILE ({TEXT_FORMATS_TEXT} by "
                   "extension; .json adds the choice; '-': stdout).")
@json_option("the selection (the choice and every cell)")
@click.option("--model", metavar="FILE",
              type=FILE_PATH,
              help="Write the best cell's fitted model (the JSON document of fit --model) "
                   "to FILE.")
@picture_option("--plot", "the criterion against K, one line per covariance family, the "
                "chosen cell marked (as mclust's BIC plot)")
@click.option("-j", "--jobs", type=JobCount(), default=vocab.AUTO, show_default=True,
              help="Fit this many cells at once, each in its own process with one BLAS "
                   "thread (0: one per core; auto: one per core on data in memory, up to "
                   f"{AUTO_JOBS_BYTES >> 20} MiB, in grids of {AUTO_JOBS_CELLS} cells or "
                   f"more, of {AUTO_JOBS_ROWS:,} rows or more, or of rows times cells "
                   f"{AUTO_JOBS_ROW_CELLS:,} or more where workers fork (as on Linux), 1 "
                   "otherwise); the results do not depend on it.")
@format_option
@backend_options
@common_options
@pass_terminal
def select(term: Terminal, input: str, table: str | None, as_json: bool, model: str | None,
           plot: str | None, jobs: int | str, standardize: bool, **kw: Any) -> None:
    """Choose the number of components and the covariance family of INPUT, as R's
    mclust does: fit every (covariance, K) cell and pick the lowest BIC.

    Each cell is a fit with --n-init restarts; its seed comes from --seed and the cell
    alone, so the table is the same whatever --jobs is.  By default (--init auto) each
    cell screens cheap starts, mclust's model-based hierarchical clustering among them,
    and runs the --n-init most promising to convergence, mclust's own start always
    among them (where --reg-covar is felt beside the data's spread, the hierarchy run
    as mclust runs EM, with no floor), so that a cell ends below the optimum mclust's
    own start leads to only where the hierarchy's merges, or an iterative M-step (VVE,
    EVE, VEE), part from mclust's (from --n-init 4 on, half of the runs start from
    split-and-merge moves of the cell's best run instead: docs/numerics.md).  A restart that ends degenerate (a component
    collapsed onto a few points: a spurious maximum) loses to any that does not, and
    with --init auto stops once it is found so; a cell whose every restart is degenerate
    is shown as such (stopped: degenerate) and never chosen.  Cells the model
    cannot be fitted to (K larger than the data allows) are shown as skipped, and
    cells whose fit breaks off (a covariance not positive definite) as failed, each
    with the reason; the other cells complete.

    On a terminal, prints the table with the best cell marked; when stdout is a pipe or a
    file and no --table is named, writes the table as CSV instead.  Files are written
    atomically.

    \b
    Examples:
      emgmm select data.csv
      emgmm select data.csv -k 1-9 --n-init 5 --seed 0
      emgmm select data.csv -k 2,4,8 -c full,diag --criterion icl --jobs 0
      emgmm select data.csv --seed 1 --table cells.csv --model best.json
      emgmm select data.csv -k 1-6 --plot bic.png
      emgmm select data.csv > cells.csv
      emgmm select data.csv --json | jq .best
    """
    from ..app import selecting
    from ..app.data import load
    from ..app.fitting import input_files
    from ..app.requests import ReadOptions, SelectGrid
    from ..engine.options import FitOptions
    from . import show

    check_known_order(kw)
    read, cells = take(kw, ReadOptions), take(kw, SelectGrid)
    selecting.check_select_outputs(table, model, [input, *input_files(read.inputs())], plot,
                                   as_json=as_json)
    if table is None and model != "-" and not as_json and not term.stdout_isatty:
        table = "-"  # the table is the data of a pipe
    seed, template = kw.pop("seed"), take(kw, FitOptions, n_components=1)
    with show.reading(term, input):
        points = load(input, read, log=term.log)
    show.notes(term, points)
    with show.select_progress(term, cells, points.n_features) as on_cell:
        selected = selecting.select_points(points, cells, template, seed=seed, jobs=jobs,
                                           on_cell=on_cell, standardize=standardize,
                                           on_finding=show.finding_warner(term, points),
                                           inputs=read.inputs(), log=term.log)
    show.selection(term, selected, carries_data=as_json or "-" in (table, model))
    selecting.write_selection(selected, table=table, model=model, plot=plot, as_json=as_json)
