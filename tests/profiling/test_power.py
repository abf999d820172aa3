"""NVML power sampling against a fake NVML with a known power trace."""

import math
import time

import numpy as np
import pytest

from genobench.profiling.power import (
    ENERGY_COUNTER,
    SAMPLES,
    PowerMonitor,
    PowerResult,
    efficiency,
    integrate_power,
    nvml_device_index,
)


class FakeNVMLError(Exception):
    pass


class FakeNVML:
    """The pynvml functions PowerMonitor uses; power P(t) = a + b·(t − t0) watts.

    The energy counter (mJ) is the exact integral of the same trace, when enabled.
    `clock` is handed to the monitor: a reading of power is the power at the time the
    monitor last read the clock, i.e. the time it records for that sample.
    """

    def __init__(self, a=200.0, b=400.0, counter=True, fail_init=False):
        self.a, self.b, self.counter, self.fail_init = a, b, counter, fail_init
        self.t0 = self.now = time.perf_counter()
        self.calls = 0
        self.shutdown = False

    def clock(self):
        self.now = time.perf_counter()
        return self.now

    def watts(self, t):
        return self.a + self.b * (t - self.t0)

    def energy_J(self, t):  # integral of watts from t0 to t
        s = t - self.t0
        return self.a * s + self.b * s * s / 2

    def nvmlInit(self):
        if self.fail_init:
            raise FakeNVMLError("NVML Shared Library Not Found")

    def nvmlShutdown(self):
        self.shutdown = True

    def nvmlDeviceGetHandleByIndex(self, index):
        return ("gpu", index)

    def nvmlDeviceGetPowerUsage(self, handle):
        self.calls += 1
        return self.watts(self.now) * 1000.0  # mW

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        if not self.counter:
            raise FakeNVMLError("Not Supported")
        return self.energy_J(time.perf_counter()) * 1000.0  # mJ


def test_integrate_power_matches_known_integrals():
    t = np.linspace(0, 2, 201)
    assert integrate_power(t, np.full_like(t, 150.0)) == pytest.approx(300.0)
    # linear trace: trapezoid is exact, also on a sub-interval between samples
    w = 100 + 50 * t
    assert integrate_power(t, w) == pytest.approx(100 * 2 + 25 * 4)
    assert integrate_power(t, w, 0.333, 1.777) == pytest.approx(
        100 * (1.777 - 0.333) + 25 * (1.777**2 - 0.333**2)
    )
    # a sine over whole periods has mean 300 W
    w = 300 + 100 * np.sin(2 * np.pi * t)
    assert integrate_power(t, w) == pytest.approx(600.0, rel=1e-4)
    with pytest.raises(ValueError, match="not within"):
        integrate_power(t, w, -1, 1)
    with pytest.raises(ValueError, match="at least two"):
        integrate_power([0.0], [1.0])


def test_sampler_energy_from_samples_is_the_known_integral():
    nvml = FakeNVML(counter=False)
    with PowerMonitor("cuda:0", interval_ms=5, nvml=nvml, clock=nvml.clock) as pm:
        time.sleep(0.3)
    r = pm.result()
    start, end = pm.times[0], pm.times[-1]
    known = nvml.energy_J(end) - nvml.energy_J(start)
    assert r.status == "measured" and r.reason is None
    assert r.energy_source == SAMPLES
    assert r.energy_J == pytest.approx(known, rel=1e-9)
    assert r.avg_power_W == pytest.approx(known / (end - start), rel=1e-9)
    assert r.duration_s == pytest.approx(end - start)
    # samples at the interval, plus one at the start and one at the end
    assert 0.3 / 0.005 * 0.3 < r.n_samples <= 0.3 / 0.005 + 3
    assert np.all(np.diff(pm.times) > 0)


def test_sampler_prefers_the_energy_counter():
    nvml = FakeNVML(a=50.0, b=1000.0, counter=True)
    with PowerMonitor("cuda", interval_ms=20, nvml=nvml, clock=nvml.clock) as pm:
        time.sleep(0.2)
    pm.close()  # NVML shut down: the region's figures stay
    assert nvml.shutdown
    r = pm.result()
    assert r.status == "measured" and r.energy_source == ENERGY_COUNTER
    # the counter is read just outside the first/last samples: equal to the trace integral
    known = nvml.energy_J(pm.times[-1]) - nvml.energy_J(pm.times[0])
    assert r.energy_J == pytest.approx(known, rel=0.02)
    assert r.sampled_energy_J == pytest.approx(known, rel=1e-9)


def test_no_gpu_or_no_nvml_gives_missing_fields_with_reason_never_zero():
    cpu = PowerMonitor("cpu", nvml=FakeNVML())
    with cpu:
        pass
    r = cpu.result()
    assert r.status == "unavailable" and "NVIDIA GPUs only" in r.reason
    assert math.isnan(r.avg_power_W) and math.isnan(r.energy_J)
    broken = PowerMonitor("cuda", nvml=FakeNVML(fail_init=True))
    with broken:
        pass
    r = broken.result()
    assert r.status == "unavailable" and "NVML Shared Library Not Found" in r.reason
    eff = efficiency(1000, 2.0, r)
    assert math.isnan(eff["tokens_per_joule"]) and math.isnan(eff["tokens_per_watt"])


def test_real_pynvml_without_gpu_reports_why():
    pm = PowerMonitor("cuda")  # this machine: no driver, or a GPU: either way no crash
    with pm:
        time.sleep(0.01)
    r = pm.result()
    assert r.status in ("measured", "unavailable")
    if r.status == "unavailable":
        assert r.reason


def test_efficiency_tokens_per_joule_and_per_watt():
    r = PowerResult(status="measured", avg_power_W=250.0, energy_J=500.0, duration_s=2.0)
    eff = efficiency(10_000, 2.0, r)
    assert eff["tokens_per_joule"] == pytest.approx(20.0)
    assert eff["tokens_per_watt"] == pytest.approx(10_000 / 2.0 / 250.0)


def test_nvml_index_follows_cuda_visible_devices(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert nvml_device_index("cuda") == 0
    assert nvml_device_index("cuda:1") == 1
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert nvml_device_index("cuda:1") == 5
    assert nvml_device_index("cuda") == 3


def test_bad_interval_is_refused():
    with pytest.raises(ValueError, match="interval_ms"):
        PowerMonitor("cuda", interval_ms=0, nvml=FakeNVML())
