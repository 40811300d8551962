"""The versioned model document: what `fit --model` writes and `--json` prints.

Format "emgmm-model", version 1: a JSON object with

  format, version, emgmm_version
  covariance_type, n_components, n_features, feature_names
  weights (K), means (K x D), covariances (K x D x D full, D x D tied, K x D diag, K spherical)
  n_samples, log_likelihood (of the final parameters), mean_log_likelihood, n_parameters,
  bic, aic, icl (lower is better), converged, n_iter, degenerate (component indices),
  events ([{kind, component, iteration, message}]), restart_log_likelihoods
  options (every fit option, with the seed actually used), source (the input file)

The numbers are written with full precision (Python's shortest round-trip repr).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..engine.fit import FitResult

MODEL_FORMAT = "emgmm-model"
MODEL_VERSION = 1


def _finite_or_none(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def model_document(result: "FitResult", *, feature_names: list[str], source: str,
                   means_init: str | None = None) -> dict[str, Any]:
    """The model file's content for a fit (also the `--json` summary)."""
    from .. import __version__

    p = result.params
    opts = result.options
    return {
        "format": MODEL_FORMAT,
        "version": MODEL_VERSION,
        "emgmm_version": __version__,
        "covariance_type": p.covariance_type,
        "n_components": p.n_components,
        "n_features": p.n_features,
        "feature_names": list(feature_names),
        "weights": p.weights.tolist(),
        "means": p.means.tolist(),
        "covariances": p.covariances.tolist(),
        "n_samples": result.n_samples,
        "log_likelihood": _finite_or_none(result.loglik),
        "mean_log_likelihood": _finite_or_none(result.mean_loglik),
        "n_parameters": result.n_parameters,
        "bic": _finite_or_none(result.bic),
        "aic": _finite_or_none(result.aic),
        "icl": _finite_or_none(result.icl),
        "converged": result.converged,
        "n_iter": result.n_iter,
        "degenerate": list(result.degenerate),
        "events": [e.to_dict() for e in result.events],
        "restart_log_likelihoods": [_finite_or_none(v) for v in result.restart_logliks],
        "options": {
            "n_components": opts.n_components,
            "covariance_type": opts.covariance_type,
            "init": "means-init" if means_init else opts.init,
            "means_init": means_init,
            "n_init": opts.n_init,
            "tol": opts.tol,
            "max_iter": opts.max_iter,
            "reg_covar": opts.reg_covar,
            "algorithm": opts.algorithm,
            "seed": opts.seed,
        },
        "source": source,
    }
