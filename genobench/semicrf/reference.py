"""Reference backend: a float64 forward that keeps its messages and a hand-written backward.

The kernels (``_kernels_cpu``) are compiled with numba and run in float64 on the CPU
whatever the input dtype; tensors on another device make a round trip through host
memory. Results come back in the input dtype and device. The forward stores w and alpha
for every position (two arrays the size of cum_scores), so the backward recomputes
nothing; ``checkpoint_interval`` only shapes the Triton backend's memory.
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


def _class_major(cum_scores: torch.Tensor) -> np.ndarray:
    """(B, T+1, C) -> contiguous float64 (B, C, T+1)."""
    return np.ascontiguousarray(_host(cum_scores).transpose(0, 2, 1))


def _lengths(lengths: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(lengths.detach().cpu().numpy().astype(np.int64))


@dataclass
class ForwardState:
    """Everything the backward needs: class-major host copies of the inputs and messages."""

    cum: np.ndarray  # (B, C, T+1)
    trans: np.ndarray  # (C, C)
    dur: np.ndarray  # (C, K), row c = durations 1..K
    lengths: np.ndarray
    w: np.ndarray  # (B, C, T+1)
    alpha: np.ndarray  # (B, C, T+1)
    log_z: np.ndarray  # (B,)


def forward(cum_scores: torch.Tensor, transition: torch.Tensor, duration_bias: torch.Tensor,
            lengths: torch.Tensor) -> ForwardState:
    """Run the forward; the returned state holds log Z (float64, host)."""
    cum, trans = _class_major(cum_scores), _host(transition)
    dur = np.ascontiguousarray(_host(duration_bias).T)
    lens = _lengths(lengths)
    w = np.full(cum.shape, -np.inf)
    alpha = np.full(cum.shape, -np.inf)
    log_z = np.empty(cum.shape[0])
    _kernels_cpu.forward_kernel(cum, trans, np.ascontiguousarray(dur[:, ::-1]), lens, w, alpha, log_z)
    return ForwardState(cum, trans, dur, lens, w, alpha, log_z)


def backward(state: ForwardState) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-sequence gradients of log Z: (B, T+1, C), (B, C, C), (B, K, C), and P(boundary at t) (B, T+1)."""
    batch, num_classes, t_plus_1 = state.cum.shape
    g_cum = np.zeros_like(state.cum)
    g_trans = np.zeros((batch, num_classes, num_classes))
    g_dur = np.zeros((batch,) + state.dur.shape)
    p_end = np.zeros((batch, t_plus_1))
    _kernels_cpu.backward_kernel(state.cum, state.trans, state.dur, state.lengths, state.w,
                                 state.alpha, state.log_z, g_cum, g_trans, g_dur, p_end)
    return g_cum.transpose(0, 2, 1), g_trans, g_dur.transpose(0, 2, 1), p_end


class ReferenceLogPartition(torch.autograd.Function):
    """log Z (B,) with the checkpointed recompute backward."""

    @staticmethod
    def forward(ctx, cum_scores, transition, duration_bias, lengths):  # type: ignore[override]
        state = forward(cum_scores, transition, duration_bias, lengths)
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
        return grad_cum, grad_trans, grad_dur, None


def viterbi(cum_scores: torch.Tensor, transition: torch.Tensor, duration_bias: torch.Tensor,
            lengths: torch.Tensor) -> tuple[torch.Tensor, list[list[tuple[int, int, int]]]]:
    """Best score (B,) and best segmentation per sequence."""
    cum, trans = _class_major(cum_scores), _host(transition)
    dur_rev = np.ascontiguousarray(_host(duration_bias).T[:, ::-1])
    batch, _, t_plus_1 = cum.shape
    best = np.empty(batch)
    segs = np.zeros((batch, t_plus_1 - 1, 3), dtype=np.int64)
    n_segs = np.zeros(batch, dtype=np.int64)
    _kernels_cpu.viterbi_kernel(cum, trans, dur_rev, _lengths(lengths), best, segs, n_segs)
    paths = [[tuple(int(v) for v in row) for row in segs[b, : n_segs[b]]] for b in range(batch)]
    return torch.from_numpy(best).to(cum_scores.device, cum_scores.dtype), paths
