"""The dask backend on a real cluster: a LocalCluster of 2 worker processes on loopback,
shared by the module.  Its results are checked against the local backend's (which the
accuracy tests check against scikit-learn and mclust): the same trajectory and parameters
to relative 1e-10 from the same start, the same labels, selections and batch summaries."""

from __future__ import annotations

import csv
import json
import os
import shlex
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

from conftest import assert_stopped_batch, invoke_in  # noqa: E402

RTOL = 1e-10
#: The relative tolerance of the final parameters of the families whose M-step iterates
#: (ITERATIVE): each M-step's own iterations carry the partitions' rounding further.
ITERATIVE_RTOL = 1e-6


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
    """x cut into n_parts files of the kind (npy, csv, tsv, also compressed: csv.gz, ...,
    jsonl or parquet), named in row order."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"c{j}" for j in range(x.shape[1])]
    for i, part in enumerate(np.array_split(x, n_parts)):
        path = folder / f"part-{i:03d}.{kind}"
        if kind == "npy":
            np.save(path, part)
        else:
            import pandas as pd

            frame = pd.DataFrame(part, columns=names)
            if kind.startswith(("csv", "tsv")):  # compressed by pandas from the suffix
                frame.to_csv(path, index=False, float_format="%.17g",
                             sep="," if kind.startswith("csv") else "\t")
            elif kind == "jsonl":
                frame.to_json(path, orient="records", lines=True, double_precision=15)
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
    rtol = ITERATIVE_RTOL if want.params.family.mclust in ITERATIVE else RTOL
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
    5 partitions on 2 workers follows the local trajectory: the parameters to relative
    1e-10 (1e-6 where the M-step iterates), the responsibilities to 1e-8 (1e-6)."""
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
        # an iterative M-step carries the partitions' rounding further (assert_same_fit)
        rtol = ITERATIVE_RTOL if local.params.family.mclust in ITERATIVE else 1e-8
        np.testing.assert_allclose(remote.responsibilities, local.responsibilities,
                                   rtol=rtol, atol=1e-12)
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


@pytest.mark.parametrize("kind", ["csv", "parquet", "jsonl", "tsv.bz2"])
def test_a_directory_of_parts_fits_as_the_whole_file(scheduler: str, tmp_path: Path,
                                                     kind: str) -> None:
    """Every data file of a directory is a part (JSON lines and .tsv.bz2 parts were not
    found: "no data parts found")."""
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


def test_with_rows_of_a_directory_or_a_glob_of_parts(scheduler: str, tmp_path: Path) -> None:
    """--with-rows of parts writes the parts' rows one after the other, as of the whole
    file (the rows were read again as one file: "is a directory, not a file", and of a
    glob "file not found", after the fit); a Parquet part's floats are written as text."""
    import pandas as pd

    frame = pd.DataFrame(blobs(seed=4), columns=["a", "b", "c"])
    (tmp_path / "parts").mkdir()
    frame[:1000].to_csv(tmp_path / "parts" / "p0.csv", index=False)  # floats' shortest text
    frame[1000:2000].to_csv(tmp_path / "parts" / "p1.csv.gz", index=False)
    frame[2000:].to_parquet(tmp_path / "parts" / "p2.parquet", index=False)
    whole = tmp_path / "whole.csv"
    frame.to_csv(whole, index=False)
    args = ["-k", "3", "--seed", "1", "--with-rows", "--proba"]
    local = invoke_in(tmp_path, "fit", str(whole), *args, "--model", "m.json", "-o", "l.csv")
    assert local.exit_code == 0, local.stderr
    cluster = ["--backend", "dask", "--scheduler", scheduler]
    for source in ("parts", "parts/p*"):
        fit = invoke_in(tmp_path, "fit", source, *args, "-o", "fit.csv", *cluster)
        predict = invoke_in(tmp_path, "predict", "m.json", source, "--with-rows", "--proba",
                            "-o", "predict.csv", *cluster)
        assert fit.exit_code == 0 and predict.exit_code == 0, fit.stderr + predict.stderr
        want = (tmp_path / "l.csv").read_text()
        assert_same_rows((tmp_path / "fit.csv").read_text(), want)
        assert (tmp_path / "predict.csv").read_text() == want  # one model: the same bytes


def assert_same_rows(got: str, want: str) -> None:
    """Two --with-rows tables of one data fitted on two backends: the input's columns as
    written and the clusters alike, the responsibilities to the rounding the blocks'
    sums in another order leave (a far component's 5.903542074e-37 as ...073e-37)."""
    rows, expected = list(csv.reader(got.splitlines())), list(csv.reader(want.splitlines()))
    assert rows[0] == expected[0] and len(rows) == len(expected)
    kept = [j for j, name in enumerate(rows[0]) if not name.startswith("p")]
    assert [[r[j] for j in kept] for r in rows] == [[r[j] for j in kept] for r in expected]
    proba = [j for j, name in enumerate(rows[0]) if name.startswith("p")]
    np.testing.assert_allclose([[float(r[j]) for j in proba] for r in rows[1:]],
                               [[float(r[j]) for j in proba] for r in expected[1:]],
                               rtol=1e-8, atol=0)


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


def test_standardized_rows_with_missing_values_score_as_on_the_local_backend(
        scheduler: str) -> None:
    """--standardize with --missing em on the cluster: a row with missing values loses the
    log scales of its observed columns alone, as on the local backend (the cluster keeps
    the rows as read, with their NaN, where the fit and the final pass look for them)."""
    x = blobs(600, seed=5) * [1.0, 10.0, 100.0]
    x[np.random.default_rng(5).random(x.shape) < 0.1] = np.nan
    local = emgmm_cli.fit(x, 3, seed=0, standardize=True, missing="em")
    # full covariances: the optimum of the data's own columns, but for reg_covar's units
    plain = emgmm_cli.fit(x, 3, seed=0, missing="em")
    assert local.log_likelihood == pytest.approx(plain.log_likelihood, abs=0.01)
    with emgmm_cli.backend("dask", scheduler=scheduler):
        remote = emgmm_cli.fit(x, 3, seed=0, standardize=True, missing="em")
        scores = emgmm_cli.score(local, x, missing="em")
    assert remote.log_likelihood == pytest.approx(local.log_likelihood, rel=RTOL)
    assert scores.log_likelihood == pytest.approx(local.log_likelihood, rel=RTOL)
    np.testing.assert_allclose(scores.log_density, emgmm_cli.score(local, x, missing="em")
                               .log_density, rtol=RTOL)


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

    monkeypatch.setattr(selecting, "WORKER_SHARE", 0.0)  # every dataset is "too large"
    assert_same_selection(scheduler, blobs(900, seed=6), [2, 3])


def assert_same_selection(scheduler: str, x: np.ndarray, components: list[int],
                          **options: Any) -> None:
    """select over x here (full and tied, 2 starts each) and on the cluster: the same
    choice, every cell's BIC to relative 1e-10."""
    options = dict(covariance_types=["full", "tied"], seed=1, n_init=2, max_iter=60, **options)
    local = emgmm_cli.select(x, components, **options)
    with emgmm_cli.backend("dask", scheduler=scheduler):
        remote = emgmm_cli.select(x, components, **options)
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
    # in Python, the error python.md names, exported where the others are
    with pytest.raises(emgmm_cli.BackendError, match="cannot reach the dask scheduler"):
        with emgmm_cli.backend("dask", scheduler=f"tcp://127.0.0.1:{port}", connect_timeout=2):
            emgmm_cli.fit(blobs(300), 2)


def test_a_scheduler_without_workers_is_one_line_not_an_internal_error(tmp_path: Path
                                                                      ) -> None:
    """A scheduler whose workers had all gone: every command said "internal error:
    ValueError: Only use allow_other_workers= if using workers=" (and without that, its
    tasks would have waited for a worker for ever)."""
    cluster = distributed.LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=":0")
    try:
        np.save(tmp_path / "x.npy", blobs(300))
        (tmp_path / "x.csv").write_text("a,b,c\n" + "1,2,3\n4,5,7\n" * 20)
        for data in ("x.npy", "x.csv"):
            result = invoke_in(tmp_path, "fit", data, "-k", "2", "--backend", "dask",
                               "--scheduler", cluster.scheduler_address)
            assert result.exit_code == 1
            assert result.stderr == (f"Error: the dask scheduler at "
                                     f"{cluster.scheduler_address} has no workers; start "
                                     "some (dask worker ADDRESS), or leave out --scheduler "
                                     "for a local cluster\n")
    finally:
        cluster.close()


@pytest.mark.parametrize("answer, reason", [
    (b"", "it connects but gives no answer"),  # an HTTP server: it waits for a request line
    (b"SSH-2.0-OpenSSH_9.6\r\n", "what answers there is not a dask scheduler")])
def test_a_port_that_is_no_scheduler_is_one_line_within_the_timeout(
        tmp_path: Path, answer: bytes, reason: str) -> None:
    """Before, a peer that never answered the handshake hung the command past
    --connect-timeout, and one that answered other bytes was 'out of memory'."""
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    held: list[socket.socket] = []

    def serve() -> None:
        try:
            while True:
                conn, _ = listener.accept()
                held.append(conn)
                conn.sendall(answer)
        except OSError:  # the listener closed
            pass

    threading.Thread(target=serve, daemon=True).start()
    np.save(tmp_path / "x.npy", blobs(300))
    try:
        result = subprocess.run(
            [sys.executable, "-m", "emgmm_cli", "fit", "x.npy", "-k", "2", "--backend", "dask",
             "--scheduler", f"tcp://127.0.0.1:{port}", "--connect-timeout", "2"],
            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    finally:
        listener.close()
        for conn in held:
            conn.close()
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (f"Error: cannot reach the dask scheduler at tcp://127.0.0.1:{port}"
                             f" within 2 s ({reason}); check that address (given, or "
                             "DASK_SCHEDULER_ADDRESS) and that `dask scheduler` runs there\n")


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
    # named as given (the workers read it by its absolute path)
    assert len(lines) == 1 and lines[0].startswith(f"Error: parts/{message}"), result.stderr
    with emgmm_cli.backend("dask", scheduler=scheduler), pytest.raises(DataError, match=bad):
        emgmm_cli.fit(str(parts), 2)


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


def test_ctrl_c_while_the_workers_write_part_files_is_one_line(scheduler: str,
                                                               tmp_path: Path) -> None:
    """Ctrl-C while the workers wrote --output-dir's part files (a gather of the
    partitions' futures) printed "Task exception was never retrieved" and a traceback of
    distributed's AllExit for each partition still waited for, after the one line."""
    rng = np.random.default_rng(0)
    for i in range(4):
        np.save(tmp_path / f"part-{i}.npy", rng.standard_normal((300_000, 5)))
    run = subprocess.Popen(
        [sys.executable, "-m", "emgmm_cli", "fit", "part-*.npy", "-k", "8", "--init",
         "random", "--max-iter", "2", "--output-dir", "out", "--backend", "dask",
         "--scheduler", scheduler], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("out/.responsibilities.*/part-*.csv")):
        assert run.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert (run.returncode, err) == (130, "emgmm: interrupted\n")
    time.sleep(2)  # the tasks that were running end on their workers
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"part-{i}.npy" for i in range(4)]


def test_ctrl_c_while_predict_streams_its_output_is_one_line(scheduler: str,
                                                              tmp_path: Path) -> None:
    """Ctrl-C while predict wrote the labels the workers sent back printed "Exception
    ignored in: <generator object DaskDataset._stream>" and a traceback ("IOLoop is
    closed"): the stream, left open, cancelled its futures once the client had closed."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4 * 200_000, 3))
    for i, part in enumerate(np.split(x, 4)):
        np.save(tmp_path / f"part-{i}.npy", part)
    (tmp_path / "m.json").write_text(json.dumps(emgmm_cli.fit(x[:2000], 8, seed=0).document))
    run = subprocess.Popen(
        [sys.executable, "-m", "emgmm_cli", "predict", "m.json", "part-*.npy", "--proba",
         "-o", "p.csv", "--backend", "dask", "--scheduler", scheduler], cwd=tmp_path,
        stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not [p for p in tmp_path.glob(".p.csv*") if p.stat().st_size > 0]:
        assert run.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert (run.returncode, err) == (130, "emgmm: interrupted\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == \
        ["m.json"] + [f"part-{i}.npy" for i in range(4)]


def test_a_bad_part_on_the_commands_own_cluster_is_one_line(tmp_path: Path) -> None:
    """With the command's own cluster (--workers), a part that cannot be read put the
    workers' log on stderr before the one-line error, even with -q: "distributed.worker -
    ERROR - Compute Failed" and a Python traceback, 15 lines.  Now the one line alone."""
    parts = write_parts(tmp_path / "parts", blobs(300), 2, "csv")
    (parts / "part-001.csv").write_text("c0,c1,c2\n1,2,3\n4\n")
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    done = subprocess.run([sys.executable, "-m", "emgmm_cli", "fit", "parts", "-k", "2",
                           "--backend", "dask", "--workers", "1", "-q"], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "Error: parts/part-001.csv:3: expected 3 fields, found 1; every row needs as "
        "many fields as the header"], done.stderr


def test_a_run_on_its_own_cluster_that_a_closed_pipe_ends_ends_quietly(tmp_path: Path
                                                                       ) -> None:
    """predict --backend dask | head -1: exit 141 as a program in a pipe ends, and
    nothing on stderr.  The cluster is not shut down at SIGPIPE, and multiprocessing's
    resource tracker, cleaning up after its processes, warned of 12 "leaked semaphore
    objects" on stderr after the run."""
    x = blobs(3000, seed=8)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "big.npy", np.tile(x, (100, 1)))  # 300,000 labels: the pipe closes first
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    emgmm = f"{shlex.quote(sys.executable)} -m emgmm_cli"
    fitted = subprocess.run(f"{emgmm} fit x.npy -k 3 --seed 5 --model m.json -q > /dev/null",
                            shell=True, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert fitted.returncode == 0, fitted.stderr
    done = subprocess.run(
        f"{emgmm} predict m.json big.npy --backend dask --workers 2 2> err.txt | head -1; "
        "echo ${PIPESTATUS[0]}; sleep 2; cat err.txt", shell=True, executable="/bin/bash",
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    first, status, *rest = done.stdout.splitlines()
    assert first in ("0", "1", "2") and status == "141"
    assert rest == [], rest


def test_the_command_starts_its_own_cluster_and_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    """A subprocess pipeline: fit --backend dask with its own 2-worker cluster gives the
    local labels; interrupted while it fits, it exits 130, says so in one line (no worker
    prints a traceback) and writes nothing."""
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
    try:
        time.sleep(10)  # the cluster started and iterating
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:  # a run that did not stop takes its cluster down with it
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, err
    # the Ctrl-C went to the whole group, the workers too: they leave it to this process
    assert err.splitlines() == ["emgmm: interrupted"], err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_sigterm_stops_a_batch_on_its_own_cluster_and_its_summary_is_written(
        tmp_path: Path) -> None:
    """A subprocess pipeline: batch --backend dask, SIGTERM once a dataset is written: the
    tasks in flight finish, exit 143, and every folder is complete and in summary.csv."""
    (tmp_path / "data").mkdir()
    for i in range(12):
        np.save(tmp_path / "data" / f"set{i:02d}.npy", blobs(3000, seed=i))
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    results = tmp_path / "results"
    proc = subprocess.Popen([sys.executable, "-m", "emgmm_cli", "batch", "data", "-k", "3",
                             "--n-init", "3", "--seed", "0", "--output-dir", "results",
                             "--backend", "dask", "--workers", "2"], cwd=tmp_path, env=env,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(results.glob("*/model.json")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and err.splitlines()[-1] == "emgmm: stopped by SIGTERM", err
    assert_stopped_batch(results, 12)


def test_cluster_options_need_the_dask_backend(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", blobs(300))
    result = invoke_in(tmp_path, "fit", "x.npy", "-k", "2", "--workers", "2")
    assert result.exit_code == 2 and "--workers: only with --backend dask" in result.stderr
    assert "--backend" in invoke_in(tmp_path, "select", "--help").stdout


# --------------------------------------------------------------------------- per-row data


def weighed_table(n: int = 3000, seed: int = 11, holes: int = 0) -> Any:
    """blobs with a weights column w (whole numbers 0..3, the first rows counting) and a
    known-labels column k (every 40th row's blob, -1 elsewhere); holes rows lose c1."""
    import pandas as pd

    x = blobs(n, seed=seed)
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(x, columns=["c0", "c1", "c2"])
    frame["w"] = rng.integers(0, 4, size=n).astype(float)
    frame.loc[[0, n // 2, n - 1], "w"] = 1.0
    frame["k"] = np.where(np.arange(n) % 40 == 7, np.arange(n) // (n // 3), -1)
    if holes:
        frame.loc[rng.choice(n, size=holes, replace=False), "c1"] = np.nan
    return frame


def split_table(frame: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the features, the weights, the known labels) of a weighed_table."""
    return (frame[["c0", "c1", "c2"]].to_numpy(), frame["w"].to_numpy(),
            frame["k"].to_numpy())


def table_parts(folder: Path, frame: Any, n_parts: int, kind: str) -> Path:
    """frame cut into n_parts files of the kind (csv with NA for a missing value, npy or
    parquet), named in row order."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(np.array_split(np.arange(len(frame)), n_parts)):
        rows = frame.iloc[part]
        path = folder / f"part-{i:03d}.{kind}"
        if kind == "csv":
            rows.to_csv(path, index=False, float_format="%.17g", na_rep="NA")
        elif kind == "npy":
            np.save(path, rows.to_numpy(dtype=np.float64))
        else:
            rows.to_parquet(path, index=False)
    return folder


@pytest.mark.parametrize("kind", ["npy", "parquet"])
def test_weights_and_known_columns_are_read_on_the_workers(scheduler: str, tmp_path: Path,
                                                           kind: str) -> None:
    """The weights and known-labels columns of 4 parts, split off on the workers: the
    local fit of the whole table with the same weights and labels, to relative 1e-10."""
    from emgmm_cli.app.requests import ReadOptions

    frame = weighed_table()
    x, w, k = split_table(frame)
    parts = table_parts(tmp_path / "parts", frame, 4, kind)
    read = ReadOptions(weights_column="3", known_column="4") if kind == "npy" else \
        ReadOptions(weights_column="w", known_column="k")
    start = x[[0, 1500, 2999]]
    options: dict[str, Any] = dict(covariance_type="full", tol=1e-10, max_iter=40, seed=3)
    local = emgmm_cli.fit(x, 3, means_init=start, sample_weights=w, known_labels=k, **options)
    seeded = emgmm_cli.fit(x, 3, sample_weights=w, known_labels=k, **options)
    with emgmm_cli.backend("dask", scheduler=scheduler):
        remote = emgmm_cli.fit(str(parts), 3, means_init=start, read=read, **options)
        assert len(remote.data.parts) == 4  # type: ignore[attr-defined]
        assert remote.data.beside is not None  # type: ignore[attr-defined]
        assert remote.feature_names == (["0", "1", "2"] if kind == "npy" else ["c0", "c1", "c2"])
        assert_same_fit(remote, local)
        assert remote.document["sum_of_weights"] == w.sum()
        np.testing.assert_array_equal(remote.labels, local.labels)
        assert (remote.labels[k >= 0] == k[k >= 0]).all()  # known rows keep their component
        assert_same_fit(emgmm_cli.fit(str(parts), 3, read=read, **options), seeded)


def test_weights_and_labels_given_as_arrays_go_to_the_workers(scheduler: str) -> None:
    """The Python API's arrays: each partition's share is sent beside it once, and a
    weighted pass ships its function only (the workers' copies are what it reads)."""
    from emgmm_cli.engine.dataset import reduce_weighted

    frame = weighed_table(seed=12)
    x, w, k = split_table(frame)
    options: dict[str, Any] = dict(covariance_type="diag", seed=5, n_init=2)
    local = emgmm_cli.fit(x, 3, sample_weights=w, known_labels=k, **options)
    with session(BackendOptions("dask", scheduler=scheduler)) as cluster:
        remote = emgmm_cli.fit(x, 3, sample_weights=w, known_labels=k, **options)
        assert_same_fit(remote, local)
        np.testing.assert_array_equal(remote.labels, local.labels)
        data = cluster.from_array(x, partition_rows=700).with_rows(w.copy(), k, None)
        total = reduce_weighted(data, lambda block, w, known: np.array(
            [w.sum(), (known >= 0).sum(), len(block)]), with_known=True)
        np.testing.assert_array_equal(total, [w.sum(), (k >= 0).sum(), len(x)])
        assert data.weights is not None
        data.weights[:] = 0.0  # here only: the workers keep theirs
        again = reduce_weighted(data, lambda block, w: w.sum())
        assert again == w.sum()


def test_side_files_missing_values_and_part_files(scheduler: str, tmp_path: Path) -> None:
    """--sample-weights and --known-labels files split to match 3 csv parts with missing
    values, --missing drop on the workers: the local run's model, labels (-1 for the rows
    left out, the known component for the known rows) and part files in row order."""
    frame = weighed_table(seed=13, holes=9)
    frame["w"].to_csv(tmp_path / "w.csv", index=False)
    (tmp_path / "k.txt").write_text("".join(f"{v}\n" for v in frame["k"]))
    features = frame[["c0", "c1", "c2"]]
    table_parts(tmp_path / "parts", features, 3, "csv")
    features.to_csv(tmp_path / "whole.csv", index=False, float_format="%.17g", na_rep="NA")
    args = ["-k", "3", "--seed", "4", "--sample-weights", "w.csv", "--known-labels", "k.txt",
            "--missing", "drop", "--label-header"]
    local = invoke_in(tmp_path, "fit", "whole.csv", *args, "--output-dir", "local")
    remote = invoke_in(tmp_path, "fit", "parts", *args, "--output-dir", "dask",
                       "--backend", "dask", "--scheduler", scheduler)
    assert local.exit_code == 0 and remote.exit_code == 0, remote.stderr
    a, b = (json.loads((tmp_path / n / "model.json").read_text()) for n in ("local", "dask"))
    assert b["n_dropped"] == a["n_dropped"] == 9 and b["n_samples"] == 3000 - 9
    assert b["sum_of_weights"] == a["sum_of_weights"]
    np.testing.assert_allclose(b["means"], a["means"], rtol=RTOL)
    assert b["log_likelihood"] == pytest.approx(a["log_likelihood"], rel=RTOL)
    parts = sorted((tmp_path / "dask" / "labels").iterdir())
    assert [len(p.read_text().splitlines()) - 1 for p in parts] == [1000, 1000, 1000]
    labels = [line for p in parts for line in p.read_text().splitlines()[1:]]
    assert labels == (tmp_path / "local" / "labels.csv").read_text().splitlines()[1:]
    got = np.array(labels, dtype=int)
    assert (got == -1).sum() == 9 and (got[features["c1"].isna()] == -1).all()
    known = frame["k"].to_numpy()
    kept = (known >= 0) & features["c1"].notna().to_numpy()
    assert kept.sum() > 50 and (got[kept] == known[kept]).all()
    import pandas as pd

    resp = np.concatenate([pd.read_csv(p).to_numpy() for p in
                           sorted((tmp_path / "dask" / "responsibilities").iterdir())])
    want = pd.read_csv(tmp_path / "local" / "responsibilities.csv").to_numpy()
    np.testing.assert_array_equal(np.isnan(resp), np.isnan(want))
    np.testing.assert_allclose(resp, want, rtol=1e-8, atol=1e-12)


def test_drop_in_the_python_api_and_a_part_left_empty(scheduler: str, tmp_path: Path) -> None:
    """missing="drop": an array's incomplete rows, and those of parts one of which has no
    complete row left, dropped on the workers; the local fit, label -1 where dropped."""
    from emgmm_cli.app.requests import ReadOptions

    frame = weighed_table(1200, seed=20, holes=30)
    frame.loc[300:599, "c0"] = np.nan  # the whole second part
    x, w, _ = split_table(frame)
    parts = table_parts(tmp_path / "parts", frame, 4, "npy")
    options: dict[str, Any] = dict(covariance_type="full", seed=7, missing="drop")
    local = emgmm_cli.fit(x, 3, sample_weights=w, **options)
    with emgmm_cli.backend("dask", scheduler=scheduler):
        from_array = emgmm_cli.fit(x, 3, sample_weights=w, **options)
        from_parts = emgmm_cli.fit(str(parts), 3, read=ReadOptions(
            columns=("0", "1", "2"), weights_column="3"), **options)
        assert from_parts.data.lengths[1] == 0  # type: ignore[attr-defined]
        for remote in (from_array, from_parts):
            assert remote.document["n_dropped"] == local.document["n_dropped"] >= 300
            assert_same_fit(remote, local)
            np.testing.assert_array_equal(remote.labels, local.labels)
            assert (remote.labels[300:600] == -1).all()


def test_predict_and_score_weigh_and_drop_on_the_workers(scheduler: str,
                                                          tmp_path: Path) -> None:
    frame = weighed_table(seed=14, holes=5)
    table_parts(tmp_path / "parts", frame, 3, "csv")
    frame.to_csv(tmp_path / "whole.csv", index=False, float_format="%.17g", na_rep="NA")
    assert invoke_in(tmp_path, "fit", "whole.csv", "-k", "3", "--seed", "0", "--columns",
                     "c0,c1,c2", "--missing", "drop", "--model", "m.json").exit_code == 0
    for command, extra in (("predict", ["--proba"]), ("score", ["--json"])):
        args = [command, "m.json", "--weights-column", "w", "--missing", "drop", *extra]
        local = invoke_in(tmp_path, *args[:2], "whole.csv", *args[2:])
        remote = invoke_in(tmp_path, *args[:2], "parts", *args[2:], "--backend", "dask",
                           "--scheduler", scheduler)
        assert local.exit_code == 0 and remote.exit_code == 0, remote.stderr
        if command == "predict":
            assert remote.stdout.count(",,") == local.stdout.count(",,") == 5
            assert remote.stdout == local.stdout
        else:
            a, b = json.loads(local.stdout), json.loads(remote.stdout)
            assert b["n_dropped"] == a["n_dropped"] == 5
            assert b["sum_of_weights"] == a["sum_of_weights"] == frame["w"][
                frame["c1"].notna()].sum()
            assert b["log_likelihood"] == pytest.approx(a["log_likelihood"], rel=RTOL)


def test_select_with_weights_and_known_labels_chooses_as_the_local_backend(
        scheduler: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each cell a task over the rows brought to one worker with their weights and known
    labels (the command line), or each a fit over the cluster (data too large)."""
    from emgmm_cli.app import selecting

    frame = weighed_table(900, seed=15)
    table_parts(tmp_path / "parts", frame, 3, "csv")
    frame.to_csv(tmp_path / "whole.csv", index=False, float_format="%.17g")
    args = ["-k", "3-4", "-c", "full,diag,spherical", "--seed", "2", "--n-init", "2",
            "--weights-column", "w", "--known-column", "k", "--model", "-"]
    local = invoke_in(tmp_path, "select", "whole.csv", *args, "--table", "local.csv")
    remote = invoke_in(tmp_path, "select", "parts", *args, "--table", "dask.csv",
                       "--backend", "dask", "--scheduler", scheduler)
    assert local.exit_code == 0 and remote.exit_code == 0, remote.stderr
    assert (tmp_path / "local.csv").read_text() == (tmp_path / "dask.csv").read_text()
    assert json.loads(remote.stdout)["means"] == json.loads(local.stdout)["means"]

    x, w, k = split_table(frame)
    monkeypatch.setattr(selecting, "WORKER_SHARE", 0.0)  # every dataset is "too large"
    assert_same_selection(scheduler, x, [3, 4], sample_weights=w, known_labels=k)


def test_bad_per_row_data_on_the_cluster_is_one_line(scheduler: str, tmp_path: Path) -> None:
    frame = weighed_table(300, seed=16)
    frame.loc[250, "w"] = -2.0
    table_parts(tmp_path / "parts", frame, 3, "csv")
    (tmp_path / "m.csv").write_text("a,b\n1,2\n3,NA\n5,6\n")
    (tmp_path / "none.csv").write_text("a,b\n1,NA\nNA,2\n")
    cases = [(["parts", "--weights-column", "w"], 1,
              "parts: column 'w': weight -2 of row 250 (counting from 0)"),
             (["parts", "--weights-column", "nope"], 1, "no weights column 'nope'"),
             (["parts", "--columns", "c0,c1", "--known-column", "k", "-k", "1"], 1,
              "known label 1 of row"),
             (["none.csv", "--missing", "drop"], 1, "every one of the 2 rows has a missing"),
             (["m.csv"], 1, "m.csv:3: column 'b': missing value 'NA'; use --missing drop")]
    for args, status, message in cases:
        result = invoke_in(tmp_path, "fit", *args, *([] if "-k" in args else ["-k", "2"]),
                           "--backend", "dask", "--scheduler", scheduler)
        assert result.exit_code == status, result.stderr
        lines = result.stderr.strip().splitlines()
        assert message in lines[-1] and "Traceback" not in result.stderr, result.stderr


def test_a_weighted_fit_in_a_real_process(scheduler: str, tmp_path: Path) -> None:
    """`emgmm fit --backend dask --weights-column w` in a subprocess: the local labels."""
    frame = weighed_table(seed=17)
    table_parts(tmp_path / "parts", frame[["c0", "c1", "c2", "w"]], 4, "csv")
    frame[["c0", "c1", "c2", "w"]].to_csv(tmp_path / "whole.csv", index=False,
                                          float_format="%.17g")
    env = {**os.environ, "NO_COLOR": "1"}
    cmd = [sys.executable, "-m", "emgmm_cli", "fit", "-k", "3", "--seed", "6",
           "--weights-column", "w"]
    local = subprocess.run([*cmd, "whole.csv"], cwd=tmp_path, capture_output=True,
                           text=True, env=env, timeout=120)
    remote = subprocess.run([*cmd, "parts", "--backend", "dask", "--scheduler", scheduler],
                            cwd=tmp_path, capture_output=True, text=True, env=env,
                            timeout=120)
    assert local.returncode == 0 and remote.returncode == 0, remote.stderr
    assert remote.stdout == local.stdout and remote.stdout.count("\n") == 3000
    assert "Traceback" not in remote.stderr and "RuntimeWarning" not in remote.stderr


# --------------------------------------------------------------------------- EM with missing values


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "VEV"])
def test_em_with_missing_values_matches_the_local_backend(scheduler: str, tmp_path: Path,
                                                          covariance_type: str) -> None:
    """--missing em over 4 parts with 120 incomplete rows, weights and known labels: each
    partition's rows grouped by pattern on its worker, the local trajectory to 1e-10."""
    from emgmm_cli.app.requests import ReadOptions

    frame = weighed_table(seed=18, holes=120)
    frame.loc[frame.index[::97], "c2"] = np.nan  # a second pattern, and rows with both
    x, w, k = split_table(frame)
    parts = table_parts(tmp_path / "parts", frame, 4, "csv")
    start = np.nan_to_num(x[[0, 1500, 2999]])
    options: dict[str, Any] = dict(covariance_type=covariance_type, tol=1e-10, max_iter=30,
                                   seed=3, missing="em")
    local = emgmm_cli.fit(x, 3, means_init=start, sample_weights=w, known_labels=k, **options)
    seeded = emgmm_cli.fit(x, 3, **options)
    read = ReadOptions(weights_column="w", known_column="k")
    with emgmm_cli.backend("dask", scheduler=scheduler):
        remote = emgmm_cli.fit(str(parts), 3, means_init=start, read=read, **options)
        assert remote.document["n_incomplete"] == local.document["n_incomplete"] > 120
        assert len(remote.data.missing) == 4  # type: ignore[attr-defined]
        assert_same_fit(remote, local)
        np.testing.assert_array_equal(remote.labels, local.labels)
        np.testing.assert_allclose(remote.responsibilities, local.responsibilities,
                                   rtol=1e-8, atol=1e-12)
        assert_same_fit(emgmm_cli.fit(str(parts), 3, read=ReadOptions(columns=("c0", "c1", "c2")),
                                      **options), seeded)


def test_em_with_missing_values_on_the_command_line(scheduler: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """fit (part files written by the workers, --standardize), select, predict and score
    with --missing em: the local results."""
    from emgmm_cli.app import selecting

    frame = weighed_table(900, seed=19, holes=40)[["c0", "c1", "c2"]]
    table_parts(tmp_path / "parts", frame, 3, "csv")
    frame.to_csv(tmp_path / "whole.csv", index=False, float_format="%.17g", na_rep="NA")
    dask = ["--backend", "dask", "--scheduler", scheduler]
    fit = ["fit", "-k", "3", "--seed", "1", "--missing", "em", "--standardize"]
    assert invoke_in(tmp_path, *fit[:1], "whole.csv", *fit[1:], "--output-dir",
                     "local").exit_code == 0
    remote = invoke_in(tmp_path, *fit[:1], "parts", *fit[1:], "--output-dir", "dask", *dask)
    assert remote.exit_code == 0, remote.stderr
    a, b = (json.loads((tmp_path / n / "model.json").read_text()) for n in ("local", "dask"))
    assert b["n_incomplete"] == a["n_incomplete"] == 40
    np.testing.assert_allclose(b["means"], a["means"], rtol=RTOL)
    assert b["log_likelihood"] == pytest.approx(a["log_likelihood"], rel=RTOL)
    labels = [line for p in sorted((tmp_path / "dask" / "labels").iterdir())
              for line in p.read_text().splitlines()]
    assert labels == (tmp_path / "local" / "labels.csv").read_text().splitlines()

    select = ["select", "-k", "2-3", "-c", "full,diag", "--seed", "2", "--n-init", "2",
              "--missing", "em", "--model", "-"]
    local = invoke_in(tmp_path, *select, "whole.csv", "--table", "local.csv")
    remote = invoke_in(tmp_path, *select, "parts", "--table", "dask.csv", *dask)
    assert local.exit_code == 0 and remote.exit_code == 0, remote.stderr
    assert (tmp_path / "local.csv").read_text() == (tmp_path / "dask.csv").read_text()
    assert json.loads(remote.stdout)["means"] == json.loads(local.stdout)["means"]

    model = ["local/model.json", "--missing", "em"]
    for command, extra in (("predict", ["--proba"]), ("score", ["--json"])):
        local = invoke_in(tmp_path, command, model[0], "whole.csv", *model[1:], *extra)
        remote = invoke_in(tmp_path, command, model[0], "parts", *model[1:], *extra, *dask)
        assert local.exit_code == 0 and remote.exit_code == 0, remote.stderr
        if command == "predict":
            np.testing.assert_allclose(np.loadtxt(remote.stdout.splitlines()[1:], delimiter=","),
                                       np.loadtxt(local.stdout.splitlines()[1:], delimiter=","),
                                       rtol=1e-9, atol=1e-12)
        else:
            assert json.loads(remote.stdout)["log_likelihood"] == pytest.approx(
                json.loads(local.stdout)["log_likelihood"], rel=RTOL)

    monkeypatch.setattr(selecting, "WORKER_SHARE", 0.0)  # every cell a fit over the cluster
    assert_same_selection(scheduler, frame.to_numpy(), [2, 3], missing="em")


def test_the_screen_reads_the_values_the_rows_hold_on_the_cluster(scheduler: str,
                                                                   tmp_path: Path) -> None:
    """--missing em on the cluster: the screen sees the values the rows hold, not the
    column means put in their place, as the local backend: a column of categories with
    missing values is warned about with its own values, and a column without any value
    is refused."""
    rng = np.random.default_rng(20)
    x = blobs(600)
    category = rng.integers(0, 3, len(x)).astype(float)
    category[rng.random(len(x)) < 0.1] = np.nan
    np.save(tmp_path / "category.npy", np.column_stack([x, category]))
    np.save(tmp_path / "empty.npy", np.column_stack([x, np.full(len(x), np.nan)]))
    for name, status in (("category.npy", 0), ("empty.npy", 1)):
        args = ["fit", name, "-k", "2", "--seed", "0", "--missing", "em", "-o", "l.csv"]
        local = invoke_in(tmp_path, *args)
        remote = invoke_in(tmp_path, *args, "--backend", "dask", "--scheduler", scheduler)
        assert local.exit_code == remote.exit_code == status, remote.stderr
        assert remote.stderr == local.stderr


def test_columns_never_observed_together_are_named_on_the_cluster(scheduler: str,
                                                                  tmp_path: Path) -> None:
    """The warning of two columns never observed in one row (tests/test_missing.py) for
    rows on the cluster, in fit and select, as the local backend gives it."""
    x = blobs(600)
    x[:300, 1] = np.nan
    x[300:, 0] = np.nan
    write_parts(tmp_path / "parts", x, 3, "npy")
    np.save(tmp_path / "whole.npy", x)
    for command in (["fit", "-k", "2"], ["select", "-k", "1-2", "-c", "VVV,VVI"]):
        args = [*command, "--seed", "0", "--missing", "em", "-o", "out.csv"]
        local = invoke_in(tmp_path, args[0], "whole.npy", *args[1:])
        remote = invoke_in(tmp_path, args[0], "parts", *args[1:], "--backend", "dask",
                           "--scheduler", scheduler)
        assert local.exit_code == remote.exit_code == 0, remote.stderr
        assert "hold values but never in the same row" in local.stderr
        assert remote.stderr == local.stderr.replace("whole.npy", "parts")


def test_workers_beside_a_running_scheduler_is_refused(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """--workers beside --scheduler (or $DASK_SCHEDULER_ADDRESS) was ignored: the run
    joined the scheduler with its own workers, exit 0.  Two clusters named: bad usage,
    before anything is read or started; in Python, an InvalidParameter."""
    np.save(tmp_path / "x.npy", blobs(60))
    args = ["fit", "x.npy", "-k", "2", "--backend", "dask", "--workers", "2"]
    refused = invoke_in(tmp_path, *args, "--scheduler", "tcp://127.0.0.1:1")
    assert (refused.exit_code, refused.stderr.splitlines()[-1]) == (
        2, "Error: --workers starts a local cluster of its own, and --scheduler names a "
           "running one; give one of them")
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:1")
    refused = invoke_in(tmp_path, *args)
    assert refused.exit_code == 2
    assert "and $DASK_SCHEDULER_ADDRESS names a running one" in refused.stderr
    with pytest.raises(emgmm_cli.InvalidParameter, match="^workers starts a local cluster"):
        with emgmm_cli.backend("dask", workers=2):
            pass


def test_a_point_standardized_beyond_the_dtype_is_refused_on_the_cluster(
        scheduler: str, tmp_path: Path) -> None:
    """The workers standardize their partitions as the local backend standardizes its
    array: a value that (x - center) / scale carries past float32 is refused (it gave
    NaN log-densities where it ran unchecked), naming the value, its column and the fix."""
    x = blobs(seed=4) * 1e-3  # spreads of about 0.002
    np.save(tmp_path / "x.npy", x)
    assert invoke_in(tmp_path, "fit", "x.npy", "-k", "3", "--seed", "0", "--standardize",
                     "--model", "m.json").exit_code == 0
    far = x.copy()
    far[7, 1] = 1e37  # a float32, whose z is not
    write_parts(tmp_path / "parts", far, 3, "npy")
    scale = json.loads((tmp_path / "m.json").read_text())["transform"]["scale"][1]
    done = invoke_in(tmp_path, "score", "m.json", "parts", "--dtype", "float32", "--backend",
                     "dask", "--scheduler", scheduler)
    assert (done.exit_code, done.stdout) == (1, "")
    assert done.stderr.endswith(
        f"column '1': value 1e+37, standardized ((x - center) / scale, scale {scale:.3g}), "
        "is beyond what float32 holds; read the data as float64 (--dtype float64)\n")
