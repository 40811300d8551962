"""Where the data lives does not change the fit: the same rows through every kind of
Dataset that backends.open_dataset opens (an array, a memory map, a block file, a text
file's binary cache, the Python API's array, frame and path) give identical fits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import emgmm_cli
from emgmm_cli.app.data import dataset
from emgmm_cli.app.fitting import fit_points
from emgmm_cli.backends import open_dataset
from emgmm_cli.backends.blockfile import BlockFileDataset
from emgmm_cli.backends.local import ArrayDataset
from emgmm_cli.engine import FitOptions, fit
from emgmm_cli.io.cache import open_points
from emgmm_cli.io.npyfile import NpyFile

FAMILIES = ("full", "tied", "diag", "spherical")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, Path, Path]:
    """6,000 x 3 rows of four blobs, as an array, a .npy file and a CSV file."""
    rng = np.random.default_rng(5)
    centres = np.array([[0.0, 0.0, 0.0], [5.0, 1.0, 0.0], [0.0, 6.0, 2.0], [4.0, 4.0, 5.0]])
    x = centres[rng.integers(4, size=6000)] + rng.normal(size=(6000, 3))
    folder = tmp_path_factory.mktemp("kinds")
    np.save(folder / "x.npy", x)
    np.savetxt(folder / "x.csv", x, delimiter=",", header="a,b,c", comments="", fmt="%.17g")
    return x, folder / "x.npy", folder / "x.csv"


@pytest.mark.parametrize("family", FAMILIES)
def test_every_dataset_kind_gives_the_same_fit(data: tuple[np.ndarray, Path, Path],
                                               family: str) -> None:
    x, npy, csv = data
    options = FitOptions(4, family, n_init=2, seed=3)
    kinds = {
        "array": open_dataset(x, n_components=4, covariance_type=family),
        "memmap": open_dataset(np.load(npy, mmap_mode="r"), n_components=4,
                               covariance_type=family),
        "npy path": open_dataset(str(npy), n_components=4, covariance_type=family),
        "block file": open_dataset(open_points(str(npy), memory_limit=1).x,
                                   n_components=4, covariance_type=family),
    }
    assert isinstance(kinds["array"], ArrayDataset)
    assert isinstance(kinds["block file"], BlockFileDataset)
    results = {name: fit(ds, options) for name, ds in kinds.items()}
    reference = results["array"]
    for name, result in results.items():
        assert result.loglik == reference.loglik, name
        np.testing.assert_array_equal(result.params.means, reference.params.means, name)
        np.testing.assert_array_equal(result.params.covariances,
                                      reference.params.covariances, name)


def test_a_text_file_through_its_cache_and_in_memory_alike(
        data: tuple[np.ndarray, Path, Path], tmp_path: Path) -> None:
    _, _, csv = data
    options = FitOptions(4, "full", seed=1)
    cached = open_points(str(csv), memory_limit=1, cache_dir=str(tmp_path))
    loaded = open_points(str(csv))
    assert isinstance(cached.x, NpyFile) and isinstance(loaded.x, np.ndarray)
    a, b = fit_points(cached, options), fit_points(loaded, options)
    assert a.log_likelihood == b.log_likelihood
    np.testing.assert_array_equal(a.labels, b.labels)
    assert isinstance(dataset(cached, 4), BlockFileDataset)


def test_the_python_api_takes_an_array_a_frame_or_a_path_alike(
        data: tuple[np.ndarray, Path, Path]) -> None:
    x, npy, csv = data
    fits = [emgmm_cli.fit(source, 4, covariance_type="diag", seed=2)
            for source in (x, pd.DataFrame(x, columns=["a", "b", "c"]), str(npy), str(csv))]
    for other in fits[1:]:
        assert other.log_likelihood == fits[0].log_likelihood
        np.testing.assert_array_equal(other.labels, fits[0].labels)


def test_an_unknown_backend_or_source_is_refused(data: tuple[np.ndarray, Path, Path]) -> None:
    x, _, _ = data
    with pytest.raises(ValueError, match="unknown backend 'spark'; choose one of local"):
        open_dataset(x, backend="spark")
    with pytest.raises(TypeError, match="not a list"):
        open_dataset([[1.0, 2.0]])
