"""Missing values in data over --memory-limit, read block by block (a .npy, or text through
its binary cache): --missing drop and --missing em give the in-memory results (to 1e-10,
same seed) in fit, select, predict and score; the cache keeps missing values as NaN; rows
with a missing value that alone are over the limit are a one-line error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import emgmm_cli
from emgmm_cli.app.requests import ReadOptions
from emgmm_cli.backends.blockfile import FileRows
from emgmm_cli.engine.missing import BlockMissingRows, row_missing
from emgmm_cli.io.cache import open_points
from emgmm_cli.io.readers import read_points
from conftest import invoke_in

#: Over the files' size (about 14 KB and 31 KB), over the rows with a missing value (4 KB).
LIMIT = "8K"
FIT = ("-k", "3", "--seed", "1")


@pytest.fixture(scope="module")
def holed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """d.npy and d.csv: 600 rows of three blobs in 3-D, 10% of the values missing (NA in
    the text); the rows with one are about a quarter."""
    folder = tmp_path_factory.mktemp("holed")
    rng = np.random.default_rng(7)
    centres = np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 3.0], [0.0, 6.0, -3.0]])
    x = centres[rng.integers(0, 3, 600)] + rng.normal(size=(600, 3))
    x[rng.random(x.shape) < 0.1] = np.nan
    np.save(folder / "d.npy", x)
    lines = ["a,b,c"] + [",".join("NA" if np.isnan(v) else repr(float(v)) for v in row)
                         for row in x]
    (folder / "d.csv").write_text("\n".join(lines) + "\n")
    return folder


def run(folder: Path, *args: str) -> Any:
    r = invoke_in(folder, *args)
    assert r.exit_code == 0, r.stderr
    return r


def fit_outputs(folder: Path, data: str, name: str, *extra: str) -> dict[str, Any]:
    """fit's model, labels and responsibilities for data with extra options."""
    run(folder, "fit", data, *FIT, *extra, "--model", f"{name}.json", "--labels",
        f"{name}-labels.csv", "--responsibilities", f"{name}-resp.csv")
    return {"model": json.loads((folder / f"{name}.json").read_text()),
            "labels": (folder / f"{name}-labels.csv").read_text(),
            "resp": np.genfromtxt(folder / f"{name}-resp.csv", delimiter=",", skip_header=1)}


def assert_close(a: Any, b: Any, where: str = "", rtol: float = 1e-10) -> None:
    """Documents a and b are the same: numbers to rtol (relative), the rest equal."""
    if isinstance(a, dict):
        assert set(a) == set(b), where
        for key in a:
            if key not in ("emgmm_version", "elapsed_seconds", "seconds"):
                assert_close(a[key], b[key], f"{where}/{key}", rtol)
    elif isinstance(a, list) and a and not isinstance(a[0], (str, dict)):
        np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                                   rtol=rtol, atol=rtol, err_msg=where)
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (u, v) in enumerate(zip(a, b)):
            assert_close(u, v, f"{where}[{i}]", rtol)
    elif isinstance(a, float):
        assert b == pytest.approx(a, rel=rtol, abs=rtol), where
    else:
        assert a == b, where


def same_fit(memory: dict[str, Any], disk: dict[str, Any], rtol: float = 1e-10) -> None:
    assert_close(memory["model"], disk["model"], rtol=rtol)
    assert memory["labels"] == disk["labels"]
    np.testing.assert_allclose(memory["resp"], disk["resp"], rtol=0, atol=rtol)


def incomplete(folder: Path) -> np.ndarray:
    return np.isnan(np.load(folder / "d.npy")).any(axis=1)


#: VVE's M-step is iterative and stops at a tolerance, so a change in the last bits of the
#: statistics (sums grouped by block, not at once) moves it further: the rows of this data
#: merely permuted in memory move VVE's covariances by 2e-9 (the other families by 1e-15),
#: EM out of core by 1e-7, its responsibilities by 2e-7.
RTOL = {"VVE": 1e-5}


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied", "EEV",
                                             "VVE"])
@pytest.mark.parametrize("policy", ["drop", "em"])
def test_npy_over_the_limit_gives_the_in_memory_fit(holed: Path, policy: str,
                                                   covariance_type: str) -> None:
    extra = ("--missing", policy, "--covariance-type", covariance_type)
    memory = fit_outputs(holed, "d.npy", f"m-{policy}-{covariance_type}", *extra)
    disk = fit_outputs(holed, "d.npy", f"b-{policy}-{covariance_type}", *extra,
                       "--memory-limit", LIMIT)
    same_fit(memory, disk, RTOL.get(covariance_type, 1e-10))
    labels = np.array(disk["labels"].split(), dtype=int)
    if policy == "drop":  # the rows with a missing value have no label, nor responsibilities
        np.testing.assert_array_equal(labels == -1, incomplete(holed))
        np.testing.assert_array_equal(np.isnan(disk["resp"]).all(axis=1), incomplete(holed))
        assert disk["model"]["n_dropped"] == int(incomplete(holed).sum())
    else:
        assert (labels >= 0).all() and not np.isnan(disk["resp"]).any()


@pytest.mark.parametrize("policy", ["drop", "em"])
def test_text_over_the_limit_goes_through_the_cache(holed: Path, policy: str) -> None:
    memory = fit_outputs(holed, "d.csv", f"tm-{policy}", "--missing", policy)
    disk = fit_outputs(holed, "d.csv", f"tb-{policy}", "--missing", policy, "--memory-limit",
                       LIMIT, "--cache-dir", "cache")
    same_fit(memory, disk)
    assert list((holed / "cache").glob("*.npy"))


def test_the_cache_keeps_missing_values_as_nan(holed: Path, tmp_path: Path) -> None:
    text = tmp_path / "t.csv"
    text.write_text("a,b\n" + "1,2\nNA,3\n,4\n5,NaN\n6,nan\n7,8\n" * 40)
    cached = open_points(str(text), memory_limit=16, cache_dir=str(tmp_path / "c"),
                         missing=True)
    assert not isinstance(cached.x, np.ndarray)
    values = cached.x.read(0, cached.x.shape[0])
    np.testing.assert_array_equal(values, read_points(str(text), missing=True).x)
    assert int(np.isnan(values).sum()) == 4 * 40
    # a cache with missing values is not the one read without them: the error is located
    r = invoke_in(tmp_path, "fit", "t.csv", "-k", "1", "--memory-limit", "16",
                  "--cache-dir", "c")
    assert r.exit_code == 1
    assert r.stderr.startswith("Error: t.csv:3: column 'a': missing value 'NA'")


def test_api_fit_reads_block_by_block(holed: Path) -> None:
    read = ReadOptions(memory_limit=8000)
    for policy in ("drop", "em"):
        memory = emgmm_cli.fit(str(holed / "d.npy"), 3, missing=policy, seed=1)
        disk = emgmm_cli.fit(str(holed / "d.npy"), 3, missing=policy, seed=1, read=read)
        np.testing.assert_allclose(disk.means, memory.means, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(disk.covariances, memory.covariances, rtol=1e-10,
                                   atol=1e-10)
        np.testing.assert_array_equal(disk.labels, memory.labels)
        assert disk.log_likelihood == pytest.approx(memory.log_likelihood, rel=1e-12)
        found = row_missing(disk.data)
        if policy == "em":  # the rows with one held, the others read from the file
            assert isinstance(found, BlockMissingRows)
            assert found.n_incomplete == int(incomplete(holed).sum())
            assert isinstance(found.raw.npy, FileRows)  # type: ignore[attr-defined]
        else:
            assert found is None and isinstance(disk.data.rows.npy,  # type: ignore[attr-defined]
                                                FileRows)


@pytest.mark.parametrize("policy", ["drop", "em"])
def test_select_over_the_limit(holed: Path, policy: str) -> None:
    grid = ("-k", "1-3", "--covariance-type", "full,diag", "--seed", "2", "--missing", policy,
            "--json")
    memory = json.loads(run(holed, "select", "d.npy", *grid).stdout)
    disk = json.loads(run(holed, "select", "d.npy", *grid, "--memory-limit", LIMIT).stdout)
    assert_close(memory, disk)
    jobs = json.loads(run(holed, "select", "d.npy", *grid, "--memory-limit", LIMIT,
                          "--jobs", "2").stdout)
    assert_close(memory, jobs)


@pytest.mark.parametrize("policy", ["drop", "em"])
def test_predict_and_score_over_the_limit(holed: Path, policy: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """predict and score (the Python API: the command line reads their data with the
    default limit) read the file block by block and give the in-memory answers."""
    reads = []
    plain = FileRows.read

    def counted(self: FileRows, start: int, stop: int) -> np.ndarray:
        reads.append((start, stop))
        return plain(self, start, stop)

    monkeypatch.setattr(FileRows, "read", counted)
    run(holed, "fit", "d.npy", *FIT, "--missing", policy, "--model", f"p-{policy}.json")
    model = str(holed / f"p-{policy}.json")
    read = ReadOptions(memory_limit=8000, cache_dir=str(holed / "pc"))
    for data in ("d.npy", "d.csv"):
        path = str(holed / data)
        memory = emgmm_cli.predict(model, path, proba=True, missing=policy)
        disk = emgmm_cli.predict(model, path, proba=True, missing=policy, read=read)
        np.testing.assert_allclose(disk, memory, rtol=0, atol=1e-10)
        np.testing.assert_array_equal(np.isnan(disk), np.isnan(memory))
        assert reads  # the file was read block by block
        reads.clear()
        assert np.isnan(memory).any(axis=1).sum() == (incomplete(holed).sum()
                                                      if policy == "drop" else 0)
        scored = [emgmm_cli.score(model, path, missing=policy, read=r) for r in (None, read)]
        np.testing.assert_allclose(scored[1].log_density, scored[0].log_density, rtol=1e-10)
        assert scored[1].log_likelihood == pytest.approx(scored[0].log_likelihood, rel=1e-10)
        assert scored[1].mean_log_likelihood == pytest.approx(scored[0].mean_log_likelihood,
                                                              rel=1e-10)


def test_rows_with_missing_values_over_the_limit_are_an_error(holed: Path) -> None:
    r = invoke_in(holed, "fit", "d.npy", *FIT, "--missing", "em", "--memory-limit", "2K")
    assert r.exit_code == 1
    assert r.stderr.strip() == ("Error: d.npy: the rows with a missing value alone take more "
                                "than the memory limit (2.0 KiB); raise --memory-limit, or "
                                "use --missing drop")
    # drop holds none of them: the same limit fits
    run(holed, "fit", "d.npy", *FIT, "--missing", "drop", "--memory-limit", "2K")


def test_a_real_process(holed: Path) -> None:
    memory = fit_outputs(holed, "d.csv", "sub-memory", "--missing", "em")
    proc = subprocess.run(
        [sys.executable, "-m", "emgmm_cli", "fit", "d.csv", *FIT, "--missing", "em",
         "--memory-limit", LIMIT, "--cache-dir", "subcache", "--model", "sub.json",
         "--labels", "sub-labels.csv"],
        cwd=holed, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert_close(memory["model"], json.loads((holed / "sub.json").read_text()))
    assert (holed / "sub-labels.csv").read_text() == memory["labels"]


@pytest.mark.parametrize("policy", ["drop", "em"])
def test_batch_over_the_limit(holed: Path, policy: str) -> None:
    text = holed / "e.csv"  # batch names its outputs by the file's stem
    text.write_text((holed / "d.csv").read_text())

    def summary(folder: str, *extra: str) -> list[dict[str, str]]:
        run(holed, "batch", "d.npy", "e.csv", "-k", "3", "--seed", "1", "--missing", policy,
            "--output-dir", folder, *extra)
        lines = (holed / folder / "summary.csv").read_text().splitlines()
        head = lines[0].split(",")
        return [{k: v for k, v in zip(head, line.split(",")) if k != "seconds"}
                for line in lines[1:]]

    memory = summary(f"bm-{policy}")
    disk = summary(f"bd-{policy}", "--memory-limit", LIMIT, "--cache-dir", "bc")
    assert len(memory) == 2 and all(row["status"] == "ok" for row in disk)
    for a, b in zip(memory, disk):
        for key in a:  # printed to 10 significant digits at most
            assert a[key] == b[key], key
    rows = 600 - int(incomplete(holed).sum()) if policy == "drop" else 600
    assert [int(row["rows"]) for row in disk] == [rows, rows]


def test_columns_never_observed_together_are_named_out_of_core(tmp_path: Path) -> None:
    """The warning of two columns never observed in one row (tests/test_missing.py) for
    rows read block by block: a .npy over the limit whose rows with a missing value
    (every row, in the columns fitted) are not."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3))
    x[:50, 1] = np.nan
    x[50:, 0] = np.nan
    np.save(tmp_path / "merged.npy", np.column_stack([x, np.zeros((100, 20))]))  # 18 KB
    args = ["fit", "merged.npy", "--columns", "0,1,2", "-k", "2", "--seed", "0",
            "--missing", "em", "-o", "labels.csv"]
    local, blocks = run(tmp_path, *args), run(tmp_path, *args, "--memory-limit", LIMIT)
    assert "over the memory limit" in run(tmp_path, *args, "--memory-limit", LIMIT,
                                          "--debug").stderr
    assert "columns '0' and '1' hold values but never in the same row" in local.stderr
    assert blocks.stderr == local.stderr
