"""`emgmm make-blobs`: sizes, centres, spreads, outputs, reproducibility and errors."""

from __future__ import annotations

import io
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from numpy.typing import NDArray

from emgmm_cli.cli.main import cli
from emgmm_cli.engine.blobs import make_blobs

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = ROOT / "sample_data"
EMGMM = Path(sys.executable).parent / "emgmm"
#: The true blob as a last column named label (the data hold coordinates only without it).
TRUTH = ("--label-column", "label")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["make-blobs", *args])


def ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return result.stdout


def table(text: str) -> tuple[list[str], NDArray[np.float64]]:
    lines = text.splitlines()
    header = lines[0].split(",")
    return header, np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1, ndmin=2)


# --- sizes, centres and columns ------------------------------------------------------------


def test_defaults_are_100_points_3_random_centers_in_2_dimensions() -> None:
    header, data = table(ok(*TRUTH, "--seed", "0"))
    assert header == ["x0", "x1", "label"]
    assert data.shape == (100, 3)
    assert np.bincount(data[:, 2].astype(int)).tolist() == [34, 33, 33]
    assert np.all(np.abs(data[:, :2]) < 10 + 6)  # centres in the default box [-10, 10)


def test_sizes_one_per_center_and_blobs_in_order() -> None:
    _header, data = table(ok(*TRUTH, "-n", "80,60,70,140", "--centers", "1,1;5,5;6,1;2,8", "--seed", "0"))
    labels = data[:, 2].astype(int)
    assert labels.tolist() == [0] * 80 + [1] * 60 + [2] * 70 + [3] * 140


def test_same_points_as_the_engine_and_the_sample_data(tmp_path: Path) -> None:
    """blobs4.csv was drawn by make_blobs with these very sizes, centres, std and seed; its
    truth is blobs4.labels.csv, written as --labels writes it."""
    truth = tmp_path / "truth.csv"
    out = ok("-n", "80,60,70,140", "--centers", "1,1;5,5;6,1;2,8", "--std", "1", "--seed", "0",
             "--labels", str(truth))
    sample = (SAMPLE_DATA / "blobs4.csv").read_text()
    assert out.splitlines()[0] == "x0,x1"
    assert out.splitlines()[1:] == sample.splitlines()[1:]
    assert truth.read_bytes() == (SAMPLE_DATA / "blobs4.labels.csv").read_bytes()
    x, labels = make_blobs([80, 60, 70, 140], [[1, 1], [5, 5], [6, 1], [2, 8]],
                           rng=np.random.default_rng(0))
    _, data = table(out)
    np.testing.assert_allclose(data, x, rtol=1e-9)
    assert np.array_equal(np.loadtxt(truth, dtype=int), labels)


def test_total_split_evenly_over_explicit_centers() -> None:
    _, data = table(ok(*TRUTH, "-n", "10", "--centers", "0,0,0;10,10,10;20,20,20", "--seed", "1"))
    assert data.shape == (10, 4)
    assert np.bincount(data[:, 3].astype(int)).tolist() == [4, 3, 3]


def test_centers_are_recovered_by_the_blob_means() -> None:
    centers = np.array([[1.0, 1.0], [5.0, 5.0], [6.0, 1.0], [2.0, 8.0]])
    _, data = table(ok(*TRUTH, "-n", "40000", "--centers", "1,1;5,5;6,1;2,8", "--std", "0.5",
                       "--seed", "3"))
    for k in range(4):
        blob = data[data[:, 2] == k, :2]
        np.testing.assert_allclose(blob.mean(axis=0), centers[k], atol=0.02)
        np.testing.assert_allclose(blob.std(axis=0), 0.5, atol=0.02)


def test_centers_from_a_file_and_centers_out(tmp_path: Path) -> None:
    centers = tmp_path / "centers.csv"
    centers.write_text("a,b\n0,0\n10,0\n0,10\n")
    out = tmp_path / "out.csv"
    assert ok("-n", "30", "--centers", str(centers), "--seed", "0", "--centers-out", str(out)) != ""
    assert out.read_text() == "x0,x1\n0,0\n10,0\n0,10\n"
    # a word in the centres is theirs to fix: --columns selects no column of them
    centers.write_text("a,b\n0,0\nten,0\n")
    refused = run("-n", "30", "--centers", str(centers))
    assert (refused.exit_code, refused.stderr) == (
        1, f"Error: {centers}:3: column 'a': non-numeric value 'ten'; fix or remove the row\n")


def test_a_centers_file_whose_first_row_could_be_a_header_says_so(tmp_path: Path) -> None:
    """A first row of 0, 1 over decimals is read as the header (as every reader takes the
    names emgmm gives unnamed columns): make-blobs drew two blobs of three centres without
    a word, and had no --no-header to say otherwise.  It warns now, and -H reads the row
    as a centre; a first row of whole numbers that is not 0, 1 is read as a centre and
    said to be."""
    centers = tmp_path / "centers.csv"
    centers.write_text("0,1\n5.5,6.5\n-3.2,4.1\n")
    out = tmp_path / "out.csv"
    taken = run("-n", "30", "--centers", str(centers), "--seed", "0", "--centers-out", str(out))
    assert taken.exit_code == 0
    assert taken.stderr == (f"emgmm: warning: {centers}: line 1 (0, 1) numbers the columns "
                            "from 0, as emgmm names unnamed columns: it is read as the header; "
                            "if it is data, add --no-header\n")
    assert out.read_text() == "x0,x1\n5.5,6.5\n-3.2,4.1\n"
    ok("-n", "30", "--centers", str(centers), "-H", "--seed", "0", "--centers-out", str(out))
    assert out.read_text() == "x0,x1\n0,1\n5.5,6.5\n-3.2,4.1\n"
    centers.write_text("3,4\n5.5,6.5\n")
    data = run("-n", "30", "--centers", str(centers), "--seed", "0", "--centers-out", str(out))
    assert "it is read as data: if it is a header, add --header" in data.stderr
    assert out.read_text() == "x0,x1\n3,4\n5.5,6.5\n"


def test_random_centers_with_count_dimension_box_and_centers_out(tmp_path: Path) -> None:
    out = tmp_path / "centers.npy"
    _, data = table(ok(*TRUTH, "-n", "50", "--n-centers", "5", "--dim", "3", "--center-box", "100,101",
                       "--std", "0", "--seed", "2", "--centers-out", str(out)))
    centers = np.load(out)
    assert centers.shape == (5, 3)
    assert np.all((centers >= 100) & (centers < 101))
    # with std 0 every point is its centre
    np.testing.assert_allclose(data[:, :3], centers[data[:, 3].astype(int)], rtol=1e-9)


def test_number_of_random_centers_follows_the_sizes() -> None:
    _, data = table(ok(*TRUTH, "-n", "5,6", "--seed", "0"))
    assert np.bincount(data[:, 2].astype(int)).tolist() == [5, 6]


def test_one_std_per_center() -> None:
    _, data = table(ok(*TRUTH, "-n", "20000,20000,20000", "--centers", "0;50;100", "--std", "1,0.5,2",
                       "--seed", "4"))
    sds = [data[data[:, 1] == k, 0].std() for k in range(3)]
    np.testing.assert_allclose(sds, [1.0, 0.5, 2.0], rtol=0.03)


@pytest.mark.parametrize("suffix", [".npy", ".json"])
def test_full_covariances_from_a_file(tmp_path: Path, suffix: str) -> None:
    cov = np.array([[[1.0, 0.8], [0.8, 1.0]], [[2.0, -0.5], [-0.5, 0.5]]])
    path = tmp_path / f"cov{suffix}"
    if suffix == ".npy":
        np.save(path, cov)
    else:
        path.write_text(json.dumps(cov.tolist()))
    _, data = table(ok(*TRUTH, "-n", "40000", "--centers", "0,0;20,20", "--covariances", str(path),
                       "--seed", "5"))
    for k in range(2):
        blob = data[data[:, 2] == k, :2]
        np.testing.assert_allclose(np.cov(blob.T), cov[k], atol=0.05)


def test_random_centers_take_k_and_d_from_the_covariances(tmp_path: Path) -> None:
    path = tmp_path / "cov.npy"
    np.save(path, np.stack([np.eye(3)] * 4))
    header, data = table(ok(*TRUTH, "--covariances", str(path), "--seed", "0"))
    assert header == ["x0", "x1", "x2", "label"]
    assert sorted(set(data[:, 3].astype(int))) == [0, 1, 2, 3]


# --- outputs --------------------------------------------------------------------------------


def test_coordinates_only_unless_the_truth_is_asked_for(tmp_path: Path) -> None:
    header, data = table(ok("-n", "7", "--seed", "0"))
    assert header == ["x0", "x1"]
    assert data.shape == (7, 2)
    header, labelled = table(ok("-n", "7", "--seed", "0", "--label-column", "blob"))
    assert header == ["x0", "x1", "blob"]
    np.testing.assert_array_equal(labelled[:, :2], data)
    truth = tmp_path / "truth.json"
    assert ok("-n", "7", "--seed", "0", "--labels", str(truth)) == ok("-n", "7", "--seed", "0")
    assert json.loads(truth.read_text()) == labelled[:, 2].astype(int).tolist()


def test_a_label_column_named_as_a_coordinate_is_refused() -> None:
    result = run("-n", "7", "--label-column", "x1")
    assert result.exit_code == 2
    assert "--label-column x1 is the name of a coordinate column" in result.stderr


@pytest.mark.parametrize("name", ["", "  "])
def test_a_label_column_without_a_name_is_refused(name: str) -> None:
    """An empty name wrote a header "x0,x1," (exit 0) that no reader takes for a column."""
    result = run("-n", "7", "--label-column", name)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        f"Error: --label-column {name!r} is no name: a column of true components needs "
        "one (for example component)")


@pytest.mark.parametrize("suffix, delimiter", [(".csv", ","), (".tsv", "\t")])
def test_text_output_files(tmp_path: Path, suffix: str, delimiter: str) -> None:
    path = tmp_path / f"blobs{suffix}"
    assert ok("-n", "12", "--seed", "0", "-o", str(path)) == ""
    stdout = ok("-n", "12", "--seed", "0")
    assert path.read_text() == stdout.replace(",", delimiter)


def test_npy_output(tmp_path: Path) -> None:
    path = tmp_path / "blobs.npy"
    ok("-n", "12", "--seed", "0", "-o", str(path))
    arr = np.load(path)
    _, data = table(ok("-n", "12", "--seed", "0"))
    assert arr.shape == (12, 2) and arr.dtype == np.float64
    np.testing.assert_allclose(arr, data, rtol=1e-9)


def test_points_far_from_zero_keep_their_decimals(tmp_path: Path) -> None:
    """Centres near 1e9 with unit spread: the text holds every point to 10 digits of its
    spread, as the .npy holds it (not rounded to whole numbers), and so do the centres."""
    centers = "1000000000,5;1000000008,9"
    npy = tmp_path / "blobs.npy"
    ok("-n", "40", "--centers", centers, "--seed", "3", "-o", str(npy))
    _, text = table(ok("-n", "40", "--centers", centers, "--seed", "3",
                       "--centers-out", str(tmp_path / "c.csv")))
    arr = np.load(npy)
    assert not np.all(text[:, 0] == np.round(text[:, 0]))
    assert np.all(np.abs(text - arr) <= 1e-10 * (arr.max(axis=0) - arr.min(axis=0)))
    _, back = table((tmp_path / "c.csv").read_text())
    np.testing.assert_array_equal(back, [[1e9, 5.0], [1e9 + 8, 9.0]])


#: What make-blobs says of points that float64 cannot hold (the option-naming prefix aside).
BEYOND = ("lie beyond the float64 range (about -1.8e+308 to 1.8e+308); give a smaller "
          "center or std")


@pytest.mark.filterwarnings("error")  # numpy's overflow warnings would fail the command
@pytest.mark.parametrize("args, message", [
    (["-n", "4", "--centers", "1e308,0", "--std", "1e308"],
     f"--centers, --std: blob 0: points around center (1e+308, 0) with std 1e+308 {BEYOND}"),
    (["-n", "10", "--centers", "1e308,0;-1e308,0", "--std", "1e308"],
     f"--centers, --std: blob 0: points around center (1e+308, 0) with std 1e+308 {BEYOND}"),
    (["-n", "10", "--centers", "1,1;1e308,0", "--std", "1,1e308"],
     f"--centers, --std: blob 1: points around center (1e+308, 0) with std 1e+308 {BEYOND}"),
    (["-n", "10", "--center-box=-1e308,-1e307", "--std", "1e308"],
     "--center-box, --std: blob 0: points around center (-4.26734e+307, -7.57192e+307) "
     f"with std 1e+308 {BEYOND}"),
])
def test_points_beyond_float64_are_bad_usage(tmp_path: Path, args: list[str],
                                             message: str) -> None:
    """Such points were written as inf (exit 0), after numpy's overflow warnings, or ended
    in an internal error; now the drawn points are checked, and nothing is written."""
    out = tmp_path / "points.csv"
    result = run(*args, "--seed", "0", "-o", str(out))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith("Usage: ")
    assert result.stderr.endswith(f"\nError: {message}\n")
    assert list(tmp_path.iterdir()) == []


def test_points_beyond_float64_in_a_real_process() -> None:
    """numpy's warnings reach a real process's stderr (pytest records them otherwise)."""
    done = subprocess.run([str(EMGMM), "make-blobs", "-n", "4", "--centers", "1e308,0",
                           "--std", "1e308", "--seed", "0"], capture_output=True, text=True,
                          check=False)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines()[-1] == (
        f"Error: --centers, --std: blob 0: points around center (1e+308, 0) with std 1e+308 "
        f"{BEYOND}")
    assert "Warning" not in done.stderr


@pytest.mark.filterwarnings("error")
def test_huge_covariances_draw_finite_points(tmp_path: Path) -> None:
    """Covariances near the float64 maximum: their factor was taken from c + c.T, which
    overflowed (inf points, exit 0); the points lie within sqrt of it of the centre."""
    path = cov_file(tmp_path, [[[1.7e308, 0.0], [0.0, 1.7e308]]])
    _, data = table(ok("-n", "50", "--centers", "1.7e308,0", "--covariances", path,
                       "--seed", "0"))
    assert np.all(np.isfinite(data)) and data.shape == (50, 2)
    assert np.all(np.abs(data[:, 1]) < 10 * np.sqrt(1.7e308))
    assert np.all(data[:, 0] == 1.7e308)


@pytest.mark.filterwarnings("error")
def test_the_widest_center_box() -> None:
    """A box as wide as a float64 holds: centres drawn in it (before, a wider one ended in
    numpy's OverflowError: high - low range exceeds valid bounds)."""
    _, data = table(ok("-n", "30", "--center-box=-8e307,8e307", "--std", "0", "--seed", "0",
                       *TRUTH))
    assert np.all(np.abs(data[:, :2]) <= 8e307) and np.all(np.isfinite(data))
    assert np.max(np.abs(data[:, :2])) > 1e307


@pytest.mark.filterwarnings("error")
def test_points_whose_spread_float64_cannot_hold(tmp_path: Path) -> None:
    """Points at +-1e308 are finite, their spread (2e308) is not: the writer measured it
    with numpy's overflow warning, then died of it (internal error: OverflowError)."""
    centers = tmp_path / "c.csv"
    out = ok("-n", "4", "--centers", "1e308,0;-1e308,0", "--std", "0", "--seed", "0",
             "--centers-out", str(centers))
    assert out == "x0,x1\n1e+308,0\n1e+308,0\n-1e+308,0\n-1e+308,0\n"
    assert centers.read_text() == "x0,x1\n1e+308,0\n-1e+308,0\n"


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    args = ["-n", "500", "--n-centers", "4", "--dim", "3", "--std", "1,2,0.5,1"]
    first = ok(*args, "--seed", "11")
    assert ok(*args, "--seed", "11") == first
    assert ok(*args, "--seed", "12") != first
    for name in ("a.npy", "b.npy"):
        ok(*args, "--seed", "11", "-o", str(tmp_path / name))
    assert (tmp_path / "a.npy").read_bytes() == (tmp_path / "b.npy").read_bytes()


def test_without_a_seed_runs_differ() -> None:
    assert ok("-n", "50") != ok("-n", "50")


def test_failed_run_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result = run("-n", "10", "--std", "-1", "-o", str(out), "--centers-out", str(tmp_path / "c.csv"))
    assert result.exit_code == 2
    assert list(tmp_path.iterdir()) == []


# --- values out of range, options that disagree, unparsable values: bad usage (exit 2) ---------


@pytest.mark.parametrize("args, message", [
    (["--std", "-1"], "--std: std must be finite and >= 0, got -1"),
    (["--std", "1,-0.5,2"], "--std: blob 1: std must be finite and >= 0, got -0.5"),
    (["--std", "nan"], "--std: std must be finite and >= 0, got nan"),
    (["--centers", "1,1;2,nan"], "--centers: blob 1: center is not finite"),
    (["-n", "10,20", "--n-centers", "3"],
     "-n: 2 sizes given for 3 centers; give one size per blob"),
    (["-n", "10,20,30", "--centers", "0,0;1,1"],
     "-n: 3 sizes given for 2 centers; give one size per blob"),
    (["-n", "-5"], "-n: the number of points must be >= 0, got -5"),
    (["-n", "5,-1"], "-n: blob 1: size must be >= 0, got -1"),
    (["--std", "1,2", "--n-centers", "3"], "--std: 2 std values given for 3 blobs; give 1 or 3"),
    (["--centers", "1,1;2,2", "--dim", "3"], "--dim 3 but the centers have 2 coordinates"),
    (["--centers", "1,1;2,2", "--n-centers", "3"], "--n-centers 3 but --centers gives 2 centers"),
    (["--centers", "1,1", "--n-centers", "3"], "--n-centers 3 but --centers gives 1 center"),
    (["--centers", "1;2", "--dim", "2"], "--dim 2 but the centers have 1 coordinate"),
    (["--centers", "1,1;2,2,2"], "--centers: center 1 has 3 coordinates but center 0 has 2"),
    (["--centers", "1,1;2"], "--centers: center 1 has 1 coordinate but center 0 has 2"),
    (["--center-box", "5,1"], "--center-box: LOW must be below HIGH, got 5,1"),
    (["--center-box=-inf,5"], "--center-box: LOW and HIGH must be finite, got -inf,5"),
    (["--center-box=-1e308,1e308"], ("--center-box: HIGH - LOW must be at most 1.8e+308 (a "
                                     "finite float64), got -1e+308,1e+308")),
])
def test_impossible_requests_are_bad_usage(args: list[str], message: str) -> None:
    """Negative sizes or spreads and counts or dimensions that disagree are usage errors
    with the command's usage line, as a value out of range is in every command
    (docs/errors.md); only a covariance file that cannot be used is exit status 1."""
    result = run(*args, "--seed", "0")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith("Usage: ") and " make-blobs [OPTIONS]\n" in result.stderr
    assert result.stderr.endswith(f"\nError: {message}\n")


def cov_file(tmp_path: Path, cov: list[list[list[float]]], name: str = "cov.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(cov))
    return str(path)


def test_covariance_file_problems_name_the_file(tmp_path: Path) -> None:
    eye = [[1.0, 0.0], [0.0, 1.0]]
    cases = [
        ([eye, [[1.0, 2.0], [2.0, 1.0]]], "blob 1: covariance is not positive definite"),
        ([[[1.0, 0.0], [0.5, 1.0]], eye], "blob 0: covariance is not symmetric"),
    ]
    for cov, message in cases:
        path = cov_file(tmp_path, cov)
        result = run("--centers", "0,0;5,5", "--covariances", path, "--seed", "0")
        assert (result.exit_code, result.stderr) == (1, f"Error: {path}: {message}\n")
    # a count or dimension that disagrees with the centers' is usage, as through
    # --centers and -n (it was exit 1, the same disagreement through --centers 2)
    one = cov_file(tmp_path, [eye], "one.json")
    three_d = cov_file(tmp_path, [eye, eye], "two.json")
    for args, path, shape in ((["--centers", "0,0;5,5"], one, "(2, 2, 2)"),
                              (["-n", "4,4"], one, "(2, 2, 2)"),
                              (["--centers", "0,0,0;5,5,5"], three_d, "(2, 3, 3)")):
        result = run(*args, "--covariances", path, "--seed", "0")
        got = "(1, 2, 2)" if path == one else "(2, 2, 2)"
        assert result.exit_code == 2 and result.stderr.splitlines()[-1] == (
            f"Error: --covariances {path}: covariances must have shape (K, D, D) = {shape} "
            f"to match centers, got {got}")


@pytest.mark.parametrize("content, name, message", [
    ("[[1, 2], [3, 4]]", "cov.json", ("expected a K x D x D array of covariance matrices, got "
                                      "shape (2, 2)")),
    ("[[[1, 0], [0]]]", "cov.json", ("expected a K x D x D array of real numbers (rows of "
                                     "equal length)")),
    ("[[[1, 0]", "cov.json", "invalid JSON: Expecting ',' delimiter (column 9)"),
    ("1,0\n0,1\n", "cov.csv", ("covariances are read from a .npy file (a K x D x D array) or a "
                               ".json file (a nested list)")),
])
def test_unreadable_covariance_files(tmp_path: Path, content: str, name: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    result = run("--covariances", str(path))
    assert result.exit_code == 1
    where = f"{path}:1" if message.startswith("invalid JSON") else str(path)
    assert result.stderr == f"Error: {where}: {message}\n"


@pytest.mark.parametrize("name, values", [
    ("cov.npy", np.array([[[1, 0], [0, 1]], [[2, 0], [0, 2]]]) * (1 + 1j)),
    ("cov.npy", np.array([[[1, 0], [0, 1]], [[1, 0], [0, 1]]], dtype=bool)),
    ("cov.json", [[["4", 0], [0, 1]], [[2, 0], [0, 2]]]),
    ("cov.json", [[[True, 0], [0, 1]], [[2, 0], [0, 2]]])])
def test_covariances_that_are_not_real_numbers_are_refused(tmp_path: Path, name: str,
                                                           values: Any) -> None:
    """Complex covariances printed numpy's ComplexWarning and were drawn without their
    imaginary parts (exit 0); true and false, and numbers written as strings ("4"), were
    taken for 1, 0 and 4.  Now each is an error that says what a covariance file holds."""
    path = tmp_path / name
    if name.endswith(".npy"):
        np.save(path, values)
    else:
        path.write_text(json.dumps(values))
    done = subprocess.run([sys.executable, "-m", "emgmm_cli", "make-blobs", "--centers",
                           "0,0;5,5", "--covariances", str(path), "--seed", "0"],
                          capture_output=True, text=True, check=False, timeout=60)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (f"Error: {path}: expected a K x D x D array of real numbers (rows "
                           "of equal length)\n")


def test_missing_covariance_file(tmp_path: Path) -> None:
    result = run("--covariances", str(tmp_path / "none.npy"))
    assert (result.exit_code, result.stderr) == (
        1, f"Error: {tmp_path / 'none.npy'}: file not found; check the path\n")


@pytest.mark.parametrize("args, message", [
    (["-n", "abc"], ("Invalid value for '-n' / '--n-samples': 'abc' is not an integer or a "
                     "comma-separated list of integers")),
    (["-n", "1.5"], ("Invalid value for '-n' / '--n-samples': '1.5' is not an integer or a "
                     "comma-separated list of integers")),
    (["-n", "99999999999999999999"], ("Invalid value for '-n' / '--n-samples': "
                                      "99999999999999999999 points are more than numpy can "
                                      "index (at most 9223372036854775807)")),
    (["-n", "9223372036854775807,1"], ("Invalid value for '-n' / '--n-samples': "
                                       "9223372036854775808 points in all are more than numpy "
                                       "can index (at most 9223372036854775807)")),
    (["--std", "x"], ("Invalid value for '--std': 'x' is not a number or a comma-separated list "
                      "of numbers")),
    (["--center-box", "1"], ("Invalid value for '--center-box': '1' is not two numbers LOW,HIGH "
                             "(for example -10,10)")),
    (["--centers", "nofile.csv"], ("Invalid value for '--centers': 'nofile.csv' is neither a list "
                                   "of centers such as '1,1;5,5;6,1' nor an existing file")),
    (["--n-centers", "0"], "Invalid value for '--n-centers': 0 is not in the range x>=1."),
    (["--dim", "0"], "Invalid value for '--dim': 0 is not in the range x>=1."),
    (["--seed", "-1"], "Invalid value for '--seed': '-1' is not an integer from 0 to "
                       "9007199254740991."),
    (["--seed", "9007199254740992"], "Invalid value for '--seed': '9007199254740992' is not "
                                     "an integer from 0 to 9007199254740991."),
    (["--std", "1", "--covariances", "c.npy"], "give --std or --covariances, not both"),
    (["--centers", "0,0", "--center-box", "0,1"],
     "--center-box applies to random centers; drop it or --centers"),
    (["-o", "-", "--centers-out", "-"],
     "only one output can go to stdout, got -o, --centers-out"),
    (["--labels", "-"],  # (it said "got -o, -o/--labels": fit's option)
     "only one output can go to stdout, got -o, --labels"),
])
def test_unparsable_or_conflicting_options_exit_2(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert result.stderr.endswith(f"Error: {message}\n")
    assert result.stdout == ""


def test_more_points_than_memory_can_hold_is_out_of_memory() -> None:
    """2^62 points numpy can index, but their 2^66 bytes no memory holds: the command's
    out-of-memory advice (exit 1), as for 1e10 points, not numpy's ValueError."""
    result = run("-n", str(2**62), "--seed", "0")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == ("Error: out of memory; make fewer points with -n (or several "
                             "files with different --seed)\n")


def test_refuses_to_overwrite_an_input(tmp_path: Path) -> None:
    centers = tmp_path / "c.csv"
    centers.write_text("0,0\n5,5\n")
    result = run("--centers", str(centers), "-o", str(centers))
    assert result.exit_code == 2
    assert "refusing to overwrite the input file" in result.stderr
    assert centers.read_text() == "0,0\n5,5\n"


def test_help_lists_every_option_with_help() -> None:
    result = CliRunner().invoke(cli, ["make-blobs", "--help"])
    assert result.exit_code == 0
    for flag in ("-n, --n-samples", "--centers", "--n-centers", "--dim", "--center-box", "--std",
                 "--covariances", "--seed", "-o, --output", "--labels", "--label-column",
                 "--centers-out", "Examples:"):
        assert flag in result.stdout


# --- a real pipeline ----------------------------------------------------------------------


def test_pipeline_make_blobs_then_fit_recovers_the_blobs(tmp_path: Path) -> None:
    """emgmm make-blobs ... | emgmm fit - : the coordinates alone are fitted (a truth column
    in the stream would be a third feature) and the clusters are the blobs (ARI >= 0.95)."""
    from sklearn.metrics import adjusted_rand_score

    exe = shlex.quote(str(EMGMM))
    script = (
        f"{exe} make-blobs -n 300,200,400 --centers '0,0;8,0;4,7' --std 1,0.7,1.2 --seed 7 "
        f"--labels truth.csv | {exe} fit - -k 3 --seed 0 --json > fit.json && "
        f"{exe} make-blobs -n 300,200,400 --centers '0,0;8,0;4,7' --std 1,0.7,1.2 --seed 7 "
        f"| {exe} fit - -k 3 --seed 0 > labels.txt"
    )
    done = subprocess.run(script, shell=True, cwd=tmp_path, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert json.loads((tmp_path / "fit.json").read_text())["feature_names"] == ["x0", "x1"]
    truth = np.loadtxt(tmp_path / "truth.csv", dtype=int)
    labels = np.loadtxt(tmp_path / "labels.txt", dtype=int)
    assert len(labels) == len(truth) == 900
    assert adjusted_rand_score(truth, labels) >= 0.95


def test_the_guide_states_these_exit_statuses() -> None:
    """docs/guide.md's make-blobs section says what the two tests above check."""
    guide = " ".join((Path(__file__).parent.parent / "docs" / "guide.md").read_text().split())
    assert ("Requests that cannot be met are usage errors with exit status 2, as in every "
            "command: a negative size or deviation, counts or dimensions that disagree") in guide
    assert "A covariance file that cannot be used" in guide
    assert "is an error with status 1 that names the file" in guide
