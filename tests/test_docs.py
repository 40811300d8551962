"""The documentation cannot drift from the code.

- docs/cli.md, docs/model-file.md and the generated blocks of the hand-written pages
  (README.md, docs/*.md, benchmarks/README.md) are what scripts/make_docs.py renders now;
  run `python scripts/make_docs.py` after changing a command, a table or the engine.
- Every shell example of the hand-written pages runs, block after block, in a folder that
  holds a copy of sample_data/; every Python example runs too.  The README's two set-up
  commands are the ones the project promises.
- The README names every command, and its exit codes are ExitStatus.
- Each figure a hand-written page quotes from a constant of the code or the tests is found
  in the page as the constant says it (quotes()).
"""

from __future__ import annotations

import ast
import importlib
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

REPO_ROOT = Path(__file__).resolve().parent.parent
README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
SETUP_COMMANDS = (
    "python3 -m venv .venv && . .venv/bin/activate && pip install . && "
    "emgmm fit sample_data/blobs4.csv -k 4 --seed 0",
    "python3 -m venv .venv && . .venv/bin/activate && pip install '.[test]' && pytest",
)
#: The languages of fenced blocks in hand-written pages: sh and python blocks run; shell
#: blocks hold commands too long to run in a test (benchmarks), and no emgmm command.
FENCE_LANGUAGES = {"sh", "python", "text", "shell"}
FENCE = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```\n", re.S | re.M)


if str(REPO_ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "scripts"))  # the scripts import their siblings by name
md: Any = importlib.import_module("make_docs")


def hand_written() -> list[Path]:
    return list(md.hand_written())


def fences(page: Path, lang: str | None = None) -> list[str]:
    """The bodies of the page's fenced blocks (of one language)."""
    text = page.read_text(encoding="utf-8")
    return [m["body"] for m in FENCE.finditer(text) if lang is None or m["lang"] == lang]


def page_id(page: Path) -> str:
    return str(page.relative_to(REPO_ROOT))


# --- generated pages and blocks ---------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(example_runs: dict[Path, subprocess.Popen[str]]) -> dict[Path, str]:
    # example_runs is asked for first so that the pages' shell examples run in the
    # background while the figures are computed here.
    return dict(md.render_all())


def test_generated_docs_are_up_to_date(rendered: dict[Path, str]) -> None:
    stale = [page_id(p) for p, text in rendered.items()
             if not p.is_file() or p.read_text(encoding="utf-8") != text]
    assert not stale, f"out of date: {stale}; run python scripts/make_docs.py"


def test_cli_page_is_every_commands_help_in_order(rendered: dict[Path, str]) -> None:
    from emgmm_cli.cli.main import COMMANDS, cli

    page = rendered[md.CLI_PAGE]
    sections = re.split(r"^## ", page, flags=re.M)[1:]
    assert [s.splitlines()[0] for s in sections] == ["emgmm", *(f"emgmm {c.name}" for c in COMMANDS)]
    arguments: list[list[str]] = [[], *([str(c.name)] for c in COMMANDS)]
    for section, args in zip(sections, arguments):
        shown = section.partition("```text\n")[2].partition("\n```")[0]
        help_run = CliRunner().invoke(cli, [*args, "--help"], terminal_width=md.HELP_WIDTH,
                                      prog_name="emgmm")
        assert help_run.exit_code == 0
        assert shown == help_run.output.rstrip(), args


def test_blocks_are_filled_and_checked() -> None:
    text = "a\n<!-- BEGIN GENERATED x (here) -->\nold\n<!-- END GENERATED x -->\nb\n"
    render = md.render_blocks({"x": lambda: "new"})
    assert md.fill_blocks(text, render) == (
        "a\n<!-- BEGIN GENERATED x (here) -->\n\nnew\n\n<!-- END GENERATED x -->\nb\n")
    with pytest.raises(ValueError, match="unknown generated block 'y'"):
        md.fill_blocks(text.replace(" x ", " y "), render)
    with pytest.raises(ValueError, match="without its end marker"):
        md.fill_blocks(text.replace("END GENERATED x", "END x"), render)


def test_model_fields_are_what_fit_writes(tmp_path: Path) -> None:
    import emgmm_cli
    from emgmm_cli.engine.errors import FitEvent
    from emgmm_cli.engine.options import INPUT_SPECS, OPTION_SPECS
    from emgmm_cli.io.model import (MODEL_FIELDS, OPTIONS_EXTRA, SOURCE_FILE_FIELD,
                                    SOURCE_SIZE_FIELD)

    document = emgmm_cli.fit(str(REPO_ROOT / "sample_data" / "faithful.csv"), 2, seed=0).document
    # a file's fit: its size and identity too, optional fields (not an array's)
    assert list(document) == [*(f.name for f in MODEL_FIELDS), SOURCE_SIZE_FIELD,
                              SOURCE_FILE_FIELD]
    assert list(document["options"]) == [*OPTION_SPECS, *(f.name for f in OPTIONS_EXTRA),
                                         *INPUT_SPECS]
    events = next(f.description for f in MODEL_FIELDS if f.name == "events")
    for key in FitEvent("kind", "message").to_dict():
        assert key in events, key


LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_python_page_names_every_fit_option() -> None:
    """python.md's list of fit's options left out accelerate and order, fields of
    FitOptions that fit takes: the list names every field but n_components (fit's
    second argument), and nothing else."""
    import dataclasses
    import re

    from emgmm_cli import FitOptions

    text = " ".join((DOCS / "python.md").read_text(encoding="utf-8").split())
    listed = text.partition("The options are the fields of `emgmm_cli.FitOptions` (")[2]
    names = re.findall(r"`(\w+)`", listed.partition("), with the command line's")[0])
    fields = [f.name for f in dataclasses.fields(FitOptions) if f.name != "n_components"]
    assert sorted(names) == sorted(fields)


def test_links_between_pages_resolve(rendered: dict[Path, str]) -> None:
    pages = {p: p.read_text(encoding="utf-8") for p in hand_written()} | rendered
    for page, text in pages.items():
        for m in LINK.finditer(text):
            target, _, anchor = m["target"].partition("#")
            if re.match(r"[a-z]+:", target):
                continue
            path = (page.parent / target).resolve() if target else page
            assert path.is_file(), (page_id(page), m["target"])
            assert path.is_relative_to(REPO_ROOT), (page_id(page), m["target"])
            if anchor and path.suffix == ".md":
                headings = re.findall(r"^#+ (.*)$", pages.get(path) or path.read_text(encoding="utf-8"),
                                      re.M)
                assert anchor in {slug(h) for h in headings}, (page_id(page), m["target"])


def test_no_page_names_a_file_outside_the_repository() -> None:
    """README named `../shared/DESIGN.md` in backquotes (no link): a file beside this
    checkout, not in a clone."""
    for page in hand_written():
        text = page.read_text(encoding="utf-8")
        for m in re.finditer(r"`(\.\./[^`\s]+)`", text):
            target = (page.parent / m[1]).resolve()
            assert target.is_relative_to(REPO_ROOT), (page_id(page), m[1])


# --- the README ---------------------------------------------------------------------------


def test_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert 150 <= lines <= 250, lines


def test_readme_names_every_command() -> None:
    from emgmm_cli.cli.main import COMMANDS

    text = README.read_text(encoding="utf-8")
    for command in COMMANDS:
        assert f"`emgmm {command.name} " in text, command.name


def test_readme_exit_codes_are_exit_status() -> None:
    from emgmm_cli.cli.context import ExitStatus

    section = README.read_text(encoding="utf-8").partition("\n## Exit codes\n")[2].partition("\n## ")[0]
    codes = [int(m[1]) for m in re.finditer(r"^\| `(\d+)` \|", section, re.M)]
    assert codes == sorted(int(s) for s in ExitStatus)


def test_readme_set_up_commands_are_the_promised_ones() -> None:
    lines = [line for body in fences(README, "sh") for line in body.splitlines()
             if line.startswith("python3 -m venv")]
    assert lines == list(SETUP_COMMANDS)


def test_readme_names_the_dependencies() -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    def names(requirements: list[str]) -> list[str]:
        return [re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0] for r in requirements]

    def phrase(items: list[str]) -> str:
        return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"

    extras = project["optional-dependencies"]
    text = re.sub(r"\s+", " ", README.read_text(encoding="utf-8"))
    assert f"Python {project['requires-python'].removeprefix('>=')} or later" in text
    assert f"The runtime dependencies are {phrase(names(project['dependencies']))};" in text
    assert f"`pip install '.[parquet]'` adds {phrase(names(extras['parquet']))}" in text
    assert f"The test extra adds {phrase(names(extras['test']))}." in text


# --- examples -----------------------------------------------------------------------------


def test_examples_are_in_blocks_that_run() -> None:
    for page in hand_written():
        text = page.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            assert m["lang"] in FENCE_LANGUAGES, (page_id(page), m["lang"])
            if m["lang"] != "sh":
                assert not re.search(r"^\$? ?emgmm ", m["body"], re.M), (page_id(page), m["body"])
        outside = FENCE.sub("", text)
        assert not re.search(r"^ {4,}\$? ?emgmm ", outside, re.M), page_id(page)


def shell_script(page: Path) -> str:
    """The page's sh blocks as one script; a set-up line runs what follows its install."""
    lines = []
    for body in fences(page, "sh"):
        for line in body.splitlines():
            if line.startswith("python3 -m venv"):
                line = line.rpartition(" && ")[2]
                if line == "pytest":
                    continue
            lines.append(line)
    return "\n".join(lines)


def with_sample_data(folder: Path) -> Path:
    shutil.copytree(REPO_ROOT / "sample_data", folder / "sample_data")
    return folder


def shell_pages() -> list[Path]:
    return [p for p in hand_written() if fences(p, "sh")]


@pytest.fixture(scope="module")
def example_runs(tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[dict[Path, subprocess.Popen[str]]]:
    """The shell examples of every page, started at once, each in its own folder."""
    prelude = f'set -euo pipefail\nemgmm() {{ "{sys.executable}" -m emgmm_cli "$@"; }}\n'
    env = {**os.environ, "NO_COLOR": "1", "EMGMM_FORCE_TTY": "0"}
    runs = {page: subprocess.Popen(
        ["bash", "-c", prelude + shell_script(page)], text=True, env=env,
        cwd=with_sample_data(tmp_path_factory.mktemp(page.stem)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE) for page in shell_pages()}
    yield runs
    for process in runs.values():
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.mark.parametrize("page", shell_pages(), ids=page_id)
def test_shell_examples_run(page: Path, example_runs: dict[Path, subprocess.Popen[str]]) -> None:
    _, stderr = example_runs[page].communicate(timeout=300)
    assert example_runs[page].returncode == 0, f"{page_id(page)}:\n{stderr[-3000:]}"


@pytest.mark.parametrize("page", [p for p in hand_written() if fences(p, "python")], ids=page_id)
def test_python_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(with_sample_data(tmp_path))
    namespace: dict[str, Any] = {"__name__": "__main__"}  # a script's: guarded blocks run
    for body in fences(page, "python"):
        exec(compile(body, page_id(page), "exec"), namespace)  # noqa: S102 - the page's own code


# --- figures quoted from the code and the tests ---------------------------------------------


def constant_of(test_file: str, name: str) -> Any:
    """A module-level constant of a test file, read without importing the test."""
    tree = ast.parse((REPO_ROOT / "tests" / test_file).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise LookupError(f"{name} in tests/{test_file}")


def code_list(names: Any) -> str:
    return ", ".join(f"`{n}`" for n in names)


def quotes() -> list[tuple[str, str]]:
    """(page, text the page must hold): figures the hand-written pages quote."""
    from emgmm_cli.app.batching import SUMMARY_COLUMNS
    from emgmm_cli.app.discover import DEFAULT_FILES
    from emgmm_cli.app.requests import STANDARD_NAMES
    from emgmm_cli.app.selecting import TABLE_COLUMNS
    from emgmm_cli.cli.main import COMMANDS
    from emgmm_cli.engine.em import (COLLAPSE_MASS, DEGENERATE_RATIO, DEGENERATE_ULPS,
                                     FEW_ROWS_PER_DIM, SINGULAR_RATIO,
                                     WATCH_EVERY, WATCH_LOOKS)
    from emgmm_cli.engine.hc import (HC_ALPHA, HC_BETA, HC_BYTES, HC_MAX_ROWS, REMERGED,
                                     hc_rows)
    from emgmm_cli.engine.init import SEED_SAMPLE_ROWS
    from emgmm_cli.engine import families, splitmerge
    from emgmm_cli.engine.fitting import FLOAT32_EPS, FLOAT32_LOSS, STACKED_ROWS
    from emgmm_cli.engine.stacked import STACK_BYTES
    from emgmm_cli.engine.starts import (FLOOR_FELT, LIFTED_FLOOR, MCLUST_TOL, SAME_MIXTURE,
                                         SCREEN_ITERS, SCREEN_MAX, SCREEN_PER_RUN,
                                         SCREEN_ROWS, STALL_DISTANCE, THOROUGH_FROM,
                                         THOROUGH_ITERS)
    from emgmm_cli.engine.options import FIT_DEFAULTS, FitOptions
    from emgmm_cli.engine.kernels import HELD_RESP
    from emgmm_cli.engine.screening import MIN_ROWS_FOR_COPIES, ROUNDING_SHARE
    import numpy as np
    from emgmm_cli.engine.steplength import STEP_FACTOR
    from emgmm_cli.io import cache, formats, writers
    from emgmm_cli.io.formats import CODEC_BY_EXT
    from emgmm_cli.app import plotting
    from emgmm_cli.cli.show import PICTURE_COLUMNS
    from emgmm_cli.cli.errors import HELP_WIDTH
    from emgmm_cli.render import EXACT_DIGITS, LARGE, LARGE_EXACT, SMALL, NumberFormat
    from sklearn.mixture import GaussianMixture

    n = md.docfacts.number
    parity = n(constant_of("test_engine_parity.py", "PARITY_RTOL"))
    vvv7 = constant_of("test_starts.py", "BREAST_CANCER_SELECT_VVV7")
    dims = ", ".join(map(str, constant_of("test_engine_parity.py", "DIMENSIONS")))
    fit = FIT_DEFAULTS
    peer = GaussianMixture()  # the defaults the docs quote as scikit-learn's
    reg = n(FitOptions(1).reg_covar)
    codecs = list(CODEC_BY_EXT)
    compressed = f"{', '.join(codecs[:-1])}, and {codecs[-1]}"
    readers = [c.name for c in COMMANDS if any("--memory-limit" in getattr(p, "opts", ())
                                               for p in c.params)]
    coarse = ROUNDING_SHARE * math.sqrt(FitOptions(1).reg_covar)
    # the first power of two whose step (float64, float32) passes the share of the floor
    p64, p32 = (next(p for p in range(-60, 1000) if np.spacing(dtype(2.0**p)) > coarse)
                for dtype in (np.float64, np.float32))
    dask_iterative = ", ".join(sorted(constant_of("test_dask.py", "ITERATIVE"))[:-1])

    def power(x: float) -> str:  # 1e6, 1e-3, 1e13
        return f"{x:.0e}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")
    return [
        ("docs/distributed.md", "agree to relative "
                                f"{n(constant_of('test_dask.py', 'RTOL'))}, the final parameters "
                                f"of the families whose M-step iterates ({dask_iterative} and "
                                f"{sorted(constant_of('test_dask.py', 'ITERATIVE'))[-1]}) to "
                                f"{n(constant_of('test_dask.py', 'ITERATIVE_RTOL'))}"),
        ("docs/guide.md", "Help's text wraps two columns short of the terminal's width, at "
                          f"{HELP_WIDTH - 2} columns at most;"),
        ("docs/guide.md", f"A dimension whose values reach {power(LARGE)}, or stay below "
                          f"{power(SMALL)} without being 0"),
        ("docs/guide.md", f"a log-likelihood or criterion from {power(LARGE_EXACT)} on"),
        ("docs/guide.md", f"or below {power(SMALL)}, with ten "
                          f"(`{NumberFormat(None, EXACT_DIGITS)(1e300)}`)"),
        ("README.md", f"to a relative {parity}"),
        ("README.md", f"compressed text ({compressed} with the zstandard package)"),
        ("docs/guide.md", f"first bytes: {compressed} when the zstandard package"),
        ("docs/guide.md", f"numbers are written to {formats.DIGITS} significant digits"),
        ("docs/guide.md", f"keep {formats.DIGITS} significant digits of each column's spread "
                          f"instead, up to the {formats.ROUND_TRIP_DIGITS} that"),
        ("docs/numerics.md", f"to a relative {parity} (its `PARITY_RTOL`)"),
        ("docs/numerics.md", f"in D = {dims},"),
        ("docs/numerics.md", "by more than a relative "
                             f"{n(constant_of('test_engine_parity.py', 'CHUNKING_RTOL'))}"),
        ("docs/numerics.md", f"are tol {n(fit['tol'])}, max-iter {fit['max_iter']}, reg-covar "
                             f"{reg}, {fit['n_init']} runs of the {fit['init']} start"),
        ("docs/numerics.md", f"--tol {n(peer.tol)} --max-iter {peer.max_iter}` a fit "
                             "is scikit-learn's `GaussianMixture` with its defaults"),
        ("docs/numerics.md", f"Why not scikit-learn's tol {n(peer.tol)}"),
        ("docs/numerics.md", f"below {DEGENERATE_ULPS} units in the last place of"),
        ("docs/numerics.md", f"(about {FLOAT32_EPS:.1e} times the squared distance".replace(
            "e-0", "e-")),
        ("docs/numerics.md", f"passes {n(FLOAT32_LOSS)} of the variance"),
        ("docs/numerics.md", f"lambda is below {n(SINGULAR_RATIO)} times s (`SINGULAR_RATIO`)"),
        ("docs/numerics.md", f"lambda is below {n(DEGENERATE_RATIO)} times s (`DEGENERATE_RATIO`)"),
        ("docs/numerics.md", f"holds fewer than {FEW_ROWS_PER_DIM} (D + 1) rows"),
        ("docs/numerics.md", f"falls below {n(COLLAPSE_MASS)} of one point"),
        ("docs/numerics.md", "a diagonal entry below "
                             f"{n(families.SINGULAR_TO_ROUNDING)} of its largest"),
        ("docs/numerics.md", f"above {SEED_SAMPLE_ROWS:,} rows"),
        ("docs/numerics.md", f"at most {HC_MAX_ROWS} rows"),
        ("docs/numerics.md", f"subsample of {HC_MAX_ROWS} rows"),
        ("docs/numerics.md", f"within {HC_BYTES >> 20} MiB: {hc_rows(5000, 89)} rows of up "
                             f"to 89 columns, {hc_rows(5000, 150)} of 150, "
                             f"{hc_rows(5000, 400)} of 400 or more"),
        ("docs/numerics.md", f"the scatters of 400 columns alone would take "
                             f"{8 * HC_MAX_ROWS * 400 * 401 / 2 / 1e9:.1f} GB"),
        ("docs/numerics.md", f"restarts ({fit['n_init']} by default)"),
        ("docs/numerics.md", f"makes min({SCREEN_MAX}, {SCREEN_PER_RUN}R) candidate starts"),
        ("docs/numerics.md", f"With `--n-init R` of {splitmerge.FROM_RUNS} or more"),
        ("docs/guide.md", f"from `--n-init {splitmerge.FROM_RUNS}` on, half of them"),
        ("docs/numerics.md", f"At most {splitmerge.MOVES} moves are made"),
        ("docs/numerics.md", f"grows by `STEP_FACTOR` = {STEP_FACTOR:g} each time a step"),
        ("docs/numerics.md", f"at up to K + {REMERGED} groups"),
        ("docs/numerics.md", "cut at K joins a trio that ends "
                             f"{constant_of('test_family_tree.py', 'BLOBS_VII3')[1]:.1f} below"),
        ("docs/numerics.md", f"and the {splitmerge.CONTINUED} best run to convergence"),
        ("docs/numerics.md", f"the next {splitmerge.CONTINUED} moves run"),
        ("docs/numerics.md", f"at least {FLOOR_FELT:g} of the data's least variance"),
        ("docs/numerics.md", f"on the data itself (up to {SCREEN_ROWS} rows; on a sample"),
        ("docs/numerics.md", f"is looked at every {WATCH_EVERY} passes and stops, with `stopped` "
                             f"\"degenerate\", once {WATCH_LOOKS} looks in a row"),
        ("docs/numerics.md", "VVV with K = 2: {1:.2f} with the floor throughout, {0:.2f} "
                             "from mclust's own optimum".format(
                                 *constant_of("test_starts.py", "BREAST_CANCER_VVV")[2])),
        ("docs/numerics.md", f"with the floor lifted to {LIFTED_FLOOR:.0e} of `--reg-covar` "
                             f"until the log-likelihood L changes by less than "
                             f"{MCLUST_TOL:.0e} (1 + |L|)"),
        ("docs/numerics.md", f"Each runs {SCREEN_ITERS} plain EM iterations, on the data itself "
                             f"up to {SCREEN_ROWS} rows and on a random {SCREEN_ROWS}-row"),
        ("docs/numerics.md", f"From `--n-init {THOROUGH_FROM}` on, the screening is "
                             f"thorough: each candidate runs {THOROUGH_ITERS} EM iterations "
                             "accelerated as the full runs are"),
        ("docs/cli.md", f"--n-init {THOROUGH_FROM} on, the candidates get more EM iterations"),
        ("docs/numerics.md", "a Bhattacharyya distance below "
                             + f"{STALL_DISTANCE:.0e}".replace("e-0", "e-")),
        ("docs/numerics.md", f"on data of up to {STACKED_ROWS} rows the full runs too"),
        ("docs/numerics.md", f"would pass {STACK_BYTES >> 20} MiB (many candidates"),
        ("docs/numerics.md", "`hc-family`, the cell would end "
                             f"{vvv7[0] - vvv7[1]:.0f} below mclust's optimum"),
        ("docs/numerics.md", "covariances equal to "
                             + f"{SAME_MIXTURE:.0e}".replace("e-0", "e-") + ", in units"),
        ("docs/guide.md", f"the columns {code_list(TABLE_COLUMNS)}"),
        ("docs/guide.md", f"the columns {code_list(SUMMARY_COLUMNS)}"),
        ("docs/guide.md", f"names the four outputs {', '.join(STANDARD_NAMES.values())}"),
        ("docs/guide.md", f"its data files: {DEFAULT_FILES};"),
        ("docs/guide.md", f"init {fit['init']}, n-init {fit['n_init']}, tol {n(fit['tol'])}, "
                          f"max-iter {fit['max_iter']}"),
        ("docs/large-data.md", f"({cache.FALLBACK_MEMORY_LIMIT >> 30} GiB when neither"),
        ("docs/large-data.md", f"up to {writers._SPOOL_BYTES >> 20} MiB"),
        ("docs/large-data.md", f"draws at most {plotting.MAX_POINTS:,} evenly spaced rows"),
        ("docs/cli.md", f"Larger data are drawn from {plotting.MAX_POINTS:,} evenly spaced"),
        ("docs/cli.md", f"on a {SEED_SAMPLE_ROWS:,}-row sample for larger data"),
        ("docs/cli.md", f"(from --n-init {splitmerge.FROM_RUNS} on, half of the runs start "
                        "from split-and-merge"),
        ("docs/cli.md", f"the same at {plotting.DPI} per inch; default "
                        + "x".join(map(str, plotting.DEFAULT_SIZE))),
        ("docs/cli.md", f"the terminal's width, at most {PICTURE_COLUMNS}"),
        ("docs/cli.md", "at least " + "x".join(map(str, plotting.TERMINAL_MIN_SIZE))),
        ("docs/cli.md", f"mark those over {plotting.UNCERTAIN:g} with '?'"),
        ("docs/large-data.md", "take it: " + ", ".join(f"`{c}`" for c in readers[:-1])
                               + f" and `{readers[-1]}`"),
        ("docs/errors.md", f"(looked for from {MIN_ROWS_FOR_COPIES} rows on: in fewer"),
        ("docs/guide.md", f"(a share below {HELD_RESP:.0e} of a row written as 0)"),
        ("docs/errors.md", f"the dtype's step there is more than 1/{1 / ROUNDING_SHARE:g} of"),
        ("docs/errors.md", f"that is from 2^{p64} ("
                           + f"{2.0**p64:.2g}".replace("e+0", "e") + f") on, in float32 from "
                           f"{2.0**p32:g}."),
        ("docs/numerics.md", f"mclust's alpha = beta = {n(HC_ALPHA)}" if HC_ALPHA == HC_BETA
         else f"mclust's alpha = {n(HC_ALPHA)}, beta = {n(HC_BETA)}"),
    ]


def test_the_convergence_table_compares_scikit_learns_default_tol() -> None:
    from sklearn.mixture import GaussianMixture

    assert md.docfigures.SKLEARN_TOL == GaussianMixture().tol


@pytest.mark.parametrize(("page", "text"), quotes())
def test_quoted_figures_are_the_codes(page: str, text: str) -> None:
    body = re.sub(r"\s+", " ", (REPO_ROOT / page).read_text(encoding="utf-8"))
    assert text in body, f"{page} should say {text!r}"


def test_the_distributed_guide_quotes_the_code() -> None:
    """docs/distributed.md: the benchmark it renders (scripts/make_docs.py) is of the size
    the guide says, and the constants its prose quotes are the code's."""
    import json

    from emgmm_cli.app.selecting import WORKER_SHARE
    from emgmm_cli.backends import CONNECT_TIMEOUT
    from emgmm_cli.backends.dask import PART_FILES, PARTITION_BYTES, REDUCE_FANIN
    from emgmm_cli.engine.init import SEED_SAMPLE_ROWS
    from emgmm_cli.engine.starts import SCREEN_ROWS

    root = Path(__file__).resolve().parent.parent
    results = json.loads((root / "benchmarks" / "results" / "dask_backend.json").read_text())
    assert results["rows"] >= 10_000_000 and results["datasets"] == 200
    doc = " ".join((root / "docs" / "distributed.md").read_text().split())
    assert f"a sample of at most {SEED_SAMPLE_ROWS:,} rows" in doc
    assert f"random sample of at most {SCREEN_ROWS:,} rows" in doc
    assert f"about {PARTITION_BYTES >> 20} MiB" in doc
    assert f"a tree of {REDUCE_FANIN}-way additions" in doc
    assert WORKER_SHARE == 0.25 and "at most a quarter of a worker's memory" in doc
    assert f"(default {CONNECT_TIMEOUT:g})" in doc
    assert f"(in a directory: {PART_FILES})" in doc


def test_missing_values_past_the_memory_limit_run_as_numerics_md_says(tmp_path: Path) -> None:
    """numerics.md said that --missing drop and em need the data in memory, an input over
    --memory-limit being an error; both run block by block (large-data.md), em holding
    only the incomplete rows."""
    import numpy as np

    from emgmm_cli.cli.main import cli

    text = " ".join((DOCS / "numerics.md").read_text(encoding="utf-8").split())
    assert "Both work on an input over `--memory-limit` too, read block by block" in text
    x = np.random.default_rng(0).normal(size=(3000, 2))
    x[::50, 1] = np.nan
    np.save(tmp_path / "holes.npy", x)
    for policy in ("drop", "em"):
        run = CliRunner().invoke(cli, ["fit", str(tmp_path / "holes.npy"), "-k", "2", "--seed",
                                       "0", "--missing", policy, "--memory-limit", "8K", "-q"])
        assert run.exit_code == 0, run.output
    too_small = CliRunner().invoke(cli, ["fit", str(tmp_path / "holes.npy"), "-k", "2",
                                         "--missing", "em", "--memory-limit", "512"])
    assert too_small.exit_code == 1 and "alone take more than" in too_small.output


def test_the_python_page_gives_selects_signature() -> None:
    """python.md gave select(data, components, covariance_types, ...), as if both were
    required; the signature it shows is select's, defaults included."""
    import inspect

    import emgmm_cli

    shown = []
    for name, p in inspect.signature(emgmm_cli.select).parameters.items():
        if p.kind is p.VAR_KEYWORD:
            shown.append(f"**{name}")
        elif name in ("read", "standardize", "sample_weights", "known_labels", "missing"):
            continue  # the page's other paragraphs give these
        else:
            star = "*, " if p.kind is p.KEYWORD_ONLY and not any("*" in s for s in shown) else ""
            default = "" if p.default is p.empty else "=" + (
                f'"{p.default}"' if isinstance(p.default, str) else repr(p.default))
            shown.append(f"{star}{name}{default}")
    text = " ".join((DOCS / "python.md").read_text(encoding="utf-8").split())
    assert f"`select({', '.join(shown)})`" in text
