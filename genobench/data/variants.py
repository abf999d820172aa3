"""Reference genomes and variant tables: reading, validation, and windows around variants.

A variants table is a CSV with columns chrom, pos (1-based), ref, alt, label,
region_type, or a VCF whose INFO field carries `label=` and `region_type=` (ALT may
list several alleles: one row each). Validation happens before any model work and
stops at the first bad row with an InputError naming the file, the row and the fix:
unknown chromosome, position out of range, alleles outside A/C/G/T, a ref allele that
does not match the reference, a label that is not 0/1 (or benign/pathogenic).

Substitutions (SNVs, and multi-base substitutions with len(ref) == len(alt)) are
scored; insertions and deletions are dropped with a warning, because the masked and
windowed scores below compare aligned ref/alt windows; a file of indels only, and a
variant listed twice, are errors.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genobench.data.csvfile import read_csv_columns
from genobench.data.errors import InputError
from genobench.data.fasta import open_text

VARIANT_COLUMNS = ("chrom", "pos", "ref", "alt", "label", "region_type")
_ALLELE = re.compile(r"^[ACGT]+$")
_LABELS = {"0": 0, "1": 1, "benign": 0, "pathogenic": 1, "0.0": 0, "1.0": 1}


def _read_vcf(path: Path) -> pd.DataFrame:
    rows, lines = [], []
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.startswith("#") or not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 8:
                raise InputError(
                    f"{path}, line {lineno}: a VCF data line needs 8 tab-separated "
                    f"columns (CHROM POS ID REF ALT QUAL FILTER INFO), got "
                    f"{len(fields)}."
                )
            chrom, pos, _, ref, alts, _, _, info = fields[:8]
            keys = dict(kv.split("=", 1) if "=" in kv else (kv, "") for kv in info.split(";"))
            keys = {k.lower(): v for k, v in keys.items()}
            for alt in alts.split(","):
                rows.append(
                    (
                        chrom,
                        pos,
                        ref,
                        alt,
                        keys.get("label", ""),
                        keys.get("region_type", keys.get("region", "")),
                    )
                )
                lines.append(lineno)
    df = pd.DataFrame(rows, columns=list(VARIANT_COLUMNS))
    df["file_line"] = lines
    return df


def _read_csv(path: Path) -> pd.DataFrame:
    df = read_csv_columns(path, VARIANT_COLUMNS, normalize_header=True)
    df["file_line"] = np.arange(len(df)) + 2  # 1-based file line, after the header
    return df


def load_variants(path: str | Path, genome: dict[str, str]) -> pd.DataFrame:
    """Read and validate a variants CSV or VCF against the reference `genome`.

    Returns chrom, pos (int, 1-based), ref, alt, label (0/1), region_type, plus any
    extra CSV columns, in file order, indels dropped (with a warning).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"{path}: no such file. Pass the path of a variants CSV (columns "
            f"{', '.join(VARIANT_COLUMNS)}) or VCF."
        )
    is_vcf = path.name.endswith((".vcf", ".vcf.gz"))
    df = _read_vcf(path) if is_vcf else _read_csv(path)
    if df.empty:
        raise InputError(f"{path}: no variants in the file.")
    positions, labels = [], []
    for row in df.itertuples(index=False):
        where = f"{path}, line {row.file_line} ({row.chrom}:{row.pos} {row.ref}>{row.alt})"
        chrom_seq = genome.get(row.chrom)
        if chrom_seq is None:
            known = ", ".join(list(genome)[:5]) + (" ..." if len(genome) > 5 else "")
            raise InputError(
                f"{where}: chromosome {row.chrom!r} is not in the reference (which has {known})."
            )
        try:
            pos = int(str(row.pos).strip())
        except ValueError:
            raise InputError(f"{where}: pos {row.pos!r} is not an integer.") from None
        for what, allele in (("ref", row.ref), ("alt", row.alt)):
            if not _ALLELE.match(str(allele).upper()):
                raise InputError(
                    f"{where}: {what} allele {allele!r} is not made of A, C, G, T. "
                    "Symbolic or ambiguous alleles cannot be scored; remove the row."
                )
        ref, alt = str(row.ref).upper(), str(row.alt).upper()
        if ref == alt:
            raise InputError(f"{where}: ref and alt alleles are identical.")
        if not 1 <= pos <= len(chrom_seq) - len(ref) + 1:
            raise InputError(
                f"{where}: position out of range; {row.chrom} has "
                f"{len(chrom_seq)} bp and positions are 1-based."
            )
        found = chrom_seq[pos - 1 : pos - 1 + len(ref)]
        if found != ref:
            raise InputError(
                f"{where}: ref allele {ref!r} does not match the reference, which "
                f"has {found!r} at {row.chrom}:{pos}. Check the genome build and "
                "that positions are 1-based."
            )
        label = _LABELS.get(str(row.label).strip().lower())
        if label is None:
            raise InputError(f"{where}: label {row.label!r} must be 0/1 (or benign/pathogenic).")
        positions.append(pos)
        labels.append(label)
    df["pos"], df["label"] = positions, labels
    df["ref"], df["alt"] = df["ref"].str.upper(), df["alt"].str.upper()
    df["region_type"] = df["region_type"].replace("", "unknown")
    key = ["chrom", "pos", "ref", "alt"]
    repeated = df[df.duplicated(key, keep=False)]
    if len(repeated):
        first = repeated.iloc[0]
        lines = repeated.loc[(repeated[key] == first[key]).all(axis=1), "file_line"].tolist()
        raise InputError(
            f"{path}: the variant {first.chrom}:{first.pos} {first.ref}>{first.alt} "
            f"appears on lines {', '.join(map(str, lines))} ({len(repeated)} "
            "duplicated rows in all). Each variant may appear once: remove the "
            "repeated rows."
        )
    indel = df["ref"].str.len() != df["alt"].str.len()
    if indel.all():
        raise InputError(
            f"{path}: all {len(df)} variants are insertions or deletions, and only "
            "substitutions (len(ref) == len(alt)) can be scored. Give SNVs or "
            "multi-base substitutions."
        )
    if indel.any():
        warnings.warn(
            f"{path}: dropping {int(indel.sum())} insertion/deletion row(s) (first at "
            f"line {df.loc[indel, 'file_line'].iloc[0]}); only substitutions are scored.",
            stacklevel=2,
        )
        df = df[~indel]
    return df.drop(columns="file_line").reset_index(drop=True)


@dataclass(frozen=True)
class VariantWindow:
    """A reference window around a variant and the same window with the alt allele."""

    start: int  # 0-based start of the window on the chromosome
    offset: int  # 0-based index of the variant's first base inside the window
    ref_seq: str
    alt_seq: str


def window_bounds(chrom_length: int, pos0: int, allele_length: int, width: int) -> tuple[int, int]:
    """[start, end) of a `width` bp window centred on the allele at 0-based `pos0`.

    At a chromosome edge the window is shifted inwards, so it keeps its width and the
    variant is off-centre; a chromosome shorter than `width` is taken whole.
    """
    if width < allele_length:
        raise ValueError(f"window width {width} is shorter than the allele ({allele_length} bp)")
    if chrom_length <= width:
        return 0, chrom_length
    centre = pos0 + allele_length // 2
    start = centre - width // 2
    start = min(max(start, 0), chrom_length - width)
    return start, start + width


def variant_window(chrom_seq: str, pos: int, ref: str, alt: str, width: int) -> VariantWindow:
    """The ref and alt windows of `width` bp around a substitution at 1-based `pos`."""
    pos0 = pos - 1
    if chrom_seq[pos0 : pos0 + len(ref)] != ref:
        raise ValueError(f"ref allele {ref!r} does not match the reference at {pos}")
    if len(ref) != len(alt):
        raise ValueError("only substitutions (len(ref) == len(alt)) have aligned windows")
    start, end = window_bounds(len(chrom_seq), pos0, len(ref), width)
    ref_seq = chrom_seq[start:end]
    offset = pos0 - start
    alt_seq = ref_seq[:offset] + alt + ref_seq[offset + len(ref) :]
    return VariantWindow(start, offset, ref_seq, alt_seq)


def variant_windows(
    variants: pd.DataFrame, genome: dict[str, str], width: int
) -> list[VariantWindow]:
    """One VariantWindow per row of a validated variants table."""
    return [
        variant_window(genome[c], int(p), r, a, width)
        for c, p, r, a in zip(variants["chrom"], variants["pos"], variants["ref"], variants["alt"])
    ]
