"""Clustering quality against true labels (genome_id, or a taxon). DBSCAN noise (-1) is one
label."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import metrics

NOISE = -1


def purity(true_labels, pred_labels) -> float:
    """Fraction of points whose predicted cluster's majority true label is their own."""
    table = metrics.cluster.contingency_matrix(true_labels, pred_labels)
    return float(table.max(axis=0).sum() / table.sum())


def silhouette_without_noise(x: np.ndarray, pred_labels) -> float:
    """Silhouette on the points not labelled noise; NaN when fewer than 2 clusters remain."""
    pred = np.asarray(pred_labels)
    keep = pred != NOISE
    n_clusters = len(set(pred[keep]))
    if n_clusters < 2 or n_clusters >= keep.sum():
        return float("nan")
    return float(metrics.silhouette_score(x[keep], pred[keep]))


def clustering_metrics(true_labels, pred_labels, x: np.ndarray) -> dict[str, float]:
    """ARI, purity, completeness, homogeneity, silhouette, number of clusters, noise fraction."""
    pred = np.asarray(pred_labels)
    return {
        "ari": float(metrics.adjusted_rand_score(true_labels, pred)),
        "purity": purity(true_labels, pred),
        "completeness": float(metrics.completeness_score(true_labels, pred)),
        "homogeneity": float(metrics.homogeneity_score(true_labels, pred)),
        "silhouette": silhouette_without_noise(x, pred),
        "n_clusters": int(len(set(pred) - {NOISE})),
        "noise_fraction": float(np.mean(pred == NOISE)),
    }


def level_metrics(levels: dict[str, object], pred_labels, x: np.ndarray) -> pd.DataFrame:
    """`clustering_metrics` of one clustering against each level's true labels (e.g.
    {"genome": genome ids, "species": species}): one row per level, column `level` first."""
    return pd.DataFrame(
        [
            {"level": level, **clustering_metrics(labels, pred_labels, x)}
            for level, labels in levels.items()
        ]
    )
