import numpy as np

from genobench.data.genes import load_genome
from genobench.data.planted_genome import (
    MOTIFS,
    REGION_TYPES,
    PlantedGenomeSpec,
    make_planted_genome,
    planted_genome_files,
)
from genobench.data.variants import load_variants

SMALL = PlantedGenomeSpec(
    n_chromosomes=2,
    genes_per_chromosome=6,
    n_pathogenic_per_region=5,
    n_benign_per_region=8,
    seed=3,
)


def test_planted_genome_is_deterministic_and_consistent():
    a, b = make_planted_genome(SMALL), make_planted_genome(SMALL)
    assert a.chromosomes == b.chromosomes and a.variants.equals(b.variants)
    assert (
        make_planted_genome(PlantedGenomeSpec(**{**SMALL.__dict__, "seed": 4})).chromosomes
        != a.chromosomes
    )
    for row in a.elements.itertuples():
        assert a.chromosomes[row.chrom][row.start : row.end] == row.seq
        motif = MOTIFS[row.motif]
        assert all(row.seq[i] == motif.consensus[i] for i in motif.core)  # core_p = 1


def test_variants_label_motif_cores_only():
    g = make_planted_genome(SMALL)
    v = g.variants
    assert set(v["region_type"]) == set(REGION_TYPES)
    counts = v.groupby(["region_type", "label"]).size()
    assert (counts.xs(1, level="label") == 5).all() and (counts.xs(0, level="label") == 8).all()
    core = {}
    for row in g.elements.itertuples():
        for i in MOTIFS[row.motif].core:
            core[(row.chrom, row.start + i)] = (row.motif, MOTIFS[row.motif].consensus[i])
    for row in v.itertuples():
        assert g.chromosomes[row.chrom][row.pos - 1] == row.ref != row.alt
        hit = core.get((row.chrom, row.pos - 1))
        if row.label == 1:
            assert hit is not None and hit[0] == row.motif and hit[1] == row.ref
            assert MOTIFS[row.motif].region == row.region_type
        else:
            assert hit is None


def test_pwm_rows_are_distributions():
    for motif in MOTIFS.values():
        pwm = motif.pwm(0.97, 0.7)
        np.testing.assert_allclose(pwm.sum(1), 1.0)
        assert all(pwm[i].max() == 0.97 for i in motif.core)


def test_files_are_cached_and_valid(tmp_path):
    files = planted_genome_files(SMALL, directory=tmp_path / "g")
    genome = load_genome(files["genome"])
    table = load_variants(files["variants"], genome)  # every ref allele matches
    assert len(table) == 4 * (5 + 8)
    mtime = files["genome"].stat().st_mtime_ns
    assert (
        planted_genome_files(SMALL, directory=tmp_path / "g")["genome"].stat().st_mtime_ns == mtime
    )
