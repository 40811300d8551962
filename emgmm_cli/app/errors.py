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

from ..engine.errors import (ANOTHER_INIT, COPIES, DEGENERATE, FEW_VALUES, FEWER_COMPONENTS,
                             FLOAT32_CONSTANT, LARGER_REG_COVAR, LEAVE_OUT_COLUMN,
                             REG_COVAR_SWAMPS, STANDARDIZE, WIDER_DTYPE, EngineError,
                             FitEvent, Finding, NotPositiveDefinite)
from ..io.errors import DROP_MISSING, EM_MISSING, READ_FLOAT64, SELECT_COLUMNS, DataError
from ..vocab import listed

if TYPE_CHECKING:
    from ..io.readers import Points

P = ParamSpec("P")
R = TypeVar("R")

#: The remedies a DataError names (DataError.advice), as a Python API call gives them
#: (the command line says its options: cli.errors.DATA_REMEDIES).
API_REMEDIES = {DROP_MISSING: "missing='drop'", EM_MISSING: "missing='em'",
                SELECT_COLUMNS: "read=ReadOptions(columns=...) naming only numeric columns",
                READ_FLOAT64: "read=ReadOptions(dtype='float64')"}


def api_remedies(advice: tuple[str, ...]) -> str:
    """'give missing='drop' or missing='em'': the advice in the API's terms."""
    return "give " + " or ".join(API_REMEDIES[code] for code in advice)


#: The remedies an engine error names (EngineError.advice), as a Python API call gives
#: them after "use" (the command line says its options: cli.errors.REMEDIES).
API_ENGINE_REMEDIES = {
    LARGER_REG_COVAR: "a larger reg_covar",
    FEWER_COMPONENTS: "fewer components",
    ANOTHER_INIT: "another init",
    STANDARDIZE: "standardize=True (every column centred and scaled to unit variance)",
    WIDER_DTYPE: "float64 data (read=ReadOptions(dtype='float64') for a file)",
    LEAVE_OUT_COLUMN: "the data without that column",
}


def engine_advice(exc: EngineError, remedies: dict[str, str]) -> str:
    """The engine error's message with its advice, each remedy as remedies says it: '...;
    use a larger reg_covar (for example 0.0001), fewer components, or ...' (where a
    covariance was not positive definite, the floor that would have made it so)."""
    if not exc.advice:
        return str(exc)
    said = [remedies[code] for code in exc.advice]
    if LARGER_REG_COVAR in exc.advice and isinstance(exc, NotPositiveDefinite) \
            and exc.suggested_reg_covar is not None:
        at = exc.advice.index(LARGER_REG_COVAR)
        said[at] = f"{said[at]} (for example {exc.suggested_reg_covar:g})"
    return f"{exc}; use {listed(said)}"


#: The command line's short flags of options the Python API names otherwise.
_SHORT = {"-k": "n_components", "--components": "n_components", "-c": "covariance_type"}
_FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|-k|-c)(?![\w-])")


def api_terms(text: str) -> str:
    """A usage problem said in the Python API's names: '-k 3 disagrees with --init-model
    m.json' -> 'n_components 3 disagrees with init_model m.json' (the flags are the
    keyword arguments' names, dashes for underscores)."""
    return _FLAG.sub(lambda m: _SHORT.get(m.group(1)) or m.group(1)[2:].replace("-", "_"),
                     text)


#: The command line's reading flags as the Python API gives them, in read=ReadOptions(...).
_READ_FLAGS = {"--columns": "columns=...", "--delimiter": "delimiter=...",
               "--header": "header=True", "--no-header": "header=False", "--dtype": "dtype=...",
               "--memory-limit": "memory_limit=...", "--cache-dir": "cache_dir=...",
               "--weights-column": "weights_column=...", "--known-column": "known_column=..."}
#: How a model file is written, as the Python API writes one.
_API_MODEL_FILE = "json.dump(fitted.document, file)"


#: Flags given with their value ("-d ';'", "--missing drop"), and how the Python API gives
#: that value: a quoted one as it is, a word quoted.
_VALUED = re.compile(r"(?<![\w-])(-d|--delimiter|--missing) ('(?:\\.|[^'])*'|\w+)")
_VALUED_AS = {"-d": "read=ReadOptions(delimiter={})",
              "--delimiter": "read=ReadOptions(delimiter={})", "--missing": "missing={}"}


def _valued(m: re.Match[str]) -> str:
    flag, value = m.groups()
    return _VALUED_AS[flag].format(value if value.startswith("'") else f"'{value}'")


def api_data_terms(text: str) -> str:
    """What a data error says to do, in the Python API's terms: '... leave it out with
    --columns' -> '... with read=ReadOptions(columns=...)', 'write one with emgmm fit
    --model FILE.json' -> 'write one with json.dump(...)'.  Other flags are left as they
    are: a data error names them where it speaks of the command line ('the JSON document
    that emgmm fit --model writes')."""
    from ..io.model import HOW_TO_WRITE

    def said(m: re.Match[str]) -> str:
        flag = m.group(1)
        return f"read=ReadOptions({_READ_FLAGS[flag]})" if flag in _READ_FLAGS else flag

    text = _VALUED.sub(_valued, text.replace(HOW_TO_WRITE, f"write one with {_API_MODEL_FILE}"))
    return _FLAG.sub(said, text)


def advised(fn: Callable[P, R]) -> Callable[P, R]:
    """fn as the Python API gives it (emgmm_cli.fit, select, predict, score, sample,
    load_model): its
    DataErrors say their advice, as the command line's messages do in its options (a
    missing value in a file: "...; give missing='drop' or missing='em'", as one in an
    array) and name the Python API's arguments where they name flags (api_data_terms),
    its EngineErrors their data's source and their advice (the same exception,
    its message said again: "<array>: ...; use standardize=True (...)"), and its usage
    problems name keyword arguments, not flags (api_terms)."""

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except EngineError as exc:
            if not getattr(exc, "_said", False):  # not already, by a call inside this one
                said = engine_advice(exc, API_ENGINE_REMEDIES)
                exc.args = (said if exc.source is None else f"{exc.source}: {said}",)
                exc._said = True  # type: ignore[attr-defined]
            raise
        except DataError as exc:
            said = api_data_terms(exc.message)
            if exc.advice:
                said = f"{said}; {api_remedies(exc.advice)}"
            if said == exc.message:
                raise
            raise DataError(exc.source, said, line=exc.line, column=exc.column) from None
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
    for line in lines:  # what reading says, in the API's terms (as its errors are)
        warnings.warn(f"{source}: {api_data_terms(line)}", FitWarning, stacklevel=level)


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
