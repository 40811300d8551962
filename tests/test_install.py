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
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv)
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q",
        "--no-deps", "--no-index", wheel)
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
