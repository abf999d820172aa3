"""Fidelity of a quantized model to its `standard` baseline: pure functions.

Token level (next-token distributions on identical token batches), following the
definitions of llama.cpp's `llama-perplexity --kl-divergence`:

* KL(base‖q) per token = Σ_v p_base(v) (ln p_base(v) − ln q(v)), in nats;
* summary: mean (± standard error sqrt((E[x²] − E[x]²)/(n − 1))), median (mean of the
  two middle values for an even count), percentiles by linear interpolation at
  fraction·(n − 1) of the sorted values (numpy's default), minimum and maximum;
* "same top p": the fraction of tokens whose most likely next token is the same;
* Δp: q(actual next token) − p_base(actual next token);
* PPL ratio: exp(mean NLL_q − mean NLL_base).

Jensen–Shannon divergence JS = ½ KL(P‖M) + ½ KL(Q‖M), M = (P + Q)/2, in nats (the
square of scipy's `jensenshannon` distance).

Embedding level: cosine similarity per sequence, and SNR in dB of the whole matrix,
10·log10(Σ‖x‖² / Σ‖x − x̂‖²). Hidden-state distribution statistics (mean, std,
min, max, abs-max, excess kurtosis) accumulate over batches with exact pairwise
merging of central moments, so they equal the one-shot statistics of all values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

KL_PERCENTILES = {
    "p99_9": 99.9,
    "p99": 99.0,
    "p95": 95.0,
    "p90": 90.0,
    "p10": 10.0,
    "p5": 5.0,
    "p1": 1.0,
    "p0_1": 0.1,
}


def _as_tensor(x) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    return t.to(torch.float64)


def log_probs(logits) -> torch.Tensor:
    """Log-softmax over the last axis, in float64."""
    return torch.log_softmax(_as_tensor(logits), dim=-1)


def kl_divergence(logp, logq) -> torch.Tensor:
    """KL(P‖Q) in nats along the last axis, from log-probabilities (terms with p = 0 are 0)."""
    logp, logq = _as_tensor(logp), _as_tensor(logq)
    p = logp.exp()
    terms = torch.where(p > 0, p * (logp - logq), torch.zeros_like(p))
    return terms.sum(-1)


def js_divergence(logp, logq) -> torch.Tensor:
    """Jensen–Shannon divergence in nats along the last axis, from log-probabilities."""
    logp, logq = _as_tensor(logp), _as_tensor(logq)

    def half_kl_to_mixture(la, lb):
        # a·(ln a − ln m) with m = (a + b)/2, written as −a·log1p(expm1(ln b − ln a)/2):
        # exact 0 for a == b and accurate for small differences
        a = la.exp()
        terms = -a * torch.log1p(torch.expm1(lb - la) / 2)
        return torch.where(a > 0, terms, torch.zeros_like(a)).sum(-1)

    return 0.5 * half_kl_to_mixture(logp, logq) + 0.5 * half_kl_to_mixture(logq, logp)


def entropy(logp) -> torch.Tensor:
    """Entropy in nats along the last axis, from log-probabilities."""
    logp = _as_tensor(logp)
    p = logp.exp()
    return -torch.where(p > 0, p * logp, torch.zeros_like(p)).sum(-1)


def top1_agreement(logp, logq) -> torch.Tensor:
    """Per row: does the most likely entry of P equal that of Q (bool)."""
    return _as_tensor(logp).argmax(-1) == _as_tensor(logq).argmax(-1)


def token_fidelity(ref_logp, logp, targets=None) -> dict[str, np.ndarray]:
    """Per-token comparison of log-probabilities (n_tokens, vocab) against a reference.

    Returns float arrays `kl`, `js`, `same_top`, `entropy_ref` and `top_p_ref` (how
    peaked the reference distribution is) and, when the actual next tokens
    `targets` are given, `nll_ref`, `nll` and `delta_p` (q − p_base of the actual token).
    """
    ref_logp, logp = _as_tensor(ref_logp), _as_tensor(logp)
    if ref_logp.shape != logp.shape:
        raise ValueError(
            f"log-probability shapes differ: {tuple(ref_logp.shape)} vs {tuple(logp.shape)}"
        )
    out = {
        "kl": kl_divergence(ref_logp, logp),
        "js": js_divergence(ref_logp, logp),
        "same_top": top1_agreement(ref_logp, logp).to(torch.float64),
        # how peaked the reference is: its entropy (nats) and top probability
        "entropy_ref": entropy(ref_logp),
        "top_p_ref": ref_logp.exp().max(-1).values,
    }
    if targets is not None:
        idx = (
            torch.as_tensor(
                np.asarray(targets) if not isinstance(targets, torch.Tensor) else targets
            )
            .long()
            .to(ref_logp.device)
            .unsqueeze(-1)
        )
        lp_ref = ref_logp.gather(-1, idx).squeeze(-1)
        lp = logp.gather(-1, idx).squeeze(-1)
        out.update(nll_ref=-lp_ref, nll=-lp, delta_p=lp.exp() - lp_ref.exp())
    return {k: v.detach().cpu().numpy() for k, v in out.items()}


def mean_and_uncertainty(values) -> tuple[float, float]:
    """Mean and its standard error as llama.cpp computes it (0 for 10 values or fewer)."""
    x = np.asarray(values, dtype=float)
    n = x.size
    if n == 0:
        return math.nan, math.nan
    mean = float(x.mean())
    var = float((x**2).mean() - mean**2)
    return mean, (math.sqrt(var / (n - 1)) if var > 0 and n > 10 else 0.0)


def kl_summary(kl_values, prefix: str = "kl") -> dict[str, float]:
    """llama.cpp's KL statistics: mean ± error, median, percentiles, min and max."""
    x = np.sort(np.asarray(kl_values, dtype=float))
    if x.size == 0:
        raise ValueError("no KL values to summarize")
    mean, unc = mean_and_uncertainty(x)
    out = {
        f"{prefix}_mean": mean,
        f"{prefix}_mean_err": unc,
        f"{prefix}_median": float(np.median(x)),
        f"{prefix}_max": float(x[-1]),
        f"{prefix}_min": float(x[0]),
    }
    for name, q in KL_PERCENTILES.items():
        out[f"{prefix}_{name}"] = float(np.percentile(x, q))
    return out


def token_summary(per_token: dict[str, np.ndarray]) -> dict[str, float]:
    """Summaries of `token_fidelity` arrays (concatenated over batches)."""
    out = {"n_tokens": int(len(per_token["kl"]))}
    out.update(kl_summary(per_token["kl"]))
    out["js_mean"], out["js_mean_err"] = mean_and_uncertainty(per_token["js"])
    out["js_median"] = float(np.median(per_token["js"]))
    same = np.asarray(per_token["same_top"], dtype=float)
    p = float(same.mean())
    if "entropy_ref" in per_token:
        out["entropy_base_mean"] = float(np.mean(per_token["entropy_ref"]))
        out["top_p_base_mean"] = float(np.mean(per_token["top_p_ref"]))
    out["top1_agreement"] = p
    out["top1_agreement_err"] = (
        math.sqrt(p * (1 - p) / (same.size - 1)) if same.size > 1 else math.nan
    )
    if "nll" in per_token:
        nll, nll_ref = np.asarray(per_token["nll"]), np.asarray(per_token["nll_ref"])
        out["ppl"] = float(np.exp(nll.mean()))
        out["ppl_base"] = float(np.exp(nll_ref.mean()))
        out["ln_ppl_ratio"] = float(nll.mean() - nll_ref.mean())
        out["ppl_ratio"] = float(np.exp(out["ln_ppl_ratio"]))
        dp = np.asarray(per_token["delta_p"])
        out["delta_p_mean"] = float(dp.mean())
        out["delta_p_rms"] = float(np.sqrt((dp**2).mean()))
    return out


def reference_summary(logp, targets=None) -> dict[str, float]:
    """The reference's own next-token statistics, under `token_summary`'s names: tokens,
    mean entropy and top probability, and (with `targets`) its perplexity."""
    logp = _as_tensor(logp)
    out = {
        "n_tokens": int(logp.shape[0]),
        "entropy_base_mean": float(entropy(logp).mean()),
        "top_p_base_mean": float(logp.exp().max(-1).values.mean()),
    }
    if targets is not None:
        idx = torch.as_tensor(targets).long().unsqueeze(-1)
        out["ppl_base"] = float(torch.exp(-logp.gather(-1, idx).mean()))
    return out


def cosine_similarity(x, y, eps: float = 1e-12) -> np.ndarray:
    """Row-wise cosine similarity of two (n, d) matrices."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {x.shape} vs {y.shape}")
    num = (x * y).sum(-1)
    den = np.linalg.norm(x, axis=-1) * np.linalg.norm(y, axis=-1)
    return num / np.maximum(den, eps)


def snr_db(x, x_hat) -> float:
    """SNR in dB, 10·log10(‖x‖² / ‖x − x̂‖²) over all entries (inf when equal)."""
    x = np.asarray(x, dtype=np.float64)
    x_hat = np.asarray(x_hat, dtype=np.float64)
    if x.shape != x_hat.shape:
        raise ValueError(f"shapes differ: {x.shape} vs {x_hat.shape}")
    noise = float(((x - x_hat) ** 2).sum())
    signal = float((x**2).sum())
    if noise == 0:
        return math.inf
    if signal == 0:
        return -math.inf
    return 10 * math.log10(signal / noise)


def embedding_fidelity(reference, embeddings) -> dict[str, float]:
    """Cosine (mean, median, min) and SNR (dB) of embeddings against the reference's."""
    cos = cosine_similarity(reference, embeddings)
    return {
        "cosine_mean": float(cos.mean()),
        "cosine_median": float(np.median(cos)),
        "cosine_min": float(cos.min()),
        "snr_db": snr_db(reference, embeddings),
    }


@dataclass
class MomentAccumulator:
    """Running mean, central moments 2–4, min and max of all values seen (float64)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    m3: float = 0.0
    m4: float = 0.0
    min: float = math.inf
    max: float = -math.inf

    def update(self, values) -> MomentAccumulator:
        """Add a batch of values (any shape; flattened)."""
        x = _as_tensor(values).flatten()
        if x.numel() == 0:
            return self
        mean = float(x.mean())
        d = x - mean
        d2 = d * d
        batch = MomentAccumulator(
            n=int(x.numel()),
            mean=mean,
            m2=float(d2.sum()),
            m3=float((d2 * d).sum()),
            m4=float((d2 * d2).sum()),
            min=float(x.min()),
            max=float(x.max()),
        )
        return self.merge(batch)

    def merge(self, other: MomentAccumulator) -> MomentAccumulator:
        """Combine with another accumulator in place (Pébay's pairwise formulas)."""
        if other.n == 0:
            return self
        if self.n == 0:
            self.__dict__.update(other.__dict__)
            return self
        na, nb = self.n, other.n
        n = na + nb
        delta = other.mean - self.mean
        m2 = self.m2 + other.m2 + delta**2 * na * nb / n
        m3 = (
            self.m3
            + other.m3
            + delta**3 * na * nb * (na - nb) / n**2
            + 3 * delta * (na * other.m2 - nb * self.m2) / n
        )
        m4 = (
            self.m4
            + other.m4
            + delta**4 * na * nb * (na * na - na * nb + nb * nb) / n**3
            + 6 * delta**2 * (na * na * other.m2 + nb * nb * self.m2) / n**2
            + 4 * delta * (na * other.m3 - nb * self.m3) / n
        )
        self.mean = self.mean + delta * nb / n
        self.n, self.m2, self.m3, self.m4 = n, m2, m3, m4
        self.min, self.max = min(self.min, other.min), max(self.max, other.max)
        return self

    def stats(self) -> dict[str, float]:
        """mean, std (population), min, max, abs_max and excess kurtosis (scipy's default)."""
        if self.n == 0:
            return {k: math.nan for k in ("mean", "std", "min", "max", "abs_max", "kurtosis")}
        var = self.m2 / self.n
        kurt = self.n * self.m4 / self.m2**2 - 3.0 if self.m2 > 0 else math.nan
        return {
            "mean": self.mean,
            "std": math.sqrt(var),
            "min": self.min,
            "max": self.max,
            "abs_max": max(abs(self.min), abs(self.max)),
            "kurtosis": kurt,
        }


def distribution_stats(values) -> dict[str, float]:
    """One-shot `MomentAccumulator` statistics of an array."""
    return MomentAccumulator().update(values).stats()
