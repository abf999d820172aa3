import shutil

import pandas as pd
import pytest

from genobench.cli import main
from genobench.data.ani import ani_pairs, ani_species
from genobench.data.fasta import read_fasta
from genobench.data.packaged import packaged_path

# Two E. coli (a complete chromosome and an 870 kb contig of another strain), Aquifex, a phage.
NAMES = ["ecoli_ec590", "ecoli_miij01000039", "aquifex_aeolicus", "phage_topaz"]


@pytest.fixture(scope="module")
def seqs():
    return {n: [r.seq.upper() for r in read_fasta(packaged_path(n))] for n in NAMES}


def test_same_species_joins_at_95_percent_and_others_stay_apart(seqs):
    pairs = {(a, b): ani for a, b, ani in ani_pairs(seqs)}
    assert pairs[("ecoli_ec590", "ecoli_miij01000039")] >= 0.95
    assert not any({a, b} & {"aquifex_aeolicus", "phage_topaz"} for a, b in pairs)
    assert ani_species(seqs) == {
        "ecoli_ec590": "ani95:ecoli_ec590",
        "ecoli_miij01000039": "ani95:ecoli_ec590",
        "aquifex_aeolicus": "ani95:aquifex_aeolicus",
        "phage_topaz": "ani95:phage_topaz",
    }
    # above the pair's measured ANI, the two strains are two species
    high = ani_species(seqs, threshold=pairs[("ecoli_ec590", "ecoli_miij01000039")] + 1e-3)
    assert len(set(high.values())) == 4


def test_cli_adds_ani_species_column(tmp_path, seqs):
    folder = tmp_path / "g"
    folder.mkdir()
    for name in NAMES:
        path = packaged_path(name)
        shutil.copy(path, folder / f"{name}.fa{'.gz' if path.suffix == '.gz' else ''}")
    out = tmp_path / "f.csv"
    assert (
        main(
            ["data", "fragments", str(folder), "-o", str(out), "--length", "20000", "--ani-species"]
        )
        == 0
    )
    species = pd.read_csv(out).groupby("genome_id")["ani_species"].first().to_dict()
    assert species == ani_species(seqs)
