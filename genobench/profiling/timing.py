"""Wall-clock timing with device synchronization: warm-up, repeats, robust summaries."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np


def synchronize(device: str | Any = "cpu") -> None:
    """Wait for queued GPU work on `device` (no-op on CPU)."""
    import torch

    if str(device).startswith("cuda") and torch.cuda.is_available():
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], Any], device: str = "cpu") -> tuple[float, Any]:
    """Seconds taken by one call of `fn`, synchronized before and after, and its result."""
    synchronize(device)
    start = time.perf_counter()
    result = fn()
    synchronize(device)
    return time.perf_counter() - start, result


def time_repeats(
    fn: Callable[[], Any], warmup: int = 1, repeats: int = 5, device: str = "cpu"
) -> list[float]:
    """Seconds of each of `repeats` timed calls of `fn`, after `warmup` untimed calls."""
    if warmup < 0 or repeats < 1:
        raise ValueError(f"need warmup >= 0 and repeats >= 1, got {warmup}, {repeats}")
    for _ in range(warmup):
        fn()
    return [time_call(fn, device)[0] for _ in range(repeats)]


def summarize_times(times: list[float]) -> dict[str, float]:
    """Median, p90, mean, min, max and number of a list of durations (seconds)."""
    t = np.asarray(times, dtype=float)
    if t.size == 0:
        raise ValueError("no timings to summarize")
    return {
        "median_s": float(np.median(t)),
        "p90_s": float(np.percentile(t, 90)),
        "mean_s": float(t.mean()),
        "min_s": float(t.min()),
        "max_s": float(t.max()),
        "n": int(t.size),
    }


def ranges_overlap(low_a: float, high_a: float, low_b: float, high_b: float) -> bool:
    """Whether the repeat ranges [low_a, high_a] and [low_b, high_b] share a point."""
    return low_a <= high_b and low_b <= high_a


def speed_ratio(baseline: dict[str, float], candidate: dict[str, float]) -> dict[str, float | bool]:
    """Speedup of `candidate` over `baseline` (two `summarize_times` results or dicts with
    min_s, median_s, max_s): median ratio, its range over the repeats (slowest candidate
    against fastest baseline, and the reverse), and whether the repeat ranges overlap, in
    which case the two cannot be told apart from these repeats."""
    return {
        "speedup": baseline["median_s"] / candidate["median_s"],
        "speedup_min": baseline["min_s"] / candidate["max_s"],
        "speedup_max": baseline["max_s"] / candidate["min_s"],
        "overlap": ranges_overlap(
            baseline["min_s"], baseline["max_s"], candidate["min_s"], candidate["max_s"]
        ),
    }
