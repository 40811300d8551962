#!/usr/bin/env python3
"""Generate the roff man pages in man/ from the click command definitions.

    python scripts/make_man.py            # (re)write man/emgmm.1 and man/emgmm-<command>.1
    python scripts/make_man.py --check    # exit 1 listing stale, missing or extra pages

Commands are discovered from the click group `emgmm_cli.cli.main.cli`, so a new command
gets its page on the next run. Each page holds NAME, SYNOPSIS, DESCRIPTION (the command's
help; click's "\\b" no-rewrap paragraphs become .nf/.fi blocks), OPTIONS (flags, metavar,
help, choices, range, default), COMMANDS on a group's page, SEE ALSO, and any extra
sections from the optional mapping `MAN_SECTIONS` in scripts/man_sections.py:

    MAN_SECTIONS: dict[str, dict[str, str]] = {
        "emgmm": {"EXIT STATUS": "...", "ENVIRONMENT": "...", "FILES": "..."},
        "fit": {"EXAMPLES": "..."},
    }

keyed by command name ("emgmm" for the group; "group sub" for a nested command), then by
section title, with roff-free plain text: paragraphs separated by blank lines; a paragraph
whose first line is "\\b" is kept line for line; a tagged item (a .TP entry: term in bold,
then its description) is written either as an unindented first line followed by indented
lines, or as "TERM  description" with two or more spaces after a short term that does not
end in punctuation ("0  success.", "NO_COLOR  disables colour."). SEE ALSO text made only
of references such as "emgmm-fit(1), sort(1)" is merged with the generated references
(each command page refers to emgmm(1), the group page to every command page); any other
SEE ALSO text follows them as paragraphs. The pages carry the version of emgmm_cli and no
date, so the output is a pure function of the code.
"""

from __future__ import annotations

import argparse
import enum
import importlib
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from docgen import (
    PROG,
    REPO_ROOT,
    Changes,
    check_or_write,
    clean_help,
    compare_files,
    make_context,
    page_name,
    summary,
    visible_subcommands,
    walk,
)

DEFAULT_MAN_DIR = REPO_ROOT / "man"
SECTIONS_MODULE = "man_sections"
MANUAL = "User Commands"

# Conventional order of man page sections (man-pages(7)); unknown titles go before SEE ALSO.
SECTION_ORDER = (
    "NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "EXIT STATUS", "RETURN VALUE",
    "ERRORS", "ENVIRONMENT", "FILES", "VERSIONS", "STANDARDS", "NOTES", "CAVEATS", "BUGS",
    "EXAMPLES", "AUTHORS", "REPORTING BUGS", "COPYRIGHT",
)

# --- roff escaping ------------------------------------------------------------------------


def escape(text: str) -> str:
    """Escape plain text for a roff text line or macro argument (no line-start handling).

    Backslash -> \\e, hyphen-minus -> \\- (so options and code copy and paste as typed),
    non-ASCII -> \\[uXXXX], other control characters dropped.
    """
    out: list[str] = []
    for ch in text:
        if ch == "\\":
            out.append("\\e")
        elif ch == "-":
            out.append("\\-")
        elif ch == "\t":
            out.append(" ")
        elif ord(ch) < 32 or ord(ch) == 127:
            continue
        elif ord(ch) > 127:
            out.append(f"\\[u{ord(ch):04X}]")
        else:
            out.append(ch)
    return "".join(out)


def text_line(escaped: str) -> str:
    """Guard an already escaped line so that roff never reads it as a request."""
    if escaped.startswith((".", "'")):
        return "\\&" + escaped
    return escaped


def quote_arg(text: str) -> str:
    """A double-quoted macro argument."""
    return '"' + escape(text).replace('"', "\\(dq") + '"'


def bold(text: str) -> str:
    return f"\\fB{escape(text)}\\fR"


def italic(text: str) -> str:
    return f"\\fI{escape(text)}\\fR"


# --- plain text -> roff ---------------------------------------------------------------------


def paragraphs(text: str) -> list[list[str]]:
    """Split on blank lines; each paragraph is its list of lines (trailing spaces dropped)."""
    result: list[list[str]] = []
    current: list[str] = []
    for line in text.splitlines():
        line = line.rstrip()
        if line.strip():
            current.append(line)
        elif current:
            result.append(current)
            current = []
    if current:
        result.append(current)
    return result


# a term of at most 40 characters, without a double space, not ending in punctuation
TWO_SPACE_TAG = re.compile(r"^(?P<term>\S(?:(?:(?!\s\s).){0,38}[^\s.,;:!?])?)\s{2,}(?P<rest>\S.*)$")
REFERENCE = re.compile(r"^(?P<name>[\w.+-]+)\((?P<section>[0-9][a-z]*)\)$")


def render_text(text: str, *, first: str = ".PP", next_: str = ".PP", tagged: bool = False) -> list[str]:
    """Plain text -> roff lines.

    first / next_ are the paragraph macros before the first and the following paragraphs
    (an empty string for none, as for the body of a .TP item). "\\b" paragraphs are kept
    line for line in an .nf/.fi block; with tagged=True, tagged items (see the module
    docstring) are rendered as .TP entries.
    """
    lines: list[str] = []
    for index, para in enumerate(paragraphs(text)):
        macro = first if index == 0 else next_
        if para[0].strip() == "\b":
            if macro:
                lines.append(macro)
            lines.append(".nf")
            body = para[1:]
            indent = min((len(x) - len(x.lstrip()) for x in body), default=0)
            lines.extend(text_line(escape(x[indent:])) for x in body)
            lines.append(".fi")
        elif tagged and len(para) > 1 and not para[0][0].isspace() and all(x[0].isspace() for x in para[1:]):
            lines.append(".TP")
            lines.append(bold(para[0]))
            lines.extend(text_line(escape(x.strip())) for x in para[1:])
        elif tagged and not para[0][0].isspace() and (match := TWO_SPACE_TAG.match(para[0])):
            lines.append(".TP")
            lines.append(bold(match["term"]))
            lines.append(text_line(escape(match["rest"])))
            lines.extend(text_line(escape(x.strip())) for x in para[1:])
        else:
            if macro:
                lines.append(macro)
            lines.extend(text_line(escape(x.strip())) for x in para)
    return lines


# --- click introspection --------------------------------------------------------------------


def metavar(param: click.Parameter, ctx: click.Context) -> str:
    """The parameter's metavar as click's --help shows it (click 8.1 and 8.2+ signatures)."""
    if param.metavar is not None:
        return param.metavar
    try:
        return param.make_metavar(ctx)  # type: ignore[call-arg, unused-ignore]
    except TypeError:
        return param.make_metavar()  # type: ignore[call-arg, unused-ignore]


def _click_unset() -> object:
    """click's internal "no default" sentinel (click >= 8.3), or a stand-in before that."""
    try:
        return importlib.import_module("click._utils").UNSET
    except (ImportError, AttributeError):
        return object()


_UNSET = _click_unset()


def is_unset(value: object) -> bool:
    """None or click's UNSET sentinel: the option has no default."""
    return value is None or value is _UNSET


def default_text(option: click.Option, ctx: click.Context) -> str | None:
    """What the option's default should read as on the page, or None to show none.

    show_default=False hides it, a string show_default is used as is, and otherwise any
    real default is shown (a man page documents defaults even when --help does not).
    """
    if option.show_default is False:
        return None
    if isinstance(option.show_default, str):
        return f"({option.show_default})"
    value = option.get_default(ctx, call=False)
    if is_unset(value) or callable(value):
        return None
    if option.is_flag:
        if option.count:
            return None
        if option.secondary_opts and isinstance(value, bool):
            return (option.opts if value else option.secondary_opts)[0]
        if isinstance(value, bool):
            return None if not value else "on"
        return None
    if option.count and value == 0:
        return None
    if isinstance(value, (list, tuple)):
        if not value:
            return None
        return ", ".join(str(v.name if isinstance(v, enum.Enum) else v) for v in value)
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, str) and value == "":
        return '""'
    return str(value)


def range_text(kind: object) -> str | None:
    """'1 <= x <= 100' for click.IntRange / click.FloatRange, else None."""
    if not isinstance(kind, (click.IntRange, click.FloatRange)):
        return None
    low, high = kind.min, kind.max
    if low is None and high is None:
        return None
    lt_low = "<" if kind.min_open else "<="
    lt_high = "<" if kind.max_open else "<="
    if low is None:
        text = f"x {lt_high} {high}"
    elif high is None:
        text = f"x {'>' if kind.min_open else '>='} {low}"
    else:
        text = f"{low} {lt_low} x {lt_high} {high}"
    if kind.clamp:
        text += ", values outside are clamped"
    return text


def choices_text(kind: object) -> str | None:
    if not isinstance(kind, click.Choice):
        return None
    names = [c.name if isinstance(c, enum.Enum) else str(c) for c in kind.choices]
    return ", ".join(names)


def flags_line(option: click.Option, ctx: click.Context) -> str:
    """'\\fB\\-k\\fR, \\fB\\-\\-components\\fR \\fIINTEGER\\fR' (bold flags, italic metavar)."""
    line = ", ".join(bold(opt) for opt in option.opts)
    if option.secondary_opts:
        line += " / " + ", ".join(bold(opt) for opt in option.secondary_opts)
    if not option.is_flag and not option.count:
        line += " " + italic(metavar(option, ctx))
    return text_line(line)


def option_lines(option: click.Option, ctx: click.Context) -> list[str]:
    lines = [".TP", flags_line(option, ctx)]
    lines.extend(render_text(clean_help(option.help), first="", next_=".IP"))
    facts: list[str] = []
    choices = choices_text(option.type)
    if choices:
        facts.append(f"One of: {choices}.")
    bounds = range_text(option.type)
    if bounds and not (option.count and bounds == "x >= 0"):
        facts.append(f"Range: {bounds}.")
    if option.multiple:
        facts.append("May be given more than once.")
    if option.count:
        facts.append("May be repeated.")
    if option.required:
        facts.append("Required.")
    if option.show_envvar and option.envvar:
        names = [option.envvar] if isinstance(option.envvar, str) else list(option.envvar)
        facts.append(f"Environment variable: {', '.join(names)}.")
    default = default_text(option, ctx)
    if default is not None:
        facts.append(f"Default: {default}.")
    if facts:
        # in fill mode a further text line continues the help's last paragraph
        lines.append(text_line(escape(" ".join(facts))))
    return lines


def deprecated_note(command: click.Command) -> str | None:
    deprecated: Any = getattr(command, "deprecated", False)
    if not deprecated:
        return None
    if isinstance(deprecated, str):
        return f"Deprecated: {deprecated}"
    return "Deprecated."


def synopsis_line(path: str, command: click.Command, ctx: click.Context) -> str:
    """'\\fBemgmm fit\\fR [\\fIOPTIONS\\fR] \\fIINPUT\\fR': upper-case words in italics."""
    pieces = " ".join(command.collect_usage_pieces(ctx))
    parts = re.split(r"([A-Z][A-Z0-9_]*(?:-[A-Z0-9_]+)*)", pieces)
    # re.split with one group: odd positions are the upper-case words
    body = "".join(italic(p) if i % 2 else escape(p) for i, p in enumerate(parts))
    return text_line(f"{bold(path)} {body}".rstrip())


# --- pages --------------------------------------------------------------------------------

GENERATED_SECTIONS = ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS")


def section_rank(title: str) -> int:
    if title == "SEE ALSO":
        return len(SECTION_ORDER) + 1
    return SECTION_ORDER.index(title) if title in SECTION_ORDER else len(SECTION_ORDER)


def header_lines(command: click.Command, name: str, ctx: click.Context, version: str) -> list[str]:
    """.TH, NAME and SYNOPSIS."""
    page = page_name(name)
    short = summary(command).rstrip(".")
    return [
        f".TH {quote_arg(page.upper())} 1 \"\" {quote_arg(f'{PROG} {version}')} {quote_arg(MANUAL)}",
        '.\\" Generated by scripts/make_man.py from the click command definitions; do not edit.',
        ".nh",
        ".SH NAME",
        text_line(escape(f"{page} - {short}" if short else page)),
        ".SH SYNOPSIS",
        synopsis_line(name, command, ctx),
    ]


def description_lines(command: click.Command) -> list[str]:
    """DESCRIPTION: the help, a deprecation note and the epilog, if any."""
    parts = [clean_help(command.help), deprecated_note(command) or "", clean_help(command.epilog)]
    description = "\n\n".join(p for p in parts if p)
    if not description:
        return []
    return [".SH DESCRIPTION", *render_text(description, first="", next_=".PP")]


def options_lines(command: click.Command, ctx: click.Context) -> list[str]:
    options = [p for p in command.get_params(ctx) if isinstance(p, click.Option) and not p.hidden]
    if not options:
        return []
    lines = [".SH OPTIONS"]
    for option in options:
        lines += option_lines(option, ctx)
    return lines


def commands_body(command: click.Command, name: str, ctx: click.Context) -> list[str]:
    """The COMMANDS section of a group's page (empty for a plain command)."""
    if not isinstance(command, click.Group):
        return []
    body: list[str] = []
    for sub_name, sub in visible_subcommands(command, ctx):
        ref = f"See {page_name(f'{name} {sub_name}')}(1)."
        short = summary(sub)
        body += [".TP", bold(sub_name), text_line(escape(f"{short} {ref}" if short else ref))]
    return body


def see_also_body(see_also: Sequence[str], text: str) -> list[str]:
    """SEE ALSO: the generated references, merged with text when it is made only of
    references ("emgmm-fit(1), sort(1)"), else followed by it as paragraphs."""
    references = [(ref, "1") for ref in see_also]
    tokens = [t.strip() for t in re.split(r"[,\s]+", text) if t.strip()]
    if tokens and all(REFERENCE.match(t) for t in tokens):
        for token in tokens:
            match = REFERENCE.match(token)
            assert match is not None
            if (match["name"], match["section"]) not in references:
                references.append((match["name"], match["section"]))
        text = ""
    refs = [f"{bold(name)}({escape(section)})" for name, section in references]
    body = [text_line(",\n".join(refs))] if refs else []
    return body + render_text(text, first=".PP" if refs else "", next_=".PP", tagged=True)


def render_page(
    command: click.Command,
    name: str,
    *,
    parent: click.Context | None = None,
    extra_sections: Mapping[str, str] | None = None,
    see_also: Sequence[str] = (),
    version: str | None = None,
) -> str:
    """The roff source of one man page.

    name is the command path as typed ("emgmm", "emgmm fit"); the page is page_name(name)
    in section 1. parent is the context of the enclosing group (so its context settings,
    such as help_option_names, apply). extra_sections maps section titles to plain text
    (see the module docstring); see_also lists other page names to refer to.
    """
    if version is None:
        from emgmm_cli import __version__

        version = __version__
    ctx = make_context(command, name.split()[-1], parent)
    lines = header_lines(command, name, ctx, version)
    lines += description_lines(command) + options_lines(command, ctx)
    extras = {title.strip().upper(): text for title, text in (extra_sections or {}).items()}
    sections = {"COMMANDS": commands_body(command, name, ctx)}
    for key, text in extras.items():
        if key in GENERATED_SECTIONS:
            raise ValueError(f"{page_name(name)}: MAN_SECTIONS may not replace the generated "
                             f"{key} section")
        if key != "SEE ALSO":
            sections[key] = render_text(text, first="", next_=".PP", tagged=True)
    sections["SEE ALSO"] = see_also_body(see_also, extras.get("SEE ALSO", ""))
    for title in sorted(sections, key=section_rank):
        if sections[title]:
            lines += [f".SH {escape(title)}", *sections[title]]
    return "\n".join(lines) + "\n"


def load_man_sections() -> dict[str, dict[str, str]]:
    """MAN_SECTIONS from scripts/man_sections.py, or {} when that module does not exist."""
    try:
        module = importlib.import_module(SECTIONS_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name == SECTIONS_MODULE:
            return {}
        raise
    sections = getattr(module, "MAN_SECTIONS", {})
    return {str(k): {str(t): str(v) for t, v in d.items()} for k, d in sections.items()}


def render_tree(
    group: click.Command,
    *,
    man_sections: Mapping[str, Mapping[str, str]] | None = None,
    version: str | None = None,
) -> dict[str, str]:
    """File name -> page for a command tree rooted at `group` (named PROG)."""
    specs = list(walk(group, PROG, None))
    unknown = set(man_sections or {}) - {s.key for s in specs}
    if unknown:
        raise ValueError(
            f"MAN_SECTIONS names unknown commands: {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(s.key for s in specs))}"
        )
    pages: dict[str, str] = {}
    for spec in specs:
        see_also = [page_name(s.path) for s in specs if s.path != PROG] if spec.path == PROG else [PROG]
        pages[f"{page_name(spec.path)}.1"] = render_page(
            spec.command,
            spec.path,
            parent=spec.parent,
            extra_sections=(man_sections or {}).get(spec.key),
            see_also=see_also,
            version=version,
        )
    return pages


def render_all() -> dict[str, str]:
    """File name -> content of every page for the real CLI (emgmm_cli.cli.main.cli)."""
    from emgmm_cli.cli.main import cli

    return render_tree(cli, man_sections=load_man_sections())


# --- files --------------------------------------------------------------------------------


def page_files(pages: Mapping[str, str], man_dir: Path) -> tuple[dict[Path, str], Changes]:
    """The pages as files of man_dir, and how man_dir differs from them."""
    files = {man_dir / name: text for name, text in pages.items()}
    present = man_dir.glob(f"{PROG}*.1") if man_dir.is_dir() else ()
    return files, compare_files(files, present)


def compare(pages: Mapping[str, str], man_dir: Path) -> tuple[list[str], list[str], list[str]]:
    """(stale, missing, extra) page file names of man_dir against the rendered pages."""
    changes = page_files(pages, man_dir)[1]
    return tuple([p.name for p in paths]  # type: ignore[return-value]
                 for paths in (changes.stale, changes.missing, changes.extra))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the emgmm man pages from the click commands.")
    parser.add_argument("--check", action="store_true", help="report stale, missing or extra pages; write nothing")
    parser.add_argument("--man-dir", type=Path, default=DEFAULT_MAN_DIR, help=f"default: {DEFAULT_MAN_DIR}")
    args = parser.parse_args(argv)
    files, changes = page_files(render_all(), args.man_dir)
    return check_or_write(files, changes, check=args.check, what="man pages",
                          command="python scripts/make_man.py")


if __name__ == "__main__":
    sys.exit(main())
