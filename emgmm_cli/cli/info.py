"""`emgmm info`: describe a saved model."""

from __future__ import annotations

import click

from .options import common_options, terminal


@click.command()
@click.argument("model", metavar="MODEL")
@click.option("--json", "as_json", is_flag=True,
              help="Print the validated model document as JSON on stdout.")
@common_options
@click.pass_context
def info(ctx: click.Context, model: str, as_json: bool) -> None:
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
    from ._models import run_info

    run_info(terminal(ctx), model, as_json=as_json)
