"""Failures as one line of text, with the advice phrased in this command line's options,
and the command class that turns a use case's usage problems into exit status 2.

The engine reports what went wrong in its own terms and names the remedies as data
(EngineError.advice, FitEvent.kind); this module is where they become flags.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..app.errors import MissingExtra, UsageProblem
from ..engine.errors import (
    ANOTHER_INIT,
    FEWER_COMPONENTS,
    LARGER_REG_COVAR,
    NOT_CONVERGED,
    EngineError,
    FitEvent,
    InvalidParameter,
    NotPositiveDefinite,
)
from ..io.errors import DataError
from .options import flag


def _remedy(code: str, exc: EngineError) -> str:
    if code == LARGER_REG_COVAR and isinstance(exc, NotPositiveDefinite):
        return f"a larger --reg-covar (for example {exc.suggested_reg_covar:g})"
    return {
        LARGER_REG_COVAR: "a larger --reg-covar",
        FEWER_COMPONENTS: "fewer components",
        ANOTHER_INIT: "another --init",
    }[code]


def engine_message(exc: EngineError) -> str:
    """The engine's message with its advice: '...; use a larger --reg-covar (for example
    0.0001), fewer components, or scaled data'."""
    if not exc.advice:
        return str(exc)
    remedies = [_remedy(code, exc) for code in exc.advice]
    if isinstance(exc, NotPositiveDefinite):
        remedies.append("scaled data")
    listed = remedies[0] if len(remedies) == 1 else (
        ", ".join(remedies[:-1]) + ", or " + remedies[-1] if len(remedies) > 2
        else " or ".join(remedies))
    return f"{exc}; use {listed}"


def event_message(event: FitEvent) -> str:
    """A fit event as a warning line, with what to change where it applies."""
    if event.kind == NOT_CONVERGED:
        return f"{event.message}; raise --max-iter, try another --init, or check for " \
               "degenerate data"
    return event.message


def one_line(exc: BaseException) -> str:
    """Any failure as the one line after 'Error: '."""
    if isinstance(exc, EngineError):
        text = engine_message(exc)
        return text if exc.source is None else f"{exc.source}: {text}"
    if isinstance(exc, (DataError, MissingExtra)):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory; use a smaller --memory-limit, float32 data, or fewer components"
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


class EmgmmCommand(click.Command):
    """A command whose use case's usage problems (contradictory options, an output that
    cannot be written, a fit option out of range) are click's usage errors: exit status 2,
    with this command's usage line."""

    context_class = EmgmmContext

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
