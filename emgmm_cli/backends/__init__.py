"""Where the data lives: the one place that chooses how a dataset is reduced.

open_dataset(source, ..., backend=...) turns what a reader returned into an engine
Dataset.  The local backend (this process: a thread pool over row blocks) takes

- a numpy array (in memory, or a read-only numpy memmap): backends.local.ArrayDataset;
- an io.NpyFile (data over the memory limit, on disk): backends.blockfile.BlockFileDataset;
- the path of a .npy file: memory-mapped, then as an array (how worker processes
  receive large arrays: backends.processes.portable).

Every Dataset cuts its rows into blocks sized for the model being fitted (block_rows),
and its results do not depend on the number of threads.  A backend is one row of
BACKENDS: a name and the function that opens a source with it.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..engine.dataset import Dataset

#: backend name -> "module:function" that opens a source as a Dataset (loaded on use).
BACKENDS: dict[str, str] = {
    "local": f"{__name__}:open_local",
}


def open_dataset(source: Any, *, n_components: int = 1, covariance_type: str = "full",
                 n_threads: int | None = None, backend: str = "local") -> "Dataset":
    """A Dataset over source, in blocks sized for n_components and covariance_type.

    n_threads: threads of the block reduction (default: every core the process may use).
    """
    where = BACKENDS.get(backend)
    if where is None:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    module, name = where.split(":")
    opener = getattr(importlib.import_module(module), name)
    dataset: Dataset = opener(source, n_components=n_components,
                              covariance_type=covariance_type, n_threads=n_threads)
    return dataset


def open_local(source: Any, *, n_components: int, covariance_type: str,
               n_threads: int | None) -> "Dataset":
    """The local backend: an array, a memory-mapped .npy path, or an NpyFile."""
    import numpy as np

    from ..io.npyfile import NpyFile
    from .blockfile import BlockFileDataset
    from .local import ArrayDataset, block_rows

    if isinstance(source, (str, os.PathLike)):
        source = np.load(source, mmap_mode="r")
    if not isinstance(source, (np.ndarray, NpyFile)):
        raise TypeError(f"the local backend reads arrays and .npy files, not a "
                        f"{type(source).__name__}")
    rows = block_rows(n_components, int(source.shape[1]), covariance_type=covariance_type,
                      itemsize=np.dtype(source.dtype).itemsize)
    if isinstance(source, NpyFile):
        return BlockFileDataset(source, block_rows=rows, n_threads=n_threads)
    return ArrayDataset(source, block_rows=rows, n_threads=n_threads)
