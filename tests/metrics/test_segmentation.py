"""Segmentation metrics on hand-made segmentations with known answers."""

import math

import numpy as np
import pytest

from genobench.metrics.segmentation import (
    boundaries,
    boundary_f1,
    duration_kl,
    histogram,
    histogram_kl,
    log_bins,
    match_boundaries,
    position_f1,
    run_durations,
    runs,
    segment_f1,
    segmentation_metrics,
)

TRUE = np.array([0, 0, 1, 1, 1, 2, 2])
PRED = np.array([0, 1, 1, 1, 1, 2, 2])


def test_runs_and_boundaries():
    assert runs(TRUE) == [(0, 2, 0), (2, 5, 1), (5, 7, 2)]
    assert boundaries(TRUE).tolist() == [2, 5]
    assert runs(np.array([3])) == [(0, 1, 3)] and boundaries(np.array([3])).size == 0


def test_boundary_f1_exact_and_with_tolerance():
    exact = boundary_f1([TRUE], [PRED], tolerance=0)
    assert (exact["precision"], exact["recall"], exact["f1"]) == (0.5, 0.5, 0.5)
    assert boundary_f1([TRUE], [PRED], tolerance=1)["f1"] == 1.0


def test_boundary_matching_is_one_to_one_and_maximal():
    # two predictions near one true boundary: only one may match
    result = boundary_f1(
        [np.array([0] * 5 + [1] * 5)], [np.array([0] * 4 + [1, 1] + [2] * 4)], tolerance=1
    )
    assert result["n_true"] == 1 and result["n_pred"] == 2
    assert (result["precision"], result["recall"]) == (0.5, 1.0)
    # greedy leftmost matching is maximal: true {3, 5}, pred {4, 6}, tol 1 -> 2 matches
    assert match_boundaries(np.array([3, 5]), np.array([4, 6]), 1) == 2
    assert match_boundaries(np.array([4, 6]), np.array([5]), 1) == 1
    assert match_boundaries(np.array([10]), np.array([4]), 5) == 0


def test_boundary_f1_sums_over_sequences_and_handles_no_boundaries():
    flat = np.zeros(6, dtype=int)
    assert boundary_f1([flat], [flat])["f1"] == 1.0  # nothing to find, nothing found
    assert boundary_f1([flat], [np.array([0, 0, 1, 1, 1, 1])])["precision"] == 0.0
    both = boundary_f1([TRUE, flat], [PRED, flat], tolerance=0)
    assert (both["n_true"], both["n_pred"]) == (2, 2)


def test_two_d_input_with_lengths():
    truth = np.array([[0, 0, 1, 1], [2, 2, 2, 0]])
    pred = np.array([[0, 0, 1, 1], [2, 2, 0, 0]])
    assert boundary_f1(truth, pred, 0, lengths=[4, 2])["f1"] == 1.0  # second cut to [2, 2]
    assert boundary_f1(truth, pred, 0)["f1"] == 0.5


def test_segment_f1():
    result = segment_f1([TRUE], [PRED])
    # true runs (0,2,0) (2,5,1) (5,7,2); predicted (0,1,0) (1,5,1) (5,7,2): one exact match
    assert result["precision"] == pytest.approx(1 / 3) and result["recall"] == pytest.approx(1 / 3)
    assert segment_f1([TRUE], [TRUE])["f1"] == 1.0


def test_position_f1_macro():
    result = position_f1([TRUE], [PRED], num_classes=4)
    # class 0: tp 1, true 2, pred 1 -> P 1, R 0.5, F1 2/3; class 1: tp 3, true 3, pred 4 -> 6/7
    assert result["f1_0"] == pytest.approx(2 / 3)
    assert result["f1_1"] == pytest.approx(6 / 7)
    assert result["f1_2"] == 1.0
    assert math.isnan(result["f1_3"])  # absent from both: left out of the mean
    assert result["macro_f1"] == pytest.approx((2 / 3 + 6 / 7 + 1) / 3)
    assert result["accuracy"] == pytest.approx(6 / 7)


def test_durations_are_measured_on_maximal_runs():
    # a 10-long exon that a semi-CRF with K = 4 emits as segments 4 + 4 + 2 is one run of 10
    labels = np.array([0] * 3 + [1] * 10 + [0] * 2)
    found = run_durations([labels], num_classes=2)
    assert found[1].tolist() == [10]
    assert sorted(found[0].tolist()) == [2, 3]


def test_log_bins_are_unique_integers():
    edges = log_bins(1000, 30)
    assert edges[0] == 1 and edges[-1] == 1001
    assert np.all(np.diff(edges) >= 1) and edges.dtype.kind == "i"
    assert log_bins(1, 5).tolist() == [1, 2]


def test_histogram_smoothing_and_kl_by_hand():
    edges = np.array([1, 2, 4, 8])  # bins [1,2) [2,4) [4,8)
    assert histogram(np.array([1, 1, 3, 100]), edges).tolist() == [
        0.5,
        0.25,
        0.25,
    ]  # 100 -> last bin
    smoothed = histogram(np.array([1, 1]), edges, smoothing=0.5)
    assert smoothed == pytest.approx([2.5 / 3.5, 0.5 / 3.5, 0.5 / 3.5])
    p = histogram(np.array([1, 1, 3, 5]), edges, 0.5)  # counts 2.5, 1.5, 1.5 over 5.5
    q = histogram(np.array([3, 3]), edges, 0.5)  # counts 0.5, 2.5, 0.5 over 3.5
    expected = sum(a * math.log(a / b) for a, b in zip(p, q))
    assert duration_kl(np.array([1, 1, 3, 5]), np.array([3, 3]), edges, 0.5) == pytest.approx(
        expected
    )
    assert duration_kl(np.array([1, 3]), np.array([1, 3]), edges) == pytest.approx(0.0)
    # an empty prediction is finite thanks to smoothing; an empty truth is undefined
    assert np.isfinite(duration_kl(np.array([1, 3]), np.array([], dtype=int), edges))
    assert math.isnan(duration_kl(np.array([], dtype=int), np.array([1]), edges))
    assert histogram_kl([0.5, 0.5], [1.0, 0.0]) == math.inf


def test_segmentation_metrics_keys_and_perfect_prediction():
    truth = [TRUE, np.array([2, 2, 0, 0, 0, 1])]
    metrics = segmentation_metrics(truth, truth, 3, tolerances=(0, 2), class_names=("a", "b", "c"))
    for key in (
        "boundary_f1_tol0",
        "boundary_f1_tol2",
        "segment_f1",
        "position_macro_f1",
        "duration_kl_a",
        "duration_kl_mean",
    ):
        assert key in metrics
    assert metrics["boundary_f1_tol0"] == 1.0 and metrics["segment_f1"] == 1.0
    assert metrics["duration_kl_mean"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="differ in length"):
        segmentation_metrics([TRUE], [TRUE[:-1]], 3)


def test_bootstrap_difference():
    from genobench.metrics.segmentation import bootstrap_difference

    truth = [np.array([0] * 5 + [1] * 5)] * 8
    good = [np.array([0] * 5 + [1] * 5)] * 8
    bad = [np.array([0] * 3 + [1] * 7)] * 8

    def f1(t, p):
        return boundary_f1(t, p, 0)["f1"]

    result = bootstrap_difference(truth, good, bad, f1, n_boot=50)
    assert result == {"difference": 1.0, "low": 1.0, "high": 1.0}
    same = bootstrap_difference(truth, good, good, f1, n_boot=20)
    assert same["difference"] == 0.0 and same["low"] == same["high"] == 0.0
