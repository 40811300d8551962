"""`emgmm fit`: cluster one dataset."""

from __future__ import annotations

from typing import Any

import click

from .context import Terminal, pass_terminal
from .errors import command
from .options import (
    json_option,
    check_starts,
    given,
    backend_options,
    DIR_PATH,
    FILE_PATH,
    FORMATS_TEXT,
    common_options,
    format_option,
    fit_options,
    input_options,
    picture_option,
    rows_options,
    take,
)


@command(short_help="Cluster one dataset: labels, model, trace.")
@input_options()
@fit_options
@click.option("-o", "--labels", "--output", "labels", metavar="FILE",
              type=FILE_PATH,
              help=f"Write one label (0..K-1) per line to FILE ({FORMATS_TEXT} by "
                   "extension; '-': stdout); with --with-rows, the input rows and their "
                   "cluster (to stdout by default).")
@rows_options("With --with-rows, add the responsibilities, columns p0..p{K-1}.")
@click.option("--responsibilities", metavar="FILE",
              type=FILE_PATH,
              help="Write the N x K responsibilities (columns p0..p{K-1}) to FILE.")
@click.option("--trace", metavar="FILE",
              type=FILE_PATH,
              help="Write the per-iteration trace (iteration, log_likelihood, change, "
                   "seconds, event: what happened at the iteration, and on the last row "
                   "why the fit stopped) to FILE; .npy leaves out event.")
@click.option("--model", metavar="FILE",
              type=FILE_PATH,
              help="Write the fitted model (versioned JSON) to FILE.")
@click.option("--output-dir", type=DIR_PATH, metavar="DIR",
              help="Write labels.csv, responsibilities.csv, trace.csv and model.json to "
                   "DIR (created if missing); the options above override single files.")
@json_option("the summary (the model document and the trace)")
@click.option("--show-trace", is_flag=True, help="Also show the trace as a table.")
@picture_option("--plot", "the data coloured by component, with each component's mean and "
                "ellipses (as emgmm plot draws them)")
@picture_option("--trace-plot", "the mean log-likelihood per point at each iteration, one line "
                                "per restart")
@format_option
@backend_options
@common_options
@pass_terminal
def fit(term: Terminal, input: str, means_init: str | None, show_trace: bool,
        standardize: bool, **kw: Any) -> None:
    """Fit a Gaussian mixture to INPUT (a data file, or - for standard input).

    On a terminal, prints a summary: iterations, convergence, log-likelihood, BIC, AIC,
    ICL and a table of components.  When stdout is a pipe or a file and no output is
    named, writes one integer label per line instead.  Output formats follow the file
    extension; '-' is stdout.  Files are written atomically: a failed run leaves none
    behind.

    \b
    Examples:
      emgmm fit data.csv -k 4
      emgmm fit data.csv -k 4 | sort | uniq -c
      emgmm fit data.csv -k 4 --with-rows --proba -o clustered.csv
      emgmm fit data.csv -k 3 -c diag --n-init 5 --seed 1 --model model.json
      emgmm fit data.csv -k 2 --columns height --algorithm hard --show-trace
      emgmm fit data.csv --init-model model.json --max-iter 50 --freeze weights
      cat data.csv | emgmm fit - -k 4 --output-dir out/
    """
    from ..app import fitting
    from ..app.requests import FitOutputs, ReadOptions
    from ..app.rows import InputRows, buffered_input
    from ..engine.options import FitOptions
    from . import show

    check_starts({**kw, "means_init": means_init})
    # -c, --init and --n-init beside --init-model: given, or the defaults?
    beside_model = [given(kw, name) for name in ("covariance_type", "init", "n_init")]
    read, options, outputs = take(kw, ReadOptions), take(kw, FitOptions), take(kw, FitOutputs)
    start_model = None if options.init_model is None else fitting.load_model(options.init_model)
    if start_model is not None:  # read once: every step continues the same model
        fitting.check_continued(start_model, options.n_components, *beside_model)
    if options.n_components is None:
        if options.init_model is None:
            raise click.UsageError("Missing option '-k' / '--components' (or --init-model, "
                                   "a model to continue).")
        options = options.replace(n_components=1)  # the model's, once it is read
    outputs = outputs.on_stdout(pipe=not term.stdout_isatty)
    read_beside = {**read.inputs(), "means_init": means_init, "init_model": options.init_model}
    fitting.check_fit_outputs(outputs, [input, *fitting.input_files(read_beside)])
    stdin = buffered_input(input) if outputs.with_rows else None
    rows = InputRows.before_reading(input, read, stdin) if outputs.with_rows else None
    with show.reading(term, input):
        points = fitting.read_fit_data(input, read, start_model, term.warn,
                                       stdin=stdin, log=term.log)
    means = fitting.load_means(means_init, options.n_components, points.n_features,
                               points.column_names) if means_init else None
    with show.fit_progress(term, options.n_init, options.max_iter) as on_iteration:
        fitted = fitting.fit_points(points, options.replace(means_init=means_init),
                                    means_init=means, on_iteration=on_iteration,
                                    standardize=standardize,
                                    on_finding=show.finding_warner(term, points),
                                    inputs=read.inputs(), start_model=start_model)
    show.events(term, fitted)
    with show.working(term, "writing the outputs"):
        fitting.write_outputs(fitted, outputs, rows)
    show.fit_summary(term, fitted, carries_data=outputs.carries_data, trace=show_trace)
