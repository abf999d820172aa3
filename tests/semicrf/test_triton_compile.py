"""The Triton kernels compile for a CUDA GPU (sm_90) on a machine without one.

The interpreter tests run the kernels' arithmetic; only the compiler checks what the
interpreter lets through (on a GPU, a plain-float global read in a kernel fails to compile).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("triton")

SCRIPT = Path(__file__).with_name("triton_aot.py")


def test_kernels_compile_to_sm90_cubin_in_both_dtypes():
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    compiled = {tuple(line.split()[:2]) for line in proc.stdout.splitlines()}
    assert compiled == {
        (kernel, dtype)
        for kernel in ("_forward_kernel", "_backward_kernel")
        for dtype in ("fp32", "fp64")
    }
    assert all(int(line.split()[4]) > 0 for line in proc.stdout.splitlines())
