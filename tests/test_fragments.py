import warnings

import pandas as pd
import pytest

from genobench.data.fragments import InputError, load_fragments, select_fragments


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


@pytest.mark.parametrize("text, expected", [
    ("", "empty"),
    ("genome_id,fragment_id,seq\n", "no rows"),
    ("genome,fragment_id,seq\ng1,f1,ACGT\n", "missing column(s) genome_id"),
    ("genome_id,fragment_id,seq\ng1,f1,ACGT\ng1,f2,\n", "line 3 (fragment_id 'f2'): empty"),
    ("genome_id,fragment_id,seq\ng1,f1,ACGT\ng1,f2,ACXGU\n", "line 3 (fragment_id 'f2')"),
    ("genome_id,fragment_id,seq\ng1,f1,ACGT\ng2,f1,ACGT\n", "line 3: fragment_id 'f1' appears"),
])
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
