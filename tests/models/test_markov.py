import math

import numpy as np
import pytest

from genobench.benchmarks.gfm_zeroshot.scorers import MarkovModel
from genobench.models.markov import KmerMarkov
from genobench.models.registry import load_registry


def test_llr_against_a_hand_computed_example():
    # reference AACGT, order 1, alpha 1:
    #   order 0: A 2, C 1, G 1, T 1 (5 bases)    -> P(A) = 3/9
    #   order 1: A->A 1, A->C 1; C->G 1; G->T 1  -> P(C|A) = 2/6, P(G|C) = 2/5,
    #                                               P(T|A) = 1/6, P(G|T) = 1/4 (T never a context)
    m = KmerMarkov(order=1, alpha=1.0).fit(["AACGT"])
    assert m.log_likelihood("ACG") == pytest.approx(math.log(3 / 9 * 2 / 6 * 2 / 5))
    assert m.log_likelihood("ATG") == pytest.approx(math.log(3 / 9 * 1 / 6 * 1 / 4))
    assert m.llr("ACG", "ATG") == pytest.approx(math.log((1 / 6 * 1 / 4) / (2 / 6 * 2 / 5)))


def test_n_restarts_the_context():
    m = KmerMarkov(order=1).fit(["AACGT"])
    lp = m.position_log_probs("ANC")
    assert np.isnan(lp[1])
    assert lp[0] == pytest.approx(math.log(3 / 9))
    assert lp[2] == pytest.approx(math.log(2 / 9))  # order 0: no context after the N


def test_identical_sequences_have_zero_llr():
    m = KmerMarkov(order=3).fit(["ACGTTGCAAGCT" * 10])
    assert m.llr("ACGTAGCTAG", "ACGTAGCTAG") == 0.0


def test_higher_order_fits_a_periodic_reference_exactly():
    m = KmerMarkov(order=2, alpha=1e-6).fit(["ACG" * 200])
    lp = m.position_log_probs("ACGACGACG")
    np.testing.assert_allclose(lp[2:], 0.0, atol=1e-4)  # with 2 bases of context: certain
    assert m.llr("ACGACGACG", "ACGATGACG") < -20  # an unseen k-mer is very unlikely


def test_bad_settings():
    with pytest.raises(ValueError, match="order must be >= 0"):
        KmerMarkov(order=-1)
    with pytest.raises(RuntimeError, match="fit the model"):
        KmerMarkov(order=1).log_likelihood("ACGT")


def test_markov_model_wrapper_scores_and_embeds():
    spec = load_registry()["kmer-markov"]
    ref = {"chr1": "ACGTTGCAAGCTTACG" * 40}
    model = MarkovModel(spec, reference=ref).load()
    window = ref["chr1"][:40]
    alt = window[:20] + ("A" if window[20] != "A" else "C") + window[21:]
    direct = KmerMarkov(spec.order).fit(ref.values()).llr(window, alt)
    assert model.score_variant(window, alt) == pytest.approx(direct)
    assert model.score_variant(window, window) == 0.0  # computed: every term cancels
    emb = model.get_embedding([window, alt])
    assert emb.shape == (2, 4 ** (spec.order + 1))
    np.testing.assert_allclose(emb.sum(1), 1.0)
    with pytest.raises(ValueError, match="fitted on the reference"):
        MarkovModel(spec).load()
