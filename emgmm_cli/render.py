"""Tables and progress for people at a terminal: the only module that imports rich.

Everything here renders plain data (the model document, trace rows), so the same summary
can be printed, tested with a fixed-width console, or written as JSON.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, TextIO

if TYPE_CHECKING:
    from rich.console import Console


def make_console(stream: TextIO, *, width: int | None = None, force_terminal: bool | None = None,
                 color: bool = True) -> "Console":
    """A console on ``stream``; colour follows the terminal, NO_COLOR and TERM=dumb."""
    from rich.console import Console

    return Console(file=stream, width=width, force_terminal=force_terminal,
                   color_system="auto" if color else None, highlight=False,
                   soft_wrap=False)


def _num(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if not math.isfinite(v):
        return "-"
    return f"{v:.{digits}g}" if abs(v) < 1e5 else f"{v:.{digits + 3}g}"


def _vector(values: Sequence[float], digits: int = 4, limit: int = 6) -> str:
    shown = ", ".join(_num(float(v), digits) for v in values[:limit])
    more = f", … (+{len(values) - limit})" if len(values) > limit else ""
    return f"({shown}{more})"


def covariance_summary(cov: Any, covariance_type: str, k: int) -> str:
    """Standard deviations per dimension and, for general matrices, the strongest
    correlation: a one-line picture of a component's covariance."""
    if covariance_type == "spherical":
        return f"sd {_num(math.sqrt(cov[k]))} (all dims)"
    if covariance_type == "diag":
        return "sd " + _vector([math.sqrt(v) for v in cov[k]])
    mat = cov[k] if covariance_type == "full" else cov
    d = len(mat)
    sds = [math.sqrt(mat[i][i]) for i in range(d)]
    text = "sd " + _vector(sds)
    if d > 1:
        best, where = 0.0, (0, 1)
        for i in range(d):
            for j in range(i + 1, d):
                r = mat[i][j] / (sds[i] * sds[j]) if sds[i] * sds[j] > 0 else 0.0
                if abs(r) >= abs(best):
                    best, where = r, (i, j)
        text += f", corr[{where[0]},{where[1]}] {best:+.2f}"
    return text


def render_fit_summary(console: "Console", doc: dict[str, Any], *,
                       shape: tuple[int, int]) -> None:
    """The summary of a fit: data, convergence, criteria, and a row per component."""
    from rich.table import Table

    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("data", f"{doc['source']}: {shape[0]} rows x {shape[1]} columns "
                         f"({', '.join(doc['feature_names'][:8])}"
                         f"{', …' if len(doc['feature_names']) > 8 else ''})")
    opts = doc["options"]
    head.add_row("model", f"K={doc['n_components']}, {doc['covariance_type']} covariance, "
                          f"{opts['algorithm']} EM, init {opts['init']}, "
                          f"n_init {opts['n_init']}, seed {opts['seed']}")
    conv = "[green]yes[/green]" if doc["converged"] else "[red]no[/red]"
    head.add_row("iterations", f"{doc['n_iter']} (converged: {conv}, tol {opts['tol']:g})")
    head.add_row("log-likelihood", f"{_num(doc['log_likelihood'], 8)} "
                                   f"(per sample {_num(doc['mean_log_likelihood'], 6)})")
    head.add_row("BIC / AIC / ICL", f"{_num(doc['bic'], 8)} / {_num(doc['aic'], 8)} / "
                                    f"{_num(doc['icl'], 8)}  (lower is better; "
                                    f"{doc['n_parameters']} parameters)")
    if doc["degenerate"]:
        head.add_row("degenerate", "[yellow]components "
                     + ", ".join(str(c) for c in doc["degenerate"]) + "[/yellow]")
    console.print(head)

    table = Table(title=None, show_edge=False, header_style="bold")
    table.add_column("component", justify="right")
    table.add_column("weight", justify="right")
    table.add_column("mean")
    table.add_column("covariance")
    for k in range(doc["n_components"]):
        flag = " [yellow](degenerate)[/yellow]" if k in doc["degenerate"] else ""
        table.add_row(f"{k}{flag}", f"{doc['weights'][k]:.4f}", _vector(doc["means"][k]),
                      covariance_summary(doc["covariances"], doc["covariance_type"], k))
    console.print(table)


def render_trace(console: "Console", rows: Sequence[Any]) -> None:
    """The per-iteration trace (iteration, mean log-likelihood, change, seconds)."""
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    for name in ("iteration", "log-likelihood", "change", "seconds"):
        table.add_column(name, justify="right")
    for r in rows:
        change = "" if math.isnan(r.change) else f"{r.change:+.3e}"
        table.add_row(str(r.iteration), f"{r.log_likelihood:.10g}", change,
                      f"{r.seconds:.4f}")
    console.print(table)


@contextmanager
def fit_progress(stream: TextIO | None, n_init: int
                 ) -> Iterator[Callable[[int, int, float, float], None] | None]:
    """A live status line on a terminal's stderr while EM runs; None when not shown."""
    if stream is None:
        yield None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = make_console(stream)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("fitting", total=None)

        def update(restart: int, it: int, obj: float, change: float) -> None:
            ch = "" if math.isnan(change) else f", change {change:+.2e}"
            progress.update(task, description=f"restart {restart + 1}/{n_init}, "
                                              f"iteration {it}: log-lik {obj:.6g}{ch}")

        yield update
