"""A synthetic genome with planted functional elements, and labelled variants on it.

The default input of the zero-shot variant-effect benchmark. Each chromosome is a
run of genes separated by intergenic spacers:

    spacer (CTCF-like sites) | promoter (CAAT, TATA) | exon | intron | exon | ... | spacer

Background DNA is sampled from order-2 Markov chains (one for non-coding DNA, a
GC-richer one for exons). Functional elements are sampled from position weight
matrices (PWMs) and written over the background: splice donors and acceptors at
every exon/intron boundary, a CAAT box and a TATA box in every promoter, CTCF-like
sites in the spacers and a P-loop (Walker A)-like motif in some exons.

Each PWM position is either *core* (the consensus base with probability `core_p`)
or *flank* (consensus with probability `flank_p`). A variant is labelled
pathogenic (1) when it changes a core base of a planted motif away from the
consensus, and benign (0) elsewhere in the same region types (flank positions of
motifs included). Region types: coding (exons), splice (within `splice_flank` bp of
an exon/intron boundary), promoter, intergenic.

Background DNA has strong dinucleotide structure (see `background_chains`): a tiny
model picks that up in a few dozen training steps, and what remains to learn is the
motifs. With `core_p` = 1 every planted core carries the consensus base.

Everything is a function of the settings and the seed: the same call gives the same
genome, elements and variants.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genobench.data.fasta import write_fasta
from genobench.data.metagenome import sample_genome
from genobench.paths import cache_dir
from genobench.report.results import atomic_write_csv, atomic_write_json

REGION_TYPES = ("coding", "splice", "promoter", "intergenic")
BASES = "ACGT"


@dataclass(frozen=True)
class Motif:
    """A planted element: consensus string, which positions are core, and its region type."""

    name: str
    consensus: str
    core: tuple[int, ...]  # 0-based indices into consensus
    region: str

    def pwm(self, core_p: float, flank_p: float) -> np.ndarray:
        """(len, 4) position weight matrix: consensus base gets core_p or flank_p."""
        pwm = np.empty((len(self.consensus), 4))
        for i, base in enumerate(self.consensus):
            p = core_p if i in self.core else flank_p
            pwm[i] = (1 - p) / 3
            pwm[i, BASES.index(base)] = p
        return pwm


# Consensus sequences after the classical elements (forward strand only).
MOTIFS = {
    # exon end | intron start: MAG|GTRAGT; the invariant GT and the +5 G are core
    "splice_donor": Motif("splice_donor", "CAGGTAAGT", (3, 4, 7), "splice"),
    # polypyrimidine tract, then the invariant AG | exon start
    "splice_acceptor": Motif("splice_acceptor", "TTCTTTCCCTTTCAGG", (13, 14), "splice"),
    "tata_box": Motif("tata_box", "GTATAAAAGG", (1, 2, 3, 4, 5, 6), "promoter"),
    "caat_box": Motif("caat_box", "GGCCAATCT", (3, 4, 5, 6), "promoter"),
    "ctcf": Motif("ctcf", "CCGCGAGGGGGCGCT", (0, 1, 3, 7, 8, 9, 10, 11, 12), "intergenic"),
    # codons of G-x-x-x-x-G-K-T/S (Walker A); the G...GKT codons are core
    "ploop": Motif("ploop", "GGCCCGAACGGCTCCGGCAAGACC", (0, 1, 15, 16, 18, 19, 20, 22), "coding"),
}


@dataclass(frozen=True)
class PlantedGenomeSpec:
    """Settings of a planted genome and its variant set (defaults: the cpu report)."""

    n_chromosomes: int = 2
    genes_per_chromosome: int = 60
    exons_per_gene: tuple[int, int] = (2, 4)
    exon_length: tuple[int, int] = (90, 160)
    intron_length: tuple[int, int] = (60, 140)
    spacer_length: tuple[int, int] = (150, 300)
    promoter_length: int = 100
    ctcf_per_spacer: int = 3
    ploop_fraction: float = 0.8  # of exons carrying a P-loop motif
    background_bias: float = (
        1.5  # Dirichlet concentration of the background chains (lower: stronger k-mer bias)
    )
    core_p: float = 1.0  # probability of the consensus base at a core position
    flank_p: float = 0.85  # ... at a flank position
    splice_flank: int = 20
    n_pathogenic_per_region: int = 40
    n_benign_per_region: int = 80
    seed: int = 0

    def key(self) -> str:
        """Short stable hash of the settings, used as the cache folder name."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:12]


@dataclass
class PlantedGenome:
    """Chromosome sequences, the planted elements and the labelled variants."""

    chromosomes: dict[str, str]
    elements: pd.DataFrame  # chrom, start, end (0-based, half-open), motif, region, core (list)
    regions: pd.DataFrame  # chrom, start, end (0-based, half-open), region
    variants: pd.DataFrame  # chrom, pos (1-based), ref, alt, label, region_type, motif


def background_chains(bias: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Order-2 transition tables (16, 4) of the non-coding and the (GC-richer) coding DNA.

    Rows are drawn around a per-last-base parent row, so the chain has a strong
    first-order (dinucleotide) component that models pick up quickly, refined by the
    base before it. `bias` is the parents' Dirichlet concentration (lower: stronger bias).
    """
    rng = np.random.default_rng(seed + 7919)
    tables = []
    for gc in (0.42, 0.58):
        base = np.array([1 - gc, gc, gc, 1 - gc]) / 2
        parents = rng.dirichlet(bias * 4 * base, size=4)
        rows = [rng.dirichlet(30 * parents[ctx % 4] + 1e-3) for ctx in range(16)]
        tables.append(np.array(rows))
    return tables[0], tables[1]


def _sample_motif(pwm: np.ndarray, rng: np.random.Generator) -> str:
    return "".join(BASES[rng.choice(4, p=row)] for row in pwm)


def make_planted_genome(spec: PlantedGenomeSpec = PlantedGenomeSpec()) -> PlantedGenome:
    """Generate the genome, its annotation and the labelled variants for `spec`."""
    rng = np.random.default_rng(spec.seed)
    noncoding_chain, coding_chain = background_chains(spec.background_bias, spec.seed)
    pwms = {name: m.pwm(spec.core_p, spec.flank_p) for name, m in MOTIFS.items()}

    def lo_hi(r):
        return int(rng.integers(r[0], r[1] + 1))

    chromosomes, elements, regions = {}, [], []
    for c in range(spec.n_chromosomes):
        chrom = f"chr{c + 1}"
        parts: list[str] = []
        pos = 0

        def add(seq: str, region: str | None) -> int:
            nonlocal pos
            start = pos
            parts.append(seq)
            pos += len(seq)
            if region is not None:
                regions.append((chrom, start, pos, region))
            return start

        def plant(start: int, name: str) -> None:
            seq = _sample_motif(pwms[name], rng)  # written over the background at the end
            elements.append((chrom, start, start + len(seq), name, MOTIFS[name].region, seq))

        for g in range(spec.genes_per_chromosome + 1):
            spacer = sample_genome(noncoding_chain, lo_hi(spec.spacer_length), rng)
            s0 = add(spacer, "intergenic")
            L = len(MOTIFS["ctcf"].consensus)
            slots = np.sort(
                rng.choice(
                    np.arange(10, len(spacer) - L - 10, L + 5),
                    size=spec.ctcf_per_spacer,
                    replace=False,
                )
            )
            for off in slots:
                plant(s0 + int(off), "ctcf")
            if g == spec.genes_per_chromosome:
                break  # chromosome ends with a spacer
            promoter = sample_genome(noncoding_chain, spec.promoter_length, rng)
            p0 = add(promoter, "promoter")
            plant(p0 + spec.promoter_length - 75, "caat_box")
            plant(p0 + spec.promoter_length - 35, "tata_box")
            n_exons = lo_hi(spec.exons_per_gene)
            for e in range(n_exons):
                exon = sample_genome(coding_chain, lo_hi(spec.exon_length), rng)
                e0 = add(exon, "coding")
                if rng.random() < spec.ploop_fraction:
                    L = len(MOTIFS["ploop"].consensus)
                    off = int(
                        rng.integers(spec.splice_flank + 5, len(exon) - L - spec.splice_flank - 5)
                    )
                    plant(e0 + off, "ploop")
                if e > 0:  # acceptor: ...CAG|G with the G the first exon base
                    plant(e0 - len(MOTIFS["splice_acceptor"].consensus) + 1, "splice_acceptor")
                if e < n_exons - 1:
                    intron = sample_genome(noncoding_chain, lo_hi(spec.intron_length), rng)
                    i0 = add(intron, None)
                    plant(i0 - 3, "splice_donor")  # CAG|GTAAGT: 3 exon bases, 6 intron
        chromosomes[chrom] = "".join(parts)

    # write the motif instances over the background
    seqs = {c: bytearray(s.encode()) for c, s in chromosomes.items()}
    for chrom, start, end, _, _, seq in elements:
        seqs[chrom][start:end] = seq.encode()
    chromosomes = {c: s.decode() for c, s in seqs.items()}
    elements_df = pd.DataFrame(
        elements, columns=["chrom", "start", "end", "motif", "region", "seq"]
    )
    regions_df = pd.DataFrame(regions, columns=["chrom", "start", "end", "region"])
    regions_df = _with_splice_regions(regions_df, spec.splice_flank)
    variants = _sample_variants(chromosomes, elements_df, regions_df, spec, rng)
    return PlantedGenome(chromosomes, elements_df, regions_df, variants)


def _with_splice_regions(regions: pd.DataFrame, flank: int) -> pd.DataFrame:
    """Add `splice` intervals of +-flank bp around every exon/intron boundary."""
    rows = []
    for chrom, group in regions[regions["region"] == "coding"].groupby("chrom"):
        exons = group.sort_values("start").to_numpy()
        for (_, _, e1, _), (_, s2, _, _) in zip(exons[:-1], exons[1:]):
            if s2 > e1:  # an intron between two exons of a gene
                rows.append((chrom, e1 - flank, e1 + flank, "splice"))
                rows.append((chrom, s2 - flank, s2 + flank, "splice"))
    return pd.concat([regions, pd.DataFrame(rows, columns=regions.columns)], ignore_index=True)


def _region_mask(length: int, intervals: pd.DataFrame) -> np.ndarray:
    mask = np.zeros(length, dtype=bool)
    for start, end in zip(intervals["start"], intervals["end"]):
        mask[max(start, 0) : min(end, length)] = True
    return mask


def _sample_variants(
    chromosomes: dict[str, str],
    elements: pd.DataFrame,
    regions: pd.DataFrame,
    spec: PlantedGenomeSpec,
    rng: np.random.Generator,
) -> pd.DataFrame:
    rows = []
    core_masks = {}
    for chrom, seq in chromosomes.items():
        core = np.zeros(len(seq), dtype=bool)
        here = elements[elements["chrom"] == chrom]
        for start, name in zip(here["start"], here["motif"]):
            core[[int(start) + i for i in MOTIFS[name].core]] = True
        core_masks[chrom] = core
    for region in REGION_TYPES:
        # pathogenic: a core base of a motif of this region type, changed away from consensus
        motifs = elements[elements["region"] == region].reset_index(drop=True)
        chosen = rng.choice(
            len(motifs), size=min(spec.n_pathogenic_per_region, len(motifs)), replace=False
        )
        for i in np.sort(chosen):
            chrom, start, name = motifs.loc[i, ["chrom", "start", "motif"]]
            seq = chromosomes[chrom]
            intact = [
                i for i in MOTIFS[name].core if seq[int(start) + i] == MOTIFS[name].consensus[i]
            ]
            if not intact:  # possible only with core_p < 1
                continue
            pos0 = int(start) + int(rng.choice(intact))
            ref = seq[pos0]
            alt = str(rng.choice([b for b in BASES if b != ref]))
            rows.append((chrom, pos0 + 1, ref, alt, 1, region, name))
        # benign: anywhere else in the region type, never a motif core base
        candidates = []
        for chrom, seq in chromosomes.items():
            in_region = _region_mask(
                len(seq), regions[(regions["chrom"] == chrom) & (regions["region"] == region)]
            )
            # splice windows overlap exon/intron edges: label those positions splice only
            if region != "splice":
                splice = _region_mask(
                    len(seq), regions[(regions["chrom"] == chrom) & (regions["region"] == "splice")]
                )
                in_region &= ~splice
            ok = np.flatnonzero(in_region & ~core_masks[chrom])
            candidates += [(chrom, int(p)) for p in ok]
        picks = rng.choice(len(candidates), size=spec.n_benign_per_region, replace=False)
        for j in np.sort(picks):
            chrom, pos0 = candidates[j]
            ref = chromosomes[chrom][pos0]
            alt = str(rng.choice([b for b in BASES if b != ref]))
            rows.append((chrom, pos0 + 1, ref, alt, 0, region, ""))
    variants = pd.DataFrame(
        rows, columns=["chrom", "pos", "ref", "alt", "label", "region_type", "motif"]
    )
    variants = variants.drop_duplicates(["chrom", "pos"]).sort_values(["chrom", "pos"])
    return variants.reset_index(drop=True)


def planted_genome_files(
    spec: PlantedGenomeSpec = PlantedGenomeSpec(), directory: str | Path | None = None
) -> dict[str, Path]:
    """Write (once) the planted genome for `spec` and return its file paths.

    Files: `genome.fa`, `variants.csv` (chrom, pos, ref, alt, label, region_type,
    motif), `elements.csv`, `regions.csv` and `spec.json`, in a folder named by the
    settings' hash under the genobench cache.
    """
    folder = Path(directory or cache_dir() / "data" / f"planted_genome_{spec.key()}")
    paths = {
        name: folder / name
        for name in ("genome.fa", "variants.csv", "elements.csv", "regions.csv", "spec.json")
    }
    if not paths["spec.json"].exists():
        genome = make_planted_genome(spec)
        write_fasta(genome.chromosomes.items(), paths["genome.fa"])
        atomic_write_csv(genome.variants, paths["variants.csv"])
        atomic_write_csv(genome.elements, paths["elements.csv"])
        atomic_write_csv(genome.regions, paths["regions.csv"])
        atomic_write_json(asdict(spec), paths["spec.json"])  # last: marks the folder complete
    return {k.split(".")[0]: v for k, v in paths.items()}
