"""The report's face: `runner` (one notebook run, atomic), `results` (what a run writes),
`site` (the HTML report) and `workflow` (Snakemake, on a laptop or a SLURM cluster)."""
