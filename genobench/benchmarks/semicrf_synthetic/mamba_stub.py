"""A pure-PyTorch Mamba block (selective state-space model) that runs on the CPU.

`MambaStub` has the constructor and forward of `mamba_ssm.Mamba` (d_model, d_state,
d_conv, expand; (B, L, d_model) -> (B, L, d_model)) and the same computation: input
projection to x and a gate z, a causal depthwise convolution and SiLU on x, data-dependent
step sizes dt = softplus(dt_proj(.)) and input/output matrices B_t, C_t, then the selective
scan

    h_t = exp(dt_t * A) * h_{t-1} + dt_t * B_t * x_t,     y_t = C_t . h_t + D * x_t

per channel (A = -exp(A_log), (d_inner, d_state)), gated by SiLU(z) and projected back.
mamba-ssm runs the scan as a fused CUDA kernel; here `selective_scan` evaluates it in
chunks: inside a chunk, with L_t = sum_{r<=t} dt_r A (a running log-decay),

    h_t = exp(L_t) h_in + sum_{s<=t} exp(L_t - L_s) dt_s B_s x_s,

computed for all chunks at once as exp(L_t) * cumsum(exp(-L_s) drive_s) in float64, with
each step's log-decay capped at 40 (a factor < 4e-18) so that no exp overflows in a chunk
of 16; a short loop over chunks carries the state across. The cost is O(T d_inner d_state)
in parallel tensor ops instead of T sequential steps.
`selective_scan_naive` is the plain sequential loop (the test oracle).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def selective_scan_naive(u, delta, A, B, C, D=None):
    """Sequential reference scan. u, delta (b, l, d); A (d, n); B, C (b, l, n); D (d,)."""
    batch, length, d_inner = u.shape
    h = u.new_zeros(batch, d_inner, A.shape[1])
    ys = []
    for t in range(length):
        decay = torch.exp(delta[:, t, :, None] * A)
        h = decay * h + (delta[:, t] * u[:, t])[..., None] * B[:, t, None, :]
        ys.append((h * C[:, t, None, :]).sum(-1))
    y = torch.stack(ys, dim=1)
    return y if D is None else y + u * D


MAX_STEP_DECAY = 40.0  # |dt * A| per step is capped here: exp(-40) ~ 4e-18 is already zero


def selective_scan(u, delta, A, B, C, D=None, chunk_size: int = 16):
    """Chunked selective scan, same result as `selective_scan_naive`.

    The sequence is cut into chunks of `chunk_size`; inside each chunk (all chunks at once)
    h_t = exp(L_t) * cumsum_s(exp(-L_s) * drive_s) with L the running log-decay from the
    chunk's start, in float64. Capping each step's log-decay at MAX_STEP_DECAY (a decay
    factor below 4e-18, i.e. a state already forgotten) bounds |L| by chunk_size * 40 < 709,
    so exp never overflows in float64 for chunk_size <= 16. A short loop over the chunks
    then carries each chunk's final state into the next. Work is O(T d_inner d_state).
    """
    if chunk_size * MAX_STEP_DECAY >= 700:
        raise ValueError(f"chunk_size must be <= {int(700 // MAX_STEP_DECAY)}, got {chunk_size}")
    batch, length, d_inner = u.shape
    d_state = A.shape[1]
    n_chunks = -(-length // chunk_size)
    pad = n_chunks * chunk_size - length
    wide = torch.float64

    def chunked(x):  # (b, l, ...) -> (b, n_chunks, chunk, ...), zero-padded at the end
        x = F.pad(x.to(wide), (0, 0) * (x.dim() - 2) + (0, pad))
        return x.view(batch, n_chunks, chunk_size, *x.shape[2:])

    step = (chunked(delta)[..., None] * A.to(wide)).clamp(min=-MAX_STEP_DECAY)  # (b, k, c, d, n)
    log_decay = torch.cumsum(step, dim=2)
    drive = chunked(delta * u)[..., None] * chunked(B)[:, :, :, None, :]
    decay = torch.exp(log_decay)
    local = decay * torch.cumsum(torch.exp(-log_decay) * drive, dim=2)
    h = local.new_zeros(batch, d_inner, d_state)
    carried = []
    # unbind the (small) chunk-end slices once: indexing the big tensors inside the loop
    # would make every backward step allocate a gradient of their full size
    for decay_end, local_end in zip(decay[:, :, -1].unbind(1), local[:, :, -1].unbind(1)):
        carried.append(h)
        h = decay_end * h + local_end
    states = local + decay * torch.stack(carried, dim=1)[:, :, None]
    y = (states * chunked(C)[:, :, :, None, :]).sum(-1).reshape(batch, -1, d_inner)[:, :length]
    y = y.to(u.dtype)
    return y if D is None else y + u * D


def causal_depthwise_conv(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    """Causal depthwise conv along time of x (B, L, D) with a Conv1d weight (D, 1, W).

    Same as nn.Conv1d(D, D, W, groups=D, padding=W-1) cut to the first L outputs, written
    as W shifted multiply-adds: the CPU backward of a grouped Conv1d is very slow.
    """
    width = weight.shape[-1]
    length = x.shape[1]
    padded = F.pad(x, (0, 0, width - 1, 0))
    out = sum(padded[:, j : j + length] * weight[:, 0, j] for j in range(width))
    return out if bias is None else out + bias


class MambaStub(nn.Module):
    """Selective-SSM block with `mamba_ssm.Mamba`'s interface, in plain PyTorch (CPU or GPU)."""

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_rank: int | str = "auto",
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
        chunk_size: int = 16,
        scan: str = "chunked",
    ):
        super().__init__()
        self.d_model, self.d_state, self.d_conv = d_model, d_state, d_conv
        self.d_inner = int(expand * d_model)
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else int(dt_rank)
        self.chunk_size = chunk_size
        if scan not in ("chunked", "naive"):
            raise ValueError(f"scan must be 'chunked' or 'naive', got {scan!r}")
        self.scan = scan
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=False)
        self.conv1d = nn.Conv1d(
            self.d_inner, self.d_inner, d_conv, groups=self.d_inner, padding=d_conv - 1
        )
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        # As in mamba-ssm: dt = softplus(bias) starts log-uniform in [dt_min, dt_max].
        dt = torch.exp(
            torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        ).clamp(min=dt_init_floor)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(self.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """(B, L, d_model) -> (B, L, d_model); causal in L."""
        x, z = self.in_proj(hidden_states).chunk(2, dim=-1)
        x = causal_depthwise_conv(x, self.conv1d.weight, self.conv1d.bias)
        x = F.silu(x)
        dt, B, C = self.x_proj(x).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(dt))
        A = -torch.exp(self.A_log.float())
        if self.scan == "naive":
            y = selective_scan_naive(x, delta, A, B, C, self.D)
        else:
            y = selective_scan(x, delta, A, B, C, self.D, self.chunk_size)
        return self.out_proj(y * F.silu(z))
