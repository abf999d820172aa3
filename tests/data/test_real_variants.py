"""Gene calls, the genetic code and the real variant builder, on hand-picked codons."""

import pandas as pd
import pytest

from genobench.data.errors import InputError
from genobench.data.genes import (
    CODON_TABLE,
    call_genes,
    coding_sequence,
    load_genome,
    reverse_complement,
    translate,
)
from genobench.data.real_variants import (
    VariantTaskSpec,
    codon_change,
    gene_variants,
    genome_position,
)


def test_codon_table_on_known_codons():
    # the standard code, from any textbook table
    known = {
        "ATG": "M",
        "TGG": "W",
        "TAA": "*",
        "TAG": "*",
        "TGA": "*",
        "TTT": "F",
        "GGG": "G",
        "CAT": "H",
        "AGA": "R",
        "AGT": "S",
        "ATA": "I",
        "GCC": "A",
    }
    assert {c: CODON_TABLE[c] for c in known} == known
    assert len(CODON_TABLE) == 64 and sum(a == "*" for a in CODON_TABLE.values()) == 3
    assert translate("ATGTGGTAA") == "MW*"


@pytest.mark.parametrize(
    "codon, offset, base, consequence",
    [
        ("TGG", 2, "A", "stop_gain"),  # Trp TGG -> TGA
        ("TGG", 1, "A", "stop_gain"),  # Trp TGG -> TAG
        ("TAC", 2, "A", "stop_gain"),  # Tyr TAC -> TAA
        ("CAG", 0, "T", "stop_gain"),  # Gln CAG -> TAG
        ("CTT", 2, "G", "synonymous"),  # Leu CTT -> CTG
        ("TTA", 0, "C", "synonymous"),  # Leu TTA -> CTA (first position)
        ("AGA", 0, "C", "synonymous"),  # Arg AGA -> CGA
        ("GCT", 2, "A", "synonymous"),  # Ala, fourfold degenerate
        ("TGG", 2, "C", "missense"),  # Trp -> Cys TGC
        ("ATG", 0, "C", "missense"),  # Met -> Leu CTG
        ("TAA", 2, "G", None),  # a stop codon is not mutated
        ("CTT", 2, "T", None),  # no change
    ],
)
def test_codon_change(codon, offset, base, consequence):
    assert codon_change(codon, offset, base) == consequence


def test_minus_strand_positions_and_alleles_by_hand():
    # CDS ATG TGG AAA TAA on the minus strand: the genome holds its reverse complement
    cds = "ATGTGGAAATAA"
    genome = {"c": "GG" + reverse_complement(cds) + "CC"}  # TTATTTCCACAT at 2..13
    assert genome["c"] == "GGTTATTTCCACATCC"
    gene = pd.Series({"contig": "c", "start": 2, "end": 14, "strand": -1})
    assert coding_sequence(genome, gene) == cds
    # codon 1 (TGG), its last base G is the genome's C at 0-based 2 + 12 - 1 - 5 = 8
    assert genome_position(gene, 1, 2) == 8 and genome["c"][8] == "C"
    plus = pd.Series({"contig": "c", "start": 2, "end": 14, "strand": 1})
    assert genome_position(plus, 1, 2) == 7


def _variants_by_hand(strand):
    # one gene ATG TGG CTT TAA (Met Trp Leu stop), internal codons TGG and CTT
    cds = "ATGTGGCTTTAA"
    seq = "AAA" + (cds if strand == 1 else reverse_complement(cds)) + "AAA"
    genes = pd.DataFrame(
        {
            "contig": ["c"],
            "gene_id": ["c_1"],
            "start": [3],
            "end": [15],
            "strand": [strand],
            "partial": [False],
        }
    )
    table = gene_variants({"c": seq}, genes, VariantTaskSpec(n_per_class=1, seed=0))
    return seq, table


@pytest.mark.parametrize("strand", [1, -1])
def test_gene_variants_follow_the_genetic_code_on_both_strands(strand):
    seq, table = _variants_by_hand(strand)
    assert sorted(table["consequence"]) == ["stop_gain", "synonymous"]
    for row in table.itertuples():
        assert seq[row.pos - 1] == row.ref
        mutated = seq[: row.pos - 1] + row.alt + seq[row.pos :]
        cds = coding_sequence(
            {"c": mutated}, pd.Series({"contig": "c", "start": 3, "end": 15, "strand": strand})
        )
        protein = translate(cds)
        if row.consequence == "stop_gain":
            # only TGG can become a stop (TGA or TAG); CTT cannot in one step
            assert row.ref_codon == "TGG" and protein[:2] == "M*" and row.label == 1
        else:
            assert protein == "MWL*" and row.label == 0  # CTT -> CTC/CTA/CTG, all Leu
            assert row.ref_codon == "CTT" and row.alt_codon[:2] == "CT"
        expected_region = "plus-strand gene" if strand == 1 else "minus-strand gene"
        assert row.region_type == expected_region


def test_too_few_variants_is_an_error():
    seq, _ = _variants_by_hand(1)
    genes = pd.DataFrame(
        {
            "contig": ["c"],
            "gene_id": ["c_1"],
            "start": [3],
            "end": [15],
            "strand": [1],
            "partial": [False],
        }
    )
    with pytest.raises(ValueError, match="too few variants.*lower n_per_class"):
        gene_variants({"c": seq}, genes, VariantTaskSpec(n_per_class=5))


@pytest.fixture(scope="module")
def kutzneria():
    genome = load_genome("kutzneria_kk037166")
    return genome, call_genes(genome)


def test_gene_calls_translate_as_prodigal_does(kutzneria):
    # our coordinates + genetic code against pyrodigal's own translation of each gene
    genome, genes = kutzneria
    assert len(genes) > 10 and set(genes["strand"]) == {1, -1}
    for gene in genes.itertuples():
        protein = translate(coding_sequence(genome, gene))
        assert protein[1:] == gene.protein[1:] + "*"  # Prodigal writes any start codon as M


def test_real_variants_are_seeded_and_valid(kutzneria):
    genome, genes = kutzneria
    a = gene_variants(genome, genes, VariantTaskSpec(10, missense=True, seed=3))
    assert a.equals(gene_variants(genome, genes, VariantTaskSpec(10, missense=True, seed=3)))
    assert a["consequence"].value_counts().to_dict() == {
        "stop_gain": 10,
        "synonymous": 10,
        "missense": 10,
    }
    assert not a.duplicated(["chrom", "pos", "alt"]).any()
    seq = genome["KK037166.1"]
    assert all(seq[p - 1] == r for p, r in zip(a["pos"], a["ref"]))


def test_load_genome_turns_iupac_codes_into_n_and_refuses_others(tmp_path):
    (tmp_path / "g.fa").write_text(">a\nACGRYK\n>b\nacgt\n")
    assert load_genome(tmp_path / "g.fa") == {"a": "ACGNNN", "b": "ACGT"}
    (tmp_path / "bad.fa").write_text(">a\nACGT\n>b\nAC-X\n")
    with pytest.raises(InputError, match=r"record 'b' \(line 3\): letters '-X'"):
        load_genome(tmp_path / "bad.fa")
