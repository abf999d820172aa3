"""Shared fixtures: an isolated genobench cache, one smoke run of each notebook, the gpu skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import slurm_cluster
import torch

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]

# No test reaches the Hugging Face hub: every model is a local checkpoint. Set before
# huggingface_hub is imported (it reads the variable once), inherited by notebook kernels.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Under pytest-xdist every worker (and every notebook kernel it starts) gets one thread per
# library: two workers each starting one thread per core spin against each other.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    torch.set_num_threads(1)  # torch was imported above, before the variables were set

# Triton reads TRITON_INTERPRET when it is first imported, and bitsandbytes/transformers
# import it long before the Triton tests run: without a GPU, choose the CPU interpreter
# before any test module is loaded.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


def pytest_collection_modifyitems(config, items):
    """Tests marked `gpu` are skipped, with the reason, where CUDA is not available; tests
    marked `slurm` (a one-node cluster) where it cannot run: not root, no SLURM and no
    apt-get, a machine with a SLURM of its own, or GENOBENCH_SLURM_TESTS=0."""
    no_gpu = pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
    slurm_skip = None
    if any("slurm" in item.keywords for item in items):
        slurm_skip = slurm_cluster.skip_reason()
    for item in items:
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(no_gpu)
        if "slurm" in item.keywords and slurm_skip:
            item.add_marker(pytest.mark.skip(reason=slurm_skip))


def pytest_collection_finish(session):
    """When a `slurm` test will run and SLURM is missing, start installing it now, so
    apt-get works while the tests before it run."""
    if any(
        "slurm" in item.keywords and not item.get_closest_marker("skip") for item in session.items
    ):
        slurm_cluster.start_install()


def pytest_sessionfinish(session):
    """No apt-get of ours outlives the session (one that ended before its slurm tests)."""
    slurm_cluster.finish_install()


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Local models and synthetic data are built into a fresh cache for the test session."""
    cache = tmp_path_factory.mktemp("genobench-cache")
    old = os.environ.get("GENOBENCH_CACHE")
    os.environ["GENOBENCH_CACHE"] = str(cache)  # inherited by notebook kernels too
    yield cache
    if old is None:
        del os.environ["GENOBENCH_CACHE"]
    else:
        os.environ["GENOBENCH_CACHE"] = old


@pytest.fixture()
def in_repo(monkeypatch):
    """Run from the repository root, as the README's commands do."""
    monkeypatch.chdir(REPO)
    return REPO


def run_smoke(notebook: str, root: Path, overrides: dict | None = None) -> tuple[Path, dict]:
    """Run `notebook` with params/<notebook>/smoke.yaml into `root`/reports, its generated
    data and checkpoints under `root` too; return the run folder and the run record."""
    from genobench.report.runner import run_notebook

    where = {
        "semicrf_synthetic": {
            "data_dir": str(root / "data"),
            "checkpoint_dir": str(root / "checkpoints"),
        }
    }
    cwd = os.getcwd()
    os.chdir(REPO)  # relative params paths, as the README's commands use them
    try:
        record = run_notebook(
            notebook,
            f"params/{notebook}/smoke.yaml",
            {**where.get(notebook, {}), **(overrides or {})},
            reports_dir=root / "reports",
        )
    finally:
        os.chdir(cwd)
    return root / "reports" / "runs" / notebook / "smoke", record


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """smoke_run(notebook) -> (run folder, record) of its smoke params, run once a session."""
    runs: dict[str, tuple[Path, dict]] = {}

    def get(notebook: str) -> tuple[Path, dict]:
        if notebook not in runs:
            runs[notebook] = run_smoke(notebook, tmp_path_factory.mktemp(f"smoke-{notebook}"))
        return runs[notebook]

    return get


@pytest.fixture(scope="session")
def binning_smoke_run(smoke_run):
    """reports/ folder holding one run of notebooks/binning.py with params/binning/smoke.yaml."""
    run_dir, record = smoke_run("binning")
    return run_dir.parents[2], record


@pytest.fixture(scope="session")
def smoke_runner():
    """The function behind `smoke_run`, for tests that need a run of their own."""
    return run_smoke
