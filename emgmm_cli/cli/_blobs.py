"""What `make-blobs` does between parsing and writing: option values, centres, blobs.

The click types here only parse (a value that does not parse is a usage error, exit 2);
whether the parsed values fit together (sizes per centre, dimensions, positive spreads)
is decided by the engine's make_blobs and by resolve_centers below (exit 1).
numpy is imported inside the functions, so `emgmm --help` does not load it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from .context import Terminal

if TYPE_CHECKING:
    import numpy as np

DEFAULT_N_CENTERS = 3  # scikit-learn's make_blobs default
DEFAULT_DIM = 2
DEFAULT_BOX = (-10.0, 10.0)


class NumberList(click.ParamType):
    """One number or a comma-separated list of them: "1000" or "80,60,70,140"."""

    def __init__(self, kind: type, what: str) -> None:
        self.kind = kind
        self.what = what
        self.name = f"{what}s"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, list):
            return value
        try:
            return [self.kind(part.strip()) for part in str(value).split(",")]
        except ValueError:
            self.fail(f"{value!r} is not {'an' if self.what[0] in 'aeiou' else 'a'} {self.what} "
                      f"or a comma-separated list of {self.what}s", param, ctx)


class Box(click.ParamType):
    """LOW,HIGH: the box random centres are drawn from."""

    name = "low,high"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        parts = str(value).split(",")
        try:
            if len(parts) != 2:
                raise ValueError(value)
            return float(parts[0]), float(parts[1])
        except ValueError:
            self.fail(f"{value!r} is not two numbers LOW,HIGH (for example -10,10)", param, ctx)


class Centers(click.ParamType):
    """Inline centres "1,1;5,5;6,1" (rows of numbers), or the path of a K x D data file."""

    name = "centers"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return [[float(c) for c in row.split(",")] for row in value.split(";")]
        except ValueError:
            pass
        if os.path.exists(value):
            return value
        self.fail(f"{value!r} is neither a list of centers such as '1,1;5,5;6,1' nor an "
                  "existing file", param, ctx)


@dataclass(frozen=True)
class BlobRequest:
    """Every option of `emgmm make-blobs`, as parsed by click."""

    sizes: list[int]
    centers: list[list[float]] | str | None  # inline rows, a file, or None (random)
    n_centers: int | None
    dim: int | None
    center_box: tuple[float, float] | None
    std: list[float] | None
    covariances: str | None
    seed: int | None
    output: str
    labels: bool
    centers_out: str | None


def load_covariances(path: str) -> "np.ndarray":
    """A (K, D, D) stack of covariances from a .npy array or a .json nested list."""
    import json

    import numpy as np

    from ..io.errors import DataError

    ext = os.path.splitext(path)[1].lower()
    if ext not in (".npy", ".json"):
        raise DataError(path, "covariances are read from a .npy file (a K x D x D array) or a "
                              ".json file (a nested list)")
    try:
        if ext == ".npy":
            raw: Any = np.load(path, allow_pickle=False)
        else:
            with open(path, encoding="utf-8") as fh:
                raw = json.load(fh)
    except FileNotFoundError:
        raise DataError(path, "file not found; check the path") from None
    except json.JSONDecodeError as exc:
        raise DataError(path, f"invalid JSON: {exc.msg} (column {exc.colno})",
                        line=exc.lineno) from None
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(path, f"cannot read the covariances: {exc}") from None
    try:
        cov = np.array(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(path, "expected a K x D x D array of numbers (rows of equal length)") from None
    if cov.ndim != 3 or cov.shape[1] != cov.shape[2] or cov.shape[0] < 1 or cov.shape[1] < 1:
        raise DataError(path, f"expected a K x D x D array of covariance matrices, got shape "
                              f"{cov.shape}")
    return cov


def resolve_centers(req: BlobRequest, rng: "np.random.Generator",
                    cov: "np.ndarray | None") -> "np.ndarray":
    """The (K, D) centres: given inline or in a file, or drawn in the box from rng."""
    import numpy as np

    from ..engine.blobs import random_centers
    from ..io.readers import read_points

    if req.centers is None:
        k = req.n_centers or (len(req.sizes) if len(req.sizes) > 1 else None)
        k = k or (cov.shape[0] if cov is not None else DEFAULT_N_CENTERS)
        d = req.dim or (cov.shape[1] if cov is not None else DEFAULT_DIM)
        box = req.center_box or DEFAULT_BOX
        if not box[0] < box[1]:
            raise click.ClickException(f"--center-box: LOW must be below HIGH, got "
                                       f"{box[0]:g},{box[1]:g}")
        return random_centers(k, d, box, rng=rng)
    if req.center_box is not None:
        raise click.UsageError("--center-box applies to random centers; drop it or --centers")
    if isinstance(req.centers, str):
        centers = read_points(req.centers).x
    else:
        widths = [len(row) for row in req.centers]
        for j, w in enumerate(widths):
            if w != widths[0]:
                raise click.ClickException(f"--centers: center {j} has {w} coordinates but "
                                           f"center 0 has {widths[0]}")
        centers = np.array(req.centers, dtype=np.float64)
    k, d = centers.shape
    if req.n_centers is not None and req.n_centers != k:
        raise click.ClickException(f"--n-centers {req.n_centers} but --centers gives {k} centers")
    if req.dim is not None and req.dim != d:
        raise click.ClickException(f"--dim {req.dim} but the centers have {d} coordinates")
    return centers


def run_make_blobs(term: Terminal, req: BlobRequest) -> None:
    import numpy as np

    from ..engine.blobs import make_blobs, split_sizes
    from ..engine.errors import InvalidParameter
    from ..io.errors import DataError
    from ..io.writers import OutputSet, write_table
    from ._fitting import check_destinations

    if req.std is not None and req.covariances is not None:
        raise click.UsageError("give --std or --covariances, not both")
    dest = {"output": req.output, **({"centers_out": req.centers_out} if req.centers_out else {})}
    check_destinations(dest, [p for p in (req.covariances, req.centers) if isinstance(p, str)],
                       False)
    cov = load_covariances(req.covariances) if req.covariances else None
    rng = np.random.default_rng(req.seed)  # None: fresh entropy
    centers = resolve_centers(req, rng, cov)
    k, d = centers.shape
    sizes = split_sizes(req.sizes[0], k) if len(req.sizes) == 1 else req.sizes
    try:
        x, labels = make_blobs(sizes, centers, std=req.std if req.std is not None else 1.0,
                               covariances=cov, rng=rng)
    except InvalidParameter as exc:
        if req.covariances and "covariance" in str(exc):
            raise DataError(req.covariances, str(exc)) from None
        raise
    names = [f"x{j}" for j in range(d)]
    columns: dict[str, Any] = {name: x[:, j] for j, name in enumerate(names)}
    if req.labels:
        columns["label"] = labels
    with OutputSet() as out:
        write_table(req.output, columns, out=out)
        if req.centers_out:
            write_table(req.centers_out, centers, column_names=names, out=out)
