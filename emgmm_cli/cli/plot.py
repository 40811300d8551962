"""`emgmm plot`: a picture of data clustered by a saved model."""

from __future__ import annotations

from typing import Any

import click

from .context import Terminal, pass_terminal
from .errors import command
from .options import (
    APPLY_MISSING,
    PATH,
    IMAGE_EXTENSIONS,
    common_options,
    LABEL_KNOWN,
    LABEL_WEIGHTS,
    input_options,
    model_argument,
    Size,
    split_pair,
    take,
)


@command(short_help="Draw data clustered by a saved model.")
@model_argument
@input_options(LABEL_WEIGHTS, LABEL_KNOWN, APPLY_MISSING)
@click.option("-o", "--output", metavar="FILE", type=PATH,
              help=f"Write the picture to FILE ({IMAGE_EXTENSIONS} by extension).  Without "
                   "it, the picture is drawn as text on stdout: in colour on a terminal.")
@click.option("--dims", metavar="NAME,NAME", callback=split_pair,
              help="The two columns to draw (default: both of 2-D data; the first two "
                   "principal axes of data with more columns).")
@click.option("--uncertainty", is_flag=True,
              help="Shade each point by its uncertainty, 1 - its largest responsibility "
                   "(as mclust's uncertainty plot); as text, mark those over 0.2 with '?'.  "
                   "Not for one-column data, drawn as a histogram.")
@click.option("--size", type=Size(), metavar="WxH",
              help="Size of the picture: pixels of an image (vector formats: the same at "
                   "100 per inch; default 800x600, at most 10000x10000; one too small for the "
                   "axes beside their labels and legend is refused), or columns x rows of "
                   "text (default: the terminal's width, at most 120, by a third as many "
                   "rows; at least 20x8, at most 1000x500).")
@common_options
@pass_terminal
def plot(term: Terminal, model: str, input: str, output: str | None,
         dims: tuple[str, str] | None, uncertainty: bool, size: tuple[int, int] | None,
         **kw: Any) -> None:
    """Draw INPUT clustered by MODEL (a file written by fit --model).

    Points are coloured by component, with each component's mean (X) and its ellipses at
    1 and 2 sigma; data of more than two columns are drawn on their first two principal
    axes, the ellipses projected the same way (or on two columns: --dims).  One-column
    data are a histogram under the mixture's density and each weighted component.  Larger
    data are drawn from 50,000 evenly spaced rows.  A row with a missing value (--missing
    em) is coloured by its observed values, as predict labels it, and left out where a
    coordinate drawn has none.  Images need the plot extra
    (pip install 'emgmm[plot]'): matplotlib, and plotext for text.

    \b
    Examples:
      emgmm plot model.json data.csv                  # in the terminal
      emgmm plot model.json data.csv -o clusters.png
      emgmm plot model.json data.csv --uncertainty -o uncertainty.svg
      emgmm plot model.json wide.csv --dims age,income -o two-columns.pdf
    """
    from ..app import models, plotting
    from ..app.fitting import check_outputs, input_files
    from ..app.requests import ReadOptions
    from . import show

    read = take(kw, ReadOptions)
    if output is not None:
        check_outputs({"picture": output}, [model, input, *input_files(read.inputs())])
    loaded = models.load_model(model)
    with show.reading(term, input):
        points = models.read_data(loaded, input, read, term.warn,
                                    whole=True)
    view = plotting.points_view(loaded.params, points, model=model, dims=dims,
                                transform=models.as_model(loaded).transform)
    if output is not None:
        plotting.save_figure(plotting.mixture_figure(
            view, uncertainty=uncertainty, size=size or plotting.DEFAULT_SIZE), output)
    else:
        show.picture(term, lambda columns_rows, color: plotting.terminal_mixture(
            view, size=size or columns_rows, color=color, uncertainty=uncertainty))
