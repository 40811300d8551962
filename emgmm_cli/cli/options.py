"""Options shared by several commands, declared once.

A letter means the same thing in every command: -k components, -c covariance type,
-d delimiter, -H no header, -o output, -q quiet.  Limits are declared here as click types,
so bad values are rejected (exit 2) before any data is read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Callable, TypeVar

import click

from .context import Terminal

F = TypeVar("F", bound=Callable[..., Any])

from .. import vocab

COVARIANCE_TYPES = vocab.covariance_names()
INIT_METHODS = vocab.names(vocab.INIT_METHODS)
ALGORITHMS = vocab.names(vocab.ALGORITHMS)
DTYPES = vocab.names(vocab.DTYPES)
CRITERIA = vocab.names(vocab.CRITERIA)

#: fit's defaults for the EM options that select changes, and select's: mclust's start,
#: and EM run until the log-likelihood is settled to well under the 0.01 at which cells
#: are compared.  batch uses one table or the other, as --select says (resolve_defaults).
FIT_DEFAULTS: Mapping[str, Any] = {"init": "kmeans", "n_init": 1, "tol": 1e-3, "max_iter": 100}
SELECT_DEFAULTS: Mapping[str, Any] = {"init": "hc", "n_init": 5, "tol": 1e-7, "max_iter": 2000}
#: select's grid when -k or -c is not given.
SELECT_COMPONENTS = "1-9"
SELECT_COVARIANCES = "all"

_SIZE_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """Bytes from '1024', '512K', '512M', '1.5G', '2GB', '2GiB', '1T' (powers of 1024)."""
    raw = text.strip().upper().replace(" ", "")
    for suffix in ("IB", "B"):
        if raw.endswith(suffix) and len(raw) > len(suffix) and raw[-len(suffix) - 1].isalpha():
            raw = raw[: -len(suffix)]
            break
    unit = raw[-1:] if raw[-1:].isalpha() else ""
    number = raw[: len(raw) - len(unit)]
    if unit not in _SIZE_UNITS or not number:
        raise ValueError(f"not a size: {text!r}")
    value = float(number) * _SIZE_UNITS[unit]
    if not (value >= 1 and math.isfinite(value)):
        raise ValueError(f"not a positive size: {text!r}")
    return int(value)


class ByteSize(click.ParamType):
    """A size in bytes with an optional unit: 1024, 512K, 512M, 2G (powers of 1024)."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_size(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a size; give bytes with an optional unit K, M, G "
                      "or T, such as 512M or 2G", param, ctx)


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


# How to read a data file (every command that reads data); input_options adds INPUT.
read_options = _compose(
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

input_options = _compose(
    click.argument("input", metavar="INPUT", type=str),
    read_options,
)


def em_options(defaults: Mapping[str, Any] = FIT_DEFAULTS, *, means_init: bool = True,
               select_defaults: Mapping[str, Any] | None = None) -> Callable[[F], F]:
    """The fit options other than -k and -c, with the defaults a command wants (fit's, or
    select's: SELECT_DEFAULTS); means_init adds --means-init.

    With select_defaults (batch, whose --select switches from fit's defaults to select's),
    --init, --n-init, --tol and --max-iter default to None, their help names both
    defaults, and the command fills them in with resolve_defaults() once it knows the mode.
    """

    def option(name: str, *decls: str, text: str, **kwargs: Any) -> Callable[[F], F]:
        if select_defaults is None:
            return click.option(*decls, default=defaults[name], show_default=True,
                                help=text, **kwargs)
        return click.option(*decls, default=None, help=(
            f"{text}  [default: {defaults[name]}; with --select: {select_defaults[name]}]"),
            **kwargs)

    return _compose(
        option("init", "--init", type=click.Choice(INIT_METHODS),
               text="Initialisation: k-means labels (Lloyd's iterations on a "
                    "50,000-row sample for larger data), k-means++ seeds, random "
                    "responsibilities, K distinct random data points as means, or hc: "
                    "mclust's model-based hierarchical agglomeration cut at K (then "
                    "random responsibilities for restarts 2, 3, ...)."),
        *([click.option("--means-init", type=click.Path(dir_okay=False), metavar="FILE",
                        help="Starting means: a K x D CSV/TSV/NPY file (overrides --init).")]
          if means_init else []),
        option("n_init", "--n-init", type=click.IntRange(min=1),
               text="Restarts; the fit with the best final log-likelihood is kept."),
        option("tol", "--tol", type=click.FloatRange(min=0.0),
               text="Stop when the mean per-sample log-likelihood changes by less."),
        option("max_iter", "--max-iter", type=click.IntRange(min=1),
               text="Most EM iterations per restart."),
        _em_tail,
    )


def resolve_defaults(values: dict[str, Any], defaults: Mapping[str, Any]) -> None:
    """Fill in, in place, the options of em_options(select_defaults=...) that were not
    given (None) from defaults: FIT_DEFAULTS or SELECT_DEFAULTS."""
    for name, value in defaults.items():
        if values.get(name) is None:
            values[name] = value


# The fit options after --max-iter, the same in every command that fits (em_options).
_em_tail = _compose(
    click.option("--reg-covar", type=click.FloatRange(min=0.0), default=1e-6,
                 show_default=True, help="Added to every covariance diagonal."),
    click.option("--seed", type=click.IntRange(min=0), default=None,
                 help="Random seed; the same seed gives the same result (default: fresh, "
                      "recorded in the model file)."),
    click.option("--algorithm", type=click.Choice(ALGORITHMS), default="soft",
                 show_default=True,
                 help="soft: ordinary EM; hard: classification EM (each point wholly in "
                      "its most likely component)."),
    click.option("--dtype", type=click.Choice(DTYPES), default="float64", show_default=True,
                 help="Precision of the data and of the E-step; statistics and the "
                      "log-likelihood are summed in float64 either way.  float32 halves "
                      "the memory and is faster."),
    click.option("--memory-limit", type=ByteSize(), default=None, metavar="SIZE",
                 help="Inputs larger than SIZE (e.g. 512M, 2G) are not loaded: a .npy is "
                      "read block by block, a text file is converted once to a binary "
                      "cache (see --cache-dir) and read block by block (default: a "
                      "quarter of the memory)."),
    click.option("--cache-dir", type=click.Path(file_okay=False), metavar="DIR",
                 help="Where text inputs over --memory-limit are converted, once, to .npy "
                      "(reused while the input is unchanged; default: $XDG_CACHE_HOME/emgmm "
                      "or ~/.cache/emgmm)."),
)


fit_options = _compose(
    click.option("-k", "--components", "n_components", type=click.IntRange(min=1),
                 required=True, metavar="K", help="Number of mixture components."),
    click.option("-c", "--covariance-type", type=click.Choice(COVARIANCE_TYPES),
                 default="full", show_default=True,
                 help="Covariance family: full (own matrix per component), tied (one shared "
                      "matrix), diag (own diagonal), spherical (own single variance)."),
    em_options(),
)
