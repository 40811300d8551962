"""The out-of-core backend: a .npy file on disk (io.NpyFile) as a Dataset.

FileRows is such a file whose rows may hold missing values: some rows left out
(--missing drop), or NaN delivered as given values (EM's imputed rows, --missing em).

Rows are read block by block with positional reads into fresh buffers (see io.npyfile
for why not a memory map), on the thread pool of BlockedDataset; nothing holds all N
rows.  A sample of rows by index reads each run of consecutive rows once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True)
class FileRows(NpyFile):
    """An NpyFile whose rows may hold missing values (NaN; --missing drop or em).

    left_out: the sorted file rows skipped (rows with a missing value, dropped), or None;
    rows are then counted without them, as in an array of the rows kept.  fill: one value
    per kept column delivered in place of each NaN (the column means of EM's imputed
    rows, engine.missing.impute_means), or None to deliver the NaN.  holes: the rows may
    hold NaN that EM is to treat as missing (app.data.rows_dataset scans them once,
    found_missing; a copy made by dataclasses.replace scans again)."""

    left_out: NDArray[np.intp] | None = field(default=None, compare=False)
    fill: NDArray[np.float64] | None = field(default=None, compare=False)
    holes: bool = False
    source: str = ""  # the input's name, for messages
    memory_limit: int | None = None  # bytes the rows with missing values may take (holes)
    #: the scan of the rows for EM (app.data), once made
    found: list[Any] = field(default_factory=list, init=False, repr=False, compare=False)

    @property
    def shape(self) -> tuple[int, int]:
        gone = 0 if self.left_out is None else len(self.left_out)
        return (self.n_rows - gone, len(self.columns))

    def read(self, start: int, stop: int) -> NDArray[np.floating]:
        """Rows [start, stop) of the rows kept, NaN filled where fill says."""
        start, stop = max(0, start), min(stop, self.shape[0])
        gaps = self.left_out
        if gaps is None or stop <= start:
            x = super().read(start, stop)
        else:
            # the file row of kept row i: i plus the rows left out at or before it
            ahead = gaps - np.arange(len(gaps))
            first, last = (int(i + np.searchsorted(ahead, i, side="right"))
                           for i in (start, stop - 1))
            x = super().read(first, last + 1)
            inside = gaps[np.searchsorted(gaps, first):np.searchsorted(gaps, last + 1)]
            if len(inside):
                x = np.delete(x, inside - first, axis=0)
        if self.fill is not None:
            holes = np.isnan(x)
            if holes.any():
                x[holes] = np.broadcast_to(self.fill, x.shape)[holes]
        return x


def file_rows(npy: NpyFile, **fields_: Any) -> FileRows:
    """npy as FileRows (with the given FileRows fields); npy may be FileRows already."""
    if isinstance(npy, FileRows):
        return dataclasses.replace(npy, **fields_)
    kept = {f.name: getattr(npy, f.name) for f in dataclasses.fields(NpyFile) if f.init}
    return FileRows(**kept, **fields_)
