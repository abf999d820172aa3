"""Compile the semi-CRF Triton kernels for a CUDA target ahead of time, with no GPU.

    python tests/semicrf/triton_aot.py    # prints one line per kernel and dtype

Triton's CPU interpreter accepts code that its compiler refuses (a plain-float global read
inside a kernel, say), so the interpreter tests alone cannot prove the kernels compile.
`triton.compile` with an explicit target runs the whole pipeline down to cubin with the
ptxas that ships in the triton wheel; it needs TRITON_INTERPRET unset.
"""

from __future__ import annotations

import sys
from pathlib import Path

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from genobench.semicrf import triton_backend  # noqa: E402

HOPPER = GPUTarget("cuda", 90, 32)
# pointers that are not of the compute dtype, by argument name
FIXED_POINTERS = {"len_ptr": "*i32", "ck_norm_ptr": "*fp64", "log_z_ptr": "*fp64"}


def signature(kernel, dtype: str) -> dict[str, str]:
    """Triton signature of `kernel`: pointers by name, other runtime arguments int32."""
    sig = {}
    for param in kernel.params:
        if param.is_constexpr:
            sig[param.name] = "constexpr"
        elif param.name.endswith("_ptr"):
            sig[param.name] = FIXED_POINTERS.get(param.name, f"*{dtype}")
        else:
            sig[param.name] = "i32"
    return sig


def compile_kernel(kernel, dtype: str, sizes: dict[str, int], target=HOPPER):
    """Compile one kernel for `target` with the compile-time `sizes`."""
    sig = signature(kernel, dtype)
    names = list(sig)
    constexprs = {(names.index(k),): v for k, v in sizes.items()}
    return triton.compile(ASTSource(fn=kernel, signature=sig, constexprs=constexprs), target=target)


def main() -> None:
    sizes = triton_backend._sizes(max_len=1000, interval=100, num_dur=100, num_classes=3)
    for dtype in ("fp32", "fp64"):
        for kernel in (triton_backend._forward_kernel, triton_backend._backward_kernel):
            compiled = compile_kernel(kernel, dtype, sizes)
            print(f"{kernel.__name__} {dtype} sm_90 cubin {len(compiled.asm['cubin'])} bytes")


if __name__ == "__main__":
    main()
