"""Wall-clock timing with device synchronization: warm-up, repeats, robust summaries."""

from __future__ import annotations

import time
from typing import Any, Callable

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


def time_repeats(fn: Callable[[], Any], warmup: int = 1, repeats: int = 5,
                 device: str = "cpu") -> list[float]:
    """Seconds of each of `repeats` timed calls of `fn`, after `warmup` untimed calls."""
    if warmup < 0 or repeats < 1:
        raise ValueError(f"need warmup >= 0 and repeats >= 1, got {warmup}, {repeats}")
    for _ in range(warmup):
        fn()
    return [time_call(fn, device)[0] for _ in range(repeats)]


def summarize_times(times: list[float]) -> dict[str, float]:
    """Median, p90, mean, min and max of a list of durations (seconds)."""
    t = np.asarray(times, dtype=float)
    if t.size == 0:
        raise ValueError("no timings to summarize")
    return {"median_s": float(np.median(t)), "p90_s": float(np.percentile(t, 90)),
            "mean_s": float(t.mean()), "min_s": float(t.min()), "max_s": float(t.max())}
