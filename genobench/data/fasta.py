"""FASTA files, plain or gzipped: the one reader and writer of records."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from genobench.data.errors import InputError
from genobench.report.results import atomic_write_text

_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class FastaRecord:
    """One record: `id` is the header's first word, `description` the whole header (no '>'),
    `seq` the sequence lines joined with whitespace removed (case kept), `line` the header's
    1-based line number."""

    id: str
    description: str
    seq: str
    line: int


def open_text(path: str | Path) -> IO[str]:
    """Open a text file for reading, gunzipping it when it starts with the gzip magic bytes."""
    path = Path(path)
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == _GZIP_MAGIC
    return gzip.open(path, "rt") if gzipped else open(path)


def parse_fasta(lines: Iterable[str], source: str = "<text>") -> Iterator[FastaRecord]:
    """Records of FASTA text, in file order.

    Blank lines and `;` comment lines are skipped. Raises InputError, naming `source` and the
    line, on sequence text before the first header,
    a header with no id, or an id seen before.
    """
    seen: dict[str, int] = {}
    header, header_line, chunks = None, 0, []
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith(";"):  # blank, or an old-style comment line
            continue
        if line.startswith(">"):
            if header is not None:
                yield FastaRecord(header.split()[0], header, "".join(chunks), header_line)
            header, header_line, chunks = line[1:].strip(), lineno, []
            if not header:
                raise InputError(
                    f"{source}, line {lineno}: empty header ('>' with no id). "
                    "Give every record an id: '>my_sequence_1'."
                )
            rid = header.split()[0]
            if rid in seen:
                raise InputError(
                    f"{source}, line {lineno}: id {rid!r} was already used on line "
                    f"{seen[rid]}. Record ids must be unique."
                )
            seen[rid] = lineno
        elif header is None:
            raise InputError(
                f"{source}, line {lineno}: sequence text before the first '>' "
                "header. Is this a FASTA file?"
            )
        else:
            chunks.append("".join(line.split()))
    if header is not None:
        yield FastaRecord(header.split()[0], header, "".join(chunks), header_line)


def read_fasta(path: str | Path) -> list[FastaRecord]:
    """All records of a FASTA file, gzipped or not (checks: see `parse_fasta`).

    Raises InputError on a missing file or a file with no record.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"{path}: no such file. Pass the path of a FASTA file "
            "(.fa/.fna/.fasta, optionally .gz)."
        )
    with open_text(path) as fh:
        records = list(parse_fasta(fh, source=str(path)))
    if not records:
        raise InputError(
            f"{path}: no FASTA records found. Expected '>id' lines, each followed by its sequence."
        )
    return records


def write_fasta(
    records: Iterable[FastaRecord | tuple[str, str]], path: str | Path, width: int = 80
) -> Path:
    """Write records (FastaRecords, or (header, seq) pairs) atomically, `width` letters a
    line."""
    out = io.StringIO()
    for rec in records:
        header, seq = (rec.description, rec.seq) if isinstance(rec, FastaRecord) else rec
        out.write(f">{header}\n")
        for i in range(0, len(seq), width):
            out.write(seq[i : i + width] + "\n")
    return atomic_write_text(out.getvalue(), path)
