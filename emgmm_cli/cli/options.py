"""Options shared by several commands, declared once, and every ParamType.

A letter means the same thing in every command: -k components, -c covariance type,
-d delimiter, -H no header, -o output, -q quiet.  The fit options are built from the one
schema, engine.options.FitOptions (type, range, choices and help of each field), so a new
fit option appears in every command that fits.  Values are checked here, as click types,
so bad ones are rejected (exit 2) before any data is read.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import click

from .. import vocab
from ..app.requests import column_list, parse_size
from ..io.formats import (STDOUT_FORMAT, delimiter_problem, formats_help,
                          stdout_format_names)
from ..engine.options import (FREEZABLE, MAX_COMPONENT_VALUES, OPTION_SPECS, FitOptions,
                              OptionSpec, too_many_points)
from .context import SETTINGS_KEY, pass_terminal

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

__all__ = ["pass_terminal"]

#: The output formats, for help text: every one, or those that hold text columns.
FORMATS_TEXT = formats_help()
TEXT_FORMATS_TEXT = formats_help(text_columns=True)

#: select's grid when -k or -c is not given.
SELECT_COMPONENTS = "1-9"
SELECT_COVARIANCES = "all"

#: Fit options whose flags are not --{name with dashes}.
FLAGS: Mapping[str, tuple[str, ...]] = {
    "n_components": ("-k", "--components"),
    "covariance_type": ("-c", "--covariance-type"),
}


def flag(name: str) -> str:
    """The long flag of a fit option: 'tol' -> '--tol', 'n_components' -> '--components'."""
    return FLAGS.get(name, ("--" + name.replace("_", "-"),))[-1]


#: A file given to an option or an argument: the shell completes it as a file name; '-'
#: is stdout (or stdin for an input).  Whether it can be read is the reader's to say (a
#: one-line error, exit status 1, as for a file that does not exist), not click's (a
#: usage error, exit status 2).
FILE_PATH = click.Path(allow_dash=True, readable=False)
#: A file given to an option or an argument where '-' is no stream (as FILE_PATH else).
PATH = click.Path(readable=False)


class _FolderPath(click.Path):
    """A folder given to an option: the shell completes it as a folder.  Whether it is one
    is the command's to say (a file that failed, exit status 1), not click's; '-', which
    is stdout (or stdin) everywhere else, is refused rather than made a folder of."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        if value == "-":
            self.fail("'-' stands for stdin or stdout, never a folder; give ./- for a "
                      "folder called '-'", param, ctx)
        return super().convert(value, param, ctx)

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str
                       ) -> list[Any]:
        from click.shell_completion import CompletionItem

        return [CompletionItem(incomplete, type="dir")]


DIR_PATH = _FolderPath(readable=False)


# --------------------------------------------------------------------------- ParamTypes

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


class Delimiter(click.ParamType):
    """--delimiter: one character, or a word for tab or whitespace (formats.delimiter_problem),
    refused as a usage error before any input is opened."""

    name = "char"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> str:
        text = str(value)
        problem = delimiter_problem(text)
        if problem is not None:
            self.fail(problem, param, ctx)
        return text


class WholeRange(click.IntRange):
    """click's IntRange, whose word for a value that is not a number is "integer" (click's
    own: "'x' is not a valid integer range")."""

    name = "integer"


class FiniteRange(click.FloatRange):
    """click's FloatRange of finite numbers only: the range alone lets NaN through (every
    comparison with it is false), and infinity where a side is unbounded.  A value that is
    not a number is "not a valid number" (click's own: "not a valid float range")."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number in the range "
                      f"{self._describe_range()}.", param, ctx)
        return number


class JobCount(click.ParamType):
    """--jobs: a number of worker processes (0: one per core) or "auto"."""

    name = "N|auto"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> int | str:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        text = str(value).strip().lower()
        if text == vocab.AUTO:
            return vocab.AUTO
        if text.isdigit():
            return int(text)
        self.fail(f"{value!r} is not a number of processes (0 or more) or 'auto'", param, ctx)


class SpecType(click.ParamType):
    """A fit option's value, checked against its OptionSpec (finite numbers in range, one
    of the choices): the schema's limits, applied before any data is read."""

    def __init__(self, spec: OptionSpec) -> None:
        self.spec = spec
        self.name = {int: "integer", float: "float"}.get(spec.kind, "text")
        #: what a value given on the command line may be (leaving an option out is how
        #: it is left unset, so "or null" does not apply here)
        self.allowed = dataclasses.replace(spec, nullable=False).describe()

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        if not isinstance(value, str):
            parsed = value
        else:
            try:
                parsed = self.spec.kind(value)
            except ValueError:
                self.fail(f"{value!r} is not {self.allowed}.", param, ctx)
        if not self.spec.accepts(parsed):
            self.fail(f"{value!r} is not {self.allowed}.", param, ctx)
        return parsed

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str
                       ) -> list[Any]:
        from click.shell_completion import CompletionItem

        choices = self.spec.choices() if self.spec.choices is not None else ()
        return [CompletionItem(c) for c in choices if c.startswith(incomplete)]


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
            if b - a < MAX_COMPONENT_VALUES:  # a range is built only when it may do
                found.update(range(a, b + 1))
            if b - a >= MAX_COMPONENT_VALUES or len(found) > MAX_COMPONENT_VALUES:
                self.fail(f"{value!r} names more than {MAX_COMPONENT_VALUES} numbers of "
                          "components, the most a selection tries", param, ctx)
        return sorted(found)


def _complete_list(incomplete: str, names: Sequence[str], alone: Sequence[str] = ()
                   ) -> list[Any]:
    """The shell's completions of a comma-separated list of names: the names for the item
    after the last comma (those not already given), each with the items before it; alone:
    values that stand by themselves, offered for the first item only."""
    from click.shell_completion import CompletionItem

    head, comma, tail = incomplete.rpartition(",")
    given = set(head.split(",")) if comma else set()
    offered = names if comma else (*alone, *names)
    return [CompletionItem(head + comma + name) for name in offered
            if name.startswith(tail) and name not in given]


def complete_covariance_list(ctx: click.Context | None, param: click.Parameter | None,
                             incomplete: str) -> list[Any]:
    """The shell's completions of a -c list: all, or the families for each item."""
    return _complete_list(incomplete, vocab.covariance_choices(), alone=("all",))


#: Column names complete_columns offers: those no shell splits or expands, nor bash's
#: completion breaks (COMP_WORDBREAKS: = and : among them).
SHELL_SAFE = re.compile(r"[\w.+@%-]+")


def complete_columns(ctx: click.Context | None, param: click.Parameter | None,
                     incomplete: str) -> list[Any]:
    """The shell's completions of --columns (each item of its list) and of an option that
    names one column (--weights-column, --known-column): the input's column names, where
    INPUT, named before the option, is a file whose names can be read without its rows
    (io.readers.column_names: a text file's first lines, an .npy header).  Only names a
    shell takes as they are (SHELL_SAFE): the completion scripts insert a name unquoted,
    and "height m" would become two words."""
    names = [name for name in _input_columns(ctx) if SHELL_SAFE.fullmatch(name)]
    if param is not None and param.name == "columns":
        return _complete_list(incomplete, names)
    from click.shell_completion import CompletionItem

    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


def _input_columns(ctx: click.Context | None) -> list[str]:
    """The column names of ctx's INPUT as the options given before read them; none for
    stdin, a folder, a file that cannot be read or whose names cannot be told apart from
    a row (a completion says nothing rather than fail)."""
    if ctx is None:
        return []
    path = ctx.params.get("input")
    if path is None:  # the option being completed ended the parse before the arguments:
        # they are the tokens left, in the command's order of arguments
        names = [p.name for p in ctx.command.params if isinstance(p, click.Argument)]
        at = names.index("input") if "input" in names else len(ctx.args)
        path = ctx.args[at] if at < len(ctx.args) else None
    if not isinstance(path, str) or path == "-" or not os.path.isfile(path):
        return []
    from ..io.readers import column_names

    try:
        return column_names(path, delimiter=ctx.params.get("delimiter"),
                            header=ctx.params.get("header")) or []
    except Exception:  # anything the file holds: the shell's line is not the place
        return []


def complete_freeze(ctx: click.Context | None, param: click.Parameter | None,
                    incomplete: str) -> list[Any]:
    """The shell's completions of --freeze: the parameters it may hold fixed, each once."""
    return _complete_list(incomplete, FREEZABLE)


class CovarianceList(click.ParamType):
    """Covariance families: all, or a comma-separated list of them (every family the
    engine knows, registered ones included, by its name or mclust's).  "all" is the empty
    list: the data's dimension decides (engine.families.searched)."""

    name = "TYPES"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> list[str]:
        if isinstance(value, list):
            return value
        names = vocab.covariance_list(str(value))
        if not names:  # all
            return []
        bad = [t for t in names if not vocab.is_covariance(t)]
        if bad:
            self.fail(f"{', '.join(bad) or repr(value)}: choose all, or a comma-separated "
                      f"list of {', '.join(vocab.covariance_choices())}", param, ctx)
        return list(dict.fromkeys(vocab.canonical_covariance(t) for t in names))

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str
                       ) -> list[Any]:
        return complete_covariance_list(ctx, param, incomplete)


class NumberList(click.ParamType):
    """One number or a comma-separated list of them: "1000" or "80,60,70,140"."""

    def __init__(self, kind: type, what: str) -> None:
        self.kind = kind
        self.what = what
        self.name = f"{what}s"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        if isinstance(value, list):
            return value
        try:
            return [self.kind(part.strip()) for part in str(value).split(",")]
        except ValueError:
            self.fail(f"{value!r} is not {'an' if self.what[0] in 'aeiou' else 'a'} {self.what} "
                      f"or a comma-separated list of {self.what}s", param, ctx)


class PointCounts(NumberList):
    """Numbers of points, N or one per blob N1,N2,... (make-blobs' -n), no more in all
    than numpy can index (engine.options.MAX_POINTS); a negative one is the engine's to
    refuse, naming its blob."""

    def __init__(self) -> None:
        super().__init__(int, "integer")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        counts = super().convert(value, param, ctx)
        _check_points(self, counts, param, ctx)
        return counts


class PointCount(WholeRange):
    """A number of points (sample's -n): 0 or more, and no more than numpy can index."""

    def __init__(self) -> None:
        super().__init__(min=0)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        count = super().convert(value, param, ctx)
        _check_points(self, [count], param, ctx)
        return count


def _check_points(kind: click.ParamType, counts: list[int], param: click.Parameter | None,
                  ctx: click.Context | None) -> None:
    why = too_many_points(counts)
    if why is not None:
        kind.fail(why, param, ctx)


class Box(click.ParamType):
    """LOW,HIGH: the box random centres are drawn from."""

    name = "low,high"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        if isinstance(value, tuple):
            return value
        parts = str(value).split(",")
        try:
            if len(parts) != 2:
                raise ValueError(value)
            return float(parts[0]), float(parts[1])
        except ValueError:
            self.fail(f"{value!r} is not two numbers LOW,HIGH (for example -10,10)", param, ctx)


class Centers(click.ParamType):
    """Inline centres "1,1;5,5;6,1" (rows of numbers), or the path of a K x D data file."""

    name = "centers"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return [[float(c) for c in row.split(",")] for row in value.split(";")]
        except ValueError:
            pass
        if os.path.exists(value):
            return value
        self.fail(f"{value!r} is neither a list of centers such as '1,1;5,5;6,1' nor an "
                  "existing file", param, ctx)


class Size(click.ParamType):
    """WIDTHxHEIGHT: two positive integers, such as 800x600."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        width, x, height = str(value).lower().partition("x")
        try:
            size = (int(width), int(height))
        except ValueError:
            size = (0, 0)
        if not x or min(size) < 1:
            self.fail(f"{value!r} is not WIDTHxHEIGHT, two positive integers such as 800x600",
                      param, ctx)
        return size


def split_pair(ctx: click.Context, param: click.Parameter, value: str | None
                ) -> tuple[str, str] | None:
    if value is None:
        return None
    names = tuple(column_list(value))
    if len(names) != 2 or not all(names):
        raise click.BadParameter(f"{value!r} is not two column names NAME,NAME", ctx, param)
    return names[0], names[1]


# --------------------------------------------------------------------------- decorators


def compose(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """One decorator applying several, the first outermost (as if stacked in order)."""
    def apply(f: F) -> F:
        for d in reversed(decorators):
            f = d(f)
        return f

    return apply


def _set_setting(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    ctx.meta.setdefault(SETTINGS_KEY, {})[param.name] = value
    return value


common_options = compose(
    click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_set_setting,
                 is_eager=True, help="Print nothing but data and errors."),
    click.option("--no-color", is_flag=True, expose_value=False, callback=_set_setting,
                 is_eager=True, help="No colour in tables and pictures (as NO_COLOR=1 does)."),
    click.option("--debug", is_flag=True, expose_value=False, callback=_set_setting,
                 is_eager=True, help="Show the full traceback of an error, and the notes "
                                     "a terminal gets (reading large data, worker "
                                     "processes) when stderr is not one."),
)


def backend_options(f: F) -> F:
    """--backend and the backends' options (backends.BACKEND_OPTIONS); the command's body
    runs inside backends.session of what they say (a cluster connected for the run)."""
    from ..backends import BACKEND_OPTIONS, BACKENDS, BackendOptions, session

    names = ["backend", *(o.name for o in BACKEND_OPTIONS)]

    @functools.wraps(f)
    def run(*args: Any, **kw: Any) -> Any:
        given = {name: kw.pop(name) for name in names}
        extra = [flag(name) for name in names[1:] if given[name] is not None]
        if given["backend"] == "local" and extra:
            raise click.UsageError(f"{', '.join(extra)}: only with --backend dask")
        options = {k: v for k, v in given.items() if v is not None}
        running = BackendOptions(**{**options, "workers": None}).running_scheduler()
        if given["workers"] is not None and running is not None:
            named = "--scheduler" if running == "scheduler" else running
            raise click.UsageError(f"--workers starts a local cluster of its own, and {named} "
                                   "names a running one; give one of them")
        with session(BackendOptions(**options)):
            return f(*args, **kw)

    kinds = {int: WholeRange(min=1), float: FiniteRange(min=0, min_open=True)}
    options = [click.option(flag(o.name), type=kinds.get(o.kind, str), default=None,
                            metavar=o.metavar, help=o.help)
               for o in BACKEND_OPTIONS]
    return compose(
        click.option("--backend", type=click.Choice(list(BACKENDS)), default="local",
                     show_default=True,
                     help="Where the data is reduced: here (local), or on a dask cluster "
                          "(dask; needs the dask extra), whose workers read the data "
                          "themselves: a .npy file or a directory or glob of parts."),
        *options)(run)  # type: ignore[return-value]


def _set_stdout_format(ctx: click.Context, param: click.Parameter, value: str | None
                       ) -> str | None:
    if value is not None:
        token = STDOUT_FORMAT.set(value)
        # reset when the whole invocation ends: the command's own context is never
        # closed where a later option's usage error stops its parsing, and the next
        # command run in this process would write stdout in this format
        ctx.find_root().call_on_close(lambda: STDOUT_FORMAT.reset(token))
    return value


#: The format of the data a command writes to stdout (every command that writes data).
format_option = click.option(
    "--format", "stdout_format", type=click.Choice(stdout_format_names()), expose_value=False,
    callback=_set_stdout_format, is_eager=True,
    help="Format of the data written to stdout (a file's follows its extension).  "
         "[default: csv]")


def json_option(what: str, *, beside_format: bool = True) -> Callable[[F], F]:
    """--json: print what as JSON on stdout.  stdout then holds that JSON alone, so
    --format (the format of data written to stdout; beside_format: the command has it)
    given beside it is bad usage."""
    return click.option("--json", "as_json", is_flag=True, callback=_json_alone,
                        help=f"Print {what} as JSON on stdout"
                             + (" (not with --format)." if beside_format else "."))


def _json_alone(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    from click.core import ParameterSource

    # --format is eager: where the command has it, its source is known by now
    if value and ctx.get_parameter_source("stdout_format") not in (None,
                                                                   ParameterSource.DEFAULT):
        raise click.UsageError("--json prints JSON on stdout, and --format says how data "
                               "written there look; give one of them", ctx=ctx)
    return value


# Drawn points (make-blobs, sample): their true components, in a file or a named column.
truth_options = compose(
    click.option("--labels", metavar="FILE", type=FILE_PATH,
                 help="Write each point's true component (0..K-1), one a line, to FILE "
                      "(as fit --labels writes labels); the data hold the coordinates only."),
    click.option("--label-column", metavar="NAME",
                 help="Add each point's true component to the data as a column NAME (not "
                      "a feature to fit: give fit --columns to leave it out)."),
)


#: Pictures written by fit and select besides their data.
IMAGE_EXTENSIONS = ".png, .svg or .pdf"


def picture_option(name: str, what: str) -> Callable[[F], F]:
    """An option --NAME FILE that writes a picture of what to FILE."""
    return click.option(name, metavar="FILE", type=PATH,
                        help=f"Draw {what} to FILE ({IMAGE_EXTENSIONS} by extension; needs "
                             "the plot extra).")


def rows_options(proba_help: str) -> Callable[[F], F]:
    """The options of fit and predict that shape their main output: the input rows with a
    cluster column, what to add to them, and a header above bare labels."""
    return compose(
        click.option("--with-rows", is_flag=True,
                     help="Write the input rows, every column kept as it was (ids and "
                          "text too), with a 'cluster' column, instead of bare labels.  A "
                          "column added (cluster, p0.., log_density) whose name the input "
                          "has gets '_' appended (cluster_) until it is new."),
        click.option("--proba", is_flag=True, help=proba_help),
        click.option("--log-density", is_flag=True,
                     help="With --with-rows, add each row's log-density, log_density."),
        click.option("--label-header", is_flag=True,
                     help="Write a 'cluster' header line above bare labels (by default "
                          "there is none, so that paste and sort | uniq -c work); a .npy "
                          "file, numbers only, cannot hold one, and the outputs of --proba "
                          "and --with-rows have their own."),
    )


def _split_columns(ctx: click.Context, param: click.Parameter, value: str | None
                   ) -> tuple[str, ...] | None:
    if value is None:
        return None
    cols = column_list(value)
    if not cols:  # --columns "": usage, as an empty name in a list is
        raise click.BadParameter("no column named; name at least one column", ctx, param)
    if not all(cols):
        raise click.BadParameter("empty column name in the list", ctx, param)
    return tuple(cols)


#: What the sample weights and the known labels do, by what a command does with its data:
#: fit a mixture (fit, select, batch), label rows by a saved model (predict, plot), or
#: score them under it (score).
FIT_WEIGHTS = ("A row of weight w counts as the row given w times (statistics, "
               "log-likelihood, k-means start), and the mean log-likelihood, BIC and ICL "
               "take the sum of the weights as n: weights scaled up are more evidence.")
FIT_KNOWN = "Semi-supervised EM: those rows keep their component, the others are inferred."
LABEL_WEIGHTS = "Labels do not depend on the weights; the column is left out, nothing more."
LABEL_KNOWN = "Those rows keep their component; the others are labelled by the model."
SCORE_WEIGHTS = ("The log-likelihood is sum_i w_i log p(x_i) (a row of weight 0 adds "
                 "nothing), its mean over the sum of the weights.")
SCORE_KNOWN = "Log-densities do not depend on the known labels; the column is left out."
#: What --missing does: in a fit, and where a saved model is applied (predict, score, plot).
FIT_MISSING = vocab.listing(vocab.MISSING)
APPLY_MISSING = ("error: a missing value is an error naming where it is; drop: rows with a "
                 "missing value are left out: label -1, NaN responsibilities and "
                 "log-density, nothing added to a total; em: rows with missing values are "
                 "placed by their observed coordinates (the marginal density), and get "
                 "labels, responsibilities and log-densities like every row")


def _row_column(flag: str, holds: str, does: str) -> Callable[[F], F]:
    """An option naming the column of the data that holds a per-row value, not a feature:
    holds says what the value is, does what it does in the command."""
    return click.option(flag, metavar="NAME", shell_complete=complete_columns,
                        help="The column (header name, or 0-based index among all the "
                             f"input's columns) holding each row's {holds}; it is not a "
                             f"feature.  {does}")


def header_option(of: str = "") -> Callable[[F], F]:
    """--header/--no-header (-H): whether the first row of the data is a header, or of the
    file `of` names (make-blobs' --centers FILE)."""
    return click.option("--header/--no-header", " /-H", default=None,
                        help=f"Whether the first row{of} is a header (default: detected: a "
                             "header is a first row with a non-numeric field, or one that "
                             "numbers the columns from 0 over decimals, as emgmm names "
                             "unnamed columns; a row that could be either is warned of).")


def read_options(weights: str = FIT_WEIGHTS, known: str = FIT_KNOWN,
                 missing: str = FIT_MISSING) -> Callable[[F], F]:
    """How to read a data file (every command that reads data); weights, known and missing
    say what the sample weights, the known labels and --missing do in the command."""
    return compose(
        click.option("--columns", metavar="COLS", callback=_split_columns,
                     shell_complete=complete_columns,
                     help="Comma-separated columns to use, by header name or 0-based index "
                          "(default: all; a header name wins over an index: of a header "
                          "n,1,0, --columns 0 is the last column); a name that holds a comma "
                          "in double quotes, as in CSV."),
        click.option("-d", "--delimiter", metavar="CHAR", type=Delimiter(),
                     help="Field delimiter of text input (default: from the extension, ',' "
                          "for .csv and tab for .tsv; sniffed for other text and stdin)."),
        header_option(),
        _row_column("--weights-column", "sample weight, a number >= 0 (a missing "
                    "one is an error whatever --missing says)", weights),
        click.option("--sample-weights", metavar="FILE", type=PATH,
                     help="A file of one sample weight per row (one column, any input "
                          "format), as --weights-column."),
        _row_column("--known-column", "known component, -1 or a missing value "
                    "where unknown (whatever --missing says)", known),
        click.option("--known-labels", metavar="FILE", type=PATH,
                     help="A file of one known component per row, as --known-column: "
                          "text of one a line (-1, empty, NA or NaN where unknown; a "
                          "first line that is no number is a header), or one column of "
                          ".npy, Parquet or JSON (as fit -o writes labels; NaN or null "
                          "unknown)."),
        click.option("--missing", type=click.Choice(vocab.names(vocab.MISSING)), default="error",
                     show_default=True,
                     help="Missing values of the features (in text: empty fields, NA, "
                          "NaN; in .npy and "
                          "Parquet: NaN): " + missing + ".  Data over "
                          "--memory-limit stay on disk; with em, the rows with a missing value "
                          "are held in memory."),
    )


def input_options(weights: str = FIT_WEIGHTS, known: str = FIT_KNOWN,
                  missing: str = FIT_MISSING) -> Callable[[F], F]:
    """The INPUT argument and read_options."""
    return compose(click.argument("input", metavar="INPUT", type=FILE_PATH),
                   read_options(weights, known, missing))

#: A model file, the first argument of the commands that read one.
model_argument = click.argument("model", metavar="MODEL", type=PATH)

# Reading data that may be large: the fitting commands.
large_data_options = compose(
    click.option("--dtype", type=click.Choice(vocab.names(vocab.DTYPES)), default="float64",
                 show_default=True,
                 help="Precision of the data, of the E-step and of each block's sums; "
                      "the blocks' statistics and log-likelihoods are added in float64 "
                      "either way.  float32 halves the memory and is faster."),
    click.option("--memory-limit", type=ByteSize(), default=None, metavar="SIZE",
                 help="Inputs larger than SIZE (e.g. 512M, 2G) are not loaded: a .npy is "
                      "read block by block, a text file is converted once to a binary "
                      "cache (see --cache-dir) and read block by block (default: a "
                      "quarter of the memory)."),
    click.option("--cache-dir", type=DIR_PATH, metavar="DIR",
                 help="Where text inputs over --memory-limit are converted, once, to .npy "
                      "(reused while the input is unchanged; default: $XDG_CACHE_HOME/emgmm "
                      "or ~/.cache/emgmm)."),
)

#: Help text of the fit options beyond their schema's one line.
_MORE_HELP = {
    "init": "Initialisation: " + vocab.listing(vocab.INIT_METHODS) + ".",
    "order": "Order of the components, so that the same optimum gives the same labels "
             "whatever the seed or the restart that won: " + vocab.listing(vocab.ORDERS) + ".  "
             "With known labels only none (they name the components).",
    "seed": "Random seed; the same seed gives the same result (default: fresh, recorded "
            "in the model file).",
}


def fit_option(name: str, *, default: Any = None, show_default: bool = True,
               help: str | None = None, **kwargs: Any) -> Callable[[F], F]:
    """The click option of the FitOptions field `name`, typed and documented by its spec.

    covariance_type accepts every registered family (checked when the command runs, so
    a family added at run time is accepted too)."""
    spec = OPTION_SPECS[name]
    choices = spec.choices() if spec.choices is not None else None
    text = help or _MORE_HELP.get(name) or spec.help
    if name == "init":
        choices = vocab.names(vocab.INIT_METHODS)  # means-init is set by --means-init
    kind: click.ParamType = (click.Choice(choices) if choices and name != "covariance_type"
                             else SpecType(spec))
    if name == "freeze":  # a list of names, not one of them: completed item by item
        kwargs.setdefault("shell_complete", complete_freeze)
    return click.option(*FLAGS.get(name, (flag(name),)), name, type=kind, default=default,
                        show_default=show_default and default is not None, help=text,
                        **kwargs)


def em_options(*, means_init: bool = True) -> Callable[[F], F]:
    """The fit options other than -k and -c, with FitOptions' defaults, and the
    large-data options; means_init adds --means-init."""
    def option(name: str) -> Callable[[F], F]:
        return fit_option(name, default=_default(name))

    names = [n for n in OPTION_SPECS if n not in ("n_components", "covariance_type",
                                                   "means_init")
             and (means_init or n != "init_model")]  # select fits many K: no init model
    decorators = [option(n) for n in names]
    if means_init:
        decorators.insert(1, click.option(
            "--means-init", type=PATH, metavar="FILE",
            help="Starting means: a K x D data file, in any input format (a header that "
                 "names the data's columns is read by those names); the start of one run "
                 "(not with --init, --n-init or --init-model)."))
    return compose(*decorators, standardize_option, large_data_options)


standardize_option = click.option(
    "--standardize", is_flag=True,
    help="Fit the columns centred on their means and divided by their standard "
         "deviations (for columns in different units, or values too large or too small "
         "for squared distances).  The model records the transform and predict, score "
         "and sample apply it; log-likelihoods and criteria stay those of the data, and "
         "summaries show the components in the data's units.")


def _default(name: str) -> Any:
    return next(f.default for f in dataclasses.fields(FitOptions) if f.name == name)


def covariance_help(select: bool = False) -> str:
    families = "; ".join(
        (f"{t.name} ({t.mclust})" if t.mclust not in ("", t.name) else t.name)
        + f": {t.description}" for t in vocab.covariance_terms())
    if select:
        return (f"Covariance families to try: all, or a comma-separated list of: {families} "
                "(names in any case).")
    return f"Covariance family: {families} (names in any case)."


fit_options = compose(
    fit_option("n_components", metavar="K",
               help="Number of mixture components (required, unless --init-model gives "
                    "them)."),
    fit_option("covariance_type", default="full", metavar="TYPE", help=covariance_help()),
    em_options(),
)


# --------------------------------------------------------------------------- settings


def given(values: dict[str, Any], name: str) -> Any:
    """The value of the current command's option name where the command line (or the
    environment) gave it, None where it is its default."""
    from click.core import ParameterSource

    source = click.get_current_context().get_parameter_source(name)
    return None if source in (None, ParameterSource.DEFAULT) else values[name]


def check_means_start(values: dict[str, Any]) -> None:
    """--means-init with --init-model, --init or --n-init given: a UsageProblem
    (app.fitting.check_means_start)."""
    from ..app.fitting import check_means_start as check

    if values.get("means_init") is not None:
        check(values["init_model"], given(values, "init"), given(values, "n_init"))


def check_known_order(values: dict[str, Any]) -> None:
    """--order given (not none) beside --known-column or --known-labels: a UsageProblem
    (app.fitting.check_known_order)."""
    from ..app.fitting import check_known_order as check
    from ..app.requests import ReadOptions

    known = take({"known_column": values.get("known_column"),
                  "known_labels": values.get("known_labels")}, ReadOptions)
    check(given(values, "order"), known, None)


def check_starts(values: dict[str, Any]) -> None:
    """check_means_start and check_known_order: a fit's options given beside others that
    decide them."""
    check_means_start(values)
    check_known_order(values)


def take(values: dict[str, Any], cls: type[T], **extra: Any) -> T:
    """An instance of the dataclass cls from the entries of values that are its fields
    (removed from values), plus extra.  A UsageProblem its checks raise about one of the
    fields names them as the Python API does (weights_column, sample_weights): here they
    are said as the flags they came from (--weights-column, --sample-weights)."""
    from ..app.errors import UsageProblem

    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    found = {name: values.pop(name) for name in list(values) if name in names}
    try:
        return cls(**found, **extra)
    except UsageProblem as exc:
        if exc.option not in found:
            raise
        said = _FIELD.sub(lambda m: "--" + m.group(1).replace("_", "-")
                          if m.group(1) in found else m.group(1), str(exc))
        raise UsageProblem(said, option="--" + exc.option.replace("_", "-")) from None


#: A keyword argument's name of two words or more (weights_column), as a message says it.
_FIELD = re.compile(r"(?<![\w-])([a-z]+(?:_[a-z]+)+)(?![\w-])")

