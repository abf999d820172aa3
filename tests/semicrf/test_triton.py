"""Triton kernels against brute force and the reference, under TRITON_INTERPRET=1 on CPU.

The interpreter reads TRITON_INTERPRET when ``triton`` is first imported, so conftest.py sets
it before any test module loads; with a CUDA device the same tests run the compiled kernels on
CUDA tensors.
"""

from __future__ import annotations

import pytest
import torch

from genobench.semicrf import compare_backends, log_partition, triton_available
from genobench.semicrf.brute_force import brute_force

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
USABLE, REASON = triton_available(DEVICE)
pytestmark = pytest.mark.skipif(not USABLE, reason=f"triton backend unusable: {REASON}")


def problem(batch, max_len, num_classes, max_duration, seed, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    cum = torch.nn.functional.pad(
        torch.randn(batch, max_len, num_classes, generator=gen, dtype=dtype).cumsum(1), (0, 0, 1, 0)
    )
    trans = torch.randn(num_classes, num_classes, generator=gen, dtype=dtype)
    dur = torch.randn(max_duration, num_classes, generator=gen, dtype=dtype)
    lengths = torch.randint(1, max_len + 1, (batch,), generator=gen)
    lengths[0] = max_len
    return [t.to(DEVICE) for t in (cum, trans, dur, lengths)]


@pytest.mark.parametrize("max_duration,num_classes", [(1, 3), (2, 3), (3, 2), (9, 3)])
def test_triton_matches_brute_force(max_duration, num_classes):
    cum, trans, dur, lengths = problem(3, 7, num_classes, max_duration, seed=max_duration)
    oracle = brute_force(cum.cpu(), trans.cpu(), dur.cpu(), lengths.cpu())
    got = log_partition(cum, trans, dur, lengths, backend="triton", checkpoint_interval=3)
    torch.testing.assert_close(got.cpu(), oracle.log_z, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-9), (torch.float32, 2e-4)])
def test_triton_gradients_match_reference(dtype, tol):
    cum, trans, dur, lengths = problem(3, 40, 3, 6, seed=7, dtype=dtype)
    diffs = compare_backends(
        cum, trans, dur, lengths, ("reference", "triton"), checkpoint_interval=7
    )
    assert all(value < tol for key, value in diffs.items() if key.endswith("rel_diff")), diffs


def test_triton_many_classes_and_k_chunks():
    """C = 33 pads to a 64-wide block; K = 70 > 64 takes two K chunks."""
    cum, trans, dur, lengths = problem(2, 12, 33, 70, seed=9)
    diffs = compare_backends(
        cum, trans, dur, lengths, ("reference", "triton"), checkpoint_interval=5
    )
    assert all(value < 1e-9 for key, value in diffs.items() if key.endswith("rel_diff")), diffs
