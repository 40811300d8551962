"""The documentation cannot drift from the code.

- docs/cli.md, docs/model-file.md and the generated blocks of the hand-written pages
  (README.md, docs/*.md, benchmarks/README.md) are what scripts/make_docs.py renders now;
  run `python scripts/make_docs.py` after changing a command, a table or the engine.
- Each figure a hand-written page quotes from a constant of the code or the tests is found
  in the page as the constant says it (quotes()).
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner

REPO_ROOT = Path(__file__).resolve().parent.parent


def load_script(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


md = load_script("make_docs")


def page_id(page: Path) -> str:
    return str(page.relative_to(REPO_ROOT))


# --- generated pages and blocks ---------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered() -> dict[Path, str]:
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
    from emgmm_cli.engine.options import OPTION_SPECS
    from emgmm_cli.io.model import MODEL_FIELDS, OPTIONS_EXTRA

    document = emgmm_cli.fit(str(REPO_ROOT / "sample_data" / "faithful.csv"), 2, seed=0).document
    assert list(document) == [f.name for f in MODEL_FIELDS]
    assert list(document["options"]) == [*OPTION_SPECS, *(f.name for f in OPTIONS_EXTRA)]
    events = next(f.description for f in MODEL_FIELDS if f.name == "events")
    for key in FitEvent("kind", "message").to_dict():
        assert key in events, key


# --- figures quoted from the code and the tests ---------------------------------------------


def constant_of(test_file: str, name: str) -> Any:
    """A module-level constant of a test file, read without importing the test."""
    tree = ast.parse((REPO_ROOT / "tests" / test_file).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise LookupError(f"{name} in tests/{test_file}")


def quotes() -> list[tuple[str, str]]:
    """(page, text the page must hold): figures the hand-written pages quote."""
    from emgmm_cli.engine.em import COLLAPSE_MASS, DEGENERATE_RATIO
    from emgmm_cli.engine.hc import HC_ALPHA, HC_BETA, HC_MAX_ROWS
    from emgmm_cli.engine.init import SEED_SAMPLE_ROWS
    from emgmm_cli.engine.options import FIT_DEFAULTS, SELECT_DEFAULTS, FitOptions

    n = md.docfacts.number
    parity = n(constant_of("test_engine_parity.py", "PARITY_RTOL"))
    dims = ", ".join(map(str, constant_of("test_engine_parity.py", "DIMENSIONS")))
    fit, sel = FIT_DEFAULTS, SELECT_DEFAULTS
    reg = n(FitOptions(1).reg_covar)
    return [
        ("docs/numerics.md", f"to a relative {parity} (its `PARITY_RTOL`)"),
        ("docs/numerics.md", f"in D = {dims},"),
        ("docs/numerics.md", "by more than a relative "
                             f"{n(constant_of('test_engine_parity.py', 'CHUNKING_RTOL'))}"),
        ("docs/numerics.md", f"tol {n(fit['tol'])}, max-iter {fit['max_iter']}, reg-covar {reg}, "
                             f"one restart, k-means start"),
        ("docs/numerics.md", f"default to tol {n(sel['tol'])} and max-iter {sel['max_iter']}"),
        ("docs/numerics.md", f"below {n(DEGENERATE_RATIO)} times the smallest non-zero column "
                             "variance"),
        ("docs/numerics.md", f"falls below {n(COLLAPSE_MASS)} of one point"),
        ("docs/numerics.md", f"above {SEED_SAMPLE_ROWS:,} rows"),
        ("docs/numerics.md", f"mclust's alpha = beta = {n(HC_ALPHA)}" if HC_ALPHA == HC_BETA
         else f"mclust's alpha = {n(HC_ALPHA)}, beta = {n(HC_BETA)}"),
        ("docs/numerics.md", f"at most {HC_MAX_ROWS} rows"),
        ("docs/numerics.md", f"subsample of {HC_MAX_ROWS} rows"),
        ("docs/numerics.md", f"restarts ({sel['n_init']} by default)"),
    ]


@pytest.mark.parametrize(("page", "text"), quotes())
def test_quoted_figures_are_the_codes(page: str, text: str) -> None:
    body = re.sub(r"\s+", " ", (REPO_ROOT / page).read_text(encoding="utf-8"))
    assert text in body, f"{page} should say {text!r}"
