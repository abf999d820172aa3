"""Deterministic synthetic metagenome: genomes with distinct composition, cut into fragments.

Each genome is an order-3 Markov chain over A/C/G/T. A genome's transition table is
drawn around its own GC content with k-mer biases (Dirichlet rows). Genomes come in
clades: members of a clade are small perturbations of one parent chain, so some
genomes are deliberately close in composition and binning them is not trivial.
"""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np
import pandas as pd

from genobench.paths import cache_dir
from genobench.report.results import atomic_write_csv

BASES = np.array(list("ACGT"))
ORDER = 3


def genome_chains(
    n_genomes: int, clade_size: int, seed: int, bias: float = 8.0, closeness: float = 150.0
) -> np.ndarray:
    """Transition tables (n_genomes, 4**ORDER, 4) of the genomes' Markov chains.

    `bias` is the Dirichlet concentration of a clade parent's rows (smaller = stronger
    k-mer bias); `closeness` that of a member around its parent (larger = closer).
    """
    rng = np.random.default_rng(seed)
    chains = np.empty((n_genomes, 4**ORDER, 4))
    for g in range(n_genomes):
        if g % clade_size == 0:
            gc = rng.uniform(0.3, 0.7)
            base = np.array([1 - gc, gc, gc, 1 - gc]) / 2
            parent = rng.dirichlet(bias * 4 * base, size=4**ORDER)
        chains[g] = np.array([rng.dirichlet(closeness * row + 1e-3) for row in parent])
    return chains


@numba.njit(cache=True)
def _sample_chain(table: np.ndarray, uniforms: np.ndarray, first: int) -> np.ndarray:
    cum = np.empty_like(table)
    for s in range(table.shape[0]):
        cum[s] = np.cumsum(table[s])
    out = np.empty(uniforms.shape[0], dtype=np.uint8)
    state = first
    n_states = table.shape[0]
    for i in range(uniforms.shape[0]):
        b = 0
        while b < 3 and uniforms[i] > cum[state, b]:
            b += 1
        out[i] = b
        state = (state * 4 + b) % n_states
    return out


def sample_genome(table: np.ndarray, length: int, rng: np.random.Generator) -> str:
    """Sample one sequence of `length` bases from a Markov transition table."""
    codes = _sample_chain(table, rng.random(length), int(rng.integers(table.shape[0])))
    return "".join(BASES[codes])


def make_metagenome(
    n_genomes: int = 24,
    fragments_per_genome: int = 60,
    min_length: int = 2000,
    max_length: int = 5000,
    clade_size: int = 3,
    seed: int = 0,
) -> pd.DataFrame:
    """Genomes cut into non-overlapping fragments: columns genome_id, fragment_id, seq."""
    if not 1 <= min_length <= max_length:
        raise ValueError(f"need 1 <= min_length <= max_length, got {min_length}, {max_length}")
    chains = genome_chains(n_genomes, clade_size, seed)
    rng = np.random.default_rng(seed + 1)
    rows = []
    for g, table in enumerate(chains):
        lengths = rng.integers(min_length, max_length + 1, size=fragments_per_genome)
        genome = sample_genome(table, int(lengths.sum()), rng)
        ends = np.cumsum(lengths)
        for f, (start, end) in enumerate(zip(ends - lengths, ends)):
            rows.append((f"genome_{g:03d}", f"genome_{g:03d}_frag_{f:04d}", genome[start:end]))
    return pd.DataFrame(rows, columns=["genome_id", "fragment_id", "seq"])


def metagenome_csv(directory: str | Path | None = None, **kwargs) -> Path:
    """Write (once) the synthetic metagenome for these settings and return its CSV path.

    The file name encodes every setting, so the same call always returns the same file.
    """
    settings = {
        "n_genomes": 24,
        "fragments_per_genome": 60,
        "min_length": 2000,
        "max_length": 5000,
        "clade_size": 3,
        "seed": 0,
        **kwargs,
    }
    name = "metagenome_" + "_".join(f"{k}{v}" for k, v in sorted(settings.items())) + ".csv"
    path = Path(directory or cache_dir() / "data") / name
    if not path.exists():
        atomic_write_csv(make_metagenome(**settings), path)
    return path
