"""The words of emgmm: names and help text of its choices, numpy-free.

The command line builds --help from this module without importing numpy; the engine's
tables (engine.families, engine.init) take their names and descriptions from it, so a
name is spelled in one place.  A covariance family registered at run time
(engine.families.register) adds its term here too, and every command accepts it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    """A name a user can choose, and one line that says what it means."""

    name: str
    description: str


@dataclass(frozen=True)
class CovarianceTerm(Term):
    """A covariance family: its name, mclust's name for it, and what it constrains."""

    mclust: str = ""


_COVARIANCE: dict[str, CovarianceTerm] = {}


def register_covariance(term: CovarianceTerm) -> CovarianceTerm:
    """Add a covariance family's term (a no-op for a term already known, an error for a
    different term under a known name)."""
    known = _COVARIANCE.get(term.name)
    if known is not None and known != term:
        raise ValueError(f"covariance family {term.name!r} is already registered")
    _COVARIANCE[term.name] = term
    return term


# mclust's 14 models (Sigma_k = lambda_k D_k A_k D_k^T: volume, orientation, shape, each
# E equal, V varying or I the identity), in mclust's order, then its two models of
# one-dimensional data.  Four keep scikit-learn's names; their mclust names are aliases.
for _term in (
    CovarianceTerm("EII", "spheres of one volume (lambda I)", "EII"),
    CovarianceTerm("spherical", "spheres, each of its own volume (lambda_k I)", "VII"),
    CovarianceTerm("EEI", "one diagonal covariance shared by every component (lambda A)",
                   "EEI"),
    CovarianceTerm("VEI", "diagonal, one shape, volumes vary (lambda_k A)", "VEI"),
    CovarianceTerm("EVI", "diagonal, one volume, shapes vary (lambda A_k)", "EVI"),
    CovarianceTerm("diag", "each component has its own diagonal covariance matrix "
                           "(lambda_k A_k)", "VVI"),
    CovarianceTerm("tied", "all components share one general covariance matrix "
                           "(lambda D A D')", "EEE"),
    CovarianceTerm("VEE", "one shape and orientation, volumes vary (lambda_k D A D')", "VEE"),
    CovarianceTerm("EVE", "one volume and orientation, shapes vary (lambda D A_k D')", "EVE"),
    CovarianceTerm("VVE", "one orientation, volumes and shapes vary (lambda_k D A_k D')",
                   "VVE"),
    CovarianceTerm("EEV", "one volume and shape, orientations vary (lambda D_k A D_k')",
                   "EEV"),
    CovarianceTerm("VEV", "one shape, volumes and orientations vary (lambda_k D_k A D_k')",
                   "VEV"),
    CovarianceTerm("EVV", "one volume, shapes and orientations vary (lambda D_k A_k D_k')",
                   "EVV"),
    CovarianceTerm("full", "each component has its own general covariance matrix "
                           "(lambda_k D_k A_k D_k')", "VVV"),
    CovarianceTerm("E", "one-dimensional data: one variance for every component", "E"),
    CovarianceTerm("V", "one-dimensional data: each component has its own variance", "V"),
):
    register_covariance(_term)


def unregister_covariance(name: str) -> None:
    """Forget a registered term (a no-op for an unknown name)."""
    _COVARIANCE.pop(name, None)


def covariance_terms() -> tuple[CovarianceTerm, ...]:
    """Every covariance family, built-in ones first, in registration order."""
    return tuple(_COVARIANCE.values())


def covariance_names() -> tuple[str, ...]:
    return tuple(_COVARIANCE)


def counted(n: int, noun: str) -> str:
    """n and the noun, plural but for one: '1 row', '272 rows', '0 cells'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def canonical_covariance(name: str) -> str:
    """The name a family goes by: ``name`` itself, or the family whose mclust name it is
    (VVV -> full, EEE -> tied, VVI -> diag, VII -> spherical), in any case where no name
    is that exact one (Full, vvv: as 'all' is); unknown names unchanged."""
    if name in _COVARIANCE:
        return name
    exact = next((t.name for t in _COVARIANCE.values() if t.mclust == name), None)
    if exact is not None or not isinstance(name, str):
        return exact or name
    folded = name.casefold()
    return next((t.name for t in _COVARIANCE.values()
                 if folded in (t.name.casefold(), (t.mclust or "").casefold())), name)


def is_covariance(name: str) -> bool:
    """Whether name names a family (canonical_covariance knows it)."""
    return canonical_covariance(name) in _COVARIANCE


def covariance_choices() -> tuple[str, ...]:
    """Every name -c accepts: the families' names, then mclust's names that differ."""
    names = tuple(_COVARIANCE)
    return names + tuple(t.mclust for t in _COVARIANCE.values()
                         if t.mclust and t.mclust not in names)


def covariance_list(text: str) -> list[str]:
    """The families a -c value names, as given: [] for "all" (the data's dimension
    decides), else its comma-separated names, stripped (checked by whoever reads them)."""
    text = text.strip()
    return [] if text.lower() == "all" else [t.strip() for t in text.split(",")]


def covariance_term(name: str) -> CovarianceTerm:
    try:
        return _COVARIANCE[canonical_covariance(name)]
    except KeyError:
        raise ValueError(f"unknown covariance type {name!r}; choose one of "
                         f"{', '.join(_COVARIANCE)}") from None


#: The default initialisation: a strategy over the starts below (engine.starts).
AUTO = "auto"

INIT_METHODS: tuple[Term, ...] = (
    Term(AUTO, "screen many cheap starts (the hierarchy, its last merges decided again by "
               "the covariance family, k-means, k-means++ seeds, random points and random "
               "responsibilities, a few EM iterations each; where "
               "--reg-covar is felt beside the data's spread, also the hierarchy run as "
               "mclust runs it, with no floor), then run the --n-init most promising to "
               "convergence, mclust's own start among them when --n-init is 2 or more (the "
               "hierarchy, run as mclust runs it where that candidate is made); from "
               "--n-init 4 on, the candidates get more EM iterations, accelerated, and "
               "half of the runs start from split-and-merge moves of the best run so far "
               "instead"),
    Term("kmeans", "k-means labels (Lloyd's iterations from k-means++ seeds, on a "
                   "50,000-row sample for larger data)"),
    Term("k-means++", "k-means++ seeds as the means"),
    Term("random", "random responsibilities"),
    Term("random-from-data", "K distinct random data points as the means"),
    Term("hc", "mclust's model-based hierarchical agglomeration cut at K (of one column, "
               "its quantile classes, as mclust starts there), its run plain "
               "EM until mclust's rule holds, as mclust runs it (then random "
               "responsibilities for restarts 2, 3, ...)"),
)
#: The init a fit records when it started from given means (--means-init); not offered
#: by --init.
MEANS_INIT = "means-init"

#: How a run started, as a fit records it for every restart (the model's
#: restart_origins): one of the init methods above but auto, or one of these.
RUN_ORIGINS: tuple[Term, ...] = (
    Term(MEANS_INIT, "the means given by --means-init"),
    Term("init-model", "the parameters of the --init-model file, continued"),
    Term("hc-mclust", "init auto: the hierarchy's start, run as mclust runs EM (the floor "
                      "lifted) before the full run"),
    Term("split-merge", "init auto: a split-and-merge move of the best run before it"),
    Term("hc-family", "init auto: the hierarchy with its last merges decided again by the "
                      "covariance family's own likelihood"),
)
INIT_MODEL_ORIGIN, LIFTED_ORIGIN, MOVE_ORIGIN, FAMILY_HC_ORIGIN = (
    t.name for t in RUN_ORIGINS[1:])

ACCELERATIONS: tuple[Term, ...] = (
    Term("squarem", "SQUAREM (Varadhan and Roland 2008): extrapolate every two EM steps, "
                    "keeping an extrapolation only when it does not lower the likelihood "
                    "(a run from mclust's hierarchical start: once mclust's rule holds)"),
    Term("none", "plain EM, iteration for iteration scikit-learn's"),
)

ALGORITHMS: tuple[Term, ...] = (
    Term("soft", "ordinary EM"),
    Term("hard", "classification EM (each point wholly in its most likely component)"),
)

CRITERIA: tuple[Term, ...] = (
    Term("bic", "Bayesian information criterion, -2 log L + p log N"),
    Term("aic", "Akaike information criterion, -2 log L + 2 p"),
    Term("icl", "integrated completed likelihood, BIC - 2 sum_i log max_k r_ik"),
)

#: Weights closer than this count as equal when components are ordered by weight, so that
#: estimates of equal weights do not swap components between runs; the means decide.
ORDER_WEIGHT_TIE = 1e-3

ORDERS: tuple[Term, ...] = (
    Term("weight", f"largest weight first (weights within {ORDER_WEIGHT_TIE:g} of each other "
                   "count as equal: the means' coordinates decide)"),
    Term("mean", "by the means' first coordinate, smallest first (natural for 1-D data); "
                 "then the other coordinates"),
    Term("none", "as the winning restart left them"),
)

MISSING: tuple[Term, ...] = (
    Term("error", "a missing value is an error naming where it is"),
    Term("drop", "rows with a missing value are left out of the fit and get label -1 "
                 "(NaN responsibilities and log-density)"),
    Term("em", "rows with missing values take part in EM through their observed "
               "coordinates (the marginal density; the missing ones by their conditional "
               "expectation), and get labels and responsibilities like every row"),
)

DTYPES: tuple[Term, ...] = (
    Term("float64", "double precision"),
    Term("float32", "single precision: half the memory, faster"),
)


def names(terms: tuple[Term, ...]) -> tuple[str, ...]:
    return tuple(t.name for t in terms)


def listing(terms: tuple[Term, ...]) -> str:
    """'name (description), ...' for help text."""
    return "; ".join(f"{t.name}: {t.description}" for t in terms)


def listed(items: list[str], word: str = "or") -> str:
    """'a', 'a or b', 'a, b, or c': items joined as a sentence says them."""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + ("," if len(items) > 2 else "") + f" {word} {items[-1]}"
