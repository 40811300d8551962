"""The console script `emgmm` (and `python -m emgmm_cli`) starts here, before anything
heavy is imported: Ctrl-C while the program is still starting (importing click and the
command's modules, the first tenth of a second) ends it as a run that Ctrl-C stops ends,
with "emgmm: interrupted" and exit status 130, not with Python's traceback.  From
cli.main.main on, the command line's own handlers take the stopping signals.  Before
main, this module and the package import nothing (tests/test_startup.py): the window
left, about half a millisecond, follows Python's own start-up (site and the .pth files
of the environment, some 20 ms), where a Ctrl-C is the interpreter's to report."""

from __future__ import annotations

import os
import sys

#: The exit status of a run Ctrl-C stopped (cli.context.ExitStatus.INTERRUPTED).
INTERRUPTED = 130


def main() -> None:
    try:
        from .cli.main import main as run
    except KeyboardInterrupt:
        _interrupted()
    try:
        run()
    except KeyboardInterrupt:  # before run installed its handlers
        _interrupted()


def _interrupted() -> None:
    try:
        sys.stderr.write("emgmm: interrupted\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # stderr closed, or none
        pass
    os._exit(INTERRUPTED)
