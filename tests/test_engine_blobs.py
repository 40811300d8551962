"""Tests for emgmm_cli.engine.blobs: shapes, determinism, statistics, validation."""

from __future__ import annotations

import numpy as np
import pytest

from emgmm_cli.engine.blobs import make_blobs, random_centers, split_sizes
from emgmm_cli.engine.errors import InvalidParameter

CENTERS = np.array([[1.0, 1.0], [5.0, 5.0], [6.0, 1.0], [2.0, 8.0]])


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- shapes and ordering ----------------------------------------------------------------


def test_shapes_dtypes_and_grouping() -> None:
    x, labels = make_blobs([80, 60, 70, 140], CENTERS, rng=rng())
    assert x.shape == (350, 2)
    assert labels.shape == (350,)
    assert x.dtype == np.float64
    assert labels.dtype == np.int64
    expected = np.repeat(np.arange(4), [80, 60, 70, 140])
    np.testing.assert_array_equal(labels, expected)


def test_zero_sized_blob_and_empty_output() -> None:
    x, labels = make_blobs([3, 0, 2], CENTERS[:3], rng=rng())
    np.testing.assert_array_equal(labels, [0, 0, 0, 2, 2])
    x, labels = make_blobs([0], [[0.0, 0.0, 0.0]], rng=rng())
    assert x.shape == (0, 3) and labels.shape == (0,)


def test_one_dimensional() -> None:
    x, labels = make_blobs([5, 7], np.array([[1.76], [1.55]]), std=0.1, rng=rng(1))
    assert x.shape == (12, 1)
    np.testing.assert_array_equal(labels, [0] * 5 + [1] * 7)


def test_zero_std_gives_the_centre() -> None:
    x, _ = make_blobs([4, 4], CENTERS[:2], std=0.0, rng=rng())
    np.testing.assert_array_equal(x[:4], np.tile(CENTERS[0], (4, 1)))
    np.testing.assert_array_equal(x[4:], np.tile(CENTERS[1], (4, 1)))


# --- determinism ------------------------------------------------------------------------


def test_same_seed_same_output() -> None:
    a = make_blobs([10, 20], CENTERS[:2], std=[0.5, 2.0], rng=rng(42))
    b = make_blobs([10, 20], CENTERS[:2], std=[0.5, 2.0], rng=rng(42))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    c = make_blobs([10, 20], CENTERS[:2], std=[0.5, 2.0], rng=rng(43))
    assert not np.array_equal(a[0], c[0])


def test_same_seed_same_output_with_covariances() -> None:
    cov = np.array([[[2.0, 0.5], [0.5, 1.0]], [[1.0, -0.3], [-0.3, 0.5]]])
    a, _ = make_blobs([10, 10], CENTERS[:2], covariances=cov, rng=rng(7))
    b, _ = make_blobs([10, 10], CENTERS[:2], covariances=cov, rng=rng(7))
    np.testing.assert_array_equal(a, b)


def test_random_centers_deterministic_and_in_box() -> None:
    a = random_centers(5, 3, rng=rng(3))
    b = random_centers(5, 3, rng=rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (5, 3) and a.dtype == np.float64
    assert np.all(a >= -10) and np.all(a < 10)
    c = random_centers(200, 2, (0.0, 1.0), rng=rng(3))
    assert np.all(c >= 0) and np.all(c < 1)


# --- statistics on large samples -------------------------------------------------------


def test_per_blob_means_and_stds_match_targets() -> None:
    stds = [0.5, 1.0, 2.0, 0.1]
    n = 40_000
    x, labels = make_blobs([n] * 4, CENTERS, std=stds, rng=rng(11))
    for j in range(4):
        block = x[labels == j]
        # standard error of the mean is std / sqrt(n) = std / 200; allow 5 of them
        np.testing.assert_allclose(block.mean(axis=0), CENTERS[j], atol=5 * stds[j] / 200)
        np.testing.assert_allclose(block.std(axis=0, ddof=1), stds[j], rtol=0.02)


def test_per_blob_covariance_matches_target() -> None:
    cov = np.array(
        [
            [[2.0, 0.8], [0.8, 1.0]],
            [[0.5, -0.2], [-0.2, 0.3]],
        ]
    )
    x, labels = make_blobs([50_000, 50_000], CENTERS[:2], covariances=cov, rng=rng(5))
    for j in range(2):
        block = x[labels == j]
        np.testing.assert_allclose(block.mean(axis=0), CENTERS[j], atol=0.03)
        np.testing.assert_allclose(np.cov(block, rowvar=False), cov[j], atol=0.04)


def test_scalar_and_single_std_agree() -> None:
    a, _ = make_blobs([10, 10], CENTERS[:2], std=0.7, rng=rng(1))
    b, _ = make_blobs([10, 10], CENTERS[:2], std=[0.7], rng=rng(1))
    np.testing.assert_array_equal(a, b)


# --- split_sizes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "k", "expected"),
    [(10, 3, [4, 3, 3]), (9, 3, [3, 3, 3]), (2, 4, [1, 1, 0, 0]), (0, 2, [0, 0]), (7, 1, [7])],
)
def test_split_sizes(n: int, k: int, expected: list[int]) -> None:
    assert split_sizes(n, k) == expected
    assert sum(split_sizes(n, k)) == n


@pytest.mark.parametrize(("n", "k"), [(10, 0), (-1, 2), (10, -3)])
def test_split_sizes_rejects_bad_values(n: int, k: int) -> None:
    with pytest.raises(InvalidParameter):
        split_sizes(n, k)


# --- errors ------------------------------------------------------------------------------


def test_sizes_count_must_match_centers() -> None:
    with pytest.raises(InvalidParameter, match="3 sizes given for 4 centers"):
        make_blobs([1, 2, 3], CENTERS, rng=rng())


def test_negative_size_names_the_blob() -> None:
    with pytest.raises(InvalidParameter, match="blob 1: size must be >= 0, got -2"):
        make_blobs([1, -2], CENTERS[:2], rng=rng())


def test_more_points_than_numpy_indexes() -> None:
    with pytest.raises(InvalidParameter, match=r"^18446744073709551614 points in all are more "
                                               r"than numpy can index \(at most "
                                               r"9223372036854775807\)$"):
        make_blobs([2**63 - 1, 2**63 - 1], CENTERS[:2], rng=rng())
    with pytest.raises(InvalidParameter, match="^9223372036854775808 points in all are more"):
        make_blobs(split_sizes(2**63, 2), CENTERS[:2], rng=rng())


def test_more_bytes_than_numpy_addresses_is_out_of_memory() -> None:
    with pytest.raises(MemoryError, match="more bytes than numpy can address"):
        make_blobs([2**62], CENTERS[:1], rng=rng())


@pytest.mark.filterwarnings("error")
def test_points_beyond_float64_name_the_blob() -> None:
    with pytest.raises(InvalidParameter, match=r"^blob 1: points around center \(1e\+308, 0\) "
                                               r"with std 1e\+308 lie beyond the float64 "
                                               r"range") as info:
        make_blobs([3, 3], [[0.0, 0.0], [1e308, 0.0]], std=[1.0, 1e308], rng=rng())
    assert info.value.option == "centers"
    x, _ = make_blobs([3], [[1.7e308, 0.0]], std=1e291, rng=rng())  # below the rounding step
    assert np.all(x[:, 0] == 1.7e308)


def test_non_integer_size() -> None:
    with pytest.raises(InvalidParameter, match="integer"):
        make_blobs([1.5, 2], CENTERS[:2], rng=rng())  # type: ignore[list-item]


def test_negative_std_names_the_value() -> None:
    with pytest.raises(InvalidParameter, match=r"std must be finite and >= 0, got -0\.5"):
        make_blobs([1, 2], CENTERS[:2], std=-0.5, rng=rng())
    with pytest.raises(InvalidParameter, match=r"blob 1: std must be finite and >= 0, got -3"):
        make_blobs([1, 2], CENTERS[:2], std=[1.0, -3.0], rng=rng())


def test_std_count_must_be_one_or_k() -> None:
    with pytest.raises(InvalidParameter, match="3 std values given for 4 blobs"):
        make_blobs([1, 1, 1, 1], CENTERS, std=[1.0, 2.0, 3.0], rng=rng())


@pytest.mark.parametrize("centers", [np.zeros(3), np.zeros((0, 2)), np.zeros((2, 0)), np.zeros((1, 2, 2))])
def test_bad_center_shapes(centers: np.ndarray) -> None:
    with pytest.raises(InvalidParameter, match="centers"):
        make_blobs([1] * max(1, len(centers)), centers, rng=rng())


def test_non_finite_center_names_the_blob() -> None:
    with pytest.raises(InvalidParameter, match="blob 1: center is not finite"):
        make_blobs([1, 1], [[0.0, 0.0], [np.nan, 1.0]], rng=rng())


def test_covariance_shape() -> None:
    with pytest.raises(InvalidParameter, match=r"shape \(K, D, D\) = \(2, 2, 2\)"):
        make_blobs([1, 1], CENTERS[:2], covariances=np.stack([np.eye(3)] * 2), rng=rng())
    with pytest.raises(InvalidParameter, match=r"\(2, 2, 2\)"):
        make_blobs([1, 1], CENTERS[:2], covariances=np.eye(2), rng=rng())


def test_covariance_not_symmetric_names_the_blob() -> None:
    cov = np.stack([np.eye(2), np.array([[1.0, 0.5], [0.0, 1.0]])])
    with pytest.raises(InvalidParameter, match="blob 1: covariance is not symmetric"):
        make_blobs([1, 1], CENTERS[:2], covariances=cov, rng=rng())


def test_covariance_not_positive_definite_names_the_blob() -> None:
    cov = np.stack([np.array([[1.0, 2.0], [2.0, 1.0]]), np.eye(2)])
    with pytest.raises(InvalidParameter, match="blob 0: covariance is not positive definite"):
        make_blobs([1, 1], CENTERS[:2], covariances=cov, rng=rng())
    singular = np.stack([np.eye(2), np.zeros((2, 2))])
    with pytest.raises(InvalidParameter, match="blob 1: covariance is not positive definite"):
        make_blobs([1, 1], CENTERS[:2], covariances=singular, rng=rng())


def test_std_and_covariances_together() -> None:
    with pytest.raises(InvalidParameter, match="not both"):
        make_blobs([1, 1], CENTERS[:2], std=2.0, covariances=np.stack([np.eye(2)] * 2), rng=rng())


def test_rng_must_be_a_generator() -> None:
    with pytest.raises(InvalidParameter, match="Generator"):
        make_blobs([1], CENTERS[:1], rng=0)  # type: ignore[arg-type]


def test_random_centers_rejects_bad_box() -> None:
    with pytest.raises(InvalidParameter, match="low < high"):
        random_centers(2, 2, (5.0, 5.0), rng=rng())
    with pytest.raises(InvalidParameter, match=r"finite width high - low, got \(-1e\+308, "):
        random_centers(2, 2, (-1e308, 1e308), rng=rng())
    with pytest.raises(InvalidParameter, match="blobs"):
        random_centers(0, 2, rng=rng())
    with pytest.raises(InvalidParameter, match="dimensions"):
        random_centers(2, 0, rng=rng())
