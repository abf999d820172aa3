"""SLURM for `genobench report`: check a profile before submitting, explain how jobs ended.

Two things Snakemake's SLURM executor does not do for us:

- refuse a profile that cannot work: `EDIT_` placeholders left in it, partitions that
  `sinfo` does not list, a status command that never sees a job end (`sacct` on a
  cluster without accounting; `squeue` where finished jobs leave its list before the
  executor looks, i.e. `MinJobAge` below `needed_min_job_age()`);
- say why a job failed in words a run record can carry: the SLURM state, its reason,
  run time and limit (`scontrol show job`, which knows a job for MinJobAge seconds
  after it ended), or what sbatch said when the job never started.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from genobench.report.runner import RunConfigError

# How often Snakemake's SLURM executor (2.8) looks at its jobs: first
# `slurm-init-seconds-before-status-checks` (INIT_STATUS_CHECK_S by default) after
# submitting, then each wait 10 s longer than the last while no job ends, up to
# MAX_STATUS_INTERVAL_S.
# With `slurm-status-command: squeue`, a job that ended must still be in squeue's list
# (MinJobAge) at the next look, or the executor waits for it forever; below 3 x the first
# interval the executor also switches to sacct on its own.
INIT_STATUS_CHECK_S = 40
MAX_STATUS_INTERVAL_S = 180
PLACEHOLDER = "EDIT_"
FIXES = {
    "TIMEOUT": "raise runtime_min in the params file's resources",
    "OUT_OF_MEMORY": "raise mem_gb in the params file's resources",
    "CANCELLED": "it was cancelled (scancel, or by an administrator)",
    "NODE_FAIL": "its node failed; the next report reruns it",
    "PREEMPTED": "it was preempted; the next report reruns it",
}


def _run(cmd: list[str], timeout: float = 30) -> str | None:
    """stdout of a SLURM command, or None when it is missing or fails."""
    if shutil.which(cmd[0]) is None:
        return None
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _flat(mapping: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1} (lists keep their index: "a.0")."""
    items = (
        mapping.items()
        if isinstance(mapping, dict)
        else enumerate(mapping)
        if isinstance(mapping, list)
        else []
    )
    flat: dict[str, Any] = {}
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, (dict, list)):
            flat.update(_flat(value, f"{name}."))
        else:
            flat[name] = value
    return flat


@dataclass
class Profile:
    """The parts of a Snakemake SLURM profile that genobench checks."""

    folder: Path
    config: dict[str, Any]
    partitions: dict[str, Any]  # partitions.yaml's `partitions:` (empty without one)

    @property
    def status_command(self) -> str | None:
        value = self.config.get("slurm-status-command")
        return str(value) if value else None

    @property
    def init_seconds(self) -> int:
        """The executor's first status check, seconds after submitting."""
        value = self.config.get("slurm-init-seconds-before-status-checks")
        return int(value) if value else INIT_STATUS_CHECK_S

    def placeholders(self) -> list[str]:
        """`file: key` of every value (or partition name) still holding EDIT_."""
        found = [
            f"config.yaml: {key}"
            for key, value in _flat(self.config).items()
            if PLACEHOLDER in str(value)
        ]
        found += [
            f"partitions.yaml: partitions.{key}"
            for key, value in _flat(self.partitions).items()
            if PLACEHOLDER in str(value)
        ]
        found += [
            f"partitions.yaml: partition name {name!r}"
            for name in self.partitions
            if PLACEHOLDER in str(name)
        ]
        return found

    def partition_names(self) -> dict[str, str]:
        """partition name -> where the profile names it."""
        names = {str(name): f"partitions.yaml: partitions.{name}" for name in self.partitions}
        default = (self.config.get("default-resources") or {}).get("slurm_partition")
        if default:
            names[str(default).strip("'\"")] = "config.yaml: default-resources.slurm_partition"
        return names


def read_profile(folder: str | Path) -> Profile:
    """A profile folder's config.yaml and the partitions file it names."""
    folder = Path(folder)
    config_file = folder / "config.yaml"
    if not config_file.is_file():
        raise RunConfigError(f"profile {str(folder)!r} has no config.yaml")
    config = yaml.safe_load(config_file.read_text()) or {}
    partitions: dict[str, Any] = {}
    if config.get("slurm-partition-config"):
        path = folder / str(config["slurm-partition-config"])
        if not path.is_file():
            raise RunConfigError(
                f"{config_file}: slurm-partition-config names {str(path)!r}, which does not exist"
            )
        partitions = (yaml.safe_load(path.read_text()) or {}).get("partitions") or {}
    return Profile(folder, config, partitions)


def min_job_age() -> int | None:
    """The cluster's MinJobAge in seconds (`scontrol show config`), None if unknown."""
    out = _run(["scontrol", "show", "config"])
    match = re.search(r"^MinJobAge\s*=\s*(\d+)", out or "", re.M)
    return int(match.group(1)) if match else None


def sacct_works() -> bool:
    """Whether `sacct` answers (it fails on a cluster without accounting storage)."""
    return _run(["sacct", "-n", "-X", "-o", "JobID", "-S", "now"]) is not None


def profile_problems(profile: Profile) -> list[str]:
    """What stops this profile from working on this cluster, each naming the key to edit."""
    problems = [
        f"{where} still holds the placeholder {PLACEHOLDER}...: put your cluster's value there"
        for where in profile.placeholders()
    ]
    listed = _run(["sinfo", "-h", "-o", "%R"])
    if listed is not None:
        known = set(listed.split())
        for name, where in profile.partition_names().items():
            if PLACEHOLDER not in name and name not in known:
                problems.append(
                    f"{where}: partition {name!r} is not one sinfo lists "
                    f"({', '.join(sorted(known)) or 'none'}); edit it"
                )
    problems += status_command_problems(
        profile.status_command,
        f"{profile.folder / 'config.yaml'}: slurm-status-command",
        profile.init_seconds,
    )
    return problems


def needed_min_job_age(init_seconds: int = INIT_STATUS_CHECK_S) -> int:
    """The least MinJobAge (s) with which squeue still lists a finished job when the
    executor next looks: above its longest wait, and at least 3 x its first one."""
    return max(MAX_STATUS_INTERVAL_S + 1, 3 * init_seconds)


def status_command_problems(
    command: str | None, where: str, init_seconds: int = INIT_STATUS_CHECK_S
) -> list[str]:
    """Why the executor's status command would never see jobs end here (empty if fine).

    `command` None is the executor's default (sacct where the binary exists);
    `init_seconds` the profile's slurm-init-seconds-before-status-checks.
    """
    if shutil.which("sbatch") is None:
        return []  # not on a cluster: nothing to check against
    command = command or ("sacct" if shutil.which("sacct") else "squeue")
    needed = needed_min_job_age(init_seconds)
    if command == "sacct" and not sacct_works():
        return [
            f"{where}: sacct does not work on this cluster (no accounting storage?), so "
            f"Snakemake would never see a job end; set slurm-status-command: squeue "
            f"(needs MinJobAge >= {needed} s in slurm.conf)"
        ]
    if command == "squeue":
        age = min_job_age()
        if age is not None and age < needed:
            return [
                f"{where}: squeue forgets a finished job after MinJobAge = {age} s, before "
                f"Snakemake looks (it needs >= {needed} s): ask your administrator "
                f"to raise MinJobAge in slurm.conf, or use sacct if accounting works"
            ]
    return []


def _clock(text: str) -> str:
    """SLURM's [days-]HH:MM:SS -> the shortest of M:SS, H:MM:SS, D-HH:MM:SS."""
    days, _, hms = text.rpartition("-")
    h, m, s = (int(x) for x in hms.split(":")) if hms.count(":") == 2 else (0, 0, 0)
    if days:
        return f"{days}-{h:02d}:{m:02d}:{s:02d}"
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _limit(text: str) -> str:
    days, _, hms = text.rpartition("-")
    if hms.count(":") != 2:
        return text
    h, m, s = (int(x) for x in hms.split(":"))
    minutes = (int(days or 0) * 24 + h) * 60 + m + (1 if s else 0)
    return f"{minutes} min"


def job_info(job_id: str) -> dict[str, str]:
    """`scontrol show job` fields of a job (empty once SLURM has forgotten it)."""
    out = _run(["scontrol", "show", "job", "-o", str(job_id)])
    return dict(re.findall(r"(\w+)=(\S*)", out or ""))


# SLURM's reason for a job that only restates its state (the state is shown already)
RESTATED_REASONS = {
    "TIMEOUT": "TimeLimit",
    "FAILED": "NonZeroExitCode",
    "OUT_OF_MEMORY": "OutOfMemory",
}


def _exit(code: str) -> str:
    """SLURM's ExitCode "STATUS:SIGNAL" in words: "killed by signal 9" or "exit code 1"."""
    status, _, sig = code.partition(":")
    return f"killed by signal {sig}" if sig not in ("", "0") else f"exit code {status}"


def explain(state: str, info: dict[str, str]) -> str:
    """One line for run.json: "TIMEOUT after 1:18 (limit 1 min): raise runtime_min ..."."""
    state = state.split()[0] if state else info.get("JobState", "UNKNOWN")
    text = state
    if info.get("RunTime"):
        text += f" after {_clock(info['RunTime'])}"
    if info.get("TimeLimit"):
        text += f" (limit {_limit(info['TimeLimit'])})"
    reason = info.get("Reason")
    if reason and reason not in ("None", state, RESTATED_REASONS.get(state)):
        text += f", reason {reason}"
    if info.get("ExitCode") and state == "FAILED":
        text += f", {_exit(info['ExitCode'])}"
    fix = FIXES.get(state)
    return f"{text}: {fix}" if fix else text


# What Snakemake's SLURM executor (2.8) prints for a job that failed or never started.
_FAILED = re.compile(
    r"SLURM-job '(\d+)' failed(?: due to a node failure)?, "
    r"SLURM status is: '([A-Z_]+)"
)
_SBATCH = re.compile(r"SLURM sbatch failed\. The error message was '([^']*)'", re.S)
_RUN_ID = re.compile(r"^SLURM run ID: (\S+)$", re.M)


def job_failure(block: str) -> str | None:
    """The cause of a failed SLURM job from its `Error in rule` block, or None.

    "never started: sbatch said ..." when the job was refused, the SLURM state with
    times and the fix when it ran and ended badly.
    """
    sbatch = _SBATCH.search(block)
    if sbatch:
        return f"never started: sbatch said: {' '.join(sbatch.group(1).split())}"
    failed = _FAILED.search(block)
    if failed:
        job_id, state = failed.groups()
        return f"SLURM job {job_id} {explain(state, job_info(job_id))}"
    return None


def cancel_run(output: str) -> list[str]:
    """scancel the jobs still queued or running of the Snakemake run whose output this is.

    The executor names every job of a run after the run ID it prints first, so this
    finds them all, also one whose submission Snakemake had not yet registered when it
    was interrupted. Returns the ids cancelled (none when Snakemake cancelled them all).
    """
    run_id = _RUN_ID.search(output)
    if not run_id:
        return []
    listed = _run(["squeue", "-h", "-n", run_id.group(1), "-t", "PENDING,RUNNING", "-o", "%i"])
    ids = (listed or "").split()
    if ids:
        _run(["scancel", *ids])
    return ids
