"""Properties that hold for every valid input, and fuzzing of the two readers of outside
bytes (the text reader and the model-file loader).

- A fit of random valid data with random options: responsibilities in [0, 1] summing to 1
  per row, labels in 0..K-1 and the arg-max of the responsibilities, weights summing to 1,
  covariances symmetric positive definite, a soft-EM trace that never goes down beyond
  rounding; the same fit of the rows in another order (up to the order of the labels);
  translated and scaled data give translated and scaled parameters and a log-likelihood
  shifted by -N D log a.
- Arbitrary bytes to the text reader and to the model loader: data, or a DataError of one
  line; never another exception, never a numpy warning.  Through the command line: exit 0
  or exit 1 with one line on stderr.

Bounded (derandomized, a few dozen examples each) so that the whole file takes seconds.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import emgmm_cli
from emgmm_cli.cli.main import cli
from emgmm_cli.engine.errors import EngineError
from emgmm_cli.io import DataError, load_model, read_points
from emgmm_cli.io import text as text_reader

FAMILIES = ["full", "tied", "diag", "spherical"]
FAST = settings(max_examples=30, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.fixture(autouse=True)
def numpy_warnings_are_errors() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # the product's own warnings of a fit (a collapsed component, ...) are its output
        warnings.simplefilter("ignore", emgmm_cli.FitWarning)
        yield


def blobs(seed: int, n: int, d: int, k: int, scale: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=6 * scale, size=(k, d))
    x = centers[np.arange(n) % k] + rng.normal(scale=scale, size=(n, d))
    return np.asarray(x)


problems = dict(seed=st.integers(0, 2**32 - 1), n=st.integers(30, 90), d=st.integers(1, 3),
                k=st.integers(1, 3), covariance_type=st.sampled_from(FAMILIES),
                log_scale=st.floats(-3.0, 3.0))


@FAST
@given(**problems, hard=st.booleans(), init=st.sampled_from(["kmeans", "random", "k-means++"]))
def test_a_fit_keeps_its_invariants(seed: int, n: int, d: int, k: int, covariance_type: str,
                                    log_scale: float, hard: bool, init: str) -> None:
    x = blobs(seed, n, d, k, 10.0 ** log_scale)
    try:
        fit = emgmm_cli.fit(x, k, covariance_type=covariance_type, seed=seed, init=init,
                            algorithm="hard" if hard else "soft", standardize=True)
    except EngineError:
        assume(False)  # data this draw cannot support (a component with no points)
        return
    resp = fit.responsibilities
    assert np.all((resp >= 0) & (resp <= 1))
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-12)
    assert set(np.unique(fit.labels)) <= set(range(k))
    np.testing.assert_array_equal(fit.labels, resp.argmax(axis=1))
    assert fit.weights.sum() == pytest.approx(1.0, abs=1e-12)
    for cov in fit.params.full_covariances():
        np.testing.assert_allclose(cov, cov.T, rtol=1e-12, atol=0)
        assert np.linalg.eigvalsh(cov).min() > 0
    trace = np.array(fit.trace["log_likelihood"])
    if not hard:
        drops = trace[:-1] - trace[1:]
        assert (drops <= 1e-9 * (1 + np.abs(trace[:-1]))).all(), trace
    assert np.isfinite(fit.log_likelihood)


def ordered(means: np.ndarray) -> np.ndarray:
    """The components in a canonical order (by their means), to compare two fits."""
    return np.lexsort(means.T[::-1])


@FAST
@given(**problems, shift=st.floats(-1e3, 1e3), log_a=st.floats(-2.0, 2.0))
def test_a_fit_is_invariant_to_row_order_and_equivariant_to_affine_maps(
        seed: int, n: int, d: int, k: int, covariance_type: str, log_scale: float,
        shift: float, log_a: float) -> None:
    x = blobs(seed, n, d, k, 10.0 ** log_scale)
    start = x[:k].copy()  # given starting means: nothing random depends on the row order
    assume(len(np.unique(start, axis=0)) == k)
    options: dict[str, Any] = dict(covariance_type=covariance_type, tol=1e-9, max_iter=500,
                                   reg_covar=1e-6 * 10.0 ** (2 * log_scale))
    try:
        base = emgmm_cli.fit(x, k, means_init=start, **options)
    except EngineError:
        assume(False)
        return
    perm = np.random.default_rng(seed).permutation(n)
    shuffled = emgmm_cli.fit(x[perm], k, means_init=start, **options)
    assert shuffled.log_likelihood == pytest.approx(base.log_likelihood, rel=1e-8, abs=1e-8)
    np.testing.assert_array_equal(shuffled.labels, base.labels[perm])
    a = 10.0 ** log_a
    options["reg_covar"] *= a * a
    moved = emgmm_cli.fit(a * x + shift, k, means_init=a * start + shift, **options)
    assert moved.log_likelihood == pytest.approx(
        base.log_likelihood - n * d * np.log(a), rel=1e-7, abs=1e-7)
    i, j = ordered(base.means), ordered(moved.means)
    np.testing.assert_allclose(moved.means[j], a * base.means[i] + shift, rtol=1e-6,
                               atol=1e-6 * a * 10.0 ** log_scale)
    full_b, full_m = base.params.full_covariances(), moved.params.full_covariances()
    np.testing.assert_allclose(full_m[j], a * a * full_b[i], rtol=1e-5,
                               atol=1e-8 * (a * 10.0 ** log_scale) ** 2)


# --------------------------------------------------------------------------- fuzzing

#: Bytes a text file is made of, weighted towards what a parser must decide about.
TEXTISH = st.lists(st.sampled_from(
    [b"0", b"1", b"7", b"-", b"+", b".", b"e", b"5e300", b"1e-320", b"nan", b"inf", b",",
     b";", b"\t", b" ", b"|", b"\n", b"\r\n", b"\r", b'"', b"#", b"x", b"y", b"\xef\xbb\xbf",
     b"\xff", b"\x00", b"\xc3\xa9", b"_", b"1,5", b"TRUE", b"\x1f\x8b"]), max_size=60)


def read_or_refuse(data: bytes, name: str, **kwargs: Any) -> None:
    """read_points on data: finite values, or a DataError of one line."""
    try:
        pts = read_points("-", stdin=io.BytesIO(data), **kwargs) if name == "-" else \
            read_points(name, **kwargs)
    except DataError as exc:
        assert "\n" not in str(exc) and str(exc).strip()
        return
    assert pts.x.ndim == 2 and pts.x.shape[0] >= 1 and np.isfinite(pts.x).all()
    assert len(pts.column_names) == pts.x.shape[1]


@settings(max_examples=250, deadline=None, derandomize=True)
@given(parts=TEXTISH, header=st.sampled_from([None, True, False]))
def test_the_text_reader_reads_or_refuses_any_bytes(parts: list[bytes],
                                                    header: bool | None) -> None:
    read_or_refuse(b"".join(parts), "-", header=header)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=st.binary(max_size=300), large=st.booleans())
def test_any_bytes_in_a_csv_file_both_parsers(tmp_path_factory: pytest.TempPathFactory,
                                              data: bytes, large: bool) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "f.csv"
    path.write_bytes(data)
    with pytest.MonkeyPatch.context() as patch:
        if large:
            patch.setattr(text_reader, "PANDAS_MIN_BYTES", 0)
        read_or_refuse(data, str(path))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(parts=TEXTISH)
def test_the_command_line_exits_0_or_1_with_one_line(parts: list[bytes]) -> None:
    result = CliRunner().invoke(cli, ["fit", "-", "-k", "1", "--seed", "0"],
                                input=b"".join(parts), env={"EMGMM_FORCE_TTY": None})
    assert result.exit_code in (0, 1), result.output
    if result.exit_code == 1:
        lines = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
        assert len(lines) == 1 and "Traceback" not in result.stderr


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 5) | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=4),
    max_leaves=12)


@pytest.fixture(scope="module")
def model_doc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    x = blobs(1, 60, 2, 2, 1.0)
    return json.loads(json.dumps(emgmm_cli.fit(x, 2, seed=0, standardize=True).document))


def load_or_refuse(path: Path) -> None:
    try:
        load_model(str(path))
    except DataError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(path))


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200))
def test_the_model_loader_refuses_arbitrary_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(data)
    load_or_refuse(path)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["weights", "means", "covariances", "n_components", "n_features",
                              "version", "covariance_type", "feature_names", "options",
                              "transform", "log_likelihood", "degenerate", "events"]),
       path_in=st.lists(st.integers(0, 3), max_size=2), value=JSON)
def test_the_model_loader_refuses_any_field_edit_in_one_line(
        tmp_path: Path, model_doc: dict[str, Any], field: str, path_in: list[int],
        value: Any) -> None:
    doc = json.loads(json.dumps(model_doc))
    target: Any = doc
    key: Any = field
    for step in path_in:  # reach into a nested list or object, where there is one
        inner = target[key]
        if isinstance(inner, list) and inner:
            target, key = inner, step % len(inner)
        elif isinstance(inner, dict) and inner:
            target, key = inner, sorted(inner)[step % len(inner)]
    target[key] = value
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    load_or_refuse(path)
