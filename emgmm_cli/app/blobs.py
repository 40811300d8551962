"""Synthetic blob data (the `make-blobs` use case): centres given or drawn, points drawn
around them by engine.blobs.make_blobs, written as a table.

Whether the values fit together (sizes per centre, dimensions, positive spreads) is
decided here and by the engine's make_blobs: a value out of range or options that
disagree are a UsageProblem (exit status 2 at the command line, as every command's bad
usage is), a covariance file that cannot be used a DataError naming it (1), never a
traceback.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..engine.blobs import make_blobs, random_centers, split_sizes
from ..engine.errors import InvalidParameter
from ..io.errors import DataError, open_error
from ..io.model import nested_numbers
from ..io.readers import read_points
from ..io.writers import OutputSet, write_table
from ..vocab import counted
from .errors import UsageProblem
from .fitting import check_outputs

DEFAULT_N_CENTERS = 3  # scikit-learn's make_blobs default
DEFAULT_DIM = 2
DEFAULT_BOX = (-10.0, 10.0)


@dataclass(frozen=True)
class BlobRequest:
    """Every option of `emgmm make-blobs`."""

    sizes: list[int]
    centers: list[list[float]] | str | None  # inline rows, a file, or None (random)
    header: bool | None  # whether the first row of a centers file is a header (None: detect)
    n_centers: int | None
    dim: int | None
    center_box: tuple[float, float] | None
    std: list[float] | None
    covariances: str | None
    seed: int | None
    output: str
    labels: str | None  # a file for each point's true blob
    label_column: str | None  # or a column of the data
    centers_out: str | None


def load_covariances(path: str) -> NDArray[np.float64]:
    """A (K, D, D) stack of covariances from a .npy array or a .json nested list."""
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
    except json.JSONDecodeError as exc:
        raise DataError(path, f"invalid JSON: {exc.msg} (column {exc.colno})",
                        line=exc.lineno) from None
    except OSError as exc:  # not found, permission denied: as every reader says it
        raise open_error(path, exc) from None
    except (ValueError, EOFError) as exc:
        raise DataError(path, f"cannot read the covariances: {exc}") from None
    numbers = raw.dtype.kind in "fiu" if ext == ".npy" else nested_numbers(raw)
    try:
        if not numbers:  # complex, text or true/false: numpy would cast them to numbers
            raise TypeError
        cov = np.array(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(path, "expected a K x D x D array of real numbers (rows of equal "
                              "length)") from None
    if cov.ndim != 3 or cov.shape[1] != cov.shape[2] or cov.shape[0] < 1 or cov.shape[1] < 1:
        raise DataError(path, f"expected a K x D x D array of covariance matrices, got shape "
                              f"{cov.shape}")
    return cov


def resolve_centers(req: BlobRequest, rng: np.random.Generator,
                    cov: NDArray[np.float64] | None, warn: Callable[[str], None]
                    ) -> NDArray[np.float64]:
    """The (K, D) centres: given inline or in a file (what reading it decided, to warn),
    or drawn in the box from rng."""
    if req.centers is None:
        k = req.n_centers or (len(req.sizes) if len(req.sizes) > 1 else None)
        k = k or (cov.shape[0] if cov is not None else DEFAULT_N_CENTERS)
        d = req.dim or (cov.shape[1] if cov is not None else DEFAULT_DIM)
        box = req.center_box or DEFAULT_BOX
        if not (math.isfinite(box[0]) and math.isfinite(box[1])):
            raise UsageProblem(f"--center-box: LOW and HIGH must be finite, got "
                               f"{box[0]:g},{box[1]:g}")
        if not box[0] < box[1]:
            raise UsageProblem(f"--center-box: LOW must be below HIGH, got "
                               f"{box[0]:g},{box[1]:g}")
        if not math.isfinite(box[1] - box[0]):
            raise UsageProblem(f"--center-box: HIGH - LOW must be at most {sys.float_info.max:.2g}"
                               f" (a finite float64), got {box[0]:g},{box[1]:g}")
        return random_centers(k, d, box, rng=rng)
    if req.center_box is not None:
        raise UsageProblem("--center-box applies to random centers; drop it or --centers")
    if isinstance(req.centers, str):
        read = read_points(req.centers, header=req.header)
        for note in read.notes:  # a row read as the header, or as data, is said
            warn(f"{read.source}: {note}")
        centers = np.asarray(read.x, dtype=np.float64)
    else:
        widths = [len(row) for row in req.centers]
        for j, w in enumerate(widths):
            if w != widths[0]:
                raise UsageProblem(f"--centers: center {j} has {w} coordinate"
                                   f"{'' if w == 1 else 's'} but center 0 has {widths[0]}")
        centers = np.array(req.centers, dtype=np.float64)
    k, d = centers.shape
    if req.n_centers is not None and req.n_centers != k:
        raise UsageProblem(f"--n-centers {req.n_centers} but --centers gives "
                           f"{counted(k, 'center')}")
    if req.dim is not None and req.dim != d:
        raise UsageProblem(f"--dim {req.dim} but the centers have {counted(d, 'coordinate')}")
    return centers


def truth_destinations(output: str, labels: str | None) -> dict[str, str]:
    """The outputs of drawn points: the points, and their true components if asked
    (--labels: "truth" in fitting.OUTPUT_OPTIONS, not fit's -o/--labels)."""
    return {"output": output, **({"truth": labels} if labels else {})}


def stage_points(out: OutputSet, output: str, names: list[str], x: NDArray[np.float64],
                 truth: NDArray[np.int64], *, labels: str | None = None,
                 label_column: str | None = None) -> None:
    """Drawn points under their column names: the coordinates only, unless label_column
    names a column for each point's true component; labels: a file for them instead
    (one a line, as fit --labels writes labels)."""
    if label_column is not None and not label_column.strip():
        raise UsageProblem(f"--label-column {label_column!r} is no name: a column of true "
                           "components needs one (for example component)",
                           option="--label-column")
    if label_column is not None and label_column in names:
        raise UsageProblem(f"--label-column {label_column} is the name of a coordinate "
                           f"column ({', '.join(names)}); choose another name",
                           option="--label-column")
    columns: dict[str, Any] = {name: x[:, j] for j, name in enumerate(names)}
    if label_column is not None:
        columns[label_column] = truth
    write_table(output, columns, out=out, coordinates=True)
    if labels:
        write_table(labels, truth, out=out)


def run_make_blobs(req: BlobRequest, warn: Callable[[str], None]) -> None:
    """make-blobs: the points (and their blobs, the centers) written as req asks; warn
    takes each line the user should hear (what reading a centers file decided)."""
    if req.std is not None and req.covariances is not None:
        raise UsageProblem("give --std or --covariances, not both")
    dest = truth_destinations(req.output, req.labels)
    if req.centers_out:
        dest["centers_out"] = req.centers_out
    check_outputs(dest, [p for p in (req.covariances, req.centers) if isinstance(p, str)])
    cov = load_covariances(req.covariances) if req.covariances else None
    rng = np.random.default_rng(req.seed)  # None: fresh entropy
    centers = resolve_centers(req, rng, cov, warn)
    k, d = centers.shape
    try:
        sizes = split_sizes(req.sizes[0], k) if len(req.sizes) == 1 else req.sizes
        x, labels = make_blobs(sizes, centers, std=req.std if req.std is not None else 1.0,
                               covariances=cov, rng=rng)
    except InvalidParameter as exc:
        if exc.option == "centers":  # a point beyond float64's range
            given = "--centers" if req.centers is not None else "--center-box"
            raise UsageProblem(f"{given}, --std: {exc}") from None
        if exc.option == "covariances":  # counts or dimensions that disagree: usage
            raise UsageProblem(f"--covariances {req.covariances}: {exc}",
                               option="--covariances") from None
        if req.covariances and "covariance" in str(exc):  # a file that cannot be used
            raise DataError(req.covariances, str(exc)) from None
        flag = {"center": "--centers", "std": "--std", "n_samples": "-n"}.get(exc.option or "")
        raise UsageProblem(str(exc) if flag is None else f"{flag}: {exc}") from None
    names = [f"x{j}" for j in range(d)]
    with OutputSet() as out:
        stage_points(out, req.output, names, x, labels, labels=req.labels,
                     label_column=req.label_column)
        if req.centers_out:
            write_table(req.centers_out, centers, column_names=names, out=out,
                        coordinates=True)
