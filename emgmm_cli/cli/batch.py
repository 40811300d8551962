"""`emgmm batch`: fit every dataset in a directory, one summary table."""

from __future__ import annotations

from typing import Any

import click

from .. import vocab
from ..app.discover import DEFAULT_FILES
from .context import Terminal, pass_terminal
from .errors import command
from .options import (
    complete_covariance_list,
    json_option,
    check_starts,
    backend_options,
    given,
    DIR_PATH,
    FILE_PATH,
    MAX_COMPONENT_VALUES,
    SELECT_COMPONENTS,
    SELECT_COVARIANCES,
    TEXT_FORMATS_TEXT,
    WholeRange,
    ComponentList,
    CovarianceList,
    common_options,
    format_option,
    covariance_help,
    em_options,
    read_options,
    take,
)


def _patterns(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
              ) -> tuple[str, ...]:
    """--glob's patterns; an empty one (--glob '', an unset shell variable) matches no
    file, and was said as no datasets found where the default patterns were looked for."""
    if "" in value:
        raise click.BadParameter("an empty pattern matches no file", ctx, param)
    return value


@command(short_help="Fit (or select) every dataset of folders; one summary.")
@click.argument("paths", metavar="PATH...", nargs=-1, required=True,
                type=FILE_PATH)
@read_options()
@click.option("-k", "--components", "k_text", metavar="K|KS",
              help="Number of mixture components (required without --select, unless "
                   "--init-model gives them).  With "
                   "--select, the numbers to try: a range (1-9), a list (2,4,8) or both "
                   f"(1-3,6), at most {MAX_COMPONENT_VALUES} of them.  [default with "
                   f"--select: {SELECT_COMPONENTS}]")
@click.option("-c", "--covariance-type", "c_text", metavar="TYPE|TYPES",
              shell_complete=complete_covariance_list,
              help=f"{covariance_help()}  With --select, the families to try: all, or a "
                   f"comma-separated list such as full,diag.  [default: full; with "
                   f"--select: {SELECT_COVARIANCES}]")
@click.option("--select", "select_mode", is_flag=True,
              help="Choose each dataset's number of components and covariance family as "
                   "emgmm select does: fit every (covariance, K) cell of -k and -c and keep "
                   "the best by --criterion.")
@click.option("--criterion",
              type=click.Choice(vocab.names(vocab.CRITERIA), case_sensitive=False),
              help="With --select: what picks the best cell, lower being better.  "
                   "[default: bic]")
@em_options()
@click.option("-o", "--output-dir", required=True, type=DIR_PATH,
              metavar="DIR",
              help="Write each dataset's labels.csv, trace.csv and model.json (and "
                   "selection.csv with --select) to DIR/<its path without extension>/, "
                   "and the summary to DIR/summary.csv.")
@click.option("-r", "--recursive", is_flag=True,
              help="Also fit the files in the subdirectories of a directory PATH.")
@click.option("--glob", "patterns", multiple=True, metavar="PATTERN",
              callback=_patterns,
              help="Fit the files of a directory PATH whose name matches PATTERN (a "
                   "pattern with '/' matches the path below PATH, '**' any number of "
                   "folders, and looks in the folders it names without --recursive); "
                   "may be repeated (default: "
                   f"{DEFAULT_FILES}).")
@click.option("--responsibilities", is_flag=True,
              help="Also write responsibilities.csv (N x K) for every dataset.")
@click.option("-j", "--jobs", type=WholeRange(min=0), default=1, show_default=True,
              help="Datasets fitted at once, each in its own process with one BLAS "
                   "thread; 0: one per core.  Results do not depend on it.")
@click.option("--skip-existing", is_flag=True,
              help="Keep the results of datasets whose outputs are complete and were "
                   "fitted with the same options and inputs (sample weights, known labels, "
                   "--missing, unchanged files beside the data) from the same data file "
                   "(its device and inode), not modified or put in place since, read as "
                   "now: the same --dtype, and "
                   "the model's columns those that --columns, -d and -H/--header select "
                   "now in the file's "
                   "first lines (fitted again where those cannot tell): resume an "
                   "interrupted batch.")
@click.option("--summary", metavar="FILE", type=FILE_PATH,
              help=f"Also write the summary table to FILE ({TEXT_FORMATS_TEXT} by "
                   "extension; '-': stdout, CSV unless --format says otherwise).")
@json_option("the batch (the counts and every dataset's row)")
@format_option
@backend_options
@common_options
@pass_terminal
def batch(term: Terminal, paths: tuple[str, ...], output_dir: str, recursive: bool,
          patterns: tuple[str, ...], jobs: int, skip_existing: bool, summary: str | None,
          as_json: bool, **kw: Any) -> None:
    """Fit a Gaussian mixture to every dataset in PATH... and sum them up in one table.

    PATH is a directory (its data files, as --glob's default names them; see
    --recursive), a file, or - to read a list of paths from stdin, one a line (or
    NUL-separated).  Hidden files, the output directory DIR, and the folders of earlier
    batches' outputs (each holds the summary.csv a batch wrote) are not searched, nor
    read when listed on stdin.  Every read and fit option applies to every dataset.  Each
    dataset's outputs go to DIR/<its path relative to the directory PATH, or to the
    working directory, without the extension (and a compression suffix)>/, written
    atomically: complete, or not at all.  Every dataset is fitted with the same seed:
    --seed, or one drawn for the batch and recorded in each model.json.

    With --select, each dataset's K and covariance family are chosen as emgmm select
    chooses them: every (covariance, K) cell of -k (default 1-9) and -c (default all) is
    fitted, one after another in the process that handles the dataset, each with a seed
    from --seed and the cell alone, and the best by --criterion (BIC by default) is kept.
    Its outputs are written as a fit's, with the table of every cell in selection.csv.
    The EM options and their defaults are the same with and without --select.  Without
    --select, -k is one number and -c one family.

    A dataset that cannot be read or fitted (with --select: whose every cell failed or
    ended degenerate) is reported and the batch goes on; the exit status is then 1.  The
    summary (file, rows, dims, K, covariance, iterations, converged, stopped,
    log-likelihood, BIC, seconds, status; with --select, those of the chosen cell) is
    always written to DIR/summary.csv, even after Ctrl-C, and shown as a table on a
    terminal.

    \b
    Examples:
      emgmm batch data/ -k 4 --output-dir results/
      emgmm batch data/ -r -k 3 -c diag --jobs 0 --seed 1 --output-dir results/
      find data -name '*.csv' | emgmm batch - -k 4 --output-dir results/
      emgmm batch data/ -k 4 --output-dir results/ --skip-existing   # resume
      emgmm batch data/ --select -k 1-8 --output-dir results/
      emgmm batch data/ --select -k 2,4,8 -c full,diag --jobs 0 --output-dir out/
      emgmm batch data/ --select --criterion icl --seed 1 --output-dir out/
    """
    from ..app import batching
    from . import show
    from .errors import Phrasing

    seed_given = kw["seed"] is not None
    settings = _settings(kw)
    items = _datasets(term, paths, output_dir, recursive, patterns)
    batching.check_overwrites(items, settings, output_dir=output_dir, summary=summary,
                              as_json=as_json)
    with show.batch_progress(term, len(items)) as display:
        report = batching.run_batch(
            items, settings, display, output_dir=output_dir, jobs=jobs,
            skip_existing=skip_existing, seed_given=seed_given, summary=summary,
            task=batching.OneDataset(Phrasing()), quiet=term.quiet)
    show.batch_summary(term, report, len(items), output_dir, summary == "-" or as_json)
    if as_json:
        batching.write_document(report, output_dir)
    if report.failed:
        raise click.ClickException(f"{report.failed} of {len(items)} datasets failed; see "
                                   f"{batching.summary_path(output_dir)}")


def _datasets(term: Terminal, paths: tuple[str, ...], output_dir: str, recursive: bool,
              patterns: tuple[str, ...]) -> list[Any]:
    """The datasets PATH... names (app.discover), or an error that says where it looked."""
    from ..app import discover

    items = discover.discover(paths, output_dir=output_dir, recursive=recursive,
                              patterns=patterns, warn=term.warn)
    if not items:
        raise click.ClickException(
            f"no datasets found in {', '.join(paths)} (looked for "
            f"{', '.join(patterns) or DEFAULT_FILES}"
            f"{'' if recursive else '; --recursive looks in subdirectories'})")
    return items


def _settings(kw: dict[str, Any]) -> Any:
    """The BatchSettings of the remaining options: the read options, the fit options (with
    the seed given, or one drawn for the batch), and the grid with --select."""
    from ..app.batching import BatchSettings
    from ..app.fitting import fresh_seed
    from ..app.requests import ReadOptions
    from ..engine.options import FitOptions

    grid, k, cov, start_model = _mode(kw.pop("select_mode"), kw.pop("k_text"),
                                      kw.pop("c_text"), kw.pop("criterion"), kw)
    check_starts(kw)
    if kw["seed"] is None:
        kw["seed"] = fresh_seed()
    means_init, responsibilities = kw.pop("means_init"), kw.pop("responsibilities")
    return BatchSettings(
        take(kw, ReadOptions), take(kw, FitOptions, n_components=k, covariance_type=cov),
        means_init=means_init, responsibilities=responsibilities, select=grid,
        standardize=kw.pop("standardize"), start_model=start_model)


def _mode(select: bool, k_text: str | None, c_text: str | None, criterion: str | None,
          kw: dict[str, Any]) -> tuple[Any, int, str, Any]:
    """(the grid with --select, else None; K; family; the --init-model read, else None),
    read from -k, -c and --criterion as --select says.

    With --select, -k is a list (default 1-9) and -c a list or all (default all); K and
    family are the cells'.  Without, -k is one integer >= 1 (required), -c one family
    (default full), and --criterion has no meaning.  Anything else is bad usage.
    """
    from ..app.requests import SelectGrid

    ctx = click.get_current_context()
    k_param, c_param = (next(p for p in ctx.command.params if p.name == name)
                        for name in ("k_text", "c_text"))
    if select:
        if kw["means_init"] is not None:
            raise click.UsageError("--means-init gives the starting means of one K; it "
                                   "cannot be used with --select", ctx)
        if kw["init_model"] is not None:
            raise click.UsageError("--init-model continues one model, of one K and family; "
                                   "it cannot be used with --select", ctx)
        grid = SelectGrid(
            tuple(ComponentList().convert(k_text or SELECT_COMPONENTS, k_param, ctx)),
            tuple(CovarianceList().convert(c_text or SELECT_COVARIANCES, c_param, ctx)),
            criterion or "bic")
        return grid, 1, (grid.covariance_types or ("full",))[0], None  # each cell its own
    if criterion is not None:
        raise click.UsageError("--criterion chooses among the cells of --select; add "
                               "--select, or leave --criterion out", ctx)
    if k_text is None and kw["init_model"] is None:
        raise click.MissingParameter(ctx=ctx, param=k_param)
    ks = ComponentList().convert(k_text, k_param, ctx) if k_text is not None else [None]
    if len(ks) != 1:
        raise click.BadParameter(f"{k_text!r} is a list of components, which needs "
                                 "--select; without it, -k is one number >= 1", ctx, k_param)
    covs = CovarianceList().convert(c_text or "full", c_param, ctx)
    if len(covs) != 1 or (c_text or "").strip().lower() == "all":
        raise click.BadParameter(f"{c_text!r} is a list of covariance types, which needs "
                                 f"--select; without it, -c is one of "
                                 f"{', '.join(vocab.covariance_names())}", ctx, c_param)
    if kw["init_model"] is None:
        return None, ks[0] or 1, covs[0], None
    from ..app.fitting import check_continued, load_model

    model = load_model(kw["init_model"])  # once, for every dataset
    check_continued(model, ks[0], covs[0] if c_text else None,  # -k, -c may repeat its own
                    given(kw, "init"), given(kw, "n_init"))
    return None, ks[0] or 1, covs[0], model
