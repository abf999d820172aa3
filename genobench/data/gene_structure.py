"""Synthetic gene structures with known duration laws, for the semi-CRF benchmark.

Labels (3-class, the default):   0 intergenic, 1 exon, 2 intron.
Labels (5-class variant):        0 intergenic, 1 exon, 2 intron, 3 utr5, 4 utr3.

Grammar (3-class): intergenic -> exon -> (intron -> exon)* -> intergenic -> ...
Grammar (5-class): intergenic -> utr5 -> exon -> (intron -> exon)* -> utr3 -> intergenic -> ...
The number of introns per gene is geometric on {0, 1, ...} with mean `mean_introns`.

The 5-class variant adds the untranslated regions (UTRs) at the two ends of each gene.
They are transcribed but not coding, so here their composition sits between exon and
intergenic and their duration laws differ from the exon's: telling a UTR from an exon or
from intergenic DNA leans on the grammar (a UTR always flanks the first / last exon) and on
durations more than on composition, which is the situation where a duration model should
help most.

Duration laws (bp; log-normal(log median, sigma), then clipped to [low, high], rounded):
    exon        log-normal(log 150, 0.5)   clipped 30 - 500
    intron      log-normal(log 3000, 1.0)  clipped 100 - 10,000
    intergenic  log-normal(log 5000, 0.8)  clipped 500 - 20,000
    utr5        log-normal(log 200, 0.6)   clipped 20 - 1,000     (5-class only)
    utr3        log-normal(log 600, 0.7)   clipped 50 - 3,000     (5-class only)
`duration_scale` multiplies every median and clip bound (the log-normal's shape, sigma,
is unchanged, so on log-spaced bins the laws are the same shapes, shifted): the CPU report
uses a scaled-down genome so that whole genes fit in short sequences.

Sequence: each class emits bases from its own order-1 Markov chain (class base composition,
and CpG depletion in intergenic DNA and introns), so a single position carries a weak, noisy
signal and a window of positions a stronger one. `composition_strength` scales every class's
departure from uniform composition (0 = no signal, 1 = default). With `splice_motifs` every
intron starts with GT and ends with AG (the canonical splice donor / acceptor); GT and AG
also occur by chance everywhere else.

Tokens: 0 A, 1 C, 2 G, 3 T, 4 N (N only with `n_rate` > 0).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numba
import numpy as np
import pandas as pd
import torch

from genobench.paths import cache_dir

BASES = "ACGTN"
CLASSES = {3: ("intergenic", "exon", "intron"), 5: ("intergenic", "exon", "intron", "utr5", "utr3")}
INTERGENIC, EXON, INTRON, UTR5, UTR3 = range(5)
# onehot and kmer4 are computed from base tokens; frame_bins are the per-bin features that
# genobench.data.real_gene_structure stores in place of tokens (19 numbers per bin)
FEATURE_DIMS = {"onehot": 5, "kmer4": 256, "frame_bins": 19}
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class DurationLaw:
    """log-normal(log median, sigma) clipped to [low, high] and rounded to whole bp."""

    median: float
    sigma: float
    low: int
    high: int

    def scaled(self, scale: float) -> DurationLaw:
        low = max(1, int(round(self.low * scale)))
        return DurationLaw(
            self.median * scale, self.sigma, low, max(low, int(round(self.high * scale)))
        )

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        draw = rng.lognormal(np.log(self.median), self.sigma, size)
        return np.clip(np.rint(draw), self.low, self.high).astype(np.int64)


DURATION_LAWS = {
    "intergenic": DurationLaw(5000, 0.8, 500, 20000),
    "exon": DurationLaw(150, 0.5, 30, 500),
    "intron": DurationLaw(3000, 1.0, 100, 10000),
    "utr5": DurationLaw(200, 0.6, 20, 1000),
    "utr3": DurationLaw(600, 0.7, 50, 3000),
}

# Base composition (A, C, G, T) per class and CpG depletion (factor on P(G | previous C)).
COMPOSITION = {
    "intergenic": (0.31, 0.19, 0.19, 0.31),
    "exon": (0.23, 0.27, 0.27, 0.23),
    "intron": (0.27, 0.20, 0.19, 0.34),
    "utr5": (0.24, 0.27, 0.26, 0.23),
    "utr3": (0.30, 0.20, 0.19, 0.31),
}
CPG_FACTOR = {"intergenic": 0.35, "exon": 1.0, "intron": 0.5, "utr5": 0.9, "utr3": 0.6}
MIN_INTRON_WITH_MOTIFS = 4  # GT + AG


@dataclass(frozen=True)
class GeneStructureConfig:
    """Everything that determines a generated data set (its cache key)."""

    num_train: int = 64
    num_val: int = 16
    num_test: int = 16
    seq_length: int = 20000
    num_classes: int = 3
    seed: int = 0
    duration_scale: float = 1.0
    mean_introns: float = 3.0
    composition_strength: float = 1.0
    splice_motifs: bool = True
    n_rate: float = 0.0

    def __post_init__(self):
        if self.num_classes not in CLASSES:
            raise ValueError(f"num_classes must be 3 or 5, got {self.num_classes}")
        if self.seq_length < 2:
            raise ValueError(f"seq_length must be >= 2, got {self.seq_length}")
        if min(self.num_train, self.num_val, self.num_test) < 1:
            raise ValueError(
                "num_train, num_val and num_test must each be >= 1, got "
                f"{self.num_train}, {self.num_val}, {self.num_test}"
            )
        if self.duration_scale <= 0:
            raise ValueError(f"duration_scale must be > 0, got {self.duration_scale}")
        if self.mean_introns < 0:
            raise ValueError(f"mean_introns must be >= 0, got {self.mean_introns}")
        if self.composition_strength < 0:
            raise ValueError(f"composition_strength must be >= 0, got {self.composition_strength}")
        if not 0 <= self.n_rate < 1:
            raise ValueError(f"n_rate must be in [0, 1), got {self.n_rate}")

    @property
    def class_names(self) -> tuple[str, ...]:
        return CLASSES[self.num_classes]

    def laws(self) -> dict[str, DurationLaw]:
        """The duration law of each class at this config's `duration_scale`."""
        laws = {name: DURATION_LAWS[name].scaled(self.duration_scale) for name in self.class_names}
        if self.splice_motifs and laws["intron"].low < MIN_INTRON_WITH_MOTIFS:
            law = laws["intron"]
            laws["intron"] = DurationLaw(
                law.median, law.sigma, MIN_INTRON_WITH_MOTIFS, max(law.high, MIN_INTRON_WITH_MOTIFS)
            )
        return laws

    def key(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def markov_tables(class_names: tuple[str, ...], strength: float = 1.0) -> np.ndarray:
    """(C, 4, 4) order-1 transition tables P(next base | previous base) per class."""
    tables = np.empty((len(class_names), 4, 4))
    for c, name in enumerate(class_names):
        freq = 0.25 + strength * (np.asarray(COMPOSITION[name]) - 0.25)
        if (freq <= 0).any():
            raise ValueError(
                f"composition_strength {strength} makes a base frequency of "
                f"{name} <= 0; use a smaller value"
            )
        cpg = 1.0 + strength * (CPG_FACTOR[name] - 1.0)
        for prev in range(4):
            row = freq.copy()
            if prev == 1:  # C -> G
                row[2] *= max(cpg, 0.01)
            tables[c, prev] = row / row.sum()
    return tables


def gene_path(
    rng: np.random.Generator,
    laws: dict[str, DurationLaw],
    num_classes: int,
    mean_introns: float,
    min_length: int,
) -> list[tuple[int, int]]:
    """(label, duration) segments of consecutive genes, each followed by intergenic DNA,
    until their total reaches `min_length` (the caller puts intergenic DNA in front)."""
    names = CLASSES[num_classes]
    index = {name: i for i, name in enumerate(names)}
    stop = 1.0 / (1.0 + mean_introns)  # geometric number of introns with this mean
    segments: list[tuple[int, int]] = []
    total = 0

    def add(name: str) -> None:
        nonlocal total
        duration = int(laws[name].sample(rng))
        segments.append((index[name], duration))
        total += duration

    while total < min_length:
        if num_classes == 5:
            add("utr5")
        add("exon")
        for _ in range(int(rng.geometric(stop)) - 1):
            add("intron")
            add("exon")
        if num_classes == 5:
            add("utr3")
        add("intergenic")
    return segments


@numba.njit(cache=True)
def _sample_bases(
    labels: np.ndarray, cum_tables: np.ndarray, uniforms: np.ndarray, first: int
) -> np.ndarray:
    out = np.empty(labels.shape[0], dtype=np.uint8)
    prev = first
    for i in range(labels.shape[0]):
        row = cum_tables[labels[i], prev]
        b = 0
        while b < 3 and uniforms[i] > row[b]:
            b += 1
        out[i] = b
        prev = b
    return out


def make_sequence(
    config: GeneStructureConfig, rng: np.random.Generator, tables: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """One window of `seq_length` bp: tokens (T,), labels (T,) and its segments.

    The window starts at a uniformly random point of the first intergenic region, so a
    sequence does not always begin with a whole intergenic region. The segments table holds
    every segment overlapping the window with its full sampled duration (start may be < 0
    and end > T for the two cut at the window's edges; `truncated` marks them).
    """
    laws = config.laws()
    tables = (
        markov_tables(config.class_names, config.composition_strength) if tables is None else tables
    )
    first_intergenic = int(laws["intergenic"].sample(rng))
    offset = int(rng.integers(0, first_intergenic))
    path = gene_path(
        rng,
        laws,
        config.num_classes,
        config.mean_introns,
        offset + config.seq_length - first_intergenic,
    )
    path = [(INTERGENIC, first_intergenic)] + path
    labels_full = np.repeat(
        np.array([lab for lab, _ in path], dtype=np.int64),
        np.array([dur for _, dur in path], dtype=np.int64),
    )
    labels = labels_full[offset : offset + config.seq_length]
    cum_tables = np.cumsum(tables, axis=2)
    tokens = _sample_bases(
        labels.astype(np.int64), cum_tables, rng.random(labels.shape[0]), int(rng.integers(4))
    )
    rows = []
    start = -offset
    for label, duration in path:
        end = start + duration
        if end > 0 and start < config.seq_length:
            rows.append((label, start, end, duration, bool(start < 0 or end > config.seq_length)))
            if config.splice_motifs and label == INTRON:
                for pos, base in ((start, 2), (start + 1, 3), (end - 2, 0), (end - 1, 2)):
                    if 0 <= pos < config.seq_length:  # G T ... A G
                        tokens[pos] = base
        start = end
        if start >= config.seq_length:
            break
    if config.n_rate > 0:
        tokens[rng.random(tokens.shape[0]) < config.n_rate] = 4
    segments = pd.DataFrame(rows, columns=["label", "start", "end", "duration", "truncated"])
    return tokens, labels.astype(np.uint8), segments


@dataclass
class Split:
    """One split: tokens and labels (N, T) uint8, and the segments of every sequence."""

    name: str
    tokens: np.ndarray
    labels: np.ndarray
    segments: pd.DataFrame = field(repr=False)

    def __len__(self) -> int:
        return self.tokens.shape[0]

    @property
    def lengths(self) -> np.ndarray:
        return np.full(len(self), self.tokens.shape[1], dtype=np.int64)


@dataclass
class GeneStructureData:
    """Train, val and test splits of one config, and where they are stored."""

    config: GeneStructureConfig
    splits: dict[str, Split]
    path: Path | None = None

    def __getitem__(self, name: str) -> Split:
        return self.splits[name]

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.config.class_names

    def laws(self) -> dict[str, DurationLaw]:
        """The duration law of each class."""
        return self.config.laws()

    def true_durations(self) -> pd.DataFrame:
        """Every sampled segment duration overlapping a window: split, sequence, class, ..."""
        frames = [split.segments.assign(split=name) for name, split in self.splits.items()]
        table = pd.concat(frames, ignore_index=True)
        table["class"] = [self.class_names[i] for i in table["label"]]
        return table


def generate(config: GeneStructureConfig) -> GeneStructureData:
    """Generate the three splits, seeded: one random stream per split, independent of the
    others' sizes."""
    tables = markov_tables(config.class_names, config.composition_strength)
    splits = {}
    for i, (name, count) in enumerate(
        zip(SPLITS, (config.num_train, config.num_val, config.num_test))
    ):
        rng = np.random.default_rng([config.seed, i])
        tokens = np.empty((count, config.seq_length), dtype=np.uint8)
        labels = np.empty((count, config.seq_length), dtype=np.uint8)
        frames = []
        for n in range(count):
            tokens[n], labels[n], segs = make_sequence(config, rng, tables)
            frames.append(segs.assign(sequence=n))
        splits[name] = Split(name, tokens, labels, pd.concat(frames, ignore_index=True))
    return GeneStructureData(config, splits)


def save(data: GeneStructureData, path: str | Path, overwrite: bool = True) -> Path:
    """Write the splits (npz), their segments with the true durations (csv) and the config
    (json) into `path`, atomically (a temporary folder renamed into place).

    With `overwrite=False` an existing complete folder is kept (another process saved the
    same splits first) and this copy is dropped.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        for name, split in data.splits.items():
            np.savez_compressed(tmp / f"{name}.npz", tokens=split.tokens, labels=split.labels)
        data.true_durations().to_csv(tmp / "durations.csv", index=False)
        (tmp / "config.json").write_text(json.dumps(asdict(data.config), indent=2, sort_keys=True))
        if path.exists() and not overwrite:
            shutil.rmtree(tmp)
        else:
            if path.exists():
                shutil.rmtree(path)
            try:
                os.replace(tmp, path)
            except OSError:  # a concurrent writer put a complete copy there first
                if overwrite or not (path / "config.json").is_file():
                    raise
                shutil.rmtree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    data.path = path
    return path


def load(path: str | Path) -> GeneStructureData:
    """Read splits written by `save`."""
    path = Path(path)
    config = GeneStructureConfig(**json.loads((path / "config.json").read_text()))
    durations = pd.read_csv(path / "durations.csv")
    splits = {}
    for name in SPLITS:
        with np.load(path / f"{name}.npz") as arrays:
            segs = durations[durations["split"] == name].drop(columns=["split", "class"])
            splits[name] = Split(
                name, arrays["tokens"], arrays["labels"], segs.reset_index(drop=True)
            )
    return GeneStructureData(config, splits, path)


def load_or_generate(
    config: GeneStructureConfig, root: str | Path | None = None
) -> GeneStructureData:
    """The splits of `config`, from `<root>/<config key>/` when there, else generated and saved.

    `root` defaults to `<genobench cache>/gene_structure`.
    """
    root = Path(root) if root is not None else cache_dir() / "gene_structure"
    path = root / config.key()
    if (path / "config.json").is_file():
        return load(path)
    data = generate(config)
    save(data, path, overwrite=False)  # parallel runs of one setting may race here
    return data


# ----------------------------------------------------------------------------- features


def onehot_features(tokens: torch.Tensor) -> torch.Tensor:
    """(B, T) int tokens -> (B, T, 5) one-hot A/C/G/T/N, float32."""
    return torch.nn.functional.one_hot(tokens.long(), 5).float()


def kmer_features(tokens: torch.Tensor, k: int = 4, window: int = 32) -> torch.Tensor:
    """(B, T) tokens -> (B, T, 4**k) k-mer frequencies in a sliding window.

    Position i gets the frequencies of the k-mers starting in [i - window//2, i + window//2)
    (clipped to the sequence); k-mers holding an N are skipped. Each row sums to 1 (0 where
    the window holds no valid k-mer).
    """
    tokens = tokens.long()
    batch, length = tokens.shape
    n_kmers = length - k + 1
    if n_kmers < 1:
        return torch.zeros(batch, length, 4**k)
    index = torch.zeros(batch, n_kmers, dtype=torch.long)
    valid = torch.ones(batch, n_kmers, dtype=torch.bool)
    for j in range(k):
        part = tokens[:, j : j + n_kmers]
        valid &= part < 4
        index = index * 4 + part.clamp(max=3)
    counts = torch.zeros(batch, length, 4**k)
    counts[:, :n_kmers].scatter_(2, index[..., None], valid[..., None].float())
    cum = torch.nn.functional.pad(counts.cumsum(1), (0, 0, 1, 0))
    pos = torch.arange(length)
    lo = (pos - window // 2).clamp(min=0)
    hi = (pos + (window - window // 2)).clamp(max=length)
    window_counts = cum[:, hi] - cum[:, lo]
    total = window_counts.sum(-1, keepdim=True)
    return window_counts / total.clamp(min=1.0)


def featurize(tokens: torch.Tensor, kind: str = "onehot", kmer_window: int = 32) -> torch.Tensor:
    """Features of a batch of tokens: `onehot` (5 dims) or `kmer4` (256 dims); `frame_bins`
    takes (B, T, 19) features stored in place of tokens (real gene structure) as they are."""
    stored = tokens.dim() == 3
    if stored != (kind == "frame_bins"):
        raise ValueError(
            f"features {kind!r} do not fit these splits: "
            + (
                "real gene-structure splits carry per-bin features; set features to 'frame_bins'"
                if stored
                else "'frame_bins' needs the splits of a real genome (real_genes)"
            )
        )
    if stored:
        return tokens.float()
    if kind == "onehot":
        return onehot_features(tokens)
    if kind == "kmer4":
        return kmer_features(tokens, 4, kmer_window)
    raise ValueError(f"unknown features {kind!r}; choose one of {', '.join(FEATURE_DIMS)}")
