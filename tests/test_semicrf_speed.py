"""benchmarks/semicrf_speed.py: flash-semicrf's conventions on our inputs, and one tiny table."""

from __future__ import annotations

import importlib.util
import math

import pandas as pd
import plotly.io
import pytest
import torch

from genobench.benchmarks.gradient_check import random_problem
from genobench.semicrf import log_partition
from genobench.semicrf.brute_force import enumerate_segmentations, plain_score
from tests.conftest import REPO

flash = pytest.importorskip("flash_semicrf")


def load_benchmark():
    spec = importlib.util.spec_from_file_location(
        "semicrf_speed", REPO / "benchmarks" / "semicrf_speed.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def flash_log_z(p):
    return flash.semi_crf_streaming_forward(
        p.cum_scores,
        p.transition,
        p.duration_bias,
        p.lengths,
        p.duration_bias.shape[0],
        use_triton=False,
    )


def test_flash_zero_transitions_is_ours_plus_log_c():
    p = random_problem(3, 9, 4, 3, seed=1, dtype=torch.float64)
    p.transition = torch.zeros(3, 3, dtype=torch.float64)
    ours = log_partition(
        p.cum_scores, p.transition, p.duration_bias, p.lengths, backend="reference"
    )
    torch.testing.assert_close(flash_log_z(p), ours + math.log(3), rtol=1e-10, atol=1e-10)


def test_flash_charges_the_first_segment_a_transition_from_every_label():
    """By enumeration: flash-semicrf's Z sums, over segmentations, exp(our score) times
    sum_c' exp(transition[c', first label]) -- every label starts at 0 and the first
    segment pays a transition into it."""
    p = random_problem(2, 6, 3, 3, seed=2, dtype=torch.float64)
    trans, dur = p.transition.tolist(), p.duration_bias.tolist()
    expected = []
    for b in range(2):
        cum = p.cum_scores[b].tolist()
        terms = [
            plain_score(cum, trans, dur, segs)
            + math.log(sum(math.exp(trans[cp][segs[0][2]]) for cp in range(3)))
            for segs in enumerate_segmentations(int(p.lengths[b]), 3, 3)
        ]
        top = max(terms)
        expected.append(top + math.log(sum(math.exp(t - top) for t in terms)))
    torch.testing.assert_close(
        flash_log_z(p), torch.tensor(expected, dtype=torch.float64), rtol=1e-10, atol=1e-10
    )
    ours = log_partition(
        p.cum_scores, p.transition, p.duration_bias, p.lengths, backend="reference"
    )
    assert (flash_log_z(p) - ours).abs().min() > 1e-3  # the conventions really differ here


def test_tiny_table_and_plot(tmp_path):
    bench = load_benchmark()
    out = tmp_path / "speed.csv"
    bench.main(
        [
            str(out),
            "--shapes",
            "40x1,60x4",
            "--repeats",
            "2",
            "--batch",
            "1,2",
            "--backends",
            "reference,flash-semicrf,pytorch-crf",
            "--budget-s",
            "1e9",
        ]
    )
    table = pd.read_csv(out)
    ok = table[table["status"] == "ok"]
    assert set(ok["backend"]) >= {"reference", "flash-semicrf", "pytorch-crf"}
    assert set(table[table["backend"] == "pytorch-crf"]["K"]) == {1}  # linear CRF only
    assert (ok["min_s"] <= ok["median_s"]).all() and (ok["median_s"] <= ok["max_s"]).all()
    assert (ok["repeats"] == 2).all() and set(ok["B"]) == {1, 2}
    assert table["load_avg_1m"].notna().all()
    assert (tmp_path / "speed.html").stat().st_size > 100_000  # plotly.js inlined
    assert plotly.io.read_json(tmp_path / "speed.json").data  # the committable figure


def test_budget_skips_with_reason(tmp_path):
    bench = load_benchmark()
    table = bench.time_shapes(
        [(40, 2), (4000, 2)],
        [1],
        3,
        2,
        torch.float64,
        torch.device("cpu"),
        budget_s=0.0,
        backends=["reference"],
    )
    assert list(table["status"]) == ["ok", "skipped"]
    assert table["reason"].iloc[1].startswith("skipped: extrapolated")
    assert "> 0 s left of --budget-s 0 s" in table["reason"].iloc[1]


def test_prediction_takes_the_larger_of_batch_parallel_and_batch_serial_scaling():
    bench = load_benchmark()
    # timed 2 s at T=10k, K=100, B=16: a shape 100x the work per sequence
    assert bench.predicted_call_s((10_000, 100, 16, 2.0), 100_000, 1000, 1) == pytest.approx(200.0)
    assert bench.predicted_call_s((10_000, 100, 1, 2.0), 100_000, 1000, 4) == pytest.approx(800.0)
    assert bench.predicted_call_s((1000, 10, 2, 1.0), 1000, 10, 2) == pytest.approx(1.0)
    with pytest.raises(SystemExit, match="--shapes must look like"):
        bench.parse_shapes("100-4")
