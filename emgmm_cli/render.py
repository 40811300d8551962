"""Tables and progress for people at a terminal: the only module that imports rich.

Everything here renders plain data (the model document, trace rows), so the same summary
can be printed, tested with a fixed-width console, or written as JSON.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, TextIO

from .io.errors import printable
from .vocab import counted

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table


def make_console(stream: TextIO, *, color: bool, width: int | None = None,
                 force_terminal: bool | None = None) -> "Console":
    """A console on ``stream``, in colour where color (the Terminal's: not with --no-color,
    NO_COLOR or TERM=dumb) and the stream is a terminal."""
    from rich.console import Console

    columns = os.environ.get("COLUMNS", "")
    if width is None and columns.isdigit() and int(columns) == 0:
        import shutil  # rich would print at width 0, nothing: the terminal's, as if unset

        width = shutil.get_terminal_size((80, 24)).columns
    return Console(file=stream, width=width, force_terminal=force_terminal,
                   color_system="auto" if color else None, highlight=False,
                   soft_wrap=False)


def _num(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if math.isinf(v):
        return "-inf" if v < 0 else "inf"
    if not math.isfinite(v):
        return "-"
    return f"{v:.{digits}g}" if abs(v) < 1e5 else f"{v:.{digits + 3}g}"


def shown_document(doc: dict[str, Any]) -> dict[str, Any]:
    """A model document as a summary shows it: its text (the source file's name, feature
    names, files among the options, the version) with control characters and newlines
    written as escapes (io.errors.printable), so that a name cannot drive the terminal or
    break a 'name: value' line.  Lists of numbers are left as they are."""

    def shown(value: Any) -> Any:
        if isinstance(value, str):
            return printable(value, one_line=True)
        if isinstance(value, dict):
            return {key: shown(v) for key, v in value.items()}
        if isinstance(value, list) and value and isinstance(value[0], str):
            return [shown(v) for v in value]
        return value

    return {key: shown(value) for key, value in doc.items()}


#: Where fixed decimals stop reading well.  A column of numbers shown to a few significant
#: digits (means, standard deviations, weights) is written in scientific notation, with
#: those significant digits, from LARGE on, where fixed decimals would print digits that
#: are not significant (hundreds of them near 1e300); log-likelihoods and criteria,
#: shown to two decimals because every digit is compared, from LARGE_EXACT on, where
#: float64 no longer holds their second decimal.  Any column whose largest nonzero
#: magnitude is below SMALL is scientific too (fixed decimals would show 0.000).
LARGE = 1e6
LARGE_EXACT = 1e13
SMALL = 1e-3
#: The significant digits of a log-likelihood or criterion in scientific notation.
EXACT_DIGITS = 10


@dataclass(frozen=True)
class NumberFormat:
    """How every number of one column is written: with places fixed decimals, or, where
    places is None, in scientific notation with digits significant digits."""

    places: int | None
    digits: int = 4

    def __call__(self, value: float) -> str:
        if self.places is None:
            return f"{float(value):.{self.digits - 1}e}"
        return f"{float(value):.{self.places}f}"


def _beyond_fixed(values: Sequence[float], large: float = LARGE) -> bool:
    """Whether the largest finite magnitude of values is beyond what fixed decimals show:
    large or more, or below SMALL but not 0 (the rule of LARGE above)."""
    big = max((abs(float(v)) for v in values if math.isfinite(float(v))), default=0.0)
    return big >= large or 0 < big < SMALL


def number_format(values: Sequence[float], digits: int = 4, *, places: int | None = None,
                  large: float = LARGE) -> NumberFormat:
    """The one format of a column of values: places decimals (by default decimals(values,
    digits)), or scientific with digits significant digits where the column is beyond
    them (_beyond_fixed)."""
    if _beyond_fixed(values, large):
        return NumberFormat(None, digits)
    return NumberFormat(decimals(values, digits) if places is None else places, digits)


def vector_formats(vectors: Sequence[Sequence[float]], digits: int = 4) -> list[NumberFormat]:
    """The formats of a table column of vectors (a mean per component), one per dimension,
    each from that dimension's values alone (number_format): the decimals that show its
    largest with digits significant digits, or scientific where it is beyond fixed
    decimals (_beyond_fixed).  Decimals shared by every dimension, those of the largest,
    showed a height in metres beside an income in dollars as 2 and a spread of 0.05 as 0."""
    return [number_format(values, digits) for values in zip(*vectors)]


def decimals(values: Sequence[float], digits: int = 4) -> int:
    """The decimals that show the largest of values with digits significant digits
    (0 to 6): one format for every number of a column."""
    big = max((abs(float(v)) for v in values if math.isfinite(float(v))), default=0.0)
    if big == 0:
        return digits - 1
    return min(6, max(0, digits - 1 - math.floor(math.log10(big))))


def _vector(values: Sequence[float], formats: Sequence[NumberFormat], limit: int = 6) -> str:
    shown = ", ".join(fmt(v) for v, fmt in zip(values[:limit], formats))
    more = f", … (+{len(values) - limit})" if len(values) > limit else ""
    return f"({shown}{more})"


def component_mean(doc: dict[str, Any], k: int) -> list[float]:
    """Component k's mean in the data's units (through the model's transform, if any)."""
    mean = [float(v) for v in doc["means"][k]]
    transform = doc.get("transform")
    if transform is None:
        return mean
    return [c + s * v for c, s, v in zip(transform["center"], transform["scale"], mean)]


def _summaries(doc: dict[str, Any]) -> list[Any]:
    """Every component's CovarianceSummary (Family.summary), in the data's units: a
    spherical covariance of standardized columns is not spherical in the data's units
    unless their scales are equal; correlations are the same in both."""
    from .engine.families import CovarianceSummary, family

    fam = family(doc["covariance_type"])
    summaries = fam.summaries(doc["covariances"], doc["n_components"], doc["n_features"])
    transform = doc.get("transform")
    if transform is None:
        return summaries
    scale = transform["scale"]
    return [CovarianceSummary([s * (c.sd[0] if c.isotropic else c.sd[j])
                               for j, s in enumerate(scale)],
                              c.isotropic and len(set(scale)) == 1, c.correlation)
            for c in summaries]


def covariance_summary(summary: Any, formats: Sequence[NumberFormat] | None = None) -> str:
    """Standard deviations per dimension and, for general matrices, the strongest
    correlation: a one-line picture of a component's covariance (one of _summaries), the
    standard deviations in formats, one per dimension (default: vector_formats of their
    own, four significant digits)."""
    formats = vector_formats([summary.sd]) if formats is None else formats
    if summary.isotropic:
        return f"sd {formats[0](summary.sd[0])} (all dims)"
    text = "sd " + _vector(summary.sd, formats)
    if summary.correlation is not None:
        i, j, r = summary.correlation
        text += f", corr[{i},{j}] {r:+.2f}"
    return text


def runs_text(doc: dict[str, Any]) -> str:
    """How the restarts of a fit started, counted by origin in the order they came, and
    the kept one's ("10: hc 1, kmeans 2, ..., split-merge 5; kept: split-merge", "1, from
    kmeans"); empty for a model file that does not say (written before the field was)."""
    origins = doc.get("restart_origins")
    if not origins:
        return ""
    if len(origins) == 1:
        return f"1, from {origins[0]}"
    counts: dict[str, int] = {}
    for origin in origins:
        counts[origin] = counts.get(origin, 0) + 1
    listed = ", ".join(f"{name} {n}" for name, n in counts.items())
    return f"{len(origins)}: {listed}; kept: {doc.get('origin', '?')}"


def render_fit_summary(console: "Console", doc: dict[str, Any], *,
                       shape: tuple[int, int]) -> None:
    """The summary of a fit: data, convergence, criteria, and a row per component."""
    from rich.markup import escape
    from rich.table import Table

    doc = shown_document(doc)

    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold", no_wrap=True)
    head.add_column(overflow="fold")  # a long path or name folded, not cut
    names = ", ".join(doc["feature_names"][:8]) + (", …" if len(doc["feature_names"]) > 8
                                                    else "")
    head.add_row("data", escape(f"{doc['source']}: {counted(shape[0], 'row')} x "
                                f"{counted(shape[1], 'column')} "
                                f"({names})"))
    if doc.get("n_dropped"):
        head.add_row("missing", f"{doc['n_dropped']} incomplete rows dropped (label -1)")
    if doc.get("n_incomplete"):
        head.add_row("missing", _incomplete(doc))
    if "sum_of_weights" in doc:
        head.add_row("weights", _weighted(doc))
    opts = doc["options"]
    head.add_row("model", f"K={doc['n_components']}, {doc['covariance_type']} covariance, "
                          f"{opts['algorithm']} EM, init {opts['init']}, "
                          f"n_init {opts['n_init']}, seed {opts['seed']}")
    if doc.get("transform") is not None:
        head.add_row("standardized", "fitted on the columns centred and scaled to unit "
                                     "variance; shown in the data's units")
    runs = runs_text(doc)
    if runs:
        head.add_row("runs", runs)
    conv = "[green]yes[/green]" if doc["converged"] else "[red]no[/red]"
    head.add_row("iterations", f"{iterations_text(doc)} (converged: {conv}, "
                               f"tol {opts['tol']:g})")
    head.add_row("log-likelihood", f"{fixed_number(doc['log_likelihood'])} "
                                   f"(per sample {fixed_number(doc['mean_log_likelihood'], 4)})")
    head.add_row("BIC / AIC / ICL", f"{fixed_number(doc['bic'])} / {fixed_number(doc['aic'])} / "
                                    f"{fixed_number(doc['icl'])}  (lower is better; "
                                    f"{doc['n_parameters']} parameters)")
    if doc["degenerate"]:
        head.add_row("degenerate", "[yellow]components "
                     + ", ".join(str(c) for c in doc["degenerate"]) + "[/yellow]")
    print_uncut(console, head)
    print_uncut(console, _component_table(doc))


def _component_table(doc: dict[str, Any]) -> "Table":
    """A row per component of a fit summary's document: its weight, mean and covariance."""
    from rich.table import Table

    mean_formats = vector_formats([component_mean(doc, k) for k in range(doc["n_components"])])
    summaries = _summaries(doc)
    sd_formats = vector_formats([summary.sd for summary in summaries])
    weight_format = number_format(doc["weights"], places=4)
    means = [_vector(component_mean(doc, k), mean_formats) for k in range(doc["n_components"])]
    covs = [covariance_summary(summary, sd_formats) for summary in summaries]
    table = Table(title=None, show_edge=False, header_style="bold")
    table.add_column("component", justify="right", no_wrap=True)
    table.add_column("weight", justify="right", no_wrap=True)
    # on a narrow terminal the vectors wrap between their numbers, never through one
    table.add_column("mean", min_width=_longest_word(["mean", *means]))
    table.add_column("covariance", min_width=_longest_word(["covariance", *covs]))
    for k in range(doc["n_components"]):
        flag = " [yellow](degenerate)[/yellow]" if k in doc["degenerate"] else ""
        table.add_row(f"{k}{flag}", weight_format(doc["weights"][k]), means[k], covs[k])
    return table


def _longest_word(texts: Sequence[str]) -> int:
    """The width of the longest word of the texts: a column's least width that wraps
    between words (numbers), never through one."""
    return max((len(word) for text in texts for word in text.split()), default=1)


def render_trace(console: "Console", rows: Sequence[Any],
                 events: Sequence[str | None] = ()) -> None:
    """The per-iteration trace (iteration, mean log-likelihood, change, seconds, and
    what happened at each iteration: events, one per row, None for nothing)."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    for name in ("iteration", "log-likelihood", "change", "seconds"):
        table.add_column(name, justify="right", no_wrap=True)
    said = [event or "" for event in events[:len(rows)]]
    table.add_column("event", min_width=_longest_word(["event", *said]))
    for r, event in itertools.zip_longest(rows, said):
        change = "" if math.isnan(r.change) else f"{r.change:+.3e}"
        table.add_row(str(r.iteration), f"{r.log_likelihood:.9f}", change,
                      f"{r.seconds:.4f}", escape(event or ""))
    print_uncut(console, table)


def render_model_info(console: "Console", doc: dict[str, Any], *, path: str) -> None:
    """A saved model (`emgmm info`): the file, K and D, then the summary of its fit."""
    from rich.markup import escape
    from rich.table import Table

    doc, path = shown_document(doc), printable(path, one_line=True)
    opts = doc["options"]
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold", no_wrap=True)
    head.add_column(overflow="fold")  # a long path or name folded, not cut
    head.add_row("file", f"{escape(path)} ({escape(str(doc['format']))} version "
                         f"{doc['version']}, written by emgmm {escape(str(doc['emgmm_version']))})")
    head.add_row("size", f"K={doc['n_components']} components, D={doc['n_features']} features, "
                         f"{doc['covariance_type']} covariance")
    head.add_row("options", f"max_iter {opts['max_iter']}, reg_covar {opts['reg_covar']:g}"
                            + (f", means from {escape(str(opts['means_init']))}"
                               if opts.get("means_init") else ""))
    print_uncut(console, head)
    render_fit_summary(console, doc, shape=(int(doc["n_samples"]), int(doc["n_features"])))


def render_score_summary(console: "Console", summary: dict[str, Any]) -> None:
    """The summary of `emgmm score`: the log-likelihood and, with --threshold, outliers."""
    from rich.markup import escape
    from rich.table import Table

    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold", no_wrap=True)
    head.add_column(overflow="fold")  # a long path or name folded, not cut
    head.add_row("data", f"{escape(summary['source'])}: {summary['n_samples']} rows")
    if summary.get("n_dropped"):
        head.add_row("missing", f"{summary['n_dropped']} incomplete rows dropped "
                                "(log-density NaN)")
    head.add_row("model", escape(summary["model"]))
    head.add_row("log-likelihood", f"{_num(summary['log_likelihood'], 10)} "
                                   f"(mean per sample {_num(summary['mean_log_likelihood'], 8)})")
    if "threshold" in summary:
        head.add_row("outliers", f"{summary['n_outliers']} of {summary['n_samples']}: "
                                 f"log-density below {_num(summary['cutoff_log_density'], 8)} "
                                 f"(the lowest {summary['threshold']:g} quantile)")
    print_uncut(console, head)


@contextmanager
def _live_progress(*columns: Any, **options: Any) -> Iterator["Progress"]:
    """rich's Progress, shown, its refresh thread registered as one that a fork may leave
    behind (emgmm_cli.forking: it redraws only under its display's lock), so that worker
    processes started meanwhile fork.  Where this rich keeps them elsewhere, nothing is
    registered, and such workers are spawned instead.  Its console is live_console()
    meanwhile."""
    from rich.progress import Progress

    from .forking import quiet_at_fork

    with Progress(*columns, **options) as progress:
        _LIVE.append(progress.console)
        try:
            live = progress.live
            thread, lock = getattr(live, "_refresh_thread", None), getattr(live, "_lock", None)
            if thread is None or lock is None:
                yield progress
                return
            with quiet_at_fork(thread, lock):
                yield progress
        finally:
            _LIVE.pop()


#: The consoles of the live displays shown now (innermost last).
_LIVE: list["Console"] = []


def live_console(stream: TextIO) -> "Console | None":
    """The console of a live display (a spinner, a progress line) shown on stream now, or
    None: a line written to stream meanwhile goes through it (Console.print puts it above
    the display), or it lands on the display's own line."""
    return next((c for c in reversed(_LIVE) if c.file is stream), None)


@contextmanager
def fit_progress(stream: TextIO | None, n_init: int, max_iter: int, *, color: bool
                 ) -> Iterator[Callable[[int, int, float, float], None] | None]:
    """A live status line on a terminal's stderr while EM runs: the restart of n_init,
    the iteration of max_iter, the mean log-likelihood and its change; None when not
    shown."""
    if stream is None:
        yield None
        return
    from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

    console = make_console(stream, color=color)
    with _live_progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("fitting: starting", total=None)

        def update(restart: int, it: int, obj: float, change: float) -> None:
            ch = "" if math.isnan(change) else f" ({change:+.1e})"
            progress.update(task, description=f"restart {restart + 1} of {n_init}, "
                                              f"iteration {it} of {max_iter}: "
                                              f"log-lik {obj:.6f}{ch}")

        yield update


@contextmanager
def working(stream: TextIO | None, what: str, *, color: bool) -> Iterator[None]:
    """A spinner and the time taken on a terminal's stderr while something is done
    (reading a file, writing the outputs), so that the screen is never silent; nothing
    without a stream."""
    console = None if stream is None else make_console(stream, color=color)
    if console is None or not console.is_terminal:  # a spinner only where it can spin
        yield
        return
    from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

    with _live_progress(SpinnerColumn(), TextColumn(what), TimeElapsedColumn(),
                  console=console, transient=True,
                  redirect_stdout=False, redirect_stderr=False) as progress:
        progress.add_task(what, total=None)
        yield


# --------------------------------------------------------------------------- batch


def render_batch_summary(console: "Console", rows: Sequence[dict[str, Any]], *,
                         caption: str | None = None) -> None:
    """The table of `emgmm batch`: one line per dataset (short headers, so that it fits
    80 columns; a long status is cut, its full text is in summary.csv), failures in red."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", padding=(0, 0),
                  pad_edge=False)
    table.add_column("file", overflow="fold", min_width=10)
    for name in ("rows", "dims", "K"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("cov", no_wrap=True)
    table.add_column("iter", justify="right", no_wrap=True)
    table.add_column("conv", no_wrap=True)
    for name in ("log-lik", "BIC", "sec"):
        table.add_column(name, justify="right", no_wrap=True)
    # what the other columns take (about 62 characters) and the file names left over
    file_width = min(40, max((len(str(r["file"])) for r in rows), default=4))
    table.add_column("status", no_wrap=True, overflow="ellipsis",
                     max_width=max(16, console.width - 62 - file_width))
    for r in rows:
        status = str(r["status"])
        style = "red" if status.startswith("failed") else "dim" if status == "skipped" else ""
        seconds = r["seconds"]
        table.add_row(
            Text(str(r["file"])), _num(r["rows"]), _num(r["dims"]), _num(r["k"]),
            r["covariance"] or "-", _num(r["iterations"]), _converged(r, "[green]yes[/green]"),
            fixed_number(r["log_likelihood"]), fixed_number(r["bic"]),
            "-" if seconds is None else f"{seconds:.2f}", Text(status, style=style),
        )
    print_uncut(console, table)
    if caption:
        console.print(Text(caption))


def print_uncut(console: "Console", table: "Table") -> None:
    """table, on a console too narrow for it with every no_wrap column whole (numbers;
    columns that fold or wrap at their least width), at the width it needs: the terminal
    wraps its lines, and no number or column is cut."""
    width = console.width
    console.width = max(width, least_width(console, table))
    try:
        console.print(table)
    finally:
        console.width = width


def least_width(console: "Console", table: "Table") -> int:
    """The fewest columns table takes with every no_wrap column whole (print_uncut)."""
    from rich.measure import Measurement

    options = console.options.update_width(1 << 16)
    least = natural = 0
    for column in table.columns:
        sizes = [Measurement.get(console, options, cell)
                 for cell in (column.header, *column.cells)]
        widest = max(size.maximum for size in sizes)
        need = widest if column.no_wrap else column.min_width or 1
        least += min(need, column.max_width or need)
        natural += min(widest, column.max_width or widest)
    # the separators and edges: the whole table's width beyond its columns'
    return least + Measurement.get(console, options, table).maximum - natural


def _converged(row: Mapping[str, Any], yes: str) -> str:
    """A table's conv cell: yes, or why the fit stopped short (max-iter, time limit,
    degenerate; no where the row does not say), or - for no fit."""
    if row["converged"] is None:
        return "-"
    if row["converged"]:
        return yes
    return f"[red]{row.get('stopped') or 'no'}[/red]"


class BatchDisplay:
    """What `emgmm batch` shows while it runs: a progress bar (datasets done of total,
    the files being fitted, elapsed time, failures so far) and messages printed above it.

    Without a stream, the bar is not shown and messages go to ``fallback`` as plain lines.
    """

    def __init__(self, progress: Any, task: Any, fallback: TextIO) -> None:
        self._progress = progress
        self._task = task
        self._fallback = fallback
        self._running: list[str] = []
        self._failed = 0

    def _refresh(self) -> None:
        if self._progress is None:
            return
        shown = ", ".join(self._running[:2])
        if len(self._running) > 2:
            shown += f" (+{len(self._running) - 2})"
        failed = f"[red]{self._failed} failed[/red]" if self._failed else "0 failed"
        self._progress.update(self._task, current=shown, failed=failed)

    def started(self, name: str) -> None:
        self._running.append(name)
        self._refresh()

    def finished(self, name: str, *, failed: bool) -> None:
        if name in self._running:
            self._running.remove(name)
        self._failed += int(failed)
        if self._progress is not None:
            self._progress.advance(self._task)
        self._refresh()

    def message(self, text: str) -> None:
        """One line for the user (a warning or an error), above the bar when it shows;
        control characters and newlines (of a file name) as escapes."""
        text = printable(text, one_line=True)
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            print(text, file=self._fallback, flush=True)


@contextmanager
def batch_progress(stream: TextIO | None, total: int, *, done: int = 0,
                   fallback: TextIO, color: bool) -> Iterator[BatchDisplay]:
    """A BatchDisplay; its progress bar is drawn on stream (None: no bar)."""
    if stream is None:
        yield BatchDisplay(None, None, fallback)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = make_console(stream, color=color)
    with _live_progress(BarColumn(bar_width=20), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("eta"), TimeRemainingColumn(),
                  TextColumn("{task.fields[failed]}"), TextColumn("{task.fields[current]}"),
                  console=console, transient=True) as progress:
        task = progress.add_task("batch", total=total, completed=done, current="",
                                 failed="0 failed")
        yield BatchDisplay(progress, task, fallback)


# --------------------------------------------------------------------------- select


#: The criteria select's table shows, and the width one of them takes at most.
_CRITERIA = ("bic", "aic", "icl")


def family_label(row: Mapping[str, Any]) -> str:
    """'spherical (VII)': a cell's family and its mclust name; 'EII' where they are one."""
    name, mclust = row["covariance_type"], row["mclust"]
    return name if name == mclust else f"{name} ({mclust})"


@dataclass(frozen=True)
class CellReason:
    """A reason failed or skipped cells of a selection give, and those cells by K
    ('diag, spherical K=300'; 'full K=2; VVE K=5')."""

    cells: str
    status: str
    message: str


def cell_reasons(rows: Sequence[dict[str, Any]]) -> tuple[list[CellReason], dict[int, int]]:
    """Each distinct reason (status and message) of the failed and skipped cells, in table
    order, with the cells that give it; and the number (from 1) of each such row's reason,
    by the row's index.  A reason every family gives (K beyond the rows, known labels that
    K cannot hold) is one reason, not one per cell, and one for every K it names
    (_merged_by_k)."""
    groups: dict[tuple[str, str], dict[Any, list[str]]] = {}  # in order of first sight
    row_keys: dict[int, tuple[str, str]] = {}
    for i, r in enumerate(rows):
        if r["status"] in ("failed", "skipped"):
            row_keys[i] = key = (r["status"], r["message"])
            by_k = groups.setdefault(key, {})
            by_k.setdefault(r["n_components"], []).append(r["covariance_type"])
    keys = _merged_by_k(groups)
    merged: dict[tuple[str, str], dict[Any, list[str]]] = {}
    for key, by_k in groups.items():
        merged.setdefault(keys[key], {}).update(by_k)
    order = {key: n for n, key in enumerate(merged, start=1)}
    numbers = {i: order[keys[key]] for i, key in row_keys.items()}
    reasons = [CellReason(_cells_by_k(by_k), status, message)
               for (status, message), by_k in merged.items()]
    return reasons, numbers


#: Where a skipped cell's reason names its K (K components need at least K rows; known
#: labels that K components cannot hold), this stands for it once reasons of several K
#: are one.
ANY_K = "K"


#: Splits a message into text and whole numbers (one pattern for every K: compiling one
#: per K took seconds on a grid of 100,000 K).
_WHOLE_NUMBER = re.compile(r"\b(\d+)\b")


@dataclass
class _KGroup:
    """Skipped reasons of one K each that say the same but for their K: the first one's
    numbers, its K, and (from the second on) where the messages name their own K."""

    numbers: list[str]
    k: str
    keys: list[tuple[str, str]]
    at_k: frozenset[int] | None = None

    def join(self, numbers: list[str], k: str) -> bool:
        """Take a reason of K = k in whose message only its own K (where the first names
        its own) differs; whether it was taken."""
        at_k = self.at_k
        if at_k is None:  # a second reason: where the two differ, each must name its K
            differ = [i for i, (a, b) in enumerate(zip(self.numbers, numbers)) if a != b]
            if not differ or any((self.numbers[i], numbers[i]) != (self.k, k)
                                 for i in differ):
                return False
            self.at_k = frozenset(differ)
            return True
        return all(b == k if i in at_k else b == a
                   for i, (a, b) in enumerate(zip(self.numbers, numbers)))

    def message(self, parts: list[str]) -> str:
        """The one message of the group, ANY_K where each names its own K."""
        numbers = [ANY_K if self.at_k and i in self.at_k else n
                   for i, n in enumerate(self.numbers)]
        return "".join(p if j % 2 == 0 else numbers[j // 2] for j, p in enumerate(parts))


def _merged_by_k(groups: dict[tuple[str, str], dict[Any, list[str]]]
                 ) -> dict[tuple[str, str], tuple[str, str]]:
    """Each reason's key after merging: the reasons of skipped cells of one K each whose
    messages differ only where each names its own K become one message, with K there
    (select -k 1-300 on 20 rows: one reason, not 280; known label 3 of row 5 rules out
    K = 1, 2 and 3, whose messages say "-1", "row 5" and "label 3" alike); a reason alone
    keeps its own.  Messages are compared number by number, so a number that only
    happens to equal one cell's K (the label 3 beside K = 3) is no K."""
    merged: dict[tuple[str, str], list[_KGroup]] = {}  # by status and the words between
    for key, by_k in groups.items():
        status, message = key
        if status != "skipped" or len(by_k) != 1:
            continue
        parts = _WHOLE_NUMBER.split(message)
        numbers, k = parts[1::2], str(next(iter(by_k)))
        skeleton = (status, "\0".join(parts[0::2]))
        candidates = merged.setdefault(skeleton, [])
        for group in candidates:
            if group.join(numbers, k):
                group.keys.append(key)
                break
        else:
            candidates.append(_KGroup(numbers, k, [key]))
    keys = {key: key for key in groups}
    for (status, _), candidates in merged.items():
        for group in candidates:
            if len(group.keys) > 1:
                one = (status, group.message(_WHOLE_NUMBER.split(group.keys[0][1])))
                keys.update((key, one) for key in group.keys)
    return keys


def _cells_by_k(by_k: dict[Any, list[str]]) -> str:
    """'diag, spherical K=300'; 'full K=2; VVE K=5'; runs of K with the same families
    as a range: 'EII, VII K=21-300'."""
    parts: list[tuple[int, int, list[str]]] = []
    for k, families in by_k.items():
        if parts and parts[-1][2] == families and parts[-1][1] + 1 == k:
            parts[-1] = (parts[-1][0], k, families)
        else:
            parts.append((k, k, families))
    return "; ".join(", ".join(families) + (f" K={lo}" if lo == hi else f" K={lo}-{hi}")
                     for lo, hi, families in parts)


def render_selection(console: "Console", rows: Sequence[dict[str, Any]], *, criterion: str,
                     heading: str | None = None, caption: str | None = None) -> None:
    """The grid of `emgmm select`: one line per (covariance, K) cell, the chosen one
    marked; degenerate cells in yellow and failed ones in red, their reasons as numbered
    notes under the table.  On a terminal too narrow for all three criteria, only the one
    that chooses is shown (the table file holds them all; numbers are never cut)."""
    from rich.text import Text

    if heading:
        console.print(Text(heading))
    reasons, numbers = cell_reasons(rows)
    shown = list(_CRITERIA)
    table = _selection_table(rows, shown, criterion, numbers)
    if least_width(console, table) > console.width:
        shown = [criterion]
        table = _selection_table(rows, shown, criterion, numbers)
    print_uncut(console, table)
    for i, reason in enumerate(reasons, 1):
        console.print(Text(f"[{i}] {reason.cells}: {reason.message}", style="red"))
    if len(shown) < len(_CRITERIA):
        left = " and ".join(c.upper() for c in _CRITERIA if c not in shown)
        console.print(Text(f"{left} are left out at this width; --table FILE holds every "
                           "column", style="dim"))
    if caption:
        console.print(Text(caption))


def _selection_table(rows: Sequence[dict[str, Any]], shown: list[str], criterion: str,
                     numbers: dict[int, int]) -> "Table":
    """render_selection's table, with the criteria shown (numbers: each failed or skipped
    row's reason, cell_reasons')."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", padding=(0, 0),
                  pad_edge=False)
    table.add_column("covariance", no_wrap=True)
    table.add_column("K", justify="right", no_wrap=True)
    table.add_column("log-lik", justify="right", no_wrap=True)
    table.add_column("params", justify="right", no_wrap=True)
    for name in shown:
        table.add_column(name.upper() + (" *" if name == criterion else ""), justify="right",
                         no_wrap=True)
    table.add_column("conv", no_wrap=True)
    table.add_column("", no_wrap=True)
    for i, r in enumerate(rows):
        status = r["status"]
        if r["best"]:
            note = "[bold green]<- best[/bold green]"
        elif status == "degenerate":
            note = "[yellow]degenerate[/yellow]"
        elif status in ("failed", "skipped"):
            colour = "red" if status == "failed" else "dim"
            note = f"[{colour}]{status} [{numbers[i]}][/{colour}]"
        else:
            note = ""
        conv = _converged(r, "yes")
        style = "bold" if r["best"] else "dim" if status == "degenerate" else None
        table.add_row(family_label(r), str(r["n_components"]),
                      fixed_number(r["log_likelihood"]), _num(r["n_parameters"]),
                      *(fixed_number(r[name]) for name in shown), conv, note, style=style)
    return table


def iterations_text(doc: dict[str, Any]) -> str:
    """The kept run's iterations; with init auto, which continues a screened start, said
    to be those after the screening (whose iterations n_iter does not count)."""
    after = " after its start's screening" if doc["options"].get("init") == "auto" else ""
    return f"{doc['n_iter']}{after}"


def fixed_number(v: Any, places: int = 2) -> str:
    """A criterion or log-likelihood with two decimals ("-" when missing), scientific
    beyond what they show (number_format, up to LARGE_EXACT)."""
    if v is None or not math.isfinite(v):
        return "-"
    return number_format([v], EXACT_DIGITS, places=places, large=LARGE_EXACT)(v)


@contextmanager
def select_progress(stream: TextIO | None, total: int, *, color: bool
                    ) -> Iterator[Callable[[str], None] | None]:
    """A progress bar of the cells fitted so far on a terminal's stderr; yields done(name),
    to be called as each cell finishes (None when not shown)."""
    if stream is None:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = make_console(stream, color=color)
    with _live_progress(TextColumn("select: cells"), BarColumn(bar_width=20), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                  TextColumn("{task.fields[last]}"), console=console,
                  transient=True) as progress:
        task = progress.add_task("select", total=total, last="")

        def done(name: str) -> None:
            progress.update(task, advance=1, last=name)

        yield done


# --------------------------------------------------------------------------- info


def model_info_text(doc: dict[str, Any], path: str) -> str:
    """The model described in plain 'name: value' lines, for pipes and files."""
    from .engine.options import OPTION_SPECS
    doc, path = shown_document(doc), printable(path, one_line=True)
    opts = doc["options"]
    k, d = doc["n_components"], doc["n_features"]
    converged = "yes" if doc["converged"] else "no"
    runs = runs_text(doc)
    lines = [
        f"model: {path}",
        (f"format: {doc['format']} version {doc['version']} (written by emgmm "
         f"{doc['emgmm_version']})"),
        f"components (K): {k}",
        f"features (D): {d} ({', '.join(doc['feature_names'])})",
        f"covariance type: {doc['covariance_type']}",
        f"fitted on: {doc['source']} ({doc['n_samples']} rows"
        + (f", {doc['n_dropped']} incomplete rows dropped" if doc.get("n_dropped") else "")
        + (f", {_incomplete(doc)}" if doc.get("n_incomplete") else "")
        + (f", {_weighted(doc)}" if "sum_of_weights" in doc else "") + ")",
        "options: " + " ".join(f"{name}={_plain(opts.get(name))}"
                               for name in [*OPTION_SPECS, *(n for n in opts
                                                             if n not in OPTION_SPECS)]
                               if name not in ("n_components", "covariance_type")),
        *([f"runs: {runs}"] if runs else []),
        f"iterations: {iterations_text(doc)} (converged: {converged})",
        (f"log-likelihood: {_plain(doc['log_likelihood'])} "
         f"(per sample: {_plain(doc['mean_log_likelihood'])})"),
        f"BIC: {_plain(doc['bic'])}",
        f"AIC: {_plain(doc['aic'])}",
        f"ICL: {_plain(doc['icl'])}",
        f"parameters: {doc['n_parameters']}",
        "degenerate components: " + (", ".join(str(c) for c in doc["degenerate"]) or "none"),
    ]
    if doc.get("transform") is not None:
        lines.append("standardized: fitted on the columns centred and scaled to unit "
                     "variance; components shown in the data's units")
    summaries = _summaries(doc)
    for j in range(k):
        mean = ", ".join(f"{v:.6g}" for v in component_mean(doc, j))
        lines.append(f"component {j}: weight {doc['weights'][j]:.6g}, mean ({mean}), "
                     + covariance_summary(summaries[j]))
    return "\n".join(lines) + "\n"


def _incomplete(doc: dict[str, Any]) -> str:
    """What a fit with --missing em says of the rows with missing values."""
    return (f"{counted(doc['n_incomplete'], 'row')} with missing values, fitted through "
            "their observed values")


def _weighted(doc: dict[str, Any]) -> str:
    """What a fit with sample weights says of them: their sum, the n of its criteria."""
    return (f"sample weights summing to {_plain(doc['sum_of_weights'])}, the n of the "
            "per-sample log-likelihood and the criteria")


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)
