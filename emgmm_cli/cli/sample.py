"""`emgmm sample`: draw points from a saved model."""

from __future__ import annotations

import click

from .context import Terminal, pass_terminal
from ..engine.options import OPTION_SPECS
from .errors import command
from .options import (
    FILE_PATH,
    FORMATS_TEXT,
    PointCount,
    SpecType,
    common_options,
    format_option,
    model_argument,
    truth_options,
)


@command(short_help="Draw points from a saved model.")
@model_argument
@click.option("-n", "--n-samples", type=PointCount(), required=True, metavar="N",
              help="Number of points to draw (0: no rows, as make-blobs -n 0).")
@click.option("--seed", type=SpecType(OPTION_SPECS["seed"]),
              help="Random seed; the same seed gives the same points (default: fresh).")
@click.option("-o", "--output", default="-", show_default=False, metavar="FILE",
              type=FILE_PATH,
              help=f"Write the points to FILE ({FORMATS_TEXT} by extension; default: CSV "
                   "on stdout).")
@truth_options
@format_option
@common_options
@pass_terminal
def sample(term: Terminal, model: str, n_samples: int, seed: int | None, output: str,
           labels: str | None, label_column: str | None) -> None:
    """Draw N points from MODEL (a file written by fit --model).

    Columns are the model's feature names; the component each point was drawn from
    goes to --labels FILE, or to a column with --label-column NAME.  The number of points
    per component is multinomial with the model's weights; points come component by
    component.

    \b
    Examples:
      emgmm sample model.json -n 1000 --seed 0 --labels truth.csv > synthetic.csv
      emgmm sample model.json -n 20000 --seed 1 -o synthetic.npy
      emgmm sample model.json -n 500 | emgmm predict model.json -
    """
    from ..app import models
    from ..app.blobs import truth_destinations
    from ..app.fitting import check_outputs

    check_outputs(truth_destinations(output, labels), [model])
    model_ = models.as_model(models.load_model(model))
    x, components = models.sample(model_, n_samples, seed=seed)
    models.write_sample(output, model_, x, components, labels=labels,
                        label_column=label_column)
