"""A one-node SLURM cluster for the tests: install, configure, start, stop.

Debian's slurm-wlm and munge, installed with apt-get when missing (as root; started in
the background when the session collects a `slurm` test, so the install overlaps the
tests before it); a slurm.conf written from `hostname -s` and `slurmd -C`; munged,
slurmctld and slurmd started by hand (init scripts are blocked in containers) with their
socket, ports, key, state and logs in a scratch folder, and stopped by PID.

The config goes to SLURM's default path, /etc/slurm/slurm.conf, and is removed at the
end: Snakemake's job step drops SLURM_* variables, SLURM_CONF too, before its `srun`.
So the tests skip a machine with a SLURM of its own, and one run at a time holds a lock.
The cluster has no accounting storage (sacct fails), as many small clusters, and
MinJobAge 300 s, SLURM's default.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

OPT_OUT = "GENOBENCH_SLURM_TESTS"  # =0 skips the cluster tests
PACKAGES = ["slurm-wlm", "munge"]
DAEMONS = ["munged", "slurmctld", "slurmd"]
SLURM_CONF = Path("/etc/slurm/slurm.conf")
MARK = "# written by genobench's tests (tests/report/slurm_cluster.py)"
LOCK = Path(tempfile.gettempdir()) / "genobench-slurm-test.lock"
INSTALL_TIMEOUT_S = 600
# The node claims 8 CPUs whatever the machine has, so small test jobs run side by side
# and an 8-CPU job waits for the others; and at least 32 GB, so the shipped profile's
# default memory fits. Memory is not a consumable here (CR_Core): claiming it costs nothing.
NODE_CPUS = 8
NODE_MIN_MEMORY_MB = 32768


class Busy(Exception):
    """Another test session runs the one-node cluster on this machine."""


_install: subprocess.Popen | None = None
_install_log: IO[str] | None = None


def installed() -> bool:
    """Whether munged, slurmctld, slurmd and the client commands are on PATH."""
    return all(shutil.which(cmd) for cmd in [*DAEMONS, "sbatch", "squeue", "scontrol"])


def skip_reason() -> str | None:
    """Why the cluster tests cannot run here, or None when they can."""
    if os.environ.get(OPT_OUT) == "0":
        return f"{OPT_OUT}=0: the one-node SLURM tests are switched off"
    if os.environ.get("SLURM_CONF"):
        return "SLURM_CONF is set: this machine has a SLURM of its own"
    if SLURM_CONF.is_file() and MARK not in SLURM_CONF.read_text():
        return f"{SLURM_CONF} exists: this machine has a SLURM of its own"
    if os.geteuid() != 0:
        return (
            "needs root: it writes /etc/slurm/slurm.conf and starts munged, slurmctld "
            f"and slurmd ({OPT_OUT}=0 skips it without this message)"
        )
    if not installed() and shutil.which("apt-get") is None:
        return f"SLURM is not installed and there is no apt-get: install {' '.join(PACKAGES)}"
    return None


def start_install() -> None:
    """Start `apt-get install slurm-wlm munge` in the background, unless installed.

    A machine whose package lists are missing or stale gets `apt-get update` first.
    """
    global _install, _install_log
    if _install is not None or installed():
        return
    apt = "apt-get -q -y -o DPkg::Lock::Timeout=300 install --no-install-recommends " + " ".join(
        PACKAGES
    )
    _install_log = tempfile.TemporaryFile("w+")
    _install = subprocess.Popen(
        ["bash", "-c", f"{apt} || {{ apt-get -q update && {apt}; }}"],
        stdout=_install_log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


def finish_install() -> tuple[int, str]:
    """Wait for a background install (killed after INSTALL_TIMEOUT_S); (exit code, output)."""
    global _install, _install_log
    if _install is None or _install_log is None:
        return 0, ""
    try:
        code = _install.wait(timeout=INSTALL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _install.kill()
        code = _install.wait()
    _install_log.seek(0)
    output = _install_log.read()
    _install_log.close()
    _install = _install_log = None
    return code, output


def wait_install() -> None:
    """Wait for the install started by `start_install` (starting it if needed)."""
    start_install()
    code, output = finish_install()
    if code != 0 or not installed():
        raise RuntimeError(
            f"apt-get install {' '.join(PACKAGES)} failed (exit code {code}); "
            f"{OPT_OUT}=0 skips the SLURM tests:\n{output[-3000:]}"
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _node_line() -> str:
    """`slurmd -C`'s NodeName line with NODE_CPUS single-thread cores and the memory floor."""
    node = subprocess.run(
        ["slurmd", "-C"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.splitlines()[0]
    node = re.sub(r"\bCPUs=\d+", f"CPUs={NODE_CPUS}", node)
    node = re.sub(r"\bCoresPerSocket=\d+", f"CoresPerSocket={NODE_CPUS}", node)
    node = re.sub(r"\b(Boards|SocketsPerBoard|ThreadsPerCore)=\d+", r"\1=1", node)
    memory = int(re.search(r"\bRealMemory=(\d+)", node).group(1))
    return re.sub(r"\bRealMemory=\d+", f"RealMemory={max(memory, NODE_MIN_MEMORY_MB)}", node)


def slurm_conf(folder: Path) -> str:
    """A one-node slurm.conf: this host on 127.0.0.1, everything else under `folder`."""
    host = subprocess.run(
        ["hostname", "-s"], capture_output=True, text=True, check=True
    ).stdout.strip()
    lines = [
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
        "SlurmdParameters=config_overrides",  # slurmd takes the node line as written
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
        "KillWait=2",  # seconds between SIGTERM and SIGKILL of a job over its time limit
        "InactiveLimit=0",
        f"{_node_line()} NodeAddr=127.0.0.1 State=UNKNOWN",
        "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
    ]
    return "\n".join(lines) + "\n"


def out(cmd: list[str]) -> str:
    """stdout of a command (empty when it fails), killed after 30 s."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def wait_for(condition: Callable[[], object], seconds: float, what: str) -> None:
    """Poll `condition` every 0.5 s; TimeoutError naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {seconds} s for {what}")
        time.sleep(0.5)


@dataclass
class Cluster:
    """A running one-node cluster: its scratch folder and the daemons started for it."""

    folder: Path
    lock: IO[str]
    daemons: list[subprocess.Popen] = field(default_factory=list)
    log: IO[str] | None = None

    def stop(self) -> None:
        """Cancel every job, stop each daemon by its PID, remove slurm.conf and the folder."""
        if self.daemons:
            ids = out(["squeue", "-h", "-o", "%i"]).split()
            if ids:
                subprocess.run(["scancel", *ids], capture_output=True, timeout=30)
                try:
                    wait_for(
                        lambda: not out(["squeue", "-h", "-t", "PD,R,CG", "-o", "%i"]).split(),
                        30,
                        "every job to end",
                    )
                except TimeoutError:
                    pass  # the daemons are stopped anyway
        for proc in reversed(self.daemons):  # slurmd, slurmctld, then munged
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.log:
            self.log.close()
        if SLURM_CONF.is_file() and MARK in SLURM_CONF.read_text():
            SLURM_CONF.unlink()
        shutil.rmtree(self.folder, ignore_errors=True)
        self.lock.close()  # releases the lock


def start() -> Cluster:
    """Install SLURM if needed, write slurm.conf and start the daemons; an idle node.

    Raises Busy (another session's cluster runs), RuntimeError (install failed) or
    TimeoutError (a daemon did not come up, with its log); whatever was started is
    stopped first.
    """
    wait_install()
    lock = open(LOCK, "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise Busy(f"another genobench SLURM test runs on this machine (it holds {LOCK})") from None
    # munged refuses a socket in a folder others cannot enter (pytest's tmp folders)
    folder = Path(tempfile.mkdtemp(prefix="genobench-slurm-"))
    folder.chmod(0o755)
    cluster = Cluster(folder, lock)
    try:
        for sub in ("state", "spool"):
            (folder / sub).mkdir()
        key = folder / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SLURM_CONF.write_text(slurm_conf(folder))
        cluster.log = open(folder / "daemons.log", "w")

        def daemon(*cmd: str) -> None:
            cluster.daemons.append(
                subprocess.Popen(cmd, stdout=cluster.log, stderr=subprocess.STDOUT)
            )

        daemon(
            "munged",
            "--foreground",
            f"--socket={folder / 'munge.sock'}",
            f"--key-file={key}",
            f"--pid-file={folder / 'munged.pid'}",
            f"--seed-file={folder / 'munged.seed'}",
            f"--log-file={folder / 'munged.log'}",
        )
        wait_for(lambda: (folder / "munge.sock").exists(), 20, "munged's socket")
        daemon("slurmctld", "-D", "-f", str(SLURM_CONF))
        wait_for(lambda: out(["sinfo", "-h", "-o", "%R"]).strip(), 30, "slurmctld to answer")
        daemon("slurmd", "-D", "-f", str(SLURM_CONF))
        wait_for(lambda: "idle" in out(["sinfo", "-h", "-o", "%T"]), 60, "an idle node")
    except BaseException as exc:
        logs = "".join(
            f"\n--- {p.name}:\n{p.read_text()[-2000:]}" for p in sorted(folder.glob("*.log"))
        )
        cluster.stop()
        if isinstance(exc, TimeoutError):
            raise TimeoutError(f"{exc}{logs}") from exc
        raise
    return cluster
