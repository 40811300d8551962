"""What the engine needs of a dataset: a map-reduce over row blocks, and nothing else.

The EM loop, initialisation and model selection are written against this protocol; the
backends (emgmm_cli.backends: in memory, memory-mapped, block file, and any distributed
one) implement it, and emgmm_cli.backends.open_dataset is the one place that chooses.
"""

from __future__ import annotations

from typing import Callable, Iterator, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

T = TypeVar("T")
R = TypeVar("R")


class Dataset(Protocol):
    """Rows of a data matrix, reachable only block by block."""

    @property
    def n_samples(self) -> int: ...

    @property
    def n_features(self) -> int: ...

    @property
    def dtype(self) -> np.dtype: ...

    def reduce(self, fn: Callable[..., T], *, indexed: bool = False) -> T:
        """Apply fn to every block of rows and add up the results.

        fn(block) is called, or fn(block, first_row) when indexed is true.  How the sum is
        grouped is fixed by the backend and the blocks alone (never by the number of
        threads or workers), so a result does not depend on them.
        """
        ...

    def scan(self, fn: Callable[[NDArray[np.floating], int], R]) -> Iterator[tuple[int, R]]:
        """(first row, fn(block, first row)) for every block, yielded in row order.

        The final pass (labels, responsibilities, scores) is a scan: the blocks may be
        computed in parallel, the results arrive in order, and nothing of size N is kept.
        """
        ...

    def take(self, rows: NDArray[np.intp]) -> NDArray[np.floating]:
        """The rows with the given (sorted or unsorted) indices, as an in-memory array."""
        ...

    def for_model(self, n_components: int, covariance_type: str) -> "Dataset":
        """The same rows, in blocks sized for a model of this many components and family
        (the work buffers of a block grow with K and D)."""
        ...
