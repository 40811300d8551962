"""`emgmm fit`: cluster one dataset."""

from __future__ import annotations

from typing import Any

import click

from .options import common_options, fit_options, input_options, terminal


@click.command()
@input_options
@fit_options
@click.option("-o", "--labels", "--output", "labels", metavar="FILE",
              help="Write one label (0..K-1) per line to FILE ('-': stdout).")
@click.option("--responsibilities", metavar="FILE",
              help="Write the N x K responsibilities (columns p0..p{K-1}) to FILE.")
@click.option("--trace", metavar="FILE",
              help="Write the per-iteration trace (iteration, log_likelihood, change, "
                   "seconds) to FILE.")
@click.option("--model", metavar="FILE",
              help="Write the fitted model (versioned JSON) to FILE.")
@click.option("--output-dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Write labels.csv, responsibilities.csv, trace.csv and model.json to "
                   "DIR (created if missing); the options above override single files.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the summary (the model document and the trace) as JSON on stdout.")
@click.option("--show-trace", is_flag=True, help="Also show the trace as a table.")
@common_options
@click.pass_context
def fit(ctx: click.Context, **kwargs: Any) -> None:
    """Fit a Gaussian mixture to INPUT (.csv, .tsv, .npy, or - for CSV on stdin).

    On a terminal, prints a summary: iterations, convergence, log-likelihood, BIC, AIC,
    ICL and a table of components.  When stdout is a pipe or a file and no output is
    named, writes one integer label per line instead.  Output formats follow the file
    extension (.csv, .tsv, .npy, .json); '-' is stdout.  Files are written atomically:
    a failed run leaves none behind.

    \b
    Examples:
      emgmm fit data.csv -k 4
      emgmm fit data.csv -k 4 | sort | uniq -c
      emgmm fit data.csv -k 3 -c diag --n-init 5 --seed 1 --model model.json
      emgmm fit data.csv -k 2 --columns height --algorithm hard --show-trace
      cat data.csv | emgmm fit - -k 4 --output-dir out/
    """
    from ._fitting import FitRequest, run_fit

    run_fit(terminal(ctx), FitRequest(**kwargs))
