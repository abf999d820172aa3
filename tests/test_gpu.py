"""The CUDA-only paths, each checked where a GPU exists (skipped without CUDA by conftest.py).

Each test would fail if its path silently did the CPU thing: Triton compiled kernels against
the PyTorch reference, timing that waits for queued kernels, CUDA peak memory, NVML power,
bitsandbytes modes on CUDA, and mamba-ssm's fused block against the pure-PyTorch stub.
"""

import functools
import math

import pytest
import torch

pytestmark = pytest.mark.gpu

CUDA = "cuda"


@functools.cache
def _max_cycles_per_s() -> float:
    """The SM's highest clock, from NVML. torch.cuda._sleep counts SM cycles, so a spin of
    `seconds` times this many lasts at least `seconds` at whatever clock the GPU runs (a
    calibration at the idle clock, 345 MHz on an H200, made spins 4x too short at 1980)."""
    pynvml = pytest.importorskip("pynvml")
    from genobench.profiling.power import nvml_device_index

    pynvml.nvmlInit()
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(nvml_device_index(CUDA))
        return pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_SM) * 1e6
    finally:
        pynvml.nvmlShutdown()


def _spin(seconds: float) -> None:
    """Queue a kernel that keeps the GPU busy for at least `seconds` (returns at once)."""
    torch.cuda._sleep(int(seconds * _max_cycles_per_s()))


def test_triton_kernels_match_the_reference_on_cuda():
    from genobench.benchmarks.gradient_check import CRITERIA, gradient_check

    row = gradient_check(1000, 32, 3, 2, seed=0, candidate="triton", device=CUDA)
    assert row["candidate"] == "triton" and row["dtype"] == "float32"
    for name in CRITERIA:
        assert row[f"{name}_pass"] == "PASS", (name, row[name])


def test_cuda_timing_waits_for_queued_kernels():
    from genobench.profiling.timing import time_call

    _spin(0.05)  # warm-up
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def work():
        start.record()
        _spin(0.3)
        end.record()

    seconds, _ = time_call(work, CUDA)
    gpu_seconds = start.elapsed_time(end) / 1000
    # launching returns in microseconds: only a synchronized timer sees the kernel's time
    assert gpu_seconds > 0.1
    assert seconds >= 0.95 * gpu_seconds


def test_cuda_peak_memory_counts_an_allocation_of_the_region():
    from genobench.profiling.memory import PeakMemory, release_memory

    release_memory(CUDA)
    mem = PeakMemory(CUDA).reset()
    assert mem.kind == "cuda_max_memory_allocated" and mem.on_gpu
    block = torch.empty(256 * 2**20, dtype=torch.uint8, device=CUDA)
    del block
    assert mem.peak() - mem.baseline_bytes >= 256 * 2**20
    mem.reset()
    assert mem.peak() - mem.baseline_bytes < 256 * 2**20


def test_nvml_measures_the_power_of_a_busy_gpu():
    from genobench.profiling.power import PowerMonitor

    monitor = PowerMonitor(CUDA, interval_ms=20)
    assert monitor.available, monitor.reason
    with monitor:
        _spin(0.5)
        torch.cuda.synchronize()
    monitor.close()
    power = monitor.result()
    assert power.status == "measured"
    assert power.n_samples >= 10  # 0.5 s at 20 ms, plus the start and end samples
    assert 10 < power.avg_power_W < 2000  # an idle H200 draws ~100 W, its limit is 700 W
    assert power.energy_J == pytest.approx(power.avg_power_W * power.duration_s)


def test_hardware_info_names_the_gpu_as_nvml_does():
    pynvml = pytest.importorskip("pynvml")
    from genobench.benchmarks.esm_speed.speed import hardware_info

    pynvml.nvmlInit()
    try:
        name = pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(0))
    finally:
        pynvml.nvmlShutdown()
    name = name.decode() if isinstance(name, bytes) else name
    info = hardware_info("cuda:0")
    assert info["device_name"] == name and info["cuda"] == torch.version.cuda


@pytest.mark.parametrize("mode", ["8bit", "4bit_nf4"])
def test_bitsandbytes_modes_run_on_cuda(mode):
    pytest.importorskip("bitsandbytes")
    from genobench.benchmarks import quantization as q
    from genobench.data.fragments import load_fragments, select_fragments
    from genobench.data.metagenome import metagenome_csv
    from genobench.models.loading import STANDARD, load_model
    from genobench.models.local import resolve_model

    path = resolve_model("local:genomic-lm-tiny")
    seqs = select_fragments(
        load_fragments(
            metagenome_csv(n_genomes=3, fragments_per_genome=8, min_length=300, max_length=600)
        ),
        3,
        4,
        seed=0,
    )["seq"].tolist()
    _, tok = load_model(path)
    batches = q.encode_batches(tok, seqs, 4, 96)
    ref = q.run_mode(path, STANDARD, batches, batches, device=CUDA, progress=False)
    r = q.run_mode(path, mode, batches, batches, device=CUDA, reference=ref, progress=False)
    assert r.status == "ok", r.reason  # a CUDA kernel that is missing would be "skipped"
    assert r.performance["peak_mem_kind"] == "cuda_max_memory_allocated"
    assert r.performance["footprint_GB"] < ref.performance["footprint_GB"]
    assert 0 < r.token_metrics["kl_mean"] < 0.05  # fp16 CUDA kernels: same order as on CPU
    assert not math.isnan(r.token_metrics["top1_agreement"])


def test_mamba_ssm_block_matches_the_stub():
    mamba_ssm = pytest.importorskip("mamba_ssm")
    from genobench.benchmarks.semicrf_synthetic.mamba_stub import MambaStub

    torch.manual_seed(0)
    fused = mamba_ssm.Mamba(d_model=32, d_state=16, d_conv=4, expand=2).to(CUDA)
    stub = MambaStub(d_model=32, d_state=16, d_conv=4, expand=2).to(CUDA)
    stub.load_state_dict(fused.state_dict())  # same parameter names and shapes
    x = torch.randn(2, 200, 32, device=CUDA)
    with torch.no_grad():
        torch.testing.assert_close(stub(x), fused(x), atol=1e-3, rtol=1e-3)
