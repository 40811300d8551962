"""The one exception type of the io package.

A DataError says which file (or "<stdin>"), where known the line and the column, and what
went wrong and what to do, so that the command line can print ``str(err)`` as its one line
of error output and exit with status 1.
"""

from __future__ import annotations

import errno
import os
import re

#: Remedies a DataError can name (DataError.advice), said by the command line in its own
#: options (cli.errors): the rows with a missing value left out of the fit ...
DROP_MISSING = "drop-missing"
#: ... or fitted through their observed values (EM with missing values).
EM_MISSING = "em-missing"
#: What to do about an infinity in the data, which no --missing policy takes for missing.
INFINITE_HINT = "an infinite value is not a missing value; remove or replace it first"
#: The remedies of a missing value where none is allowed, most useful first.
MISSING_REMEDIES = (DROP_MISSING, EM_MISSING)
#: A column that is not numbers left out of the data read (a file that is not the data,
#: such as starting means, has no columns to choose: read_points(missing=None) drops it).
SELECT_COLUMNS = "select-columns"
#: The data read as float64 (what float32 data cannot hold: weights beyond its range).
READ_FLOAT64 = "read-float64"


STDIN_NAME = "<stdin>"
"""The source name used in errors and in Points.source for data read from stdin."""

#: Control characters, but tab and newline: C0, DEL and C1; and with newline.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_OR_NEWLINE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def printable(text: str, *, one_line: bool = False) -> str:
    """text with its control characters (but tab and newline) written as escapes, \\x1b for
    ESC: a column name read from data, or a file name, can hold the sequences a terminal
    obeys (colours, its title, the cursor), and is shown in tables and messages.
    one_line: newlines too (\\x0a), for a value shown on a line of its own ('name: value')."""
    pattern = _CONTROL_OR_NEWLINE if one_line else _CONTROL
    return pattern.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class DataError(Exception):
    """Reading or writing data failed for a reason the user can fix.

    Attributes:
        source: the file path, or "<stdin>" / "<stdout>".
        line: 1-based line in the file, or None where it does not apply.
        column: the column's name (or index, as a string), or None.
        message: what went wrong and, where possible, what to do; one line.
        advice: remedies that are options of the command line (the constants above), which
            it adds to the message in its own terms; () where the message says it all.

    ``str(err)`` is one line: ``"{source}:{line}: column '{column}': {message}"``, with the
    parts that are None left out, e.g. ``"data.csv: file is empty"``.
    """

    source: str
    line: int | None
    column: str | None
    message: str

    def __init__(
        self,
        source: str,
        message: str,
        *,
        line: int | None = None,
        column: str | None = None,
        advice: tuple[str, ...] = (),
    ) -> None:
        self.source = source
        self.line = line
        self.column = column
        self.advice = advice
        # Keep the promise of one line whatever a lower layer put into its message.
        self.message = " ".join(message.split())
        super().__init__(self.format())

    def format(self) -> str:
        """The one-line text of the error (what ``str()`` returns)."""
        text = self.source
        if self.line is not None:
            text += f":{self.line}"
        if self.column is not None:
            text += f": column '{self.column}'"
        return f"{text}: {self.message}"

    def __str__(self) -> str:
        return self.format()

    def __reduce__(self) -> tuple[object, ...]:
        # Exceptions with keyword-only arguments do not pickle by default (process pools).
        return (_rebuild, (self.source, self.message, self.line, self.column, self.advice))


def _rebuild(source: str, message: str, line: int | None, column: str | None,
             advice: tuple[str, ...] = ()) -> DataError:
    return DataError(source, message, line=line, column=column, advice=advice)


def open_error(name: str, exc: OSError) -> DataError:
    """The DataError for a file that could not be opened or read."""
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return DataError(name, "file not found; check the path")
    if isinstance(exc, IsADirectoryError):
        return DataError(name, "is a directory, not a file; give the path of a data file")
    if isinstance(exc, PermissionError):
        return DataError(name, "permission denied; check that you may read the file")
    if exc.errno == errno.ELOOP:
        return DataError(name, "is a symbolic link that leads back to itself; point it at "
                               "a data file")
    return DataError(name, f"cannot read the file: {exc.strerror or exc}")


def file_version(st: os.stat_result) -> tuple[int, ...]:
    """What changes when a file is written to, truncated or replaced: its status-change
    time too, which no one can set back (a file rewritten in place during a read with its
    modification time restored, touch -d, mixed two versions' rows with exit 0)."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def changed_error(name: str) -> DataError:
    """The DataError for a file that changed while it was read."""
    return DataError(name, "the file changed while it was read (something wrote to it); "
                           "run again once nothing writes to it")


def reason(exc: BaseException) -> str:
    """A library's exception as a short phrase for a message (one line, at most 100 chars)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 100 else text[:97] + "..."
