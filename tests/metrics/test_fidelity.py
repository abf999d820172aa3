"""Fidelity metrics against scipy on hand-made distributions."""

import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.spatial.distance import cosine as scipy_cosine
from scipy.spatial.distance import jensenshannon
from scipy.special import log_softmax as scipy_log_softmax

from genobench.metrics.fidelity import (
    MomentAccumulator,
    cosine_similarity,
    distribution_stats,
    embedding_fidelity,
    js_divergence,
    kl_divergence,
    kl_summary,
    log_probs,
    mean_and_uncertainty,
    reference_summary,
    snr_db,
    token_fidelity,
    token_summary,
    top1_agreement,
)

P = np.array([[0.5, 0.25, 0.125, 0.125], [0.1, 0.2, 0.3, 0.4], [0.97, 0.01, 0.01, 0.01]])
Q = np.array([[0.25, 0.25, 0.25, 0.25], [0.4, 0.3, 0.2, 0.1], [0.9, 0.05, 0.03, 0.02]])


def test_kl_matches_scipy_entropy():
    kl = kl_divergence(np.log(P), np.log(Q)).numpy()
    for i in range(len(P)):
        assert kl[i] == pytest.approx(stats.entropy(P[i], Q[i]), rel=1e-12)
    # the first row by hand: 0.5 ln 2 + 0 + 2 * 0.125 ln 0.5
    assert kl[0] == pytest.approx(0.25 * math.log(2))


def test_kl_zero_probabilities_and_self():
    p = np.array([0.5, 0.5, 0.0])
    q = np.array([0.25, 0.5, 0.25])
    with np.errstate(divide="ignore"):
        assert float(kl_divergence(np.log(p), np.log(q))) == pytest.approx(stats.entropy(p, q))
        assert float(kl_divergence(np.log(q), np.log(p))) == math.inf
    assert np.all(kl_divergence(np.log(P), np.log(P)).numpy() == 0)


def test_js_is_the_square_of_scipys_distance():
    js = js_divergence(np.log(P), np.log(Q)).numpy()
    for i in range(len(P)):
        assert js[i] == pytest.approx(jensenshannon(P[i], Q[i]) ** 2, rel=1e-10)
    assert np.all(js <= math.log(2) + 1e-12)
    assert np.allclose(js_divergence(np.log(Q), np.log(P)).numpy(), js)  # symmetric


def test_log_probs_and_top1():
    logits = np.random.default_rng(0).normal(size=(5, 7)) * 3
    assert np.allclose(log_probs(logits).numpy(), scipy_log_softmax(logits, axis=-1))
    assert top1_agreement(np.log(P), np.log(Q)).tolist() == [True, False, True]


def test_token_fidelity_with_targets():
    targets = [1, 3, 0]
    out = token_fidelity(np.log(P), np.log(Q), targets)
    assert out["same_top"].tolist() == [1.0, 0.0, 1.0]
    assert np.allclose(out["nll_ref"], -np.log(P[[0, 1, 2], targets]))
    assert np.allclose(out["nll"], -np.log(Q[[0, 1, 2], targets]))
    assert np.allclose(out["delta_p"], Q[[0, 1, 2], targets] - P[[0, 1, 2], targets])
    with pytest.raises(ValueError, match="shapes differ"):
        token_fidelity(np.log(P), np.log(Q[:2]))


def test_kl_summary_matches_llama_cpp_definitions():
    x = np.random.default_rng(1).exponential(0.01, size=1001)
    s = kl_summary(x)
    assert s["kl_mean"] == pytest.approx(x.mean())
    assert s["kl_mean_err"] == pytest.approx(
        np.sqrt(((x**2).mean() - x.mean() ** 2) / (len(x) - 1))
    )
    xs = np.sort(x)
    # llama.cpp: value at fraction*(n-1), linear interpolation
    for name, frac in (("p99", 0.99), ("p90", 0.90), ("p99_9", 0.999), ("p1", 0.01)):
        pos = frac * (len(xs) - 1)
        lo = int(pos)
        expected = (1 - (pos - lo)) * xs[lo] + (pos - lo) * xs[min(lo + 1, len(xs) - 1)]
        assert s[f"kl_{name}"] == pytest.approx(expected)
    assert s["kl_median"] == pytest.approx(xs[500])
    even = kl_summary([1.0, 2.0, 3.0, 10.0])
    assert even["kl_median"] == 2.5  # mean of the two middle values
    assert even["kl_max"] == 10.0 and even["kl_min"] == 1.0
    assert mean_and_uncertainty([1.0, 2.0])[1] == 0.0  # too few values for an error


def test_token_summary_of_two_tokens_worked_by_hand():
    # token 1: P = (3/4, 1/4), Q = (1/4, 3/4); token 2: P = Q = (3/4, 1/4); next token 0
    p = np.array([[0.75, 0.25], [0.75, 0.25]])
    q = np.array([[0.25, 0.75], [0.75, 0.25]])
    s = token_summary(token_fidelity(np.log(p), np.log(q), [0, 0]))
    kl1 = 0.75 * math.log(3) + 0.25 * math.log(1 / 3)  # = ln(3)/2
    js1 = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)  # M = (1/2, 1/2), both halves equal
    assert s["n_tokens"] == 2
    assert s["kl_mean"] == pytest.approx(kl1 / 2) and s["kl_max"] == pytest.approx(kl1)
    assert s["kl_median"] == pytest.approx(kl1 / 2) and s["kl_min"] == 0
    assert s["js_mean"] == pytest.approx(js1 / 2)
    assert s["top1_agreement"] == 0.5
    # NLL of token 0: ln 4 under Q, ln 4/3 under P for token 1; equal for token 2
    assert s["ln_ppl_ratio"] == pytest.approx(math.log(3) / 2)
    assert s["ppl_ratio"] == pytest.approx(math.sqrt(3))
    assert s["ppl_base"] == pytest.approx(4 / 3)
    assert s["delta_p_mean"] == pytest.approx(-0.25)  # (1/4 - 3/4 + 0) / 2
    assert s["delta_p_rms"] == pytest.approx(math.sqrt(0.125))


def test_reference_summary_worked_by_hand():
    logp = np.log([[0.5, 0.5], [0.75, 0.25]])
    s = reference_summary(logp, [1, 0])
    assert s["n_tokens"] == 2
    assert s["entropy_base_mean"] == pytest.approx(
        (math.log(2) - 0.75 * math.log(0.75) - 0.25 * math.log(0.25)) / 2
    )
    assert s["top_p_base_mean"] == pytest.approx(0.625)
    assert s["ppl_base"] == pytest.approx(math.exp(-(math.log(0.5) + math.log(0.75)) / 2))
    assert "ppl_base" not in reference_summary(logp)


def test_cosine_and_snr():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(20, 16))
    noise = rng.normal(scale=0.01, size=x.shape)
    cos = cosine_similarity(x, x + noise)
    for i in range(len(x)):
        assert cos[i] == pytest.approx(1 - scipy_cosine(x[i], x[i] + noise[i]))
    assert snr_db(x, x + noise) == pytest.approx(10 * np.log10((x**2).sum() / (noise**2).sum()))
    assert snr_db(x, x) == math.inf
    assert snr_db(x, 0.5 * x) == pytest.approx(10 * np.log10(4))  # error is half the signal
    e = embedding_fidelity(x, x)
    assert e["cosine_mean"] == pytest.approx(1.0) and e["snr_db"] == math.inf


def test_moments_match_scipy_in_one_go_and_in_chunks():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.standard_t(4, size=3000) * 2 + 5, rng.normal(size=500)])
    expected = {
        "mean": x.mean(),
        "std": x.std(),
        "min": x.min(),
        "max": x.max(),
        "abs_max": np.abs(x).max(),
        "kurtosis": stats.kurtosis(x),
    }
    one = distribution_stats(x)
    acc = MomentAccumulator()
    for chunk in np.array_split(x, [7, 8, 1000, 2200]):  # uneven chunks, one of size 1
        acc.update(torch.as_tensor(chunk))
    for got in (one, acc.stats()):
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    assert math.isnan(MomentAccumulator().stats()["kurtosis"])


def test_reference_peakedness():
    out = token_fidelity(np.log(P), np.log(Q))
    assert np.allclose(out["entropy_ref"], [stats.entropy(p) for p in P])
    assert np.allclose(out["top_p_ref"], P.max(1))
    s = token_summary(out)
    assert s["entropy_base_mean"] == pytest.approx(np.mean([stats.entropy(p) for p in P]))


def test_cosine_similarity_by_hand():
    a = np.array([[1.0, 0.0], [1.0, 1.0]])
    b = np.array([[2.0, 0.0], [-1.0, -1.0]])
    np.testing.assert_allclose(cosine_similarity(a, b), [1.0, -1.0])
    with pytest.raises(ValueError, match="shapes differ"):
        cosine_similarity(a, a[:, :1])
