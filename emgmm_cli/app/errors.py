"""The one error the use cases raise themselves: a request that makes no sense; and the
advice of a DataError said in the Python API's own terms."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from ..io.errors import DROP_MISSING, EM_MISSING, SELECT_COLUMNS, DataError

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
