"""Finding the datasets of a batch: PATH arguments (directories, files, '-' for a list on
stdin) -> BatchItems, each with the folder its outputs go to (its path relative to the
directory it was found in, or to the working directory, without the extension and a
compression suffix), refusing layouts where two datasets would share a folder or an
output would overwrite an input.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from ..io.errors import STDIN_NAME, DataError
from ..io.formats import CODEC_BY_EXT, text_extension
from ..vocab import counted
from .errors import UsageProblem

#: What a directory is searched for when no --glob is given: these text tables, also
#: compressed (data.csv.gz: io.formats.text_extension), and these binary files.  JSON is left
#: to --glob: a folder of data often holds JSON that is no data (models, settings).
DEFAULT_TEXT = (".csv", ".tsv")
DEFAULT_BINARY = (".npy", ".parquet")
#: The default, as --glob's help says it.
DEFAULT_FILES = (", ".join(f"*{ext}" for ext in DEFAULT_TEXT + DEFAULT_BINARY) + ", and "
                 + " and ".join(f"*{ext}" for ext in DEFAULT_TEXT) + " compressed ("
                 + ", ".join(CODEC_BY_EXT) + ")")


#: The summary a batch writes in its output directory, and its columns: a folder that holds
#: one with this header is an earlier batch's output (earlier_output).
SUMMARY_NAME = "summary.csv"
SUMMARY_COLUMNS = ("file", "rows", "dims", "k", "covariance", "iterations", "converged",
                   "stopped", "log_likelihood", "bic", "seconds", "status")


@dataclass(frozen=True)
class BatchItem:
    """One dataset: the path to read (also its name in the summary) and its output folder."""

    path: str
    out_dir: str


def _read_path_list(stdin: TextIO | None) -> list[str]:
    """Paths from stdin: one a line, or NUL-separated (find -print0)."""
    if stdin is None:
        raise DataError(STDIN_NAME, "there is no standard input for '-' (a list of paths) "
                                    "to read")
    if stdin.isatty():  # as a data file's '-' on a terminal (io.text): exit status 1
        raise DataError(
            STDIN_NAME, "standard input is a terminal; '-' reads a list of paths from it: "
                        "pipe one in, for example: find data -name '*.csv' | emgmm batch - ...")
    text = stdin.read()
    parts = text.split("\0") if "\0" in text else text.splitlines()
    return [p.rstrip("\r\n") for p in parts if p.strip()]


def _match_parts(parts: list[str], pattern: list[str]) -> bool:
    """Path segments against pattern segments; '**' stands for any number of folders."""
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match_parts(parts[i:], pattern[1:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) \
        and _match_parts(parts[1:], pattern[1:])


def _matches(name: str, rel: str, patterns: tuple[str, ...], recursive: bool) -> bool:
    """Whether a file found in a directory is a dataset: its extension by default; else a
    pattern matching its name, or, for a pattern with '/', its relative path.  Without
    recursive, a file below the directory is one only by a pattern with '/' (which names
    the folders it looks in)."""
    if "/" in rel and not recursive:
        return any("/" in p and _match_parts(rel.split("/"), p.strip("/").split("/"))
                   for p in patterns)
    if not patterns:
        return (os.path.splitext(name)[1].lower() in DEFAULT_BINARY
                or text_extension(name) in DEFAULT_TEXT)
    return any(_match_parts(rel.split("/"), p.strip("/").split("/")) if "/" in p
               else fnmatch.fnmatchcase(name, p) for p in patterns)


def _inside(path: str, folder: str) -> bool:
    """Whether the real path `path` is folder or lies under it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def earlier_output(folder: str) -> bool:
    """Whether folder holds the summary.csv of a batch (its header SUMMARY_COLUMNS): the
    output directory of an earlier run, whose labels, traces and tables are no data."""
    try:
        with open(os.path.join(folder, SUMMARY_NAME), encoding="utf-8",
                  errors="replace") as summary:
            return summary.readline().rstrip("\r\n") == ",".join(SUMMARY_COLUMNS)
    except OSError:
        return False


def _walk(root: str, recursive: bool, patterns: tuple[str, ...], out_real: str,
          left_out: list[str]) -> list[tuple[str, str]]:
    """(path, path relative to root) of the data files in root, sorted: with recursive,
    or a pattern with '/', in its subdirectories too (_matches; through symbolic links to
    folders, each folder searched once), but for the output directory and an earlier
    batch's (earlier_output, appended to left_out).  A symbolic link whose name matches
    and that leads to no file (broken, or a loop) is a dataset, whose reading fails and
    says why: a file left out without a word would be a dataset missing from the batch."""
    found: list[tuple[str, str]] = []
    descend = recursive or any("/" in p for p in patterns)
    searched: set[str] = set()
    for folder, dirs, files in os.walk(root, followlinks=True, onerror=_unlisted):
        if os.path.realpath(folder) in searched:  # a link back to a folder already seen
            dirs[:] = []
            continue
        searched.add(os.path.realpath(folder))
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and not _inside(os.path.realpath(os.path.join(folder, d)), out_real))
        if not descend:
            dirs[:] = []
        earlier = [d for d in dirs if earlier_output(os.path.join(folder, d))]
        left_out += [os.path.join(folder, d) for d in earlier]
        dirs[:] = [d for d in dirs if d not in earlier]
        for name in sorted(files):
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            if not name.startswith(".") and _matches(name, rel, patterns, recursive) \
                    and (os.path.isfile(path) or os.path.islink(path)):
                found.append((path, rel))
    return found


def _unlisted(exc: OSError) -> None:
    """A folder batch searches that cannot be listed is an error naming it (os.walk left
    it out, and its datasets, without a word: "no datasets found")."""
    reason = ("permission denied; check that you may read it"
              if isinstance(exc, PermissionError) else (exc.strerror or str(exc)))
    raise DataError(exc.filename or "?", f"cannot list the folder: {reason}")


def _without_extension(rel: str) -> str:
    """A dataset's path without its extension, and without a compression suffix before
    it (runs/a.csv.gz -> runs/a): the folder its outputs go to."""
    stem, ext = os.path.splitext(rel)
    return os.path.splitext(stem)[0] if ext.lower() in CODEC_BY_EXT else stem


def _file_rel(path: str) -> str:
    """Where a file named on its own is mirrored: relative to the working directory when it
    lies under it, else by its name alone."""
    rel = os.path.relpath(os.path.abspath(path))
    if rel == ".." or rel.startswith(".." + os.sep):
        rel = os.path.basename(path)
    return rel.replace(os.sep, "/")


def _found(args: list[tuple[str, bool]], output_dir: str, recursive: bool,
           patterns: tuple[str, ...]) -> tuple[list[tuple[str, str]], list[str]]:
    """(path, relative path) of the data files that args (path, listed on stdin) name,
    and the warnings that say what was left out: the paths listed inside the output
    directory or an earlier batch's (find . | emgmm batch -), and the folders of earlier
    batches' outputs found in a directory."""
    out_real = os.path.realpath(output_dir)
    found: list[tuple[str, str]] = []
    hidden: list[str] = []
    inside: list[str] = []
    listed_earlier: list[str] = []
    folders: list[str] = []
    earlier = functools.lru_cache(maxsize=None)(earlier_output)
    for arg, from_stdin in args:
        if _inside(os.path.realpath(arg), out_real) and (from_stdin or not os.path.isdir(arg)):
            inside.append(arg)  # an output of an earlier run (find . | emgmm batch -)
        elif from_stdin and any(earlier(a) for a in [arg, *_folders_above(arg)]):
            listed_earlier.append(arg)
        elif from_stdin and _hidden(arg):
            hidden.append(arg)  # as a search of its folder leaves it out
        elif os.path.isdir(arg):
            if _inside(os.path.realpath(arg), out_real):
                raise UsageProblem(
                    f"{arg} is (inside) the output directory {output_dir}; give an output "
                    "directory outside the data")
            found.extend(_walk(arg, recursive, patterns, out_real, folders))
        else:
            found.append((arg, _file_rel(arg)))
    said = []
    if hidden:
        said.append(f"left out {counted(len(hidden), 'hidden file')} (a name starting with "
                    f"'.'): {_some(hidden)}")
    if inside:
        said.append(f"left out {counted(len(inside), 'path')} inside the output directory "
                    f"{output_dir}: {_some(inside)}")
    if listed_earlier:
        said.append(f"left out {counted(len(listed_earlier), 'path')} inside an earlier "
                    f"batch's output directory (a folder holding its {SUMMARY_NAME}): "
                    f"{_some(listed_earlier)}")
    if folders:
        said.append(f"left out {counted(len(folders), 'folder')} of an earlier batch's "
                    f"outputs (holding its {SUMMARY_NAME}): {_some(folders)}")
    return found, said


def _hidden(path: str) -> bool:
    """Whether a listed path names a hidden file, or one in a hidden folder below the
    working directory (./.ipynb_checkpoints/a.csv), as a search leaves out: a name that
    starts with '.'.  Above the working directory (../.cache/x, /home/u/.local/...) only
    the file's own name counts: there the folders are where the user chose to look."""
    rel = os.path.relpath(os.path.abspath(path))
    parts = [os.path.basename(path)] if rel.startswith("..") else rel.split(os.sep)
    return any(p.startswith(".") and p not in (".", "..") for p in parts)


def _some(paths: list[str]) -> str:
    """The first SHOWN of paths, then ", ..." where there are more."""
    return ", ".join(paths[:SHOWN]) + (", ..." if len(paths) > SHOWN else "")


#: Paths a warning of what batch left out names before it says ", ...".
SHOWN = 3


def _folders_above(path: str) -> list[str]:
    """The folders a path names above its file, nearest first (runs/r1/a/x.csv:
    runs/r1/a, runs/r1, runs)."""
    folders = []
    folder = os.path.dirname(path)
    while folder and folder not in folders:
        folders.append(folder)
        folder = os.path.dirname(folder)
    return folders


def discover(paths: tuple[str, ...], *, output_dir: str, recursive: bool = False,
             patterns: tuple[str, ...] = (), stdin: TextIO | None = None,
             warn: Callable[[str], None] | None = None) -> list[BatchItem]:
    """The datasets that PATH arguments name, in order (directories sorted), each once.

    A PATH argument that does not exist is an error (DataError) before anything is
    written; a path listed on stdin that does not exist is a dataset that fails.
    """
    if paths.count("-") > 1:
        raise UsageProblem("'-' (a list of paths on stdin) can be given only once")
    for p in paths:
        if p != "-" and not os.path.exists(p):
            raise DataError(p, "no such file or directory; check the path")
    from ..io.writers import check_output_dir  # (numpy: not for --help)

    check_output_dir(output_dir)  # (a dataset file given as DIR is not left out as inside it)
    args: list[tuple[str, bool]] = []  # (path, listed on stdin)
    for p in paths:
        listed = _read_path_list(stdin if stdin is not None else sys.stdin) if p == "-" else [p]
        if not listed and paths == ("-",):
            raise DataError(STDIN_NAME, "lists no paths; pipe in the paths of the data files, "
                                        "one a line: find data -name '*.csv' | emgmm batch -")
        args.extend((arg, p == "-") for arg in listed)
    found, left_out = _found(args, output_dir, recursive, patterns)
    if warn is not None:
        for text in left_out:
            warn(text)

    items: list[BatchItem] = []
    seen: set[str] = set()
    owner: dict[str, str] = {}
    for path, rel in found:
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        out_dir = os.path.join(output_dir, *_without_extension(rel).split("/"))
        key = os.path.normcase(os.path.normpath(out_dir))
        if key in owner:
            raise UsageProblem(
                f"{owner[key]} and {path} would both write to {out_dir}; rename one, or "
                "choose the files with --glob")
        owner[key] = path
        items.append(BatchItem(path, out_dir))
    return items
