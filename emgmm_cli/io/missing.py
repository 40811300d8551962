"""Where a reader takes missing values (NaN; in text also an empty field or NA).

A reader's ``missing`` is False (a missing value is an error wherever it is), True (it is
read as NaN in every column), or a tuple of columns, each a name or a 0-based index of the
input's columns as ``columns=`` takes them: the missing values of those are read as NaN,
those of the others are errors.  The columns of per-row data beside the features (known
labels, sample weights) are read so: their caller says what a missing value there means
whatever the features' policy.  Infinities are errors everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

#: What a reader is asked to take for missing values (module docstring).
Missing = bool | tuple[str, ...]
#: The same for the columns read: alike in every one (a bool), or one bool per column.
PerColumn = bool | tuple[bool, ...]


def per_column(missing: Missing, names: Sequence[str], chosen: Sequence[int]) -> PerColumn:
    """missing for the columns read, chosen (their indices among the input's column
    names): a bool where it is one for them all.  A column named that is not in the input
    is left for the caller to name."""
    if isinstance(missing, bool) or not missing:
        return bool(missing)
    first = {name: j for j, name in reversed(list(enumerate(names)))}
    keys = [str(spec).strip() for spec in missing]
    at = {first.get(key, int(key) if key.isascii() and key.isdigit() else -1) for key in keys}
    flags = tuple(j in at for j in chosen)
    return flags[0] if len(set(flags)) == 1 else flags


def each(missing: PerColumn, n_columns: int) -> tuple[bool, ...]:
    """missing as one bool per column of n_columns."""
    return (missing,) * n_columns if isinstance(missing, bool) else missing


def refused(x: NDArray[np.floating], missing: PerColumn) -> NDArray[np.bool_]:
    """Where the (rows, columns) values x hold one a reader refuses: an infinity, or NaN
    (a missing value) in a column where missing values are errors."""
    if missing is True:
        return np.isinf(x)
    if missing is False:
        return ~np.isfinite(x)
    return np.isinf(x) | (np.isnan(x) & ~np.asarray(missing, dtype=bool))
