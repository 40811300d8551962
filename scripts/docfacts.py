"""The facts the documentation states, read from the code that makes them true.

Each function returns plain entries (a term and one line about it) or plain text, for
scripts/man_sections.py to put in the man pages and scripts/make_docs.py in the Markdown
docs, so both say the same thing and neither can drift from the code: exit codes from
ExitStatus, commands from COMMANDS, output formats from io.formats.FORMATS, the model
file's fields from io.model.MODEL_FIELDS, its covariance shapes from the family table and
its options from the option schema.  A code change that these functions cannot describe
(an exit code without a meaning below) is an error, not a silent gap.
"""

from __future__ import annotations

from dataclasses import dataclass



@dataclass(frozen=True)
class Entry:
    """A term and what it means: a row of a two-column table, a tagged paragraph."""

    term: str
    text: str


def number(value: float) -> str:
    """A number as the docs write it: 0.001, 1e-6 (not 1e-06), 2000."""
    text = f"{value:g}"
    mantissa, e, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent)}" if e else text


#: What each ExitStatus means, by member name.
EXIT_MEANINGS = {
    "SUCCESS": "success",
    "ERROR": "the data, a file or the fit failed: one line on stderr names the file and, "
             "where known, the line and column, and says what to do",
    "USAGE": "bad usage: an unknown option, a value out of range, a missing argument, "
             "options that exclude each other",
    "HANGUP": "stopped by SIGHUP (the terminal closed), as Ctrl-C stops a run; a run "
              "started under nohup goes on",
    "INTERRUPTED": "interrupted (Ctrl-C); no partial output file or temporary file is left "
                   "behind, batch still writes its summary of what was done, and more "
                   "signals while a run stops change nothing (the first one's status; signals "
                   "that arrive together, before the first is handled, are handled in "
                   "the order of their numbers: SIGINT before SIGTERM)",
    "BROKEN_PIPE": "the program reading standard output stopped early (`emgmm ... | head`): "
                   "the run ends quietly at SIGPIPE, as programs in a pipe do; the files it "
                   "writes besides are written all the same",
    "TERMINATED": "stopped by SIGTERM (kill, timeout, a scheduler), as Ctrl-C stops a run",
}


def exit_codes() -> list[Entry]:
    """Every exit code of emgmm_cli.cli.context.ExitStatus, in value order."""
    from emgmm_cli.cli.context import ExitStatus

    missing = [s.name for s in ExitStatus if s.name not in EXIT_MEANINGS]
    if missing:
        raise ValueError(f"EXIT_MEANINGS has no meaning for ExitStatus.{', '.join(missing)}")
    return [Entry(str(int(s)), EXIT_MEANINGS[s.name]) for s in sorted(ExitStatus)]


#: The flags that mean one thing in every command that has them, and that meaning.
COMMON_FLAGS = {
    "-o": "the command's main output (a file; '-' is stdout but for batch's folder and plot's "
          "picture): fit's labels (or rows), "
          "select's table, batch's folder, the data of predict, score, sample and "
          "make-blobs, plot's picture, info's description",
    "--json": "the result as one JSON document on stdout",
    "--format": "the format of data written to stdout: csv (the default), tsv, json or "
                "jsonl; a file's format follows its extension",
    "-q": "print nothing but data and errors",
    "--no-color": "no colour in tables and pictures (NO_COLOR set to anything but an empty "
                  "string does the same)",
    "-d": "the field delimiter of text input",
    "--columns": "the input columns to use, by header name or 0-based index",
    "-H": "the input has no header row (--header: it has one; default: detected)",
}


def common_flags() -> list[Entry]:
    """Each of COMMON_FLAGS, its meaning, and the commands that take it (from the click
    definitions)."""
    from emgmm_cli.cli.main import COMMANDS

    entries = []
    for flag, meaning in COMMON_FLAGS.items():
        having = [str(c.name) for c in COMMANDS
                  if any(flag in p.opts or flag in p.secondary_opts for p in c.params)]
        if not having:
            raise ValueError(f"no command takes {flag}")
        entries.append(Entry(flag, f"{meaning} ({', '.join(having)})"))
    return entries


def environment() -> list[Entry]:
    """The environment variables emgmm reads or sets."""
    from emgmm_cli.backends.processes import START_VARIABLE
    from emgmm_cli.cli.main import BLAS_THREAD_VARIABLES

    return [
        Entry("NO_COLOR", "when set to anything but an empty string, tables and pictures "
                          "are printed without colour, as with --no-color"),
        Entry("TERM", "when it is dumb, there is no colour either, and no progress display"),
        Entry("COLUMNS", "the width of the terminal for tables and help (0 or unset: the "
                         "terminal's own; a table too wide for it is printed whole, its "
                         "lines wrapped by the terminal, never a number cut)"),
        Entry("EMGMM_FORCE_TTY", "when set to anything but an empty string or 0, stdout and "
                                 "stderr count as terminals (summary tables, not data)"),
        Entry(", ".join(BLAS_THREAD_VARIABLES),
              "threads of the linear-algebra library; emgmm sets each one that is not set "
              "to 1, because its own threads already run one block of rows per core"),
        Entry(START_VARIABLE, "how the worker processes of --jobs start: fork (where the "
                              "platform can) or spawn; unset, they fork (Linux, the BSDs) unless "
                              "the process runs other threads (a progress display's excepted), and "
                              "spawn elsewhere (macOS, Windows)"),
        Entry("DASK_SCHEDULER_ADDRESS", "the scheduler (tcp://HOST:PORT) that --backend dask "
                                        "joins when --scheduler is not given; without either, "
                                        "a local cluster is started"),
        Entry("XDG_CACHE_HOME", "the default --cache-dir is $XDG_CACHE_HOME/emgmm "
                                "(~/.cache/emgmm when it is not set)"),
    ]


def output_formats() -> list[Entry]:
    """Every output format of io.formats.FORMATS: its extensions and what it writes."""
    from emgmm_cli.io.formats import FORMATS

    return [Entry(", ".join(w.extensions), w.description) for w in FORMATS.values()]


def trace_columns() -> list[Entry]:
    """The columns of a trace (app.fitting.TRACE_COLUMNS) and what each holds."""
    from emgmm_cli.app.fitting import TRACE_COLUMNS

    return [Entry(name, what) for name, what in TRACE_COLUMNS.items()]


def model_fields() -> list[Entry]:
    """The model document's fields (io.model.MODEL_FIELDS, then OPTIONAL_FIELDS)."""
    from emgmm_cli.io.model import MODEL_FIELDS, OPTIONAL_FIELDS

    return [Entry(f.name, f.description) for f in (*MODEL_FIELDS, *OPTIONAL_FIELDS)]


def covariance_shapes() -> list[Entry]:
    """The shape of the model's covariances for each family of the family table."""
    from emgmm_cli.engine.families import FAMILIES

    return [Entry(name if name == fam.mclust else f"{name} ({fam.mclust})",
                  f"{fam.shape_text}: {fam.term.description}")
            for name, fam in FAMILIES.items()]


@dataclass(frozen=True)
class OptionEntry(Entry):
    """A field of the model's "options", and the command line's flag for it."""

    flag: str = ""


def model_options() -> list[OptionEntry]:
    """The fields of the model's "options": the fit options, the extra ones, then what
    the rows brought besides their points (engine.options.INPUT_SPECS)."""
    from emgmm_cli.cli.options import flag
    from emgmm_cli.engine.options import INPUT_SPECS, OPTION_SPECS
    from emgmm_cli.io.model import OPTIONS_EXTRA

    entries = [OptionEntry(name, f"{spec.help.rstrip('.')}; {spec.describe()}", flag(name))
               for name, spec in OPTION_SPECS.items()]
    entries += [OptionEntry(f.name, f.description, flag(f.name)) for f in OPTIONS_EXTRA]
    return entries + [OptionEntry(name, f"{spec.help.rstrip('.')}; {spec.describe()}; "
                                        "absent from files of earlier versions", flag(name))
                      for name, spec in INPUT_SPECS.items()]


def model_file_intro() -> str:
    """What a model file is, in a paragraph."""
    from emgmm_cli.io.model import MODEL_FORMAT, TRANSFORM_FIELD

    return (f'A model file is the JSON object that fit --model FILE.json writes (fit --json '
            f'prints it too, with a trace added): format "{MODEL_FORMAT}", version 1, or '
            f"version 2 for a fit of standardized columns, which adds the field "
            f"{TRANSFORM_FIELD} (a reader of version 1 would ignore it and apply the "
            f"parameters to data they are not of). predict, score, sample and info read "
            "it. Numbers are written with full precision, so a model read back gives the "
            "labels and log-densities of the fit bit for bit, where the data are read as "
            "the fit read them (its options.dtype: predict and score read float64 unless "
            "given --dtype float32). Fields beyond those listed are ignored.")


def model_file_checks() -> str:
    """What a reader checks, in a paragraph (the tolerances from io.model)."""
    from emgmm_cli.engine.families import EQUAL_RTOL, FAMILIES, SINGULAR_TO_ROUNDING
    from emgmm_cli.io.model import SYMMETRY_RTOL, WEIGHT_SUM_TOL

    sharing = ", ".join(f"{name} {' and '.join(sorted(fam.equal))}"
                        for name, fam in FAMILIES.items() if fam.equal)
    return ("A reader validates the file first, and each problem is a one-line error with "
            "exit status 1 that names the file and the field: not JSON (with the line and "
            "column; a name given twice in one object among it), not an object, another format, a version it does not read, a missing "
            "field (a version 2 file without its transform among them), feature_names or arrays whose shapes disagree with n_components and "
            "n_features, a feature name given twice, a number that is not finite, a "
            "negative weight, weights whose sum "
            f"is more than {number(WEIGHT_SUM_TOL)} from 1, a covariance that is not symmetric "
            f"(to a relative {number(SYMMETRY_RTOL)}) or not positive definite (its "
            "Cholesky factorisation fails; where `options.reg_covar` is 0, as a fit without "
            "a floor checks its own, also a factor whose smallest diagonal entry is below "
            f"{number(SINGULAR_TO_ROUNDING)} of its largest: a rank short by rounding), "
            "covariances "
            "that do not share what their family shares across components (the volume "
            "|Sigma_k|^(1/D), the shape, the eigenvalues over the volume, or the orientation, "
            f"the eigenvectors; to a relative {number(EQUAL_RTOL)} beyond what rounding the "
            f"entries to float64 moves each eigenvalue: {sharing}), options that disagree "
            "with the fields (`options.covariance_type` another family than "
            "`covariance_type`; `options.n_components` other than n_components, or less "
            "under `on_degenerate` drop), and fields of the wrong type or value (a "
            "`stopped` or origin that is none of those listed above, an event without its "
            "kind, message, component and iteration).")
