"""The order of the components (--order): the same optimum gives the same labels,
responsibilities and model, whatever the seed, the restart that won or --n-init."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import emgmm_cli
from emgmm_cli.cli.main import cli
from emgmm_cli.engine.ordering import component_order
from emgmm_cli.vocab import ORDER_WEIGHT_TIE

ROOT = Path(__file__).resolve().parent.parent
HEIGHTS = ROOT / "sample_data" / "heights.csv"


def run(*args: Any) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], env={"EMGMM_FORCE_TTY": "0"})
    assert result.exit_code == 0, (result.stderr, result.exception)
    return result.stdout


@pytest.fixture(scope="module")
def three_blobs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One clear optimum: three separated blobs of unequal sizes."""
    path = tmp_path_factory.mktemp("order") / "blobs.csv"
    run("make-blobs", "-n", "150,100,250", "--centers", "0,0;6,0;0,6", "--seed", "3",
        "-o", path)
    return path


def test_weight_order_is_largest_first_and_equal_weights_go_by_their_means() -> None:
    means = np.array([[5.0, 0.0], [1.0, 9.0], [1.0, 2.0], [0.0, 4.0]])
    weights = np.array([0.2, 0.3, 0.3 - ORDER_WEIGHT_TIE / 2, 0.2 + ORDER_WEIGHT_TIE / 3])
    assert component_order(weights, means, "weight").tolist() == [2, 1, 3, 0]
    assert component_order(weights, means, "mean").tolist() == [3, 2, 1, 0]
    assert component_order(weights, means, "none").tolist() == [0, 1, 2, 3]
    clear = np.array([0.1, 0.5, 0.15, 0.25])
    assert component_order(clear, means, "weight").tolist() == [1, 3, 2, 0]


def test_every_seed_and_number_of_restarts_gives_the_same_labels(three_blobs: Path) -> None:
    outputs = {run("fit", three_blobs, "-k", 3, "--seed", seed)
               for seed in range(10)}
    outputs |= {run("fit", three_blobs, "-k", 3, "--seed", 5, "--n-init", n) for n in (1, 7)}
    assert len(outputs) == 1
    labels = np.array(outputs.pop().split(), dtype=int)
    assert np.bincount(labels).tolist() == [250, 150, 100]  # largest first


def test_the_model_and_the_responsibilities_agree_with_the_labels(three_blobs: Path,
                                                                 tmp_path: Path) -> None:
    docs, resps = [], []
    for seed in (0, 1, 2):
        model, resp = tmp_path / f"m{seed}.json", tmp_path / f"r{seed}.csv"
        labels = run("fit", three_blobs, "-k", 3, "--seed", seed, "--model", model,
                     "--responsibilities", resp, "-o", "-", "--tol", "1e-10")
        docs.append(json.loads(model.read_text()))
        table = np.loadtxt(resp, delimiter=",", skiprows=1)
        assert (table.argmax(axis=1) == np.array(labels.split(), dtype=int)).all()
        resps.append(table)
    for doc in docs[1:]:
        np.testing.assert_allclose(doc["means"], docs[0]["means"], rtol=1e-4)
    assert docs[0]["weights"] == sorted(docs[0]["weights"], reverse=True)
    assert docs[0]["options"]["order"] == "weight"
    for table in resps[1:]:
        np.testing.assert_allclose(table, resps[0], atol=1e-6)


def test_mean_order_puts_the_shorter_group_first_and_none_keeps_the_restarts_order() -> None:
    kmeans: dict[str, Any] = {"init": "kmeans", "accelerate": "none"}  # the optimum near the two groups
    fit = emgmm_cli.fit(str(HEIGHTS), 2, seed=0, order="mean", **kmeans)
    assert fit.means[0, 0] < fit.means[1, 0]
    assert fit.labels[0] == 1  # the first 300 rows are the taller group
    raw = emgmm_cli.fit(str(HEIGHTS), 2, seed=0, order="none", **kmeans)
    order = component_order(raw.weights, raw.means, "mean")
    np.testing.assert_array_equal(raw.means[order], fit.means)


def test_a_degenerate_component_is_renumbered_with_the_others(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("x\n" + "\n".join(["0"] * 5 + [str(v) for v in np.linspace(5, 9, 40)]) + "\n")
    fit = emgmm_cli.fit(str(path), 2, seed=0, order="weight", init="kmeans")
    for c in fit.result.degenerate:
        assert fit.weights[c] == min(fit.weights)
    assert fit.result.degenerate
    for event in fit.result.events:
        if event.component is not None:
            assert event.message.startswith(f"component {event.component}:")


def test_select_and_batch_order_their_fits(three_blobs: Path, tmp_path: Path) -> None:
    run("select", three_blobs, "-k", "2-3", "-c", "full", "--seed", 1, "--n-init", 1,
        "--model", tmp_path / "best.json", "--table", tmp_path / "cells.csv")
    best = json.loads((tmp_path / "best.json").read_text())
    assert best["weights"] == sorted(best["weights"], reverse=True)
    run("batch", three_blobs, "-k", 3, "--order", "mean", "--seed", 1,
        "--output-dir", tmp_path / "out", "-q")
    (model,) = (tmp_path / "out").rglob("model.json")
    means = json.loads(model.read_text())["means"]
    assert [m[0] for m in means] == sorted(m[0] for m in means)


def test_a_model_file_without_order_still_loads(three_blobs: Path, tmp_path: Path) -> None:
    model = tmp_path / "m.json"
    run("fit", three_blobs, "-k", 3, "--seed", 0, "--model", model, "-q")
    doc = json.loads(model.read_text())
    del doc["options"]["order"]
    model.write_text(json.dumps(doc))
    assert run("predict", model, three_blobs) == run("fit", three_blobs, "-k", 3, "--seed", 0)
