import json
import os
from pathlib import Path

import pandas as pd
import pytest

from genobench.runner import run_notebook

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    reports = tmp_path_factory.mktemp("reports")
    cwd = os.getcwd()
    os.chdir(REPO)  # relative params paths, as the README's commands use them
    try:
        record = run_notebook("gfm_zeroshot", "params/gfm_zeroshot/smoke.yaml",
                              reports_dir=reports)
    finally:
        os.chdir(cwd)
    return reports / "runs" / "gfm_zeroshot" / "smoke", record


@pytest.mark.slow
def test_smoke_run_writes_every_output(smoke_run):
    run_dir, record = smoke_run
    assert record["status"] == "ok", record["error"]
    metrics = pd.read_csv(run_dir / "zeroshot_metrics.csv")
    scores = pd.read_csv(run_dir / "variant_scores.csv")
    models = ["kmer-markov", "planted-nt", "planted-mistral"]
    assert list(dict.fromkeys(metrics["model"])) == models
    assert set(metrics["region_type"]) == {"all", "coding", "splice", "promoter", "intergenic"}
    assert metrics["auroc"].between(0, 1).all() and metrics["auprc"].between(0, 1).all()
    assert (metrics["auroc_low"] <= metrics["auroc_high"]).all()
    assert set(scores.groupby("model")["method"].unique()["planted-nt"]) == {
        "embedding_distance", "embedding_distance_local", "masked_marginal"}
    assert set(scores.groupby("model")["method"].unique()["planted-mistral"]) == {
        "log_likelihood_ratio", "embedding_distance"}
    n_variants = len(scores[(scores["model"] == "kmer-markov")])
    assert n_variants == 4 * (6 + 10)
    comparison = pd.read_csv(run_dir / "model_comparison.csv")
    assert list(comparison["model"]) == models
    for name in ("roc_pr", "auroc_heatmap", "score_distributions"):
        assert (run_dir / "figures" / f"{name}.html").is_file()
    headline = json.loads((run_dir / "headline.json").read_text())
    assert headline["metric"].startswith("AUROC")
    # the k-mer baseline learns the planted motifs even on the small genome
    markov = metrics[(metrics["model"] == "kmer-markov") & (metrics["region_type"] == "all")]
    assert markov["auroc"].iloc[0] > 0.6


@pytest.mark.slow
def test_ref_mismatch_fails_the_run_with_the_row(in_repo, tmp_path):
    fa = tmp_path / "g.fa"
    fa.write_text(">chr1\n" + "ACGT" * 50 + "\n")
    bad = tmp_path / "v.csv"
    bad.write_text("chrom,pos,ref,alt,label,region_type\nchr1,3,G,A,1,coding\n"
                   "chr1,5,C,G,0,coding\n")
    record = run_notebook("gfm_zeroshot", "params/gfm_zeroshot/smoke.yaml",
                          {"reference": str(fa), "variants": str(bad), "models": ["kmer-markov"]},
                          reports_dir=tmp_path / "reports")
    assert record["status"] == "failed"
    assert "line 3 (chr1:5 C>G): ref allele 'C' does not match" in record["error"]


@pytest.mark.slow
def test_user_reference_and_variants(in_repo, tmp_path):
    fa = tmp_path / "g.fa"
    fa.write_text(">chr1\n" + "ACGTTGCA" * 40 + "\n")
    v = tmp_path / "v.csv"
    v.write_text("chrom,pos,ref,alt,label,region_type\nchr1,1,A,G,1,coding\n"
                 "chr1,2,C,T,0,coding\nchr1,320,A,C,1,intergenic\nchr1,100,T,A,0,intergenic\n")
    record = run_notebook("gfm_zeroshot", "params/gfm_zeroshot/smoke.yaml",
                          {"reference": str(fa), "variants": str(v), "models": ["kmer-markov"],
                           "n_bootstrap": 10}, reports_dir=tmp_path / "reports")
    assert record["status"] == "ok", record["error"]
    scores = pd.read_csv(tmp_path / "reports" / "runs" / "gfm_zeroshot" / "smoke" /
                         "variant_scores.csv")
    assert len(scores) == 4 and scores["raw_score"].notna().all()


@pytest.mark.slow
def test_real_smoke_run_scores_stop_gain_against_synonymous(in_repo, tmp_path):
    record = run_notebook("gfm_zeroshot", "params/gfm_zeroshot/real_smoke.yaml",
                          reports_dir=tmp_path / "reports")
    run_dir = tmp_path / "reports" / "runs" / "gfm_zeroshot" / "real_smoke"
    assert record["status"] == "ok", record["error"]
    scores = pd.read_csv(run_dir / "variant_scores.csv")
    one = scores[(scores["model"] == "kmer-markov")]
    assert one["label"].value_counts().to_dict() == {1: 10, 0: 10}
    assert set(one["region_type"]) <= {"plus-strand gene", "minus-strand gene"}
    assert one["raw_score"].notna().all()
    metrics = pd.read_csv(run_dir / "zeroshot_metrics.csv")
    assert {"kmer-markov", "planted-nt"} <= set(metrics["model"])
    datasets = pd.read_csv(run_dir / "datasets.csv")
    assert datasets["dataset"].tolist() == ["kutzneria_kk037166"]
    assert datasets["package"].iloc[0] == "pyrodigal" and "stop-gain" in datasets["labels"][0]
