"""Exceptions and named events raised or reported by the engine.

Every failure the engine can meet has a type here and a message that says what went
wrong in the engine's own terms (components, iterations, reg_covar), never in terms of a
command-line flag: the engine also serves the Python API.  What a user should change is
data too: an error's ``advice`` and an event's ``kind`` name the remedy, and the command
line phrases it in its own options (emgmm_cli.cli.errors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

#: Remedies an error can point to (EngineError.advice).
FEWER_COMPONENTS = "fewer-components"
ANOTHER_INIT = "another-init"
LARGER_REG_COVAR = "larger-reg-covar"
#: the columns centred and scaled to unit variance before the fit
STANDARDIZE = "standardize"
#: the column (or one of the columns) the message names left out of the fit
LEAVE_OUT_COLUMN = "leave-out-column"
#: the data held in float64 rather than float32
WIDER_DTYPE = "wider-dtype"
#: a diagonal family (no covariances between columns)
DIAGONAL_FAMILY = "diagonal-family"


class EngineError(Exception):
    """Base class: the data or the fit failed (exit code 1 at the command line).

    advice: the remedies that apply, most useful first (see the constants above).
    source: the data the failure is about (a file name, set by whoever read the data),
    or None.
    """

    def __init__(self, message: str, *, advice: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.advice = advice
        self.source: str | None = None


class InvalidParameter(EngineError, ValueError):
    """A value out of range: an option (``option`` names it) or one that does not suit the
    data at hand (K too large, bad starting means).  A ValueError too, as Python's own
    functions raise for an argument of the right type and a wrong value."""

    def __init__(self, message: str, *, option: str | None = None,
                 advice: tuple[str, ...] = ()) -> None:
        super().__init__(message, advice=advice)
        self.option = option


class NotPositiveDefinite(EngineError):
    """A component covariance that is not positive definite even after reg_covar."""

    def __init__(self, component: int, iteration: int | None, reg_covar: float) -> None:
        self.component = component
        self.iteration = iteration
        self.reg_covar = reg_covar
        #: a reg_covar worth trying instead (None where a hundred times more would not be
        #: a finite number)
        larger = max(reg_covar * 100.0, 1e-4)
        self.suggested_reg_covar: float | None = larger if math.isfinite(larger) else None
        where = "in the initial parameters" if iteration is None else f"at iteration {iteration}"
        super().__init__(
            f"component {component}: covariance is not positive definite {where} even with "
            f"reg_covar={reg_covar:g}",
            advice=(LARGER_REG_COVAR, FEWER_COMPONENTS, STANDARDIZE),
        )


#: Event kinds (FitEvent.kind).
WEIGHT_COLLAPSE = "weight-collapse"
DEGENERATE = "degenerate"
NOT_CONVERGED = "not-converged"
TIME_LIMIT = "time-limit"
#: A component of a diagonal family whose variance float32 data cannot resolve where it
#: lies (engine.fitting.FLOAT32_LOSS); values["loss"] says how much of it is rounding.
FLOAT32_PRECISION = "float32-precision"
#: A component removed during EM (engine.degenerate, on_degenerate "drop"): its component is
#: None and values["component"] the number it had when it was dropped.
DROPPED = "dropped"


@dataclass(frozen=True)
class FitEvent:
    """Something noteworthy that happened during a fit and what was done about it.

    kind is one of WEIGHT_COLLAPSE, DEGENERATE, NOT_CONVERGED, TIME_LIMIT; component and
    iteration
    are None where they do not apply; values holds the numbers the event is about (for
    not-converged: the last change and tol).  message says it in words, without advice.
    """

    kind: str
    message: str
    component: int | None = None
    iteration: int | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "component": self.component,
            "iteration": self.iteration,
            "message": self.message,
        }


#: Finding kinds (engine.screening): conditions of the data found before a fit.
FEW_VALUES = "few-values"
COPIES = "copies"
FLOAT32_CONSTANT = "float32-constant"
CONSTANT = "constant"
REG_COVAR_SWAMPS = "reg-covar-swamps"
NEVER_TOGETHER = "never-together"
FEW_WEIGHTS = "few-weights"
KNOWN_VS_START = "known-vs-start"


@dataclass(frozen=True)
class Finding:
    """A condition of the data that bears on a fit (engine.screening): its kind, the
    columns (indices) it is about, one line saying it without advice, and the remedies
    (the advice codes above)."""

    kind: str
    columns: tuple[int, ...]
    message: str
    advice: tuple[str, ...] = ()
