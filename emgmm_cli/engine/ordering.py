"""The order of a fit's components (FitOptions.order): a pure function of its parameters.

EM's components come out in whatever order the winning restart's start gave them, so the
same optimum reached from another seed, restart or --n-init would be numbered otherwise.
Ordering the final parameters by a rule of the parameters alone makes the labels, the
responsibilities and the model file the same whenever the optimum is:

- weight: largest weight first; weights within vocab.ORDER_WEIGHT_TIE of the next larger
  one count as equal (estimates of equal weights differ in their last digits from run to
  run), and such a group goes by the means' coordinates, smallest first;
- mean: by the means' coordinates (the first, then the next, ...), smallest first;
- none: as they are.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .. import vocab

ORDERS: tuple[str, ...] = vocab.names(vocab.ORDERS)


def component_order(weights: NDArray[np.floating], means: NDArray[np.floating], rule: str
                    ) -> NDArray[np.intp]:
    """The permutation that puts the components in the rule's order: new component j is
    old component order[j]."""
    if rule not in ORDERS:
        raise ValueError(f"unknown order {rule!r}; choose one of {', '.join(ORDERS)}")
    k = len(weights)
    if rule == "none" or k < 2:
        return np.arange(k)
    by_means = np.lexsort(np.asarray(means, dtype=np.float64).T[::-1])  # first coordinate first
    if rule == "mean":
        return by_means
    by_weight = np.argsort(-np.asarray(weights, dtype=np.float64), kind="stable")
    group = np.zeros(k, dtype=np.intp)  # rank of each component's group of equal weights
    for a, b in zip(by_weight[:-1], by_weight[1:]):
        group[b] = group[a] + int(weights[a] - weights[b] > vocab.ORDER_WEIGHT_TIE)
    position = np.empty(k, dtype=np.intp)
    position[by_means] = np.arange(k)
    return np.lexsort((position, group))
