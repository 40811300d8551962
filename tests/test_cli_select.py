"""`emgmm select` at the command line: options, where the table goes, files, failures,
degenerate cells, --jobs, and one real process on Old Faithful (the mclust comparison).

In-process runs use CliRunner (click >= 8.2 keeps result.stdout and result.stderr apart).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from emgmm_cli.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
FAITHFUL = ROOT / "sample_data" / "faithful.csv"
MCLUST = Path(__file__).resolve().parent / "data" / "mclust_faithful.csv"
COLUMNS = ("covariance_type,mclust,n_components,status,log_likelihood,n_parameters,bic,aic,"
           "icl,converged,n_iter,stopped,best,seed,message")
PROOF = ["-k", "1-9", "-c", "full,tied,diag,spherical", "--n-init", "5", "--seed", "0"]


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No forced terminal, no colour, a fixed width, whatever the caller's shell has."""
    monkeypatch.delenv("EMGMM_FORCE_TTY", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")


def invoke(*args: Any, tty: bool = False) -> Result:
    env = {"EMGMM_FORCE_TTY": "1" if tty else None}
    return CliRunner().invoke(cli, ["select", *[str(a) for a in args]], env=env)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.exit_code, result.stderr, result.exception)
    return result


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def mclust() -> dict[tuple[str, int], tuple[float, float]]:
    with open(MCLUST, newline="") as fh:
        return {(r["covariance_type"], int(r["K"])): (float(r["loglik"]), -float(r["mclust_bic"]))
                for r in csv.DictReader(fh)}


# --------------------------------------------------------------------------- the proof


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_faithful_subprocess_with_two_jobs_matches_one_job_and_mclust(method: str) -> None:
    """`emgmm select sample_data/faithful.csv -k 1-9 -c full,tied,diag,spherical --n-init 5
    --seed 0` in a real process (with --jobs 2: two worker processes, forked or spawned)
    writes the same table, byte for byte, as the same command run here with --jobs 1, and
    that table picks mclust's EEE,3 (all 14 models: tests/test_models.py)."""
    proc = subprocess.run(
        [sys.executable, "-m", "emgmm_cli", "select", str(FAITHFUL), *PROOF, "--jobs", "2"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
        env={**os.environ, "NO_COLOR": "1", "EMGMM_WORKER_START": method},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    here = ok(invoke(FAITHFUL, *PROOF, "--jobs", "1"))
    assert here.stdout == proc.stdout

    table = rows(proc.stdout)
    assert proc.stdout.splitlines()[0] == COLUMNS
    assert len(table) == 36
    best = [r for r in table if r["best"] == "true"]
    assert len(best) == 1
    assert (best[0]["covariance_type"], best[0]["mclust"], best[0]["n_components"]) == (
        "tied", "EEE", "3")
    reference = mclust()
    loglik, bic = reference[("tied", 3)]
    assert abs(float(best[0]["log_likelihood"]) - loglik) < 0.05
    assert abs(float(best[0]["bic"]) - 2314.3) < 0.05 and abs(float(best[0]["bic"]) - bic) < 0.05
    for r in table:
        assert r["status"] == "ok" and r["converged"] == "true", r
        assert r["stopped"] == "converged", r
        mclust_loglik, _ = reference[(r["covariance_type"], int(r["n_components"]))]
        assert float(r["log_likelihood"]) >= mclust_loglik - 0.01, r


# --------------------------------------------------------------------------- the command


def test_help_shows_every_option_and_examples() -> None:
    text = ok(invoke("--help")).stdout
    for flag in ("-k, --components", "-c, --covariance-type", "--criterion [bic|aic|icl]",
                 "--init", "--n-init", "--tol", "--max-iter", "--reg-covar", "--seed",
                 "--algorithm", "--dtype", "--memory-limit", "--cache-dir", "-o, --table, --output FILE", "--json", "--plot FILE",
                 "--model FILE", "-j, --jobs", "--columns", "-d, --delimiter", "-H, --no-header",
                 "-q, --quiet", "--debug"):
        assert flag in text, flag
    assert "--means-init" not in text
    assert "Examples:\n    emgmm select data.csv\n" in text
    assert "[default: auto]" in text and "[default: 1e-06" in text and "[default: 1-9]" in text
    assert "select" in ok(CliRunner().invoke(cli, ["--help"])).stdout


def test_terminal_table_marks_the_best_cell() -> None:
    out = ok(invoke(FAITHFUL, "-k", "1-3", "-c", "tied,diag", "--seed", "0", tty=True)).stdout
    lines = out.splitlines()
    assert lines[0].startswith(f"{FAITHFUL}: 272 rows x 2 columns; 6 cells, init auto, n_init 2")
    header = next(line for line in lines if line.lstrip().startswith("covariance"))
    assert header.split() == ["covariance", "K", "log-lik", "params", "BIC", "*", "AIC",
                              "ICL", "conv"]
    best = [line for line in lines if "<- best" in line]
    assert len(best) == 1 and best[0].split()[:3] == ["tied", "(EEE)", "3"]
    assert "-1126.32" in best[0] and "2314.30" in best[0]
    assert lines[-1] == ("best by BIC (lower is better): tied (EEE), K=3, BIC 2314.30 "
                         "(mclust reports BIC -2314.30)")


def test_pipe_gets_csv_and_quiet_terminal_gets_nothing() -> None:
    result = ok(invoke(FAITHFUL, "-k", "2-3", "-c", "full", "--seed", "1"))
    assert result.stderr == ""
    table = rows(result.stdout)
    assert [(r["covariance_type"], r["n_components"], r["status"]) for r in table] == [
        ("full", "2", "ok"), ("full", "3", "ok")]
    assert sum(r["best"] == "true" for r in table) == 1
    assert all(int(r["seed"]) >= 0 and r["message"] == "" for r in table)
    quiet = ok(invoke(FAITHFUL, "-k", "2", "-c", "full", "--seed", "1", "-q", tty=True))
    assert quiet.stdout == "" and quiet.stderr == ""


def test_criterion_icl_ranks_by_icl() -> None:
    args = [FAITHFUL, "-k", "1-3", "-c", "full,tied", "--seed", "0"]
    by_bic = rows(ok(invoke(*args)).stdout)
    by_icl = rows(ok(invoke(*args, "--criterion", "icl")).stdout)
    for a, b in zip(by_bic, by_icl):  # the same fits, another choice
        assert {k: v for k, v in a.items() if k != "best"} == {
            k: v for k, v in b.items() if k != "best"}
    pick = {r["covariance_type"] + r["n_components"] for r in by_bic if r["best"] == "true"}
    assert pick == {"tied3"}
    chosen = [r for r in by_icl if r["best"] == "true"]
    assert [(r["covariance_type"], r["n_components"]) for r in chosen] == [("full", "2")]
    assert float(chosen[0]["icl"]) == min(float(r["icl"]) for r in by_icl)
    out = ok(invoke(*args, "--criterion", "icl", tty=True)).stdout
    assert "ICL *" in out and "best by ICL (lower is better): full (VVV), K=2" in out


def test_skipped_cells_are_shown_with_the_reason_and_the_rest_complete() -> None:
    args = [FAITHFUL, "-k", "2,300", "-c", "diag,spherical", "--seed", "0", "--n-init", "1"]
    result = ok(invoke(*args))
    table = rows(result.stdout)
    skipped = [r for r in table if r["status"] == "skipped"]
    assert [(r["covariance_type"], r["n_components"]) for r in skipped] == [
        ("diag", "300"), ("spherical", "300")]
    reason = "300 components need at least 300 rows; the data has 272"
    for r in skipped:
        assert r["message"] == reason
        assert r["log_likelihood"] == r["bic"] == r["converged"] == "" and r["best"] == "false"
    assert [r["status"] for r in table if r["n_components"] == "2"] == ["ok", "ok"]
    # one reason, said once for the cells that give it
    assert result.stderr.splitlines() == [
        f"emgmm: warning: {FAITHFUL}: diag, spherical K=300 skipped: {reason}"]
    shown = ok(invoke(*args, tty=True)).stdout
    assert shown.count("skipped [1]") == 2 and "[2]" not in shown  # one note for the two
    assert f"[1] diag, spherical K=300: {reason}" in " ".join(shown.split())


def test_the_help_says_the_status_such_cells_get() -> None:
    """select --help said that cells K larger than the data allows are "shown as failed";
    the table shows them skipped (emgmm select faithful.csv -k 300: status skipped), and
    so do the help and the man page now."""
    result = invoke(FAITHFUL, "-k", "2,300", "-c", "full", "--seed", "0", "--n-init", "1")
    assert [r["status"] for r in rows(ok(result).stdout)] == ["ok", "skipped"]
    said = " ".join(ok(invoke("--help")).stdout.split())
    assert "(K larger than the data allows) are shown as skipped" in said
    assert "shown as failed" not in said
    page = " ".join((ROOT / "man" / "emgmm-select.1").read_text(encoding="utf-8").split())
    assert "A skipped or failed cell has empty numbers" in page


def test_reasons_that_differ_only_in_k_are_one(tmp_path: Path) -> None:
    """select -k 1-300 on 20 rows warned once for every K from 21 to 300 (280 lines, 280
    notes under the table): the reasons name their K.  Now reasons of skipped cells that
    differ only in K are one, the K written K and the cells by ranges of K."""
    data = tmp_path / "twenty.csv"
    made = CliRunner().invoke(cli, ["make-blobs", "-n", "20", "--n-centers", "2", "--seed",
                                    "0", "-o", str(data)])
    assert made.exit_code == 0, made.output
    args = [data, "-k", "2,21-23,25", "-c", "diag,full", "--seed", "0", "--n-init", "1"]
    result = ok(invoke(*args))
    assert result.stderr.splitlines() == [
        f"emgmm: warning: {data}: diag, full K=21-23; diag, full K=25 skipped: K components "
        "need at least K rows; the data has 20"]
    assert [r["message"] for r in rows(result.stdout) if r["status"] == "skipped"] == [
        f"{k} components need at least {k} rows; the data has 20" for k in (21, 22, 23, 25)
    ] * 2  # the table keeps each cell's own
    shown = " ".join(ok(invoke(*args, tty=True)).stdout.split())
    assert shown.count("skipped [1]") == 8 and "[2]" not in shown
    assert "[1] diag, full K=21-23; diag, full K=25: K components need at least K rows" in shown


def test_a_reason_many_cells_give_is_one_warning_naming_them_by_k(tmp_path: Path) -> None:
    """Every family's K = 1 cell refuses known labels up to 1, and K = 300 needs more rows:
    two warnings for 28 cells, each naming its cells by K, in table order."""
    known = tmp_path / "known.csv"
    known.write_text("\n".join(["0", "1"] + ["-1"] * 270) + "\n")
    result = ok(invoke(FAITHFUL, "-k", "1,2,300", "--seed", "0", "--n-init", "1",
                       "--known-labels", known))
    table = rows(result.stdout)
    families = ", ".join(r["covariance_type"] for r in table if r["n_components"] == "1")
    assert len(families.split(", ")) == 14
    assert all(r["status"] == "skipped" for r in table if r["n_components"] != "2")
    lines = result.stderr.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"emgmm: warning: {FAITHFUL}: {families} K=1 skipped: known "
                               "label 1 of row 1")
    assert lines[1] == (f"emgmm: warning: {FAITHFUL}: {families} K=300 skipped: 300 components "
                        "need at least 300 rows; the data has 272")
    # on a terminal, the table's cells point to those two notes
    shown = ok(invoke(FAITHFUL, "-k", "1,2,300", "--seed", "0", "--n-init", "1",
                      "--known-labels", known, tty=True)).stdout
    assert (shown.count("skipped [1]"), shown.count("skipped [2]"), "[3]" in shown) == (
        14, 14, False)
    flat = " ".join(shown.split())
    assert f"[1] {families} K=1: known label 1 of row 1" in flat
    assert f"[2] {families} K=300: 300 components need at least 300 rows" in flat


def test_no_cell_to_choose_is_an_error_and_writes_nothing(tmp_path: Path) -> None:
    table = tmp_path / "cells.csv"
    result = invoke(FAITHFUL, "-k", "300,400", "-c", "full", "--table", table)
    assert result.exit_code == 1
    # why, as batch says it: the cells were skipped (not degenerate: no --n-init advice)
    assert result.stderr.splitlines()[-1] == (
        f"Error: {FAITHFUL}: no cell could be chosen: all 2 cells skipped; full K=300: 300 "
        "components need at least 300 rows; the data has 272")
    assert not table.exists() and list(tmp_path.iterdir()) == []
    degenerate = tmp_path / "dup.csv"
    degenerate.write_text("x,y\n" + "1,2\n" * 20 + "3,5\n" * 20 + "7,1\n")
    result = invoke(degenerate, "-k", "3", "-c", "full", "--seed", "0")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith(
        f"Error: {degenerate}: no cell could be chosen: the only cell ended degenerate; ")
    assert result.stderr.splitlines()[-1].endswith(
        "; try fewer components, more --n-init, a family of fewer parameters (-c diag or -c "
        "spherical), or a larger --reg-covar")
    # what was tried is not advised: one Gaussian (K = 1) has no fewer components and one
    # optimum; spheres have no fewer parameters (it said "try fewer components, more
    # --n-init, or a larger --reg-covar" after K = 1 of a full covariance alone)
    two = tmp_path / "two.csv"
    two.write_text("x,y\n" + "1,2\n" * 3 + "3,4\n" * 2)
    for grid, tips in ((["-k", "1", "-c", "full"], "a family of fewer parameters (-c diag or "
                        "-c spherical) or a larger --reg-covar"),
                       (["-k", "2", "-c", "EII"], "fewer components, more --n-init, or a "
                        "larger --reg-covar")):
        result = invoke(two, *grid, "--seed", "1")
        assert result.exit_code == 1
        assert result.stderr.splitlines()[-1].endswith(f"; try {tips}"), result.stderr


def test_the_table_on_a_terminal_says_why_no_cell_can_be_chosen() -> None:
    """Under a table of skipped cells, the terminal read 'every one failed or ended
    degenerate'; it now counts what became of the cells, as the error line does."""
    result = invoke(FAITHFUL, "-k", "300,400", "-c", "full", tty=True)
    assert result.exit_code == 1
    assert "no cell can be chosen: all 2 cells skipped" in result.stdout
    assert "failed or ended degenerate" not in result.stdout


def test_the_caption_writes_a_huge_criterion_as_the_table_does(tmp_path: Path) -> None:
    """With weights of 1e12 a row, BIC is near 4e15: the table wrote 4.007904073e+15 and
    the caption under it 4007904073169172.50, digits float64 does not hold."""
    weights = tmp_path / "w.csv"
    weights.write_text("1e12\n" * 272)
    shown = ok(invoke(FAITHFUL, "-k", "1", "-c", "EII", "--seed", "0", "--sample-weights",
                      weights, tty=True)).stdout
    caption = shown.strip().splitlines()[-1]
    found = re.search(r"BIC (\d\.\d{9}e\+15) \(mclust reports BIC -\1\)$", caption)
    assert found is not None, caption
    assert found.group(1) in shown.replace(caption, "")  # the table's BIC of that cell
    assert not re.search(r"\d{14}", shown), shown


def test_an_unknown_table_extension_is_told_the_formats_that_hold_the_table(
        tmp_path: Path) -> None:
    """select --table t.txt and batch --summary s.txt were told to use '.csv, .tsv, .npy,
    .json, .jsonl or .parquet', and .npy was then refused (text columns): the advice now
    names only the formats that hold such a table."""
    told = "unsupported output format '.txt'; use .csv, .tsv, .json, .jsonl or .parquet"
    table = invoke(FAITHFUL, "--table", tmp_path / "t.txt")
    summary = CliRunner().invoke(cli, ["batch", str(FAITHFUL), "-k", "2", "--summary",
                                       str(tmp_path / "s.txt"), "--output-dir",
                                       str(tmp_path / "out")])
    for result in (table, summary):
        assert result.exit_code == 1
        assert result.stderr.strip().endswith(told), result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_degenerate_cell_is_shown_and_never_chosen() -> None:
    # With K random data points as the single start (seed 3), diag K=5 collapses onto
    # points that share one 'waiting' value: BIC 2273.6, far below every legitimate cell.
    args = [FAITHFUL, "-k", "3,5", "-c", "tied,diag", "--init", "random-from-data",
            "--n-init", "1", "--seed", "3", "--accelerate", "none"]
    table = rows(ok(invoke(*args)).stdout)
    spurious = next(r for r in table if r["covariance_type"] == "diag" and r["n_components"] == "5")
    assert spurious["status"] == "degenerate" and spurious["best"] == "false"
    assert abs(float(spurious["bic"]) - 2273.6) < 0.1
    assert "collapsed: a spurious maximum" in spurious["message"]
    assert float(spurious["bic"]) == min(float(r["bic"]) for r in table)
    chosen = [r for r in table if r["best"] == "true"]
    assert len(chosen) == 1 and chosen[0]["status"] == "ok"
    assert float(chosen[0]["bic"]) == min(float(r["bic"]) for r in table if r["status"] == "ok")
    shown = ok(invoke(*args, tty=True)).stdout
    assert any("diag (VVI)" in line and "degenerate" in line for line in shown.splitlines())


def test_table_and_model_files(tmp_path: Path) -> None:
    args = [FAITHFUL, "-k", "2-3", "-c", "tied,spherical", "--seed", "4"]
    piped = ok(invoke(*args)).stdout
    result = ok(invoke(*args, "--table", tmp_path / "cells.csv", "--model",
                       tmp_path / "best.json"))
    assert result.stdout == "" and result.stderr == ""  # the data went to the files
    assert (tmp_path / "cells.csv").read_text() == piped
    ok(invoke(*args, "--table", tmp_path / "cells.json"))
    doc = json.loads((tmp_path / "cells.json").read_text())
    assert doc["criterion"] == "bic" and doc["seed"] == 4 and doc["source"] == str(FAITHFUL)
    assert doc["best"] == {"covariance_type": "tied", "n_components": 3}
    assert [c["status"] for c in doc["cells"]] == ["ok"] * 4
    best_row = next(c for c in doc["cells"] if c["best"])
    model = json.loads((tmp_path / "best.json").read_text())
    assert model["format"] == "emgmm-model"
    assert (model["covariance_type"], model["n_components"]) == ("tied", 3)
    assert model["log_likelihood"] == best_row["log_likelihood"]
    assert model["options"]["seed"] == best_row["seed"]
    assert model["options"]["init"] == "auto" and model["options"]["tol"] == 1e-6
    # `emgmm fit` with the cell's options and seed repeats the cell
    opts = model["options"]
    again = CliRunner().invoke(cli, [
        "fit", str(FAITHFUL), "-k", "3", "-c", "tied", "--init", opts["init"], "--accelerate",
        opts["accelerate"], "--n-init", str(opts["n_init"]), "--tol", str(opts["tol"]), "--max-iter", str(opts["max_iter"]),
        "--seed", str(opts["seed"]), "--json"])
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["log_likelihood"] == model["log_likelihood"]
    # the model alone on stdout (then the table is not written there)
    assert json.loads(ok(invoke(*args, "--model", "-")).stdout) == model


@pytest.mark.parametrize("args, message", [
    (["-k", "0"], "components run from 1 up"),
    (["-k", "5-2"], "components run from 1 up"),
    (["-k", "two"], "is not a list of components"),
    (["-c", "full,box"], "box: choose all, or a comma-separated list"),
    (["--criterion", "dic"], "'dic' is not one of 'bic', 'aic', 'icl'"),
    (["--means-init", "m.csv"], "No such option '--means-init'"),
    (["--table", "cells.npy"], "give --table a .csv, .tsv, .json, .jsonl or .parquet name"),
    (["--model", "best.csv"], "give --model a .json name"),
    (["--model", "best.txt"], "give --model a .json name, not best.txt"),  # no format's
    (["--model", "best.json.gz"], "give --model a .json name, not best.json.gz"),
    (["--table", "-", "--model", "-"], "only one output can go to stdout"),
    (["--jobs", "some"], "'some' is not a number of processes (0 or more) or 'auto'"),
    (["--jobs", "-1"], "'-1' is not a number of processes (0 or more) or 'auto'"),
    # built in memory, cell by cell, until the machine ran out of it (exit 137)
    (["-k", "1-99999999999999999999"], "'1-99999999999999999999' names more than 10000 "
                                       "numbers of components, the most a selection tries"),
    (["-k", "1-5000,6000-11000"], "names more than 10000 numbers of components"),
])
def test_usage_errors(args: list[str], message: str) -> None:
    result = invoke(FAITHFUL, *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert message in result.stderr


def test_component_lists() -> None:
    table = rows(ok(invoke(FAITHFUL, "-k", "3,1-2,2", "-c", "spherical", "--n-init", "1",
                           "--seed", "0")).stdout)
    assert [r["n_components"] for r in table] == ["1", "2", "3"]
    table = rows(ok(invoke(FAITHFUL, "-k", "2", "-c", "all", "--n-init", "1", "--seed", "0",
                           "--init", "kmeans")).stdout)
    assert [r["mclust"] for r in table] == [
        "EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV",
        "EVV", "VVV"]


def test_the_python_api_refuses_a_grid_of_too_many_numbers_without_building_it() -> None:
    """select(x, range(1, 10**18)) was a MemoryError (after all the memory there was); a
    grid of 10000 numbers of components is taken, one more is not."""
    import emgmm_cli
    from emgmm_cli.engine.options import MAX_COMPONENT_VALUES, component_values

    with pytest.raises(emgmm_cli.InvalidParameter) as caught:
        emgmm_cli.select(FAITHFUL, range(1, 10**18), "VII", seed=0)
    assert str(caught.value) == "a selection tries at most 10000 numbers of components"
    assert caught.value.option == "n_components"
    assert MAX_COMPONENT_VALUES == 10_000
    assert component_values(range(MAX_COMPONENT_VALUES, 0, -1)) == tuple(
        range(1, MAX_COMPONENT_VALUES + 1))
    assert component_values([3, 1, 3]) == (1, 3)
    for bad in ([], [0], [1.5], ["2"]):
        with pytest.raises(emgmm_cli.InvalidParameter):
            component_values(bad)


def test_engine_tables_are_keyed_by_the_vocabulary() -> None:
    from emgmm_cli import vocab
    from emgmm_cli.engine.families import FAMILIES
    from emgmm_cli.engine.init import STARTERS

    # auto is a strategy over the starters (engine.starts), not one of them
    assert set(STARTERS) | {vocab.AUTO} == {*vocab.names(vocab.INIT_METHODS), vocab.MEANS_INIT}
    assert set(FAMILIES) <= set(vocab.covariance_names())


# --------------------------------------------------------------------------- --jobs auto


def blobs_csv(path: Path, n: int) -> Path:
    import numpy as np

    rng = np.random.default_rng(4)
    x = np.concatenate([rng.normal(c, 1.0, (n // 2, 3)) for c in (-4.0, 4.0)])
    np.savetxt(path, x, delimiter=",", header="a,b,c", comments="", fmt="%.9g")
    return path


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_cell_workers_auto_runs_workers_only_where_they_pay(
        method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from emgmm_cli.engine.errors import InvalidParameter
    from emgmm_cli.app.requests import (AUTO_JOBS_BYTES, AUTO_JOBS_CELLS, AUTO_JOBS_ROW_CELLS,
                                        AUTO_JOBS_ROWS)
    from emgmm_cli.app.selecting import cell_workers
    from emgmm_cli.backends.local import available_cores
    from emgmm_cli.backends.processes import INLINE_BYTES, START_VARIABLE, start_method

    monkeypatch.setenv(START_VARIABLE, method)
    forked = start_method() == "fork"
    cores = available_cores()
    enough = np.zeros((AUTO_JOBS_ROWS, 2))
    assert cell_workers("auto", enough, 36) == min(cores, 36)
    assert cell_workers("auto", enough, 2) == 1  # fewer cells than AUTO_JOBS_CELLS
    assert cell_workers("auto", enough, AUTO_JOBS_CELLS) == min(cores, AUTO_JOBS_CELLS)
    # fewer rows: workers where they fork and rows times cells reach AUTO_JOBS_ROW_CELLS
    few = enough[:-1]
    assert cell_workers("auto", few, 36) == (min(cores, 36) if forked else 1)
    cells = AUTO_JOBS_ROW_CELLS // 272
    assert cell_workers("auto", few[:272], cells + 1) == (min(cores, cells) if forked else 1)
    assert cell_workers("auto", few[:272], cells) == 1
    wide = np.zeros((AUTO_JOBS_BYTES // 8 // 16 + 1, 16))
    assert wide.nbytes > AUTO_JOBS_BYTES and cell_workers("auto", wide, 36) == 1
    # what auto sends to the workers travels inside their tasks, not through a copy on disk
    assert AUTO_JOBS_BYTES <= INLINE_BYTES
    # a count is taken as it is (0: one per core), never more than there are cells
    assert cell_workers(3, enough[:10], 36) == 3 and cell_workers(3, enough, 2) == 2
    assert cell_workers(0, enough[:10], 36) == min(cores, 36)
    for bad in ("some", -1, True, 1.5):
        with pytest.raises(InvalidParameter, match="jobs must be a whole number"):
            cell_workers(bad, enough, 36)  # type: ignore[arg-type]


def test_jobs_auto_uses_the_cores_on_larger_data_and_changes_no_result(tmp_path: Path
                                                                        ) -> None:
    from emgmm_cli.backends.local import available_cores

    data = blobs_csv(tmp_path / "blobs.csv", 1200)
    grid = ["-k", "1-3", "-c", "full,diag", "--n-init", "2", "--seed", "2"]
    auto = ok(invoke(data, *grid, "--debug"))  # --debug: the log goes to stderr
    one = ok(invoke(data, *grid, "--jobs", "1", "--debug"))
    assert auto.stdout == one.stdout
    assert "worker processes" not in one.stderr
    if available_cores() >= 2:
        from emgmm_cli.backends.processes import start_method

        method = start_method() + "ed"  # forked or spawned, as this process runs
        assert f"emgmm: fitting 6 cells in {min(available_cores(), 6)} {method} worker " \
               "processes (--jobs auto)" in auto.stderr
    # on Old Faithful (272 rows) the cells run here
    small = ok(invoke(FAITHFUL, *grid, "--debug"))
    assert "worker processes" not in small.stderr


def test_python_api_takes_jobs_auto_with_the_results_of_one_job() -> None:
    import numpy as np

    import emgmm_cli
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(c, 1.0, (600, 2)) for c in (-3.0, 3.0)])
    auto = emgmm_cli.select(x, range(1, 4), ["full", "spherical"], seed=1, n_init=2,
                            jobs="auto")
    one = emgmm_cli.select(x, range(1, 4), ["full", "spherical"], seed=1, n_init=2)
    assert auto.rows() == one.rows()
    with pytest.raises(emgmm_cli.InvalidParameter, match="jobs must be a whole number") as bad:
        emgmm_cli.select(x, [2], ["full"], seed=1, jobs="many")
    assert bad.value.option == "jobs"


def test_a_worker_start_method_that_is_not_one_is_a_one_line_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMGMM_WORKER_START", "vfork")
    for jobs in ("2", "auto"):  # auto asks how workers would start
        result = invoke(FAITHFUL, "-k", "1-9", "--jobs", jobs)
        assert result.exit_code == 1 and result.stdout == ""
        assert result.stderr.splitlines() == [
            "Error: EMGMM_WORKER_START must be fork or spawn, not 'vfork'"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers fork on Linux")
def test_on_a_terminal_workers_fork_beside_the_progress_display(tmp_path: Path) -> None:
    """On a terminal the cells' progress bar redraws from a thread of its own; the workers
    still fork (emgmm_cli.forking), and the table is the one a pipe gets."""
    from emgmm_cli.backends.local import available_cores

    if available_cores() < 2:
        pytest.skip("needs 2 cores: --jobs auto runs one process otherwise")
    base = [sys.executable, "-m", "emgmm_cli", "select", str(FAITHFUL), "-c",
            "VVV,EEE,VVI,VII", "--seed", "0", "--debug"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"}
    env.pop("EMGMM_WORKER_START", None)
    tty = subprocess.run(base + ["--table", str(tmp_path / "tty.csv")], capture_output=True,
                         text=True, env={**env, "EMGMM_FORCE_TTY": "1"}, check=True)
    assert (f"emgmm: fitting 36 cells in {min(available_cores(), 36)} forked worker "
            "processes (--jobs auto)") in tty.stderr
    pipe = subprocess.run(base + ["--jobs", "1"], capture_output=True, text=True,
                          env={**env, "EMGMM_FORCE_TTY": "0"}, check=True)
    assert (tmp_path / "tty.csv").read_text() == pipe.stdout


def _without_shared_memory(command: list[str]) -> list[str]:
    """command in a mount namespace whose /dev/shm is read-only: no POSIX semaphores, so
    no worker pool (as where /dev/shm is missing)."""
    inner = " ".join(f"'{part}'" for part in command)
    return ["unshare", "-m", "sh", "-c",
            f"mount -t tmpfs -o ro tmpfs /dev/shm && exec {inner}"]


def test_where_no_worker_can_start_auto_runs_here_and_a_count_says_why(tmp_path: Path
                                                                        ) -> None:
    probe = subprocess.run(_without_shared_memory(["true"]), capture_output=True)
    if probe.returncode != 0:
        pytest.skip("needs unshare -m and mount (root, Linux)")
    data = blobs_csv(tmp_path / "blobs.csv", 1200)
    base = [sys.executable, "-m", "emgmm_cli", "select", str(data), "-k", "1-3", "-c",
            "full,diag", "--n-init", "2", "--seed", "2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EMGMM_FORCE_TTY": "0"}
    here = subprocess.run(base + ["--jobs", "1"], capture_output=True, text=True, env=env)
    auto = subprocess.run(_without_shared_memory(base + ["--debug"]), capture_output=True,
                          text=True, env=env)
    assert auto.returncode == 0 and auto.stdout == here.stdout, auto.stderr
    assert ("emgmm: cannot start worker processes (Read-only file system): fitting the "
            "cells in this process") in auto.stderr
    asked = subprocess.run(_without_shared_memory(base + ["--jobs", "2"]),
                           capture_output=True, text=True, env=env)
    assert asked.returncode == 1 and asked.stdout == ""
    assert asked.stderr.splitlines() == [
        "Error: cannot start worker processes (Read-only file system); run with --jobs 1"]


def test_a_component_of_two_rows_in_two_columns_is_never_chosen(tmp_path: Path) -> None:
    """15 points of one blob: select chose EVV with K = 5 (BIC 40.56, exit 0), whose
    component 4 held 2 rows and 1.9e-5 of a third, a line through two points one
    --reg-covar off the floor; mclust cannot fit that cell.  The third row's share lifted
    the rows' own scatter (4.3e-10 of the column variance) over the test of rows flat to
    rounding; a component of at most D rows near the floor is degenerate now, and select
    chooses EEV with K = 5, as mclust does (its BIC -72.846)."""
    data = tmp_path / "tiny.csv"
    ok(CliRunner().invoke(cli, ["make-blobs", "-n", "15", "--n-centers", "1", "--seed", "1",
                                "-o", str(data)]))
    table = rows(ok(invoke(data, "-k", "1-6", "--seed", "1", "--jobs", "1")).stdout)
    best = [r for r in table if r["best"] == "true"]
    assert [(r["mclust"], r["n_components"]) for r in best] == [("EEV", "5")]
    assert abs(float(best[0]["bic"]) - 72.846) < 1e-3
    evv = next(r for r in table if (r["mclust"], r["n_components"]) == ("EVV", "5"))
    # the cell keeps a sound restart: a lower optimum, not the collapse's 13.571
    assert evv["status"] == "ok" and float(evv["log_likelihood"]) < 0, evv
