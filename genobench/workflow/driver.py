"""`genobench report`: plan the runs, drive Snakemake through the workflow, say what happened.

Snakemake runs as a subprocess of this Python (`python -m snakemake`), so a cluster
profile (`--profile`) and executor plugins work exactly as on Snakemake's own command
line, and every flag Snakemake has can be passed after `--`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from genobench import __version__
from genobench.runner import nvml_gpu_count
from genobench.workflow import SNAKEFILE, jobs
from genobench.workflow.plan import Run, plan_runs, rule_names


@dataclass
class ReportOptions:
    """What `genobench report` was asked to do."""

    params_sets: list[str] = field(default_factory=lambda: ["cpu"])
    only: list[str] = field(default_factory=list)
    reports_dir: str = "reports"
    notebooks_dir: str = "notebooks"
    params_dir: str = "params"
    renderer: str = "auto"
    quarto_config: str = "_quarto.yml"
    cores: int | None = None  # local: default every core of the machine
    jobs: int | None = None  # cluster: jobs queued at once
    profile: str | None = None
    executor: str | None = None
    dry_run: bool = False
    force: bool = False  # rerun every planned run, changed or not
    snakemake_args: list[str] = field(default_factory=list)

    @property
    def local(self) -> bool:
        return self.profile is None and self.executor in (None, "local")


def _status(path: str) -> str | None:
    try:
        return json.loads(Path(path).read_text()).get("status")
    except (OSError, ValueError, AttributeError):
        return None


def _mtime(path: str | Path) -> float | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def failed_runs(runs: list[Run], reports_dir: str) -> list[Run]:
    """Planned runs whose run.json exists but does not say ok: they are rerun."""
    return [run for run in runs if Path(run.record_file(reports_dir)).is_file()
            and _status(run.record_file(reports_dir)) != "ok"]


def snakemake_command(opts: ReportOptions, forcerun: list[str] = ()) -> list[str]:
    """The Snakemake command line of a report."""
    config = {"params": ",".join(opts.params_sets), "only": ",".join(opts.only),
              "notebooks_dir": opts.notebooks_dir, "params_dir": opts.params_dir,
              "reports_dir": opts.reports_dir, "renderer": opts.renderer,
              "quarto_config": opts.quarto_config}
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE),
           "--keep-going", "--rerun-incomplete",
           "--config", *(f"{key}={value}" for key, value in config.items())]
    if opts.profile:
        cmd += ["--profile", opts.profile]
    if opts.executor:
        cmd += ["--executor", opts.executor]
    if opts.local:
        cmd += ["--cores", str(opts.cores or os.cpu_count() or 1)]
        gpus = nvml_gpu_count()
        if gpus:  # runs that declare GPUs share this machine's, never more at once
            cmd += ["--resources", f"gpu={gpus}"]
    else:
        if opts.cores:
            cmd += ["--cores", str(opts.cores)]
        if opts.jobs or not opts.profile:
            cmd += ["--jobs", str(opts.jobs or 50)]
    if opts.dry_run:
        cmd += ["--dry-run"]
    if forcerun:
        cmd += ["--forcerun", *forcerun]
    return cmd + list(opts.snakemake_args)


def _labels(runs: list[Run], limit: int = 12) -> str:
    shown = ", ".join(run.label() for run in runs[:limit])
    return shown + (f", … ({len(runs) - limit} more)" if len(runs) > limit else "")


def _stream(cmd: list[str]) -> tuple[int, str]:
    """Run a command, echoing its output as it comes; return (exit code, output)."""
    lines = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace", bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            lines.append(line)
    return proc.returncode, "".join(lines)


def _runs_of_rules(pattern: str, output: str, runs: list[Run]) -> list[Run]:
    """Runs whose rule names Snakemake's output mentions in lines matching `pattern`."""
    listed = set(re.findall(pattern, output, flags=re.M))
    return [run for run, name in zip(runs, rule_names(runs)) if name in listed]


def report(opts: ReportOptions) -> int:
    """Run the report through the workflow; 0 when every planned run is ok."""
    runs, notes = plan_runs(opts.notebooks_dir, opts.params_dir, opts.params_sets, opts.only)
    for note in notes:
        print(f"note: {note}")
    site_index = Path(opts.reports_dir) / "site" / "index.html"
    failed_before = failed_runs(runs, opts.reports_dir)
    if failed_before:
        print(f"rerunning {len(failed_before)} failed run(s): {_labels(failed_before)}")
    forced = runs if opts.force else failed_before
    print(f"{len(runs)} run(s) with params {', '.join(opts.params_sets)}: {_labels(runs)}",
          flush=True)
    before = {run.key: _mtime(run.record_file(opts.reports_dir)) for run in runs}
    site_before = _mtime(site_index)

    code, output = _stream(snakemake_command(
        opts, [run.record_file(opts.reports_dir) for run in forced]))
    if "LockException" in output or "cannot be locked" in output:
        print("genobench: another Snakemake holds the lock on this folder; if none is "
              "running (an earlier one was killed), `genobench report -- --unlock` "
              "releases it", file=sys.stderr)
    if opts.dry_run:
        todo = _runs_of_rules(r"^rule (\S+):$", output, runs)
        if code == 0:
            print("dry run, nothing executed: " + (
                f"would run {_labels(todo, limit=len(todo))}" if todo
                else "every run is up to date") +
                ("; would render the site" if re.search(r"^rule site:$", output, re.M) else ""))
        return code

    changed = [run for run in runs
               if _mtime(run.record_file(opts.reports_dir)) != before[run.key]]
    # A job that died without writing its run.json (killed for time or memory, node
    # failure): record it as failed so the site shows it and the next report reruns it.
    lost = [run for run in _runs_of_rules(r"^Error in rule (\S+):$", output, runs)
            if not Path(run.record_file(opts.reports_dir)).is_file()]
    for run in lost:
        jobs.record_failure_of_lost_job(run, opts.reports_dir)
    if lost:
        jobs.render(opts.reports_dir, opts.quarto_config, opts.renderer)
        changed += [run for run in lost if run not in changed]
    if code != 0 and not lost:
        print(f"genobench: Snakemake stopped with exit code {code} (its messages are above)",
              file=sys.stderr)
        return code

    if code == 0 and not changed and _mtime(site_index) == site_before:
        print(f"nothing to do: the {len(runs)} run(s) and the site are up to date (no "
              f"notebook, params file or genobench version {__version__} changed since "
              f"they ran; --force reruns them anyway); site: {site_index}")
        return 0
    failed = [run for run in runs if _status(run.record_file(opts.reports_dir)) != "ok"]
    print(f"ran {len(changed)} of {len(runs)} run(s)"
          + (f": {_labels(changed, limit=len(changed))}" if changed else "")
          + f"; site: {site_index}")
    for run in failed:
        record = json.loads(Path(run.record_file(opts.reports_dir)).read_text()) \
            if Path(run.record_file(opts.reports_dir)).is_file() else {}
        print(f"FAILED {run.label()}: {record.get('error', 'no run.json')}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} run(s) failed; they are rerun by the next `genobench report`",
              file=sys.stderr)
        return 1
    return 0
