#!/usr/bin/env python3
"""Optima and speed of emgmm's default start against scikit-learn and mclust.

    python benchmarks/optima.py                 # everything (tens of minutes)
    python benchmarks/optima.py --quick         # faithful and iris only, K 1-4
    python benchmarks/optima.py --only speed    # or: optima

Not part of the test suite.  It needs scikit-learn (pip install '.[test]'); R's mclust
(Debian: r-base-core and r-cran-mclust) where installed; where not, it says so, the
optima table takes mclust's cells from the cache below and the speed table leaves R's
columns out.  It prints markdown and writes it to docs/optima.md (--out),
with the command, the date, the machine and the versions.

Optima
------
Datasets: Old Faithful (sample_data/faithful.csv) and scikit-learn's real datasets
iris, wine and breast cancer, raw and standardised (columns centred, unit variance);
families full, tied, diag, spherical (mclust's VVV, EEE, VVI, VII), K = 1..9.  In each
cell:

- emgmm: the default fit with 10 runs, engine.fitting.fit(FitOptions(K, covariance_type,
  n_init=10, seed=0)) on the data in memory, what `emgmm fit DATA -k K -c FAMILY
  --n-init 10 --seed 0` runs ("default fit"), which the best and worst-gap columns use;
  and for comparison the same with all 10 runs from the screening, no split-and-merge
  moves (engine.splitmerge.FROM_RUNS raised above 10; "without moves"), and the same
  with scikit-learn's default tol and max-iter (read from GaussianMixture; "at
  scikit-learn's tol");
- scikit-learn: GaussianMixture(K, covariance_type, n_init=30, init_params="kmeans",
  tol=1e-7, max_iter=2000, random_state=0) (PEER_TOL, PEER_MAX_ITER: fixed, so that the
  target does not loosen with emgmm's tol), its best of 30 k-means restarts;
- mclust: Mclust(X, G = K, modelNames = MODEL), run by Rscript: its log-likelihood
  ("mclust raw") and its fitted weights, means and covariances;
- mclust refined: mclust's optimum under emgmm's regularisation.  mclust fits with no
  covariance floor, while emgmm and scikit-learn add reg_covar 1e-6 to every covariance,
  so where a covariance is nearly singular mclust's log-likelihood is out of reach of any
  regularised fit (raw breast cancer, K = 1, in closed form: 18499.87 without the floor,
  18373.36 with it).  So mclust's parameters, converted to the family's shape (full
  (K, D, D), tied (D, D), diag (K, D), spherical (K,); MixtureParams.build), start plain
  EM (engine.em.run_em, accelerate "none", reg_covar 1e-6, tol 1e-7, max-iter 2000),
  and the log-likelihood where it ends is mclust's in the target.  On faithful, where
  the floor is negligible, the script asserts that the refined log-likelihood is at
  least the raw one less TARGET_SLACK.

A fit counts only if it is not degenerate (engine.em.degenerate_components: a covariance
collapsed onto reg_covar, a spurious maximum); scikit-learn's fits and mclust's refined
ones are checked the same way.  The target of a cell is max(scikit-learn, mclust
refined) over the fits that count; a cell meets it when emgmm's log-likelihood is at least
that less TARGET_SLACK.  Per dataset the table gives the cells each method is best in
(within TARGET_SLACK of the best, so ties count for each), each method's worst gap to the
best, and the range of mclust raw less mclust refined (the floor's cost where positive);
mclust raw is for reference only, in no target.

scikit-learn's and mclust's cells are cached, each cell as it finishes, in
benchmarks/results/optima_sklearn.json and optima_mclust.json, keyed "dataset/family/K"
(log-likelihood, whether degenerate, seconds; mclust's with its fitted parameters, so
that the refinement and the table need no R), with the peer's version, its settings and a
sha256 of each dataset: a run computes only the cells missing for the same version,
settings and data (--refresh-sklearn, --refresh-mclust: all of them).  Where R is not
installed the mclust cache is used whatever its version.  emgmm's cells and the
refinements (cheap) are always recomputed.  --only optima rewrites only its section of
--out, --only speed only its.

Speed
-----
`emgmm select DATA --seed 0 -c VVV,EEE,VVI,VII` with its other defaults (a subprocess,
process start to exit; select's own default grid is all 14 models; its default --jobs
auto runs worker processes, one per core, on the larger dataset), the same with --jobs 1
(every cell in the one process), and `Rscript` running Mclust(X, G = 1:9, modelNames =
c("VVV","EEE","VVI","VII")) on the same CSV with R's seed set to 0 as well, alternately,
--repeats times, medians.  (Over 2000 rows, Mclust builds its hierarchy on a random 2000 of
them, mclust.options("subset"), drawn from R's generator: unseeded, its optima on the
larger dataset change from run to run.)  Each also reports the seconds of the call alone
(emgmm_cli.select(..., jobs="auto") in a Python process; system.time(Mclust(...))), which
leave out the interpreters' start.
Data: Old Faithful, and 20,000 x 5 points from 5 spherical Gaussians (unit variance,
centres uniform in [-10, 10]^5, numpy seed 5).  Per cell: emgmm's log-likelihood less
mclust's, and the passes over the data of the chosen run with --accelerate squarem (the
default) and none, from the same seed.

One EM iteration: on Old Faithful, for each family and K in ITERATION_KS, plain EM from
mclust's hierarchical start (the hierarchy cut at K; emgmm's `--init hc` cuts the same
tree), timed as a call: emgmm's run of a fit with one run (`fit -k K -c FAMILY --init hc
--n-init 1 --accelerate none --tol 0`: engine.em.run_em, reg_covar 1e-6) against
mclust's me() (tol 0). Seconds per iteration are T(m + 1) - T(1), with m = ITERATION_M,
divided by the iterations made in between (m, unless EM converged exactly or mclust's
failed first); each T is the least of ITERATION_REPEATS calls (R's: of as many timings
of 20 calls, its clock counting milliseconds), so the start, the hierarchy and the final
E-step are left out.
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import hashlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FAMILIES = {"full": "VVV", "tied": "EEE", "diag": "VVI", "spherical": "VII"}
TARGET_SLACK = 0.01
SEED = 0
#: scikit-learn's default reg_covar, also the floor of its degenerate check
SKLEARN_REG_COVAR = 1e-6
RESULTS = ROOT / "benchmarks" / "results"
SKLEARN_CACHE = RESULTS / "optima_sklearn.json"
MCLUST_CACHE = RESULTS / "optima_mclust.json"
#: the precision the peers climb to: scikit-learn's tol and max_iter, and those of the
#: refinement of mclust's optimum (fixed, not emgmm's defaults, which may change)
PEER_TOL = 1e-7
PEER_MAX_ITER = 2000
#: datasets on which the floor reg_covar is negligible: there the refined log-likelihood
#: must be at least mclust's raw one less TARGET_SLACK (checked, an AssertionError if not)
NO_FLOOR_EFFECT = ("faithful",)


def datasets(quick: bool, only: list[str] | None = None) -> dict[str, np.ndarray]:
    from sklearn.datasets import load_breast_cancer, load_iris, load_wine

    out = {"faithful": np.loadtxt(ROOT / "sample_data" / "faithful.csv", delimiter=",",
                                  skiprows=1)}
    loaders = {"iris": load_iris} if quick else {
        "iris": load_iris, "wine": load_wine, "breast cancer": load_breast_cancer}
    for name, load in loaders.items():
        x = np.asarray(load().data, dtype=np.float64)
        out[name] = x
        out[name + " (std)"] = (x - x.mean(axis=0)) / x.std(axis=0)
    return {k: v for k, v in out.items() if only is None or k.split(" (")[0] in only}


def r_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    done = subprocess.run(["Rscript", "-e", "library(mclust)"], capture_output=True)
    return done.returncode == 0


def data_hash(x: np.ndarray) -> str:
    """sha256 of the array's shape and float64 bytes: a cached cell is reused only for the
    very same data."""
    a = np.ascontiguousarray(x, dtype=np.float64)
    return hashlib.sha256(repr(a.shape).encode() + a.tobytes()).hexdigest()


class CellCache:
    """One peer's per-cell results in a JSON file: {"meta": the peer's version and settings,
    "data": dataset -> data_hash, "cells": "dataset/family/K" -> result}.  A cell is reused
    while meta and its dataset's hash are unchanged (check_meta False: reused whatever the
    meta, for mclust where R is not installed); the file is rewritten after every cell, so
    an interrupted run keeps what it did."""

    def __init__(self, path: Path, meta: dict[str, Any] | None, refresh: bool) -> None:
        self.path = path
        stored = json.loads(path.read_text()) if path.is_file() else None
        self.meta = None if meta is None else json.loads(json.dumps(meta))
        if stored is not None and not refresh and self.meta in (None, stored["meta"]):
            self.doc = stored
        else:
            self.doc = {"meta": self.meta, "data": {}, "cells": {}}
        self.computed = 0

    def dataset(self, name: str, digest: str) -> None:
        """Drops the dataset's cells if they were computed on other data."""
        if self.doc["data"].get(name) != digest:
            self.doc["cells"] = {key: v for key, v in self.doc["cells"].items()
                                 if not key.startswith(name + "/")}
            self.doc["data"][name] = digest

    def get(self, name: str, family: str, k: int) -> dict[str, Any] | None:
        cell: dict[str, Any] | None = self.doc["cells"].get(f"{name}/{family}/{k}")
        return cell

    def put(self, name: str, family: str, k: int, value: dict[str, Any]) -> None:
        self.doc["cells"][f"{name}/{family}/{k}"] = value
        self.computed += 1
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(self.text(), encoding="utf-8")
        os.replace(tmp, self.path)

    def text(self) -> str:
        """The file: meta and data indented, each cell on one line (mclust's cells hold
        its parameters), sorted by key."""
        cells = self.doc["cells"]
        rows = [f" {json.dumps(key)}: {json.dumps(cells[key], sort_keys=True)}"
                for key in sorted(cells)]
        head = json.dumps({"data": self.doc["data"], "meta": self.doc["meta"]}, indent=1,
                          sort_keys=True)
        return head[:-2] + ',\n "cells": {\n' + ",\n".join(rows) + "\n }\n}\n"


def counted(cell: dict[str, Any] | None) -> float | None:
    """A cached cell's log-likelihood where it counts: fitted and not degenerate."""
    if cell is None or cell["loglik"] is None or cell.get("degenerate"):
        return None
    return float(cell["loglik"])


R_CELLS = r"""
suppressMessages(library(mclust))
args <- commandArgs(TRUE)
x <- as.matrix(read.csv(args[1], header = FALSE))
num <- function(v) paste(sprintf("%.17g", as.vector(v)), collapse = " ")
for (cell in strsplit(args[2], ",")[[1]]) {
  mg <- strsplit(cell, ":")[[1]]
  t <- system.time(fit <- tryCatch(Mclust(x, G = as.integer(mg[2]), modelNames = mg[1],
                                          verbose = FALSE), error = function(e) NULL))
  if (is.null(fit) || is.na(fit$loglik)) {
    cat(mg[1], mg[2], "NA", t[["elapsed"]], "\n")
  } else {
    p <- fit$parameters
    cat(mg[1], mg[2], sprintf("%.17g", fit$loglik), t[["elapsed"]], "|", num(p$pro), "|",
        num(p$mean), "|", num(p$variance$sigma), "\n")
  }
  flush(stdout())
}
"""

MCLUST_CALL = ("fit <- Mclust(X, G = K, modelNames = MODEL, verbose = FALSE); fit$loglik, "
               "fit$parameters (pro, mean, variance$sigma)")


def mclust_meta() -> dict[str, Any]:
    done = subprocess.run(["Rscript", "-e", "cat(R.version.string, '\\n', "
                           "as.character(packageVersion('mclust')), sep = '')"],
                          capture_output=True, text=True, check=True)
    r_version, version = done.stdout.splitlines()
    return {"R": r_version, "mclust": version, "call": MCLUST_CALL,
            "data": "written to CSV with %.17g"}


def mclust_fill(cache: CellCache, name: str, x: np.ndarray, ks: list[int], tmp: Path) -> None:
    """Runs Mclust, one Rscript for the dataset, on the cells the cache lacks, and caches
    each cell as Rscript prints it: {"loglik": null where Mclust fails, "seconds", and
    "params": mclust's weights, means and covariances in the family's shape}."""
    todo = [f"{model}:{k}" for family, model in FAMILIES.items() for k in ks
            if cache.get(name, family, k) is None]
    if not todo:
        return
    data, script = tmp / "x.csv", tmp / "cells.R"
    np.savetxt(data, x, delimiter=",", fmt="%.17g")
    script.write_text(R_CELLS)
    by_model = {v: k for k, v in FAMILIES.items()}
    with subprocess.Popen(["Rscript", str(script), str(data), ",".join(todo)],
                          stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            head, *arrays = line.split("|")
            model, g, ll, seconds = head.split()
            family, k = by_model[model], int(g)
            cell: dict[str, Any] = {"loglik": None if ll == "NA" else float(ll),
                                    "seconds": float(seconds)}
            if arrays:
                cell["params"] = mclust_params(family, k, x.shape[1],
                                               *(np.array(a.split(), dtype=np.float64)
                                                 for a in arrays))
            cache.put(name, family, k, cell)
            print(f"{name} {model} {g}: mclust {ll}", file=sys.stderr, flush=True)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, "Rscript")


def mclust_params(family: str, k: int, d: int, pro: np.ndarray, mean: np.ndarray,
                  sigma: np.ndarray) -> dict[str, Any]:
    """mclust's parameters (pro, the D x G mean and the D x D x G sigma, in R's column-major
    order) as emgmm's weights, means and covariances of the family's shape: full (K, D, D),
    tied (D, D), diag (K, D), spherical (K,); checked by MixtureParams.build, and that
    sigma has the family's structure (equal, diagonal or spherical covariances)."""
    from emgmm_cli.engine.params import MixtureParams

    means = mean.reshape((d, k), order="F").T
    full = sigma.reshape((d, d, k), order="F").transpose(2, 0, 1)
    diagonal = np.diagonal(full, axis1=1, axis2=2)
    covariances = {"full": full, "tied": full[0], "diag": diagonal,
                   "spherical": diagonal[:, 0]}[family]
    params = MixtureParams.build(pro, means, covariances, family)
    assert np.allclose(params.full_covariances(), full, rtol=1e-12, atol=0), (family, k)
    return {"weights": pro.tolist(), "means": means.tolist(),
            "covariances": np.asarray(covariances).tolist()}


def peer_degenerate(params: Any, x: np.ndarray) -> bool:
    """Whether a peer's (or a refined) mixture on x is degenerate, as emgmm's are judged
    (engine.em.degenerate_components at reg_covar SKLEARN_REG_COVAR)."""
    from emgmm_cli.backends.local import ArrayDataset
    from emgmm_cli.engine.em import DegenerateTest, degenerate_components

    test = DegenerateTest.of(ArrayDataset(x), x.var(axis=0))
    return bool(degenerate_components(params, test, SKLEARN_REG_COVAR))


def refined(x: np.ndarray, family: str, cell: dict[str, Any] | None) -> dict[str, Any]:
    """mclust's optimum under emgmm's regularisation: plain EM (accelerate "none") with
    reg_covar SKLEARN_REG_COVAR, tol PEER_TOL and max-iter PEER_MAX_ITER from mclust's
    cached parameters, {"loglik" (None where there are none, EM fails or the end is
    degenerate), "degenerate", "iterations", "seconds"}."""
    from emgmm_cli.backends.local import ArrayDataset
    from emgmm_cli.engine.em import run_em
    from emgmm_cli.engine.errors import EngineError
    from emgmm_cli.engine.params import MixtureParams

    out: dict[str, Any] = {"loglik": None, "degenerate": False, "iterations": 0,
                           "seconds": 0.0}
    if cell is None or "params" not in cell:
        return out
    t = time.perf_counter()
    p = cell["params"]
    try:
        start = MixtureParams.build(p["weights"], p["means"], p["covariances"], family)
        run = run_em(ArrayDataset(x), start, tol=PEER_TOL, max_iter=PEER_MAX_ITER,
                     reg_covar=SKLEARN_REG_COVAR, accelerate="none")
    except (EngineError, np.linalg.LinAlgError):
        out["seconds"] = time.perf_counter() - t
        return out
    degenerate = peer_degenerate(run.params, x)
    out.update(loglik=None if degenerate else float(run.final.loglik), degenerate=degenerate,
               iterations=run.n_iter, seconds=time.perf_counter() - t)
    return out


def ours(x: np.ndarray, family: str, k: int, **options: Any) -> tuple[float | None, Any]:
    from emgmm_cli.backends.local import ArrayDataset
    from emgmm_cli.engine.errors import EngineError
    from emgmm_cli.engine.fitting import fit
    from emgmm_cli.engine.options import FitOptions

    try:
        result = fit(ArrayDataset(x), FitOptions(k, covariance_type=family, seed=SEED,
                                                 **options))
    except EngineError:
        return None, None
    return (None if result.is_degenerate else result.loglik), result


def without_moves(x: np.ndarray, family: str, k: int) -> float | None:
    """The default fit with every one of its 10 runs from the screening (no split-and-merge
    moves: engine.splitmerge.FROM_RUNS raised above n_init for the call)."""
    from emgmm_cli.engine import splitmerge

    kept = splitmerge.FROM_RUNS
    splitmerge.FROM_RUNS = 11
    try:
        return ours(x, family, k, n_init=10)[0]
    finally:
        splitmerge.FROM_RUNS = kept


def sklearn_settings() -> dict[str, Any]:
    from emgmm_cli.engine.em import DEGENERATE_RATIO, FEW_ROWS_PER_DIM, SINGULAR_RATIO

    return {"n_init": 30, "init_params": "kmeans", "tol": PEER_TOL,
            "max_iter": PEER_MAX_ITER, "random_state": SEED,
            "degenerate": f"engine.em.degenerate_components, reg_covar {SKLEARN_REG_COVAR:g}, "
                          f"singular {SINGULAR_RATIO:g}, ratio {DEGENERATE_RATIO:g} under "
                          f"{FEW_ROWS_PER_DIM} (D + 1) rows or own rows flat to singular "
                          "where the family shares part of each covariance"}


def sklearn_best(x: np.ndarray, family: str, k: int, settings: dict[str, Any]) -> dict[str, Any]:
    """scikit-learn's best of settings["n_init"] restarts: {"loglik" (null where the fit
    failed), "degenerate", "seconds"}."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    from emgmm_cli.engine.params import MixtureParams

    t = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm = GaussianMixture(k, covariance_type=family, n_init=settings["n_init"],
                                 init_params=settings["init_params"], tol=settings["tol"],
                                 max_iter=settings["max_iter"], reg_covar=SKLEARN_REG_COVAR,
                                 random_state=settings["random_state"]).fit(x)
    except ValueError:  # a covariance not positive definite
        return {"loglik": None, "degenerate": False, "seconds": time.perf_counter() - t}
    params = MixtureParams.build(gm.weights_, gm.means_, gm.covariances_, family)
    degenerate = peer_degenerate(params, x)
    return {"loglik": float(gm.score(x) * len(x)), "degenerate": degenerate,
            "seconds": time.perf_counter() - t}


def optima(quick: bool, use_r: bool, only: list[str] | None,
           refresh: tuple[bool, bool]) -> str:
    import sklearn
    from sklearn.mixture import GaussianMixture

    peer = GaussianMixture()
    loose = {"tol": peer.tol, "max_iter": peer.max_iter}
    ks = list(range(1, 5 if quick else 10))
    peers = (CellCache(SKLEARN_CACHE, {"scikit-learn": sklearn.__version__,
                                       "settings": sklearn_settings()}, refresh[0]),
             CellCache(MCLUST_CACHE, mclust_meta() if use_r else None, refresh[1]))
    lines = ["| dataset | cells | default fit meets target | without moves meets target | "
             "at scikit-learn's tol meets target | "
             "emgmm best | scikit-learn best | mclust, refined, best | emgmm worst gap | "
             "scikit-learn worst gap | mclust, refined, worst gap | "
             "mclust raw less refined, min / max |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    seconds = ["| dataset | emgmm default fit | emgmm without moves | emgmm at scikit-learn's tol "
               "| scikit-learn | mclust | mclust refinement |", "|---|---|---|---|---|---|---|"]
    misses: dict[str, list[str]] = {"default": [], "screened": [], "loose": [], "no mclust": [],
                                    "floor": []}
    with tempfile.TemporaryDirectory() as tmp:
        for name, x in datasets(quick, only).items():
            for cache in peers:
                cache.dataset(name, data_hash(x))
            if use_r:
                mclust_fill(peers[1], name, x, ks, Path(tmp))
            cells, times = _dataset_cells(name, x, ks, loose, peers)
            lines.append(_optima_row(name, cells, misses))
            seconds.append(f"| {name} | " + " | ".join(f"{t:.1f}" for t in times) + " |")
    return _optima_text(lines, seconds, misses, peers, loose)


def _optima_text(lines: list[str], seconds: list[str], misses: dict[str, list[str]],
                 peers: tuple[CellCache, CellCache], loose: dict[str, Any]) -> str:
    from emgmm_cli.engine.options import FIT_DEFAULTS

    text = ("The target of a cell is max(scikit-learn, mclust refined) over the fits that "
            "count (not degenerate); a cell meets it at the target less "
            f"{TARGET_SLACK}.  mclust fits with no covariance floor, emgmm and scikit-learn "
            f"add reg_covar {SKLEARN_REG_COVAR:g}: mclust's own log-likelihood (raw) can be "
            "out of reach of any regularised fit, so the target takes mclust's optimum under "
            "the same regularisation (refined): plain EM (accelerate none, reg_covar "
            f"{SKLEARN_REG_COVAR:g}, tol {PEER_TOL:g}, max-iter {PEER_MAX_ITER}) from "
            "mclust's fitted weights, means and covariances, and the log-likelihood where it "
            f"ends.  The default fit runs tol {FIT_DEFAULTS['tol']:g} and max-iter "
            f"{FIT_DEFAULTS['max_iter']}; the fit without moves is the same with all its "
            "runs from the screening (engine.splitmerge.FROM_RUNS raised above 10: no "
            f"split-and-merge moves); the fit at scikit-learn's tol {loose['tol']:g} and "
            f"max-iter {loose['max_iter']} (GaussianMixture's defaults), scikit-learn "
            f"tol {PEER_TOL:g} and max-iter {PEER_MAX_ITER}.  The last column is mclust's "
            "raw log-likelihood less the refined one "
            "(positive: the floor costs that much; negative: EM climbed on from mclust's "
            "stop).\n\n" + "\n".join(lines))
    for which, title in (("default", "the default fit"),
                         ("screened", "the fit without moves"),
                         ("loose", "the fit at scikit-learn's tol")):
        text += (f"\n\nCells where {title} is below the target: "
                 + ("; ".join(misses[which]) if misses[which] else "none") + ".")
    text += (f"\n\nCells where mclust's raw log-likelihood is above the refined one by more "
             f"than {TARGET_SLACK} (raw less refined): "
             + ("; ".join(misses["floor"]) if misses["floor"] else "none") + ".")
    if misses["no mclust"]:
        text += ("\n\nCells without an mclust number (not cached and R not installed): "
                 + "; ".join(misses["no mclust"]) + ".")
    text += ("\n\nSeconds per dataset, all its cells; scikit-learn's and mclust's are those "
             "of the run that computed the cached cell (mclust's: the Mclust call alone); "
             "the refinement's are this run's.\n\n" + "\n".join(seconds))
    return text + "\n\n" + _cache_note(peers)


def _dataset_cells(name: str, x: np.ndarray, ks: list[int], loose: dict[str, Any],
                   peers: tuple[CellCache, CellCache]) -> tuple[list[tuple[Any, ...]],
                                                                 list[float]]:
    """Per cell (family, K, fit at scikit-learn's tol, fit without moves, default fit,
    scikit-learn, mclust refined, mclust raw, whether mclust ran), computing
    scikit-learn's cells the cache lacks; and the seconds of each side (emgmm default,
    without moves, at scikit-learn's tol, scikit-learn, mclust, refinement)."""
    settings = sklearn_settings()
    cells = []
    times = [0.0] * 6
    for family in FAMILIES:
        for k in ks:
            t0 = time.perf_counter()
            e, _ = ours(x, family, k, n_init=10)
            t1 = time.perf_counter()
            s = without_moves(x, family, k)
            t2 = time.perf_counter()
            d, _ = ours(x, family, k, n_init=10, **loose)
            times[0] += t1 - t0
            times[1] += t2 - t1
            times[2] += time.perf_counter() - t2
            if peers[0].get(name, family, k) is None:
                peers[0].put(name, family, k, sklearn_best(x, family, k, settings))
            sk, mc = (cache.get(name, family, k) for cache in peers)
            ref = refined(x, family, mc)
            times[3] += sk["seconds"] if sk else 0.0
            times[4] += mc["seconds"] if mc else float("nan")
            times[5] += ref["seconds"]
            raw = None if mc is None or mc["loglik"] is None else float(mc["loglik"])
            _check_floorless(name, family, k, ref["loglik"], raw)
            cells.append((family, k, d, s, e, counted(sk), ref["loglik"], raw,
                          mc is not None))
            print(f"{name} {family} {k}: emgmm {e} (without moves {s}, at scikit-learn's "
                  f"tol {d}) "
                  f"sklearn {counted(sk)} "
                  f"mclust {raw} refined {ref['loglik']} ({ref['iterations']} iterations)",
                  file=sys.stderr, flush=True)
    return cells, times


def _check_floorless(name: str, family: str, k: int, ref: float | None,
                     raw: float | None) -> None:
    """Where the floor is negligible (NO_FLOOR_EFFECT), refining mclust's optimum must not
    lose more than TARGET_SLACK: EM from mclust's parameters only climbs."""
    if name in NO_FLOOR_EFFECT and raw is not None:
        assert ref is not None and ref >= raw - TARGET_SLACK, (
            f"{name} {FAMILIES[family]} K={k}: mclust refined {ref} below raw {raw}")


def _cache_note(peers: tuple[CellCache, CellCache]) -> str:
    sk, mc = peers
    meta = mc.doc["meta"] or {}
    mclust = f"mclust {meta['mclust']}, {meta['R']}" if meta else "none cached"
    return (f"scikit-learn's cells and mclust's (with its fitted parameters) are cached in "
            f"benchmarks/results/{SKLEARN_CACHE.name} (scikit-learn "
            f"{sk.doc['meta']['scikit-learn']}) and {MCLUST_CACHE.name} ({mclust}); this run "
            f"computed {sk.computed} and {mc.computed} of them, emgmm's cells and mclust's "
            "refinements all.")


def _meets(value: float | None, target: float | None) -> bool:
    return target is None or (value is not None and value >= target - TARGET_SLACK)


def _optima_row(name: str, cells: list[tuple[Any, ...]], misses: dict[str, list[str]]) -> str:
    """A dataset's row: per cell, values = (default emgmm, scikit-learn, mclust refined); the
    fits without moves and at scikit-learn's tol are judged against the same target;
    mclust raw is for reference only."""
    wins = [0, 0, 0]
    worst = [0.0, 0.0, 0.0]
    met = {"default": 0, "screened": 0, "loose": 0}
    n_counted = 0
    floor: list[float] = []
    for family, k, loose, screened, *values, raw, has_mclust in cells:
        where = f"{name} {FAMILIES[family]} K={k}"
        if not has_mclust:
            misses["no mclust"].append(where)
        if raw is not None and values[2] is not None:
            floor.append(raw - values[2])
            if floor[-1] > TARGET_SLACK:
                misses["floor"].append(f"{where} ({floor[-1]:.2f})")
        finite = [v for v in values if v is not None]
        if not finite:
            continue
        n_counted += 1
        best = max(finite)
        for i, v in enumerate(values):
            if v is not None:
                wins[i] += v >= best - TARGET_SLACK
                worst[i] = min(worst[i], v - best)
        target = max((v for v in values[1:] if v is not None), default=None)
        for which, value in (("default", values[0]), ("screened", screened),
                             ("loose", loose)):
            if _meets(value, target):
                met[which] += 1
            else:
                gap = "degenerate" if value is None else f"{value - target:.2f}"
                misses[which].append(f"{where} ({gap})")
    spread = f"{min(floor):.2f} / {max(floor):.2f}" if floor else "n/a"
    return (f"| {name} | {n_counted} | {met['default']} | {met['screened']} | "
            f"{met['loose']} | {wins[0]} | "
            f"{wins[1]} | {wins[2]} | {worst[0]:.2f} | {worst[1]:.2f} | {worst[2]:.2f} | "
            f"{spread} |")


R_SELECT = r"""
suppressMessages(library(mclust))
x <- as.matrix(read.csv(commandArgs(TRUE)[1]))
set.seed(as.integer(commandArgs(TRUE)[2]))  # the hierarchy's subset of rows over 2000
models <- c("VVV", "EEE", "VVI", "VII")
t <- system.time(m <- Mclust(x, G = 1:9, modelNames = models, verbose = FALSE))[["elapsed"]]
cat("seconds", t, "\n")
for (model in models) for (g in 1:9) {
  b <- m$BIC[as.character(g), model]
  ll <- (b + nMclustParams(model, ncol(x), g) * log(nrow(x))) / 2
  cat(model, g, format(ll, digits = 15), "\n")
}
"""

PY_SELECT = """
import os, sys, time
# one BLAS thread under the engine's own threads, as the command line sets it
for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(name, "1")
import emgmm_cli
if __name__ == "__main__":  # jobs auto may spawn workers, which import this script
    t = time.perf_counter()
    emgmm_cli.select(sys.argv[1], range(1, 10), ["VVV", "EEE", "VVI", "VII"], seed=0,
                     jobs="auto")
    print(time.perf_counter() - t)
"""


#: The K of the per-iteration table; iterations timed, and calls timed (the least kept).
ITERATION_KS = (3, 6, 9)
ITERATION_M = 200
ITERATION_REPEATS = 5

R_ITERATION = r"""
suppressMessages(library(mclust))
x <- as.matrix(read.csv(commandArgs(TRUE)[1]))
m <- as.integer(commandArgs(TRUE)[2]); repeats <- as.integer(commandArgs(TRUE)[3])
tree <- hc(x, modelName = "VVV")
for (model in strsplit(commandArgs(TRUE)[4], ",")[[1]])
  for (g in as.integer(strsplit(commandArgs(TRUE)[5], ",")[[1]])) {
    z <- unmap(hclass(tree, g))
    run <- function(iterations) me(x, modelName = model, z = z,
      control = emControl(itmax = c(iterations, iterations), tol = c(0, 0)))
    # seconds per call, the least of `repeats` timings of 20 calls (R's clock: 1 ms),
    # and the iterations made (me's info: minus the count where itmax was reached)
    timed <- function(iterations) min(sapply(seq_len(repeats), function(r)
      system.time(for (i in 1:20) run(iterations))[["elapsed"]] / 20))
    long <- run(m + 1)
    made <- abs(attr(long, "info")[1]) - abs(attr(run(1), "info")[1])
    if (is.na(long$loglik) || made < 1) cat(model, g, "NA\n")
    else cat(model, g, (timed(m + 1) - timed(1)) / made, "\n")
  }
"""


def _iteration_seconds(x: np.ndarray, family: str, k: int) -> float:
    """emgmm's seconds per plain EM iteration of one run (engine.em.run_em, as a fit with
    --init hc and one run makes it) from the hierarchy's start, per iteration made (a run
    may converge exactly before ITERATION_M + 1)."""
    from emgmm_cli.backends.local import ArrayDataset
    from emgmm_cli.engine.em import run_em
    from emgmm_cli.engine.hc import seeded_hc_tree
    from emgmm_cli.engine.init import initial_params

    data = ArrayDataset(x)
    start = initial_params(data, k, family, "hc", np.random.default_rng(SEED),
                           reg_covar=SKLEARN_REG_COVAR, column_mean=x.mean(axis=0),
                           column_variance=x.var(axis=0), hc_tree=seeded_hc_tree(data, SEED))

    def timed(iterations: int) -> tuple[float, int]:
        best, passes = math.inf, 0
        for _ in range(ITERATION_REPEATS):
            t = time.perf_counter()
            passes = run_em(data, start, tol=0.0, max_iter=iterations,
                            reg_covar=SKLEARN_REG_COVAR).passes
            best = min(best, time.perf_counter() - t)
        return best, passes

    (long, many), (short, few) = timed(ITERATION_M + 1), timed(1)
    return (long - short) / (many - few)


def iteration_table(use_r: bool, tmp: Path) -> str:
    """Microseconds per EM iteration on Old Faithful, emgmm against mclust's me()."""
    path = ROOT / "sample_data" / "faithful.csv"
    x = np.loadtxt(path, delimiter=",", skiprows=1)
    theirs: dict[tuple[str, int], float] = {}
    if use_r:
        (tmp / "iteration.R").write_text(R_ITERATION)
        out = _timed(["Rscript", str(tmp / "iteration.R"), str(path), str(ITERATION_M),
                      str(ITERATION_REPEATS), ",".join(FAMILIES.values()),
                      ",".join(map(str, ITERATION_KS))])[1]
        for line in out.splitlines():
            name, count, seconds = line.split()
            theirs[name, int(count)] = math.nan if seconds == "NA" else float(seconds)
    rows = ["One plain EM iteration on Old Faithful, from mclust's hierarchical start, in "
            f"microseconds (m = {ITERATION_M}; n/a: mclust's EM failed there)",
            "", "| model | K | emgmm | mclust me() | mclust / emgmm |", "|---|---|---|---|---|"]
    # a first measurement, not kept: the first cell measured came out 30% slower than when
    # measured again (VVV, K = 3: 131.9 against 92.7 to 98.5 us, 2026-12-04)
    _iteration_seconds(x, next(iter(FAMILIES)), ITERATION_KS[0])
    for family, model in FAMILIES.items():
        for k in ITERATION_KS:
            ours = _iteration_seconds(x, family, k)
            other = theirs.get((model, k), math.nan)
            them = "n/a" if math.isnan(other) else f"{other * 1e6:.1f}"
            ratio = "n/a" if math.isnan(other) else f"{other / ours:.2f}"
            rows.append(f"| {model} | {k} | {ours * 1e6:.1f} | {them} | {ratio} |")
    return "\n".join(rows)


def speed_data(tmp: Path) -> dict[str, Path]:
    rng = np.random.default_rng(5)
    centres = rng.uniform(-10, 10, size=(5, 5))
    x = np.concatenate([c + rng.normal(size=(4000, 5)) for c in centres])
    x = x[rng.permutation(len(x))]
    blobs = tmp / "blobs20000x5.csv"
    np.savetxt(blobs, x, delimiter=",", header="a,b,c,d,e", comments="", fmt="%.10g")
    return {"Old Faithful, 272 x 2": ROOT / "sample_data" / "faithful.csv",
            "20,000 x 5, 5 spherical clusters": blobs}


def _timed(cmd: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return time.perf_counter() - t, done.stdout


def speed(repeats: int, use_r: bool, only: list[str] | None, plain: bool = True) -> str:
    lines = ["| data | emgmm select s (process) | emgmm select --jobs 1 s (process) | "
             "emgmm select s (call) | Mclust s (process) | Mclust s (call) | "
             "Mclust / emgmm (process) | Mclust / emgmm --jobs 1 (process) | "
             "Mclust / emgmm (call) |",
             "|---|---|---|---|---|---|---|---|---|"]
    details = []
    emgmm = [sys.executable, "-m", "emgmm_cli"]
    # as installed: the package's bytecode compiled (PYTHONDONTWRITEBYTECODE, where set,
    # would otherwise make every timed run compile it again)
    compileall.compile_dir(str(ROOT / "emgmm_cli"), quiet=1)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "select.R").write_text(R_SELECT)
        # not select.py: a spawned worker has the script's folder on its path, where
        # select.py would stand in for the standard library's select module
        (tmp / "timed_select.py").write_text(PY_SELECT)
        for name, path in speed_data(tmp).items():
            if only is not None and not any(name.lower().startswith(o) for o in only):
                continue
            runs: dict[str, list[float]] = {"ep": [], "e1": [], "ec": [], "rp": [], "rc": []}
            ref: dict[tuple[str, int], float] = {}
            command = emgmm + ["select", str(path), "--seed", "0", "-c",
                               ",".join(FAMILIES.values()), "--table", str(tmp / "t.csv")]
            for _ in range(repeats):
                runs["ep"].append(_timed(command)[0])
                runs["e1"].append(_timed(command + ["--jobs", "1"])[0])
                runs["ec"].append(float(_timed([sys.executable, str(tmp / "timed_select.py"),
                                                str(path)])[1]))
                if use_r:
                    wall, out = _timed(["Rscript", str(tmp / "select.R"), str(path),
                                        str(SEED)])
                    runs["rp"].append(wall)
                    ref = _parse_r(out, runs["rc"])
            med = {key: statistics.median(v) if v else float("nan") for key, v in runs.items()}
            lines.append(f"| {name} | {med['ep']:.2f} | {med['e1']:.2f} | {med['ec']:.2f} | "
                         f"{med['rp']:.2f} | {med['rc']:.2f} | {med['rp'] / med['ep']:.2f} | "
                         f"{med['rp'] / med['e1']:.2f} | {med['rc'] / med['ec']:.2f} |")
            details.append(_cells(name, path, ref, plain))
        if only is None or any("old faithful".startswith(o) for o in only):
            details.append(iteration_table(use_r, tmp))
    return "\n".join(lines) + "\n\n" + "\n\n".join(details)


def _parse_r(out: str, seconds: list[float]) -> dict[tuple[str, int], float]:
    by_model = {v: k for k, v in FAMILIES.items()}
    ref = {}
    for line in out.splitlines():
        parts = line.split()
        if parts[0] == "seconds":
            seconds.append(float(parts[1]))
        elif parts[2] != "NA":
            ref[by_model[parts[0]], int(parts[1])] = float(parts[2])
    return ref


def _cells(name: str, path: Path, ref: dict[tuple[str, int], float], plain: bool) -> str:
    """Per cell of the speed grid: log-likelihood less mclust's, and the passes
    of the chosen run with and without acceleration (same seed)."""
    import emgmm_cli
    from emgmm_cli.engine.options import FIT_DEFAULTS

    runs = {acc: emgmm_cli.select(str(path), range(1, 10), list(FAMILIES.values()), seed=0,
                                  accelerate=acc)
            for acc in (("squarem", "none") if plain else ("squarem",))}
    runs.setdefault("none", runs["squarem"])
    rows = [f"{name}: per cell, emgmm's log-likelihood less mclust's, and the passes over "
            "the data of the chosen run, accelerated and plain (the defaults: "
            f"init {FIT_DEFAULTS['init']}, n-init {FIT_DEFAULTS['n_init']}, tol "
            f"{FIT_DEFAULTS['tol']:g}, max-iter {FIT_DEFAULTS['max_iter']})",
            "", "| cell | log-lik - mclust | passes squarem | passes none | saved |",
            "|---|---|---|---|---|"]
    below = 0
    total = {"squarem": 0, "none": 0}
    for fast, slow in zip(runs["squarem"].selection.cells, runs["none"].selection.cells):
        cell = fast.cell
        key = (cell.covariance_type, cell.n_components)
        gap = "" if key not in ref or fast.result is None else fast.result.loglik - ref[key]
        below += isinstance(gap, float) and gap < -TARGET_SLACK
        p_fast = fast.result.n_passes if fast.result else 0
        p_slow = slow.result.n_passes if slow.result else 0
        total["squarem"] += p_fast
        total["none"] += p_slow
        gap_text = f"{gap:+.3f}" if isinstance(gap, float) else "n/a"
        rows.append(f"| {cell.mclust} K={cell.n_components} | {gap_text} | {p_fast} | "
                    f"{p_slow} | {p_slow - p_fast} |")
    rows.append(f"| all | {below} cells below mclust - {TARGET_SLACK} | {total['squarem']} | "
                f"{total['none']} | {total['none'] - total['squarem']} |")
    return "\n".join(rows)


def source_state() -> str:
    """The commit of the code measured, and whether emgmm_cli differs from it: read when
    the run starts (the code is imported then), not when it ends."""
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run(git + ["rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    if subprocess.run(git + ["diff", "--quiet", "HEAD", "--", "emgmm_cli"]).returncode:
        commit += " with uncommitted changes to emgmm_cli"
    return commit


def provenance(argv: list[str], use_r: bool, commit: str) -> str:
    import sklearn

    r_version = ""
    if use_r:
        meta = mclust_meta()
        r_version = f", {meta['R']}, mclust {meta['mclust']}"
    return (f"<sub>`python benchmarks/optima.py {' '.join(argv)}`, "
            f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, commit "
            f"{commit}, {platform.machine()} with {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, numpy {np.__version__}, scikit-learn "
            f"{sklearn.__version__}{r_version}.</sub>")


HEADER = ["# Optima and speed of the default start", "",
          "Generated by `benchmarks/optima.py` (its docstring says what is run); each section "
          "ends with the command, date, machine and versions of the run that made it."]
OPTIMA_TITLE = "## Optima: default `fit --n-init 10` against scikit-learn and mclust"
SPEED_TITLE = "## Speed: `emgmm select` against `Mclust`"


def merged(old: str, sections: dict[str, str]) -> str:
    """The page: HEADER, then the optima and speed sections, each the new one where this
    run made it, else the old page's section (from its heading to the next) as it was."""
    kept: dict[str, str] = {}
    for part in ("\n" + old).split("\n## ")[1:]:
        title = "## " + part.split("\n", 1)[0]
        kept[title] = ("## " + part).rstrip("\n")
    body = [sections.get(title, kept.get(title)) for title in (OPTIMA_TITLE, SPEED_TITLE)]
    return "\n".join(HEADER) + "\n\n" + "\n\n".join(b for b in body if b) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=("optima", "speed"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-plain", action="store_true",
                        help="leave out the plain-EM select behind the passes-saved column")
    parser.add_argument("--datasets", help="comma-separated: faithful, iris, wine, breast "
                        "cancer (optima); old faithful, 20,000 (speed)")
    parser.add_argument("--refresh-sklearn", action="store_true",
                        help=f"recompute scikit-learn's cells, cached in {SKLEARN_CACHE.name}")
    parser.add_argument("--refresh-mclust", action="store_true",
                        help=f"recompute mclust's cells, cached in {MCLUST_CACHE.name}")
    parser.add_argument("--out", default=str(ROOT / "docs" / "optima.md"))
    args = parser.parse_args()
    only = None if args.datasets is None else [d.strip().lower() for d in
                                               args.datasets.split(",")]
    commit = source_state()
    use_r = r_available()
    if not use_r:
        print("R with mclust is not installed: mclust's cached cells are used, its "
              "timings left out", file=sys.stderr)
    sections = {}
    if args.only in (None, "optima"):
        sections[OPTIMA_TITLE] = optima(args.quick, use_r, only,
                                        (args.refresh_sklearn, args.refresh_mclust))
    if args.only in (None, "speed"):
        sections[SPEED_TITLE] = speed(args.repeats, use_r, only, not args.no_plain)
    stamp = provenance(sys.argv[1:], use_r, commit)
    sections = {title: f"{title}\n\n{body}\n\n{stamp}" for title, body in sections.items()}
    out = Path(args.out)
    text = merged(out.read_text(encoding="utf-8") if out.is_file() else "", sections)
    print(text)
    out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
