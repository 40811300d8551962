"""The `emgmm` command group: its commands, and the one place failures become exit codes."""

from __future__ import annotations

import atexit
import importlib
import io
import os
import signal
import sys
from typing import Any, NoReturn

import click

from .. import __version__
from ..interrupts import (Stopped, hold_interrupts, release_interrupts,
                          stop_on_signals, stop_received, stop_reported)
from .context import ExitStatus, debugging
from .errors import ParsedCommand, one_line

#: Every command's name, in the order `emgmm --help` lists them, and the module of this
#: package that defines it (as a function of the module's name).  A command's module is
#: imported when the command is looked up, so that `emgmm select` builds no other
#: command's options; COMMANDS (every command, loaded) is for help, docs and tests.
COMMAND_MODULES: dict[str, str] = {
    "fit": "fit", "select": "select", "batch": "batch", "predict": "predict",
    "score": "score", "plot": "plot", "sample": "sample", "info": "info",
    "make-blobs": "make_blobs", "completion": "completion",
}


def load_command(name: str) -> click.Command:
    """The command called name (one of COMMAND_MODULES), its module imported."""
    module = COMMAND_MODULES[name]
    loaded: click.Command = getattr(importlib.import_module(f"{__package__}.{module}"), module)
    return loaded


def __getattr__(name: str) -> Any:
    if name == "COMMANDS":  # every command, loaded
        return tuple(load_command(n) for n in COMMAND_MODULES)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class EmgmmGroup(ParsedCommand, click.Group):
    """A group that turns every failure into one line on stderr and a documented code.

    Data and fit errors exit with 1 (`Error: <file>:<line>: ...`), usage errors with 2,
    Ctrl-C with 130, SIGTERM with 143 and SIGHUP with 129 (each after the same clean-up);
    a traceback appears only with --debug.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            self.add_command(load_command(cmd_name))
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: click.Context, args: list[str]
                        ) -> tuple[str | None, click.Command | None, list[str]]:
        """click's, but a mistyped command gets the closest names, as an option does
        (click's own suggestion sees only the commands already loaded)."""
        name = args[0]
        if name[:1].isalnum() and name not in COMMAND_MODULES and not ctx.resilient_parsing:
            import difflib  # only for a mistyped command

            close = difflib.get_close_matches(name, COMMAND_MODULES)
            if close:
                raise click.UsageError(f"No such command {name!r}. {_did_you_mean(close)}", ctx)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            if _Entry.holds:  # a stop that came while click parsed is raised here
                release_interrupts()
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt as exc:
            raise _stopped(exc) from None
        except Exception as exc:  # noqa: BLE001 - mapped to a one-line message below
            stop = stop_received()  # the exception may be a stop signal in disguise
            if stop is not None:
                raise _stopped(stop) from None
            if debugging(ctx):  # context.meta is shared with the subcommand's context
                raise
            raise click.ClickException(one_line(exc, ctx.invoked_subcommand)) from None
        finally:
            if _Entry.holds:  # the command is over: its exit status stands
                hold_interrupts()


def _did_you_mean(names: list[str]) -> str:
    """The names a mistyped command may have meant, as click says them for an option."""
    quoted = ", ".join(repr(n) for n in sorted(names))
    return f"Did you mean {quoted}?" if len(names) == 1 else f"(Did you mean one of: {quoted}?)"


class _Entry:
    """Whether the console entry point (main) holds the stopping signals outside the
    command, in click's own code before and after it: a signal there would raise where
    only click catches it ("Aborted!", exit status 1)."""

    holds = False


def _stopped(exc: KeyboardInterrupt) -> click.exceptions.Exit:
    """The exit of a run that Ctrl-C (130), SIGTERM (143) or SIGHUP (129) stopped, its line
    said (and the stop reported: later signals are ignored)."""
    stop_reported()
    if isinstance(exc, Stopped):
        click.echo(f"emgmm: stopped by {signal.Signals(exc.signum).name}", err=True)
        return click.exceptions.Exit(exc.exit_status)
    click.echo("emgmm: interrupted", err=True)
    return click.exceptions.Exit(ExitStatus.INTERRUPTED)


@click.group(cls=EmgmmGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="emgmm")
def cli() -> None:
    """Cluster point data with Gaussian mixture models fitted by EM.

    \b
    Examples:
      emgmm fit data.csv -k 4                   # a summary, or labels in a pipe
      emgmm fit data.csv -k 4 | sort | uniq -c  # cluster sizes
      emgmm fit data.csv -k 3 -c diag --output-dir out/

    Exit status: 0 success, 1 the data or the fit failed, 2 bad usage, 130 interrupted
    (Ctrl-C), 143 stopped by SIGTERM, 129 by SIGHUP, 141 the reader of the output stopped
    early (| head).
    """


#: The engine runs blocks on its own thread pool, one block per core; a multi-threaded
#: BLAS inside each of those threads oversubscribes the cores (measured: up to 20x slower
#: under load).  Unless the user chose otherwise, BLAS runs one thread per caller.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def main() -> None:
    """Console entry point: single-threaded BLAS under the engine's own threads (set
    before numpy is imported), default SIGPIPE so `emgmm ... | head` exits quietly,
    SIGTERM and SIGHUP stopping the run as Ctrl-C does (held outside the command:
    _Entry; nothing partial left), messages dropped rather than sent to stdout when
    stderr is closed, text the terminal's encoding cannot show written as escapes, and
    the process ended as soon as the command is over (_exit)."""
    for name in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    stop_on_signals()
    if sys.stderr is None:  # started with 2>&-: click would print errors on stdout
        sys.stderr = open(os.devnull, "w", encoding="utf-8")
    # what the terminal's encoding cannot show is written as escapes (stderr's default),
    # not an error; data on stdout is UTF-8 bytes whatever the encoding (io.writers)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")
    _Entry.holds = True
    hold_interrupts()
    try:
        cli.main(prog_name="emgmm")
    except SystemExit as exc:
        _exit(exc.code)


def _exit(code: object) -> NoReturn:
    """The end of the process once the command is over (its outputs written and closed,
    a stopped run cleaned up and its line said): the functions registered with atexit run
    (multiprocessing's among them, which ends the worker pools and releases their
    semaphores; a Dask cluster's; coverage's), the output is flushed, and the process
    ends with SystemExit's status, without the rest of the interpreter's shutdown.

    That shutdown frees every object and module one by one and joins the threads of the
    engine's block pool, none of which anything after the command needs.  Measured: it
    took 20 to 25 ms of a 0.33 s `select` on Old Faithful (3 ms without).  And a stopped
    run cannot hang in it: a signal's exception that came in the main thread just as it
    took one of the pool's locks (inside the pool's submit or a result's wait) leaves that
    lock taken, since Python cannot undo it; a block thread then waits on it for ever,
    and so would that join (seen once in some hundred SIGHUPs during a fit of 300,000
    rows)."""
    status = 0 if code is None else code if isinstance(code, int) else 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        if stream is None:  # started with >&-: nothing was written to it
            continue
        try:
            if stream is sys.stderr and code is not None and not isinstance(code, int):
                print(code, file=stream)  # SystemExit's message, as Python prints it
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can reach it
            pass
    os._exit(status)
