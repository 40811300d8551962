"""What predict, score, sample and info do with a saved model: read, apply, write.

A model is read and validated by emgmm_cli.io.model.load_model; data are read as `fit`
reads them, cut into the same row blocks, and passed once through the engine's
predict_chunk (_fitting.final_pass), so the labels and log-densities on the training
data are those the fit produced, bit for bit.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .context import Terminal

if TYPE_CHECKING:
    import numpy as np

    from ..io.model import LoadedModel
    from ..io.readers import Points
    from ._fitting import FinalPass


@dataclass(frozen=True)
class DataSpec:
    """How to read the data a model is applied to (the common input options)."""

    input: str
    columns: list[str] | None
    delimiter: str | None
    header: bool | None


def read_model(path: str) -> "LoadedModel":
    from ..io.model import load_model

    return load_model(path)


def read_data(term: Terminal, model: "LoadedModel", spec: DataSpec) -> "Points":
    """The data for a model: --columns if given; else the model's feature names when the
    input's header holds them all; else every column.  D must be the model's."""
    from ..io.errors import DataError
    from ..io.model import check_features
    from ..io.readers import read_points

    names = model.feature_names
    if spec.columns is not None or not _usable_names(names):
        points = read_points(spec.input, columns=spec.columns, delimiter=spec.delimiter,
                             header=spec.header)
    else:
        stdin = _buffered_stdin() if spec.input == "-" else None
        try:
            points = read_points(spec.input, columns=names, delimiter=spec.delimiter,
                                 header=spec.header, stdin=stdin)
        except DataError as exc:
            if exc.column not in names or not exc.message.startswith("no such column"):
                raise
            if stdin is not None:
                stdin.seek(0)
            points = read_points(spec.input, delimiter=spec.delimiter, header=spec.header,
                                 stdin=stdin)
            check_features(model, points)
            if _usable_names(points.column_names):  # a header, without the model's names
                term.warn(f"{points.source}: the columns ({', '.join(points.column_names)}) are "
                          f"not the model's ({', '.join(names)}); using all columns")
    check_features(model, points)
    return points


def _usable_names(names: list[str]) -> bool:
    """Names that select columns by header only (a digit string would select by index)."""
    return bool(names) and not any(n.isascii() and n.isdigit() for n in names)


def _buffered_stdin() -> io.BytesIO | None:
    """stdin's bytes, so that they can be read twice; None where read_points must say why
    it cannot read stdin (a terminal, or no stdin)."""
    stream = getattr(sys.stdin, "buffer", None) if sys.stdin is not None else None
    if stream is None or stream.isatty():
        return None
    return io.BytesIO(stream.read())


def apply_model(model: "LoadedModel", points: "Points", *, want_resp: bool = False,
                want_log_density: bool = False) -> "FinalPass":
    """One pass of the model's parameters over the points, in the blocks fit uses."""
    from ..backends import open_dataset
    from ._fitting import final_pass

    data = open_dataset(points.x, n_components=model.n_components,
                        covariance_type=model.params.covariance_type)
    return final_pass(data, model.params, want_resp=want_resp, want_log_density=want_log_density)


def run_predict(term: Terminal, model_path: str, spec: DataSpec, *, output: str,
                proba: bool) -> None:
    from ..io.writers import write_table
    from ._fitting import check_destinations

    check_destinations({"output": output}, [model_path, spec.input], False)
    model = read_model(model_path)
    points = read_data(term, model, spec)
    result = apply_model(model, points, want_resp=proba)
    if result.resp is not None:
        write_table(output, result.resp,
                    column_names=[f"p{j}" for j in range(model.n_components)])
    elif result.labels is not None:
        write_table(output, result.labels)


def score_summary(model: "LoadedModel", points: "Points", result: "FinalPass",
                  threshold: float | None) -> tuple[dict[str, Any], "np.ndarray | None"]:
    """The summary of a scoring (what --json prints) and the 0/1 outlier flags."""
    import numpy as np

    n = points.n_samples
    summary: dict[str, Any] = {
        "model": model.path, "source": points.source, "n_samples": n,
        "log_likelihood": result.loglik, "mean_log_likelihood": result.loglik / n,
    }
    if threshold is None:
        return summary, None
    assert result.log_density is not None
    cutoff = float(np.quantile(result.log_density, threshold))
    flags = (result.log_density < cutoff).astype(np.int64)
    summary.update(threshold=threshold, cutoff_log_density=cutoff, n_outliers=int(flags.sum()))
    return summary, flags


def run_score(term: Terminal, model_path: str, spec: DataSpec, *, output: str | None,
              threshold: float | None, as_json: bool) -> None:
    from ..io.writers import OutputSet, write_json, write_table
    from ..render import make_console, render_score_summary
    from ._fitting import check_destinations

    dest = output if output else ("-" if not as_json and not term.stdout_isatty else None)
    check_destinations({"output": dest} if dest else {}, [model_path, spec.input], as_json)
    model = read_model(model_path)
    points = read_data(term, model, spec)
    result = apply_model(model, points, want_log_density=True)
    summary, flags = score_summary(model, points, result, threshold)
    with OutputSet() as out:
        if dest:
            columns = {"log_density": result.log_density}
            write_table(dest, columns if flags is None else {**columns, "outlier": flags}, out=out)
        if as_json:
            write_json("-", summary, out=out)
    stream = None if as_json else term.message_stream(dest == "-")
    if stream is not None:
        render_score_summary(make_console(stream), summary)


def sample_points(model: "LoadedModel", n: int, rng: "np.random.Generator"
                  ) -> tuple["np.ndarray", "np.ndarray"]:
    """n points drawn from the mixture, grouped by component, and their components.

    The counts per component are multinomial with the model's weights; the points of
    component k are mean_k + L_k z with L_k L_k^T its (full) covariance.
    """
    from ..engine.blobs import make_blobs

    params = model.params
    counts = rng.multinomial(n, params.weights / params.weights.sum())
    full = params.full_covariances()
    full = 0.5 * (full + full.transpose(0, 2, 1))  # exactly symmetric for the factorisation
    return make_blobs([int(c) for c in counts], params.means, covariances=full, rng=rng)


def run_sample(term: Terminal, model_path: str, *, n_samples: int, seed: int | None,
               output: str, labels: bool) -> None:
    import numpy as np

    from ..io.writers import write_table
    from ._fitting import check_destinations

    check_destinations({"output": output}, [model_path], False)
    model = read_model(model_path)
    x, comp = sample_points(model, n_samples, np.random.default_rng(seed))  # None: fresh
    names = model.feature_names
    columns: dict[str, Any] = {name: x[:, j] for j, name in enumerate(names)}
    if labels:
        columns["label" if "label" not in names else "component"] = comp
    write_table(output, columns)


def run_info(term: Terminal, model_path: str, *, as_json: bool) -> None:
    from ..io.writers import write_json

    model = read_model(model_path)
    if as_json:
        write_json("-", model.document)
    elif term.stdout_isatty:
        from ..render import make_console, render_model_info

        render_model_info(make_console(term.stdout), model.document, path=model.path)
    else:
        term.stdout.write(model_info_text(model.document, model.path))
        term.stdout.flush()


def model_info_text(doc: dict[str, Any], path: str) -> str:
    """The model described in plain 'name: value' lines, for pipes and files."""
    from ..render import covariance_summary

    opts = doc["options"]
    k, d = doc["n_components"], doc["n_features"]
    converged = "yes" if doc["converged"] else "no"
    lines = [
        f"model: {path}",
        (f"format: {doc['format']} version {doc['version']} (written by emgmm "
         f"{doc['emgmm_version']})"),
        f"components (K): {k}",
        f"features (D): {d} ({', '.join(doc['feature_names'])})",
        f"covariance type: {doc['covariance_type']}",
        f"fitted on: {doc['source']} ({doc['n_samples']} rows)",
        "options: " + " ".join(f"{name}={_plain(opts.get(name))}" for name in
                               ("init", "means_init", "n_init", "tol", "max_iter", "reg_covar",
                                "algorithm", "seed")),
        f"iterations: {doc['n_iter']} (converged: {converged})",
        (f"log-likelihood: {_plain(doc['log_likelihood'])} "
         f"(per sample: {_plain(doc['mean_log_likelihood'])})"),
        f"BIC: {_plain(doc['bic'])}",
        f"AIC: {_plain(doc['aic'])}",
        f"ICL: {_plain(doc['icl'])}",
        f"parameters: {doc['n_parameters']}",
        "degenerate components: " + (", ".join(str(c) for c in doc["degenerate"]) or "none"),
    ]
    for j in range(k):
        mean = ", ".join(f"{v:.6g}" for v in doc["means"][j])
        lines.append(f"component {j}: weight {doc['weights'][j]:.6g}, mean ({mean}), "
                     + covariance_summary(doc["covariances"], doc["covariance_type"], j))
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)
