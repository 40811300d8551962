"""`batch --skip-existing` keeps a dataset only when its model was fitted from the same
inputs as asked now: sample weights, known labels, the missing-value policy, the init
model and frozen parameters (and the content of the files among them), not only the same
fit options.  Each case is a real change that gives another fit, checked to give one.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emgmm_cli.engine.options import INPUT_SPECS
from emgmm_cli.io.model import load_model
from conftest import invoke_in

N = 120


def _status(folder: Path) -> list[str]:
    with open(folder / "out" / "summary.csv", newline="", encoding="utf-8") as fh:
        return [r["status"] for r in csv.DictReader(fh)]


@pytest.fixture()
def work(tmp_path: Path) -> Path:
    """data/x.csv (two blobs, a weight column w, a label column z, one missing value),
    weights files (w1.csv: w, w2.csv: another), labels files (z.csv: z, z2.csv: other
    rows) and a model to continue from."""
    rng = np.random.default_rng(5)
    x = np.r_[rng.normal(size=(N // 2, 2)), rng.normal(size=(N // 2, 2)) + [3.0, 1.0]]
    w = rng.uniform(0.5, 2.0, N)
    z = np.where(rng.random(N) < 0.2, np.arange(N) // (N // 2), -1)
    (tmp_path / "data").mkdir()
    lines = ["a,b,w,z"] + [f"{a:.17g},{b:.17g},{c:.17g},{d}" for (a, b), c, d in
                           zip(x.tolist(), w.tolist(), z.tolist())]
    lines[7] = lines[7].split(",", 1)[0] + ",," + ",".join(lines[7].split(",")[2:])
    (tmp_path / "data" / "x.csv").write_text("\n".join(lines) + "\n")
    np.savetxt(tmp_path / "w1.csv", w)
    np.savetxt(tmp_path / "w2.csv", w[::-1])
    np.savetxt(tmp_path / "z.csv", z, fmt="%d")
    np.savetxt(tmp_path / "z2.csv", np.where(rng.random(N) < 0.5, np.arange(N) // (N // 2), -1),
               fmt="%d")
    r = invoke_in(tmp_path, "fit", "data/x.csv", "-k", "2", "--columns", "a,b", "--missing",
                  "drop", "--seed", "1", "--max-iter", "2", "--model", "start.json", "-q",
                  "-o", "/dev/null")
    assert r.exit_code == 0, r.stderr
    return tmp_path


BASE = ["batch", "data", "-k", "2", "--seed", "0", "--output-dir", "out", "--columns", "a,b"]


def _batch(work: Path, *extra: str) -> list[str]:
    r = invoke_in(work, *BASE, *extra)
    assert r.exit_code == 0, r.stderr
    return _status(work)


@pytest.mark.parametrize(("first", "then"), [
    (["--missing", "drop"], ["--missing", "em"]),
    (["--missing", "drop"], ["--missing", "drop", "--weights-column", "w"]),
    (["--missing", "drop", "--weights-column", "w"], ["--missing", "drop", "--sample-weights",
                                                      "w2.csv"]),
    (["--missing", "drop", "--sample-weights", "w1.csv"],
     ["--missing", "drop", "--sample-weights", "w2.csv"]),
    (["--missing", "em"], ["--missing", "em", "--known-column", "z"]),
    (["--missing", "em", "--known-column", "z"], ["--missing", "em", "--known-labels",
                                                  "z2.csv"]),
    (["--missing", "drop"], ["--missing", "drop", "--init-model", "start.json"]),
    (["--missing", "drop", "--init-model", "start.json"],
     ["--missing", "drop", "--init-model", "start.json", "--freeze", "weights"]),
])
def test_other_inputs_are_fitted_again(work: Path, first: list[str], then: list[str]) -> None:
    model = work / "out" / "x" / "model.json"
    assert _batch(work, *first) == ["ok"]
    assert _batch(work, *first, "--skip-existing") == ["skipped"]
    before = json.loads(model.read_text())
    assert _batch(work, *then, "--skip-existing") == ["ok"]
    after = json.loads(model.read_text())
    assert after["log_likelihood"] != before["log_likelihood"]  # another fit indeed
    assert _batch(work, *then, "--skip-existing") == ["skipped"]
    # the model records them, and reads back
    recorded = {name: after["options"][name] for name in INPUT_SPECS}
    assert recorded["missing"] == then[1]
    load_model(str(model))


def test_a_changed_file_is_fitted_again(work: Path) -> None:
    """The same --sample-weights and --init-model names, other content: fitted again."""
    args = ["--missing", "drop", "--sample-weights", "w1.csv", "--init-model", "start.json"]
    model = work / "out" / "x" / "model.json"
    assert _batch(work, *args) == ["ok"]
    digests = json.loads(model.read_text())["input_sha256"]
    assert set(digests) == {"sample_weights", "init_model"}
    (work / "w1.csv").write_bytes((work / "w2.csv").read_bytes())
    assert _batch(work, *args, "--skip-existing") == ["ok"]
    assert _batch(work, *args, "--skip-existing") == ["skipped"]
    r = invoke_in(work, "fit", "data/x.csv", "-k", "2", "--columns", "a,b", "--missing",
                  "drop", "--seed", "2", "--max-iter", "3", "--model", "start.json", "-q",
                  "-o", "/dev/null")
    assert r.exit_code == 0, r.stderr
    assert _batch(work, *args, "--skip-existing") == ["ok"]


def test_a_model_of_an_earlier_version_counts_as_the_defaults(work: Path) -> None:
    """A model.json without the inputs (written before they were recorded) was fitted
    with the defaults: kept for a run with the defaults, not for one with weights."""
    model = work / "out" / "x" / "model.json"
    assert _batch(work, "--missing", "drop") == ["ok"]
    doc = json.loads(model.read_text())
    for name in INPUT_SPECS:
        del doc["options"][name]
    model.write_text(json.dumps(doc))
    load_model(str(model))
    assert _batch(work, "--missing", "drop", "--skip-existing") == ["ok"]  # not 'error'
    doc = json.loads(model.read_text())
    for name in INPUT_SPECS:
        if name != "missing":
            del doc["options"][name]
    model.write_text(json.dumps(doc))
    assert _batch(work, "--missing", "drop", "--skip-existing") == ["skipped"]


def test_skip_existing_in_a_real_process(work: Path) -> None:
    run = lambda *a: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "emgmm_cli", *BASE, "--missing", "drop", *a], cwd=work,
        capture_output=True, text=True, check=False)
    assert run().returncode == 0
    assert run("--skip-existing").returncode == 0 and _status(work) == ["skipped"]
    proc = run("--skip-existing", "--weights-column", "w")
    assert proc.returncode == 0, proc.stderr
    assert _status(work) == ["ok"]
    assert json.loads((work / "out" / "x" / "model.json").read_text())["options"][
        "weights_column"] == "w"


def test_fit_and_the_python_api_record_the_inputs(work: Path) -> None:
    import emgmm_cli

    r = invoke_in(work, "fit", "data/x.csv", "-k", "2", "--columns", "a,b", "--missing",
                  "em", "--known-labels", "z.csv", "--seed", "0", "--json")
    doc = json.loads(r.stdout)
    assert {n: doc["options"][n] for n in INPUT_SPECS} == {
        "weights_column": None, "sample_weights": None, "known_column": None,
        "known_labels": "z.csv", "missing": "em"}
    assert set(doc["input_sha256"]) == {"known_labels"}
    x = np.random.default_rng(0).normal(size=(30, 2))
    fitted = emgmm_cli.fit(x, 2, seed=0, sample_weights=np.ones(30))
    assert fitted.document["options"]["sample_weights"] == "<array>"
    assert "input_sha256" not in fitted.document
    chosen = emgmm_cli.select(x, [1, 2], ["full"], seed=0, missing="drop").best
    assert chosen is not None and chosen.document["options"]["missing"] == "drop"


@pytest.mark.parametrize(("then", "kept"), [
    (["--dtype", "float32"], False),
    (["--columns", "a"], False),
    (["--columns", "b,a"], False),
    (["--columns", "a,b,w"], False),
    (["--columns", "0,1"], True),  # the same columns, by index
    (["-d", ","], True),  # the delimiter the extension says
    (["--header"], True),  # the header that is detected
])
def test_other_reading_options_are_fitted_again(work: Path, then: list[str],
                                                kept: bool) -> None:
    """--skip-existing kept a model of float64 data for --dtype float32, and one of
    columns a,b for --columns a.  Now the model's dtype must be the one asked for, and
    its feature_names the columns the reading options select now in the file's head."""
    model = work / "out" / "x" / "model.json"
    assert _batch(work, "--missing", "drop") == ["ok"]
    again = _batch(work, "--missing", "drop", "--skip-existing", *then)
    assert again == ["skipped" if kept else "ok"]
    doc = json.loads(model.read_text())
    assert _batch(work, "--missing", "drop", "--skip-existing", *then) == ["skipped"]
    assert doc == json.loads(model.read_text())


@pytest.mark.parametrize("columns", [["--weights-column", "w", "--known-column", "3"],
                                     ["--weights-column", "2", "--known-column", "z"],
                                     ["--columns", "a,b", "--weights-column", "2",
                                      "--known-column", "3"]])
def test_weights_and_known_columns_by_index_are_kept(work: Path, columns: list[str]) -> None:
    """The columns a model was fitted from were found from the head by removing the
    weights column, then taking the known-labels column's index among those left: with
    --known-column 3 after --weights-column w that was z's neighbour, no model matched,
    and --skip-existing fitted the dataset again every time.  Now an index is the input's
    own, as the fit reads it."""
    args = ["batch", "data", "-k", "2", "--seed", "0", "--output-dir", "out", "--missing",
            "drop", *columns]
    assert invoke_in(work, *args).exit_code == 0 and _status(work) == ["ok"]
    names = json.loads((work / "out" / "x" / "model.json").read_text())["feature_names"]
    assert names == ["a", "b"]
    r = invoke_in(work, *args, "--skip-existing")
    assert r.exit_code == 0, r.stderr
    assert _status(work) == ["skipped"]


def test_a_head_that_cannot_tell_the_rows_is_fitted_again(tmp_path: Path) -> None:
    """A first line "0,1" is a header of the names headerless columns get (read so over
    decimals), or a row of data (with --no-header): the names cannot tell which a model
    was fitted from, so it is fitted again.  Other headerless text, and .npy, are kept."""
    rng = np.random.default_rng(3)
    (tmp_path / "data").mkdir()
    rows = [f"{a:.6f},{b:.6f}" for a, b in rng.normal(size=(40, 2)).tolist()]
    (tmp_path / "data" / "h.csv").write_text("0,1\n" + "\n".join(rows) + "\n")
    (tmp_path / "data" / "n.csv").write_text("\n".join(rows) + "\n")
    np.save(tmp_path / "data" / "p.npy", rng.normal(size=(40, 2)))
    args = ["batch", "data", "-k", "2", "--seed", "0", "--output-dir", "out", "-q"]
    assert invoke_in(tmp_path, *args).exit_code == 0
    assert _status(tmp_path) == ["ok", "ok", "ok"]
    assert json.loads((tmp_path / "out" / "h" / "model.json").read_text())["n_samples"] == 40
    assert invoke_in(tmp_path, *args, "--skip-existing").exit_code == 0
    assert _status(tmp_path) == ["ok", "skipped", "skipped"]
    assert invoke_in(tmp_path, *args, "--skip-existing", "--no-header").exit_code == 0
    assert _status(tmp_path)[0] == "ok"
    assert json.loads((tmp_path / "out" / "h" / "model.json").read_text())["n_samples"] == 41


def test_the_digest_recorded_is_of_the_file_as_it_was_read(tmp_path: Path) -> None:
    """A weights file replaced while the fit runs (or before a selection's best is asked
    for) is recorded as it was when read, so that --skip-existing later sees the change."""
    import hashlib

    import emgmm_cli
    from emgmm_cli.io.model import DIGESTS_FIELD

    rng = np.random.default_rng(2)
    x = np.r_[rng.normal(size=(20, 2)), rng.normal(size=(20, 2)) + 4.0]
    weights = tmp_path / "w.csv"
    np.savetxt(weights, rng.uniform(0.5, 2.0, 40))
    read = hashlib.sha256(weights.read_bytes()).hexdigest()

    def replace(*_: object) -> None:
        weights.write_text("1\n" * 40)

    by_file = emgmm_cli.ReadOptions(sample_weights=str(weights))
    fit = emgmm_cli.fit(x, 2, seed=0, read=by_file, on_iteration=replace, max_iter=3)
    now = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert fit.document[DIGESTS_FIELD]["sample_weights"] == read != now
    np.savetxt(weights, rng.uniform(0.5, 2.0, 40))
    read = hashlib.sha256(weights.read_bytes()).hexdigest()
    selected = emgmm_cli.select(x, [1, 2], "VVV", seed=0, read=by_file)
    replace()
    assert selected.best is not None
    assert selected.best.document[DIGESTS_FIELD]["sample_weights"] == read
