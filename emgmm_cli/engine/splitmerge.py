"""Split-and-merge moves: the auto start's later runs, from the best optimum found so far.

EM stops at the nearest maximum, and a common one short of the best has two components
sharing one group of points while a third spans two groups.  No restart fixes that but
by luck; a move does (SMEM: Ueda, Nakano, Ghahramani and Hinton, 2000).  From a fit's
responsibilities, a move (i, j, k) merges components i and j (j's responsibilities
added to i's) and splits a third, k, in two: the rows on the far side of k's mean along
the principal axis of their scatter about it, weighed by their responsibilities of k
(the eigenvector of its largest eigenvalue), give their responsibility of k to j, the
others keep it.  The number of components stays K.
Merge pairs come in decreasing order of the cosine between their columns of
responsibilities (the pair that explains the same rows alike first), and for each pair
every other component is split, in component order: at most MOVES moves.  A move's
start is the M-step of its responsibilities (engine.em.m_step, with the fit's
reg_covar); a move whose split leaves a component less than MIN_MASS rows, or whose
M-step fails, is left out.

engine.fitting gives a fit with init auto and n_init = R >= FROM_RUNS (and K >= 3) R // 2
runs of moves (budget): after the R - R // 2 runs from screened starts, it makes the
moves of the best run so far, screens them as engine.starts screens its candidates
(SCREEN_ITERS plain EM iterations each on the screening's rows, ranked; those that
stall, fail or end degenerate left out), and runs the CONTINUED best to convergence,
then the next CONTINUED of the same ranking while none has raised the best
log-likelihood by more than tol per row, and the moves of the new best once one has,
until the budget is spent or no move is left.  Moves are made from the data's
responsibilities, so they need soft EM, nothing frozen, degenerate components kept, and
every value of every row known (applies); elsewhere every run starts from the screening.
Nothing here draws a random number: a fit's moves follow from its runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from .. import vocab
from .dataset import Dataset, row_known, row_weights
from .em import m_step
from .errors import EngineError
from .missing import row_missing
from .options import FitOptions
from .params import MixtureParams
from .stacked import runs_per_pass
from .starts import THOROUGH_FROM, Candidate, best_ranked, component_pairs, rank
from .stats import predict_chunk, stats_from_resp

Array = NDArray[np.floating]

#: Moves made of one run (at most), and runs continued at a time.  Measured with fit
#: --n-init 10 against scikit-learn's best of 30 k-means restarts and mclust on the 248
#: cells of benchmarks/optima.py: 10 screened runs, 18 cells short; 5 screened and 5 from
#: moves, 2 at a time, 6 short (docs/optima.md, both in one run).  One-off variants of
#: this module, run on the same cells and targets on 2026-12-03 and not kept, left the
#: same 6 short or were within one of them: 1 at a time; 3 or 7 screened runs; 20
#: screening iterations; merge pairs by the inner product of their responsibilities
#: instead of its cosine; split along the covariance's principal axis; after a run that
#: improves nothing, the moves of the next distinct run.  The 6 were short of
#: scikit-learn's best of 30 runs, not of mclust; the thorough screening of a fit with
#: this many runs (starts.THOROUGH_FROM) closed them (2026-12-04).
MOVES = 60
CONTINUED = 2
#: The fewest runs (n_init) from which half of them go to moves: below, each run is worth
#: more as a start of its own (n_init 2, the default, has none).  The same n_init from
#: which the candidates are screened thoroughly: the help of --init auto states one
#: threshold for both (benchmarks/optima.py's "without moves" raises this one alone).
FROM_RUNS = THOROUGH_FROM
#: A move whose split leaves a component less mass than this many rows is left out.
MIN_MASS = 1.0


def applies(data: Dataset, options: FitOptions) -> bool:
    """Whether a fit with these options can make moves (see the module docstring)."""
    return (options.n_components >= 3 and options.algorithm == "soft"
            and not options.freeze and options.on_degenerate == "keep"
            and row_missing(data) is None and row_known(data) is None)


def budget(data: Dataset, options: FitOptions) -> int:
    """How many of the fit's n_init runs start from moves."""
    if options.n_init < FROM_RUNS or not applies(data, options):
        return 0
    return options.n_init // 2


def moves(x: Array, params: MixtureParams, reg_covar: float,
          w: NDArray[np.float64] | None = None, limit: int = MOVES) -> list[MixtureParams]:
    """The starts of the moves of params over the rows x (weighted by w), in order."""
    return list(_moves(x, params, reg_covar, w, limit))


def _moves(x: Array, params: MixtureParams, reg_covar: float,
           w: NDArray[np.float64] | None, limit: int) -> Iterator[MixtureParams]:
    """moves, each made as it is asked for."""
    k = params.n_components
    resp = predict_chunk(x, params, shown=False).resp.astype(np.float64)
    weighted = resp if w is None else resp * w[:, None]
    norm = np.sqrt(np.einsum("nk,nk->k", weighted, resp))
    with np.errstate(divide="ignore", invalid="ignore"):
        cosine = (weighted.T @ resp) / np.outer(norm, norm)
    first, second = component_pairs(k)
    pairs = np.argsort(-np.nan_to_num(cosine[first, second], nan=-1.0), kind="stable")
    far: dict[int, NDArray[np.bool_]] = {}
    made = 0
    for p in pairs:
        i, j = int(first[p]), int(second[p])
        for s in range(k):
            if s in (i, j):
                continue
            if s not in far:
                far[s] = _far_side(x, params.means[s], weighted[:, s])
            start = _moved(x, resp, w, (i, j, s), far[s], params.covariance_type, reg_covar)
            if start is not None:
                yield start
                made += 1
                if made == limit:
                    return


def _far_side(x: Array, mean: Array, resp: NDArray[np.float64]) -> NDArray[np.bool_]:
    """The rows beyond mean along the principal axis of the scatter about it that resp
    weighs (the direction the component's own rows spread most: its covariance's, in a
    family that shares or rounds the covariances, may not say)."""
    dev = (x - mean).astype(np.float64, copy=False)
    axis = np.linalg.eigh((dev * resp[:, None]).T @ dev)[1][:, -1]
    return np.asarray(dev @ axis > 0)


def _moved(x: Array, resp: NDArray[np.float64], w: NDArray[np.float64] | None,
           move: tuple[int, int, int], far: NDArray[np.bool_], covariance_type: str,
           reg_covar: float) -> MixtureParams | None:
    """The M-step of the responsibilities after the move (i, j, k), or None (see
    MIN_MASS)."""
    i, j, k = move
    moved = resp.copy()
    moved[:, i] += resp[:, j]
    moved[:, j] = np.where(far, resp[:, k], 0.0)
    moved[:, k] = np.where(far, 0.0, resp[:, k])
    counted = moved if w is None else moved * w[:, None]
    mass = counted.sum(axis=0)
    if not mass.min() >= MIN_MASS:
        return None
    centers = counted.T @ x / mass[:, None]
    try:
        st = stats_from_resp(x, moved, centers, covariance_type, w)
        return m_step(st, centers, covariance_type, reg_covar)[0]
    except EngineError:
        return None


def screen(sample: Dataset, params: MixtureParams, options: FitOptions,
           column_variance: Array, keep: int = MOVES,
           deadline: float | None = None) -> list[Candidate]:
    """The moves of params, screened on the rows of sample and ranked (engine.starts.rank):
    the keep best usable ones.  The moves are made and screened a stacked group at a time
    (stacked.runs_per_pass: the groups a screening of them all would make), and only the
    keep best screened so far are held (starts.best_ranked): the same candidates, in the
    same order, as screening all the moves at once, with a few mixtures in memory instead
    of every move's start and screened mixture (at K = 9 and D = 100, each is 2 MB).
    deadline: the fit's time limit, past which the screening's runs take no more passes."""
    x = sample.take(np.arange(sample.n_samples))
    made = _moves(x, params, options.reg_covar, row_weights(sample), MOVES)
    per = runs_per_pass(params, sample)
    kept: list[Candidate] = []
    first = 0
    while group := [Candidate(first + i, vocab.MOVE_ORIGIN, params=p)
                    for i, p in enumerate(itertools.islice(made, per))]:
        kept = best_ranked(kept, rank(sample, options, group, column_variance, deadline),
                           column_variance, keep)
        first += len(group)
    return kept
