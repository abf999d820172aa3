"""Gene structure of a real genome for the semi-CRF benchmark: Prodigal calls as labels.

Labels: 0 intergenic, 1 gene on the + strand, 2 gene on the - strand, from the genes
pyrodigal calls on a packaged genome (`genobench.data.genes`); where two genes overlap
(a few bp, usually) the later gene's label wins.

A bacterial gene is ~1 kb long, too long for a semi-CRF with K ~ 1,000 at base
resolution on a CPU. So one position is a bin of `bin_size` bp (a multiple of 3; bins
start at multiples of 3 on the contig, so a bin's frame f is the contig's frame f), its
label the majority label of its bases (ties to the lower class), and its features
(FRAME_FEATURES, 19 numbers) what a gene finder reads:

- base composition of the bin (A, C, G, T fractions; 4);
- forward stop codons (TAA, TAG, TGA) starting in the bin, per frame (3), and reverse
  stop codons (TTA, CTA, TCA: a stop on the - strand), per frame (3), each as a fraction
  of the bin's codons: a gene is a long stretch where one frame has none;
- G+C fraction of the bases in each frame (3): codon position 3 is G/C-rich in genes;
- the length of the open reading frame (stop to stop) through the bin's centre in each
  frame, forward (3) and reverse (3), as log(1 + bp) / log(1 + 10,000): a gene sits in a
  frame whose open stretch is as long as the gene.

Sequences are non-overlapping windows of `seq_length` bins, drawn at random (seeded) from
the genome's contigs and dealt to train / val / test, so no base is in two splits.
"True durations" are the runs of the binned annotation over the whole genome (the
annotation's duration law), and the class laws of the report are log-normals fitted to
them (median and sigma of log durations, clipped to the observed range).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genobench.data.gene_structure import SPLITS, DurationLaw, GeneStructureData, Split
from genobench.paths import cache_dir

REAL_CLASSES = ("intergenic", "gene_plus", "gene_minus")
FRAME_FEATURES = 19
FEATURES_VERSION = "frame_bins-19"  # part of the cache key: change it when the features do
ORF_SCALE = np.log1p(10000)
_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate("ACGT"):
    _CODE[ord(_b)] = _i
_FORWARD_STOPS = ("TAA", "TAG", "TGA")
_REVERSE_STOPS = ("TTA", "CTA", "TCA")


@dataclass(frozen=True)
class RealGeneConfig:
    """Everything that determines a real gene-structure data set (its cache key)."""

    genome: str = "corynebacterium_diphtheriae"
    bin_size: int = 15
    seq_length: int = 600  # bins per sequence
    num_train: int = 64
    num_val: int = 16
    num_test: int = 16
    seed: int = 0

    def __post_init__(self):
        if self.bin_size < 3 or self.bin_size % 3:
            raise ValueError(f"bin_size must be a positive multiple of 3, got {self.bin_size}")
        if self.seq_length < 2 or min(self.num_train, self.num_val, self.num_test) < 1:
            raise ValueError("need seq_length >= 2 and at least one sequence per split")

    num_classes = 3
    class_names = REAL_CLASSES

    def key(self) -> str:
        text = json.dumps({"real": asdict(self), "features": FEATURES_VERSION}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class RealGeneData(GeneStructureData):
    """GeneStructureData of a real genome: durations and laws come from the annotation."""

    def __init__(
        self,
        config: RealGeneConfig,
        splits: dict[str, Split],
        annotation: pd.DataFrame,
        path: Path | None = None,
    ):
        super().__init__(config, splits, path)
        self.annotation = annotation

    def true_durations(self) -> pd.DataFrame:
        """Runs of the binned annotation over the whole genome: label, start, end, duration
        (bins), contig, class."""
        return self.annotation.assign(
            **{"class": [REAL_CLASSES[i] for i in self.annotation["label"]]}
        )

    def laws(self) -> dict[str, DurationLaw]:
        """Per class, the log-normal fitted to the annotation's run durations."""
        laws = {}
        for c, name in enumerate(REAL_CLASSES):
            d = self.annotation.loc[self.annotation["label"] == c, "duration"].to_numpy()
            logs = np.log(d)
            laws[name] = DurationLaw(
                float(np.exp(np.median(logs))), float(logs.std()) or 1.0, int(d.min()), int(d.max())
            )
        return laws


def base_labels(length: int, genes: pd.DataFrame) -> np.ndarray:
    """Per-base labels of one contig (0 intergenic, 1 + gene, 2 - gene), genes painted
    in order of start."""
    labels = np.zeros(length, dtype=np.uint8)
    for g in genes.sort_values("start").itertuples():
        labels[g.start : g.end] = 1 if g.strand == 1 else 2
    return labels


def _codon_hits(codes: np.ndarray, codons) -> np.ndarray:
    """1 at each position where one of `codons` starts."""
    hit = np.zeros(len(codes), dtype=np.float32)
    n = len(codes) - 2
    for codon in codons:
        a, b, c = (int(_CODE[ord(x)]) for x in codon)
        hit[:n] += (codes[:n] == a) & (codes[1 : n + 1] == b) & (codes[2 : n + 2] == c)
    return hit


def orf_lengths(hits: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(len(points), 3): per frame f, the distance between the stop codons (positions where
    `hits` is 1, frame = position mod 3) before and after each point, i.e. the length of
    the open reading frame through it; a missing stop counts at the sequence's end, or at
    f - 3 before its start."""
    out = np.empty((len(points), 3))
    where = np.flatnonzero(hits)
    for f in range(3):
        stops = where[where % 3 == f]
        bounds = np.concatenate([[f - 3], stops, [len(hits)]])
        after = np.searchsorted(bounds, points, side="right")
        out[:, f] = bounds[after] - bounds[after - 1]
    return out


def bin_features(seq: str, bin_size: int) -> np.ndarray:
    """(len(seq) // bin_size, 19) features of consecutive bins of `seq` (see the module
    docstring); a trailing partial bin is dropped."""
    n_bins = len(seq) // bin_size
    codes = _CODE[np.frombuffer(seq.encode(), dtype=np.uint8)]
    usable = n_bins * bin_size
    per_codon = bin_size // 3

    def framed(values: np.ndarray) -> np.ndarray:  # (bins, 3): per frame, mean over the bin
        return values[:usable].reshape(n_bins, per_codon, 3).mean(1)

    onehot = np.eye(5, dtype=np.float32)[codes[:usable]].reshape(n_bins, bin_size, 5)
    composition = onehot[..., :4].mean(1)
    gc = ((codes == 1) | (codes == 2)).astype(np.float32)
    forward, reverse = _codon_hits(codes, _FORWARD_STOPS), _codon_hits(codes, _REVERSE_STOPS)
    centres = np.arange(n_bins) * bin_size + bin_size // 2
    orfs = [np.log1p(orf_lengths(h, centres)) / ORF_SCALE for h in (forward, reverse)]
    return np.concatenate(
        [composition, framed(forward), framed(reverse), framed(gc), *orfs], axis=1
    ).astype(np.float32)


def bin_labels(labels: np.ndarray, bin_size: int) -> np.ndarray:
    """Majority label of each complete bin (ties to the lower class)."""
    n_bins = len(labels) // bin_size
    blocks = labels[: n_bins * bin_size].reshape(n_bins, bin_size)
    counts = np.stack([(blocks == c).sum(1) for c in range(3)], axis=1)
    return counts.argmax(1).astype(np.uint8)


def label_runs(labels: np.ndarray) -> pd.DataFrame:
    """Maximal runs of equal labels: label, start, end, duration."""
    change = np.flatnonzero(np.diff(labels.astype(np.int64))) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(labels)]])
    return pd.DataFrame(
        {
            "label": labels[starts].astype(np.int64),
            "start": starts,
            "end": ends,
            "duration": ends - starts,
        }
    )


def build(config: RealGeneConfig) -> RealGeneData:
    """Gene calls, binned labels and features, and the seeded window splits of `config`."""
    from genobench.data.genes import cached_genes, load_genome

    genome = load_genome(config.genome)
    genes = cached_genes(genome)
    window = config.seq_length
    pieces, runs = [], []
    for contig, seq in genome.items():
        binned = bin_labels(
            base_labels(len(seq), genes[genes["contig"] == contig]), config.bin_size
        )
        runs.append(label_runs(binned).assign(contig=contig))
        feats = bin_features(seq, config.bin_size)
        for w in range(len(binned) // window):
            pieces.append(
                (
                    feats[w * window : (w + 1) * window],
                    binned[w * window : (w + 1) * window],
                    contig,
                    w * window,
                )
            )
    counts = (config.num_train, config.num_val, config.num_test)
    if len(pieces) < sum(counts):
        raise ValueError(
            f"{config.genome} has {len(pieces)} windows of {window} bins x "
            f"{config.bin_size} bp, fewer than the {sum(counts)} asked for; "
            "lower num_train/num_val/num_test or seq_length"
        )
    order = np.random.default_rng(config.seed).permutation(len(pieces))
    splits, at = {}, 0
    for name, count in zip(SPLITS, counts):
        chosen = [pieces[i] for i in order[at : at + count]]
        at += count
        segs = [
            label_runs(lab).assign(sequence=n, contig=contig, window_start_bin=start)
            for n, (_, lab, contig, start) in enumerate(chosen)
        ]
        splits[name] = Split(
            name,
            np.stack([c[0] for c in chosen]),
            np.stack([c[1] for c in chosen]),
            pd.concat(segs, ignore_index=True),
        )
    return RealGeneData(config, splits, pd.concat(runs, ignore_index=True))


def save_real(data: RealGeneData, path: str | Path) -> Path:
    """Write the splits (npz), their segments, the annotation runs and the config into
    `path`, atomically (a temporary folder renamed into place; a complete copy already
    there is kept)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    for name, split in data.splits.items():
        np.savez_compressed(tmp / f"{name}.npz", tokens=split.tokens, labels=split.labels)
    pd.concat([s.segments.assign(split=n) for n, s in data.splits.items()]).to_csv(
        tmp / "segments.csv", index=False
    )
    data.annotation.to_csv(tmp / "annotation.csv", index=False)
    (tmp / "config.json").write_text(json.dumps(asdict(data.config), indent=2))
    try:
        os.replace(tmp, path)
    except OSError:  # a concurrent run put a complete copy there first
        shutil.rmtree(tmp)
    data.path = path
    return path


def load_real(path: str | Path) -> RealGeneData:
    """Read what `save_real` wrote."""
    path = Path(path)
    config = RealGeneConfig(**json.loads((path / "config.json").read_text()))
    segments = pd.read_csv(path / "segments.csv", keep_default_na=False, dtype={"contig": str})
    splits = {}
    for name in SPLITS:
        with np.load(path / f"{name}.npz") as arrays:
            segs = segments[segments["split"] == name].drop(columns="split")
            splits[name] = Split(
                name, arrays["tokens"], arrays["labels"], segs.reset_index(drop=True)
            )
    annotation = pd.read_csv(path / "annotation.csv", keep_default_na=False, dtype={"contig": str})
    return RealGeneData(config, splits, annotation, path)


def load_or_build(config: RealGeneConfig, root: str | Path | None = None) -> RealGeneData:
    """The data of `config`, from `<root or cache>/real_gene_structure/<key>/` when there,
    else built and saved."""
    path = Path(root or cache_dir() / "real_gene_structure") / config.key()
    if (path / "config.json").is_file():
        return load_real(path)
    data = build(config)
    save_real(data, path)
    return data


def real_gene_datasets(config: RealGeneConfig) -> pd.DataFrame:
    """The provenance row of a real gene-structure run (`genobench.data.provenance`)."""
    from genobench.data.packaged import DATASETS
    from genobench.data.provenance import dataset_table

    how = (
        f"Prodigal gene calls (pyrodigal, single mode, closed ends) painted per base as "
        f"intergenic / gene on + strand / gene on - strand, then the majority label of "
        f"each {config.bin_size} bp bin"
    )
    return dataset_table(
        [("gene structure", config.genome, how)] if config.genome in DATASETS else []
    )
