"""The one error the use cases raise themselves: a request that makes no sense; the
advice of a DataError said in the Python API's own terms; and the warning the Python API
gives where the command line prints one."""

from __future__ import annotations

import functools
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from ..engine.errors import (COPIES, DEGENERATE, FEW_VALUES, FLOAT32_CONSTANT,
                             REG_COVAR_SWAMPS, FitEvent, Finding)
from ..io.errors import DROP_MISSING, EM_MISSING, SELECT_COLUMNS, DataError
from ..vocab import listed

if TYPE_CHECKING:
    from ..io.readers import Points

P = ParamSpec("P")
R = TypeVar("R")

#: The remedies a DataError names (DataError.advice), as a Python API call gives them
#: (the command line says its options: cli.errors.DATA_REMEDIES).
API_REMEDIES = {DROP_MISSING: "missing='drop'", EM_MISSING: "missing='em'",
                SELECT_COLUMNS: "read=ReadOptions(columns=...) naming only numeric columns"}


def api_remedies(advice: tuple[str, ...]) -> str:
    """'give missing='drop' or missing='em'': the advice in the API's terms."""
    return "give " + " or ".join(API_REMEDIES[code] for code in advice)


#: The command line's short flags of options the Python API names otherwise.
_SHORT = {"-k": "n_components", "--components": "n_components", "-c": "covariance_type"}
_FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|-k|-c)(?![\w-])")


def api_terms(text: str) -> str:
    """A usage problem said in the Python API's names: '-k 3 disagrees with --init-model
    m.json' -> 'n_components 3 disagrees with init_model m.json' (the flags are the
    keyword arguments' names, dashes for underscores)."""
    return _FLAG.sub(lambda m: _SHORT.get(m.group(1)) or m.group(1)[2:].replace("-", "_"),
                     text)


def advised(fn: Callable[P, R]) -> Callable[P, R]:
    """fn as the Python API gives it (emgmm_cli.fit, select, predict, score): its
    DataErrors say their advice, as the command line's messages do in its options (a
    missing value in a file: "...; give missing='drop' or missing='em'", as one in an
    array), and its usage problems name keyword arguments, not flags (api_terms)."""

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except DataError as exc:
            if not exc.advice:
                raise
            raise DataError(exc.source, f"{exc.message}; {api_remedies(exc.advice)}",
                            line=exc.line, column=exc.column) from None
        except UsageProblem as exc:
            said = api_terms(str(exc))
            if said == str(exc):
                raise
            raise UsageProblem(said, option=exc.option and api_terms(exc.option)) from None

    return call


class FitWarning(UserWarning):
    """What the command line says as a warning ("emgmm: warning: ..."), as the Python API
    says it (emgmm_cli.fit, select, predict and score): what reading the data decided, what
    the data screen found, a fit's events (not converged, a component collapsed, ...), a
    selection that chose nothing or chose a cell that did not converge.  Each message
    starts with the data's source.  warnings.simplefilter("error", FitWarning) makes them
    errors; the same facts are in the results (findings, events, converged)."""


#: Findings that make components collapse: the collapse is then theirs to explain.
COLLAPSE_CAUSES = (FEW_VALUES, COPIES, FLOAT32_CONSTANT, REG_COVAR_SWAMPS)


def event_lines(events: Sequence[FitEvent], findings: Sequence[Finding] = (),
                say: Callable[[FitEvent], str] = lambda event: event.message) -> list[str]:
    """A fit's events as warning lines (each as say words it: the command line adds its
    advice in flags): one line for every component whose covariance collapsed (one
    cause, not one line per component), which points at the data when the screen found
    a condition that makes components collapse (findings, warned before the events)."""
    collapsed = [e for e in events if e.kind == DEGENERATE and e.component is not None]
    lines = [say(e) for e in events if e not in collapsed]
    if collapsed:
        which = [str(e.component) for e in collapsed]
        body = collapsed[0].message.split(": ", 1)[1]
        if any(f.kind in COLLAPSE_CAUSES for f in findings):
            body = body.split("; ")[0] + "; the data warned about above is the likely cause"
        noun = "component" if len(which) == 1 else "components"
        lines.insert(0, f"{noun} {listed(which, 'and')}: {body}")
    return lines


#: The package whose frames warn passes over.
_PACKAGE = __name__.split(".")[0] + "."


def warn(source: str, lines: Iterable[str]) -> None:
    """Each line as a FitWarning naming the source, of the line that called this package
    (the first frame outside it, however deep the call that warns)."""
    level, frame = 1, sys._getframe(0)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(
            _PACKAGE):
        level, frame = level + 1, frame.f_back
    for line in lines:
        warnings.warn(f"{source}: {line}", FitWarning, stacklevel=level)


def warned(points: "Points") -> Callable[[Finding], None]:
    """What reading points decided, as FitWarnings now, and the on_finding callback of
    the Python API: each condition the data screen finds, as a FitWarning when it is
    found (before the fit, so that a fit that fails has said it)."""
    warn(points.source, points.notes)
    return lambda finding: warn(points.source, [finding.message])


class UsageProblem(ValueError):
    """Options that contradict each other or name impossible outputs (exit status 2; in
    the Python API, a ValueError).

    option: the option the problem is about, where there is one (for the message).
    """

    def __init__(self, message: str, *, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class MissingExtra(Exception):
    """An optional library a request needs is not installed (exit status 1); the message
    names the extra that brings it."""
