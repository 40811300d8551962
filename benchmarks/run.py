#!/usr/bin/env python3
"""emgmm against scikit-learn's GaussianMixture: seconds per EM iteration, memory, throughput.

    python benchmarks/run.py                  # W1-W5 (several minutes)
    python benchmarks/run.py --quick          # scaled-down versions, well under a minute
    python benchmarks/run.py --only W2,W3     # some workloads
    python benchmarks/run.py --out-of-core [--scratch DIR] [--quick]
                                              # 100,000,000 x 16 float32 (writes 6.4 GB)

Not part of the test suite.  Run it with the interpreter of the environment emgmm is
installed in (it needs scikit-learn: pip install '.[test]').  The results are printed as
a markdown table (for benchmarks/README.md) and saved as JSON in benchmarks/out/.

Method
------
Workloads (data generated with fixed seeds, saved once, read by every run):

    W1  350 x 2, K 4, full         sample_data/blobs4.csv, whole process (below)
    W2  100,000 x 2, K 4, full
    W3  1,000,000 x 16, K 16, full
    W4  1,000,000 x 16, K 16, diag
    W5  200,000 x 64, K 8, full

Each side runs in its own subprocess, from the SAME initial parameters (weights, means,
precisions), with tol 0 and a fixed number of iterations m:

- emgmm: emgmm_cli.engine.run_em on an ArrayDataset (the engine's block reduction over
  its own thread pool, one thread per core), with OPENBLAS_NUM_THREADS, OMP_NUM_THREADS
  and MKL_NUM_THREADS set to 1 before numpy is imported, as the emgmm command sets them
  (BLAS threads inside the engine's threads oversubscribe the cores);
- scikit-learn: GaussianMixture(weights_init, means_init, precisions_init, tol=0,
  max_iter=m).fit, at its default threading (the BLAS variables removed from its
  environment), as users run it (--sklearn-threads N pins it); init_params=
  "random_from_data", the cheapest, since the given initial parameters replace what it
  computes.

Seconds per iteration = (T(max_iter=m+1) - T(max_iter=1)) / m, the median over --repeats
runs: the difference removes what does not iterate (input checks, scikit-learn's
initialisation, the final E-step both sides make), so it is the cost of m E+M steps.
(Not T(0): scikit-learn's fit with max_iter=0 and precisions_init fails.)
Peak memory is each subprocess's VmHWM (the data it loaded included).  "% of matmul" is
the work of one iteration (full: 4 N K D^2 flops, the E-step's and the M-step's
products; diag: 6 N K D) per second, over the GFLOP/s of a large matrix product measured
first on this machine with the default threading (float64, and float32 for the float32
column).  emgmm also runs each workload on float32 data (--dtype float32); the table
gives its seconds per iteration, the float64/float32 ratio and whether its labels are
those of float64.

W1 is the whole command as a user runs it, process start to exit, median of --cli-runs:
`emgmm fit sample_data/blobs4.csv -k 4 --columns x,y --seed 0 > /dev/null` against a
Python script that reads the CSV with numpy, runs GaussianMixture(4,
random_state=0).fit_predict and prints the labels.

--out-of-core: a 100,000,000 x 16 float32 .npy is generated block by block in --scratch,
then `emgmm fit BIG.npy -k 16 --dtype float32 --max-iter 3 --tol 0 --memory-limit 1G
--labels big_labels.npy --trace trace.csv` runs as a subprocess (--memory-limit makes it
read by blocks whatever the machine's memory); its peak RSS comes from wait4 and its
seconds per iteration from the trace.  The same engine on an in-memory 10,000,000-row
slice, times 10, is the reference.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
REG_COVAR = 1e-6


@dataclass(frozen=True)
class Workload:
    name: str
    n: int
    d: int
    k: int
    covariance_type: str
    quick_n: int
    seed: int

    def rows(self, quick: bool) -> int:
        return self.quick_n if quick else self.n

    def flops(self, n: int) -> float:
        """Work of one EM iteration (multiply-adds counted as two flops)."""
        if self.covariance_type == "full":
            return 4.0 * n * self.k * self.d ** 2
        return 6.0 * n * self.k * self.d


WORKLOADS = {
    "W2": Workload("W2", 100_000, 2, 4, "full", 10_000, 2),
    "W3": Workload("W3", 1_000_000, 16, 16, "full", 20_000, 3),
    "W4": Workload("W4", 1_000_000, 16, 16, "diag", 20_000, 4),
    "W5": Workload("W5", 200_000, 64, 8, "full", 5_000, 5),
}


# --------------------------------------------------------------------------- subprocesses


def emgmm_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in BLAS_VARIABLES:
        env[name] = "1"
    return env


def default_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in BLAS_VARIABLES}


def sklearn_env(threads: int | None) -> dict[str, str]:
    """scikit-learn's environment: the library's default threading, or --sklearn-threads."""
    env = default_env()
    if threads is not None:
        for name in BLAS_VARIABLES:
            env[name] = str(threads)
    return env


def run_child(kind: str, spec: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """Run this file as `--child KIND SPEC` in a fresh interpreter; its JSON answer."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", kind, json.dumps(spec)],
        env=env, capture_output=True, text=True, cwd=ROOT, check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"benchmark child {kind} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def timed_process(argv: list[str], env: dict[str, str] | None = None,
                  stdout: Any = subprocess.DEVNULL) -> tuple[float, int, int]:
    """(wall seconds from start to exit, peak RSS in bytes, exit code) of one process.

    The peak is wait4's ru_maxrss.  Linux also records there the resident memory of this
    (parent) process at the moment the child execs, so the parent keeps its own memory
    small: data are made and loaded in children only.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read() if proc.stderr else b""
    if proc.returncode != 0:
        sys.stderr.write(err.decode(errors="replace"))
    return seconds, int(usage.ru_maxrss) * 1024, proc.returncode


def peak_rss() -> int:
    """This process's high-water resident memory in bytes (VmHWM)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


# --------------------------------------------------------------------------- children


def child_matmul(spec: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    n, out = int(spec["n"]), {}
    rng = np.random.default_rng(0)
    for dtype in ("float64", "float32"):
        a = rng.standard_normal((n, n)).astype(dtype)
        b = rng.standard_normal((n, n)).astype(dtype)
        np.matmul(a, b)  # warm up
        best = min(_time(np.matmul, a, b) for _ in range(int(spec["repeats"])))
        out[dtype] = 2.0 * n ** 3 / best / 1e9
    return out


def _time(fn: Any, *args: Any) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def _start_params(spec: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    with np.load(spec["init"]) as f:
        return {name: f[name] for name in f.files}


def child_emgmm(spec: dict[str, Any]) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from emgmm_cli.backends.local import ArrayDataset, block_rows
    from emgmm_cli.engine import MixtureParams, predict_chunk, run_em

    if "rows" in spec:  # a slice of a file that may not fit in memory
        x = np.array(np.load(spec["data"], mmap_mode="r")[: int(spec["rows"])])
    else:
        x = np.load(spec["data"])
    init = _start_params(spec)
    cov_type = spec["covariance_type"]
    k, d = init["means"].shape
    start = MixtureParams.build(init["weights"], init["means"], init["covariances"], cov_type)
    data = ArrayDataset(x, block_rows=block_rows(k, d, covariance_type=cov_type,
                                                 itemsize=x.dtype.itemsize))
    m = int(spec["iters"])

    def run(iters: int) -> tuple[float, Any]:
        t0 = time.perf_counter()
        result = run_em(data, start, tol=0.0, max_iter=iters, reg_covar=REG_COVAR)
        return time.perf_counter() - t0, result

    if spec.get("warm_up", True):
        run(1)  # the thread pool, the kernels' buffers
    per_iter, result = [], None
    for _ in range(int(spec["repeats"])):
        t_one, _ = run(1)
        t_m, result = run(m + 1)
        per_iter.append((t_m - t_one) / m)  # <= 0 only under heavy noise
    assert result is not None
    if spec.get("labels"):
        labels = np.concatenate([predict_chunk(b, result.params).labels
                                 for _, b in data.scan(lambda b, _: b)])
        np.save(spec["labels"], labels)
    return {"seconds_per_iter": statistics.median(per_iter), "all": per_iter,
            "peak_rss": peak_rss(), "threads": data.n_threads,
            "mean_loglik": result.final.loglik / data.n_samples}


def child_sklearn(spec: dict[str, Any]) -> dict[str, Any]:
    import warnings

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    x = np.load(spec["data"])
    init = _start_params(spec)
    cov_type = spec["covariance_type"]
    cov = init["covariances"]
    precisions = np.linalg.inv(cov) if cov_type in ("full", "tied") else 1.0 / cov
    m = int(spec["iters"])

    def model(iters: int) -> Any:
        return GaussianMixture(
            n_components=init["means"].shape[0], covariance_type=cov_type,
            weights_init=init["weights"], means_init=init["means"],
            precisions_init=precisions, tol=0.0, max_iter=iters, reg_covar=REG_COVAR,
            init_params="random_from_data", random_state=0)

    def run(iters: int) -> tuple[float, Any]:
        gm = model(iters)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0 = time.perf_counter()
            gm.fit(x)
            return time.perf_counter() - t0, gm

    if spec.get("warm_up", True):
        run(1)
    per_iter, gm = [], None
    for _ in range(int(spec["repeats"])):
        t_one, _ = run(1)
        t_m, gm = run(m + 1)
        per_iter.append((t_m - t_one) / m)  # <= 0 only under heavy noise
    assert gm is not None
    if spec.get("labels"):
        np.save(spec["labels"], gm.predict(x))
    return {"seconds_per_iter": statistics.median(per_iter), "all": per_iter,
            "peak_rss": peak_rss(), "mean_loglik": float(gm.score(x))}


# --------------------------------------------------------------------------- data


def make_data(w: Workload, n: int, folder: Path) -> dict[str, str]:
    """Blobs with fixed seeds, saved in float64 and float32, and the initial parameters."""
    import numpy as np

    rng = np.random.default_rng(w.seed)
    centres = rng.normal(scale=4.0, size=(w.k, w.d))
    sizes = rng.multinomial(n, np.full(w.k, 1.0 / w.k))
    parts = []
    for c, size in zip(centres, sizes):
        mixing = np.eye(w.d) + 0.2 * rng.normal(size=(w.d, w.d)) / np.sqrt(w.d)
        parts.append(c + rng.normal(size=(size, w.d)) @ mixing)
    x = np.concatenate(parts)[rng.permutation(n)]
    # the same initial parameters for both sides: one point of each blob as its mean,
    # the data's covariance (or variances) for every component, equal weights
    means = np.stack([p[0] if len(p) else c for p, c in zip(parts, centres)])
    cov = np.cov(x, rowvar=False).reshape(w.d, w.d)
    covariances = np.stack([cov] * w.k) if w.covariance_type == "full" \
        else np.stack([np.diag(cov)] * w.k)
    paths = {"f64": str(folder / f"{w.name}.npy"), "f32": str(folder / f"{w.name}-f32.npy"),
             "init": str(folder / f"{w.name}-init.npz")}
    np.save(paths["f64"], x)
    np.save(paths["f32"], x.astype(np.float32))
    np.savez(paths["init"], weights=np.full(w.k, 1.0 / w.k), means=means,
             covariances=covariances)
    return paths


def child_data(spec: dict[str, Any]) -> dict[str, str]:
    return make_data(WORKLOADS[spec["workload"]], int(spec["n"]), Path(spec["folder"]))


# --------------------------------------------------------------------------- benchmarks


def measure_matmul(quick: bool) -> dict[str, float]:
    peak = run_child("matmul", {"n": 1024 if quick else 4096, "repeats": 3}, default_env())
    print(f"matrix multiply ({'1024' if quick else '4096'}^2, default threading): "
          f"{peak['float64']:.1f} GFLOP/s float64, {peak['float32']:.1f} GFLOP/s float32",
          flush=True)
    return peak


def bench_workload(w: Workload, args: argparse.Namespace, folder: Path,
                   peak: dict[str, float]) -> dict[str, Any]:
    import numpy as np

    n = w.rows(args.quick)
    paths = run_child("data", {"workload": w.name, "n": n, "folder": str(folder)},
                      default_env())
    base = {"covariance_type": w.covariance_type, "init": paths["init"], "iters": args.iters,
            "repeats": args.repeats, "warm_up": not args.quick}
    sk = run_child("sklearn", {**base, "data": paths["f64"],
                               "labels": str(folder / f"{w.name}-sk.npy")},
                   sklearn_env(args.sklearn_threads))
    em = run_child("emgmm", {**base, "data": paths["f64"],
                             "labels": str(folder / f"{w.name}-em.npy")}, emgmm_env())
    em32 = run_child("emgmm", {**base, "data": paths["f32"],
                               "labels": str(folder / f"{w.name}-em32.npy")}, emgmm_env())
    lab_sk = np.load(folder / f"{w.name}-sk.npy")
    lab_em = np.load(folder / f"{w.name}-em.npy")
    lab_32 = np.load(folder / f"{w.name}-em32.npy")
    flops = w.flops(n)
    row = {
        "workload": w.name, "n": n, "d": w.d, "k": w.k, "covariance_type": w.covariance_type,
        "iters": args.iters,
        "sklearn_s": sk["seconds_per_iter"], "emgmm_s": em["seconds_per_iter"],
        "emgmm32_s": em32["seconds_per_iter"],
        "sklearn_peak": sk["peak_rss"], "emgmm_peak": em["peak_rss"],
        "emgmm32_peak": em32["peak_rss"],
        "sklearn_frac": _fraction(flops, sk["seconds_per_iter"], peak["float64"]),
        "emgmm_frac": _fraction(flops, em["seconds_per_iter"], peak["float64"]),
        "emgmm32_frac": _fraction(flops, em32["seconds_per_iter"], peak["float32"]),
        "labels_vs_sklearn": int(np.sum(lab_sk != lab_em)),
        "labels_32_vs_64": int(np.sum(lab_32 != lab_em)),
        "mean_loglik": {"sklearn": sk["mean_loglik"], "emgmm": em["mean_loglik"],
                        "emgmm32": em32["mean_loglik"]},
        "threads": em["threads"],
    }
    print(f"{w.name}: sklearn {row['sklearn_s']:.4g} s/it, emgmm {row['emgmm_s']:.4g} s/it, "
          f"float32 {row['emgmm32_s']:.4g} s/it", flush=True)
    return row


def _fraction(flops: float, seconds_per_iter: float, gflops: float) -> float | None:
    """The share of the matrix-multiply throughput one iteration reaches."""
    if not seconds_per_iter > 0:
        return None
    return flops / seconds_per_iter / 1e9 / gflops


SKLEARN_SCRIPT = """\
import sys
import numpy as np
from sklearn.mixture import GaussianMixture
x = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, usecols=(0, 1))
labels = GaussianMixture(4, random_state=0).fit_predict(x)
sys.stdout.write("".join(f"{v}\\n" for v in labels))
"""


def emgmm_command() -> list[str]:
    exe = Path(sys.executable).parent / "emgmm"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "emgmm_cli"]


def bench_cli(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    sample = str(ROOT / "sample_data" / "blobs4.csv")
    script = folder / "sklearn_fit.py"
    script.write_text(SKLEARN_SCRIPT)
    ours = emgmm_command() + ["fit", sample, "-k", "4", "--columns", "x,y", "--seed", "0"]
    theirs = [sys.executable, str(script), sample]
    env = default_env()  # as a user's shell has it; emgmm sets its BLAS threads itself
    results: dict[str, list[tuple[float, int]]] = {"emgmm": [], "sklearn": []}
    if not args.quick:
        timed_process(ours, env)  # warm the file cache and the byte-code caches
        timed_process(theirs, env)
    for _ in range(args.cli_runs):
        for name, argv in (("emgmm", ours), ("sklearn", theirs)):
            seconds, rss, code = timed_process(argv, env)
            if code != 0:
                raise SystemExit(f"{' '.join(argv)} failed with exit status {code}")
            results[name].append((seconds, rss))
    row = {"workload": "W1", "n": 350, "d": 2, "k": 4, "covariance_type": "full",
           "runs": args.cli_runs}
    for name, runs in results.items():
        row[f"{name}_process_s"] = statistics.median(s for s, _ in runs)
        row[f"{name}_peak"] = max(r for _, r in runs)
    print(f"W1 (whole process): sklearn {row['sklearn_process_s']:.3f} s, "
          f"emgmm {row['emgmm_process_s']:.3f} s", flush=True)
    return row


def child_bigdata(spec: dict[str, Any]) -> dict[str, Any]:
    """An n x d float32 mixture of k blobs, written block by block (bounded memory).

    A child of its own: the resident memory of the parent at the moment it starts a
    process counts in that process's ru_maxrss (Linux records it at exec), so the parent
    keeps large arrays out of its own memory.
    """
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from emgmm_cli.io.writers import npy_header

    path, n, d, k = Path(spec["path"]), int(spec["n"]), int(spec["d"]), int(spec["k"])
    block = 1_000_000
    header = npy_header((n, d), np.float32)
    expected = len(header) + n * d * 4
    if path.exists() and path.stat().st_size == expected:
        return {"reused": True}
    centres = np.random.default_rng(100).normal(scale=4.0, size=(k, d))
    tmp = path.with_suffix(".npy.part")
    with open(tmp, "wb") as fh:
        fh.write(header)
        for b, start in enumerate(range(0, n, block)):
            rows = min(block, n - start)
            rng = np.random.default_rng([100, b])
            x = centres[rng.integers(0, k, rows)] + rng.standard_normal((rows, d))
            fh.write(x.astype(np.float32).tobytes())
    os.replace(tmp, path)
    return {"reused": False}


def bench_out_of_core(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    n = 2_000_000 if args.quick else 100_000_000
    n_slice = n // 10
    d, k = 16, 16
    limit = "16M" if args.quick else "1G"
    scratch = Path(args.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    big = scratch / f"emgmm-bench-{n}x{d}.npy"
    t0 = time.perf_counter()
    made = run_child("bigdata", {"path": str(big), "n": n, "d": d, "k": k}, default_env())
    print(f"data: {big} ({big.stat().st_size / 2**30:.2f} GiB, "
          f"{'reused' if made['reused'] else f'{time.perf_counter() - t0:.0f} s'})", flush=True)
    labels, trace = scratch / "big_labels.npy", scratch / "big_trace.csv"
    argv = emgmm_command() + ["fit", str(big), "-k", str(k), "--dtype", "float32",
                              "--max-iter", "3", "--tol", "0", "--seed", "0",
                              "--memory-limit", limit, "--labels", str(labels),
                              "--trace", str(trace)]
    print("running: " + " ".join(argv), flush=True)
    seconds, rss, code = timed_process(argv, default_env())
    if code != 0:
        raise SystemExit(f"emgmm fit failed with exit status {code}")
    import numpy as np

    per_iter = np.loadtxt(trace, delimiter=",", skiprows=1, usecols=3, ndmin=1)
    # the in-memory reference: the same engine on the first n/10 rows, float32, times 10
    init = folder / "ooc-init.npz"
    head = np.load(big, mmap_mode="r")[:k].astype(np.float64)
    first = np.asarray(np.load(big, mmap_mode="r")[: min(n_slice, 100_000)], dtype=np.float64)
    cov = np.cov(first, rowvar=False)
    np.savez(init, weights=np.full(k, 1.0 / k), means=head, covariances=np.stack([cov] * k))
    ref = run_child("emgmm", {"covariance_type": "full", "init": str(init), "iters": 3,
                              "repeats": 1, "data": str(big), "rows": n_slice},
                    emgmm_env())
    row = {
        "workload": "OOC", "n": n, "d": d, "k": k, "covariance_type": "full",
        "dtype": "float32", "file_bytes": big.stat().st_size, "process_s": seconds,
        "peak_rss": rss, "seconds_per_iter": float(np.median(per_iter)),
        "trace_seconds": per_iter.tolist(),
        "slice_rows": n_slice, "slice_seconds_per_iter": ref["seconds_per_iter"],
        "slice_peak_rss": ref["peak_rss"],
        "scaled_seconds_per_iter": ref["seconds_per_iter"] * n / n_slice,
    }
    if not args.keep:
        for path in (big, labels, trace):
            try:
                path.unlink()
            except OSError:
                pass
    return row


# --------------------------------------------------------------------------- tables


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f}"


def seconds(s: float) -> str:
    if not s > 0:
        return "noise"  # the difference of two timings drowned in the machine's load
    return f"{s:.3g}" if s < 100 else f"{s:,.0f}"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if a > 0 and b > 0 else "-"


def percent(frac: float | None) -> str:
    return "-" if frac is None else f"{100 * frac:.0f}%"


def table(rows: list[dict[str, Any]], peak: dict[str, float] | None, quick: bool,
          sklearn_threads: int | None = None) -> str:
    lines = []
    cli = [r for r in rows if r["workload"] == "W1"]
    em = [r for r in rows if r["workload"] in WORKLOADS]
    ooc = [r for r in rows if r["workload"] == "OOC"]
    if peak is not None:
        lines.append(f"Matrix multiply on this machine: {peak['float64']:.1f} GFLOP/s "
                     f"(float64), {peak['float32']:.1f} GFLOP/s (float32); "
                     f"{os.cpu_count()} CPUs; scikit-learn with "
                     f"{'its default BLAS threading' if sklearn_threads is None else f'{sklearn_threads} BLAS threads'}"
                     f", emgmm with one BLAS thread per engine thread."
                     f"{' (--quick: scaled-down sizes)' if quick else ''}")
        lines.append("")
    if em:
        lines += [
            ("| workload | N x D, K, covariance | scikit-learn s/iter | emgmm s/iter | "
             "sklearn / emgmm | sklearn peak MiB | emgmm peak MiB | sklearn % of matmul | "
             "emgmm % of matmul | emgmm float32 s/iter | float64 / float32 | float32 labels |"),
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in em:
            same = "equal" if r["labels_32_vs_64"] == 0 else f"{r['labels_32_vs_64']} differ"
            lines.append(
                f"| {r['workload']} | {r['n']:,} x {r['d']}, K {r['k']}, {r['covariance_type']} "
                f"| {seconds(r['sklearn_s'])} | {seconds(r['emgmm_s'])} "
                f"| {ratio(r['sklearn_s'], r['emgmm_s'])} "
                f"| {mib(r['sklearn_peak'])} | {mib(r['emgmm_peak'])} "
                f"| {percent(r['sklearn_frac'])} | {percent(r['emgmm_frac'])} "
                f"| {seconds(r['emgmm32_s'])} | {ratio(r['emgmm_s'], r['emgmm32_s'])} "
                f"| {same} |")
        lines.append("")
    if cli:
        r = cli[0]
        lines += [
            (f"| W1: 350 x 2, K 4, full, whole process | seconds (median of {r['runs']}) "
             "| peak MiB |"),
            "|---|---|---|",
            (f"| `emgmm fit sample_data/blobs4.csv -k 4 --columns x,y --seed 0` "
             f"| {r['emgmm_process_s']:.3f} | {mib(r['emgmm_peak'])} |"),
            (f"| numpy.loadtxt + GaussianMixture(4, random_state=0).fit_predict "
             f"| {r['sklearn_process_s']:.3f} | {mib(r['sklearn_peak'])} |"),
            "",
        ]
    if ooc:
        r = ooc[0]
        lines += [
            ("| out of core | data | peak RSS MiB | s/iter | in-memory slice s/iter x "
             f"{r['n'] // r['slice_rows']} | ratio |"),
            "|---|---|---|---|---|---|",
            (f"| `emgmm fit BIG.npy -k {r['k']} --dtype float32` | {r['n']:,} x {r['d']} "
             f"float32, {r['file_bytes'] / 2**30:.1f} GiB | {mib(r['peak_rss'])} "
             f"| {seconds(r['seconds_per_iter'])} | {seconds(r['scaled_seconds_per_iter'])} "
             f"| {ratio(r['seconds_per_iter'], r['scaled_seconds_per_iter'])} |"),
            "",
        ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="scaled-down sizes, 2 iterations, 1 run each: checks that the "
                             "benchmark works (under a minute), measures nothing")
    parser.add_argument("--only", metavar="W2,W3",
                        help="comma-separated workloads among W1-W5")
    parser.add_argument("--iters", type=int, help="EM iterations per run (default 10; 2 quick)")
    parser.add_argument("--repeats", type=int, help="runs per measurement, the median kept "
                                                    "(default 5; 1 quick)")
    parser.add_argument("--cli-runs", type=int, help="W1 process runs (default 10; 2 quick)")
    parser.add_argument("--sklearn-threads", type=int, metavar="N",
                        help="run scikit-learn with N BLAS threads (default: the library's "
                             "own choice, as users run it)")
    parser.add_argument("--out-of-core", action="store_true",
                        help="only the out-of-core benchmark (writes 6.4 GB to --scratch)")
    parser.add_argument("--scratch", default=tempfile.gettempdir(),
                        help="folder for the out-of-core data (default: %(default)s)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the out-of-core data file for the next run")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "SPEC"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, spec = args.child
        children = {"matmul": child_matmul, "emgmm": child_emgmm, "sklearn": child_sklearn,
                    "bigdata": child_bigdata, "data": child_data}
        print(json.dumps(children[kind](json.loads(spec))))
        return 0

    import importlib.util

    if importlib.util.find_spec("sklearn") is None:  # (not imported: the parent stays small)
        print("the benchmark needs scikit-learn: pip install '.[test]'", file=sys.stderr)
        return 1
    args.iters = args.iters or (2 if args.quick else 10)
    args.repeats = args.repeats or (1 if args.quick else 5)
    args.cli_runs = args.cli_runs or (2 if args.quick else 10)
    wanted = ["W1", *WORKLOADS] if not args.only else \
        [w.strip().upper() for w in args.only.split(",") if w.strip()]
    unknown = [w for w in wanted if w != "W1" and w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)}; choose among W1-W5")

    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="emgmm-bench-") as tmp:
        folder = Path(tmp)
        peak = measure_matmul(args.quick)
        if args.out_of_core:
            rows.append(bench_out_of_core(args, folder))
        else:
            if "W1" in wanted:
                rows.append(bench_cli(args, folder))
            for name in wanted:
                if name in WORKLOADS:
                    rows.append(bench_workload(WORKLOADS[name], args, folder, peak))
    print()
    print(table(rows, peak, args.quick, args.sklearn_threads))
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = out / f"results-{stamp}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps({"quick": args.quick, "iters": args.iters,
                                "sklearn_threads": args.sklearn_threads,
                                "repeats": args.repeats, "matmul_gflops": peak,
                                "cpus": os.cpu_count(), "rows": rows}, indent=2) + "\n")
    print(f"(results saved in {path.relative_to(ROOT)}; "
          f"{time.perf_counter() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
