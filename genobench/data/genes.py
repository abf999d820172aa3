"""Gene calls on a genome with pyrodigal (Prodigal), and the genetic code.

`call_genes` trains Prodigal on the genome itself (single-genome mode, as `prodigal -p
single`; sequences under 100 kb in total use the metagenomic mode, which needs
no training) and returns one row per predicted gene: contig, gene_id, start (0-based),
end (exclusive), strand (+1 / -1), partial (a gene running off a contig end), start
codon, translation table and protein (no trailing stop). `cached_genes` keeps that
table under the genobench cache, keyed by the genome's content and the settings.

The genetic code: NCBI translation table 11 (bacteria, archaea and plastids), which
assigns amino acids exactly as the standard code (table 1); the two differ only in
which codons may start a gene.
"""

from __future__ import annotations

import hashlib
import json
from itertools import product
from pathlib import Path

import pandas as pd

from genobench.data.errors import InputError
from genobench.paths import cache_dir

GENE_COLUMNS = (
    "contig",
    "gene_id",
    "start",
    "end",
    "strand",
    "partial",
    "start_type",
    "translation_table",
    "protein",
)
MIN_TRAINING_BP = 100000  # below this, Prodigal advises the metagenomic mode
# NCBI translation table 1 / 11, codons in TCAG order (TTT, TTC, TTA, TTG, TCT, ...)
_AMINO = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
CODON_TABLE = {"".join(c): a for c, a in zip(product("TCAG", repeat=3), _AMINO)}
STOP = "*"
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")
IUPAC_DNA = "ACGTNRYSWKMBDHV"
_AMBIGUOUS_TO_N = str.maketrans("RYSWKMBDHV", "N" * 10)


def reverse_complement(seq: str) -> str:
    """Reverse complement of an A/C/G/T/N sequence."""
    return seq.translate(_COMPLEMENT)[::-1]


def translate(cds: str) -> str:
    """Amino acids of a coding sequence (length a multiple of 3), `*` for stops; codons
    with other letters than A/C/G/T give X."""
    if len(cds) % 3:
        raise ValueError(f"a coding sequence has a length divisible by 3, got {len(cds)}")
    return "".join(CODON_TABLE.get(cds[i : i + 3], "X") for i in range(0, len(cds), 3))


def load_genome(source: str | Path) -> dict[str, str]:
    """Contig name -> upper-case sequence of a packaged genome (a name in
    `genobench.data.packaged.DATASETS`) or a nucleotide FASTA path; IUPAC ambiguity codes
    become N. Raises InputError on letters that are no nucleotide code, naming the record."""
    from genobench.data.fasta import read_fasta
    from genobench.data.packaged import DATASETS, packaged_path

    path = packaged_path(str(source)) if str(source) in DATASETS else Path(source)
    genome = {}
    for rec in read_fasta(path):
        seq = rec.seq.upper()
        if not seq:
            raise InputError(
                f"{path}, record {rec.id!r} (line {rec.line}) is empty. Remove it or add "
                "its sequence on the lines after the header."
            )
        bad = set(seq) - set(IUPAC_DNA)
        if bad:
            raise InputError(
                f"{path}, record {rec.id!r} (line {rec.line}): letters "
                f"{''.join(sorted(bad))!r} are no nucleotide codes. A genome "
                f"FASTA holds {IUPAC_DNA} only."
            )
        genome[rec.id] = seq.translate(_AMBIGUOUS_TO_N)
    return genome


def call_genes(genome: dict[str, str], closed: bool = True) -> pd.DataFrame:
    """Prodigal gene calls on `genome` (contig name -> sequence), one row per gene.

    `closed=True` forbids genes running off contig ends (as `prodigal -c`). Single mode,
    trained on all contigs together, when they hold at least MIN_TRAINING_BP; else the
    metagenomic mode.
    """
    import pyrodigal

    total = sum(len(s) for s in genome.values())
    meta = total < MIN_TRAINING_BP
    finder = pyrodigal.GeneFinder(meta=meta, closed=closed)
    if not meta:
        finder.train(*genome.values())
    rows = []
    for contig, seq in genome.items():
        for i, gene in enumerate(finder.find_genes(seq), start=1):
            rows.append(
                (
                    contig,
                    f"{contig}_{i}",
                    gene.begin - 1,
                    gene.end,
                    gene.strand,
                    bool(gene.partial_begin or gene.partial_end),
                    gene.start_type,
                    gene.translation_table,
                    gene.translate().rstrip(STOP),
                )
            )
    return pd.DataFrame(rows, columns=list(GENE_COLUMNS))


def genome_digest(genome: dict[str, str]) -> str:
    """A short hash of a genome's contig names and sequences."""
    h = hashlib.sha1()
    for name, seq in genome.items():
        h.update(name.encode() + b"\0" + seq.encode() + b"\0")
    return h.hexdigest()[:16]


def cached_genes(genome: dict[str, str], closed: bool = True) -> pd.DataFrame:
    """`call_genes`, kept as CSV in `<cache>/genes/` after the first call."""
    import pyrodigal

    key = json.dumps(
        {"genome": genome_digest(genome), "closed": closed, "pyrodigal": pyrodigal.__version__},
        sort_keys=True,
    )
    path = cache_dir() / "genes" / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.csv"
    if path.is_file():
        return pd.read_csv(path, keep_default_na=False, dtype={"contig": str, "gene_id": str})
    table = call_genes(genome, closed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{id(table)}.tmp")
    table.to_csv(tmp, index=False)
    tmp.replace(path)
    return table


def coding_sequence(genome: dict[str, str], gene) -> str:
    """The gene's coding sequence 5'->3' on its own strand (start codon to stop codon)."""
    seq = genome[gene.contig][gene.start : gene.end]
    return seq if gene.strand == 1 else reverse_complement(seq)
