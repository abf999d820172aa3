"""What the workflow's jobs do: run one planned notebook run, render the site.

Both call the same code as the `genobench run` and `genobench render` commands.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from unittest import mock

from genobench import __version__
from genobench.report import runner
from genobench.report.results import atomic_write_json, atomic_write_text
from genobench.report.workflow.plan import WORKFLOW_DIR, Run

VERSION_FILE = "genobench-version.txt"
# The thread pools a notebook's libraries size from the environment at import: torch and
# NumPy's BLAS (OpenMP, MKL, OpenBLAS), numba (UMAP, the semi-CRF CPU kernels).
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


def version_stamp(reports_dir: str | Path) -> str:
    """A file holding the genobench version: an input of every run, rewritten only on change.

    Its modification time moves only when the version does, so a new genobench
    version reruns every notebook and an unchanged one reruns none.
    """
    path = Path(reports_dir) / WORKFLOW_DIR / VERSION_FILE
    text = f"{__version__}\n"
    if not path.is_file() or path.read_text() != text:
        atomic_write_text(text, path)
    return str(path)


def sweep_overrides(point: dict[str, Any], known: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A sweep point as parameter overrides.

    A single value swept over a list parameter (its default in the notebook is a
    list, e.g. `quant_modes = ["standard"]`) is passed as a one-item list, so
    `sweep: {quant_modes: [8bit, 4bit_nf4]}` runs each mode on its own.
    """
    overrides = {}
    for key, value in point.items():
        default = str(known.get(key, {}).get("default", "")).strip()
        overrides[key] = (
            [value] if default.startswith("[") and not isinstance(value, list) else value
        )
    return overrides


def run_extra(run: Run) -> dict[str, Any]:
    """What the workflow adds to a run's run.json: resources and the sweep point."""
    extra: dict[str, Any] = {"resources": run.declared}
    if run.sweep_keys:
        extra["sweep"] = {
            "params_name": run.params_name,
            "keys": run.sweep_keys,
            "values": run.sweep,
        }
    return extra


def thread_limits(threads: int, exclusive: bool) -> dict[str, str]:
    """Environment variables that hold a job's notebook kernel to its `threads` cores.

    A job that shares the machine gets as many library threads as it was given cores:
    libraries otherwise start one thread per core in every job, and two such jobs on a
    2-core machine spin against each other (measured: the same notebook 5x slower). An
    exclusive job has the machine to itself and keeps the libraries' defaults.
    """
    if exclusive:
        return {}
    return {name: str(threads) for name in THREAD_VARIABLES}


def execute_run(
    run: Run, reports_dir: str | Path, notebooks_dir: str | Path, threads: int | None = None
) -> dict[str, Any]:
    """Run one planned run with `runner.run_notebook` (the code of `genobench run`).

    The notebook's kernel is held to `threads` cores (the job's, as Snakemake gave them;
    `run.threads` when None) unless the run is exclusive (`thread_limits`).

    A notebook that fails, or a run refused before it starts (an unknown parameter
    in the file or the sweep), is recorded as a failed attempt; nothing is raised,
    so the workflow goes on and the site shows the failure. The job's output,
    `run.job_file`, says how this attempt ended.
    """
    try:
        py_path = runner.notebook_path(run.notebook_file, notebooks_dir)
        nb = runner.to_notebook(py_path)
        overrides = sweep_overrides(run.sweep, runner.notebook_parameters(nb)) if run.sweep else {}
        limits = thread_limits(threads or run.threads, bool(run.declared.get("exclusive")))
        with mock.patch.dict(os.environ, limits):  # the kernel inherits them
            record = runner.run_notebook(
                str(py_path),
                run.params_file,
                overrides,
                name=run.name,
                reports_dir=reports_dir,
                notebooks_dir=notebooks_dir,
                nb=nb,
                extra=run_extra(run),
            )
    except runner.RunConfigError as exc:
        record = runner.record_failure(
            run.notebook,
            run.name,
            reports_dir,
            str(exc),
            params_file=run.params_file,
            extra=run_extra(run),
        )
    print(
        f"{run.label()}: {record['status']} in {record.get('duration_s', 0):.1f} s"
        + (f" ({record['error']})" if record["error"] else ""),
        flush=True,
    )
    write_job_file(run, reports_dir, record)
    return record


def write_job_file(run: Run, reports_dir: str | Path, record: dict[str, Any]) -> None:
    """The job's output: the status and error of its attempt, and where that attempt is."""
    atomic_write_json(
        {key: record.get(key) for key in ("status", "error", "attempt", "finished")},
        run.job_file(reports_dir),
    )


def job_status(run: Run, reports_dir: str | Path) -> dict[str, Any] | None:
    """What the run's last job wrote (None when it never finished)."""
    try:
        return json.loads(Path(run.job_file(reports_dir)).read_text())
    except (OSError, ValueError):
        return None


def render(reports_dir: str | Path, config_template: str | Path, renderer: str) -> Path:
    """Render the site from every run directory (the code of `genobench render`)."""
    from genobench.report.site import render_site

    used, site = render_site(reports_dir, config_template, renderer=renderer)
    print(f"site rendered with {used}: {site / 'index.html'}", flush=True)
    return site


LOST_JOB = (
    "the job ended without finishing its run (killed for time or memory, or its "
    "node failed?); see Snakemake's log in .snakemake/log/ (and "
    ".snakemake/slurm_logs/ on SLURM)"
)


def record_failure_of_lost_job(
    run: Run, reports_dir: str | Path, cause: str | None = None
) -> dict[str, Any]:
    """Record a run whose job died or never started as a failed attempt.

    `cause` is what is known of it (the SLURM state, what sbatch said); the attempt's
    partial files are kept and a good result of an earlier run is not touched.
    """
    record = runner.record_failure(
        run.notebook,
        run.name,
        reports_dir,
        cause or LOST_JOB,
        params_file=run.params_file,
        extra=run_extra(run),
    )
    write_job_file(run, reports_dir, record)
    return record
