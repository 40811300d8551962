"""The one text reader: CSV, TSV and whitespace-separated numbers, from any byte source.

read_points (in memory) and the out-of-core cache (io.cache) both read text here, through
the same three steps, so they give the same values and the same errors, with file, line
and column:

1. ``open_input(path)``: a forward-only byte stream (``Input``) over a regular file, a pipe,
   standard input, or a compressed file (gzip, bzip2, xz, and zstd when the zstandard
   package is importable), recognised by extension or by magic number.  Standard input is
   read in blocks like any stream, never copied whole first (the earlier reader held the
   whole input as bytes and as text: 6.7x the memory of the file).
2. ``prologue(inp, ...)``: the first content lines decide the delimiter (sniffed for
   other text), whether there is a header, R row names or a trailing delimiter, and the
   field count; it refuses a delimiter the file does not use, and notes what a user
   should hear (repeated names made unique, a header that is not UTF-8).  Where ','
   does not separate the fields and the first rows write numbers with decimal commas
   (1,5) and none with a decimal point, the file's decimal mark is ',' (_decimal_mark):
   the fast parsers then read each chunk with its commas made points (a chunk that holds
   a '.' goes to the locator, which names a number written the other way), and the
   whole-file pandas parse below is not tried.
3. ``iter_chunks(inp, plan)``: the data bytes cut at line ends into chunks (1 MiB for
   loadtxt, 4 MiB for pandas),
   each parsed by a fast C parser; a chunk the fast parser refuses, or whose values are
   not all finite, goes to the exact locator (``locate``) on that chunk's lines alone,
   which raises the first problem (line, column, the same message every path gives) or,
   where the fast parser was only stricter (a whitespace-only line in the middle, a
   quoted number after a space), returns its own values.

The fast parser is numpy.loadtxt while the input is small and pandas' C parser once it
is large (``PANDAS_MIN_BYTES``).  Measured on 2 cores: ``import pandas`` costs ~0.35 s
(numpy ~0.09 s) and the end-to-end crossover is at 30-40 MB of text, so a 350-row fit
never imports pandas.  pandas' results equal numpy.loadtxt's bit for bit (both round
correctly; checked in the tests), so which parser read a chunk never shows in the values.

A large regular uncompressed file is first given to pandas whole, by its path: pandas 3
parses a path on a thread pool (1,000,000 x 16, 210 MB: ~0.45 s and both cores), while
the same bytes from memory take 0.9-1.2 s on one core; pd.read_csv(BytesIO) holds the
GIL for much of its work, so threads of ours parsing chunks gained nothing (measured:
two threads were slower than one).  The cost is memory: pandas maps the file and holds
every column piece and then the assembled block (peak RSS 3.7x the float64 result, 2.0x
in anonymous memory), and its Fortran-ordered block is then copied to C order, which
Points.x promises and which keeps in-memory and out-of-core sums in the same order: the
read's peak RSS is pandas' own, its anonymous peak 2.2x (benchmarks/read_csv.py).  Comments make pandas' path-parse serial and
twice as slow, so it runs without them, and a file with a comment among its data is
refused and read by chunks.  Everything else (streams, compressed files, the cache, a
file pandas refused) is read chunk by chunk, one chunk at a time: peak memory is the
result plus one chunk's work (standard input: 1.8x the result, against 6.7x for the
earlier reader).

Both parsers read every field of every row (the rows' widths are then checked by the
parser itself) and the selected columns are taken afterwards; pandas reads unselected
columns with its own type inference, and a short row shows as a missing value in the
last column.  Everything valid that a spreadsheet or a script writes stays on the fast
path: quotes, comments ('#', only turned on in pandas for a chunk that holds a '#', as
it costs pandas its speed), blank lines, trailing whitespace-only lines, CRLF, a UTF-8
byte-order mark (dropped when the stream is opened).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import stat
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from dataclasses import dataclass, replace
from typing import Any, BinaryIO, Protocol, TextIO

import numpy as np
from numpy.typing import NDArray

from ..interrupts import stop_point
from ..vocab import counted
from .errors import (
    INFINITE_HINT,
    MISSING_REMEDIES,
    SELECT_COLUMNS,
    STDIN_NAME,
    DataError,
    changed_error,
    file_version,
    open_error,
    printable,
    reason,
)
from .formats import CODEC_BY_EXT, DELIMITER_ALIASES, delimiter_problem, text_extension
from .missing import Missing, PerColumn, each, per_column, refused

__all__ = [
    "CHUNK_BYTES",
    "DELIMITER_BY_EXT",
    "NPY_MAGIC",
    "PANDAS_MIN_BYTES",
    "SMALL_CHUNK_BYTES",
    "STDIN_NAME",
    "ByteReader",
    "ChunkPlan",
    "CommentLines",
    "Input",
    "Layout",
    "check_text_head",
    "delimiter_option",
    "iter_chunks",
    "locate",
    "make_plan",
    "no_rows_error",
    "not_npy_error",
    "open_input",
    "parse_chunk",
    "prologue",
    "read_text",
    "resolve_columns",
    "text_delimiter",
    "with_note",
]


#: Text at least this large is parsed by pandas (imported then), smaller text by loadtxt.
PANDAS_MIN_BYTES = 32 << 20
#: Bytes of text per chunk parsed by pandas: each call costs about a millisecond (a 4 MiB
#: chunk of 1,000,000 x 16 takes ~20 ms), so larger chunks buy little but memory.
CHUNK_BYTES = 4 << 20
#: Bytes of text per chunk parsed by loadtxt, whose per-call cost is small; its working
#: memory is about 2.5x the chunk (the lines as str objects, the values).
SMALL_CHUNK_BYTES = 1 << 20
#: A chunk grows to this many bytes at most to hold the end of a record whose quoted field
#: holds line breaks; a quote left open that long is the parser's error to report.
QUOTED_BYTES = 64 << 20
#: First bytes looked at for the prologue (grown while the first two lines do not fit).
HEAD_BYTES = 64 << 10
#: Blocks read from a stream at a time.
READ_BYTES = 1 << 20

#: The longest field the csv module reads while this module reads (its default, 128 KiB,
#: would make a long text field in the first lines, or in a chunk the reference parser
#: reads, an error of its own where pandas reads any length): 2 GiB - 1, what a C long
#: holds everywhere.  The limit is the csv module's, for the whole process: it is raised
#: only while a read needs it (long_fields) and put back after.
FIELD_SIZE_LIMIT = 2**31 - 1
_limit_lock = threading.Lock()
_limit_holders = 0
_limit_before = 0


@contextmanager
def long_fields() -> Iterator[None]:
    """csv's field size limit raised to FIELD_SIZE_LIMIT within, and put back once the last
    of the threads reading within has left."""
    global _limit_holders, _limit_before
    with _limit_lock:
        if _limit_holders == 0:
            _limit_before = csv.field_size_limit(FIELD_SIZE_LIMIT)
        _limit_holders += 1
    try:
        yield
    finally:
        with _limit_lock:
            _limit_holders -= 1
            if _limit_holders == 0:
                csv.field_size_limit(_limit_before)

NPY_MAGIC = b"\x93NUMPY"
DELIMITER_BY_EXT = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_CODEC_BY_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"),
                   (b"\x28\xb5\x2f\xfd", "zstd"))
_BOM = b"\xef\xbb\xbf"
_SNIFF_CANDIDATES = (",", "\t", ";", "|")
#: The head of a text input is refused as not text when more than one byte in this many
#: is not UTF-8 text (a stray Latin-1 byte in a header is warned about instead).
NOT_TEXT_SHARE = 10
#: Data rows of the head that the prologue looks at to decide what an extra field holds.
SAMPLE_ROWS = 200
#: Patterns used once per error or per file: compiled by re when first used (and kept in
#: its cache), not when this module is imported.
_DECIMAL_COMMA = r"[+-]?\d+,\d+([eE][+-]?\d+)?"
_DECIMAL_POINT = r"[+-]?\d*\.\d+([eE][+-]?\d+)?|[+-]?\d+\.\d*([eE][+-]?\d+)?"
_LINE_BREAK = rb"\r\n|\r|\n"
_TEXT_BREAK = "\r\n?|\n"  # the same, of decoded text
#: Every byte but '"' and the line breaks' (what _records_end deletes).
_NOT_QUOTE_OR_BREAK = bytes(b for b in range(256) if b not in b'"\r\n')
_BOOL_WORDS = (b"rue", b"RUE", b"alse", b"ALSE")


# --------------------------------------------------------------------------- byte sources


class _Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes | str: ...


class ByteReader:
    """A byte stream read forward once, through one buffer that keeps what was peeked at.

    The buffer is a bytearray read into in blocks of at most READ_BYTES and compacted in
    place, so taking a chunk copies its bytes once.  Errors of the underlying stream
    become DataErrors naming the input: a failed read of a file, or (codec set) a corrupt
    or truncated compressed stream.
    """

    def __init__(self, raw: _Readable, name: str, codec: str | None = None) -> None:
        self._raw = raw
        self.name = name
        self.codec = codec
        self._buf = bytearray()
        self._pos = 0
        self._eof = False

    def _fill(self, size: int) -> int:
        """Buffer at least size bytes (fewer at the end); returns how many are buffered."""
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        while len(self._buf) < size and not self._eof:
            block = self._raw_read(min(READ_BYTES, size - len(self._buf)))
            self._eof = not block
            self._buf += block
        return len(self._buf)

    def _raw_read(self, n: int) -> bytes:
        try:
            block = self._raw.read(n)
        except OSError as exc:
            if self.codec is None:
                raise open_error(self.name, exc) from exc
            raise self._corrupt(exc) from exc
        except Exception as exc:  # each decompressor raises its own types
            if self.codec is None:
                raise
            raise self._corrupt(exc) from exc
        if isinstance(block, str):  # a text stream handed in by mistake
            return block.encode("utf-8")
        return block or b""

    def _corrupt(self, exc: BaseException) -> DataError:
        return DataError(self.name, f"cannot decompress the {self.codec} data ({reason(exc)}); "
                                    "is the file complete?")

    def _take(self, n: int) -> bytes:
        with memoryview(self._buf) as view:
            out = bytes(view[self._pos : self._pos + n])
        self._pos += len(out)
        return out

    def peek(self, size: int) -> bytes:
        """The next size bytes (fewer at the end), left to be read again."""
        self._fill(size)
        with memoryview(self._buf) as view:
            return bytes(view[:size])

    def skip(self, size: int) -> None:
        self._fill(size)
        self._pos = min(size, len(self._buf))

    def read(self, size: int = -1) -> bytes:
        """Up to size bytes, everything left when size < 0 (a decompressor reads this way)."""
        if size < 0:
            while not self._eof:
                self._fill(len(self._buf) - self._pos + READ_BYTES)
            size = len(self._buf) - self._pos
        self._fill(size)
        return self._take(size)

    def take_lines(self, size: int, delim: str | None = ","
                   ) -> tuple[bytes, int | None]:
        """About size bytes of whole records (more for a record longer than size; b"" at
        the end), and where among them a record starts whose quoted field does not end
        (None: none does).  Called at the start of a record, it ends at the end of one: a
        line break within a quoted field does not end a record (_records_end; delim: the
        fields' delimiter, None for runs of whitespace)."""
        while True:
            have = self._fill(size)
            if have == 0:
                return b"", None
            at_end = self._eof and have <= size
            cut = _complete(self._buf, min(size, have), at_end)
            left_open = None
            if cut:
                cut, left_open = _records_end(self._buf, cut, delim, at_end=at_end,
                                              give_up=size >= QUOTED_BYTES)
            if cut:
                return self._take(cut), left_open
            size *= 2


def _decompressor(codec: str, raw: _Readable, name: str) -> _Readable:
    """A readable stream of the decompressed bytes of raw."""
    source: Any = raw  # the decompressors only call read(n)
    if codec == "gzip":
        import gzip

        return gzip.GzipFile(fileobj=source, mode="rb")
    if codec == "bzip2":
        import bz2

        return bz2.BZ2File(source, "rb")
    if codec == "xz":
        import lzma

        return lzma.LZMAFile(source, "rb")
    try:
        import zstandard
    except ImportError as exc:
        raise DataError(name, "reading zstd-compressed data needs the zstandard package; "
                              "install it with pip install zstandard, or decompress it first "
                              "(zstd -dc FILE | emgmm fit -)") from exc
    reader: _Readable = zstandard.ZstdDecompressor().stream_reader(source,
                                                                   read_across_frames=True)
    return reader


@dataclass
class Input:
    """One input's text as a forward-only byte stream.

    name: the path or "<stdin>" (for messages); reader: the bytes, decompressed, with a
    UTF-8 byte-order mark dropped; size: the bytes of text when known before reading (a
    regular uncompressed file), else None; path: the file, for formats numpy or pandas
    open themselves (.npy, .parquet), when it is a regular file.
    """

    name: str
    reader: ByteReader
    size: int | None
    path: str | None
    _close: Callable[[], None] | None = None
    _version: tuple[int, ...] | None = None

    def check_unchanged(self) -> None:
        """Raise DataError if the regular file read is no longer the one opened (written to,
        truncated or replaced while it was read): what was read may be part of each."""
        if self.path is None or self._version is None:
            return
        try:
            now = file_version(os.stat(self.path))
        except OSError:
            now = None
        if now != self._version:
            raise changed_error(self.name)

    def close(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None

    def __enter__(self) -> Input:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stdin_stream(stdin: BinaryIO | TextIO | None) -> _Readable:
    stream: Any = stdin
    if stream is None and sys.stdin is not None:
        stream = getattr(sys.stdin, "buffer", sys.stdin)
    if stream is None:
        raise DataError(STDIN_NAME, "there is no standard input; give a file name")
    isatty = getattr(stream, "isatty", None)
    if callable(isatty) and isatty():
        raise DataError(
            STDIN_NAME,
            "standard input is a terminal; pipe the data in (for example: "
            "cat data.csv | emgmm COMMAND ... -) or give a file name",
        )
    readable: _Readable = stream
    return readable


def _codec_of(name: str, head: bytes) -> str | None:
    """The compression of an input: by its extension, else by its magic number."""
    ext = os.path.splitext(name)[1].lower()
    if ext in CODEC_BY_EXT:
        return CODEC_BY_EXT[ext]
    for magic, codec in _CODEC_BY_MAGIC:
        if head.startswith(magic):
            return codec
    return None


def open_input(path: str, *, stdin: BinaryIO | TextIO | None = None,
               decompress: bool = True) -> Input:
    """The bytes of path ("-": of stdin, default sys.stdin.buffer; stdin given: those
    bytes, read before from stdin or from path), ready to be read once.

    Raises DataError for a missing, unreadable or empty input, a directory, a terminal on
    stdin, a .zip archive, or .zst data without the zstandard package.
    """
    version = None
    if path == "-" or stdin is not None:  # stdin, or path's bytes read before
        name = STDIN_NAME if path == "-" else path
        fh, size, regular = _stdin_stream(stdin), None, False
        close: Callable[[], None] | None = None
    else:
        name = path
        fh, size, regular = _open_file(path)
        close = fh.close
        version = file_version(os.fstat(fh.fileno())) if regular else None
    try:
        raw = ByteReader(fh, name)
        head = raw.peek(8)
        if not head:
            raise DataError(name, "standard input is empty; pipe data in or give a file name"
                            if path == "-" else "file is empty")
        if path != "-" and os.path.splitext(path)[1].lower() == ".zip":
            raise DataError(path, "zip archives are not read directly; extract the data file "
                                  f"first (unzip -p {path} | emgmm fit -)")
        codec = _codec_of(name, head) if decompress else None
        reader = raw if codec is None else ByteReader(_decompressor(codec, raw, name), name, codec)
        if reader.peek(3) == _BOM:
            reader.skip(3)
    except BaseException:
        if close is not None:
            close()
        raise
    return Input(name, reader, size if codec is None else None,
                 path if regular else None, close, version)


def _open_file(path: str) -> tuple[BinaryIO, int | None, bool]:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise open_error(path, exc) from exc
    if stat.S_ISDIR(st.st_mode):
        raise DataError(path, "is a directory, not a file; give the path of a data file")
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise open_error(path, exc) from exc
    regular = stat.S_ISREG(st.st_mode)
    return fh, st.st_size if regular else None, regular


def check_text_head(name: str, head: bytes, codec: str | None = None) -> None:
    """Refuse binary content early with a message that names what it probably is (codec:
    the compression the head was read through, which no extension undoes)."""
    for magic, what, ext in ((NPY_MAGIC, ".npy", ".npy"), (b"PAR1", "Parquet", ".parquet")):
        if head.startswith(magic):
            raise DataError(name, f"holds {what} data, not text; give the file a {ext} "
                                  "extension" if codec is None else
                                  f"holds {codec}-compressed {what} data, not text; "
                                  f"decompress it to a {ext} file")
    if head.startswith(b"PK\x03\x04"):
        raise DataError(name, "is a zip archive; extract the data file first")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        raise DataError(
            name,
            "looks like a binary file or UTF-16 text; save the data as UTF-8 text "
            "(CSV/TSV) or as .npy",
        )
    odd = _not_text(head)
    if odd * NOT_TEXT_SHARE > len(head):
        raise DataError(
            name,
            f"is not UTF-8 text ({odd} of its first {len(head)} bytes are not); save the "
            "data as UTF-8 text (CSV/TSV) or as .npy",
        )


def not_npy_error(name: str, head: bytes) -> DataError:
    """The error for a .npy file whose first bytes are not numpy's magic number: what they
    are, where that can be told (compressed, Parquet, text), and what to do."""
    codec = next((codec for magic, codec in _CODEC_BY_MAGIC if head.startswith(magic)), None)
    if codec is not None:
        return DataError(name, f"is {codec}-compressed, not a .npy file; decompress it first")
    if head.startswith(b"PAR1"):
        return DataError(name, "holds Parquet data, not .npy; give the file a .parquet "
                               "extension")
    if head and _not_text(head) * NOT_TEXT_SHARE <= len(head):
        return DataError(name, "holds text, not .npy data; give the file a .csv, .tsv or "
                               ".txt extension")
    return DataError(name, "is not a .npy file (it does not start as numpy.save writes "
                           "one); write it with numpy.save")


def _not_text(data: bytes) -> int:
    """How many bytes of data are not UTF-8 text: invalid sequences and control characters
    other than whitespace (a multi-byte character cut at the end does not count)."""
    text = data.decode("utf-8", errors="surrogateescape")
    bad = sum(1 for c in text if "\udc80" <= c <= "\udcff"
              or (c < " " and c not in "\t\n\r\f\v") or c == "\x7f")
    tail = len(data) - len(data.rstrip(bytes(range(0x80, 0x100))))
    return max(0, bad - min(tail, 3))


# --------------------------------------------------------------------------- delimiters


def delimiter_option(delimiter: str, source: str) -> str | None:
    """The delimiter character of a --delimiter value, or None for runs of whitespace (a
    DataError naming source where it is none: the command line and ReadOptions refuse
    such a value before any input is opened)."""
    problem = delimiter_problem(delimiter)
    if problem is not None:
        raise DataError(source, problem)
    return DELIMITER_ALIASES.get(delimiter, delimiter)


def text_delimiter(path: str, delimiter: str | None) -> tuple[str | None, bool]:
    """(delimiter, sniff) for a text input: the option's, else the extension's
    (text_extension), else sniffed."""
    if delimiter is not None:
        return delimiter_option(delimiter, STDIN_NAME if path == "-" else path), False
    ext = text_extension(path)
    if path != "-" and ext in DELIMITER_BY_EXT:
        return DELIMITER_BY_EXT[ext], False
    # .txt, other extensions, none (/dev/stdin, <(command)) and stdin: sniffed, CSV by default
    return ",", True


# --------------------------------------------------------------------------- fields


def _strip_comment(line: str, seps: str | None = None, quoted: bool = False
                   ) -> tuple[str, bool]:
    """line up to its first '#' outside double quotes (a quoted '#' is text, as numpy's
    and pandas' parsers read it: a column "id #1"), and whether the line ends within a
    quoted field.  quoted: whether it starts within one (the line before ended so).
    seps: the characters a field starts after (the delimiter and the line break): a '"'
    opens a quoted field only there, one within an unquoted field is text; None (the
    delimiter not known yet): every '"' outside quotes opens one.  Within a quoted field
    '""' is a '"'."""
    if not quoted and '"' not in line:
        cut = line.find("#")
        return (line if cut < 0 else line[:cut]), False
    i = 0
    while True:
        if quoted:
            j = line.find('"', i)
            if j < 0:
                return line, True
            quoted = line.startswith('"', j + 1)  # '""' within: text, still quoted
            i = j + 1 + quoted
            continue
        hash_, quote = line.find("#", i), line.find('"', i)
        if hash_ >= 0 and (quote < 0 or hash_ < quote):
            return line[:hash_], False
        if quote < 0:
            return line, False
        quoted = seps is None or quote == 0 or line[quote - 1] in seps
        i = quote + 1


def unquote(text: str) -> str:
    """A field without its surrounding blanks and one pair of quotes ('"1"' -> '1')."""
    value = text.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].strip()
    return value


#: A field of whitespace-separated text, as pandas reads it: one that starts with '"' runs
#: to its closing quote ('""' within is a quote; none: to the end of the line), then on to
#: the next whitespace; any other field, to the next whitespace.
_BLANK_FIELD = r'"(?:[^"]|"")*(?:"\S*|$)|[^\s"]\S*'


def _split(text: str, delim: str | None) -> list[str]:
    """Fields of one (comment-free) line, in whitespace-separated text each as written
    (quotes and all: R's write.table quotes text, '"New York"', which is one field)."""
    if delim is None:
        return re.findall(_BLANK_FIELD, text)
    with long_fields():
        return next(csv.reader([text.rstrip("\r\n")], delimiter=delim, quotechar='"'), [])


def _kind(text: str) -> str:
    """'empty', 'number' or 'text' for one field (header detection).  A number written
    with a decimal comma (1,5) counts as a number here, so that the header above it is
    seen as one and the reader's error names the decimal comma, not the header; R's NA
    is a missing value (MISSING_WORDS), as an empty field is: not text, which made a first
    row of data that holds one the header, and a header over one a column of text."""
    value = unquote(text)
    if value in MISSING_WORDS:
        return "empty"
    if "_" in value:
        return "text"
    try:
        float(value)
    except ValueError:
        return "number" if re.fullmatch(_DECIMAL_COMMA, value) else "text"
    return "number"


def _show(value: str, limit: int = 40) -> str:
    text = value if value.isprintable() else value.encode("unicode_escape").decode("ascii")
    return _clipped(text, limit)


#: Fields that are a missing value where missing values are allowed (any spelling of NaN
#: that float() reads counts too): R writes NA.
MISSING_WORDS = ("", "NA")


def missing_word(text: str) -> bool:
    """Whether a field, blanks around it or not, is a missing value as the readers take
    it: one of MISSING_WORDS or a NaN."""
    word = text.strip()
    return word in MISSING_WORDS or word.lower().lstrip("+-") == "nan"


def _missing_value(value: str, source: str, lineno: int, column: str) -> DataError:
    """A missing value where none is allowed: where it is, and the remedies (the rows
    left out, or fitted through their observed values)."""
    shown = f"'{_show(value)}'" if value else "(empty field)"
    return DataError(source, f"missing value {shown}", line=lineno, column=column,
                     advice=MISSING_REMEDIES)


def _number(value: str, decimal: str = ".") -> float:
    """The number a field holds, written with this decimal mark ('.' or ','; with ',' a
    field that holds '.' is none), or ValueError."""
    if "_" in value or (decimal != "." and "." in value):
        raise ValueError(value)
    return float(value if decimal == "." else value.replace(decimal, "."))


def _parse_value(raw: str, source: str, lineno: int, column: str,
                 missing: bool = False, decimal: str = ".") -> float:
    value = unquote(raw)
    if value in MISSING_WORDS:
        if missing:
            return math.nan
        raise _missing_value(value, source, lineno, column)
    try:
        number = _number(value, decimal)
    except ValueError:
        hint, advice = _not_a_number(value, decimal)
        raise DataError(source, f"non-numeric value '{_show(value)}'; {hint}", line=lineno,
                        column=column, advice=advice) from None
    if math.isnan(number):
        if missing:
            return number
        raise _missing_value(value, source, lineno, column)
    if not math.isfinite(number):
        raise DataError(
            source, f"non-finite value '{_show(value)}'; {INFINITE_HINT}", line=lineno, column=column
        )
    return number


def _not_a_number(value: str, decimal: str) -> tuple[str, tuple[str, ...]]:
    """What to do about a field that is not a number: the words, and the advice
    (DataError.advice) the caller says in its own terms."""
    if decimal != "." and re.fullmatch(_DECIMAL_POINT, value):
        return ("the first rows write decimal commas (1,5), this field a decimal point; "
                "write every number one way"), ()
    if decimal == "." and re.fullmatch(_DECIMAL_COMMA, value):
        return ("decimal commas (1,5) are read only where ',' does not separate the "
                "fields and the first rows write them, and no decimal point (1.5); write "
                "every number one way"), ()
    return "fix or remove the row", (SELECT_COLUMNS,)


# --------------------------------------------------------------------------- prologue


@dataclass(frozen=True)
class Layout:
    """What the prologue of a text input said about its shape.

    delim: the delimiter, None for runs of whitespace; start_line: the data are the
    content lines after this line (the header's, or 0); n_fields: fields per data row
    (row names and a trailing empty field included); names: the data columns' names (row
    names excluded); offset: 1 if the first field of each row holds R-style row names;
    header_fields: the header's field count (0 without one); trailing: every row ends
    with an empty field (a trailing delimiter), which is not a column; notes: what the
    reader decided that a user should hear (repeated names made unique, a first row of
    whole numbers read as data, a header that is not UTF-8, decimal commas), one line
    each; decimal: the decimal mark of the numbers, '.' or ',' (_decimal_mark).
    """

    delim: str | None
    start_line: int
    n_fields: int
    names: list[str]
    offset: int
    has_header: bool
    header_fields: int
    trailing: bool = False
    notes: tuple[str, ...] = ()
    decimal: str = "."


def _looks_like_header(first: list[str], second: list[str] | None) -> bool:
    kinds = [_kind(f) for f in first]
    if "text" not in kinds:
        return False
    if second is None:
        return True
    offset = 1 if len(second) == len(first) + 1 else 0
    for j, kind in enumerate(kinds):
        if kind != "text":
            continue
        below = j + offset
        if below >= len(second) or _kind(second[below]) != "text":
            return True
    # every non-numeric field stands over text: a string column, not a header
    return False


#: Text in double quotes ('""' within it a quote), which no delimiter is sniffed in.
_QUOTED_TEXT = re.compile(r'"(?:[^"]|"")*"')


def _sniff(first_line: str, second_line: str | None) -> str | None:
    """The delimiter the first content lines show: ',', tab, ';', '|' or whitespace (None).

    A first line with spaces over a second line without them is a one-column CSV whose
    header name holds a space, not whitespace-separated text; ',' gives way to another
    delimiter that separates numbers written with decimal commas (_decimal_commas_split).
    A delimiter within double quotes is a name's text (a tab-separated header
    "a,b"<tab>"c" is not comma-separated).
    """
    bare = _QUOTED_TEXT.sub("", first_line)
    for cand in _SNIFF_CANDIDATES:
        if cand in bare:
            if cand != ",":
                return cand
            return next((other for other in (*_SNIFF_CANDIDATES[1:], None)
                         if _decimal_commas_split(other, first_line, second_line)), ",")
    if second_line is not None and len(first_line.split()) > 1 and len(second_line.split()) == 1:
        return ","
    return None


def _decimal_commas_split(delim: str | None, first_line: str, second_line: str | None
                          ) -> bool:
    """Whether delim, not ',', separates the fields of the first lines: they split into
    as many fields (two or more) at it, and the last of them into numbers only, some
    with decimal commas (1,5;2,25)."""
    lines = [first_line] + ([second_line] if second_line is not None else [])
    counts = {len(_split(line, delim)) for line in lines}
    if len(counts) != 1 or counts.pop() < 2:
        return False
    values = [unquote(f) for f in _split(lines[-1], delim)]
    return all(_kind(v) == "number" for v in values) and any(
        re.fullmatch(_DECIMAL_COMMA, v) for v in values)


class _Lines:
    """The comment-stripped content lines of a text, numbered from first_line.

    Blank lines and lines holding only whitespace or a comment are skipped; lineno is
    the number of the line last returned.  Lines end at '\\n', '\\r\\n' or '\\r'.
    delim: the fields' delimiter, where a quoted field may run over line breaks (the
    locator's records): a line within one is its text, blank or holding a '#' (see
    _strip_comment).
    """

    def __init__(self, text: str, base_line: int = 0, delim: str | None = None) -> None:
        self._stream = io.StringIO(text, newline=None)
        self.lineno = base_line
        self._seps = None if delim is None else delim + "\n"
        self._quoted = False
        #: the line the quoted field the text ends within starts on (None: it ends
        #: within none); the locator refuses such a text (pandas: "EOF inside string")
        self.open_quote: int | None = None
        #: the comment cut from the line last returned ('#' and what follows) where it
        #: starts a field (after the delimiter: a spreadsheet's #DIV/0!), or ""
        self.comment = ""
        self._delim = delim
        #: the line the record of the line last returned starts on
        self.record_start = base_line

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        while True:
            line = self._stream.readline()
            if not line:
                raise StopIteration
            self.lineno += 1
            within = self._quoted
            content, quoted = _strip_comment(line, self._seps, within)
            self.comment = line[len(content):].strip() if (
                not quoted and _delim_ends(content, self._delim)) else ""
            if self._seps is not None:
                if quoted and not within:
                    self.open_quote = self.lineno
                self._quoted = quoted
                if not quoted:
                    self.open_quote = None
            if within or content.strip():  # a break within quotes is the field's text
                if not within:
                    self.record_start = self.lineno
                return content if quoted and self._seps is not None else content.rstrip("\n")

    def next_content(self) -> tuple[int, str] | None:
        line = next(self, None)
        return None if line is None else (self.lineno, line)


def _complete(data: bytes | bytearray, end: int, at_end: bool) -> int:
    """Where the complete lines of data[:end] end: after the last line break (at end, if
    the input ends there).  A '\\r' as the last byte may be half of a '\\r\\n', so it waits."""
    if at_end:
        return end
    cut = data.rfind(b"\n", 0, end) + 1
    if cut == 0:
        cut = data.rfind(b"\r", 0, end - 1) + 1
    return cut


@lru_cache(maxsize=8)
def _records(delim: str | None) -> re.Pattern[bytes]:
    """Whole records from the start, as the parsers read them: a '"' at the start of a
    field opens a quoted field (line breaks, delimiters and '#' within it are text, '""'
    is a '"'), a '"' within an unquoted field is text, '#' outside quotes begins a comment
    to the end of the line.  The loops are unrolled (each turn begins with a '"' or a
    '#'), so a failing record backtracks in linear time."""
    seps = (b" \t" if delim is None else re.escape(delim.encode("utf-8"))) + b"\r\n"
    plain = rb'[^"#\r\n]*'
    stray = rb'(?<=[^' + seps + rb'"])"+'
    quoted = rb'(?<![^' + seps + rb'])"[^"]*(?:""[^"]*)*"'
    record = (plain + rb'(?:(?:' + stray + rb'|' + quoted + rb'|#[^\r\n]*)' + plain
              + rb')*(?:\r\n|\n|\r(?=[^\n]))')
    return re.compile(rb'(?:' + record + rb')*')


def _odd_quote_lines(data: bytes | bytearray, end: int) -> bool:
    """Whether a line of data[:end] holds an odd number of '"' (a quoted field may then
    run over its line break)."""
    if data.find(b'"', 0, end) < 0:
        return False
    quotes = data[:end].translate(None, _NOT_QUOTE_OR_BREAK)
    return b'"' in quotes.replace(b'""', b"")  # each line's quotes, paired off


def _records_end(data: bytes | bytearray, cut: int, delim: str | None, *, at_end: bool,
                 give_up: bool) -> tuple[int, int | None]:
    """Where the whole records of data[:cut] end, data starting at the start of a record
    and cut just after a line break (or at the end of the input: at_end), and where a
    record starts whose quoted field does not end there (None: none).

    cut itself where no line of data[:cut] holds an odd number of '"' (a quoted field
    runs over a line break only from a line holding an odd number, but where a '"'
    within an unquoted field stands on the line it opens and the one it closes); else
    where the records _records reads end: 0 when not even the first ends there (its
    quoted field runs on: the caller reads more), but at the end of the input and where
    give_up (the chunk is as large as it may grow), where cut and the start of the record
    left open are returned.  Measured on 4 MiB of R's write.csv output (every row
    quoted): the test 5 ms, pandas' parse 26 ms, _records 120 ms."""
    if not _odd_quote_lines(data, cut):
        return cut, None
    records = _records(delim)
    match = records.match(data, 0, cut)
    end = 0 if match is None else match.end()
    if at_end:  # the last record, which may not end with a line break
        last = bytes(data[end:cut]) + b"\n"
        whole = records.fullmatch(last)
        return cut, None if whole is not None else end
    if end == 0 and give_up:
        return cut, 0
    return end, None


def _after_lines(data: bytes, n: int) -> int:
    """The byte offset just after the n-th line break of data (0 for n = 0)."""
    end = 0
    for _, match in zip(range(n), re.finditer(_LINE_BREAK, data)):
        end = match.end()
    return end


def _first_lines(inp: Input) -> tuple[_Lines, bytes, tuple[int, str] | None, tuple[int, str] | None]:
    """The first two content lines, from a head of the input grown until they fit."""
    size = HEAD_BYTES
    while True:
        head = inp.reader.peek(size)
        at_end = len(head) < size
        head = head[: _complete(head, len(head), at_end)]
        lines = _Lines(head.decode("utf-8", errors="replace"))
        first = lines.next_content()
        second = lines.next_content()
        if second is not None or at_end:
            return lines, head, first, second
        size *= 4


def prologue(inp: Input, delim: str | None, sniff: bool, header: bool | None) -> Layout:
    """Read the first content lines: delimiter, header, names, field count.

    Leaves inp's reader at the first byte after the header line (at the start without a
    header).  Raises DataError for binary content, for an input without data, for a
    delimiter the first lines do not hold while they hold another, and for rows one
    field longer than the header whose extra field is neither row names nor a trailing
    delimiter, or could be both.
    """
    check_text_head(inp.name, inp.reader.peek(4096), inp.reader.codec)
    lines, head, first, second = _first_lines(inp)
    if first is None:
        if lines.lineno == 0:
            raise DataError(inp.name, "file is empty")
        raise DataError(inp.name, "file is empty (only blank or comment lines)")
    first_no, first_text = first
    if sniff:
        delim = _sniff(first_text, second[1] if second is not None else None)
    else:
        _check_delimiter(inp.name, delim, first, second)
    first_fields = _split(first_text, delim)
    has_header = header if header is not None else _looks_like_header(
        first_fields, _split(second[1], delim) if second is not None else None)
    positional = None
    if not has_header:
        rows = _sample_rows(lines, delim, [first, *([second] if second else [])])
        positional = _positional_note(rows) if header is None else None
        if positional is None:
            return _with_decimal(_headerless(delim, rows, detected=header is None), rows)
        rows = rows[1:]
    elif second is None:
        raise DataError(
            inp.name,
            "the file has a header but no data rows; it needs at least one row of numbers",
            line=first_no,
        )
    else:
        rows = _sample_rows(lines, delim, [second])
    end = _after_lines(head, first_no)  # the header's line and those before it
    inp.reader.skip(end)
    header_line = head[_after_lines(head, first_no - 1):end].decode("utf-8", errors="replace")
    cut = _header_comment(header_line, delim)
    layout = _cut_header(inp.name, delim, first_no, first_fields, rows, cut)
    if positional is not None:
        layout = replace(layout, notes=(*layout.notes, positional))
    comment = None if cut is None else f"line {first_no}: {_comment_text(cut)}; {_QUOTE_HASH}"
    found = (_undecodable_header(head[:end], first_no), comment)
    layout = replace(layout, notes=(*layout.notes, *(n for n in found if n is not None)))
    return _with_decimal(layout, rows)


def _cut_header(name: str, delim: str | None, line: int, header: list[str], rows: list[Row],
                cut: str | None) -> Layout:
    """_with_header's layout, where the header's comment (cut: the text it took, or None)
    left the names the rows need: refused, saying so, where the rows have more fields
    than the names left, and where a first column looks like row names (a,#id,b over
    1,70,2.5: a named column whose names went with the comment)."""
    try:
        layout = _with_header(name, delim, line, header, rows)
        if cut is None or not layout.offset:
            return layout
    except DataError:
        if cut is None:
            raise
    raise DataError(name, f"{_comment_text(cut)}, and the rows have {len(rows[0][1])} fields "
                          f"to its {len(header)} names; {_QUOTE_HASH}", line=line)


def _decimal_mark(delim: str | None, rows: list[Row]) -> str:
    """',' where the fields are not separated by ',' and the first data rows write
    numbers with decimal commas (1,5) and none with a decimal point (1.5), as spreadsheets
    in many languages export them (fields then separated by ';' or tabs); '.' otherwise."""
    if delim == ",":
        return "."
    values = [unquote(f) for _, fields in rows for f in fields]
    commas = any(re.fullmatch(_DECIMAL_COMMA, v) for v in values)
    return "," if commas and not any(re.fullmatch(_DECIMAL_POINT, v) for v in values) else "."


def _with_decimal(layout: Layout, rows: list[Row]) -> Layout:
    """The layout with its decimal mark, and a note where it is ','."""
    if _decimal_mark(layout.delim, rows) == ".":
        return layout
    line = next(no for no, fields in rows  # the first that writes one
                if any(re.fullmatch(_DECIMAL_COMMA, unquote(f)) for f in fields))
    note = (f"line {line}: the numbers are written with decimal commas (1,5 is read as "
            "1.5)")
    return replace(layout, decimal=",", notes=(*layout.notes, note))


Row = tuple[int, list[str]]


def _sample_rows(lines: _Lines, delim: str | None, known: list[tuple[int, str]]) -> list[Row]:
    """The first data rows (their line numbers and fields): those already read, then the
    rest of the head's, up to SAMPLE_ROWS."""
    rows = [(no, _split(text, delim)) for no, text in known]
    while len(rows) < SAMPLE_ROWS and (more := lines.next_content()) is not None:
        rows.append((more[0], _split(more[1], delim)))
    return rows


def _delimiter_name(delim: str | None) -> str:
    return {None: "whitespace", "\t": "tab", " ": "space"}.get(delim, f"'{delim}'")


def _check_delimiter(name: str, delim: str | None, first: tuple[int, str],
                     second: tuple[int, str] | None) -> None:
    """Refuse a delimiter (from the extension or -d) that the first line does not hold
    while another one separates the fields of the first two lines alike."""
    if delim is None or delim in first[1]:
        return
    for cand in (*_SNIFF_CANDIDATES, None):
        if cand == delim:
            continue
        counts = [len(_split(text, cand)) for _, text in (first, *([second] if second else []))]
        if counts[0] > 1 and len(set(counts)) == 1:
            option = {None: "' '", "\t": "'\\t'"}.get(cand, f"'{cand}'")
            raise DataError(name, f"no {_delimiter_name(delim)} in the first line, but "
                                  f"{_delimiter_name(cand)} separates its fields; give the "
                                  f"delimiter with -d {option}", line=first[0])


def _headerless(delim: str | None, rows: list[Row], *, detected: bool) -> Layout:
    """The layout of data without a header: a trailing empty field is dropped."""
    width = len(rows[0][1])
    trailing = delim is not None and width > 1 and _empty_last(rows, width)
    n = width - trailing
    note = _numbers_note(rows) if detected else None
    notes = () if note is None else (note,)
    return Layout(delim, 0, width, [str(j) for j in range(n)], 0, False, 0, trailing, notes)


def _with_header(name: str, delim: str | None, line: int, header: list[str],
                 rows: list[Row]) -> Layout:
    """The layout under a header: a trailing empty field, R row names (under an empty
    first name, or one field more than the header holds) and unique column names."""
    names = [unquote(f) for f in header]
    width = len(rows[0][1])
    offset, trailing, notes = 0, False, []
    if width == len(names) > 1 and names[-1] == "" and delim is not None \
            and _empty_last(rows, width):
        names, trailing = names[:-1], True
    elif width == len(names) > 1 and names[0] == "" and _row_names(rows, width,
                                                                    distinct=True):
        names, offset = names[1:], 1
        notes.append(f"line {line}: the first column has no name and holds row names (text "
                     "or whole numbers, none repeated); it is not read as data")
    elif width == len(names) > 1 and names[0] == "":
        notes.append(f"line {line}: the first column has no name; it is read as data, as "
                     "column '0' (--columns can leave it out)")
    elif width == len(names) + 1:
        offset, trailing = _extra_field(name, delim, names, rows)
        if offset:  # said, as the unnamed first column's are: every name moves by one
            notes.append(f"line {line}: the rows have one field more than the header has "
                         "names, and the first holds row names (text or increasing whole "
                         "numbers), as R writes them; it is not read as data")
    names, repeats = _unique([nm or str(j) for j, nm in enumerate(names)], line)
    return Layout(delim, line, len(names) + offset + trailing, names, offset, True,
                  len(header), trailing, (*notes, *repeats))


def _extra_field(name: str, delim: str | None, names: list[str],
                 rows: list[Row]) -> tuple[int, bool]:
    """(offset, trailing) for rows one field longer than the header: the extra field is
    a trailing delimiter when it is empty in every row, R row names when the first field
    holds text or increasing whole numbers in every row; neither, or both, is an error."""
    width = len(names) + 1
    empty = delim is not None and _empty_last(rows, width)
    named = _row_names(rows, width)
    if empty != named:
        return (0, True) if empty else (1, False)
    filled = [(no, unquote(f[-1])) for no, f in rows if len(f) == width and unquote(f[-1])]
    if not named and delim is not None and 2 * len(filled) < len(rows):
        raise _trailing_value(name, *filled[0])
    shape = (f"the rows have {width} fields but the header has {len(names)} names "
             f"({_available(names, 5)})")
    if named:
        raise DataError(name, f"{shape}, and the extra field is ambiguous: the last field is "
                              "empty in every row, as after a trailing delimiter, and the "
                              "first holds row names; emgmm will not guess which to drop: "
                              "remove the trailing delimiters, or name the first column in "
                              "the header", line=rows[0][0])
    raise DataError(name, f"{shape}; the extra field is neither a trailing delimiter (an "
                          "empty last field in every row) nor row names (text or "
                          "increasing whole numbers in the first field of every row); "
                          "give every column a name in the header", line=rows[0][0])


def _empty_last(rows: list[Row], width: int) -> bool:
    """Whether the rows of this width all end with an empty field."""
    return all(unquote(f[-1]) == "" for _, f in rows if len(f) == width)


def _row_names(rows: list[Row], width: int, *, distinct: bool = False) -> bool:
    """Whether the first field of the rows of this width holds row names, as R writes
    them: text in every row, or whole numbers that increase from row to row; or, with
    distinct (a first column the header leaves unnamed), whole numbers none of which
    repeats: pandas' index after the rows were sorted or sampled."""
    firsts = [unquote(f[0]) for _, f in rows if len(f) == width]
    kinds = {_kind(v) for v in firsts}
    if kinds == {"text"}:
        return True
    if kinds != {"number"}:
        return False
    values = [_number(v, "," if re.fullmatch(_DECIMAL_COMMA, v) else ".") for v in firsts]
    if not all(v.is_integer() for v in values):
        return False
    if distinct:
        return len(set(values)) == len(values)
    return all(b > a for a, b in zip(values, values[1:]))


def unique_names(names: list[str]) -> list[str]:
    """The names with repeats made unique: the second 'x' becomes 'x.1' (as pandas reads
    it), or 'x.2' where 'x.1' is taken."""
    taken, out = set(names), []
    count: dict[str, int] = {}
    for nm in names:
        if nm in count:
            k = count[nm]
            while f"{nm}.{k}" in taken:
                k += 1
            count[nm] = k + 1
            taken.add(f"{nm}.{k}")
            out.append(f"{nm}.{k}")
        else:
            count[nm] = 1
            out.append(nm)
    return out


def repeated_names(names: list[str], unique: list[str], holder: str) -> list[str]:
    """For each name repeated in names, a note of what its columns are read as (unique,
    unique_names' of names); holder: what holds the names ("the header")."""
    where: dict[str, list[int]] = {}
    for j, nm in enumerate(names):
        where.setdefault(nm, []).append(j)
    notes = []
    for nm, cols in where.items():
        if len(cols) > 1:
            read_as = [f"'{unique[j]}'" for j in cols]
            notes.append(f"{holder} repeats the column name '{nm}'; the columns are read as "
                         f"{', '.join(read_as[:-1])} and {read_as[-1]}")
    return notes


def _unique(names: list[str], line: int) -> tuple[list[str], tuple[str, ...]]:
    """The names made unique (unique_names), and a note for each name that was repeated."""
    out = unique_names(names)
    return out, tuple(f"line {line}: {note}"
                      for note in repeated_names(names, out, "the header"))


def _numbers_note(rows: list[Row]) -> str | None:
    """A note when the first row, read as data, holds only whole numbers over columns
    that hold decimals below: a header of numbers (years, codes) perhaps."""
    (no, first), below = rows[0], rows[1:]
    if not below or not all(_whole(f) for f in first):
        return None
    width = len(first)
    decimals = [any(len(f) == width and not _whole(f[j]) for _, f in below)
                for j in range(width)]
    if not all(decimals):
        return None
    return (f"line {no} ({', '.join(_show(unquote(f), 12) for f in first[:6])}"
            f"{', ...' if width > 6 else ''}) holds whole numbers over columns of decimals; "
            "it is read as data: if it is a header, add --header")


def _positional_note(rows: list[Row]) -> str | None:
    """A note where the first row, read as data, holds the columns' positions 0, 1, ...,
    D - 1 (D >= 2) over columns that hold decimals below (_numbers_note's case): the
    names emgmm writes for unnamed columns (a model's feature names of headerless data,
    which sample writes as its header), read as the header; None otherwise."""
    no, first = rows[0]
    if len(first) < 2 or [unquote(f) for f in first] != [str(j) for j in range(len(first))] \
            or _numbers_note(rows) is None:
        return None
    return (f"line {no} ({', '.join(unquote(f) for f in first[:6])}"
            f"{', ...' if len(first) > 6 else ''}) {POSITIONAL_HEADER}: it is read as the "
            "header; if it is data, add --no-header")


#: What _positional_note says of such a header (a model's own names need no note).
POSITIONAL_HEADER = "numbers the columns from 0, as emgmm names unnamed columns"


def _whole(field: str) -> bool:
    value = unquote(field)
    return _kind(value) == "number" and not any(c in value for c in ".,eEnN")


def _header_comment(text: str, delim: str | None) -> str | None:
    """The text a comment took from the header where a field starts one: a name after
    the delimiter that begins with an unquoted '#' (`a,b,#id`, as pandas writes a column
    named "#id") is not read as a name.  A comment after a space (`a,b  # units`) is one
    on purpose (None)."""
    kept = _strip_comment(text)[0]
    cut = text[len(kept):].strip()
    if not cut or delim is None or not kept.endswith(delim):
        return None
    return cut


def _clipped(text: str, width: int = 30) -> str:
    """text, cut to width characters with '...' where longer."""
    return text if len(text) <= width else text[:width - 3] + "..."


def _comment_text(cut: str) -> str:
    return f"the header's text from '#' on is a comment, not column names ({_clipped(cut)})"


_QUOTE_HASH = "put a name that holds '#' in double quotes"


def _undecodable_header(data: bytes, line: int) -> str | None:
    """A note when the header's bytes are not UTF-8 (its names then hold U+FFFD)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = data[exc.start]
        return (f"line {line}: the header is not UTF-8 text (byte 0x{byte:02x}); its names "
                "hold U+FFFD in place of such bytes: save the file as UTF-8")
    return None


# --------------------------------------------------------------------------- columns


def _available(names: list[str], limit: int = 20) -> str:
    """The names, as --columns takes them (one that holds a comma in double quotes)."""
    shown = ", ".join(f'"{n}"' if "," in n else n for n in names[:limit])
    if len(names) > limit:
        shown += f", ... ({len(names)} in all)"
    return shown


def resolve_columns(columns: Sequence[str] | None, names: list[str], source: str) -> list[int]:
    """Indices of the selected columns: each entry a name or a 0-based index, spaces
    around it ignored (--columns "a, b") unless a column is named with them (a
    DataFrame's or a Parquet file's "height ": a text header's names are stripped).  A
    name with control characters is found by them or by their escapes (\x1b for ESC), as
    every name is shown and kept (errors.printable: a model's feature names)."""
    if columns is None:
        return list(range(len(names)))
    first_index: dict[str, int] = {}
    for j, nm in enumerate(names):
        first_index.setdefault(nm, j)
    for j, nm in enumerate(names):
        first_index.setdefault(printable(nm), j)
    chosen: list[int] = []
    for spec in columns:
        key = str(spec) if str(spec) in first_index else str(spec).strip()
        if key in first_index:
            j = first_index[key]
        elif key.isascii() and key.isdigit():
            j = int(key)
            if j >= len(names):
                raise DataError(
                    source,
                    f"column index {j} is out of range; there are {len(names)} columns "
                    f"(indices 0 to {len(names) - 1}): {_available(names)}",
                    column=key,
                )
        else:
            raise DataError(
                source, f"no such column; available columns: {_available(names)}", column=key
            )
        if j in chosen:
            raise DataError(source, "column selected more than once", column=key)
        chosen.append(j)
    return chosen


@dataclass(frozen=True)
class ChunkPlan:
    """Everything needed to parse one chunk: the layout, the selection and the dtype.

    usecols: the fields (row names counted) to keep, in the order asked for; names:
    their column names; large: parse with pandas (the input is at least PANDAS_MIN_BYTES).
    """

    source: str
    layout: Layout
    usecols: list[int]
    names: list[str]
    dtype: np.dtype
    large: bool
    #: where empty fields, NA and NaN are missing values (NaN in the result), not errors:
    #: in every column selected, none, or per column (io.missing)
    missing: PerColumn = False

    @property
    def use_all(self) -> bool:
        return self.usecols == list(range(self.layout.n_fields))


def make_plan(inp: Input, layout: Layout, columns: Sequence[str] | None,
              dtype: np.dtype, missing: Missing = False) -> ChunkPlan:
    """The plan for the columns asked for (DataError for an unknown or repeated column);
    missing: where empty fields, NA and NaN are read as missing values (NaN): io.missing."""
    sel = resolve_columns(columns, layout.names, inp.name)
    large = inp.size is not None and inp.size >= PANDAS_MIN_BYTES
    return ChunkPlan(inp.name, layout, [layout.offset + j for j in sel],
                     [layout.names[j] for j in sel], np.dtype(dtype), large,
                     per_column(missing, layout.names, sel))


# --------------------------------------------------------------------------- the exact locator


def locate(plan: ChunkPlan, text: str, base_line: int) -> NDArray[np.floating]:
    """The exact parser, on one chunk: every row, every selected field, in order.

    text: the chunk, whole lines; base_line: the number of lines before it.  Raises the
    first problem as a DataError with the source, line and column; returns the selected
    values (rows x len(usecols), plan.dtype) when there is none.  It defines what the
    format means; the fast parsers only ever agree with it or refuse.
    """
    layout, name = plan.layout, plan.source
    content = _Lines(text, base_line, layout.delim)
    records: Iterator[list[str]]
    if layout.delim is None:
        records = (_split(line, None) for line in content)
    else:
        records = csv.reader(content, delimiter=layout.delim, quotechar='"')
    rows: list[list[float]] = []
    linenos: list[int] = []
    columns = list(zip(plan.usecols, plan.names, each(plan.missing, len(plan.names))))
    with long_fields():
        for fields in records:
            lineno = content.record_start
            try:
                _check_width(layout, fields, name, lineno)
                rows.append([_parse_value(fields[j], name, lineno, nm, lax, layout.decimal)
                             for j, nm, lax in columns])
            except DataError as exc:
                first = not layout.has_header and not rows and base_line == layout.start_line
                raise _as_data(_with_comment(exc, content.comment), first) from None
            linenos.append(lineno)
    if content.open_quote is not None:  # csv takes the rest of the text for its field
        raise _left_open_error(name, content.open_quote)
    return _narrowed(plan, rows, linenos)


def _delim_ends(kept: str, delim: str | None) -> bool:
    """Whether a line's text before its comment ends with the delimiter (the comment
    starts a field: '3,#DIV/0!'), rather than after a value ('3,4 # note')."""
    return delim is not None and kept.rstrip(" \t".replace(delim, "")).endswith(delim)


def _as_data(exc: DataError, first: bool) -> DataError:
    """exc, about the first row of a text without a header (first), saying so where a
    field was no number: a header read as data (--no-header, or a header the detection
    took for data), whose names the message alone showed as 'non-numeric values'."""
    value, fix, rest = exc.message.partition("; fix or remove the row")
    if not first or not fix or not value.startswith("non-numeric value"):
        return exc
    return DataError(exc.source, f"{value}; this first row is read as data, not as a header "
                                 f"(--header reads it as one){rest}",
                     line=exc.line, column=exc.column)


def _with_comment(exc: DataError, comment: str) -> DataError:
    """exc, about a row whose line held a comment, saying so: a spreadsheet's error value
    (#DIV/0!, #N/A) starts one, and the row then looks short of fields or values."""
    if not comment:
        return exc
    return DataError(exc.source, f"{exc.message} (the line's text from '#' on, "
                                 f"{_clipped(comment)!r}, is a comment, not data)",
                     line=exc.line, column=exc.column, advice=exc.advice)


def _left_open_error(source: str, line: int) -> DataError:
    """The DataError of a quoted field that starts on line and does not end (the chunked
    reader's and the locator's alike)."""
    return DataError(source, "a quoted field starts in this row and does not end (a '\"' "
                             "left open?)", line=line)


def _check_width(layout: Layout, fields: list[str], name: str, lineno: int) -> None:
    """Refuse a row with the wrong number of fields.  Where the rows end with a trailing
    delimiter, a row may leave it out, and a row that has it must leave that field empty."""
    n = len(fields)
    if layout.trailing and n == layout.n_fields - 1:
        return
    if n != layout.n_fields:
        what = "the header" if layout.has_header else "the first row"
        raise DataError(
            name,
            f"expected {layout.n_fields - layout.trailing} fields, found {n}; every row "
            f"needs as many fields as {what}",
            line=lineno,
        )
    if layout.trailing and unquote(fields[-1]):
        raise _trailing_value(name, lineno, unquote(fields[-1]))


def _trailing_value(name: str, line: int, value: str) -> DataError:
    return DataError(name, f"a value after the last column ('{_show(value)}'); the rows end "
                           "with a trailing delimiter, so their last field must be empty",
                     line=line)


def _narrowed(plan: ChunkPlan, rows: list[list[float]], linenos: list[int]) -> NDArray[np.floating]:
    """rows in plan.dtype; a value too large for it (finite as a float64) is an error."""
    dt = plan.dtype
    with np.errstate(over="ignore"):
        x = np.array(rows, dtype=dt).reshape(len(rows), len(plan.usecols))
    bad = refused(x, plan.missing)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise DataError(plan.source, f"value {rows[i][j]!r} is out of range for {dt.name}",
                        line=linenos[i], column=plan.names[j])
    return x


# --------------------------------------------------------------------------- the fast parsers


def _loadtxt(plan: ChunkPlan, data: bytes) -> NDArray[Any] | None:
    """numpy's C parser on a chunk: every field of every row (so loadtxt checks the rows'
    widths), the unselected ones through a converter that reads nothing.

    The lines are given as a list (split at '\\n', loadtxt dropping a '\\r' before it, and
    at a '\\r' alone where the text holds one): 2.5x
    faster than a StringIO, whose buffer takes 4 bytes a character.  Trailing
    whitespace-only lines, which loadtxt takes for rows of one empty field, are cut off.
    """
    text = data.decode("utf-8", errors="replace")
    end = len(text)
    while end and text[end - 1].isspace():
        end -= 1
    cut = re.compile(_TEXT_BREAK).search(text, end)
    body = text if cut is None else text[: cut.end()]
    # a '\r' alone ends a line too (the locator's universal newlines): split there as well,
    # or loadtxt reads on past it, and a comment before it hides the lines after
    lines = (re.split(_TEXT_BREAK, body) if body.count("\r") != body.count("\r\n")
             else body.split("\n"))
    del text
    keep = set(plan.usecols)
    skip: dict[int | str, Callable[[str], float]] = {
        j: _zero for j in range(plan.layout.n_fields) if j not in keep}
    if plan.layout.trailing:
        skip[plan.layout.n_fields - 1] = _empty
    try:
        with _no_warnings():
            x = np.loadtxt(lines, dtype=plan.dtype, delimiter=plan.layout.delim, comments="#",
                           quotechar='"', converters=skip or None, ndmin=2)
    except (ValueError, IndexError, TypeError):
        return None
    return x


#: warnings.catch_warnings saves and restores the process's one list of filters: two
#: threads whose blocks overlap restore each other's list, and one left "ignore" in place
#: for good, silencing every warning of the program after it (Python before 3.14).  The
#: parsers' blocks take turns.
_WARNINGS_LOCK = threading.Lock()


@contextmanager
def _no_warnings() -> Iterator[None]:
    """No warning from the parsers inside (numpy's and pandas' own about text they are
    then refused for), whatever thread runs them."""
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _zero(field: str) -> float:
    return 0.0


def _empty(field: str) -> float:
    """The converter of a trailing delimiter's field: empty, else the locator says why."""
    if field.strip():
        raise ValueError(field)
    return 0.0


def _pandas_read(plan: ChunkPlan, source: str | io.BytesIO, *, trim: bool = False,
                 **options: Any) -> NDArray[Any] | None:
    """pandas' C parser on a file path or a chunk in memory: every field of every row
    (unselected columns keep pandas' own types), the selected columns copied out in
    plan.dtype, C-ordered.  None where pandas refuses the text, or where a row may be
    short: pandas pads a short row with missing values, so a missing value in an
    unselected last column (an empty field there, too) sends the text to the locator."""
    import pandas as pd

    layout = plan.layout
    dtype: Any = plan.dtype if plan.use_all else {j: plan.dtype for j in plan.usecols}
    try:
        with _no_warnings():
            frame = pd.read_csv(source, header=None, engine="c", dtype=dtype, quotechar='"',
                                sep=layout.delim or r"\s+", encoding="utf-8", **options)
    except Exception:  # pandas' ParserError, EmptyDataError, ValueError, UnicodeDecodeError
        return None
    if frame.shape[1] != layout.n_fields:
        return None
    if trim:
        _return_freed_memory()
    last = layout.n_fields - 1
    missing = frame.iloc[:, last].isna()
    if (not bool(missing.all())) if layout.trailing else (
            last not in plan.usecols and bool(missing.any())):
        return None
    # Copied into a C-ordered array by assignment: of a 1,000,000 x 16 frame (one float
    # block, whose to_numpy() is a Fortran-ordered view) 0.05 s, where ascontiguousarray
    # takes 0.4 s in a fresh process (it faults the new pages in while reading across).
    out = np.empty((frame.shape[0], len(plan.usecols)), dtype=plan.dtype)
    if plan.use_all:
        out[...] = frame.to_numpy()
    else:
        for k, j in enumerate(plan.usecols):
            out[:, k] = frame.iloc[:, j].to_numpy()
    return out


def _pandas(plan: ChunkPlan, data: bytes) -> NDArray[Any] | None:
    """pandas on one chunk; comments turned on only for a chunk that holds a '#' (they
    cost pandas half its speed)."""
    x = _pandas_read(plan, io.BytesIO(data), comment="#" if b"#" in data else None)
    if x is not None and _zero_one_column(x) and any(w in data for w in _BOOL_WORDS):
        return None
    return x


def _pandas_file(plan: ChunkPlan, path: str) -> NDArray[Any] | None:
    """pandas on a whole file by its path, which it parses on a thread pool (measured on
    2 cores, 1,000,000 x 16: 0.45 s against 0.9-1.2 s for the same bytes from memory,
    where it does not release the GIL enough for threads of ours to help).  Without
    comment handling, which would make it serial and twice as slow: a comment in the
    data makes it refuse, and the chunks then read the file.  None where it refuses, or
    where a column of 0s and 1s may have been true/false words (the file is searched for
    them only then: a 0/1 indicator column is common, true/false words are not)."""
    x = _pandas_read(plan, path, trim=True, skiprows=plan.layout.start_line)
    if x is None or (_zero_one_column(x) and _holds_words(path, _BOOL_WORDS)):
        return None
    return x


def _return_freed_memory() -> None:
    """Give the C heap's free memory back to the system (glibc's malloc_trim), where there
    is such a call.  pandas' parser threads free their buffers into malloc's arenas, which
    keep them: measured on 1,000,000 x 16, 0.4x the result still resident after
    read_csv returned, on top of which the C-ordered copy would be allocated."""
    try:
        import ctypes

        trim = ctypes.CDLL(None).malloc_trim
    except (ImportError, OSError, AttributeError):  # not glibc
        return
    trim(0)


def _all_finite(x: NDArray[Any], rows: int = 1 << 16) -> bool:
    """np.isfinite(x).all(), in blocks of rows (no mask the size of x)."""
    return all(bool(np.isfinite(x[i : i + rows]).all()) for i in range(0, x.shape[0], rows))


def _holds_words(path: str, words: tuple[bytes, ...]) -> bool:
    """Whether the file holds one of words (read in blocks that overlap by a word)."""
    overlap = max(len(w) for w in words) - 1
    tail = b""
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK_BYTES):
            data = tail + block
            if any(w in data for w in words):
                return True
            tail = data[-overlap:]
    return False


def _zero_one_column(x: NDArray[Any]) -> bool:
    """Whether a column holds only 0s and 1s: pandas reads a column of true/false words
    as 1.0/0.0 (where nothing else is in it), which the locator says are not numbers."""
    if x.shape[0] == 0:
        return False
    first = x[0]
    return any(bool(((x[:, j] == 0) | (x[:, j] == 1)).all())
               for j in np.flatnonzero((first == 0) | (first == 1)))


def parse_chunk(plan: ChunkPlan, data: bytes, base_line: int) -> NDArray[np.floating]:
    """One chunk's selected values: the fast parser's, or the exact locator's when the fast
    parser refuses the chunk or finds a value that is not finite.  With decimal commas
    (Layout.decimal), the fast parser reads the chunk with every ',' made a '.', where it
    holds no '.' (which such a file's numbers never hold: the locator says where)."""
    points = data if plan.layout.decimal == "." else (
        None if b"." in data else data.replace(b",", b"."))
    # numpy's parser joins a quoted field's lines without their break ('"1\n2"' read as
    # 12): pandas reads such a chunk (the test: _odd_quote_lines)
    by_pandas = plan.large or (points is not None and _odd_quote_lines(points, len(points)))
    if points is None:
        x = None
    elif by_pandas:
        x = _pandas(plan, points)
    else:
        x = _loadtxt(plan, points)
        if x is not None and x.shape[1] == plan.layout.n_fields:
            x = x if plan.use_all else x[:, plan.usecols]
        else:
            x = None
    if x is not None and x.shape[0] > 0 and (
            _all_finite(x) or (plan.missing is not False and not by_pandas
                               and not refused(x, plan.missing).any())):
        # loadtxt checks every row's width, so its NaN are NaN fields (missing values);
        # pandas pads a short row with NaN, so the locator reads pandas' NaN
        return np.ascontiguousarray(x)
    return locate(plan, data.decode("utf-8", errors="replace"), base_line)


# --------------------------------------------------------------------------- chunks


def _line_breaks(data: bytes) -> int:
    """How many lines data ends (universal newlines, as the locator counts them)."""
    n = data.count(b"\n")
    if b"\r" in data:
        n += data.count(b"\r") - data.count(b"\r\n")
    return n


#: A line that begins with '#' (after blanks, if any): a comment.
_COMMENT_LINE = re.compile(rb"^[ \t]*#[^\r\n]*", re.MULTILINE)


class CommentLines:
    """The comment lines among the data rows, seen chunk by chunk (iter_chunks): a line
    that begins with '#' is a comment, not a row, so a row that a spreadsheet began with
    '#N/A' is not read, and the outputs, one row for each row read, no longer line up
    with the file's lines.  Said in a note (those before the first row and after the last
    are not: a file's preamble and its end)."""

    def __init__(self) -> None:
        self.rows_seen = False
        self.pending = 0  # comment lines since the last row
        #: the first of them, where no earlier one stands among rows: only the first is
        #: named, so a line number is counted once, not for every comment (a chunk of
        #: 50,000 of them took seconds)
        self.pending_first: tuple[int, bytes] | None = None
        self.count = 0
        self.first: tuple[int, bytes] | None = None

    def see(self, data: bytes, base: int) -> None:
        """The chunk data, whose first line is line base + 1."""
        if b"#" not in data:
            self._rows(not data.isspace())
            return
        pos = 0
        for match in _COMMENT_LINE.finditer(data):
            self._rows(pos < match.start() and not data[pos:match.start()].isspace())
            if self.rows_seen:
                if self.first is None and not self.pending:
                    self.pending_first = (base + _line_breaks(data[:match.start()]) + 1,
                                          match.group().strip())
                self.pending += 1
            pos = match.end()
        self._rows(pos < len(data) and not data[pos:].isspace())

    def _rows(self, found: bool) -> None:
        """Rows were found (found): the comments before them stand among rows."""
        if not found:
            return
        self.rows_seen = True
        if self.pending:
            self.first = self.first or self.pending_first
            self.count += self.pending
            self.pending = 0

    def note(self) -> str | None:
        if self.first is None:
            return None
        line, text = self.first
        more = "" if self.count == 1 else (
            f", as {'is' if self.count == 2 else 'are'} "
            f"{counted(self.count - 1, 'more such line')}")
        shown = _clipped(printable(text.decode("utf-8", "replace")))
        return (f"line {line}: {shown!r} among the data rows begins with '#': a comment, not "
                f"a row{more} (the outputs have one row for each row read)")


def iter_chunks(inp: Input, plan: ChunkPlan, *, chunk_bytes: int | None = None,
                comments: CommentLines | None = None
                ) -> Iterator[tuple[NDArray[np.floating], int]]:
    """(selected values, bytes of data read so far) for each chunk of the data, in order.

    Call after prologue().  chunk_bytes: text per chunk (default CHUNK_BYTES for pandas,
    SMALL_CHUNK_BYTES for loadtxt).  One chunk is held at a time, so memory stays bounded whatever the input's size.  A stream's
    chunks switch from loadtxt to pandas once it has shown PANDAS_MIN_BYTES.  comments,
    where given, sees every chunk (CommentLines).  A chunk that does not parse, of a
    file that changed since it was opened, raises the error that says so
    (Input.check_unchanged): its rows may be half of each version.
    """
    done, base = 0, plan.layout.start_line
    while True:
        stop_point()  # a long read (or conversion to the cache) stops between chunks
        chunk_plan = _for_chunk(plan, inp, done)
        size = chunk_bytes or (CHUNK_BYTES if chunk_plan.large else SMALL_CHUNK_BYTES)
        data, left_open = inp.reader.take_lines(max(1, size), plan.layout.delim)
        if not data:
            return
        try:
            if left_open is not None:  # numpy's parser would take the rest for that field
                raise _left_open_error(plan.source, base + _line_breaks(data[:left_open]) + 1)
            parsed = parse_chunk(chunk_plan, data, base)
        except DataError:  # a file rewritten under the read: that, not a row it shows
            inp.check_unchanged()
            raise
        done += len(data)
        if comments is not None:
            comments.see(data, base)
        yield parsed, done
        base += _line_breaks(data)


def _for_chunk(plan: ChunkPlan, inp: Input, done: int) -> ChunkPlan:
    """plan, switched to pandas for a stream that has shown PANDAS_MIN_BYTES."""
    if plan.large or inp.size is not None or done < PANDAS_MIN_BYTES:
        return plan
    return replace(plan, large=True)


# --------------------------------------------------------------------------- in memory


class _Rows:
    """Rows appended chunk by chunk into one C-ordered buffer, grown in place.

    Sized from the input's size where known (the first chunk gives the bytes per row), so
    a file's rows are copied once; a stream's buffer grows by half each time, in place
    where the allocator can (realloc).  finish() trims it to the rows read.
    """

    def __init__(self, d: int, dtype: np.dtype, total_bytes: int | None) -> None:
        self.x = np.empty((0, d), dtype=dtype)
        self.n = 0
        self.total_bytes = total_bytes

    def append(self, part: NDArray[np.floating], done: int) -> None:
        need = self.n + part.shape[0]
        if need > self.x.shape[0]:
            if self.total_bytes is not None and done > 0:
                guess = int(need * max(1.0, self.total_bytes / done) * 1.02) + 16
            else:
                guess = max(need * 4 if self.n == 0 else int(self.x.shape[0] * 1.5), need)
            self.x.resize((max(guess, need), self.x.shape[1]), refcheck=False)
        self.x[self.n:need] = part
        self.n = need

    def finish(self) -> NDArray[np.floating]:
        self.x.resize((self.n, self.x.shape[1]), refcheck=False)
        return self.x


def no_rows_error(plan: ChunkPlan) -> DataError:
    return DataError(
        plan.source,
        "the file has a header but no data rows; it needs at least one row of numbers",
        line=plan.layout.start_line or None,
    )


def read_text(inp: Input, *, delim: str | None, sniff: bool, header: bool | None,
              columns: Sequence[str] | None, dtype: np.dtype,
              chunk_bytes: int | None = None, missing: Missing = False
              ) -> tuple[NDArray[np.floating], list[str], tuple[str, ...]]:
    """The whole text input as a C-ordered (N, D) array of dtype, the column names, and
    the prologue's notes (Layout.notes).

    A large regular file is parsed whole by pandas (see _pandas_file); anything else, or
    a large file pandas refuses, chunk by chunk (iter_chunks).  Peak memory: the result
    plus one chunk's work (a few MiB) on the chunked path; pandas' own on the whole-file
    path (see the module's docstring).
    """
    layout = prologue(inp, delim, sniff, header)
    plan = make_plan(inp, layout, columns, dtype, missing)
    if plan.large and inp.path is not None and inp.size is not None \
            and layout.decimal == ".":
        x = _pandas_file(plan, inp.path)
        if x is not None and x.shape[0] > 0 and _all_finite(x):
            inp.check_unchanged()
            return x, plan.names, layout.notes
        del x  # refused, or not all finite: the chunks find out why
    rows = _Rows(len(plan.usecols), plan.dtype, inp.size)
    comments = CommentLines()
    for part, done in iter_chunks(inp, plan, chunk_bytes=chunk_bytes, comments=comments):
        rows.append(part, done)
    inp.check_unchanged()
    if rows.n == 0:
        raise no_rows_error(plan)
    return rows.finish(), plan.names, with_note(layout.notes, comments.note())


def with_note(notes: tuple[str, ...], note: str | None) -> tuple[str, ...]:
    """notes, and note after them where there is one."""
    return notes if note is None else (*notes, note)
