"""Real gene structure: binned labels and features worked by hand, windows, stored splits."""

import numpy as np
import pandas as pd
import pytest
import torch

from genobench.data.gene_structure import featurize
from genobench.data.genes import cached_genes, load_genome
from genobench.data.real_gene_structure import (
    RealGeneConfig,
    base_labels,
    bin_features,
    bin_labels,
    build,
    label_runs,
    load_or_build,
)


def test_bin_features_by_hand():
    # bin 1: TAA GCC  (forward stop TAA at frame 0; reverse stop TTA nowhere)
    # bin 2: TTA TCA  (reverse stops TTA at frame 0 and TCA at frame 0; forward stop: none
    #                  in frame; 'TAT','ATC','CAx' are no stops)
    feats = bin_features("TAAGCC" + "TTATCA" + "GG", 6)  # the trailing 'GG' is dropped
    assert feats.shape == (2, 19)
    np.testing.assert_allclose(feats[0, :4], [2 / 6, 2 / 6, 1 / 6, 1 / 6])  # A C G T
    np.testing.assert_allclose(feats[0, 4:7], [0.5, 0, 0])  # forward stops per frame
    np.testing.assert_allclose(feats[0, 7:10], [0, 0, 0])
    np.testing.assert_allclose(feats[0, 10:13], [0.5, 0.5, 0.5])  # G+C: (T,G) (A,C) (A,C)
    np.testing.assert_allclose(feats[1, 10:13], [0, 0.5, 0])  # (T,T) (T,C) (A,A)
    np.testing.assert_allclose(feats[1, 4:7], [0, 0, 0])
    np.testing.assert_allclose(feats[1, 7:10], [1.0, 0, 0])  # TTA and TCA, both frame 0
    # open reading frames through the bin centres 3 and 9 (stop to stop, sequence ends at
    # 14 and at f - 3 before the start): forward frame 0 has one stop (TAA at 0), reverse
    # frame 0 two (TTA at 6, TCA at 9; 'TCA' at 9 <= 9 counts before the centre 9)
    orf = np.expm1(feats[:, 13:] * np.log1p(10000))
    np.testing.assert_allclose(orf[0], [14, 16, 15, 9, 16, 15], rtol=1e-5)
    np.testing.assert_allclose(orf[1], [14, 16, 15, 5, 16, 15], rtol=1e-5)
    # a stop codon across a bin edge counts in the bin where it starts: 'TGA' at 4
    np.testing.assert_allclose(bin_features("CCCCTGACCCCC", 6)[0, 4:7], [0, 0.5, 0])


def test_labels_painting_majority_and_runs():
    genes = pd.DataFrame({"start": [2, 8], "end": [9, 12], "strand": [1, -1]})
    labels = base_labels(14, genes)  # the later gene wins the overlap at base 8
    assert labels.tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0]
    assert bin_labels(labels, 3).tolist() == [0, 1, 1, 2]  # (0, 0, 1) -> 0, (1, 1, 2) -> 1
    assert bin_labels(np.array([0, 1, 2, 2, 1, 2], dtype=np.uint8), 3).tolist() == [0, 2]
    runs = label_runs(np.array([0, 0, 1, 1, 1, 2, 0]))
    assert runs.values.tolist() == [[0, 0, 2, 2], [1, 2, 5, 3], [2, 5, 6, 1], [0, 6, 7, 1]]


def test_bin_size_must_keep_the_frame():
    with pytest.raises(ValueError, match="multiple of 3"):
        RealGeneConfig(bin_size=16)


@pytest.fixture(scope="module")
def small():
    config = RealGeneConfig(
        genome="kutzneria_kk037166",
        bin_size=15,
        seq_length=100,
        num_train=6,
        num_val=3,
        num_test=3,
        seed=1,
    )
    return config, build(config)


def test_windows_are_disjoint_and_labelled_from_the_gene_calls(small):
    config, data = small
    genome = load_genome(config.genome)
    ((contig, seq),) = genome.items()
    binned = bin_labels(base_labels(len(seq), cached_genes(genome)), 15)
    feats = bin_features(seq, 15)
    starts = []
    for name in ("train", "val", "test"):
        split = data[name]
        assert split.tokens.shape == (len(split), 100, 19)
        for n in range(len(split)):
            start = int(
                split.segments.loc[split.segments["sequence"] == n, "window_start_bin"].iloc[0]
            )
            starts.append(start)
            assert split.labels[n].tolist() == binned[start : start + 100].tolist()
            np.testing.assert_array_equal(split.tokens[n], feats[start : start + 100])
    assert len(set(starts)) == 12 and all(s % 100 == 0 for s in starts)
    annotation = data.true_durations()
    assert annotation["duration"].sum() == len(seq) // 15
    assert set(annotation["class"]) == {"intergenic", "gene_plus", "gene_minus"}
    law = data.laws()["gene_plus"]
    d = annotation.loc[annotation["label"] == 1, "duration"]
    assert law.median == pytest.approx(np.exp(np.median(np.log(d))))
    assert (law.low, law.high) == (d.min(), d.max())


def test_too_many_windows_asked_is_an_error():
    with pytest.raises(ValueError, match="fewer than the 30 asked for"):
        build(
            RealGeneConfig(
                genome="kutzneria_kk037166", seq_length=100, num_train=10, num_val=10, num_test=10
            )
        )


def test_stored_splits_round_trip(small, tmp_path):
    config, data = small
    first = load_or_build(config, tmp_path)
    again = load_or_build(config, tmp_path)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(again[name].tokens, data[name].tokens)
        np.testing.assert_array_equal(again[name].labels, first[name].labels)
        pd.testing.assert_frame_equal(again[name].segments, data[name].segments, check_dtype=False)
    assert again.laws() == data.laws()


def test_featurize_refuses_mismatched_kinds(small):
    _, data = small
    stored = torch.from_numpy(data["train"].tokens[:2])
    assert featurize(stored, "frame_bins").shape == (2, 100, 19)
    with pytest.raises(ValueError, match="set features to 'frame_bins'"):
        featurize(stored, "onehot")
    with pytest.raises(ValueError, match="needs the splits of a real genome"):
        featurize(torch.zeros(2, 10, dtype=torch.uint8), "frame_bins")
