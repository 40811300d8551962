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

    from ..engine.fit import FitResult
    from ..io.readers import Points

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


class UsageProblem(Exception):
    """A combination of options that cannot work (reported like a data error)."""


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
                header: bool | None) -> "Points":
    from ..io.readers import read_points

    return read_points(path, columns=columns, delimiter=delimiter, header=header)


def load_means(path: str) -> "np.ndarray":
    from ..io.readers import read_points

    return read_points(path).x


def predict_all(data: Any, params: Any, want_resp: bool) -> tuple["np.ndarray", "np.ndarray | None"]:
    """Labels, and responsibilities if asked, from one pass with the final parameters."""
    import numpy as np

    from ..engine import predict_chunk

    labels = np.empty(data.n_samples, dtype=np.int64)
    resp = np.empty((data.n_samples, params.n_components)) if want_resp else None
    for start, block in data.blocks():
        pred = predict_chunk(block, params)
        labels[start:start + len(block)] = pred.labels
        if resp is not None:
            resp[start:start + len(block)] = pred.resp
    return labels, resp


def trace_columns(result: "FitResult") -> dict[str, list[Any]]:
    return {
        "iteration": [r.iteration for r in result.trace],
        "log_likelihood": [r.log_likelihood for r in result.trace],
        "change": [r.change for r in result.trace],
        "seconds": [r.seconds for r in result.trace],
    }


def report_events(term: Terminal, result: "FitResult", source: str) -> None:
    for event in result.events:
        term.warn(f"{source}: {event.message}")


def run_fit(term: Terminal, req: FitRequest) -> None:
    import numpy as np

    from ..backends.local import ArrayDataset, block_rows
    from ..engine import FitOptions, fit
    from ..io.model import model_document
    from ..io.writers import OutputSet, ensure_dir, write_json, write_table
    from ..render import fit_progress, make_console, render_fit_summary, render_trace

    dest = req.destinations()
    check_destinations(dest, [req.input] + ([req.means_init] if req.means_init else []),
                       req.as_json)
    default_labels = not dest and not req.as_json and not term.stdout_isatty
    if default_labels:
        dest["labels"] = "-"
    carries_data = req.as_json or "-" in dest.values()

    points = load_points(req.input, req.columns, req.delimiter, req.header)
    means_init = load_means(req.means_init) if req.means_init else None
    seed = req.seed if req.seed is not None else int(np.random.SeedSequence().entropy)
    options = FitOptions(
        n_components=req.n_components, covariance_type=req.covariance_type, init=req.init,
        n_init=req.n_init, tol=req.tol, max_iter=req.max_iter, reg_covar=req.reg_covar,
        algorithm=req.algorithm, seed=seed,
    )
    k, d = req.n_components, points.x.shape[1]
    data = ArrayDataset(points.x, block_rows=block_rows(k, d))
    progress_stream = term.stderr if term.stderr_isatty and not term.quiet else None
    with fit_progress(progress_stream, req.n_init) as on_iteration:
        result = fit(data, options, means_init=means_init, on_iteration=on_iteration)
    report_events(term, result, points.source)

    doc = model_document(result, feature_names=points.column_names, source=points.source,
                         means_init=req.means_init)
    labels, resp = predict_all(data, result.params, "responsibilities" in dest)
    if req.output_dir:
        ensure_dir(req.output_dir)
    with OutputSet() as out:
        if "labels" in dest:
            write_table(dest["labels"], labels, out=out)
        if resp is not None:
            write_table(dest["responsibilities"], resp, out=out,
                        column_names=[f"p{j}" for j in range(result.params.n_components)])
        if "trace" in dest:
            write_table(dest["trace"], trace_columns(result), out=out)
        if "model" in dest:
            write_json(dest["model"], doc, out=out)
        if req.as_json:
            write_json("-", {**doc, "trace": _records(trace_columns(result))}, out=out)

    stream = term.message_stream(carries_data)
    if stream is not None:
        console = make_console(stream)
        render_fit_summary(console, doc, shape=(int(points.x.shape[0]), d))
        if req.show_trace:
            render_trace(console, result.trace)


def _records(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(columns)
    return [dict(zip(names, row)) for row in zip(*columns.values())]
