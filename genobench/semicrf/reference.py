"""Reference backend: streaming forward with checkpoints and a hand-written backward.

The kernels (``_kernels_cpu``) are compiled with numba and run in float64 on the CPU
whatever the input dtype; tensors on another device make a round trip through host
memory. Results come back in the input dtype and device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from genobench.semicrf import _kernels_cpu


def default_interval(max_len: int, max_duration: int) -> int:
    """Checkpoint spacing ~ sqrt(T K), so checkpoints + one recomputed interval cost O(sqrt(T K) C)."""
    return max(1, min(max_len, math.isqrt(max_len * max_duration)))


def _host(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().to("cpu", torch.float64).numpy())


@dataclass
class ForwardState:
    """Everything the backward needs: host copies of the inputs and the checkpoints."""

    cum: np.ndarray
    trans: np.ndarray
    dur: np.ndarray
    lengths: np.ndarray
    interval: int
    ck_ring: np.ndarray
    ck_alpha: np.ndarray
    ck_norm: np.ndarray
    log_z: np.ndarray


def forward(cum_scores: torch.Tensor, transition: torch.Tensor, duration_bias: torch.Tensor,
            lengths: torch.Tensor, interval: int) -> ForwardState:
    """Run the streaming forward; the returned state holds log Z (float64, host)."""
    cum, trans, dur = _host(cum_scores), _host(transition), _host(duration_bias)
    lens = np.ascontiguousarray(lengths.detach().cpu().numpy().astype(np.int64))
    batch, t_plus_1, num_classes = cum.shape
    n_ck = (t_plus_1 - 1) // interval + 1
    ck_ring = np.full((batch, n_ck, dur.shape[0], num_classes), -np.inf)
    ck_alpha = np.full((batch, n_ck, num_classes), -np.inf)
    ck_norm = np.zeros((batch, n_ck))
    log_z = np.empty(batch)
    _kernels_cpu.forward_kernel(cum, trans, dur, lens, interval, ck_ring, ck_alpha, ck_norm, log_z)
    return ForwardState(cum, trans, dur, lens, interval, ck_ring, ck_alpha, ck_norm, log_z)


def backward(state: ForwardState) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-sequence gradients of log Z: (B, T+1, C), (B, C, C), (B, K, C), and P(boundary at t) (B, T+1)."""
    batch, t_plus_1, num_classes = state.cum.shape
    g_cum = np.zeros_like(state.cum)
    g_trans = np.zeros((batch, num_classes, num_classes))
    g_dur = np.zeros((batch,) + state.dur.shape)
    p_end = np.zeros((batch, t_plus_1))
    _kernels_cpu.backward_kernel(state.cum, state.trans, state.dur, state.lengths, state.interval,
                                 state.ck_ring, state.ck_alpha, state.ck_norm, state.log_z,
                                 g_cum, g_trans, g_dur, p_end)
    return g_cum, g_trans, g_dur, p_end


class ReferenceLogPartition(torch.autograd.Function):
    """log Z (B,) with the checkpointed recompute backward."""

    @staticmethod
    def forward(ctx, cum_scores, transition, duration_bias, lengths, interval):  # type: ignore[override]
        state = forward(cum_scores, transition, duration_bias, lengths, interval)
        ctx.state = state
        ctx.like = cum_scores
        return torch.from_numpy(state.log_z).to(cum_scores.device, cum_scores.dtype)

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        g_cum, g_trans, g_dur, _ = backward(ctx.state)
        like = ctx.like
        weight = grad_out.detach().to("cpu", torch.float64)

        def out(array: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(array).to(like.device, like.dtype)

        grad_cum = out(g_cum * weight.numpy()[:, None, None])
        grad_trans = out(np.einsum("b,bij->ij", weight.numpy(), g_trans))
        grad_dur = out(np.einsum("b,bij->ij", weight.numpy(), g_dur))
        return grad_cum, grad_trans, grad_dur, None, None


def viterbi(cum_scores: torch.Tensor, transition: torch.Tensor, duration_bias: torch.Tensor,
            lengths: torch.Tensor) -> tuple[torch.Tensor, list[list[tuple[int, int, int]]]]:
    """Best score (B,) and best segmentation per sequence."""
    cum, trans, dur = _host(cum_scores), _host(transition), _host(duration_bias)
    lens = np.ascontiguousarray(lengths.detach().cpu().numpy().astype(np.int64))
    batch, t_plus_1, _ = cum.shape
    best = np.empty(batch)
    segs = np.zeros((batch, t_plus_1 - 1, 3), dtype=np.int64)
    n_segs = np.zeros(batch, dtype=np.int64)
    _kernels_cpu.viterbi_kernel(cum, trans, dur, lens, best, segs, n_segs)
    paths = [[tuple(int(v) for v in row) for row in segs[b, : n_segs[b]]] for b in range(batch)]
    return torch.from_numpy(best).to(cum_scores.device, cum_scores.dtype), paths
