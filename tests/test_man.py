"""The man pages in man/ are what scripts/make_man.py renders from the click commands
and the sections of scripts/man_sections.py.

The first tests use the real CLI (emgmm_cli.cli.main.cli) and fail when a page is stale,
missing or extra (run `python scripts/make_man.py` after changing a command), or when a
page lacks a fact the code defines (an exit code, a model field, an output format). The
rest exercise the renderer on a small click group built here.
"""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = REPO_ROOT / "scripts"
MAN_DIR = REPO_ROOT / "man"

if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))  # the scripts import their siblings by name
mm: Any = importlib.import_module("make_man")


def roff_flag(flag: str) -> str:
    return flag.replace("-", "\\-")


# --- the real CLI ---------------------------------------------------------------------------


def test_man_pages_are_up_to_date() -> None:
    pages = mm.render_all()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in MAN_DIR.glob("emgmm*.1")}
    stale = sorted(n for n in pages if n in on_disk and on_disk[n] != pages[n])
    missing = sorted(set(pages) - set(on_disk))
    extra = sorted(set(on_disk) - set(pages))
    assert not (stale or missing or extra), (
        f"man pages out of date (stale {stale}, missing {missing}, extra {extra}); "
        "run python scripts/make_man.py"
    )


def test_real_pages_start_with_th_and_list_every_flag() -> None:
    from emgmm_cli.cli.main import cli

    pages = mm.render_all()
    assert "emgmm.1" in pages
    assert len(pages) == len(list(mm.walk(cli, "emgmm", None)))
    for spec in mm.walk(cli, "emgmm", None):
        page = pages[f"{mm.page_name(spec.path)}.1"]
        assert page.startswith(".TH "), spec.path
        assert ".SH NAME\n" in page and ".SH SYNOPSIS\n" in page
        ctx = mm.make_context(spec.command, spec.path.split()[-1], spec.parent)
        for param in spec.command.get_params(ctx):
            if isinstance(param, click.Option) and not param.hidden:
                for flag in [*param.opts, *param.secondary_opts]:
                    assert f"\\fB{roff_flag(flag)}\\fR" in page, f"{spec.path}: {flag} missing"


def page_text(name: str) -> str:
    """A page with its roff escapes for '-' and '\\' undone, for plain-text searches."""
    return mm.render_all()[name].replace("\\-", "-").replace("\\e", "\\")


def test_every_page_lists_every_exit_status() -> None:
    from emgmm_cli.cli.context import ExitStatus

    for name in mm.render_all():
        section = page_text(name).partition(".SH EXIT STATUS\n")[2].partition(".SH ")[0]
        codes = [line for line in section.splitlines() if line.startswith("\\fB")]
        assert codes == [f"\\fB{int(s)}\\fR" for s in sorted(ExitStatus)], name


def test_group_page_describes_every_model_field_option_family_and_format() -> None:
    from emgmm_cli.engine.families import FAMILIES
    from emgmm_cli.engine.options import OPTION_SPECS
    from emgmm_cli.io.formats import FORMATS
    from emgmm_cli.io.model import OPTIONS_EXTRA, REQUIRED_FIELDS

    text = page_text("emgmm.1")
    files = text.partition(".SH FILES\n")[2].partition(".SH ")[0]
    for name in REQUIRED_FIELDS:
        assert f".TP\n\\fB{name}\\fR\n" in files, name
    for name in [*OPTION_SPECS, *(f.name for f in OPTIONS_EXTRA)]:
        assert f".TP\n\\fB{name} (--" in files, name
    for name, fam in FAMILIES.items():
        label = name if name == fam.mclust else f"{name} ({fam.mclust})"
        assert f"\\fB{label}\\fR\n{fam.shape_text}: " in files, name
    conventions = text.partition(".SH CONVENTIONS\n")[2].partition(".SH ")[0]
    for writer in FORMATS.values():
        assert f"\\fB{', '.join(writer.extensions)}\\fR\n{writer.description}." in conventions


def test_environment_variables_are_ones_the_package_knows() -> None:
    source = "\n".join(p.read_text(encoding="utf-8")
                       for p in (REPO_ROOT / "emgmm_cli").rglob("*.py"))
    section = page_text("emgmm.1").partition(".SH ENVIRONMENT\n")[2].partition(".SH ")[0]
    terms = [line[3:-3] for line in section.splitlines() if line.startswith("\\fB")]
    variables = [v for term in terms for v in term.split(", ")]
    assert "NO_COLOR" in variables and "EMGMM_FORCE_TTY" in variables
    for variable in variables:
        assert variable in source, variable
    # and the other way: the section left out DASK_SCHEDULER_ADDRESS and TERM (dumb: no
    # colour), which emgmm reads
    read = set(re.findall(r"environ\.get\(\"([A-Z_]+)\"", source))
    assert read >= {"DASK_SCHEDULER_ADDRESS", "TERM", "NO_COLOR"}
    assert not read - set(variables), read - set(variables)


def test_write_and_check_modes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    man_dir = tmp_path / "man"
    assert mm.main(["--check", "--man-dir", str(man_dir)]) == 1
    assert "missing: " in capsys.readouterr().err
    assert mm.main(["--man-dir", str(man_dir)]) == 0
    assert mm.main(["--check", "--man-dir", str(man_dir)]) == 0
    (man_dir / "emgmm-gone.1").write_text(".TH GONE 1\n")
    (man_dir / "emgmm.1").write_text(".TH STALE 1\n")
    assert mm.main(["--check", "--man-dir", str(man_dir)]) == 1
    err = capsys.readouterr().err
    assert "stale: " in err and "emgmm.1" in err and "extra: " in err and "emgmm-gone.1" in err
    assert mm.main(["--man-dir", str(man_dir)]) == 0
    assert not (man_dir / "emgmm-gone.1").exists()
    assert {p.name: p.read_text() for p in man_dir.iterdir()} == mm.render_all()


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_real_pages_format_without_warnings(tmp_path: Path) -> None:
    for name, content in mm.render_all().items():
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        result = subprocess.run(
            ["groff", "-man", "-ww", "-z", "-Tutf8", str(path)],
            capture_output=True, text=True, check=False,
        )
        assert result.returncode == 0 and result.stderr == "", f"{name}: {result.stderr}"


# --- the renderer, on a group built here -----------------------------------------------------


def demo_group() -> click.Group:
    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.option("--debug/--no-debug", default=False, help="Show tracebacks.")
    def cli(debug: bool) -> None:
        """Gaussian mixture clustering by EM.

        Fits K Gaussians.

        \b
        Examples:
          emgmm fit data.csv -k 4
        .not a request
        """

    @cli.command()
    @click.argument("input_file", metavar="INPUT", type=click.Path())
    @click.option("-k", "--n-components", type=click.IntRange(1, 100), default=1, help="Number of components.")
    @click.option(
        "--covariance-type",
        type=click.Choice(["full", "tied", "diag", "spherical"]),
        default="full",
        show_default=True,
        help="Covariance family.",
    )
    @click.option("--tol", type=float, default=1e-3, help="Tolerance.")
    @click.option("-q", "--quiet", is_flag=True, help="Say nothing.")
    @click.option("--seed", type=int, help="Seed; 'quoted' \\ backslash.")
    @click.option("--reg-covar", type=float, default=1e-6, show_default=False, help="Hidden default.")
    @click.option("--secret", hidden=True)
    @click.option("--col", multiple=True, metavar="NAME", help="A column.")
    def fit(**kwargs: object) -> None:
        """Fit a mixture to INPUT.

        Uses log-likelihood; see --tol.
        """

    @cli.command(name="make-blobs", short_help="Make synthetic data.")
    def make_blobs() -> None:
        pass

    return cli


def test_render_tree_names_and_header() -> None:
    pages = mm.render_tree(demo_group(), version="9.9.9")
    assert sorted(pages) == ["emgmm-fit.1", "emgmm-make-blobs.1", "emgmm.1"]
    top = pages["emgmm.1"]
    assert top.splitlines()[0] == '.TH "EMGMM" 1 "" "emgmm 9.9.9" "User Commands"'
    assert pages["emgmm-fit.1"].startswith('.TH "EMGMM\\-FIT" 1 "" "emgmm 9.9.9"')
    assert mm.render_tree(demo_group(), version="9.9.9") == pages  # deterministic


def test_name_synopsis_and_description() -> None:
    fit = mm.render_tree(demo_group(), version="1")["emgmm-fit.1"]
    assert ".SH NAME\nemgmm\\-fit \\- Fit a mixture to INPUT\n" in fit
    assert ".SH SYNOPSIS\n\\fBemgmm fit\\fR [\\fIOPTIONS\\fR] \\fIINPUT\\fR\n" in fit
    assert "Uses log\\-likelihood; see \\-\\-tol.\n" in fit


def test_no_rewrap_paragraph_becomes_nf_block() -> None:
    top = mm.render_tree(demo_group(), version="1")["emgmm.1"]
    assert (
        ".PP\n.nf\nExamples:\n  emgmm fit data.csv \\-k 4\n\\&.not a request\n.fi\n" in top
    )
    assert "\b" not in top


def test_options_choice_range_flag_defaults() -> None:
    fit = mm.render_tree(demo_group(), version="1")["emgmm-fit.1"]
    assert (
        ".TP\n\\fB\\-k\\fR, \\fB\\-\\-n\\-components\\fR \\fIINTEGER RANGE\\fR\n"
        "Number of components.\nRange: 1 <= x <= 100. Default: 1.\n"
    ) in fit
    assert (
        ".TP\n\\fB\\-\\-covariance\\-type\\fR \\fI[full|tied|diag|spherical]\\fR\n"
        "Covariance family.\nOne of: full, tied, diag, spherical. Default: full.\n"
    ) in fit
    assert "Tolerance.\nDefault: 0.001.\n" in fit
    # a plain flag has no metavar and no default
    assert ".TP\n\\fB\\-q\\fR, \\fB\\-\\-quiet\\fR\nSay nothing.\n.TP\n" in fit
    # no default at all, and show_default=False hides one
    assert "\\fB\\-\\-seed\\fR \\fIINTEGER\\fR\nSeed; 'quoted' \\e backslash.\n.TP\n" in fit
    assert "Hidden default.\n.TP\n" in fit
    assert "\\fB\\-\\-col\\fR \\fINAME\\fR\nA column.\nMay be given more than once.\n" in fit
    assert "secret" not in fit
    # the group's help option names are inherited
    assert "\\fB\\-h\\fR, \\fB\\-\\-help\\fR\n" in fit


def test_boolean_flag_pair_and_commands_section() -> None:
    top = mm.render_tree(demo_group(), version="1")["emgmm.1"]
    assert ".TP\n\\fB\\-\\-debug\\fR / \\fB\\-\\-no\\-debug\\fR\nShow tracebacks.\nDefault: \\-\\-no\\-debug.\n" in top
    assert ".SH COMMANDS\n.TP\n\\fBfit\\fR\nFit a mixture to INPUT. See emgmm\\-fit(1).\n" in top
    assert ".TP\n\\fBmake\\-blobs\\fR\nMake synthetic data. See emgmm\\-make\\-blobs(1).\n" in top
    assert ".SH SEE ALSO\n\\fBemgmm\\-fit\\fR(1),\n\\fBemgmm\\-make\\-blobs\\fR(1)\n" in top


def test_extra_sections_order_and_rendering() -> None:
    sections = {
        "emgmm": {
            "See also": "scikit-learn's GaussianMixture.",
            "FILES": "None.",
            "Exit status": "0\n    Success.\n\n1\n    The data or the fit failed.",
            "ENVIRONMENT": "NO_COLOR\n    Turns colour off.\n\n.Leading dot and C:\\path.",
        },
        "fit": {"EXAMPLES": "\b\nemgmm fit a.csv -k 3 | sort | uniq -c"},
    }
    pages = mm.render_tree(demo_group(), man_sections=sections, version="1")
    top = pages["emgmm.1"]
    order = [top.index(f".SH {t}\n") for t in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS",
                                                "COMMANDS", "EXIT STATUS", "ENVIRONMENT",
                                                "FILES", "SEE ALSO")]
    assert order == sorted(order)
    assert ".SH EXIT STATUS\n.TP\n\\fB0\\fR\nSuccess.\n.TP\n\\fB1\\fR\nThe data or the fit failed.\n" in top
    assert ".TP\n\\fBNO_COLOR\\fR\nTurns colour off.\n.PP\n\\&.Leading dot and C:\\epath.\n" in top
    assert "\\fBemgmm\\-make\\-blobs\\fR(1)\n.PP\nscikit\\-learn's GaussianMixture.\n" in top
    fit = pages["emgmm-fit.1"]
    assert ".SH EXAMPLES\n.nf\nemgmm fit a.csv \\-k 3 | sort | uniq \\-c\n.fi\n.SH SEE ALSO\n\\fBemgmm\\fR(1)\n" in fit


def test_two_space_tags_and_see_also_merge() -> None:
    sections = {
        "emgmm": {
            "EXIT STATUS": "0  success.\n\n130  interrupted (Ctrl-C).",
            "NOTES": "A sentence.  Another one, not a tag.",
            "SEE ALSO": "emgmm-fit(1), sort(1)",
        },
        "fit": {"SEE ALSO": "emgmm(1)\nuniq(1)"},
    }
    pages = mm.render_tree(demo_group(), man_sections=sections, version="1")
    top = pages["emgmm.1"]
    assert ".SH EXIT STATUS\n.TP\n\\fB0\\fR\nsuccess.\n.TP\n\\fB130\\fR\ninterrupted (Ctrl\\-C).\n" in top
    assert ".SH NOTES\nA sentence.  Another one, not a tag.\n" in top
    assert top.count("emgmm\\-fit\\fR(1)") == 1
    assert top.endswith(
        ".SH SEE ALSO\n\\fBemgmm\\-fit\\fR(1),\n\\fBemgmm\\-make\\-blobs\\fR(1),\n\\fBsort\\fR(1)\n"
    )
    assert pages["emgmm-fit.1"].endswith(".SH SEE ALSO\n\\fBemgmm\\fR(1),\n\\fBuniq\\fR(1)\n")


def test_extra_sections_reject_unknown_commands_and_generated_titles() -> None:
    with pytest.raises(ValueError, match="unknown commands: nope"):
        mm.render_tree(demo_group(), man_sections={"nope": {"FILES": "x"}}, version="1")
    with pytest.raises(ValueError, match="OPTIONS"):
        mm.render_tree(demo_group(), man_sections={"fit": {"options": "x"}}, version="1")


def test_escape() -> None:
    assert mm.escape("a-b\\c") == "a\\-b\\ec"
    assert mm.escape("Härdle") == "H\\[u00E4]rdle"
    assert mm.text_line(mm.escape(".x")) == "\\&.x"
    assert mm.text_line(mm.escape("'x")) == "\\&'x"
    assert mm.quote_arg('say "hi"') == '"say \\(dqhi\\(dq"'


def test_every_flag_of_demo_pages_present() -> None:
    group = demo_group()
    pages = mm.render_tree(group, version="1")
    for spec in mm.walk(group, "emgmm", None):
        page = pages[f"{mm.page_name(spec.path)}.1"]
        assert page.startswith(".TH ")
        ctx = mm.make_context(spec.command, spec.path.split()[-1], spec.parent)
        for param in spec.command.get_params(ctx):
            if isinstance(param, click.Option) and not param.hidden:
                for flag in [*param.opts, *param.secondary_opts]:
                    assert f"\\fB{roff_flag(flag)}\\fR" in page


def test_compare_reports_stale_missing_extra(tmp_path: Path) -> None:
    pages = {"emgmm.1": "a\n", "emgmm-fit.1": "b\n", "emgmm-new.1": "c\n"}
    (tmp_path / "emgmm.1").write_text("a\n")
    (tmp_path / "emgmm-fit.1").write_text("old\n")
    (tmp_path / "emgmm-gone.1").write_text("x\n")
    (tmp_path / "README").write_text("not a page\n")
    assert mm.compare(pages, tmp_path) == (["emgmm-fit.1"], ["emgmm-new.1"], ["emgmm-gone.1"])
    assert mm.compare(pages, tmp_path / "absent") == ([], sorted(pages), [])


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_demo_pages_format_without_warnings(tmp_path: Path) -> None:
    sections = {"emgmm": {"EXIT STATUS": "0\n    Success.", "FILES": "\b\n~/.config/emgmm"}}
    for name, content in mm.render_tree(demo_group(), man_sections=sections, version="1").items():
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        result = subprocess.run(
            ["groff", "-man", "-ww", "-z", "-Tutf8", str(path)],
            capture_output=True, text=True, check=False,
        )
        assert result.returncode == 0 and result.stderr == "", f"{name}: {result.stderr}"
