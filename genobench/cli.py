"""`genobench` command line: run notebooks, build the report, render the site."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml


def _override(pairs: list[list[str]]) -> dict:
    return {key: yaml.safe_load(value) for key, value in pairs}


def cmd_run(args: argparse.Namespace) -> int:
    from genobench.report.runner import read_params_file, run_notebook

    sweep = read_params_file(args.params).get("sweep") if args.params else None
    if sweep:
        print(
            f"note: {args.params} declares a sweep over {', '.join(sweep)}; this runs the "
            f"file's other values once. `genobench report --only NOTEBOOK --params "
            f"{Path(args.params).stem}` runs every point of the grid.",
            file=sys.stderr,
        )
    record = run_notebook(
        args.notebook,
        args.params,
        _override(args.param),
        name=args.name,
        reports_dir=args.reports_dir,
        progress=True,
    )
    where = Path(args.reports_dir) / "runs" / record["notebook"] / record["params_name"]
    print(
        f"{record['notebook']} ({record['params_name']}): {record['status']} in "
        f"{record['duration_s']:.1f} s -> {where}"
    )
    if record["error"]:
        print(f"  error: {record['error']}", file=sys.stderr)
    return 0 if record["status"] == "ok" else 1


def cmd_report(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from genobench.report.workflow.driver import ReportOptions, report

    # the report subparser's destinations are ReportOptions' field names
    return report(ReportOptions(**{f.name: getattr(args, f.name) for f in fields(ReportOptions)}))


def cmd_render(args: argparse.Namespace) -> int:
    from genobench.report.site import render_site

    renderer, site = render_site(args.reports_dir, renderer=args.renderer)
    print(f"site rendered with {renderer}: {site / 'index.html'}")
    return 0


def cmd_build_lm(args: argparse.Namespace) -> int:
    from genobench.models.genomic_lm import build_genomic_lm
    from genobench.models.local import GENOMIC_LMS, genomic_lm_folder

    name = "genomic-lm-tiny" if args.tiny else "genomic-lm"
    settings = {**GENOMIC_LMS[name], "seed": args.seed}
    custom = args.seed != 0 or args.max_steps is not None
    if not args.path and custom:
        raise SystemExit(
            "--seed or --max-steps build a model local:genomic-lm would not find: "
            "give --path for it"
        )
    path = Path(args.path) if args.path else genomic_lm_folder(name)
    record = build_genomic_lm(
        path, max_seconds=args.max_seconds, max_steps=args.max_steps, progress=True, **settings
    )
    print(
        f"{path}: {record['steps_completed']}/{record['max_steps']} steps in "
        f"{record['train_seconds']} s, held-out {record['heldout_bits_per_base']:.3f} "
        f"bits/base (uniform 2.000, true chains {record['oracle_bits_per_base']:.3f})"
    )
    return 0


def cmd_data_fragments(args: argparse.Namespace) -> int:
    from genobench.data.ani import ani_species
    from genobench.data.fasta import read_fasta
    from genobench.data.fragments import build_fragments, fasta_files, genome_stem, read_genome_map
    from genobench.report.results import atomic_write_csv

    genome_map = read_genome_map(args.genome_map) if args.genome_map else None
    taxa = None
    if args.ani_species:
        files = fasta_files(args.inputs)
        ids = (
            dict(zip(genome_map["file"], genome_map["genome_id"]))
            if genome_map is not None
            else {p.name: genome_stem(p) or p.name for p in files}
        )
        species = ani_species(
            {ids.get(p.name, p.name): [r.seq.upper() for r in read_fasta(p)] for p in files}
        )
        taxa = {genome: {"ani_species": label} for genome, label in species.items()}
    build = build_fragments(
        args.inputs, args.length, args.seed, args.max_per_genome, genome_map, taxa
    )
    atomic_write_csv(build.fragments, args.output)
    print(build.genomes.drop(columns="file").to_string(index=False))
    print(
        f"{args.output}: {len(build.fragments)} fragments of {args.length} bp from "
        f"{len(build.genomes)} genome(s)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `genobench` command."""
    parser = argparse.ArgumentParser(prog="genobench", description=__doc__)
    parser.add_argument("--reports-dir", default="reports", help="where runs and the site go")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute one notebook with papermill into its run folder")
    run.add_argument("notebook", help="notebook name (e.g. binning) or path to its .py")
    run.add_argument("-f", "--params", help="YAML parameters file, e.g. params/binning/smoke.yaml")
    run.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("KEY", "VALUE"),
        help="override one parameter (YAML value)",
    )
    run.add_argument("--name", help="run folder name (default: the params file's name)")
    run.set_defaults(func=cmd_run)

    renderer = dict(
        choices=["auto", "quarto", "fallback"],
        default="auto",
        help="quarto when on PATH (auto), or the nbconvert fallback",
    )
    report = sub.add_parser(
        "report",
        help="run every notebook through the Snakemake workflow, then render the site",
        description="Run every notebook with params/<notebook>/<set>.yaml (one run per point "
        "of a params file's sweep) through genobench's Snakemake workflow, locally or on a "
        "cluster, then render the site. Only runs whose notebook, params file or genobench "
        "version changed, and runs that failed, are redone. Arguments after `--` go to "
        "Snakemake as they are (e.g. `-- --forceall`, `-- --unlock`).",
    )
    report.add_argument(
        "--params",
        dest="params_sets",
        nargs="+",
        default=["cpu"],
        metavar="SET",
        help="params file name(s) under params/<notebook>/: cpu (default), gpu, smoke",
    )
    report.add_argument(
        "--only", nargs="+", default=[], metavar="NOTEBOOK", help="run only these notebooks"
    )
    report.add_argument(
        "-n",
        "--dry-run",
        action="store_true",
        help="list what would run and why (Snakemake's reasons); run nothing",
    )
    report.add_argument(
        "--force", action="store_true", help="rerun every selected run even if nothing changed"
    )
    report.add_argument(
        "--cores", type=int, help="local: cores to use at once (default: all of this machine)"
    )
    report.add_argument(
        "--jobs", type=int, help="cluster: jobs queued at once (default: the profile's, else 50)"
    )
    report.add_argument(
        "--profile",
        metavar="DIR",
        help="a Snakemake profile, e.g. profiles/slurm (executor, account, "
        "partitions, default resources)",
    )
    report.add_argument(
        "--executor", metavar="NAME", help="a Snakemake executor, e.g. slurm (default: local)"
    )
    report.add_argument(
        "--notebooks-dir", default="notebooks", help="folder of the notebooks (default: notebooks)"
    )
    report.add_argument(
        "--params-dir",
        default="params",
        help="folder of params/<notebook>/<set>.yaml (default: params)",
    )
    report.add_argument(
        "--quarto-config",
        default="_quarto.yml",
        help="the site's settings template (default: _quarto.yml)",
    )
    report.add_argument("--renderer", **renderer)
    report.set_defaults(func=cmd_report, snakemake_args=[])

    build_lm = sub.add_parser(
        "build-lm",
        help="build and train the local genomic LM (local:genomic-lm) now",
        description="Train the small causal genomic LM on the synthetic metagenome and save it "
        "with save_pretrained (default: into the cache, where local:genomic-lm finds it). "
        "Notebooks build it on first use anyway; this builds it ahead of time.",
    )
    build_lm.add_argument("--path", help="output folder (default: the cache's genomic-lm)")
    build_lm.add_argument("--seed", type=int, default=0)
    build_lm.add_argument(
        "--max-seconds",
        type=float,
        default=900.0,
        help="stop training after this long (recorded in the model folder)",
    )
    build_lm.add_argument("--max-steps", type=int, help="training steps (default: the preset's)")
    build_lm.add_argument(
        "--tiny", action="store_true", help="the random-init tiny version used by tests (seconds)"
    )
    build_lm.set_defaults(func=cmd_build_lm)

    data = sub.add_parser("data", help="build input tables from your own files")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    frags = data_sub.add_parser(
        "fragments",
        help="cut FASTA genomes into a binning fragment CSV",
        description="Cut each genome (one FASTA file each, .gz or not; folders are searched "
        "for .fa/.fna/.fasta/.fas/.fsa) into non-overlapping fragments of --length bp, skipping "
        "runs of N, and write genome_id, fragment_id, seq, contig, start, end (plus taxon "
        "columns) as a CSV for `genobench run binning -p csv FILE`. The genome id is the file "
        "name without its suffix unless --genome-map says otherwise.",
    )
    frags.add_argument("inputs", nargs="+", metavar="FASTA_OR_DIR")
    frags.add_argument("-o", "--output", required=True, help="the fragment CSV to write")
    frags.add_argument(
        "--length", type=int, default=4000, help="fragment length in bp (default 4000)"
    )
    frags.add_argument(
        "--max-per-genome",
        type=int,
        help="keep at most this many fragments of a genome, drawn with --seed",
    )
    frags.add_argument("--seed", type=int, default=0)
    frags.add_argument(
        "--genome-map",
        metavar="CSV",
        help="CSV with columns file, genome_id and any taxon columns (e.g. "
        "species): ids and taxa per FASTA file name",
    )
    frags.add_argument(
        "--ani-species",
        action="store_true",
        help="add a column ani_species: genomes joined at ANI >= 95%% (pyskani)",
    )
    frags.set_defaults(func=cmd_data_fragments)

    render = sub.add_parser("render", help="render the site from existing runs")
    render.add_argument("--renderer", **renderer)
    render.set_defaults(func=cmd_render)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `genobench` console script."""
    from genobench.data.errors import InputError
    from genobench.report.runner import RunConfigError

    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    args = build_parser().parse_args(argv)
    if extra:
        if args.command != "report":
            build_parser().error("arguments after `--` are for Snakemake: `genobench report` only")
        args.snakemake_args = extra
    try:
        return args.func(args)
    except (RunConfigError, FileNotFoundError, InputError) as exc:
        print(f"genobench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genobench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
