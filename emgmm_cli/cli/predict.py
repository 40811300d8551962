"""`emgmm predict`: labels (or responsibilities) of new data under a saved model."""

from __future__ import annotations

from typing import Any

import click

from .context import Terminal, pass_terminal
from .errors import command
from .options import (
    APPLY_MISSING,
    backend_options,
    model_argument,
    FILE_PATH,
    FORMATS_TEXT,
    common_options,
    format_option,
    LABEL_KNOWN,
    LABEL_WEIGHTS,
    input_options,
    large_data_options,
    rows_options,
    take,
)


@command(short_help="Label new data with a saved model.")
@model_argument
@input_options(LABEL_WEIGHTS, LABEL_KNOWN, APPLY_MISSING)
@large_data_options
@click.option("-o", "--output", default="-", show_default=False, metavar="FILE",
              type=FILE_PATH,
              help=f"Write to FILE ({FORMATS_TEXT} by extension; default: stdout).")
@rows_options("Write the N x K responsibilities (columns p0..p{K-1}) instead of labels; "
              "with --with-rows, add them to the rows.")
@format_option
@backend_options
@common_options
@pass_terminal
def predict(term: Terminal, model: str, input: str, output: str, proba: bool,
            with_rows: bool, log_density: bool, label_header: bool, **kw: Any) -> None:
    """Label INPUT with the components of MODEL (a file written by fit --model).

    Writes one label 0..K-1 per line, the component with the largest responsibility;
    on the training data these are the labels fit wrote.  With --with-rows, writes the
    input rows instead, every column kept, with a cluster column.  Without --columns, the
    model's column names are used when INPUT's header holds them all, else every column;
    --columns that name the model's columns take them by name, in any order.

    \b
    Examples:
      emgmm predict model.json new.csv > labels.csv
      emgmm predict model.json new.csv | sort | uniq -c
      emgmm predict model.json new.csv --proba -o resp.csv
      emgmm predict model.json new.csv --with-rows --proba -o clustered.json
      cat new.tsv | emgmm predict model.json - -d '\\t' --columns 1,2
    """
    from ..app import models
    from ..app.fitting import check_label_header, check_outputs, input_files
    from ..app.errors import UsageProblem
    from ..app.requests import LABEL_HEADER_ALONE, FitOutputs, ReadOptions
    from ..app.rows import InputRows, buffered_input
    from . import show

    FitOutputs(with_rows=with_rows, log_density=log_density,  # checks the combination
               label_header=label_header)
    if label_header and proba:
        raise UsageProblem(LABEL_HEADER_ALONE.format(what="the responsibilities of --proba"),
                           option="--label-header")
    read = take(kw, ReadOptions)
    check_outputs({"output": output}, [model, input, *input_files(read.inputs())])
    if not with_rows:
        check_label_header(output, label_header)
    loaded = models.load_model(model)
    stdin = buffered_input(input)
    rows = InputRows.before_reading(input, read, stdin) if with_rows else None
    with show.reading(term, input):
        points = models.read_data(loaded, input, read, term.warn, stdin=stdin,
                                    log=term.log)
    model_ = models.as_model(loaded)
    if not with_rows:  # block by block, never all N labels at once
        models.stream_labels(output, model_, points, proba=proba, header=label_header)
        return
    result = models.apply_model(model_, points, want_resp=proba, want_log_density=log_density)
    assert rows is not None
    models.write_rows(output, result, rows, source=points.source)
