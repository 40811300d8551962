"""Pictures of a mixture (the `plot` use case; fit --plot and --trace-plot, select --plot).

- mixture: the points coloured by component, each component's mean and its 1- and
  2-sigma ellipses; data of more than two dimensions are shown on their first two
  principal axes (the ellipses projected the same way) or on two chosen columns; data of
  one dimension as a histogram under the mixture's density and each weighted component.
  With uncertainty, points are shaded by 1 - their largest responsibility (mclust's
  uncertainty plot).
- criterion: a selection's BIC (or AIC, ICL) against K, one line per covariance family,
  the chosen cell marked (mclust's BIC plot).
- trace: the mean log-likelihood per iteration, one line per restart.

Images are drawn by matplotlib (the optional extra emgmm[plot]), imported only here and
only when a picture is asked for; the same mixture is drawn as text for a terminal by
plotext (terminal_mixture).  What a picture shows is computed first, as plain arrays
(MixtureView), so that both drawings show the same thing.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..engine.dataset import Dataset, row_known
from ..engine.missing import observed_rows, predict_rows
from ..engine.params import MixtureParams
from ..engine.stats import keep_known
from ..io.errors import DataError
from ..io.readers import Points
from ..io.writers import OutputSet
from ..vocab import counted
from .data import dataset, known_components
from .errors import MissingExtra, UsageProblem

if TYPE_CHECKING:
    from ..engine.fitting import FitResult
    from ..engine.selection import Selection
    from .prepare import Standardize

Array = NDArray[np.floating]

#: The image formats, by extension.
IMAGE_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
#: An image's size in pixels when none is asked for; vector formats get the same size in
#: inches at DPI pixels an inch.
DEFAULT_SIZE = (800, 600)
DPI = 100
#: The largest image, pixels a side (vector formats: the same at DPI an inch).  A PNG of
#: 10000x10000 takes about 10 s and 0.5 GB to draw; at 70000x50000 matplotlib held 14 GB
#: for over three minutes.
IMAGE_MAX_SIDE = 10_000
#: A scatter shows at most this many points (evenly spaced rows of larger data).
MAX_POINTS = 50_000
#: The largest magnitude a picture draws: its axes' ticks and margins multiply the range
#: by small factors, and coordinates of 1e308 overflowed them (matplotlib's warnings, then
#: an error; a text picture's axes came out NaN).
MAX_DRAWN = 1e300
#: A scatter's legend lists its components inside the axes up to this many, and beside
#: them beyond (in columns of LEGEND_ROWS entries, each component with its weight where
#: one column holds them, by its number alone beyond): a legend of 25 inside hid points.
LEGEND_INSIDE = 8
LEGEND_ROWS = 30
#: The extra that holds the plotting libraries.
EXTRA = "pip install 'emgmm[plot]'"


def image_format(path: str, option: str = "-o") -> str:
    """The format an image path's extension names; a DataError for any other (exit 1, as
    an extension no format has is for every output: docs/errors.md), a UsageProblem for
    standard output."""
    ext = os.path.splitext(path)[1].lower()
    kinds = ", ".join(IMAGE_FORMATS)
    if path == "-":
        text = " (or leave it out for a picture in the terminal)" if option == "-o" else ""
        raise UsageProblem(f"a picture is not written to standard output; give {option} a "
                           f"file named {kinds}{text}", option=option)
    if ext not in IMAGE_FORMATS:
        raise DataError(path, f"a picture is written as {kinds}; give the file one of "
                              "those extensions")
    return IMAGE_FORMATS[ext]


def _pyplot_free_figure(size: tuple[int, int]) -> Any:
    """A matplotlib Figure of size pixels (no pyplot, no window); MissingExtra without
    matplotlib."""
    _check_size(size, (IMAGE_MAX_SIDE, IMAGE_MAX_SIDE), "an image of {}x{} pixels")
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingExtra(f"pictures need matplotlib: {EXTRA}") from None
    return Figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI, layout="constrained")


#: The width of a character of a title, in units of its font size (a wide estimate:
#: DejaVu Sans's letters average about 0.55), and the share of the figure's width a line
#: of the title may take: it is centred over the axes, which the axis labels push off
#: the figure's centre.
_CHAR_WIDTH = 0.62
_TITLE_SHARE = 0.8


def _title(fig: Any, ax: Any, text: str) -> None:
    """The axes' title, on as many lines as the figure's width needs (a long file name,
    a note of rows left out), a word too long for one line (a file name without spaces)
    cut in its middle with '…': the image's edges cut a title off at both ends."""
    from matplotlib import rcParams
    from matplotlib.font_manager import FontProperties

    points = FontProperties(size=rcParams["axes.titlesize"]).get_size_in_points()
    room = max(8, int(_TITLE_SHARE * fig.get_figwidth() * 72 / (points * _CHAR_WIDTH)))
    words = [w if len(w) <= room else w[:room // 2 - 1] + "…" + w[len(w) - room // 2 + 1:]
             for w in text.split(" ")]
    ax.set_title(" ".join(words), wrap=True)


def _check_size(size: tuple[int, int], most: tuple[int, int], what: str) -> None:
    """A UsageProblem for a picture wider or taller than most allows."""
    if size[0] > most[0] or size[1] > most[1]:
        raise UsageProblem(f"{what.format(*size)} is larger than the largest drawn, "
                           f"{most[0]}x{most[1]}: give a smaller --size", option="--size")


def save_figure(fig: Any, path: str, *, out: OutputSet | None = None) -> None:
    """Write the figure to path in its extension's format, atomically (or into out).  A
    figure too small for its axes beside their labels and legend (matplotlib's
    constrained layout collapses, which it says in a warning) is a UsageProblem, and
    nothing is written."""
    fmt = image_format(path)
    own = out is None
    out = OutputSet() if out is None else out
    try:
        with out.stage(path, binary=True) as fh, warnings.catch_warnings():
            warnings.filterwarnings("error", message="constrained_layout not applied",
                                    category=UserWarning)
            try:
                fig.savefig(fh, format=fmt, dpi=DPI)
            except UserWarning:
                width, height = (round(v) for v in fig.get_size_inches() * DPI)
                raise UsageProblem(f"{path}: a picture of {width}x{height} leaves no room "
                                   "for its axes beside their labels and legend; give a "
                                   "larger --size", option="--size") from None
        if own:
            out.commit()
    finally:
        if own:
            out.abort()


# --------------------------------------------------------------------------- what is shown


@dataclass(frozen=True)
class MixtureView:
    """A mixture and its data as a picture shows them.

    x: (n, 2) coordinates of the points shown (n, 1 for a histogram); labels and
    uncertainty (1 - largest responsibility) of each; means (K, d) and covariances
    (K, d, d) in the same coordinates; weights (K,); axes: the name of each coordinate.
    """

    x: Array
    labels: NDArray[np.intp]
    uncertainty: Array
    weights: Array
    means: Array
    covariances: Array
    axes: tuple[str, ...]
    title: str

    @property
    def n_components(self) -> int:
        return len(self.weights)


def mixture_view(params: MixtureParams, data: Dataset, feature_names: list[str], *,
                 source: str, dims: tuple[str, str] | None = None,
                 transform: Standardize | None = None, left_out: int = 0) -> MixtureView:
    """What a picture of params over data shows: every row (evenly spaced rows of data
    over MAX_POINTS), on the chosen dims, the first two principal axes (D > 2) or as they
    are (D <= 2).  transform: where params are of standardized columns (data then holds
    those columns too), the map back: the picture is drawn in the data's own units.  Rows
    with missing values (--missing em) are labelled by their observed coordinates, as
    predict labels them, and left out of the picture where a coordinate drawn needs one;
    left_out: the rows --missing drop left out of data (the title counts them)."""
    n = data.n_samples
    rows = np.arange(n) if n <= MAX_POINTS else np.linspace(0, n - 1, MAX_POINTS).astype(np.intp)
    raw = observed_rows(data)  # the rows as read, NaN where a value is missing
    x = np.asarray((data if raw is None else raw).take(rows), dtype=np.float64)
    pred = predict_rows(x, params)
    known = row_known(data)
    if known is not None:  # known rows in their own component, as the fit and predict say
        keep_known(pred, known[rows])
    means, full = params.means, params.full_covariances()
    if transform is not None:  # x = center + scale z: the points, means and covariances
        x, means = transform.to_data(x), transform.to_data(means)
        full = full * np.outer(transform.scale, transform.scale)
    holes = np.isnan(x)
    complete = x[~holes.any(axis=1)]
    basis, axes = _basis(complete, feature_names, dims)
    principal = dims is None and x.shape[1] > 2
    centre = complete.mean(axis=0) if principal else np.zeros(x.shape[1])
    # a row is drawn where every coordinate its projection reads holds a value
    drawn = ~(holes.astype(np.float64) @ (basis != 0)).any(axis=1)
    x = np.where(holes, 0.0, x)
    shown = "" if n == len(rows) else f", {len(rows)} of {n} rows shown"
    if not drawn.all():
        shown += f", {counted(int((~drawn).sum()), 'row')} with a missing value not shown"
    if left_out:
        shown += f", {counted(left_out, 'row')} with a missing value left out"
    title = (f"{os.path.basename(source)}: K={params.n_components}, "
             f"{params.covariance_type} covariance{shown}")
    view = MixtureView(
        x=(x[drawn] - centre) @ basis, labels=pred.labels[drawn],
        uncertainty=1.0 - pred.resp[drawn].max(axis=1), weights=params.weights,
        means=(means - centre) @ basis,
        covariances=np.einsum("di,kde,ej->kij", basis, full, basis), axes=axes, title=title)
    _check_drawable(view, source)
    return view


def _check_drawable(view: MixtureView, source: str) -> None:
    """A DataError where the picture would hold no row, or coordinates (the rows', the
    means' and the ellipses' reach: three standard deviations) beyond MAX_DRAWN."""
    if not len(view.x):
        raise DataError(source, "no row holds every coordinate the picture draws (each "
                                "misses a value); nothing to draw")
    with np.errstate(over="ignore", invalid="ignore"):
        reach = 3.0 * np.sqrt(np.abs(np.diagonal(view.covariances, axis1=1, axis2=2)))
        largest = max(np.abs(view.x).max(), (np.abs(view.means) + reach).max())
    if not largest <= MAX_DRAWN:
        raise DataError(source, f"coordinates of {largest:.3g} (the rows', or the means' "
                                f"and their spread's) are beyond what a picture can draw "
                                f"(magnitudes up to {MAX_DRAWN:g}); scale the data")


def points_view(params: MixtureParams, points: Points, *, model: str,
                dims: tuple[str, str] | None = None,
                transform: Standardize | None = None) -> MixtureView:
    """What a picture of a mixture over points read from a file shows (`emgmm plot`);
    model: the model file params came from (for a message); transform: the model's, where
    its parameters are of standardized columns (the points are standardized to meet them,
    and the picture drawn in the data's units)."""
    known_components(points, params.n_components, model)
    names, source = list(points.column_names), points.source
    if transform is not None:
        points = transform.apply(points)
    data = dataset(points, params.n_components, params.covariance_type)
    left_out = 0 if points.dropped is None else int(points.dropped.sum())
    return mixture_view(params, data, names, source=source, dims=dims, transform=transform,
                        left_out=left_out)


def _basis(x: Array, names: list[str], dims: tuple[str, str] | None
           ) -> tuple[Array, tuple[str, ...]]:
    """(D, d) columns to project on, and their names: the chosen dims, the identity for
    D <= 2, or the first two principal axes of the rows x (those without a missing
    value) with the share of the variance of each."""
    d = x.shape[1]
    if dims is not None:
        missing = [c for c in dims if c not in names]
        if missing:
            raise UsageProblem(f"--dims: no column {missing[0]!r}; the columns are "
                               f"{', '.join(names)}", option="--dims")
        if dims[0] == dims[1]:
            raise UsageProblem(f"--dims: {dims[0]!r} twice; a picture needs two different "
                               "columns", option="--dims")
        picked = [names.index(c) for c in dims]
        return np.eye(d)[:, picked], tuple(dims)
    if d <= 2:
        return np.eye(d), tuple(names)
    if not len(x):
        raise UsageProblem("every row misses a value, so the data have no principal axes "
                           "to draw on; choose two columns with --dims", option="--dims")
    # ddof=0: the same axes and shares, and defined for a single row (no spread: 0%); of
    # the rows over their largest magnitude, the same axes and shares (a row at 1e200
    # overflowed the products: NaN shares, or no eigenvalues at all)
    largest = np.abs(x).max()
    scaled = x / largest if 0 < largest < np.inf else x
    values, vectors = np.linalg.eigh(np.cov(scaled, rowvar=False, ddof=0))
    top = np.argsort(values)[::-1][:2]
    basis = vectors[:, top] * np.sign(vectors[np.abs(vectors[:, top]).argmax(axis=0), top])
    share = values[top] / max(values.sum(), np.finfo(float).tiny)
    return basis, tuple(f"principal axis {i + 1} ({s:.0%} of the variance)"
                        for i, s in enumerate(share))


def ellipse(mean: Array, cov: Array, radius: float, n: int = 100) -> Array:
    """(n, 2) points of the ellipse at Mahalanobis distance radius around mean."""
    values, vectors = np.linalg.eigh(0.5 * (cov + cov.T))
    t = np.linspace(0, 2 * math.pi, n)
    circle = np.stack([np.cos(t), np.sin(t)], axis=1) * radius
    return mean + (circle * np.sqrt(np.maximum(values, 0))) @ vectors.T


def densities(view: MixtureView, grid: Array) -> Array:
    """(K, len(grid)): each weighted component's density on a 1-D grid."""
    sd = np.sqrt(view.covariances[:, 0, 0])[:, None]
    with np.errstate(over="ignore"):  # a grid reaching 1e200: its far end's density is 0
        z = (grid[None, :] - view.means[:, :1]) / sd
        return view.weights[:, None] * np.exp(-0.5 * z * z) / (sd * math.sqrt(2 * math.pi))


def _colors(k: int) -> list[Any]:
    """A colour for each of k components, no two the same: matplotlib's ten or twenty
    categorical colours, else k spread along a continuous map by the golden ratio's
    fractions (components next in number far apart in colour)."""
    from matplotlib import colormaps

    if k > 20:
        return [colormaps["turbo"]((j * (math.sqrt(5) - 1) / 2) % 1.0) for j in range(k)]
    cmap = colormaps["tab10" if k <= 10 else "tab20"]
    return [cmap(j) for j in range(k)]


# --------------------------------------------------------------------------- images


def mixture_figure(view: MixtureView, *, uncertainty: bool = False,
                   size: tuple[int, int] = DEFAULT_SIZE) -> Any:
    """The picture of a mixture (a histogram for one dimension, else a scatter)."""
    _check_uncertainty(view, uncertainty)
    fig = _pyplot_free_figure(size)
    ax = fig.add_subplot()
    if view.x.shape[1] == 1:
        _histogram(ax, view)
    else:
        _scatter(fig, ax, view, uncertainty)
    _title(fig, ax, view.title)
    return fig


def _check_uncertainty(view: MixtureView, uncertainty: bool) -> None:
    """A UsageProblem for uncertainty asked of one-column data: its histogram draws no
    points to shade."""
    if uncertainty and view.x.shape[1] == 1:
        raise UsageProblem(f"--uncertainty shades the points of a scatter, and one-column "
                           f"data ({view.axes[0]}) are drawn as a histogram; leave "
                           "--uncertainty out", option="--uncertainty")


def _histogram(ax: Any, view: MixtureView) -> None:
    colors = _colors(view.n_components)
    x = view.x[:, 0]
    ax.hist(x, bins="auto", density=True, color="0.82", edgecolor="white", label="data")
    pad = 0.05 * (x.max() - x.min() or 1.0)
    grid = np.linspace(x.min() - pad, x.max() + pad, 400)
    parts = densities(view, grid)
    for k, part in enumerate(parts):
        ax.plot(grid, part, color=colors[k], linestyle="--",
                label=f"component {k} (weight {view.weights[k]:.2f})")
    ax.plot(grid, parts.sum(axis=0), color="black", linewidth=2, label="mixture")
    ax.plot(x, np.zeros_like(x), "|", color="black", alpha=0.3, markersize=8)
    ax.set_xlabel(view.axes[0])
    ax.set_ylabel("density")
    ax.legend(loc="best", fontsize="small")


def _scatter(fig: Any, ax: Any, view: MixtureView, uncertainty: bool) -> None:
    from matplotlib.lines import Line2D

    colors = _colors(view.n_components)
    if uncertainty:
        u = view.uncertainty
        top = max(float(u.max()), 1e-12)
        shade = ax.scatter(view.x[:, 0], view.x[:, 1], c=u, cmap="Greys", vmin=-0.15 * top,
                           vmax=top, s=6 + 40 * u / max(u.max(), 1e-12),
                           edgecolors="none")
        fig.colorbar(shade, ax=ax, label="uncertainty: 1 - largest responsibility")
    else:
        ax.scatter(view.x[:, 0], view.x[:, 1], c=[colors[c] for c in view.labels], s=8,
                   alpha=0.7, edgecolors="none")
    for k in range(view.n_components):
        for radius, style in ((1.0, "-"), (2.0, "--")):
            ring = ellipse(view.means[k], view.covariances[k], radius)
            ax.plot(ring[:, 0], ring[:, 1], color=colors[k], linestyle=style, linewidth=1.2)
        ax.plot(*view.means[k], marker="X", color=colors[k], markeredgecolor="black",
                markersize=10)
    # in one column of the legend, each with its weight; more, their numbers alone
    weighed = view.n_components + 2 <= LEGEND_ROWS
    handles = [Line2D([], [], marker="o", linestyle="", color=colors[k],
                      label=f"{k} (weight {view.weights[k]:.2f})" if weighed else str(k))
               for k in range(view.n_components)]
    handles += [Line2D([], [], color="0.3", linestyle="-", label="1 sigma"),
                Line2D([], [], color="0.3", linestyle="--", label="2 sigma")]
    if view.n_components <= LEGEND_INSIDE:
        ax.legend(handles=handles, loc="best", fontsize="small", title="component")
    else:  # beside the axes, in columns of at most LEGEND_ROWS: inside, it hid points
        fig.legend(handles=handles, loc="outside right upper", fontsize="small",
                   title="component", ncol=math.ceil(len(handles) / LEGEND_ROWS))
    ax.set_xlabel(view.axes[0])
    ax.set_ylabel(view.axes[1])


def criterion_figure(selection: "Selection", *, source: str,
                     size: tuple[int, int] = DEFAULT_SIZE) -> Any:
    """A selection's criterion against K, one line per covariance family (cells that
    failed or ended degenerate are left out), the chosen cell circled."""
    fig = _pyplot_free_figure(size)
    ax = fig.add_subplot()
    criterion = selection.criterion
    markers = "osD^vP*Xh<>"
    families = list(dict.fromkeys(c.cell.covariance_type for c in selection.cells))
    for i, family in enumerate(families):
        cells = [c for c in selection.cells if c.cell.covariance_type == family]
        ks = [c.cell.n_components for c in cells]
        values = [c.criterion(criterion) if c.eligible else math.nan for c in cells]
        mclust = cells[0].cell.mclust
        ax.plot(ks, values, marker=markers[i % len(markers)],
                label=family if mclust in ("", family) else f"{family} ({mclust})")
    best = selection.best_cell
    if best is not None:
        value = best.criterion(criterion)
        ax.plot([best.cell.n_components], [value], marker="o", markersize=18,
                markerfacecolor="none", markeredgecolor="red", markeredgewidth=2,
                linestyle="", label=f"chosen: {best.cell.covariance_type}, "
                                    f"K={best.cell.n_components}")
    ax.set_xlabel("number of components K")
    ax.set_ylabel(f"{criterion.upper()} (lower is better)")
    _title(fig, ax, f"{os.path.basename(source)}: {criterion.upper()} of every cell")
    _whole_ticks(ax, [c.cell.n_components for c in selection.cells])
    ax.legend(loc="best", fontsize="small", ncol=2 if len(families) > 6 else 1)
    return fig


def trace_figure(result: "FitResult", *, source: str,
                 size: tuple[int, int] = DEFAULT_SIZE) -> Any:
    """The mean log-likelihood per iteration, one line per restart (the kept one bold)."""
    fig = _pyplot_free_figure(size)
    ax = fig.add_subplot()
    traces = result.restart_traces or [result.trace]
    for r, trace in enumerate(traces):
        best = r == result.best_restart or len(traces) == 1
        ax.plot([t.iteration for t in trace], [t.log_likelihood for t in trace],
                marker="." if len(trace) < 60 else None, linewidth=2.5 if best else 1,
                label=f"restart {r + 1}" + (" (kept)" if best else ""))
    ax.set_xlabel("iteration")
    ax.set_ylabel("mean log-likelihood per point")
    _title(fig, ax, f"{os.path.basename(source)}: EM, K={result.params.n_components}, "
                    f"{result.params.covariance_type} covariance")
    _whole_ticks(ax, [t.iteration for trace in traces for t in trace])
    ax.legend(loc="lower right", fontsize="small")
    return fig


#: Up to this many distinct values on a whole-number axis each get a tick of their own.
OWN_TICKS = 12


def _whole_ticks(ax: Any, values: list[int]) -> None:
    """Whole-number ticks on the x axis of values: a tick at each value where there are
    few (one K alone, or one iteration, had ticks at 0.96, 0.98, ...: the locator keeps
    to whole numbers only where it finds two in the view), else wherever the locator
    puts whole numbers."""
    distinct = sorted(set(values))
    if len(distinct) <= OWN_TICKS:
        ax.set_xticks(distinct)
    else:
        ax.xaxis.get_major_locator().set_params(integer=True)


# --------------------------------------------------------------------------- text


#: Colours of the components in a terminal, then again.
TERMINAL_COLORS = ("blue", "orange", "green", "red", "magenta", "cyan", "yellow", "gray")
#: The smallest text picture (columns, rows) that shows its axes and points: at 10x5 the
#: frame held nothing, at 1x1 the picture was one space; from 20x8 on the points show.
TERMINAL_MIN_SIZE = (20, 8)
#: The largest text picture (columns, rows): plotext holds about 650 bytes a character,
#: so 1000x500 takes about 0.3 GB (and 100000x30000 aborted the process).
TERMINAL_MAX_SIZE = (1000, 500)
#: Characters of the components without colour.
SYMBOLS = "0123456789abcdefghijklmnopqrstuvwxyz"
#: In the terminal, --uncertainty marks the points whose uncertainty is above this.
UNCERTAIN = 0.2


def terminal_mixture(view: MixtureView, *, size: tuple[int, int], color: bool,
                     uncertainty: bool = False) -> str:
    """The picture of a mixture as text, size = (columns, rows): the points in braille
    dots of their component's colour (without colour, the component's digit), each mean
    and its 1-sigma ellipse, and with uncertainty a '?' on each point whose uncertainty is
    over UNCERTAIN; a histogram and the mixture density for one dimension."""
    _check_uncertainty(view, uncertainty)
    _check_size(size, TERMINAL_MAX_SIZE, "a text picture of {}x{} (columns x rows)")
    if size[0] < TERMINAL_MIN_SIZE[0] or size[1] < TERMINAL_MIN_SIZE[1]:
        least = "x".join(map(str, TERMINAL_MIN_SIZE))
        raise UsageProblem(f"a text picture of {size[0]}x{size[1]} (columns x rows) leaves no "
                           f"room for its axes and points; it needs at least {least}: give a "
                           "larger --size (or widen the terminal)", option="--size")
    try:
        import plotext as plt
    except ImportError:
        raise MissingExtra(f"drawing in the terminal needs plotext: {EXTRA}") from None
    fig = plt.figure
    fig.clear()
    plt.terminal.limit(False, False)
    fig.plot_size(*size)
    fig.theme("simple" if color else "colorless")
    if view.x.shape[1] == 1:
        _terminal_histogram(plt, fig, view, color)
        fig.label(_within(size[0], f"{view.axes[0]} across, share of the points per bin up",
                          view.axes[0]), "x")
    else:
        _terminal_scatter(plt, fig, view, color)
        fig.label(_within(size[0], *(" across, ".join(axes) + " up" for axes in
                                     (view.axes, [_compact(a) for a in view.axes]))), "x")
        unsure = view.x[view.uncertainty > UNCERTAIN]
        if uncertainty and len(unsure):
            fig.draw(fig.signal(unsure[:, 0].tolist(), unsure[:, 1].tolist(), marker="?")
                     .label(f"uncertainty > {UNCERTAIN:g}"))
    fig.title(_within(size[0], view.title))
    text: str = fig.build().string(colorless=not color)
    fig.clear()
    return text


def _within(width: int, *texts: str) -> str:
    """The first of texts that a text picture width columns wide shows (plotext leaves
    out a title or label that does not fit), else the last cut short with '…'."""
    for text in texts:
        if len(text) < width:
            return text
    return texts[-1][:width - 2] + "…"


def _compact(axis: str) -> str:
    """A principal axis's name without 'of the variance' after its share."""
    return axis.replace(" of the variance)", ")")


def _mark(plt: Any, k: int, color: bool, dots: str = "braille") -> Any:
    if color:
        return plt.marker(dots, TERMINAL_COLORS[k % len(TERMINAL_COLORS)])
    return SYMBOLS[k % len(SYMBOLS)]


def _terminal_scatter(plt: Any, fig: Any, view: MixtureView, color: bool) -> None:
    for k in range(view.n_components):
        mine = view.x[view.labels == k]
        if len(mine):
            fig.draw(fig.signal(mine[:, 0].tolist(), mine[:, 1].tolist(),
                                marker=_mark(plt, k, color)).label(f"{k}"))
    top = view.x.max(axis=0)
    for k in range(view.n_components):
        ring = ellipse(view.means[k], view.covariances[k], 1.0, n=60)
        top = np.maximum(top, ring.max(axis=0))
        fig.draw(fig.signal(ring[:, 0].tolist(), ring[:, 1].tolist(),
                            marker=_mark(plt, k, color, "hd") if color else ".").lines())
        fig.draw(fig.signal([float(view.means[k, 0])], [float(view.means[k, 1])],
                            marker=plt.marker("X", TERMINAL_COLORS[k % len(TERMINAL_COLORS)])
                            if color else "X"))
    fig.legend(active=color, x=float(top[0]), y=float(top[1]), relative=True, ha="right")


def _terminal_histogram(plt: Any, fig: Any, view: MixtureView, color: bool) -> None:
    x = view.x[:, 0]
    bins = 30
    fig.draw(fig.hist(x.tolist(), bins=bins, norm=True,
                      marker=plt.marker("░", "gray") if color else "░"))
    grid = np.linspace(x.min(), x.max(), 200)
    width = (x.max() - x.min()) / bins or 1.0  # norm: bins sum to 1, so a density x width
    parts = densities(view, grid) * width
    for k, part in enumerate(parts):
        fig.draw(fig.signal(grid.tolist(), part.tolist(), marker=_mark(plt, k, color))
                 .lines().label(f"{k} (weight {view.weights[k]:.2f})" if color
                                else f"weight {view.weights[k]:.2f}"))
    mixture = plt.marker("braille", plt.pixel(style="bold")) if color else "*"
    fig.draw(fig.signal(grid.tolist(), parts.sum(axis=0).tolist(), marker=mixture).lines()
             .label("mixture"))
    top = max(float(np.histogram(x, bins=bins)[0].max()) / len(x), float(parts.sum(axis=0).max()))
    fig.legend(x=float(x.max()), y=top, relative=True, ha="right")
