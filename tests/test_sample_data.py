"""sample_data/ is exactly what scripts/make_sample_data.py writes, and holds what it says."""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = REPO_ROOT / "scripts" / "make_sample_data.py"
SAMPLE_DATA = REPO_ROOT / "sample_data"
FILES = ("blobs4.csv", "blobs4.labels.csv", "heights.csv", "heights.labels.csv", "faithful.csv",
         "README.md")


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_sample_data", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample_data")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out-dir", str(out)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize("name", FILES)
def test_committed_files_are_byte_identical_to_regenerated(regenerated: Path, name: str) -> None:
    committed = SAMPLE_DATA / name
    assert committed.exists(), f"{committed} is missing; run python scripts/make_sample_data.py"
    assert (regenerated / name).read_bytes() == committed.read_bytes(), (
        f"{committed} is stale; run python scripts/make_sample_data.py"
    )


def test_no_unexpected_files(regenerated: Path) -> None:
    assert sorted(p.name for p in regenerated.iterdir()) == sorted(FILES)


def test_render_files_in_process_matches() -> None:
    script = load_script()
    files = script.render_files(SAMPLE_DATA / "faithful.csv")
    assert set(files) == set(FILES)
    for name, content in files.items():
        assert content == (SAMPLE_DATA / name).read_bytes(), name


def test_blobs4_rows_and_labels() -> None:
    header, rows = read_rows(SAMPLE_DATA / "blobs4.csv")
    assert header == ["x", "y"]
    labels = np.loadtxt(SAMPLE_DATA / "blobs4.labels.csv", dtype=int)
    np.testing.assert_array_equal(labels, np.repeat(np.arange(4), [80, 60, 70, 140]))
    x = np.array([[float(r[0]), float(r[1])] for r in rows])
    centers = np.array([[1.0, 1.0], [5.0, 5.0], [6.0, 1.0], [2.0, 8.0]])
    for j in range(4):
        # std 1 and >= 60 points: the sample mean is within 0.6 of the centre
        np.testing.assert_allclose(x[labels == j].mean(axis=0), centers[j], atol=0.6)


def test_heights_rows_and_labels() -> None:
    header, rows = read_rows(SAMPLE_DATA / "heights.csv")
    assert header == ["height"]
    labels = np.loadtxt(SAMPLE_DATA / "heights.labels.csv", dtype=int)
    np.testing.assert_array_equal(labels, [0] * 300 + [1] * 300)
    h = np.array([float(r[0]) for r in rows])
    assert abs(h[labels == 0].mean() - 1.76) < 0.03
    assert abs(h[labels == 1].mean() - 1.55) < 0.03
    assert 0.08 < h[labels == 0].std() < 0.12


def test_faithful_rows() -> None:
    header, rows = read_rows(SAMPLE_DATA / "faithful.csv")
    assert header == ["eruptions", "waiting"]
    assert len(rows) == 272
    assert rows[0] == ["3.6", "79"] and rows[-1] == ["4.467", "74"]
    data = np.array(rows, dtype=float)
    assert data[:, 0].min() == 1.6 and data[:, 0].max() == 5.1
    assert data[:, 1].min() == 43 and data[:, 1].max() == 96
    assert b'"' not in (SAMPLE_DATA / "faithful.csv").read_bytes()


def test_normalise_faithful_accepts_r_exports() -> None:
    script = load_script()
    body = "".join(f"{1 + i / 1000:g},{50 + i % 40}\n" for i in range(272))
    quoted = '"eruptions","waiting"\n' + body
    with_rownames = '"","eruptions","waiting"\n' + "".join(
        f'"{i + 1}",{line}\n' for i, line in enumerate(body.splitlines())
    )
    expected = ("eruptions,waiting\n" + body).encode()
    assert script.normalise_faithful(quoted) == expected
    assert script.normalise_faithful(with_rownames) == expected
    assert script.normalise_faithful(expected.decode()) == expected
    with pytest.raises(ValueError, match="272 rows"):
        script.normalise_faithful(quoted + "1,2\n")
    with pytest.raises(ValueError, match="not a number"):
        script.normalise_faithful(quoted.replace("1,50", "x,50", 1))
