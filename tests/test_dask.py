"""The dask backend on a real cluster: a LocalCluster of 2 worker processes on loopback,
shared by the module.  Its results are checked against the local backend's (which the
accuracy tests check against scikit-learn and mclust): the same trajectory and parameters
to relative 1e-10 from the same start, the same labels, selections and batch summaries."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

import emgmm_cli  # noqa: E402
from emgmm_cli.backends import BackendError, BackendOptions, session  # noqa: E402
from emgmm_cli.engine.families import searched  # noqa: E402
from emgmm_cli.io.errors import DataError  # noqa: E402

from conftest import invoke_in  # noqa: E402

RTOL = 1e-10


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """The address of a 2-process local cluster on 127.0.0.1, for the whole module."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=":0")
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def blobs(n: int = 3000, d: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0] * d, [4.0] * d, [0.0, 5.0] + [-3.0] * (d - 2)])
    scales = rng.uniform(0.5, 1.5, size=(3, d))
    rows = [c + s * rng.standard_normal((n // 3, d)) for c, s in zip(centers, scales)]
    return np.concatenate(rows)


def write_parts(folder: Path, x: np.ndarray, n_parts: int, kind: str) -> Path:
    """x cut into n_parts files of the kind (npy, csv or parquet), named in row order."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"c{j}" for j in range(x.shape[1])]
    for i, part in enumerate(np.array_split(x, n_parts)):
        path = folder / f"part-{i:03d}.{kind}"
        if kind == "npy":
            np.save(path, part)
        else:
            import pandas as pd

            frame = pd.DataFrame(part, columns=names)
            if kind == "csv":
                frame.to_csv(path, index=False, float_format="%.17g")
            else:
                frame.to_parquet(path, index=False)
    return folder


#: The models whose M-step iterates to a tolerance (engine.families.MSTEP_TOL): rounding
#: differences of the sums can move where it stops, so their parameters agree to less.
ITERATIVE = {"VEI", "VEE", "EVE", "VVE", "VEV"}


def assert_same_fit(got: Any, want: Any) -> None:
    """Trajectory and parameters equal to relative 1e-10 (summation order differs); 1e-6
    for the iterative M-steps' parameters."""
    np.testing.assert_allclose(got.trace["log_likelihood"], want.trace["log_likelihood"],
                               rtol=RTOL)
    assert got.n_iter == want.n_iter
    rtol = 1e-6 if want.params.family.mclust in ITERATIVE else RTOL
    scale = float(np.abs(want.covariances).max())
    np.testing.assert_allclose(got.weights, want.weights, rtol=rtol)
    np.testing.assert_allclose(got.means, want.means, rtol=rtol, atol=rtol * 10)
    np.testing.assert_allclose(got.covariances, want.covariances, rtol=rtol,
                               atol=rtol * scale)
    assert got.log_likelihood == pytest.approx(want.log_likelihood, rel=RTOL)


# --------------------------------------------------------------------------- fit


@pytest.mark.parametrize("covariance_type", sorted(searched(2)))  # several columns
def test_every_family_matches_the_local_backend(scheduler: str, tmp_path: Path,
                                                covariance_type: str) -> None:
    """From the same initial means (and with the same seed's k-means start), a fit over
    5 partitions on 2 workers follows the local trajectory to relative 1e-10."""
    x = blobs()
    parts = write_parts(tmp_path / "parts", x, 5, "npy")
    start = x[[0, 1500, 2999]]
    options: dict[str, Any] = dict(covariance_type=covariance_type, tol=1e-10, max_iter=40, seed=3)
    local = emgmm_cli.fit(x, 3, means_init=start, **options)
    seeded = emgmm_cli.fit(x, 3, **options)
    with emgmm_cli.backend("dask", scheduler=scheduler):
        remote = emgmm_cli.fit(str(parts), 3, means_init=start, **options)
        assert len(remote.data.parts) == 5  # type: ignore[attr-defined]
        assert_same_fit(remote, local)
        np.testing.assert_array_equal(remote.labels, local.labels)
        np.testing.assert_allclose(remote.responsibilities, local.responsibilities,
                                   rtol=1e-8, atol=1e-12)
        assert_same_fit(emgmm_cli.fit(str(parts), 3, **options), seeded)


def test_an_array_and_one_npy_file_are_read_on_the_cluster(scheduler: str,
                                                           tmp_path: Path) -> None:
    x = blobs(seed=1)
    np.save(tmp_path / "x.npy", x)
    local = emgmm_cli.fit(x, 3, seed=0, standardize=True)
    with emgmm_cli.backend("dask", scheduler=scheduler):
        from_array = emgmm_cli.fit(x, 3, seed=0, standardize=True)
        from_file = emgmm_cli.fit(str(tmp_path / "x.npy"), 3, seed=0, standardize=True)
        for remote in (from_array, from_file):
            assert_same_fit(remote, local)
            np.testing.assert_array_equal(remote.labels, local.labels)


def test_labels_need_the_cluster_open(scheduler: str) -> None:
    with emgmm_cli.backend("dask", scheduler=scheduler):
        fitted = emgmm_cli.fit(blobs(300), 2, seed=0)
    with pytest.raises(BackendError, match="inside the emgmm_cli.backend block"):
        fitted.labels


def test_rows_by_index_come_from_their_partitions(scheduler: str) -> None:
    x = blobs(1000)
    with session(BackendOptions("dask", scheduler=scheduler)) as cluster:
        data = cluster.from_array(x, partition_rows=97)
        rows = np.array([998, 0, 96, 97, 98, 500, 96, 998])
        np.testing.assert_array_equal(data.take(rows), x[rows])
        got = list(data.scan(lambda block, first: (first, len(block))))
        assert [s for s, _ in got] == sorted(s for s, _ in got)
        assert sum(n for _, (_, n) in got) == len(x)
        assert data.reduce(lambda block, first: block.sum() * 0 + first, indexed=True) \
            == sum(first for first, _ in got)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_directory_of_parts_fits_as_the_whole_file(scheduler: str, tmp_path: Path,
                                                     kind: str) -> None:
    x = blobs(seed=2)
    parts = write_parts(tmp_path / "parts", x, 4, kind)
    whole = write_parts(tmp_path / "whole", x, 1, "csv") / "part-000.csv"
    args = ["-k", "3", "--seed", "1", "-c", "diag"]
    local = invoke_in(tmp_path, "fit", str(whole), *args, "--model", "local.json",
                      "-o", "local.csv")
    remote = invoke_in(tmp_path, "fit", str(parts), *args, "--model", "dask.json",
                       "-o", "dask.csv", "--backend", "dask", "--scheduler", scheduler)
    assert local.exit_code == 0 and remote.exit_code == 0, remote.stderr
    assert (tmp_path / "local.csv").read_text() == (tmp_path / "dask.csv").read_text()
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("local", "dask"))
    assert a["feature_names"] == b["feature_names"] == ["c0", "c1", "c2"]
    assert b["n_samples"] == len(x)
    np.testing.assert_allclose(b["means"], a["means"], rtol=RTOL)
    assert b["log_likelihood"] == pytest.approx(a["log_likelihood"], rel=RTOL)


def test_the_workers_write_labels_as_part_files(scheduler: str, tmp_path: Path) -> None:
    """--output-dir: labels and responsibilities as part files, one a partition, in row
    order, written by the workers; a file named on its own is one file."""
    x = blobs(seed=3)
    write_parts(tmp_path / "parts", x, 3, "npy")
    np.save(tmp_path / "x.npy", x)
    args = ["-k", "3", "--seed", "2", "--label-header"]
    local = invoke_in(tmp_path, "fit", "x.npy", *args, "--output-dir", "local")
    remote = invoke_in(tmp_path, "fit", "parts", *args, "--output-dir", "dask",
                       "--responsibilities", "resp.csv", "--backend", "dask",
                       "--scheduler", scheduler)
    assert local.exit_code == 0 and remote.exit_code == 0, remote.stderr
    parts = sorted((tmp_path / "dask" / "labels").iterdir())
    assert [p.name for p in parts] == ["part-00000.csv", "part-00001.csv", "part-00002.csv"]
    labels = [line for p in parts for line in p.read_text().splitlines()[1:]]
    assert labels == (tmp_path / "local" / "labels.csv").read_text().splitlines()[1:]
    assert not (tmp_path / "dask" / "responsibilities").exists()
    np.testing.assert_allclose(np.loadtxt(tmp_path / "resp.csv", delimiter=",", skiprows=1),
                               np.loadtxt(tmp_path / "local" / "responsibilities.csv",
                                          delimiter=",", skiprows=1), rtol=1e-8, atol=1e-12)
    assert sorted(p.name for p in (tmp_path / "dask").iterdir()) == \
        ["labels", "model.json", "trace.csv"]


def test_predict_and_score_match_the_local_backend(scheduler: str, tmp_path: Path) -> None:
    x = blobs(seed=4)
    write_parts(tmp_path / "parts", x, 3, "npy")
    np.save(tmp_path / "x.npy", x)
    assert invoke_in(tmp_path, "fit", "x.npy", "-k", "3", "--seed", "0",
                     "--model", "m.json").exit_code == 0
    for command, extra in (("predict", ["--proba"]), ("score", ["--json"])):
        local = invoke_in(tmp_path, command, "m.json", "x.npy", *extra)
        remote = invoke_in(tmp_path, command, "m.json", "parts", *extra, "--backend", "dask",
                           "--scheduler", scheduler)
        assert local.exit_code == 0 and remote.exit_code == 0, remote.stderr
        if command == "predict":
            np.testing.assert_allclose(np.loadtxt(remote.stdout.splitlines()[1:],
                                                  delimiter=","),
                                       np.loadtxt(local.stdout.splitlines()[1:],
                                                  delimiter=","), rtol=1e-9, atol=1e-12)
        else:
            a, b = json.loads(local.stdout), json.loads(remote.stdout)
            assert b["log_likelihood"] == pytest.approx(a["log_likelihood"], rel=RTOL)


# --------------------------------------------------------------------------- select, batch


def test_select_chooses_as_the_local_backend(scheduler: str, tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", blobs(900, seed=5))
    args = ["x.npy", "-k", "1-4", "-c", "full,diag,spherical", "--seed", "2",
            "--n-init", "2", "--model", "-"]
    local = invoke_in(tmp_path, "select", *args, "--table", "local.csv")
    remote = invoke_in(tmp_path, "select", *args, "--table", "dask.csv", "--backend", "dask",
                       "--scheduler", scheduler)
    assert local.exit_code == 0 and remote.exit_code == 0, remote.stderr
    assert (tmp_path / "local.csv").read_text() == (tmp_path / "dask.csv").read_text()
    assert json.loads(remote.stdout)["means"] == json.loads(local.stdout)["means"]


def test_select_of_data_larger_than_a_worker_fits_each_cell_on_the_cluster(
        scheduler: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from emgmm_cli.app import selecting

    x = blobs(900, seed=6)
    options: dict[str, Any] = dict(covariance_types=["full", "tied"], seed=1, n_init=2, max_iter=60)
    local = emgmm_cli.select(x, [2, 3], **options)
    monkeypatch.setattr(selecting, "WORKER_SHARE", 0.0)  # every dataset is "too large"
    with emgmm_cli.backend("dask", scheduler=scheduler):
        remote = emgmm_cli.select(x, [2, 3], **options)
        assert remote.selection.best == local.selection.best
        for a, b in zip(remote.cells, local.cells):
            assert a.result is not None and b.result is not None
            assert a.result.bic == pytest.approx(b.result.bic, rel=RTOL)


def test_batch_over_the_cluster_equals_the_local_batch(scheduler: str, tmp_path: Path) -> None:
    folder = tmp_path / "sets"
    folder.mkdir()
    for i in range(4):
        np.savetxt(folder / f"d{i}.csv", blobs(300, 2, seed=10 + i), delimiter=",",
                   header="a,b", comments="")
    (folder / "broken.csv").write_text("a,b\n1,2\n3,x\n")
    args = ["batch", "sets", "-k", "2-3", "--select", "--seed", "4", "-q"]
    local = invoke_in(tmp_path, *args, "-o", "local")
    remote = invoke_in(tmp_path, *args, "-o", "dask", "--backend", "dask",
                       "--scheduler", scheduler)
    assert local.exit_code == remote.exit_code == 1  # the broken file, reported by each
    assert "broken.csv: line 3" in remote.stderr

    def summary(name: str) -> list[list[str]]:  # every column but the seconds
        with open(tmp_path / name / "summary.csv", newline="") as fh:
            rows = list(csv.reader(fh))
        drop = rows[0].index("seconds")
        return [[v for j, v in enumerate(row) if j != drop] for row in rows]

    assert summary("dask") == summary("local")
    for i in range(4):
        assert (tmp_path / "dask" / f"d{i}" / "labels.csv").read_text() == \
            (tmp_path / "local" / f"d{i}" / "labels.csv").read_text()
    again = invoke_in(tmp_path, *args, "-o", "dask", "--skip-existing", "--backend", "dask",
                      "--scheduler", scheduler)
    assert again.exit_code == 1  # resumed: the fitted datasets kept, the broken one again
    status = {row[0]: row[-1] for row in summary("dask")[1:]}
    assert [status[f"sets/d{i}.csv"] for i in range(4)] == ["skipped"] * 4
    assert status["sets/broken.csv"].startswith("failed")


# --------------------------------------------------------------------------- failures


def test_a_worker_killed_mid_fit_is_replaced_and_the_fit_completes(scheduler: str) -> None:
    x = blobs(6000, seed=7)
    start = x[[0, 2000, 5999]]
    options: dict[str, Any] = dict(covariance_type="full", tol=1e-12, max_iter=12, seed=0)
    local = emgmm_cli.fit(x, 3, means_init=start, **options)
    with session(BackendOptions("dask", scheduler=scheduler)) as cluster:
        client = cluster.client
        pids = client.run(os.getpid)
        data = cluster.from_array(x, partition_rows=700)
        from emgmm_cli.io.readers import Points

        from emgmm_cli.app.fitting import fit_points
        from emgmm_cli.engine.options import FitOptions

        killed: list[int] = []

        def kill_one(restart: int, iteration: int, *_: Any) -> None:
            if iteration == 4 and not killed:
                pid = pids[sorted(pids)[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        remote = fit_points(Points(data, ["0", "1", "2"], "<x>"),
                            FitOptions(3, **options), means_init=start,
                            on_iteration=kill_one)
        assert killed
        assert_same_fit(remote, local)
        client.wait_for_workers(2, timeout=60)
        assert killed[0] not in client.run(os.getpid).values()


def test_an_unreachable_scheduler_is_one_line_within_the_timeout(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    np.save(tmp_path / "x.npy", blobs(300))
    started = time.monotonic()
    result = invoke_in(tmp_path, "fit", "x.npy", "-k", "2", "--backend", "dask",
                       "--scheduler", f"tcp://127.0.0.1:{port}", "--connect-timeout", "2")
    assert time.monotonic() - started < 30  # not a hang: the timeout, plus start-up
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the dask scheduler" in lines[0]
    assert f"127.0.0.1:{port}" in lines[0]


@pytest.mark.parametrize("bad, message", [
    ("part-001.csv", "part-001.csv:2"),  # a value that is not a number, at its line
    ("part-002.csv", "part-002.csv"),    # unreadable
])
def test_a_bad_part_is_named(scheduler: str, tmp_path: Path, bad: str, message: str) -> None:
    parts = write_parts(tmp_path / "parts", blobs(300), 3, "csv")
    if bad == "part-001.csv":
        (parts / bad).write_text("c0,c1,c2\n1,oops,3\n")
    else:
        (parts / bad).chmod(0)
        if os.access(parts / bad, os.R_OK):
            (parts / bad).write_bytes(b"\x00\x01binary")
    result = invoke_in(tmp_path, "fit", "parts", "-k", "2", "--backend", "dask",
                       "--scheduler", scheduler)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    with emgmm_cli.backend("dask", scheduler=scheduler), pytest.raises(DataError, match=bad):
        emgmm_cli.fit(str(parts), 2)


def test_sample_weights_are_refused_on_the_cluster(scheduler: str, tmp_path: Path) -> None:
    np.savetxt(tmp_path / "w.csv", np.c_[blobs(300), np.ones(300)], delimiter=",",
               header="a,b,c,w", comments="")
    result = invoke_in(tmp_path, "fit", "w.csv", "-k", "2", "--weights-column", "w",
                       "--backend", "dask", "--scheduler", scheduler)
    assert result.exit_code == 2 and "not supported by the dask backend" in result.stderr


def test_missing_data_and_mismatched_parts(scheduler: str, tmp_path: Path) -> None:
    parts = write_parts(tmp_path / "parts", blobs(300), 2, "csv")
    (parts / "part-009.csv").write_text("c0,c1\n1,2\n")
    cases = [("nothere.npy", "nothere.npy: file not found"),
             ("parts", "part-009.csv: its columns (c0, c1)"),
             ("empty*", "empty*: no data parts found")]
    for source, message in cases:
        result = invoke_in(tmp_path, "fit", source, "-k", "2", "--backend", "dask",
                           "--scheduler", scheduler)
        assert result.exit_code == 1 and message in result.stderr, result.stderr


# --------------------------------------------------------------------------- a real run


def test_the_command_starts_its_own_cluster_and_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    """A subprocess pipeline: fit --backend dask with its own 2-worker cluster gives the
    local labels; interrupted while it fits, it exits 130 and writes nothing."""
    np.save(tmp_path / "x.npy", blobs(3000, seed=8))
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    cmd = [sys.executable, "-m", "emgmm_cli", "fit", "x.npy", "-k", "3", "--seed", "5"]
    local = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=env)
    remote = subprocess.run([*cmd, "--backend", "dask", "--workers", "2"], cwd=tmp_path,
                            capture_output=True, text=True, env=env, timeout=120)
    assert remote.returncode == 0, remote.stderr
    assert remote.stdout == local.stdout and remote.stdout.count("\n") == 3000

    # uniform noise: EM with 8 components creeps for many iterations
    np.save(tmp_path / "big.npy", np.random.default_rng(9).uniform(size=(300_000, 8)))
    proc = subprocess.Popen([*cmd[:4], "big.npy", "-k", "8", "--max-iter", "1000",
                             "--tol", "0", "--output-dir", "out", "--backend", "dask",
                             "--workers", "2"], cwd=tmp_path, env=env,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(10)  # the cluster started and iterating
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_cluster_options_need_the_dask_backend(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", blobs(300))
    result = invoke_in(tmp_path, "fit", "x.npy", "-k", "2", "--workers", "2")
    assert result.exit_code == 2 and "--workers: only with --backend dask" in result.stderr
    assert "--backend" in invoke_in(tmp_path, "select", "--help").stdout


def test_missing_values_are_refused_on_the_cluster(scheduler: str, tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("a,b\n1,2\n3,NA\n5,6\n")
    for command in (("fit", "m.csv", "-k", "1"), ("select", "m.csv", "-k", "1")):
        result = invoke_in(tmp_path, *command, "--missing", "em", "--backend", "dask",
                           "--scheduler", scheduler)
        assert result.exit_code == 2
        assert "missing values (--missing drop or em) are not supported by the dask " \
               "backend" in result.stderr
