"""`emgmm batch`: fit every dataset in a directory, one summary table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from .options import (
    COVARIANCE_TYPES,
    CRITERIA,
    FIT_DEFAULTS,
    SELECT_COMPONENTS,
    SELECT_COVARIANCES,
    SELECT_DEFAULTS,
    ComponentList,
    CovarianceList,
    common_options,
    em_options,
    read_options,
    resolve_defaults,
    terminal,
)

if TYPE_CHECKING:
    from ._batch import SelectSpec


@click.command()
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=str)
@read_options
@click.option("-k", "--components", "n_components", metavar="K|KS",
              help="Number of mixture components (required without --select).  With "
                   "--select, the numbers to try: a range (1-9), a list (2,4,8) or both "
                   f"(1-3,6).  [default with --select: {SELECT_COMPONENTS}]")
@click.option("-c", "--covariance-type", metavar="TYPE|TYPES",
              help="Covariance family: full (own matrix per component), tied (one shared "
                   "matrix), diag (own diagonal), spherical (own single variance).  With "
                   "--select, the families to try: all, or a comma-separated list such as "
                   f"full,diag.  [default: full; with --select: {SELECT_COVARIANCES}]")
@click.option("--select", "select_mode", is_flag=True,
              help="Choose each dataset's number of components and covariance family as "
                   "emgmm select does: fit every (covariance, K) cell of -k and -c and keep "
                   "the best by --criterion; select's defaults then apply to --init, "
                   "--n-init, --tol and --max-iter.")
@click.option("--criterion", type=click.Choice(CRITERIA),
              help="With --select: what picks the best cell, lower being better.  "
                   "[default: bic]")
@em_options(FIT_DEFAULTS, select_defaults=SELECT_DEFAULTS)
@click.option("--output-dir", required=True, type=click.Path(file_okay=False), metavar="DIR",
              help="Write each dataset's labels.csv, trace.csv and model.json (and "
                   "selection.csv with --select) to DIR/<its path without extension>/, "
                   "and the summary to DIR/summary.csv.")
@click.option("-r", "--recursive", is_flag=True,
              help="Also fit the files in the subdirectories of a directory PATH.")
@click.option("--glob", "patterns", multiple=True, metavar="PATTERN",
              help="Fit the files of a directory PATH whose name matches PATTERN (a "
                   "pattern with '/' matches the path below PATH, '**' any number of "
                   "folders); may be repeated (default: *.csv, *.tsv, *.npy).")
@click.option("--responsibilities", is_flag=True,
              help="Also write responsibilities.csv (N x K) for every dataset.")
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=1, show_default=True,
              help="Datasets fitted at once, each in its own process with one BLAS "
                   "thread; 0: one per core.  Results do not depend on it.")
@click.option("--skip-existing", is_flag=True,
              help="Keep the results of datasets whose outputs are complete and were "
                   "fitted with the same options (resume an interrupted batch).")
@click.option("--summary", metavar="FILE",
              help="Also write the summary table to FILE (.csv, .tsv or .json; '-': CSV "
                   "on stdout).")
@common_options
@click.pass_context
def batch(ctx: click.Context, paths: tuple[str, ...], **kwargs: Any) -> None:
    """Fit a Gaussian mixture to every dataset in PATH... and sum them up in one table.

    PATH is a directory (its .csv, .tsv and .npy files; see --recursive and --glob), a
    file, or - to read a list of paths from stdin, one a line (or NUL-separated).  Every
    read and fit option applies to every dataset.  Each dataset's outputs go to
    DIR/<its path relative to the directory PATH, or to the working directory, without
    the extension>/, written atomically: complete, or not at all.  Every dataset is fitted
    with the same seed: --seed, or one drawn for the batch and recorded in each model.json.

    With --select, each dataset's K and covariance family are chosen as emgmm select
    chooses them: every (covariance, K) cell of -k (default 1-9) and -c (default all) is
    fitted, one after another in the process that handles the dataset, each with a seed
    from --seed and the cell alone, and the best by --criterion (BIC by default) is kept.
    Its outputs are written as a fit's, with the table of every cell in selection.csv.
    The defaults of --init, --n-init, --tol and --max-iter are then select's (hc, 5, 1e-7,
    2000) instead of fit's (kmeans, 1, 0.001, 100).  Without --select, -k is one number
    and -c one family.

    A dataset that cannot be read or fitted (with --select: whose every cell failed or
    ended degenerate) is reported and the batch goes on; the exit status is then 1.  The
    summary (file, rows, dims, K, covariance, iterations, converged, log-likelihood, BIC,
    seconds, status; with --select, those of the chosen cell) is always written to
    DIR/summary.csv, even after Ctrl-C, and shown as a table on a terminal.

    \b
    Examples:
      emgmm batch data/ -k 4 --output-dir results/
      emgmm batch data/ -r -k 3 -c diag --jobs 0 --seed 1 --output-dir results/
      find data -name '*.csv' | emgmm batch - -k 4 --output-dir results/
      emgmm batch data/ -k 4 --output-dir results/ --skip-existing   # resume
      emgmm batch data/ --select -k 1-8 --output-dir results/
      emgmm batch data/ --select -k 2,4,8 -c full,diag --jobs 0 --output-dir out/
      emgmm batch data/ --select --criterion icl --seed 1 --output-dir out/
    """
    from ._batch import BatchSettings, batch_request, check_overwrites, discover, run_batch

    spec = resolve_mode(ctx, kwargs)
    term = terminal(ctx)
    output_dir = kwargs["output_dir"]
    items = discover(paths, output_dir=output_dir, recursive=kwargs["recursive"],
                     patterns=kwargs["patterns"], warn=term.warn)
    if not items:
        raise click.ClickException(
            f"no datasets found in {', '.join(paths)} (looked for "
            f"{', '.join(kwargs['patterns']) or '*.csv, *.tsv, *.npy'}"
            f"{'' if kwargs['recursive'] else '; --recursive looks in subdirectories'})")
    check_overwrites(items, output_dir=output_dir, summary=kwargs["summary"],
                     responsibilities=kwargs["responsibilities"],
                     means_init=kwargs["means_init"], select=spec is not None)
    settings = BatchSettings(batch_request(kwargs), responsibilities=kwargs["responsibilities"],
                             select=spec)
    run_batch(term, items, settings,
              output_dir=output_dir, jobs=kwargs["jobs"], skip_existing=kwargs["skip_existing"],
              seed_given=kwargs["seed"] is not None, summary=kwargs["summary"])


def _param(ctx: click.Context, name: str) -> click.Parameter:
    return next(p for p in ctx.command.params if p.name == name)


def resolve_mode(ctx: click.Context, kwargs: dict[str, Any]) -> "SelectSpec | None":
    """Read -k, -c, --criterion and the EM options as --select says, in place.

    -k and -c arrive as text, and --init, --n-init, --tol and --max-iter as None when not
    given, because what they may be and default to depends on --select: with it, -k is a
    list (select's parser, default 1-9), -c a list or all (default all), and the EM
    options take select's defaults; the grid is returned (and n_components and
    covariance_type are left unused).  Without it, -k is one integer >= 1 (required), -c
    one family (default full), the EM options take fit's defaults, --criterion has no
    meaning, and None is returned.  Anything else is bad usage (exit status 2).
    """
    from ._batch import SelectSpec

    k_param, c_param = _param(ctx, "n_components"), _param(ctx, "covariance_type")
    k_text, c_text = kwargs["n_components"], kwargs["covariance_type"]
    criterion = kwargs.pop("criterion")
    if kwargs.pop("select_mode"):
        if kwargs["means_init"] is not None:
            raise click.UsageError("--means-init gives the starting means of one K; it "
                                   "cannot be used with --select", ctx)
        components = ComponentList().convert(
            SELECT_COMPONENTS if k_text is None else k_text, k_param, ctx)
        types = CovarianceList().convert(
            SELECT_COVARIANCES if c_text is None else c_text, c_param, ctx)
        resolve_defaults(kwargs, SELECT_DEFAULTS)
        kwargs["n_components"], kwargs["covariance_type"] = 0, ""  # each cell has its own
        return SelectSpec(tuple(components), tuple(types), criterion or "bic")

    if criterion is not None:
        raise click.UsageError("--criterion chooses among the cells of --select; add "
                               "--select, or leave --criterion out", ctx)
    if k_text is None:
        raise click.MissingParameter(ctx=ctx, param=k_param)
    try:
        kwargs["n_components"] = click.IntRange(min=1).convert(k_text, k_param, ctx)
    except click.BadParameter:
        if not _parses(ComponentList(), k_text):
            raise
        raise click.BadParameter(
            f"{k_text!r} is a list of components, which needs --select; without it, -k "
            "is one number >= 1", ctx, k_param) from None
    try:
        kwargs["covariance_type"] = click.Choice(COVARIANCE_TYPES).convert(
            "full" if c_text is None else c_text, c_param, ctx)
    except click.BadParameter:
        if not (_parses(CovarianceList(), c_text) and ("," in c_text or
                                                        c_text.strip().lower() == "all")):
            raise
        raise click.BadParameter(
            f"{c_text!r} is a list of covariance types, which needs --select; without it, "
            f"-c is one of {', '.join(COVARIANCE_TYPES)}", ctx, c_param) from None
    resolve_defaults(kwargs, FIT_DEFAULTS)
    return None


def _parses(kind: click.ParamType, text: str) -> bool:
    try:
        kind.convert(text, None, None)
    except click.BadParameter:
        return False
    return True
