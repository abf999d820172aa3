"""GPU power and energy during a measured region, from NVML (nvidia-ml-py / pynvml).

`PowerMonitor` samples the board power (`nvmlDeviceGetPowerUsage`, mW) in a thread
at a fixed interval while the region runs, and reads the GPU's total-energy counter
(`nvmlDeviceGetTotalEnergyConsumption`, mJ, Volta and newer) at the region's start
and end. Energy comes from the counter when the device has one, else from the
trapezoid integral of the samples. Without NVML or a GPU every figure is missing
(NaN) and `reason` says why; nothing is ever reported as 0 W.

Note: on recent NVIDIA boards `nvmlDeviceGetPowerUsage` is itself an average over
a short window (about 1 s on A100/H100), so short regions are better served by the
energy counter, which is why it is preferred.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

ENERGY_COUNTER = "energy_counter"
SAMPLES = "samples"


@dataclass
class PowerResult:
    """Power and energy of one measured region (NaN fields when unavailable)."""

    status: str  # "measured" or "unavailable"
    reason: str | None = None
    avg_power_W: float = math.nan
    energy_J: float = math.nan
    energy_source: str | None = None  # "energy_counter" or "samples"
    duration_s: float = math.nan
    n_samples: int = 0
    interval_ms: float = math.nan
    sampled_energy_J: float = math.nan  # integral of the samples, for comparison


def integrate_power(times_s, watts, start: float | None = None, end: float | None = None) -> float:
    """Energy (J) of a sampled power trace: trapezoid integral of the piecewise-linear trace.

    With `start`/`end`, integrates over [start, end] only, interpolating the trace at the
    bounds (which must lie within the sampled span).
    """
    t = np.asarray(times_s, dtype=float)
    w = np.asarray(watts, dtype=float)
    if t.shape != w.shape or t.ndim != 1:
        raise ValueError("times and watts must be 1-d arrays of the same length")
    if len(t) < 2:
        raise ValueError("need at least two power samples to integrate")
    if np.any(np.diff(t) < 0):
        raise ValueError("sample times must be non-decreasing")
    start = t[0] if start is None else float(start)
    end = t[-1] if end is None else float(end)
    if not t[0] <= start <= end <= t[-1]:
        raise ValueError(f"[{start}, {end}] is not within the sampled span [{t[0]}, {t[-1]}]")
    inner = (t > start) & (t < end)
    tt = np.concatenate([[start], t[inner], [end]])
    ww = np.concatenate([[np.interp(start, t, w)], w[inner], [np.interp(end, t, w)]])
    return float(np.sum(np.diff(tt) * (ww[1:] + ww[:-1]) / 2))


def nvml_device_index(device: str) -> int:
    """NVML index of a torch CUDA device ("cuda", "cuda:1"), through CUDA_VISIBLE_DEVICES."""
    index = int(str(device).split(":", 1)[1]) if ":" in str(device) else 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    if visible:
        entries = [v.strip() for v in visible.split(",") if v.strip()]
        if index < len(entries) and entries[index].isdigit():
            return int(entries[index])
    return index


def _import_nvml():
    import pynvml  # provided by nvidia-ml-py

    return pynvml


class PowerMonitor:
    """Context manager sampling GPU power every `interval_ms` while the block runs.

    >>> with PowerMonitor("cuda", interval_ms=50) as pm:
    ...     run_workload()
    >>> pm.result().energy_J

    `nvml` replaces the pynvml module (tests pass a fake with the same functions);
    `clock` is the time source (seconds).
    """

    def __init__(
        self,
        device: str = "cuda",
        interval_ms: float = 100.0,
        nvml=None,
        clock: Callable[[], float] = time.perf_counter,
    ):
        if interval_ms <= 0:
            raise ValueError(f"interval_ms must be > 0, got {interval_ms}")
        self.device = str(device)
        self.interval_ms = float(interval_ms)
        self.clock = clock
        self._nvml = nvml
        self._handle = None
        self.reason: str | None = None
        self.times: list[float] = []
        self.watts: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._counter: tuple[float | None, float | None] = (None, None)
        self._span: tuple[float, float] | None = None
        self._error: str | None = None
        self._init()

    # -- setup ---------------------------------------------------------------------------
    def _init(self) -> None:
        if not self.device.startswith("cuda"):
            self.reason = f"device is {self.device}: NVML measures NVIDIA GPUs only"
            return
        try:
            nvml = self._nvml if self._nvml is not None else _import_nvml()
            nvml.nvmlInit()
        except Exception as exc:  # ImportError, NVMLError_LibraryNotFound, ...
            self.reason = f"NVML unavailable: {type(exc).__name__}: {exc}"
            return
        self._nvml = nvml
        try:
            self._handle = nvml.nvmlDeviceGetHandleByIndex(nvml_device_index(self.device))
            nvml.nvmlDeviceGetPowerUsage(self._handle)
        except Exception as exc:
            self.reason = f"NVML cannot read power of {self.device}: {type(exc).__name__}: {exc}"
            self._handle = None

    @property
    def available(self) -> bool:
        return self._handle is not None

    # -- sampling ------------------------------------------------------------------------
    def _sample(self) -> None:
        t = self.clock()
        w = self._nvml.nvmlDeviceGetPowerUsage(self._handle) / 1000.0
        self.times.append(t)
        self.watts.append(float(w))

    def _energy_counter_J(self) -> float | None:
        try:
            return self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle) / 1000.0
        except Exception:  # NVMLError_NotSupported on pre-Volta boards
            return None

    def _run(self) -> None:
        interval = self.interval_ms / 1000.0
        next_tick = self.clock() + interval
        while not self._stop.wait(max(0.0, next_tick - self.clock())):
            try:
                self._sample()
            except Exception as exc:
                self._error = f"{type(exc).__name__}: {exc}"
                return
            next_tick += interval

    def start(self) -> PowerMonitor:
        self.times, self.watts = [], []
        self._span = None
        if not self.available:
            return self
        self._stop.clear()
        start_counter = self._energy_counter_J()
        self._sample()  # a sample at the start: the trace covers the whole region
        self._counter = (start_counter, None)
        self._thread = threading.Thread(target=self._run, name="nvml-power", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> PowerMonitor:
        if not self.available or self._thread is None:
            return self
        self._stop.set()
        self._thread.join()
        self._thread = None
        self._sample()  # and one at the end
        self._counter = (self._counter[0], self._energy_counter_J())
        self._span = (self.times[0], self.times[-1])
        return self

    def __enter__(self) -> PowerMonitor:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def close(self) -> None:
        """Shut NVML down (the monitor cannot be used afterwards)."""
        if self._nvml is not None and self._handle is not None:
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                pass
            self._handle = None

    # -- results -------------------------------------------------------------------------
    def result(self) -> PowerResult:
        """Average power and energy of the last start()..stop() region (also after close())."""
        if self._span is None:
            return PowerResult(
                status="unavailable", reason=self.reason or "the monitor was not run"
            )
        if self._error:
            return PowerResult(status="unavailable", reason=f"sampling failed: {self._error}")
        start, end = self._span
        duration = end - start
        sampled = integrate_power(self.times, self.watts) if duration > 0 else math.nan
        c0, c1 = self._counter
        if c0 is not None and c1 is not None and c1 >= c0:
            energy, source = c1 - c0, ENERGY_COUNTER
        else:
            energy, source = sampled, SAMPLES
        avg = energy / duration if duration > 0 else math.nan
        return PowerResult(
            status="measured",
            avg_power_W=avg,
            energy_J=energy,
            energy_source=source,
            duration_s=duration,
            n_samples=len(self.times),
            interval_ms=self.interval_ms,
            sampled_energy_J=sampled,
        )


def efficiency(tokens: int, seconds: float, power: PowerResult) -> dict[str, float]:
    """Tokens per joule and tokens per watt ((tokens/s) / W, as the seed names it); NaN
    without a power measurement, never 0."""
    if power.status != "measured" or not power.energy_J > 0 or not seconds > 0:
        return {"tokens_per_joule": math.nan, "tokens_per_watt": math.nan}
    return {
        "tokens_per_joule": tokens / power.energy_J,
        "tokens_per_watt": (tokens / seconds) / power.avg_power_W,
    }
