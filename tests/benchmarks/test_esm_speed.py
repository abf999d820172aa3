"""The ESM speed protocol, speedup and PASS/FAIL, and the smoke run of the notebook."""

import importlib.metadata
import json
import os
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import accuracy_score, roc_auc_score

from genobench.benchmarks.esm_speed.speed import (
    hardware_info,
    normalize_pairs,
    speed_summary,
    speedups,
    time_pair,
    verdict,
)
from genobench.data.proteins import protein_records
from genobench.report.runner import run_notebook
from genobench.status import FAIL, NOT_MEASURED, PASS, WITHIN_NOISE


@pytest.mark.parametrize(
    "speedup, overlap, status",
    [
        (2.0, False, PASS),
        (3.5, False, PASS),
        (1.999, False, FAIL),
        (0.8, False, FAIL),
        (3.5, True, WITHIN_NOISE),
        (0.8, True, WITHIN_NOISE),
        (float("nan"), False, NOT_MEASURED),
    ],
)
def test_speed_verdict(speedup, overlap, status):
    assert verdict(speedup, 2.0, overlap) == status


def test_normalize_pairs_defaults_and_errors():
    [p] = normalize_pairs([{"reference": "a", "fast": "a"}])
    assert (p["reference_attention"], p["fast_attention"], p["shared_weights"]) == (
        "eager",
        "sdpa",
        True,
    )
    assert not normalize_pairs([{"reference": "a", "fast": "b"}])[0]["shared_weights"]
    with pytest.raises(ValueError, match="pairs\\[0\\] must be a mapping"):
        normalize_pairs([{"reference": "a"}])
    with pytest.raises(ValueError, match="unknown key\\(s\\) refrence"):
        normalize_pairs([{"reference": "a", "fast": "a", "refrence": "x"}])


def _raw(ref_s, fast_s):
    rows = []
    for role, secs in (("reference", ref_s), ("fast", fast_s)):
        for bucket, times in secs.items():
            for run, t in enumerate(times):
                rows.append(
                    {
                        "pair": "p",
                        "role": role,
                        "model": "m",
                        "attention": role,
                        "bucket": bucket,
                        "run": run,
                        "seconds": t,
                        "n_seqs": 4,
                        "n_tokens": 400,
                        "n_residues": 392,
                        "peak_mem_mb": np.nan,
                        "peak_mem_note": "cpu",
                    }
                )
    return pd.DataFrame(rows)


def test_summary_and_speedup_from_hand_made_times():
    raw = _raw({100: [1.0, 3.0, 2.0], 300: [6.0, 6.0, 6.0]}, {100: [0.5, 0.4, 0.6], 300: [2.0] * 3})
    s = speed_summary(raw).set_index(["role", "bucket"])
    r100 = s.loc[("reference", 100)]
    assert (
        r100["n_repeats"],
        r100["total_s_median"],
        r100["total_s_mean"],
        r100["total_s_min"],
        r100["total_s_max"],
    ) == (3, 2.0, 2.0, 1.0, 3.0)
    assert r100["per_seq_ms_median"] == pytest.approx(500.0)
    assert r100["seqs_per_s_median"] == pytest.approx(2.0)
    assert r100["tokens_per_s_max"] == pytest.approx(400.0)
    sp = speedups(s.reset_index(), threshold=2.0).set_index("bucket")
    # bucket 100: reference 1..3 s (median 2), fast 0.4..0.6 s (median 0.5): apart
    b100 = sp.loc["100"]
    assert (b100["reference_min_s"], b100["reference_max_s"]) == (1.0, 3.0)
    assert (b100["fast_min_s"], b100["fast_median_s"], b100["fast_max_s"]) == (0.4, 0.5, 0.6)
    assert b100["speedup"] == pytest.approx(4.0)
    assert b100["speedup_min"] == pytest.approx(1.0 / 0.6)
    assert b100["speedup_max"] == pytest.approx(3.0 / 0.4)
    assert b100["n_repeats"] == 3 and not b100["overlap"] and b100["verdict"] == PASS
    assert sp.loc["300", "speedup"] == pytest.approx(3.0)
    assert sp.loc["300", "speedup_min"] == sp.loc["300", "speedup_max"] == pytest.approx(3.0)
    # all buckets: sums of the medians, and of the fastest and slowest repeats
    assert sp.loc["all", "speedup"] == pytest.approx(8.0 / 2.5)
    assert sp.loc["all", "speedup_min"] == pytest.approx(7.0 / 2.6)
    assert sp.loc["all", "speedup_max"] == pytest.approx(9.0 / 2.4)
    assert sp.loc["all", "verdict"] == PASS
    slow = speedups(speed_summary(_raw({100: [1.0]}, {100: [0.9]})), 2.0)
    assert slow.set_index("bucket").loc["all", "verdict"] == FAIL


def test_overlapping_repeats_are_within_noise():
    # reference 1..3 s and fast 1..4 s share [1, 3]: the median ratio 2/1 = 2 is not judged
    raw = _raw({100: [1.0, 3.0, 2.0], 300: [6.0] * 3}, {100: [1.0, 1.0, 4.0], 300: [2.0] * 3})
    sp = speedups(speed_summary(raw), threshold=2.0).set_index("bucket")
    assert sp.loc["100", "speedup"] == pytest.approx(2.0)
    assert (sp.loc["100", "speedup_min"], sp.loc["100", "speedup_max"]) == (0.25, 3.0)
    assert sp.loc["100", "overlap"] and sp.loc["100", "verdict"] == WITHIN_NOISE
    assert sp.loc["300", "verdict"] == PASS  # 6 s vs 2 s in every repeat
    # all: reference 7..9 s, fast 3..6 s: apart, 8 / 3 >= 2
    assert not sp.loc["all", "overlap"] and sp.loc["all", "verdict"] == PASS
    # ranges that only touch (fast max = reference min) cannot be told apart either
    touch = speedups(speed_summary(_raw({100: [2.0, 3.0]}, {100: [1.0, 2.0]})), 1.0)
    assert touch.set_index("bucket").loc["100", "verdict"] == WITHIN_NOISE


class FakeEncoder:
    """Counts forward calls; each takes `delay` seconds."""

    def __init__(self, name, delay):
        self.name, self.attn_implementation, self.delay, self.calls = name, name, delay, 0
        self.model = torch.nn.Linear(1, 1)

    def tokenize(self, seqs, max_length):
        n = max(len(s) for s in seqs) + 2
        return {"attention_mask": torch.ones(len(seqs), n), "n": len(seqs)}

    def pool(self, batch):
        import time

        self.calls += 1
        time.sleep(self.delay)
        return torch.full((batch["n"], 3), float(self.calls))


def test_time_pair_excludes_warmup_and_measures_a_known_ratio():
    proteins = pd.DataFrame({"seq": ["A" * 10] * 4 + ["A" * 20] * 2, "bucket": [10] * 4 + [20] * 2})
    ref, fast = FakeEncoder("ref", 0.02), FakeEncoder("fast", 0.005)
    raw, emb = time_pair(ref, fast, proteins, batch_size=2, warmup=3, num_runs=2)
    # bucket 10: 2 batches, bucket 20: 1 batch; (3 warm-up + 2 timed) calls of each
    assert ref.calls == fast.calls == (3 + 2) * (2 + 1)
    assert len(raw) == 2 * 2 * 2 and set(raw["role"]) == {"reference", "fast"}
    assert raw.loc[raw["bucket"] == 10, "n_tokens"].iloc[0] == 4 * 12
    assert raw["peak_mem_mb"].notna().all() or raw["peak_mem_note"].iloc[0].startswith(
        "not measured"
    )
    assert emb["reference"].shape == (6, 3)
    sp = speedups(speed_summary(raw.assign(pair="p")), 2.0).set_index("bucket")
    assert 2.0 < sp.loc["all", "speedup"] < 6.0  # about 4 (sleep 0.02 vs 0.005 per batch)


def test_time_pair_with_a_model_that_did_not_load():
    proteins = pd.DataFrame({"seq": ["A" * 10] * 2, "bucket": [10, 10]})
    raw, emb = time_pair(
        None, FakeEncoder("fast", 0.0), proteins, batch_size=2, warmup=0, num_runs=1
    )
    assert set(raw["role"]) == {"fast"} and set(emb) == {"fast"}
    sp = speedups(speed_summary(raw.assign(pair="p")), 2.0)
    assert (sp["verdict"] == NOT_MEASURED).all() and sp["speedup"].isna().all()
    assert sp["speedup_min"].isna().all() and (sp["n_repeats"] == 0).all()


def test_hardware_info_on_cpu():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        info = hardware_info("cpu")
    finally:
        torch.set_num_threads(threads)
    assert info["torch"] == importlib.metadata.version("torch")  # the installed distribution
    assert info["torch_threads"] == 1 and info["cpu_count"] == os.cpu_count()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M)
        if model:
            assert info["cpu"] == model.group(1).strip()
    assert info["device_name"] == f"CPU ({info['cpu']}, 1 torch threads)"


def _summary_cell(run_dir):
    nb = nbformat.read(run_dir / "esm_speed.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    return "".join(code[0].outputs[0]["data"]["text/markdown"])


@pytest.mark.slow
def test_smoke_notebook_run(smoke_run):
    run_dir, record = smoke_run("esm_speed")
    assert record["status"] == "ok", record["error"]
    for name in (
        "speed.csv",
        "validation_metrics.csv",
        "comparison.csv",
        "speed_runs.csv",
        "test_scores.csv",
        "figures/throughput_by_bucket.html",
        "figures/roc_curves.html",
        "checkpoints/pair0_fast/meta.json",
    ):
        assert (run_dir / name).is_file(), name
    runs = pd.read_csv(run_dir / "speed_runs.csv")
    assert set(runs["bucket"]) == {30, 60} and set(runs["attention"]) == {"eager", "sdpa"}
    assert (runs.groupby(["role", "bucket"]).size() == 2).all()  # num_runs timed calls each
    # speedups recomputed from the timed rows: median seconds per bucket, reference / fast
    median = runs.groupby(["role", "bucket"])["seconds"].median()
    speed = pd.read_csv(run_dir / "speedup_by_bucket.csv").set_index("bucket")
    for bucket in (30, 60):
        assert speed.loc[str(bucket), "speedup"] == pytest.approx(
            median["reference", bucket] / median["fast", bucket]
        )
    overall = median["reference"].sum() / median["fast"].sum()
    assert speed.loc["all", "speedup"] == pytest.approx(overall)
    assert record["headline"]["metric"].startswith("speedup")
    assert record["headline"]["value"] == pytest.approx(overall)
    # the repeat ranges of the overall speedup: sums of each bucket's fastest/slowest run
    fastest, slowest = (runs.groupby(["role", "bucket"])["seconds"].agg(a) for a in ("min", "max"))
    ref_range = (fastest["reference"].sum(), slowest["reference"].sum())
    fast_range = (fastest["fast"].sum(), slowest["fast"].sum())
    assert speed.loc["all", "speedup_min"] == pytest.approx(ref_range[0] / fast_range[1])
    assert speed.loc["all", "speedup_max"] == pytest.approx(ref_range[1] / fast_range[0])
    apart = ref_range[0] > fast_range[1] or fast_range[0] > ref_range[1]
    expected = (PASS if overall >= 2.0 else FAIL) if apart else WITHIN_NOISE
    assert speed.loc["all", "verdict"] == expected
    comparison = pd.read_csv(run_dir / "comparison.csv")
    assert comparison["speedup"].iloc[0] == pytest.approx(overall)
    assert comparison["speed_verdict"].iloc[0] == expected
    assert comparison["n_repeats"].iloc[0] == 2  # num_runs of smoke.yaml
    assert comparison["cosine_min"].iloc[0] >= 0.999
    # test metrics recomputed with scikit-learn from the written test scores
    scores = pd.read_csv(run_dir / "test_scores.csv")
    proteins = pd.read_csv(run_dir / "validation_proteins.csv")
    test_ids = set(proteins.loc[proteins["split"] == "test", "id"])
    metrics = pd.read_csv(run_dir / "validation_metrics.csv").set_index(["role", "split"])
    for role, part in scores.groupby("role"):
        assert set(part["id"]) == test_ids
        m = metrics.loc[(role, "test")]
        assert m["roc_auc"] == pytest.approx(roc_auc_score(part["label"], part["score"]))
        assert m["accuracy"] == pytest.approx(accuracy_score(part["label"], part["score"] >= 0.5))
    row = comparison.iloc[0]
    assert row["fast_accuracy"] == pytest.approx(metrics.loc[("fast", "test"), "accuracy"])
    assert row["accuracy_drop"] == pytest.approx(
        metrics.loc[("reference", "test"), "accuracy"] - row["fast_accuracy"]
    )
    assert row["accuracy_drop"] <= 0.05 and row["validation_verdict"] == "PASS"  # same weights
    summary = _summary_cell(run_dir)  # the first code cell: filled in at the end of the run
    assert "**Speed: " in summary and "**Validation: PASS**" in summary
    assert json.loads((run_dir / "summary.json").read_text())["validation"] == "PASS"


@pytest.mark.slow
def test_notebook_goes_on_when_a_model_cannot_load_and_judges_against_given_baselines(
    in_repo, tmp_path
):
    """One run, two pairs: the first's fast model cannot load, the second is validated
    against baseline metrics given as inline JSON (accuracy 1.0, far above smoke's)."""
    pairs = [
        {"reference": "local:esm2-tiny", "fast": str(tmp_path / "missing-model")},
        {"reference": "local:esm2-tiny", "fast": "local:esm2-tiny"},
    ]
    record = run_notebook(
        "esm_speed",
        "params/esm_speed/smoke.yaml",
        {"pairs": pairs, "validation_pairs": [0, 1], "baseline_metrics": '{"accuracy": 1.0}'},
        reports_dir=tmp_path / "reports",
    )
    run_dir = tmp_path / "reports" / "runs" / "esm_speed" / "smoke"
    assert record["status"] == "partial", record["error"]  # the failed model is named
    assert "missing-model" in record["error"] and "ModelLoadError" in record["error"]
    models = pd.read_csv(run_dir / "models.csv")
    assert list(models["status"]) == ["loaded", "failed", "loaded", "loaded"]
    assert "missing-model" in models["reason"].iloc[1]
    comparison = pd.read_csv(run_dir / "comparison.csv")
    unloaded, judged = comparison.iloc[0], comparison.iloc[1]
    assert unloaded["speed_verdict"] == NOT_MEASURED
    assert unloaded["validation_verdict"] == NOT_MEASURED
    assert judged["baseline_source"] == "baseline_metrics" and judged["baseline_accuracy"] == 1.0
    assert judged["validation_verdict"] == "FAIL"  # smoke accuracy is far below 1.0
    summary = _summary_cell(run_dir)
    assert "could not be loaded" in summary and "Next steps" in summary


@pytest.mark.slow
def test_real_smoke_notebook_run(in_repo, tmp_path):
    """Real proteins: buckets from phage Topaz's lengths, phage vs E. coli validation, and
    the datasets' provenance table."""
    record = run_notebook(
        "esm_speed", "params/esm_speed/real_smoke.yaml", reports_dir=tmp_path / "reports"
    )
    run_dir = tmp_path / "reports" / "runs" / "esm_speed" / "real_smoke"
    assert record["status"] == "ok", record["error"]
    lengths = sorted(len(r.seq) for r in protein_records("phage_topaz_proteins"))
    speed = pd.read_csv(run_dir / "speed.csv")
    assert set(speed["bucket"]) == {int(round(v)) for v in np.quantile(lengths, [0.33, 0.67])}
    proteins = pd.read_csv(run_dir / "validation_proteins.csv")
    assert proteins["label"].value_counts().to_dict() == {1: 12, 0: 12}
    assert proteins.loc[proteins["label"] == 1, "id"].str.startswith("phage_topaz").all()
    metrics = pd.read_csv(run_dir / "validation_metrics.csv")
    assert set(metrics["role"]) == {"reference", "fast"}
    datasets = pd.read_csv(run_dir / "datasets.csv")
    assert set(datasets["dataset"]) == {"phage_topaz_proteins", "ecoli_miij01000039_proteins"}
    assert set(datasets["package"]) == {"pyrodigal-gv", "pyrodigal"}
