"""Write results atomically, in the format the path's extension names; "-" is stdout.

Every output of a run goes through an OutputSet, a small transaction: each file is first
written to a temporary file beside its target (``.{name}.tmp-XXXXXXXX``, flushed and
fsync'd) and renamed onto the target only at commit; stdout (and pipes or devices such as
/dev/null given as a path) are buffered in memory and written at commit.  A run that fails
or is interrupted therefore leaves no half-written file, no stray temporary file, an
existing target untouched, and nothing on stdout.

    with OutputSet() as out:                      # commit on success, abort on exception
        write_table("labels.csv", labels, out=out)
        write_table("resp.csv", resp, column_names=["p0", "p1"], out=out)
        write_json("model.json", model_dict, out=out)

Tables are written by the writer classes of formats.FORMATS, which also says what each
format holds: write_table passes a whole table as one block, stream_table passes it block
by block, and both give the same bytes.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from typing import (
    IO,
    Any,
    BinaryIO,
    Literal,
    TextIO,
    TypeAlias,
    cast,
    overload,
)

import numpy as np
from numpy.typing import ArrayLike

from ..interrupts import deferred_interrupt
from .errors import DataError
from .formats import (DIGITS, FORMATS, Block, Layout, TableWriter, format_for_path,
                      json_escaped, jsonable, npy_header, spread_digits)

__all__ = [
    "STDOUT_NAME",
    "OutputSet",
    "TableStream",
    "atomic_write",
    "check_output_dir",
    "ensure_dir",
    "is_stdout",
    "made_dir",
    "npy_header",
    "stream_table",
    "write_json",
    "write_table",
    "write_text",
]

STDOUT_NAME = "<stdout>"
"""The name used in errors about data written to stdout."""

#: Text outputs are UTF-8, to a file or to standard output whatever the locale's encoding
#: (a pipe gets the bytes the file would hold), with a file name that is not UTF-8 (its
#: stray bytes decoded as lone surrogates by os.fsdecode) written back as its own bytes, as
#: ls and find write it; JSON writes them as \uXXXX escapes instead (formats.json_escaped).
TEXT_ERRORS = "surrogateescape"

TableData: TypeAlias = "ArrayLike | Mapping[str, Any]"
"""What write_table accepts: a 1-D or 2-D array, or a mapping column name -> values."""


# --------------------------------------------------------------------------- folders


_NOT_A_DIRECTORY = "exists and is not a directory; choose another output directory"
_CANNOT_MAKE = "permission denied: cannot create the directory"
#: An output folder that exists and takes no new file (os.access: no write permission,
#: or a read-only file system).
_CANNOT_WRITE_IN = "cannot create files in this directory (permission denied or read-only)"


def ensure_dir(path: str) -> str:
    """Create the directory path (and its parents) unless it exists; return path.

    Output files never create their folders by themselves; the code behind an option such as
    --output-dir calls this first.  Raises DataError when path exists as a file or cannot
    be created.
    """
    try:
        os.makedirs(path, exist_ok=True)
    except FileExistsError:
        raise DataError(path, _NOT_A_DIRECTORY) from None
    except PermissionError:
        raise DataError(path, _CANNOT_MAKE) from None
    except OSError as exc:
        raise DataError(path, f"cannot create the directory: {exc.strerror or exc}") from exc
    return path


def _missing_dirs(path: str) -> list[str]:
    """The folders makedirs(path) would create, deepest first."""
    missing: list[str] = []
    while path and not os.path.exists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


@contextmanager
def made_dir(path: str, on_failure: Callable[[], None] | None = None) -> Iterator[str]:
    """ensure_dir(path) for the outputs written in the block: where the block raises
    (Ctrl-C and SIGTERM too), on_failure runs (it removes what the block left there) and
    the folders this made are removed again, deepest first, while empty: a failed or
    stopped run leaves no folder of its own behind."""
    created = _missing_dirs(path)
    try:
        yield ensure_dir(path)
    except BaseException:
        if on_failure is not None:
            on_failure()
        for folder in created:
            try:
                os.rmdir(folder)
            except OSError:  # not empty: files of others, or that came in meanwhile
                break
        raise


# --------------------------------------------------------------------------- transactions


@dataclass
class _Staged:
    path: str  # as given (for messages)
    target: str | None  # the real file to rename onto; None for a stream
    tmp: str | None  # the temporary file, until renamed
    buffer: IO[Any] | None  # content for a stream, written at commit (spooled to disk)
    binary: bool


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _new_file_mode(full: int = 0o666) -> int:
    """The permission bits a newly created file gets (0o666 less the umask; a folder:
    full 0o777)."""
    umask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(umask)
    return full & ~umask


class OutputSet:
    """A transaction over several output files: all of them appear at commit, or none.

    Use ``stage(path)`` (a context manager yielding a file object) for each output, then
    ``commit()``; or use the set as a context manager, which commits
    when the block succeeds and aborts when it raises (KeyboardInterrupt included).
    A path of "-" is stdout; at most one output may go there.  The folder of each output
    must exist (see ensure_dir).
    """

    def __init__(self) -> None:
        self._staged: list[_Staged] = []
        self._pending: set[str] = set()  # temporary files still being written
        self._folders: list[tuple[str, str]] = []  # (target folder, temporary folder)
        self._closed = False

    def stage_folder(self, path: str) -> str:
        """A new empty temporary folder beside path, for files written by others (the
        workers of a cluster); at commit it becomes the folder path (replacing a folder
        of that name), on abort it is removed."""
        import tempfile

        if self._closed:
            raise RuntimeError("this OutputSet has already been committed or aborted")
        if os.path.exists(path) and not os.path.isdir(path):
            raise DataError(path, "is a file; the parts of this output go to a folder of "
                                  "that name")
        parent = os.path.dirname(os.path.abspath(path))
        try:
            tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                   dir=parent)
        except OSError as exc:
            raise DataError(path, f"cannot write: {exc.strerror or exc}") from exc
        self._folders.append((path, tmp))
        return tmp

    def _commit_folders(self) -> None:
        if not self._folders:
            return
        import shutil  # with bz2 and lzma: only folders of parts (stage_folder) need it

        while self._folders:
            path, tmp = self._folders[0]
            old = tmp + ".old"
            try:
                # mkdtemp's folder is the owner's alone (0700): give it the bits of the
                # folder it replaces, or of a new one (0777 less the umask), as files get
                os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode) if os.path.isdir(path)
                         else _new_file_mode(0o777))
                if os.path.isdir(path):
                    os.rename(path, old)
                os.rename(tmp, path)
            except OSError as exc:
                raise DataError(path, f"cannot write: {exc.strerror or exc}") from exc
            self._folders.pop(0)
            shutil.rmtree(old, ignore_errors=True)

    @overload
    def stage(self, path: str, binary: Literal[False] = ...) -> AbstractContextManager[TextIO]: ...

    @overload
    def stage(self, path: str, binary: Literal[True]) -> AbstractContextManager[BinaryIO]: ...

    @overload
    def stage(self, path: str, binary: bool) -> AbstractContextManager[IO[Any]]: ...

    def stage(self, path: str, binary: bool = False) -> AbstractContextManager[IO[Any]]:
        """A context manager yielding a file object for the content of path.

        The content becomes the file at commit; if the block raises, the temporary file is
        removed and the output is not staged.  Raises DataError when the target is a
        directory, is already staged, or its folder does not exist or is not writable.
        """
        return self._stage(path, binary)

    @contextmanager
    def _stage(self, path: str, binary: bool) -> Iterator[IO[Any]]:
        if self._closed:
            raise RuntimeError("this OutputSet has already been committed or aborted")
        if path == "-" or _is_stream(path):
            yield from self._stage_stream(path, binary)
            return
        target = os.path.realpath(path)  # write through a symlink, not over it
        for entry in self._staged:
            if entry.target == target:
                raise _same_file(path)
        try:
            st: os.stat_result | None = os.stat(target)
        except OSError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise _a_directory(path)
        fd, tmp = _make_temp(path, target, self._pending)
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, stat.S_IMODE(st.st_mode) if st is not None else _new_file_mode())
            if binary:
                fh: IO[Any] = os.fdopen(fd, "wb")
            else:
                fh = os.fdopen(fd, "w", encoding="utf-8", errors=TEXT_ERRORS, newline="\n")
            with fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            _unlink_quietly(tmp)
            self._pending.discard(tmp)
            raise DataError(path, f"cannot write: {exc.strerror or exc}") from exc
        except BaseException:
            _unlink_quietly(tmp)
            self._pending.discard(tmp)
            raise
        self._pending.discard(tmp)
        self._staged.append(_Staged(path, target, tmp, None, binary))

    def _stage_stream(self, path: str, binary: bool) -> Iterator[IO[Any]]:
        if is_stdout(path) and any(is_stdout(entry.path) for entry in self._staged):
            raise DataError(
                STDOUT_NAME, "only one output can go to standard output; give the others file names"
            )
        buffer = _spool(binary)
        try:
            yield buffer
        except BaseException:
            buffer.close()
            raise
        self._staged.append(_Staged(path, None, None, buffer, binary))

    def commit(self) -> None:
        """Write the buffered streams, standard output last, then rename every temporary
        file onto its target.

        Raises DataError if a stream write or a rename fails; the temporary files not yet
        renamed are removed, so a failed write to standard output (a full disk behind
        it, no standard output at all) leaves none of the files either.  A reader of
        standard output that went away (| head) is no failure: the files are renamed all
        the same, and then the broken pipe is this process's (SIGPIPE held while
        standard output is written: SIGPIPE's default action ends the command line
        there, exit 141, as before; elsewhere BrokenPipeError is raised).
        """
        if self._closed:
            raise RuntimeError("this OutputSet has already been committed or aborted")
        self._closed = True
        broken: BrokenPipeError | None = None
        with _pipe_signal_held():
            try:
                streams = [entry for entry in self._staged if entry.buffer is not None]
                # stdout last: a device or pipe named as an output (a picture to
                # /dev/full) that fails must not leave stdout written
                for entry in sorted(streams, key=lambda entry: is_stdout(entry.path)):
                    try:
                        _write_stream(entry)
                    except BrokenPipeError as exc:
                        if not is_stdout(entry.path):
                            raise DataError(entry.path, f"cannot write: {exc.strerror}"
                                            ) from exc
                        broken = exc  # | head: the reader's choice, not a failure
                self._rename_all()
            finally:
                self._cleanup()
        if broken is not None:
            raise broken

    def _rename_all(self) -> None:
        """Every temporary file (and folder) onto its target, with no stop signal between
        two renames."""
        folders: set[str] = set()
        with deferred_interrupt():  # a signal waits until the renames are done
            for entry in self._staged:
                if entry.tmp is None or entry.target is None:
                    continue
                try:
                    os.replace(entry.tmp, entry.target)
                except OSError as exc:
                    raise DataError(entry.path,
                                    f"cannot write: {exc.strerror or exc}") from exc
                entry.tmp = None
                folders.add(os.path.dirname(entry.target))
            self._commit_folders()
        for folder in folders:
            _fsync_dir(folder)

    def abort(self) -> None:
        """Remove every temporary file and forget the buffered streams. Safe to repeat."""
        self._closed = True
        self._cleanup()

    def _cleanup(self) -> None:
        for entry in self._staged:
            if entry.tmp is not None:
                _unlink_quietly(entry.tmp)
                entry.tmp = None
            if entry.buffer is not None:
                entry.buffer.close()
                entry.buffer = None
        for tmp in self._pending:
            _unlink_quietly(tmp)
        self._pending.clear()
        if self._folders:
            import shutil

            for _, folder in self._folders:
                shutil.rmtree(folder, ignore_errors=True)
            self._folders.clear()

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if self._closed:
            return
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def check_targets(paths: Iterable[str], creates: str | None = None) -> None:
    """What staging the outputs at paths would refuse, checked before any work is done (a
    fit of an hour should not end in a folder that does not exist): two paths that name
    one file, a path that is a directory, a folder that does not exist or where this
    process may not create files; the DataError OutputSet.stage raises, with its message.
    creates: a directory the command makes (ensure_dir) before it writes: the outputs in
    it need only that it can be made."""
    made = None if creates is None else _creatable(creates)
    seen: set[str] = set()
    for path in paths:
        if is_stdout(path) and sys.stdout is None:  # closed (>&-): found at the end before
            raise _no_stdout()
        if path == "-" or _is_stream(path):
            continue
        target = os.path.realpath(path)
        if target in seen:
            raise _same_file(path)
        seen.add(target)
        if os.path.isdir(target):
            raise _a_directory(path)
        folder = os.path.dirname(target)
        if made is not None and (folder == made or folder.startswith(made + os.sep)):
            continue
        shown = os.path.dirname(path) or "."
        if not os.path.isdir(folder):
            raise _cannot_create(path, shown, FileNotFoundError())
        if not os.access(folder, os.W_OK | os.X_OK):
            raise _cannot_create(path, shown, PermissionError())


def check_output_dir(path: str) -> None:
    """That the directory path exists or can be made (a DataError that says why not), for
    a command that looks inside it before check_targets (batch leaves out its outputs)."""
    _creatable(path)


def _creatable(path: str) -> str:
    """The real path of the directory path, which ensure_dir can make or finds made (its
    DataError otherwise)."""
    real = os.path.realpath(path)
    parent = real
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):  # the path, or a folder on the way to it, is a file
        raise DataError(path, _NOT_A_DIRECTORY if parent == real else
                        f"cannot create the directory: {os.strerror(errno.ENOTDIR)}")
    if not os.access(parent, os.W_OK | os.X_OK):  # found only once the fit was over
        raise DataError(path, _CANNOT_MAKE if parent != real else _CANNOT_WRITE_IN)
    return real


def _no_stdout() -> DataError:
    return DataError(STDOUT_NAME, "there is no standard output to write to")


def _same_file(path: str) -> DataError:
    return DataError(path, "the same file is given for two outputs; give each its own file")


def _a_directory(path: str) -> DataError:
    return DataError(path, "is a directory; give a file name for this output")


_DESCRIPTOR_NAMES = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}


def _descriptor(path: str) -> int | None:
    """The open descriptor that path names (/dev/stdout, /dev/fd/N, /proc/self/fd/N), else
    None.  Such a path is written through the descriptor, never replaced by a rename: it
    may be a file the shell opened (> FILE, >> FILE) or shares with other commands."""
    full = os.path.normpath(os.path.abspath(path))
    if full in _DESCRIPTOR_NAMES:
        return _DESCRIPTOR_NAMES[full]
    for folder in ("/dev/fd", "/proc/self/fd", f"/proc/{os.getpid()}/fd"):
        head, number = os.path.split(full)
        if head == folder and number.isdigit():
            return int(number)
    return None


def is_stdout(path: str) -> bool:
    """Whether an output path is standard output: "-", or a name of descriptor 1."""
    return path == "-" or _descriptor(path) == 1


def _is_stream(path: str) -> bool:
    """A path that names an open descriptor, or an existing path that is neither a regular
    file nor a directory (pipe, device)."""
    if _descriptor(path) is not None:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _make_temp(path: str, target: str, pending: set[str]) -> tuple[int, str]:
    """(descriptor, name) of a new temporary file .NAME.tmp-XXXXXXXX beside target, added
    to pending before it is created: a signal between its creation and its registration
    (Ctrl-C, SIGTERM) could otherwise leave it behind."""
    import secrets

    folder = os.path.dirname(target)
    shown = os.path.dirname(path) or "."
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = os.path.join(folder, f".{os.path.basename(target)}.tmp-{secrets.token_hex(4)}")
        pending.add(tmp)
        try:
            return os.open(tmp, flags, 0o600), tmp
        except OSError as exc:
            pending.discard(tmp)
            if not isinstance(exc, FileExistsError):  # else taken: draw another name
                raise _cannot_create(path, shown, exc) from None


def _cannot_create(path: str, shown: str, exc: OSError) -> DataError:
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)) and not os.path.isdir(shown):
        return DataError(path, f"cannot write: directory '{shown}' does not exist; create it "
                               "first")
    if isinstance(exc, FileNotFoundError):  # a folder that takes no file (/proc)
        return DataError(path, f"cannot write: '{shown}' takes no new files")
    if isinstance(exc, PermissionError):
        return DataError(path, f"permission denied: cannot create files in '{shown}'")
    return DataError(path, f"cannot write: {exc.strerror or exc}")


def _fsync_dir(folder: str) -> None:
    """Make the renames durable (best effort; not every system can open a directory)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def stdout_errors() -> Iterator[None]:
    """A failed write to standard output (a full disk behind > FILE, a closed
    descriptor) as the DataError that names it."""
    try:
        yield
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise  # the reader went away (| head): not an error of ours
        raise DataError(STDOUT_NAME, f"cannot write: {exc.strerror or exc}") from exc


@contextmanager
def _pipe_signal_held() -> Iterator[None]:
    """SIGPIPE blocked in this thread (where there is one), so that a write to a pipe
    without a reader fails with BrokenPipeError instead of ending the process at once
    (the command line's SIGPIPE is SIG_DFL); a SIGPIPE raised meanwhile is delivered on
    leaving, with the handler then in place (SIG_DFL: exit 141)."""
    import signal

    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGPIPE})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


#: Content for stdout is held in memory up to this size, then in an unnamed temporary file.
_SPOOL_BYTES = 16 << 20
_COPY_CHUNK = 1 << 20


def _spool(binary: bool) -> IO[Any]:
    """A buffer for content written at commit: memory while small, then a temporary file
    (so that streaming N labels to stdout does not hold them all in memory)."""
    return cast(IO[Any], _Spool(binary))


class _Spool:
    """tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES), text (UTF-8, newline "\\n")
    or binary, without importing tempfile (and shutil, bz2 and lzma with it: about 2 ms
    of the start of every run that writes to stdout) until the content outgrows memory.
    Everything but writing is the current file's: seek, read, tell, close, flush ...."""

    def __init__(self, binary: bool) -> None:
        self._binary = binary
        self._file: IO[Any] = (io.BytesIO() if binary else
                               io.TextIOWrapper(io.BytesIO(), encoding="utf-8",
                                                errors=TEXT_ERRORS, newline="\n"))
        self._rolled = False

    def write(self, data: Any) -> int:
        written: int = self._file.write(data)
        if not self._rolled and self._file.tell() > _SPOOL_BYTES:
            self._roll_over()
        return written

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def _roll_over(self) -> None:
        """Move the content into an unnamed temporary file, as SpooledTemporaryFile does."""
        import tempfile

        memory = self._file
        disk: IO[Any] = (tempfile.TemporaryFile("w+b") if self._binary else
                         tempfile.TemporaryFile("w+", encoding="utf-8", errors=TEXT_ERRORS,
                                                newline="\n"))
        position = memory.tell()
        if self._binary:
            disk.write(memory.getvalue())  # type: ignore[attr-defined]
        else:
            disk.buffer.write(memory.detach().getvalue())  # type: ignore[attr-defined]
        disk.seek(position, 0)
        self._file, self._rolled = disk, True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


def _chunks(buffer: IO[Any]) -> Iterator[Any]:
    buffer.seek(0)
    while chunk := buffer.read(_COPY_CHUNK):
        yield chunk


def _encoded(chunk: Any, binary: bool) -> bytes:
    """A chunk of an output's content as the bytes written (text: UTF-8, TEXT_ERRORS)."""
    return chunk if binary else chunk.encode("utf-8", TEXT_ERRORS)


def _write_stream(entry: _Staged) -> None:
    assert entry.buffer is not None
    buffer = entry.buffer
    if is_stdout(entry.path):
        stdout = sys.stdout
        if stdout is None:
            raise _no_stdout()
        if entry.binary and getattr(stdout, "buffer", None) is None:
            raise DataError(STDOUT_NAME, "cannot write binary data to this standard output")
        with stdout_errors():
            if getattr(stdout, "buffer", None) is None:  # text alone (a StringIO)
                for chunk in _chunks(buffer):
                    stdout.write(chunk)
                stdout.flush()
            else:  # text as a file's bytes (UTF-8), whatever the locale's encoding
                stdout.flush()
                for chunk in _chunks(buffer):
                    stdout.buffer.write(_encoded(chunk, entry.binary))
                stdout.buffer.flush()
        return
    fd = _descriptor(entry.path)
    try:
        with (open(entry.path, "wb") if fd is None else os.fdopen(os.dup(fd), "wb")) as fb:
            for chunk in _chunks(buffer):
                fb.write(_encoded(chunk, entry.binary))
    except OSError as exc:
        raise DataError(entry.path, f"cannot write: {exc.strerror or exc}") from exc


@overload
def atomic_write(path: str, binary: Literal[False] = ...) -> AbstractContextManager[TextIO]: ...


@overload
def atomic_write(path: str, binary: Literal[True]) -> AbstractContextManager[BinaryIO]: ...


@overload
def atomic_write(path: str, binary: bool) -> AbstractContextManager[IO[Any]]: ...


def atomic_write(path: str, binary: bool = False) -> AbstractContextManager[IO[Any]]:
    """A context manager yielding a file object whose content replaces path on success.

    The same guarantees as an OutputSet of one file ("-" is stdout, written at the end).
    """
    return _atomic_write(path, binary)


@contextmanager
def _atomic_write(path: str, binary: bool) -> Iterator[IO[Any]]:
    with OutputSet() as out, out.stage(path, binary) as fh:
        yield fh


def _staged(path: str, binary: bool, out: OutputSet | None) -> AbstractContextManager[IO[Any]]:
    """The file object for path: staged into out, or written atomically on its own."""
    return out.stage(path, binary) if out is not None else atomic_write(path, binary)


# --------------------------------------------------------------------------- tables


def _writer_class(path: str, fmt: str | None) -> type[TableWriter]:
    """The writer for fmt, or for path's extension when fmt is None (see format_for_path)."""
    if fmt is None:
        return FORMATS[format_for_path(path)]
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {list(FORMATS)}, not {fmt!r}")
    FORMATS[fmt].check(path)
    return FORMATS[fmt]


@contextmanager
def _writing(path: str, writer_class: type[TableWriter], layout: Layout,
             out: OutputSet | None) -> Iterator[TableWriter]:
    """A begun writer into path, ended when the block completes; if the block raises,
    nothing appears at path."""
    with _staged(path, writer_class.binary, out) as fh:
        writer = writer_class(fh, path, layout)
        writer.begin()
        yield writer
        writer.end()


def _as_column(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"column {name!r} must be 1-D, not of shape {arr.shape}")
    if arr.dtype.kind == "O":
        items = arr.tolist()
        numeric = all(
            v is None or (isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_)))
            for v in items
        )
        whole = any(isinstance(v, (int, np.integer)) for v in items) and all(
            v is None or isinstance(v, (int, np.integer)) for v in items)
        if numeric and not whole:  # whole numbers with gaps stay so: null, not 3.0
            return np.array([np.nan if v is None else v for v in items], dtype=np.float64)
    return arr


def _as_table(data: TableData, column_names: Sequence[str] | None) -> tuple[Layout, Block]:
    """data as one block, and the layout that describes it to a writer."""
    if isinstance(data, Mapping):
        if column_names is not None:
            raise ValueError("column_names applies to arrays; a mapping names its own columns")
        names = tuple(str(k) for k in data)
        cols = tuple(_as_column(v, n) for n, v in zip(names, data.values()))
        lengths = {len(c) for c in cols}
        if len(lengths) > 1:
            raise ValueError(f"table columns differ in length: {sorted(lengths)}")
        block = Block(cols)
        return Layout(names, block.n_rows, None), block
    arr = np.asarray(data)
    if arr.ndim == 1 and column_names is None:
        return Layout(None, len(arr), arr.dtype), Block.of_array(arr)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"write_table takes a 1-D or 2-D array, not shape {arr.shape}")
    names = tuple(str(n) for n in column_names) if column_names is not None else \
        tuple(str(j) for j in range(arr.shape[1]))
    if len(names) != arr.shape[1]:
        raise ValueError(f"{len(names)} column names for {arr.shape[1]} columns")
    dtype = arr.dtype if arr.dtype.kind in "iuf" else None  # else a table of columns
    return Layout(names, arr.shape[0], dtype), Block.of_array(arr)


def write_table(
    path: str,
    data: TableData,
    *,
    column_names: Sequence[str] | None = None,
    fmt: str | None = None,
    out: OutputSet | None = None,
    coordinates: bool = False,
) -> None:
    """Write labels, a named matrix or a dict of columns to path in its format.

    data: a 1-D array (without column_names: one value per line, no header), a 2-D array
    (column_names default to "0", "1", ...; a 1-D array with one name is one column), or a
    mapping column name -> 1-D values (numbers, bools, strings or None).
    fmt: a name in FORMATS; by default format_for_path(path).
    out: stage into this OutputSet; without it, path is written atomically on its own.
    coordinates: the floats are coordinates of points (drawn, generated): in text, each
    column's floats keep DIGITS significant digits of its spread (formats.spread_digits)
    rather than of each value, so that points far from zero keep their decimals.
    Raises DataError for an unsupported extension, non-numeric columns in .npy output and
    files that cannot be written; ValueError for malformed data (a programming error).
    """
    writer_class = _writer_class(path, fmt)
    layout, block = _as_table(data, column_names)
    if coordinates:
        layout = replace(layout, digits=tuple(
            spread_digits(c) if c.dtype.kind == "f" else DIGITS for c in block.columns))
    with _writing(path, writer_class, layout, out) as writer:
        writer.write_block(block)


class TableStream:
    """A numeric table written block by block: made by stream_table.

    It checks what the writer cannot: that each block has the announced columns, and that
    exactly the announced rows come (a .npy header has already promised them).
    """

    def __init__(self, writer: TableWriter) -> None:
        self._writer = writer
        self.rows_written = 0

    def write(self, block: ArrayLike) -> None:
        """Append rows: a 1-D block for a vector, (rows, len(names)) for a matrix."""
        layout, path = self._writer.layout, self._writer.path
        arr = np.asarray(block)
        if layout.names is None:
            if arr.ndim != 1:
                raise ValueError(f"a vector table takes 1-D blocks, not shape {arr.shape}")
        else:
            if arr.ndim == 1 and len(layout.names) == 1:
                arr = arr.reshape(-1, 1)
            if arr.ndim != 2 or arr.shape[1] != len(layout.names):
                raise ValueError(f"blocks of {len(layout.names)} columns expected, got shape "
                                 f"{arr.shape}")
        self._count(arr.shape[0])
        self._writer.write_block(Block.of_array(arr.astype(layout.dtype, copy=False)))

    def write_columns(self, columns: Sequence[ArrayLike]) -> None:
        """Append rows of a table of columns (stream_table's dtype None): one 1-D block
        of each column, in the announced order (as write_table takes a mapping's)."""
        names = self._writer.layout.names
        assert names is not None and self._writer.layout.dtype is None
        if len(columns) != len(names):
            raise ValueError(f"blocks of {len(names)} columns expected, got {len(columns)}")
        block = _as_table(dict(zip(names, columns)), None)[1]
        self._count(block.n_rows)
        self._writer.write_block(block)

    def _count(self, rows: int) -> None:
        n_rows = self._writer.layout.n_rows
        if self.rows_written + rows > n_rows:
            raise ValueError(f"{self._writer.path}: more than the {n_rows} rows announced")
        self.rows_written += rows

    def close(self) -> None:
        """Check that every announced row came."""
        n_rows = self._writer.layout.n_rows
        if self.rows_written != n_rows:
            raise ValueError(f"{self._writer.path}: {self.rows_written} rows written of the "
                             f"{n_rows} announced")


@contextmanager
def stream_table(path: str, *, n_rows: int, column_names: Sequence[str] | None = None,
                 dtype: Any = np.float64, fmt: str | None = None,
                 out: OutputSet | None = None) -> Iterator[TableStream]:
    """A TableStream of n_rows rows into path (staged into out, or written on its own).

    A bare vector without column_names (labels, scores), or a matrix with named columns
    (responsibilities), of a numeric dtype; with dtype None, a table of named columns each
    of its own type (written by write_columns).  The file equals write_table's for the
    concatenated blocks, byte for byte, and nothing appears at path unless the block
    completes with all n_rows rows written.
    """
    writer_class = _writer_class(path, fmt)
    if not writer_class.streams:
        raise ValueError(f"{path}: this format cannot be written block by block")
    dt = None if dtype is None else np.dtype(dtype)
    if dt is not None and dt.kind not in "iuf":
        raise ValueError(f"a streamed table holds numbers, not {dt}")
    names = tuple(str(n) for n in column_names) if column_names is not None else None
    if dt is None and names is None:
        raise ValueError("a streamed table of columns needs their names")
    with _writing(path, writer_class, Layout(names, int(n_rows), dt), out) as writer:
        table = TableStream(writer)
        yield table
        table.close()


# --------------------------------------------------------------------------- JSON


def write_text(path: str, text: str, *, out: OutputSet | None = None) -> None:
    """Write text as it is, atomically or into out ('-': stdout)."""
    with _staged(path, False, out) as fh:
        fh.write(text)


def write_json(path: str, obj: Any, *, out: OutputSet | None = None) -> None:
    """Write obj as pretty JSON (indent 2, trailing newline), atomically or into out.

    numpy arrays and scalars become lists and numbers; NaN becomes null and infinities
    the strings "inf" and "-inf" (formats.json_number);
    objects with a to_dict() method are written as its result.
    """
    import json  # imported here: most runs write no JSON

    text = json_escaped(json.dumps(jsonable(obj), indent=2, allow_nan=False,
                                   ensure_ascii=False)) + "\n"
    with _staged(path, False, out) as fh:
        fh.write(text)
