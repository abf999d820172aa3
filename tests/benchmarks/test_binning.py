"""Binning quality of TNF on the default synthetic metagenome (the report's default data)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from genobench.benchmarks.binning import bin_embeddings
from genobench.data.fragments import load_fragments, select_fragments
from genobench.data.metagenome import metagenome_csv
from genobench.models.tnf import tnf_matrix

# Measured on the default data (20 genomes x 50 fragments, seed 0): ARI 0.962.
MEASURED_TNF_ARI = 0.96


@pytest.mark.slow
def test_tnf_bins_default_metagenome_far_above_shuffled_control():
    fragments = select_fragments(load_fragments(metagenome_csv()), 20, 50, seed=0)
    x = tnf_matrix(fragments["seq"].tolist())
    result = bin_embeddings(x, fragments["genome_id"], umap_dim=10, seed=0)
    shuffled = np.random.default_rng(0).permutation(fragments["genome_id"].to_numpy())
    from genobench.metrics.clustering import clustering_metrics

    control = clustering_metrics(shuffled, result.labels, result.coords)
    assert result.metrics["ari"] >= MEASURED_TNF_ARI - 0.03
    assert abs(control["ari"]) < 0.05
    assert result.metrics["ari"] - control["ari"] > 0.8


def fake_embeddings():
    """Three well-separated blobs of 20 points: genomes a, b, c; a and b are one species."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(c, 0.3, size=(20, 3)) for c in (0, 8, 16)])
    fragments = pd.DataFrame(
        {"genome_id": np.repeat(["a", "b", "c"], 20), "species": np.repeat(["s1", "s1", "s2"], 20)}
    )
    return x, fragments


def test_bin_models_scores_every_clustering_at_genome_and_species_level(monkeypatch):
    import genobench.benchmarks.binning as binning

    monkeypatch.setattr(binning, "umap_reduce", lambda x, n, seed: x[:, :n])  # no UMAP here
    x, fragments = fake_embeddings()
    run = binning.bin_models(
        {"m1": x, "m2": x[:, ::-1]},
        fragments,
        umap_dim=3,
        seed=0,
        clusterings=("dbscan", "hdbscan"),
        taxon_columns=("species", "genus"),
    )
    assert list(
        run.metrics[["model", "clustering", "level"]].itertuples(index=False, name=None)
    ) == [
        (m, c, lv)
        for m in ("m1", "m2")
        for c in ("dbscan", "hdbscan")
        for lv in ("genome", "species")
    ]
    for _, row in run.metrics.iterrows():  # each row scores its clustering against its level
        result = run.results[(row["model"], row["clustering"])]
        truth = fragments["genome_id" if row["level"] == "genome" else "species"]
        assert row["ari"] == pytest.approx(adjusted_rand_score(truth, result.labels))
    genome_level = run.metrics[run.metrics["level"] == "genome"].set_index(["model", "clustering"])
    assert genome_level.loc[("m1", "hdbscan"), "ari"] > 0.95  # three separated blobs
    assert run.metrics.loc[run.metrics["clustering"] == "hdbscan", "eps"].isna().all()
    assert set(run.sweeps["model"]) == {"m1", "m2"} and run.sweeps["is_knee"].sum() == 2
    assert set(run.results) == {(m, c) for m in ("m1", "m2") for c in ("dbscan", "hdbscan")}


def test_bin_models_refuses_no_models_bad_clustering_and_empty_taxa():
    from genobench.benchmarks.binning import bin_models
    from genobench.data.errors import InputError

    x, fragments = fake_embeddings()
    with pytest.raises(InputError, match="models is empty: list at least one model"):
        bin_models({}, fragments, umap_dim=2, seed=0)
    with pytest.raises(InputError, match="choose one or more of dbscan, hdbscan"):
        bin_models({"m": x}, fragments, umap_dim=2, seed=0, clusterings=("kmeans",))
    fragments.loc[25, "species"] = ""
    with pytest.raises(InputError, match="taxon column 'species' is empty for genome 'b'"):
        bin_models({"m": x}, fragments, umap_dim=2, seed=0, taxon_columns=("species",))


@pytest.mark.slow
def test_real_smoke_run_reports_genome_and_species_levels(in_repo, tmp_path):
    import importlib.metadata
    import json

    from genobench.report.runner import run_notebook

    record = run_notebook("binning", "params/binning/real_smoke.yaml", reports_dir=tmp_path)
    assert record["status"] == "ok", record["error"]
    run_dir = tmp_path / "runs" / "binning" / "real_smoke"
    metrics = pd.read_csv(run_dir / "binning_metrics.csv")
    assert set(metrics["level"]) == {"genome", "species"}
    assert set(metrics["clustering"]) == {"dbscan", "hdbscan"}
    dataset = pd.read_csv(run_dir / "dataset.csv")
    for _, row in dataset.iterrows():
        assert row["version"] == importlib.metadata.version(row["package"])
    labels = pd.read_csv(run_dir / "species_check.csv")
    ecoli = labels[labels["species"] == "Escherichia coli"]
    assert len(ecoli) == 2 and ecoli["ani_species"].nunique() == 1  # ANI agrees: one species
    assert labels["ani_species"].nunique() == 3
    sweep = pd.read_csv(run_dir / "eps_sweep.csv")
    assert sweep["is_knee"].sum() == 1
    assert json.loads((run_dir / "run.json").read_text())["headline"]["value"] == pytest.approx(
        metrics["ari"].iat[0]
    )
    assert (run_dir / "figures" / "umap_tnf_hdbscan.html").is_file()
