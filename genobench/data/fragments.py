"""Genome fragment tables for binning: validation and seeded selection."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from genobench.data.errors import InputError  # noqa: F401  (re-exported: the one error type)

REQUIRED_COLUMNS = ("genome_id", "fragment_id", "seq")
_NUCLEOTIDES = re.compile(r"^[ACGTNacgtn]+$")


def load_fragments(path: str | Path) -> pd.DataFrame:
    """Read and validate a fragment CSV (columns genome_id, fragment_id, seq).

    Raises InputError, before any work is done, on a missing file or column, an
    empty table, an empty or non-nucleotide sequence (A/C/G/T/N, any case) or a
    duplicated fragment_id.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file. Pass the path of a CSV with columns "
                         f"{', '.join(REQUIRED_COLUMNS)}.")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the file is empty. It needs a header row with columns "
                         f"{', '.join(REQUIRED_COLUMNS)} and one row per fragment.") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)} (found: "
                         f"{', '.join(df.columns)}). Add them to the header row.")
    if df.empty:
        raise InputError(f"{path}: the table has a header but no rows. Add one row per fragment.")
    for i, (frag, seq) in enumerate(zip(df["fragment_id"], df["seq"])):
        row = i + 2  # 1-based line number in the file, after the header
        if not seq:
            raise InputError(f"{path}, line {row} (fragment_id {frag!r}): empty sequence. "
                             "Remove the row or fill in its sequence.")
        if not _NUCLEOTIDES.match(seq):
            bad = sorted(set(re.sub(r"[ACGTNacgtn]", "", seq)))
            raise InputError(f"{path}, line {row} (fragment_id {frag!r}): sequence has "
                             f"characters {''.join(bad)!r}; only A, C, G, T, N (any case) "
                             "are allowed. Clean or remove the row.")
    dup = df["fragment_id"].duplicated(keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(f"{path}, line {i + 2}: fragment_id {df['fragment_id'].iat[i]!r} "
                         "appears more than once. Fragment ids must be unique.")
    df["seq"] = df["seq"].str.upper()
    return df


def select_fragments(df: pd.DataFrame, n_genomes: int, n_fragments: int, seed: int,
                     short_genomes: str = "drop") -> pd.DataFrame:
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
        raise InputError(f"{len(short)} genome(s) have fewer than n_fragments={n_fragments} "
                         f"fragments (e.g. {short.index[0]!r} has {short.iloc[0]}). Lower "
                         "n_fragments or set short_genomes='drop'.")
    if len(short):
        warnings.warn(f"dropping {len(short)} genome(s) with fewer than {n_fragments} "
                      f"fragments: {', '.join(map(str, short.index[:5]))}"
                      + (" ..." if len(short) > 5 else ""), stacklevel=2)
    eligible = np.array(sorted(counts[counts >= n_fragments].index))
    if len(eligible) < n_genomes:
        raise InputError(f"asked for n_genomes={n_genomes} but only {len(eligible)} genome(s) "
                         f"have at least {n_fragments} fragments. Lower n_genomes or "
                         "n_fragments, or supply more genomes.")
    rng = np.random.default_rng(seed)
    genomes = sorted(rng.choice(eligible, size=n_genomes, replace=False))
    parts = []
    for genome in genomes:
        rows = df[df["genome_id"] == genome].sort_values("fragment_id")
        parts.append(rows.iloc[np.sort(rng.choice(len(rows), n_fragments, replace=False))])
    return pd.concat(parts, ignore_index=True)
