"""What the terminal shows, and where: the glue between a Terminal and render.py.

Summaries go to stdout on a terminal when stdout carries no data, else to stderr on a
terminal, else nowhere (Terminal.message_stream); progress goes to a terminal's stderr;
warnings to stderr unless --quiet.  The drawing itself is render.py's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .context import Terminal
from ..vocab import counted
from .errors import event_lines, event_message, finding_message

if TYPE_CHECKING:
    from ..app.fitting import Fitted
    from ..app.requests import SelectGrid
    from ..app.selecting import Selected
    from ..app.batching import BatchReport
    from ..engine.errors import Finding
    from ..engine.selection import CellResult
    from ..io.readers import Points
    from ..render import BatchDisplay


@contextmanager
def fit_progress(term: Terminal, n_init: int, max_iter: int
                 ) -> Iterator[Callable[[int, int, float, float], None] | None]:
    """A live status line while EM runs (None when not shown)."""
    from ..render import fit_progress as progress

    with progress(term.progress_stream, n_init, max_iter, color=term.color) as update:
        yield update


def notes(term: Terminal, points: "Points") -> None:
    """What reading the data decided that the user should hear, as warnings."""
    for note in points.notes:
        term.warn(f"{points.source}: {note}")


def finding_warner(term: Terminal, points: "Points") -> Callable[["Finding"], None]:
    """The on_finding callback of a fit or a selection: each condition the screen finds
    in the data, as a warning (before the fit, so that it shows if the fit fails)."""
    return lambda finding: term.warn(f"{points.source}: {finding_message(finding)}")


def reading(term: Terminal, path: str) -> Any:
    """A spinner while path ('-': stdin) is read."""
    return working(term, f"reading {path if path != '-' else 'standard input'}")


@contextmanager
def working(term: Terminal, what: str) -> Iterator[None]:
    """A spinner on a terminal's stderr while what is done (reading, writing)."""
    from ..render import working as spinner

    with spinner(term.progress_stream, what, color=term.color):
        yield


def events(term: Terminal, fitted: "Fitted") -> None:
    """The fit's events (collapsed, degenerate, not converged) as warnings: one line for
    every collapsed component together."""
    for line in event_lines(fitted.result.events, fitted.findings):
        term.warn(f"{fitted.source}: {line}")


def fit_summary(term: Terminal, fitted: "Fitted", *, carries_data: bool,
                trace: bool = False) -> None:
    """The summary of a fit (and its trace) where a person will see it."""
    stream = term.message_stream(carries_data)
    if stream is None:
        return
    from ..render import make_console, render_fit_summary, render_trace

    console = make_console(stream, color=term.color)
    render_fit_summary(console, fitted.document,
                       shape=(fitted.data.n_samples, fitted.data.n_features))
    if trace:
        render_trace(console, fitted.result.trace, fitted.trace["event"])


#: Text pictures are at most this wide.
PICTURE_COLUMNS = 120


def picture(term: Terminal, draw: Callable[[tuple[int, int], bool], str]) -> None:
    """A picture drawn as text on stdout: draw((columns, rows), colour) as wide as the
    terminal (at most PICTURE_COLUMNS; 80 in a pipe), in colour on a terminal that takes
    it."""
    tty = term.stdout_isatty
    columns = min(term.width, PICTURE_COLUMNS) if tty else 80
    text = draw((columns, max(16, columns // 3)), tty and term.color)
    term.stdout.write(text if text.endswith("\n") else text + "\n")
    term.stdout.flush()


def on_stream(term: Terminal, carries_data: bool, draw: Callable[[Any], None]) -> bool:
    """draw(console) on the message stream; False when there is none."""
    stream = term.message_stream(carries_data)
    if stream is None:
        return False
    from ..render import make_console

    draw(make_console(stream, color=term.color))
    return True


@contextmanager
def select_progress(term: Terminal, cells: "SelectGrid", n_features: int
                    ) -> Iterator[Callable[[int, "CellResult"], None] | None]:
    """A progress bar of the cells fitted so far; yields select's on_cell callback.  Its
    total is the grid's cells, every family searched for data of n_features columns where
    none is named (-c all: the bar's total was 0)."""
    from ..engine.selection import grid
    from ..render import select_progress as progress

    total = len(grid(cells.covariance_types, cells.components, n_features))
    with progress(term.progress_stream, total, color=term.color) as done:
        yield None if done is None else (
            lambda _, r: done(f"{r.cell.covariance_type} K={r.cell.n_components}"))


def selection(term: Terminal, selected: "Selected", *, carries_data: bool) -> None:
    """The table of every cell with the choice marked (or, with nobody to see it, the
    failed cells as warnings), and a warning when the chosen cell did not converge."""
    from ..render import cell_reasons, render_selection

    source = selected.points.source
    t = selected.template
    heading = (f"{source}: {counted(selected.data.n_samples, 'row')} x "
               f"{counted(selected.data.n_features, 'column')}; "
               f"{counted(len(selected.cells), 'cell')}, init {t.init}, n_init {t.n_init}, "
               f"tol {t.tol:g}, seed {selected.seed}")
    criterion = selected.selection.criterion
    rows = selected.rows()
    if not on_stream(term, carries_data, lambda console: render_selection(
            console, rows, criterion=criterion, heading=heading,
            caption=_caption(selected))):
        for reason in cell_reasons(rows)[0]:
            term.warn(f"{source}: {reason.cells} {reason.status}: {reason.message}")
    from ..app.selecting import unconverged_choice

    stopped = unconverged_choice(selected, event_message)
    if stopped is not None:
        term.warn(f"{source}: {stopped}")


def _caption(selected: "Selected") -> str:
    best, criterion = selected.selection.best_cell, selected.selection.criterion
    if best is None or best.result is None:
        from ..app.selecting import no_choice_counts

        return f"no cell can be chosen: {no_choice_counts(selected)}"
    from ..render import fixed_number

    value = best.criterion(criterion)
    text = (f"best by {criterion.upper()} (lower is better): {best.cell.covariance_type} "
            f"({best.cell.mclust}), K={best.cell.n_components}, "
            f"{criterion.upper()} {fixed_number(value)}")
    if criterion == "bic":
        text += f" (mclust reports BIC {fixed_number(-value)})"
    return text


@contextmanager
def batch_progress(term: Terminal, total: int) -> Iterator["BatchDisplay"]:
    """What batch shows while it runs: a progress bar on a terminal's stderr, messages
    above it (plain lines on stderr without one)."""
    from ..render import batch_progress as progress

    with progress(term.progress_stream, total, fallback=term.stderr,
                  color=term.color) as display:
        yield display


def batch_summary(term: Terminal, report: "BatchReport", total: int, output_dir: str,
                  summary_on_stdout: bool) -> None:
    """The table of the batch's datasets, with a caption of the counts."""
    from ..app.batching import summary_path
    from ..render import render_batch_summary

    fitted = total - report.failed - report.skipped
    caption = (f"{total} datasets: {fitted} fitted, {report.skipped} skipped, "
               f"{report.failed} failed in {report.seconds:.1f} s; summary in "
               f"{summary_path(output_dir)}")
    on_stream(term, summary_on_stdout, lambda console: render_batch_summary(
        console, [r.record() for r in report.rows], caption=caption))
