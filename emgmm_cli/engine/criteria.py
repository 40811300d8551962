"""Information criteria, in scikit-learn's sign convention: lower is better.

mclust reports BIC with the opposite sign (larger is better): mclust's BIC = -(ours).
ICL (Biernacki, Celeux & Govaert 2000) adds to BIC twice the entropy of the
classification, so it penalises overlapping components: ICL = BIC - 2 sum_i log max_k r_ik.
"""

from __future__ import annotations

import math


def bic(loglik: float, n_parameters: int, n_samples: float) -> float:
    """n_samples: N, or the sum of the sample weights of a weighted fit."""
    return -2.0 * loglik + n_parameters * math.log(n_samples)


def aic(loglik: float, n_parameters: int) -> float:
    return -2.0 * loglik + 2.0 * n_parameters


def icl(loglik: float, n_parameters: int, n_samples: float, log_max_resp: float) -> float:
    return bic(loglik, n_parameters, n_samples) - 2.0 * log_max_resp
