"""The binning notebook's smoke run: its metrics recomputed from the labels it wrote."""

import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score, completeness_score


@pytest.mark.slow
def test_smoke_metrics_are_those_of_the_written_labels(smoke_run):
    run_dir, record = smoke_run("binning")
    assert record["status"] == "ok", record["error"]
    truth = pd.read_csv(run_dir / "selected_fragments.csv")
    assert truth.groupby("genome_id").size().tolist() == [10, 10, 10]  # n_genomes x n_fragments
    labels = pd.read_csv(run_dir / "cluster_labels.csv").merge(
        truth, on="fragment_id", validate="many_to_one"
    )
    metrics = pd.read_csv(run_dir / "binning_metrics.csv").set_index("model")
    assert list(metrics.index) == ["tnf", "local:tiny-mistral"]
    for model, part in labels.groupby("model"):
        m = metrics.loc[model]
        assert len(part) == m["n_points"] == len(truth)
        assert m["ari"] == pytest.approx(
            adjusted_rand_score(part["genome_id"], part["cluster"]), abs=1e-12
        )
        assert m["completeness"] == pytest.approx(
            completeness_score(part["genome_id"], part["cluster"]), abs=1e-12
        )
        # purity by hand: each cluster counts its most common genome
        majority = part.groupby("cluster")["genome_id"].agg(lambda g: g.value_counts().iloc[0])
        assert m["purity"] == pytest.approx(majority.sum() / len(part))
        clusters = set(part["cluster"]) - {-1}
        assert m["n_clusters"] == len(clusters)
        assert m["noise_fraction"] == pytest.approx((part["cluster"] == -1).mean())
    assert record["headline"]["value"] == pytest.approx(metrics["ari"].iloc[0])
