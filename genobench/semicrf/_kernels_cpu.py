"""Numba kernels of the semi-CRF (CPU, float64 throughout, parallel over the batch).

Layout: every per-position array is class-major, (B, C, T+1), so the loop over the K
durations of one label reads contiguous memory. ``dur_rev[c, j] = dur[K-1-j, c]`` lets the
forward window run in the same direction as the positions.

Conventions (one sequence, length L): w[s, c] = u[s, c] - cum[s, c] where u[s, c] is the
log-score of all prefixes ending at s that continue with a segment of label c
(u[0, c] = 0: the first segment takes no transition);
alpha[t, c] = cum[t, c] + logsumexp_d (w[t-d, c] + dur[d-1, c]);
u[t, c] = logsumexp_c' (alpha[t, c'] + trans[c', c]).
The forward keeps every w and alpha (O(T C), the size of cum_scores), so the backward
needs no recomputation.

Each log-sum-exp over durations is one pass: the terms are exponentiated relative to a
guess (the previous position's result, which moves little from one position to the next)
and summed; only when that sum leaves [e^-300, e^300] is it redone relative to the exact
maximum, so no term that matters under- or overflows. The exponential is a vectorizable
polynomial (``_exp``), accurate to about one ulp in float64.

Speed: these exponentials are nearly all the time (at T = 100,000, K = 1,000 the forward
spends ~90% of it in the duration loops). They compile to packed AVX2 code (4 doubles per
ymm register, FMA Horner steps) with no scalar float/int conversions; maxima go through
``llvm.maxnum`` (``_fmax``), which vectorizes where a compare-and-select does not.
Precision: float64 everywhere, by choice. A float32 exponential would double the SIMD
width but carries ~1e-7 relative error per term, and log Z must agree with brute-force
enumeration to 1e-10 (and pass float64 gradcheck); the duration loops have no part where
float32 is safe, so none is used.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

NEG_INF = -np.inf
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_LOG2_E = 1.4426950408889634
_SHIFT = 1.5 * 2.0**52  # x + _SHIFT rounds x to an integer, held in the low mantissa bits
_LOW, _HIGH = math.exp(-300.0), math.exp(300.0)
# reassociation lets LLVM vectorize the sums; _exp itself is compiled without it (its
# rounding steps must stay in order)
_SUM_MATH = {"reassoc", "contract"}


@intrinsic
def _bits_to_float(typingctx, bits):
    """Reinterpret an int64 as the float64 with the same bits."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return types.float64(types.int64), codegen


@intrinsic
def _float_to_bits(typingctx, value):
    """Reinterpret a float64 as the int64 with the same bits."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return types.int64(types.float64), codegen


@intrinsic
def _fmax(typingctx, a, b):
    """max(a, b) as LLVM's maxnum, which (unlike a compare and select) vectorizes as a reduction."""

    def codegen(context, builder, signature, args):
        double = ir.DoubleType()
        fn = builder.module.declare_intrinsic(
            "llvm.maxnum", [double], ir.FunctionType(double, [double, double])
        )
        return builder.call(fn, args)

    return types.float64(types.float64, types.float64), codegen


@njit(cache=True, fastmath={"contract"})
def _exp(x):
    """exp(x) for x <= 700: 2^k * p(r) with x = k ln2 + r, |r| <= ln2 / 2, p the degree-13
    Taylor polynomial (truncation < 1e-17); exactly 0 below -708 (and at -inf).

    k is rounded by adding 1.5 * 2^52 (then k sits in the low bits of the sum), so no
    float/int conversion is needed: AVX2 has no packed one for 64-bit integers."""
    y = min(max(x, -708.0), 700.0)
    shifted = y * _LOG2_E + _SHIFT
    k = shifted - _SHIFT
    r = (y - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    # the low bits of `shifted` hold k; shifting them into the exponent field gives 2^k
    value = p * _bits_to_float((_float_to_bits(shifted) + 1023) << 52)
    return value if x >= -708.0 else 0.0


@njit(cache=True, fastmath=_SUM_MATH)
def _sum_exp(a, b, ref):
    """sum_j exp(a[j] + b[j] - ref)."""
    total = 0.0
    for j in range(a.size):
        total += _exp(a[j] + b[j] - ref)
    return total


@njit(cache=True, fastmath=_SUM_MATH)
def _store_exp(a, b, ref, out):
    """out[j] = exp(a[j] + b[j] - ref); returns their sum."""
    total = 0.0
    for j in range(a.size):
        value = _exp(a[j] + b[j] - ref)
        out[j] = value
        total += value
    return total


@njit(cache=True)
def _max_sum(a, b):
    """max_j a[j] + b[j] (-inf if every term is)."""
    top = NEG_INF
    for j in range(a.size):
        top = _fmax(top, a[j] + b[j])
    return top


@njit(cache=True)
def _logsumexp2(a, b, guess):
    """log sum_j exp(a[j] + b[j]) in one pass when ``guess`` is within ~300 of the result."""
    total = _sum_exp(a, b, guess)
    if not _LOW < total < _HIGH:
        guess = _max_sum(a, b)
        if guess == NEG_INF:
            return NEG_INF
        total = _sum_exp(a, b, guess)
    return guess + math.log(total)


@njit(cache=True)
def _logsumexp2_store(a, b, guess, out):
    """(ref, total) with out[j] = exp(a[j] + b[j] - ref) and total = sum(out); ref = guess
    unless the guess was too far off (then the exact maximum, or -inf if every term is)."""
    total = _store_exp(a, b, guess, out)
    if not _LOW < total < _HIGH:
        guess = _max_sum(a, b)
        if guess == NEG_INF:
            out[:] = 0.0
            return NEG_INF, 0.0
        total = _store_exp(a, b, guess, out)
    return guess, total


@njit(cache=True, fastmath=_SUM_MATH)
def _axpy(y, x, scale):
    """y += scale * x."""
    for j in range(y.size):
        y[j] += scale * x[j]


@njit(cache=True)
def _lse_small(values):
    """log sum exp(values), for the few values of a transition (no temporary arrays)."""
    top = NEG_INF
    for v in values:
        top = max(top, v)
    if top == NEG_INF:
        return NEG_INF
    total = 0.0
    for v in values:
        total += math.exp(v - top)
    return top + math.log(total)


@njit(cache=True, parallel=True)
def forward_kernel(cum, trans, dur_rev, lengths, w, alpha, log_z):
    """Fill w, alpha (B, C, T+1) and log_z (B,) from cum (B, C, T+1), trans (C, C),
    dur_rev (C, K) and lengths (B,). w and alpha start at -inf."""
    batch, num_classes, _ = cum.shape
    num_dur = dur_rev.shape[1]
    for b in prange(batch):
        guess = np.zeros(num_classes)
        incoming = np.empty(num_classes)
        for c in range(num_classes):
            w[b, c, 0] = -cum[b, c, 0]
            guess[c] = w[b, c, 0] + dur_rev[c, num_dur - 1]
        for t in range(1, lengths[b] + 1):
            n = min(num_dur, t)
            for c in range(num_classes):
                lse = _logsumexp2(w[b, c, t - n : t], dur_rev[c, num_dur - n :], guess[c])
                if lse != NEG_INF:
                    guess[c] = lse
                alpha[b, c, t] = cum[b, c, t] + lse
            for c in range(num_classes):
                for cp in range(num_classes):
                    incoming[cp] = alpha[b, cp, t] + trans[cp, c]
                w[b, c, t] = _lse_small(incoming) - cum[b, c, t]
        log_z[b] = _lse_small(alpha[b, :, lengths[b]])


@njit(cache=True, parallel=True)
def backward_kernel(cum, trans, dur, lengths, w, alpha, log_z, g_cum, g_trans, g_dur, p_end):
    """Gradients of log Z: g_cum (B, C, T+1), g_trans (B, C, C), g_dur (B, C, K) and
    p_end (B, T+1) = P(a segment ends at t) summed over labels; dur is (C, K), row c
    holding durations 1..K. All outputs start at zero.

    With beta[s, c] the log-score of all suffixes after a segment of label c ending at s and
    ubar[s, c] the log-score of suffixes starting at s with a segment of label c:
    d logZ / d cum[t, c] = P(segment of c ends at t) - P(segment of c starts at t).
    The loop keeps cb[c, s] = cum[s, c] + beta[s, c], so ubar's window is contiguous.
    """
    batch, num_classes, t_plus_1 = cum.shape
    num_dur = dur.shape[1]
    for b in prange(batch):
        length = lengths[b]
        lz = log_z[b]
        cb = np.empty((num_classes, t_plus_1))
        terms = np.empty(num_dur)
        ubar = np.empty(num_classes)
        outgoing = np.empty(num_classes)
        guess = np.zeros(num_classes)
        for c in range(num_classes):
            cb[c, length] = cum[b, c, length]
            prob = math.exp(alpha[b, c, length] - lz)
            g_cum[b, c, length] += prob
            p_end[b, length] += prob
        for s in range(length - 1, -1, -1):
            n = min(num_dur, length - s)
            for c in range(num_classes):
                ref, total = _logsumexp2_store(
                    cb[c, s + 1 : s + 1 + n], dur[c, :n], guess[c], terms
                )
                if ref == NEG_INF:
                    ubar[c] = NEG_INF
                    continue
                guess[c] = ref + math.log(total)
                ubar[c] = guess[c] - cum[b, c, s]
                # P(segment (s, s+d, c)) = exp(u[s, c] + cb[s+d] + dur[d-1] - cum[s] - log Z)
                scale = math.exp(w[b, c, s] + ref - lz)
                _axpy(g_dur[b, c, :n], terms[:n], scale)
                g_cum[b, c, s] -= scale * total
            if s == 0:
                break
            for cp in range(num_classes):
                for c in range(num_classes):
                    outgoing[c] = trans[cp, c] + ubar[c]
                    g_trans[b, cp, c] += math.exp(alpha[b, cp, s] + outgoing[c] - lz)
                beta = _lse_small(outgoing)
                cb[cp, s] = cum[b, cp, s] + beta
                prob = math.exp(alpha[b, cp, s] + beta - lz)
                g_cum[b, cp, s] += prob
                p_end[b, s] += prob


@njit(cache=True)
def _argmax2_last(a, b):
    """(max_j a[j] + b[j], the last j reaching it)."""
    top = _max_sum(a, b)
    arg = a.size - 1
    while arg > 0 and a[arg] + b[arg] != top:
        arg -= 1
    return top, arg


@njit(cache=True, parallel=True)
def viterbi_kernel(cum, trans, dur_rev, lengths, best, segs, n_segs):
    """Max-product version (same layout as the forward): best (B,), segs (B, T, 3) rows
    (start, end, label) and n_segs (B,). Ties go to the shortest duration."""
    batch, num_classes, t_plus_1 = cum.shape
    num_dur = dur_rev.shape[1]
    for b in prange(batch):
        length = lengths[b]
        w = np.full((num_classes, t_plus_1), NEG_INF)
        alpha = np.full((num_classes, t_plus_1), NEG_INF)
        arg_d = np.zeros((num_classes, t_plus_1), dtype=np.int64)
        arg_prev = np.zeros((num_classes, t_plus_1), dtype=np.int64)
        for c in range(num_classes):
            w[c, 0] = -cum[b, c, 0]
        for t in range(1, length + 1):
            n = min(num_dur, t)
            for c in range(num_classes):
                # window index j is duration n - j: the last maximal j is the shortest duration
                top, j = _argmax2_last(w[c, t - n : t], dur_rev[c, num_dur - n :])
                alpha[c, t] = top + cum[b, c, t]
                arg_d[c, t] = n - j
            for c in range(num_classes):
                top = NEG_INF
                for cp in range(num_classes):
                    if alpha[cp, t] + trans[cp, c] > top:
                        top = alpha[cp, t] + trans[cp, c]
                        arg_prev[c, t] = cp
                w[c, t] = top - cum[b, c, t]
        label = int(np.argmax(alpha[:, length]))
        best[b] = alpha[label, length]
        end = length
        count = 0
        while end > 0:
            start = end - arg_d[label, end]
            segs[b, count, 0] = start
            segs[b, count, 1] = end
            segs[b, count, 2] = label
            count += 1
            label = arg_prev[label, start]
            end = start
        segs[b, :count] = segs[b, :count][::-1].copy()
        n_segs[b] = count
