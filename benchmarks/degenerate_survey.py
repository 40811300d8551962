"""The survey behind the degenerate rule's bounds (engine.em.DegenerateTest; the figures
of docs/numerics.md, "Degenerate fits").

For every component of the fits below, the rule's verdict is set beside the earlier
rule's (below DEGENERATE_RATIO times the least column variance, whatever the rows and
shape): the script counts the components the earlier rule called degenerate and the new
one does not (expected: none on these data), and, among those the new rule catches by
their own rows alone (DegenerateTest.own_spread: the rows are flat to rounding, in a
family that shares part of each covariance), the largest smallest eigenvalue of those
rows' scatter found, in units of the least column variance, against SINGULAR_RATIO.

- `--init random-from-data --n-init 1` fits of Old Faithful by the nine families whose
  components share part of their covariance or all of it (VVE, EVE, VEE, VEV, EVV, EEV,
  VEI, EVI, EEE), K = 5..9, seeds 0..14;
- `emgmm_cli.select` with every family and K = 1..9 on Old Faithful, iris and wine (raw
  and standardised), seed 0: each cell's chosen fit; of the components of many rows that
  the rule flags in a family that shares part of each covariance, the largest share of
  their rows' own least variance in their covariance's least eigenvalue, against
  FLAT_SHARE (a tight cluster's rows fill their covariance: a share near 1);
- for the rounding bound of the families whose components share nothing (em.ROUNDING_BOUND,
  which caps the first bound there): `--init random-from-data --n-init 1` fits with K = 6
  and 9, seeds 0..3, of Old Faithful, iris, wine and breast cancer (raw and standardised)
  by those families and by VVE; among the components below SINGULAR_RATIO times the least
  column variance, the largest distance above the floor in units of the data's rounding at
  the component (DegenerateTest.rounding / ROUNDING_BOUND), per family.

    python benchmarks/degenerate_survey.py          # about five minutes on 2 cores
"""

from __future__ import annotations

import itertools
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import emgmm_cli  # noqa: E402
from emgmm_cli.backends.local import ArrayDataset  # noqa: E402
from emgmm_cli.engine.em import (DEGENERATE_RATIO, FEW_ROWS_PER_DIM,  # noqa: E402
                                 FLAT_LOOK, FLAT_SHARE, ROUNDING_BOUND, SINGULAR_RATIO,
                                 DegenerateTest)
from emgmm_cli.engine.params import MixtureParams  # noqa: E402

REG_COVAR = 1e-6
SHARED = ("VVE", "EVE", "VEE", "VEV", "EVV", "EEV", "VEI", "EVI", "EEE")


class Tally:
    """The components judged so far: how many each rule flags, those only the earlier
    one flags, and the own spread (in units of the least column variance) of those caught
    by their own rows alone."""

    def __init__(self) -> None:
        self.earlier = self.now = 0
        self.missed: list[str] = []
        self.own_only: list[tuple[float, str]] = []  # (own spread, family)
        # components between DEGENERATE_RATIO and FLAT_LOOK of a family that shares part
        # of its covariance: the own spreads of those the rule flags, and of the others
        self.flat: list[float] = []
        self.held: list[float] = []
        # of the components of many rows the rule flags in a family that shares part of
        # its covariance: their own rows' least variance, to their covariance's (FLAT_SHARE)
        self.shares: list[float] = []

    def judge(self, where: str, params: MixtureParams, x: np.ndarray) -> None:
        test = DegenerateTest.of(ArrayDataset(x), x.var(axis=0))
        now = set(test.each([params], REG_COVAR)[0])
        live = x.var(axis=0) > 0
        cov = params.full_covariances()[:, live][:, :, live]
        spread = np.linalg.eigvalsh(cov) - REG_COVAR
        smallest = float(x.var(axis=0)[live].min())
        rows = params.weights * len(x)
        many = rows >= FEW_ROWS_PER_DIM * (params.n_features + 1)  # as the rule counts them
        if params.family.per_component and params.family.equal and params.n_components > 1:
            flagged = np.array(sorted(k for k in now if many[k]), dtype=np.intp)
            if len(flagged):
                own = test.own_spread(params, flagged, np.flatnonzero(live))
                self.shares += (own / (spread[flagged, 0] + REG_COVAR)).tolist()
        for k in range(params.n_components):
            if spread[k, 0] >= DEGENERATE_RATIO * smallest:
                if spread[k, 0] < FLAT_LOOK * smallest and params.family.per_component \
                        and params.family.equal and params.n_components > 1:
                    own = test.own_spread(params, np.array([k]), np.flatnonzero(live))
                    (self.flat if k in now else self.held).append(float(own[0]) / smallest)
                continue
            self.earlier += 1
            if k not in now:
                self.missed.append(f"{where} component {k}")
                continue
            self.now += 1
            singular = spread[k, 0] < test.singular * smallest
            if not singular and rows[k] >= FEW_ROWS_PER_DIM * (params.n_features + 1):
                own = test.own_spread(params, np.array([k]), np.flatnonzero(live))
                self.own_only.append((float(own[0]) / smallest, params.family.mclust))


#: The families of the rounding survey: those whose components share nothing, and VVE.
ROUNDING_FAMILIES = ("VVV", "EEE", "VVI", "VII", "EEI", "EII", "VVE")


def rounding_survey(data: dict[str, np.ndarray]) -> dict[str, tuple[int, float]]:
    """Per family: the components below the first bound (SINGULAR_RATIO times the least
    column variance) and the largest distance of one above the floor, in units of the
    data's rounding at it."""
    found: dict[str, tuple[int, float]] = {}
    for x in data.values():
        test = DegenerateTest.of(ArrayDataset(x), x.var(axis=0))
        live = np.flatnonzero(x.var(axis=0) > 0)
        smallest = float(x.var(axis=0)[live].min())
        for fam, k, seed in itertools.product(ROUNDING_FAMILIES, (6, 9), range(4)):
            try:
                fit = emgmm_cli.fit(x, k, covariance_type=fam, n_init=1,
                                    init="random-from-data", seed=seed)
            except emgmm_cli.EngineError:
                continue
            params = fit.params
            cov = params.full_covariances()[:, live][:, :, live]
            eig = np.linalg.eigvalsh(cov).astype(np.float64)
            above = eig[:, 0] - REG_COVAR
            unit = test.rounding([params], live, eig[None, :, -1])[0] / ROUNDING_BOUND
            low = above < SINGULAR_RATIO * smallest
            count, worst = found.get(fam, (0, -np.inf))
            found[fam] = (count + int(low.sum()),
                          max([worst] + (above[low] / unit[low]).tolist()))
    return found


def datasets(more: bool = False) -> dict[str, np.ndarray]:
    """Old Faithful, iris and wine (raw and standardised); more: breast cancer too."""
    from sklearn.datasets import load_breast_cancer, load_iris, load_wine

    out = {"faithful": np.loadtxt(ROOT / "sample_data" / "faithful.csv", delimiter=",",
                                  skiprows=1)}
    loads = [("iris", load_iris), ("wine", load_wine)]
    for name, load in loads + ([("breast cancer", load_breast_cancer)] if more else []):
        x = np.asarray(load().data, dtype=np.float64)
        out[name] = x
        out[name + " (std)"] = (x - x.mean(axis=0)) / x.std(axis=0)
    return out


def main() -> None:
    t = time.perf_counter()
    tally = Tally()
    data = datasets()
    faithful = data["faithful"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emgmm_cli.FitWarning)  # degenerate fits are the point
        for fam in SHARED:
            for k in range(5, 10):
                for seed in range(15):
                    fit = emgmm_cli.fit(faithful, k, covariance_type=fam, n_init=1,
                                        init="random-from-data", seed=seed)
                    tally.judge(f"faithful {fam} K={k} seed {seed}", fit.params, faithful)
        fits = 9 * 5 * 15
        for name, x in data.items():
            selected = emgmm_cli.select(x, range(1, 10), None, seed=0)
            for cell in selected.cells:
                if cell.result is not None:
                    tally.judge(f"{name} {cell.cell.covariance_type} "
                                f"K={cell.cell.n_components}", cell.result.params, x)
                    fits += 1
    print(f"{fits} fits, {time.perf_counter() - t:.0f} s")
    print(f"components the earlier rule calls degenerate: {tally.earlier}; the new rule: "
          f"{tally.now}; only the earlier: {len(tally.missed)}")
    for where in tally.missed:
        print("  ", where)
    if tally.flat or tally.held:
        print(f"between DEGENERATE_RATIO and FLAT_LOOK ({FLAT_LOOK:g}) of the least column "
              f"variance, in families that share part of it: {len(tally.flat)} flat "
              f"(own rows' least variance at most "
              f"{max(tally.flat, default=float('nan')):.2g} of it), {len(tally.held)} not "
              f"(at least {min(tally.held, default=float('nan')):.2g})")
    if tally.shares:
        print(f"flagged, of many rows, in families that share part of the covariance: "
              f"{len(tally.shares)}, their own rows' least variance at most "
              f"{max(tally.shares):.2g} of their covariance's (FLAT_SHARE {FLAT_SHARE:g})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emgmm_cli.FitWarning)
        rounding = rounding_survey(datasets(more=True))
    print(f"below SINGULAR_RATIO ({SINGULAR_RATIO:g}) of the least column variance, in units "
          f"of the data's rounding at the component (ROUNDING_BOUND {ROUNDING_BOUND:g}):")
    for fam, (count, worst) in rounding.items():
        print(f"  {fam}: {count} components" + (f", the largest {worst:.2g} above the floor"
                                                  if count else ""))
    if tally.own_only:
        families = sorted({fam for _, fam in tally.own_only})
        print(f"caught by their own rows alone: {len(tally.own_only)} (of "
              f"{', '.join(families)}), their rows' least variance at most "
              f"{max(r for r, _ in tally.own_only):.2g} of the least column variance "
              f"(SINGULAR_RATIO {SINGULAR_RATIO:g})")


if __name__ == "__main__":
    main()
