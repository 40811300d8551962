"""The machinery shared by the documentation generators.

scripts/make_man.py (roff pages in man/) and scripts/make_docs.py (docs/cli.md,
docs/model-file.md and the generated blocks of the hand-written pages) both read the
click command tree the same way: the contexts click would build to run a command, the
walk over a group and its visible subcommands, a command's summary, usage and help as
click shows them.  And both write, or with --check compare, their files the same way.

The scripts import their siblings by name: run as `python scripts/NAME.py`, Python puts
scripts/ on the path; tests put it there themselves.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # so that emgmm_cli imports from a checkout, installed or not
    sys.path.insert(0, str(REPO_ROOT))

PROG = "emgmm"


@dataclass(frozen=True)
class PageSpec:
    """One command of a tree: its path as typed ("emgmm fit"), the command, and the
    context of the group above it (None for the root)."""

    path: str
    command: click.Command
    parent: click.Context | None

    @property
    def key(self) -> str:
        """The command's name below the root ("fit", "group sub"), or PROG for the root."""
        return " ".join(self.path.split()[1:]) or PROG


def make_context(command: click.Command, info_name: str, parent: click.Context | None,
                 **settings: Any) -> click.Context:
    """A context like the one click would build to run the command (settings inherited);
    settings override the command's own context settings (terminal_width, say)."""
    ctx = command.context_class(command, info_name=info_name, parent=parent,
                                **{**command.context_settings, **settings})
    ctx.resilient_parsing = True
    return ctx


def visible_subcommands(group: click.Group, ctx: click.Context) -> list[tuple[str, click.Command]]:
    """(name, command) of every subcommand that is not hidden, in the group's own order."""
    result: list[tuple[str, click.Command]] = []
    for name in group.list_commands(ctx):
        sub = group.get_command(ctx, name)
        if sub is not None and not sub.hidden:
            result.append((name, sub))
    return result


def walk(command: click.Command, path: str, parent: click.Context | None) -> Iterator[PageSpec]:
    """The command and, for a group, every visible subcommand, depth first."""
    yield PageSpec(path, command, parent)
    if isinstance(command, click.Group):
        ctx = make_context(command, path.split()[-1], parent)
        for sub_name, sub in visible_subcommands(command, ctx):
            yield from walk(sub, f"{path} {sub_name}", ctx)


def page_name(path: str) -> str:
    """'emgmm fit' -> 'emgmm-fit'."""
    return "-".join(path.split())


def clean_help(text: str | None) -> str:
    """The help text as click shows it: dedented, cut at the first form feed."""
    if not text:
        return ""
    return inspect.cleandoc(text).partition("\f")[0].strip("\n")


def first_sentence(text: str) -> str:
    """The first sentence of the first paragraph, as click's short help takes it."""
    words = text.partition("\n\n")[0].split()
    if words and words[0] == "\b":
        words = words[1:]
    for i, word in enumerate(words):
        if word.endswith(".") and (i == len(words) - 1 or not words[i + 1][0].islower()):
            words = words[: i + 1]
            break
    return " ".join(words)


def summary(command: click.Command) -> str:
    """One line that says what the command does: its short help, or the first sentence of
    its help."""
    return clean_help(command.short_help) or first_sentence(clean_help(command.help))


def usage(spec: PageSpec) -> str:
    """'emgmm fit [OPTIONS] INPUT': the command path and its usage pieces."""
    ctx = make_context(spec.command, spec.path.split()[-1], spec.parent)
    return " ".join([spec.path, *spec.command.collect_usage_pieces(ctx)])


def help_text(spec: PageSpec, width: int) -> str:
    """What `<path> --help` prints on a terminal `width` columns wide."""
    ctx = make_context(spec.command, spec.path.split()[-1], spec.parent,
                       terminal_width=width, max_content_width=width)
    return spec.command.get_help(ctx)


# --- generated files ------------------------------------------------------------------------


@dataclass(frozen=True)
class Changes:
    """How files on disk differ from what was rendered for them."""

    stale: list[Path]  # present, with other content
    missing: list[Path]  # rendered, absent
    extra: list[Path]  # present where only rendered files belong, not rendered

    def __bool__(self) -> bool:
        return bool(self.stale or self.missing or self.extra)


def compare_files(rendered: Mapping[Path, str], present: Iterable[Path] = ()) -> Changes:
    """Changes of rendered files against disk; present lists the files found where only
    rendered ones belong (a folder of generated pages), to report those not rendered."""
    stale = sorted(p for p in rendered if p.is_file() and p.read_text(encoding="utf-8") != rendered[p])
    missing = sorted(p for p in rendered if not p.is_file())
    extra = sorted(set(present) - set(rendered))
    return Changes(stale, missing, extra)


def check_or_write(rendered: Mapping[Path, str], changes: Changes, *, check: bool,
                   what: str, command: str) -> int:
    """--check: list the changes on stderr and return 1 if there are any.  Otherwise write
    the stale and missing files, remove the extra ones, and return 0."""
    if check:
        for label, paths in (("stale", changes.stale), ("missing", changes.missing),
                             ("extra", changes.extra)):
            for path in paths:
                print(f"{label}: {path}", file=sys.stderr)
        if changes:
            print(f"{what} are out of date; run {command}", file=sys.stderr)
            return 1
        print(f"{len(rendered)} {what} up to date")
        return 0
    for path in changes.stale + changes.missing:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered[path], encoding="utf-8", newline="\n")
        print(f"wrote {path}")
    for path in changes.extra:
        path.unlink()
        print(f"removed {path}")
    return 0


# --- Markdown -------------------------------------------------------------------------------


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub table; '|' in a cell is escaped."""
    def line(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(headers), line(["---"] * len(headers)), *map(line, rows)])
