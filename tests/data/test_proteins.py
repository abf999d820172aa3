"""Protein FASTA validation and the seeded synthetic protein sets."""

import numpy as np
import pytest

from genobench.data.errors import InputError
from genobench.data.fasta import write_fasta
from genobench.data.proteins import (
    PROTEIN_ALPHABET,
    assign_buckets,
    bucket_proteins,
    fasta_buckets,
    labelled_fasta,
    parse_proteins,
    read_proteins,
    synthetic_proteins,
    viral_host_proteins,
)


def test_parse_proteins_reads_multiline_records_and_normalizes():
    recs = parse_proteins(">p1 first protein\nmkta\nYIAK*\n\n>p2\nXBZUO\n")
    assert [(r.id, r.description, r.seq) for r in recs] == [
        ("p1", "p1 first protein", "MKTAYIAK"),
        ("p2", "p2", "XBZUO"),
    ]


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "no FASTA records"),
        ("MKTAY\n>p1\nMK\n", "line 1: sequence text before the first '>' header"),
        (">p1\nMKT\n>\nMK\n", "line 3: empty header"),
        (">p1\nMKT\n>p2 empty one\n>p3\nMK\n", "record 'p2' \\(line 3\\): empty sequence"),
        (
            ">p1\nMKT\n>p2\nMKJT\n",
            "record 'p2' \\(line 3\\): invalid character\\(s\\) 'J' \\(first at residue 3\\)",
        ),
        (">p1\nACGT-ACGT\n", "invalid character\\(s\\) '-'"),
        (">p1\nMKT\n>p1 again\nMK\n", "id 'p1' was already used on line 1"),
    ],
)
def test_fasta_errors_name_the_record(text, match):
    with pytest.raises(InputError, match=match):
        parse_proteins(text, source="in.fa")


def test_read_proteins_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_proteins(tmp_path / "nope.fa")


def test_fasta_round_trip(tmp_path):
    recs = synthetic_proteins([5, 130], seed=3)
    back = read_proteins(write_fasta(((r.description, r.seq) for r in recs), tmp_path / "x.fa"))
    assert [(r.id, r.seq) for r in back] == [(r.id, r.seq) for r in recs]


def test_synthetic_sets_are_seeded():
    a, b = bucket_proteins([50, 200], 5, seed=1), bucket_proteins([50, 200], 5, seed=1)
    assert a.equals(b) and not a.equals(bucket_proteins([50, 200], 5, seed=2))
    assert (a.groupby("bucket").size() == 5).all()
    assert a["length"].between(45, 220).all() and (a["length"] == a["seq"].str.len()).all()
    assert set("".join(a["seq"])) <= set(PROTEIN_ALPHABET)
    v1, v2 = viral_host_proteins(30, seed=4), viral_host_proteins(30, seed=4)
    assert v1.equals(v2) and v1["label"].value_counts().to_dict() == {1: 30, 0: 30}
    assert set(v1.loc[v1.label == 1, "label_name"]) == {"viral"}


def test_viral_and_host_differ_in_composition():
    df = viral_host_proteins(200, seed=0)
    frac = {
        lab: np.mean([sum(s.count(c) for c in "STNP") / len(s) for s in g["seq"]])
        for lab, g in df.groupby("label")
    }
    assert frac[1] > frac[0] + 0.03
    assert df["seq"].str.contains("KDEL").groupby(df["label"]).mean()[0] > 0.3


def test_buckets_from_a_fasta():
    recs = synthetic_proteins([90, 110, 290, 310, 320, 600], seed=0)
    df = fasta_buckets(recs, [100, 300], per_bucket=2, seed=0)
    assert df.groupby("bucket").size().to_dict() == {100: 2, 300: 2}
    assert list(assign_buckets([90, 210, 1000], [100, 300])) == [100, 300, 300]


def test_labelled_fasta(tmp_path):
    path = tmp_path / "l.fa"
    path.write_text(">a label=viral\nMKT\n>b x label=host\nMKV\n")
    df = labelled_fasta(path)
    assert list(df["label"]) == [1, 0] and list(df["label_name"]) == ["viral", "host"]
    path.write_text(">a label=viral\nMKT\n>b\nMKV\n")
    with pytest.raises(InputError, match="record 'b': no 'label=<class>'"):
        labelled_fasta(path)
    path.write_text(">a label=x\nMKT\n>b label=y\nMKV\n>c label=z\nMK\n")
    with pytest.raises(InputError, match="binary but the headers name 3"):
        labelled_fasta(path)


def test_real_protein_sources_and_quantile_buckets(tmp_path):
    from genobench.data.packaged import packaged_path
    from genobench.data.proteins import ProteinRecord, protein_records, quantile_buckets

    # a packaged Prodigal FASTA (gzipped, trailing '*' on every record)
    ecoli = protein_records("ecoli_miij01000039_proteins")
    assert packaged_path("ecoli_miij01000039_proteins").name.endswith(".gz")
    assert len(ecoli) > 300 and not any(r.seq.endswith("*") for r in ecoli)
    # a packaged genome gives its gene calls, a path its records
    genes = protein_records("kutzneria_kk037166")
    assert len(genes) > 10 and all(r.seq[0] == "M" for r in genes)
    assert quantile_buckets(
        [ProteinRecord(str(n), "", "M" * n) for n in (10, 20, 30, 40, 50)], [0.25, 0.5, 0.5, 1.0]
    ) == [20, 30, 50]


def test_phage_host_proteins_are_length_matched():
    from genobench.data.proteins import phage_host_proteins, protein_records

    df = phage_host_proteins(
        ["phage_topaz_proteins"],
        "ecoli_miij01000039_proteins",
        n_per_class=12,
        seed=0,
        min_length=40,
        max_length=200,
    )
    assert df["label"].value_counts().to_dict() == {1: 12, 0: 12}
    assert df["id"].is_unique and df["seq"].str.len().between(40, 200).all()
    viral = sorted(df.loc[df["label"] == 1, "seq"].str.len())
    host = sorted(df.loc[df["label"] == 0, "seq"].str.len())
    # each host protein is among the 12 nearest in length to some phage protein (at most 11
    # were taken before it); the E. coli set has none shorter than 57 aa in this range
    pool = np.array(
        [
            len(r.seq)
            for r in protein_records("ecoli_miij01000039_proteins")
            if 40 <= len(r.seq) <= 200
        ]
    )
    bound = max(np.sort(np.abs(pool - v))[11] for v in viral)
    assert max(abs(v - h) for v, h in zip(viral, host)) <= bound
    assert np.mean(np.abs(np.array(viral) - np.array(host))) < 4
    topaz = {r.seq for r in protein_records("phage_topaz_proteins")}
    assert set(df.loc[df["label"] == 1, "seq"]) <= topaz
    with pytest.raises(ValueError, match="too few for the task"):
        phage_host_proteins(["phage_topaz_proteins"], "phage_topaz_proteins", 12, 0, 40, 41)
