"""`genobench report` on a real one-node SLURM cluster started by this module.

Debian's slurm-wlm and munge (installed with apt when missing and we are root), a
slurm.conf written from `hostname -s` and `slurmd -C`, and munged, slurmctld, slurmd
started by hand in a scratch folder (own socket, ports, key) and stopped by PID at
the end. The config goes to SLURM's default path, /etc/slurm/slurm.conf (removed at
the end): Snakemake's job step drops SLURM_* variables, SLURM_CONF too, before its
`srun`. A machine that already has a slurm.conf of its own skips these tests. Without
accounting storage, as on many small clusters: the shipped profile's
`slurm-status-command: squeue` is what makes the report see jobs end. Every report
runs as a subprocess under a timeout, so a hang fails the test instead of stalling it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "report" / "workflow_fixtures"
pytestmark = [pytest.mark.slurm, pytest.mark.slow]
SLURM_PACKAGES = ["slurm-wlm", "munge"]
SLURM_CONF = Path("/etc/slurm/slurm.conf")
MARK = "# written by genobench's tests/test_slurm.py"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _install_slurm() -> None:
    if shutil.which("slurmd") and shutil.which("munged"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(
            "SLURM is not installed and this is not root on Debian: "
            f"apt-get install {' '.join(SLURM_PACKAGES)}"
        )
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", *SLURM_PACKAGES]
    if subprocess.run(apt, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], capture_output=True, check=True)
        subprocess.run(apt, capture_output=True, check=True)


def _slurm_conf(folder: Path) -> str:
    host = subprocess.run(
        ["hostname", "-s"], capture_output=True, text=True, check=True
    ).stdout.strip()
    node = subprocess.run(
        ["slurmd", "-C"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    # Claim 8 CPUs whatever the machine has, so the small test jobs run side by side
    # (config_overrides: slurmd takes the configured counts as they are).
    node = re.sub(r"\bCPUs=\d+", "CPUs=8", node)
    node = re.sub(r"\bCoresPerSocket=\d+", "CoresPerSocket=8", node)
    node = re.sub(r"\b(Boards|SocketsPerBoard|ThreadsPerCore)=\d+", r"\1=1", node)
    return (
        "\n".join(
            [
                MARK,
                "ClusterName=genobench-test",
                f"SlurmctldHost={host}(127.0.0.1)",
                f"SlurmctldPort={_free_port()}",
                f"SlurmdPort={_free_port()}",
                "AuthType=auth/munge",
                "CredType=cred/munge",
                f"AuthInfo=socket={folder / 'munge.sock'}",
                "SlurmUser=root",
                "SlurmdUser=root",
                f"StateSaveLocation={folder / 'state'}",
                f"SlurmdSpoolDir={folder / 'spool'}",
                f"SlurmctldPidFile={folder / 'slurmctld.pid'}",
                f"SlurmdPidFile={folder / 'slurmd.pid'}",
                f"SlurmctldLogFile={folder / 'slurmctld.log'}",
                f"SlurmdLogFile={folder / 'slurmd.log'}",
                "SlurmdParameters=config_overrides",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "MpiDefault=none",
                "ReturnToService=2",
                "SchedulerType=sched/backfill",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_Core",
                "JobAcctGatherType=jobacct_gather/none",
                "AccountingStorageType=accounting_storage/none",
                "MinJobAge=300",
                "KillWait=5",
                "InactiveLimit=0",
                f"{node} NodeAddr=127.0.0.1 State=UNKNOWN",
                "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
            ]
        )
        + "\n"
    )


@pytest.fixture(scope="module")
def cluster():
    """A running one-node SLURM, its config at SLURM's default path."""
    _install_slurm()
    # munged refuses a socket in a folder others cannot enter (pytest's tmp folders)
    folder = Path(tempfile.mkdtemp(prefix="genobench-slurm-"))
    folder.chmod(0o755)
    for sub in ("state", "spool"):
        (folder / sub).mkdir()
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    if SLURM_CONF.is_file() and MARK not in SLURM_CONF.read_text():
        pytest.skip(f"{SLURM_CONF} exists: this machine has a SLURM of its own")
    if os.environ.get("SLURM_CONF"):
        pytest.skip("SLURM_CONF is set: this machine has a SLURM of its own")
    conf = SLURM_CONF
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(_slurm_conf(folder))
    daemons: list[subprocess.Popen] = []
    logs = open(folder / "daemons.log", "w")

    def start(*cmd: str) -> None:
        daemons.append(subprocess.Popen(cmd, stdout=logs, stderr=subprocess.STDOUT))

    try:
        start(
            "munged",
            "--foreground",
            f"--socket={folder / 'munge.sock'}",
            f"--key-file={key}",
            f"--pid-file={folder / 'munged.pid'}",
            f"--seed-file={folder / 'munged.seed'}",
            f"--log-file={folder / 'munged.log'}",
        )
        _wait(lambda: (folder / "munge.sock").exists(), 20, "munged's socket")
        start("slurmctld", "-D", "-f", str(conf))
        time.sleep(1)
        start("slurmd", "-D", "-f", str(conf))
        _wait(lambda: "idle" in _out(["sinfo", "-h", "-o", "%T"]), 60, "an idle node")
        yield folder
    finally:
        _cancel_every_job()
        for proc in reversed(daemons):  # stop every daemon we started, by its PID
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        logs.close()
        conf.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)


def _cancel_every_job() -> None:
    """scancel whatever is still queued or running, and wait until it has gone."""
    ids = _out(["squeue", "-h", "-o", "%i"]).split()
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True, timeout=30)
    try:
        _wait(
            lambda: not _out(["squeue", "-h", "-t", "PD,R,CG", "-o", "%i"]).split(),
            60,
            "every job to end",
        )
    except TimeoutError:
        pass  # the daemons are stopped anyway


def _out(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    return done.stdout


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {seconds} s for {what}")
        time.sleep(0.5)


def _job(job_id: str) -> dict[str, str]:
    return dict(re.findall(r"(\w+)=(\S*)", _out(["scontrol", "show", "job", "-o", job_id])))


@pytest.fixture(scope="module")
def workspace(cluster, tmp_path_factory):
    """The fixture notebooks, semicrf_synthetic with its smoke params, and a profile: the
    shipped one with the cluster's partition and no account."""
    root = tmp_path_factory.mktemp("slurm-ws")
    for folder in ("notebooks", "params"):
        shutil.copytree(FIXTURES / folder, root / folder)
    shutil.copy(REPO / "notebooks" / "semicrf_synthetic.py", root / "notebooks")
    (root / "params" / "semicrf_synthetic").mkdir()
    shutil.copy(
        REPO / "params" / "semicrf_synthetic" / "smoke.yaml", root / "params" / "semicrf_synthetic"
    )
    params = {
        "alpha/timeout.yaml": {"sleep_s": 300, "resources": {"runtime_min": 1}},
        "alpha/cancel.yaml": {"sleep_s": 300},
        "beta/big.yaml": {"value": 3},
        "alpha/ctrlc.yaml": {"sleep_s": 300},
        "beta/ctrlc.yaml": {"sleep_s": 300, "resources": {"cpus": 8}},  # waits for a node
    }
    for name, content in params.items():
        (root / "params" / name).write_text(yaml.safe_dump(content))
    shipped = REPO / "profiles" / "slurm"
    config = yaml.safe_load((shipped / "config.yaml").read_text())
    del config["default-resources"]["slurm_account"]
    config.update(
        {"slurm-no-account": True, "latency-wait": 5, "slurm-init-seconds-before-status-checks": 3}
    )
    profile = root / "profile"
    profile.mkdir()
    (profile / "config.yaml").write_text(yaml.safe_dump(config))
    partitions = {"partitions": {"debug": {"max_runtime": 1440, "max_threads": 8}}}
    (profile / "partitions.yaml").write_text(yaml.safe_dump(partitions))
    return root


def report(workspace: Path, *args: str, timeout: float = 240) -> tuple[int, str]:
    """`genobench report --profile profile ARGS` in the workspace, killed after `timeout` s."""
    proc = _start_report(workspace, *args)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"genobench report {' '.join(args)} hung for {timeout} s:\n{out}")
    return proc.returncode, out


def _start_report(workspace: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "genobench.cli", "report", "--renderer", "fallback", *args]
    if "--profile" not in args:
        cmd += ["--profile", "profile"]
    return subprocess.Popen(
        cmd, cwd=workspace, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def record(workspace: Path, notebook: str, run: str) -> dict:
    return json.loads((workspace / "reports" / "runs" / notebook / run / "run.json").read_text())


def test_the_shipped_profile_is_refused_naming_what_to_edit(workspace):
    code, out = report(
        workspace, "--profile", str(REPO / "profiles" / "slurm"), "--params", "smoke", timeout=60
    )
    assert code == 2, out
    assert "default-resources.slurm_account still holds the placeholder EDIT_" in out
    assert "partitions.yaml: partitions.cpu: partition 'cpu' is not one sinfo lists (debug)" in out
    assert "Submitted" not in out and not (workspace / "reports" / "runs").exists()


def _running(rule: str) -> list[str]:
    """SLURM ids of the running jobs of a rule (the executor puts it in the comment)."""
    return [
        line.split()[0]
        for line in _out(["squeue", "-h", "-t", "RUNNING", "-o", "%i %k"]).splitlines()
        if f"rule_{rule}" in line
    ]


@pytest.fixture(scope="module")
def first_report(workspace):
    """The smoke runs, beta/big, a run over its time limit, a failing notebook, and a run
    whose job is cancelled with scancel while it runs."""
    proc = _start_report(workspace, "--params", "smoke", "big", "timeout", "failing", "cancel")
    try:
        _wait(lambda: _running("run__alpha__cancel"), 300, "alpha/cancel's job to run")
        subprocess.run(["scancel", *_running("run__alpha__cancel")], check=True)
        out, _ = proc.communicate(timeout=600)
    except TimeoutError as exc:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
        pytest.fail(f"{exc}:\n{out}")
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out


def test_runs_go_through_slurm(workspace, first_report):
    code, out = first_report
    assert code == 1, out  # three runs failed, on purpose
    for nb, run in (
        ("alpha", "smoke"),
        ("beta", "smoke"),
        ("beta", "big"),
        ("semicrf_synthetic", "smoke"),
    ):
        saved = record(workspace, nb, run)
        assert saved["status"] == "ok", (nb, run, saved["error"])
        # the run executed inside a SLURM job this report submitted
        assert f"submitted with SLURM jobid {saved['slurm_job_id']} " in out, saved
    index = (workspace / "reports" / "site" / "index.html").read_text()
    assert "runs/semicrf_synthetic/smoke/semicrf_synthetic.html" in index
    logs = {p.parent.name for p in (workspace / ".snakemake" / "slurm_logs").rglob("*.log")}
    assert "rule_run__alpha__smoke" in logs  # successful jobs' logs are kept


def test_timeout_and_cancel_are_reported_with_their_slurm_state(workspace, first_report):
    code, out = first_report
    timeout = record(workspace, "alpha", "timeout")
    assert timeout["status"] == "failed"
    assert re.search(
        r"SLURM job \d+ TIMEOUT after 1:\d\d \(limit 1 min\): raise runtime_min", timeout["error"]
    ), timeout["error"]
    cancelled = record(workspace, "alpha", "cancel")
    assert re.search(r"SLURM job \d+ CANCELLED after \d+:\d\d", cancelled["error"]), cancelled[
        "error"
    ]
    failing = record(workspace, "beta", "failing")
    assert "deliberate failure of the beta notebook" in failing["error"]
    assert f"FAILED alpha/timeout: {timeout['error']}" in out
    index = (workspace / "reports" / "site" / "index.html").read_text()
    assert "TIMEOUT after" in index and "CANCELLED after" in index


def test_a_rerun_with_nothing_changed_submits_nothing(workspace, first_report):
    code, out = report(workspace, "--params", "smoke", "big", timeout=120)
    assert code == 0 and "nothing to do" in out, out
    assert "submitted with SLURM jobid" not in out


def test_a_refused_submission_keeps_the_good_result(workspace, first_report):
    # beta/big now asks for more memory than the node has: sbatch refuses the job
    (workspace / "params" / "beta" / "big.yaml").write_text(
        yaml.safe_dump({"value": 4, "resources": {"mem_gb": 10000}})
    )
    code, out = report(workspace, "--params", "big", timeout=180)
    assert code == 1, out
    big = record(workspace, "beta", "big")
    assert big["status"] == "ok" and big["headline"]["value"] == 3.0
    attempts = sorted((workspace / "reports" / "runs" / "beta" / "big" / "attempts").iterdir())
    failed = json.loads((attempts[-1] / "run.json").read_text())
    assert failed["error"].startswith("never started: sbatch said: sbatch: error: "), failed
    assert "FAILED beta/big: never started" in out and "last good result is kept" in out


def test_ctrl_c_cancels_running_and_queued_jobs(workspace):
    proc = _start_report(workspace, "--params", "ctrlc")

    def states() -> dict[str, str]:
        lines = _out(["squeue", "-h", "-t", "all", "-o", "%k %T"]).splitlines()
        return {
            comment: state
            for comment, state in (line.split() for line in lines)
            if "ctrlc" in comment
        }

    try:
        _wait(
            lambda: sorted(states().values()) == ["PENDING", "RUNNING"],
            300,
            "one running and one queued job",
        )
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out
    assert out.count("genobench: interrupted") == 1, out
    _wait(lambda: set(states().values()) <= {"CANCELLED"}, 30, "the jobs to be cancelled")
