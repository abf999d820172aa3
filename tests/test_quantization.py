"""Orchestration of one quantization mode, the result tables and the notebook's smoke run."""

import math

import numpy as np
import pandas as pd
import pytest

from genobench import quantization as q
from genobench.data.fragments import load_fragments, select_fragments
from genobench.data.metagenome import metagenome_csv
from genobench.models.loading import QUANT_MODES, STANDARD, load_model
from genobench.models.local import resolve_model

OUTPUTS = ["performance_metrics.csv", "quality/quality_metrics.csv",
           "quality/distribution_statistics.csv", "quality/layer_similarity.csv",
           "binning_metrics.csv", "quant_summary.csv", "best_performers.csv",
           "selected_fragments.csv", "headline.json",
           "figures/throughput_comparison.html", "figures/memory_comparison.html",
           "figures/pareto_tradeoff.html", "figures/divergence_comparison.html",
           "figures/cosine_by_layer.html"] + [f"figures/umap_{m}.html" for m in QUANT_MODES]


@pytest.fixture(scope="module")
def setup():
    path = resolve_model("local:genomic-lm-tiny")
    df = select_fragments(load_fragments(metagenome_csv(
        n_genomes=4, fragments_per_genome=12, min_length=300, max_length=600)), 3, 6, seed=0)
    _, tok = load_model(path)
    seqs = df["seq"].tolist()
    batches = q.encode_batches(tok, seqs, 4, 96)
    fid = q.encode_batches(tok, seqs, 4, 96, subset=q.fidelity_subset(len(seqs), 8, 0))
    return path, seqs, tok, batches, fid


def test_encode_batches_pads_right_and_covers_every_sequence(setup):
    path, seqs, tok, batches, fid = setup
    assert sorted(np.concatenate([b.index for b in batches])) == list(range(len(seqs)))
    for b in batches:
        lengths = b.attention_mask.sum(1)
        assert (b.attention_mask[:, 0] == 1).all()  # right padding: real tokens first
        assert b.input_ids.shape[1] == lengths.max() <= 96
        assert (b.input_ids[b.attention_mask == 0] == tok.pad_token_id).all()
    assert sum(len(b.index) for b in fid) == 8
    assert tok.padding_side == "right"
    with pytest.raises(ValueError, match="batch_size"):
        q.encode_batches(tok, seqs, 0, 96)


def test_standard_against_itself_is_exact(setup):
    path, seqs, tok, batches, fid = setup
    ref = q.run_mode(path, STANDARD, batches, fid, warmup_batches=1, progress=False)
    again = q.run_mode(path, STANDARD, batches, fid, reference=ref, warmup_batches=0,
                       progress=False)
    assert ref.status == again.status == "ok"
    for r in (ref, again):
        assert r.token_metrics["kl_mean"] == 0 and r.token_metrics["kl_p99"] == 0
        assert r.token_metrics["js_mean"] == 0
        assert r.token_metrics["top1_agreement"] == 1.0
    row = q.quality_row(again, ref)
    assert row["embedding_cosine_mean"] == pytest.approx(1.0)
    assert row["embedding_snr_db"] == math.inf or row["embedding_snr_db"] > 100
    perf = ref.performance
    assert perf["n_tokens"] == sum(b.n_tokens for b in batches)
    assert perf["n_sequences"] == len(seqs)
    assert perf["tokens_per_s"] == pytest.approx(perf["n_tokens"] / perf["timed_s"])
    assert perf["latency_p90_s"] >= perf["latency_median_s"] > 0
    assert math.isnan(perf["avg_power_W"]) and perf["power_status"].startswith("missing:")
    assert perf["footprint_GB"] > 0 and perf["peak_mem_GB"] >= 0
    assert not np.isnan(ref.embeddings).any()
    # one pooled embedding per layer (embeddings + each decoder layer) and fidelity fragment
    n_layers = 1 + 2
    assert ref.layer_embeddings.shape[:2] == (n_layers, 8)
    assert len(ref.layer_stats) == n_layers


@pytest.mark.parametrize("mode", ["8bit", "4bit_nf4"])
def test_quantized_mode_differs_a_little(setup, mode):
    path, seqs, tok, batches, fid = setup
    ref = q.run_mode(path, STANDARD, batches, fid, progress=False)
    r = q.run_mode(path, mode, batches, fid, reference=ref, progress=False)
    assert r.status == "ok", r.reason
    m = r.token_metrics
    assert 0 < m["kl_mean"] < 0.5 and m["kl_median"] <= m["kl_p99"] <= m["kl_max"]
    assert 0 < m["js_mean"] <= m["kl_mean"]
    assert 0.5 < m["top1_agreement"] <= 1
    row = q.quality_row(r, ref)
    assert 0.9 < row["embedding_cosine_mean"] < 1 and row["embedding_snr_db"] > 5
    assert r.performance["footprint_GB"] < ref.performance["footprint_GB"]


def test_a_mode_that_cannot_run_is_skipped_with_the_reason(setup, monkeypatch):
    path, seqs, tok, batches, fid = setup
    real = q.embed_batch

    def broken(model, batch, device):
        if type(model.model.layers[0].mlp.up_proj).__name__ == "Linear4bit":
            raise NotImplementedError("bitsandbytes::gemv_4bit has no kernel for this device")
        return real(model, batch, device)

    monkeypatch.setattr(q, "embed_batch", broken)
    r = q.run_mode(path, "4bit_fp4", batches, fid, progress=False)
    assert r.status == "skipped"
    assert "no kernel for this device" in r.reason
    assert r.performance == {"mode": "4bit_fp4", "status": "skipped", "reason": r.reason}
    ref = q.run_mode(path, STANDARD, batches, fid, progress=False)
    assert q.quality_row(r, ref)["reason"] == r.reason


def test_pareto_front():
    cost = [1.0, 2.0, 0.5, 0.5, np.nan, 3.0]
    gain = [10.0, 20.0, 5.0, 4.0, 100.0, 20.0]
    assert q.pareto_front(cost, gain).tolist() == [True, True, True, False, False, False]


def test_summary_and_best_performers_tables():
    perf = pd.DataFrame({"mode": ["standard", "8bit", "4bit_nf4", "4bit_fp4"],
                         "status": ["ok", "ok", "ok", "skipped"],
                         "tokens_per_s": [100.0, 40.0, 80.0, np.nan],
                         "seqs_per_s": [1.0, 0.4, 0.8, np.nan],
                         "latency_median_s": [1.0, 2.5, 1.2, np.nan],
                         "peak_mem_GB": [1.0, 0.6, 0.4, np.nan],
                         "footprint_GB": [4.0, 2.0, 1.0, np.nan],
                         "tokens_per_joule": [np.nan] * 4})
    quality = pd.DataFrame({"mode": ["standard", "8bit", "4bit_nf4", "4bit_fp4"],
                            "kl_mean": [0.0, 0.001, 0.01, np.nan],
                            "top1_agreement": [1.0, 0.99, 0.95, np.nan]})
    binning = pd.DataFrame({"mode": ["standard", "8bit", "4bit_nf4", "4bit_fp4"],
                            "ari": [0.9, 0.9, 0.8, np.nan]})
    s = q.summary_table(perf, quality, binning)
    assert s.set_index("mode").loc["4bit_nf4", "speedup_vs_standard"] == pytest.approx(0.8)
    assert s.set_index("mode").loc["4bit_nf4", "ari_delta"] == pytest.approx(-0.1)
    assert s["pareto_throughput_vs_footprint"].tolist() == [True, False, True, False]
    best = q.best_performers(s).set_index("criterion")
    assert best.loc["fastest (tokens/s)", "mode"] == "standard"
    assert best.loc["smallest footprint (GB)", "mode"] == "4bit_nf4"
    assert best.loc["most faithful quantized mode (KL mean)", "mode"] == "8bit"
    assert pd.isna(best.loc["most energy-efficient (tokens/J)", "mode"])
    assert "not measured" in best.loc["most energy-efficient (tokens/J)", "note"]


@pytest.mark.slow
def test_smoke_run_writes_every_output(tmp_path, in_repo):
    from genobench.runner import run_notebook

    record = run_notebook("quantization", "params/quantization/smoke.yaml",
                          reports_dir=tmp_path)
    run_dir = tmp_path / "runs" / "quantization" / "smoke"
    assert record["status"] == "ok", record["error"]
    for name in OUTPUTS:
        assert (run_dir / name).is_file(), name
    perf = pd.read_csv(run_dir / "performance_metrics.csv")
    assert perf["mode"].tolist() == list(QUANT_MODES)
    assert (perf["status"] == "ok").all()  # bitsandbytes runs all five modes on CPU
    assert perf["avg_power_W"].isna().all()  # CPU: missing with the reason, never 0
    assert perf["power_status"].str.contains("NVML measures NVIDIA GPUs only").all()
    quality = pd.read_csv(run_dir / "quality/quality_metrics.csv").set_index("mode")
    assert quality.loc["standard", "kl_mean"] == 0
    assert (quality.drop("standard")["kl_mean"] > 0).all()
    assert len(pd.read_csv(run_dir / "binning_metrics.csv")) == len(QUANT_MODES)
    layers = pd.read_csv(run_dir / "quality/distribution_statistics.csv")
    assert {"mean", "std", "min", "max", "abs_max", "kurtosis"} <= set(layers.columns)
