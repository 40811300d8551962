"""The out-of-core backend: a .npy file on disk (io.NpyFile) as a Dataset.

Rows are read block by block with positional reads into fresh buffers (see io.npyfile
for why not a memory map), on the thread pool of BlockedDataset; nothing holds all N
rows.  A sample of rows by index reads each run of consecutive rows once.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..io.npyfile import NpyFile
from .local import BlockedDataset


class BlockFileDataset(BlockedDataset):
    """The rows of an NpyFile: its kept columns, in its dtype."""

    def __init__(self, npy: NpyFile, block_rows: int = 4096,
                 n_threads: int | None = None) -> None:
        n, d = npy.shape
        super().__init__(n, d, npy.dtype, block_rows=block_rows, n_threads=n_threads)
        self.npy = npy

    def _read(self, start: int, stop: int) -> NDArray[np.floating]:
        return self.npy.read(start, stop)

    def _take(self, rows: NDArray[np.intp]) -> NDArray[np.floating]:
        return self.npy.take_sorted(rows)
