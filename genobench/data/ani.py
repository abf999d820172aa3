"""Species labels from average nucleotide identity (skani, through pyskani)."""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

SPECIES_ANI = 0.95  # the usual prokaryote species boundary


def ani_pairs(genomes: dict[str, list[str]]) -> list[tuple[str, str, float]]:
    """(query, reference, ANI as a fraction) for every pair skani reports (self pairs left
    out); `genomes` maps a genome id to its contig sequences."""
    try:
        import pyskani
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "ANI needs the package pyskani: `pip install pyskani` (pinned in requirements.txt)."
        ) from None
    db = pyskani.Database()
    for name, contigs in genomes.items():
        db.sketch(name, *contigs)
    return [
        (name, hit.reference_name, float(hit.identity))
        for name, contigs in genomes.items()
        for hit in db.query(name, *contigs)
        if hit.reference_name != name
    ]


def ani_species(genomes: dict[str, list[str]], threshold: float = SPECIES_ANI) -> dict[str, str]:
    """Genome id -> species label: genomes joined (single linkage) when their ANI >= threshold.

    A species is named after its alphabetically first genome, e.g. `ani95:ecoli_ec590`.
    """
    names = sorted(genomes)
    index = {name: i for i, name in enumerate(names)}
    edges = [(index[a], index[b]) for a, b, ani in ani_pairs(genomes) if ani >= threshold]
    rows, cols = (np.array(x, dtype=int) for x in zip(*edges)) if edges else ([], [])
    graph = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(names), len(names)))
    _, component = connected_components(graph, directed=False)
    first = {}
    for name, c in zip(names, component):
        first.setdefault(c, name)
    tag = f"ani{round(threshold * 100)}"
    return {name: f"{tag}:{first[c]}" for name, c in zip(names, component)}
