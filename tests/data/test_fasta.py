import gzip

import pytest

from genobench.data.errors import InputError
from genobench.data.fasta import FastaRecord, read_fasta, write_fasta


def test_reads_plain_and_gzipped_the_same(tmp_path):
    text = ">a first one\nACGT\nac gt\n\n>b\n>c x\nNNNN\n"
    (tmp_path / "x.fa").write_text(text)
    (tmp_path / "x.fa.gz").write_bytes(gzip.compress(text.encode()))
    (tmp_path / "y.fasta").write_bytes(gzip.compress(text.encode()))  # gzip without .gz
    want = [
        FastaRecord("a", "a first one", "ACGTacgt", 1),
        FastaRecord("b", "b", "", 5),
        FastaRecord("c", "c x", "NNNN", 6),
    ]
    for name in ("x.fa", "x.fa.gz", "y.fasta"):
        assert read_fasta(tmp_path / name) == want


def test_write_then_read_round_trips(tmp_path):
    path = write_fasta(
        [("s1 desc", "ACGTACGTA"), FastaRecord("s2", "s2", "GG", 9)], tmp_path / "o.fa", width=4
    )
    assert path.read_text() == ">s1 desc\nACGT\nACGT\nA\n>s2\nGG\n"
    assert [(r.id, r.seq) for r in read_fasta(path)] == [("s1", "ACGTACGTA"), ("s2", "GG")]


@pytest.mark.parametrize(
    "text, match",
    [
        ("ACGT\n>a\nAC\n", "line 1: sequence text before the first '>'"),
        (">a\nAC\n>\nGG\n", "line 3: empty header"),
        (">a\nAC\n>a x\nGG\n", "line 3: id 'a' was already used on line 1"),
        ("\n\n", "no FASTA records found"),
    ],
)
def test_bad_files_name_the_line(tmp_path, text, match):
    (tmp_path / "bad.fa").write_text(text)
    with pytest.raises(InputError, match=match):
        read_fasta(tmp_path / "bad.fa")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_fasta(tmp_path / "nope.fa")
