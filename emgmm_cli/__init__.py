"""emgmm: Gaussian mixture clustering by expectation-maximisation, at the command line
and from Python.

The Python API is the command line's own use cases (emgmm_cli.app), so both give the same
numbers:

    import emgmm_cli
    fit = emgmm_cli.fit("data.csv", 4, covariance_type="diag", seed=0)   # or an array
    fit.labels, fit.means, fit.bic, fit.document                         # (a DataFrame)
    best = emgmm_cli.select(X, range(1, 10)).best
    emgmm_cli.predict(fit, X_new)

See docs/python.md.  The names are loaded on first use, so `import emgmm_cli` (and
`emgmm --help`) stay fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

#: typing.TYPE_CHECKING, without importing typing (4 ms): this package is imported before
#: the console script can catch Ctrl-C (launch), so it imports nothing at all.
TYPE_CHECKING = False

if TYPE_CHECKING:  # "X as X": what a type checker takes as this package's own names
    from typing import Any

    from .app.errors import FitWarning as FitWarning, UsageProblem as UsageProblem
    from .app.fitting import Fitted as Fitted, fit as fit
    from .app.models import (Scores as Scores, predict as predict, sample as sample,
                             score as score)
    from .app.requests import ReadOptions as ReadOptions
    from .app.selecting import Selected as Selected, select_model
    from .backends import BackendError as BackendError, backend as backend
    from .engine.errors import EngineError as EngineError, InvalidParameter as InvalidParameter
    from .engine.options import FitOptions as FitOptions
    from .io.errors import DataError as DataError
    from .io.model import load_model as load_model

    select = select_model

_API = {
    "fit": ("app.fitting", "fit"),
    "Fitted": ("app.fitting", "Fitted"),
    "select": ("app.selecting", "select_model"),
    "Selected": ("app.selecting", "Selected"),
    "predict": ("app.models", "predict"),
    "score": ("app.models", "score"),
    "Scores": ("app.models", "Scores"),
    "sample": ("app.models", "sample"),
    "load_model": ("io.model", "load_model"),
    "ReadOptions": ("app.requests", "ReadOptions"),
    "FitOptions": ("engine.options", "FitOptions"),
    "DataError": ("io.errors", "DataError"),
    "EngineError": ("engine.errors", "EngineError"),
    "InvalidParameter": ("engine.errors", "InvalidParameter"),
    "UsageProblem": ("app.errors", "UsageProblem"),
    "FitWarning": ("app.errors", "FitWarning"),
    "backend": ("backends", "backend"),
    "BackendError": ("backends", "BackendError"),
}

#: The calls whose errors say their advice in the API's terms (app.errors.advised:
#: "...; give missing='drop' or missing='em'", where the command line names its options).
_ADVISED = {"fit", "select", "predict", "score", "sample", "load_model"}

__all__ = ["__version__", *sorted(_API)]


def __getattr__(name: str) -> Any:
    where = _API.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{where[0]}"), where[1])
    if name in _ADVISED:
        from .app.errors import advised

        value = advised(value)
    globals()[name] = value
    return value
