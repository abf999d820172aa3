"""The Snakemake workflow behind `genobench report`, on a laptop or a SLURM cluster.

`Snakefile` (shipped beside this module) has one job per run (a notebook with one
params file, or one point of the file's `sweep:` grid) and one job that renders the
site from every run directory. `plan` turns notebooks and params files into runs;
`driver` starts Snakemake for `genobench report`.
"""

from pathlib import Path

SNAKEFILE = Path(__file__).resolve().with_name("Snakefile")

__all__ = ["SNAKEFILE"]
