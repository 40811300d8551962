"""A batch: fit every dataset as `fit` would (or choose its model as `select` would), and
sum them up (the `batch` use case).

- run_one(): one dataset, in this process or a worker: read, fit or select (the code of
  `fit` and `select`: fitting.fit_points, selecting.select_points), write labels, trace,
  model (model.json last) and selection.csv into its folder atomically; any failure
  becomes the row's status, never an exception.
- existing_row(): --skip-existing keeps a dataset whose outputs are complete and were made
  with the options asked for now (engine.options.FitOptions compares them, and
  INPUT_SPECS the sample weights, known labels and missing-value policy; files read
  beside the data by their digests; a selection's table is read back and chosen from
  with the engine's own choose()).
- run_batch(): skips complete outputs, runs the rest through backends.processes.run_tasks
  (or, with a dask session, as tasks on the cluster's workers),
  reports to a display, writes summary.csv (also when interrupted).

Seeds: every dataset is fitted with the same seed, given or drawn once for the batch
(recorded in each model.json), so `emgmm fit FILE --seed S` with a batch's options
reproduces any of its datasets, and nothing depends on the order the workers finish in.
With a selection, each cell's seed comes from that seed and the cell alone
(engine.selection.cell_seed), as in `emgmm select FILE --seed S`.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ..backends.local import available_cores
from ..backends import active
from ..backends.processes import (
    WorkerDied,
    check_stop,
    deferred_interrupt,
    hold_interrupts,
    raise_if_stopped,
    run_tasks,
    stop_at_iteration,
    worker_count,
)
from ..engine.degenerate import DegenerateComponent
from ..engine.errors import EngineError, Finding
from .. import vocab
from ..engine.fitting import with_known_labels
from ..engine.options import INPUT_DEFAULTS, FitOptions
from ..engine.selection import cell_seed, choose, grid
from ..io.errors import DataError
from ..io.readers import Points
from ..io.formats import FORMATS, format_for_path, formats_help
from ..io.writers import (OutputSet, check_targets, ensure_dir, is_stdout, made_dir, write_json,
                          write_table)
from .data import feature_names, file_identity
from .discover import SUMMARY_COLUMNS, SUMMARY_NAME, BatchItem
from .errors import UsageProblem
from ..io.model import DIGESTS_FIELD, SOURCE_FILE_FIELD, SOURCE_SIZE_FIELD, LoadedModel
from .fitting import (FILE_INPUTS, Fitted, continued_options, file_digests, fit_points,
                      input_files, load_means, read_fit_data, stage_outputs)
from .requests import STANDARD_NAMES, ReadOptions, SelectGrid
from .selecting import cell_name, no_choice_message, select_points

#: The table of every cell (select's --table) in each dataset's folder, with a selection.
SELECTION_NAME = "selection.csv"
#: Options a selection sets per cell, so not compared with what was asked for.
_PER_CELL_OPTIONS = ("n_components", "covariance_type", "seed")


@dataclass(frozen=True)
class BatchSettings:
    """What applies to every dataset of a batch.

    options: the fit options, with the batch's seed (with a selection, the template of
    every cell: its K and family are the cells', its seed the one cell seeds derive from).
    """

    read: ReadOptions
    options: FitOptions
    means_init: str | None = None
    responsibilities: bool = False
    select: SelectGrid | None = None  # choose each dataset's K and covariance family
    n_threads: int | None = None  # threads of the block reduction in each fit
    standardize: bool = False  # fit standardized columns (app.prepare)
    #: the model options.init_model names, read once for every dataset
    start_model: LoadedModel | None = None


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
    stopped: str | None = None  # why the fit stopped (the model's stopped)
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
        self.stopped = doc.get("stopped")  # absent from files of earlier versions
        self.log_likelihood, self.bic = doc["log_likelihood"], doc["bic"]


def destinations(settings: BatchSettings, out_dir: str) -> dict[str, str]:
    """Output name -> path of every file a dataset's folder gets (selection with one)."""
    dest = {name: os.path.join(out_dir, std) for name, std in STANDARD_NAMES.items()}
    if not settings.responsibilities:
        del dest["responsibilities"]
    if settings.select is not None:
        dest["selection"] = os.path.join(out_dir, SELECTION_NAME)
    return dest


def check_overwrites(items: list[BatchItem], settings: BatchSettings, *, output_dir: str,
                     summary: str | None, as_json: bool = False) -> None:
    """Refuse (UsageProblem) a layout where an output would overwrite an input file, and
    two outputs on stdout (--summary - and --json); then (DataError) a --summary FILE
    where the batch writes other outputs (_check_summary_place)."""
    if as_json and summary is not None and is_stdout(summary):
        raise UsageProblem(f"only one output can go to stdout, got --summary {summary} and "
                           "--json")
    inputs = {os.path.realpath(i.path): i.path for i in items}
    beside = {**settings.read.inputs(), "means_init": settings.means_init,
              "init_model": settings.options.init_model}
    for name in FILE_INPUTS:
        if beside[name] == "-":  # read for every dataset: standard input would be read once
            raise UsageProblem(f"--{name.replace('_', '-')} - (standard input) is read once, "
                               "and a batch reads it for every dataset; give a file name")
    for path in input_files(beside):
        inputs[os.path.realpath(path)] = path
    outputs = [os.path.join(output_dir, SUMMARY_NAME)] + (
        [summary] if summary not in (None, "-") else [])
    outputs += [p for i in items for p in destinations(settings, i.out_dir).values()]
    for out in outputs:
        real = os.path.realpath(out)
        if real in inputs:
            option = "--summary" if out is summary else "--output-dir"
            raise UsageProblem(f"refusing to overwrite the input file {inputs[real]} with "
                               f"{out}; choose another {option}")
    # (a --summary FILE among the datasets' folders: _check_summary_place says so)
    _check_folders(items, {os.path.realpath(p): p for p in outputs if p is not summary},
                   output_dir)
    if summary not in (None, "-"):
        _check_summary_place(items, output_dir, summary)
    _check_summary_target(output_dir, summary)


def _check_folders(items: list[BatchItem], files: dict[str, str], output_dir: str) -> None:
    """Refuse (UsageProblem) a dataset whose folder of outputs is the path of a file the
    batch writes, or lies under one: a dataset named summary.csv.npy (its folder
    DIR/summary.csv), or x/labels.csv.npy beside x.csv (DIR/x/labels.csv).  Its fit ran,
    then the file could not be written ("is a directory"), the summary lost."""
    top = os.path.realpath(output_dir)
    for item in items:
        folder = os.path.realpath(item.out_dir)
        while folder != top and len(folder) > len(top):
            if folder in files:
                raise UsageProblem(f"the outputs of {item.path} go to the folder "
                                   f"{item.out_dir}, which the batch writes as the file "
                                   f"{files[folder]}; rename the dataset, or fit it apart")
            folder = os.path.dirname(folder)


def _check_summary_target(output_dir: str, summary: str | None) -> None:
    """DIR/summary.csv and the --summary FILE checked as any command checks its outputs
    before reading data (app.fitting.check_outputs): a format that holds the summary's
    text columns (UsageProblem), and files that can be written (DataError): DIR is made
    by the batch, the folder of FILE must exist unless it is DIR."""
    targets = [summary_path(output_dir)]
    if summary is not None:
        if not FORMATS[format_for_path(summary, text_columns=True)].holds_text:
            raise UsageProblem(f"the summary has text columns; give --summary a "
                               f"{formats_help(text_columns=True)} name, not {summary}",
                               option="--summary")
        folder = os.path.dirname(os.path.realpath(summary))
        if summary != "-" and folder == os.path.realpath(output_dir):
            targets.append(summary)
        else:
            check_targets([summary])
    check_targets(targets, creates=output_dir)


#: Every file a dataset's folder can hold, whichever outputs a run asks for.
FOLDER_NAMES = (*STANDARD_NAMES.values(), SELECTION_NAME)


def _check_summary_place(items: list[BatchItem], output_dir: str, summary: str) -> None:
    """Refuse (DataError) a --summary FILE that is the batch's summary.csv, or lies in a
    dataset's folder (which holds that dataset's outputs only), or is such a folder or a
    folder on the way to one: one output would overwrite, or be removed with, another."""
    real = os.path.realpath(summary)
    if real == os.path.realpath(summary_path(output_dir)):
        raise DataError(summary, f"the same file is given for two outputs (the batch's "
                                 f"{SUMMARY_NAME}); give --summary another file")
    for item in items:
        folder = os.path.realpath(item.out_dir)
        if os.path.dirname(real) == folder and os.path.basename(real) in FOLDER_NAMES:
            raise DataError(summary, f"the same file is given for two outputs (an output "
                                     f"of {item.path}); give --summary a file outside "
                                     f"{item.out_dir}")
        if real.startswith(folder + os.sep):
            raise DataError(summary, f"is inside {item.out_dir}, the folder of the outputs "
                                     f"of {item.path}, which holds those only; give "
                                     "--summary a file outside it")
        if real == folder or folder.startswith(real + os.sep):
            raise DataError(summary, f"is the folder of the outputs of {item.path}, or one "
                                     "on the way to it; give --summary a file name")


# --------------------------------------------------------------------------- one dataset


def failure_reason(exc: BaseException, path: str, phrase: "Phrasing") -> str:
    """One line for the summary's status (the file is named in its own column), phrased
    as the command line says failures (phrase)."""
    if isinstance(exc, DataError) and exc.source == path:
        parts = [f"line {exc.line}"] if exc.line is not None else []
        if exc.column is not None:
            parts.append(f"column '{exc.column}'")
        return phrase.located(exc, ": ".join([*parts, exc.message]))
    if isinstance(exc, EngineError) and exc.source == path:
        exc.source = None  # named in its own column
    if isinstance(exc, WorkerDied):  # died alone (worker processes) or not run again
        return str(exc) if exc.alone else f"{exc}; run the batch again with --skip-existing"
    return str(phrase.failure(exc))


def _write(fit: Fitted, dest: dict[str, str], out_dir: str,
           selection: dict[str, list[Any]] | None = None) -> None:
    """Stage every output, then rename them into place together (model.json last).

    selection: the columns of selection.csv, with a selection.  The files of
    FOLDER_NAMES this run does not write (responsibilities.csv without
    --responsibilities, selection.csv without a selection) are removed, so that the
    folder holds the outputs of one run, and --skip-existing never pairs an earlier run's
    file with this run's model.

    Ctrl-C is held back from the renames until the dataset's row is recorded (see
    run_tasks), so the folder ends up complete and in the summary, or not at all; a folder
    this created is removed again if the outputs could not be written.
    """
    out = OutputSet()

    def undo() -> None:
        with deferred_interrupt():
            out.abort()
            _remove_temp_files(out_dir, dest)

    with made_dir(out_dir, on_failure=undo):  # a folder another dataset uses stays
        if selection is not None:
            write_table(dest["selection"], selection, out=out)
        stage_outputs(out, dest, fit)
        check_stop()
        hold_interrupts()
        out.commit()
        written = {os.path.basename(p) for p in dest.values()}
        for name in FOLDER_NAMES:
            if name not in written:
                try:
                    os.unlink(os.path.join(out_dir, name))
                except FileNotFoundError:
                    pass


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


def _fit_one(points: Points, settings: BatchSettings, phrase: "Phrasing",
             warnings: list[str]) -> tuple[Fitted, dict[str, list[Any]] | None]:
    """Fit (or select) one dataset: its fit and its selection table; its warnings are
    appended to warnings (what the screen finds, before the fit)."""
    found = lambda finding: warnings.append(phrase.finding(finding))  # noqa: E731
    if settings.select is None:
        means = (load_means(settings.means_init, settings.options.n_components,
                            points.n_features, points.column_names)
                 if settings.means_init else None)
        options = settings.options.replace(means_init=settings.means_init)
        fit = fit_points(points, options, means_init=means, on_iteration=stop_at_iteration,
                         n_threads=settings.n_threads, standardize=settings.standardize,
                         on_finding=found, inputs=settings.read.inputs(),
                         start_model=settings.start_model)
        warnings += phrase.events(fit)
        return fit, None
    selected = select_points(points, settings.select, settings.options,
                             seed=settings.options.seed, on_iteration=stop_at_iteration,
                             n_threads=settings.n_threads, standardize=settings.standardize,
                             on_finding=found, inputs=settings.read.inputs())
    best = selected.best
    if best is None:
        raise DataError(points.source, no_choice_message(selected))
    warnings += phrase.events(best)
    failed = selected.failed()
    if failed:
        warnings.append(f"{len(failed)} of {len(selected.cells)} cells failed (first: "
                        f"{cell_name(failed[0])}: {failed[0].message}); see its "
                        f"{SELECTION_NAME}")
    return best, selected.table()


class Phrasing(Protocol):
    """How the command line says what a batch reports (picklable, for worker processes):
    a failure, a finding of the screen, and a fit's events, each as lines."""

    def failure(self, exc: BaseException) -> str: ...

    def located(self, exc: DataError, text: str) -> str:
        """A data error said as text (its place in the file, its message), with the
        remedies it names."""

    def finding(self, finding: Finding) -> str: ...

    def events(self, fit: Fitted) -> list[str]: ...


@dataclass(frozen=True)
class OneDataset:
    """The task function of a batch (picklable): run_one with the command line's way of
    phrasing what it reports."""

    phrase: Phrasing

    def __call__(self, task: BatchTask) -> BatchRow:
        return run_one(task, self.phrase)


def run_one(task: BatchTask, phrase: Phrasing) -> BatchRow:
    """Read, fit (or select) and write one dataset; a failure is the row's status, not an
    exception.  Cancelled (the batch is stopping) and KeyboardInterrupt go through,
    leaving no files.  The row's warnings are kept when it fails, too (what the screen
    found often says why)."""
    start = time.perf_counter()
    item, settings = task.item, task.settings
    row = BatchRow(item.path)
    try:
        # what would keep its outputs from being written, before its data are read (a
        # file where its folder goes, a folder where an output goes): as fit finds them
        dest = destinations(settings, item.out_dir)
        check_targets(dest.values(), creates=item.out_dir)
        points = read_fit_data(item.path, settings.read, settings.start_model,
                               lambda line: row.warnings.append(
                                   line.removeprefix(f"{item.path}: ")))
        row.rows, row.dims = points.n_samples, points.n_features
        fit, table = _fit_one(points, settings, phrase, row.warnings)
        check_stop()
        _write(fit, dest, item.out_dir, selection=table)
    except Exception as exc:  # noqa: BLE001 - every failure is reported in the summary
        raise_if_stopped()  # unless it is a stop signal in disguise
        row.status = f"failed: {failure_reason(exc, item.path, phrase)}"
        if isinstance(exc, DegenerateComponent):  # stopped by on_degenerate 'error'
            row.stopped = exc.stopped
    else:
        row.fill_from_model(fit.document)
    row.seconds = time.perf_counter() - start
    return row


# --------------------------------------------------------------------------- resuming


def _data_changed(path: str) -> int:
    """When the data file at path (and the link that path may be) was last written or
    put in place: the latest modification or status-change time, in ns."""
    return max(max(st.st_mtime_ns, st.st_ctime_ns) for st in (os.stat(path), os.lstat(path)))


def existing_row(item: BatchItem, settings: BatchSettings, seed_given: bool
                 ) -> BatchRow | None:
    """The summary row of a dataset whose outputs are complete, or None to fit it.

    Complete: every output exists (model.json is written last), the data file has not
    been written or put in place since model.json was (_data_changed) and has the size
    and is the file (device and inode) model.json records (SOURCE_SIZE_FIELD and
    SOURCE_FILE_FIELD, where it does), and model.json
    is an emgmm model fitted with the fit options asked for now (every FitOptions field
    but the seed, which must match when one was given) and the same inputs
    (_options_match), from the data read as asked now (_read_matches); with a selection,
    every field but K, family and seed, which are the chosen cell's: selection.csv must
    then hold the grid asked for, each cell with the seed derived from the one given, and
    mark best the cell the criterion picks from its numbers, and model.json must be that
    cell's fit.  Without a selection, a folder holding a selection.csv is a selection's:
    fitted again.
    """
    dest = destinations(settings, item.out_dir)
    if not all(os.path.isfile(p) for p in dest.values()):
        return None
    if settings.select is None and os.path.exists(os.path.join(item.out_dir, SELECTION_NAME)):
        return None
    try:
        # make's rule: data written at or after its model.json are not what was fitted;
        # nor data put in place since (their change time: a file moved or copied in
        # with its old modification time, a link made to point elsewhere)
        if _data_changed(item.path) >= os.stat(dest["model"]).st_mtime_ns:
            return None
        with open(dest["model"], encoding="utf-8") as fh:
            doc = json.load(fh)
        # nor a file of another size (one older than the model moved into its place), nor
        # another file (its folder swapped, a link to a folder retargeted: the file's own
        # times are its old ones; another path that the same output folder is named for)
        size, identity = file_identity(item.path)
        here = None if identity is None else list(identity)
        if doc.get(SOURCE_SIZE_FIELD, size) != size or doc.get(SOURCE_FILE_FIELD, here) != here:
            return None
        if doc.get("format") != "emgmm-model" or not _options_match(
                doc, settings, seed_given) or (
                ("transform" in doc) != settings.standardize) or not _read_matches(
                item.path, settings.read, doc):
            return None
        if settings.select is not None and not _selection_matches(
                dest["selection"], settings.select, doc,
                settings.options.seed if seed_given else None):
            return None
        row = BatchRow(item.path, status="skipped")
        row.fill_from_model(doc)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, EngineError,
            DataError):
        return None
    return row


def _read_matches(path: str, read: ReadOptions, doc: dict[str, Any]) -> bool:
    """Whether doc (model.json) was fitted from the data as read now: the dtype it records,
    and its feature_names the columns that --columns, -d, -H/--header and the weights and
    known-label columns select now, found from the file's head (data.feature_names);
    where the head cannot tell which rows were data ("0,1,..." first), not."""
    if doc["options"].get("dtype") != read.dtype:
        return False
    return feature_names(path, read) == doc["feature_names"]


def _options_match(doc: dict[str, Any], settings: BatchSettings, seed_given: bool
                   ) -> bool:
    """Whether doc (model.json) was fitted as settings ask now: the same fit options
    (FitOptions), the same inputs besides the points (INPUT_SPECS: sample weights, known
    labels, missing values; a file written before they were recorded has the defaults),
    and files read beside the data (starting means, init model, weights, labels) with
    the same content as now (their digests)."""
    recorded = doc["options"]
    found = FitOptions.from_dict(recorded).to_dict()
    wanted = settings.options.replace(means_init=settings.means_init)
    if settings.means_init:
        wanted = wanted.from_means()
    if settings.start_model is not None:  # the model's K and family, one run
        wanted = continued_options(wanted, settings.start_model).from_model()
    skip = set(_PER_CELL_OPTIONS if settings.select is not None else ())
    if not seed_given:
        skip.add("seed")
    inputs = settings.read.inputs()
    if inputs["known_column"] or inputs["known_labels"]:  # as the fit ran (and recorded)
        wanted = with_known_labels(wanted)
        if found["init"] == vocab.MEANS_INIT and not settings.means_init:
            wanted = wanted.from_means()  # the known rows' means
    if not all(found[k] == v for k, v in wanted.to_dict().items() if k not in skip):
        return False
    if any(recorded.get(name, INPUT_DEFAULTS[name]) != value for name, value in inputs.items()):
        return False
    return file_digests({**wanted.to_dict(), **inputs}) == doc.get(DIGESTS_FIELD, {})


@dataclass(frozen=True)
class _RecordedCell:
    """A cell read back from selection.csv: what engine.selection.choose reads."""

    row: dict[str, str]

    @property
    def eligible(self) -> bool:
        return self.row["status"] == "ok"

    def criterion(self, name: str) -> float:
        text = self.row[name]
        return float(text) if text else math.nan


def _selection_matches(path: str, spec: SelectGrid, doc: dict[str, Any],
                       seed: int | None) -> bool:
    """Whether selection.csv at path is spec's grid, chosen by spec's criterion, and
    doc (model.json) is its chosen cell.  seed: the seed every cell seed must derive
    from, or None when it was not given."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    cells = grid(spec.covariance_types, spec.components, doc["n_features"])
    if [(r["covariance_type"], int(r["n_components"])) for r in rows] != [
            (c.covariance_type, c.n_components) for c in cells]:
        return False
    if seed is not None and any(int(r["seed"]) != cell_seed(seed, c)
                                for r, c in zip(rows, cells)):
        return False
    pick = choose([_RecordedCell(r) for r in rows], spec.criterion)
    marked = [i for i, r in enumerate(rows) if r["best"] == "true"]
    if pick is None or marked != [pick]:
        return False
    chosen = rows[pick]
    return (doc["covariance_type"], doc["n_components"], doc["options"]["seed"]) == (
        chosen["covariance_type"], int(chosen["n_components"]), int(chosen["seed"]))


# --------------------------------------------------------------------------- the batch


class Display(Protocol):
    """What a batch reports to while it runs (render.BatchDisplay)."""

    def started(self, name: str) -> None: ...

    def finished(self, name: str, *, failed: bool) -> None: ...

    def message(self, text: str) -> None: ...


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


def summary_path(output_dir: str) -> str:
    return os.path.join(output_dir, SUMMARY_NAME)


def write_summary(rows: list[BatchRow], output_dir: str, summary: str | None) -> None:
    """summary.csv in output_dir, then a summary FILE in the format of its extension
    ('-': CSV on stdout): summary.csv is written even when FILE cannot be."""
    records = [r.record() for r in rows]
    columns = {name: [rec[name] for rec in records] for name in SUMMARY_COLUMNS}
    ensure_dir(output_dir)
    write_table(summary_path(output_dir), columns)
    if summary is not None:
        write_table(summary, columns)


@dataclass
class BatchReport:
    """The rows of a finished (or interrupted) batch, in the order of its datasets."""

    rows: list[BatchRow]
    seconds: float

    @property
    def failed(self) -> int:
        return sum(r.failed for r in self.rows)

    @property
    def skipped(self) -> int:
        return sum(r.status == "skipped" for r in self.rows)

    def document(self, output_dir: str) -> dict[str, Any]:
        """The batch as one JSON document (batch --json): the counts, the seconds, where
        the summary is, and every dataset's row."""
        return {"datasets": len(self.rows), "fitted": len(self.rows) - self.failed - self.skipped,
                "skipped": self.skipped, "failed": self.failed, "seconds": self.seconds,
                "summary": summary_path(output_dir), "rows": [r.record() for r in self.rows]}


def write_document(report: BatchReport, output_dir: str) -> None:
    """The batch as JSON on stdout (BatchReport.document)."""
    write_json("-", report.document(output_dir))


def run_batch(items: list[BatchItem], settings: BatchSettings, display: Display, *,
              output_dir: str, jobs: int, skip_existing: bool, seed_given: bool,
              summary: str | None, task: OneDataset, quiet: bool = False) -> BatchReport:
    """Fit every item (up to jobs at once), write the summary (also when interrupted)."""
    started = time.perf_counter()
    rows: dict[int, BatchRow] = {}
    for i, item in enumerate(items):
        done = existing_row(item, settings, seed_given) if skip_existing else None
        if done is not None:
            rows[i] = done
            display.finished(item.path, failed=False)
    todo = [i for i in range(len(items)) if i not in rows]
    cluster = active()  # a dask cluster: every dataset a task on one of its workers
    workers = worker_count(jobs, len(todo))
    if cluster is not None:
        settings = replace(settings, n_threads=1)
    elif workers > 1:
        settings = replace(settings, n_threads=max(1, available_cores() // workers))
    tasks = [BatchTask(items[i], settings) for i in todo]

    def on_result(j: int, value: BatchRow | BaseException) -> None:
        item = items[todo[j]]
        row = value if isinstance(value, BatchRow) else BatchRow(
            item.path, status=f"failed: {failure_reason(value, item.path, task.phrase)}")
        rows[todo[j]] = row
        # a worker killed as it wrote them leaves temporary files: the task is over
        _remove_temp_files(item.out_dir, destinations(settings, item.out_dir))
        display.finished(item.path, failed=row.failed)
        for text in row.warnings if not quiet else ():
            display.message(f"emgmm: warning: {item.path}: {text}")
        if row.failed:
            display.message(f"emgmm: error: {item.path}: {row.status.removeprefix('failed: ')}")

    try:
        started_one = lambda j: display.started(items[todo[j]].path)  # noqa: E731
        if cluster is not None:
            cluster.run_tasks(task, tasks, on_start=started_one, on_result=on_result)
        else:
            run_tasks(task, tasks, workers, on_start=started_one, on_result=on_result)
    finally:
        done_rows = [rows[i] for i in sorted(rows)]
        _prune_empty(items, output_dir)
        write_summary(done_rows, output_dir, summary)
    return BatchReport(done_rows, time.perf_counter() - started)
