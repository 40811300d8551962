"""The ``auto`` initialisation: many cheap starts screened, the most promising continued.

A fit with init ``auto`` and n_init = R makes C = min(SCREEN_MAX, SCREEN_PER_RUN * R)
candidate starts (one for K = 1: a single Gaussian has one optimum), in this order
(candidate_methods): mclust's hierarchy cut at K (``hc``), k-means (``kmeans``), random
responsibilities (``random``), then k-means runs, k-means++ seeds (``k-means++``) and
random data points (``random-from-data``) in turn (and random responsibilities among them
from n_init THOROUGH_FROM on).  The hierarchy is the caller's (select builds one for all
its cells) or built by fitting.fit from the seed (hc.seeded_hc_tree); data with missing
values have none, and their candidates start at k-means.  Each candidate draws from a
child stream of the fit's seed, starts as that init method does, and runs SCREEN_ITERS
plain EM iterations (Rmixmod's "smallEM"), on the data itself up to SCREEN_ROWS rows and
on a random SCREEN_ROWS of them beyond; from n_init THOROUGH_FROM on, THOROUGH_ITERS
iterations accelerated as the full runs are (screen_iterations).  The candidates are then
ranked: one that failed, stalled (two components nearly the same Gaussian: see stalled)
or ended degenerate comes last; the others by their log-likelihood; a sound candidate
that ended at the same mixture as a better ranked one (same_mixture) is left out, since
its full run would reach the same optimum.  The R best run to convergence (fitting.fit),
each from where its screening ended (fewer where fewer are left; the hierarchy's as
mclust runs EM until mclust's rule holds, then accelerated: em.run_em's mclust_first);
when R >= 2 and a hierarchy was given, mclust's own start is always among them
(mclusts_start: the lifted candidate below where there is one, the hierarchy's
otherwise).  A continued run that stalls or ends degenerate is replaced by the next
candidate in the ranking (a stalled one still competes for the fit: fitting._auto_runs); a candidate whose screening on the data itself ended degenerate
is not continued (unless all did), and a run that cannot be kept stops once found
degenerate (fitting._auto_runs, em.WATCH_EVERY).  From n_init 4 on, only R - R // 2 runs
are made from these candidates (screen's runs) and the others from split-and-merge moves
(engine.splitmerge, which ranks its moves with rank).

Where the covariance floor is felt (floor_felt: reg_covar at least FLOOR_FELT of the
rows' least variance along any direction) and EM is soft, the hierarchy's start is also
run as mclust runs EM from it (_lifted): plain EM with no floor to speak of (reg_covar *
LIFTED_FLOOR) until mclust's stopping rule holds (MCLUST_TOL), then one iteration with
reg_covar; it is ranked and continued as the screened candidates are.  mclust has no
floor, and on such data the floor alone can lead EM from the same partition to another
optimum: on raw breast cancer, VVV with K = 2, 22639.05 with the floor throughout,
22656.79 from mclust's own optimum continued under the floor, which this candidate
reproduces (docs/optima.md).

Where a hierarchy is given, one more candidate (``hc-family``, _family_candidate) cuts
hc.family_tree: the hierarchy with its last merges down to K decided again by the cell's
own family.  Like the lifted one it comes after the others, draws no random numbers and
changes no other candidate's stream; it is left out where the family merges as the
hierarchy does.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .. import vocab
from .dataset import (Dataset, InMemoryRows, WeightedRows, row_known, row_weights,
                      take_weights)
from .em import MCLUST_TOL, DegenerateTest, EMRun, past, run_em
from .errors import EngineError
from .families import screening_m_steps
from .hc import HcTree, family_tree
from .init import initial_params
from .options import FitOptions
from .ordering import component_order
from .missing import row_missing
from .params import MixtureParams
from .stacked import run_stacked, runs_per_pass, stack_groups

Array = NDArray[np.floating]

#: Plain EM iterations each candidate start gets before the ranking, and candidates per
#: full run: measured on Old Faithful and iris (14 models, K = 1..9) and 20,000 x 5 blobs,
#: 4 candidates of 10 iterations per run found the same optima as 10 of 20 in all but a
#: few cells, at a quarter of the screening's cost (docs/optima.md has the figures).
SCREEN_ITERS = 10
SCREEN_PER_RUN = 4
SCREEN_MAX = 40
#: From this n_init on (where a fit also makes split-and-merge moves: splitmerge.FROM_RUNS),
#: each candidate, and each move, is screened by THOROUGH_ITERS EM iterations accelerated
#: as the full runs are (options.accelerate): ten plain iterations rank the candidates by
#: where they stand, not by where they lead.  Measured with fit --n-init 10 against
#: scikit-learn's best of 30 k-means restarts and mclust on the 249 cells of
#: benchmarks/optima.py (docs/optima.md), with _THOROUGH_ROTATION: 10 plain iterations, 6
#: cells short; 50 accelerated, none.  On those 6 cells from seeds 0 to 4 (30 fits), 20
#: accelerated iterations left 10 fits short, 30 left 8, 50 left 3.  The fits of the
#: benchmark take 2 to 3 times as long (2026-12-04).
THOROUGH_FROM = 4
THOROUGH_ITERS = 50
#: Above this many rows, the candidates are screened on a random subsample of this size.
SCREEN_ROWS = 2000
#: Two components whose Bhattacharyya distance is below this are the same Gaussian; a fit
#: that holds such a pair has stalled at a stationary point of a smaller mixture.
STALL_DISTANCE = 1e-4
#: Two screened candidates whose mixtures agree to this (weights; means and covariances
#: in units of the columns' spread; components matched by their means) are one mixture:
#: their full runs would reach the same optimum, so only the better ranked is continued.
SAME_MIXTURE = 1e-6
#: The floor of the hierarchy's second candidate, relative to reg_covar, and the share of
#: the rows' least variance (the smallest eigenvalue of their covariance) from which
#: reg_covar is felt.  With reg_covar 1e-6 that share is, measured: raw breast cancer
#: 1.4, standardised 0.0075 (both felt); wine 1.2e-4, iris 4e-5, Old Faithful 4e-6 (not:
#: there the second candidate changed no optimum of the benchmark, docs/optima.md).
LIFTED_FLOOR = 1e-6
FLOOR_FELT = 1e-3
#: The candidates after the first three, in turn: k-means runs (each from its own k-means++
#: seeds), k-means++ seeds and random data points.  Measured against scikit-learn's best of
#: 30 k-means restarts (benchmarks/optima.py's cache) with fit --n-init 10 on faithful, wine,
#: wine standardised and breast cancer standardised: cells short of it 19 -> 13 when k-means
#: runs join the rotation (docs/optima.md).
_ROTATION = ("kmeans", "k-means++", "random-from-data")
#: The rotation of a thorough screening (THOROUGH_FROM) has random responsibilities too:
#: they start near the data's mean and ten plain iterations seldom show where they lead,
#: but they suit the shared covariance.  Of 40 single runs each on standardised wine, EEE
#: with K = 6, none from k-means, k-means++ or data points reached scikit-learn's best, 9
#: from random responsibilities; with the thorough screening but the rotation above, 4 of
#: the 249 cells of benchmarks/optima.py stayed short (2026-12-04).  In the short
#: screening it led sample_data/heights.csv's fit with K = 2 and n_init 2 to a lower
#: optimum (log-likelihood 346.26 against 348.87).
_THOROUGH_ROTATION = ("kmeans", "random", "k-means++", "random-from-data")


def candidate_methods(count: int, hierarchy: bool = False, thorough: bool = False
                      ) -> list[str]:
    """The init method of each of ``count`` candidates, in candidate order (the first the
    hierarchy's when one is given); thorough: a thorough screening's (THOROUGH_FROM)."""
    first = ["hc", "kmeans", "random"] if hierarchy else ["kmeans", "random"]
    turn = _THOROUGH_ROTATION if thorough else _ROTATION
    rest = [turn[i % len(turn)] for i in range(max(count - len(first), 0))]
    return (first + rest)[:count]


def thorough(options: FitOptions) -> bool:
    """Whether the fit's screening is thorough (THOROUGH_FROM)."""
    return options.n_init >= THOROUGH_FROM


def screen_count(n_init: int) -> int:
    return min(SCREEN_MAX, SCREEN_PER_RUN * n_init)


def screen_iterations(options: FitOptions) -> tuple[int, str]:
    """The EM iterations each candidate is screened by, and how they are accelerated (see
    THOROUGH_FROM)."""
    if thorough(options):
        return THOROUGH_ITERS, options.accelerate
    return SCREEN_ITERS, "none"


@functools.lru_cache(maxsize=64)
def component_pairs(k: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(i, j) of every pair of components i < j (np.triu_indices(k, 1), built once per K:
    a fifth of a small mixture's Bhattacharyya distances to build each time)."""
    i, j = np.triu_indices(k, 1)
    i.setflags(write=False)
    j.setflags(write=False)
    return i, j


def bhattacharyya(params: MixtureParams) -> Array:
    """(K, K) Bhattacharyya distances between the components (0 on the diagonal)."""
    k = params.n_components
    out = np.zeros((k, k))
    if k < 2:
        return out
    i, j = component_pairs(k)
    dist = _pair_distances(params.means[None], params.full_covariances()[None])[0]
    out[i, j] = out[j, i] = dist
    return out


def _pair_distances(means: Array, cov: Array) -> Array:
    """(C, P) Bhattacharyya distances (at least 0) of the P = K (K - 1) / 2 pairs of
    components (component_pairs' order) of C mixtures of K components, from their means
    (C, K, D) and covariances (C, K, D, D): one batched solve and determinant for all."""
    i, j = component_pairs(means.shape[1])
    mid = 0.5 * (cov[:, i] + cov[:, j])
    delta = means[:, i] - means[:, j]
    maha = np.einsum("cpd,cpd->cp", delta, np.linalg.solve(mid, delta[..., None])[..., 0])
    _, log_mid = np.linalg.slogdet(mid)
    _, log_each = np.linalg.slogdet(cov)
    dist = maha / 8.0 + 0.5 * (log_mid - 0.5 * (log_each[:, i] + log_each[:, j]))
    return np.maximum(dist, 0.0)


def stalled(params: MixtureParams, threshold: float = STALL_DISTANCE) -> bool:
    """Whether two components are nearly the same Gaussian (a start that collapsed onto
    the data's mean, as random responsibilities can, or a duplicated component)."""
    return stalled_each([params], threshold)[0]


def stalled_each(mixtures: list[MixtureParams], threshold: float = STALL_DISTANCE
                 ) -> list[bool]:
    """stalled of each of mixtures of one family and K, their distances computed at once."""
    if not mixtures or mixtures[0].n_components < 2:
        return [False] * len(mixtures)
    dist = _pair_distances(np.array([p.means for p in mixtures]),
                           np.array([p.full_covariances() for p in mixtures]))
    close = np.asarray((~(dist >= threshold)).any(axis=1))
    return [bool(flag) for flag in close]


def same_mixture(a: MixtureParams, b: MixtureParams, column_variance: Array,
                 tol: float = SAME_MIXTURE) -> bool:
    """Whether a and b are one mixture to tol, whatever the order of their components."""
    if (a.n_components, a.covariance_type) != (b.n_components, b.covariance_type):
        return False
    oa = component_order(a.weights, a.means, "mean")
    ob = component_order(b.weights, b.means, "mean")
    scale = np.sqrt(np.where(column_variance > 0, column_variance, 1.0))
    pairs = ((a.weights[oa], b.weights[ob]), (a.means[oa] / scale, b.means[ob] / scale),
             (a.full_covariances()[oa] / np.outer(scale, scale),
              b.full_covariances()[ob] / np.outer(scale, scale)))
    return all(bool(np.all(np.abs(u - v) <= tol)) for u, v in pairs)


def floor_felt(reg_covar: float, sample: Dataset) -> bool:
    """Whether reg_covar is at least FLOOR_FELT of the rows' least variance along any
    direction (the smallest positive eigenvalue of their covariance, weighted as the rows
    are): the share of it a component's covariance, smaller still, is floored by."""
    x = sample.take(np.arange(sample.n_samples)).astype(np.float64, copy=False)
    w = row_weights(sample)
    if x.shape[0] < 2 or (w is not None and not (w > 0).sum() >= 2):
        return False
    with np.errstate(all="ignore"):
        cov = np.atleast_2d(np.cov(x, rowvar=False, bias=True, aweights=w))
        eigen = np.linalg.eigvalsh(cov) if np.isfinite(cov).all() else np.zeros(1)
    live = eigen[eigen > 0]
    return bool(len(live)) and reg_covar >= FLOOR_FELT * float(live.min())


@dataclass
class Candidate:
    """One screened start: its method, its stream, and where its screening ended; floor:
    the lifted floor its screening ran with (None: reg_covar's); tree: the hierarchy an
    "hc" candidate cuts where not the fit's (hc.family_tree's)."""

    index: int
    method: str
    floor: float | None = None
    tree: HcTree | None = None
    params: MixtureParams | None = None
    loglik: float = -math.inf
    usable: bool = False
    #: its screening ended at a covariance collapsed onto the floor (em.degenerate_components)
    degenerate: bool = False
    error: EngineError | None = None

    def rank(self) -> tuple[bool, float, int]:
        return (not self.usable, -self.loglik, self.index)

    @property
    def origin(self) -> str:
        """How its run started, as a fit records it (FitResult.origin): the method,
        vocab.LIFTED_ORIGIN for the hierarchy's start run with the floor lifted, or
        vocab.FAMILY_HC_ORIGIN for the family's own last merges."""
        if self.floor is not None:
            return vocab.LIFTED_ORIGIN
        return vocab.FAMILY_HC_ORIGIN if self.tree is not None else self.method


def _screening_data(data: Dataset, rng: np.random.Generator) -> Dataset:
    if data.n_samples <= SCREEN_ROWS:
        return data
    rows = np.sort(rng.choice(data.n_samples, size=SCREEN_ROWS, replace=False))
    sample = InMemoryRows(data.take(rows))
    weights, known = take_weights(data, rows), row_known(data)
    if weights is None and known is None:
        return sample
    return WeightedRows(sample, weights, None if known is None else known[rows])


def _start(data: Dataset, sample: Dataset, options: FitOptions, cand: Candidate,
           rng: np.random.Generator, column_mean: Array, column_variance: Array,
           hc_tree: HcTree | None) -> Candidate:
    """The candidate's starting parameters (cand.params), or the reason it has none."""
    where = data if cand.method == "hc" else sample
    try:
        cand.params = initial_params(
            where, options.n_components, options.covariance_type, cand.method, rng,
            reg_covar=options.reg_covar if cand.floor is None else cand.floor,
            column_mean=column_mean,
            column_variance=column_variance,
            hc_tree=hc_tree if cand.tree is None else cand.tree)
    except EngineError as exc:
        cand.error = exc
    return cand


def _iterate(sample: Dataset, options: FitOptions, cands: list[Candidate],
             deadline: float | None = None) -> None:
    """The screening's EM iterations (screen_iterations) from every started candidate, in
    place: stacked (engine.stacked: one pass for all) where EM is soft and no row misses
    a value, one candidate after another otherwise, and those with a lifted floor alone
    (_lifted); a candidate whose EM fails loses its params.  Accelerated (a thorough
    screening), the hierarchy's candidate is so only once mclust's rule holds, as its
    full run (em.run_em's mclust_first).  deadline: the fit's time limit (a
    time.monotonic()), after which no pass starts but each run's first, as in the full
    runs (em.run_em)."""
    iterations, accelerate = screen_iterations(options)
    started = [c for c in cands if c.params is not None and c.floor is None]
    if started and options.algorithm == "soft" and row_missing(sample) is None:
        # in the groups run_stacked would make (the same runs), each group's screened
        # mixtures taking the place of its starts before the next group runs: only one
        # group's parameters are held twice
        per = runs_per_pass(started[0].params, sample)  # type: ignore[arg-type]
        for indices in stack_groups(len(started), per):
            group = [started[j] for j in indices]
            _screened(group, run_stacked(
                sample, [c.params for c in group],  # type: ignore[misc]
                tol=options.tol, max_iter=iterations, reg_covar=options.reg_covar,
                accelerate=accelerate, deadline=deadline, exact_final=False,
                mclust_first=[c.origin == "hc" for c in group]))
    else:
        for cand in started:
            _screened([cand], [_alone(sample, cand.params, options,  # type: ignore[arg-type]
                                      iterations, accelerate, deadline)])
    for cand in cands:
        if cand.params is not None and cand.floor is not None:
            _screened([cand], [_lifted(sample, cand.params, options, cand.floor, deadline)])


def _screened(cands: list[Candidate], runs: list[EMRun | EngineError]) -> None:
    """Each candidate where its screening run ended (its params), or its error."""
    for cand, run in zip(cands, runs):
        if isinstance(run, EngineError):
            cand.params, cand.error = None, run
        else:
            cand.params, cand.loglik = run.params, run.final.loglik / run.final.n


def _alone(sample: Dataset, start: MixtureParams, options: FitOptions, iterations: int,
           accelerate: str = "none", deadline: float | None = None) -> EMRun | EngineError:
    """A candidate's EM iterations by run_em, one candidate alone (hard EM, missing
    values, the last of _lifted's)."""
    try:
        return run_em(sample, start, tol=options.tol, max_iter=iterations,
                      reg_covar=options.reg_covar, hard=options.algorithm == "hard",
                      accelerate=accelerate, deadline=deadline)
    except EngineError as exc:
        return exc


def _lifted(sample: Dataset, start: MixtureParams, options: FitOptions, floor: float,
            deadline: float | None = None) -> EMRun | EngineError:
    """A candidate run as mclust runs EM, with the floor lifted: plain EM until the
    log-likelihood L changes by less than MCLUST_TOL (1 + |L|) (mclust's rule; at most
    max_iter - 1 iterations), then one iteration with reg_covar (whose M-step floors the
    covariances as every other candidate's are)."""
    try:
        first = run_em(sample, start, tol=MCLUST_TOL, max_iter=max(options.max_iter - 1, 1),
                       reg_covar=floor, relative_tol=True, deadline=deadline)
    except EngineError as exc:
        return exc
    return _alone(sample, first.params, options, 1)


def _judge(cands: list[Candidate], options: FitOptions, test: DegenerateTest) -> None:
    """Whether each screened candidate may be continued (see Candidate.rank): all of them
    judged at once (test: the degenerate test of the rows they were screened on)."""
    done = [c for c in cands if c.params is not None and math.isfinite(c.loglik)]
    mixtures: list[MixtureParams] = [c.params for c in done]  # type: ignore[misc]
    bad = zip(stalled_each(mixtures),
              test.each(mixtures, options.reg_covar))
    for cand in cands:
        cand.usable = False
    for cand, (stall, degenerate) in zip(done, bad):
        cand.usable = not stall and not degenerate
        cand.degenerate = bool(degenerate)


def _distinct(ranked: list[Candidate], column_variance: Array) -> list[Candidate]:
    """The ranking without the usable candidates that are the same mixture as a better
    ranked usable one (same_mixture; their log-likelihoods, equal to rounding, are
    compared first).  Where one of them is mclust's own start (_mclusts), it takes the
    place of the better ranked one: its run is made as mclust makes it, and mclust's
    start is among the runs (mclusts_start) where it led where another did."""
    kept: list[Candidate] = []
    for cand in ranked:
        assert cand.params is not None
        same = next((j for j, k in enumerate(kept) if cand.usable and k.usable
                     and abs(k.loglik - cand.loglik) <= SAME_MIXTURE * (1 + abs(k.loglik))
                     and same_mixture(k.params, cand.params,  # type: ignore[arg-type]
                                      column_variance)), None)
        if same is None:
            kept.append(cand)
        elif _mclusts(cand) and not _mclusts(kept[same]):
            kept[same] = cand
    return kept


def _mclusts(cand: Candidate) -> bool:
    """Whether the candidate starts as mclust starts: the hierarchy cut at K, run with
    the floor or lifted (not hc-family, the family's own last merges)."""
    return cand.origin in ("hc", vocab.LIFTED_ORIGIN)


def best_ranked(ranked: list[Candidate], more: list[Candidate], column_variance: Array,
                keep: int) -> list[Candidate]:
    """The keep best usable candidates of two rankings (rank's) together, in rank's order,
    the same mixture once.  Whether a candidate is kept depends on the better ranked ones
    alone, so that ranking groups one after another through this, keeping keep each
    time, ends with the first keep usable ones of ranking them all at once."""
    both = sorted(ranked + more, key=Candidate.rank)
    return [c for c in _distinct(both, column_variance) if c.usable][:keep]


def rank(sample: Dataset, options: FitOptions, cands: list[Candidate],
         column_variance: Array, deadline: float | None = None) -> list[Candidate]:
    """Started candidates screened on the rows of sample (_iterate, to deadline), judged
    and ranked: the order the full runs take them in, the same mixture once (_distinct)."""
    _iterate(sample, options, cands, deadline)
    _judge(cands, options, DegenerateTest.of(sample, column_variance))
    return _distinct(sorted((c for c in cands if c.params is not None), key=Candidate.rank),
                     column_variance)


def _family_candidate(data: Dataset, options: FitOptions, hc_tree: HcTree,
                      column_mean: Array, index: int) -> list[Candidate]:
    """The candidate that cuts hc.family_tree (the hierarchy with its last merges decided
    by the family's own likelihood), or none where that tree is none or cuts as hc_tree
    does (the hierarchy's own candidate already starts there)."""
    k = options.n_components
    tree = family_tree(data, hc_tree, k, options.covariance_type, options.reg_covar,
                       origin=column_mean)
    if tree is None or np.array_equal(tree.partition(k), hc_tree.partition(k)):
        return []
    return [Candidate(index, "hc", tree=tree)]


def mclusts_start(ranked: list[Candidate]) -> Candidate | None:
    """The usable candidate that starts as mclust starts: the hierarchy's start run as
    mclust runs EM (_lifted) where the floor is felt, the hierarchy's start otherwise."""
    usable = [c for c in ranked if c.usable]
    return next((c for c in usable if c.origin == vocab.LIFTED_ORIGIN),
                next((c for c in usable if c.origin == "hc"), None))


def sample_stream(seed: np.random.SeedSequence) -> np.random.SeedSequence:
    """The stream screen draws its rows from: seed's first child."""
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, 0),
                                  pool_size=seed.pool_size)


def screening_sample(data: Dataset, seed: np.random.SeedSequence) -> Dataset:
    """The rows screen runs its candidates on (the data, or SCREEN_ROWS of them)."""
    return _screening_data(data, np.random.default_rng(sample_stream(seed)))


def screen(data: Dataset, options: FitOptions, seed: np.random.SeedSequence,
           column_mean: Array, column_variance: Array,
           hc_tree: HcTree | None, runs: int | None = None,
           deadline: float | None = None) -> list[Candidate]:
    """Every candidate screened, in the order the full runs take them (see the module
    docstring); candidates whose start failed are left out, and when every one failed the
    first one's error is raised.  runs: the full runs made from them (n_init unless
    given), among which the hierarchy's is placed; deadline: the fit's time limit, past
    which no candidate starts but the first and the screening's runs take no more passes
    (rank)."""
    runs = options.n_init if runs is None else runs
    # one component has one optimum, the data's mean and covariance: one start reaches it
    count = screen_count(options.n_init) if options.n_components > 1 else 1
    # the sample's, the candidates', the lifted one's, the family's
    streams = seed.spawn(count + 3)
    sample = screening_sample(data, seed)
    cands = [Candidate(i, method)
             for i, method in enumerate(candidate_methods(count, hc_tree is not None,
                                                              thorough(options)))]
    if (hc_tree is not None and options.n_components > 1 and options.algorithm == "soft"
            and floor_felt(options.reg_covar, sample)):
        cands.append(Candidate(count, "hc", floor=options.reg_covar * LIFTED_FLOOR))
    if hc_tree is not None and options.n_components > 1:
        cands += _family_candidate(data, options, hc_tree, column_mean, count + 1)
    with screening_m_steps():  # candidates ranked by where they lead, not exact M-steps
        for cand in cands:
            if cand is not cands[0] and past(deadline):
                break  # past the time limit no candidate starts but the first
            _start(data, sample, options, cand,
                   np.random.default_rng(streams[cand.index + 1]), column_mean,
                   column_variance, hc_tree)
        ranked = rank(sample, options, cands, column_variance, deadline)
    if not ranked and cands[0].error is not None:
        raise cands[0].error  # no start could be made: the first one's reason
    hc = mclusts_start(ranked)
    if runs >= 2 and hc is not None and ranked.index(hc) >= runs:
        ranked.remove(hc)
        ranked.insert(runs - 1, hc)
    return ranked
