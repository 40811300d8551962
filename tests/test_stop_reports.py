"""Why every fit stopped, and what happened on the way, in every report: the trace (every
format), fit's --json, select's table and batch's summary.

The trace's event column is checked against what can be known without it: the model's
events (kind, component, iteration), its stopped, the number of rows max-iter allows,
and the change below tol on the row of a converged fit.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import emgmm_cli
from emgmm_cli.app.fitting import TRACE_COLUMNS
from emgmm_cli.cli.main import cli
from emgmm_cli.engine.em import STOP_REASONS
from conftest import invoke_in


def _degenerating() -> np.ndarray:
    """Two blobs and three copies of one far point: random starts collapse components
    (as in test_on_degenerate)."""
    rng = np.random.default_rng(0)
    return np.r_[rng.normal(size=(200, 2)), np.tile([[8.0, 8.0]], (3, 1)),
                 rng.normal(size=(200, 2)) + [4, 0]]


def _two_blobs(seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.r_[rng.normal(size=(150, 2)), rng.normal(size=(150, 2)) + [3.0, 0.0]]


def _save(path: Path, x: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, x, delimiter=",", header="a,b", comments="")
    return path


def _read_trace(path: Path) -> list[dict[str, Any]]:
    """A trace file as records, None for an empty cell, whatever its format."""
    ext = path.suffix
    if ext in (".csv", ".tsv"):
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh, delimiter="," if ext == ".csv" else "\t"))
        return [{k: (v if v != "" else None) for k, v in r.items()} for r in rows]
    if ext == ".json":
        return list(json.loads(path.read_text()))
    if ext == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    frame = pd.read_parquet(path)
    return [{k: (None if v is None or v != v else v) for k, v in r.items()}
            for r in frame.to_dict("records")]


def _expected_events(doc: dict[str, Any]) -> list[str | None]:
    """What the event column must hold, built from the model document alone: each event
    on the row of its iteration (a dropped component by the number in its message), the
    stop reason last."""
    rows: list[list[str]] = [[] for _ in range(doc["n_iter"])]
    for e in doc["events"]:
        if e["kind"] in ("not-converged", "time-limit"):
            continue
        component = e["component"]
        if e["kind"] == "dropped":
            component = int(e["message"].split()[1])
        name = e["kind"] if component is None else f"{e['kind']} {component}"
        rows[e["iteration"] - 1].append(name)
    rows[-1].append(doc["stopped"])
    return ["; ".join(r) if r else None for r in rows]


@pytest.mark.parametrize("action", ["keep", "reinit", "drop"])
@pytest.mark.parametrize("ext", ["csv", "tsv", "json", "jsonl", "parquet"])
def test_trace_names_every_event_on_its_iteration(tmp_path: Path, action: str,
                                                  ext: str) -> None:
    _save(tmp_path / "x.csv", _degenerating())
    r = invoke_in(tmp_path, "fit", "x.csv", "-k", "4", "--init", "random", "--seed", "0",
                  "--max-iter", "300", "--on-degenerate", action, "--trace", f"t.{ext}",
                  "--model", "m.json", "-q")
    assert r.exit_code == 0, r.stderr
    doc = json.loads((tmp_path / "m.json").read_text())
    kinds = {"keep": "degenerate", "reinit": "reinitialised", "drop": "dropped"}
    assert any(e["kind"] == kinds[action] for e in doc["events"])  # something to report
    rows = _read_trace(tmp_path / f"t.{ext}")
    assert list(rows[0]) == list(TRACE_COLUMNS)
    assert len(rows) == doc["n_iter"]
    assert [row["event"] for row in rows] == _expected_events(doc)
    assert rows[-1]["event"].split("; ")[-1] == doc["stopped"] == "converged"
    assert abs(float(rows[-1]["change"])) < doc["options"]["tol"]
    if action == "keep":  # the component that ended degenerate, named at the end
        assert rows[-1]["event"] == "; ".join(
            [f"degenerate {k}" for k in doc["degenerate"]] + ["converged"])


def test_npy_trace_holds_the_numbers(tmp_path: Path) -> None:
    _save(tmp_path / "x.csv", _two_blobs())
    args = ["fit", "x.csv", "-k", "2", "--seed", "1", "--accelerate", "none", "-q"]
    assert invoke_in(tmp_path, *args, "--trace", "t.npy").exit_code == 0
    assert invoke_in(tmp_path, *args, "--trace", "t.csv").exit_code == 0
    numbers = np.load(tmp_path / "t.npy")
    rows = _read_trace(tmp_path / "t.csv")
    assert numbers.shape == (len(rows), 4)
    assert numbers[:, 0].tolist() == [int(r["iteration"]) for r in rows]
    np.testing.assert_allclose(numbers[:, 1], [float(r["log_likelihood"]) for r in rows],
                               rtol=1e-9)


@pytest.mark.parametrize(("extra", "stopped"), [
    (("--max-iter", "3", "--tol", "0"), "max-iter"),
    (("--max-time", "0", "--tol", "0"), "time limit"),
    ((), "converged"),
])
def test_json_summary_and_trace_say_why_the_fit_stopped(tmp_path: Path, extra: tuple[str, ...],
                                                        stopped: str) -> None:
    _save(tmp_path / "x.csv", _two_blobs())
    r = invoke_in(tmp_path, "fit", "x.csv", "-k", "2", "--seed", "3", *extra, "--json",
                  "--trace", "t.csv")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    events = [row["event"] for row in doc["trace"]]
    assert doc["stopped"] == stopped and events[-1] == stopped
    assert events[:-1] == [None] * (len(events) - 1)
    assert [row["event"] for row in _read_trace(tmp_path / "t.csv")] == events
    if stopped == "max-iter":
        assert len(events) == 3
    if stopped == "time limit":
        assert len(events) == 1  # no iteration starts after a limit of 0 s


def test_python_api_trace_has_the_events() -> None:
    fitted = emgmm_cli.fit(_degenerating(), 4, init="random", seed=0, max_iter=300,
                           on_degenerate="drop")
    events = fitted.trace["event"]
    assert len(events) == fitted.n_iter and events[-1] == fitted.result.stopped
    assert sum(e is not None and e.startswith("dropped") for e in events) == (
        4 - fitted.params.n_components)


def test_show_trace_has_the_event_column(tmp_path: Path) -> None:
    path = _save(tmp_path / "x.csv", _two_blobs())
    r = CliRunner().invoke(cli, ["fit", str(path), "-k", "2", "--seed", "3", "--max-iter",
                                 "2", "--tol", "0", "--show-trace"],
                           env={"EMGMM_FORCE_TTY": "1", "COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    # the trace's header row (a warning line, on stderr, names the path, whose folder is
    # named after this test: "...event..." and "iterations" both)
    head = next(i for i, line in enumerate(lines) if re.match(r" iteration ┃.* event", line))
    assert lines[head + 3].rstrip().endswith("│ max-iter")
    assert lines[head + 2].rstrip().endswith("│")


def test_select_table_says_why_each_cell_stopped(tmp_path: Path) -> None:
    _save(tmp_path / "x.csv", _two_blobs())
    args = ["select", "x.csv", "-k", "1-3", "-c", "full,diag", "--seed", "2"]
    # tol 1e-12, not 0: K = 1 settles within rounding at once, but an accelerated step
    # can keep rounding-level changes going for a few passes
    r = invoke_in(tmp_path, *args, "--max-iter", "4", "--tol", "1e-12", "--table", "t.csv",
                  "--model", "best.json")
    assert r.exit_code == 0, r.stderr
    with open(tmp_path / "t.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert "stopped" in rows[0] and len(rows) == 6
    # K = 1 converges at once; the others run out of iterations
    assert [r["stopped"] for r in rows if r["n_components"] == "1"] == ["converged"] * 2
    assert all(r["stopped"] == "max-iter" and r["n_iter"] == "4"
               for r in rows if r["n_components"] != "1")
    best = next(r for r in rows if r["best"] == "true")
    assert json.loads((tmp_path / "best.json").read_text())["stopped"] == best["stopped"]
    limited = invoke_in(tmp_path, *args, "--max-time", "0", "--json")
    cells = json.loads(limited.stdout)["cells"]
    assert {c["stopped"] for c in cells if c["n_components"] > 1} == {"time limit"}
    assert {c["stopped"] for c in cells} <= set(STOP_REASONS)


def test_a_fit_stopped_degenerate_says_so_in_select_and_batch(tmp_path: Path) -> None:
    """--on-degenerate error stops a fit without a model: select's failed cell and
    batch's failed dataset say stopped 'degenerate', and name the component."""
    _save(tmp_path / "in" / "x.csv", _degenerating())
    args = ["--init", "random", "--n-init", "1", "--max-iter", "300", "--on-degenerate",
            "error", "--seed", "0"]
    r = invoke_in(tmp_path, "select", "in/x.csv", "-k", "1-3", "-c", "full", *args,
                  "--table", "t.csv")
    assert r.exit_code == 0, r.stderr
    with open(tmp_path / "t.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    failed = [row for row in rows if row["status"] == "failed"]
    assert failed and all(row["stopped"] == "degenerate" and "degenerated at iteration"
                          in row["message"] for row in failed)
    assert all(row["stopped"] == "converged" for row in rows if row["status"] == "ok")
    r = invoke_in(tmp_path, "batch", "in", "-k", "3", *args, "--output-dir", "out")
    assert r.exit_code == 1
    with open(tmp_path / "out" / "summary.csv", newline="", encoding="utf-8") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["stopped"] == "degenerate" and "degenerated at iteration" in row["status"]


def test_batch_summary_says_why_each_dataset_stopped(tmp_path: Path) -> None:
    """A real process: the summary's stopped is each model's, for datasets fitted and
    skipped; the traces end with it."""
    for i, seed in enumerate((1, 2)):
        _save(tmp_path / "in" / f"d{i}.csv", _two_blobs(seed))
    run = lambda *a: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "emgmm_cli", "batch", "in", "-k", "2", "--seed", "0",
         "--output-dir", "out", *a], cwd=tmp_path, capture_output=True, text=True,
        check=False)
    for extra, stopped, status in (
            (("--max-iter", "2", "--tol", "0"), "max-iter", "ok"),
            (("--max-iter", "2", "--tol", "0", "--skip-existing"), "max-iter", "skipped"),
            ((), "converged", "ok")):
        proc = run(*extra)
        assert proc.returncode == 0, proc.stderr
        with open(tmp_path / "out" / "summary.csv", newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        assert [(r["stopped"], r["status"]) for r in rows] == [(stopped, status)] * 2
        for i in range(2):
            folder = tmp_path / "out" / f"d{i}"
            assert json.loads((folder / "model.json").read_text())["stopped"] == stopped
            assert _read_trace(folder / "trace.csv")[-1]["event"] == stopped
    doc = json.loads(run("--json").stdout)
    assert [r["stopped"] for r in doc["rows"]] == ["converged"] * 2
