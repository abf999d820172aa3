"""Numba kernels of the streaming semi-CRF (CPU, float64 inside, parallel over the batch).

Conventions (one sequence, length L): w[s, c] = u[s, c] - cum[s, c] where u[s, c] is
the log-score of all prefixes ending at s that continue with a segment of label c
(u[0, c] = 0: the first segment takes no transition);
alpha[t, c] = cum[t, c] + logsumexp_d (w[t-d, c] + dur[d-1, c]);
u[t, c] = logsumexp_c' (alpha[t, c'] + trans[c', c]).  w lives in a ring buffer of K rows.
Every ``interval`` steps alpha and the ring are shifted by max_c alpha (the shift is
added to a float64 normalizer) and the ring is saved as a checkpoint; the backward
recomputes one interval at a time from its checkpoint.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

NEG_INF = -np.inf


@njit(cache=True, inline="always")
def _alpha_step(cum_b, dur, ring, t, alpha):
    """alpha[t, :] from the ring holding w[t-K .. t-1]."""
    num_dur, num_classes = dur.shape
    top_d = min(num_dur, t)
    for c in range(num_classes):
        top = NEG_INF
        for d in range(1, top_d + 1):
            top = max(top, ring[(t - d) % num_dur, c] + dur[d - 1, c])
        total = 0.0
        for d in range(1, top_d + 1):
            total += np.exp(ring[(t - d) % num_dur, c] + dur[d - 1, c] - top)
        alpha[c] = cum_b[t, c] + top + np.log(total)


@njit(cache=True, inline="always")
def _push_step(cum_b, trans, ring, t, alpha):
    """Write w[t, :] = logsumexp_c' (alpha[c'] + trans[c', :]) - cum[t, :] into the ring."""
    num_dur = ring.shape[0]
    num_classes = trans.shape[0]
    for c in range(num_classes):
        top = NEG_INF
        for cp in range(num_classes):
            top = max(top, alpha[cp] + trans[cp, c])
        total = 0.0
        for cp in range(num_classes):
            total += np.exp(alpha[cp] + trans[cp, c] - top)
        ring[t % num_dur, c] = top + np.log(total) - cum_b[t, c]


@njit(cache=True, inline="always")
def _renormalize(ring, alpha):
    """Shift alpha and the ring by max(alpha); return the shift."""
    shift = alpha.max()
    alpha -= shift
    ring -= shift
    return shift


@njit(cache=True, parallel=True)
def forward_kernel(cum, trans, dur, lengths, interval, ck_ring, ck_alpha, ck_norm, log_z):
    """Fill log_z (B,) and the checkpoints (B, n_ck, K, C), (B, n_ck, C), (B, n_ck)."""
    batch, _, num_classes = cum.shape
    num_dur = dur.shape[0]
    for b in prange(batch):
        ring = np.full((num_dur, num_classes), NEG_INF)
        alpha = np.full(num_classes, NEG_INF)
        norm = 0.0
        ring[0, :] = -cum[b, 0, :]
        ck_ring[b, 0] = ring
        ck_alpha[b, 0] = alpha
        ck_norm[b, 0] = 0.0
        for t in range(1, lengths[b] + 1):
            _alpha_step(cum[b], dur, ring, t, alpha)
            _push_step(cum[b], trans, ring, t, alpha)
            if t % interval == 0:
                norm += _renormalize(ring, alpha)
                ck_ring[b, t // interval] = ring
                ck_alpha[b, t // interval] = alpha
                ck_norm[b, t // interval] = norm
        top = alpha.max()
        log_z[b] = top + np.log(np.exp(alpha - top).sum()) + norm


@njit(cache=True, parallel=True)
def backward_kernel(cum, trans, dur, lengths, interval, ck_ring, ck_alpha, ck_norm, log_z,
                    g_cum, g_trans, g_dur, p_end):
    """Gradients of log Z: g_cum (B, T+1, C), g_trans (B, C, C), g_dur (B, K, C), and
    p_end (B, T+1) = P(a segment ends at t) summed over labels.

    With beta[s, c] the log-score of all suffixes after a segment of label c ending at s and
    ubar[s, c] the log-score of suffixes starting at s with a segment of label c:
    d logZ / d cum[t, c] = P(segment of c ends at t) - P(segment of c starts at t).
    """
    batch, _, num_classes = cum.shape
    num_dur = dur.shape[0]
    for b in prange(batch):
        length = lengths[b]
        seg_w = np.empty((interval, num_classes))
        seg_alpha = np.empty((interval, num_classes))
        beta_ring = np.full((num_dur, num_classes), NEG_INF)
        ubar = np.empty(num_classes)
        terms = np.empty(num_dur)
        beta_norm = 0.0
        n_seg = length // interval + 1
        for j in range(n_seg - 1, -1, -1):
            first = j * interval
            last = min(first + interval - 1, length)
            ring = ck_ring[b, j].copy()
            alpha = ck_alpha[b, j].copy()
            seg_w[0] = ring[first % num_dur]
            seg_alpha[0] = alpha
            for t in range(first + 1, last + 1):
                _alpha_step(cum[b], dur, ring, t, alpha)
                _push_step(cum[b], trans, ring, t, alpha)
                seg_w[t - first] = ring[t % num_dur]
                seg_alpha[t - first] = alpha
            if j < n_seg - 1:
                shift = beta_ring[(last + 1) % num_dur].max()
                beta_ring -= shift
                beta_norm += shift
            offset = ck_norm[b, j] + beta_norm - log_z[b]
            for s in range(last, first - 1, -1):
                row = s % num_dur
                if s == length:
                    beta_ring[row] = 0.0
                else:
                    top_d = min(num_dur, length - s)
                    for c in range(num_classes):
                        top = NEG_INF
                        for d in range(1, top_d + 1):
                            terms[d - 1] = (cum[b, s + d, c] - cum[b, s, c] + dur[d - 1, c]
                                            + beta_ring[(s + d) % num_dur, c])
                            top = max(top, terms[d - 1])
                        total = 0.0
                        for d in range(top_d):
                            total += np.exp(terms[d] - top)
                        ubar[c] = top + np.log(total)
                        u_hat = seg_w[s - first, c] + cum[b, s, c]
                        for d in range(top_d):
                            g_dur[b, d, c] += np.exp(u_hat + terms[d] + offset)
                        g_cum[b, s, c] -= np.exp(u_hat + ubar[c] + offset)
                    if s >= 1:
                        for cp in range(num_classes):
                            top = NEG_INF
                            for c in range(num_classes):
                                top = max(top, trans[cp, c] + ubar[c])
                            total = 0.0
                            for c in range(num_classes):
                                total += np.exp(trans[cp, c] + ubar[c] - top)
                                g_trans[b, cp, c] += np.exp(seg_alpha[s - first, cp] + trans[cp, c] + ubar[c] + offset)
                            beta_ring[row, cp] = top + np.log(total)
                if s >= 1:
                    for c in range(num_classes):
                        prob = np.exp(seg_alpha[s - first, c] + beta_ring[row, c] + offset)
                        g_cum[b, s, c] += prob
                        p_end[b, s] += prob


@njit(cache=True, parallel=True)
def viterbi_kernel(cum, trans, dur, lengths, best, segs, n_segs):
    """Max-product version: best (B,) and segs (B, T, 3) rows (start, end, label), n_segs (B,)."""
    batch, t_plus_1, num_classes = cum.shape
    num_dur = dur.shape[0]
    for b in prange(batch):
        length = lengths[b]
        w = np.full((t_plus_1, num_classes), NEG_INF)
        alpha = np.full((t_plus_1, num_classes), NEG_INF)
        arg_d = np.zeros((t_plus_1, num_classes), dtype=np.int64)
        arg_prev = np.zeros((t_plus_1, num_classes), dtype=np.int64)
        w[0] = -cum[b, 0]
        for t in range(1, length + 1):
            for c in range(num_classes):
                for d in range(1, min(num_dur, t) + 1):
                    score = w[t - d, c] + dur[d - 1, c]
                    if score > alpha[t, c]:
                        alpha[t, c] = score
                        arg_d[t, c] = d
                alpha[t, c] += cum[b, t, c]
            for c in range(num_classes):
                top = NEG_INF
                for cp in range(num_classes):
                    if alpha[t, cp] + trans[cp, c] > top:
                        top = alpha[t, cp] + trans[cp, c]
                        arg_prev[t, c] = cp
                w[t, c] = top - cum[b, t, c]
        label = int(np.argmax(alpha[length]))
        best[b] = alpha[length, label]
        end = length
        count = 0
        while end > 0:
            start = end - arg_d[end, label]
            segs[b, count, 0] = start
            segs[b, count, 1] = end
            segs[b, count, 2] = label
            count += 1
            label = arg_prev[start, label]
            end = start
        segs[b, :count] = segs[b, :count][::-1].copy()
        n_segs[b] = count
