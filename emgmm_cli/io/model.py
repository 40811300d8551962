"""The versioned model document: what `fit --model` writes and `--json` prints.

Format "emgmm-model", version 1: a JSON object whose fields, in the order fit writes them,
are those of MODEL_FIELDS below, each with the one line that describes it there
(docs/model-file.md and the FILES section of emgmm(1) are generated from that table).

A fit of standardized columns (--standardize) adds the field "transform" (OPTIONAL_FIELDS)
and says version 2: its parameters are those of z = (x - center) / scale, which every
reader must apply, and a reader of version 1 would ignore the field and apply them to x.

The numbers are written with full precision (Python's shortest round-trip repr).
load_model reads such a file back and validates it (every failure a one-line DataError);
check_features refuses data whose column count is not the model's D.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import vocab
from .errors import DataError, printable

if TYPE_CHECKING:
    from ..engine.fitting import FitResult
    from ..engine.params import MixtureParams
    from .readers import Points

MODEL_FORMAT = "emgmm-model"
#: The newest version this code reads and writes: 1, and 2 for a file with a transform.
MODEL_VERSION = 2
#: The optional field of a fit of transformed columns, and the transforms there are.
TRANSFORM_FIELD = "transform"
#: The field of a weighted fit's model document: the sum of the sample weights.
WEIGHTS_FIELD = "sum_of_weights"
#: The size of the data file a batch fitted (OPTIONAL_FIELDS).
SOURCE_SIZE_FIELD = "source_size"
SOURCE_FILE_FIELD = "source_file"
TRANSFORM_KINDS = ("standardize",)
#: The field of the SHA-256 digests of the files a fit read beside its data.
DIGESTS_FIELD = "input_sha256"


def _finite_or_none(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def model_document(result: "FitResult", *, feature_names: list[str], source: str,
                   dtype: str = "float64", transform: dict[str, Any] | None = None,
                   inputs: dict[str, Any] | None = None,
                   digests: dict[str, str] | None = None) -> dict[str, Any]:
    """The model file's content for a fit (also the `--json` summary).

    options: every field of the fit's FitOptions (engine.options, the one schema), dtype,
    the precision the data were fitted in, and inputs, what the rows brought besides
    their points (engine.options.INPUT_SPECS; their defaults when None).  transform: what
    the fitted columns were made from the data's (a TRANSFORM_KINDS object), or None.
    digests: the SHA-256 of each file the fit read beside the data, by the option that
    named it (DIGESTS_FIELD), when there are any.
    """
    from ..engine.options import INPUT_DEFAULTS

    from .. import __version__

    p = result.params
    opts = result.options
    doc = {
        "format": MODEL_FORMAT,
        "version": 1 if transform is None else 2,
        "emgmm_version": __version__,
        "covariance_type": p.covariance_type,
        "n_components": p.n_components,
        "n_features": p.n_features,
        "feature_names": list(feature_names),
        "weights": p.weights.tolist(),
        "means": p.means.tolist(),
        "covariances": p.covariances.tolist(),
        "n_samples": result.n_samples,
        "log_likelihood": _finite_or_none(result.loglik),
        "mean_log_likelihood": _finite_or_none(result.mean_loglik),
        "n_parameters": result.n_parameters,
        "bic": _finite_or_none(result.bic),
        "aic": _finite_or_none(result.aic),
        "icl": _finite_or_none(result.icl),
        "converged": result.converged,
        "n_iter": result.n_iter,
        "degenerate": list(result.degenerate),
        "events": [e.to_dict() for e in result.events],
        "restart_log_likelihoods": [_finite_or_none(v) for v in result.restart_logliks],
        "stopped": result.stopped,
        "restart_stopped": list(result.restart_stopped),
        "origin": result.origin,
        "restart_origins": list(result.restart_origins),
        "options": {**opts.to_dict(), "dtype": dtype, **INPUT_DEFAULTS, **(inputs or {})},
        "source": source,
    }
    if transform is not None:
        doc[TRANSFORM_FIELD] = transform
    if result.weight_total is not None:
        doc[WEIGHTS_FIELD] = result.weight_total
    if digests:
        doc[DIGESTS_FIELD] = dict(digests)
    return doc


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class ModelField:
    """A field of the model document and what it holds, in one line for the docs."""

    name: str
    description: str


#: How a run may have started (a model's origin and restart_origins): an init method but
#: auto, or one of vocab.RUN_ORIGINS.
_INIT_ORIGINS = tuple(t.name for t in vocab.INIT_METHODS if t.name != vocab.AUTO)
_ORIGINS = _INIT_ORIGINS + vocab.names(vocab.RUN_ORIGINS)

#: Every field of a version-1 document, in the order fit writes them.  The shapes of
#: "covariances" per family come from the family table (Family.shape_text) and the
#: fields of "options" from the option schema (engine.options.OPTION_SPECS), plus
#: OPTIONS_EXTRA; the generated docs list both under these lines.
MODEL_FIELDS: tuple[ModelField, ...] = (
    ModelField("format", f'"{MODEL_FORMAT}"'),
    ModelField("version", "1, or 2 for a model with a transform: the version of the "
                          "format; a reader refuses a version it does not know"),
    ModelField("emgmm_version", "the version of emgmm that wrote the file"),
    ModelField("covariance_type", "the covariance family, which sets the shape of covariances"),
    ModelField("n_components", "K, the number of components (an integer >= 1)"),
    ModelField("n_features", "D, the number of columns fitted (an integer >= 1)"),
    ModelField("feature_names", "the D column names of the training data; predict and score "
                                "select these columns when the input's header holds them all"),
    ModelField("weights", "K mixing weights, each >= 0, summing to 1"),
    ModelField("means", "K x D: the mean of each component"),
    ModelField("covariances", "the covariances, reg_covar included, in the family's shape; "
                              "finite, symmetric and positive definite"),
    ModelField("n_samples", "N, the number of rows fitted"),
    ModelField("log_likelihood", "the log-likelihood of the final parameters (null if not "
                                 "finite)"),
    ModelField("mean_log_likelihood", "the same per sample: log_likelihood / N"),
    ModelField("n_parameters", "p, the number of free parameters"),
    ModelField("bic", "-2 log L + p log N; lower is better (mclust reports its negative)"),
    ModelField("aic", "-2 log L + 2 p"),
    ModelField("icl", "BIC - 2 sum_i log max_k r_ik: BIC plus twice the entropy of the "
                      "classification"),
    ModelField("converged", "whether EM met tol before max_iter (true or false)"),
    ModelField("n_iter", "the EM iterations the kept restart ran (with init auto, after "
                         "its start's screening, whose iterations are not counted)"),
    ModelField("degenerate", "the indices of the components that ended degenerate"),
    ModelField("events", "the named events of the fit: objects with kind, component, "
                         "iteration and message"),
    ModelField("restart_log_likelihoods", "the final log-likelihood of every restart"),
    ModelField("stopped", "why EM stopped: converged, max-iter or time limit (--max-time); "
                          "a fit that --on-degenerate error stops (degenerate) writes no "
                          "model (absent from files of earlier versions)"),
    ModelField("restart_stopped", "the same for every restart, in restart order"),
    ModelField("origin", "how the kept restart started, as restart_origins says"),
    ModelField("restart_origins", "how every restart started, in restart order: its init "
                                  "method (" + ", ".join(_INIT_ORIGINS)
               + "; with init auto, that of its screened start) or "
               + ", ".join(f"{t.name} ({t.description})" for t in vocab.RUN_ORIGINS)
               + " (absent from files of earlier versions)"),
    ModelField("options", "every fit option, with the seed actually used: an object with "
                          "the fields below"),
    ModelField("source", "the training data file, or <stdin>"),
)
#: Fields only some documents have, after those of MODEL_FIELDS.
OPTIONAL_FIELDS: tuple[ModelField, ...] = (
    ModelField(TRANSFORM_FIELD, "only for a fit of standardized columns (--standardize), in "
                                'every version 2 file: {"kind": "standardize", "center": D '
                                'numbers, "scale": D numbers > 0 (and not subnormal)}. '
                                "weights, means and covariances are then those of z = (x - "
                                "center) / scale, "
                                "where the covariance family holds exactly; predict, score "
                                "and sample apply it; log_likelihood, the criteria and "
                                "restart_log_likelihoods are those of the data x (log L(z) "
                                "- N sum_j log scale_j; a row with missing values loses "
                                "the scales of its observed columns alone)"),
    ModelField("sum_of_weights", "only for a fit with sample weights (--weights-column, "
                                 "--sample-weights): their sum, the n of mean_log_likelihood, "
                                 "BIC and ICL (n_samples stays the number of rows)"),
    ModelField("n_dropped", "only for a fit with --missing drop that left rows out: how "
                            "many (n_samples counts the rows fitted)"),
    ModelField("n_incomplete", "only for a fit with --missing em over rows with missing "
                               "values: how many rows had some"),
    ModelField(SOURCE_SIZE_FIELD, "only for a fit of a data file (not stdin, a pipe or "
                                  "parts): its size in bytes as it was read (batch "
                                  "--skip-existing fits the dataset again when the size "
                                  "differs, as when the data's modification or status-"
                                  "change time is not older than model.json's: a file "
                                  "moved or copied in with its old modification time)"),
    ModelField(SOURCE_FILE_FIELD, "only for a fit of a data file, as source_size: its "
                                  "device and inode numbers, [device, inode] (batch "
                                  "--skip-existing fits the dataset again when they "
                                  "differ: another file at the path, as after its folder "
                                  "was swapped or a link made to point elsewhere, or "
                                  "another path to the same output folder)"),
    ModelField(DIGESTS_FIELD, "only for a fit that read files beside its data (--means-init, "
                              "--init-model, --sample-weights, --known-labels): the SHA-256 "
                              "of each, in hex, by the option that named it (batch "
                              "--skip-existing fits a dataset again when one has changed)"),
)
#: Fields of "options" that are not fit options.
OPTIONS_EXTRA: tuple[ModelField, ...] = (
    ModelField("dtype", "the precision the data were read and the E-step run in: "
                        + " or ".join(vocab.names(vocab.DTYPES))),
)
#: Fields every version-1 document has, in the order fit writes them.
REQUIRED_FIELDS = tuple(f.name for f in MODEL_FIELDS
                        if f.name not in ("stopped", "restart_stopped", "origin",
                                          "restart_origins"))
#: How far the weights may sum from 1 (fit writes them to within a few ulps).
WEIGHT_SUM_TOL = 1e-6
#: Relative asymmetry |S - S^T| / max|S| a covariance matrix may show.
SYMMETRY_RTOL = 1e-8

HOW_TO_WRITE = "write one with emgmm fit --model FILE.json"


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A validated model file: the mixture's parameters and the whole document."""

    params: "MixtureParams"
    document: dict[str, Any]
    path: str

    @property
    def feature_names(self) -> list[str]:
        """The D column names, control characters as escapes (errors.printable): they are
        shown at the terminal, and a model file may come from anywhere."""
        return [printable(n) for n in self.document["feature_names"]]

    @property
    def n_components(self) -> int:
        return self.params.n_components

    @property
    def n_features(self) -> int:
        return self.params.n_features

    @property
    def transform(self) -> dict[str, Any] | None:
        """The transform of the fitted columns (validated), or None."""
        value: dict[str, Any] | None = self.document.get(TRANSFORM_FIELD)
        return value


def load_model(path: str) -> LoadedModel:
    """Read and validate a model file written by `emgmm fit --model`.

    Checks, each failure a one-line DataError naming the file: valid JSON holding an
    object; format "emgmm-model" and a version this code reads; every field of
    REQUIRED_FIELDS (and of REQUIRED_OPTIONS in "options") present with the right type,
    every number finite (json reads NaN and Infinity; _is_finite and _array refuse them);
    weights (K,) >= 0 summing to 1; means (K, D); covariances of the family's shape,
    symmetric and positive definite, sharing the volume, shape or orientation
    their family shares across components (Family.unequal); feature_names D strings.
    """
    from ..engine.errors import NotPositiveDefinite
    from ..engine.params import MixtureParams

    if not isinstance(path, (str, os.PathLike)):  # the Python API's load_model(None)
        raise TypeError(f"load_model takes the path of a model file, not {path!r}")
    doc = _read_document(path)
    _check_header(path, doc)
    k, d, cov_type = _check_sizes(path, doc)
    weights = _array(path, doc, "weights", (k,), "K")
    means = _array(path, doc, "means", (k, d), "K x D")
    shape, what = _covariance_shape(cov_type, k, d)
    covariances = _array(path, doc, "covariances", shape, what)
    _check_weights(path, weights)
    _check_symmetric(path, cov_type, covariances, k, d)
    _check_metadata(path, doc, k)
    _check_transform(path, doc, d)
    try:
        # checked as the fit that made them checks its covariances: with its floor
        # (options.reg_covar), whose 0 has a rank short by rounding refused too.  A file
        # of a fit with a floor holds it (a column of 1e-12 values beside one of 1e12:
        # variances 1e-6 and 1e24), which is no rank short by rounding.
        params = MixtureParams.build(weights, means, covariances, cov_type,
                                     reg_covar=float(doc["options"]["reg_covar"]))
    except NotPositiveDefinite as exc:
        raise _field_error(path, "covariances",
                           f"{_which(cov_type, exc.component)} is not positive definite") from None
    _check_equal(path, cov_type, covariances, k, d)
    return LoadedModel(params.locked(), doc, path)


def check_features(model: LoadedModel, points: "Points") -> None:
    """Refuse data whose column count differs from the model's D (a one-line DataError)."""
    d, n_columns = model.n_features, points.n_features
    if n_columns != d:
        raise DataError(
            points.source,
            f"has {n_columns} column{'s' if n_columns != 1 else ''} ({_names(points.column_names)}) "
            f"but the model {model.path} has {d} ({_names(model.feature_names)}); "
            f"select {d} column{'s' if d != 1 else ''} with --columns",
        )


def _names(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (", ..." if len(names) > limit else "")


def _field_error(path: str, name: str, message: str) -> DataError:
    return DataError(path, f"field '{name}': {message}")


def _read_document(path: str) -> dict[str, Any]:
    import json

    if path == "-":
        raise DataError("<stdin>", f"a model is read from a file, not from standard input; {HOW_TO_WRITE}")
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except (FileNotFoundError, NotADirectoryError):
        raise DataError(path, f"model file not found; check the path, or {HOW_TO_WRITE}") from None
    except IsADirectoryError:
        raise DataError(path, "is a directory, not a model file") from None
    except PermissionError:
        raise DataError(path, "permission denied; check that you may read the file") from None
    except OSError as exc:
        raise DataError(path, f"cannot read the model file: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(path, f"not a model file (not UTF-8 JSON text); {HOW_TO_WRITE}") from None
    if not text.strip():
        raise DataError(path, f"model file is empty; {HOW_TO_WRITE}")
    try:
        doc = json.loads(text, parse_int=_model_int, object_pairs_hook=_once_each)
    except json.JSONDecodeError as exc:
        raise DataError(
            path, f"invalid JSON: {exc.msg} (column {exc.colno}); a model file is the JSON "
            "document that emgmm fit --model writes", line=exc.lineno,
        ) from None
    except RecursionError:
        raise DataError(path, "invalid JSON: nested too deeply") from None
    except ValueError as exc:  # an integer of more digits than Python converts (4300)
        raise DataError(path, f"invalid JSON: {str(exc).split(';')[0]}; a model file is the "
                              "JSON document that emgmm fit --model writes") from None
    if not isinstance(doc, dict):
        raise DataError(path, f"not an emgmm model: the JSON holds {_json_kind(doc)}, not an object; "
                              f"{HOW_TO_WRITE}")
    return doc


#: The largest magnitude a float64 holds: a whole number beyond it fits no field of a model.
_FLOAT_MAX = sys.float_info.max


def _model_int(text: str) -> int:
    """A JSON whole number, refused (ValueError: invalid JSON) beyond the float64 range,
    where every numeric field's conversion would raise OverflowError."""
    value = int(text)
    if abs(value) > _FLOAT_MAX:
        raise ValueError(f"the number {text[:12]}... ({len(text.lstrip('-'))} digits) is "
                         "beyond the range of float64 numbers")
    return value


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _check_header(path: str, doc: dict[str, Any]) -> None:
    fmt = doc.get("format")
    if fmt != MODEL_FORMAT:
        found = "no 'format' field" if "format" not in doc else f"format {fmt!r}"
        raise DataError(path, f"not an emgmm model file ({found}; expected format "
                              f"'{MODEL_FORMAT}'); {HOW_TO_WRITE}")
    version: Any = doc.get("version")
    if "version" not in doc:
        raise DataError(path, f"missing field 'version'; a model file says which version of "
                              f"the '{MODEL_FORMAT}' format it holds")
    if not _is_int(version) or version < 1:
        raise DataError(path, f"unknown model format version {json_text(version)}; this emgmm "
                              f"reads versions 1 to {MODEL_VERSION}")
    if version > MODEL_VERSION:
        raise DataError(path, f"model format version {version} is newer than this emgmm reads "
                              f"(version {MODEL_VERSION}); upgrade emgmm")
    missing = [name for name in REQUIRED_FIELDS if name not in doc]
    if missing:
        listed = ", ".join(f"'{m}'" for m in missing)
        raise DataError(path, f"missing field{'s' if len(missing) > 1 else ''} {listed}; "
                              f"the model file is incomplete ({HOW_TO_WRITE})")


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose names are each given once (json keeps the last of a repeated
    one, silently: a file edited by hand could hold two means)."""
    doc = dict(pairs)
    if len(doc) < len(pairs):
        names = [name for name, _ in pairs]
        twice = next(name for i, name in enumerate(names) if name in names[:i])
        raise ValueError(f"field {json_text(twice)} is given twice in one object")
    return doc


def json_text(value: Any) -> str:
    """A value as JSON shows it (for messages)."""
    import json

    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    """A JSON number that is finite: Python's json reads NaN and Infinity, which no field
    of a model may hold (a criterion that was not finite is written as null)."""
    return _is_number(value) and math.isfinite(value)


def _which(cov_type: str, component: int) -> str:
    """'component 2: covariance', or 'the tied covariance' when components share it."""
    from ..engine.families import family

    if family(cov_type).per_component:
        return f"component {component}: covariance"
    return f"the {cov_type} covariance"


def _check_sizes(path: str, doc: dict[str, Any]) -> tuple[int, int, str]:
    from ..engine.families import FAMILIES

    cov_type = doc["covariance_type"]
    if not isinstance(cov_type, str) or cov_type not in FAMILIES:
        raise _field_error(path, "covariance_type", f"unknown covariance type {json_text(cov_type)}; "
                           f"expected one of {', '.join(FAMILIES)}")
    for name in ("n_components", "n_features"):
        if not _is_int(doc[name]) or doc[name] < 1:
            raise _field_error(path, name, f"expected an integer >= 1, got {json_text(doc[name])}")
    k, d = int(doc["n_components"]), int(doc["n_features"])
    names = doc["feature_names"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _field_error(path, "feature_names", "expected a list of column names (strings)")
    if len(names) != d:
        raise _field_error(path, "feature_names", f"{len(names)} names for n_features={d}")
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice is not None:
        raise _field_error(path, "feature_names", f"the name {json_text(twice)} is given twice; "
                           "predict and score select columns by these names")
    return k, d, cov_type


def _covariance_shape(cov_type: str, k: int, d: int) -> tuple[tuple[int, ...], str]:
    from ..engine.families import family

    fam = family(cov_type)
    return fam.shape(k, d), f"{fam.shape_text} for {cov_type}"


def nested_numbers(value: Any) -> bool:
    """Whether a parsed JSON value is a number or nested lists of numbers only (no
    strings, no true or false, which numpy would take for numbers)."""
    if isinstance(value, list):
        return all(nested_numbers(v) for v in value)
    return _is_number(value)


def _array(path: str, doc: dict[str, Any], name: str, shape: tuple[int, ...], what: str) -> Any:
    """doc[name] as a float64 array of the given shape, or a DataError saying why not."""
    import numpy as np

    value = doc[name]
    if shape == ():  # one number (EII's variance)
        if not _is_number(value):
            raise _field_error(path, name, f"expected {what}")
    elif not isinstance(value, list) or not nested_numbers(value):
        # "a K x D list of numbers"; a covariance's what names its family ("K for VII")
        dims, _, family_ = what.partition(" for ")
        raise _field_error(path, name, f"expected a {dims} list of numbers"
                                       + (f" for {family_}" if family_ else ""))
    try:
        arr = np.array(value, dtype=np.float64)
    except ValueError:
        raise _field_error(path, name, f"rows of different lengths; expected {what} "
                                       f"{_shape_text(shape)}") from None
    if arr.shape != shape:
        raise _field_error(path, name, f"has shape {_shape_text(arr.shape)} but n_components and "
                                       f"n_features need {what} {_shape_text(shape)}")
    if not np.isfinite(arr).all():
        raise _field_error(path, name, "holds a value that is not finite")
    return arr


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + " x ".join(str(s) for s in shape) + ")"


def _check_weights(path: str, weights: Any) -> None:
    import numpy as np

    negative = np.flatnonzero(weights < 0)
    if len(negative):
        j = int(negative[0])
        raise _field_error(path, "weights", f"weight {j} is negative ({float(weights[j])!r}); weights "
                                            "must be >= 0 and sum to 1")
    total = float(weights.sum())
    if abs(total - 1.0) > WEIGHT_SUM_TOL:
        raise _field_error(path, "weights", f"the weights sum to {total!r}, not 1")


def _check_symmetric(path: str, cov_type: str, covariances: Any, k: int, d: int) -> None:
    import numpy as np

    from ..engine.families import MATRIX, family

    fam = family(cov_type)
    if fam.statistic != MATRIX:
        return
    stack = fam.expand(covariances, k, d)
    for j, c in enumerate(stack if fam.per_component else stack[:1]):
        scale = float(np.max(np.abs(c)))
        if float(np.max(np.abs(c - c.T))) > SYMMETRY_RTOL * scale:
            raise _field_error(path, "covariances", f"{_which(cov_type, j)} is not symmetric")


def _check_equal(path: str, cov_type: str, covariances: Any, k: int, d: int) -> None:
    """The covariances keep what their family holds equal across components (one volume,
    shape or orientation: Family.unequal)."""
    from ..engine.families import family

    fam = family(cov_type)
    broken = fam.unequal(covariances, k, d)
    if broken is not None:
        what, j = broken
        raise _field_error(path, "covariances", f"component {j}'s covariance has another "
                           f"{what} than component 0's, where {fam.name} gives every "
                           f"component one {what}")


def _is_event(event: Any) -> bool:
    """Whether event is an event of the fit as FitEvent.to_dict writes it (its component
    numbered as the run numbered it: --on-degenerate drop's may be K or more)."""
    return (isinstance(event, dict) and isinstance(event.get("kind"), str)
            and isinstance(event.get("message"), str)
            and (event.get("component", 0) is None or _is_int(event.get("component"))
                 and event["component"] >= 0)
            and (event.get("iteration", 0) is None or _is_int(event.get("iteration"))
                 and event["iteration"] >= 0)
            and {"component", "iteration"} <= event.keys())


def _metadata_checks(doc: dict[str, Any], k: int) -> dict[str, tuple[Any, str]]:
    """What each field of the fit's record must hold, and how a message says it; the
    optional fields only where the document has them."""
    from ..engine.em import STOP_REASONS

    checks: dict[str, tuple[Any, str]] = {
        "emgmm_version": (lambda v: isinstance(v, str), "a string"),
        "source": (lambda v: isinstance(v, str), "a string"),
        "n_samples": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
        "n_parameters": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
        "n_iter": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
        "converged": (lambda v: isinstance(v, bool), "true or false"),
        "degenerate": (lambda v: isinstance(v, list) and all(_is_int(c) and 0 <= c < k for c in v),
                       "a list of component indices"),
        "events": (lambda v: isinstance(v, list) and all(_is_event(e) for e in v),
                   "a list of objects with kind and message (strings), component (an "
                   "index or null) and iteration (an integer >= 0 or null)"),
        "restart_log_likelihoods": (
            lambda v: isinstance(v, list) and len(v) > 0 and all(
                c is None or _is_finite(c) for c in v),
            "a list of finite numbers or nulls, one for each restart"),
        "options": (lambda v: isinstance(v, dict), "an object"),
    }
    for name in ("log_likelihood", "mean_log_likelihood", "bic", "aic", "icl"):
        checks[name] = (lambda v: v is None or _is_finite(v), "a finite number or null")
    optional: dict[str, tuple[Any, str]] = {  # files of earlier versions, or other fits, lack them
        "origin": (lambda v: v in _ORIGINS, f"one of {', '.join(_ORIGINS)}"),
        "stopped": (lambda v: v is None or v in STOP_REASONS,
                    f"one of {', '.join(STOP_REASONS)}, or null"),
        "restart_stopped": (lambda v: isinstance(v, list) and all(
            c is None or c in STOP_REASONS for c in v),
            f"a list of {', '.join(STOP_REASONS)} or nulls"),
        SOURCE_SIZE_FIELD: (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
        SOURCE_FILE_FIELD: (lambda v: isinstance(v, list) and len(v) == 2 and all(
            _is_int(c) and c >= 0 for c in v), "a list of two integers >= 0"),
        "restart_origins": (lambda v: isinstance(v, list) and all(c in _ORIGINS for c in v),
                            f"a list of {', '.join(_ORIGINS)}"),
        WEIGHTS_FIELD: (lambda v: _is_finite(v) and v > 0, "a finite number > 0"),
        "n_dropped": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
        "n_incomplete": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    }
    checks.update({name: check for name, check in optional.items() if name in doc})
    return checks


def _check_metadata(path: str, doc: dict[str, Any], k: int) -> None:
    """The fit's record: types of what `info` shows, its numbers finite (_is_finite)."""
    for name, (ok, expected) in _metadata_checks(doc, k).items():
        if not ok(doc[name]):
            raise _field_error(path, name, f"expected {expected}, got {json_text(doc[name])}")
    from ..engine.options import INPUT_SPECS, OPTION_SPECS

    options = doc["options"]
    missing = [f"options.{name}" for name, spec in OPTION_SPECS.items()
               if name not in options and not spec.optional_in_file]
    if missing:
        raise DataError(path, f"missing field{'s' if len(missing) > 1 else ''} "
                              f"{', '.join(repr(m) for m in missing)}; the model file is incomplete")
    for name, spec in {**OPTION_SPECS, **INPUT_SPECS}.items():
        if name in options and not spec.accepts(options[name]):
            raise _field_error(path, f"options.{name}",
                               f"expected {spec.describe()}, got {json_text(options[name])}")
    dtypes = vocab.names(vocab.DTYPES)
    if "dtype" in options and options["dtype"] not in dtypes:
        raise _field_error(path, "options.dtype", f"expected {' or '.join(dtypes)}, got "
                                                  f"{json_text(options['dtype'])}")
    _check_options_agree(path, doc)


def _check_options_agree(path: str, doc: dict[str, Any]) -> None:
    """The options say the model's family and K, as its fields do: the fit asked for the
    family it has, and for its K (more, where --on-degenerate drop dropped some)."""
    from ..engine.families import family

    options = doc["options"]
    if family(options["covariance_type"]).name != family(doc["covariance_type"]).name:
        raise _field_error(path, "options.covariance_type",
                           f"{json_text(options['covariance_type'])} disagrees with "
                           f"covariance_type {json_text(doc['covariance_type'])}")
    asked, k = options["n_components"], doc["n_components"]
    if asked != k and not (asked > k and options.get("on_degenerate") == "drop"):
        raise _field_error(path, "options.n_components",
                           f"{asked} disagrees with n_components {k}")


def _check_transform(path: str, doc: dict[str, Any], d: int) -> None:
    """The transform: a known kind, D finite centres and D finite scales, positive and
    normal; in every version 2 file and only there (a version 1 reader would ignore it;
    a version 2 file without it has the parameters of columns it does not say how to
    make)."""
    if TRANSFORM_FIELD not in doc:
        if doc["version"] >= 2:
            raise DataError(path, f"missing field '{TRANSFORM_FIELD}'; a version 2 model is "
                                  "of standardized columns and says how to make them (a "
                                  "model without a transform is version 1)")
        return
    value = doc[TRANSFORM_FIELD]
    kinds = " or ".join(repr(k) for k in TRANSFORM_KINDS)
    if not isinstance(value, dict):
        raise _field_error(path, TRANSFORM_FIELD, f"expected an object with kind {kinds}, "
                                                  f"got {json_text(value)}")
    if value.get("kind") not in TRANSFORM_KINDS:
        raise _field_error(path, f"{TRANSFORM_FIELD}.kind", f"unknown transform "
                                                            f"{json_text(value.get('kind'))}; "
                                                            f"expected {kinds}")
    if doc["version"] < 2:
        raise _field_error(path, TRANSFORM_FIELD, "a version 1 model cannot hold a transform "
                                                  "(readers of version 1 ignore it); set version 2")
    for name in ("center", "scale"):
        part = value.get(name)
        if not isinstance(part, list) or len(part) != d or not all(
                _is_finite(v) for v in part):
            raise _field_error(path, f"{TRANSFORM_FIELD}.{name}",
                               f"expected {d} finite numbers (one per feature)")
    if not all(v > 0 for v in value["scale"]):
        raise _field_error(path, f"{TRANSFORM_FIELD}.scale", "expected numbers > 0")
    tiny = sys.float_info.min  # the least normal float64
    if not all(v >= tiny for v in value["scale"]):  # 1 / 1e-310 is inf: NaN densities
        raise _field_error(path, f"{TRANSFORM_FIELD}.scale",
                           f"expected numbers of at least {tiny:.3g} (a subnormal scale "
                           "divides the data into infinities)")
