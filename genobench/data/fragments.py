"""Genome fragment tables for binning: built from FASTA files, validated, seeded selection."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genobench.data.csvfile import read_csv_columns
from genobench.data.errors import InputError
from genobench.data.fasta import read_fasta

REQUIRED_COLUMNS = ("genome_id", "fragment_id", "seq")
AMBIGUITY_CODES = "RYSWKMBDHV"  # IUPAC codes for a base that is one of several: read as N
_NUCLEOTIDES = re.compile(r"^[ACGTN" + AMBIGUITY_CODES + "]+$", re.IGNORECASE)
_TO_UNKNOWN = str.maketrans(AMBIGUITY_CODES, "N" * len(AMBIGUITY_CODES))


def load_fragments(path: str | Path) -> pd.DataFrame:
    """Read and validate a fragment CSV (columns genome_id, fragment_id, seq; others kept).

    Sequences are upper-cased; IUPAC ambiguity codes (R, Y, S, W, K, M, B, D, H, V) become N
    (an unknown base), counted per code in `df.attrs["ambiguous_bases"]` and reported with a
    warning. Raises InputError, before any work is done, on a missing file or column, an empty
    table, an empty genome_id, fragment_id or sequence, a letter that is no nucleotide code,
    or a duplicated fragment_id.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"{path}: no such file. Pass the path of a CSV with columns "
            f"{', '.join(REQUIRED_COLUMNS)}."
        )
    df = read_csv_columns(path, REQUIRED_COLUMNS, rows=" and one row per fragment")
    if df.empty:
        raise InputError(f"{path}: the table has a header but no rows. Add one row per fragment.")
    for column in ("genome_id", "fragment_id"):
        empty = np.flatnonzero(df[column].str.strip().eq("").to_numpy())
        if len(empty):
            raise InputError(
                f"{path}, line {empty[0] + 2}: empty {column} ({len(empty)} row(s) "
                f"in all). Fill in every row's {column}."
            )
    for i, (frag, seq) in enumerate(zip(df["fragment_id"], df["seq"])):
        row = i + 2  # 1-based line number in the file, after the header
        if not seq:
            raise InputError(
                f"{path}, line {row} (fragment_id {frag!r}): empty sequence. "
                "Remove the row or fill in its sequence."
            )
        if not _NUCLEOTIDES.match(seq):
            bad = sorted(set(seq.upper()) - set("ACGTN" + AMBIGUITY_CODES))
            raise InputError(
                f"{path}, line {row} (fragment_id {frag!r}): sequence has "
                f"characters {''.join(bad)!r}, which are no nucleotide codes; "
                f"allowed are A, C, G, T, N and the IUPAC ambiguity codes "
                f"{', '.join(AMBIGUITY_CODES)} (any case). Clean or remove the row."
            )
    dup = df["fragment_id"].duplicated(keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(
            f"{path}, line {i + 2}: fragment_id {df['fragment_id'].iat[i]!r} "
            "appears more than once. Fragment ids must be unique."
        )
    seqs = df["seq"].str.upper()
    joined = "".join(seqs)
    ambiguous = {code: joined.count(code) for code in AMBIGUITY_CODES if code in joined}
    if ambiguous:
        n_rows = int(seqs.str.contains(f"[{AMBIGUITY_CODES}]").sum())
        warnings.warn(
            f"{path}: {sum(ambiguous.values())} IUPAC ambiguity code(s) in {n_rows} "
            f"fragment(s) read as N (unknown base): "
            + ", ".join(f"{c} {n}" for c, n in ambiguous.items()),
            stacklevel=2,
        )
    df["seq"] = seqs.str.translate(_TO_UNKNOWN)
    df.attrs["ambiguous_bases"] = ambiguous
    return df


def select_fragments(
    df: pd.DataFrame, n_genomes: int, n_fragments: int, seed: int, short_genomes: str = "drop"
) -> pd.DataFrame:
    """Pick `n_genomes` genomes at random, then `n_fragments` fragments of each.

    A genome with fewer than `n_fragments` fragments is dropped with a warning
    (`short_genomes="drop"`) or stops the run (`"error"`). Same seed, same subset.
    The result is ordered by genome then fragment id.
    """
    if short_genomes not in ("drop", "error"):
        raise ValueError(f"short_genomes must be 'drop' or 'error', got {short_genomes!r}")
    if n_genomes < 1 or n_fragments < 1:
        raise ValueError(f"n_genomes and n_fragments must be >= 1, got {n_genomes}, {n_fragments}")
    counts = df.groupby("genome_id").size()
    short = counts[counts < n_fragments]
    if len(short) and short_genomes == "error":
        raise InputError(
            f"{len(short)} genome(s) have fewer than n_fragments={n_fragments} "
            f"fragments (e.g. {short.index[0]!r} has {short.iloc[0]}). Lower "
            "n_fragments or set short_genomes='drop'."
        )
    if len(short):
        warnings.warn(
            f"dropping {len(short)} genome(s) with fewer than {n_fragments} "
            f"fragments: {', '.join(map(str, short.index[:5]))}"
            + (" ..." if len(short) > 5 else ""),
            stacklevel=2,
        )
    eligible = np.array(sorted(counts[counts >= n_fragments].index))
    if len(eligible) < n_genomes:
        raise InputError(
            f"asked for n_genomes={n_genomes} but only {len(eligible)} genome(s) "
            f"have at least {n_fragments} fragments. Lower n_genomes or "
            "n_fragments, or supply more genomes."
        )
    rng = np.random.default_rng(seed)
    genomes = sorted(rng.choice(eligible, size=n_genomes, replace=False))
    parts = []
    for genome in genomes:
        rows = df[df["genome_id"] == genome].sort_values("fragment_id")
        parts.append(rows.iloc[np.sort(rng.choice(len(rows), n_fragments, replace=False))])
    return pd.concat(parts, ignore_index=True)


FASTA_SUFFIXES = (".fa", ".fna", ".fasta", ".fas", ".fsa")
_GAP = re.compile(r"N+")
_DNA_CODES = set("ACGTN" + AMBIGUITY_CODES)


@dataclass
class FragmentBuild:
    """`fragments`: the fragment table (genome_id, fragment_id, seq, contig, start, end, then
    any taxon columns); `genomes`: one row per genome with what was read and skipped."""

    fragments: pd.DataFrame
    genomes: pd.DataFrame


def fasta_files(inputs: Iterable[str | Path]) -> list[Path]:
    """The FASTA files named, or found (sorted, by suffix, .gz or not) in the folders named."""
    files = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.is_file() and genome_stem(p))
            if not found:
                raise InputError(
                    f"{item}: folder has no FASTA file (suffixes "
                    f"{', '.join(FASTA_SUFFIXES)}, optionally .gz)."
                )
            files += found
        elif item.is_file():
            files.append(item)
        else:
            raise InputError(f"{item}: no such file or folder. Pass FASTA files or folders.")
    return files


def genome_stem(path: Path) -> str | None:
    """The file name without its FASTA suffix (and .gz), or None if it has none."""
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    for suffix in FASTA_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return None


def read_genome_map(path: str | Path) -> pd.DataFrame:
    """A mapping CSV: columns `file` (a FASTA file name) and `genome_id`; every other column
    (e.g. species, genus) is a taxon column copied onto that genome's fragments."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file. Pass a CSV with columns file, genome_id.")
    table = read_csv_columns(path, ("file", "genome_id"), fix="The mapping needs file, genome_id.")
    dup = table["file"].duplicated()
    if dup.any():
        raise InputError(
            f"{path}, line {int(np.flatnonzero(dup.to_numpy())[0]) + 2}: file "
            f"{table['file'][dup].iat[0]!r} is listed twice."
        )
    return table


def build_fragments(
    inputs: Iterable[str | Path],
    length: int,
    seed: int = 0,
    max_per_genome: int | None = None,
    genome_map: pd.DataFrame | None = None,
    taxa: dict[str, dict[str, str]] | None = None,
) -> FragmentBuild:
    """Cut genomes (one FASTA file each, plain or gzipped) into non-overlapping fragments.

    Each record is upper-cased and split at every run of N (a gap: skipped, counted); each
    piece between gaps is tiled from its start into fragments of exactly `length` bp, the
    remainder (< `length`) is left out. IUPAC ambiguity codes stay in the fragments and are
    counted. `max_per_genome` keeps that many fragments of a genome, drawn with `seed` (in
    genome order). The genome id is the file name without its FASTA suffix, or the
    `genome_map`'s `genome_id` for that file name, whose other columns become taxon columns;
    `taxa` (genome id -> {column: value}) adds more. Fragment ids are
    `genome:contig:start-end` (1-based, inclusive).
    """
    if length < 1:
        raise ValueError(f"length must be >= 1 bp, got {length}")
    if max_per_genome is not None and max_per_genome < 1:
        raise ValueError(f"max_per_genome must be >= 1 or None, got {max_per_genome}")
    mapping = {} if genome_map is None else {row["file"]: row for _, row in genome_map.iterrows()}
    rng = np.random.default_rng(seed)
    frames, genomes, seen = [], [], {}
    for path in fasta_files(inputs):
        if mapping:
            if path.name not in mapping:
                raise InputError(
                    f"{path}: file {path.name!r} is not in the genome map. Add a "
                    "row for it (file, genome_id, ...) or leave the file out."
                )
            genome = dict(mapping[path.name])
            genome_id = genome.pop("genome_id")
            genome.pop("file")
        else:
            genome_id, genome = genome_stem(path) or path.name, {}
        if genome_id in seen:
            raise InputError(
                f"{path}: genome id {genome_id!r} is also the id of {seen[genome_id]}."
                " Rename one file or give them ids in a genome map."
            )
        seen[genome_id] = path
        genome.update((taxa or {}).get(genome_id, {}))
        rows, stats = _cut_genome(path, genome_id, length)
        table = pd.DataFrame(
            rows, columns=["genome_id", "fragment_id", "seq", "contig", "start", "end"]
        )
        if max_per_genome is not None and len(table) > max_per_genome:
            keep = np.sort(rng.choice(len(table), max_per_genome, replace=False))
            table = table.iloc[keep]
        for column, value in genome.items():
            table[column] = value
        frames.append(table)
        genomes.append(
            {
                "genome_id": genome_id,
                "file": str(path),
                **genome,
                **stats,
                "fragments_kept": len(table),
            }
        )
    fragments = pd.concat(frames, ignore_index=True)
    if fragments.empty:
        raise InputError(
            f"no fragment of {length} bp could be cut from {len(genomes)} genome(s)"
            ": every piece between gaps is shorter. Lower the fragment length."
        )
    return FragmentBuild(fragments, pd.DataFrame(genomes))


def _cut_genome(path: Path, genome_id: str, length: int) -> tuple[list[tuple], dict]:
    rows = []
    stats = dict(
        records=0,
        bases=0,
        gap_runs=0,
        gap_bases=0,
        ambiguous_bases=0,
        bases_in_fragments=0,
        fragments=0,
    )
    for rec in read_fasta(path):
        seq = rec.seq.upper()
        bad = set(seq) - _DNA_CODES
        if bad:
            pos = min(seq.index(c) for c in bad) + 1
            raise InputError(
                f"{path}, record {rec.id!r} (header on line {rec.line}): letter "
                f"{seq[pos - 1]!r} at position {pos} is no nucleotide code (found "
                f"{''.join(sorted(bad))!r}). Is this a protein file? Pass DNA FASTA."
            )
        gaps = [m.span() for m in _GAP.finditer(seq)]
        stats["records"] += 1
        stats["bases"] += len(seq)
        stats["gap_runs"] += len(gaps)
        stats["gap_bases"] += sum(b - a for a, b in gaps)
        stats["ambiguous_bases"] += sum(seq.count(c) for c in AMBIGUITY_CODES)
        bounds = [0] + [x for span in gaps for x in span] + [len(seq)]
        for lo, hi in zip(bounds[::2], bounds[1::2]):
            for start in range(lo, hi - length + 1, length):
                rows.append(
                    (
                        genome_id,
                        f"{genome_id}:{rec.id}:{start + 1}-{start + length}",
                        seq[start : start + length],
                        rec.id,
                        start + 1,
                        start + length,
                    )
                )
    stats["fragments"] = len(rows)
    stats["bases_in_fragments"] = len(rows) * length
    return rows, stats
