"""SQUAREM's step length, for EM's acceleration (em.squarem).

A SQUAREM cycle (Varadhan and Roland 2008) takes two steps of a monotone map G from
theta, theta1 = G(theta) and theta2 = G(theta1), and extrapolates
theta' = theta + 2 alpha r + alpha^2 v with r = theta1 - theta and
v = theta2 - 2 theta1 + theta.  Its step length (their S3 rule) is alpha = |r| / |v|,
within the bounds of the defaults of their SQUAREM package: at least 1 (alpha = 1 is
theta2 itself) and at most a bound that starts at 1, grows by STEP_FACTOR each time a
step at the bound is taken, and shrinks by it (never below 1) each time an extrapolation
is refused.
"""

from __future__ import annotations

import math

#: How much the bound on alpha grows when a step at it is taken, and shrinks when an
#: extrapolation is refused.
STEP_FACTOR = 4.0


class StepBound:
    """The bound on one run's step lengths, as it grows and shrinks over the run."""

    __slots__ = ("limit",)

    def __init__(self) -> None:
        self.limit = 1.0

    def length(self, rr: float, vv: float) -> float:
        """alpha = sqrt(rr / vv) (rr = |r|^2, vv = |v|^2, with vv > 0) within [1, limit]."""
        return min(self.limit, max(1.0, math.sqrt(rr / vv)))

    def taken(self, alpha: float) -> None:
        """A step of length alpha was kept: at the bound, the bound grows."""
        if alpha >= self.limit:
            self.limit *= STEP_FACTOR

    def refused(self, alpha: float) -> None:
        """The extrapolation of length alpha was refused: beyond 1, the bound shrinks."""
        if alpha > 1.0:
            self.limit = max(1.0, self.limit / STEP_FACTOR)
