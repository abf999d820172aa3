"""Run one jupytext notebook with papermill into its run directory.

A run of `notebooks/NAME.py` with `params/NAME/P.yaml` lands in
`reports/runs/NAME/P/`: the executed notebook, `params.yaml` (what was used),
every file the notebook writes (it receives `output_dir`), and `run.json`
(status, times, git commit, package versions, device, headline metric).

A params file may also hold the workflow-level keys `resources:` (what a cluster job
needs) and `sweep:` (a grid of runs); they are read by `genobench.workflow`, never
passed to the notebook.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
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

from genobench.results import (HEADLINE_FILE, atomic_write_json, atomic_write_text,
                               failures_summary, read_failures)

RUN_FILE = "run.json"
VERSIONED_PACKAGES = ("genobench", "torch", "transformers", "bitsandbytes", "scikit-learn",
                      "umap-learn", "numpy", "pandas", "papermill", "plotly")
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
        raise RunConfigError(f"params file {str(path)!r} must be a YAML mapping of "
                             f"parameter: value, got {type(loaded).__name__}")
    return loaded


def load_params(params_file: str | Path | None, overrides: dict[str, Any] | None = None
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
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def notebook_parameters(nb) -> dict[str, dict[str, Any]]:
    """The notebook's `parameters` cell as papermill reads it: name -> {default, help, ...}."""
    import nbformat
    import papermill

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "nb.ipynb"
        nbformat.write(nb, path)
        return papermill.inspect_notebook(str(path))


def check_parameters(nb, params: dict[str, Any], where: str) -> None:
    """Refuse parameters the notebook's `parameters` cell does not define."""
    known = notebook_parameters(nb)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise RunConfigError(f"{where}: unknown parameter(s) {', '.join(unknown)}; the "
                             f"notebook's parameters are: {', '.join(sorted(known))}")


def environment() -> dict[str, Any]:
    """Git commit, package versions and device of this machine."""
    versions = {}
    for pkg in VERSIONED_PACKAGES:
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = None
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
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
    return {"git_commit": commit, "python": platform.python_version(), "versions": versions,
            "device": device}


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


def run_notebook(notebook: str, params_file: str | Path | None = None,
                 overrides: dict[str, Any] | None = None, name: str | None = None,
                 reports_dir: str | Path = "reports", progress: bool = False,
                 notebooks_dir: str | Path = "notebooks", nb=None,
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Execute a notebook into `reports/runs/<notebook>/<name>/` and return its run record.

    Bad configuration (missing notebook or params file, unknown parameter) raises
    RunConfigError before anything is written. A notebook that fails while running
    is recorded as failed in run.json (with the error), not raised. `nb` is the
    notebook already read by `to_notebook` (read again when None); `extra` is merged
    into the run record (the workflow adds the sweep point and the resources).
    """
    import papermill

    py_path = notebook_path(notebook, notebooks_dir)
    params = load_params(params_file, overrides)
    nb = nb if nb is not None else to_notebook(py_path)
    check_parameters(nb, params, str(params_file or py_path))
    name = name or (Path(params_file).stem if params_file else "default")
    run_dir = Path(reports_dir) / "runs" / py_path.stem / name
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    atomic_write_text(yaml.safe_dump(params, sort_keys=True), run_dir / "params.yaml")

    record: dict[str, Any] = {"notebook": py_path.stem, "params_name": name,
                              "params_file": str(params_file) if params_file else None,
                              "status": "running", "error": None,
                              "started": dt.datetime.now(dt.timezone.utc).isoformat(),
                              **(extra or {})}
    start = time.perf_counter()
    try:
        # The executed notebook is the report page: keep progress bars out of its cells
        # (papermill shows per-cell progress instead).
        os.environ.setdefault("TQDM_DISABLE", "1")
        papermill.execute_notebook(
            nb, str(run_dir / f"{py_path.stem}.ipynb"),
            parameters={**params, "output_dir": str(run_dir.resolve())},
            kernel_name="python3", language="python", progress_bar=progress)
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
    atomic_write_json(record, run_dir / RUN_FILE)
    return record


def record_failure(notebook: str, name: str, reports_dir: str | Path, error: str,
                   params_file: str | Path | None = None, extra: dict[str, Any] | None = None,
                   clear: bool = True) -> dict[str, Any]:
    """Record a run that failed outside its notebook as failed in its run.json.

    For a run refused before it started (`clear`: its folder is emptied first) or a
    job that died without writing its record (the folder's partial files are kept).
    """
    run_dir = Path(reports_dir) / "runs" / notebook / name
    if clear and run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    record: dict[str, Any] = {"notebook": notebook, "params_name": name,
                              "params_file": str(params_file) if params_file else None,
                              "status": "failed", "error": error, "started": now,
                              "finished": now, "duration_s": 0.0, "headline": None,
                              **(extra or {})}
    record.update(environment())
    atomic_write_json(record, run_dir / RUN_FILE)
    return record


def _short_error(exc: Exception) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    return f"{ename}: {evalue}".strip()
