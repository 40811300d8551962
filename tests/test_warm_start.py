"""Warm starts (--init-model) and frozen parameters (--freeze)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import emgmm_cli
from emgmm_cli.engine.families import searched
from emgmm_cli import vocab
from emgmm_cli.backends import open_dataset
from emgmm_cli.engine.fitting import fit
from emgmm_cli.engine.options import FitOptions
from conftest import invoke_in


def _blobs(n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(7)
    centres = np.array([[0.0, 0.0], [3.0, 1.0], [0.5, 3.5]])
    return centres[rng.integers(0, 3, size=n)] + rng.normal(size=(n, 2)) * 0.8


@pytest.mark.parametrize("cov", searched(2))  # the models of data of several columns
def test_five_then_ten_iterations_equal_fifteen(cov: str) -> None:
    data = open_dataset(_blobs(), n_components=3)
    # plain EM: SQUAREM's cycles would start afresh at the saved model
    opts = FitOptions(3, covariance_type=cov, tol=0.0, seed=4, accelerate="none",
                      init="kmeans", n_init=1)
    five = fit(data, opts.replace(max_iter=5))
    more = fit(data, opts.replace(max_iter=10), start=five.params)
    fifteen = fit(data, opts.replace(max_iter=15))
    # to rounding: the warm start's parameters are the fitted ones, arranged and rebuilt,
    # so its sums can round otherwise (by an ulp at the sixth iteration), and where EM
    # crawls (near a flat optimum: EII's third mean, 0.003, moved by 4e-10 on an AVX-512
    # machine) the iterations carry that on; so each array is compared relative to its
    # largest entry, not entry by entry
    for name in ("weights", "means", "covariances"):
        want = getattr(fifteen.params, name)
        np.testing.assert_allclose(getattr(more.params, name), want, rtol=1e-9,
                                   atol=1e-9 * float(np.abs(want).max()), err_msg=name)
    assert more.loglik == pytest.approx(fifteen.loglik, rel=1e-12)


@pytest.mark.parametrize("frozen", ["weights", "means", "covariances", "weights,covariances",
                                    "means,covariances"])
@pytest.mark.parametrize("cov", ["full", "diag", "tied", "spherical"])
def test_frozen_parameters_are_bit_identical(frozen: str, cov: str) -> None:
    data = open_dataset(_blobs(), n_components=3)
    start = fit(data, FitOptions(3, covariance_type=cov, max_iter=3, seed=1)).params
    result = fit(data, FitOptions(3, covariance_type=cov, freeze=frozen, seed=1,
                                  order="none"), start=start)
    names = frozen.split(",")
    for name in ("weights", "means", "covariances"):
        same = np.array_equal(getattr(result.params, name), getattr(start, name))
        assert same == (name in names), name
    assert result.n_iter > 1


def test_frozen_weights_without_a_model_are_equal_and_counted() -> None:
    """mclust's equalPro: weights held at 1/K, K - 1 fewer parameters in BIC."""
    x = _blobs()
    free = emgmm_cli.fit(x, 3, seed=2)
    equal = emgmm_cli.fit(x, 3, seed=2, freeze="weights")
    np.testing.assert_array_equal(equal.weights, np.full(3, 1 / 3))
    assert equal.result.n_parameters == free.result.n_parameters - 2
    assert equal.document["options"]["freeze"] == "weights"


def test_cli_continues_a_saved_model(tmp_path: Path) -> None:
    x = _blobs()
    np.savetxt(tmp_path / "x.csv", x, delimiter=",", header="a,b", comments="")
    common = ["--tol", "0", "--seed", "5", "-c", "diag", "--accelerate", "none"]
    assert invoke_in(tmp_path, "fit", "x.csv", "-k", "3", "--max-iter", "5", *common,
                     "--init", "kmeans", "--model", "five.json", "-o", "-").exit_code == 0
    more = invoke_in(tmp_path, "fit", "x.csv", "--init-model", "five.json", "--max-iter",
                     "10", *common, "--json")
    fifteen = invoke_in(tmp_path, "fit", "x.csv", "-k", "3", "--max-iter", "15", *common,
                        "--init", "kmeans", "--json")
    assert more.exit_code == 0 and fifteen.exit_code == 0, more.stderr
    a, b = json.loads(more.stdout), json.loads(fifteen.stdout)
    np.testing.assert_allclose(a["means"], b["means"], rtol=1e-9)
    assert a["options"]["init_model"] == "five.json" and a["covariance_type"] == "diag"
    frozen = invoke_in(tmp_path, "fit", "x.csv", "--init-model", "five.json", "--freeze",
                       "means", "--json")
    five = json.loads((tmp_path / "five.json").read_text())
    assert json.loads(frozen.stdout)["means"] == five["means"]  # bit-identical in the file
    np.savetxt(tmp_path / "one.csv", x[:, :1], delimiter=",", header="a", comments="")
    r = invoke_in(tmp_path, "fit", "one.csv", "--init-model", "five.json")
    assert r.exit_code == 1 and "select 2 columns" in r.stderr
    r = invoke_in(tmp_path, "fit", "x.csv")
    assert r.exit_code == 2 and "--init-model" in r.stderr
    r = invoke_in(tmp_path, "fit", "x.csv", "-k", "2", "--freeze", "weights,banana")
    assert r.exit_code == 2 and "comma-separated list of weights, means" in r.stderr
    r = invoke_in(tmp_path, "fit", "x.csv", "-k", "2", "--freeze", "weights,weights")
    assert r.exit_code == 2 and r.stderr.rstrip().endswith(
        "'weights,weights' is not a comma-separated list of weights, means, covariances, "
        "each at most once."), r.stderr


def test_init_model_reads_the_data_by_its_feature_names(tmp_path: Path) -> None:
    """fit, batch and the Python API read the data for --init-model as predict reads
    them: by the model's feature names in whatever order the header has them; a header
    of other names is every column, with predict's warning; another D is refused."""
    import pandas as pd

    x = _blobs()
    np.savetxt(tmp_path / "x.csv", x, delimiter=",", header="a,b", comments="")
    (tmp_path / "swapped").mkdir()
    np.savetxt(tmp_path / "swapped" / "ba.csv", x[:, ::-1], delimiter=",", header="b,a",
               comments="")
    common = ["--tol", "0", "--seed", "5", "--accelerate", "none", "--max-iter", "10"]
    assert invoke_in(tmp_path, "fit", "x.csv", "-k", "3", "--max-iter", "5", "--seed", "5",
                     "--model", "five.json", "-o", "-").exit_code == 0
    plain = invoke_in(tmp_path, "fit", "x.csv", "--init-model", "five.json", *common,
                      "--json")
    swapped = invoke_in(tmp_path, "fit", "swapped/ba.csv", "--init-model", "five.json",
                        *common, "--json")
    assert plain.exit_code == 0 and swapped.exit_code == 0, swapped.stderr
    a, b = json.loads(plain.stdout), json.loads(swapped.stdout)
    assert b["feature_names"] == ["a", "b"] and b["means"] == a["means"]
    assert invoke_in(tmp_path, "batch", "swapped", "--init-model", "five.json", *common,
                     "--output-dir", "out").exit_code == 0
    batched = json.loads((tmp_path / "out" / "ba" / "model.json").read_text())
    assert batched["means"] == a["means"]
    five = str(tmp_path / "five.json")
    frame = pd.DataFrame({"b": x[:, 1], "a": x[:, 0]})
    api = emgmm_cli.fit(frame, init_model=five, tol=0, seed=5, accelerate="none",
                        max_iter=10)
    assert api.feature_names == ["a", "b"] and api.means.tolist() == a["means"]
    np.savetxt(tmp_path / "xy.csv", x, delimiter=",", header="x,y", comments="")
    other = invoke_in(tmp_path, "fit", "xy.csv", "--init-model", "five.json", *common,
                      "--json")
    assert other.exit_code == 0 and json.loads(other.stdout)["means"] == a["means"]
    assert ("xy.csv: the columns (x, y) are not the model's (a, b); using all columns"
            in other.stderr)
    np.savetxt(tmp_path / "xyz.csv", np.c_[x, x[:, 0]], delimiter=",", header="x,y,z",
               comments="")
    r = invoke_in(tmp_path, "fit", "xyz.csv", "--init-model", "five.json")
    assert r.exit_code == 1 and "has 3 columns (x, y, z) but the model" in r.stderr


def _three_to_continue(tmp_path: Path) -> np.ndarray:
    """The blobs as x.csv and in/x.csv, and three.json: a diag model of 3 components of
    them (3 iterations) to continue; returns the blobs."""
    x = _blobs()
    np.savetxt(tmp_path / "x.csv", x, delimiter=",", header="a,b", comments="")
    (tmp_path / "in").mkdir()
    np.savetxt(tmp_path / "in" / "x.csv", x, delimiter=",", header="a,b", comments="")
    doc = emgmm_cli.fit(x, 3, covariance_type="diag", seed=1, max_iter=3).document
    (tmp_path / "three.json").write_text(json.dumps(doc))
    return x


def test_k_and_family_beside_a_model_to_continue_must_be_its_own(tmp_path: Path) -> None:
    """-k and -c given with --init-model were ignored (the model's were used); they must
    now agree with the model, in fit, batch (where -k is no longer required with it) and
    the Python API; batch --select refuses --init-model, as it refuses --means-init."""
    x = _three_to_continue(tmp_path)
    k_line = ("Error: -k 2 disagrees with --init-model three.json, a model of 3 components; "
              "leave -k out (the model's is used)")
    c_line = ("Error: -c full disagrees with --init-model three.json, a diag model; leave -c "
              "out (the model's is used)")
    for command in (["fit", "x.csv", "-o", "labels.csv"], ["batch", "in", "--output-dir", "out"]):
        for extra, line in ((["-k", "2"], k_line), (["-c", "full"], c_line)):
            r = invoke_in(tmp_path, *command, "--init-model", "three.json", *extra)
            assert (r.exit_code, r.stderr.splitlines()[-1]) == (2, line)
        assert not (tmp_path / "labels.csv").exists() and not (tmp_path / "out").exists()
        # the model's own K and family (by either name) may be repeated
        r = invoke_in(tmp_path, *command, "--init-model", "three.json", "-k", "3", "-c", "VVI")
        assert r.exit_code == 0, r.stderr
        (tmp_path / "labels.csv").unlink(missing_ok=True)
    # and batch, as fit, takes K from the model without -k
    r = invoke_in(tmp_path, "batch", "in", "--init-model", "three.json", "--output-dir", "o2")
    assert r.exit_code == 0, r.stderr
    assert json.loads((tmp_path / "o2" / "x" / "model.json").read_text())["n_components"] == 3
    r = invoke_in(tmp_path, "batch", "in", "--select", "--init-model", "three.json",
                  "--output-dir", "o3")
    assert r.exit_code == 2 and r.stderr.splitlines()[-1] == (
        "Error: --init-model continues one model, of one K and family; it cannot be used "
        "with --select")
    # in the Python API's names (it said "-k 2 disagrees with --init-model ...")
    with pytest.raises(emgmm_cli.UsageProblem, match="^n_components 2 disagrees with "
                                                     "init_model .*; leave n_components out"):
        emgmm_cli.fit(x, 2, init_model=str(tmp_path / "three.json"))
    assert emgmm_cli.fit(x, init_model=str(tmp_path / "three.json"),
                         covariance_type="VVI").params.n_components == 3


def test_init_and_restarts_beside_a_model_to_continue_are_refused(tmp_path: Path) -> None:
    """--init and --n-init > 1 given with --init-model were ignored (the model recorded
    them, while its one run started from the model): like -k and -c, and as --means-init
    refuses them, they are bad usage in fit, batch and the Python API, before any output
    is written; --n-init 1 (the one run it makes) stays accepted."""
    x = _three_to_continue(tmp_path)
    cases = ((["--init", "kmeans"], "Error: --init kmeans does not apply with --init-model, "
              "whose parameters are the start; leave --init out"),
             (["--n-init", "3"], "Error: --n-init 3 does not apply with --init-model: one "
              "start makes one run; leave --n-init out"))
    for command in (["fit", "x.csv", "-o", "labels.csv"], ["batch", "in", "--output-dir", "out"]):
        for extra, line in cases:
            r = invoke_in(tmp_path, *command, "--init-model", "three.json", *extra)
            assert (r.exit_code, r.stderr.splitlines()[-1]) == (2, line)
        assert not (tmp_path / "labels.csv").exists() and not (tmp_path / "out").exists()
        r = invoke_in(tmp_path, *command, "--init-model", "three.json", "--n-init", "1")
        assert r.exit_code == 0, r.stderr
        (tmp_path / "labels.csv").unlink(missing_ok=True)
    for options, line in (({"init": "hc"}, "init hc does not apply"),
                          ({"n_init": 4}, "n_init 4 does not apply")):
        with pytest.raises(emgmm_cli.UsageProblem, match=f"^{line} with init_model"):
            emgmm_cli.fit(x, init_model=str(tmp_path / "three.json"), **options)
    # the model records the one run it made (n_init 2, the default, before), and batch
    # --skip-existing keeps such an output as the run that made it
    r = invoke_in(tmp_path, "fit", "x.csv", "--init-model", "three.json", "--model", "m.json")
    assert r.exit_code == 0, r.stderr
    done = json.loads((tmp_path / "m.json").read_text())
    assert done["options"]["n_init"] == 1 and len(done["restart_log_likelihoods"]) == 1
    assert emgmm_cli.fit(x, init_model=str(tmp_path / "three.json")).document["options"][
        "n_init"] == 1
    for again in ([], ["--skip-existing"]):
        kept = invoke_in(tmp_path, "batch", "in", "--output-dir", "again", "--init-model",
                         "three.json", "--seed", "0", *again)
        assert kept.exit_code == 0, kept.stderr
    assert (tmp_path / "again" / "summary.csv").read_text().splitlines()[1].endswith(",skipped")


@pytest.mark.parametrize("cov", ["full", "EVE", "diag", "EII"])
def test_frozen_means_are_the_means_given(tmp_path: Path, cov: str) -> None:
    """fit --means-init m.csv --freeze means kept the means of the points nearest to each
    given mean (the start's M-step), not the means given; they are now the file's, bit
    for bit, and the weights and covariances are EM's fixed point about them."""
    x = _blobs()
    np.savetxt(tmp_path / "x.csv", x, delimiter=",", header="a,b", comments="")
    given = np.array([[0.1, 0.2], [2.5, 1.5], [1.0, 3.0]])
    np.savetxt(tmp_path / "m.csv", given, delimiter=",", fmt="%.1f")
    r = invoke_in(tmp_path, "fit", "x.csv", "-k", "3", "--means-init", "m.csv", "--freeze",
                  "means", "-c", cov, "--order", "none", "--tol", "0", "--accelerate", "none",
                  "--model", "frozen.json", "-o", "labels.csv")
    assert r.exit_code == 0, r.stderr
    doc = json.loads((tmp_path / "frozen.json").read_text())
    assert doc["means"] == given.tolist()
    api = emgmm_cli.fit(x, 3, means_init=given, freeze="means", covariance_type=cov,
                        order="none", tol=0, accelerate="none")
    assert api.document["means"] == given.tolist()
    if cov == "full":  # the M-step about the frozen means, checked by hand
        resp = api.responsibilities
        for k in range(3):
            d = x - given[k]
            cov_k = (resp[:, k, None, None] * d[:, :, None] * d[:, None, :]).sum(0)
            np.testing.assert_allclose(cov_k / resp[:, k].sum() + 1e-6 * np.eye(2),
                                       api.document["covariances"][k], rtol=1e-8)


def test_batch_continues_and_select_freezes(tmp_path: Path) -> None:
    """A real process: batch with --init-model over a folder, select with --freeze."""
    (tmp_path / "in").mkdir()
    x = _blobs()
    for i in range(2):
        np.savetxt(tmp_path / "in" / f"d{i}.csv", x[i::2], delimiter=",", header="a,b",
                   comments="")
    doc = emgmm_cli.fit(x, 3, seed=1, max_iter=3).document
    (tmp_path / "start.json").write_text(json.dumps(doc))
    run = lambda *a: subprocess.run([sys.executable, "-m", "emgmm_cli", *a], cwd=tmp_path,  # noqa: E731
                                    capture_output=True, text=True, check=False)
    out = run("batch", "in", "-k", "3", "--init-model", "start.json", "--freeze", "weights",
              "--output-dir", "out")
    assert out.returncode == 0, out.stderr
    for i in range(2):
        model = json.loads((tmp_path / "out" / f"d{i}" / "model.json").read_text())
        assert model["weights"] == sorted(doc["weights"], reverse=True)
    sel = run("select", "in/d0.csv", "-k", "2-3", "-c", "diag", "--freeze", "weights",
              "--seed", "1", "--model", "best.json")
    assert sel.returncode == 0, sel.stderr
    best = json.loads((tmp_path / "best.json").read_text())
    assert len(set(best["weights"])) == 1



@contextlib.contextmanager
def _served_once(fifo: Path, content: bytes) -> Iterator[None]:
    """fifo, a named pipe, gives content to the first that opens it, and to no other."""
    def serve() -> None:
        try:
            with open(fifo, "wb") as fh:
                fh.write(content)
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=serve, daemon=True)
    writer.start()
    try:
        yield
    finally:
        if writer.is_alive():  # never opened: let the writer's open return
            fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
            writer.join(10)
            os.close(fd)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_model_to_continue_is_read_once(tmp_path: Path) -> None:
    """`fit data.csv -k 3 --init-model m.json` opened and parsed the model up to three
    times (to check -k, to read the data by its names, to start EM), so a file replaced
    meanwhile gave each step another model; the Python API alike, and batch read it twice
    for each dataset.  Here the model is a named pipe that serves it once: a second open
    would wait for ever (the run times out).  Read once, each run gives the model's fit."""
    x = _blobs()
    (tmp_path / "in").mkdir()
    for i in range(2):
        np.savetxt(tmp_path / "in" / f"d{i}.csv", x[i::2], delimiter=",", header="a,b",
                   comments="")
    content = json.dumps(emgmm_cli.fit(x, 3, seed=1, max_iter=3).document).encode()
    (tmp_path / "m.json").write_bytes(content)
    os.mkfifo(tmp_path / "fifo.json")
    api = ("import emgmm_cli; print(emgmm_cli.fit('in/d0.csv', 3, init_model='fifo.json', "
           "seed=0).log_likelihood)")
    runs = {}
    for name, args in (
            ("fit", ["-m", "emgmm_cli", "fit", "in/d0.csv", "-k", "3", "--init-model",
                     "fifo.json", "--seed", "0", "--model", "fit.json"]),
            ("api", ["-c", api]),
            ("batch", ["-m", "emgmm_cli", "batch", "in", "-k", "3", "--init-model",
                       "fifo.json", "--seed", "0", "--output-dir", "out"])):
        with _served_once(tmp_path / "fifo.json", content):
            runs[name] = subprocess.run([sys.executable, *args], cwd=tmp_path, timeout=60,
                                        capture_output=True, text=True, check=False)
        assert runs[name].returncode == 0, (name, runs[name].stderr)
    same = emgmm_cli.fit(tmp_path / "in" / "d0.csv", init_model=tmp_path / "m.json", seed=0)
    fitted = json.loads((tmp_path / "fit.json").read_text())
    assert fitted["log_likelihood"] == same.log_likelihood == float(runs["api"].stdout)
    batch = json.loads((tmp_path / "out" / "d0" / "model.json").read_text())
    assert batch["means"] == fitted["means"]
