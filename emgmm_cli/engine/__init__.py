"""The EM-GMM engine: numpy only, no I/O, no command-line code.

EM is a reduction of sufficient statistics over row blocks (see stats.chunk_stats); the
loop (em.run_em), initialisation (init, hc) and restarts (fit.fit) see the data only
through a Dataset's reduce(); model selection (select.select) fits a grid of such fits.
"""

from .families import COVARIANCE_TYPES, FAMILIES, family
from .em import TraceRow, degenerate_components, m_step, run_em
from .errors import EngineError, FitEvent, InvalidParameter, NotPositiveDefinite
from .fit import ALGORITHMS, FitOptions, FitResult, fit
from .init import INIT_METHODS, initial_params
from .params import MixtureParams
from .select import CRITERIA, Cell, CellResult, Selection, select
from .stats import SuffStats, chunk_stats, predict_chunk

__all__ = [
    "ALGORITHMS", "COVARIANCE_TYPES", "FAMILIES", "INIT_METHODS", "EngineError", "FitEvent",
    "FitOptions", "FitResult", "InvalidParameter", "MixtureParams", "NotPositiveDefinite",
    "SuffStats", "TraceRow", "chunk_stats", "degenerate_components", "family", "fit",
    "initial_params", "m_step", "predict_chunk", "run_em",
    "CRITERIA", "Cell", "CellResult", "Selection", "select",
]
