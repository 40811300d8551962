"""`emgmm batch`: fit every dataset in a directory, one summary table."""

from __future__ import annotations

from typing import Any

import click

from .options import common_options, fit_options, read_options, terminal


@click.command()
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=str)
@read_options
@fit_options
@click.option("--output-dir", required=True, type=click.Path(file_okay=False), metavar="DIR",
              help="Write each dataset's labels.csv, trace.csv and model.json to "
                   "DIR/<its path without extension>/, and the summary to DIR/summary.csv.")
@click.option("-r", "--recursive", is_flag=True,
              help="Also fit the files in the subdirectories of a directory PATH.")
@click.option("--glob", "patterns", multiple=True, metavar="PATTERN",
              help="Fit the files of a directory PATH whose name matches PATTERN (a "
                   "pattern with '/' matches the path below PATH, '**' any number of "
                   "folders); may be repeated (default: *.csv, *.tsv, *.npy).")
@click.option("--responsibilities", is_flag=True,
              help="Also write responsibilities.csv (N x K) for every dataset.")
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=1, show_default=True,
              help="Datasets fitted at once, each in its own process with one BLAS "
                   "thread; 0: one per core.  Results do not depend on it.")
@click.option("--skip-existing", is_flag=True,
              help="Keep the results of datasets whose outputs are complete and were "
                   "fitted with the same options (resume an interrupted batch).")
@click.option("--summary", metavar="FILE",
              help="Also write the summary table to FILE (.csv, .tsv or .json; '-': CSV "
                   "on stdout).")
@common_options
@click.pass_context
def batch(ctx: click.Context, paths: tuple[str, ...], **kwargs: Any) -> None:
    """Fit a Gaussian mixture to every dataset in PATH... and sum them up in one table.

    PATH is a directory (its .csv, .tsv and .npy files; see --recursive and --glob), a
    file, or - to read a list of paths from stdin, one a line (or NUL-separated).  Every
    read and fit option applies to every dataset.  Each dataset's outputs go to
    DIR/<its path relative to the directory PATH, or to the working directory, without
    the extension>/, written atomically: complete, or not at all.  Every dataset is fitted
    with the same seed: --seed, or one drawn for the batch and recorded in each model.json.

    A dataset that cannot be read or fitted is reported and the batch goes on; the exit
    status is then 1.  The summary (file, rows, dims, K, covariance, iterations,
    converged, log-likelihood, BIC, seconds, status) is always written to
    DIR/summary.csv, even after Ctrl-C, and shown as a table on a terminal.

    \b
    Examples:
      emgmm batch data/ -k 4 --output-dir results/
      emgmm batch data/ -r -k 3 -c diag --jobs 0 --seed 1 --output-dir results/
      find data -name '*.csv' | emgmm batch - -k 4 --output-dir results/
      emgmm batch data/ -k 4 --output-dir results/ --skip-existing   # resume
    """
    from ._batch import BatchSettings, batch_request, check_overwrites, discover, run_batch

    term = terminal(ctx)
    output_dir = kwargs["output_dir"]
    items = discover(paths, output_dir=output_dir, recursive=kwargs["recursive"],
                     patterns=kwargs["patterns"], warn=term.warn)
    if not items:
        raise click.ClickException(
            f"no datasets found in {', '.join(paths)} (looked for "
            f"{', '.join(kwargs['patterns']) or '*.csv, *.tsv, *.npy'}"
            f"{'' if kwargs['recursive'] else '; --recursive looks in subdirectories'})")
    check_overwrites(items, output_dir=output_dir, summary=kwargs["summary"],
                     responsibilities=kwargs["responsibilities"],
                     means_init=kwargs["means_init"])
    settings = BatchSettings(batch_request(kwargs), responsibilities=kwargs["responsibilities"])
    run_batch(term, items, settings,
              output_dir=output_dir, jobs=kwargs["jobs"], skip_existing=kwargs["skip_existing"],
              seed_given=kwargs["seed"] is not None, summary=kwargs["summary"])
