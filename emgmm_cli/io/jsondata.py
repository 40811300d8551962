"""Point data from JSON: what emgmm writes as .json and .jsonl read back.

A .json file holds one array of rows, a .jsonl or .ndjson file one row a line (the formats of
io.formats: `sample -o points.jsonl`, `fit --with-rows -o rows.json`, labels as a .json
array).  A row is an object (its keys are the columns, as emgmm writes tables), an
array (columns "0", "1", ...) or a bare number (one column "0"); every row of a file is
of one kind, and objects have the keys of the first.  null is a missing value (NaN),
numbers are numbers; anything else (a string, true or false) is not numeric, which only
matters in a column that is read (--columns).  The whole text is parsed in memory (there
is no block-by-block reading of JSON: a file over --memory-limit is read all the same).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import SELECT_COLUMNS, DataError
from .missing import Missing, per_column, refused
from .npyfile import nonfinite_error
from .text import DELIMITER_BY_EXT, Input, resolve_columns, text_extension

#: The extensions read as JSON.
JSON_EXTENSIONS = (".json", ".jsonl", ".ndjson")
#: How the JSON that stdin is taken for starts: an object's first key or its end, or an
#: array's first value (an array, object, string, number, literal; NaN and Infinity as
#: Python writes them) or its end.  A text header that starts with '[' or '{' ("[Na+],[K+]",
#: "{a},{b}") does not.
_JSON_START = re.compile(rb'\s*(?:\{\s*(?:["}]|$)|\[\s*(?:[\[{"\]0-9-]|$|'
                         rb"(?:true|false|null|NaN|Infinity)\b))")


def looks_like_json(head: bytes) -> bool:
    """Whether the first bytes of an input start a JSON array or object."""
    return _JSON_START.match(head) is not None


def is_json(path: str, src: Input) -> bool:
    """Whether an input holds JSON: by its extension (before a compression suffix), or,
    for standard input and a file of no data extension (/dev/stdin, <(command), .txt), by
    its first bytes; a .csv, .tsv or .tab file is text whatever it starts with."""
    ext = "" if path == "-" else text_extension(path)
    if ext in JSON_EXTENSIONS:
        return True
    return ext not in DELIMITER_BY_EXT and looks_like_json(src.reader.peek(64))


def read_json(src: Input, columns: Sequence[str] | None, dt: np.dtype,
              missing: Missing) -> tuple[NDArray[np.floating], list[str]]:
    """The (N, D) values and column names of a JSON input (module docstring); a DataError
    naming the row (its line in JSON lines) and column for anything that is not."""
    names, table, lines = _parsed(src)
    sel = resolve_columns(columns, names, src.name)
    chosen = [names[j] for j in sel]
    raw = np.empty((len(lines), len(sel)), dtype=np.float64)
    for out, j in enumerate(sel):
        for i, value in enumerate(table[j]):
            raw[i, out] = _number(value, src.name, i, lines[i], names[j])
    with np.errstate(over="ignore"):
        x = np.ascontiguousarray(raw.astype(dt))
    allowed = per_column(missing, names, sel)
    if refused(x, allowed).any():
        raise nonfinite_error(src.name, chosen, x, raw, 0, missing=allowed)
    return x, chosen


def json_columns(src: Input) -> dict[str, NDArray[Any]]:
    """Every column of a JSON input by name, in order, its values as the JSON holds them
    (numbers, text, None for null; arrays of objects): the rows --with-rows writes back."""
    names, table, _ = _parsed(src)
    out = {}
    for name, values in zip(names, table):
        out[name] = np.empty(len(values), dtype=object)
        out[name][:] = values
    return out


def _parsed(src: Input) -> tuple[list[str], list[list[Any]], list[int | None]]:
    """(column names, each column's values, the line of each row or None) of a JSON input."""
    try:
        text = src.reader.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(src.name, f"not UTF-8 text (byte {exc.start}); JSON is UTF-8") from None
    rows, lines = _rows(text, src.name)
    if not rows:
        raise DataError(src.name, "the JSON holds no rows")
    names, table = _table(rows, lines, src.name)
    return names, table, lines


def _rows(text: str, name: str) -> tuple[list[Any], list[int | None]]:
    """The rows of the text, and the line each stands on (JSON lines) or None (one array).
    (json is imported here: a fit that reads no JSON does not load it.)"""
    import json

    try:
        whole = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise DataError(name, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    else:
        if isinstance(whole, list):
            return whole, [None] * len(whole)
        return [whole], [None]  # one row: an object, an array or a number
    rows: list[Any] = []
    lines: list[int | None] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DataError(name, f"not valid JSON: {exc.msg}", line=number) from None
        lines.append(number)
    return rows, lines


def _table(rows: list[Any], lines: list[int | None], name: str
           ) -> tuple[list[str], list[list[Any]]]:
    """Column names and each column's values, from rows of one kind."""
    first = rows[0]
    if isinstance(first, dict):
        names = [str(key) for key in first]
        keys = list(first)
        for i, row in enumerate(rows):
            if not isinstance(row, dict) or set(row) != set(keys):
                raise _uneven(name, i, lines[i], "an object with the keys of the first row "
                                                 f"({', '.join(names)})")
        if not keys:
            raise DataError(name, "the rows are empty objects: no column to read")
        return names, [[row[key] for row in rows] for key in keys]
    if isinstance(first, list):
        width = len(first)
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != width:
                raise _uneven(name, i, lines[i], f"an array of {width} values, as the first")
        if width == 0:
            raise DataError(name, "the rows are empty arrays: no column to read")
        return [str(j) for j in range(width)], [[row[j] for row in rows] for j in range(width)]
    for i, row in enumerate(rows):
        if isinstance(row, (dict, list)):
            raise _uneven(name, i, lines[i], "a single value, as the first")
    return ["0"], [list(rows)]


def _uneven(name: str, i: int, line: int | None, wanted: str) -> DataError:
    where = "" if line is not None else f"row {i + 1}: "
    return DataError(name, f"{where}every row must be {wanted}", line=line)


def _number(value: Any, name: str, i: int, line: int | None, column: str) -> float:
    """A value of a column that is read (row i, on line where JSON lines): a number, or
    NaN for null."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        import json

        shown = json.dumps(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        where = "" if line is not None else f" in row {i + 1}"
        raise DataError(name, f"non-numeric value {shown}{where}; fix or remove the row",
                        line=line, column=column, advice=(SELECT_COLUMNS,))
    try:
        return float(value)
    except OverflowError:  # an integer beyond float64
        return math.inf if value > 0 else -math.inf
