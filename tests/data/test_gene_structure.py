"""Synthetic gene structures: duration laws, grammar, splice motifs, splits on disk, features."""

import numpy as np
import pytest
import torch

from genobench.data.gene_structure import (
    CLASSES,
    DURATION_LAWS,
    GeneStructureConfig,
    featurize,
    gene_path,
    generate,
    kmer_features,
    load,
    load_or_generate,
    markov_tables,
    onehot_features,
    save,
)
from genobench.metrics.segmentation import runs

ALLOWED = {
    3: {(0, 1), (1, 2), (2, 1), (1, 0)},
    5: {(0, 3), (3, 1), (1, 2), (2, 1), (1, 4), (4, 0)},
}


def small(**kw):
    base = dict(num_train=6, num_val=2, num_test=2, seq_length=3000, duration_scale=0.1, seed=1)
    return GeneStructureConfig(**{**base, **kw})


@pytest.mark.parametrize("num_classes", [3, 5])
def test_median_durations_follow_the_laws_on_a_large_sample(num_classes):
    config = GeneStructureConfig(num_classes=num_classes)
    laws = config.laws()
    path = gene_path(np.random.default_rng(0), laws, num_classes, config.mean_introns, 60_000_000)
    labels = np.array([lab for lab, _ in path])
    durations = np.array([dur for _, dur in path])
    for c, name in enumerate(CLASSES[num_classes]):
        sample = durations[labels == c]
        assert sample.size > 2000, name
        law = DURATION_LAWS[name]
        assert abs(np.median(sample) / law.median - 1) < 0.05, (name, np.median(sample))
        assert sample.min() >= law.low and sample.max() <= law.high
        # the log-normal's spread: log-durations' interquartile range = 1.349 sigma (unclipped)
        q1, q3 = np.percentile(np.log(sample), [25, 75])
        assert abs((q3 - q1) / 1.349 / law.sigma - 1) < 0.1, name


def test_scaled_laws_keep_their_shape():
    config = GeneStructureConfig(duration_scale=0.1)
    laws = config.laws()
    assert laws["exon"].median == pytest.approx(15) and laws["exon"].sigma == 0.5
    assert (laws["exon"].low, laws["exon"].high) == (3, 50)
    assert (laws["intron"].low, laws["intron"].high) == (10, 1000)
    assert (laws["intergenic"].low, laws["intergenic"].high) == (50, 2000)


def test_mean_number_of_introns():
    config = GeneStructureConfig()
    path = gene_path(np.random.default_rng(3), config.laws(), 3, 3.0, 30_000_000)
    labels = np.array([lab for lab, _ in path])
    genes = (labels == 0).sum()
    assert abs((labels == 2).sum() / genes - 3.0) < 0.3


@pytest.mark.parametrize("num_classes", [3, 5])
def test_labels_follow_the_grammar(num_classes):
    data = generate(small(num_classes=num_classes))
    seen = set()
    for labels in data["train"].labels:
        segs = runs(labels)
        seen |= {(a[2], b[2]) for a, b in zip(segs, segs[1:])}
    assert seen <= ALLOWED[num_classes]
    assert len(seen) >= len(ALLOWED[num_classes]) - 1


@pytest.mark.parametrize("num_classes", [3, 5])
def test_splice_motifs_at_every_intron_boundary(num_classes):
    data = generate(small(num_classes=num_classes, num_train=20))
    checked = 0
    for tokens, labels in zip(data["train"].tokens, data["train"].labels):
        length = labels.size
        for start, end, label in runs(labels):
            if label != 2:
                continue
            if start > 0 and start + 2 <= length:  # the intron starts inside the window
                assert tuple(tokens[start : start + 2]) == (2, 3)  # G T
                checked += 1
            if end < length and end - 2 >= 0:
                assert tuple(tokens[end - 2 : end]) == (0, 2)  # A G
                checked += 1
    assert checked > 20


def test_motifs_can_be_switched_off():
    data = generate(small(splice_motifs=False, num_train=20))
    hits = total = 0
    for tokens, labels in zip(data["train"].tokens, data["train"].labels):
        for start, _end, label in runs(labels):
            if label == 2 and start > 0:
                total += 1
                hits += tuple(tokens[start : start + 2]) == (2, 3)
    assert total > 10 and hits / total < 0.5


def test_segments_table_matches_the_labels():
    data = generate(small())
    split = data["train"]
    for n, labels in enumerate(split.labels):
        segs = split.segments[split.segments["sequence"] == n]
        clipped = [
            (max(s, 0), min(e, labels.size), lab)
            for s, e, lab in segs[["start", "end", "label"]].itertuples(index=False)
        ]
        assert clipped == runs(labels)
        inside = ~segs["truncated"]
        assert (
            segs.loc[inside, "end"] - segs.loc[inside, "start"] == segs.loc[inside, "duration"]
        ).all()


def test_seeded_and_saved(tmp_path):
    config = small()
    first, second = generate(config), generate(config)
    assert np.array_equal(first["train"].tokens, second["train"].tokens)
    assert not np.array_equal(generate(small(seed=2))["train"].tokens, first["train"].tokens)
    save(first, tmp_path / "set")
    loaded = load(tmp_path / "set")
    for name in ("train", "val", "test"):
        assert np.array_equal(loaded[name].tokens, first[name].tokens)
        assert np.array_equal(loaded[name].labels, first[name].labels)
    assert loaded.config == config
    table = loaded.true_durations()
    assert set(table["split"]) == {"train", "val", "test"}
    assert {"class", "duration", "truncated"} <= set(table.columns)


def test_load_or_generate_reuses_the_saved_splits(tmp_path):
    config = small()
    data = load_or_generate(config, tmp_path)
    assert (tmp_path / config.key() / "train.npz").is_file()
    (tmp_path / config.key() / "marker").write_text("x")
    again = load_or_generate(config, tmp_path)
    assert (again.path / "marker").is_file()  # read back, not regenerated
    assert np.array_equal(again["test"].labels, data["test"].labels)


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="num_classes must be 3 or 5"):
        GeneStructureConfig(num_classes=4)
    with pytest.raises(ValueError, match="duration_scale"):
        GeneStructureConfig(duration_scale=0)
    with pytest.raises(ValueError, match="composition_strength"):
        markov_tables(CLASSES[3], strength=10.0)


def test_composition_differs_between_classes():
    tables = markov_tables(CLASSES[5])
    assert np.allclose(tables.sum(-1), 1)
    gc = tables[:, 0, 1:3].sum(-1)  # P(C or G | previous A)
    assert gc[1] > gc[0] + 0.05  # exons are GC-richer than intergenic DNA
    assert tables[0, 1, 2] < tables[1, 1, 2]  # CpG depleted outside exons


def test_features():
    tokens = torch.tensor([[0, 1, 2, 3, 4, 0, 0, 1]])
    onehot = onehot_features(tokens)
    assert onehot.shape == (1, 8, 5) and torch.equal(onehot.argmax(-1), tokens)
    window = 4
    kmers = kmer_features(tokens, 4, window)
    assert kmers.shape == (1, 8, 256)
    # brute force: 4-mers starting in [i - 2, i + 2), none holding an N
    seq = tokens[0].tolist()
    for i in range(8):
        counts = np.zeros(256)
        for s in range(max(0, i - window // 2), min(8, i + window - window // 2)):
            kmer = seq[s : s + 4]
            if len(kmer) == 4 and max(kmer) < 4:
                counts[((kmer[0] * 4 + kmer[1]) * 4 + kmer[2]) * 4 + kmer[3]] += 1
        expected = counts / max(counts.sum(), 1)
        assert np.allclose(kmers[0, i].numpy(), expected), i
    assert featurize(tokens, "kmer4").shape[-1] == 256
    with pytest.raises(ValueError, match="unknown features"):
        featurize(tokens, "kmer6")
