"""Run one jupytext notebook with papermill into its run directory.

A run of `notebooks/NAME.py` with `params/NAME/P.yaml` lands in
`reports/runs/NAME/P/`: the executed notebook, `params.yaml` (what was used),
every file the notebook writes (it receives `output_dir`), and `run.json`
(status, times, git commit, package versions, device, headline metric).
That folder always holds the last good result (status ok or partial): each
execution runs in a fresh attempt folder and replaces it only on success; failed
attempts are kept under `P/attempts/<UTC time>-failed/`.

A params file may also hold the workflow-level keys `resources:` (what a cluster job
needs) and `sweep:` (a grid of runs); they are read by `genobench.report.workflow`, never
passed to the notebook.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import yaml

from genobench.paths import cache_dir
from genobench.report.results import (
    HEADLINE_FILE,
    atomic_write_json,
    atomic_write_text,
    failures_summary,
    read_failures,
)

RUN_FILE = "run.json"
ATTEMPTS_DIR = "attempts"  # under a run folder: one folder per failed attempt
GOOD = ("ok", "partial")  # run.json statuses of a good result
VERSIONED_PACKAGES = (
    "genobench",
    "torch",
    "transformers",
    "bitsandbytes",
    "scikit-learn",
    "umap-learn",
    "numpy",
    "pandas",
    "papermill",
    "plotly",
)
WORKFLOW_KEYS = ("resources", "sweep")  # params-file keys for the workflow, not the notebook


class RunConfigError(ValueError):
    """A notebook or params file that cannot be run, with the fix in the message."""


def notebook_path(notebook: str, notebooks_dir: str | Path = "notebooks") -> Path:
    """`binning` or `notebooks/binning.py` -> the notebook's .py path (must exist)."""
    path = Path(notebook)
    if path.suffix != ".py":
        path = Path(notebooks_dir) / f"{notebook}.py"
    if not path.is_file():
        available = sorted(p.stem for p in Path(notebooks_dir).glob("*.py"))
        raise RunConfigError(f"no notebook {str(path)!r}; available: {', '.join(available)}")
    return path


def read_params_file(params_file: str | Path) -> dict[str, Any]:
    """The whole YAML mapping of a params file, workflow keys included."""
    path = Path(params_file)
    if not path.is_file():
        raise RunConfigError(f"params file {str(path)!r} does not exist")
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise RunConfigError(f"params file {str(path)!r} is not valid YAML: {exc}") from exc
    if not isinstance(loaded, dict):
        raise RunConfigError(
            f"params file {str(path)!r} must be a YAML mapping of "
            f"parameter: value, got {type(loaded).__name__}"
        )
    return loaded


def load_params(
    params_file: str | Path | None, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Notebook parameters from a YAML file (a mapping) with `overrides` applied on top.

    The workflow keys (`resources:`, `sweep:`) are left out: they are not parameters.
    """
    params: dict[str, Any] = {}
    if params_file is not None:
        loaded = read_params_file(params_file)
        params.update({k: v for k, v in loaded.items() if k not in WORKFLOW_KEYS})
    params.update(overrides or {})
    return params


def to_notebook(py_path: Path):
    """Read a jupytext percent-format .py as a notebook with the python3 kernelspec."""
    import jupytext

    nb = jupytext.read(py_path)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def notebook_parameters(nb) -> dict[str, dict[str, Any]]:
    """The notebook's `parameters` cell as papermill reads it: name -> {default, help, ...}."""
    import nbformat
    import papermill

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "nb.ipynb"
        nbformat.write(nb, path)
        return papermill.inspect_notebook(str(path))


def check_parameters(nb, params: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    """Refuse parameters the notebook's `parameters` cell does not define; return those."""
    known = notebook_parameters(nb)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise RunConfigError(
            f"{where}: unknown parameter(s) {', '.join(unknown)}; the "
            f"notebook's parameters are: {', '.join(sorted(known))}"
        )
    return known


def environment() -> dict[str, Any]:
    """Git commit, package versions and device of this machine (and the SLURM job, if any)."""
    versions = {}
    for pkg in VERSIONED_PACKAGES:
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    device = {"cpu": platform.processor() or platform.machine(), "gpu": None}
    if nvml_gpu_count():  # importing torch costs seconds: only where a GPU may be
        try:
            import torch

            if torch.cuda.is_available():
                device["gpu"] = torch.cuda.get_device_name(0)
                device["cuda"] = torch.version.cuda
        except ImportError:
            pass
    return {
        "git_commit": commit,
        "python": platform.python_version(),
        "versions": versions,
        "device": device,
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
    }


def nvml_gpu_count() -> int:
    """GPUs the NVIDIA driver reports (0 without a driver or its library)."""
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return int(pynvml.nvmlDeviceGetCount())
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no NVML library, no driver, no device
        return 0


def run_notebook(
    notebook: str,
    params_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    name: str | None = None,
    reports_dir: str | Path = "reports",
    progress: bool = False,
    notebooks_dir: str | Path = "notebooks",
    nb=None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Execute a notebook into `reports/runs/<notebook>/<name>/` and return its run record.

    Bad configuration (missing notebook or params file, unknown parameter) raises
    RunConfigError before anything is written. The notebook runs in a fresh attempt
    folder (`<name>/attempts/<UTC time>-running/`) which replaces `<name>/` only when
    the run succeeds (ok or partial); a failed attempt stays as
    `<name>/attempts/<time>-failed/` and the last good result is kept (see
    `finish_attempt`). A notebook that fails while running is recorded, not raised.
    A notebook with a `state_dir` parameter gets `run_state_dir(...)`: long-lived state
    (checkpoints) outside the attempt, so a rerun of a killed run resumes. `nb` is the
    notebook already read by `to_notebook` (read again when None); `extra` is merged
    into the run record (the workflow adds the sweep point and the resources).
    """
    import papermill

    py_path = notebook_path(notebook, notebooks_dir)
    params = load_params(params_file, overrides)
    nb = nb if nb is not None else to_notebook(py_path)
    known = check_parameters(nb, params, str(params_file or py_path))
    name = name or (Path(params_file).stem if params_file else "default")
    final_dir = Path(reports_dir) / "runs" / py_path.stem / name
    close_stale_attempts(final_dir)
    run_dir = new_attempt(final_dir)  # where this execution writes everything
    atomic_write_text(yaml.safe_dump(params, sort_keys=True), run_dir / "params.yaml")
    injected = {"output_dir": str(run_dir.resolve())}
    if "state_dir" in known and "state_dir" not in params:
        injected["state_dir"] = str(run_state_dir(py_path.stem, name, params))

    record: dict[str, Any] = {
        "notebook": py_path.stem,
        "params_name": name,
        "params_file": str(params_file) if params_file else None,
        "status": "running",
        "error": None,
        "started": dt.datetime.now(dt.timezone.utc).isoformat(),
        "state_dir": injected.get("state_dir"),
        **(extra or {}),
    }
    start = time.perf_counter()
    try:
        # The executed notebook is the report page: keep progress bars out of its cells
        # (papermill shows per-cell progress instead).
        os.environ.setdefault("TQDM_DISABLE", "1")
        papermill.execute_notebook(
            nb,
            str(run_dir / f"{py_path.stem}.ipynb"),
            parameters={**params, **injected},
            kernel_name="python3",
            language="python",
            progress_bar=progress,
        )
        failures = read_failures(run_dir)  # parts that failed while the rest ran
        record["status"] = "partial" if failures else "ok"
        if failures:
            record["error"] = failures_summary(failures)
    except Exception as exc:  # the notebook failed: record it, the report goes on
        record["status"] = "failed"
        record["error"] = _short_error(exc)
        (run_dir / "error.txt").write_text("".join(traceback.format_exception(exc)))
    record["finished"] = dt.datetime.now(dt.timezone.utc).isoformat()
    record["duration_s"] = round(time.perf_counter() - start, 2)
    headline = run_dir / HEADLINE_FILE
    record["headline"] = yaml.safe_load(headline.read_text()) if headline.exists() else None
    record.update(environment())
    return finish_attempt(run_dir, final_dir, record)


def run_state_dir(notebook: str, name: str, params: dict[str, Any]) -> Path:
    """Where a run keeps state across attempts: `<cache>/runs/<notebook>/<name>-<hash>/`.

    The hash covers the parameters, so a rerun with the same ones (after a kill or a
    time limit) resumes, and edited parameters start afresh instead of meeting
    checkpoints of other settings.
    """
    digest = hashlib.sha1(json.dumps(params, sort_keys=True, default=str).encode())
    return cache_dir() / "runs" / notebook / f"{name}-{digest.hexdigest()[:12]}"


def _utc_stamp() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _attempt_path(final_dir: Path, state: str) -> Path:
    """`<final>/attempts/<UTC time>-<state>`, with `-2`, `-3` ... after the time if taken."""
    stamp, n = _utc_stamp(), 1
    while True:
        suffix = "" if n == 1 else f"-{n}"
        path = final_dir / ATTEMPTS_DIR / f"{stamp}{suffix}-{state}"
        if not any((final_dir / ATTEMPTS_DIR).glob(f"{stamp}{suffix}-*")):
            return path
        n += 1


def new_attempt(final_dir: Path) -> Path:
    """A fresh, empty attempt folder `<final>/attempts/<UTC time>-running/`."""
    path = _attempt_path(final_dir, "running")
    path.mkdir(parents=True)
    return path


def good_result(final_dir: Path) -> bool:
    """Whether `final_dir/run.json` is a good result (status ok or partial)."""
    try:
        return json.loads((Path(final_dir) / RUN_FILE).read_text()).get("status") in GOOD
    except (OSError, ValueError, AttributeError):
        return False


def finish_attempt(attempt: Path, final_dir: Path, record: dict[str, Any]) -> dict[str, Any]:
    """Write the attempt's run.json and put the attempt where its status says.

    ok or partial: the attempt becomes `final_dir` (the folder is swapped by renames,
    its `attempts/` history carried over). failed: the attempt is renamed
    `attempts/<time>-failed` and `final_dir` keeps its last good result; with none,
    `final_dir/run.json` (and error.txt) become copies of the failed record.
    """
    if record["status"] in GOOD:
        atomic_write_json(record, attempt / RUN_FILE)
        parent = final_dir.parent
        incoming, outgoing = (
            parent / f".{final_dir.name}.{tag}-{os.getpid()}" for tag in ("incoming", "outgoing")
        )
        os.rename(attempt, incoming)
        if (final_dir / ATTEMPTS_DIR).exists():
            os.rename(final_dir / ATTEMPTS_DIR, incoming / ATTEMPTS_DIR)
        os.rename(final_dir, outgoing)
        os.rename(incoming, final_dir)
        shutil.rmtree(outgoing)
        return record
    failed = (
        attempt.with_name(attempt.name.removesuffix("-running") + "-failed")
        if attempt.name.endswith("-running")
        else attempt
    )
    if failed != attempt:
        os.rename(attempt, failed)
    record["attempt"] = failed.relative_to(final_dir).as_posix()
    atomic_write_json(record, failed / RUN_FILE)
    if not good_result(final_dir):
        for file in (RUN_FILE, "error.txt"):
            if (failed / file).is_file():
                atomic_write_text((failed / file).read_text(), final_dir / file)
    return record


def close_stale_attempts(final_dir: Path, error: str = "") -> list[dict[str, Any]]:
    """Record every attempt left `-running` (its process was killed) as failed."""
    error = error or (
        "the attempt ended without finishing: the process running it was "
        "killed (a time or memory limit, Ctrl-C, a node failure?)"
    )
    records = []
    for attempt in sorted(Path(final_dir).glob(f"{ATTEMPTS_DIR}/*-running")):
        now = dt.datetime.now(dt.timezone.utc).isoformat()
        record = {
            "notebook": final_dir.parent.name,
            "params_name": final_dir.name,
            "status": "failed",
            "error": error,
            "started": None,
            "finished": now,
            "duration_s": None,
            "headline": None,
        }
        atomic_write_text(error + "\n", attempt / "error.txt")
        records.append(finish_attempt(attempt, final_dir, record))
    return records


def record_failure(
    notebook: str,
    name: str,
    reports_dir: str | Path,
    error: str,
    params_file: str | Path | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Record a run that failed outside its notebook (refused, or its job died) as failed.

    The failure becomes a failed attempt: the newest attempt the dead job left
    `-running` (its partial files kept), else a new one. A good result in the run
    folder is never touched; without one, the run folder's run.json is this record.
    """
    final_dir = Path(reports_dir) / "runs" / notebook / name
    stale = sorted(final_dir.glob(f"{ATTEMPTS_DIR}/*-running"))
    attempt = stale[-1] if stale else _attempt_path(final_dir, "failed")
    attempt.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    record: dict[str, Any] = {
        "notebook": notebook,
        "params_name": name,
        "params_file": str(params_file) if params_file else None,
        "status": "failed",
        "error": error,
        "started": now,
        "finished": now,
        "duration_s": 0.0,
        "headline": None,
        **(extra or {}),
    }
    record.update(environment())
    atomic_write_text(error + "\n", attempt / "error.txt")
    record = finish_attempt(attempt, final_dir, record)
    close_stale_attempts(final_dir)
    return record


def _short_error(exc: Exception) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    return f"{ename}: {evalue}".strip()
