"""The auto start's hc-family candidate: the hierarchy with its last merges decided again by
the covariance family (engine.hc.family_tree).

References: mclust 6.0.0's log-likelihood on benchmarks/optima.py's speed data (R's
Mclust(x, G = 3, modelNames = "VII"): its result depends on R's random subset; the best
of set.seed(1) to set.seed(6), reached with seed 5), and scipy's Gaussian densities for
the criterion.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.stats import multivariate_normal

from emgmm_cli.backends.local import ArrayDataset
from emgmm_cli.cli.main import cli
from emgmm_cli.engine.dataset import WeightedRows
from emgmm_cli.engine import FitOptions, fit, hc
from emgmm_cli.engine.hc import REMERGED, family_tree, hc_tree

#: (mclust's best VII K = 3 log-likelihood on the speed data, how far below it the
#: hierarchy's cut at K ends): docs/numerics.md quotes the gap
BLOBS_VII3 = (-252007.5363, 5574.8)


def speed_blobs() -> np.ndarray:
    """benchmarks/optima.py's 20,000 x 5 points from 5 spherical Gaussians (seed 5)."""
    rng = np.random.default_rng(5)
    centres = rng.uniform(-10, 10, size=(5, 5))
    x = np.concatenate([c + rng.normal(size=(4000, 5)) for c in centres])
    return x[rng.permutation(len(x))]


def test_the_family_candidate_reaches_mclusts_best_where_the_cut_at_k_does_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Five separated spherical groups, VII with K = 3: which groups to join is the
    family's choice.  The default fit (n_init 2) reaches mclust's best from every seed,
    its kept run from the family's candidate; without the candidate it ends at the
    hierarchy's cut, BLOBS_VII3[1] below."""
    data = ArrayDataset(speed_blobs())
    best, gap = BLOBS_VII3
    for seed in (0, 2, 3):
        result = fit(data, FitOptions(3, "spherical", seed=seed))
        assert result.loglik >= best - 0.01
        assert result.origin == "hc-family"
    monkeypatch.setattr(hc, "REMERGED", 0)  # no finer cut: no candidate
    without = fit(data, FitOptions(3, "spherical", seed=0))
    assert "hc-family" not in without.restart_origins
    assert without.loglik == pytest.approx(best - gap, abs=0.05)


def classification_loglik(x: np.ndarray, labels: np.ndarray, covariance_type: str) -> float:
    """sum over rows of log(pi_g N(x | mu_g, Sigma_g)) at the partition's maximum-
    likelihood parameters of the family, by scipy's densities."""
    groups = np.unique(labels)
    n, d = x.shape
    means = {g: x[labels == g].mean(axis=0) for g in groups}
    scatters = {g: (x[labels == g] - means[g]).T @ (x[labels == g] - means[g]) for g in groups}
    pooled = sum(scatters.values()) / n
    total = 0.0
    for g in groups:
        rows = x[labels == g]
        cov = {"full": scatters[g] / len(rows),
               "tied": pooled,
               "diag": np.diag(np.diag(scatters[g]) / len(rows)),
               "spherical": np.eye(d) * np.trace(scatters[g]) / (len(rows) * d),
               }[covariance_type]
        total += float(np.sum(np.log(len(rows) / n)
                              + multivariate_normal(means[g], cov).logpdf(rows)))
    return total


def clusters(seed: int, groups: int = 7, per: int = 30, d: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-12, 12, size=(groups, d))
    scales = rng.uniform(0.4, 1.6, size=(groups, 1, d))
    return np.concatenate([c + s[0] * rng.normal(size=(per, d))
                           for c, s in zip(centres, scales)])


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_each_merge_keeps_the_familys_likelihood_highest(covariance_type: str) -> None:
    """Every merge family_tree makes below the finer cut is, of all pairs of the groups
    then, the one whose partition scipy scores highest (classification log-likelihood
    at the family's maximum-likelihood parameters)."""
    for seed in range(3):
        x = clusters(seed)
        tree = hc_tree(x)
        k = 3
        fine = k + REMERGED
        out = family_tree(ArrayDataset(x), tree, k, covariance_type, 0.0,
                          origin=x.mean(axis=0))
        assert out is not None and out.min_groups == k
        np.testing.assert_array_equal(out.merges[: tree.n_rows - fine],
                                      tree.merges[: tree.n_rows - fine])
        for g in range(fine, k, -1):
            labels = out.partition(g)
            merged = out.partition(g - 1)
            scores = {}
            for a in range(g):
                for b in range(a + 1, g):
                    joined = np.where(labels == b, a, labels)
                    scores[a, b] = classification_loglik(x, joined, covariance_type)
            chosen = max(scores, key=lambda pair: scores[pair])
            expected = np.where(labels == chosen[1], chosen[0], labels)
            assert len(set(zip(expected, merged))) == g - 1  # the same partition


def test_weighted_rows_merge_as_repeated_rows() -> None:
    """Rows of weight w merge as w copies of them would: the same greedy merges as
    scipy's criterion over the copies, from the same finer cut."""
    x = clusters(4, groups=6, per=12)
    tree = hc_tree(x)
    counts = np.random.default_rng(0).integers(1, 4, size=len(x))
    rows = np.repeat(np.arange(len(x)), counts)
    for family in ("full", "tied", "diag", "spherical"):
        weighted = family_tree(WeightedRows(ArrayDataset(x), counts.astype(float)), tree, 2,
                               family, 0.0, origin=x.mean(axis=0))
        assert weighted is not None
        by_copies = _family_partition_of_labels(x[rows], tree.partition(2 + REMERGED)[rows],
                                                2, family)
        assert len(set(zip(weighted.partition(2)[rows], by_copies))) == 2, family


def _family_partition_of_labels(x: np.ndarray, labels: np.ndarray, k: int,
                                covariance_type: str) -> np.ndarray:
    """Greedy merging of a labelled partition by scipy's classification log-likelihood."""
    labels = labels.copy()
    while len(np.unique(labels)) > k:
        groups = np.unique(labels)
        pairs = [(a, b) for i, a in enumerate(groups) for b in groups[i + 1:]]
        a, b = max(pairs, key=lambda p: classification_loglik(
            x, np.where(labels == p[1], p[0], labels), covariance_type))
        labels = np.where(labels == b, a, labels)
    return labels


def test_no_tree_where_no_finer_cut_has_groups_large_enough() -> None:
    x = np.random.default_rng(1).normal(size=(6, 3))
    tree = hc_tree(x)
    data, mean = ArrayDataset(x), x.mean(axis=0)
    assert family_tree(data, tree, 2, "full", 1e-6, origin=mean) is None  # groups <= 3 rows
    assert family_tree(data, tree, 6, "diag", 1e-6, origin=mean) is None  # no finer cut
    tied = family_tree(data, tree, 2, "tied", 1e-6, origin=mean)  # one shared covariance
    assert tied is not None and tied.min_groups == 2
    stopped = hc_tree(x, min_groups=3)  # cannot be cut at 2
    assert family_tree(data, stopped, 2, "tied", 1e-6, origin=mean) is None


REPEATED = np.repeat([[1.0, 1.0], [2.0, 2.0], [5.0, 5.0], [9.0, 9.0]], 3, axis=0)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_no_tree_where_the_familys_likelihood_is_not_finite(covariance_type: str) -> None:
    """Groups of repeated rows have singular covariances under reg_covar 0: no candidate,
    and no numpy warning on the way."""
    tree = hc_tree(REPEATED)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert family_tree(ArrayDataset(REPEATED), tree, 2, covariance_type, 0.0,
                           origin=REPEATED.mean(axis=0)) is None


def test_a_singular_start_is_still_the_fits_one_line_error(tmp_path: Path) -> None:
    """--reg-covar 0 on repeated rows: the fit's own refusal (exit 1), not an internal
    error from the candidate."""
    data = tmp_path / "repeated.csv"
    np.savetxt(data, REPEATED, delimiter=",", header="a,b", comments="")
    done = CliRunner().invoke(cli, ["fit", str(data), "-k", "2", "-c", "full",
                                    "--reg-covar", "0", "--seed", "0"])
    assert done.exit_code == 1
    assert "not positive definite" in done.output and "internal error" not in done.output
