"""Options shared by several commands, declared once.

A letter means the same thing in every command: -k components, -c covariance type,
-d delimiter, -H no header, -o output, -q quiet.  Limits are declared here as click types,
so bad values are rejected (exit 2) before any data is read.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import click

from .context import Terminal

F = TypeVar("F", bound=Callable[..., Any])

# Kept in step with the engine's tables (checked by a test) without importing numpy here.
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
INIT_METHODS = ("kmeans", "k-means++", "random", "random-from-data")
ALGORITHMS = ("soft", "hard")


def _compose(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(f: F) -> F:
        for d in reversed(decorators):
            f = d(f)
        return f

    return apply


def _set_common(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    obj = ctx.ensure_object(dict)
    obj[param.name] = value
    return value


def terminal(ctx: click.Context) -> Terminal:
    """The Terminal for this run, built once from the common options."""
    obj = ctx.ensure_object(dict)
    if "terminal" not in obj:
        obj["terminal"] = Terminal.detect(quiet=bool(obj.get("quiet")),
                                          debug=bool(obj.get("debug")))
    term: Terminal = obj["terminal"]
    return term


common_options = _compose(
    click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_set_common,
                 is_eager=True, help="Print nothing but data and errors."),
    click.option("--debug", is_flag=True, expose_value=False, callback=_set_common,
                 is_eager=True, help="Show the full traceback of an error."),
)


def _split_columns(ctx: click.Context, param: click.Parameter, value: str | None
                   ) -> list[str] | None:
    if value is None:
        return None
    cols = [c.strip() for c in value.split(",")]
    if not all(cols):
        raise click.BadParameter("empty column name in the list", ctx, param)
    return cols


input_options = _compose(
    click.argument("input", metavar="INPUT", type=str),
    click.option("--columns", metavar="COLS", callback=_split_columns,
                 help="Comma-separated columns to use, by header name or 0-based index "
                      "(default: all)."),
    click.option("-d", "--delimiter", metavar="CHAR",
                 help="Field delimiter of text input (default: from the extension; "
                      "',' for .csv and stdin, tab for .tsv)."),
    click.option("--header/--no-header", " /-H", default=None,
                 help="Whether the first row is a header (default: detected: a header "
                      "is a first row with a non-numeric field)."),
)


fit_options = _compose(
    click.option("-k", "--components", "n_components", type=click.IntRange(min=1),
                 required=True, metavar="K", help="Number of mixture components."),
    click.option("-c", "--covariance-type", type=click.Choice(COVARIANCE_TYPES),
                 default="full", show_default=True,
                 help="Covariance family: full (own matrix per component), tied (one shared "
                      "matrix), diag (own diagonal), spherical (own single variance)."),
    click.option("--init", type=click.Choice(INIT_METHODS), default="kmeans",
                 show_default=True,
                 help="Initialisation: k-means labels, k-means++ seeds, random "
                      "responsibilities, or K distinct random data points as means."),
    click.option("--means-init", type=click.Path(dir_okay=False), metavar="FILE",
                 help="Starting means: a K x D CSV/TSV/NPY file (overrides --init)."),
    click.option("--n-init", type=click.IntRange(min=1), default=1, show_default=True,
                 help="Restarts; the fit with the best final log-likelihood is kept."),
    click.option("--tol", type=click.FloatRange(min=0.0), default=1e-3, show_default=True,
                 help="Stop when the mean per-sample log-likelihood changes by less."),
    click.option("--max-iter", type=click.IntRange(min=1), default=100, show_default=True,
                 help="Most EM iterations per restart."),
    click.option("--reg-covar", type=click.FloatRange(min=0.0), default=1e-6,
                 show_default=True, help="Added to every covariance diagonal."),
    click.option("--seed", type=click.IntRange(min=0), default=None,
                 help="Random seed; the same seed gives the same result (default: fresh, "
                      "recorded in the model file)."),
    click.option("--algorithm", type=click.Choice(ALGORITHMS), default="soft",
                 show_default=True,
                 help="soft: ordinary EM; hard: classification EM (each point wholly in "
                      "its most likely component)."),
)
