"""Failures as one line of text, with the advice phrased in this command line's options,
and the command class that turns a use case's usage problems into exit status 2.

The engine reports what went wrong in its own terms and names the remedies as data
(EngineError.advice, FitEvent.kind); this module is where they become flags.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from ..app.errors import (MissingExtra, UsageProblem, engine_advice,
                          event_lines as warning_lines)
from ..backends import BackendError
from ..engine.errors import (
    ANOTHER_INIT,
    DIAGONAL_FAMILY,
    FEWER_COMPONENTS,
    LARGER_REG_COVAR,
    LEAVE_OUT_COLUMN,
    NOT_CONVERGED,
    STANDARDIZE,
    WIDER_DTYPE,
    EngineError,
    FitEvent,
    Finding,
    InvalidParameter,
)
from ..io.errors import (DROP_MISSING, EM_MISSING, READ_FLOAT64, SELECT_COLUMNS, DataError,
                         printable)
from ..vocab import listed
from .options import flag

if TYPE_CHECKING:
    from ..app.fitting import Fitted


#: How each remedy an engine error names is said here, after "use".
REMEDIES = {
    LARGER_REG_COVAR: "a larger --reg-covar",
    FEWER_COMPONENTS: "fewer components",
    ANOTHER_INIT: "another --init",
    STANDARDIZE: "--standardize (every column centred and scaled to unit variance)",
    WIDER_DTYPE: "--dtype float64",
    LEAVE_OUT_COLUMN: "--columns without that column",
}
#: How each remedy a data error names is said here, after "use".
DATA_REMEDIES = {
    DROP_MISSING: "--missing drop (leave out the rows with a missing value)",
    EM_MISSING: "--missing em (fit them through their observed values)",
    SELECT_COLUMNS: "--columns to read only numeric columns",
    READ_FLOAT64: "--dtype float64",
}
#: How each remedy a finding names is said here, as what to do.
FINDING_REMEDIES = {
    LEAVE_OUT_COLUMN: "leave it out with --columns",
    WIDER_DTYPE: "read the data as float64 (--dtype float64)",
    STANDARDIZE: "fit standardized columns with --standardize (or give a smaller --reg-covar)",
    DIAGONAL_FAMILY: "fit a diagonal family (-c diag), which has none",
}


def engine_message(exc: EngineError) -> str:
    """The engine's message with its advice: '...; use a larger --reg-covar (for example
    0.0001), fewer components, or --standardize (...)'."""
    return engine_advice(exc, REMEDIES)


def data_message(exc: DataError, text: str | None = None) -> str:
    """A data error (or text, where it is said: str(exc) by default) with its advice:
    '...: missing value 'NA'; use --missing drop (...) or --missing em (...)'."""
    text = str(exc) if text is None else text
    if not exc.advice:
        return text
    return f"{text}; use {listed([DATA_REMEDIES[code] for code in exc.advice])}"


def finding_message(finding: Finding) -> str:
    """A condition the screen found, as a warning line with what to do about it."""
    remedies = [FINDING_REMEDIES[code] for code in finding.advice]
    if len(finding.columns) > 1 and LEAVE_OUT_COLUMN in finding.advice:
        remedies[finding.advice.index(LEAVE_OUT_COLUMN)] = "leave one of them out with --columns"
    return f"{finding.message}; {listed(remedies)}" if remedies else finding.message


def event_message(event: FitEvent) -> str:
    """A fit event as a warning line, with what to change where it applies."""
    if event.kind == NOT_CONVERGED:
        return f"{event.message}; raise --max-iter, try another --init, or check for " \
               "degenerate data"
    return event.message


def event_lines(events: Sequence[FitEvent], findings: Sequence[Finding] = ()) -> list[str]:
    """A fit's events as warning lines in this command line's words (app.errors.event_lines)."""
    return warning_lines(events, findings, event_message)


@dataclass(frozen=True)
class Phrasing:
    """This command line's way of saying what a batch reports (app.batching.Phrasing);
    picklable, for worker processes."""

    def failure(self, exc: BaseException) -> str:
        return one_line(exc)

    def located(self, exc: DataError, text: str) -> str:
        return data_message(exc, text)

    def finding(self, finding: Finding) -> str:
        return finding_message(finding)

    def events(self, fit: "Fitted") -> list[str]:
        return event_lines(fit.result.events, fit.findings)


#: What to do when a command runs out of memory, by command.
OUT_OF_MEMORY = {
    "sample": "draw fewer points with -n (or several samples with different --seed)",
    "make-blobs": "make fewer points with -n (or several files with different --seed)",
    "predict": "split the input into parts",
    "score": "split the input into parts",
    "info": "check that the model file is an emgmm model",
}


def one_line(exc: BaseException, command: str | None = None) -> str:
    """Any failure as the one line after 'Error: ' (command: the subcommand that failed,
    for advice that only applies to it), control characters and newlines as escapes
    (printable: a name or a value read from data must not reach the terminal as a sequence
    it obeys, and a file name with a newline must not split the line)."""
    return printable(_one_line(exc, command), one_line=True)


def _one_line(exc: BaseException, command: str | None) -> str:
    if isinstance(exc, EngineError):
        text = engine_message(exc)
        return text if exc.source is None else f"{exc.source}: {text}"
    if isinstance(exc, DataError):
        return data_message(exc)
    if isinstance(exc, (MissingExtra, BackendError)):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory; " + OUT_OF_MEMORY.get(
            command or "", "use a smaller --memory-limit, --dtype float32, or fewer components")
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        return f"{where}{exc.strerror or exc}"
    return f"internal error: {type(exc).__name__}: {exc} (run again with --debug for details)"


#: Help is as wide as the terminal, up to this many columns.
HELP_WIDTH = 120
#: Stands in for '-' inside words while help text is wrapped, so that no word is broken
#: at a hyphen (--with-rows, random-from-data, log-likelihood stay whole).
_UNBROKEN_HYPHEN = "\u2011"


class HelpFormatter(click.HelpFormatter):
    """click's help formatter, wrapping text between words only: never at a hyphen."""

    def _unbroken(self, write: Callable[[], None]) -> None:
        start = len(self.buffer)
        write()
        self.buffer[start:] = [s.replace(_UNBROKEN_HYPHEN, "-") for s in self.buffer[start:]]

    def write_text(self, text: str) -> None:
        self._unbroken(lambda: super(HelpFormatter, self).write_text(
            text.replace("-", _UNBROKEN_HYPHEN)))

    def write_dl(self, rows: Any, col_max: int = 30, col_spacing: int = 2) -> None:
        held = [(first, second.replace("-", _UNBROKEN_HYPHEN)) for first, second in rows]
        self._unbroken(lambda: super(HelpFormatter, self).write_dl(held, col_max, col_spacing))


class EmgmmContext(click.Context):
    """The context of emgmm's commands: help as wide as the terminal (up to HELP_WIDTH),
    wrapped by HelpFormatter."""

    formatter_class = HelpFormatter

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_content_width", HELP_WIDTH)
        super().__init__(*args, **kwargs)


class ParsedCommand(click.Command):
    """What emgmm's group and commands share: their context (EmgmmContext), and click's
    own output while it parses the arguments (--help, --version: on stdout), which, where
    it cannot be written, is said as a command's output is, in one line and with exit
    status 1, not as a traceback."""

    context_class = EmgmmContext

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except OSError as exc:
            if exc.filename is not None:  # a file, not the output
                raise
            raise click.ClickException(
                f"<stdout>: cannot write: {exc.strerror or exc}") from None


class EmgmmCommand(ParsedCommand):
    """A command whose use case's usage problems (contradictory options, an output that
    cannot be written, a fit option out of range) are click's usage errors: exit status 2,
    with this command's usage line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageProblem as exc:
            raise click.UsageError(str(exc), ctx) from None
        except InvalidParameter as exc:
            if exc.option is None:
                raise
            raise click.UsageError(f"Invalid value for '{flag(exc.option)}': {exc}",
                                   ctx) from None


def command(name: str | None = None, **kwargs: Any) -> Callable[[Callable[..., Any]],
                                                                click.Command]:
    """click.command for emgmm's commands (EmgmmCommand)."""
    return click.command(name, cls=EmgmmCommand, **kwargs)
