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
