"""A real-genome variant task: single-nucleotide changes in genes called on a genome.

Each variant changes one base of an internal codon (not the start codon, not the stop)
of a complete gene predicted by Prodigal (`genobench.data.genes`), and its consequence
follows from the genetic code (table 11) on the gene's own strand:

- `stop_gain`: the codon becomes a stop codon (label 1: the protein is truncated);
- `synonymous`: the codon still codes for the same amino acid (label 0);
- `missense`: another amino acid (label 1, only when asked for).

Positions, ref and alt are on the forward strand of the genome, as in a VCF: for a gene
on the minus strand the coding base is the complement of the genome's base. Sampling is
seeded: codons are drawn uniformly over all internal codons of the genome's complete
genes, and from each drawn codon one change of each wanted consequence (when it has
one), until every class has `n_per_class` variants. `region_type` is the gene's strand
(`plus-strand gene` / `minus-strand gene`), so the metrics per region type tell whether a
model trained on the forward strand reads minus-strand genes as well.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genobench.data.genes import CODON_TABLE, STOP, cached_genes, genome_digest
from genobench.paths import cache_dir

CONSEQUENCE_LABEL = {"stop_gain": 1, "missense": 1, "synonymous": 0}
REGION = {1: "plus-strand gene", -1: "minus-strand gene"}
_COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A"}


def codon_change(codon: str, offset: int, base: str) -> str | None:
    """Consequence of putting `base` at `offset` (0-2) of a sense `codon`: stop_gain,
    synonymous or missense; None when the codon is a stop codon, holds a non-ACGT letter,
    or `base` is already there."""
    if CODON_TABLE.get(codon, STOP) == STOP or codon[offset] == base:
        return None
    alt = CODON_TABLE.get(codon[:offset] + base + codon[offset + 1 :])
    if alt is None:
        return None
    aa = CODON_TABLE[codon]
    return "stop_gain" if alt == STOP else "synonymous" if alt == aa else "missense"


def genome_position(gene, codon_index: int, offset: int) -> int:
    """0-based forward-strand position of base `offset` of codon `codon_index` (0 = the
    start codon) of `gene` (start, end 0-based half-open, strand +1 / -1)."""
    j = 3 * codon_index + offset
    return gene.start + j if gene.strand == 1 else gene.end - 1 - j


@dataclass(frozen=True)
class VariantTaskSpec:
    """Settings of the real variant task (see the module docstring)."""

    n_per_class: int = 200
    missense: bool = False
    seed: int = 0

    def __post_init__(self):
        if self.n_per_class < 1:
            raise ValueError(f"n_per_class must be >= 1, got {self.n_per_class}")


def gene_variants(
    genome: dict[str, str], genes: pd.DataFrame, spec: VariantTaskSpec = VariantTaskSpec()
) -> pd.DataFrame:
    """The variant table (chrom, pos 1-based, ref, alt, label, region_type, consequence,
    gene_id, codon_index, ref_codon, alt_codon) drawn from the complete `genes`."""
    wanted = ["stop_gain", "synonymous"] + (["missense"] if spec.missense else [])
    complete = genes[~genes["partial"].astype(bool)].reset_index(drop=True)
    n_codons = ((complete["end"] - complete["start"]) // 3 - 2).clip(lower=0).to_numpy()
    if n_codons.sum() == 0:
        raise ValueError("no complete gene with an internal codon: nothing to mutate")
    rng = np.random.default_rng(spec.seed)
    rows, seen = {c: [] for c in wanted}, set()
    cum = np.cumsum(n_codons)
    budget = int(50 * spec.n_per_class * len(wanted))  # codon draws before giving up
    for _ in range(budget):
        if all(len(v) >= spec.n_per_class for v in rows.values()):
            break
        k = int(rng.integers(cum[-1]))
        g = int(np.searchsorted(cum, k, side="right"))
        gene = complete.iloc[g]
        index = 1 + k - (cum[g - 1] if g else 0)  # codon 1 .. n-2
        bases = [genome[gene.contig][genome_position(gene, index, o)] for o in range(3)]
        codon = "".join(bases if gene.strand == 1 else [_COMPLEMENT.get(b, "N") for b in bases])
        changes = [(o, b, codon_change(codon, o, b)) for o in range(3) for b in "ACGT"]
        for consequence in wanted:
            options = [(o, b) for o, b, c in changes if c == consequence]
            if not options or len(rows[consequence]) >= spec.n_per_class:
                continue
            o, b = options[int(rng.integers(len(options)))]
            pos0 = genome_position(gene, index, o)
            ref = genome[gene.contig][pos0]
            alt = b if gene.strand == 1 else _COMPLEMENT[b]
            if (gene.contig, pos0, alt) in seen:
                continue
            seen.add((gene.contig, pos0, alt))
            rows[consequence].append(
                {
                    "chrom": gene.contig,
                    "pos": pos0 + 1,
                    "ref": ref,
                    "alt": alt,
                    "label": CONSEQUENCE_LABEL[consequence],
                    "region_type": REGION[gene.strand],
                    "consequence": consequence,
                    "gene_id": gene.gene_id,
                    "codon_index": index,
                    "ref_codon": codon,
                    "alt_codon": codon[:o] + b + codon[o + 1 :],
                }
            )
    short = {c: len(v) for c, v in rows.items() if len(v) < spec.n_per_class}
    if short:
        raise ValueError(
            f"the genome's genes gave too few variants of class(es) {short} for "
            f"n_per_class {spec.n_per_class}; lower n_per_class"
        )
    table = pd.DataFrame([r for c in wanted for r in rows[c]])
    return table.sort_values(["chrom", "pos", "alt"], ignore_index=True)


def variant_task_files(
    genome: dict[str, str],
    spec: VariantTaskSpec = VariantTaskSpec(),
    root: str | Path | None = None,
) -> dict[str, Path]:
    """Write the reference FASTA and the variants CSV of `genome` into
    `<root or cache>/real_variants/<key>/` (once) and return {"genome", "variants",
    "genes"} paths."""
    from genobench.data.planted_genome import write_fasta

    settings = json.dumps(asdict(spec), sort_keys=True).encode()
    key = genome_digest(genome) + "-" + hashlib.sha1(settings).hexdigest()[:8]
    folder = Path(root or cache_dir() / "real_variants") / key
    files = {
        "genome": folder / "genome.fna",
        "variants": folder / "variants.csv",
        "genes": folder / "genes.csv",
    }
    if all(p.is_file() for p in files.values()):
        return files
    genes = cached_genes(genome)
    table = gene_variants(genome, genes, spec)
    tmp = folder.with_name(folder.name + f".{np.random.default_rng().integers(1 << 30)}.tmp")
    tmp.mkdir(parents=True)
    write_fasta(genome.items(), tmp / "genome.fna")
    table.to_csv(tmp / "variants.csv", index=False)
    genes.to_csv(tmp / "genes.csv", index=False)
    if folder.exists():  # another run wrote the same files first
        shutil.rmtree(tmp)
    else:
        tmp.rename(folder)
    return files


def real_variant_files(
    genome: str, n_per_class: int = 200, missense: bool = False, seed: int = 0
) -> dict[str, Path]:
    """`variant_task_files` of a packaged genome (or a FASTA path) by name."""
    from genobench.data.genes import load_genome

    return variant_task_files(load_genome(genome), VariantTaskSpec(n_per_class, missense, seed))


def variant_datasets(genome: str, missense: bool = False) -> pd.DataFrame:
    """The provenance row of the real variant task (`genobench.data.provenance`)."""
    from genobench.data.packaged import DATASETS
    from genobench.data.provenance import dataset_table

    how = (
        "Prodigal gene calls (pyrodigal, single mode, closed ends); one base changed in "
        "internal codons of complete genes, consequence by genetic code 11 on the gene's "
        "strand: stop-gain = 1, synonymous = 0" + (", missense = 1" if missense else "")
    )
    return dataset_table([("reference and variants", genome, how)] if genome in DATASETS else [])
