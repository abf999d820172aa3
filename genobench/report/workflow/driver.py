"""`genobench report`: plan the runs, drive Snakemake through the workflow, say what happened.

Snakemake runs as a subprocess of this Python (`python -m snakemake`), so a cluster
profile (`--profile`) and executor plugins work exactly as on Snakemake's own command
line, and every flag Snakemake has can be passed after `--`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from genobench import __version__
from genobench.report.runner import GOOD, RunConfigError, nvml_gpu_count
from genobench.report.workflow import SNAKEFILE, jobs, slurm
from genobench.report.workflow.plan import MACHINE, MACHINE_UNITS, Run, plan_runs, rule_names


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


def _mtime(path: str | Path) -> float | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def failed_runs(runs: list[Run], reports_dir: str) -> list[Run]:
    """Planned runs whose last job recorded a failed attempt: they are rerun."""
    return [
        run
        for run in runs
        if (jobs.job_status(run, reports_dir) or {}).get("status") not in (None, *GOOD)
    ]


def snakemake_command(opts: ReportOptions, forcerun: list[str] = ()) -> list[str]:
    """The Snakemake command line of a report."""
    config = {
        "params": ",".join(opts.params_sets),
        "only": ",".join(opts.only),
        "notebooks_dir": opts.notebooks_dir,
        "params_dir": opts.params_dir,
        "reports_dir": opts.reports_dir,
        "renderer": opts.renderer,
        "quarto_config": opts.quarto_config,
    }
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--keep-going",
        "--rerun-incomplete",
        "--config",
        *(f"{key}={value}" for key, value in config.items()),
    ]
    if opts.profile:
        cmd += ["--profile", opts.profile]
    if opts.executor:
        cmd += ["--executor", opts.executor]
    if opts.local:
        cmd += ["--cores", str(opts.cores or os.cpu_count() or 1)]
        # an exclusive (timing) run takes every unit: it runs alone
        limits = [f"{MACHINE}={MACHINE_UNITS}"]
        gpus = nvml_gpu_count()
        if gpus:  # runs that declare GPUs share this machine's, never more at once
            limits.append(f"gpu={gpus}")
        cmd += ["--resources", *limits]
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


def _stream(cmd: list[str]) -> tuple[int, str, bool]:
    """Run a command, echoing its output as it comes; (exit code, output, interrupted).

    Snakemake runs in a session of its own, so a Ctrl-C reaches it once, from here:
    it is forwarded as SIGINT and Snakemake is waited for while it cancels its jobs
    (on SLURM, scancel). Each further Ctrl-C is forwarded too.
    """
    lines = []
    interrupted = False
    with subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        bufsize=1,
        start_new_session=True,
    ) as proc:
        assert proc.stdout is not None
        while True:
            try:
                for line in proc.stdout:
                    sys.stdout.write(line)
                    sys.stdout.flush()
                    lines.append(line)
                break
            except KeyboardInterrupt:
                interrupted = True
                proc.send_signal(signal.SIGINT)
        proc.wait()
    return proc.returncode, "".join(lines), interrupted


def error_blocks(output: str) -> dict[str, str]:
    """Rule name -> the text of Snakemake's `Error in rule NAME:` block for it.

    A block runs to the next one, to Snakemake's next timestamp line (`[Fri Dec  4 ...]`)
    or to the end: its message may go on in lines that start in the first column (what
    sbatch said, over two lines).
    """
    blocks = {}
    pattern = r"^Error in rule (\S+):$(.*?)(?=^Error in rule |^\[|\Z)"
    for match in re.finditer(pattern, output, re.M | re.S):
        blocks[match.group(1)] = blocks.get(match.group(1), "") + match.group(2)
    return blocks


def _runs_of_rules(pattern: str, output: str, runs: list[Run]) -> list[Run]:
    """Runs whose rule names Snakemake's output mentions in lines matching `pattern`."""
    listed = set(re.findall(pattern, output, flags=re.M))
    return [run for run, name in zip(runs, rule_names(runs)) if name in listed]


def check_cluster(opts: ReportOptions) -> None:
    """Refuse a SLURM profile that cannot work here (placeholders, partitions, status command).

    In a dry run the problems are printed as notes instead: nothing is submitted.
    """
    problems: list[str] = []
    if opts.profile:
        profile = slurm.read_profile(opts.profile)
        if profile.config.get("executor") == "slurm" or opts.executor == "slurm":
            problems = slurm.profile_problems(profile)
    elif opts.executor == "slurm":
        problems = slurm.status_command_problems(None, "--executor slurm")
    if not problems:
        return
    if opts.dry_run:
        for problem in problems:
            print(f"note: {problem}")
        return
    raise RunConfigError("the cluster setup cannot work:\n  " + "\n  ".join(problems))


def _record_lost_jobs(runs: list[Run], output: str, reports_dir: str) -> list[Run]:
    """Record as failed every run whose job failed without writing its job file.

    Such a job was killed (time or memory limit, node failure, scancel) or never
    started; its SLURM state or sbatch's message, when Snakemake's output has them,
    becomes the record's error.
    """
    blocks = error_blocks(output)
    lost = [
        run
        for run, name in zip(runs, rule_names(runs))
        if name in blocks and jobs.job_status(run, reports_dir) is None
    ]
    names = dict(zip((run.key for run in runs), rule_names(runs)))
    for run in lost:
        jobs.record_failure_of_lost_job(run, reports_dir, slurm.job_failure(blocks[names[run.key]]))
    return lost


def report(opts: ReportOptions) -> int:
    """Run the report through the workflow; 0 when every planned run is ok (or partial)."""
    runs, notes = plan_runs(opts.notebooks_dir, opts.params_dir, opts.params_sets, opts.only)
    for note in notes:
        print(f"note: {note}")
    check_cluster(opts)
    site_index = Path(opts.reports_dir) / "site" / "index.html"
    failed_before = failed_runs(runs, opts.reports_dir)
    if failed_before:
        print(f"rerunning {len(failed_before)} failed run(s): {_labels(failed_before)}")
    forced = runs if opts.force else failed_before
    print(
        f"{len(runs)} run(s) with params {', '.join(opts.params_sets)}: {_labels(runs)}", flush=True
    )
    before = {run.key: _mtime(run.job_file(opts.reports_dir)) for run in runs}
    site_before = _mtime(site_index)

    code, output, interrupted = _stream(
        snakemake_command(opts, [run.job_file(opts.reports_dir) for run in forced])
    )
    if interrupted:
        left = [] if opts.local else slurm.cancel_run(output)
        lost = _record_lost_jobs(runs, output, opts.reports_dir)
        print(
            f"genobench: interrupted; Snakemake stopped (exit code {code}) after cancelling "
            f"its running jobs"
            + (f"; cancelled SLURM job(s) it left: {', '.join(left)}" if left else "")
            + (f"; recorded as failed: {_labels(lost)}" if lost else ""),
            file=sys.stderr,
        )
        return 130
    if "LockException" in output or "cannot be locked" in output:
        print(
            "genobench: another Snakemake holds the lock on this folder; if none is "
            "running (an earlier one was killed), `genobench report -- --unlock` "
            "releases it",
            file=sys.stderr,
        )
    if "--unlock" in opts.snakemake_args:
        return code
    if opts.dry_run:
        todo = _runs_of_rules(r"^rule (\S+):$", output, runs)
        if code == 0:
            print(
                "dry run, nothing executed: "
                + (
                    f"would run {_labels(todo, limit=len(todo))}"
                    if todo
                    else "every run is up to date"
                )
                + ("; would render the site" if re.search(r"^rule site:$", output, re.M) else "")
            )
        return code

    changed = [run for run in runs if _mtime(run.job_file(opts.reports_dir)) != before[run.key]]
    lost = _record_lost_jobs(runs, output, opts.reports_dir)
    if lost:
        jobs.render(opts.reports_dir, opts.quarto_config, opts.renderer)
        changed += [run for run in lost if run not in changed]
    if code != 0 and not lost:
        print(
            f"genobench: Snakemake stopped with exit code {code} (its messages are above)",
            file=sys.stderr,
        )
        return code

    if code == 0 and not changed and _mtime(site_index) == site_before:
        print(
            f"nothing to do: the {len(runs)} run(s) and the site are up to date (no "
            f"notebook, params file or genobench version {__version__} changed since "
            f"they ran; --force reruns them anyway); site: {site_index}"
        )
        return 0
    print(
        f"ran {len(changed)} of {len(runs)} run(s)"
        + (f": {_labels(changed, limit=len(changed))}" if changed else "")
        + f"; site: {site_index}"
    )
    failed = []
    for run in runs:
        status = jobs.job_status(run, opts.reports_dir) or {}
        if status.get("status") == "partial":
            print(f"PARTIAL {run.label()}: {status.get('error')}", file=sys.stderr)
        elif status.get("status") not in GOOD:
            failed.append(run)
            kept = (
                " (its last good result is kept)"
                if jobs.runner.good_result(run.run_dir(opts.reports_dir))
                else ""
            )
            print(
                f"FAILED {run.label()}: {status.get('error', 'no record')}{kept}", file=sys.stderr
            )
    if failed:
        print(
            f"{len(failed)} run(s) failed; they are rerun by the next `genobench report`",
            file=sys.stderr,
        )
        return 1
    return 0
