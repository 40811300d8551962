"""THE fit-option schema: one frozen dataclass, each field with its limits and help.

Everything that decides a fit is a field of FitOptions, declared once with an
OptionSpec: its type, its range or choices, whether it may be None, and one line of
help.  From this one declaration come

- the validation of every fit (FitOptions.validate, errors naming the field),
- the command-line options (emgmm_cli.cli.options builds click options from the fields),
- the "options" of the model document and its checks (to_dict / from_dict),
- the comparison that lets `batch --skip-existing` keep a result,
- the options `info` shows.

The defaults aim at the best optimum, for `fit` and `select` alike: init auto
(engine.starts) with two full runs (mclust's hierarchical start and the best other),
SQUAREM-accelerated EM, and EM run until the mean log-likelihood changes by under 1e-6
per iteration (at most 2000 iterations).  reg_covar is scikit-learn's; with init kmeans,
n_init 1, accelerate none, tol 1e-3 and max_iter 100 a fit is scikit-learn's
GaussianMixture, iteration for iteration.  numpy-free, so that --help can be built from it.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import vocab
from .errors import InvalidParameter

#: Seeds are recorded in JSON and must survive tools that hold numbers as doubles.
MAX_SEED = 2**53 - 1

#: The most points a command or a call draws: numpy counts an array's rows with its index
#: type, whose largest value is sys.maxsize (2^63 - 1 on a 64-bit machine).
MAX_POINTS = sys.maxsize


def too_many_points(counts: Sequence[int]) -> str | None:
    """Why these counts of points (one, or one per blob) cannot be drawn, or None: more
    than MAX_POINTS in all.  A negative count adds nothing here (it is refused apart)."""
    total = sum(max(count, 0) for count in counts)
    if total <= MAX_POINTS:
        return None
    in_all = " in all" if len(counts) > 1 else ""
    return (f"{total} points{in_all} are more than numpy can index (at most {MAX_POINTS})")


@dataclass(frozen=True)
class OptionSpec:
    """What a fit option may be, and what it means (one line of help)."""

    help: str
    kind: type
    low: float | None = None
    high: float | None = None
    choices: Callable[[], tuple[str, ...]] | None = None
    nullable: bool = False
    #: a test of a string value instead of choices, and what it allows in words
    valid: Callable[[str], bool] | None = None
    valid_text: str = ""
    #: a model file may leave it out (it then takes its default): for options that
    #: files written before the option existed lack
    optional_in_file: bool = False

    def accepts(self, value: Any) -> bool:
        """Whether value is allowed (the type, the range, the choices, or None)."""
        if value is None:
            return self.nullable
        if self.kind is str:
            if self.valid is not None:
                return isinstance(value, str) and self.valid(value)
            return isinstance(value, str) and (self.choices is None or value in self.choices())
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                self.kind is int and not isinstance(value, int)):
            return False
        return math.isfinite(value) and not (
            (self.low is not None and value < self.low)
            or (self.high is not None and value > self.high))

    def check(self, name: str, value: Any) -> None:
        """Raise InvalidParameter (naming the option) unless value is allowed."""
        if not self.accepts(value):
            raise InvalidParameter(f"{name} must be {self.describe()}, got {shown(value)}",
                                   option=name)

    def describe(self) -> str:
        """What is allowed: 'an integer >= 1', 'one of soft, hard', '... or null'."""
        if self.kind is str:
            text = (self.valid_text if self.valid_text
                    else "one of " + ", ".join(self.choices()) if self.choices is not None
                    else "a string")
        else:
            text = "an integer" if self.kind is int else "a finite number"
            if self.low is not None and self.high is not None:
                text += f" from {_number(self.low)} to {_number(self.high)}"
            elif self.low is not None:
                text += f" >= {_number(self.low)}"
        return text + (" or null" if self.nullable else "")


def shown(value: Any, width: int = 60) -> str:
    """value's repr on one line (an array's spans several), cut to about width characters."""
    text = " ".join(repr(value).split())
    return text if len(text) <= width else text[:width - 3] + "..."


def plain_number(value: Any) -> Any:
    """A number of numpy's (np.int64 from an arange, np.float32) as the Python number it
    holds, which OptionSpec checks and JSON writes; anything else as it is (bool, numpy's
    too, is no number here: the checks refuse it)."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value


def _number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _spec(**kwargs: Any) -> dict[str, OptionSpec]:
    return {"spec": OptionSpec(**kwargs)}


#: What EM may do about a degenerate component (engine.degenerate), the default first.
DEGENERATE_ACTIONS: tuple[str, ...] = ("keep", "reinit", "drop", "error")

#: The parameters --freeze may hold fixed, in the order a frozen set is written.
FREEZABLE: tuple[str, ...] = ("weights", "means", "covariances")


def frozen_names(value: str | None) -> frozenset[str]:
    """The parameters a freeze option names ("weights,means" -> {weights, means})."""
    return frozenset(p.strip() for p in (value or "").split(",") if p.strip())


def _valid_freeze(value: str) -> bool:
    parts = [p.strip() for p in value.split(",")]
    return bool(value) and all(p in FREEZABLE for p in parts) and len(set(parts)) == len(parts)


def _init_names() -> tuple[str, ...]:
    return (*vocab.names(vocab.INIT_METHODS), vocab.MEANS_INIT)


@dataclass(frozen=True)
class FitOptions:
    """Everything that decides a fit (the defaults: see the module docstring)."""

    n_components: int = field(metadata=_spec(
        kind=int, low=1, help="Number of mixture components."))
    covariance_type: str = field(default="full", metadata=_spec(
        kind=str, choices=vocab.covariance_choices, valid=vocab.is_covariance,
        help="Covariance family (mclust's name, or scikit-learn's for four of them)."))
    init: str = field(default=vocab.AUTO, metadata=_spec(
        kind=str, choices=_init_names, help="Initialisation."))
    means_init: str | None = field(default=None, metadata=_spec(
        kind=str, nullable=True, optional_in_file=True,
        help="Where the starting means came from (a file name; the means are given to "
             "the fit with init 'means-init' and n_init 1: one start makes one run)."))
    n_init: int = field(default=2, metadata=_spec(
        kind=int, low=1, help="Restarts; the fit with the best final log-likelihood is kept."))
    tol: float = field(default=1e-6, metadata=_spec(
        kind=float, low=0.0,
        help="Stop when the mean per-sample log-likelihood changes by less."))
    max_iter: int = field(default=2000, metadata=_spec(
        kind=int, low=1, help="Most EM iterations per restart."))
    accelerate: str = field(default="squarem", metadata=_spec(
        kind=str, choices=lambda: vocab.names(vocab.ACCELERATIONS), optional_in_file=True,
        help="How EM is accelerated (soft EM only; hard EM is never accelerated): "
             "squarem or none (plain EM)."))
    reg_covar: float = field(default=1e-6, metadata=_spec(
        kind=float, low=0.0, help="Added to every covariance diagonal."))
    algorithm: str = field(default="soft", metadata=_spec(
        kind=str, choices=lambda: vocab.names(vocab.ALGORITHMS),
        help="soft: ordinary EM; hard: classification EM (each point wholly in its most "
             "likely component)."))
    order: str = field(default="weight", metadata=_spec(
        kind=str, choices=lambda: vocab.names(vocab.ORDERS), optional_in_file=True,
        help="Order of the components of the final model (and so of the labels): "
             "weight, mean or none."))
    on_degenerate: str = field(default="keep", metadata=_spec(
        kind=str, choices=lambda: DEGENERATE_ACTIONS, optional_in_file=True,
        help="What EM does when a component's weight or covariance collapses: keep (go on "
             "as it is and report it), reinit (re-seed it at the worst-explained point), "
             "drop (go on with K - 1; the only component left stops the fit, as error does), "
             "error (stop, naming it)."))
    max_time: float | None = field(default=None, metadata=_spec(
        kind=float, low=0.0, nullable=True, optional_in_file=True,
        help="Seconds a fit may take: no EM iteration (nor restart) starts after them; "
             "the fit keeps its best parameters so far and says it stopped at the time "
             "limit.  Each cell of a selection, each dataset of a batch, has its own."))
    init_model: str | None = field(default=None, metadata=_spec(
        kind=str, nullable=True, optional_in_file=True,
        help="A model file EM continues from: its weights, means and covariances are the "
             "start (the number of components and the family are the model's; the data's "
             "columns are read as predict reads them, by the model's names where the "
             "header has them all; a model fitted with --standardize continues in the "
             "columns its transform makes); init does not apply, and one run is made "
             "(n_init 1)."))
    freeze: str | None = field(default=None, metadata=_spec(
        kind=str, nullable=True, optional_in_file=True, valid=_valid_freeze,
        valid_text="a comma-separated list of " + ", ".join(FREEZABLE) + ", each at most once",
        help="Parameters the M-step keeps fixed: a comma-separated list of weights, means, "
             "covariances.  Frozen weights are the init model's, or equal (1/K, mclust's "
             "equalPro) without one; frozen means and covariances are the start's (given "
             "starting means stay those means, numbered as --order says: none keeps "
             "their order)."))
    seed: int | None = field(default=None, metadata=_spec(
        kind=int, low=0, high=MAX_SEED, nullable=True,
        help="Random seed; the same seed gives the same result."))

    def __post_init__(self) -> None:
        # numpy's scalars as the Python numbers they hold (plain_number)
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, plain_number(getattr(self, f.name)))
        # mclust's names of the four families that keep scikit-learn's (VVV is full)
        if isinstance(self.covariance_type, str):
            object.__setattr__(self, "covariance_type",
                               vocab.canonical_covariance(self.covariance_type))

    def validate(self) -> None:
        """Raise InvalidParameter, naming the option, for any value out of its range."""
        for f in dataclasses.fields(self):
            spec(f.name).check(f.name, getattr(self, f.name))

    def to_dict(self) -> dict[str, Any]:
        """The options as plain JSON values, in declaration order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "FitOptions":
        """FitOptions from a mapping (a model file's "options"), validated; keys that are
        not options are ignored.  A missing required option raises InvalidParameter."""
        known = {f.name: values[f.name] for f in dataclasses.fields(cls) if f.name in values}
        missing = [f.name for f in dataclasses.fields(cls)
                   if f.name not in values and f.default is dataclasses.MISSING]
        if missing:
            raise InvalidParameter(f"missing option {', '.join(missing)}", option=missing[0])
        options = cls(**known)
        options.validate()
        return options

    def replace(self, **changes: Any) -> "FitOptions":
        return dataclasses.replace(self, **changes)

    def from_means(self) -> "FitOptions":
        """The options of a fit from given means, as it runs and records them: init
        "means-init" and one run (the one start makes one; every restart would repeat it)."""
        return self.replace(init=vocab.MEANS_INIT, n_init=1)

    def from_model(self) -> "FitOptions":
        """The options of a fit that continues a model (init_model), as it runs and records
        them: one run, from the model's parameters (init does not apply)."""
        return self.replace(n_init=1)


def spec(name: str) -> OptionSpec:
    """The OptionSpec of a FitOptions field."""
    return OPTION_SPECS[name]


OPTION_SPECS: dict[str, OptionSpec] = {
    f.name: f.metadata["spec"] for f in dataclasses.fields(FitOptions)
}

#: The most numbers of components one selection tries (its grid has a row for each, and
#: family): -k 1-99999999999999999999 was built in memory, cell by cell, until the
#: machine ran out of it.  Beyond the data's rows a cell is skipped, not fitted.
MAX_COMPONENT_VALUES = 10_000


def component_values(components: Any) -> tuple[int, ...]:
    """The distinct numbers of components of a selection, ascending: whole numbers >= 1,
    at most MAX_COMPONENT_VALUES of them (read no further than that: a range(1, 10**18)
    is refused, not built); InvalidParameter (option n_components) otherwise."""
    found: set[int] = set()
    for k in components:
        value = plain_number(k)
        if not spec("n_components").accepts(value):
            raise InvalidParameter("the numbers of components must be whole numbers >= 1, "
                                   f"got {k!r}", option="n_components")
        found.add(int(value))
        if len(found) > MAX_COMPONENT_VALUES:
            raise InvalidParameter(f"a selection tries at most {MAX_COMPONENT_VALUES} numbers "
                                   "of components", option="n_components")
    if not found:
        raise InvalidParameter("no number of components to try", option="n_components")
    return tuple(sorted(found))


#: What the rows of the data bring to a fit besides their points, named as the read
#: options name them (app.requests.ReadOptions), each with its default: the sample
#: weights, the known labels and what a missing value means.  They are recorded in the
#: model's "options" beside the fit options (a file written before they were has none:
#: then the defaults), checked when a model is read, and compared, with the fit
#: options, by `batch --skip-existing`.  A file name is "<array>" for values given to
#: the Python API as an array.
def _named_input(help: str) -> OptionSpec:
    """An input named by a column or a file, or null."""
    return OptionSpec(kind=str, nullable=True, optional_in_file=True, help=help)


INPUT_SPECS: dict[str, OptionSpec] = {
    "weights_column": _named_input(
        "The column of the data that held each row's sample weight (not a feature)."),
    "sample_weights": _named_input("The file of one sample weight per row."),
    "known_column": _named_input("The column of the data that held each row's known "
                                 "component."),
    "known_labels": _named_input("The file of one known component per row."),
    "missing": OptionSpec(
        kind=str, choices=lambda: vocab.names(vocab.MISSING), optional_in_file=True,
        help="What a row with a missing value meant: an error, a row left out, or a row "
             "fitted through its observed values."),
}
INPUT_DEFAULTS: Mapping[str, Any] = {**{name: None for name in INPUT_SPECS},
                                     "missing": vocab.names(vocab.MISSING)[0]}

#: The defaults of the EM options a caller most often sets (fit's and select's: one set).
#: The tolerance: EM on real data creeps along plateaus, and a fit stopped at
#: scikit-learn's 1e-3 can sit several log-likelihood units below the optimum it is
#: climbing to while saying it converged (docs/optima.md counts the real-data cells
#: where each tolerance reaches the better of scikit-learn and mclust).  1e-6 is at least
#: ten times stricter than mclust's rule (a relative change of 1e-5 of the total) wherever
#: the mean log-likelihood is beyond -10, and reached mclust's optima to 0.01 wherever 1e-7
#: did, in a third of the iterations.
FIT_DEFAULTS: Mapping[str, Any] = {
    name: next(f.default for f in dataclasses.fields(FitOptions) if f.name == name)
    for name in ("init", "n_init", "tol", "max_iter")
}
