"""Triton backend: the same streaming scheme as ``_kernels_cpu``, one program per sequence.

Forward: the ring of the last K messages w lives in a global scratch buffer; every
``interval`` steps alpha and the ring are shifted by max(alpha) (float64 normalizer) and
saved as a checkpoint. Backward: each interval is recomputed from its checkpoint into a
scratch buffer, then walked backwards with a ring of the last K beta messages, adding
gradients in place (a program owns its sequence, so no atomics). Loops over K go in
chunks of K_BLOCK with an online logsumexp; -1e30 stands for -inf so no NaN can arise.
Compute dtype is the input dtype (float32 or float64).

The scratch rings are shared by all warps of a program: a store to a row that other warps
read in the same step waits at ``tl.debug_barrier()`` (the CPU interpreter runs one thread
and cannot show a missing barrier).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

NEG_FLOAT = -1.0e30
# a global a compiled kernel reads must be a constexpr (the interpreter accepts a float)
NEG = tl.constexpr(NEG_FLOAT)


@triton.jit
def _lse_step(
    ring_ptr,
    dur_ptr,
    cum_t,
    t,
    offs_c,
    cmask,
    K: tl.constexpr,
    C: tl.constexpr,
    K_BLOCK: tl.constexpr,
    C_BLOCK: tl.constexpr,
):
    """alpha[t, :] = cum[t, :] + logsumexp_d (w[t-d, :] + dur[d-1, :])."""
    offs_k = tl.arange(0, K_BLOCK)
    top = tl.full([C_BLOCK], NEG, cum_t.dtype)
    total = tl.zeros([C_BLOCK], cum_t.dtype)
    for k0 in range(0, K, K_BLOCK):
        d = k0 + offs_k + 1
        valid = (d <= K) & (d <= t)
        mask = valid[:, None] & cmask[None, :]
        row = (t - d + K) % K
        vals = tl.load(ring_ptr + row[:, None] * C + offs_c[None, :], mask=mask, other=NEG)
        vals += tl.load(dur_ptr + (d[:, None] - 1) * C + offs_c[None, :], mask=mask, other=NEG)
        new_top = tl.maximum(top, tl.max(vals, axis=0))
        total = total * tl.exp(top - new_top) + tl.sum(tl.exp(vals - new_top[None, :]), axis=0)
        top = new_top
    return cum_t + top + tl.log(tl.maximum(total, 1e-30))


@triton.jit
def _push(ring_ptr, trans, alpha, cum_t, t, offs_c, cmask, K: tl.constexpr, C: tl.constexpr):
    """Store w[t, :] = logsumexp_c' (alpha[c'] + trans[c', :]) - cum[t, :] in ring row t % K."""
    x = alpha[:, None] + trans
    top = tl.max(x, axis=0)
    u = top + tl.log(tl.sum(tl.exp(x - top[None, :]), axis=0))
    tl.debug_barrier()  # row t % K was read (as w[t-K]) by every warp in this step
    tl.store(ring_ptr + (t % K) * C + offs_c, u - cum_t, mask=cmask)
    tl.debug_barrier()


@triton.jit
def _copy_ring(
    src_ptr,
    dst_ptr,
    shift,
    offs_c,
    cmask,
    K: tl.constexpr,
    C: tl.constexpr,
    K_BLOCK: tl.constexpr,
):
    """dst = src - ``shift`` for every row of a (K, C) ring (src may be dst: a shift in place)."""
    offs_k = tl.arange(0, K_BLOCK)
    for k0 in range(0, K, K_BLOCK):
        rows = k0 + offs_k
        offs = rows[:, None] * C + offs_c[None, :]
        mask = (rows[:, None] < K) & cmask[None, :]
        tl.store(dst_ptr + offs, tl.load(src_ptr + offs, mask=mask, other=NEG) - shift, mask=mask)
    tl.debug_barrier()


@triton.jit
def _forward_kernel(
    cum_ptr,
    trans_ptr,
    dur_ptr,
    len_ptr,
    ring_ptr,
    ck_ring_ptr,
    ck_alpha_ptr,
    ck_norm_ptr,
    log_z_ptr,
    T,
    N_CK,
    T_LOOP: tl.constexpr,
    S: tl.constexpr,
    K: tl.constexpr,
    C: tl.constexpr,
    K_BLOCK: tl.constexpr,
    C_BLOCK: tl.constexpr,
):
    b = tl.program_id(0)
    length = tl.max(tl.load(len_ptr + b + tl.arange(0, 1)), axis=0)
    offs_c = tl.arange(0, C_BLOCK)
    cmask = offs_c < C
    trans = tl.load(
        trans_ptr + offs_c[:, None] * C + offs_c[None, :],
        mask=cmask[:, None] & cmask[None, :],
        other=NEG,
    )
    cum_b = cum_ptr + b * (T + 1) * C
    ring_b = ring_ptr + b * K * C
    alpha = tl.full([C_BLOCK], NEG, trans.dtype)
    norm = tl.zeros([1], tl.float64)
    for t in range(1, T_LOOP + 1):
        if t <= length:
            cum_t = tl.load(cum_b + t * C + offs_c, mask=cmask, other=0.0)
            alpha = _lse_step(ring_b, dur_ptr, cum_t, t, offs_c, cmask, K, C, K_BLOCK, C_BLOCK)
            alpha = tl.where(cmask, alpha, NEG)
            _push(ring_b, trans, alpha, cum_t, t, offs_c, cmask, K, C)
            if t % S == 0:
                shift = tl.max(alpha, axis=0)
                alpha -= shift
                _copy_ring(ring_b, ring_b, shift, offs_c, cmask, K, C, K_BLOCK)
                norm += shift.to(tl.float64)
                j = t // S
                ck_ring_j = ck_ring_ptr + (b * N_CK + j) * K * C
                _copy_ring(ring_b, ck_ring_j, 0.0, offs_c, cmask, K, C, K_BLOCK)
                tl.store(ck_alpha_ptr + (b * N_CK + j) * C + offs_c, alpha, mask=cmask)
                tl.store(ck_norm_ptr + b * N_CK + j + tl.arange(0, 1), norm)
    top = tl.max(alpha, axis=0)
    log_z = top.to(tl.float64) + tl.log(tl.sum(tl.exp(alpha - top), axis=0)).to(tl.float64) + norm
    tl.store(log_z_ptr + b + tl.arange(0, 1), log_z)


@triton.jit
def _backward_kernel(
    cum_ptr,
    trans_ptr,
    dur_ptr,
    len_ptr,
    ring_ptr,
    ck_ring_ptr,
    ck_alpha_ptr,
    ck_norm_ptr,
    log_z_ptr,
    seg_w_ptr,
    seg_alpha_ptr,
    beta_ptr,
    g_cum_ptr,
    g_trans_ptr,
    g_dur_ptr,
    T,
    N_CK,
    T_LOOP: tl.constexpr,
    S: tl.constexpr,
    K: tl.constexpr,
    C: tl.constexpr,
    K_BLOCK: tl.constexpr,
    C_BLOCK: tl.constexpr,
):
    b = tl.program_id(0)
    length = tl.max(tl.load(len_ptr + b + tl.arange(0, 1)), axis=0)
    offs_c = tl.arange(0, C_BLOCK)
    offs_k = tl.arange(0, K_BLOCK)
    cmask = offs_c < C
    cc_mask = cmask[:, None] & cmask[None, :]
    trans = tl.load(trans_ptr + offs_c[:, None] * C + offs_c[None, :], mask=cc_mask, other=NEG)
    cum_b = cum_ptr + b * (T + 1) * C
    ring_b = ring_ptr + b * K * C
    beta_b = beta_ptr + b * K * C
    seg_w_b = seg_w_ptr + b * S * C
    seg_alpha_b = seg_alpha_ptr + b * S * C
    g_cum_b = g_cum_ptr + b * (T + 1) * C
    g_trans_b = g_trans_ptr + b * C * C
    g_dur_b = g_dur_ptr + b * K * C
    log_z = tl.load(log_z_ptr + b + tl.arange(0, 1))
    beta_norm = tl.zeros([1], tl.float64)
    n_seg = length // S + 1
    for jj in range(0, T_LOOP // S + 1):
        j = T_LOOP // S - jj
        if j < n_seg:
            first = j * S
            last = tl.minimum(first + S - 1, length)
            # recompute this interval's forward messages from its checkpoint
            ck_ring_j = ck_ring_ptr + (b * N_CK + j) * K * C
            _copy_ring(ck_ring_j, ring_b, 0.0, offs_c, cmask, K, C, K_BLOCK)
            alpha = tl.load(ck_alpha_ptr + (b * N_CK + j) * C + offs_c, mask=cmask, other=NEG)
            tl.store(
                seg_w_b + offs_c,
                tl.load(ring_b + (first % K) * C + offs_c, mask=cmask, other=NEG),
                mask=cmask,
            )
            tl.store(seg_alpha_b + offs_c, alpha, mask=cmask)
            for i in range(1, S):
                t = first + i
                if t <= last:
                    cum_t = tl.load(cum_b + t * C + offs_c, mask=cmask, other=0.0)
                    alpha = _lse_step(
                        ring_b, dur_ptr, cum_t, t, offs_c, cmask, K, C, K_BLOCK, C_BLOCK
                    )
                    alpha = tl.where(cmask, alpha, NEG)
                    _push(ring_b, trans, alpha, cum_t, t, offs_c, cmask, K, C)
                    tl.store(
                        seg_w_b + (t - first) * C + offs_c,
                        tl.load(ring_b + (t % K) * C + offs_c, mask=cmask),
                        mask=cmask,
                    )
                    tl.store(seg_alpha_b + (t - first) * C + offs_c, alpha, mask=cmask)
            tl.debug_barrier()
            if j < n_seg - 1:
                shift = tl.max(
                    tl.load(beta_b + ((last + 1) % K) * C + offs_c, mask=cmask, other=NEG), axis=0
                )
                tl.debug_barrier()  # every warp reads the row before it is shifted in place
                _copy_ring(beta_b, beta_b, shift, offs_c, cmask, K, C, K_BLOCK)
                beta_norm += shift.to(tl.float64)
            offset_64 = tl.load(ck_norm_ptr + b * N_CK + j + tl.arange(0, 1)) + beta_norm - log_z
            offset = tl.sum(offset_64, axis=0).to(trans.dtype)
            for ss in range(0, S):
                s = first + S - 1 - ss
                if s <= last:
                    cum_s = tl.load(cum_b + s * C + offs_c, mask=cmask, other=0.0)
                    u_hat = (
                        tl.load(seg_w_b + (s - first) * C + offs_c, mask=cmask, other=NEG) + cum_s
                    )
                    alpha_s = tl.load(seg_alpha_b + (s - first) * C + offs_c, mask=cmask, other=NEG)
                    # ubar[s, c] = logsumexp_d (cum[s+d] - cum[s] + dur[d-1] + beta[s+d]);
                    # duration gradients
                    top = tl.full([C_BLOCK], NEG, trans.dtype)
                    total = tl.zeros([C_BLOCK], trans.dtype)
                    for k0 in range(0, K, K_BLOCK):
                        d = k0 + offs_k + 1
                        mask = ((d <= K) & (s + d <= length))[:, None] & cmask[None, :]
                        vals = tl.load(
                            cum_b + (s + d[:, None]) * C + offs_c[None, :], mask=mask, other=0.0
                        )
                        vals += tl.load(
                            dur_ptr + (d[:, None] - 1) * C + offs_c[None, :], mask=mask, other=0.0
                        )
                        vals += tl.load(
                            beta_b + ((s + d[:, None]) % K) * C + offs_c[None, :],
                            mask=mask,
                            other=0.0,
                        )
                        vals = tl.where(mask, vals - cum_s[None, :], NEG)
                        g_ptrs = g_dur_b + (d[:, None] - 1) * C + offs_c[None, :]
                        prob = tl.where(mask, tl.exp(u_hat[None, :] + vals + offset), 0.0)
                        tl.store(g_ptrs, tl.load(g_ptrs, mask=mask, other=0.0) + prob, mask=mask)
                        new_top = tl.maximum(top, tl.max(vals, axis=0))
                        total = total * tl.exp(top - new_top) + tl.sum(
                            tl.exp(vals - new_top[None, :]), axis=0
                        )
                        top = new_top
                    has_next = s < length
                    ubar = tl.where(cmask & has_next, top + tl.log(tl.maximum(total, 1e-30)), NEG)
                    start_prob = tl.where(cmask & has_next, tl.exp(u_hat + ubar + offset), 0.0)
                    # beta[s, c'] = logsumexp_c (trans[c', c] + ubar[c]); beta[length] = 0
                    x = trans + ubar[None, :]
                    x_top = tl.max(x, axis=1)
                    beta_s = x_top + tl.log(tl.sum(tl.exp(x - x_top[:, None]), axis=1))
                    beta_s = tl.where(has_next, beta_s, 0.0)
                    inner = (s >= 1) & has_next
                    trans_prob = tl.where(
                        cc_mask & inner, tl.exp(alpha_s[:, None] + x + offset), 0.0
                    )
                    tl.store(
                        g_trans_b + offs_c[:, None] * C + offs_c[None, :],
                        tl.load(
                            g_trans_b + offs_c[:, None] * C + offs_c[None, :],
                            mask=cc_mask,
                            other=0.0,
                        )
                        + trans_prob,
                        mask=cc_mask,
                    )
                    end_prob = tl.where(cmask & (s >= 1), tl.exp(alpha_s + beta_s + offset), 0.0)
                    tl.store(g_cum_b + s * C + offs_c, end_prob - start_prob, mask=cmask)
                    tl.debug_barrier()  # row s % K was read (as beta[s+K]) by every warp
                    tl.store(beta_b + (s % K) * C + offs_c, beta_s, mask=cmask)
                    tl.debug_barrier()


def _sizes(max_len: int, interval: int, num_dur: int, num_classes: int) -> dict[str, int]:
    """The compile-time sizes both kernels take: loop bound, interval, K, C and their blocks."""
    return dict(
        T_LOOP=triton.next_power_of_2(max_len),
        S=interval,
        K=num_dur,
        C=num_classes,
        K_BLOCK=min(triton.next_power_of_2(num_dur), 64),
        C_BLOCK=max(triton.next_power_of_2(num_classes), 2),
    )


class TritonLogPartition(torch.autograd.Function):
    """log Z (B,) with Triton forward/backward kernels (CUDA, or CPU under TRITON_INTERPRET=1)."""

    @staticmethod
    def forward(ctx, cum_scores, transition, duration_bias, lengths, interval):  # type: ignore[override]
        dtype = cum_scores.dtype if cum_scores.dtype == torch.float64 else torch.float32
        cum = cum_scores.detach().to(dtype).contiguous()
        trans = transition.detach().to(dtype).contiguous()
        dur = duration_bias.detach().to(dtype).contiguous()
        lens = lengths.to(cum.device, torch.int32).contiguous()
        batch, t_plus_1, num_classes = cum.shape
        num_dur = dur.shape[0]
        n_ck = (t_plus_1 - 1) // interval + 1
        ring = torch.full((batch, num_dur, num_classes), NEG_FLOAT, dtype=dtype, device=cum.device)
        ring[:, 0] = -cum[:, 0]
        ck_ring = torch.full(
            (batch, n_ck, num_dur, num_classes), NEG_FLOAT, dtype=dtype, device=cum.device
        )
        ck_ring[:, 0] = ring
        ck_alpha = torch.full((batch, n_ck, num_classes), NEG_FLOAT, dtype=dtype, device=cum.device)
        ck_norm = torch.zeros((batch, n_ck), dtype=torch.float64, device=cum.device)
        log_z = torch.empty(batch, dtype=torch.float64, device=cum.device)
        max_len, sizes = t_plus_1 - 1, _sizes(t_plus_1 - 1, interval, num_dur, num_classes)
        _forward_kernel[(batch,)](
            cum, trans, dur, lens, ring, ck_ring, ck_alpha, ck_norm, log_z, max_len, n_ck, **sizes
        )
        ctx.save_for_backward(cum, trans, dur, lens, ck_ring, ck_alpha, ck_norm, log_z)
        ctx.interval = interval
        ctx.in_dtype = cum_scores.dtype
        return log_z.to(cum_scores.dtype)

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        cum, trans, dur, lens, ck_ring, ck_alpha, ck_norm, log_z = ctx.saved_tensors
        batch, t_plus_1, num_classes = cum.shape
        num_dur, interval = dur.shape[0], ctx.interval
        new = dict(dtype=cum.dtype, device=cum.device)
        ring = torch.empty((batch, num_dur, num_classes), **new)
        seg_w = torch.empty((batch, interval, num_classes), **new)
        seg_alpha = torch.empty((batch, interval, num_classes), **new)
        beta = torch.full((batch, num_dur, num_classes), NEG_FLOAT, **new)
        g_cum = torch.zeros_like(cum)
        g_trans = torch.zeros((batch, num_classes, num_classes), **new)
        g_dur = torch.zeros((batch, num_dur, num_classes), **new)
        _backward_kernel[(batch,)](
            cum,
            trans,
            dur,
            lens,
            ring,
            ck_ring,
            ck_alpha,
            ck_norm,
            log_z,
            seg_w,
            seg_alpha,
            beta,
            g_cum,
            g_trans,
            g_dur,
            t_plus_1 - 1,
            ck_ring.shape[1],
            **_sizes(t_plus_1 - 1, interval, num_dur, num_classes),
        )
        weight = grad_out.to(cum.dtype)
        grad_cum = (g_cum * weight[:, None, None]).to(ctx.in_dtype)
        grad_trans = torch.einsum("b,bij->ij", weight, g_trans).to(ctx.in_dtype)
        grad_dur = torch.einsum("b,bij->ij", weight, g_dur).to(ctx.in_dtype)
        return grad_cum, grad_trans, grad_dur, None, None
