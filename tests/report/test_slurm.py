"""genobench/report/workflow/slurm.py and `genobench report` on SLURM.

Without a cluster (everywhere): the profile checks and the explanations of failed jobs,
on fake SLURM commands put first on PATH.

On a real one-node cluster (tests marked `slurm`, see slurm_cluster.py; on by default,
skipped with the reason where they cannot run, GENOBENCH_SLURM_TESTS=0 switches them
off): the fixture notebooks and the quickest real smoke notebook (gradient_check) run
through `genobench report --profile`, with the shipped profile filled in as a user would
(the cluster's partition, no account) and quick status checks. The cluster has no
accounting storage, so the profile's `slurm-status-command: squeue` is what lets the
report see jobs end. A run over its one-minute time limit is the slowest part: its report
starts first and runs in the background while the other tests go on. Every report runs
as a subprocess under a timeout, so a hang fails the test instead of stalling it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import slurm_cluster
import yaml
from slurm_cluster import out, wait_for

from genobench.cli import main
from genobench.report.workflow.driver import error_blocks
from genobench.report.workflow.slurm import (
    cancel_run,
    job_failure,
    needed_min_job_age,
    profile_problems,
    read_profile,
    status_command_problems,
)

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "report" / "workflow_fixtures"
REAL_NOTEBOOK = "gradient_check"  # the real notebook whose smoke run is quickest


# --- without a cluster: fake SLURM commands ------------------------------------------


def fake_slurm(tmp_path: Path, monkeypatch, **commands: str) -> Path:
    """Shell scripts named after SLURM commands (name -> script body), first on PATH.

    Each appends its arguments to calls.log in the returned folder.
    """
    folder = tmp_path / "fake-slurm"
    folder.mkdir()
    for name, body in commands.items():
        script = folder / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> {folder / "calls.log"}\n{body}\n')
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return folder


NO_ACCOUNTING = 'echo "sacct: error: Slurm accounting storage is disabled" >&2; exit 1'


def scontrol(min_job_age: int, job: str = "") -> str:
    """A fake `scontrol show config|job` body."""
    return (
        f'case "$2" in config) echo "MinJobAge               = {min_job_age} sec";; '
        f'job) [ -n "{job}" ] && echo "{job}" || exit 1;; esac'
    )


def test_without_accounting_sacct_is_refused_and_squeue_needs_a_long_min_job_age(
    tmp_path, monkeypatch
):
    # issue 17, point 1: sacct that fails, or squeue forgetting jobs, would wait forever
    fake_slurm(tmp_path, monkeypatch, sbatch="", sacct=NO_ACCOUNTING, scontrol=scontrol(120))
    for command in ("sacct", None):  # None: the executor's default, sacct where it exists
        [problem] = status_command_problems(command, "config.yaml: slurm-status-command")
        assert problem.startswith("config.yaml: slurm-status-command: sacct does not work")
        assert "set slurm-status-command: squeue (needs MinJobAge >= 181 s" in problem
    # the executor looks at a long job only every 180 s: MinJobAge 120 loses it
    [problem] = status_command_problems("squeue", "where")
    assert "squeue forgets a finished job after MinJobAge = 120 s" in problem
    assert "it needs >= 181 s" in problem and "raise MinJobAge in slurm.conf" in problem
    assert needed_min_job_age(100) == 300  # below 3 x its first wait it switches to sacct


def test_squeue_with_slurms_default_min_job_age_is_fine(tmp_path, monkeypatch):
    fake_slurm(tmp_path, monkeypatch, sbatch="", sacct=NO_ACCOUNTING, scontrol=scontrol(300))
    assert status_command_problems("squeue", "where") == []
    assert status_command_problems("squeue", "where", init_seconds=101) != []


def _workspace(root: Path, params: dict[str, dict], real: tuple[str, ...] = ()) -> Path:
    """Fixture notebooks alpha and beta, the real notebooks named with their smoke.yaml,
    and the params files given (`"alpha/timeout"` -> its content)."""
    (root / "notebooks").mkdir(parents=True)
    for nb in ("alpha", "beta"):
        shutil.copy(FIXTURES / "notebooks" / f"{nb}.py", root / "notebooks")
    for nb in real:
        shutil.copy(REPO / "notebooks" / f"{nb}.py", root / "notebooks")
        (root / "params" / nb).mkdir(parents=True)
        shutil.copy(REPO / "params" / nb / "smoke.yaml", root / "params" / nb)
    for name, content in params.items():
        (root / "params" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "params" / f"{name}.yaml").write_text(yaml.safe_dump(content))
    return root


def _report_in(workspace: Path, *args: str) -> int:
    """`genobench report ARGS` in this process, from `workspace`; its exit code."""
    cwd = os.getcwd()
    os.chdir(workspace)
    try:
        code = main(["report", "--renderer", "fallback", *args])
    finally:
        os.chdir(cwd)
    return code


def test_the_shipped_profile_is_refused_before_anything_is_submitted(tmp_path, monkeypatch, capsys):
    # issue 17, point 3: placeholders and unknown partitions are found before sbatch
    fake = fake_slurm(
        tmp_path,
        monkeypatch,
        sbatch="exit 1",
        sinfo="echo debug",
        sacct=NO_ACCOUNTING,
        scontrol=scontrol(300),
    )
    profile = REPO / "profiles" / "slurm"
    assert profile_problems(read_profile(profile)) == [
        "config.yaml: default-resources.slurm_account still holds the placeholder EDIT_...: "
        "put your cluster's value there",
        "partitions.yaml: partitions.cpu: partition 'cpu' is not one sinfo lists (debug); edit it",
        "partitions.yaml: partitions.gpu: partition 'gpu' is not one sinfo lists (debug); edit it",
    ]
    workspace = _workspace(tmp_path / "ws", {"alpha/smoke": {"value": 1}})
    assert _report_in(workspace, "--profile", str(profile), "--params", "smoke") == 2
    err = capsys.readouterr().err
    assert "genobench: the cluster setup cannot work:" in err and "slurm_account" in err
    assert "sbatch" not in (fake / "calls.log").read_text()  # nothing was submitted
    assert not (workspace / "reports").exists()


def test_a_filled_in_profile_passes_the_checks(tmp_path, monkeypatch):
    fake_slurm(tmp_path, monkeypatch, sbatch="", sinfo="echo debug", scontrol=scontrol(300))
    profile = filled_in_profile(tmp_path / "profile")
    assert profile_problems(read_profile(profile)) == []


@pytest.mark.parametrize(
    "block, job, cause",
    [
        (
            "SLURM-job '5' failed, SLURM status is: 'TIMEOUT'. Detailed failure reason "
            "unavailable (status command is not 'sacct').",
            "JobId=5 JobState=TIMEOUT Reason=TimeLimit ExitCode=0:0 RunTime=00:01:16 "
            "TimeLimit=00:01:00",
            "SLURM job 5 TIMEOUT after 1:16 (limit 1 min): raise runtime_min in the params "
            "file's resources",
        ),
        (
            "SLURM-job '7' failed, SLURM status is: 'FAILED'. Detailed failure reason",
            "JobId=7 JobState=FAILED Reason=NonZeroExitCode ExitCode=0:9 RunTime=00:00:12 "
            "TimeLimit=02:00:00",
            "SLURM job 7 FAILED after 0:12 (limit 120 min), killed by signal 9",
        ),
        (
            "SLURM-job '8' failed, SLURM status is: 'CANCELLED'. Detailed",
            "",  # SLURM has forgotten the job: its state is all there is
            "SLURM job 8 CANCELLED: it was cancelled (scancel, or by an administrator)",
        ),
        ("Error executing rule: some other failure", "", None),
    ],
)
def test_a_failed_jobs_cause_is_told_in_slurms_words(tmp_path, monkeypatch, block, job, cause):
    # issue 17, point 2: the real cause, not "the job ended without finishing its run"
    fake_slurm(tmp_path, monkeypatch, scontrol=scontrol(300, job))
    assert job_failure(block) == cause


# Snakemake's output (abridged) when sbatch refuses one job and another job dies
REFUSED_AND_FAILED = (
    "[Fri Dec  4 15:09:29 2026]\n"
    "Error in rule run__alpha__smoke:\n"
    "    message: SLURM sbatch failed. The error message was 'sbatch: error:"
    " Memory specification can not be satisfied\n"
    "sbatch: error: Batch job submission failed: Requested node configuration"
    " is not available'.\n"
    "    sbatch call:\n"
    "        sbatch --parsable --mem 10240000 --ntasks=1 --cpus-per-task=1"
    ' --wrap="python -m snakemake"\n'
    "For further error details see the cluster/cloud log and the log files of"
    " the involved rule(s).\n"
    "    jobid: 2\n"
    "    output: reports/.workflow/jobs/alpha/smoke.json\n"
    "[Fri Dec  4 15:09:31 2026]\n"
    "Error in rule run__beta__smoke:\n"
    "    message: SLURM-job '9' failed, SLURM status is: 'NODE_FAIL'. Detailed"
    " failure reason\n"
    "    jobid: 3\n"
    "Exiting because a job execution failed. Look above for error messages\n"
)


def test_what_sbatch_said_is_read_whole_from_snakemakes_output(tmp_path, monkeypatch):
    # issue 17, point 2: a job that never started is told apart from one that died
    fake_slurm(tmp_path, monkeypatch, scontrol=scontrol(300))
    blocks = error_blocks(REFUSED_AND_FAILED)
    assert list(blocks) == ["run__alpha__smoke", "run__beta__smoke"]
    assert job_failure(blocks["run__alpha__smoke"]) == (
        "never started: sbatch said: sbatch: error: Memory specification can not be "
        "satisfied sbatch: error: Batch job submission failed: Requested node "
        "configuration is not available"
    )
    assert job_failure(blocks["run__beta__smoke"]) == (
        "SLURM job 9 NODE_FAIL: its node failed; the next report reruns it"
    )


def test_after_ctrl_c_no_job_of_the_run_is_left(tmp_path, monkeypatch):
    # issue 17, point 4: what Snakemake did not cancel (a job whose submission it had not
    # registered yet) is found by the run ID every job of the run is named after
    fake = fake_slurm(tmp_path, monkeypatch, squeue="echo 12; echo 13", scancel="")
    assert cancel_run("Building DAG of jobs...\nSLURM run ID: 0a1b-2c\nJob stats:\n") == [
        "12",
        "13",
    ]
    assert (fake / "calls.log").read_text().splitlines() == [
        "squeue -h -n 0a1b-2c -t PENDING,RUNNING -o %i",
        "scancel 12 13",
    ]
    assert cancel_run("a local run: no SLURM run ID") == []


def test_the_cluster_tests_say_why_they_cannot_run(tmp_path, monkeypatch):
    monkeypatch.delenv("GENOBENCH_SLURM_TESTS", raising=False)
    monkeypatch.delenv("SLURM_CONF", raising=False)
    conf = tmp_path / "slurm.conf"
    monkeypatch.setattr(slurm_cluster, "SLURM_CONF", conf)
    monkeypatch.setattr(slurm_cluster.os, "geteuid", lambda: 0)
    monkeypatch.setattr(slurm_cluster, "installed", lambda: False)
    monkeypatch.setattr(slurm_cluster.shutil, "which", lambda cmd: f"/usr/bin/{cmd}")
    assert slurm_cluster.skip_reason() is None  # root with apt-get: it installs SLURM
    monkeypatch.setattr(slurm_cluster.shutil, "which", lambda cmd: None)
    assert slurm_cluster.skip_reason().startswith("SLURM is not installed and there is no apt")
    monkeypatch.setattr(slurm_cluster.os, "geteuid", lambda: 1000)
    assert slurm_cluster.skip_reason().startswith("needs root")
    conf.write_text("ClusterName=theirs\n")
    assert slurm_cluster.skip_reason() == f"{conf} exists: this machine has a SLURM of its own"
    monkeypatch.setenv("GENOBENCH_SLURM_TESTS", "0")
    assert "switched off" in slurm_cluster.skip_reason()


# --- on a one-node cluster -------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    """A running one-node SLURM (installed first when missing); stopped at the end."""
    try:
        running = slurm_cluster.start()
    except slurm_cluster.Busy as exc:
        pytest.skip(str(exc))
    try:
        yield running
    finally:
        running.stop()


def filled_in_profile(folder: Path) -> Path:
    """The shipped profile filled in as a user would for the test cluster (its partition
    `debug`, no accounts), with quick status checks: the first 1 s after submitting."""
    config = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    del config["default-resources"]["slurm_account"]
    config.update(
        {
            "slurm-no-account": True,
            "slurm-init-seconds-before-status-checks": 1,
            "latency-wait": 5,  # one machine: no shared filesystem to wait for
        }
    )
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    partitions = {"partitions": {"debug": {"max_runtime": 1440, "max_threads": 8}}}
    (folder / "partitions.yaml").write_text(yaml.safe_dump(partitions))
    return folder


class Report:
    """`genobench report --profile profile ARGS` running from `workspace` in the background,
    its output going to a file (a pipe nobody reads would fill and stall it)."""

    def __init__(self, workspace: Path, *args: str):
        if not (workspace / "profile").is_dir():
            filled_in_profile(workspace / "profile")
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "genobench.cli", "report", "--renderer", "fallback"]
        self.args = args
        self.log = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(
            [*cmd, "--profile", "profile", *args],
            cwd=workspace,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def result(self, timeout: float) -> tuple[int, str]:
        """(exit code, output) once it ends; the test fails if it runs past `timeout` s."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(
                f"genobench report {' '.join(self.args)} hung for {timeout} s:\n{self.output()}"
            )
        return self.proc.returncode, self.output()

    def stop(self) -> None:
        """Ctrl-C it (it cancels its jobs), then kill it if it is still there 30 s later."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def report(workspace: Path, *args: str, timeout: float) -> tuple[int, str]:
    """`genobench report --profile profile ARGS` from `workspace`, under a timeout."""
    return Report(workspace, *args).result(timeout)


def record(workspace: Path, notebook: str, run: str) -> dict:
    return json.loads((workspace / "reports" / "runs" / notebook / run / "run.json").read_text())


def slurm_job(job_id: str) -> dict[str, str]:
    """`scontrol show job` fields (the cluster keeps a job MinJobAge = 300 s after its end)."""
    return dict(re.findall(r"(\w+)=(\S*)", out(["scontrol", "show", "job", "-o", job_id])))


LONG_RUNS = {
    "alpha/timeout": {"sleep_s": 300, "resources": {"runtime_min": 1}},  # SLURM's shortest
    "alpha/cancel": {"scancel": True, "sleep_s": 300},  # the job cancels itself
    "beta/killed": {"die": True},  # kill -9 of the job's process
}


@pytest.fixture(scope="module")
def long_report(cluster, tmp_path_factory):
    """A report of LONG_RUNS, started in the background: the timeout takes over a minute."""
    workspace = _workspace(tmp_path_factory.mktemp("slurm-long"), LONG_RUNS)
    running = Report(workspace, "--params", "timeout", "cancel", "killed")
    yield workspace, running
    running.stop()


@pytest.fixture(scope="module")
def smoke_report(long_report, tmp_path_factory):
    """alpha and the real notebook with their smoke params, run through SLURM. It asks
    for long_report so that the minute-long report is running already, beside this one."""
    workspace = _workspace(
        tmp_path_factory.mktemp("slurm-smoke"), {"alpha/smoke": {"value": 1}}, (REAL_NOTEBOOK,)
    )
    code, output = report(workspace, "--params", "smoke", timeout=300)
    return workspace, code, output


@pytest.mark.slurm
def test_the_shipped_profile_is_refused_naming_what_to_edit(cluster, tmp_path):
    workspace = _workspace(tmp_path, {"alpha/smoke": {"value": 1}})
    profile = str(REPO / "profiles" / "slurm")
    code, output = report(workspace, "--profile", profile, "--params", "smoke", timeout=60)
    assert code == 2, output
    assert "default-resources.slurm_account still holds the placeholder EDIT_" in output
    assert "partitions.cpu: partition 'cpu' is not one sinfo lists (debug)" in output
    assert "Submitted" not in output and not (workspace / "reports").exists()


@pytest.mark.slurm
@pytest.mark.slow
def test_runs_go_through_slurm_and_the_site_shows_them(smoke_report):
    workspace, code, output = smoke_report
    assert code == 0, output
    for nb in ("alpha", REAL_NOTEBOOK):
        saved = record(workspace, nb, "smoke")
        assert saved["status"] == "ok", (nb, saved["error"])
        # the run executed inside a SLURM job this report submitted
        assert f"submitted with SLURM jobid {saved['slurm_job_id']} " in output, saved
        memory = slurm_job(saved["slurm_job_id"])["MinMemoryNode"]
        # issue 17, point 5: a smoke run asks for what its params file says (4 GB), the
        # fixture, which says nothing, gets the profile's default (16 GB)
        assert memory == ("4G" if nb == REAL_NOTEBOOK else "16G"), (nb, memory)
    index = (workspace / "reports" / "site" / "index.html").read_text()
    assert f"runs/{REAL_NOTEBOOK}/smoke/{REAL_NOTEBOOK}.html" in index
    # successful jobs' SLURM logs are kept (slurm-keep-successful-logs)
    logs = {p.parent.name for p in (workspace / ".snakemake" / "slurm_logs").rglob("*.log")}
    assert {"rule_run__alpha__smoke", f"rule_run__{REAL_NOTEBOOK}__smoke"} <= logs


@pytest.mark.slurm
@pytest.mark.slow
def test_a_rerun_with_nothing_changed_submits_nothing(smoke_report):
    workspace = smoke_report[0]
    code, output = report(workspace, "--params", "smoke", timeout=120)
    assert code == 0 and "nothing to do" in output, output
    assert "submitted with SLURM jobid" not in output


@pytest.mark.slurm
@pytest.mark.slow
def test_a_forced_run_that_sbatch_refuses_keeps_the_good_result(smoke_report):
    # issue 17, point 2: --force deleted the good run.json before a failed submission
    workspace = smoke_report[0]
    (workspace / "params" / "alpha" / "smoke.yaml").write_text(
        yaml.safe_dump({"value": 4, "resources": {"mem_gb": 10000}})  # more than the node has
    )
    code, output = report(workspace, "--params", "smoke", "--only", "alpha", "--force", timeout=120)
    assert code == 1, output
    kept = record(workspace, "alpha", "smoke")
    assert kept["status"] == "ok" and kept["headline"]["value"] == 1.0
    attempts = sorted((workspace / "reports" / "runs" / "alpha" / "smoke" / "attempts").iterdir())
    failed = json.loads((attempts[-1] / "run.json").read_text())
    assert failed["error"].startswith("never started: sbatch said: sbatch: error: "), failed
    assert "FAILED alpha/smoke: never started" in output and "last good result is kept" in output


@pytest.mark.slurm
@pytest.mark.slow
def test_ctrl_c_cancels_running_and_queued_jobs(long_report, tmp_path):
    # issue 17, point 4: one SIGINT, one line, and no job left running
    workspace = _workspace(tmp_path, {"alpha/ctrlc": {"sleep_s": 300}, "beta/ctrlc": {}})
    # beta's job is submitted on hold: it stays queued until cancelled
    hold = ["--", "--set-resources", "run__beta__ctrlc:slurm_extra='--hold'"]
    running = Report(workspace, "--params", "ctrlc", *hold)

    def states() -> dict[str, str]:
        lines = out(["squeue", "-h", "-t", "all", "-o", "%k %T"]).split("\n")
        return dict(line.split() for line in lines if "ctrlc" in line)

    try:
        wait_for(
            lambda: (
                states()
                == {"rule_run__alpha__ctrlc": "RUNNING", "rule_run__beta__ctrlc": "PENDING"}
            ),
            120,
            "one running and one queued job",
        )
        running.proc.send_signal(signal.SIGINT)  # as one Ctrl-C in a terminal
        code, output = running.result(timeout=60)
    finally:
        running.stop()
    assert code == 130, output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output
    assert output.count("genobench: interrupted") == 1, output
    try:
        wait_for(lambda: set(states().values()) == {"CANCELLED"}, 30, "both jobs to cancel")
    except TimeoutError as exc:
        pytest.fail(f"{exc}: {states()}\n{output}")


@pytest.mark.slurm
@pytest.mark.slow
def test_timeout_cancel_and_kill_are_reported_with_their_slurm_state(long_report):
    workspace, running = long_report
    code, output = running.result(timeout=300)
    assert code == 1, output  # every run failed, on purpose
    timeout = record(workspace, "alpha", "timeout")["error"]
    assert re.fullmatch(
        r"SLURM job \d+ TIMEOUT after 1:\d\d \(limit 1 min\): raise runtime_min in the "
        r"params file's resources",
        timeout,
    ), timeout
    cancelled = record(workspace, "alpha", "cancel")["error"]
    assert re.fullmatch(
        r"SLURM job \d+ CANCELLED after \d:\d\d \(limit 120 min\): it was cancelled "
        r"\(scancel, or by an administrator\)",
        cancelled,
    ), cancelled
    killed = record(workspace, "beta", "killed")["error"]
    assert re.fullmatch(r"SLURM job \d+ FAILED after \d:\d\d \(limit 120 min\), .*", killed)
    for label, error in (("alpha/timeout", timeout), ("alpha/cancel", cancelled)):
        assert f"FAILED {label}: {error}" in output
    index = (workspace / "reports" / "site" / "index.html").read_text()
    assert "TIMEOUT after" in index and "CANCELLED after" in index and "FAILED after" in index
    # the next report reruns all three
    code, output = report(
        workspace, "--params", "timeout", "cancel", "killed", "--dry-run", timeout=120
    )
    assert code == 0, output
    assert "would run alpha/timeout, alpha/cancel, beta/killed" in output
