#!/usr/bin/env python3
"""`emgmm select` over mclust's 14 models against `Mclust`, on real data.

    python benchmarks/select_models.py                  # a few minutes
    python benchmarks/select_models.py --only wine --repeats 1
    python benchmarks/select_models.py --breast-cancer  # also 30 columns: 10 minutes a side
    python benchmarks/select_models.py --wide           # also 500 x 40 blobs: a minute a side
    python benchmarks/select_models.py --mclust-data --repeats 1   # also mclust's data
    python benchmarks/select_models.py --mclust-data --only wreath banknote --n-init 4

Not part of the test suite.  It needs scikit-learn (its datasets: pip install '.[test]')
and R's mclust (Debian: r-base-core and r-cran-mclust); where R is not installed it
times emgmm alone and says so.  Datasets: Old Faithful (sample_data/faithful.csv) and
scikit-learn's iris and wine, raw and standardised (columns centred, unit variance); with
--breast-cancer also its breast cancer data (569 x 30), raw and standardised, where each
side takes minutes; with --wide also 500 points of 4 round blobs in 40 columns (`emgmm
make-blobs -n 500 --n-centers 4 --dim 40 --seed 0`), where the components of the larger
K hold about as many rows as there are columns; with --mclust-data also data that R's
mclust ships, each written to CSV by one Rscript call (`data(wreath, package = "mclust")`
and so on) and read by both sides from there: `wreath` (1000 x 2), `banknote` (200 x 6:
its numeric columns, without Status), `diabetes` (145 x 3: without class), `chevron`
(1104 x 2: without class) and R's `quakes` (datasets package, 1000 x 5: all its numeric
columns, lat, long, depth, mag and stations; mclust's examples do not use it).  Where R
with mclust is not installed, --mclust-data says so and those datasets are skipped.  On
each, `emgmm select DATA --seed 0` with its defaults (mclust's 14 models, K = 1..9,
--jobs auto) and `Mclust(X, G = 1:9)` with its defaults (the same 14 models and K), each
a subprocess timed from start to exit, in turn, --repeats times; the medians, and
Mclust's call alone (system.time).  Per dataset the table gives Mclust's process
time over emgmm's, the cells where both have a log-likelihood (mclust's from its BIC),
the cells where emgmm's is below mclust's less 0.01 and the worst gap, the model and K
each one chooses, and the BIC of emgmm's choice less that of Mclust's (in emgmm's sign,
lower is better: negative where emgmm found a model the criterion prefers); a last row
sums the cells over the datasets.  A second table lists every cell where emgmm's
log-likelihood is below mclust's less 0.01: both log-likelihoods and emgmm's less
mclust's.  With --n-init N, each of those cells is run again alone, `emgmm select DATA
--seed 0 -c MODEL -k K --n-init N` (a cell's seed comes from --seed and the cell only, so
this is the cell of a whole `select --n-init N` run), and the table adds its
log-likelihood then and that less mclust's.  It prints markdown with the command, the
date, the commit, the machine and the versions.
"""

from __future__ import annotations

import argparse
import compileall
import csv
import datetime
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
from optima import _timed  # this folder: the script's own

ROOT = Path(__file__).resolve().parent.parent
SLACK = 0.01

R_SELECT = r"""
suppressMessages(library(mclust))
x <- as.matrix(read.csv(commandArgs(TRUE)[1]))
t <- system.time(m <- Mclust(x, G = 1:9, verbose = FALSE))[["elapsed"]]
cat("seconds", t, "\n")
cat("chosen", m$modelName, m$G, format(m$bic, digits = 15), "\n")
for (model in colnames(m$BIC)) for (g in 1:9) {
  b <- m$BIC[as.character(g), model]
  ll <- if (is.na(b)) NA else (b + nMclustParams(model, ncol(x), g) * log(nrow(x))) / 2
  cat(model, g, format(ll, digits = 15), "\n")
}
"""

#: mclust's datasets that --mclust-data adds, and R's quakes; R_EXPORT writes each.
MCLUST_DATA = ("wreath", "banknote", "diabetes", "chevron", "quakes")

# each to FOLDER/NAME.csv, the numeric columns only (banknote's Status, diabetes' and
# chevron's class are factors), with the 15 significant digits R writes by default (more
# than the data have: they are written exactly)
R_EXPORT = r"""
suppressMessages(library(mclust))
data(wreath, banknote, diabetes, chevron, package = "mclust")
sets <- list(wreath = wreath, banknote = banknote, diabetes = diabetes,
             chevron = chevron, quakes = datasets::quakes)
for (name in names(sets)) {
  x <- as.data.frame(sets[[name]])
  x <- x[, vapply(x, is.numeric, TRUE), drop = FALSE]
  write.csv(x, file.path(commandArgs(TRUE)[1], paste0(name, ".csv")),
            row.names = FALSE, quote = FALSE)
}
"""


def mclust_datasets(tmp: Path) -> dict[str, Path]:
    """Name -> a CSV of MCLUST_DATA's numeric columns, written by R in a folder of tmp."""
    folder = tmp / "mclust_data"
    folder.mkdir()
    script = tmp / "export.R"
    script.write_text(R_EXPORT)
    subprocess.run(["Rscript", str(script), str(folder)], capture_output=True, check=True)
    return {name: folder / f"{name}.csv" for name in MCLUST_DATA}


def datasets(tmp: Path, breast_cancer: bool, wide: bool = False) -> dict[str, Path]:
    """Name -> a CSV of the data (with a header row)."""
    from sklearn.datasets import load_breast_cancer, load_iris, load_wine

    out = {"Old Faithful": ROOT / "sample_data" / "faithful.csv"}
    loaders = [("iris", load_iris), ("wine", load_wine)]
    for name, loader in loaders + ([("breast cancer", load_breast_cancer)] if breast_cancer
                                   else []):
        x = loader().data
        for label, values in ((name, x), (f"{name} (std)", (x - x.mean(0)) / x.std(0))):
            path = tmp / (label.replace(" ", "_").replace("(", "").replace(")", "") + ".csv")
            header = ",".join(f"x{j}" for j in range(x.shape[1]))
            np.savetxt(path, values, delimiter=",", header=header, comments="", fmt="%.17g")
            out[label] = path
    if wide:
        path = tmp / "blobs_500x40.csv"
        made = subprocess.run([sys.executable, "-m", "emgmm_cli", "make-blobs", "-n", "500",
                               "--n-centers", "4", "--dim", "40", "--seed", "0"],
                              capture_output=True, text=True, check=True, cwd=ROOT)
        path.write_text(made.stdout)
        out["blobs, 500 x 40"] = path
    return out


def _ours(table: Path) -> tuple[dict[tuple[str, int], float], str, float]:
    """emgmm's table: (model, K) -> log-likelihood of the cells that have one (ok or
    degenerate), the chosen cell and its BIC (emgmm's sign: lower is better)."""
    logliks, chosen, bic = {}, "none", math.nan
    with open(table, newline="") as fh:
        for row in csv.DictReader(fh):
            key = (row["mclust"], int(row["n_components"]))
            if row["log_likelihood"]:
                logliks[key] = float(row["log_likelihood"])
            if row["best"] == "true":
                chosen, bic = f"{key[0]} {key[1]}", float(row["bic"])
    return logliks, chosen, bic


def _theirs(out: str) -> tuple[float, str, float, dict[tuple[str, int], float]]:
    """Rscript's output: the call's seconds, the chosen model and its BIC in emgmm's sign,
    and (model, K) -> log-likelihood."""
    seconds, chosen, bic, logliks = math.nan, "none", math.nan, {}
    for line in out.splitlines():
        parts = line.split()
        if parts[0] == "seconds":
            seconds = float(parts[1])
        elif parts[0] == "chosen":
            chosen, bic = f"{parts[1]} {parts[2]}", -float(parts[3])
        elif parts[2] != "NA":
            logliks[parts[0], int(parts[1])] = float(parts[2])
    return seconds, chosen, bic, logliks


def _select(path: Path, table: Path, *extra: str) -> list[str]:
    """`emgmm select PATH --seed 0 --table TABLE EXTRA...` as a command."""
    return [sys.executable, "-m", "emgmm_cli", "select", str(path), "--seed", "0",
            "--table", str(table), *extra]


def again(path: Path, cell: tuple[str, int], n_init: int, tmp: Path) -> float:
    """emgmm's log-likelihood of one cell run alone with --n-init N (nan where none)."""
    table = tmp / "cell.csv"
    _timed(_select(path, table, "-c", cell[0], "-k", str(cell[1]), "--n-init", str(n_init)))
    return _ours(table)[0].get(cell, math.nan)


def below(name: str, path: Path, ours: dict[tuple[str, int], float],
          theirs: dict[tuple[str, int], float], n_init: int | None, tmp: Path) -> list[str]:
    """The second table's rows: each cell where ours is below theirs less SLACK, in
    mclust's order (model, then K); with n_init, the cell again with --n-init N."""
    rows = []
    for cell, value in theirs.items():
        if cell not in ours or ours[cell] - value >= -SLACK:
            continue
        line = (f"| {name} | {cell[0]} | {cell[1]} | {ours[cell]:.2f} | {value:.2f} | "
                f"{ours[cell] - value:+.3f} |")
        if n_init is not None:
            later = again(path, cell, n_init, tmp)
            line += f" {later:.2f} | {later - value:+.3f} |"
        rows.append(line)
    return rows


class Compared(NamedTuple):
    """One dataset's row of the table, its cells both fit and its rows of the second."""

    line: str
    both: int
    below: list[str]


def row(name: str, path: Path, repeats: int, use_r: bool, tmp: Path,
        n_init: int | None = None) -> Compared:
    ours_s, theirs_s, call_s = [], [], []
    table = tmp / "cells.csv"
    out = ""
    for _ in range(repeats):
        ours_s.append(_timed(_select(path, table))[0])
        if use_r:
            wall, out = _timed(["Rscript", str(tmp / "select.R"), str(path)])
            theirs_s.append(wall)
            call_s.append(_theirs(out)[0])
    ours, chosen, bic = _ours(table)
    med = statistics.median(ours_s)
    if not use_r:
        return Compared(f"| {name} | {med:.2f} | n/a | n/a | n/a | n/a | n/a | n/a | "
                        f"{chosen} | n/a | n/a |", 0, [])
    _, their_choice, their_bic, theirs = _theirs(out)
    gaps = {key: ours[key] - value for key, value in theirs.items() if key in ours}
    listed = below(name, path, ours, theirs, n_init, tmp)
    worst = min(gaps, key=gaps.__getitem__)
    r_med = statistics.median(theirs_s)
    return Compared(
        f"| {name} | {med:.2f} | {r_med:.2f} | {statistics.median(call_s):.2f} | "
        f"{r_med / med:.2f} | {len(gaps)} | {len(listed)} | {gaps[worst]:+.3f} ({worst[0]} "
        f"{worst[1]}) | {chosen} | {their_choice} | {bic - their_bic:+.2f} |",
        len(gaps), listed)


def tables(rows: list[Compared], n_init: int | None, use_r: bool = True) -> str:
    """The table of the datasets with a row of sums, and the table of the cells below
    (without R, neither the sums nor that table)."""
    lines = ["| data | emgmm select s | Mclust s (process) | Mclust s (call) | "
             "Mclust / emgmm | cells both fit | emgmm below mclust - 0.01 | worst gap | "
             "emgmm chooses | Mclust chooses | BIC of emgmm's choice less Mclust's |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [r.line for r in rows]
    if not use_r:
        return "\n".join(lines)
    listed = [line for r in rows for line in r.below]
    lines.append(f"| all {len(rows)} | | | | | {sum(r.both for r in rows)} | {len(listed)} "
                 "| | | | |")
    head = ("| data | model | K | emgmm log L | mclust log L | emgmm less mclust |",
            "|---" * 6)
    if n_init is not None:
        head = (head[0] + f" emgmm log L, --n-init {n_init} | that less mclust |",
                head[1] + "|---" * 2)
    second = ([head[0], head[1] + "|"] + listed if listed
              else ["No cell of emgmm's is below mclust's log-likelihood less 0.01."])
    return ("\n".join(lines) + "\n\nCells where emgmm's log-likelihood is below mclust's "
            "less 0.01:\n\n" + "\n".join(second))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="datasets whose names start so")
    parser.add_argument("--breast-cancer", action="store_true",
                        help="also breast cancer, raw and standardised (minutes a side)")
    parser.add_argument("--wide", action="store_true",
                        help="also 500 x 40 round blobs (make-blobs, seed 0)")
    parser.add_argument("--mclust-data", action="store_true",
                        help="also " + ", ".join(MCLUST_DATA) + " (written by R; needs R)")
    parser.add_argument("--n-init", type=int, metavar="N",
                        help="run each cell below mclust again alone with --n-init N")
    args = parser.parse_args()
    use_r = shutil.which("Rscript") is not None and subprocess.run(
        ["Rscript", "-e", "library(mclust)"], capture_output=True).returncode == 0
    notes = []
    if not use_r:
        notes.append("R with mclust not found: emgmm's times alone"
                     + ("; --mclust-data's datasets skipped" if args.mclust_data else ""))
        print(notes[-1], file=sys.stderr)
    # as installed: the package's bytecode compiled
    compileall.compile_dir(str(ROOT / "emgmm_cli"), quiet=1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "select.R").write_text(R_SELECT)
        data = datasets(tmp, args.breast_cancer, args.wide)
        if args.mclust_data and use_r:
            data.update(mclust_datasets(tmp))
        for name, path in data.items():
            if args.only and not any(name.lower().startswith(o.lower()) for o in args.only):
                continue
            rows.append(row(name, path, args.repeats, use_r, tmp, args.n_init))
            print("\n".join([rows[-1].line] + rows[-1].below), file=sys.stderr)
    print("\n\n".join([provenance(sys.argv[1:], use_r)] + notes
                       + [tables(rows, args.n_init, use_r)]))
    return 0


def provenance(argv: list[str], use_r: bool, script: str = "select_models.py") -> str:
    """The command (benchmarks/SCRIPT ARGV), the date, the commit, the machine and the
    versions (R's and mclust's with use_r)."""
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run(git + ["rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    if subprocess.run(git + ["diff", "--quiet", "HEAD", "--", "emgmm_cli"]).returncode:
        commit += " with uncommitted changes to emgmm_cli"
    r_version = ""
    if use_r:
        r_version = ", " + subprocess.run(
            ["Rscript", "-e", "cat(paste0(R.version.string, ', mclust ', "
             "packageVersion('mclust')))"],
            capture_output=True, text=True).stdout.strip()
    return (f"`python benchmarks/{script} {shlex.join(argv)}`".replace(" `", "`")
            + f": {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, commit "
            f"{commit}, {platform.machine()} with {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, numpy {np.__version__}{r_version}")


if __name__ == "__main__":
    sys.exit(main())
