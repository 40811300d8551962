"""Terminal state as data, decided when a command runs (never at import).

Commands read stdout/stderr and whether each is a terminal from one Terminal, handed to
them by @pass_terminal, so tests can build one with any combination and check both
behaviours in one run.
"""

from __future__ import annotations

import enum
import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO, TypeVar

import click

from ..io.errors import printable

R = TypeVar("R")

#: Where the common options (-q, --debug) leave their values in click's context.meta.
SETTINGS_KEY = "emgmm.settings"
_TERMINAL_KEY = "emgmm.terminal"


class ExitStatus(enum.IntEnum):
    """Exit codes of every emgmm command (documented in emgmm(1) and the README)."""

    SUCCESS = 0
    ERROR = 1  # the data, a file, or the fit failed
    USAGE = 2  # bad usage (click's own code)
    HANGUP = 129  # SIGHUP (the terminal closed): 128 + 1
    INTERRUPTED = 130  # Ctrl-C (SIGINT): 128 + 2
    BROKEN_PIPE = 141  # SIGPIPE (stdout's reader stopped: | head): 128 + 13, as the shell says
    TERMINATED = 143  # SIGTERM (kill, timeout, a scheduler): 128 + 15


@dataclass
class Terminal:
    """Where output goes and how it should look."""

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdout_isatty: bool = False
    stderr_isatty: bool = False
    quiet: bool = False
    debug: bool = False
    no_color: bool = False  # --no-color (NO_COLOR in the environment counts too)

    @classmethod
    def detect(cls, *, quiet: bool = False, debug: bool = False,
               no_color: bool = False) -> "Terminal":
        def tty(stream: TextIO) -> bool:
            try:
                return stream.isatty()
            except (AttributeError, ValueError):
                return False

        force = os.environ.get("EMGMM_FORCE_TTY", "") not in ("", "0")
        return cls(sys.stdout, sys.stderr, force or tty(sys.stdout),
                   force or tty(sys.stderr), quiet, debug, no_color)

    @property
    def color(self) -> bool:
        """Whether colour may be used (where the output is a terminal): not with
        --no-color, nor with NO_COLOR set to anything but an empty string, nor on
        TERM=dumb."""
        return not (self.no_color or os.environ.get("NO_COLOR", "") != ""
                    or os.environ.get("TERM") == "dumb")

    @property
    def width(self) -> int:
        """Columns of the terminal (COLUMNS when set; 80 when unknown)."""
        import shutil

        return shutil.get_terminal_size((80, 24)).columns

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

    @property
    def progress_stream(self) -> TextIO | None:
        """Where live progress goes: a terminal's stderr, unless --quiet or the terminal
        is TERM=dumb (which cannot redraw a line: it showed an empty line a phase)."""
        live = self.stderr_isatty and not self.quiet and os.environ.get("TERM") != "dumb"
        return self.stderr if live else None

    @property
    def log(self) -> Callable[[str], None] | None:
        """Where notes about reading large data go: stderr on a terminal or with --debug."""
        if self.quiet or not (self.debug or self.stderr_isatty):
            return None
        return lambda message: self._say(f"emgmm: {printable(message, one_line=True)}")

    def warn(self, message: str) -> None:
        """One warning line on stderr, unless --quiet (control characters and newlines as
        escapes, as errors.one_line writes them)."""
        if self.quiet:
            return
        self._say(f"emgmm: warning: {printable(message, one_line=True)}")

    def _say(self, line: str) -> None:
        """line on stderr: above a live progress display where one is shown, not onto its
        line (select's note of its worker processes came out on its bar's line).  A line
        that cannot be written (stderr on a full disk, /dev/full) is dropped, as with
        stderr closed: the run and its outputs go on."""
        live = None
        if "emgmm_cli.render" in sys.modules:  # a spinner can be shown only where it is
            from ..render import live_console

            live = live_console(self.stderr)
        try:
            if live is None:
                print(line, file=self.stderr, flush=True)
            else:  # above the spinner, not on its line
                live.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)
        except (OSError, ValueError):
            pass


def terminal_of(ctx: click.Context) -> Terminal:
    """The Terminal of this run, built once from the common options."""
    root = ctx.find_root()
    term = root.meta.get(_TERMINAL_KEY)
    if term is None:
        settings = ctx.meta.get(SETTINGS_KEY, {})
        term = Terminal.detect(quiet=bool(settings.get("quiet")),
                               debug=bool(settings.get("debug")),
                               no_color=bool(settings.get("no_color")))
        root.meta[_TERMINAL_KEY] = term
    return term


def debugging(ctx: click.Context) -> bool:
    return bool(ctx.meta.get(SETTINGS_KEY, {}).get("debug"))


def pass_terminal(f: Callable[..., R]) -> Callable[..., R]:
    """Hand the command its Terminal as the first argument."""
    @functools.wraps(f)
    def new(*args: Any, **kwargs: Any) -> R:
        return f(terminal_of(click.get_current_context()), *args, **kwargs)

    return new
