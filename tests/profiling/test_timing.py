import time

import numpy as np
import pytest

from genobench.profiling.timing import summarize_times, time_call, time_repeats


def test_timer_measures_a_known_sleep():
    elapsed, result = time_call(lambda: time.sleep(0.05) or "done")
    assert result == "done"
    assert 0.05 <= elapsed < 0.5


def test_warmup_calls_are_not_timed():
    calls = []
    times = time_repeats(lambda: calls.append(1), warmup=2, repeats=3)
    assert len(calls) == 5 and len(times) == 3


def test_summary_matches_numpy():
    t = [0.3, 0.1, 0.2, 0.5, 0.4]
    s = summarize_times(t)
    assert s["median_s"] == pytest.approx(0.3)
    assert s["p90_s"] == pytest.approx(np.percentile(t, 90))
    assert (s["min_s"], s["max_s"]) == (0.1, 0.5)
    with pytest.raises(ValueError):
        summarize_times([])


def test_summary_counts_repeats():
    assert summarize_times([0.2, 0.1])["n"] == 2


def test_speed_ratio_range_and_overlap_by_hand():
    from genobench.profiling.timing import speed_ratio

    base = summarize_times([2.0, 2.2, 2.4])
    fast = summarize_times([1.0, 1.1, 1.2])
    r = speed_ratio(base, fast)
    assert r["speedup"] == pytest.approx(2.2 / 1.1)
    assert (r["speedup_min"], r["speedup_max"]) == (
        pytest.approx(2.0 / 1.2),
        pytest.approx(2.4 / 1.0),
    )
    assert r["overlap"] is False
    noisy = speed_ratio(summarize_times([1.0, 3.0]), summarize_times([0.9, 1.1]))
    assert noisy["overlap"] is True  # 1.0 lies in both ranges
    touching = speed_ratio(summarize_times([1.0, 2.0]), summarize_times([2.0, 2.5]))
    assert touching["overlap"] is True
