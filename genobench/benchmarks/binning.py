"""Binning embeddings into genomes: UMAP reduction, DBSCAN or HDBSCAN clustering, metrics at
genome and taxon level, and DBSCAN's eps sweep."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from sklearn.cluster import DBSCAN, HDBSCAN
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from genobench.data.errors import InputError
from genobench.metrics.clustering import clustering_metrics, level_metrics

CLUSTERINGS = ("dbscan", "hdbscan")


def umap_reduce(
    x: np.ndarray, n_components: int, seed: int, n_neighbors: int = 15, min_dist: float = 0.0
) -> np.ndarray:
    """Seeded UMAP of standardized features to `n_components` dimensions."""
    import umap  # slow to import (numba); only when needed

    z = StandardScaler().fit_transform(x)
    reducer = umap.UMAP(
        n_components=n_components,
        n_neighbors=min(n_neighbors, len(x) - 1),
        min_dist=min_dist,
        random_state=seed,
        n_jobs=1,
    )
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
    """Cluster labels, the eps used (NaN for HDBSCAN), the reduced coordinates (clustering and
    2-d plot) and the genome-level metrics of one model and one clustering."""

    labels: np.ndarray
    eps: float
    eps_chosen: bool
    coords: np.ndarray
    coords_2d: np.ndarray
    metrics: dict[str, float]
    clustering: str = "dbscan"


def cluster(
    coords: np.ndarray,
    clustering: str = "dbscan",
    min_samples: int = 5,
    eps: float | None = None,
    min_cluster_size: int = 10,
) -> tuple[np.ndarray, float]:
    """Labels (-1 = noise) and the eps used: DBSCAN with `eps`, or the k-distance knee when
    None; HDBSCAN (needs no eps; eps NaN) with `min_cluster_size` and `min_samples`."""
    if clustering == "dbscan":
        if eps is None:
            eps = knee_eps(k_distances(coords, min_samples))
        return DBSCAN(eps=eps, min_samples=min_samples).fit_predict(coords), float(eps)
    if clustering == "hdbscan":
        model = HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples, copy=True)
        return model.fit_predict(coords), float("nan")
    raise ValueError(f"clustering must be one of {', '.join(CLUSTERINGS)}, got {clustering!r}")


def bin_embeddings(
    embeddings: np.ndarray,
    genome_ids,
    umap_dim: int,
    seed: int,
    min_samples: int = 5,
    eps: float | None = None,
) -> BinningResult:
    """UMAP to `umap_dim`, then DBSCAN; eps from the k-distance knee when not given.

    A separate seeded 2-d UMAP gives the coordinates for plots.
    """
    coords = umap_reduce(embeddings, umap_dim, seed)
    labels, eps_used = cluster(coords, "dbscan", min_samples, eps)
    return BinningResult(
        labels,
        eps_used,
        eps is None,
        coords,
        umap_reduce(embeddings, 2, seed),
        clustering_metrics(genome_ids, labels, coords),
    )


def labels_table(model: str, fragment_ids, result: BinningResult) -> pd.DataFrame:
    """Rows of `cluster_labels.csv`: each fragment's DBSCAN cluster (-1 = noise) for one model."""
    return pd.DataFrame(
        {"model": model, "fragment_id": list(fragment_ids), "cluster": result.labels}
    )


def recluster(
    result: BinningResult,
    genome_ids,
    clustering: str,
    min_samples: int = 5,
    eps: float | None = None,
    min_cluster_size: int = 10,
) -> BinningResult:
    """The same model's coordinates clustered another way."""
    labels, eps_used = cluster(result.coords, clustering, min_samples, eps, min_cluster_size)
    return replace(
        result,
        labels=labels,
        eps=eps_used,
        eps_chosen=clustering == "dbscan" and eps is None,
        metrics=clustering_metrics(genome_ids, labels, result.coords),
        clustering=clustering,
    )


def eps_sweep(
    coords: np.ndarray, genome_ids, min_samples: int = 5, n_values: int = 40
) -> pd.DataFrame:
    """DBSCAN at `n_values` eps spread evenly from the smallest k-distance (nearly all noise) to
    twice the largest (no noise; clusters may merge), plus the knee: eps, ari, n_clusters,
    noise_fraction, is_knee."""
    curve = k_distances(coords, min_samples)
    knee = knee_eps(curve)
    values = np.unique(np.r_[np.linspace(curve[0], 2 * curve[-1], n_values), knee])
    rows = []
    for value in values:
        labels = DBSCAN(eps=value, min_samples=min_samples).fit_predict(coords)
        m = clustering_metrics(genome_ids, labels, coords)
        rows.append(
            {
                "eps": float(value),
                "ari": m["ari"],
                "n_clusters": m["n_clusters"],
                "noise_fraction": m["noise_fraction"],
                "is_knee": bool(value == knee),
            }
        )
    return pd.DataFrame(rows)


def metrics_row(model: str, result: BinningResult, n_points: int) -> pd.DataFrame:
    """One row of `binning_metrics.csv`."""
    return pd.DataFrame(
        [
            {
                "model": model,
                "n_points": n_points,
                **result.metrics,
                "eps": result.eps,
                "eps_chosen": result.eps_chosen,
            }
        ]
    )


def embed_models(
    models: list[str],
    seqs: list[str],
    batch_size: int = 16,
    max_tokens: int = 1024,
    device: str = "cpu",
) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Each model's embeddings of `seqs` -> ({model: (n, dim)}, failure rows).

    A model that cannot load or embed becomes one failure row (for
    `genobench.report.results.write_failures`; the run is then partial) and the others go on.
    """
    from genobench.models.embed import embed_sequences
    from genobench.report.results import failure_row

    embeddings, failures = {}, []
    for model in models:
        try:
            embeddings[model] = embed_sequences(model, seqs, batch_size, max_tokens, device)
        except Exception as exc:  # noqa: BLE001 - one model's failure is its row, not the run's
            failures.append(failure_row(model, exc))
    return embeddings, failures


def figure_name(model: str, clustering: str) -> str:
    """File name of a model's UMAP figure: `umap_<model>`, `_<clustering>` added unless DBSCAN."""
    name = f"umap_{model.replace('/', '_').replace(':', '_')}"
    return name if clustering == "dbscan" else f"{name}_{clustering}"


def taxon_levels(fragments: pd.DataFrame, taxon_columns: list[str]) -> dict[str, pd.Series]:
    """True labels per level: `genome` (genome_id), then each of `taxon_columns` the table has.

    Raises InputError when a taxon column has an empty value, naming the genome.
    """
    levels = {"genome": fragments["genome_id"]}
    for column in taxon_columns:
        if column not in fragments.columns:
            continue
        empty = fragments[column].astype(str).str.strip().isin(["", "nan"])
        if empty.any():
            raise InputError(
                f"taxon column {column!r} is empty for genome "
                f"{fragments['genome_id'][empty].iat[0]!r}. Fill it in for every "
                f"genome or leave {column!r} out of taxon_columns."
            )
        levels[column] = fragments[column]
    return levels


@dataclass
class BinningRun:
    """Every model x clustering of one binning run.

    `metrics`: one row per model, clustering and level (genome, then taxa); `results`:
    (model, clustering) -> BinningResult; `sweeps`: DBSCAN's eps sweep per model (column model).
    """

    metrics: pd.DataFrame
    results: dict[tuple[str, str], BinningResult] = field(default_factory=dict)
    sweeps: pd.DataFrame = field(default_factory=pd.DataFrame)


def bin_models(
    embeddings: dict[str, np.ndarray],
    fragments: pd.DataFrame,
    umap_dim: int,
    seed: int,
    min_samples: int = 5,
    eps: float | None = None,
    clusterings: tuple[str, ...] = ("dbscan",),
    taxon_columns: tuple[str, ...] = (),
    min_cluster_size: int = 10,
    sweep: bool = True,
) -> BinningRun:
    """Reduce each model's embeddings once, cluster them every way asked, score each clustering
    at genome level and at each taxon level the table has, and sweep DBSCAN's eps."""
    if not embeddings:
        raise InputError("models is empty: list at least one model, e.g. models: [tnf].")
    bad = [c for c in clusterings if c not in CLUSTERINGS]
    if bad or not clusterings:
        raise InputError(
            f"clusterings {list(clusterings)}: choose one or more of {', '.join(CLUSTERINGS)}."
        )
    levels = taxon_levels(fragments, list(taxon_columns))
    genome_ids = levels["genome"]
    run = BinningRun(pd.DataFrame())
    rows, sweeps = [], []
    for model, x in embeddings.items():
        base = bin_embeddings(x, genome_ids, umap_dim, seed, min_samples, eps)
        for clustering in clusterings:
            result = (
                base
                if clustering == "dbscan"
                else recluster(base, genome_ids, clustering, min_samples, eps, min_cluster_size)
            )
            run.results[(model, clustering)] = result
            table = level_metrics(levels, result.labels, result.coords)
            rows.append(
                table.assign(
                    model=model,
                    clustering=clustering,
                    n_points=len(x),
                    eps=result.eps,
                    eps_chosen=result.eps_chosen,
                )
            )
        if sweep:
            sweeps.append(eps_sweep(base.coords, genome_ids, min_samples).assign(model=model))
    first = ["model", "clustering", "level", "n_points"]
    metrics = pd.concat(rows, ignore_index=True)
    run.metrics = metrics[first + [c for c in metrics.columns if c not in first]]
    run.sweeps = pd.concat(sweeps, ignore_index=True) if sweeps else pd.DataFrame()
    return run


def run_labels(run: BinningRun, fragment_ids) -> pd.DataFrame:
    """Rows of `cluster_labels.csv` for a whole run: model, clustering, fragment_id, cluster."""
    return pd.concat(
        [
            labels_table(model, fragment_ids, result).assign(clustering=clustering)
            for (model, clustering), result in run.results.items()
        ],
        ignore_index=True,
    )
