"""Run one jupytext notebook with papermill into its run directory.

A run of `notebooks/NAME.py` with `params/NAME/P.yaml` lands in
`reports/runs/NAME/P/`: the executed notebook, `params.yaml` (what was used),
every file the notebook writes (it receives `output_dir`), and `run.json`
(status, times, git commit, package versions, device, headline metric).
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

from genobench.results import HEADLINE_FILE, atomic_write_json, atomic_write_text

RUN_FILE = "run.json"
VERSIONED_PACKAGES = ("genobench", "torch", "transformers", "bitsandbytes", "scikit-learn",
                      "umap-learn", "numpy", "pandas", "papermill", "plotly")


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


def load_params(params_file: str | Path | None, overrides: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    """Parameters from a YAML file (a mapping) with `overrides` applied on top."""
    params: dict[str, Any] = {}
    if params_file is not None:
        path = Path(params_file)
        if not path.is_file():
            raise RunConfigError(f"params file {str(path)!r} does not exist")
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise RunConfigError(f"params file {str(path)!r} must be a YAML mapping of "
                                 f"parameter: value, got {type(loaded).__name__}")
        params.update(loaded)
    params.update(overrides or {})
    return params


def to_notebook(py_path: Path):
    """Read a jupytext percent-format .py as a notebook with the python3 kernelspec."""
    import jupytext

    nb = jupytext.read(py_path)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def check_parameters(nb, params: dict[str, Any], where: str) -> None:
    """Refuse parameters the notebook's `parameters` cell does not define."""
    import papermill

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "nb.ipynb"
        import nbformat

        nbformat.write(nb, path)
        known = papermill.inspect_notebook(str(path))
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
    try:
        import torch

        if torch.cuda.is_available():
            device["gpu"] = torch.cuda.get_device_name(0)
            device["cuda"] = torch.version.cuda
    except ImportError:
        pass
    return {"git_commit": commit, "python": platform.python_version(), "versions": versions,
            "device": device}


def run_notebook(notebook: str, params_file: str | Path | None = None,
                 overrides: dict[str, Any] | None = None, name: str | None = None,
                 reports_dir: str | Path = "reports", progress: bool = False) -> dict[str, Any]:
    """Execute a notebook into `reports/runs/<notebook>/<name>/` and return its run record.

    Bad configuration (missing notebook or params file, unknown parameter) raises
    RunConfigError before anything is written. A notebook that fails while running
    is recorded as failed in run.json (with the error), not raised.
    """
    import papermill

    py_path = notebook_path(notebook)
    params = load_params(params_file, overrides)
    nb = to_notebook(py_path)
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
                              "started": dt.datetime.now(dt.timezone.utc).isoformat()}
    start = time.perf_counter()
    try:
        # The executed notebook is the report page: keep progress bars out of its cells
        # (papermill shows per-cell progress instead).
        os.environ.setdefault("TQDM_DISABLE", "1")
        papermill.execute_notebook(
            nb, str(run_dir / f"{py_path.stem}.ipynb"),
            parameters={**params, "output_dir": str(run_dir.resolve())},
            kernel_name="python3", language="python", progress_bar=progress)
        record["status"] = "ok"
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


def _short_error(exc: Exception) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    return f"{ename}: {evalue}".strip()
