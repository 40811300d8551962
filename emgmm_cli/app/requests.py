"""The settings of a run, each kind its own frozen object (the fit options are
engine.options.FitOptions): how to read data, where a fit's outputs go, what grid a
selection searches."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

from typing import Any

from .. import vocab
from ..engine.errors import InvalidParameter
from ..engine.options import INPUT_SPECS
from ..io.formats import delimiter_problem
from .errors import UsageProblem

#: What is done with a row that has a missing value (--missing), the default first.
MISSING_POLICIES: tuple[str, ...] = vocab.names(vocab.MISSING)

#: How a model records sample weights or known labels given as an array (Python API).
ARRAY_INPUT = "<array>"

#: The files --output-dir fills in, by output name.
STANDARD_NAMES = {
    "labels": "labels.csv",
    "responsibilities": "responsibilities.csv",
    "trace": "trace.csv",
    "model": "model.json",
}


def column_list(text: str) -> list[str]:
    """Column names (or indices) separated by commas, as one CSV row: a name that holds a
    comma is written in double quotes ('"height, cm",weight'); spaces around each are
    dropped."""
    import csv

    return [name.strip() for name in next(csv.reader([text], skipinitialspace=True), [""])]


_SIZE_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """Bytes from '1024', '512K', '512M', '1.5G', '2GB', '2GiB', '1T' (powers of 1024)."""
    raw = text.strip().upper().replace(" ", "")
    for suffix in ("IB", "B"):
        if raw.endswith(suffix) and len(raw) > len(suffix) and raw[-len(suffix) - 1].isalpha():
            raw = raw[: -len(suffix)]
            break
    unit = raw[-1:] if raw[-1:].isalpha() else ""
    number = raw[: len(raw) - len(unit)]
    if unit not in _SIZE_UNITS or not number:
        raise ValueError(f"not a size: {text!r}")
    value = float(number) * _SIZE_UNITS[unit]
    if not (value >= 1 and math.isfinite(value)):
        raise ValueError(f"not a positive size: {text!r}")
    return int(value)


@dataclass(frozen=True)
class ReadOptions:
    """How to read a data file: the common input options of every command."""

    #: names or 0-based indices: a list, a tuple, or one string as --columns takes it
    #: ("a,b"), held as a tuple
    columns: Sequence[str] | None = None
    delimiter: str | None = None
    header: bool | None = None
    dtype: str = "float64"
    #: bytes, or a size as --memory-limit takes it ("512M", read as bytes: memory_bytes);
    #: None: a quarter of the memory
    memory_limit: int | str | None = None
    cache_dir: str | None = None  # None: the per-user cache directory
    #: the column of the input that holds each row's sample weight (not a feature): a
    #: header name, or its 0-based index among all the input's columns, whatever columns
    #: and known_column take
    weights_column: str | None = None
    #: a file of one sample weight per row (N x 1, in any input format)
    sample_weights: str | None = None
    #: the column of the input that holds each row's known component (-1: unknown), named
    #: as weights_column is
    known_column: str | None = None
    #: a file of one known component per line (empty or -1: unknown)
    known_labels: str | None = None
    #: what a row with a missing value means: one of MISSING_POLICIES
    missing: str = "error"

    @property
    def memory_bytes(self) -> int | None:
        """memory_limit in bytes (a size given as text is read so when made)."""
        assert not isinstance(self.memory_limit, str)
        return self.memory_limit

    def missing_in(self) -> bool | tuple[str, ...]:
        """Where the readers take missing values (io.missing): in every column with
        missing "drop" or "em"; else in the weights and known-labels columns only, which
        are no features: whatever missing says, a missing label is unknown and a missing
        weight an error that says so (data.weighed)."""
        if self.missing != "error":
            return True
        return tuple(c for c in (self.weights_column, self.known_column)
                     if c is not None) or False

    @property
    def weighted(self) -> bool:
        return self.weights_column is not None or self.sample_weights is not None

    def inputs(self, *, weights: Any = None, known: Any = None) -> dict[str, Any]:
        """What the rows bring to a fit besides their points, as a model records it
        (engine.options.INPUT_SPECS); weights, known: those given to the Python API
        instead of a column or a file (recorded as "<array>")."""
        record = {name: getattr(self, name) for name in INPUT_SPECS}
        for name, given in (("sample_weights", weights), ("known_labels", known)):
            if given is not None:
                record[name] = ARRAY_INPUT
        return record

    def read_columns(self) -> tuple[str, ...] | None:
        """The columns to read: those asked for, and the weights and known-label columns
        among them."""
        if self.columns is None:
            return None
        extra = [c for c in (self.weights_column, self.known_column)
                 if c is not None and c not in self.columns]
        return (*self.columns, *dict.fromkeys(extra))

    def __post_init__(self) -> None:
        if self.columns is not None and not isinstance(self.columns, tuple):
            # a list from the Python API, or one comma-separated string
            cols: Any = self.columns
            if not isinstance(cols, (str, Sequence)):
                raise TypeError("columns must be a list of column names or 0-based indices, "
                                f"or one string such as 'a,b', not {cols!r}")
            object.__setattr__(self, "columns", tuple(
                column_list(cols) if isinstance(cols, str) else cols))
        if self.weights_column is not None and self.sample_weights is not None:
            raise UsageProblem("give the sample weights once: weights_column or "
                               "sample_weights, not both", option="sample_weights")
        if self.missing not in MISSING_POLICIES:
            raise InvalidParameter(f"missing must be one of {', '.join(MISSING_POLICIES)}, "
                                   f"got {self.missing!r}", option="missing")
        if self.known_column is not None and self.known_labels is not None:
            raise UsageProblem("give the known labels once: known_column or "
                               "known_labels, not both", option="known_labels")
        if self.delimiter is not None:
            problem = delimiter_problem(self.delimiter) if isinstance(self.delimiter, str) \
                else f"delimiter must be a string, got {self.delimiter!r}"
            if problem is not None:
                raise InvalidParameter(problem, option="delimiter")
        if self.header is not None and not isinstance(self.header, bool):
            raise InvalidParameter("header must be True, False or None (detect it), got "
                                   f"{self.header!r}", option="header")
        if self.dtype not in vocab.names(vocab.DTYPES):
            raise InvalidParameter(f"dtype must be one of "
                                   f"{', '.join(vocab.names(vocab.DTYPES))}, got {self.dtype!r}",
                                   option="dtype")
        if self.memory_limit is not None:
            object.__setattr__(self, "memory_limit", _bytes(self.memory_limit))


def _bytes(size: Any) -> int:
    """A memory limit given to the Python API: bytes, or a size as --memory-limit takes
    it ("512M"); an InvalidParameter for anything else."""
    try:
        value = parse_size(size) if isinstance(size, str) else int(size)
    except (TypeError, ValueError):
        value = 0
    if isinstance(size, bool) or value < 1 or (not isinstance(size, str) and value != size):
        raise InvalidParameter(f"memory_limit must be a number of bytes >= 1 or a size such "
                               f"as '512M', got {size!r}", option="memory_limit")
    return value


#: --label-header beside an output that has its own header, where it would do nothing.
LABEL_HEADER_ALONE = ("--label-header heads bare labels; {what} have their own header: leave "
                      "--label-header out")


@dataclass(frozen=True)
class FitOutputs:
    """Where the outputs of a fit go (None: not written); '-' is stdout."""

    labels: str | None = None
    responsibilities: str | None = None
    trace: str | None = None
    model: str | None = None
    output_dir: str | None = None
    as_json: bool = False  # the summary (model document and trace) as JSON on stdout
    plot: str | None = None  # a picture of the mixture over the data
    trace_plot: str | None = None  # a picture of every restart's trace
    label_header: bool = False  # a 'cluster' header above the labels
    #: the labels' destination gets the input rows with a cluster column instead, and
    #: the responsibilities and log-densities as columns when asked
    with_rows: bool = False
    proba: bool = False
    log_density: bool = False

    def __post_init__(self) -> None:
        for flag, given, alone in (
                ("--proba", self.proba, "the responsibilities alone: --responsibilities FILE"),
                ("--log-density", self.log_density,
                 "the log-densities alone: emgmm score MODEL DATA")):
            if given and not self.with_rows:
                raise UsageProblem(f"{flag} adds columns to the rows of --with-rows; add "
                                   f"--with-rows ({alone})", option=flag)
        if self.label_header and self.with_rows:
            raise UsageProblem(LABEL_HEADER_ALONE.format(what="the rows of --with-rows"),
                               option="--label-header")

    def destinations(self) -> dict[str, str]:
        """Output name -> path, with output_dir filling in what was not named."""
        out: dict[str, str] = {}
        for name, std in STANDARD_NAMES.items():
            path = getattr(self, name)
            if path is None and self.output_dir is not None:
                path = os.path.join(self.output_dir, std)
            if path is not None:
                out[name] = path
        return out

    def on_stdout(self, *, pipe: bool) -> "FitOutputs":
        """These outputs with the labels on stdout where the command line sends them
        there: the rows --with-rows asks for, unless a file is named for them, and bare
        labels, the data of a pipe, where nothing else is asked for; never beside --json."""
        if self.as_json or self.labels is not None:
            return self
        named = self.destinations()
        if (self.with_rows and "labels" not in named) or (pipe and not named):
            return replace(self, labels="-")
        return self

    def pictures(self) -> dict[str, str]:
        """Picture name -> path, for those asked for."""
        return {name: path for name, path in (("plot", self.plot),
                                              ("trace_plot", self.trace_plot)) if path}

    @property
    def carries_data(self) -> bool:
        """Whether stdout carries data (so a summary must go elsewhere)."""
        return self.as_json or "-" in self.destinations().values()


#: --jobs auto (select's default; app.selecting.cell_workers) fits the cells in worker
#: processes, one per core, on data in memory of at most AUTO_JOBS_BYTES, in grids of
#: AUTO_JOBS_CELLS cells or more, with AUTO_JOBS_ROWS rows or more, or where workers fork
#: (backends.processes.start_method) with rows times cells AUTO_JOBS_ROW_CELLS or more.
#: On smaller data a worker's start costs more than it saves: a spawned one (a fresh
#: interpreter importing numpy) about 0.3 s, a pool of two forked ones about 15 ms.  Larger
#: data travel to spawned workers through a temporary copy on disk
#: (backends.processes.INLINE_BYTES, which this does not exceed), and their fits share
#: each pass among threads anyway (backends.local).  Measured by benchmarks/jobs.py
#: --repeats 5 (2026-12-03, 2 cores, commit 58434c3): `emgmm select` processes, seconds
#: with --jobs 1 over --jobs 2 (forked; spawned), 36 cells (VVV, EEE, VVI, VII, K = 1..9)
#: unless said: Old Faithful (272 x 2) 1.51; 1.20, its 18 cells (VVV and VII) 1.16; 0.68,
#: its 8 (K = 1..4) 0.90; 0.58, 60 x 2 1.18; 0.85, 150 x 2 1.19; 0.81, 500 x 5 1.39; 1.05,
#: 1,000 x 5 1.34; 1.18, 2,000 x 5 1.38; 1.30, 20,000 x 5 1.64; 1.59.  Two or three cells
#: seldom repay even forked workers.
AUTO_JOBS_ROWS = 1000
AUTO_JOBS_ROW_CELLS = 4000
AUTO_JOBS_BYTES = 16 << 20
AUTO_JOBS_CELLS = 4


@dataclass(frozen=True)
class SelectGrid:
    """The cells a selection fits (families in the order given, K ascending) and what
    picks the best."""

    components: tuple[int, ...]
    covariance_types: tuple[str, ...]
    criterion: str = "bic"

    def __post_init__(self) -> None:
        object.__setattr__(self, "components", tuple(self.components))
        object.__setattr__(self, "covariance_types", tuple(self.covariance_types))
        # checked before the data are read, in any case, as the families' names are
        names = vocab.names(vocab.CRITERIA)
        asked = self.criterion.lower() if isinstance(self.criterion, str) else self.criterion
        if asked not in names:
            raise InvalidParameter(f"unknown criterion {self.criterion!r}; choose one of "
                                   f"{', '.join(names)}", option="criterion")
        object.__setattr__(self, "criterion", asked)
