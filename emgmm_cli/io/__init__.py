"""Reading point data and writing results: the file-format layer of emgmm.

Readers turn CSV/TSV/text (compressed or not), .npy, .parquet or stdin into a finite
(N, D) float array with column names (or, over the memory limit, an NpyFile that reads
its rows from disk); writers put labels, tables and JSON into files atomically (or onto
stdout, only once the run has succeeded).  Every user-fixable failure is a DataError
whose ``str()`` is one line.  This package imports numpy only (pandas lazily, for .parquet
and large text); never click or rich.

The names below are imported on first use, not with the package: importing
``emgmm_cli.io.formats`` (which `emgmm --help` does for its list of formats) must not pull
numpy in through this file.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import DataError
    from .formats import FORMATS, format_for_path, formats_help
    from .model import LoadedModel, check_features, load_model
    from .npyfile import NpyFile
    from .readers import STDIN_NAME, Points, read_points
    from .writers import OutputSet, atomic_write, ensure_dir, stream_table, write_json, write_table

_MODULE_OF = {
    "DataError": "errors",
    "LoadedModel": "model",
    "check_features": "model",
    "load_model": "model",
    "NpyFile": "npyfile",
    "STDIN_NAME": "readers",
    "Points": "readers",
    "read_points": "readers",
    "FORMATS": "formats",
    "format_for_path": "formats",
    "formats_help": "formats",
    "OutputSet": "writers",
    "atomic_write": "writers",
    "ensure_dir": "writers",
    "stream_table": "writers",
    "write_json": "writers",
    "write_table": "writers",
}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
