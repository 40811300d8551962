"""Where the data lives: the one place that chooses how a dataset is reduced.

open_dataset(source, ...) turns what a reader returned into an engine Dataset:

- a numpy array (in memory, or a read-only numpy memmap): backends.local.ArrayDataset;
- an io.NpyFile (data over the memory limit, on disk): backends.blockfile.BlockFileDataset;
- the path of a .npy file: memory-mapped, then as an array (how worker processes
  receive large arrays: backends.processes.portable);

Every Dataset cuts its rows into blocks sized for the model being fitted (block_rows),
and its results do not depend on the number of threads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..engine.dataset import Dataset


def open_dataset(source: Any, *, n_components: int = 1, covariance_type: str = "full",
                 n_threads: int | None = None) -> "Dataset":
    """A Dataset over source, in blocks sized for n_components and covariance_type.

    n_threads: threads of the block reduction (default: every core the process may use).
    """
    import os

    import numpy as np

    from ..io.npyfile import NpyFile
    from .local import ArrayDataset, block_rows

    if isinstance(source, NpyFile):
        from .blockfile import BlockFileDataset

        rows = block_rows(n_components, source.shape[1], covariance_type=covariance_type,
                          itemsize=source.dtype.itemsize)
        return BlockFileDataset(source, block_rows=rows, n_threads=n_threads)
    if isinstance(source, (str, os.PathLike)):
        source = np.load(source, mmap_mode="r")
    if isinstance(source, np.ndarray) or hasattr(source, "shape"):
        rows = block_rows(n_components, int(source.shape[1]), covariance_type=covariance_type,
                          itemsize=np.dtype(source.dtype).itemsize)
        return ArrayDataset(source, block_rows=rows, n_threads=n_threads)
    raise TypeError(f"no backend reads a {type(source).__name__}")
