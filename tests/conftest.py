"""Shared test setup: make the package importable from a source checkout.

With the package installed (pip install -e .) this changes nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

# As the console script does (emgmm_cli.cli.main.main): one BLAS thread per engine thread.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


#: Whether this system shows processes' children under /proc (forked_workers).
PROC = Path("/proc/self/task").is_dir()


def forked_workers(pid: int) -> list[int]:
    """The forked worker processes of process pid: its children that run its command
    line (empty where it or they ended meanwhile)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        own = Path(f"/proc/{pid}/cmdline").read_bytes()
        return [int(c) for c in children if Path(f"/proc/{c}/cmdline").read_bytes() == own]
    except OSError:
        return []


def invoke_in(cwd: Path, *args: str, input: str | bytes | None = None) -> Any:
    """`emgmm ARGS` run in-process with cwd as the working directory (so messages show
    short names), stdout and stderr apart, neither a terminal; a click Result."""
    from click.testing import CliRunner

    from emgmm_cli.cli.main import cli

    here = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, list(args), input=input,
                                  env={"EMGMM_FORCE_TTY": None}, prog_name="emgmm")
    finally:
        os.chdir(here)


def assert_stopped_batch(results: Path, n_datasets: int) -> None:
    """A batch's output folder after it was stopped part-way: some datasets done, not all,
    each one's folder complete (no temporary file) and listed in summary.csv."""
    import csv

    assert sorted(p.name for p in results.rglob(".*tmp-*")) == []
    with open(results / "summary.csv", encoding="utf-8") as fh:
        listed = sorted(Path(r["file"]).stem for r in csv.DictReader(fh))
    folders = sorted(p.name for p in results.iterdir() if p.is_dir())
    assert 1 <= len(folders) < n_datasets and listed == folders
    for name in folders:
        assert sorted(p.name for p in (results / name).iterdir()) == [
            "labels.csv", "model.json", "trace.csv"]
