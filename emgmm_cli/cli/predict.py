"""`emgmm predict`: labels (or responsibilities) of new data under a saved model."""

from __future__ import annotations

from typing import Any

import click

from .context import Terminal, pass_terminal
from .errors import command
from .options import FORMATS_TEXT, common_options, input_options, take


@command()
@click.argument("model", metavar="MODEL")
@input_options
@click.option("-o", "--output", default="-", show_default=False, metavar="FILE",
              help=f"Write to FILE ({FORMATS_TEXT} by extension; default: stdout).")
@click.option("--proba", is_flag=True,
              help="Write the N x K responsibilities (columns p0..p{K-1}) instead of labels.")
@common_options
@pass_terminal
def predict(term: Terminal, model: str, input: str, output: str, proba: bool,
            **kw: Any) -> None:
    """Label INPUT with the components of MODEL (a file written by fit --model).

    Writes one label 0..K-1 per line, the component with the largest responsibility;
    on the training data these are the labels fit wrote.  Without --columns, the
    model's column names are used when INPUT's header holds them all, else every column.

    \b
    Examples:
      emgmm predict model.json new.csv > labels.csv
      emgmm predict model.json new.csv | sort | uniq -c
      emgmm predict model.json new.csv --proba -o resp.csv
      cat new.tsv | emgmm predict model.json - -d '\\t' --columns 1,2
    """
    from ..app import models
    from ..app.fitting import check_outputs
    from ..app.requests import ReadOptions

    check_outputs({"output": output}, [model, input])
    loaded = models.load_model(model)
    points = models.read_data(loaded, input, take(kw, ReadOptions), term.warn)
    result = models.apply_model(models.as_model(loaded), points, want_resp=proba)
    models.write_predictions(output, models.as_model(loaded), result)
