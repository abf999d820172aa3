"""Tetranucleotide frequency (TNF): the classical binning feature.

136 canonical 4-mers (a 4-mer and its reverse complement count as one), counted
over overlapping windows that contain no N, normalized to frequencies.
"""

from __future__ import annotations

from itertools import product

import numpy as np

_CODE = np.full(256, 4, dtype=np.int64)
for _i, _b in enumerate("ACGT"):
    _CODE[ord(_b)] = _CODE[ord(_b.lower())] = _i
_COMPLEMENT = str.maketrans("ACGT", "TGCA")


def canonical_kmers(k: int = 4) -> list[str]:
    """The canonical k-mers (lexicographically smaller of a k-mer and its reverse complement)."""
    kmers = ("".join(p) for p in product("ACGT", repeat=k))
    return sorted({min(s, s.translate(_COMPLEMENT)[::-1]) for s in kmers})


_CANONICAL = canonical_kmers(4)
_CANONICAL_INDEX = np.array(
    [
        _CANONICAL.index(min(s, s.translate(_COMPLEMENT)[::-1]))
        for s in ("".join(p) for p in product("ACGT", repeat=4))
    ]
)


def tnf(seq: str) -> np.ndarray:
    """TNF vector (136,) of one sequence; all zeros if it has no N-free 4-mer."""
    codes = _CODE[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]
    if len(codes) < 4:
        return np.zeros(len(_CANONICAL))
    windows = np.lib.stride_tricks.sliding_window_view(codes, 4)
    valid = (windows < 4).all(axis=1)
    index = windows[valid] @ np.array([64, 16, 4, 1])
    counts = np.bincount(_CANONICAL_INDEX[index], minlength=len(_CANONICAL)).astype(float)
    total = counts.sum()
    return counts / total if total else counts


def tnf_matrix(seqs: list[str]) -> np.ndarray:
    """TNF vectors (n, 136) of many sequences."""
    return np.stack([tnf(s) for s in seqs]) if seqs else np.zeros((0, len(_CANONICAL)))
