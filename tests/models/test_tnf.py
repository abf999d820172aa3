import numpy as np

from genobench.models.tnf import canonical_kmers, tnf

KMERS = canonical_kmers(4)


def revcomp(s: str) -> str:
    return s[::-1].translate(str.maketrans("ACGT", "TGCA"))


def test_canonical_count_matches_formula():
    # 4^4 k-mers, 4^2 of them are their own reverse complement (even k): (256 + 16) / 2
    assert len(KMERS) == (4**4 + 4**2) // 2 == 136


def test_hand_count():
    # ACGTAC has 4-mers ACGT, CGTA, GTAC; canonical forms ACGT, CGTA (TACG > CGTA), GTAC
    v = tnf("ACGTAC")
    expected = np.zeros(136)
    for kmer in ("ACGT", "CGTA", "GTAC"):
        expected[KMERS.index(kmer)] += 1 / 3
    np.testing.assert_allclose(v, expected)


def test_reverse_complement_merged_and_n_skipped():
    # TTTT is the reverse complement of AAAA; windows touching N are skipped
    v = tnf("AAAANTTTT")
    assert v[KMERS.index("AAAA")] == 1.0 and v.sum() == 1.0


def test_strand_invariance_on_random_sequence():
    rng = np.random.default_rng(0)
    s = "".join(rng.choice(list("ACGT"), 500))
    np.testing.assert_allclose(tnf(s), tnf(revcomp(s)))
    assert abs(tnf(s).sum() - 1) < 1e-12


def test_too_short_is_zero():
    assert not tnf("ACG").any()
