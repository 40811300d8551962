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


class InMemoryRows:
    """A small in-memory matrix as one block: the Dataset a fit screens its starts on
    when the data is larger (engine.starts).  No thread pool, no copies per call."""

    def __init__(self, x: NDArray[np.floating]) -> None:
        self._x = x

    @property
    def n_samples(self) -> int:
        return int(self._x.shape[0])

    @property
    def n_features(self) -> int:
        return int(self._x.shape[1])

    @property
    def dtype(self) -> np.dtype:
        return self._x.dtype

    def reduce(self, fn: Callable[..., T], *, indexed: bool = False) -> T:
        return fn(self._x, 0) if indexed else fn(self._x)

    def scan(self, fn: Callable[[NDArray[np.floating], int], R]) -> Iterator[tuple[int, R]]:
        yield 0, fn(self._x, 0)

    def take(self, rows: NDArray[np.intp]) -> NDArray[np.floating]:
        return self._x[np.asarray(rows, dtype=np.intp)]

    def for_model(self, n_components: int, covariance_type: str) -> "InMemoryRows":
        return self
