import warnings

import pandas as pd
import pytest

from genobench.data.fragments import (
    InputError,
    build_fragments,
    load_fragments,
    read_genome_map,
    select_fragments,
)


def write(tmp_path, text, name="frags.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def table(genomes: dict[str, int]) -> pd.DataFrame:
    rows = [(g, f"{g}_{i}", "ACGT") for g, n in genomes.items() for i in range(n)]
    return pd.DataFrame(rows, columns=["genome_id", "fragment_id", "seq"])


def test_valid_csv_loads_and_uppercases(tmp_path):
    df = load_fragments(write(tmp_path, "genome_id,fragment_id,seq\ng1,f1,acgtn\ng1,f2,AC\n"))
    assert df["seq"].tolist() == ["ACGTN", "AC"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "empty"),
        ("genome_id,fragment_id,seq\n", "no rows"),
        ("genome,fragment_id,seq\ng1,f1,ACGT\n", "missing column(s) genome_id"),
        ("genome_id,fragment_id,seq\ng1,f1,ACGT\ng1,f2,\n", "line 3 (fragment_id 'f2'): empty"),
        ("genome_id,fragment_id,seq\ng1,f1,ACGT\ng1,f2,ACXGU\n", "line 3 (fragment_id 'f2')"),
        ("genome_id,fragment_id,seq\ng1,f1,ACGT\ng2,f1,ACGT\n", "line 3: fragment_id 'f1' appears"),
    ],
)
def test_bad_input_is_named(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_fragments(path)
    assert expected in str(err.value)
    assert str(path) in str(err.value)


def test_bad_characters_are_listed(tmp_path):
    with pytest.raises(InputError, match="'UX'"):
        load_fragments(write(tmp_path, "genome_id,fragment_id,seq\ng1,f1,ACXGU\n"))


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_fragments(tmp_path / "nope.csv")


def test_selection_is_reproducible_and_non_overlapping():
    df = table({f"g{i}": 12 for i in range(8)})
    a = select_fragments(df, n_genomes=5, n_fragments=7, seed=3)
    b = select_fragments(df, n_genomes=5, n_fragments=7, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert a["fragment_id"].is_unique
    assert (a.groupby("genome_id").size() == 7).all() and a["genome_id"].nunique() == 5
    c = select_fragments(df, n_genomes=5, n_fragments=7, seed=4)
    assert set(c["fragment_id"]) != set(a["fragment_id"])


def test_short_genomes_drop_or_error():
    df = table({"g1": 10, "g2": 10, "short": 3})
    with pytest.warns(UserWarning, match="dropping 1 genome"):
        sel = select_fragments(df, n_genomes=2, n_fragments=5, seed=0)
    assert set(sel["genome_id"]) == {"g1", "g2"}
    with pytest.raises(InputError, match="'short' has 3"):
        select_fragments(df, n_genomes=2, n_fragments=5, seed=0, short_genomes="error")


def test_too_few_genomes():
    df = table({"g1": 10, "g2": 10})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError, match="n_genomes=3 but only 2"):
            select_fragments(df, n_genomes=3, n_fragments=5, seed=0)


# ---- building fragments from FASTA files ------------------------------------------------

GENOME_1 = ">c1 first contig\nACGTACGTNNNNACGRTAC\nGTAAN\n>c2\nacgtacgtac\n"


def genome_folder(tmp_path):
    import gzip

    folder = tmp_path / "genomes"
    folder.mkdir()
    (folder / "g1.fa").write_text(GENOME_1)
    (folder / "g2.fna.gz").write_bytes(gzip.compress(b">x\nTTTTGGGG\n"))
    (folder / "notes.txt").write_text("not a genome")
    return folder


def test_fragment_table_worked_by_hand(tmp_path):
    # c1 = ACGTACGT NNNN ACGRTACGTAA N (24 bp): gaps at 9-12 and 24; pieces 1-8 and 13-23.
    # 4 bp tiles: 1-4, 5-8 | 13-16 (ACGR), 17-20 (TACG), 21-23 left out. c2 (10 bp, soft-masked):
    # 1-4, 5-8, 9-10 left out. g2 (gzipped, .fna): 1-4, 5-8.
    build = build_fragments([genome_folder(tmp_path)], length=4)
    want = [
        ("g1", "g1:c1:1-4", "ACGT", "c1", 1, 4),
        ("g1", "g1:c1:5-8", "ACGT", "c1", 5, 8),
        ("g1", "g1:c1:13-16", "ACGR", "c1", 13, 16),
        ("g1", "g1:c1:17-20", "TACG", "c1", 17, 20),
        ("g1", "g1:c2:1-4", "ACGT", "c2", 1, 4),
        ("g1", "g1:c2:5-8", "ACGT", "c2", 5, 8),
        ("g2", "g2:x:1-4", "TTTT", "x", 1, 4),
        ("g2", "g2:x:5-8", "GGGG", "x", 5, 8),
    ]
    assert list(build.fragments.itertuples(index=False, name=None)) == want
    g1 = build.genomes.set_index("genome_id").loc["g1"]
    assert (g1["records"], g1["bases"], g1["gap_runs"], g1["gap_bases"]) == (2, 34, 2, 5)
    assert (g1["ambiguous_bases"], g1["fragments"], g1["bases_in_fragments"]) == (1, 6, 24)
    g2 = build.genomes.set_index("genome_id").loc["g2"]
    assert (g2["records"], g2["bases"], g2["gap_runs"], g2["gap_bases"]) == (1, 8, 0, 0)


def test_genome_map_gives_ids_and_taxon_columns(tmp_path):
    folder = genome_folder(tmp_path)
    mapping = write(
        tmp_path, "file,genome_id,species\ng1.fa,strain_a,sp1\ng2.fna.gz,strain_b,sp1\n", "map.csv"
    )
    build = build_fragments([folder], 4, genome_map=read_genome_map(mapping))
    assert build.fragments.groupby("genome_id").size().to_dict() == {"strain_a": 6, "strain_b": 2}
    assert set(build.fragments["species"]) == {"sp1"}
    assert build.fragments["fragment_id"].iat[0] == "strain_a:c1:1-4"
    partial = write(tmp_path, "file,genome_id\ng1.fa,a\n", "partial.csv")
    with pytest.raises(InputError, match="'g2.fna.gz' is not in the genome map"):
        build_fragments([folder], 4, genome_map=read_genome_map(partial))


def test_max_per_genome_is_a_seeded_subset(tmp_path):
    folder = genome_folder(tmp_path)
    full = build_fragments([folder], 4).fragments
    a = build_fragments([folder], 4, seed=1, max_per_genome=3).fragments
    assert a.equals(build_fragments([folder], 4, seed=1, max_per_genome=3).fragments)
    assert a.groupby("genome_id").size().to_dict() == {"g1": 3, "g2": 2}
    assert set(a["fragment_id"]) <= set(full["fragment_id"])
    draws = {
        tuple(build_fragments([folder], 4, seed=s, max_per_genome=3).fragments["fragment_id"])
        for s in range(6)
    }
    assert len(draws) > 1


def test_built_table_loads_with_ambiguity_codes_as_unknown(tmp_path):
    csv = tmp_path / "frags.csv"
    build_fragments([genome_folder(tmp_path)], 4).fragments.to_csv(csv, index=False)
    with pytest.warns(UserWarning, match="1 IUPAC ambiguity code.*in 1 fragment.*R 1"):
        df = load_fragments(csv)
    assert df.attrs["ambiguous_bases"] == {"R": 1}
    assert df.set_index("fragment_id").at["g1:c1:13-16", "seq"] == "ACGN"


@pytest.mark.parametrize(
    "text, match",
    [
        # M, K and V are IUPAC codes: L is the first letter that is none
        (">p1\nMKVLE*\n", r"record 'p1' \(header on line 1\): letter 'L' at position 4"),
        (">a\nACGT\n>b\nAC-GT\n", "record 'b' .*letter '-' at position 3"),
    ],
)
def test_non_nucleotide_genome_is_refused_naming_the_record(tmp_path, text, match):
    (tmp_path / "bad.fa").write_text(text)
    with pytest.raises(InputError, match=match):
        build_fragments([tmp_path / "bad.fa"], 2)


def test_duplicate_genome_ids_and_missing_inputs(tmp_path):
    (tmp_path / "a.fa").write_text(">x\nACGT\n")
    (tmp_path / "a.fna").write_text(">x\nACGT\n")
    with pytest.raises(InputError, match="genome id 'a' is also the id of"):
        build_fragments([tmp_path / "a.fa", tmp_path / "a.fna"], 2)
    with pytest.raises(InputError, match="no such file or folder"):
        build_fragments([tmp_path / "nope"], 2)
    with pytest.raises(InputError, match="every piece between gaps is shorter"):
        build_fragments([tmp_path / "a.fa"], 5)


@pytest.mark.parametrize(
    "text, match",
    [
        ("genome_id,fragment_id,seq\ng1,f1,ACGT\n,f2,ACGT\n", "line 3: empty genome_id"),
        ("genome_id,fragment_id,seq\ng1, ,ACGT\n", "line 2: empty fragment_id"),
        ("genome_id,fragment_id,seq\ng1,f1,ACGT\ng1,f2,ACEF\n", "line 3 .*'EF', which are no"),
    ],
)
def test_empty_ids_and_non_nucleotide_letters_name_the_row(tmp_path, text, match):
    with pytest.raises(InputError, match=match):
        load_fragments(write(tmp_path, text))


def test_cli_writes_the_csv(tmp_path, capsys):
    from genobench.cli import main

    out = tmp_path / "out.csv"
    assert (
        main(["data", "fragments", str(genome_folder(tmp_path)), "-o", str(out), "--length", "4"])
        == 0
    )
    with pytest.warns(UserWarning, match="IUPAC"):
        assert len(load_fragments(out)) == 8
    assert "8 fragments of 4 bp from 2 genome(s)" in capsys.readouterr().out
    assert main(["data", "fragments", str(tmp_path / "nope"), "-o", str(out)]) == 2
    assert "no such file or folder" in capsys.readouterr().err
