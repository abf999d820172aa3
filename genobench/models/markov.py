"""The classical baseline: an order-k Markov chain over A/C/G/T fitted on the reference.

    log p(x) = sum_i log P(x_i | x_{i-k} .. x_{i-1})
    P(b | ctx) = (count(ctx b) + alpha) / (count(ctx) + 4 alpha)

The first k bases of a sequence, which have less than k bases of context, use the
chains of order 0..k-1 fitted on the same reference. Windows containing N restart
the context after the N (N itself is not scored). The zero-shot score of a variant
is the log-likelihood ratio log p(alt window) - log p(ref window), in nats.
"""

from __future__ import annotations

import numpy as np

_LUT = np.full(256, -1, dtype=np.int64)
for _i, _b in enumerate("ACGT"):
    _LUT[ord(_b)] = _LUT[ord(_b.lower())] = _i


def encode(seq: str) -> np.ndarray:
    """A/C/G/T -> 0..3, anything else -> -1."""
    return _LUT[np.frombuffer(seq.encode(), dtype=np.uint8)]


class KmerMarkov:
    """Order-`order` Markov chain with additive smoothing `alpha`, plus its lower orders."""

    def __init__(self, order: int = 5, alpha: float = 1.0):
        if order < 0:
            raise ValueError(f"order must be >= 0, got {order}")
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        self.order = order
        self.alpha = alpha
        self.log_probs: list[np.ndarray] = []  # per order j: (4**j, 4) log P(b | ctx)

    def fit(self, seqs) -> KmerMarkov:
        """Count (j+1)-mers, j = 0..order, over sequences (N breaks a k-mer)."""
        counts = [np.zeros((4**j, 4)) for j in range(self.order + 1)]
        for seq in seqs:
            x = encode(seq)
            for j in range(self.order + 1):
                idx, ok = self._contexts(x, j)
                np.add.at(counts[j], (idx[ok], x[j:][ok]), 1)
        self.log_probs = [
            np.log((c + self.alpha) / (c.sum(1, keepdims=True) + 4 * self.alpha)) for c in counts
        ]
        return self

    @staticmethod
    def _contexts(x: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
        """For positions i = j..n-1: context index of x[i-j:i] and whether x[i-j..i] are ACGT."""
        n = len(x) - j
        if n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
        idx = np.zeros(n, dtype=np.int64)
        ok = x[j:] >= 0
        for t in range(j):
            col = x[t : t + n]
            ok &= col >= 0
            idx = idx * 4 + np.maximum(col, 0)
        return idx, ok

    def position_log_probs(self, seq: str) -> np.ndarray:
        """log P(x_i | up to `order` preceding bases) for every position (nan at N)."""
        if not self.log_probs:
            raise RuntimeError("fit the model before scoring")
        x = encode(seq)
        out = np.full(len(x), np.nan)
        # the context length available at i: bases since the last N, capped at order
        since_n = np.zeros(len(x), dtype=np.int64)
        run = 0
        for i, v in enumerate(x):
            since_n[i] = min(run, self.order)
            run = run + 1 if v >= 0 else 0
        for j in range(self.order + 1):
            idx, ok = self._contexts(x, j)
            pos = np.arange(j, len(x))
            use = ok & (since_n[j:] == j)
            out[pos[use]] = self.log_probs[j][idx[use], x[j:][use]]
        return out

    def log_likelihood(self, seq: str) -> float:
        """log p(seq) in nats (N positions skipped)."""
        return float(np.nansum(self.position_log_probs(seq)))

    def llr(self, ref_seq: str, alt_seq: str) -> float:
        """log p(alt) - log p(ref) in nats."""
        return self.log_likelihood(alt_seq) - self.log_likelihood(ref_seq)

    @property
    def n_parameters(self) -> int:
        """Free parameters of the order-k chain: 3 per context."""
        return 3 * 4**self.order
