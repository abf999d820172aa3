"""Binning quality of TNF on the default synthetic metagenome (the report's default data)."""

import numpy as np
import pytest

from genobench.binning import bin_embeddings
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
