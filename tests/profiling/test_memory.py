"""Peak memory (process RSS on CPU) and model footprints, quantization state included."""

import sys

import numpy as np
import pytest
import torch

from genobench.profiling.memory import (
    PeakMemory,
    model_footprint_bytes,
    peak_rss_bytes,
    release_memory,
    reset_peak_rss,
    rss_bytes,
)

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


@linux
def test_peak_rss_rises_with_an_allocation_and_resets():
    release_memory()
    if not reset_peak_rss():
        pytest.skip("/proc/self/clear_refs is not writable here")
    mem = PeakMemory("cpu").reset()
    block = np.ones(200 * 1024 * 1024 // 8)  # 200 MiB, touched
    assert mem.peak() >= 190 * 1024 * 1024
    del block
    release_memory()
    assert rss_bytes() < peak_rss_bytes()
    mem.reset()
    assert mem.peak() < 50 * 1024 * 1024
    assert mem.kind == "process_peak_rss_increase"
    assert mem.absolute_peak() == peak_rss_bytes()


def test_footprint_of_a_plain_module_counts_parameters_and_buffers():
    m = torch.nn.Sequential(torch.nn.Linear(100, 50), torch.nn.BatchNorm1d(50))
    n_params = sum(p.numel() for p in m.parameters())
    n_buffers = sum(b.numel() for b in m.buffers() if b.dtype == torch.float32)
    expected = 4 * (n_params + n_buffers) + 8  # + num_batches_tracked (int64)
    assert model_footprint_bytes(m) == expected


def test_shared_weights_are_counted_once():
    a = torch.nn.Linear(64, 64, bias=False)
    b = torch.nn.Linear(64, 64, bias=False)
    b.weight = a.weight
    assert model_footprint_bytes(torch.nn.ModuleList([a, b])) == 64 * 64 * 4
