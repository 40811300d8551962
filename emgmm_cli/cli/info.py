"""`emgmm info`: describe a saved model."""

from __future__ import annotations

import os

import click

from .context import Terminal, pass_terminal
from .errors import command
from .options import PATH, common_options, json_option, model_argument


@command(short_help="Describe a saved model.")
@model_argument
@json_option("the validated model document", beside_format=False)
@click.option("-o", "--output", metavar="FILE", type=PATH,
              help="Write the description to FILE instead of stdout: to a .json name the "
                   "document (with --json, FILE must be one), to any other name but a table "
                   "format's (such as .csv) the 'name: value' lines.")
@common_options
@pass_terminal
def info(term: Terminal, model: str, as_json: bool, output: str | None) -> None:
    """Describe MODEL (a file written by fit --model) after validating it.

    Shows K, D, the covariance type, the weights, means and spreads of the components,
    the log-likelihood, BIC, AIC and ICL of the fit and the options it used: a table on
    a terminal, plain 'name: value' lines in a pipe or a file.  An invalid model file
    is an error (exit status 1) that says what is wrong.

    \b
    Examples:
      emgmm info model.json
      emgmm info model.json | grep BIC
      emgmm info model.json --json | jq .weights
    """
    from ..io.model import load_model
    from ..io.writers import write_json, write_text
    from ..app.fitting import check_json_output, check_outputs
    from ..render import make_console, model_info_text, render_model_info

    if output:
        as_json = as_json or _names_json(output)
        if as_json:
            check_json_output(output, "-o")
        check_outputs({"output": output} if as_json else {}, [model])
        if os.path.realpath(output) == os.path.realpath(model):
            raise click.UsageError(f"refusing to overwrite the model file {model} with -o")
    loaded = load_model(model)
    if as_json:
        write_json(output or "-", loaded.document)
    elif output or not term.stdout_isatty:
        write_text(output or "-", model_info_text(loaded.document, loaded.path))
    else:
        render_model_info(make_console(term.stdout, color=term.color), loaded.document,
                          path=loaded.path)


def _names_json(output: str) -> bool:
    """Whether info -o FILE writes the document (a .json name) rather than its text; a
    name of another table format is bad usage (info writes no table)."""
    from ..io.formats import CODEC_BY_EXT, FORMATS

    ext = os.path.splitext(output)[1].lower()
    if ext in CODEC_BY_EXT:
        raise click.UsageError(f"info writes no compressed file; give -o a name without {ext}")
    if ext in FORMATS["json"].extensions:
        return True
    if any(ext in writer.extensions for writer in FORMATS.values()):
        raise click.UsageError(f"info writes the model document to a .json name and its "
                               f"'name: value' lines to another; {output} names a table "
                               "format")
    return False
