import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from genobench.report.runner import run_notebook


@pytest.mark.slow
def test_smoke_run_writes_every_output(smoke_run):
    run_dir, record = smoke_run("gfm_zeroshot")
    assert record["status"] == "ok", record["error"]
    metrics = pd.read_csv(run_dir / "zeroshot_metrics.csv")
    scores = pd.read_csv(run_dir / "variant_scores.csv")
    models = ["kmer-markov", "planted-nt", "planted-mistral"]
    assert list(dict.fromkeys(metrics["model"])) == models
    assert set(metrics["region_type"]) == {"all", "coding", "splice", "promoter", "intergenic"}
    assert set(scores.groupby("model")["method"].unique()["planted-nt"]) == {
        "embedding_distance",
        "embedding_distance_local",
        "masked_marginal",
    }
    assert set(scores.groupby("model")["method"].unique()["planted-mistral"]) == {
        "log_likelihood_ratio",
        "embedding_distance",
    }
    n_variants = len(scores[(scores["model"] == "kmer-markov")])
    assert n_variants == 4 * (6 + 10)
    # every AUROC and AUPRC recomputed with scikit-learn from the written scores
    indexed = metrics.set_index(["model", "method", "region_type"])
    for (model, method), group in scores.groupby(["model", "method"]):
        for region, part in [("all", group), *group.groupby("region_type")]:
            part = part[np.isfinite(part["pathogenicity"])]
            row = indexed.loc[(model, method, region)]
            assert row["n"] == len(part) and row["n_pathogenic"] == part["label"].sum()
            assert row["auroc"] == pytest.approx(
                roc_auc_score(part["label"], part["pathogenicity"]), abs=1e-12
            )
            assert row["auprc"] == pytest.approx(
                average_precision_score(part["label"], part["pathogenicity"]), abs=1e-12
            )
            assert row["auroc_low"] <= row["auroc"] <= row["auroc_high"]
    comparison = pd.read_csv(run_dir / "model_comparison.csv")
    assert list(comparison["model"]) == models
    for name in ("roc_pr", "auroc_heatmap", "score_distributions"):
        assert (run_dir / "figures" / f"{name}.html").is_file()
    overall = metrics[metrics["region_type"] == "all"]
    best = overall.loc[overall["auroc"].idxmax()]
    headline = json.loads((run_dir / "headline.json").read_text())
    assert headline["metric"] == f"AUROC ({best['model']}, {best['method']})"
    assert headline["value"] == pytest.approx(best["auroc"])
    # the k-mer baseline learns the planted motifs even on the small genome
    markov = metrics[(metrics["model"] == "kmer-markov") & (metrics["region_type"] == "all")]
    assert markov["auroc"].iloc[0] > 0.6


@pytest.mark.slow
def test_ref_mismatch_fails_the_run_with_the_row(in_repo, tmp_path):
    fa = tmp_path / "g.fa"
    fa.write_text(">chr1\n" + "ACGT" * 50 + "\n")
    bad = tmp_path / "v.csv"
    bad.write_text(
        "chrom,pos,ref,alt,label,region_type\nchr1,3,G,A,1,coding\nchr1,5,C,G,0,coding\n"
    )
    record = run_notebook(
        "gfm_zeroshot",
        "params/gfm_zeroshot/smoke.yaml",
        {"reference": str(fa), "variants": str(bad), "models": ["kmer-markov"]},
        reports_dir=tmp_path / "reports",
    )
    assert record["status"] == "failed"
    assert "line 3 (chr1:5 C>G): ref allele 'C' does not match" in record["error"]


@pytest.mark.slow
def test_user_reference_and_variants(in_repo, tmp_path):
    fa = tmp_path / "g.fa"
    fa.write_text(">chr1\n" + "ACGTTGCA" * 40 + "\n")
    v = tmp_path / "v.csv"
    v.write_text(
        "chrom,pos,ref,alt,label,region_type\nchr1,1,A,G,1,coding\n"
        "chr1,2,C,T,0,coding\nchr1,320,A,C,1,intergenic\nchr1,100,T,A,0,intergenic\n"
    )
    record = run_notebook(
        "gfm_zeroshot",
        "params/gfm_zeroshot/smoke.yaml",
        {"reference": str(fa), "variants": str(v), "models": ["kmer-markov"], "n_bootstrap": 10},
        reports_dir=tmp_path / "reports",
    )
    assert record["status"] == "ok", record["error"]
    scores = pd.read_csv(
        tmp_path / "reports" / "runs" / "gfm_zeroshot" / "smoke" / "variant_scores.csv"
    )
    assert len(scores) == 4 and scores["raw_score"].notna().all()


@pytest.mark.slow
def test_a_model_that_cannot_load_is_a_failed_row_of_a_partial_run(in_repo, tmp_path, monkeypatch):
    # Caduceus needs mamba_ssm (CUDA only); with it installed, the offline hub fails instead
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    record = run_notebook(
        "gfm_zeroshot",
        "params/gfm_zeroshot/smoke.yaml",
        {"models": ["caduceus", "kmer-markov"]},
        reports_dir=tmp_path,
    )
    run_dir = tmp_path / "runs" / "gfm_zeroshot" / "smoke"
    assert record["status"] == "partial", record["error"]
    assert record["error"].startswith("1 failed: caduceus (")
    failures = json.loads((run_dir / "failures.json").read_text())
    assert [f["what"] for f in failures] == ["caduceus"]
    assert json.loads((run_dir / "run.json").read_text())["status"] == "partial"
    scores = pd.read_csv(run_dir / "variant_scores.csv")
    assert set(scores["model"]) == {"kmer-markov"}  # the other model's rows are all there
    timing = pd.read_csv(run_dir / "timing.csv").set_index("model")
    assert timing.loc["caduceus", "status"] == "failed"
    assert timing.loc["kmer-markov", "status"] == "ok"


def test_real_smoke_run_scores_stop_gain_against_synonymous(in_repo, tmp_path):
    record = run_notebook(
        "gfm_zeroshot", "params/gfm_zeroshot/real_smoke.yaml", reports_dir=tmp_path / "reports"
    )
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
