"""`emgmm score`: per-sample log-densities and the log-likelihood of data under a model."""

from __future__ import annotations

from typing import Any

import click

from .context import Terminal, pass_terminal
from .errors import command
from .options import (
    APPLY_MISSING,
    json_option,
    FiniteRange,
    backend_options,
    FILE_PATH,
    common_options,
    format_option,
    SCORE_KNOWN,
    SCORE_WEIGHTS,
    input_options,
    large_data_options,
    model_argument,
    take,
)


@command(short_help="Log-density of each point under a saved model.")
@model_argument
@input_options(SCORE_WEIGHTS, SCORE_KNOWN, APPLY_MISSING)
@large_data_options
@click.option("-o", "--output", metavar="FILE",
              type=FILE_PATH,
              help="Write the per-sample log-densities (column log_density) to FILE "
                   "('-': stdout; the default when stdout is not a terminal).")
@click.option("--threshold", type=FiniteRange(0, 1, min_open=True, max_open=True),
              metavar="Q",
              help="Flag as outliers the points whose log-density is below its Q quantile "
                   "(numpy's, interpolated, so about a fraction Q of them): adds a 0/1 "
                   "'outlier' column and reports the count and the log-density cutoff.")
@json_option("the summary (log-likelihood, mean, outliers)")
@format_option
@backend_options
@common_options
@pass_terminal
def score(term: Terminal, model: str, input: str, output: str | None,
          threshold: float | None, as_json: bool, **kw: Any) -> None:
    """Score INPUT under MODEL: log-density of each point and the log-likelihood.

    The per-sample log-densities log p(x) go to -o FILE, or to stdout when it is a pipe
    or a file; the total and mean log-likelihood are a summary on the terminal (stderr
    when stdout carries data), or JSON on stdout with --json.  On the training data the
    total is the model's log_likelihood (for a fit with known labels, at least that: the
    fit counts a known row under its own component alone; log p(x) sums over all).

    \b
    Examples:
      emgmm score model.json data.csv
      emgmm score model.json data.csv > log_density.csv
      emgmm score model.json new.csv --threshold 0.01 -o scored.csv
      emgmm score model.json new.csv --json
    """
    from ..app import models
    from ..app.fitting import check_outputs, input_files
    from ..app.requests import ReadOptions
    from ..render import render_score_summary
    from . import show
    from .show import on_stream

    dest = output if output else ("-" if not as_json and not term.stdout_isatty else None)
    read = take(kw, ReadOptions)
    check_outputs({"output": dest} if dest else {}, [model, input, *input_files(read.inputs())],
                  as_json=as_json)
    loaded = models.load_model(model)
    with show.reading(term, input):
        points = models.read_data(loaded, input, read, term.warn,
                                    log=term.log)
    model_ = models.as_model(loaded)
    result = models.apply_model(model_, points, want_log_density=True)
    summary, flags = models.score_summary(model_, points, result, threshold)
    assert result.log_density is not None  # score_summary's, counted there
    note = models.infinite_note(result.log_density, summary["n_infinite"])
    if note is not None:
        term.warn(f"{summary['source']}: {note}")
    models.write_scores(dest, result, flags, summary=summary if as_json else None)
    if not as_json:
        on_stream(term, dest == "-", lambda console: render_score_summary(console, summary))
