"""The runs of a report: which notebook, params file and sweep point, with what resources.

A run is one notebook executed with one params file, `params/<notebook>/<set>.yaml`,
into `reports/runs/<notebook>/<run name>/`. Besides notebook parameters, a params
file may hold two workflow keys, read here and never passed to the notebook:

- `resources:` what one job of this file needs (`gpus`, `gpu_model`, `mem_gb`,
  `runtime_min`, `cpus`, `exclusive`, `expected_min`). They become Snakemake resources, so the SLURM
  executor requests a GPU exactly for the runs that need one: those declaring `gpus`,
  and those whose parameters say `device: cuda` (one GPU unless `gpus` says
  otherwise). Everything else is CPU-only. `exclusive: true` marks a run that times
  things: no other job runs beside it (locally; on SLURM it gets a whole node).
  Job order (Snakemake priority, `job_priority`): exclusive runs first, since one that
  waits for a free machine idles the cores around it; then the longest `expected_min`
  first, which packs the shared cores best.
- `sweep:` a grid, `{parameter: [values], ...}`. Every combination is its own run,
  named from the combination (`<set>--<param>-<value>--...`, parameters sorted by
  name), so the same point always lands in the same run directory.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genobench.report.runner import RUN_FILE, RunConfigError, read_params_file

RESOURCE_KEYS = {
    "gpus": "GPUs per job (default 0: CPU only)",
    "gpu_model": "GPU type for SLURM's --gpus=<model>:<n>, e.g. a100 (needs gpus)",
    "mem_gb": "memory per job, GB",
    "runtime_min": "wall-clock limit per job, minutes",
    "cpus": "CPU cores per job (default 1)",
    "exclusive": "true for runs that time things: the machine to themselves (default false)",
    "expected_min": "expected minutes per job: longer runs start first (default 0)",
}
EXCLUSIVE_PRIORITY = 10_000  # above any expected_min: exclusive runs start first
# Every job takes one unit of this Snakemake resource, an exclusive job all of them,
# so locally (`--resources machine=MACHINE_UNITS`) an exclusive job runs alone. On
# SLURM the resource is not limited; exclusive jobs ask for a node of their own instead.
MACHINE = "machine"
MACHINE_UNITS = 1000
WORKFLOW_DIR = ".workflow"  # under reports/: the workflow's own files
MAX_NAME = 100  # longer sweep run names are shortened and suffixed with a hash


@dataclass
class Run:
    """One planned run: a notebook, a params file and (for a sweep) one grid point."""

    notebook: str  # the notebook's name, e.g. binning
    notebook_file: str  # its .py path
    params_file: str  # e.g. params/binning/cpu.yaml
    name: str  # the run directory's name under reports/runs/<notebook>/
    sweep: dict[str, Any] = field(default_factory=dict)  # the grid point; {} when no sweep
    sweep_keys: list[str] = field(default_factory=list)  # the grid's parameters, file order
    threads: int = 1
    resources: dict[str, Any] = field(default_factory=dict)  # Snakemake resources
    priority: float = 0  # Snakemake priority: higher starts first
    declared: dict[str, Any] = field(default_factory=dict)  # `resources:` as written

    @property
    def params_name(self) -> str:
        return Path(self.params_file).stem

    @property
    def key(self) -> tuple[str, str]:
        return self.notebook, self.name

    def run_dir(self, reports_dir: str | Path) -> Path:
        return Path(reports_dir) / "runs" / self.notebook / self.name

    def record_file(self, reports_dir: str | Path) -> str:
        """The run's run.json: its last good result (or its failure, when none)."""
        return os.path.normpath(self.run_dir(reports_dir) / RUN_FILE)

    def job_file(self, reports_dir: str | Path) -> str:
        """The output of the run's job: `reports/.workflow/jobs/<notebook>/<run>.json`.

        It holds the status of the job's attempt. Snakemake deletes a job's output when
        the job fails or is forced to rerun, so this file, never run.json, is it: the
        last good result survives both.
        """
        return os.path.normpath(
            Path(reports_dir) / WORKFLOW_DIR / "jobs" / self.notebook / f"{self.name}.json"
        )

    def label(self) -> str:
        return f"{self.notebook}/{self.name}"


def split_list(value: Any) -> list[str]:
    """`"a,b"`, `["a", "b"]` or None -> ["a", "b"] (Snakemake --config values are strings)."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def sweep_points(sweep: Any, where: str) -> list[dict[str, Any]]:
    """Every combination of a `sweep:` mapping, in the file's order; [{}] without a sweep."""
    if sweep is None:
        return [{}]
    example = "e.g. sweep: {quant_modes: [8bit, 4bit_nf4], batch_size: [8, 16]}"
    if not isinstance(sweep, dict) or not sweep:
        raise RunConfigError(f"{where}: sweep must map parameters to lists of values, {example}")
    for key, values in sweep.items():
        if not isinstance(values, list) or not values:
            raise RunConfigError(
                f"{where}: sweep value of {key!r} must be a non-empty list, "
                f"got {values!r}; {example}"
            )
    keys = list(sweep)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(sweep[k] for k in keys))]


def _slug(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return re.sub(r"[^A-Za-z0-9.+]+", "_", text) or "_"


def _digest(point: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(point, sort_keys=True, default=str).encode()).hexdigest()[:8]


def run_name(params_name: str, point: dict[str, Any]) -> str:
    """The run directory of one grid point: `<set>--<param>-<value>...`, parameters sorted.

    Characters other than letters, digits, `.` and `+` in a value become `_`
    (`DOEJGI/GenomeOcean-4B` -> `DOEJGI_GenomeOcean_4B`); a name longer than
    MAX_NAME characters is cut and ends with a hash of the point.
    """
    if not point:
        return params_name
    name = "--".join([params_name, *(f"{k}-{_slug(point[k])}" for k in sorted(point))])
    if len(name) > MAX_NAME:
        name = f"{name[: MAX_NAME - 10]}-{_digest(point)}"
    return name


def job_resources(declared: Any, where: str, device: Any = None) -> tuple[int, dict[str, Any]]:
    """`resources:` of a params file -> (threads, Snakemake resources).

    `gpus` -> `gpu` (omitted when 0, so CPU jobs request no GPU; 1 by default when the
    file's `device` parameter is cuda), `gpu_model` -> `gpu_model`, `mem_gb` ->
    `mem_mb` (x 1024), `runtime_min` -> `runtime` (minutes), `cpus` -> the job's
    threads (SLURM --cpus-per-task). Every job takes `machine` = 1 of MACHINE_UNITS;
    `exclusive: true` takes all of them and adds `slurm_extra: --exclusive`.
    """
    declared = {} if declared is None else declared
    if (
        isinstance(declared, dict)
        and "gpus" not in declared
        and str(device or "").startswith("cuda")
    ):
        declared = {**declared, "gpus": 1}
    if not isinstance(declared, dict):
        raise RunConfigError(
            f"{where}: resources must be a mapping, e.g. "
            f"resources: {{gpus: 1, mem_gb: 80, runtime_min: 120}}"
        )
    unknown = sorted(set(declared) - set(RESOURCE_KEYS))
    if unknown:
        known = "; ".join(f"{k}: {v}" for k, v in RESOURCE_KEYS.items())
        raise RunConfigError(f"{where}: unknown resource(s) {', '.join(unknown)}; known: {known}")

    def number(key: str, integer: bool, minimum: float) -> Any:
        value = declared.get(key)
        if value is None:
            return None
        ok = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok or value < minimum:
            kind = "an integer" if integer else "a number"
            raise RunConfigError(
                f"{where}: resources.{key} must be {kind} >= {minimum}, got {value!r}"
            )
        return value

    resources: dict[str, Any] = {}
    gpus = number("gpus", True, 0) or 0
    if gpus:
        resources["gpu"] = gpus
        if declared.get("gpu_model"):
            resources["gpu_model"] = str(declared["gpu_model"])
    elif declared.get("gpu_model"):
        raise RunConfigError(f"{where}: resources.gpu_model needs gpus >= 1")
    mem_gb = number("mem_gb", False, 0)
    if mem_gb:
        resources["mem_mb"] = math.ceil(mem_gb * 1024)
    runtime = number("runtime_min", True, 1)
    if runtime:
        resources["runtime"] = runtime
    threads = number("cpus", True, 1) or 1
    exclusive = declared.get("exclusive", False)
    if not isinstance(exclusive, bool):
        raise RunConfigError(
            f"{where}: resources.exclusive must be true or false, got {exclusive!r}"
        )
    resources[MACHINE] = MACHINE_UNITS if exclusive else 1
    if exclusive:
        resources["slurm_extra"] = "'--exclusive'"
    number("expected_min", False, 0)  # checked here; it orders jobs (job_priority)
    return threads, resources


def job_priority(declared: dict[str, Any]) -> float:
    """Snakemake priority of a job with these (checked) `resources:`: exclusive runs first,
    then the longest `expected_min`."""
    expected = float(declared.get("expected_min") or 0)
    return EXCLUSIVE_PRIORITY + expected if declared.get("exclusive") else expected


def runs_of_params_file(notebook_file: str | Path, params_file: str | Path) -> list[Run]:
    """The runs of one params file: one, or one per point of its sweep."""
    where = str(params_file)
    loaded = read_params_file(params_file)
    threads, resources = job_resources(loaded.get("resources"), where, loaded.get("device"))
    points = sweep_points(loaded.get("sweep"), where)
    stem = Path(params_file).stem
    if len({_digest(point) for point in points}) < len(points):
        raise RunConfigError(f"{where}: the sweep lists the same combination twice")
    names = [run_name(stem, point) for point in points]
    clashes = {name for name in names if names.count(name) > 1}  # values that slug alike
    names = [
        f"{name}-{_digest(point)}" if name in clashes else name
        for name, point in zip(names, points)
    ]
    sweep_keys = list(loaded["sweep"]) if loaded.get("sweep") else []
    return [
        Run(
            notebook=Path(notebook_file).stem,
            notebook_file=str(notebook_file),
            params_file=where,
            name=name,
            sweep=point,
            sweep_keys=sweep_keys,
            threads=threads,
            resources=dict(resources),
            priority=job_priority(loaded.get("resources") or {}),
            declared=dict(loaded.get("resources") or {}),
        )
        for name, point in zip(names, points)
    ]


def plan_runs(
    notebooks_dir: str | Path = "notebooks",
    params_dir: str | Path = "params",
    params_sets: list[str] | str = "cpu",
    only: list[str] | None = None,
) -> tuple[list[Run], list[str]]:
    """Every run of the report and notes on what was left out.

    Notebooks are `notebooks_dir/*.py` (or those named in `only`); each runs with
    `params_dir/<notebook>/<set>.yaml` for every set in `params_sets`. A notebook
    without that file is skipped with a note, unless it was named in `only`.
    """
    notebooks_dir, params_dir = Path(notebooks_dir), Path(params_dir)
    available = sorted(p.stem for p in notebooks_dir.glob("*.py"))
    sets = split_list(params_sets)
    if not sets:
        raise RunConfigError("no params set given (e.g. --params cpu)")
    only = [Path(nb).stem for nb in (only or [])]
    missing = [nb for nb in only if nb not in available]
    if missing:
        raise RunConfigError(
            f"no notebook {', '.join(missing)} in {notebooks_dir}/; "
            f"available: {', '.join(available) or 'none'}"
        )
    runs: list[Run] = []
    notes: list[str] = []
    for nb in only or available:
        for params_set in sets:
            params_file = params_dir / nb / f"{params_set}.yaml"
            if not params_file.is_file():
                if only:
                    raise RunConfigError(f"params file {str(params_file)!r} does not exist")
                notes.append(f"skipped {nb}: no {params_file}")
                continue
            runs.extend(runs_of_params_file(notebooks_dir / f"{nb}.py", params_file))
    if not runs:
        raise RunConfigError(
            f"no runs: no notebook in {notebooks_dir}/ has "
            f"{' or '.join(f'{s}.yaml' for s in sets)} under {params_dir}/"
        )
    return runs, notes


def rule_names(runs: list[Run]) -> list[str]:
    """A distinct Snakemake rule name per run: `run__<notebook>__<run>` (identifier chars)."""
    names: list[str] = []
    for run in runs:
        base = re.sub(r"\W", "_", f"run__{run.notebook}__{run.name}", flags=re.ASCII)
        name, i = base, 1
        while name in names:
            i += 1
            name = f"{base}_{i}"
        names.append(name)
    return names
