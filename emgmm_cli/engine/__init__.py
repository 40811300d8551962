"""The EM-GMM engine: numpy only, no I/O, no command-line code.

EM is a reduction of sufficient statistics over row blocks (see stats.chunk_stats); the
loop (em.run_em), initialisation (init, hc) and restarts (fitting.fit) see the data only
through a Dataset (dataset.Dataset); model selection (selection.select) fits a grid of such
fits.  The covariance families are one table (families.FAMILIES), the fit options one
schema (options.FitOptions).

The names below are loaded on first use, so that the numpy-free modules (options,
errors) can be imported, by the command line's --help, without numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what a type checker sees; at run time, __getattr__ below
    from .em import TraceRow, degenerate_components, m_step, run_em
    from .errors import EngineError, FitEvent, InvalidParameter, NotPositiveDefinite
    from .families import FAMILIES, Family, family, register
    from .fitting import ALGORITHMS, FitResult, fit
    from .init import INIT_METHODS, initial_params
    from .options import FIT_DEFAULTS, FitOptions
    from .params import MixtureParams
    from .selection import CRITERIA, Cell, CellResult, Selection, grid, select
    from .stats import SuffStats, chunk_stats, predict_chunk

_EXPORTS = {
    "FAMILIES": "families", "Family": "families", "family": "families",
    "register": "families",
    "TraceRow": "em", "degenerate_components": "em", "m_step": "em", "run_em": "em",
    "EngineError": "errors", "FitEvent": "errors", "InvalidParameter": "errors",
    "NotPositiveDefinite": "errors",
    "ALGORITHMS": "fitting", "FitResult": "fitting", "fit": "fitting",
    "FitOptions": "options", "FIT_DEFAULTS": "options",
    "INIT_METHODS": "init", "initial_params": "init",
    "MixtureParams": "params",
    "CRITERIA": "selection", "Cell": "selection", "CellResult": "selection",
    "Selection": "selection",
    "grid": "selection", "select": "selection",
    "SuffStats": "stats", "chunk_stats": "stats", "predict_chunk": "stats",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
