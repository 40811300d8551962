"""The man pages' sections beyond what the click definitions say (scripts/make_man.py).

Short on purpose.  Lists come from the code through docfacts (exit codes, environment,
output formats, the model file's fields, the column names of the tables select and batch
write); the prose says what the lists cannot and points to docs/ for the rest.
tests/test_man.py checks that every page carries the generated sections.
"""

from __future__ import annotations

from collections.abc import Iterable

import docfacts
from docfacts import Entry


def tagged(entries: Iterable[Entry]) -> str:
    """Entries as tagged paragraphs (make_man renders each as a .TP item)."""
    return "\n\n".join(f"{e.term}\n    {e.text}." for e in entries)


def names(values: Iterable[str]) -> str:
    return ", ".join(values)


def files_section() -> str:
    """emgmm(1) FILES: the model file, field by field."""
    return "\n\n".join([
        docfacts.model_file_intro(),
        tagged(docfacts.model_fields()),
        "The shape of covariances, for K components in D dimensions, by covariance_type:",
        tagged(docfacts.covariance_shapes()),
        "The fields of options:",
        tagged(Entry(f"{e.term} ({e.flag})", e.text) for e in docfacts.model_options()),
        docfacts.model_file_checks(),
    ])


def conventions_section() -> str:
    return "\n\n".join([
        "'-' is stdin for an input and stdout for an output; at most one output may go to "
        "stdout. When stdout is a terminal, commands print tables; when it is a pipe or a "
        "file, they print plain data (one label per line for fit) and messages go to "
        "stderr. --quiet silences everything but data and errors.",
        "Output files are written atomically (a temporary file in the same folder, then a "
        "rename): a failed or interrupted run leaves no half-written file and never "
        "touches an input. The format follows the extension:",
        tagged(docfacts.output_formats()),
    ])


def select_output() -> str:
    from emgmm_cli.app.selecting import TABLE_COLUMNS

    return ("One row per (covariance, K) cell, family by family in the order of -c, K "
            f"ascending, with the columns {names(TABLE_COLUMNS)}. A skipped or failed cell "
            "has empty numbers and its reason in message. --table FILE.json writes the "
            "criterion, the seed, the source, the best cell and the cells as records.")


def batch_output() -> str:
    from emgmm_cli.app.batching import SELECTION_NAME, SUMMARY_COLUMNS, SUMMARY_NAME
    from emgmm_cli.app.requests import STANDARD_NAMES

    return (f"DIR/<dataset>/ holds {names(STANDARD_NAMES.values())} "
            f"({STANDARD_NAMES['responsibilities']} only with --responsibilities; with "
            f"--select, {SELECTION_NAME} too), written "
            f"together, model.json last. DIR/{SUMMARY_NAME} has one row per dataset, in the "
            f"order found, with the columns {names(SUMMARY_COLUMNS)}; status is ok, skipped "
            "or failed: and the reason.")


DOCS = ("The documentation in the source tree: README.md (a tour), docs/cli.md (every "
        "command's help), docs/guide.md (outputs, select and batch in detail), "
        "docs/numerics.md (convergence, degenerate fits, the hierarchical start, the "
        "comparisons with scikit-learn and mclust), docs/large-data.md, "
        "docs/model-file.md and docs/python.md.")


def build() -> dict[str, dict[str, str]]:
    """Command name ("emgmm" for the group) -> section title -> plain text."""
    from emgmm_cli.cli.main import COMMANDS

    exit_status = tagged(docfacts.exit_codes())
    sections: dict[str, dict[str, str]] = {
        "emgmm": {
            "EXIT STATUS": exit_status,
            "ENVIRONMENT": tagged(docfacts.environment()),
            "FILES": files_section(),
            "CONVENTIONS": conventions_section(),
            "SEE ALSO": DOCS,
        },
    }
    for command in COMMANDS:
        assert command.name is not None
        sections[command.name] = {"EXIT STATUS": exit_status, "SEE ALSO": DOCS}
    sections["select"]["OUTPUT"] = select_output()
    sections["batch"]["OUTPUT"] = batch_output()
    return sections


MAN_SECTIONS = build()
