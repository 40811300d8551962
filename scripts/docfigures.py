"""The numbers docs/numerics.md quotes, computed by running emgmm on the sample data.

Each function fits what the page describes and returns a Markdown block (a table and a
line saying how to repeat it); scripts/make_docs.py writes them between the page's
generated-block markers, and tests/test_docs.py fails when one is out of date.  So a
change to the engine that moves a figure shows up as a stale page, not as a page that
quietly says something else.

Everything runs in this process through the Python API, with fixed seeds, on files in the
repository: sample_data/ and the mclust 6.0 reference table in tests/data/.  A full
rendering takes a few seconds, most of it the Old Faithful selection.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from docfacts import number
from docgen import REPO_ROOT, markdown_table

FAITHFUL = "sample_data/faithful.csv"
HEIGHTS = "sample_data/heights.csv"
BLOBS = "sample_data/blobs4.csv"
MCLUST = "tests/data/mclust_faithful.csv"
#: Log-likelihoods closer than this count as the same optimum (the tables show 2 decimals).
SAME_LOGLIK = 0.01


def path(name: str) -> str:
    return str(REPO_ROOT / name)


def note(text: str) -> str:
    return f"\n\n<sub>{text}</sub>"


def bold(text: str, chosen: bool) -> str:
    return f"**{text}**" if chosen else text


def default_options() -> dict[str, Any]:
    """The defaults of init, n_init, tol and max_iter (fit's and select's)."""
    from emgmm_cli.engine.options import FIT_DEFAULTS

    return dict(FIT_DEFAULTS)


#: scikit-learn's GaussianMixture's default tol, the row the convergence table compares
#: (tests/test_docs.py checks it against scikit-learn).
SKLEARN_TOL = 1e-3


@cache
def mclust() -> dict[tuple[str, int], tuple[float, float]]:
    """(covariance_type, K) -> mclust 6.0's log-likelihood and BIC (mclust's sign)."""
    with open(path(MCLUST), newline="", encoding="utf-8") as fh:
        return {(r["covariance_type"], int(r["K"])): (float(r["loglik"]), float(r["mclust_bic"]))
                for r in csv.DictReader(fh)}


@cache
def faithful_selection() -> Any:
    """`emgmm select sample_data/faithful.csv -k 1-9 -c full,tied,diag,spherical --seed 0`,
    through the Python API (the four families of tests/data/mclust_faithful.csv)."""
    import emgmm_cli

    return emgmm_cli.select(path(FAITHFUL), range(1, 10),
                            ("full", "tied", "diag", "spherical"), seed=0)


def faithful_select() -> str:
    """Each family's best cell by BIC, ours and mclust's, and how the cells compare."""
    rows = [r for r in faithful_selection().rows() if r["status"] == "ok"]
    ref_best = max(mclust(), key=lambda cell: mclust()[cell][1])
    table, moved = [], []
    for family in dict.fromkeys(r["covariance_type"] for r in rows):
        ours = min((r for r in rows if r["covariance_type"] == family), key=lambda r: r["bic"])
        k_ref = max((k for f, k in mclust() if f == family), key=lambda k: mclust()[family, k][1])
        ref = mclust()[family, k_ref]
        if ours["n_components"] != k_ref:
            moved.append(family)
        table.append([f"{family} ({ours['mclust']})", ours["n_components"],
                      f"{ours['log_likelihood']:.2f}", bold(f"{ours['bic']:.2f}", ours["best"]),
                      k_ref, f"{ref[0]:.2f}", bold(f"{ref[1]:.2f}", (family, k_ref) == ref_best)])
    gains = [r["log_likelihood"] - mclust()[r["covariance_type"], r["n_components"]][0]
             for r in rows]
    above, below = sum(g > SAME_LOGLIK for g in gains), sum(g < -SAME_LOGLIK for g in gains)
    chosen = next(r for r in rows if r["best"])
    same = (chosen["covariance_type"], chosen["n_components"]) == ref_best
    return markdown_table(
        ["family", "K", "log-lik", "BIC", "mclust K", "mclust log-lik", "mclust BIC"], table
    ) + (f"\n\nOver the {len(gains)} cells, emgmm's log-likelihood is higher than mclust's "
         f"by more than {SAME_LOGLIK} in {above}, lower by more than that in {below}, and the "
         f"same within {SAME_LOGLIK} in the other {len(gains) - above - below}. The best K of a "
         f"family differs from mclust's in {', '.join(moved) or 'none'}; the chosen model is "
         f"{'the same as' if same else 'not'} mclust's." + note(
             "Computed by scripts/docfigures.py (`emgmm select sample_data/faithful.csv -k 1-9 "
             "-c full,tied,diag,spherical --seed 0`); mclust's numbers are tests/data/mclust_faithful.csv."))


def faithful_fit(k: int, covariance_type: str = "full", **options: Any) -> Any:
    """A fit of Old Faithful for a figure; its warnings (the degenerate one's, the point
    of its figure) are the figure's to say."""
    import warnings

    import emgmm_cli

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emgmm_cli.FitWarning)
        return emgmm_cli.fit(path(FAITHFUL), k, covariance_type=covariance_type,
                             **{**default_options(), "n_init": 1, "seed": 0, **options})


def convergence() -> str:
    """tied K = 3 on Old Faithful from the same k-means start (a run from the hierarchy
    is plain EM until mclust's rule holds: docs/numerics.md): scikit-learn's tol and the
    default, plain EM and SQUAREM."""
    default = default_options()["tol"]
    table = []
    for tol, accelerate, name in ((SKLEARN_TOL, "none", "scikit-learn's, plain EM"),
                                  (default, "none", "the default, plain EM"),
                                  (default, "squarem", "the default, SQUAREM")):
        f = faithful_fit(3, "tied", tol=tol, accelerate=accelerate, init="kmeans")
        table.append([f"{number(tol)} ({name})", f.n_iter, f"{f.log_likelihood:.2f}",
                      f"{f.bic:.2f}"])
    ref_loglik, ref_bic = mclust()["tied", 3]
    table.append(["mclust 6.0", "", f"{ref_loglik:.2f}", f"{-ref_bic:.2f}"])
    return markdown_table(["tol", "iterations", "log-lik", "BIC"], table) + note(
        "Computed by scripts/docfigures.py: `emgmm fit sample_data/faithful.csv -k 3 -c tied "
        "--init kmeans --n-init 1 --max-iter 2000 --seed 0 --tol TOL --accelerate "
        "none|squarem`; mclust's BIC in emgmm's sign.")


def hc_start() -> str:
    """full K = 4 on Old Faithful from the hierarchy alone, k-means, and the default."""
    n_init = default_options()["n_init"]
    starts = (("hc, 1 restart", {"init": "hc"}),
              ("kmeans, 10 restarts", {"init": "kmeans", "n_init": 10}),
              (f"auto, {n_init} runs (the default)", {"init": "auto", "n_init": n_init}),
              ("auto, 10 runs", {"init": "auto", "n_init": 10}))
    table = [[name, f"{faithful_fit(4, **options).log_likelihood:.2f}"]
             for name, options in starts]
    table.append(["mclust 6.0 (its hierarchy, one start)", f"{mclust()['full', 4][0]:.2f}"])
    return markdown_table(["start", "log-lik"], table) + note(
        "Computed by scripts/docfigures.py: full, K = 4, tol 1e-7, max-iter 2000, seed 0.")


def hard_em() -> str:
    """Soft and hard EM on the two overlapping groups of sample_data/heights.csv."""
    import emgmm_cli
    import pandas as pd

    data = pd.read_csv(path(HEIGHTS))
    data["label"] = np.loadtxt(path(HEIGHTS).replace(".csv", ".labels.csv"), dtype=int)
    truth = data.groupby("label")["height"].mean().sort_values()
    table: list[list[object]] = [["the groups' own means (label)", *(f"{m:.3f}" for m in truth), ""]]
    for algorithm in ("soft", "hard"):
        f = emgmm_cli.fit(data[["height"]], 2, algorithm=algorithm, seed=0)
        table.append([f"{algorithm} EM", *(f"{m:.3f}" for m in np.sort(f.means[:, 0])),
                      f.n_iter])
    return markdown_table(["", "lower mean", "upper mean", "iterations"], table) + note(
        "Computed by scripts/docfigures.py: `emgmm fit sample_data/heights.csv -k 2 --seed 0 "
        "--algorithm soft|hard`.")


def degenerate() -> str:
    """The spurious maximum of diag K = 5 on Old Faithful, started from 5 data points."""
    from emgmm_cli.engine.em import SINGULAR_RATIO

    f = faithful_fit(5, "diag", init="random-from-data", seed=4)
    x = np.loadtxt(path(FAITHFUL), delimiter=",", skiprows=1)
    floor = SINGULAR_RATIO * float(x.var(axis=0).min())
    reg = f.document["options"]["reg_covar"]
    # the claim below: each one's spread, less reg_covar, is rounding, far under the bound
    assert all(np.min(f.covariances[j]) - reg < 1e-3 * floor for j in f.document["degenerate"])
    table = [[f"component {j}", f"{f.weights[j] * len(x):.1f}",
              len(np.unique(x[f.labels == j, 1])), f"{np.min(f.covariances[j]):.1e}"]
             for j in f.document["degenerate"]]
    best = faithful_selection().best
    return markdown_table(["degenerate", "points (weight x N)", "distinct waiting values",
                           "smallest variance"], table) + (
        f"\n\nThat variance is reg_covar ({number(reg)}) and rounding: less reg_covar it is far "
        f"below the bound of rounding, {number(SINGULAR_RATIO)} times the smallest column variance "
        f"({floor:.1e}). The fit's BIC is {f.bic:.1f}, far below the {best.bic:.1f} of the "
        "best legitimate fit (the choice of `emgmm select`)." + note(
            "Computed by scripts/docfigures.py: `emgmm fit sample_data/faithful.csv -k 5 -c diag "
            f"--init random-from-data --n-init 1 --tol {number(f.document['options']['tol'])} "
            f"--max-iter {f.document['options']['max_iter']} --seed 4`."))


#: The bound float32's parameters keep to, relative to each array's largest entry: a fixed
#: claim that float32() checks, since how far below it they are depends on the machine's
#: BLAS kernels (2.8e-5 with AVX-512, under 1e-5 without).
FLOAT32_BOUND = 1e-4


def float32() -> str:
    """float32 against float64 on the four-blob sample."""
    import emgmm_cli

    read = {dtype: emgmm_cli.ReadOptions(columns=("x", "y"), dtype=dtype)
            for dtype in ("float64", "float32")}
    fits = {dtype: emgmm_cli.fit(path(BLOBS), 4, read=r, seed=0) for dtype, r in read.items()}
    a, b = fits["float64"], fits["float32"]
    same = int(np.sum(a.labels == b.labels))
    worst = max(float(np.max(np.abs(getattr(b, p) - getattr(a, p)) / np.max(np.abs(getattr(a, p)))))
                for p in ("weights", "means", "covariances"))
    if not worst < FLOAT32_BOUND:
        raise AssertionError(f"float32's parameters differ by {worst:g}, not below the "
                             f"{FLOAT32_BOUND:g} the docs claim")
    bound = number(FLOAT32_BOUND)
    return (f"On sample_data/blobs4.csv (K = 4, seed 0) float32 gives float64's label on "
            f"{same} of {len(a.labels)} rows, and its weights, means and covariances differ by "
            f"less than {bound} relative to each array's largest entry." + note(
                "Computed by scripts/docfigures.py."))


#: Block name -> the function that renders it.
FIGURES: dict[str, Callable[[], str]] = {
    "faithful-select": faithful_select,
    "convergence": convergence,
    "hc-start": hc_start,
    "hard-em": hard_em,
    "degenerate": degenerate,
    "float32": float32,
}
