"""Binning embeddings into genomes: UMAP reduction, DBSCAN clustering, metrics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import DBSCAN
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from genobench.metrics.clustering import clustering_metrics


def umap_reduce(x: np.ndarray, n_components: int, seed: int, n_neighbors: int = 15,
                min_dist: float = 0.0) -> np.ndarray:
    """Seeded UMAP of standardized features to `n_components` dimensions."""
    import umap  # slow to import (numba); only when needed

    z = StandardScaler().fit_transform(x)
    reducer = umap.UMAP(n_components=n_components, n_neighbors=min(n_neighbors, len(x) - 1),
                        min_dist=min_dist, random_state=seed, n_jobs=1)
    return reducer.fit_transform(z)


def k_distances(x: np.ndarray, k: int) -> np.ndarray:
    """Sorted distance of each point to its k-th nearest other point (the k-distance curve)."""
    dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    return np.sort(dist[:, k])


def knee_eps(sorted_distances: np.ndarray) -> float:
    """The knee of a sorted k-distance curve: the point farthest below its chord."""
    y = np.asarray(sorted_distances, dtype=float)
    if len(y) < 3 or y[-1] == y[0]:
        return float(y[-1])
    t = np.linspace(0, 1, len(y))
    chord = y[0] + t * (y[-1] - y[0])
    return float(y[np.argmax(chord - y)])


@dataclass
class BinningResult:
    """Cluster labels, the eps used, the reduced coordinates (clustering and 2-d plot) and the
    metrics of one model."""

    labels: np.ndarray
    eps: float
    eps_chosen: bool
    coords: np.ndarray
    coords_2d: np.ndarray
    metrics: dict[str, float]


def bin_embeddings(embeddings: np.ndarray, genome_ids, umap_dim: int, seed: int,
                   min_samples: int = 5, eps: float | None = None) -> BinningResult:
    """UMAP to `umap_dim`, then DBSCAN; eps from the k-distance knee when not given.

    A separate seeded 2-d UMAP gives the coordinates for plots.
    """
    coords = umap_reduce(embeddings, umap_dim, seed)
    eps_chosen = eps is None
    if eps_chosen:
        eps = knee_eps(k_distances(coords, min_samples))
    labels = DBSCAN(eps=eps, min_samples=min_samples).fit_predict(coords)
    return BinningResult(labels, float(eps), eps_chosen, coords, umap_reduce(embeddings, 2, seed),
                         clustering_metrics(genome_ids, labels, coords))


def labels_table(model: str, fragment_ids, result: BinningResult) -> pd.DataFrame:
    """Rows of `cluster_labels.csv`: each fragment's DBSCAN cluster (-1 = noise) for one model."""
    return pd.DataFrame({"model": model, "fragment_id": list(fragment_ids),
                         "cluster": result.labels})


def metrics_row(model: str, result: BinningResult, n_points: int) -> pd.DataFrame:
    """One row of `binning_metrics.csv`."""
    return pd.DataFrame([{"model": model, "n_points": n_points, **result.metrics,
                          "eps": result.eps, "eps_chosen": result.eps_chosen}])


def embed_models(models: list[str], seqs: list[str], batch_size: int = 16,
                 max_tokens: int = 1024, device: str = "cpu"
                 ) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Each model's embeddings of `seqs` -> ({model: (n, dim)}, failure rows).

    A model that cannot load or embed becomes one failure row (for
    `genobench.results.write_failures`; the run is then partial) and the others go on.
    """
    from genobench.models.embed import embed_sequences
    from genobench.results import failure_row

    embeddings, failures = {}, []
    for model in models:
        try:
            embeddings[model] = embed_sequences(model, seqs, batch_size, max_tokens, device)
        except Exception as exc:  # noqa: BLE001 - one model's failure is its row, not the run's
            failures.append(failure_row(model, exc))
    return embeddings, failures
