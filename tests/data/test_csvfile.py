"""The one reader of user CSV files: text cells, clear errors for empty files and columns."""

import pytest

from genobench.data.csvfile import read_csv_columns
from genobench.data.errors import InputError
from genobench.data.fragments import read_genome_map


def test_reads_every_cell_as_text(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,extra\n007,NA,\n")
    df = read_csv_columns(path, ["a", "b"])
    assert df.to_dict("records") == [{"a": "007", "b": "NA", "extra": ""}]


def test_empty_file_and_missing_columns_name_the_file_and_the_fix(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("")
    with pytest.raises(InputError) as err:
        read_csv_columns(path, ["a", "b"], rows=" and one row per thing")
    assert str(err.value) == (
        f"{path}: the file is empty. It needs a header row with columns a, b and one row per thing."
    )
    path.write_text("a,c\n1,2\n")
    with pytest.raises(InputError) as err:
        read_csv_columns(path, ["a", "b"])
    assert str(err.value) == (
        f"{path}: missing column(s) b (found: a, c). Add them to the header row."
    )
    with pytest.raises(InputError, match=r"\(found: a, c\)\. Use b\.$"):
        read_csv_columns(path, ["b"], fix="Use b.")


def test_normalized_header(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(" A ,B\n1,2\n")
    assert list(read_csv_columns(path, ["a", "b"], normalize_header=True).columns) == ["a", "b"]
    with pytest.raises(InputError, match="missing column"):
        read_csv_columns(path, ["a", "b"])


def test_an_empty_genome_map_is_a_clear_error(tmp_path):
    path = tmp_path / "map.csv"
    path.write_text("")
    with pytest.raises(InputError, match="the file is empty.*columns file, genome_id"):
        read_genome_map(path)
