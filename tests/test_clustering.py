import numpy as np
import pytest
from sklearn import metrics

from genobench.binning import k_distances, knee_eps
from genobench.metrics.clustering import clustering_metrics, purity, silhouette_without_noise


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
