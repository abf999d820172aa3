"""Peak memory of a measured region and a model's footprint.

On a GPU the peak is `torch.cuda.max_memory_allocated` (reset per region). On CPU it
is the process's peak resident set size (`VmHWM` in /proc/self/status), reset by
writing 5 to /proc/self/clear_refs (Linux); the region's figure is that peak minus
the resident size when the region began, i.e. what the region added. Where the
peak cannot be reset (not Linux, or clear_refs not writable) the process lifetime
peak (`ru_maxrss`) is reported and `resettable` is False.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import resource
import sys
from dataclasses import dataclass
from pathlib import Path

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")
GB = 1024**3


def _status_kb(field: str) -> int | None:
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_bytes() -> int | None:
    """Current resident set size of this process (None where unknown)."""
    kb = _status_kb("VmRSS")
    return None if kb is None else kb * 1024


def peak_rss_bytes() -> int:
    """Peak resident set size since the last reset (VmHWM), else the lifetime peak."""
    kb = _status_kb("VmHWM")
    if kb is not None:
        return kb * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, kB on Linux


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS; False where the kernel does not allow it."""
    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def release_memory(device: str = "cpu") -> None:
    """Free what can be freed: garbage, the CUDA caching allocator, glibc's free lists."""
    gc.collect()
    try:
        import torch

        if str(device).startswith("cuda") and torch.cuda.is_available():
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
    except ImportError:
        pass
    libc_name = ctypes.util.find_library("c")
    if sys.platform.startswith("linux") and libc_name:
        try:
            ctypes.CDLL(libc_name).malloc_trim(0)  # return freed heap pages to the OS
        except (OSError, AttributeError):
            pass


def _quant_tensors(param):
    """Tensors a bitsandbytes parameter keeps beside its data (scales, codebooks)."""
    state = getattr(param, "quant_state", None)  # Params4bit
    while state is not None:
        for name in ("absmax", "code", "offset"):
            t = getattr(state, name, None)
            if t is not None:
                yield t
        state = getattr(state, "state2", None)  # double quantization: the absmax's own state
    for name in ("CB", "SCB"):  # Int8Params
        t = getattr(param, name, None)
        if t is not None:
            yield t


def model_footprint_bytes(model) -> int:
    """Bytes held by a model's weights: parameters, buffers and quantization state.

    Unlike `get_memory_footprint`, this counts what bitsandbytes keeps outside
    parameters and buffers (4-bit absmax and codebooks, the double-quantized absmax's
    own constants, 8-bit row scales), so 4-bit NF4 with and without double
    quantization differ as they should. Shared storage is counted once.
    """
    seen: set[tuple[str, int]] = set()
    total = 0

    def add(t) -> None:
        nonlocal total
        if t is None or t.numel() == 0:
            return
        key = (str(t.device), t.untyped_storage().data_ptr())
        if key in seen:
            return
        seen.add(key)
        total += t.untyped_storage().nbytes()

    for p in model.parameters():
        add(p)
        for t in _quant_tensors(p):
            add(t)
    for b in model.buffers():
        add(b)
    return total


@dataclass
class PeakMemory:
    """Peak memory of a region on `device`: call reset() at its start, read peak() at its end."""

    device: str = "cpu"
    baseline_bytes: int | None = None
    resettable: bool = True

    @property
    def on_gpu(self) -> bool:
        return str(self.device).startswith("cuda")

    @property
    def kind(self) -> str:
        if self.on_gpu:
            return "cuda_max_memory_allocated"
        return "process_peak_rss_increase" if self.resettable else "process_lifetime_peak_rss"

    def reset(self) -> PeakMemory:
        if self.on_gpu:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.baseline_bytes = int(torch.cuda.memory_allocated())
        else:
            self.resettable = reset_peak_rss()
            self.baseline_bytes = rss_bytes() if self.resettable else 0
        return self

    def peak(self) -> int:
        """GPU: peak allocated bytes. CPU: peak RSS minus the RSS at reset() (see module doc)."""
        if self.on_gpu:
            import torch

            torch.cuda.synchronize()
            return int(torch.cuda.max_memory_allocated())
        return peak_rss_bytes() - (self.baseline_bytes or 0)

    def absolute_peak(self) -> int:
        """GPU: same as peak(). CPU: the process's peak RSS in bytes."""
        return self.peak() if self.on_gpu else peak_rss_bytes()
