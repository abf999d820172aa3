"""Protein sequences: FASTA reading with validation, and seeded synthetic protein sets.

Two synthetic generators, both deterministic for a given seed:

- `synthetic_proteins`: random proteins of given lengths with a UniProt-like
  amino-acid composition, the input of the speed benchmark when no FASTA is given;
- `viral_host_proteins`: a labelled binary task, "viral" (label 1) versus "host"
  (label 0) proteins whose composition and short motifs differ. Each sequence's
  composition is jittered around its class's, and motifs are planted with a
  probability below one, so the classes overlap and the task is not trivial.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genobench.data.errors import InputError
from genobench.data.fasta import FastaRecord, open_text, parse_fasta

# The 20 standard amino acids, and the extra letters protein FASTA files use (and ESM's
# vocabulary has): X unknown, B Asx, Z Glx, U selenocysteine, O pyrrolysine.
STANDARD_AA = "ACDEFGHIKLMNPQRSTVWY"
EXTRA_AA = "XBZUO"
PROTEIN_ALPHABET = STANDARD_AA + EXTRA_AA
_VALID = re.compile(f"^[{PROTEIN_ALPHABET}]+$")

# Mean amino-acid frequencies of UniProtKB/Swiss-Prot (percent), in STANDARD_AA order.
BACKGROUND_PERCENT = {
    "A": 8.25,
    "C": 1.37,
    "D": 5.45,
    "E": 6.75,
    "F": 3.86,
    "G": 7.07,
    "H": 2.27,
    "I": 5.96,
    "K": 5.84,
    "L": 9.66,
    "M": 2.42,
    "N": 4.06,
    "P": 4.70,
    "Q": 3.93,
    "R": 5.53,
    "S": 6.56,
    "T": 5.34,
    "V": 6.87,
    "W": 1.08,
    "Y": 2.92,
}
# Multiplicative shifts of the "viral" class: richer in S/T/N/P/G (disordered, capsid-like
# regions), poorer in C/W/H/E; re-normalised afterwards.
VIRAL_SHIFT = {
    "S": 1.35,
    "T": 1.3,
    "N": 1.35,
    "P": 1.3,
    "G": 1.15,
    "Y": 1.15,
    "C": 0.7,
    "W": 0.75,
    "H": 0.8,
    "E": 0.85,
    "L": 0.9,
}
# Short motifs planted in each class (x = any residue). Viral: the RdRp "GDD" core,
# the Walker A P-loop of helicases, a furin-like cleavage site. Host: N-glycosylation
# sequon, an ER-retention tail, a C2H2 zinc-finger fragment.
VIRAL_MOTIFS = ("YGDD", "GxxxxGKS", "RRxR")
HOST_MOTIFS = ("NxSx", "KDEL", "CxxCxxxFxxxxxLxxH")


@dataclass(frozen=True)
class ProteinRecord:
    """One FASTA record: id (the header's first word), the whole header and the sequence."""

    id: str
    description: str
    seq: str


def _composition(shift: dict[str, float] | None = None, strength: float = 1.0) -> np.ndarray:
    p = np.array([BACKGROUND_PERCENT[a] for a in STANDARD_AA], dtype=float)
    if shift:
        p *= np.array([shift.get(a, 1.0) ** strength for a in STANDARD_AA])
    return p / p.sum()


# ---------------------------------------------------------------------------- FASTA


def _protein(rec: FastaRecord, source: str) -> ProteinRecord:
    seq = rec.seq.upper()
    if seq.endswith("*"):
        seq = seq[:-1]
    where = f"{source}, record {rec.id!r} (line {rec.line})"
    if not seq:
        raise InputError(
            f"{where}: empty sequence. Remove the record or add its "
            "sequence on the lines after the header."
        )
    if not _VALID.match(seq):
        pos = next(i for i, c in enumerate(seq) if c not in PROTEIN_ALPHABET)
        bad = "".join(sorted(set(seq) - set(PROTEIN_ALPHABET)))
        raise InputError(
            f"{where}: invalid character(s) {bad!r} (first at residue "
            f"{pos + 1}); a protein sequence may only use "
            f"{STANDARD_AA} and {EXTRA_AA} (any case). Is this a "
            "nucleotide FASTA, or does it contain gaps/stops?"
        )
    return ProteinRecord(rec.id, rec.description, seq)


def parse_proteins(text: str, source: str = "<string>") -> list[ProteinRecord]:
    """Protein records of FASTA text (read by `genobench.data.fasta.parse_fasta`), each
    validated; `source` names the text in error messages.

    Raises InputError naming the record (and line) on a record without sequence or a
    character outside the protein alphabet (the 20 standard amino acids and X, B, Z, U, O,
    any case), besides the FASTA errors, and on text with no records. One trailing `*` (a
    stop codon in translated FASTA) is removed; sequences are upper-cased.
    """
    records = [_protein(rec, source) for rec in parse_fasta(text.splitlines(), source)]
    if not records:
        raise InputError(
            f"{source}: no FASTA records found. Expected lines like '>id' "
            "followed by the protein sequence."
        )
    return records


def read_proteins(path: str | Path) -> list[ProteinRecord]:
    """Read and validate a protein FASTA file, gzipped or not (see `parse_proteins`)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file. Pass the path of a protein FASTA file.")
    with open_text(path) as fh:
        return parse_proteins(fh.read(), source=str(path))


def header_field(record: ProteinRecord, key: str) -> str | None:
    """Value of a `key=value` word in a record's header, or None."""
    for word in record.description.split()[1:]:
        if word.startswith(f"{key}="):
            return word[len(key) + 1 :]
    return None


def labelled_fasta(path: str | Path, key: str = "label") -> pd.DataFrame:
    """A two-class FASTA (each header has `label=<class>`) as a table id, seq, label, label_name.

    Class names are sorted; the second becomes label 1 (the positive class), unless
    the names are 0/1, viral/host or positive/negative, which map the obvious way.
    """
    records = read_proteins(path)
    names = []
    for rec in records:
        value = header_field(rec, key)
        if value is None:
            raise InputError(
                f"{path}, record {rec.id!r}: no '{key}=<class>' in its header. "
                f"Every record of a validation FASTA needs one, e.g. "
                f"'>{rec.id} {key}=viral'."
            )
        names.append(value)
    classes = sorted(set(names))
    if len(classes) != 2:
        raise InputError(
            f"{path}: the validation task is binary but the headers name "
            f"{len(classes)} class(es): {', '.join(classes)}."
        )
    for neg, pos in (("0", "1"), ("host", "viral"), ("negative", "positive")):
        if set(classes) == {neg, pos}:
            classes = [neg, pos]
    return pd.DataFrame(
        {
            "id": [r.id for r in records],
            "seq": [r.seq for r in records],
            "label": [classes.index(n) for n in names],
            "label_name": names,
        }
    )


# ------------------------------------------------------------------------- real


def protein_records(source: str | Path) -> list[ProteinRecord]:
    """Proteins of `source`: a packaged protein set (`genobench.data.packaged`), the
    Prodigal gene calls of a packaged genome, or a protein FASTA path."""
    from genobench.data.packaged import DATASETS, packaged_path

    if str(source) not in DATASETS:
        return read_proteins(source)
    if DATASETS[str(source)].kind == "proteins":
        return read_proteins(packaged_path(str(source)))
    from genobench.data.genes import cached_genes, load_genome

    genes = cached_genes(load_genome(source))
    return [
        ProteinRecord(g.gene_id, f"{g.gene_id} strand={g.strand} start={g.start}", g.protein)
        for g in genes.itertuples()
    ]


def quantile_buckets(records: list[ProteinRecord], quantiles) -> list[int]:
    """Bucket lengths at the given quantiles (0-1) of the records' lengths (distinct, sorted)."""
    lengths = np.array([len(r.seq) for r in records])
    return sorted({int(round(v)) for v in np.quantile(lengths, list(quantiles))})


def phage_host_proteins(
    phages, host, n_per_class: int = 150, seed: int = 0, min_length: int = 40, max_length: int = 250
) -> pd.DataFrame:
    """A real binary task: phage proteins (label 1, "viral") vs bacterial proteins (label 0,
    "host"), both sources as `protein_records` takes them.

    Phage proteins with lengths in [min_length, max_length] are drawn (seeded, at most
    `n_per_class`); each is paired with the not yet used host protein nearest in length, so
    both classes have the same length distribution and length alone cannot tell them
    apart. Columns: id, seq, label, label_name, source; rows shuffled.
    """

    def in_range(recs):
        return [r for r in recs if min_length <= len(r.seq) <= max_length]

    viral = [(str(p), r) for p in phages for r in in_range(protein_records(p))]
    hosts = in_range(protein_records(host))
    if not viral or len(hosts) < len(viral[:n_per_class]):
        raise ValueError(
            f"{len(viral)} phage and {len(hosts)} host proteins have lengths in "
            f"[{min_length}, {max_length}]: too few for the task; widen the range"
        )
    rng = np.random.default_rng(seed)
    picked = [viral[i] for i in rng.permutation(len(viral))[:n_per_class]]
    host_len = np.array([len(r.seq) for r in hosts], dtype=float)
    host_order = rng.permutation(len(hosts))  # ties go to a random host protein
    rows = []
    for src, rec in picked:
        free = host_order[~np.isinf(host_len[host_order])]
        j = free[np.abs(host_len[free] - len(rec.seq)).argmin()]
        host_len[j] = np.inf
        rows.append((f"{src}:{rec.id}", rec.seq, 1, "viral", src))
        rows.append((f"{host}:{hosts[j].id}", hosts[j].seq, 0, "host", str(host)))
    df = pd.DataFrame(rows, columns=["id", "seq", "label", "label_name", "source"])
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def protein_datasets(fasta, length_buckets, validation_real: dict | None) -> pd.DataFrame:
    """The packaged datasets of an esm_speed run (`genobench.data.provenance.dataset_table`):
    the speed proteins and the phage / host sets of the real validation task."""
    from genobench.data.packaged import DATASETS
    from genobench.data.provenance import dataset_table

    uses = [("speed proteins", fasta, f"none (timing only); length buckets {length_buckets} aa")]
    if validation_real:
        uses += [
            ("validation, viral", p, "label 1: all its proteins in the length range")
            for p in validation_real["phages"]
        ]
        uses += [
            (
                "validation, host",
                validation_real["host"],
                "label 0: Prodigal gene calls "
                "(pyrodigal, single mode), each matched in length to a phage protein",
            )
        ]
    return dataset_table([u for u in uses if str(u[1]) in DATASETS])


# ------------------------------------------------------------------------ synthetic


def _sample(rng: np.random.Generator, probs: np.ndarray, length: int) -> str:
    idx = rng.choice(len(STANDARD_AA), size=length, p=probs)
    return "".join(np.array(list(STANDARD_AA))[idx])


def synthetic_proteins(lengths, seed: int = 0, prefix: str = "prot") -> list[ProteinRecord]:
    """Random proteins with the background composition, one per entry of `lengths`.

    Each starts with M. Same lengths and seed, same sequences.
    """
    rng = np.random.default_rng(seed)
    probs = _composition()
    out = []
    for i, n in enumerate(lengths):
        if n < 1:
            raise ValueError(f"protein length must be >= 1, got {n}")
        seq = "M" + _sample(rng, probs, int(n) - 1)
        out.append(ProteinRecord(f"{prefix}_{i}", f"{prefix}_{i} length={n}", seq))
    return out


def bucket_proteins(buckets, per_bucket: int, seed: int = 0, jitter: float = 0.1) -> pd.DataFrame:
    """Synthetic proteins for the speed benchmark: `per_bucket` of each bucket length.

    Lengths are drawn uniformly within ±`jitter` of the bucket length (a realistic
    spread that still gives every batch about the same size). Columns: id, seq,
    length, bucket.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for b in buckets:
        lo, hi = max(1, int(round(b * (1 - jitter)))), int(round(b * (1 + jitter)))
        lengths = rng.integers(lo, hi + 1, size=per_bucket)
        for rec in synthetic_proteins(lengths, seed=int(rng.integers(2**31)), prefix=f"len{b}"):
            rows.append((rec.id, rec.seq, len(rec.seq), int(b)))
    return pd.DataFrame(rows, columns=["id", "seq", "length", "bucket"])


def assign_buckets(lengths, buckets) -> np.ndarray:
    """The bucket (from `buckets`) nearest to each length."""
    b = np.asarray(sorted(buckets))
    lengths = np.asarray(lengths)
    return b[np.abs(lengths[:, None] - b[None, :]).argmin(1)]


def fasta_buckets(
    records: list[ProteinRecord], buckets, per_bucket: int, seed: int = 0
) -> pd.DataFrame:
    """Real proteins for the speed benchmark: each assigned to its nearest bucket, then up
    to `per_bucket` of each drawn with the seed. Buckets left empty are dropped."""
    df = pd.DataFrame({"id": [r.id for r in records], "seq": [r.seq for r in records]})
    df["length"] = df["seq"].str.len()
    df["bucket"] = assign_buckets(df["length"], buckets)
    parts = [
        g.sample(min(per_bucket, len(g)), random_state=seed)
        for _, g in df.groupby("bucket", sort=True)
    ]
    return pd.concat(parts, ignore_index=True)


def _plant(rng: np.random.Generator, seq: list[str], motif: str, probs: np.ndarray) -> None:
    if len(motif) >= len(seq):
        return
    start = int(rng.integers(0, len(seq) - len(motif) + 1))
    for i, c in enumerate(motif):
        seq[start + i] = _sample(rng, probs, 1) if c == "x" else c


def viral_host_proteins(
    n_per_class: int = 200,
    seed: int = 0,
    min_length: int = 60,
    max_length: int = 300,
    shift_strength: float = 1.5,
    motif_rate: float = 0.5,
    concentration: float = 150.0,
) -> pd.DataFrame:
    """A seeded binary task: "viral" (label 1) vs "host" (label 0) proteins.

    Both classes draw lengths uniformly from [min_length, max_length]. A sequence's
    composition is Dirichlet(`concentration` x its class composition), the viral class
    being the background shifted by VIRAL_SHIFT ** `shift_strength`; each class motif
    is planted with probability `motif_rate`. Lower `shift_strength`, `motif_rate` or
    `concentration` make the task harder. Columns: id, seq, label, label_name; rows are
    shuffled.
    """
    if n_per_class < 1 or min_length < 20 or max_length < min_length:
        raise ValueError(
            "need n_per_class >= 1 and 20 <= min_length <= max_length, got "
            f"{n_per_class}, {min_length}, {max_length}"
        )
    rng = np.random.default_rng(seed)
    classes = {
        0: ("host", _composition(), HOST_MOTIFS),
        1: ("viral", _composition(VIRAL_SHIFT, shift_strength), VIRAL_MOTIFS),
    }
    background = _composition()
    rows = []
    for label, (name, comp, motifs) in classes.items():
        for i in range(n_per_class):
            probs = rng.dirichlet(concentration * comp)
            length = int(rng.integers(min_length, max_length + 1))
            seq = list("M" + _sample(rng, probs, length - 1))
            for motif in motifs:
                if rng.random() < motif_rate:
                    _plant(rng, seq, motif, background)
            seq[0] = "M"
            rows.append((f"{name}_{i}", "".join(seq), label, name))
    df = pd.DataFrame(rows, columns=["id", "seq", "label", "label_name"])
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
