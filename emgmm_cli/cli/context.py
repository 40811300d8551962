"""Terminal state as data, decided when a command runs (never at import).

Commands read stdout/stderr and whether each is a terminal from one object on ctx.obj, so
tests can build one with any combination and check both behaviours in one run.
"""

from __future__ import annotations

import enum
import os
import sys
from dataclasses import dataclass, field
from typing import TextIO


class ExitStatus(enum.IntEnum):
    """Exit codes of every emgmm command (documented in emgmm(1) and the README)."""

    SUCCESS = 0
    ERROR = 1  # the data, a file, or the fit failed
    USAGE = 2  # bad usage (click's own code)
    INTERRUPTED = 130  # Ctrl-C


@dataclass
class Terminal:
    """Where output goes and how it should look."""

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdout_isatty: bool = False
    stderr_isatty: bool = False
    quiet: bool = False
    debug: bool = False

    @classmethod
    def detect(cls, *, quiet: bool = False, debug: bool = False) -> "Terminal":
        def tty(stream: TextIO) -> bool:
            try:
                return stream.isatty()
            except (AttributeError, ValueError):
                return False

        force = os.environ.get("EMGMM_FORCE_TTY", "") not in ("", "0")
        return cls(sys.stdout, sys.stderr, force or tty(sys.stdout),
                   force or tty(sys.stderr), quiet, debug)

    def message_stream(self, stdout_carries_data: bool) -> TextIO | None:
        """Where a human-readable summary goes, or None when nobody would see it.

        stdout if it is a terminal and carries no data; else stderr if that is a terminal.
        """
        if self.quiet:
            return None
        if self.stdout_isatty and not stdout_carries_data:
            return self.stdout
        if self.stderr_isatty:
            return self.stderr
        return None

    def warn(self, message: str) -> None:
        """One warning line on stderr, unless --quiet."""
        if not self.quiet:
            print(f"emgmm: warning: {message}", file=self.stderr)
