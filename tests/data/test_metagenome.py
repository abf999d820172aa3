import numpy as np
import pandas as pd

from genobench.data.metagenome import make_metagenome, metagenome_csv
from genobench.models.tnf import tnf


def test_same_seed_same_metagenome_and_valid_table(tmp_path):
    a = make_metagenome(n_genomes=4, fragments_per_genome=5, min_length=100, max_length=200, seed=1)
    b = make_metagenome(n_genomes=4, fragments_per_genome=5, min_length=100, max_length=200, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert a["seq"].str.len().between(100, 200).all()
    assert a["fragment_id"].is_unique and a["seq"].str.fullmatch("[ACGT]+").all()
    path = metagenome_csv(
        tmp_path, n_genomes=4, fragments_per_genome=5, min_length=100, max_length=200, seed=1
    )
    pd.testing.assert_frame_equal(pd.read_csv(path), a)


def test_clade_members_are_closer_than_other_genomes():
    df = make_metagenome(
        n_genomes=6,
        fragments_per_genome=3,
        min_length=20000,
        max_length=20000,
        clade_size=3,
        seed=0,
    )
    profiles = np.stack([tnf("".join(g["seq"])) for _, g in df.groupby("genome_id")])
    d = np.linalg.norm(profiles[:, None] - profiles[None], axis=-1)
    within = [d[i, j] for i in range(6) for j in range(i + 1, 6) if i // 3 == j // 3]
    between = [d[i, j] for i in range(6) for j in range(i + 1, 6) if i // 3 != j // 3]
    assert max(within) < min(between)
