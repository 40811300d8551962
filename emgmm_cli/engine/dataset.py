"""What the engine needs of a dataset: a map-reduce over row blocks, and nothing else.

The EM loop, initialisation and model selection are written against this protocol; the
local (in-memory and memory-mapped) backend and any distributed one implement it.
"""

from __future__ import annotations

from typing import Callable, Iterator, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

T = TypeVar("T")


class Dataset(Protocol):
    """Rows of a data matrix, reachable only block by block."""

    @property
    def n_samples(self) -> int: ...

    @property
    def n_features(self) -> int: ...

    @property
    def dtype(self) -> np.dtype: ...

    def reduce(self, fn: Callable[..., T], *, indexed: bool = False) -> T:
        """Apply fn to every block of rows and sum the results in row order.

        fn(block) is called, or fn(block, first_row) when indexed is true.  The sum is taken
        in the same order whatever the number of workers, so results do not depend on them.
        """
        ...

    def blocks(self) -> Iterator[tuple[int, NDArray[np.floating]]]:
        """(first row, block) pairs in row order, one at a time (for the final pass)."""
        ...

    def take(self, rows: NDArray[np.intp]) -> NDArray[np.floating]:
        """The rows with the given (sorted or unsorted) indices, as an in-memory array."""
        ...
