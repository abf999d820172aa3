"""`genobench` command line: run notebooks, build the report, render the site."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml


def _override(pairs: list[list[str]]) -> dict:
    return {key: yaml.safe_load(value) for key, value in pairs}


def cmd_run(args: argparse.Namespace) -> int:
    from genobench.runner import run_notebook

    record = run_notebook(args.notebook, args.params, _override(args.param), name=args.name,
                          reports_dir=args.reports_dir, progress=True)
    where = Path(args.reports_dir) / "runs" / record["notebook"] / record["params_name"]
    print(f"{record['notebook']} ({record['params_name']}): {record['status']} in "
          f"{record['duration_s']:.1f} s -> {where}")
    if record["error"]:
        print(f"  error: {record['error']}", file=sys.stderr)
    return 0 if record["status"] == "ok" else 1


def cmd_report(args: argparse.Namespace) -> int:
    from genobench.runner import run_notebook
    from genobench.site import render_site

    notebooks = args.only or sorted(p.stem for p in Path("notebooks").glob("*.py"))
    failed = []
    for nb in notebooks:
        params = Path("params") / nb / f"{args.params}.yaml"
        print(f"running {nb} with {params} ...", flush=True)
        record = run_notebook(nb, params, reports_dir=args.reports_dir, progress=True)
        print(f"  {record['status']} in {record['duration_s']:.1f} s", flush=True)
        if record["status"] != "ok":
            failed.append(f"{nb}: {record['error']}")
    renderer, site = render_site(args.reports_dir, renderer=args.renderer)
    print(f"site rendered with {renderer}: {site / 'index.html'}")
    for line in failed:
        print(f"FAILED {line}", file=sys.stderr)
    return 1 if failed else 0


def cmd_render(args: argparse.Namespace) -> int:
    from genobench.site import render_site

    renderer, site = render_site(args.reports_dir, renderer=args.renderer)
    print(f"site rendered with {renderer}: {site / 'index.html'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `genobench` command."""
    parser = argparse.ArgumentParser(prog="genobench", description=__doc__)
    parser.add_argument("--reports-dir", default="reports", help="where runs and the site go")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute one notebook with papermill into its run folder")
    run.add_argument("notebook", help="notebook name (e.g. binning) or path to its .py")
    run.add_argument("-f", "--params", help="YAML parameters file, e.g. params/binning/smoke.yaml")
    run.add_argument("-p", "--param", nargs=2, action="append", default=[],
                     metavar=("KEY", "VALUE"), help="override one parameter (YAML value)")
    run.add_argument("--name", help="run folder name (default: the params file's name)")
    run.set_defaults(func=cmd_run)

    renderer = dict(choices=["auto", "quarto", "fallback"], default="auto",
                    help="quarto when on PATH (auto), or the nbconvert fallback")
    report = sub.add_parser("report", help="run every notebook, then render the site")
    report.add_argument("--params", default="cpu",
                        help="params file name under params/<notebook>/ (default: cpu)")
    report.add_argument("--only", nargs="+", metavar="NOTEBOOK", help="run only these notebooks")
    report.add_argument("--renderer", **renderer)
    report.set_defaults(func=cmd_report)

    render = sub.add_parser("render", help="render the site from existing runs")
    render.add_argument("--renderer", **renderer)
    render.set_defaults(func=cmd_render)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `genobench` console script."""
    from genobench.runner import RunConfigError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (RunConfigError, FileNotFoundError) as exc:
        print(f"genobench: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
