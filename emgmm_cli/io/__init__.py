"""Reading point data and writing results: the file-format layer of emgmm.

Readers turn CSV/TSV/text (compressed or not), .npy, .parquet or stdin into a finite
(N, D) float array with column names (or, over the memory limit, an NpyFile that reads
its rows from disk); writers put labels, tables and JSON into files atomically (or onto stdout, only once the
run has succeeded).  Every user-fixable failure is a DataError whose ``str()`` is one line.
This package imports numpy only (pandas lazily, for .parquet and large text); never click
or rich.
"""

from .errors import DataError
from .model import LoadedModel, check_features, load_model
from .npyfile import NpyFile
from .readers import STDIN_NAME, Points, read_points
from .writers import (
    OUTPUT_FORMATS,
    OutputSet,
    atomic_write,
    ensure_dir,
    output_format,
    write_json,
    write_table,
)

__all__ = [
    "OUTPUT_FORMATS",
    "STDIN_NAME",
    "DataError",
    "LoadedModel",
    "NpyFile",
    "OutputSet",
    "Points",
    "atomic_write",
    "check_features",
    "ensure_dir",
    "load_model",
    "output_format",
    "read_points",
    "write_json",
    "write_table",
]
