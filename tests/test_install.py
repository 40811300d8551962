"""An installed copy: the wheel carries the man pages to share/man/man1, where `man emgmm`
and `man emgmm-fit` find them in an activated virtual environment, and the emgmm script
runs.  The wheel is built without build isolation (setuptools and wheel are in the test
extra) and installed without dependencies into a virtual environment that sees this one's
packages, so that nothing is downloaded."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("wheel")


def run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=300, check=False, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    source = out / "source"  # a copy, so that the build leaves nothing in the checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "*.egg-info", "__pycache__", ".mypy_cache", ".pytest_cache"))
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
        "-w", out, source)
    (found,) = out.glob("emgmm-*.whl")
    return found


def installed(wheel: Path, venv: Path) -> Path:
    """venv, a new virtual environment that sees this one's packages, with the wheel."""
    run(sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv)
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q",
        "--no-deps", "--no-index", wheel)
    return venv


def test_the_wheel_puts_every_man_page_in_share_man_man1(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        record = next(n for n in names if n.endswith(".dist-info/RECORD"))
        listed = archive.read(record).decode()
    pages = sorted(p.name for p in (ROOT / "man").glob("*.1"))
    shipped = sorted(Path(n).name for n in names if "/data/share/man/man1/" in n)
    assert shipped == pages and "emgmm.1" in pages and "emgmm-fit.1" in pages
    for page in pages:
        assert f".data/data/share/man/man1/{page}," in listed


def test_man_finds_the_pages_in_an_activated_virtual_environment(wheel: Path,
                                                                 tmp_path: Path) -> None:
    venv = installed(wheel, tmp_path / "venv")
    for page in ("emgmm.1", "emgmm-fit.1"):
        assert (venv / "share" / "man" / "man1" / page).is_file()
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
           "VIRTUAL_ENV": str(venv)}
    env.pop("MANPATH", None)
    assert run(venv / "bin" / "emgmm", "--version", env=env).stdout.startswith("emgmm")
    if shutil.which("man") is None:
        pytest.skip("no man here to ask")
    for name in ("emgmm", "emgmm-fit"):
        where = run("man", "-w", name, env=env).stdout.strip()
        assert Path(where) == venv / "share" / "man" / "man1" / f"{name}.1"


#: A script that uses the Python API as docs/python.md does.
USER_SCRIPT = """\
import numpy as np
import emgmm_cli

x = np.random.default_rng(0).normal(size=(100, 2))
fit: emgmm_cli.Fitted = emgmm_cli.fit(x, 2, covariance_type="diag", seed=0,
                                      read=emgmm_cli.ReadOptions(columns=["0", "1"]))
labels: np.ndarray = emgmm_cli.predict(fit, x)
scores: emgmm_cli.Scores = emgmm_cli.score(fit, x)
points, components = emgmm_cli.sample(fit, 10, seed=1)
selected: emgmm_cli.Selected = emgmm_cli.select(x, range(1, 3), ["full"], seed=0)
model = emgmm_cli.load_model("model.json")
try:
    emgmm_cli.fit(x, 2, tol=-1.0)
except (emgmm_cli.InvalidParameter, emgmm_cli.DataError, emgmm_cli.UsageProblem,
        emgmm_cli.EngineError) as exc:
    print(exc, emgmm_cli.FitOptions(2).tol, scores.log_likelihood + fit.bic)
"""


def test_a_script_that_uses_the_installed_api_type_checks_strictly(wheel: Path,
                                                                    tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    venv = installed(wheel, tmp_path / "venv")
    (tmp_path / "use.py").write_text(USER_SCRIPT)
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental",
                           "--python-executable", str(venv / "bin" / "python"), "use.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
