"""What EM does when a component degenerates: the --on-degenerate policies.

A component degenerates when its weight collapses (it explains no points) or its
covariance collapses onto the regularisation floor (em.degenerate_components: a spurious
maximum of the likelihood, a component shrunk onto a few points).  After every M-step the
policy of the fit looks at the new parameters:

- keep (the default): nothing changes during EM.  A collapsed component keeps its mean
  and covariance, and a degenerate one is reported when the fit ends (and loses to any
  restart that is not).  The default because it never changes the model behind the
  user's back: the fit is the one EM reached, with every event named, and n_init or
  select's comparison of restarts deal with spurious maxima as they do in scikit-learn
  and mclust;
- reinit: the component is re-seeded at the point the current mixture explains worst
  (the lowest log-density, among rows of weight > 0), with the average covariance of
  the other components and a weight of one point, and EM goes on;
- drop: the component is removed and EM goes on with K - 1 (the model then has K - 1
  components; the event says which was dropped);
- error: the fit stops with an error naming the component and the iteration.

Each action is a FitEvent of the run (the model's "events", the JSON summary).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
from numpy.typing import NDArray

from .dataset import Dataset, reduce_weighted, row_weights
from .em import STOPPED_DEGENERATE, DegenerateTest, degenerate_components
from .errors import DROPPED, EngineError, FitEvent
from .missing import predictions, row_missing
from .params import MixtureParams
from .stats import predict_chunk

Array = NDArray[np.floating]

#: Event kinds of the policies (FitEvent.kind).
REINITIALISED = "reinitialised"
#: How often one component may be re-seeded before it is left as it is (a component
#: that degenerates again and again is not helped by more re-seeding).
MAX_REINITS = 3


class DegenerateComponent(EngineError):
    """A component degenerated and the policy is 'error', or 'drop' with that component
    the only one left.  The fit stopped, without a result: reports that say why fits
    stopped say degenerate (stopped)."""

    stopped = STOPPED_DEGENERATE

    def __init__(self, component: int, iteration: int, why: str,
                 ending: str = "fit stopped as on_degenerate 'error' asks") -> None:
        super().__init__(f"component {component} degenerated at iteration {iteration} "
                         f"({why}); {ending}")
        self.component = component
        self.iteration = iteration


@dataclass
class _Worst:
    """The lowest log-density of a block and its row (the lower row on a tie)."""

    value: float
    row: int

    def __add__(self, other: "_Worst") -> "_Worst":
        return other if (other.value, other.row) < (self.value, self.row) else self


def _worst_in_block(x: Array, first: int, *, params: MixtureParams,
                    w: NDArray[np.float64] | None = None) -> _Worst:
    return _lowest(predict_chunk(x, params).log_density, first, w)


def _lowest(density: Array, first: int, w: NDArray[np.float64] | None) -> _Worst:
    """The lowest of a block's log-densities (rows from first) among its rows of weight
    above 0 (w: their weights, or None)."""
    density = density.astype(np.float64)
    if w is not None:
        density = np.where(w > 0, density, np.inf)
    i = int(np.argmin(density))
    return _Worst(float(density[i]), first + i)


def worst_row(data: Dataset, params: MixtureParams) -> int:
    """The row the mixture explains worst: the lowest log-density among the rows of weight
    > 0; where rows miss coordinates, the density of the observed ones (as predict gives
    it), not of the rows with their missing values imputed."""
    if row_missing(data) is None:
        return reduce_weighted(data, partial(_worst_in_block, params=params),
                               indexed=True).row
    w = row_weights(data)
    worst = None
    for first, pred in predictions(data, params):
        n = len(pred.log_density)
        block = _lowest(pred.log_density, first, None if w is None else w[first:first + n])
        worst = block if worst is None else worst + block
    assert worst is not None
    return worst.row


@dataclass
class DegeneratePolicy:
    """The after-M-step hook of run_em for one fit: the action and what it needs."""

    action: str
    column_variance: Array
    reg_covar: float
    data: Dataset

    def __post_init__(self) -> None:
        self.reinits: dict[int, int] = {}
        self.test = DegenerateTest.of(self.data, self.column_variance)

    def __call__(self, params: MixtureParams, collapsed: NDArray[np.intp], nk: Array,
                 it: int) -> tuple[MixtureParams, list[FitEvent]]:
        if self.action == "keep":
            return params, []
        bad = self._degenerate(params, collapsed)
        if not bad:
            return params, []
        k, why = bad[0]
        if self.action == "error":
            raise DegenerateComponent(k, it, why)
        if self.action == "drop":
            return self._drop(params, k, it, why)
        return self._reinit(params, k, it, why)

    def _degenerate(self, params: MixtureParams, collapsed: NDArray[np.intp]
                    ) -> list[tuple[int, str]]:
        """The components to act on: those whose mass collapsed in the M-step (em.m_step's,
        in its unit of mass), then those whose covariance collapsed onto the floor."""
        found = [(int(k), "its weight collapsed") for k in collapsed]
        seen = {k for k, _ in found}
        found += [(k, "its covariance collapsed onto the regularisation floor")
                  for k in degenerate_components(params, self.test, self.reg_covar)
                  if k not in seen]
        if self.action == "reinit":
            found = [(k, why) for k, why in found if self.reinits.get(k, 0) < MAX_REINITS]
        return found

    def _drop(self, params: MixtureParams, k: int, it: int, why: str
              ) -> tuple[MixtureParams, list[FitEvent]]:
        if params.n_components == 1:
            raise DegenerateComponent(k, it, why, "fit stopped: it is the only component, "
                                                  "which on_degenerate 'drop' cannot drop")
        keep = np.array([j for j in range(params.n_components) if j != k])
        cov = params.covariances[keep] if params.family.per_component else params.covariances
        weights = params.weights[keep] / params.weights[keep].sum()
        new = MixtureParams.build(weights, params.means[keep], cov, params.covariance_type)
        left = f"{new.n_components} component{'s' if new.n_components > 1 else ''}"
        # component None: the index names a component that no longer exists (values
        # keeps it, numbered as the components were when it was dropped)
        return new, [FitEvent(DROPPED, f"component {k} of {params.n_components} dropped at "
                                       f"iteration {it} ({why}); EM continues with {left}",
                              None, it, {"component": k})]

    def _reinit(self, params: MixtureParams, k: int, it: int, why: str
                ) -> tuple[MixtureParams, list[FitEvent]]:
        row = worst_row(self.data, params)
        means = params.means.copy()
        means[k] = self.data.take(np.array([row]))[0]
        cov = params.covariances.copy()
        others = [j for j in range(params.n_components) if j != k]
        if params.family.per_component and others:
            cov[k] = cov[others].mean(axis=0)
        weights = params.weights.copy()
        weights[k] = max(weights[k], 1.0 / max(self.data.n_samples, 1))
        new = MixtureParams.build(weights / weights.sum(), means, cov, params.covariance_type)
        self.reinits[k] = self.reinits.get(k, 0) + 1
        return new, [FitEvent(REINITIALISED, f"component {k} re-seeded at iteration {it} "
                                             f"({why}) at row {row}, the point the "
                                             "mixture explained worst", k, it)]
