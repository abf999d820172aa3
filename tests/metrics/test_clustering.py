import numpy as np
import pytest
from sklearn import metrics
from sklearn.cluster import DBSCAN

from genobench.benchmarks.binning import cluster, eps_sweep, k_distances, knee_eps
from genobench.metrics.clustering import (
    clustering_metrics,
    level_metrics,
    purity,
    silhouette_without_noise,
)


def test_purity_of_a_hand_worked_table():
    # clusters: c0 = {a, a, b}, c1 = {b, b, b, c}, c2 = {c, c}; majorities 2 + 3 + 2 of 9
    true = list("aab") + list("bbbc") + list("cc")
    pred = [0] * 3 + [1] * 4 + [2] * 2
    assert purity(true, pred) == pytest.approx(7 / 9)


def test_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    true = rng.integers(0, 4, 200)
    pred = np.where(rng.random(200) < 0.8, true, rng.integers(-1, 4, 200))
    x = rng.normal(size=(200, 3)) + true[:, None] * 3
    m = clustering_metrics(true, pred, x)
    assert m["ari"] == pytest.approx(metrics.adjusted_rand_score(true, pred))
    assert m["completeness"] == pytest.approx(metrics.completeness_score(true, pred))
    assert m["homogeneity"] == pytest.approx(metrics.homogeneity_score(true, pred))
    keep = pred != -1
    assert m["silhouette"] == pytest.approx(metrics.silhouette_score(x[keep], pred[keep]))
    assert m["noise_fraction"] == pytest.approx(np.mean(pred == -1))
    assert m["n_clusters"] == len(set(pred[keep]))


def test_silhouette_is_nan_with_one_cluster():
    assert np.isnan(silhouette_without_noise(np.zeros((4, 2)), [0, 0, -1, 0]))


def test_knee_of_a_hand_made_curve():
    # flat at 1 for 90 points, then a sharp rise: the knee is the last flat point
    curve = np.r_[np.ones(90), np.linspace(2, 20, 10)]
    assert knee_eps(curve) == 1.0


def test_k_distances_match_brute_force():
    x = np.random.default_rng(1).normal(size=(30, 2))
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    expected = np.sort(np.sort(d, axis=1)[:, 3])  # column 0 is the point itself
    np.testing.assert_allclose(k_distances(x, 3), expected)


def test_taxon_level_metrics_match_scikit_learn_on_a_known_table():
    # 9 fragments of 4 genomes; g1 and g2 are one species. The clustering merges g1 with g2
    # (right at species level, wrong at genome level) and splits g4 with one noise point.
    genome = ["g1", "g1", "g2", "g2", "g3", "g3", "g4", "g4", "g4"]
    species = {"g1": "sp1", "g2": "sp1", "g3": "sp2", "g4": "sp3"}
    taxon = [species[g] for g in genome]
    pred = [0, 0, 0, 0, 1, 1, 2, 2, -1]
    x = np.arange(18, dtype=float).reshape(9, 2)
    table = level_metrics({"genome": genome, "species": taxon}, pred, x).set_index("level")
    assert list(table.index) == ["genome", "species"]
    for level, truth in (("genome", genome), ("species", taxon)):
        row = table.loc[level]
        assert row["ari"] == pytest.approx(metrics.adjusted_rand_score(truth, pred))
        assert row["completeness"] == pytest.approx(metrics.completeness_score(truth, pred))
        assert row["homogeneity"] == pytest.approx(metrics.homogeneity_score(truth, pred))
    # purity by hand: genome level 2 + 2 + 2 + 1 of 9 (cluster 0 holds g1 and g2 twice each);
    # species level every cluster is pure: 9 of 9
    assert table.loc["genome", "purity"] == pytest.approx(7 / 9)
    assert table.loc["species", "purity"] == 1.0
    assert table.loc["species", "ari"] > table.loc["genome", "ari"]


def blobs(n_per=30, centers=((0, 0), (10, 0), (0, 10)), seed=0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(c, 0.5, size=(n_per, 2)) for c in centers])
    return x, np.repeat(np.arange(len(centers)), n_per)


def test_hdbscan_needs_no_eps_and_finds_separated_blobs():
    x, truth = blobs()
    labels, eps = cluster(x, "hdbscan", min_samples=5, min_cluster_size=10)
    assert np.isnan(eps)
    assert metrics.adjusted_rand_score(truth, labels) > 0.95
    with pytest.raises(ValueError, match="clustering must be one of dbscan, hdbscan"):
        cluster(x, "kmeans")


def test_eps_sweep_scores_dbscan_at_each_eps_and_marks_the_knee():
    x, truth = blobs(seed=1)
    sweep = eps_sweep(x, truth, min_samples=5, n_values=12)
    curve = k_distances(x, 5)
    assert sweep["eps"].min() == pytest.approx(curve[0])
    assert sweep["eps"].max() == pytest.approx(2 * curve[-1])
    knee = sweep[sweep["is_knee"]]
    assert len(knee) == 1 and knee["eps"].iat[0] == knee_eps(curve)
    for _, row in sweep.iloc[[0, 5, -1]].iterrows():
        labels = DBSCAN(eps=row["eps"], min_samples=5).fit_predict(x)
        assert row["ari"] == pytest.approx(metrics.adjusted_rand_score(truth, labels))
    # from eps = the largest k-distance on, every point is a core point's neighbour: no noise
    assert sweep["noise_fraction"].iat[0] > 0.5
    assert (sweep.loc[sweep["eps"] >= curve[-1], "noise_fraction"] == 0).all()
