"""Fitting one dataset: fit, its predictions, and its outputs (the `fit` use case).

A Fitted is what every command that fits produces (fit, select's chosen cell, each
dataset of batch) and what the Python API returns: the engine's result, the Dataset it ran
on, and the model document.  Its labels and responsibilities come from one more pass over
that Dataset (Dataset.scan), streamed into files block by block for the command line, or
kept in memory when the Python API asks for them.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, nullcontext
import dataclasses
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .. import vocab
from ..engine.dataset import Dataset, row_dropped, row_known
from ..engine.errors import KNOWN_VS_START, EngineError, Finding
from ..engine.fitting import FitResult, ProgressCallback, fit as engine_fit, trace_events
from ..engine.init import check_means_init
from ..engine.options import FitOptions
from ..engine.params import MixtureParams
from ..engine.missing import predict_rows, predictions, row_missing
from ..engine.stats import Predictions, keep_known
from ..interrupts import polling
from ..io.errors import DataError
from ..io.formats import FORMATS, format_for_path
from ..io.model import (SOURCE_FILE_FIELD, SOURCE_SIZE_FIELD, LoadedModel, load_model,
                        model_document)
from ..io.readers import Points, read_points
from ..io.writers import (OutputSet, check_targets, is_stdout, made_dir, stream_table, write_json,
                          write_table)
from .data import api_files, api_read_options, as_points, dataset, known_components, load
from .errors import UsageProblem, event_lines, warn, warned
from .modeldata import model_points, read_data
from .prepare import Prepared, Standardize, prepare
from .requests import STANDARD_NAMES, FitOutputs, ReadOptions
from .rows import CLUSTER, InputRows, write_with_rows

if TYPE_CHECKING:
    from .plotting import MixtureView

Array = NDArray[np.floating]
#: Called with each condition the screen finds in the data, before the fit.
FindingCallback = Callable[[Finding], None]


def fresh_seed() -> int:
    """A seed for a run without one: 53 random bits, so that it is recorded exactly in
    the model file and survives JSON tools that hold numbers as doubles."""
    return secrets.randbits(53)


def seeded(options: FitOptions) -> FitOptions:
    """options with a fresh seed when it has none (the seed used is always recorded)."""
    return options if options.seed is not None else options.replace(seed=fresh_seed())


# --------------------------------------------------------------------------- predictions


@dataclass
class FinalPass:
    """What one pass over a dataset with given parameters yields (fit, predict, score)."""

    labels: NDArray[np.int64] | None
    resp: Array | None
    log_density: Array | None
    loglik: float  # sum of the log-densities, block by block in row order, as fit sums


def final_pass(data: Dataset, params: MixtureParams, *, want_labels: bool = True,
               want_resp: bool = False, want_log_density: bool = False,
               on_block: Callable[[int, Predictions], None] | None = None) -> FinalPass:
    """Labels, and responsibilities and per-sample log-densities if asked, in one pass.

    on_block(first_row, predictions) is called for every block in row order (to stream
    the results out); with nothing wanted, nothing of size N is kept.  Rows of the input
    left out for a missing value (row_dropped) are there too, with label -1 and NaN
    responsibilities and log-density; the log-likelihood is that of the other rows.
    """
    dropped = row_dropped(data)
    n = data.n_samples if dropped is None else len(dropped)
    labels = np.empty(n, dtype=np.int64) if want_labels else None
    resp = np.empty((n, params.n_components)) if want_resp else None
    dens = np.empty(n) if want_log_density else None
    totals = [0.0]
    blocks = _known_kept(data, predictions(data, params), totals)
    if dropped is not None:
        blocks = with_dropped(blocks, dropped, params.n_components)
    for start, pred in blocks:
        stop = start + len(pred.labels)
        if on_block is not None:
            on_block(start, pred)
        for target, part in ((labels, pred.labels), (resp, pred.resp),
                             (dens, pred.log_density)):
            if target is not None:
                target[start:stop] = part
    return FinalPass(labels, resp, dens, totals[0])


def in_data_units(result: FinalPass, data: Dataset, transform: Standardize | None
                  ) -> FinalPass:
    """result, a final pass over data (the rows standardized by transform), with the
    log-densities and log-likelihood of the data's own rows; result itself without a
    transform."""
    if transform is None:
        return result
    lost = transform.row_log_scales(data)
    total = data.n_samples * lost if isinstance(lost, float) else float(lost.sum())
    dropped = row_dropped(data)
    if dropped is not None and not isinstance(lost, float):
        # one per row of the data (those fitted); the final pass has the rows left out
        # (row_dropped) among them, whose log-density is NaN whatever they lose
        every = np.zeros(len(dropped))
        every[~dropped] = lost
        lost = every
    density = None if result.log_density is None else result.log_density - lost
    return dataclasses.replace(result, log_density=density, loglik=result.loglik - total)


def _known_kept(data: Dataset, blocks: Iterator[tuple[int, Predictions]],
                totals: list[float]) -> Iterator[tuple[int, Predictions]]:
    """The blocks, rows with a known component keeping it (keep_known), the sum of their
    log-densities added to totals[0] block by block in row order."""
    known = row_known(data)
    for start, pred in blocks:
        if known is not None:
            keep_known(pred, known[start:start + len(pred.labels)])
        totals[0] += float(pred.log_density.sum(dtype=np.float64))
        yield start, pred


def with_dropped(blocks: Iterator[tuple[int, Predictions]], dropped: NDArray[np.bool_],
                 n_components: int) -> Iterator[tuple[int, Predictions]]:
    """Blocks of the rows kept, widened to blocks of every row read: a row left out
    (dropped) gets label -1, NaN responsibilities and a NaN log-density."""
    kept = np.flatnonzero(~dropped)
    done = 0  # rows read that have been yielded
    for start, pred in blocks:
        stop = start + len(pred.labels)
        end = len(dropped) if stop >= len(kept) else int(kept[stop - 1]) + 1
        m = end - done
        wide = Predictions(np.full(m, -1, dtype=pred.labels.dtype),
                           np.full((m, n_components), np.nan, dtype=pred.resp.dtype),
                           np.full(m, np.nan, dtype=pred.log_density.dtype))
        at = kept[start:stop] - done
        wide.labels[at], wide.resp[at], wide.log_density[at] = (
            pred.labels, pred.resp, pred.log_density)
        yield done, wide
        done = end


def stream_predictions(out: OutputSet, dest: dict[str, str], data: Dataset,
                       params: MixtureParams, *, label_header: bool = False) -> None:
    """Stage the labels and responsibilities that dest names into out, from one final pass,
    each block straight into its staged file (neither is ever held for all N rows); the
    labels under a 'cluster' header with label_header."""
    dropped = row_dropped(data)
    k, n = params.n_components, data.n_samples if dropped is None else len(dropped)
    with ExitStack() as stack:  # closed in reverse: labels are staged before resp
        sinks: list[Callable[[Predictions], None]] = []
        if "responsibilities" in dest:
            resp = stack.enter_context(stream_table(
                dest["responsibilities"], n_rows=n, column_names=[f"p{j}" for j in range(k)],
                dtype=np.float64, out=out))
            sinks.append(lambda pred: resp.write(pred.resp))
        if "labels" in dest:
            labels = stack.enter_context(stream_table(
                dest["labels"], n_rows=n, dtype=np.int64, out=out,
                column_names=[CLUSTER] if label_header else None))
            sinks.append(lambda pred: labels.write(pred.labels))
        def write(_: int, pred: Predictions) -> None:
            for sink in sinks:
                sink(pred)

        if sinks:
            final_pass(data, params, want_labels=False, on_block=write)


# --------------------------------------------------------------------------- a fit


def _read_only(values: Array) -> Array:
    """A view of values that numpy refuses to write into (a copy() is the caller's); a
    number (the one variance of EII and E) as it is: it cannot be written into."""
    if np.ndim(values) == 0:
        return values
    view = values.view()
    view.flags.writeable = False
    return view


@dataclass(eq=False)
class Fitted:
    """One dataset fitted: the engine's result, the data it ran on, the model document.

    The Python API's fit() returns it; labels and responsibilities are computed (once)
    when first asked for.  transform: with standardize, the map from the data's columns
    to those EM ran on (weights, means and covariances are of those; log-likelihoods and
    criteria of the data); findings: what the screen found in the data before the fit.
    """

    result: FitResult
    data: Dataset = field(repr=False)
    feature_names: list[str]
    source: str
    document: dict[str, Any] = field(repr=False)
    transform: Standardize | None = None
    findings: list[Finding] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.result.params.locked()  # handed out whole (params), as the arrays below

    def __repr__(self) -> str:
        """One line: the model and how it fits (the dataclass's own repr holds every
        parameter and trace row)."""
        p = self.result.params
        return (f"Fitted(source={self.source!r}, n_components={p.n_components}, "
                f"covariance_type={p.covariance_type!r}, n_samples={self.result.n_samples}, "
                f"log_likelihood={self.result.loglik:.6g}, bic={self.result.bic:.6g}, "
                f"converged={self.result.converged})")

    @property
    def params(self) -> MixtureParams:
        return self.result.params

    # the parameters as views that cannot be written: an edit would change the fit's
    # numbers without its precision factors, document or predictions following
    @property
    def weights(self) -> Array:
        return _read_only(self.result.params.weights)

    @property
    def means(self) -> Array:
        return _read_only(self.result.params.means)

    @property
    def covariances(self) -> Array:
        return _read_only(self.result.params.covariances)

    @property
    def log_likelihood(self) -> float:
        return self.result.loglik

    @property
    def bic(self) -> float:
        return self.result.bic

    @property
    def aic(self) -> float:
        return self.result.aic

    @property
    def icl(self) -> float:
        return self.result.icl

    @property
    def converged(self) -> bool:
        return self.result.converged

    @property
    def n_iter(self) -> int:
        return self.result.n_iter

    @property
    def trace(self) -> dict[str, list[Any]]:
        """Per iteration: iteration, log_likelihood (mean per sample), change, seconds,
        event (TRACE_COLUMNS)."""
        return trace_columns(self.result)

    @cached_property
    def _predictions(self) -> FinalPass:
        done = final_pass(self.data, self.params, want_resp=True)
        for values in (done.labels, done.resp):  # computed once, handed out each time
            if values is not None:
                values.flags.writeable = False
        return done

    @property
    def labels(self) -> NDArray[np.int64]:
        """The component (0..K-1) of each row: its largest responsibility."""
        labels = self._predictions.labels
        assert labels is not None
        return labels

    @property
    def responsibilities(self) -> Array:
        """(N, K): the posterior probability of each component for each row."""
        resp = self._predictions.resp
        assert resp is not None
        return resp


#: The columns of a trace (--trace, --json, Fitted.trace), in order, and what each holds.
TRACE_COLUMNS: dict[str, str] = {
    "iteration": "the EM iteration, from 1",
    "log_likelihood": "the mean log-likelihood per sample of the parameters the iteration "
                      "started from",
    "change": "its change from the previous iteration (empty on the first)",
    "seconds": "the seconds the iteration took",
    "event": "empty, or what happened in that iteration: each of the model's events "
             "of that iteration as its kind and the component it names (weight-collapse "
             "1, reinitialised 2, dropped 0, degenerate 3: a dropped component numbered "
             "as when it was dropped, the others as in the model), joined by '; '; "
             "components that end degenerate are named on the last row, which ends with "
             "why the fit stopped (the model's stopped: converged, max-iter or time "
             "limit).  Not in .npy, which holds numbers only",
}
#: The trace columns that hold text, left out of a format of numbers only.
TEXT_TRACE_COLUMNS = ("event",)


def trace_columns(result: FitResult) -> dict[str, list[Any]]:
    """The trace of result's kept run, column by column (TRACE_COLUMNS)."""
    return {
        "iteration": [r.iteration for r in result.trace],
        "log_likelihood": [r.log_likelihood for r in result.trace],
        "change": [r.change for r in result.trace],
        "seconds": [r.seconds for r in result.trace],
        "event": trace_events(result),
    }


def trace_table(path: str, trace: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The trace as written to path: without its text columns in a format of numbers
    only (.npy)."""
    if FORMATS[format_for_path(path)].holds_text:
        return trace
    return {name: values for name, values in trace.items() if name not in TEXT_TRACE_COLUMNS}


#: The options that name a file read beside the data, whose content decides a fit.
FILE_INPUTS = ("means_init", "init_model", "sample_weights", "known_labels")


def input_files(values: dict[str, Any]) -> list[str]:
    """The files a fit reads beside its data that values (options and inputs) name under
    FILE_INPUTS: inputs like the data, which no output may overwrite (check_outputs)."""
    return [values[name] for name in FILE_INPUTS if isinstance(values.get(name), str)]


def file_digests(values: dict[str, Any]) -> dict[str, str]:
    """The SHA-256 (hex) of each file that values (options and inputs) name under
    FILE_INPUTS; stdin and arrays have none."""
    digests = {}
    for name in FILE_INPUTS:
        path = values.get(name)
        if isinstance(path, str) and os.path.isfile(path):
            digest = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            digests[name] = digest.hexdigest()
    return digests


def fitted(points: Points, data: Dataset, result: FitResult, prepared: Prepared | None,
           inputs: dict[str, Any] | None, digests: dict[str, str]) -> Fitted:
    """A fit of points (run on data: prepared's points) with its model document; with a
    transform, result's log-likelihoods must already be the data's (data_result).
    inputs: what the rows brought besides their points (ReadOptions.inputs), recorded
    with the options; digests: file_digests of the files among them and the options,
    taken when the run started, as they were read."""
    transform = None if prepared is None else prepared.transform
    doc = model_document(result, feature_names=points.column_names, source=points.source,
                         dtype=np.dtype(data.dtype).name,
                         transform=None if transform is None else transform.to_dict(),
                         inputs=inputs, digests=digests)
    if points.dropped is not None:  # rows left out for a missing value (--missing drop)
        doc["n_dropped"] = int(points.dropped.sum())
    if points.source_size is not None:  # (batch --skip-existing compares them)
        doc[SOURCE_SIZE_FIELD] = points.source_size
    if points.source_file is not None:
        doc[SOURCE_FILE_FIELD] = list(points.source_file)
    missing = row_missing(data)
    if missing is not None:  # rows fitted through their observed coordinates
        doc["n_incomplete"] = missing.n_incomplete
    return Fitted(result, data, list(points.column_names), points.source, doc, transform,
                  [] if prepared is None else list(prepared.findings))


def fit_points(points: Points, options: FitOptions, *, means_init: Array | None = None,
               on_iteration: ProgressCallback | None = None,
               n_threads: int | None = None, standardize: bool = False,
               on_finding: FindingCallback | None = None,
               inputs: dict[str, Any] | None = None,
               start_model: LoadedModel | None = None) -> Fitted:
    """Fit points with options (a fresh seed, recorded, when options.seed is None).

    The data are screened first (app.prepare: an error for values whose squared distances
    overflow or underflow, on_finding(finding) for each condition found) and, with
    standardize, EM runs on standardized columns (means_init is given in the data's
    units).  n_threads: threads of the block reduction (default: every core); results
    do not depend on it.  An engine error names the data (EngineError.source).  inputs:
    what the rows brought besides their points (ReadOptions.inputs), for the model.
    Every iteration raises the stop a signal asked for (interrupts.polling).
    start_model: the model options.init_model names, as the caller read it (once: a file
    replaced meanwhile must not give another model to each step); read here if not given.
    The files read beside the data are digested now, as they were read, not once the fit
    is over (a file replaced meanwhile would be recorded as what was fitted).
    """
    options = seeded(options)
    options.validate()  # before the data: an option's own error, not another's
    digests = file_digests({**options.to_dict(), **(inputs or {})})
    start, transform = None, None
    if options.init_model is not None:
        model = start_model or load_model(options.init_model)
        options, start, transform = continued(options, model, points, standardize=standardize)
    known_components(points, options.n_components)
    prepared = prepare(points, reg_covar=options.reg_covar, standardize=standardize,
                       n_threads=n_threads, covariance_type=options.covariance_type,
                       transform=transform)
    if on_finding is not None:
        for finding in prepared.findings:
            on_finding(finding)
    data = dataset(prepared.points, options.n_components, options.covariance_type,
                   n_threads=n_threads)
    if prepared.transform is not None:  # means_init and progress in the data's units
        if means_init is not None:
            means_init = prepared.transform.to_z(means_init)
        on_iteration = prepared.transform.data_progress(on_iteration, data)
    known = known_start_findings(data, start, means_init)
    if known:  # said before the fit, kept with the screen's (Fitted.findings)
        prepared = dataclasses.replace(prepared, findings=[*prepared.findings, *known])
        if on_finding is not None:
            for finding in known:
                on_finding(finding)
    try:
        result = engine_fit(data, options, means_init=means_init,
                            on_iteration=polling(on_iteration), start=start)
    except EngineError as exc:
        exc.source = points.source
        raise
    if prepared.transform is not None:
        result = prepared.transform.data_result(result, data)
    return fitted(points, data, result, prepared, inputs, digests)


#: The known rows known_start_findings reads at most (evenly spaced among them).
KNOWN_CHECKED = 10_000


def known_start_findings(data: Dataset, start: MixtureParams | None,
                         means: Array | None) -> list[Finding]:
    """Known labels beside a start given whole (init_model) or by its means (means_init)
    name the components as that start numbers them: a finding where most rows of a label
    lie in another of its components (the largest responsibility under the start; the
    nearest mean), which EM, holding those rows to their label, then pulls across (a
    model whose components 0 and 1 are the labels' 1 and 0 ended 563 below the fit of
    the labels alone).  Up to KNOWN_CHECKED known rows are read."""
    known = row_known(data)
    if known is None or (start is None and means is None):
        return []
    rows = np.flatnonzero(known >= 0)
    if len(rows) > KNOWN_CHECKED:
        rows = rows[np.linspace(0, len(rows) - 1, KNOWN_CHECKED).astype(np.intp)]
    if not len(rows):
        return []
    x = data.take(rows)
    if start is not None:
        k, given = start.n_components, "the model"
        nearest = predict_rows(x, start).labels
    else:
        assert means is not None
        k, given = len(means), "the starting means"
        gaps = x[:, None, :] - means[None].astype(x.dtype)
        nearest = np.nansum(gaps * gaps, axis=2).argmin(axis=1)
    labels = known[rows]
    for j in np.unique(labels):
        counts = np.bincount(nearest[labels == j], minlength=k)
        m = int(counts.argmax())
        if m != j and 2 * counts[m] > counts.sum():
            return [Finding(KNOWN_VS_START, (), (
                f"the known labels number the components otherwise than {given}: most "
                f"rows labelled {j} ({counts[m]} of {counts.sum()}) lie in its component "
                f"{m}, and EM, holding them to component {j}, pulls the two across; "
                "relabel the rows, or reorder the start"))]
    return []


def read_fit_data(path: str, read: ReadOptions, init_model: LoadedModel | None,
                  warn: Callable[[str], None], *, stdin: io.BytesIO | None = None,
                  log: Callable[[str], None] | None = None) -> Points:
    """The data of a fit (data.load); with init_model, read for that model as predict
    reads data (modeldata.read_data): by its feature names where the input's header holds
    them all, in any order, else every column (or read.columns) with a warning where the
    header has other names, D the model's.  warn: what reading decided, each line naming
    the source."""
    if init_model is not None:
        return read_data(init_model, path, read, warn, stdin=stdin, log=log)
    points = load(path, read, log=log, stdin=stdin)
    for note in points.notes:
        warn(f"{points.source}: {note}")
    return points


def continued(options: FitOptions, model: LoadedModel, points: Points, *,
              standardize: bool = False
              ) -> tuple[FitOptions, MixtureParams, Standardize | None]:
    """options.init_model, read (model): options with its number of components and
    family, its parameters, the start of EM, and its transform (a model of standardized
    columns continues in those columns, made by its own transform from the data, with or
    without --standardize: the model decides them, as it decides K and the family).  The
    data must have the model's D columns.  --standardize beside a model of the data's
    own columns is refused: its start is of those columns, not of standardized ones."""
    from ..io.model import check_features

    check_features(model, points)
    transform = None if model.transform is None else Standardize.from_dict(model.transform)
    if standardize and transform is None:
        raise UsageProblem(f"{options.init_model} is a model of the data's own columns, and "
                           "--init-model continues its fit in them: leave --standardize out "
                           "(a model fitted with --standardize continues in standardized "
                           "columns)", option="--standardize")
    return continued_options(options, model), model.params, transform


def continued_options(options: FitOptions, model: LoadedModel) -> FitOptions:
    """The options a fit that continues model runs with: its number of components and
    family (the engine's fit then records one run: FitOptions.from_model)."""
    params = model.params
    return options.replace(n_components=params.n_components,
                           covariance_type=params.covariance_type)


def check_continued(model: LoadedModel, n_components: int | None,
                    covariance_type: str | None, init: str | None = None,
                    n_init: int | None = None) -> None:
    """-k and -c, where given beside --init-model (model, read), must be the model's own:
    the model decides them, and one that disagrees is a UsageProblem rather than
    ignored.  --init and --n-init (each where given: None otherwise) have no part to play
    when a model is continued: one run from the model's parameters."""
    from ..engine.families import family

    params, init_model = model.params, model.path
    _one_start("--init-model", "whose parameters are the start", init, n_init)
    if n_components is not None and n_components != params.n_components:
        raise UsageProblem(f"-k {n_components} disagrees with --init-model {init_model}, a "
                           f"model of {params.n_components} components; leave -k out (the "
                           "model's is used)", option="--components")
    if covariance_type is not None and family(covariance_type).name != params.covariance_type:
        raise UsageProblem(f"-c {covariance_type} disagrees with --init-model {init_model}, a "
                           f"{params.covariance_type} model; leave -c out (the model's is "
                           "used)", option="--covariance-type")


def check_means_start(init_model: str | None, init: str | None, n_init: int | None) -> None:
    """--means-init is a run's start; where given, --init-model, --init and --n-init
    (each where given: None otherwise) have no part to play, and one that is given is a
    UsageProblem rather than ignored: --init-model would be continued and the means left
    unread (while the model recorded them as the start), --init is replaced by the means,
    and the one start makes one run."""
    if init_model is not None:
        raise UsageProblem("--means-init and --init-model are two starts: give one (the "
                           "model's means are its own start)", option="--means-init")
    _one_start("--means-init", "which is the start", None if init == vocab.MEANS_INIT
               else init, n_init)


def _one_start(start: str, why: str, init: str | None, n_init: int | None) -> None:
    """--init and --n-init above 1 (each where given: None otherwise) beside a start given
    by the option start (why: how it is the start): a UsageProblem, for the start replaces
    the init method and makes one run."""
    if init is not None:
        raise UsageProblem(f"--init {init} does not apply with {start}, {why}; leave --init "
                           "out", option="--init")
    if n_init is not None and n_init > 1:
        raise UsageProblem(f"--n-init {n_init} does not apply with {start}: one start makes "
                           "one run; leave --n-init out", option="--n-init")


def check_known_order(order: str | None, read: ReadOptions | None, known_labels: Any) -> None:
    """Known labels (read's column or file, or known_labels given) name the components,
    which keep their numbers (order none, engine.fitting.with_known_labels); an order
    other than none given beside them (order: None where not given) is a UsageProblem
    rather than ignored."""
    known = known_labels is not None or (  # read checked as the data are read
        isinstance(read, ReadOptions) and (read.known_column or read.known_labels) is not None)
    if known and order is not None and order != "none":
        raise UsageProblem(f"--order {order} does not apply with known labels, which name "
                           "the components (they keep their numbers); leave --order out",
                           option="--order")


def load_means(path: str, n_components: int, n_features: int,
               names: Sequence[str] | None = None) -> Array:
    """Starting means from a K x D data file; a bad shape or identical rows name the file.
    A header that names the data's columns (names) in another order is read by name, as
    predict reads a model's columns."""
    try:
        means = read_points(path)
        return check_means_init(in_data_order(means.x, means.column_names, names),
                                n_components, n_features, "starting means")
    except EngineError as exc:
        raise DataError(path, str(exc)) from exc


def api_means(means: Any, n_components: int, points: Points) -> Array:
    """Starting means of points given to the Python API: a path (load_means), an
    array-like (taken by position) or a pandas DataFrame, whose columns are taken by name
    where they name the data's columns, as a file's header is."""
    names = points.column_names
    if isinstance(means, (str, Path)):
        return load_means(str(means), n_components, points.n_features, names)
    if hasattr(means, "columns") and hasattr(means, "to_numpy"):  # a pandas DataFrame
        means = in_data_order(means.to_numpy(), [str(c) for c in means.columns], names)
    return check_means_init(means, n_components, points.n_features)


def in_data_order(x: Any, given: Sequence[str], names: Sequence[str] | None) -> Any:
    """x's columns, named given, in the order of the data's columns (names) where given
    names each of them once in another order; x as it is otherwise (by position)."""
    if names is None or len(set(names)) != len(names) or sorted(given) != sorted(names):
        return x
    return x[:, [list(given).index(name) for name in names]]


# --------------------------------------------------------------------------- outputs


def check_outputs(dest: dict[str, str], inputs: Sequence[str | None], *,
                  as_json: bool = False, output_dir: str | None = None) -> None:
    """No input file as an output, formats that can hold each output (a picture none on
    stdout), at most one thing on stdout (a UsageProblem otherwise); then each output's
    file one that can be written (io.writers.check_targets: its DataError otherwise), all
    before any data is read.  output_dir: the folder the command makes for the outputs."""
    check_stdin_once(inputs)
    # realpath, not Path.resolve: a symbolic link loop is the reader's to report
    real_inputs = {os.path.realpath(p) for p in inputs if p and p != "-"}
    for name, path in dest.items():
        if path != "-" and os.path.realpath(path) in real_inputs:
            raise UsageProblem(f"refusing to overwrite the input file {path} with "
                               f"{OUTPUT_OPTIONS.get(name, name)}")
    for name, path in dest.items():
        if name == "model":
            check_json_output(path, "--model")
        elif name in PICTURES:
            from .plotting import image_format

            image_format(path, PICTURES[name])
        else:
            format_for_path(path)  # a bad extension fails now, not after the fit
    to_stdout = [OUTPUT_OPTIONS.get(n, n) for n, p in dest.items() if is_stdout(p)] + (
        ["--json"] if as_json else [])
    if len(to_stdout) > 1:
        raise UsageProblem(f"only one output can go to stdout, got {', '.join(to_stdout)}")
    check_targets(dest.values(), creates=output_dir)


def check_stdin_once(inputs: Sequence[str | None]) -> None:
    """Standard input ('-') named by at most one of inputs: a second reader would find it
    empty (UsageProblem)."""
    if sum(p == "-" for p in inputs) > 1:
        raise UsageProblem("'-' (standard input) is given for more than one input, but it "
                           "can be read only once; give the others file names")


def check_fit_outputs(outputs: FitOutputs, inputs: Sequence[str | None]) -> None:
    """A fit's outputs, before any data is read: its files and pictures (check_outputs),
    --with-rows's place (the labels'), and --label-header's where the labels are bare
    (check_label_header)."""
    check_outputs({**outputs.destinations(), **outputs.pictures()}, inputs,
                  as_json=outputs.as_json, output_dir=outputs.output_dir)
    if outputs.with_rows and "labels" not in outputs.destinations():
        why = "stdout carries --json" if outputs.as_json else "no labels are written"
        raise UsageProblem(f"--with-rows writes the rows with their labels, and {why}; name "
                           "a file for them with -o", option="--with-rows")
    if not outputs.with_rows:
        check_label_header(outputs.destinations().get("labels"), outputs.label_header)


def check_label_header(labels: str | None, label_header: bool) -> None:
    """--label-header names the labels' column: a format that writes no column names
    (.npy) cannot hold it, and the flag would do nothing (UsageProblem)."""
    if label_header and labels is not None and not FORMATS[format_for_path(labels)].holds_names:
        raise UsageProblem(f"--label-header writes a 'cluster' header, which {labels} cannot "
                           "hold (a .npy file holds numbers only); leave --label-header out or "
                           "give another format", option="--label-header")


#: Outputs that are pictures (plotting.IMAGE_FORMATS), and the option that names each
#: (picture: plot's -o).
PICTURES = {"plot": "--plot", "trace_plot": "--trace-plot", "picture": "-o"}
#: The option that names each output check_outputs is given (its keys), for its messages.
OUTPUT_OPTIONS = {"output": "-o", "labels": "-o/--labels", "responsibilities": "--responsibilities",
                  "trace": "--trace", "model": "--model", "table": "-o/--table",
                  "centers_out": "--centers-out", "truth": "--labels", **PICTURES}


def check_json_output(path: str, option: str) -> None:
    """A model's path must name JSON: any other extension, one no format has included, is
    a usage error that says so (not the list of table formats)."""
    try:
        name: str | None = format_for_path(path, default="json")
    except DataError:
        name = None
    if name != "json":
        raise UsageProblem(f"the model is a JSON document; give {option} a .json name, "
                           f"not {path}", option=option)


def stage_outputs(out: OutputSet, dest: dict[str, str], fit: Fitted, *,
                  as_json: bool = False, label_header: bool = False) -> None:
    """Stage into out every output dest names (labels, responsibilities, trace, model, in
    that order), and the JSON summary on stdout when as_json."""
    stream_predictions(out, dest, fit.data, fit.params, label_header=label_header)
    if "trace" in dest:
        write_table(dest["trace"], trace_table(dest["trace"], fit.trace), out=out)
    if "model" in dest:
        write_json(dest["model"], fit.document, out=out)
    if as_json:
        names = list(fit.trace)
        records = [dict(zip(names, row)) for row in zip(*fit.trace.values())]
        write_json("-", {**fit.document, "trace": records}, out=out)


def stage_rows(out: OutputSet, dest: str, rows: InputRows, data: Dataset,
               params: MixtureParams, outputs: FitOutputs, *, source: str,
               transform: Standardize | None = None) -> None:
    """The input rows with their cluster (and p0.., log_density as outputs asks) to dest;
    data are the rows the fit ran on, standardized by transform where it has one."""
    result = in_data_units(final_pass(data, params, want_resp=outputs.proba,
                                      want_log_density=outputs.log_density), data, transform)
    assert result.labels is not None
    write_with_rows(dest, rows, result.labels, source=source, resp=result.resp,
                    log_density=result.log_density, out=out)


def fitted_view(fit: Fitted) -> MixtureView:
    """What a picture of a fit over its own data shows (fit --plot)."""
    from .plotting import mixture_view

    return mixture_view(fit.params, fit.data, fit.feature_names, source=fit.source,
                        transform=fit.transform)


def _write_part(x: Array, first: int, index: int, *, folder: str, name: str,
                params: MixtureParams, label_header: bool,
                known: NDArray[np.int64] | None = None,
                dropped: NDArray[np.bool_] | None = None) -> None:
    """One partition's labels or responsibilities, as a part file written on a worker
    (known: the partition's known labels; dropped: its share of the input's rows left
    out, which get label -1 as final_pass gives them; rows with missing values are
    predicted from their observed coordinates)."""
    pred = predict_rows(x, params)
    if known is not None:
        keep_known(pred, known)
    if dropped is not None:
        pred = next(with_dropped(iter([(0, pred)]), dropped, params.n_components))[1]
    path = os.path.join(folder, f"part-{index:05d}{os.path.splitext(STANDARD_NAMES[name])[1]}")
    if name == "labels":
        with stream_table(path, n_rows=len(pred.labels), dtype=np.int64,
                          column_names=[CLUSTER] if label_header else None) as table:
            table.write(pred.labels)
    else:
        with stream_table(path, n_rows=len(pred.labels), dtype=np.float64,
                          column_names=[f"p{j}" for j in range(params.n_components)]
                          ) as table:
            table.write(pred.resp)


def stage_parts(out: OutputSet, dest: dict[str, str], fit: Fitted, outputs: FitOutputs) -> None:
    """For data on a cluster (backends.dask) and --output-dir: the labels and the
    responsibilities that the output folder names (not those given a file of their own)
    as folders of part files (labels/part-00000.csv, ...: one a partition, in row
    order), written by the workers; removed from dest."""
    for name in ("labels", "responsibilities"):
        if name in dest and getattr(outputs, name) is None:
            folder = out.stage_folder(os.path.splitext(dest.pop(name))[0])
            fit.data.each_partition(partial(  # type: ignore[attr-defined]
                _write_part, folder=folder, name=name, params=fit.params,
                label_header=outputs.label_header))


def write_outputs(fit: Fitted, outputs: FitOutputs,
                  rows: InputRows | None = None) -> None:
    """Write every output of a fit atomically: all of them, or none (and no --output-dir
    folder of its own).  rows: the input's rows (outputs.with_rows), written with a
    cluster column where the labels go."""
    dest = outputs.destinations()
    with (made_dir(outputs.output_dir) if outputs.output_dir else nullcontext()), \
            OutputSet() as out:
        if rows is not None and "labels" in dest:
            stage_rows(out, dest.pop("labels"), rows, fit.data, fit.params, outputs,
                       source=fit.source, transform=fit.transform)
        if outputs.output_dir and hasattr(fit.data, "each_partition"):
            stage_parts(out, dest, fit, outputs)
        stage_outputs(out, dest, fit, as_json=outputs.as_json,
                      label_header=outputs.label_header)
        if outputs.plot or outputs.trace_plot:
            stage_pictures(out, fit, outputs)


def stage_pictures(out: OutputSet, fit: Fitted, outputs: FitOutputs) -> None:
    """The pictures outputs name (--plot, --trace-plot), staged into out; the plotting
    module is imported only when one is asked for."""
    from .plotting import mixture_figure, save_figure, trace_figure

    if outputs.plot:
        save_figure(mixture_figure(fitted_view(fit)), outputs.plot, out=out)
    if outputs.trace_plot:
        save_figure(trace_figure(fit.result, source=fit.source), outputs.trace_plot,
                    out=out)


# --------------------------------------------------------------------------- Python API


def fit(data: Any, n_components: int | None = None, *, means_init: Any = None,
        read: ReadOptions | None = None, on_iteration: ProgressCallback | None = None,
        standardize: bool = False, sample_weights: Any = None, known_labels: Any = None,
        missing: str | None = None, **options: Any) -> Fitted:
    """Fit a Gaussian mixture of n_components to data: a path, an (N, D) array or a
    pandas DataFrame.

    options: any field of engine.options.FitOptions (covariance_type, init, n_init, tol,
    max_iter, reg_covar, algorithm, seed); means_init: K x D starting means (an array, a
    DataFrame or a file: api_means, load_means), the start of one run (with init, n_init > 1 or init_model given: a
    UsageProblem, check_means_start); standardize: fit the columns centred and scaled
    to unit variance (see app.prepare; the parameters are then of those columns,
    Fitted.transform maps them);
    sample_weights: N weights >= 0, a row of weight w counting as the row given w times
    (or a path: a file of them, as --sample-weights; or read.weights_column, a column of
    the data; BIC then takes their sum as n);
    init_model: a model file EM continues from (n_components and covariance_type are
    then the model's); freeze: the parameters kept fixed ("weights,means");
    known_labels: N known components (-1 where unknown; or a path: a file of them, as
    --known-labels): semi-supervised EM, in which those rows keep their component;
    missing: "error" (the default), "drop" (rows with a missing value left out: label -1,
    responsibilities NaN) or "em" (each row fitted through its observed values).
    Returns a Fitted: weights, means, covariances, labels, responsibilities, trace,
    log_likelihood, bic, aic, icl, findings (conditions of the data worth knowing) and
    the model document; what the command line warns of, as FitWarnings (app.errors.warn).
    """
    if n_components is None and options.get("init_model") is None:
        raise UsageProblem("give n_components (or init_model, a model to continue)")
    if on_iteration is not None and not callable(on_iteration):  # not at the first pass
        raise TypeError(f"on_iteration must be a function, not {on_iteration!r}")
    check_flags(standardize=standardize)
    read, sample_weights, known_labels = api_files(read, sample_weights, known_labels)
    check_known_order(options.get("order"), read, known_labels)
    fit_options = options_of(1 if n_components is None else n_components, options, "fit",
                             named=keyword_names(fit))
    model = None if fit_options.init_model is None else load_model(fit_options.init_model)
    if model is not None:  # the model's columns, as predict takes them
        points = model_points(model.feature_names, model.n_features, data, read,
                              sample_weights, missing, known_labels)
    else:
        points = as_points(data, read, sample_weights=sample_weights,
                           known_labels=known_labels, missing=missing)
    inputs = api_inputs(read, missing, sample_weights, known_labels)
    if means_init is not None:
        check_means_start(options.get("init_model"), options.get("init"),
                          options.get("n_init"))
    if model is not None:
        check_continued(model, n_components, options.get("covariance_type"),
                        options.get("init"), options.get("n_init"))
    start = None if means_init is None else api_means(means_init, fit_options.n_components,
                                                      points)
    if isinstance(means_init, (str, Path)):  # recorded, as --means-init FILE
        fit_options = fit_options.replace(means_init=str(means_init))
    return events_warned(fit_points(
        points, fit_options, means_init=start, on_iteration=on_iteration,
        standardize=standardize, inputs=inputs, start_model=model, on_finding=warned(points)))


def events_warned(fitted: Fitted) -> Fitted:
    """fitted, its events said as FitWarnings, as the command line says them (the
    Python API's fit)."""
    warn(fitted.source, event_lines(fitted.result.events, fitted.findings))
    return fitted


def keyword_names(function: Callable[..., Any]) -> tuple[str, ...]:
    """The names function takes by keyword, but its first (the data) and **options."""
    code = function.__code__
    return code.co_varnames[1:code.co_argcount + code.co_kwonlyargcount]


def options_of(n_components: int, options: dict[str, Any], caller: str,
               not_here: tuple[str, ...] = (), named: tuple[str, ...] = ()) -> FitOptions:
    """FitOptions from a Python API call's keyword options, checked before any data is
    read; one that is no option (or one of not_here, options the caller has no use for)
    is a TypeError, as Python words it, naming the closest of the caller's arguments
    (named: those besides the options, keyword_names) and the options."""
    known = [f.name for f in dataclasses.fields(FitOptions)
             if f.name != "n_components" and f.name not in not_here]
    unknown = [name for name in options if name not in known]
    if unknown:
        import difflib

        # an option the caller has no use for is not taken for a misspelt one
        close = difflib.get_close_matches(
            unknown[0], [*named, *(known if unknown[0] not in not_here else ())], n=1)
        meant = f" (did you mean {close[0]!r}?)" if close else ""
        raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}"
                        f"{meant}; its options are {', '.join(known)}")
    if isinstance(options.get("init_model"), os.PathLike):  # a path, as the data may be
        options = {**options, "init_model": os.fspath(options["init_model"])}
    frozen = options.get("freeze")
    if isinstance(frozen, (list, tuple)) and all(isinstance(f, str) for f in frozen):
        # a list of names, as select takes its families: the command line's "weights,means"
        options = {**options, "freeze": ",".join(frozen) or None}
    checked = FitOptions(n_components, **options)
    checked.validate()  # an option's own error, not one of the data it would read
    return checked


def check_flags(**flags: Any) -> None:
    """The yes-or-no arguments of a Python API call (standardize, proba): True or False,
    else a TypeError, as Python words it ("yes" or 1 would be taken as true)."""
    for name, value in flags.items():
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, not {value!r}")


def api_inputs(read: ReadOptions | None, missing: str | None, sample_weights: Any,
               known_labels: Any) -> dict[str, Any]:
    """What the rows of a Python API call bring besides their points (ReadOptions.inputs):
    the read options', with missing, sample_weights and known_labels as given."""
    return api_read_options(read, missing).inputs(weights=sample_weights, known=known_labels)
