"""Exceptions and named events raised or reported by the engine.

Every failure the engine can meet has a type here and a message that says what to change,
so the command line can print one line and pick an exit code without parsing text.
"""

from __future__ import annotations

from dataclasses import dataclass


class EngineError(Exception):
    """Base class: the data or the fit failed (exit code 1 at the command line)."""


class InvalidParameter(EngineError):
    """A value that is out of range for the data at hand (K too large, bad means-init)."""


class NotPositiveDefinite(EngineError):
    """A component covariance that is not positive definite even after reg_covar."""

    def __init__(self, component: int, iteration: int | None, reg_covar: float) -> None:
        self.component = component
        self.iteration = iteration
        self.reg_covar = reg_covar
        where = "in the initial parameters" if iteration is None else f"at iteration {iteration}"
        suggestion = max(reg_covar * 100.0, 1e-4)
        super().__init__(
            f"component {component}: covariance is not positive definite {where} even with "
            f"reg_covar={reg_covar:g}; use a larger --reg-covar (for example {suggestion:g}), "
            "fewer components, or scaled data"
        )


@dataclass(frozen=True)
class FitEvent:
    """Something noteworthy that happened during a fit and what was done about it.

    kind is one of "weight-collapse", "degenerate", "not-converged".
    component and iteration are None where they do not apply.
    """

    kind: str
    message: str
    component: int | None = None
    iteration: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "component": self.component,
            "iteration": self.iteration,
            "message": self.message,
        }
