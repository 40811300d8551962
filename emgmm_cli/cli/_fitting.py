"""What `fit` does between parsing and printing: read, fit, write, render.

Shared by every command that fits (fit now; select and batch reuse the pieces).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .context import Terminal

if TYPE_CHECKING:
    import numpy as np

    from ..engine.fitting import FitResult
    from ..io.readers import Points
    from ..io.writers import OutputSet

STANDARD_NAMES = {
    "labels": "labels.csv",
    "responsibilities": "responsibilities.csv",
    "trace": "trace.csv",
    "model": "model.json",
}


@dataclass(frozen=True)
class FitRequest:
    """Every option of `emgmm fit`, as parsed by click."""

    input: str
    columns: list[str] | None
    delimiter: str | None
    header: bool | None
    n_components: int
    covariance_type: str
    init: str
    means_init: str | None
    n_init: int
    tol: float
    max_iter: int
    reg_covar: float
    seed: int | None
    algorithm: str
    labels: str | None
    responsibilities: str | None
    trace: str | None
    model: str | None
    output_dir: str | None
    as_json: bool
    show_trace: bool
    dtype: str = "float64"
    memory_limit: int | None = None  # bytes; None: a quarter of the memory
    cache_dir: str | None = None  # None: the per-user cache directory

    def destinations(self) -> dict[str, str]:
        """Output name -> path, with --output-dir filling in what was not named."""
        out: dict[str, str] = {}
        for name, std in STANDARD_NAMES.items():
            path = getattr(self, name)
            if path is None and self.output_dir is not None:
                path = os.path.join(self.output_dir, std)
            if path is not None:
                out[name] = path
        return out


def check_destinations(dest: dict[str, str], inputs: list[str], as_json: bool) -> None:
    """At most one thing on stdout, and never an input file as an output."""
    to_stdout = [n for n, p in dest.items() if p == "-"] + (["--json"] if as_json else [])
    if len(to_stdout) > 1:
        raise click_usage(f"only one output can go to stdout, got {', '.join(to_stdout)}")
    real_inputs = {Path(p).resolve() for p in inputs if p and p != "-"}
    for name, path in dest.items():
        if path != "-" and Path(path).resolve() in real_inputs:
            raise click_usage(f"refusing to overwrite the input file {path} with {name}")


def click_usage(message: str) -> Exception:
    import click

    return click.UsageError(message)


def load_points(path: str, columns: list[str] | None, delimiter: str | None,
                header: bool | None, *, dtype: str = "float64",
                memory_limit: int | None = None, cache_dir: str | None = None,
                log: Any = None) -> "Points":
    """The data of a fit: in memory when small; over memory_limit, a .npy is read block
    by block and a text file through its binary cache (emgmm_cli.io.cache)."""
    from ..io.cache import open_points

    return open_points(path, columns=columns, delimiter=delimiter, header=header,
                       dtype=dtype, memory_limit=memory_limit, cache_dir=cache_dir, log=log)


def load_request(req: FitRequest, log: Any = None) -> "Points":
    """load_points with the read options of a request."""
    return load_points(req.input, req.columns, req.delimiter, req.header, dtype=req.dtype,
                       memory_limit=req.memory_limit, cache_dir=req.cache_dir, log=log)


def data_log(term: Terminal) -> Any:
    """Where messages about reading large data go: stderr on a terminal or with --debug."""
    if term.quiet or not (term.debug or term.stderr_isatty):
        return None
    return lambda message: print(f"emgmm: {message}", file=term.stderr)


def load_means(path: str) -> "np.ndarray":
    from ..io.readers import read_points

    return read_points(path).x


def checked_means(path: str, n_components: int, n_features: int) -> "np.ndarray":
    """load_means, checked against K x D; a bad shape or identical rows name the file."""
    from ..engine.errors import EngineError
    from ..engine.init import check_means_init
    from ..io.errors import DataError

    try:
        return check_means_init(load_means(path), n_components, n_features)
    except EngineError as exc:
        raise DataError(path, str(exc)) from exc


def stream_predictions(out: "OutputSet", dest: dict[str, str], data: Any, params: Any) -> None:
    """Stage the labels and responsibilities that dest names into out, from one final pass.

    Each block's labels and responsibilities go straight into the staged temporary files
    (emgmm_cli.io.writers.stream_table), so neither is ever held for all N rows.
    """
    from contextlib import ExitStack

    import numpy as np

    from ..io.writers import stream_table

    k, n = params.n_components, data.n_samples
    with ExitStack() as stack:  # closed in reverse: labels are staged before resp
        sinks = []
        if "responsibilities" in dest:
            resp = stack.enter_context(stream_table(
                dest["responsibilities"], n_rows=n, column_names=[f"p{j}" for j in range(k)],
                dtype=np.float64, out=out))
            sinks.append(lambda pred: resp.write(pred.resp))
        if "labels" in dest:
            labels = stack.enter_context(stream_table(dest["labels"], n_rows=n,
                                                      dtype=np.int64, out=out))
            sinks.append(lambda pred: labels.write(pred.labels))
        if sinks:
            final_pass(data, params, want_labels=False,
                       on_block=lambda start, pred: [sink(pred) for sink in sinks])


@dataclass
class FinalPass:
    """What one pass over a dataset with given parameters yields (fit, predict, score)."""

    labels: "np.ndarray | None"
    resp: "np.ndarray | None"
    log_density: "np.ndarray | None"
    loglik: float  # sum of the log-densities, block by block in row order, as fit sums


def final_pass(data: Any, params: Any, *, want_resp: bool = False,
               want_log_density: bool = False, want_labels: bool = True,
               on_block: Any = None) -> FinalPass:
    """Labels, and responsibilities and per-sample log-densities if asked, in one pass.

    on_block(first_row, predictions) is called for every block in row order (to stream
    the results out); with want_labels=False and nothing else wanted, nothing of size N
    is kept.
    """
    import numpy as np

    from ..engine import predict_chunk

    labels = np.empty(data.n_samples, dtype=np.int64) if want_labels else None
    resp = np.empty((data.n_samples, params.n_components)) if want_resp else None
    dens = np.empty(data.n_samples) if want_log_density else None
    loglik = 0.0
    for start, pred in data.scan(lambda block, _: predict_chunk(block, params)):
        stop = start + len(pred.labels)
        if on_block is not None:
            on_block(start, pred)
        if labels is not None:
            labels[start:stop] = pred.labels
        if resp is not None:
            resp[start:stop] = pred.resp
        if dens is not None:
            dens[start:stop] = pred.log_density
        loglik += float(pred.log_density.sum(dtype=np.float64))
    return FinalPass(labels, resp, dens, loglik)


def trace_columns(result: "FitResult") -> dict[str, list[Any]]:
    return {
        "iteration": [r.iteration for r in result.trace],
        "log_likelihood": [r.log_likelihood for r in result.trace],
        "change": [r.change for r in result.trace],
        "seconds": [r.seconds for r in result.trace],
    }


def fresh_seed() -> int:
    """A seed for a run without --seed: 53 random bits, so that it is recorded exactly in
    the model file and survives JSON tools that hold numbers as doubles."""
    import secrets

    return secrets.randbits(53)


def report_events(term: Terminal, result: "FitResult", source: str) -> None:
    from .errors import event_message

    for event in result.events:
        term.warn(f"{source}: {event_message(event)}")


def run_fit(term: Terminal, req: FitRequest) -> None:
    from ..io.writers import OutputSet, ensure_dir, output_format
    from ..render import fit_progress, make_console, render_fit_summary, render_trace

    dest = req.destinations()
    check_destinations(dest, [req.input] + ([req.means_init] if req.means_init else []),
                       req.as_json)
    for name in ("labels", "responsibilities", "trace"):  # a bad extension fails now,
        if name in dest:                                  # not after the fit
            output_format(dest[name])
    if "model" in dest and output_format(dest["model"], default="json") != "json":
        raise click_usage(f"the model is a JSON document; give --model a .json name, "
                          f"not {dest['model']}")
    default_labels = not dest and not req.as_json and not term.stdout_isatty
    if default_labels:
        dest["labels"] = "-"
    carries_data = req.as_json or "-" in dest.values()

    from ..engine.errors import EngineError
    from ..io.errors import DataError

    points = load_request(req, log=data_log(term))
    means_init = (checked_means(req.means_init, req.n_components, points.n_features)
                  if req.means_init else None)
    progress_stream = term.stderr if term.stderr_isatty and not term.quiet else None
    try:
        with fit_progress(progress_stream, req.n_init) as on_iteration:
            fitted = fit_points(points, req, means_init=means_init, on_iteration=on_iteration)
    except EngineError as exc:  # K too large, not positive definite, ...: name the data
        from .errors import engine_message

        raise DataError(points.source, engine_message(exc)) from exc
    report_events(term, fitted.result, points.source)

    if req.output_dir:
        ensure_dir(req.output_dir)
    with OutputSet() as out:
        stage_outputs(out, dest, fitted, as_json=req.as_json)

    stream = term.message_stream(carries_data)
    if stream is not None:
        console = make_console(stream)
        render_fit_summary(console, fitted.doc, shape=(points.n_samples, points.n_features))
        if req.show_trace:
            render_trace(console, fitted.result.trace)


@dataclass
class Fitted:
    """One dataset fitted: what its outputs and its summary are made from."""

    points: "Points"
    data: Any  # the Dataset the fit ran on (predictions make one more pass over it)
    result: "FitResult"
    doc: dict[str, Any]  # the model document


def fit_points(points: "Points", req: FitRequest, *, means_init: "np.ndarray | None" = None,
               on_iteration: Any = None, n_threads: int | None = None) -> Fitted:
    """Fit points with the fit options of req (a fresh seed, recorded, when req.seed is None).

    n_threads: threads of the block reduction (default: every core); results do not
    depend on it.  Shared by `fit` and `batch`.
    """
    from ..engine import FitOptions, fit

    seed = req.seed if req.seed is not None else fresh_seed()
    options = FitOptions(
        n_components=req.n_components, covariance_type=req.covariance_type, init=req.init,
        n_init=req.n_init, tol=req.tol, max_iter=req.max_iter, reg_covar=req.reg_covar,
        algorithm=req.algorithm, seed=seed,
    )
    data = points_dataset(points, req.n_components, req.covariance_type, n_threads=n_threads)
    result = fit(data, options, means_init=means_init, on_iteration=on_iteration)
    return fitted(points, data, result, means_init=req.means_init)


def points_dataset(points: "Points", n_components: int, covariance_type: str, *,
                   n_threads: int | None = None) -> Any:
    """The Dataset over points that a fit of this K and family runs on (row blocks sized
    for them), and its outputs are predicted from."""
    from ..backends import open_dataset

    return open_dataset(points.x, n_components=n_components, covariance_type=covariance_type,
                        n_threads=n_threads)


def fitted(points: "Points", data: Any, result: "FitResult", *,
           means_init: str | None = None) -> Fitted:
    """A fit of points (on data) with its model document: what its outputs are made of.
    means_init: the --means-init file the fit started from, recorded in the model."""
    import numpy as np

    from ..io.model import model_document

    doc = model_document(result, feature_names=points.column_names, source=points.source,
                         means_init=means_init, dtype=np.dtype(points.x.dtype).name)
    return Fitted(points, data, result, doc)


def stage_outputs(out: "OutputSet", dest: dict[str, str], fitted: Fitted, *,
                  as_json: bool = False) -> None:
    """Stage into out every output dest names (labels, responsibilities, trace, model, in
    that order), and the --json document on stdout when as_json.  Labels and
    responsibilities are streamed block by block (stream_predictions)."""
    from ..io.writers import write_json, write_table

    result, doc = fitted.result, fitted.doc
    stream_predictions(out, dest, fitted.data, result.params)
    if "trace" in dest:
        write_table(dest["trace"], trace_columns(result), out=out)
    if "model" in dest:
        write_json(dest["model"], doc, out=out)
    if as_json:
        write_json("-", {**doc, "trace": _records(trace_columns(result))}, out=out)


def _records(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(columns)
    return [dict(zip(names, row)) for row in zip(*columns.values())]
