"""A saved model applied to data, or sampled from (the predict, score, sample and info use
cases).

A model is read and validated by emgmm_cli.io.model.load_model; data are read as `fit`
reads them, cut into the blocks fit uses, and passed once through the engine's
predict_chunk (fitting.final_pass), so the labels and log-densities on the training data
are those the fit produced, bit for bit.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..engine.blobs import make_blobs
from ..engine.dataset import Dataset
from ..engine.options import MAX_POINTS, OptionSpec, plain_number, spec
from ..engine.params import MixtureParams
from ..io.errors import DataError
from ..io.model import LoadedModel, load_model
from ..io.readers import Points
from ..io.writers import OutputSet, write_json, write_table
from .blobs import stage_points
from .data import api_files, dataset, known_components
from .errors import warn
from .fitting import (FinalPass, Fitted, check_flags, final_pass, in_data_units,
                      stream_predictions)
from .modeldata import model_points, read_data
from .prepare import Standardize
from .requests import ReadOptions
from .rows import InputRows, write_with_rows


@dataclass(frozen=True)
class Model:
    """What applying a model needs: its parameters, feature names and where it came from,
    and the transform from the data's columns to those the parameters are of (None: the
    data's own)."""

    params: MixtureParams
    feature_names: list[str]
    path: str
    transform: Standardize | None = None

    @property
    def n_components(self) -> int:
        return self.params.n_components


def as_model(model: Any) -> Model:
    """A Model from a model file's path, a LoadedModel or a Fitted (or itself)."""
    if isinstance(model, Model):
        return model
    if isinstance(model, Fitted):
        return Model(model.params, list(model.feature_names), "<fit>", model.transform)
    if not isinstance(model, (LoadedModel, str, os.PathLike)):
        raise TypeError("expected a model: the path of a model file, emgmm_cli.fit's "
                        f"result or a loaded model, got {type(model).__name__}")
    loaded = model if isinstance(model, LoadedModel) else load_model(os.fspath(model))
    transform = loaded.transform
    return Model(loaded.params, loaded.feature_names, loaded.path,
                 None if transform is None else Standardize.from_dict(transform))


def _model_data(model: Model, points: Points) -> Dataset:
    """The points as the model's parameters read them (through its transform), in the
    blocks fit uses.  Their known labels (predict's and score's --known-labels) must be
    components of the model: a DataError otherwise."""
    known_components(points, model.n_components, model.path)
    if model.transform is not None:
        points = model.transform.apply(points)
    return dataset(points, model.n_components, model.params.covariance_type)


def apply_model(model: Model, points: Points, *, want_resp: bool = False,
                want_log_density: bool = False) -> FinalPass:
    """One pass of the model's parameters over the points (through the model's transform),
    in the blocks fit uses; log-densities are those of the data."""
    data = _model_data(model, points)
    return in_data_units(final_pass(data, model.params, want_resp=want_resp,
                                    want_log_density=want_log_density), data, model.transform)


def stream_labels(output: str, model: Model, points: Points, *, proba: bool = False,
                  header: bool = False) -> None:
    """predict's labels (with proba: its N x K responsibilities, p0..p{K-1}) written to
    output block by block from one pass, as fit writes its own (fitting.stream_predictions):
    neither is ever held for all N rows; the labels under a 'cluster' header with header."""
    with OutputSet() as out:
        stream_predictions(out, {"responsibilities" if proba else "labels": output},
                           _model_data(model, points), model.params, label_header=header)


def write_rows(output: str, result: FinalPass, rows: InputRows, *,
               source: str = "") -> None:
    """predict --with-rows: the rows with a cluster column, and the responsibilities and
    log-densities the result holds (rows.write_with_rows)."""
    assert result.labels is not None
    write_with_rows(output, rows, result.labels, source=source, resp=result.resp,
                    log_density=result.log_density)


def score_summary(model: Model, points: Points, result: FinalPass,
                  threshold: float | None) -> tuple[dict[str, Any], NDArray[np.int64] | None]:
    """The summary of a scoring (what --json prints) and the 0/1 outlier flags."""
    n = points.n_samples
    assert result.log_density is not None
    density = result.log_density
    total, count = weighted_loglik(points, result)
    summary: dict[str, Any] = {
        "model": model.path, "source": points.source, "n_samples": n,
        "log_likelihood": total, "mean_log_likelihood": total / count,
        "n_infinite": int(np.count_nonzero(density == -np.inf)),
    }
    if points.weights is not None:
        summary["sum_of_weights"] = count
    if points.dropped is not None:
        summary["n_dropped"] = int(points.dropped.sum())
    if threshold is None:
        return summary, None
    kept = density if points.dropped is None else density[~points.dropped]
    with np.errstate(invalid="ignore"):
        cutoff = float(np.quantile(kept, threshold))
    if math.isnan(cutoff):  # between a log-density of -inf and a finite one
        cutoff = float(np.quantile(kept, threshold, method="higher"))
    flags = ((density < cutoff) | (density == -np.inf)).astype(np.int64)
    summary.update(threshold=threshold, cutoff_log_density=cutoff, n_outliers=int(flags.sum()))
    return summary, flags


def weighted_loglik(points: Points, result: FinalPass) -> tuple[float, float]:
    """(the log-likelihood of the points, what they count for): with sample weights,
    sum_i w_i log p(x_i) (a row of weight 0 adds nothing) and the sum of the weights."""
    w = points.weights
    if w is None or result.log_density is None:
        return result.loglik, float(points.n_samples)
    density = result.log_density if points.dropped is None else \
        result.log_density[~points.dropped]
    with np.errstate(invalid="ignore"):
        terms = np.where(w > 0, w * density, 0.0)
    return float(terms.sum(dtype=np.float64)), float(w.sum())


def infinite_note(density: NDArray[np.floating], count: int, first: int = 1) -> str | None:
    """A warning (without the source) for the count points whose log-density is -inf (so
    far from every component that their density is below what a float64 holds), naming
    the first rows, counting from first (the command line's 1, a row of its output; the
    Python API's 0, an index of its arrays); the rows are looked for only where there are
    any."""
    if not count:
        return None
    rows = ", ".join(str(int(i) + first) for i in np.flatnonzero(density == -np.inf)[:5])
    which = f"row{'s' if count > 1 else ''} {rows}{', ...' if count > 5 else ''}"
    return (f"{count} point{'s' if count > 1 else ''} ({which}, counting from {first}) so "
            "far from every component that the density is below what a float64 holds: "
            "log-density -inf")


def write_scores(dest: str | None, result: FinalPass, flags: NDArray[np.int64] | None, *,
                 summary: dict[str, Any] | None) -> None:
    """The per-sample log-densities (and outlier flags) to dest, and the summary as JSON
    on stdout when given, atomically together."""
    with OutputSet() as out:
        if dest:
            columns: dict[str, Any] = {"log_density": result.log_density}
            if flags is not None:
                columns["outlier"] = flags
            write_table(dest, columns, out=out)
        if summary is not None:
            write_json("-", summary, out=out)


def sample_points(model: Model, n: int, rng: np.random.Generator
                  ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """n points drawn from the mixture, grouped by component, and their components.

    The counts per component are multinomial with the model's weights; the points of
    component k are mean_k + L_k z with L_k L_k^T its (full) covariance.
    """
    params = model.params
    counts = rng.multinomial(n, params.weights / params.weights.sum())
    full = params.full_covariances()
    full = 0.5 * (full + full.transpose(0, 2, 1))  # exactly symmetric for the factorisation
    x, components = make_blobs([int(c) for c in counts], params.means, covariances=full,
                               rng=rng)
    if model.transform is None:
        return x, components
    with np.errstate(over="ignore", invalid="ignore"):
        x = model.transform.to_data(x)
    if not np.isfinite(x).all():  # a transform near the range's end: center + scale z
        j = int(np.argwhere(~np.isfinite(x))[0][1])
        center, scale = model.transform.center[j], model.transform.scale[j]
        raise DataError(model.path, f"the model's transform (center {center:g}, scale "
                                    f"{scale:g} in column '{model.feature_names[j]}') carries "
                                    "points drawn from it beyond the float64 range (about "
                                    "-1.8e308 to 1.8e308); nothing is written")
    return x, components


def write_sample(output: str, model: Model, x: NDArray[np.float64],
                 components: NDArray[np.int64], *, labels: str | None = None,
                 label_column: str | None = None) -> None:
    """The points under the model's feature names; the component each was drawn from
    in the file labels, or the column label_column, when asked (blobs.stage_points)."""
    with OutputSet() as out:
        stage_points(out, output, model.feature_names, x, components, labels=labels,
                     label_column=label_column)


# --------------------------------------------------------------------------- Python API


def predict(model: Any, data: Any, *, proba: bool = False,
            read: ReadOptions | None = None, missing: str | None = None,
            known_labels: Any = None) -> NDArray[Any]:
    """Labels (or with proba, the N x K responsibilities) of data under a model: a model
    file's path, a LoadedModel or a Fitted; data a path, an array or a DataFrame.
    missing "drop": a row with a missing value gets label -1 (NaN responsibilities);
    "em": every row is labelled from its observed values.
    known_labels: N components of the model, -1 where unknown (or a path: a file of
    them; or read's known column or file, as predict --known-column, --known-labels):
    those rows keep theirs.  What reading decided (columns not the model's, repeated
    names) is a FitWarning (app.errors.warn)."""
    check_flags(proba=proba)
    read, _, known_labels = api_files(read, None, known_labels)
    m = as_model(model)
    points = model_points(m.feature_names, m.params.n_features, data, read,
                          missing=missing, known_labels=known_labels)
    result = apply_model(m, points, want_resp=proba)
    out = result.resp if proba else result.labels
    assert out is not None
    warn(points.source, points.notes)
    return out


@dataclass(frozen=True, eq=False)
class Scores:
    """score(): each row's log-density, their sum and their mean."""

    log_density: NDArray[np.floating]
    log_likelihood: float
    mean_log_likelihood: float


def score(model: Any, data: Any, *, read: ReadOptions | None = None,
          sample_weights: Any = None, missing: str | None = None,
          known_labels: Any = None) -> Scores:
    """Per-sample log-densities and the log-likelihood of data under a model (with
    sample weights, sum_i w_i log p(x_i) and its mean over the sum of the weights).
    missing "drop": a row with a missing value has log-density NaN and adds nothing;
    "em": each row's density is that of its observed values (the marginal).
    known_labels: as predict's, checked against the model (as score --known-labels);
    log-densities do not depend on them."""
    read, sample_weights, known_labels = api_files(read, sample_weights, known_labels)
    m = as_model(model)
    points = model_points(m.feature_names, m.params.n_features, data, read, sample_weights,
                          missing, known_labels)
    result = apply_model(m, points, want_log_density=True)
    assert result.log_density is not None
    total, count = weighted_loglik(points, result)
    infinite = infinite_note(result.log_density,
                             int(np.count_nonzero(result.log_density == -np.inf)), first=0)
    warn(points.source, [*points.notes, *([] if infinite is None else [infinite])])
    return Scores(result.log_density, total, total / count)


def sample(model: Any, n: int, *, seed: int | None = None
           ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """n points drawn from a model, and the component each came from; n an integer >= 0,
    seed one of FitOptions' seeds (None: fresh), else InvalidParameter.  The points are
    one array: n beyond what memory holds is numpy's MemoryError, which says the size."""
    n, seed = plain_number(n), plain_number(seed)
    OptionSpec(help="Points to draw.", kind=int, low=0, high=MAX_POINTS).check("n", n)
    spec("seed").check("seed", seed)
    return sample_points(as_model(model), n, np.random.default_rng(seed))
