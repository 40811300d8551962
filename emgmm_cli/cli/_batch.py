"""What `emgmm batch` does: find the datasets, fit each one as `fit` would, sum them up.

- discover(): PATH arguments (directories, files, '-' for a list on stdin) -> BatchItems,
  each with the folder its outputs go to (its path relative to the directory it was found
  in, or to the working directory, without the extension), refusing layouts where two
  datasets would share a folder or an output would overwrite an input.
- run_one(): one dataset, in this process or a worker: read, fit (the code of `fit`:
  _fitting.fit_points and stage_outputs), write labels/trace/model (model.json last) into
  its folder atomically; any failure becomes the row's status, never an exception.
  With --select (BatchSettings.select), the fit is a selection instead: every cell of the
  grid, one after another in the same process (the code of `select`: _select.plan_grid and
  fit_cell_on), and the chosen cell's outputs are written as a fit's, with selection.csv.
- run_batch(): skips complete outputs (--skip-existing), runs the rest through
  backends.processes.run_tasks, shows progress, writes summary.csv (also when interrupted),
  prints the table on a terminal and ends with exit status 1 if any dataset failed.

Seeds: every dataset is fitted with the same seed, --seed or one drawn once for the batch
(recorded in each model.json), so `emgmm fit FILE --seed S` with a batch's options
reproduces any of its datasets, and nothing depends on the order the workers finish in.
With --select, each cell's seed comes from that seed and the cell alone
(engine.selection.cell_seed), as in `emgmm select FILE --seed S`.
"""

from __future__ import annotations

import csv
import fnmatch
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TextIO

import click

from ._fitting import STANDARD_NAMES, FitRequest, fresh_seed
from .errors import event_message
from .context import Terminal

if TYPE_CHECKING:
    from ..engine.selection import CellResult
    from ..io.readers import Points
    from ._fitting import Fitted

#: Extensions a directory is searched for when no --glob is given.
DEFAULT_EXTENSIONS = (".csv", ".tsv", ".npy")
SUMMARY_NAME = "summary.csv"
#: The table of every cell (select's --table) in each dataset's folder, with --select.
SELECTION_NAME = "selection.csv"
SUMMARY_COLUMNS = ("file", "rows", "dims", "k", "covariance", "iterations", "converged",
                   "log_likelihood", "bic", "seconds", "status")
#: Options recorded in model.json that must match for --skip-existing to keep a result
#: (with --select, the chosen cell's K and covariance type are checked against the table).
_COMPARED_OPTIONS = ("n_components", "covariance_type", "n_init", "tol", "max_iter",
                     "reg_covar", "algorithm")
_PER_CELL_OPTIONS = ("n_components", "covariance_type")


@dataclass(frozen=True)
class BatchItem:
    """One dataset: the path to read (also its name in the summary) and its output folder."""

    path: str
    out_dir: str


@dataclass(frozen=True)
class SelectSpec:
    """batch --select: the grid each dataset's model is chosen from, and by what."""

    components: tuple[int, ...]  # -k, ascending
    covariance_types: tuple[str, ...]  # -c, in the order given
    criterion: str = "bic"


@dataclass(frozen=True)
class BatchSettings:
    """What applies to every dataset of a batch."""

    # the read and fit options (input and outputs are set per dataset); with select, its
    # n_components and covariance_type are unused (each cell has its own) and its seed is
    # the one the cell seeds derive from
    request: FitRequest
    responsibilities: bool = False
    n_threads: int | None = None  # threads of the block reduction in each fit
    select: SelectSpec | None = None  # --select: choose each dataset's K and covariance


@dataclass(frozen=True)
class BatchTask:
    item: BatchItem
    settings: BatchSettings


@dataclass
class BatchRow:
    """A line of the summary, and the warnings to show (not written to the summary)."""

    file: str
    rows: int | None = None
    dims: int | None = None
    k: int | None = None
    covariance: str | None = None
    iterations: int | None = None
    converged: bool | None = None
    log_likelihood: float | None = None
    bic: float | None = None
    seconds: float | None = None
    status: str = "ok"
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status.startswith("failed")

    def record(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SUMMARY_COLUMNS}

    def fill_from_model(self, doc: dict[str, Any]) -> None:
        self.rows, self.dims = doc["n_samples"], doc["n_features"]
        self.k, self.covariance = doc["n_components"], doc["covariance_type"]
        self.iterations, self.converged = doc["n_iter"], doc["converged"]
        self.log_likelihood, self.bic = doc["log_likelihood"], doc["bic"]


def batch_request(kwargs: dict[str, Any]) -> FitRequest:
    """A FitRequest holding batch's read and fit options (no input, no outputs yet).

    Every FitRequest field that batch's options fill is taken from them, so an option added
    to the shared decorators reaches batch too.  Without --seed, one seed is drawn here for
    the whole batch.
    """
    from dataclasses import fields

    seed = kwargs["seed"]
    if seed is None:
        seed = fresh_seed()
    per_dataset = {"input": "", "labels": None, "responsibilities": None, "trace": None,
                   "model": None, "output_dir": None, "as_json": False, "show_trace": False}
    values = {**{f.name: kwargs[f.name] for f in fields(FitRequest) if f.name in kwargs},
              **per_dataset, "seed": seed}
    return FitRequest(**values)


# --------------------------------------------------------------------------- discovery


def _read_path_list(stdin: TextIO | None) -> list[str]:
    """Paths from stdin: one a line, or NUL-separated (find -print0)."""
    if stdin is None:
        raise click.UsageError("'-' reads a list of paths from stdin, but there is none")
    if stdin.isatty():
        raise click.UsageError(
            "'-' reads a list of paths from stdin, which is a terminal; pipe one in, "
            "for example: find data -name '*.csv' | emgmm batch - ...")
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


def _matches(name: str, rel: str, patterns: tuple[str, ...]) -> bool:
    """Whether a file found in a directory is a dataset: its extension by default; else a
    pattern matching its name, or, for a pattern with '/', its relative path."""
    if not patterns:
        return os.path.splitext(name)[1].lower() in DEFAULT_EXTENSIONS
    return any(_match_parts(rel.split("/"), p.strip("/").split("/")) if "/" in p
               else fnmatch.fnmatchcase(name, p) for p in patterns)


def _inside(path: str, folder: str) -> bool:
    """Whether the real path `path` is folder or lies under it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _walk(root: str, recursive: bool, patterns: tuple[str, ...], out_real: str
          ) -> list[tuple[str, str]]:
    """(path, path relative to root) of the data files in root, sorted."""
    found: list[tuple[str, str]] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and not _inside(os.path.realpath(os.path.join(folder, d)), out_real))
        if not recursive:
            dirs[:] = []
        for name in sorted(files):
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            if not name.startswith(".") and _matches(name, rel, patterns) \
                    and os.path.isfile(path):
                found.append((path, rel))
    return found


def _file_rel(path: str) -> str:
    """Where a file named on its own is mirrored: relative to the working directory when it
    lies under it, else by its name alone."""
    rel = os.path.relpath(os.path.abspath(path))
    if rel == ".." or rel.startswith(".." + os.sep):
        rel = os.path.basename(path)
    return rel.replace(os.sep, "/")


def discover(paths: tuple[str, ...], *, output_dir: str, recursive: bool = False,
             patterns: tuple[str, ...] = (), stdin: TextIO | None = None,
             warn: Any = None) -> list[BatchItem]:
    """The datasets that PATH arguments name, in order (directories sorted), each once."""
    if paths.count("-") > 1:
        raise click.UsageError("'-' (a list of paths on stdin) can be given only once")
    args: list[str] = []
    for p in paths:
        args.extend(_read_path_list(stdin if stdin is not None else sys.stdin)
                    if p == "-" else [p])
    out_real = os.path.realpath(output_dir)
    found: list[tuple[str, str]] = []  # (path, relative path)
    skipped_inside = 0
    for arg in args:
        if os.path.isdir(arg):
            if _inside(os.path.realpath(arg), out_real):
                raise click.UsageError(
                    f"{arg} is (inside) the output directory {output_dir}; give an output "
                    "directory outside the data")
            found.extend(_walk(arg, recursive, patterns, out_real))
        elif _inside(os.path.realpath(arg), out_real):
            skipped_inside += 1  # an output of an earlier run (find . | emgmm batch -)
        else:
            found.append((arg, _file_rel(arg)))
    if skipped_inside and warn is not None:
        warn(f"left out {skipped_inside} file{'s' if skipped_inside > 1 else ''} inside "
             f"the output directory {output_dir}")

    items: list[BatchItem] = []
    seen: set[str] = set()
    owner: dict[str, str] = {}
    for path, rel in found:
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        out_dir = os.path.join(output_dir, *os.path.splitext(rel)[0].split("/"))
        key = os.path.normcase(os.path.normpath(out_dir))
        if key in owner:
            raise click.UsageError(
                f"{owner[key]} and {path} would both write to {out_dir}; rename one, or "
                "choose the files with --glob")
        owner[key] = path
        items.append(BatchItem(path, out_dir))
    return items


def check_overwrites(items: list[BatchItem], *, output_dir: str, summary: str | None,
                     responsibilities: bool, means_init: str | None,
                     select: bool = False) -> None:
    """Refuse (bad usage) a layout where an output would overwrite an input file."""
    inputs = {os.path.realpath(i.path): i.path for i in items}
    if means_init:
        inputs[os.path.realpath(means_init)] = means_init
    names = [n for k, n in STANDARD_NAMES.items() if k != "responsibilities" or responsibilities]
    if select:
        names.append(SELECTION_NAME)
    outputs = [os.path.join(output_dir, SUMMARY_NAME)] + ([summary] if summary not in
                                                           (None, "-") else [])
    outputs += [os.path.join(i.out_dir, n) for i in items for n in names]
    for out in outputs:
        real = os.path.realpath(out)
        if real in inputs:
            raise click.UsageError(
                f"refusing to overwrite the input file {inputs[real]} with {out}; "
                "choose another --output-dir")


# --------------------------------------------------------------------------- one dataset


def _destinations(settings: BatchSettings, out_dir: str) -> dict[str, str]:
    """Output name -> path of every file a dataset's folder gets (selection with --select)."""
    dest = {name: os.path.join(out_dir, std) for name, std in STANDARD_NAMES.items()}
    if not settings.responsibilities:
        del dest["responsibilities"]
    if settings.select is not None:
        dest["selection"] = os.path.join(out_dir, SELECTION_NAME)
    return dest


def failure_reason(exc: BaseException, path: str) -> str:
    """One line for the summary's status (the file is named in its own column)."""
    from ..io.errors import DataError
    from .errors import one_line

    if isinstance(exc, DataError) and exc.source == path:
        parts = [f"line {exc.line}"] if exc.line is not None else []
        if exc.column is not None:
            parts.append(f"column '{exc.column}'")
        return ": ".join([*parts, exc.message])
    return one_line(exc)


def _created_dirs(path: str) -> list[str]:
    """The folders makedirs(path) would create, deepest first."""
    missing: list[str] = []
    while path and not os.path.exists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


def _write(fitted: "Fitted", dest: dict[str, str], out_dir: str,
           selection: dict[str, list[Any]] | None = None) -> None:
    """Stage every output, then rename them into place together (model.json last).

    selection: the columns of selection.csv (dest["selection"]), with --select.  Without
    it, a selection.csv left in the folder by an earlier --select run is removed, so that
    the folder holds the outputs of one run.

    Ctrl-C is held back from the renames until the dataset's row is recorded (see
    run_tasks), so the folder ends up complete and in the summary, or not at all; a folder
    this created is removed again if the outputs could not be written.
    """
    from ..backends.processes import check_stop, deferred_interrupt, hold_interrupts
    from ..io.writers import OutputSet, ensure_dir, write_table
    from ._fitting import stage_outputs

    created = _created_dirs(out_dir)
    out = OutputSet()
    try:
        ensure_dir(out_dir)
        if selection is not None:
            write_table(dest["selection"], selection, out=out)
        stage_outputs(out, dest, fitted)
        check_stop()
        hold_interrupts()
        out.commit()
        if selection is None:
            try:
                os.unlink(os.path.join(out_dir, SELECTION_NAME))
            except FileNotFoundError:
                pass
    except BaseException:
        with deferred_interrupt():
            out.abort()
            _remove_temp_files(out_dir, dest)
            for folder in created:  # deepest first; a folder another dataset uses stays
                try:
                    os.rmdir(folder)
                except OSError:
                    break
        raise


def _remove_temp_files(out_dir: str, dest: dict[str, str]) -> None:
    """Remove the temporary files of dest left in out_dir (OutputSet names them
    .{name}.tmp-XXXXXXXX; one created just as Ctrl-C came can escape its bookkeeping)."""
    prefixes = tuple(f".{os.path.basename(p)}.tmp-" for p in dest.values())
    try:
        names = os.listdir(out_dir)
    except OSError:
        return
    for name in names:
        if name.startswith(prefixes):
            try:
                os.unlink(os.path.join(out_dir, name))
            except OSError:
                pass


def run_one(task: BatchTask) -> BatchRow:
    """Read, fit (or select) and write one dataset; a failure is the row's status, not an
    exception.

    Cancelled (the batch is stopping) and KeyboardInterrupt go through, leaving no files.
    """
    from ..backends.processes import check_stop
    from ._fitting import fit_points, load_means, load_request

    start = time.perf_counter()
    item, settings = task.item, task.settings
    req = replace(settings.request, input=item.path, output_dir=item.out_dir)
    row = BatchRow(item.path)
    try:
        points = load_request(req)
        row.rows, row.dims = points.n_samples, points.n_features
        table: dict[str, list[Any]] | None = None
        if settings.select is not None:
            fitted, table, warnings = _select_points(points, req, settings.select,
                                                     n_threads=settings.n_threads)
        else:
            means_init = load_means(req.means_init) if req.means_init else None
            fitted = fit_points(points, req, means_init=means_init,
                                on_iteration=lambda *_: check_stop(),
                                n_threads=settings.n_threads)
            warnings = [event_message(e) for e in fitted.result.events]
        check_stop()
        _write(fitted, _destinations(settings, item.out_dir), item.out_dir, selection=table)
    except Exception as exc:  # noqa: BLE001 - every failure is reported in the summary
        row.status = f"failed: {failure_reason(exc, item.path)}"
    else:
        row.fill_from_model(fitted.doc)
        row.warnings = warnings
    row.seconds = time.perf_counter() - start
    return row


def _select_points(points: "Points", req: FitRequest, spec: SelectSpec, *,
                   n_threads: int | None = None
                   ) -> tuple["Fitted", dict[str, list[Any]], list[str]]:
    """Fit every cell of spec's grid to points, one after another, and choose.

    Returns the chosen cell as a fit of it (what fit_points gives: labels, trace and
    model.json are written from it alike), the selection table (select's --table) and the
    warnings (the chosen fit's events, and the cells that failed).  Raises DataError
    naming req.input when no cell can be chosen.
    """
    from ..backends.processes import check_stop
    from ..engine.selection import Selection, choose
    from ..io.errors import DataError
    from ._fitting import fitted, points_dataset
    from ._select import fit_cell_on, grid_template, plan_grid, selection_rows, table_columns

    assert req.seed is not None  # batch_request draws one when --seed is not given
    tasks, tree = plan_grid(points.x, spec.covariance_types, spec.components,
                            grid_template(req), req.seed)
    results: list[CellResult] = []
    for task in tasks:
        check_stop()
        results.append(fit_cell_on(points.x, task, tree, n_threads=n_threads,
                                   on_iteration=lambda *_: check_stop()))
    selection = Selection(results, spec.criterion, choose(results, spec.criterion))
    best = selection.best_cell
    if best is None or best.result is None:
        raise DataError(req.input, _no_choice(results, spec.criterion))
    cell = best.cell
    data = points_dataset(points, cell.n_components, cell.covariance_type,
                          n_threads=n_threads)
    warnings = [event_message(e) for e in best.result.events]
    failed = [r for r in results if r.status == "failed"]
    if failed:
        warnings.append(f"{len(failed)} of {len(results)} cells failed (first: "
                        f"{_cell_name(failed[0])}: {failed[0].message}); see its "
                        f"{SELECTION_NAME}")
    return (fitted(points, data, best.result), table_columns(selection_rows(selection)),
            warnings)


def _cell_name(result: "CellResult") -> str:
    return f"{result.cell.covariance_type} K={result.cell.n_components}"


def _no_choice(results: list["CellResult"], criterion: str) -> str:
    """Why no cell of a dataset could be chosen: how many failed or ended degenerate, and
    what became of the first cell (the simplest model)."""
    failed = sum(r.status == "failed" for r in results)
    degenerate = sum(r.status == "degenerate" for r in results)
    other = len(results) - failed - degenerate  # fitted, without a finite criterion
    parts = [f"{n} {what}" for n, what in (
        (failed, "failed"), (degenerate, "ended degenerate"),
        (other, f"had no finite {criterion.upper()}")) if n]
    if len(parts) > 1:
        counts = f"of {len(results)} cells, {' and '.join(parts)}"
    else:
        what = parts[0].split(" ", 1)[1]
        counts = (f"the only cell {what}" if len(results) == 1
                  else f"all {len(results)} cells {what}")
    first = results[0]
    why = f"; {_cell_name(first)}: {first.message}" if first.message else ""
    hint = ("; try fewer components, more --n-init, or a larger --reg-covar" if degenerate
            else "")
    return f"no cell could be chosen: {counts}{why}{hint}"


# --------------------------------------------------------------------------- resuming


def existing_row(item: BatchItem, settings: BatchSettings, seed_given: bool
                 ) -> BatchRow | None:
    """The summary row of a dataset whose outputs are complete, or None to fit it.

    Complete: model.json (written last), labels.csv and trace.csv exist (and
    responsibilities.csv when asked for), and model.json is an emgmm model fitted with
    the options asked for now (K, covariance type, restarts, tol, max-iter, reg-covar,
    algorithm, init or means-init, and the seed if --seed is given).

    With --select, selection.csv must exist too and hold the grid asked for (the same
    cells in the same order; with --seed, each cell's seed derived from it), the cell it
    marks best must be the one --criterion picks from its numbers, and model.json must be
    that cell's fit (its K, covariance type and seed) with the other options asked for.
    Without --select, a folder holding a selection.csv is a selection's: fitted again.
    """
    dest = _destinations(settings, item.out_dir)
    if not all(os.path.isfile(p) for p in dest.values()):
        return None
    if settings.select is None and os.path.exists(os.path.join(item.out_dir, SELECTION_NAME)):
        return None
    try:
        with open(dest["model"], encoding="utf-8") as fh:
            doc = json.load(fh)
        opts = doc["options"]
        req = settings.request
        compared = [n for n in _COMPARED_OPTIONS
                    if settings.select is None or n not in _PER_CELL_OPTIONS]
        wanted = {name: getattr(req, name) for name in compared}
        wanted["init"] = "means-init" if req.means_init else req.init
        wanted["means_init"] = req.means_init
        if seed_given and settings.select is None:
            wanted["seed"] = req.seed
        if doc.get("format") != "emgmm-model" or any(opts.get(k) != v
                                                      for k, v in wanted.items()):
            return None
        if settings.select is not None and not _selection_matches(
                dest["selection"], settings.select, doc, req.seed if seed_given else None):
            return None
        row = BatchRow(item.path, status="skipped")
        row.fill_from_model(doc)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return row


def _selection_matches(path: str, spec: SelectSpec, doc: dict[str, Any],
                       seed: int | None) -> bool:
    """Whether selection.csv at path is spec's grid, chosen by spec's criterion, and
    doc (model.json) is its chosen cell.  seed: the --seed every cell seed must derive
    from, or None when it was not given.  Raises ValueError, KeyError, ... on a table that
    cannot be read."""
    from ..engine.selection import cell_seed, grid

    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    cells = grid(spec.covariance_types, spec.components)
    if [(r["covariance_type"], int(r["n_components"])) for r in rows] != [
            (c.covariance_type, c.n_components) for c in cells]:
        return False
    if seed is not None and any(int(r["seed"]) != cell_seed(seed, c)
                                for r, c in zip(rows, cells)):
        return False
    # the cell the criterion picks: the lowest finite value of the cells that may be
    # chosen, the first on ties (engine.selection.choose, on the numbers of the table)
    pick: int | None = None
    best_value = math.inf
    for i, r in enumerate(rows):
        value = float(r[spec.criterion]) if r[spec.criterion] else math.nan
        if r["status"] == "ok" and math.isfinite(value) and value < best_value:
            pick, best_value = i, value
    marked = [i for i, r in enumerate(rows) if r["best"] == "true"]
    if pick is None or marked != [pick]:
        return False
    chosen = rows[pick]
    return (doc["covariance_type"], doc["n_components"], doc["options"]["seed"]) == (
        chosen["covariance_type"], int(chosen["n_components"]), int(chosen["seed"]))


# --------------------------------------------------------------------------- the batch


def _prune_empty(items: list[BatchItem], output_dir: str) -> None:
    """Remove empty folders left on the way to dataset folders (never output_dir)."""
    root = os.path.normpath(output_dir)
    folders: set[str] = set()
    for item in items:
        folder = os.path.normpath(item.out_dir)
        while folder != root and folder.startswith(root + os.sep):
            folders.add(folder)
            folder = os.path.dirname(folder)
    for folder in sorted(folders, key=len, reverse=True):
        try:
            os.rmdir(folder)  # only succeeds when empty
        except OSError:
            pass


def write_summary(rows: list[BatchRow], output_dir: str, summary: str | None) -> None:
    """summary.csv in output_dir, and --summary FILE (.csv, .tsv or .json; '-': stdout)."""
    from ..io.writers import OutputSet, ensure_dir, output_format, write_json, write_table

    records = [r.record() for r in rows]
    columns = {name: [rec[name] for rec in records] for name in SUMMARY_COLUMNS}
    ensure_dir(output_dir)
    with OutputSet() as out:
        write_table(os.path.join(output_dir, SUMMARY_NAME), columns, out=out)
        if summary is not None:
            if output_format(summary) == "json":
                write_json(summary, records, out=out)
            else:
                write_table(summary, columns, out=out)


def run_batch(term: Terminal, items: list[BatchItem], settings: BatchSettings, *,
              output_dir: str, jobs: int, skip_existing: bool, seed_given: bool,
              summary: str | None) -> None:
    """Fit every item, write the summary, show it; exit status 1 when any failed."""
    from ..backends.local import available_cores
    from ..backends.processes import run_tasks, worker_count
    from ..render import batch_progress, make_console, render_batch_summary

    started = time.perf_counter()
    rows: dict[int, BatchRow] = {}
    for i, item in enumerate(items):
        done = existing_row(item, settings, seed_given) if skip_existing else None
        if done is not None:
            rows[i] = done
    todo = [i for i in range(len(items)) if i not in rows]
    workers = worker_count(jobs, len(todo))
    if workers > 1:
        settings = replace(settings, n_threads=max(1, available_cores() // workers))
    tasks = [BatchTask(items[i], settings) for i in todo]

    show = term.stderr_isatty and not term.quiet
    try:
        with batch_progress(term.stderr if show else None, len(items), done=len(rows),
                            fallback=term.stderr) as display:
            def on_start(j: int) -> None:
                display.started(items[todo[j]].path)

            def on_result(j: int, value: BatchRow | BaseException) -> None:
                item = items[todo[j]]
                row = value if isinstance(value, BatchRow) else BatchRow(
                    item.path, status=f"failed: {failure_reason(value, item.path)}")
                rows[todo[j]] = row
                display.finished(item.path, failed=row.failed)
                if row.failed:
                    reason = row.status.removeprefix("failed: ")
                    display.message(f"emgmm: error: {item.path}: {reason}")
                elif not term.quiet:
                    for text in row.warnings:
                        display.message(f"emgmm: warning: {item.path}: {text}")

            run_tasks(run_one, tasks, workers, on_start=on_start, on_result=on_result)
    finally:
        done_rows = [rows[i] for i in sorted(rows)]
        _prune_empty(items, output_dir)
        write_summary(done_rows, output_dir, summary)

    failed = sum(r.failed for r in done_rows)
    stream = term.message_stream(summary == "-")
    if stream is not None:
        skipped = sum(r.status == "skipped" for r in done_rows)
        caption = (f"{len(items)} datasets: {len(items) - failed - skipped} fitted, "
                   f"{skipped} skipped, {failed} failed in "
                   f"{time.perf_counter() - started:.1f} s; summary in "
                   f"{os.path.join(output_dir, SUMMARY_NAME)}")
        render_batch_summary(make_console(stream), [r.record() for r in done_rows],
                             caption=caption)
    if failed:
        raise click.ClickException(
            f"{failed} of {len(items)} datasets failed; see "
            f"{os.path.join(output_dir, SUMMARY_NAME)}")
