"""Data larger than memory, --dtype, and outputs streamed block by block.

- a CSV over --memory-limit goes through a binary cache and gives the in-memory fit's
  labels and model exactly; the cache is reused while the CSV is unchanged and replaced
  when it changes; errors in a late chunk name the line the in-memory reader names;
- a .npy over the limit is read block by block (no copy of N rows anywhere in the fit,
  checked by counting the rows every read asks for) and gives the in-memory results;
- float32 data: the same labels as float64 on separated data, parameters within 1e-4,
  and scikit-learn's trajectory on the float32-rounded data within 1e-4;
- the streaming table writer writes what write_table writes, byte for byte.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sys
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from emgmm_cli.backends import open_dataset
from emgmm_cli.backends.blockfile import BlockFileDataset
from emgmm_cli.backends.local import ArrayDataset, block_rows
from emgmm_cli.app.fitting import final_pass, stream_predictions
from emgmm_cli.cli.main import cli
from emgmm_cli.app.requests import parse_size
from emgmm_cli.engine import FitOptions, MixtureParams, fit, run_em
from emgmm_cli.engine.init import SEED_SAMPLE_ROWS
from emgmm_cli.io import DataError, NpyFile, OutputSet, read_points
from emgmm_cli.io.cache import (
    cache_file,
    default_memory_limit,
    open_npy_blocks,
    open_points,
    physical_memory,
)
from emgmm_cli.io.writers import stream_table, write_table

ROOT = Path(__file__).resolve().parent.parent
BLOBS = ROOT / "sample_data" / "blobs4.csv"
FIT = ("-k", "4", "--seed", "0")


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, env={"EMGMM_FORCE_TTY": "0"})


def ok(*args: str) -> Result:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result


def fit_files(folder: Path, data: Path, *extra: str, name: str = "run") -> dict[str, Any]:
    """Fit data with FIT and extra options; the labels, responsibilities and model."""
    out = folder / name
    out.mkdir()
    result = ok("fit", str(data), *FIT, *extra, "--labels", str(out / "labels.csv"),
                "--responsibilities", str(out / "resp.csv"), "--model", str(out / "model.json"))
    doc = json.loads((out / "model.json").read_text())
    return {"labels": (out / "labels.csv").read_text(), "resp": (out / "resp.csv").read_text(),
            "model": doc, "stderr": result.stderr}


def same_model(a: dict[str, Any], b: dict[str, Any], *, except_keys: tuple[str, ...] = ()) -> None:
    keys = set(a) | set(b)
    for key in sorted(keys - {"emgmm_version", *except_keys}):
        if key == "options":
            assert {k: v for k, v in a[key].items() if k != "seed"} == \
                {k: v for k, v in b[key].items() if k != "seed"}
        else:
            assert a[key] == b[key], key


@pytest.fixture()
def blobs_copy(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "blobs4.csv"
    path.parent.mkdir()
    shutil.copyfile(BLOBS, path)
    return path


# --- sizes and limits ----------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("1024", 1024), ("1K", 1024), ("512M", 512 << 20), ("2G", 2 << 30), ("1.5G", 3 << 29),
    ("2GB", 2 << 30), ("2GiB", 2 << 30), ("512m", 512 << 20), ("1T", 1 << 40),
])
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "0", "-1K", "K", "1X", "nan"])
def test_parse_size_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


def test_bad_memory_limit_is_a_usage_error() -> None:
    result = invoke("fit", str(BLOBS), "-k", "2", "--memory-limit", "lots")
    assert result.exit_code == 2
    assert "not a size" in result.output


def test_default_memory_limit_is_a_quarter_of_memory() -> None:
    total = physical_memory()
    assert total is None or default_memory_limit() == total // 4
    assert default_memory_limit() > 0


@pytest.mark.parametrize("v1", [False, True])
def test_the_memory_limit_is_the_least_over_this_process_cgroup(tmp_path: Path, v1: bool
                                                                ) -> None:
    """Only the limit at the root of the cgroup mount was read: a limit set on the
    process's own group (or one between), as /proc/self/cgroup names it, was missed, and
    the default --memory-limit was a quarter of the machine's memory.  Read from a
    hierarchy laid out as the kernel lays it out."""
    from emgmm_cli.io.cache import _cgroup_limit

    proc = tmp_path / "cgroup"
    if v1:
        proc.write_text("5:devices:/\n4:memory:/jobs/one\n0::/\n")
        files = tmp_path / "memory"
        name, unlimited = "memory.limit_in_bytes", "9223372036854771712"
    else:
        proc.write_text("0::/jobs/one\n")
        files, name, unlimited = tmp_path, "memory.max", "max"
    (files / "jobs" / "one").mkdir(parents=True)
    (files / name).write_text(unlimited + "\n")
    (files / "jobs" / name).write_text("8589934592\n")
    (files / "jobs" / "one" / name).write_text(unlimited + "\n")
    assert _cgroup_limit(str(proc), str(tmp_path)) == 8 << 30
    (files / "jobs" / "one" / name).write_text("2147483648\n")
    assert _cgroup_limit(str(proc), str(tmp_path)) == 2 << 30
    proc.write_text("0::/../outside\n4:memory:/../outside\n")  # beyond this namespace's view
    assert _cgroup_limit(str(proc), str(tmp_path)) is None
    assert _cgroup_limit(str(tmp_path / "none"), str(tmp_path)) is None


# --- CSV through the binary cache ----------------------------------------------------------


@pytest.mark.parametrize("covariance_type", ["full", "diag", "EII", "VEI", "EVE", "VEV"])
def test_csv_over_the_limit_gives_the_in_memory_fit(tmp_path: Path, covariance_type: str) -> None:
    cache = tmp_path / "cache"
    common = ("-c", covariance_type)
    mem = fit_files(tmp_path, BLOBS, *common, name="mem")
    ooc = fit_files(tmp_path, BLOBS, *common, "--memory-limit", "1K", "--cache-dir", str(cache),
                    name="ooc")
    assert ooc["labels"] == mem["labels"]
    assert ooc["resp"] == mem["resp"]
    same_model(ooc["model"], mem["model"])
    assert len(list(cache.glob("*.npy"))) == 1


def test_cache_is_reused_then_replaced_when_the_csv_changes(tmp_path: Path,
                                                            blobs_copy: Path) -> None:
    cache = tmp_path / "cache"
    args = ("fit", str(blobs_copy), *FIT, "--memory-limit", "1K",
            "--cache-dir", str(cache), "--debug")
    first = ok(*args)
    assert "converting it once to the binary cache" in first.stderr
    (made,) = cache.glob("*.npy")
    stamp = made.stat().st_mtime_ns, made.stat().st_ino
    second = ok(*args)
    assert "reusing the binary cache" in second.stderr
    assert second.stdout == first.stdout
    assert (made.stat().st_mtime_ns, made.stat().st_ino) == stamp

    # other reading options get their own cache, beside the first
    ok("fit", str(blobs_copy), *FIT, "--columns", "y,x", "--memory-limit", "1K",
       "--cache-dir", str(cache))
    assert len(list(cache.glob("*.npy"))) == 2

    # a changed file (one more row): a new cache, the stale ones removed, the new data fitted
    with open(blobs_copy, "a", encoding="utf-8") as fh:
        fh.write("100.5,100.5\n")
    third = ok(*args)
    assert "converting it once" in third.stderr
    (remade,) = cache.glob("*.npy")
    assert remade != made and not made.exists()
    assert len(third.stdout.splitlines()) == len(first.stdout.splitlines()) + 1
    expected = ok("fit", str(blobs_copy), *FIT).stdout
    assert third.stdout == expected


def test_a_file_rewritten_in_place_with_its_old_times_is_converted_again(
        tmp_path: Path, blobs_copy: Path) -> None:
    """Same size, same inode, the modification time put back (touch -r, cp -p or rsync -t
    --inplace over it): the status-change time tells the rewrite; the old cache was read,
    and the old data fitted, exit 0."""
    cache = tmp_path / "cache"
    args = ("fit", str(blobs_copy), *FIT, "--memory-limit", "1K", "--cache-dir", str(cache))
    before = ok(*args).stdout
    st = blobs_copy.stat()
    lines = blobs_copy.read_text(encoding="utf-8").splitlines(keepends=True)
    with open(blobs_copy, "r+", encoding="utf-8") as fh:  # in place: the same inode
        fh.write("".join([lines[0], *reversed(lines[1:])]))  # the rows in reverse order
    os.utime(blobs_copy, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = blobs_copy.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        st.st_size, st.st_mtime_ns, st.st_ino)
    again = ok(*args).stdout
    assert again == ok("fit", str(blobs_copy), *FIT).stdout != before


def cache_path(folder: Path, data: Path, *, columns: list[str], delimiter: str | None = None,
               dtype: Any = np.float64) -> str:
    """The cache file open_points would use for data with these options."""
    return cache_file(str(folder), str(data), os.stat(data), columns=columns,
                      delimiter=delimiter, header=None, dtype=dtype)[0]


def test_cache_key_follows_options_and_file_version(tmp_path: Path, blobs_copy: Path) -> None:
    a = cache_path(tmp_path, blobs_copy, columns=["x"])
    assert a == cache_path(tmp_path, blobs_copy, columns=["x"])
    assert a != cache_path(tmp_path, blobs_copy, columns=["y"])
    assert a != cache_path(tmp_path, blobs_copy, columns=["x"], dtype=np.float32)
    assert a != cache_path(tmp_path, blobs_copy, columns=["x"], delimiter=";")
    st = blobs_copy.stat()
    os.utime(blobs_copy, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert a != cache_path(tmp_path, blobs_copy, columns=["x"])
    # the cache a run makes is the file named here
    path = cache_path(tmp_path / "c", blobs_copy, columns=["x"])
    open_points(str(blobs_copy), columns=["x"], memory_limit=16, cache_dir=str(tmp_path / "c"))
    assert os.path.exists(path)


@pytest.mark.parametrize("text, columns", [
    ("a,b\n" + "1,2\n" * 100 + "3,x\n" + "1,2\n" * 5, None),        # non-numeric, late chunk
    ("a,b\n" + "1,2\n" * 100 + "3\n", None),                           # ragged row
    ("a,b,c\n" + "1,2,3\n" * 70 + "1,2\n", ["a", "c"]),               # ragged, usecols
    ("a,b\n" + "1,2\n" * 80 + "nan,2\n", None),                        # non-finite
    ("a,b\n" + "1,2\n" * 80 + "1e39,2\n", None),                       # out of float32 range
    ("a,b\n", None),                                                   # header only
])
def test_errors_in_a_late_chunk_are_the_in_memory_errors(tmp_path: Path, text: str,
                                                         columns: list[str] | None) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    dtype = np.float32 if "1e39" in text else np.float64
    with pytest.raises(DataError) as mem:
        read_points(str(path), columns=columns, dtype=dtype)
    with pytest.raises(DataError) as ooc:
        open_points(str(path), columns=columns, dtype=dtype, memory_limit=16,
                    cache_dir=str(tmp_path / "cache"))
    # (the in-memory reader shows an out-of-range value only when its slow path read it)
    assert re.sub(r"value \S+ is", "value is", str(ooc.value)) == \
        re.sub(r"value \S+ is", "value is", str(mem.value))
    assert (ooc.value.line, ooc.value.column) == (mem.value.line, mem.value.column)
    assert not list((tmp_path / "cache").glob("*.npy")) if (tmp_path / "cache").exists() else True


@pytest.mark.parametrize("text, options", [
    ("# comment\nx y\n1 2\n\n3 4 # trailing\n" * 1 + "5 6\n" * 40, {}),   # whitespace, sniffed
    ("x;y;z\n" + "1;2;3\n" * 50, {"delimiter": ";", "columns": ["z", "x"]}),
    ("1,2\n3,4\n" * 30, {"header": False}),
    ("\"x\",\"y\"\n" + "\"1\",2\n" * 30, {}),                              # quoted
    ("x,y\nr1,1,2\n" + "r2,3,4\n" * 30, {}),                              # R row names
])
def test_cached_text_reads_as_read_points(tmp_path: Path, text: str,
                                          options: dict[str, Any]) -> None:
    path = tmp_path / "data.txt"
    path.write_text(text)
    mem = read_points(str(path), **options)
    ooc = open_points(str(path), memory_limit=16, cache_dir=str(tmp_path / "c"), **options)
    assert isinstance(ooc.x, NpyFile)
    assert ooc.column_names == mem.column_names and ooc.source == mem.source
    np.testing.assert_array_equal(ooc.x.read(0, ooc.n_samples), mem.x)


# --- .npy by blocks ------------------------------------------------------------------------


def blobs_xy() -> np.ndarray:
    return np.loadtxt(BLOBS, delimiter=",", skiprows=1)


def test_npy_over_the_limit_gives_the_in_memory_fit(tmp_path: Path) -> None:
    xyl = blobs_xy()
    np.save(tmp_path / "xy.npy", xyl[:, :2])
    np.save(tmp_path / "xyl.npy", xyl)
    np.save(tmp_path / "xy32.npy", xyl[:, :2].astype(np.float32))
    mem = fit_files(tmp_path, BLOBS, name="mem")
    blk = fit_files(tmp_path, tmp_path / "xy.npy", "--memory-limit", "1K", name="blk")
    sel = fit_files(tmp_path, tmp_path / "xyl.npy", "--columns", "0,1", "--memory-limit", "1K",
                    name="sel")
    for run in (blk, sel):
        assert run["labels"] == mem["labels"]
        assert run["resp"] == mem["resp"]
        same_model(run["model"], mem["model"],  # of other files
                   except_keys=("source", "source_size", "source_file", "feature_names"))
    # float32 on disk, float64 asked for: converted block by block, as np.load would
    mem32 = fit_files(tmp_path, tmp_path / "xy32.npy", name="mem32")
    blk32 = fit_files(tmp_path, tmp_path / "xy32.npy", "--memory-limit", "1K", name="blk32")
    assert blk32["labels"] == mem32["labels"]
    same_model(blk32["model"], mem32["model"])


def test_standardized_float32_over_the_limit_gives_the_in_memory_fit(tmp_path: Path) -> None:
    # a float64 .npy read as float32 is rounded to float32 before it is standardized, in
    # memory and block by block alike
    np.save(tmp_path / "xy.npy", blobs_xy()[:, :2])
    opts = ("--dtype", "float32", "--standardize")
    mem = fit_files(tmp_path, tmp_path / "xy.npy", *opts, name="mem")
    blk = fit_files(tmp_path, tmp_path / "xy.npy", *opts, "--memory-limit", "1K", name="blk")
    assert blk["resp"] == mem["resp"]
    same_model(blk["model"], mem["model"])


def test_float32_weights_column_over_the_limit_gives_the_in_memory_fit(tmp_path: Path) -> None:
    # the weights column is read in float32 as the features are, block by block too
    xy = blobs_xy()[:, :2]
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(xy))
    np.save(tmp_path / "xyw.npy", np.column_stack([xy, w]))
    opts = ("--dtype", "float32", "--weights-column", "2")
    mem = fit_files(tmp_path, tmp_path / "xyw.npy", *opts, name="mem")
    blk = fit_files(tmp_path, tmp_path / "xyw.npy", *opts, "--memory-limit", "1K", name="blk")
    assert blk["resp"] == mem["resp"]
    same_model(blk["model"], mem["model"])


def test_npy_non_finite_value_is_the_in_memory_error(tmp_path: Path) -> None:
    x = np.ones((5000, 3))
    x[4321, 2] = np.inf
    np.save(tmp_path / "bad.npy", x)
    with pytest.raises(DataError) as mem:
        read_points(str(tmp_path / "bad.npy"), columns=["2", "0"])
    with pytest.raises(DataError) as blk:
        open_points(str(tmp_path / "bad.npy"), columns=["2", "0"], memory_limit=1)
    assert str(blk.value) == str(mem.value)
    assert "row 4322" in str(blk.value)
    # a column without the bad value reads
    assert open_points(str(tmp_path / "bad.npy"), columns=["0", "1"], memory_limit=1).n_samples \
        == 5000


def test_npy_value_out_of_float32_range_is_named_as_text_names_it(tmp_path: Path) -> None:
    x = np.ones((50, 2))
    x[7, 1] = 1e39
    np.save(tmp_path / "big.npy", x)
    for limit in (None, 1):
        with pytest.raises(DataError) as err:
            open_points(str(tmp_path / "big.npy"), dtype=np.float32, memory_limit=limit)
        assert err.value.message == "value 1e+39 in row 8 (index 7) is out of range for float32"


def test_block_file_dataset(tmp_path: Path) -> None:
    x = np.arange(3000 * 4, dtype=np.float32).reshape(3000, 4)
    np.save(tmp_path / "x.npy", x)
    pts = open_npy_blocks(str(tmp_path / "x.npy"), columns=["3", "1"], dtype=np.float64)
    assert pts is not None
    npy = pts.x
    assert isinstance(npy, NpyFile)
    ref = x[:, [3, 1]].astype(np.float64)
    assert npy.shape == ref.shape and npy.dtype == np.float64
    np.testing.assert_array_equal(npy.read(10, 1234), ref[10:1234])
    np.testing.assert_array_equal(npy.read(2990, 5000), ref[2990:])
    block = npy.read(0, 10)
    assert block.flags.c_contiguous and block.flags.writeable
    ds = open_dataset(npy, n_components=2, n_threads=2)
    assert isinstance(ds, BlockFileDataset)
    assert (ds.n_samples, ds.n_features, ds.dtype) == (3000, 2, np.float64)
    rows = np.array([5, 2999, 0, 6, 7, 5, 100])
    np.testing.assert_array_equal(ds.take(rows), ref[rows])
    small = BlockFileDataset(npy, block_rows=256, n_threads=2)
    assert small.reduce(lambda b: b.sum(axis=0)).tolist() == \
        ArrayDataset(ref, block_rows=256, n_threads=2).reduce(lambda b: b.sum(axis=0)).tolist()
    assert [s for s, _ in small.scan(lambda b, s: None)] == \
        [s for s, _ in ArrayDataset(ref, block_rows=256).scan(lambda b, s: None)]


def test_npy_file_pickles_small_and_reads_in_a_copy(tmp_path: Path) -> None:
    import pickle

    x = np.random.default_rng(0).normal(size=(50_000, 3))
    np.save(tmp_path / "x.npy", x)
    pts = open_npy_blocks(str(tmp_path / "x.npy"), columns=["2", "0"])
    assert pts is not None and isinstance(pts.x, NpyFile)
    blob = pickle.dumps(pts.x)
    assert len(blob) < 1000
    copy = pickle.loads(blob)
    assert copy == pts.x
    np.testing.assert_array_equal(copy.read(100, 200), x[100:200][:, [2, 0]])
    pts.x.close()  # the copy has its own descriptor
    np.testing.assert_array_equal(copy.take_sorted(np.array([0, 0, 7, 49_999])),
                                  x[[0, 0, 7, 49_999]][:, [2, 0]])


class ReadCounter:
    """Counts the rows each NpyFile read asks for (to prove nothing reads all N)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sizes: list[int] = []
        original = NpyFile.read_raw

        def read_raw(npy: NpyFile, start: int, stop: int) -> np.ndarray:
            self.sizes.append(stop - start)
            return original(npy, start, stop)

        monkeypatch.setattr(NpyFile, "read_raw", read_raw)


@pytest.mark.parametrize("init", ["kmeans", "k-means++", "random", "random-from-data"])
def test_fit_on_blocks_never_reads_all_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            init: str) -> None:
    rng = np.random.default_rng(3)
    n = SEED_SAMPLE_ROWS + 20_000
    x = np.concatenate([rng.normal(size=(n // 2, 2)), rng.normal(size=(n - n // 2, 2)) + 6])
    np.save(tmp_path / "x.npy", x)
    pts = open_npy_blocks(str(tmp_path / "x.npy"))
    assert pts is not None
    counter = ReadCounter(monkeypatch)
    rows = block_rows(2, 2)
    assert isinstance(pts.x, NpyFile)
    data = BlockFileDataset(pts.x, block_rows=rows)
    result = fit(data, FitOptions(2, init=init, seed=0, max_iter=5))
    with OutputSet() as out:
        stream_predictions(out, {"labels": str(tmp_path / "l.npy"),
                                 "responsibilities": str(tmp_path / "r.npy")},
                           data, result.params)
    assert counter.sizes and max(counter.sizes) < n
    assert max(counter.sizes) <= max(rows, SEED_SAMPLE_ROWS)
    mem_data = ArrayDataset(x, block_rows=rows)
    mem = fit(mem_data, FitOptions(2, init=init, seed=0, max_iter=5))
    np.testing.assert_array_equal(result.params.means, mem.params.means)
    ref = final_pass(mem_data, mem.params, want_resp=True)
    np.testing.assert_array_equal(np.load(tmp_path / "l.npy"), ref.labels)
    np.testing.assert_array_equal(np.load(tmp_path / "r.npy"), ref.resp)


class Part:
    """A block's result that counts how many are alive at once."""

    alive = 0
    most = 0

    def __init__(self, value: float) -> None:
        self.value = value
        Part.alive += 1
        Part.most = max(Part.most, Part.alive)

    def __del__(self) -> None:
        Part.alive -= 1

    def __add__(self, other: Part) -> Part:
        return Part(self.value + other.value)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_reduce_sums_as_results_arrive(n_threads: int) -> None:
    x = np.arange(20_000, dtype=np.float64).reshape(-1, 1)
    data = ArrayDataset(x, block_rows=16, n_threads=n_threads)
    Part.alive = Part.most = 0
    total = data.reduce(lambda b: Part(float(b.sum())))
    assert total.value == float(x.sum())
    assert Part.most < 100  # not one per block (1250 blocks)


def test_the_pool_runs_blas_on_one_thread_and_gives_the_callers_back() -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    x = np.arange(20_000, dtype=np.float64).reshape(-1, 1)
    pooled = ArrayDataset(x, block_rows=16, n_threads=2)
    alone = ArrayDataset(x[:16], block_rows=16, n_threads=2)  # one block: no pool
    with threadpool_limits(limits=2, user_api="blas"):  # as numpy starts on 2 cores
        assert blas_threads() and set(blas_threads()) == {2}
        # each block sees one BLAS thread (the blocks' lists are added: concatenated)
        assert set(pooled.reduce(lambda b: blas_threads())) == {1}
        assert set(alone.reduce(lambda b: blas_threads())) == {2}  # the caller's own
        assert set(blas_threads()) == {2}  # given back after the map
        scan = pooled.scan(lambda b, start: blas_threads())
        assert isinstance(scan, Generator)  # the pool's map
        next(scan)
        scan.close()  # a map left early gives them back too
        assert set(blas_threads()) == {2}


# --- a model applied to data over the limit ------------------------------------------------


APPLIED = {  # predict's and score's outputs, each to a file of its own
    "labels": ("predict", "-o", "{}.csv"),
    "header": ("predict", "--label-header", "-o", "{}.csv"),
    "proba": ("predict", "--proba", "-o", "{}.npy"),
    "rows": ("predict", "--with-rows", "--proba", "--log-density", "-o", "{}.csv"),
    "scores": ("score", "--threshold", "0.05", "-o", "{}.csv"),
    "summary": ("score", "--threshold", "0.05", "--json"),
}


def applied(folder: Path, model: Path, data: Path, *extra: str) -> dict[str, bytes]:
    out = {}
    for name, (command, *args) in APPLIED.items():
        dest = folder / f"{name}-{'-'.join(extra) or 'mem'}".replace("/", "_")
        run = ok(command, str(model), str(data), *(a.format(dest) for a in args), *extra)
        out[name] = run.stdout.encode() if "--json" in args else next(
            folder.glob(dest.name + ".*")).read_bytes()
    return out


@pytest.mark.parametrize("standardize", [False, True])
def test_predict_and_score_over_the_limit_give_the_in_memory_outputs(
        tmp_path: Path, standardize: bool) -> None:
    np.save(tmp_path / "xy.npy", blobs_xy())
    model = tmp_path / "model.json"
    ok("fit", str(BLOBS), *FIT, "--model", str(model), "-o", str(tmp_path / "l.csv"),
       *(("--standardize",) if standardize else ()))
    cache = tmp_path / "cache"
    for data in (BLOBS, tmp_path / "xy.npy"):
        mem = applied(tmp_path, model, data)
        ooc = applied(tmp_path, model, data, "--memory-limit", "1K", "--cache-dir", str(cache))
        for name in APPLIED:
            if name == "summary":  # the same numbers; the source is the data file
                assert json.loads(ooc[name]) == json.loads(mem[name])
            else:
                assert ooc[name] == mem[name], (data.name, name)
    assert len(list(cache.glob("*.npy"))) == 1  # the CSV's binary cache
    # on the training data, predict's labels are the ones fit wrote
    assert mem["labels"] == (tmp_path / "l.csv").read_bytes()


def test_predict_on_blocks_never_reads_all_rows(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(4)
    n = 800_000  # 19 MB: more than one read of the check for non-finite values (8 MiB)
    x = np.concatenate([rng.normal(size=(n // 2, 3)), rng.normal(size=(n - n // 2, 3)) + 5])
    np.save(tmp_path / "x.npy", x)
    model = tmp_path / "model.json"
    ok("fit", str(tmp_path / "x.npy"), "-k", "2", "--seed", "0", "--max-iter", "3",
       "--model", str(model), "-o", str(tmp_path / "fit.npy"))
    counter = ReadCounter(monkeypatch)
    ok("predict", str(model), str(tmp_path / "x.npy"), "--memory-limit", "64K",
       "-o", str(tmp_path / "labels.npy"))
    assert counter.sizes and max(counter.sizes) < n // 2
    np.testing.assert_array_equal(np.load(tmp_path / "labels.npy"),
                                  np.load(tmp_path / "fit.npy"))


# --- float32 -------------------------------------------------------------------------------


def separated(n: int = 3000, d: int = 3, k: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=8.0, size=(k, d))
    parts = [c + rng.normal(size=(n // k, d)) @ (np.eye(d) + 0.3 * rng.normal(size=(d, d)))
             for c in centres]
    x = np.concatenate(parts)
    return x[rng.permutation(len(x))]


def assert_rel(actual: Any, expected: Any, rtol: float, what: str) -> None:
    a, e = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    scale = float(np.max(np.abs(e))) if e.size else 0.0
    np.testing.assert_allclose(a, e, rtol=rtol, atol=rtol * scale, err_msg=what)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_float32_fit_matches_float64(covariance_type: str) -> None:
    x = separated()
    # a fixed number of iterations: float32's rounding of the mean log-likelihood (~1e-7)
    # would decide when a tight tol stops
    opts = FitOptions(3, covariance_type=covariance_type, seed=1, tol=0.0, max_iter=200)
    r64 = fit(ArrayDataset(x), opts)
    r32 = fit(ArrayDataset(x.astype(np.float32)), opts)
    labels64 = np.concatenate([p for _, p in _labels(ArrayDataset(x), r64.params)])
    labels32 = np.concatenate([p for _, p in _labels(ArrayDataset(x.astype(np.float32)),
                                                     r32.params)])
    np.testing.assert_array_equal(labels32, labels64)
    assert_rel(r32.params.weights, r64.params.weights, 1e-4, "weights")
    assert_rel(r32.params.means, r64.params.means, 1e-4, "means")
    assert_rel(r32.params.covariances, r64.params.covariances, 1e-4, "covariances")
    assert_rel(r32.loglik, r64.loglik, 1e-4, "log-likelihood")


def _labels(data: ArrayDataset, params: MixtureParams) -> Any:
    from emgmm_cli.engine import predict_chunk

    for start, block in data.scan(lambda b, _: b):
        yield start, predict_chunk(block, params).labels


@pytest.mark.parametrize("block_rows", [7, 4096])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_float32_trajectory_matches_sklearn(covariance_type: str, block_rows: int) -> None:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    x32 = separated(seed=2).astype(np.float32)
    x = x32.astype(np.float64)  # the data float32 sees, in float64
    rng = np.random.default_rng(0)
    means = x[rng.choice(len(x), 3, replace=False)]
    var = x.var(axis=0)
    cov = {"full": np.stack([np.diag(var)] * 3), "tied": np.diag(var),
           "diag": np.stack([var] * 3), "spherical": np.full(3, var.mean())}[covariance_type]
    start = MixtureParams.build(np.full(3, 1 / 3), means, cov, covariance_type)
    ours = run_em(ArrayDataset(x32, block_rows=block_rows), start, tol=0.0, max_iter=20,
                  reg_covar=1e-6)
    prec = np.linalg.inv(cov) if covariance_type in ("full", "tied") else 1.0 / cov
    sk = GaussianMixture(3, covariance_type=covariance_type, weights_init=start.weights,
                         means_init=means, precisions_init=prec, tol=0.0, max_iter=20,
                         reg_covar=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(x)
    trace = np.array([row.log_likelihood for row in ours.trace])
    # a change of exactly 0 (a fixed point, which float32 reaches) has converged even with
    # tol 0; scikit-learn iterates on in place
    assert ours.converged or len(trace) == 20
    assert_rel(trace, sk.lower_bounds_[: len(trace)], 1e-4, "trace vs lower_bounds_")
    assert_rel(ours.params.means, sk.means_, 1e-4, "means")
    assert_rel(ours.params.covariances, sk.covariances_, 1e-4, "covariances")
    assert_rel(ours.final.loglik / len(x), sk.score(x), 1e-4, "final log-likelihood")


def test_cli_dtype_float32(tmp_path: Path) -> None:
    f64 = fit_files(tmp_path, BLOBS, name="f64")
    f32 = fit_files(tmp_path, BLOBS, "--dtype", "float32", name="f32")
    assert f32["labels"] == f64["labels"]
    assert f32["model"]["options"]["dtype"] == "float32"
    assert f64["model"]["options"]["dtype"] == "float64"
    assert_rel(f32["model"]["means"], f64["model"]["means"], 1e-4, "means")
    # float32 and out of core together
    both = fit_files(tmp_path, BLOBS, "--dtype", "float32",
                     "--memory-limit", "1K", "--cache-dir", str(tmp_path / "c"), name="both")
    assert both["labels"] == f32["labels"]
    same_model(both["model"], f32["model"])


# --- streaming writer ----------------------------------------------------------------------


def one_shot(path: Path, data: Any, names: list[str] | None) -> bytes:
    write_table(str(path), data, column_names=names)
    return path.read_bytes()


def streamed(path: Path, blocks: list[np.ndarray], names: list[str] | None,
             dtype: Any) -> bytes:
    n = sum(len(b) for b in blocks)
    with stream_table(str(path), n_rows=n, column_names=names, dtype=dtype) as table:
        for b in blocks:
            table.write(b)
    return path.read_bytes()


def split(a: np.ndarray, cuts: list[int]) -> list[np.ndarray]:
    return np.split(a, cuts)


@pytest.mark.parametrize("ext", ["csv", "tsv", "npy", "json"])
@pytest.mark.parametrize("cuts", [[], [1], [3, 3, 10], [0, 57]])
def test_streamed_labels_equal_write_table(tmp_path: Path, ext: str, cuts: list[int]) -> None:
    labels = np.random.default_rng(0).integers(0, 5, 57)
    assert streamed(tmp_path / f"s.{ext}", split(labels, cuts), None, np.int64) == \
        one_shot(tmp_path / f"o.{ext}", labels, None)


@pytest.mark.parametrize("ext", ["csv", "tsv", "npy", "json"])
@pytest.mark.parametrize("cuts", [[], [2], [5, 5, 31]])
def test_streamed_matrix_equals_write_table(tmp_path: Path, ext: str, cuts: list[int]) -> None:
    resp = np.random.default_rng(1).dirichlet(np.ones(3), 40)
    resp[7, 1] = np.nan  # an empty field in text, null in JSON
    resp[9, 0] = 1e-300
    names = ["p0", "p1", "p2"]
    assert streamed(tmp_path / f"s.{ext}", split(resp, cuts), names, np.float64) == \
        one_shot(tmp_path / f"o.{ext}", resp, names)


@pytest.mark.parametrize("ext", ["csv", "npy", "json"])
def test_streamed_empty_and_float_vector(tmp_path: Path, ext: str) -> None:
    empty = np.zeros(0, dtype=np.int64)
    assert streamed(tmp_path / f"s.{ext}", [empty], None, np.int64) == \
        one_shot(tmp_path / f"o.{ext}", empty, None)
    dens = np.random.default_rng(2).normal(size=25)
    assert streamed(tmp_path / f"t.{ext}", split(dens, [4, 12]), None, np.float64) == \
        one_shot(tmp_path / f"u.{ext}", dens, None)
    names = ["log_density"]
    assert streamed(tmp_path / f"v.{ext}", split(dens, [4]), names, np.float64) == \
        one_shot(tmp_path / f"w.{ext}", dens, names)


def test_streamed_table_with_missing_rows_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "labels.csv"
    with pytest.raises(ValueError, match="rows written"), \
            stream_table(str(target), n_rows=10, dtype=np.int64) as table:
        table.write(np.arange(4))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="more than"), \
            stream_table(str(target), n_rows=3, dtype=np.int64) as table:
        table.write(np.arange(4))
    assert list(tmp_path.iterdir()) == []


def test_streamed_to_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from emgmm_cli.io import writers

    monkeypatch.setattr(writers, "_SPOOL_BYTES", 64)  # spill the buffer to a file
    fake = io.StringIO()
    monkeypatch.setattr(sys, "stdout", fake)
    labels = np.arange(1000) % 7
    with OutputSet() as out:
        with stream_table("-", n_rows=1000, dtype=np.int64, out=out) as table:
            for b in np.split(labels, [100, 600]):
                table.write(b)
        assert fake.getvalue() == ""
    assert fake.getvalue() == "".join(f"{v}\n" for v in labels)


@pytest.mark.parametrize("name", ["table.csv", "table.json", "table.npy"])
def test_stdout_spilled_to_a_file_is_what_a_file_holds(tmp_path: Path, name: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The buffer of stdout moved to a temporary file mid-table (text with characters
    beyond ASCII, and binary) gives the bytes the same table written to a file has."""
    from emgmm_cli.io import writers

    table = {"größe": np.linspace(-1.5, 2.5, 400), "é": np.arange(400) % 3}
    write_table(str(tmp_path / name), table)
    monkeypatch.setattr(writers, "_SPOOL_BYTES", 100)  # spill after the first lines
    fake = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="")
    monkeypatch.setattr(sys, "stdout", fake)
    with OutputSet() as out:
        write_table("-", table, out=out, fmt=name.rsplit(".", 1)[1])
        assert fake.buffer.getvalue() == b""
    fake.flush()
    assert fake.buffer.getvalue() == (tmp_path / name).read_bytes()


def test_fit_streams_every_output_format(tmp_path: Path) -> None:
    mem = fit_files(tmp_path, BLOBS, name="ref")
    labels = np.loadtxt(io.StringIO(mem["labels"]), dtype=np.int64)
    resp = np.loadtxt(io.StringIO(mem["resp"]), delimiter=",", skiprows=1)
    ok("fit", str(BLOBS), *FIT, "--labels", str(tmp_path / "l.npy"),
       "--responsibilities", str(tmp_path / "r.json"))
    np.testing.assert_array_equal(np.load(tmp_path / "l.npy"), labels)
    records = json.loads((tmp_path / "r.json").read_text())
    assert len(records) == len(resp) and list(records[0]) == ["p0", "p1", "p2", "p3"]
    np.testing.assert_allclose([list(r.values()) for r in records], resp, rtol=1e-9)


def test_a_npy_written_to_in_place_during_a_fit_is_an_error(tmp_path: Path) -> None:
    """A .npy read block by block that another process overwrites in place between two
    passes: the next read says so, rather than EM going on over other data."""
    import pickle
    import subprocess

    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).normal(size=(1000, 2)))
    points = open_points(str(path), memory_limit=1)
    assert isinstance(points.x, NpyFile)
    copy = pickle.loads(pickle.dumps(points.x))  # as a worker process holds it
    first = points.x.read(0, 1000)
    subprocess.run([sys.executable, "-c", "import sys\nwith open(sys.argv[1], 'r+b') as f:\n"
                    " f.seek(200); f.write(bytes(800))", str(path)], check=True)
    for npy in (points.x, copy):
        with pytest.raises(DataError, match="changed while it was read") as info:
            npy.read(0, 1000)
        assert info.value.source == str(path)
    assert first.shape == (1000, 2)


def test_a_npy_that_its_copy_cannot_open_fails_the_read_not_the_unpickling(
        tmp_path: Path) -> None:
    """A copy of a .npy read block by block (a task's argument on a dask worker) opened
    its file as it was unpickled: on a worker that may not read it, the unpickling, inside
    the worker's connection, killed the worker (and every other one it went to next),
    and the run hung.  The copy opens it at its first read there, which names the file."""
    import pickle

    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).normal(size=(1000, 2)))
    points = open_points(str(path), memory_limit=1)
    assert isinstance(points.x, NpyFile)
    rows = points.x.read(0, 1000)
    shipped = pickle.dumps(points.x)
    path.rename(tmp_path / "elsewhere.npy")  # where the worker looks, nothing
    copy = pickle.loads(shipped)
    with pytest.raises(DataError, match="file not found") as info:
        copy.read(0, 10)
    assert info.value.source == str(path)
    (tmp_path / "elsewhere.npy").rename(path)  # there again: the copy reads it
    np.testing.assert_array_equal(copy.read(0, 1000), rows)


def test_rows_read_by_block_pickle_with_what_they_found(tmp_path: Path) -> None:
    """A FileRows (rows with missing values, over the limit) pickled to a worker lost its
    scan of the rows (found, a field set after it is made): select --missing em
    --memory-limit --jobs 2 ended in "internal error: AttributeError: 'FileRows' object
    has no attribute 'found'" where a worker read it.  Every field travels but the
    descriptor and the file's version, which each process takes its own."""
    import pickle

    from emgmm_cli.backends.blockfile import file_rows

    x = np.random.default_rng(0).normal(size=(1000, 2))
    np.save(tmp_path / "x.npy", x)
    pts = open_npy_blocks(str(tmp_path / "x.npy"))
    assert pts is not None and isinstance(pts.x, NpyFile)
    rows = file_rows(pts.x, holes=True)
    rows.found.append("scanned")
    copy = pickle.loads(pickle.dumps(rows))
    assert copy.found == ["scanned"] and copy == rows
    np.testing.assert_array_equal(copy.read(0, 10), x[:10])
