"""A complete fit: validation, restarts from child seeds, the best run, its criteria."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from numpy.typing import NDArray

from . import criteria
from .families import family
from .dataset import Dataset
from .em import TraceRow, degenerate_components, run_em
from .errors import FitEvent, InvalidParameter
from .hc import HcTree
from .init import INIT_METHODS, distinct_rows, initial_params, restart_method
from .params import MixtureParams
from .stats import chunk_moments

Array = NDArray[np.floating]

ALGORITHMS: tuple[str, ...] = ("soft", "hard")

#: on_iteration(restart, iteration, mean objective, change)
ProgressCallback = Callable[[int, int, float, float], None]


@dataclass(frozen=True)
class FitOptions:
    """Everything that decides a fit.  Defaults follow scikit-learn's GaussianMixture."""

    n_components: int
    covariance_type: str = "full"
    init: str = "kmeans"
    n_init: int = 1
    tol: float = 1e-3
    max_iter: int = 100
    reg_covar: float = 1e-6
    algorithm: str = "soft"
    seed: int | None = None

    def validate(self) -> None:
        family(self.covariance_type)
        if self.n_components < 1:
            raise InvalidParameter(f"the number of components must be >= 1, got {self.n_components}")
        if self.init not in INIT_METHODS:
            raise InvalidParameter(f"unknown init {self.init!r}; choose one of {', '.join(INIT_METHODS)}")
        if self.algorithm not in ALGORITHMS:
            raise InvalidParameter(f"unknown algorithm {self.algorithm!r}; choose soft or hard")
        if self.n_init < 1 or self.max_iter < 1:
            raise InvalidParameter("n_init and max_iter must be >= 1")
        if not (self.tol >= 0 and self.reg_covar >= 0):
            raise InvalidParameter("tol and reg_covar must be >= 0")


@dataclass
class FitResult:
    """The best run of a fit, with what a user needs to judge it."""

    params: MixtureParams
    options: FitOptions
    n_samples: int
    loglik: float
    n_iter: int
    converged: bool
    trace: list[TraceRow]
    events: list[FitEvent]
    degenerate: list[int]
    log_max_resp: float
    best_restart: int
    restart_logliks: list[float] = field(default_factory=list)

    @property
    def mean_loglik(self) -> float:
        return self.loglik / self.n_samples

    @property
    def n_parameters(self) -> int:
        return self.params.n_parameters()

    @property
    def bic(self) -> float:
        return criteria.bic(self.loglik, self.n_parameters, self.n_samples)

    @property
    def aic(self) -> float:
        return criteria.aic(self.loglik, self.n_parameters)

    @property
    def icl(self) -> float:
        return criteria.icl(self.loglik, self.n_parameters, self.n_samples, self.log_max_resp)

    @property
    def is_degenerate(self) -> bool:
        return bool(self.degenerate)


#: Restarts whose final log-likelihoods agree to this relative tolerance reached the same
#: optimum (often with the components in another order); their difference is rounding,
#: which depends on how the rows were chunked, so the earlier restart is kept.
RESTART_TIE_RTOL = 1e-9


def _better(a: FitResult, b: FitResult | None) -> bool:
    """Non-degenerate beats degenerate; then the clearly higher final log-likelihood wins."""
    if b is None:
        return True
    if a.is_degenerate != b.is_degenerate:
        return not a.is_degenerate
    return a.loglik > b.loglik + RESTART_TIE_RTOL * abs(b.loglik)


def fit(
    data: Dataset,
    options: FitOptions,
    *,
    means_init: Array | None = None,
    on_iteration: ProgressCallback | None = None,
    hc_tree: HcTree | None = None,
) -> FitResult:
    """Fit a Gaussian mixture to ``data``: n_init runs, the best one kept.

    Restart r draws from child r of the SeedSequence of ``options.seed``, so a run is
    reproducible whatever the chunking or threading.  A restart that ends degenerate loses
    to any that does not (a spurious maximum is not a better fit).  With init "hc" the
    first restart cuts ``hc_tree`` (built from the data when None) and the others start
    as init.restart_method says.
    """
    options.validate()
    k, n = options.n_components, data.n_samples
    if n < 2:
        raise InvalidParameter(f"need at least 2 rows to fit a mixture, got {n}")
    if k > n:
        raise InvalidParameter(f"{k} components need at least {k} rows; the data has {n}")
    n_distinct = distinct_rows(data, k)
    if n_distinct < k:
        raise InvalidParameter(
            f"{k} components but the data has only {n_distinct} distinct points; "
            "use fewer components"
        )
    moments = data.reduce(chunk_moments)
    children = np.random.SeedSequence(options.seed).spawn(options.n_init)
    best: FitResult | None = None
    logliks: list[float] = []
    for r, child in enumerate(children):
        rng = np.random.default_rng(child)
        method = restart_method(options.init, r)
        start = initial_params(
            data, k, options.covariance_type, method, rng,
            reg_covar=options.reg_covar, column_mean=moments.mean,
            column_variance=moments.variance, means_init=means_init, hc_tree=hc_tree,
        )
        callback = None if on_iteration is None else (
            lambda it, obj, ch, r=r: on_iteration(r, it, obj, ch))
        run = run_em(
            data, start, tol=options.tol, max_iter=options.max_iter,
            reg_covar=options.reg_covar, hard=options.algorithm == "hard",
            on_iteration=callback,
        )
        degenerate = degenerate_components(run.params, moments.variance, options.reg_covar)
        events = list(run.events)
        for c in degenerate:
            events.append(FitEvent(
                "degenerate",
                f"component {c}: covariance collapsed onto the regularisation floor "
                "(a spurious maximum of the likelihood); try fewer components, another "
                "covariance type, or more restarts",
                c, run.n_iter,
            ))
        if not run.converged:
            events.append(FitEvent(
                "not-converged",
                f"did not converge in {options.max_iter} iteration"
                f"{'s' if options.max_iter > 1 else ''}"
                + ("" if math.isnan(run.trace[-1].change)
                   else f" (last change {run.trace[-1].change:.3g}, tol {options.tol:g})")
                + "; raise --max-iter, try another --init, or check for degenerate data",
                None, run.n_iter,
            ))
        result = FitResult(
            params=run.params, options=options, n_samples=n, loglik=run.final.loglik,
            n_iter=run.n_iter, converged=run.converged, trace=run.trace, events=events,
            degenerate=degenerate, log_max_resp=run.final.log_max_resp, best_restart=r,
        )
        logliks.append(result.loglik)
        if _better(result, best):
            best = result
        if means_init is not None:
            break  # every restart would start from the same means
    assert best is not None
    best.restart_logliks = logliks
    return best
