import gzip

import pytest

from genobench.data.errors import InputError
from genobench.data.genes import load_genome
from genobench.data.variants import (
    load_variants,
    variant_window,
    variant_windows,
    window_bounds,
)

GENOME = {"chr1": "ACGTACGTAC" * 5, "chr2": "GGGCCCAAAT"}


def write(path, text):
    path.write_text(text)
    return path


def csv(tmp_path, *rows, header="chrom,pos,ref,alt,label,region_type"):
    return write(tmp_path / "v.csv", "\n".join([header, *rows]) + "\n")


def test_reference_fasta_multiline_and_gz(tmp_path):
    fa = write(tmp_path / "g.fa", ">chr1 description\nACGT\nacgn\n\n>chr2\nTTTT\n")
    assert load_genome(fa) == {"chr1": "ACGTACGN", "chr2": "TTTT"}
    gz = tmp_path / "g.fa.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(">x\nAC\n")
    assert load_genome(gz) == {"x": "AC"}


@pytest.mark.parametrize(
    "text, match",
    [
        ("ACGT\n>chr1\nACGT\n", "before the first '>' header"),
        (">a\nACGT\n>a\nAC\n", "id 'a' was already used on line 1"),
        (">a\nACXT\n", "letters 'X' are no nucleotide codes"),
        (">a\n>b\nAC\n", "record 'a' \\(line 1\\) is empty"),
    ],
)
def test_bad_fasta_is_named(tmp_path, text, match):
    with pytest.raises(InputError, match=match):
        load_genome(write(tmp_path / "g.fa", text))


def test_load_variants_csv(tmp_path):
    path = csv(
        tmp_path,
        "chr1,1,A,G,1,coding",
        "chr2,4,C,t,benign,intergenic",
        "chr1,5,ACG,TTT,pathogenic,splice",
    )
    df = load_variants(path, GENOME)
    assert df[["pos", "ref", "alt", "label"]].values.tolist() == [
        [1, "A", "G", 1],
        [4, "C", "T", 0],
        [5, "ACG", "TTT", 1],
    ]


def test_ref_allele_mismatch_names_the_row(tmp_path):
    path = csv(tmp_path, "chr1,1,A,G,1,coding", "chr1,2,A,G,0,coding")
    with pytest.raises(
        InputError,
        match=r"line 3 \(chr1:2 A>G\): ref allele 'A' does not "
        r"match the reference, which has 'C'",
    ):
        load_variants(path, GENOME)


@pytest.mark.parametrize(
    "row, match",
    [
        ("chr1,1,A,N,1,coding", "alt allele 'N' is not made of A, C, G, T"),
        ("chr1,1,<DEL>,A,1,coding", "ref allele '<DEL>' is not made of A, C, G, T"),
        ("chr1,1,A,,1,coding", "alt allele '' is not made of"),
        ("chr1,51,A,G,1,coding", "position out of range; chr1 has 50 bp"),
        ("chr1,0,A,G,1,coding", "position out of range"),
        ("chr1,x,A,G,1,coding", "pos 'x' is not an integer"),
        ("chrX,1,A,G,1,coding", "chromosome 'chrX' is not in the reference"),
        ("chr1,1,A,G,maybe,coding", "label 'maybe' must be 0/1"),
        ("chr1,1,A,A,1,coding", "ref and alt alleles are identical"),
    ],
)
def test_bad_variant_rows_are_named(tmp_path, row, match):
    path = csv(tmp_path, "chr2,1,G,A,0,coding", row)
    with pytest.raises(InputError, match=match) as err:
        load_variants(path, GENOME)
    assert "line 3" in str(err.value)


def test_missing_columns_and_empty(tmp_path):
    with pytest.raises(InputError, match="missing column.*label"):
        load_variants(
            csv(tmp_path, "chr1,1,A,G,coding", header="chrom,pos,ref,alt,region_type"), GENOME
        )
    with pytest.raises(InputError, match="no such file"):
        load_variants(tmp_path / "nope.csv", GENOME)


def test_vcf_with_multiallelic_alt_and_indel(tmp_path):
    vcf = write(
        tmp_path / "v.vcf",
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\t"
        "FILTER\tINFO\nchr1\t2\t.\tC\tA,T\t.\tPASS\tlabel=1;region_type=splice\n"
        "chr2\t1\t.\tG\tGA\t.\tPASS\tlabel=0;region_type=promoter\n",
    )
    with pytest.warns(UserWarning, match="dropping 1 insertion/deletion"):
        df = load_variants(vcf, GENOME)
    assert df[["chrom", "pos", "alt", "label", "region_type"]].values.tolist() == [
        ["chr1", 2, "A", 1, "splice"],
        ["chr1", 2, "T", 1, "splice"],
    ]


def test_duplicate_variant_rows_are_named(tmp_path):
    # the same variant on lines 2 and 4 (case differs: alleles are compared upper-cased)
    path = csv(tmp_path, "chr1,1,A,G,1,coding", "chr1,2,C,T,0,coding", "chr1,1,a,g,0,coding")
    with pytest.raises(InputError, match=r"chr1:1 A>G appears on lines 2, 4 .*remove the "):
        load_variants(path, GENOME)
    # another alt at the same position is a different variant
    assert len(load_variants(csv(tmp_path, "chr1,1,A,G,1,x", "chr1,1,A,T,0,x"), GENOME)) == 2


def test_vcf_of_indels_only_is_an_error(tmp_path):
    vcf = write(
        tmp_path / "v.vcf",
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "chr2\t1\t.\tG\tGA\t.\tPASS\tlabel=0\nchr1\t2\t.\tCG\tC\t.\tPASS\tlabel=1\n",
    )
    with pytest.raises(InputError, match="v.vcf: all 2 variants are insertions or deletions"):
        load_variants(vcf, GENOME)


def test_vcf_ref_mismatch_names_the_line(tmp_path):
    vcf = write(
        tmp_path / "v.vcf",
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "chr1\t1\t.\tT\tA\t.\t.\tlabel=1;region_type=coding\n",
    )
    with pytest.raises(InputError, match=r"v.vcf, line 2 .*ref allele 'T'"):
        load_variants(vcf, GENOME)


def test_window_is_centred_in_the_middle():
    assert window_bounds(100, 50, 1, 10) == (45, 55)
    assert window_bounds(100, 50, 1, 11) == (45, 56)
    w = variant_window("ACGTACGTAC" * 10, 51, "A", "T", 10)
    assert (w.start, w.offset) == (45, 5)
    assert w.ref_seq[w.offset] == "A" and w.alt_seq[w.offset] == "T"
    assert sum(a != b for a, b in zip(w.ref_seq, w.alt_seq)) == 1


@pytest.mark.parametrize(
    "pos0, expected", [(0, (0, 10)), (3, (0, 10)), (97, (90, 100)), (99, (90, 100))]
)
def test_window_shifts_inwards_at_chromosome_edges(pos0, expected):
    assert window_bounds(100, pos0, 1, 10) == expected


def test_window_at_edges_keeps_width_and_allele():
    seq = "GATTACA" * 5
    first = variant_window(seq, 1, "G", "C", 8)
    assert (first.start, first.offset, len(first.ref_seq)) == (0, 0, 8)
    assert first.alt_seq == "C" + seq[1:8]
    last = variant_window(seq, len(seq), "A", "T", 8)
    assert (last.start, last.offset) == (len(seq) - 8, 7)
    assert last.alt_seq == seq[-8:-1] + "T"


def test_chromosome_shorter_than_window_is_taken_whole():
    w = variant_window("ACGTA", 3, "G", "T", 100)
    assert (w.start, w.offset, w.ref_seq, w.alt_seq) == (0, 2, "ACGTA", "ACTTA")


def test_multibase_substitution_window():
    w = variant_window("AAAACCCCGGGG", 5, "CCC", "TTT", 6)
    assert (
        w.ref_seq[w.offset : w.offset + 3] == "CCC" and w.alt_seq[w.offset : w.offset + 3] == "TTT"
    )


def test_variant_windows_follow_table_order(tmp_path):
    df = load_variants(csv(tmp_path, "chr2,10,T,A,1,coding", "chr1,1,A,G,0,coding"), GENOME)
    ws = variant_windows(df, GENOME, 4)
    assert [w.alt_seq[w.offset] for w in ws] == ["A", "G"]
