"""CUDA-only paths: compiled Triton kernels and bitsandbytes layers (timing, peak memory and
NVML on CUDA are checked in tests/test_gpu.py).

Every test here is marked `gpu`; conftest.py skips them where torch sees no CUDA device.
`scripts/gpu-check` runs them first on a GPU lease.
"""

from __future__ import annotations

import pytest
import torch

from genobench.benchmarks.gradient_check import CRITERIA, gradient_check, random_problem
from genobench.semicrf import compare_backends, log_partition
from genobench.semicrf.brute_force import brute_force

pytestmark = pytest.mark.gpu


def test_compiled_triton_matches_brute_force_and_reference():
    p = random_problem(3, 7, 3, 3, seed=4, device="cuda", dtype=torch.float64)
    oracle = brute_force(
        p.cum_scores.cpu(), p.transition.cpu(), p.duration_bias.cpu(), p.lengths.cpu()
    )
    got = log_partition(
        p.cum_scores,
        p.transition,
        p.duration_bias,
        p.lengths,
        backend="triton",
        checkpoint_interval=3,
    )
    assert got.is_cuda
    torch.testing.assert_close(got.cpu(), oracle.log_z, rtol=1e-10, atol=1e-10)
    big = random_problem(2, 3000, 200, 4, seed=5, device="cuda", dtype=torch.float64)
    diffs = compare_backends(big.cum_scores, big.transition, big.duration_bias, big.lengths)
    assert all(v < 1e-8 for k, v in diffs.items() if k.endswith("rel_diff")), diffs


def test_compiled_triton_float32_meets_the_gradient_check_criteria():
    row = gradient_check(5000, 100, 3, 2, seed=0, candidate="triton", device="cuda")
    assert all(row[f"{c}_pass"] == "PASS" for c in CRITERIA), row
    assert row["candidate_peak_mem_mb"] > 0


def test_bitsandbytes_int8_and_nf4_linear_on_cuda():
    bnb = pytest.importorskip("bitsandbytes")
    torch.manual_seed(0)
    dense = torch.nn.Linear(256, 128).half().cuda()
    x = torch.randn(8, 256, dtype=torch.float16, device="cuda")
    want = dense(x).float()
    int8 = bnb.nn.Linear8bitLt(256, 128, has_fp16_weights=False, threshold=6.0)
    int8.load_state_dict(dense.state_dict())
    int8 = int8.cuda()
    nf4 = bnb.nn.Linear4bit(256, 128, compute_dtype=torch.float16, quant_type="nf4")
    nf4.load_state_dict(dense.state_dict())
    nf4 = nf4.cuda()
    for layer, limit in ((int8, 0.05), (nf4, 0.2)):
        got = layer(x).float()
        rel = (got - want).norm() / want.norm()
        assert rel < limit, (type(layer).__name__, rel.item())
