"""`emgmm select`: choose the number of components and the covariance family."""

from __future__ import annotations

from typing import Any

import click

from .options import COVARIANCE_TYPES, common_options, em_options, input_options, terminal

CRITERIA = ("bic", "aic", "icl")

#: select's defaults where they differ from fit's: mclust's start, and EM run until the
#: log-likelihood is settled to well under the 0.01 at which cells are compared.
SELECT_INIT = "hc"
SELECT_N_INIT = 5
SELECT_TOL = 1e-7
SELECT_MAX_ITER = 2000


class ComponentList(click.ParamType):
    """Numbers of components: a range 1-9, a list 2,4,8, or both (1-3,6)."""

    name = "KS"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> list[int]:
        if isinstance(value, list):
            return value
        found: set[int] = set()
        for part in str(value).split(","):
            part = part.strip()
            low, dash, high = part.partition("-")
            try:
                a = int(low)
                b = int(high) if dash else a
            except ValueError:
                self.fail(f"{value!r} is not a list of components; write a range such as "
                          "1-9, a list such as 2,4,8, or both (1-3,6)", param, ctx)
            if a < 1 or b < a:
                self.fail(f"{part!r}: components run from 1 up, and a range from low to high",
                          param, ctx)
            found.update(range(a, b + 1))
        return sorted(found)


class CovarianceList(click.ParamType):
    """Covariance families: all, or a comma-separated list of full, tied, diag, spherical."""

    name = "TYPES"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> list[str]:
        if isinstance(value, list):
            return value
        text = str(value).strip().lower()
        if text == "all":
            return list(COVARIANCE_TYPES)
        names = [t.strip() for t in text.split(",")]
        bad = [t for t in names if t not in COVARIANCE_TYPES]
        if bad or not names:
            self.fail(f"{', '.join(bad) or repr(value)}: choose all, or a comma-separated "
                      f"list of {', '.join(COVARIANCE_TYPES)}", param, ctx)
        return list(dict.fromkeys(names))


@click.command()
@input_options
@click.option("-k", "--components", type=ComponentList(), default="1-9", show_default=True,
              help="Numbers of components to try: a range (1-9), a list (2,4,8) or both "
                   "(1-3,6).")
@click.option("-c", "--covariance-type", "covariance_types", type=CovarianceList(),
              default="all", show_default=True,
              help="Covariance families to try: all (full, tied, diag, spherical) or a "
                   "comma-separated list such as full,diag.")
@click.option("--criterion", type=click.Choice(CRITERIA), default="bic", show_default=True,
              help="What picks the best cell, lower being better (scikit-learn's sign; "
                   "mclust reports BIC as -BIC and takes the largest).")
@em_options(init=SELECT_INIT, n_init=SELECT_N_INIT, tol=SELECT_TOL,
            max_iter=SELECT_MAX_ITER, means_init=False)
@click.option("--table", metavar="FILE",
              help="Write the table of every cell to FILE (.csv, .tsv, or .json with the "
                   "choice; '-': stdout).")
@click.option("--model", metavar="FILE",
              help="Write the best cell's fitted model (the JSON document of fit --model) "
                   "to FILE.")
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=1, show_default=True,
              help="Fit this many cells at once, each in its own process with one BLAS "
                   "thread (0: one per core); the results do not depend on it.")
@common_options
@click.pass_context
def select(ctx: click.Context, **kwargs: Any) -> None:
    """Choose the number of components and the covariance family of INPUT, as R's
    mclust does: fit every (covariance, K) cell and pick the lowest BIC.

    Each cell is a fit with --n-init restarts; its seed comes from --seed and the cell
    alone, so the table is the same whatever --jobs is.  By default the first restart
    starts from mclust's model-based hierarchical clustering (--init hc) and the others
    from random responsibilities.  A restart that ends degenerate (a component collapsed
    onto a few points: a spurious maximum) loses to any that does not; a cell whose every
    restart is degenerate is shown as such and never chosen.  Cells that cannot be fitted
    (K larger than the data allows) are shown as failed, with the reason.

    On a terminal, prints the table with the best cell marked; when stdout is a pipe or a
    file and no --table is named, writes the table as CSV instead.  Files are written
    atomically.

    \b
    Examples:
      emgmm select data.csv
      emgmm select data.csv -k 1-9 --n-init 5 --seed 0
      emgmm select data.csv -k 2,4,8 -c full,diag --criterion icl --jobs 0
      emgmm select data.csv --seed 1 --table cells.csv --model best.json
      emgmm select data.csv > cells.csv
    """
    from ._select import SelectRequest, run_select

    run_select(terminal(ctx), SelectRequest(**kwargs))
